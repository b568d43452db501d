/* gen_out.c: what report-gen and vqa-train write: result frames (with
 * bootstrap intervals), the test split's predictions as JSON lines, the
 * summary on stderr. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen_task.h"
#include "metrics.h"

/* the metrics of each kind, in the order they are written */
enum { M_BLEU1, M_BLEU2, M_BLEU3, M_BLEU4, M_ROUGEL, M_CIDER, M_ACC, M_CLOSED,
       M_OPEN_EM, M_OPEN_F1, M_OPEN_BLEU1, M_CHOICE, M_N };
static const char *const mname[M_N] = {
	"bleu1", "bleu2", "bleu3", "bleu4", "rougeL", "cider", "accuracy",
	"closed_accuracy", "open_exact_match", "open_f1", "open_bleu1", "choice_accuracy"};

typedef struct {
	const pfm_gen_task *t;
	const pfm_gen_eval *ev;
	int metric;
} boot_ctx;

/* Metric m of the examples idx[0..n) (with repeats; idx NULL: all). */
static int metric_of(const pfm_gen_task *t, const pfm_gen_eval *ev, int m, const size_t *idx,
		     size_t n, double *out)
{
	pfm_err e = {0};
	int rc = -1;
	if (t->kind == PFM_GEN_REPORT) {
		pfm_tokseq *hyp = malloc(sizeof *hyp * n), *ref = malloc(sizeof *ref * n);
		int *off = malloc(sizeof *off * (n + 1));
		pfm_text_scores s;
		for (size_t i = 0; hyp && ref && off && i < n; i++) {
			size_t k = idx ? idx[i] : i;
			hyp[i] = (pfm_tokseq){ev->hyp[k], ev->hyp_len[k]};
			ref[i] = (pfm_tokseq){t->tok[ev->item[k]], t->len[ev->item[k]]};
			off[i] = (int)i;
		}
		if (hyp && ref && off) {
			off[n] = (int)n;
			pfm_text_corpus c = {(int)n, hyp, ref, off};
			if (!pfm_text_scores_compute(&s, &c, &e)) {
				*out = m <= M_BLEU4 ? s.bleu[m] : m == M_ROUGEL ? s.rouge_l : s.cider_d;
				rc = 0;
			}
		}
		free(hyp), free(ref), free(off);
		return rc;
	}
	if (m == M_OPEN_BLEU1 || m == M_CLOSED || m == M_OPEN_EM || m == M_OPEN_F1) {
		const char **p = malloc(sizeof *p * (n + 1)), **tr = malloc(sizeof *tr * (n + 1));
		pfm_vqa_scores s;
		for (size_t i = 0; p && tr && i < n; i++) {
			size_t k = idx ? idx[i] : i;
			p[i] = ev->pred_text[k];
			tr[i] = t->set->items[ev->item[k]].text;
		}
		if (p && tr && !pfm_vqa_score(&s, NULL, NULL, p, NULL, tr, NULL, (int)n, &e)) {
			*out = m == M_OPEN_BLEU1 ? s.open_bleu1 : m == M_CLOSED ? s.closed_acc
			       : m == M_OPEN_EM ? s.open_exact : s.open_f1;
			rc = isfinite(*out) ? 0 : -1;
		}
		free(p), free(tr);
		return rc;
	}
	double sum = 0;
	size_t cnt = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = idx ? idx[i] : i;
		if (m == M_CHOICE && !t->set->items[ev->item[k]].choices)
			continue;
		sum += ev->ex_exact[k], cnt++;
	}
	*out = cnt ? sum / cnt : NAN;
	return cnt ? 0 : -1;
}

static int boot_fn(void *ctx, const size_t *idx, size_t n, double *value)
{
	const boot_ctx *b = ctx;
	return metric_of(b->t, b->ev, b->metric, idx, n, value);
}

static void metric_range(const pfm_gen_task *t, int *a, int *b)
{
	if (t->kind == PFM_GEN_REPORT)
		*a = M_BLEU1, *b = M_CIDER;
	else
		*a = M_ACC, *b = M_CHOICE;
}

