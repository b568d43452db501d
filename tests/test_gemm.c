/* test_gemm: the trainers' GEMMs (common/gemm.h) against a float64
 * reference, on random matrices: pfm_sgemm, and pfm_gemm_bf16 with the
 * operands rounded to bf16 first, so that only the fp32 summation can
 * differ. Every transposition, accumulation, leading dimensions wider
 * than the matrix, sizes from 1 to past a block, and 1, 2 and 3 threads
 * (the threads' results must be bit-identical: each output row is summed
 * by one thread as a single thread sums it).
 *
 * Tolerance: |C - ref| <= 1e-5 * sum_k |a_ik b_kj| + 1e-30 per element
 * (fp32 summation of K <= 1100 terms: a few K * 2^-24 in the worst case,
 * far less in practice). pfm_bf16_round: round to nearest even, ties,
 * infinities and NaN, against a plain reading of the rule. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gemm.h"
#include "mil.h"

static float bf2f(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static uint32_t bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static void test_round(pfm_rng *r)
{
	/* values on and between bf16 neighbours: ties go to even */
	float in[] = {1.0f, 1.00390625f /* 1 + 2^-8: tie, to 1 */,
		      1.01171875f /* 1 + 3 * 2^-8: tie, to 1 + 2^-6 */,
		      0, -2.5f, 0.0f, -0.0f, INFINITY, -INFINITY, NAN,
		      3.4028235e38f /* rounds to infinity */, 1e-40f /* subnormal */};
	int n = (int)(sizeof in / sizeof *in);
	in[3] = nextafterf(1.00390625f, 2.0f); /* just past the tie: up */
	uint16_t out[16];
	pfm_bf16_round(out, in, n);
	CHECK(out[0] == 0x3f80 && out[1] == 0x3f80 && out[2] == 0x3f82 && out[3] == 0x3f81,
	      "ties: %04x %04x %04x %04x", out[0], out[1], out[2], out[3]);
	CHECK(out[4] == 0xc020 && out[5] == 0 && out[6] == 0x8000, "plain values");
	CHECK(out[7] == 0x7f80 && out[8] == 0xff80 && out[10] == 0x7f80, "infinities");
	CHECK(isnan(bf2f(out[9])), "NaN stays NaN: %04x", out[9]);
	CHECK(out[11] == (uint16_t)((bits(1e-40f) + 0x7fff + ((bits(1e-40f) >> 16) & 1)) >> 16),
	      "subnormal");
	/* random values: the nearest bf16, ties to even */
	int bad = 0;
	for (int i = 0; i < 100000; i++) {
		float x = (float)(pfm_rng_normal(r) * exp(8 * pfm_rng_normal(r)));
		uint16_t h;
		pfm_bf16_round(&h, &x, 1);
		uint16_t lo = (uint16_t)(bits(x) >> 16), hi = lo + 1;
		double dl = fabs((double)x - bf2f(lo)), dh = fabs((double)x - bf2f(hi));
		uint16_t want = dl < dh ? lo : dh < dl ? hi : (lo & 1 ? hi : lo);
		bad += h != want;
	}
	CHECK(!bad, "%d of 100000 random values not rounded to nearest even", bad);
}

/* max over elements of |C - ref| / (sum |a b| + 1e-30) */
static double worst(const float *C, const double *ref, const double *mag, int M,
		    int N, int ldc)
{
	double w = 0;
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			double d = fabs(C[(size_t)i * ldc + j] - ref[(size_t)i * N + j]) /
				   (mag[(size_t)i * N + j] + 1e-30);
			if (!(d <= w))
				w = d;
		}
	return w;
}

