#include "endpoint.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cli.h"
#include "curve.h"

size_t pfm_opts_max_frame(const pfm_io_opts *o)
{
	return o && o->max_frame ? o->max_frame : PFM_MAX_FRAME_DEFAULT;
}

int pfm_endpoint_kind(const char *spec)
{
	if (!strcmp(spec, "-"))
		return PFM_EP_STDIO;
	if (!strncmp(spec, PFM_HUB_PREFIX, strlen(PFM_HUB_PREFIX)))
		return PFM_EP_HUB;
	if (spec[0] == '@' || spec[0] == '>' || strstr(spec, "://"))
		return PFM_EP_ZMQ;
	return PFM_EP_FILE;
}

int pfm_spec_is_zmq(const char *spec)
{
	int k = pfm_endpoint_kind(spec);
	return k == PFM_EP_ZMQ || k == PFM_EP_HUB;
}

int pfm_spec_is_hub(const char *spec)
{
	return pfm_endpoint_kind(spec) == PFM_EP_HUB;
}

static int attach(void *sock, const char *ep, int bind, pfm_err *e)
{
	if (*ep == '@' || *ep == '>')
		bind = *ep++ == '@';
	if (!strstr(ep, "://"))
		return pfm_errf(e, "%s: not a ZeroMQ endpoint "
				"(tcp://, ipc:// or inproc://)", ep);
	int rc = bind ? zmq_bind(sock, ep) : zmq_connect(sock, ep);
	if (rc)
		return pfm_errf(e, "%s %s: %s", bind ? "bind" : "connect", ep,
				zmq_strerror(errno));
	return 0;
}

int pfm_zmq_attach(void *sock, const char *list, int bind_default,
		   pfm_err *e)
{
	char *copy = strdup(list), *save = NULL;
	int rc = copy ? 0 : pfm_errf(e, "out of memory");
	for (char *ep = copy ? strtok_r(copy, ",", &save) : NULL; ep && !rc;
	     ep = strtok_r(NULL, ",", &save))
		rc = attach(sock, ep, bind_default, e);
	free(copy);
	return rc;
}

/* Monitor the connections: the same context, so an inproc pair. */
static int monitor(pfm_zsock *z)
{
	static const char addr[] = "inproc://pfm-monitor";
	if (zmq_socket_monitor(z->sock, addr, ZMQ_EVENT_CONNECTED |
			       ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
			       ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
			       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
			       ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL))
		return -1;
	/* 1000: ZeroMQ's default high-water marks */
	z->mon = pfm_zmq_pair(z->ctx, addr, 0, 1000, 1000);
	return z->mon ? 0 : -1;
}

int pfm_zsock_open(pfm_zsock *z, const char *spec, int push,
		   const pfm_io_opts *o, pfm_err *e)
{
	memset(z, 0, sizeof *z);
	z->ctx = zmq_ctx_new();
	z->sock = z->ctx ? zmq_socket(z->ctx, push ? ZMQ_PUSH : ZMQ_PULL) : NULL;
	if (!z->sock || monitor(z)) {
		pfm_errf(e, "ZeroMQ socket: %s", zmq_strerror(errno));
		pfm_zsock_close(z);
		return -1;
	}
	/* Frames are large (a tile is ~200 kB): a few in flight per peer
	 * keep the pipe busy while bounding memory. */
	int hwm = o && o->zmq_hwm > 0 ? o->zmq_hwm : 4;
	int linger = PFM_ZMQ_LINGER_MS;
	int64_t maxmsg = (int64_t)pfm_opts_max_frame(o);
	zmq_setsockopt(z->sock, push ? ZMQ_SNDHWM : ZMQ_RCVHWM, &hwm, sizeof hwm);
	zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof linger);
	if (!push)
		zmq_setsockopt(z->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
	int rc = pfm_curve_setup(z->ctx, z->sock, spec, !push, o, &z->zap,
				 &z->connects, &z->curve, e);
	if (!rc)
		rc = pfm_zmq_attach(z->sock, spec, !push, e);
	if (rc)
		pfm_zsock_close(z);
	return rc;
}

int pfm_zsock_refused(const pfm_zsock *z, pfm_err *e)
{
	return pfm_zmq_refused_msg(z->refused, e);
}

int pfm_zmq_refused_msg(int how, pfm_err *e)
{
	if (how == 2)
		return pfm_errf(e, "the server uses another security mechanism "
				"(CURVE keys on one side only: give both "
				"sides keys, see pathfm(7) SECURITY)");
	return pfm_errf(e, "the server refused this program's CURVE key (is "
			"its .pub in the server's --curve-allow directory?)");
}

