/* vit_train.h: the ViT forward that keeps its activations, and its
 * backward, for training (distill-step). The inference path
 * (pfm_vit_forward) is untouched; this forward computes the same tokens.
 *
 * Training adds to the network of vit.h:
 *  - masked patch tokens (iBOT): a patch token whose mask byte is set is
 *    replaced by a learned mask token after the patch embedding and
 *    before the position embeddings, as DINOv2's prepare_tokens_with_masks;
 *  - drop-path: each residual branch of each block is scaled per image
 *    (0 for an image whose branch is dropped, b / kept for the others,
 *    as DINOv2's drop_add_residual_stochastic_depth); the caller draws
 *    the scales;
 *  - the gradient of every parameter, in a buffer with the model's layout
 *    (pfm_vit_at(m, grads, k)), and of the mask token.
 *
 * Activations (llm.c style) live in one buffer per workspace. With
 * M = max_batch * T rows (T tokens per image), D the width, H1 the fc1
 * width (H or 2H), L blocks, in this order:
 *   X    [L+1][M][D]   block inputs; X[L] is the final norm's input
 *   LN1  [L][M][D]     norm1 output      S1 [L][M][2] its (mean, rstd)
 *   QKV  [L][M][3D]    qkv projection (q | k | v, heads contiguous)
 *   P    [L][B][heads][T][T] attention probabilities
 *   ATT  [L][M][D]     attention output before proj
 *   PROJ [L][M][D]     proj output (kept with LayerScale only)
 *   X2   [L][M][D]     after the attention residual
 *   LN2  [L][M][D]     norm2 output      S2 [L][M][2]
 *   U    [L][M][H1]    fc1 output before the activation (recomputed:
 *                      GELU / SwiGLU of it)
 *   FC2  [L][M][D]     fc2 output (kept with LayerScale only)
 *   OUT  [M][D]        final-normed tokens  SF [M][2]
 * Rows of image b are b*T .. b*T+T-1 in each. A workspace made with
 * keep = 0 (the EMA teacher: forward only) holds one layer of each and
 * updates X in place.
 *
 * Threads split a batch by images, as the inference path does; each
 * runs the whole network on its images with single-threaded OpenBLAS.
 * In the backward pass each thread accumulates parameter gradients into
 * its own buffer; they are added to the caller's in thread order, so a
 * result depends on the thread count but never on timing. */
#ifndef PFM_VIT_TRAIN_H
#define PFM_VIT_TRAIN_H

#include <stdint.h>

#include "err.h"
#include "vit.h"

typedef struct pfm_vit_train pfm_vit_train;

/* A workspace for up to max_batch images of side img (a multiple of the
 * patch size). keep: store activations for the backward pass. */
pfm_vit_train *pfm_vit_train_new(const pfm_vit *m, int max_batch, int img,
				 int keep, int nthreads, pfm_err *e);
void pfm_vit_train_free(pfm_vit_train *t);
int pfm_vit_train_tokens(const pfm_vit_train *t);  /* T = prefix + N */
int pfm_vit_train_patches(const pfm_vit_train *t); /* N */
int pfm_vit_train_prefix(const pfm_vit_train *t);  /* cls + registers */
/* Bytes of activations and scratch held. */
size_t pfm_vit_train_bytes(const pfm_vit_train *t);

typedef struct {
	const float *params;     /* model layout: m->params, or the
				  * teacher's buffer of the same layout */
	const float *mask_token; /* [D]; used where mask is set */
	const float *images;     /* [B, 3, img, img], normalised; must stay
				  * unchanged until the backward pass */
	const uint8_t *mask;     /* [B, N]: 1 = masked patch; NULL: none */
	const float *drop;       /* [L][2][B] residual scales (attention,
				  * MLP); NULL: all 1 */
	int B;
} pfm_vit_batch;

/* Forward; the batch description is copied (its arrays must live until
 * the backward pass). */
int pfm_vit_train_forward(pfm_vit_train *t, const pfm_vit_batch *b,
			  pfm_err *e);
/* The final-normed tokens [B, T, D] of the last forward. */
const float *pfm_vit_train_out(const pfm_vit_train *t);
/* Backward of the last forward (keep = 1) for dout [B, T, D], the
 * gradient of the loss with respect to the final-normed tokens. Adds
 * the parameter gradients into grads (model layout) and the mask
 * token's into dmask [D] (may be NULL without masks). */
int pfm_vit_train_backward(pfm_vit_train *t, const float *dout, float *grads,
			   float *dmask, pfm_err *e);

#endif
