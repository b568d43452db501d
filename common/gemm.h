/* gemm.h: the float GEMM of the trainers (layers.h, mil), one call for
 * whichever library does it fastest here. Built with oneDNN (PFM_DNNL)
 * it is oneDNN's sgemm, whose AVX-512 kernels run about twice as fast as
 * OpenBLAS 0.3.21's AVX2 one on the machines we measured
 * (tests/perf/RESULTS.md); otherwise OpenBLAS. Same contract as
 * cblas_sgemm with CblasRowMajor. */
#ifndef PFM_GEMM_H
#define PFM_GEMM_H

/* C[M, N] = alpha op(A) op(B) + beta C, row-major; op(X) = X^T when tX. */
void pfm_sgemm(int tA, int tB, int M, int N, int K, float alpha,
	       const float *A, int lda, const float *B, int ldb, float beta,
	       float *C, int ldc);
/* Threads of the GEMMs (0: the CPUs); with oneDNN, OpenBLAS (left the
 * small products) goes single-threaded. */
void pfm_gemm_set_threads(int n);

#endif
