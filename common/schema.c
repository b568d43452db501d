/* schema.c: a validator for the JSON Schema subset described in schema.h.
 * Each schema is compiled once into a tree of nodes; frames are checked
 * by walking their msgpack objects against it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup */
#endif
#include "schema.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "json.h"

/* JSON types a schema can ask for; a mask of them, 0 = any. */
enum {
	TY_NULL = 1, TY_BOOL = 2, TY_INT = 4, TY_NUM = 8, TY_STR = 16,
	TY_ARR = 32, TY_OBJ = 64
};

/* Numeric bounds and size limits, indexes into snode arrays. */
enum { B_MIN, B_MAX, B_XMIN, B_XMAX, NBOUNDS };
enum { L_MINLEN, L_MAXLEN, L_MINITEMS, L_MAXITEMS, L_MINPROPS, L_MAXPROPS,
       NLIMITS };

#define MAX_CHECK_DEPTH 128 /* guards against $ref loops */

typedef struct snode snode;
typedef struct sdoc sdoc;

typedef struct {
	const char *name; /* points into the document */
	size_t len;
	snode *node;
} sprop;

struct snode {
	snode *next_alloc;
	sdoc *doc;
	int always; /* 1: the schema `true`, -1: `false`, 0: see keywords */
	unsigned types;
	int b64;    /* contentEncoding base64: matches bin only */
	int tensor; /* the root of tensor.json: also pfm_tensor_decode */
	sprop *props, *defs;
	size_t nprops, ndefs;
	const msgpack_object *required; /* array of str */
	snode *additional;
	snode *items;
	const msgpack_object *enumv; /* array */
	const msgpack_object *constv;
	unsigned has_bound, has_limit; /* bit masks */
	double bound[NBOUNDS];
	uint64_t limit[NLIMITS];
	const msgpack_object *ref_str;
	snode *ref;
};

struct sdoc {
	char *name;
	msgpack_sbuffer sb; /* the document packed; root points into it */
	msgpack_zone z;
	msgpack_object root;
	snode *node;
};

struct pfm_schemas {
	sdoc **docs;
	size_t ndocs, cap;
	snode *nodes;
};

/* ---- loading ---- */

typedef struct {
	pfm_schemas *s;
	sdoc *doc;
	pfm_err *e;
	char path[256]; /* JSON pointer of the subschema being compiled */
	size_t plen;
} cctx;

/* Append "/part" or "/part/name"; returns the length to pop back to. */
static size_t cpath_push(cctx *c, const char *part, const char *name,
			 size_t n)
{
	size_t mark = c->plen;
	int k = snprintf(c->path + mark, sizeof c->path - mark, "/%s%s%.*s",
			 part, n ? "/" : "", (int)n, n ? name : "");

	if (k > 0)
		c->plen += (size_t)k < sizeof c->path - mark
				   ? (size_t)k
				   : sizeof c->path - mark - 1;
	return mark;
}

static void cpath_pop(cctx *c, size_t mark)
{
	c->plen = mark;
	c->path[mark] = '\0';
}

static int cerr(cctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "schema tile.json: /properties/x: what" */
static int cerr(cctx *c, const char *fmt, ...)
{
	char what[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return pfm_errf(c->e, "schema %s.json: %s: %s", c->doc->name,
			c->plen ? c->path : "/", what);
}

static int is_str(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);

	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       !memcmp(o->via.str.ptr, s, n);
}

static snode *compile(cctx *c, const msgpack_object *o);

static int kw_type_name(cctx *c, snode *n, const msgpack_object *v)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
		{"null", TY_NULL},   {"boolean", TY_BOOL}, {"integer", TY_INT},
		{"number", TY_NUM},  {"string", TY_STR},   {"array", TY_ARR},
		{"object", TY_OBJ},
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (is_str(v, names[i].name)) {
			n->types |= names[i].bit;
			return 0;
		}
	return cerr(c, "\"type\": unknown type");
}

