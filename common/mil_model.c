/* mil_model.c: the ABMIL model (mil.h): parameters, forward, backward.
 * GEMMs go to gemm.h (fp32, or bf16 with --precision bf16); the
 * elementwise work between them is fused into single passes that
 * vectorise (CLONES, and the Makefile's -O3 -fno-math-errno for this
 * file, as for vit_kernels.c). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "layers.h"
#include "mil.h"
#include "par.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&       \
	!defined(__SANITIZE_ADDRESS__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

/* tanh as a rational function of x (Eigen's generic_fast_tanh_float:
 * within 4e-7 of tanh everywhere, relative error below 4e-7), so that
 * the loops vectorise; sigmoid(x) = (1 + tanh(x/2)) / 2. */
static inline float ftanh(float x)
{
	const float lim = 7.90531110763549805f;
	x = x < -lim ? -lim : x > lim ? lim : x;
	float x2 = x * x;
	float p = -2.76076847742355e-16f;
	p = p * x2 + 2.00018790482477e-13f;
	p = p * x2 + -8.60467152213735e-11f;
	p = p * x2 + 5.12229709037114e-08f;
	p = p * x2 + 1.48572235717979e-05f;
	p = p * x2 + 6.37261928875436e-04f;
	p = p * x2 + 4.89352455891786e-03f;
	p = p * x;
	float q = 1.19825839466702e-06f;
	q = q * x2 + 1.18534705686654e-04f;
	q = q * x2 + 2.26843463243900e-03f;
	q = q * x2 + 4.89352518554385e-03f;
	return p / q;
}

/* h = v * g and gate g = (relu? v > 0 : 1) * mask, v = z + b (per column);
 * z is overwritten by the gate, which is all backward needs; hb (when
 * not NULL) gets h in bf16. */
CLONES static void proj_epilogue(float *restrict z, float *restrict h,
				 uint16_t *restrict hb, const float *restrict b,
				 const float *restrict mask, int n, int P, int relu)
{
	for (int i = 0; i < n; i++) {
		float *zi = z + (size_t)i * P, *hi = h + (size_t)i * P;
		const float *mi = mask ? mask + (size_t)i * P : NULL;
		uint16_t *hbi = hb ? hb + (size_t)i * P : NULL;
		for (int p = 0; p < P; p++) {
			float v = zi[p] + b[p];
			float g = mi ? mi[p] : 1.0f;
			if (relu && !(v > 0))
				g = 0;
			hi[p] = v * g;
			zi[p] = g;
			if (hbi)
				hbi[p] = pfm_bf16_of(v * g);
		}
	}
}

/* u = tanh(u + b) */
CLONES static void tanh_bias(float *restrict u, const float *restrict b, int n, int H)
{
	for (int i = 0; i < n; i++)
		for (int j = 0; j < H; j++)
			u[(size_t)i * H + j] = ftanh(u[(size_t)i * H + j] + b[j]);
}

/* u = sigmoid(u + b), prod = a * u */
CLONES static void sigmoid_bias_prod(float *restrict u, const float *restrict b,
				     const float *restrict a, float *restrict prod,
				     int n, int H)
{
	for (int i = 0; i < n; i++)
		for (int j = 0; j < H; j++) {
			size_t q = (size_t)i * H + j;
			float s = 0.5f + 0.5f * ftanh(0.5f * (u[q] + b[j]));
			u[q] = s;
			prod[q] = a[q] * s;
		}
}

/* dh = att dm^T (outer product) */
CLONES static void outer(float *restrict dh, const float *restrict att,
			 const float *restrict dm, int n, int P)
{
	for (int i = 0; i < n; i++)
		for (int p = 0; p < P; p++)
			dh[(size_t)i * P + p] = att[i] * dm[p];
}

