/* test_preprocess: common/preprocess.c and the JPEG decode of
 * common/tile_pixels.c against Pillow 9.4.0 and torchvision 0.14
 * (tests/ref/preprocess_ref.py, Debian's /usr/bin/python3).
 *
 * Tolerances: none. pfm_resize_pil must equal Image.resize byte for byte,
 * pfm_jpeg_rgb must equal Image.open().convert("RGB") byte for byte (both
 * are libjpeg-turbo: accurate integer DCT, fancy upsampling), and
 * pfm_prep_run must equal the torchvision transform bit for bit (0 ulp),
 * also from JPEG bytes. Sources: uniform noise (clips often), smooth
 * random images, crops of a real H&E image (tests/data/he-1024-a.png). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "preprocess.h"
#include "slide.h"
#include "tile_pixels.h"

#define HE "tests/data/he-1024-a.png"
#define CMU "tests/data/CMU-1-Small-Region.svs"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return rng;
}
static int irand(int lo, int hi) { return lo + (int)(rnd() % (uint64_t)(hi - lo + 1)); }
static double urand(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

static const char *interp_name[] = {"bicubic", "bilinear", "nearest"};

/* Source images, each written raw for the reference. */
typedef struct {
	uint8_t *px;
	int w, h;
	char path[128];
} image;
static image *imgs;
static int nimgs;
static char dir[] = "/tmp/pfm-prep-XXXXXX";
static uint8_t *he; /* 1024 x 1024 */

static int add_image(uint8_t *px, int w, int h)
{
	imgs = realloc(imgs, (nimgs + 1) * sizeof *imgs);
	image *m = &imgs[nimgs];
	m->px = px, m->w = w, m->h = h;
	snprintf(m->path, sizeof m->path, "%s/img%d.raw", dir, nimgs);
	FILE *f = fopen(m->path, "wb");
	CHECK(f && fwrite(px, 1, (size_t)w * h * 3, f) == (size_t)w * h * 3,
	      "write %s", m->path);
	if (f)
		fclose(f);
	return nimgs++;
}

static int noise_image(int w, int h)
{
	uint8_t *p = malloc((size_t)w * h * 3);
	for (size_t i = 0; i < (size_t)w * h * 3; i++)
		p[i] = (uint8_t)(rnd() >> 56);
	return add_image(p, w, h);
}

/* Smooth: a few random waves plus a little noise, values mostly inside
 * 0..255 (so resizing rounds rather than clips). */
static int smooth_image(int w, int h)
{
	uint8_t *p = malloc((size_t)w * h * 3);
	double f[3][4];
	for (int c = 0; c < 3; c++)
		for (int j = 0; j < 4; j++)
			f[c][j] = urand() * 0.3;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			for (int c = 0; c < 3; c++) {
				double v = 128 + 50 * sin(f[c][0] * x + f[c][1] * y) +
					   40 * cos(f[c][2] * x - f[c][3] * y) +
					   20 * (urand() - 0.5);
				p[((size_t)y * w + x) * 3 + c] =
					(uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
			}
	return add_image(p, w, h);
}

static int he_crop(int x0, int y0, int w, int h)
{
	uint8_t *p = malloc((size_t)w * h * 3);
	for (int y = 0; y < h; y++)
		memcpy(p + (size_t)y * w * 3, he + ((size_t)(y0 + y) * 1024 + x0) * 3,
		       (size_t)w * 3);
	return add_image(p, w, h);
}

/* Queries, answered in order by the reference. */
enum { Q_VERSION, Q_RESIZE, Q_PREP, Q_JPEG, Q_DECODE };
typedef struct {
	int kind, img, dw, dh, jpeg_of; /* jpeg_of: prep on that case's JPEG */
	pfm_interp ip;
	pfm_prep p;
	int x, y, w, h, quality, sub, grey; /* Q_JPEG, Q_DECODE */
	char what[112], jpath[160];
} tcase;
static tcase *cases;
static int ncases;
static FILE *qf;

static tcase *add_case(int kind, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static tcase *add_case(int kind, const char *fmt, ...)
{
	cases = realloc(cases, (ncases + 1) * sizeof *cases);
	tcase *c = &cases[ncases++];
	memset(c, 0, sizeof *c);
	c->kind = kind, c->img = -1, c->jpeg_of = -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->what, sizeof c->what, fmt, ap);
	va_end(ap);
	return c;
}

static void src_spec(const tcase *c, char *b, size_t n)
{
	if (c->jpeg_of >= 0)
		snprintf(b, n, "jpeg:%s", cases[c->jpeg_of].jpath);
	else
		snprintf(b, n, "raw:%s:%d:%d", imgs[c->img].path, imgs[c->img].w,
			 imgs[c->img].h);
}

static void resize_case(int img, int dw, int dh, pfm_interp ip, const char *tag)
{
	tcase *c = add_case(Q_RESIZE, "resize %s %dx%d -> %dx%d %s", tag,
			    imgs[img].w, imgs[img].h, dw, dh, interp_name[ip]);
	c->img = img, c->dw = dw, c->dh = dh, c->ip = ip;
	char s[256];
	src_spec(c, s, sizeof s);
	fprintf(qf, "resize %s %d %d %s\n", s, dw, dh, interp_name[ip]);
}

static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};
/* OpenAI CLIP's (CONCH) */
static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

