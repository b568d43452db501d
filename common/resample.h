/* resample.h: resizing RGB8 images to an exact tile size.
 *
 * Downscale is area averaging: each output pixel is the mean of the source
 * pixels its footprint covers, weighted by the covered fraction (a box
 * filter, exact for integer ratios: 2x2 -> 1 is the rounded mean of four).
 * Upscale (a target finer than the slide's base) is bilinear with pixel
 * centres aligned. Each axis is handled on its own. */
#ifndef PFM_RESAMPLE_H
#define PFM_RESAMPLE_H

#include <stdint.h>

#include "err.h"

/* src is sw x sh RGB8, dst dw x dh RGB8 (rows packed). Same size copies.
 * 0, or -1 when out of memory. */
int pfm_resample_rgb(const uint8_t *src, int sw, int sh, uint8_t *dst,
		     int dw, int dh, pfm_err *e);

/* Area-average one channel of 8-bit samples (masks, thumbnails). */
int pfm_resample_gray(const uint8_t *src, int sw, int sh, uint8_t *dst,
		      int dw, int dh, pfm_err *e);

#endif
