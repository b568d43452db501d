/* distill_aug.c: multi-crop augmentation and iBOT masks (distill_aug.h). */
#include "distill_aug.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "preprocess.h"

void pfm_aug_defaults(pfm_aug_opts *o)
{
	memset(o, 0, sizeof *o);
	o->augment = 1;
	/* crops.global_crops_size / local_crops_size / local_crops_number,
	 * global_crops_scale 0.32-1, local_crops_scale 0.05-0.32 */
	o->global_size = 224, o->local_size = 96, o->n_local = 8;
	o->gscale[0] = 0.32, o->gscale[1] = 1.0;
	o->lscale[0] = 0.05, o->lscale[1] = 0.32;
	o->flip = 0.5, o->jitter_p = 0.8;
	o->brightness = 0.4, o->contrast = 0.4, o->saturation = 0.2, o->hue = 0.1;
	o->gray_p = 0.2;
	o->blur_p[0] = 0.0, o->blur_p[1] = 0.9, o->blur_p[2] = 0.5;
	o->blur_sigma[0] = 0.1, o->blur_sigma[1] = 2.0;
	o->solarize_p = 0.2;
	o->hed_sigma = 0;
	static const float mean[3] = {0.485f, 0.456f, 0.406f};
	static const float stdv[3] = {0.229f, 0.224f, 0.225f};
	memcpy(o->mean, mean, sizeof mean);
	memcpy(o->std, stdv, sizeof stdv);
}

struct pfm_aug_ws {
	pfm_prep_ws *prep;
	uint8_t *crop, *img, *tmp;
	size_t ccap, icap, tcap;
	float *blur;
	size_t bcap;
};

pfm_aug_ws *pfm_aug_ws_new(void)
{
	pfm_aug_ws *w = calloc(1, sizeof *w);
	if (w && !(w->prep = pfm_prep_ws_new())) {
		free(w);
		return NULL;
	}
	return w;
}

void pfm_aug_ws_free(pfm_aug_ws *w)
{
	if (!w)
		return;
	pfm_prep_ws_free(w->prep);
	free(w->crop), free(w->img), free(w->tmp), free(w->blur);
	free(w);
}

static double unif(pfm_rng *r, double a, double b)
{
	return a + (b - a) * pfm_rng_uniform(r);
}

/* random.randint(a, b), both ends included */
static int randint(pfm_rng *r, int a, int b)
{
	return a + (int)pfm_rng_below(r, (uint64_t)(b - a) + 1);
}

/* torchvision RandomResizedCrop.get_params */
static void rrc_params(int W, int H, const double scale[2], pfm_rng *r,
		       int *i, int *j, int *h, int *w)
{
	double area = (double)W * H;
	double lr0 = log(3.0 / 4), lr1 = log(4.0 / 3);
	for (int a = 0; a < 10; a++) {
		double ta = area * unif(r, scale[0], scale[1]);
		double ar = exp(unif(r, lr0, lr1));
		int cw = (int)nearbyint(sqrt(ta * ar));
		int ch = (int)nearbyint(sqrt(ta / ar));
		if (cw > 0 && cw <= W && ch > 0 && ch <= H) {
			*i = randint(r, 0, H - ch);
			*j = randint(r, 0, W - cw);
			*h = ch, *w = cw;
			return;
		}
	}
	double in = (double)W / H;
	int cw = W, ch = H;
	if (in < 3.0 / 4)
		ch = (int)nearbyint(cw / (3.0 / 4));
	else if (in > 4.0 / 3)
		cw = (int)nearbyint(ch * (4.0 / 3));
	*i = (H - ch) / 2, *j = (W - cw) / 2, *h = ch, *w = cw;
}

/* PIL's Image.blend(a, b, alpha) of 8-bit values: a + alpha (b - a),
 * truncated, clipped when extrapolating. */
static uint8_t blend(int a, int b, float alpha)
{
	float t = (float)a + alpha * (float)(b - a);
	if (alpha >= 0 && alpha <= 1)
		return (uint8_t)(int)t;
	return t <= 0 ? 0 : t >= 255 ? 255 : (uint8_t)(int)t;
}

