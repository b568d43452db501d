/* distill_loss.h: the losses of distill-step and their gradients, plain
 * functions over flat float arrays (outputs first). Each loss returns
 * its value (double) and, where a gradient pointer is given, adds
 * (+=) d(weight * loss)/d(input) into it.
 *
 * Sources (read, not copied): DINOv2 dinov2/loss/dino_clstoken_loss.py,
 * ibot_patch_loss.py, koleo_loss.py; GPFM pretrain/dinov2/kl_loss.py. */
#ifndef PFM_DISTILL_LOSS_H
#define PFM_DISTILL_LOSS_H

#include <stddef.h>

/* Teacher centering and sharpening (DINOLoss.softmax_center_teacher):
 * p[R, K] = softmax((x - center) / temp) per row (center NULL: none). */
void pfm_softmax_center(float *p, const float *x, const float *center,
			float temp, int R, int K);
/* center[K] = center * m + mean over rows of x * (1 - m)
 * (DINOLoss.update_center / iBOTPatchLoss.update_center; m = 0.9). */
void pfm_center_update(float *center, const float *x, int R, int K, float m);
/* Sinkhorn-Knopp (DINOLoss.sinkhorn_knopp_teacher, one process):
 * Q = exp(x / temp)^T [K, R] normalised to sum 1, then `iters` times:
 * rows to 1/K, columns to 1/R; q[R, K] = (Q * R)^T. The largest logit is
 * subtracted before exp (an exact no-op after the first normalisation
 * that keeps exp finite). scratch: K doubles. */
void pfm_sinkhorn(float *q, const float *x, float temp, int R, int K,
		  int iters, double *scratch);

/* Soft cross-entropy of student logits s[R, K] against teacher
 * probabilities t[R, K]: sum_r w[r] * -sum_k t log_softmax(s_r / temp)_k
 * (w NULL: 1). ds[R, K] += its gradient (ds may be NULL). */
double pfm_xent(float *ds, const float *s, const float *t, const float *w,
		float temp, int R, int K);

/* KoLeo (KoLeoLoss): rows of x[B, D] L2-normalised (eps 1e-8), each
 * row's nearest other row by inner product, loss = -mean log(||y_b -
 * y_nn(b) + 1e-8|| + 1e-8) (PairwiseDistance adds its eps to the
 * difference). Returns weight * loss; dx += its gradient. B >= 2. */
double pfm_koleo(float *dx, const float *x, int B, int D, double weight);

/* GPFM's Cosine loss: weight * (1 - mean over rows of cos(p_r, t_r)),
 * cos = p.t / sqrt(max(|p|^2 |t|^2, 1e-16)) (torch's
 * cosine_similarity, eps 1e-8). dp[R, E] += its gradient. */
double pfm_cos_loss(float *dp, const float *p, const float *t, int R, int E,
		    double weight);
/* weight * mean over n elements of SmoothL1 (beta 1): 0.5 d^2 if |d| < 1
 * else |d| - 0.5, d = p - t. dp += its gradient. */
double pfm_smooth_l1(float *dp, const float *p, const float *t, size_t n,
		     double weight);

/* Bicubic resampling of a grid in[gh, gw, C] over a box (top y0, left
 * x0, height bh, width bw, in grid units) to out[nh, nw, C], as torch's
 * F.interpolate(mode="bicubic", align_corners=False) on that box: source
 * coordinate y0 + (i + 0.5) * bh / nh - 0.5, A = -0.75, taps clamped to
 * the grid. With the whole grid as the box it is F.interpolate(size=
 * (nh, nw)) (GPFM's FeatureLoss); flip mirrors the columns (the box of
 * a horizontally flipped crop). */
void pfm_grid_bicubic(float *out, const float *in, int gh, int gw, int C,
		      double y0, double x0, double bh, double bw, int nh,
		      int nw, int flip);

#endif