/* dh *= gate; gb (when not NULL) gets the product in bf16 */
CLONES static void gate_mul(float *restrict dh, const float *restrict g,
			    uint16_t *restrict gb, size_t n)
{
	if (gb)
		for (size_t i = 0; i < n; i++) {
			dh[i] *= g[i];
			gb[i] = pfm_bf16_of(dh[i]);
		}
	else
		for (size_t i = 0; i < n; i++)
			dh[i] *= g[i];
}

/* The passes above over rows [0, n) on the GEMM threads, when there are
 * at least 64k values (per a row) a thread: each row's outputs are its
 * own, so the results do not depend on the split. */
static void par_rows(int n, size_t per, void (*fn)(void *, int, int), void *ctx)
{
	size_t rows = (65536 + per - 1) / per;
	pfm_par_for_min(pfm_gemm_threads(), n, rows < (size_t)n ? (int)rows : n, fn, ctx);
}

typedef struct {
	float *z, *h, *dh;
	uint16_t *hb;
	const float *b, *mask, *att, *dm;
	int P, relu;
} rows_args;

static void epilogue_rows(void *ctx, int lo, int hi)
{
	rows_args *a = ctx;
	size_t o = (size_t)lo * a->P;
	proj_epilogue(a->z + o, a->h + o, a->hb ? a->hb + o : NULL, a->b,
		      a->mask ? a->mask + o : NULL, hi - lo, a->P, a->relu);
}

static void outer_rows(void *ctx, int lo, int hi)
{
	rows_args *a = ctx;
	outer(a->dh + (size_t)lo * a->P, a->att + lo, a->dm, hi - lo, a->P);
}

static void gate_rows(void *ctx, int lo, int hi)
{
	rows_args *a = ctx;
	size_t o = (size_t)lo * a->P;
	gate_mul(a->dh + o, a->z + o, a->hb ? a->hb + o : NULL, (size_t)(hi - lo) * a->P);
}

/* db[o] += sum over the n rows of dy[., o], columns [lo, hi): each
 * column summed in row order, whatever the split */
typedef struct {
	float *db;
	const float *dy;
	int n, oc;
} colsum_args;

static void colsum_cols(void *ctx, int lo, int hi)
{
	colsum_args *a = ctx;
	for (int i = 0; i < a->n; i++)
		for (int o = lo; o < hi; o++)
			a->db[o] += a->dy[(size_t)i * a->oc + o];
}

/* The attention branches backward: da, db from ds and the branches. */
CLONES static void attn_back(float *restrict da, float *restrict db,
			     const float *restrict ua, const float *restrict ub,
			     const float *restrict ds, const float *restrict wc,
			     float *restrict gwc, int n, int H)
{
	for (int i = 0; i < n; i++) {
		const float *a = ua + (size_t)i * H;
		float *dai = da + (size_t)i * H, dsi = ds[i];
		if (ub) {
			const float *b = ub + (size_t)i * H;
			float *dbi = db + (size_t)i * H;
			for (int j = 0; j < H; j++) {
				gwc[j] += dsi * (a[j] * b[j]);
				float dg = dsi * wc[j];
				dai[j] = dg * b[j] * (1 - a[j] * a[j]);
				dbi[j] = dg * a[j] * b[j] * (1 - b[j]);
			}
		} else {
			for (int j = 0; j < H; j++) {
				gwc[j] += dsi * a[j];
				dai[j] = dsi * wc[j] * (1 - a[j] * a[j]);
			}
		}
	}
}

