/* preprocess.c: PIL's resize, torchvision's centre crop and normalisation
 * (see preprocess.h for the exact definition).
 *
 * The resize reimplements the arithmetic of Pillow's libImaging
 * (Resample.c for bicubic/bilinear, Geometry.c's scale-only affine
 * transform for nearest, _imaging.c's same-size copy). Tested against
 * Debian 12's Pillow 9.4.0, byte for byte; the source read for it was
 * Pillow's current one, whose 8-bit path those tests find the same (it
 * differs in 16-bit modes and names; its clip table maps a sum as clip8
 * below does). Every double expression keeps PIL's operation order, and
 * none may become a fused multiply-add, which would change the last bits
 * of a weight and, rarely, an output byte: GCC does not contract in ISO C
 * mode (-std=c11), clang is told so below.
 *
 * Only the output pixels a crop keeps are computed: each output pixel
 * depends on its own weights alone, so a window of PIL's output is
 * bitwise the same as cropping it afterwards. */
#include "preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define PREC 22 /* PIL's PRECISION_BITS, 32 - 8 - 2 */
#define HALF (1 << (PREC - 1))

/* Weights of one axis for the output positions [from, from + n) of an
 * in -> out resize: output i reads cnt[i] samples from lo[i] with the
 * fixed-point weights k[i * ksize ..]. Kept while the key is the same
 * (every tile of a stream has the same size). */
typedef struct {
	int in, out, from, n, interp, valid;
	int ksize;
	int span0, span1; /* every lo[i] .. lo[i] + cnt[i] lies inside */
	int *lo, *cnt;
	int32_t *k;
	double *w;
	size_t lo_cap, cnt_cap, k_cap, w_cap;
} axis;

struct pfm_prep_ws {
	axis ax, ay;
	uint8_t *tmp; /* horizontal pass output */
	uint8_t *blk, *blko; /* horizontal pass: a block of rows, transposed */
	uint8_t *img; /* resized window (pfm_prep_run) */
	int *tab;     /* nearest: source index per output column */
	size_t tmp_cap, blk_cap, blko_cap, img_cap, tab_cap;
	float lut[3][256];
	float lut_mean[3], lut_std[3];
	int lut_ok;
};

pfm_prep_ws *pfm_prep_ws_new(void)
{
	return calloc(1, sizeof(pfm_prep_ws));
}

static void axis_free(axis *a)
{
	free(a->lo);
	free(a->cnt);
	free(a->k);
	free(a->w);
}

void pfm_prep_ws_free(pfm_prep_ws *ws)
{
	if (!ws)
		return;
	axis_free(&ws->ax);
	axis_free(&ws->ay);
	free(ws->tmp);
	free(ws->blk);
	free(ws->blko);
	free(ws->img);
	free(ws->tab);
	free(ws);
}

/* The filters as PIL writes them (the same operation order matters). */
static double bicubic(double x)
{
	const double a = -0.5;
	if (x < 0.0)
		x = -x;
	if (x < 1.0)
		return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
	if (x < 2.0)
		return (((x - 5) * x + 8) * x - 4) * a;
	return 0.0;
}

static double triangle(double x)
{
	if (x < 0.0)
		x = -x;
	return x < 1.0 ? 1.0 - x : 0.0;
}

