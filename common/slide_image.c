/* slide_image.c: plain images as single-level slides: JPEG through
 * libjpeg-turbo, PNG through libpng, any TIFF OpenSlide does not take
 * (striped, untiled) through libtiff's RGBA reader. Alpha is composited
 * over white, as OpenSlide's transparent pixels are. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <turbojpeg.h>

#include "slide_jpeg.h"

#define MAX_IMAGE_PIXELS ((int64_t)1 << 28) /* 16384^2: held in memory */

static int load_jpeg(const char *path, uint8_t **rgb, int64_t *w, int64_t *h,
		     pfm_err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return pfm_errf(e, "%s: cannot open", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = n > 0 && n < (1L << 30) ? malloc((size_t)n) : NULL;
	int rc = -1;
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		pfm_errf(e, "%s: cannot read", path);
		goto out;
	}
	tjhandle tj = tjInitDecompress();
	int iw, ih, sub, cs;
	if (!tj || tjDecompressHeader3(tj, buf, (unsigned long)n, &iw, &ih, &sub, &cs)) {
		pfm_errf(e, "%s: JPEG: %s", path, tjGetErrorStr2(tj));
	} else if ((int64_t)iw * ih > MAX_IMAGE_PIXELS) {
		pfm_errf(e, "%s: a %dx%d JPEG is too large for a plain image", path, iw, ih);
	} else if (!(*rgb = malloc((size_t)iw * ih * 3))) {
		pfm_errf(e, "out of memory");
	} else if (tjDecompress2(tj, buf, (unsigned long)n, *rgb, iw, 0, ih, TJPF_RGB, 0) &&
		   tjGetErrorCode(tj) != TJERR_WARNING) {
		pfm_errf(e, "%s: JPEG: %s", path, tjGetErrorStr2(tj));
		free(*rgb);
		*rgb = NULL;
	} else {
		*w = iw;
		*h = ih;
		rc = 0;
	}
	if (tj)
		tjDestroy(tj);
out:
	free(buf);
	fclose(f);
	return rc;
}

static int load_tiff(const char *path, uint8_t **rgb, int64_t *w, int64_t *h,
		     pfm_err *e)
{
	TIFF *t = TIFFOpen(path, "r");
	if (!t)
		return pfm_errf(e, "%s: unsupported format: not a TIFF libtiff can read", path);
	uint32_t iw = 0, ih = 0;
	TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &iw);
	TIFFGetField(t, TIFFTAG_IMAGELENGTH, &ih);
	char emsg[1024] = "";
	int rc = -1;
	uint32_t *px = NULL;
	if (!iw || !ih || (int64_t)iw * ih > MAX_IMAGE_PIXELS) {
		pfm_errf(e, "%s: a %ux%u TIFF is not a plain image we can hold", path, iw, ih);
	} else if (!TIFFRGBAImageOK(t, emsg)) {
		pfm_errf(e, "%s: unsupported TIFF: %s", path, emsg);
	} else if (!(px = malloc((size_t)iw * ih * 4)) ||
		   !(*rgb = malloc((size_t)iw * ih * 3))) {
		pfm_errf(e, "out of memory");
	} else if (!TIFFReadRGBAImageOriented(t, iw, ih, px, ORIENTATION_TOPLEFT, 0)) {
		pfm_errf(e, "%s: cannot decode the TIFF", path);
		free(*rgb);
		*rgb = NULL;
	} else {
		/* ABGR, alpha not premultiplied: over white. */
		for (size_t i = 0; i < (size_t)iw * ih; i++) {
			uint32_t p = px[i];
			unsigned a = TIFFGetA(p);
			(*rgb)[3 * i] = (uint8_t)((TIFFGetR(p) * a + 255 * (255 - a) + 127) / 255);
			(*rgb)[3 * i + 1] = (uint8_t)((TIFFGetG(p) * a + 255 * (255 - a) + 127) / 255);
			(*rgb)[3 * i + 2] = (uint8_t)((TIFFGetB(p) * a + 255 * (255 - a) + 127) / 255);
		}
		*w = iw;
		*h = ih;
		rc = 0;
	}
	free(px);
	TIFFClose(t);
	return rc;
}

/* libpng reports through longjmp: keep its message for pfm_err. */
static void png_fail(png_structp p, png_const_charp msg)
{
	char *buf = png_get_error_ptr(p);
	snprintf(buf, 256, "%s", msg);
	png_longjmp(p, 1);
}

