/* text_vocab_int.h: the vocabulary's insides, shared by text_vocab.c
 * and text_vocab_io.c. */
#ifndef PFM_TEXT_VOCAB_INT_H
#define PFM_TEXT_VOCAB_INT_H

#include "text_hash.h"
#include "text_tok.h"

struct pfm_vocab {
	pfm_clean_rule rule;
	long min_count;
	pfm_strmap map; /* token -> id, ids in order */
};

extern const char *const pfm_tok_special[PFM_TOK_FIRST_WORD];

/* A vocabulary of tok[0..n) (tok[i] of len[i] bytes is id i) after the
 * checks of pfm_vocab_from_json; errors name the id ("token 12 ..."), or
 * with lines = 1 the line of the text form ("line 13 ..."). */
pfm_vocab *pfm_vocab_of_tokens(const char *const *tok, const size_t *len, size_t n,
			       pfm_clean_rule rule, long min_count, int lines, pfm_err *e);

#endif
