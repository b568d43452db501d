/* stats_rank.c: ranks with ties, the Friedman test and its Nemenyi
 * post-hoc, and Holm's adjustment. */
#include <math.h>
#include <stdlib.h>

#include "stats.h"

typedef struct {
	double v;
	size_t i;
} ival;

static int ival_cmp(const void *a, const void *b)
{
	const ival *x = a, *y = b;
	if (x->v < y->v)
		return -1;
	if (x->v > y->v)
		return 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

int pfm_rankdata(const double *x, size_t n, double *r, pfm_err *e)
{
	if (!n)
		return 0;
	ival *s = malloc(n * sizeof *s);
	if (!s)
		return pfm_errf(e, "out of memory ranking %zu values", n);
	for (size_t i = 0; i < n; i++) {
		if (isnan(x[i])) {
			free(s);
			return pfm_errf(e, "cannot rank NaN");
		}
		s[i] = (ival){x[i], i};
	}
	qsort(s, n, sizeof *s, ival_cmp);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && s[j + 1].v == s[i].v)
			j++;
		/* positions i..j (0-based) share (i+1 + j+1)/2: exact in binary */
		double rank = 0.5 * (double)(i + j + 2);
		for (size_t t = i; t <= j; t++)
			r[s[t].i] = rank;
		i = j + 1;
	}
	free(s);
	return 0;
}

double pfm_tie_sum(const double *x, size_t n)
{
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		int first = 1;
		size_t t = 0;
		for (size_t j = 0; j < n; j++) {
			if (x[j] == x[i]) {
				if (j < i)
					first = 0;
				t++;
			}
		}
		if (first && t > 1)
			sum += (double)t * ((double)t * t - 1);
	}
	return sum;
}

int pfm_friedman_test(const double *ranks, int n, int k, pfm_friedman *o,
		      pfm_err *e)
{
	if (n < 1 || k < 2)
		return pfm_errf(e, "Friedman test needs at least 2 models and 1 task (got %d and %d)",
				k, n);
	*o = (pfm_friedman){.n = n, .k = k};
	double ties = 0, ssbn = 0, sr2 = 0;
	for (int i = 0; i < n; i++)
		ties += pfm_tie_sum(ranks + (size_t)i * k, k);
	for (int j = 0; j < k; j++) {
		double s = 0;
		for (int i = 0; i < n; i++)
			s += ranks[(size_t)i * k + j];
		ssbn += s * s;
		sr2 += (s / n) * (s / n);
	}
	/* Same operations in the same order as scipy's friedmanchisquare. */
	o->tie_c = 1 - ties / ((double)k * (k * (double)k - 1) * n);
	o->chi2 = (12.0 / ((double)k * n * (k + 1)) * ssbn - 3.0 * n * (k + 1)) / o->tie_c;
	o->p = o->tie_c > 0 ? pfm_chi2_sf(o->chi2, k - 1) : NAN;
	if (!(o->tie_c > 0))
		o->chi2 = NAN; /* every row all ties: no information */
	o->chi2_f = 12.0 * n / ((double)k * (k + 1)) *
		    (sr2 - k * (k + 1.0) * (k + 1.0) / 4);
	o->p_f = pfm_chi2_sf(o->chi2_f, k - 1);
	o->df1 = k - 1;
	o->df2 = (double)(k - 1) * (n - 1);
	double den = (double)n * (k - 1) - o->chi2_f;
	o->ff = den > 0 ? (n - 1) * o->chi2_f / den : INFINITY;
	o->p_ff = o->df2 > 0 ? pfm_f_sf(o->ff, o->df1, o->df2) : NAN;
	if (o->df2 <= 0)
		o->ff = NAN;
	return 0;
}

double pfm_nemenyi_q(double alpha, int k)
{
	return pfm_qtukey_inf(1 - alpha, k) / M_SQRT2;
}

double pfm_nemenyi_cd(double alpha, int k, int n)
{
	return pfm_nemenyi_q(alpha, k) * sqrt(k * (k + 1.0) / (6.0 * n));
}

void pfm_nemenyi_p(const double *R, int k, int n, double *p)
{
	double se = sqrt(k * (k + 1.0) / (6.0 * n));
	for (int i = 0; i < k; i++) {
		p[(size_t)i * k + i] = 1;
		for (int j = i + 1; j < k; j++) {
			double q = fabs(R[i] - R[j]) / se * M_SQRT2;
			p[(size_t)i * k + j] = p[(size_t)j * k + i] =
				pfm_tukey_sf_inf(q, k);
		}
	}
}

int pfm_holm(const double *p, size_t m, double *adj, pfm_err *e)
{
	if (!m)
		return 0;
	ival *s = malloc(m * sizeof *s);
	if (!s)
		return pfm_errf(e, "out of memory");
	for (size_t i = 0; i < m; i++)
		s[i] = (ival){isnan(p[i]) ? INFINITY : p[i], i};
	qsort(s, m, sizeof *s, ival_cmp);
	/* NaN (tests that could not be made) sort last and do not count */
	size_t valid = 0;
	for (size_t i = 0; i < m; i++)
		valid += !isnan(p[i]);
	double run = 0;
	for (size_t i = 0; i < m; i++) {
		double v = s[i].v * (double)(valid > i ? valid - i : 1);
		if (v > run)
			run = v;
		adj[s[i].i] = isnan(p[s[i].i]) ? NAN : run > 1 ? 1 : run;
	}
	free(s);
	return 0;
}
