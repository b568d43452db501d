/* test_json: JSON <-> MessagePack. Random round trips (byte-identical),
 * exact output for edge values, strict-parse rejections, base64. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd64(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return rng;
}

static uint32_t rnd(uint32_t n)
{
	return (uint32_t)(rnd64() >> 20) % n;
}

/* ---- helpers ---- */

/* JSON text of o (malloc'd) or NULL with e filled. */
static char *to_json(const msgpack_object *o, int full, pfm_err *e)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	int rc = pfm_json_write(f, o, full, e);

	fclose(f);
	if (rc < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Parse text into sb; 0 or -1 (e filled). */
static int parse(const char *text, size_t n, msgpack_sbuffer *sb,
		 size_t *used, pfm_err *e)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	return pfm_json_parse(text, n, used, &pk, e);
}

/* Parse then print back (full): the canonical form, or NULL. */
static char *reprint(const char *text, pfm_err *e)
{
	msgpack_sbuffer sb;
	msgpack_zone z;
	msgpack_object o;
	char *out = NULL;

	msgpack_sbuffer_init(&sb);
	msgpack_zone_init(&z, 1024);
	if (pfm_json_to_object(text, strlen(text), &sb, &z, &o, e) == 0)
		out = to_json(&o, 1, e);
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
	return out;
}

/* ---- random objects ---- */

static void gen_utf8(char *s, size_t *n, size_t max)
{
	static const char specials[] = "\"\\/\b\f\n\r\t\x01\x1f\x7f$ {}[]:,";
	size_t len = rnd(12);

	*n = 0;
	for (size_t i = 0; i < len && *n + 4 <= max; i++) {
		uint32_t cp;
		switch (rnd(6)) {
		case 0: cp = (unsigned char)specials[rnd(sizeof specials - 1)];
			break;
		case 1: cp = rnd(0x20); break;          /* controls, NUL */
		case 2: cp = 0x80 + rnd(0x780); break;  /* 2 bytes */
		case 3: cp = 0x800 + rnd(0xf800); break; /* 3 bytes */
		case 4: cp = 0x10000 + rnd(0x100000); break; /* 4 bytes */
		default: cp = 0x20 + rnd(0x5f); break;
		}
		if (cp >= 0xd800 && cp <= 0xdfff)
			cp = 'x'; /* surrogates are not characters */
		unsigned char *d = (unsigned char *)s + *n;
		if (cp < 0x80) {
			d[0] = cp, *n += 1;
		} else if (cp < 0x800) {
			d[0] = 0xc0 | cp >> 6, d[1] = 0x80 | (cp & 63), *n += 2;
		} else if (cp < 0x10000) {
			d[0] = 0xe0 | cp >> 12, d[1] = 0x80 | (cp >> 6 & 63);
			d[2] = 0x80 | (cp & 63), *n += 3;
		} else {
			d[0] = 0xf0 | cp >> 18, d[1] = 0x80 | (cp >> 12 & 63);
			d[2] = 0x80 | (cp >> 6 & 63), d[3] = 0x80 | (cp & 63);
			*n += 4;
		}
	}
}

static int64_t gen_int(void)
{
	static const int bits[] = {5, 7, 8, 15, 16, 31, 32, 63, 64};
	int b = bits[rnd(9)]; /* apart: argument order is unspecified */
	uint64_t v = rnd64() >> (64 - b);

	return rnd(2) ? (int64_t)v : -(int64_t)(v >> 1) - 1;
}

static double gen_f64(void)
{
	static const double special[] = {0.0, -0.0, 1.0, 0.1, 1e21, 1e-7,
					 DBL_MAX, -DBL_MAX, DBL_MIN, 5e-324,
					 123456789012345680000.0, 0.5};
	double d;

	if (rnd(4) == 0)
		return special[rnd(sizeof special / sizeof special[0])];
	do {
		uint64_t bits = rnd64();
		memcpy(&d, &bits, sizeof d);
	} while (!isfinite(d));
	return d;
}

static float gen_f32(void)
{
	float f;

	do {
		uint32_t bits = (uint32_t)rnd64();
		memcpy(&f, &bits, sizeof f);
	} while (!isfinite(f));
	return f;
}

