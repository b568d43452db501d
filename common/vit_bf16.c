/* vit_bf16.c: the ViT forward's matrix products through oneDNN: the
 * linear layers and attention, in bf16 (embed --precision bf16) or fp32.
 *
 * oneDNN's matmul (brgemm, AVX-512 on this CPU) runs the fp32 linear
 * layers at twice the rate of OpenBLAS 0.3.21's sgemm here (which picks
 * its AVX2 kernel). Weights are copied once into the layout oneDNN
 * prefers (a second copy of them: +4 bytes a weight in fp32, +2 in bf16),
 * rounded to nearest even for bf16. In bf16 a layer's fp32 input is
 * rounded as it goes in; products accumulate in fp32, the bias is added
 * and fc1's GELU (erf) applied to the fp32 sums inside the GEMM; qkv,
 * the attention output and the GELU output leave as bf16 (they only feed
 * other products), the rest as fp32. Attention scores and their softmax,
 * LayerNorm and the residual stream stay fp32. Built when oneDNN's
 * headers are found (Debian's libdnnl-dev); otherwise asking for bf16 is
 * an error and fp32 goes through OpenBLAS. */
#include "vit_bf16.h"
#include "vit_kernels.h"
#include "vit_math.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef PFM_DNNL
#include <oneapi/dnnl/dnnl.h>

/* oneDNN threads through OpenMP: each of our threads uses one. */
extern void omp_set_num_threads(int);

#define MAX_PRIMS 48
#define MAX_FMTS 16

struct pfm_bf16_fmt {
	dnnl_memory_desc_t md[MAX_FMTS]; /* weights as K x N */
	int K[MAX_FMTS], N[MAX_FMTS], bf16[MAX_FMTS];
	int n;
};

/* One matmul d = act(scale * a @ b (+ c)), made once per shape and
 * thread. */
typedef struct {
	dnnl_memory_desc_t a, b, c, d; /* c.ndims == 0: no bias */
	float scale;
	int gelu;
	dnnl_primitive_t p;
	dnnl_memory_t m[5]; /* a, b, d, scratchpad, c: execute's order */
} prim_t;

struct pfm_bf16_ws {
	const pfm_bf16_fmt *fmt;
	dnnl_engine_t eng;
	dnnl_stream_t st;
	prim_t prims[MAX_PRIMS];
	int nprims;
	/* attention's softmax over the last axis of [H, T, T], in place;
	 * remade when the shape changes */
	dnnl_primitive_t sm;
	dnnl_memory_t sm_m[3]; /* src, dst, scratchpad */
	int sm_H, sm_T;
	uint16_t *act; /* a linear layer's input in bf16 */
	size_t act_cap;
	float *s;     /* attention scores [H, T, T] */
	uint16_t *sb; /* their softmax in bf16 */
	size_t s_cap, sb_cap;
	/* scratchpad we own: oneDNN's own is mapped and unmapped on every
	 * call (page faults each time) */
	void *pad;
	size_t pad_cap;
};

int pfm_bf16_available(void)
{
	return 1;
}

/* Destroy a primitive and its n memory objects (those made). */
static void destroy(dnnl_primitive_t *p, dnnl_memory_t *m, int n)
{
	if (*p)
		dnnl_primitive_destroy(*p);
	*p = NULL;
	for (int i = 0; i < n; i++) {
		if (m[i])
			dnnl_memory_destroy(m[i]);
		m[i] = NULL;
	}
}

static void softmax_drop(pfm_bf16_ws *w)
{
	destroy(&w->sm, w->sm_m, 3);
}

pfm_bf16_ws *pfm_bf16_ws_new(const pfm_bf16_fmt *f, pfm_err *e)
{
	pfm_bf16_ws *w = calloc(1, sizeof *w);
	if (!w) {
		pfm_errf(e, "out of memory");
		return NULL;
	}
	w->fmt = f;
	if (dnnl_engine_create(&w->eng, dnnl_cpu, 0) ||
	    dnnl_stream_create(&w->st, w->eng, dnnl_stream_default_flags)) {
		pfm_errf(e, "oneDNN: cannot create a CPU engine");
		pfm_bf16_ws_free(w);
		return NULL;
	}
	return w;
}

void pfm_bf16_ws_free(pfm_bf16_ws *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->nprims; i++)
		destroy(&w->prims[i].p, w->prims[i].m, 5);
	softmax_drop(w);
	if (w->st)
		dnnl_stream_destroy(w->st);
	if (w->eng)
		dnnl_engine_destroy(w->eng);
	free(w->act);
	free(w->s);
	free(w->sb);
	free(w->pad);
	free(w);
}

