/* vit_load.c: a ViT from a safetensors file, in any of the naming
 * schemes the public pathology models use. Shapes come from the tensors;
 * the JSON configuration supplies the rest and must agree with them.
 * Every tensor of the file must be used (or be a known training-only or
 * unused head, listed in ignored[]) and every parameter must be found:
 * a mismatch is an error naming the tensor. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preprocess.h"
#include "safetensors.h"
#include "vit.h"
#include "vit_config.h"

/* Names of one scheme. Per-layer names follow the layer's prefix. */
typedef struct {
	const char *root;   /* prefix of every trunk tensor */
	const char *layers; /* layer prefix format, "%d" = layer */
	const char *patch_w, *patch_b, *cls, *reg, *pos, *norm_w, *norm_b;
	const char *ln1, *ln2;           /* + ".weight"/".bias" */
	const char *qkv;                 /* fused, or NULL */
	const char *q, *k, *v;           /* separate */
	const char *proj, *ls1, *ls2;
	const char *fc1, *fc2, *swi1, *swi2; /* gelu / swiglu MLP */
} scheme_t;

static const scheme_t schemes[PFM_NSCHEMES] = {
	[PFM_SCHEME_TIMM] = {"", "blocks.%d.", "patch_embed.proj.weight",
		"patch_embed.proj.bias", "cls_token", "reg_token", "pos_embed",
		"norm.weight", "norm.bias", "norm1", "norm2", "attn.qkv", NULL,
		NULL, NULL, "attn.proj", "ls1.gamma", "ls2.gamma", "mlp.fc1",
		"mlp.fc2", "mlp.fc1", "mlp.fc2"},
	[PFM_SCHEME_HF_VIT] = {"", "encoder.layer.%d.",
		"embeddings.patch_embeddings.projection.weight",
		"embeddings.patch_embeddings.projection.bias",
		"embeddings.cls_token", NULL, "embeddings.position_embeddings",
		"layernorm.weight", "layernorm.bias", "layernorm_before",
		"layernorm_after", NULL, "attention.attention.query",
		"attention.attention.key", "attention.attention.value",
		"attention.output.dense", NULL, NULL, "intermediate.dense",
		"output.dense", NULL, NULL},
	[PFM_SCHEME_HF_DINOV2] = {"", "encoder.layer.%d.",
		"embeddings.patch_embeddings.projection.weight",
		"embeddings.patch_embeddings.projection.bias",
		"embeddings.cls_token", "embeddings.register_tokens",
		"embeddings.position_embeddings", "layernorm.weight",
		"layernorm.bias", "norm1", "norm2", NULL,
		"attention.attention.query", "attention.attention.key",
		"attention.attention.value", "attention.output.dense",
		"layer_scale1.lambda1", "layer_scale2.lambda1", "mlp.fc1",
		"mlp.fc2", "mlp.weights_in", "mlp.weights_out"},
	[PFM_SCHEME_DINOV2] = {"", "blocks.%d.", "patch_embed.proj.weight",
		"patch_embed.proj.bias", "cls_token", "register_tokens",
		"pos_embed", "norm.weight", "norm.bias", "norm1", "norm2",
		"attn.qkv", NULL, NULL, NULL, "attn.proj", "ls1.gamma",
		"ls2.gamma", "mlp.fc1", "mlp.fc2", "mlp.w12", "mlp.w3"},
	[PFM_SCHEME_COCA] = {"trunk.", "blocks.%d.", "patch_embed.proj.weight",
		"patch_embed.proj.bias", "cls_token", "reg_token", "pos_embed",
		"norm.weight", "norm.bias", "norm1", "norm2", "attn.qkv", NULL,
		NULL, NULL, "attn.proj", "ls1.gamma", "ls2.gamma", "mlp.fc1",
		"mlp.fc2", "mlp.fc1", "mlp.fc2"},
};

/* Tensors of the public checkpoints that inference does not use. */
static const char *const ignored[] = {
	"mask_token", "embeddings.mask_token", "pooler.dense.weight",
	"pooler.dense.bias", NULL};

