/* worklink_agent.c: the thread between a worker program and its hub.
 *
 * It owns the DEALER socket: says hello, passes the hub's frames to the
 * reader and the stage's outputs to the hub, sends heartbeats while the
 * stage computes, and fails the link (the reader and writer then report
 * it) when the hub goes silent, forgets us, or a message went missing.
 * It never blocks: a full DEALER stops it taking outputs from the writer,
 * which then blocks: that is the backpressure. */
#include "worklink_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "endpoint.h"

typedef struct {
	pfm_hubmsg m;
	zmq_msg_t body;
	int has;
} held_t;

typedef struct {
	pfm_worklink *l;
	uint64_t tx, rx;     /* messages sent to / received from the hub */
	double t0, told, heard, ran;
	int hb_ms, dead_ms, welcomed;
	int rd_closed, wr_closed, failed;
	held_t *q;           /* messages the DEALER could not take yet */
	int qh, qn, qcap;
} agent_t;

static void fail(agent_t *a, const char *why, int tell_hub)
{
	pfm_worklink_fail(a->l, why);
	if (a->failed)
		return;
	a->failed = 1;
	pfm_hubmsg m = {.cmd = PFM_HUB_FAIL};
	pfm_hub_send(a->l->ard, NULL, &m, NULL, why, ZMQ_DONTWAIT);
	if (tell_hub) {
		pfm_hubmsg b = {.cmd = PFM_HUB_BYE, .flags = PFM_HUB_FAILED,
				.n = ++a->tx};
		pfm_hub_send(a->l->dealer, NULL, &b, NULL, why, ZMQ_DONTWAIT);
	}
}

static int try_send(agent_t *a, held_t *h)
{
	h->m.n = a->tx + 1;
	if (pfm_hub_send(a->l->dealer, NULL, &h->m, h->has ? &h->body : NULL,
			 NULL, ZMQ_DONTWAIT))
		return -1;
	a->tx++;
	a->told = pfm_now();
	h->has = 0;
	return 0;
}

static void flush(agent_t *a)
{
	while (a->qn && (a->failed || !try_send(a, &a->q[a->qh]))) {
		zmq_msg_close(&a->q[a->qh].body);
		a->qh = (a->qh + 1) % a->qcap;
		a->qn--;
	}
}

/* To the hub, in order: queued behind earlier ones if need be. */
static void to_hub(agent_t *a, const pfm_hubmsg *m, zmq_msg_t *body,
		   int has)
{
	held_t h = {.m = *m, .has = has};
	zmq_msg_init(&h.body);
	if (has)
		zmq_msg_move(&h.body, body);
	if (!a->qn && !try_send(a, &h)) {
		zmq_msg_close(&h.body);
		return;
	}
	if (a->qn == a->qcap) {
		zmq_msg_close(&h.body);
		fail(a, "internal: too many messages held for the hub", 0);
		return;
	}
	a->q[(a->qh + a->qn++) % a->qcap] = h;
}

static void hello(agent_t *a)
{
	char name[200], host[100] = "?";
	gethostname(host, sizeof host - 1);
	snprintf(name, sizeof name, "%s:%ld %s", host, (long)getpid(),
		 pfm_prog());
	zmq_msg_t body;
	zmq_msg_init_size(&body, strlen(name));
	memcpy(zmq_msg_data(&body), name, strlen(name));
	pfm_hubmsg m = {.cmd = PFM_HUB_HELLO, .a = (uint64_t)a->l->credit};
	to_hub(a, &m, &body, 1);
}

