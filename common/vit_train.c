/* vit_train.c: the training forward and backward of the ViT (see
 * vit_train.h for the activation layout and threading). */
#include "vit_train.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vit_grad.h"
#include "vit_kernels.h"

extern void openblas_set_num_threads(int);

/* Per-thread scratch. */
typedef struct {
	float *a;       /* [per*T, max(H1, D)] activation, dATT, dU */
	float *y;       /* [per*T, D] branch output when not kept */
	float *patches; /* [per*N, 3 p p] */
	float *ds;      /* [T, T] */
	float *dx, *dy; /* [per*T, D] */
	float *dh;      /* [per*T, max(3D, H1)] */
	float *g;       /* private gradients (threads >= 1) */
	float *dmask;   /* [D] */
	float *dposg;   /* [N, D] gradient of the grid's position embeddings */
} tws;

struct pfm_vit_train {
	const pfm_vit *m;
	int img, gh, gw, N, T, prefix, H1, keep, nthreads, max_batch, per;
	size_t M;            /* max_batch * T */
	float *act;          /* the activations, layout in vit_train.h */
	size_t nact;
	float *x, *ln1, *s1, *qkv, *p, *att, *proj, *x2, *ln2, *s2, *u,
		*fc2, *out, *sf;
	float *pos;          /* [pos_prefix + N, D] of this grid */
	float *wm;           /* [N, pos_h*pos_w] resampling matrix, NULL if
			      * the grid is the stored one */
	tws *ws;
	size_t bytes;
	/* the current batch */
	pfm_vit_batch b;
	const float *dout;
	float *grads, *dmask;
	int have_fwd;
};

int pfm_vit_train_tokens(const pfm_vit_train *t)
{
	return t->T;
}

int pfm_vit_train_patches(const pfm_vit_train *t)
{
	return t->N;
}

int pfm_vit_train_prefix(const pfm_vit_train *t)
{
	return t->prefix;
}

size_t pfm_vit_train_bytes(const pfm_vit_train *t)
{
	return t->bytes;
}

const float *pfm_vit_train_out(const pfm_vit_train *t)
{
	return t->out;
}

void pfm_vit_train_free(pfm_vit_train *t)
{
	if (!t)
		return;
	for (int i = 0; t->ws && i < t->nthreads; i++) {
		tws *w = &t->ws[i];
		free(w->a), free(w->y), free(w->patches), free(w->ds);
		free(w->dx), free(w->dy), free(w->dh), free(w->g);
		free(w->dmask), free(w->dposg);
	}
	free(t->ws);
	free(t->act);
	free(t->pos);
	free(t->wm);
	free(t);
}

/* Layer l's slot of a per-layer array of `per` floats (slot 0 when the
 * workspace keeps one layer). */
static float *slot(const pfm_vit_train *t, float *base, size_t per, int l)
{
	return base + (t->keep ? (size_t)l : 0) * per;
}

static float *Xl(const pfm_vit_train *t, int l)
{
	return slot(t, t->x, t->M * t->m->cfg.dim, l);
}

static float *X2l(const pfm_vit_train *t, int l)
{
	return t->keep ? t->x2 + (size_t)l * t->M * t->m->cfg.dim : t->x;
}

static int scale_of(const pfm_vit_config *c, int grid, int stored, double *s)
{
	*s = c->pos_interp == PFM_POS_DINOV2 ? stored / (grid + 0.1)
					     : (double)stored / grid;
	return c->pos_interp == PFM_POS_TIMM;
}

