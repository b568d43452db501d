/* qc_kernel.h: the per-row pixel kernels behind pfm_qc_measure (qc.h).
 * A portable one (qc_pixel.c, the definition) and an AVX2 one
 * (qc_avx2.c), chosen at run time; both give identical integers, which
 * tests/test_qc.c checks on every 24-bit colour. */
#ifndef PFM_QC_KERNEL_H
#define PFM_QC_KERNEL_H

#include <stdint.h>

/* Class bits of one pixel (the flags output). */
enum {
	PFM_QC_F_SAT = 1,    /* S > threshold, V >= black */
	PFM_QC_F_HSV = 2,    /* Virchow's HSV rule */
	PFM_QC_F_WHITE = 4,  /* min(R,G,B) >= white */
	PFM_QC_F_BLACK = 8,  /* V < black */
	PFM_QC_F_RED = 16,   /* histolab ink rules */
	PFM_QC_F_GREEN = 32,
	PFM_QC_F_BLUE = 64,
	PFM_QC_F_DARK = 128  /* black <= V < 80 and S >= 100 */
};

/* histolab's ink rules (filters/image_filters_functional.py): a pixel is
 * red ink when R >= r, G <= g, B <= b for one of the triples; green when
 * R <= r, G >= g, B >= b; blue when R <= r, G <= g, B >= b. */
#define PFM_QC_NRED 8
#define PFM_QC_NGREEN 15
#define PFM_QC_NBLUE 12
extern const uint8_t pfm_qc_red[PFM_QC_NRED][3];
extern const uint8_t pfm_qc_green[PFM_QC_NGREEN][3];
extern const uint8_t pfm_qc_blue[PFM_QC_NBLUE][3];
/* OpenCV's RGB2HSV_b tables: round((255 << 12) / v), round((180 << 12)
 * / (6 d)); [0] = 0. */
extern const int32_t *pfm_qc_sdiv, *pfm_qc_hdiv;

/* An S >= k test without OpenCV's table (for the vector kernel): true
 * when 255 d >= k v - ((v - nu) >> 1) and d > 0, except at the listed
 * (v, d) pairs, where OpenCV's rounding gives the opposite. */
typedef struct {
	int k; /* 0: the test is off (always false) */
	int nu, nfix;
	uint8_t fix[64][3]; /* v, d, truth */
} pfm_qc_stest;

typedef struct {
	int sat_thr, white, black;
	pfm_qc_stest sat, s8, s100; /* S > sat_thr, S >= 8, S >= 100 */
	/* Hue >= 90 when green is the maximum and red the minimum: green -
	 * blue <= hmax[d] (d = max - min) */
	uint8_t hmax[256];
	/* the ink rules without the triples another one contains (same
	 * pixels, fewer tests), for the vector kernel */
	int nred, ngreen, nblue;
	uint8_t red[PFM_QC_NRED][3], green[PFM_QC_NGREEN][3],
		blue[PFM_QC_NBLUE][3];
	/* the same thresholds, each repeated 32 times (vector operands):
	 * red triples first, then green, then blue, 3 rows a triple */
	uint8_t vec[3 * (PFM_QC_NRED + PFM_QC_NGREEN + PFM_QC_NBLUE)][32];
} pfm_qc_kparams;

void pfm_qc_kparams_init(pfm_qc_kparams *k, int sat_thr, int white,
			 int black);

typedef struct {
	uint64_t sat, hsv, white, black, red, green, blue, pen, dark;
} pfm_qc_counts;

/* One row of w pixels: counts added to c; grey levels (OpenCV's
 * RGB2GRAY) into grey[0..w); when not NULL, class bits into
 * flags[0..w). */
typedef void (*pfm_qc_row_fn)(const pfm_qc_kparams *k, const uint8_t *rgb,
			      int w, pfm_qc_counts *c, uint8_t *grey,
			      uint8_t *flags);

typedef struct {
	int64_t lap, lap2; /* sum of the Laplacian and of its square */
	int64_t dx2, dy2;  /* sums of squared forward differences */
} pfm_qc_sums;

/* The Laplacian [0 1 0; 1 -4 1; 0 1 0] of row mid, whose neighbours are
 * up and down (rows of w grey levels with mid[-1] and mid[w] valid: the
 * borders, reflected); the horizontal differences of mid (x < w - 1),
 * and when dy, the vertical ones down - mid. */
typedef void (*pfm_qc_lap_fn)(const uint8_t *up, const uint8_t *mid,
			      const uint8_t *down, int w, int dy,
			      pfm_qc_sums *s);

void pfm_qc_row_scalar(const pfm_qc_kparams *k, const uint8_t *rgb, int w,
		       pfm_qc_counts *c, uint8_t *grey, uint8_t *flags);
void pfm_qc_lap_scalar(const uint8_t *up, const uint8_t *mid,
		       const uint8_t *down, int w, int dy, pfm_qc_sums *s);
/* The class bits of one pixel, its S and grey level (the definition). */
unsigned pfm_qc_pixel(const pfm_qc_kparams *k, unsigned r, unsigned g,
		      unsigned b, unsigned *s, unsigned *grey);

/* The fastest kernels this CPU runs (AVX2 on x86-64 when present);
 * force_scalar (tests, PFM_QC_SCALAR=1 in the environment) picks the
 * portable ones. Returns the name: "avx2" or "scalar". */
const char *pfm_qc_kernels(int force_scalar, pfm_qc_row_fn *row,
			   pfm_qc_lap_fn *lap);

#endif
