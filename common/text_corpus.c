/* text_corpus.c: see text_corpus.h. */
#include "text_corpus.h"
#include "text_hash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int pfm_corpus_check(const pfm_text_corpus *c, pfm_err *e)
{
	if (c->n < 1)
		return pfm_errf(e, "an empty corpus");
	if (c->ref_off[0] != 0)
		return pfm_errf(e, "ref_off[0] is %d, not 0", c->ref_off[0]);
	for (int i = 0; i < c->n; i++) {
		if (c->ref_off[i + 1] <= c->ref_off[i])
			return pfm_errf(e, "example %d has no reference", i);
		if (c->hyp[i].len < 0 || (c->hyp[i].len && !c->hyp[i].tok))
			return pfm_errf(e, "example %d: bad hypothesis length %d", i,
					c->hyp[i].len);
		for (int r = c->ref_off[i]; r < c->ref_off[i + 1]; r++)
			if (c->ref[r].len < 0 || (c->ref[r].len && !c->ref[r].tok))
				return pfm_errf(e, "example %d: bad reference length %d", i,
						c->ref[r].len);
	}
	return 0;
}

static size_t ngrams_of(int len)
{
	size_t m = 0;
	for (int k = 1; k <= PFM_NGRAM_MAX; k++)
		m += len >= k ? (size_t)(len - k + 1) : 0;
	return m;
}

int pfm_grams_build(pfm_grams *gr, const pfm_text_corpus *c, pfm_err *e)
{
	memset(gr, 0, sizeof *gr);
	int nref = c->ref_off[c->n], nseq = c->n + nref;
	/* an n-gram's key: the bytes of its k ids */
	pfm_strmap t = {0};
	gr->off = malloc(((size_t)nseq + 1) * sizeof *gr->off);
	if (!gr->off)
		return pfm_errf(e, "out of memory (%d sequences)", nseq);
	gr->off[0] = 0;
	for (int s = 0; s < nseq; s++) {
		size_t m = ngrams_of(s < c->n ? c->hyp[s].len : c->ref[s - c->n].len);
		gr->off[s + 1] = gr->off[s] + m;
		gr->maxseq = m > gr->maxseq ? m : gr->maxseq;
	}
	gr->g = malloc((gr->off[nseq] + 1) * sizeof *gr->g);
	if (!gr->g) {
		pfm_errf(e, "out of memory (%zu n-grams)", gr->off[nseq]);
		goto fail;
	}
	for (int s = 0; s < nseq; s++) {
		const pfm_tokseq *q = s < c->n ? &c->hyp[s] : &c->ref[s - c->n];
		size_t w = gr->off[s];
		for (int k = 1; k <= PFM_NGRAM_MAX; k++)
			for (int i = 0; i + k <= q->len; i++) {
				int id = pfm_strmap_add(&t, (const char *)(q->tok + i),
							k * sizeof *q->tok, e);
				if (id < 0)
					goto fail;
				gr->g[w++] = id;
			}
	}
	gr->ngram = t.n;
	gr->order = malloc((size_t)t.n + 1);
	if (!gr->order) {
		pfm_errf(e, "out of memory (%d n-grams)", t.n);
		goto fail;
	}
	for (int id = 0; id < t.n; id++)
		gr->order[id] = (unsigned char)(t.ent[id].len / sizeof(int32_t));
	pfm_strmap_free(&t);
	return 0;
fail:
	pfm_strmap_free(&t);
	pfm_grams_free(gr);
	return -1;
}

void pfm_grams_free(pfm_grams *gr)
{
	free(gr->order);
	free(gr->g);
	free(gr->off);
	memset(gr, 0, sizeof *gr);
}

int pfm_tally_init(pfm_tally *t, int ngram, size_t maxlist, pfm_err *e)
{
	memset(t, 0, sizeof *t);
	size_t n = ngram ? (size_t)ngram : 1;
	t->cnt = malloc(n * sizeof *t->cnt);
	t->stamp = malloc(n * sizeof *t->stamp);
	t->list = malloc((maxlist + 1) * sizeof *t->list);
	if (!t->cnt || !t->stamp || !t->list) {
		pfm_tally_free(t);
		return pfm_errf(e, "out of memory (%d n-grams)", ngram);
	}
	for (size_t i = 0; i < n; i++)
		t->stamp[i] = -1;
	return 0;
}

void pfm_tally_seq(pfm_tally *t, const int *g, size_t m)
{
	t->cur++;
	t->nlist = 0;
	for (size_t i = 0; i < m; i++) {
		int id = g[i];
		if (t->stamp[id] != t->cur) {
			t->stamp[id] = t->cur;
			t->cnt[id] = 0;
			t->list[t->nlist++] = id;
		}
		t->cnt[id]++;
	}
}

void pfm_tally_free(pfm_tally *t)
{
	free(t->cnt);
	free(t->stamp);
	free(t->list);
	memset(t, 0, sizeof *t);
}

/* numpy's pairwise_sum for float64 (loops_utils.h.src). */
static double pairwise(const double *a, size_t n)
{
	if (n < 8) {
		double r = -0.0;
		for (size_t i = 0; i < n; i++)
			r += a[i];
		return r;
	}
	if (n <= 128) {
		double r[8];
		size_t i;
		memcpy(r, a, sizeof r);
		for (i = 8; i < n - n % 8; i += 8)
			for (int j = 0; j < 8; j++)
				r[j] += a[i + j];
		double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
		for (; i < n; i++)
			res += a[i];
		return res;
	}
	size_t n2 = n / 2;
	n2 -= n2 % 8;
	return pairwise(a, n2) + pairwise(a + n2, n - n2);
}

double pfm_np_mean(const double *a, size_t n)
{
	double s = 0.0;
	for (size_t i = 0; i < n; i += 8192)
		s += pairwise(a + i, n - i < 8192 ? n - i : 8192);
	return s / (double)n;
}

int pfm_text_scores_compute(pfm_text_scores *s, const pfm_text_corpus *c, pfm_err *e)
{
	pfm_grams gr;
	/* pfm_rouge_l checks the corpus */
	if (pfm_rouge_l(&s->rouge_l, NULL, c, e))
		return -1;
	if (pfm_grams_build(&gr, c, e))
		return pfm_err_prefix(e, "text metrics");
	int rc = 0;
	if (pfm_bleu_grams(s->bleu, NULL, c, &gr, e) || pfm_cider_grams(&s->cider_d, NULL, c, &gr, e))
		rc = -1;
	pfm_grams_free(&gr);
	return rc;
}