static pfm_prep prep_of(int r, int rw, int rh, int cw, int ch, pfm_interp ip,
			const float *mean, const float *std)
{
	pfm_prep p = {.resize = r, .resize_w = rw, .resize_h = rh,
		      .crop_w = cw, .crop_h = ch, .interp = ip};
	memcpy(p.mean, mean, sizeof p.mean);
	memcpy(p.std, std, sizeof p.std);
	return p;
}

static void prep_query(tcase *c)
{
	char s[256];
	src_spec(c, s, sizeof s);
	const pfm_prep *p = &c->p;
	fprintf(qf, "prep %s %d %d %d %d %d %s %.9g %.9g %.9g %.9g %.9g %.9g\n",
		s, p->resize, p->resize_w, p->resize_h, p->crop_w, p->crop_h,
		interp_name[p->interp], p->mean[0], p->mean[1], p->mean[2],
		p->std[0], p->std[1], p->std[2]);
}

static void prep_case(int img, pfm_prep p, const char *tag)
{
	tcase *c = add_case(Q_PREP, "prep %s %dx%d R=%d (%dx%d) C=%dx%d %s", tag,
			    imgs[img].w, imgs[img].h, p.resize, p.resize_w,
			    p.resize_h, p.crop_w, p.crop_h, interp_name[p.interp]);
	c->img = img, c->p = p;
	prep_query(c);
}

/* JPEG of a crop of the H&E image, then the whole path from its bytes. */
static int jpeg_case(int img, int x, int y, int w, int h, int q, int sub,
		     int grey)
{
	static const char *subs[] = {"4:4:4", "4:2:2", "4:2:0"};
	tcase *c = add_case(Q_JPEG, "jpeg %dx%d q%d %s%s", w, h, q, subs[sub],
			    grey ? " grey" : "");
	c->img = img, c->x = x, c->y = y, c->w = w, c->h = h;
	c->quality = q, c->sub = sub, c->grey = grey;
	snprintf(c->jpath, sizeof c->jpath, "%s/case%d.jpg", dir, ncases - 1);
	char s[256];
	src_spec(c, s, sizeof s);
	fprintf(qf, "jpeg %s %d %d %d %d %d %d %d %s\n", s, x, y, w, h, q, sub,
		grey, c->jpath);
	return ncases - 1;
}

static void jpeg_prep_case(int jc, pfm_prep p)
{
	char from[sizeof cases->what]; /* add_case moves cases */
	memcpy(from, cases[jc].what, sizeof from);
	tcase *c = add_case(Q_PREP, "prep from %s: R=%d C=%dx%d %s",
			    from, p.resize, p.crop_w, p.crop_h,
			    interp_name[p.interp]);
	c->jpeg_of = jc, c->p = p;
	prep_query(c);
}

/* A JPEG tile as stored in an Aperio slide (what wsi-tile --passthrough
 * sends), decoded by PIL. */
static int stored_jpeg_case(pfm_slide *sl, pfm_slide_ctx *sc, int64_t x,
			    int64_t y)
{
	pfm_err e = {0};
	const uint8_t *j;
	size_t n;
	int got = pfm_slide_stored_jpeg(sl, sc, 0, x, y, 240, 240, &j, &n, &e);
	CHECK(got == 1, "%s: no stored tile at (%lld, %lld): %s", CMU,
	      (long long)x, (long long)y, e.msg);
	if (got != 1)
		return -1;
	tcase *c = add_case(Q_DECODE, "stored JPEG tile (%lld, %lld) of %s",
			    (long long)x, (long long)y, CMU);
	c->w = c->h = 240;
	snprintf(c->jpath, sizeof c->jpath, "%s/case%d.jpg", dir, ncases - 1);
	FILE *f = fopen(c->jpath, "wb");
	CHECK(f && fwrite(j, 1, n, f) == n, "write %s", c->jpath);
	if (f)
		fclose(f);
	fprintf(qf, "decode %s\n", c->jpath);
	return ncases - 1;
}