static void on_event(pfm_zsock *z, int ev, int fd)
{
	int i;
	/* A server's refusals are its ZAP handler's business (logged);
	 * a client learns here that the server will not have it (fd is
	 * the event's value: a status or protocol error here). */
	/* A peer counts once its handshake succeeds: a stranger refused
	 * by the ZAP handler is accepted and dropped, and must not make a
	 * writer think its reader came and went. */
	if (ev & ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
		z->handshook = z->ever = 1;
		return;
	}
	if (ev & (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
		  ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)) {
		if (z->connects && pfm_zmq_refusal(ev, (uint32_t)fd))
			z->refused = pfm_zmq_refusal(ev, (uint32_t)fd);
		return;
	}
	for (i = 0; i < z->nfds && z->fds[i] != fd; i++)
		;
	/* A CURVE server closes a client without keys, and whether the
	 * client learns of the mismatch first (above) or only sees the
	 * close is a race: remember the close. */
	if (ev & ZMQ_EVENT_DISCONNECTED && !z->handshook)
		z->cut = 1;
	if (ev & (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_ACCEPTED)) {
		if (i == z->nfds && z->nfds < PFM_ZSOCK_FDS)
			z->fds[z->nfds++] = fd;
	} else if (ev & ZMQ_EVENT_DISCONNECTED && i < z->nfds) {
		z->fds[i] = z->fds[--z->nfds];
		z->dropped = 1;
	}
}

int pfm_zmq_event(void *mon, int *ev, uint32_t *val)
{
	zmq_msg_t a, b;
	zmq_msg_init(&a);
	if (zmq_msg_recv(&a, mon, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&a);
		return 0;
	}
	/* Two parts: u16 event and u32 value (the fd), then the address. */
	uint16_t e16 = 0;
	*val = 0;
	if (zmq_msg_size(&a) >= 6) {
		memcpy(&e16, zmq_msg_data(&a), 2);
		memcpy(val, (char *)zmq_msg_data(&a) + 2, 4);
	}
	*ev = e16;
	int more = zmq_msg_more(&a);
	zmq_msg_close(&a);
	if (more) {
		zmq_msg_init(&b);
		zmq_msg_recv(&b, mon, 0);
		zmq_msg_close(&b);
	}
	return 1;
}

int pfm_zmq_refusal(int ev, uint32_t val)
{
	if (ev & ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
		return 1;
	if (ev & ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
	    val == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
		return 2;
	return 0;
}

void pfm_zsock_events(pfm_zsock *z)
{
	int ev;
	uint32_t val;
	while (z->mon && pfm_zmq_event(z->mon, &ev, &val))
		on_event(z, ev, (int)val);
}

int pfm_zsock_alone(pfm_zsock *z)
{
	pfm_zsock_events(z);
	return z->ever && z->nfds == 0;
}

int pfm_zsock_wait(pfm_zsock *z, short what, long ms)
{
	zmq_pollitem_t it[2] = {{z->sock, 0, what, 0}, {z->mon, 0, ZMQ_POLLIN, 0}};
	int rc;
	do
		rc = zmq_poll(it, z->mon ? 2 : 1, ms);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -1 : rc > 0;
}

int pfm_zsock_wait_handshake(pfm_zsock *z, int ms, pfm_err *e)
{
	double end = pfm_now() + ms / 1e3;
	for (;;) {
		pfm_zsock_events(z);
		if (z->refused)
			return pfm_zsock_refused(z, e);
		if (z->handshook)
			return 0;
		double left = end - pfm_now();
		if (left <= 0 && z->cut && !z->curve)
			return pfm_errf(e, "no handshake with the server: it closed "
					"the connection, as a server with CURVE keys "
					"does to a client without them (see pathfm(7) "
					"SECURITY)");
		if (left <= 0)
			return pfm_errf(e, "no %shandshake with the server: is "
					"it running%s?", z->curve ? "CURVE " : "",
					z->curve ? ", and is --curve-server "
					"its public key" : "");
		zmq_pollitem_t it = {z->mon, 0, ZMQ_POLLIN, 0};
		zmq_poll(&it, 1, (long)(left * 1e3) + 1);
	}
}

int pfm_zsock_wait_alone(pfm_zsock *z, int ms)
{
	double end = pfm_now() + ms / 1e3;
	for (;;) {
		pfm_zsock_events(z);
		if (!z->ever || !z->nfds)
			return 0;
		double left = end - pfm_now();
		if (left <= 0)
			return -1;
		zmq_pollitem_t it = {z->mon, 0, ZMQ_POLLIN, 0};
		zmq_poll(&it, 1, (long)(left * 1e3) + 1);
	}
}

void pfm_zsock_close(pfm_zsock *z)
{
	/* A server that will not have this client takes nothing: do not
	 * linger on frames that cannot go. */
	pfm_zsock_events(z);
	if (z->sock && z->connects && (z->refused || !z->handshook)) {
		int zero = 0;
		zmq_setsockopt(z->sock, ZMQ_LINGER, &zero, sizeof zero);
	}
	if (z->mon) {
		zmq_socket_monitor(z->sock, NULL, 0);
		zmq_close(z->mon);
	}
	if (z->sock)
		zmq_close(z->sock);
	if (z->ctx)
		zmq_ctx_term(z->ctx);
	pfm_zap_join(z->zap); /* its thread ends with the context */
	z->sock = z->ctx = z->mon = NULL;
	z->zap = NULL;
}

void *pfm_zmq_pair(void *ctx, const char *addr, int bind, int sndhwm,
		   int rcvhwm)
{
	void *s = zmq_socket(ctx, ZMQ_PAIR);
	int zero = 0;
	if (!s)
		return NULL;
	zmq_setsockopt(s, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm);
	zmq_setsockopt(s, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	if ((bind ? zmq_bind(s, addr) : zmq_connect(s, addr)) == 0)
		return s;
	zmq_close(s);
	return NULL;
}
