/* vit_forward.c: ViT inference on the CPU.
 *
 * A batch is split by images across threads; each thread runs the whole
 * network on its images with single-threaded GEMMs over all its tokens at
 * once (rows = images x tokens), so threads never wait for one another
 * and GEMMs stay large. The GEMMs go through oneDNN when the build has it
 * (vit_bf16.c: fp32 or bf16), else OpenBLAS. Attention is computed per
 * image, one [heads, T, T] score block per thread (OpenBLAS: one T x T):
 * nothing bigger is materialised. */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vit.h"
#include "vit_bf16.h"
#include "vit_kernels.h"

/* OpenBLAS' own threads would fight ours. */
extern void openblas_set_num_threads(int);

typedef struct {
	float *x, *h, *qkv, *att, *u, *s, *patches;
	pfm_bf16_ws *bw; /* oneDNN only */
	int failed;
	pfm_err err;
} vit_ws;

/* The weights oneDNN's path lays out once: the GEMMs' right-hand sides. */
static const int bf16_tensors[] = {PFM_VP_PATCH_W, PFM_VP_QKV_W,
				   PFM_VP_PROJ_W, PFM_VP_FC1_W, PFM_VP_FC2_W};

struct pfm_vit_run {
	const pfm_vit *m;
	int img, gh, gw, N, T, prefix;
	int nthreads, max_batch, per;
	float *pos;    /* [pos_prefix + N, D], resampled to this grid */
	float *tokens; /* [max_batch, T, D], final-normed */
	int B;         /* images in the last forward */
	vit_ws *ws;
	/* oneDNN: the GEMM weights at their params offsets, fp32 or bf16 */
	void *wdn;
	int bf16;       /* wdn's precision */
	int dnn_tried;  /* fp32: set up oneDNN once, else stay on OpenBLAS */
	pfm_bf16_fmt *fmt;
	int wfmt[PFM_NVP]; /* layout id of each tensor in wdn */
	/* per call */
	const float *images;
	int nb_total;
	pfm_err *err;
};

static void ws_free(vit_ws *w)
{
	free(w->x), free(w->h), free(w->qkv), free(w->att), free(w->u);
	free(w->s), free(w->patches);
	pfm_bf16_ws_free(w->bw);
}

void pfm_vit_run_free(pfm_vit_run *r)
{
	if (!r)
		return;
	for (int t = 0; r->ws && t < r->nthreads; t++)
		ws_free(&r->ws[t]);
	free(r->ws);
	free(r->wdn);
	pfm_bf16_fmt_free(r->fmt);
	free(r->pos);
	free(r->tokens);
	free(r);
}

/* The position embeddings for a gh x gw grid, as the model's own code
 * resamples them. */
static int make_pos(pfm_vit_run *r, pfm_err *e)
{
	const pfm_vit_config *c = &r->m->cfg;
	int D = c->dim, pp = c->pos_prefix;
	const float *src = pfm_vit_at(r->m, r->m->params, PFM_VP_POS);
	r->pos = malloc(((size_t)pp + r->N) * D * sizeof(float));
	if (!r->pos)
		return pfm_errf(e, "out of memory");
	memcpy(r->pos, src, (size_t)pp * D * sizeof(float));
	if (r->gh == c->pos_h && r->gw == c->pos_w) {
		memcpy(r->pos + (size_t)pp * D, src + (size_t)pp * D,
		       (size_t)r->N * D * sizeof(float));
		return 0;
	}
	int aa = c->pos_interp == PFM_POS_TIMM;
	double sh = (double)c->pos_h / r->gh, sw = (double)c->pos_w / r->gw;
	if (c->pos_interp == PFM_POS_DINOV2) { /* scale_factor (g + 0.1) / M */
		sh = c->pos_h / (r->gh + 0.1);
		sw = c->pos_w / (r->gw + 0.1);
	}
	pfm_pos_resample(r->pos + (size_t)pp * D, src + (size_t)pp * D,
			 c->pos_h, c->pos_w, r->gh, r->gw, D, aa, sh, sw);
	return 0;
}