int pfm_gen_write_results(const pfm_gen_task *t, const pfm_gen_eval *ev, pfm_gen_run *r,
			  const char *model_name, pfm_err *e)
{
	const pfm_gen_opts *o = t->o;
	pfm_build *b = pfm_build_new(), *mb = pfm_build_new();
	if (!b || !mb) {
		pfm_build_free(b), pfm_build_free(mb);
		return pfm_errf(e, "out of memory");
	}
	int a, z, rc = 0;
	metric_range(t, &a, &z);
	for (int m = a; !rc && m <= z + 1; m++) {
		double v, lo = NAN, hi = NAN;
		int is_loss = m == z + 1;
		if (is_loss) {
			if (!isfinite(ev->loss))
				continue;
			v = ev->loss;
		} else if (metric_of(t, ev, m, NULL, ev->n, &v)) {
			continue; /* no question of that kind */
		}
		if (o->boot && !is_loss) {
			boot_ctx bc = {t, ev, m};
			pfm_boot_opts bo = {o->boot, o->seed, o->ci};
			int valid;
			pfm_err be = {0};
			if (pfm_bootstrap_ci(boot_fn, &bc, ev->n, &bo, &lo, &hi, &valid, &be))
				r->warn("%s: no confidence interval: %s", mname[m], be.msg);
		}
		pfm_build_reset(b, "result");
		pfm_build_reset(mb, NULL);
		pfm_build_str(b, "task", r->task_name);
		pfm_build_str(b, "model", model_name);
		pfm_build_str(b, "metric", is_loss ? "loss" : mname[m]);
		pfm_build_f64(b, "value", v);
		pfm_build_i64(b, "fold", 0);
		pfm_build_i64(b, "run", (int64_t)o->seed);
		pfm_build_str(b, "split", "test");
		pfm_build_i64(b, "n", ev->n);
		if (isfinite(lo) && isfinite(hi)) {
			pfm_build_f64(b, "ci_low", lo);
			pfm_build_f64(b, "ci_high", hi);
		}
		pfm_build_str(b, "task_type", t->kind == PFM_GEN_REPORT ? "report_generation" : "vqa");
		pfm_build_str(mb, "program", r->prog);
		if (t->bags->emb)
			pfm_build_str(mb, "emb", t->bags->emb);
		pfm_build_str(mb, "run_id", r->run_id);
		pfm_build_i64(mb, "seed", (int64_t)o->seed);
		pfm_build_i64(mb, "epochs", r->epochs_done);
		if (r->best_epoch > 0)
			pfm_build_i64(mb, "best_epoch", r->best_epoch);
		if (t->kind == PFM_GEN_REPORT) {
			pfm_build_i64(mb, "beam", o->beam);
			pfm_build_i64(mb, "max_len", t->model.c.max_len);
		}
		pfm_build_i64(mb, "vocab", pfm_vocab_size(t->vocab));
		if (o->boot) {
			pfm_build_i64(mb, "bootstrap", o->boot);
			pfm_build_f64(mb, "ci_level", o->ci);
		}
		pfm_build_obj(b, "meta", pfm_build_object(mb));
		if (pfm_write(r->results, b))
			rc = pfm_errf(e, "%s", pfm_writer_error(r->results));
	}
	pfm_build_free(b), pfm_build_free(mb);
	return rc;
}

void pfm_gen_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* ,"key":"value" */
static void kv(FILE *f, const char *key, const char *val)
{
	fprintf(f, ",\"%s\":", key);
	pfm_gen_json_str(f, val);
}

static int tokens_text(const pfm_gen_task *t, const int32_t *ids, int n, char **out, pfm_err *e)
{
	return pfm_vocab_decode(t->vocab, ids, (size_t)n, out, e);
}

/* One line of a report task. */
static int report_line(FILE *f, const pfm_gen_task *t, const pfm_gen_eval *ev,
		       const pfm_gen_eval *base, int i, pfm_err *e)
{
	int item = ev->item[i];
	char *hyp = NULL, *ref = NULL, *bl = NULL;
	int rc = tokens_text(t, ev->hyp[i], ev->hyp_len[i], &hyp, e) ||
		 tokens_text(t, t->tok[item], t->len[item], &ref, e) ||
		 (base && tokens_text(t, base->hyp[i], base->hyp_len[i], &bl, e));
	if (!rc) {
		fputs("{\"id\":", f);
		pfm_gen_json_str(f, t->set->items[item].id);
		kv(f, "prediction", hyp);
		kv(f, "reference", ref);
		if (bl)
			kv(f, "baseline", bl);
		fputs("}\n", f);
	}
	free(hyp), free(ref), free(bl);
	return rc ? -1 : 0;
}

static void vqa_line(FILE *f, const pfm_gen_task *t, const pfm_gen_eval *ev,
		     const pfm_gen_eval *base, int i)
{
	const pfm_gen_item *it = &t->set->items[ev->item[i]];
	fputs("{\"id\":", f);
	pfm_gen_json_str(f, it->id);
	kv(f, "question", it->question);
	kv(f, "answer", it->text);
	kv(f, "prediction", ev->pred_text[i]);
	fprintf(f, ",\"type\":\"%s\",\"correct\":%s,\"f1\":%.6g",
		it->type == PFM_GEN_OPEN ? "open" : "closed", ev->ex_exact[i] > 0 ? "true" : "false",
		ev->ex_f1[i]);
	if (base)
		kv(f, "baseline", base->pred_text[i]);
	fputs("}\n", f);
}

int pfm_gen_write_predictions(const pfm_gen_task *t, const pfm_gen_eval *ev,
			      const pfm_gen_eval *base, const char *path, pfm_err *e)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return pfm_errf(e, "%s: %s", path, strerror(errno));
	int rc = 0;
	for (int i = 0; !rc && i < ev->n; i++) {
		if (t->kind == PFM_GEN_REPORT)
			rc = report_line(f, t, ev, base, i, e);
		else
			vqa_line(f, t, ev, base, i);
	}
	int err = ferror(f) ? EIO : 0;
	if (fclose(f) && !err)
		err = errno;
	if (!rc && !err && rename(tmp, path))
		err = errno;
	if (rc || err) {
		unlink(tmp);
		return rc ? pfm_err_prefix(e, "%s", path) : pfm_errf(e, "%s: %s", path, strerror(err));
	}
	return 0;
}

void pfm_gen_summary(const pfm_gen_task *t, const pfm_gen_eval *ev, const pfm_gen_eval *base,
		     void (*warn)(const char *, ...))
{
	char line[1024];
	int w = 0, a, z;
	metric_range(t, &a, &z);
	for (int m = a; m <= z; m++) {
		double v, bv;
		if (metric_of(t, ev, m, NULL, ev->n, &v))
			continue;
		w += snprintf(line + w, sizeof line - w, "%s%s %.4f", w ? ", " : "", mname[m], v);
		if (base && !metric_of(t, base, m, NULL, base->n, &bv) && w < (int)sizeof line)
			w += snprintf(line + w, sizeof line - w, " (most frequent %.4f)", bv);
		if (w >= (int)sizeof line)
			break;
	}
	warn("test (%d %s): %s", ev->n, t->kind == PFM_GEN_REPORT ? "reports" : "questions", line);
}