static int kw_type(cctx *c, snode *n, const msgpack_object *v, int arg)
{
	(void)arg;
	if (v->type == MSGPACK_OBJECT_STR)
		return kw_type_name(c, n, v);
	if (v->type != MSGPACK_OBJECT_ARRAY || !v->via.array.size)
		return cerr(c, "\"type\" must be a string or an array");
	for (uint32_t i = 0; i < v->via.array.size; i++)
		if (kw_type_name(c, n, &v->via.array.ptr[i]) < 0)
			return -1;
	return 0;
}

/* A map of name -> subschema ("properties", "$defs"). */
static int compile_map(cctx *c, const msgpack_object *v, const char *kw,
		       sprop **out, size_t *nout)
{
	if (v->type != MSGPACK_OBJECT_MAP)
		return cerr(c, "\"%s\" must be an object", kw);
	*out = calloc(v->via.map.size + 1, sizeof **out);
	if (!*out)
		return cerr(c, "out of memory");
	for (uint32_t i = 0; i < v->via.map.size; i++) {
		const msgpack_object_kv *kv = &v->via.map.ptr[i];
		sprop *p = &(*out)[i];
		p->name = kv->key.via.str.ptr; /* keys of JSON are strings */
		p->len = kv->key.via.str.size;
		size_t mark = cpath_push(c, kw, p->name, p->len);
		p->node = compile(c, &kv->val);
		cpath_pop(c, mark);
		if (!p->node)
			return -1;
		(*nout)++;
	}
	return 0;
}

static int kw_properties(cctx *c, snode *n, const msgpack_object *v, int arg)
{
	(void)arg;
	return compile_map(c, v, "properties", &n->props, &n->nprops);
}

static int kw_defs(cctx *c, snode *n, const msgpack_object *v, int arg)
{
	(void)arg;
	return compile_map(c, v, "$defs", &n->defs, &n->ndefs);
}

