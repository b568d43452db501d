/* worklink.h: the worker end of frame-hub, behind a program's reader and
 * writer on "hub:ENDPOINT" (io.h). Internal to the transports.
 *
 * The program's reader and writer on the same spec share one link: a
 * DEALER socket to the hub driven by an agent thread, so heartbeats go
 * out and the hub's are heard while the stage computes. The reader takes
 * frames (the hub sends only as many as the worker has asked for: credit)
 * and tells the hub which one the stage has taken; the writer returns
 * outputs named by the _seq of the frame they came from (frameid.h). A
 * program needs to know none of this. */
#ifndef PFM_WORKLINK_H
#define PFM_WORKLINK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "io.h"

typedef struct pfm_worklink pfm_worklink;

/* The link for spec ("hub:..."), made on first use; writer says which
 * side attaches. NULL with e filled if that side is already attached. */
pfm_worklink *pfm_worklink_attach(const char *spec, int writer,
				  const pfm_io_opts *o, pfm_err *e);

/* Reader: the next frame (with _seq added; valid until the next call)
 * in *p, *n, its seq (its index in the hub's input) in *seq: 1; 0 at
 * the end of the hub's stream; -1 error. */
int pfm_worklink_next(pfm_worklink *l, const char **p, size_t *n,
		      uint64_t *seq, pfm_err *e);

/* Writer: one output frame. 0 sent, 1 it was a sync frame (taken back,
 * not an output), -1 error. */
int pfm_worklink_put(pfm_worklink *l, const char *p, size_t n, pfm_err *e);

/* Detach a side. For the writer, complete says the stage finished what
 * it took; otherwise the hub sends those frames to other workers. The
 * last side to detach ends the link (waits for the agent). 0 or -1. */
int pfm_worklink_detach(pfm_worklink *l, int writer, int complete,
			pfm_err *e);

#endif
