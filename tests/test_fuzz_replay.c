/* test_fuzz_replay: run the fuzz target over the committed corpus
 * (tests/fuzz/corpus/frames) and saved crashes (tests/fuzz/crashes), so
 * `make check` (plain and under ASan+UBSan) keeps them passing without
 * clang or libFuzzer. Run from the repository root. */
#include <dirent.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken invariant fails this input and moves on to the next. */
static jmp_buf replay_jmp;
#define FUZZ_FAIL(...)                                                        \
	do {                                                                  \
		fprintf(stderr, "fuzz_frames: " __VA_ARGS__);                 \
		fputc('\n', stderr);                                          \
		longjmp(replay_jmp, 1);                                       \
	} while (0)

#include "fuzz/fuzz_frames.c"

#include "check.h"

static const char *const replay_dirs[] = {
	"tests/fuzz/corpus/frames",
	"tests/fuzz/crashes",
};

/* The whole file in a malloc'd buffer (never NULL, even when empty). */
static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		len += fread(buf + len, 1, cap - len, f);
		if (len < cap)
			break;
		char *p = realloc(buf, cap *= 2);
		if (!p)
			free(buf);
		buf = p;
	}
	if (ferror(f)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*n = len;
	return buf;
}

static int not_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Apart, so nothing live in the caller is clobbered by longjmp. */
static int replay_one(const char *buf, size_t len)
{
	if (setjmp(replay_jmp))
		return -1;
	LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	return 0;
}

/* 0 files is fine for crashes/, not for the corpus. */
static int replay_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, not_hidden, alphasort);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
		free(names[i]);
		size_t len;
		char *buf = slurp(path, &len);
		if (!buf) {
			CHECK(0, "%s: cannot read", path);
			continue;
		}
		CHECK(!replay_one(buf, len), "%s: invariant broken", path);
		free(buf);
	}
	free(names);
	return n;
}

int main(void)
{
	int corpus = replay_dir(replay_dirs[0]);
	CHECK(corpus > 0, "%s: no corpus (run from the repository root)",
	      replay_dirs[0]);
	replay_dir(replay_dirs[1]);
	/* Let LeakSanitizer see only real leaks. */
	pfm_schemas_free(fz_schemas);
	if (fz_null)
		fclose(fz_null);
	if (fz_fd >= 0)
		close(fz_fd);
	return check_done();
}
