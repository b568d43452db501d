/* seq_model.c: the encoder-decoder's configuration, parameter layout,
 * initialisation, workspace arena, and the optimiser helpers (seq.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "seq_int.h"

void pfm_seq_config_default(pfm_seq_config *c)
{
	memset(c, 0, sizeof *c);
	c->heads = 8;
	c->act = PFM_SEQ_RELU;
	c->ln_eps = 1e-5f;
	c->dropout = 0.1f;
	c->bos = 1, c->eos = 2, c->pad = 0;
}

int pfm_seq_config_check(const pfm_seq_config *c, pfm_err *e)
{
	if (c->d_in < 1)
		return pfm_errf(e, "seq config: d_in %d < 1", c->d_in);
	if (c->d_model < 1 || c->heads < 1 || c->d_model % c->heads)
		return pfm_errf(e, "seq config: d_model %d is not a positive "
			       "multiple of heads %d", c->d_model, c->heads);
	if (c->d_ff < 1)
		return pfm_errf(e, "seq config: d_ff %d < 1", c->d_ff);
	if (c->enc_layers < 0 || c->enc_layers > SEQ_MAX_LAYERS ||
	    c->dec_layers < 0 || c->dec_layers > SEQ_MAX_LAYERS)
		return pfm_errf(e, "seq config: layers %d/%d not in [0, %d]",
				c->enc_layers, c->dec_layers, SEQ_MAX_LAYERS);
	if (c->dec_layers == 0 && c->n_answers <= 0)
		return pfm_errf(e, "seq config: neither a decoder "
			       "(dec_layers) nor a VQA head (n_answers)");
	if (c->n_answers < 0)
		return pfm_errf(e, "seq config: n_answers %d < 0", c->n_answers);
	if (c->vocab < 3)
		return pfm_errf(e, "seq config: vocab %d < 3", c->vocab);
	if (c->max_len < 1 || c->max_len > 100000)
		return pfm_errf(e, "seq config: max_len %d not in [1, 100000]",
				c->max_len);
	if (c->act != PFM_SEQ_RELU && c->act != PFM_SEQ_GELU)
		return pfm_errf(e, "seq config: act %d is neither relu (0) "
			       "nor gelu (1)", c->act);
	if (c->region < 0)
		return pfm_errf(e, "seq config: region %d < 0", c->region);
	const int *ids[3] = {&c->bos, &c->eos, &c->pad};
	const char *nm[3] = {"bos", "eos", "pad"};
	for (int i = 0; i < 3; i++)
		if (*ids[i] < 0 || *ids[i] >= c->vocab)
			return pfm_errf(e, "seq config: %s %d not in [0, %d)",
					nm[i], *ids[i], c->vocab);
	if (!(c->ln_eps > 0) || !(c->dropout >= 0 && c->dropout < 1))
		return pfm_errf(e, "seq config: ln_eps %g must be > 0 and "
			       "dropout %g in [0, 1)", c->ln_eps, c->dropout);
	return 0;
}

/* The integer fields, in JSON order; the two floats follow. */
#define SEQ_INT_FIELDS(X)                                                     \
	X(d_in) X(d_model) X(heads) X(d_ff) X(enc_layers) X(dec_layers)       \
	X(vocab) X(max_len) X(n_answers) X(act) X(region) X(bos) X(eos)       \
	X(pad)

int pfm_seq_config_json(const pfm_seq_config *c, char *buf, size_t n)
{
	size_t k = 0;
	int r;
#define X(f)                                                                  \
	r = snprintf(buf + (k < n ? k : n), k < n ? n - k : 0, "%s\"" #f       \
		     "\":%d", k ? "," : "{", c->f);                           \
	k += (size_t)r;
	SEQ_INT_FIELDS(X)
#undef X
	r = snprintf(buf + (k < n ? k : n), k < n ? n - k : 0,
		     ",\"ln_eps\":%.9g,\"dropout\":%.9g}", c->ln_eps,
		     c->dropout);
	return (int)(k + (size_t)r);
}