static int kw_required(cctx *c, snode *n, const msgpack_object *v, int arg)
{
	(void)arg;
	if (v->type != MSGPACK_OBJECT_ARRAY)
		return cerr(c, "\"required\" must be an array");
	for (uint32_t i = 0; i < v->via.array.size; i++)
		if (v->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
			return cerr(c, "\"required\" must list strings");
	n->required = v;
	return 0;
}

static int kw_subschema(cctx *c, const msgpack_object *v, const char *kw,
			snode **out)
{
	size_t mark = cpath_push(c, kw, NULL, 0);

	*out = compile(c, v);
	cpath_pop(c, mark);
	return *out ? 0 : -1;
}

static int kw_additional(cctx *c, snode *n, const msgpack_object *v, int arg)
{
	(void)arg;
	return kw_subschema(c, v, "additionalProperties", &n->additional);
}

static int kw_items(cctx *c, snode *n, const msgpack_object *v, int arg)
{
	(void)arg;
	return kw_subschema(c, v, "items", &n->items);
}

static int kw_enum(cctx *c, snode *n, const msgpack_object *v, int arg)
{
	(void)arg;
	if (v->type != MSGPACK_OBJECT_ARRAY || !v->via.array.size)
		return cerr(c, "\"enum\" must be a non-empty array");
	n->enumv = v;
	return 0;
}

static int kw_const(cctx *c, snode *n, const msgpack_object *v, int arg)
{
	(void)c;
	(void)arg;
	n->constv = v;
	return 0;
}

static int kw_bound(cctx *c, snode *n, const msgpack_object *v, int arg)
{
	if (pfm_obj_f64(v, &n->bound[arg]) < 0)
		return cerr(c, "bounds must be numbers");
	n->has_bound |= 1u << arg;
	return 0;
}

static int kw_limit(cctx *c, snode *n, const msgpack_object *v, int arg)
{
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return cerr(c, "size limits must be non-negative integers");
	n->limit[arg] = v->via.u64;
	n->has_limit |= 1u << arg;
	return 0;
}

static int kw_ref(cctx *c, snode *n, const msgpack_object *v, int arg)
{
	(void)arg;
	if (v->type != MSGPACK_OBJECT_STR)
		return cerr(c, "\"$ref\" must be a string");
	n->ref_str = v; /* resolved once every document is loaded */
	return 0;
}

static int kw_encoding(cctx *c, snode *n, const msgpack_object *v, int arg)
{
	(void)arg;
	if (!is_str(v, "base64"))
		return cerr(c, "unsupported contentEncoding (only base64)");
	n->b64 = 1;
	return 0;
}

static int kw_ignore(cctx *c, snode *n, const msgpack_object *v, int arg)
{
	(void)c;
	(void)n;
	(void)v;
	(void)arg;
	return 0;
}

static const struct keyword {
	const char *name;
	int (*fn)(cctx *, snode *, const msgpack_object *, int);
	int arg;
} keywords[] = {
	{"type", kw_type, 0},
	{"properties", kw_properties, 0},
	{"required", kw_required, 0},
	{"additionalProperties", kw_additional, 0},
	{"items", kw_items, 0},
	{"enum", kw_enum, 0},
	{"const", kw_const, 0},
	{"minimum", kw_bound, B_MIN},
	{"maximum", kw_bound, B_MAX},
	{"exclusiveMinimum", kw_bound, B_XMIN},
	{"exclusiveMaximum", kw_bound, B_XMAX},
	{"minLength", kw_limit, L_MINLEN},
	{"maxLength", kw_limit, L_MAXLEN},
	{"minItems", kw_limit, L_MINITEMS},
	{"maxItems", kw_limit, L_MAXITEMS},
	{"minProperties", kw_limit, L_MINPROPS},
	{"maxProperties", kw_limit, L_MAXPROPS},
	{"$ref", kw_ref, 0},
	{"$defs", kw_defs, 0},
	{"contentEncoding", kw_encoding, 0},
	/* annotations */
	{"title", kw_ignore, 0},
	{"description", kw_ignore, 0},
	{"$schema", kw_ignore, 0},
	{"$id", kw_ignore, 0},
	{"$comment", kw_ignore, 0},
	{"examples", kw_ignore, 0},
	{"default", kw_ignore, 0},
	{"contentMediaType", kw_ignore, 0},
};

static const struct keyword *find_keyword(const msgpack_object *k)
{
	for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
		if (is_str(k, keywords[i].name))
			return &keywords[i];
	return NULL;
}

static snode *new_node(cctx *c)
{
	snode *n = calloc(1, sizeof *n);

	if (!n) {
		cerr(c, "out of memory");
		return NULL;
	}
	n->doc = c->doc;
	n->next_alloc = c->s->nodes;
	c->s->nodes = n;
	return n;
}

static snode *compile(cctx *c, const msgpack_object *o)
{
	snode *n = new_node(c);

	if (!n)
		return NULL;
	if (o->type == MSGPACK_OBJECT_BOOLEAN) {
		n->always = o->via.boolean ? 1 : -1;
		return n;
	}
	if (o->type != MSGPACK_OBJECT_MAP) {
		cerr(c, "a schema must be an object or a boolean");
		return NULL;
	}
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];
		const struct keyword *k = find_keyword(&kv->key);
		if (!k) {
			cerr(c, "unsupported keyword \"%.*s\"",
			     (int)kv->key.via.str.size, kv->key.via.str.ptr);
			return NULL;
		}
		if (k->fn(c, n, &kv->val, k->arg) < 0)
			return NULL;
	}
	return n;
}

static sdoc *find_doc(const pfm_schemas *s, const char *name, size_t n)
{
	for (size_t i = 0; i < s->ndocs; i++)
		if (strlen(s->docs[i]->name) == n &&
		    !memcmp(s->docs[i]->name, name, n))
			return s->docs[i];
	return NULL;
}

static snode *find_prop(const sprop *p, size_t np, const char *name,
			size_t n)
{
	for (size_t i = 0; i < np; i++)
		if (p[i].len == n && !memcmp(p[i].name, name, n))
			return p[i].node;
	return NULL;
}

