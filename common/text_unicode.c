/* text_unicode.c: Python's str.lower() and re's \w on valid UTF-8
 * (text_utf8.h), from tables generated out of Python itself
 * (text_unicode_tab.h). */
#include <stdint.h>
#include <stdlib.h>

#include "text_unicode_tab.h"
#include "text_utf8.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))

/* The code point at s (valid UTF-8), its length in *k. */
static uint32_t decode(const unsigned char *s, size_t *k)
{
	if (s[0] < 0x80) {
		*k = 1;
		return s[0];
	}
	*k = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	uint32_t cp = s[0] & (0x7f >> *k);
	for (size_t i = 1; i < *k; i++)
		cp = cp << 6 | (s[i] & 0x3f);
	return cp;
}

static size_t encode(char *d, uint32_t cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	size_t k = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
	for (size_t i = k - 1; i > 0; i--, cp >>= 6)
		d[i] = (char)(0x80 | (cp & 0x3f));
	d[0] = (char)((0xf00 >> k) | cp);
	return k;
}

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cp < r[mid][0])
			hi = mid;
		else if (cp > r[mid][1])
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

static uint32_t lower_cp(uint32_t cp)
{
	size_t lo = 0, hi = COUNT(lower_runs);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct lower_run *r = &lower_runs[mid];
		if (cp < r->first)
			hi = mid;
		else if (cp > r->last)
			lo = mid + 1;
		else
			return (cp - r->first) % r->step ? cp : (uint32_t)((int32_t)cp + r->delta);
	}
	return cp;
}

static int ignorable(uint32_t cp)
{
	return in_ranges(case_ignorable, COUNT(case_ignorable), cp);
}

/* Python's handle_capital_sigma: s[i] is U+03A3 in s[0..n); final when a
 * cased letter precedes it and none follows (case-ignorables skipped). */
static int final_sigma(const unsigned char *s, size_t n, size_t i)
{
	size_t j = i, k;
	uint32_t c = 0;
	int found = 0;
	while (j > 0) {
		do
			j--;
		while (j > 0 && (s[j] & 0xc0) == 0x80);
		c = decode(s + j, &k);
		if (!ignorable(c)) {
			found = 1;
			break;
		}
	}
	if (!found || !in_ranges(cased, COUNT(cased), c))
		return 0;
	for (j = i + 2; j < n; j += k) { /* U+03A3 is 2 bytes */
		c = decode(s + j, &k);
		if (!ignorable(c))
			return !in_ranges(cased, COUNT(cased), c);
	}
	return 1;
}

size_t pfm_utf8_lower(char *dst, const char *src, size_t n)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t w = 0, k;
	for (size_t i = 0; i < n; i += k) {
		if (s[i] < 0x80) {
			k = 1;
			dst[w++] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
			continue;
		}
		uint32_t cp = decode(s + i, &k);
		if (cp == 0x130) { /* the one lower-case of two code points */
			dst[w++] = 'i';
			w += encode(dst + w, 0x307);
		} else if (cp == 0x3a3) {
			w += encode(dst + w, final_sigma(s, n, i) ? 0x3c2 : 0x3c3);
		} else {
			w += encode(dst + w, lower_cp(cp));
		}
	}
	return w;
}

int pfm_utf8_is_word(const char *s, size_t n, size_t *k)
{
	const unsigned char *p = (const unsigned char *)s;
	(void)n;
	if (p[0] < 0x80) {
		*k = 1;
		return (p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z') ||
		       (p[0] >= '0' && p[0] <= '9') || p[0] == '_';
	}
	return in_ranges(word_chars, COUNT(word_chars), decode(p, k));
}
