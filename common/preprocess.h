/* preprocess.h: a tile's pixels to a ViT's input tensor, exactly as the
 * torchvision eval transform of the public pathology models computes it
 * on a PIL image:
 *
 *   Compose([Resize(R or (H, W), interpolation), CenterCrop(C),
 *            ToTensor(), Normalize(mean, std)])
 *
 * Reference: Pillow 9.4.0 (Debian 12's python3-pil) and torchvision 0.14.
 * Output equals it bit for bit (tests/test_preprocess.c checks every
 * float), so an embedding computed here sees the same input as the
 * model's own Python pipeline.
 *
 * Resize(R): the shorter side becomes R, the longer int(R * long / short)
 * (the quotient in double, truncated, as torchvision's
 * _compute_resized_output_size); w <= h counts w as the shorter side.
 * Resize((H, W)) sets both. No resize when the size is already right.
 * timm's eval (crop_pct) is Resize(int(C / crop_pct)): give that R.
 *
 * The 8-bit resize is PIL's Image.resize on an RGB image:
 *  - bicubic (a = -0.5) and bilinear (triangle) filters, separable:
 *    horizontal pass first, rounded and clipped to 8 bits, then the
 *    vertical pass; a pass whose side does not change is skipped;
 *  - antialiased: when shrinking by s > 1 the filter's support (2 for
 *    bicubic, 1 for bilinear) is multiplied by s and its argument
 *    divided by s;
 *  - output pixel i samples around centre (i + 0.5) * in / out; taps from
 *    int(centre - support + 0.5) to int(centre + support + 0.5), clamped
 *    to the image; weights normalised to sum 1 per output pixel in
 *    double, then to 22-bit fixed point (round half away from zero);
 *    sums start at 2^21 and are shifted right by 22, clipped to 0..255;
 *  - nearest: source index int((i + 0.5) * in / out), the position
 *    accumulated by repeated addition of in / out as PIL does;
 *  - same size: a copy.
 *
 * CenterCrop(C): when C is larger than the image on a side, that side is
 * padded with zeros first, (C - n) / 2 (floored) before and the rest
 * after; then the crop starts at round((n - C) / 2) with Python's round
 * (half to even: 1 -> 0, 3 -> 2, 5 -> 2). Padding pixels are 0 and
 * normalise to -mean / std like any 0.
 *
 * ToTensor + Normalize: x = (float)v / 255 then (x - mean) / std, each
 * step rounded to float32 (a 256-entry table per channel). Output is
 * float32 CHW, 3 x crop_h x crop_w. */
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
