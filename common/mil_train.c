/* mil_train.c: train and evaluate over folds and runs (pfm_mil_run). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h" /* pfm_now */
#include "metrics.h"
#include "mil.h"

/* One evaluated split. */
typedef struct {
	int n, k;      /* slides, outputs */
	int *idx;      /* slide indices into the data */
	int *y, *pred, *event;
	double *prob;  /* n x k: class probabilities, or survival S */
	double *risk, *time;
	double loss;   /* mean */
} evalset;

static void eval_free(evalset *v)
{
	free(v->idx), free(v->y), free(v->pred), free(v->event);
	free(v->prob), free(v->risk), free(v->time);
	memset(v, 0, sizeof *v);
}

static int eval_alloc(evalset *v, int n, int k)
{
	memset(v, 0, sizeof *v);
	v->n = n, v->k = k;
	size_t m = n ? n : 1;
	v->idx = malloc(sizeof *v->idx * m);
	v->y = malloc(sizeof *v->y * m);
	v->pred = malloc(sizeof *v->pred * m);
	v->event = malloc(sizeof *v->event * m);
	v->prob = malloc(sizeof *v->prob * m * k);
	v->risk = malloc(sizeof *v->risk * m);
	v->time = malloc(sizeof *v->time * m);
	return v->idx && v->y && v->pred && v->event && v->prob && v->risk && v->time ? 0 : -1;
}

/* The metrics of a split: pfm_eval's, and the loss. */
#define M_LOSS PFM_MET_N

static const char *mname(int id)
{
	return id == M_LOSS ? "loss" : pfm_metric_name[id];
}

static pfm_eval as_eval(const evalset *v)
{
	pfm_eval ev = {(size_t)v->n, v->k, v->y, v->pred, v->prob, v->event, v->time, v->risk};
	return ev;
}

static int metric_on(const evalset *v, int id, double *out, pfm_err *e)
{
	pfm_eval ev = as_eval(v);
	return pfm_eval_metric(&ev, id, NULL, ev.n, out, e);
}

/* ---- the run ---- */

typedef struct {
	const pfm_mil_data *d;
	const pfm_bagset *bags;
	const pfm_mil_run_opts *o;
	pfm_build *b, *meta;
	int fold_id, run, fold_ix;
	uint64_t seed;
	char unit[64];   /* "fold F, run R" for messages and logs */
	double t0;
	int epoch, best_epoch, epochs_done;
	char arch[256];  /* pfm_mil_describe, for the results' meta */
	char *sub;       /* subsampled bags (float or bf16 rows) */
	size_t sub_cap;  /* bytes */
	int *perm;
	size_t perm_cap;
} run_ctx;

static void warnf(const run_ctx *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->o->warn)
		c->o->warn("%s", msg);
}

/* Forward every slide of v (no dropout, whole bags); per-slide hook for
 * predictions and heatmaps. */
typedef int (*slide_hook)(run_ctx *c, pfm_mil *m, const evalset *v, int i,
			  const float *logits, pfm_err *e);

static int evaluate(run_ctx *c, pfm_mil *m, evalset *v, slide_hook hook,
		    pfm_err *e)
{
	const pfm_mil_data *d = c->d;
	int k = m->c.nout;
	float logits[256];
	double sum = 0;
	for (int i = 0; i < v->n; i++) {
		int s = v->idx[i];
		const pfm_bag *bag = &c->bags->bags[d->bag[s]];
		if (pfm_mil_forward(m, bag->x, bag->xb, bag->n, NULL, logits, e))
			return pfm_err_prefix(e, "%s: slide '%s'", c->unit, bag->id);
		v->y[i] = d->y[s];
		v->event[i] = d->event[s];
		v->time[i] = d->time[s];
		double *pr = v->prob + (size_t)i * k;
		if (d->task == PFM_TASK_CLS) {
			double mx = -INFINITY, z = 0;
			for (int j = 0; j < k; j++)
				mx = fmax(mx, logits[j]);
			for (int j = 0; j < k; j++)
				z += pr[j] = exp(logits[j] - mx);
			int best = 0;
			for (int j = 0; j < k; j++) {
				pr[j] /= z;
				if (pr[j] > pr[best])
					best = j;
			}
			v->pred[i] = best;
			v->risk[i] = 0;
			sum += pfm_mil_ce(logits, k, d->y[s], 1, NULL);
		} else {
			v->risk[i] = pfm_mil_surv_risk(logits, k, pr);
			v->pred[i] = 0;
			sum += pfm_mil_surv_nll(logits, k, d->y[s], !d->event[s],
						c->o->train.alpha, 1, NULL);
		}
		if (hook && hook(c, m, v, i, logits, e))
			return -1;
	}
	v->loss = v->n ? sum / v->n : NAN;
	return 0;
}

