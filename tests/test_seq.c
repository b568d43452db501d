/* test_seq: the encoder-decoder of common/seq.h against a plain-torch
 * reference (tests/ref/seq_ref.py, torch 1.13 autograd), and its own
 * properties.
 *
 * Against torch, cases: report relu 1+1 layers; report gelu with region
 * pooling, 2+2 layers, 4 heads, label smoothing 0.1 and pad targets;
 * report with no encoder layer; VQA classification (2 layers, pooling,
 * gelu, smoothing 0.1); VQA with a generated answer (one image row, pad
 * target). Tolerances: logits and the bag's gradient max|diff| <= 1e-4
 * max|ref|; each parameter gradient tensor max|diff| <= 1e-4 max(max|ref|
 * of the tensor, 1e-3 max|ref| of all gradients) (the floor is for the
 * key biases: zero in exact arithmetic, rounding noise in torch, left
 * out in C); the loss within 1e-5 relative. AdamW: 3 steps (lr 1e-2, decay 0.1 on 2-D tensors) give
 * torch's parameters within 1e-5 (the same norm).
 * Also: the key/value cache's incremental logits equal the full forward
 * (1e-5 max|ref|); finite differences with dropout on (central, h 1e-2,
 * double loss: |fd - g| <= 3e-3 + 3e-2 |g|); a batch's gradient is the
 * same bits on 1, 2 and 3 threads and equals the per-example sum (1e-6);
 * checkpoints round-trip bit for bit and strict loading names the
 * tensor; decoding on hand-made bigram models whose answers are known:
 * beam 1 equals a greedy decode over full forwards, beam 2 finds the
 * better sequence greedy misses, eos ends, max_len holds,
 * no_repeat_ngram_size and the repetition penalty give the hand-derived
 * sequences. Run from the repository root. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "torchref.h"
#include "seq.h"

static char dir[] = "/tmp/pfm-seq-XXXXXX";

typedef struct {
	pfm_seq m, g;   /* the model and torch's gradients (as a model) */
	float *x, *logits, *dx, loss, smoothing;
	int tok[64], ans[64], task;
	size_t n_logits, n_x;
	pfm_seq_example ex;
} fixture;

static int load(fixture *f, const char *name)
{
	char p[512];
	pfm_err e;
	pfm_st *st;
	memset(f, 0, sizeof *f);
	snprintf(p, sizeof p, "%s/%s.safetensors", dir, name);
	if (pfm_seq_load(&f->m, p, &e)) {
		CHECK(0, "%s", e.msg);
		return -1;
	}
	snprintf(p, sizeof p, "%s/%s.grad.safetensors", dir, name);
	if (pfm_seq_load(&f->g, p, &e)) {
		CHECK(0, "%s", e.msg);
		return -1;
	}
	snprintf(p, sizeof p, "%s/%s.in.safetensors", dir, name);
	if (pfm_st_open(&st, p, &e)) {
		CHECK(0, "%s", e.msg);
		return -1;
	}
	size_t nt = 0, na = 0;
	float *tok = f32(st, "tok", &nt), *ans = f32(st, "ans", &na);
	float *task = f32(st, "task", NULL), *answer = f32(st, "answer", NULL);
	float *loss = f32(st, "loss", NULL), *s = f32(st, "smoothing", NULL);
	f->x = f32(st, "x", &f->n_x);
	f->logits = f32(st, "logits", &f->n_logits);
	f->dx = f32(st, "dx", NULL);
	pfm_st_close(st);
	int ok = tok && ans && task && answer && loss && s && f->x &&
		 f->logits && f->dx && nt <= 64 && na <= 64;
	CHECK(ok, "%s: inputs incomplete", p);
	if (ok) {
		for (size_t i = 0; i < nt; i++)
			f->tok[i] = (int)tok[i];
		for (size_t i = 0; i < na; i++)
			f->ans[i] = (int)ans[i];
		f->task = (int)task[0], f->loss = loss[0], f->smoothing = s[0];
		f->ex = (pfm_seq_example){f->x, (int)(f->n_x / f->m.c.d_in),
					  f->tok, (int)nt, f->ans, (int)na,
					  (int)answer[0]};
	}
	free(tok), free(ans), free(task), free(answer), free(loss), free(s);
	return ok ? 0 : -1;
}

