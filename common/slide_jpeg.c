#include "slide_jpeg.h"
#include "mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <turbojpeg.h>
#include <unistd.h>

/* A stored tile larger than this is taken for corruption. */
#define MAX_RAW_TILE ((uint64_t)64 << 20)

static void quiet_handler(const char *mod, const char *fmt, va_list ap)
{
	(void)mod;
	(void)fmt;
	(void)ap;
}

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

static void quiet_init(void)
{
	/* libtiff prints to stderr by default; errors reach us as values. */
	TIFFSetErrorHandler(quiet_handler);
	TIFFSetWarningHandler(quiet_handler);
}

void pfm_tiff_quiet(void) { pthread_once(&quiet_once, quiet_init); }

void pfm_jlevel_free(pfm_jlevel *j)
{
	if (!j)
		return;
	free(j->off);
	free(j->len);
	free(j->head);
	free(j);
}

/* Build head: SOI, APP14 "Adobe" with the transform flag (0: the samples
 * are RGB, 1: YCbCr), then the tables. libtiff tells libjpeg the colour
 * space from PhotometricInterpretation; a bare JPEG stream has no such
 * field, and Aperio's RGB tiles (component ids 0,1,2, no JFIF) would be
 * taken for YCbCr. The Adobe marker makes any decoder see what libtiff
 * sees. */
static int make_head(pfm_jlevel *j, const uint8_t *tab, uint32_t n, int ycc)
{
	static const uint8_t app14[] = {0xFF, 0xEE, 0x00, 0x0E, 'A', 'd', 'o',
					'b', 'e', 0x00, 0x64, 0x00, 0x00,
					0x00, 0x00};
	size_t body = 0;
	if (tab) {
		if (n < 4 || tab[0] != 0xFF || tab[1] != 0xD8 ||
		    tab[n - 2] != 0xFF || tab[n - 1] != 0xD9)
			return -1;
		body = n - 4;
	}
	j->head_len = 2 + sizeof app14 + 1 + body;
	j->head = malloc(j->head_len);
	if (!j->head)
		return -1;
	uint8_t *p = j->head;
	*p++ = 0xFF;
	*p++ = 0xD8;
	memcpy(p, app14, sizeof app14);
	p += sizeof app14;
	*p++ = ycc ? 1 : 0;
	if (body)
		memcpy(p, tab + 2, body);
	return 0;
}

static pfm_jlevel *inspect_dir(TIFF *t)
{
	uint32_t w = 0, h = 0, tw = 0, th = 0;
	uint16_t comp = 0, photo = 0, spp = 0, bps = 0, planar = 1, orient = 1;
	if (!TIFFIsTiled(t) || !TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w) ||
	    !TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h) ||
	    !TIFFGetField(t, TIFFTAG_TILEWIDTH, &tw) ||
	    !TIFFGetField(t, TIFFTAG_TILELENGTH, &th) ||
	    !TIFFGetField(t, TIFFTAG_COMPRESSION, &comp) ||
	    !TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo))
		return NULL;
	TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
	TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
	TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &planar);
	TIFFGetFieldDefaulted(t, TIFFTAG_ORIENTATION, &orient);
	if (comp != COMPRESSION_JPEG || spp != 3 || bps != 8 ||
	    planar != PLANARCONFIG_CONTIG || orient != ORIENTATION_TOPLEFT ||
	    (photo != PHOTOMETRIC_RGB && photo != PHOTOMETRIC_YCBCR) ||
	    !w || !h || !tw || !th || tw > 8192 || th > 8192)
		return NULL;
	uint32_t across = (w + tw - 1) / tw, down = (h + th - 1) / th;
	uint64_t ntiles = (uint64_t)across * down;
	if (ntiles != TIFFNumberOfTiles(t))
		return NULL;
	uint64_t *off = NULL, *len = NULL;
	if (!TIFFGetField(t, TIFFTAG_TILEOFFSETS, &off) ||
	    !TIFFGetField(t, TIFFTAG_TILEBYTECOUNTS, &len) || !off || !len)
		return NULL;
	pfm_jlevel *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	j->w = w;
	j->h = h;
	j->tw = tw;
	j->th = th;
	j->across = across;
	j->down = down;
	j->off = malloc(ntiles * sizeof(uint64_t));
	j->len = malloc(ntiles * sizeof(uint64_t));
	uint32_t ntab = 0;
	void *tab = NULL;
	if (!TIFFGetField(t, TIFFTAG_JPEGTABLES, &ntab, &tab))
		tab = NULL;
	if (!j->off || !j->len ||
	    make_head(j, tab, ntab, photo == PHOTOMETRIC_YCBCR)) {
		pfm_jlevel_free(j);
		return NULL;
	}
	memcpy(j->off, off, ntiles * sizeof(uint64_t));
	memcpy(j->len, len, ntiles * sizeof(uint64_t));
	return j;
}

