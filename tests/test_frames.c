/* test_frames: frame model, builder, streams over files/pipes, cut and
 * garbage streams, limits, and ZeroMQ loopback with end-of-stream. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "frame.h"
#include "io.h"

static char dir[] = "/tmp/pfm-test-frames-XXXXXX";

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static const char *path(const char *name)
{
	static char p[4][256];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
	return p[k];
}

static int contains(const char *s, const char *sub) { return strstr(s, sub) != NULL; }

/* Read a whole stream; returns frames read or -1, error copied out. */
static long read_all(const char *spec, const pfm_io_opts *o, char *err, size_t cap)
{
	pfm_err e = {0};
	pfm_reader *r = pfm_reader_open(spec, o, &e);
	if (!r) {
		snprintf(err, cap, "%s", e.msg);
		return -1;
	}
	pfm_frame f;
	int rc;
	long n = 0;
	while ((rc = pfm_read(r, &f)) == 1)
		n++;
	if (rc < 0)
		snprintf(err, cap, "%s", pfm_reader_error(r));
	pfm_reader_close(r);
	return rc < 0 ? -1 : n;
}

static void write_file(const char *p, const void *data, size_t n)
{
	FILE *f = fopen(p, "wb");
	fwrite(data, 1, n, f);
	fclose(f);
}

static char *slurp(const char *p, size_t *n)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	rewind(f);
	char *b = malloc(*n + 1);
	if (fread(b, 1, *n, f) != *n)
		*n = 0;
	fclose(f);
	return b;
}

/* ---- every frame type round-trips through a file ---- */

static unsigned char pixels[64 * 48 * 3];
static float embv[2][16];

static void build_tile(pfm_build *b, int i)
{
	pfm_build_reset(b, PFM_T_TILE);
	pfm_build_str(b, "slide_id", "CMU-1");
	pfm_build_i64(b, "x", 512 * i);
	pfm_build_i64(b, "y", -7 + i);
	pfm_build_i64(b, "level", 0);
	pfm_build_f64(b, "mpp", 0.499);
	pfm_build_i64(b, "width", 64);
	pfm_build_i64(b, "height", 48);
	pfm_build_str(b, "encoding", "rgb8");
	pfm_build_bin(b, "pixels", pixels, sizeof pixels);
	pfm_build_str(b, "label", "tumour");
}