pfm_bf16_fmt *pfm_bf16_fmt_new(pfm_err *e)
{
	pfm_bf16_fmt *f = calloc(1, sizeof *f);
	if (!f)
		pfm_errf(e, "out of memory");
	return f;
}

void pfm_bf16_fmt_free(pfm_bf16_fmt *f)
{
	free(f);
}

/* The weights layout brgemm picks does not depend on M (checked for 3 to
 * 3152 rows), so one prepared copy serves every batch size. */
int pfm_bf16_prepare(pfm_bf16_fmt *f, void *dst, const float *src,
		     int count, int N, int K, int M_hint, int bf16,
		     pfm_err *e)
{
	dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
	size_t es = bf16 ? 2 : 4;
	int id = -1;
	for (int i = 0; i < f->n; i++)
		if (f->K[i] == K && f->N[i] == N && f->bf16[i] == bf16)
			id = i;
	dnnl_engine_t eng = NULL;
	dnnl_stream_t st = NULL;
	dnnl_primitive_desc_t pd = NULL, rpd = NULL;
	dnnl_primitive_t re = NULL;
	dnnl_memory_t m[2] = {0}; /* from, to */
	dnnl_memory_desc_t a, b, d, plain, from;
	dnnl_dims_t ad = {M_hint, K}, bd = {K, N}, dd = {M_hint, N};
	dnnl_matmul_desc_t mm;
	int rc = -1;
	omp_set_num_threads(1); /* no OpenMP team: the caller has -j */
	if (dnnl_engine_create(&eng, dnnl_cpu, 0) ||
	    dnnl_stream_create(&st, eng, dnnl_stream_default_flags) ||
	    dnnl_memory_desc_init_by_tag(&plain, 2, bd, dt, dnnl_ba) ||
	    dnnl_memory_desc_init_by_tag(&from, 2, bd, dnnl_f32, dnnl_ba))
		goto dnnl_fail;
	if (id < 0) {
		if (f->n == MAX_FMTS) {
			pfm_errf(e, "oneDNN: too many weight shapes");
			goto out;
		}
		if (dnnl_memory_desc_init_by_tag(&a, 2, ad, dt, dnnl_ab) ||
		    dnnl_memory_desc_init_by_tag(&b, 2, bd, dt,
						 dnnl_format_tag_any) ||
		    dnnl_memory_desc_init_by_tag(&d, 2, dd, dnnl_f32, dnnl_ab) ||
		    dnnl_matmul_desc_init(&mm, &a, &b, NULL, &d) ||
		    dnnl_primitive_desc_create(&pd, &mm, NULL, eng, NULL))
			goto dnnl_fail;
		const dnnl_memory_desc_t *q =
			dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
		/* the copy must fit where the plain one would */
		if (dnnl_memory_desc_get_size(q) != (size_t)N * K * es)
			q = &plain;
		id = f->n++;
		f->md[id] = *q;
		f->K[id] = K;
		f->N[id] = N;
		f->bf16[id] = bf16;
	}
	/* one pass: the reorder rounds to bf16 (nearest even) as it goes */
	if (dnnl_reorder_primitive_desc_create(&rpd, &from, eng, &f->md[id],
					       eng, NULL) ||
	    dnnl_primitive_create(&re, rpd) ||
	    dnnl_memory_create(&m[0], &from, eng, DNNL_MEMORY_NONE) ||
	    dnnl_memory_create(&m[1], &f->md[id], eng, DNNL_MEMORY_NONE))
		goto dnnl_fail;
	for (int i = 0; i < count; i++) {
		size_t off = (size_t)i * N * K;
		dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, m[0]},
					   {DNNL_ARG_TO, m[1]}};
		if (dnnl_memory_set_data_handle_v2(m[0], (void *)(src + off),
						   st) ||
		    dnnl_memory_set_data_handle_v2(m[1], (char *)dst + off * es,
						   st) ||
		    dnnl_primitive_execute(re, st, 2, args) ||
		    dnnl_stream_wait(st))
			goto dnnl_fail;
	}
	rc = id;
	goto out;
dnnl_fail:
	pfm_errf(e, "oneDNN: cannot lay out %dx%d %s weights", N, K,
		 bf16 ? "bf16" : "fp32");
out:
	destroy(&re, m, 2);
	if (rpd)
		dnnl_primitive_desc_destroy(rpd);
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	if (st)
		dnnl_stream_destroy(st);
	if (eng)
		dnnl_engine_destroy(eng);
	return rc;
}

