/* vit_bf16.h: private to vit_*.c. The ViT forward's matrix products
 * through oneDNN, in bf16 or fp32 (see vit_bf16.c); one workspace per
 * thread. */
#ifndef PFM_VIT_BF16_H
#define PFM_VIT_BF16_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "gemm.h" /* pfm_bf16_round */

typedef struct pfm_bf16_ws pfm_bf16_ws;
/* Weight layouts chosen by oneDNN, shared by the threads' workspaces. */
typedef struct pfm_bf16_fmt pfm_bf16_fmt;

/* Was this build made with oneDNN? */
int pfm_bf16_available(void);
pfm_bf16_fmt *pfm_bf16_fmt_new(pfm_err *e);
void pfm_bf16_fmt_free(pfm_bf16_fmt *f);
/* Copy count matrices src[count][N][K] (fp32) into dst (same element
 * count; bf16 rounded to nearest even when bf16, else fp32) in the layout
 * oneDNN's matmul prefers for N x K weights and M_hint rows; returns the
 * layout's id for pfm_bf16_linear, or -1. */
int pfm_bf16_prepare(pfm_bf16_fmt *f, void *dst, const float *src,
		     int count, int N, int K, int M_hint, int bf16,
		     pfm_err *e);
pfm_bf16_ws *pfm_bf16_ws_new(const pfm_bf16_fmt *f, pfm_err *e);
void pfm_bf16_ws_free(pfm_bf16_ws *w);
/* pfm_bf16_linear's flags */
enum {
	PFM_BF16_GELU = 1,    /* out = gelu(in @ wt^T + b), exact (erf) */
	PFM_BF16_OUT_BF16 = 2, /* out is bf16, else fp32 */
	PFM_BF16_IN_BF16 = 4  /* in is bf16 already, else fp32 (rounded to
				 bf16 first when the layout is bf16) */
};
/* out[M, N] = in[M, K] @ wt^T (+ b[N]), fp32 accumulation; wt an N x K
 * matrix prepared with layout id fmt. */
int pfm_bf16_linear(pfm_bf16_ws *w, int fmt, void *out, const void *in,
		    const void *wt, const float *b, int M, int K, int N,
		    int flags, pfm_err *e);
/* Multi-head self-attention of one image as pfm_attention: qkv[T, 3D]
 * (q | k | v, heads contiguous inside each), out[T, D]. QK^T and PV as
 * one matmul each over the heads; when bf16, qkv and out are bf16 (the
 * scores and the softmax fp32), else fp32. */
int pfm_bf16_attention(pfm_bf16_ws *w, void *out, const void *qkv, int T,
		       int D, int heads, int bf16, pfm_err *e);

#endif
