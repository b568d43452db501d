/* distill_model.c: distill-step's defaults, parameter layout and names,
 * parameter groups and initial weights (distill.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distill.h"

void pfm_distill_free_ws(pfm_distill *d); /* distill_step.c */

void pfm_distill_defaults(pfm_distill_opts *o)
{
	memset(o, 0, sizeof *o);
	/* student.arch vit_large, patch_size 16, layerscale 1e-5,
	 * ffn_layer mlp, num_register_tokens 0 (DINOv2 ssl_default_config;
	 * vit_large: dinov2/models/vision_transformer.py) */
	o->dim = 1024, o->depth = 24, o->heads = 16, o->hidden = 4096;
	o->patch = 16, o->img = 224, o->reg = 0, o->mlp = PFM_MLP_GELU;
	o->layerscale = 1e-5;
	/* crops: train.batch_size_per_gpu 64, global 224, local 96, 8 local */
	o->batch = 64, o->global_size = 224, o->local_size = 96;
	o->n_local = 8;
	/* dino.head_*: 65536 prototypes, 3 layers, hidden 2048, bottleneck
	 * 256; GPFM's expert heads: DINOHead(nlayers=1, bottleneck 256) */
	o->prototypes = 65536, o->head_hidden = 2048, o->head_bottleneck = 256;
	o->head_layers = 3, o->expert_bottleneck = 256;
	/* dino.loss_weight 1, dino.koleo_loss_weight 0.1, ibot.loss_weight
	 * 1; DINOLoss student_temp 0.1, center_momentum 0.9; train.centering
	 * "centering"; sinkhorn_knopp_teacher n_iterations 3 */
	o->dino_w = 1.0, o->koleo_w = 0.1, o->ibot_w = 1.0;
	o->student_temp = 0.1, o->center_m = 0.9;
	o->centering = PFM_CENTER_EMA, o->sk_iters = 3;
	/* teacher: teacher_temp 0.07 after warmup_teacher_temp 0.04 for 30
	 * of 100 epochs */
	o->teacher_temp = 0.07, o->teacher_temp_start = 0.04;
	o->teacher_temp_steps = -1;
	/* ibot: mask_sample_probability 0.5, mask_ratio_min_max 0.1-0.5 */
	o->mask_prob = 0.5, o->mask_min = 0.1, o->mask_max = 0.5;
	/* optim: 100 epochs of OFFICIAL_EPOCH_LENGTH 1250, warmup 10
	 * epochs, freeze_last_layer_epochs 1, base_lr 0.004 (sqrt_wrt_1024),
	 * min_lr 1e-6, weight_decay 0.04 -> 0.4, layerwise_decay 0.9,
	 * patch_embed_lr_mult 0.2, clip_grad 3.0, adamw betas 0.9/0.999 */
	o->steps = 125000, o->warmup = -1, o->freeze_last = -1;
	o->lr = 0.004, o->min_lr = 1e-6, o->wd = 0.04, o->wd_end = 0.4;
	o->layer_decay = 0.9, o->patch_lr_mult = 0.2, o->clip = 3.0;
	o->beta1 = 0.9, o->beta2 = 0.999;
	/* teacher.momentum_teacher 0.992 -> final_momentum_teacher 1;
	 * student.drop_path_rate 0.3 (uniform) */
	o->mom = 0.992, o->mom_end = 1.0, o->drop_path = 0.3;
	o->threads = 1;
	o->seed = 0;
}

#define NEED(c, ...)                                                          \
	do {                                                                  \
		if (!(c))                                                     \
			return pfm_errf(e, __VA_ARGS__);                      \
	} while (0)

