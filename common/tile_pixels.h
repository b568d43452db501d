/* tile_pixels.h: a tile frame's pixels as RGB8, whatever their encoding
 * ("jpeg" or "rgb8"), for every stage that looks at pixels (tile-filter,
 * embed). One decoder per thread. */
#ifndef PFM_TILE_PIXELS_H
#define PFM_TILE_PIXELS_H

#include <stdint.h>

#include "err.h"
#include "frame.h"

typedef struct pfm_pixdec pfm_pixdec;

pfm_pixdec *pfm_pixdec_new(void);
void pfm_pixdec_free(pfm_pixdec *d);

/* Decode f's "pixels" per its "encoding", checked against "width" and
 * "height": *rgb points to h*w*3 bytes owned by d (rgb8 pixels point into
 * the frame itself), valid until the next call. -1 with e saying what is
 * wrong (missing pixels, unknown encoding, corrupt JPEG, size mismatch);
 * the caller adds which frame. */
int pfm_tile_rgb(pfm_pixdec *d, const pfm_frame *f, const uint8_t **rgb,
		 int *w, int *h, pfm_err *e);

/* Decode a JPEG held in memory into RGB8 owned by d. */
int pfm_jpeg_rgb(pfm_pixdec *d, const void *jpeg, size_t n,
		 const uint8_t **rgb, int *w, int *h, pfm_err *e);

#endif