/* One expected tensor: where it goes and its shape. */
typedef struct {
	char *name;
	int k;
	size_t off;
	int ndim;
	int64_t dims[4];
	int seen;
} want_t;

typedef struct {
	const pfm_st *st;
	const scheme_t *s;
	char (*lp)[48]; /* per-layer prefix (root + layer) */
	want_t *w;
	size_t n, cap;
	pfm_err *e;
} loader;

static const pfm_st_tensor *findf(const pfm_st *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static const pfm_st_tensor *findf(const pfm_st *st, const char *fmt, ...)
{
	char name[160];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= sizeof name ? NULL : pfm_st_find(st, name);
}

/* The trunk tensor `name` (root-relative). */
static const pfm_st_tensor *top(const loader *L, const char *name)
{
	return name ? findf(L->st, "%s%s", L->s->root, name) : NULL;
}

/* Layer l's tensor `part` + suffix (".weight", ".bias" or ""). */
static const pfm_st_tensor *lay(const loader *L, int l, const char *part,
				const char *suf)
{
	return part ? findf(L->st, "%s%s%s", L->lp[l], part, suf) : NULL;
}

/* Find the prefix of layer l: blocks.l. or, for DINOv2 checkpoints with
 * block chunks, blocks.c.l. (c <= l). */
static int layer_prefix(const pfm_st *st, const scheme_t *s, int scheme,
			int l, char *out, size_t cap)
{
	char p[48];
	snprintf(p, sizeof p, s->layers, l);
	snprintf(out, cap, "%s%s", s->root, p);
	if (findf(st, "%s%s.weight", out, s->ln1))
		return 0;
	if (scheme == PFM_SCHEME_DINOV2)
		for (int c = 0; c <= l; c++) {
			snprintf(out, cap, "%sblocks.%d.%d.", s->root, c, l);
			if (findf(st, "%s%s.weight", out, s->ln1))
				return 0;
		}
	return -1;
}

static int want(loader *L, int k, size_t off, const char *name, int ndim,
		int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
	if (L->n == L->cap) {
		size_t c = L->cap ? 2 * L->cap : 256;
		want_t *w = realloc(L->w, c * sizeof *w);
		if (!w)
			return pfm_errf(L->e, "out of memory");
		L->w = w;
		L->cap = c;
	}
	want_t *w = &L->w[L->n];
	if (!(w->name = strdup(name)))
		return pfm_errf(L->e, "out of memory");
	L->n++;
	w->k = k;
	w->off = off;
	w->ndim = ndim;
	w->dims[0] = d0, w->dims[1] = d1, w->dims[2] = d2, w->dims[3] = d3;
	w->seen = 0;
	return 0;
}

static int cmp_want(const void *a, const void *b)
{
	return strcmp(((const want_t *)a)->name, ((const want_t *)b)->name);
}

/* Shapes equal once leading 1s are dropped ([1, 1, D] is [D]). */
static int same_shape(const pfm_st_tensor *t, const want_t *w)
{
	int i = 0, j = 0;
	while (i < t->ndim - 1 && t->shape[i] == 1)
		i++;
	while (j < w->ndim - 1 && w->dims[j] == 1)
		j++;
	if (t->ndim - i != w->ndim - j)
		return 0;
	for (; i < t->ndim; i++, j++)
		if (t->shape[i] != w->dims[j])
			return 0;
	return 1;
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *d)
{
	size_t n = 0;
	n += snprintf(buf + n, cap - n, "[");
	for (int i = 0; i < ndim && n < cap; i++)
		n += snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "",
			      (long long)d[i]);
	if (n < cap)
		snprintf(buf + n, cap - n, "]");
}

/* ---- inference of the shapes ---- */

