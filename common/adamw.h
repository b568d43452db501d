/* adamw.h: Adam and AdamW over a flat float buffer, as torch 1.13's
 * single-tensor torch.optim.Adam / AdamW compute them (float32 state,
 * the same order of operations), so that a trainer here follows the
 * reference's loss curve. Parameters, gradients and the two moment
 * buffers share one layout: a trainer keeps them as four arrays of the
 * same length (or one buffer of 4 x n) and calls this once a step, or
 * once per parameter group with its own weight decay. */
#ifndef PFM_ADAMW_H
#define PFM_ADAMW_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	double lr;           /* learning rate */
	double beta1, beta2; /* moment decay; 0 means the default 0.9 / 0.999 */
	double eps;          /* 0 means 1e-8 */
	double weight_decay;
	int decoupled;       /* 1: AdamW (p *= 1 - lr wd); 0: Adam (g += wd p) */
	int threads;         /* split a large step over this many threads
				(0 or 1: the caller's); the result does not
				depend on it */
} pfm_adamw_opts;

/* One step over n parameters. t: the step number, 1 for the first step.
 * m and v start at zero. With g the gradient (plus wd p for Adam):
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
void pfm_adamw_step(float *param, const float *grad, float *m, float *v,
		    size_t n, const pfm_adamw_opts *o, int64_t t);

#endif
