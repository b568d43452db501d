/* endpoint.h: internal to the transports: parse an endpoint spec and set
 * up ZeroMQ sockets the same way for readers and writers. */
#ifndef PFM_ENDPOINT_H
#define PFM_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "io.h"

enum { PFM_EP_STDIO, PFM_EP_FILE, PFM_EP_ZMQ, PFM_EP_HUB };

#define PFM_HUB_PREFIX "hub:"

int pfm_endpoint_kind(const char *spec);

/* How long close waits to deliver queued frames (the eos above all) to a
 * slow peer; past it frames are dropped and the reader sees a cut stream. */
#define PFM_ZMQ_LINGER_MS 30000

/* A PULL (input) or PUSH (output) socket on the comma-separated
 * endpoints, each with @ (bind) or > (connect); unprefixed ones use
 * CZMQ's default (PULL binds, PUSH connects).
 *
 * A monitor follows the peers' connections (tcp and ipc; inproc has
 * none), so a reader can tell a producer that went away from a slow one
 * and a writer can wait, at close, until its reader has everything. */
#define PFM_ZSOCK_FDS 64
typedef struct {
	void *ctx, *sock, *mon;
	int fds[PFM_ZSOCK_FDS]; /* connections open now */
	int nfds;
	int ever;    /* a peer's handshake succeeded at some point */
	int dropped; /* a peer disconnected */
	struct pfm_zap *zap; /* a CURVE server's ZAP handler (curve.h) */
	int curve;           /* CURVE in use */
	int connects;        /* only connects (tcp, ipc): a client ... */
	int refused;         /* ... the server would not have (1: its key,
			      * 2: the other security mechanism) */
	int handshook;       /* a handshake succeeded */
	int cut;             /* a connection closed before any handshake */
} pfm_zsock;

/* With CURVE keys in o (or the environment) the socket is a CURVE
 * server or client (curve.h); without, cleartext beyond loopback is
 * refused unless o->insecure. */
int pfm_zsock_open(pfm_zsock *z, const char *spec, int push,
		   const pfm_io_opts *o, pfm_err *e);
/* The message for a client the server refused (z->refused). */
int pfm_zsock_refused(const pfm_zsock *z, pfm_err *e);
int pfm_zmq_refused_msg(int how, pfm_err *e);
/* One pending event of a monitor socket: 1 (*ev, *val), or 0 if none. */
int pfm_zmq_event(void *mon, int *ev, uint32_t *val);
/* Does the event say the server will not have this client? 1 its key,
 * 2 the other security mechanism, 0 no. */
int pfm_zmq_refusal(int ev, uint32_t val);
/* A client (z->connects): wait up to ms for its first handshake; 0
 * done, or -1 with e saying why not (refused, or none: no server, or a
 * wrong server key). */
int pfm_zsock_wait_handshake(pfm_zsock *z, int ms, pfm_err *e);
void pfm_zsock_close(pfm_zsock *z);
/* Take the monitor's pending events into nfds/ever/dropped. */
void pfm_zsock_events(pfm_zsock *z);
/* Were peers connected and are they all gone now? */
int pfm_zsock_alone(pfm_zsock *z);
/* Wait until every connected peer has disconnected, at most ms: 0, or
 * -1 at the deadline. Returns at once if no peer ever connected. */
int pfm_zsock_wait_alone(pfm_zsock *z, int ms);
/* Wait up to ms for sock to be readable (ZMQ_POLLIN) or writable
 * (ZMQ_POLLOUT) or for a monitor event: 1 ready or event, 0 timeout
 * (ms < 0: wait for ever), -1 error (errno). */
int pfm_zsock_wait(pfm_zsock *z, short what, long ms);

/* A PAIR socket of ctx bound (bind) or connected to addr (inproc://, the
 * threads' pipes), with these high-water marks and no linger; NULL on
 * failure (errno). */
void *pfm_zmq_pair(void *ctx, const char *addr, int bind, int sndhwm,
		   int rcvhwm);

/* Bind or connect sock to each endpoint of the comma-separated list
 * (@ binds, > connects, neither: bind when bind_default). */
int pfm_zmq_attach(void *sock, const char *list, int bind_default,
		   pfm_err *e);

size_t pfm_opts_max_frame(const pfm_io_opts *o);

#endif
