/* fuzz_frames.c: libFuzzer target for everything that parses untrusted
 * frame bytes: the stream reader (pfm_scan_object + msgpack-c), the
 * one-message path (ZeroMQ, frame-cat --tail), the JSON writer and
 * parser, schema checks and tensor decoding.
 *
 * The input is read three ways: as a frame stream through a pfm_reader,
 * as one message, and as JSON lines (frame-cat -J). Besides "no crash,
 * no leak" it checks a few invariants and aborts when one breaks:
 *   - a frame's raw bytes scan and unpack to exactly the frame the
 *     reader returned, and the scanner's "need" hint never overshoots;
 *   - JSON is a fixpoint after one round trip (write --full, parse,
 *     write: the same text);
 *   - canonical base64 re-encodes to the same text.
 *
 * tests/test_fuzz_replay.c #includes this file to replay the corpus in
 * `make check`; it defines FUZZ_FAIL to count instead of aborting. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "frame.h"
#include "io.h"
#include "json.h"
#include "schema.h"

#ifndef FUZZ_FAIL
#define FUZZ_FAIL(...)                                                        \
	do {                                                                  \
		fprintf(stderr, "fuzz_frames: " __VA_ARGS__);                 \
		fputc('\n', stderr);                                          \
		abort();                                                      \
	} while (0)
#endif

#define FUZZ_MAX_FRAME ((size_t)1 << 20) /* small: reach the limits */
#define FUZZ_MAX_FRAMES 4096             /* per input: bounds the time */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Loaded once: schemas are trusted and loading them is slow. */
static pfm_schemas *fz_schemas;
static FILE *fz_null;
static int fz_fd = -1;
static char fz_spec[64];

static int fz_init(void)
{
	if (fz_null)
		return 0;
	pfm_err e = {0};
	fz_schemas = pfm_schemas_load(NULL, &e);
	if (!fz_schemas)
		FUZZ_FAIL("cannot load the built-in schemas: %s", e.msg);
	fz_null = fopen("/dev/null", "w");
	fz_fd = memfd_create("fuzz_frames", MFD_CLOEXEC);
	if (!fz_null || fz_fd < 0)
		FUZZ_FAIL("cannot open /dev/null or a memfd");
	snprintf(fz_spec, sizeof fz_spec, "/proc/self/fd/%d", fz_fd);
	return 0;
}

/* Structural equality; floats compared bit for bit (NaN == NaN). */
static int fz_equal(const msgpack_object *a, const msgpack_object *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case MSGPACK_OBJECT_NIL:
		return 1;
	case MSGPACK_OBJECT_BOOLEAN:
		return a->via.boolean == b->via.boolean;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return a->via.u64 == b->via.u64;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return a->via.i64 == b->via.i64;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return !memcmp(&a->via.f64, &b->via.f64, sizeof a->via.f64);
	case MSGPACK_OBJECT_STR:
	case MSGPACK_OBJECT_BIN:
		return a->via.str.size == b->via.str.size &&
		       !memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size);
	case MSGPACK_OBJECT_EXT:
		return a->via.ext.type == b->via.ext.type &&
		       a->via.ext.size == b->via.ext.size &&
		       !memcmp(a->via.ext.ptr, b->via.ext.ptr, a->via.ext.size);
	case MSGPACK_OBJECT_ARRAY:
		if (a->via.array.size != b->via.array.size)
			return 0;
		for (uint32_t i = 0; i < a->via.array.size; i++)
			if (!fz_equal(&a->via.array.ptr[i], &b->via.array.ptr[i]))
				return 0;
		return 1;
	case MSGPACK_OBJECT_MAP:
		if (a->via.map.size != b->via.map.size)
			return 0;
		for (uint32_t i = 0; i < a->via.map.size; i++)
			if (!fz_equal(&a->via.map.ptr[i].key,
				      &b->via.map.ptr[i].key) ||
			    !fz_equal(&a->via.map.ptr[i].val,
				      &b->via.map.ptr[i].val))
				return 0;
		return 1;
	}
	return 0;
}

/* Decode every map that looks like a tensor and read its payload, so a
 * bad pointer or length shows up under ASan. */
static unsigned fz_tensors(const msgpack_object *o, int depth)
{
	unsigned sum = 0;
	if (depth > PFM_MAX_DEPTH + 1)
		FUZZ_FAIL("object deeper than the scanner allows");
	if (o->type == MSGPACK_OBJECT_ARRAY)
		for (uint32_t i = 0; i < o->via.array.size; i++)
			sum += fz_tensors(&o->via.array.ptr[i], depth + 1);
	if (o->type != MSGPACK_OBJECT_MAP)
		return sum;
	for (uint32_t i = 0; i < o->via.map.size; i++)
		sum += fz_tensors(&o->via.map.ptr[i].val, depth + 1);
	pfm_tensor t;
	pfm_err e = {0};
	if (!pfm_is_tensor(o) || pfm_tensor_decode(o, &t, &e))
		return sum;
	if (t.nbytes != t.count * pfm_dtype_size(t.dtype))
		FUZZ_FAIL("tensor: %zu bytes for %zu x %zu", t.nbytes, t.count,
			  pfm_dtype_size(t.dtype));
	for (size_t i = 0; i < t.nbytes; i++)
		sum += ((const unsigned char *)t.data)[i];
	return sum;
}

