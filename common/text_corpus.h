/* text_corpus.h: what the text metrics share: the corpus check, the
 * corpus's n-grams as ids, counting them per sequence in first-occurrence
 * order (the order pycocoevalcap's dicts iterate, which fixes the order of
 * its floating-point sums), and numpy's mean. */
#ifndef PFM_TEXT_CORPUS_H
#define PFM_TEXT_CORPUS_H

#include <math.h>
#include <stddef.h>

#include "text_metrics.h"

#define PFM_NGRAM_MAX 4

/* n >= 1, every example has a reference, lengths >= 0. 0 or -1. */
int pfm_corpus_check(const pfm_text_corpus *c, pfm_err *e);

/* The 1..4-grams of every sequence as ids: sequence s < c->n is
 * hypothesis s, s >= c->n is reference s - c->n. A sequence's n-grams are
 * in precook's order: the unigrams left to right, then the bigrams... */
typedef struct {
	int ngram;            /* distinct n-grams */
	unsigned char *order; /* [ngram] 1..4 */
	int *g;               /* every sequence's n-gram ids */
	size_t *off;          /* [nseq + 1]: sequence s's are g[off[s] .. off[s+1]) */
	size_t maxseq;        /* the most n-grams of one sequence */
} pfm_grams;

int pfm_grams_build(pfm_grams *gr, const pfm_text_corpus *c, pfm_err *e);
void pfm_grams_free(pfm_grams *gr);

/* pfm_bleu and pfm_cider_d on a checked corpus's n-grams, so that
 * pfm_text_scores_compute counts them once. */
int pfm_bleu_grams(double bleu[4], double *ex, const pfm_text_corpus *c, const pfm_grams *gr,
		   pfm_err *e);
int pfm_cider_grams(double *mean, double *ex, const pfm_text_corpus *c, const pfm_grams *gr,
		    pfm_err *e);

/* Counts of the n-grams of one sequence at a time: after pfm_tally_seq,
 * list[0..nlist) holds its distinct ids in first-occurrence order and
 * cnt[id] their counts (cnt is only valid for ids in list). */
typedef struct {
	int *cnt, *stamp, *list;
	int cur, nlist;
} pfm_tally;

int pfm_tally_init(pfm_tally *t, int ngram, size_t maxlist, pfm_err *e);
void pfm_tally_seq(pfm_tally *t, const int *g, size_t m);
/* The count of id in the last sequence tallied (0 if absent). */
static inline int pfm_tally_get(const pfm_tally *t, int id)
{
	return t->stamp[id] == t->cur ? t->cnt[id] : 0;
}
void pfm_tally_free(pfm_tally *t);

/* libm's pow, as Python's ** and pow() call it: glibc's pow is not
 * correctly rounded, so pow(x, 2) must not become x * x (nor pow(x, 0.5)
 * sqrt(x)); the volatile exponent keeps it a call. */
static inline double pfm_py_pow(double x, double y)
{
	volatile double yy = y;
	return pow(x, yy);
}

/* numpy 1.24's np.mean of a float64 array, to the bit: pairwise sums
 * (8 accumulators, blocks of 128) over chunks of 8192 (its buffer size),
 * added in turn, divided by n. */
double pfm_np_mean(const double *a, size_t n);

#endif
