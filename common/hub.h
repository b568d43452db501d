/* hub.h: frame-hub, a load-balancing broker for frame streams.
 *
 * Frames come in on the input (any endpoint), go to the workers that
 * connect to the work endpoint (programs run with -i and -o hub:...,
 * worklink.h), and their outputs go out on the output, each exactly once,
 * in input order unless unordered. A worker that dies, hangs past the
 * heartbeat, or fails has its unfinished frames sent to others; outputs
 * that arrive twice are dropped by frame id. Memory is bounded by the
 * window, the reorder span and the high-water marks. See frame-hub(1). */
#ifndef PFM_HUB_H
#define PFM_HUB_H

#include "err.h"
#include "io.h"

typedef struct {
	const char *input, *output; /* endpoint specs; NULL: - */
	const char *work;           /* where workers connect (binds) */
	int unordered;              /* outputs as they come */
	int window;                 /* frames a worker may hold unfinished */
	int reorder;                /* oldest unfinished to newest read */
	int retries;                /* times a frame may be lost with a worker */
	int heartbeat_ms;           /* a worker silent this long is dead */
	int progress, quiet;
	pfm_io_opts io;
	void (*warn)(const char *fmt, ...);
} pfm_hub_opts;

#define PFM_HUB_WINDOW 32
#define PFM_HUB_REORDER 256
#define PFM_HUB_RETRIES 3
#define PFM_HUB_HEARTBEAT_MS 5000

/* Run to the end of the input. 0 ok; -1 with e filled (e->code is EPIPE
 * when the output's reader went away). */
int pfm_hub_run(const pfm_hub_opts *o, pfm_err *e);

#endif