int pfm_mil_init(pfm_mil *m, const pfm_mil_config *c, pfm_rng *r, pfm_err *e)
{
	memset(m, 0, sizeof *m);
	m->c = *c;
	if (c->d < 1 || c->nout < 1 || c->proj < 0 || c->nmlp < 0 ||
	    c->nmlp > PFM_MIL_MAX_MLP || (c->pool == PFM_POOL_ATTN && c->attn < 1) ||
	    !(c->dropout >= 0 && c->dropout < 1))
		return pfm_errf(e, "MIL model: bad configuration");
	int P = c->proj ? c->proj : c->d, in = P;
	m->P = P;
	if (c->proj) {
		m->size[PFM_MIL_W1] = (size_t)P * c->d;
		m->size[PFM_MIL_B1] = P;
	}
	if (c->pool == PFM_POOL_ATTN) {
		m->size[PFM_MIL_WA] = (size_t)c->attn * P;
		m->size[PFM_MIL_BA] = c->attn;
		if (c->gated) {
			m->size[PFM_MIL_WB] = (size_t)c->attn * P;
			m->size[PFM_MIL_BB] = c->attn;
		}
		m->size[PFM_MIL_WC] = c->attn;
		m->size[PFM_MIL_BC] = 1;
	}
	for (int k = 0; k < c->nmlp; k++) {
		if (c->mlp[k] < 1)
			return pfm_errf(e, "MIL model: bad MLP width");
		m->size[PFM_MIL_WM(k)] = (size_t)c->mlp[k] * in;
		m->size[PFM_MIL_BM(k)] = c->mlp[k];
		in = c->mlp[k];
	}
	m->in_out = in;
	m->size[PFM_MIL_WO] = (size_t)c->nout * in;
	m->size[PFM_MIL_BO] = c->nout;
	for (int i = 0; i < PFM_MIL_NT; i++)
		m->nparams += m->size[i];
	float *mem = calloc(4 * m->nparams, sizeof *mem);
	int acts = P;
	for (int k = 0; k < c->nmlp; k++)
		acts += c->mlp[k];
	m->act = calloc(acts, sizeof *m->act);
	m->dact = calloc(acts, sizeof *m->dact);
	m->argmax = calloc(P, sizeof *m->argmax);
	if (!mem || !m->act || !m->dact || !m->argmax) {
		free(mem);
		pfm_mil_free(m);
		return pfm_errf(e, "out of memory");
	}
	if (c->bf16) {
		if (!pfm_gemm_bf16_available()) {
			free(mem);
			pfm_mil_free(m);
			return pfm_errf(e, "bf16 needs oneDNN and an AVX-512 CPU, which this "
					   "build or machine lacks (use fp32)");
		}
		m->wb = malloc(sizeof *m->wb * (m->size[PFM_MIL_W1] + m->size[PFM_MIL_WA] +
						m->size[PFM_MIL_WB] + 1));
		if (!m->wb) {
			free(mem);
			pfm_mil_free(m);
			return pfm_errf(e, "out of memory");
		}
	}
	m->params = mem;
	m->grads = mem + m->nparams;
	m->m = mem + 2 * m->nparams;
	m->v = mem + 3 * m->nparams;
	size_t off = 0;
	for (int i = 0; i < PFM_MIL_NT; i++) {
		m->t[i] = m->size[i] ? m->params + off : NULL;
		m->g[i] = m->size[i] ? m->grads + off : NULL;
		off += m->size[i];
	}
	/* weights in tensor order, each layer's weight then bias */
	in = c->d;
	if (c->proj)
		pfm_linear_init(m->t[PFM_MIL_W1], m->t[PFM_MIL_B1], c->d, P, c->init, r);
	if (c->pool == PFM_POOL_ATTN) {
		pfm_linear_init(m->t[PFM_MIL_WA], m->t[PFM_MIL_BA], P, c->attn, c->init, r);
		if (c->gated)
			pfm_linear_init(m->t[PFM_MIL_WB], m->t[PFM_MIL_BB], P, c->attn, c->init, r);
		pfm_linear_init(m->t[PFM_MIL_WC], m->t[PFM_MIL_BC], c->attn, 1, c->init, r);
	}
	in = P;
	for (int k = 0; k < c->nmlp; k++) {
		pfm_linear_init(m->t[PFM_MIL_WM(k)], m->t[PFM_MIL_BM(k)], in,
				c->mlp[k], c->init, r);
		in = c->mlp[k];
	}
	pfm_linear_init(m->t[PFM_MIL_WO], m->t[PFM_MIL_BO], in, c->nout, c->init, r);
	return 0;
}

