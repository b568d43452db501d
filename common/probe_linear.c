/* probe_linear.c: a linear head trained with AdamW and cross-entropy,
 * early-stopped on a validation set (eva's linear probe). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "mil.h" /* pfm_mil_ce */
#include "probe.h"
#include "rng.h"

/* Mean cross-entropy (and errors) of a set. */
static double set_loss(const float *wb, const pfm_probe_set *s, int k,
		       double *err, float *logits)
{
	int d = s->d;
	double sum = 0;
	int wrong = 0;
	for (int i0 = 0; i0 < s->n; i0 += 256) {
		int bn = s->n - i0 < 256 ? s->n - i0 : 256;
		pfm_linear_forward(logits, s->x + (size_t)i0 * d, wb, wb + (size_t)k * d, bn, d, k);
		for (int i = 0; i < bn; i++) {
			const float *z = logits + (size_t)i * k;
			int best = 0;
			for (int c = 1; c < k; c++)
				if (z[c] > z[best])
					best = c;
			wrong += best != s->lab[i0 + i];
			sum += pfm_mil_ce(z, k, s->lab[i0 + i], 1, NULL);
		}
	}
	*err = (double)wrong / s->n;
	return sum / s->n;
}

int pfm_linear_fit(float *wb, const pfm_probe_set *train,
		   const pfm_probe_set *val, int k, pfm_linear_opts *o,
		   pfm_err *e)
{
	int d = train->d, n = train->n, B = o->batch > 0 ? o->batch : 256;
	if (n < 1)
		return pfm_errf(e, "no training instances");
	if (B > n)
		B = n;
	size_t np = (size_t)k * d + k;
	float *g = calloc(np, sizeof *g), *m = calloc(np, sizeof *m), *v = calloc(np, sizeof *v);
	float *best = malloc(sizeof *best * np), *xb = malloc(sizeof *xb * (size_t)B * d);
	float *lg = malloc(sizeof *lg * (size_t)256 * k), *dl = malloc(sizeof *dl * (size_t)B * k);
	int *order = malloc(sizeof *order * n), rc = 0;
	if (!g || !m || !v || !best || !xb || !lg || !dl || !order) {
		rc = pfm_errf(e, "out of memory (linear head %d x %d)", k, d);
		goto out;
	}
	pfm_rng rinit = pfm_rng_seed(o->seed, 1), rord = pfm_rng_seed(o->seed, 2);
	if (o->init)
		memcpy(wb, o->init, sizeof *wb * np);
	else
		pfm_linear_init(wb, wb + (size_t)k * d, d, k, PFM_INIT_TORCH, &rinit);
	for (int i = 0; i < n; i++)
		order[i] = i;
	double best_val = INFINITY;
	int64_t t = 0, since = 0, steps = 0;
	o->best_epoch = -1;
	o->epochs_run = 0;
	for (int ep = 0; ep < o->epochs; ep++) {
		if (o->shuffle)
			pfm_rng_shuffle(&rord, order, n);
		for (int s0 = 0; s0 < n; s0 += B) {
			int bn = n - s0 < B ? n - s0 : B;
			for (int i = 0; i < bn; i++)
				memcpy(xb + (size_t)i * d, train->x + (size_t)order[s0 + i] * d,
				       sizeof *xb * d);
			pfm_linear_forward(dl, xb, wb, wb + (size_t)k * d, bn, d, k);
			double lsum = 0;
			for (int i = 0; i < bn; i++) {
				float *z = dl + (size_t)i * k;
				float tmp[256];
				memcpy(tmp, z, sizeof *tmp * k);
				lsum += pfm_mil_ce(tmp, k, train->lab[order[s0 + i]], 1.0f / bn, z);
			}
			if (o->step_loss)
				o->step_loss[steps] = lsum / bn;
			steps++;
			memset(g, 0, sizeof *g * np);
			pfm_linear_backward(NULL, g, g + (size_t)k * d, dl, xb, wb, bn, d, k);
			pfm_adamw_step(wb, g, m, v, np, &o->opt, ++t);
		}
		o->epochs_run = ep + 1;
		if (val && val->n) {
			double err, l = set_loss(wb, val, k, &err, lg);
			double mon = o->monitor ? err : l;
			if (mon < best_val) {
				best_val = mon;
				o->best_epoch = ep;
				since = 0;
				memcpy(best, wb, sizeof *best * np);
			} else if (++since >= o->patience && o->patience > 0 && ep + 1 >= o->min_epochs) {
				break;
			}
		}
	}
	if (val && val->n && o->best_epoch >= 0)
		memcpy(wb, best, sizeof *wb * np);
	for (size_t i = 0; i < np; i++)
		if (!isfinite(wb[i])) {
			rc = pfm_errf(e, "linear head: the weights diverged (lower --lr)");
			break;
		}
out:
	free(g), free(m), free(v), free(best), free(xb), free(lg), free(dl), free(order);
	return rc;
}

void pfm_linear_proba(const float *wb, const float *x, int n, int d, int k,
		      double *prob)
{
	float z[256];
	for (int i = 0; i < n; i++) {
		pfm_linear_forward(z, x + (size_t)i * d, wb, wb + (size_t)k * d, 1, d, k);
		double mx = -INFINITY, s = 0, *p = prob + (size_t)i * k;
		for (int c = 0; c < k; c++)
			mx = fmax(mx, z[c]);
		for (int c = 0; c < k; c++)
			s += p[c] = exp(z[c] - mx);
		for (int c = 0; c < k; c++)
			p[c] /= s;
	}
}
