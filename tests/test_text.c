/* test_text: the report tokenizer (common/text_tok.h) and the text
 * metrics (common/text_metrics.h) against tests/ref/text_ref.py:
 * R2Gen's cleaning and vocabulary restated from its published code,
 * pycocoevalcap 1.2's Bleu/Rouge/Cider, nltk 3.8's corpus_bleu, and
 * SQuAD v1.1's answer normalisation and F1, on random and hand-made
 * texts and corpora; then what needs no reference: thresholds, special
 * ids, decoding, the JSON and text forms and hostile input.
 *
 * Tolerances: cleaned words, vocabularies and encodings identical, and
 * str.lower() of every code point and of capital sigmas in random
 * contexts (text_unicode_tab.h was generated from this Python); BLEU,
 * ROUGE-L, exact match and their per-example values bit-identical to the
 * Python (same operations in the same order, same libm); CIDEr-D within
 * CIDER_REL relative: numpy 1.24's log (its AVX-512 code) differs from
 * glibc's by an ulp for many integers and the idf weights carry it; with
 * numpy's log swapped for libm's in cider_scorer (the reference's second
 * answer) CIDEr-D must be bit-identical too. Token F1 and the VQA means: 1e-15
 * relative (the sums are the Python's, so 0 is seen). nltk's corpus_bleu against pycocoevalcap's BLEU-k: within
 * NLTK_REL where every order up to k has a match and every hypothesis
 * has k words (only the epsilons differ); lower where a hypothesis is
 * shorter (nltk's per-sentence denominator is max(1, count)); and where
 * nltk gives ~0 (an order without a match) pycocoevalcap's value is
 * positive (its 1e-15 epsilon) and at most 1e-6^(1/k). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "rng.h"
#include "text_metrics.h"
#include "text_tok.h"
#include "text_utf8.h"

#define CIDER_REL 1e-13
#define NLTK_REL 1e-8

typedef struct {
	char what[80];
	char *str;  /* expected answer line (string cases) */
	double *v;  /* our values (numeric cases) */
	int nv, n;  /* value count; examples (text cases) */
	int minlen; /* the shortest hypothesis (text cases) */
	char kind;  /* 's' string, 't' text metrics, 'q' vqa */
} cse;

static cse *cases;
static int ncases, cap;
static FILE *qf;

static pfm_rng rng = {0x9e3779b97f4a7c15ull};
static double urand(void) { return pfm_rng_uniform(&rng); }
static int irand(int lo, int hi) { return lo + (int)pfm_rng_below(&rng, (uint64_t)(hi - lo + 1)); }

static cse *add(char kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static cse *add(char kind, const char *fmt, ...)
{
	if (ncases == cap) {
		cap = cap ? 2 * cap : 256;
		cases = realloc(cases, cap * sizeof *cases);
	}
	cse *c = &cases[ncases++];
	memset(c, 0, sizeof *c);
	c->kind = kind;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->what, sizeof c->what, fmt, ap);
	va_end(ap);
	return c;
}

static void hexout(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", (unsigned char)s[i]);
}

/* ---- a growing string for expected answers ---- */
typedef struct {
	char *s;
	size_t n, cap;
} sbuf;
static void sput(sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = 2 * (b->n + n + 1);
		b->s = realloc(b->s, b->cap);
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
}
static void shex(sbuf *b, const char *s, size_t n)
{
	char h[3];
	for (size_t i = 0; i < n; i++) {
		snprintf(h, sizeof h, "%02x", (unsigned char)s[i]);
		sput(b, h, 2);
	}
	if (!n)
		sput(b, "", 0);
}

/* ---- random texts: pieces that exercise every cleaning rule ---- */
static const char *const piece[] = {
	". ", "..", "...", "....", ". ", "1. ", "11. ", " 2. ", ". 3. ", " 4. ", "5. ", "__", "___",
	"_", "  ", "   ", " ", " ", " ", "\n", "\n\n", "\t", "\r\n", "\x0b", "\x1c", "\x1f", ",",
	"?", ";", "*", "!", "%", "^", "&", "+", "(", ")", ":", "-", "[", "]", "{", "}", "<", ">",
	"=", "@", "\"", "'", "/", "\\", "#", "$", "`", "|", "~", "0", "7", "12", "3.5", "é",
	"µ", "\xc2\xa0", "\xe2\x80\x83", "\xe3\x80\x80", "\xc2\x85", "\xe2\x80\xa8", "中",
	"\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\xf0\x82\x82\xac", "\xf4\x90\x80\x80",
	"\x80\x80", "\0", "\xc3\x89", "\xce\xa3", "\xce\xa3", "\xce\x91", "\xc4\xb0",
	"\xe2\x84\xaa", "\xc8\xba", "\xc7\x85", "\xcc\x80", "\xc2\xad", "\xe2\x80\x99",
};
static const char *const word[] = {"no", "acute", "The", "LUNG", "heart", "size", "is",
				   "normal", "Pleural", "effusion", "x-ray", "a", "mild"};

static size_t rand_text(char *t, size_t cap, int pieces, int wordy)
{
	size_t n = 0;
	for (int i = 0; i < pieces; i++) {
		const char *p;
		size_t l;
		if (urand() < (wordy ? 0.6 : 0.3)) {
			p = word[irand(0, (int)(sizeof word / sizeof *word) - 1)];
			l = strlen(p);
		} else {
			int k = irand(0, (int)(sizeof piece / sizeof *piece) - 1);
			p = piece[k];
			l = p[0] ? strlen(p) : 1; /* "\0" is one NUL byte */
		}
		if (n + l >= cap)
			break;
		memcpy(t + n, p, l);
		n += l;
	}
	return n;
}