pfm_vit_train *pfm_vit_train_new(const pfm_vit *m, int max_batch, int img,
				 int keep, int nthreads, pfm_err *e)
{
	const pfm_vit_config *c = &m->cfg;
	if (img <= 0 || img % c->patch || img / c->patch > 1024) {
		pfm_errf(e, "crop size %d is not a multiple of the patch size "
			    "%d", img, c->patch);
		return NULL;
	}
	if (max_batch <= 0 || max_batch > 65536 || nthreads <= 0 ||
	    nthreads > 1024) {
		pfm_errf(e, "bad batch %d or threads %d", max_batch, nthreads);
		return NULL;
	}
	pfm_vit_train *t = calloc(1, sizeof *t);
	if (!t) {
		pfm_errf(e, "out of memory");
		return NULL;
	}
	t->m = m;
	t->img = img;
	t->gh = t->gw = img / c->patch;
	t->N = t->gh * t->gw;
	t->prefix = c->cls + c->reg;
	t->T = t->prefix + t->N;
	t->H1 = c->mlp == PFM_MLP_SWIGLU ? 2 * c->hidden : c->hidden;
	t->keep = keep;
	t->max_batch = max_batch;
	t->nthreads = nthreads < max_batch ? nthreads : max_batch;
	t->per = (max_batch + t->nthreads - 1) / t->nthreads;
	size_t D = c->dim, T = t->T, L = c->depth, H1 = t->H1, M;
	M = t->M = (size_t)max_batch * T;
	size_t Lk = keep ? L : 1, ls = keep && c->layerscale;
	size_t sz[] = {
		(keep ? L + 1 : 1) * M * D, /* x */
		Lk * M * D, Lk * M * 2,     /* ln1, s1 */
		Lk * M * 3 * D,             /* qkv */
		Lk * max_batch * c->heads * T * T, /* p */
		Lk * M * D,                 /* att */
		ls ? L * M * D : 0,         /* proj */
		keep ? L * M * D : 0,       /* x2 */
		Lk * M * D, Lk * M * 2,     /* ln2, s2 */
		Lk * M * H1,                /* u */
		ls ? L * M * D : 0,         /* fc2 */
		M * D, M * 2                /* out, sf */
	};
	float **dst[] = {&t->x,  &t->ln1, &t->s1, &t->qkv, &t->p,
			 &t->att, &t->proj, &t->x2, &t->ln2, &t->s2,
			 &t->u,  &t->fc2, &t->out, &t->sf};
	size_t n = 0;
	for (size_t i = 0; i < sizeof sz / sizeof *sz; i++)
		n += sz[i];
	if (n > ((size_t)1 << 37)) {
		pfm_errf(e, "activations of %zu floats: batch too large", n);
		goto fail;
	}
	t->nact = n;
	t->act = malloc(n * sizeof(float));
	if (!t->act)
		goto oom;
	n = 0;
	for (size_t i = 0; i < sizeof sz / sizeof *sz; i++) {
		*dst[i] = sz[i] ? t->act + n : NULL;
		n += sz[i];
	}
	t->bytes = t->nact * sizeof(float);
	t->pos = malloc(((size_t)c->pos_prefix + t->N) * D * sizeof(float));
	if (!t->pos)
		goto oom;
	if (t->gh != c->pos_h || t->gw != c->pos_w) {
		double sh, sw;
		int aa = scale_of(c, t->gh, c->pos_h, &sh);
		scale_of(c, t->gw, c->pos_w, &sw);
		size_t G = (size_t)c->pos_h * c->pos_w;
		t->wm = malloc((size_t)t->N * G * sizeof(float));
		if (!t->wm || pfm_pos_resample_matrix(t->wm, c->pos_h, c->pos_w,
						      t->gh, t->gw, aa, sh, sw))
			goto oom;
	}
	t->ws = calloc(t->nthreads, sizeof *t->ws);
	if (!t->ws)
		goto oom;
	size_t pr = (size_t)t->per * T, pp = (size_t)c->patch * c->patch * 3;
	size_t wa = H1 > D ? H1 : D, wh = 3 * D > H1 ? 3 * D : H1;
	for (int i = 0; i < t->nthreads; i++) {
		tws *w = &t->ws[i];
		w->a = malloc(pr * wa * sizeof(float));
		w->y = malloc(pr * D * sizeof(float));
		w->patches = malloc((size_t)t->per * t->N * pp * sizeof(float));
		w->ds = malloc(T * T * sizeof(float));
		if (!w->a || !w->y || !w->patches || !w->ds)
			goto oom;
		t->bytes += (pr * (wa + D) + (size_t)t->per * t->N * pp +
			     T * T) * sizeof(float);
		if (!keep)
			continue;
		w->dx = malloc(pr * D * sizeof(float));
		w->dy = malloc(pr * D * sizeof(float));
		w->dh = malloc(pr * wh * sizeof(float));
		w->dmask = malloc(D * sizeof(float));
		w->dposg = malloc((size_t)t->N * D * sizeof(float));
		if (i > 0)
			w->g = malloc(m->nparams * sizeof(float));
		if (!w->dx || !w->dy || !w->dh || !w->dmask || !w->dposg ||
		    (i > 0 && !w->g))
			goto oom;
		t->bytes += (pr * (2 * D + wh) + D + (size_t)t->N * D +
			     (i > 0 ? m->nparams : 0)) * sizeof(float);
	}
	openblas_set_num_threads(1);
	return t;
oom:
	pfm_errf(e, "out of memory for a training batch of %d at %d px",
		 max_batch, img);
fail:
	pfm_vit_train_free(t);
	return NULL;
}

