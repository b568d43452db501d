/* text_utf8.c: see text_utf8.h. */
#include "text_utf8.h"

#include <string.h>

/* The length of the well-formed sequence at s[0..n) (Unicode table 3-7),
 * or 0 with *bad set to the length of its maximal ill-formed subpart
 * (at least 1). */
static size_t seq_len(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c = s[0];
	if (c >= 0x01 && c < 0x80)
		return 1;
	size_t need;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f;
	} else {
		*bad = 1; /* NUL, a continuation byte, C0, C1, F5..FF */
		return 0;
	}
	for (size_t k = 1; k <= need; k++) {
		if (k >= n || s[k] < lo || s[k] > hi) {
			*bad = k;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

size_t pfm_utf8_sanitize(char *dst, const char *src, size_t n)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t w = 0;
	for (size_t i = 0; i < n;) {
		size_t bad = 0, k = seq_len(s + i, n - i, &bad);
		if (k) {
			memcpy(dst + w, s + i, k);
			w += k;
			i += k;
		} else {
			memcpy(dst + w, "\xef\xbf\xbd", 3);
			w += 3;
			i += bad;
		}
	}
	return w;
}

int pfm_utf8_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t bad, k = seq_len((const unsigned char *)s + i, n - i, &bad);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

/* Python's non-ASCII whitespace: U+0085, U+00A0, U+1680, U+2000..U+200A,
 * U+2028, U+2029, U+202F, U+205F, U+3000. */
static int wide_space(const unsigned char *p, size_t k)
{
	if (k == 2)
		return p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0);
	if (p[0] == 0xe1)
		return p[1] == 0x9a && p[2] == 0x80;
	if (p[0] == 0xe2 && p[1] == 0x80)
		return p[2] <= 0x8a || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf;
	if (p[0] == 0xe2)
		return p[1] == 0x81 && p[2] == 0x9f;
	return p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80;
}

size_t pfm_utf8_space(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	if (!n)
		return 0;
	if (pfm_ascii_space(p[0]))
		return 1;
	if (n >= 2 && p[0] == 0xc2 && wide_space(p, 2))
		return 2;
	if (n >= 3 && (p[0] == 0xe1 || p[0] == 0xe2 || p[0] == 0xe3) && wide_space(p, 3))
		return 3;
	return 0;
}

size_t pfm_utf8_space_before(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	if (!n)
		return 0;
	if (pfm_ascii_space(p[n - 1]))
		return 1;
	if (n >= 2 && p[n - 2] == 0xc2 && wide_space(p + n - 2, 2))
		return 2;
	if (n >= 3 && (p[n - 3] == 0xe1 || p[n - 3] == 0xe2 || p[n - 3] == 0xe3) &&
	    wide_space(p + n - 3, 3))
		return 3;
	return 0;
}