static uint8_t *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc(sz > 0 ? (size_t)sz : 1);
	*n = fread(b, 1, sz > 0 ? (size_t)sz : 0, f);
	fclose(f);
	return b;
}

/* What the comparisons found, for the summary. */
static int n_resize, n_prep, n_jpeg, bad_resize, bad_prep, bad_jpeg;
static int max_resize, max_jpeg;
static double max_prep;
static int64_t max_ulp;

static int64_t ulps(float a, float b)
{
	int32_t ia, ib;
	memcpy(&ia, &a, 4);
	memcpy(&ib, &b, 4);
	int64_t x = ia < 0 ? (int64_t)INT32_MIN - ia : ia;
	int64_t y = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
	return x > y ? x - y : y - x;
}

static pfm_prep_ws *ws;
static pfm_pixdec *dec;

static void check_case(tcase *c, const uint8_t *ref, size_t n)
{
	pfm_err e = {0};
	if (c->kind == Q_VERSION) {
		printf("reference: Pillow torch torchvision = %.*s\n", (int)n, ref);
		CHECK(n >= 5 && !memcmp(ref, "9.4.0", 5),
		      "expected Pillow 9.4.0 (Debian 12), got %.*s: the "
		      "resize may still match, see preprocess.c", (int)n, ref);
		return;
	}
	if (c->kind == Q_RESIZE) {
		const image *m = &imgs[c->img];
		size_t need = (size_t)c->dw * c->dh * 3;
		uint8_t *out = malloc(need);
		int rc = pfm_resize_pil(ws, m->px, m->w, m->h, out, c->dw, c->dh,
					c->ip, &e);
		CHECK(rc == 0, "%s: %s", c->what, e.msg);
		CHECK(n == need, "%s: reference gave %zu bytes, want %zu", c->what,
		      n, need);
		if (!rc && n == need) {
			int md = 0;
			size_t nd = 0, first = 0;
			for (size_t i = 0; i < n; i++) {
				int d = abs(out[i] - ref[i]);
				if (d && !nd++)
					first = i;
				md = d > md ? d : md;
			}
			n_resize++;
			bad_resize += nd != 0;
			max_resize = md > max_resize ? md : max_resize;
			CHECK(nd == 0,
			      "%s: %zu bytes differ (max %d), first at pixel "
			      "(%zu, %zu) ch %zu: C %d PIL %d",
			      c->what, nd, md, first / 3 % c->dw, first / 3 / c->dw,
			      first % 3, out[first], ref[first]);
		}
		free(out);
		return;
	}
	if (c->kind == Q_JPEG || c->kind == Q_DECODE) {
		size_t jn;
		uint8_t *jb = read_file(c->jpath, &jn);
		CHECK(jb != NULL, "%s: no %s", c->what, c->jpath);
		const uint8_t *rgb;
		int w, h;
		int rc = jb ? pfm_jpeg_rgb(dec, jb, jn, &rgb, &w, &h, &e) : -1;
		CHECK(rc == 0, "%s: %s", c->what, e.msg);
		if (!rc) {
			CHECK(w == c->w && h == c->h && n == (size_t)w * h * 3,
			      "%s: decoded %dx%d, reference %zu bytes", c->what, w,
			      h, n);
			if (n == (size_t)w * h * 3) {
				int md = 0;
				size_t nd = 0;
				for (size_t i = 0; i < n; i++) {
					int d = abs(rgb[i] - ref[i]);
					nd += d != 0;
					md = d > md ? d : md;
				}
				n_jpeg++;
				bad_jpeg += nd != 0;
				max_jpeg = md > max_jpeg ? md : max_jpeg;
				CHECK(nd == 0, "%s: %zu bytes differ from PIL (max %d)",
				      c->what, nd, md);
			}
		}
		free(jb);
		return;
	}
	/* Q_PREP */
	const uint8_t *px;
	int w, h;
	uint8_t *jb = NULL;
	if (c->jpeg_of >= 0) {
		size_t jn;
		jb = read_file(cases[c->jpeg_of].jpath, &jn);
		if (!jb || pfm_jpeg_rgb(dec, jb, jn, &px, &w, &h, &e)) {
			CHECK(0, "%s: decoding: %s", c->what, e.msg);
			free(jb);
			return;
		}
	} else {
		px = imgs[c->img].px, w = imgs[c->img].w, h = imgs[c->img].h;
	}
	size_t nf = (size_t)3 * c->p.crop_w * c->p.crop_h;
	float *out = malloc(nf * sizeof(float));
	int rc = pfm_prep_run(&c->p, ws, px, w, h, out, &e);
	CHECK(rc == 0, "%s: %s", c->what, e.msg);
	CHECK(n == nf * 4, "%s: reference gave %zu bytes, want %zu", c->what, n,
	      nf * 4);
	if (!rc && n == nf * 4) {
		double md = 0;
		int64_t mu = 0;
		size_t nd = 0, first = 0;
		for (size_t i = 0; i < nf; i++) {
			float r;
			memcpy(&r, ref + 4 * i, 4);
			double d = fabs((double)out[i] - r);
			int64_t u = ulps(out[i], r);
			if (u && !nd++)
				first = i;
			md = d > md ? d : md;
			mu = u > mu ? u : mu;
		}
		n_prep++;
		bad_prep += nd != 0;
		max_prep = md > max_prep ? md : max_prep;
		max_ulp = mu > max_ulp ? mu : max_ulp;
		float r0;
		memcpy(&r0, ref + 4 * first, 4);
		CHECK(nd == 0, "%s: %zu floats differ (max %g, %lld ulp), first [%zu] C %.9g ref %.9g",
		      c->what, nd, md, (long long)mu, first, out[first], r0);
	}
	free(out);
	free(jb);
}

