/* slide_image.c: plain images as single-level slides: JPEG through
 * libjpeg-turbo, any TIFF OpenSlide does not take (striped, untiled)
 * through libtiff's RGBA reader. PNG would need libpng. */
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
		pfm_errf(e, "%s: unsupported format: PNG (this build has no libpng; "
			 "convert to JPEG or TIFF)", path);
		return -1;
	}
	return 0;
}
