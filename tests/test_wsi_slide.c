/* test_wsi_slide: slide access against OpenSlide on real slides. */
#include <math.h>
#include <openslide.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "check.h"
#include "resample.h"
#include "slide.h"
#include "tiling.h"

#define CMU "tests/data/CMU-1-Small-Region.svs"
#define TCGA "tests/data/TCGA-CR-7395-01A-01-TS1.svs"
#define SMALL "tests/data/small.svs"
#define DICOM "../shared/data/slides/small_dicom.dcm"

/* openslide_read_region as RGB over white: the reference. */
static uint8_t *os_read(const char *path, int level, int64_t x, int64_t y,
			int w, int h)
{
	openslide_t *o = openslide_open(path);
	uint32_t *argb = malloc((size_t)w * h * 4);
	uint8_t *rgb = malloc((size_t)w * h * 3);
	openslide_read_region(o, argb, x, y, level, w, h);
	for (size_t i = 0; i < (size_t)w * h; i++) {
		uint32_t p = argb[i], bg = 255 - (p >> 24);
		rgb[3 * i] = (uint8_t)(((p >> 16) & 255) + bg);
		rgb[3 * i + 1] = (uint8_t)(((p >> 8) & 255) + bg);
		rgb[3 * i + 2] = (uint8_t)((p & 255) + bg);
	}
	openslide_close(o);
	free(argb);
	return rgb;
}

static int maxdiff(const uint8_t *a, const uint8_t *b, size_t n)
{
	int m = 0;
	for (size_t i = 0; i < n; i++) {
		int d = abs(a[i] - b[i]);
		if (d > m)
			m = d;
	}
	return m;
}

/* Regions compared: aligned to Aperio's 240-pixel tiles, straddling four
 * of them, at the right and bottom edges, one partly outside. */
static const int64_t regions[][4] = {
	{0, 0, 240, 240},     {240, 480, 240, 240}, {100, 130, 256, 256},
	{1000, 2000, 224, 224}, {1996, 2743, 224, 224}, {2100, 2900, 200, 100},
	{2200, 2950, 64, 64}, {7, 3, 1, 1},         {0, 0, 2220, 16},
};

static void test_cmu_pixels(void)
{
	pfm_err e = {0};
	pfm_slide *s = pfm_slide_open(CMU, NULL, &e);
	CHECK(s, "%s", e.msg);
	if (!s)
		return;
	pfm_slide_opts nd = {.no_direct = 1};
	pfm_slide *so = pfm_slide_open(CMU, &nd, &e);
	CHECK(pfm_slide_level_count(s) == 1, "levels");
	CHECK(fabs(pfm_slide_mpp(s) - 0.499) < 1e-9, "mpp %g", pfm_slide_mpp(s));
	CHECK(!pfm_slide_mpp_assumed(s), "mpp from the slide");
	CHECK(pfm_slide_level_direct(s, 0), "CMU level 0 is read directly");
	CHECK(!pfm_slide_level_direct(so, 0), "--no-direct");
	CHECK(!strcmp(pfm_slide_vendor(s), "aperio"), "vendor");
	pfm_slide_ctx *c = pfm_slide_ctx_new();
	for (size_t i = 0; i < sizeof regions / sizeof *regions; i++) {
		const int64_t *r = regions[i];
		int w = (int)r[2], h = (int)r[3];
		uint8_t *want = os_read(CMU, 0, r[0], r[1], w, h);
		uint8_t *got = malloc((size_t)w * h * 3);
		int rc = pfm_slide_read(s, c, 0, r[0], r[1], w, h, got, &e);
		CHECK(!rc, "%s", e.msg);
		CHECK(!memcmp(got, want, (size_t)w * h * 3),
		      "direct read (%lld,%lld %dx%d) differs from OpenSlide by up to %d",
		      (long long)r[0], (long long)r[1], w, h,
		      maxdiff(got, want, (size_t)w * h * 3));
		rc = pfm_slide_read(so, NULL, 0, r[0], r[1], w, h, got, &e);
		CHECK(!rc && !memcmp(got, want, (size_t)w * h * 3),
		      "OpenSlide path (%lld,%lld)", (long long)r[0], (long long)r[1]);
		free(want);
		free(got);
	}
	/* Passthrough: a stored tile is a JPEG decoding to the same pixels. */
	const uint8_t *jpeg;
	size_t n;
	CHECK(pfm_slide_stored_jpeg(s, c, 0, 480, 240, 240, 240, &jpeg, &n, &e) == 1,
	      "stored tile at (480,240): %s", e.msg);
	{
		tjhandle tj = tjInitDecompress();
		uint8_t got[240 * 240 * 3];
		uint8_t *want = os_read(CMU, 0, 480, 240, 240, 240);
		CHECK(!tjDecompress2(tj, jpeg, n, got, 240, 0, 240, TJPF_RGB, 0) &&
		      !memcmp(got, want, sizeof got),
		      "stored tile decodes to OpenSlide's pixels anywhere");
		free(want);
		tjDestroy(tj);
	}
	CHECK(pfm_slide_stored_jpeg(s, c, 0, 481, 240, 240, 240, &jpeg, &n, &e) == 0,
	      "unaligned: no stored tile");
	CHECK(pfm_slide_stored_jpeg(s, c, 0, 2160, 0, 240, 240, &jpeg, &n, &e) == 0,
	      "edge tile past the image: not passed through");
	CHECK(pfm_slide_stored_jpeg(s, c, 0, 0, 0, 224, 224, &jpeg, &n, &e) == 0,
	      "other size: no stored tile");
	pfm_slide_ctx_free(c);
	pfm_slide_close(s);
	pfm_slide_close(so);
}