void pfm_mil_free(pfm_mil *m)
{
	free(m->params);
	free(m->z1), free(m->h), free(m->ua), free(m->ub), free(m->att);
	free(m->dh), free(m->dua), free(m->dub), free(m->ds);
	free(m->argmax), free(m->act), free(m->dact);
	free(m->xb), free(m->hb), free(m->gb), free(m->wb);
	memset(m, 0, sizeof *m);
}

void pfm_mil_describe(const pfm_mil *m, char *buf, size_t n)
{
	const pfm_mil_config *c = &m->c;
	int w = 0;
#define PUT(...) do { if ((size_t)w < n) w += snprintf(buf + w, n - w, __VA_ARGS__); } while (0)
	PUT("%d", c->d);
	if (c->proj)
		PUT(" -> %d%s", c->proj, c->proj_relu ? " relu" : "");
	if (c->dropout > 0)
		PUT(", dropout %g", c->dropout);
	if (c->bf16)
		PUT(", bf16 products");
	if (c->pool == PFM_POOL_ATTN)
		PUT(", %sattention %d", c->gated ? "gated " : "", c->attn);
	else
		PUT(", %s pooling", c->pool == PFM_POOL_MEAN ? "mean" : "max");
	PUT(", %d", m->P);
	for (int k = 0; k < c->nmlp; k++)
		PUT(" -> %d relu", c->mlp[k]);
	PUT(" -> %d (%zu parameters)", c->nout, m->nparams);
#undef PUT
}

static int grow(float **p, size_t count)
{
	float *q = realloc(*p, sizeof *q * (count ? count : 1));
	if (!q)
		return -1;
	*p = q;
	return 0;
}

static int grow16(uint16_t **p, size_t count)
{
	uint16_t *q = realloc(*p, sizeof *q * (count ? count : 1));
	if (!q)
		return -1;
	*p = q;
	return 0;
}

static int reserve(pfm_mil *m, int n, pfm_err *e)
{
	if (n <= m->cap)
		return 0;
	int cap = n > 2 * m->cap ? n : 2 * m->cap;
	size_t nP = (size_t)cap * m->P, nH = (size_t)cap * m->c.attn;
	int attn = m->c.pool == PFM_POOL_ATTN;
	if ((m->c.proj && grow(&m->z1, nP)) || grow(&m->h, nP) ||
	    grow(&m->dh, nP) || grow(&m->att, cap) || grow(&m->ds, cap) ||
	    (attn && (grow(&m->ua, nH) || grow(&m->ub, nH) ||
		      grow(&m->dua, nH) || grow(&m->dub, nH))) ||
	    (m->c.bf16 && (grow16(&m->hb, nP) ||
			   grow16(&m->gb, nP > nH ? nP : nH))))
		return pfm_errf(e, "out of memory for a bag of %d instances", n);
	m->cap = cap;
	return 0;
}

/* The bf16 copy of weight tensor t (W1, WA or WB) in m->wb. */
static uint16_t *wbf(const pfm_mil *m, int t)
{
	size_t off = t == PFM_MIL_W1 ? 0 : m->size[PFM_MIL_W1];
	if (t == PFM_MIL_WB)
		off += m->size[PFM_MIL_WA];
	return m->wb + off;
}

/* out[n, N] = in[n, K] W_t^T: fp32, or in bf16 from in16 (in, rounded)
 * and W_t, rounded now into its bf16 copy. */
