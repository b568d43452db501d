/* endpoint.h: internal to the transports: parse an endpoint spec and set
 * up ZeroMQ sockets the same way for readers and writers. */
#ifndef PFM_ENDPOINT_H
#define PFM_ENDPOINT_H

#include <stddef.h>

#include "err.h"
#include "io.h"

enum { PFM_EP_STDIO, PFM_EP_FILE, PFM_EP_ZMQ };

int pfm_endpoint_kind(const char *spec);

/* A PULL (input) or PUSH (output) socket on the comma-separated
 * endpoints, each with @ (bind) or > (connect); unprefixed ones use
 * CZMQ's default (PULL binds, PUSH connects). */
typedef struct {
	void *ctx, *sock;
} pfm_zsock;

int pfm_zsock_open(pfm_zsock *z, const char *spec, int push,
		   const pfm_io_opts *o, pfm_err *e);
void pfm_zsock_close(pfm_zsock *z);

size_t pfm_opts_max_frame(const pfm_io_opts *o);

#endif
