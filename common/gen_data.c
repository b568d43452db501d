/* gen_data.c: report and question files in their published layouts. */
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "gen_data.h"
#include "json.h"

static char *slurp(const char *path, size_t *n, pfm_err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return pfm_errf(e, "%s: %s", path, strerror(errno)), NULL;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	for (size_t got; buf && (got = fread(buf + len, 1, cap - len, f)) > 0;) {
		len += got;
		if (len == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	int bad = !buf || ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return pfm_errf(e, "%s: %s", path, buf ? "read error" : "out of memory"), NULL;
	}
	*n = len;
	return buf;
}

static pfm_gen_item *add_item(pfm_gen_set *s, pfm_err *e)
{
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 64;
		pfm_gen_item *p = realloc(s->items, sizeof *p * cap);
		if (!p)
			return pfm_errf(e, "out of memory"), NULL;
		s->items = p, s->cap = cap;
	}
	pfm_gen_item *it = &s->items[s->n++];
	memset(it, 0, sizeof *it);
	it->bag = -1;
	it->split = PFM_SPLIT_NONE;
	it->type = -1;
	return it;
}

static int split_of(const char *name, size_t n)
{
	static const char *const names[] = {"train", "val", "test"};
	for (int k = 0; k < 3; k++)
		if (strlen(names[k]) == n && !memcmp(name, names[k], n))
			return k;
	return PFM_SPLIT_NONE;
}

/* A string field, or NULL when absent; *bad when present but not a
 * string. */
static const msgpack_object *field(const msgpack_object *o, const char *k1,
				   const char *k2)
{
	const msgpack_object *v = pfm_map_get(o, k1);
	return v ? v : k2 ? pfm_map_get(o, k2) : NULL;
}

static int get_text(const msgpack_object *o, const char *k1, const char *k2,
		    int required, char **out, const char *where, pfm_err *e)
{
	const msgpack_object *v = field(o, k1, k2);
	*out = NULL;
	if (!v) {
		if (required)
			return pfm_errf(e, "%s: no \"%s\"", where, k1);
		return 0;
	}
	if (v->type != MSGPACK_OBJECT_STR)
		return pfm_errf(e, "%s: \"%s\" is not a string", where, k1);
	const char *p = v->via.str.ptr;
	size_t n = v->via.str.size;
	size_t i = 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	if (i == n)
		return pfm_errf(e, "%s: empty \"%s\"", where, k1);
	if (memchr(p, 0, n))
		return pfm_errf(e, "%s: \"%s\" holds a NUL byte", where, k1);
	if (!(*out = strndup(p, n)))
		return pfm_errf(e, "out of memory");
	return 0;
}

int pfm_gen_read_annotation(pfm_gen_set *s, const char *path, pfm_err *e)
{
	size_t n;
	char *text = slurp(path, &n, e);
	if (!text)
		return -1;
	msgpack_sbuffer sb;
	msgpack_zone z;
	msgpack_sbuffer_init(&sb);
	msgpack_zone_init(&z, 4096);
	msgpack_object root;
	int rc = pfm_json_to_object(text, n, &sb, &z, &root, e);
	if (rc)
		pfm_err_prefix(e, "%s", path);
	else if (root.type != MSGPACK_OBJECT_MAP)
		rc = pfm_errf(e, "%s: not a JSON object with train, val and test lists", path);
	for (uint32_t k = 0; !rc && k < root.via.map.size; k++) {
		const msgpack_object *key = &root.via.map.ptr[k].key, *v = &root.via.map.ptr[k].val;
		int sp = split_of(key->via.str.ptr, key->via.str.size);
		if (sp == PFM_SPLIT_NONE) {
			rc = pfm_errf(e, "%s: unknown split \"%.*s\" (train, val or test)", path,
				      (int)key->via.str.size, key->via.str.ptr);
			break;
		}
		if (v->type != MSGPACK_OBJECT_ARRAY) {
			rc = pfm_errf(e, "%s: \"%.*s\" is not a list", path,
				      (int)key->via.str.size, key->via.str.ptr);
			break;
		}
		for (uint32_t i = 0; !rc && i < v->via.array.size; i++) {
			const msgpack_object *o = &v->via.array.ptr[i];
			char where[96];
			snprintf(where, sizeof where, "%s: %.*s[%u]", path, (int)key->via.str.size,
				 key->via.str.ptr, i);
			if (o->type != MSGPACK_OBJECT_MAP) {
				rc = pfm_errf(e, "%s: not an object", where);
				break;
			}
			pfm_gen_item *it = add_item(s, e);
			if (!it) {
				rc = -1;
				break;
			}
			snprintf(it->where, sizeof it->where, "%s", where);
			it->split = sp;
			rc = get_text(o, "id", NULL, 1, &it->id, where, e) ||
			     get_text(o, "report", NULL, 1, &it->text, where, e) ? -1 : 0;
		}
	}
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
	free(text);
	return rc;
}

int pfm_gen_read_captions(pfm_gen_set *s, const char *path, pfm_err *e)
{
	pfm_csv t;
	if (pfm_csv_read(&t, path, e))
		return -1;
	int ci = pfm_csv_col(&t, "id"), ct = pfm_csv_col(&t, "text");
	int cs = pfm_csv_col(&t, "subtype");
	int rc = 0;
	if (ci < 0 || ct < 0)
		rc = pfm_errf(e, "%s: no %s column (PatchGastricADC22's id,subtype,text)", path,
			      ci < 0 ? "id" : "text");
	for (int r = 0; !rc && r < t.nrows; r++) {
		pfm_gen_item *it = add_item(s, e);
		if (!it) {
			rc = -1;
			break;
		}
		snprintf(it->where, sizeof it->where, "%s:%d", path, t.line[r]);
		const char *id = pfm_csv_get(&t, r, ci), *tx = pfm_csv_get(&t, r, ct);
		if (!*id || !*tx) {
			rc = pfm_errf(e, "%s: empty %s", it->where, *id ? "text" : "id");
			break;
		}
		it->id = strdup(id);
		it->text = strdup(tx);
		it->stratum = cs >= 0 ? strdup(pfm_csv_get(&t, r, cs)) : NULL;
		if (!it->id || !it->text || (cs >= 0 && !it->stratum))
			rc = pfm_errf(e, "out of memory");
	}
	pfm_csv_free(&t);
	return rc;
}

