/* slide_list.c: the --slides file. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "slide.h"

static int push(pfm_slide_list *l, pfm_slide_entry *en, pfm_err *e)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 16;
		pfm_slide_entry *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return pfm_errf(e, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *en;
	return 0;
}

static void entry_free(pfm_slide_entry *en)
{
	free(en->id);
	free(en->path);
	for (int i = 0; i < en->ncols; i++) {
		free(en->keys[i]);
		free(en->vals[i]);
	}
	free(en->keys);
	free(en->vals);
}

void pfm_slide_list_free(pfm_slide_list *l)
{
	for (int i = 0; i < l->n; i++)
		entry_free(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* The slide id of a path: its base name without the extension. */
static char *base_id(const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	const char *dot = strrchr(b, '.');
	size_t n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
	return strndup(b, n);
}

int pfm_slide_list_add(pfm_slide_list *l, const char *path, pfm_err *e)
{
	pfm_slide_entry en = {.id = base_id(path), .path = strdup(path)};
	if (!en.id || !en.path || push(l, &en, e)) {
		entry_free(&en);
		return pfm_errf(e, "out of memory");
	}
	return 0;
}

/* A relative path in a list file is relative to the list's folder (a
 * CSV beside its slides works from anywhere). base: that folder with its
 * '/', or "" for the current one. */
static char *resolve(const char *base, const char *path)
{
	char *r;
	if (!base[0] || path[0] == '/' || !path[0])
		return strdup(path);
	return asprintf(&r, "%s%s", base, path) < 0 ? NULL : r;
}

/* Split a CSV line in place (RFC 4180 quotes, "" inside quotes). */
static int split(char *s, char **f, int max)
{
	int n = 0;
	for (;;) {
		char *out = s, *start = s;
		if (*s == '"') {
			s++;
			for (; *s; s++) {
				if (*s == '"') {
					if (s[1] != '"')
						break;
					s++;
				}
				*out++ = *s;
			}
			if (*s == '"')
				s++;
			while (*s && *s != ',')
				s++;
		} else {
			while (*s && *s != ',')
				s++;
			out = s;
		}
		int more = *s == ',';
		*out = 0;
		if (n < max)
			f[n++] = start;
		if (!more)
			return n;
		s++;
	}
}

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = 0;
}

#define MAX_COLS 64

int pfm_slide_list_read(pfm_slide_list *l, const char *file, pfm_err *e)
{
	FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!f)
		return pfm_errf(e, "%s: %s", file, strerror(errno));
	char *line = NULL, *hdr = NULL, *path = NULL;
	size_t cap = 0;
	const char *slash = f == stdin ? NULL : strrchr(file, '/');
	char *base = strndup(file, slash ? (size_t)(slash - file + 1) : 0);
	if (!base) {
		if (f != stdin)
			fclose(f);
		return pfm_errf(e, "out of memory");
	}
	char *cols[MAX_COLS], *fld[MAX_COLS];
	int ncols = 0, id_col = -1, path_col = -1, rc = 0, lineno = 0, first = 1;
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		chomp(line);
		if (!line[0] || line[0] == '#')
			continue;
		if (first) {
			first = 0;
			/* A first line naming a path column makes it a CSV. */
			char *copy = strdup(line);
			if (!copy) {
				rc = pfm_errf(e, "out of memory");
				break;
			}
			int n = split(copy, cols, MAX_COLS);
			for (int i = 0; i < n; i++) {
				if (!strcmp(cols[i], "path"))
					path_col = i;
				if (!strcmp(cols[i], "slide_id"))
					id_col = i;
			}
			if (path_col >= 0) {
				hdr = copy;
				ncols = n;
				continue;
			}
			free(copy);
		}
		if (path_col < 0) {
			free(path);
			if (!(path = resolve(base, line))) {
				rc = pfm_errf(e, "out of memory");
				break;
			}
			if ((rc = pfm_slide_list_add(l, path, e)))
				break;
			continue;
		}
		int n = split(line, fld, MAX_COLS);
		if (n != ncols) {
			rc = pfm_errf(e, "%s:%d: %d fields, the header has %d",
				      file, lineno, n, ncols);
			break;
		}
		pfm_slide_entry en = {0};
		en.path = resolve(base, fld[path_col]);
		en.id = id_col >= 0 ? strdup(fld[id_col]) : base_id(fld[path_col]);
		en.keys = calloc(ncols, sizeof(char *));
		en.vals = calloc(ncols, sizeof(char *));
		int bad = !en.path || !en.id || !en.keys || !en.vals;
		for (int i = 0; !bad && i < ncols; i++) {
			if (i == path_col || i == id_col)
				continue;
			en.keys[en.ncols] = strdup(cols[i]);
			en.vals[en.ncols] = strdup(fld[i]);
			en.ncols++;
			bad = !en.keys[en.ncols - 1] || !en.vals[en.ncols - 1];
		}
		if (!bad && !en.path[0]) {
			entry_free(&en);
			rc = pfm_errf(e, "%s:%d: empty path", file, lineno);
			break;
		}
		if (bad || push(l, &en, e)) {
			entry_free(&en);
			rc = pfm_errf(e, "out of memory");
			break;
		}
	}
	if (!rc && ferror(f))
		rc = pfm_errf(e, "%s: %s", file, strerror(errno));
	free(line);
	free(hdr);
	free(path);
	free(base);
	if (f != stdin)
		fclose(f);
	return rc;
}

static int visible(const struct dirent *d) { return d->d_name[0] != '.'; }

int pfm_slide_list_add_dir(pfm_slide_list *l, const char *dir, pfm_err *e)
{
	struct dirent **cls;
	int n = scandir(dir, &cls, visible, alphasort), rc = 0, added = 0;
	if (n < 0)
		return pfm_errf(e, "%s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		char sub[4096];
		struct stat st;
		snprintf(sub, sizeof sub, "%s/%s", dir, cls[i]->d_name);
		if (rc || stat(sub, &st) || !S_ISDIR(st.st_mode))
			continue;
		struct dirent **fs;
		int m = scandir(sub, &fs, visible, alphasort);
		for (int k = 0; k < m; k++) {
			char path[4096 + 256], *id = NULL;
			snprintf(path, sizeof path, "%s/%s", sub, fs[k]->d_name);
			if (!rc && !stat(path, &st) && S_ISREG(st.st_mode)) {
				/* slide_id: class/name, so names may repeat across classes. */
				char *b = base_id(path);
				pfm_slide_entry en = {.path = strdup(path), .ncols = 1};
				if (b && asprintf(&id, "%s/%s", cls[i]->d_name, b) < 0)
					id = NULL;
				free(b);
				en.id = id;
				en.keys = calloc(1, sizeof(char *));
				en.vals = calloc(1, sizeof(char *));
				if (en.keys && en.vals) {
					en.keys[0] = strdup("label");
					en.vals[0] = strdup(cls[i]->d_name);
				}
				if (!en.id || !en.path || !en.keys || !en.vals ||
				    !en.keys[0] || !en.vals[0] || push(l, &en, e)) {
					entry_free(&en);
					rc = pfm_errf(e, "out of memory");
				} else {
					added++;
				}
			}
			free(fs[k]);
		}
		if (m >= 0)
			free(fs);
	}
	for (int i = 0; i < n; i++)
		free(cls[i]);
	free(cls);
	if (!rc && !added)
		rc = pfm_errf(e, "%s: no images in class folders (DIR/CLASS/IMAGE)", dir);
	return rc;
}