int pfm_distill_resolve(pfm_distill_opts *o, pfm_err *e)
{
	NEED(o->steps >= 1, "--steps: at least 1");
	if (o->warmup < 0)
		o->warmup = (int64_t)llround(0.1 * (double)o->steps);
	if (o->teacher_temp_steps < 0)
		o->teacher_temp_steps = (int64_t)llround(0.3 * (double)o->steps);
	if (o->freeze_last < 0)
		o->freeze_last = (int64_t)llround(0.01 * (double)o->steps);
	NEED(o->warmup <= o->steps, "--warmup %lld exceeds --steps %lld",
	     (long long)o->warmup, (long long)o->steps);
	NEED(o->teacher_temp_steps <= o->steps,
	     "--teacher-temp-warmup exceeds --steps");
	NEED(o->batch >= 1 && o->batch <= 65536, "--batch: 1..65536");
	NEED(o->koleo_w == 0 || o->batch >= 2,
	     "KoLeo needs a batch of 2 or more tiles (or --koleo-weight 0)");
	NEED(o->n_local >= 0 && o->n_local <= 64, "--local-crops: 0..64");
	NEED(o->global_size > 0 && o->global_size <= 4096 &&
		     o->local_size > 0 && o->local_size <= 4096,
	     "crop sizes out of range");
	NEED(o->prototypes >= 2 && o->prototypes <= (1 << 20),
	     "--prototypes: 2..1048576");
	NEED(o->head_layers >= 1 && o->head_layers <= PFM_HEAD_MAXL,
	     "--head-layers: 1..%d", PFM_HEAD_MAXL);
	NEED(o->student_temp > 0 && o->teacher_temp > 0 &&
		     o->teacher_temp_start > 0,
	     "temperatures must be positive");
	NEED(o->center_m >= 0 && o->center_m <= 1, "--center-momentum: 0..1");
	NEED(o->mask_prob >= 0 && o->mask_prob <= 1 && o->mask_min >= 0 &&
		     o->mask_min <= o->mask_max && o->mask_max <= 1,
	     "bad mask probability or ratios");
	NEED(o->drop_path >= 0 && o->drop_path < 1, "--drop-path: 0..1");
	NEED(o->mom >= 0 && o->mom <= 1 && o->mom_end >= 0 && o->mom_end <= 1,
	     "momentum: 0..1");
	NEED(o->lr >= 0 && o->min_lr >= 0 && o->wd >= 0 && o->wd_end >= 0 &&
		     o->layer_decay > 0 && o->patch_lr_mult >= 0 && o->clip >= 0,
	     "negative learning rate, weight decay or clip");
	NEED(o->beta1 > 0 && o->beta1 < 1 && o->beta2 > 0 && o->beta2 < 1,
	     "AdamW betas: 0..1");
	NEED(o->threads >= 1 && o->threads <= 256, "--threads: 1..256");
	NEED(o->nexperts >= 0 && o->nexperts <= PFM_MAX_EXPERTS,
	     "at most %d experts", PFM_MAX_EXPERTS);
	for (int i = 0; i < o->nexperts; i++)
		for (int j = 0; j < i; j++)
			NEED(strcmp(o->experts[i].name, o->experts[j].name),
			     "expert \"%s\" given twice", o->experts[i].name);
	return 0;
}

/* ---- names and parameter groups ---- */

static int add(pfm_distill *d, int *cap, const char *name, size_t off,
	       int ndim, int64_t a, int64_t b, int64_t c, int64_t dd,
	       int module)
{
	if (d->ntensors == *cap) {
		int nc = *cap ? 2 * *cap : 256;
		pfm_distill_tensor *t = realloc(d->tensors, nc * sizeof *t);
		if (!t)
			return -1;
		d->tensors = t;
		*cap = nc;
	}
	pfm_distill_tensor *t = &d->tensors[d->ntensors++];
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->off = off;
	t->ndim = ndim;
	int64_t dims[4] = {a, b, c, dd};
	t->count = 1;
	for (int i = 0; i < ndim; i++) {
		t->dims[i] = dims[i];
		t->count *= (size_t)dims[i];
	}
	t->module = module;
	const pfm_distill_opts *o = &d->o;
	/* DINOv2 utils/param_groups.py: layer id 0 for pos_embed,
	 * patch_embed, mask_token, cls_token; i + 1 for blocks.i; L + 1 for
	 * the rest; heads (no blocks) 1. No weight decay on biases, norms
	 * and LayerScale (gamma). */
	int L = module == 0 ? d->m.cfg.depth : 0, id = L + 1;
	if (module == 0) {
		if (strstr(name, "pos_embed") || strstr(name, "patch_embed") ||
		    strstr(name, "mask_token") || strstr(name, "cls_token"))
			id = 0;
		else if (!strncmp(name, "blocks.", 7))
			id = atoi(name + 7) + 1;
	}
	t->lr_mult = (float)pow(o->layer_decay, L + 1 - id);
	if (strstr(name, "patch_embed"))
		t->lr_mult *= (float)o->patch_lr_mult;
	size_t nl = strlen(name);
	t->wd_mult = (nl > 5 && !strcmp(name + nl - 5, ".bias")) ||
				     strstr(name, "norm") || strstr(name, "gamma")
			     ? 0.f
			     : 1.f;
	t->last_layer = strstr(name, "last_layer") != NULL;
	return 0;
}

