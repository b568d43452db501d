/* tissue_png.c: --thumbnail pictures. PNG without zlib: deflate's
 * stored blocks are valid PNG data, and a thumbnail is small. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tissue.h"

#define THUMB_MAX 768

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[n] = c;
	}
}

static uint32_t crc(uint32_t c, const uint8_t *p, size_t n)
{
	c = ~c;
	while (n--)
		c = crc_table[(c ^ *p++) & 255] ^ (c >> 8);
	return ~c;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int chunk(FILE *f, const char *type, const uint8_t *data, size_t n)
{
	uint8_t hdr[8], tail[4];
	be32(hdr, (uint32_t)n);
	memcpy(hdr + 4, type, 4);
	uint32_t c = crc(crc(0, hdr + 4, 4), data, n);
	be32(tail, c);
	return fwrite(hdr, 1, 8, f) != 8 || (n && fwrite(data, 1, n, f) != n) ||
	       fwrite(tail, 1, 4, f) != 4;
}

int pfm_png_write(const char *path, const uint8_t *rgb, int w, int h,
		  pfm_err *e)
{
	if (!crc_table[1])
		crc_init();
	size_t row = (size_t)w * 3 + 1, raw = row * h;
	size_t blocks = raw / 65535 + 1;
	size_t zn = 2 + raw + blocks * 5 + 4;
	uint8_t *z = malloc(zn);
	if (!z)
		return pfm_errf(e, "out of memory");
	uint8_t *p = z;
	*p++ = 0x78; /* deflate, 32K window, no dictionary */
	*p++ = 0x01;
	uint32_t a = 1, b = 0;
	size_t left = raw, y = 0, x = 0; /* position in the filtered rows */
	do {
		size_t n = left < 65535 ? left : 65535;
		*p++ = left == n;
		*p++ = (uint8_t)n;
		*p++ = (uint8_t)(n >> 8);
		*p++ = (uint8_t)~n;
		*p++ = (uint8_t)(~n >> 8);
		for (size_t i = 0; i < n; i++) {
			uint8_t v = x == 0 ? 0 : rgb[y * (row - 1) + x - 1];
			if (++x == row) {
				x = 0;
				y++;
			}
			*p++ = v;
			a = (a + v) % 65521;
			b = (b + a) % 65521;
		}
		left -= n;
	} while (left);
	be32(p, b << 16 | a);
	p += 4;
	uint8_t ihdr[13];
	be32(ihdr, (uint32_t)w);
	be32(ihdr + 4, (uint32_t)h);
	ihdr[8] = 8;  /* bits */
	ihdr[9] = 2;  /* RGB */
	ihdr[10] = ihdr[11] = ihdr[12] = 0;
	FILE *f = fopen(path, "wb");
	if (!f) {
		free(z);
		return pfm_errf(e, "%s: %s", path, strerror(errno));
	}
	int bad = fwrite("\x89PNG\r\n\x1a\n", 1, 8, f) != 8 ||
		  chunk(f, "IHDR", ihdr, 13) ||
		  chunk(f, "IDAT", z, (size_t)(p - z)) || chunk(f, "IEND", NULL, 0);
	bad |= fclose(f) != 0;
	free(z);
	if (bad) {
		remove(path);
		return pfm_errf(e, "%s: write failed", path);
	}
	return 0;
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