/* PIL's convert("L"): ITU-R 601-2 luma in fixed point. */
static int luma(const uint8_t *p)
{
	return (p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16;
}

static void brightness(uint8_t *px, size_t n, float f)
{
	for (size_t i = 0; i < 3 * n; i++)
		px[i] = blend(0, px[i], f);
}

static void contrast(uint8_t *px, size_t n, float f)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += luma(px + 3 * i);
	int mean = (int)(s / (double)n + 0.5);
	for (size_t i = 0; i < 3 * n; i++)
		px[i] = blend(mean, px[i], f);
}

static void saturation(uint8_t *px, size_t n, float f)
{
	for (size_t i = 0; i < n; i++) {
		int l = luma(px + 3 * i);
		for (int c = 0; c < 3; c++)
			px[3 * i + c] = blend(l, px[3 * i + c], f);
	}
}

static uint8_t clip8(int v)
{
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* torchvision adjust_hue on PIL: PIL's RGB -> HSV, H += uint8(f * 255)
 * with wrap-around, HSV -> RGB; float variables and double constants
 * where PIL's Convert.c has them, C's round (halves away from 0). */
static void hue(uint8_t *px, size_t n, float f)
{
	uint8_t shift = (uint8_t)(int)(f * 255);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = px + 3 * i;
		int r = p[0], g = p[1], b = p[2];
		int mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
		int mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
		uint8_t uh = 0, us = 0, uv = (uint8_t)mx;
		if (mx != mn) {
			float cr = (float)(mx - mn), s = cr / (float)mx;
			float rc = (float)(mx - r) / cr, gc = (float)(mx - g) / cr;
			float bc = (float)(mx - b) / cr, h;
			if (r == mx)
				h = bc - gc;
			else if (g == mx)
				h = (float)(2.0 + rc - bc);
			else
				h = (float)(4.0 + gc - rc);
			h = (float)fmod(h / 6.0 + 1.0, 1.0);
			uh = clip8((int)(h * 255.0));
			us = clip8((int)(s * 255.0));
		}
		uh = (uint8_t)(uh + shift);
		if (!us) {
			p[0] = p[1] = p[2] = uv;
			continue;
		}
		int k = (int)floor((float)uh * 6.0 / 255.0);
		float fr = (float)((float)uh * 6.0 / 255.0 - (float)k);
		float fs = (float)((float)us / 255.0);
		uint8_t pp = clip8((int)round((float)uv * (1.0 - fs)));
		uint8_t q = clip8((int)round((float)uv * (1.0 - fs * fr)));
		uint8_t t = clip8((int)round((float)uv * (1.0 - fs * (1.0 - fr))));
		switch (k % 6) {
		case 0: p[0] = uv, p[1] = t, p[2] = pp; break;
		case 1: p[0] = q, p[1] = uv, p[2] = pp; break;
		case 2: p[0] = pp, p[1] = uv, p[2] = t; break;
		case 3: p[0] = pp, p[1] = q, p[2] = uv; break;
		case 4: p[0] = t, p[1] = pp, p[2] = uv; break;
		default: p[0] = uv, p[1] = pp, p[2] = q; break;
		}
	}
}

static void grayscale(uint8_t *px, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t l = (uint8_t)luma(px + 3 * i);
		px[3 * i] = px[3 * i + 1] = px[3 * i + 2] = l;
	}
}

static int reflect(int i, int n)
{
	while (i < 0 || i >= n)
		i = i < 0 ? -i : 2 * (n - 1) - i;
	return i;
}

/* torchvision GaussianBlur(9, sigma) on a PIL image: float, reflect
 * padding, kernel exp(-x^2 / 2 sigma^2) over x = -4..4 normalised,
 * rounded back to 8 bits. */
