/* text_metrics.h: the captioning metrics of report generation (R2Gen,
 * HistGen) and the VQA metrics of PathVQA-style tasks.
 *
 * Report metrics are pycocoevalcap 1.2's scorers (what R2Gen and HistGen
 * call, on their tokenizer's decoded, space-joined words and without
 * the Java PTB tokenizer), computed over token ids: two tokens match when
 * their ids are equal, as the decoded words do (every <unk> matches every
 * other, as in R2Gen, whose references are decoded from ids too). Same
 * arithmetic in the same order (numpy's pairwise mean and libm's pow
 * included), so BLEU and ROUGE-L equal the Python's to the last bit, and
 * CIDEr-D does too but for numpy's own log, which on AVX-512 machines
 * differs from libm's by an ulp for some integers (seen: 1e-14 relative;
 * bit-identical with numpy's log made libm's). Do not build these files
 * with -ffast-math or FMA contraction.
 *  - BLEU-1..4: Bleu(4).compute_score, corpus level: clipped n-gram
 *    counts summed over the corpus, the 'closest' reference length per
 *    example (ties -> the shorter), brevity penalty from the summed
 *    lengths, and its epsilons: p_n = (correct + 1e-15) / (guess + 1e-9),
 *    BLEU-k = (p_1 ... p_k)^(1/k), times exp(1 - 1/ratio) with ratio =
 *    (testlen + 1e-15) / (reflen + 1e-9) when ratio < 1. So an n-gram
 *    order with no match gives a small positive value, not 0. nltk 3.8's
 *    corpus_bleu (no smoothing) agrees to ~1e-9 relative when every order
 *    up to k has a match and every hypothesis has at least k words; it is
 *    lower when a hypothesis is shorter (its per-sentence denominator is
 *    max(1, count), which adds 1 where pycocoevalcap adds 0), and ~0
 *    (float_info.min per missing order) where an order has no match
 *    (tests/test_text.c checks all three).
 *  - ROUGE-L: Rouge().compute_score: per example the LCS with each
 *    reference, P = max over references of lcs/|hyp|, R = max of
 *    lcs/|ref| (maxima taken separately), F = (1+b^2)PR/(R+b^2 P), b =
 *    1.2, 0 if P or R is 0; the corpus value is numpy's mean of F.
 *    pycocoevalcap splits on " ", so an empty text is one empty token: an
 *    empty hypothesis scores 1 against an empty reference, else 0; we
 *    reproduce that.
 *  - CIDEr-D: Cider().compute_score (the CIDEr-D of Vedantam et al.):
 *    n = 1..4, tf-idf vectors with idf = log(N) - log(max(1, df)), N the
 *    number of examples and df the number of examples whose references
 *    hold the n-gram (document frequencies from this corpus's
 *    references), the hypothesis' weights clipped to the reference's,
 *    cosine per order times exp(-(d^2)/(2*6^2)), d the difference of the
 *    two texts' BIGRAM counts (pycocoevalcap's `length` counts n-grams of
 *    index 1, i.e. |text| - 1; we keep it), mean over orders, mean over
 *    references, times 10; the corpus value is the mean over examples.
 *    A corpus of one example scores 0 (log N = 0), and so does one whose
 *    references are all empty (where pycocoevalcap fails in max()).
 *  - METEOR is left out. pycocoevalcap runs METEOR 1.5 as a Java program
 *    (meteor-1.5.jar, shipped in its wheel): an aligner that matches
 *    exact words, Snowball stems, WordNet synonyms and entries of its
 *    English paraphrase table (data/paraphrase-en.gz, not even in the 1.2
 *    wheel), searches alignments with a beam, and scores them with tuned
 *    weights and a fragmentation penalty. Matching it exactly in C would
 *    mean porting that aligner and its resources; nltk's meteor_score is
 *    a different, simplified METEOR (other parameters, no paraphrases)
 *    that needs the WordNet corpus data besides. A METEOR equal to
 *    neither would be a third, unpublished variant, so there is none.
 *
 * Every function takes a corpus of n >= 1 examples, each one hypothesis
 * and at least one reference (pycocoevalcap asserts the same), and fills
 * the corpus value and, where ex is not NULL, the per-example values (for
 * a bootstrap). 0, or -1 with e set (empty corpus, an example without
 * references, a negative length, out of memory).
 *
 * VQA (pfm_vqa_score): answers are compared after SQuAD v1.1's
 * normalize_answer (evaluate-v1.1.py): lower-case (str.lower(), as the
 * tokenizer), delete ASCII punctuation (Python's string.punctuation),
 * replace the words a, an, the with a space (regex \b(a|an|the)\b),
 * collapse whitespace (Python's str.split()). Input is first made valid
 * UTF-8 as the tokenizer does, and \b is Python's (Unicode \w, from
 * tables generated out of it), so the answers' words are SQuAD's. A question is closed-ended when its
 * normalised ground truth is "yes" or "no" (PathVQA's yes/no questions),
 * open-ended otherwise.
 *  - closed accuracy: normalised prediction == normalised truth, over the
 *    closed questions;
 *  - open exact match: the same, over the open questions;
 *  - open F1: SQuAD v1.1's token F1 (multiset overlap of the normalised
 *    words; 0 when nothing overlaps, including an empty side), mean over
 *    the open questions;
 *  - open BLEU-1: pycocoevalcap's corpus BLEU-1 (above) of the normalised
 *    open answers, one reference each.
 * Values are NaN where their count is 0. */
