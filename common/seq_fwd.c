/* seq_fwd.c: the encoder-decoder's forward pass that keeps what the
 * backward needs, the backward of every layer, and the losses (seq.h).
 * One example per call; activations live in the workspace arena. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "seq_int.h"
#include "vit_grad.h"
#include "vit_kernels.h"

#define TAKE(p, n)                                                            \
	do {                                                                  \
		if (!((p) = seq_ws_take(ws, (size_t)(n))))                    \
			return -1;                                            \
	} while (0)

/* What one attention sublayer keeps: LN out h and stats st, q [T, D],
 * k and v [Tk, D], probabilities p [H, T, Tk], heads' output a [T, D],
 * dropout mask (NULL: none). */
typedef struct {
	float *h, *st, *q, *k, *v, *p, *a, *mask;
} att_save;
/* The FFN's: LN out, stats, pre-activation f and activation fa [T, F]. */
typedef struct {
	float *h, *st, *f, *fa, *mask;
} ffn_save;
typedef struct {
	float *x, *x1, *x2, *y; /* input, after self-, cross-attention, out */
	att_save sa, ca;
	ffn_save ff;
} lay_save;

typedef struct {
	int N, Tr, T;            /* bag rows, image tokens, all tokens */
	float *pre, *r;          /* att_embed pre-activation, relu [N, D] */
	float *x0, *mask0;       /* encoder input [T, D], its dropout mask */
	lay_save L[SEQ_MAX_LAYERS];
	float *mem, *mst;        /* enc.norm output and stats [T, D] */
} enc_save;

typedef struct {
	int T;
	const int *in;           /* decoder input ids (bos first) [T] */
	float *x0, *mask0;
	lay_save L[SEQ_MAX_LAYERS];
	float *hn, *nst, *logits; /* dec.norm out, stats, logits [T, V] */
} dec_save;

/* out = x + drop(out) over n floats (x NULL: out = drop(out)), the mask
 * (0 or 1 / (1 - p) each, NULL when not training) kept in *mask. */
static int drop_add(pfm_seq_ws *ws, const pfm_seq_config *c, pfm_rng *drop,
		    float **mask, float *out, const float *x, size_t n)
{
	float *m = NULL;
	if (drop && c->dropout > 0) {
		float sc = 1.f / (1.f - c->dropout);
		TAKE(m, n);
		for (size_t i = 0; i < n; i++)
			m[i] = pfm_rng_uniform(drop) < c->dropout ? 0.f : sc;
	}
	*mask = m;
	for (size_t i = 0; i < n; i++)
		out[i] = (x ? x[i] : 0) + (m ? m[i] * out[i] : out[i]);
	return 0;
}

/* The backward of a pre-LN branch x + drop(f(LN(x))), at its two ends:
 * branch_dy: dy = drop(dout), the gradient at f's output;
 * branch_dx: dx = dout + LN'(dh) from dh at LN's output. */
static void branch_dy(float *dy, const float *dout, const float *mask,
		      size_t n)
{
	for (size_t i = 0; i < n; i++)
		dy[i] = mask ? dout[i] * mask[i] : dout[i];
}

static void branch_dx(float *dx, const float *dout, const float *dh,
		      const float *x, const float *st, const seq_lin *p,
		      const seq_lin *g, int T, int D)
{
	memcpy(dx, dout, (size_t)T * D * sizeof *dx);
	pfm_layernorm_bwd(dx, g->w, g->b, dh, x, st, p->w, T, D, 1);
}

/* seq_int.h */
void seq_attn_fwd(float *out, float *p, const float *q, const float *k,
		  const float *v, int Tq, int Tk, int D, int H, int causal,
		  int off)
{
	int hd = D / H;
	float sc = 1.f / sqrtf((float)hd);
	for (int h = 0; h < H; h++) {
		float *ph = p + (size_t)h * Tq * Tk;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, Tk, hd,
			    sc, q + h * hd, D, k + h * hd, D, 0.f, ph, Tk);
		for (int i = 0; i < Tq; i++) {
			float *row = ph + (size_t)i * Tk;
			int n = causal && i + off + 1 < Tk ? i + off + 1 : Tk;
			pfm_softmax_rows(row, 1, n);
			memset(row + n, 0, (size_t)(Tk - n) * sizeof *row);
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, hd,
			    Tk, 1.f, ph, Tk, v + h * hd, D, 0.f, out + h * hd,
			    D);
	}
}