static int blur(pfm_aug_ws *w, uint8_t *px, int W, int H, double sigma)
{
	float k[9];
	double s = 0;
	for (int i = 0; i < 9; i++) {
		double x = (i - 4) / sigma;
		k[i] = (float)exp(-0.5 * x * x);
		s += k[i];
	}
	for (int i = 0; i < 9; i++)
		k[i] = (float)(k[i] / s);
	size_t n = (size_t)W * H * 3;
	if (pfm_grow(&w->blur, &w->bcap, n * sizeof(float)))
		return -1;
	float *t = w->blur;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			for (int c = 0; c < 3; c++) {
				float a = 0;
				for (int i = 0; i < 9; i++)
					a += k[i] * px[((size_t)y * W +
							reflect(x + i - 4, W)) * 3 + c];
				t[((size_t)y * W + x) * 3 + c] = a;
			}
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			for (int c = 0; c < 3; c++) {
				float a = 0;
				for (int i = 0; i < 9; i++)
					a += k[i] * t[((size_t)reflect(y + i - 4, H) *
							       W + x) * 3 + c];
				float v = nearbyintf(a);
				px[((size_t)y * W + x) * 3 + c] =
					(uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
			}
	return 0;
}

/* HED stain jitter (Tellez et al. 2018, "HED-light"): optical density
 * to haematoxylin-eosin-DAB with skimage's Ruifrok-Johnston matrix, each
 * stain s -> s * U(1 - sig, 1 + sig) + U(-sig, sig), back to RGB. */
static void hed_apply(uint8_t *px, size_t n, const double al[3],
		      const double be[3]);

static void hed_jitter(uint8_t *px, size_t n, double sig, pfm_rng *r)
{
	double al[3], be[3];
	for (int c = 0; c < 3; c++)
		al[c] = unif(r, 1 - sig, 1 + sig);
	for (int c = 0; c < 3; c++)
		be[c] = unif(r, -sig, sig);
	hed_apply(px, n, al, be);
}

static void hed_apply(uint8_t *px, size_t n, const double al[3],
		      const double be[3])
{
	static const double rgb_from_hed[3][3] = {
		{0.65, 0.70, 0.29}, {0.07, 0.99, 0.11}, {0.27, 0.57, 0.78}};
	double m[3][3], inv[3][3]; /* skimage's rgb_from_hed, its inverse */
	memcpy(m, rgb_from_hed, sizeof m);
	double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
		     m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
		     m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			int a = (j + 1) % 3, b = (j + 2) % 3;
			int c = (i + 1) % 3, d = (i + 2) % 3;
			inv[i][j] = (m[a][c] * m[b][d] - m[a][d] * m[b][c]) / det;
		}
	const double ladj = log(1e-6);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = px + 3 * i;
		double od[3], s[3];
		for (int c = 0; c < 3; c++) {
			double v = p[c] / 255.0;
			od[c] = log(v > 1e-6 ? v : 1e-6) / ladj;
		}
		for (int j = 0; j < 3; j++) {
			s[j] = od[0] * inv[0][j] + od[1] * inv[1][j] +
			       od[2] * inv[2][j];
			s[j] = (s[j] > 0 ? s[j] : 0) * al[j] + be[j];
		}
		for (int c = 0; c < 3; c++) {
			double lr = -(s[0] * m[0][c] + s[1] * m[1][c] +
				      s[2] * m[2][c]) * -ladj;
			double v = exp(lr);
			v = v < 0 ? 0 : v > 1 ? 1 : v;
			p[c] = (uint8_t)lrint(v * 255);
		}
	}
}

int pfm_aug_op(uint8_t *rgb, int W, int H, int op, double f)
{
	size_t n = (size_t)W * H;
	double al[3] = {1 + f, 1 + f, 1 + f}, be[3] = {f / 2, f / 2, f / 2};
	switch (op) {
	case 0: brightness(rgb, n, (float)f); return 0;
	case 1: contrast(rgb, n, (float)f); return 0;
	case 2: saturation(rgb, n, (float)f); return 0;
	case 3: hue(rgb, n, (float)f); return 0;
	case 4: grayscale(rgb, n); return 0;
	case 5: {
		pfm_aug_ws *w = pfm_aug_ws_new();
		int rc = w ? blur(w, rgb, W, H, f) : -1;
		pfm_aug_ws_free(w);
		return rc;
	}
	case 6:
		for (size_t k = 0; k < 3 * n; k++)
			rgb[k] = rgb[k] >= 128 ? (uint8_t)(255 - rgb[k]) : rgb[k];
		return 0;
	case 7: hed_apply(rgb, n, al, be); return 0;
	}
	return -1;
}