pfm_vit_run *pfm_vit_run_new(const pfm_vit *m, int max_batch, int img,
			     int nthreads, pfm_err *e)
{
	const pfm_vit_config *c = &m->cfg;
	if (img <= 0 || img % c->patch || img / c->patch > 1024) {
		pfm_errf(e, "input size %d is not a multiple of the patch "
			    "size %d",
			 img, c->patch);
		return NULL;
	}
	if (max_batch <= 0 || max_batch > 65536 || nthreads <= 0 ||
	    nthreads > 1024) {
		pfm_errf(e, "bad batch %d or threads %d", max_batch, nthreads);
		return NULL;
	}
	pfm_vit_run *r = calloc(1, sizeof *r);
	if (!r) {
		pfm_errf(e, "out of memory");
		return NULL;
	}
	r->m = m;
	r->img = img;
	r->gh = r->gw = img / c->patch;
	r->N = r->gh * r->gw;
	r->prefix = c->cls + c->reg;
	r->T = r->prefix + r->N;
	r->nthreads = nthreads < max_batch ? nthreads : max_batch;
	r->max_batch = max_batch;
	r->per = (max_batch + r->nthreads - 1) / r->nthreads;
	size_t D = c->dim, T = r->T, M = (size_t)r->per * T;
	size_t H1 = c->mlp == PFM_MLP_SWIGLU ? 2 * (size_t)c->hidden
					       : (size_t)c->hidden;
	size_t p = c->patch;
	r->tokens = malloc((size_t)max_batch * T * D * sizeof(float));
	r->ws = calloc(r->nthreads, sizeof *r->ws);
	if (!r->tokens || !r->ws)
		goto oom;
	for (int t = 0; t < r->nthreads; t++) {
		vit_ws *w = &r->ws[t];
		w->x = malloc(M * D * sizeof(float));
		w->h = malloc(M * D * sizeof(float));
		w->qkv = malloc(M * 3 * D * sizeof(float));
		w->att = malloc(M * D * sizeof(float));
		w->u = malloc(M * H1 * sizeof(float));
		w->s = malloc(T * T * sizeof(float));
		w->patches = malloc((size_t)r->N * 3 * p * p * sizeof(float));
		if (!w->x || !w->h || !w->qkv || !w->att || !w->u || !w->s ||
		    !w->patches)
			goto oom;
	}
	if (make_pos(r, e))
		goto fail;
	openblas_set_num_threads(1);
	return r;
oom:
	pfm_errf(e, "out of memory for a batch of %d at %d px", max_batch,
		 img);
fail:
	pfm_vit_run_free(r);
	return NULL;
}

int pfm_vit_run_tokens(const pfm_vit_run *r)
{
	return r->T;
}

const float *pfm_vit_tokens(const pfm_vit_run *r)
{
	return r->tokens;
}

/* out[M, N] = in[M, K] @ W^T + b, W the matrix of tensor k at params
 * offset woff, through oneDNN (fp32 or bf16) or OpenBLAS; flags as
 * pfm_bf16_linear's (bf16 in or out only on oneDNN's bf16 path). */
static void lin(const pfm_vit_run *r, vit_ws *w, void *out, const void *in,
		int k, size_t woff, const float *b, int M, int K, int N,
		int flags)
{
	if (!r->wdn) {
		int gelu = flags & PFM_BF16_GELU;
		pfm_linear(out, in, r->m->params + woff, gelu ? NULL : b, M, K,
			   N);
		if (gelu)
			pfm_bias_gelu(out, b, (size_t)M, N);
		return;
	}
	const char *wt = (const char *)r->wdn + woff * (r->bf16 ? 2 : 4);
	if (!w->failed && pfm_bf16_linear(w->bw, r->wfmt[k], out, in, wt, b,
					  M, K, N, flags, &w->err))
		w->failed = 1;
}

/* Attention of nb images: qkv[nb, T, 3D] -> out[nb, T, D], both bf16 on
 * oneDNN's bf16 path, else fp32. */
