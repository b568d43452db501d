/* test_schema: every schema in schemas/ loads (from the directory and the
 * built-in copies), valid frames of every type pass, invalid ones fail
 * naming the path of the problem; loader errors; keyword semantics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "json.h"
#include "schema.h"

static const char *types[] = {"tile", "embedding", "metric", "result",
			      "eos", "error", "tensor"};
#define NTYPES (sizeof types / sizeof types[0])

/* The frame in JSON (full form), checked; want NULL: must pass, else the
 * error must contain want. */
static void expect(const pfm_schemas *s, const char *json, const char *want)
{
	msgpack_sbuffer sb;
	msgpack_zone z;
	msgpack_object o;
	pfm_err e = {0};

	msgpack_sbuffer_init(&sb);
	msgpack_zone_init(&z, 2048);
	if (pfm_json_to_object(json, strlen(json), &sb, &z, &o, &e) < 0) {
		CHECK(0, "bad test JSON %s: %s", json, e.msg);
	} else {
		int rc = pfm_schemas_check(s, &o, &e);
		if (!want)
			CHECK(rc == 0, "%s: %s", json, e.msg);
		else
			CHECK(rc < 0 && strstr(e.msg, want),
			      "%s: want \"%s\", got %s", json, want,
			      rc ? e.msg : "valid");
	}
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
}

/* A tile with one field replaced (or removed with val NULL), or one
 * added; "emb" holds one f32[2] tensor named "uni". */
static char *tile_with(const char *key, const char *val)
{
	static const char *fields[][2] = {
		{"type", "\"tile\""},
		{"v", "1"},
		{"slide_id", "\"TCGA-01\""},
		{"x", "1024"},
		{"y", "512"},
		{"level", "0"},
		{"mpp", "0.5"},
		{"width", "2"},
		{"height", "1"},
		{"encoding", "\"rgb8\""},
		{"pixels", "{\"$base64\":\"AQIDBAUG\"}"},
		{"label", "\"tumor\""},
		{"meta", "{\"site\":\"lung\",\"age\":61,\"x\":null}"},
		{"tile_index", "7"},
		{"emb", "{\"uni\":{\"dtype\":\"f32\",\"shape\":[2],"
			"\"data\":{\"$base64\":\"AAAAAAAAAAA=\"}}}"},
	};
	static char buf[4096];
	size_t n = 0;
	int found = 0;

	buf[n++] = '{';
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		const char *v = fields[i][1];
		if (key && !strcmp(key, fields[i][0])) {
			found = 1;
			if (!val)
				continue;
			v = val;
		}
		n += snprintf(buf + n, sizeof buf - n, "%s\"%s\":%s",
			      n > 1 ? "," : "", fields[i][0], v);
	}
	if (key && !found)
		n += snprintf(buf + n, sizeof buf - n, ",\"%s\":%s", key, val);
	snprintf(buf + n, sizeof buf - n, "}");
	return buf;
}

static char *tile_emb(const char *tensor)
{
	static char b[4096];

	snprintf(b, sizeof b, "{\"uni\":%s}", tensor);
	return strcpy(b, tile_with("emb", b));
}

