/* text_clean.c: R2Gen's report cleaning on bytes (rules in text_tok.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "text_tok.h"
#include "text_utf8.h"

const char *pfm_clean_rule_name(pfm_clean_rule r)
{
	return r == PFM_CLEAN_IU_XRAY ? "iu_xray" : r == PFM_CLEAN_MIMIC_CXR ? "mimic_cxr" : NULL;
}

int pfm_clean_rule_parse(const char *name, pfm_clean_rule *r, pfm_err *e)
{
	if (!strcmp(name, "iu_xray"))
		*r = PFM_CLEAN_IU_XRAY;
	else if (!strcmp(name, "mimic_cxr") || !strcmp(name, "histgen"))
		*r = PFM_CLEAN_MIMIC_CXR;
	else
		return pfm_errf(e, "unknown cleaning rule '%s' (iu_xray, mimic_cxr or histgen)",
				name);
	return 0;
}

/* Python's s.replace(from, to) on s[0..*n), in place: every rule's `to`
 * is no longer than its `from`, so writing never overtakes reading. */
static void replace_all(char *s, size_t *n, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), w = 0;
	for (size_t r = 0; r < *n;) {
		if (r + fl <= *n && !memcmp(s + r, from, fl)) {
			memcpy(s + w, to, tl);
			w += tl;
			r += fl;
		} else {
			s[w++] = s[r++];
		}
	}
	*n = w;
}

static void replace_times(char *s, size_t *n, const char *from, const char *to, int times)
{
	while (times--)
		replace_all(s, n, from, to);
}

/* R2Gen's report_cleaner up to the lower-casing (steps 1 and 2). */
static void report_replace(char *s, size_t *n, pfm_clean_rule rule)
{
	if (rule == PFM_CLEAN_MIMIC_CXR) {
		replace_all(s, n, "\n", " ");
		replace_times(s, n, "__", "_", 7);
		replace_times(s, n, "  ", " ", 6);
		replace_times(s, n, "..", ".", 8);
	} else {
		replace_times(s, n, "..", ".", 3);
	}
	replace_all(s, n, "1. ", "");
	static const char *const num[] = {"2", "3", "4", "5"};
	char from[8];
	for (int i = 0; i < 4; i++) {
		snprintf(from, sizeof from, ". %s. ", num[i]);
		replace_all(s, n, from, ". ");
	}
	for (int i = 0; i < 4; i++) {
		snprintf(from, sizeof from, " %s. ", num[i]);
		replace_all(s, n, from, ". ");
	}
}

/* What sent_cleaner deletes: " / \ ' and the regex class
 * [.,?;*!%^&_+():-\[\]{}] (":-\[" being the range ':' to '['). */
static int deleted(unsigned char c)
{
	return (c >= ':' && c <= '[') || (c && strchr("\"/\\'.,?;*!%^&_+()]{}", c));
}

/* Append word w[0..n) to the growing *out. */
static int put_word(char **out, size_t *len, size_t *cap, size_t *nw, const char *w,
		    size_t n, pfm_err *e)
{
	if (pfm_grow(out, cap, *len + n + 2))
		return pfm_errf(e, "out of memory (cleaned text of %zu bytes)", *len + n);
	if (*len)
		(*out)[(*len)++] = ' ';
	memcpy(*out + *len, w, n);
	*len += n;
	(*out)[*len] = 0;
	(*nw)++;
	return 0;
}

/* One sentence s[0..n): its words after the deletions, then ".". The
 * deletions are done in place (the sentence is not needed after). */
static int put_sentence(char **out, size_t *len, size_t *cap, size_t *nw, char *s,
			size_t n, pfm_err *e)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!deleted((unsigned char)s[i]))
			s[m++] = s[i];
	for (size_t i = 0; i < m;) {
		size_t k;
		while (i < m && (k = pfm_utf8_space(s + i, m - i)))
			i += k;
		size_t w = i;
		while (i < m && !pfm_utf8_space(s + i, m - i))
			i++;
		if (i > w && put_word(out, len, cap, nw, s + w, i - w, e))
			return -1;
	}
	return put_word(out, len, cap, nw, ".", 1, e);
}

int pfm_text_clean(char **out, size_t *nwords, const char *text, size_t n,
		   pfm_clean_rule rule, pfm_err *e)
{
	*out = NULL;
	if (nwords)
		*nwords = 0;
	if (rule != PFM_CLEAN_IU_XRAY && rule != PFM_CLEAN_MIMIC_CXR)
		return pfm_errf(e, "unknown cleaning rule %d", (int)rule);
	if (n > ((size_t)1 << 30))
		return pfm_errf(e, "a text of %zu bytes (the limit is 1 GiB)", n);
	/* Each invalid byte may become the 3 bytes of U+FFFD. */
	char *s = malloc(3 * n + 1);
	if (!s)
		return pfm_errf(e, "out of memory (a text of %zu bytes)", n);
	size_t len = pfm_utf8_sanitize(s, text, n);
	report_replace(s, &len, rule);
	size_t a = 0, b = len, k;
	while (a < b && (k = pfm_utf8_space(s + a, b - a)))
		a += k;
	while (b > a && (k = pfm_utf8_space_before(s + a, b - a)))
		b -= k;
	char *low = malloc((b - a) / 2 * 3 + 4);
	if (!low) {
		free(s);
		return pfm_errf(e, "out of memory (a text of %zu bytes)", n);
	}
	b = pfm_utf8_lower(low, s + a, b - a);
	a = 0;
	free(s);
	s = low;
	char *o = NULL;
	size_t olen = 0, ocap = 0, nw = 0;
	int rc = 0;
	/* Python's split('. '): sentences end at each ". ", left to right. */
	for (size_t i = a, start = a;; i++) {
		if (i == b || (i + 1 < b && s[i] == '.' && s[i + 1] == ' ')) {
			rc = put_sentence(&o, &olen, &ocap, &nw, s + start, i - start, e);
			if (rc || i == b)
				break;
			start = i + 2;
			i++;
		}
	}
	free(s);
	if (rc) {
		free(o);
		return -1;
	}
	*out = o;
	if (nwords)
		*nwords = nw;
	return 0;
}
