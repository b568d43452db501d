/* worklink.c: the program's side of a worker link: the registry that
 * pairs a reader and a writer on one hub, frames in (with _seq), outputs
 * out (without it). The agent thread is in worklink_agent.c. */
#include "worklink_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "curve.h"
#include "endpoint.h"
#include "frameid.h"
#include "mem.h"

static pfm_worklink *links;
static pthread_mutex_t reg = PTHREAD_MUTEX_INITIALIZER;

pfm_worklink *pfm_worklink_attach(const char *spec, int writer,
				  const pfm_io_opts *o, pfm_err *e)
{
	pthread_mutex_lock(&reg);
	pfm_worklink *l = links;
	while (l && strcmp(l->spec, spec))
		l = l->next;
	if (l && (writer ? l->writer : l->reader)) {
		pthread_mutex_unlock(&reg);
		pfm_errf(e, "%s: already open as an %s", spec,
			 writer ? "output" : "input");
		return NULL;
	}
	if (!l) {
		if (strlen(spec) >= sizeof l->spec || !(l = calloc(1, sizeof *l))) {
			pthread_mutex_unlock(&reg);
			pfm_errf(e, "%s: %s", spec, l ? "out of memory"
							: "endpoint too long");
			return NULL;
		}
		snprintf(l->spec, sizeof l->spec, "%s", spec);
		l->eps = l->spec + strlen(PFM_HUB_PREFIX);
		pthread_mutex_init(&l->mu, NULL);
		l->next = links;
		links = l;
	}
	/* The reader's options count (credit, frame size, timeout); the
	 * writer's fill in what the reader left unset. */
	if (o && (!writer || !l->reader))
		l->io = *o;
	l->credit = l->io.zmq_hwm > 0 ? l->io.zmq_hwm : 4;
	*(writer ? &l->writer : &l->reader) = 1;
	pthread_mutex_unlock(&reg);
	return l;
}

void pfm_worklink_fail(pfm_worklink *l, const char *why)
{
	pthread_mutex_lock(&l->mu);
	if (!l->failed) {
		l->failed = 1;
		snprintf(l->why, sizeof l->why, "%.399s", why);
	}
	pthread_mutex_unlock(&l->mu);
}

static int failed(pfm_worklink *l, pfm_err *e)
{
	pthread_mutex_lock(&l->mu);
	int f = l->failed;
	if (f)
		pfm_errf(e, "%s", l->why);
	pthread_mutex_unlock(&l->mu);
	return f;
}

/* The hub knows a worker by its routing id: random, so a reconnecting
 * worker keeps it and a restarted one gets a new one. */
