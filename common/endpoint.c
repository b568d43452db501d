#include "endpoint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* How long close waits to deliver queued frames (the eos above all) to a
 * slow peer; past it frames are dropped and the reader sees a cut stream. */
#define PFM_ZMQ_LINGER_MS 30000

size_t pfm_opts_max_frame(const pfm_io_opts *o)
{
	return o && o->max_frame ? o->max_frame : PFM_MAX_FRAME_DEFAULT;
}

int pfm_endpoint_kind(const char *spec)
{
	if (!strcmp(spec, "-"))
		return PFM_EP_STDIO;
	if (spec[0] == '@' || spec[0] == '>' || strstr(spec, "://"))
		return PFM_EP_ZMQ;
	return PFM_EP_FILE;
}

int pfm_spec_is_zmq(const char *spec)
{
	return pfm_endpoint_kind(spec) == PFM_EP_ZMQ;
}

static int attach(pfm_zsock *z, const char *ep, int push, pfm_err *e)
{
	int bind = !push;
	if (*ep == '@' || *ep == '>')
		bind = *ep++ == '@';
	if (!strstr(ep, "://"))
		return pfm_errf(e, "%s: not a ZeroMQ endpoint "
				"(tcp://, ipc:// or inproc://)", ep);
	int rc = bind ? zmq_bind(z->sock, ep) : zmq_connect(z->sock, ep);
	if (rc)
		return pfm_errf(e, "%s %s: %s", bind ? "bind" : "connect", ep,
				zmq_strerror(errno));
	return 0;
}

int pfm_zsock_open(pfm_zsock *z, const char *spec, int push,
		   const pfm_io_opts *o, pfm_err *e)
{
	z->ctx = zmq_ctx_new();
	z->sock = z->ctx ? zmq_socket(z->ctx, push ? ZMQ_PUSH : ZMQ_PULL) : NULL;
	if (!z->sock) {
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
	if (o && o->timeout_ms > 0)
		zmq_setsockopt(z->sock, push ? ZMQ_SNDTIMEO : ZMQ_RCVTIMEO,
			       &o->timeout_ms, sizeof o->timeout_ms);
	char *list = strdup(spec), *save = NULL;
	int rc = list ? 0 : pfm_errf(e, "out of memory");
	for (char *ep = list ? strtok_r(list, ",", &save) : NULL; ep && !rc;
	     ep = strtok_r(NULL, ",", &save))
		rc = attach(z, ep, push, e);
	free(list);
	if (rc)
		pfm_zsock_close(z);
	return rc;
}

void pfm_zsock_close(pfm_zsock *z)
{
	if (z->sock)
		zmq_close(z->sock);
	if (z->ctx)
		zmq_ctx_term(z->ctx);
	z->sock = z->ctx = NULL;
}