static int add_head(pfm_distill *d, int *cap, const char *prefix,
		    const pfm_head *h, size_t base, int module)
{
	char n[96];
	for (int k = 0; k < h->nt; k++) {
		snprintf(n, sizeof n, "%s%s", prefix, h->names[k]);
		if (add(d, cap, n, base + h->off[k], h->ndim[k], h->dims[k][0],
			h->dims[k][1], 0, 0, module))
			return -1;
	}
	return 0;
}

/* Every tensor of the student layout, named (timm backbone names). */
static int build_names(pfm_distill *d)
{
	const pfm_vit *m = &d->m;
	const pfm_vit_config *c = &m->cfg;
	int cap = 0;
	int64_t D = c->dim, H = c->hidden, p = c->patch;
	int64_t H1 = c->mlp == PFM_MLP_SWIGLU ? 2 * H : H;
	char n[96];
#define TOP(k, nm, nd, a, b, cc, dd)                                          \
	if (m->size[k] && add(d, &cap, nm, m->off[k], nd, a, b, cc, dd, 0))   \
		return -1;
	TOP(PFM_VP_PATCH_W, "patch_embed.proj.weight", 4, D, 3, p, p);
	TOP(PFM_VP_PATCH_B, "patch_embed.proj.bias", 1, D, 0, 0, 0);
	TOP(PFM_VP_CLS, "cls_token", 3, 1, 1, D, 0);
	TOP(PFM_VP_REG, "reg_token", 3, 1, c->reg, D, 0);
	TOP(PFM_VP_POS, "pos_embed", 3, 1, c->pos_prefix + c->pos_h * c->pos_w,
	    D, 0);
	TOP(PFM_VP_NORM_W, "norm.weight", 1, D, 0, 0, 0);
	TOP(PFM_VP_NORM_B, "norm.bias", 1, D, 0, 0, 0);
#undef TOP
	for (int l = 0; l < c->depth; l++) {
#define LAY(k, part, per, nd, a, b)                                           \
	if (m->size[k]) {                                                     \
		snprintf(n, sizeof n, "blocks.%d.%s", l, part);               \
		if (add(d, &cap, n, m->off[k] + (size_t)l * (per), nd, a, b,  \
			0, 0, 0))                                             \
			return -1;                                            \
	}
		LAY(PFM_VP_LN1_W, "norm1.weight", D, 1, D, 0);
		LAY(PFM_VP_LN1_B, "norm1.bias", D, 1, D, 0);
		LAY(PFM_VP_QKV_W, "attn.qkv.weight", 3 * D * D, 2, 3 * D, D);
		LAY(PFM_VP_QKV_B, "attn.qkv.bias", 3 * D, 1, 3 * D, 0);
		LAY(PFM_VP_PROJ_W, "attn.proj.weight", D * D, 2, D, D);
		LAY(PFM_VP_PROJ_B, "attn.proj.bias", D, 1, D, 0);
		LAY(PFM_VP_LS1, "ls1.gamma", D, 1, D, 0);
		LAY(PFM_VP_LN2_W, "norm2.weight", D, 1, D, 0);
		LAY(PFM_VP_LN2_B, "norm2.bias", D, 1, D, 0);
		LAY(PFM_VP_FC1_W, "mlp.fc1.weight", H1 * D, 2, H1, D);
		LAY(PFM_VP_FC1_B, "mlp.fc1.bias", H1, 1, H1, 0);
		LAY(PFM_VP_FC2_W, "mlp.fc2.weight", D * H, 2, D, H);
		LAY(PFM_VP_FC2_B, "mlp.fc2.bias", D, 1, D, 0);
		LAY(PFM_VP_LS2, "ls2.gamma", D, 1, D, 0);
#undef LAY
	}
	if (add(d, &cap, "mask_token", d->off_mask, 2, 1, D, 0, 0, 0) ||
	    add_head(d, &cap, "dino_head.", &d->dino, d->off_dino, 1))
		return -1;
	for (int i = 0; i < d->o.nexperts; i++) {
		char pre[96];
		snprintf(pre, sizeof pre, "expert.%s.", d->o.experts[i].name);
		if (add_head(d, &cap, pre, &d->expert[i], d->off_expert[i],
			     2 + i))
			return -1;
	}
	return 0;
}

