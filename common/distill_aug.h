/* distill_aug.h: DINOv2's multi-crop augmentation and iBOT block masks,
 * in C, seeded (dinov2/data/augmentations.py, transforms.py, masking.py,
 * collate.py; torchvision 0.14's transforms on PIL images).
 *
 * Per tile, on its 8-bit RGB pixels, each crop:
 *   RandomResizedCrop(size, scale, ratio 3/4..4/3, bicubic) and
 *   RandomHorizontalFlip(0.5); then ColorJitter(0.4, 0.4, 0.2, 0.1) with
 *   probability 0.8 (its four operations in random order, as torchvision),
 *   RandomGrayscale(0.2); GaussianBlur (9 taps, sigma 0.1..2) with
 *   probability 0 (global crop 1), 0.9 (global crop 2), 0.5 (local crops)
 *   -- DINOv2's effective probabilities: its GaussianBlur(p) applies with
 *   probability 1 - p (dinov2 PR #411), and its released models were
 *   trained so; RandomSolarize(128, 0.2) on global crop 2; optionally
 *   HED stain jitter (not in DINOv2/GPFM, off by default); ToTensor and
 *   Normalize(ImageNet mean, std).
 * Each operation is PIL's / torchvision's arithmetic (blend with
 * truncation, ITU-R 601 luma in fixed point, PIL's HSV conversion,
 * reflect-padded float blur rounded back to 8 bits; the resize is
 * preprocess.h's, equal to PIL's): given the same random parameters a
 * crop equals torchvision 0.14 / Pillow 9.4's bit for bit
 * (tests/test_distill.c checks each operation on an H&E tile). The random
 * draws themselves are ours, not torch's generator.
 *
 * Random numbers: splitmix64 (rng.h); a tile's crops draw from one
 * generator, seeded from (seed, step, tile), in a fixed order, so a run
 * is reproducible from --seed and a resumed run draws what the
 * uninterrupted one would have. */
#ifndef PFM_DISTILL_AUG_H
#define PFM_DISTILL_AUG_H

#include <stdint.h>

#include "err.h"
#include "rng.h"

typedef struct {
	int augment;                   /* 0: whole tile resized, no randomness */
	int global_size, local_size, n_local;
	double gscale[2], lscale[2];   /* RandomResizedCrop scale ranges */
	double flip;                   /* 0.5 */
	double jitter_p;               /* 0.8 */
	double brightness, contrast, saturation, hue; /* 0.4 0.4 0.2 0.1 */
	double gray_p;                 /* 0.2 */
	double blur_p[3];              /* global 1, global 2, local */
	double blur_sigma[2];          /* 0.1, 2.0 */
	double solarize_p;             /* 0.2, global crop 2 */
	double hed_sigma;              /* HED jitter strength; 0: off */
	float mean[3], std[3];
} pfm_aug_opts;

void pfm_aug_defaults(pfm_aug_opts *o);

/* A crop's region of the tile, in tile pixels, and whether it was
 * mirrored. */
typedef struct {
	double y0, x0, h, w;
	int flip;
} pfm_crop_box;

typedef struct pfm_aug_ws pfm_aug_ws;
pfm_aug_ws *pfm_aug_ws_new(void);
void pfm_aug_ws_free(pfm_aug_ws *w);

/* The crops of one tile rgb[h, w, 3]: global[c] -> 3 x G x G floats
 * (c = 0, 1), local[j] -> 3 x L x L (j < n_local); box[c]: the global
 * crops' regions. */
int pfm_aug_tile(const pfm_aug_opts *o, pfm_aug_ws *ws, const uint8_t *rgb,
		 int w, int h, pfm_rng *r, float *const global[2],
		 float *const *local, pfm_crop_box box[2], pfm_err *e);

/* One colour operation on rgb[H, W, 3] in place, for tests: 0
 * brightness, 1 contrast, 2 saturation, 3 hue (factors as torchvision's
 * adjust_*), 4 grayscale, 5 Gaussian blur (f = sigma), 6 solarize
 * (threshold 128), 7 HED jitter with alpha = 1 + f, beta = f / 2 on
 * every stain. */
int pfm_aug_op(uint8_t *rgb, int W, int H, int op, double f);

/* iBOT masks of a batch of n global crops of a gh x gw grid (DINOv2's
 * collate_data_and_cast and MaskingGenerator): int(n * prob) crops get
 * block masks of int(N * U(p_i, p_i+1)) patches, p = linspace(min, max),
 * the others none, in shuffled order. mask[n, gh*gw]. */
void pfm_aug_masks(uint8_t *mask, int n, int gh, int gw, double prob,
		   double min_ratio, double max_ratio, pfm_rng *r);

#endif
