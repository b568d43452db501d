/* mil_split.c: train/val/test splits, read or generated (stratified,
 * by case). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "mil.h"

void pfm_mil_splits_free(pfm_mil_splits *s)
{
	free(s->fold_id), free(s->split);
	memset(s, 0, sizeof *s);
}

static int alloc_splits(pfm_mil_splits *s, int nfolds, int nslides)
{
	s->nfolds = nfolds;
	s->fold_id = malloc(sizeof *s->fold_id * nfolds);
	s->split = malloc((size_t)nfolds * (nslides ? nslides : 1));
	if (!s->fold_id || !s->split)
		return -1;
	memset(s->split, PFM_SPLIT_NONE, (size_t)nfolds * (nslides ? nslides : 1));
	for (int k = 0; k < nfolds; k++)
		s->fold_id[k] = k;
	return 0;
}

static const pfm_mil_data *sort_d;
static int by_slide(const void *a, const void *b)
{
	return strcmp(sort_d->slide[*(const int *)a], sort_d->slide[*(const int *)b]);
}

static int by_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return x < y ? -1 : x > y;
}

int pfm_mil_splits_read(pfm_mil_splits *s, const char *path,
			const pfm_mil_data *d, int *unknown, char ***unknown_ids,
			pfm_err *e)
{
	memset(s, 0, sizeof *s);
	*unknown = 0;
	*unknown_ids = NULL;
	pfm_csv t;
	if (pfm_csv_read(&t, path, e))
		return -1;
	int cf = pfm_csv_col(&t, "fold"), cs = pfm_csv_col(&t, "slide_id");
	int cp = pfm_csv_col(&t, "split"), rc = -1;
	int *folds = NULL, nf = 0, *byname = NULL;
	if (cf < 0 || cs < 0 || cp < 0) {
		pfm_errf(e, "%s: the columns are fold, slide_id, split", path);
		goto out;
	}
	folds = malloc(sizeof *folds * (t.nrows + 1));
	byname = malloc(sizeof *byname * (d->nslides + 1));
	*unknown_ids = calloc(t.nrows + 1, sizeof **unknown_ids);
	if (!folds || !byname || !*unknown_ids) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	for (int r = 0; r < t.nrows; r++) {
		char *end;
		const char *fs = pfm_csv_get(&t, r, cf);
		long v = strtol(fs, &end, 10);
		if (!*fs || *end || v < 0 || v > 1000000) {
			pfm_errf(e, "%s:%d: fold '%s' is not a non-negative integer", path, t.line[r], fs);
			goto out;
		}
		int dup = 0;
		for (int k = 0; k < nf && !dup; k++)
			dup = folds[k] == v;
		if (!dup)
			folds[nf++] = (int)v;
	}
	if (!nf) {
		pfm_errf(e, "%s: no rows", path);
		goto out;
	}
	qsort(folds, nf, sizeof *folds, by_int);
	for (int i = 0; i < d->nslides; i++)
		byname[i] = i;
	sort_d = d;
	qsort(byname, d->nslides, sizeof *byname, by_slide);
	if (alloc_splits(s, nf, d->nslides)) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	memcpy(s->fold_id, folds, sizeof *folds * nf);
	for (int r = 0; r < t.nrows; r++) {
		long v = strtol(pfm_csv_get(&t, r, cf), NULL, 10);
		int k = 0;
		while (s->fold_id[k] != v)
			k++;
		const char *id = pfm_csv_get(&t, r, cs), *sp = pfm_csv_get(&t, r, cp);
		int what = !strcmp(sp, "train") ? PFM_SPLIT_TRAIN
			 : !strcmp(sp, "val") ? PFM_SPLIT_VAL
			 : !strcmp(sp, "test") ? PFM_SPLIT_TEST : -2;
		if (what == -2) {
			pfm_errf(e, "%s:%d: split '%s' is not train, val or test", path, t.line[r], sp);
			goto out;
		}
		int lo = 0, hi = d->nslides, i = -1;
		while (lo < hi) {
			int mid = (lo + hi) / 2, c = strcmp(d->slide[byname[mid]], id);
			if (!c) {
				i = byname[mid];
				break;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (i < 0) {
			int dup = 0;
			for (int u = 0; u < *unknown && !dup; u++)
				dup = !strcmp((*unknown_ids)[u], id);
			if (!dup)
				(*unknown_ids)[(*unknown)++] = strdup(id);
			continue;
		}
		signed char *c = &s->split[(size_t)k * d->nslides + i];
		if (*c != PFM_SPLIT_NONE) {
			pfm_errf(e, "%s:%d: slide '%s' is in fold %ld twice", path, t.line[r], id, v);
			goto out;
		}
		*c = (signed char)what;
	}
	rc = 0;
out:
	free(folds), free(byname);
	pfm_csv_free(&t);
	if (rc) {
		pfm_mil_splits_free(s);
		for (int u = 0; *unknown_ids && u < *unknown; u++)
			free((*unknown_ids)[u]);
		free(*unknown_ids);
		*unknown_ids = NULL, *unknown = 0;
	}
	return rc;
}

/* Cases grouped by stratum (class of the case's first slide, or its
 * event), in stratum order; within a stratum in order of first
 * appearance. strat_start[s] .. strat_start[s+1] index into order. */
typedef struct {
	int nstrata;
	int *order, *start;
	int *case_stratum;
} strata;

