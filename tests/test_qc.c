/* test_qc: tile QC measures (common/qc*.c).
 *
 * The pixel rules against an independent transcription of OpenCV's
 * RGB2HSV_b (its own tables, built as OpenCV builds them) and of
 * histolab's ink rules, on all 2^24 colours; the vector kernel against
 * the portable one on all 2^24 colours for several thresholds (exactly:
 * class bits, grey levels and counts); the Laplacian and gradient sums
 * against a brute-force OpenCV BORDER_REFLECT_101 Laplacian on random
 * tiles of every small size (exactly, as integers); fractions, Otsu,
 * colour statistics (known L*a*b* values, 1e-3) and the decision rules.
 * tests/ref/qc_ref.py checks the same definitions against OpenCV itself
 * (cv2.cvtColor, cv2.Laplacian) on all colours and on real tiles. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "qc.h"
#include "qc_kernel.h"
#include "qc_stats.h"

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

/* OpenCV 4 RGB2HSV_b, transcribed: tables from doubles, then its
 * integer code. */
static int cv_sdiv[256], cv_hdiv[256];
static void cv_tables(void)
{
	for (int i = 1; i < 256; i++) {
		cv_sdiv[i] = (int)lrint((255 << 12) / (1. * i));
		cv_hdiv[i] = (int)lrint((180 << 12) / (6. * i));
	}
}

static void cv_hsv(int r, int g, int b, int *h, int *s, int *v)
{
	int vv = b, vmin = b;
	if (g > vv) vv = g;
	if (r > vv) vv = r;
	if (g < vmin) vmin = g;
	if (r < vmin) vmin = r;
	int diff = vv - vmin;
	int vr = vv == r ? -1 : 0, vg = vv == g ? -1 : 0;
	*s = (diff * cv_sdiv[vv] + (1 << 11)) >> 12;
	int hh = (vr & (g - b)) +
		 (~vr & ((vg & (b - r + 2 * diff)) + ((~vg) & (r - g + 4 * diff))));
	hh = (hh * cv_hdiv[diff] + (1 << 11)) >> 12; /* arithmetic shift */
	hh += hh < 0 ? 180 : 0;
	*h = hh;
	*v = vv;
}

/* The documented rules, written out plainly. */
static unsigned ref_flags(int r, int g, int b, int thr, int white, int black)
{
	int h, s, v;
	cv_hsv(r, g, b, &h, &s, &v);
	int mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
	unsigned f = 0;
	if (s > thr && v >= black) f |= PFM_QC_F_SAT;
	if (h >= 90 && h <= 180 && s >= 8 && v >= 103) f |= PFM_QC_F_HSV;
	if (mn >= white) f |= PFM_QC_F_WHITE;
	if (v < black) f |= PFM_QC_F_BLACK;
	if (v >= black && v < 80 && s >= 100) f |= PFM_QC_F_DARK;
	for (int i = 0; i < PFM_QC_NRED; i++)
		if (!(r < pfm_qc_red[i][0] || g > pfm_qc_red[i][1] || b > pfm_qc_red[i][2]))
			f |= PFM_QC_F_RED;
	for (int i = 0; i < PFM_QC_NGREEN; i++)
		if (!(r > pfm_qc_green[i][0] || g < pfm_qc_green[i][1] || b < pfm_qc_green[i][2]))
			f |= PFM_QC_F_GREEN;
	for (int i = 0; i < PFM_QC_NBLUE; i++)
		if (!(r > pfm_qc_blue[i][0] || g > pfm_qc_blue[i][1] || b < pfm_qc_blue[i][2]))
			f |= PFM_QC_F_BLUE;
	return f;
}

static int same_counts(const pfm_qc_counts *a, const pfm_qc_counts *b)
{
	return a->sat == b->sat && a->hsv == b->hsv && a->white == b->white &&
	       a->black == b->black && a->red == b->red && a->green == b->green &&
	       a->blue == b->blue && a->pen == b->pen && a->dark == b->dark;
}