/* ---- threads ---- */

typedef struct {
	pfm_vit_train *t;
	int i, b0, nb;
	void (*fn)(pfm_vit_train *, tws *, int, int, int);
} job;

static void *job_main(void *p)
{
	job *j = p;
	j->fn(j->t, &j->t->ws[j->i], j->i, j->b0, j->nb);
	return NULL;
}

/* fn over the batch, split by images as evenly as possible; returns the
 * number of slices. */
static int run_slices(pfm_vit_train *t, int B,
		      void (*fn)(pfm_vit_train *, tws *, int, int, int))
{
	int nt = t->nthreads < B ? t->nthreads : B;
	job jobs[nt];
	pthread_t th[nt];
	int started[nt];
	for (int i = 0, b0 = 0; i < nt; i++) {
		int nb = B / nt + (i < B % nt);
		jobs[i] = (job){t, i, b0, nb, fn};
		b0 += nb;
	}
	for (int i = 1; i < nt; i++)
		started[i] = !pthread_create(&th[i], NULL, job_main, &jobs[i]);
	job_main(&jobs[0]);
	for (int i = 1; i < nt; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			job_main(&jobs[i]);
	}
	return nt;
}

/* ---- forward ---- */

/* Position embeddings of this grid from params, as the inference path
 * resamples them. */
static void make_pos(pfm_vit_train *t, const float *P)
{
	const pfm_vit_config *c = &t->m->cfg;
	int D = c->dim, pp = c->pos_prefix;
	const float *src = pfm_vit_at(t->m, (float *)P, PFM_VP_POS);
	memcpy(t->pos, src, (size_t)pp * D * sizeof(float));
	if (!t->wm) {
		memcpy(t->pos + (size_t)pp * D, src + (size_t)pp * D,
		       (size_t)t->N * D * sizeof(float));
		return;
	}
	double sh, sw;
	int aa = scale_of(c, t->gh, c->pos_h, &sh);
	scale_of(c, t->gw, c->pos_w, &sw);
	pfm_pos_resample(t->pos + (size_t)pp * D, src + (size_t)pp * D,
			 c->pos_h, c->pos_w, t->gh, t->gw, D, aa, sh, sw);
}