static void gen_value(msgpack_packer *pk, int depth, int f32)
{
	char s[64];
	size_t n;
	int kind = rnd(depth > 4 ? 10 : 12);

	switch (kind) {
	case 0: msgpack_pack_nil(pk); break;
	case 1: rnd(2) ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
	case 2: {
		int64_t v = gen_int();
		if (v < 0 || rnd(2))
			msgpack_pack_int64(pk, v);
		else
			msgpack_pack_uint64(pk, (uint64_t)v * 2 + rnd(2));
		break;
	}
	case 3: msgpack_pack_double(pk, gen_f64()); break;
	case 4:
		if (f32)
			msgpack_pack_float(pk, gen_f32());
		else
			msgpack_pack_int64(pk, gen_int());
		break;
	case 5: case 6:
		gen_utf8(s, &n, sizeof s);
		msgpack_pack_str_with_body(pk, s, n);
		break;
	case 7:
		n = rnd(5) ? rnd(40) : rnd(sizeof s);
		for (size_t i = 0; i < n; i++)
			s[i] = (char)rnd(256);
		msgpack_pack_bin_with_body(pk, s, n);
		break;
	case 8:
		n = rnd(20);
		for (size_t i = 0; i < n; i++)
			s[i] = (char)rnd(256);
		msgpack_pack_ext_with_body(pk, s, n, (int8_t)(rnd(256) - 128));
		break;
	case 9: msgpack_pack_int64(pk, gen_int()); break;
	case 10: {
		uint32_t k = rnd(6);
		msgpack_pack_array(pk, k);
		for (uint32_t i = 0; i < k; i++)
			gen_value(pk, depth + 1, f32);
		break;
	}
	default: {
		uint32_t k = rnd(6);
		msgpack_pack_map(pk, k);
		for (uint32_t i = 0; i < k; i++) {
			gen_utf8(s + 1, &n, sizeof s - 1);
			s[0] = 'k'; /* never "$base64" & co */
			msgpack_pack_str_with_body(pk, s, n + 1);
			gen_value(pk, depth + 1, f32);
		}
	}
	}
}

/* Equal, where a float32 read back as float64 must narrow to itself. */
static int same(const msgpack_object *a, const msgpack_object *b)
{
	if (a->type == MSGPACK_OBJECT_FLOAT32)
		return b->type == MSGPACK_OBJECT_FLOAT64 &&
		       (float)b->via.f64 == (float)a->via.f64 &&
		       signbit(b->via.f64) == signbit(a->via.f64);
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case MSGPACK_OBJECT_ARRAY:
		if (a->via.array.size != b->via.array.size)
			return 0;
		for (uint32_t i = 0; i < a->via.array.size; i++)
			if (!same(&a->via.array.ptr[i], &b->via.array.ptr[i]))
				return 0;
		return 1;
	case MSGPACK_OBJECT_MAP:
		if (a->via.map.size != b->via.map.size)
			return 0;
		for (uint32_t i = 0; i < a->via.map.size; i++)
			if (!same(&a->via.map.ptr[i].key, &b->via.map.ptr[i].key) ||
			    !same(&a->via.map.ptr[i].val, &b->via.map.ptr[i].val))
				return 0;
		return 1;
	case MSGPACK_OBJECT_FLOAT64:
		return memcmp(&a->via.f64, &b->via.f64, sizeof(double)) == 0;
	default:
		return msgpack_object_equal(*a, *b);
	}
}

/* msgpack -> JSON -> msgpack; byte-identical without float32. */
static void round_trip(int f32)
{
	msgpack_sbuffer a, b;
	msgpack_packer pk;
	msgpack_zone z;
	msgpack_object oa, ob;
	pfm_err e = {0};
	size_t off = 0, used = 0;

	msgpack_sbuffer_init(&a);
	msgpack_sbuffer_init(&b);
	msgpack_zone_init(&z, 4096);
	msgpack_packer_init(&pk, &a, msgpack_sbuffer_write);
	gen_value(&pk, 0, f32);
	msgpack_unpack(a.data, a.size, &off, &z, &oa);
	char *json = to_json(&oa, 1, &e);
	CHECK(json, "write: %s", e.msg);
	if (json) {
		int rc = parse(json, strlen(json), &b, &used, &e);
		CHECK(rc == 0 && used == strlen(json), "parse %s: %s", json,
		      e.msg);
		if (!f32) {
			CHECK(a.size == b.size && !memcmp(a.data, b.data, a.size),
			      "bytes differ for %s", json);
		} else if (rc == 0) {
			off = 0;
			msgpack_unpack(b.data, b.size, &off, &z, &ob);
			CHECK(same(&oa, &ob), "values differ for %s", json);
		}
	}
	free(json);
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&a);
	msgpack_sbuffer_destroy(&b);
}

