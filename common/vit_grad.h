/* vit_grad.h: what training adds to the ViT's layers (vit_kernels.h):
 * forward variants that keep what the backward pass needs, and the
 * backward of every layer. Plain functions over flat float arrays,
 * outputs first, shapes in comments. Backward functions write the
 * gradient of their input (dx = ...) and accumulate (+=) into parameter
 * gradients (dw, db; NULL: not wanted), so that per-layer parameter
 * gradients sum over images and threads without a separate pass. */
#ifndef PFM_VIT_GRAD_H
#define PFM_VIT_GRAD_H

#include <stddef.h>
#include <stdint.h>

/* out[M, D] = LN(x) * w + b, as pfm_layernorm (the same arithmetic, so
 * the same floats), also writing stats[M, 2] = (mean, rstd). */
void pfm_layernorm_fwd(float *out, float *stats, const float *x,
		       const float *w, const float *b, int M, int D,
		       float eps);
/* dx[M, D] (+= when accumulate, else =) from dy[M, D], the input x and
 * its stats; dw[D] += sum dy * xhat, db[D] += sum dy. dx may not alias
 * dy. */
void pfm_layernorm_bwd(float *dx, float *dw, float *db, const float *dy,
		       const float *x, const float *stats, const float *w,
		       int M, int D, int accumulate);

/* du[n] = dy * GELU'(u) for the exact (erf) GELU of u (pre-activation);
 * du may be dy. */
void pfm_gelu_bwd(float *du, const float *dy, const float *u, size_t n);
/* SwiGLU of u[M, 2H] (gate | value, as pfm_bias_swiglu without bias):
 * du[M, 2H] from dy[M, H]. */
void pfm_swiglu_bwd(float *du, const float *dy, const float *u, int M,
		    int H);

/* x[M, D] = in + s * ls[D] * y (per row scale s = scale[m / rows_per],
 * ls NULL: 1, scale NULL: 1). x may be in. */
void pfm_residual_fwd(float *x, const float *in, const float *y,
		      const float *ls, const float *scale, int rows_per,
		      int M, int D);
/* The branch's side of it: dy[M, D] = s * ls * dx; dls[D] += sum over
 * rows of s * dx * y (when dls). */
void pfm_residual_bwd(float *dy, float *dls, const float *dx,
		      const float *y, const float *ls, const float *scale,
		      int rows_per, int M, int D);

/* Multi-head attention of one image that keeps the probabilities:
 * qkv[T, 3D] -> out[T, D], p[heads, T, T]. */
void pfm_attention_fwd(float *out, float *p, const float *qkv, int T, int D,
		       int heads);
/* dqkv[T, 3D] from dout[T, D], qkv and p; ds is scratch of T*T. */
void pfm_attention_bwd(float *dqkv, const float *dout, const float *qkv,
		       const float *p, float *ds, int T, int D, int heads);

/* out[M, N] = x[M, K] @ w[N, K]^T + b (b may be NULL); pfm_linear. The
 * backward: dx[M, K] = dy @ w (accumulate: +=), dw[N, K] += dy^T x,
 * db[N] += column sums of dy; dx NULL: not wanted. */
void pfm_linear_bwd(float *dx, float *dw, float *db, const float *dy,
		    const float *x, const float *w, int M, int K, int N,
		    int accumulate);

/* The resampling operator of pfm_pos_resample as a matrix
 * wm[nh*nw, gh*gw] (row: an output position, its weights over the
 * source grid), for the backward pass: dpos += wm^T dout. */
int pfm_pos_resample_matrix(float *wm, int gh, int gw, int nh, int nw,
			    int aa, double sh, double sw); /* 0, -1: no memory */

/* e^x and erf as the forward computes them */
#include "vit_math.h"

#endif
