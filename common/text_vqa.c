/* text_vqa.c: VQA answer metrics (SQuAD v1.1 normalisation, exact match,
 * token F1; pycocoevalcap BLEU-1 of the open answers): text_metrics.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text_hash.h"
#include "text_utf8.h"
#include "text_metrics.h"

char *pfm_vqa_normalize(const char *s, size_t n, pfm_err *e)
{
	if (n > ((size_t)1 << 30)) {
		pfm_errf(e, "an answer of %zu bytes (the limit is 1 GiB)", n);
		return NULL;
	}
	/* valid UTF-8 (3n), lower-cased (x 3/2) */
	char *a = malloc(9 * n / 2 + 4), *b = malloc(9 * n / 2 + 4);
	if (!a || !b) {
		free(a);
		free(b);
		pfm_errf(e, "out of memory (an answer of %zu bytes)", n);
		return NULL;
	}
	size_t len = pfm_utf8_sanitize(b, s, n), m = 0;
	len = pfm_utf8_lower(a, b, len);
	/* delete string.punctuation: printable ASCII but letters and digits */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)a[i];
		if (c > ' ' && c < 0x7f && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9'))
			continue;
		a[m++] = (char)c;
	}
	/* \b(a|an|the)\b -> " ": whole words only */
	size_t w = 0;
	for (size_t i = 0, k; i < m;) {
		if (!pfm_utf8_is_word(a + i, m - i, &k)) {
			memcpy(b + w, a + i, k);
			w += k;
			i += k;
			continue;
		}
		size_t j = i;
		while (j < m && pfm_utf8_is_word(a + j, m - j, &k))
			j += k;
		size_t l = j - i;
		if ((l == 1 && a[i] == 'a') || (l == 2 && !memcmp(a + i, "an", 2)) ||
		    (l == 3 && !memcmp(a + i, "the", 3))) {
			b[w++] = ' ';
		} else {
			memcpy(b + w, a + i, l);
			w += l;
		}
		i = j;
	}
	/* ' '.join(text.split()) */
	m = 0;
	for (size_t i = 0, k; i < w;) {
		while (i < w && (k = pfm_utf8_space(b + i, w - i)))
			i += k;
		if (i == w)
			break;
		if (m)
			a[m++] = ' ';
		while (i < w && !pfm_utf8_space(b + i, w - i))
			a[m++] = b[i++];
	}
	a[m] = 0;
	free(b);
	return a;
}

/* The ids of the words of t (single spaces) into *ids (malloc'd). */
static int word_ids(pfm_strmap *m, const char *t, int **ids, int *nw, pfm_err *e)
{
	size_t cap = strlen(t) / 2 + 1; /* words are >= 1 byte plus a space */
	*nw = 0;
	if (!(*ids = malloc(cap * sizeof **ids)))
		return pfm_errf(e, "out of memory");
	for (const char *q = t; *q;) {
		const char *sp = strchr(q, ' ');
		size_t l = sp ? (size_t)(sp - q) : strlen(q);
		int id = pfm_strmap_add(m, q, l, e);
		if (id < 0)
			return -1;
		(*ids)[(*nw)++] = id;
		q += l + (sp != NULL);
	}
	return 0;
}

/* SQuAD v1.1's f1_score of two normalised answers. */
static int token_f1(double *f1, const char *p, const char *g, pfm_err *e)
{
	pfm_strmap m = {0};
	int *pid = NULL, *gid = NULL, *cnt = NULL, np = 0, ng = 0, same = 0, rc = -1;
	if (word_ids(&m, p, &pid, &np, e) || word_ids(&m, g, &gid, &ng, e))
		goto out;
	if (!(cnt = calloc((size_t)m.n + 1, sizeof *cnt))) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	/* Counter(p) & Counter(g): each truth word uses up one of p's. */
	for (int i = 0; i < np; i++)
		cnt[pid[i]]++;
	for (int i = 0; i < ng; i++)
		if (cnt[gid[i]] > 0) {
			cnt[gid[i]]--;
			same++;
		}
	if (same == 0) {
		*f1 = 0;
	} else {
		double prec = 1.0 * same / np, rec = 1.0 * same / ng;
		*f1 = (2 * prec * rec) / (prec + rec);
	}
	rc = 0;
out:
	free(pid);
	free(gid);
	free(cnt);
	pfm_strmap_free(&m);
	return rc;
}

static int is_yes_no(const char *s)
{
	return !strcmp(s, "yes") || !strcmp(s, "no");
}

int pfm_vqa_score(pfm_vqa_scores *s, double *ex_exact, double *ex_f1,
		  const char *const *pred, const size_t *pred_len,
		  const char *const *truth, const size_t *truth_len, int n, pfm_err *e)
{
	memset(s, 0, sizeof *s);
	if (n < 1)
		return pfm_errf(e, "VQA: no questions");
	char **np = calloc((size_t)n, sizeof *np), **nt = calloc((size_t)n, sizeof *nt);
	int32_t **ids = calloc(2 * (size_t)n, sizeof *ids);
	pfm_tokseq *seq = calloc(2 * (size_t)n, sizeof *seq);
	int *off = calloc((size_t)n + 1, sizeof *off), rc = -1;
	pfm_wordtab *wt = pfm_wordtab_new(e);
	double sum_c = 0, sum_o = 0, sum_f = 0;
	int no = 0;
	if (!np || !nt || !ids || !seq || !off || !wt) {
		pfm_errf(e, "VQA: out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		double f1;
		np[i] = pfm_vqa_normalize(pred[i], pred_len ? pred_len[i] : strlen(pred[i]), e);
		nt[i] = np[i] ? pfm_vqa_normalize(truth[i], truth_len ? truth_len[i] : strlen(truth[i]), e) : NULL;
		if (!nt[i] || token_f1(&f1, np[i], nt[i], e)) {
			pfm_err_prefix(e, "VQA: question %d", i);
			goto out;
		}
		double ok = !strcmp(np[i], nt[i]);
		if (ex_exact)
			ex_exact[i] = ok;
		if (ex_f1)
			ex_f1[i] = f1;
		if (is_yes_no(nt[i])) {
			s->n_closed++;
			sum_c += ok;
			continue;
		}
		s->n_open++;
		sum_o += ok;
		sum_f += f1;
		/* the open answers as a corpus: hypotheses 0..no, references after */
		if (pfm_wordtab_seq(wt, np[i], strlen(np[i]), &ids[no], &seq[no].len, e) ||
		    pfm_wordtab_seq(wt, nt[i], strlen(nt[i]), &ids[n + no], &seq[n + no].len, e))
			goto out;
		seq[no].tok = ids[no];
		seq[n + no].tok = ids[n + no];
		off[no + 1] = no + 1;
		no++;
	}
	s->closed_acc = s->n_closed ? sum_c / s->n_closed : NAN;
	s->open_exact = no ? sum_o / no : NAN;
	s->open_f1 = no ? sum_f / no : NAN;
	s->open_bleu1 = NAN;
	if (no) {
		double b[4];
		pfm_text_corpus c = {no, seq, seq + n, off};
		if (pfm_bleu(b, NULL, &c, e))
			goto out;
		s->open_bleu1 = b[0];
	}
	rc = 0;
out:
	for (int i = 0; np && i < n; i++)
		free(np[i]);
	for (int i = 0; nt && i < n; i++)
		free(nt[i]);
	for (int i = 0; ids && i < 2 * n; i++)
		free(ids[i]);
	free(np);
	free(nt);
	free(ids);
	free(seq);
	free(off);
	pfm_wordtab_free(wt);
	return rc;
}
