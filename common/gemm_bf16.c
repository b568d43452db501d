/* gemm_bf16.c: the trainers' bf16 GEMM (gemm.h): bf16 operands, products
 * summed in fp32, fp32 result, through oneDNN's matmul (AVX512-BF16
 * kernels: about twice the fp32 rate on the machines we measured,
 * tests/perf/RESULTS.md).
 *
 * Bags differ in size, so the matmuls are made once with every dimension
 * and stride given at run time (oneDNN's jit gemm, as fast here as its
 * fixed-shape kernels) and kept, a set per slot: a calling thread takes a
 * free slot for its call (our threads come and go with each parallel
 * region), so no primitive, stream or scratchpad is used by two threads
 * at once. */
#include "gemm.h"

#include <string.h>

#include "par.h"
#include "vit_math.h"

PFM_CLONES void pfm_bf16_round(uint16_t *out, const float *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = pfm_bf16_of(in[i]);
}

typedef struct {
	uint16_t *out;
	const float *in;
} round_args;

static void round_blocks(void *ctx, int lo, int hi)
{
	round_args *a = ctx;
	size_t s = (size_t)lo << 14, e = (size_t)hi << 14;
	pfm_bf16_round(a->out + s, a->in + s, e - s);
}

void pfm_bf16_round_par(uint16_t *out, const float *in, size_t n)
{
	/* blocks of 16k values, at least 8 (128k values) a thread */
	size_t nblk = n >> 14;
	round_args a = {out, in};
	pfm_par_for_min(pfm_gemm_threads(), (int)nblk, 8, round_blocks, &a);
	pfm_bf16_round(out + (nblk << 14), in + (nblk << 14), n - (nblk << 14));
}

#ifdef PFM_DNNL
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

extern void omp_set_num_threads(int);
extern int omp_get_max_threads(void);

#define SLOTS 256 /* more threads than this at once wait for a slot */
#define RT DNNL_RUNTIME_DIM_VAL

typedef struct {
	atomic_int busy;
	dnnl_stream_t st;
	dnnl_primitive_t p[2][2][2]; /* [tA][tB][accumulate] */
	void *pad;                   /* our scratchpad: oneDNN's own would be
					mapped and unmapped every call */
	size_t pad_cap;
} slot_t;

static slot_t slots[SLOTS];
static dnnl_engine_t eng;
static int usable; /* the engine, and a bf16 matmul on this CPU */
static pthread_once_t eng_once = PTHREAD_ONCE_INIT;

static dnnl_primitive_t make(int tA, int tB, int acc);

static void eng_init(void)
{
	if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success) {
		eng = NULL;
		return;
	}
	/* oneDNN 2.6 has bf16 matmuls on AVX-512 CPUs only (native with
	 * AVX512-BF16, emulated without) */
	dnnl_primitive_t p = make(0, 1, 0);
	usable = p != NULL;
	if (p)
		dnnl_primitive_destroy(p);
}

static slot_t *slot_take(void)
{
	for (;;) {
		for (int i = 0; i < SLOTS; i++) {
			int idle = 0;
			if (atomic_compare_exchange_strong(&slots[i].busy, &idle, 1))
				return &slots[i];
		}
		sched_yield();
	}
}

/* A [rows, cols] matrix of type t, row-major with leading dimension ld,
 * read transposed when tr; dims and ld given (ld < 0: at run time). */
static int md(dnnl_memory_desc_t *d, dnnl_data_type_t t, int tr, dnnl_dim_t rows,
	      dnnl_dim_t cols, dnnl_dim_t ld)
{
	dnnl_dims_t dims = {rows, cols};
	dnnl_dims_t st = {tr ? 1 : ld, tr ? ld : 1};
	return dnnl_memory_desc_init_by_strides(d, 2, dims, t, st) != dnnl_success;
}

static dnnl_primitive_t make(int tA, int tB, int acc)
{
	dnnl_memory_desc_t a, b, c;
	dnnl_matmul_desc_t d;
	dnnl_primitive_attr_t at = NULL;
	dnnl_post_ops_t po = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_t p = NULL;
	if (md(&a, dnnl_bf16, tA, RT, RT, RT) || md(&b, dnnl_bf16, tB, RT, RT, RT) ||
	    md(&c, dnnl_f32, 0, RT, RT, RT) ||
	    dnnl_matmul_desc_init(&d, &a, &b, NULL, &c) != dnnl_success ||
	    dnnl_primitive_attr_create(&at) != dnnl_success ||
	    dnnl_primitive_attr_set_scratchpad_mode(at, dnnl_scratchpad_mode_user) != dnnl_success)
		goto out;
	if (acc && (dnnl_post_ops_create(&po) != dnnl_success ||
		    dnnl_post_ops_append_sum(po, 1.0f) != dnnl_success ||
		    dnnl_primitive_attr_set_post_ops(at, po) != dnnl_success))
		goto out;
	if (dnnl_primitive_desc_create(&pd, &d, at, eng, NULL) == dnnl_success &&
	    dnnl_primitive_create(&p, pd) != dnnl_success)
		p = NULL;
out:
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	if (po)
		dnnl_post_ops_destroy(po);
	if (at)
		dnnl_primitive_attr_destroy(at);
	return p;
}

