/* mil_data.c: bags of embeddings from frames, joined with the labels. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "csv.h"
#include "gemm.h"
#include "mem.h"
#include "metrics.h"
#include "mil.h"

/* ---- the bag set ---- */

static uint64_t fnv(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

static int find_n(const pfm_bagset *s, const char *id, size_t n)
{
	if (!s->hcap)
		return -1;
	for (uint64_t i = fnv(id, n) & (s->hcap - 1);; i = (i + 1) & (s->hcap - 1)) {
		int b = s->hash[i];
		if (b < 0)
			return -1;
		if (strlen(s->bags[b].id) == n && !memcmp(s->bags[b].id, id, n))
			return b;
	}
}

int pfm_bagset_find(const pfm_bagset *s, const char *id)
{
	return find_n(s, id, strlen(id));
}

static int rehash(pfm_bagset *s, int cap)
{
	int *h = malloc(sizeof *h * cap);
	if (!h)
		return -1;
	for (int i = 0; i < cap; i++)
		h[i] = -1;
	for (int b = 0; b < s->nbags; b++) {
		const char *id = s->bags[b].id;
		uint64_t i = fnv(id, strlen(id)) & (cap - 1);
		while (h[i] >= 0)
			i = (i + 1) & (cap - 1);
		h[i] = b;
	}
	free(s->hash);
	s->hash = h;
	s->hcap = cap;
	return 0;
}

static int new_bag(pfm_bagset *s, const char *id, size_t n, const char *src,
		   uint64_t frame)
{
	if (s->nbags == s->cap) {
		int cap = s->cap ? 2 * s->cap : 64;
		pfm_bag *b = realloc(s->bags, sizeof *b * cap);
		if (!b)
			return -1;
		s->bags = b, s->cap = cap;
	}
	pfm_bag *b = &s->bags[s->nbags];
	memset(b, 0, sizeof *b);
	b->id = strndup(id, n);
	b->src = strdup(src);
	b->frame = frame;
	b->has_xy = 1;
	if (!b->id || !b->src) {
		free(b->id), free(b->src);
		return -1;
	}
	s->nbags++;
	if (2 * s->nbags > s->hcap) {
		if (rehash(s, s->hcap ? 2 * s->hcap : 256)) {
			s->nbags--;
			free(b->id), free(b->src);
			return -1;
		}
	} else {
		uint64_t i = fnv(b->id, n) & (s->hcap - 1);
		while (s->hash[i] >= 0)
			i = (i + 1) & (s->hcap - 1);
		s->hash[i] = s->nbags - 1;
	}
	return s->nbags - 1;
}

long pfm_tensor_copy_f32(float *x, const pfm_tensor *t, size_t n)
{
	if (t->dtype == PFM_F32)
		memcpy(x, t->data, sizeof *x * n);
	else
		for (size_t i = 0; i < n; i++)
			x[i] = pfm_tensor_f32(t, i);
	/* one branch-free pass; look for where only when something is off */
	int finite = 1;
	for (size_t i = 0; i < n; i++)
		finite &= isfinite(x[i]) != 0;
	for (size_t i = 0; !finite && i < n; i++)
		if (!isfinite(x[i]))
			return (long)i;
	return -1;
}

static int64_t ielem(const pfm_tensor *t, size_t i)
{
	const unsigned char *p = t->data + i * pfm_dtype_size(t->dtype);
	union { int8_t i8; uint8_t u8; int16_t i16; uint16_t u16; int32_t i32;
		uint32_t u32; int64_t i64; uint64_t u64; } u;
	memcpy(&u, p, pfm_dtype_size(t->dtype));
	switch (t->dtype) {
	case PFM_I8: return u.i8;
	case PFM_U8: return u.u8;
	case PFM_I16: return u.i16;
	case PFM_U16: return u.u16;
	case PFM_I32: return u.i32;
	case PFM_U32: return u.u32;
	case PFM_U64: return (int64_t)u.u64;
	default: return u.i64;
	}
}

static int is_int_dtype(pfm_dtype t)
{
	return t <= PFM_I64;
}

static int key_str(const msgpack_object *k, const char **s, size_t *n)
{
	if (k->type != MSGPACK_OBJECT_STR)
		return -1;
	*s = k->via.str.ptr, *n = k->via.str.size;
	return 0;
}

int pfm_emb_get(const pfm_frame *f, const char *want, char **chosen,
		pfm_tensor *t, const char *src, pfm_err *e)
{
	unsigned long long fi = (unsigned long long)f->index;
	const char *sid = "";
	size_t sn = 0;
	pfm_err ig;
	pfm_get_str(f, "slide_id", &sid, &sn, &ig);
	const msgpack_object *emb = pfm_get(f, "emb");
	if (!emb || emb->type != MSGPACK_OBJECT_MAP || !emb->via.map.size)
		return pfm_errf(e, "%s: frame %llu (slide '%.*s'): no embeddings (emb)", src, fi,
				(int)sn, sid);
	const msgpack_object_map *m = &emb->via.map;
	if (!*chosen && !want) {
		if (m->size > 1) {
			char names[256] = "";
			for (uint32_t i = 0; i < m->size && strlen(names) < 200; i++) {
				const char *k;
				size_t kn;
				if (!key_str(&m->ptr[i].key, &k, &kn))
					snprintf(names + strlen(names), sizeof names - strlen(names),
						 "%s%.*s", i ? ", " : "", (int)kn, k);
			}
			return pfm_errf(e, "%s: frame %llu (slide '%.*s'): several embeddings (%s): "
					"choose one with --emb", src, fi, (int)sn, sid, names);
		}
		const char *k;
		size_t kn;
		if (key_str(&m->ptr[0].key, &k, &kn) || !(*chosen = strndup(k, kn)))
			return pfm_errf(e, "%s: frame %llu: bad emb key", src, fi);
	} else if (!*chosen) {
		if (!(*chosen = strdup(want)))
			return pfm_errf(e, "out of memory");
	}
	const msgpack_object *tobj = pfm_map_get(emb, *chosen);
	if (!tobj)
		return pfm_errf(e, "%s: frame %llu (slide '%.*s'): no embedding emb.%s", src, fi,
				(int)sn, sid, *chosen);
	if (pfm_tensor_decode(tobj, t, e))
		return pfm_err_prefix(e, "%s: frame %llu (slide '%.*s'): emb.%s", src, fi,
				      (int)sn, sid, *chosen);
	if (t->dtype != PFM_F32 && t->dtype != PFM_F16 && t->dtype != PFM_BF16 && t->dtype != PFM_F64)
		return pfm_errf(e, "%s: frame %llu (slide '%.*s'): emb.%s is %s, not a float tensor",
				src, fi, (int)sn, sid, *chosen, pfm_dtype_name(t->dtype));
	return 0;
}

int pfm_bagset_add(pfm_bagset *s, const pfm_frame *f, const char *src,
		   pfm_err *e)
{
	unsigned long long fi = (unsigned long long)f->index;
	const msgpack_object *emb = pfm_get(f, "emb");
	if ((!pfm_frame_is(f, PFM_T_EMBEDDING) && !pfm_frame_is(f, PFM_T_TILE)) ||
	    (pfm_frame_is(f, PFM_T_TILE) && !emb)) {
		s->other++;
		return 0;
	}
	const char *sid;
	size_t sn;
	if (pfm_get_str(f, "slide_id", &sid, &sn, e))
		return pfm_err_prefix(e, "%s: frame %llu", src, fi);
	pfm_tensor t;
	if (pfm_emb_get(f, s->want_emb, &s->emb, &t, src, e))
		return -1;
	if (t.ndim < 1 || t.ndim > 2)
		return pfm_errf(e, "%s: frame %llu (slide '%.*s'): emb.%s has %d dimensions, "
				"not [d] or [n,d]", src, fi, (int)sn, sid, s->emb, t.ndim);
	int64_t n = t.ndim == 1 ? 1 : t.shape[0], d = t.shape[t.ndim - 1];
	if (d < 1 || d > (1 << 20) || n > (1 << 24))
		return pfm_errf(e, "%s: frame %llu (slide '%.*s'): emb.%s shape is out of range",
				src, fi, (int)sn, sid, s->emb);
	if (!s->d)
		s->d = (int)d;
	else if (d != s->d)
		return pfm_errf(e, "%s: frame %llu (slide '%.*s'): emb.%s is %lld wide, "
				"earlier embeddings %d: mismatched embedding widths",
				src, fi, (int)sn, sid, s->emb, (long long)d, s->d);
	int b = find_n(s, sid, sn);
	if (b < 0 && (b = new_bag(s, sid, sn, src, f->index)) < 0)
		return pfm_errf(e, "out of memory");
	pfm_bag *bag = &s->bags[b];
	s->frames++;
	if (!n)
		return 0;
	if (bag->n + n > INT32_MAX / 2)
		return pfm_errf(e, "slide '%s': too many instances", bag->id);
	int need = bag->n + (int)n;
	if (need > bag->cap) {
		int cap = need > 2 * bag->cap ? need : 2 * bag->cap;
		void *x = s->bf16 ? realloc(bag->xb, sizeof *bag->xb * (size_t)cap * d)
				  : realloc(bag->x, sizeof *bag->x * (size_t)cap * d);
		if (x && s->bf16)
			bag->xb = x;
		else if (x)
			bag->x = x;
		int64_t *xy = realloc(bag->xy, sizeof *xy * (size_t)cap * 2);
		if (xy)
			bag->xy = xy;
		float *box = realloc(bag->box, sizeof *box * (size_t)cap * 3);
		if (box)
			bag->box = box;
		if (!x || !xy || !box)
			return pfm_errf(e, "out of memory (slide '%s', %d instances of %d)",
					bag->id, need, s->d);
		bag->cap = cap;
	}
	size_t cnt = (size_t)n * d;
	float *x = bag->x + (size_t)bag->n * d;
	if (s->bf16) {
		if (cnt > s->tmp_cap) {
			float *tp = realloc(s->tmp, sizeof *tp * cnt);
			if (!tp)
				return pfm_errf(e, "out of memory (slide '%s')", bag->id);
			s->tmp = tp, s->tmp_cap = cnt;
		}
		x = s->tmp;
	}
	long bad = pfm_tensor_copy_f32(x, &t, cnt);
	if (bad >= 0)
		return pfm_errf(e, "%s: frame %llu (slide '%s'): emb.%s[%ld] is %s",
				src, fi, bag->id, s->emb, bad,
				isnan(x[bad]) ? "NaN" : "infinite");
	if (s->bf16)
		pfm_bf16_round(bag->xb + (size_t)bag->n * d, x, cnt);
	/* where the instances came from */
	int64_t *xy = bag->xy + (size_t)bag->n * 2;
	float *box = bag->box + (size_t)bag->n * 3;
	int64_t fx, fy, w = 0, h = 0;
	double mpp = 0;
	pfm_err ig;
	int have = !pfm_get_i64(f, "x", &fx, &ig) && !pfm_get_i64(f, "y", &fy, &ig);
	pfm_get_i64(f, "width", &w, &ig);
	pfm_get_i64(f, "height", &h, &ig);
	pfm_get_f64(f, "mpp", &mpp, &ig);
	const msgpack_object *co = n > 1 || t.ndim == 2 ? pfm_get(f, "coords") : NULL;
	pfm_tensor ct;
	if (co && !pfm_tensor_decode(co, &ct, &ig) && is_int_dtype(ct.dtype) &&
	    ct.ndim == 2 && ct.shape[0] == n && ct.shape[1] == 2) {
		for (size_t i = 0; i < (size_t)n * 2; i++)
			xy[i] = ielem(&ct, i);
	} else if (n == 1 && have) {
		xy[0] = fx, xy[1] = fy;
	} else {
		bag->has_xy = 0;
		for (size_t i = 0; i < (size_t)n * 2; i++)
			xy[i] = 0;
	}
	for (int64_t i = 0; i < n; i++) {
		box[3 * i] = (float)w;
		box[3 * i + 1] = (float)h;
		box[3 * i + 2] = (float)mpp;
	}
	bag->n = need;
	return 0;
}

static int read_stream(pfm_bagset *s, const char *spec, const pfm_io_opts *io,
		       pfm_err *e)
{
	pfm_reader *r = pfm_reader_open(spec, io, e);
	if (!r)
		return -1;
	pfm_frame f;
	int rc;
	while ((rc = pfm_read(r, &f)) == 1)
		if (pfm_bagset_add(s, &f, pfm_reader_name(r), e)) {
			rc = -2;
			break;
		}
	if (rc == -1)
		pfm_errf(e, "%s", pfm_reader_error(r));
	pfm_reader_close(r);
	return rc < 0 ? -1 : 0;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int pfm_bagset_read(pfm_bagset *s, const char *spec, const pfm_io_opts *io,
		    pfm_err *e)
{
	struct stat st;
	if (pfm_spec_is_zmq(spec) || strcmp(spec, "-") == 0 || stat(spec, &st) ||
	    !S_ISDIR(st.st_mode))
		return read_stream(s, spec, io, e);
	DIR *dir = opendir(spec);
	if (!dir)
		return pfm_errf(e, "%s: %s", spec, strerror(errno));
	char **names = NULL;
	size_t cap = 0, n = 0;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp."))
			continue;
		char *p;
		if (asprintf(&p, "%s/%s", spec, de->d_name) < 0) {
			rc = pfm_errf(e, "out of memory");
			break;
		}
		if (stat(p, &st) || !S_ISREG(st.st_mode)) {
			free(p);
			continue;
		}
		if (pfm_grow(&names, &cap, sizeof *names * (n + 1))) {
			free(p);
			rc = pfm_errf(e, "out of memory");
			break;
		}
		names[n++] = p;
	}
	closedir(dir);
	if (!rc && !n)
		rc = pfm_errf(e, "%s: no frame files in the directory", spec);
	qsort(names, n, sizeof *names, by_str);
	for (size_t i = 0; i < n && !rc; i++)
		rc = read_stream(s, names[i], io, e);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

void pfm_bagset_free(pfm_bagset *s)
{
	for (int b = 0; b < s->nbags; b++) {
		free(s->bags[b].id), free(s->bags[b].src);
		free(s->bags[b].x), free(s->bags[b].xb), free(s->bags[b].xy),
			free(s->bags[b].box);
	}
	free(s->bags), free(s->hash), free(s->emb), free(s->tmp);
	const char *want = s->want_emb;
	int bf16 = s->bf16;
	memset(s, 0, sizeof *s);
	s->want_emb = want, s->bf16 = bf16;
}

/* ---- labels ---- */

void pfm_mil_data_free(pfm_mil_data *d)
{
	for (int i = 0; i < d->ncases; i++)
		free(d->cases[i]);
	for (int i = 0; i < d->nclass; i++)
		free(d->classes[i]);
	for (int i = 0; i < d->nmissing; i++)
		free(d->missing[i]);
	free(d->slide), free(d->bag), free(d->csv_row), free(d->case_of);
	free(d->cases), free(d->classes), free(d->y), free(d->time);
	free(d->event), free(d->unlabelled), free(d->missing);
	memset(d, 0, sizeof *d);
}

static int is_integer(const char *s, long long *v)
{
	char *end;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return *s && !*end && !errno;
}

static const char **sort_names;
static int by_name_num(const void *pa, const void *pb)
{
	long long a, b;
	is_integer(*(char *const *)pa, &a);
	is_integer(*(char *const *)pb, &b);
	return a < b ? -1 : a > b;
}

static int idx_by_name(const void *pa, const void *pb)
{
	int a = *(const int *)pa, b = *(const int *)pb;
	int c = strcmp(sort_names[a], sort_names[b]);
	return c ? c : a - b;
}

static int parse_event(const char *s, int *ev)
{
	if (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcmp(s, "1.0"))
		*ev = 1;
	else if (!strcmp(s, "0") || !strcasecmp(s, "false") || !strcmp(s, "0.0"))
		*ev = 0;
	else
		return -1;
	return 0;
}

int pfm_mil_data_load(pfm_mil_data *d, const char *labels_csv,
		      const pfm_bagset *bags, const pfm_mil_data_opts *o,
		      pfm_err *e)
{
	memset(d, 0, sizeof *d);
	pfm_csv t;
	if (pfm_csv_read(&t, labels_csv, e))
		return -1;
	const char *P = labels_csv;
	int cs = pfm_csv_col(&t, "slide_id"), cl = pfm_csv_col(&t, "label");
	int cc = pfm_csv_col(&t, "case_id"), ct = pfm_csv_col(&t, "time");
	int ce = pfm_csv_col(&t, "event");
	int rc = -1;
	int *seen = NULL, *ord = NULL;
	char **labs = NULL;
	if (cs < 0) {
		pfm_errf(e, "%s: no slide_id column", P);
		goto out;
	}
	d->task = o->task >= 0 ? o->task
		: (ct >= 0 && ce >= 0 && cl < 0) ? PFM_TASK_SURV : PFM_TASK_CLS;
	if (d->task == PFM_TASK_CLS && cl < 0) {
		pfm_errf(e, "%s: no label column (survival needs time and event columns)", P);
		goto out;
	}
	if (d->task == PFM_TASK_SURV && (ct < 0 || ce < 0)) {
		pfm_errf(e, "%s: survival needs time and event columns", P);
		goto out;
	}
	int n = t.nrows;
	d->slide = calloc(n + 1, sizeof *d->slide);
	d->bag = calloc(n + 1, sizeof *d->bag);
	d->csv_row = calloc(n + 1, sizeof *d->csv_row);
	d->case_of = calloc(n + 1, sizeof *d->case_of);
	d->y = calloc(n + 1, sizeof *d->y);
	d->time = calloc(n + 1, sizeof *d->time);
	d->event = calloc(n + 1, sizeof *d->event);
	d->missing = calloc(n + 1, sizeof *d->missing);
	d->unlabelled = calloc(bags->nbags + 1, sizeof *d->unlabelled);
	seen = calloc(bags->nbags + 1, sizeof *seen);
	labs = calloc(n + 1, sizeof *labs);
	if (!d->slide || !d->bag || !d->csv_row || !d->case_of || !d->y || !d->time ||
	    !d->event || !d->missing || !d->unlabelled || !seen || !labs) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	for (int r = 0; r < n; r++) {
		const char *id = pfm_csv_get(&t, r, cs);
		int line = t.line[r];
		if (!*id) {
			pfm_errf(e, "%s:%d: empty slide_id", P, line);
			goto out;
		}
		int b = pfm_bagset_find(bags, id);
		if (b >= 0 && seen[b]) {
			pfm_errf(e, "%s:%d: slide '%s' is labelled twice (lines %d and %d)", P,
				 line, id, t.line[seen[b] - 1], line);
			goto out;
		}
		if (b < 0) {
			for (int i = 0; i < d->nmissing; i++)
				if (!strcmp(d->missing[i], id)) {
					pfm_errf(e, "%s:%d: slide '%s' is labelled twice", P, line, id);
					goto out;
				}
			if (!(d->missing[d->nmissing++] = strdup(id))) {
				pfm_errf(e, "out of memory");
				goto out;
			}
			continue;
		}
		seen[b] = r + 1;
		if (!bags->bags[b].n) {
			pfm_errf(e, "%s:%d: slide '%s': empty bag (its embedding frames hold no "
				 "instances; %s, frame %llu)", P, line, id, bags->bags[b].src,
				 (unsigned long long)bags->bags[b].frame);
			goto out;
		}
		int i = d->nslides++;
		d->slide[i] = bags->bags[b].id;
		d->bag[i] = b;
		d->csv_row[i] = r;
		if (d->task == PFM_TASK_CLS) {
			labs[i] = (char *)pfm_csv_get(&t, r, cl);
			if (!*labs[i]) {
				pfm_errf(e, "%s:%d: slide '%s' has an empty label", P, line, id);
				goto out;
			}
		} else {
			const char *ts = pfm_csv_get(&t, r, ct), *es = pfm_csv_get(&t, r, ce);
			char *end;
			d->time[i] = strtod(ts, &end);
			if (!*ts || *end || !isfinite(d->time[i]) || d->time[i] < 0) {
				pfm_errf(e, "%s:%d: slide '%s': time '%s' is not a non-negative number",
					 P, line, id, ts);
				goto out;
			}
			if (parse_event(es, &d->event[i])) {
				pfm_errf(e, "%s:%d: slide '%s': event '%s' is not 0 or 1", P, line, id, es);
				goto out;
			}
		}
	}
	for (int b = 0; b < bags->nbags; b++)
		if (!seen[b])
			d->unlabelled[d->nunlabelled++] = bags->bags[b].id;
	if (!d->nslides) {
		pfm_errf(e, "%s: none of its %d slides has embeddings (%d slides have embeddings)",
			 P, n, bags->nbags);
		goto out;
	}
	/* cases: case_id, or the slide itself */
	ord = malloc(sizeof *ord * d->nslides);
	const char **cn = malloc(sizeof *cn * d->nslides);
	d->cases = calloc(d->nslides, sizeof *d->cases);
	if (!ord || !cn || !d->cases) {
		free(cn);
		pfm_errf(e, "out of memory");
		goto out;
	}
	for (int i = 0; i < d->nslides; i++) {
		ord[i] = i;
		cn[i] = cc >= 0 && *pfm_csv_get(&t, d->csv_row[i], cc)
			? pfm_csv_get(&t, d->csv_row[i], cc) : d->slide[i];
	}
	sort_names = cn;
	qsort(ord, d->nslides, sizeof *ord, idx_by_name);
	/* case index in order of first appearance in the file */
	int *first = malloc(sizeof *first * d->nslides);
	for (int i = 0; i < d->nslides; i++)
		first[i] = -1;
	for (int k = 0; k < d->nslides;) {
		int j = k;
		while (j < d->nslides && !strcmp(cn[ord[j]], cn[ord[k]]))
			j++;
		for (int l = k; l < j; l++)
			first[ord[l]] = ord[k]; /* the smallest slide index of the case */
		k = j;
	}
	for (int i = 0; i < d->nslides; i++) {
		if (first[i] == i) {
			d->case_of[i] = d->ncases;
			d->cases[d->ncases++] = strdup(cn[i]);
		} else {
			d->case_of[i] = d->case_of[first[i]];
			if (d->task == PFM_TASK_SURV &&
			    (d->time[i] != d->time[first[i]] || d->event[i] != d->event[first[i]])) {
				pfm_errf(e, "%s:%d: case '%s': slides '%s' and '%s' disagree on time or event",
					 P, t.line[d->csv_row[i]], cn[i], d->slide[first[i]], d->slide[i]);
				free(first), free(cn);
				goto out;
			}
		}
	}
	free(first);
	free(cn);
	if (d->task == PFM_TASK_CLS) {
		/* the class list: given, or the sorted labels */
		if (o->classes) {
			char *list = strdup(o->classes), *save = NULL;
			for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
				for (int k = 0; k < d->nclass; k++)
					if (!strcmp(d->classes[k], c)) {
						pfm_errf(e, "--classes: '%s' named twice", c);
						free(list); /* c points into it */
						goto out;
					}
				char **nc = realloc(d->classes, sizeof *nc * (d->nclass + 1));
				if (!nc) {
					free(list);
					pfm_errf(e, "out of memory");
					goto out;
				}
				d->classes = nc;
				d->classes[d->nclass++] = strdup(c);
			}
			free(list);
		} else {
			char **u = malloc(sizeof *u * d->nslides);
			int nu = 0, allint = 1;
			for (int i = 0; i < d->nslides; i++) {
				int dup = 0;
				for (int k = 0; k < nu && !dup; k++)
					dup = !strcmp(u[k], labs[i]);
				if (!dup)
					u[nu++] = labs[i];
			}
			for (int k = 0; k < nu; k++) {
				long long v;
				allint &= is_integer(u[k], &v);
			}
			qsort(u, nu, sizeof *u, allint ? by_name_num : by_str);
			d->classes = malloc(sizeof *d->classes * nu);
			for (int k = 0; k < nu; k++)
				d->classes[k] = strdup(u[k]);
			d->nclass = nu;
			free(u);
		}
		for (int i = 0; i < d->nslides; i++) {
			d->y[i] = -1;
			for (int k = 0; k < d->nclass; k++)
				if (!strcmp(d->classes[k], labs[i]))
					d->y[i] = k;
			if (d->y[i] < 0) {
				pfm_errf(e, "%s:%d: slide '%s': label '%s' is not in --classes", P,
					 t.line[d->csv_row[i]], d->slide[i], labs[i]);
				goto out;
			}
		}
		if (d->nclass > 256) {
			pfm_errf(e, "%s: %d classes; at most 256", P, d->nclass);
			goto out;
		}
		if (d->nclass < 2) {
			pfm_errf(e, "%s: one class only ('%s'): classification needs two or more",
				 P, d->classes[0]);
			goto out;
		}
	} else {
		/* bins over cases, as PORPOISE takes one row per patient */
		int nb = o->nbins > 0 ? o->nbins : 4;
		if (nb > 64) {
			pfm_errf(e, "at most 64 survival bins");
			goto out;
		}
		double *ct_ = malloc(sizeof *ct_ * d->ncases);
		int *ce_ = malloc(sizeof *ce_ * d->ncases), *cb = malloc(sizeof *cb * d->ncases);
		for (int i = 0; i < d->nslides; i++) {
			ct_[d->case_of[i]] = d->time[i];
			ce_[d->case_of[i]] = d->event[i];
		}
		int brc = pfm_surv_bins(ct_, ce_, d->ncases, nb, o->bin_eps > 0 ? o->bin_eps : 1e-6,
					d->edges, cb, e);
		if (!brc)
			for (int i = 0; i < d->nslides; i++)
				d->y[i] = cb[d->case_of[i]];
		free(ct_), free(ce_), free(cb);
		if (brc) {
			pfm_err_prefix(e, "%s", P);
			goto out;
		}
		d->nbins = nb;
	}
	rc = 0;
out:
	free(seen), free(labs), free(ord);
	pfm_csv_free(&t);
	if (rc)
		pfm_mil_data_free(d);
	return rc;
}