/* dq [Tq, D], dk, dv [Tk, D] (overwritten) from dout [Tq, D]; ds:
 * scratch [Tq, Tk]. Masked probabilities are 0, so their scores get 0. */
static void attn_bwd(float *dq, float *dk, float *dv, float *ds,
		     const float *dout, const float *q, const float *k,
		     const float *v, const float *p, int Tq, int Tk, int D,
		     int H)
{
	int hd = D / H;
	float sc = 1.f / sqrtf((float)hd);
	for (int h = 0; h < H; h++) {
		const float *ph = p + (size_t)h * Tq * Tk;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, Tk, hd,
			    1.f, dout + h * hd, D, v + h * hd, D, 0.f, ds, Tk);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, hd, Tq,
			    1.f, ph, Tk, dout + h * hd, D, 0.f, dv + h * hd, D);
		for (int i = 0; i < Tq; i++) {
			const float *pr = ph + (size_t)i * Tk;
			float *dr = ds + (size_t)i * Tk, dot = 0;
			for (int j = 0; j < Tk; j++)
				dot += pr[j] * dr[j];
			for (int j = 0; j < Tk; j++)
				dr[j] = pr[j] * (dr[j] - dot);
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, hd,
			    Tk, sc, ds, Tk, k + h * hd, D, 0.f, dq + h * hd, D);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, hd, Tq,
			    sc, ds, Tk, q + h * hd, D, 0.f, dk + h * hd, D);
	}
}

/* out[T, D] = x + drop(o(attention(LN(x)))); src NULL: self-attention,
 * else keys and values from src[Tk, D]. */
static int att_fwd(pfm_seq_ws *ws, const pfm_seq_config *c, att_save *s,
		   float *out, const float *x, int T, const seq_lin *ln,
		   const seq_lin *lq, const seq_lin *lk, const seq_lin *lv,
		   const seq_lin *lo, const float *src, int Tk, int causal,
		   pfm_rng *drop)
{
	int D = c->d_model;
	TAKE(s->h, (size_t)T * D);
	TAKE(s->st, 2 * (size_t)T);
	TAKE(s->q, (size_t)T * D);
	pfm_layernorm_fwd(s->h, s->st, x, ln->w, ln->b, T, D, c->ln_eps);
	if (!src)
		src = s->h, Tk = T;
	TAKE(s->k, (size_t)Tk * D);
	TAKE(s->v, (size_t)Tk * D);
	TAKE(s->p, (size_t)c->heads * T * Tk);
	TAKE(s->a, (size_t)T * D);
	pfm_linear(s->q, s->h, lq->w, lq->b, T, D, D);
	pfm_linear(s->k, src, lk->w, lk->b, Tk, D, D);
	pfm_linear(s->v, src, lv->w, lv->b, Tk, D, D);
	seq_attn_fwd(s->a, s->p, s->q, s->k, s->v, T, Tk, D, c->heads, causal,
		     0);
	pfm_linear(out, s->a, lo->w, lo->b, T, D, D);
	return drop_add(ws, c, drop, &s->mask, out, x, (size_t)T * D);
}

/* dx[T, D] = dout + d(LN branch); parameter gradients into the g*
 * views; with src, dsrc[Tk, D] += the keys' and values' input gradient. */
