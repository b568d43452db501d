/* hubmsg.h: the messages between frame-hub and its workers (see
 * frame-hub(1), PROTOCOL). A message is a 32-byte header part, then a
 * payload part for the commands that carry a frame or a text. The ROUTER
 * side sees the worker's routing id as a first part.
 *
 * Header: "PH", version, command, flags (u32), n, a, b (u64), all
 * little-endian. n counts the messages its sender sent on the link, from
 * 1, so a lost message (a connection reset between reconnects) shows as
 * a gap and the link is dropped instead of trusted. */
#ifndef PFM_HUBMSG_H
#define PFM_HUBMSG_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "err.h"

#define PFM_HUB_VERSION 1
#define PFM_HUB_HDR 32

enum {
	/* worker -> hub */
	PFM_HUB_HELLO = 'H',   /* a: frames it may be sent ahead; text: name */
	PFM_HUB_TAKE = 'T',    /* a: seq: frames up to it are at the stage */
	PFM_HUB_OUT = 'O',     /* a: seq, b: output index; frame; flags: */
	PFM_HUB_DONE = 'D',    /* a: every taken frame up to seq is finished */
	PFM_HUB_BYE = 'B',     /* flags: PFM_HUB_FAILED; text: why */
	PFM_HUB_PING = 'P',    /* heartbeat, both ways */
	/* hub -> worker */
	PFM_HUB_WELCOME = 'w', /* a: heartbeat ms, b: silence ms = dead */
	PFM_HUB_WORK = 'k',    /* a: seq; frame */
	PFM_HUB_MARK = 'm',    /* a: seq of the last frame sent: return it */
	PFM_HUB_END = 'e',     /* no more frames: finish and close */
	PFM_HUB_GONE = 'g',    /* text: why the hub no longer knows you */
	/* inside a worker, between its threads */
	PFM_HUB_FAIL = 'f',    /* text: the link failed */
	PFM_HUB_CLOSE = 'c',   /* the reader detached */
};

enum {
	PFM_HUB_UNTAGGED = 1, /* OUT: the frame had no _seq (see frameid.h) */
	PFM_HUB_FAILED = 2,   /* BYE: the stage stopped without finishing */
};

typedef struct {
	int cmd;
	uint32_t flags;
	uint64_t n, a, b;
} pfm_hubmsg;

/* Send a message: the routing id first when id is not NULL, then the
 * header, then the payload when body is not NULL (moved: zero copy) or
 * text is not NULL. flags: 0 or ZMQ_DONTWAIT. 0, or -1 with errno. */
int pfm_hub_send(void *sock, const zmq_msg_t *id, const pfm_hubmsg *m,
		 zmq_msg_t *body, const char *text, int flags);

/* Receive one message. With id (a ROUTER), the routing id goes there.
 * The payload, if any, goes to body (*has_body says whether). 1 ok, 0
 * nothing (errno EAGAIN: ZMQ_DONTWAIT or the timeout; EINTR), -1 a malformed
 * message (e filled; the rest of it is drained) or a socket error. */
int pfm_hub_recv(void *sock, zmq_msg_t *id, pfm_hubmsg *m, zmq_msg_t *body,
		 int *has_body, int flags, pfm_err *e);

/* "take", "out"... for messages. */
const char *pfm_hub_cmd_name(int cmd);

#endif
