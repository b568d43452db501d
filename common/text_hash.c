/* text_hash.c: open addressing over FNV-1a hashes; see text_hash.h. */
#include "text_hash.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "text_metrics.h"
#include "text_utf8.h"

static uint32_t fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* The strings live in blocks of at least 64 KiB that never move, not in
 * a malloc each: a corpus has millions of distinct n-grams. */
struct pfm_strblock {
	struct pfm_strblock *next;
	size_t used, cap;
	char data[];
};

/* A NUL-terminated copy of s[0..len) in m's blocks; NULL out of memory. */
static char *store(pfm_strmap *m, const char *s, size_t len)
{
	struct pfm_strblock *b = m->blocks;
	if (!b || b->cap - b->used < len + 1) {
		size_t cap = len + 1 > 65536 ? len + 1 : 65536;
		if (!(b = malloc(sizeof *b + cap)))
			return NULL;
		*b = (struct pfm_strblock){m->blocks, 0, cap};
		m->blocks = b;
	}
	char *p = b->data + b->used;
	memcpy(p, s, len);
	p[len] = 0;
	b->used += len + 1;
	return p;
}

/* The slot holding s, or the empty slot where it would go. */
static size_t probe(const pfm_strmap *m, const char *s, size_t len, uint32_t h)
{
	size_t mask = m->nslot - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		int id = m->slot[i] - 1;
		if (id < 0 || (m->ent[id].hash == h && m->ent[id].len == len &&
			       !memcmp(m->ent[id].str, s, len)))
			return i;
	}
}

int pfm_strmap_find(const pfm_strmap *m, const char *s, size_t len)
{
	if (!m->nslot)
		return -1;
	return m->slot[probe(m, s, len, fnv1a(s, len))] - 1;
}

static int rehash(pfm_strmap *m, pfm_err *e)
{
	size_t ns = m->nslot ? m->nslot * 2 : 64;
	int *slot = calloc(ns, sizeof *slot);
	if (!slot)
		return pfm_errf(e, "out of memory (word table of %zu slots)", ns);
	free(m->slot);
	m->slot = slot;
	m->nslot = ns;
	for (int id = 0; id < m->n; id++)
		m->slot[probe(m, m->ent[id].str, m->ent[id].len, m->ent[id].hash)] = id + 1;
	return 0;
}

int pfm_strmap_add(pfm_strmap *m, const char *s, size_t len, pfm_err *e)
{
	if (len > (1u << 30))
		return pfm_errf(e, "a word of %zu bytes (the limit is 1 GiB)", len);
	if (m->n >= (1 << 30))
		return pfm_errf(e, "more than 2^30 distinct words");
	uint32_t h = fnv1a(s, len);
	/* Keep the load under 1/2 so probes stay short. */
	if (((size_t)m->n + 1) * 2 > m->nslot && rehash(m, e))
		return -1;
	size_t i = probe(m, s, len, h);
	int id = m->slot[i] - 1;
	if (id >= 0) {
		m->ent[id].count++;
		return id;
	}
	char *copy;
	if (pfm_grow(&m->ent, &m->cap, ((size_t)m->n + 1) * sizeof *m->ent) ||
	    !(copy = store(m, s, len)))
		return pfm_errf(e, "out of memory (word table of %d words)", m->n + 1);
	id = m->n++;
	m->ent[id] = (pfm_strent){copy, (uint32_t)len, h, 1};
	m->slot[i] = id + 1;
	return id;
}

void pfm_strmap_free(pfm_strmap *m)
{
	for (struct pfm_strblock *b = m->blocks, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	free(m->ent);
	free(m->slot);
	memset(m, 0, sizeof *m);
}

/* pfm_wordtab (text_metrics.h) is a strmap under its public name. */
struct pfm_wordtab {
	pfm_strmap m;
};

pfm_wordtab *pfm_wordtab_new(pfm_err *e)
{
	pfm_wordtab *t = calloc(1, sizeof *t);
	if (!t)
		pfm_errf(e, "out of memory");
	return t;
}

void pfm_wordtab_free(pfm_wordtab *t)
{
	if (!t)
		return;
	pfm_strmap_free(&t->m);
	free(t);
}

int pfm_wordtab_seq(pfm_wordtab *t, const char *text, size_t n,
		    int32_t **ids, int *len, pfm_err *e)
{
	*ids = NULL;
	*len = 0;
	size_t cap = 0;
	for (size_t i = 0; i < n;) {
		while (i < n && pfm_ascii_space((unsigned char)text[i]))
			i++;
		size_t s = i;
		while (i < n && !pfm_ascii_space((unsigned char)text[i]))
			i++;
		if (i == s)
			break;
		int id = pfm_strmap_add(&t->m, text + s, i - s, e);
		if (id < 0)
			goto fail;
		if ((size_t)*len == cap) {
			if (*len > INT32_MAX / 2) {
				pfm_errf(e, "over 2^30 words in one text");
				goto fail;
			}
			cap = cap ? cap * 2 : 16;
			int32_t *p = realloc(*ids, cap * sizeof *p);
			if (!p) {
				pfm_errf(e, "out of memory (%zu words)", cap);
				goto fail;
			}
			*ids = p;
		}
		(*ids)[(*len)++] = id;
	}
	return 0;
fail:
	free(*ids);
	*ids = NULL;
	*len = 0;
	return -1;
}