/* All colours, rows of w pixels in exact-size buffers (over-reads
 * would show under AddressSanitizer): the definition against the plain
 * rules, the fast kernel against the definition. */
static void all_colours(int thr, int white, int black, int w, int with_ref)
{
	pfm_qc_kparams k;
	pfm_qc_kparams_init(&k, thr, white, black);
	pfm_qc_row_fn fast, slow;
	pfm_qc_lap_fn lap;
	pfm_qc_kernels(0, &fast, &lap);
	pfm_qc_kernels(1, &slow, &lap);
	uint8_t *gs = malloc(w), *gf = malloc(w), *fs = malloc(w), *ff = malloc(w);
	pfm_qc_counts cs = {0}, cf = {0};
	long bad_ref = 0, bad_grey = 0, bad_flags = 0, bad_grey_ref = 0;
	uint32_t total = 1u << 24;
	for (uint32_t start = 0; start < total; start += (uint32_t)w) {
		int n = total - start < (uint32_t)w ? (int)(total - start) : w;
		uint8_t *row = malloc((size_t)n * 3);
		for (int i = 0; i < n; i++) {
			uint32_t c = start + (uint32_t)i;
			row[3 * i] = (uint8_t)(c >> 16);
			row[3 * i + 1] = (uint8_t)(c >> 8);
			row[3 * i + 2] = (uint8_t)c;
		}
		slow(&k, row, n, &cs, gs, fs);
		fast(&k, row, n, &cf, gf, ff);
		for (int i = 0; i < n; i++) {
			bad_flags += fs[i] != ff[i];
			bad_grey += gs[i] != gf[i];
			if (with_ref) {
				int r = row[3 * i], g = row[3 * i + 1], b = row[3 * i + 2];
				bad_ref += fs[i] != ref_flags(r, g, b, thr, white, black);
				bad_grey_ref += gs[i] != (r * 9798 + g * 19235 + b * 3735 + 16384) >> 15;
			}
		}
		free(row);
	}
	CHECK(bad_ref == 0, "thr %d: %ld colours differ from the plain rules", thr, bad_ref);
	CHECK(bad_grey_ref == 0, "%ld grey levels differ", bad_grey_ref);
	CHECK(bad_flags == 0, "thr %d white %d black %d w %d: %ld colours differ between kernels",
	      thr, white, black, w, bad_flags);
	CHECK(bad_grey == 0, "%ld grey levels differ between kernels", bad_grey);
	CHECK(same_counts(&cs, &cf), "thr %d: counts differ between kernels", thr);
	if (with_ref)
		CHECK(cs.white > 0 && cs.red > 0 && cs.green > 0 && cs.blue > 0 &&
		      cs.hsv > 0 && cs.dark > 0 && cs.sat > 0, "some class is empty");
	free(gs);
	free(gf);
	free(fs);
	free(ff);
}

/* OpenCV's Laplacian (ksize 1, BORDER_REFLECT_101) and the forward
 * differences, brute force, as doubles. */
static int refl(int i, int n)
{
	if (n == 1)
		return 0;
	if (i < 0)
		return -i;
	if (i >= n)
		return 2 * n - 2 - i;
	return i;
}

static void ref_focus(const uint8_t *rgb, int w, int h, double *lapvar,
		      double *blur)
{
	uint8_t *g = malloc((size_t)w * h);
	for (int i = 0; i < w * h; i++)
		g[i] = (uint8_t)((rgb[3 * i] * 9798 + rgb[3 * i + 1] * 19235 +
				  rgb[3 * i + 2] * 3735 + 16384) >> 15);
	double s = 0, s2 = 0, dx = 0, dy = 0;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			double l = g[refl(y - 1, h) * w + x] + g[refl(y + 1, h) * w + x] +
				   g[y * w + refl(x - 1, w)] + g[y * w + refl(x + 1, w)] -
				   4.0 * g[y * w + x];
			s += l;
			s2 += l * l;
			if (x + 1 < w)
				dx += pow(g[y * w + x + 1] - g[y * w + x], 2);
			if (y + 1 < h)
				dy += pow(g[(y + 1) * w + x] - g[y * w + x], 2);
		}
	double n = (double)w * h, mean = s / n;
	*lapvar = s2 / n - mean * mean;
	double grad = (w > 1 ? dx / (h * (w - 1.0)) : 0) + (h > 1 ? dy / ((h - 1.0) * w) : 0);
	*blur = *lapvar > 0 ? sqrt(grad / *lapvar) : 0;
	free(g);
}