/* Python's str.lower() of t[0..n) (valid UTF-8) */
static void lower_case(const char *t, size_t n)
{
	cse *c = add('s', "lower %zu bytes", n);
	char *out = malloc(n / 2 * 3 + 4);
	size_t m = pfm_utf8_lower(out, t, n);
	sbuf b = {0};
	shex(&b, out, m);
	c->str = b.s ? b.s : strdup("");
	free(out);
	fprintf(qf, "lower ");
	hexout(qf, t, n);
	fputc('\n', qf);
}

static size_t put_cp(char *d, uint32_t cp)
{
	if (cp < 0x80)
		return d[0] = (char)cp, 1;
	if (cp < 0x800)
		return d[0] = (char)(0xc0 | cp >> 6), d[1] = (char)(0x80 | (cp & 0x3f)), 2;
	if (cp < 0x10000)
		return d[0] = (char)(0xe0 | cp >> 12), d[1] = (char)(0x80 | (cp >> 6 & 0x3f)),
		       d[2] = (char)(0x80 | (cp & 0x3f)), 3;
	return d[0] = (char)(0xf0 | cp >> 18), d[1] = (char)(0x80 | (cp >> 12 & 0x3f)),
	       d[2] = (char)(0x80 | (cp >> 6 & 0x3f)), d[3] = (char)(0x80 | (cp & 0x3f)), 4;
}

/* Every code point, 4096 at a time, then the contexts of capital sigma
 * (U+03A3) among cased letters, case-ignorables and others. */
static void lower_cases(void)
{
	char *t = malloc(4 * 4096);
	for (uint32_t cp = 1; cp < 0x110000;) {
		size_t n = 0;
		for (int i = 0; i < 4096 && cp < 0x110000; cp++)
			if (cp < 0xd800 || cp > 0xdfff)
				n += put_cp(t + n, cp), i++;
		lower_case(t, n);
	}
	static const uint32_t ctx[] = {0x3a3, 0x3a3, 0x3a3, 'A', 'a', 0x3c2, 0x391, 0x3b1, 0x300,
				       '\'', '.', ':', ' ', '1', 0x130, 0x345, 0xad, 0x2019,
				       0x1f88, 0x1c5, 0x2c65, 0x10400, 0xe9};
	for (int i = 0; i < 400; i++) {
		size_t n = 0;
		for (int j = irand(0, 12); j > 0; j--)
			n += put_cp(t + n, ctx[irand(0, (int)(sizeof ctx / sizeof *ctx) - 1)]);
		lower_case(t, n);
	}
	free(t);
}

static const char *rule_name(pfm_clean_rule r) { return pfm_clean_rule_name(r); }

static void clean_case(pfm_clean_rule rule, const char *t, size_t n, const char *what)
{
	pfm_err e = {0};
	char *out;
	cse *c = add('s', "clean %s %s", rule_name(rule), what);
	if (pfm_text_clean(&out, NULL, t, n, rule, &e)) {
		CHECK(0, "%s: %s", c->what, e.msg);
		out = strdup("");
	}
	sbuf b = {0};
	shex(&b, out, strlen(out));
	c->str = b.s;
	free(out);
	fprintf(qf, "clean %s ", rule_name(rule));
	hexout(qf, t, n);
	fputc('\n', qf);
}

/* Training texts t[0..nt) and one test text for vocab and encode queries. */
static void vocab_case(pfm_clean_rule rule, long min_count, char **t, size_t *tl, int nt,
		       const char *test, size_t testn)
{
	pfm_err e = {0};
	pfm_vocab_counter *cnt = pfm_vocab_counter_new(rule, &e);
	for (int i = 0; i < nt; i++)
		CHECK(!pfm_vocab_counter_add(cnt, t[i], tl[i], &e), "%s", e.msg);
	pfm_vocab *v = pfm_vocab_counter_finish(cnt, min_count, &e);
	pfm_vocab_counter_free(cnt);
	CHECK(v, "%s", e.msg);
	if (!v)
		return;
	/* R2Gen's list is ours with <unk> sorted in. */
	cse *c = add('s', "vocab %s min %ld, %d texts", rule_name(rule), min_count, nt);
	sbuf b = {0};
	int unk_done = 0, nv = pfm_vocab_size(v);
	for (int id = PFM_TOK_FIRST_WORD; id <= nv; id++) {
		const char *w = id < nv ? pfm_vocab_token(v, id) : NULL;
		if (!unk_done && (!w || strcmp("<unk>", w) < 0)) {
			if (b.n)
				sput(&b, ",", 1);
			shex(&b, "<unk>", 5);
			unk_done = 1;
		}
		if (w) {
			if (b.n)
				sput(&b, ",", 1);
			shex(&b, w, strlen(w));
		}
	}
	c->str = b.s;
	for (int pass = 0; pass < 2; pass++) {
		fprintf(qf, pass ? "encode %s %ld " : "vocab %s %ld ", rule_name(rule), min_count);
		for (int i = 0; i < nt; i++) {
			if (i)
				fputc(',', qf);
			hexout(qf, t[i], tl[i]);
		}
		fprintf(qf, "%s", nt ? "" : "-");
		if (pass) {
			fputc(' ', qf);
			hexout(qf, test, testn);
		}
		fputc('\n', qf);
	}
	/* encode: our ids as R2Gen's tokens (<bos>/<eos> are its 0: '') */
	c = add('s', "encode %s min %ld, %d texts", rule_name(rule), min_count, nt);
	int32_t *ids;
	size_t nids;
	b = (sbuf){0};
	if (!pfm_vocab_encode(v, test, testn, &ids, &nids, &e)) {
		for (size_t i = 0; i < nids; i++) {
			const char *w = ids[i] == PFM_TOK_BOS || ids[i] == PFM_TOK_EOS
						? "" : pfm_vocab_token(v, ids[i]);
			if (i)
				sput(&b, ",", 1);
			shex(&b, w, strlen(w));
		}
		free(ids);
	} else {
		CHECK(0, "encode: %s", e.msg);
	}
	c->str = b.s ? b.s : strdup("");
	pfm_vocab_free(v);
}

