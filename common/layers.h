/* layers.h: neural-network layers as plain functions over flat float
 * arrays, in llm.c's manner: outputs first, shapes in comments. Forward
 * functions overwrite their outputs; backward functions accumulate (+=)
 * into the gradients they are handed (NULL: not wanted). Matrices are
 * row-major and a linear layer's weight is [out, in], as torch stores
 * it, so weights move between the two unchanged. GEMMs go to OpenBLAS. */
#ifndef PFM_LAYERS_H
#define PFM_LAYERS_H

#include <stddef.h>

#include "rng.h"

/* out[n,oc] = inp[n,ic] @ w[oc,ic]^T + b[oc]   (b may be NULL) */
void pfm_linear_forward(float *out, const float *inp, const float *w,
			const float *b, int n, int ic, int oc);
/* dinp[n,ic] += dout[n,oc] @ w;  dw[oc,ic] += dout^T @ inp;
 * db[oc] += sum over n of dout */
void pfm_linear_backward(float *dinp, float *dw, float *db, const float *dout,
			 const float *inp, const float *w, int n, int ic,
			 int oc);

/* out[n] = softmax(inp[n]) (max subtracted; out may be inp) */
void pfm_softmax(float *out, const float *inp, int n);

/* Initial weights of a linear layer w[oc,ic], b[oc]:
 * PFM_INIT_XAVIER: w ~ N(0, 2 / (ic + oc)), b = 0 (CLAM's
 *   initialize_weights: xavier_normal_);
 * PFM_INIT_TORCH: w, b ~ U(-1/sqrt(ic), 1/sqrt(ic)) (torch's default,
 *   kaiming_uniform_ with a = sqrt(5)). */
enum { PFM_INIT_XAVIER, PFM_INIT_TORCH };
void pfm_linear_init(float *w, float *b, int ic, int oc, int kind,
		     pfm_rng *r);

#endif
