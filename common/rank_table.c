/* rank_table.c: build the tasks x models table from a TSV/CSV file or
 * from result frames; rounding and missing cells. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rank.h"

void pfm_rank_table_free(pfm_rank_table *t)
{
	for (int i = 0; i < t->ntasks; i++) {
		free(t->tasks[i]);
		free(t->groups[i]);
	}
	for (int j = 0; j < t->nmodels; j++)
		free(t->models[j]);
	free(t->tasks), free(t->groups), free(t->models);
	free(t->v), free(t->nv), free(t->metric), free(t->split);
	for (int u = 0; u < t->nunits; u++)
		free(t->units[u].run_s);
	free(t->units), free(t->obs);
	memset(t, 0, sizeof *t);
}

static char *dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

/* Grow to hold ntasks x nmodels cells, keeping the values (new: NAN). */
static int resize(pfm_rank_table *t, int ntasks, int nmodels)
{
	double *v = malloc(sizeof *v * (size_t)(ntasks ? ntasks : 1) * (nmodels ? nmodels : 1));
	int *nv = calloc((size_t)(ntasks ? ntasks : 1) * (nmodels ? nmodels : 1), sizeof *nv);
	char **tasks = realloc(t->tasks, sizeof *tasks * (ntasks + 1));
	if (tasks)
		t->tasks = tasks;
	char **groups = realloc(t->groups, sizeof *groups * (ntasks + 1));
	if (groups)
		t->groups = groups;
	char **models = realloc(t->models, sizeof *models * (nmodels + 1));
	if (models)
		t->models = models;
	if (!v || !nv || !tasks || !groups || !models) {
		free(v), free(nv);
		return -1;
	}
	for (int i = 0; i < ntasks; i++)
		for (int j = 0; j < nmodels; j++) {
			int old = i < t->ntasks && j < t->nmodels;
			v[(size_t)i * nmodels + j] = old ? t->v[(size_t)i * t->nmodels + j] : NAN;
			nv[(size_t)i * nmodels + j] = old ? t->nv[(size_t)i * t->nmodels + j] : 0;
		}
	free(t->v), free(t->nv);
	t->v = v, t->nv = nv;
	return 0;
}

static int find(char **names, int n, const char *s, size_t len)
{
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) == len && !memcmp(names[i], s, len))
			return i;
	return -1;
}

/* Split one line into fields (CSV quotes "" honoured). Fields are
 * written NUL-terminated into the line itself. */
static int split_line(char *line, char delim, char **f, int max)
{
	int n = 0;
	char *p = line;
	size_t len = strlen(line);
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = 0;
	for (;;) {
		if (n == max)
			return -1;
		char *out = p;
		f[n++] = out;
		if (*p == '"') {
			p++;
			for (;;) {
				if (!*p)
					break;
				if (*p == '"' && p[1] == '"') {
					*out++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					*out++ = *p++;
				}
			}
			while (*p && *p != delim)
				p++; /* junk after the closing quote: ignored */
		} else {
			while (*p && *p != delim)
				*out++ = *p++;
		}
		int more = *p == delim;
		*out = 0;
		if (!more)
			break;
		p++;
	}
	/* trim blanks around every field */
	for (int i = 0; i < n; i++) {
		while (*f[i] == ' ')
			f[i]++;
		size_t l = strlen(f[i]);
		while (l && f[i][l - 1] == ' ')
			f[i][--l] = 0;
	}
	return n;
}

static int is_meta(const char *s)
{
	return !strcmp(s, "task_type") || !strcmp(s, "type") || !strcmp(s, "group");
}

static int missing_word(const char *s)
{
	return !*s || !strcasecmp(s, "na") || !strcasecmp(s, "nan") ||
	       !strcmp(s, "-");
}

#define MAXCOLS 4096