/* ---- corpora ---- */
typedef struct {
	int n;
	pfm_tokseq *hyp, *ref;
	int *off;
	int32_t *pool;
	size_t npool;
} corpus;

static int32_t *take(corpus *k, int len)
{
	int32_t *p = k->pool + k->npool;
	k->npool += (size_t)len;
	return p;
}

/* n examples over a vocabulary of v words; hypotheses often a noisy copy
 * of a reference so that higher orders match, at least minlen long. */
static void rand_corpus(corpus *k, int n, int v, int minlen, int maxlen, int maxref)
{
	k->n = n;
	k->hyp = calloc(n, sizeof *k->hyp);
	k->off = calloc(n + 1, sizeof *k->off);
	k->ref = calloc((size_t)n * maxref, sizeof *k->ref);
	k->pool = malloc((size_t)n * (maxref + 1) * (maxlen + 1) * 2 * sizeof *k->pool);
	k->npool = 0;
	for (int i = 0; i < n; i++) {
		int nr = irand(1, maxref);
		k->off[i + 1] = k->off[i] + nr;
		for (int r = k->off[i]; r < k->off[i + 1]; r++) {
			int len = urand() < 0.05 ? 0 : irand(0, maxlen);
			int32_t *t = take(k, len);
			for (int j = 0; j < len; j++)
				t[j] = irand(0, v - 1);
			k->ref[r] = (pfm_tokseq){t, len};
		}
		const pfm_tokseq *src = &k->ref[k->off[i] + irand(0, nr - 1)];
		int len = urand() < 0.05 ? minlen : irand(minlen, maxlen);
		int32_t *t = take(k, len);
		int copy = urand() < 0.6;
		for (int j = 0; j < len; j++)
			t[j] = copy && j < src->len && urand() < 0.8 ? src->tok[j] : irand(0, v - 1);
		k->hyp[i] = (pfm_tokseq){t, len};
	}
}

static void free_corpus(corpus *k)
{
	free(k->hyp);
	free(k->ref);
	free(k->off);
	free(k->pool);
}

static void put_seq(const pfm_tokseq *s)
{
	fputc('\t', qf);
	for (int j = 0; j < s->len; j++)
		fprintf(qf, j ? " t%d" : "t%d", s->tok[j]);
}