static void embed_fwd(pfm_vit_train *t, tws *w, int b0, int nb)
{
	const pfm_vit *m = t->m;
	const pfm_vit_config *c = &m->cfg;
	const float *P = t->b.params;
	int D = c->dim, T = t->T, pp = c->pos_prefix, p = c->patch;
	int row = 3 * p * p;
	for (int b = b0; b < b0 + nb; b++) {
		float *x = Xl(t, 0) + (size_t)b * T * D;
		float *xp = x + (size_t)t->prefix * D;
		pfm_patchify(w->patches, t->b.images + (size_t)b * 3 * t->img *
							      t->img,
			     t->img, t->img, p);
		pfm_linear(xp, w->patches, pfm_vit_at(m, (float *)P, PFM_VP_PATCH_W),
			   pfm_vit_at(m, (float *)P, PFM_VP_PATCH_B), t->N, row, D);
		const uint8_t *mk = t->b.mask ? t->b.mask + (size_t)b * t->N : NULL;
		for (int n = 0; mk && n < t->N; n++)
			if (mk[n])
				memcpy(xp + (size_t)n * D, t->b.mask_token,
				       D * sizeof(float));
		int k = 0;
		if (c->cls)
			memcpy(x + (size_t)k++ * D,
			       pfm_vit_at(m, (float *)P, PFM_VP_CLS),
			       D * sizeof(float));
		for (int i = 0; i < c->reg; i++)
			memcpy(x + (size_t)k++ * D,
			       pfm_vit_at(m, (float *)P, PFM_VP_REG) + (size_t)i * D,
			       D * sizeof(float));
		for (int i = 0; i < pp; i++)
			for (int d = 0; d < D; d++)
				x[(size_t)i * D + d] += t->pos[(size_t)i * D + d];
		const float *pg = t->pos + (size_t)pp * D;
		for (size_t i = 0; i < (size_t)t->N * D; i++)
			xp[i] += pg[i];
	}
}

static void activation(const pfm_vit_train *t, float *a, const float *u,
		       int M)
{
	const pfm_vit_config *c = &t->m->cfg;
	if (c->mlp == PFM_MLP_SWIGLU) {
		pfm_bias_swiglu(a, (float *)u, NULL, M, c->hidden);
	} else {
		memcpy(a, u, (size_t)M * c->hidden * sizeof(float));
		pfm_bias_gelu(a, NULL, (size_t)M, c->hidden);
	}
}

static void fwd_slice(pfm_vit_train *t, tws *w, int i, int b0, int nb)
{
	(void)i;
	const pfm_vit *m = t->m;
	const pfm_vit_config *c = &m->cfg;
	const float *P = t->b.params;
	int D = c->dim, T = t->T, M = nb * T, H = c->hidden, H1 = t->H1;
	int B = t->b.B;
	size_t Ds = D, MD = t->M * Ds, r0 = (size_t)b0 * T;
	embed_fwd(t, w, b0, nb);
	for (int l = 0; l < c->depth; l++) {
#define LP(k, per) (pfm_vit_at(m, (float *)P, k) + (size_t)l * (per))
		const float *ls1 = c->layerscale ? LP(PFM_VP_LS1, Ds) : NULL;
		const float *ls2 = c->layerscale ? LP(PFM_VP_LS2, Ds) : NULL;
		const float *d1 = t->b.drop ? t->b.drop + (size_t)(2 * l) * B + b0
					    : NULL;
		const float *d2 = d1 ? d1 + B : NULL;
		float *x = Xl(t, l) + r0 * D, *x2 = X2l(t, l) + r0 * D;
		float *xo = Xl(t, l + 1) + r0 * D;
		float *h1 = slot(t, t->ln1, MD, l) + r0 * D;
		float *st1 = slot(t, t->s1, t->M * 2, l) + r0 * 2;
		float *qkv = slot(t, t->qkv, t->M * 3 * Ds, l) + r0 * 3 * D;
		size_t pimg = (size_t)c->heads * T * T;
		float *pr = slot(t, t->p, (size_t)t->max_batch * pimg, l) +
			    (size_t)b0 * pimg;
		float *att = slot(t, t->att, MD, l) + r0 * D;
		float *proj = t->proj ? t->proj + l * MD + r0 * D : w->y;
		float *h2 = slot(t, t->ln2, MD, l) + r0 * D;
		float *st2 = slot(t, t->s2, t->M * 2, l) + r0 * 2;
		float *u = slot(t, t->u, t->M * (size_t)H1, l) + r0 * H1;
		float *fc2 = t->fc2 ? t->fc2 + l * MD + r0 * D : w->y;
		pfm_layernorm_fwd(h1, st1, x, LP(PFM_VP_LN1_W, Ds),
				  LP(PFM_VP_LN1_B, Ds), M, D, c->eps);
		pfm_linear(qkv, h1, LP(PFM_VP_QKV_W, 3 * Ds * D),
			   c->qkv_bias ? LP(PFM_VP_QKV_B, 3 * Ds) : NULL, M, D,
			   3 * D);
		for (int b = 0; b < nb; b++)
			pfm_attention_fwd(att + (size_t)b * T * D, pr + b * pimg,
					  qkv + (size_t)b * T * 3 * D, T, D,
					  c->heads);
		pfm_linear(proj, att, LP(PFM_VP_PROJ_W, Ds * D),
			   LP(PFM_VP_PROJ_B, Ds), M, D, D);
		pfm_residual_fwd(x2, x, proj, ls1, d1, T, M, D);
		pfm_layernorm_fwd(h2, st2, x2, LP(PFM_VP_LN2_W, Ds),
				  LP(PFM_VP_LN2_B, Ds), M, D, c->eps);
		pfm_linear(u, h2, LP(PFM_VP_FC1_W, (size_t)H1 * D),
			   LP(PFM_VP_FC1_B, (size_t)H1), M, D, H1);
		activation(t, w->a, u, M);
		pfm_linear(fc2, w->a, LP(PFM_VP_FC2_W, Ds * H),
			   LP(PFM_VP_FC2_B, Ds), M, H, D);
		pfm_residual_fwd(xo, x2, fc2, ls2, d2, T, M, D);
#undef LP
	}
	pfm_layernorm_fwd(t->out + r0 * D, t->sf + r0 * 2, Xl(t, c->depth) + r0 * D,
			  pfm_vit_at(m, (float *)P, PFM_VP_NORM_W),
			  pfm_vit_at(m, (float *)P, PFM_VP_NORM_B), M, D, c->eps);
}