static int detect_scheme(const pfm_st *st)
{
	if (pfm_st_find(st, "trunk.patch_embed.proj.weight"))
		return PFM_SCHEME_COCA;
	if (pfm_st_find(st, "embeddings.patch_embeddings.projection.weight"))
		return pfm_st_find(st, "encoder.layer.0.norm1.weight")
			       ? PFM_SCHEME_HF_DINOV2
			       : PFM_SCHEME_HF_VIT;
	/* DINOv2's own names differ from timm's only in these */
	if (pfm_st_find(st, "register_tokens") ||
	    pfm_st_find(st, "mask_token") ||
	    pfm_st_find(st, "blocks.0.mlp.w12.weight") ||
	    pfm_st_find(st, "blocks.0.0.norm1.weight"))
		return PFM_SCHEME_DINOV2;
	return PFM_SCHEME_TIMM;
}

static int isqrt_exact(int64_t n)
{
	if (n <= 0)
		return -1;
	int64_t r = (int64_t)sqrt((double)n);
	while (r * r > n)
		r--;
	while ((r + 1) * (r + 1) <= n)
		r++;
	return r * r == n ? (int)r : -1;
}

#define CONFLICT(bit, field, val, what)                                      \
	do {                                                                  \
		if ((given & (bit)) && c->field != (val))                     \
			return pfm_errf(e, "the configuration says %s %d, "   \
					   "the tensors %d",                  \
					what, (int)c->field, (int)(val));     \
		c->field = (val);                                             \
	} while (0)

static int infer(loader *L, pfm_vit_config *c, unsigned given, int nec,
		 pfm_err *e)
{
	const pfm_st *st = L->st;
	const scheme_t *s = L->s;
	const pfm_st_tensor *t = top(L, s->patch_w);
	if (!t)
		return pfm_errf(e, "no tensor \"%s%s\" (patch embedding): is "
				   "this a %s ViT?",
				s->root, s->patch_w,
				pfm_vit_scheme_name(c->scheme));
	if (t->ndim != 4 || t->shape[1] != 3 || t->shape[2] != t->shape[3])
		return pfm_errf(e, "tensor \"%s\" is not [D, 3, p, p]", t->name);
	CONFLICT(VC_DIM, dim, (int)t->shape[0], "embed_dim");
	CONFLICT(VC_PATCH, patch, (int)t->shape[2], "patch_size");
	int D = c->dim;
	/* layers */
	int depth = 0;
	L->lp = NULL;
	for (;; depth++) {
		char p[48];
		if (depth >= 256 ||
		    layer_prefix(st, s, c->scheme, depth, p, sizeof p))
			break;
		char(*lp)[48] = realloc(L->lp, (depth + 1) * sizeof *lp);
		if (!lp)
			return pfm_errf(e, "out of memory");
		L->lp = lp;
		memcpy(L->lp[depth], p, sizeof p);
	}
	if (!depth)
		return pfm_errf(e, "no transformer blocks (no \"%s%s%s.weight\")",
				s->root, "blocks.0.", s->ln1);
	CONFLICT(VC_DEPTH, depth, depth, "depth");
	/* prefix tokens */
	c->cls = top(L, s->cls) != NULL;
	const pfm_st_tensor *r = top(L, s->reg);
	CONFLICT(VC_REG, reg, r ? (int)(r->count / D) : 0, "reg_tokens");
	/* MLP */
	const char *f1 = s->fc1, *f2 = s->fc2;
	if (!lay(L, 0, f1, ".weight") && lay(L, 0, s->swi1, ".weight"))
		f1 = s->swi1, f2 = s->swi2;
	const pfm_st_tensor *a = lay(L, 0, f1, ".weight");
	const pfm_st_tensor *b = lay(L, 0, f2, ".weight");
	if (!a || !b || a->ndim != 2 || b->ndim != 2)
		return pfm_errf(e, "layer 0 has no MLP weights \"%s%s.weight\" "
				   "and \"%s%s.weight\"",
				L->lp[0], f1, L->lp[0], f2);
	int H = (int)b->shape[1], mlp;
	if (a->shape[0] == H)
		mlp = PFM_MLP_GELU;
	else if (a->shape[0] == 2 * (int64_t)H)
		mlp = PFM_MLP_SWIGLU;
	else
		return pfm_errf(e, "MLP widths %lld and %d fit neither GELU nor "
				   "SwiGLU",
				(long long)a->shape[0], H);
	CONFLICT(VC_MLP, mlp, mlp, "mlp (0 gelu, 1 swiglu)");
	CONFLICT(VC_HIDDEN, hidden, H, "mlp_hidden");
	CONFLICT(VC_LS, layerscale, lay(L, 0, s->ls1, "") != NULL,
		 "layerscale");
	CONFLICT(VC_QKV_BIAS, qkv_bias,
		 (s->qkv ? lay(L, 0, s->qkv, ".bias")
			 : lay(L, 0, s->q, ".bias")) != NULL,
		 "qkv_bias");
	/* position embedding: which prefix tokens it covers */
	const pfm_st_tensor *p = top(L, s->pos);
	if (!p)
		return pfm_errf(e, "no position embedding \"%s%s\"", s->root,
				s->pos);
	int64_t npos = (int64_t)(p->count / D);
	int cand[3], nc = 0;
	if (nec)
		cand[nc++] = 0;
	else if (c->scheme == PFM_SCHEME_TIMM || c->scheme == PFM_SCHEME_COCA)
		cand[nc++] = c->cls + c->reg, cand[nc++] = 0;
	else
		cand[nc++] = c->cls;
	int g = -1;
	for (int i = 0; i < nc && g < 0; i++)
		if ((g = isqrt_exact(npos - cand[i])) > 0)
			c->pos_prefix = cand[i];
	if (g <= 0)
		return pfm_errf(e, "position embedding \"%s\" has %lld tokens: "
				   "not a square grid after the prefix tokens",
				p->name, (long long)npos);
	c->pos_h = c->pos_w = g;
	if (!(given & VC_IMG))
		c->img_size = g * c->patch;
	/* CoCa pooler */
	if (c->scheme == PFM_SCHEME_COCA) {
		const pfm_st_tensor *q =
			pfm_st_find(st, "attn_pool_contrast.query");
		if (!q || q->ndim != 2)
			return pfm_errf(e, "no pooler queries "
					   "\"attn_pool_contrast.query\" [Q, P]");
		c->pooler = 1;
		CONFLICT(VC_POOL_Q, pool_q, (int)q->shape[0], "pooler.n_queries");
		c->pool_dim = (int)q->shape[1];
		const pfm_st_tensor *pj = pfm_st_find(st, "proj_contrast");
		c->pool_proj = pj && pj->ndim == 2 ? (int)pj->shape[1] : 0;
		if (!(given & VC_POOL_HEADS))
			c->pool_heads = 8; /* open_clip's default */
		c->pool_eps = 1e-5f; /* open_clip's LayerNorm: torch's default */
		if (!(given & VC_OUT))
			c->out = PFM_OUT_POOLED;
	}
	return 0;
}

