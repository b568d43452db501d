/* writer.c: frames to stdout, a file (atomically), a ZeroMQ PUSH socket
 * or back to a hub. Byte streams are buffered; payloads larger than half
 * the buffer are written straight from the caller's memory (no copy). */
#include "endpoint.h"
#include "worklink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "cli.h"

#define WBUF (1 << 20)
#define DIRECT (64 << 10)

struct pfm_writer {
	char name[256], path[4096], tmp[4200];
	int kind, fd, own_fd, failed;
	char *buf;
	size_t used;
	msgpack_sbuffer sb; /* ZeroMQ: one message being built */
	pfm_zsock z;
	int timeout_ms, fail_on_disconnect;
	pfm_worklink *link; /* a hub output */
	uint64_t count, bytes;
	pfm_err err;
};

static int write_all(pfm_writer *w, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(w->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int err = errno;
			w->failed = 1;
			pfm_errf(&w->err, "%s: write: %s", w->name,
				 strerror(err));
			w->err.code = err;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int flush(pfm_writer *w)
{
	int rc = w->used ? write_all(w, w->buf, w->used) : 0;
	w->used = 0;
	return rc;
}

/* msgpack_packer callback for byte streams. */
static int put_bytes(void *data, const char *p, size_t n)
{
	pfm_writer *w = data;
	if (w->failed)
		return -1;
	w->bytes += n;
	if (w->used + n > WBUF && flush(w))
		return -1;
	/* Large payloads (tiles, tensors) go straight from the caller's
	 * memory: copying them into the buffer was 94% of a pass-through. */
	if (n >= DIRECT) {
		if (flush(w))
			return -1;
		return write_all(w, p, n);
	}
	memcpy(w->buf + w->used, p, n);
	w->used += n;
	return 0;
}

static int open_fd(pfm_writer *w, const char *spec, const pfm_io_opts *o,
		   pfm_err *e)
{
	if (w->kind == PFM_EP_STDIO) {
		if (isatty(1) && !(o && o->force_tty))
			return pfm_errf(e, "refusing to write binary frames to "
					"a terminal: redirect stdout or pipe "
					"into frame-cat");
		w->fd = 1;
		return 0;
	}
	/* Devices, FIFOs and sockets (/dev/null, a named pipe) are written in
	 * place: renaming onto them would replace them with a file. */
	struct stat st;
	if (!stat(spec, &st) && !S_ISREG(st.st_mode)) {
		w->kind = PFM_EP_STDIO;
		w->fd = open(spec, O_WRONLY | O_CLOEXEC);
		if (w->fd < 0)
			return pfm_errf(e, "%s: %s", spec, strerror(errno));
		w->own_fd = 1;
		if (isatty(w->fd) && !(o && o->force_tty)) {
			close(w->fd);
			return pfm_errf(e, "%s: refusing to write binary "
					"frames to a terminal", spec);
		}
		return 0;
	}
	/* Atomic output: a reader never sees a half-written file under
	 * the final name. */
	snprintf(w->path, sizeof w->path, "%s", spec);
	snprintf(w->tmp, sizeof w->tmp, "%s.tmp.%ld", spec, (long)getpid());
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0)
		return pfm_errf(e, "%s: %s", w->tmp, strerror(errno));
	return 0;
}

pfm_writer *pfm_writer_open(const char *spec, const pfm_io_opts *o,
			    pfm_err *e)
{
	pfm_writer *w = calloc(1, sizeof *w);
	if (!w) {
		pfm_errf(e, "out of memory");
		return NULL;
	}
	snprintf(w->name, sizeof w->name, "%s",
		 strcmp(spec, "-") ? spec : "stdout");
	w->kind = pfm_endpoint_kind(spec);
	w->fd = -1;
	w->timeout_ms = o ? o->timeout_ms : 0;
	w->fail_on_disconnect = o && o->fail_on_disconnect;
	int rc;
	if (w->kind == PFM_EP_ZMQ) {
		msgpack_sbuffer_init(&w->sb);
		rc = pfm_zsock_open(&w->z, spec, 1, o, e);
	} else if (w->kind == PFM_EP_HUB) {
		msgpack_sbuffer_init(&w->sb);
		w->link = pfm_worklink_attach(spec, 1, o, e);
		rc = w->link ? 0 : -1;
	} else {
		w->buf = malloc(WBUF);
		rc = w->buf ? open_fd(w, spec, o, e) : pfm_errf(e, "out of memory");
	}
	if (rc) {
		free(w->buf);
		if (w->kind == PFM_EP_ZMQ || w->kind == PFM_EP_HUB)
			msgpack_sbuffer_destroy(&w->sb);
		free(w);
		return NULL;
	}
	return w;
}

static int gone(pfm_writer *w)
{
	w->failed = 1;
	return pfm_errf(&w->err, "%s: the reader disconnected after %llu "
			"frames (it died or was restarted)", w->name,
			(unsigned long long)w->count);
}

/* Send without blocking past --timeout; with fail_on_disconnect, a
 * reader that went away is an error rather than a wait. */
static int send_msg(pfm_writer *w, const void *p, size_t n)
{
	double end = w->timeout_ms > 0 ? pfm_now() + w->timeout_ms / 1e3 : 0;
	for (;;) {
		if (w->fail_on_disconnect && pfm_zsock_alone(&w->z))
			return gone(w);
		if (zmq_send(w->z.sock, p, n, ZMQ_DONTWAIT) >= 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			break;
		long ms = -1;
		if (end && (ms = (long)((end - pfm_now()) * 1e3)) <= 0) {
			errno = EAGAIN;
			break;
		}
		if (pfm_zsock_wait(&w->z, ZMQ_POLLOUT, ms) < 0 && errno != EINTR)
			break;
		pfm_zsock_events(&w->z);
		if (w->z.refused) {
			w->failed = 1;
			pfm_zsock_refused(&w->z, &w->err);
			return pfm_err_prefix(&w->err, "%s", w->name);
		}
	}
	w->failed = 1;
	/* A client that never shook hands: say why rather than "timeout". */
	if (errno == EAGAIN && w->z.connects && !w->z.handshook &&
	    pfm_zsock_wait_handshake(&w->z, 0, &w->err))
		return pfm_err_prefix(&w->err, "%s", w->name);
	return pfm_errf(&w->err, "%s: send: %s", w->name,
			errno == EAGAIN ? "timeout: no reader took the frame"
					: zmq_strerror(errno));
}

/* The message in sb to the socket or the hub. */
static int zmq_send_sb(pfm_writer *w)
{
	int rc;
	w->bytes += w->sb.size;
	if (w->kind == PFM_EP_HUB) {
		rc = pfm_worklink_put(w->link, w->sb.data, w->sb.size, &w->err);
		if (rc < 0) {
			w->failed = 1;
			pfm_err_prefix(&w->err, "%s", w->name);
		}
	} else {
		rc = send_msg(w, w->sb.data, w->sb.size);
	}
	msgpack_sbuffer_clear(&w->sb);
	return rc;
}

static int emit_object(pfm_writer *w, const msgpack_object *o)
{
	if (w->failed)
		return -1;
	msgpack_packer pk;
	if (w->kind == PFM_EP_ZMQ || w->kind == PFM_EP_HUB) {
		msgpack_packer_init(&pk, &w->sb, msgpack_sbuffer_write);
		if (msgpack_pack_object(&pk, *o))
			return pfm_errf(&w->err, "out of memory");
		return zmq_send_sb(w);
	}
	msgpack_packer_init(&pk, w, put_bytes);
	return msgpack_pack_object(&pk, *o) ? -1 : 0;
}

static int refuse_eos(pfm_writer *w, const msgpack_object *o)
{
	if (pfm_obj_streq(pfm_map_get(o, "type"), PFM_T_EOS))
		return pfm_errf(&w->err, "%s: an end-of-stream frame is "
				"written by closing the stream", w->name);
	return 0;
}

int pfm_write(pfm_writer *w, pfm_build *b)
{
	const msgpack_object *o = pfm_build_object(b);
	int rc = refuse_eos(w, o) ? -1 : emit_object(w, o);
	if (rc < 0)
		return -1;
	w->count += rc == 0; /* 1: a sync frame went back to the hub */
	return 0;
}

int pfm_write_raw(pfm_writer *w, const char *p, size_t n)
{
	int rc = 0;
	if (w->failed)
		return -1;
	if (w->kind == PFM_EP_HUB) {
		w->bytes += n;
		if ((rc = pfm_worklink_put(w->link, p, n, &w->err)) < 0) {
			w->failed = 1;
			return pfm_err_prefix(&w->err, "%s", w->name);
		}
	} else if (w->kind == PFM_EP_ZMQ) {
		w->bytes += n;
		if (send_msg(w, p, n))
			return -1;
	} else if (put_bytes(w, p, n)) {
		return -1;
	}
	w->count += rc == 0;
	return 0;
}

int pfm_write_frame(pfm_writer *w, const pfm_frame *f)
{
	if (refuse_eos(w, &f->root))
		return -1;
	/* Unchanged frames go out as their original bytes. */
	if (f->raw)
		return pfm_write_raw(w, f->raw, f->raw_len);
	int rc = emit_object(w, &f->root);
	if (rc < 0)
		return -1;
	w->count += rc == 0;
	return 0;
}

static int write_eos(pfm_writer *w)
{
	pfm_build *b = pfm_build_new();
	if (!b)
		return pfm_errf(&w->err, "out of memory");
	pfm_build_reset(b, PFM_T_EOS);
	pfm_build_i64(b, "count", (int64_t)w->count);
	int rc = emit_object(w, pfm_build_object(b));
	pfm_build_free(b);
	return rc;
}

static int finish_fd(pfm_writer *w, int complete)
{
	int rc = complete ? write_eos(w) : 0;
	if (flush(w))
		rc = -1;
	if (w->own_fd)
		close(w->fd);
	if (w->kind != PFM_EP_FILE)
		return rc;
	if (!rc && complete && fsync(w->fd))
		rc = pfm_errf(&w->err, "%s: fsync: %s", w->tmp, strerror(errno));
	if (close(w->fd) && !rc)
		rc = pfm_errf(&w->err, "%s: close: %s", w->tmp, strerror(errno));
	w->fd = -1;
	if (!rc && complete && rename(w->tmp, w->path))
		rc = pfm_errf(&w->err, "%s: rename: %s", w->path,
			      strerror(errno));
	if (rc || !complete)
		unlink(w->tmp);
	return rc;
}

int pfm_writer_close(pfm_writer *w, int complete, pfm_err *e)
{
	if (!w)
		return 0;
	int rc;
	if (w->kind == PFM_EP_ZMQ) {
		rc = complete && !w->failed ? write_eos(w) : 0;
		/* libzmq 4.3 drops what its engine has not written yet when
		 * the socket closes, even with a linger (the last frames
		 * to a slow reader). Readers disconnect once they have the
		 * eos (reader.c): wait for that, then close. */
		int ms = w->timeout_ms > 0 ? w->timeout_ms : PFM_ZMQ_LINGER_MS;
		/* A client that never shook hands with a server (none
		 * there, or one that would not have its key or none)
		 * delivered nothing: an error, not a quiet close. */
		if (!rc && complete && w->z.connects &&
		    pfm_zsock_wait_handshake(&w->z, ms, &w->err))
			rc = -1;
		if (!rc && complete)
			pfm_zsock_wait_alone(&w->z, ms);
		pfm_zsock_events(&w->z);
		if (!rc && w->z.refused)
			rc = pfm_zsock_refused(&w->z, &w->err);
		if (rc && !w->failed)
			pfm_err_prefix(&w->err, "%s", w->name);
		pfm_zsock_close(&w->z); /* lingers to deliver the rest */
		msgpack_sbuffer_destroy(&w->sb);
	} else if (w->kind == PFM_EP_HUB) {
		rc = pfm_worklink_detach(w->link, 1, complete && !w->failed,
					 &w->err);
		if (rc)
			pfm_err_prefix(&w->err, "%s", w->name);
		msgpack_sbuffer_destroy(&w->sb);
	} else {
		rc = finish_fd(w, complete && !w->failed);
		free(w->buf);
	}
	if (w->failed)
		rc = -1;
	if (rc && e)
		*e = w->err;
	free(w);
	return rc;
}

const char *pfm_writer_error(const pfm_writer *w) { return w->err.msg; }
int pfm_writer_epipe(const pfm_writer *w) { return w->err.code == EPIPE; }

int pfm_writer_flush(pfm_writer *w)
{
	/* sockets send each frame as it is written: only a byte stream
	 * holds frames back */
	return w->failed ? -1 : flush(w);
}
uint64_t pfm_writer_count(const pfm_writer *w) { return w->count; }
uint64_t pfm_writer_bytes(const pfm_writer *w) { return w->bytes; }