static void unload(fixture *f)
{
	pfm_seq_free(&f->m);
	pfm_seq_free(&f->g);
	free(f->x), free(f->logits), free(f->dx);
}

/* Every tensor of got against the reference model ref's: max|diff| <=
 * tol * max(max|ref| of the tensor, 1e-3 max|ref| of all), the floor for
 * the key biases, whose gradient is zero but for rounding. */
static void cmp_tensors(const char *name, const char *what, const pfm_seq *m,
			const float *got, const pfm_seq *ref, double tol)
{
	int bad = 0;
	double worst = 0, all = 0;
	for (size_t i = 0; i < m->n_params; i++)
		all = fabs(ref->params[i]) > all ? fabs(ref->params[i]) : all;
	for (int i = 0; i < m->n_tensors; i++) {
		const pfm_seq_tensor *t = &m->tensors[i];
		const float *a = got + t->offset, *b = ref->params + t->offset;
		double md = 0, mr = 1e-3 * all;
		for (size_t j = 0; j < t->count; j++) {
			double d = fabs((double)a[j] - b[j]);
			md = d > md || isnan(d) ? d : md;
			mr = fabs(b[j]) > mr ? fabs(b[j]) : mr;
		}
		double r = md / mr;
		worst = r > worst ? r : worst;
		if (!(r <= tol)) {
			bad++;
			fprintf(stderr, "%s: %s %s off by %g\n", name, what,
				t->name, r);
		}
	}
	CHECK(bad == 0, "%s: %d of %d %s tensors off (worst %g)", name, bad,
	      m->n_tensors, what, worst);
	printf("%s: %s, %d tensors, worst %.2e\n", name, what, m->n_tensors,
	       worst);
}

static void kv_cache(const char *name, fixture *f, pfm_seq_ws *ws)
{
	const pfm_seq *m = &f->m;
	int V = m->c.vocab, k = f->task == PFM_SEQ_VQA_GEN ? f->ex.ans_len
							   : f->ex.len;
	float *z = malloc((size_t)V * sizeof *z);
	pfm_err e;
	double worst = 0;
	for (int t = 0; t <= k; t++) {
		pfm_seq_example ex = f->ex;
		if (f->task == PFM_SEQ_VQA_GEN)
			ex.ans_len = t;
		else
			ex.len = t;
		if (pfm_seq_cached_logits(m, ws, f->task, &ex, z, &e)) {
			CHECK(0, "%s", e.msg);
			break;
		}
		double r = rel_err(z, f->logits + (size_t)t * V, (size_t)V);
		worst = r > worst ? r : worst;
	}
	CHECK(worst <= 1e-5, "%s: cached logits off by %g", name, worst);
	printf("%s: key/value cache vs full forward, %d positions, %.2e\n",
	       name, k + 1, worst);
	free(z);
}

static void adam_case(const char *name, fixture *f, pfm_seq_ws *ws)
{
	char p[512];
	pfm_seq ref;
	pfm_err e;
	snprintf(p, sizeof p, "%s/%s.adam.safetensors", dir, name);
	if (pfm_seq_load(&ref, p, &e)) {
		CHECK(0, "%s", e.msg);
		return;
	}
	size_t n = f->m.n_params;
	float *g = malloc(n * sizeof *g), *m1 = calloc(n, sizeof *m1),
	      *m2 = calloc(n, sizeof *m2);
	pfm_adamw_opts o = {.lr = 1e-2, .weight_decay = 0.1, .decoupled = 1};
	int k = pfm_seq_count_targets(&f->m, f->task, &f->ex);
	for (int t = 1; t <= 3; t++) {
		memset(g, 0, n * sizeof *g);
		CHECK(!pfm_seq_loss(&f->m, ws, f->task, &f->ex, f->smoothing,
				    1.f / k, g, NULL, NULL, NULL, NULL, &e),
		      "%s", e.msg);
		pfm_seq_adamw(&f->m, g, m1, m2, &o, t);
	}
	cmp_tensors(name, "AdamW x3 parameters", &f->m, f->m.params, &ref,
		    1e-5);
	free(g), free(m1), free(m2);
	pfm_seq_free(&ref);
}

