/* test_safetensors: common/safetensors.h.
 *   - round trips through pfm_st_save / pfm_st_open / pfm_st_open_mem
 *     with random tensors of every dtype, awkward names and metadata;
 *   - against Python's safetensors 0.4.5 (tests/ref/st_ref.py): our
 *     files read there equal, its files read here equal, its re-save of
 *     our file is the same bytes (layout, header, padding);
 *   - F16/BF16/F64 -> f32 equal to torch's .float() bit for bit, over
 *     every 16-bit pattern and random doubles with edge cases;
 *   - hostile files: each is an error naming the file and the tensor.
 * Run from the repository root. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "safetensors.h"

static char dir[] = "/tmp/pfm-st-XXXXXX";
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static char *path_in(const char *name)
{
	static char p[8][256];
	static int k;
	char *s = p[k++ % 8];
	snprintf(s, 256, "%s/%s", dir, name);
	return s;
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc(len > 0 ? (size_t)len : 1);
	*n = b ? fread(b, 1, (size_t)len, f) : 0;
	fclose(f);
	return b;
}

static int same_tensor(const pfm_st_tensor *a, const pfm_st_tensor *b)
{
	if (strcmp(a->name, b->name) || a->dtype != b->dtype ||
	    a->ndim != b->ndim || a->count != b->count ||
	    a->nbytes != b->nbytes)
		return 0;
	for (int i = 0; i < a->ndim; i++)
		if (a->shape[i] != b->shape[i])
			return 0;
	return !a->nbytes || !memcmp(a->data, b->data, a->nbytes);
}

/* ---- round trip ---- */

#define NT 40
static pfm_st_tensor ts[NT];
static char names[NT][64];
static void *bufs[NT];

/* Names sorted apart from their order here; some need escaping. */
static const char *const odd_names[] = {
	"blocks.0.attn.qkv.weight", "a\"quote", "back\\slash", "new\nline",
	"ctl\x01\x1f", "\xc3\xa9t\xc3\xa9", "\xf0\x9f\x94\xac", "", "z",
	"tab\there", "del\x7f",
};

static void make_tensors(int n, int torch_only)
{
	static const pfm_dtype all[] = {PFM_U8, PFM_I8, PFM_U16, PFM_I16,
					PFM_U32, PFM_I32, PFM_U64, PFM_I64,
					PFM_F16, PFM_BF16, PFM_F32, PFM_F64};
	static const pfm_dtype torch_dt[] = {PFM_U8, PFM_I8, PFM_I16, PFM_I32,
					     PFM_I64, PFM_F16, PFM_BF16,
					     PFM_F32, PFM_F64};
	for (int i = 0; i < n; i++) {
		pfm_st_tensor *t = &ts[i];
		memset(t, 0, sizeof *t);
		if (i < (int)(sizeof odd_names / sizeof odd_names[0]))
			snprintf(names[i], sizeof names[i], "%s", odd_names[i]);
		else
			snprintf(names[i], sizeof names[i], "t.%d.%llu", i,
				 (unsigned long long)(next() % 1000));
		t->name = names[i];
		t->dtype = torch_only ? torch_dt[next() % 9] : all[next() % 12];
		t->ndim = (int)(next() % 5);
		t->count = 1;
		for (int d = 0; d < t->ndim; d++) {
			t->shape[d] = (int64_t)(next() % 6);
			if (i % 7 && !t->shape[d])
				t->shape[d] = 1; /* zero-size now and then */
			t->count *= (size_t)t->shape[d];
		}
		t->nbytes = t->count * pfm_dtype_size(t->dtype);
		free(bufs[i]);
		unsigned char *b = bufs[i] = malloc(t->nbytes + 1);
		for (size_t k = 0; k < t->nbytes; k++)
			b[k] = (unsigned char)next();
		t->data = b;
	}
}

static void check_against(const pfm_st *st, int n, const char *what)
{
	CHECK(pfm_st_count(st) == (size_t)n, "%s: %zu tensors", what,
	      pfm_st_count(st));
	for (int i = 0; i < n; i++) {
		const pfm_st_tensor *t = pfm_st_find(st, ts[i].name);
		CHECK(t && same_tensor(t, &ts[i]), "%s: tensor '%s'", what,
		      ts[i].name);
	}
	for (size_t i = 1; i < pfm_st_count(st); i++)
		CHECK(strcmp(pfm_st_at(st, i - 1)->name, pfm_st_at(st, i)->name) < 0,
		      "%s: not sorted at %zu", what, i);
	CHECK(pfm_st_at(st, (size_t)n) == NULL, "%s: at past the end", what);
	CHECK(pfm_st_find(st, "absent") == NULL, "%s: find absent", what);
}

