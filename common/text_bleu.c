/* text_bleu.c: pycocoevalcap 1.2's BLEU (bleu_scorer.py), corpus and
 * per-example values, in its arithmetic order (text_metrics.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "text_corpus.h"

static const double tiny = 1e-15, small = 1e-9;

/* BLEU-1..4 of the counts, as compute_score does for the corpus and for
 * each example: the running product of the precisions, its k-th root,
 * then the brevity penalty. */
static void bleu_of(double out[4], const int64_t correct[4], const int64_t guess[4],
		    int64_t testlen, int64_t reflen)
{
	double b = 1.0;
	for (int k = 0; k < 4; k++) {
		b *= ((double)correct[k] + tiny) / ((double)guess[k] + small);
		out[k] = pfm_py_pow(b, 1.0 / (k + 1));
	}
	double ratio = ((double)testlen + tiny) / ((double)reflen + small);
	if (ratio < 1)
		for (int k = 0; k < 4; k++)
			out[k] *= exp(1 - 1 / ratio);
}

int pfm_bleu_grams(double bleu[4], double *ex, const pfm_text_corpus *c, const pfm_grams *g,
		   pfm_err *e)
{
	const pfm_grams gr = *g;
	pfm_tally th = {0}, tr = {0}, tm = {0};
	/* tm holds the example's maximum count over its references. */
	if (pfm_tally_init(&th, gr.ngram, gr.maxseq, e) || pfm_tally_init(&tr, gr.ngram, gr.maxseq, e) ||
	    pfm_tally_init(&tm, gr.ngram, 0, e)) {
		pfm_tally_free(&th);
		pfm_tally_free(&tr);
		return pfm_err_prefix(e, "BLEU");
	}
	int64_t tc[4] = {0}, tg[4] = {0}, testlen = 0, reflen = 0;
	for (int i = 0; i < c->n; i++) {
		int len = c->hyp[i].len, best = -1;
		tm.cur++;
		for (int r = c->ref_off[i]; r < c->ref_off[i + 1]; r++) {
			int s = c->n + r, rl = c->ref[r].len;
			/* 'closest': min of (|rl - len|, rl). */
			if (best < 0 || abs(rl - len) < abs(best - len) ||
			    (abs(rl - len) == abs(best - len) && rl < best))
				best = rl;
			pfm_tally_seq(&tr, gr.g + gr.off[s], gr.off[s + 1] - gr.off[s]);
			for (int j = 0; j < tr.nlist; j++) {
				int id = tr.list[j], m = pfm_tally_get(&tm, id);
				tm.stamp[id] = tm.cur;
				tm.cnt[id] = tr.cnt[id] > m ? tr.cnt[id] : m;
			}
		}
		pfm_tally_seq(&th, gr.g + gr.off[i], gr.off[i + 1] - gr.off[i]);
		int64_t cor[4] = {0}, gue[4];
		for (int j = 0; j < th.nlist; j++) {
			int id = th.list[j], m = pfm_tally_get(&tm, id);
			cor[gr.order[id] - 1] += th.cnt[id] < m ? th.cnt[id] : m;
		}
		for (int k = 0; k < 4; k++) {
			gue[k] = len - k > 0 ? len - k : 0;
			tc[k] += cor[k];
			tg[k] += gue[k];
		}
		testlen += len;
		reflen += best;
		if (ex)
			bleu_of(ex + 4 * (size_t)i, cor, gue, len, best);
	}
	bleu_of(bleu, tc, tg, testlen, reflen);
	pfm_tally_free(&th);
	pfm_tally_free(&tr);
	pfm_tally_free(&tm);
	return 0;
}

int pfm_bleu(double bleu[4], double *ex, const pfm_text_corpus *c, pfm_err *e)
{
	pfm_grams gr;
	if (pfm_corpus_check(c, e) || pfm_grams_build(&gr, c, e))
		return pfm_err_prefix(e, "BLEU");
	int rc = pfm_bleu_grams(bleu, ex, c, &gr, e);
	pfm_grams_free(&gr);
	return rc;
}