/* ---- writer output ---- */

/* Pack with f, print, compare. */
static void expect_out(void (*f)(msgpack_packer *), int full,
		       const char *want)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_zone z;
	msgpack_object o;
	pfm_err e = {0};
	size_t off = 0;

	msgpack_sbuffer_init(&sb);
	msgpack_zone_init(&z, 1024);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	f(&pk);
	msgpack_unpack(sb.data, sb.size, &off, &z, &o);
	char *got = to_json(&o, full, &e);
	CHECK(got && !strcmp(got, want), "got %s, want %s (%s)",
	      got ? got : "(error)", want, e.msg);
	free(got);
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
}

static void p_tensor(msgpack_packer *pk)
{
	static char data[3072];

	msgpack_pack_map(pk, 3);
	msgpack_pack_str_with_body(pk, "dtype", 5);
	msgpack_pack_str_with_body(pk, "f32", 3);
	msgpack_pack_str_with_body(pk, "shape", 5);
	msgpack_pack_array(pk, 1);
	msgpack_pack_int64(pk, 768);
	msgpack_pack_str_with_body(pk, "data", 4);
	msgpack_pack_bin_with_body(pk, data, sizeof data);
}

static void p_hello(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, "hello", 5); }
static void p_ext(msgpack_packer *pk) { msgpack_pack_ext_with_body(pk, "ab", 2, 5); }
static void p_ext_neg(msgpack_packer *pk) { msgpack_pack_ext_with_body(pk, "", 0, -1); }
static void p_d01(msgpack_packer *pk) { msgpack_pack_double(pk, 0.1); }
static void p_d1(msgpack_packer *pk) { msgpack_pack_double(pk, 1.0); }
static void p_dneg0(msgpack_packer *pk) { msgpack_pack_double(pk, -0.0); }
static void p_d1e300(msgpack_packer *pk) { msgpack_pack_double(pk, 1e300); }
static void p_dbig(msgpack_packer *pk) { msgpack_pack_double(pk, 1e16); }
static void p_nan(msgpack_packer *pk) { msgpack_pack_double(pk, NAN); }
static void p_inf(msgpack_packer *pk) { msgpack_pack_double(pk, INFINITY); }
static void p_ninf(msgpack_packer *pk) { msgpack_pack_float(pk, -INFINITY); }
static void p_f01(msgpack_packer *pk) { msgpack_pack_float(pk, 0.1f); }
static void p_f2p24(msgpack_packer *pk) { msgpack_pack_float(pk, 16777216.0f); }
static void p_fthird(msgpack_packer *pk) { msgpack_pack_float(pk, 1.0f / 3); }
static void p_imin(msgpack_packer *pk) { msgpack_pack_int64(pk, INT64_MIN); }
static void p_umax(msgpack_packer *pk) { msgpack_pack_uint64(pk, UINT64_MAX); }
static void p_nil(msgpack_packer *pk) { msgpack_pack_nil(pk); }

static void p_str(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str_with_body(pk, s, n);
}
static void p_esc(msgpack_packer *pk) { p_str(pk, "a\"b\\c/\n\t\r\b\f\x01\x1f\x7f", 14); }
static void p_nul(msgpack_packer *pk) { p_str(pk, "a\0b", 3); }
static void p_utf8(msgpack_packer *pk) { p_str(pk, "\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9", 9); }
static void p_bad1(msgpack_packer *pk) { p_str(pk, "a\xff" "b", 3); }
static void p_overlong(msgpack_packer *pk) { p_str(pk, "\xc0\xaf", 2); }
static void p_surr(msgpack_packer *pk) { p_str(pk, "\xed\xa0\x80", 3); }
static void p_trunc(msgpack_packer *pk) { p_str(pk, "x\xe2\x82", 3); }
static void p_big(msgpack_packer *pk) { p_str(pk, "\xf4\x90\x80\x80", 4); }