static void test_types_roundtrip(void)
{
	for (size_t i = 0; i < sizeof pixels; i++)
		pixels[i] = (unsigned char)rnd();
	for (int i = 0; i < 16; i++)
		embv[0][i] = (float)rnd() / 4e9f - 0.5f, embv[1][i] = (float)rnd();
	pfm_err e = {0};
	pfm_writer *w = pfm_writer_open(path("types.mpk"), NULL, &e);
	CHECK(w, "open: %s", e.msg);
	pfm_build *b = pfm_build_new();
	build_tile(b, 3);
	CHECK(pfm_write(w, b) == 0, "tile");
	pfm_tensor t;
	int64_t shape[1] = {16};
	pfm_tensor_set(&t, PFM_F32, embv[0], 1, shape);
	pfm_build_reset(b, PFM_T_EMBEDDING);
	pfm_build_str(b, "slide_id", "S2");
	pfm_build_sub_tensor(b, "emb", "uni", &t);
	CHECK(pfm_write(w, b) == 0, "embedding");
	pfm_build_reset(b, PFM_T_METRIC);
	pfm_build_i64(b, "step", 42);
	msgpack_object vals = {.type = MSGPACK_OBJECT_MAP};
	CHECK(pfm_build_obj(b, "values", &vals) == 0, "values");
	pfm_build_f64(b, "time", 1.7e9);
	CHECK(pfm_write(w, b) == 0, "metric");
	pfm_build_reset(b, PFM_T_RESULT);
	pfm_build_str(b, "task", "camelyon16");
	pfm_build_str(b, "model", "uni");
	pfm_build_str(b, "metric", "balanced_accuracy");
	pfm_build_f64(b, "value", 0.875);
	pfm_build_i64(b, "fold", 2);
	CHECK(pfm_write(w, b) == 0, "result");
	pfm_build_reset(b, PFM_T_ERROR);
	pfm_build_str(b, "where", "tile-filter");
	pfm_build_str(b, "message", "pixels: not a JPEG");
	pfm_build_i64(b, "frame", 17);
	CHECK(pfm_write(w, b) == 0, "error");
	pfm_build_reset(b, PFM_T_EOS);
	pfm_build_i64(b, "count", 4);
	CHECK(pfm_write(w, b) == -1 && contains(pfm_writer_error(w), "closing"),
	      "writer refuses hand-made eos: %s", pfm_writer_error(w));
	CHECK(access(path("types.mpk"), F_OK) != 0, "not visible before close");
	CHECK(pfm_writer_close(w, 1, &e) == 0, "close: %s", e.msg);
	CHECK(access(path("types.mpk"), F_OK) == 0, "renamed into place");

	pfm_reader *r = pfm_reader_open(path("types.mpk"), NULL, &e);
	pfm_frame f;
	CHECK(pfm_read(r, &f) == 1 && pfm_frame_is(&f, "tile"), "tile back");
	int64_t x, y;
	double mpp;
	const char *s;
	size_t n;
	CHECK(!pfm_get_i64(&f, "x", &x, &e) && x == 1536, "x");
	CHECK(!pfm_get_i64(&f, "y", &y, &e) && y == -4, "negative y");
	CHECK(!pfm_get_f64(&f, "mpp", &mpp, &e) && mpp == 0.499, "mpp");
	CHECK(!pfm_get_str(&f, "slide_id", &s, &n, &e) && n == 5 && !memcmp(s, "CMU-1", 5), "slide_id");
	const msgpack_object *px = pfm_get(&f, "pixels");
	CHECK(px && px->type == MSGPACK_OBJECT_BIN && px->via.bin.size == sizeof pixels &&
	      !memcmp(px->via.bin.ptr, pixels, sizeof pixels), "pixels intact");
	CHECK(pfm_get_i64(&f, "nope", &x, &e) == -1 && contains(e.msg, "no \"nope\""), "%s", e.msg);
	CHECK(pfm_get_i64(&f, "slide_id", &x, &e) == -1 && contains(e.msg, "not an integer"), "%s", e.msg);
	CHECK(pfm_read(r, &f) == 1 && pfm_frame_is(&f, "embedding"), "embedding back");
	const msgpack_object *emb = pfm_get(&f, "emb");
	pfm_tensor back;
	CHECK(emb && pfm_tensor_decode(pfm_map_get(emb, "uni"), &back, &e) == 0, "%s", e.msg);
	CHECK(back.dtype == PFM_F32 && back.ndim == 1 && back.shape[0] == 16 &&
	      !memcmp(back.data, embv[0], sizeof embv[0]), "tensor bytes");
	CHECK(pfm_read(r, &f) == 1 && pfm_frame_is(&f, "metric"), "metric back");
	CHECK(pfm_read(r, &f) == 1 && pfm_frame_is(&f, "result"), "result back");
	double value;
	CHECK(!pfm_get_f64(&f, "value", &value, &e) && value == 0.875, "value");
	CHECK(pfm_read(r, &f) == 1 && pfm_frame_is(&f, "error"), "error back");
	CHECK(!pfm_get_str(&f, "message", &s, &n, &e) && n == 18, "message");
	CHECK(pfm_read(r, &f) == 0, "clean end: %s", pfm_reader_error(r));
	CHECK(pfm_reader_count(r) == 5, "count");
	pfm_reader_close(r);
	pfm_build_free(b);
}

/* ---- a stage passes unknown keys through, and embeddings accumulate ---- */

static int same_obj(const msgpack_object *a, const msgpack_object *b)
{
	msgpack_sbuffer x, y;
	msgpack_sbuffer_init(&x);
	msgpack_sbuffer_init(&y);
	pfm_pack_object(&x, a);
	pfm_pack_object(&y, b);
	int same = x.size == y.size && !memcmp(x.data, y.data, x.size);
	msgpack_sbuffer_destroy(&x);
	msgpack_sbuffer_destroy(&y);
	return same;
}

