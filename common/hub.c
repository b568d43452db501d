/* hub.c: frame-hub's loop: frames from the input thread into the ring,
 * out to workers with credit, outputs back in order (or as they come) to
 * the output thread; marks when a worker holds frames that nothing else
 * will push out; the end. What workers say is handled in hub_workers.c. */
#include "hub_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curve.h"
#include "endpoint.h"

int hub_fail(hub_t *h, const char *fmt, ...)
{
	if (!h->failed) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(h->e->msg, sizeof h->e->msg, fmt, ap);
		va_end(ap);
		h->failed = 1;
	}
	return -1;
}

int hub_send(hub_t *h, hub_worker *w, int cmd, uint64_t a, uint64_t b,
	     zmq_msg_t *body, const char *text)
{
	pfm_hubmsg m = {.cmd = cmd, .n = w->tx + 1, .a = a, .b = b};
	if (pfm_hub_send(h->router, &w->id, &m, body, text, ZMQ_DONTWAIT))
		return -1;
	w->tx++;
	w->told = pfm_now();
	return 0;
}

/* Past the oldest frames that are done: their outputs, in order, to the
 * writer's queue; their places in the ring to new frames. */
static void advance(hub_t *h)
{
	while (h->base < h->next) {
		hub_slot *s = &h->ring[h->base % h->cap];
		if (s->state != S_DONE)
			break;
		for (hub_out *o = s->out; o; o = o->next)
			h->oq_n++;
		if (s->out) {
			if (h->oq_last)
				h->oq_last->next = s->out;
			else
				h->oq = s->out;
			h->oq_last = s->last;
		}
		s->out = s->last = NULL;
		s->state = S_FREE;
		h->base++;
	}
}

void hub_complete(hub_t *h, hub_worker *w, int count)
{
	for (int i = 0; i < count && w->fn; i++) {
		uint64_t seq = w->fifo[w->fh];
		w->fh = (w->fh + 1) % w->fcap;
		w->fn--;
		if (w->ntaken)
			w->ntaken--;
		hub_slot *s = &h->ring[seq % h->cap];
		s->state = S_DONE;
		s->worker = -1;
		zmq_msg_close(&s->in);
		zmq_msg_init(&s->in);
		if (w->marked && seq >= w->mark_seq)
			w->marked = 0;
	}
	if (!w->fn)
		w->marked = 0;
	w->starve = 0;
	h->moved = pfm_now();
	advance(h);
}

void hub_deliver(hub_t *h, uint64_t seq, zmq_msg_t *m)
{
	hub_out *o = malloc(sizeof *o);
	if (!o) {
		hub_fail(h, "out of memory");
		return;
	}
	zmq_msg_init(&o->m);
	zmq_msg_move(&o->m, m);
	o->next = NULL;
	h->moved = pfm_now();
	if (h->o->unordered) {
		*(h->oq_last ? &h->oq_last->next : &h->oq) = o;
		h->oq_last = o;
		h->oq_n++;
		return;
	}
	hub_slot *s = &h->ring[seq % h->cap];
	*(s->last ? &s->last->next : &s->out) = o;
	s->last = o;
}

/* The live worker with room that holds the fewest frames. */
static hub_worker *pick(hub_t *h)
{
	hub_worker *best = NULL;
	for (int i = 0; i < h->nw; i++) {
		hub_worker *w = &h->w_[i];
		if (w->live && !w->ended && w->credit > 0 && w->fn < w->fcap &&
		    (!best || w->fn < best->fn))
			best = w;
	}
	return best;
}

static void requeue_front(hub_t *h, uint64_t seq)
{
	memmove(h->re + 1, h->re, (size_t)h->nre * sizeof *h->re);
	h->re[0] = seq;
	h->nre++;
}

static void dispatch(hub_t *h)
{
	while (!h->failed && (h->nre || h->fresh < h->next)) {
		hub_worker *w = pick(h);
		if (!w)
			return;
		uint64_t seq;
		if (h->nre) {
			seq = h->re[0];
			memmove(h->re, h->re + 1, (size_t)--h->nre * sizeof *h->re);
		} else {
			seq = h->fresh++;
		}
		hub_slot *s = &h->ring[seq % h->cap];
		zmq_msg_t c;
		zmq_msg_init(&c);
		zmq_msg_copy(&c, &s->in);
		if (hub_send(h, w, PFM_HUB_WORK, seq, 0, &c, NULL)) {
			zmq_msg_close(&c);
			requeue_front(h, seq);
			hub_lose(h, w, "cannot be reached", 1);
			continue;
		}
		s->state = S_SENT;
		s->worker = (int)(w - h->w_);
		w->fifo[(w->fh + w->fn++) % w->fcap] = seq;
		w->credit--;
	}
}