static int lin_fwd(pfm_mil *m, int t, const float *in, const uint16_t *in16,
		   int n, int K, int N, float *out, pfm_err *e)
{
	if (!m->c.bf16) {
		pfm_sgemm(0, 1, n, N, K, 1.0f, in, K, m->t[t], K, 0.0f, out, N);
		return 0;
	}
	uint16_t *w = wbf(m, t);
	pfm_bf16_round_par(w, m->t[t], m->size[t]);
	return pfm_gemm_bf16(0, 1, n, N, K, in16, K, w, K, 0, out, N, e);
}

int pfm_mil_rows16(const pfm_mil_config *c)
{
	return c->bf16 && c->proj > 0;
}

int pfm_mil_forward(pfm_mil *m, const float *x, const uint16_t *xb, int n,
		    const float *mask, float *logits, pfm_err *e)
{
	const pfm_mil_config *c = &m->c;
	int P = m->P, H = c->attn;
	if (n < 1)
		return pfm_errf(e, "empty bag");
	if (!x && !(xb && pfm_mil_rows16(c)))
		return pfm_errf(e, "internal: this model needs its rows in float32");
	if (reserve(m, n, e))
		return -1;
	m->n = n;
	m->mask = mask;
	size_t nP = (size_t)n * P;
	/* projection: h = dropout(relu(x W1^T + b1)) */
	if (c->proj) {
		if (c->bf16 && !xb) {
			/* grown apart from the rest: unused when given xb */
			if (n > m->xcap) {
				if (grow16(&m->xb, (size_t)m->cap * c->d))
					return pfm_errf(e, "out of memory for a bag of %d instances", n);
				m->xcap = m->cap;
			}
			pfm_bf16_round_par(m->xb, x, (size_t)n * c->d);
		}
		m->x16 = c->bf16 && xb ? xb : m->xb;
		if (lin_fwd(m, PFM_MIL_W1, x, m->x16, n, c->d, P, m->z1, e))
			return -1;
		rows_args ra = {.z = m->z1, .h = m->h,
				.hb = c->bf16 && c->pool == PFM_POOL_ATTN ? m->hb : NULL,
				.b = m->t[PFM_MIL_B1], .mask = mask, .P = P, .relu = c->proj_relu};
		par_rows(n, (size_t)P, epilogue_rows, &ra);
		m->hp = m->h;
	} else if (mask) {
		for (size_t i = 0; i < nP; i++)
			m->h[i] = x[i] * mask[i];
		m->hp = m->h;
	} else {
		m->hp = x;
	}
	const float *h = m->hp;
	float *pooled = m->act;
	if (c->pool == PFM_POOL_ATTN) {
		if (c->bf16 && !c->proj) /* else the projection's epilogue made hb */
			pfm_bf16_round_par(m->hb, h, nP);
		if (lin_fwd(m, PFM_MIL_WA, h, m->hb, n, P, H, m->ua, e))
			return -1;
		tanh_bias(m->ua, m->t[PFM_MIL_BA], n, H);
		float *g = m->ua;
		if (c->gated) {
			if (lin_fwd(m, PFM_MIL_WB, h, m->hb, n, P, H, m->ub, e))
				return -1;
			/* dua holds the gated product until backward */
			sigmoid_bias_prod(m->ub, m->t[PFM_MIL_BB], m->ua, m->dua, n, H);
			g = m->dua;
		}
		/* scores s = g Wc^T + bc, then softmax over the instances */
		pfm_linear_forward(m->att, g, m->t[PFM_MIL_WC], m->t[PFM_MIL_BC], n, H, 1);
		pfm_softmax(m->att, m->att, n);
		cblas_sgemv(CblasRowMajor, CblasTrans, n, P, 1.0f, h, P, m->att, 1,
			    0.0f, pooled, 1);
	} else if (c->pool == PFM_POOL_MEAN) {
		for (int p = 0; p < P; p++)
			pooled[p] = 0;
		for (int i = 0; i < n; i++)
			for (int p = 0; p < P; p++)
				pooled[p] += h[(size_t)i * P + p];
		for (int p = 0; p < P; p++)
			pooled[p] /= (float)n;
	} else {
		for (int p = 0; p < P; p++) {
			pooled[p] = h[p];
			m->argmax[p] = 0;
		}
		for (int i = 1; i < n; i++)
			for (int p = 0; p < P; p++)
				if (h[(size_t)i * P + p] > pooled[p]) {
					pooled[p] = h[(size_t)i * P + p];
					m->argmax[p] = i;
				}
	}
	/* classifier MLP */
	float *cur = pooled;
	int in = P;
	for (int k = 0; k < c->nmlp; k++) {
		float *out = cur + in;
		pfm_linear_forward(out, cur, m->t[PFM_MIL_WM(k)], m->t[PFM_MIL_BM(k)], 1, in, c->mlp[k]);
		for (int j = 0; j < c->mlp[k]; j++)
			if (!(out[j] > 0))
				out[j] = 0;
		cur = out;
		in = c->mlp[k];
	}
	pfm_linear_forward(logits, cur, m->t[PFM_MIL_WO], m->t[PFM_MIL_BO], 1, in, c->nout);
	for (int j = 0; j < c->nout; j++)
		if (!isfinite(logits[j]))
			return pfm_errf(e, "the model's output is not finite (diverged: lower the learning rate)");
	return 0;
}

