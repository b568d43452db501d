/* text_tok.h: the word-level tokenizer of the report-generation and VQA
 * tasks: R2Gen's (Chen et al. 2020, cuhksz-nlp/R2Gen
 * modules/tokenizers.py), which HistGen (dddavid4real/HistGen) reuses
 * unchanged; its clean_report_pathology is R2Gen's clean_report_mimic_cxr
 * line for line.
 *
 * Cleaning, exactly as R2Gen's Python does it (tests/test_text.c checks
 * the words against that code run on the same texts), on bytes:
 *  0. the input is made valid UTF-8 first: NUL and each maximal
 *     ill-formed subpart (RFC 3629: no overlong forms, no surrogates,
 *     nothing above U+10FFFF) become U+FFFD, as Python's
 *     bytes.decode('utf-8', 'replace') does, so every word, and so the
 *     vocabulary, is valid UTF-8 without NUL.
 *  1. rule mimic_cxr only: "\n" -> " "; then "__" -> "_" 7 times, "  " ->
 *     " " 6 times, ".." -> "." 8 times (each a Python str.replace: all
 *     non-overlapping matches left to right, one pass; hence the
 *     repetitions, and longer runs survive them).
 *     rule iu_xray only: ".." -> "." 3 times.
 *  2. both: "1. " -> "" (also inside "11. " or "21. "); ". 2. ", ". 3. ",
 *     ". 4. ", ". 5. " -> ". "; then " 2. ", " 3. ", " 4. ", " 5. " -> ". ".
 *  3. strip whitespace at both ends, lower-case, split on ". " into
 *     sentences.
 *  4. each sentence: delete the characters " / \ ' ; strip; delete
 *     . , ? ; * ! % ^ & _ + ( ) ] { } and the range ':' to '[' (the
 *     regex class "[.,?;*!%^&_+():-\[\]{}]" has ":-\[" as a range, so
 *     : ; < = > ? @ [ go and the hyphen stays; digits, #, $, -, `, |, ~
 *     stay); split into words at whitespace.
 *  5. the words are each sentence's words followed by "." (R2Gen joins
 *     sentences with " . " and appends " ."): an empty sentence still
 *     gives ".", and an empty text the single word ".".
 * Whitespace is Python str.split()'s: ASCII \t \n \v \f \r space and
 * \x1c-\x1f, and U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029,
 * U+202F, U+205F, U+3000. Lower-casing is Python 3.11's str.lower()
 * (Unicode 14.0, from tables generated out of it: text_unicode_tab.h),
 * with its two special cases: U+0130 becomes "i\u0307", and a capital
 * sigma ending a word a final sigma. So the words are R2Gen's for any
 * text, but that a NUL is U+FFFD here and a NUL in Python.
 *
 * Vocabulary: the words of the training texts seen at least min_count
 * times (R2Gen's `count >= threshold`: 3 for IU X-ray, 10 for MIMIC-CXR),
 * sorted by bytes (= Python's code-point sort, as R2Gen sorts), after four
 * special tokens:
 *   0 <pad>   1 <bos>   2 <eos>   3 <unk>   4.. the words
 * R2Gen uses id 0 for pad, bos and eos alike and sorts "<unk>" in among
 * the words (ids from 1); distinct ids let a decoder tell a padded
 * position from the end of a report and start a report with a token
 * that cannot be its end. Cleaned words never contain '<' or '>', so no
 * word can collide with a special token. R2Gen's id of a word is
 * 1 + its rank in sorted(words + ["<unk>"]); ours is 4 + its rank in
 * sorted(words).
 *
 * Serialised forms (both name the problem on error):
 *  - JSON (for a safetensors "__metadata__" entry):
 *    {"format":"pathfm-vocab","version":1,"clean":"iu_xray",
 *     "min_count":3,"tokens":["<pad>","<bos>","<eos>","<unk>","a",...]}
 *    tokens[i] is id i.
 *  - text: one token per line, line i (from 0) is id i, the four special
 *    tokens first, each line ending in "\n". It carries no rule or
 *    min_count: the loader is told the rule, min_count reads as 0. */
#ifndef PFM_TEXT_TOK_H
#define PFM_TEXT_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum {
	PFM_TOK_PAD = 0,
	PFM_TOK_BOS = 1,
	PFM_TOK_EOS = 2,
	PFM_TOK_UNK = 3,
	PFM_TOK_FIRST_WORD = 4
};