static int set_field(pfm_seq_config *c, const char *key,
		     const msgpack_object *v, unsigned *seen, pfm_err *e)
{
	unsigned bit = 1;
	double d;
	if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		d = (double)v->via.u64;
	else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		d = (double)v->via.i64;
	else if (v->type == MSGPACK_OBJECT_FLOAT64 ||
		 v->type == MSGPACK_OBJECT_FLOAT32)
		d = v->via.f64;
	else
		return pfm_errf(e, "seq config: \"%s\" is not a number", key);
#define X(f)                                                                  \
	if (!strcmp(key, #f)) {                                               \
		if (d != floor(d) || fabs(d) > 1e9)                           \
			return pfm_errf(e, "seq config: \"%s\" is not an "    \
				       "integer", key);                      \
		c->f = (int)d;                                                \
		*seen |= bit;                                                 \
		return 0;                                                     \
	}                                                                     \
	bit <<= 1;
	SEQ_INT_FIELDS(X)
#undef X
	if (!strcmp(key, "ln_eps")) {
		c->ln_eps = (float)d, *seen |= bit;
		return 0;
	}
	bit <<= 1;
	if (!strcmp(key, "dropout")) {
		c->dropout = (float)d, *seen |= bit;
		return 0;
	}
	return pfm_errf(e, "seq config: unknown key \"%s\"", key);
}

/* pfm_json_object_each's callback: the config and the fields seen. */
typedef struct {
	pfm_seq_config *c;
	unsigned seen;
} parse_ctx;

static int parse_member(void *ctx, const char *key, const msgpack_object *v,
			pfm_err *e)
{
	parse_ctx *p = ctx;
	return set_field(p->c, key, v, &p->seen, e);
}

int pfm_seq_config_parse(pfm_seq_config *c, const char *text, size_t n,
			 pfm_err *e)
{
	parse_ctx p = {c, 0};
	unsigned all = 0;
	pfm_seq_config_default(c);
#define X(f) all = all << 1 | 1;
	SEQ_INT_FIELDS(X)
#undef X
	all = all << 2 | 3;
	if (pfm_json_object_each(text, n, "seq config", parse_member, &p, e))
		return -1;
	if (p.seen != all)
		return pfm_errf(e, "seq config: %d field(s) missing",
				__builtin_popcount(all & ~p.seen));
	return pfm_seq_config_check(c, e);
}

/* The walk's cursor. */
typedef struct {
	float *base;
	size_t off;
	pfm_seq_tensor *tab;
	int nt;
	char prefix[48];
} walker;

static float *put(walker *w, const char *name, int64_t d0, int64_t d1)
{
	size_t n = (size_t)d0 * (size_t)(d1 ? d1 : 1);
	if (w->tab) {
		pfm_seq_tensor *t = &w->tab[w->nt];
		snprintf(t->name, sizeof t->name, "%s%s", w->prefix, name);
		t->offset = w->off, t->count = n, t->ndim = d1 ? 2 : 1;
		t->shape[0] = d0, t->shape[1] = d1;
	}
	w->nt++;
	float *p = w->base ? w->base + w->off : NULL;
	w->off += n;
	return p;
}

/* name.weight [out, in] and name.bias [out]; in 0: a LayerNorm [out]. */
static seq_lin put_lin(walker *w, const char *name, int out, int in)
{
	char a[64], b[64];
	snprintf(a, sizeof a, "%s.weight", name);
	snprintf(b, sizeof b, "%s.bias", name);
	seq_lin l;
	l.w = put(w, a, out, in);
	l.b = put(w, b, out, 0);
	return l;
}

static void put_attn(walker *w, const char *name, int D, seq_lin *q,
		     seq_lin *k, seq_lin *v, seq_lin *o)
{
	char n[64];
	seq_lin *dst[4] = {q, k, v, o};
	for (int i = 0; i < 4; i++) {
		snprintf(n, sizeof n, "%s.%c", name, "qkvo"[i]);
		*dst[i] = put_lin(w, n, D, D);
	}
}

static void put_layers(walker *w, const pfm_seq_config *c, const char *part,
		       int n, int cross, seq_layer *ls)
{
	int D = c->d_model;
	for (int l = 0; l < n; l++) {
		seq_layer y;
		memset(&y, 0, sizeof y);
		snprintf(w->prefix, sizeof w->prefix, "%s.layers.%d.", part, l);
		y.ln1 = put_lin(w, "ln1", D, 0);
		put_attn(w, "self_attn", D, &y.q, &y.k, &y.v, &y.o);
		y.ln2 = put_lin(w, "ln2", D, 0);
		if (cross) {
			put_attn(w, "cross_attn", D, &y.cq, &y.ck, &y.cv,
				 &y.co);
			y.ln3 = put_lin(w, "ln3", D, 0);
		}
		y.fc1 = put_lin(w, "ff.fc1", c->d_ff, D);
		y.fc2 = put_lin(w, "ff.fc2", D, c->d_ff);
		if (ls)
			ls[l] = y;
	}
	w->prefix[0] = 0;
}

size_t seq_walk(const pfm_seq_config *c, float *base, seq_view *v,
		pfm_seq_tensor *tab, int *nt)
{
	walker w = {base, 0, tab, 0, ""};
	seq_view tmp;
	seq_view *s = v ? v : &tmp;
	int D = c->d_model;
	memset(s, 0, sizeof *s);
	s->tok_emb = put(&w, "tok_emb.weight", c->vocab, D);
	s->embed = put_lin(&w, "att_embed", D, c->d_in);
	put_layers(&w, c, "enc", c->enc_layers, 0, s->enc);
	s->enc_norm = put_lin(&w, "enc.norm", D, 0);
	if (c->dec_layers > 0) {
		put_layers(&w, c, "dec", c->dec_layers, 1, s->dec);
		s->dec_norm = put_lin(&w, "dec.norm", D, 0);
		s->out = put_lin(&w, "dec.out", c->vocab, D);
	}
	if (c->n_answers > 0) {
		s->seg = put(&w, "vqa.seg_emb.weight", 2, D);
		s->cls = put_lin(&w, "vqa.cls", c->n_answers, D);
	}
	if (nt)
		*nt = w.nt;
	return w.off;
}

size_t pfm_seq_num_params(const pfm_seq_config *c)
{
	if (pfm_seq_config_check(c, NULL))
		return 0;
	return seq_walk(c, NULL, NULL, NULL, NULL);
}

int pfm_seq_alloc(pfm_seq *m, const pfm_seq_config *c, pfm_err *e)
{
	memset(m, 0, sizeof *m);
	if (pfm_seq_config_check(c, e))
		return -1;
	int nt;
	m->c = *c;
	m->n_params = seq_walk(c, NULL, NULL, NULL, &nt);
	m->params = calloc(m->n_params, sizeof *m->params);
	m->tensors = calloc((size_t)nt, sizeof *m->tensors);
	if (!m->params || !m->tensors) {
		pfm_seq_free(m);
		return pfm_errf(e, "seq: out of memory for %zu parameters",
				m->n_params);
	}
	seq_walk(c, NULL, NULL, m->tensors, &m->n_tensors);
	return 0;
}

void pfm_seq_init(pfm_seq *m, uint64_t seed)
{
	pfm_rng r = pfm_rng_seed(seed, 1);
	for (int i = 0; i < m->n_tensors; i++) {
		const pfm_seq_tensor *t = &m->tensors[i];
		float *p = m->params + t->offset;
		const char *dot = strrchr(t->name, '.');
		int is_ln = strstr(t->name, "ln") || strstr(t->name, "norm.");
		if (t->ndim == 2) {
			/* xavier_uniform_: fan_in = shape[1], fan_out = shape[0] */
			double a = sqrt(6.0 / (double)(t->shape[0] + t->shape[1]));
			for (size_t j = 0; j < t->count; j++)
				p[j] = (float)((2 * pfm_rng_uniform(&r) - 1) * a);
		} else if (is_ln) {
			float v = dot && !strcmp(dot, ".weight") ? 1.f : 0.f;
			for (size_t j = 0; j < t->count; j++)
				p[j] = v;
		} else {
			/* a linear bias: U(+-1/sqrt(fan_in)), its weight's
			 * fan_in (the tensor before it) */
			double a = 1 / sqrt((double)m->tensors[i - 1].shape[1]);
			for (size_t j = 0; j < t->count; j++)
				p[j] = (float)((2 * pfm_rng_uniform(&r) - 1) * a);
		}
	}
}

void pfm_seq_free(pfm_seq *m)
{
	free(m->params);
	free(m->tensors);
	memset(m, 0, sizeof *m);
}

const pfm_seq_tensor *pfm_seq_find(const pfm_seq *m, const char *name)
{
	for (int i = 0; i < m->n_tensors; i++)
		if (!strcmp(m->tensors[i].name, name))
			return &m->tensors[i];
	return NULL;
}

double pfm_seq_clip_grad(float *grad, size_t n, double max_norm)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)grad[i] * grad[i];
	double norm = sqrt(s);
	double coef = max_norm / (norm + 1e-6);
	if (coef < 1)
		for (size_t i = 0; i < n; i++)
			grad[i] = (float)(grad[i] * coef);
	return norm;
}