static void torch_case(const char *name, pfm_seq_ws *ws)
{
	fixture f;
	pfm_err e;
	if (load(&f, name)) {
		unload(&f);
		return;
	}
	pfm_seq *m = &f.m;
	float *g = calloc(m->n_params, sizeof *g);
	float *dx = calloc(f.n_x, sizeof *dx);
	float *z = malloc(f.n_logits * sizeof *z);
	double loss;
	int k = pfm_seq_count_targets(m, f.task, &f.ex), cnt = -1;
	int rc = pfm_seq_loss(m, ws, f.task, &f.ex, f.smoothing, 1.f / k, g,
			      dx, NULL, &loss, &cnt, &e);
	CHECK(rc == 0, "%s: %s", name, e.msg);
	CHECK(cnt == k, "%s: %d targets counted, %d expected", name, cnt, k);
	double lr = fabs(loss / cnt - f.loss) / fabs(f.loss);
	CHECK(lr <= 1e-5, "%s: loss %.8g, torch %.8g", name, loss / cnt,
	      f.loss);
	CHECK(!pfm_seq_logits(m, ws, f.task, &f.ex, z, &e), "%s", e.msg);
	double rz = rel_err(z, f.logits, f.n_logits);
	CHECK(rz <= 1e-4, "%s: logits off by %g", name, rz);
	double rx = rel_err(dx, f.dx, f.n_x);
	CHECK(rx <= 1e-4, "%s: bag gradient off by %g", name, rx);
	printf("%s: loss rel %.2e, logits %.2e, bag gradient %.2e\n", name, lr,
	       rz, rx);
	cmp_tensors(name, "gradient", m, g, &f.g, 1e-4);
	/* a batch of one through the pool: the same mean-loss gradient */
	pfm_seq_pool *p = pfm_seq_pool_new(m, 2, 0, &e);
	float *g2 = calloc(m->n_params, sizeof *g2);
	pfm_seq_batch_opts bo = {.task = f.task, .smoothing = f.smoothing};
	double bl;
	CHECK(p && !pfm_seq_batch(p, m, g2, &f.ex, 1, &bo, &bl, &e), "%s",
	      e.msg);
	CHECK(p && fabs(bl - f.loss) <= 1e-5 * fabs(f.loss) &&
		      rel_err(g2, g, m->n_params) <= 1e-6,
	      "%s: batch of one differs", name);
	pfm_seq_pool_free(p);
	free(g2);
	if (f.task != PFM_SEQ_VQA_CLS)
		kv_cache(name, &f, ws);
	if (!strcmp(name, "rep-relu"))
		adam_case(name, &f, ws);
	free(g), free(dx), free(z);
	unload(&f);
}

/* Random model of c, seeded. */
static int random_model(pfm_seq *m, const pfm_seq_config *c, uint64_t seed)
{
	pfm_err e;
	if (pfm_seq_alloc(m, c, &e)) {
		CHECK(0, "%s", e.msg);
		return -1;
	}
	pfm_seq_init(m, seed);
	return 0;
}

static pfm_seq_config small_config(void)
{
	pfm_seq_config c;
	pfm_seq_config_default(&c);
	c.d_in = 6, c.d_model = 8, c.heads = 2, c.d_ff = 12;
	c.enc_layers = 1, c.dec_layers = 2, c.vocab = 9, c.max_len = 8;
	c.region = 2, c.act = PFM_SEQ_GELU, c.dropout = 0.3f;
	return c;
}

/* Finite differences of the summed loss with dropout on: the generator is
 * reseeded per evaluation, so the masks are the same. */