/* ---- the expected tensors ---- */

static int build_wants(loader *L, const pfm_vit *m)
{
	const pfm_vit_config *c = &m->cfg;
	const scheme_t *s = L->s;
	int64_t D = c->dim, H = c->hidden, p = c->patch, P = c->pool_dim;
	int64_t H1 = c->mlp == PFM_MLP_SWIGLU ? 2 * H : H;
	const char *f1 = c->mlp == PFM_MLP_SWIGLU ? s->swi1 : s->fc1;
	const char *f2 = c->mlp == PFM_MLP_SWIGLU ? s->swi2 : s->fc2;
	char n[192];
#define TOP(k, nm, nd, a, b, cc, d)                                           \
	do {                                                                  \
		snprintf(n, sizeof n, "%s%s", s->root, nm);                   \
		if (want(L, k, m->off[k], n, nd, a, b, cc, d))                \
			return -1;                                            \
	} while (0)
	TOP(PFM_VP_PATCH_W, s->patch_w, 4, D, 3, p, p);
	TOP(PFM_VP_PATCH_B, s->patch_b, 1, D, 0, 0, 0);
	if (c->cls)
		TOP(PFM_VP_CLS, s->cls, 1, D, 0, 0, 0);
	if (c->reg)
		TOP(PFM_VP_REG, s->reg, 2, c->reg, D, 0, 0);
	TOP(PFM_VP_POS, s->pos, 2, c->pos_prefix + c->pos_h * c->pos_w, D, 0,
	    0);
	TOP(PFM_VP_NORM_W, s->norm_w, 1, D, 0, 0, 0);
	TOP(PFM_VP_NORM_B, s->norm_b, 1, D, 0, 0, 0);
#undef TOP
	for (int l = 0; l < c->depth; l++) {
#define LAY(k, part, suf, per, at, nd, a, b)                                  \
	do {                                                                  \
		snprintf(n, sizeof n, "%s%s%s", L->lp[l], part, suf);         \
		if (want(L, k, m->off[k] + (size_t)l * (per) + (at), n, nd,   \
			 a, b, 0, 0))                                         \
			return -1;                                            \
	} while (0)
		LAY(PFM_VP_LN1_W, s->ln1, ".weight", D, 0, 1, D, 0);
		LAY(PFM_VP_LN1_B, s->ln1, ".bias", D, 0, 1, D, 0);
		LAY(PFM_VP_LN2_W, s->ln2, ".weight", D, 0, 1, D, 0);
		LAY(PFM_VP_LN2_B, s->ln2, ".bias", D, 0, 1, D, 0);
		if (s->qkv) {
			LAY(PFM_VP_QKV_W, s->qkv, ".weight", 3 * D * D, 0, 2,
			    3 * D, D);
			if (c->qkv_bias)
				LAY(PFM_VP_QKV_B, s->qkv, ".bias", 3 * D, 0, 1,
				    3 * D, 0);
		} else {
			const char *qkv[3] = {s->q, s->k, s->v};
			for (int i = 0; i < 3; i++) {
				LAY(PFM_VP_QKV_W, qkv[i], ".weight", 3 * D * D,
				    i * D * D, 2, D, D);
				if (c->qkv_bias)
					LAY(PFM_VP_QKV_B, qkv[i], ".bias",
					    3 * D, i * D, 1, D, 0);
			}
		}
		LAY(PFM_VP_PROJ_W, s->proj, ".weight", D * D, 0, 2, D, D);
		LAY(PFM_VP_PROJ_B, s->proj, ".bias", D, 0, 1, D, 0);
		if (c->layerscale) {
			LAY(PFM_VP_LS1, s->ls1, "", D, 0, 1, D, 0);
			LAY(PFM_VP_LS2, s->ls2, "", D, 0, 1, D, 0);
		}
		LAY(PFM_VP_FC1_W, f1, ".weight", H1 * D, 0, 2, H1, D);
		LAY(PFM_VP_FC1_B, f1, ".bias", H1, 0, 1, H1, 0);
		LAY(PFM_VP_FC2_W, f2, ".weight", D * H, 0, 2, D, H);
		LAY(PFM_VP_FC2_B, f2, ".bias", D, 0, 1, D, 0);
#undef LAY
	}
	if (!c->pooler)
		return 0;
#define POOL(k, nm, at, nd, a, b)                                             \
	do {                                                                  \
		if (want(L, k, m->off[k] + (at), nm, nd, a, b, 0, 0))         \
			return -1;                                            \
	} while (0)
	POOL(PFM_VP_PQ, "attn_pool_contrast.query", 0, 2, c->pool_q, P);
	POOL(PFM_VP_PLNQ_W, "attn_pool_contrast.ln_q.weight", 0, 1, P, 0);
	POOL(PFM_VP_PLNQ_B, "attn_pool_contrast.ln_q.bias", 0, 1, P, 0);
	POOL(PFM_VP_PLNK_W, "attn_pool_contrast.ln_k.weight", 0, 1, D, 0);
	POOL(PFM_VP_PLNK_B, "attn_pool_contrast.ln_k.bias", 0, 1, D, 0);
	/* nn.MultiheadAttention packs q, k, v when kdim == d_model; our
	 * PWQ, PWK, PWV are consecutive, so the packed tensor is one read. */
	if (pfm_st_find(L->st, "attn_pool_contrast.attn.in_proj_weight") &&
	    D == P) {
		POOL(PFM_VP_PWQ, "attn_pool_contrast.attn.in_proj_weight", 0, 2,
		     3 * P, P);
	} else {
		POOL(PFM_VP_PWQ, "attn_pool_contrast.attn.q_proj_weight", 0, 2,
		     P, P);
		POOL(PFM_VP_PWK, "attn_pool_contrast.attn.k_proj_weight", 0, 2,
		     P, D);
		POOL(PFM_VP_PWV, "attn_pool_contrast.attn.v_proj_weight", 0, 2,
		     P, D);
	}
	POOL(PFM_VP_PBQKV, "attn_pool_contrast.attn.in_proj_bias", 0, 1, 3 * P,
	     0);
	POOL(PFM_VP_PWO, "attn_pool_contrast.attn.out_proj.weight", 0, 2, P, P);
	POOL(PFM_VP_PBO, "attn_pool_contrast.attn.out_proj.bias", 0, 1, P, 0);
	POOL(PFM_VP_PLN_W, "ln_contrast.weight", 0, 1, P, 0);
	POOL(PFM_VP_PLN_B, "ln_contrast.bias", 0, 1, P, 0);
	if (c->pool_proj)
		POOL(PFM_VP_PPROJ, "proj_contrast", 0, 2, P, c->pool_proj);
#undef POOL
	return 0;
}