void pfm_seq_adamw(pfm_seq *m, const float *grad, float *m1, float *m2,
		   const pfm_adamw_opts *o, int64_t t)
{
	pfm_adamw_opts nd = *o;
	nd.weight_decay = 0;
	for (int i = 0; i < m->n_tensors; i++) {
		const pfm_seq_tensor *s = &m->tensors[i];
		size_t k = s->offset;
		pfm_adamw_step(m->params + k, grad + k, m1 + k, m2 + k,
			       s->count, s->ndim >= 2 ? o : &nd, t);
	}
}

pfm_seq_ws *pfm_seq_ws_new(void)
{
	return calloc(1, sizeof(pfm_seq_ws));
}

void pfm_seq_ws_free(pfm_seq_ws *ws)
{
	if (!ws)
		return;
	for (int i = 0; i < ws->n_extra; i++)
		free(ws->extra[i]);
	free(ws->extra);
	free(ws->buf);
	free(ws);
}

void seq_ws_reset(pfm_seq_ws *ws)
{
	if (ws->n_extra) {
		for (int i = 0; i < ws->n_extra; i++)
			free(ws->extra[i]);
		ws->n_extra = 0;
		free(ws->buf);
		ws->buf = malloc(ws->peak * sizeof(float));
		ws->cap = ws->buf ? ws->peak : 0;
	}
	ws->used = 0;
}

float *seq_ws_take(pfm_seq_ws *ws, size_t n)
{
	n = (n + 15) & ~(size_t)15; /* 64-byte steps */
	ws->used += n;
	if (ws->used > ws->peak)
		ws->peak = ws->used;
	if (ws->used <= ws->cap)
		return ws->buf + ws->used - n;
	if (ws->n_extra == ws->cap_extra) {
		int nc = ws->cap_extra ? 2 * ws->cap_extra : 16;
		float **x = realloc(ws->extra, (size_t)nc * sizeof *x);
		if (!x)
			return NULL;
		ws->extra = x, ws->cap_extra = nc;
	}
	float *p = malloc(n * sizeof *p);
	if (p)
		ws->extra[ws->n_extra++] = p;
	return p;
}

void seq_pos_enc(float *out, int p, int D)
{
	for (int i = 0; i < D; i += 2) {
		double a = p / pow(10000.0, (double)i / D);
		out[i] = (float)sin(a);
		if (i + 1 < D)
			out[i + 1] = (float)cos(a);
	}
}
