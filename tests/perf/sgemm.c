/* sgemm: GEMM GFLOP/s on the shapes of a ViT-B/16 batch of 16 at 224 px
 * (rows = 16 x 197 tokens), the ceilings embed's FLOP utilisation is
 * measured against: OpenBLAS sgemm, and, built with -DPFM_DNNL, oneDNN's
 * matmul in fp32 and bf16 (weights in the layout it prefers, as embed
 * lays them out; bf16 accumulates in fp32 and writes fp32).
 * Usage: sgemm THREADS   (prints "openblas G", "onednn-f32 G",
 * "onednn-bf16 G": medians of 5 runs over the four shapes) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef PFM_DNNL
#include <oneapi/dnnl/dnnl.h>
extern void omp_set_num_threads(int);
#endif

extern void openblas_set_num_threads(int);

/* (N, K) of qkv, proj, fc1, fc2 */
static const int nk[4][2] = {{2304, 768}, {768, 768}, {3072, 768},
			     {768, 3072}};
enum { M = 16 * 197, RUNS = 5 };

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *r)
{
	qsort(r, RUNS, sizeof *r, cmp);
	return r[RUNS / 2];
}

static double blas(const float *a, const float *w, float *c)
{
	double r[RUNS];
	for (int k = 0; k < RUNS; k++) {
		double flop = 0, t0 = now();
		for (int s = 0; s < 4; s++) {
			int N = nk[s][0], K = nk[s][1];
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M,
				    N, K, 1.f, a, K, w, K, 0.f, c, N);
			flop += 2.0 * M * N * K;
		}
		r[k] = flop / (now() - t0) / 1e9;
	}
	return median(r);
}

#ifdef PFM_DNNL
/* oneDNN matmul c[M, N] = a[M, K] @ w[K, N] in data type dt (dst fp32);
 * the buffers' contents do not matter for the rate. 0 on failure. */
static double dnnl(dnnl_data_type_t dt, void *a, void *w, float *c)
{
	dnnl_engine_t eng;
	dnnl_stream_t st;
	dnnl_primitive_t p[4] = {0};
	dnnl_memory_t ma[4], mw[4], mc[4];
	double r[RUNS] = {0};
	if (dnnl_engine_create(&eng, dnnl_cpu, 0) ||
	    dnnl_stream_create(&st, eng, dnnl_stream_default_flags))
		return 0;
	for (int s = 0; s < 4; s++) {
		int N = nk[s][0], K = nk[s][1];
		dnnl_memory_desc_t A, B, C;
		dnnl_dims_t ad = {M, K}, bd = {K, N}, cd = {M, N};
		dnnl_matmul_desc_t mm;
		dnnl_primitive_desc_t pd;
		dnnl_memory_desc_init_by_tag(&A, 2, ad, dt, dnnl_ab);
		dnnl_memory_desc_init_by_tag(&B, 2, bd, dt, dnnl_format_tag_any);
		dnnl_memory_desc_init_by_tag(&C, 2, cd, dnnl_f32, dnnl_ab);
		if (dnnl_matmul_desc_init(&mm, &A, &B, NULL, &C) ||
		    dnnl_primitive_desc_create(&pd, &mm, NULL, eng, NULL))
			return 0;
		dnnl_primitive_create(&p[s], pd);
		dnnl_memory_create(&ma[s], &A, eng, a);
		dnnl_memory_create(&mw[s],
				   dnnl_primitive_desc_query_md(
					   pd, dnnl_query_weights_md, 0),
				   eng, w);
		dnnl_memory_create(&mc[s], &C, eng, c);
		dnnl_primitive_desc_destroy(pd);
	}
	for (int k = 0; k < RUNS; k++) {
		double flop = 0, t0 = now();
		for (int s = 0; s < 4; s++) {
			dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ma[s]},
						   {DNNL_ARG_WEIGHTS, mw[s]},
						   {DNNL_ARG_DST, mc[s]}};
			dnnl_primitive_execute(p[s], st, 3, args);
			dnnl_stream_wait(st);
			flop += 2.0 * M * nk[s][0] * nk[s][1];
		}
		r[k] = flop / (now() - t0) / 1e9;
	}
	for (int s = 0; s < 4; s++) {
		dnnl_primitive_destroy(p[s]);
		dnnl_memory_destroy(ma[s]);
		dnnl_memory_destroy(mw[s]);
		dnnl_memory_destroy(mc[s]);
	}
	dnnl_stream_destroy(st);
	dnnl_engine_destroy(eng);
	return median(r);
}
#endif

int main(int argc, char **argv)
{
	int th = argc > 1 ? atoi(argv[1]) : 1;
	openblas_set_num_threads(th);
	float *a = malloc(sizeof(float) * M * 3072);
	float *w = malloc(sizeof(float) * 3072 * 3072);
	float *c = malloc(sizeof(float) * M * 3072);
	if (!a || !w || !c)
		return 1;
	for (long i = 0; i < (long)M * 3072; i++)
		a[i] = (float)(i % 13) * 0.01f;
	for (long i = 0; i < 3072L * 3072; i++)
		w[i] = (float)(i % 7) * 0.01f;
	printf("openblas %.1f\n", blas(a, w, c));
#ifdef PFM_DNNL
	omp_set_num_threads(th);
	/* bf16 reads the same buffers as bf16 pairs: any values do */
	printf("onednn-f32 %.1f\n", dnnl(dnnl_f32, a, w, c));
	printf("onednn-bf16 %.1f\n", dnnl(dnnl_bf16, a, w, c));
#endif
	free(a), free(w), free(c);
	return 0;
}
