/* vit_grad.c: the backward of the ViT's layers (vit_grad.h). The
 * elementwise loops are built at -O3 with AVX-512/AVX2 clones, as in
 * vit_kernels.c (the Makefile's -O3 -fno-math-errno for this file). */
#include "vit_grad.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vit_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&       \
	!defined(__SANITIZE_ADDRESS__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

#define fexp pfm_fexpf
#define ferf pfm_ferff

CLONES void pfm_layernorm_fwd(float *out, float *stats, const float *in,
			      const float *w, const float *b, int M, int D,
			      float eps)
{
	for (int m = 0; m < M; m++) {
		const float *x = in + (size_t)m * D;
		float *y = out + (size_t)m * D;
		float s = 0;
		for (int i = 0; i < D; i++)
			s += x[i];
		float mean = s / D, v = 0;
		for (int i = 0; i < D; i++) {
			float d = x[i] - mean;
			v += d * d;
		}
		float rstd = 1.f / sqrtf(v / D + eps);
		for (int i = 0; i < D; i++)
			y[i] = (x[i] - mean) * rstd * w[i] + b[i];
		stats[2 * (size_t)m] = mean;
		stats[2 * (size_t)m + 1] = rstd;
	}
}

CLONES void pfm_layernorm_bwd(float *dx, float *dw, float *db, const float *dy,
			      const float *x, const float *stats,
			      const float *w, int M, int D, int accumulate)
{
	for (int m = 0; m < M; m++) {
		const float *g = dy + (size_t)m * D, *xr = x + (size_t)m * D;
		float *o = dx + (size_t)m * D;
		float mean = stats[2 * (size_t)m], rstd = stats[2 * (size_t)m + 1];
		float sg = 0, sgx = 0;
		for (int i = 0; i < D; i++) {
			float xh = (xr[i] - mean) * rstd, gw = g[i] * w[i];
			sg += gw;
			sgx += gw * xh;
			if (dw)
				dw[i] += g[i] * xh;
			if (db)
				db[i] += g[i];
		}
		sg /= D, sgx /= D;
		for (int i = 0; i < D; i++) {
			float xh = (xr[i] - mean) * rstd;
			float v = rstd * (g[i] * w[i] - sg - xh * sgx);
			o[i] = accumulate ? o[i] + v : v;
		}
	}
}

CLONES void pfm_gelu_bwd(float *du, const float *dy, const float *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float x = u[i];
		float cdf = 0.5f * (1.f + ferf(x * 0.70710678118654752f));
		float pdf = 0.39894228040143268f * fexp(-0.5f * x * x);
		du[i] = dy[i] * (cdf + x * pdf);
	}
}

CLONES void pfm_swiglu_bwd(float *du, const float *dy, const float *u, int M,
			   int H)
{
	for (int m = 0; m < M; m++) {
		const float *g = u + (size_t)m * 2 * H, *v = g + H;
		const float *d = dy + (size_t)m * H;
		float *dg = du + (size_t)m * 2 * H, *dv = dg + H;
		for (int i = 0; i < H; i++) {
			float a = g[i], sig = 1.f / (1.f + fexp(-a));
			float silu = a * sig;
			dg[i] = d[i] * v[i] * sig * (1.f + a * (1.f - sig));
			dv[i] = d[i] * silu;
		}
	}
}

CLONES void pfm_residual_fwd(float *x, const float *in, const float *y,
			     const float *ls, const float *scale, int rows_per,
			     int M, int D)
{
	for (int m = 0; m < M; m++) {
		float s = scale ? scale[m / rows_per] : 1.f;
		const float *a = in + (size_t)m * D, *q = y + (size_t)m * D;
		float *p = x + (size_t)m * D;
		for (int i = 0; i < D; i++) {
			float v = ls ? ls[i] * q[i] : q[i];
			p[i] = scale ? a[i] + s * v : a[i] + v;
		}
	}
}

