/* fuzz_text.c: libFuzzer target for the parsers of the text tasks'
 * files: report and question files (common/gen_data.c: annotation.json,
 * captions.csv, JSON lines / WSI-VQA, an id,split CSV), the vocabulary
 * (text_vocab_io.c: its JSON and text forms), cleaning, encoding and
 * decoding of any bytes (text_tok.h), the metrics on what comes out of
 * them (text_metrics.h), and CURVE key files and Z85 keys (curve.h).
 *
 * The first byte picks the parser (below, FZ_*); the rest is the file,
 * written to a memfd and read through /proc/self/fd/N. Besides "no
 * crash, no leak" it checks, and aborts when one breaks:
 *   - every failure says why (a message);
 *   - a vocabulary read from JSON or text, written as JSON and read
 *     again, is the same; its text form reads back the same too;
 *   - encoding a text with a vocabulary of all its words, then
 *     decoding, gives the cleaned text (with a min_count: the same
 *     words, or <unk>); cleaned text is valid UTF-8, single-spaced;
 *   - BLEU and ROUGE-L are in [0, 1], CIDEr-D finite and >= 0; a
 *     hypothesis that is its single reference has ROUGE-L 1; a VQA
 *     answer scored against itself is an exact match;
 *   - a key file that reads gives 40-character Z85 keys that decode,
 *     a pair whose public key is its secret key's.
 *
 * tests/test_fuzz_replay.c #includes this file to replay the corpus in
 * `make check`; it defines FUZZ_FAIL to count instead of aborting. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "curve.h"
#include "gen_data.h"
#include "text_metrics.h"
#include "text_tok.h"
#include "text_utf8.h"

#ifndef FUZZ_FAIL
#define FUZZ_FAIL(...)                                                        \
	do {                                                                  \
		fprintf(stderr, "fuzz_text: " __VA_ARGS__);                   \
		fputc('\n', stderr);                                          \
		abort();                                                      \
	} while (0)
#endif

#define FT_MAX_TEXTS 64 /* texts scored per input: bounds the time */

enum { FZ_ANNOTATION, FZ_CAPTIONS, FZ_QA, FZ_VOCAB_JSON, FZ_VOCAB_TEXT,
       FZ_CLEAN, FZ_KEY_PAIR, FZ_KEY_PUBLIC, FZ_N };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ft_fd = -1;
static char ft_path[64];

/* The memfd holding data[0..n), mode 0600 (key pairs ask for it). */
static const char *ft_file(const void *data, size_t n)
{
	if (ft_fd < 0) {
		ft_fd = memfd_create("fuzz_text", MFD_CLOEXEC);
		if (ft_fd < 0 || fchmod(ft_fd, 0600))
			FUZZ_FAIL("cannot make a memfd");
		snprintf(ft_path, sizeof ft_path, "/proc/self/fd/%d", ft_fd);
	}
	if (ftruncate(ft_fd, 0) || (n && pwrite(ft_fd, data, n, 0) != (ssize_t)n))
		FUZZ_FAIL("cannot write the memfd");
	return ft_path;
}

static void ft_said(const pfm_err *e, const char *what)
{
	if (!e->msg[0])
		FUZZ_FAIL("%s failed without a message", what);
}

/* Corpus metrics over seqs: example i is hypothesis i against reference
 * i + 1 (circular), then against itself. */
static void ft_metrics(const pfm_tokseq *seq, int n)
{
	if (n < 1)
		return;
	pfm_tokseq *ref = malloc(n * sizeof *ref);
	int *off = malloc((n + 1) * sizeof *off);
	double *ex = malloc(4 * n * sizeof *ex);
	if (!ref || !off || !ex)
		FUZZ_FAIL("out of memory");
	for (int i = 0; i <= n; i++)
		off[i] = i;
	for (int self = 0; self < 2; self++) {
		for (int i = 0; i < n; i++)
			ref[i] = seq[self ? i : (i + 1) % n];
		pfm_text_corpus c = {n, seq, ref, off};
		pfm_text_scores s;
		pfm_err e = {0};
		double r;
		if (pfm_text_scores_compute(&s, &c, &e) || pfm_bleu(s.bleu, ex, &c, &e))
			FUZZ_FAIL("scores of %d examples: %s", n, e.msg);
		for (int k = 0; k < 4; k++)
			if (!(s.bleu[k] >= 0 && s.bleu[k] <= 1 + 1e-12))
				FUZZ_FAIL("BLEU-%d %g", k + 1, s.bleu[k]);
		for (int k = 0; k < 4 * n; k++)
			if (!(ex[k] >= 0 && ex[k] <= 1 + 1e-12))
				FUZZ_FAIL("per-example BLEU %g", ex[k]);
		if (!(s.rouge_l >= 0 && s.rouge_l <= 1 + 1e-12))
			FUZZ_FAIL("ROUGE-L %g", s.rouge_l);
		if (!isfinite(s.cider_d) || s.cider_d < 0)
			FUZZ_FAIL("CIDEr-D %g", s.cider_d);
		if (pfm_rouge_l(&r, ex, &c, &e) || pfm_cider_d(&r, ex + n, &c, &e))
			FUZZ_FAIL("ROUGE-L / CIDEr-D: %s", e.msg);
		for (int i = 0; self && i < n; i++)
			if (fabs(ex[i] - 1) > 1e-12)
				FUZZ_FAIL("ROUGE-L %g of a text against itself", ex[i]);
	}
	free(ref);
	free(off);
	free(ex);
}

