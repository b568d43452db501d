/* distill_loss.c: DINO, iBOT, KoLeo and expert losses (distill_loss.h). */
/* Built -O3 -fno-math-errno by the Makefile, so its loops vectorise. */
#include "distill_loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vit_grad.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&       \
	!defined(__SANITIZE_ADDRESS__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

CLONES void pfm_softmax_center(float *p, const float *x, const float *center,
			       float temp, int R, int K)
{
	float inv = 1.f / temp;
	for (int r = 0; r < R; r++) {
		const float *a = x + (size_t)r * K;
		float *o = p + (size_t)r * K;
		float mx = -INFINITY;
		for (int k = 0; k < K; k++) {
			float v = (center ? a[k] - center[k] : a[k]) * inv;
			o[k] = v;
			mx = v > mx ? v : mx;
		}
		float s = 0;
		for (int k = 0; k < K; k++) {
			o[k] = pfm_fexpf(o[k] - mx);
			s += o[k];
		}
		float is = 1.f / s;
		for (int k = 0; k < K; k++)
			o[k] *= is;
	}
}

void pfm_center_update(float *center, const float *x, int R, int K, float m)
{
	for (int k = 0; k < K; k++) {
		double s = 0;
		for (int r = 0; r < R; r++)
			s += x[(size_t)r * K + k];
		float bc = (float)(s / R);
		center[k] = center[k] * m + bc * (1.f - m);
	}
}

void pfm_sinkhorn(float *q, const float *x, float temp, int R, int K,
		  int iters, double *rows)
{
	size_t n = (size_t)R * K;
	float mx = -INFINITY, inv = 1.f / temp;
	for (size_t i = 0; i < n; i++)
		mx = x[i] > mx ? x[i] : mx;
	double tot = 0;
	for (size_t i = 0; i < n; i++) {
		q[i] = pfm_fexpf((x[i] - mx) * inv);
		tot += q[i];
	}
	float it = (float)(1.0 / tot);
	for (size_t i = 0; i < n; i++)
		q[i] *= it;
	/* q is stored [R, K]: "rows" of the paper's K x B matrix are our
	 * columns k */
	for (int t = 0; t < iters; t++) {
		for (int k = 0; k < K; k++)
			rows[k] = 0;
		for (int r = 0; r < R; r++)
			for (int k = 0; k < K; k++)
				rows[k] += q[(size_t)r * K + k];
		for (int r = 0; r < R; r++)
			for (int k = 0; k < K; k++)
				q[(size_t)r * K + k] = (float)(q[(size_t)r * K + k] /
							       rows[k] / K);
		for (int r = 0; r < R; r++) {
			float *a = q + (size_t)r * K;
			double s = 0;
			for (int k = 0; k < K; k++)
				s += a[k];
			for (int k = 0; k < K; k++)
				a[k] = (float)(a[k] / s / R);
		}
	}
	for (size_t i = 0; i < n; i++)
		q[i] *= (float)R;
}

CLONES double pfm_xent(float *ds, const float *s, const float *t,
		       const float *w, float temp, int R, int K)
{
	double loss = 0;
	float inv = 1.f / temp;
	for (int r = 0; r < R; r++) {
		const float *a = s + (size_t)r * K, *b = t + (size_t)r * K;
		float mx = -INFINITY;
		for (int k = 0; k < K; k++)
			mx = a[k] * inv > mx ? a[k] * inv : mx;
		float se = 0, dot = 0, ts = 0;
		for (int k = 0; k < K; k++) {
			se += pfm_fexpf(a[k] * inv - mx);
			dot += b[k] * a[k] * inv;
			ts += b[k];
		}
		double lse = mx + log((double)se);
		double wr = w ? w[r] : 1.0;
		loss += wr * (lse * ts - dot);
		if (!ds)
			continue;
		float *g = ds + (size_t)r * K;
		float c = (float)(wr * inv), e = 1.f / se;
		for (int k = 0; k < K; k++)
			g[k] += c * (pfm_fexpf(a[k] * inv - mx) * e * ts - b[k]);
	}
	return loss;
}

double pfm_koleo(float *dx, const float *x, int B, int D, double weight)
{
	float *y = malloc((size_t)B * D * sizeof *y);
	float *nr = malloc((size_t)B * sizeof *nr);
	float *dy = calloc((size_t)B * D, sizeof *dy);
	int *nn = malloc((size_t)B * sizeof *nn);
	double loss = NAN;
	if (!y || !nr || !dy || !nn)
		goto out;
	for (int b = 0; b < B; b++) {
		const float *a = x + (size_t)b * D;
		float s = 0;
		for (int i = 0; i < D; i++)
			s += a[i] * a[i];
		nr[b] = sqrtf(s);
		float d = nr[b] > 1e-8f ? nr[b] : 1e-8f;
		for (int i = 0; i < D; i++)
			y[(size_t)b * D + i] = a[i] / d;
	}
	for (int b = 0; b < B; b++) {
		float best = -INFINITY;
		int bi = b;
		for (int c = 0; c < B; c++) {
			float dot = -1.f; /* the diagonal, as DINOv2 fills it */
			if (c != b) {
				dot = 0;
				for (int i = 0; i < D; i++)
					dot += y[(size_t)b * D + i] *
					       y[(size_t)c * D + i];
			}
			if (dot > best)
				best = dot, bi = c;
		}
		nn[b] = bi;
	}
	loss = 0;
	for (int b = 0; b < B; b++) {
		const float *p = y + (size_t)b * D, *q = y + (size_t)nn[b] * D;
		float s = 0;
		for (int i = 0; i < D; i++) {
			float d = p[i] - q[i] + 1e-8f;
			s += d * d;
		}
		float dist = sqrtf(s);
		loss -= log((double)dist + 1e-8) / B;
		if (!dx || !(dist > 0))
			continue;
		float g = (float)(-weight / B / ((double)dist + 1e-8)) / dist;
		for (int i = 0; i < D; i++) {
			float d = (p[i] - q[i] + 1e-8f) * g;
			dy[(size_t)b * D + i] += d;
			dy[(size_t)nn[b] * D + i] -= d;
		}
	}
	for (int b = 0; dx && b < B; b++) {
		const float *yr = y + (size_t)b * D, *g = dy + (size_t)b * D;
		float *o = dx + (size_t)b * D;
		if (nr[b] > 1e-8f) {
			float s = 0;
			for (int i = 0; i < D; i++)
				s += yr[i] * g[i];
			for (int i = 0; i < D; i++)
				o[i] += (g[i] - yr[i] * s) / nr[b];
		} else {
			for (int i = 0; i < D; i++)
				o[i] += g[i] / 1e-8f;
		}
	}
	loss *= weight;
out:
	free(y), free(nr), free(dy), free(nn);
	return loss;
}

double pfm_cos_loss(float *dp, const float *p, const float *t, int R, int E,
		    double weight)
{
	double sum = 0;
	for (int r = 0; r < R; r++) {
		const float *a = p + (size_t)r * E, *b = t + (size_t)r * E;
		double pp = 0, tt = 0, pt = 0;
		for (int i = 0; i < E; i++) {
			pp += (double)a[i] * a[i];
			tt += (double)b[i] * b[i];
			pt += (double)a[i] * b[i];
		}
		double den = sqrt(fmax(pp * tt, 1e-16));
		double cs = pt / den;
		sum += cs;
		if (!dp)
			continue;
		/* d cos / dp = t / den - cos p / |p|^2 (when den > eps) */
		double g = -weight / R;
		float *o = dp + (size_t)r * E;
		for (int i = 0; i < E; i++) {
			double d = b[i] / den;
			if (pp * tt > 1e-16)
				d -= cs * a[i] / pp;
			o[i] += (float)(g * d);
		}
	}
	return weight * (1.0 - sum / R);
}

double pfm_smooth_l1(float *dp, const float *p, const float *t, size_t n,
		     double weight)
{
	double sum = 0, g = weight / (double)n;
	for (size_t i = 0; i < n; i++) {
		float d = p[i] - t[i], ad = fabsf(d);
		sum += ad < 1.f ? 0.5 * (double)d * d : ad - 0.5;
		if (dp)
			dp[i] += (float)(g * (d > 1.f ? 1.f : d < -1.f ? -1.f : d));
	}
	return weight * sum / (double)n;
}

/* torch's cubic convolution weights, A = -0.75 (upsample_bicubic2d) */
static void cubic4(double t, double w[4])
{
	const double A = -0.75;
	double t1 = t + 1, t2 = 1 - t, t3 = 2 - t;
	w[0] = ((A * t1 - 5 * A) * t1 + 8 * A) * t1 - 4 * A;
	w[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
	w[2] = ((A + 2) * t2 - (A + 3)) * t2 * t2 + 1;
	w[3] = ((A * t3 - 5 * A) * t3 + 8 * A) * t3 - 4 * A;
}

void pfm_grid_bicubic(float *out, const float *in, int gh, int gw, int C,
		      double y0, double x0, double bh, double bw, int nh,
		      int nw, int flip)
{
	for (int oy = 0; oy < nh; oy++) {
		double sy = y0 + (oy + 0.5) * bh / nh - 0.5;
		double fy = floor(sy), wy[4];
		cubic4(sy - fy, wy);
		for (int ox = 0; ox < nw; ox++) {
			int cx = flip ? nw - 1 - ox : ox;
			double sx = x0 + (cx + 0.5) * bw / nw - 0.5;
			double fx = floor(sx), wx[4];
			cubic4(sx - fx, wx);
			float *o = out + ((size_t)oy * nw + ox) * C;
			for (int c = 0; c < C; c++) {
				double acc = 0;
				for (int a = 0; a < 4; a++) {
					int y = (int)fy - 1 + a;
					y = y < 0 ? 0 : y >= gh ? gh - 1 : y;
					double row = 0;
					for (int b = 0; b < 4; b++) {
						int x = (int)fx - 1 + b;
						x = x < 0 ? 0 : x >= gw ? gw - 1 : x;
						row += wx[b] *
						       in[((size_t)y * gw + x) * C + c];
					}
					acc += wy[a] * row;
				}
				o[c] = (float)acc;
			}
		}
	}
}
