/* test_hubproto: frame-hub's protocol, from scripted workers talking to a
 * hub run in a thread: welcome and credit, cumulative takes, frames sent
 * again oldest first when a worker is lost (a bad output, a gap in its
 * message count), duplicates dropped by (seq, index), strangers told they
 * are unknown, marks and the end; the output is the input, once each. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "frame.h"
#include "hub.h"
#include "hubmsg.h"
#include "io.h"

#define NF 6

static char dir[] = "/tmp/pfm-test-hub-XXXXXX";
static char ep[300], in[300], out[300];
static pfm_err hub_err;
static int hub_rc = -2;

static void *hub_main(void *arg)
{
	(void)arg;
	pfm_hub_opts o = {.input = in, .output = out, .work = ep, .window = 8,
			  .reorder = 64, .retries = 3, .heartbeat_ms = 3000,
			  .io = {.timeout_ms = 10000}};
	hub_rc = pfm_hub_run(&o, &hub_err);
	return NULL;
}

typedef struct {
	void *ctx, *s;
	uint64_t n;
} worker;

static void w_open(worker *w, const char *id)
{
	int t = 5000, zero = 0;
	w->ctx = zmq_ctx_new();
	w->s = zmq_socket(w->ctx, ZMQ_DEALER);
	w->n = 0;
	zmq_setsockopt(w->s, ZMQ_ROUTING_ID, id, strlen(id));
	zmq_setsockopt(w->s, ZMQ_RCVTIMEO, &t, sizeof t);
	zmq_setsockopt(w->s, ZMQ_LINGER, &zero, sizeof zero);
	zmq_connect(w->s, ep);
}

static void w_close(worker *w)
{
	zmq_close(w->s);
	zmq_ctx_term(w->ctx);
}

static void w_send(worker *w, int cmd, uint64_t a, uint64_t b,
		   const void *body, size_t n)
{
	pfm_hubmsg m = {.cmd = cmd, .n = ++w->n, .a = a, .b = b};
	zmq_msg_t z;
	if (body) {
		zmq_msg_init_size(&z, n);
		memcpy(zmq_msg_data(&z), body, n);
	}
	pfm_hub_send(w->s, NULL, &m, body ? &z : NULL, NULL, 0);
}

/* The next message (0 on timeout); its payload copied into buf. */
static int w_recv(worker *w, pfm_hubmsg *m, char *buf, size_t *n)
{
	zmq_msg_t b;
	int has;
	pfm_err e = {0};
	zmq_msg_init(&b);
	int rc = pfm_hub_recv(w->s, NULL, m, &b, &has, 0, &e);
	if (n)
		*n = 0;
	if (rc > 0 && has && buf && n) {
		*n = zmq_msg_size(&b) < 4096 ? zmq_msg_size(&b) : 4096;
		memcpy(buf, zmq_msg_data(&b), *n);
	}
	zmq_msg_close(&b);
	return rc > 0;
}

/* The next message that is not a ping. */
static int w_next(worker *w, pfm_hubmsg *m, char *buf, size_t *n)
{
	int rc;
	while ((rc = w_recv(w, m, buf, n)) && m->cmd == PFM_HUB_PING)
		;
	return rc;
}

static char frames[NF][256];
static size_t flen[NF];

