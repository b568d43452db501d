/* csv.c: small CSV tables (csv.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "mem.h"

/* Split one line (no line end) into malloc'd fields: the count, or
 * -2 on an unterminated quote / -1 out of memory (fields freed). */
static int split(const char *s, char ***out, size_t *cap)
{
	int n = 0, rc = -1;
	for (;;) {
		size_t len = strlen(s);
		char *f = malloc(len + 1), *o = f;
		if (!f)
			goto fail;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '"') {
			s++;
			for (;;) {
				if (!*s) {
					free(f);
					rc = -2;
					goto fail;
				}
				if (*s == '"' && s[1] == '"') {
					*o++ = '"';
					s += 2;
				} else if (*s == '"') {
					s++;
					break;
				} else {
					*o++ = *s++;
				}
			}
			while (*s == ' ' || *s == '\t')
				s++;
			if (*s && *s != ',') {
				free(f);
				rc = -2;
				goto fail;
			}
		} else {
			while (*s && *s != ',')
				*o++ = *s++;
			while (o > f && (o[-1] == ' ' || o[-1] == '\t'))
				o--;
		}
		*o = 0;
		if (pfm_grow(out, cap, (n + 1) * sizeof **out)) {
			free(f);
			goto fail;
		}
		(*out)[n++] = f;
		if (*s != ',')
			return n;
		s++;
	}
fail:
	while (n)
		free((*out)[--n]);
	return rc;
}

void pfm_csv_free(pfm_csv *t)
{
	for (int i = 0; i < t->ncols; i++)
		free(t->head[i]);
	for (long i = 0; i < (long)t->nrows * t->ncols; i++)
		free(t->cell[i]);
	free(t->head), free(t->cell), free(t->line), free(t->path);
	memset(t, 0, sizeof *t);
}

int pfm_csv_read(pfm_csv *t, const char *path, pfm_err *e)
{
	memset(t, 0, sizeof *t);
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f)
		return pfm_errf(e, "%s: %s", path, strerror(errno));
	t->path = strdup(path);
	char *line = NULL, **fld = NULL;
	size_t lcap = 0, fcap = 0, ccap = 0, rcap = 0;
	int lineno = 0, rc = 0;
	ssize_t len;
	while ((len = getline(&line, &lcap, f)) > 0) {
		lineno++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		if (lineno == 1 && !memcmp(line, "\xef\xbb\xbf", 3))
			memmove(line, line + 3, strlen(line + 3) + 1); /* BOM */
		int n = split(line, &fld, &fcap);
		if (n < 0) {
			rc = pfm_errf(e, "%s:%d: %s", path, lineno,
				      n == -2 ? "bad quoting" : "out of memory");
			break;
		}
		if (!t->head) {
			t->head = fld;
			t->ncols = n;
			fld = NULL, fcap = 0;
			for (int i = 0; i < n && !rc; i++)
				for (int j = 0; j < i; j++)
					if (!strcmp(t->head[i], t->head[j])) {
						rc = pfm_errf(e, "%s:%d: column '%s' named twice",
							      path, lineno, t->head[i]);
						break;
					}
			if (rc)
				break;
			continue;
		}
		if (n != t->ncols) {
			for (int i = 0; i < n; i++)
				free(fld[i]);
			rc = pfm_errf(e, "%s:%d: %d fields, the header has %d", path,
				      lineno, n, t->ncols);
			break;
		}
		if (pfm_grow(&t->cell, &ccap, sizeof *t->cell * ((size_t)t->nrows + 1) * t->ncols) ||
		    pfm_grow(&t->line, &rcap, sizeof *t->line * ((size_t)t->nrows + 1))) {
			for (int i = 0; i < n; i++)
				free(fld[i]);
			rc = pfm_errf(e, "out of memory");
			break;
		}
		memcpy(t->cell + (size_t)t->nrows * t->ncols, fld, sizeof *fld * n);
		t->line[t->nrows++] = lineno;
	}
	if (!rc && ferror(f))
		rc = pfm_errf(e, "%s: %s", path, strerror(errno));
	if (!rc && !t->head)
		rc = pfm_errf(e, "%s: empty (no header row)", path);
	free(line), free(fld);
	if (f != stdin)
		fclose(f);
	if (rc)
		pfm_csv_free(t);
	return rc;
}

int pfm_csv_col(const pfm_csv *t, const char *name)
{
	for (int i = 0; i < t->ncols; i++)
		if (!strcmp(t->head[i], name))
			return i;
	return -1;
}
