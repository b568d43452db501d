/* distill.h: GPFM-style unified knowledge distillation (distill-step):
 * a ViT student learns from frozen experts (their features on the
 * frames) and from its own EMA teacher (DINOv2: DINO on the class
 * token, iBOT on masked patches, KoLeo).
 *
 * Parameters (llm.c style): one student buffer
 *   [ backbone (pfm_vit layout) | mask_token [D] | DINO head |
 *     expert head 0 | expert head 1 | ... ]
 * with its gradients and the two AdamW moments in buffers of the same
 * layout. The teacher buffer holds the first n_ema floats of that
 * layout (backbone, mask token, DINO head): its EMA. Tensors are named
 * as timm (backbone), DINOv2 (mask_token, dino_head.*) and GPFM
 * (expert.NAME.*) name them (pfm_distill_names).
 *
 * Defaults (pfm_distill_defaults) are DINOv2's ssl_default_config.yaml
 * and GPFM's distillation settings; distill-step(1) lists each with its
 * source. */
#ifndef PFM_DISTILL_H
#define PFM_DISTILL_H

#include <stddef.h>
#include <stdint.h>

#include "distill_head.h"
#include "err.h"
#include "rng.h"
#include "vit.h"

#define PFM_MAX_EXPERTS 16

enum { PFM_CENTER_EMA, PFM_CENTER_SK };

typedef struct {
	char name[64];
	double w_cls, w_patch; /* loss weights (GPFM: uni 1.0/0.25 ...) */
	int width;             /* feature width E (0: from the first frame) */
} pfm_expert_opt;

typedef struct {
	/* a fresh student (ignored with init) */
	int dim, depth, heads, hidden, patch, img, reg, mlp;
	double layerscale;      /* LayerScale init value; 0: none */
	const char *init;       /* safetensors ViT to start from, or NULL */
	const pfm_vit_config *arch; /* or this architecture (a resumed run) */
	/* crops */
	int batch, global_size, local_size, n_local;
	/* heads */
	int prototypes, head_hidden, head_bottleneck, head_layers;
	int expert_bottleneck;
	/* losses */
	double dino_w, koleo_w, ibot_w, student_temp, center_m;
	int centering, sk_iters;
	double teacher_temp, teacher_temp_start;
	int64_t teacher_temp_steps;
	double mask_prob, mask_min, mask_max;
	int nexperts;
	pfm_expert_opt experts[PFM_MAX_EXPERTS];
	/* optimisation */
	int64_t steps, warmup, freeze_last;
	double lr, min_lr, wd, wd_end, layer_decay, patch_lr_mult, clip;
	double beta1, beta2, mom, mom_end, drop_path;
	int threads;
	uint64_t seed;
} pfm_distill_opts;

/* DINOv2 / GPFM defaults; steps-dependent ones are filled by
 * pfm_distill_resolve once steps is known. */
void pfm_distill_defaults(pfm_distill_opts *o);
/* Fill what depends on others (warm-ups as fractions of steps) and check
 * every value; errors name the option. */
int pfm_distill_resolve(pfm_distill_opts *o, pfm_err *e);

/* One named tensor of the student layout. */
typedef struct {
	char name[96];
	size_t off;   /* in the student buffer */
	int ndim;
	int64_t dims[4];
	size_t count;
	float lr_mult, wd_mult;
	int last_layer; /* DINOv2 "last_layer": frozen lr at first */
	int module;     /* 0 backbone + mask token, 1 DINO head, 2+e expert */
} pfm_distill_tensor;

typedef struct pfm_distill pfm_distill;

struct pfm_distill {
	pfm_distill_opts o;
	pfm_vit m;            /* backbone layout; m.params == S */
	size_t n, n_ema;      /* floats in the student / teacher buffers */
	float *S, *T, *G, *M1, *M2;
	size_t off_mask, off_dino, off_expert[PFM_MAX_EXPERTS];
	pfm_head dino, expert[PFM_MAX_EXPERTS];
	float *dino_center, *ibot_center; /* [K] */
	pfm_distill_tensor *tensors;
	int ntensors;
	int64_t step;         /* optimizer steps done */
	double lr_scaled;     /* base lr after the sqrt(batch/1024) rule */
	struct pfm_distill_ws *ws;
};