static void round_trip(void)
{
	pfm_err e = {0};
	const char *kv[] = {"pathfm", "{\"format\": 1, \"s\": \"a\\\"b\"}",
			    "k\n2", "\xc3\xa9\x01", "empty", ""};
	for (int rep = 0; rep < 20; rep++) {
		int n = 1 + (int)(next() % NT);
		make_tensors(n, 0);
		const char *p = path_in("rt.safetensors");
		int rc = pfm_st_save(p, ts, (size_t)n, kv, 3, &e);
		CHECK(rc == 0, "save: %s", e.msg);
		pfm_st *st;
		rc = pfm_st_open(&st, p, &e);
		CHECK(rc == 0, "open: %s", e.msg);
		if (rc)
			continue;
		check_against(st, n, "file");
		CHECK(!strcmp(pfm_st_label(st), p), "label %s", pfm_st_label(st));
		CHECK(pfm_st_meta_count(st) == 3, "meta count");
		CHECK(!strcmp(pfm_st_meta(st, "pathfm"), kv[1]), "meta pathfm");
		CHECK(!strcmp(pfm_st_meta(st, "k\n2"), kv[3]), "meta k2");
		CHECK(!strcmp(pfm_st_meta(st, "empty"), ""), "meta empty");
		CHECK(pfm_st_meta(st, "nope") == NULL, "meta absent");
		CHECK(!strcmp(pfm_st_meta_key(st, 0), "empty") &&
			      !strcmp(pfm_st_meta_key(st, 2), "pathfm") &&
			      pfm_st_meta_key(st, 3) == NULL,
		      "meta keys sorted");
		/* the same bytes in memory; there the offsets can be seen:
		 * the data starts 8-aligned and each tensor is aligned to
		 * its element size (the writer sorts widest first) */
		size_t n8;
		char *raw = slurp(p, &n8);
		uint64_t hl = 0;
		memcpy(&hl, raw, 8);
		CHECK(hl % 8 == 0, "header length %llu", (unsigned long long)hl);
		pfm_st *m;
		rc = pfm_st_open_mem(&m, raw, n8, "mem", &e);
		CHECK(rc == 0, "open_mem: %s", e.msg);
		if (!rc) {
			check_against(m, n, "mem");
			CHECK(!strcmp(pfm_st_label(m), "mem"), "mem label");
			for (size_t i = 0; i < pfm_st_count(m); i++) {
				const pfm_st_tensor *t = pfm_st_at(m, i);
				size_t off = (size_t)((const char *)t->data -
						      (raw + 8 + hl));
				CHECK(off % pfm_dtype_size(t->dtype) == 0,
				      "'%s' at offset %zu", t->name, off);
			}
			pfm_st_close(m);
		}
		free(raw);
		pfm_st_close(st);
	}
	/* no metadata: no __metadata__ */
	make_tensors(3, 0);
	const char *p = path_in("nometa.safetensors");
	CHECK(!pfm_st_save(p, ts, 3, NULL, 0, &e), "save: %s", e.msg);
	size_t n8;
	char *raw = slurp(p, &n8);
	CHECK(raw && !memmem(raw, n8, "__metadata__", 12), "no __metadata__");
	free(raw);
	/* nothing at all: 8 + "{}" padded to 8 */
	CHECK(!pfm_st_save(p, NULL, 0, NULL, 0, &e), "save empty: %s", e.msg);
	raw = slurp(p, &n8);
	CHECK(n8 == 16 && !memcmp(raw, "\x08\0\0\0\0\0\0\0{}      ", 16),
	      "empty file: %zu bytes", n8);
	free(raw);
	pfm_st *st;
	if (!pfm_st_open(&st, p, &e)) {
		CHECK(pfm_st_count(st) == 0 && pfm_st_meta_count(st) == 0 &&
			      pfm_st_at(st, 0) == NULL,
		      "empty file reads as empty");
		pfm_st_close(st);
	} else {
		CHECK(0, "open empty: %s", e.msg);
	}
}

/* ---- against Python's safetensors ---- */

static int unhex(const char *s, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return 0;
}

static void write_manifest(const char *path, int n)
{
	FILE *f = fopen(path, "w");
	for (int i = 0; i < n; i++) {
		const pfm_st_tensor *t = &ts[i];
		for (const char *c = t->name; *c; c++)
			fprintf(f, "%02x", (unsigned char)*c);
		fprintf(f, "\t%s\t", pfm_st_dtype_name(t->dtype));
		for (int d = 0; d < t->ndim; d++)
			fprintf(f, "%s%lld", d ? "," : "", (long long)t->shape[d]);
		fputc('\t', f);
		for (size_t k = 0; k < t->nbytes; k++)
			fprintf(f, "%02x", ((const unsigned char *)t->data)[k]);
		fputc('\n', f);
	}
	fclose(f);
}

