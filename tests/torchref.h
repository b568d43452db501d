/* torchref.h: what the tests that compare against a torch reference
 * script share: running the script into a fresh folder, reading its
 * safetensors outputs as floats, and the error measure they report. */
#ifndef PFM_TORCHREF_H
#define PFM_TORCHREF_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "safetensors.h"

#define TORCHREF_PY ".venv/bin/python"

/* max|a - b| / max|b| over n floats (a NaN in a makes it NaN-large) */
static inline double rel_err(const float *a, const float *b, size_t n)
{
	double md = 0, mr = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		md = d > md || isnan(d) ? d : md;
		mr = fabs(b[i]) > mr ? fabs(b[i]) : mr;
	}
	return mr > 0 ? md / mr : md;
}

/* A tensor's values as malloc'd floats; NULL when it cannot be read. */
static inline float *tensor_f32(const pfm_st_tensor *t)
{
	float *p = malloc((t->count ? t->count : 1) * sizeof *p);
	pfm_err e;
	if (p && pfm_st_read_f32(t, p, &e)) {
		free(p);
		return NULL;
	}
	return p;
}

/* Tensor `name` of st as floats (*n its count); NULL when absent. */
static inline float *f32(const pfm_st *st, const char *name, size_t *n)
{
	const pfm_st_tensor *t = pfm_st_find(st, name);
	float *p = t ? tensor_f32(t) : NULL;
	if (p && n)
		*n = t->count;
	return p;
}

/* Make dir (a mkdtemp template; made even when the rest fails) and run `.venv/bin/python tests/ref/
 * SCRIPT ARGS DIR` in it, each step a check: 0 when the reference's files
 * are there, -1 (already counted as a failure) when not. */
static inline int torchref_run(char *dir, const char *script, const char *args)
{
	char cmd[1024];
	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp %s", dir);
		return -1;
	}
	if (access(TORCHREF_PY, X_OK)) {
		CHECK(0, "%s missing: run `make deps` first", TORCHREF_PY);
		return -1;
	}
	snprintf(cmd, sizeof cmd, "%s tests/ref/%s %s%s%s", TORCHREF_PY, script,
		 args, *args ? " " : "", dir);
	int ok = system(cmd) == 0;
	CHECK(ok, "%s failed", cmd);
	return ok ? 0 : -1;
}

/* Remove the reference's folder (and what the test wrote there). */
static inline void torchref_clean(const char *dir)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
}

#endif