/* A student (random, or from o->init), its teacher (a copy), heads
 * (random), zero moments. Expert widths must be known (o->experts[i].
 * width > 0). */
int pfm_distill_new(pfm_distill **out, const pfm_distill_opts *o,
		    pfm_err *e);
void pfm_distill_free(pfm_distill *d);

/* One training batch: B tiles, each with 2 global and n_local local
 * crops (normalised CHW), in DINOv2's collate order (crop c of every
 * tile, then crop c + 1). */
typedef struct {
	int B;
	const float *global;  /* [2B, 3, G, G] */
	const float *local;   /* [n_local * B, 3, L, L] */
	const uint8_t *mask;  /* [2B, N_global] iBOT masks; NULL: none */
	const float *ecls[PFM_MAX_EXPERTS]; /* [B, E] expert class tokens */
	const float *etok[PFM_MAX_EXPERTS]; /* [2B, N_global, E] expert
					     * tokens on each global crop's
					     * grid (NULL when w_patch = 0) */
	/* drop-path scales [L][2][rows] fed by a caller (the torch
	 * reference test); NULL: drawn from the step's generator */
	const float *drop_global, *drop_local;
} pfm_distill_batch;

/* The values of a step, for its metric frame. */
enum {
	PFM_DM_LOSS, PFM_DM_DINO_LOCAL, PFM_DM_DINO_GLOBAL, PFM_DM_KOLEO,
	PFM_DM_IBOT, PFM_DM_LR, PFM_DM_LAST_LR, PFM_DM_WD, PFM_DM_MOMENTUM,
	PFM_DM_TEACHER_TEMP, PFM_DM_GRAD_NORM, PFM_DM_HEAD_GRAD_NORM,
	PFM_DM_MASKED,
	/* seconds spent: teacher, student forward, heads and losses,
	 * student backward, clip + AdamW + EMA */
	PFM_DM_T_TEACHER, PFM_DM_T_FORWARD, PFM_DM_T_HEADS, PFM_DM_T_BACKWARD,
	PFM_DM_T_UPDATE, PFM_DM_N
};
typedef struct {
	double v[PFM_DM_N];
	double ecls[PFM_MAX_EXPERTS], epatch[PFM_MAX_EXPERTS];
} pfm_distill_metrics;
extern const char *const pfm_distill_metric_names[PFM_DM_N];

/* Forward and backward of one step into d->G (no update): the losses in
 * *mt. 0, or -1 (e). */
int pfm_distill_grad(pfm_distill *d, const pfm_distill_batch *b,
		     pfm_distill_metrics *mt, pfm_err *e);
/* Clipping, AdamW, the teacher's EMA, step + 1 (after
 * pfm_distill_grad). */
void pfm_distill_update(pfm_distill *d, pfm_distill_metrics *mt);
/* Both, refusing a non-finite loss (nothing updated; the error names
 * the terms). */
int pfm_distill_step(pfm_distill *d, const pfm_distill_batch *b,
		     pfm_distill_metrics *mt, pfm_err *e);

/* Schedules at iteration it (DINOv2's CosineScheduler). */
double pfm_distill_lr(const pfm_distill *d, int64_t it);
double pfm_distill_last_lr(const pfm_distill *d, int64_t it);
double pfm_distill_wd(const pfm_distill *d, int64_t it);
double pfm_distill_momentum(const pfm_distill *d, int64_t it);
double pfm_distill_teacher_temp(const pfm_distill *d, int64_t it);
/* CosineScheduler(base, final, total, warmup, start_warmup, freeze)[it] */
double pfm_cosine_schedule(double base, double final, int64_t total,
			   int64_t warmup, double start_warmup,
			   int64_t freeze, int64_t it);

/* Drop-path scales [L][2][rows] for one crop set, as DINOv2 draws them:
 * rate > 0.1: a random subset of max(int(rows (1 - rate)), 1) rows keeps
 * each branch, scaled rows / kept (drop_add_residual_stochastic_depth);
 * 0 < rate <= 0.1: each row kept with probability 1 - rate, scaled
 * 1 / (1 - rate) (DropPath). */
void pfm_distill_drop_scales(float *s, int L, int rows, double rate,
			     pfm_rng *r);

#endif