static void finite_diff(pfm_seq_ws *ws)
{
	pfm_seq m;
	pfm_seq_config c = small_config();
	pfm_err e;
	if (random_model(&m, &c, 7))
		return;
	pfm_rng r = pfm_rng_seed(3, 0);
	float x[5 * 6];
	int tok[4] = {3, 5, 0, 8};
	for (int i = 0; i < 30; i++)
		x[i] = (float)pfm_rng_normal(&r);
	pfm_seq_example ex = {x, 5, tok, 4, NULL, 0, 0};
	float *g = calloc(m.n_params, sizeof *g);
	pfm_rng d = pfm_rng_seed(11, 1000);
	double l0, lp, lm;
	CHECK(!pfm_seq_loss(&m, ws, PFM_SEQ_REPORT, &ex, 0.1f, 1, g, NULL, &d,
			    &l0, NULL, &e), "%s", e.msg);
	pfm_rng d2 = pfm_rng_seed(11, 1000);
	CHECK(!pfm_seq_loss(&m, ws, PFM_SEQ_REPORT, &ex, 0.1f, 1, NULL, NULL,
			    NULL, &lp, NULL, &e) && lp != l0 &&
		      !pfm_seq_loss(&m, ws, PFM_SEQ_REPORT, &ex, 0.1f, 1, NULL,
				    NULL, &d2, &lm, NULL, &e) && lm == l0,
	      "dropout: eval %g, train %g and again %g", lp, l0, lm);
	int bad = 0, n = 0;
	for (int t = 0; t < m.n_tensors; t++) {
		const pfm_seq_tensor *s = &m.tensors[t];
		for (int j = 0; j < 2; j++) {
			size_t i = s->offset + (size_t)(j * 7919) % s->count;
			float keep = m.params[i], h = 1e-2f;
			pfm_rng a = pfm_rng_seed(11, 1000),
				b = pfm_rng_seed(11, 1000);
			m.params[i] = keep + h;
			pfm_seq_loss(&m, ws, PFM_SEQ_REPORT, &ex, 0.1f, 1, NULL,
				     NULL, &a, &lp, NULL, &e);
			m.params[i] = keep - h;
			pfm_seq_loss(&m, ws, PFM_SEQ_REPORT, &ex, 0.1f, 1, NULL,
				     NULL, &b, &lm, NULL, &e);
			m.params[i] = keep;
			double fd = (lp - lm) / (2.0 * h);
			n++;
			if (!(fabs(fd - g[i]) <= 3e-3 + 3e-2 * fabs(g[i]))) {
				bad++;
				fprintf(stderr, "fd %s[%zu]: %g vs %g\n",
					s->name, i - s->offset, fd, g[i]);
			}
		}
	}
	CHECK(bad == 0, "finite differences: %d of %d off", bad, n);
	printf("finite differences with dropout: %d entries, %d off\n", n,
	       bad);
	free(g);
	pfm_seq_free(&m);
}

static void threads(void)
{
	pfm_seq m;
	pfm_seq_config c = small_config();
	pfm_err e;
	if (random_model(&m, &c, 5))
		return;
	enum { NE = 7 };
	float x[NE][9 * 6];
	int tok[NE][8];
	pfm_seq_example ex[NE];
	pfm_rng r = pfm_rng_seed(9, 0);
	for (int i = 0; i < NE; i++) {
		int n = 1 + i % 9, len = i % 9;
		for (int j = 0; j < n * 6; j++)
			x[i][j] = (float)pfm_rng_normal(&r);
		for (int j = 0; j < len; j++)
			tok[i][j] = (int)pfm_rng_below(&r, 9);
		ex[i] = (pfm_seq_example){x[i], n, tok[i], len, NULL, 0, 0};
	}
	float *g[3];
	double loss[3];
	pfm_seq_batch_opts o = {PFM_SEQ_REPORT, 0.1f, 1, 42, 0};
	for (int t = 0; t < 3; t++) {
		g[t] = calloc(m.n_params, sizeof *g[t]);
		pfm_seq_pool *p = pfm_seq_pool_new(&m, t + 1, 4, &e);
		CHECK(p && !pfm_seq_batch(p, &m, g[t], ex, NE, &o, &loss[t], &e),
		      "%s", e.msg);
		pfm_seq_pool_free(p);
	}
	CHECK(!memcmp(g[0], g[1], m.n_params * sizeof(float)) &&
		      !memcmp(g[0], g[2], m.n_params * sizeof(float)) &&
		      loss[0] == loss[1] && loss[0] == loss[2],
	      "a batch's gradient depends on the thread count");
	/* the per-example sum, with the batch's dropout streams */
	float *s = calloc(m.n_params, sizeof *s);
	pfm_seq_ws *ws = pfm_seq_ws_new();
	int total = 0;
	for (int i = 0; i < NE; i++)
		total += pfm_seq_count_targets(&m, PFM_SEQ_REPORT, &ex[i]);
	double sum = 0, l;
	for (int i = 0; i < NE; i++) {
		pfm_rng d = pfm_rng_seed(42, 1000 + (uint64_t)i);
		pfm_seq_loss(&m, ws, PFM_SEQ_REPORT, &ex[i], 0.1f,
			     1.f / total, s, NULL, &d, &l, NULL, &e);
		sum += l;
	}
	double rs = rel_err(g[0], s, m.n_params);
	CHECK(rs <= 1e-6 && fabs(sum / total - loss[0]) <= 1e-9 * sum,
	      "batch vs per-example sum: %g, loss %g vs %g", rs, loss[0],
	      sum / total);
	printf("batch of %d on 1/2/3 threads: identical; vs per-example "
	       "sum %.2e\n", NE, rs);
	pfm_seq_ws_free(ws);
	free(s);
	for (int t = 0; t < 3; t++)
		free(g[t]);
	pfm_seq_free(&m);
}