/* "other.json", "#/$defs/NAME" or "other.json#/$defs/NAME". */
static int resolve(pfm_schemas *s, snode *n, pfm_err *e)
{
	const char *r = n->ref_str->via.str.ptr;
	size_t len = n->ref_str->via.str.size;
	const char *hash = memchr(r, '#', len);
	size_t flen = hash ? (size_t)(hash - r) : len;
	sdoc *d = n->doc;

	if (flen) {
		if (flen <= 5 || memcmp(r + flen - 5, ".json", 5) ||
		    !(d = find_doc(s, r, flen - 5)))
			goto bad;
	}
	if (!hash || hash + 1 == r + len) {
		n->ref = d->node;
		return 0;
	}
	const char *frag = hash + 1;
	size_t fl = r + len - frag;
	if (fl > 7 && !memcmp(frag, "/$defs/", 7))
		n->ref = find_prop(d->node->defs, d->node->ndefs, frag + 7,
				   fl - 7);
	if (n->ref)
		return 0;
bad:
	return pfm_errf(e, "schema %s.json: cannot resolve $ref \"%.*s\"",
			n->doc->name, (int)len, r);
}

static int resolve_all(pfm_schemas *s, pfm_err *e)
{
	for (snode *n = s->nodes; n; n = n->next_alloc)
		if (n->ref_str && resolve(s, n, e) < 0)
			return -1;
	sdoc *t = find_doc(s, "tensor", 6);
	if (t)
		t->node->tensor = 1;
	return 0;
}

static int add_doc(pfm_schemas *s, const char *name, const char *text,
		   size_t n, pfm_err *e)
{
	if (s->ndocs == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		sdoc **d = realloc(s->docs, cap * sizeof *d);
		if (!d)
			return pfm_errf(e, "out of memory");
		s->docs = d;
		s->cap = cap;
	}
	sdoc *d = calloc(1, sizeof *d);
	if (!d || !(d->name = strdup(name))) {
		free(d);
		return pfm_errf(e, "out of memory");
	}
	msgpack_sbuffer_init(&d->sb);
	msgpack_zone_init(&d->z, 4096);
	s->docs[s->ndocs++] = d;
	if (pfm_json_to_object(text, n, &d->sb, &d->z, &d->root, e) < 0)
		return pfm_err_prefix(e, "schema %s.json", name);
	cctx c = {.s = s, .doc = d, .e = e};
	d->node = compile(&c, &d->root);
	return d->node ? 0 : -1;
}

