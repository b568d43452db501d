#include "tissue.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


#define MASK_MAX 8192   /* larger side of a mask */
#define DARK 25         /* max(R,G,B) below this: background */

void pfm_tissue_free(pfm_tissue *t)
{
	free(t->m);
	free(t->sum);
	memset(t, 0, sizeof *t);
}

int pfm_otsu(const uint64_t hist[256])
{
	double total = 0, sum = 0;
	for (int i = 0; i < 256; i++) {
		total += (double)hist[i];
		sum += (double)i * hist[i];
	}
	double wb = 0, sb = 0, best = -1;
	int thr = 0;
	for (int i = 0; i < 256; i++) {
		wb += (double)hist[i];
		if (wb == 0)
			continue;
		double wf = total - wb;
		if (wf == 0)
			break;
		sb += (double)i * hist[i];
		double mb = sb / wb, mf = (sum - sb) / wf;
		double between = wb * wf * (mb - mf) * (mb - mf);
		if (between > best) {
			best = between;
			thr = i;
		}
	}
	return thr;
}

/* Median of a k x k window (borders replicated), by a running
 * histogram along each row with a coarse 16-bin level, so a pixel costs
 * O(k) updates and at most 32 bin visits, not a sort. */
static void median(const uint8_t *src, uint8_t *dst, int w, int h, int k)
{
	int r = k / 2, half = k * k / 2;
	for (int y = 0; y < h; y++) {
		int hist[256] = {0}, coarse[16] = {0};
		for (int dy = -r; dy <= r; dy++) {
			int yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
			const uint8_t *row = src + (size_t)yy * w;
			for (int dx = -r; dx <= r; dx++) {
				int v = row[dx < 0 ? 0 : dx >= w ? w - 1 : dx];
				hist[v]++;
				coarse[v >> 4]++;
			}
		}
		for (int x = 0;; x++) {
			int c = 0, b = 0;
			while (c + coarse[b] <= half)
				c += coarse[b++];
			int v = b << 4;
			while (c + hist[v] <= half)
				c += hist[v++];
			dst[(size_t)y * w + x] = (uint8_t)v;
			if (x == w - 1)
				break;
			/* Slide: drop column x - r, add column x + r + 1. */
			int out = x - r < 0 ? 0 : x - r;
			int in = x + r + 1 >= w ? w - 1 : x + r + 1;
			for (int dy = -r; dy <= r; dy++) {
				int yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
				const uint8_t *row = src + (size_t)yy * w;
				hist[row[out]]--;
				coarse[row[out] >> 4]--;
				hist[row[in]]++;
				coarse[row[in] >> 4]++;
			}
		}
	}
}

/* Square max (dilate) or min (erode) filter of radius r, separable,
 * borders replicated. */
static void morph(uint8_t *m, uint8_t *tmp, int w, int h, int r, int dilate)
{
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int v = dilate ? 0 : 1;
			for (int d = -r; d <= r; d++) {
				int xx = x + d < 0 ? 0 : x + d >= w ? w - 1 : x + d;
				int p = m[(size_t)y * w + xx];
				v = dilate ? (v | p) : (v & p);
			}
			tmp[(size_t)y * w + x] = (uint8_t)v;
		}
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int v = dilate ? 0 : 1;
			for (int d = -r; d <= r; d++) {
				int yy = y + d < 0 ? 0 : y + d >= h ? h - 1 : y + d;
				int p = tmp[(size_t)yy * w + x];
				v = dilate ? (v | p) : (v & p);
			}
			m[(size_t)y * w + x] = (uint8_t)v;
		}
}

/* Set every connected (8-neighbour) region of value `val` smaller than
 * min_px to 1 - val; for holes (val 0) regions touching the border are
 * the background and stay. stack: w*h ints. */
static void area_filter(uint8_t *m, int w, int h, int val, int64_t min_px,
			int32_t *stack, uint8_t *seen)
{
	memset(seen, 0, (size_t)w * h);
	for (int64_t i = 0; i < (int64_t)w * h; i++) {
		if (m[i] != val || seen[i])
			continue;
		int64_t n = 0, top = 0, border = 0;
		stack[top++] = (int32_t)i;
		seen[i] = 1;
		/* Breadth first: the region ends up in stack[0..n). */
		while (n < top) {
			int32_t p = stack[n++];
			int px = p % w, py = p / w;
			if (!px || !py || px == w - 1 || py == h - 1)
				border = 1;
			for (int dy = -1; dy <= 1; dy++)
				for (int dx = -1; dx <= 1; dx++) {
					int xx = px + dx, yy = py + dy;
					if (xx < 0 || yy < 0 || xx >= w || yy >= h)
						continue;
					int32_t q = yy * w + xx;
					if (m[q] == val && !seen[q]) {
						seen[q] = 1;
						stack[top++] = q;
					}
				}
		}
		if (n < min_px && !(val == 0 && border))
			for (int64_t k = 0; k < n; k++)
				m[stack[k]] = (uint8_t)(1 - val);
	}
}

static int finish(pfm_tissue *t, pfm_err *e)
{
	int w = t->w, h = t->h;
	t->sum = calloc((size_t)(w + 1) * (h + 1), sizeof *t->sum);
	if (!t->sum)
		return pfm_errf(e, "out of memory");
	t->count = 0;
	for (int y = 0; y < h; y++) {
		uint32_t row = 0;
		for (int x = 0; x < w; x++) {
			row += t->m[(size_t)y * w + x];
			t->sum[(size_t)(y + 1) * (w + 1) + x + 1] =
				t->sum[(size_t)y * (w + 1) + x + 1] + row;
		}
		t->count += row;
	}
	return 0;
}

