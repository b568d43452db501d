/* stats_wilcoxon.c: the Wilcoxon signed-rank test, as scipy 1.10's
 * scipy.stats.wilcoxon computes it (_morestats.py), quirks included. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

int pfm_wilcoxon_parse_zero(const char *s)
{
	return !strcmp(s, "wilcox") ? PFM_ZERO_WILCOX
	     : !strcmp(s, "pratt")  ? PFM_ZERO_PRATT
	     : !strcmp(s, "zsplit") ? PFM_ZERO_ZSPLIT : -1;
}

int pfm_wilcoxon_parse_alt(const char *s)
{
	return !strcmp(s, "two-sided") ? PFM_ALT_TWO_SIDED
	     : !strcmp(s, "less")      ? PFM_ALT_LESS
	     : !strcmp(s, "greater")   ? PFM_ALT_GREATER : -1;
}

int pfm_wilcoxon_parse_mode(const char *s)
{
	return !strcmp(s, "auto")   ? PFM_WMODE_AUTO
	     : !strcmp(s, "exact")  ? PFM_WMODE_EXACT
	     : !strcmp(s, "approx") ? PFM_WMODE_APPROX : -1;
}

/* Null distribution of R+ for n untied ranks, as scipy's
 * _get_wilcoxon_distr: pmf[r], r = 0..n(n+1)/2. Exact in binary for
 * n <= 50 (multiples of 2^-n below 1). */
static double *wilcoxon_pmf(int n, size_t *len)
{
	size_t max = (size_t)n * (n + 1) / 2 + 1;
	double *c = calloc(max, sizeof *c), *prev = calloc(max, sizeof *prev);
	if (!c || !prev) {
		free(c);
		free(prev);
		return NULL;
	}
	c[0] = 1;
	size_t m = 1;
	for (int k = 1; k <= n; k++) {
		memcpy(prev, c, m * sizeof *c);
		size_t len_k = (size_t)k * (k + 1) / 2 + 1;
		memset(c, 0, len_k * sizeof *c);
		for (size_t i = 0; i < m; i++)
			c[i] = prev[i] * 0.5;
		for (size_t i = 0; i < m; i++)
			c[len_k - m + i] += prev[i] * 0.5;
		m = len_k;
	}
	free(prev);
	*len = m;
	return c;
}

static int sum_range(const double *pmf, size_t from, size_t to, double *out)
{
	double s = 0;
	for (size_t i = from; i < to; i++)
		s += pmf[i];
	*out = s;
	return 0;
}

int pfm_wilcoxon(const double *x, const double *y, size_t n,
		 const pfm_wilcoxon_opts *o, pfm_wilcoxon_res *res, pfm_err *e)
{
	*res = (pfm_wilcoxon_res){.stat = NAN, .p = NAN, .z = NAN};
	if (!n)
		return pfm_errf(e, "Wilcoxon test of empty samples");
	double *d = malloc(n * sizeof *d), *ad = calloc(n, sizeof *ad);
	double *r = malloc(n * sizeof *r);
	if (!d || !ad || !r) {
		free(d), free(ad), free(r);
		return pfm_errf(e, "out of memory");
	}
	int rc = -1;
	size_t n_zero = 0;
	for (size_t i = 0; i < n; i++) {
		d[i] = y ? x[i] - y[i] : x[i];
		if (isnan(d[i])) {
			pfm_errf(e, "Wilcoxon test of NaN values");
			goto out;
		}
		n_zero += d[i] == 0;
	}
	res->n_zero = (int)n_zero;
	int mode = o->mode;
	if (mode == PFM_WMODE_AUTO)
		mode = n <= 50 ? PFM_WMODE_EXACT : PFM_WMODE_APPROX;
	if (n_zero > 0 && mode == PFM_WMODE_EXACT)
		mode = PFM_WMODE_APPROX; /* scipy warns and switches */
	res->mode = mode;
	size_t count = n;
	if (mode == PFM_WMODE_APPROX) {
		if (o->zero_method != PFM_ZERO_ZSPLIT && n_zero == n) {
			pfm_errf(e, "all differences are zero: zero_method %s does not apply",
				 o->zero_method == PFM_ZERO_WILCOX ? "wilcox" : "pratt");
			goto out;
		}
		if (o->zero_method == PFM_ZERO_WILCOX) {
			count = 0;
			for (size_t i = 0; i < n; i++)
				if (d[i] != 0)
					d[count++] = d[i];
		}
	}
	for (size_t i = 0; i < count; i++)
		ad[i] = fabs(d[i]);
	if (pfm_rankdata(ad, count, r, e))
		goto out;
	double rp = 0, rm = 0, rz = 0;
	for (size_t i = 0; i < count; i++) {
		if (d[i] > 0)
			rp += r[i];
		else if (d[i] < 0)
			rm += r[i];
		else
			rz += r[i];
	}
	if (o->zero_method == PFM_ZERO_ZSPLIT) {
		rp += rz / 2.;
		rm += rz / 2.;
	}
	double T = o->alternative == PFM_ALT_TWO_SIDED ? (rp < rm ? rp : rm) : rp;
	res->stat = T;
	if (mode == PFM_WMODE_APPROX) {
		double c = (double)count, nz = (double)n_zero;
		double mn = c * (c + 1.) * 0.25;
		double se = c * (c + 1.) * (2. * c + 1.);
		size_t nr = count;
		if (o->zero_method == PFM_ZERO_PRATT) {
			/* scipy drops the zeros' ranks before counting ties */
			nr = 0;
			for (size_t i = 0; i < count; i++)
				if (d[i] != 0)
					r[nr++] = r[i];
			mn -= nz * (nz + 1.) * 0.25;
			se -= nz * (nz + 1.) * (2. * nz + 1.);
		}
		se -= 0.5 * pfm_tie_sum(r, nr);
		se = sqrt(se / 24);
		double cc = 0;
		if (o->correction) {
			if (o->alternative == PFM_ALT_TWO_SIDED)
				cc = 0.5 * (T > mn ? 1 : T < mn ? -1 : 0);
			else if (o->alternative == PFM_ALT_LESS)
				cc = -0.5;
			else
				cc = 0.5;
		}
		double z = (T - mn - cc) / se;
		res->z = z;
		if (o->alternative == PFM_ALT_TWO_SIDED)
			res->p = 2. * pfm_norm_sf(fabs(z));
		else if (o->alternative == PFM_ALT_GREATER)
			res->p = pfm_norm_sf(z);
		else
			res->p = pfm_norm_cdf(z);
	} else {
		size_t len;
		double *pmf = wilcoxon_pmf((int)count, &len);
		if (!pmf) {
			pfm_errf(e, "out of memory");
			goto out;
		}
		size_t rpi = (size_t)rp; /* int(r_plus): truncates tied ranks */
		double p, lo, hi;
		if (o->alternative == PFM_ALT_TWO_SIDED) {
			if (rpi == (len - 1) / 2) {
				p = 1.0;
			} else {
				sum_range(pmf, 0, rpi + 1, &lo);
				sum_range(pmf, rpi, len, &hi);
				p = 2 * (hi < lo ? hi : lo);
			}
		} else if (o->alternative == PFM_ALT_GREATER) {
			sum_range(pmf, rpi, len, &p);
		} else {
			sum_range(pmf, 0, rpi + 1, &p);
		}
		free(pmf);
		res->p = p < 0 ? 0 : p > 1 ? 1 : p;
	}
	rc = 0;
out:
	free(d), free(ad), free(r);
	return rc;
}
