/* distill_head.c: DINOHead forward and backward (distill_head.h). */
#include "distill_head.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "par.h"
#include "vit_grad.h"
#include "vit_kernels.h"

#define NORM_EPS 1e-12f /* F.normalize's eps in DINOHead (fp32) */

struct pfm_head_ws {
	int nt;              /* threads */
	int cap;             /* rows allocated */
	int R;
	const float *x;      /* input of the last forward */
	float *h[PFM_HEAD_MAXL]; /* pre-activations of the hidden layers */
	float *a[PFM_HEAD_MAXL]; /* their GELU (inputs of the next layer) */
	float *hb;           /* [R, bn] bottleneck before normalisation */
	float *nrm;          /* [R] its norms */
	float *z;            /* [R, bn] normalised */
	float *W;            /* [out, bn] effective last-layer weight */
	float *vn;           /* [out] ||v|| */
	float *dW;           /* [out, bn] */
	float *dz, *da, *db; /* [R, max(hid, bn)] scratch */
};

int pfm_head_layout(pfm_head *h, int in, int out, int hidden, int bottleneck,
		    int nlayers, pfm_err *e)
{
	memset(h, 0, sizeof *h);
	if (in <= 0 || out <= 0 || bottleneck <= 0 || nlayers < 1 ||
	    nlayers > PFM_HEAD_MAXL || (nlayers > 1 && hidden <= 0) ||
	    in > 65536 || out > (1 << 22) || hidden > 65536 ||
	    bottleneck > 65536)
		return pfm_errf(e, "bad head (in %d, out %d, hidden %d, "
				   "bottleneck %d, layers %d)",
				in, out, hidden, bottleneck, nlayers);
	h->in = in, h->out = out, h->hidden = nlayers > 1 ? hidden : 0;
	h->bottleneck = bottleneck, h->nlayers = nlayers;
	size_t n = 0;
	int k = 0;
	for (int l = 0; l < nlayers; l++) {
		int fi = l ? hidden : in;
		int fo = l == nlayers - 1 ? bottleneck : hidden;
		const char *pre = "mlp";
		if (nlayers == 1)
			snprintf(h->names[k], sizeof h->names[k], "%s.weight", pre);
		else
			snprintf(h->names[k], sizeof h->names[k], "%s.%d.weight",
				 pre, 2 * l);
		h->ndim[k] = 2, h->dims[k][0] = fo, h->dims[k][1] = fi;
		h->off[k] = n, h->size[k] = (size_t)fo * fi, n += h->size[k++];
		if (nlayers == 1)
			snprintf(h->names[k], sizeof h->names[k], "%s.bias", pre);
		else
			snprintf(h->names[k], sizeof h->names[k], "%s.%d.bias",
				 pre, 2 * l);
		h->ndim[k] = 1, h->dims[k][0] = fo;
		h->off[k] = n, h->size[k] = fo, n += h->size[k++];
	}
	snprintf(h->names[k], sizeof h->names[k], "last_layer.weight_g");
	h->ndim[k] = 2, h->dims[k][0] = out, h->dims[k][1] = 1;
	h->off[k] = n, h->size[k] = out, n += h->size[k++];
	snprintf(h->names[k], sizeof h->names[k], "last_layer.weight_v");
	h->ndim[k] = 2, h->dims[k][0] = out, h->dims[k][1] = bottleneck;
	h->off[k] = n, h->size[k] = (size_t)out * bottleneck, n += h->size[k++];
	h->nt = k;
	h->n = n;
	return 0;
}

void pfm_head_init(const pfm_head *h, float *p, pfm_rng *r)
{
	for (int l = 0; l < h->nlayers; l++) {
		float *w = p + h->off[2 * l];
		for (size_t i = 0; i < h->size[2 * l]; i++) {
			double v;
			do /* trunc_normal_(std=.02, a=-2, b=2) */
				v = 0.02 * pfm_rng_normal(r);
			while (v < -2 || v > 2);
			w[i] = (float)v;
		}
		memset(p + h->off[2 * l + 1], 0, h->size[2 * l + 1] * sizeof(float));
	}
	int kg = 2 * h->nlayers;
	for (int i = 0; i < h->out; i++)
		p[h->off[kg] + i] = 1.f;
	double bound = 1.0 / sqrt((double)h->bottleneck);
	float *v = p + h->off[kg + 1];
	for (size_t i = 0; i < h->size[kg + 1]; i++)
		v[i] = (float)(bound * (2 * pfm_rng_uniform(r) - 1));
}