static void test_tile(const pfm_schemas *s)
{
	expect(s, tile_with(NULL, NULL), NULL);
	expect(s, tile_with("encoding", "\"jpeg\""), NULL);
	expect(s, tile_with("label", "3"), NULL);
	expect(s, tile_with("label", NULL), NULL);
	expect(s, tile_with("extra_key", "[1,2]"), NULL);
	expect(s, tile_with("mpp", "1"), NULL);
	expect(s, tile_with("x", "1024.0"), NULL); /* 1024.0 is an integer */
	expect(s, tile_with("emb", "{}"), NULL);
	expect(s, tile_with("tokens",
			    "{\"uni\":{\"dtype\":\"bf16\",\"shape\":[2,0],"
			    "\"data\":{\"$base64\":\"\"}}}"),
	       NULL);

	expect(s, tile_with("slide_id", NULL),
	       "tile: missing required key \"slide_id\"");
	expect(s, tile_with("pixels", NULL),
	       "tile: missing required key \"pixels\"");
	expect(s, tile_with("x", "\"10\""),
	       "tile: .x: expected integer, got string");
	expect(s, tile_with("y", "1.5"), "tile: .y: expected integer, got number");
	expect(s, tile_with("v", "0"), "tile: .v: 0 is less than the minimum 1");
	expect(s, tile_with("level", "-1"),
	       "tile: .level: -1 is less than the minimum 0");
	expect(s, tile_with("width", "0"),
	       "tile: .width: 0 is less than the minimum 1");
	expect(s, tile_with("mpp", "0"), "tile: .mpp: 0 is not greater than 0");
	expect(s, tile_with("mpp", "\"0.5\""),
	       "tile: .mpp: expected number, got string");
	expect(s, tile_with("encoding", "\"png\""),
	       "tile: .encoding: \"png\" is not one of \"jpeg\", \"rgb8\"");
	expect(s, tile_with("pixels", "\"AQIDBAUG\""),
	       "tile: .pixels: expected binary data, got string");
	expect(s, tile_with("pixels", "{\"$base64\":\"AQID\"}"),
	       "tile: .pixels: rgb8 pixels need height*width*3");
	expect(s, tile_with("label", "true"),
	       "tile: .label: expected integer or string, got boolean");
	expect(s, tile_with("meta", "[]"),
	       "tile: .meta: expected object, got array");
	expect(s, tile_with("emb", "{\"uni\":5}"),
	       "tile: .emb.uni: expected object, got integer");
	expect(s, tile_with("emb", "{\"a b\":5}"),
	       "tile: .emb[\"a b\"]: expected object, got integer");
}

static void test_tensor(const pfm_schemas *s)
{
	expect(s, tile_emb("{\"dtype\":\"f32\",\"shape\":[4],"
			   "\"data\":{\"$base64\":\"AAAAAAAAAAA=\"}}"),
	       "tile: .emb.uni: data has 8 bytes");
	expect(s, tile_emb("{\"dtype\":\"f64\",\"shape\":[2],"
			   "\"data\":{\"$base64\":\"AAAAAAAAAAA=\"}}"),
	       "tile: .emb.uni: data has 8 bytes");
	expect(s, tile_emb("{\"dtype\":\"f31\",\"shape\":[2],"
			   "\"data\":{\"$base64\":\"AAAAAAAAAAA=\"}}"),
	       "tile: .emb.uni.dtype: \"f31\" is not one of \"u8\"");
	expect(s, tile_emb("{\"dtype\":\"f32\",\"shape\":[2,\"1\"],"
			   "\"data\":{\"$base64\":\"AAAAAAAAAAA=\"}}"),
	       "tile: .emb.uni.shape[1]: expected integer, got string");
	expect(s, tile_emb("{\"dtype\":\"f32\",\"shape\":[2,-1],"
			   "\"data\":{\"$base64\":\"AAAAAAAAAAA=\"}}"),
	       "tile: .emb.uni.shape[1]: -1 is less than the minimum 0");
	expect(s, tile_emb("{\"dtype\":\"u8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
			   "\"data\":{\"$base64\":\"AA==\"}}"),
	       "tile: .emb.uni.shape: 9 items, at most 8 allowed");
	expect(s, tile_emb("{\"dtype\":\"f32\",\"shape\":[2],"
			   "\"data\":{\"$base64\":\"AAAAAAAAAAA=\"},\"foo\":1}"),
	       "tile: .emb.uni: unexpected key \"foo\"");
	expect(s, tile_emb("{\"dtype\":\"f32\",\"shape\":[2]}"),
	       "tile: .emb.uni: missing required key \"data\"");
	expect(s, tile_emb("{\"dtype\":\"f32\",\"shape\":[2],"
			   "\"data\":\"AAAAAAAAAAA=\"}"),
	       "tile: .emb.uni.data: expected binary data, got string");
	expect(s, tile_emb("{\"dtype\":\"u8\",\"shape\":[],"
			   "\"data\":{\"$base64\":\"AA==\"}}"),
	       NULL);
}

static const char *emb_ok =
	"{\"uni\":{\"dtype\":\"f32\",\"shape\":[2],"
	"\"data\":{\"$base64\":\"AAAAAAAAAAA=\"}}}";

