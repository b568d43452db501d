#include "resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Weights of one axis: output i takes n[i] source samples from first[i]
 * with weights w[off[i] ..]. Weights of one output sum to 1. */
typedef struct {
	int *first, *n, *off;
	float *w;
} axis;

static void axis_free(axis *a)
{
	free(a->first);
	free(a->n);
	free(a->off);
	free(a->w);
}

static int axis_init(axis *a, int sn, int dn)
{
	memset(a, 0, sizeof *a);
	double scale = (double)sn / dn;
	int per = scale > 1 ? (int)ceil(scale) + 1 : 2;
	a->first = malloc(dn * sizeof(int));
	a->n = malloc(dn * sizeof(int));
	a->off = malloc(dn * sizeof(int));
	a->w = malloc((size_t)dn * per * sizeof(float));
	if (!a->first || !a->n || !a->off || !a->w) {
		axis_free(a);
		return -1;
	}
	for (int i = 0, o = 0; i < dn; i++) {
		a->off[i] = o;
		if (scale >= 1) {
			/* Box: the footprint [i*s, (i+1)*s) in source pixels. */
			double lo = i * scale, hi = (i + 1) * scale;
			int s0 = (int)floor(lo), s1 = (int)ceil(hi);
			if (s1 > sn)
				s1 = sn;
			a->first[i] = s0;
			a->n[i] = 0;
			for (int s = s0; s < s1; s++) {
				double c = fmin(hi, s + 1) - fmax(lo, s);
				if (c <= 0)
					c = 0;
				a->w[o + a->n[i]++] = (float)(c / scale);
			}
		} else {
			/* Bilinear between the two nearest source centres. */
			double c = (i + 0.5) * scale - 0.5;
			int s0 = (int)floor(c);
			double f = c - s0;
			if (s0 < 0) {
				s0 = 0;
				f = 0;
			}
			if (s0 >= sn - 1) {
				s0 = sn - 1;
				f = 0;
			}
			a->first[i] = s0;
			a->n[i] = f > 0 ? 2 : 1;
			a->w[o] = (float)(1 - f);
			a->w[o + 1] = (float)f;
		}
		o += a->n[i];
	}
	return 0;
}

static int resample(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw,
		    int dh, int ch, pfm_err *e)
{
	if (sw == dw && sh == dh) {
		memcpy(dst, src, (size_t)sw * sh * ch);
		return 0;
	}
	axis ax, ay;
	if (axis_init(&ax, sw, dw))
		return pfm_errf(e, "resample: out of memory");
	if (axis_init(&ay, sh, dh)) {
		axis_free(&ax);
		return pfm_errf(e, "resample: out of memory");
	}
	/* Vertical pass first, along whole rows (it vectorizes), into
	 * floats; then the horizontal one on the fewer rows; round half up
	 * at the end. */
	size_t src_n = (size_t)sw * ch;
	float *tmp = malloc(src_n * dh * sizeof(float));
	if (!tmp) {
		axis_free(&ax);
		axis_free(&ay);
		return pfm_errf(e, "resample: out of memory");
	}
	for (int y = 0; y < dh; y++) {
		const float *w = ay.w + ay.off[y];
		float *acc = tmp + (size_t)y * src_n;
		for (size_t i = 0; i < src_n; i++)
			acc[i] = 0;
		for (int k = 0; k < ay.n[y]; k++) {
			const uint8_t *p = src + (size_t)(ay.first[y] + k) * src_n;
			float wk = w[k];
			for (size_t i = 0; i < src_n; i++)
				acc[i] += wk * p[i];
		}
	}
	for (int y = 0; y < dh; y++) {
		const float *row = tmp + (size_t)y * src_n;
		uint8_t *out = dst + (size_t)y * dw * ch;
		for (int x = 0; x < dw; x++) {
			const float *w = ax.w + ax.off[x];
			const float *p = row + (size_t)ax.first[x] * ch;
			for (int c = 0; c < ch; c++) {
				float v = 0.5f;
				for (int k = 0; k < ax.n[x]; k++)
					v += w[k] * p[k * ch + c];
				out[x * ch + c] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
			}
		}
	}
	free(tmp);
	axis_free(&ax);
	axis_free(&ay);
	return 0;
}

int pfm_resample_rgb(const uint8_t *src, int sw, int sh, uint8_t *dst,
		     int dw, int dh, pfm_err *e)
{
	return resample(src, sw, sh, dst, dw, dh, 3, e);
}

int pfm_resample_gray(const uint8_t *src, int sw, int sh, uint8_t *dst,
		      int dw, int dh, pfm_err *e)
{
	return resample(src, sw, sh, dst, dw, dh, 1, e);
}
