/* text_hash.h: a string -> id table with counts, for the tokenizer's
 * word counts and vocabulary and for pfm_wordtab (text_metrics.h). Ids
 * are given in insertion order from 0. */
#ifndef PFM_TEXT_HASH_H
#define PFM_TEXT_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct {
	char *str;     /* NUL-terminated copy (the map owns it) */
	uint32_t len;  /* its length */
	uint32_t hash;
	long count;    /* times pfm_strmap_add saw it */
} pfm_strent;

typedef struct {
	pfm_strent *ent; /* [n], by id */
	int n;
	size_t cap;     /* bytes at ent */
	int *slot;      /* [nslot] id + 1, 0 = empty; nslot a power of 2 */
	size_t nslot;
	struct pfm_strblock *blocks; /* where the strings are */
} pfm_strmap;

/* The id of s[0..len), or -1. */
int pfm_strmap_find(const pfm_strmap *m, const char *s, size_t len);
/* The id of s[0..len), added when new; counts it. -1 on error (out of
 * memory, a string over 1 GiB, more than 2^30 strings). */
int pfm_strmap_add(pfm_strmap *m, const char *s, size_t len, pfm_err *e);
void pfm_strmap_free(pfm_strmap *m);

#endif
