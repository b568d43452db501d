/* vit.h: the vision transformer engine behind embed and distill-step.
 *
 * One architecture covers the pathology foundation models: a ViT with a
 * class token, optional register tokens, learned absolute position
 * embeddings (resampled bicubically to any input size, as timm does),
 * pre-norm blocks with optional LayerScale, a GELU (exact erf) or SwiGLU
 * MLP, a final LayerNorm, and optionally CoCa's attentional pooler
 * (CONCH). Weights come from safetensors files in the timm, Hugging Face
 * (ViTModel, Dinov2Model), DINOv2 or open_clip CoCa naming schemes.
 *
 * As in llm.c, all parameters live in one contiguous float buffer; the
 * tensors are views into it in a fixed order (PFM_VP_*), per-layer
 * tensors stacked over layers. Gradients and optimizer state for training
 * use the same layout. */
#ifndef PFM_VIT_H
#define PFM_VIT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum { PFM_MLP_GELU, PFM_MLP_SWIGLU };
/* Output kinds (embed --output). */
enum {
	PFM_OUT_CLS,      /* the class token after the final norm */
	PFM_OUT_MEAN,     /* mean of the patch tokens (no cls/registers) */
	PFM_OUT_CLS_MEAN, /* [cls, mean]: Virchow, Midnight */
	PFM_OUT_POOLED,   /* CoCa contrastive pooler after ln_contrast (CONCH as
			   * CLAM/TRIDENT extract it) */
	PFM_OUT_PROJ,     /* the same @ proj_contrast: the image-text space */
	PFM_NOUT
};
/* How position embeddings are resampled to another grid. */
enum {
	PFM_POS_TIMM,   /* F.interpolate(size=grid, bicubic, antialias=True) */
	PFM_POS_DINOV2, /* scale_factor=(grid+0.1)/old, bicubic, no antialias */
	PFM_POS_HF      /* size=grid, bicubic, no antialias */
};
/* Tensor naming schemes. */
enum {
	PFM_SCHEME_TIMM, PFM_SCHEME_HF_VIT, PFM_SCHEME_HF_DINOV2,
	PFM_SCHEME_DINOV2, PFM_SCHEME_COCA, PFM_NSCHEMES
};

typedef struct {
	char name[64];    /* default --as name */
	int scheme;       /* PFM_SCHEME_* */
	int img_size;     /* training input side (pos_embed grid * patch) */
	int patch;        /* patch side */
	int dim;          /* embedding width D */
	int depth;        /* blocks L */
	int heads;        /* attention heads; D % heads == 0 */
	int mlp;          /* PFM_MLP_* */
	int hidden;       /* MLP hidden width H (SwiGLU: fc1 has 2H rows) */
	int cls;          /* has a class token (0/1) */
	int reg;          /* register tokens */
	int pos_prefix;   /* prefix tokens covered by pos_embed: 0, 1, 1+reg */
	int pos_h, pos_w; /* stored position-embedding grid */
	int pos_interp;   /* PFM_POS_* */
	int layerscale;   /* ls1/ls2 present */
	int qkv_bias;
	float eps;        /* LayerNorm epsilon */
	int out;          /* default output kind PFM_OUT_* */
	/* CoCa attentional pooler (out == PFM_OUT_POOLED) */
	int pooler;       /* present */
	int pool_q;       /* queries (1 for the contrastive pooler) */
	int pool_heads;
	int pool_dim;     /* d_model of the pooler */
	int pool_proj;    /* columns of proj_contrast; 0 = none */
	float pool_eps;   /* its LayerNorms' eps (open_clip: 1e-5) */
	/* preprocessing (torchvision eval transform) */
	int resize;       /* shorter side -> resize; 0 = none */
	int crop;         /* centre crop side */
	int interp;       /* pfm_interp of preprocess.h */
	float mean[3], std[3];
} pfm_vit_config;

/* Parameter tensors, in buffer order. Per-layer ones (LN1_W .. LS2)
 * are stacked: [L, ...]. */
