/* probe_data.c: labelled instances from embedding frames. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csv.h"
#include "mem.h"
#include "mil.h"   /* pfm_emb_get, pfm_tensor_copy_f32 */
#include "probe.h"

void pfm_probe_set_free(pfm_probe_set *s)
{
	free(s->x), free(s->lab);
	memset(s, 0, sizeof *s);
}

void pfm_probe_reader_free(pfm_probe_reader *r)
{
	for (int i = 0; i < r->nlabels; i++)
		free(r->labels[i]);
	for (int i = 0; i < r->nmap; i++)
		free(r->map_id[i]), free(r->map_label[i]);
	free(r->labels), free(r->map_id), free(r->map_label), free(r->emb);
	const char *want = r->want_emb;
	memset(r, 0, sizeof *r);
	r->want_emb = want;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **sort_ids;
static int by_id(const void *a, const void *b)
{
	return strcmp(sort_ids[*(const int *)a], sort_ids[*(const int *)b]);
}

int pfm_probe_reader_labels(pfm_probe_reader *r, const char *path, pfm_err *e)
{
	pfm_csv t;
	if (pfm_csv_read(&t, path, e))
		return -1;
	int cs = pfm_csv_col(&t, "slide_id"), cl = pfm_csv_col(&t, "label");
	if (cs < 0 || cl < 0) {
		pfm_csv_free(&t);
		return pfm_errf(e, "%s: the columns are slide_id and label", path);
	}
	char **ids = calloc(t.nrows + 1, sizeof *ids), **labs = calloc(t.nrows + 1, sizeof *labs);
	int *ord = malloc(sizeof *ord * (t.nrows + 1)), rc = 0;
	if (!ids || !labs || !ord) {
		rc = pfm_errf(e, "out of memory");
		goto out;
	}
	for (int i = 0; i < t.nrows; i++) {
		ids[i] = strdup(pfm_csv_get(&t, i, cs));
		labs[i] = strdup(pfm_csv_get(&t, i, cl));
		ord[i] = i;
		if (!*labs[i]) {
			rc = pfm_errf(e, "%s:%d: slide '%s' has an empty label", path, t.line[i], ids[i]);
			goto out;
		}
	}
	sort_ids = ids;
	qsort(ord, t.nrows, sizeof *ord, by_id);
	r->map_id = malloc(sizeof *r->map_id * (t.nrows + 1));
	r->map_label = malloc(sizeof *r->map_label * (t.nrows + 1));
	if (!r->map_id || !r->map_label) {
		rc = pfm_errf(e, "out of memory");
		goto out;
	}
	for (int i = 0; i < t.nrows; i++) {
		if (i && !strcmp(ids[ord[i]], r->map_id[i - 1])) {
			rc = pfm_errf(e, "%s:%d: slide '%s' is labelled twice", path,
				      t.line[ord[i]], ids[ord[i]]);
			goto out;
		}
		r->map_id[i] = ids[ord[i]], r->map_label[i] = labs[ord[i]];
		ids[ord[i]] = labs[ord[i]] = NULL;
		r->nmap++;
	}
out:
	for (int i = 0; ids && labs && i < t.nrows; i++)
		free(ids[i]), free(labs[i]);
	free(ids), free(labs), free(ord);
	pfm_csv_free(&t);
	return rc;
}

static const char *map_find(const pfm_probe_reader *r, const char *id, size_t n)
{
	int lo = 0, hi = r->nmap;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		int c = strncmp(r->map_id[mid], id, n);
		if (!c && r->map_id[mid][n])
			c = 1;
		if (!c)
			return r->map_label[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int intern(pfm_probe_reader *r, const char *s, size_t n)
{
	for (int i = 0; i < r->nlabels; i++)
		if (strlen(r->labels[i]) == n && !memcmp(r->labels[i], s, n))
			return i;
	char **nl = realloc(r->labels, sizeof *nl * (r->nlabels + 1));
	if (!nl)
		return -1;
	r->labels = nl;
	if (!(r->labels[r->nlabels] = strndup(s, n)))
		return -1;
	return r->nlabels++;
}

static int add_frame(pfm_probe_set *s, pfm_probe_reader *r, const pfm_frame *f,
		     const char *src, pfm_err *e)
{
	unsigned long long fi = (unsigned long long)f->index;
	const msgpack_object *emb = pfm_get(f, "emb");
	if ((!pfm_frame_is(f, PFM_T_EMBEDDING) && !pfm_frame_is(f, PFM_T_TILE)) ||
	    (pfm_frame_is(f, PFM_T_TILE) && !emb)) {
		r->other++;
		return 0;
	}
	pfm_tensor t;
	if (pfm_emb_get(f, r->want_emb, &r->emb, &t, src, e))
		return -1;
	const char *sid = "";
	size_t sn = 0;
	pfm_err ig;
	pfm_get_str(f, "slide_id", &sid, &sn, &ig);
	if (t.ndim < 1 || t.ndim > 2)
		return pfm_errf(e, "%s: frame %llu: emb.%s has %d dimensions, not [d] or [n,d]",
				src, fi, r->emb, t.ndim);
	int64_t n = t.ndim == 1 ? 1 : t.shape[0], d = t.shape[t.ndim - 1];
	if (d < 1 || d > (1 << 20) || n > (1 << 24))
		return pfm_errf(e, "%s: frame %llu: emb.%s shape out of range", src, fi, r->emb);
	if (!r->d)
		r->d = (int)d;
	else if (d != r->d)
		return pfm_errf(e, "%s: frame %llu: emb.%s is %lld wide, earlier embeddings %d: "
				"mismatched embedding widths", src, fi, r->emb, (long long)d, r->d);
	/* the label */
	const char *lab = r->nmap ? map_find(r, sid, sn) : NULL;
	char num[32];
	size_t ln = lab ? strlen(lab) : 0;
	if (!lab) {
		const msgpack_object *o = pfm_get(f, "label");
		int64_t iv;
		if (o && o->type == MSGPACK_OBJECT_STR) {
			lab = o->via.str.ptr, ln = o->via.str.size;
		} else if (o && !pfm_obj_i64(o, &iv)) {
			ln = (size_t)snprintf(num, sizeof num, "%lld", (long long)iv);
			lab = num;
		}
	}
	if (!lab || !ln)
		return pfm_errf(e, "%s: frame %llu (slide '%.*s'): no label (in the frame or --labels)",
				src, fi, (int)sn, sid);
	int li = intern(r, lab, ln);
	if (li < 0)
		return pfm_errf(e, "out of memory");
	s->d = r->d;
	if (s->n + n > INT32_MAX / 2)
		return pfm_errf(e, "too many instances");
	int need = s->n + (int)n;
	if (need > s->cap) {
		int cap = need > 2 * s->cap ? need : 2 * s->cap;
		float *x = realloc(s->x, sizeof *x * (size_t)cap * d);
		if (x)
			s->x = x;
		int *l = realloc(s->lab, sizeof *l * cap);
		if (l)
			s->lab = l;
		if (!x || !l)
			return pfm_errf(e, "out of memory (%d instances of %lld)", need, (long long)d);
		s->cap = cap;
	}
	float *x = s->x + (size_t)s->n * d;
	long bad = pfm_tensor_copy_f32(x, &t, (size_t)n * d);
	if (bad >= 0)
		return pfm_errf(e, "%s: frame %llu (slide '%.*s'): emb.%s[%ld] is %s", src, fi,
				(int)sn, sid, r->emb, bad, isnan(x[bad]) ? "NaN" : "infinite");
	for (int i = 0; i < n; i++)
		s->lab[s->n + i] = li;
	s->n = need;
	return 0;
}

static int read_stream(pfm_probe_set *s, pfm_probe_reader *r, const char *spec,
		       const pfm_io_opts *io, pfm_err *e)
{
	pfm_reader *rd = pfm_reader_open(spec, io, e);
	if (!rd)
		return -1;
	pfm_frame f;
	int rc;
	while ((rc = pfm_read(rd, &f)) == 1)
		if (add_frame(s, r, &f, pfm_reader_name(rd), e)) {
			rc = -2;
			break;
		}
	if (rc == -1)
		pfm_errf(e, "%s", pfm_reader_error(rd));
	pfm_reader_close(rd);
	return rc < 0 ? -1 : 0;
}

int pfm_probe_read(pfm_probe_set *s, pfm_probe_reader *r, const char *spec,
		   const pfm_io_opts *io, pfm_err *e)
{
	struct stat st;
	if (pfm_spec_is_zmq(spec) || !strcmp(spec, "-") || stat(spec, &st) || !S_ISDIR(st.st_mode))
		return read_stream(s, r, spec, io, e);
	DIR *dir = opendir(spec);
	if (!dir)
		return pfm_errf(e, "%s: %s", spec, strerror(errno));
	char **names = NULL;
	size_t cap = 0, n = 0;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(dir))) {
		char *p;
		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp."))
			continue;
		if (asprintf(&p, "%s/%s", spec, de->d_name) < 0) {
			rc = pfm_errf(e, "out of memory");
			break;
		}
		if (stat(p, &st) || !S_ISREG(st.st_mode) ||
		    pfm_grow(&names, &cap, sizeof *names * (n + 1))) {
			free(p);
			continue;
		}
		names[n++] = p;
	}
	closedir(dir);
	if (!rc && !n)
		rc = pfm_errf(e, "%s: no frame files in the directory", spec);
	if (n)
		qsort(names, n, sizeof *names, by_str);
	for (size_t i = 0; i < n && !rc; i++)
		rc = read_stream(s, r, names[i], io, e);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int is_integer(const char *s, long long *v)
{
	char *end;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return *s && !*end && !errno;
}

static int by_num(const void *pa, const void *pb)
{
	long long a, b;
	is_integer(*(char *const *)pa, &a);
	is_integer(*(char *const *)pb, &b);
	return a < b ? -1 : a > b;
}

int pfm_probe_classes(pfm_probe_reader *r, pfm_probe_set *const *sets,
		      int nsets, const char *classes, char ***names, int *k,
		      pfm_err *e)
{
	char **cl = NULL;
	int n = 0;
	if (classes) {
		char *list = strdup(classes), *save = NULL;
		for (char *c = list ? strtok_r(list, ",", &save) : NULL; c; c = strtok_r(NULL, ",", &save)) {
			char **nc = realloc(cl, sizeof *nc * (n + 1));
			if (!nc)
				break;
			cl = nc;
			cl[n++] = strdup(c);
		}
		free(list);
	} else {
		cl = malloc(sizeof *cl * (r->nlabels + 1));
		int allint = 1;
		for (int i = 0; cl && i < r->nlabels; i++) {
			long long v;
			cl[n++] = strdup(r->labels[i]);
			allint &= is_integer(r->labels[i], &v);
		}
		if (cl)
			qsort(cl, n, sizeof *cl, allint ? by_num : by_str);
	}
	if (!cl)
		return pfm_errf(e, "out of memory");
	int *map = malloc(sizeof *map * (r->nlabels + 1)), rc = 0;
	for (int i = 0; map && i < r->nlabels; i++) {
		map[i] = -1;
		for (int j = 0; j < n; j++)
			if (!strcmp(cl[j], r->labels[i]))
				map[i] = j;
		if (map[i] < 0) {
			rc = pfm_errf(e, "label '%s' is not in --classes", r->labels[i]);
			break;
		}
	}
	if (!map)
		rc = pfm_errf(e, "out of memory");
	int *in_train = calloc(n + 1, sizeof *in_train);
	for (int q = 0; !rc && q < nsets; q++) {
		pfm_probe_set *s = sets[q];
		if (!s)
			continue;
		for (int i = 0; i < s->n; i++) {
			s->lab[i] = map[s->lab[i]];
			if (q == 0)
				in_train[s->lab[i]] = 1;
			else if (!in_train[s->lab[i]] && !rc)
				rc = pfm_errf(e, "class '%s' has no training instances", cl[s->lab[i]]);
		}
	}
	free(map), free(in_train);
	if (!rc && n < 2)
		rc = pfm_errf(e, "one class only: a probe needs two or more");
	if (!rc && n > 256)
		rc = pfm_errf(e, "%d classes: at most 256", n);
	if (rc) {
		for (int i = 0; i < n; i++)
			free(cl[i]);
		free(cl);
		return -1;
	}
	*names = cl, *k = n;
	return 0;
}