/* Parse "1,2,3" ('' for 0-d) into shape; ndim or -1. */
static int parse_shape(const char *s, int64_t *shape)
{
	int nd = 0;
	while (*s) {
		char *end;
		if (nd == PFM_MAX_DIMS)
			return -1;
		shape[nd++] = strtoll(s, &end, 10);
		s = *end == ',' ? end + 1 : end;
		if (end == s && *s)
			return -1;
	}
	return nd;
}

/* py.safetensors against py.manifest. */
static void check_py_file(void)
{
	pfm_err e = {0};
	pfm_st *st;
	if (pfm_st_open(&st, path_in("py.safetensors"), &e)) {
		CHECK(0, "open py.safetensors: %s", e.msg);
		return;
	}
	const char *fmt = pfm_st_meta(st, "format"), *note = pfm_st_meta(st, "note");
	CHECK(fmt && !strcmp(fmt, "pt"), "py metadata format");
	CHECK(note && !strcmp(note, "\xc3\xa9 \"q\" \\ \n"), "py metadata note");
	FILE *f = fopen(path_in("py.manifest"), "r");
	CHECK(f != NULL, "py.manifest");
	char *line = NULL;
	size_t cap = 0, n = 0;
	unsigned char *want = NULL;
	while (f && getline(&line, &cap, f) > 0) {
		char *rest = line;
		line[strcspn(line, "\n")] = 0;
		char *name = strsep(&rest, "\t"), *dt = strsep(&rest, "\t"),
		     *shape = strsep(&rest, "\t"), *hex = strsep(&rest, "\t");
		n++;
		if (!hex) {
			CHECK(0, "bad manifest line %zu", n);
			continue;
		}
		char nm[64] = {0};
		if (strlen(name) / 2 < sizeof nm)
			unhex(name, strlen(name) / 2, (unsigned char *)nm);
		name = nm;
		const pfm_st_tensor *t = pfm_st_find(st, name);
		CHECK(t != NULL, "py tensor %s missing", name);
		if (!t)
			continue;
		int64_t sh[PFM_MAX_DIMS];
		int nd = parse_shape(shape, sh);
		size_t nb = strlen(hex) / 2;
		want = realloc(want, nb + 1);
		unhex(hex, nb, want);
		CHECK(!strcmp(pfm_st_dtype_name(t->dtype), dt), "%s: dtype %s, "
		      "wanted %s", name, pfm_st_dtype_name(t->dtype), dt);
		CHECK(nd == t->ndim && !memcmp(sh, t->shape, sizeof *sh * (nd > 0 ? nd : 0)),
		      "%s: shape differs", name);
		CHECK(nb == t->nbytes && (!nb || !memcmp(want, t->data, nb)),
		      "%s: data differs (%zu, %zu bytes)", name, nb, t->nbytes);
	}
	free(want);
	free(line);
	if (f)
		fclose(f);
	CHECK(n == pfm_st_count(st), "py: %zu in manifest, %zu in file", n,
	      pfm_st_count(st));
	pfm_st_close(st);
}

static uint32_t bits(float f)
{
	uint32_t b;
	memcpy(&b, &f, sizeof b);
	return b;
}

/* read_f32 of `from` equals the f32 tensor `ref` bit for bit. */
static void check_conv(const pfm_st *st, const char *from, const char *ref)
{
	pfm_err e = {0};
	const pfm_st_tensor *a = pfm_st_find(st, from), *b = pfm_st_find(st, ref);
	CHECK(a && b && a->count == b->count && b->dtype == PFM_F32,
	      "conv: %s / %s", from, ref);
	if (!a || !b || a->count != b->count)
		return;
	float *x = malloc(a->count * sizeof *x), *y = malloc(b->count * sizeof *y);
	CHECK(!pfm_st_read_f32(a, x, &e), "read %s: %s", from, e.msg);
	CHECK(!pfm_st_read_f32(b, y, &e), "read %s: %s", ref, e.msg);
	size_t bad = 0, nan = 0, sub = 0;
	for (size_t i = 0; i < a->count; i++) {
		if (bits(x[i]) != bits(y[i]) && bad++ < 5)
			fprintf(stderr, "  %s[%zu]: %08x, torch %08x\n", from, i,
				bits(x[i]), bits(y[i]));
		nan += isnan(y[i]) != 0;
		sub += fpclassify(y[i]) == FP_SUBNORMAL;
	}
	CHECK(bad == 0, "%s: %zu of %zu differ from torch's .float()", from,
	      bad, a->count);
	CHECK(nan > 0, "%s: no NaN among the inputs", from);
	if (a->dtype != PFM_F16) /* f16 subnormals are normal f32 */
		CHECK(sub > 0, "%s: no f32 subnormal among the outputs", from);
	free(x);
	free(y);
}