static void attention(const pfm_vit_run *r, vit_ws *w, void *out,
		      const void *qkv, int nb)
{
	int T = r->T, D = r->m->cfg.dim, heads = r->m->cfg.heads;
	size_t es = r->wdn && r->bf16 ? 2 : 4;
	for (int b = 0; b < nb; b++) {
		char *o = (char *)out + (size_t)b * T * D * es;
		const char *x = (const char *)qkv + (size_t)b * T * 3 * D * es;
		if (!r->wdn)
			pfm_attention((float *)o, (const float *)x, w->s, T, D,
				      heads);
		else if (!w->failed &&
			 pfm_bf16_attention(w->bw, o, x, T, D, heads, r->bf16,
					    &w->err))
			w->failed = 1;
	}
}

static void dnn_drop(pfm_vit_run *r)
{
	for (int t = 0; t < r->nthreads; t++) {
		pfm_bf16_ws_free(r->ws[t].bw);
		r->ws[t].bw = NULL;
	}
	free(r->wdn);
	r->wdn = NULL;
	pfm_bf16_fmt_free(r->fmt);
	r->fmt = NULL;
}

/* Lay the GEMM weights out for oneDNN in fp32 or bf16. */
static int dnn_setup(pfm_vit_run *r, int bf16, pfm_err *e)
{
	const pfm_vit *m = r->m;
	const pfm_vit_config *c = &m->cfg;
	int D = c->dim, H = c->hidden, p = c->patch;
	int H1 = c->mlp == PFM_MLP_SWIGLU ? 2 * H : H;
	/* (matrices, N, K) of each tensor the GEMMs multiply by */
	const int shape[][3] = {{1, D, 3 * p * p}, {c->depth, 3 * D, D},
				{c->depth, D, D}, {c->depth, H1, D},
				{c->depth, D, H}};
	dnn_drop(r);
	r->bf16 = bf16;
	if (!(r->wdn = malloc(m->nparams * (bf16 ? 2 : 4))) ||
	    !(r->fmt = pfm_bf16_fmt_new(e))) {
		dnn_drop(r);
		return pfm_errf(e, "out of memory for the %s weights",
				bf16 ? "bf16" : "oneDNN");
	}
	for (size_t i = 0; i < sizeof bf16_tensors / sizeof *bf16_tensors; i++) {
		int k = bf16_tensors[i];
		r->wfmt[k] = pfm_bf16_prepare(
			r->fmt, (char *)r->wdn + m->off[k] * (bf16 ? 2 : 4),
			m->params + m->off[k], shape[i][0], shape[i][1],
			shape[i][2], r->per * r->T, bf16, e);
		if (r->wfmt[k] < 0)
			goto fail;
	}
	for (int t = 0; t < r->nthreads; t++)
		if (!(r->ws[t].bw = pfm_bf16_ws_new(r->fmt, e)))
			goto fail;
	return 0;
fail:
	dnn_drop(r); /* back to OpenBLAS */
	return -1;
}

int pfm_vit_run_bf16(pfm_vit_run *r, pfm_err *e)
{
	if (!pfm_bf16_available())
		return pfm_errf(e, "bf16 needs oneDNN: this build has none "
				   "(install libdnnl-dev and rebuild)");
	if (r->wdn && r->bf16)
		return 0;
	r->dnn_tried = 1;
	return dnn_setup(r, 1, e);
}

