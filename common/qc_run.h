/* qc_run.h: tile-filter's engine. Frames in; each tile frame decoded
 * once (jpeg or rgb8), measured (qc.h), annotated with a "qc" map, then
 * kept or dropped; other frames pass unchanged. Dropped tiles can go to
 * a second output; a summary goes through warn at the end and, on
 * request, a JSON report to a file. */
#ifndef PFM_QC_RUN_H
#define PFM_QC_RUN_H

#include "io.h"
#include "qc.h"

typedef struct {
	const char **inputs;  /* endpoint specs; one "-" by default */
	int ninputs;
	const char *output;   /* NULL = "-" */
	const char *dropped;  /* dropped tiles go here; NULL: discarded */
	const char *report;   /* JSON report file; NULL: none */
	pfm_qc_opts qc;
	pfm_qc_limits limits;
	int annotate_only;    /* keep every tile, annotated */
	int keep_going;       /* bad tile frames: drop, count, go on */
	int progress, quiet;  /* quiet: no progress line, no summary */
	pfm_io_opts io;
} pfm_qc_run_opts;

/* Exit code: 0 ok; 1 a bad tile frame (with keep_going: after the
 * rest; each is reported through warn) or an I/O error (e filled);
 * when the reader of the output went away, 0 with e->code == EPIPE. */
int pfm_qc_run(const pfm_qc_run_opts *o, void (*warn)(const char *, ...),
	       pfm_err *e);

#endif