static int file_eq(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int eq = fa && fb, ca, cb;
	while (eq && ((ca = getc(fa)) != EOF) | ((cb = getc(fb)) != EOF))
		eq = ca == cb;
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return eq;
}

/* Write m's tensors, with one changed by how: 0 drop, 1 extra, 2
 * misshaped, 3 NaN. */
static void write_broken(const pfm_seq *m, const char *path, int how,
			 const char *victim)
{
	pfm_st_tensor ts[256];
	float nanv[64], extra[2] = {1, 2};
	char cfg[1024];
	size_t n = 0;
	pfm_err e;
	pfm_seq_config_json(&m->c, cfg, sizeof cfg);
	for (int i = 0; i < m->n_tensors && n < 255; i++) {
		const pfm_seq_tensor *t = &m->tensors[i];
		int hit = !strcmp(t->name, victim);
		if (hit && how == 0)
			continue;
		pfm_st_tensor s = {t->name, PFM_F32, t->ndim,
				   {t->shape[0], t->shape[1]}, t->count,
				   m->params + t->offset,
				   t->count * sizeof(float)};
		if (hit && how == 2)
			s.ndim = 2, s.shape[0] = 1, s.shape[1] = t->shape[0];
		if (hit && how == 3 && t->count <= 64) {
			memcpy(nanv, s.data, s.nbytes);
			nanv[t->count - 1] = NAN;
			s.data = nanv;
		}
		ts[n++] = s;
	}
	if (how == 1)
		ts[n++] = (pfm_st_tensor){"dec.extra.weight", PFM_F32, 1, {2},
					  2, extra, sizeof extra};
	const char *kv[2] = {"pathfm_seq", cfg};
	CHECK(!pfm_st_save(path, ts, n, kv, 1, &e), "%s", e.msg);
}

static void checkpoints(void)
{
	pfm_seq m, l;
	pfm_seq_config c = small_config();
	c.n_answers = 4;
	pfm_err e;
	char a[512], b[512];
	if (random_model(&m, &c, 1))
		return;
	snprintf(a, sizeof a, "%s/ck.safetensors", dir);
	snprintf(b, sizeof b, "%s/ck2.safetensors", dir);
	const char *kv[2] = {"tokenizer", "{\"v\":1}"};
	CHECK(!pfm_seq_save(&m, a, kv, 1, &e), "%s", e.msg);
	CHECK(!pfm_seq_load(&l, a, &e), "%s", e.msg);
	CHECK(l.n_params == m.n_params &&
		      !memcmp(l.params, m.params, m.n_params * sizeof(float)) &&
		      !memcmp(&l.c, &m.c, sizeof m.c),
	      "checkpoint round trip differs");
	CHECK(!pfm_seq_save(&l, b, kv, 1, &e) && file_eq(a, b),
	      "saving the loaded model gives other bytes");
	pfm_seq_free(&l);
	pfm_st *st;
	CHECK(!pfm_st_open(&st, a, &e) && pfm_st_meta(st, "tokenizer") &&
		      !strcmp(pfm_st_meta(st, "tokenizer"), "{\"v\":1}"),
	      "caller metadata lost");
	pfm_st_close(st);
	static const char *const want[4] = {"is missing", "not part of",
					    "F32 [", "non-finite"};
	const char *victim = "dec.layers.1.cross_attn.v.bias";
	for (int how = 0; how < 4; how++) {
		write_broken(&m, b, how, victim);
		int rc = pfm_seq_load(&l, b, &e);
		const char *nm = how == 1 ? "dec.extra.weight" : victim;
		CHECK(rc == -1 && strstr(e.msg, nm) && strstr(e.msg, want[how]),
		      "strict load case %d: %s", how, rc ? e.msg : "loaded");
		if (!rc)
			pfm_seq_free(&l);
	}
	pfm_seq_free(&m);
}

