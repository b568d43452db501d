/* json.c: JSON text <-> MessagePack (see json.h for the mapping). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fwrite_unlocked */
#endif
#include "json.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- base64 ---- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t pfm_base64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t pfm_base64_max_decoded(size_t n)
{
	return n / 4 * 3;
}

void pfm_base64_encode(const void *src, size_t n, char *dst)
{
	const unsigned char *s = src;
	size_t i;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 |
			     s[i + 2];
		*dst++ = b64_alphabet[v >> 18];
		*dst++ = b64_alphabet[v >> 12 & 63];
		*dst++ = b64_alphabet[v >> 6 & 63];
		*dst++ = b64_alphabet[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		*dst++ = b64_alphabet[v >> 18];
		*dst++ = b64_alphabet[v >> 12 & 63];
		*dst++ = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
		*dst++ = '=';
	}
}

/* Base64 digit value + 1; 0 for bytes that are not digits. */
static const unsigned char b64_digit[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17,
	['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27,
	['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
	['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37,
	['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47,
	['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52,
	['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62,
	['+'] = 63, ['/'] = 64,
};

long long pfm_base64_decode(const char *src, size_t n, void *dst)
{
	const unsigned char *s = (const unsigned char *)src;
	unsigned char *d = dst;
	size_t full = n;

	if (n % 4)
		return -1;
	if (n && s[n - 1] == '=')
		full -= 4; /* the padded last quad is done below */
	for (size_t i = 0; i < full; i += 4) {
		unsigned a = b64_digit[s[i]], b = b64_digit[s[i + 1]],
			 c = b64_digit[s[i + 2]], e = b64_digit[s[i + 3]];
		if (!a || !b || !c || !e)
			return -1;
		uint32_t w = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 |
			     (e - 1);
		d[0] = w >> 16;
		d[1] = w >> 8 & 0xff;
		d[2] = w & 0xff;
		d += 3;
	}
	if (full < n) {
		/* "xx==" or "xxx=", canonical: the bits padding drops are 0 */
		const unsigned char *q = s + full;
		int pad = q[2] == '=' ? 2 : 1;
		unsigned a = b64_digit[q[0]], b = b64_digit[q[1]],
			 c = pad == 1 ? b64_digit[q[2]] : 1;
		if (!a || !b || !c)
			return -1;
		uint32_t w = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6;
		if (w & (pad == 2 ? 0xffff : 0xff))
			return -1;
		*d++ = w >> 16;
		if (pad == 1)
			*d++ = w >> 8 & 0xff;
	}
	return d - (unsigned char *)dst;
}

/* ---- writer ---- */

typedef struct {
	FILE *out;
	int full;
	pfm_err *e;
	char path[256]; /* where the error is, built while unwinding */
} jwriter;

static void put(jwriter *w, const void *p, size_t n)
{
	fwrite_unlocked(p, 1, n, w->out);
}

static void put_lit(jwriter *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_u64(jwriter *w, uint64_t v)
{
	char b[20];
	int i = sizeof b;

	do {
		b[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	put(w, b + i, sizeof b - i);
}

static void put_i64(jwriter *w, int64_t v)
{
	if (v < 0) {
		putc_unlocked('-', w->out);
		put_u64(w, -(uint64_t)v);
	} else {
		put_u64(w, (uint64_t)v);
	}
}

/* Make sure a float reads back as a float, not an integer. */
static int mark_float(char *b, int n)
{
	if (!strpbrk(b, ".eE")) {
		b[n++] = '.';
		b[n++] = '0';
		b[n] = '\0';
	}
	return n;
}

/* JSON has no NaN/inf: null and +/-DBL_MAX as jq prints them. */
static int special_double(jwriter *w, double d)
{
	if (isnan(d))
		put_lit(w, "null");
	else if (isinf(d))
		put_lit(w, d > 0 ? "1.7976931348623157e+308"
				 : "-1.7976931348623157e+308");
	else
		return 0;
	return 1;
}

/* Shortest of %.15g..%.17g that reads back exactly. */
static void put_f64(jwriter *w, double d)
{
	char b[40];
	int n = 0;

	if (special_double(w, d))
		return;
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(b, sizeof b - 2, "%.*g", prec, d);
		if (strtod(b, NULL) == d)
			break;
	}
	put(w, b, mark_float(b, n));
}

/* Shortest of %.6g..%.9g that reads back to the same float32 through a
 * double, which is how readers of the JSON will get it. */
static void put_f32(jwriter *w, float f)
{
	char b[40];
	int n = 0;

	if (special_double(w, f))
		return;
	for (int prec = 6; prec <= 9; prec++) {
		n = snprintf(b, sizeof b - 2, "%.*g", prec, (double)f);
		if ((float)strtod(b, NULL) == f)
			break;
	}
	put(w, b, mark_float(b, n));
}

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	/* ranges of the second byte that exclude overlongs, surrogates
	 * and code points past U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

static void put_escape(jwriter *w, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char b[6] = {'\\', 0, 0, 0, 0, 0};
	const char *shortf = strchr("\"\"\\\\\bb\ff\nn\rr\tt", c);

	if (c && shortf) {
		b[1] = shortf[1];
		put(w, b, 2);
		return;
	}
	b[1] = 'u';
	b[2] = '0';
	b[3] = '0';
	b[4] = hex[c >> 4];
	b[5] = hex[c & 15];
	put(w, b, 6);
}

/* A JSON string; runs of plain bytes go out in one fwrite. Invalid UTF-8
 * bytes become U+FFFD: escaping them would not be valid JSON either. */
static void put_string(jwriter *w, const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, run = 0;

	putc_unlocked('"', w->out);
	while (i < n) {
		unsigned char c = s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t k = utf8_seq(s + i, n - i);
			if (k) {
				i += k;
				continue;
			}
		}
		if (i > run) /* s may be NULL for "" from msgpack_unpack */
			put(w, s + run, i - run);
		if (c >= 0x80)
			put(w, "\xef\xbf\xbd", 3);
		else
			put_escape(w, c);
		run = ++i;
	}
	if (i > run)
		put(w, s + run, i - run);
	putc_unlocked('"', w->out);
}

static void put_base64(jwriter *w, const char *p, size_t n)
{
	char b[4096];

	putc_unlocked('"', w->out);
	while (n) {
		size_t k = n < 3072 ? n : 3072; /* 3072 -> 4096 chars */
		pfm_base64_encode(p, k, b);
		put(w, b, pfm_base64_len(k));
		p += k;
		n -= k;
	}
	putc_unlocked('"', w->out);
}

static void put_payload(jwriter *w, const char *p, size_t n)
{
	if (w->full) {
		put_lit(w, "\"$base64\":");
		put_base64(w, p, n);
	} else {
		put_lit(w, "\"$bin\":");
		put_u64(w, n);
	}
}

static void path_prepend(jwriter *w, const char *comp)
{
	size_t a = strlen(comp), b = strlen(w->path);

	if (a + b >= sizeof w->path)
		return; /* keep the innermost part */
	memmove(w->path + a, w->path, b + 1);
	memcpy(w->path, comp, a);
}

static const char *type_name(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: return "null";
	case MSGPACK_OBJECT_BOOLEAN: return "boolean";
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "integer";
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: return "float";
	case MSGPACK_OBJECT_STR: return "string";
	case MSGPACK_OBJECT_ARRAY: return "array";
	case MSGPACK_OBJECT_MAP: return "map";
	case MSGPACK_OBJECT_BIN: return "bin";
	case MSGPACK_OBJECT_EXT: return "ext";
	}
	return "unknown";
}

static int bad_key(jwriter *w, const msgpack_object *k)
{
	if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return pfm_errf(w->e, "map key %llu is not a string",
				(unsigned long long)k->via.u64);
	if (k->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return pfm_errf(w->e, "map key %lld is not a string",
				(long long)k->via.i64);
	return pfm_errf(w->e, "map key of type %s is not a string",
			type_name(k));
}

static int write_value(jwriter *w, const msgpack_object *o, int depth);

static int write_map(jwriter *w, const msgpack_object *o, int depth)
{
	const msgpack_object_kv *kv = o->via.map.ptr;

	putc_unlocked('{', w->out);
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		if (kv[i].key.type != MSGPACK_OBJECT_STR)
			return bad_key(w, &kv[i].key);
		if (i)
			putc_unlocked(',', w->out);
		put_string(w, kv[i].key.via.str.ptr, kv[i].key.via.str.size);
		putc_unlocked(':', w->out);
		if (write_value(w, &kv[i].val, depth + 1) < 0) {
			char comp[80];
			int n = kv[i].key.via.str.size;
			snprintf(comp, sizeof comp, ".%.*s", n > 60 ? 60 : n,
				 kv[i].key.via.str.ptr);
			path_prepend(w, comp);
			return -1;
		}
	}
	putc_unlocked('}', w->out);
	return 0;
}

static int write_array(jwriter *w, const msgpack_object *o, int depth)
{
	putc_unlocked('[', w->out);
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		if (i)
			putc_unlocked(',', w->out);
		if (write_value(w, &o->via.array.ptr[i], depth + 1) < 0) {
			char comp[16];
			snprintf(comp, sizeof comp, "[%u]", (unsigned)i);
			path_prepend(w, comp);
			return -1;
		}
	}
	putc_unlocked(']', w->out);
	return 0;
}

/* The same limit as the parser's, so whatever we print reads back; bin
 * and ext print as objects. */
static int too_deep(const msgpack_object *o, int depth)
{
	return depth >= PFM_JSON_MAX_DEPTH &&
	       (o->type == MSGPACK_OBJECT_ARRAY ||
		o->type == MSGPACK_OBJECT_MAP || o->type == MSGPACK_OBJECT_BIN ||
		o->type == MSGPACK_OBJECT_EXT);
}

static int write_value(jwriter *w, const msgpack_object *o, int depth)
{
	if (too_deep(o, depth))
		return pfm_errf(w->e, "nested deeper than %d",
				PFM_JSON_MAX_DEPTH);
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		put_lit(w, "null");
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		put_lit(w, o->via.boolean ? "true" : "false");
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		put_u64(w, o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		put_i64(w, o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
		put_f32(w, (float)o->via.f64);
		break;
	case MSGPACK_OBJECT_FLOAT64:
		put_f64(w, o->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		put_string(w, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		return write_array(w, o, depth);
	case MSGPACK_OBJECT_MAP:
		return write_map(w, o, depth);
	case MSGPACK_OBJECT_BIN:
		putc_unlocked('{', w->out);
		put_payload(w, o->via.bin.ptr, o->via.bin.size);
		putc_unlocked('}', w->out);
		break;
	case MSGPACK_OBJECT_EXT:
		put_lit(w, "{\"$ext\":");
		put_i64(w, o->via.ext.type);
		putc_unlocked(',', w->out);
		put_payload(w, o->via.ext.ptr, o->via.ext.size);
		putc_unlocked('}', w->out);
		break;
	default:
		return pfm_errf(w->e, "unknown msgpack type %d", (int)o->type);
	}
	return 0;
}

int pfm_json_write(FILE *out, const msgpack_object *o, int full, pfm_err *e)
{
	jwriter w = {.out = out, .full = full, .e = e};

	flockfile(out);
	int rc = write_value(&w, o, 0);
	funlockfile(out);
	if (rc < 0) {
		if (w.path[0])
			pfm_err_prefix(e, "json: at %s", w.path);
		else
			pfm_err_prefix(e, "json");
		return -1;
	}
	if (ferror(out))
		return pfm_errf(e, "json: write error: %s", strerror(errno));
	return 0;
}

/* ---- parser ----
 * Two passes over the value: the first checks everything and counts the
 * members of each container (msgpack headers need counts up front), the
 * second packs. So a bad document packs nothing. */

enum { K_ARRAY, K_MAP, K_BIN, K_EXT };

typedef struct {
	uint32_t count;
	unsigned char kind;
	signed char ext_type;
	size_t b64_at; /* K_BIN/K_EXT: offset of the "$base64" string */
	size_t end;    /* K_BIN/K_EXT: offset past the '}' */
} jcontainer;

enum { T_OTHER, T_STR, T_INT };

typedef struct {
	const unsigned char *s;
	size_t n, pos;
	pfm_err *e;
	msgpack_packer *pk; /* NULL in the first pass */
	int pack_failed;
	jcontainer *c;
	size_t nc, cap, next;
	char *buf; /* the last string decoded, NUL-terminated */
	size_t len, bufcap;
	unsigned char *bin;
	size_t bincap;
	int last;         /* T_* of the last scalar parsed */
	int64_t last_int; /* when last == T_INT and it fits */
	int last_int_ok;
} jparser;

static int perr(jparser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "what at line L, column C (byte B)"; columns count bytes. */
static int perr(jparser *p, const char *fmt, ...)
{
	char what[400];
	size_t line = 1, col = 1;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < p->pos && i < p->n; i++) {
		if (p->s[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	return pfm_errf(p->e, "json: %s at line %zu, column %zu (byte %zu)",
			what, line, col, p->pos);
}

static void skip_ws(jparser *p)
{
	while (p->pos < p->n) {
		unsigned char c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static int peek(jparser *p)
{
	return p->pos < p->n ? p->s[p->pos] : -1;
}

static int unexpected(jparser *p, const char *wanted)
{
	int c = peek(p);

	if (c < 0)
		return perr(p, "unexpected end of input, expected %s", wanted);
	if (c >= 0x20 && c < 0x7f)
		return perr(p, "unexpected '%c', expected %s", c, wanted);
	return perr(p, "unexpected byte 0x%02x, expected %s", c, wanted);
}

static void pk_check(jparser *p, int rc)
{
	if (rc)
		p->pack_failed = 1;
}

static int grow(void *pp, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 64;
	while (ncap < need)
		ncap *= 2;
	void *q = realloc(*(void **)pp, ncap * elem);
	if (!q)
		return -1;
	*(void **)pp = q;
	*cap = ncap;
	return 0;
}

static int hex4(jparser *p, size_t at, unsigned *out)
{
	unsigned v = 0;

	if (at + 4 > p->n)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned char c = p->s[at + i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t utf8_put(char *d, unsigned cp)
{
	if (cp < 0x80) {
		d[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = 0xc0 | cp >> 6;
		d[1] = 0x80 | (cp & 63);
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = 0xe0 | cp >> 12;
		d[1] = 0x80 | (cp >> 6 & 63);
		d[2] = 0x80 | (cp & 63);
		return 3;
	}
	d[0] = 0xf0 | cp >> 18;
	d[1] = 0x80 | (cp >> 12 & 63);
	d[2] = 0x80 | (cp >> 6 & 63);
	d[3] = 0x80 | (cp & 63);
	return 4;
}

/* \uXXXX at p->pos (after the backslash and 'u' were seen at pos-2),
 * with a following \uXXXX for a surrogate pair. */
static int parse_u_escape(jparser *p, unsigned *cp)
{
	size_t at = p->pos;

	if (hex4(p, at, cp) < 0)
		return perr(p, "invalid \\u escape");
	p->pos += 4;
	if (*cp >= 0xdc00 && *cp <= 0xdfff) {
		p->pos = at - 2;
		return perr(p, "lone low surrogate \\u%04x", *cp);
	}
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	unsigned lo;
	if (p->pos + 2 > p->n || p->s[p->pos] != '\\' ||
	    p->s[p->pos + 1] != 'u' || hex4(p, p->pos + 2, &lo) < 0 ||
	    lo < 0xdc00 || lo > 0xdfff) {
		p->pos = at - 2;
		return perr(p, "high surrogate \\u%04x without a low one", *cp);
	}
	p->pos += 6;
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 0;
}

static int parse_escape(jparser *p)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	int c = ++p->pos < p->n ? p->s[p->pos] : -1;
	const char *k = c > 0 ? strchr(from, c) : NULL;

	if (k) {
		p->buf[p->len++] = to[k - from];
		p->pos++;
		return 0;
	}
	if (c != 'u') {
		p->pos--;
		return perr(p, "invalid escape in string");
	}
	p->pos++;
	unsigned cp;
	if (parse_u_escape(p, &cp) < 0)
		return -1;
	p->len += utf8_put(p->buf + p->len, cp);
	return 0;
}

/* Bytes at s that a string holds as they are (printable ASCII). */
static size_t plain_run(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' &&
	       s[i] != '\\')
		i++;
	return i;
}

/* Decode the string at p->pos (on the quote) into p->buf/p->len. The
 * decoded form is never longer than the text, so size buf from that. */
static int parse_string(jparser *p)
{
	size_t end = p->pos + 1;

	while (end < p->n && p->s[end] != '"')
		end += p->s[end] == '\\' ? 2 : 1;
	if (grow(&p->buf, &p->bufcap, end - p->pos + 1, 1) < 0)
		return perr(p, "out of memory");
	p->len = 0;
	p->pos++;
	for (;;) {
		if (p->pos >= p->n)
			return perr(p, "unterminated string");
		size_t run = plain_run(p->s + p->pos, p->n - p->pos);
		memcpy(p->buf + p->len, p->s + p->pos, run);
		p->len += run;
		p->pos += run;
		if (p->pos >= p->n)
			return perr(p, "unterminated string");
		unsigned char c = p->s[p->pos];
		if (c == '"')
			break;
		if (c == '\\') {
			if (parse_escape(p) < 0)
				return -1;
		} else if (c < 0x20) {
			return perr(p, "control character 0x%02x in string", c);
		} else if (c < 0x80) {
			p->buf[p->len++] = c;
			p->pos++;
		} else {
			size_t k = utf8_seq(p->s + p->pos, p->n - p->pos);
			if (!k)
				return perr(p, "invalid UTF-8 in string");
			memcpy(p->buf + p->len, p->s + p->pos, k);
			p->len += k;
			p->pos += k;
		}
	}
	p->pos++;
	p->buf[p->len] = '\0';
	p->last = T_STR;
	return 0;
}

static void pack_str(jparser *p)
{
	if (!p->pk)
		return;
	pk_check(p, msgpack_pack_str(p->pk, p->len));
	pk_check(p, msgpack_pack_str_body(p->pk, p->buf, p->len));
}

static size_t digits(jparser *p)
{
	size_t start = p->pos;

	while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
		p->pos++;
	return p->pos - start;
}

/* Integer token s[0..n) (optional '-', digits): 0 and the value if it
 * fits int64 (or, *u set, uint64); -1 when it needs a float. */
static int int_value(const unsigned char *s, size_t n, int64_t *i,
		     uint64_t *u, int *is_u)
{
	int neg = s[0] == '-';
	uint64_t v = 0;

	for (size_t k = neg; k < n; k++) {
		unsigned d = s[k] - '0';
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*is_u = !neg;
	if (!neg) {
		*u = v;
		return 0;
	}
	if (v > (uint64_t)INT64_MAX + 1)
		return -1;
	*i = v ? -(int64_t)(v - 1) - 1 : 0; /* -(2^63) without overflow */
	return 0;
}

static int pack_float(jparser *p, size_t start)
{
	size_t n = p->pos - start;

	if (!p->pk)
		return 0;
	if (grow(&p->buf, &p->bufcap, n + 1, 1) < 0)
		return perr(p, "out of memory");
	memcpy(p->buf, p->s + start, n);
	p->buf[n] = '\0';
	pk_check(p, msgpack_pack_double(p->pk, strtod(p->buf, NULL)));
	return 0;
}

static int parse_number(jparser *p)
{
	size_t start = p->pos;
	int is_float = 0;

	if (peek(p) == '-')
		p->pos++;
	if (peek(p) == '0') {
		p->pos++;
		if (peek(p) >= '0' && peek(p) <= '9')
			return perr(p, "leading zero in number");
	} else if (!digits(p)) {
		return unexpected(p, "a digit");
	}
	if (peek(p) == '.') {
		p->pos++;
		if (!digits(p))
			return unexpected(p, "a digit after '.'");
		is_float = 1;
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		p->pos++;
		if (peek(p) == '+' || peek(p) == '-')
			p->pos++;
		if (!digits(p))
			return unexpected(p, "a digit in the exponent");
		is_float = 1;
	}
	int64_t i = 0;
	uint64_t u = 0;
	int is_u = 0;
	p->last = T_OTHER;
	if (is_float ||
	    int_value(p->s + start, p->pos - start, &i, &u, &is_u) < 0)
		return pack_float(p, start);
	p->last = T_INT;
	p->last_int_ok = !is_u || u <= INT64_MAX;
	p->last_int = is_u ? (int64_t)u : i;
	if (p->pk)
		pk_check(p, is_u ? msgpack_pack_uint64(p->pk, u)
				 : msgpack_pack_int64(p->pk, i));
	return 0;
}

static int parse_literal(jparser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->n - p->pos < n || memcmp(p->s + p->pos, word, n))
		return unexpected(p, "a value");
	p->pos += n;
	p->last = T_OTHER;
	if (!p->pk)
		return 0;
	if (word[0] == 'n')
		pk_check(p, msgpack_pack_nil(p->pk));
	else if (word[0] == 't')
		pk_check(p, msgpack_pack_true(p->pk));
	else
		pk_check(p, msgpack_pack_false(p->pk));
	return 0;
}

/* First pass: a new container record; second pass: the next one. */
static jcontainer *open_container(jparser *p, int kind)
{
	if (p->pk)
		return &p->c[p->next++];
	if (grow(&p->c, &p->cap, p->nc + 1, sizeof *p->c) < 0) {
		perr(p, "out of memory");
		return NULL;
	}
	jcontainer *c = &p->c[p->nc++];
	memset(c, 0, sizeof *c);
	c->kind = kind;
	return c;
}

static int count_member(jparser *p, size_t idx)
{
	if (p->c[idx].count == UINT32_MAX)
		return perr(p, "more than %u members", UINT32_MAX);
	p->c[idx].count++;
	return 0;
}

static int parse_value(jparser *p, int depth);

static int parse_array(jparser *p, int depth)
{
	jcontainer *c = open_container(p, K_ARRAY);
	size_t idx = c ? (size_t)(c - p->c) : 0;

	if (!c)
		return -1;
	if (p->pk)
		pk_check(p, msgpack_pack_array(p->pk, c->count));
	p->pos++;
	skip_ws(p);
	if (peek(p) == ']') {
		p->pos++;
		return 0;
	}
	for (;;) {
		if (parse_value(p, depth + 1) < 0)
			return -1;
		if (!p->pk && count_member(p, idx) < 0)
			return -1;
		skip_ws(p);
		if (peek(p) == ']')
			break;
		if (peek(p) != ',')
			return unexpected(p, "',' or ']'");
		p->pos++;
	}
	p->pos++;
	p->last = T_OTHER; /* not the last element's */
	return 0;
}

/* What the keys of an object say about it: {"$base64"}, {"$ext",
 * "$base64"} or a summary with "$bin". */
typedef struct {
	size_t b64_at;
	int has_b64, b64_is_str, b64_ok, has_ext, ext_ok, has_bin;
	int ext_type;
} jspecial;

static void note_key(jparser *p, jspecial *sp, int *which)
{
	*which = 0;
	if (p->pk || p->len < 4 || p->buf[0] != '$')
		return;
	if (p->len == 7 && !memcmp(p->buf, "$base64", 7))
		*which = 1, sp->has_b64 = 1;
	else if (p->len == 4 && !memcmp(p->buf, "$ext", 4))
		*which = 2, sp->has_ext = 1;
	else if (p->len == 4 && !memcmp(p->buf, "$bin", 4))
		sp->has_bin = 1;
}

/* Decode p->buf as base64 into p->bin: its length, or -1. */
static long long decode_buf(jparser *p)
{
	if (grow(&p->bin, &p->bincap, pfm_base64_max_decoded(p->len) + 1,
		 1) < 0)
		return perr(p, "out of memory");
	return pfm_base64_decode(p->buf, p->len, p->bin);
}

static void note_value(jparser *p, jspecial *sp, int which, size_t at)
{
	if (which == 1) {
		/* checked now, while p->buf still holds the string */
		sp->b64_is_str = p->last == T_STR;
		sp->b64_ok = sp->b64_is_str && decode_buf(p) >= 0;
		sp->b64_at = at;
	} else if (which == 2) {
		sp->ext_ok = p->last == T_INT && p->last_int_ok &&
			     p->last_int >= -128 && p->last_int <= 127;
		sp->ext_type = (int)p->last_int;
	}
}

/* Decide in the first pass whether an object is a bin/ext payload; check
 * the base64 there so the second pass cannot fail. */
static int classify(jparser *p, jcontainer *c, const jspecial *sp,
		    size_t start)
{
	int ext = sp->has_ext && c->count == 2;

	if (sp->has_bin && (c->count == 1 || ext)) {
		p->pos = start;
		return perr(p, "frame was printed without --full; binary "
			       "payload not available");
	}
	if (!sp->has_b64 || !(c->count == 1 || ext))
		return 0;
	size_t end = p->pos;
	p->pos = sp->b64_at;
	if (!sp->b64_is_str)
		return perr(p, "\"$base64\" must be a string");
	if (!sp->b64_ok)
		return perr(p, "invalid base64");
	if (ext && !sp->ext_ok) {
		p->pos = start;
		return perr(p, "\"$ext\" must be an integer in -128..127");
	}
	p->pos = end;
	c->kind = ext ? K_EXT : K_BIN;
	c->ext_type = (signed char)sp->ext_type;
	c->b64_at = sp->b64_at;
	c->end = end;
	return 0;
}

static int pack_payload(jparser *p, const jcontainer *c)
{
	p->pos = c->b64_at;
	if (parse_string(p) < 0)
		return -1;
	long long n = decode_buf(p);
	if (n < 0)
		return -1;
	if (c->kind == K_EXT) {
		pk_check(p, msgpack_pack_ext(p->pk, n, c->ext_type));
		pk_check(p, msgpack_pack_ext_body(p->pk, p->bin, n));
	} else {
		pk_check(p, msgpack_pack_bin(p->pk, n));
		pk_check(p, msgpack_pack_bin_body(p->pk, p->bin, n));
	}
	p->pos = c->end;
	p->last = T_OTHER;
	return 0;
}

static int parse_member(jparser *p, jspecial *sp, int depth)
{
	int which;

	skip_ws(p);
	if (peek(p) != '"')
		return unexpected(p, "a string key");
	if (parse_string(p) < 0)
		return -1;
	pack_str(p);
	note_key(p, sp, &which);
	skip_ws(p);
	if (peek(p) != ':')
		return unexpected(p, "':'");
	p->pos++;
	skip_ws(p);
	size_t at = p->pos;
	if (parse_value(p, depth + 1) < 0)
		return -1;
	note_value(p, sp, which, at);
	return 0;
}

static int parse_object(jparser *p, int depth)
{
	size_t start = p->pos;
	jcontainer *c = open_container(p, K_MAP);
	size_t idx = c ? (size_t)(c - p->c) : 0;
	jspecial sp = {0};

	if (!c)
		return -1;
	if (p->pk && c->kind != K_MAP)
		return pack_payload(p, c);
	if (p->pk)
		pk_check(p, msgpack_pack_map(p->pk, c->count));
	p->pos++;
	skip_ws(p);
	if (peek(p) != '}') {
		for (;;) {
			if (parse_member(p, &sp, depth) < 0)
				return -1;
			if (!p->pk && count_member(p, idx) < 0)
				return -1;
			skip_ws(p);
			if (peek(p) == '}')
				break;
			if (peek(p) != ',')
				return unexpected(p, "',' or '}'");
			p->pos++;
		}
	}
	p->pos++;
	p->last = T_OTHER; /* not the last member's */
	return p->pk ? 0 : classify(p, &p->c[idx], &sp, start);
}

static int parse_value(jparser *p, int depth)
{
	int c;

	skip_ws(p);
	c = peek(p);
	p->last = T_OTHER; /* strings and integers say otherwise */
	if ((c == '{' || c == '[') && depth >= PFM_JSON_MAX_DEPTH)
		return perr(p, "nested deeper than %d", PFM_JSON_MAX_DEPTH);
	switch (c) {
	case '{':
		return parse_object(p, depth);
	case '[':
		return parse_array(p, depth);
	case '"':
		if (parse_string(p) < 0)
			return -1;
		pack_str(p);
		return 0;
	case 't':
		return parse_literal(p, "true");
	case 'f':
		return parse_literal(p, "false");
	case 'n':
		return parse_literal(p, "null");
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return parse_number(p);
		return unexpected(p, "a value");
	}
}

static void parser_free(jparser *p)
{
	free(p->c);
	free(p->buf);
	free(p->bin);
}

int pfm_json_parse(const char *text, size_t n, size_t *consumed,
		   msgpack_packer *pk, pfm_err *e)
{
	jparser p = {.s = (const unsigned char *)text, .n = n, .e = e};
	int rc = parse_value(&p, 0);

	if (rc == 0) {
		size_t end = p.pos;
		p.pos = 0;
		p.pk = pk;
		rc = parse_value(&p, 0);
		if (rc == 0 && p.pack_failed)
			rc = pfm_errf(e, "json: cannot pack value");
		if (rc == 0 && consumed)
			*consumed = end;
	}
	parser_free(&p);
	return rc;
}

int pfm_json_to_object(const char *text, size_t n, msgpack_sbuffer *sb,
		       msgpack_zone *z, msgpack_object *out, pfm_err *e)
{
	msgpack_packer pk;
	size_t used, base = sb->size, off = 0;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (pfm_json_parse(text, n, &used, &pk, e) < 0)
		return -1;
	jparser p = {.s = (const unsigned char *)text, .n = n, .pos = used,
		     .e = e};
	skip_ws(&p);
	if (p.pos < n)
		return unexpected(&p, "end of document");
	if (msgpack_unpack(sb->data + base, sb->size - base, &off, z, out) !=
	    MSGPACK_UNPACK_SUCCESS)
		return pfm_errf(e, "json: cannot unpack the packed document");
	return 0;
}

int pfm_json_object_each(const char *text, size_t n, const char *what,
			 pfm_json_member_fn fn, void *ctx, pfm_err *e)
{
	msgpack_sbuffer sb;
	msgpack_zone z;
	msgpack_object o;
	int rc = -1;
	msgpack_sbuffer_init(&sb);
	msgpack_zone_init(&z, 2048);
	if (pfm_json_to_object(text, n, &sb, &z, &o, e))
		goto out;
	if (o.type != MSGPACK_OBJECT_MAP) {
		pfm_errf(e, "%s: not a JSON object", what);
		goto out;
	}
	for (uint32_t i = 0; i < o.via.map.size; i++) {
		const msgpack_object *k = &o.via.map.ptr[i].key;
		char key[64];
		if (k->type != MSGPACK_OBJECT_STR ||
		    k->via.str.size >= sizeof key) {
			pfm_errf(e, "%s: bad key", what);
			goto out;
		}
		memcpy(key, k->via.str.ptr, k->via.str.size);
		key[k->via.str.size] = 0;
		if (fn(ctx, key, &o.via.map.ptr[i].val, e))
			goto out;
	}
	rc = 0;
out:
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}
