/* reader.c: frames from stdin, a file, a ZeroMQ PULL socket or a hub.
 * Byte streams go through msgpack-c's streaming unpacker (zero copy: bin
 * payloads point into its buffer); each frame is first checked by
 * pfm_scan_object so hostile headers cannot make msgpack-c allocate. */
#include "endpoint.h"
#include "worklink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "cli.h"

#define READ_CHUNK (256 << 10)
#define UNPACKER_INITIAL (4 << 20)

struct pfm_reader {
	char name[256];
	int kind, fd;
	size_t max_frame;
	int return_eos, allow_no_eos, timeout_ms;
	/* byte streams */
	msgpack_unpacker up;
	msgpack_unpacked res;
	int up_live, eof, drained;
	size_t need, last_scan;
	/* ZeroMQ */
	pfm_zsock z;
	zmq_msg_t msg;
	int msg_live, zmq_done;
	msgpack_zone zone;
	int zone_live;
	pfm_worklink *link; /* a hub input */
	/* accounting */
	uint64_t index;       /* frames of any type read (a hub's: its seq) */
	uint64_t in_stream;   /* data frames since the last eos */
	uint64_t data_frames; /* data frames in total */
	uint64_t bytes;
	int eos_last;         /* was the last frame an eos? */
	int any;              /* any frame at all? */
	pfm_err err;
};

pfm_reader *pfm_reader_open(const char *spec, const pfm_io_opts *o,
			    pfm_err *e)
{
	pfm_reader *r = calloc(1, sizeof *r);
	if (!r) {
		pfm_errf(e, "out of memory");
		return NULL;
	}
	snprintf(r->name, sizeof r->name, "%s",
		 strcmp(spec, "-") ? spec : "stdin");
	r->kind = pfm_endpoint_kind(spec);
	r->fd = -1;
	r->max_frame = pfm_opts_max_frame(o);
	r->return_eos = o && o->return_eos;
	r->allow_no_eos = o && o->allow_no_eos;
	r->timeout_ms = o ? o->timeout_ms : 0;
	if (r->kind == PFM_EP_ZMQ || r->kind == PFM_EP_HUB) {
		if (r->kind == PFM_EP_ZMQ ? pfm_zsock_open(&r->z, spec, 0, o, e)
					  : !(r->link = pfm_worklink_attach(spec, 0, o, e)))
			goto fail;
		msgpack_zone_init(&r->zone, 4096);
		r->zone_live = 1;
		return r;
	}
	r->fd = r->kind == PFM_EP_STDIO ? 0 : open(spec, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		pfm_errf(e, "%s: %s", spec, strerror(errno));
		goto fail;
	}
	if (!msgpack_unpacker_init(&r->up, UNPACKER_INITIAL)) {
		pfm_errf(e, "out of memory");
		goto fail;
	}
	msgpack_unpacked_init(&r->res);
	r->up_live = 1;
	return r;
fail:
	pfm_reader_close(r);
	return NULL;
}