/* A decoder whose logits at a token t are log P(.|t) of a bigram table:
 * every layer zero (attention and FFN add nothing), tok_emb t = 1000
 * e_t (positions are noise beside it), D = V; with LN(e_t) =
 * (D e_t - 1) / sqrt(D - 1), dec.out.weight[v, t] = sqrt(D-1)/D log P
 * and bias[v] = sum_j W[v, j] / sqrt(D - 1) give logits log P(v | t). */
enum { BV = 6, A_ = 3, B_ = 4, C_ = 5 };
static int bigram(pfm_seq *m, const double P[BV][BV])
{
	pfm_seq_config c;
	pfm_seq_config_default(&c);
	c.d_in = 2, c.d_model = BV, c.heads = 2, c.d_ff = 4, c.enc_layers = 1;
	c.dec_layers = 1, c.vocab = BV, c.max_len = 7, c.dropout = 0;
	if (random_model(m, &c, 1))
		return -1;
	memset(m->params, 0, m->n_params * sizeof(float));
	for (int i = 0; i < m->n_tensors; i++) {
		const pfm_seq_tensor *t = &m->tensors[i];
		if (strstr(t->name, "ln") || strstr(t->name, "norm.weight"))
			if (strstr(t->name, "weight"))
				for (size_t j = 0; j < t->count; j++)
					m->params[t->offset + j] = 1;
	}
	float *emb = m->params + pfm_seq_find(m, "tok_emb.weight")->offset;
	float *w = m->params + pfm_seq_find(m, "dec.out.weight")->offset;
	float *b = m->params + pfm_seq_find(m, "dec.out.bias")->offset;
	double k = sqrt(BV - 1.0);
	for (int t = 0; t < BV; t++)
		emb[t * BV + t] = 1000;
	for (int v = 0; v < BV; v++) {
		double s = 0;
		for (int t = 0; t < BV; t++) {
			w[v * BV + t] = (float)(k / BV * log(P[t][v]));
			s += w[v * BV + t];
		}
		b[v] = (float)(s / k);
	}
	return 0;
}

static int gen(const pfm_seq *m, pfm_seq_ws *ws, int beam, int ngram,
	       float rp, int max_len, int *out)
{
	float x[2] = {0.5f, -1};
	pfm_seq_example ex = {x, 1, NULL, 0, NULL, 0, 0};
	pfm_seq_gen_opts o = {beam, max_len, 0, ngram, rp};
	int len = -1;
	pfm_err e;
	CHECK(!pfm_seq_generate(m, ws, PFM_SEQ_REPORT, &ex, &o, out, &len,
				NULL, &e), "%s", e.msg);
	return len;
}

static int seq_is(const int *a, int n, const int *b, int nb)
{
	return n == nb && !memcmp(a, b, (size_t)n * sizeof *a);
}