/* Size pairs that stress PIL's arithmetic: non-integer and integer
 * factors, upscale, 1-pixel sides, odd and prime sizes, extreme ratios,
 * one axis unchanged (a skipped pass), the largest side allowed. */
static const int pairs[][4] = {
	{256, 256, 224, 224}, {224, 224, 256, 256}, {256, 256, 256, 256},
	{512, 512, 224, 224}, {448, 448, 224, 224}, {300, 200, 336, 224},
	{333, 517, 224, 224}, {224, 224, 223, 225}, {257, 255, 128, 129},
	{1000, 3, 3, 3},      {1000, 5, 3, 5},      {5, 5, 300, 300},
	{5, 3, 300, 7},       {3, 1000, 3, 3},      {1, 1, 1, 1},
	{1, 1, 5, 9},         {9, 5, 1, 1},         {17, 13, 1, 1},
	{300, 200, 1, 1},     {1, 300, 1, 7},       {2, 2, 3, 3},
	{7, 11, 13, 17},      {640, 480, 97, 61},   {100, 100, 99, 101},
	{224, 224, 224, 448}, {96, 96, 1000, 17},   {4096, 2, 3, 2},
	{65536, 1, 7, 1},     {1, 65536, 2, 5},     {65536, 2, 65536, 1},
};