CLONES void pfm_residual_bwd(float *dy, float *dls, const float *dx,
			     const float *y, const float *ls,
			     const float *scale, int rows_per, int M, int D)
{
	for (int m = 0; m < M; m++) {
		float s = scale ? scale[m / rows_per] : 1.f;
		const float *g = dx + (size_t)m * D, *q = y + (size_t)m * D;
		float *o = dy + (size_t)m * D;
		for (int i = 0; i < D; i++) {
			float gs = g[i] * s;
			if (dls)
				dls[i] += gs * q[i];
			o[i] = ls ? gs * ls[i] : gs;
		}
	}
}

void pfm_attention_fwd(float *out, float *p, const float *qkv, int T, int D,
		       int heads)
{
	int hd = D / heads, ld = 3 * D;
	float scale = 1.f / sqrtf((float)hd);
	for (int h = 0; h < heads; h++) {
		const float *q = qkv + h * hd, *k = q + D, *v = q + 2 * D;
		float *s = p + (size_t)h * T * T;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd,
			    scale, q, ld, k, ld, 0.f, s, T);
		pfm_softmax_rows(s, T, T);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T,
			    1.f, s, T, v, ld, 0.f, out + h * hd, D);
	}
}

/* ds = p * (dp - rowsum(dp * p)) * scale, in place in dp. */
CLONES static void softmax_bwd(float *dp, const float *p, int T, float scale)
{
	for (int r = 0; r < T; r++) {
		float *d = dp + (size_t)r * T;
		const float *q = p + (size_t)r * T;
		float s = 0;
		for (int i = 0; i < T; i++)
			s += d[i] * q[i];
		for (int i = 0; i < T; i++)
			d[i] = q[i] * (d[i] - s) * scale;
	}
}

void pfm_attention_bwd(float *dqkv, const float *dout, const float *qkv,
		       const float *p, float *ds, int T, int D, int heads)
{
	int hd = D / heads, ld = 3 * D;
	float scale = 1.f / sqrtf((float)hd);
	for (int h = 0; h < heads; h++) {
		const float *q = qkv + h * hd, *k = q + D, *v = q + 2 * D;
		const float *ph = p + (size_t)h * T * T, *dO = dout + h * hd;
		float *dq = dqkv + h * hd, *dk = dq + D, *dv = dq + 2 * D;
		/* dv = p^T dO; dp = dO v^T */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T,
			    1.f, ph, T, dO, D, 0.f, dv, ld);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd,
			    1.f, dO, D, v, ld, 0.f, ds, T);
		softmax_bwd(ds, ph, T, scale);
		/* dq = ds k; dk = ds^T q */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T,
			    1.f, ds, T, k, ld, 0.f, dq, ld);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T,
			    1.f, ds, T, q, ld, 0.f, dk, ld);
	}
}

CLONES static void colsum(float *db, const float *dy, int M, int N)
{
	for (int m = 0; m < M; m++) {
		const float *r = dy + (size_t)m * N;
		for (int n = 0; n < N; n++)
			db[n] += r[n];
	}
}

void pfm_linear_bwd(float *dx, float *dw, float *db, const float *dy,
		    const float *x, const float *w, int M, int K, int N,
		    int accumulate)
{
	if (dx)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N,
			    1.f, dy, N, w, K, accumulate ? 1.f : 0.f, dx, K);
	if (dw)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M,
			    1.f, dy, N, x, K, 1.f, dw, K);
	if (db)
		colsum(db, dy, M, N);
}

int pfm_pos_resample_matrix(float *wm, int gh, int gw, int nh, int nw, int aa,
			    double sh, double sw)
{
	/* resample the identity: channel d of the result is the weight of
	 * source position d, so the operator is exactly the forward's */
	size_t G = (size_t)gh * gw;
	float *id = calloc(G * G, sizeof *id);
	if (!id)
		return -1;
	for (size_t g = 0; g < G; g++)
		id[g * G + g] = 1.f;
	pfm_pos_resample(wm, id, gh, gw, nh, nw, (int)G, aa, sh, sw);
	free(id);
	return 0;
}