static int make_strata(strata *st, const pfm_mil_data *d, pfm_err *e)
{
	int ns = d->task == PFM_TASK_CLS ? d->nclass : 2;
	st->nstrata = ns;
	st->order = malloc(sizeof *st->order * (d->ncases + 1));
	st->start = calloc(ns + 1, sizeof *st->start);
	st->case_stratum = malloc(sizeof *st->case_stratum * (d->ncases + 1));
	if (!st->order || !st->start || !st->case_stratum)
		return pfm_errf(e, "out of memory");
	for (int c = 0; c < d->ncases; c++)
		st->case_stratum[c] = -1;
	for (int i = 0; i < d->nslides; i++) {
		int c = d->case_of[i];
		if (st->case_stratum[c] < 0)
			st->case_stratum[c] = d->task == PFM_TASK_CLS ? d->y[i] : d->event[i];
	}
	int *cnt = calloc(ns, sizeof *cnt);
	if (!cnt)
		return pfm_errf(e, "out of memory");
	for (int c = 0; c < d->ncases; c++)
		cnt[st->case_stratum[c]]++;
	for (int s = 0; s < ns; s++)
		st->start[s + 1] = st->start[s] + cnt[s];
	memset(cnt, 0, sizeof *cnt * ns);
	for (int c = 0; c < d->ncases; c++) {
		int s = st->case_stratum[c];
		st->order[st->start[s] + cnt[s]++] = c;
	}
	free(cnt);
	return 0;
}

static void free_strata(strata *st)
{
	free(st->order), free(st->start), free(st->case_stratum);
}

/* Slides take their case's split. */
static void slides_from_cases(pfm_mil_splits *s, int k, const pfm_mil_data *d,
			      const signed char *case_split)
{
	for (int i = 0; i < d->nslides; i++)
		s->split[(size_t)k * d->nslides + i] = case_split[d->case_of[i]];
}

int pfm_mil_splits_kfold(pfm_mil_splits *s, const pfm_mil_data *d, int k,
			 double val_frac, uint64_t seed, pfm_err *e)
{
	memset(s, 0, sizeof *s);
	if (k < 2)
		return pfm_errf(e, "--folds: at least 2");
	if (k > d->ncases)
		return pfm_errf(e, "--folds %d: only %d cases", k, d->ncases);
	strata st = {0};
	int rc = -1;
	int *fold = malloc(sizeof *fold * d->ncases), *tmp = malloc(sizeof *tmp * d->ncases);
	signed char *cs = malloc(d->ncases);
	if (!fold || !tmp || !cs || make_strata(&st, d, e) || alloc_splits(s, k, d->nslides)) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	pfm_rng r = pfm_rng_seed(seed, 11);
	int deal = 0;
	for (int t = 0; t < st.nstrata; t++) {
		int a = st.start[t], n = st.start[t + 1] - a;
		pfm_rng_shuffle(&r, st.order + a, n);
		for (int i = 0; i < n; i++)
			fold[st.order[a + i]] = deal++ % k;
	}
	for (int f = 0; f < k; f++) {
		pfm_rng rv = pfm_rng_seed(seed, 100 + (uint64_t)f);
		for (int c = 0; c < d->ncases; c++)
			cs[c] = fold[c] == f ? PFM_SPLIT_TEST : PFM_SPLIT_TRAIN;
		for (int t = 0; t < st.nstrata; t++) {
			int m = 0;
			for (int i = st.start[t]; i < st.start[t + 1]; i++)
				if (fold[st.order[i]] != f)
					tmp[m++] = st.order[i];
			pfm_rng_shuffle(&rv, tmp, m);
			int nv = (int)floor(val_frac * m + 0.5);
			for (int i = 0; i < nv; i++)
				cs[tmp[i]] = PFM_SPLIT_VAL;
		}
		slides_from_cases(s, f, d, cs);
	}
	rc = 0;
out:
	free(fold), free(tmp), free(cs);
	free_strata(&st);
	if (rc)
		pfm_mil_splits_free(s);
	return rc;
}

int pfm_mil_splits_ratio(pfm_mil_splits *s, const pfm_mil_data *d,
			 const double ratio[3], uint64_t seed, pfm_err *e)
{
	memset(s, 0, sizeof *s);
	double sum = ratio[0] + ratio[1] + ratio[2];
	if (!(sum > 0) || ratio[0] <= 0 || ratio[2] <= 0 || ratio[1] < 0)
		return pfm_errf(e, "--split: train and test must be positive");
	strata st = {0};
	int rc = -1;
	signed char *cs = malloc(d->ncases);
	if (!cs || make_strata(&st, d, e) || alloc_splits(s, 1, d->nslides)) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	pfm_rng r = pfm_rng_seed(seed, 12);
	for (int t = 0; t < st.nstrata; t++) {
		int a = st.start[t], n = st.start[t + 1] - a;
		pfm_rng_shuffle(&r, st.order + a, n);
		int ntr = (int)floor(n * ratio[0] / sum + 0.5);
		int ntv = (int)floor(n * (ratio[0] + ratio[1]) / sum + 0.5);
		for (int i = 0; i < n; i++)
			cs[st.order[a + i]] = i < ntr ? PFM_SPLIT_TRAIN
					    : i < ntv ? PFM_SPLIT_VAL : PFM_SPLIT_TEST;
	}
	slides_from_cases(s, 0, d, cs);
	rc = 0;
out:
	free(cs);
	free_strata(&st);
	if (rc)
		pfm_mil_splits_free(s);
	return rc;
}