int pfm_tissue_from_rgb(const uint8_t *rgb, int w, int h, double mask_mpp,
			const pfm_tissue_opts *opts, pfm_tissue *t, pfm_err *e)
{
	pfm_tissue_opts o = opts ? *opts : (pfm_tissue_opts){0};
	int k = o.median ? o.median : 7;
	if (k < 1 || k > 31 || !(k & 1))
		return pfm_errf(e, "tissue: median kernel %d: not odd in 1..31", k);
	int close = o.close ? o.close : 2;
	double min_area = o.min_area > 0 ? o.min_area : 0.01;
	double max_hole = o.max_hole > 0 ? o.max_hole : 0.01;
	int floor_thr = o.min_threshold ? o.min_threshold : 20;
	size_t n = (size_t)w * h;
	t->w = w;
	t->h = h;
	t->m = malloc(n);
	uint8_t *sat = malloc(n), *tmp = malloc(n);
	int32_t *stack = malloc(n * sizeof *stack);
	if (!t->m || !sat || !tmp || !stack) {
		free(sat);
		free(tmp);
		free(stack);
		pfm_tissue_free(t);
		return pfm_errf(e, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		int r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
		int mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
		int mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
		sat[i] = mx < DARK ? 0 : (uint8_t)((255 * (mx - mn) + mx / 2) / mx);
	}
	median(sat, tmp, w, h, k);
	uint64_t hist[256] = {0};
	for (size_t i = 0; i < n; i++)
		hist[tmp[i]]++;
	int thr = o.threshold > 0 ? o.threshold : pfm_otsu(hist);
	if (o.threshold <= 0 && thr < floor_thr)
		thr = floor_thr;
	t->threshold = thr;
	for (size_t i = 0; i < n; i++)
		t->m[i] = tmp[i] > thr;
	if (close > 0) {
		morph(t->m, tmp, w, h, close, 1);
		morph(t->m, tmp, w, h, close, 0);
	}
	double px_mm2 = mask_mpp * mask_mpp * 1e-6;
	area_filter(t->m, w, h, 1, (int64_t)(min_area / px_mm2), stack, tmp);
	area_filter(t->m, w, h, 0, (int64_t)(max_hole / px_mm2), stack, tmp);
	free(sat);
	free(tmp);
	free(stack);
	if (finish(t, e)) {
		pfm_tissue_free(t);
		return -1;
	}
	return 0;
}

int pfm_tissue_all(pfm_tissue *t, int64_t w0, int64_t h0, pfm_err *e)
{
	memset(t, 0, sizeof *t);
	/* One mask pixel per 64 level-0 pixels is plenty for "all". */
	t->scale = 64;
	t->w = (int)((w0 + 63) / 64);
	t->h = (int)((h0 + 63) / 64);
	t->m = malloc((size_t)t->w * t->h);
	if (!t->m)
		return pfm_errf(e, "out of memory");
	memset(t->m, 1, (size_t)t->w * t->h);
	t->threshold = -1;
	if (finish(t, e)) {
		pfm_tissue_free(t);
		return -1;
	}
	return 0;
}

int pfm_tissue_compute(pfm_slide *s, pfm_slide_ctx *c,
		       const pfm_tissue_opts *o, pfm_tissue *t, pfm_err *e)
{
	memset(t, 0, sizeof *t);
	double mpp = o && o->mpp > 0 ? o->mpp : 8;
	int64_t w0, h0;
	pfm_slide_level_dims(s, 0, &w0, &h0);
	double scale = mpp / pfm_slide_mpp(s);
	if (scale < 1)
		scale = 1;
	if (w0 / scale > MASK_MAX || h0 / scale > MASK_MAX)
		scale = (double)(w0 > h0 ? w0 : h0) / MASK_MAX;
	int mw = (int)ceil(w0 / scale), mh = (int)ceil(h0 / scale);
	uint8_t *rgb = malloc((size_t)mw * mh * 3);
	if (!rgb)
		return pfm_errf(e, "out of memory");
	int rc = pfm_slide_read_scaled(s, c, scale, mw, mh, rgb, e);
	if (!rc)
		rc = pfm_tissue_from_rgb(rgb, mw, mh, scale * pfm_slide_mpp(s), o, t, e);
	t->scale = scale;
	t->level = pfm_slide_best_level(s, scale, 0.01);
	free(rgb);
	return rc;
}

/* The integral at a continuous mask point: bilinear in the integral image
 * is exact area coverage. */
static double integral(const pfm_tissue *t, double x, double y)
{
	if (x <= 0 || y <= 0)
		return 0;
	if (x > t->w)
		x = t->w;
	if (y > t->h)
		y = t->h;
	int i = (int)x, j = (int)y;
	if (i == t->w)
		i--;
	if (j == t->h)
		j--;
	double fx = x - i, fy = y - j;
	size_t W = (size_t)t->w + 1;
	double a = t->sum[j * W + i], b = t->sum[j * W + i + 1];
	double c = t->sum[(j + 1) * W + i], d = t->sum[(j + 1) * W + i + 1];
	return a * (1 - fx) * (1 - fy) + b * fx * (1 - fy) + c * (1 - fx) * fy +
	       d * fx * fy;
}

double pfm_tissue_fraction(const pfm_tissue *t, double x, double y, double w,
			   double h)
{
	if (!(w > 0) || !(h > 0) || !t->sum)
		return 0;
	double x0 = x / t->scale, y0 = y / t->scale;
	double x1 = (x + w) / t->scale, y1 = (y + h) / t->scale;
	double s = integral(t, x1, y1) - integral(t, x0, y1) -
		   integral(t, x1, y0) + integral(t, x0, y0);
	double f = s / ((x1 - x0) * (y1 - y0));
	return f < 0 ? 0 : f > 1 ? 1 : f;
}
