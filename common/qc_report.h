/* qc_report.h: tile-filter's counts, the end-of-stream summary line and
 * the JSON report (--report). */
#ifndef PFM_QC_REPORT_H
#define PFM_QC_REPORT_H

#include <stdint.h>

#include "err.h"
#include "qc.h"
#include "qc_run.h"

enum { PFM_QC_NMEANS = 12 };

typedef struct {
	uint64_t tiles;                      /* tile frames read */
	uint64_t reasons[PFM_QC_NREASONS];   /* decisions (OK = kept) */
	uint64_t written, dropped_written;   /* tiles to the two outputs */
	uint64_t other;                      /* other frames passed */
	uint64_t measured;
	double sum[PFM_QC_NMEANS];           /* of the measures below */
} pfm_qc_tally;

/* Names of the averaged measures, in pfm_qc order. */
extern const char *const pfm_qc_mean_names[PFM_QC_NMEANS];

void pfm_qc_tally_add(pfm_qc_tally *t, const pfm_qc *m);
/* "N tiles: K kept, D dropped (pen a, background b, ...); M other
 * frames passed" through warn. */
void pfm_qc_summary(const pfm_qc_tally *t, const pfm_qc_run_opts *o,
		    void (*warn)(const char *, ...));
/* The report as JSON to path (a file, written whole then renamed into
 * place; a device or FIFO in place). */
int pfm_qc_report_write(const char *path, const pfm_qc_tally *t,
			const pfm_qc_run_opts *o, pfm_err *e);

#endif