static char *read_all(const char *path, size_t *n, pfm_err *e)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0;

	*n = 0;
	if (!f) {
		pfm_errf(e, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (*n == cap) {
			char *b = realloc(buf, cap = cap ? cap * 2 : 16384);
			if (!b)
				break;
			buf = b;
		}
		size_t k = fread(buf + *n, 1, cap - *n, f);
		*n += k;
		if (k == 0)
			break;
	}
	if (ferror(f) || *n == cap) { /* *n == cap only when realloc failed */
		pfm_errf(e, "%s: cannot read", path);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int load_file(pfm_schemas *s, const char *dir, const char *file,
		     pfm_err *e)
{
	char path[4096], name[256];
	size_t len = strlen(file) - 5, n;

	if (len >= sizeof name)
		return pfm_errf(e, "%s: schema name too long", file);
	memcpy(name, file, len);
	name[len] = '\0';
	snprintf(path, sizeof path, "%s/%s", dir, file);
	char *text = read_all(path, &n, e);
	if (!text)
		return -1;
	int rc = add_doc(s, name, text, n, e);
	free(text);
	return rc;
}

static int load_dir(pfm_schemas *s, const char *dir, pfm_err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return pfm_errf(e, "%s: %s", dir, strerror(errno));
	while (rc == 0 && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len > 5 && de->d_name[0] != '.' &&
		    !strcmp(de->d_name + len - 5, ".json"))
			rc = load_file(s, dir, de->d_name, e);
	}
	closedir(d);
	if (rc == 0 && !s->ndocs)
		return pfm_errf(e, "%s: no .json schemas", dir);
	return rc;
}

static int load_builtin(pfm_schemas *s, pfm_err *e)
{
	for (const struct pfm_schema_src *b = pfm_schema_srcs; b->name; b++)
		if (add_doc(s, b->name, b->text, b->length, e) < 0)
			return -1;
	return 0;
}

pfm_schemas *pfm_schemas_load(const char *dir, pfm_err *e)
{
	pfm_schemas *s = calloc(1, sizeof *s);

	if (!s) {
		pfm_errf(e, "out of memory");
		return NULL;
	}
	int rc = dir ? load_dir(s, dir, e) : load_builtin(s, e);
	if (rc < 0 || resolve_all(s, e) < 0) {
		pfm_schemas_free(s);
		return NULL;
	}
	return s;
}

void pfm_schemas_free(pfm_schemas *s)
{
	if (!s)
		return;
	for (snode *n = s->nodes, *next; n; n = next) {
		next = n->next_alloc;
		free(n->props);
		free(n->defs);
		free(n);
	}
	for (size_t i = 0; i < s->ndocs; i++) {
		msgpack_sbuffer_destroy(&s->docs[i]->sb);
		msgpack_zone_destroy(&s->docs[i]->z);
		free(s->docs[i]->name);
		free(s->docs[i]);
	}
	free(s->docs);
	free(s);
}

/* ---- checking ---- */

typedef struct {
	pfm_err *e;
	char path[256]; /* where the error is, built while unwinding */
} vctx;

static void vpath_prepend(vctx *v, const char *comp)
{
	size_t a = strlen(comp), b = strlen(v->path);

	if (a + b >= sizeof v->path)
		return; /* keep the innermost part */
	memmove(v->path + a, v->path, b + 1);
	memcpy(v->path, comp, a);
}

static int is_ident(const char *s, size_t n)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (!(c == '_' || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || (i && c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

/* .name, or ["odd name"] as jq writes it. */
static int vfail_key(vctx *v, const char *k, size_t n)
{
	char comp[96];
	int m = n > 60 ? 60 : (int)n;

	if (is_ident(k, n))
		snprintf(comp, sizeof comp, ".%.*s", m, k);
	else
		snprintf(comp, sizeof comp, "[\"%.*s\"]", m, k);
	vpath_prepend(v, comp);
	return -1;
}

static int vfail_index(vctx *v, uint32_t i)
{
	char comp[16];

	snprintf(comp, sizeof comp, "[%u]", (unsigned)i);
	vpath_prepend(v, comp);
	return -1;
}

static const char *got_name(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: return "null";
	case MSGPACK_OBJECT_BOOLEAN: return "boolean";
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "integer";
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: return "number";
	case MSGPACK_OBJECT_STR: return "string";
	case MSGPACK_OBJECT_ARRAY: return "array";
	case MSGPACK_OBJECT_MAP: return "object";
	case MSGPACK_OBJECT_BIN: return "binary data";
	case MSGPACK_OBJECT_EXT: return "ext";
	}
	return "unknown";
}

/* A value for messages: its JSON, cut short at n - 1 bytes. */
static void describe(const msgpack_object *o, char *b, size_t n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int ok = f && pfm_json_write(f, o, 0, NULL) == 0;

	if (f && fclose(f) != 0)
		ok = 0;
	if (!ok || n < 8) {
		snprintf(b, n, "%s", got_name(o));
	} else if (len < n) {
		memcpy(b, text, len + 1);
	} else {
		size_t cut = n - 4;
		while (cut && ((unsigned char)text[cut] & 0xc0) == 0x80)
			cut--; /* not inside a UTF-8 sequence */
		memcpy(b, text, cut);
		memcpy(b + cut, "...", 4);
	}
	free(text);
}

static unsigned json_types(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: return TY_NULL;
	case MSGPACK_OBJECT_BOOLEAN: return TY_BOOL;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return TY_INT | TY_NUM;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		/* JSON Schema: 1.0 is an integer */
		return isfinite(o->via.f64) && o->via.f64 == trunc(o->via.f64)
			       ? TY_INT | TY_NUM
			       : TY_NUM;
	case MSGPACK_OBJECT_STR: return TY_STR;
	case MSGPACK_OBJECT_ARRAY: return TY_ARR;
	case MSGPACK_OBJECT_MAP: return TY_OBJ;
	default: return 0; /* bin, ext: no JSON type of their own */
	}
}

static void types_text(unsigned t, char *b, size_t n)
{
	static const char *names[] = {"null", "boolean", "integer", "number",
				      "string", "array", "object"};
	size_t used = 0;

	b[0] = '\0';
	if ((t & TY_NUM) && (t & TY_INT))
		t &= ~TY_INT; /* "integer or number" says no more */
	for (int i = 0; i < 7; i++)
		if (t & 1u << i) {
			int k = snprintf(b + used, n - used, "%s%s",
					 used ? " or " : "", names[i]);
			if (k < 0 || (size_t)k >= n - used)
				return;
			used += k;
		}
}

static int check_type(vctx *v, const snode *n, const msgpack_object *o)
{
	char want[96];

	if (n->b64) {
		if (o->type == MSGPACK_OBJECT_BIN)
			return 0;
		return pfm_errf(v->e, "expected binary data, got %s",
				got_name(o));
	}
	if (!n->types || (n->types & json_types(o)))
		return 0;
	types_text(n->types, want, sizeof want);
	return pfm_errf(v->e, "expected %s, got %s", want, got_name(o));
}

static int num_equal(const msgpack_object *a, const msgpack_object *b)
{
	double x, y;

	if (a->type == b->type && a->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return a->via.u64 == b->via.u64;
	if (a->type == b->type && a->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return a->via.i64 == b->via.i64;
	pfm_obj_f64(a, &x);
	pfm_obj_f64(b, &y);
	return x == y;
}

static int is_num(const msgpack_object *o)
{
	return json_types(o) & TY_NUM;
}

static int json_equal(const msgpack_object *a, const msgpack_object *b);

/* Same keys with equal values, in any order. */
static int map_equal(const msgpack_object *a, const msgpack_object *b)
{
	if (a->via.map.size != b->via.map.size)
		return 0;
	for (uint32_t i = 0; i < a->via.map.size; i++) {
		uint32_t j;
		for (j = 0; j < b->via.map.size; j++)
			if (json_equal(&a->via.map.ptr[i].key,
				       &b->via.map.ptr[j].key))
				break;
		if (j == b->via.map.size ||
		    !json_equal(&a->via.map.ptr[i].val, &b->via.map.ptr[j].val))
			return 0;
	}
	return 1;
}

/* Equality as JSON sees it: 1 equals 1.0. */
static int json_equal(const msgpack_object *a, const msgpack_object *b)
{
	if (is_num(a) && is_num(b))
		return num_equal(a, b);
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case MSGPACK_OBJECT_NIL:
		return 1;
	case MSGPACK_OBJECT_BOOLEAN:
		return a->via.boolean == b->via.boolean;
	case MSGPACK_OBJECT_STR:
	case MSGPACK_OBJECT_BIN:
		return a->via.str.size == b->via.str.size &&
		       !memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size);
	case MSGPACK_OBJECT_ARRAY:
		if (a->via.array.size != b->via.array.size)
			return 0;
		for (uint32_t i = 0; i < a->via.array.size; i++)
			if (!json_equal(&a->via.array.ptr[i],
					&b->via.array.ptr[i]))
				return 0;
		return 1;
	case MSGPACK_OBJECT_MAP:
		return map_equal(a, b);
	default:
		return 0;
	}
}

static int check_values(vctx *v, const snode *n, const msgpack_object *o)
{
	char got[64], want[64];

	if (n->constv && !json_equal(n->constv, o)) {
		describe(n->constv, want, sizeof want);
		describe(o, got, sizeof got);
		return pfm_errf(v->e, "expected %s, got %s", want, got);
	}
	if (!n->enumv)
		return 0;
	const msgpack_object *e = n->enumv->via.array.ptr;
	char list[256];
	size_t used = 0;
	for (uint32_t i = 0; i < n->enumv->via.array.size; i++) {
		if (json_equal(&e[i], o))
			return 0;
		describe(&e[i], want, sizeof want);
		int k = snprintf(list + used, sizeof list - used, "%s%s",
				 i ? ", " : "", want);
		if (k > 0 && (size_t)k < sizeof list - used)
			used += k;
	}
	describe(o, got, sizeof got);
	return pfm_errf(v->e, "%s is not one of %s", got, list);
}

static int check_bounds(vctx *v, const snode *n, const msgpack_object *o)
{
	static const char *what[NBOUNDS] = {
		"less than the minimum", "greater than the maximum",
		"not greater than", "not less than"};
	double x;
	char got[64];

	if (!n->has_bound || pfm_obj_f64(o, &x) < 0)
		return 0;
	for (int i = 0; i < NBOUNDS; i++) {
		if (!(n->has_bound & 1u << i))
			continue;
		double b = n->bound[i];
		/* written so that NaN fails every bound */
		int ok = i == B_MIN ? x >= b : i == B_MAX ? x <= b
			 : i == B_XMIN ? x > b : x < b;
		if (!ok) {
			describe(o, got, sizeof got);
			return pfm_errf(v->e, "%s is %s %g", got, what[i], b);
		}
	}
	return 0;
}

/* Check a size against a [min, max] pair of limits. */
static int check_size(vctx *v, const snode *n, uint64_t size, int lo,
		      const char *unit)
{
	if ((n->has_limit & 1u << lo) && size < n->limit[lo])
		return pfm_errf(v->e, "%llu %s, at least %llu needed",
				(unsigned long long)size, unit,
				(unsigned long long)n->limit[lo]);
	if ((n->has_limit & 1u << (lo + 1)) && size > n->limit[lo + 1])
		return pfm_errf(v->e, "%llu %s, at most %llu allowed",
				(unsigned long long)size, unit,
				(unsigned long long)n->limit[lo + 1]);
	return 0;
}

/* JSON Schema counts string length in characters (code points). */
static uint64_t utf8_chars(const char *s, size_t n)
{
	uint64_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xc0) != 0x80;
	return k;
}

static int check(vctx *v, const snode *n, const msgpack_object *o,
		 int depth);

static int check_array(vctx *v, const snode *n, const msgpack_object *o,
		       int depth)
{
	if (check_size(v, n, o->via.array.size, L_MINITEMS, "items") < 0)
		return -1;
	if (!n->items)
		return 0;
	for (uint32_t i = 0; i < o->via.array.size; i++)
		if (check(v, n->items, &o->via.array.ptr[i], depth + 1) < 0)
			return vfail_index(v, i);
	return 0;
}

static const msgpack_object *map_find(const msgpack_object *m,
				      const char *k, size_t n)
{
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *key = &m->via.map.ptr[i].key;
		if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == n &&
		    !memcmp(key->via.str.ptr, k, n))
			return &m->via.map.ptr[i].val;
	}
	return NULL;
}