/* What a stage does with a frame: typed lookups, tensors in "emb",
 * pass-through copy, schema check, JSON views. */
static void fz_frame(const pfm_frame *f)
{
	pfm_err e = {0};
	const char *s;
	size_t n;
	int64_t i;
	double d;
	pfm_tensor t;
	(void)pfm_get_str(f, "slide_id", &s, &n, &e);
	(void)pfm_get_i64(f, "x", &i, &e);
	(void)pfm_get_f64(f, "mpp", &d, &e);
	(void)pfm_get_tensor(f, "pixels", &t, &e);
	const msgpack_object *emb = pfm_get(f, "emb");
	if (emb && emb->type == MSGPACK_OBJECT_MAP)
		for (uint32_t k = 0; k < emb->via.map.size; k++) {
			const msgpack_object *v = &emb->via.map.ptr[k].val;
			if (pfm_is_tensor(v))
				(void)pfm_tensor_decode(v, &t, &e);
		}
	volatile unsigned sink = fz_tensors(&f->root, 0);
	(void)sink;

	pfm_build *b = pfm_build_new();
	if (b && !pfm_build_copy(b, f)) {
		(void)pfm_build_i64(b, "x", 1);
		(void)pfm_build_remove(b, "emb");
		msgpack_sbuffer sb;
		msgpack_sbuffer_init(&sb);
		(void)pfm_pack_object(&sb, pfm_build_object(b));
		msgpack_sbuffer_destroy(&sb);
	}
	pfm_build_free(b);

	(void)pfm_schemas_check(fz_schemas, &f->root, &e);
	(void)pfm_json_write(fz_null, &f->root, 0, &e);
	(void)pfm_json_write(fz_null, &f->root, 1, &e);
}

