/* vit_bf16.c: the ViT's linear layers in bf16 (embed --precision bf16).
 *
 * Weights are rounded to bf16 once; each layer's input is rounded to bf16
 * as it goes in; oneDNN's matmul (AVX-512 BF16 on this CPU) multiplies
 * them with fp32 accumulation, adds the fp32 bias and writes fp32. Every
 * other operation (attention scores, softmax, LayerNorm, GELU, residual
 * stream) stays fp32. Built when oneDNN's headers are found (Debian's
 * libdnnl-dev); otherwise asking for bf16 is an error. */
#include "vit_bf16.h"

#include <stdlib.h>
#include <string.h>

#ifdef PFM_DNNL
#include <oneapi/dnnl/dnnl.h>

/* oneDNN threads through OpenMP: each of our threads uses one. */
extern void omp_set_num_threads(int);

/* fp32 -> bf16, round to nearest even (NaN stays NaN: quiet bit set);
 * a select, not a branch, so the loop vectorises. */
void pfm_bf16_round(uint16_t *out, const float *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &in[i], 4);
		uint32_t r = (u + 0x7fff + ((u >> 16) & 1)) >> 16;
		uint32_t q = (u >> 16) | 0x40;
		out[i] = (uint16_t)((u & 0x7fffffff) > 0x7f800000 ? q : r);
	}
}

#define MAX_PRIMS 32
#define MAX_FMTS 8

struct pfm_bf16_fmt {
	dnnl_memory_desc_t md[MAX_FMTS]; /* weights as K x N */
	int K[MAX_FMTS], N[MAX_FMTS];
	int n;
};

typedef struct {
	int M, K, N, bias, fmt;
	dnnl_primitive_t p;
	dnnl_memory_t src, wei, bia, dst, pad;
} prim_t;

struct pfm_bf16_ws {
	const pfm_bf16_fmt *fmt;
	dnnl_engine_t eng;
	dnnl_stream_t st;
	prim_t prims[MAX_PRIMS];
	int nprims;
	uint16_t *act;
	size_t act_cap;
	/* scratchpad we own: oneDNN's own is mapped and unmapped on every
	 * call (page faults each time) */
	void *pad;
	size_t pad_cap;
};

int pfm_bf16_available(void)
{
	return 1;
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
	for (int i = 0; i < w->nprims; i++) {
		prim_t *p = &w->prims[i];
		dnnl_primitive_destroy(p->p);
		dnnl_memory_destroy(p->src);
		dnnl_memory_destroy(p->wei);
		if (p->bia)
			dnnl_memory_destroy(p->bia);
		dnnl_memory_destroy(p->dst);
		dnnl_memory_destroy(p->pad);
	}
	if (w->st)
		dnnl_stream_destroy(w->st);
	if (w->eng)
		dnnl_engine_destroy(w->eng);
	free(w->act);
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
int pfm_bf16_prepare(pfm_bf16_fmt *f, uint16_t *dst, const float *src,
		     int count, int N, int K, int M_hint, pfm_err *e)
{
	int id = -1;
	for (int i = 0; i < f->n; i++)
		if (f->K[i] == K && f->N[i] == N)
			id = i;
	dnnl_engine_t eng = NULL;
	dnnl_stream_t st = NULL;
	dnnl_primitive_desc_t pd = NULL, rpd = NULL;
	dnnl_primitive_t re = NULL;
	dnnl_memory_t ms = NULL, md = NULL;
	dnnl_memory_desc_t a, b, d, plain;
	dnnl_dims_t ad = {M_hint, K}, bd = {K, N}, dd = {M_hint, N};
	dnnl_matmul_desc_t mm;
	uint16_t *tmp = malloc((size_t)N * K * sizeof *tmp);
	int rc = -1;
	if (!tmp) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	if (dnnl_engine_create(&eng, dnnl_cpu, 0) ||
	    dnnl_stream_create(&st, eng, dnnl_stream_default_flags) ||
	    dnnl_memory_desc_init_by_tag(&plain, 2, bd, dnnl_bf16, dnnl_ba))
		goto dnnl_fail;
	if (id < 0) {
		if (f->n == MAX_FMTS) {
			pfm_errf(e, "oneDNN: too many weight shapes");
			goto out;
		}
		if (dnnl_memory_desc_init_by_tag(&a, 2, ad, dnnl_bf16,
						 dnnl_ab) ||
		    dnnl_memory_desc_init_by_tag(&b, 2, bd, dnnl_bf16,
						 dnnl_format_tag_any) ||
		    dnnl_memory_desc_init_by_tag(&d, 2, dd, dnnl_f32, dnnl_ab) ||
		    dnnl_matmul_desc_init(&mm, &a, &b, NULL, &d) ||
		    dnnl_primitive_desc_create(&pd, &mm, NULL, eng, NULL))
			goto dnnl_fail;
		const dnnl_memory_desc_t *q =
			dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
		/* the copy must fit where the plain one would */
		if (dnnl_memory_desc_get_size(q) != (size_t)N * K * 2)
			q = &plain;
		id = f->n++;
		f->md[id] = *q;
		f->K[id] = K;
		f->N[id] = N;
	}
	if (dnnl_reorder_primitive_desc_create(&rpd, &plain, eng, &f->md[id],
					       eng, NULL) ||
	    dnnl_primitive_create(&re, rpd) ||
	    dnnl_memory_create(&ms, &plain, eng, tmp) ||
	    dnnl_memory_create(&md, &f->md[id], eng, DNNL_MEMORY_NONE))
		goto dnnl_fail;
	for (int i = 0; i < count; i++) {
		size_t off = (size_t)i * N * K;
		pfm_bf16_round(tmp, src + off, (size_t)N * K);
		dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, ms},
					   {DNNL_ARG_TO, md}};
		if (dnnl_memory_set_data_handle_v2(md, dst + off, st) ||
		    dnnl_primitive_execute(re, st, 2, args) ||
		    dnnl_stream_wait(st))
			goto dnnl_fail;
	}
	rc = id;
	goto out;
