/* vit_bf16.h: private to vit_*.c. bf16 linear layers through oneDNN
 * (see vit_bf16.c); one workspace per thread. */
#ifndef PFM_VIT_BF16_H
#define PFM_VIT_BF16_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct pfm_bf16_ws pfm_bf16_ws;

/* Was this build made with oneDNN? */
int pfm_bf16_available(void);
pfm_bf16_ws *pfm_bf16_ws_new(pfm_err *e);
void pfm_bf16_ws_free(pfm_bf16_ws *w);
/* fp32 -> bf16, round to nearest even. */
void pfm_bf16_round(uint16_t *out, const float *in, size_t n);
/* out[M, N] = bf16(in[M, K]) @ wt[N, K]^T (+ b[N]), fp32 accumulation. */
int pfm_bf16_linear(pfm_bf16_ws *w, float *out, const float *in,
		    const uint16_t *wt, const float *b, int M, int K, int N,
		    pfm_err *e);

#endif