pfm_head_ws *pfm_head_ws_new(const pfm_head *h, int threads)
{
	pfm_head_ws *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->nt = threads < 1 ? 1 : threads;
	size_t kb = (size_t)h->out * h->bottleneck;
	w->W = malloc(kb * sizeof(float));
	w->dW = malloc(kb * sizeof(float));
	w->vn = malloc((size_t)h->out * sizeof(float));
	if (!w->W || !w->dW || !w->vn) {
		pfm_head_ws_free(w);
		return NULL;
	}
	return w;
}

void pfm_head_ws_free(pfm_head_ws *w)
{
	if (!w)
		return;
	for (int l = 0; l < PFM_HEAD_MAXL; l++)
		free(w->h[l]), free(w->a[l]);
	free(w->hb), free(w->nrm), free(w->z), free(w->W), free(w->vn);
	free(w->dW), free(w->dz), free(w->da), free(w->db);
	free(w);
}

static int reserve(const pfm_head *h, pfm_head_ws *w, int R, pfm_err *e)
{
	if (R <= w->cap)
		return 0;
	int cap = R + R / 4 + 16;
	size_t wide = (size_t)(h->hidden > h->bottleneck ? h->hidden
							 : h->bottleneck);
	wide = wide > (size_t)h->in ? wide : (size_t)h->in;
	for (int l = 0; l < h->nlayers - 1; l++) {
		free(w->h[l]), free(w->a[l]);
		w->h[l] = malloc((size_t)cap * h->hidden * sizeof(float));
		w->a[l] = malloc((size_t)cap * h->hidden * sizeof(float));
		if (!w->h[l] || !w->a[l])
			goto oom;
	}
	free(w->hb), free(w->nrm), free(w->z), free(w->dz), free(w->da);
	free(w->db);
	w->hb = malloc((size_t)cap * h->bottleneck * sizeof(float));
	w->nrm = malloc((size_t)cap * sizeof(float));
	w->z = malloc((size_t)cap * h->bottleneck * sizeof(float));
	w->dz = malloc((size_t)cap * wide * sizeof(float));
	w->da = malloc((size_t)cap * wide * sizeof(float));
	w->db = malloc((size_t)cap * wide * sizeof(float));
	if (!w->hb || !w->nrm || !w->z || !w->dz || !w->da || !w->db)
		goto oom;
	w->cap = cap;
	return 0;
oom:
	w->cap = 0;
	return pfm_errf(e, "out of memory for a head over %d rows", R);
}

/* the work of one call, shared with the thread ranges */
typedef struct {
	const pfm_head *h;
	pfm_head_ws *w;
	const float *p, *dl;
	float *gp;
	int n;     /* columns of the elementwise pass */
	float *buf;
	const float *src;
} job;

static void gelu_rows(void *c, int lo, int hi)
{
	job *j = c;
	pfm_bias_gelu(j->buf + (size_t)lo * j->n, NULL, (size_t)(hi - lo), j->n);
}

static void norm_rows(void *c, int lo, int hi)
{
	job *j = c;
	int bn = j->h->bottleneck;
	for (int r = lo; r < hi; r++) {
		const float *v = j->w->hb + (size_t)r * bn;
		float s = 0;
		for (int i = 0; i < bn; i++)
			s += v[i] * v[i];
		float n = sqrtf(s);
		j->w->nrm[r] = n;
		float d = n > NORM_EPS ? n : NORM_EPS;
		for (int i = 0; i < bn; i++)
			j->w->z[(size_t)r * bn + i] = v[i] / d;
	}
}

static void weight_rows(void *c, int lo, int hi)
{
	job *j = c;
	int bn = j->h->bottleneck, nl = j->h->nlayers;
	const float *g = j->p + j->h->off[2 * nl], *v = j->p + j->h->off[2 * nl + 1];
	for (int k = lo; k < hi; k++) {
		const float *vk = v + (size_t)k * bn;
		float s = 0;
		for (int i = 0; i < bn; i++)
			s += vk[i] * vk[i];
		float n = sqrtf(s);
		j->w->vn[k] = n;
		for (int i = 0; i < bn; i++)
			j->w->W[(size_t)k * bn + i] = g[k] * (vk[i] / n);
	}
}

