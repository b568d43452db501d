/* text_utf8.h: the UTF-8 the tokenizer needs: repair, validity,
 * Python's whitespace (str.split() / str.strip()), str.lower() and re's
 * \w. */
#ifndef PFM_TEXT_UTF8_H
#define PFM_TEXT_UTF8_H

#include <stddef.h>

/* Python's ASCII whitespace: \t \n \v \f \r, \x1c-\x1f, space. */
static inline int pfm_ascii_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* Copy src[0..n) to dst (3n bytes suffice) replacing NUL and each
 * maximal ill-formed subpart with U+FFFD, as Python's
 * bytes.decode('utf-8', 'replace') does (Unicode's recommended practice).
 * Returns the bytes written. */
size_t pfm_utf8_sanitize(char *dst, const char *src, size_t n);

/* 1 if s[0..n) is well-formed UTF-8 without NUL, else 0. */
int pfm_utf8_valid(const char *s, size_t n);

/* Python's str.lower() of the valid UTF-8 src[0..n) into dst (3n/2 + 1
 * bytes suffice: U+0130 becomes "i\u0307", a few 2-byte letters have
 * 3-byte lower cases), Final_Sigma included. Returns the bytes written. */
size_t pfm_utf8_lower(char *dst, const char *src, size_t n);

/* Whether the character that starts the valid UTF-8 s[0..n) is a \w of
 * Python's re (str patterns); *k gets its length in bytes. */
int pfm_utf8_is_word(const char *s, size_t n, size_t *k);

/* The byte length of the whitespace character that starts s[0..n)
 * (resp. ends it), 0 if it is not one. s must be valid UTF-8. */
size_t pfm_utf8_space(const char *s, size_t n);
size_t pfm_utf8_space_before(const char *s, size_t n);

#endif