/* yes/no answers are closed questions unless the file says otherwise */
static int is_yes_no(const char *a)
{
	return !strcasecmp(a, "yes") || !strcasecmp(a, "no");
}

/* One question object (either layout's field names). */
static int qa_item(pfm_gen_set *s, const msgpack_object *o, int file_split,
		   const char *where, pfm_err *e)
{
	if (o->type != MSGPACK_OBJECT_MAP)
		return pfm_errf(e, "%s: not an object", where);
	pfm_gen_item *it = add_item(s, e);
	if (!it)
		return -1;
	snprintf(it->where, sizeof it->where, "%s", where);
	char *sp = NULL, *type = NULL;
	if (get_text(o, "image", "Id", 1, &it->id, where, e) ||
	    get_text(o, "question", "Question", 1, &it->question, where, e) ||
	    get_text(o, "answer", "Answer", 1, &it->text, where, e) ||
	    get_text(o, "split", NULL, 0, &sp, where, e) ||
	    get_text(o, "type", NULL, 0, &type, where, e))
		return free(sp), free(type), -1;
	int rc = 0;
	it->split = file_split;
	if (sp && (it->split = split_of(sp, strlen(sp))) == PFM_SPLIT_NONE)
		rc = pfm_errf(e, "%s: unknown split \"%s\" (train, val or test)", where, sp);
	if (!rc && type) {
		if (!strcmp(type, "closed"))
			it->type = PFM_GEN_CLOSED;
		else if (!strcmp(type, "open"))
			it->type = PFM_GEN_OPEN;
		else
			rc = pfm_errf(e, "%s: unknown type \"%s\" (closed or open)", where, type);
	}
	const msgpack_object *ch = field(o, "Choice", "choices");
	if (!rc && ch) {
		if (ch->type != MSGPACK_OBJECT_ARRAY || !ch->via.array.size)
			rc = pfm_errf(e, "%s: \"Choice\" is not a list of strings", where);
		else if (!(it->choices = calloc(ch->via.array.size, sizeof *it->choices)))
			rc = pfm_errf(e, "out of memory");
		for (uint32_t i = 0; !rc && i < ch->via.array.size; i++) {
			const msgpack_object *c = &ch->via.array.ptr[i];
			if (c->type != MSGPACK_OBJECT_STR)
				rc = pfm_errf(e, "%s: choice %u is not a string", where, i);
			else if (!(it->choices[it->nchoices++] = strndup(c->via.str.ptr, c->via.str.size)))
				rc = pfm_errf(e, "out of memory");
		}
	}
	/* a multiple-choice question is closed: the answer is one of few */
	if (!rc && it->type < 0)
		it->type = it->choices || is_yes_no(it->text) ? PFM_GEN_CLOSED : PFM_GEN_OPEN;
	free(sp);
	free(type);
	return rc;
}

/* WSI-VQA names its files WsiVQA_train.json etc. */
static int split_from_name(const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	const char *u = strrchr(b, '_'), *dot = strrchr(b, '.');
	if (!u || !dot || dot < u)
		return PFM_SPLIT_NONE;
	return split_of(u + 1, (size_t)(dot - u - 1));
}

int pfm_gen_read_qa(pfm_gen_set *s, const char *path, pfm_err *e)
{
	size_t n;
	char *text = slurp(path, &n, e);
	if (!text)
		return -1;
	size_t i = 0;
	while (i < n && strchr(" \t\r\n", text[i]))
		i++;
	int array = i < n && text[i] == '[', rc = 0, line = 1;
	msgpack_sbuffer sb;
	msgpack_zone z;
	msgpack_sbuffer_init(&sb);
	msgpack_zone_init(&z, 4096);
	if (array) {
		msgpack_object root;
		if (pfm_json_to_object(text, n, &sb, &z, &root, e))
			rc = pfm_err_prefix(e, "%s", path);
		int fs = split_from_name(path);
		for (uint32_t k = 0; !rc && k < root.via.array.size; k++) {
			char where[96];
			snprintf(where, sizeof where, "%s: item %u", path, k);
			rc = qa_item(s, &root.via.array.ptr[k], fs, where, e);
		}
	}
	for (size_t p = 0; !array && !rc && p < n; line++) {
		char *nl = memchr(text + p, '\n', n - p);
		size_t end = nl ? (size_t)(nl - text) : n, q = p;
		while (q < end && strchr(" \t\r", text[q]))
			q++;
		if (q < end) {
			char where[96];
			snprintf(where, sizeof where, "%s:%d", path, line);
			msgpack_object o;
			msgpack_sbuffer_clear(&sb);
			msgpack_zone_clear(&z);
			if (pfm_json_to_object(text + q, end - q, &sb, &z, &o, e))
				rc = pfm_err_prefix(e, "%s", where);
			else
				rc = qa_item(s, &o, PFM_SPLIT_NONE, where, e);
		}
		p = end + 1;
	}
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
	free(text);
	return rc;
}