/* Whether the AUC (every class present: one-vs-rest, as sklearn) or the
 * c-index (a comparable pair) of a split of slides idx[n] is undefined,
 * as an error naming why. */
static int undefined_metric(const run_ctx *c, const int *idx, int n,
			    const char *split, const char *which, pfm_err *e)
{
	const pfm_mil_data *d = c->d;
	if (d->task == PFM_TASK_CLS) {
		for (int k = 0; k < d->nclass; k++) {
			int i = 0;
			while (i < n && d->y[idx[i]] != k)
				i++;
			if (i == n)
				return pfm_errf(e, "%s: the %s split (%d slides) has no slide of class "
						"'%s', so its AUC (one-vs-rest, as sklearn's)%s is undefined",
						c->unit, split, n, d->classes[k], which);
		}
		return 0;
	}
	double first = INFINITY, last = -INFINITY;
	for (int i = 0; i < n; i++) {
		if (d->event[idx[i]] && d->time[idx[i]] < first)
			first = d->time[idx[i]];
		if (d->time[idx[i]] > last)
			last = d->time[idx[i]];
	}
	/* sksurv's pairs: an event before another slide's time, or an
	 * event and a censoring at the same time */
	int pair = first < last;
	for (int i = 0; i < n && !pair; i++)
		pair = !d->event[idx[i]] && d->time[idx[i]] == first;
	if (!pair)
		return pfm_errf(e, "%s: the %s split (%d slides) has no comparable pair (an "
				"event before another slide's time), so its c-index%s is undefined",
				c->unit, split, n, which);
	return 0;
}

/* The monitored value of a validation pass, lower is better. */
static int monitored(run_ctx *c, const evalset *v, double *out, pfm_err *e)
{
	switch (c->o->monitor) {
	case PFM_MONITOR_LOSS:
		*out = v->loss;
		return 0;
	case PFM_MONITOR_ERROR:
		if (c->d->task == PFM_TASK_SURV)
			return pfm_errf(e, "--monitor error needs a classification task");
		*out = 1 - pfm_accuracy(v->y, v->pred, v->n);
		return 0;
	default: {
		double a;
		if (metric_on(v, c->d->task == PFM_TASK_CLS ? PFM_MET_AUROC : PFM_MET_CINDEX, &a, e))
			return pfm_err_prefix(e, "%s: validation split", c->unit);
		*out = -a;
		return 0;
	}
	}
}

static int write_metric_frame(run_ctx *c, int64_t step, int epoch, const char *split,
			      const char **names, const double *vals, int n, pfm_err *e)
{
	pfm_build *b = c->b, *mb = c->meta;
	pfm_build_reset(b, PFM_T_METRIC);
	pfm_build_reset(mb, NULL);
	for (int i = 0; i < n; i++)
		if (isfinite(vals[i]))
			pfm_build_f64(mb, names[i], vals[i]);
	pfm_build_i64(b, "step", step);
	pfm_build_obj(b, "values", pfm_build_object(mb));
	pfm_build_i64(b, "epoch", epoch);
	pfm_build_str(b, "run", c->unit);
	pfm_build_str(b, "split", split);
	if (pfm_write(c->o->log, b))
		return pfm_errf(e, "%s", pfm_writer_error(c->o->log));
	return 0;
}

/* Rows of a bag for training into it (x, or xb when the bags are
 * stored in bf16): all, or max_tiles drawn without replacement (kept in
 * their order). */
