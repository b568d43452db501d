/* qc_stats.c: optical density and CIE L*a*b* statistics of tissue
 * pixels, accumulated per saturation value. */
#include "qc_stats.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "qc_kernel.h"

/* OD = -log10((I + 1) / 256) per channel; sRGB to linear light. */
static double od_lut[256], lin_lut[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_luts(void)
{
	for (int i = 0; i < 256; i++) {
		od_lut[i] = -log10((i + 1) / 256.0);
		double c = i / 255.0;
		lin_lut[i] = c > 0.04045 ? pow((c + 0.055) / 1.055, 2.4) : c / 12.92;
	}
}

void pfm_qc_od(unsigned r, unsigned g, unsigned b, double od[3])
{
	pthread_once(&once, init_luts);
	od[0] = od_lut[r];
	od[1] = od_lut[g];
	od[2] = od_lut[b];
}

/* skimage.color.rgb2lab: sRGB (D65) to XYZ, XYZ / D65 white (2 degree
 * observer), f(t) = cbrt(t) above 0.008856, else 7.787 t + 16/116. */
static double lab_f(double t)
{
	if (t <= 0.008856)
		return 7.787 * t + 16.0 / 116.0;
	/* cbrt(t): an exponent-thirding first guess (within 4%), then two
	 * Halley steps (cubic convergence: 1e-4, then about 1e-13
	 * relative); several times faster than libm's cbrt, which
	 * dominated --stats. */
	uint64_t u;
	double y;
	memcpy(&u, &t, sizeof u);
	u = u / 3 + 0x2a9f7893782da1ceull;
	memcpy(&y, &u, sizeof y);
	for (int i = 0; i < 2; i++) {
		double y3 = y * y * y;
		y *= (y3 + 2 * t) / (2 * y3 + t);
	}
	return y;
}

void pfm_qc_lab(unsigned r, unsigned g, unsigned b, double lab[3])
{
	pthread_once(&once, init_luts);
	double R = lin_lut[r], G = lin_lut[g], B = lin_lut[b];
	double x = (0.412453 * R + 0.357580 * G + 0.180423 * B) / 0.95047;
	double y = 0.212671 * R + 0.715160 * G + 0.072169 * B;
	double z = (0.019334 * R + 0.119193 * G + 0.950227 * B) / 1.08883;
	double fx = lab_f(x), fy = lab_f(y), fz = lab_f(z);
	lab[0] = 116 * fy - 16;
	lab[1] = 500 * (fx - fy);
	lab[2] = 200 * (fy - fz);
}

void pfm_qc_bins_clear(pfm_qc_bins *b, int stats)
{
	pthread_once(&once, init_luts);
	if (stats)
		memset(b, 0, sizeof *b);
	else
		memset(b->n, 0, sizeof b->n);
}

void pfm_qc_bins_row(pfm_qc_bins *b, const uint8_t *rgb, int w, int black,
		     int stats)
{
	for (int x = 0; x < w; x++, rgb += 3) {
		unsigned r = rgb[0], g = rgb[1], bl = rgb[2];
		unsigned v = r > g ? r : g, mn = r < g ? r : g;
		v = v > bl ? v : bl;
		mn = mn < bl ? mn : bl;
		if (v < (unsigned)black)
			continue;
		/* OpenCV's S */
		unsigned k = ((v - mn) * (unsigned)pfm_qc_sdiv[v] + 2048) >> 12;
		if (!stats) {
			b->n[k]++;
			continue;
		}
		double lab[3];
		pfm_qc_lab(r, g, bl, lab);
		if (!b->n[k]++)
			for (int c = 0; c < 3; c++) {
				b->od_ref[k][c] = od_lut[rgb[c]];
				b->lab_ref[k][c] = lab[c];
			}
		for (int c = 0; c < 3; c++) {
			double od = od_lut[rgb[c]] - b->od_ref[k][c];
			double l = lab[c] - b->lab_ref[k][c];
			b->od[k][c] += od;
			b->od2[k][c] += od * od;
			b->lab[k][c] += l;
			b->lab2[k][c] += l * l;
		}
	}
}

/* Mean and population standard deviation over the bins above thr:
 * each bin's mean and sum of squared deviations, pooled. */
static void pooled(const pfm_qc_bins *b, int thr, const double (*ref)[3],
		   const double (*s)[3], const double (*s2)[3], int c,
		   double *mean, double *std)
{
	double n = 0, sum = 0;
	for (int k = thr + 1; k < 256; k++)
		if (b->n[k]) {
			n += (double)b->n[k];
			sum += (double)b->n[k] * ref[k][c] + s[k][c];
		}
	double m = sum / n, m2 = 0;
	for (int k = thr + 1; k < 256; k++)
		if (b->n[k]) {
			double nk = (double)b->n[k], mk = ref[k][c] + s[k][c] / nk;
			double d = s2[k][c] - s[k][c] * s[k][c] / nk;
			m2 += (d > 0 ? d : 0) + nk * (mk - m) * (mk - m);
		}
	*mean = m;
	*std = sqrt(m2 / n);
}

void pfm_qc_bins_stats(const pfm_qc_bins *b, int thr, pfm_qc *m)
{
	uint64_t n = 0;
	for (int k = thr + 1; k < 256; k++)
		n += b->n[k];
	m->stats_n = (int64_t)n;
	for (int c = 0; c < 3; c++) {
		if (n) {
			pooled(b, thr, b->od_ref, b->od, b->od2, c, &m->od_mean[c], &m->od_std[c]);
			pooled(b, thr, b->lab_ref, b->lab, b->lab2, c, &m->lab_mean[c],
			       &m->lab_std[c]);
		} else {
			m->od_mean[c] = m->od_std[c] = 0;
			m->lab_mean[c] = m->lab_std[c] = 0;
		}
	}
}
