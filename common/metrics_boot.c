/* metrics_boot.c: percentile bootstrap intervals of any metric. */
#include <stdlib.h>

#include "metrics.h"
#include "rank.h" /* pfm_quantile_sorted */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int by_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return a < b ? -1 : a > b;
}

int pfm_bootstrap_ci(pfm_metric_fn fn, void *ctx, size_t n,
		     const pfm_boot_opts *o, double *lo, double *hi,
		     int *valid, pfm_err *e)
{
	if (o->n < 1 || !n)
		return pfm_errf(e, "bootstrap: nothing to resample");
	size_t *idx = malloc(sizeof *idx * n);
	double *v = malloc(sizeof *v * o->n);
	if (!idx || !v) {
		free(idx), free(v);
		return pfm_errf(e, "out of memory");
	}
	uint64_t state = o->seed;
	int m = 0;
	for (int b = 0; b < o->n; b++) {
		for (size_t i = 0; i < n; i++)
			idx[i] = (size_t)((double)(splitmix64(&state) >> 11) * 0x1p-53 * (double)n);
		double x;
		if (!fn(ctx, idx, n, &x))
			v[m++] = x;
	}
	free(idx);
	*valid = m;
	if (m < 2) {
		free(v);
		return pfm_errf(e, "bootstrap: the metric is defined on %d of %d replicates", m, o->n);
	}
	qsort(v, m, sizeof *v, by_double);
	double level = o->level > 0 && o->level < 1 ? o->level : 0.95;
	*lo = pfm_quantile_sorted(v, m, (1 - level) / 2);
	*hi = pfm_quantile_sorted(v, m, (1 + level) / 2);
	free(v);
	return 0;
}
