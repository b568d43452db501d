/* gen_eval.c: a split's evaluation: generated reports and their text
 * metrics, or answers and the VQA metrics; the trivial baseline (the
 * most frequent training report / answer) the same way. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen_task.h"

/* The seq examples of items idx[0..n) (whole bags: evaluation). */
static pfm_seq_example *examples(const pfm_gen_task *t, const int *idx, int n)
{
	pfm_seq_example *ex = calloc(n + 1, sizeof *ex);
	for (int i = 0; ex && i < n; i++) {
		int k = idx[i];
		const pfm_bag *b = &t->bags->bags[t->set->items[k].bag];
		ex[i] = (pfm_seq_example){.x = b->x, .n = b->n, .tok = t->tok[k], .len = t->len[k],
					  .ans = t->ans[k], .ans_len = t->ans_len[k],
					  .answer = t->cls ? t->cls[k] : -1};
	}
	return ex;
}

/* Mean loss over the counted targets, no dropout. */
static int eval_loss(const pfm_gen_task *t, const pfm_seq_example *ex, int n, double *out,
		     pfm_err *e)
{
	pfm_seq_ws *ws = pfm_seq_ws_new();
	if (!ws)
		return pfm_errf(e, "out of memory");
	double sum = 0;
	long cnt = 0;
	int rc = 0;
	for (int i = 0; !rc && i < n; i++) {
		double l;
		int c;
		if (t->task == PFM_SEQ_VQA_CLS && ex[i].answer < 0)
			continue;
		rc = pfm_seq_loss(&t->model, ws, t->task, &ex[i], 0, 1, NULL, NULL, NULL, &l, &c, e);
		sum += l, cnt += c;
	}
	pfm_seq_ws_free(ws);
	*out = cnt ? sum / cnt : NAN;
	return rc;
}

/* The most frequent training report's tokens (ties: the first seen). */
static int most_frequent_report(const pfm_gen_task *t)
{
	const int *tr = t->of_split[PFM_SPLIT_TRAIN];
	int n = t->nsplit[PFM_SPLIT_TRAIN], best = tr[0], bestc = 0;
	for (int i = 0; i < n; i++) {
		int a = tr[i], c = 0, first = 1;
		for (int j = 0; j < n && first; j++) {
			int b = tr[j];
			int same = t->len[a] == t->len[b] && !memcmp(t->tok[a], t->tok[b], sizeof(int32_t) * t->len[a]);
			if (same && j < i)
				first = 0; /* counted at its first occurrence */
			c += same;
		}
		if (first && c > bestc)
			best = a, bestc = c;
	}
	return best;
}

static int report_scores(const pfm_gen_task *t, pfm_gen_eval *ev, pfm_err *e)
{
	pfm_tokseq *hyp = malloc(sizeof *hyp * ev->n), *ref = malloc(sizeof *ref * ev->n);
	int *off = malloc(sizeof *off * (ev->n + 1)), rc = 0;
	if (!hyp || !ref || !off)
		rc = pfm_errf(e, "out of memory");
	for (int i = 0; !rc && i < ev->n; i++) {
		hyp[i] = (pfm_tokseq){ev->hyp[i], ev->hyp_len[i]};
		ref[i] = (pfm_tokseq){t->tok[ev->item[i]], t->len[ev->item[i]]};
		off[i] = i;
	}
	if (!rc) {
		off[ev->n] = ev->n;
		pfm_text_corpus c = {ev->n, hyp, ref, off};
		rc = pfm_text_scores_compute(&ev->text, &c, e);
	}
	free(hyp), free(ref), free(off);
	return rc;
}

static int eval_report(pfm_gen_task *t, pfm_seq_pool *pool, const pfm_seq_example *ex,
		       int baseline, pfm_gen_eval *ev, pfm_err *e)
{
	const pfm_gen_opts *o = t->o;
	int L = t->model.c.max_len, n = ev->n;
	ev->hyp = calloc(n + 1, sizeof *ev->hyp);
	ev->hyp_len = calloc(n + 1, sizeof *ev->hyp_len);
	int *out = malloc(sizeof *out * ((size_t)n * L + 1));
	if (!ev->hyp || !ev->hyp_len || !out)
		return free(out), pfm_errf(e, "out of memory");
	if (baseline) {
		int b = most_frequent_report(t);
		for (int i = 0; i < n; i++) {
			memcpy(out + (size_t)i * L, t->tok[b], sizeof *out * t->len[b]);
			ev->hyp_len[i] = t->len[b];
		}
	} else {
		pfm_seq_gen_opts g = {.beam = o->beam, .max_len = L,
				      .length_alpha = (float)o->length_penalty,
				      .no_repeat_ngram = o->no_repeat_ngram,
				      .repetition_penalty = (float)o->repetition_penalty};
		if (pfm_seq_generate_batch(pool, &t->model, t->task, ex, n, &g, out, ev->hyp_len, e))
			return free(out), -1;
	}
	for (int i = 0; i < n; i++) {
		if (!(ev->hyp[i] = malloc(sizeof(int32_t) * (ev->hyp_len[i] + 1))))
			return free(out), pfm_errf(e, "out of memory");
		memcpy(ev->hyp[i], out + (size_t)i * L, sizeof(int32_t) * ev->hyp_len[i]);
	}
	free(out);
	return report_scores(t, ev, e);
}

/* argmax of scores over the item's allowed classes (all when none);
 * ties: the lower class */
static int choose(const pfm_gen_task *t, int item, const double *s)
{
	int a = t->allowed_off[item], b = t->allowed_off[item + 1], best = -1;
	if (a == b) {
		for (int c = 0; c < t->nans; c++)
			if (best < 0 || s[c] > s[best])
				best = c;
		return best;
	}
	for (int j = a; j < b; j++) {
		int c = t->allowed[j];
		if (best < 0 || s[c] > s[best] || (s[c] == s[best] && c < best))
			best = c;
	}
	return best;
}

