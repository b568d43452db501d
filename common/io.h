/* io.h: reading and writing frame streams over any transport.
 *
 * An endpoint spec is one of
 *   "-"                 stdin / stdout
 *   PATH                a file (output written to PATH.tmp.PID, renamed on
 *                       a complete close)
 *   "@tcp://0.0.0.0:5555" ZeroMQ, bind   (also ipc://, inproc://)
 *   ">tcp://host:5555"  ZeroMQ, connect
 *   "tcp://..."         ZeroMQ with CZMQ's default: inputs (PULL) bind,
 *                       outputs (PUSH) connect
 *   "hub:tcp://host:5556" a worker of frame-hub (worklink.h): given as
 *                       both input and output of one program, it takes
 *                       frames from the hub and gives back the outputs,
 *                       with acknowledgements, credit and heartbeats
 * Several ZeroMQ endpoints may be joined with commas, as in CZMQ.
 *
 * A stream is data frames followed by one end-of-stream frame
 * {type:"eos", v:1, count:N}. A reader checks N against what it saw, so
 * a cut stream is an error, never a silent short read. Concatenated
 * streams (cat a.mpk b.mpk) read as one.
 *
 * A hub input also hands the program {type:"sync", v:1, _seq:N} frames
 * now and then: stages pass them on like any frame of a type they do not
 * handle (after the frames before them), and the hub output takes them
 * back. They are never counted or written anywhere else. */
#ifndef PFM_IO_H
#define PFM_IO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "frame.h"

#define PFM_MAX_FRAME_DEFAULT ((size_t)256 << 20)
#define PFM_MAX_OBJECTS 1000000 /* msgpack objects per frame */
#define PFM_MAX_DEPTH 32
#define PFM_T_SYNC "sync"

typedef struct {
	size_t max_frame;  /* bytes; 0 = PFM_MAX_FRAME_DEFAULT */
	int zmq_hwm;       /* ZeroMQ high-water mark in frames; 0 = 4 */
	int force_tty;     /* allow writing frames to a terminal */
	int return_eos;    /* reader: hand eos frames to the caller too */
	int allow_no_eos;  /* reader: EOF without eos is not an error */
	int timeout_ms;    /* ZeroMQ: give up when no frame moves for this
			    * long (a dead peer); 0 = wait for ever */
	int fail_on_disconnect; /* ZeroMQ writer: a reader that disconnects
				 * mid-stream is an error (frame-hub's output:
				 * a finite stream that nobody else can take) */
	/* CURVE (curve.h): this program's key pair (a file), the binding
	 * peer's public key (a file or Z85 text) and the directory of the
	 * public keys allowed to connect; NULL: from the environment
	 * (PFM_CURVE_SECRET, PFM_CURVE_SERVER, PFM_CURVE_ALLOW) or none.
	 * insecure: cleartext allowed beyond loopback (--insecure). */
	const char *curve_secret, *curve_server, *curve_allow;
	int insecure;
} pfm_io_opts;

/* Scan one MessagePack object at p[0..n) without allocating: returns its
 * size in bytes, 0 if more bytes are needed, -1 if malformed or over the
 * limits (objects, depth, max bytes) with e filled. This guards
 * msgpack-c, whose unpacker allocates declared array sizes up front. */
long long pfm_scan_object(const char *p, size_t n, size_t max_bytes,
			  pfm_err *e);
/* The same, setting *need (when it returns 0) to a total length below
 * which rescanning is pointless. */
long long pfm_scan_object_hint(const char *p, size_t n, size_t max_bytes,
			       size_t *need, pfm_err *e);

/* Is spec a ZeroMQ endpoint (as opposed to - or a file)? Hub endpoints
 * are. */
int pfm_spec_is_zmq(const char *spec);
/* Is spec a frame-hub worker endpoint ("hub:...")? */
int pfm_spec_is_hub(const char *spec);

typedef struct pfm_reader pfm_reader;

pfm_reader *pfm_reader_open(const char *spec, const pfm_io_opts *o,
			    pfm_err *e);
/* 1: a frame in *f; 0: clean end of input; -1: error (pfm_reader_error). */
int pfm_read(pfm_reader *r, pfm_frame *f);
const char *pfm_reader_error(const pfm_reader *r);
/* Data frames read so far (eos frames not counted). */
uint64_t pfm_reader_count(const pfm_reader *r);
const char *pfm_reader_name(const pfm_reader *r);
uint64_t pfm_reader_bytes(const pfm_reader *r);
void pfm_reader_close(pfm_reader *r);

typedef struct pfm_writer pfm_writer;

pfm_writer *pfm_writer_open(const char *spec, const pfm_io_opts *o,
			    pfm_err *e);
/* Write a built frame / a read frame unchanged. 0 or -1. A frame whose
 * type is "eos" is refused: the writer makes its own at close. */
int pfm_write(pfm_writer *w, pfm_build *b);
int pfm_write_frame(pfm_writer *w, const pfm_frame *f);
/* Write encoded bytes of one frame (checked to be exactly one map). */
int pfm_write_raw(pfm_writer *w, const char *p, size_t n);
/* complete=1: write eos{count}, flush, rename a file output into place.
 * complete=0: flush what was written and leave the stream without eos
 * (readers will see it as cut); a file output is removed. Frees w.
 * 0, or -1 with e filled (e->code == EPIPE: the reader went away). */
int pfm_writer_close(pfm_writer *w, int complete, pfm_err *e);
const char *pfm_writer_error(const pfm_writer *w);
/* Write out what a byte-stream writer has buffered (up to 1 MiB), so a
 * reader sees frames as they are made (a training log); 0 or -1. */
int pfm_writer_flush(pfm_writer *w);
/* Was the last error a closed pipe / gone reader (EPIPE)? */
int pfm_writer_epipe(const pfm_writer *w);
uint64_t pfm_writer_count(const pfm_writer *w);
uint64_t pfm_writer_bytes(const pfm_writer *w);

#endif