static void against_python(void)
{
	const char *py = ".venv/bin/python";
	if (access(py, X_OK)) {
		CHECK(0, "%s missing: run `make deps` first", py);
		return;
	}
	pfm_err e = {0};
	/* dtypes torch 1.13 has (no U16/U32/U64), one metadata pair so
	 * save_file's header is deterministic */
	int n = 30;
	make_tensors(n, 1);
	const char *kv[] = {"pathfm", "{\"format\": 1}"};
	CHECK(!pfm_st_save(path_in("c.safetensors"), ts, (size_t)n, kv, 1, &e),
	      "save c: %s", e.msg);
	write_manifest(path_in("c.manifest"), n);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "%s tests/ref/st_ref.py %s", py, dir);
	FILE *p = popen(cmd, "r");
	char line[512];
	int oks = 0;
	while (p && fgets(line, sizeof line, p)) {
		CHECK(!strncmp(line, "ok", 2), "st_ref.py: %s", line);
		oks += !strncmp(line, "ok", 2);
	}
	CHECK(p && pclose(p) == 0 && oks == 2, "%s failed", cmd);

	/* save_file of what it read from our file: the same bytes */
	size_t n1, n2;
	char *a = slurp(path_in("c.safetensors"), &n1),
	     *b = slurp(path_in("c_resaved.safetensors"), &n2);
	CHECK(a && b && n1 == n2 && !memcmp(a, b, n1),
	      "our file and safetensors' re-save differ (%zu, %zu bytes)", n1, n2);
	free(a);
	free(b);

	check_py_file();

	pfm_st *st;
	if (pfm_st_open(&st, path_in("conv.safetensors"), &e)) {
		CHECK(0, "open conv: %s", e.msg);
		return;
	}
	CHECK(pfm_st_find(st, "h")->count == 65536, "every f16 pattern");
	check_conv(st, "h", "hf");
	check_conv(st, "b", "bf");
	check_conv(st, "d", "df");
	pfm_st_close(st);
}

/* ---- hostile files ---- */

/* header text + ndata zero bytes, with the true header length */
static char *mkfile(const char *hdr, size_t hl, size_t ndata, size_t *n)
{
	*n = 8 + hl + ndata;
	char *b = calloc(1, *n);
	for (int i = 0; i < 8; i++)
		b[i] = (char)((uint64_t)hl >> (8 * i));
	memcpy(b + 8, hdr, hl);
	return b;
}

/* Opening buf must fail with a message holding the label and each of
 * want1, want2 (NULL: nothing more). */
static void refused(const char *what, const char *buf, size_t n,
		    const char *want1, const char *want2)
{
	pfm_err e = {0};
	pfm_st *st = (pfm_st *)&e; /* must be set to NULL */
	int rc = pfm_st_open_mem(&st, buf, n, "hostile.st", &e);
	CHECK(rc == -1 && st == NULL, "%s: accepted", what);
	if (rc == 0)
		pfm_st_close(st);
	CHECK(!strncmp(e.msg, "hostile.st: ", 12), "%s: no label in '%s'",
	      what, e.msg);
	CHECK(!want1 || strstr(e.msg, want1), "%s: '%s' not in '%s'", what,
	      want1, e.msg);
	CHECK(!want2 || strstr(e.msg, want2), "%s: '%s' not in '%s'", what,
	      want2, e.msg);
}

static void bad_header(const char *what, const char *hdr, size_t ndata,
		       const char *want1, const char *want2)
{
	size_t n;
	char *b = mkfile(hdr, strlen(hdr), ndata, &n);
	refused(what, b, n, want1, want2);
	free(b);
}

static void good_header(const char *what, const char *hdr, size_t ndata,
			size_t ntensors)
{
	size_t n;
	pfm_err e = {0};
	pfm_st *st;
	char *b = mkfile(hdr, strlen(hdr), ndata, &n);
	int rc = pfm_st_open_mem(&st, b, n, "good.st", &e);
	CHECK(rc == 0, "%s: %s", what, e.msg);
	if (!rc) {
		CHECK(pfm_st_count(st) == ntensors, "%s: %zu tensors", what,
		      pfm_st_count(st));
		pfm_st_close(st);
	}
	free(b);
}

#define W4 "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]"