/* ---- initial weights (DINOv2's init_weights, torch's defaults) ---- */

static void fill_normal(float *p, size_t n, double std, pfm_rng *r)
{
	for (size_t i = 0; i < n; i++) {
		double v;
		do /* trunc_normal_(std, a=-2, b=2) */
			v = std * pfm_rng_normal(r);
		while (v < -2 || v > 2);
		p[i] = (float)v;
	}
}

static void fill_uniform(float *p, size_t n, double bound, pfm_rng *r)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (float)(bound * (2 * pfm_rng_uniform(r) - 1));
}

static void fill(float *p, size_t n, float v)
{
	for (size_t i = 0; i < n; i++)
		p[i] = v;
}

static void init_backbone(pfm_distill *d, pfm_rng *r)
{
	const pfm_vit *m = &d->m;
	const pfm_vit_config *c = &m->cfg;
	float *P = d->S;
	size_t fan = 3 * (size_t)c->patch * c->patch;
	/* the patch embedding is a Conv2d: torch's default init */
	fill_uniform(pfm_vit_at(m, P, PFM_VP_PATCH_W), m->size[PFM_VP_PATCH_W],
		     1 / sqrt((double)fan), r);
	fill_uniform(pfm_vit_at(m, P, PFM_VP_PATCH_B), m->size[PFM_VP_PATCH_B],
		     1 / sqrt((double)fan), r);
	fill_normal(pfm_vit_at(m, P, PFM_VP_CLS), m->size[PFM_VP_CLS], 1e-6, r);
	fill_normal(pfm_vit_at(m, P, PFM_VP_REG), m->size[PFM_VP_REG], 1e-6, r);
	fill_normal(pfm_vit_at(m, P, PFM_VP_POS), m->size[PFM_VP_POS], 0.02, r);
	static const int linw[] = {PFM_VP_QKV_W, PFM_VP_PROJ_W, PFM_VP_FC1_W,
				   PFM_VP_FC2_W};
	for (size_t i = 0; i < sizeof linw / sizeof *linw; i++)
		fill_normal(pfm_vit_at(m, P, linw[i]), m->size[linw[i]], 0.02, r);
	static const int zero[] = {PFM_VP_QKV_B, PFM_VP_PROJ_B, PFM_VP_FC1_B,
				   PFM_VP_FC2_B, PFM_VP_LN1_B, PFM_VP_LN2_B,
				   PFM_VP_NORM_B};
	for (size_t i = 0; i < sizeof zero / sizeof *zero; i++)
		fill(pfm_vit_at(m, P, zero[i]), m->size[zero[i]], 0.f);
	static const int one[] = {PFM_VP_LN1_W, PFM_VP_LN2_W, PFM_VP_NORM_W};
	for (size_t i = 0; i < sizeof one / sizeof *one; i++)
		fill(pfm_vit_at(m, P, one[i]), m->size[one[i]], 1.f);
	fill(pfm_vit_at(m, P, PFM_VP_LS1), m->size[PFM_VP_LS1],
	     (float)d->o.layerscale);
	fill(pfm_vit_at(m, P, PFM_VP_LS2), m->size[PFM_VP_LS2],
	     (float)d->o.layerscale);
}

static int make_backbone(pfm_distill *d, pfm_err *e)
{
	const pfm_distill_opts *o = &d->o;
	if (o->init) {
		pfm_vit src;
		if (pfm_vit_load(&src, o->init, e))
			return -1;
		d->m = src; /* its params are copied into S below */
		return 0;
	}
	if (o->arch)
		return pfm_vit_alloc(&d->m, o->arch, e);
	pfm_vit_config c = {0};
	snprintf(c.name, sizeof c.name, "distilled");
	c.scheme = PFM_SCHEME_TIMM;
	c.img_size = o->img, c.patch = o->patch, c.dim = o->dim;
	c.depth = o->depth, c.heads = o->heads, c.mlp = o->mlp;
	c.hidden = o->hidden, c.cls = 1, c.reg = o->reg;
	c.pos_prefix = 1; /* DINOv2: the class token has a position */
	c.pos_h = c.pos_w = o->img / o->patch;
	c.pos_interp = PFM_POS_DINOV2; /* interpolate_offset 0.1, no aa */
	c.layerscale = o->layerscale > 0, c.qkv_bias = 1, c.eps = 1e-6f;
	c.out = PFM_OUT_CLS;
	c.resize = c.crop = o->global_size;
	c.interp = 0; /* bicubic */
	static const float mean[3] = {0.485f, 0.456f, 0.406f};
	static const float stdv[3] = {0.229f, 0.224f, 0.225f};
	memcpy(c.mean, mean, sizeof mean);
	memcpy(c.std, stdv, sizeof stdv);
	if (o->img % o->patch)
		return pfm_errf(e, "--img-size %d is not a multiple of --patch "
				   "%d", o->img, o->patch);
	return pfm_vit_alloc(&d->m, &c, e);
}

