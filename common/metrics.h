/* metrics.h: evaluation metrics, computed as scikit-learn 1.2 and
 * scikit-survival 0.21 compute them (tests/test_metrics.c checks them
 * against those on random inputs).
 *
 * Class labels are indices 0..k-1; probabilities are n x k, row-major.
 * Functions that can be undefined (one class only, no comparable pairs)
 * return -1 with e saying why; the others return the value. */
#ifndef PFM_METRICS_H
#define PFM_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* ---- classification (metrics.c) ---- */

/* ROC AUC of score for y in {0, 1} (roc_auc_score): the probability that
 * a positive scores above a negative, ties counting one half; computed
 * exactly from tie groups. Needs both classes and finite scores. */
int pfm_auc_binary(const int *y, const double *score, size_t n, double *auc,
		   pfm_err *e);
/* k = 2: binary AUC of prob[:, 1]; k > 2: the unweighted mean over
 * classes of the one-vs-rest AUC of prob[:, c] (roc_auc_score with
 * multi_class='ovr', average='macro', labels=0..k-1): every class must
 * occur in y. */
int pfm_auc_ovr(const int *y, const double *prob, size_t n, int k,
		double *auc, pfm_err *e);

double pfm_accuracy(const int *y, const int *pred, size_t n);
/* balanced_accuracy_score: the mean recall over the classes present in
 * y (a class only predicted does not count). */
double pfm_balanced_accuracy(const int *y, const int *pred, size_t n, int k);
/* f1_score(average='macro' | 'weighted') over the labels present in y or
 * pred (sklearn's default label set): per class F = 2PR/(P+R), 0 where
 * P+R = 0 (zero_division 0); weighted by the true counts. */
double pfm_f1(const int *y, const int *pred, size_t n, int k, int weighted);
/* cohen_kappa_score(weights='quadratic', labels=0..k-1):
 * 1 - sum w O / sum w E, w_ij = (i-j)^2, E = outer(pred counts, true
 * counts) / n. Undefined (-1) when sum w E = 0. */
int pfm_kappa_quadratic(const int *y, const int *pred, size_t n, int k,
			double *kappa, pfm_err *e);

/* ---- survival (metrics_surv.c) ---- */

typedef struct {
	double cindex;
	int64_t concordant, discordant, tied_risk, tied_time;
} pfm_cindex_res;

/* Harrell's concordance index with scikit-survival's rules
 * (concordance_index_censored): a pair (i, j) is comparable when i has an
 * event and time_j > time_i, or time_j = time_i and j is censored; it is
 * concordant when risk_i > risk_j, tied when |risk_i - risk_j| <= tied_tol
 * (1e-8 there), counting one half. O(n^2). Needs an event, a comparable
 * pair and finite values. */
int pfm_cindex(const int *event, const double *time, const double *risk,
	       size_t n, double tied_tol, pfm_cindex_res *r, pfm_err *e);

/* Discrete-time survival labels (Zadeh & Schmid 2020; PORPOISE, MCAT):
 * the edges of pandas.qcut(times of the events, q=nbins), the first and
 * last replaced by min(time) - eps and max(time) + eps over all n; then
 * bin[i] = k with edges[k] <= time[i] < edges[k+1] (pandas.cut,
 * right=False). edges holds nbins + 1 values. Equal edges (many tied
 * event times) are an error, as in pandas. */
int pfm_surv_bins(const double *time, const int *event, size_t n, int nbins,
		  double eps, double *edges, int *bin, pfm_err *e);

/* ---- bootstrap (metrics_boot.c) ---- */

/* A metric on a resample: the cases idx[0..n) (with repeats). 0, or -1
 * when undefined on it (a class missing). */
typedef int (*pfm_metric_fn)(void *ctx, const size_t *idx, size_t n,
			     double *value);

typedef struct {
	int n;         /* replicates */
	uint64_t seed;
	double level;  /* 0.95 */
} pfm_boot_opts;

/* Percentile interval: n replicates, each drawing n cases with
 * replacement (u = (splitmix64() >> 11) 2^-53, index = floor(u n), the
 * state starting at seed, as rank-stats' bootstrap); the (1-level)/2 and
 * (1+level)/2 quantiles (numpy 'linear') of the replicates where the
 * metric is defined. *valid: how many were. Fewer than 2 valid is an
 * error. */
int pfm_bootstrap_ci(pfm_metric_fn fn, void *ctx, size_t n,
		     const pfm_boot_opts *o, double *lo, double *hi,
		     int *valid, pfm_err *e);

/* ---- a split's predictions, metric by metric (metrics_eval.c) ---- */

enum {
	PFM_MET_AUROC, PFM_MET_BALACC, PFM_MET_F1_MACRO, PFM_MET_F1_WEIGHTED,
	PFM_MET_ACCURACY, PFM_MET_KAPPA, PFM_MET_CINDEX, PFM_MET_N
};
/* "auroc", "balanced_accuracy", "f1_macro", "f1_weighted", "accuracy",
 * "kappa_quadratic", "c_index" */
extern const char *const pfm_metric_name[PFM_MET_N];

typedef struct {
	size_t n;
	int k;                 /* classes */
	const int *y, *pred;   /* classification */
	const double *prob;    /* n x k, or NULL: no AUC */
	const int *event;      /* survival */
	const double *time, *risk;
} pfm_eval;

/* Metric id on the cases idx[0..m) of v (with repeats; idx NULL: all n). */
int pfm_eval_metric(const pfm_eval *v, int id, const size_t *idx, size_t m,
		    double *out, pfm_err *e);
/* The same metric's percentile interval over bootstrap resamples of the
 * n cases (pfm_bootstrap_ci). */
int pfm_eval_ci(const pfm_eval *v, int id, const pfm_boot_opts *o,
		double *lo, double *hi, int *valid, pfm_err *e);

#endif
