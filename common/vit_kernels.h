/* vit_kernels.h: the elementwise and row-wise layers of the ViT, plain
 * functions over flat float arrays (outputs first, shapes in comments).
 * GEMMs go through OpenBLAS (pfm_linear). Built with -O3 and cloned for
 * AVX-512/AVX2 (see the Makefile), so the loops vectorise portably. */
#ifndef PFM_VIT_KERNELS_H
#define PFM_VIT_KERNELS_H

#include <stddef.h>

/* out[M, N] = in[M, K] @ w[N, K]^T (+ b[N] when b) */
void pfm_linear(float *out, const float *in, const float *w, const float *b,
		int M, int K, int N);
/* out[M, D] = LN(in[M, D]) * w + b; out may be in. */
void pfm_layernorm(float *out, const float *in, const float *w,
		   const float *b, int M, int D, float eps);
/* x[n] = x * 0.5 * (1 + erf(x / sqrt 2)) in place, after adding b[N]
 * per column when b (x is [n / N, N]). */
void pfm_bias_gelu(float *x, const float *b, size_t rows, int N);
/* u[M, 2H] -> out[M, H] = silu(u[:, :H] + b[:H]) * (u[:, H:] + b[H:]);
 * out may be u (rows are compacted in place). */
void pfm_bias_swiglu(float *out, float *u, const float *b, int M, int H);
/* x[M, D] += ls[D] * (y[M, D] + b[D]); ls and b may be NULL. */
void pfm_residual(float *x, const float *y, const float *b, const float *ls,
		  int M, int D);
/* Row by row: x[M, D] += ls * (h + b), then h = LN(x) * w + lb: the
 * residual update and the next LayerNorm in one pass. */
void pfm_residual_layernorm(float *x, float *h, const float *b,
			    const float *ls, const float *w, const float *lb,
			    int M, int D, float eps);
/* Softmax of each row of x[rows, n], in place. */
void pfm_softmax_rows(float *x, int rows, int n);
/* Multi-head self-attention of one image: qkv[T, 3D] (q | k | v, heads
 * contiguous inside each), out[T, D]; s is scratch of T*T floats. */
void pfm_attention(float *out, const float *qkv, float *s, int T, int D,
		   int heads);
/* Patches of one CHW image img[3, H, W] as rows out[(H/p)*(W/p), 3*p*p]
 * in (c, ky, kx) order, matching a conv weight [D, 3, p, p]. */
void pfm_patchify(float *out, const float *img, int H, int W, int p);
/* Resample a grid of vectors pos[gh, gw, D] to out[nh, nw, D], bicubic,
 * as torch's F.interpolate: aa=1 antialiased (support scaled when
 * downsampling, a = -0.5, weights normalised), aa=0 classic (a = -0.75,
 * clamped taps). sh/sw: source-per-output scale (in/out unless the
 * caller passes torch's 1/scale_factor). */
void pfm_pos_resample(float *out, const float *pos, int gh, int gw, int nh,
		      int nw, int D, int aa, double sh, double sw);

#endif