static int att_bwd(pfm_seq_ws *ws, const pfm_seq_config *c,
		   const att_save *s, float *dx, const float *dout,
		   const float *x, int T, const seq_lin *p[5],
		   const seq_lin *g[5], const float *src, float *dsrc, int Tk)
{
	int D = c->d_model;
	size_t n = (size_t)T * D;
	float *dy, *da, *dq, *dk, *dv, *ds, *dh;
	if (!src)
		Tk = T;
	TAKE(dy, n);
	TAKE(da, n);
	TAKE(dq, n);
	TAKE(dh, n);
	TAKE(dk, (size_t)Tk * D);
	TAKE(dv, (size_t)Tk * D);
	TAKE(ds, (size_t)T * Tk);
	branch_dy(dy, dout, s->mask, n);
	/* p/g: ln, q, k, v, o */
	pfm_linear_bwd(da, g[4]->w, g[4]->b, dy, s->a, p[4]->w, T, D, D, 0);
	attn_bwd(dq, dk, dv, ds, da, s->q, s->k, s->v, s->p, T, Tk, D,
		 c->heads);
	pfm_linear_bwd(dh, g[1]->w, g[1]->b, dq, s->h, p[1]->w, T, D, D, 0);
	const float *kin = src ? src : s->h;
	float *dkin = src ? dsrc : dh;
	/* the key bias's gradient is zero in exact arithmetic (it adds
	 * q . b to every score of a row, which softmax ignores): left out,
	 * so that rounding noise does not become AdamW steps */
	pfm_linear_bwd(dkin, g[2]->w, NULL, dk, kin, p[2]->w, Tk, D, D, 1);
	pfm_linear_bwd(dkin, g[3]->w, g[3]->b, dv, kin, p[3]->w, Tk, D, D, 1);
	branch_dx(dx, dout, dh, x, s->st, p[0], g[0], T, D);
	return 0;
}

static int ffn_fwd(pfm_seq_ws *ws, const pfm_seq_config *c, ffn_save *s,
		   float *out, const float *x, int T, const seq_lin *ln,
		   const seq_lin *fc1, const seq_lin *fc2, pfm_rng *drop)
{
	int D = c->d_model, F = c->d_ff;
	size_t nf = (size_t)T * F;
	TAKE(s->h, (size_t)T * D);
	TAKE(s->st, 2 * (size_t)T);
	TAKE(s->f, nf);
	TAKE(s->fa, nf);
	pfm_layernorm_fwd(s->h, s->st, x, ln->w, ln->b, T, D, c->ln_eps);
	pfm_linear(s->f, s->h, fc1->w, fc1->b, T, D, F);
	if (c->act == PFM_SEQ_GELU) {
		memcpy(s->fa, s->f, nf * sizeof *s->fa);
		pfm_bias_gelu(s->fa, NULL, (size_t)T, F);
	} else {
		for (size_t i = 0; i < nf; i++)
			s->fa[i] = s->f[i] > 0 ? s->f[i] : 0;
	}
	pfm_linear(out, s->fa, fc2->w, fc2->b, T, F, D);
	return drop_add(ws, c, drop, &s->mask, out, x, (size_t)T * D);
}

static int ffn_bwd(pfm_seq_ws *ws, const pfm_seq_config *c,
		   const ffn_save *s, float *dx, const float *dout,
		   const float *x, int T, const seq_lin *p[3],
		   const seq_lin *g[3])
{
	int D = c->d_model, F = c->d_ff;
	size_t n = (size_t)T * D, nf = (size_t)T * F;
	float *dy, *df, *dh;
	TAKE(dy, n);
	TAKE(df, nf);
	TAKE(dh, n);
	branch_dy(dy, dout, s->mask, n);
	/* p/g: ln, fc1, fc2 */
	pfm_linear_bwd(df, g[2]->w, g[2]->b, dy, s->fa, p[2]->w, T, F, D, 0);
	if (c->act == PFM_SEQ_GELU)
		pfm_gelu_bwd(df, df, s->f, nf);
	else
		for (size_t i = 0; i < nf; i++)
			df[i] = s->f[i] > 0 ? df[i] : 0;
	pfm_linear_bwd(dh, g[1]->w, g[1]->b, df, s->h, p[1]->w, T, D, F, 0);
	branch_dx(dx, dout, dh, x, s->st, p[0], g[0], T, D);
	return 0;
}

