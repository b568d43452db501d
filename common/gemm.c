#include "gemm.h"

#include <cblas.h>
#include <unistd.h>

#include "par.h"
#ifdef PFM_DNNL
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#endif

static int gemm_threads; /* 0: all CPUs */

void pfm_gemm_set_threads(int n)
{
	gemm_threads = n > 0 ? n : 0;
#ifdef PFM_DNNL
	/* What is left to OpenBLAS is small (matrix-vector products): its
	 * idle workers would spin on the cores our GEMM threads need. */
	openblas_set_num_threads(1);
#else
	if (n > 0)
		openblas_set_num_threads(n);
#endif
}

int pfm_gemm_threads(void)
{
	return gemm_threads ? gemm_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
}

#ifdef PFM_DNNL
typedef struct {
	int tA, tB, N, K;
	float alpha, beta;
	const float *A, *B;
	float *C;
	int lda, ldb, ldc;
} gemm_args;

/* Rows [lo, hi) of C on this thread, with one OpenMP thread: our own
 * threads are the parallelism (an OpenMP team per call spins, and on a
 * busy machine fights other processes for the cores: 6x slower on 2). */
static void gemm_rows(void *ctx, int lo, int hi)
{
	const gemm_args *a = ctx;
	const float *A = a->A + (a->tA ? (size_t)lo : (size_t)lo * a->lda);
	if (omp_get_max_threads() != 1)
		omp_set_num_threads(1);
	if (dnnl_sgemm(a->tA ? 'T' : 'N', a->tB ? 'T' : 'N', hi - lo, a->N,
		       a->K, a->alpha, A, a->lda, a->B, a->ldb, a->beta,
		       a->C + (size_t)lo * a->ldc, a->ldc) != dnnl_success)
		cblas_sgemm(CblasRowMajor, a->tA ? CblasTrans : CblasNoTrans,
			    a->tB ? CblasTrans : CblasNoTrans, hi - lo, a->N,
			    a->K, a->alpha, A, a->lda, a->B, a->ldb, a->beta,
			    a->C + (size_t)lo * a->ldc, a->ldc);
}
#endif

void pfm_sgemm(int tA, int tB, int M, int N, int K, float alpha,
	       const float *A, int lda, const float *B, int ldb, float beta,
	       float *C, int ldc)
{
#ifdef PFM_DNNL
	gemm_args a = {tA, tB, N, K, alpha, beta, A, B, C, lda, ldb, ldc};
	/* Blocks of at least 64 rows, so that threads pay for themselves. */
	pfm_par_for_min(pfm_gemm_threads(), M, 64, gemm_rows, &a);
#else
	cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans,
		    tB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B,
		    ldb, beta, C, ldc);
#endif
}
