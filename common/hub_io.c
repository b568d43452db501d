/* hub_io.c: frame-hub's input and output threads. Reading and writing
 * block (a pipe, a slow sink); the loop must not, or heartbeats would
 * stop. Each thread owns its end of an inproc pipe with a small
 * high-water mark, so a slow output stops the loop taking frames and a
 * loop with no room stops the input thread reading: backpressure reaches
 * the producer. */
#include "hub_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curve.h"
#include "endpoint.h"
#include "frameid.h"

enum { REPORT_EPIPE = 4 };

static void *input_main(void *arg)
{
	hub_t *h = arg;
	pfm_frame f;
	pfm_err e = {0};
	int rc;
	while ((rc = pfm_read(h->r, &f)) == 1) {
		size_t at, len, val;
		int has = pfm_map_find(f.raw, f.raw_len, PFM_SEQ_KEY, &at, &len,
				       &val, &e);
		if (has > 0)
			pfm_errf(&e, "frame %llu has the key %s, which "
				 "frame-hub keeps for frame ids",
				 (unsigned long long)f.index, PFM_SEQ_KEY);
		else if (!has && pfm_frame_is(&f, PFM_T_SYNC))
			has = pfm_errf(&e, "frame %llu is of type %s, which "
				       "frame-hub keeps for its workers",
				       (unsigned long long)f.index, PFM_T_SYNC);
		if (has) {
			pfm_err_prefix(&e, "%s", pfm_reader_name(h->r));
			break;
		}
		zmq_msg_t m;
		if (zmq_msg_init_size(&m, f.raw_len)) {
			pfm_errf(&e, "out of memory");
			rc = -1;
			break;
		}
		memcpy(zmq_msg_data(&m), f.raw, f.raw_len);
		pfm_hubmsg hm = {.cmd = PFM_HUB_WORK};
		if (pfm_hub_send(h->in_end, NULL, &hm, &m, NULL, 0)) {
			zmq_msg_close(&m);
			break; /* the loop is gone (ETERM) */
		}
	}
	pfm_hubmsg hm = {.cmd = rc == 0 ? PFM_HUB_END : PFM_HUB_FAIL,
			 .a = pfm_reader_count(h->r)};
	if (rc < 0 && !e.msg[0])
		pfm_errf(&e, "%s", pfm_reader_error(h->r));
	if (rc <= 0 || e.msg[0])
		pfm_hub_send(h->in_end, NULL, &hm, NULL,
			     hm.cmd == PFM_HUB_FAIL ? e.msg : NULL, 0);
	zmq_close(h->in_end);
	return NULL;
}

static void report(hub_t *h, int cmd, uint32_t flags, const char *text)
{
	pfm_hubmsg m = {.cmd = cmd, .flags = flags};
	pfm_hub_send(h->out_end, NULL, &m, NULL, text, 0);
}

static void *output_main(void *arg)
{
	hub_t *h = arg;
	int failed = 0;
	for (;;) {
		pfm_hubmsg m;
		zmq_msg_t body;
		int has;
		zmq_msg_init(&body);
		int rc = pfm_hub_recv(h->out_end, NULL, &m, &body, &has, 0, NULL);
		if (rc <= 0) {
			zmq_msg_close(&body);
			if (rc < 0 || errno == ETERM)
				break;
			continue;
		}
		if (m.cmd == PFM_HUB_OUT && has && !failed &&
		    pfm_write_raw(h->w, zmq_msg_data(&body), zmq_msg_size(&body))) {
			failed = 1;
			report(h, PFM_HUB_FAIL,
			       pfm_writer_epipe(h->w) ? REPORT_EPIPE : 0,
			       pfm_writer_error(h->w));
		}
		zmq_msg_close(&body);
		if (m.cmd == PFM_HUB_CLOSE) {
			pfm_err e = {0};
			int bad = pfm_writer_close(h->w, !failed && m.flags, &e);
			h->w = NULL;
			if (!failed)
				report(h, bad ? PFM_HUB_FAIL : PFM_HUB_END,
				       e.code == EPIPE ? REPORT_EPIPE : 0,
				       bad ? e.msg : NULL);
			break;
		}
	}
	zmq_close(h->out_end);
	return NULL;
}

/* The I/O threads' pipes: two frames in flight each way. */
static void *pipe_end(void *ctx, const char *addr, int bind)
{
	return pfm_zmq_pair(ctx, addr, bind, 2, 2);
}

int hub_io_start(hub_t *h)
{
	if (!(h->in_pipe = pipe_end(h->ctx, "inproc://in", 1)) ||
	    !(h->in_end = pipe_end(h->ctx, "inproc://in", 0)) ||
	    !(h->out_pipe = pipe_end(h->ctx, "inproc://out", 1)) ||
	    !(h->out_end = pipe_end(h->ctx, "inproc://out", 0)))
		return hub_fail(h, "ZeroMQ socket: %s", zmq_strerror(errno));
	if (pthread_create(&h->out_th, NULL, output_main, h))
		return hub_fail(h, "cannot start a thread");
	h->out_run = 1;
	if (pthread_create(&h->in_th, NULL, input_main, h))
		return hub_fail(h, "cannot start a thread");
	h->in_run = 1;
	return 0;
}