/* One layer forward: x[T, D] -> s->y; mem NULL: an encoder layer. */
static int layer_fwd(pfm_seq_ws *ws, const pfm_seq_config *c, lay_save *s,
		     const seq_layer *w, const float *x, int T,
		     const float *mem, int Tm, pfm_rng *drop)
{
	size_t n = (size_t)T * c->d_model;
	s->x = (float *)x;
	TAKE(s->x1, n);
	TAKE(s->y, n);
	if (att_fwd(ws, c, &s->sa, s->x1, x, T, &w->ln1, &w->q, &w->k, &w->v,
		    &w->o, NULL, 0, mem != NULL, drop))
		return -1;
	const float *f_in = s->x1;
	if (mem) {
		TAKE(s->x2, n);
		if (att_fwd(ws, c, &s->ca, s->x2, s->x1, T, &w->ln2, &w->cq,
			    &w->ck, &w->cv, &w->co, mem, Tm, 0, drop))
			return -1;
		f_in = s->x2;
	}
	return ffn_fwd(ws, c, &s->ff, s->y, f_in, T, mem ? &w->ln3 : &w->ln2,
		       &w->fc1, &w->fc2, drop);
}

/* dx[T, D] from dy; with mem, dmem[Tm, D] += its gradient. dy is
 * clobbered. */
static int layer_bwd(pfm_seq_ws *ws, const pfm_seq_config *c,
		     const lay_save *s, const seq_layer *w, const seq_layer *g,
		     float *dx, float *dy, int T, const float *mem, float *dmem,
		     int Tm)
{
	float *dmid;
	TAKE(dmid, (size_t)T * c->d_model);
	const seq_lin *pf[3] = {mem ? &w->ln3 : &w->ln2, &w->fc1, &w->fc2};
	const seq_lin *gf[3] = {mem ? &g->ln3 : &g->ln2, &g->fc1, &g->fc2};
	if (ffn_bwd(ws, c, &s->ff, dmid, dy, mem ? s->x2 : s->x1, T, pf, gf))
		return -1;
	if (mem) {
		const seq_lin *pc[5] = {&w->ln2, &w->cq, &w->ck, &w->cv, &w->co};
		const seq_lin *gc[5] = {&g->ln2, &g->cq, &g->ck, &g->cv, &g->co};
		if (att_bwd(ws, c, &s->ca, dy, dmid, s->x1, T, pc, gc, mem,
			    dmem, Tm))
			return -1;
		memcpy(dmid, dy, (size_t)T * c->d_model * sizeof *dy);
	}
	const seq_lin *ps[5] = {&w->ln1, &w->q, &w->k, &w->v, &w->o};
	const seq_lin *gs[5] = {&g->ln1, &g->q, &g->k, &g->v, &g->o};
	return att_bwd(ws, c, &s->sa, dx, dmid, s->x, T, ps, gs, NULL, NULL, 0);
}

/* tok_emb(id) * sqrt(D) + PE(pos) into out[D] */
static void embed_token(float *out, const float *tok_emb, int id, int pos,
			int D)
{
	float sc = sqrtf((float)D);
	const float *e = tok_emb + (size_t)id * D;
	seq_pos_enc(out, pos, D);
	for (int i = 0; i < D; i++)
		out[i] += e[i] * sc;
}

static int is_vqa(int task)
{
	return task == PFM_SEQ_VQA_CLS || task == PFM_SEQ_VQA_GEN;
}