/* The scratchpad p wants as *pm (NULL when it wants none), grown in s;
 * nonzero when it cannot be had. */
static int scratch(slot_t *s, dnnl_primitive_t p, dnnl_memory_t *pm)
{
	const_dnnl_primitive_desc_t pd;
	const dnnl_memory_desc_t *q;
	*pm = NULL;
	if (dnnl_primitive_get_primitive_desc(p, &pd) != dnnl_success ||
	    !(q = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)))
		return -1;
	size_t need = dnnl_memory_desc_get_size(q);
	if (!need)
		return 0;
	if (need > s->pad_cap) {
		void *np = realloc(s->pad, need);
		if (!np)
			return -1;
		s->pad = np, s->pad_cap = need;
	}
	return dnnl_memory_create(pm, q, eng, s->pad) != dnnl_success;
}

typedef struct {
	int tA, tB, N, K, acc;
	const uint16_t *A, *B;
	float *C;
	int lda, ldb, ldc;
	atomic_int failed;
} bf_args;

/* Rows [lo, hi) of C on the calling thread. */
static void bf_rows(void *ctx, int lo, int hi)
{
	bf_args *g = ctx;
	if (omp_get_max_threads() != 1)
		omp_set_num_threads(1);
	slot_t *s = slot_take();
	int ok = 0;
	dnnl_primitive_t *pp = &s->p[g->tA][g->tB][g->acc];
	if (!s->st && dnnl_stream_create(&s->st, eng, dnnl_stream_default_flags) != dnnl_success)
		s->st = NULL;
	if (s->st && !*pp)
		*pp = make(g->tA, g->tB, g->acc);
	dnnl_memory_desc_t a, b, c;
	dnnl_memory_t ma = NULL, mb = NULL, mc = NULL, mp = NULL;
	const uint16_t *A = g->A + (g->tA ? (size_t)lo : (size_t)lo * g->lda);
	int M = hi - lo;
	if (*pp && !scratch(s, *pp, &mp) &&
	    !md(&a, dnnl_bf16, g->tA, M, g->K, g->lda) &&
	    !md(&b, dnnl_bf16, g->tB, g->K, g->N, g->ldb) &&
	    !md(&c, dnnl_f32, 0, M, g->N, g->ldc) &&
	    dnnl_memory_create(&ma, &a, eng, (void *)A) == dnnl_success &&
	    dnnl_memory_create(&mb, &b, eng, (void *)g->B) == dnnl_success &&
	    dnnl_memory_create(&mc, &c, eng, g->C + (size_t)lo * g->ldc) == dnnl_success) {
		dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb},
					   {DNNL_ARG_DST, mc}, {DNNL_ARG_SCRATCHPAD, mp}};
		ok = dnnl_primitive_execute(*pp, s->st, mp ? 4 : 3, args) == dnnl_success &&
		     dnnl_stream_wait(s->st) == dnnl_success;
	}
	dnnl_memory_t all[4] = {ma, mb, mc, mp};
	for (int i = 0; i < 4; i++)
		if (all[i])
			dnnl_memory_destroy(all[i]);
	atomic_store(&s->busy, 0);
	if (!ok)
		atomic_store(&g->failed, 1);
}

int pfm_gemm_bf16_available(void)
{
	pthread_once(&eng_once, eng_init);
	return usable;
}

int pfm_gemm_bf16(int tA, int tB, int M, int N, int K, const uint16_t *A,
		  int lda, const uint16_t *B, int ldb, int accumulate, float *C,
		  int ldc, pfm_err *e)
{
	if (!pfm_gemm_bf16_available())
		return pfm_errf(e, "oneDNN has no bf16 matrix product on this CPU (it needs AVX-512)");
	if (M < 1 || N < 1)
		return 0;
	if (K < 1) {
		if (!accumulate)
			for (int i = 0; i < M; i++)
				memset(C + (size_t)i * ldc, 0, sizeof *C * N);
		return 0;
	}
	bf_args g = {.tA = !!tA, .tB = !!tB, .N = N, .K = K, .acc = !!accumulate,
		     .A = A, .B = B, .C = C, .lda = lda, .ldb = ldb, .ldc = ldc};
	/* blocks of at least 64 rows, so that threads pay for themselves */
	pfm_par_for_min(pfm_gemm_threads(), M, 64, bf_rows, &g);
	if (atomic_load(&g.failed))
		return pfm_errf(e, "oneDNN: a bf16 matrix product (%d x %d x %d) failed", M, N, K);
	return 0;
}
#else
int pfm_gemm_bf16_available(void)
{
	return 0;
}

int pfm_gemm_bf16(int tA, int tB, int M, int N, int K, const uint16_t *A,
		  int lda, const uint16_t *B, int ldb, int accumulate, float *C,
		  int ldc, pfm_err *e)
{
	(void)tA, (void)tB, (void)M, (void)N, (void)K, (void)A, (void)lda;
	(void)B, (void)ldb, (void)accumulate, (void)C, (void)ldc;
	return pfm_errf(e, "bf16 needs oneDNN, which this build was made without "
			   "(install libdnnl-dev and rebuild)");
}
#endif