static void p_nested(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	p_str(pk, "a", 1);
	msgpack_pack_array(pk, 0);
	p_str(pk, "b", 1);
	msgpack_pack_map(pk, 1);
	p_str(pk, "", 0);
	msgpack_pack_true(pk);
}

static void test_writer(void)
{
	expect_out(p_tensor, 0,
		   "{\"dtype\":\"f32\",\"shape\":[768],\"data\":{\"$bin\":3072}}");
	expect_out(p_hello, 1, "{\"$base64\":\"aGVsbG8=\"}");
	expect_out(p_hello, 0, "{\"$bin\":5}");
	expect_out(p_ext, 1, "{\"$ext\":5,\"$base64\":\"YWI=\"}");
	expect_out(p_ext, 0, "{\"$ext\":5,\"$bin\":2}");
	expect_out(p_ext_neg, 1, "{\"$ext\":-1,\"$base64\":\"\"}");
	expect_out(p_d01, 0, "0.1");
	expect_out(p_d1, 0, "1.0");
	expect_out(p_dneg0, 0, "-0.0");
	expect_out(p_d1e300, 0, "1e+300");
	expect_out(p_dbig, 0, "1e+16");
	expect_out(p_nan, 0, "null");
	expect_out(p_inf, 0, "1.7976931348623157e+308");
	expect_out(p_ninf, 0, "-1.7976931348623157e+308");
	expect_out(p_f01, 0, "0.1");
	expect_out(p_f2p24, 0, "16777216.0");
	expect_out(p_fthird, 0, "0.33333334");
	expect_out(p_imin, 0, "-9223372036854775808");
	expect_out(p_umax, 0, "18446744073709551615");
	expect_out(p_nil, 0, "null");
	expect_out(p_esc, 0,
		   "\"a\\\"b\\\\c/\\n\\t\\r\\b\\f\\u0001\\u001f\x7f\"");
	expect_out(p_nul, 0, "\"a\\u0000b\"");
	expect_out(p_utf8, 0, "\"\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9\"");
	expect_out(p_bad1, 0, "\"a\xef\xbf\xbd" "b\"");
	expect_out(p_overlong, 0, "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	expect_out(p_surr, 0, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	expect_out(p_trunc, 0, "\"x\xef\xbf\xbd\xef\xbf\xbd\"");
	expect_out(p_big, 0,
		   "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	expect_out(p_nested, 0, "{\"a\":[],\"b\":{\"\":true}}");
}

/* A map nested in an array under "m" with an integer key. */
static void p_badkey(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	p_str(pk, "m", 1);
	msgpack_pack_array(pk, 2);
	msgpack_pack_nil(pk);
	msgpack_pack_map(pk, 1);
	msgpack_pack_int64(pk, 5);
	msgpack_pack_nil(pk);
}

static int nest_depth;
static void p_deep(msgpack_packer *pk)
{
	for (int i = 0; i < nest_depth; i++)
		msgpack_pack_array(pk, 1);
	msgpack_pack_nil(pk);
}

static void expect_write_error(void (*f)(msgpack_packer *), const char *want)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_zone z;
	msgpack_object o;
	pfm_err e = {0};
	size_t off = 0;

	msgpack_sbuffer_init(&sb);
	msgpack_zone_init(&z, 1024);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	f(&pk);
	msgpack_unpack(sb.data, sb.size, &off, &z, &o);
	char *got = to_json(&o, 0, &e);
	CHECK(!got && strstr(e.msg, want), "want error with \"%s\", got %s",
	      want, got ? got : e.msg);
	free(got);
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
}