int pfm_vit_train_forward(pfm_vit_train *t, const pfm_vit_batch *b,
			  pfm_err *e)
{
	if (b->B <= 0 || b->B > t->max_batch)
		return pfm_errf(e, "batch of %d images (workspace holds %d)",
				b->B, t->max_batch);
	if (b->mask && !b->mask_token)
		return pfm_errf(e, "masked batch without a mask token");
	t->b = *b;
	make_pos(t, b->params);
	run_slices(t, b->B, fwd_slice);
	t->have_fwd = 1;
	return 0;
}

/* ---- backward ---- */

static void embed_bwd(pfm_vit_train *t, tws *w, float *G, int b0, int nb)
{
	const pfm_vit *m = t->m;
	const pfm_vit_config *c = &m->cfg;
	int D = c->dim, T = t->T, N = t->N, pp = c->pos_prefix, p = c->patch;
	int row = 3 * p * p;
	float *dpos = pfm_vit_at(m, G, PFM_VP_POS);
	/* patch rows of the slice gathered into dy [nb*N, D], patches of
	 * every image into w->patches: one GEMM for the weight gradient */
	for (int b = b0; b < b0 + nb; b++) {
		const float *dx = w->dx + (size_t)(b - b0) * T * D;
		int k = 0;
		if (c->cls) {
			float *g = pfm_vit_at(m, G, PFM_VP_CLS);
			for (int d = 0; d < D; d++)
				g[d] += dx[d];
			k++;
		}
		for (int i = 0; i < c->reg; i++, k++) {
			float *g = pfm_vit_at(m, G, PFM_VP_REG) + (size_t)i * D;
			for (int d = 0; d < D; d++)
				g[d] += dx[(size_t)k * D + d];
		}
		for (int i = 0; i < pp; i++)
			for (int d = 0; d < D; d++)
				dpos[(size_t)i * D + d] += dx[(size_t)i * D + d];
		const float *dxp = dx + (size_t)t->prefix * D;
		float *dp = w->dy + (size_t)(b - b0) * N * D;
		for (size_t i = 0; i < (size_t)N * D; i++)
			w->dposg[i] += dxp[i];
		memcpy(dp, dxp, (size_t)N * D * sizeof(float));
		const uint8_t *mk = t->b.mask ? t->b.mask + (size_t)b * N : NULL;
		for (int n = 0; mk && n < N; n++) {
			if (!mk[n])
				continue;
			float *r = dp + (size_t)n * D;
			for (int d = 0; d < D; d++)
				w->dmask[d] += r[d];
			memset(r, 0, D * sizeof(float));
		}
		pfm_patchify(w->patches + (size_t)(b - b0) * N * row,
			     t->b.images + (size_t)b * 3 * t->img * t->img,
			     t->img, t->img, p);
	}
	pfm_linear_bwd(NULL, pfm_vit_at(m, G, PFM_VP_PATCH_W),
		       pfm_vit_at(m, G, PFM_VP_PATCH_B), w->dy, w->patches,
		       NULL, nb * N, row, D, 0);
}