static void test_passthrough(void)
{
	/* A frame from a "future" stage: nested maps, arrays, ext, nil. */
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 6);
	msgpack_pack_str_with_body(&pk, "type", 4);
	msgpack_pack_str_with_body(&pk, "tile", 4);
	msgpack_pack_str_with_body(&pk, "v", 1);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_str_with_body(&pk, "qc", 2);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "tissue", 6);
	msgpack_pack_double(&pk, 0.93);
	msgpack_pack_str_with_body(&pk, "flags", 5);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_nil(&pk);
	msgpack_pack_true(&pk);
	msgpack_pack_int64(&pk, -123456789012);
	msgpack_pack_str_with_body(&pk, "x-vendor", 8);
	msgpack_pack_ext_with_body(&pk, "\x01\x02\x03", 3, 7);
	msgpack_pack_str_with_body(&pk, "f32", 3);
	msgpack_pack_float(&pk, 1.25f);
	msgpack_pack_str_with_body(&pk, "emb", 3);
	msgpack_pack_map(&pk, 0);
	write_file(path("in.mpk"), sb.data, sb.size);
	/* append an eos: {type:eos, v:1, count:1} */
	FILE *fp = fopen(path("in.mpk"), "ab");
	fwrite("\x83\xa4type\xa3""eos\xa1v\x01\xa5""count\x01", 1, 20, fp);
	fclose(fp);

	pfm_err e = {0};
	pfm_reader *r = pfm_reader_open(path("in.mpk"), NULL, &e);
	CHECK(r, "%s", e.msg);
	pfm_frame f;
	CHECK(pfm_read(r, &f) == 1, "read: %s", pfm_reader_error(r));
	pfm_build *b = pfm_build_new();
	float a[4] = {1, 2, 3, 4}, c[2] = {5, 6};
	int64_t s4[1] = {4}, s2[2] = {1, 2};
	pfm_tensor ta, tc;
	pfm_tensor_set(&ta, PFM_F32, a, 1, s4);
	pfm_tensor_set(&tc, PFM_F32, c, 2, s2);
	/* stage 1 adds emb.uni, stage 2 adds emb.phikon */
	CHECK(pfm_build_copy(b, &f) == 0, "copy");
	CHECK(pfm_build_sub_tensor(b, "emb", "uni", &ta) == 0, "uni");
	CHECK(pfm_build_sub_tensor(b, "emb", "phikon", &tc) == 0, "phikon");
	CHECK(pfm_build_sub_tensor(b, "emb", "uni", &ta) == 0, "uni again replaces");
	pfm_writer *w = pfm_writer_open(path("out.mpk"), NULL, &e);
	CHECK(pfm_write(w, b) == 0, "write");
	CHECK(pfm_writer_close(w, 1, &e) == 0, "%s", e.msg);

	pfm_reader *r2 = pfm_reader_open(path("out.mpk"), NULL, &e);
	pfm_frame g;
	CHECK(pfm_read(r2, &g) == 1, "read back");
	const char *keys[] = {"type", "v", "qc", "x-vendor", "f32"};
	for (int i = 0; i < 5; i++) {
		const msgpack_object *o1 = pfm_get(&f, keys[i]), *o2 = pfm_get(&g, keys[i]);
		CHECK(o1 && o2 && same_obj(o1, o2), "key %s preserved", keys[i]);
	}
	CHECK(pfm_get(&g, "f32")->type == MSGPACK_OBJECT_FLOAT32, "float32 stays float32");
	const msgpack_object *emb = pfm_get(&g, "emb");
	CHECK(emb && emb->via.map.size == 2, "two embeddings accumulated");
	pfm_tensor t;
	CHECK(pfm_tensor_decode(pfm_map_get(emb, "phikon"), &t, &e) == 0 &&
	      t.ndim == 2 && t.shape[1] == 2 && !memcmp(t.data, c, 8), "phikon tensor");
	CHECK(g.root.via.map.size == 6, "no key added or lost: %u", g.root.via.map.size);
	pfm_reader_close(r2);
	pfm_reader_close(r);
	pfm_build_free(b);
	msgpack_sbuffer_destroy(&sb);
}

/* ---- cut streams: every byte offset is an error, never a short read ---- */

static char *small_stream(size_t *n)
{
	pfm_err e = {0};
	pfm_writer *w = pfm_writer_open(path("small.mpk"), NULL, &e);
	pfm_build *b = pfm_build_new();
	for (int i = 0; i < 3; i++) {
		build_tile(b, i);
		pfm_build_bin(b, "pixels", pixels, 40 + 9 * i);
		pfm_write(w, b);
	}
	pfm_writer_close(w, 1, &e);
	pfm_build_free(b);
	return slurp(path("small.mpk"), n);
}