/* bf16: a linear layer's backward from dy[n, oc] (fp32; rounded to bf16
 * into m->gb for the products unless rounded, as the forward rounded x
 * and w): dw += dy^T x, db += column sums of dy (fp32), dx += dy w when
 * dx. */
static int linear_back_bf16(pfm_mil *m, float *dx, float *dw, float *db,
			    const float *dy, int rounded, const uint16_t *x,
			    const uint16_t *w, int n, int ic, int oc, pfm_err *e)
{
	if (!rounded)
		pfm_bf16_round_par(m->gb, dy, (size_t)n * oc);
	if (pfm_gemm_bf16(1, 0, oc, ic, n, m->gb, oc, x, ic, 1, dw, ic, e) ||
	    (dx && pfm_gemm_bf16(0, 0, n, ic, oc, m->gb, oc, w, ic, 1, dx, ic, e)))
		return -1;
	colsum_args ca = {db, dy, n, oc};
	par_rows(oc, (size_t)n, colsum_cols, &ca);
	return 0;
}

int pfm_mil_backward(pfm_mil *m, const float *x, const float *dlogits, pfm_err *e)
{
	const pfm_mil_config *c = &m->c;
	int n = m->n, P = m->P, H = c->attn;
	const float *h = m->hp;
	/* classifier: walk the MLP back; act/dact hold each layer's output */
	int off[PFM_MIL_MAX_MLP + 1], in = P;
	off[0] = 0;
	for (int k = 0; k < c->nmlp; k++)
		off[k + 1] = off[k] + (k ? c->mlp[k - 1] : P);
	int last = c->nmlp ? off[c->nmlp] : 0, wlast = m->in_out;
	(void)in;
	memset(m->dact, 0, sizeof *m->dact * (last + wlast));
	pfm_linear_backward(m->dact + last, m->g[PFM_MIL_WO], m->g[PFM_MIL_BO], dlogits,
			    m->act + last, m->t[PFM_MIL_WO], 1, wlast, c->nout);
	for (int k = c->nmlp - 1; k >= 0; k--) {
		float *out = m->act + off[k + 1], *dout = m->dact + off[k + 1];
		int win = k ? c->mlp[k - 1] : P;
		for (int j = 0; j < c->mlp[k]; j++)
			if (!(out[j] > 0))
				dout[j] = 0;
		pfm_linear_backward(m->dact + off[k], m->g[PFM_MIL_WM(k)], m->g[PFM_MIL_BM(k)],
				    dout, m->act + off[k], m->t[PFM_MIL_WM(k)], 1, win, c->mlp[k]);
	}
	const float *dm = m->dact;
	size_t nP = (size_t)n * P;
	int need_dh = c->proj != 0;
	float *dh = m->dh;
	if (c->pool == PFM_POOL_ATTN) {
		size_t nH = (size_t)n * H;
		/* m = a^T h: dA = h dm; dh = a dm^T; softmax back to scores */
		float *ds = m->ds;
		cblas_sgemv(CblasRowMajor, CblasNoTrans, n, P, 1.0f, h, P, dm, 1, 0.0f, ds, 1);
		float dot = 0;
		for (int i = 0; i < n; i++)
			dot += m->att[i] * ds[i];
		for (int i = 0; i < n; i++)
			ds[i] = m->att[i] * (ds[i] - dot);
		if (need_dh)
			par_rows(n, (size_t)P, outer_rows,
				 &(rows_args){.dh = dh, .att = m->att, .dm = dm, .P = P});
		/* s = g wc + bc, g = ua (* ub) */
		float sum = 0;
		for (int i = 0; i < n; i++)
			sum += ds[i];
		attn_back(m->dua, c->gated ? m->dub : NULL, m->ua, c->gated ? m->ub : NULL, ds,
			  m->t[PFM_MIL_WC], m->g[PFM_MIL_WC], n, H);
		m->g[PFM_MIL_BC][0] += sum;
		(void)nH;
		if (c->bf16) {
			if (linear_back_bf16(m, need_dh ? dh : NULL, m->g[PFM_MIL_WA],
					     m->g[PFM_MIL_BA], m->dua, 0, m->hb,
					     wbf(m, PFM_MIL_WA), n, P, H, e) ||
			    (c->gated && linear_back_bf16(m, need_dh ? dh : NULL, m->g[PFM_MIL_WB],
							  m->g[PFM_MIL_BB], m->dub, 0, m->hb,
							  wbf(m, PFM_MIL_WB), n, P, H, e)))
				return -1;
		} else {
			pfm_linear_backward(need_dh ? dh : NULL, m->g[PFM_MIL_WA], m->g[PFM_MIL_BA],
					    m->dua, h, m->t[PFM_MIL_WA], n, P, H);
			if (c->gated)
				pfm_linear_backward(need_dh ? dh : NULL, m->g[PFM_MIL_WB],
						    m->g[PFM_MIL_BB], m->dub, h,
						    m->t[PFM_MIL_WB], n, P, H);
		}
	} else if (need_dh && c->pool == PFM_POOL_MEAN) {
		for (int i = 0; i < n; i++)
			for (int p = 0; p < P; p++)
				dh[(size_t)i * P + p] = dm[p] / (float)n;
	} else if (need_dh) {
		memset(dh, 0, sizeof *dh * nP);
		for (int p = 0; p < P; p++)
			dh[(size_t)m->argmax[p] * P + p] = dm[p];
	}
	if (!need_dh)
		return 0;
	/* through dropout and the ReLU (the gate) to the projection */
	par_rows(n, (size_t)P, gate_rows,
		 &(rows_args){.dh = dh, .z = m->z1, .hb = c->bf16 ? m->gb : NULL, .P = P});
	if (c->bf16)
		return linear_back_bf16(m, NULL, m->g[PFM_MIL_W1], m->g[PFM_MIL_B1], dh, 1,
					m->x16, wbf(m, PFM_MIL_W1), n, c->d, P, e);
	pfm_linear_backward(NULL, m->g[PFM_MIL_W1], m->g[PFM_MIL_B1], dh, x,
			    m->t[PFM_MIL_W1], n, c->d, P);
	return 0;
}