/* The encoder: bag (and question) -> s->mem. */
static int enc_fwd(pfm_seq_ws *ws, const pfm_seq_config *c,
		   const seq_view *w, enc_save *s, int task,
		   const pfm_seq_example *ex, pfm_rng *drop)
{
	int D = c->d_model, R = c->region;
	int lq = is_vqa(task) ? ex->len : 0;
	s->N = ex->n;
	s->Tr = R > 0 ? (ex->n + R - 1) / R : ex->n;
	s->T = s->Tr + lq;
	size_t n = (size_t)s->T * D;
	TAKE(s->pre, (size_t)s->N * D);
	TAKE(s->r, (size_t)s->N * D);
	TAKE(s->x0, n);
	pfm_linear(s->pre, ex->x, w->embed.w, w->embed.b, s->N, c->d_in, D);
	for (size_t i = 0; i < (size_t)s->N * D; i++)
		s->r[i] = s->pre[i] > 0 ? s->pre[i] : 0;
	if (R > 0) {
		for (int t = 0; t < s->Tr; t++) {
			int lo = t * R, hi = lo + R < s->N ? lo + R : s->N;
			float *o = s->x0 + (size_t)t * D;
			memset(o, 0, D * sizeof *o);
			for (int i = lo; i < hi; i++)
				for (int j = 0; j < D; j++)
					o[j] += s->r[(size_t)i * D + j];
			for (int j = 0; j < D; j++)
				o[j] /= (float)(hi - lo);
		}
	} else {
		memcpy(s->x0, s->r, (size_t)s->N * D * sizeof *s->x0);
	}
	if (is_vqa(task)) {
		for (int t = 0; t < s->T; t++) {
			float *o = s->x0 + (size_t)t * D;
			const float *seg = w->seg + (t < s->Tr ? 0 : D);
			if (t >= s->Tr)
				embed_token(o, w->tok_emb, ex->tok[t - s->Tr],
					    t - s->Tr, D);
			for (int j = 0; j < D; j++)
				o[j] += seg[j];
		}
	}
	if (drop_add(ws, c, drop, &s->mask0, s->x0, NULL, n))
		return -1;
	const float *x = s->x0;
	for (int l = 0; l < c->enc_layers; l++) {
		if (layer_fwd(ws, c, &s->L[l], &w->enc[l], x, s->T, NULL, 0,
			      drop))
			return -1;
		x = s->L[l].y;
	}
	TAKE(s->mem, n);
	TAKE(s->mst, 2 * (size_t)s->T);
	pfm_layernorm_fwd(s->mem, s->mst, x, w->enc_norm.w, w->enc_norm.b, s->T,
			  D, c->ln_eps);
	return 0;
}

/* From dmem[T, D] (clobbered) to the parameters and dx[N, d_in]. */
static int enc_bwd(pfm_seq_ws *ws, const pfm_seq_config *c,
		   const seq_view *w, const seq_view *g, const enc_save *s,
		   int task, const pfm_seq_example *ex, float *dmem, float *dx)
{
	int D = c->d_model, R = c->region, L = c->enc_layers;
	size_t n = (size_t)s->T * D;
	float *dy, *da;
	TAKE(dy, n);
	TAKE(da, n);
	const float *xl = L ? s->L[L - 1].y : s->x0;
	pfm_layernorm_bwd(dy, g->enc_norm.w, g->enc_norm.b, dmem, xl, s->mst,
			  w->enc_norm.w, s->T, D, 0);
	for (int l = L - 1; l >= 0; l--) {
		if (layer_bwd(ws, c, &s->L[l], &w->enc[l], &g->enc[l], da, dy,
			      s->T, NULL, NULL, 0))
			return -1;
		float *t = dy;
		dy = da, da = t;
	}
	if (s->mask0)
		for (size_t i = 0; i < n; i++)
			dy[i] *= s->mask0[i];
	if (is_vqa(task)) {
		float sc = sqrtf((float)D);
		for (int t = 0; t < s->T; t++) {
			const float *d = dy + (size_t)t * D;
			float *gs = g->seg + (t < s->Tr ? 0 : D);
			for (int j = 0; j < D; j++)
				gs[j] += d[j];
			if (t >= s->Tr) {
				float *ge = g->tok_emb +
					    (size_t)ex->tok[t - s->Tr] * D;
				for (int j = 0; j < D; j++)
					ge[j] += d[j] * sc;
			}
		}
	}
	/* unpool, relu', att_embed */
	float *dpre;
	TAKE(dpre, (size_t)s->N * D);
	for (int i = 0; i < s->N; i++) {
		int t = R > 0 ? i / R : i;
		float k = 1;
		if (R > 0) {
			int lo = t * R, hi = lo + R < s->N ? lo + R : s->N;
			k = 1.f / (float)(hi - lo);
		}
		for (int j = 0; j < D; j++) {
			size_t a = (size_t)i * D + j;
			dpre[a] = s->pre[a] > 0 ? dy[(size_t)t * D + j] * k : 0;
		}
	}
	pfm_linear_bwd(dx, g->embed.w, g->embed.b, dpre, ex->x, w->embed.w,
		       s->N, c->d_in, D, 0);
	return 0;
}