/* kind: 0 global crop 1, 1 global crop 2, 2 local */
static int one_crop(const pfm_aug_opts *o, pfm_aug_ws *w, const uint8_t *rgb,
		    int W, int H, pfm_rng *r, int kind, float *out,
		    pfm_crop_box *box, pfm_err *e)
{
	int S = kind < 2 ? o->global_size : o->local_size;
	int i = 0, j = 0, ch = H, cw = W, flip = 0;
	if (o->augment) {
		rrc_params(W, H, kind < 2 ? o->gscale : o->lscale, r, &i, &j, &ch,
			   &cw);
		flip = pfm_rng_uniform(r) < o->flip;
	}
	size_t cn = (size_t)cw * ch * 3, sn = (size_t)S * S * 3;
	if (pfm_grow(&w->crop, &w->ccap, cn) || pfm_grow(&w->img, &w->icap, sn))
		return pfm_errf(e, "out of memory");
	for (int y = 0; y < ch; y++)
		memcpy(w->crop + (size_t)y * cw * 3,
		       rgb + ((size_t)(i + y) * W + j) * 3, (size_t)cw * 3);
	if (pfm_resize_pil(w->prep, w->crop, cw, ch, w->img, S, S,
			   PFM_INTERP_BICUBIC, e))
		return -1;
	uint8_t *px = w->img;
	size_t n = (size_t)S * S;
	if (flip)
		for (int y = 0; y < S; y++)
			for (int x = 0; x < S / 2; x++)
				for (int c = 0; c < 3; c++) {
					uint8_t *a = px + ((size_t)y * S + x) * 3 + c;
					uint8_t *b = px + ((size_t)y * S + S - 1 - x) * 3 + c;
					uint8_t t = *a;
					*a = *b, *b = t;
				}
	if (box)
		*box = (pfm_crop_box){i, j, ch, cw, flip};
	if (!o->augment)
		goto normalise;
	if (o->hed_sigma > 0)
		hed_jitter(px, n, o->hed_sigma, r);
	if (pfm_rng_uniform(r) < o->jitter_p) {
		int idx[4] = {0, 1, 2, 3};
		pfm_rng_shuffle(r, idx, 4);
		float f[4] = {(float)unif(r, 1 - o->brightness, 1 + o->brightness),
			      (float)unif(r, 1 - o->contrast, 1 + o->contrast),
			      (float)unif(r, 1 - o->saturation, 1 + o->saturation),
			      (float)unif(r, -o->hue, o->hue)};
		for (int k = 0; k < 4; k++)
			switch (idx[k]) {
			case 0: brightness(px, n, f[0]); break;
			case 1: contrast(px, n, f[1]); break;
			case 2: saturation(px, n, f[2]); break;
			default: hue(px, n, f[3]); break;
			}
	}
	if (pfm_rng_uniform(r) < o->gray_p)
		grayscale(px, n);
	if (pfm_rng_uniform(r) < o->blur_p[kind] &&
	    blur(w, px, S, S, unif(r, o->blur_sigma[0], o->blur_sigma[1])))
		return pfm_errf(e, "out of memory");
	if (kind == 1 && pfm_rng_uniform(r) < o->solarize_p)
		for (size_t k = 0; k < 3 * n; k++)
			px[k] = px[k] >= 128 ? (uint8_t)(255 - px[k]) : px[k];
normalise:
	/* ToTensor, Normalize: float32 steps, channels first */
	for (int c = 0; c < 3; c++)
		for (size_t k = 0; k < n; k++) {
			float x = px[3 * k + c] / 255.f;
			out[(size_t)c * n + k] = (x - o->mean[c]) / o->std[c];
		}
	return 0;
}