static void png_quiet(png_structp p, png_const_charp msg)
{
	(void)p;
	(void)msg;
}

/* Any PNG to RGB8: palette and low-bit grey expanded, 16 bits cut to
 * their high byte (as Pillow does), grey to RGB, alpha (and tRNS) over
 * white, Adam7 deinterlaced by libpng. */
static int load_png(const char *path, uint8_t **rgb, int64_t *w, int64_t *h,
		    pfm_err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return pfm_errf(e, "%s: cannot open", path);
	char msg[256] = "";
	png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, msg,
					       png_fail, png_quiet);
	png_infop info = p ? png_create_info_struct(p) : NULL;
	/* Touched after setjmp: volatile, so the error path sees them. */
	uint8_t *volatile px = NULL;
	uint8_t **volatile rows = NULL;
	volatile int rc = -1;
	if (!info) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	if (setjmp(png_jmpbuf(p))) {
		pfm_errf(e, "%s: PNG: %s", path, msg[0] ? msg : "cannot decode");
		goto out;
	}
	png_init_io(p, f);
	png_set_user_limits(p, 1 << 17, 1 << 17);
	png_read_info(p, info);
	png_uint_32 iw = png_get_image_width(p, info);
	png_uint_32 ih = png_get_image_height(p, info);
	if ((int64_t)iw * ih > MAX_IMAGE_PIXELS) {
		pfm_errf(e, "%s: a %ux%u PNG is too large for a plain image", path,
			 (unsigned)iw, (unsigned)ih);
		goto out;
	}
	png_set_expand(p);
	png_set_strip_16(p);
	png_set_gray_to_rgb(p);
	png_set_interlace_handling(p);
	png_read_update_info(p, info);
	int ch = png_get_channels(p, info);
	size_t stride = png_get_rowbytes(p, info);
	if ((ch != 3 && ch != 4) || stride != (size_t)iw * ch) {
		pfm_errf(e, "%s: PNG: unexpected layout (%d channels)", path, ch);
		goto out;
	}
	px = malloc(stride * ih);
	rows = malloc(ih * sizeof *rows);
	if (!px || !rows) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	for (png_uint_32 y = 0; y < ih; y++)
		rows[y] = px + y * stride;
	png_read_image(p, rows);
	if (ch == 4) {
		/* RGBA, not premultiplied: over white, in place. */
		size_t n = (size_t)iw * ih;
		for (size_t i = 0; i < n; i++) {
			const uint8_t *q = px + 4 * i;
			unsigned a = q[3];
			uint8_t r = (uint8_t)((q[0] * a + 255 * (255 - a) + 127) / 255);
			uint8_t g = (uint8_t)((q[1] * a + 255 * (255 - a) + 127) / 255);
			uint8_t b = (uint8_t)((q[2] * a + 255 * (255 - a) + 127) / 255);
			px[3 * i] = r;
			px[3 * i + 1] = g;
			px[3 * i + 2] = b;
		}
		uint8_t *fit = realloc(px, n * 3);
		if (fit)
			px = fit;
	}
	*rgb = px;
	px = NULL;
	*w = iw;
	*h = ih;
	rc = 0;
out:
	png_destroy_read_struct(&p, info ? &info : NULL, NULL);
	free(px);
	free(rows);
	fclose(f);
	return rc;
}

int pfm_image_load(const char *path, uint8_t **rgb, int64_t *w, int64_t *h,
		   const char **kind, pfm_err *e)
{
	unsigned char m[8] = {0};
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(m, 1, sizeof m, f) : 0;
	if (f)
		fclose(f);
	*rgb = NULL;
	if (n >= 3 && m[0] == 0xFF && m[1] == 0xD8 && m[2] == 0xFF) {
		*kind = "image-jpeg";
		return load_jpeg(path, rgb, w, h, e) ? -1 : 1;
	}
	if (n >= 4 && (!memcmp(m, "II*\0", 4) || !memcmp(m, "MM\0*", 4) ||
		       !memcmp(m, "II+\0", 4) || !memcmp(m, "MM\0+", 4))) {
		*kind = "image-tiff";
		pfm_tiff_quiet();
		return load_tiff(path, rgb, w, h, e) ? -1 : 1;
	}
	if (n >= 8 && !memcmp(m, "\x89PNG\r\n\x1a\n", 8)) {
		*kind = "image-png";
		return load_png(path, rgb, w, h, e) ? -1 : 1;
	}
	return 0;
}