static void text_case(const corpus *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_case(const corpus *k, const char *fmt, ...)
{
	char what[80];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	cse *c = add('t', "text %s", what);
	int n = k->n;
	c->n = n;
	c->nv = 6 + 6 * n;
	c->minlen = INT32_MAX;
	for (int i = 0; i < n; i++)
		c->minlen = k->hyp[i].len < c->minlen ? k->hyp[i].len : c->minlen;
	c->v = calloc(c->nv, sizeof *c->v);
	pfm_text_corpus tc = {n, k->hyp, k->ref, k->off};
	pfm_err e = {0};
	pfm_text_scores s;
	CHECK(!pfm_bleu(c->v, c->v + 6, &tc, &e), "%s: %s", c->what, e.msg);
	CHECK(!pfm_rouge_l(&c->v[4], c->v + 6 + 4 * n, &tc, &e), "%s: %s", c->what, e.msg);
	CHECK(!pfm_cider_d(&c->v[5], c->v + 6 + 5 * n, &tc, &e), "%s: %s", c->what, e.msg);
	CHECK(!pfm_text_scores_compute(&s, &tc, &e), "%s: %s", c->what, e.msg);
	CHECK(!memcmp(s.bleu, c->v, 4 * sizeof(double)) && s.rouge_l == c->v[4] &&
	      s.cider_d == c->v[5], "%s: pfm_text_scores_compute differs", c->what);
	fprintf(qf, "text\t%d", n);
	for (int i = 0; i < n; i++) {
		put_seq(&k->hyp[i]);
		fprintf(qf, "\t%d", k->off[i + 1] - k->off[i]);
		for (int r = k->off[i]; r < k->off[i + 1]; r++)
			put_seq(&k->ref[r]);
	}
	fputc('\n', qf);
}

/* One corpus from a compact spec: examples separated by '|', the
 * hypothesis first, then references after ';', words as letters. */
static void spec_case(const char *spec)
{
	corpus k = {0};
	int n = 1, nr = 0;
	for (const char *p = spec; *p; p++)
		n += *p == '|', nr += *p == ';';
	k.n = n;
	k.hyp = calloc(n, sizeof *k.hyp);
	k.off = calloc(n + 1, sizeof *k.off);
	k.ref = calloc(nr + 1, sizeof *k.ref);
	k.pool = malloc((strlen(spec) + 1) * sizeof *k.pool);
	int i = 0, r = 0;
	const char *p = spec;
	for (;;) {
		pfm_tokseq *s = p == spec || p[-1] == '|' ? &k.hyp[i] : &k.ref[r++];
		int32_t *t = take(&k, 0);
		int len = 0;
		for (; *p && *p != '|' && *p != ';'; p++)
			if (*p != ' ')
				t[len++] = *p, k.npool++;
		*s = (pfm_tokseq){t, len};
		k.off[i + 1] = r;
		if (!*p)
			break;
		if (*p++ == '|')
			i++;
	}
	text_case(&k, "'%s'", spec);
	free_corpus(&k);
}

static void vqa_case(const char *const *pred, const char *const *truth, int n, const char *what)
{
	cse *c = add('q', "vqa %s", what);
	c->n = n;
	c->nv = 6 + 2 * n;
	c->v = calloc(c->nv, sizeof *c->v);
	pfm_vqa_scores s;
	pfm_err e = {0};
	CHECK(!pfm_vqa_score(&s, c->v + 6, c->v + 6 + n, pred, NULL, truth, NULL, n, &e), "%s: %s",
	      c->what, e.msg);
	double v[6] = {s.n_closed, s.n_open, s.closed_acc, s.open_exact, s.open_f1, s.open_bleu1};
	memcpy(c->v, v, sizeof v);
	fprintf(qf, "vqa\t%d", n);
	for (int i = 0; i < n; i++) {
		fputc('\t', qf);
		hexout(qf, pred[i], strlen(pred[i]));
		fputc('\t', qf);
		hexout(qf, truth[i], strlen(truth[i]));
	}
	fputc('\n', qf);
}

static const char *const answer[] = {
	"yes", "Yes", "yes.", "YES!", "no", "No", " no ", "nope", "the tumor", "Tumor", "a cell",
	"an apple", "The  nucleus", "nucleus", "an", "the", "a", "", "a-b", "ab", "x_y", "xy",
	"mitotic figures", "mitotic figure", "the the cell", "anaplastic", "thea", "café", "(c)",
	"tumor cells in the lymph node", "lymph node", "cells", "Tumor cells!", "the a an",
	"\xc3\x89LAN", "\xc3\xa9lan", "\xce\x9f\xce\x94\xce\x9f\xce\xa3", "\xce\xbf\xce\xb4\xce\xbf\xcf\x82",
	"\xc4\xb0", "A\xc2\xa0" "cell", "THE\xe2\x80\x83" "CELL", "a\xc2\xbb", "\xc2\xabthe\xc2\xbb cell",
	"the\xc3\x97" "40", "a\xc2\xb0" "c", "an\xc2\xb5m", "the\xe4\xb8\xad",
};

static int close_rel(double a, double r, double rel)
{
	return a == r || (isnan(a) && isnan(r)) || fabs(a - r) <= rel * fabs(r);
}

/* Compare case c with the reference's answer line. */
static double maxrel[4];
static int nltk_close, nltk_zero, nltk_short, libm_cider;
static void compare(cse *c, char *line)
{
	line[strcspn(line, "\n")] = 0;
	if (c->kind == 's') {
		CHECK(!strcmp(c->str, line), "%s:\n  ours      %s\n  reference %s", c->what, c->str,
		      line);
		return;
	}
	/* text: the reference adds nltk's 4 and CIDEr-D with libm's log */
	int nr = c->kind == 't' ? c->nv + 4 + 1 + c->n : c->nv;
	double *r = calloc(nr, sizeof *r);
	char *s = line, *end;
	int got = 0;
	for (; got < nr; got++, s = end) {
		r[got] = strtod(s, &end);
		if (end == s)
			break;
	}
	CHECK(got == nr, "%s: the reference gave %d of %d values", c->what, got, nr);
	if (got != nr) {
		free(r);
		return;
	}
	for (int i = 0; i < c->nv; i++) {
		/* text: our values 0..5 are the reference's 0..5, then it has
		 * nltk's four before the per-example values */
		int j = c->kind == 't' && i >= 6 ? i + 4 : i;
		int cider = c->kind == 't' && (i == 5 || i >= 6 + 5 * c->n);
		int f1 = c->kind == 'q' && (i == 4 || i >= 6 + c->n);
		double tol = cider ? CIDER_REL : f1 ? 1e-15 : 0;
		int slot = cider ? 1 : f1 ? 2 : 0;
		if (r[j] != 0 && c->v[i] != r[j])
			maxrel[slot] = fmax(maxrel[slot], fabs(c->v[i] - r[j]) / fabs(r[j]));
		if (cider && isnan(r[j])) { /* pycocoevalcap fails; we give 0 */
			CHECK(c->v[i] == 0, "%s: CIDEr-D %.17g where pycocoevalcap fails", c->what,
			      c->v[i]);
			continue;
		}
		CHECK(close_rel(c->v[i], r[j], tol), "%s: value %d: %.17g, reference %.17g", c->what, i,
		      c->v[i], r[j]);
	}
	for (int i = 0; c->kind == 't' && i <= c->n; i++) {
		/* CIDEr-D, corpus then per example, where numpy's log is libm's */
		double ours = c->v[i ? 6 + 5 * c->n + i - 1 : 5], ref = r[c->nv + 4 + i];
		CHECK(ours == ref || (isnan(ref) && ours == 0),
		      "%s: CIDEr-D %d %.17g, with libm's log in numpy %.17g", c->what, i, ours, ref);
		libm_cider++;
	}
	if (c->kind == 't')
		for (int k = 0; k < 4; k++) {
			double ours = c->v[k], nl = r[6 + k];
			if (isnan(nl))
				continue;
			if (nl <= 1e-50) {
				/* an order without a match: nltk's precision is
				 * float_info.min, pycocoevalcap's at most
				 * (0 + 1e-15) / (0 + 1e-9) */
				nltk_zero++;
				CHECK(ours <= pow(1e-6, 1.0 / (k + 1)) && (ours > 0 || nl == 0),
				      "%s: BLEU-%d %.17g where nltk gives %.3g", c->what, k + 1, ours, nl);
			} else if (c->minlen > k) {
				nltk_close++;
				maxrel[3] = fmax(maxrel[3], fabs(ours - nl) / nl);
				CHECK(close_rel(ours, nl, NLTK_REL), "%s: BLEU-%d %.17g, nltk %.17g",
				      c->what, k + 1, ours, nl);
			} else {
				/* a hypothesis too short for an order adds 1 to
				 * nltk's denominator (max(1, count)), 0 to ours */
				nltk_short++;
				CHECK(nl < ours, "%s: BLEU-%d %.17g, nltk %.17g (short hypotheses)",
				      c->what, k + 1, ours, nl);
			}
		}
	free(r);
}

static void reference_cases(void)
{
	/* tokenizer: hand-made texts, then random ones */
	static const char *const hand[] = {
		"",
		"   ",
		".",
		". . .",
		"The heart is normal. No effusion.",
		"1. The heart is normal. 2. No pneumothorax. 3. Lungs clear.",
		"Heart size normal.. Lungs clear...  No acute disease.",
		"XXXX XXXX  __  ___ ____________ pleural effusion",
		"a.b, c?d; e*f! g%h ^i &j _k +l (m) n: o-p [q] {r} s<t> u=v w@x y'z \"q\" a/b c\\d",
		"t. 11. x 21. y 1.5 cm 2.0 mm. 3. z",
		"line one\nline two.\nline three. \n4. four",
		"Tab\tseparated\x0bvertical\x0c feed\r\nCRLF\x1c" "file\x1dgroup\x1erecord\x1funit",
		"NBSP\xc2\xa0here.\xe2\x80\x83" "Em space\xe3\x80\x80ideographic\xc2\x85NEL",
		"invalid \xff byte, \xc3 lone lead, \xe2\x80 cut, \xed\xa0\x80 surrogate, "
		"\xf0\x82\x82\xac overlong",
		"caf\xc3\xa9 \xc2\xb5m \xe4\xb8\xad\xe6\x96\x87.",
		"trailing dot space. ",
		" . leading",
		"multiple. . empty.  . sentences",
		"no final period",
		"5. 5. 5. 5.",
		"\xc3\x89lan, \xc3\x80 la CAF\xc3\x89. \xce\x9f\xce\xa3\xce\x9f\xce\xa3 \xc4\xb0",
	};
	for (size_t i = 0; i < sizeof hand / sizeof *hand; i++)
		for (int r = 0; r < 2; r++)
			clean_case((pfm_clean_rule)r, hand[i], strlen(hand[i]), "hand-made");
	clean_case(PFM_CLEAN_IU_XRAY, "a\0b. c", 6, "NUL");
	lower_cases();
	char t[600];
	for (int i = 0; i < 400; i++) {
		size_t n = rand_text(t, sizeof t, irand(0, 60), i % 2);
		clean_case((pfm_clean_rule)(i % 2), t, n, "random");
	}
	/* vocabularies: thresholds 0..10 over texts with repeated words */
	static char tb[30][300];
	char *tp[30];
	size_t tl[30];
	for (int i = 0; i < 60; i++) {
		int nt = i == 0 ? 0 : irand(1, 30);
		for (int j = 0; j < nt; j++) {
			tl[j] = rand_text(tb[j], sizeof tb[j], irand(0, 40), 1);
			tp[j] = tb[j];
		}
		char test[300];
		size_t testn = rand_text(test, sizeof test, irand(0, 40), 1);
		static const long mins[] = {0, 1, 2, 3, 4, 5, 10};
		vocab_case((pfm_clean_rule)(i % 2), mins[i % 7], tp, tl, nt, test, testn);
	}
	/* metrics: hand-made corpora */
	static const char *const spec[] = {
		"abcd;abcd",
		"abcd;abcd|efgh;efgh",
		";abc",
		";",
		";|a;a",
		"abc;",
		"aaaa;aa;aaa",
		"abab;baba;ab",
		"the cat sat;the cat sat on|a b c d e f;a b c|x;y;z;x",
		"abcdefgh;ab|abc;abcdefghij;a|;abcd",
		"aaa;aaa|aaa;aaa|aaa;bbb",
		"abcd;dcba|abcd;abcd;abcd;abcd;abcd",
	};
	for (size_t i = 0; i < sizeof spec / sizeof *spec; i++)
		spec_case(spec[i]);
	/* random corpora */
	for (int i = 0; i < 150; i++) {
		static const int vs[] = {2, 3, 5, 10, 50, 1000};
		corpus k;
		int n = i < 10 ? 1 : irand(1, 40), v = vs[irand(0, 5)];
		/* every third with hypotheses of 4 words or more, where nltk
		 * and pycocoevalcap count alike */
		int minlen = i % 3 ? 0 : 4;
		rand_corpus(&k, n, v, minlen, irand(minlen + 1, 40), irand(1, 5));
		text_case(&k, "random %d: n %d, %d words", i, n, v);
		free_corpus(&k);
	}
	for (int i = 0; i < 2; i++) {
		/* past numpy's 128 and 8192 summation blocks */
		corpus k;
		int n = i ? 8300 : 700;
		rand_corpus(&k, n, 20, 0, 8, 2);
		text_case(&k, "large: n %d", n);
		free_corpus(&k);
	}
	/* VQA */
	int na = sizeof answer / sizeof *answer;
	vqa_case(answer, answer, na, "answers against themselves");
	const char *pred[60], *truth[60];
	for (int i = 0; i < 80; i++) {
		int n = irand(1, 60);
		for (int j = 0; j < n; j++) {
			truth[j] = answer[irand(0, na - 1)];
			pred[j] = urand() < 0.3 ? truth[j] : answer[irand(0, na - 1)];
		}
		vqa_case(pred, truth, n, "random");
	}
	const char *y[] = {"yes", "no"}, *o[] = {"tumor", "cell"};
	vqa_case(y, y, 2, "closed only");
	vqa_case(o, o + 1, 1, "open only");
}

static void run_reference(const char *qpath)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, ".venv/bin/python tests/ref/text_ref.py %s", qpath);
	FILE *p = popen(cmd, "r");
	char *buf = NULL;
	size_t bcap = 0;
	int got = 0;
	while (p && getline(&buf, &bcap, p) > 0) {
		if (got < ncases)
			compare(&cases[got], buf);
		got++;
	}
	int prc = p ? pclose(p) : -1;
	CHECK(prc == 0, "reference script failed (%d): run `make deps`", prc);
	CHECK(got == ncases, "the reference answered %d of %d queries", got, ncases);
	CHECK(nltk_close > 100 && nltk_zero > 20 && nltk_short > 100,
	      "nltk relations seen: %d close, %d zero, %d short", nltk_close, nltk_zero, nltk_short);
	printf("text: %d reference cases; largest relative differences: BLEU/ROUGE-L %.3g, "
	       "CIDEr-D %.3g (0 in %d values with libm's log in numpy), F1 %.3g; "
	       "pycocoevalcap vs nltk %.3g (%d values), nltk 0 (%d), "
	       "nltk lower for short hypotheses (%d)\n", ncases, maxrel[0], maxrel[1], libm_cider,
	       maxrel[2],
	       maxrel[3], nltk_close, nltk_zero, nltk_short);
	free(buf);
}

