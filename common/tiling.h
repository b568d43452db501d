/* tiling.h: which tiles to read. A read spec turns a target resolution
 * into a pyramid level and a region size; a grid plan lists tile
 * positions in row-major order; the random sampler draws positions
 * uniformly over tissue. */
#ifndef PFM_TILING_H
#define PFM_TILING_H

#include <stdint.h>

#include "err.h"
#include "slide.h"
#include "tissue.h"

/* Levels within this fraction of the target count as not coarser. */
#define PFM_LEVEL_TOL 0.02

typedef struct {
	double mpp;    /* target microns per pixel */
	double f;      /* target downsample from level 0: mpp / slide mpp */
	int level;     /* level read */
	double ds;     /* its downsample */
	int src;       /* side of the region read at that level */
	int size;      /* side of the tile */
	double foot;   /* side of the tile in level-0 pixels: size * f */
} pfm_read_spec;

/* mpp 0: the slide's own level-0 resolution. */
int pfm_read_spec_init(pfm_read_spec *r, const pfm_slide *s, double mpp,
		       int size, double tol, pfm_err *e);

typedef struct {
	int64_t x, y;    /* level-0 top-left */
	int64_t index;   /* position in the full grid (row-major) */
	float tissue;
} pfm_tile_pos;

typedef struct {
	pfm_tile_pos *v;
	int64_t n, cap;
	int64_t cols, rows; /* of the full grid */
} pfm_grid;

/* Every grid position (stride in target pixels) whose tile lies inside
 * level 0 and has a tissue fraction of at least min_tissue. */
int pfm_grid_plan(const pfm_slide *s, const pfm_read_spec *r, int stride,
		  const pfm_tissue *t, double min_tissue, pfm_grid *g,
		  pfm_err *e);
void pfm_grid_free(pfm_grid *g);

/* xoshiro256** seeded through splitmix64: the same seed, the same
 * stream on every machine. */
typedef struct {
	uint64_t s[4];
} pfm_rng;
void pfm_rng_seed(pfm_rng *r, uint64_t seed);
uint64_t pfm_rng_next(pfm_rng *r);
double pfm_rng_unit(pfm_rng *r);          /* [0, 1) */
uint64_t pfm_rng_below(pfm_rng *r, uint64_t n); /* [0, n) */

/* The tissue pixels of a mask, for drawing uniformly over tissue. */
typedef struct {
	int32_t *px;
	int64_t n;
} pfm_tissue_index;
int pfm_tissue_index_init(pfm_tissue_index *ti, const pfm_tissue *t,
			  pfm_err *e);
void pfm_tissue_index_free(pfm_tissue_index *ti);

/* Draw a tile position: a point uniform over the tissue pixels becomes
 * the tile's centre (clamped inside the slide); kept when its tissue
 * fraction is at least min_tissue, else drawn again, up to `tries`
 * times. 1: found, 0: none (no tissue, or too little anywhere). */
int pfm_random_pos(const pfm_slide *s, const pfm_read_spec *r,
		   const pfm_tissue *t, const pfm_tissue_index *ti,
		   double min_tissue, pfm_rng *rng, int tries,
		   pfm_tile_pos *out);

#endif
