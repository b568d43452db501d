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

/* Pixel counts above this are refused before allocating (a hostile
 * header must not ask for gigabytes): 64k x 64k. */
#define PIX_MAX ((int64_t)1 << 32)

int pfm_jpeg_rgb(pfm_pixdec *d, const void *jpeg, size_t n,
		 const uint8_t **rgb, int *w, int *h, pfm_err *e)
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
	if ((int64_t)jw * jh > PIX_MAX)
		return pfm_errf(e, "JPEG of %dx%d pixels is too large", jw, jh);
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
	if (fw <= 0 || fh <= 0 || fw * fh > PIX_MAX)
		return pfm_errf(e, "bad tile size %lldx%lld", (long long)fw,
				(long long)fh);
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
		if (pfm_jpeg_rgb(d, p, n, rgb, w, h, e))
			return -1;
		if (*w != fw || *h != fh)
			return pfm_errf(e, "JPEG is %dx%d, the frame says %lldx%lld",
					*w, *h, (long long)fw, (long long)fh);
		return 0;
	}
	return pfm_errf(e, "unknown encoding \"%.*s\" (jpeg or rgb8)",
			(int)enc_n, enc);
}
