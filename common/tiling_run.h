/* tiling_run.h: wsi-tile's engine. Slides in, tile frames out: a
 * generator (grid plans or random draws) hands jobs in order to N worker
 * threads, which read, resample and encode into a ring of slots; the
 * calling thread writes the slots in order, so the output does not
 * depend on N and memory is bounded by the ring (unordered: as they are
 * ready, same frames in another order). */
#ifndef PFM_TILING_RUN_H
#define PFM_TILING_RUN_H

#include <stdint.h>

#include "err.h"
#include "io.h"
#include "slide.h"
#include "tissue.h"

#define PFM_MAX_MPP 16

typedef struct {
	const char *output;        /* endpoint spec; NULL = "-" */
	pfm_io_opts io;
	const pfm_slide_list *slides;
	int random;                /* random sampling, else grid */
	int nmpp;                  /* 0: each slide's own resolution */
	double mpp[PFM_MAX_MPP], weight[PFM_MAX_MPP];
	int size, stride;          /* target pixels; stride 0 = size */
	double min_tissue;
	int no_mask;               /* tissue everywhere, no mask computed */
	pfm_tissue_opts tissue;
	int64_t count;             /* random: tiles per slide; -1 endless */
	int open;                  /* random: slides open at once */
	int64_t visit;             /* random, endless, more slides than open:
				    * tiles a slide gives before it yields */
	uint64_t seed;
	int jpeg, quality;         /* encoding */
	int passthrough;           /* stored JPEG tiles as they are */
	int threads;
	int unordered;             /* write tiles as they are made */
	int keep_going;
	pfm_slide_opts slide;
	const char *thumb_dir;
	int progress, quiet;
} pfm_wsi_opts;

/* Exit code: 0 ok; 1 a slide failed (with keep_going: after the rest,
 * listed through warn) or output failed (e filled; e->code == EPIPE when
 * the reader went away, which returns 0). */
int pfm_wsi_run(const pfm_wsi_opts *o, void (*warn)(const char *fmt, ...),
		pfm_err *e);

#endif