int pfm_rank_table_read(pfm_rank_table *t, const char *path,
			const char *group_col, pfm_err *e)
{
	memset(t, 0, sizeof *t);
	FILE *fp = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!fp)
		return pfm_errf(e, "%s: %s", path, strerror(errno));
	const char *name = fp == stdin ? "stdin" : path;
	char *line = NULL, **f = malloc(sizeof *f * MAXCOLS);
	int *col_model = malloc(sizeof *col_model * MAXCOLS);
	size_t cap = 0;
	int rc = -1, lineno = 0, ncols = 0, gcol = -1;
	char delim = ',';
	if (!f || !col_model) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	while (getline(&line, &cap, fp) > 0) {
		lineno++;
		if (lineno == 1) {
			delim = strchr(line, '\t') ? '\t' : ',';
			ncols = split_line(line, delim, f, MAXCOLS);
			if (ncols < 0) {
				pfm_errf(e, "%s:1: more than %d columns", name, MAXCOLS);
				goto out;
			}
			int nm = 0;
			for (int c = 1; c < ncols; c++)
				nm += !(is_meta(f[c]) || (group_col && !strcmp(f[c], group_col)));
			if (resize(t, 0, nm)) {
				pfm_errf(e, "out of memory");
				goto out;
			}
			for (int c = 0; c < ncols; c++) {
				col_model[c] = -1;
				int gmatch = group_col && (!strcmp(f[c], group_col) ||
					     (!strcmp(group_col, "type") && !strcmp(f[c], "task_type")));
				if (c && gmatch)
					gcol = c;
				if (!c || gmatch || is_meta(f[c]))
					continue;
				if (!*f[c]) {
					pfm_errf(e, "%s:1: column %d has no model name", name, c + 1);
					goto out;
				}
				if (find(t->models, t->nmodels, f[c], strlen(f[c])) >= 0) {
					pfm_errf(e, "%s:1: model '%s' named twice", name, f[c]);
					goto out;
				}
				col_model[c] = t->nmodels;
				t->models[t->nmodels++] = strdup(f[c]);
			}
			if (group_col && gcol < 0) {
				pfm_errf(e, "%s:1: no column '%s' to group by", name, group_col);
				goto out;
			}
			continue;
		}
		if (line[0] == '\n' || (line[0] == '\r' && line[1] == '\n'))
			continue;
		int n = split_line(line, delim, f, MAXCOLS);
		if (n != ncols) {
			pfm_errf(e, "%s:%d: %d fields, the header has %d", name, lineno,
				 n < 0 ? MAXCOLS : n, ncols);
			goto out;
		}
		if (find(t->tasks, t->ntasks, f[0], strlen(f[0])) >= 0) {
			pfm_errf(e, "%s:%d: task '%s' appears twice", name, lineno, f[0]);
			goto out;
		}
		if (resize(t, t->ntasks + 1, t->nmodels)) {
			pfm_errf(e, "out of memory");
			goto out;
		}
		int i = t->ntasks++;
		t->tasks[i] = strdup(f[0]);
		t->groups[i] = strdup(gcol >= 0 ? f[gcol] : "");
		for (int c = 1; c < ncols; c++) {
			int j = col_model[c];
			if (j < 0 || missing_word(f[c]))
				continue;
			char *end;
			errno = 0;
			double v = strtod(f[c], &end);
			if (*end || end == f[c] || !isfinite(v)) {
				pfm_errf(e, "%s:%d: %s / %s: not a number: '%s'", name,
					 lineno, f[0], t->models[j], f[c]);
				goto out;
			}
			t->v[(size_t)i * t->nmodels + j] = v;
			t->nv[(size_t)i * t->nmodels + j] = 1;
		}
	}
	if (ferror(fp)) {
		pfm_errf(e, "%s: %s", name, strerror(errno));
		goto out;
	}
	if (!lineno) {
		pfm_errf(e, "%s: empty table", name);
		goto out;
	}
	rc = 0;
out:
	free(line), free(f), free(col_model);
	if (fp != stdin)
		fclose(fp);
	if (rc)
		pfm_rank_table_free(t);
	return rc;
}

/* ---- from result frames ---- */

struct pfm_rank_acc {
	pfm_rank_select s;
	pfm_rank_table t;
	double *sum; /* parallel to t.v while accumulating */
	char *metric2, *split2; /* a second metric/split seen (for the error) */
};

pfm_rank_acc *pfm_rank_acc_new(const pfm_rank_select *s)
{
	pfm_rank_acc *a = calloc(1, sizeof *a);
	if (a)
		a->s = *s;
	return a;
}