#define E6 1e-6
static void decoding(pfm_seq_ws *ws)
{
	/* rows: current token (pad, bos, eos, A, B, C); columns: next */
	static const double beamP[BV][BV] = {
		{E6, E6, .2, .3, .3, .2},       {E6, E6, E6, .5, .4, .1},
		{E6, E6, .2, .3, .3, .2},       {E6, E6, .34, .33, .33, E6},
		{E6, E6, .95, .02, .02, .01},   {E6, E6, .9, .05, .03, .02}};
	static const double loopP[BV][BV] = {
		{E6, E6, .2, .3, .3, .2},       {E6, E6, E6, .9, .05, .05},
		{E6, E6, .2, .3, .3, .2},       {E6, E6, .1, .6, E6, .3},
		{E6, E6, .2, .3, .3, .2},       {E6, E6, .1, .6, E6, .3}};
	pfm_seq m;
	int out[16], len;
	if (bigram(&m, beamP))
		return;
	len = gen(&m, ws, 1, 0, 1, 0, out);
	CHECK(seq_is(out, len, (int[]){A_}, 1), "greedy: %d tokens", len);
	len = gen(&m, ws, 2, 0, 1, 0, out);
	CHECK(seq_is(out, len, (int[]){B_}, 1),
	      "beam 2 misses B eos: %d tokens, first %d", len, out[0]);
	len = gen(&m, ws, 3, 0, 1, 0, out);
	CHECK(seq_is(out, len, (int[]){B_}, 1), "beam 3: %d tokens", len);
	pfm_seq_free(&m);

	if (bigram(&m, loopP))
		return;
	int a7[7] = {A_, A_, A_, A_, A_, A_, A_};
	len = gen(&m, ws, 1, 0, 1, 0, out);
	CHECK(seq_is(out, len, a7, 7), "max_len 7: %d tokens", len);
	len = gen(&m, ws, 3, 0, 1, 4, out);
	CHECK(seq_is(out, len, a7, 4), "beam, max_len 4: %d tokens", len);
	/* bans (A,A) after A A, then (C,A) ... by hand: A A C A eos */
	len = gen(&m, ws, 1, 2, 1, 0, out);
	CHECK(seq_is(out, len, (int[]){A_, A_, C_, A_}, 4),
	      "no_repeat_ngram 2: %d tokens %d %d %d", len, out[0], out[1],
	      out[2]);
	/* penalty 10: A's log .6 becomes -5.1, C (-1.2) wins, then eos */
	len = gen(&m, ws, 1, 0, 10, 0, out);
	CHECK(seq_is(out, len, (int[]){A_, C_}, 2),
	      "repetition penalty: %d tokens", len);
	pfm_seq_free(&m);

	/* beam 1 against a greedy decode over full forwards, random model */
	pfm_seq_config c = small_config();
	c.max_len = 6, c.vocab = 5, c.dropout = 0;
	if (random_model(&m, &c, 3))
		return;
	pfm_err e;
	for (int s = 0; s < 4; s++) {
		float x[3 * 6];
		pfm_rng r = pfm_rng_seed(s, 2);
		for (int i = 0; i < 18; i++)
			x[i] = (float)pfm_rng_normal(&r);
		int ref[8], k = 0, done = 0;
		float z[8 * 5];
		while (k < c.max_len && !done) {
			pfm_seq_example ex = {x, 3, ref, k, NULL, 0, 0};
			pfm_seq_logits(&m, ws, PFM_SEQ_REPORT, &ex, z, &e);
			const float *row = z + (size_t)k * c.vocab;
			int am = 0;
			for (int v = 1; v < c.vocab; v++)
				am = row[v] > row[am] ? v : am;
			if (am == c.eos)
				done = 1;
			else
				ref[k++] = am;
		}
		pfm_seq_example ex = {x, 3, NULL, 0, NULL, 0, 0};
		pfm_seq_gen_opts o = {1, 0, 1, 0, 1};
		CHECK(!pfm_seq_generate(&m, ws, PFM_SEQ_REPORT, &ex, &o, out,
					&len, NULL, &e) &&
			      seq_is(out, len, ref, k),
		      "beam 1 vs greedy over full forwards, seed %d", s);
	}
	pfm_seq_free(&m);
}

/* Batched decoding and prediction equal the one-example calls; the
 * initialisation keeps its bounds; clipping is torch's. */
