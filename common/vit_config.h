/* vit_config.h: private to vit_*.c. The model configuration as JSON
 * (safetensors __metadata__["pathfm"] or a sidecar file). */
#ifndef PFM_VIT_CONFIG_H
#define PFM_VIT_CONFIG_H

#include <stddef.h>

#include "err.h"
#include "vit.h"

/* Which fields the JSON set (the rest are inferred or defaulted). */
enum {
	VC_NAME = 1 << 0, VC_SCHEME = 1 << 1, VC_IMG = 1 << 2,
	VC_PATCH = 1 << 3, VC_DIM = 1 << 4, VC_DEPTH = 1 << 5,
	VC_HEADS = 1 << 6, VC_MLP = 1 << 7, VC_HIDDEN = 1 << 8,
	VC_REG = 1 << 9, VC_CLS = 1 << 10, VC_NO_EMBED_CLASS = 1 << 11,
	VC_LS = 1 << 12, VC_QKV_BIAS = 1 << 13, VC_EPS = 1 << 14,
	VC_OUT = 1 << 15, VC_POOL_Q = 1 << 16, VC_POOL_HEADS = 1 << 17,
	VC_MEAN = 1 << 18, VC_STD = 1 << 19, VC_RESIZE = 1 << 20,
	VC_CROP = 1 << 21, VC_INTERP = 1 << 22, VC_POS_INTERP = 1 << 23
};

/* Parse text[0..n) into c, setting *given; no_embed_class goes to
 * *no_embed_class. Unknown keys and wrong types are errors naming the
 * key. */
int pfm_vit_config_json(pfm_vit_config *c, unsigned *given,
			int *no_embed_class, const char *text, size_t n,
			pfm_err *e);

#endif
