/* vit_model.c: the parameter layout of a ViT and its configuration's
 * invariants. */
#include <stdlib.h>
#include <string.h>

#include "vit.h"

static const char *const out_names[PFM_NOUT] = {"cls", "mean", "cls+mean",
						 "pooled", "projected"};
static const char *const scheme_names[PFM_NSCHEMES] = {
	"timm", "hf-vit", "hf-dinov2", "dinov2", "open_clip-coca"};

const char *pfm_vit_out_name(int out)
{
	return out >= 0 && out < PFM_NOUT ? out_names[out] : "?";
}

int pfm_vit_out_parse(const char *s, int *out)
{
	for (int i = 0; i < PFM_NOUT; i++)
		if (!strcmp(s, out_names[i])) {
			*out = i;
			return 0;
		}
	return -1;
}

const char *pfm_vit_scheme_name(int scheme)
{
	return scheme >= 0 && scheme < PFM_NSCHEMES ? scheme_names[scheme]
						    : "?";
}

int pfm_vit_scheme_parse(const char *s, int *scheme)
{
	for (int i = 0; i < PFM_NSCHEMES; i++)
		if (!strcmp(s, scheme_names[i])) {
			*scheme = i;
			return 0;
		}
	return -1;
}

int pfm_vit_out_dim(const pfm_vit_config *c, int out)
{
	switch (out) {
	case PFM_OUT_CLS:
		return c->cls ? c->dim : 0;
	case PFM_OUT_MEAN:
		return c->dim;
	case PFM_OUT_CLS_MEAN:
		return c->cls ? 2 * c->dim : 0;
	case PFM_OUT_POOLED:
		return c->pooler ? c->pool_dim : 0;
	case PFM_OUT_PROJ:
		return c->pooler ? c->pool_proj : 0;
	}
	return 0;
}

/* Limits that keep every size product far inside size_t and int. */
#define MAX_DIM 16384
#define MAX_DEPTH 256
#define MAX_HIDDEN 65536
#define MAX_GRID 1024

int pfm_vit_config_check(const pfm_vit_config *c, pfm_err *e)
{
	if (c->dim <= 0 || c->dim > MAX_DIM)
		return pfm_errf(e, "embedding width %d out of range", c->dim);
	if (c->depth <= 0 || c->depth > MAX_DEPTH)
		return pfm_errf(e, "depth %d out of range", c->depth);
	if (c->heads <= 0 || c->dim % c->heads)
		return pfm_errf(e, "%d heads do not divide width %d", c->heads,
				c->dim);
	if (c->patch <= 0 || c->patch > 64)
		return pfm_errf(e, "patch size %d out of range", c->patch);
	if (c->hidden <= 0 || c->hidden > MAX_HIDDEN)
		return pfm_errf(e, "MLP width %d out of range", c->hidden);
	if (c->reg < 0 || c->reg > 64 || c->cls < 0 || c->cls > 1)
		return pfm_errf(e, "bad prefix tokens (cls %d, registers %d)",
				c->cls, c->reg);
	if (c->pos_prefix < 0 || c->pos_prefix > c->cls + c->reg)
		return pfm_errf(e, "position embedding covers %d prefix "
				   "tokens, the model has %d",
				c->pos_prefix, c->cls + c->reg);
	if (c->pos_h <= 0 || c->pos_w <= 0 || c->pos_h > MAX_GRID ||
	    c->pos_w > MAX_GRID)
		return pfm_errf(e, "position grid %dx%d out of range",
				c->pos_h, c->pos_w);
	if (!(c->eps > 0 && c->eps < 1))
		return pfm_errf(e, "LayerNorm eps %g out of range",
				(double)c->eps);
	if (c->pooler) {
		if (c->pool_q <= 0 || c->pool_q > 1024 || c->pool_dim <= 0 ||
		    c->pool_dim > MAX_DIM || c->pool_heads <= 0 ||
		    c->pool_dim % c->pool_heads || c->pool_proj < 0 ||
		    c->pool_proj > MAX_DIM)
			return pfm_errf(e, "bad attentional pooler (queries "
					   "%d, width %d, heads %d)",
					c->pool_q, c->pool_dim, c->pool_heads);
	}
	if (c->out < 0 || c->out >= PFM_NOUT || !pfm_vit_out_dim(c, c->out))
		return pfm_errf(e, "the model cannot produce output \"%s\"",
				pfm_vit_out_name(c->out));
	for (int i = 0; i < 3; i++)
		if (!(c->std[i] > 0))
			return pfm_errf(e, "std[%d] = %g must be positive", i,
					(double)c->std[i]);
	if (c->crop <= 0 || c->crop > 8192 || c->resize < 0 ||
	    c->resize > 8192)
		return pfm_errf(e, "bad input size (resize %d, crop %d)",
				c->resize, c->crop);
	return 0;
}