static int is_ignored(const char *name)
{
	for (int i = 0; ignored[i]; i++)
		if (!strcmp(name, ignored[i]))
			return 1;
	return 0;
}

static int read_all(loader *L, pfm_vit *m, pfm_err *e)
{
	qsort(L->w, L->n, sizeof *L->w, cmp_want);
	for (size_t i = 1; i < L->n; i++)
		if (!strcmp(L->w[i].name, L->w[i - 1].name))
			return pfm_errf(e, "tensor \"%s\" wanted twice",
					L->w[i].name);
	size_t nt = pfm_st_count(L->st);
	for (size_t i = 0; i < nt; i++) {
		const pfm_st_tensor *t = pfm_st_at(L->st, i);
		want_t key = {.name = (char *)t->name};
		want_t *w = bsearch(&key, L->w, L->n, sizeof *L->w, cmp_want);
		if (!w) {
			if (is_ignored(t->name))
				continue;
			return pfm_errf(e, "unexpected tensor \"%s\" (not part "
					   "of a %s ViT of this shape)",
					t->name,
					pfm_vit_scheme_name(m->cfg.scheme));
		}
		if (!same_shape(t, w)) {
			char got[96], exp[96];
			shape_str(got, sizeof got, t->ndim, t->shape);
			shape_str(exp, sizeof exp, w->ndim, w->dims);
			return pfm_errf(e, "tensor \"%s\" has shape %s, the "
					   "model needs %s",
					t->name, got, exp);
		}
		float *dst = m->params + w->off;
		if (pfm_st_read_f32(t, dst, e))
			return pfm_err_prefix(e, "tensor \"%s\"", t->name);
		/* a NaN or inf weight would only show as NaN embeddings */
		for (size_t j = 0; j < t->count; j++)
			if (!isfinite(dst[j]))
				return pfm_errf(e, "tensor \"%s\" holds %s at "
						   "element %zu",
						t->name,
						isnan(dst[j]) ? "NaN" : "inf", j);
		w->seen = 1;
	}
	for (size_t i = 0; i < L->n; i++)
		if (!L->w[i].seen)
			return pfm_errf(e, "missing tensor \"%s\"",
					L->w[i].name);
	return 0;
}