int pfm_head_forward(const pfm_head *h, pfm_head_ws *w, const float *p,
		     const float *x, int R, float *logits, pfm_err *e)
{
	if (reserve(h, w, R, e))
		return -1;
	w->R = R;
	w->x = x;
	const float *in = x;
	int nl = h->nlayers, bn = h->bottleneck, nt = w->nt;
	job j = {.h = h, .w = w, .p = p};
	for (int l = 0; l < nl; l++) {
		int fi = l ? h->hidden : h->in;
		int fo = l == nl - 1 ? bn : h->hidden;
		float *o = l == nl - 1 ? w->hb : w->h[l];
		if (R)
			pfm_par_linear(nt, o, in, p + h->off[2 * l],
				       p + h->off[2 * l + 1], R, fi, fo);
		if (l < nl - 1) {
			memcpy(w->a[l], o, (size_t)R * fo * sizeof(float));
			j.buf = w->a[l], j.n = fo;
			pfm_par_for(nt, R, gelu_rows, &j);
			in = w->a[l];
		}
	}
	pfm_par_for(nt, R, norm_rows, &j);
	pfm_par_for(nt, h->out, weight_rows, &j);
	if (R)
		pfm_par_linear(nt, logits, w->z, w->W, NULL, R, bn, h->out);
	return 0;
}

const float *pfm_head_bottleneck(const pfm_head_ws *w)
{
	return w->z;
}

static void wn_rows(void *c, int lo, int hi)
{
	job *j = c;
	int bn = j->h->bottleneck, nl = j->h->nlayers;
	const float *g = j->p + j->h->off[2 * nl], *v = j->p + j->h->off[2 * nl + 1];
	float *dg = j->gp + j->h->off[2 * nl], *dv = j->gp + j->h->off[2 * nl + 1];
	for (int k = lo; k < hi; k++) {
		const float *vk = v + (size_t)k * bn, *dw = j->w->dW + (size_t)k * bn;
		float n = j->w->vn[k], s = 0;
		for (int i = 0; i < bn; i++)
			s += dw[i] * vk[i];
		float dgk = s / n; /* dW . v_hat */
		dg[k] += dgk;
		float cc = g[k] / n;
		float *dvk = dv + (size_t)k * bn;
		for (int i = 0; i < bn; i++)
			dvk[i] += cc * (dw[i] - dgk * vk[i] / n);
	}
}

/* dh = (dz - z (z . dz)) / n, or dz / eps */
static void unnorm_rows(void *c, int lo, int hi)
{
	job *j = c;
	int bn = j->h->bottleneck;
	for (int r = lo; r < hi; r++) {
		const float *zr = j->w->z + (size_t)r * bn;
		const float *dzr = j->w->dz + (size_t)r * bn;
		float *o = j->buf + (size_t)r * bn, n = j->w->nrm[r];
		if (n > NORM_EPS) {
			float s = 0;
			for (int i = 0; i < bn; i++)
				s += zr[i] * dzr[i];
			for (int i = 0; i < bn; i++)
				o[i] = (dzr[i] - zr[i] * s) / n;
		} else {
			for (int i = 0; i < bn; i++)
				o[i] = dzr[i] / NORM_EPS;
		}
	}
}

static void gelu_bwd_rows(void *c, int lo, int hi)
{
	job *j = c;
	size_t o = (size_t)lo * j->n, n = (size_t)(hi - lo) * j->n;
	pfm_gelu_bwd(j->buf + o, j->src + o, j->dl + o, n);
}

int pfm_head_backward(const pfm_head *h, pfm_head_ws *w, const float *p,
		      const float *dlogits, float *dx, float *gp, pfm_err *e)
{
	(void)e;
	int R = w->R, nl = h->nlayers, bn = h->bottleneck, K = h->out;
	int nt = w->nt;
	if (!R)
		return 0;
	job j = {.h = h, .w = w, .p = p, .gp = gp};
	/* last layer: dW = dlogits^T z, dz = dlogits W */
	memset(w->dW, 0, (size_t)K * bn * sizeof(float));
	pfm_par_linear_bwd(nt, w->dz, w->dW, NULL, dlogits, w->z, w->W, R, bn,
			   K, 0);
	pfm_par_for(nt, K, wn_rows, &j);
	float *dh = w->db;
	j.buf = dh;
	pfm_par_for(nt, R, unnorm_rows, &j);
	/* the MLP, last layer first */
	for (int l = nl - 1; l >= 0; l--) {
		int fi = l ? h->hidden : h->in;
		int fo = l == nl - 1 ? bn : h->hidden;
		const float *in = l ? w->a[l - 1] : w->x;
		float *din = l ? w->da : dx;
		pfm_par_linear_bwd(nt, din, gp + h->off[2 * l],
				   gp + h->off[2 * l + 1], dh, in,
				   p + h->off[2 * l], R, fi, fo, l ? 0 : 1);
		if (l) {
			j.buf = w->dz, j.src = w->da, j.dl = w->h[l - 1], j.n = fi;
			pfm_par_for(nt, R, gelu_bwd_rows, &j);
			float *t = w->db;
			w->db = w->dz;
			w->dz = t;
			dh = w->db;
		}
	}
	return 0;
}
