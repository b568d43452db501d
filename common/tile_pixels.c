/* tile_pixels.c: tile pixels to RGB8 (libjpeg-turbo for JPEG). */
#include "tile_pixels.h"

#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "mem.h"

struct pfm_pixdec {
	tjhandle tj;
	uint8_t *buf;
	size_t cap;
};

pfm_pixdec *pfm_pixdec_new(void)
{
	return calloc(1, sizeof(pfm_pixdec));
}

void pfm_pixdec_free(pfm_pixdec *d)
{
	if (!d)
		return;
	if (d->tj)
		tjDestroy(d->tj);
	free(d->buf);
	free(d);
}

/* Sides above this are refused before allocating (a hostile header must
 * not ask for gigabytes): 16384 x 16384 x 3 is 768 MB already. */
#define SIDE_MAX 16384

/* libjpeg-turbo decodes a JPEG cut short with only a warning, the
 * missing rows grey; PIL refuses it ("image file is truncated"). So must
 * we: a JPEG ends with its end-of-image marker (FF D9), only fill bytes
 * after it. */
static int jpeg_cut(const uint8_t *p, size_t n)
{
	while (n > 2 && (p[n - 1] == 0 || p[n - 1] == 0xff))
		n--;
	return n < 4 || p[n - 2] != 0xff || p[n - 1] != 0xd9;
}

/* Decode; when ew > 0 the header must say ew x eh (checked before any
 * pixel is decoded). */
static int jpeg_rgb(pfm_pixdec *d, const void *jpeg, size_t n, int ew,
		    int eh, const uint8_t **rgb, int *w, int *h, pfm_err *e)
{
	int jw = 0, jh = 0, sub = 0, cs = 0;
	if (!d->tj && !(d->tj = tjInitDecompress()))
		return pfm_errf(e, "libjpeg-turbo: %s", tjGetErrorStr2(NULL));
	if (n > (size_t)0x7fffffff)
		return pfm_errf(e, "JPEG of %zu bytes is too large", n);
	if (tjDecompressHeader3(d->tj, jpeg, (unsigned long)n, &jw, &jh, &sub,
				&cs))
		return pfm_errf(e, "corrupt JPEG: %s", tjGetErrorStr2(d->tj));
	/* a truncated header can "succeed" without a size: never trust one
	 * that is not positive */
	if (jw <= 0 || jh <= 0)
		return pfm_errf(e, "corrupt JPEG: no image size in its header");
	if (ew > 0 && (jw != ew || jh != eh))
		return pfm_errf(e, "JPEG is %dx%d, the frame says %dx%d", jw, jh,
				ew, eh);
	if (jw > SIDE_MAX || jh > SIDE_MAX)
		return pfm_errf(e, "JPEG of %dx%d pixels: larger than %dx%d", jw,
				jh, SIDE_MAX, SIDE_MAX);
	if (jpeg_cut(jpeg, n))
		return pfm_errf(e, "corrupt JPEG: no end-of-image marker (cut "
				   "short)");
	size_t need = (size_t)jw * jh * 3;
	if (pfm_grow(&d->buf, &d->cap, need))
		return pfm_errf(e, "out of memory decoding a %dx%d JPEG", jw,
				jh);
	/* Accurate integer DCT and fancy (smooth) chroma upsampling: libjpeg's
	 * defaults, which PIL's decoder keeps, so pixels equal
	 * Image.open().convert("RGB") byte for byte (tests/test_preprocess.c:
	 * 4:4:4, 4:2:2, 4:2:0, grey, Aperio's RGB-coded tiles). */
	if (tjDecompress2(d->tj, jpeg, (unsigned long)n, d->buf, jw, 0, jh,
			  TJPF_RGB, TJFLAG_ACCURATEDCT) &&
	    tjGetErrorCode(d->tj) != TJERR_WARNING)
		return pfm_errf(e, "corrupt JPEG: %s", tjGetErrorStr2(d->tj));
	*rgb = d->buf;
	*w = jw;
	*h = jh;
	return 0;
}

int pfm_jpeg_rgb(pfm_pixdec *d, const void *jpeg, size_t n,
		 const uint8_t **rgb, int *w, int *h, pfm_err *e)
{
	return jpeg_rgb(d, jpeg, n, 0, 0, rgb, w, h, e);
}

int pfm_tile_rgb(pfm_pixdec *d, const pfm_frame *f, const uint8_t **rgb,
		 int *w, int *h, pfm_err *e)
{
	const msgpack_object *px = pfm_get(f, "pixels");
	const char *enc;
	size_t enc_n;
	int64_t fw, fh;
	if (!px)
		return pfm_errf(e, "no \"pixels\"");
	if (px->type != MSGPACK_OBJECT_BIN && px->type != MSGPACK_OBJECT_STR)
		return pfm_errf(e, "\"pixels\" is not bytes");
	if (pfm_get_str(f, "encoding", &enc, &enc_n, e) ||
	    pfm_get_i64(f, "width", &fw, e) || pfm_get_i64(f, "height", &fh, e))
		return -1;
	if (fw <= 0 || fh <= 0)
		return pfm_errf(e, "bad tile size %lldx%lld", (long long)fw,
				(long long)fh);
	if (fw > SIDE_MAX || fh > SIDE_MAX)
		return pfm_errf(e, "tile of %lldx%lld pixels: larger than "
				   "%dx%d",
				(long long)fw, (long long)fh, SIDE_MAX,
				SIDE_MAX);
	const void *p = px->via.bin.ptr;
	size_t n = px->via.bin.size;
	if (enc_n == 4 && !memcmp(enc, "rgb8", 4)) {
		if (n != (size_t)(fw * fh * 3))
			return pfm_errf(e,
					"rgb8 pixels hold %zu bytes, %lldx%lld "
					"needs %lld",
					n, (long long)fw, (long long)fh,
					(long long)(fw * fh * 3));
		*rgb = p;
		*w = (int)fw;
		*h = (int)fh;
		return 0;
	}
	if (enc_n == 4 && !memcmp(enc, "jpeg", 4)) {
		return jpeg_rgb(d, p, n, (int)fw, (int)fh, rgb, w, h, e);
	}
	return pfm_errf(e, "unknown encoding \"%.*s\" (jpeg or rgb8)",
			(int)enc_n, enc);
}
