/* distill_head.h: DINOv2's DINOHead (dinov2/layers/dino_head.py), the
 * projection head of both the DINO/iBOT losses and GPFM's expert
 * distillation: an MLP of nlayers Linear layers (GELU between them, the
 * last one to the bottleneck), L2 normalisation of each row
 * (F.normalize, eps 1e-12), then a weight-normalised Linear without bias
 * to `out` columns: W = g * v / ||v|| per output row (torch's
 * weight_norm, dim 0).
 *   DINO head:   nlayers 3, hidden 2048, bottleneck 256, out K prototypes
 *   expert head: nlayers 1 (Linear in -> 256), out = the expert's width
 *                (GPFM's distill heads: DINOHead(..., nlayers=1))
 *
 * Parameters are one flat block (inside the trainer's buffer), tensors
 * in this order, named as DINOv2's state_dict:
 *   nlayers 1: mlp.weight [bn, in], mlp.bias [bn]
 *   else:      mlp.0.weight [hid, in], mlp.0.bias, mlp.2.weight [hid, hid]
 *              ..., mlp.{2(n-1)}.weight [bn, hid], its bias
 *   last_layer.weight_g [out, 1], last_layer.weight_v [out, bn]
 * Forward overwrites its outputs; backward accumulates (+=) into the
 * parameter gradients and the input gradient. */
#ifndef PFM_DISTILL_HEAD_H
#define PFM_DISTILL_HEAD_H

#include <stddef.h>

#include "err.h"
#include "rng.h"

#define PFM_HEAD_MAXL 8

typedef struct {
	int in, out, hidden, bottleneck, nlayers;
	int nt;                      /* tensors */
	char names[2 * PFM_HEAD_MAXL + 2][32];
	int ndim[2 * PFM_HEAD_MAXL + 2];
	int dims[2 * PFM_HEAD_MAXL + 2][2];
	size_t off[2 * PFM_HEAD_MAXL + 2], size[2 * PFM_HEAD_MAXL + 2];
	size_t n;                    /* floats */
} pfm_head;

/* The layout of DINOHead(in, out, hidden, bottleneck, nlayers). */
int pfm_head_layout(pfm_head *h, int in, int out, int hidden, int bottleneck,
		    int nlayers, pfm_err *e);
/* DINOv2's initial weights: MLP weights trunc_normal(std 0.02) (within
 * +-2, i.e. a plain normal at this std), biases 0; v as nn.Linear's
 * default (U(-1/sqrt(bn), 1/sqrt(bn))), g = 1. */
void pfm_head_init(const pfm_head *h, float *p, pfm_rng *r);

/* Workspace of a head, run on `threads` threads. */
typedef struct pfm_head_ws pfm_head_ws;
pfm_head_ws *pfm_head_ws_new(const pfm_head *h, int threads);
void pfm_head_ws_free(pfm_head_ws *w);

/* logits[R, out] = head(x[R, in]) with parameters p. x must stay
 * unchanged until the backward pass. 0, or -1 (out of memory). */
int pfm_head_forward(const pfm_head *h, pfm_head_ws *w, const float *p,
		     const float *x, int R, float *logits, pfm_err *e);
/* The normalised bottleneck rows z[R, bn] of the last forward. */
const float *pfm_head_bottleneck(const pfm_head_ws *w);
/* Backward of the last forward: dlogits[R, out] -> dx[R, in] (+=, may be
 * NULL) and gp (+=, the head's parameter layout). */
int pfm_head_backward(const pfm_head *h, pfm_head_ws *w, const float *p,
		      const float *dlogits, float *dx, float *gp, pfm_err *e);

#endif