static int train_rows(run_ctx *c, const pfm_bag *bag, pfm_mil_item *it,
		      pfm_rng *r, size_t slot, pfm_err *e)
{
	int mt = c->o->max_tiles, d = c->bags->d;
	it->x = bag->x, it->xb = bag->xb;
	if (!mt || bag->n <= mt) {
		it->n = bag->n;
		return 0;
	}
	size_t es = bag->xb ? sizeof *bag->xb : sizeof *bag->x, row = es * d;
	if ((slot + 1) * (size_t)mt * row > c->sub_cap) {
		/* slots of earlier bags in this batch must stay valid: the
		 * caller reserves the whole batch first */
		return pfm_errf(e, "internal: subsample buffer");
	}
	if ((size_t)bag->n > c->perm_cap) {
		int *p = realloc(c->perm, sizeof *p * bag->n);
		if (!p)
			return pfm_errf(e, "out of memory");
		c->perm = p, c->perm_cap = bag->n;
	}
	for (int i = 0; i < bag->n; i++)
		c->perm[i] = i;
	for (int i = 0; i < mt; i++) {
		int j = i + (int)pfm_rng_below(r, (uint64_t)(bag->n - i));
		int t = c->perm[i];
		c->perm[i] = c->perm[j];
		c->perm[j] = t;
	}
	/* keep the chosen rows in their order */
	for (int i = 1; i < mt; i++)
		for (int j = i; j > 0 && c->perm[j - 1] > c->perm[j]; j--) {
			int t = c->perm[j];
			c->perm[j] = c->perm[j - 1];
			c->perm[j - 1] = t;
		}
	char *out = c->sub + slot * (size_t)mt * row;
	const char *in = bag->xb ? (const char *)bag->xb : (const char *)bag->x;
	for (int i = 0; i < mt; i++)
		memcpy(out + (size_t)i * row, in + (size_t)c->perm[i] * row, row);
	it->n = mt;
	it->x = bag->xb ? NULL : (const float *)out;
	it->xb = bag->xb ? (const uint16_t *)out : NULL;
	return 0;
}

static int write_weights(const char *path, const pfm_mil *m, pfm_err *e)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "wb");
	if (!f)
		return pfm_errf(e, "%s: %s", path, strerror(errno));
	int bad = fwrite(m->params, sizeof *m->params, m->nparams, f) != m->nparams;
	if (fclose(f) || bad || rename(tmp, path)) {
		int err = errno;
		unlink(tmp);
		return pfm_errf(e, "%s: %s", path, strerror(err));
	}
	return 0;
}

static int read_weights(const char *path, pfm_mil *m, pfm_err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return pfm_errf(e, "--init %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) || (size_t)st.st_size != m->nparams * sizeof(float)) {
		fclose(f);
		return pfm_errf(e, "--init %s: %lld bytes, the model has %zu float32 parameters (%zu bytes)",
				path, (long long)st.st_size, m->nparams, m->nparams * sizeof(float));
	}
	int bad = fread(m->params, sizeof *m->params, m->nparams, f) != m->nparams;
	fclose(f);
	if (bad)
		return pfm_errf(e, "--init %s: short read", path);
	for (size_t i = 0; i < m->nparams; i++)
		if (!isfinite(m->params[i]))
			return pfm_errf(e, "--init %s: parameter %zu is not finite", path, i);
	return 0;
}

/* ---- outputs ---- */

static void put_common(run_ctx *c, pfm_build *b)
{
	pfm_build_str(b, "task", c->o->task);
	pfm_build_str(b, "model", c->o->model_name);
}

