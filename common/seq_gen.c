/* seq_gen.c: decoding (seq.h): greedy and beam search over a key/value
 * cache, so that each step runs the decoder on one new token per
 * hypothesis; repetition penalty and no_repeat_ngram_size. */
#include <math.h>
#include <string.h>

#include "seq_int.h"
#include "vit_kernels.h"

/* The decoder's state for up to B hypotheses of up to L tokens. */
typedef struct {
	const pfm_seq *m;
	const seq_view *w;
	int B, L, Tm;
	float **ck, **cv;   /* cross keys, values per layer [Tm, D] */
	float *kc, *vc;     /* self keys, values [B][layers][L + 1][D] */
	float *kc2, *vc2;   /* the same, for reordering */
	float *x, *h, *q, *k, *v, *a, *t, *f, *p;
	float *logits;      /* [B, V] */
} gen_state;

static size_t cache_at(const gen_state *s, int b, int l, int pos)
{
	return (((size_t)b * s->m->c.dec_layers + l) * (s->L + 1) + pos) *
	       s->m->c.d_model;
}

static int gen_init(gen_state *s, pfm_seq_ws *ws, const pfm_seq *m,
		    const float *mem, int Tm, int B, int L)
{
	const pfm_seq_config *c = &m->c;
	int D = c->d_model, nl = c->dec_layers;
	size_t nc = (size_t)B * nl * (L + 1) * D;
	int tk = Tm > L + 1 ? Tm : L + 1;
	s->m = m, s->w = &ws->pv, s->B = B, s->L = L, s->Tm = Tm;
	s->ck = (float **)seq_ws_take(ws, 2 * (size_t)nl * sizeof(float *) /
						  sizeof(float) + 2);
	if (!s->ck)
		return -1;
	s->cv = s->ck + nl;
	float **bufs[] = {&s->kc, &s->vc, &s->kc2, &s->vc2};
	for (int i = 0; i < 4; i++)
		if (!(*bufs[i] = seq_ws_take(ws, nc)))
			return -1;
	float **sc[] = {&s->x, &s->h, &s->q, &s->k, &s->v, &s->a, &s->t};
	for (int i = 0; i < 7; i++)
		if (!(*sc[i] = seq_ws_take(ws, (size_t)B * D)))
			return -1;
	if (!(s->f = seq_ws_take(ws, (size_t)B * c->d_ff)) ||
	    !(s->p = seq_ws_take(ws, (size_t)c->heads * tk)) ||
	    !(s->logits = seq_ws_take(ws, (size_t)B * c->vocab)))
		return -1;
	for (int l = 0; l < nl; l++) {
		const seq_layer *y = &s->w->dec[l];
		if (!(s->ck[l] = seq_ws_take(ws, (size_t)Tm * D)) ||
		    !(s->cv[l] = seq_ws_take(ws, (size_t)Tm * D)))
			return -1;
		pfm_linear(s->ck[l], mem, y->ck.w, y->ck.b, Tm, D, D);
		pfm_linear(s->cv[l], mem, y->cv.w, y->cv.b, Tm, D, D);
	}
	return 0;
}

static void add_into(float *x, const float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = x[i] + y[i];
}

/* One step: hypothesis b (of nb) feeds tok[b] at position pos (its cache
 * holds 0..pos-1); s->logits[nb, V]. */
