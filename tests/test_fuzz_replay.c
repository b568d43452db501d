/* test_fuzz_replay: run the fuzz targets over their committed corpora
 * (tests/fuzz/corpus/frames, safetensors, model, text) and each over
 * the saved crashes (tests/fuzz/crashes), so `make check` (plain and
 * under ASan+UBSan) keeps them passing without clang or libFuzzer. Run
 * from the repository root. */
#include <dirent.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken invariant fails this input and moves on to the next. */
static jmp_buf replay_jmp;
#define FUZZ_FAIL(...)                                                        \
	do {                                                                  \
		fprintf(stderr, "fuzz: " __VA_ARGS__);                        \
		fputc('\n', stderr);                                          \
		longjmp(replay_jmp, 1);                                       \
	} while (0)

/* The targets in one binary: each entry point under its own name. */
#define LLVMFuzzerTestOneInput fuzz_frames_one
#include "fuzz/fuzz_frames.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_safetensors_one
#include "fuzz/fuzz_safetensors.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_model_one
#include "fuzz/fuzz_model.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_text_one
#include "fuzz/fuzz_text.c"
#undef LLVMFuzzerTestOneInput

#include "check.h"

typedef int (*fuzz_fn)(const uint8_t *, size_t);

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
static int replay_one(fuzz_fn fn, const char *buf, size_t len)
{
	if (setjmp(replay_jmp))
		return -1;
	fn((const uint8_t *)buf, len);
	return 0;
}

/* 0 files is fine for crashes/, not for the corpus. */
static int replay_dir(fuzz_fn fn, const char *dir)
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
		CHECK(!replay_one(fn, buf, len), "%s: invariant broken", path);
		free(buf);
	}
	free(names);
	return n;
}

int main(void)
{
	static const struct {
		fuzz_fn fn;
		const char *corpus;
	} targets[] = {
		{fuzz_frames_one, "tests/fuzz/corpus/frames"},
		{fuzz_safetensors_one, "tests/fuzz/corpus/safetensors"},
		{fuzz_model_one, "tests/fuzz/corpus/model"},
		{fuzz_text_one, "tests/fuzz/corpus/text"},
	};
	for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
		int n = replay_dir(targets[i].fn, targets[i].corpus);
		CHECK(n > 0, "%s: no corpus (run from the repository root)",
		      targets[i].corpus);
		replay_dir(targets[i].fn, "tests/fuzz/crashes");
	}
	/* Let LeakSanitizer see only real leaks. */
	pfm_schemas_free(fz_schemas);
	if (fz_null)
		fclose(fz_null);
	if (fz_fd >= 0)
		close(fz_fd);
	if (ft_fd >= 0)
		close(ft_fd);
	return check_done();
}