/* ---- what needs no reference ---- */

static pfm_vocab *build(pfm_clean_rule rule, long min_count, const char *const *t, int n)
{
	pfm_err e = {0};
	pfm_vocab_counter *c = pfm_vocab_counter_new(rule, &e);
	for (int i = 0; c && i < n; i++)
		CHECK(!pfm_vocab_counter_add(c, t[i], strlen(t[i]), &e), "%s", e.msg);
	pfm_vocab *v = c ? pfm_vocab_counter_finish(c, min_count, &e) : NULL;
	CHECK(v, "build: %s", e.msg);
	pfm_vocab_counter_free(c);
	return v;
}

static int same_vocab(const pfm_vocab *a, const pfm_vocab *b)
{
	if (pfm_vocab_size(a) != pfm_vocab_size(b) || pfm_vocab_rule(a) != pfm_vocab_rule(b))
		return 0;
	for (int i = 0; i < pfm_vocab_size(a); i++)
		if (strcmp(pfm_vocab_token(a, i), pfm_vocab_token(b, i)))
			return 0;
	return 1;
}

static void test_vocab(void)
{
	/* counts: "." 4, x 3, y 2, z 1 */
	const char *t[] = {"x y z", "X. y", "x"};
	pfm_vocab *v = build(PFM_CLEAN_IU_XRAY, 2, t, 3);
	if (!v)
		return;
	CHECK(pfm_vocab_size(v) == 7, "size %d", pfm_vocab_size(v));
	static const char *const want[] = {"<pad>", "<bos>", "<eos>", "<unk>", ".", "x", "y"};
	for (int i = 0; i < 7; i++)
		CHECK(!strcmp(pfm_vocab_token(v, i), want[i]), "token %d: %s", i, pfm_vocab_token(v, i));
	CHECK(!pfm_vocab_token(v, 7) && !pfm_vocab_token(v, -1), "out of range");
	CHECK(pfm_vocab_lookup(v, "y", 1) == 6 && pfm_vocab_lookup(v, "z", 1) == PFM_TOK_UNK, "lookup");
	pfm_vocab *v3 = build(PFM_CLEAN_IU_XRAY, 3, t, 3), *v4 = build(PFM_CLEAN_IU_XRAY, 5, t, 3),
		  *v0 = build(PFM_CLEAN_IU_XRAY, 0, t, 3), *v1 = build(PFM_CLEAN_IU_XRAY, 1, t, 3);
	CHECK(v3 && pfm_vocab_size(v3) == 6, "count == min_count is kept");
	CHECK(v4 && pfm_vocab_size(v4) == 4, "min_count above every count: specials only");
	CHECK(v0 && v1 && pfm_vocab_size(v0) == 8 && same_vocab(v0, v1), "min_count 0 and 1: all");
	CHECK(pfm_vocab_min_count(v3) == 3 && pfm_vocab_rule(v3) == PFM_CLEAN_IU_XRAY, "meta");

	/* encode / decode */
	pfm_err e = {0};
	int32_t *ids;
	size_t n;
	char *txt;
	CHECK(!pfm_vocab_encode(v, "Y z x.", 6, &ids, &n, &e), "%s", e.msg);
	int32_t want_ids[] = {PFM_TOK_BOS, 6, PFM_TOK_UNK, 5, 4, PFM_TOK_EOS};
	CHECK(n == 6 && !memcmp(ids, want_ids, sizeof want_ids), "encode: %zu ids", n);
	CHECK(!pfm_vocab_decode(v, ids, n, &txt, &e) && !strcmp(txt, "y <unk> x ."), "decode '%s'",
	      txt);
	free(txt);
	int32_t stop[] = {PFM_TOK_BOS, 5, PFM_TOK_BOS, 6, PFM_TOK_PAD, 5, PFM_TOK_EOS};
	CHECK(!pfm_vocab_decode(v, stop, 7, &txt, &e) && !strcmp(txt, "x y"), "pad stops: '%s'",
	      txt);
	free(txt);
	CHECK(!pfm_vocab_decode(v, stop, 0, &txt, &e) && !strcmp(txt, ""), "nothing");
	free(txt);
	int32_t bad[] = {5, 7};
	CHECK(pfm_vocab_decode(v, bad, 2, &txt, &e) && strstr(e.msg, "id 7 at position 1"), "%s",
	      e.msg);
	free(ids);
	CHECK(!pfm_vocab_encode(v, "", 0, &ids, &n, &e) && n == 3 && ids[1] == 4, "empty text");
	free(ids);

	/* JSON and text round trips (tokens with escapes, non-ASCII) */
	const char *u[] = {"caf\xc3\xa9 \xe4\xb8\xad a\x01z back\\slash #1 $x x-y ~ `q` |p| "
			   "\xef\xbf\xbd \xf0\x9f\x99\x82"};
	pfm_vocab *w = build(PFM_CLEAN_MIMIC_CXR, 1, u, 1);
	char *j = w ? pfm_vocab_to_json(w, &e) : NULL;
	CHECK(j, "to_json: %s", e.msg);
	pfm_vocab *w2 = j ? pfm_vocab_from_json(j, strlen(j), &e) : NULL;
	CHECK(w2 && same_vocab(w, w2) && pfm_vocab_min_count(w2) == 1 &&
	      pfm_vocab_rule(w2) == PFM_CLEAN_MIMIC_CXR, "JSON round trip: %s", e.msg);
	char path[] = "/tmp/pfm-vocab-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	CHECK(w && !pfm_vocab_save_text(w, path, &e), "save_text: %s", e.msg);
	pfm_vocab *w3 = pfm_vocab_load_text(path, PFM_CLEAN_MIMIC_CXR, &e);
	CHECK(w3 && same_vocab(w, w3) && pfm_vocab_min_count(w3) == 0, "text round trip: %s", e.msg);
	free(j);
	pfm_vocab_free(w2);
	pfm_vocab_free(w3);

	/* damaged JSON: each error names the problem */
	static const struct {
		const char *json, *msg;
	} badj[] = {
		{"[1]", "not a JSON object"},
		{"{\"format\":\"x\"}", "\"format\""},
		{"{\"format\":\"pathfm-vocab\",\"version\":2}", "\"version\""},
		{"{\"format\":\"pathfm-vocab\",\"version\":1,\"clean\":\"bpe\",\"min_count\":1,"
		 "\"tokens\":[]}", "unknown cleaning rule 'bpe'"},
		{"{\"format\":\"pathfm-vocab\",\"version\":1,\"clean\":\"iu_xray\",\"tokens\":[]}",
		 "\"min_count\""},
		{"{\"format\":\"pathfm-vocab\",\"version\":1,\"clean\":\"iu_xray\",\"min_count\":1}",
		 "\"tokens\""},
		{"{\"format\":\"pathfm-vocab\",\"version\":1,\"clean\":\"iu_xray\",\"min_count\":1,"
		 "\"tokens\":[\"<pad>\",\"<bos>\",\"<eos>\"]}", "special tokens are missing"},
		{"{\"format\":\"pathfm-vocab\",\"version\":1,\"clean\":\"iu_xray\",\"min_count\":1,"
		 "\"tokens\":[\"<pad>\",\"<eos>\",\"<bos>\",\"<unk>\"]}", "token 1 is not <bos>"},
		{"{\"format\":\"pathfm-vocab\",\"version\":1,\"clean\":\"iu_xray\",\"min_count\":1,"
		 "\"tokens\":[\"<pad>\",\"<bos>\",\"<eos>\",\"<unk>\",\"a\",\"b\",\"a\"]}",
		 "token 6 repeats token 4"},
		{"{\"format\":\"pathfm-vocab\",\"version\":1,\"clean\":\"iu_xray\",\"min_count\":1,"
		 "\"tokens\":[\"<pad>\",\"<bos>\",\"<eos>\",\"<unk>\",\"a b\"]}",
		 "token 4 holds whitespace"},
		{"{\"format\":\"pathfm-vocab\",\"version\":1,\"clean\":\"iu_xray\",\"min_count\":1,"
		 "\"tokens\":[\"<pad>\",\"<bos>\",\"<eos>\",\"<unk>\",\"\"]}", "token 4 is empty"},
		{"{\"format\":\"pathfm-vocab\",\"version\":1,\"clean\":\"iu_xray\",\"min_count\":1,"
		 "\"tokens\":[\"<pad>\",\"<bos>\",\"<eos>\",\"<unk>\",\"a\\u0000\"]}",
		 "token 4 is not valid UTF-8"},
		{"{\"format\":\"pathfm-vocab\",\"version\":1,\"clean\":\"iu_xray\",\"min_count\":1,"
		 "\"tokens\":[\"<pad>\",\"<bos>\",\"<eos>\",\"<unk>\",7]}", "token 4 is not a string"},
		{"{\"format\":", "vocabulary JSON"},
	};
	for (size_t i = 0; i < sizeof badj / sizeof *badj; i++) {
		e.msg[0] = 0;
		pfm_vocab *x = pfm_vocab_from_json(badj[i].json, strlen(badj[i].json), &e);
		CHECK(!x && strstr(e.msg, badj[i].msg), "bad JSON %zu: '%s'", i, e.msg);
		pfm_vocab_free(x);
	}

	/* damaged text files */
	static const struct {
		const char *txt, *msg;
		size_t n;
	} badt[] = {
		{"<pad>\n<bos>\n<eos>\n<unk>\na", "no newline", 0},
		{"<pad>\n<bos>\n<eos>\n<unk>\na\n\nb\n", "line 6 is empty", 0},
		{"<pad>\n<bos>\n<eos>\n<unk>\na\na\n", "line 6 repeats line 5", 0},
		{"<pad>\n<bos>\n<eos>\n<unk>\na\tb\n", "line 5 holds whitespace at byte 1", 0},
		{"<pad>\n<bos>\n<eos>\n<unk>\na\rb\n", "whitespace", 0},
		{"<pad>\n<bos>\n<eos>\n<unk>\na\0b\n", "not valid UTF-8", 28},
		{"<pad>\n<bos>\n<eos>\n<unk>\na\xff\n", "not valid UTF-8", 0},
		{"<unk>\n<bos>\n<eos>\n<pad>\n", "line 1 is not <pad>", 0},
		{"", "special tokens are missing", 0},
	};
	for (size_t i = 0; i < sizeof badt / sizeof *badt; i++) {
		FILE *f = fopen(path, "w");
		fwrite(badt[i].txt, 1, badt[i].n ? badt[i].n : strlen(badt[i].txt), f);
		fclose(f);
		e.msg[0] = 0;
		pfm_vocab *x = pfm_vocab_load_text(path, PFM_CLEAN_IU_XRAY, &e);
		CHECK(!x && strstr(e.msg, badt[i].msg) && strstr(e.msg, path), "bad text %zu: '%s'", i,
		      e.msg);
		pfm_vocab_free(x);
	}
	unlink(path);
	pfm_vocab *x = pfm_vocab_load_text("/nonexistent/vocab.txt", PFM_CLEAN_IU_XRAY, &e);
	CHECK(!x && strstr(e.msg, "/nonexistent/vocab.txt"), "%s", e.msg);
	CHECK(w && pfm_vocab_save_text(w, "/nonexistent/dir/v.txt", &e) &&
	      strstr(e.msg, "/nonexistent/dir/v.txt"), "%s", e.msg);
	pfm_clean_rule r;
	CHECK(!pfm_clean_rule_parse("histgen", &r, &e) && r == PFM_CLEAN_MIMIC_CXR, "histgen");
	CHECK(pfm_clean_rule_parse("IU", &r, &e) && strstr(e.msg, "'IU'"), "%s", e.msg);
	pfm_vocab_free(w);
	pfm_vocab_free(v);
	pfm_vocab_free(v0);
	pfm_vocab_free(v1);
	pfm_vocab_free(v3);
	pfm_vocab_free(v4);
}