static void bwd_slice(pfm_vit_train *t, tws *w, int i, int b0, int nb)
{
	const pfm_vit *m = t->m;
	const pfm_vit_config *c = &m->cfg;
	const float *P = t->b.params;
	float *G = i ? w->g : t->grads;
	int D = c->dim, T = t->T, M = nb * T, H = c->hidden, H1 = t->H1;
	int B = t->b.B;
	size_t Ds = D, MD = t->M * Ds, r0 = (size_t)b0 * T;
	if (i)
		memset(w->g, 0, m->nparams * sizeof(float));
	memset(w->dmask, 0, D * sizeof(float));
	memset(w->dposg, 0, (size_t)t->N * D * sizeof(float));
	pfm_layernorm_bwd(w->dx, pfm_vit_at(m, G, PFM_VP_NORM_W),
			  pfm_vit_at(m, G, PFM_VP_NORM_B), t->dout + r0 * D,
			  Xl(t, c->depth) + r0 * D, t->sf + r0 * 2,
			  pfm_vit_at(m, (float *)P, PFM_VP_NORM_W), M, D, 0);
	for (int l = c->depth - 1; l >= 0; l--) {
#define LP(k, per) (pfm_vit_at(m, (float *)P, k) + (size_t)l * (per))
#define LG(k, per) (pfm_vit_at(m, G, k) + (size_t)l * (per))
		const float *ls1 = c->layerscale ? LP(PFM_VP_LS1, Ds) : NULL;
		const float *ls2 = c->layerscale ? LP(PFM_VP_LS2, Ds) : NULL;
		const float *d1 = t->b.drop ? t->b.drop + (size_t)(2 * l) * B + b0
					    : NULL;
		const float *d2 = d1 ? d1 + B : NULL;
		float *x = Xl(t, l) + r0 * D, *x2 = X2l(t, l) + r0 * D;
		float *h1 = t->ln1 + l * MD + r0 * D;
		float *st1 = t->s1 + l * t->M * 2 + r0 * 2;
		float *qkv = t->qkv + l * t->M * 3 * Ds + r0 * 3 * D;
		size_t pimg = (size_t)c->heads * T * T;
		float *pr = t->p + l * (size_t)t->max_batch * pimg +
			    (size_t)b0 * pimg;
		float *att = t->att + l * MD + r0 * D;
		float *proj = t->proj ? t->proj + l * MD + r0 * D : NULL;
		float *h2 = t->ln2 + l * MD + r0 * D;
		float *st2 = t->s2 + l * t->M * 2 + r0 * 2;
		float *u = t->u + l * t->M * (size_t)H1 + r0 * H1;
		float *fc2 = t->fc2 ? t->fc2 + l * MD + r0 * D : NULL;
		/* MLP branch: xo = x2 + s2 ls2 fc2(act(fc1(ln2(x2)))) */
		pfm_residual_bwd(w->dy, ls2 ? LG(PFM_VP_LS2, Ds) : NULL, w->dx,
				 fc2, ls2, d2, T, M, D);
		activation(t, w->a, u, M);
		pfm_linear_bwd(w->dh, LG(PFM_VP_FC2_W, Ds * H),
			       LG(PFM_VP_FC2_B, Ds), w->dy, w->a,
			       LP(PFM_VP_FC2_W, Ds * H), M, H, D, 0);
		float *du = w->dh;
		if (c->mlp == PFM_MLP_SWIGLU) {
			pfm_swiglu_bwd(w->a, w->dh, u, M, H);
			du = w->a;
		} else {
			pfm_gelu_bwd(w->dh, w->dh, u, (size_t)M * H);
		}
		pfm_linear_bwd(w->dy, LG(PFM_VP_FC1_W, (size_t)H1 * D),
			       LG(PFM_VP_FC1_B, (size_t)H1), du, h2,
			       LP(PFM_VP_FC1_W, (size_t)H1 * D), M, D, H1, 0);
		pfm_layernorm_bwd(w->dx, LG(PFM_VP_LN2_W, Ds),
				  LG(PFM_VP_LN2_B, Ds), w->dy, x2, st2,
				  LP(PFM_VP_LN2_W, Ds), M, D, 1);
		/* attention branch: x2 = x + s1 ls1 proj(attn(qkv(ln1(x)))) */
		pfm_residual_bwd(w->dy, ls1 ? LG(PFM_VP_LS1, Ds) : NULL, w->dx,
				 proj, ls1, d1, T, M, D);
		pfm_linear_bwd(w->a, LG(PFM_VP_PROJ_W, Ds * D),
			       LG(PFM_VP_PROJ_B, Ds), w->dy, att,
			       LP(PFM_VP_PROJ_W, Ds * D), M, D, D, 0);
		for (int b = 0; b < nb; b++)
			pfm_attention_bwd(w->dh + (size_t)b * T * 3 * D,
					  w->a + (size_t)b * T * D,
					  qkv + (size_t)b * T * 3 * D,
					  pr + b * pimg, w->ds, T, D, c->heads);
		pfm_linear_bwd(w->dy, LG(PFM_VP_QKV_W, 3 * Ds * D),
			       c->qkv_bias ? LG(PFM_VP_QKV_B, 3 * Ds) : NULL,
			       w->dh, h1, LP(PFM_VP_QKV_W, 3 * Ds * D), M, D,
			       3 * D, 0);
		pfm_layernorm_bwd(w->dx, LG(PFM_VP_LN1_W, Ds),
				  LG(PFM_VP_LN1_B, Ds), w->dy, x, st1,
				  LP(PFM_VP_LN1_W, Ds), M, D, 1);
#undef LP
#undef LG
	}
	embed_bwd(t, w, G, b0, nb);
}

