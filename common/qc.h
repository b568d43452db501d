/* qc.h: tile quality control. Measures of one RGB8 tile (tissue,
 * background, pen ink, dark artefacts, focus, optional colour
 * statistics) in one pass over its pixels, and the keep/drop decision.
 * tile-filter(1) defines every measure; the pixel rules mirror OpenCV's
 * 8-bit HSV and grey conversions exactly (tests/ref/qc_ref.py checks
 * them on all 2^24 colours) and histolab's pen filters. */
#ifndef PFM_QC_H
#define PFM_QC_H

#include <stdint.h>

#include "err.h"

#define PFM_QC_OTSU (-1) /* sat_threshold: Otsu's, per tile */

typedef struct {
	int sat_threshold; /* tissue: HSV S > this (0..254), or PFM_QC_OTSU */
	int white;         /* near-white: min(R,G,B) >= white (1..255) */
	int black;         /* near-black: V = max(R,G,B) < black (0..255) */
	int stats;         /* colour statistics of the tissue pixels */
} pfm_qc_opts;

/* Defaults, with the evidence in tile-filter(1). */
#define PFM_QC_SAT_DEFAULT 8
#define PFM_QC_WHITE_DEFAULT 220
#define PFM_QC_BLACK_DEFAULT 25
/* Fixed pixel rules: Virchow's HSV rule, dark artefacts. */
#define PFM_QC_HSV_H 90   /* H in [90, 180] (OpenCV's 0..180 scale) */
#define PFM_QC_HSV_S 8    /* S in [8, 255] */
#define PFM_QC_HSV_V 103  /* V in [103, 255] */
#define PFM_QC_DARK_V 80  /* dark: black <= V < 80 ... */
#define PFM_QC_DARK_S 100 /* ... and S >= 100 */

typedef struct {
	int64_t n;           /* pixels */
	int sat_threshold;   /* the threshold used (Otsu's when asked) */
	double tissue;       /* fraction: S > threshold and not near-black */
	double hsv;          /* fraction passing Virchow's HSV rule */
	double white, black; /* near-white, near-black fractions */
	double background;   /* white + black */
	double pen, pen_red, pen_green, pen_blue; /* histolab's ink rules */
	double dark;         /* dark artefact fraction */
	double lapvar;       /* variance of the Laplacian of grey levels */
	double blur;         /* sqrt(mean squared gradient / lapvar), pixels */
	/* with opts.stats, over the tissue pixels (stats_n of them) */
	int64_t stats_n;
	double od_mean[3], od_std[3];   /* optical density, R G B */
	double lab_mean[3], lab_std[3]; /* CIE L*a*b* (D65) */
} pfm_qc;

typedef struct pfm_qc_ctx pfm_qc_ctx;

pfm_qc_ctx *pfm_qc_new(void);
void pfm_qc_free(pfm_qc_ctx *c);
/* Measure w x h RGB8 pixels (row-major, 3 bytes a pixel). */
int pfm_qc_measure(pfm_qc_ctx *c, const uint8_t *rgb, int w, int h,
		   const pfm_qc_opts *o, pfm_qc *m, pfm_err *e);

/* Why a tile is dropped, checked in this order; OK: kept. */
typedef enum {
	PFM_QC_OK, PFM_QC_PEN, PFM_QC_BACKGROUND, PFM_QC_DARK, PFM_QC_BLUR,
	PFM_QC_ERROR, PFM_QC_NREASONS
} pfm_qc_reason;

typedef struct {
	int hsv_rule;      /* tissue fraction: hsv instead of tissue */
	double min_tissue; /* background when the tissue fraction is below */
	double max_pen;    /* pen when the ink fraction is above */
	double max_dark;   /* dark when the dark fraction is above */
	double max_blur;   /* blur when blur is above ... */
	double min_lapvar; /* ... or lapvar below */
} pfm_qc_limits;

#define PFM_QC_MIN_TISSUE_DEFAULT 0.4
#define PFM_QC_MIN_HSV_DEFAULT 0.6 /* Virchow's 60% */
#define PFM_QC_MAX_PEN_DEFAULT 0.06
#define PFM_QC_MAX_DARK_DEFAULT 0.5
#define PFM_QC_MAX_BLUR_DEFAULT 1.0
#define PFM_QC_MIN_LAPVAR_DEFAULT 50

pfm_qc_reason pfm_qc_decide(const pfm_qc *m, const pfm_qc_limits *l);
/* "ok", "pen", "background", "dark", "blur", "error". */
const char *pfm_qc_reason_name(pfm_qc_reason r);

#endif