/* Patch embedding, prefix tokens and positions of nb images into x. */
static void embed_tokens(const pfm_vit_run *r, vit_ws *w, const float *img,
			 int nb)
{
	const pfm_vit *m = r->m;
	const pfm_vit_config *c = &m->cfg;
	int D = c->dim, T = r->T, pp = c->pos_prefix, p = c->patch;
	float *P = m->params;
	for (int b = 0; b < nb; b++) {
		float *x = w->x + (size_t)b * T * D;
		pfm_patchify(w->patches, img + (size_t)b * 3 * r->img * r->img,
			     r->img, r->img, p);
		lin(r, w, x + (size_t)r->prefix * D, w->patches, PFM_VP_PATCH_W,
		    m->off[PFM_VP_PATCH_W], pfm_vit_at(m, P, PFM_VP_PATCH_B),
		    r->N, 3 * p * p, D, 0);
		int t = 0;
		if (c->cls)
			memcpy(x + (size_t)t++ * D, pfm_vit_at(m, P, PFM_VP_CLS),
			       D * sizeof(float));
		for (int i = 0; i < c->reg; i++)
			memcpy(x + (size_t)t++ * D,
			       pfm_vit_at(m, P, PFM_VP_REG) + (size_t)i * D,
			       D * sizeof(float));
		/* pos covers the first pp prefix tokens, then the patches */
		for (int i = 0; i < pp; i++)
			for (int d = 0; d < D; d++)
				x[(size_t)i * D + d] += r->pos[(size_t)i * D + d];
		float *xp = x + (size_t)r->prefix * D;
		const float *pp_ = r->pos + (size_t)pp * D;
		for (size_t i = 0; i < (size_t)r->N * D; i++)
			xp[i] += pp_[i];
	}
}

/* The whole network on nb images starting at image b0. */
static void forward_slice(pfm_vit_run *r, vit_ws *w, int b0, int nb)
{
	const pfm_vit *m = r->m;
	const pfm_vit_config *c = &m->cfg;
	float *P = m->params;
	int D = c->dim, T = r->T, M = nb * T, H = c->hidden;
	int H1 = c->mlp == PFM_MLP_SWIGLU ? 2 * H : H;
	size_t Ds = D;
	embed_tokens(r, w, r->images + (size_t)b0 * 3 * r->img * r->img, nb);
	/* Biases after a GEMM go into the pass that follows it (residual +
	 * LayerNorm) or into the GEMM (fc1's, with its GELU): one trip over
	 * the rows fewer each. */
	pfm_layernorm(w->h, w->x, pfm_vit_at(m, P, PFM_VP_LN1_W),
		      pfm_vit_at(m, P, PFM_VP_LN1_B), M, D, c->eps);
	/* the activations between oneDNN's bf16 layers stay bf16 */
	int i16 = r->wdn && r->bf16 ? PFM_BF16_IN_BF16 : 0;
	int o16 = i16 ? PFM_BF16_OUT_BF16 : 0;
	for (int l = 0; l < c->depth; l++) {
#define LP(k, per) (pfm_vit_at(m, P, k) + (size_t)l * (per))
#define LO(k, per) (m->off[k] + (size_t)l * (per))
		const float *ls1 = c->layerscale ? LP(PFM_VP_LS1, Ds) : NULL;
		const float *ls2 = c->layerscale ? LP(PFM_VP_LS2, Ds) : NULL;
		lin(r, w, w->qkv, w->h, PFM_VP_QKV_W, LO(PFM_VP_QKV_W, 3 * Ds * D),
		    c->qkv_bias ? LP(PFM_VP_QKV_B, 3 * Ds) : NULL, M, D, 3 * D,
		    o16);
		attention(r, w, w->att, w->qkv, nb);
		lin(r, w, w->h, w->att, PFM_VP_PROJ_W, LO(PFM_VP_PROJ_W, Ds * D),
		    NULL, M, D, D, i16);
		pfm_residual_layernorm(w->x, w->h, LP(PFM_VP_PROJ_B, Ds), ls1,
				       LP(PFM_VP_LN2_W, Ds),
				       LP(PFM_VP_LN2_B, Ds), M, D, c->eps);
		const float *b1 = LP(PFM_VP_FC1_B, (size_t)H1);
		int f16 = 0; /* fc2's input flags */
		if (c->mlp == PFM_MLP_SWIGLU) {
			lin(r, w, w->u, w->h, PFM_VP_FC1_W,
			    LO(PFM_VP_FC1_W, (size_t)H1 * D), NULL, M, D, H1, 0);
			pfm_bias_swiglu(w->u, w->u, b1, M, H);
		} else { /* bias + GELU inside the GEMM */
			lin(r, w, w->u, w->h, PFM_VP_FC1_W,
			    LO(PFM_VP_FC1_W, (size_t)H1 * D), b1, M, D, H1,
			    PFM_BF16_GELU | o16);
			f16 = i16;
		}
		/* then LN1 of the next layer, or the final norm into tokens */
		int last = l + 1 == c->depth;
		float *y = last ? r->tokens + (size_t)b0 * T * D : w->h;
		lin(r, w, y, w->u, PFM_VP_FC2_W, LO(PFM_VP_FC2_W, Ds * H), NULL,
		    M, H, D, f16);
		const float *nw = last ? pfm_vit_at(m, P, PFM_VP_NORM_W)
				       : LP(PFM_VP_LN1_W, Ds) + Ds;
		const float *nb_ = last ? pfm_vit_at(m, P, PFM_VP_NORM_B)
					: LP(PFM_VP_LN1_B, Ds) + Ds;
		pfm_residual_layernorm(w->x, y, LP(PFM_VP_FC2_B, Ds), ls2, nw,
				       nb_, M, D, c->eps);
#undef LP
#undef LO
	}
}