static int dec_fwd(pfm_seq_ws *ws, const pfm_seq_config *c,
		   const seq_view *w, dec_save *s, const int *in, int T,
		   const float *mem, int Tm, pfm_rng *drop)
{
	int D = c->d_model;
	size_t n = (size_t)T * D;
	s->T = T, s->in = in;
	TAKE(s->x0, n);
	for (int t = 0; t < T; t++)
		embed_token(s->x0 + (size_t)t * D, w->tok_emb, in[t], t, D);
	if (drop_add(ws, c, drop, &s->mask0, s->x0, NULL, n))
		return -1;
	const float *x = s->x0;
	for (int l = 0; l < c->dec_layers; l++) {
		if (layer_fwd(ws, c, &s->L[l], &w->dec[l], x, T, mem, Tm, drop))
			return -1;
		x = s->L[l].y;
	}
	TAKE(s->hn, n);
	TAKE(s->nst, 2 * (size_t)T);
	TAKE(s->logits, (size_t)T * c->vocab);
	pfm_layernorm_fwd(s->hn, s->nst, x, w->dec_norm.w, w->dec_norm.b, T, D,
			  c->ln_eps);
	pfm_linear(s->logits, s->hn, w->out.w, w->out.b, T, D, c->vocab);
	return 0;
}

/* From dlogits[T, V] to the parameters, dmem[Tm, D] (+=). */
static int dec_bwd(pfm_seq_ws *ws, const pfm_seq_config *c,
		   const seq_view *w, const seq_view *g, const dec_save *s,
		   const float *dlogits, const float *mem, float *dmem, int Tm)
{
	int D = c->d_model, T = s->T, L = c->dec_layers;
	size_t n = (size_t)T * D;
	float *dh, *dy, *da;
	TAKE(dh, n);
	TAKE(dy, n);
	TAKE(da, n);
	pfm_linear_bwd(dh, g->out.w, g->out.b, dlogits, s->hn, w->out.w, T, D,
		       c->vocab, 0);
	pfm_layernorm_bwd(dy, g->dec_norm.w, g->dec_norm.b, dh, s->L[L - 1].y,
			  s->nst, w->dec_norm.w, T, D, 0);
	for (int l = L - 1; l >= 0; l--) {
		if (layer_bwd(ws, c, &s->L[l], &w->dec[l], &g->dec[l], da, dy,
			      T, mem, dmem, Tm))
			return -1;
		float *t = dy;
		dy = da, da = t;
	}
	float sc = sqrtf((float)D);
	for (int t = 0; t < T; t++) {
		float *ge = g->tok_emb + (size_t)s->in[t] * D;
		const float *d = dy + (size_t)t * D;
		const float *mk = s->mask0 ? s->mask0 + (size_t)t * D : NULL;
		for (int j = 0; j < D; j++)
			ge[j] += (mk ? d[j] * mk[j] : d[j]) * sc;
	}
	return 0;
}

/* Cross-entropy with label smoothing s of logits z[V] for target y:
 * returns -(1-s) logp[y] - s/V sum logp; dz (when) = scale * gradient. */
static double xent(float *dz, const float *z, int V, int y, float s,
		   float scale)
{
	float mx = z[0];
	for (int j = 1; j < V; j++)
		mx = z[j] > mx ? z[j] : mx;
	double se = 0, sz = 0;
	for (int j = 0; j < V; j++)
		se += exp((double)z[j] - mx), sz += (double)z[j] - mx;
	double lse = log(se);
	double loss = -(1 - s) * ((double)z[y] - mx - lse) -
		      s / V * (sz - V * lse);
	if (dz)
		for (int j = 0; j < V; j++)
			dz[j] = (float)(scale * (exp((double)z[j] - mx - lse) -
						 (j == y ? 1 - s : 0) - s / V));
	return loss;
}

static int dec_tokens(int task, const pfm_seq_example *ex, const int **t)
{
	*t = task == PFM_SEQ_VQA_GEN ? ex->ans : ex->tok;
	return task == PFM_SEQ_VQA_GEN ? ex->ans_len : ex->len;
}

int pfm_seq_count_targets(const pfm_seq *m, int task,
			  const pfm_seq_example *ex)
{
	if (task == PFM_SEQ_VQA_CLS)
		return ex->answer >= 0;
	const int *t;
	int k = dec_tokens(task, ex, &t), n = m->c.eos != m->c.pad;
	for (int i = 0; i < k; i++)
		n += t[i] != m->c.pad;
	return n;
}

