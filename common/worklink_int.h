/* worklink_int.h: what worklink.c (the program's side) and
 * worklink_agent.c (the thread that talks to the hub) share. */
#ifndef PFM_WORKLINK_INT_H
#define PFM_WORKLINK_INT_H

#include <pthread.h>
#include <stdint.h>

#include "hubmsg.h"
#include "worklink.h"

struct pfm_worklink {
	char spec[256];       /* "hub:..." as given */
	const char *eps;      /* the endpoints, after the prefix */
	pfm_io_opts io;
	int reader, writer;   /* sides attached */
	int started, ended;
	int credit;           /* frames the hub may send ahead */
	/* shared between the program's threads and the agent */
	pthread_mutex_t mu;
	int failed, welcomed;
	char why[400];
	uint64_t last_taken;  /* seq of the frame the stage took last */
	int any_taken;
	/* the program's ends of the pipes to the agent */
	void *ctx, *rd, *wr;
	/* the agent's: the hub, and the other ends */
	void *dealer, *ard, *awr;
	struct pfm_zap *zap;  /* a worker that binds with CURVE (curve.h) */
	void *mon;            /* the dealer's handshake failures (the agent's) */
	pthread_t agent;
	/* reader */
	char *buf;
	size_t cap;
	/* writer: output index within the current seq */
	uint64_t out_seq, out_sub;
	int out_any;
	struct pfm_worklink *next;
};

void *pfm_worklink_agent(void *arg);
/* Record the first failure; later calls keep it. */
void pfm_worklink_fail(struct pfm_worklink *l, const char *why);

#endif
