/* slide_write.c: pyramidal JPEG TIFFs for tests and benchmarks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include "slide.h"
#include "slide_jpeg.h"

static int set_level_tags(TIFF *t, int64_t w, int64_t h, int level,
			  const pfm_slide_write_opts *o)
{
	int ok = TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)w) &&
		 TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)h) &&
		 TIFFSetField(t, TIFFTAG_TILEWIDTH, (uint32_t)o->tile) &&
		 TIFFSetField(t, TIFFTAG_TILELENGTH, (uint32_t)o->tile) &&
		 TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8) &&
		 TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3) &&
		 TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) &&
		 TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_JPEG) &&
		 TIFFSetField(t, TIFFTAG_JPEGQUALITY, o->quality);
	if (level > 0)
		ok = ok && TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_REDUCEDIMAGE);
	if (o->rgb) {
		ok = ok && TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
	} else {
		/* libtiff converts our RGB to YCbCr 4:2:0. */
		ok = ok && TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_YCBCR) &&
		     TIFFSetField(t, TIFFTAG_YCBCRSUBSAMPLING, 2, 2) &&
		     TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
	}
	if (o->mpp > 0) {
		double scale = (double)(1 << level);
		float res = (float)(1e4 / (o->mpp * scale));
		ok = ok && TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER) &&
		     TIFFSetField(t, TIFFTAG_XRESOLUTION, res) &&
		     TIFFSetField(t, TIFFTAG_YRESOLUTION, res);
	}
	return ok ? 0 : -1;
}

/* Write the tiles of rows [y0, y0+rows) of an image held as a strip whose
 * first row is y0 (stride w*3). Edge tiles are padded by repeating the
 * last column/row, as encoders do. */
static int write_strip(TIFF *t, const uint8_t *strip, int64_t w, int64_t h,
		       int64_t y0, int tile, uint8_t *buf)
{
	int rows = (int)(h - y0 < tile ? h - y0 : tile);
	for (int64_t x0 = 0; x0 < w; x0 += tile) {
		int cols = (int)(w - x0 < tile ? w - x0 : tile);
		for (int r = 0; r < tile; r++) {
			const uint8_t *src = strip + ((size_t)(r < rows ? r : rows - 1) * w + x0) * 3;
			uint8_t *dst = buf + (size_t)r * tile * 3;
			memcpy(dst, src, (size_t)cols * 3);
			for (int c = cols; c < tile; c++)
				memcpy(dst + c * 3, src + (cols - 1) * 3, 3);
		}
		if (TIFFWriteTile(t, buf, (uint32_t)x0, (uint32_t)y0, 0, 0) < 0)
			return -1;
	}
	return 0;
}

/* 2x2 box average of rows [0, rows) of src (width sw) into dst rows. */
static void halve(const uint8_t *src, int64_t sw, int rows, uint8_t *dst,
		  int64_t dw)
{
	for (int y = 0; y + 1 < rows; y += 2) {
		const uint8_t *a = src + (size_t)y * sw * 3, *b = a + sw * 3;
		uint8_t *d = dst + (size_t)(y / 2) * dw * 3;
		for (int64_t x = 0; x < dw; x++)
			for (int c = 0; c < 3; c++)
				d[x * 3 + c] = (uint8_t)((a[6 * x + c] + a[6 * x + 3 + c] +
							  b[6 * x + c] + b[6 * x + 3 + c] + 2) / 4);
	}
}

int pfm_slide_write_tiff(const char *path, int64_t w, int64_t h,
			 pfm_slide_fill fill, void *ctx,
			 const pfm_slide_write_opts *opts, pfm_err *e)
{
	pfm_slide_write_opts o = opts ? *opts : (pfm_slide_write_opts){0};
	if (!o.tile)
		o.tile = 256;
	if (!o.quality)
		o.quality = 90;
	if (!o.min_side)
		o.min_side = 1024;
	if (w < 1 || h < 1 || w > 1000000 || h > 1000000 || o.tile % 16)
		return pfm_errf(e, "%s: bad size %lldx%lld or tile %d", path,
				(long long)w, (long long)h, o.tile);
	pfm_tiff_quiet();
	int big = (double)w * h * 3 > 3e9;
	TIFF *t = TIFFOpen(path, big ? "w8" : "w");
	if (!t)
		return pfm_errf(e, "%s: cannot create: %s", path, strerror(errno));
	int64_t hw = w / 2, hh = h / 2;
	uint8_t *strip = malloc((size_t)w * o.tile * 3);
	uint8_t *buf = malloc((size_t)o.tile * o.tile * 3);
	uint8_t *half = hw && hh ? malloc((size_t)hw * hh * 3) : NULL;
	int rc = 0;
	if (!strip || !buf || (hw && hh && !half)) {
		rc = pfm_errf(e, "out of memory");
		goto out;
	}
	if (set_level_tags(t, w, h, 0, &o)) {
		rc = pfm_errf(e, "%s: libtiff refused the tags", path);
		goto out;
	}
	for (int64_t y0 = 0; y0 < h; y0 += o.tile) {
		int rows = (int)(h - y0 < o.tile ? h - y0 : o.tile);
		fill(ctx, 0, y0, (int)w, rows, strip);
		if (write_strip(t, strip, w, h, y0, o.tile, buf)) {
			rc = pfm_errf(e, "%s: writing tiles failed", path);
			goto out;
		}
		/* Rows past 2*hh (an odd last row) have no half row. */
		int64_t hr = 2 * hh - y0 < rows ? 2 * hh - y0 : rows;
		if (half && hr >= 2)
			halve(strip, w, (int)hr, half + (size_t)(y0 / 2) * hw * 3, hw);
	}
	/* Lower levels from the halved image, halving again in place. */
	for (int level = 1; half && (w > o.min_side || h > o.min_side); level++) {
		w = hw;
		h = hh;
		if (!TIFFWriteDirectory(t) || set_level_tags(t, w, h, level, &o)) {
			rc = pfm_errf(e, "%s: writing level %d failed", path, level);
			goto out;
		}
		for (int64_t y0 = 0; y0 < h; y0 += o.tile)
			if (write_strip(t, half + (size_t)y0 * w * 3, w, h, y0, o.tile, buf)) {
				rc = pfm_errf(e, "%s: writing tiles failed", path);
				goto out;
			}
		hw = w / 2;
		hh = h / 2;
		if (!hw || !hh)
			break;
		halve(half, w, (int)(hh * 2), half, hw);
	}
	if (!TIFFWriteDirectory(t))
		rc = pfm_errf(e, "%s: writing the directory failed", path);
out:
	TIFFClose(t);
	free(strip);
	free(buf);
	free(half);
	if (rc)
		remove(path);
	return rc;
}