/* Cleaned text: valid UTF-8 without NUL, words separated by one space,
 * nwords of them, never empty. */
static void ft_check_clean(const char *w, size_t nw)
{
	size_t n = strlen(w), words = 1;
	if (!n || !pfm_utf8_valid(w, n))
		FUZZ_FAIL("cleaned text empty or not valid UTF-8");
	for (size_t i = 0; i < n; i++)
		if (w[i] == ' ') {
			if (!i || i + 1 == n || w[i + 1] == ' ')
				FUZZ_FAIL("cleaned text not single-spaced");
			words++;
		}
	if (words != nw)
		FUZZ_FAIL("cleaned text of %zu words, said %zu", words, nw);
}

static void ft_vocab_same(const pfm_vocab *a, const pfm_vocab *b, const char *how)
{
	if (pfm_vocab_size(a) != pfm_vocab_size(b) || pfm_vocab_rule(a) != pfm_vocab_rule(b))
		FUZZ_FAIL("%s: %d tokens became %d", how, pfm_vocab_size(a), pfm_vocab_size(b));
	for (int i = 0; i < pfm_vocab_size(a); i++)
		if (strcmp(pfm_vocab_token(a, i), pfm_vocab_token(b, i)))
			FUZZ_FAIL("%s: token %d changed", how, i);
}

/* Round trips of a vocabulary that was read: JSON, and the text form. */
static void ft_vocab_trips(const pfm_vocab *v)
{
	pfm_err e = {0};
	char *j1 = pfm_vocab_to_json(v, &e), *j2 = NULL;
	if (!j1)
		FUZZ_FAIL("to JSON: %s", e.msg);
	pfm_vocab *w = pfm_vocab_from_json(j1, strlen(j1), &e);
	if (!w)
		FUZZ_FAIL("its own JSON does not read: %s", e.msg);
	ft_vocab_same(v, w, "JSON round trip");
	if (pfm_vocab_min_count(v) != pfm_vocab_min_count(w))
		FUZZ_FAIL("JSON round trip: min_count changed");
	if (!(j2 = pfm_vocab_to_json(w, &e)) || strcmp(j1, j2))
		FUZZ_FAIL("JSON not a fixpoint");
	pfm_vocab_free(w);
	free(j2);
	char *txt = NULL;
	size_t tn = 0;
	FILE *f = open_memstream(&txt, &tn);
	for (int i = 0; f && i < pfm_vocab_size(v); i++)
		fprintf(f, "%s\n", pfm_vocab_token(v, i));
	if (!f || fclose(f))
		FUZZ_FAIL("out of memory");
	if (!(w = pfm_vocab_load_text(ft_file(txt, tn), pfm_vocab_rule(v), &e)))
		FUZZ_FAIL("its text form does not read: %s", e.msg);
	ft_vocab_same(v, w, "text round trip");
	pfm_vocab_free(w);
	free(txt);
	free(j1);
}

/* Encode and decode texts[0..n) with a vocabulary of their words seen
 * min_count times; score the encodings. */