int pfm_distill_new(pfm_distill **out, const pfm_distill_opts *o,
		    pfm_err *e)
{
	*out = NULL;
	pfm_distill *d = calloc(1, sizeof *d);
	if (!d)
		return pfm_errf(e, "out of memory");
	d->o = *o;
	if (make_backbone(d, e))
		goto fail;
	const pfm_vit_config *c = &d->m.cfg;
	if (o->global_size % c->patch || o->local_size % c->patch) {
		pfm_errf(e, "crop sizes %d and %d must be multiples of the patch "
			    "size %d", o->global_size, o->local_size, c->patch);
		goto fail;
	}
	if (!c->cls) {
		pfm_errf(e, "the student needs a class token");
		goto fail;
	}
	if (pfm_head_layout(&d->dino, c->dim, o->prototypes, o->head_hidden,
			    o->head_bottleneck, o->head_layers, e))
		goto fail;
	size_t n = d->m.nparams;
	d->off_mask = n;
	n += c->dim;
	d->off_dino = n;
	n += d->dino.n;
	d->n_ema = n;
	for (int i = 0; i < o->nexperts; i++) {
		if (o->experts[i].width <= 0) {
			pfm_errf(e, "expert \"%s\": unknown width",
				 o->experts[i].name);
			goto fail;
		}
		if (pfm_head_layout(&d->expert[i], c->dim, o->experts[i].width,
				    0, o->expert_bottleneck, 1, e))
			goto fail;
		d->off_expert[i] = n;
		n += d->expert[i].n;
	}
	d->n = n;
	d->S = calloc(n, sizeof(float));
	d->T = calloc(d->n_ema, sizeof(float));
	d->G = calloc(n, sizeof(float));
	d->M1 = calloc(n, sizeof(float));
	d->M2 = calloc(n, sizeof(float));
	d->dino_center = calloc(o->prototypes, sizeof(float));
	d->ibot_center = calloc(o->prototypes, sizeof(float));
	if (!d->S || !d->T || !d->G || !d->M1 || !d->M2 || !d->dino_center ||
	    !d->ibot_center) {
		pfm_errf(e, "out of memory for %zu parameters", n);
		goto fail;
	}
	pfm_rng r = pfm_rng_seed(o->seed, 1);
	if (o->init)
		memcpy(d->S, d->m.params, d->m.nparams * sizeof(float));
	else
		init_backbone(d, &r);
	free(d->m.params);
	d->m.params = d->S;
	/* mask_token zeros (DINOv2) */
	pfm_head_init(&d->dino, d->S + d->off_dino, &r);
	for (int i = 0; i < o->nexperts; i++)
		pfm_head_init(&d->expert[i], d->S + d->off_expert[i], &r);
	memcpy(d->T, d->S, d->n_ema * sizeof(float));
	d->lr_scaled = o->lr * sqrt(o->batch / 1024.0); /* sqrt_wrt_1024 */
	if (build_names(d)) {
		pfm_errf(e, "out of memory");
		goto fail;
	}
	*out = d;
	return 0;
fail:
	pfm_distill_free(d);
	return -1;
}

void pfm_distill_free(pfm_distill *d)
{
	if (!d)
		return;
	pfm_distill_free_ws(d);
	if (d->m.params != d->S)
		pfm_vit_free(&d->m);
	free(d->S), free(d->T), free(d->G), free(d->M1), free(d->M2);
	free(d->dino_center), free(d->ibot_center), free(d->tensors);
	free(d);
}