static int close_to(double a, double b, double rel)
{
	return fabs(a - b) <= rel * fmax(1, fmax(fabs(a), fabs(b)));
}

/* A tile of w x h random pixels: smooth, noisy or patches of a few
 * colours, so every class and the focus sums get exercised. */
static uint8_t *random_tile(int w, int h, int kind)
{
	uint8_t *p = malloc((size_t)w * h * 3);
	uint8_t pal[4][3];
	for (int i = 0; i < 12; i++)
		pal[i / 3][i % 3] = (uint8_t)urand();
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			for (int c = 0; c < 3; c++) {
				uint8_t *q = p + 3 * ((size_t)y * w + x) + c;
				if (kind == 0)
					*q = (uint8_t)urand();
				else if (kind == 1)
					*q = (uint8_t)(((x * (c + 1) + y * 3) & 255) ^ (urand() & 3));
				else
					*q = pal[((x / 5) + (y / 3)) & 3][c];
			}
	return p;
}

static void measures(pfm_qc_ctx *ctx, const char *name)
{
	pfm_qc_opts o = {PFM_QC_SAT_DEFAULT, PFM_QC_WHITE_DEFAULT, PFM_QC_BLACK_DEFAULT, 0};
	pfm_qc_kparams k;
	pfm_qc_kparams_init(&k, o.sat_threshold, o.white, o.black);
	int sizes[][2] = {{1, 1}, {1, 7}, {7, 1}, {2, 2}, {31, 3}, {32, 2}, {33, 5},
			  {64, 64}, {65, 17}, {100, 1}, {256, 256}, {257, 9}};
	int fails = 0;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		for (int kind = 0; kind < 3; kind++) {
			int w = sizes[i][0], h = sizes[i][1];
			uint8_t *rgb = random_tile(w, h, kind);
			pfm_qc m;
			pfm_err e = {0};
			if (pfm_qc_measure(ctx, rgb, w, h, &o, &m, &e)) {
				CHECK(0, "%s %dx%d: %s", name, w, h, e.msg);
				free(rgb);
				continue;
			}
			pfm_qc_counts c = {0};
			for (int j = 0; j < w * h; j++) {
				unsigned s, g;
				unsigned f = pfm_qc_pixel(&k, rgb[3 * j], rgb[3 * j + 1], rgb[3 * j + 2], &s, &g);
				c.sat += f & 1;
				c.hsv += (f >> 1) & 1;
				c.white += (f >> 2) & 1;
				c.black += (f >> 3) & 1;
				c.red += (f >> 4) & 1;
				c.green += (f >> 5) & 1;
				c.blue += (f >> 6) & 1;
				c.dark += f >> 7;
				c.pen += (f & 0x70) != 0;
			}
			double n = (double)w * h, lv, bl;
			ref_focus(rgb, w, h, &lv, &bl);
			int ok = m.n == w * h && m.tissue == c.sat / n && m.hsv == c.hsv / n &&
				 m.white == c.white / n && m.black == c.black / n &&
				 m.background == (c.white + c.black) / n && m.pen == c.pen / n &&
				 m.pen_red == c.red / n && m.pen_green == c.green / n &&
				 m.pen_blue == c.blue / n && m.dark == c.dark / n &&
				 close_to(m.lapvar, lv, 1e-9) && close_to(m.blur, bl, 1e-9) &&
				 m.sat_threshold == 8;
			if (!ok && fails++ < 5)
				CHECK(ok, "%s %dx%d kind %d: lapvar %.12g vs %.12g, blur %.12g vs %.12g",
				      name, w, h, kind, m.lapvar, lv, m.blur, bl);
			else
				CHECK(ok, "%s %dx%d", name, w, h);
			free(rgb);
		}
}