void pfm_mil_zero_grad(pfm_mil *m)
{
	memset(m->grads, 0, sizeof *m->grads * m->nparams);
}

void pfm_mil_step(pfm_mil *m, const pfm_adamw_opts *o)
{
	pfm_adamw_opts mt = *o;
	mt.threads = pfm_gemm_threads();
	pfm_adamw_step(m->params, m->grads, m->m, m->v, m->nparams, &mt, ++m->step);
}

CLONES static void mask_fill(float *restrict mask, size_t count, uint64_t base,
			     uint32_t thr, float keep)
{
	/* splitmix64 is counter based: draw j is mix(base + (j+1) gamma) */
	for (size_t j = 0; j < count / 4; j++) {
		uint64_t z = base + (j + 1) * 0x9e3779b97f4a7c15ull;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		for (int q = 0; q < 4; q++)
			mask[4 * j + q] = ((uint32_t)(z >> (16 * q)) & 0xffff) < thr ? 0.0f : keep;
	}
}

typedef struct {
	float *mask;
	uint64_t base;
	uint32_t thr;
	float keep;
} mask_args;

/* draws [lo, hi) (four values each) */
static void mask_draws(void *ctx, int lo, int hi)
{
	mask_args *a = ctx;
	mask_fill(a->mask + 4 * (size_t)lo, 4 * (size_t)(hi - lo),
		  a->base + (uint64_t)lo * 0x9e3779b97f4a7c15ull, a->thr, a->keep);
}