static int opt_str(const pfm_frame *f, const char *key, const char **s,
		   size_t *n)
{
	const msgpack_object *o = pfm_get(f, key);
	if (!o || o->type != MSGPACK_OBJECT_STR)
		return -1;
	*s = o->via.str.ptr;
	*n = o->via.str.size;
	return 0;
}

/* Take the first value seen for a free choice (metric, split); note a
 * second one so that finish can refuse the ambiguity. */
static int choose(const char *want, char **chosen, char **other,
		  const char *s, size_t n)
{
	if (want)
		return strlen(want) == n && !memcmp(want, s, n);
	if (!*chosen) {
		*chosen = dupn(s, n);
		return 1;
	}
	if (strlen(*chosen) == n && !memcmp(*chosen, s, n))
		return 1;
	if (!*other)
		*other = dupn(s, n);
	return 0;
}

int pfm_rank_unit_cmp(const pfm_rank_unit *a, const pfm_rank_unit *b)
{
	if (a->has_fold != b->has_fold)
		return a->has_fold - b->has_fold;
	if (a->has_fold && a->fold != b->fold)
		return a->fold < b->fold ? -1 : 1;
	if (a->run_kind != b->run_kind)
		return a->run_kind - b->run_kind;
	if (a->run_kind == 1 && a->run_i != b->run_i)
		return a->run_i < b->run_i ? -1 : 1;
	if (a->run_kind == 2)
		return strcmp(a->run_s, b->run_s);
	return 0;
}

void pfm_rank_unit_str(const pfm_rank_unit *u, char *buf, size_t n)
{
	if (!u->has_fold && !u->run_kind) {
		snprintf(buf, n, "no fold or run");
		return;
	}
	int w = 0;
	if (u->has_fold)
		w = snprintf(buf, n, "fold %lld", (long long)u->fold);
	if (w < 0 || (size_t)w >= n)
		return;
	const char *sep = u->has_fold ? ", " : "";
	if (u->run_kind == 1)
		snprintf(buf + w, n - w, "%srun %lld", sep, (long long)u->run_i);
	else if (u->run_kind == 2)
		snprintf(buf + w, n - w, "%srun '%s'", sep, u->run_s);
}

/* The frame's fold/run, interned in t->units: its index, -1 on error. */
static int frame_unit(pfm_rank_table *t, const pfm_frame *f, pfm_err *e)
{
	pfm_rank_unit u = {0};
	const msgpack_object *o = pfm_get(f, "fold");
	if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
		u.has_fold = 1, u.fold = (int64_t)o->via.u64;
	else if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		u.has_fold = 1, u.fold = o->via.i64;
	else if (o)
		return pfm_errf(e, "fold is not an integer");
	o = pfm_get(f, "run");
	if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
		u.run_kind = 1, u.run_i = (int64_t)o->via.u64;
	else if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		u.run_kind = 1, u.run_i = o->via.i64;
	else if (o && o->type == MSGPACK_OBJECT_STR) {
		if (memchr(o->via.str.ptr, 0, o->via.str.size))
			return pfm_errf(e, "run holds a NUL byte");
		u.run_kind = 2;
		if (!(u.run_s = dupn(o->via.str.ptr, o->via.str.size)))
			return pfm_errf(e, "out of memory");
	} else if (o) {
		return pfm_errf(e, "run is neither an integer nor a string");
	}
	for (int i = 0; i < t->nunits; i++)
		if (!pfm_rank_unit_cmp(&t->units[i], &u)) {
			free(u.run_s);
			return i;
		}
	if (t->nunits == t->units_cap) {
		int cap = t->units_cap ? 2 * t->units_cap : 16;
		pfm_rank_unit *n = realloc(t->units, sizeof *n * cap);
		if (!n) {
			free(u.run_s);
			return pfm_errf(e, "out of memory");
		}
		t->units = n, t->units_cap = cap;
	}
	t->units[t->nunits] = u;
	return t->nunits++;
}