static void focus_known(pfm_qc_ctx *ctx)
{
	/* 3x3 grey, a 9 in the middle (grey = R = G = B): the Laplacian
	 * with reflected borders is -36 in the centre, 18 at the four edge
	 * middles (9 from each side), 0 in the corners. */
	uint8_t rgb[27] = {0};
	rgb[12] = rgb[13] = rgb[14] = 9;
	pfm_qc_opts o = {8, 220, 25, 0};
	pfm_qc m;
	pfm_err e;
	CHECK(!pfm_qc_measure(ctx, rgb, 3, 3, &o, &m, &e), "3x3: %s", e.msg);
	double mean = (4 * 18 - 36) / 9.0, var = (4 * 18 * 18 + 36 * 36) / 9.0 - mean * mean;
	CHECK(fabs(m.lapvar - var) < 1e-12, "3x3 lapvar %g, want %g", m.lapvar, var);
	/* horizontal: 2 pairs a row x 3 rows, two of them 81; vertical the
	 * same: mean squares 27 + 27 */
	double grad = 2 * (2 * 81 / 6.0);
	CHECK(fabs(m.blur - sqrt(grad / var)) < 1e-12, "3x3 blur %g", m.blur);
	/* A flat tile: no Laplacian, blur 0. */
	memset(rgb, 200, sizeof rgb);
	CHECK(!pfm_qc_measure(ctx, rgb, 3, 3, &o, &m, &e) && m.lapvar == 0 && m.blur == 0,
	      "flat: lapvar %g blur %g", m.lapvar, m.blur);
	CHECK(m.white == 0 && m.black == 0 && m.tissue == 0, "flat 200: white %g", m.white);
}