static int write_results(run_ctx *c, const evalset *v, pfm_err *e)
{
	const pfm_mil_run_opts *o = c->o;
	int task = c->d->task;
	int ids[8], nid = 0;
	if (task == PFM_TASK_CLS) {
		int l[] = {PFM_MET_AUROC, PFM_MET_BALACC, PFM_MET_F1_MACRO, PFM_MET_F1_WEIGHTED,
			   PFM_MET_ACCURACY, PFM_MET_KAPPA, M_LOSS};
		memcpy(ids, l, sizeof l), nid = 7;
	} else {
		ids[0] = PFM_MET_CINDEX, ids[1] = M_LOSS, nid = 2;
	}
	for (int q = 0; q < nid; q++) {
		int id = ids[q];
		double val, lo = NAN, hi = NAN;
		if (id == M_LOSS) {
			val = v->loss;
		} else if (metric_on(v, id, &val, e)) {
			if (id == PFM_MET_KAPPA) { /* undefined for this split: say so, go on */
				warnf(c, "%s: %s not reported: %s", c->unit, mname(id), e->msg);
				continue;
			}
			return pfm_err_prefix(e, "%s: test split (%d slides)", c->unit, v->n);
		}
		if (o->boot && id != M_LOSS) {
			pfm_eval ev = as_eval(v);
			pfm_boot_opts bo = {o->boot, c->seed, o->ci};
			int valid;
			pfm_err be = {0};
			if (pfm_eval_ci(&ev, id, &bo, &lo, &hi, &valid, &be))
				warnf(c, "%s: %s: no confidence interval: %s", c->unit, mname(id), be.msg);
			else if (valid < o->boot)
				warnf(c, "%s: %s: %d of %d bootstrap replicates were defined", c->unit,
				      mname(id), valid, o->boot);
		}
		pfm_build *b = c->b, *mb = c->meta;
		pfm_build_reset(b, PFM_T_RESULT);
		pfm_build_reset(mb, NULL);
		put_common(c, b);
		pfm_build_str(b, "metric", mname(id));
		pfm_build_f64(b, "value", val);
		pfm_build_i64(b, "fold", c->fold_id);
		pfm_build_i64(b, "run", c->run);
		pfm_build_str(b, "split", "test");
		pfm_build_i64(b, "n", v->n);
		if (isfinite(lo) && isfinite(hi)) {
			pfm_build_f64(b, "ci_low", lo);
			pfm_build_f64(b, "ci_high", hi);
		}
		pfm_build_str(b, "task_type", task == PFM_TASK_CLS ? "classification" : "survival");
		pfm_build_str(mb, "head", o->head);
		pfm_build_str(mb, "arch", c->arch);
		pfm_build_str(mb, "emb", c->bags->emb);
		pfm_build_str(mb, "run_id", o->run_id);
		pfm_build_i64(mb, "seed", (int64_t)c->seed);
		pfm_build_i64(mb, "epochs", c->epochs_done);
		if (c->best_epoch >= 0)
			pfm_build_i64(mb, "best_epoch", c->best_epoch);
		if (o->boot) {
			pfm_build_i64(mb, "bootstrap", o->boot);
			pfm_build_f64(mb, "ci_level", o->ci);
		}
		pfm_build_obj(b, "meta", pfm_build_object(mb));
		if (pfm_write(o->results, b))
			return pfm_errf(e, "%s", pfm_writer_error(o->results));
	}
	return 0;
}