/* Fill more bytes into the unpacker; sets eof at end of input. */
static int fill(pfm_reader *r)
{
	if (!msgpack_unpacker_reserve_buffer(&r->up, READ_CHUNK))
		return pfm_errf(&r->err, "out of memory");
	size_t cap = msgpack_unpacker_buffer_capacity(&r->up);
	ssize_t n;
	do
		n = read(r->fd, msgpack_unpacker_buffer(&r->up), cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return pfm_errf(&r->err, "read: %s", strerror(errno));
	if (n == 0)
		r->eof = 1;
	r->drained = (size_t)n < cap;
	msgpack_unpacker_buffer_consumed(&r->up, (size_t)n);
	r->bytes += (uint64_t)n;
	return 0;
}

/* Next complete frame from a byte stream: 1, 0 at EOF, -1 error. */
static int next_bytes(pfm_reader *r, const char **raw, size_t *len,
		      msgpack_object *root)
{
	for (;;) {
		size_t avail = r->up.used - r->up.off; /* not yet parsed */
		const char *p = r->up.buffer + r->up.off;
		/* Rescan only when it can succeed: past the known minimum,
		 * and with the pipe drained or the data doubled (bounds the
		 * cost of frames with many small objects). */
		if (avail && avail >= r->need &&
		    (r->drained || r->eof || avail >= 2 * r->last_scan)) {
			long long sz = pfm_scan_object_hint(
				p, avail, r->max_frame, &r->need, &r->err);
			if (sz < 0)
				return -1;
			r->last_scan = avail;
			if (sz > 0) {
				r->need = r->last_scan = 0;
				if (msgpack_unpacker_next(&r->up, &r->res) !=
				    MSGPACK_UNPACK_SUCCESS)
					return pfm_errf(&r->err,
							"MessagePack decode failed");
				*raw = p;
				*len = (size_t)sz;
				*root = r->res.data;
				return 1;
			}
		}
		if (r->eof) {
			if (avail)
				return pfm_errf(&r->err, "truncated: input "
						"ends inside the frame (%zu "
						"bytes of it)", avail);
			return 0;
		}
		if (fill(r))
			return -1;
	}
}

/* One message into r->msg: 1, or -1. Waits with the monitor in view: a
 * producer that disconnects mid-stream and left nothing behind is an
 * error now, not a wait for --timeout (or for ever). */
static int recv_zmq(pfm_reader *r)
{
	double end = r->timeout_ms > 0 ? pfm_now() + r->timeout_ms / 1e3 : 0;
	for (;;) {
		if (zmq_msg_recv(&r->msg, r->z.sock, ZMQ_DONTWAIT) >= 0)
			return 1;
		if (errno != EAGAIN && errno != EINTR)
			return pfm_errf(&r->err, "receive: %s",
					zmq_strerror(errno));
		pfm_zsock_events(&r->z);
		if (r->z.refused)
			return pfm_zsock_refused(&r->z, &r->err);
		if (r->in_stream && !r->allow_no_eos && pfm_zsock_alone(&r->z))
			return pfm_errf(&r->err, "the producer disconnected "
					"after %llu frames without an "
					"end-of-stream frame (it died or was "
					"restarted)",
					(unsigned long long)r->in_stream);
		long ms = -1;
		if (end) {
			ms = (long)((end - pfm_now()) * 1e3);
			if (ms <= 0)
				return pfm_errf(&r->err, "no frame for %d ms "
						"(timeout): is the producer "
						"alive?", r->timeout_ms);
		}
		if (pfm_zsock_wait(&r->z, ZMQ_POLLIN, ms) < 0 && errno != EINTR)
			return pfm_errf(&r->err, "poll: %s", zmq_strerror(errno));
	}
}

/* Check and decode one message holding one frame. */
static int decode(pfm_reader *r, const char *p, size_t n, const char **raw,
		  size_t *len, msgpack_object *root)
{
	r->bytes += n;
	long long sz = pfm_scan_object(p, n, r->max_frame, &r->err);
	if (sz < 0)
		return -1;
	if ((size_t)sz != n)
		return pfm_errf(&r->err, "message of %zu bytes does not hold "
				"exactly one frame", n);
	msgpack_zone_clear(&r->zone);
	size_t off = 0;
	if (msgpack_unpack(p, n, &off, &r->zone, root) != MSGPACK_UNPACK_SUCCESS)
		return pfm_errf(&r->err, "MessagePack decode failed");
	*raw = p;
	*len = n;
	return 1;
}

static int next_zmq(pfm_reader *r, const char **raw, size_t *len,
		    msgpack_object *root)
{
	if (r->msg_live)
		zmq_msg_close(&r->msg);
	r->msg_live = 0;
	if (r->zmq_done) {
		/* Closing tells the writer that we have everything: it
		 * waits for that before it closes (see writer.c). */
		pfm_zsock_close(&r->z);
		return 0;
	}
	zmq_msg_init(&r->msg);
	r->msg_live = 1;
	if (recv_zmq(r) < 0)
		return -1;
	return decode(r, zmq_msg_data(&r->msg), zmq_msg_size(&r->msg), raw,
		      len, root);
}

static int next_hub(pfm_reader *r, const char **raw, size_t *len,
		    msgpack_object *root)
{
	const char *p;
	size_t n;
	uint64_t seq;
	int rc = pfm_worklink_next(r->link, &p, &n, &seq, &r->err);
	if (rc <= 0) {
		if (rc == 0)
			r->eos_last = 1; /* the hub's end: no count to check */
		return rc;
	}
	/* Frames are numbered as in the hub's input, the same on every
	 * worker: messages about one name it the same way. */
	r->index = seq;
	return decode(r, p, n, raw, len, root);
}

/* Close of a stream: check the eos count against what we saw. */
static int on_eos(pfm_reader *r, const pfm_frame *f)
{
	const msgpack_object *c = pfm_get(f, "count");
	int64_t n;
	if (!c || pfm_obj_i64(c, &n) || n < 0)
		return pfm_errf(&r->err, "end-of-stream frame has no count");
	if ((uint64_t)n != r->in_stream)
		return pfm_errf(&r->err, "end-of-stream says %lld frames were "
				"sent, %llu arrived (frames lost)",
				(long long)n, (unsigned long long)r->in_stream);
	r->in_stream = 0;
	r->eos_last = 1;
	if (r->kind == PFM_EP_ZMQ)
		r->zmq_done = 1; /* no EOF on a socket: eos is the end */
	return 0;
}

static int at_end(pfm_reader *r)
{
	if (r->eos_last || r->allow_no_eos)
		return 0;
	if (!r->any)
		return pfm_errf(&r->err, "empty input: no frames and no "
				"end-of-stream frame (did the producer fail?)");
	return pfm_errf(&r->err, "stream cut: input ended after %llu frames "
			"without an end-of-stream frame (did the producer "
			"fail?)", (unsigned long long)r->in_stream);
}

int pfm_read(pfm_reader *r, pfm_frame *f)
{
	for (;;) {
		const char *raw = NULL;
		size_t len = 0;
		msgpack_object root;
		int rc = r->kind == PFM_EP_ZMQ ? next_zmq(r, &raw, &len, &root)
			 : r->kind == PFM_EP_HUB ? next_hub(r, &raw, &len, &root)
						 : next_bytes(r, &raw, &len, &root);
		if (rc == 0)
			return at_end(r) ? pfm_err_prefix(&r->err, "%s", r->name)
					 : 0;
		if (rc < 0)
			return pfm_err_prefix(&r->err, "%s: frame %llu", r->name,
					      (unsigned long long)r->index);
		if (pfm_frame_init(f, &root, &r->err))
			return pfm_err_prefix(&r->err, "%s: frame %llu", r->name,
					      (unsigned long long)r->index);
		f->raw = raw;
		f->raw_len = len;
		f->index = r->index++;
		r->any = 1;
		if (pfm_frame_is(f, PFM_T_EOS)) {
			if (on_eos(r, f))
				return pfm_err_prefix(&r->err, "%s: frame %llu",
						      r->name,
						      (unsigned long long)f->index);
			if (r->return_eos)
				return 1;
			continue;
		}
		/* A hub's sync frames are control, not data. */
		if (r->kind == PFM_EP_HUB && pfm_frame_is(f, PFM_T_SYNC))
			return 1;
		r->eos_last = 0;
		r->in_stream++;
		r->data_frames++;
		return 1;
	}
}

const char *pfm_reader_error(const pfm_reader *r) { return r->err.msg; }
uint64_t pfm_reader_count(const pfm_reader *r) { return r->data_frames; }
const char *pfm_reader_name(const pfm_reader *r) { return r->name; }
uint64_t pfm_reader_bytes(const pfm_reader *r) { return r->bytes; }

void pfm_reader_close(pfm_reader *r)
{
	if (!r)
		return;
	if (r->up_live) {
		msgpack_unpacked_destroy(&r->res);
		msgpack_unpacker_destroy(&r->up);
	}
	if (r->fd > 0)
		close(r->fd);
	if (r->msg_live)
		zmq_msg_close(&r->msg);
	if (r->zone_live)
		msgpack_zone_destroy(&r->zone);
	if (r->kind == PFM_EP_ZMQ)
		pfm_zsock_close(&r->z);
	if (r->link)
		pfm_worklink_detach(r->link, 0, 0, NULL);
	free(r);
}