void pfm_jpeg_levels(const char *path, int nlevels, const int64_t *w,
		     const int64_t *h, pfm_jlevel **jl)
{
	for (int i = 0; i < nlevels; i++)
		jl[i] = NULL;
	pfm_tiff_quiet();
	TIFF *t = TIFFOpen(path, "rm");
	if (!t)
		return;
	/* Match OpenSlide's levels to directories by size; a size seen twice
	 * is ambiguous and left to OpenSlide. */
	for (int dir = 0; dir < 4096; dir++) {
		uint32_t dw = 0, dh = 0;
		TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &dw);
		TIFFGetField(t, TIFFTAG_IMAGELENGTH, &dh);
		for (int i = 0; i < nlevels; i++) {
			if (w[i] != dw || h[i] != dh || !TIFFIsTiled(t))
				continue;
			if (jl[i]) { /* ambiguous */
				pfm_jlevel_free(jl[i]);
				jl[i] = NULL;
				continue;
			}
			jl[i] = inspect_dir(t);
		}
		if (!TIFFReadDirectory(t))
			break;
	}
	TIFFClose(t);
}

int pfm_jpeg_stream(pfm_slide_ctx *c, int fd, uint64_t fsize,
		    const pfm_jlevel *j, int64_t index, const uint8_t **out,
		    size_t *n, pfm_err *e)
{
	uint64_t off = j->off[index], len = j->len[index];
	if (len < 4 || len > MAX_RAW_TILE || off > fsize || len > fsize - off)
		return pfm_errf(e, "stored tile %lld: bad offset or size",
				(long long)index);
	if (pfm_grow(&c->jpeg, &c->jpeg_cap, j->head_len + len))
		return pfm_errf(e, "out of memory");
	uint8_t *p = c->jpeg + j->head_len - 2;
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, p + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return pfm_errf(e, "stored tile %lld: %s",
					(long long)index,
					r < 0 ? strerror(errno) : "short read");
		got += (size_t)r;
	}
	if (p[0] != 0xFF || p[1] != 0xD8)
		return pfm_errf(e, "stored tile %lld: not a JPEG stream",
				(long long)index);
	/* The tile's SOI is overwritten by the head's tail. */
	memcpy(c->jpeg, j->head, j->head_len);
	*out = c->jpeg;
	*n = j->head_len - 2 + len;
	return 0;
}

int pfm_jpeg_decode(pfm_slide_ctx *c, int fd, uint64_t fsize,
		    const pfm_jlevel *j, int64_t index, uint8_t *rgb, pfm_err *e)
{
	if (j->len[index] == 0) {
		/* Never written (Aperio skips empty tiles): OpenSlide shows
		 * it transparent, which we render white. */
		memset(rgb, 255, (size_t)j->tw * j->th * 3);
		return 0;
	}
	const uint8_t *jpeg;
	size_t n;
	if (pfm_jpeg_stream(c, fd, fsize, j, index, &jpeg, &n, e))
		return -1;
	if (!c->tj && !(c->tj = tjInitDecompress()))
		return pfm_errf(e, "libjpeg-turbo: %s", tjGetErrorStr2(NULL));
	int w, h, sub, cs;
	if (tjDecompressHeader3(c->tj, jpeg, n, &w, &h, &sub, &cs))
		return pfm_errf(e, "stored tile %lld: %s", (long long)index,
				tjGetErrorStr2(c->tj));
	if ((uint32_t)w != j->tw || (uint32_t)h != j->th)
		return pfm_errf(e, "stored tile %lld: JPEG is %dx%d, tiles are %ux%u",
				(long long)index, w, h, j->tw, j->th);
	/* Default flags: accurate DCT and fancy upsampling, what libtiff
	 * (and so OpenSlide) gets from libjpeg. A warning (say a truncated
	 * tile) still gives the pixels libtiff would show. */
	if (tjDecompress2(c->tj, jpeg, n, rgb, w, 0, h, TJPF_RGB, 0) &&
	    tjGetErrorCode(c->tj) != TJERR_WARNING)
		return pfm_errf(e, "stored tile %lld: %s", (long long)index,
				tjGetErrorStr2(c->tj));
	return 0;
}

const uint8_t *pfm_jpeg_tile(pfm_slide_ctx *c, int fd, uint64_t fsize,
			     unsigned serial, int level, const pfm_jlevel *j,
			     int64_t index, pfm_err *e)
{
	pfm_cached_tile *slot = &c->cache[0];
	for (int i = 0; i < PFM_TILE_CACHE; i++) {
		pfm_cached_tile *t = &c->cache[i];
		if (t->serial == serial && t->level == level &&
		    t->index == index) {
			t->stamp = ++c->clock;
			return t->rgb;
		}
		if (t->stamp < slot->stamp)
			slot = t;
	}
	slot->serial = 0;
	if (pfm_grow(&slot->rgb, &slot->cap, (size_t)j->tw * j->th * 3)) {
		pfm_errf(e, "out of memory");
		return NULL;
	}
	if (pfm_jpeg_decode(c, fd, fsize, j, index, slot->rgb, e))
		return NULL;
	slot->serial = serial;
	slot->level = level;
	slot->index = index;
	slot->stamp = ++c->clock;
	return slot->rgb;
}
