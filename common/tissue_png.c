/* tissue_png.c: --thumbnail pictures, PNG through libpng. */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tissue.h"

#define THUMB_MAX 768

static void png_fail(png_structp p, png_const_charp msg)
{
	char *buf = png_get_error_ptr(p);
	snprintf(buf, 256, "%s", msg);
	png_longjmp(p, 1);
}

int pfm_png_write(const char *path, const uint8_t *rgb, int w, int h,
		  pfm_err *e)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return pfm_errf(e, "%s: %s", path, strerror(errno));
	char msg[256] = "";
	png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, msg,
						png_fail, NULL);
	png_infop info = p ? png_create_info_struct(p) : NULL;
	volatile int rc = -1;
	if (!info) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	if (setjmp(png_jmpbuf(p))) {
		pfm_errf(e, "%s: PNG: %s", path, msg[0] ? msg : "write failed");
		goto out;
	}
	png_init_io(p, f);
	png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	png_write_info(p, info);
	for (int y = 0; y < h; y++)
		png_write_row(p, rgb + (size_t)y * w * 3);
	png_write_end(p, NULL);
	rc = 0;
out:
	png_destroy_write_struct(&p, info ? &info : NULL);
	if (fclose(f) && !rc)
		rc = pfm_errf(e, "%s: %s", path, strerror(errno));
	if (rc)
		remove(path);
	return rc;
}

static void put(uint8_t *img, int w, int h, int x, int y, const uint8_t c[3])
{
	if (x >= 0 && y >= 0 && x < w && y < h)
		memcpy(img + ((size_t)y * w + x) * 3, c, 3);
}

static int mask_at(const pfm_tissue *t, double x0, double y0)
{
	int mx = (int)(x0 / t->scale), my = (int)(y0 / t->scale);
	if (mx < 0 || my < 0 || mx >= t->w || my >= t->h)
		return 0;
	return t->m[(size_t)my * t->w + mx];
}

int pfm_tissue_thumbnail(pfm_slide *s, pfm_slide_ctx *c, const pfm_tissue *t,
			 const double *boxes, int64_t n, const char *path,
			 pfm_err *e)
{
	int64_t w0, h0;
	pfm_slide_level_dims(s, 0, &w0, &h0);
	double k = fmax(1, (double)(w0 > h0 ? w0 : h0) / THUMB_MAX);
	int w = (int)fmax(1, ceil(w0 / k)), h = (int)fmax(1, ceil(h0 / k));
	uint8_t *img = malloc((size_t)w * h * 3);
	if (!img)
		return pfm_errf(e, "out of memory");
	if (pfm_slide_read_scaled(s, c, k, w, h, img, e)) {
		free(img);
		return -1;
	}
	/* Background dimmed, tissue outline green, tiles blue. */
	static const uint8_t green[3] = {0, 200, 0}, blue[3] = {30, 60, 255};
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			double cx = (x + 0.5) * k, cy = (y + 0.5) * k;
			int in = mask_at(t, cx, cy);
			int edge = in && (!mask_at(t, cx + k, cy) || !mask_at(t, cx - k, cy) ||
					  !mask_at(t, cx, cy + k) || !mask_at(t, cx, cy - k));
			uint8_t *p = img + ((size_t)y * w + x) * 3;
			if (edge)
				memcpy(p, green, 3);
			else if (!in)
				for (int i = 0; i < 3; i++)
					p[i] = (uint8_t)(p[i] / 2 + 64);
		}
	double px = 1 / k; /* thumbnail pixels per level-0 pixel */
	for (int64_t i = 0; i < n; i++) {
		const double *bx = boxes + 4 * i;
		int x0 = (int)floor(bx[0] * px), y0 = (int)floor(bx[1] * px);
		int x1 = (int)floor((bx[0] + bx[2]) * px) - 1;
		int y1 = (int)floor((bx[1] + bx[3]) * px) - 1;
		if (x1 < x0)
			x1 = x0;
		if (y1 < y0)
			y1 = y0;
		for (int x = x0; x <= x1; x++) {
			put(img, w, h, x, y0, blue);
			put(img, w, h, x, y1, blue);
		}
		for (int y = y0; y <= y1; y++) {
			put(img, w, h, x0, y, blue);
			put(img, w, h, x1, y, blue);
		}
	}
	int rc = pfm_png_write(path, img, w, h, e);
	free(img);
	return rc;
}
