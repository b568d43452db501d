/* vit_kernels.c: CPU layers of the ViT (see vit_kernels.h). exp and erf
 * are polynomial approximations written so the loops vectorise; their
 * errors (exp ~2 ulp, erf <= 1.5e-7 absolute, Abramowitz & Stegun
 * 7.1.26, the formula PyTorch's vectorised CPU erf uses) sit far below
 * the 1e-4 relative tolerance we hold against PyTorch. */
#include "vit_kernels.h"
#include "vit_math.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

void pfm_linear(float *out, const float *in, const float *w, const float *b,
		int M, int K, int N)
{
	if (b)
		for (int m = 0; m < M; m++)
			memcpy(out + (size_t)m * N, b, (size_t)N * sizeof *b);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.f, in,
		    K, w, K, b ? 1.f : 0.f, out, N);
}

/* Sums with 16 partial accumulators: without -ffast-math a plain float
 * reduction cannot vectorise; this one does (and rounds no worse). */
#define LANES 16
static inline float vsum(const float *x, int n)
{
	float acc[LANES] = {0};
	int i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int k = 0; k < LANES; k++)
			acc[k] += x[i + k];
	float s = 0;
	for (; i < n; i++)
		s += x[i];
	for (int k = 0; k < LANES; k++)
		s += acc[k];
	return s;
}

static inline float vsumsq_dev(const float *x, int n, float mean)
{
	float acc[LANES] = {0};
	int i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int k = 0; k < LANES; k++) {
			float d = x[i + k] - mean;
			acc[k] += d * d;
		}
	float s = 0;
	for (; i < n; i++)
		s += (x[i] - mean) * (x[i] - mean);
	for (int k = 0; k < LANES; k++)
		s += acc[k];
	return s;
}

static inline float vmax(const float *x, int n)
{
	float acc[LANES];
	for (int k = 0; k < LANES; k++)
		acc[k] = x[0];
	int i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int k = 0; k < LANES; k++)
			acc[k] = x[i + k] > acc[k] ? x[i + k] : acc[k];
	float m = x[0];
	for (; i < n; i++)
		m = x[i] > m ? x[i] : m;
	for (int k = 0; k < LANES; k++)
		m = acc[k] > m ? acc[k] : m;
	return m;
}

PFM_CLONES void pfm_layernorm(float *out, const float *in, const float *w,
			  const float *b, int M, int D, float eps)
{
	for (int m = 0; m < M; m++) {
		const float *x = in + (size_t)m * D;
		float *y = out + (size_t)m * D;
		float mean = vsum(x, D) / D;
		float rstd = 1.f / sqrtf(vsumsq_dev(x, D, mean) / D + eps);
		for (int i = 0; i < D; i++)
			y[i] = (x[i] - mean) * rstd * w[i] + b[i];
	}
}

PFM_CLONES void pfm_bias_gelu(float *x, const float *b, size_t rows, int N)
{
	for (size_t r = 0; r < rows; r++) {
		float *p = x + r * N;
		/* branch-free inner loops: they vectorise */
		if (b)
			for (int i = 0; i < N; i++)
				p[i] += b[i];
		for (int i = 0; i < N; i++)
			p[i] = 0.5f * p[i] *
			       (1.f + pfm_ferff(p[i] * 0.70710678118654752f));
	}
}

PFM_CLONES void pfm_bias_swiglu(float *out, float *u, const float *b, int M,
			    int H)
{
	for (int m = 0; m < M; m++) {
		float *g = u + (size_t)m * 2 * H, *v = g + H;
		float *o = out + (size_t)m * H;
		if (b)
			for (int i = 0; i < 2 * H; i++)
				g[i] += b[i];
		/* o[i] for row m >= 1 lies before g: reading ahead is safe;
		 * row 0 reads g[i], v[i] before writing o[i] = g[i]. */
		for (int i = 0; i < H; i++)
			o[i] = g[i] / (1.f + pfm_fexpf(-g[i])) * v[i];
	}
}

PFM_CLONES void pfm_residual(float *x, const float *y, const float *b,
			 const float *ls, int M, int D)
{
	for (int m = 0; m < M; m++) {
		float *p = x + (size_t)m * D;
		const float *q = y + (size_t)m * D;
		/* one branch-free loop per case, so each vectorises */
		if (b && ls)
			for (int i = 0; i < D; i++)
				p[i] += ls[i] * (q[i] + b[i]);
		else if (ls)
			for (int i = 0; i < D; i++)
				p[i] += ls[i] * q[i];
		else if (b)
			for (int i = 0; i < D; i++)
				p[i] += q[i] + b[i];
		else
			for (int i = 0; i < D; i++)
				p[i] += q[i];
	}
}

PFM_CLONES void pfm_residual_layernorm(float *x, float *h, const float *b,
				   const float *ls, const float *w,
				   const float *lb, int M, int D, float eps)
{
	for (int m = 0; m < M; m++) {
		float *p = x + (size_t)m * D, *q = h + (size_t)m * D;
		if (b && ls)
			for (int i = 0; i < D; i++)
				p[i] += ls[i] * (q[i] + b[i]);
		else if (ls)
			for (int i = 0; i < D; i++)
				p[i] += ls[i] * q[i];
		else if (b)
			for (int i = 0; i < D; i++)
				p[i] += q[i] + b[i];
		else
			for (int i = 0; i < D; i++)
				p[i] += q[i];
		/* the row is in cache: normalise it now into h's row */
		float mean = vsum(p, D) / D;
		float rstd = 1.f / sqrtf(vsumsq_dev(p, D, mean) / D + eps);
		for (int i = 0; i < D; i++)
			q[i] = (p[i] - mean) * rstd * w[i] + lb[i];
	}
}