int pfm_vit_train_backward(pfm_vit_train *t, const float *dout, float *grads,
			   float *dmask, pfm_err *e)
{
	const pfm_vit *m = t->m;
	const pfm_vit_config *c = &m->cfg;
	if (!t->keep || !t->have_fwd)
		return pfm_errf(e, "backward without a kept forward pass");
	t->dout = dout;
	t->grads = grads;
	t->dmask = dmask;
	int nt = run_slices(t, t->b.B, bwd_slice);
	size_t D = c->dim, N = t->N;
	/* thread order: deterministic for a given thread count */
	for (int i = 1; i < nt; i++) {
		const float *g = t->ws[i].g;
		for (size_t k = 0; k < m->nparams; k++)
			grads[k] += g[k];
		const float *dp = t->ws[i].dposg;
		for (size_t k = 0; k < N * D; k++)
			t->ws[0].dposg[k] += dp[k];
		for (size_t k = 0; k < D; k++)
			t->ws[0].dmask[k] += t->ws[i].dmask[k];
	}
	float *dpos = pfm_vit_at(m, grads, PFM_VP_POS) + (size_t)c->pos_prefix * D;
	const float *dg = t->ws[0].dposg;
	if (t->wm) /* dpos_src[G, D] += wm^T[G, N] dposg[N, D] */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
			    c->pos_h * c->pos_w, (int)D, (int)N, 1.f, t->wm,
			    c->pos_h * c->pos_w, dg, (int)D, 1.f, dpos, (int)D);
	else
		for (size_t k = 0; k < N * D; k++)
			dpos[k] += dg[k];
	if (dmask)
		for (size_t k = 0; k < D; k++)
			dmask[k] += t->ws[0].dmask[k];
	return 0;
}