typedef struct {
	pfm_vit_run *r;
	int t, b0, nb;
} slice_arg;

static void *slice_main(void *p)
{
	slice_arg *a = p;
	forward_slice(a->r, &a->r->ws[a->t], a->b0, a->nb);
	return NULL;
}

int pfm_vit_forward(pfm_vit_run *r, const float *images, int B, pfm_err *e)
{
	if (B <= 0 || B > r->max_batch)
		return pfm_errf(e, "batch of %d images (workspace holds %d)", B,
				r->max_batch);
	if (!r->dnn_tried && pfm_bf16_available() && !getenv("PFM_VIT_BLAS")) {
		/* fp32 through oneDNN; if it cannot, OpenBLAS serves (and
		 * PFM_VIT_BLAS=1 asks for it, to compare) */
		pfm_err ignored;
		r->dnn_tried = 1;
		dnn_setup(r, 0, &ignored);
	}
	r->images = images;
	r->B = B;
	int nt = r->nthreads < B ? r->nthreads : B;
	slice_arg args[nt];
	pthread_t th[nt];
	int started[nt];
	/* even split: the first B % nt threads take one image more */
	for (int t = 0, b0 = 0; t < nt; t++) {
		int nb = B / nt + (t < B % nt);
		args[t] = (slice_arg){r, t, b0, nb};
		b0 += nb;
	}
	for (int t = 1; t < nt; t++)
		started[t] = !pthread_create(&th[t], NULL, slice_main, &args[t]);
	/* a thread that could not start runs here, after slice 0 */
	slice_main(&args[0]);
	for (int t = 1; t < nt; t++) {
		if (started[t])
			pthread_join(th[t], NULL);
		else
			slice_main(&args[t]);
	}
	for (int t = 0; t < nt; t++)
		if (r->ws[t].failed) {
			r->ws[t].failed = 0;
			*e = r->ws[t].err;
			return -1;
		}
	return 0;
}

/* CoCa's attentional pooler over one image's tokens x[T, D]: ln_k,
 * multi-head cross-attention from the (ln_q) queries, out projection;
 * query 0, ln_contrast, then (proj) proj_contrast. out[P or pool_proj]. */
