/* vit_bf16.h: private to vit_*.c. bf16 linear layers through oneDNN
 * (see vit_bf16.c); one workspace per thread. */
#ifndef PFM_VIT_BF16_H
#define PFM_VIT_BF16_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct pfm_bf16_ws pfm_bf16_ws;
/* Weight layouts chosen by oneDNN, shared by the threads' workspaces. */
typedef struct pfm_bf16_fmt pfm_bf16_fmt;

/* Was this build made with oneDNN? */
int pfm_bf16_available(void);
pfm_bf16_fmt *pfm_bf16_fmt_new(pfm_err *e);
void pfm_bf16_fmt_free(pfm_bf16_fmt *f);
/* Round count matrices src[count][N][K] (fp32) to bf16 into dst (same
 * element count) in the layout oneDNN's matmul prefers for N x K
 * weights and M_hint rows; returns the layout's id for pfm_bf16_linear,
 * or -1. */
int pfm_bf16_prepare(pfm_bf16_fmt *f, uint16_t *dst, const float *src,
		     int count, int N, int K, int M_hint, pfm_err *e);
pfm_bf16_ws *pfm_bf16_ws_new(const pfm_bf16_fmt *f, pfm_err *e);
void pfm_bf16_ws_free(pfm_bf16_ws *w);
/* fp32 -> bf16, round to nearest even. */
void pfm_bf16_round(uint16_t *out, const float *in, size_t n);
/* out[M, N] = bf16(in[M, K]) @ wt^T (+ b[N]), fp32 accumulation; wt an
 * N x K matrix prepared with layout id fmt. */
int pfm_bf16_linear(pfm_bf16_ws *w, int fmt, float *out, const float *in,
		    const uint16_t *wt, const float *b, int M, int K, int N,
		    pfm_err *e);

#endif