static void test_writer_errors(void)
{
	char want[400];
	int d = PFM_JSON_MAX_DEPTH;

	expect_write_error(p_badkey, "at .m[1]: map key 5 is not a string");
	memset(want, '[', d);
	memcpy(want + d, "null", 4);
	memset(want + d + 4, ']', d);
	want[2 * d + 4] = '\0';
	nest_depth = d;
	expect_out(p_deep, 0, want);
	/* msgpack-c cannot unpack deeper objects: build one by hand */
	msgpack_object deep[PFM_JSON_MAX_DEPTH + 2];
	for (int i = 0; i <= d; i++) {
		deep[i].type = MSGPACK_OBJECT_ARRAY;
		deep[i].via.array.size = 1;
		deep[i].via.array.ptr = &deep[i + 1];
	}
	deep[d + 1].type = MSGPACK_OBJECT_NIL;
	pfm_err e = {0};
	char *got = to_json(deep, 0, &e);
	snprintf(want, sizeof want, "nested deeper than %d",
		 PFM_JSON_MAX_DEPTH);
	CHECK(!got && strstr(e.msg, want), "depth %d: %s", d + 1,
	      got ? got : e.msg);
	free(got);
}

/* ---- parser ---- */

static void expect_reprint(const char *in, const char *want)
{
	pfm_err e = {0};
	char *got = reprint(in, &e);

	CHECK(got && !strcmp(got, want), "%s: got %s, want %s", in,
	      got ? got : e.msg, want);
	free(got);
}

/* The type of the single value in text. */
static msgpack_object_type parsed_type(const char *text, msgpack_object *o,
				       msgpack_sbuffer *sb, msgpack_zone *z)
{
	pfm_err e = {0};

	if (pfm_json_to_object(text, strlen(text), sb, z, o, &e) < 0)
		return (msgpack_object_type)-1;
	return o->type;
}

static void test_numbers(void)
{
	msgpack_sbuffer sb;
	msgpack_zone z;
	msgpack_object o;

	msgpack_sbuffer_init(&sb);
	msgpack_zone_init(&z, 1024);
	CHECK(parsed_type("18446744073709551615", &o, &sb, &z) ==
		      MSGPACK_OBJECT_POSITIVE_INTEGER && o.via.u64 == UINT64_MAX,
	      "uint64 max");
	CHECK(parsed_type("18446744073709551616", &o, &sb, &z) ==
		      MSGPACK_OBJECT_FLOAT64 && o.via.f64 == 18446744073709551616.0,
	      "2^64 is a float");
	CHECK(parsed_type("-9223372036854775808", &o, &sb, &z) ==
		      MSGPACK_OBJECT_NEGATIVE_INTEGER && o.via.i64 == INT64_MIN,
	      "int64 min");
	CHECK(parsed_type("-9223372036854775809", &o, &sb, &z) ==
		      MSGPACK_OBJECT_FLOAT64, "below int64 min is a float");
	CHECK(parsed_type("1e2", &o, &sb, &z) == MSGPACK_OBJECT_FLOAT64 &&
		      o.via.f64 == 100, "1e2 is a float");
	CHECK(parsed_type("1.0", &o, &sb, &z) == MSGPACK_OBJECT_FLOAT64,
	      "1.0 is a float");
	CHECK(parsed_type("-0", &o, &sb, &z) ==
		      MSGPACK_OBJECT_POSITIVE_INTEGER && o.via.u64 == 0,
	      "-0 is the integer 0");
	CHECK(parsed_type("-0.0", &o, &sb, &z) == MSGPACK_OBJECT_FLOAT64 &&
		      signbit(o.via.f64), "-0.0 keeps its sign");
	CHECK(parsed_type("1E-2", &o, &sb, &z) == MSGPACK_OBJECT_FLOAT64 &&
		      o.via.f64 == 0.01, "1E-2");
	CHECK(parsed_type("2.5e+3", &o, &sb, &z) == MSGPACK_OBJECT_FLOAT64 &&
		      o.via.f64 == 2500, "2.5e+3");
	CHECK(parsed_type("1e400", &o, &sb, &z) == MSGPACK_OBJECT_FLOAT64 &&
		      isinf(o.via.f64), "1e400 overflows to inf");
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
}

