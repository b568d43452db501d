/* metrics_eval.c: the metrics of a split's predictions by id, on all
 * cases or a resample, and their bootstrap intervals. */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

const char *const pfm_metric_name[PFM_MET_N] = {
	"auroc", "balanced_accuracy", "f1_macro", "f1_weighted", "accuracy",
	"kappa_quadratic", "c_index"};

int pfm_eval_metric(const pfm_eval *v, int id, const size_t *idx, size_t m,
		    double *out, pfm_err *e)
{
	int k = v->k > 0 ? v->k : 1;
	size_t c = m ? m : 1;
	int *y = malloc(sizeof *y * c), *p = malloc(sizeof *p * c), *ev = malloc(sizeof *ev * c);
	double *pr = malloc(sizeof *pr * c * k), *rk = malloc(sizeof *rk * c);
	double *tm = malloc(sizeof *tm * c);
	int rc = 0;
	if (!y || !p || !ev || !pr || !rk || !tm) {
		rc = pfm_errf(e, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < m; i++) {
		size_t j = idx ? idx[i] : i;
		if (v->y)
			y[i] = v->y[j];
		if (v->pred)
			p[i] = v->pred[j];
		if (v->prob)
			memcpy(pr + i * k, v->prob + j * k, sizeof *pr * k);
		if (v->event)
			ev[i] = v->event[j], rk[i] = v->risk[j], tm[i] = v->time[j];
	}
	switch (id) {
	case PFM_MET_AUROC:
		rc = v->prob ? pfm_auc_ovr(y, pr, m, k, out, e)
			     : pfm_errf(e, "AUC: no probabilities");
		break;
	case PFM_MET_BALACC: *out = pfm_balanced_accuracy(y, p, m, k); break;
	case PFM_MET_F1_MACRO: *out = pfm_f1(y, p, m, k, 0); break;
	case PFM_MET_F1_WEIGHTED: *out = pfm_f1(y, p, m, k, 1); break;
	case PFM_MET_ACCURACY: *out = pfm_accuracy(y, p, m); break;
	case PFM_MET_KAPPA: rc = pfm_kappa_quadratic(y, p, m, k, out, e); break;
	case PFM_MET_CINDEX: {
		pfm_cindex_res r;
		rc = pfm_cindex(ev, tm, rk, m, 1e-8, &r, e);
		*out = r.cindex;
		break;
	}
	default: rc = pfm_errf(e, "no metric %d", id);
	}
out:
	free(y), free(p), free(ev), free(pr), free(rk), free(tm);
	return rc;
}

typedef struct {
	const pfm_eval *v;
	int id;
} boot_ctx;

static int boot_fn(void *ctx, const size_t *idx, size_t n, double *value)
{
	boot_ctx *b = ctx;
	return pfm_eval_metric(b->v, b->id, idx, n, value, NULL);
}

int pfm_eval_ci(const pfm_eval *v, int id, const pfm_boot_opts *o,
		double *lo, double *hi, int *valid, pfm_err *e)
{
	boot_ctx b = {v, id};
	return pfm_bootstrap_ci(boot_fn, &b, v->n, o, lo, hi, valid, e);
}