int pfm_vit_alloc(pfm_vit *m, const pfm_vit_config *c, pfm_err *e)
{
	memset(m, 0, sizeof *m);
	if (pfm_vit_config_check(c, e))
		return -1;
	m->cfg = *c;
	size_t D = c->dim, L = c->depth, H = c->hidden, p = c->patch;
	size_t H1 = c->mlp == PFM_MLP_SWIGLU ? 2 * H : H;
	size_t P = c->pooler ? c->pool_dim : 0;
	size_t *s = m->size;
	s[PFM_VP_PATCH_W] = D * 3 * p * p;
	s[PFM_VP_PATCH_B] = D;
	s[PFM_VP_CLS] = c->cls ? D : 0;
	s[PFM_VP_REG] = (size_t)c->reg * D;
	s[PFM_VP_POS] = ((size_t)c->pos_prefix + (size_t)c->pos_h * c->pos_w) * D;
	s[PFM_VP_LN1_W] = s[PFM_VP_LN1_B] = L * D;
	s[PFM_VP_QKV_W] = L * 3 * D * D;
	s[PFM_VP_QKV_B] = c->qkv_bias ? L * 3 * D : 0;
	s[PFM_VP_PROJ_W] = L * D * D;
	s[PFM_VP_PROJ_B] = L * D;
	s[PFM_VP_LS1] = s[PFM_VP_LS2] = c->layerscale ? L * D : 0;
	s[PFM_VP_LN2_W] = s[PFM_VP_LN2_B] = L * D;
	s[PFM_VP_FC1_W] = L * H1 * D;
	s[PFM_VP_FC1_B] = L * H1;
	s[PFM_VP_FC2_W] = L * D * H;
	s[PFM_VP_FC2_B] = L * D;
	s[PFM_VP_NORM_W] = s[PFM_VP_NORM_B] = D;
	if (c->pooler) {
		s[PFM_VP_PQ] = (size_t)c->pool_q * P;
		s[PFM_VP_PLNQ_W] = s[PFM_VP_PLNQ_B] = P;
		s[PFM_VP_PLNK_W] = s[PFM_VP_PLNK_B] = D;
		s[PFM_VP_PWQ] = P * P;
		s[PFM_VP_PWK] = s[PFM_VP_PWV] = P * D;
		s[PFM_VP_PBQKV] = 3 * P;
		s[PFM_VP_PWO] = P * P;
		s[PFM_VP_PBO] = P;
		s[PFM_VP_PLN_W] = s[PFM_VP_PLN_B] = P;
		s[PFM_VP_PPROJ] = P * (size_t)c->pool_proj;
	}
	size_t n = 0;
	for (int k = 0; k < PFM_NVP; k++) {
		m->off[k] = n;
		n += s[k];
	}
	m->nparams = n;
	m->params = calloc(n, sizeof(float));
	if (!m->params)
		return pfm_errf(e, "out of memory for %zu parameters", n);
	return 0;
}

void pfm_vit_free(pfm_vit *m)
{
	free(m->params);
	m->params = NULL;
}
