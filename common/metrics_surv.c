/* metrics_surv.c: Harrell's c-index with scikit-survival's rules, and
 * the discrete-time survival bins. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "rank.h" /* pfm_quantile_sorted */

static const double *sort_time;
static int by_time(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	double x = sort_time[a], y = sort_time[b];
	if (x != y)
		return x < y ? -1 : 1;
	return a < b ? -1 : a > b;
}

int pfm_cindex(const int *event, const double *time, const double *risk,
	       size_t n, double tied_tol, pfm_cindex_res *r, pfm_err *e)
{
	memset(r, 0, sizeof *r);
	size_t nev = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(time[i]) || !isfinite(risk[i]))
			return pfm_errf(e, "c-index: case %zu: time or risk is not finite", i);
		nev += event[i] != 0;
	}
	if (!nev)
		return pfm_errf(e, "c-index: all %zu cases are censored", n);
	size_t *o = malloc(sizeof *o * n);
	if (!o)
		return pfm_errf(e, "out of memory");
	for (size_t i = 0; i < n; i++)
		o[i] = i;
	sort_time = time;
	qsort(o, n, sizeof *o, by_time);
	double num = 0, den = 0;
	/* groups of equal time: an event is comparable with every later time
	 * and with the censored cases of its own time */
	for (size_t g = 0; g < n;) {
		size_t end = g + 1;
		while (end < n && time[o[end]] == time[o[g]])
			end++;
		size_t cens_here = 0;
		for (size_t j = g; j < end; j++)
			cens_here += !event[o[j]];
		for (size_t j = g; j < end; j++) {
			size_t a = o[j];
			if (!event[a])
				continue;
			double est_i = risk[a];
			int64_t con = 0, ties = 0, cnt = 0;
			for (size_t l = g; l < n; l++) {
				size_t b = o[l];
				if (l < end && event[b])
					continue;
				cnt++;
				if (fabs(risk[b] - est_i) <= tied_tol)
					ties++;
				else if (risk[b] < est_i)
					con++;
			}
			num += (double)con + 0.5 * (double)ties;
			den += (double)cnt;
			r->concordant += con;
			r->tied_risk += ties;
			r->discordant += cnt - con - ties;
			r->tied_time += (int64_t)cens_here;
		}
		g = end;
	}
	free(o);
	if (!(den > 0))
		return pfm_errf(e, "c-index: no comparable pairs");
	r->cindex = num / den;
	return 0;
}

static int by_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return a < b ? -1 : a > b;
}

int pfm_surv_bins(const double *time, const int *event, size_t n, int nbins,
		  double eps, double *edges, int *bin, pfm_err *e)
{
	if (nbins < 1)
		return pfm_errf(e, "survival bins: need at least one bin");
	double *u = malloc(sizeof *u * (n ? n : 1));
	if (!u)
		return pfm_errf(e, "out of memory");
	size_t nu = 0;
	double lo = INFINITY, hi = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(time[i])) {
			free(u);
			return pfm_errf(e, "survival bins: time %zu is not finite", i);
		}
		if (event[i])
			u[nu++] = time[i];
		lo = fmin(lo, time[i]);
		hi = fmax(hi, time[i]);
	}
	if (!nu) {
		free(u);
		return pfm_errf(e, "survival bins: no events to take quantiles of");
	}
	qsort(u, nu, sizeof *u, by_double);
	/* numpy.linspace(0, 1, nbins + 1): i * step, the last exactly 1 */
	double step = 1.0 / nbins;
	for (int i = 0; i <= nbins; i++)
		edges[i] = pfm_quantile_sorted(u, (int)nu, i == nbins ? 1.0 : i * step);
	free(u);
	for (int i = 0; i < nbins; i++)
		if (!(edges[i] < edges[i + 1]))
			return pfm_errf(e, "survival bins: quantile edges %d and %d are equal "
					"(%g): too many tied event times for %d bins",
					i, i + 1, edges[i], nbins);
	edges[0] = lo - eps;
	edges[nbins] = hi + eps;
	for (int i = 1; i <= nbins; i++)
		if (!(edges[i - 1] < edges[i]))
			return pfm_errf(e, "survival bins: edges not increasing after widening to "
					"[min - eps, max + eps]");
	for (size_t i = 0; i < n; i++) {
		int k = 0;
		while (k < nbins - 1 && time[i] >= edges[k + 1])
			k++;
		bin[i] = k;
	}
	return 0;
}