static int want_input(hub_t *h)
{
	if (h->input_done || h->failed || h->next - h->base >= h->cap ||
	    h->oq_n >= HUB_OQ_MAX)
		return 0;
	int waiting = (int)(h->next - h->fresh);
	return waiting < (h->live > 2 ? h->live : 2);
}

/* A worker that would take more but cannot get any while it holds
 * frames (its window is full, or nothing else can come: the input has
 * ended or the ring is full) may be a stage waiting to fill a batch: a
 * mark makes it give back what it holds. At the end a worker that has
 * not answered in time is ended instead (a stage that drops frames it
 * does not know finishes them when its input ends). */
static void marks(hub_t *h, double now)
{
	int nothing = !h->nre && h->fresh == h->next;
	int end_phase = h->input_done && nothing;
	int stuck = h->input_done || h->next - h->base >= h->cap;
	double grace = 2.0 * h->hb_ms / 1e3 > 1 ? 2.0 * h->hb_ms / 1e3 : 1;
	for (int i = 0; i < h->nw; i++) {
		hub_worker *w = &h->w_[i];
		if (!w->live || w->ended || !w->fn)
			continue;
		if (!(w->credit > 0 && (w->fn >= w->fcap || (nothing && stuck)))) {
			w->starve = 0;
			continue;
		}
		if (!w->starve)
			w->starve = now;
		/* A full window cannot change by waiting; a full ring may
		 * (outputs on their way): give it a moment. */
		if (!w->marked && (end_phase || w->fn >= w->fcap ||
				   now - w->starve >= 0.02)) {
			uint64_t last = w->fifo[(w->fh + w->fn - 1) % w->fcap];
			if (hub_send(h, w, PFM_HUB_MARK, last, 0, NULL, NULL)) {
				hub_lose(h, w, "cannot be reached", 1);
				continue;
			}
			w->marked = 1;
			w->mark_seq = last;
			w->end_at = now + grace;
		} else if (w->marked && end_phase && now >= w->end_at) {
			if (hub_send(h, w, PFM_HUB_END, h->next, 0, NULL, NULL))
				hub_lose(h, w, "cannot be reached", 1);
			else
				w->ended = 1;
		}
	}
}

static void timeouts(hub_t *h, double now)
{
	int busy = h->base < h->next;
	int tmo = h->o->io.timeout_ms;
	if (h->live)
		h->none_since = 0;
	else if (!h->none_since)
		h->none_since = now;
	if (busy && !h->live && now - h->none_since > 5 &&
	    h->warned_alone < h->none_since && h->o->warn) {
		h->o->warn("%llu frames wait for a worker to connect to %s",
			   (unsigned long long)(h->next - h->base), h->o->work);
		h->warned_alone = now;
	}
	if (tmo > 0 && busy && (now - h->moved) * 1e3 > tmo) {
		int held = 0;
		for (int i = 0; i < h->nw; i++)
			held += h->w_[i].live ? h->w_[i].fn : 0;
		hub_fail(h, "no frame moved for %.1f s (timeout): %d workers "
			 "hold %d frames, %llu wait to be sent%s", tmo / 1e3,
			 h->live, held,
			 (unsigned long long)(h->next - h->fresh + h->nre),
			 h->live ? "; does a stage drop the sync frames it does "
				   "not know, or take longer than that?"
				 : "; no worker is connected");
	}
}

/* Input done and every output handed to the writer: close it. */
static void finish(hub_t *h)
{
	if (h->closing || !h->input_done || h->base != h->next || h->oq)
		return;
	pfm_hubmsg m = {.cmd = PFM_HUB_CLOSE, .flags = 1};
	if (!pfm_hub_send(h->out_pipe, NULL, &m, NULL, NULL, ZMQ_DONTWAIT))
		h->closing = 1;
}

static int poll_once(hub_t *h)
{
	int nothing_yet = 0;
	for (int i = 0; i < h->nw; i++)
		if (h->w_[i].live && h->w_[i].starve && !h->w_[i].marked)
			nothing_yet = 1;
	long ms = nothing_yet ? 20 : h->hb_ms / 2 < 100 ? h->hb_ms / 2 : 100;
	zmq_pollitem_t it[3] = {
		{h->router, 0, ZMQ_POLLIN, 0},
		{h->out_pipe, 0, (short)(ZMQ_POLLIN | (h->oq ? ZMQ_POLLOUT : 0)), 0},
		{h->in_pipe, 0, ZMQ_POLLIN, 0}};
	int rc = zmq_poll(it, want_input(h) ? 3 : 2, ms);
	if (rc < 0 && errno != EINTR)
		return hub_fail(h, "poll: %s", zmq_strerror(errno));
	return 0;
}