static int check_required(vctx *v, const snode *n, const msgpack_object *o)
{
	if (!n->required)
		return 0;
	for (uint32_t i = 0; i < n->required->via.array.size; i++) {
		const msgpack_object *r = &n->required->via.array.ptr[i];
		if (!map_find(o, r->via.str.ptr, r->via.str.size))
			return pfm_errf(v->e, "missing required key \"%.*s\"",
					(int)r->via.str.size, r->via.str.ptr);
	}
	return 0;
}

static int check_member(vctx *v, const snode *n, const msgpack_object_kv *kv,
			int depth)
{
	const char *k = kv->key.via.str.ptr;
	size_t len = kv->key.via.str.size;
	const snode *sub = find_prop(n->props, n->nprops, k, len);

	if (!sub)
		sub = n->additional;
	if (!sub)
		return 0;
	if (sub->always < 0)
		return pfm_errf(v->e, "unexpected key \"%.*s\"",
				len > 60 ? 60 : (int)len, k);
	if (check(v, sub, &kv->val, depth + 1) < 0)
		return vfail_key(v, k, len);
	return 0;
}

static int check_object(vctx *v, const snode *n, const msgpack_object *o,
			int depth)
{
	if (check_size(v, n, o->via.map.size, L_MINPROPS, "keys") < 0 ||
	    check_required(v, n, o) < 0)
		return -1;
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR)
			return pfm_errf(v->e, "a key is %s, not a string",
					got_name(&kv->key));
		if (check_member(v, n, kv, depth) < 0)
			return -1;
	}
	return 0;
}