static int grow(void **buf, size_t *cap, size_t n, size_t es, pfm_err *e)
{
	if (n <= *cap)
		return 0;
	void *p = realloc(*buf, n * es);
	if (!p)
		return pfm_errf(e, "out of memory");
	*buf = p;
	*cap = n;
	return 0;
}

static int same(const dnnl_memory_desc_t *x, const dnnl_memory_desc_t *y)
{
	return x->ndims == y->ndims &&
	       (!x->ndims || dnnl_memory_desc_equal(x, y));
}

/* The primitive for d = scale * a @ b (+ c; c NULL: none), then GELU
 * when gelu, made on first use. */
static prim_t *prim(pfm_bf16_ws *w, const dnnl_memory_desc_t *a,
		    const dnnl_memory_desc_t *b, const dnnl_memory_desc_t *c,
		    const dnnl_memory_desc_t *d, float scale, int gelu,
		    pfm_err *e)
{
	dnnl_memory_desc_t none = {0};
	if (!c)
		c = &none;
	for (int i = 0; i < w->nprims; i++) {
		prim_t *p = &w->prims[i];
		if (p->scale == scale && p->gelu == gelu && same(&p->a, a) &&
		    same(&p->b, b) &&
		    same(&p->c, c) && same(&p->d, d))
			return p;
	}
	if (w->nprims == MAX_PRIMS) /* shapes only vary with the batch */
		return pfm_errf(e, "oneDNN: too many matmul shapes"), NULL;
	prim_t *p = &w->prims[w->nprims];
	memset(p, 0, sizeof *p);
	dnnl_matmul_desc_t mm;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t po = NULL;
	int ok = !dnnl_matmul_desc_init(&mm, a, b, c->ndims ? c : NULL, d) &&
		 !dnnl_primitive_attr_create(&attr) &&
		 !dnnl_primitive_attr_set_scratchpad_mode(
			 attr, dnnl_scratchpad_mode_user) &&
		 (scale == 1.f ||
		  !dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale)) &&
		 (!gelu ||
		  (!dnnl_post_ops_create(&po) &&
		   !dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_gelu_erf,
						 0.f, 0.f) &&
		   !dnnl_primitive_attr_set_post_ops(attr, po))) &&
		 !dnnl_primitive_desc_create(&pd, &mm, attr, w->eng, NULL);
	const dnnl_memory_desc_t *pad =
		ok ? dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md,
						  0)
		   : NULL;
	const dnnl_memory_desc_t *mds[5] = {a, b, d, pad, c};
	ok = ok && !dnnl_primitive_create(&p->p, pd);
	for (int i = 0; i < 5 && ok; i++)
		ok = (i == 4 && !c->ndims) ||
		     !dnnl_memory_create(&p->m[i], mds[i], w->eng,
					 DNNL_MEMORY_NONE);
	size_t need = ok ? dnnl_memory_desc_get_size(pad) : 0;
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	if (po)
		dnnl_post_ops_destroy(po);
	p->a = *a, p->b = *b, p->c = *c, p->d = *d;
	p->scale = scale, p->gelu = gelu;
	if (!ok) { /* free what was made; the slot stays free */
		destroy(&p->p, p->m, 5);
		pfm_errf(e, "oneDNN: no matmul for %lldx%lld @ %lldx%lld on "
			    "this CPU",
			 (long long)a->dims[a->ndims - 2],
			 (long long)a->dims[a->ndims - 1],
			 (long long)b->dims[b->ndims - 2],
			 (long long)b->dims[b->ndims - 1]);
		return NULL;
	}
	w->nprims++; /* from here on freed with w */
	return grow(&w->pad, &w->pad_cap, need, 1, e) ? NULL : p;
}

/* Execute primitive p on its n memory objects m[] bound to ptr[] (with
 * the DNNL_ARG_ kinds arg[]) on one thread. */
static int exec(pfm_bf16_ws *w, dnnl_primitive_t p, dnnl_memory_t *m,
		const int *arg, void *const *ptr, int n)
{
	dnnl_exec_arg_t args[5];
	omp_set_num_threads(1);
	for (int i = 0; i < n; i++) {
		args[i] = (dnnl_exec_arg_t){arg[i], m[i]};
		if (dnnl_memory_set_data_handle_v2(m[i], ptr[i], w->st))
			return -1;
	}
	return dnnl_primitive_execute(p, w->st, n, args) ||
	       dnnl_stream_wait(w->st);
}