static void gen_step(gen_state *s, const int *tok, int nb, int pos)
{
	const pfm_seq_config *c = &s->m->c;
	const seq_view *w = s->w;
	int D = c->d_model, F = c->d_ff;
	size_t n = (size_t)nb * D;
	float sc = sqrtf((float)D);
	for (int b = 0; b < nb; b++) {
		float *x = s->x + (size_t)b * D;
		const float *e = w->tok_emb + (size_t)tok[b] * D;
		seq_pos_enc(x, pos, D);
		for (int j = 0; j < D; j++)
			x[j] += e[j] * sc;
	}
	for (int l = 0; l < c->dec_layers; l++) {
		const seq_layer *y = &w->dec[l];
		pfm_layernorm(s->h, s->x, y->ln1.w, y->ln1.b, nb, D, c->ln_eps);
		pfm_linear(s->q, s->h, y->q.w, y->q.b, nb, D, D);
		pfm_linear(s->k, s->h, y->k.w, y->k.b, nb, D, D);
		pfm_linear(s->v, s->h, y->v.w, y->v.b, nb, D, D);
		for (int b = 0; b < nb; b++) {
			size_t at = cache_at(s, b, l, 0);
			memcpy(s->kc + at + (size_t)pos * D, s->k + (size_t)b * D,
			       D * sizeof(float));
			memcpy(s->vc + at + (size_t)pos * D, s->v + (size_t)b * D,
			       D * sizeof(float));
			seq_attn_fwd(s->a + (size_t)b * D, s->p,
				     s->q + (size_t)b * D, s->kc + at,
				     s->vc + at, 1, pos + 1, D, c->heads, 0, 0);
		}
		pfm_linear(s->t, s->a, y->o.w, y->o.b, nb, D, D);
		add_into(s->x, s->t, n);
		pfm_layernorm(s->h, s->x, y->ln2.w, y->ln2.b, nb, D, c->ln_eps);
		pfm_linear(s->q, s->h, y->cq.w, y->cq.b, nb, D, D);
		for (int b = 0; b < nb; b++)
			seq_attn_fwd(s->a + (size_t)b * D, s->p,
				     s->q + (size_t)b * D, s->ck[l], s->cv[l], 1,
				     s->Tm, D, c->heads, 0, 0);
		pfm_linear(s->t, s->a, y->co.w, y->co.b, nb, D, D);
		add_into(s->x, s->t, n);
		pfm_layernorm(s->h, s->x, y->ln3.w, y->ln3.b, nb, D, c->ln_eps);
		pfm_linear(s->f, s->h, y->fc1.w, y->fc1.b, nb, D, F);
		if (c->act == PFM_SEQ_GELU)
			pfm_bias_gelu(s->f, NULL, (size_t)nb, F);
		else
			for (size_t i = 0; i < (size_t)nb * F; i++)
				s->f[i] = s->f[i] > 0 ? s->f[i] : 0;
		pfm_linear(s->t, s->f, y->fc2.w, y->fc2.b, nb, F, D);
		add_into(s->x, s->t, n);
	}
	pfm_layernorm(s->h, s->x, w->dec_norm.w, w->dec_norm.b, nb, D,
		      c->ln_eps);
	pfm_linear(s->logits, s->h, w->out.w, w->out.b, nb, D, c->vocab);
}

/* Hypothesis b' continues parent[b']: caches rows 0..pos copied. */
static void gen_reorder(gen_state *s, const int *parent, int nb, int pos)
{
	const pfm_seq_config *c = &s->m->c;
	size_t row = (size_t)(pos + 1) * c->d_model * sizeof(float);
	for (int b = 0; b < nb; b++)
		for (int l = 0; l < c->dec_layers; l++) {
			size_t to = cache_at(s, b, l, 0);
			size_t from = cache_at(s, parent[b], l, 0);
			memcpy(s->kc2 + to, s->kc + from, row);
			memcpy(s->vc2 + to, s->vc + from, row);
		}
	float *t = s->kc;
	s->kc = s->kc2, s->kc2 = t;
	t = s->vc, s->vc = s->vc2, s->vc2 = t;
}

/* Logits z[V] of a hypothesis with generated tokens g[0..k) into
 * log-probabilities: repetition penalty, log-softmax, n-gram bans.
 * stamp[V]: scratch marks (values < mark are clear). */
static void process(float *z, const int *g, int k, int bos,
		    const pfm_seq_gen_opts *o, int V, int *stamp, int mark)
{
	float rp = o->repetition_penalty;
	if (rp > 0 && rp != 1)
		for (int i = 0; i < k; i++) {
			if (stamp[g[i]] == mark)
				continue;
			stamp[g[i]] = mark;
			float *v = &z[g[i]];
			*v = *v < 0 ? *v * rp : *v / rp;
		}
	float mx = z[0];
	for (int j = 1; j < V; j++)
		mx = z[j] > mx ? z[j] : mx;
	double se = 0;
	for (int j = 0; j < V; j++)
		se += exp((double)z[j] - mx);
	float lse = (float)log(se);
	for (int j = 0; j < V; j++)
		z[j] = z[j] - mx - lse;
	int n = o->no_repeat_ngram, len = k + 1; /* bos + generated */
	if (n <= 0 || len + 1 < n)
		return;
#define SEQ_AT(i) ((i) == 0 ? bos : g[(i) - 1])
	for (int i = 0; i + n <= len; i++) {
		int same = 1;
		for (int j = 0; j < n - 1 && same; j++)
			same = SEQ_AT(i + j) == SEQ_AT(len - n + 1 + j);
		if (same)
			z[SEQ_AT(i + n - 1)] = -INFINITY;
	}
#undef SEQ_AT
}