static void test_cut_everywhere(void)
{
	size_t n = 0;
	char *s = small_stream(&n);
	char err[600];
	CHECK(read_all(path("small.mpk"), NULL, err, sizeof err) == 3, "whole stream reads");
	int bad = 0, msgs = 0;
	for (size_t cut = 0; cut < n; cut++) {
		write_file(path("cut.mpk"), s, cut);
		err[0] = 0;
		long got = read_all(path("cut.mpk"), NULL, err, sizeof err);
		if (got != -1)
			bad++;
		if (contains(err, "truncated") || contains(err, "stream cut") ||
		    contains(err, "empty input"))
			msgs++;
	}
	CHECK(bad == 0, "%d cut offsets read as complete streams", bad);
	CHECK(msgs == (int)n, "%d of %zu cut offsets explained", msgs, n);
	write_file(path("cut.mpk"), s, n - 30);
	read_all(path("cut.mpk"), NULL, err, sizeof err);
	CHECK(contains(err, "frame 2") && contains(err, "truncated"), "names the frame: %s", err);
	/* --lenient: a cut at a frame boundary is accepted, inside is not */
	pfm_io_opts lenient = {.allow_no_eos = 1};
	size_t eos_len = 20;
	write_file(path("cut.mpk"), s, n - eos_len);
	CHECK(read_all(path("cut.mpk"), &lenient, err, sizeof err) == 3, "lenient: %s", err);
	/* eos with a wrong count */
	char *wrong = malloc(n);
	memcpy(wrong, s, n);
	wrong[n - 1] = 7;
	write_file(path("cut.mpk"), wrong, n);
	CHECK(read_all(path("cut.mpk"), NULL, err, sizeof err) == -1 &&
	      contains(err, "frames lost"), "%s", err);
	/* concatenated streams read as one */
	char *two = malloc(2 * n);
	memcpy(two, s, n);
	memcpy(two + n, s, n);
	write_file(path("cat.mpk"), two, 2 * n);
	CHECK(read_all(path("cat.mpk"), NULL, err, sizeof err) == 6, "concatenated: %s", err);
	/* garbage after a complete stream */
	memcpy(two + n, "\xc1junk", 5);
	write_file(path("cat.mpk"), two, n + 5);
	CHECK(read_all(path("cat.mpk"), NULL, err, sizeof err) == -1 &&
	      contains(err, "frame 4") && contains(err, "0xc1"), "%s", err);
	free(two);
	free(wrong);
	free(s);
}

/* ---- random garbage never crashes and is never a valid stream ---- */

static void test_garbage(void)
{
	char buf[4096], err[600];
	int accepted = 0;
	for (int iter = 0; iter < 3000; iter++) {
		size_t n = rnd() % sizeof buf;
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)rnd();
		if (iter % 3 == 0 && n > 1)
			buf[0] = (char)(0x80 | (rnd() & 15)); /* start like a map */
		write_file(path("g.mpk"), buf, n);
		if (read_all(path("g.mpk"), NULL, err, sizeof err) >= 0)
			accepted++;
	}
	CHECK(accepted == 0, "%d garbage inputs read as streams", accepted);
}

/* ---- limits: oversized frames and hostile headers ---- */