static int loop(hub_t *h)
{
	double ended_at = 0;
	for (;;) {
		if (poll_once(h))
			return -1;
		for (int k = 0; k < 256 && !h->failed; k++) {
			zmq_pollitem_t it = {h->router, 0, ZMQ_POLLIN, 0};
			if (zmq_poll(&it, 1, 0) <= 0)
				break;
			hub_on_message(h);
		}
		while (!h->failed && hub_output_report(h) > 0)
			;
		while (!h->failed && want_input(h) && hub_take_input(h) > 0)
			;
		dispatch(h);
		hub_flush_output(h);
		double now = pfm_now();
		marks(h, now);
		hub_heartbeats(h);
		timeouts(h, now);
		finish(h);
		if (h->failed)
			return -1;
		if (h->output_done) {
			/* Everything is written: let the workers go, and
			 * wait a little for their goodbyes. */
			if (!ended_at) {
				ended_at = now;
				for (int i = 0; i < h->nw; i++) {
					hub_worker *w = &h->w_[i];
					if (w->live && !w->ended &&
					    !hub_send(h, w, PFM_HUB_END, h->next,
						      0, NULL, NULL))
						w->ended = 1;
				}
			}
			if (!h->live || now - ended_at > h->o->heartbeat_ms / 1e3)
				return 0;
		}
	}
}

static int setup(hub_t *h)
{
	const pfm_hub_opts *o = h->o;
	pfm_io_opts in = o->io, out = o->io;
	in.return_eos = 0;
	out.fail_on_disconnect = 1;
	h->cap = (uint64_t)(o->reorder > 0 ? o->reorder : PFM_HUB_REORDER);
	h->ring = calloc(h->cap, sizeof *h->ring);
	h->capre = (int)h->cap;
	h->re = calloc((size_t)h->capre, sizeof *h->re);
	h->hb_ms = o->heartbeat_ms / 5 > 0 ? o->heartbeat_ms / 5 : 1;
	if (!h->ring || !h->re)
		return hub_fail(h, "out of memory");
	for (uint64_t i = 0; i < h->cap; i++)
		zmq_msg_init(&h->ring[i].in);
	if (!(h->r = pfm_reader_open(o->input ? o->input : "-", &in, h->e)) ||
	    !(h->w = pfm_writer_open(o->output ? o->output : "-", &out, h->e)))
		return h->failed = 1, -1;
	h->ctx = zmq_ctx_new();
	h->router = h->ctx ? zmq_socket(h->ctx, ZMQ_ROUTER) : NULL;
	if (!h->router)
		return hub_fail(h, "ZeroMQ socket: %s", zmq_strerror(errno));
	int one = 1, zero = 0, rcvhwm = 1000, linger = 1000;
	int64_t maxmsg = (int64_t)pfm_opts_max_frame(&o->io) + 64;
	zmq_setsockopt(h->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
	zmq_setsockopt(h->router, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
	zmq_setsockopt(h->router, ZMQ_SNDHWM, &zero, sizeof zero);
	zmq_setsockopt(h->router, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
	zmq_setsockopt(h->router, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(h->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
	int connects, curve;
	if (pfm_curve_setup(h->ctx, h->router, o->work, 1, &o->io, &h->zap,
			    &connects, &curve, h->e) ||
	    pfm_zmq_attach(h->router, o->work, 1, h->e))
		return h->failed = 1, -1;
	return hub_io_start(h);
}

static void teardown(hub_t *h)
{
	for (int i = 0; i < h->nw; i++) {
		hub_worker *w = &h->w_[i];
		if (w->live && h->failed && h->router)
			hub_send(h, w, PFM_HUB_GONE, 0, 0, NULL,
				 "the hub failed; see its messages");
		hub_worker_free(w);
	}
	free(h->w_);
	if (h->router)
		zmq_close(h->router);
	hub_io_stop(h);
	for (uint64_t i = 0; h->ring && i < h->cap; i++) {
		hub_slot *s = &h->ring[i];
		zmq_msg_close(&s->in);
		while (s->out) {
			hub_out *o = s->out;
			s->out = o->next;
			zmq_msg_close(&o->m);
			free(o);
		}
	}
	while (h->oq) {
		hub_out *o = h->oq;
		h->oq = o->next;
		zmq_msg_close(&o->m);
		free(o);
	}
	free(h->ring);
	free(h->re);
}

int pfm_hub_run(const pfm_hub_opts *o, pfm_err *e)
{
	hub_t h = {.o = o, .e = e};
	h.moved = pfm_now();
	pfm_progress_init(&h.prog, o->progress, o->quiet);
	int rc = setup(&h) ? -1 : loop(&h);
	pfm_progress_done(&h.prog);
	if ((h.lost || h.dups) && o->warn)
		o->warn("%llu frames in, %llu out; %llu workers lost, %llu "
			"frames sent again, %llu duplicate outputs dropped",
			(unsigned long long)h.next,
			(unsigned long long)h.frames_out,
			(unsigned long long)h.lost,
			(unsigned long long)h.resent,
			(unsigned long long)h.dups);
	teardown(&h);
	return rc;
}
