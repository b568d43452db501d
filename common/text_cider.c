/* text_cider.c: pycocoevalcap 1.2's CIDEr-D (cider_scorer.py) in its
 * arithmetic order: text_metrics.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text_corpus.h"

/* counts2vec's norms and `length` of the sequence tallied in t: norm[k]
 * sums the squared weights of order k + 1 in first-occurrence order. */
static int vec_norm(double norm[4], const pfm_tally *t, const pfm_grams *gr, const double *w)
{
	int length = 0;
	for (int k = 0; k < 4; k++)
		norm[k] = 0.0;
	for (int j = 0; j < t->nlist; j++) {
		int id = t->list[j], k = gr->order[id] - 1;
		double v = (double)t->cnt[id] * w[id];
		norm[k] += pfm_py_pow(v, 2);
		if (k == 1) /* pycocoevalcap's length counts bigrams */
			length += t->cnt[id];
	}
	for (int k = 0; k < 4; k++)
		norm[k] = sqrt(norm[k]);
	return length;
}

int pfm_cider_grams(double *mean, double *ex, const pfm_text_corpus *c, const pfm_grams *g,
		    pfm_err *e)
{
	const pfm_grams gr = *g;
	pfm_tally th = {0}, tr = {0}, tdf = {0};
	int rc = -1;
	double *w = malloc(((size_t)gr.ngram + 1) * sizeof *w);
	double *score = malloc((size_t)c->n * sizeof *score);
	if (!w || !score || pfm_tally_init(&th, gr.ngram, gr.maxseq, e) ||
	    pfm_tally_init(&tr, gr.ngram, gr.maxseq, e) || pfm_tally_init(&tdf, gr.ngram, 0, e)) {
		pfm_errf(e, "CIDEr-D: out of memory");
		goto fail;
	}
	/* Document frequency: examples whose references hold the n-gram
	 * (tdf.cnt counts, tdf.stamp marks the last example counted). */
	memset(tdf.cnt, 0, (size_t)(gr.ngram ? gr.ngram : 1) * sizeof *tdf.cnt);
	for (int i = 0; i < c->n; i++)
		for (int r = c->ref_off[i]; r < c->ref_off[i + 1]; r++)
			for (size_t j = gr.off[c->n + r]; j < gr.off[c->n + r + 1]; j++)
				if (tdf.stamp[gr.g[j]] != i) {
					tdf.stamp[gr.g[j]] = i;
					tdf.cnt[gr.g[j]]++;
				}
	double ref_len = log((double)c->n);
	for (int id = 0; id < gr.ngram; id++)
		w[id] = ref_len - log(fmax(1.0, (double)tdf.cnt[id]));
	for (int i = 0; i < c->n; i++) {
		double nh[4], nr[4], sc[4] = {0, 0, 0, 0};
		pfm_tally_seq(&th, gr.g + gr.off[i], gr.off[i + 1] - gr.off[i]);
		int lh = vec_norm(nh, &th, &gr, w);
		for (int r = c->ref_off[i]; r < c->ref_off[i + 1]; r++) {
			int s = c->n + r;
			pfm_tally_seq(&tr, gr.g + gr.off[s], gr.off[s + 1] - gr.off[s]);
			int lr = vec_norm(nr, &tr, &gr, w);
			double delta = (double)(lh - lr), val[4] = {0, 0, 0, 0};
			for (int j = 0; j < th.nlist; j++) {
				int id = th.list[j], k = gr.order[id] - 1;
				double vh = (double)th.cnt[id] * w[id];
				double vr = (double)pfm_tally_get(&tr, id) * w[id];
				val[k] += (vr < vh ? vr : vh) * vr;
			}
			for (int k = 0; k < 4; k++) {
				if (nh[k] != 0 && nr[k] != 0)
					val[k] /= nh[k] * nr[k];
				val[k] *= pfm_py_pow(M_E, -pfm_py_pow(delta, 2) / (2 * 6.0 * 6.0));
				sc[k] += val[k];
			}
		}
		score[i] = pfm_np_mean(sc, 4) / (c->ref_off[i + 1] - c->ref_off[i]) * 10.0;
	}
	*mean = pfm_np_mean(score, (size_t)c->n);
	if (ex)
		memcpy(ex, score, (size_t)c->n * sizeof *score);
	rc = 0;
fail:
	free(w);
	free(score);
	pfm_tally_free(&th);
	pfm_tally_free(&tr);
	pfm_tally_free(&tdf);
	return rc;
}

int pfm_cider_d(double *mean, double *ex, const pfm_text_corpus *c, pfm_err *e)
{
	pfm_grams gr;
	if (pfm_corpus_check(c, e) || pfm_grams_build(&gr, c, e))
		return pfm_err_prefix(e, "CIDEr-D");
	int rc = pfm_cider_grams(mean, ex, c, &gr, e);
	pfm_grams_free(&gr);
	return rc;
}