static void test_limits(void)
{
	char err[600];
	pfm_io_opts small = {.max_frame = 1 << 20};
	pfm_err e = {0};
	pfm_writer *w = pfm_writer_open(path("big.mpk"), NULL, &e);
	pfm_build *b = pfm_build_new();
	char *big = calloc(1, 2 << 20);
	build_tile(b, 0);
	pfm_build_bin(b, "pixels", big, 2 << 20);
	pfm_write(w, b);
	pfm_writer_close(w, 1, &e);
	CHECK(read_all(path("big.mpk"), &small, err, sizeof err) == -1 &&
	      contains(err, "limit of 1048576") && contains(err, "frame 0"), "%s", err);
	CHECK(read_all(path("big.mpk"), NULL, err, sizeof err) == 1, "default limit: %s", err);
	/* 5-byte headers declaring 4 G elements or a 4 GB bin */
	const char *hostile[] = {"\xdd\xff\xff\xff\xff", "\xdf\xff\xff\xff\xff",
				 "\x81\xa1k\xc6\xff\xff\xff\xff", "\xdb\x7f\xff\xff\xff"};
	for (int i = 0; i < 4; i++) {
		write_file(path("h.mpk"), hostile[i], strlen(hostile[i]) + (i == 2 ? 0 : 0));
		CHECK(read_all(path("h.mpk"), NULL, err, sizeof err) == -1 &&
		      (contains(err, "limit") || contains(err, "objects")), "hostile %d: %s", i, err);
	}
	/* depth bomb: 40 nested arrays */
	char deep[64];
	memset(deep, 0x91, 40);
	deep[40] = 0x01;
	write_file(path("h.mpk"), deep, 41);
	CHECK(read_all(path("h.mpk"), NULL, err, sizeof err) == -1 && contains(err, "nesting"), "%s", err);
	/* not a map / no type / newer version */
	const char *bad[] = {"\x93\x01\x02\x03", "\x81\xa1v\x01", "\x82\xa4type\xa4tile\xa1v\x05"};
	const char *why[] = {"map", "type", "newer"};
	for (int i = 0; i < 3; i++) {
		write_file(path("h.mpk"), bad[i], i == 0 ? 4 : i == 1 ? 4 : 14);
		CHECK(read_all(path("h.mpk"), NULL, err, sizeof err) == -1 && contains(err, why[i]),
		      "bad %d: %s", i, err);
	}
	/* tensors that lie about their size */
	pfm_tensor t;
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "dtype", 5);
	msgpack_pack_str_with_body(&pk, "f32", 3);
	msgpack_pack_str_with_body(&pk, "shape", 5);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, 1ull << 62);
	msgpack_pack_uint64(&pk, 1ull << 62);
	msgpack_pack_str_with_body(&pk, "data", 4);
	msgpack_pack_bin_with_body(&pk, "abcd", 4);
	msgpack_zone z;
	msgpack_zone_init(&z, 1024);
	msgpack_object o;
	size_t off = 0;
	msgpack_unpack(sb.data, sb.size, &off, &z, &o);
	CHECK(pfm_tensor_decode(&o, &t, &e) == -1 && contains(e.msg, "overflow"), "%s", e.msg);
	o.via.map.ptr[1].val.via.array.ptr[0].via.u64 = 1;
	o.via.map.ptr[1].val.via.array.ptr[1].via.u64 = 2;
	CHECK(pfm_tensor_decode(&o, &t, &e) == -1 && contains(e.msg, "needs 8"), "%s", e.msg);
	o.via.map.ptr[1].val.via.array.ptr[1].via.u64 = 1;
	CHECK(pfm_tensor_decode(&o, &t, &e) == 0 && t.count == 1, "%s", e.msg);
	o.via.map.ptr[0].val.via.str.ptr = "f31";
	CHECK(pfm_tensor_decode(&o, &t, &e) == -1 && contains(e.msg, "unknown dtype"), "%s", e.msg);
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
	free(big);
	pfm_build_free(b);
}

/* ---- pipes: stdin-like fds, and a reader on a pipe written slowly ---- */

static void test_atomic_abandon(void)
{
	pfm_err e = {0};
	pfm_writer *w = pfm_writer_open(path("abandon.mpk"), NULL, &e);
	pfm_build *b = pfm_build_new();
	build_tile(b, 0);
	pfm_write(w, b);
	CHECK(pfm_writer_close(w, 0, &e) == 0, "incomplete close");
	CHECK(access(path("abandon.mpk"), F_OK) != 0, "no file under the final name");
	char tmp[300];
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path("abandon.mpk"), (long)getpid());
	CHECK(access(tmp, F_OK) != 0, "temporary removed");
	w = pfm_writer_open("/nonexistent-dir/x.mpk", NULL, &e);
	CHECK(!w && contains(e.msg, "/nonexistent-dir/x.mpk.tmp"), "%s", e.msg);
	pfm_build_free(b);
}

/* ---- ZeroMQ loopback ---- */

typedef struct {
	const char *spec;
	int n;
	int rc;
} zjob;

static void *zproducer(void *arg)
{
	zjob *j = arg;
	pfm_err e = {0};
	pfm_io_opts o = {.timeout_ms = 20000};
	pfm_writer *w = pfm_writer_open(j->spec, &o, &e);
	if (!w) {
		j->rc = -1;
		return NULL;
	}
	pfm_build *b = pfm_build_new();
	for (int i = 0; i < j->n; i++) {
		build_tile(b, i);
		pfm_build_i64(b, "tile_index", i);
		if (pfm_write(w, b))
			j->rc = -1;
	}
	if (pfm_writer_close(w, 1, &e))
		j->rc = -1;
	pfm_build_free(b);
	return NULL;
}

