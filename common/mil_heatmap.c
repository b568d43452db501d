/* mil_heatmap.c: attention heatmaps over slide thumbnails (CLAM-style). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mil.h"
#include "slide.h"
#include "tissue.h" /* pfm_png_write */

#define HEAT_MAX 1024 /* thumbnail side */
#define HEAT_ALPHA 0.5

/* matplotlib's jet, piecewise linear. */
static void jet(double v, double rgb[3])
{
	double r = fmin(fmax(1.5 - fabs(4 * v - 3), 0), 1);
	double g = fmin(fmax(1.5 - fabs(4 * v - 2), 0), 1);
	double b = fmin(fmax(1.5 - fabs(4 * v - 1), 0), 1);
	rgb[0] = r * 255, rgb[1] = g * 255, rgb[2] = b * 255;
}

static const float *sort_att;
static int by_att(const void *pa, const void *pb)
{
	float a = sort_att[*(const int *)pa], b = sort_att[*(const int *)pb];
	return a < b ? -1 : a > b;
}

static int by_i64(const void *pa, const void *pb)
{
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
	return a < b ? -1 : a > b;
}

int pfm_mil_heatmap(const char *png, const char *slide_path,
		    const pfm_bag *bag, const float *att, pfm_err *e)
{
	pfm_slide_opts so = {.assume_mpp = 0.5};
	pfm_slide *s = pfm_slide_open(slide_path, &so, e);
	if (!s)
		return -1;
	int64_t w0, h0;
	pfm_slide_level_dims(s, 0, &w0, &h0);
	double k = fmax(1, (double)(w0 > h0 ? w0 : h0) / HEAT_MAX);
	int w = (int)fmax(1, ceil(w0 / k)), h = (int)fmax(1, ceil(h0 / k));
	uint8_t *img = malloc((size_t)w * h * 3);
	double *acc = calloc((size_t)w * h * 4, sizeof *acc);
	int *ord = malloc(sizeof *ord * bag->n);
	double *pct = malloc(sizeof *pct * bag->n);
	int64_t *xs = malloc(sizeof *xs * bag->n);
	pfm_slide_ctx *ctx = pfm_slide_ctx_new();
	int rc = -1;
	if (!img || !acc || !ord || !pct || !xs || !ctx) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	if (pfm_slide_read_scaled(s, ctx, k, w, h, img, e))
		goto out;
	/* attention as percentiles (ties share their mean rank), as CLAM */
	for (int i = 0; i < bag->n; i++)
		ord[i] = i;
	sort_att = att;
	qsort(ord, bag->n, sizeof *ord, by_att);
	for (int i = 0; i < bag->n;) {
		int j = i;
		while (j < bag->n && att[ord[j]] == att[ord[i]])
			j++;
		double r = bag->n > 1 ? (0.5 * (i + j - 1)) / (bag->n - 1) : 1;
		for (int q = i; q < j; q++)
			pct[ord[q]] = r;
		i = j;
	}
	/* the tile side when frames do not say: the smallest x step */
	for (int i = 0; i < bag->n; i++)
		xs[i] = bag->xy[2 * i];
	qsort(xs, bag->n, sizeof *xs, by_i64);
	int64_t step = 0;
	for (int i = 1; i < bag->n; i++)
		if (xs[i] > xs[i - 1] && (!step || xs[i] - xs[i - 1] < step))
			step = xs[i] - xs[i - 1];
	if (!step)
		step = 256;
	double smpp = pfm_slide_mpp(s);
	for (int i = 0; i < bag->n; i++) {
		const float *bx = bag->box + 3 * i;
		double scale = bx[2] > 0 && smpp > 0 ? bx[2] / smpp : 1;
		double tw = bx[0] > 0 ? bx[0] * scale : (double)step;
		double th = bx[1] > 0 ? bx[1] * scale : tw;
		int x0 = (int)floor(bag->xy[2 * i] / k), y0 = (int)floor(bag->xy[2 * i + 1] / k);
		int x1 = (int)ceil((bag->xy[2 * i] + tw) / k), y1 = (int)ceil((bag->xy[2 * i + 1] + th) / k);
		double c[3];
		jet(pct[i], c);
		for (int y = y0 > 0 ? y0 : 0; y < y1 && y < h; y++)
			for (int x = x0 > 0 ? x0 : 0; x < x1 && x < w; x++) {
				double *a = acc + ((size_t)y * w + x) * 4;
				a[0] += c[0], a[1] += c[1], a[2] += c[2], a[3] += 1;
			}
	}
	for (size_t p = 0; p < (size_t)w * h; p++) {
		double *a = acc + p * 4;
		if (a[3] > 0)
			for (int q = 0; q < 3; q++)
				img[p * 3 + q] = (uint8_t)lround((1 - HEAT_ALPHA) * img[p * 3 + q] +
								HEAT_ALPHA * a[q] / a[3]);
	}
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", png, (int)getpid());
	if (pfm_png_write(tmp, img, w, h, e))
		goto out;
	if (rename(tmp, png)) {
		pfm_errf(e, "%s: %s", png, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	if (ctx)
		pfm_slide_ctx_free(ctx);
	pfm_slide_close(s);
	free(img), free(acc), free(ord), free(pct), free(xs);
	return rc;
}
