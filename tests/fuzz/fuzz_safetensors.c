/* fuzz_safetensors.c: libFuzzer target for the safetensors reader and
 * writer (common/safetensors.h).
 *
 * The input is opened as a safetensors file with pfm_st_open_mem. When it
 * is accepted every tensor is walked and converted with pfm_st_read_f32,
 * and it is written again with pfm_st_save and reopened. Besides "no
 * crash, no leak" it aborts when an invariant breaks:
 *   - tensors are sorted by name, unique, found by pfm_st_find; each one's
 *     data lies inside the input and holds count * dtype size bytes;
 *     metadata keys are sorted and found by pfm_st_meta;
 *   - read_f32 succeeds exactly for F16/BF16/F32/F64 and F32 reads back
 *     its own bytes;
 *   - what was accepted saves, and reopens with the same tensors (names,
 *     dtypes, shapes, bytes) and metadata.
 *
 * tests/test_fuzz_replay.c #includes this file to replay the corpus in
 * `make check`; it defines FUZZ_FAIL to count instead of aborting and
 * renames the entry point. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safetensors.h"

#ifndef FUZZ_FAIL
#define FUZZ_FAIL(...)                                                        \
	do {                                                                  \
		fprintf(stderr, "fuzz_safetensors: " __VA_ARGS__);            \
		fputc('\n', stderr);                                          \
		abort();                                                      \
	} while (0)
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Re-saved files go to tmpfs when there is one: the writer fsyncs. */
static char fs_path[128];

static void fs_cleanup(void)
{
	char dir[128];
	snprintf(dir, sizeof dir, "%s", fs_path);
	unlink(fs_path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		rmdir(dir);
	}
}

static void fs_init(void)
{
	if (fs_path[0])
		return;
	char dir[64] = "/dev/shm/pfm-fuzz-st-XXXXXX";
	if (!mkdtemp(dir)) {
		snprintf(dir, sizeof dir, "/tmp/pfm-fuzz-st-XXXXXX");
		if (!mkdtemp(dir))
			FUZZ_FAIL("cannot make a temporary directory");
	}
	snprintf(fs_path, sizeof fs_path, "%s/resaved.safetensors", dir);
	atexit(fs_cleanup);
}

static int fs_same(const pfm_st_tensor *a, const pfm_st_tensor *b)
{
	if (strcmp(a->name, b->name) || a->dtype != b->dtype ||
	    a->ndim != b->ndim || a->count != b->count || a->nbytes != b->nbytes)
		return 0;
	for (int i = 0; i < a->ndim; i++)
		if (a->shape[i] != b->shape[i])
			return 0;
	return !a->nbytes || !memcmp(a->data, b->data, a->nbytes);
}