static int axis_make(axis *a, int in, int out, int from, int n,
		     pfm_interp ip, pfm_err *e)
{
	if (a->valid && a->in == in && a->out == out && a->from == from &&
	    a->n == n && a->interp == (int)ip)
		return 0;
	a->valid = 0;
	double (*filt)(double) = ip == PFM_INTERP_BICUBIC ? bicubic : triangle;
	double scale = (double)in / out, fscale = scale < 1.0 ? 1.0 : scale;
	double support = (ip == PFM_INTERP_BICUBIC ? 2.0 : 1.0) * fscale;
	double ss = 1.0 / fscale;
	/* sides <= 65536 keep this below 2^18 taps */
	int ksize = (int)ceil(support) * 2 + 1;
	if (pfm_grow(&a->lo, &a->lo_cap, (size_t)n * sizeof(int)) ||
	    pfm_grow(&a->cnt, &a->cnt_cap, (size_t)n * sizeof(int)) ||
	    pfm_grow(&a->k, &a->k_cap, (size_t)n * ksize * sizeof(int32_t)) ||
	    pfm_grow(&a->w, &a->w_cap, (size_t)ksize * sizeof(double)))
		return pfm_errf(e, "out of memory for %d x %d resize weights",
				n, ksize);
	for (int i = 0; i < n; i++) {
		double center = (from + i + 0.5) * scale;
		int xmin = (int)(center - support + 0.5);
		int xmax = (int)(center + support + 0.5);
		if (xmin < 0)
			xmin = 0;
		if (xmax > in)
			xmax = in;
		int cnt = xmax - xmin;
		double ww = 0.0;
		for (int x = 0; x < cnt; x++) {
			a->w[x] = filt((x + xmin - center + 0.5) * ss);
			ww += a->w[x];
		}
		int32_t *k = a->k + (size_t)i * ksize;
		for (int x = 0; x < cnt; x++) {
			double v = ww != 0.0 ? a->w[x] / ww : a->w[x];
			/* to fixed point, rounding half away from zero */
			k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PREC))
				     : (int32_t)(0.5 + v * (1 << PREC));
		}
		for (int x = cnt; x < ksize; x++)
			k[x] = 0;
		a->lo[i] = xmin;
		a->cnt[i] = cnt;
		if (!i || xmin < a->span0)
			a->span0 = xmin;
		if (!i || xmax > a->span1)
			a->span1 = xmax;
	}
	a->in = in, a->out = out, a->from = from, a->n = n;
	a->interp = (int)ip, a->ksize = ksize, a->valid = 1;
	return 0;
}

static inline uint8_t clip8(int32_t v)
{
	return v < 0 ? 0 : v >= (256 << PREC) ? 255 : (uint8_t)(v >> PREC);
}

/* Where the compiler can, the two passes are built twice, for AVX2 and
 * for the baseline, the loader picking one (glibc ifunc): the loops below
 * vectorise either way, and AVX2's 8-lane integer multiply about halves
 * their time. */
#ifndef SIMD_CLONES /* -DSIMD_CLONES= builds the baseline alone */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#endif
#ifndef SIMD_CLONES
#define SIMD_CLONES
#endif

/* Horizontal pass over source rows [y0, y1): out is (y1 - y0) x a->n x 3.
 * Each output pixel is a short dot product along the row, which does not
 * vectorise; so HB rows at a time are transposed into blk (column x holds
 * the HB rows' pixels, 3 * HB bytes), where every tap is one contiguous
 * 3 * HB-lane step, and the results (blko, same layout) are put back into
 * rows. A short last block repeats its last row. */
#define HB 32
SIMD_CLONES
static void pass_h(const uint8_t *src, size_t stride, int y0, int y1,
		   const axis *a, uint8_t *out, uint8_t *restrict blk,
		   uint8_t *restrict blko)
{
	const int L = 3 * HB, n = a->n, x0 = a->span0, nx = a->span1 - x0;
	for (int y = y0; y < y1; y += HB) {
		int nr = y1 - y < HB ? y1 - y : HB;
		for (int r = 0; r < HB; r++) {
			const uint8_t *row =
				src + (size_t)(y + (r < nr ? r : nr - 1)) * stride +
				(size_t)x0 * 3;
			uint8_t *t = blk + 3 * r;
			for (int x = 0; x < nx; x++) {
				t[L * x] = row[3 * x];
				t[L * x + 1] = row[3 * x + 1];
				t[L * x + 2] = row[3 * x + 2];
			}
		}
		for (int i = 0; i < n; i++) {
			const uint8_t *p = blk + (size_t)(a->lo[i] - x0) * L;
			const int32_t *k = a->k + (size_t)i * a->ksize;
			uint8_t *o = blko + (size_t)i * L;
			int32_t s[3 * HB];
			for (int q = 0; q < L; q++)
				s[q] = HALF;
			for (int t = 0, cnt = a->cnt[i]; t < cnt; t++) {
				int32_t kt = k[t];
				for (int q = 0; q < L; q++)
					s[q] += p[(size_t)t * L + q] * kt;
			}
			for (int q = 0; q < L; q++)
				o[q] = clip8(s[q]);
		}
		for (int r = 0; r < nr; r++) {
			uint8_t *row = out + (size_t)(y - y0 + r) * n * 3;
			const uint8_t *o = blko + 3 * r;
			for (int i = 0; i < n; i++) {
				row[3 * i] = o[L * i];
				row[3 * i + 1] = o[L * i + 1];
				row[3 * i + 2] = o[L * i + 2];
			}
		}
	}
}