static void otsu_and_stats(pfm_qc_ctx *ctx)
{
	/* Half neutral grey (S 0), half (200, 100, 150) (S 128). */
	int w = 64, h = 64;
	uint8_t *rgb = malloc((size_t)w * h * 3);
	for (int i = 0; i < w * h; i++) {
		int half = i % w < w / 2;
		rgb[3 * i] = 200;
		rgb[3 * i + 1] = half ? 200 : 100;
		rgb[3 * i + 2] = half ? 200 : 150;
	}
	pfm_qc_opts o = {PFM_QC_OTSU, 220, 25, 1};
	pfm_qc m;
	pfm_err e;
	CHECK(!pfm_qc_measure(ctx, rgb, w, h, &o, &m, &e), "otsu: %s", e.msg);
	CHECK(m.sat_threshold >= 8 && m.sat_threshold < 128, "otsu threshold %d", m.sat_threshold);
	CHECK(m.tissue == 0.5, "otsu tissue %g", m.tissue);
	CHECK(m.stats_n == w * h / 2, "stats over %lld pixels", (long long)m.stats_n);
	double od[3], lab[3];
	pfm_qc_od(200, 100, 150, od);
	pfm_qc_lab(200, 100, 150, lab);
	for (int c = 0; c < 3; c++) {
		CHECK(fabs(m.od_mean[c] - od[c]) < 1e-12 && m.od_std[c] < 1e-6,
		      "od[%d] %g (%g)", c, m.od_mean[c], od[c]);
		CHECK(fabs(m.lab_mean[c] - lab[c]) < 1e-9 && m.lab_std[c] < 1e-6,
		      "lab[%d] %g (%g)", c, m.lab_mean[c], lab[c]);
	}
	CHECK(fabs(od[0] - -log10(201 / 256.0)) < 1e-15, "od definition");
	/* Fixed threshold: the same tissue pixels here. */
	o.sat_threshold = 8;
	CHECK(!pfm_qc_measure(ctx, rgb, w, h, &o, &m, &e) && m.tissue == 0.5 &&
	      m.stats_n == w * h / 2, "fixed: tissue %g", m.tissue);
	free(rgb);
	/* CIE L*a*b* (D65, 2 deg) of sRGB white and primaries as usually
	 * published; skimage's rounded matrix and white point move them by
	 * less than 0.01 (tests/ref/qc_ref.py checks the formula itself). */
	const struct { int rgb[3]; double lab[3]; } known[] = {
		{{255, 255, 255}, {100, 0, 0}},
		{{255, 0, 0}, {53.2408, 80.0925, 67.2032}},
		{{0, 255, 0}, {87.7347, -86.1827, 83.1793}},
		{{0, 0, 255}, {32.2970, 79.1875, -107.8602}},
		{{0, 0, 0}, {0, 0, 0}},
	};
	for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
		pfm_qc_lab(known[i].rgb[0], known[i].rgb[1], known[i].rgb[2], lab);
		for (int c = 0; c < 3; c++)
			CHECK(fabs(lab[c] - known[i].lab[c]) < 1e-2, "lab %zu[%d] %.5f, want %.5f",
			      i, c, lab[c], known[i].lab[c]);
	}
	/* Every colour's L*a*b* against libm's cbrt in the same formulas. */
	double worst = 0;
	for (int r = 0; r < 256; r += 3)
		for (int g = 0; g < 256; g += 5)
			for (int b = 0; b < 256; b += 1) {
				double mine[3], x[3], f[3];
				pfm_qc_lab(r, g, b, mine);
				double c[3] = {r / 255., g / 255., b / 255.};
				for (int i = 0; i < 3; i++)
					c[i] = c[i] > 0.04045 ? pow((c[i] + 0.055) / 1.055, 2.4) : c[i] / 12.92;
				x[0] = (0.412453 * c[0] + 0.357580 * c[1] + 0.180423 * c[2]) / 0.95047;
				x[1] = 0.212671 * c[0] + 0.715160 * c[1] + 0.072169 * c[2];
				x[2] = (0.019334 * c[0] + 0.119193 * c[1] + 0.950227 * c[2]) / 1.08883;
				for (int i = 0; i < 3; i++)
					f[i] = x[i] > 0.008856 ? cbrt(x[i]) : 7.787 * x[i] + 16. / 116.;
				double want[3] = {116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])};
				for (int i = 0; i < 3; i++)
					worst = fmax(worst, fabs(mine[i] - want[i]));
			}
	CHECK(worst < 1e-10, "L*a*b* off libm's by %g", worst);
	printf("L*a*b*: largest difference from libm's cbrt %.3g\n", worst);
	/* No tissue: the statistics are 0 over 0 pixels. */
	rgb = calloc(3 * 16, 1);
	o.sat_threshold = 8;
	CHECK(!pfm_qc_measure(ctx, rgb, 4, 4, &o, &m, &e) && m.stats_n == 0 &&
	      m.od_mean[0] == 0 && m.lab_std[2] == 0, "black tile: stats_n %lld",
	      (long long)m.stats_n);
	CHECK(m.black == 1 && m.background == 1 && m.tissue == 0, "black tile: black %g", m.black);
	free(rgb);
}

