/* distill_ckpt.c: checkpoints and the teacher's export (distill_ckpt.h). */
#include "distill_ckpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	pfm_st_tensor *t;
	char (*names)[128];
	size_t n, cap;
} tlist;

static int push(tlist *l, const char *name, const float *data, int ndim,
		const int64_t *dims)
{
	if (l->n == l->cap) {
		size_t c = l->cap ? 2 * l->cap : 512;
		pfm_st_tensor *t = realloc(l->t, c * sizeof *t);
		if (!t)
			return -1;
		l->t = t;
		char(*nm)[128] = realloc(l->names, c * sizeof *nm);
		if (!nm)
			return -1;
		l->names = nm;
		l->cap = c;
	}
	pfm_st_tensor *t = &l->t[l->n];
	memset(t, 0, sizeof *t);
	snprintf(l->names[l->n], sizeof l->names[l->n], "%s", name);
	t->dtype = PFM_F32;
	t->ndim = ndim;
	t->count = 1;
	for (int i = 0; i < ndim; i++) {
		t->shape[i] = dims[i];
		t->count *= (size_t)dims[i];
	}
	t->data = data;
	t->nbytes = t->count * sizeof(float);
	l->n++;
	return 0;
}

static void fix_names(tlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		l->t[i].name = l->names[i];
}

static int push_all(tlist *l, const pfm_distill *d, const char *prefix,
		    const float *buf, int ema_only)
{
	char n[160];
	for (int i = 0; i < d->ntensors; i++) {
		const pfm_distill_tensor *t = &d->tensors[i];
		if (ema_only && t->module >= 2)
			continue;
		snprintf(n, sizeof n, "%s%s", prefix, t->name);
		if (push(l, n, buf + t->off, t->ndim, t->dims))
			return -1;
	}
	return 0;
}

int pfm_distill_save(const pfm_distill *d, const char *path,
		     const char *meta, pfm_err *e)
{
	tlist l = {0};
	int64_t K = d->o.prototypes;
	int64_t c1[2] = {1, K}, c2[3] = {1, 1, K};
	int rc = -1;
	if (push_all(&l, d, "student.", d->S, 0) ||
	    push_all(&l, d, "teacher.", d->T, 1) ||
	    push_all(&l, d, "adam_m.", d->M1, 0) ||
	    push_all(&l, d, "adam_v.", d->M2, 0) ||
	    push(&l, "dino_center", d->dino_center, 2, c1) ||
	    push(&l, "ibot_center", d->ibot_center, 3, c2)) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	fix_names(&l);
	const char *kv[2] = {"pathfm_distill", meta};
	rc = pfm_st_save(path, l.t, l.n, kv, meta ? 1 : 0, e);
out:
	free(l.t);
	free(l.names);
	return rc;
}

/* Shapes equal once leading 1s are dropped. */
static int same_shape(const pfm_st_tensor *t, int ndim, const int64_t *d)
{
	int i = 0, j = 0;
	while (i < t->ndim - 1 && t->shape[i] == 1)
		i++;
	while (j < ndim - 1 && d[j] == 1)
		j++;
	if (t->ndim - i != ndim - j)
		return 0;
	for (; i < t->ndim; i++, j++)
		if (t->shape[i] != d[j])
			return 0;
	return 1;
}

static int read_one(const pfm_st *st, const char *name, float *dst, int ndim,
		    const int64_t *dims, pfm_err *e)
{
	const pfm_st_tensor *t = pfm_st_find(st, name);
	if (!t)
		return pfm_errf(e, "%s: no tensor \"%s\"", pfm_st_label(st), name);
	if (!same_shape(t, ndim, dims)) {
		char want[80];
		int n = 0;
		for (int i = 0; i < ndim; i++)
			n += snprintf(want + n, sizeof want - n, "%s%lld",
				      i ? ", " : "", (long long)dims[i]);
		return pfm_errf(e, "%s: tensor \"%s\" does not have the shape "
				   "[%s] this run needs",
				pfm_st_label(st), name, want);
	}
	if (pfm_st_read_f32(t, dst, e))
		return pfm_err_prefix(e, "%s: tensor \"%s\"", pfm_st_label(st),
				      name);
	return 0;
}

