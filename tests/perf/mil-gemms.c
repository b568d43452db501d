/* mil-gemms: the ceiling of mil-train's step: its eight matrix products
 * alone, through the same library calls (pfm_sgemm, pfm_gemm_bf16) on
 * the same shapes, for GPFM's ABMIL on a bag of N x D (projection P =
 * 512, attention H = 128): forward x W1^T, h Wa^T, h Wb^T; backward
 * dWa, dWb (dy^T h), dh from both branches (dy W), dW1 (dz^T x). A step
 * can be no faster than these.
 * Usage: mil-gemms THREADS [N D]   prints "fp32 MS GFLOPS" and, where
 * the build and CPU have them, "bf16 MS GFLOPS" (medians of 15 steps
 * after 3 warm-ups). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h" /* pfm_now */
#include "err.h"
#include "gemm.h"

enum { P = 512, H = 128, RUNS = 15, WARM = 3 };

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The eight products of one step; x [n,d], w1 [P,d], h [n,P], wab [H,P],
 * dy [n,H] (the branches' gradients), dz [n,P]; out big enough. */
static int step(int bf, int n, int d, const void *x, const void *w1,
		const void *h, const void *wab, const void *dy, const void *dz,
		float *out, pfm_err *e)
{
	if (!bf) {
		pfm_sgemm(0, 1, n, P, d, 1, x, d, w1, d, 0, out, P);
		for (int b = 0; b < 2; b++) {
			pfm_sgemm(0, 1, n, H, P, 1, h, P, wab, P, 0, out, H);
			pfm_sgemm(1, 0, H, P, n, 1, dy, H, h, P, 1, out, P);
			pfm_sgemm(0, 0, n, P, H, 1, dy, H, wab, P, 1, out, P);
		}
		pfm_sgemm(1, 0, P, d, n, 1, dz, P, x, d, 1, out, d);
		return 0;
	}
	if (pfm_gemm_bf16(0, 1, n, P, d, x, d, w1, d, 0, out, P, e))
		return -1;
	for (int b = 0; b < 2; b++)
		if (pfm_gemm_bf16(0, 1, n, H, P, h, P, wab, P, 0, out, H, e) ||
		    pfm_gemm_bf16(1, 0, H, P, n, dy, H, h, P, 1, out, P, e) ||
		    pfm_gemm_bf16(0, 0, n, P, H, dy, H, wab, P, 1, out, P, e))
			return -1;
	return pfm_gemm_bf16(1, 0, P, d, n, dz, P, x, d, 1, out, d, e);
}

int main(int argc, char **argv)
{
	int th = argc > 1 ? atoi(argv[1]) : 1;
	int n = argc > 3 ? atoi(argv[2]) : 500, d = argc > 3 ? atoi(argv[3]) : 1024;
	if (th < 1 || n < 1 || d < 1) {
		fprintf(stderr, "usage: mil-gemms THREADS [N D]\n");
		return 2;
	}
	pfm_gemm_set_threads(th);
	size_t sz[6] = {(size_t)n * d, (size_t)P * d, (size_t)n * P, (size_t)H * P,
			(size_t)n * H, (size_t)n * P};
	float *f[6];
	uint16_t *b[6];
	float *out = calloc((size_t)(P > n ? P : n) * (d > P ? d : P), sizeof *out);
	uint64_t s = 88172645463325252ull;
	for (int i = 0; i < 6; i++) {
		f[i] = malloc(sizeof *f[i] * sz[i]);
		b[i] = malloc(sizeof *b[i] * sz[i]);
		if (!f[i] || !b[i] || !out)
			return 1;
		for (size_t j = 0; j < sz[i]; j++) {
			s ^= s << 13, s ^= s >> 7, s ^= s << 17;
			f[i][j] = (float)(s >> 40) / (float)(1 << 24) - 0.5f;
		}
		pfm_bf16_round(b[i], f[i], sz[i]);
	}
	double flop = 2.0 * n * d * P * 2 + 2.0 * n * P * H * 6;
	for (int bf = 0; bf < 2; bf++) {
		if (bf && !pfm_gemm_bf16_available())
			break;
		void **a = bf ? (void **)b : (void **)f;
		double r[RUNS];
		pfm_err e = {0};
		for (int k = 0; k < WARM + RUNS; k++) {
			double t0 = pfm_now();
			if (step(bf, n, d, a[0], a[1], a[2], a[3], a[4], a[5], out, &e)) {
				fprintf(stderr, "mil-gemms: %s\n", e.msg);
				return 1;
			}
			if (k >= WARM)
				r[k - WARM] = pfm_now() - t0;
		}
		qsort(r, RUNS, sizeof *r, cmp);
		double t = r[RUNS / 2];
		printf("%s %.4f %.1f\n", bf ? "bf16" : "fp32", 1e3 * t, flop / t / 1e9);
	}
	for (int i = 0; i < 6; i++)
		free(f[i]), free(b[i]);
	free(out);
	return 0;
}