static void test_case(pfm_rng *r, int tA, int tB, int M, int N, int K, int acc)
{
	int lda = (tA ? M : K) + 3, ldb = (tB ? K : N) + 1, ldc = N + 2;
	size_t na = (size_t)(tA ? K : M) * lda, nb = (size_t)(tB ? N : K) * ldb;
	float *A = malloc(sizeof *A * na), *B = malloc(sizeof *B * nb);
	float *C0 = malloc(sizeof *C0 * M * ldc), *C = malloc(sizeof *C * M * ldc);
	float *Cs = malloc(sizeof *Cs * M * ldc);
	uint16_t *Ah = malloc(2 * na), *Bh = malloc(2 * nb);
	double *ref = malloc(sizeof *ref * M * N), *refh = malloc(sizeof *refh * M * N);
	double *mag = malloc(sizeof *mag * M * N), *magh = malloc(sizeof *magh * M * N);
	for (size_t i = 0; i < na; i++)
		A[i] = (float)pfm_rng_normal(r);
	for (size_t i = 0; i < nb; i++)
		B[i] = (float)pfm_rng_normal(r);
	for (size_t i = 0; i < (size_t)M * ldc; i++)
		C0[i] = (float)pfm_rng_normal(r);
	pfm_bf16_round(Ah, A, na);
	pfm_bf16_round(Bh, B, nb);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			double s = acc ? C0[(size_t)i * ldc + j] : 0, sh = s;
			double m = fabs(s), mh = m;
			for (int k = 0; k < K; k++) {
				size_t ia = tA ? (size_t)k * lda + i : (size_t)i * lda + k;
				size_t ib = tB ? (size_t)j * ldb + k : (size_t)k * ldb + j;
				double p = (double)A[ia] * B[ib], ph = (double)bf2f(Ah[ia]) * bf2f(Bh[ib]);
				s += p, m += fabs(p), sh += ph, mh += fabs(ph);
			}
			ref[(size_t)i * N + j] = s, mag[(size_t)i * N + j] = m;
			refh[(size_t)i * N + j] = sh, magh[(size_t)i * N + j] = mh;
		}
	char what[96];
	snprintf(what, sizeof what, "tA %d tB %d M %d N %d K %d%s", tA, tB, M, N, K,
		 acc ? " accumulate" : "");
	for (int t = 1; t <= 3; t++) {
		pfm_gemm_set_threads(t);
		memcpy(C, C0, sizeof *C * M * ldc);
		pfm_sgemm(tA, tB, M, N, K, 1.0f, A, lda, B, ldb, acc ? 1.0f : 0.0f, C, ldc);
		double w = worst(C, ref, mag, M, N, ldc);
		CHECK(w <= 1e-5, "sgemm %s, %d threads: error %.3g of sum |ab|", what, t, w);
		if (!pfm_gemm_bf16_available())
			continue;
		memcpy(C, C0, sizeof *C * M * ldc);
		pfm_err e = {0};
		CHECK(!pfm_gemm_bf16(tA, tB, M, N, K, Ah, lda, Bh, ldb, acc, C, ldc, &e),
		      "bf16 %s: %s", what, e.msg);
		w = worst(C, refh, magh, M, N, ldc);
		CHECK(w <= 1e-5, "bf16 %s, %d threads: error %.3g of sum |ab|", what, t, w);
		/* columns past N untouched */
		int kept = 1;
		for (int i = 0; i < M; i++)
			for (int j = N; j < ldc; j++)
				kept &= bits(C[(size_t)i * ldc + j]) == bits(C0[(size_t)i * ldc + j]);
		CHECK(kept, "bf16 %s: wrote past N", what);
		if (t == 1)
			memcpy(Cs, C, sizeof *C * M * ldc);
		else
			CHECK(!memcmp(Cs, C, sizeof *C * M * ldc),
			      "bf16 %s: %d threads differ from one", what, t);
	}
	pfm_gemm_set_threads(0);
	free(A), free(B), free(C0), free(C), free(Cs), free(Ah), free(Bh);
	free(ref), free(refh), free(mag), free(magh);
}

int main(void)
{
	pfm_rng r = pfm_rng_seed(42, 1);
	test_round(&r);
	if (!pfm_gemm_bf16_available()) {
		pfm_err e = {0};
		uint16_t a = 0;
		float c = 0;
		CHECK(pfm_gemm_bf16(0, 0, 1, 1, 1, &a, 1, &a, 1, 0, &c, 1, &e) && e.msg[0],
		      "without oneDNN bf16 is an error with a reason");
		printf("skip: bf16 GEMM (no oneDNN, or a CPU without AVX-512)\n");
	}
	/* the ABMIL shapes, and odd ones */
	int shapes[][3] = {{1, 1, 1},   {3, 5, 7},     {63, 17, 130}, {64, 64, 64},
			   {129, 33, 1}, {200, 128, 96}, {150, 512, 300}, {517, 70, 1030}};
	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
		for (int tA = 0; tA < 2; tA++)
			for (int tB = 0; tB < 2; tB++)
				for (int acc = 0; acc < 2; acc++)
					test_case(&r, tA, tB, shapes[s][0], shapes[s][1],
						  shapes[s][2], acc);
	return check_done();
}