/* Resampling: a 0.998-mpp tile from the 0.499 slide is the 2x2 mean of a
 * 448 read, within 1 (rounding); the read spec picks level 0 and 448. */
static void test_resampled(void)
{
	pfm_err e = {0};
	pfm_slide *s = pfm_slide_open(CMU, NULL, &e);
	pfm_read_spec rs;
	CHECK(!pfm_read_spec_init(&rs, s, 0.998, 224, PFM_LEVEL_TOL, &e), "%s", e.msg);
	CHECK(rs.level == 0 && rs.src == 448 && fabs(rs.foot - 448) < 1e-9,
	      "spec level %d src %d", rs.level, rs.src);
	CHECK(!pfm_read_spec_init(&rs, s, 0.5, 224, PFM_LEVEL_TOL, &e) &&
	      rs.src == 224, "0.5 from 0.499 is within tolerance: %d", rs.src);
	CHECK(!pfm_read_spec_init(&rs, s, 0.25, 224, PFM_LEVEL_TOL, &e) &&
	      rs.src == 112, "upscale reads 112: %d", rs.src);
	uint8_t *src = os_read(CMU, 0, 800, 1200, 448, 448);
	uint8_t got[224 * 224 * 3];
	CHECK(!pfm_resample_rgb(src, 448, 448, got, 224, 224, &e), "%s", e.msg);
	int worst = 0;
	for (int y = 0; y < 224; y++)
		for (int x = 0; x < 224; x++)
			for (int k = 0; k < 3; k++) {
				const uint8_t *p = src + ((size_t)(2 * y) * 448 + 2 * x) * 3 + k;
				double m = (p[0] + p[3] + p[448 * 3] + p[448 * 3 + 3]) / 4.0;
				double d = fabs(got[(y * 224 + x) * 3 + k] - m);
				if (d > worst)
					worst = (int)ceil(d);
			}
	CHECK(worst <= 1, "2x area average off by %d", worst);
	/* Non-integer ratio: a flat image stays flat, a ramp stays monotone. */
	uint8_t flat[30 * 30 * 3], out[13 * 13 * 3];
	memset(flat, 77, sizeof flat);
	pfm_resample_rgb(flat, 30, 30, out, 13, 13, &e);
	CHECK(maxdiff(out, flat, sizeof out) == 0, "flat stays flat");
	uint8_t up[50 * 50 * 3];
	pfm_resample_rgb(flat, 30, 30, up, 50, 50, &e);
	CHECK(maxdiff(up, flat, 30 * 30 * 3) == 0, "flat upscale");
	free(src);
	pfm_slide_close(s);
}

typedef struct {
	const uint8_t *rgb;
	int w, h;
} img;