static void ft_texts(char *const *texts, int n, pfm_clean_rule rule, long min_count)
{
	pfm_err e = {0};
	pfm_vocab_counter *c = pfm_vocab_counter_new(rule, &e);
	if (!c)
		FUZZ_FAIL("counter: %s", e.msg);
	n = n < FT_MAX_TEXTS ? n : FT_MAX_TEXTS;
	for (int i = 0; i < n; i++)
		if (pfm_vocab_counter_add(c, texts[i], strlen(texts[i]), &e))
			FUZZ_FAIL("counting: %s", e.msg);
	pfm_vocab *v = pfm_vocab_counter_finish(c, min_count, &e);
	pfm_vocab_counter_free(c);
	if (!v)
		FUZZ_FAIL("vocabulary of the texts: %s", e.msg);
	if (n)
		ft_vocab_trips(v);
	pfm_tokseq *seq = calloc(n + 1, sizeof *seq);
	for (int i = 0; seq && i < n; i++) {
		char *w, *d;
		int32_t *ids;
		size_t nw, nids;
		if (pfm_text_clean(&w, &nw, texts[i], strlen(texts[i]), rule, &e) ||
		    pfm_vocab_encode(v, texts[i], strlen(texts[i]), &ids, &nids, &e))
			FUZZ_FAIL("clean / encode: %s", e.msg);
		ft_check_clean(w, nw);
		if (nids != nw + 2 || ids[0] != PFM_TOK_BOS || ids[nids - 1] != PFM_TOK_EOS)
			FUZZ_FAIL("%zu words encoded as %zu ids", nw, nids);
		if (pfm_vocab_decode(v, ids, nids, &d, &e))
			FUZZ_FAIL("decode: %s", e.msg);
		if (min_count <= 1 && strcmp(w, d))
			FUZZ_FAIL("decoded \"%s\", cleaned \"%s\"", d, w);
		for (char *p = w, *q = d; min_count > 1 && (*p || *q);) {
			size_t lp = strcspn(p, " "), lq = strcspn(q, " ");
			if (!(lp == lq && !memcmp(p, q, lp)) && strncmp(q, "<unk>", lq > 5 ? lq : 5))
				FUZZ_FAIL("decoded \"%s\", cleaned \"%s\"", d, w);
			p += lp + !!p[lp];
			q += lq + !!q[lq];
		}
		seq[i].tok = ids;
		seq[i].len = (int)nids;
		free(w);
		free(d);
	}
	if (!seq)
		FUZZ_FAIL("out of memory");
	ft_metrics(seq, n);
	for (int i = 0; i < n; i++)
		free((void *)seq[i].tok);
	free(seq);
	pfm_vocab_free(v);
}

/* VQA answers against themselves, and against the next question's. */
static void ft_vqa(const pfm_gen_set *s)
{
	int n = s->n < FT_MAX_TEXTS ? s->n : FT_MAX_TEXTS;
	const char **a = malloc((n + 1) * sizeof *a), **b = malloc((n + 1) * sizeof *b);
	double *ex = malloc((n + 1) * sizeof *ex), *f1 = malloc((n + 1) * sizeof *f1);
	if (!a || !b || !ex || !f1)
		FUZZ_FAIL("out of memory");
	for (int i = 0; i < n; i++)
		a[i] = s->items[i].text, b[i] = s->items[(i + 1) % n].text;
	pfm_vqa_scores v;
	pfm_err e = {0};
	for (int self = 0; n && self < 2; self++) {
		if (pfm_vqa_score(&v, ex, f1, a, NULL, self ? a : b, NULL, n, &e))
			FUZZ_FAIL("VQA scores: %s", e.msg);
		if (v.n_closed + v.n_open != n)
			FUZZ_FAIL("%d closed + %d open of %d", v.n_closed, v.n_open, n);
		for (int i = 0; i < n; i++)
			if (!(f1[i] >= 0 && f1[i] <= 1) || (self && ex[i] != 1))
				FUZZ_FAIL("question %d: exact %g, F1 %g", i, ex[i], f1[i]);
		const double m[] = {v.closed_acc, v.open_exact, v.open_f1, v.open_bleu1};
		for (int k = 0; k < 4; k++)
			if (m[k] < 0 || m[k] > 1 + 1e-12)
				FUZZ_FAIL("VQA score %d is %g", k, m[k]);
	}
	free(a);
	free(b);
	free(ex);
	free(f1);
}

/* A read set: every item complete; then its texts through the tokenizer. */
static void ft_set(const pfm_gen_set *s, int qa)
{
	char **texts = malloc((s->n + 1) * sizeof *texts);
	if (!texts)
		FUZZ_FAIL("out of memory");
	for (int i = 0; i < s->n; i++) {
		const pfm_gen_item *it = &s->items[i];
		if (!it->id || !it->text || (qa && !it->question) || !it->where[0])
			FUZZ_FAIL("item %d read incomplete", i);
		if (qa && it->type != PFM_GEN_CLOSED && it->type != PFM_GEN_OPEN)
			FUZZ_FAIL("item %d: type %d", i, it->type);
		texts[i] = it->text;
	}
	ft_texts(texts, s->n, PFM_CLEAN_MIMIC_CXR, 1);
	if (qa)
		ft_vqa(s);
	free(texts);
}