static double norm_score(double sum, int len, float alpha)
{
	return alpha != 0 ? sum / pow((double)len, alpha) : sum;
}

typedef struct {
	double s;
	int b, v;
} cand;

/* Search state that lives in the workspace. */
typedef struct {
	int *seq, *seq2;   /* alive tokens [B][L] */
	double *sum, *sum2;
	int *fin;          /* finished tokens [nf_max][L] */
	int *fin_len;
	double *fin_score;
	int nf, nf_max;
	int *stamp, mark;
	int *tok, *parent;
	cand *top;
} search;

static int search_init(search *r, pfm_seq_ws *ws, int B, int L, int V)
{
	r->nf_max = B * (L + 1) + B;
	size_t ni = 2 * (size_t)B * L + (size_t)r->nf_max * (L + 1) + V +
		    2 * (size_t)B;
	int *ip = (int *)seq_ws_take(ws, ni);
	double *dp = (double *)seq_ws_take(ws, 2 * (2 * (size_t)B +
						    (size_t)r->nf_max));
	cand *cp = (cand *)seq_ws_take(ws, 4 * (2 * (size_t)B));
	if (!ip || !dp || !cp)
		return -1;
	r->seq = ip, r->seq2 = ip + (size_t)B * L;
	r->fin = r->seq2 + (size_t)B * L;
	r->fin_len = r->fin + (size_t)r->nf_max * L;
	r->stamp = r->fin_len + r->nf_max;
	r->tok = r->stamp + V, r->parent = r->tok + B;
	r->sum = dp, r->sum2 = dp + B, r->fin_score = dp + 2 * B;
	r->top = cp;
	r->nf = 0, r->mark = 0;
	memset(r->stamp, 0xff, (size_t)V * sizeof *r->stamp); /* -1: clear */
	return 0;
}

static void finish(search *r, const int *g, int len, double score, int L)
{
	if (r->nf == r->nf_max)
		return;
	memcpy(r->fin + (size_t)r->nf * L, g, (size_t)len * sizeof *g);
	r->fin_len[r->nf] = len;
	r->fin_score[r->nf++] = score;
}

/* The B-th best finished score (-inf with fewer than B). */
static double kth_best(const search *r, int B)
{
	double kth = -INFINITY;
	if (r->nf < B)
		return kth;
	for (int i = 0; i < r->nf; i++) {
		int better = 0;
		for (int j = 0; j < r->nf; j++)
			better += r->fin_score[j] > r->fin_score[i];
		if (better < B && (kth == -INFINITY || r->fin_score[i] < kth))
			kth = r->fin_score[i];
	}
	return kth;
}

/* Insert c into top[0..*n) (capacity K), sorted by score descending;
 * equal scores keep their order (the earlier candidate first). */
static void top_insert(cand *top, int *n, int K, cand c)
{
	if (*n == K && !(c.s > top[K - 1].s))
		return;
	int i = *n < K ? (*n)++ : K - 1;
	while (i > 0 && c.s > top[i - 1].s) {
		top[i] = top[i - 1];
		i--;
	}
	top[i] = c;
}

/* Beam search of width B (B = 1 is greedy: the argmax each step, ties to
 * the lower id, an eos on top ends it). */