/* Mirror-tile a source image: any size from real pixels. */
static void fill_mirror(void *ctx, int64_t x, int64_t y, int w, int h, uint8_t *out)
{
	const img *im = ctx;
	for (int r = 0; r < h; r++) {
		int64_t sy = (y + r) % (2 * im->h);
		if (sy >= im->h)
			sy = 2 * im->h - 1 - sy;
		for (int c = 0; c < w; c++) {
			int64_t sx = (x + c) % (2 * im->w);
			if (sx >= im->w)
				sx = 2 * im->w - 1 - sx;
			memcpy(out + ((size_t)r * w + c) * 3,
			       im->rgb + ((size_t)sy * im->w + sx) * 3, 3);
		}
	}
}

/* A generated pyramid (YCbCr 4:2:0 and RGB tiles): direct reads equal
 * OpenSlide's at every level. */
static void test_pyramid(int rgb)
{
	char path[64];
	snprintf(path, sizeof path, "/tmp/pfm-wsi-pyr-%d-%d.tif", (int)getpid(), rgb);
	img im = {os_read(CMU, 0, 0, 0, 1100, 1300), 1100, 1300};
	pfm_err e = {0};
	pfm_slide_write_opts wo = {.tile = 128, .mpp = 0.25, .min_side = 300, .rgb = rgb};
	CHECK(!pfm_slide_write_tiff(path, 2000, 1500, fill_mirror, &im, &wo, &e),
	      "%s", e.msg);
	pfm_slide *s = pfm_slide_open(path, NULL, &e);
	CHECK(s, "%s", e.msg);
	if (!s)
		goto out;
	CHECK(!strcmp(pfm_slide_vendor(s), "generic-tiff"), "vendor %s", pfm_slide_vendor(s));
	CHECK(fabs(pfm_slide_mpp(s) - 0.25) < 1e-4, "mpp from resolution tags %g",
	      pfm_slide_mpp(s));
	CHECK(pfm_slide_level_count(s) == 4, "levels %d", pfm_slide_level_count(s));
	pfm_slide_ctx *c = pfm_slide_ctx_new();
	for (int l = 0; l < pfm_slide_level_count(s); l++) {
		CHECK(pfm_slide_level_direct(s, l), "level %d direct", l);
		int ds = 1 << l;
		/* 187 rows make level 3's downsample 8.01: OpenSlide then
		 * shifts by a fraction of a pixel (cairo interpolates), so
		 * exact equality holds on exact downsamples only. */
		if (pfm_slide_level_downsample(s, l) != ds)
			continue;
		static const int xy[][2] = {{0, 0}, {128, 256}, {60, 70}, {300, 200}};
		for (int i = 0; i < 4; i++) {
			int64_t x = (int64_t)xy[i][0] * ds, y = (int64_t)xy[i][1] * ds;
			uint8_t *want = os_read(path, l, x, y, 200, 150);
			uint8_t got[200 * 150 * 3];
			CHECK(!pfm_slide_read(s, c, l, x, y, 200, 150, got, &e), "%s", e.msg);
			CHECK(!memcmp(got, want, sizeof got),
			      "%s level %d (%lld,%lld): off by up to %d",
			      rgb ? "RGB" : "YCbCr", l, (long long)x, (long long)y,
			      maxdiff(got, want, sizeof got));
			free(want);
		}
	}
	CHECK(pfm_slide_best_level(s, 1.0, PFM_LEVEL_TOL) == 0, "best 1");
	CHECK(pfm_slide_best_level(s, 2.0, PFM_LEVEL_TOL) == 1, "best 2");
	CHECK(pfm_slide_best_level(s, 1.99, PFM_LEVEL_TOL) == 1, "best 1.99 (tolerance)");
	CHECK(pfm_slide_best_level(s, 1.9, PFM_LEVEL_TOL) == 0, "best 1.9: not coarser");
	CHECK(pfm_slide_best_level(s, 7, PFM_LEVEL_TOL) == 2, "best 7");
	pfm_slide_ctx_free(c);
	pfm_slide_close(s);
out:
	free((void *)im.rgb);
	unlink(path);
}

