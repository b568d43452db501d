/* preprocess.h: a tile's pixels to a ViT's input tensor. The text below
 * is also man/src/embed-preprocessing.roff (embed(1), PREPROCESSING).
 *
 * Each tile's pixels become the model's input tensor exactly as the
 * torchvision eval transform of the public pathology models computes it
 * on a PIL image:
 *
 *   Compose([Resize(R or (H, W), interpolation),
 *            CenterCrop(C), ToTensor(), Normalize(mean, std)])
 *
 * The reference is Pillow 9.4.0 (Debian 12's python3-pil) with
 * torchvision 0.14: the output equals it bit for bit, every float32 of it
 * (tests/test_preprocess.c), so an embedding computed here sees the same
 * input as the model's own Python pipeline. JPEG pixels are decoded with
 * libjpeg-turbo's accurate integer DCT and smooth (fancy) chroma
 * upsampling, which is what PIL's Image.open(...).convert("RGB") does: the
 * decoded bytes are the same, for 4:4:4, 4:2:2 and 4:2:0 subsampling, grey
 * JPEGs and Aperio's RGB-coded tiles.
 *
 * Resize. Resize(R) makes the shorter side R and the longer one
 * int(R * long / short), the quotient in double precision and truncated,
 * as torchvision's _compute_resized_output_size (a square or a tile with
 * width <= height takes the width as its shorter side). Resize((H, W))
 * sets both sides. A tile already of that size is not resized. timm's eval
 * transform with a crop fraction is Resize(int(C / crop_pct)) followed by
 * CenterCrop(C).
 *
 * The 8-bit resize is PIL's Image.resize on an RGB image:
 *  - bicubic (a = -0.5) and bilinear (triangle) filters, applied
 *    separably: the horizontal pass first, its result rounded and clipped
 *    to 8 bits, then the vertical pass; a pass whose side does not change
 *    is skipped;
 *  - antialiased: when a side shrinks by a factor s > 1, the filter's
 *    support (2 for bicubic, 1 for bilinear) is multiplied by s and its
 *    argument divided by s;
 *  - output pixel i samples around the centre (i + 0.5) * in / out, taking
 *    source pixels from int(centre - support + 0.5) to
 *    int(centre + support + 0.5), clamped to the image; its weights are
 *    normalised to sum 1 in double precision, then converted to 22-bit
 *    fixed point, rounding halves away from zero; each sum starts at 2^21
 *    and is shifted right by 22 bits and clipped to 0..255;
 *  - nearest: the source pixel int((i + 0.5) * in / out), the position
 *    accumulated by repeated addition of in / out in double precision, as
 *    PIL does;
 *  - a resize to the same size is a copy.
 *
 * Centre crop. CenterCrop(C) first pads any side shorter than C with
 * zeros, (C - n) / 2 (rounded down) before and the rest after; the crop
 * then starts at round((n - C) / 2) with Python's round, which takes
 * halves to the even neighbour (an excess of 1 starts at 0, 3 at 2, 5 at
 * 2). Padding pixels are 0 and normalise to -mean / std like any 0.
 *
 * Normalisation. ToTensor and Normalize give, for a byte v of channel c,
 * x = v / 255 and then (x - mean[c]) / std[c], each step rounded to
 * float32 (mean and std are float32, as torch holds them). The tensor is
 * float32, channels first: 3 x C x C (3 x H x W for a crop of H x W).
 *
 * Sides above 65536 pixels, in the tile, the resize or the crop, are
 * refused as errors. */
#ifndef PFM_PREPROCESS_H
#define PFM_PREPROCESS_H

#include <stdint.h>

#include "err.h"

typedef enum {
	PFM_INTERP_BICUBIC,
	PFM_INTERP_BILINEAR,
	PFM_INTERP_NEAREST
} pfm_interp;

typedef struct {
	int resize;             /* shorter side -> resize; 0 = no resize */
	int resize_w, resize_h; /* both > 0: Resize((h, w)); resize must be 0 */
	int crop_w, crop_h;     /* centre crop, zero-padded when larger */
	pfm_interp interp;
	float mean[3], std[3];
} pfm_prep;

/* Sides above this are refused (as input, resize or crop). */
#define PFM_PREP_SIDE_MAX 65536

/* Scratch reused across calls (coefficients, buffers): one per thread. */
typedef struct pfm_prep_ws pfm_prep_ws;

pfm_prep_ws *pfm_prep_ws_new(void);
void pfm_prep_ws_free(pfm_prep_ws *ws);

/* Is p usable (sizes, interpolation, std != 0)? For checking options
 * once at start-up; pfm_prep_run checks again. */
int pfm_prep_check(const pfm_prep *p, pfm_err *e);

/* rgb (w x h x 3, rows packed) -> out: float32 CHW, 3 x crop_h x crop_w,
 * normalised. 0, or -1 with e set (bad arguments, out of memory). */
int pfm_prep_run(const pfm_prep *p, pfm_prep_ws *ws, const uint8_t *rgb,
		 int w, int h, float *out, pfm_err *e);

/* The 8-bit resize alone, PIL's Image.resize((dw, dh), filter) of an RGB
 * image: src sw x sh x 3 -> dst dw x dh x 3 (rows packed, no overlap). */
int pfm_resize_pil(pfm_prep_ws *ws, const uint8_t *src, int sw, int sh,
		   uint8_t *dst, int dw, int dh, pfm_interp interp,
		   pfm_err *e);

#endif