static void test_hostile(void)
{
	pfm_err e = {0};
	char *out;
	size_t nw;
	/* a 4 MiB word, and random bytes of every value */
	size_t big = 4u << 20;
	char *t = malloc(big);
	memset(t, 'q', big);
	CHECK(!pfm_text_clean(&out, &nw, t, big, PFM_CLEAN_MIMIC_CXR, &e) && nw == 2 &&
	      strlen(out) == big + 2, "huge word: %zu words", nw);
	free(out);
	for (int i = 0; i < 200; i++) {
		size_t n = (size_t)irand(0, 400);
		for (size_t j = 0; j < n; j++)
			t[j] = (char)irand(0, 255);
		CHECK(!pfm_text_clean(&out, &nw, t, n, (pfm_clean_rule)(i % 2), &e), "%s", e.msg);
		/* every word non-empty, valid, without whitespace */
		pfm_vocab_counter *c = pfm_vocab_counter_new((pfm_clean_rule)(i % 2), &e);
		CHECK(c && !pfm_vocab_counter_add(c, t, n, &e), "%s", e.msg);
		pfm_vocab *v = c ? pfm_vocab_counter_finish(c, 1, &e) : NULL;
		CHECK(v, "random bytes: the vocabulary is refused: %s", e.msg);
		char *j = v ? pfm_vocab_to_json(v, &e) : NULL;
		pfm_vocab *v2 = j ? pfm_vocab_from_json(j, strlen(j), &e) : NULL;
		CHECK(v2 && same_vocab(v, v2), "random bytes: JSON round trip: %s", e.msg);
		int32_t *ids;
		size_t nids;
		char *back;
		CHECK(v && !pfm_vocab_encode(v, t, n, &ids, &nids, &e) &&
		      !pfm_vocab_decode(v, ids, nids, &back, &e) && !strcmp(back, out),
		      "random bytes: decode(encode(t)) != clean(t)");
		if (v) {
			free(ids);
			free(back);
		}
		free(j);
		free(out);
		pfm_vocab_free(v);
		pfm_vocab_free(v2);
		pfm_vocab_counter_free(c);
		char *norm = pfm_vqa_normalize(t, n, &e);
		CHECK(norm, "vqa normalise: %s", e.msg);
		free(norm);
	}
	free(t);
	CHECK(pfm_text_clean(&out, &nw, "", 0, (pfm_clean_rule)7, &e) && strstr(e.msg, "rule"),
	      "%s", e.msg);
}