/* Vertical pass: output row i (m bytes) sums rows lo[i] - row0 .. of mid.
 * Blocks of VB bytes with the sums in a local array: fixed trip counts
 * and no aliasing, so -O2 vectorises them. Integer sums: the order does
 * not change the result. */
#define VB 32
SIMD_CLONES
static void pass_v(const uint8_t *restrict mid, size_t stride, int row0,
		   const axis *a, int m, uint8_t *restrict dst)
{
	for (int i = 0; i < a->n; i++) {
		const int32_t *k = a->k + (size_t)i * a->ksize;
		const uint8_t *r0 = mid + (size_t)(a->lo[i] - row0) * stride;
		int cnt = a->cnt[i], j = 0;
		uint8_t *o = dst + (size_t)i * m;
		for (; j + VB <= m; j += VB) {
			int32_t s[VB];
			for (int q = 0; q < VB; q++)
				s[q] = HALF;
			for (int t = 0; t < cnt; t++) {
				const uint8_t *r = r0 + (size_t)t * stride + j;
				int32_t kt = k[t];
				for (int q = 0; q < VB; q++)
					s[q] += r[q] * kt;
			}
			for (int q = 0; q < VB; q++)
				o[j + q] = clip8(s[q]);
		}
		for (; j < m; j++) {
			int32_t s = HALF;
			for (int t = 0; t < cnt; t++)
				s += r0[(size_t)t * stride + j] * k[t];
			o[j] = clip8(s);
		}
	}
}

/* Nearest, PIL's way: position (i + 0.5) * in / out, summed step by step
 * in double from i = 0 as ImagingScaleAffine does, truncated; outside the
 * image (never in practice) -1, a zero pixel. tab gets [from, from + n). */
static void nearest_tab(int in, int out, int from, int n, int *tab)
{
	double step = (double)in / out, pos = step * 0.5;
	for (int i = 0; i < from + n; i++, pos += step) {
		if (i < from)
			continue;
		int s = pos < 0.0 ? -1 : (int)pos;
		tab[i - from] = s >= 0 && s < in ? s : -1;
	}
}

static int resize_nearest(pfm_prep_ws *ws, const uint8_t *src, int sw,
			  int sh, int dw, int dh, int x0, int y0, int cw,
			  int ch, uint8_t *dst, pfm_err *e)
{
	if (pfm_grow(&ws->tab, &ws->tab_cap,
		     (size_t)(cw + ch) * sizeof(int)))
		return pfm_errf(e, "out of memory");
	int *tx = ws->tab, *ty = ws->tab + cw;
	nearest_tab(sw, dw, x0, cw, tx);
	nearest_tab(sh, dh, y0, ch, ty);
	for (int y = 0; y < ch; y++) {
		uint8_t *o = dst + (size_t)y * cw * 3;
		if (ty[y] < 0) {
			memset(o, 0, (size_t)cw * 3);
			continue;
		}
		const uint8_t *row = src + (size_t)ty[y] * sw * 3;
		for (int x = 0; x < cw; x++) {
			if (tx[x] < 0) {
				memset(o + 3 * x, 0, 3);
				continue;
			}
			memcpy(o + 3 * x, row + (size_t)tx[x] * 3, 3);
		}
	}
	return 0;
}

/* Output pixels [x0, x0 + cw) x [y0, y0 + ch) of PIL's dw x dh resize of
 * src into dst (cw x ch x 3, packed). Arguments already checked. */