int seq_check_example(const pfm_seq *m, int task, const pfm_seq_example *ex,
		      pfm_err *e)
{
	const pfm_seq_config *c = &m->c;
	if (task < PFM_SEQ_REPORT || task > PFM_SEQ_VQA_GEN)
		return pfm_errf(e, "seq: unknown task %d", task);
	if (is_vqa(task) && c->n_answers <= 0)
		return pfm_errf(e, "seq: a VQA task on a model without a VQA "
			       "head (n_answers 0)");
	if (task != PFM_SEQ_VQA_CLS && c->dec_layers <= 0)
		return pfm_errf(e, "seq: a generation task on a model without "
			       "a decoder");
	if (ex->n < 1 || !ex->x)
		return pfm_errf(e, "seq: an empty bag");
	if (task == PFM_SEQ_VQA_CLS && ex->answer >= c->n_answers)
		return pfm_errf(e, "seq: answer %d not in [0, %d)", ex->answer,
				c->n_answers);
	const char *what[2] = {"tokens", "answer tokens"};
	const int *ts[2] = {ex->tok, ex->ans};
	int ls[2] = {ex->len, task == PFM_SEQ_VQA_GEN ? ex->ans_len : 0};
	if (task == PFM_SEQ_REPORT)
		what[0] = "report tokens";
	else
		what[0] = "question tokens";
	for (int k = 0; k < 2; k++) {
		if (ls[k] < 0 || ls[k] > c->max_len)
			return pfm_errf(e, "seq: %d %s, not in [0, max_len %d]",
					ls[k], what[k], c->max_len);
		if (ls[k] && !ts[k])
			return pfm_errf(e, "seq: no %s", what[k]);
		for (int i = 0; i < ls[k]; i++)
			if (ts[k][i] < 0 || ts[k][i] >= c->vocab)
				return pfm_errf(e, "seq: %s[%d] = %d not in "
					       "[0, vocab %d)", what[k], i,
					       ts[k][i], c->vocab);
	}
	return 0;
}

static void views(const pfm_seq *m, pfm_seq_ws *ws, float *grad)
{
	seq_walk(&m->c, m->params, &ws->pv, NULL, NULL);
	if (grad)
		seq_walk(&m->c, grad, &ws->gv, NULL, NULL);
}

