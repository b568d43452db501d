/* test_frameid: the _seq key frame-hub puts on frames (added, found and
 * removed on the encoded bytes, payloads untouched) and the hub's message
 * format (header, payload, malformed and foreign messages). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "check.h"
#include "frame.h"
#include "frameid.h"
#include "hubmsg.h"

static unsigned char pixels[5000];

/* A frame with nkeys keys (type, v, pixels, then k3.. integers). */
static void encode(msgpack_sbuffer *sb, int nkeys)
{
	pfm_build *b = pfm_build_new();
	pfm_build_reset(b, "tile");
	pfm_build_bin(b, "pixels", pixels, sizeof pixels);
	for (int k = 3; k < nkeys; k++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", k);
		pfm_build_i64(b, key, k * 1000);
	}
	msgpack_sbuffer_clear(sb);
	pfm_pack_object(sb, pfm_build_object(b));
	pfm_build_free(b);
}

static void roundtrip(int nkeys, uint64_t seq)
{
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	encode(&sb, nkeys);
	char *buf = NULL, *back;
	size_t cap = 0, len, at, el, val;
	pfm_err e = {0};
	CHECK(pfm_seq_add(sb.data, sb.size, seq, &buf, &cap, &len, &e) == 0,
	      "%d keys: add: %s", nkeys, e.msg);
	/* The result is one frame with every key and _seq last. */
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	CHECK(msgpack_unpack_next(&u, buf, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	      off == len, "%d keys: unpacks", nkeys);
	pfm_frame f;
	int64_t v = -1;
	CHECK(pfm_frame_init(&f, &u.data, &e) == 0 &&
	      f.root.via.map.size == (uint32_t)nkeys + 1, "%d keys: map of %d",
	      nkeys, nkeys + 1);
	const msgpack_object *px = pfm_get(&f, "pixels");
	CHECK(px && px->via.bin.size == sizeof pixels &&
	      !memcmp(px->via.bin.ptr, pixels, sizeof pixels), "pixels kept");
	if (nkeys > 3)
		CHECK(pfm_get_i64(&f, "k3", &v, &e) == 0 && v == 3000, "k3 kept");
	msgpack_unpacked_destroy(&u);
	uint64_t got = 0;
	CHECK(pfm_map_find(buf, len, PFM_SEQ_KEY, &at, &el, &val, &e) == 1 &&
	      pfm_mp_u64(buf + val, len - val, &got) == 0 && got == seq,
	      "%d keys: found _seq %llu", nkeys, (unsigned long long)got);
	/* Removing it gives back the original bytes. */
	back = malloc(len);
	size_t n = pfm_map_drop(buf, len, at, el, back);
	CHECK(n == sb.size && !memcmp(back, sb.data, n), "%d keys: dropped "
	      "_seq gives the original (%zu vs %zu bytes)", nkeys, n, sb.size);
	/* A second one is refused. */
	char *b2 = NULL;
	size_t c2 = 0, l2;
	CHECK(pfm_seq_add(buf, len, 1, &b2, &c2, &l2, &e) == -1 &&
	      strstr(e.msg, "already has the key _seq"), "twice: %s", e.msg);
	free(b2);
	free(back);
	free(buf);
	msgpack_sbuffer_destroy(&sb);
}

static void test_seq(void)
{
	for (size_t i = 0; i < sizeof pixels; i++)
		pixels[i] = (unsigned char)(i * 7);
	roundtrip(3, 0);
	roundtrip(15, 123456789012345ull); /* fixmap 15 -> map16 16 -> back */
	roundtrip(16, 1);
	roundtrip(70000, 42);              /* map32 */
	pfm_err e = {0};
	size_t at, el, val;
	char *buf = NULL;
	size_t cap = 0, len;
	CHECK(pfm_map_find("\x92\x01\x02", 3, "x", &at, &el, &val, &e) == -1 &&
	      strstr(e.msg, "not a MessagePack map"), "array: %s", e.msg);
	CHECK(pfm_seq_add("\x81\xa1k", 3, 1, &buf, &cap, &len, &e) == -1,
	      "cut map refused");
	CHECK(pfm_map_find("\x81\xa1k\x01", 4, "x", &at, &el, &val, &e) == 0,
	      "absent key");
	free(buf);
	uint64_t v;
	CHECK(pfm_mp_u64("\x7f", 1, &v) == 0 && v == 127, "fixint");
	CHECK(pfm_mp_u64("\xcd\x01\x00", 3, &v) == 0 && v == 256, "uint16");
	CHECK(pfm_mp_u64("\xcf\x00\x00\x00\x01\x00\x00\x00\x00", 9, &v) == 0 &&
	      v == 1ull << 32, "uint64");
	CHECK(pfm_mp_u64("\xcf\x00", 2, &v) == -1, "cut uint64");
	CHECK(pfm_mp_u64("\xff", 1, &v) == -1, "negative is not a seq");
}

static void test_msg(void)
{
	void *ctx = zmq_ctx_new();
	void *a = zmq_socket(ctx, ZMQ_PAIR), *b = zmq_socket(ctx, ZMQ_PAIR);
	zmq_bind(a, "inproc://t");
	zmq_connect(b, "inproc://t");
	pfm_hubmsg m = {.cmd = PFM_HUB_OUT, .flags = PFM_HUB_UNTAGGED,
			.n = 7, .a = 1ull << 40, .b = 3}, r;
	zmq_msg_t body, got;
	zmq_msg_init_size(&body, 4);
	memcpy(zmq_msg_data(&body), "abcd", 4);
	pfm_err e = {0};
	int has;
	CHECK(pfm_hub_send(a, NULL, &m, &body, NULL, 0) == 0, "send");
	zmq_msg_init(&got);
	CHECK(pfm_hub_recv(b, NULL, &r, &got, &has, 0, &e) == 1 && has &&
	      r.cmd == PFM_HUB_OUT && r.flags == PFM_HUB_UNTAGGED && r.n == 7 &&
	      r.a == 1ull << 40 && r.b == 3 && zmq_msg_size(&got) == 4 &&
	      !memcmp(zmq_msg_data(&got), "abcd", 4), "header and body");
	zmq_msg_close(&got);
	m.cmd = PFM_HUB_GONE;
	CHECK(pfm_hub_send(a, NULL, &m, NULL, "why", 0) == 0, "text");
	zmq_msg_init(&got);
	CHECK(pfm_hub_recv(b, NULL, &r, &got, &has, 0, &e) == 1 && has &&
	      zmq_msg_size(&got) == 3, "text body");
	zmq_msg_close(&got);
	/* Nothing there: 0, not an error. */
	zmq_msg_init(&got);
	CHECK(pfm_hub_recv(b, NULL, &r, &got, &has, ZMQ_DONTWAIT, &e) == 0,
	      "nothing");
	/* Foreign bytes and another version are errors, drained. */
	zmq_send(a, "hello", 5, ZMQ_SNDMORE);
	zmq_send(a, "x", 1, 0);
	CHECK(pfm_hub_recv(b, NULL, &r, &got, &has, 0, &e) == -1 &&
	      strstr(e.msg, "not a frame-hub message"), "foreign: %s", e.msg);
	unsigned char h[PFM_HUB_HDR] = {'P', 'H', 99, 'T'};
	zmq_send(a, h, sizeof h, 0);
	CHECK(pfm_hub_recv(b, NULL, &r, &got, &has, 0, &e) == -1 &&
	      strstr(e.msg, "version 99"), "version: %s", e.msg);
	m.cmd = PFM_HUB_PING;
	pfm_hub_send(a, NULL, &m, NULL, NULL, 0);
	CHECK(pfm_hub_recv(b, NULL, &r, &got, &has, 0, &e) == 1 && !has &&
	      r.cmd == PFM_HUB_PING, "drained, next message intact");
	CHECK(!strcmp(pfm_hub_cmd_name(PFM_HUB_MARK), "mark"), "names");
	zmq_msg_close(&got);
	zmq_close(a);
	zmq_close(b);
	zmq_ctx_term(ctx);
}

int main(void)
{
	test_seq();
	test_msg();
	return check_done();
}