/* A file name from a slide id: '/' and other awkward bytes become '_'. */
static void safe_name(char *out, size_t n, const char *id)
{
	size_t i = 0;
	for (; id[i] && i + 1 < n; i++) {
		unsigned char ch = (unsigned char)id[i];
		out[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ? (char)ch : '_';
	}
	out[i] = 0;
	if (out[0] == '.')
		out[0] = '_';
}

static int test_hook(run_ctx *c, pfm_mil *m, const evalset *v, int i,
		     const float *logits, pfm_err *e)
{
	(void)logits;
	const pfm_mil_run_opts *o = c->o;
	const pfm_mil_data *d = c->d;
	int s = v->idx[i];
	const pfm_bag *bag = &c->bags->bags[d->bag[s]];
	int attn = m->c.pool == PFM_POOL_ATTN;
	msgpack_object cls[256]; /* the classes array: must live until written */
	if (o->predictions) {
		pfm_build *b = c->b;
		pfm_build_reset(b, "prediction");
		put_common(c, b);
		pfm_build_str(b, "slide_id", bag->id);
		pfm_build_str(b, "case_id", d->cases[d->case_of[s]]);
		pfm_build_i64(b, "fold", c->fold_id);
		pfm_build_i64(b, "run", c->run);
		pfm_build_str(b, "split", "test");
		int64_t shp[2] = {v->k, 0};
		pfm_tensor t;
		pfm_tensor_set(&t, PFM_F64, v->prob + (size_t)i * v->k, 1, shp);
		if (d->task == PFM_TASK_CLS) {
			pfm_build_str(b, "label", d->classes[v->y[i]]);
			pfm_build_str(b, "pred", d->classes[v->pred[i]]);
			pfm_build_tensor(b, "probs", &t);
			msgpack_object arr = {.type = MSGPACK_OBJECT_ARRAY};
			for (int j = 0; j < d->nclass; j++) {
				cls[j].type = MSGPACK_OBJECT_STR;
				cls[j].via.str.ptr = d->classes[j];
				cls[j].via.str.size = (uint32_t)strlen(d->classes[j]);
			}
			arr.via.array.size = (uint32_t)d->nclass;
			arr.via.array.ptr = cls;
			pfm_build_obj(b, "classes", &arr);
		} else {
			pfm_build_f64(b, "risk", v->risk[i]);
			pfm_build_tensor(b, "survival", &t);
			pfm_build_f64(b, "time", v->time[i]);
			pfm_build_i64(b, "event", v->event[i]);
			pfm_build_i64(b, "bin", v->y[i]);
		}
		pfm_tensor ta, tc;
		if (attn) {
			int64_t sa[1] = {bag->n};
			pfm_tensor_set(&ta, PFM_F32, m->att, 1, sa);
			pfm_build_tensor(b, "attention", &ta);
			if (bag->has_xy) {
				int64_t sc[2] = {bag->n, 2};
				pfm_tensor_set(&tc, PFM_I64, bag->xy, 2, sc);
				pfm_build_tensor(b, "coords", &tc);
			}
		}
		if (pfm_write(o->predictions, b))
			return pfm_errf(e, "%s", pfm_writer_error(o->predictions));
	}
	if (o->heatmap_dir && attn) {
		const char *path = NULL;
		for (int j = 0; o->slides && j < o->slides->n && !path; j++)
			if (!strcmp(o->slides->v[j].id, bag->id))
				path = o->slides->v[j].path;
		if (!path) {
			if (c->fold_ix == 0 && c->run == 0)
				warnf(c, "slide '%s': no heatmap: its path is not in --slides", bag->id);
		} else if (!bag->has_xy) {
			warnf(c, "slide '%s': no heatmap: its embeddings have no coordinates", bag->id);
		} else {
			char name[512], png[4096];
			safe_name(name, sizeof name, bag->id);
			snprintf(png, sizeof png, "%s/%s-fold%d-run%d.png", o->heatmap_dir, name,
				 c->fold_id, c->run);
			if (pfm_mil_heatmap(png, path, bag, m->att, e))
				return pfm_err_prefix(e, "slide '%s': heatmap", bag->id);
		}
	}
	return 0;
}

static void progress(run_ctx *c, int nfolds, const char *fmt, ...)
{
	if (!c->o->progress)
		return;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\r%s: fold %d/%d, run %d/%d: %s\033[K", "mil-train", c->fold_ix + 1,
		nfolds, c->run + 1, c->o->runs, msg);
}

static int split_list(const pfm_mil_data *d, const pfm_mil_splits *s, int f,
		      int which, int **out)
{
	int n = 0;
	*out = malloc(sizeof **out * (d->nslides + 1));
	if (!*out)
		return -1;
	for (int i = 0; i < d->nslides; i++)
		if (s->split[(size_t)f * d->nslides + i] == which)
			(*out)[n++] = i;
	return n;
}

static int one_run(run_ctx *c, const pfm_mil_splits *s, pfm_err *e)
{
	const pfm_mil_data *d = c->d;
	const pfm_mil_run_opts *o = c->o;
	int *tr = NULL, *va = NULL, *te = NULL, rc = -1;
	int ntr = split_list(d, s, c->fold_ix, PFM_SPLIT_TRAIN, &tr);
	int nva = split_list(d, s, c->fold_ix, PFM_SPLIT_VAL, &va);
	int nte = split_list(d, s, c->fold_ix, PFM_SPLIT_TEST, &te);
	pfm_mil m = {0};
	evalset vv = {0}, tv = {0};
	float *best = NULL;
	pfm_mil_item *items = NULL;
	double *bl = NULL;
	if (ntr < 0 || nva < 0 || nte < 0) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	if (!ntr || !nte) {
		pfm_errf(e, "%s: the %s split is empty", c->unit, ntr ? "test" : "training");
		goto out;
	}
	/* a single-class training split cannot train a classifier */
	if (d->task == PFM_TASK_CLS) {
		int first = d->y[tr[0]], one = 1;
		for (int i = 1; i < ntr && one; i++)
			one = d->y[tr[i]] == first;
		if (one) {
			pfm_errf(e, "%s: the training split holds only class '%s' (%d slides)",
				 c->unit, d->classes[first], ntr);
			goto out;
		}
	} else {
		int ev = 0;
		for (int i = 0; i < ntr; i++)
			ev += d->event[tr[i]];
		if (!ev) {
			pfm_errf(e, "%s: the training split has no events", c->unit);
			goto out;
		}
	}
	/* metrics that will be undefined: say so now, not after training */
	if (undefined_metric(c, te, nte, "test", "", e) ||
	    (nva && o->monitor == PFM_MONITOR_AUC &&
	     undefined_metric(c, va, nva, "validation", ", which --monitor auc follows,", e)))
		goto out;
	pfm_mil_config mc = o->model;
	mc.d = c->bags->d;
	mc.nout = d->task == PFM_TASK_CLS ? d->nclass : d->nbins;
	pfm_rng rinit = pfm_rng_seed(c->seed, 1), rord = pfm_rng_seed(c->seed, 2);
	pfm_rng rdrop = pfm_rng_seed(c->seed, 3), rsub = pfm_rng_seed(c->seed, 4);
	if (pfm_mil_init(&m, &mc, &rinit, e))
		goto out;
	pfm_mil_describe(&m, c->arch, sizeof c->arch);
	if (o->init && read_weights(o->init, &m, e))
		goto out;
	pfm_mil_train_opts to = o->train;
	to.task = d->task;
	int B = to.batch > 0 ? to.batch : 1;
	items = calloc(B, sizeof *items);
	bl = malloc(sizeof *bl * B);
	int *order = malloc(sizeof *order * ntr);
	if (!items || !bl || !order) {
		free(order);
		pfm_errf(e, "out of memory");
		goto out;
	}
	if (o->max_tiles) {
		size_t need = (size_t)B * o->max_tiles * mc.d * sizeof(float);
		if (need > c->sub_cap) {
			char *sb = realloc(c->sub, need);
			if (!sb) {
				free(order);
				pfm_errf(e, "out of memory");
				goto out;
			}
			c->sub = sb, c->sub_cap = need;
		}
	}
	/* classes (or bins) present in training, for weighted sampling */
	int ncls = mc.nout, *cls_n = calloc(ncls, sizeof *cls_n), *cls_list = malloc(sizeof *cls_list * ntr);
	int *cls_off = calloc(ncls + 1, sizeof *cls_off);
	if (!cls_n || !cls_list || !cls_off) {
		free(order), free(cls_n), free(cls_list), free(cls_off);
		pfm_errf(e, "out of memory");
		goto out;
	}
	for (int i = 0; i < ntr; i++)
		cls_n[d->y[tr[i]]]++;
	for (int k = 0; k < ncls; k++)
		cls_off[k + 1] = cls_off[k] + cls_n[k];
	{
		int *fill = calloc(ncls, sizeof *fill);
		for (int i = 0; i < ntr && fill; i++) {
			int k = d->y[tr[i]];
			cls_list[cls_off[k] + fill[k]++] = tr[i];
		}
		free(fill);
	}
	int present = 0, *present_cls = malloc(sizeof *present_cls * ncls);
	for (int k = 0; k < ncls && present_cls; k++)
		if (cls_n[k])
			present_cls[present++] = k;
	if (nva && eval_alloc(&vv, nva, mc.nout)) {
		pfm_errf(e, "out of memory");
		goto fail_loop;
	}
	if (nva)
		memcpy(vv.idx, va, sizeof *va * nva);
	best = nva ? malloc(sizeof *best * m.nparams) : NULL;
	double best_val = INFINITY;
	int since = 0;
	c->best_epoch = -1;
	c->epochs_done = 0;
	for (int ep = 0; ep < o->epochs; ep++) {
		c->epoch = ep;
		/* the epoch's order */
		if (o->weighted) {
			for (int i = 0; i < ntr; i++) {
				int k = present_cls[pfm_rng_below(&rord, present)];
				order[i] = cls_list[cls_off[k] + pfm_rng_below(&rord, cls_n[k])];
			}
		} else {
			memcpy(order, tr, sizeof *order * ntr);
			if (o->shuffle)
				pfm_rng_shuffle(&rord, order, ntr);
		}
		double lsum = 0, t_ep = pfm_now();
		for (int start = 0; start < ntr; start += B) {
			int nb = ntr - start < B ? ntr - start : B;
			for (int q = 0; q < nb; q++) {
				int sl = order[start + q];
				const pfm_bag *bag = &c->bags->bags[d->bag[sl]];
				if (train_rows(c, bag, &items[q], &rsub, q, e))
					goto fail_loop;
				items[q].y = d->y[sl];
				items[q].censored = !d->event[sl];
				items[q].mask = NULL;
			}
			if (pfm_mil_epoch(&m, items, nb, &to, &rdrop, bl, e)) {
				pfm_err_prefix(e, "%s: epoch %d", c->unit, ep);
				goto fail_loop;
			}
			double bsum = 0;
			for (int q = 0; q < nb; q++)
				bsum += bl[q];
			lsum += bsum;
			if (o->log && o->log_steps) {
				const char *nm[1] = {"loss"};
				double vals[1] = {bsum / nb};
				if (write_metric_frame(c, m.step, ep, "train", nm, vals, 1, e))
					goto fail_loop;
			}
		}
		c->epochs_done = ep + 1;
		double secs = pfm_now() - t_ep;
		double train_loss = lsum / ntr, mon = NAN, vauc = NAN, verr = NAN;
		if (nva) {
			if (evaluate(c, &m, &vv, NULL, e))
				goto fail_loop;
			if (d->task == PFM_TASK_CLS)
				verr = 1 - pfm_accuracy(vv.y, vv.pred, vv.n);
			pfm_err ie;
			if (metric_on(&vv, d->task == PFM_TASK_CLS ? PFM_MET_AUROC : PFM_MET_CINDEX,
				      &vauc, &ie))
				vauc = NAN;
			if (monitored(c, &vv, &mon, e))
				goto fail_loop;
			if (mon < best_val) {
				best_val = mon;
				c->best_epoch = ep;
				since = 0;
				memcpy(best, m.params, sizeof *best * m.nparams);
			} else {
				since++;
			}
		}
		if (o->log) {
			const char *nm[2] = {"epoch_loss", "seconds"};
			double vals[2] = {train_loss, secs};
			if (write_metric_frame(c, m.step, ep, "train", nm, vals, 2, e))
				goto fail_loop;
			if (nva) {
				const char *vn[3] = {"loss", "error", d->task == PFM_TASK_CLS ? "auroc" : "c_index"};
				double vx[3] = {vv.loss, verr, vauc};
				if (write_metric_frame(c, m.step, ep, "val", vn, vx, 3, e))
					goto fail_loop;
			}
		}
		if (nva)
			progress(c, s->nfolds, "epoch %d/%d, loss %.4f, val loss %.4f", ep + 1,
				 o->epochs, train_loss, vv.loss);
		else
			progress(c, s->nfolds, "epoch %d/%d, loss %.4f", ep + 1, o->epochs, train_loss);
		if (nva && o->patience > 0 && since >= o->patience && ep + 1 >= o->min_epochs)
			break;
	}
	if (nva && c->best_epoch >= 0)
		memcpy(m.params, best, sizeof *best * m.nparams);
	if (o->save) {
		char path[4096];
		snprintf(path, sizeof path, "%s-fold%d-run%d.f32", o->save, c->fold_id, c->run);
		if (write_weights(path, &m, e))
			goto fail_loop;
	}
	/* test */
	if (eval_alloc(&tv, nte, mc.nout)) {
		pfm_errf(e, "out of memory");
		goto fail_loop;
	}
	memcpy(tv.idx, te, sizeof *te * nte);
	if (evaluate(c, &m, &tv, test_hook, e) || (o->results && write_results(c, &tv, e)))
		goto fail_loop;
	rc = 0;
fail_loop:
	free(order), free(cls_n), free(cls_list), free(cls_off), free(present_cls);
out:
	free(tr), free(va), free(te), free(best), free(items), free(bl);
	eval_free(&vv), eval_free(&tv);
	pfm_mil_free(&m);
	return rc;
}

int pfm_mil_run(const pfm_mil_data *d, const pfm_bagset *bags,
		const pfm_mil_splits *s, const pfm_mil_run_opts *o, pfm_err *e)
{
	run_ctx c = {.d = d, .bags = bags, .o = o};
	c.b = pfm_build_new();
	c.meta = pfm_build_new();
	int rc = 0;
	if (!c.b || !c.meta)
		rc = pfm_errf(e, "out of memory");
	for (int f = 0; f < s->nfolds && !rc; f++)
		for (int r = 0; r < (o->runs > 0 ? o->runs : 1) && !rc; r++) {
			c.fold_ix = f;
			c.fold_id = s->fold_id[f];
			c.run = r;
			c.seed = o->seed + (uint64_t)r;
			snprintf(c.unit, sizeof c.unit, "fold %d, run %d", c.fold_id, r);
			rc = one_run(&c, s, e);
		}
	if (o->progress)
		fputs(rc ? "\n" : "\r\033[K", stderr);
	pfm_build_free(c.b);
	pfm_build_free(c.meta);
	free(c.sub), free(c.perm);
	return rc;
}