static void test_parse_valid(void)
{
	expect_reprint(" [1, -2, 3.5, \"a\\u00e9\\ud83d\\ude00\", true, false,"
		       " null, {}, []] \n",
		       "[1,-2,3.5,\"a\xc3\xa9\xf0\x9f\x98\x80\",true,false,"
		       "null,{},[]]");
	expect_reprint("{\"a\" : {\"b\" :[ 1 ,2 ] } }", "{\"a\":{\"b\":[1,2]}}");
	expect_reprint("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u001F\\uFFFF\"",
		       "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\xef\xbf\xbf\"");
	expect_reprint("\"\xe2\x82\xac\"", "\"\xe2\x82\xac\"");
	expect_reprint("{\"$base64\":\"aGVsbG8=\"}", "{\"$base64\":\"aGVsbG8=\"}");
	expect_reprint("{\"$base64\":\"\"}", "{\"$base64\":\"\"}");
	expect_reprint("{\"$base64\":\"aGk=\",\"other\":1}",
		       "{\"$base64\":\"aGk=\",\"other\":1}");
	expect_reprint("{\"$ext\":-1,\"$base64\":\"AAAAAA==\"}",
		       "{\"$ext\":-1,\"$base64\":\"AAAAAA==\"}");
	expect_reprint("{\"$base64\":\"YQ==\",\"$ext\":127}",
		       "{\"$ext\":127,\"$base64\":\"YQ==\"}");
	expect_reprint("[{\"$base64\":\"YQ==\"},[{\"$base64\":\"YWI=\"}],{}]",
		       "[{\"$base64\":\"YQ==\"},[{\"$base64\":\"YWI=\"}],{}]");
	expect_reprint("{\"a\":1,\"a\":2}", "{\"a\":1,\"a\":2}");
	expect_reprint("{\"$base64\":\"aGk\\u003d\"}", "{\"$base64\":\"aGk=\"}");
	expect_reprint("{\"$bin\":1,\"x\":2}", "{\"$bin\":1,\"x\":2}");

	/* bins come back as bins, not maps */
	msgpack_sbuffer sb;
	msgpack_zone z;
	msgpack_object o;
	msgpack_sbuffer_init(&sb);
	msgpack_zone_init(&z, 1024);
	CHECK(parsed_type("{\"$base64\":\"aGVsbG8=\"}", &o, &sb, &z) ==
			      MSGPACK_OBJECT_BIN &&
		      o.via.bin.size == 5 && !memcmp(o.via.bin.ptr, "hello", 5),
	      "$base64 -> bin");
	CHECK(parsed_type("{\"$ext\":7,\"$base64\":\"aGk=\"}", &o, &sb, &z) ==
			      MSGPACK_OBJECT_EXT &&
		      o.via.ext.type == 7 && o.via.ext.size == 2,
	      "$ext -> ext");
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
}

static void test_consumed(void)
{
	msgpack_sbuffer sb;
	pfm_err e = {0};
	size_t used = 0;
	const char *text = "  12  [3]{\"a\":1}x";

	msgpack_sbuffer_init(&sb);
	CHECK(parse(text, strlen(text), &sb, &used, &e) == 0 && used == 4,
	      "first value ends at 4, got %zu %s", used, e.msg);
	size_t at = used;
	CHECK(parse(text + at, strlen(text) - at, &sb, &used, &e) == 0 &&
		      used == 5, "second value: %zu %s", used, e.msg);
	at += used;
	CHECK(parse(text + at, strlen(text) - at, &sb, &used, &e) == 0 &&
		      used == 7, "third value: %zu %s", used, e.msg);
	/* the text need not be NUL-terminated: only n bytes are read */
	CHECK(parse("123", 2, &sb, &used, &e) == 0 && used == 2, "n bounds");
	CHECK(parse("tru", 3, &sb, &used, &e) < 0, "truncated literal");
	msgpack_sbuffer_destroy(&sb);
}