PFM_CLONES void pfm_softmax_rows(float *x, int rows, int n)
{
	for (int r = 0; r < rows; r++) {
		float *p = x + (size_t)r * n;
		float mx = vmax(p, n);
		for (int i = 0; i < n; i++)
			p[i] = pfm_fexpf(p[i] - mx);
		float inv = 1.f / vsum(p, n);
		for (int i = 0; i < n; i++)
			p[i] *= inv;
	}
}

void pfm_attention(float *out, const float *qkv, float *s, int T, int D,
		   int heads)
{
	int hd = D / heads, ld = 3 * D;
	float scale = 1.f / sqrtf((float)hd);
	for (int h = 0; h < heads; h++) {
		const float *q = qkv + h * hd, *k = q + D, *v = q + 2 * D;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd,
			    scale, q, ld, k, ld, 0.f, s, T);
		pfm_softmax_rows(s, T, T);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T,
			    1.f, s, T, v, ld, 0.f, out + h * hd, D);
	}
}

void pfm_patchify(float *out, const float *img, int H, int W, int p)
{
	int gh = H / p, gw = W / p, row = 3 * p * p;
	for (int py = 0; py < gh; py++)
		for (int px = 0; px < gw; px++) {
			float *o = out + ((size_t)py * gw + px) * row;
			for (int c = 0; c < 3; c++)
				for (int ky = 0; ky < p; ky++) {
					const float *src =
						img + ((size_t)c * H +
						       (size_t)py * p + ky) * W +
						(size_t)px * p;
					memcpy(o, src, (size_t)p * sizeof *o);
					o += p;
				}
		}
}

/* ---- position-embedding resampling (torch's bicubic, both kinds) ---- */

static double cubic_aa(double x) /* a = -0.5, torch's antialias filter */
{
	const double a = -0.5;
	x = fabs(x);
	if (x < 1)
		return ((a + 2) * x - (a + 3)) * x * x + 1;
	if (x < 2)
		return (((x - 5) * x + 8) * x - 4) * a;
	return 0;
}

/* Taps of output index i along one axis: first input index *lo, count
 * *n (<= cap), weights w. */
static void taps(int in, int i, int aa, double scale, int *lo, int *n,
		 double *w, int cap)
{
	if (aa) {
		double support = scale >= 1 ? 2 * scale : 2;
		double center = scale * (i + 0.5);
		double inv = scale >= 1 ? 1 / scale : 1;
		long xmin = (long)(center - support + 0.5);
		if (xmin < 0)
			xmin = 0;
		long xmax = (long)(center + support + 0.5);
		if (xmax > in)
			xmax = in;
		int cnt = (int)(xmax - xmin);
		if (cnt > cap)
			cnt = cap;
		double tot = 0;
		for (int j = 0; j < cnt; j++) {
			w[j] = cubic_aa((j + xmin - center + 0.5) * inv);
			tot += w[j];
		}
		for (int j = 0; j < cnt && tot != 0; j++)
			w[j] /= tot;
		*lo = (int)xmin;
		*n = cnt;
		return;
	}
	/* classic: four clamped taps, A = -0.75; encoded as lo = x0 - 1 and
	 * the caller clamps each index */
	const double A = -0.75;
	double real = scale * (i + 0.5) - 0.5;
	double x0 = floor(real), t = real - x0;
	double t1 = t + 1, t2 = 1 - t, t3 = 2 - t;
	w[0] = ((A * t1 - 5 * A) * t1 + 8 * A) * t1 - 4 * A;
	w[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
	w[2] = ((A + 2) * t2 - (A + 3)) * t2 * t2 + 1;
	w[3] = ((A * t3 - 5 * A) * t3 + 8 * A) * t3 - 4 * A;
	*lo = (int)x0 - 1;
	*n = 4;
}

#define MAX_TAPS 256

void pfm_pos_resample(float *out, const float *pos, int gh, int gw, int nh,
		      int nw, int D, int aa, double sh, double sw)
{
	double wy[MAX_TAPS], wx[MAX_TAPS];
	for (int oy = 0; oy < nh; oy++) {
		int ylo, ny;
		taps(gh, oy, aa, sh, &ylo, &ny, wy, MAX_TAPS);
		for (int ox = 0; ox < nw; ox++) {
			int xlo, nx;
			taps(gw, ox, aa, sw, &xlo, &nx, wx, MAX_TAPS);
			float *o = out + ((size_t)oy * nw + ox) * D;
			for (int d = 0; d < D; d++) {
				double acc = 0;
				for (int a = 0; a < ny; a++) {
					int y = ylo + a;
					y = y < 0 ? 0 : y >= gh ? gh - 1 : y;
					double row = 0;
					for (int c = 0; c < nx; c++) {
						int x = xlo + c;
						x = x < 0 ? 0 : x >= gw ? gw - 1 : x;
						row += wx[c] *
						       pos[((size_t)y * gw + x) * D + d];
					}
					acc += wy[a] * row;
				}
				o[d] = (float)acc;
			}
		}
	}
}