static int check_kind(vctx *v, const snode *n, const msgpack_object *o,
		      int depth)
{
	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		return check_size(v, n, utf8_chars(o->via.str.ptr,
						   o->via.str.size),
				  L_MINLEN, "characters");
	case MSGPACK_OBJECT_ARRAY:
		return check_array(v, n, o, depth);
	case MSGPACK_OBJECT_MAP:
		return check_object(v, n, o, depth);
	default:
		return check_bounds(v, n, o);
	}
}

static int check(vctx *v, const snode *n, const msgpack_object *o, int depth)
{
	if (n->always)
		return n->always > 0 ? 0 : pfm_errf(v->e, "no value allowed");
	if (depth > MAX_CHECK_DEPTH)
		return pfm_errf(v->e, "nested too deep (a $ref loop?)");
	if (n->ref && check(v, n->ref, o, depth + 1) < 0)
		return -1;
	if (check_type(v, n, o) < 0 || check_values(v, n, o) < 0 ||
	    check_kind(v, n, o, depth) < 0)
		return -1;
	if (n->tensor) {
		pfm_tensor t;
		if (pfm_tensor_decode(o, &t, v->e) < 0)
			return -1;
	}
	return 0;
}

/* rgb8 pixels must be exactly height x width x 3 bytes. */
static int check_tile_pixels(vctx *v, const msgpack_object *f)
{
	const msgpack_object *enc = map_find(f, "encoding", 8);
	const msgpack_object *px = map_find(f, "pixels", 6);
	const msgpack_object *w = map_find(f, "width", 5);
	const msgpack_object *h = map_find(f, "height", 6);
	int64_t wi, hi;

	if (!enc || !is_str(enc, "rgb8") || !px ||
	    px->type != MSGPACK_OBJECT_BIN || !w || !h ||
	    pfm_obj_i64(w, &wi) < 0 || pfm_obj_i64(h, &hi) < 0)
		return 0; /* the schema has already said what is wrong */
	if (wi > 0 && hi > 0 && wi <= UINT32_MAX / 3 / hi &&
	    (uint64_t)wi * hi * 3 == px->via.bin.size)
		return 0;
	pfm_errf(v->e, "rgb8 pixels need height*width*3 = %lld*%lld*3 bytes, "
		 "got %u", (long long)hi, (long long)wi,
		 (unsigned)px->via.bin.size);
	return vfail_key(v, "pixels", 6);
}

int pfm_schemas_check(const pfm_schemas *s, const msgpack_object *frame,
		      pfm_err *e)
{
	vctx v = {.e = e};
	const msgpack_object *t;
	const sdoc *d;

	if (frame->type != MSGPACK_OBJECT_MAP)
		return pfm_errf(e, "frame is %s, not a map", got_name(frame));
	t = map_find(frame, "type", 4);
	if (!t || t->type != MSGPACK_OBJECT_STR)
		return pfm_errf(e, "frame has no \"type\" string");
	d = find_doc(s, t->via.str.ptr, t->via.str.size);
	if (!d)
		return pfm_errf(e, "no schema for type \"%.*s\"",
				(int)(t->via.str.size > 60 ? 60
							   : t->via.str.size),
				t->via.str.ptr);
	if (check(&v, d->node, frame, 0) < 0 ||
	    (!strcmp(d->name, "tile") && check_tile_pixels(&v, frame) < 0)) {
		if (v.path[0])
			return pfm_err_prefix(e, "%s: %s", d->name, v.path);
		return pfm_err_prefix(e, "%s", d->name);
	}
	return 0;
}