static void build_cases(void)
{
	add_case(Q_VERSION, "version");
	fprintf(qf, "version\n");
	/* 1: resize, every filter, noise and smooth and H&E sources */
	for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
		const int *q = pairs[i];
		int imn = noise_image(q[0], q[1]);
		int ims = (size_t)q[0] * q[1] <= 1 << 20 ? smooth_image(q[0], q[1]) : -1;
		int imh = q[0] <= 1024 && q[1] <= 1024
				  ? he_crop(irand(0, 1024 - q[0]), irand(0, 1024 - q[1]),
					    q[0], q[1])
				  : -1;
		for (int ip = 0; ip < 3; ip++) {
			resize_case(imn, q[2], q[3], ip, "noise");
			if (ims >= 0)
				resize_case(ims, q[2], q[3], ip, "smooth");
			if (imh >= 0)
				resize_case(imh, q[2], q[3], ip, "H&E");
		}
	}
	int hefull = add_image(he, 1024, 1024);
	for (int ip = 0; ip < 3; ip++) {
		resize_case(hefull, 224, 224, ip, "H&E");
		resize_case(hefull, 448, 333, ip, "H&E");
		resize_case(hefull, 1023, 1025, ip, "H&E");
	}
	for (int t = 0; t < 60; t++) {
		int sw = irand(1, 400), sh = irand(1, 400);
		int dw = t % 5 == 0 ? sw : irand(1, 400);
		int dh = t % 7 == 0 ? sh : irand(1, 400);
		int im = t % 2 ? noise_image(sw, sh)
			       : he_crop(irand(0, 1024 - sw), irand(0, 1024 - sh), sw, sh);
		resize_case(im, dw, dh, t % 3, t % 2 ? "random noise" : "random H&E");
	}

	/* 2: the torchvision transform */
	int he256 = he_crop(100, 200, 256, 256), he224 = he_crop(613, 37, 224, 224);
	int he512 = he_crop(500, 500, 512, 512), he300 = he_crop(7, 9, 300, 200);
	int he200 = he_crop(31, 600, 200, 300), he100 = he_crop(900, 900, 100, 80);
	int he227 = he_crop(0, 0, 227, 225), he229 = he_crop(1, 2, 229, 231);
	int he_odd = he_crop(3, 3, 301, 100);
	const pfm_interp B = PFM_INTERP_BICUBIC;
	const float *m = imagenet_mean, *s = imagenet_std;
	prep_case(he256, prep_of(256, 0, 0, 224, 224, B, m, s), "timm 0.875");
	prep_case(he224, prep_of(256, 0, 0, 224, 224, B, m, s), "timm 0.875 up");
	prep_case(he256, prep_of(224, 0, 0, 224, 224, B, m, s), "224/224");
	prep_case(he224, prep_of(224, 0, 0, 224, 224, B, m, s), "224/224 no-op");
	prep_case(he512, prep_of(448, 0, 0, 448, 448, B, clip_mean, clip_std), "CONCH");
	prep_case(he256, prep_of(448, 0, 0, 448, 448, B, clip_mean, clip_std), "CONCH up");
	prep_case(hefull, prep_of(448, 0, 0, 448, 448, B, clip_mean, clip_std), "CONCH");
	prep_case(hefull, prep_of(224, 0, 0, 224, 224, B, m, s), "1024");
	prep_case(he300, prep_of(224, 0, 0, 224, 224, B, m, s), "wide");
	prep_case(he200, prep_of(256, 0, 0, 224, 224, B, m, s), "tall");
	prep_case(he100, prep_of(0, 0, 0, 224, 224, B, m, s), "pad");
	prep_case(he100, prep_of(90, 0, 0, 120, 95, B, m, s), "pad");
	prep_case(he_odd, prep_of(0, 0, 0, 224, 151, B, m, s), "pad h only");
	prep_case(he_odd, prep_of(0, 0, 0, 303, 99, B, m, s), "pad w only");
	prep_case(he256, prep_of(0, 240, 200, 224, 224, B, m, s), "Resize((200,240))");
	prep_case(he256, prep_of(0, 230, 240, 224, 224, B, m, s), "Resize((240,230))");
	prep_case(he227, prep_of(0, 0, 0, 224, 224, B, m, s), "odd offsets");
	prep_case(he229, prep_of(0, 0, 0, 224, 224, B, m, s), "odd offsets");
	prep_case(he229, prep_of(0, 0, 0, 226, 222, B, m, s), "odd offsets");
	for (int ip = 1; ip < 3; ip++) {
		prep_case(he256, prep_of(256, 0, 0, 224, 224, ip, m, s), "timm 0.875");
		prep_case(he224, prep_of(256, 0, 0, 224, 224, ip, m, s), "timm 0.875 up");
		prep_case(he300, prep_of(0, 250, 180, 224, 224, ip, m, s), "Resize((h,w))");
	}
	for (int t = 0; t < 40; t++) {
		int w = irand(1, 300), h = irand(1, 300), r = 0, rw = 0, rh = 0;
		int shrt = w < h ? w : h, lng = w < h ? h : w;
		if (t % 3 == 0) {
			rw = irand(1, 300), rh = irand(1, 300);
		} else if (t % 3 == 1) {
			r = irand(1, 300);
			if ((double)r * lng / shrt > 2000)
				r = shrt;
		}
		float mean[3], std[3];
		for (int c = 0; c < 3; c++)
			mean[c] = (float)urand(), std[c] = (float)(0.05 + urand());
		int im = t % 2 ? noise_image(w, h) : smooth_image(w, h);
		prep_case(im, prep_of(r, rw, rh, irand(1, 300), irand(1, 300),
				      irand(0, 2), mean, std), "random");
	}

	/* 3: JPEG bytes -> RGB8 -> tensor, against PIL + torchvision */
	static const int jsz[][2] = {{256, 256}, {224, 224}, {223, 197}, {512, 384}, {17, 9}};
	static const int qual[] = {50, 75, 90, 95, 100};
	for (size_t i = 0; i < sizeof jsz / sizeof *jsz; i++)
		for (size_t qi = 0; qi < sizeof qual / sizeof *qual; qi++)
			for (int sub = 0; sub < 3; sub++) {
				int w = jsz[i][0], h = jsz[i][1];
				int jc = jpeg_case(hefull, irand(0, 1024 - w),
						   irand(0, 1024 - h), w, h,
						   qual[qi], sub, 0);
				if (qi % 2 == 0 && i < 3)
					jpeg_prep_case(jc, prep_of(w == 224 ? 256 : 224, 0, 0,
								   224, 224, B, m, s));
			}
	for (int sub = 0; sub < 3; sub += 2) {
		int jc = jpeg_case(hefull, 10, 20, 256, 256, 90, sub, 1);
		jpeg_prep_case(jc, prep_of(224, 0, 0, 224, 224, B, m, s));
	}
	pfm_err e = {0};
	pfm_slide *sl = pfm_slide_open(CMU, NULL, &e);
	pfm_slide_ctx *sc = pfm_slide_ctx_new();
	CHECK(sl != NULL && sc != NULL, "%s", e.msg);
	static const int64_t at[][2] = {{0, 0}, {240, 480}, {960, 1200}, {1920, 2640}};
	for (size_t i = 0; sl && i < sizeof at / sizeof *at; i++) {
		int jc = stored_jpeg_case(sl, sc, at[i][0], at[i][1]);
		if (jc >= 0 && i % 2 == 0)
			jpeg_prep_case(jc, prep_of(224, 0, 0, 224, 224, B, m, s));
	}
	pfm_slide_ctx_free(sc);
	pfm_slide_close(sl);
}

