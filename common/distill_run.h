/* distill_run.h: the distill-step program's work: tile frames (with the
 * experts' emb.NAME / tokens.NAME from `embed --tokens --keep-pixels`
 * stages) in, batches of multi-crops, one training step per batch, one
 * metric frame per step out; checkpoints, resume, stop on a signal. */
#ifndef PFM_DISTILL_RUN_H
#define PFM_DISTILL_RUN_H

#include <signal.h>

#include "distill.h"
#include "distill_aug.h"
#include "err.h"
#include "io.h"

enum { PFM_EXPERT_GRID_CROP, PFM_EXPERT_GRID_TILE };

typedef struct {
	pfm_distill_opts d;
	pfm_aug_opts aug;
	const char *input, *output;
	const char *save;     /* checkpoint path, or NULL */
	const char *teacher;  /* teacher backbone path (NULL: from save) */
	const char *resume;   /* checkpoint to continue from, or NULL */
	const char *name;     /* the teacher's model name */
	const char *run;      /* "run" of the metric frames, or NULL */
	int64_t save_every;   /* steps; 0: only at the end */
	int skip_incomplete;  /* tiles without an expert's field: skipped */
	int expert_grid;      /* PFM_EXPERT_GRID_* */
	int progress, quiet;
	pfm_io_opts io;
	void (*warn)(const char *fmt, ...);
	volatile sig_atomic_t *stop; /* set by a signal: save and stop */
} pfm_distill_run_opts;

/* The teacher path that goes with a checkpoint path: X.safetensors ->
 * X-teacher.safetensors (X -> X-teacher.safetensors otherwise). */
void pfm_distill_teacher_path(const char *save, char *buf, size_t cap);

/* Run. 0 (the input ended, --steps were done, or a stop was asked and
 * honoured), or -1 with e (e->code EPIPE: the reader left). */
int pfm_distill_run(const pfm_distill_run_opts *o, pfm_err *e);

#endif