static void test_others(const pfm_schemas *s)
{
	char b[1024];

	snprintf(b, sizeof b, "{\"type\":\"embedding\",\"v\":1,"
		 "\"slide_id\":\"s\",\"emb\":%s,\"x\":0,\"y\":0,\"level\":1,"
		 "\"label\":1,\"tokens\":%s}", emb_ok, emb_ok);
	expect(s, b, NULL);
	expect(s, "{\"type\":\"embedding\",\"v\":1,\"slide_id\":\"s\","
		  "\"emb\":{}}",
	       "embedding: .emb: 0 keys, at least 1 needed");
	expect(s, "{\"type\":\"embedding\",\"v\":1,\"emb\":{}}",
	       "embedding: missing required key \"slide_id\"");

	expect(s, "{\"type\":\"metric\",\"v\":1,\"step\":10,\"values\":"
		  "{\"loss\":0.25,\"lr\":1e-4,\"n\":3},\"epoch\":0,"
		  "\"time\":1700000000.5,\"run\":\"r1\",\"split\":\"train\"}",
	       NULL);
	expect(s, "{\"type\":\"metric\",\"v\":1,\"step\":-1,\"values\":{}}",
	       "metric: .step: -1 is less than the minimum 0");
	expect(s, "{\"type\":\"metric\",\"v\":1,\"step\":1,\"values\":"
		  "{\"loss\":\"nan\"}}",
	       "metric: .values.loss: expected number, got string");

	expect(s, "{\"type\":\"result\",\"v\":1,\"task\":\"msi\",\"model\":"
		  "\"uni\",\"metric\":\"auroc\",\"value\":0.91,\"fold\":2,"
		  "\"run\":3,\"n\":100,\"ci_low\":0.88,\"ci_high\":0.94,"
		  "\"task_type\":\"classification\",\"meta\":{}}",
	       NULL);
	expect(s, "{\"type\":\"result\",\"v\":1,\"task\":\"msi\",\"model\":"
		  "\"uni\",\"metric\":\"auroc\"}",
	       "result: missing required key \"value\"");
	expect(s, "{\"type\":\"result\",\"v\":1,\"task\":\"msi\",\"model\":"
		  "\"uni\",\"metric\":\"auroc\",\"value\":1,\"run\":[]}",
	       "result: .run: expected integer or string, got array");

	expect(s, "{\"type\":\"eos\",\"v\":1,\"count\":0}", NULL);
	expect(s, "{\"type\":\"eos\",\"v\":1,\"count\":3.0,\"source\":\"a\","
		  "\"errors\":0}", NULL);
	expect(s, "{\"type\":\"eos\",\"v\":1,\"count\":1.5}",
	       "eos: .count: expected integer, got number");
	expect(s, "{\"type\":\"eos\",\"v\":1}",
	       "eos: missing required key \"count\"");

	expect(s, "{\"type\":\"error\",\"v\":1,\"where\":\"tile\",\"message\":"
		  "\"cannot open\",\"frame\":3,\"source\":\"a.svs\"}", NULL);
	expect(s, "{\"type\":\"error\",\"v\":1,\"where\":5,\"message\":\"m\"}",
	       "error: .where: expected string, got integer");

	expect(s, "{\"type\":\"nope\",\"v\":1}", "no schema for type \"nope\"");
	expect(s, "{\"v\":1}", "frame has no \"type\" string");
	expect(s, "[1]", "frame is array, not a map");
}

/* Frames msgpack can hold but JSON cannot: non-string keys. */
static void test_nonstring_key(const pfm_schemas *s)
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
	msgpack_pack_map(&pk, 4);
	msgpack_pack_str_with_body(&pk, "type", 4);
	msgpack_pack_str_with_body(&pk, "metric", 6);
	msgpack_pack_str_with_body(&pk, "v", 1);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_str_with_body(&pk, "step", 4);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_str_with_body(&pk, "values", 6);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_float(&pk, 0.5f);
	msgpack_unpack(sb.data, sb.size, &off, &z, &o);
	CHECK(pfm_schemas_check(s, &o, &e) < 0 &&
		      strstr(e.msg, "metric: .values: a key is integer"),
	      "non-string key: %s", e.msg);
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
}