static int eval_vqa(pfm_gen_task *t, pfm_seq_pool *pool, const pfm_seq_example *ex,
		    int baseline, pfm_gen_eval *ev, pfm_err *e)
{
	int n = ev->n, K = t->nans, rc = 0;
	ev->pred = calloc(n + 1, sizeof *ev->pred);
	ev->pred_text = calloc(n + 1, sizeof *ev->pred_text);
	ev->ex_exact = calloc(n + 1, sizeof *ev->ex_exact);
	ev->ex_f1 = calloc(n + 1, sizeof *ev->ex_f1);
	float *logits = malloc(sizeof *logits * ((size_t)n * K + 1));
	double *s = malloc(sizeof *s * (K + 1));
	if (!ev->pred || !ev->pred_text || !ev->ex_exact || !ev->ex_f1 || !logits || !s)
		rc = pfm_errf(e, "out of memory");
	int generate = !baseline && t->task == PFM_SEQ_VQA_GEN;
	if (!rc && generate) {
		int L = t->model.c.max_len, *out = malloc(sizeof *out * ((size_t)n * L + 1));
		int *len = malloc(sizeof *len * (n + 1));
		const pfm_gen_opts *o = t->o;
		pfm_seq_gen_opts g = {.beam = o->beam, .max_len = L,
				      .length_alpha = (float)o->length_penalty,
				      .no_repeat_ngram = o->no_repeat_ngram,
				      .repetition_penalty = (float)o->repetition_penalty};
		if (!out || !len)
			rc = pfm_errf(e, "out of memory");
		else
			rc = pfm_seq_generate_batch(pool, &t->model, t->task, ex, n, &g, out, len, e);
		for (int i = 0; !rc && i < n; i++) {
			ev->pred[i] = -1;
			rc = pfm_vocab_decode(t->vocab, out + (size_t)i * L, len[i], &ev->pred_text[i], e);
		}
		free(out), free(len);
	} else if (!rc && !baseline) {
		rc = pfm_seq_vqa_predict_batch(pool, &t->model, ex, n, logits, e);
	}
	for (int i = 0; !rc && !generate && i < n; i++) {
		int item = ev->item[i];
		const pfm_gen_item *it = &t->set->items[item];
		for (int c = 0; c < K; c++)
			s[c] = baseline ? t->prior[it->type == PFM_GEN_OPEN][c] : logits[(size_t)i * K + c];
		ev->pred[i] = choose(t, item, s);
		if (!(ev->pred_text[i] = strdup(t->answers[ev->pred[i]])))
			rc = pfm_errf(e, "out of memory");
	}
	const char **truth = malloc(sizeof *truth * (n + 1));
	if (!rc && !truth)
		rc = pfm_errf(e, "out of memory");
	for (int i = 0; !rc && i < n; i++)
		truth[i] = t->set->items[ev->item[i]].text;
	if (!rc)
		rc = pfm_vqa_score(&ev->vqa, ev->ex_exact, ev->ex_f1, (const char *const *)ev->pred_text,
				   NULL, truth, NULL, n, e);
	double all = 0, ch = 0;
	for (int i = 0; !rc && i < n; i++) {
		all += ev->ex_exact[i];
		if (t->set->items[ev->item[i]].choices)
			ch += ev->ex_exact[i], ev->n_choice++;
	}
	ev->accuracy = n ? all / n : NAN;
	ev->choice_acc = ev->n_choice ? ch / ev->n_choice : NAN;
	free(truth), free(logits), free(s);
	return rc;
}

int pfm_gen_evaluate(pfm_gen_task *t, pfm_seq_pool *pool, int split, int baseline,
		     pfm_gen_eval *ev, pfm_err *e)
{
	memset(ev, 0, sizeof *ev);
	ev->n = t->nsplit[split];
	ev->loss = NAN;
	if (!ev->n)
		return pfm_errf(e, "the %s split is empty", split == PFM_SPLIT_VAL ? "val" : "test");
	if (!(ev->item = malloc(sizeof *ev->item * ev->n)))
		return pfm_errf(e, "out of memory");
	memcpy(ev->item, t->of_split[split], sizeof *ev->item * ev->n);
	pfm_seq_example *ex = examples(t, ev->item, ev->n);
	if (!ex)
		return pfm_errf(e, "out of memory");
	int rc = !baseline && eval_loss(t, ex, ev->n, &ev->loss, e);
	if (!rc)
		rc = t->kind == PFM_GEN_REPORT ? eval_report(t, pool, ex, baseline, ev, e)
					       : eval_vqa(t, pool, ex, baseline, ev, e);
	free(ex);
	return rc ? -1 : 0;
}

void pfm_gen_eval_free(pfm_gen_eval *ev)
{
	for (int i = 0; i < ev->n; i++) {
		if (ev->hyp)
			free(ev->hyp[i]);
		if (ev->pred_text)
			free(ev->pred_text[i]);
	}
	free(ev->hyp), free(ev->hyp_len), free(ev->pred), free(ev->pred_text);
	free(ev->ex_exact), free(ev->ex_f1), free(ev->item);
	memset(ev, 0, sizeof *ev);
}

double pfm_gen_monitor_value(const pfm_gen_eval *ev, int monitor)
{
	switch (monitor) {
	case PFM_GEN_MON_BLEU4: return ev->text.bleu[3];
	case PFM_GEN_MON_CIDER: return ev->text.cider_d;
	case PFM_GEN_MON_ROUGEL: return ev->text.rouge_l;
	case PFM_GEN_MON_ACCURACY: return ev->accuracy;
	default: return -ev->loss;
	}
}