/* JSON of o (full) into a malloc'd buffer; NULL if not printable. */
static char *fz_json(const msgpack_object *o, size_t *len)
{
	char *buf = NULL;
	FILE *m = open_memstream(&buf, len);
	if (!m)
		FUZZ_FAIL("open_memstream failed");
	pfm_err e = {0};
	int rc = pfm_json_write(m, o, 1, &e);
	fclose(m);
	if (rc) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* After one round trip the JSON view must be stable: write, parse and
 * write again gives the same text. The first parse may fail (a frame
 * with a "$base64" key of its own), later ones may not. */
static void fz_json_fixpoint(const msgpack_object *o)
{
	size_t n1, n2, n3;
	char *j1 = fz_json(o, &n1), *j2 = NULL, *j3 = NULL;
	msgpack_sbuffer sb;
	msgpack_zone z;
	msgpack_object o1, o2;
	pfm_err e = {0};
	if (!j1)
		return;
	msgpack_sbuffer_init(&sb);
	msgpack_zone_init(&z, 4096);
	if (pfm_json_to_object(j1, n1, &sb, &z, &o1, &e))
		goto done;
	if (!(j2 = fz_json(&o1, &n2)))
		FUZZ_FAIL("JSON of a parsed document does not print: %.200s", j1);
	if (pfm_json_to_object(j2, n2, &sb, &z, &o2, &e))
		FUZZ_FAIL("printed JSON does not parse: %s: %.200s", e.msg, j2);
	if (!(j3 = fz_json(&o2, &n3)))
		FUZZ_FAIL("JSON of a parsed document does not print: %.200s", j2);
	if (n2 != n3 || memcmp(j2, j3, n2))
		FUZZ_FAIL("JSON round trip not stable:\n%.300s\n%.300s", j2, j3);
done:
	free(j1);
	free(j2);
	free(j3);
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
}

/* The raw bytes the reader handed out must be exactly this frame, and
 * rescanning prefixes the way the reader does must converge on it. */
static void fz_check_raw(const pfm_frame *f)
{
	pfm_err e = {0};
	long long sz = pfm_scan_object(f->raw, f->raw_len, FUZZ_MAX_FRAME, &e);
	if (sz != (long long)f->raw_len)
		FUZZ_FAIL("frame %llu: rescan gives %lld of %zu bytes (%s)",
			  (unsigned long long)f->index, sz, f->raw_len, e.msg);
	size_t have = 1, need = 0;
	for (;;) {
		sz = pfm_scan_object_hint(f->raw, have, FUZZ_MAX_FRAME, &need, &e);
		if (sz > 0)
			break;
		if (sz < 0 || need <= have || need > f->raw_len)
			FUZZ_FAIL("frame %llu: prefix %zu of %zu: scan %lld, "
				  "need %zu (%s)", (unsigned long long)f->index,
				  have, f->raw_len, sz, need, e.msg);
		have = need;
	}
	if (have != f->raw_len || sz != (long long)f->raw_len)
		FUZZ_FAIL("frame %llu: prefix walk ends at %zu, %lld of %zu",
			  (unsigned long long)f->index, have, sz, f->raw_len);

	msgpack_zone z;
	msgpack_zone_init(&z, 4096);
	msgpack_object o;
	size_t off = 0;
	if (msgpack_unpack(f->raw, f->raw_len, &off, &z, &o) !=
		    MSGPACK_UNPACK_SUCCESS ||
	    off != f->raw_len || !fz_equal(&o, &f->root))
		FUZZ_FAIL("frame %llu: raw bytes do not unpack to the frame",
			  (unsigned long long)f->index);
	msgpack_zone_destroy(&z);
}

/* The input as a frame stream, read through a file like frame-cat. */
static void fz_stream(const uint8_t *data, size_t size)
{
	if (ftruncate(fz_fd, 0) || pwrite(fz_fd, data, size, 0) != (ssize_t)size)
		FUZZ_FAIL("cannot write the memfd");
	pfm_io_opts io = {.max_frame = FUZZ_MAX_FRAME, .return_eos = 1};
	pfm_err e = {0};
	pfm_reader *r = pfm_reader_open(fz_spec, &io, &e);
	if (!r)
		FUZZ_FAIL("cannot open %s: %s", fz_spec, e.msg);
	pfm_frame f;
	int n = 0;
	while (n++ < FUZZ_MAX_FRAMES && pfm_read(r, &f) == 1) {
		if (!f.raw || !f.raw_len)
			FUZZ_FAIL("frame without raw bytes");
		fz_check_raw(&f);
		fz_frame(&f);
		if (n <= 4)
			fz_json_fixpoint(&f.root);
	}
	if (pfm_reader_bytes(r) > size)
		FUZZ_FAIL("reader counted %llu bytes of %zu",
			  (unsigned long long)pfm_reader_bytes(r), size);
	(void)pfm_reader_error(r);
	pfm_reader_close(r);
}

/* The input as one message (ZeroMQ, frame-cat --tail copies). */
static void fz_message(const uint8_t *data, size_t size)
{
	pfm_err e = {0};
	const char *p = (const char *)data;
	long long sz = pfm_scan_object(p, size, FUZZ_MAX_FRAME, &e);
	if (sz <= 0 || (size_t)sz != size)
		return;
	msgpack_zone z;
	msgpack_zone_init(&z, 4096);
	msgpack_object root;
	size_t off = 0;
	if (msgpack_unpack(p, size, &off, &z, &root) != MSGPACK_UNPACK_SUCCESS)
		FUZZ_FAIL("scanned message does not unpack");
	pfm_frame f;
	if (!pfm_frame_init(&f, &root, &e)) {
		f.raw = p;
		f.raw_len = size;
		f.index = 0;
		fz_frame(&f);
	}
	msgpack_zone_destroy(&z);
}

/* The input as JSON lines, like frame-cat -J. */
static void fz_json_lines(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *end = s + size;
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_zone z;
	msgpack_zone_init(&z, 4096);
	int lines = 0;
	while (s < end && lines++ < FUZZ_MAX_FRAMES) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);
		msgpack_packer pk;
		msgpack_sbuffer_clear(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		size_t used = 0;
		pfm_err e = {0};
		if (!pfm_json_parse(s, n, &used, &pk, &e)) {
			if (used > n)
				FUZZ_FAIL("json: consumed %zu of %zu", used, n);
			msgpack_object root;
			size_t off = 0;
			msgpack_zone_clear(&z);
			if (msgpack_unpack(sb.data, sb.size, &off, &z, &root) !=
				    MSGPACK_UNPACK_SUCCESS ||
			    off != sb.size)
				FUZZ_FAIL("json: packed value does not unpack");
			fz_json_fixpoint(&root);
			pfm_frame f;
			if (!pfm_frame_init(&f, &root, &e)) {
				f.raw = sb.data;
				f.raw_len = sb.size;
				f.index = (uint64_t)lines;
				fz_frame(&f);
			}
		}
		s += n;
	}
	/* The whole input as one document. */
	msgpack_object o;
	msgpack_sbuffer_clear(&sb);
	msgpack_zone_clear(&z);
	pfm_err e = {0};
	(void)pfm_json_to_object((const char *)data, size, &sb, &z, &o, &e);
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
}

/* Canonical base64 decodes and re-encodes to itself. */
static void fz_base64(const uint8_t *data, size_t size)
{
	if (!size || size > 4096)
		return;
	char dec[3072 + 3], enc[4096 + 4];
	if (pfm_base64_max_decoded(size) > sizeof dec)
		FUZZ_FAIL("base64: max_decoded(%zu) too large", size);
	long long n = pfm_base64_decode((const char *)data, size, dec);
	if (n < 0)
		return;
	if (pfm_base64_len((size_t)n) != size)
		FUZZ_FAIL("base64: %zu chars decode to %lld bytes", size, n);
	pfm_base64_encode(dec, (size_t)n, enc);
	if (memcmp(enc, data, size))
		FUZZ_FAIL("base64: %.*s re-encodes differently", (int)size,
			  (const char *)data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_init();
	fz_stream(data, size);
	fz_message(data, size);
	fz_json_lines(data, size);
	fz_base64(data, size);
	return 0;
}