static const struct {
	const char *text;
	const char *want; /* a part of the message, or "" */
} invalid[] = {
	{"", "end of input"},
	{"   ", "end of input"},
	{"[1,]", "expected a value"},
	{"{\"a\":1,}", "expected a string key"},
	{"'a'", "unexpected '''"},
	{"{'a':1}", "expected a string key"},
	{"01", "leading zero"},
	{"-01", "leading zero"},
	{"00", "leading zero"},
	{"-", "expected a digit"},
	{"1.", "after '.'"},
	{".5", "expected a value"},
	{"+1", "expected a value"},
	{"1e", "exponent"},
	{"1e+", "exponent"},
	{"0x10", "end of document"},
	{"[", "end of input"},
	{"[1", "expected ',' or ']'"},
	{"{", "expected a string key"},
	{"{\"a\"}", "expected ':'"},
	{"{\"a\" 1}", "expected ':'"},
	{"{\"a\":}", "expected a value"},
	{"{1:2}", "expected a string key"},
	{"[1 2]", "expected ',' or ']'"},
	{"{\"a\":1 \"b\":2}", "expected ',' or '}'"},
	{"\"abc", "unterminated string"},
	{"\"\\x\"", "invalid escape"},
	{"\"\\u12\"", "invalid \\u escape"},
	{"\"\\u12g4\"", "invalid \\u escape"},
	{"\"\\ud800\"", "without a low one"},
	{"\"\\ud800\\u0041\"", "without a low one"},
	{"\"\\ud800\\ud800\"", "without a low one"},
	{"\"\\udc00\"", "lone low surrogate"},
	{"\"a\tb\"", "control character 0x09"},
	{"\"a\nb\"", "control character 0x0a"},
	{"\"\xff\"", "invalid UTF-8"},
	{"\"\xc0\xaf\"", "invalid UTF-8"},
	{"\"\xed\xa0\x80\"", "invalid UTF-8"},
	{"\"\xe2\x82\"", "invalid UTF-8"},
	{"tru", "expected a value"},
	{"nul", "expected a value"},
	{"True", "expected a value"},
	{"NaN", "expected a value"},
	{"Infinity", "expected a value"},
	{"-Infinity", "expected a digit"},
	{"\xef\xbb\xbf" "1", "unexpected byte 0xef"},
	{"/* c */ 1", "unexpected '/'"},
	{"1 2", "end of document"},
	{"[1]x", "end of document"},
	{"{\"$base64\":\"QQ\"}", "invalid base64"},
	{"{\"$base64\":\"QR==\"}", "invalid base64"},
	{"{\"$base64\":\"Q===\"}", "invalid base64"},
	{"{\"$base64\":\"QUJD\\n\"}", "invalid base64"},
	{"{\"$base64\":\"QU=D\"}", "invalid base64"},
	{"{\"$base64\":5}", "\"$base64\" must be a string"},
	{"{\"$base64\":[]}", "\"$base64\" must be a string"},
	{"{\"$base64\":[\"QQ==\"]}", "\"$base64\" must be a string"},
	{"{\"$ext\":[],\"$base64\":\"\"}", "\"$ext\" must be an integer"},
	{"{\"$ext\":300,\"$base64\":\"\"}", "\"$ext\" must be an integer"},
	{"{\"$ext\":1.5,\"$base64\":\"\"}", "\"$ext\" must be an integer"},
	{"{\"$bin\":3072}",
	 "frame was printed without --full; binary payload not available"},
	{"{\"dtype\":\"f32\",\"data\":{\"$ext\":1,\"$bin\":3}}",
	 "without --full"},
};

static void test_parse_invalid(void)
{
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		msgpack_sbuffer sb;
		msgpack_zone z;
		msgpack_object o;
		pfm_err e = {0};
		const char *t = invalid[i].text;

		msgpack_sbuffer_init(&sb);
		msgpack_zone_init(&z, 1024);
		int rc = pfm_json_to_object(t, strlen(t), &sb, &z, &o, &e);
		CHECK(rc < 0 && e.msg[0] && strstr(e.msg, invalid[i].want) &&
			      strstr(e.msg, "(byte "),
		      "%s: want error with \"%s\", got rc %d \"%s\"", t,
		      invalid[i].want, rc, e.msg);
		msgpack_zone_destroy(&z);
		msgpack_sbuffer_destroy(&sb);
	}
}