static void fs_walk(const pfm_st *st, const uint8_t *data, size_t size)
{
	size_t n = pfm_st_count(st);
	for (size_t i = 0; i < n; i++) {
		const pfm_st_tensor *t = pfm_st_at(st, i);
		if (!t || !t->name)
			FUZZ_FAIL("tensor %zu of %zu missing", i, n);
		if (i && strcmp(pfm_st_at(st, i - 1)->name, t->name) >= 0)
			FUZZ_FAIL("tensors not sorted and unique at %zu", i);
		if (pfm_st_find(st, t->name) != t)
			FUZZ_FAIL("find('%.60s') is not at(%zu)", t->name, i);
		size_t es = pfm_dtype_size(t->dtype), count = 1;
		for (int d = 0; d < t->ndim; d++)
			count *= (size_t)t->shape[d];
		if (t->ndim < 0 || t->ndim > PFM_MAX_DIMS || count != t->count ||
		    t->nbytes != count * es)
			FUZZ_FAIL("'%.60s': %zu bytes, %zu elements, ndim %d",
				  t->name, t->nbytes, t->count, t->ndim);
		const uint8_t *p = t->data;
		if (p < data + 8 || p + t->nbytes > data + size)
			FUZZ_FAIL("'%.60s': data outside the input", t->name);
		volatile unsigned sum = 0;
		for (size_t k = 0; k < t->nbytes; k++)
			sum += p[k];
		float *f = malloc(t->count ? t->count * sizeof *f : 1);
		if (!f)
			FUZZ_FAIL("out of memory");
		pfm_err e = {0};
		int isf = t->dtype == PFM_F16 || t->dtype == PFM_BF16 ||
			  t->dtype == PFM_F32 || t->dtype == PFM_F64;
		int rc = pfm_st_read_f32(t, f, &e);
		if (rc != (isf ? 0 : -1))
			FUZZ_FAIL("'%.60s': read_f32 of %s gives %d (%s)", t->name,
				  pfm_dtype_name(t->dtype), rc, e.msg);
		if (t->dtype == PFM_F32 && t->nbytes && memcmp(f, p, t->nbytes))
			FUZZ_FAIL("'%.60s': f32 read differs", t->name);
		free(f);
	}
	if (pfm_st_at(st, n))
		FUZZ_FAIL("at(count) is not NULL");
	size_t m = pfm_st_meta_count(st);
	for (size_t i = 0; i < m; i++) {
		const char *k = pfm_st_meta_key(st, i);
		if (!k || (i && strcmp(pfm_st_meta_key(st, i - 1), k) >= 0))
			FUZZ_FAIL("metadata keys not sorted and unique at %zu", i);
		if (!pfm_st_meta(st, k))
			FUZZ_FAIL("meta('%.60s') not found", k);
	}
}

/* Save what was read and read it back: the same. */
static void fs_resave(const pfm_st *st)
{
	size_t n = pfm_st_count(st), m = pfm_st_meta_count(st);
	pfm_st_tensor *ts = malloc((n ? n : 1) * sizeof *ts);
	const char **kv = malloc((m ? 2 * m : 1) * sizeof *kv);
	if (!ts || !kv)
		FUZZ_FAIL("out of memory");
	for (size_t i = 0; i < n; i++)
		ts[i] = *pfm_st_at(st, i);
	for (size_t i = 0; i < m; i++) {
		kv[2 * i] = pfm_st_meta_key(st, i);
		kv[2 * i + 1] = pfm_st_meta(st, kv[2 * i]);
	}
	pfm_err e = {0};
	if (pfm_st_save(fs_path, ts, n, kv, m, &e))
		FUZZ_FAIL("an accepted file does not save: %s", e.msg);
	pfm_st *back;
	if (pfm_st_open(&back, fs_path, &e))
		FUZZ_FAIL("a saved file does not open: %s", e.msg);
	if (pfm_st_count(back) != n || pfm_st_meta_count(back) != m)
		FUZZ_FAIL("saved %zu tensors, %zu keys; read %zu, %zu", n, m,
			  pfm_st_count(back), pfm_st_meta_count(back));
	for (size_t i = 0; i < n; i++)
		if (!fs_same(pfm_st_at(back, i), &ts[i]))
			FUZZ_FAIL("'%.60s' differs after a save", ts[i].name);
	for (size_t i = 0; i < m; i++)
		if (strcmp(pfm_st_meta_key(back, i), kv[2 * i]) ||
		    strcmp(pfm_st_meta(back, kv[2 * i]), kv[2 * i + 1]))
			FUZZ_FAIL("metadata '%.60s' differs after a save", kv[2 * i]);
	pfm_st_close(back);
	free(ts);
	free(kv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fs_init();
	pfm_st *st;
	pfm_err e = {0};
	if (pfm_st_open_mem(&st, data, size, "fuzz", &e)) {
		if (st)
			FUZZ_FAIL("failed open left a handle");
		if (strncmp(e.msg, "fuzz: ", 6))
			FUZZ_FAIL("error without the label: %s", e.msg);
		return 0;
	}
	fs_walk(st, data, size);
	fs_resave(st);
	pfm_st_close(st);
	return 0;
}