static void beam_search(gen_state *s, search *r, const pfm_seq_gen_opts *o,
		       int *out, int *out_len, double *score)
{
	const pfm_seq_config *c = &s->m->c;
	int B = s->B, L = s->L, V = c->vocab, nb = 1, K = 2 * B;
	float alpha = o->length_alpha;
	r->sum[0] = 0;
	for (int cur = 0; cur < L && nb > 0; cur++) {
		for (int b = 0; b < nb; b++)
			r->tok[b] = cur ? r->seq[(size_t)b * L + cur - 1] : c->bos;
		gen_step(s, r->tok, nb, cur);
		int nt = 0;
		for (int b = 0; b < nb; b++) {
			float *z = s->logits + (size_t)b * V;
			process(z, r->seq + (size_t)b * L, cur, c->bos, o, V,
				r->stamp, r->mark++);
			for (int v = 0; v < V; v++)
				if (z[v] > -INFINITY)
					top_insert(r->top, &nt, K,
						   (cand){r->sum[b] + z[v], b, v});
		}
		int nn = 0;
		for (int i = 0; i < nt && nn < B; i++) {
			const cand *q = &r->top[i];
			const int *g = r->seq + (size_t)q->b * L;
			if (q->v == c->eos) {
				if (i < B)
					finish(r, g, cur,
					       norm_score(q->s, cur + 1, alpha), L);
				continue;
			}
			int *d = r->seq2 + (size_t)nn * L;
			memcpy(d, g, (size_t)cur * sizeof *d);
			d[cur] = q->v;
			r->sum2[nn] = q->s;
			r->parent[nn++] = q->b;
		}
		int *ts = r->seq;
		r->seq = r->seq2, r->seq2 = ts;
		double *tsum = r->sum;
		r->sum = r->sum2, r->sum2 = tsum;
		nb = nn;
		if (nb)
			gen_reorder(s, r->parent, nb, cur);
		if (cur + 1 == L) { /* at max_len the alive ones finish */
			for (int b = 0; b < nb; b++)
				finish(r, r->seq + (size_t)b * L, L,
				       norm_score(r->sum[b], L, alpha), L);
			break;
		}
		if (nb && r->nf >= B &&
		    kth_best(r, B) >= norm_score(r->sum[0], cur + 1, alpha))
			break;
	}
	int best = -1;
	for (int i = 0; i < r->nf; i++)
		if (best < 0 || r->fin_score[i] > r->fin_score[best])
			best = i;
	*out_len = best < 0 ? 0 : r->fin_len[best];
	if (best >= 0)
		memcpy(out, r->fin + (size_t)best * L,
		       (size_t)*out_len * sizeof *out);
	if (score)
		*score = best < 0 ? -INFINITY : r->fin_score[best];
}

static int gen_len(const pfm_seq *m, const pfm_seq_gen_opts *o)
{
	return o->max_len > 0 && o->max_len < m->c.max_len ? o->max_len
							   : m->c.max_len;
}

int pfm_seq_generate(const pfm_seq *m, pfm_seq_ws *ws, int task,
		     const pfm_seq_example *ex, const pfm_seq_gen_opts *o,
		     int *out, int *out_len, double *score, pfm_err *e)
{
	float *mem;
	int tm, B = o->beam, L = gen_len(m, o);
	gen_state s;
	search r;
	if (task == PFM_SEQ_VQA_CLS)
		return pfm_errf(e, "seq: VQA classification generates nothing");
	if (B < 1 || B > 64)
		return pfm_errf(e, "seq: beam %d not in [1, 64]", B);
	if (o->no_repeat_ngram < 0 || !(o->repetition_penalty >= 0))
		return pfm_errf(e, "seq: no_repeat_ngram %d and repetition "
			       "penalty %g must be >= 0", o->no_repeat_ngram,
			       o->repetition_penalty);
	if (seq_memory(m, ws, task, ex, &mem, &tm, e))
		return -1;
	if (gen_init(&s, ws, m, mem, tm, B, L) ||
	    search_init(&r, ws, B, L, m->c.vocab))
		return pfm_errf(e, "seq: out of memory decoding %d beam(s) of "
			       "%d tokens", B, L);
	beam_search(&s, &r, o, out, out_len, score);
	return 0;
}

int pfm_seq_cached_logits(const pfm_seq *m, pfm_seq_ws *ws, int task,
			  const pfm_seq_example *ex, float *logits, pfm_err *e)
{
	float *mem;
	int tm;
	gen_state s;
	const int *tk = task == PFM_SEQ_VQA_GEN ? ex->ans : ex->tok;
	int k = task == PFM_SEQ_VQA_GEN ? ex->ans_len : ex->len;
	if (task == PFM_SEQ_VQA_CLS)
		return pfm_errf(e, "seq: VQA classification has no decoder "
			       "input");
	if (seq_memory(m, ws, task, ex, &mem, &tm, e))
		return -1;
	if (gen_init(&s, ws, m, mem, tm, 1, m->c.max_len))
		return pfm_errf(e, "seq: out of memory");
	for (int t = 0; t <= k; t++) {
		int tok = t ? tk[t - 1] : m->c.bos;
		gen_step(&s, &tok, 1, t);
	}
	memcpy(logits, s.logits, (size_t)m->c.vocab * sizeof *logits);
	return 0;
}