static void zmq_roundtrip(const char *in_spec, const char *out_spec)
{
	pfm_err e = {0};
	/* The timeout keeps a failed producer from hanging us. The default
	 * high-water mark: the writer closes once we have the eos, so
	 * libzmq's drop at close of frames queued to a full receiver (4.3)
	 * does not happen. */
	pfm_io_opts o = {.timeout_ms = 20000};
	pfm_reader *r = pfm_reader_open(in_spec, &o, &e);
	CHECK(r, "%s: %s", in_spec, e.msg);
	if (!r)
		return;
	zjob j = {out_spec, 200, 0};
	pthread_t th;
	pthread_create(&th, NULL, zproducer, &j);
	pfm_frame f;
	int rc, n = 0, order = 1;
	while ((rc = pfm_read(r, &f)) == 1) {
		int64_t idx;
		const msgpack_object *px = pfm_get(&f, "pixels");
		if (pfm_get_i64(&f, "tile_index", &idx, &e) || idx != n ||
		    !px || px->via.bin.size != sizeof pixels ||
		    memcmp(px->via.bin.ptr, pixels, sizeof pixels))
			order = 0;
		n++;
	}
	pthread_join(th, NULL);
	CHECK(rc == 0, "%s: %s", in_spec, pfm_reader_error(r));
	CHECK(n == 200 && order, "%s: %d frames, in order %d", in_spec, n, order);
	CHECK(j.rc == 0, "producer ok");
	pfm_reader_close(r);
}

static void test_zmq(void)
{
	char ipc[300], ipc_in[310], ipc_out[310];
	snprintf(ipc, sizeof ipc, "ipc://%s/sock", dir);
	snprintf(ipc_in, sizeof ipc_in, "@%s", ipc);
	snprintf(ipc_out, sizeof ipc_out, ">%s", ipc);
	zmq_roundtrip(ipc_in, ipc_out);
	int port = 20000 + (int)(getpid() % 20000);
	char tin[64], tout[64];
	snprintf(tin, sizeof tin, "@tcp://127.0.0.1:%d", port);
	snprintf(tout, sizeof tout, ">tcp://127.0.0.1:%d", port);
	zmq_roundtrip(tin, tout);
	/* reversed roles: the producer binds, the consumer connects */
	snprintf(tin, sizeof tin, ">tcp://127.0.0.1:%d", port + 1);
	snprintf(tout, sizeof tout, "@tcp://127.0.0.1:%d", port + 1);
	zmq_roundtrip(tin, tout);
	pfm_err e = {0};
	CHECK(!pfm_reader_open("@bogus://x", NULL, &e) && e.msg[0], "bad endpoint: %s", e.msg);
	/* nobody sends: the timeout turns a hang into an error */
	char quiet[310], err[600];
	snprintf(quiet, sizeof quiet, "@ipc://%s/quiet", dir);
	pfm_io_opts o = {.timeout_ms = 200};
	CHECK(read_all(quiet, &o, err, sizeof err) == -1 && contains(err, "timeout"), "%s", err);
}

static void test_scan(void)
{
	pfm_err e = {0};
	CHECK(pfm_scan_object("\x92\x01", 2, 100, &e) == 0, "incomplete array");
	CHECK(pfm_scan_object("\x92\x01\x02", 3, 100, &e) == 3, "complete array");
	CHECK(pfm_scan_object("\x81\xa1k\xc4\x03" "abc", 8, 100, &e) == 8, "bin");
	CHECK(pfm_scan_object("\xc4\x10", 2, 8, &e) == -1, "bin over max");
	CHECK(pfm_scan_object("\xd8\x01" "0123456789abcdef", 18, 100, &e) == 18, "fixext16");
	CHECK(pfm_scan_object("\xc7\x02\x01" "ab", 5, 100, &e) == 5, "ext8");
	CHECK(pfm_scan_object("\xcb" "12345678", 9, 100, &e) == 9, "float64");
	CHECK(pfm_scan_object("\xe0", 1, 100, &e) == 1, "negative fixint");
	CHECK(pfm_scan_object("\x90", 1, 100, &e) == 1, "empty array");
	CHECK(pfm_scan_object("\x80\x01", 2, 100, &e) == 1, "empty map, trailing ignored");
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_scan();
	test_types_roundtrip();
	test_passthrough();
	test_cut_everywhere();
	test_garbage();
	test_limits();
	test_atomic_abandon();
	test_zmq();
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cleanup failed\n");
	return check_done();
}
