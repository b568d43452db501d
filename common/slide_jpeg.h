/* slide_jpeg.h: private to slide*.c. The direct path for tiled JPEG
 * TIFF levels: tile offsets and sizes read once from the directory, raw
 * tiles read with pread (thread-safe, what TIFFReadRawTile does),
 * JPEGTables spliced in front, decoded with libjpeg-turbo. */
#ifndef PFM_SLIDE_JPEG_H
#define PFM_SLIDE_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "slide.h"

typedef struct {
	int64_t w, h;              /* level size */
	uint32_t tw, th;           /* stored tile size */
	uint32_t across, down;
	uint64_t *off, *len;       /* per stored tile, row-major */
	/* SOI + an Adobe APP14 naming the colour transform + JPEGTables
	 * without its SOI/EOI: prepended to a tile minus its SOI. */
	uint8_t *head;
	size_t head_len;
} pfm_jlevel;

#define PFM_TILE_CACHE 16

typedef struct {
	unsigned serial; /* slide; 0 = empty */
	int level;
	int64_t index;
	uint64_t stamp;
	uint8_t *rgb;
	size_t cap;
} pfm_cached_tile;

struct pfm_slide_ctx {
	void *tj;                  /* tjhandle, made on first use */
	pfm_cached_tile cache[PFM_TILE_CACHE];
	uint64_t clock;
	uint8_t *jpeg;             /* spliced stream of one tile */
	size_t jpeg_cap;
	uint32_t *argb;            /* OpenSlide reads */
	size_t argb_cap;
};

/* Fill jl[i] for each OpenSlide level i whose TIFF directory (matched by
 * size) is a tiled 8-bit 3-sample JPEG; NULL where not. Never fails: a
 * level it cannot serve is left to OpenSlide. */
void pfm_jpeg_levels(const char *path, int nlevels, const int64_t *w,
		     const int64_t *h, pfm_jlevel **jl);
void pfm_jlevel_free(pfm_jlevel *j);

/* Decode stored tile `index` of j (slide serial, level for the cache):
 * a pointer to tw*th*3 RGB8 owned by c. */
const uint8_t *pfm_jpeg_tile(pfm_slide_ctx *c, int fd, uint64_t fsize,
			     unsigned serial, int level, const pfm_jlevel *j,
			     int64_t index, pfm_err *e);

/* Decode stored tile `index` into rgb (tw*th*3), bypassing the cache. */
int pfm_jpeg_decode(pfm_slide_ctx *c, int fd, uint64_t fsize,
		    const pfm_jlevel *j, int64_t index, uint8_t *rgb, pfm_err *e);

/* The standalone JPEG of a stored tile (head + tile): *out owned by c. */
int pfm_jpeg_stream(pfm_slide_ctx *c, int fd, uint64_t fsize,
		    const pfm_jlevel *j, int64_t index, const uint8_t **out,
		    size_t *n, pfm_err *e);

/* A plain image (JPEG, or a TIFF OpenSlide does not open) as RGB8:
 * 1 loaded, 0 not such an image, -1 error. kind: "image-jpeg" ... */
int pfm_image_load(const char *path, uint8_t **rgb, int64_t *w, int64_t *h,
		   const char **kind, pfm_err *e);

/* Silence libtiff's global warning/error printing (once). */
void pfm_tiff_quiet(void);

#endif