static void test_metric_errors(void)
{
	pfm_err e = {0};
	double b[4], m;
	int32_t a[] = {1, 2};
	pfm_tokseq h = {a, 2};
	int off0[] = {0, 0}, off1[] = {0, 1};
	pfm_text_corpus none = {0, &h, &h, off0}, noref = {1, &h, &h, off0};
	CHECK(pfm_bleu(b, NULL, &none, &e) && strstr(e.msg, "empty corpus"), "%s", e.msg);
	CHECK(pfm_rouge_l(&m, NULL, &noref, &e) && strstr(e.msg, "example 0 has no reference"), "%s",
	      e.msg);
	pfm_tokseq neg = {a, -1};
	pfm_text_corpus bad = {1, &neg, &h, off1};
	CHECK(pfm_cider_d(&m, NULL, &bad, &e) && strstr(e.msg, "length -1"), "%s", e.msg);
	/* one example: CIDEr-D is 0 (log 1), BLEU and ROUGE-L 1 */
	pfm_text_corpus one = {1, &h, &h, off1};
	CHECK(!pfm_cider_d(&m, NULL, &one, &e) && m == 0, "CIDEr-D of one example %g", m);
	CHECK(!pfm_rouge_l(&m, NULL, &one, &e) && m == 1, "ROUGE-L of itself %g", m);
	pfm_vqa_scores s;
	const char *p[] = {"x"};
	CHECK(pfm_vqa_score(&s, NULL, NULL, p, NULL, p, NULL, 0, &e) && strstr(e.msg, "no questions"),
	      "%s", e.msg);
	CHECK(!pfm_vqa_score(&s, NULL, NULL, p, NULL, p, NULL, 1, &e) && isnan(s.closed_acc) &&
	      s.open_exact == 1 && s.n_open == 1, "open only");
	char *n = pfm_vqa_normalize("The  An-apple, a\xc2\xa0" "cat!", 21, &e);
	CHECK(n && !strcmp(n, "anapple cat"), "normalise: '%s'", n);
	free(n);
}

int main(void)
{
	const char *py = ".venv/bin/python";
	if (access(py, X_OK)) {
		CHECK(0, "%s missing: run `make deps` first", py);
		return check_done();
	}
	char qpath[] = "/tmp/pfm-text-XXXXXX";
	int fd = mkstemp(qpath);
	CHECK(fd >= 0, "mkstemp");
	qf = fdopen(fd, "w");
	reference_cases();
	fclose(qf);
	run_reference(qpath);
	unlink(qpath);
	for (int i = 0; i < ncases; i++) {
		free(cases[i].str);
		free(cases[i].v);
	}
	free(cases);
	test_vocab();
	test_hostile();
	test_metric_errors();
	return check_done();
}