dnnl_fail:
	pfm_errf(e, "oneDNN: cannot lay out %dx%d bf16 weights", N, K);
out:
	if (ms)
		dnnl_memory_destroy(ms);
	if (md)
		dnnl_memory_destroy(md);
	if (re)
		dnnl_primitive_destroy(re);
	if (rpd)
		dnnl_primitive_desc_destroy(rpd);
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	if (st)
		dnnl_stream_destroy(st);
	if (eng)
		dnnl_engine_destroy(eng);
	free(tmp);
	return rc;
}

/* The matmul for (M, K) x (K, N)^T, made once per shape and thread. */
static prim_t *prim(pfm_bf16_ws *w, int fmt, int M, int K, int N, int bias,
		    pfm_err *e)
{
	for (int i = 0; i < w->nprims; i++) {
		prim_t *p = &w->prims[i];
		if (p->M == M && p->K == K && p->N == N && p->bias == bias &&
		    p->fmt == fmt)
			return p;
	}
	if (fmt < 0 || fmt >= w->fmt->n || w->fmt->K[fmt] != K ||
	    w->fmt->N[fmt] != N) {
		pfm_errf(e, "internal: weights layout %d is not %dx%d", fmt, N,
			 K);
		return NULL;
	}
	if (w->nprims == MAX_PRIMS) { /* shapes only vary with the batch */
		pfm_errf(e, "oneDNN: too many matmul shapes");
		return NULL;
	}
	prim_t *p = &w->prims[w->nprims];
	memset(p, 0, sizeof *p);
	dnnl_memory_desc_t a, b, c, d;
	dnnl_dims_t ad = {M, K}, bd = {K, N}, cd = {1, N}, dd = {M, N};
	dnnl_matmul_desc_t md;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_attr_t attr = NULL;
	(void)bd;
	b = w->fmt->md[fmt];
	if (dnnl_memory_desc_init_by_tag(&a, 2, ad, dnnl_bf16, dnnl_ab) ||
	    dnnl_memory_desc_init_by_tag(&c, 2, cd, dnnl_f32, dnnl_ab) ||
	    dnnl_memory_desc_init_by_tag(&d, 2, dd, dnnl_f32, dnnl_ab) ||
	    dnnl_matmul_desc_init(&md, &a, &b, bias ? &c : NULL, &d) ||
	    dnnl_primitive_attr_create(&attr) ||
	    dnnl_primitive_attr_set_scratchpad_mode(attr,
						    dnnl_scratchpad_mode_user) ||
	    dnnl_primitive_desc_create(&pd, &md, attr, w->eng, NULL) ||
	    dnnl_primitive_create(&p->p, pd) ||
	    dnnl_memory_create(&p->src, &a, w->eng, DNNL_MEMORY_NONE) ||
	    dnnl_memory_create(&p->wei, &b, w->eng, DNNL_MEMORY_NONE) ||
	    (bias && dnnl_memory_create(&p->bia, &c, w->eng,
					DNNL_MEMORY_NONE)) ||
	    dnnl_memory_create(&p->dst, &d, w->eng, DNNL_MEMORY_NONE) ||
	    dnnl_memory_create(&p->pad,
			       dnnl_primitive_desc_query_md(
				       pd, dnnl_query_scratchpad_md, 0),
			       w->eng, DNNL_MEMORY_NONE)) {
		if (pd)
			dnnl_primitive_desc_destroy(pd);
		if (attr)
			dnnl_primitive_attr_destroy(attr);
		pfm_errf(e, "oneDNN: no bf16 matmul for %dx%dx%d on this CPU",
			 M, K, N);
		return NULL;
	}
	size_t need = dnnl_memory_desc_get_size(
		dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
	dnnl_primitive_desc_destroy(pd);
	dnnl_primitive_attr_destroy(attr);
	p->M = M, p->K = K, p->N = N, p->bias = bias, p->fmt = fmt;
	w->nprims++; /* from here on freed with w */
	if (need > w->pad_cap) {
		free(w->pad);
		w->pad_cap = 0;
		if (!(w->pad = malloc(need))) {
			pfm_errf(e, "out of memory");
			return NULL;
		}
		w->pad_cap = need;
	}
	return p;
}

int pfm_bf16_linear(pfm_bf16_ws *w, int fmt, float *out, const float *in,
		    const uint16_t *wt, const float *b, int M, int K, int N,
		    pfm_err *e)
{
	size_t n = (size_t)M * K;
	if (n > w->act_cap) {
		uint16_t *a = realloc(w->act, n * sizeof *a);
		if (!a)
			return pfm_errf(e, "out of memory");
		w->act = a;
		w->act_cap = n;
	}
	pfm_bf16_round(w->act, in, n);
	prim_t *p = prim(w, fmt, M, K, N, b != NULL, e);
	if (!p)
		return -1;
	omp_set_num_threads(1);
	dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, p->src},
				   {DNNL_ARG_WEIGHTS, p->wei},
				   {DNNL_ARG_DST, p->dst},
				   {DNNL_ARG_SCRATCHPAD, p->pad},
				   {DNNL_ARG_BIAS, p->bia}};
	if (dnnl_memory_set_data_handle_v2(p->src, w->act, w->st) ||
	    dnnl_memory_set_data_handle_v2(p->wei, (void *)wt, w->st) ||
	    dnnl_memory_set_data_handle_v2(p->dst, out, w->st) ||
	    dnnl_memory_set_data_handle_v2(p->pad, w->pad, w->st) ||
	    (b && dnnl_memory_set_data_handle_v2(p->bia, (void *)b, w->st)) ||
	    dnnl_primitive_execute(p->p, w->st, b ? 5 : 4, args) ||
	    dnnl_stream_wait(w->st))
		return pfm_errf(e, "oneDNN: bf16 matmul %dx%dx%d failed", M, K,
				N);
	return 0;
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

int pfm_bf16_prepare(pfm_bf16_fmt *f, uint16_t *dst, const float *src,
		     int count, int N, int K, int M_hint, pfm_err *e)
{
	(void)f, (void)dst, (void)src, (void)count, (void)N, (void)K;
	(void)M_hint;
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

void pfm_bf16_round(uint16_t *out, const float *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &in[i], 4);
		u += 0x7fff + ((u >> 16) & 1);
		out[i] = (uint16_t)(u >> 16);
	}
}

int pfm_bf16_linear(pfm_bf16_ws *w, int fmt, float *out, const float *in,
		    const uint16_t *wt, const float *b, int M, int K, int N,
		    pfm_err *e)
{
	(void)w, (void)fmt, (void)out, (void)in, (void)wt, (void)b, (void)M, (void)K;
	(void)N;
	return pfm_errf(e, "bf16 needs oneDNN");
}
#endif