/* The configuration text: metadata, else a sidecar .json. *buf is
 * malloc'd when it came from a file. NULL text when there is none. */
static int config_text(const pfm_st *st, const char *path, const char **txt,
		       char **buf, pfm_err *e)
{
	*buf = NULL;
	*txt = pfm_st_meta(st, "pathfm");
	if (*txt)
		return 0;
	char side[4096];
	size_t n = strlen(path);
	const char *ext = ".safetensors";
	size_t el = strlen(ext);
	if (n > el && !strcmp(path + n - el, ext))
		n -= el;
	if (n + 6 > sizeof side)
		return 0;
	memcpy(side, path, n);
	strcpy(side + n, ".json");
	FILE *f = fopen(side, "rb");
	if (!f)
		return 0;
	char *b = malloc(1 << 20);
	size_t got = b ? fread(b, 1, (1 << 20) - 1, f) : 0;
	int bad = !b || ferror(f) || !feof(f);
	fclose(f);
	if (bad) {
		free(b);
		return pfm_errf(e, "%s: cannot read (or over 1 MB)", side);
	}
	b[got] = 0;
	*txt = *buf = b;
	return 0;
}

static void defaults(pfm_vit_config *c)
{
	static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
	static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};
	memset(c, 0, sizeof *c);
	c->out = PFM_OUT_CLS;
	c->interp = PFM_INTERP_BICUBIC;
	memcpy(c->mean, imagenet_mean, sizeof c->mean);
	memcpy(c->std, imagenet_std, sizeof c->std);
}