typedef enum {
	PFM_CLEAN_IU_XRAY = 0,  /* R2Gen clean_report_iu_xray */
	PFM_CLEAN_MIMIC_CXR = 1 /* R2Gen clean_report_mimic_cxr = HistGen's */
} pfm_clean_rule;

/* "iu_xray" or "mimic_cxr"; NULL for anything else. */
const char *pfm_clean_rule_name(pfm_clean_rule r);
/* Parse "iu_xray", "mimic_cxr" (or "histgen", the same rule). 0 or -1. */
int pfm_clean_rule_parse(const char *name, pfm_clean_rule *r, pfm_err *e);

/* Clean text[0..n) (any bytes) and return its words joined by single
 * spaces in *out (malloc'd, NUL-terminated; never empty: at least ".");
 * *nwords (may be NULL) gets the word count. R2Gen's
 * ' '.join(clean_report(text).split()). 0 or -1 (out of memory, or a
 * text over 1 GiB). */
int pfm_text_clean(char **out, size_t *nwords, const char *text, size_t n,
		   pfm_clean_rule rule, pfm_err *e);

typedef struct pfm_vocab pfm_vocab;
typedef struct pfm_vocab_counter pfm_vocab_counter;

/* Counting words of training texts, one text at a time, then the
 * vocabulary of those with count >= min_count (min_count <= 1: all). */
pfm_vocab_counter *pfm_vocab_counter_new(pfm_clean_rule rule, pfm_err *e);
int pfm_vocab_counter_add(pfm_vocab_counter *c, const char *text, size_t n,
			  pfm_err *e);
/* The counter stays usable (and must still be freed). NULL on error. */
pfm_vocab *pfm_vocab_counter_finish(const pfm_vocab_counter *c,
				    long min_count, pfm_err *e);
void pfm_vocab_counter_free(pfm_vocab_counter *c);

void pfm_vocab_free(pfm_vocab *v);
pfm_clean_rule pfm_vocab_rule(const pfm_vocab *v);
long pfm_vocab_min_count(const pfm_vocab *v);
/* Number of ids, the four special tokens included. */
int pfm_vocab_size(const pfm_vocab *v);
/* The token of id (NUL-terminated), NULL when id is out of range. */
const char *pfm_vocab_token(const pfm_vocab *v, int id);
/* The id of word[0..n) as is (not cleaned), PFM_TOK_UNK if absent. */
int pfm_vocab_lookup(const pfm_vocab *v, const char *word, size_t n);

/* Clean text[0..n) and map its words: *ids (malloc'd) gets
 * <bos> w1 .. wk <eos> (unknown words -> <unk>), *nids = k + 2.
 * R2Gen's tokenizer(text) with our ids; truncating to a maximum length
 * is the caller's (R2Gen cuts ids[:max_seq_length], dropping <eos>). */
int pfm_vocab_encode(const pfm_vocab *v, const char *text, size_t n,
		     int32_t **ids, size_t *nids, pfm_err *e);

/* ids[0..n) to text: tokens joined by single spaces, <bos> skipped,
 * stopping at the first <eos> or <pad>; <unk> prints as "<unk>". *text
 * is malloc'd, "" when no word. An id outside [0, size) is an error
 * naming its position. */
int pfm_vocab_decode(const pfm_vocab *v, const int32_t *ids, size_t n,
		     char **text, pfm_err *e);

/* The JSON form above, malloc'd and NUL-terminated; NULL on error. */
char *pfm_vocab_to_json(const pfm_vocab *v, pfm_err *e);
/* Read the JSON form; checks format, version, rule, the special tokens,
 * that every word is non-empty, valid UTF-8 without whitespace, and
 * unique. NULL on error. */
pfm_vocab *pfm_vocab_from_json(const char *json, size_t n, pfm_err *e);

/* The text form above, written atomically (path.tmp, then rename). */
int pfm_vocab_save_text(const pfm_vocab *v, const char *path, pfm_err *e);
/* Read the text form, with the same checks as from_json; errors name
 * path and line. */
pfm_vocab *pfm_vocab_load_text(const char *path, pfm_clean_rule rule,
			       pfm_err *e);

#endif
