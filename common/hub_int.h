/* hub_int.h: frame-hub's state, shared by hub.c (the loop, the frames),
 * hub_workers.c (what workers say) and hub_io.c (input and output
 * threads). */
#ifndef PFM_HUB_INT_H
#define PFM_HUB_INT_H

#include <pthread.h>
#include <stdint.h>
#include <zmq.h>

#include "cli.h"
#include "hub.h"
#include "hubmsg.h"

/* An output frame waiting for its turn or for the writer. */
typedef struct hub_out {
	zmq_msg_t m;
	struct hub_out *next;
} hub_out;

/* A frame from when it is read until its outputs are written: the ring
 * holds seqs base .. next-1. */
enum { S_FREE, S_WAIT, S_SENT, S_DONE };
typedef struct {
	zmq_msg_t in;   /* the frame, kept to send again if it is lost */
	int state;
	int worker;     /* while S_SENT */
	uint32_t got;   /* outputs accepted: later copies are duplicates */
	uint32_t tries; /* workers that took it and died or failed */
	hub_out *out, *last; /* outputs held until their turn (ordered) */
} hub_slot;

typedef struct {
	int live, ended;
	zmq_msg_t id;         /* routing id */
	char name[160];
	int credit;           /* frames it has room for */
	uint64_t *fifo;       /* seqs sent to it, oldest first */
	int fh, fn, fcap;
	int ntaken;           /* the first ntaken of them the stage took */
	uint64_t rx, tx;      /* messages received / sent */
	double heard, told, end_at, starve;
	int marked;           /* a mark is out: its sync frame will come */
	uint64_t mark_seq;
} hub_worker;

typedef struct {
	const pfm_hub_opts *o;
	pfm_err *e;
	int failed;
	void *ctx, *router;
	struct pfm_zap *zap;      /* the router's, with CURVE (curve.h) */
	void *in_pipe, *out_pipe; /* the loop's ends */
	void *in_end, *out_end;   /* the threads' ends */
	pthread_t in_th, out_th;
	int in_run, out_run;
	pfm_reader *r;
	pfm_writer *w;
	/* frames */
	hub_slot *ring;
	uint64_t cap, base, next, fresh;
	uint64_t *re;             /* lost frames to send again, ascending */
	int nre, capre;
	int input_done, closing, output_done;
	hub_out *oq, *oq_last;    /* outputs for the writer thread */
	int oq_n;
	/* workers */
	hub_worker *w_;
	int nw, live;
	int hb_ms;                /* heartbeat interval */
	double moved, none_since, warned_alone;
	double ran;               /* when the heartbeats were last checked */
	uint64_t lost, resent, dups, frames_out;
	pfm_progress prog;
} hub_t;

#define HUB_OQ_MAX 16

/* hub.c */
int hub_fail(hub_t *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void hub_complete(hub_t *h, hub_worker *w, int count);
void hub_deliver(hub_t *h, uint64_t seq, zmq_msg_t *m);
int hub_send(hub_t *h, hub_worker *w, int cmd, uint64_t a, uint64_t b,
	     zmq_msg_t *body, const char *text);

/* hub_workers.c */
void hub_on_message(hub_t *h);
void hub_lose(hub_t *h, hub_worker *w, const char *why, int warn);
void hub_heartbeats(hub_t *h);
void hub_worker_free(hub_worker *w);

/* hub_io.c */
int hub_io_start(hub_t *h);
void hub_io_stop(hub_t *h);
/* Take one message from the input thread: 1 frame read, 0 nothing,
 * -1 failed. */
int hub_take_input(hub_t *h);
/* Hand queued outputs to the writer thread; read its reports. */
void hub_flush_output(hub_t *h);
int hub_output_report(hub_t *h);

#endif