static void from_hub(agent_t *a)
{
	pfm_worklink *l = a->l;
	for (;;) {
		pfm_hubmsg m;
		zmq_msg_t body;
		int has;
		pfm_err e = {0};
		char why[400];
		zmq_msg_init(&body);
		int rc = pfm_hub_recv(l->dealer, NULL, &m, &body, &has,
				      ZMQ_DONTWAIT, &e);
		if (rc <= 0) {
			zmq_msg_close(&body);
			if (rc < 0 && !a->failed) {
				snprintf(why, sizeof why, "from the hub: %.300s", e.msg);
				fail(a, why, 1);
			}
			return;
		}
		a->heard = pfm_now();
		if (a->failed) {
			zmq_msg_close(&body);
			continue;
		}
		if (m.cmd == PFM_HUB_GONE) {
			snprintf(why, sizeof why, "the hub dropped this worker: "
				 "%.*s", has ? (int)zmq_msg_size(&body) : 0,
				 has ? (char *)zmq_msg_data(&body) : "");
			zmq_msg_close(&body);
			fail(a, why, 0);
			continue;
		}
		if (m.n != a->rx + 1) {
			zmq_msg_close(&body);
			fail(a, "messages from the hub were lost (the connection "
			     "was reset): its frames go to other workers", 1);
			continue;
		}
		a->rx = m.n;
		switch (m.cmd) {
		case PFM_HUB_WELCOME:
			a->hb_ms = m.a > 0 && m.a < 3600000 ? (int)m.a : 1000;
			a->dead_ms = m.b < 86400000 ? (int)m.b : 0;
			a->welcomed = 1;
			pthread_mutex_lock(&l->mu);
			l->welcomed = 1;
			pthread_mutex_unlock(&l->mu);
			break;
		case PFM_HUB_WORK:
		case PFM_HUB_MARK:
		case PFM_HUB_END:
			if (pfm_hub_send(l->ard, NULL, &m, has ? &body : NULL,
					 NULL, ZMQ_DONTWAIT))
				fail(a, "the hub sent more frames than this "
				     "worker asked for", 1);
			break;
		case PFM_HUB_PING:
			break;
		default:
			snprintf(why, sizeof why, "unexpected message '%s' from "
				 "the hub", pfm_hub_cmd_name(m.cmd));
			fail(a, why, 1);
		}
		zmq_msg_close(&body);
	}
}

/* The reader: frames taken (credit back to the hub), its close. Takes
 * waiting together go as one: a take of k says every frame the worker
 * was sent up to k was taken. */
static void from_reader(agent_t *a)
{
	pfm_hubmsg take = {.cmd = 0};
	for (;;) {
		pfm_hubmsg m;
		zmq_msg_t body;
		int has;
		zmq_msg_init(&body);
		int rc = pfm_hub_recv(a->l->ard, NULL, &m, &body, &has,
				      ZMQ_DONTWAIT, NULL);
		zmq_msg_close(&body);
		if (rc <= 0)
			break;
		if (m.cmd == PFM_HUB_TAKE)
			take = m;
		else if (m.cmd == PFM_HUB_CLOSE)
			a->rd_closed = 1;
	}
	if (take.cmd && !a->failed)
		to_hub(a, &take, NULL, 0);
}

/* The writer: one output (or done, or bye). The reader's messages go
 * first, so the hub hears that a frame was taken before its output. */
static int from_writer(agent_t *a)
{
	pfm_hubmsg m;
	zmq_msg_t body;
	int has;
	from_reader(a);
	zmq_msg_init(&body);
	int rc = pfm_hub_recv(a->l->awr, NULL, &m, &body, &has, ZMQ_DONTWAIT,
			      NULL);
	if (rc > 0) {
		if (m.cmd == PFM_HUB_BYE)
			a->wr_closed = 1;
		if (!a->failed)
			to_hub(a, &m, &body, has);
	}
	zmq_msg_close(&body);
	return rc > 0;
}

static int writable(void *s)
{
	int ev = 0;
	size_t sz = sizeof ev;
	zmq_getsockopt(s, ZMQ_EVENTS, &ev, &sz);
	return ev & ZMQ_POLLOUT;
}