#ifndef PFM_TEXT_METRICS_H
#define PFM_TEXT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* A token sequence: ids, only their equality matters. */
typedef struct {
	const int32_t *tok; /* [len] */
	int len;
} pfm_tokseq;

typedef struct {
	int n;                 /* examples */
	const pfm_tokseq *hyp; /* [n] one hypothesis each */
	const pfm_tokseq *ref; /* [ref_off[n]] all references */
	const int *ref_off;    /* [n+1]: example i's references are
				  ref[ref_off[i] .. ref_off[i+1]) */
} pfm_text_corpus;

/* bleu[k-1] = corpus BLEU-k, k = 1..4; ex [n][4] (may be NULL):
 * pycocoevalcap's per-example BLEU-1..4 (the same formula on one
 * example's counts). */
int pfm_bleu(double bleu[4], double *ex, const pfm_text_corpus *c,
	     pfm_err *e);
/* *mean = corpus ROUGE-L; ex [n] (may be NULL) per example. */
int pfm_rouge_l(double *mean, double *ex, const pfm_text_corpus *c,
		pfm_err *e);
/* *mean = corpus CIDEr-D; ex [n] (may be NULL) per example. */
int pfm_cider_d(double *mean, double *ex, const pfm_text_corpus *c,
		pfm_err *e);

typedef struct {
	double bleu[4]; /* BLEU-1..4 */
	double rouge_l;
	double cider_d;
} pfm_text_scores;

/* All of the above, corpus values only. */
int pfm_text_scores_compute(pfm_text_scores *s, const pfm_text_corpus *c,
			    pfm_err *e);

/* Words to ids for texts that have no vocabulary (VQA answers, decoded
 * reports from different sources): each distinct word gets the next id
 * from 0, the same word the same id for the life of the table. */
typedef struct pfm_wordtab pfm_wordtab;
pfm_wordtab *pfm_wordtab_new(pfm_err *e);
void pfm_wordtab_free(pfm_wordtab *t);
/* Split text[0..n) at ASCII whitespace (Python's str.split() on ASCII
 * text) and map the words: *ids malloc'd (NULL when no word), *len the
 * count. 0 or -1. */
int pfm_wordtab_seq(pfm_wordtab *t, const char *text, size_t n,
		    int32_t **ids, int *len, pfm_err *e);

/* SQuAD v1.1 normalize_answer of s[0..n) (above), malloc'd, NULL on
 * error (out of memory). */
char *pfm_vqa_normalize(const char *s, size_t n, pfm_err *e);

typedef struct {
	int n_closed, n_open;
	double closed_acc; /* over closed questions */
	double open_exact; /* over open questions */
	double open_f1;
	double open_bleu1;
} pfm_vqa_scores;

/* pred[i][0..pred_len[i]) against truth[i][0..truth_len[i]), i < n
 * (lengths NULL: NUL-terminated). ex_exact, ex_f1 [n] (may be NULL): per
 * question 0/1 and token F1 (for closed questions too). 0 or -1. */
int pfm_vqa_score(pfm_vqa_scores *s, double *ex_exact, double *ex_f1,
		  const char *const *pred, const size_t *pred_len,
		  const char *const *truth, const size_t *truth_len, int n,
		  pfm_err *e);

#endif