/* Errors, not crashes, for bad arguments. */
static void test_bad_args(void)
{
	pfm_err e;
	uint8_t px[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, out[64];
	float f[3 * 4];
	const pfm_interp B = PFM_INTERP_BICUBIC;
#define BAD(call, want)                                                     \
	do {                                                                \
		memset(&e, 0, sizeof e);                                    \
		int rc_ = (call);                                           \
		CHECK(rc_ == -1 && strstr(e.msg, want), "%s: rc %d msg \"%s\"", \
		      #call, rc_, e.msg);                                   \
	} while (0)
	BAD(pfm_resize_pil(NULL, px, 2, 2, out, 1, 1, B, &e), "workspace");
	BAD(pfm_resize_pil(ws, NULL, 2, 2, out, 1, 1, B, &e), "source");
	BAD(pfm_resize_pil(ws, px, 2, 2, NULL, 1, 1, B, &e), "output");
	BAD(pfm_resize_pil(ws, px, 0, 2, out, 1, 1, B, &e), "source width 0");
	BAD(pfm_resize_pil(ws, px, 2, -3, out, 1, 1, B, &e), "source height -3");
	BAD(pfm_resize_pil(ws, px, 65537, 1, out, 1, 1, B, &e), "65537");
	BAD(pfm_resize_pil(ws, px, 2, 2, out, 0, 1, B, &e), "output width 0");
	BAD(pfm_resize_pil(ws, px, 2, 2, out, 1, 70000, B, &e), "output height");
	BAD(pfm_resize_pil(ws, px, 2, 2, out, 1, 1, (pfm_interp)7, &e), "interpolation 7");
	BAD(pfm_resize_pil(ws, px, 2, 2, out, 1, 1, (pfm_interp)-1, &e), "interpolation");
	CHECK(pfm_resize_pil(ws, px, 2, 2, out, 1, 1, B, NULL) == 0, "NULL err");
	CHECK(pfm_resize_pil(ws, px, 0, 2, out, 1, 1, B, NULL) == -1, "NULL err");

	pfm_prep ok = prep_of(2, 0, 0, 2, 2, B, imagenet_mean, imagenet_std), p;
	memset(&e, 0, sizeof e);
	CHECK(pfm_prep_run(&ok, ws, px, 2, 2, f, &e) == 0, "%s", e.msg);
	CHECK(pfm_prep_check(&ok, &e) == 0, "%s", e.msg);
	BAD(pfm_prep_run(NULL, ws, px, 2, 2, f, &e), "no parameters");
	BAD(pfm_prep_run(&ok, NULL, px, 2, 2, f, &e), "workspace");
	BAD(pfm_prep_run(&ok, ws, NULL, 2, 2, f, &e), "image");
	BAD(pfm_prep_run(&ok, ws, px, 2, 2, NULL, &e), "output");
	BAD(pfm_prep_run(&ok, ws, px, 0, 2, f, &e), "image width 0");
	BAD(pfm_prep_run(&ok, ws, px, 2, -1, f, &e), "image height -1");
	BAD(pfm_prep_run(&ok, ws, px, 2, 65537, f, &e), "65537");
	p = ok, p.resize = -1;
	BAD(pfm_prep_run(&p, ws, px, 2, 2, f, &e), "negative");
	p = ok, p.resize = 70000;
	BAD(pfm_prep_run(&p, ws, px, 2, 2, f, &e), "resize 70000");
	p = ok, p.resize_w = 3, p.resize_h = 3;
	BAD(pfm_prep_run(&p, ws, px, 2, 2, f, &e), "both set");
	p = ok, p.resize = 0, p.resize_w = 3;
	BAD(pfm_prep_run(&p, ws, px, 2, 2, f, &e), "both sides");
	p = ok, p.crop_w = 0;
	BAD(pfm_prep_run(&p, ws, px, 2, 2, f, &e), "crop width 0");
	p = ok, p.crop_h = 65537;
	BAD(pfm_prep_check(&p, &e), "crop height 65537");
	p = ok, p.interp = (pfm_interp)3;
	BAD(pfm_prep_run(&p, ws, px, 2, 2, f, &e), "interpolation 3");
	p = ok, p.std[1] = 0;
	BAD(pfm_prep_run(&p, ws, px, 2, 2, f, &e), "channel 1");
	p = ok, p.mean[2] = NAN;
	BAD(pfm_prep_run(&p, ws, px, 2, 2, f, &e), "channel 2");
	/* Resize(100) of a 1 x 1000 strip asks for a 100000-pixel side */
	uint8_t *strip = calloc(1000, 3);
	p = ok, p.resize = 100;
	BAD(pfm_prep_run(&p, ws, strip, 1, 1000, f, &e), "100000");
	free(strip);
	pfm_prep_ws_free(NULL);

	/* the largest side allowed works */
	uint8_t *wide = malloc(65536 * 3);
	for (int i = 0; i < 65536 * 3; i++)
		wide[i] = (uint8_t)(i * 7);
	p = prep_of(0, 0, 0, 2, 1, B, imagenet_mean, imagenet_std);
	memset(&e, 0, sizeof e);
	CHECK(pfm_prep_run(&p, ws, wide, 65536, 1, f, &e) == 0, "%s", e.msg);
	free(wide);

	/* corrupt JPEGs are errors */
	static const uint8_t junk[] = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F'};
	const uint8_t *rgb;
	int w, h;
	BAD(pfm_jpeg_rgb(dec, junk, sizeof junk, &rgb, &w, &h, &e), "JPEG");
	BAD(pfm_jpeg_rgb(dec, "not a jpeg", 10, &rgb, &w, &h, &e), "JPEG");
#undef BAD
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Per-tile cost on one core, informational: the fastest call (the
 * machine is shared) and the mean; the ASan build is several times
 * slower. */
typedef struct {
	const pfm_prep *p;
	const uint8_t *src;
	int n;
	uint8_t *dst;
	float *out;
} tjob;

static void time_it(const char *what, const tjob *j)
{
	pfm_err e = {0};
	double best = 1e9, sum = 0, t0 = now();
	int it = 0;
	while (now() - t0 < 0.2 || it < 5) {
		double a = now();
		if (j->p)
			pfm_prep_run(j->p, ws, j->src, j->n, j->n, j->out, &e);
		else
			pfm_resize_pil(ws, j->src, j->n, j->n, j->dst, 224, 224,
				       PFM_INTERP_BICUBIC, &e);
		double b = now() - a;
		best = b < best ? b : best;
		sum += b;
		it++;
	}
	printf("time: %-40s min %6.1f us, mean %6.1f us\n", what, best * 1e6,
	       sum / it * 1e6);
}

static void timings(void)
{
	uint8_t *t256 = malloc(256 * 256 * 3), *t224 = malloc(224 * 224 * 3);
	for (int y = 0; y < 256; y++)
		memcpy(t256 + y * 256 * 3, he + ((size_t)(300 + y) * 1024 + 300) * 3, 256 * 3);
	for (int y = 0; y < 224; y++)
		memcpy(t224 + y * 224 * 3, he + ((size_t)(10 + y) * 1024 + 700) * 3, 224 * 3);
	float *out = malloc(3 * 448 * 448 * sizeof(float));
	uint8_t *r = malloc(224 * 224 * 3);
	const pfm_interp B = PFM_INTERP_BICUBIC;
	pfm_prep p224 = prep_of(224, 0, 0, 224, 224, B, imagenet_mean, imagenet_std);
	pfm_prep p256 = prep_of(256, 0, 0, 224, 224, B, imagenet_mean, imagenet_std);
	pfm_prep p448 = prep_of(448, 0, 0, 448, 448, B, clip_mean, clip_std);
	time_it("256 tile, Resize(224) CenterCrop(224)", &(tjob){&p224, t256, 256, NULL, out});
	time_it("224 tile, Resize(256) CenterCrop(224)", &(tjob){&p256, t224, 224, NULL, out});
	time_it("256 tile, Resize(256) CenterCrop(224)", &(tjob){&p256, t256, 256, NULL, out});
	time_it("224 tile, Resize(224) CenterCrop(224)", &(tjob){&p224, t224, 224, NULL, out});
	time_it("224 tile, Resize(448) CenterCrop(448)", &(tjob){&p448, t224, 224, NULL, out});
	time_it("pfm_resize_pil 256 -> 224 bicubic", &(tjob){NULL, t256, 256, r, NULL});
	free(t256), free(t224), free(out), free(r);
}

int main(void)
{
	const char *py = "/usr/bin/python3";
	if (access(py, X_OK))
		py = ".venv/bin/python";
	ws = pfm_prep_ws_new();
	dec = pfm_pixdec_new();
	CHECK(ws && dec, "allocating");
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");

	pfm_err e = {0};
	pfm_slide_opts so = {.assume_mpp = 1};
	pfm_slide *sl = pfm_slide_open(HE, &so, &e);
	CHECK(sl != NULL, "%s: %s", HE, e.msg);
	he = malloc(1024 * 1024 * 3);
	CHECK(sl && !pfm_slide_read(sl, NULL, 0, 0, 0, 1024, 1024, he, &e), "%s", e.msg);
	pfm_slide_close(sl);

	test_bad_args();

	char qpath[256];
	snprintf(qpath, sizeof qpath, "%s/queries", dir);
	qf = fopen(qpath, "w");
	CHECK(qf != NULL, "%s", qpath);
	build_cases();
	fclose(qf);

	char cmd[512];
	snprintf(cmd, sizeof cmd, "%s tests/ref/preprocess_ref.py %s", py, qpath);
	FILE *p = popen(cmd, "r");
	CHECK(p != NULL, "popen %s", cmd);
	char *line = NULL;
	size_t lcap = 0;
	int got = 0;
	uint8_t *buf = NULL;
	size_t bcap = 0;
	while (p && got < ncases && getline(&line, &lcap, p) > 0) {
		tcase *c = &cases[got++];
		size_t n;
		if (sscanf(line, "OK %zu", &n) != 1) {
			CHECK(0, "%s: reference: %s", c->what, line);
			continue;
		}
		if (n > bcap)
			buf = realloc(buf, bcap = n);
		if (fread(buf, 1, n, p) != n) {
			CHECK(0, "%s: short reference answer", c->what);
			break;
		}
		check_case(c, buf, n);
	}
	int prc = p ? pclose(p) : -1;
	CHECK(prc == 0, "reference failed (%d): run `make deps`", prc);
	CHECK(got == ncases, "reference answered %d of %d queries", got, ncases);

	printf("resize: %d cases vs Image.resize, %d differ, max |diff| %d\n",
	       n_resize, bad_resize, max_resize);
	printf("jpeg: %d decodes vs PIL, %d differ, max |diff| %d\n", n_jpeg,
	       bad_jpeg, max_jpeg);
	printf("prep: %d cases vs torchvision, %d differ, max |diff| %g (%lld ulp)\n",
	       n_prep, bad_prep, max_prep, (long long)max_ulp);
	timings();

	for (int i = 0; i < ncases; i++)
		if (cases[i].kind == Q_JPEG || cases[i].kind == Q_DECODE)
			unlink(cases[i].jpath);
	for (int i = 0; i < nimgs; i++) {
		unlink(imgs[i].path);
		free(imgs[i].px);
	}
	unlink(qpath);
	rmdir(dir);
	free(imgs);
	free(cases);
	free(line);
	free(buf);
	pfm_prep_ws_free(ws);
	pfm_pixdec_free(dec);
	return check_done();
}
