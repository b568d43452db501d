/* qc_measure.c: one pass over a tile's rows: the pixel kernel per row,
 * and the Laplacian of each row once the row below it is known (a ring
 * of three grey rows with reflected borders, as OpenCV's
 * BORDER_REFLECT_101); then the fractions and focus measures. */
#include "qc.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "qc_kernel.h"
#include "qc_stats.h"

struct pfm_qc_ctx {
	pfm_qc_row_fn row;
	pfm_qc_lap_fn lap;
	pfm_qc_kparams k;
	int k_ready;
	uint8_t *grey; /* 3 padded grey rows */
	size_t grey_cap;
	pfm_qc_bins *bins;
};

pfm_qc_ctx *pfm_qc_new(void)
{
	pfm_qc_ctx *c = calloc(1, sizeof *c);
	if (c)
		pfm_qc_kernels(0, &c->row, &c->lap);
	return c;
}

void pfm_qc_free(pfm_qc_ctx *c)
{
	if (!c)
		return;
	free(c->grey);
	free(c->bins);
	free(c);
}

/* The variance of n values from their sum and sum of squares, exactly
 * up to the final division. */
static double variance(int64_t n, int64_t s, int64_t s2)
{
#ifdef __SIZEOF_INT128__
	__int128 num = (__int128)n * s2 - (__int128)s * s;
#else
	long double num = (long double)n * s2 - (long double)s * s;
#endif
	return (double)num / ((double)n * (double)n);
}

/* OpenCV's getThreshVal_Otsu_8u (cv2.threshold with THRESH_OTSU, as
 * CLAM calls it), transcribed operation for operation so that ties
 * between equal splits break the same way. */
static int otsu_threshold(const uint64_t h[256])
{
	double n = 0;
	for (int i = 0; i < 256; i++)
		n += (double)h[i];
	if (n == 0)
		return 0;
	double mu = 0, scale = 1. / n;
	for (int i = 0; i < 256; i++)
		mu += i * (double)h[i];
	mu *= scale;
	double mu1 = 0, q1 = 0, max_sigma = 0;
	int max_val = 0;
	for (int i = 0; i < 256; i++) {
		double p_i = (double)h[i] * scale, q2, mu2, sigma;
		mu1 *= q1;
		q1 += p_i;
		q2 = 1. - q1;
		if ((q1 < q2 ? q1 : q2) < FLT_EPSILON ||
		    (q1 > q2 ? q1 : q2) > 1. - FLT_EPSILON)
			continue;
		mu1 = (mu1 + i * p_i) / q1;
		mu2 = (mu - q1 * mu1) / q2;
		sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2);
		if (sigma > max_sigma) {
			max_sigma = sigma;
			max_val = i;
		}
	}
	return max_val;
}

int pfm_qc_measure(pfm_qc_ctx *c, const uint8_t *rgb, int w, int h,
		   const pfm_qc_opts *o, pfm_qc *m, pfm_err *e)
{
	if (w <= 0 || h <= 0)
		return pfm_errf(e, "tile QC: bad size %dx%d", w, h);
	int otsu = o->sat_threshold == PFM_QC_OTSU;
	if ((!otsu && (o->sat_threshold < 0 || o->sat_threshold > 254)) ||
	    o->white < 1 || o->white > 255 || o->black < 0 || o->black > 255)
		return pfm_errf(e, "tile QC: thresholds out of range");
	int kthr = otsu ? 255 : o->sat_threshold;
	if (!c->k_ready || c->k.sat_thr != kthr || c->k.white != o->white ||
	    c->k.black != o->black) {
		pfm_qc_kparams_init(&c->k, kthr, o->white, o->black);
		c->k_ready = 1;
	}
	int bins = otsu || o->stats;
	size_t stride = (size_t)w + 2 + 32;
	if (pfm_grow(&c->grey, &c->grey_cap, 3 * stride) ||
	    (bins && !c->bins && !(c->bins = malloc(sizeof *c->bins))))
		return pfm_errf(e, "out of memory measuring a %dx%d tile", w, h);
	if (bins)
		pfm_qc_bins_clear(c->bins, o->stats);
	pfm_qc_counts n = {0};
	pfm_qc_sums sum = {0};
	size_t row_bytes = (size_t)w * 3;
#define GREY(y) (c->grey + (size_t)((y) % 3) * stride + 1)
	for (int y = 0; y < h; y++) {
		const uint8_t *p = rgb + (size_t)y * row_bytes;
		uint8_t *g = GREY(y);
		c->row(&c->k, p, w, &n, g, NULL);
		g[-1] = w > 1 ? g[1] : g[0];
		g[w] = w > 1 ? g[w - 2] : g[0];
		if (bins)
			pfm_qc_bins_row(c->bins, p, w, o->black, o->stats);
		if (y > 0)
			c->lap(GREY(y > 1 ? y - 2 : 1), GREY(y - 1), g, w, 1, &sum);
	}
	/* The last row: the row below it is the one above (reflected). */
	int up = h > 1 ? h - 2 : 0;
	c->lap(GREY(up), GREY(h - 1), GREY(up), w, 0, &sum);
#undef GREY
	int64_t np = (int64_t)w * h;
	double N = (double)np;
	memset(m, 0, sizeof *m);
	m->n = np;
	m->sat_threshold = kthr;
	uint64_t tissue = n.sat;
	if (otsu) {
		int t = otsu_threshold(c->bins->n);
		m->sat_threshold = t > PFM_QC_SAT_DEFAULT ? t : PFM_QC_SAT_DEFAULT;
		tissue = 0;
		for (int k = m->sat_threshold + 1; k < 256; k++)
			tissue += c->bins->n[k];
	}
	m->tissue = tissue / N;
	m->hsv = n.hsv / N;
	m->white = n.white / N;
	m->black = n.black / N;
	m->background = (n.white + n.black) / N;
	m->pen = n.pen / N;
	m->pen_red = n.red / N;
	m->pen_green = n.green / N;
	m->pen_blue = n.blue / N;
	m->dark = n.dark / N;
	m->lapvar = variance(np, sum.lap, sum.lap2);
	double grad = 0;
	if (w > 1)
		grad += (double)sum.dx2 / ((double)h * (w - 1));
	if (h > 1)
		grad += (double)sum.dy2 / ((double)(h - 1) * w);
	m->blur = m->lapvar > 0 ? sqrt(grad / m->lapvar) : 0;
	if (o->stats)
		pfm_qc_bins_stats(c->bins, m->sat_threshold, m);
	return 0;
}