/* Threads blocked in a zmq call return on shutdown; one blocked reading a
 * pipe cannot be stopped: it is left to the process's exit, and so is
 * the context it holds. */
static int join(pthread_t th)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	if (pthread_timedjoin_np(th, NULL, &ts) == 0)
		return 0;
	pthread_detach(th);
	return -1;
}

void hub_io_stop(hub_t *h)
{
	int stuck = 0;
	if (h->in_pipe)
		zmq_close(h->in_pipe);
	if (h->out_pipe)
		zmq_close(h->out_pipe);
	h->in_pipe = h->out_pipe = NULL;
	if (h->ctx)
		zmq_ctx_shutdown(h->ctx);
	if (h->in_run && join(h->in_th))
		stuck = 1;
	else if (!h->in_run && h->in_end)
		zmq_close(h->in_end);
	if (h->out_run && join(h->out_th))
		stuck = 1;
	else if (!h->out_run && h->out_end)
		zmq_close(h->out_end);
	if (!stuck) {
		pfm_reader_close(h->r);
		if (h->w)
			pfm_writer_close(h->w, 0, NULL);
		if (h->ctx)
			zmq_ctx_term(h->ctx);
	}
	/* The shutdown above ended the ZAP handler's thread. */
	pfm_zap_join(h->zap);
	h->zap = NULL;
	h->r = NULL;
	h->w = NULL;
	h->ctx = NULL;
}

int hub_take_input(hub_t *h)
{
	pfm_hubmsg m;
	zmq_msg_t body;
	int has;
	zmq_msg_init(&body);
	int rc = pfm_hub_recv(h->in_pipe, NULL, &m, &body, &has, ZMQ_DONTWAIT,
			      h->e);
	if (rc <= 0) {
		zmq_msg_close(&body);
		return rc < 0 ? hub_fail(h, "input: %s", h->e->msg) : 0;
	}
	if (m.cmd == PFM_HUB_WORK && has) {
		hub_slot *s = &h->ring[h->next % h->cap];
		memset(s, 0, sizeof *s);
		zmq_msg_init(&s->in);
		zmq_msg_move(&s->in, &body);
		s->state = S_WAIT;
		s->worker = -1;
		h->next++;
		h->moved = pfm_now();
		zmq_msg_close(&body);
		return 1;
	}
	if (m.cmd == PFM_HUB_FAIL) {
		char text[400];
		snprintf(text, sizeof text, "%.*s",
			 has ? (int)zmq_msg_size(&body) : 0,
			 has ? (char *)zmq_msg_data(&body) : "");
		zmq_msg_close(&body);
		return hub_fail(h, "%s", text);
	}
	zmq_msg_close(&body);
	if (m.cmd == PFM_HUB_END) {
		h->input_done = 1;
		if (m.a != h->next)
			return hub_fail(h, "internal: input counted %llu frames, "
					"the hub %llu", (unsigned long long)m.a,
					(unsigned long long)h->next);
	}
	return 0;
}

void hub_flush_output(hub_t *h)
{
	while (h->oq) {
		hub_out *o = h->oq;
		pfm_hubmsg m = {.cmd = PFM_HUB_OUT};
		size_t n = zmq_msg_size(&o->m);
		if (pfm_hub_send(h->out_pipe, NULL, &m, &o->m, NULL, ZMQ_DONTWAIT))
			return;
		pfm_progress_add(&h->prog, 1, n);
		h->frames_out++;
		h->moved = pfm_now();
		h->oq = o->next;
		if (!h->oq)
			h->oq_last = NULL;
		h->oq_n--;
		zmq_msg_close(&o->m);
		free(o);
	}
}

int hub_output_report(hub_t *h)
{
	pfm_hubmsg m;
	zmq_msg_t body;
	int has;
	zmq_msg_init(&body);
	int rc = pfm_hub_recv(h->out_pipe, NULL, &m, &body, &has, ZMQ_DONTWAIT,
			      h->e);
	if (rc > 0 && m.cmd == PFM_HUB_END)
		h->output_done = 1;
	if (rc > 0 && m.cmd == PFM_HUB_FAIL) {
		char text[400];
		snprintf(text, sizeof text, "%.*s",
			 has ? (int)zmq_msg_size(&body) : 0,
			 has ? (char *)zmq_msg_data(&body) : "");
		hub_fail(h, "%s", text);
		if (m.flags & REPORT_EPIPE)
			h->e->code = EPIPE;
	}
	zmq_msg_close(&body);
	return rc;
}
