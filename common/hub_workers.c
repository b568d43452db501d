/* hub_workers.c: what frame-hub does with what its workers say.
 *
 * Each worker's frames sit in a FIFO, oldest first, the first ntaken of
 * them handed to its stage. Stages keep their input's order, so an output
 * for frame k means every frame before k at that worker is finished, and
 * a done (a sync frame, or the end) finishes up to its seq. A worker that
 * is lost (silent, failed, or breaking the protocol) has all its frames
 * put back in the queue, oldest first; what it already sent stays, and a
 * copy of an output arriving again is dropped by (seq, index). */
#include "hub_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"
#include "frameid.h"

void hub_worker_free(hub_worker *w)
{
	if (w->fifo) {
		free(w->fifo);
		zmq_msg_close(&w->id);
	}
	w->fifo = NULL;
	w->live = 0;
}

static hub_worker *find(hub_t *h, zmq_msg_t *id)
{
	size_t n = zmq_msg_size(id);
	for (int i = 0; i < h->nw; i++) {
		hub_worker *w = &h->w_[i];
		if (w->live && zmq_msg_size(&w->id) == n &&
		    !memcmp(zmq_msg_data(&w->id), zmq_msg_data(id), n))
			return w;
	}
	return NULL;
}

static int fifo_pos(hub_worker *w, uint64_t seq)
{
	for (int i = 0; i < w->fn; i++)
		if (w->fifo[(w->fh + i) % w->fcap] == seq)
			return i;
	return -1;
}

static void requeue(hub_t *h, uint64_t seq)
{
	int i = h->nre;
	while (i > 0 && h->re[i - 1] > seq)
		i--;
	memmove(h->re + i + 1, h->re + i, (size_t)(h->nre - i) * sizeof *h->re);
	h->re[i] = seq;
	h->nre++;
}

/* Every frame the worker holds back in the queue. Those its stage took
 * and made no output of yet count a try against them: one of them is
 * what the stage was working on when it died. */
static void give_back(hub_t *h, hub_worker *w, const char *why)
{
	for (int i = 0; i < w->fn; i++) {
		uint64_t seq = w->fifo[(w->fh + i) % w->fcap];
		hub_slot *s = &h->ring[seq % h->cap];
		s->state = S_WAIT;
		s->worker = -1;
		if (i < w->ntaken && !s->got &&
		    ++s->tries > (uint32_t)h->o->retries)
			hub_fail(h, "frame %llu was taken by %u workers that "
				 "died or failed (the last, %s, %s): giving up "
				 "(--retries %d)", (unsigned long long)seq,
				 s->tries, w->name, why, h->o->retries);
		requeue(h, seq);
	}
	h->resent += (uint64_t)w->fn;
	w->fn = w->ntaken = 0;
}

void hub_lose(hub_t *h, hub_worker *w, const char *why, int warn)
{
	if (!w->live)
		return;
	int n = w->fn;
	give_back(h, w, why);
	if (warn && h->o->warn)
		h->o->warn("worker %s %s: lost; %d frames go to other workers",
			   w->name, why, n);
	h->lost += warn != 0;
	hub_send(h, w, PFM_HUB_GONE, 0, 0, NULL, why);
	hub_worker_free(w);
	h->live--;
}

static void gone_unknown(hub_t *h, zmq_msg_t *id)
{
	pfm_hubmsg m = {.cmd = PFM_HUB_GONE, .n = 1};
	pfm_hub_send(h->router, id, &m, NULL, "this hub does not know the "
		     "worker (the hub restarted, or dropped it earlier)",
		     ZMQ_DONTWAIT);
}

static void add(hub_t *h, zmq_msg_t *id, const pfm_hubmsg *m,
		zmq_msg_t *body, int has)
{
	hub_worker *w = NULL;
	for (int i = 0; i < h->nw && !w; i++)
		if (!h->w_[i].live && !h->w_[i].fifo)
			w = &h->w_[i];
	if (!w) {
		hub_worker *nw = realloc(h->w_, (size_t)(h->nw + 1) * sizeof *nw);
		if (!nw) {
			hub_fail(h, "out of memory");
			return;
		}
		h->w_ = nw;
		w = &h->w_[h->nw++];
	}
	memset(w, 0, sizeof *w);
	w->fcap = h->o->window > 0 ? h->o->window : PFM_HUB_WINDOW;
	if (!(w->fifo = calloc((size_t)w->fcap, sizeof *w->fifo))) {
		hub_fail(h, "out of memory");
		return;
	}
	zmq_msg_init(&w->id);
	zmq_msg_copy(&w->id, id);
	size_t n = has ? zmq_msg_size(body) : 0;
	if (n >= sizeof w->name)
		n = sizeof w->name - 1;
	for (size_t i = 0; i < n; i++) {
		char c = ((char *)zmq_msg_data(body))[i];
		w->name[i] = isprint((unsigned char)c) ? c : '?';
	}
	if (!n)
		snprintf(w->name, sizeof w->name, "(unnamed)");
	w->credit = m->a < 1 ? 1 : m->a > 4096 ? 4096 : (int)m->a;
	w->rx = m->n;
	w->heard = w->told = pfm_now();
	w->live = 1;
	h->live++;
	if (hub_send(h, w, PFM_HUB_WELCOME, (uint64_t)h->hb_ms,
		     (uint64_t)h->o->heartbeat_ms, NULL, NULL))
		hub_lose(h, w, "cannot be reached", 1);
	else if (h->output_done && !hub_send(h, w, PFM_HUB_END, h->next, 0,
					     NULL, NULL))
		w->ended = 1;
}

/* Frames up to position pos the stage has taken (its take may come
 * after its output: tolerated, credit given once). */