static void test_errors(void)
{
	pfm_err e = {0};
	pfm_slide *s = pfm_slide_open(TCGA, NULL, &e);
	CHECK(!s, "TCGA without mpp must fail");
	CHECK(strstr(e.msg, TCGA) && strstr(e.msg, "--assume-mpp"), "%s", e.msg);
	pfm_slide_opts o = {.assume_mpp = 0.5};
	s = pfm_slide_open(TCGA, &o, &e);
	CHECK(s && pfm_slide_mpp_assumed(s) && pfm_slide_level_count(s) == 2,
	      "TCGA with --assume-mpp: %s", e.msg);
	if (s) {
		CHECK(!pfm_slide_level_direct(s, 0), "JPEG 2000 goes through OpenSlide");
		uint8_t *want = os_read(TCGA, 1, 512, 512, 100, 100);
		uint8_t got[100 * 100 * 3];
		CHECK(!pfm_slide_read(s, NULL, 1, 512, 512, 100, 100, got, &e) &&
		      !memcmp(got, want, sizeof got), "TCGA level 1 read");
		free(want);
		pfm_slide_close(s);
	}
	e.msg[0] = 0;
	CHECK(!pfm_slide_open("/nonexistent/x.svs", NULL, &e) &&
	      strstr(e.msg, "No such file"), "%s", e.msg);
	CHECK(!pfm_slide_open("tests", NULL, &e) && strstr(e.msg, "directory"), "%s", e.msg);
	CHECK(!pfm_slide_open("tests/check.h", NULL, &e) &&
	      strstr(e.msg, "unsupported format"), "%s", e.msg);
	if (access(DICOM, R_OK) == 0) {
		CHECK(!pfm_slide_open(DICOM, NULL, &e) && strstr(e.msg, "DICOM") &&
		      strstr(e.msg, "unsupported format"), "%s", e.msg);
	} else {
		printf("skip: no %s\n", DICOM);
	}
	/* Truncated copies: a clear error or a readable slide, never a crash. */
	FILE *f = fopen(CMU, "rb");
	static uint8_t buf[2 << 20];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	char path[64];
	snprintf(path, sizeof path, "/tmp/pfm-wsi-cut-%d.svs", (int)getpid());
	static const size_t cuts[] = {0, 8, 100, 1000, 300000, 1900000};
	for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
		f = fopen(path, "wb");
		fwrite(buf, 1, cuts[i] < n ? cuts[i] : n, f);
		fclose(f);
		e.msg[0] = 0;
		s = pfm_slide_open(path, NULL, &e);
		if (!s) {
			CHECK(strstr(e.msg, path), "cut at %zu: %s", cuts[i], e.msg);
			continue;
		}
		/* Open but damaged: reading the tiles that are gone fails. */
		uint8_t *all = malloc((size_t)2220 * 2967 * 3);
		int rc = pfm_slide_read(s, NULL, 0, 0, 0, 2220, 2967, all, &e);
		CHECK(rc && strstr(e.msg, path), "cut at %zu read: rc %d %s", cuts[i], rc, e.msg);
		free(all);
		pfm_slide_close(s);
	}
	unlink(path);
}

static void test_list(void)
{
	char path[64];
	snprintf(path, sizeof path, "/tmp/pfm-wsi-list-%d.csv", (int)getpid());
	FILE *f = fopen(path, "w");
	fputs("case_id,path,label,slide_id\n"
	      "C1,a/b.svs,tumor,S1\n"
	      "\"C,2\",\"c d.svs\",\"say \"\"hi\"\"\",S2\n", f);
	fclose(f);
	pfm_slide_list l = {0};
	pfm_err e = {0};
	CHECK(!pfm_slide_list_read(&l, path, &e), "%s", e.msg);
	CHECK(l.n == 2, "2 slides: %d", l.n);
	if (l.n == 2) {
		/* Relative paths are from the list's folder. */
		CHECK(!strcmp(l.v[0].id, "S1") && !strcmp(l.v[0].path, "/tmp/a/b.svs"),
		      "row 1: %s", l.v[0].path);
		CHECK(l.v[0].ncols == 2 && !strcmp(l.v[0].keys[0], "case_id") &&
		      !strcmp(l.v[0].vals[1], "tumor"), "meta of row 1");
		CHECK(!strcmp(l.v[1].vals[0], "C,2") && !strcmp(l.v[1].path, "/tmp/c d.svs") &&
		      !strcmp(l.v[1].vals[1], "say \"hi\""), "quoted fields");
	}
	pfm_slide_list_free(&l);
	f = fopen(path, "w");
	fputs("# slides\n/x/one.svs\n\ntwo.tiff\n", f);
	fclose(f);
	CHECK(!pfm_slide_list_read(&l, path, &e) && l.n == 2, "plain list: %s", e.msg);
	if (l.n == 2)
		CHECK(!strcmp(l.v[0].id, "one") && !strcmp(l.v[0].path, "/x/one.svs") &&
		      !strcmp(l.v[1].path, "/tmp/two.tiff") && !l.v[0].ncols,
		      "ids from names, absolute paths kept");
	pfm_slide_list_free(&l);
	f = fopen(path, "w");
	fputs("slide_id,path\nA,a.svs,extra\n", f);
	fclose(f);
	CHECK(pfm_slide_list_read(&l, path, &e) && strstr(e.msg, ":2:"), "ragged: %s", e.msg);
	pfm_slide_list_free(&l);
	unlink(path);
}

