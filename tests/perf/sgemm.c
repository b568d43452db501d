/* sgemm: OpenBLAS single-precision GEMM GFLOP/s on the shapes of a
 * ViT-B/16 batch of 16 at 224 px (rows = 16 x 197 tokens), the ceiling
 * embed's FLOP utilisation is measured against.
 * Usage: sgemm THREADS   (prints the median GFLOP/s of 5 runs) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

extern void openblas_set_num_threads(int);

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

int main(int argc, char **argv)
{
	int th = argc > 1 ? atoi(argv[1]) : 1;
	openblas_set_num_threads(th);
	/* (N, K) of qkv, proj, fc1, fc2; M = 3152 */
	static const int nk[4][2] = {{2304, 768}, {768, 768}, {3072, 768},
				     {768, 3072}};
	int M = 16 * 197;
	float *a = malloc(sizeof(float) * M * 3072);
	float *w = malloc(sizeof(float) * 3072 * 3072);
	float *c = malloc(sizeof(float) * M * 3072);
	for (long i = 0; i < (long)M * 3072; i++)
		a[i] = (float)(i % 13) * 0.01f;
	for (long i = 0; i < 3072L * 3072; i++)
		w[i] = (float)(i % 7) * 0.01f;
	double r[5];
	for (int k = 0; k < 5; k++) {
		double flop = 0, t0 = now();
		for (int s = 0; s < 4; s++) {
			int N = nk[s][0], K = nk[s][1];
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M,
				    N, K, 1.f, a, K, w, K, 0.f, c, N);
			flop += 2.0 * M * N * K;
		}
		r[k] = flop / (now() - t0) / 1e9;
	}
	qsort(r, 5, sizeof *r, cmp);
	printf("%.1f\n", r[2]);
	free(a), free(w), free(c);
	return 0;
}