static int run(pfm_bf16_ws *w, prim_t *p, const void *a, const void *b,
	       const void *c, void *d, pfm_err *e)
{
	static const int arg[5] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS,
				   DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD,
				   DNNL_ARG_BIAS};
	void *ptr[5] = {(void *)a, (void *)b, d, w->pad, (void *)c};
	if (exec(w, p->p, p->m, arg, ptr, p->m[4] ? 5 : 4))
		return pfm_errf(e, "oneDNN: a matmul failed");
	return 0;
}

/* A dense row-major matrix or stack of them (ndims 2 or 3) with the
 * given strides (NULL: contiguous). */
static void desc(dnnl_memory_desc_t *md, int nd, const dnnl_dims_t dims,
		 const dnnl_dims_t strides, int bf16)
{
	dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
	if (strides)
		dnnl_memory_desc_init_by_strides(md, nd, dims, dt, strides);
	else
		dnnl_memory_desc_init_by_tag(md, nd, dims, dt,
					     nd == 2 ? dnnl_ab : dnnl_abc);
}

int pfm_bf16_linear(pfm_bf16_ws *w, int fmt, void *out, const void *in,
		    const void *wt, const float *b, int M, int K, int N,
		    int flags, pfm_err *e)
{
	const pfm_bf16_fmt *f = w->fmt;
	if (fmt < 0 || fmt >= f->n || f->K[fmt] != K || f->N[fmt] != N)
		return pfm_errf(e, "internal: weights layout %d is not %dx%d",
				fmt, N, K);
	int bf = f->bf16[fmt];
	dnnl_memory_desc_t a, c, d;
	dnnl_dims_t ad = {M, K}, cd = {1, N}, dd = {M, N};
	desc(&a, 2, ad, NULL, bf);
	desc(&c, 2, cd, NULL, 0);
	desc(&d, 2, dd, NULL, !!(flags & PFM_BF16_OUT_BF16));
	prim_t *p = prim(w, &a, &f->md[fmt], b ? &c : NULL, &d, 1.f,
			 !!(flags & PFM_BF16_GELU), e);
	if (!p)
		return -1;
	if (bf && !(flags & PFM_BF16_IN_BF16)) {
		size_t n = (size_t)M * K;
		if (grow((void **)&w->act, &w->act_cap, n, 2, e))
			return -1;
		pfm_bf16_round(w->act, in, n);
		in = w->act;
	}
	return run(w, p, in, wt, b, out, e);
}

/* Softmax of each row of the scores w->s[H, T, T] in place, then, when
 * bf16, rounded into w->sb: oneDNN's softmax, whose vectorised exp outruns
 * ours (its own bf16 output rounds less accurately: 1.9e-3 mean relative
 * error against 1.4e-3 rounding the fp32 result to nearest even). */
static int softmax(pfm_bf16_ws *w, int H, int T, int bf16, pfm_err *e)
{
	if (!w->sm || w->sm_H != H || w->sm_T != T) {
		softmax_drop(w);
		dnnl_dims_t sd = {H, T, T};
		dnnl_memory_desc_t src, dst;
		dnnl_softmax_v2_desc_t sm;
		dnnl_primitive_desc_t pd = NULL;
		dnnl_primitive_attr_t attr = NULL;
		desc(&src, 3, sd, NULL, 0);
		desc(&dst, 3, sd, NULL, 0);
		int ok = !dnnl_softmax_v2_forward_desc_init(
				 &sm, dnnl_forward_inference,
				 dnnl_softmax_accurate, &src, &dst, 2) &&
			 !dnnl_primitive_attr_create(&attr) &&
			 !dnnl_primitive_attr_set_scratchpad_mode(
				 attr, dnnl_scratchpad_mode_user) &&
			 !dnnl_primitive_desc_create(&pd, &sm, attr, w->eng,
						     NULL);
		const dnnl_memory_desc_t *pad =
			ok ? dnnl_primitive_desc_query_md(
				     pd, dnnl_query_scratchpad_md, 0)
			   : NULL;
		const dnnl_memory_desc_t *mds[3] = {&src, &dst, pad};
		ok = ok && !dnnl_primitive_create(&w->sm, pd);
		for (int i = 0; i < 3 && ok; i++)
			ok = !dnnl_memory_create(&w->sm_m[i], mds[i], w->eng,
						 DNNL_MEMORY_NONE);
		ok = ok && !grow(&w->pad, &w->pad_cap,
				 dnnl_memory_desc_get_size(pad), 1, e);
		if (pd)
			dnnl_primitive_desc_destroy(pd);
		if (attr)
			dnnl_primitive_attr_destroy(attr);
		if (!ok) {
			softmax_drop(w);
			return pfm_errf(e, "oneDNN: no softmax for %dx%dx%d", H,
					T, T);
		}
		w->sm_H = H, w->sm_T = T;
	}
	static const int arg[3] = {DNNL_ARG_SRC, DNNL_ARG_DST,
				   DNNL_ARG_SCRATCHPAD};
	void *ptr[3] = {w->s, w->s, w->pad};
	if (exec(w, w->sm, w->sm_m, arg, ptr, 3))
		return pfm_errf(e, "oneDNN: the softmax failed");
	if (bf16)
		pfm_bf16_round(w->sb, w->s, (size_t)H * T * T);
	return 0;
}