static void hostile(void)
{
	/* lengths */
	refused("empty", "", 0, "too short", NULL);
	refused("7 bytes", "\x02\0\0\0\0\0\0", 7, "too short", NULL);
	refused("length past the end", "\x64\0\0\0\0\0\0\0{}", 10,
		"header length 100 runs past the end", NULL);
	refused("length 2^63", "\0\0\0\0\0\0\0\x80{}", 10, "over the limit",
		NULL);
	refused("length 100 MB + 1", "\x01\xe1\xf5\x05\0\0\0\0{}", 10,
		"over the limit", NULL);
	refused("length 2^64-1", "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10,
		"over the limit", NULL);

	/* offsets */
	bad_header("past the end",
		   "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
		   4, "tensor 'w'", "run past the end of the data (4 bytes)");
	bad_header("overlap",
		   "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
		   12, "tensor 'b'", "overlap tensor 'a'");
	bad_header("same offsets",
		   "{\"a\":{" W4 "},\"b\":{" W4 "}}", 4, "tensor 'b'", "overlap");
	bad_header("hole",
		   "{\"a\":{" W4 "},"
		   "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
		   12, "tensor 'b'", "hole");
	bad_header("hole at 0",
		   "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
		   8, "tensor 'b'", "bytes 0..3");
	bad_header("trailing data", "{\"a\":{" W4 "}}", 8,
		   "4 bytes after the last tensor", NULL);
	bad_header("data without tensors", "{}", 3, "3 bytes after", NULL);
	bad_header("begin after end",
		   "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}",
		   8, "tensor 'w'", "begin after end");
	bad_header("shape product overflow",
		   "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
		   "\"data_offsets\":[0,0]}}", 0, "tensor 'w'", "overflows");
	bad_header("bytes overflow",
		   "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
		   "\"data_offsets\":[0,0]}}", 0, "tensor 'w'", "overflows");
	bad_header("wrong size f32",
		   "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
		   8, "tensor 'w'", "hold 8 bytes; 3 elements of F32 need 12");
	bad_header("wrong size f16",
		   "{\"w\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,4]}}",
		   4, "tensor 'w'", "need 8");
	bad_header("offsets > 2^64",
		   "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,"
		   "18446744073709551616]}}", 1, "tensor 'w'", "does not fit 64 bits");

	/* JSON */
	bad_header("unterminated object", "{\"a\":{" W4 "}", 4,
		   "header ends where", NULL);
	bad_header("trailing comma", "{\"a\":{" W4 "},}", 4,
		   "expected a tensor name", NULL);
	bad_header("single quotes", "{'a':1}", 0, "expected a tensor name", NULL);
	bad_header("not an object", "[]", 0, "expected the header object", NULL);
	bad_header("empty header", "", 0, "header ends where the header object", NULL);
	bad_header("spaces only", "        ", 0, "header ends", NULL);
	bad_header("text after", "{} x", 0, "text after the header object", NULL);
	bad_header("two objects", "{}{}", 0, "text after", NULL);
	bad_header("invalid escape", "{\"a\\q\":{" W4 "}}", 4, "invalid escape", NULL);
	bad_header("bad \\u", "{\"a\\u12\":{" W4 "}}", 4, "invalid \\u escape", NULL);
	bad_header("invalid UTF-8", "{\"\xff\":{" W4 "}}", 4, "invalid UTF-8", NULL);
	bad_header("overlong UTF-8", "{\"\xc0\xaf\":{" W4 "}}", 4, "invalid UTF-8", NULL);
	bad_header("UTF-8 surrogate", "{\"\xed\xa0\x80\":{" W4 "}}", 4, "invalid UTF-8", NULL);
	bad_header("cut UTF-8", "{\"\xe2\x82", 0, "invalid UTF-8", NULL);
	bad_header("control char", "{\"a\x01\":{" W4 "}}", 4, "control character 0x01", NULL);
	bad_header("lone low surrogate", "{\"\\udc00\":{" W4 "}}", 4, "lone low surrogate", NULL);
	bad_header("lone high surrogate", "{\"\\ud800x\":{" W4 "}}", 4, "without a low one", NULL);
	bad_header("unterminated string", "{\"abc", 0, "unterminated string", NULL);
	bad_header("missing colon", "{\"a\" {" W4 "}}", 4, "expected ':'", NULL);
	bad_header("missing comma", "{\"a\":{" W4 "} \"b\":{}}", 4, "expected ',' or '}'", NULL);
	bad_header("NaN shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[NaN],\"data_offsets\":[0,4]}}",
		   4, "tensor 'w'", "shape entry is not an integer");
	{
		/* a NUL byte inside the header */
		static const char h[] = "{\"a\0\":{" W4 "}}";
		size_t n;
		char *b = mkfile(h, sizeof h - 1, 4, &n);
		refused("raw NUL", b, n, "control character 0x00", NULL);
		free(b);
	}

	/* entries */
	bad_header("entry not an object", "{\"w\":5}", 0, "tensor 'w'", "entry is not an object");
	bad_header("entry empty", "{\"w\":{}}", 0, "tensor 'w'", "entry has no");
	bad_header("missing offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0,
		   "tensor 'w'", "entry lacks data_offsets");
	bad_header("missing dtype", "{\"w\":{\"shape\":[],\"data_offsets\":[0,0]}}", 0,
		   "tensor 'w'", "entry lacks dtype");
	bad_header("duplicate key", "{\"w\":{\"dtype\":\"F32\"," W4 "}}", 4,
		   "tensor 'w'", "duplicate key 'dtype'");
	bad_header("unknown key", "{\"w\":{" W4 ",\"x\":1}}", 4, "tensor 'w'",
		   "unknown key 'x'");
	bad_header("dtype not a string", "{\"w\":{\"dtype\":4}}", 0, "tensor 'w'",
		   "expected the dtype string");
	bad_header("unknown dtype", "{\"w\":{\"dtype\":\"F33\"}}", 0, "tensor 'w'",
		   "unknown dtype 'F33'");
	bad_header("lowercase dtype", "{\"w\":{\"dtype\":\"f32\"}}", 0, "tensor 'w'",
		   "unknown dtype 'f32'");
	bad_header("fp8", "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}",
		   1, "tensor 'w'", "dtype F8_E4M3 is not supported");
	bad_header("negative shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1]}}", 0,
		   "tensor 'w'", "shape entry is negative");
	bad_header("negative zero", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-0]}}", 0,
		   "tensor 'w'", "negative");
	bad_header("float shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.0]}}", 0,
		   "tensor 'w'", "shape entry is not an integer");
	bad_header("exponent shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1e2]}}", 0,
		   "tensor 'w'", "not an integer");
	bad_header("leading zero", "{\"w\":{\"dtype\":\"F32\",\"shape\":[01]}}", 0,
		   "tensor 'w'", "leading zero");
	bad_header("nested shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[[1]]}}", 0,
		   "tensor 'w'", "not an integer");
	bad_header("shape not an array", "{\"w\":{\"dtype\":\"F32\",\"shape\":1}}", 0,
		   "tensor 'w'", "expected shape");
	bad_header("shape > int64", "{\"w\":{\"dtype\":\"U8\",\"shape\":[9223372036854775808]}}",
		   0, "tensor 'w'", "too large");
	bad_header("9 dimensions",
		   "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1]}}", 0,
		   "tensor 'w'", "more than 8 entries");
	bad_header("3 offsets", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,1]}}",
		   1, "tensor 'w'", "more than 2 entries");
	bad_header("1 offset", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1]}}",
		   1, "tensor 'w'", "must be [begin, end]");
	bad_header("NUL in name", "{\"a\\u0000b\":{" W4 "}}", 4, "tensor 'a'",
		   "name holds a NUL");
	bad_header("duplicate names", "{\"w\":{" W4 "},\"x\":{\"dtype\":\"F32\","
		   "\"shape\":[1],\"data_offsets\":[4,8]},\"w\":{\"dtype\":\"F32\","
		   "\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "tensor 'w'",
		   "duplicate tensor name");
	bad_header("long name", "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":5}",
		   0, "tensor 'aaaaa", "...': header byte 110: entry is not an object");

	/* __metadata__ */
	bad_header("metadata value int", "{\"__metadata__\":{\"a\":1}}", 0,
		   "__metadata__ value of 'a' is not a string", NULL);
	bad_header("metadata value object", "{\"__metadata__\":{\"a\":{}}}", 0,
		   "is not a string", NULL);
	bad_header("metadata null", "{\"__metadata__\":null}", 0,
		   "__metadata__ is not an object of strings", NULL);
	bad_header("metadata array", "{\"__metadata__\":[\"a\"]}", 0,
		   "__metadata__ is not an object", NULL);
	bad_header("metadata duplicate key",
		   "{\"__metadata__\":{\"k\":\"1\",\"j\":\"\",\"k\":\"2\"}}", 0,
		   "__metadata__: duplicate key 'k'", NULL);
	bad_header("metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0,
		   "duplicate __metadata__", NULL);
	bad_header("metadata NUL", "{\"__metadata__\":{\"k\":\"a\\u0000\"}}", 0,
		   "holds a NUL", NULL);

	/* what the reference accepts and so do we */
	good_header("empty", "{}", 0, 0);
	good_header("whitespace around", " \t\n{ } \r\n ", 0, 0);
	good_header("padded", "{\"a\":{" W4 "}}   ", 4, 1);
	good_header("0-d", "{\"a\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]}}", 8, 1);
	good_header("zero-size ones",
		    "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
		    "\"a\":{" W4 "},\"y\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,4]},"
		    "\"x\":{\"dtype\":\"BOOL\",\"shape\":[0],\"data_offsets\":[0,0]}}", 4, 4);
	good_header("empty name and escapes",
		    "{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
		    "\"\\u00e9\\ud83d\\udd2c\\n\\/\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
		    2, 2);
	good_header("keys in any order", "{\"a\":{\"data_offsets\":[0,4],\"shape\":[1],"
		    "\"dtype\":\"I32\"}}", 4, 1);
	good_header("metadata only", "{\"__metadata__\":{\"format\":\"pt\"}}", 0, 0);
	good_header("big header numbers",
		    "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,0,9223372036854775807],"
		    "\"data_offsets\":[0,0]}}", 0, 1);

	/* the escapes decoded, BOOL as U8 */
	{
		size_t n;
		pfm_err e = {0};
		pfm_st *st;
		const char *h = "{\"b\\u00e9\\\"\\\\\\t\":{\"dtype\":\"BOOL\","
				"\"shape\":[2],\"data_offsets\":[0,2]}}";
		char *b = mkfile(h, strlen(h), 2, &n);
		b[n - 1] = 1;
		CHECK(!pfm_st_open_mem(&st, b, n, "esc", &e), "escapes: %s", e.msg);
		const pfm_st_tensor *t = st ? pfm_st_find(st, "b\xc3\xa9\"\\\t") : NULL;
		CHECK(t && t->dtype == PFM_U8 && t->count == 2 &&
			      ((const char *)t->data)[1] == 1,
		      "escaped name, BOOL as U8");
		float f[2];
		CHECK(t && pfm_st_read_f32(t, f, &e) == -1 &&
			      strstr(e.msg, "not a float type") && strstr(e.msg, "tensor 'b?"),
		      "read_f32 of u8: %s", e.msg);
		pfm_st_close(st);
		free(b);
	}

	/* every prefix of a good file is refused; every byte changed
	 * in its header is refused or read, never a crash */
	make_tensors(6, 0);
	pfm_err e = {0};
	const char *kv[] = {"k", "v"};
	const char *p = path_in("cut.safetensors");
	CHECK(!pfm_st_save(p, ts, 6, kv, 1, &e), "save: %s", e.msg);
	size_t n;
	char *full = slurp(p, &n);
	int accepted = 0;
	for (size_t len = 0; len < n; len++) {
		char *cut = malloc(len ? len : 1);
		memcpy(cut, full, len);
		pfm_st *st;
		if (!pfm_st_open_mem(&st, cut, len, "cut", &e)) {
			accepted++;
			pfm_st_close(st);
		}
		free(cut);
	}
	CHECK(accepted == 0, "%d truncated files accepted", accepted);
	uint64_t hl;
	memcpy(&hl, full, 8);
	for (size_t i = 0; i < 8 + hl; i++)
		for (int v = 0; v < 256; v += 37) {
			char *m = malloc(n);
			memcpy(m, full, n);
			m[i] = (char)(m[i] ^ v);
			pfm_st *st;
			if (!pfm_st_open_mem(&st, m, n, "flip", &e)) {
				for (size_t k = 0; k < pfm_st_count(st); k++) {
					const pfm_st_tensor *t = pfm_st_at(st, k);
					volatile unsigned s = 0;
					for (size_t j = 0; j < t->nbytes; j++)
						s += ((const unsigned char *)t->data)[j];
				}
				pfm_st_close(st);
			}
			free(m);
		}
	free(full);
	CHECK(1, "byte flips");

	/* files on disk: the error names the path */
	pfm_st *st;
	CHECK(pfm_st_open(&st, path_in("absent.safetensors"), &e) == -1 && !st &&
		      strstr(e.msg, "absent.safetensors: No such file"),
	      "missing file: %s", e.msg);
	CHECK(pfm_st_open(&st, dir, &e) == -1 && strstr(e.msg, "not a regular file"),
	      "directory: %s", e.msg);
	FILE *f = fopen(path_in("short.safetensors"), "wb");
	fwrite("\x10\0\0", 1, 3, f);
	fclose(f);
	CHECK(pfm_st_open(&st, path_in("short.safetensors"), &e) == -1 &&
		      strstr(e.msg, "short.safetensors: 3 bytes: too short"),
	      "short file: %s", e.msg);
	f = fopen(path_in("lie.safetensors"), "wb");
	fwrite("\xff\0\0\0\0\0\0\0{}", 1, 10, f);
	fclose(f);
	CHECK(pfm_st_open(&st, path_in("lie.safetensors"), &e) == -1 &&
		      strstr(e.msg, "lie.safetensors: header length 255 runs past"),
	      "lying file: %s", e.msg);
}

