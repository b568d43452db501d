/* text_vocab.c: building a vocabulary from training texts, encoding and
 * decoding (text_tok.h). */
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "text_utf8.h"
#include "text_vocab_int.h"

const char *const pfm_tok_special[PFM_TOK_FIRST_WORD] = {"<pad>", "<bos>", "<eos>", "<unk>"};

struct pfm_vocab_counter {
	pfm_clean_rule rule;
	pfm_strmap words;
};

pfm_vocab_counter *pfm_vocab_counter_new(pfm_clean_rule rule, pfm_err *e)
{
	if (!pfm_clean_rule_name(rule)) {
		pfm_errf(e, "unknown cleaning rule %d", (int)rule);
		return NULL;
	}
	pfm_vocab_counter *c = calloc(1, sizeof *c);
	if (!c) {
		pfm_errf(e, "out of memory");
		return NULL;
	}
	c->rule = rule;
	return c;
}

void pfm_vocab_counter_free(pfm_vocab_counter *c)
{
	if (!c)
		return;
	pfm_strmap_free(&c->words);
	free(c);
}

int pfm_vocab_counter_add(pfm_vocab_counter *c, const char *text, size_t n, pfm_err *e)
{
	char *w;
	if (pfm_text_clean(&w, NULL, text, n, c->rule, e))
		return -1;
	int rc = 0;
	/* Cleaned words are separated by single spaces. */
	for (char *p = w, *q; !rc && *p; p = *q ? q + 1 : q) {
		q = strchr(p, ' ');
		if (!q)
			q = p + strlen(p);
		rc = pfm_strmap_add(&c->words, p, (size_t)(q - p), e) < 0 ? -1 : 0;
	}
	free(w);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

pfm_vocab *pfm_vocab_counter_finish(const pfm_vocab_counter *c, long min_count, pfm_err *e)
{
	const pfm_strmap *m = &c->words;
	size_t n = PFM_TOK_FIRST_WORD;
	const char **tok = malloc((m->n + n) * sizeof *tok);
	size_t *len = malloc((m->n + n) * sizeof *len);
	pfm_vocab *v = NULL;
	if (!tok || !len) {
		pfm_errf(e, "out of memory (vocabulary of %d words)", m->n);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		tok[i] = pfm_tok_special[i];
	for (int i = 0; i < m->n; i++)
		if (m->ent[i].count >= min_count)
			tok[n++] = m->ent[i].str;
	/* Byte order of valid UTF-8 is code-point order: R2Gen's sort. */
	qsort(tok + PFM_TOK_FIRST_WORD, n - PFM_TOK_FIRST_WORD, sizeof *tok, cmp_str);
	for (size_t i = 0; i < n; i++)
		len[i] = strlen(tok[i]);
	v = pfm_vocab_of_tokens(tok, len, n, c->rule, min_count, 0, e);
out:
	free(tok);
	free(len);
	return v;
}

pfm_vocab *pfm_vocab_of_tokens(const char *const *tok, const size_t *len, size_t n,
			       pfm_clean_rule rule, long min_count, int lines, pfm_err *e)
{
	/* errors name "token i", or "line i + 1" for the text form */
	const char *unit = lines ? "line" : "token";
	size_t at = lines ? 1 : 0;
	if (!pfm_clean_rule_name(rule)) {
		pfm_errf(e, "unknown cleaning rule %d", (int)rule);
		return NULL;
	}
	if (n < PFM_TOK_FIRST_WORD) {
		pfm_errf(e, "%zu %ss: the four special tokens are missing", n, unit);
		return NULL;
	}
	pfm_vocab *v = calloc(1, sizeof *v);
	if (!v) {
		pfm_errf(e, "out of memory");
		return NULL;
	}
	v->rule = rule;
	v->min_count = min_count;
	for (size_t i = 0; i < n; i++) {
		const char *t = tok[i];
		size_t l = len[i], k;
		if (i < PFM_TOK_FIRST_WORD &&
		    (l != strlen(pfm_tok_special[i]) || memcmp(t, pfm_tok_special[i], l))) {
			pfm_errf(e, "%s %zu is not %s", unit, i + at, pfm_tok_special[i]);
			goto fail;
		}
		if (!l) {
			pfm_errf(e, "%s %zu is empty", unit, i + at);
			goto fail;
		}
		if (!pfm_utf8_valid(t, l)) {
			pfm_errf(e, "%s %zu is not valid UTF-8 (or holds a NUL)", unit, i + at);
			goto fail;
		}
		for (size_t j = 0; j < l; j++)
			if ((k = pfm_utf8_space(t + j, l - j))) {
				pfm_errf(e, "%s %zu holds whitespace at byte %zu", unit, i + at, j);
				goto fail;
			}
		int id = pfm_strmap_add(&v->map, t, l, e);
		if (id < 0)
			goto fail;
		if ((size_t)id != i) {
			pfm_errf(e, "%s %zu repeats %s %zu ('%.*s')", unit, i + at, unit, id + at,
				 l > 64 ? 64 : (int)l, t);
			goto fail;
		}
	}
	return v;
fail:
	pfm_err_prefix(e, "vocabulary");
	pfm_vocab_free(v);
	return NULL;
}

void pfm_vocab_free(pfm_vocab *v)
{
	if (!v)
		return;
	pfm_strmap_free(&v->map);
	free(v);
}

pfm_clean_rule pfm_vocab_rule(const pfm_vocab *v)
{
	return v->rule;
}

long pfm_vocab_min_count(const pfm_vocab *v)
{
	return v->min_count;
}

int pfm_vocab_size(const pfm_vocab *v)
{
	return v->map.n;
}

const char *pfm_vocab_token(const pfm_vocab *v, int id)
{
	return id >= 0 && id < v->map.n ? v->map.ent[id].str : NULL;
}

int pfm_vocab_lookup(const pfm_vocab *v, const char *word, size_t n)
{
	int id = pfm_strmap_find(&v->map, word, n);
	return id < 0 ? PFM_TOK_UNK : id;
}

int pfm_vocab_encode(const pfm_vocab *v, const char *text, size_t n, int32_t **ids,
		     size_t *nids, pfm_err *e)
{
	*ids = NULL;
	*nids = 0;
	char *w;
	size_t nw;
	if (pfm_text_clean(&w, &nw, text, n, v->rule, e))
		return -1;
	int32_t *out = malloc((nw + 2) * sizeof *out);
	if (!out) {
		free(w);
		return pfm_errf(e, "out of memory (%zu words)", nw);
	}
	size_t k = 0;
	out[k++] = PFM_TOK_BOS;
	for (char *p = w, *q; *p; p = *q ? q + 1 : q) {
		q = strchr(p, ' ');
		if (!q)
			q = p + strlen(p);
		out[k++] = pfm_vocab_lookup(v, p, (size_t)(q - p));
	}
	out[k++] = PFM_TOK_EOS;
	free(w);
	*ids = out;
	*nids = k;
	return 0;
}

int pfm_vocab_decode(const pfm_vocab *v, const int32_t *ids, size_t n, char **text,
		     pfm_err *e)
{
	char *out = NULL;
	size_t len = 0, cap = 0;
	*text = NULL;
	if (pfm_grow(&out, &cap, 1))
		return pfm_errf(e, "out of memory");
	out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		int32_t id = ids[i];
		if (id < 0 || id >= v->map.n) {
			free(out);
			return pfm_errf(e, "decoding: id %ld at position %zu is outside the "
					   "vocabulary of %d", (long)id, i, v->map.n);
		}
		if (id == PFM_TOK_EOS || id == PFM_TOK_PAD)
			break;
		if (id == PFM_TOK_BOS)
			continue;
		size_t l = v->map.ent[id].len;
		if (pfm_grow(&out, &cap, len + l + 2)) {
			free(out);
			return pfm_errf(e, "out of memory (decoded text of %zu bytes)", len);
		}
		if (len)
			out[len++] = ' ';
		memcpy(out + len, v->map.ent[id].str, l + 1);
		len += l;
	}
	*text = out;
	return 0;
}