/* Plain images: a striped TIFF (OpenSlide refuses it) and a JPEG are
 * single-level slides with exact pixels; PNG is named as unsupported. */
static void test_plain(void)
{
	char tif[64], jpg[64], png[64];
	snprintf(tif, sizeof tif, "/tmp/pfm-wsi-plain-%d.tif", (int)getpid());
	snprintf(jpg, sizeof jpg, "/tmp/pfm-wsi-plain-%d.jpg", (int)getpid());
	snprintf(png, sizeof png, "/tmp/pfm-wsi-plain-%d.png", (int)getpid());
	enum { W = 100, H = 80 };
	static uint8_t px[W * H * 3];
	for (int i = 0; i < W * H * 3; i++)
		px[i] = (uint8_t)(i * 7 + i / 300);
	TIFF *t = TIFFOpen(tif, "w");
	TIFFSetField(t, TIFFTAG_IMAGEWIDTH, W);
	TIFFSetField(t, TIFFTAG_IMAGELENGTH, H);
	TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
	TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
	TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
	TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
	TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 16);
	for (int y = 0; y < H; y++)
		TIFFWriteScanline(t, px + y * W * 3, y, 0);
	TIFFClose(t);
	pfm_err e = {0};
	CHECK(!pfm_slide_open(tif, NULL, &e) && strstr(e.msg, "--assume-mpp"),
	      "plain image without mpp: %s", e.msg);
	pfm_slide_opts o = {.assume_mpp = 0.5};
	pfm_slide *s = pfm_slide_open(tif, &o, &e);
	CHECK(s, "%s", e.msg);
	if (s) {
		static uint8_t got[(W + 10) * H * 3];
		CHECK(!strcmp(pfm_slide_vendor(s), "image-tiff"), "%s", pfm_slide_vendor(s));
		CHECK(!pfm_slide_read(s, NULL, 0, 0, 0, W, H, got, &e) &&
		      !memcmp(got, px, sizeof px), "TIFF pixels");
		CHECK(!pfm_slide_read(s, NULL, 0, 10, 0, W, H, got, &e) &&
		      !memcmp(got, px + 30, (W - 10) * 3) && got[(W - 10) * 3] == 255,
		      "shifted read, white outside");
		pfm_slide_close(s);
	}
	tjhandle tj = tjInitCompress();
	unsigned char *jb = NULL;
	unsigned long jn = 0;
	tjCompress2(tj, px, W, 0, H, TJPF_RGB, &jb, &jn, TJSAMP_420, 85, 0);
	tjDestroy(tj);
	FILE *f = fopen(jpg, "wb");
	fwrite(jb, 1, jn, f);
	fclose(f);
	static uint8_t want[W * H * 3], got[W * H * 3];
	tj = tjInitDecompress();
	tjDecompress2(tj, jb, jn, want, W, 0, H, TJPF_RGB, 0);
	tjDestroy(tj);
	tjFree(jb);
	s = pfm_slide_open(jpg, &o, &e);
	CHECK(s && !pfm_slide_read(s, NULL, 0, 0, 0, W, H, got, &e) &&
	      !memcmp(got, want, sizeof got), "JPEG pixels: %s", e.msg);
	pfm_slide_close(s);
	f = fopen(png, "wb");
	fwrite("\x89PNG\r\n\x1a\n\0\0\0\0", 1, 12, f);
	fclose(f);
	CHECK(!pfm_slide_open(png, &o, &e) && strstr(e.msg, "PNG"), "%s", e.msg);
	unlink(tif);
	unlink(jpg);
	unlink(png);
}

int main(void)
{
	test_cmu_pixels();
	test_resampled();
	test_pyramid(0);
	test_pyramid(1);
	test_errors();
	test_list();
	test_plain();
	return check_done();
}