int pfm_rank_acc_add(pfm_rank_acc *a, const pfm_frame *f, pfm_err *e)
{
	if (!pfm_frame_is(f, PFM_T_RESULT))
		return 0;
	const char *task, *model, *metric, *split = NULL;
	size_t tn, mn, men, sn = 0;
	double v;
	if (pfm_get_str(f, "task", &task, &tn, e) ||
	    pfm_get_str(f, "model", &model, &mn, e) ||
	    pfm_get_str(f, "metric", &metric, &men, e) ||
	    pfm_get_f64(f, "value", &v, e))
		return pfm_err_prefix(e, "frame %llu", (unsigned long long)f->index);
	if (!isfinite(v))
		return pfm_errf(e, "frame %llu: %.*s / %.*s: value is not finite",
				(unsigned long long)f->index, (int)tn, task, (int)mn, model);
	if (!choose(a->s.metric, &a->t.metric, &a->metric2, metric, men))
		return 0;
	if (!opt_str(f, "split", &split, &sn)) {
		if (!choose(a->s.split, &a->t.split, &a->split2, split, sn))
			return 0;
	} else if (a->s.split) {
		return 0;
	}
	const char *g = "";
	size_t gn = 0;
	if (a->s.group_key) {
		const char *k = strcmp(a->s.group_key, "type") ? a->s.group_key : "task_type";
		if (opt_str(f, k, &g, &gn))
			g = "", gn = 0;
	}
	pfm_rank_table *t = &a->t;
	int u = frame_unit(t, f, e);
	if (u < 0)
		return pfm_err_prefix(e, "frame %llu", (unsigned long long)f->index);
	if (t->nobs == t->obs_cap) {
		size_t cap = t->obs_cap ? 2 * t->obs_cap : 256;
		pfm_rank_obs *n = realloc(t->obs, sizeof *n * cap);
		if (!n)
			return pfm_errf(e, "out of memory");
		t->obs = n, t->obs_cap = cap;
	}
	int i = find(t->tasks, t->ntasks, task, tn);
	int j = find(t->models, t->nmodels, model, mn);
	if (i < 0 || j < 0) {
		int nt = t->ntasks + (i < 0), nm = t->nmodels + (j < 0);
		size_t old_m = t->nmodels;
		if (resize(t, nt, nm))
			return pfm_errf(e, "out of memory");
		double *sum = malloc(sizeof *sum * (size_t)nt * nm);
		if (!sum)
			return pfm_errf(e, "out of memory");
		for (int r = 0; r < nt; r++)
			for (int c = 0; c < nm; c++)
				sum[(size_t)r * nm + c] = r < t->ntasks && c < (int)old_m ?
					a->sum[(size_t)r * old_m + c] : 0;
		free(a->sum);
		a->sum = sum;
		if (i < 0) {
			i = t->ntasks++;
			t->tasks[i] = dupn(task, tn);
			t->groups[i] = dupn(g, gn);
		}
		if (j < 0) {
			j = t->nmodels++;
			t->models[j] = dupn(model, mn);
		}
	}
	size_t c = (size_t)i * t->nmodels + j;
	a->sum[c] += v;
	t->nv[c]++;
	t->obs[t->nobs++] = (pfm_rank_obs){i, j, u, v, f->index};
	return 1;
}

static const pfm_rank_table *dup_t;
static int by_cell_unit(const void *pa, const void *pb)
{
	const pfm_rank_obs *a = &dup_t->obs[*(const size_t *)pa];
	const pfm_rank_obs *b = &dup_t->obs[*(const size_t *)pb];
	if (a->task != b->task)
		return a->task - b->task;
	if (a->model != b->model)
		return a->model - b->model;
	if (a->unit != b->unit)
		return a->unit - b->unit;
	return a->frame < b->frame ? -1 : a->frame > b->frame;
}

/* Two results for the same task, model, fold and run (metric and split
 * are already one) would be averaged silently: refuse them. */
