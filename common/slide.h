/* slide.h: whole-slide image access, an opaque handle in OpenSlide's
 * manner. OpenSlide opens every slide and gives the metadata; pixels of
 * tiled JPEG TIFF/SVS levels are read directly (raw tiles + libjpeg-turbo,
 * see slide_jpeg.c), every other level through openslide_read_region.
 *
 * Coordinates: x, y are level-0 pixels (as in openslide_read_region);
 * w, h are pixels of the level read. Pixels outside the slide (and
 * OpenSlide's transparent ones) come out white; partly transparent ones
 * are composited over white. */
#ifndef PFM_SLIDE_H
#define PFM_SLIDE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct pfm_slide pfm_slide;
/* Per-thread scratch: decoder, a small cache of decoded stored tiles,
 * buffers. One per worker thread; a slide may be read from many. */
typedef struct pfm_slide_ctx pfm_slide_ctx;

typedef struct {
	double assume_mpp; /* used when the slide has no mpp; 0: fail */
	int no_direct;     /* read every level through OpenSlide */
} pfm_slide_opts;

pfm_slide *pfm_slide_open(const char *path, const pfm_slide_opts *o,
			  pfm_err *e);
void pfm_slide_close(pfm_slide *s);

int pfm_slide_level_count(const pfm_slide *s);
void pfm_slide_level_dims(const pfm_slide *s, int level, int64_t *w,
			  int64_t *h);
double pfm_slide_level_downsample(const pfm_slide *s, int level);
/* Microns per level-0 pixel (from the slide or --assume-mpp). */
double pfm_slide_mpp(const pfm_slide *s);
int pfm_slide_mpp_assumed(const pfm_slide *s);
const char *pfm_slide_path(const pfm_slide *s);
const char *pfm_slide_vendor(const pfm_slide *s);
/* Is this level read directly from its JPEG tiles? */
int pfm_slide_level_direct(const pfm_slide *s, int level);

/* The level to read for a target downsample ds (target mpp / slide mpp):
 * the coarsest level not coarser than ds * (1 + tol). */
int pfm_slide_best_level(const pfm_slide *s, double ds, double tol);

pfm_slide_ctx *pfm_slide_ctx_new(void);
void pfm_slide_ctx_free(pfm_slide_ctx *c);

/* Read w x h RGB8 pixels of `level` whose top-left is level-0 (x, y).
 * Thread-safe with one ctx per thread (ctx may be NULL: a temporary). */
int pfm_slide_read(pfm_slide *s, pfm_slide_ctx *c, int level, int64_t x,
		   int64_t y, int w, int h, uint8_t *rgb, pfm_err *e);

/* The whole slide, w x h pixels of `scale` level-0 pixels each
 * (area-averaged from the best level), read block by block so that a
 * single-level slide is never held whole. For masks and thumbnails. */
int pfm_slide_read_scaled(pfm_slide *s, pfm_slide_ctx *c, double scale,
			  int w, int h, uint8_t *rgb, pfm_err *e);

/* --passthrough: when the w x h region of `level` at level-0 (x, y) is
 * exactly one stored JPEG tile inside the image, set *jpeg (owned by c,
 * valid until the next call with c) to a standalone JPEG of it and return
 * 1; 0 when it is not; -1 on error. */
int pfm_slide_stored_jpeg(pfm_slide *s, pfm_slide_ctx *c, int level,
			  int64_t x, int64_t y, int w, int h,
			  const uint8_t **jpeg, size_t *n, pfm_err *e);

/* Write a pyramidal tiled JPEG TIFF (levels halving until the larger side
 * is below min_side), resolution tags from mpp, for tests and benchmarks
 * (tools/make-slide). Level 0 comes from fill(ctx, x, y, w, h, rgb), called
 * for strips of tile rows in order; memory is a quarter of level 0. */
typedef struct {
	int tile;      /* tile side, multiple of 16; 0 = 256 */
	int quality;   /* 0 = 90 */
	double mpp;    /* 0: no resolution tags */
	int min_side;  /* 0 = 1024 */
	int rgb;       /* RGB JPEG tiles like Aperio's, not YCbCr 4:2:0 */
} pfm_slide_write_opts;
typedef void (*pfm_slide_fill)(void *ctx, int64_t x, int64_t y, int w,
			       int h, uint8_t *rgb);
int pfm_slide_write_tiff(const char *path, int64_t w, int64_t h,
			 pfm_slide_fill fill, void *ctx,
			 const pfm_slide_write_opts *o, pfm_err *e);

/* --slides FILE: one path per line, or CSV with a header holding slide_id
 * and path; every other column goes to meta. Relative paths are taken
 * from FILE's folder (from the current one for "-", standard input). */
typedef struct {
	char *id, *path;
	int ncols;
	char **keys, **vals; /* the other columns */
} pfm_slide_entry;

typedef struct {
	pfm_slide_entry *v;
	int n, cap;
} pfm_slide_list;

int pfm_slide_list_read(pfm_slide_list *l, const char *file, pfm_err *e);
/* Append a path (slide_id: base name without extension). */
int pfm_slide_list_add(pfm_slide_list *l, const char *path, pfm_err *e);
/* An ImageFolder tree, DIR/CLASS/IMAGE: every image, sorted, with the
 * class as its label and CLASS/NAME as its slide_id. */
int pfm_slide_list_add_dir(pfm_slide_list *l, const char *dir, pfm_err *e);
void pfm_slide_list_free(pfm_slide_list *l);

#endif