static void make_input(void)
{
	pfm_err e = {0};
	pfm_writer *wr = pfm_writer_open(in, NULL, &e);
	pfm_build *b = pfm_build_new();
	for (int i = 0; i < NF; i++) {
		pfm_build_reset(b, "tile");
		pfm_build_str(b, "slide_id", "s");
		pfm_build_i64(b, "x", i);
		msgpack_sbuffer sb;
		msgpack_sbuffer_init(&sb);
		pfm_pack_object(&sb, pfm_build_object(b));
		memcpy(frames[i], sb.data, sb.size);
		flen[i] = sb.size;
		msgpack_sbuffer_destroy(&sb);
		pfm_write(wr, b);
	}
	pfm_build_free(b);
	CHECK(pfm_writer_close(wr, 1, &e) == 0, "input: %s", e.msg);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	snprintf(ep, sizeof ep, "ipc://%s/hub", dir);
	snprintf(in, sizeof in, "%s/in.mpk", dir);
	snprintf(out, sizeof out, "%s/out.mpk", dir);
	make_input();
	pthread_t th;
	pthread_create(&th, NULL, hub_main, NULL);
	pfm_hubmsg m;
	char buf[4096];
	size_t n;

	/* W1: welcome, two frames for a credit of two, two more after a
	 * take of both (one take for two frames). */
	worker w1;
	w_open(&w1, "W1");
	w_send(&w1, PFM_HUB_HELLO, 2, 0, "w1", 2);
	CHECK(w_next(&w1, &m, buf, &n) && m.cmd == PFM_HUB_WELCOME &&
	      m.a == 600 && m.b == 3000, "welcome: cmd %c a %llu", m.cmd,
	      (unsigned long long)m.a);
	for (uint64_t k = 0; k < 2; k++)
		CHECK(w_next(&w1, &m, buf, &n) && m.cmd == PFM_HUB_WORK &&
		      m.a == k && n == flen[k] && !memcmp(buf, frames[k], n),
		      "work %llu", (unsigned long long)k);
	w_send(&w1, PFM_HUB_TAKE, 1, 0, NULL, 0);
	for (uint64_t k = 2; k < 4; k++)
		CHECK(w_next(&w1, &m, buf, &n) && m.cmd == PFM_HUB_WORK && m.a == k,
		      "work %llu after the take", (unsigned long long)k);
	/* An output of frame 0, then the same again: kept once. Then an
	 * end-of-stream frame as an output: W1 is dropped. */
	w_send(&w1, PFM_HUB_OUT, 0, 0, frames[0], flen[0]);
	w_send(&w1, PFM_HUB_OUT, 0, 0, frames[0], flen[0]);
	static const char eos[] = "\x83\xa4type\xa3" "eos\xa1v\x01\xa5" "count\x00";
	w_send(&w1, PFM_HUB_OUT, 1, 0, eos, sizeof eos - 1);
	CHECK(w_next(&w1, &m, buf, &n) && m.cmd == PFM_HUB_GONE &&
	      n > 0 && memmem(buf, n, "not a data frame", 16),
	      "bad output: gone (%c %.*s)", m.cmd, (int)n, buf);
	w_close(&w1);

	/* W4: a message count that jumps means lost messages: dropped. */
	worker w4;
	w_open(&w4, "W4");
	w_send(&w4, PFM_HUB_HELLO, 1, 0, "w4", 2);
	CHECK(w_next(&w4, &m, NULL, NULL) && m.cmd == PFM_HUB_WELCOME, "w4 welcome");
	CHECK(w_next(&w4, &m, NULL, NULL) && m.cmd == PFM_HUB_WORK && m.a == 0,
	      "w4 gets the oldest frame W1 held: %llu", (unsigned long long)m.a);
	w4.n++;
	w_send(&w4, PFM_HUB_PING, 0, 0, NULL, 0);
	CHECK(w_next(&w4, &m, buf, &n) && m.cmd == PFM_HUB_GONE &&
	      memmem(buf, n, "lost messages", 13), "gap: gone: %.*s", (int)n, buf);
	w_close(&w4);

	/* A stranger: told the hub does not know it. */
	worker w3;
	w_open(&w3, "W3");
	w3.n = 5;
	w_send(&w3, PFM_HUB_PING, 0, 0, NULL, 0);
	CHECK(w_next(&w3, &m, buf, &n) && m.cmd == PFM_HUB_GONE &&
	      memmem(buf, n, "does not know", 13), "stranger: %.*s", (int)n, buf);
	w_close(&w3);

	/* W2 does it all: the frames lost with W1 and W4 first, oldest
	 * first, then the rest; a mark once it holds everything; the
	 * output of frame 0 comes again and is dropped. */
	worker w2;
	w_open(&w2, "W2");
	w_send(&w2, PFM_HUB_HELLO, 8, 0, "w2", 2);
	CHECK(w_next(&w2, &m, NULL, NULL) && m.cmd == PFM_HUB_WELCOME, "w2 welcome");
	uint64_t order[NF];
	int got = 0, marked = 0;
	while (got < NF && w_next(&w2, &m, buf, &n)) {
		if (m.cmd == PFM_HUB_WORK)
			order[got++] = m.a;
		if (m.cmd == PFM_HUB_MARK)
			marked = 1;
	}
	int ok = got == NF;
	for (int i = 0; i < got; i++)
		ok = ok && order[i] == (uint64_t)i;
	CHECK(ok, "w2: %d frames, in order 0..5 (lost ones first)", got);
	if (!marked)
		marked = w_next(&w2, &m, NULL, NULL) && m.cmd == PFM_HUB_MARK &&
			 m.a == NF - 1;
	CHECK(marked, "w2 holding everything at the end is marked");
	w_send(&w2, PFM_HUB_TAKE, NF - 1, 0, NULL, 0);
	for (int k = 0; k < NF; k++)
		w_send(&w2, PFM_HUB_OUT, (uint64_t)k, 0, frames[k], flen[k]);
	w_send(&w2, PFM_HUB_DONE, NF - 1, 0, NULL, 0);
	CHECK(w_next(&w2, &m, NULL, NULL) && m.cmd == PFM_HUB_END, "end");
	w_send(&w2, PFM_HUB_BYE, 0, 0, NULL, 0);
	pthread_join(th, NULL);
	w_close(&w2);
	CHECK(hub_rc == 0, "hub: %s", hub_err.msg);

	/* The output is the input: each frame once, in order. */
	FILE *a = fopen(in, "rb"), *b = fopen(out, "rb");
	char x[8192], y[8192];
	size_t na = a ? fread(x, 1, sizeof x, a) : 0;
	size_t nb = b ? fread(y, 1, sizeof y, b) : 0;
	CHECK(na && na == nb && !memcmp(x, y, na), "output == input (%zu, %zu bytes)",
	      na, nb);
	if (a)
		fclose(a);
	if (b)
		fclose(b);
	unlink(in);
	unlink(out);
	rmdir(dir);
	return check_done();
}
