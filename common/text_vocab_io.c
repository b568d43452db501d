/* text_vocab_io.c: the vocabulary's JSON and text forms (text_tok.h). */
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "json.h"
#include "text_vocab_int.h"

#define VOCAB_FORMAT "pathfm-vocab"
#define VOCAB_VERSION 1

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

char *pfm_vocab_to_json(const pfm_vocab *v, pfm_err *e)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	const char *rule = pfm_clean_rule_name(v->rule);
	msgpack_pack_map(&pk, 5);
	pack_str(&pk, "format", 6);
	pack_str(&pk, VOCAB_FORMAT, strlen(VOCAB_FORMAT));
	pack_str(&pk, "version", 7);
	msgpack_pack_int(&pk, VOCAB_VERSION);
	pack_str(&pk, "clean", 5);
	pack_str(&pk, rule, strlen(rule));
	pack_str(&pk, "min_count", 9);
	msgpack_pack_long(&pk, v->min_count);
	pack_str(&pk, "tokens", 6);
	msgpack_pack_array(&pk, (size_t)v->map.n);
	for (int i = 0; i < v->map.n; i++)
		pack_str(&pk, v->map.ent[i].str, v->map.ent[i].len);
	msgpack_zone z;
	msgpack_zone_init(&z, 4096);
	msgpack_object o;
	char *txt = NULL;
	size_t tn = 0;
	FILE *f = NULL;
	if (!sb.data || msgpack_unpack(sb.data, sb.size, NULL, &z, &o) != MSGPACK_UNPACK_SUCCESS ||
	    !(f = open_memstream(&txt, &tn))) {
		pfm_errf(e, "vocabulary to JSON: out of memory");
	} else if (pfm_json_write(f, &o, 1, e)) {
		pfm_err_prefix(e, "vocabulary to JSON");
		fclose(f);
		free(txt);
		txt = NULL;
		f = NULL;
	}
	if (f && fclose(f)) {
		pfm_errf(e, "vocabulary to JSON: out of memory");
		free(txt);
		txt = NULL;
	}
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
	return txt;
}

/* The vocabulary of the parsed JSON document o. */
static pfm_vocab *vocab_of_object(const msgpack_object *o, pfm_err *e)
{
	if (o->type != MSGPACK_OBJECT_MAP) {
		pfm_errf(e, "not a JSON object");
		return NULL;
	}
	const msgpack_object *fmt = pfm_map_get(o, "format"), *ver = pfm_map_get(o, "version"),
			     *cl = pfm_map_get(o, "clean"), *mc = pfm_map_get(o, "min_count"),
			     *tk = pfm_map_get(o, "tokens");
	int64_t version, min_count;
	pfm_clean_rule rule;
	char rname[32];
	if (!fmt || !pfm_obj_streq(fmt, VOCAB_FORMAT)) {
		pfm_errf(e, "\"format\" is not \"%s\"", VOCAB_FORMAT);
		return NULL;
	}
	if (!ver || pfm_obj_i64(ver, &version) || version != VOCAB_VERSION) {
		pfm_errf(e, "\"version\" is not %d", VOCAB_VERSION);
		return NULL;
	}
	if (!cl || cl->type != MSGPACK_OBJECT_STR || cl->via.str.size >= sizeof rname) {
		pfm_errf(e, "\"clean\" is missing or not a rule name");
		return NULL;
	}
	memcpy(rname, cl->via.str.ptr, cl->via.str.size);
	rname[cl->via.str.size] = 0;
	if (pfm_clean_rule_parse(rname, &rule, e))
		return NULL;
	if (!mc || pfm_obj_i64(mc, &min_count)) {
		pfm_errf(e, "\"min_count\" is missing or not an integer");
		return NULL;
	}
	if (!tk || tk->type != MSGPACK_OBJECT_ARRAY) {
		pfm_errf(e, "\"tokens\" is missing or not an array");
		return NULL;
	}
	size_t n = tk->via.array.size;
	const char **tok = malloc((n + 1) * sizeof *tok);
	size_t *len = malloc((n + 1) * sizeof *len);
	pfm_vocab *v = NULL;
	if (!tok || !len) {
		pfm_errf(e, "out of memory (%zu tokens)", n);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const msgpack_object *t = &tk->via.array.ptr[i];
		if (t->type != MSGPACK_OBJECT_STR) {
			pfm_errf(e, "token %zu is not a string", i);
			goto out;
		}
		tok[i] = t->via.str.ptr;
		len[i] = t->via.str.size;
	}
	v = pfm_vocab_of_tokens(tok, len, n, rule, (long)min_count, 0, e);
out:
	free(tok);
	free(len);
	return v;
}

pfm_vocab *pfm_vocab_from_json(const char *json, size_t n, pfm_err *e)
{
	msgpack_sbuffer sb;
	msgpack_zone z;
	msgpack_object o;
	msgpack_sbuffer_init(&sb);
	msgpack_zone_init(&z, 4096);
	pfm_vocab *v = NULL;
	if (!pfm_json_to_object(json, n, &sb, &z, &o, e))
		v = vocab_of_object(&o, e);
	if (!v)
		pfm_err_prefix(e, "vocabulary JSON");
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
	return v;
}

int pfm_vocab_save_text(const pfm_vocab *v, const char *path, pfm_err *e)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return pfm_errf(e, "%s: path too long", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return pfm_errf(e, "%s: %s", tmp, strerror(errno));
	for (int i = 0; i < v->map.n; i++) {
		fwrite(v->map.ent[i].str, 1, v->map.ent[i].len, f);
		fputc('\n', f);
	}
	int bad = ferror(f);
	if (fclose(f) || bad || rename(tmp, path)) {
		int err = errno;
		unlink(tmp);
		return pfm_errf(e, "%s: %s", path, strerror(err));
	}
	return 0;
}

pfm_vocab *pfm_vocab_load_text(const char *path, pfm_clean_rule rule, pfm_err *e)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		pfm_errf(e, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = NULL, **tok = NULL;
	size_t n = 0, len = 0, cap = 0, *tlen = NULL;
	pfm_vocab *v = NULL;
	/* The whole file, then lines. */
	for (;;) {
		if (len + 65536 > cap) {
			char *p = realloc(buf, cap = cap * 2 + 65536);
			if (!p) {
				pfm_errf(e, "%s: out of memory", path);
				goto out;
			}
			buf = p;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (!got)
			break;
	}
	if (ferror(f)) {
		pfm_errf(e, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (len && buf[len - 1] != '\n') {
		pfm_errf(e, "%s: the last line has no newline (cut short?)", path);
		goto out;
	}
	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\n';
	tok = malloc((n + 1) * sizeof *tok);
	tlen = malloc((n + 1) * sizeof *tlen);
	if (!tok || !tlen) {
		pfm_errf(e, "%s: out of memory (%zu lines)", path, n);
		goto out;
	}
	for (size_t i = 0, k = 0; i < len; k++) {
		char *nl = memchr(buf + i, '\n', len - i);
		tok[k] = buf + i;
		tlen[k] = (size_t)(nl - (buf + i));
		i += tlen[k] + 1;
	}
	v = pfm_vocab_of_tokens((const char *const *)tok, tlen, n, rule, 0, 1, e);
	if (!v)
		pfm_err_prefix(e, "%s", path);
out:
	fclose(f);
	free(buf);
	free(tok);
	free(tlen);
	return v;
}