int pfm_distill_read(const pfm_distill *d, const pfm_st *st,
		     const char *prefix, float *buf, int ema_only, pfm_err *e)
{
	char n[160];
	for (int i = 0; i < d->ntensors; i++) {
		const pfm_distill_tensor *t = &d->tensors[i];
		if (ema_only && t->module >= 2)
			continue;
		snprintf(n, sizeof n, "%s%s", prefix, t->name);
		if (read_one(st, n, buf + t->off, t->ndim, t->dims, e))
			return -1;
	}
	return 0;
}

int pfm_distill_restore(pfm_distill *d, const pfm_st *st, pfm_err *e)
{
	int64_t K = d->o.prototypes, c1[2] = {1, K};
	return pfm_distill_read(d, st, "student.", d->S, 0, e) ||
			       pfm_distill_read(d, st, "teacher.", d->T, 1, e) ||
			       pfm_distill_read(d, st, "adam_m.", d->M1, 0, e) ||
			       pfm_distill_read(d, st, "adam_v.", d->M2, 0, e) ||
			       read_one(st, "dino_center", d->dino_center, 2, c1,
					e) ||
			       read_one(st, "ibot_center", d->ibot_center, 2, c1,
					e)
		       ? -1
		       : 0;
}

/* timm's packed SwiGLU mlp.fc1 / mlp.fc2 are DINOv2's mlp.w12 / mlp.w3 */
static void swiglu_name(char *n, size_t cap)
{
	static const char *const from[2] = {"mlp.fc1.", "mlp.fc2."};
	static const char *const to[2] = {"mlp.w12.", "mlp.w3."};
	for (int i = 0; i < 2; i++) {
		char *p = strstr(n, from[i]);
		if (!p)
			continue;
		char tail[160];
		snprintf(tail, sizeof tail, "%s", p + strlen(from[i]));
		snprintf(p, cap - (size_t)(p - n), "%s%s", to[i], tail);
	}
}

int pfm_distill_export_teacher(const pfm_distill *d, const char *path,
			       const char *name, pfm_err *e)
{
	const pfm_vit_config *c = &d->m.cfg;
	/* timm cannot say "the position embedding covers the class token
	 * but not the registers": DINOv2's names can */
	int dino = c->reg > 0 && c->pos_prefix == c->cls;
	tlist l = {0};
	char n[160];
	int rc = -1;
	for (int i = 0; i < d->ntensors; i++) {
		const pfm_distill_tensor *t = &d->tensors[i];
		if (t->module != 0 || !strcmp(t->name, "mask_token"))
			continue;
		const char *nm = t->name;
		if (dino && !strcmp(nm, "reg_token"))
			nm = "register_tokens";
		snprintf(n, sizeof n, "%s", nm);
		if (dino && c->mlp == PFM_MLP_SWIGLU)
			swiglu_name(n, sizeof n);
		if (push(&l, n, d->T + t->off, t->ndim, t->dims)) {
			pfm_errf(e, "out of memory");
			goto out;
		}
	}
	fix_names(&l);
	const char *pi = c->pos_interp == PFM_POS_DINOV2 ? "dinov2"
			 : c->pos_interp == PFM_POS_HF	  ? "hf"
							  : "timm";
	char cfg[1024];
	snprintf(cfg, sizeof cfg,
		 "{\"name\": \"%s\", \"scheme\": \"%s\", \"num_heads\": %d, "
		 "\"ln_eps\": %.9g, \"pos_interp\": \"%s\", \"img_size\": %d, "
		 "\"no_embed_class\": %s, \"resize\": %d, \"crop\": %d, "
		 "\"mean\": [%.9g, %.9g, %.9g], \"std\": [%.9g, %.9g, %.9g], "
		 "\"source\": \"distill-step teacher, step %lld\"}",
		 name, dino ? "dinov2" : "timm", c->heads, (double)c->eps, pi,
		 c->pos_h * c->patch, c->pos_prefix == 0 ? "true" : "false",
		 d->o.global_size, d->o.global_size, (double)c->mean[0],
		 (double)c->mean[1], (double)c->mean[2], (double)c->std[0],
		 (double)c->std[1], (double)c->std[2], (long long)d->step);
	const char *kv[2] = {"pathfm", cfg};
	rc = pfm_st_save(path, l.t, l.n, kv, 1, e);
out:
	free(l.t);
	free(l.names);
	return rc;
}