static int check_duplicates(const pfm_rank_table *t, pfm_err *e)
{
	size_t *ix = malloc(sizeof *ix * (t->nobs ? t->nobs : 1));
	if (!ix)
		return pfm_errf(e, "out of memory");
	for (size_t i = 0; i < t->nobs; i++)
		ix[i] = i;
	dup_t = t;
	qsort(ix, t->nobs, sizeof *ix, by_cell_unit);
	int rc = 0;
	for (size_t i = 1; i < t->nobs && !rc; i++) {
		const pfm_rank_obs *a = &t->obs[ix[i - 1]], *b = &t->obs[ix[i]];
		if (a->task != b->task || a->model != b->model || a->unit != b->unit)
			continue;
		char u[256];
		pfm_rank_unit_str(&t->units[a->unit], u, sizeof u);
		rc = pfm_errf(e, "task '%s', model '%s': two results for %s (frames %llu and %llu); "
			      "tell them apart with fold or run",
			      t->tasks[a->task], t->models[a->model], u,
			      (unsigned long long)a->frame, (unsigned long long)b->frame);
	}
	free(ix);
	return rc;
}

int pfm_rank_acc_finish(pfm_rank_acc *a, pfm_rank_table *t, pfm_err *e)
{
	int rc = 0;
	if (a->metric2)
		rc = pfm_errf(e, "results carry several metrics (%s, %s ...): choose one with --metric",
			      a->t.metric, a->metric2);
	else if (a->split2)
		rc = pfm_errf(e, "results carry several splits (%s, %s ...): choose one with --split",
			      a->t.split, a->split2);
	else if (!a->t.ntasks)
		rc = pfm_errf(e, "no result frames%s%s", a->s.metric ? " for metric " : "",
			      a->s.metric ? a->s.metric : "");
	else
		rc = check_duplicates(&a->t, e);
	if (!rc) {
		for (size_t c = 0; c < (size_t)a->t.ntasks * a->t.nmodels; c++)
			a->t.v[c] = a->t.nv[c] ? a->sum[c] / a->t.nv[c] : NAN;
		if (!a->t.metric && a->s.metric)
			a->t.metric = strdup(a->s.metric);
		*t = a->t;
	} else {
		pfm_rank_table_free(&a->t);
	}
	free(a->sum), free(a->metric2), free(a->split2), free(a);
	return rc;
}

double pfm_rank_round(double v, int d)
{
	char b[512];
	if (isnan(v))
		return v;
	snprintf(b, sizeof b, "%.*f", d, v);
	return strtod(b, NULL);
}

void pfm_rank_table_round(pfm_rank_table *t, int d)
{
	for (size_t c = 0; c < (size_t)t->ntasks * t->nmodels; c++)
		t->v[c] = pfm_rank_round(t->v[c], d);
}

int pfm_rank_table_complete(pfm_rank_table *t, int drop, int *dropped,
			    pfm_err *e)
{
	*dropped = 0;
	int keep = 0;
	int *to = malloc(sizeof *to * (t->ntasks ? t->ntasks : 1));
	if (!to)
		return pfm_errf(e, "out of memory");
	for (int i = 0; i < t->ntasks; i++) {
		int miss = -1, nmiss = 0;
		for (int j = 0; j < t->nmodels; j++)
			if (isnan(t->v[(size_t)i * t->nmodels + j])) {
				if (miss < 0)
					miss = j;
				nmiss++;
			}
		to[i] = -1;
		if (miss >= 0 && !drop) {
			free(to);
			return pfm_errf(e, "task '%s': no result for model '%s'%s (use --drop-incomplete to skip such tasks)",
					t->tasks[i], t->models[miss],
					nmiss > 1 ? " and others" : "");
		}
		if (miss >= 0) {
			free(t->tasks[i]);
			free(t->groups[i]);
			(*dropped)++;
			continue;
		}
		t->tasks[keep] = t->tasks[i];
		t->groups[keep] = t->groups[i];
		memmove(t->v + (size_t)keep * t->nmodels, t->v + (size_t)i * t->nmodels,
			sizeof *t->v * t->nmodels);
		memmove(t->nv + (size_t)keep * t->nmodels, t->nv + (size_t)i * t->nmodels,
			sizeof *t->nv * t->nmodels);
		to[i] = keep++;
	}
	t->ntasks = keep;
	/* the results of dropped tasks go too */
	size_t nobs = 0;
	for (size_t o = 0; o < t->nobs; o++)
		if (to[t->obs[o].task] >= 0) {
			t->obs[nobs] = t->obs[o];
			t->obs[nobs++].task = to[t->obs[o].task];
		}
	t->nobs = nobs;
	free(to);
	return 0;
}