enum {
	PFM_VP_PATCH_W, /* [D, 3, p, p] */
	PFM_VP_PATCH_B, /* [D] */
	PFM_VP_CLS,     /* [D] */
	PFM_VP_REG,     /* [R, D] */
	PFM_VP_POS,     /* [pos_prefix + pos_h*pos_w, D] */
	PFM_VP_LN1_W, PFM_VP_LN1_B,   /* [L, D] */
	PFM_VP_QKV_W,   /* [L, 3D, D] rows q, k, v */
	PFM_VP_QKV_B,   /* [L, 3D] */
	PFM_VP_PROJ_W,  /* [L, D, D] */
	PFM_VP_PROJ_B,  /* [L, D] */
	PFM_VP_LS1,     /* [L, D] */
	PFM_VP_LN2_W, PFM_VP_LN2_B,   /* [L, D] */
	PFM_VP_FC1_W,   /* [L, H1, D], H1 = H or 2H (SwiGLU: gate rows first) */
	PFM_VP_FC1_B,   /* [L, H1] */
	PFM_VP_FC2_W,   /* [L, D, H] */
	PFM_VP_FC2_B,   /* [L, D] */
	PFM_VP_LS2,     /* [L, D] */
	PFM_VP_NORM_W, PFM_VP_NORM_B, /* [D] */
	PFM_VP_PQ,      /* pooler queries [Q, P] (P = pool_dim) */
	PFM_VP_PLNQ_W, PFM_VP_PLNQ_B, /* [P] */
	PFM_VP_PLNK_W, PFM_VP_PLNK_B, /* [D] */
	PFM_VP_PWQ,     /* [P, P] */
	PFM_VP_PWK,     /* [P, D] */
	PFM_VP_PWV,     /* [P, D] */
	PFM_VP_PBQKV,   /* [3P] */
	PFM_VP_PWO,     /* [P, P] */
	PFM_VP_PBO,     /* [P] */
	PFM_VP_PLN_W, PFM_VP_PLN_B,   /* ln_contrast [P] */
	PFM_VP_PPROJ,   /* proj_contrast [P, pool_proj] (x @ proj) */
	PFM_NVP
};

typedef struct {
	pfm_vit_config cfg;
	size_t size[PFM_NVP]; /* floats per tensor (0 when absent) */
	size_t off[PFM_NVP];  /* offset in params */
	size_t nparams;
	float *params;
	char source[256];     /* file it was loaded from */
} pfm_vit;

/* View of tensor k in a buffer with the model's layout (params, grads,
 * optimizer moments). */
static inline float *pfm_vit_at(const pfm_vit *m, float *buf, int k)
{
	return buf + m->off[k];
}

/* Fill size/off/nparams from cfg and allocate params (zeroed). */
int pfm_vit_alloc(pfm_vit *m, const pfm_vit_config *cfg, pfm_err *e);
void pfm_vit_free(pfm_vit *m);
/* Check a configuration for consistency (sizes, heads | dim ...). */
int pfm_vit_config_check(const pfm_vit_config *c, pfm_err *e);
/* Width of an output kind (0 when the model cannot produce it). */
int pfm_vit_out_dim(const pfm_vit_config *c, int out);
const char *pfm_vit_out_name(int out);
int pfm_vit_out_parse(const char *s, int *out);
const char *pfm_vit_scheme_name(int scheme);
int pfm_vit_scheme_parse(const char *s, int *scheme);

/* Load a model: a .safetensors file whose __metadata__["pathfm"] holds
 * the configuration as JSON, or a sidecar PATH-without-.safetensors +
 * ".json". Shapes are inferred from the tensors; the configuration
 * supplies what they cannot tell (heads, eps, output kind,
 * preprocessing) and must agree with them. Loading is strict: a
 * missing, unexpected or wrongly shaped tensor is an error naming it. */
int pfm_vit_load(pfm_vit *m, const char *path, pfm_err *e);
/* The same from an open safetensors file: config is the JSON text, or
 * NULL for its __metadata__ "pathfm"; label names it in errors. */
struct pfm_st;
int pfm_vit_from_st(pfm_vit *m, const struct pfm_st *st, const char *config,
		    const char *label, pfm_err *e);

/* ---- inference ---- */
typedef struct pfm_vit_run pfm_vit_run;

/* Workspace for batches of up to max_batch images of side img (square,
 * a multiple of the patch size), on nthreads threads. */
pfm_vit_run *pfm_vit_run_new(const pfm_vit *m, int max_batch, int img,
			     int nthreads, pfm_err *e);
void pfm_vit_run_free(pfm_vit_run *r);
/* Run the linear layers in bf16 (weights rounded once, inputs rounded
 * per layer, fp32 accumulation; everything else fp32). Needs a build
 * with oneDNN. 0 or -1. */
int pfm_vit_run_bf16(pfm_vit_run *r, pfm_err *e);
/* Tokens per image (prefix + patches) for this workspace. */
int pfm_vit_run_tokens(const pfm_vit_run *r);

/* Forward B images (float CHW, normalised: [B, 3, img, img]). Writes
 * the final-normed tokens; then pfm_vit_output reads outputs from them. */
int pfm_vit_forward(pfm_vit_run *r, const float *images, int B, pfm_err *e);
/* out: [B, pfm_vit_out_dim(kind)] */
int pfm_vit_output(pfm_vit_run *r, int kind, float *out, pfm_err *e);
/* The final-normed tokens [B, T, D] of the last forward. */
const float *pfm_vit_tokens(const pfm_vit_run *r);

#endif