int pfm_vit_from_st(pfm_vit *m, const pfm_st *st, const char *txt,
		    const char *label, pfm_err *e)
{
	loader L = {0};
	pfm_vit_config c;
	unsigned given = 0;
	int nec = 0, rc = -1;
	memset(m, 0, sizeof *m);
	defaults(&c);
	if (!txt)
		txt = pfm_st_meta(st, "pathfm");
	if (!txt)
		return pfm_errf(e, "%s: no configuration (no __metadata__ "
				   "\"pathfm\" and no sidecar .json): convert "
				   "it with convert-weights",
				label);
	if (pfm_vit_config_json(&c, &given, &nec, txt, strlen(txt), e))
		return pfm_err_prefix(e, "%s: configuration", label);
	if (!(given & VC_SCHEME))
		c.scheme = detect_scheme(st);
	if (!(given & VC_HEADS))
		return pfm_errf(e, "%s: the configuration lacks \"num_heads\"",
				label);
	if (!(given & VC_EPS))
		c.eps = c.scheme == PFM_SCHEME_HF_VIT ? 1e-12f : 1e-6f;
	if (!(given & VC_POS_INTERP))
		c.pos_interp = c.scheme == PFM_SCHEME_DINOV2 ? PFM_POS_DINOV2
			       : c.scheme == PFM_SCHEME_HF_VIT ||
					 c.scheme == PFM_SCHEME_HF_DINOV2
				       ? PFM_POS_HF
				       : PFM_POS_TIMM;
	L.st = st;
	L.s = &schemes[c.scheme];
	L.e = e;
	if (infer(&L, &c, given, nec, e))
		goto fail;
	if (!(given & VC_CROP))
		c.crop = c.img_size;
	if (!(given & VC_RESIZE))
		c.resize = c.crop;
	if (!(given & VC_NAME)) {
		const char *b = strrchr(label, '/');
		b = b ? b + 1 : label;
		snprintf(c.name, sizeof c.name, "%.*s",
			 (int)strcspn(b, "."), b);
	}
	if (pfm_vit_alloc(m, &c, e) || build_wants(&L, m) || read_all(&L, m, e))
		goto fail;
	snprintf(m->source, sizeof m->source, "%s", label);
	rc = 0;
	goto out;
fail:
	pfm_err_prefix(e, "%s", label);
	pfm_vit_free(m);
out:
	for (size_t i = 0; i < L.n; i++)
		free(L.w[i].name);
	free(L.w);
	free(L.lp);
	return rc;
}

int pfm_vit_load(pfm_vit *m, const char *path, pfm_err *e)
{
	pfm_st *st = NULL;
	char *buf = NULL;
	const char *txt;
	memset(m, 0, sizeof *m);
	if (pfm_st_open(&st, path, e))
		return -1;
	int rc = config_text(st, path, &txt, &buf, e);
	if (!rc)
		rc = pfm_vit_from_st(m, st, txt, path, e);
	free(buf);
	pfm_st_close(st);
	return rc;
}