static void test_parse_errors(void)
{
	msgpack_sbuffer sb;
	pfm_err e = {0};
	size_t used;
	const char *doc = "{\n  \"a\": [1,\n  ]\n}";

	msgpack_sbuffer_init(&sb);
	CHECK(parse(doc, strlen(doc), &sb, &used, &e) < 0 &&
		      strstr(e.msg, "at line 3, column 3 (byte 15)"),
	      "position: %s", e.msg);
	CHECK(sb.size == 0, "a failed parse packs nothing (%zu bytes)",
	      sb.size);

	/* depth: 64 levels parse, 65 do not */
	char deep[300];
	for (int d = PFM_JSON_MAX_DEPTH; d <= PFM_JSON_MAX_DEPTH + 1; d++) {
		memset(deep, '[', d);
		memset(deep + d, ']', d);
		int rc = parse(deep, 2 * d, &sb, &used, &e);
		if (d == PFM_JSON_MAX_DEPTH)
			CHECK(rc == 0, "depth %d: %s", d, e.msg);
		else
			CHECK(rc < 0 && strstr(e.msg, "nested deeper"),
			      "depth %d: %s", d, e.msg);
	}
	msgpack_sbuffer_destroy(&sb);
}

/* ---- base64 ---- */

static void test_base64(void)
{
	static const char *vec[][2] = {
		{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
		{"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
	};
	static const char *bad[] = {"Zg=", "Zg=a", "Z===", "====", "Zh==",
				    "Zm9=", "Zm9v\n", "Zm 9", "Zm9v====",
				    "Z-8_"};
	char enc[64], dec[64];

	for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		size_t n = strlen(vec[i][0]);
		pfm_base64_encode(vec[i][0], n, enc);
		CHECK(pfm_base64_len(n) == strlen(vec[i][1]) &&
			      !memcmp(enc, vec[i][1], pfm_base64_len(n)),
		      "encode %s", vec[i][0]);
		long long k = pfm_base64_decode(vec[i][1], strlen(vec[i][1]),
						dec);
		CHECK(k == (long long)n && !memcmp(dec, vec[i][0], n),
		      "decode %s", vec[i][1]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(pfm_base64_decode(bad[i], strlen(bad[i]), dec) < 0,
		      "reject %s", bad[i]);
	for (int t = 0; t < 2000; t++) {
		unsigned char src[48];
		size_t n = rnd(sizeof src + 1);
		for (size_t i = 0; i < n; i++)
			src[i] = (unsigned char)rnd(256);
		pfm_base64_encode(src, n, enc);
		long long k = pfm_base64_decode(enc, pfm_base64_len(n), dec);
		CHECK(k == (long long)n && !memcmp(dec, src, n),
		      "random base64 %zu", n);
	}
}

/* Mutated documents: no crash, and whatever parses prints stably:
 * print(parse(print(parse(x)))) == print(parse(x)). */
static void mutate_case(void)
{
	msgpack_sbuffer a;
	msgpack_packer pk;
	msgpack_zone z;
	msgpack_object o;
	pfm_err e = {0};
	size_t off = 0;
	static const char bytes[] = "{}[],:\"\\0123456789.eE+-tfnu \n\x80\xff";

	msgpack_sbuffer_init(&a);
	msgpack_zone_init(&z, 4096);
	msgpack_packer_init(&pk, &a, msgpack_sbuffer_write);
	gen_value(&pk, 0, 0);
	msgpack_unpack(a.data, a.size, &off, &z, &o);
	char *json = to_json(&o, 1, &e);
	size_t n = json ? strlen(json) : 0;
	for (int k = rnd(4); json && n && k >= 0; k--) {
		size_t at = rnd(n);
		switch (rnd(3)) {
		case 0: json[at] = bytes[rnd(sizeof bytes - 1)]; break;
		case 1: memmove(json + at, json + at + 1, n - at); n--; break;
		default: json[at] = (char)rnd(256); break;
		}
	}
	char *once = json ? reprint(json, &e) : NULL;
	if (once) {
		char *twice = reprint(once, &e);
		CHECK(twice && !strcmp(once, twice), "unstable: %s -> %s", once,
		      twice ? twice : e.msg);
		free(twice);
	}
	free(once);
	free(json);
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&a);
}

int main(void)
{
	test_writer();
	test_writer_errors();
	test_numbers();
	test_parse_valid();
	test_consumed();
	test_parse_invalid();
	test_parse_errors();
	test_base64();
	for (int i = 0; i < 5000; i++)
		round_trip(0);
	for (int i = 0; i < 5000; i++)
		round_trip(1);
	for (int i = 0; i < 5000; i++)
		mutate_case();
	return check_done();
}
