/* tissue.h: where the tissue is, CLAM-style. On a low-resolution read of
 * the slide (mask pixels of about 8 microns): HSV saturation, median
 * blurred, thresholded (Otsu with a floor, or fixed), closed
 * morphologically, then small tissue specks dropped and small holes
 * filled. Very dark pixels (scanner borders) count as background. */
#ifndef PFM_TISSUE_H
#define PFM_TISSUE_H

#include <stdint.h>

#include "err.h"
#include "slide.h"

typedef struct {
	double mpp;        /* mask pixel size, microns; 0 = 8 */
	int threshold;     /* saturation 1..255; 0: Otsu */
	int min_threshold; /* floor under Otsu so blank glass stays empty; 0 = 20 */
	int median;        /* odd median kernel, mask pixels; 0 = 7 */
	int close;         /* closing radius, mask pixels; 0 = 2, -1 none */
	double min_area;   /* drop tissue parts smaller (mm^2); 0 = 0.01 */
	double max_hole;   /* fill holes smaller (mm^2); 0 = 0.01 */
} pfm_tissue_opts;

typedef struct {
	int w, h;           /* mask size */
	double scale;       /* level-0 pixels per mask pixel */
	uint8_t *m;         /* 1 tissue, 0 background; row-major */
	uint32_t *sum;      /* integral image, (w+1) x (h+1) */
	int64_t count;      /* tissue pixels */
	int threshold;      /* the threshold used */
	int level;          /* slide level read */
} pfm_tissue;

int pfm_tissue_compute(pfm_slide *s, pfm_slide_ctx *c,
		       const pfm_tissue_opts *o, pfm_tissue *t, pfm_err *e);
/* A mask that is tissue everywhere (no mask wanted). */
int pfm_tissue_all(pfm_tissue *t, int64_t w0, int64_t h0, pfm_err *e);
/* Build the mask from RGB8 pixels already at mask scale (tests). */
int pfm_tissue_from_rgb(const uint8_t *rgb, int w, int h, double mask_mpp,
			const pfm_tissue_opts *o, pfm_tissue *t, pfm_err *e);
void pfm_tissue_free(pfm_tissue *t);

/* Tissue fraction (0..1) of a level-0 box: exact area coverage of the
 * mask pixels it overlaps. */
double pfm_tissue_fraction(const pfm_tissue *t, double x, double y,
			   double w, double h);

/* Otsu's threshold of a 256-bin histogram. */
int pfm_otsu(const uint64_t hist[256]);

/* --thumbnail: the slide (at most 768 pixels a side) with the tissue
 * outlined and the tiles' boxes drawn, as an RGB PNG. boxes: n level-0
 * x, y, w, h. */
int pfm_tissue_thumbnail(pfm_slide *s, pfm_slide_ctx *c, const pfm_tissue *t,
			 const double *boxes, int64_t n, const char *path,
			 pfm_err *e);
int pfm_png_write(const char *path, const uint8_t *rgb, int w, int h,
		  pfm_err *e);

#endif