static void timers(agent_t *a)
{
	pfm_worklink *l = a->l;
	double now = pfm_now();
	char why[400];
	/* This process was stopped (SIGSTOP, a suspended VM): the hub's
	 * silence is ours. Hear what it sent meanwhile before judging. */
	if (a->dead_ms > 0 && (now - a->ran) * 1e3 > a->dead_ms / 2)
		a->heard = now;
	a->ran = now;
	if (a->failed)
		return;
	int ev, how = 0;
	uint32_t val;
	while (l->mon && !how && pfm_zmq_event(l->mon, &ev, &val))
		how = pfm_zmq_refusal(ev, val);
	if (how) {
		pfm_err e = {0};
		pfm_zmq_refused_msg(how, &e);
		fail(a, e.msg, 0);
	} else if (a->welcomed && a->dead_ms > 0 && (now - a->heard) * 1e3 > a->dead_ms) {
		snprintf(why, sizeof why, "no word from the hub for %.1f s (it "
			 "died or restarted, or the network is down); the frames "
			 "this worker held are not finished", now - a->heard);
		fail(a, why, 0);
	} else if (!a->welcomed && l->io.timeout_ms > 0 &&
		   (now - a->t0) * 1e3 > l->io.timeout_ms) {
		snprintf(why, sizeof why, "no hub answered within %.1f s "
			 "(timeout)", l->io.timeout_ms / 1e3);
		fail(a, why, 0);
	} else if ((now - a->told) * 1e3 >= a->hb_ms && !a->qn) {
		pfm_hubmsg m = {.cmd = PFM_HUB_PING};
		to_hub(a, &m, NULL, 0);
	}
}

void *pfm_worklink_agent(void *arg)
{
	agent_t a = {.l = arg, .hb_ms = 1000};
	pfm_worklink *l = a.l;
	a.qcap = l->credit + 16;
	a.q = calloc((size_t)a.qcap, sizeof *a.q);
	a.t0 = a.told = a.heard = a.ran = pfm_now();
	if (!a.q)
		fail(&a, "out of memory", 0);
	else
		hello(&a);
	while (!(a.rd_closed && a.wr_closed)) {
		timers(&a);
		flush(&a);
		int out_ok = a.failed || (!a.qn && writable(l->dealer));
		zmq_pollitem_t it[3] = {
			{l->dealer, 0, (short)(ZMQ_POLLIN | (a.qn ? ZMQ_POLLOUT : 0)), 0},
			{l->ard, 0, ZMQ_POLLIN, 0},
			{l->awr, 0, ZMQ_POLLIN, 0}};
		double wait = a.hb_ms - (pfm_now() - a.told) * 1e3;
		if (a.failed)
			wait = 1000;
		long ms = wait < 5 ? 5 : wait > a.hb_ms ? a.hb_ms : (long)wait;
		if (zmq_poll(it, out_ok ? 3 : 2, ms) < 0 && errno != EINTR)
			fail(&a, "poll failed", 0);
		from_hub(&a);
		from_reader(&a);
		/* Outputs only while the hub's pipe has room. */
		while (!(a.rd_closed && a.wr_closed) &&
		       (a.failed || (!a.qn && writable(l->dealer))) &&
		       from_writer(&a))
			;
	}
	/* What is still held goes out before the socket closes (its linger
	 * delivers what the socket has). */
	double end = pfm_now() + 2;
	while (a.qn && pfm_now() < end) {
		zmq_pollitem_t it = {l->dealer, 0, ZMQ_POLLOUT, 0};
		zmq_poll(&it, 1, 100);
		flush(&a);
	}
	for (; a.qn; a.qn--, a.qh = (a.qh + 1) % a.qcap)
		zmq_msg_close(&a.q[a.qh].body);
	free(a.q);
	if (l->mon) {
		zmq_socket_monitor(l->dealer, NULL, 0);
		zmq_close(l->mon);
	}
	zmq_close(l->dealer);
	zmq_close(l->ard);
	zmq_close(l->awr);
	return NULL;
}