static void decisions(void)
{
	pfm_qc_limits l = {0, 0.4, 0.06, 0.5, 1.0, 50};
	pfm_qc m = {.tissue = 0.9, .hsv = 0.9, .pen = 0, .dark = 0, .blur = 0.8, .lapvar = 300};
	CHECK(pfm_qc_decide(&m, &l) == PFM_QC_OK, "tissue kept");
	m.lapvar = 49;
	CHECK(pfm_qc_decide(&m, &l) == PFM_QC_BLUR, "low lapvar: blur");
	m.lapvar = 300;
	m.blur = 1.01;
	CHECK(pfm_qc_decide(&m, &l) == PFM_QC_BLUR, "blur scale: blur");
	m.dark = 0.6;
	CHECK(pfm_qc_decide(&m, &l) == PFM_QC_DARK, "dark before blur");
	m.tissue = 0.3;
	CHECK(pfm_qc_decide(&m, &l) == PFM_QC_BACKGROUND, "background before dark");
	m.pen = 0.07;
	CHECK(pfm_qc_decide(&m, &l) == PFM_QC_PEN, "pen first");
	m = (pfm_qc){.tissue = 0.9, .hsv = 0.5, .blur = 0.5, .lapvar = 100};
	l.hsv_rule = 1;
	l.min_tissue = 0.6;
	CHECK(pfm_qc_decide(&m, &l) == PFM_QC_BACKGROUND, "hsv rule reads hsv");
	m.tissue = 0.4;
	m.pen = 0.06;
	m.hsv = 0.6;
	CHECK(pfm_qc_decide(&m, &l) == PFM_QC_OK, "limits are inclusive");
	const char *names[] = {"ok", "pen", "background", "dark", "blur", "error"};
	for (int r = 0; r < PFM_QC_NREASONS; r++)
		CHECK(!strcmp(pfm_qc_reason_name(r), names[r]), "reason %d", r);
}

int main(void)
{
	cv_tables();
	for (int i = 0; i < 256; i++)
		CHECK(pfm_qc_sdiv[i] == cv_sdiv[i] && pfm_qc_hdiv[i] == cv_hdiv[i],
		      "table entry %d", i);
	pfm_qc_kparams k;
	pfm_qc_kparams_init(&k, 8, 220, 25);
	CHECK(k.nred == 7 && k.ngreen == 11 && k.nblue == 11,
	      "pruned ink rules %d %d %d", k.nred, k.ngreen, k.nblue);
	CHECK(k.s8.nfix == 0 && k.s100.nfix == 0 && k.sat.nfix == 2,
	      "S test exceptions %d %d %d", k.s8.nfix, k.s100.nfix, k.sat.nfix);
	pfm_qc_row_fn row;
	pfm_qc_lap_fn lap;
	printf("kernels: %s\n", pfm_qc_kernels(0, &row, &lap));
	/* Defaults; threshold 0 and white 1 (everything), black 0 (nothing
	 * is black); a threshold with many exceptions (k = 26 has mixed
	 * ties); S > 254. Widths with and without a scalar tail. */
	all_colours(8, 220, 25, 256, 1);
	all_colours(0, 1, 0, 4099, 1);
	all_colours(25, 255, 255, 1000, 0);
	all_colours(254, 128, 103, 96, 0);
	int most = 0, kmost = 0;
	for (int thr = 0; thr < 255; thr++) {
		pfm_qc_kparams_init(&k, thr, 220, 25);
		if (k.sat.nfix > most) {
			most = k.sat.nfix;
			kmost = thr;
		}
	}
	CHECK(most > 2 && most <= 64, "most exceptions %d", most);
	all_colours(kmost, 200, 30, 640, 0);

	pfm_qc_ctx *fast = pfm_qc_new();
	setenv("PFM_QC_SCALAR", "1", 1);
	pfm_qc_ctx *slow = pfm_qc_new();
	unsetenv("PFM_QC_SCALAR");
	measures(fast, "fast");
	measures(slow, "scalar");
	focus_known(fast);
	focus_known(slow);
	otsu_and_stats(fast);

	pfm_qc m;
	pfm_err e = {0};
	pfm_qc_opts o = {8, 220, 25, 0};
	uint8_t px[3] = {0};
	CHECK(pfm_qc_measure(fast, px, 0, 1, &o, &m, &e) && strstr(e.msg, "bad size"),
	      "0 wide: %s", e.msg);
	o.white = 0;
	CHECK(pfm_qc_measure(fast, px, 1, 1, &o, &m, &e) && strstr(e.msg, "out of range"),
	      "white 0: %s", e.msg);
	pfm_qc_free(fast);
	pfm_qc_free(slow);
	decisions();
	return check_done();
}
