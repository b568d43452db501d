/* text_rouge.c: pycocoevalcap 1.2's ROUGE-L (rouge.py): text_metrics.h. */
#include <stdlib.h>
#include <string.h>

#include "text_corpus.h"

/* Length of the longest common subsequence of a[0..na) and b[0..nb),
 * one DP row of nb + 1 (row holds the previous row while updating). */
static int lcs(const int32_t *a, int na, const int32_t *b, int nb, int *row)
{
	memset(row, 0, ((size_t)nb + 1) * sizeof *row);
	for (int i = 0; i < na; i++) {
		int diag = 0;
		for (int j = 1; j <= nb; j++) {
			int up = row[j];
			row[j] = a[i] == b[j - 1] ? diag + 1 : (up > row[j - 1] ? up : row[j - 1]);
			diag = up;
		}
	}
	return row[nb];
}

int pfm_rouge_l(double *mean, double *ex, const pfm_text_corpus *c, pfm_err *e)
{
	if (pfm_corpus_check(c, e))
		return pfm_err_prefix(e, "ROUGE-L");
	int maxlen = 1;
	for (int i = 0; i < c->n; i++)
		if (c->hyp[i].len > maxlen)
			maxlen = c->hyp[i].len;
	int *row = malloc(((size_t)maxlen + 1) * sizeof *row);
	double *f = malloc((size_t)c->n * sizeof *f);
	if (!row || !f) {
		free(row);
		free(f);
		return pfm_errf(e, "ROUGE-L: out of memory");
	}
	const double beta = 1.2, b2 = beta * beta;
	for (int i = 0; i < c->n; i++) {
		const pfm_tokseq *h = &c->hyp[i];
		double pmax = 0, rmax = 0;
		for (int r = c->ref_off[i]; r < c->ref_off[i + 1]; r++) {
			const pfm_tokseq *q = &c->ref[r];
			/* split(" ") makes an empty text one empty token. */
			int l = h->len && q->len ? lcs(q->tok, q->len, h->tok, h->len, row)
						 : !h->len && !q->len;
			double p = l / (double)(h->len ? h->len : 1);
			double rc = l / (double)(q->len ? q->len : 1);
			pmax = p > pmax ? p : pmax;
			rmax = rc > rmax ? rc : rmax;
		}
		f[i] = pmax != 0 && rmax != 0 ? ((1 + b2) * pmax * rmax) / (rmax + b2 * pmax) : 0.0;
	}
	*mean = pfm_np_mean(f, (size_t)c->n);
	if (ex)
		memcpy(ex, f, (size_t)c->n * sizeof *f);
	free(row);
	free(f);
	return 0;
}