static int resize_window(pfm_prep_ws *ws, const uint8_t *src, int sw,
			 int sh, int dw, int dh, int x0, int y0, int cw,
			 int ch, pfm_interp ip, uint8_t *dst, pfm_err *e)
{
	if (ip == PFM_INTERP_NEAREST && (dw != sw || dh != sh))
		return resize_nearest(ws, src, sw, sh, dw, dh, x0, y0, cw, ch,
				      dst, e);
	/* PIL skips a pass whose side is unchanged. */
	int need_h = dw != sw, need_v = dh != sh;
	const uint8_t *mid = src + (size_t)x0 * 3;
	size_t stride = (size_t)sw * 3, m = (size_t)cw * 3;
	int row0 = 0, r0 = y0, r1 = y0 + ch;
	if (need_v) {
		if (axis_make(&ws->ay, sh, dh, y0, ch, ip, e))
			return -1;
		r0 = ws->ay.span0, r1 = ws->ay.span1;
	}
	if (need_h) {
		if (axis_make(&ws->ax, sw, dw, x0, cw, ip, e))
			return -1;
		size_t nx = (size_t)(ws->ax.span1 - ws->ax.span0);
		if (pfm_grow(&ws->tmp, &ws->tmp_cap, (size_t)(r1 - r0) * m) ||
		    pfm_grow(&ws->blk, &ws->blk_cap, nx * 3 * HB) ||
		    pfm_grow(&ws->blko, &ws->blko_cap, m * HB))
			return pfm_errf(e, "out of memory resizing to %dx%d",
					dw, dh);
		pass_h(src, stride, r0, r1, &ws->ax, ws->tmp, ws->blk,
		       ws->blko);
		mid = ws->tmp, stride = m, row0 = r0;
	}
	if (!need_v) {
		for (int y = 0; y < ch; y++)
			memcpy(dst + (size_t)y * m,
			       mid + (size_t)(y0 + y - row0) * stride, m);
		return 0;
	}
	pass_v(mid, stride, row0, &ws->ay, (int)m, dst);
	return 0;
}

static int side_ok(int n, const char *what, pfm_err *e)
{
	if (n <= 0 || n > PFM_PREP_SIDE_MAX)
		return pfm_errf(e, "%s %d: must be 1 to %d", what, n,
				PFM_PREP_SIDE_MAX);
	return 0;
}

static int interp_ok(pfm_interp ip, pfm_err *e)
{
	if (ip != PFM_INTERP_BICUBIC && ip != PFM_INTERP_BILINEAR &&
	    ip != PFM_INTERP_NEAREST)
		return pfm_errf(e, "unknown interpolation %d", (int)ip);
	return 0;
}

int pfm_resize_pil(pfm_prep_ws *ws, const uint8_t *src, int sw, int sh,
		   uint8_t *dst, int dw, int dh, pfm_interp interp, pfm_err *e)
{
	if (!ws || !src || !dst)
		return pfm_errf(e, "resize: NULL %s",
				!ws ? "workspace" : !src ? "source" : "output");
	if (side_ok(sw, "resize: source width", e) ||
	    side_ok(sh, "resize: source height", e) ||
	    side_ok(dw, "resize: output width", e) ||
	    side_ok(dh, "resize: output height", e) || interp_ok(interp, e))
		return -1;
	return resize_window(ws, src, sw, sh, dw, dh, 0, 0, dw, dh, interp,
			     dst, e);
}

int pfm_prep_check(const pfm_prep *p, pfm_err *e)
{
	if (!p)
		return pfm_errf(e, "preprocess: no parameters");
	if (p->resize < 0 || p->resize_w < 0 || p->resize_h < 0)
		return pfm_errf(e, "preprocess: negative resize");
	if (p->resize && (p->resize_w || p->resize_h))
		return pfm_errf(e, "preprocess: resize %d and %dx%d both set",
				p->resize, p->resize_w, p->resize_h);
	if ((p->resize_w > 0) != (p->resize_h > 0))
		return pfm_errf(e, "preprocess: resize %dx%d needs both sides",
				p->resize_w, p->resize_h);
	if ((p->resize && side_ok(p->resize, "preprocess: resize", e)) ||
	    (p->resize_w && side_ok(p->resize_w, "preprocess: resize width", e)) ||
	    (p->resize_h && side_ok(p->resize_h, "preprocess: resize height", e)) ||
	    side_ok(p->crop_w, "preprocess: crop width", e) ||
	    side_ok(p->crop_h, "preprocess: crop height", e) ||
	    interp_ok(p->interp, e))
		return -1;
	for (int c = 0; c < 3; c++)
		if (!isfinite(p->mean[c]) || !isfinite(p->std[c]) ||
		    p->std[c] == 0.0f)
			return pfm_errf(e,
					"preprocess: channel %d mean %g std %g "
					"(finite, std not 0)",
					c, p->mean[c], p->std[c]);
	return 0;
}