static void ft_gen(int which, const uint8_t *data, size_t size)
{
	pfm_gen_set s = {0};
	pfm_err e = {0};
	const char *path = ft_file(data, size);
	int rc = which == FZ_ANNOTATION ? pfm_gen_read_annotation(&s, path, &e)
		 : which == FZ_CAPTIONS ? pfm_gen_read_captions(&s, path, &e)
					: pfm_gen_read_qa(&s, path, &e);
	if (rc)
		ft_said(&e, "reading");
	/* captions.csv with a split column is its own id,split CSV (read
	 * before ft_set reuses the memfd) */
	if (!rc && which == FZ_CAPTIONS) {
		if (pfm_gen_splits_csv(&s, path, &e))
			ft_said(&e, "splits");
		for (int i = 0; !e.msg[0] && i < s.n; i++)
			if (s.items[i].split < PFM_SPLIT_TRAIN || s.items[i].split > PFM_SPLIT_TEST)
				FUZZ_FAIL("item %d has split %d", i, s.items[i].split);
	}
	if (!rc)
		ft_set(&s, which == FZ_QA);
	pfm_gen_set_free(&s);
}

static void ft_vocab(int which, const uint8_t *data, size_t size)
{
	pfm_err e = {0};
	pfm_vocab *v;
	if (which == FZ_VOCAB_JSON)
		v = pfm_vocab_from_json((const char *)data + 1, size - 1, &e);
	else
		v = pfm_vocab_load_text(ft_file(data + 1, size - 1), data[0] & 1, &e);
	if (!v) {
		ft_said(&e, "vocabulary");
		return;
	}
	ft_vocab_trips(v);
	pfm_vocab_free(v);
}

/* data[0]: rule and min_count; then texts, one a line. */
static void ft_clean(const uint8_t *data, size_t size)
{
	char *buf = malloc(size), *texts[FT_MAX_TEXTS];
	int n = 0;
	if (!buf)
		FUZZ_FAIL("out of memory");
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = 0;
	for (char *p = buf; n < FT_MAX_TEXTS && p; n++) {
		texts[n] = p;
		if ((p = strchr(p, '\n')))
			*p++ = 0;
	}
	ft_texts(texts, n, data[0] & 1, data[0] >> 1 & 3);
	free(buf);
}

static void ft_key_ok(const char *k, const char *what)
{
	uint8_t bin[32];
	if (strlen(k) != PFM_Z85_KEY || !pfm_curve_is_key(k) || !zmq_z85_decode(bin, k))
		FUZZ_FAIL("%s key \"%s\" read but is not Z85", what, k);
}

static void ft_keys(int which, const uint8_t *data, size_t size)
{
	const char *path = ft_file(data, size);
	pfm_curve_pair k;
	char pub[PFM_Z85_KEY + 1], derived[PFM_Z85_KEY + 1];
	pfm_err e = {0};
	int pair = which == FZ_KEY_PAIR && !pfm_curve_read_pair(path, &k, &e);
	if (pair) {
		ft_key_ok(k.pub, "public");
		ft_key_ok(k.sec, "secret");
		if (zmq_curve_public(derived, k.sec) || strcmp(derived, k.pub))
			FUZZ_FAIL("a pair whose public key is not its secret key's");
	} else if (which == FZ_KEY_PAIR) {
		ft_said(&e, "key pair");
	}
	e.msg[0] = 0;
	if (!pfm_curve_read_public(path, pub, &e)) {
		ft_key_ok(pub, "public");
		if (pair && strcmp(pub, k.pub))
			FUZZ_FAIL("the pair's public key is not its public key");
	} else {
		ft_said(&e, "public key");
	}
	/* The bytes as a key given on the command line (never a name with a
	 * '/': only a Z85 key is wanted, not some file). */
	char arg[PFM_Z85_KEY + 1];
	if (which != FZ_KEY_PUBLIC || size != PFM_Z85_KEY || memchr(data, '/', size))
		return;
	memcpy(arg, data, size);
	arg[size] = 0;
	if (pfm_curve_is_key(arg)) {
		if (strlen(arg) != PFM_Z85_KEY)
			FUZZ_FAIL("a key of %zu characters", strlen(arg));
		if (access(arg, F_OK) && (pfm_curve_read_public(arg, pub, &e) || strcmp(pub, arg)))
			FUZZ_FAIL("key \"%s\" not read as itself", arg);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 1 << 16)
		return 0;
	int which = data[0] % FZ_N;
	data++, size--;
	switch (which) {
	case FZ_ANNOTATION:
	case FZ_CAPTIONS:
	case FZ_QA:
		ft_gen(which, data, size);
		break;
	case FZ_VOCAB_JSON:
	case FZ_VOCAB_TEXT:
		ft_vocab(which, data, size);
		break;
	case FZ_CLEAN:
		ft_clean(data, size);
		break;
	default:
		ft_keys(which, data, size);
	}
	return 0;
}
