/* gemm.h: the float GEMM of the trainers (layers.h, mil), one call for
 * whichever library does it fastest here. Built with oneDNN (PFM_DNNL)
 * it is oneDNN's sgemm, whose AVX-512 kernels run about twice as fast as
 * OpenBLAS 0.3.21's AVX2 one on the machines we measured
 * (tests/perf/RESULTS.md); otherwise OpenBLAS. Same contract as
 * cblas_sgemm with CblasRowMajor. */
#ifndef PFM_GEMM_H
#define PFM_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* C[M, N] = alpha op(A) op(B) + beta C, row-major; op(X) = X^T when tX. */
void pfm_sgemm(int tA, int tB, int M, int N, int K, float alpha,
	       const float *A, int lda, const float *B, int ldb, float beta,
	       float *C, int ldc);
/* Threads of the GEMMs (0: the CPUs); with oneDNN, OpenBLAS (left the
 * small products) goes single-threaded. */
void pfm_gemm_set_threads(int n);
/* The threads a GEMM uses now. */
int pfm_gemm_threads(void);

/* bf16 (gemm_bf16.c): C[M, N] = op(A) op(B) (+ C when accumulate), A and
 * B bf16 (the upper half of an fp32), products summed in fp32, C fp32;
 * row-major, op(X) = X^T when tX. Needs oneDNN: an error without it. */
int pfm_gemm_bf16(int tA, int tB, int M, int N, int K, const uint16_t *A,
		  int lda, const uint16_t *B, int ldb, int accumulate, float *C,
		  int ldc, pfm_err *e);
/* Can this build and machine run pfm_gemm_bf16? */
int pfm_gemm_bf16_available(void);
/* fp32 -> bf16, round to nearest even (NaN stays NaN: quiet bit set);
 * a select, not a branch, so that loops with it vectorise. */
static inline uint16_t pfm_bf16_of(float f)
{
	union { float f; uint32_t u; } v = {f};
	uint32_t r = (v.u + 0x7fff + ((v.u >> 16) & 1)) >> 16;
	uint32_t q = (v.u >> 16) | 0x40;
	return (uint16_t)((v.u & 0x7fffffff) > 0x7f800000 ? q : r);
}
void pfm_bf16_round(uint16_t *out, const float *in, size_t n);
/* The same split over the GEMM threads when n is large. */
void pfm_bf16_round_par(uint16_t *out, const float *in, size_t n);

#endif