static int dealer_open(pfm_worklink *l, pfm_err *e)
{
	unsigned char id[13] = {'W'};
	if (getrandom(id + 1, 8, 0) != 8)
		for (int i = 1; i < 9; i++)
			id[i] = (unsigned char)rand();
	uint32_t pid = (uint32_t)getpid();
	memcpy(id + 9, &pid, 4);
	l->dealer = zmq_socket(l->ctx, ZMQ_DEALER);
	if (!l->dealer)
		return pfm_errf(e, "ZeroMQ socket: %s", zmq_strerror(errno));
	int linger = 2000, hwm = 64, zero = 0;
	/* No size limit here: a frame over --max-frame is refused by the
	 * reader, after it was taken, so the hub counts it against the
	 * frame; a limit on the socket would drop the connection instead. */
	int64_t maxmsg = -1;
	zmq_setsockopt(l->dealer, ZMQ_ROUTING_ID, id, sizeof id);
	zmq_setsockopt(l->dealer, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(l->dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
	zmq_setsockopt(l->dealer, ZMQ_RCVHWM, &zero, sizeof zero);
	zmq_setsockopt(l->dealer, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
	/* Workers often start before their hub: retry soon, then back off. */
	int ivl = 20, ivl_max = 1000;
	zmq_setsockopt(l->dealer, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
	zmq_setsockopt(l->dealer, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
	int connects, curve;
	if (pfm_curve_setup(l->ctx, l->dealer, l->eps, 0, &l->io, &l->zap,
			    &connects, &curve, e))
		return -1;
	/* A hub that will not have this worker says so only in the
	 * handshake: the agent watches for it. */
	if (connects &&
	    (zmq_socket_monitor(l->dealer, "inproc://pfm-worklink-mon",
				ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
				ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) ||
	     !(l->mon = pfm_zmq_pair(l->ctx, "inproc://pfm-worklink-mon", 0, 0, 0))))
		return pfm_errf(e, "ZeroMQ monitor: %s", zmq_strerror(errno));
	return pfm_zmq_attach(l->dealer, l->eps, 0, e);
}

/* On first use, with both sides attached: sockets and the agent. */
static int start(pfm_worklink *l, pfm_err *e)
{
	if (l->started)
		return failed(l, e) ? -1 : 0;
	l->started = 1;
	pfm_err se = {0};
	int big = l->credit + 64, small = 2;
	if (!l->reader || !l->writer)
		pfm_errf(&se, "a worker takes frames from the hub and gives "
			 "its outputs back to it: give %s as both input (-i) "
			 "and output (-o)", l->spec);
	else if (!(l->ctx = zmq_ctx_new()) ||
		 !(l->ard = pfm_zmq_pair(l->ctx, "inproc://rd", 1, big, big)) ||
		 !(l->rd = pfm_zmq_pair(l->ctx, "inproc://rd", 0, 0, 0)) ||
		 !(l->awr = pfm_zmq_pair(l->ctx, "inproc://wr", 1, small, small)) ||
		 !(l->wr = pfm_zmq_pair(l->ctx, "inproc://wr", 0, small, small)))
		pfm_errf(&se, "ZeroMQ socket: %s", zmq_strerror(errno));
	else if (dealer_open(l, &se))
		;
	else {
		int t = l->io.timeout_ms > 0 ? l->io.timeout_ms : -1;
		zmq_setsockopt(l->rd, ZMQ_RCVTIMEO, &t, sizeof t);
		zmq_setsockopt(l->wr, ZMQ_SNDTIMEO, &t, sizeof t);
		if (pthread_create(&l->agent, NULL, pfm_worklink_agent, l) == 0)
			return 0;
		pfm_errf(&se, "cannot start a thread");
	}
	pfm_worklink_fail(l, se.msg);
	l->started = 2; /* no agent to wait for */
	return failed(l, e), -1;
}

static int send_simple(void *sock, int cmd, uint32_t flags, uint64_t a,
		       const char *text)
{
	pfm_hubmsg m = {.cmd = cmd, .flags = flags, .a = a};
	return pfm_hub_send(sock, NULL, &m, NULL, text, 0);
}

/* {type:"sync", v:1, _seq:seq} */
static size_t sync_frame(char *o, uint64_t seq)
{
	static const char head[] = "\x83\xa4type\xa4sync\xa1v\x01\xa4_seq\xcf";
	size_t k = sizeof head - 1;
	memcpy(o, head, k);
	for (int i = 0; i < 8; i++)
		o[k++] = (char)(seq >> (56 - 8 * i));
	return k;
}

int pfm_worklink_next(pfm_worklink *l, const char **p, size_t *n,
		      uint64_t *seq, pfm_err *e)
{
	if (start(l, e))
		return -1;
	if (l->ended)
		return 0;
	for (;;) {
		if (failed(l, e))
			return -1;
		pfm_hubmsg m;
		zmq_msg_t body;
		int has;
		zmq_msg_init(&body);
		int rc = pfm_hub_recv(l->rd, NULL, &m, &body, &has, 0, e);
		if (rc <= 0) {
			zmq_msg_close(&body);
			if (rc < 0)
				return -1;
			if (errno != EAGAIN)
				continue;
			pthread_mutex_lock(&l->mu);
			int w = l->welcomed;
			pthread_mutex_unlock(&l->mu);
			return pfm_errf(e, w ? "no frame from the hub for %.1f s "
					"(timeout)" : "no hub answered within "
					"%.1f s (timeout)", l->io.timeout_ms / 1e3);
		}
		if (m.cmd == PFM_HUB_WORK && has) {
			size_t len;
			rc = pfm_seq_add(zmq_msg_data(&body), zmq_msg_size(&body),
					 m.a, &l->buf, &l->cap, &len, e);
			zmq_msg_close(&body);
			if (rc)
				return pfm_err_prefix(e, "hub frame %llu",
						      (unsigned long long)m.a);
			if (send_simple(l->rd, PFM_HUB_TAKE, 0, m.a, NULL))
				return pfm_errf(e, "%s", zmq_strerror(errno));
			pthread_mutex_lock(&l->mu);
			l->last_taken = m.a;
			l->any_taken = 1;
			pthread_mutex_unlock(&l->mu);
			*p = l->buf;
			*n = len;
			*seq = m.a;
			return 1;
		}
		zmq_msg_close(&body);
		if (m.cmd == PFM_HUB_MARK) {
			if (pfm_grow(&l->buf, &l->cap, 64))
				return pfm_errf(e, "out of memory");
			*p = l->buf;
			*n = sync_frame(l->buf, m.a);
			*seq = m.a;
			return 1;
		}
		if (m.cmd == PFM_HUB_END) {
			l->ended = 1;
			return 0;
		}
		/* PFM_HUB_FAIL: the reason is in l->why */
	}
}

static void free_buf(void *data, void *hint)
{
	(void)hint;
	free(data);
}

int pfm_worklink_put(pfm_worklink *l, const char *p, size_t n, pfm_err *e)
{
	if (start(l, e) || failed(l, e))
		return -1;
	size_t at, len, val, tat, tlen, tval;
	uint64_t seq = 0;
	const char *type;
	size_t tl;
	int has = pfm_map_find(p, n, PFM_SEQ_KEY, &at, &len, &val, e);
	int typed = has < 0 ? -1 : pfm_map_find(p, n, "type", &tat, &tlen, &tval, e);
	if (typed < 0)
		return pfm_err_prefix(e, "output");
	if (has && pfm_mp_u64(p + val, n - val, &seq))
		return pfm_errf(e, "output: %s is not an unsigned integer",
				PFM_SEQ_KEY);
	if (typed && !pfm_mp_str(p + tval, n - tval, &type, &tl) && tl == 4 &&
	    !memcmp(type, PFM_T_SYNC, 4)) {
		if (!has)
			return pfm_errf(e, "a sync frame without %s",
					PFM_SEQ_KEY);
		if (send_simple(l->wr, PFM_HUB_DONE, 0, seq, NULL))
			goto send_failed;
		return 1;
	}
	uint32_t flags = 0;
	if (!has) {
		/* A frame made from nothing the stage read: it belongs to
		 * the last frame taken (an error frame, say). */
		pthread_mutex_lock(&l->mu);
		seq = l->last_taken;
		int any = l->any_taken;
		pthread_mutex_unlock(&l->mu);
		if (!any)
			return pfm_errf(e, "an output before any input");
		flags = PFM_HUB_UNTAGGED;
	}
	l->out_sub = l->out_any && seq == l->out_seq ? l->out_sub + 1 : 0;
	l->out_seq = seq;
	l->out_any = 1;
	zmq_msg_t body;
	char *copy = malloc(n ? n : 1);
	if (!copy)
		return pfm_errf(e, "out of memory");
	size_t k = has ? pfm_map_drop(p, n, at, len, copy) : n;
	if (!has)
		memcpy(copy, p, n);
	zmq_msg_init_data(&body, copy, k, free_buf, NULL);
	pfm_hubmsg m = {.cmd = PFM_HUB_OUT, .flags = flags, .a = seq,
			.b = l->out_sub};
	if (pfm_hub_send(l->wr, NULL, &m, &body, NULL, 0)) {
		zmq_msg_close(&body);
		goto send_failed;
	}
	return 0;
send_failed:
	if (failed(l, e))
		return -1;
	if (errno == EAGAIN)
		return pfm_errf(e, "the hub took no output for %.1f s "
				"(timeout)", l->io.timeout_ms / 1e3);
	return pfm_errf(e, "%s", zmq_strerror(errno));
}

static void unlink_link(pfm_worklink *l)
{
	pfm_worklink **pp = &links;
	while (*pp && *pp != l)
		pp = &(*pp)->next;
	if (*pp)
		*pp = l->next;
}

int pfm_worklink_detach(pfm_worklink *l, int writer, int complete,
			pfm_err *e)
{
	int rc = 0;
	if (l->started == 1) {
		if (!writer) {
			send_simple(l->rd, PFM_HUB_CLOSE, 0, 0, NULL);
		} else {
			pfm_err fe;
			int ok = complete && !failed(l, &fe);
			pthread_mutex_lock(&l->mu);
			int any = l->any_taken;
			uint64_t last = l->last_taken;
			pthread_mutex_unlock(&l->mu);
			if (ok && any)
				send_simple(l->wr, PFM_HUB_DONE, 0, last, NULL);
			send_simple(l->wr, PFM_HUB_BYE, ok ? 0 : PFM_HUB_FAILED, 0,
				    ok ? NULL : "the stage stopped before the "
				    "end of its input");
			if (complete && failed(l, e))
				rc = -1;
		}
	}
	pthread_mutex_lock(&reg);
	*(writer ? &l->writer : &l->reader) = 0;
	int last = !l->reader && !l->writer;
	if (last)
		unlink_link(l);
	pthread_mutex_unlock(&reg);
	if (!last)
		return rc;
	if (l->started == 1)
		pthread_join(l->agent, NULL);
	if (l->rd)
		zmq_close(l->rd);
	if (l->wr)
		zmq_close(l->wr);
	if (l->started != 1) { /* the agent closes its own when it ran */
		if (l->ard)
			zmq_close(l->ard);
		if (l->awr)
			zmq_close(l->awr);
		if (l->mon)
			zmq_close(l->mon);
		if (l->dealer)
			zmq_close(l->dealer);
	}
	if (l->ctx)
		zmq_ctx_term(l->ctx);
	pfm_zap_join(l->zap); /* its thread ended with the context */
	pthread_mutex_destroy(&l->mu);
	free(l->buf);
	free(l);
	return rc;
}
