/* gen_split.c: splits of the generative tasks' items, and their join
 * with the bags of embeddings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "gen_data.h"
#include "rng.h"

int pfm_gen_splits_csv(pfm_gen_set *s, const char *path, pfm_err *e)
{
	pfm_csv t;
	if (pfm_csv_read(&t, path, e))
		return -1;
	int ci = pfm_csv_col(&t, "id"), cs = pfm_csv_col(&t, "split"), rc = 0;
	if (ci < 0)
		ci = pfm_csv_col(&t, "slide_id");
	if (ci < 0 || cs < 0)
		rc = pfm_errf(e, "%s: columns id (or slide_id) and split wanted", path);
	for (int i = 0; !rc && i < s->n; i++) {
		pfm_gen_item *it = &s->items[i];
		int r = 0;
		while (r < t.nrows && strcmp(pfm_csv_get(&t, r, ci), it->id))
			r++;
		if (r == t.nrows) {
			rc = pfm_errf(e, "%s: no split for %s (%s)", path, it->id, it->where);
			break;
		}
		const char *v = pfm_csv_get(&t, r, cs);
		it->split = !strcmp(v, "train") ? PFM_SPLIT_TRAIN : !strcmp(v, "val") ? PFM_SPLIT_VAL
			    : !strcmp(v, "test") ? PFM_SPLIT_TEST : PFM_SPLIT_NONE;
		if (it->split == PFM_SPLIT_NONE)
			rc = pfm_errf(e, "%s:%d: unknown split \"%s\" (train, val or test)", path,
				      t.line[r], v);
	}
	pfm_csv_free(&t);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void pfm_gen_splits_ratio(pfm_gen_set *s, const double ratio[3], uint64_t seed)
{
	/* distinct (stratum, id) pairs of the unsplit items, in name order
	 * so that the file's order does not matter */
	char **keys = malloc(sizeof *keys * (s->n + 1));
	int nk = 0;
	for (int i = 0; keys && i < s->n; i++) {
		pfm_gen_item *it = &s->items[i];
		if (it->split != PFM_SPLIT_NONE)
			continue;
		const char *st = it->stratum ? it->stratum : "";
		size_t n = strlen(st) + strlen(it->id) + 2;
		if (!(keys[nk] = malloc(n)))
			break;
		snprintf(keys[nk++], n, "%s%c%s", st, 1, it->id);
	}
	if (!keys)
		return;
	qsort(keys, nk, sizeof *keys, by_name);
	int u = 0;
	for (int i = 0; i < nk; i++)
		if (!u || strcmp(keys[i], keys[u - 1]))
			keys[u++] = keys[i];
		else
			free(keys[i]);
	double tot = ratio[0] + ratio[1] + ratio[2];
	pfm_rng r = pfm_rng_seed(seed, 7);
	int *idx = malloc(sizeof *idx * (u + 1)), *part = malloc(sizeof *part * (u + 1));
	for (int a = 0; idx && part && a < u;) {
		int b = a; /* one stratum: keys[a..b) */
		size_t sl = strchr(keys[a], 1) - keys[a];
		while (b < u && !strncmp(keys[b], keys[a], sl + 1))
			b++;
		int m = b - a;
		for (int i = 0; i < m; i++)
			idx[i] = a + i;
		pfm_rng_shuffle(&r, idx, m);
		int c1 = (int)(m * ratio[0] / tot + 0.5), c2 = (int)(m * (ratio[0] + ratio[1]) / tot + 0.5);
		for (int i = 0; i < m; i++)
			part[idx[i]] = i < c1 ? PFM_SPLIT_TRAIN : i < c2 ? PFM_SPLIT_VAL : PFM_SPLIT_TEST;
		a = b;
	}
	for (int i = 0; idx && part && i < s->n; i++) {
		pfm_gen_item *it = &s->items[i];
		if (it->split != PFM_SPLIT_NONE)
			continue;
		const char *st = it->stratum ? it->stratum : "";
		for (int k = 0; k < u; k++) {
			const char *sep = strchr(keys[k], 1);
			if ((size_t)(sep - keys[k]) == strlen(st) && !strncmp(keys[k], st, sep - keys[k]) &&
			    !strcmp(sep + 1, it->id)) {
				it->split = part[k];
				break;
			}
		}
	}
	for (int i = 0; i < u; i++)
		free(keys[i]);
	free(keys);
	free(idx);
	free(part);
}

/* The bag of an id: the slide itself, or a TCGA case's first slide. */
static int bag_of(const pfm_bagset *bags, const char *id)
{
	int b = pfm_bagset_find(bags, id);
	if (b >= 0)
		return b;
	size_t n = strlen(id);
	for (int i = 0; i < bags->nbags; i++) {
		const char *s = bags->bags[i].id;
		if (!strncmp(s, id, n) && s[n] == '-' && (b < 0 || strcmp(s, bags->bags[b].id) < 0))
			b = i;
	}
	return b;
}

static int push_name(char ***list, int *n, char *name)
{
	char **p = realloc(*list, sizeof *p * (*n + 1));
	if (!p)
		return -1;
	p[(*n)++] = name;
	*list = p;
	return 0;
}

int pfm_gen_join(pfm_gen_set *s, const pfm_bagset *bags, pfm_err *e)
{
	char *used = calloc(bags->nbags + 1, 1);
	if (!used)
		return pfm_errf(e, "out of memory");
	int w = 0, rc = 0;
	for (int i = 0; i < s->n; i++) {
		pfm_gen_item *it = &s->items[i];
		it->bag = bag_of(bags, it->id);
		if (it->bag >= 0) {
			used[it->bag] = 1;
			s->items[w++] = *it;
			continue;
		}
		/* an id named by several items is listed once */
		int seen = 0;
		for (int k = 0; k < s->nmissing && !seen; k++)
			seen = !strcmp(s->missing[k], it->id);
		if (!seen && push_name(&s->missing, &s->nmissing, it->id))
			rc = pfm_errf(e, "out of memory");
		else if (seen)
			free(it->id);
		it->id = NULL;
		free(it->text), free(it->question), free(it->stratum);
		for (int k = 0; k < it->nchoices; k++)
			free(it->choices[k]);
		free(it->choices);
	}
	s->n = w;
	for (int b = 0; !rc && b < bags->nbags; b++)
		if (!used[b] && push_name(&s->unused, &s->nunused, bags->bags[b].id))
			rc = pfm_errf(e, "out of memory");
	free(used);
	return rc;
}

void pfm_gen_set_free(pfm_gen_set *s)
{
	for (int i = 0; i < s->n; i++) {
		pfm_gen_item *it = &s->items[i];
		free(it->id), free(it->text), free(it->question), free(it->stratum);
		for (int k = 0; k < it->nchoices; k++)
			free(it->choices[k]);
		free(it->choices);
	}
	for (int i = 0; i < s->nmissing; i++)
		free(s->missing[i]);
	free(s->missing);
	free(s->unused);
	free(s->items);
	memset(s, 0, sizeof *s);
}