/* torchvision's output size for Resize (see preprocess.h). */
static int resized_dims(const pfm_prep *p, int w, int h, int *rw, int *rh,
			pfm_err *e)
{
	*rw = w, *rh = h;
	if (p->resize_w > 0) {
		*rw = p->resize_w, *rh = p->resize_h;
	} else if (p->resize > 0) {
		int shrt = w <= h ? w : h, lng = w <= h ? h : w;
		/* Python: int(R * long / short), the quotient in double */
		double q = (double)((int64_t)p->resize * lng) / shrt;
		if (q > PFM_PREP_SIDE_MAX)
			return pfm_errf(e,
					"preprocess: resize %d of %dx%d makes "
					"a side of %.0f (at most %d)",
					p->resize, w, h, q, PFM_PREP_SIDE_MAX);
		int l = (int)q;
		*rw = w <= h ? p->resize : l;
		*rh = w <= h ? l : p->resize;
	}
	return 0;
}

/* One axis of CenterCrop: the crop of c from n starts at `skip` in the
 * (resized) image and puts its first image pixel at `at` of the output,
 * copying `len` pixels; the rest is padding. */
static void crop_axis(int n, int c, int *skip, int *at, int *len)
{
	if (c > n) { /* torchvision pads (c - n) // 2 before */
		*skip = 0, *at = (c - n) / 2, *len = n;
		return;
	}
	int d = n - c, half = d / 2; /* int(round(d / 2.0)), half to even */
	*skip = d % 2 && half % 2 ? half + 1 : half;
	*at = 0, *len = c;
}

static void lut_update(pfm_prep_ws *ws, const pfm_prep *p)
{
	if (ws->lut_ok && !memcmp(ws->lut_mean, p->mean, sizeof p->mean) &&
	    !memcmp(ws->lut_std, p->std, sizeof p->std))
		return;
	for (int c = 0; c < 3; c++)
		for (int v = 0; v < 256; v++) {
			float x = (float)v / 255.0f; /* ToTensor */
			float d = x - p->mean[c];    /* Normalize: sub_, div_ */
			ws->lut[c][v] = d / p->std[c];
		}
	memcpy(ws->lut_mean, p->mean, sizeof p->mean);
	memcpy(ws->lut_std, p->std, sizeof p->std);
	ws->lut_ok = 1;
}

int pfm_prep_run(const pfm_prep *p, pfm_prep_ws *ws, const uint8_t *rgb,
		 int w, int h, float *out, pfm_err *e)
{
	if (pfm_prep_check(p, e))
		return -1;
	if (!ws || !rgb || !out)
		return pfm_errf(e, "preprocess: NULL %s",
				!ws ? "workspace" : !rgb ? "image" : "output");
	if (side_ok(w, "preprocess: image width", e) ||
	    side_ok(h, "preprocess: image height", e))
		return -1;
	int rw, rh, sx, sy, ax, ay, lw, lh;
	if (resized_dims(p, w, h, &rw, &rh, e))
		return -1;
	int cw = p->crop_w, ch = p->crop_h;
	crop_axis(rw, cw, &sx, &ax, &lw);
	crop_axis(rh, ch, &sy, &ay, &lh);
	/* the kept window of the resized image, at view with row stride vs */
	const uint8_t *view;
	size_t vs;
	if (rw == w && rh == h) {
		view = rgb + ((size_t)sy * w + sx) * 3, vs = (size_t)w * 3;
	} else {
		if (pfm_grow(&ws->img, &ws->img_cap, (size_t)lw * lh * 3))
			return pfm_errf(e, "preprocess: out of memory");
		if (resize_window(ws, rgb, w, h, rw, rh, sx, sy, lw, lh,
				  p->interp, ws->img, e))
			return pfm_err_prefix(e, "preprocess");
		view = ws->img, vs = (size_t)lw * 3;
	}
	lut_update(ws, p);
	size_t plane = (size_t)cw * ch;
	for (int c = 0; c < 3; c++) {
		const float *lut = ws->lut[c];
		float *o = out + c * plane, zero = lut[0];
		for (int y = 0; y < ch; y++, o += cw) {
			int iy = y - ay;
			if (iy < 0 || iy >= lh) {
				for (int x = 0; x < cw; x++)
					o[x] = zero;
				continue;
			}
			const uint8_t *r = view + (size_t)iy * vs + c;
			for (int x = 0; x < ax; x++)
				o[x] = zero;
			for (int x = 0; x < lw; x++)
				o[ax + x] = lut[r[3 * x]];
			for (int x = ax + lw; x < cw; x++)
				o[x] = zero;
		}
	}
	return 0;
}
