/* qc_stats.h: colour statistics of a tile's tissue pixels (tile-filter
 * --stats) and the saturation histogram behind --sat-threshold otsu.
 * Sums are kept per HSV S value, so the tissue threshold (fixed or
 * Otsu's, known only at the end of the tile) picks them afterwards. */
#ifndef PFM_QC_STATS_H
#define PFM_QC_STATS_H

#include <stdint.h>

#include "qc.h"

typedef struct {
	uint64_t n[256];                  /* not near-black pixels by S */
	/* sums of (value - ref) and its square, ref the first pixel of the
	 * bin (no cancellation in the variance of near-uniform tiles) */
	double od_ref[256][3], lab_ref[256][3];
	double od[256][3], od2[256][3];   /* optical density */
	double lab[256][3], lab2[256][3]; /* CIE L*a*b* */
} pfm_qc_bins;

/* Clear what one tile needs: the histogram, and the sums when stats. */
void pfm_qc_bins_clear(pfm_qc_bins *b, int stats);
/* Add a row of w pixels; pixels with V < black are left out. */
void pfm_qc_bins_row(pfm_qc_bins *b, const uint8_t *rgb, int w, int black,
		     int stats);
/* Means and standard deviations over the pixels with S > thr into m. */
void pfm_qc_bins_stats(const pfm_qc_bins *b, int thr, pfm_qc *m);

/* One pixel's optical densities and L*a*b* (the definitions). */
void pfm_qc_od(unsigned r, unsigned g, unsigned b, double od[3]);
void pfm_qc_lab(unsigned r, unsigned g, unsigned b, double lab[3]);

#endif