int pfm_aug_tile(const pfm_aug_opts *o, pfm_aug_ws *ws, const uint8_t *rgb,
		 int w, int h, pfm_rng *r, float *const global[2],
		 float *const *local, pfm_crop_box box[2], pfm_err *e)
{
	if (w < 1 || h < 1)
		return pfm_errf(e, "empty tile");
	for (int c = 0; c < 2; c++)
		if (one_crop(o, ws, rgb, w, h, r, c, global[c], &box[c], e))
			return -1;
	for (int j = 0; j < o->n_local; j++)
		if (one_crop(o, ws, rgb, w, h, r, 2, local[j], NULL, e))
			return -1;
	return 0;
}

/* ---- iBOT block masks ---- */

typedef struct {
	int gh, gw, min_patches;
	double max_patches, la0, la1;
} masker;

/* MaskingGenerator._mask: one block of up to maxp new patches */
static int mask_block(const masker *m, uint8_t *mask, double maxp,
		      pfm_rng *r)
{
	int delta = 0;
	for (int a = 0; a < 10; a++) {
		double ta = unif(r, m->min_patches, maxp);
		double ar = exp(unif(r, m->la0, m->la1));
		int h = (int)nearbyint(sqrt(ta * ar));
		int w = (int)nearbyint(sqrt(ta / ar));
		if (w < m->gw && h < m->gh) {
			int top = randint(r, 0, m->gh - h);
			int left = randint(r, 0, m->gw - w);
			int had = 0;
			for (int y = top; y < top + h; y++)
				for (int x = left; x < left + w; x++)
					had += mask[y * m->gw + x];
			if (0 < h * w - had && h * w - had <= maxp)
				for (int y = top; y < top + h; y++)
					for (int x = left; x < left + w; x++)
						if (!mask[y * m->gw + x]) {
							mask[y * m->gw + x] = 1;
							delta++;
						}
			if (delta > 0)
				break;
		}
	}
	return delta;
}

static void mask_one(const masker *m, uint8_t *mask, int num, pfm_rng *r)
{
	memset(mask, 0, (size_t)m->gh * m->gw);
	int count = 0;
	while (count < num) {
		double maxp = num - count;
		maxp = maxp < m->max_patches ? maxp : m->max_patches;
		int d = mask_block(m, mask, maxp, r);
		if (!d)
			break;
		count += d;
	}
}

void pfm_aug_masks(uint8_t *mask, int n, int gh, int gw, double prob,
		   double min_ratio, double max_ratio, pfm_rng *r)
{
	/* train.py: MaskingGenerator(max_num_patches=0.5 * N), min 4
	 * patches, aspect 0.3..1/0.3 */
	masker m = {gh, gw, 4, 0.5 * gh * gw, log(0.3), log(1 / 0.3)};
	int N = gh * gw, nm = (int)(n * prob);
	int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
	uint8_t *tmp = malloc((size_t)(n > 0 ? n : 1) * N);
	if (!order || !tmp) { /* no masks rather than a crash */
		memset(mask, 0, (size_t)n * N);
		free(order), free(tmp);
		return;
	}
	for (int i = 0; i < n; i++) {
		int num = 0;
		if (i < nm) {
			/* torch.linspace(min, max, nm + 1) */
			double lo = min_ratio + (max_ratio - min_ratio) * i / nm;
			double hi = min_ratio + (max_ratio - min_ratio) * (i + 1) / nm;
			num = (int)(N * unif(r, lo, hi));
		}
		mask_one(&m, tmp + (size_t)i * N, num, r);
		order[i] = i;
	}
	pfm_rng_shuffle(r, order, n); /* random.shuffle(masks_list) */
	for (int i = 0; i < n; i++)
		memcpy(mask + (size_t)i * N, tmp + (size_t)order[i] * N, N);
	free(order), free(tmp);
}