/* ---- writer errors ---- */

static int tmp_left(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "ls %s | grep -q '\\.tmp\\.'", dir);
	return system(cmd) == 0;
}

static void save_errors(void)
{
	pfm_err e = {0};
	make_tensors(4, 0);
	const char *p = path_in("err.safetensors");
	unlink(p);
	char keep[64];
	snprintf(keep, sizeof keep, "%s", names[2]);

	snprintf(names[2], sizeof names[2], "%s", names[1]);
	CHECK(pfm_st_save(p, ts, 4, NULL, 0, &e) == -1 &&
		      strstr(e.msg, "err.safetensors: tensor 'a\"quote': duplicate name"),
	      "duplicate: %s", e.msg);
	snprintf(names[2], sizeof names[2], "bad\xff");
	CHECK(pfm_st_save(p, ts, 4, NULL, 0, &e) == -1 &&
		      strstr(e.msg, "not valid UTF-8"), "utf8: %s", e.msg);
	snprintf(names[2], sizeof names[2], "__metadata__");
	CHECK(pfm_st_save(p, ts, 4, NULL, 0, &e) == -1 &&
		      strstr(e.msg, "reserved"), "reserved: %s", e.msg);
	snprintf(names[2], sizeof names[2], "%s", keep);
	ts[3].nbytes++;
	CHECK(pfm_st_save(p, ts, 4, NULL, 0, &e) == -1 &&
		      strstr(e.msg, "do not match its shape"), "nbytes: %s", e.msg);
	ts[3].nbytes--;
	ts[3].shape[0] = ts[3].ndim ? -1 : 0;
	if (ts[3].ndim)
		CHECK(pfm_st_save(p, ts, 4, NULL, 0, &e) == -1 &&
			      strstr(e.msg, "negative shape"), "negative: %s", e.msg);
	make_tensors(4, 0);
	ts[1].dtype = PFM_NDTYPES;
	CHECK(pfm_st_save(p, ts, 4, NULL, 0, &e) == -1 &&
		      strstr(e.msg, "no safetensors dtype"), "dtype: %s", e.msg);
	make_tensors(4, 0);
	const char *dup[] = {"k", "1", "j", "2", "k", "3"};
	CHECK(pfm_st_save(p, ts, 4, dup, 3, &e) == -1 &&
		      strstr(e.msg, "__metadata__: duplicate key 'k'"), "meta dup: %s", e.msg);
	const char *nul[] = {"k", NULL};
	CHECK(pfm_st_save(p, ts, 4, nul, 1, &e) == -1 &&
		      strstr(e.msg, "value 0 is NULL"), "meta NULL: %s", e.msg);
	CHECK(access(p, F_OK) && !tmp_left(), "nothing written on errors");

	char nodir[300];
	snprintf(nodir, sizeof nodir, "%s/no/such/dir.safetensors", dir);
	CHECK(pfm_st_save(nodir, ts, 4, NULL, 0, &e) == -1 &&
		      strstr(e.msg, "dir.safetensors.tmp.") &&
		      strstr(e.msg, "No such file"),
	      "missing directory: %s", e.msg);

	/* replacing a file: the old one until the rename */
	CHECK(!pfm_st_save(p, ts, 2, NULL, 0, &e), "save: %s", e.msg);
	CHECK(!pfm_st_save(p, ts, 4, NULL, 0, &e), "save over: %s", e.msg);
	pfm_st *st;
	CHECK(!pfm_st_open(&st, p, &e) && pfm_st_count(st) == 4, "replaced");
	pfm_st_close(st);
	CHECK(!tmp_left(), "no temporary left");

	/* devices are written in place, not replaced */
	struct stat sb;
	CHECK(!pfm_st_save("/dev/null", ts, 4, NULL, 0, &e), "/dev/null: %s", e.msg);
	CHECK(!stat("/dev/null", &sb) && S_ISCHR(sb.st_mode), "/dev/null kept");
	if (!access("/dev/full", W_OK))
		CHECK(pfm_st_save("/dev/full", ts, 4, NULL, 0, &e) == -1 &&
			      strstr(e.msg, "/dev/full: write: No space"),
		      "/dev/full: %s", e.msg);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	round_trip();
	hostile();
	save_errors();
	against_python();
	for (int i = 0; i < NT; i++)
		free(bufs[i]);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_done();
}