static void helpers(pfm_seq_ws *ws)
{
	pfm_seq m, m2;
	pfm_seq_config c = small_config();
	pfm_err e;
	c.n_answers = 3, c.dropout = 0;
	if (random_model(&m, &c, 21) || random_model(&m2, &c, 21))
		return;
	CHECK(!memcmp(m.params, m2.params, m.n_params * sizeof(float)),
	      "init is not a function of the seed");
	int bad = 0;
	for (int i = 0; i < m.n_tensors; i++) {
		const pfm_seq_tensor *t = &m.tensors[i];
		const float *p = m.params + t->offset;
		int ln = strstr(t->name, "ln") || strstr(t->name, "norm.");
		double a = t->ndim == 2 ? sqrt(6.0 / (double)(t->shape[0] +
							       t->shape[1]))
				     : 1 / sqrt((double)m.tensors[i - 1].shape[1]);
		for (size_t j = 0; j < t->count; j++)
			bad += ln && t->ndim == 1
				       ? p[j] != (strstr(t->name, "weight") ? 1 : 0)
				       : !(fabs(p[j]) <= a);
	}
	CHECK(bad == 0, "%d initial values out of their bounds", bad);
	enum { NE = 5 };
	float x[NE][12];
	int q[NE][3], out[NE * 8], len[NE], one[8], n1;
	pfm_seq_example ex[NE];
	pfm_rng r = pfm_rng_seed(4, 0);
	for (int i = 0; i < NE; i++) {
		for (int j = 0; j < 12; j++)
			x[i][j] = (float)pfm_rng_normal(&r);
		for (int j = 0; j < 3; j++)
			q[i][j] = 3 + (int)pfm_rng_below(&r, 6);
		ex[i] = (pfm_seq_example){x[i], 1 + i % 2, q[i], i % 4, q[i], 2,
					  i % 3};
	}
	pfm_seq_gen_opts o = {2, 0, 1, 2, 1.2f};
	pfm_seq_pool *p = pfm_seq_pool_new(&m, 2, 0, &e);
	int same = p && !pfm_seq_generate_batch(p, &m, PFM_SEQ_VQA_GEN, ex, NE,
						&o, out, len, &e);
	for (int i = 0; same && i < NE; i++)
		same = !pfm_seq_generate(&m, ws, PFM_SEQ_VQA_GEN, &ex[i], &o, one,
					 &n1, NULL, &e) &&
		       seq_is(out + i * c.max_len, len[i], one, n1);
	CHECK(same, "batched generation differs");
	float z[NE * 3], z1[3];
	same = p && !pfm_seq_vqa_predict_batch(p, &m, ex, NE, z, &e);
	for (int i = 0; same && i < NE; i++)
		same = !pfm_seq_logits(&m, ws, PFM_SEQ_VQA_CLS, &ex[i], z1, &e) &&
		       !memcmp(z1, z + 3 * i, sizeof z1);
	CHECK(same, "batched VQA prediction differs");
	pfm_seq_pool_free(p);
	float g[3] = {3, 4, 0};
	double nrm = pfm_seq_clip_grad(g, 3, 1);
	CHECK(nrm == 5 && g[0] == (float)(3 * (1 / (5 + 1e-6))) &&
		      pfm_seq_clip_grad(g, 3, 10) < 1.0001 &&
		      g[1] == (float)(4 * (1 / (5 + 1e-6))),
	      "clip: norm %g, %g %g", nrm, g[0], g[1]);
	pfm_seq_free(&m);
	pfm_seq_free(&m2);
}

static void errors(pfm_seq_ws *ws)
{
	pfm_seq m;
	pfm_seq_config c = small_config();
	pfm_err e;
	if (random_model(&m, &c, 1))
		return;
	float x[6] = {0};
	int bad[2] = {3, 9}, many[9] = {3};
	pfm_seq_example ex = {x, 1, bad, 2, NULL, 0, 0};
	CHECK(pfm_seq_loss(&m, ws, PFM_SEQ_REPORT, &ex, 0, 1, NULL, NULL,
			   NULL, NULL, NULL, &e) == -1 &&
		      strstr(e.msg, "report tokens[1] = 9"), "%s", e.msg);
	ex.tok = many, ex.len = 9;
	CHECK(pfm_seq_loss(&m, ws, PFM_SEQ_REPORT, &ex, 0, 1, NULL, NULL,
			   NULL, NULL, NULL, &e) == -1 &&
		      strstr(e.msg, "max_len 8"), "%s", e.msg);
	ex.len = 0;
	CHECK(pfm_seq_loss(&m, ws, PFM_SEQ_VQA_CLS, &ex, 0, 1, NULL, NULL,
			   NULL, NULL, NULL, &e) == -1 &&
		      strstr(e.msg, "VQA head"), "%s", e.msg);
	c.heads = 3;
	CHECK(pfm_seq_config_check(&c, &e) == -1 && strstr(e.msg, "heads"),
	      "%s", e.msg);
	pfm_seq_config p;
	CHECK(pfm_seq_config_parse(&p, "{\"d_in\":3}", 10, &e) == -1 &&
		      strstr(e.msg, "missing"), "%s", e.msg);
	pfm_seq_free(&m);
}

int main(void)
{
	static const char *const cases[] = {"rep-relu", "rep-gelu-region",
					    "rep-noenc", "vqa-cls", "vqa-gen"};
	pfm_seq_ws *ws = pfm_seq_ws_new();
	if (!ws) {
		CHECK(0, "out of memory");
		return check_done();
	}
	if (!torchref_run(dir, "seq_ref.py", ""))
		for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
			torch_case(cases[i], ws);
	finite_diff(ws);
	threads();
	checkpoints();
	decoding(ws);
	helpers(ws);
	errors(ws);
	pfm_seq_ws_free(ws);
	torchref_clean(dir);
	return check_done();
}
