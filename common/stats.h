/* stats.h: the nonparametric statistics for comparing models over tasks,
 * computed as the reference libraries do (scipy 1.10, scikit-posthocs
 * 0.10, statsmodels), so that published rankings can be reproduced.
 *
 * Ranks are 1 = smallest unless said otherwise; callers that want
 * 1 = best rank the negated values of higher-is-better metrics. */
#ifndef PFM_STATS_H
#define PFM_STATS_H

#include <stddef.h>

#include "err.h"

/* ---- distributions (stats_dist.c) ---- */
double pfm_norm_cdf(double z);
double pfm_norm_sf(double z);
/* Upper tails of chi-square(df) and F(d1, d2). */
double pfm_chi2_sf(double x, double df);
double pfm_f_sf(double x, double d1, double d2);
/* Regularised incomplete gamma P(a,x), Q(a,x) and beta I_x(a,b). */
double pfm_gamma_p(double a, double x);
double pfm_gamma_q(double a, double x);
double pfm_beta_i(double a, double b, double x);

/* Studentized range of k normal means at infinite degrees of freedom:
 * cdf P(R < q), sf P(R > q) (each accurate in its own tail) and the
 * quantile, by numerical integration for any k >= 2 (R's ptukey/qtukey
 * with nranges = 1, df = Inf). */
double pfm_ptukey_inf(double q, int k);
double pfm_tukey_sf_inf(double q, int k);
double pfm_qtukey_inf(double p, int k);

/* ---- ranks and tests (stats_rank.c, stats_wilcoxon.c) ---- */

/* scipy.stats.rankdata(x, 'average'): ranks 1..n, ties share the mean. */
int pfm_rankdata(const double *x, size_t n, double *r, pfm_err *e);
/* Sum over groups of tied values of t^3 - t (x need not be sorted). */
double pfm_tie_sum(const double *x, size_t n);

typedef struct {
	int n, k;       /* blocks (tasks), treatments (models) */
	double chi2;    /* scipy.stats.friedmanchisquare: tie-corrected */
	double p;       /* chi2 sf, k-1 df */
	double tie_c;   /* its divisor 1 - sum(t^3-t)/(n k (k^2-1)) */
	double chi2_f;  /* Demsar (2006) chi^2_F: no tie correction */
	double p_f;
	double ff;      /* Iman-Davenport F_F */
	double df1, df2, p_ff;
} pfm_friedman;

/* ranks: n rows of k within-row ranks (row-major). */
int pfm_friedman_test(const double *ranks, int n, int k, pfm_friedman *out,
		      pfm_err *e);

/* Nemenyi: q_alpha = qtukey(1 - alpha, k, Inf) / sqrt(2) and
 * CD = q_alpha sqrt(k (k+1) / (6 n)) (Demsar 2006). */
double pfm_nemenyi_q(double alpha, int k);
double pfm_nemenyi_cd(double alpha, int k, int n);
/* scikit_posthocs.posthoc_nemenyi_friedman from average ranks: the
 * k x k matrix of p-values, 1 on the diagonal. */
void pfm_nemenyi_p(const double *avg_rank, int k, int n, double *p);

/* Holm step-down adjustment (statsmodels multipletests 'holm'); NaN
 * p-values stay NaN and are not counted among the tests. */
int pfm_holm(const double *p, size_t m, double *adj, pfm_err *e);

enum { PFM_ZERO_WILCOX, PFM_ZERO_PRATT, PFM_ZERO_ZSPLIT };
enum { PFM_ALT_TWO_SIDED, PFM_ALT_LESS, PFM_ALT_GREATER };
enum { PFM_WMODE_AUTO, PFM_WMODE_EXACT, PFM_WMODE_APPROX };

typedef struct {
	int zero_method; /* PFM_ZERO_* */
	int correction;  /* continuity correction (normal mode only) */
	int alternative; /* PFM_ALT_* */
	int mode;        /* PFM_WMODE_* */
} pfm_wilcoxon_opts;

typedef struct {
	double stat;  /* min(R+, R-) two-sided, else R+ */
	double p;
	double z;     /* normal mode only, else NAN */
	int mode;     /* PFM_WMODE_EXACT or PFM_WMODE_APPROX, as used */
	int n_zero;   /* zero differences */
} pfm_wilcoxon_res;

/* scipy.stats.wilcoxon(x, y, ...) of scipy 1.10, rules and quirks
 * included: auto = exact for n <= 50; zeros force the normal mode; the
 * exact mode truncates a tied R+ to an integer. An empty sample, or all
 * differences zero under wilcox/pratt in normal mode, is an error (scipy
 * returns NaN or raises). */
int pfm_wilcoxon(const double *x, const double *y, size_t n,
		 const pfm_wilcoxon_opts *o, pfm_wilcoxon_res *r, pfm_err *e);
int pfm_wilcoxon_parse_zero(const char *s);
int pfm_wilcoxon_parse_alt(const char *s);
int pfm_wilcoxon_parse_mode(const char *s);

#endif