/* The whole example; logits (when) receive the output. */
static int example(const pfm_seq *m, pfm_seq_ws *ws, int task,
		   const pfm_seq_example *ex, float smoothing, float scale,
		   float *grad, float *dx, pfm_rng *drop, double *loss,
		   int *n_counted, float *logits_out)
{
	const pfm_seq_config *c = &m->c;
	int D = c->d_model, V = c->vocab, A = c->n_answers;
	const seq_view *w = &ws->pv, *g = &ws->gv;
	int bwd = grad != NULL;
	enc_save es;
	dec_save ds;
	float *dmem = NULL, *dlog = NULL;
	double sum = 0;
	int cnt = 0;
	if (enc_fwd(ws, c, w, &es, task, ex, drop))
		return -1;
	if (bwd) {
		TAKE(dmem, (size_t)es.T * D);
		memset(dmem, 0, (size_t)es.T * D * sizeof *dmem);
	}
	if (task == PFM_SEQ_VQA_CLS) {
		float *pool, *z;
		TAKE(pool, D);
		TAKE(z, A);
		for (int j = 0; j < D; j++) {
			float sacc = 0;
			for (int t = 0; t < es.T; t++)
				sacc += es.mem[(size_t)t * D + j];
			pool[j] = sacc / (float)es.T;
		}
		pfm_linear(z, pool, w->cls.w, w->cls.b, 1, D, A);
		if (logits_out)
			memcpy(logits_out, z, (size_t)A * sizeof *z);
		float *dz = NULL, *dp = NULL;
		if (bwd) {
			TAKE(dz, A);
			TAKE(dp, D);
		}
		if (ex->answer >= 0) {
			sum = xent(dz, z, A, ex->answer, smoothing, scale);
			cnt = 1;
			if (bwd) {
				pfm_linear_bwd(dp, g->cls.w, g->cls.b, dz, pool,
					       w->cls.w, 1, D, A, 0);
				for (int t = 0; t < es.T; t++)
					for (int j = 0; j < D; j++)
						dmem[(size_t)t * D + j] =
							dp[j] / (float)es.T;
			}
		}
	} else {
		const int *tk;
		int k = dec_tokens(task, ex, &tk), T = k + 1;
		int *in = (int *)seq_ws_take(ws, (size_t)T);
		if (!in)
			return -1;
		in[0] = c->bos;
		memcpy(in + 1, tk, (size_t)k * sizeof *in);
		if (dec_fwd(ws, c, w, &ds, in, T, es.mem, es.T, drop))
			return -1;
		if (logits_out)
			memcpy(logits_out, ds.logits,
			       (size_t)T * V * sizeof *logits_out);
		if (bwd)
			TAKE(dlog, (size_t)T * V);
		for (int t = 0; t < T; t++) {
			int y = t < k ? tk[t] : c->eos;
			float *dz = dlog ? dlog + (size_t)t * V : NULL;
			if (y == c->pad) {
				if (dz)
					memset(dz, 0, (size_t)V * sizeof *dz);
				continue;
			}
			sum += xent(dz, ds.logits + (size_t)t * V, V, y,
				    smoothing, scale);
			cnt++;
		}
		if (bwd && dec_bwd(ws, c, w, g, &ds, dlog, es.mem, dmem, es.T))
			return -1;
	}
	if (bwd && enc_bwd(ws, c, w, g, &es, task, ex, dmem, dx))
		return -1;
	if (loss)
		*loss = sum;
	if (n_counted)
		*n_counted = cnt;
	return 0;
}

int pfm_seq_loss(const pfm_seq *m, pfm_seq_ws *ws, int task,
		 const pfm_seq_example *ex, float smoothing, float scale,
		 float *grad, float *dx, pfm_rng *drop, double *loss,
		 int *n_counted, pfm_err *e)
{
	if (seq_check_example(m, task, ex, e))
		return -1;
	if (!(smoothing >= 0 && smoothing <= 1))
		return pfm_errf(e, "seq: label smoothing %g not in [0, 1]",
				smoothing);
	if (dx && !grad)
		return pfm_errf(e, "seq: an input gradient needs a parameter "
			       "gradient buffer");
	seq_ws_reset(ws);
	views(m, ws, grad);
	if (example(m, ws, task, ex, smoothing, scale, grad, dx, drop, loss,
		    n_counted, NULL))
		return pfm_errf(e, "seq: out of memory for an example of %d "
			       "rows", ex->n);
	return 0;
}

int pfm_seq_logits(const pfm_seq *m, pfm_seq_ws *ws, int task,
		   const pfm_seq_example *ex, float *logits, pfm_err *e)
{
	if (seq_check_example(m, task, ex, e))
		return -1;
	seq_ws_reset(ws);
	views(m, ws, NULL);
	if (example(m, ws, task, ex, 0, 1, NULL, NULL, NULL, NULL, NULL,
		    logits))
		return pfm_errf(e, "seq: out of memory for an example of %d "
			       "rows", ex->n);
	return 0;
}

int pfm_seq_vqa_predict(const pfm_seq *m, pfm_seq_ws *ws,
			const pfm_seq_example *ex, float *logits, pfm_err *e)
{
	return pfm_seq_logits(m, ws, PFM_SEQ_VQA_CLS, ex, logits, e);
}

int seq_memory(const pfm_seq *m, pfm_seq_ws *ws, int task,
	       const pfm_seq_example *ex, float **mem, int *tm, pfm_err *e)
{
	enc_save es;
	if (seq_check_example(m, task, ex, e))
		return -1;
	seq_ws_reset(ws);
	views(m, ws, NULL);
	if (enc_fwd(ws, &m->c, &ws->pv, &es, task, ex, NULL))
		return pfm_errf(e, "seq: out of memory for an example of %d "
			       "rows", ex->n);
	*mem = es.mem, *tm = es.T;
	return 0;
}