/* ---- loader, on schemas written to a scratch directory ---- */

static char dir[] = "/tmp/pfm-test-schema-XXXXXX";

static void put_file(const char *name, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void clear_dir(void)
{
	char cmd[300];

	snprintf(cmd, sizeof cmd, "rm -f %s/*.json", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot clear %s\n", dir);
}

static void expect_load_error(const char *name, const char *text,
			      const char *want)
{
	pfm_err e = {0};
	pfm_schemas *s;

	clear_dir();
	put_file(name, text);
	s = pfm_schemas_load(dir, &e);
	CHECK(!s && strstr(e.msg, want), "%s: want \"%s\", got %s", text,
	      want, s ? "loaded" : e.msg);
	pfm_schemas_free(s);
}

static void test_load_errors(void)
{
	pfm_err e = {0};

	clear_dir();
	CHECK(!pfm_schemas_load(dir, &e) && strstr(e.msg, "no .json schemas"),
	      "empty dir: %s", e.msg);
	CHECK(!pfm_schemas_load("/nonexistent/x", &e) &&
		      strstr(e.msg, "/nonexistent/x"), "missing dir: %s", e.msg);
	expect_load_error("t.json",
			  "{\"properties\":{\"a\":{\"type\":\"string\","
			  "\"pattern\":\"^x\"}}}",
			  "schema t.json: /properties/a: unsupported keyword "
			  "\"pattern\"");
	expect_load_error("t.json", "{\"items\":{\"oneOf\":[]}}",
			  "schema t.json: /items: unsupported keyword \"oneOf\"");
	expect_load_error("t.json", "{\"$ref\":\"nope.json\"}",
			  "schema t.json: cannot resolve $ref \"nope.json\"");
	expect_load_error("t.json", "{\"$ref\":\"#/$defs/nope\"}",
			  "cannot resolve $ref \"#/$defs/nope\"");
	expect_load_error("t.json", "{\"type\":\"str\"}", "unknown type");
	expect_load_error("t.json", "{\"contentEncoding\":\"base32\"}",
			  "unsupported contentEncoding");
	expect_load_error("t.json", "{\"minItems\":-1}",
			  "size limits must be non-negative integers");
	expect_load_error("t.json", "{\"type\":\"object\",}",
			  "schema t.json: json: unexpected '}'");
	expect_load_error("t.json", "[]", "a schema must be an object");
}

static pfm_schemas *load_scratch(void)
{
	pfm_err e = {0};
	pfm_schemas *s = pfm_schemas_load(dir, &e);

	CHECK(s, "scratch schemas: %s", e.msg);
	return s;
}

static void test_keywords(void)
{
	clear_dir();
	put_file("k.json",
		 "{\"type\":\"object\",\"properties\":{"
		 "\"s\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":3},"
		 "\"n\":{\"type\":[\"number\",\"null\"],\"exclusiveMaximum\":10,"
		 "\"maximum\":9.5},"
		 "\"e\":{\"enum\":[1,\"two\",[3],{\"a\":1,\"b\":2}]},"
		 "\"c\":{\"const\":{\"x\":[1,2]}},"
		 "\"a\":{\"type\":\"array\",\"minItems\":1,\"items\":"
		 "{\"$ref\":\"#/$defs/pos\"}},"
		 "\"o\":{\"maxProperties\":1},"
		 "\"no\":false,"
		 "\"r\":{\"$ref\":\"other.json#/$defs/word\"},"
		 "\"loop\":{\"$ref\":\"loop.json\"}},"
		 "\"$defs\":{\"pos\":{\"type\":\"integer\",\"minimum\":1}}}");
	put_file("other.json", "{\"$defs\":{\"word\":{\"type\":\"string\"}}}");
	put_file("loop.json", "{\"$ref\":\"loop.json\"}");
	pfm_schemas *s = load_scratch();
	if (!s)
		return;
	expect(s, "{\"type\":\"k\",\"s\":\"\xc3\xa9\xc3\xa9\",\"n\":null,"
		  "\"e\":{\"b\":2.0,\"a\":1},\"c\":{\"x\":[1,2.0]},\"a\":[1,2],"
		  "\"o\":{\"k\":1},\"r\":\"w\"}", NULL);
	expect(s, "{\"type\":\"k\",\"e\":1.0}", NULL);
	expect(s, "{\"type\":\"k\",\"e\":[3]}", NULL);
	expect(s, "{\"type\":\"k\",\"s\":\"a\"}",
	       "k: .s: 1 characters, at least 2 needed");
	expect(s, "{\"type\":\"k\",\"s\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}",
	       "k: .s: 4 characters, at most 3 allowed");
	expect(s, "{\"type\":\"k\",\"n\":9.75}",
	       "k: .n: 9.75 is greater than the maximum 9.5");
	expect(s, "{\"type\":\"k\",\"n\":true}",
	       "k: .n: expected null or number, got boolean");
	expect(s, "{\"type\":\"k\",\"e\":2}", "k: .e: 2 is not one of 1, \"two\"");
	expect(s, "{\"type\":\"k\",\"c\":{\"x\":[2,1]}}",
	       "k: .c: expected {\"x\":[1,2]}, got {\"x\":[2,1]}");
	expect(s, "{\"type\":\"k\",\"a\":[]}",
	       "k: .a: 0 items, at least 1 needed");
	expect(s, "{\"type\":\"k\",\"a\":[1,0]}",
	       "k: .a[1]: 0 is less than the minimum 1");
	expect(s, "{\"type\":\"k\",\"o\":{\"a\":1,\"b\":2}}",
	       "k: .o: 2 keys, at most 1 allowed");
	expect(s, "{\"type\":\"k\",\"no\":1}", "k: unexpected key \"no\"");
	expect(s, "{\"type\":\"k\",\"r\":1}",
	       "k: .r: expected string, got integer");
	expect(s, "{\"type\":\"k\",\"loop\":1}", "k: .loop: nested too deep");
	pfm_schemas_free(s);
}

/* Mutated frames: checking must not crash, whatever the verdict. */
static void test_mutations(const pfm_schemas *s)
{
	static const char bytes[] = "{}[],:\"0123456789.-tfn \x80";
	uint64_t r = 88172645463325252ull;

	for (int i = 0; i < 3000; i++) {
		char *t = tile_with(NULL, NULL);
		size_t n = strlen(t);
		for (int k = 0; k < 3; k++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			t[r % n] = bytes[(r >> 32) % (sizeof bytes - 1)];
		}
		msgpack_sbuffer sb;
		msgpack_zone z;
		msgpack_object o;
		pfm_err e = {0};
		msgpack_sbuffer_init(&sb);
		msgpack_zone_init(&z, 2048);
		if (pfm_json_to_object(t, n, &sb, &z, &o, &e) == 0)
			CHECK(pfm_schemas_check(s, &o, &e) == 0 || e.msg[0],
			      "an error without a message");
		msgpack_zone_destroy(&z);
		msgpack_sbuffer_destroy(&sb);
	}
}

static void test_load_all(void)
{
	const char *sdir = getenv("PFM_SCHEMA_DIR");
	pfm_err e = {0};
	pfm_schemas *d = pfm_schemas_load(sdir ? sdir : "schemas", &e);
	pfm_schemas *b;

	CHECK(d, "load schemas/ (run from the repository root): %s", e.msg);
	b = pfm_schemas_load(NULL, &e);
	CHECK(b, "load built-in schemas: %s", e.msg);
	for (size_t i = 0; i < NTYPES; i++) {
		int found = 0;
		for (const struct pfm_schema_src *p = pfm_schema_srcs; p->name;
		     p++)
			found |= !strcmp(p->name, types[i]) &&
				 strlen(p->text) == p->length;
		CHECK(found, "built-in schema %s", types[i]);
	}
	/* the same checks through both copies */
	if (d) {
		test_tile(d);
		test_tensor(d);
		test_others(d);
		test_nonstring_key(d);
		test_mutations(d);
	}
	if (b) {
		test_tile(b);
		test_tensor(b);
		test_others(b);
	}
	pfm_schemas_free(d);
	pfm_schemas_free(b);
}

int main(void)
{
	test_load_all();
	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp %s", dir);
		return check_done();
	}
	test_load_errors();
	test_keywords();
	clear_dir();
	rmdir(dir);
	return check_done();
}