void pfm_mil_dropout_mask(float *mask, size_t count, float p, pfm_rng *r)
{
	float keep = 1.0f / (1.0f - p);
	uint32_t thr = (uint32_t)lrint(p * 65536.0);
	uint64_t base = r->s;
	size_t full = count / 4;
	/* counter based: a range of draws starts at its own counter, so
	 * the split does not change the mask */
	if (full <= (size_t)1 << 30)
		par_rows((int)full, 4, mask_draws, &(mask_args){mask, base, thr, keep});
	else
		mask_fill(mask, full * 4, base, thr, keep);
	r->s = base + full * 0x9e3779b97f4a7c15ull;
	for (size_t i = full * 4; i < count; i++)
		mask[i] = (pfm_rng_u64(r) & 0xffff) < thr ? 0.0f : keep;
}

int pfm_mil_epoch(pfm_mil *m, const pfm_mil_item *items, int nitems,
		  const pfm_mil_train_opts *o, pfm_rng *r, double *loss,
		  pfm_err *e)
{
	int B = o->batch > 0 ? o->batch : 1, K = m->c.nout;
	float logits[256], dlogits[256];
	float *mask = NULL;
	size_t mask_cap = 0;
	int rc = 0;
	if (K > 256)
		return pfm_errf(e, "MIL model: at most 256 outputs");
	for (int start = 0; start < nitems && !rc; start += B) {
		int nb = nitems - start < B ? nitems - start : B;
		float scale = 1.0f / (float)nb;
		pfm_mil_zero_grad(m);
		for (int b = 0; b < nb && !rc; b++) {
			const pfm_mil_item *it = &items[start + b];
			const float *mk = it->mask;
			if (!mk && m->c.dropout > 0) {
				size_t cnt = (size_t)it->n * m->P;
				if (cnt > mask_cap) {
					float *nm = realloc(mask, sizeof *nm * cnt);
					if (!nm) {
						rc = pfm_errf(e, "out of memory");
						break;
					}
					mask = nm, mask_cap = cnt;
				}
				pfm_mil_dropout_mask(mask, cnt, m->c.dropout, r);
				mk = mask;
			}
			if (pfm_mil_forward(m, it->x, it->xb, it->n, mk, logits, e)) {
				rc = -1;
				break;
			}
			double l = o->task == PFM_TASK_CLS
				? pfm_mil_ce(logits, K, it->y, scale, dlogits)
				: pfm_mil_surv_nll(logits, K, it->y, it->censored, o->alpha, scale, dlogits);
			if (loss)
				loss[start + b] = l;
			if (pfm_mil_backward(m, it->x, dlogits, e)) {
				rc = -1;
				break;
			}
		}
		if (!rc)
			pfm_mil_step(m, &o->opt);
	}
	free(mask);
	return rc;
}