static int pool_one(const pfm_vit_run *r, const float *x, float *out,
		    int proj, pfm_err *e)
{
	const pfm_vit *m = r->m;
	const pfm_vit_config *c = &m->cfg;
	float *P_ = m->params;
	int T = r->T, D = c->dim, P = c->pool_dim, Q = c->pool_q;
	int nh = c->pool_heads, hd = P / nh;
	size_t need = (size_t)T * D + 2 * (size_t)T * P + 4 * (size_t)Q * P +
		      (size_t)T;
	float *buf = malloc(need * sizeof(float));
	if (!buf)
		return pfm_errf(e, "out of memory");
	float *kx = buf, *k = kx + (size_t)T * D, *v = k + (size_t)T * P;
	float *q0 = v + (size_t)T * P, *q = q0 + (size_t)Q * P;
	float *o = q + (size_t)Q * P, *y = o + (size_t)Q * P;
	float *s = y + (size_t)Q * P;
	const float *bqkv = pfm_vit_at(m, P_, PFM_VP_PBQKV);
	pfm_layernorm(kx, x, pfm_vit_at(m, P_, PFM_VP_PLNK_W),
		      pfm_vit_at(m, P_, PFM_VP_PLNK_B), T, D, c->pool_eps);
	pfm_linear(k, kx, pfm_vit_at(m, P_, PFM_VP_PWK), bqkv + P, T, D, P);
	pfm_linear(v, kx, pfm_vit_at(m, P_, PFM_VP_PWV), bqkv + 2 * P, T, D, P);
	pfm_layernorm(q0, pfm_vit_at(m, P_, PFM_VP_PQ),
		      pfm_vit_at(m, P_, PFM_VP_PLNQ_W),
		      pfm_vit_at(m, P_, PFM_VP_PLNQ_B), Q, P, c->pool_eps);
	pfm_linear(q, q0, pfm_vit_at(m, P_, PFM_VP_PWQ), bqkv, Q, P, P);
	float scale = 1.f / sqrtf((float)hd);
	/* only query 0 is used: attend with it alone */
	for (int h = 0; h < nh; h++) {
		const float *qh = q + h * hd;
		for (int t = 0; t < T; t++) {
			float acc = 0;
			for (int d = 0; d < hd; d++)
				acc += qh[d] * k[(size_t)t * P + h * hd + d];
			s[t] = acc * scale;
		}
		pfm_softmax_rows(s, 1, T);
		for (int d = 0; d < hd; d++) {
			float acc = 0;
			for (int t = 0; t < T; t++)
				acc += s[t] * v[(size_t)t * P + h * hd + d];
			o[h * hd + d] = acc;
		}
	}
	pfm_linear(y, o, pfm_vit_at(m, P_, PFM_VP_PWO),
		   pfm_vit_at(m, P_, PFM_VP_PBO), 1, P, P);
	pfm_layernorm(y, y, pfm_vit_at(m, P_, PFM_VP_PLN_W),
		      pfm_vit_at(m, P_, PFM_VP_PLN_B), 1, P, c->pool_eps);
	if (proj)
		cblas_sgemv(CblasRowMajor, CblasTrans, P, c->pool_proj, 1.f,
			    pfm_vit_at(m, P_, PFM_VP_PPROJ), c->pool_proj, y, 1,
			    0.f, out, 1);
	else
		memcpy(out, y, (size_t)P * sizeof(float));
	free(buf);
	return 0;
}

int pfm_vit_output(pfm_vit_run *r, int kind, float *out, pfm_err *e)
{
	const pfm_vit_config *c = &r->m->cfg;
	int od = pfm_vit_out_dim(c, kind), D = c->dim, T = r->T;
	if (!od)
		return pfm_errf(e, "model %s has no output \"%s\"", c->name,
				pfm_vit_out_name(kind));
	for (int b = 0; b < r->B; b++) {
		const float *x = r->tokens + (size_t)b * T * D;
		float *o = out + (size_t)b * od;
		if (kind == PFM_OUT_POOLED || kind == PFM_OUT_PROJ) {
			if (pool_one(r, x, o, kind == PFM_OUT_PROJ, e))
				return -1;
			continue;
		}
		float *mean = o;
		if (kind != PFM_OUT_MEAN) { /* cls first */
			memcpy(o, x, D * sizeof(float));
			mean = o + D;
		}
		if (kind == PFM_OUT_CLS)
			continue;
		for (int d = 0; d < D; d++) {
			double acc = 0;
			for (int t = r->prefix; t < T; t++)
				acc += x[(size_t)t * D + d];
			mean[d] = (float)(acc / r->N);
		}
	}
	return 0;
}