int pfm_bf16_attention(pfm_bf16_ws *w, void *out, const void *qkv, int T,
		       int D, int heads, int bf16, pfm_err *e)
{
	int H = heads, hd = D / heads, ld = 3 * D;
	size_t ss = (size_t)H * T * T, es = bf16 ? 2 : 4;
	if (grow((void **)&w->s, &w->s_cap, ss, 4, e) ||
	    (bf16 && grow((void **)&w->sb, &w->sb_cap, ss, 2, e)))
		return -1;
	/* head h of q, k, v: [T, hd] at column h * hd of q | k | v, row
	 * stride 3D; k read transposed */
	dnnl_dims_t qd = {H, T, hd}, qs = {hd, ld, 1};
	dnnl_dims_t kd = {H, hd, T}, ks = {hd, 1, ld};
	dnnl_dims_t sd = {H, T, T}, od = {H, T, hd}, os = {hd, D, 1};
	dnnl_memory_desc_t q, k, s, p, v, o;
	desc(&q, 3, qd, qs, bf16);
	desc(&k, 3, kd, ks, bf16);
	desc(&s, 3, sd, NULL, 0);
	desc(&p, 3, sd, NULL, bf16);
	desc(&v, 3, qd, qs, bf16);
	desc(&o, 3, od, os, bf16);
	const char *x = qkv;
	prim_t *qk = prim(w, &q, &k, NULL, &s, 1.f / sqrtf((float)hd), 0, e);
	prim_t *pv = qk ? prim(w, &p, &v, NULL, &o, 1.f, 0, e) : NULL;
	if (!pv || run(w, qk, x, x + D * es, NULL, w->s, e))
		return -1;
	if (softmax(w, H, T, bf16, e))
		return -1;
	return run(w, pv, bf16 ? (void *)w->sb : (void *)w->s,
		   x + 2 * D * es, NULL, out, e);
}

#else /* no oneDNN */

int pfm_bf16_available(void)
{
	return 0;
}

pfm_bf16_fmt *pfm_bf16_fmt_new(pfm_err *e)
{
	pfm_errf(e, "bf16 needs oneDNN: this build has none (install "
		    "libdnnl-dev and rebuild)");
	return NULL;
}

void pfm_bf16_fmt_free(pfm_bf16_fmt *f)
{
	(void)f;
}

int pfm_bf16_prepare(pfm_bf16_fmt *f, void *dst, const float *src,
		     int count, int N, int K, int M_hint, int bf16,
		     pfm_err *e)
{
	(void)f, (void)dst, (void)src, (void)count, (void)N, (void)K;
	(void)M_hint, (void)bf16;
	return pfm_errf(e, "bf16 needs oneDNN");
}

pfm_bf16_ws *pfm_bf16_ws_new(const pfm_bf16_fmt *f, pfm_err *e)
{
	(void)f;
	pfm_errf(e, "bf16 needs oneDNN");
	return NULL;
}

void pfm_bf16_ws_free(pfm_bf16_ws *w)
{
	(void)w;
}

int pfm_bf16_linear(pfm_bf16_ws *w, int fmt, void *out, const void *in,
		    const void *wt, const float *b, int M, int K, int N,
		    int flags, pfm_err *e)
{
	(void)w, (void)fmt, (void)out, (void)in, (void)wt, (void)b, (void)M, (void)K;
	(void)N, (void)flags;
	return pfm_errf(e, "bf16 needs oneDNN");
}

int pfm_bf16_attention(pfm_bf16_ws *w, void *out, const void *qkv, int T,
		       int D, int heads, int bf16, pfm_err *e)
{
	(void)w, (void)out, (void)qkv, (void)T, (void)D, (void)heads;
	(void)bf16;
	return pfm_errf(e, "bf16 needs oneDNN");
}
#endif