static void take_upto(hub_worker *w, int pos)
{
	for (; w->ntaken <= pos; w->ntaken++)
		w->credit++;
}

/* A take of seq: the stage took every frame sent up to it. */
static void on_take(hub_t *h, hub_worker *w, uint64_t seq)
{
	(void)h;
	int pos = fifo_pos(w, seq);
	if (pos >= w->ntaken)
		take_upto(w, pos);
	/* else finished, or taken with its output already */
}

static void on_out(hub_t *h, hub_worker *w, const pfm_hubmsg *m,
		   zmq_msg_t *body, int has)
{
	pfm_err e = {0};
	char why[300];
	int pos = fifo_pos(w, m->a);
	if (pos < 0) {
		hub_lose(h, w, "sent an output for a frame it does not hold", 1);
		return;
	}
	size_t n = has ? zmq_msg_size(body) : 0;
	const unsigned char *p = has ? zmq_msg_data(body) : NULL;
	long long sz = n ? pfm_scan_object((const char *)p, n,
					   pfm_opts_max_frame(&h->o->io),
					   &e) : 0;
	size_t at, len, val;
	const char *type = NULL;
	size_t tl = 0;
	if (sz == (long long)n && n &&
	    pfm_map_find((const char *)p, n, "type", &at, &len, &val, &e) == 1)
		pfm_mp_str((const char *)p + val, n - val, &type, &tl);
	if (!type || (tl == 3 && !memcmp(type, PFM_T_EOS, 3))) {
		snprintf(why, sizeof why, "sent an output that is not a data "
			 "frame%s%.200s", e.msg[0] ? ": " : "", e.msg);
		hub_lose(h, w, why, 1);
		return;
	}
	take_upto(w, pos);
	if (!(m->flags & PFM_HUB_UNTAGGED) && pos > 0)
		hub_complete(h, w, pos);
	hub_slot *s = &h->ring[m->a % h->cap];
	if (m->b < s->got) {
		h->dups++;
	} else if (m->b > s->got) {
		hub_lose(h, w, "skipped outputs (messages lost?)", 1);
	} else {
		s->got++;
		hub_deliver(h, m->a, body);
	}
}

static void on_done(hub_t *h, hub_worker *w, uint64_t seq)
{
	int pos = fifo_pos(w, seq);
	if (pos < 0)
		return; /* finished already */
	take_upto(w, pos);
	hub_complete(h, w, pos + 1);
}

static void on_bye(hub_t *h, hub_worker *w, const pfm_hubmsg *m,
		   zmq_msg_t *body, int has)
{
	char why[400];
	if (m->flags & PFM_HUB_FAILED) {
		snprintf(why, sizeof why, "failed (%.*s)",
			 has ? (int)zmq_msg_size(body) : 0,
			 has ? (char *)zmq_msg_data(body) : "");
		hub_lose(h, w, why, 1);
		return;
	}
	/* Gone in good order: whatever it had not taken goes to others. */
	give_back(h, w, "left");
	hub_worker_free(w);
	h->live--;
}

void hub_on_message(hub_t *h)
{
	zmq_msg_t id, body;
	pfm_hubmsg m;
	pfm_err e = {0};
	int has;
	char why[600];
	zmq_msg_init(&id);
	zmq_msg_init(&body);
	int rc = pfm_hub_recv(h->router, &id, &m, &body, &has, ZMQ_DONTWAIT, &e);
	hub_worker *w = rc ? find(h, &id) : NULL;
	if (rc < 0 && w) {
		snprintf(why, sizeof why, "sent a bad message (%s)", e.msg);
		hub_lose(h, w, why, 1);
	} else if (rc > 0 && !w) {
		if (m.cmd == PFM_HUB_HELLO)
			add(h, &id, &m, &body, has);
		else if (m.cmd != PFM_HUB_BYE)
			gone_unknown(h, &id);
	} else if (rc > 0 && m.n != w->rx + 1) {
		hub_lose(h, w, "lost messages (its connection was reset)", 1);
	} else if (rc > 0) {
		w->rx = m.n;
		w->heard = pfm_now();
		switch (m.cmd) {
		case PFM_HUB_TAKE: on_take(h, w, m.a); break;
		case PFM_HUB_OUT: on_out(h, w, &m, &body, has); break;
		case PFM_HUB_DONE: on_done(h, w, m.a); break;
		case PFM_HUB_BYE: on_bye(h, w, &m, &body, has); break;
		case PFM_HUB_PING: break;
		default:
			snprintf(why, sizeof why, "sent an unexpected '%s'",
				 pfm_hub_cmd_name(m.cmd));
			hub_lose(h, w, why, 1);
		}
	}
	zmq_msg_close(&body);
	zmq_msg_close(&id);
}

void hub_heartbeats(hub_t *h)
{
	double now = pfm_now();
	char why[100];
	/* The hub itself did not run for a while (stopped, starved): the
	 * workers' silence may be its own. Hear them again first. */
	int stalled = h->ran && (now - h->ran) * 1e3 > h->o->heartbeat_ms / 2;
	h->ran = now;
	for (int i = 0; i < h->nw && !h->failed; i++) {
		hub_worker *w = &h->w_[i];
		if (!w->live)
			continue;
		if (stalled)
			w->heard = now;
		if ((now - w->heard) * 1e3 > h->o->heartbeat_ms) {
			snprintf(why, sizeof why, "was silent for %.1f s",
				 now - w->heard);
			hub_lose(h, w, why, 1);
		} else if ((now - w->told) * 1e3 >= h->hb_ms &&
			   hub_send(h, w, PFM_HUB_PING, 0, 0, NULL, NULL)) {
			hub_lose(h, w, "cannot be reached", 1);
		}
	}
}
