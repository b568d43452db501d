/* gen_train.c: the training loop of report-gen and vqa-train: shuffled
 * minibatches, AdamW with gradient clipping, validation each epoch,
 * early stopping, the best weights kept (and saved). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gen_task.h"
#include "rng.h"

typedef struct {
	float *sub;       /* subsampled bags of a batch: [batch, max_tiles, d] */
	int *perm;
	size_t perm_cap;
} tiles;

/* Bag rows for training: all, or max_tiles drawn without replacement
 * (kept in their order) into slot's part of tl->sub. */
static const float *train_rows(const pfm_gen_task *t, const pfm_bag *bag, int slot,
			       tiles *tl, pfm_rng *r, int *n)
{
	int mt = t->o->max_tiles, d = t->bags->d;
	if (!mt || bag->n <= mt) {
		*n = bag->n;
		return bag->x;
	}
	if ((size_t)bag->n > tl->perm_cap) {
		int *p = realloc(tl->perm, sizeof *p * bag->n);
		if (!p)
			return NULL;
		tl->perm = p, tl->perm_cap = bag->n;
	}
	for (int i = 0; i < bag->n; i++)
		tl->perm[i] = i;
	for (int i = 0; i < mt; i++) {
		int j = i + (int)pfm_rng_below(r, (uint64_t)(bag->n - i));
		int x = tl->perm[i];
		tl->perm[i] = tl->perm[j], tl->perm[j] = x;
	}
	/* mark the chosen rows, then copy them in bag order */
	char *pick = calloc(bag->n, 1);
	if (!pick)
		return NULL;
	for (int i = 0; i < mt; i++)
		pick[tl->perm[i]] = 1;
	float *out = tl->sub + (size_t)slot * mt * d;
	for (int i = 0, w = 0; i < bag->n; i++)
		if (pick[i])
			memcpy(out + (size_t)w++ * d, bag->x + (size_t)i * d, sizeof *out * d);
	free(pick);
	*n = mt;
	return out;
}

static int log_epoch(pfm_gen_run *r, const pfm_gen_task *t, int64_t step, int epoch,
		     double train_loss, const pfm_gen_eval *v, pfm_err *e)
{
	pfm_build *b = pfm_build_new(), *mb = pfm_build_new();
	if (!b || !mb) {
		pfm_build_free(b), pfm_build_free(mb);
		return pfm_errf(e, "out of memory");
	}
	pfm_build_reset(b, "metric");
	pfm_build_reset(mb, NULL);
	pfm_build_f64(mb, "train_loss", train_loss);
	if (v) {
		if (isfinite(v->loss))
			pfm_build_f64(mb, "val_loss", v->loss);
		if (t->kind == PFM_GEN_REPORT) {
			const char *nm[4] = {"val_bleu1", "val_bleu2", "val_bleu3", "val_bleu4"};
			for (int k = 0; k < 4; k++)
				pfm_build_f64(mb, nm[k], v->text.bleu[k]);
			pfm_build_f64(mb, "val_rougeL", v->text.rouge_l);
			pfm_build_f64(mb, "val_cider", v->text.cider_d);
		} else if (isfinite(v->accuracy)) {
			pfm_build_f64(mb, "val_accuracy", v->accuracy);
		}
	}
	pfm_build_i64(b, "step", step);
	pfm_build_obj(b, "values", pfm_build_object(mb));
	pfm_build_i64(b, "epoch", epoch);
	pfm_build_str(b, "run", r->run_id);
	pfm_build_str(b, "split", v ? "val" : "train");
	int rc = pfm_write(r->log, b) || pfm_writer_flush(r->log);
	pfm_build_free(b), pfm_build_free(mb);
	return rc ? pfm_errf(e, "%s", pfm_writer_error(r->log)) : 0;
}

int pfm_gen_train(pfm_gen_task *t, pfm_seq_pool *pool, pfm_gen_run *r, pfm_err *e)
{
	const pfm_gen_opts *o = t->o;
	pfm_seq *m = &t->model;
	size_t P = m->n_params;
	int ntr = t->nsplit[PFM_SPLIT_TRAIN], B = o->batch, has_val = t->nsplit[PFM_SPLIT_VAL] > 0;
	float *grad = calloc(P, sizeof *grad), *m1 = calloc(P, sizeof *m1);
	float *m2 = calloc(P, sizeof *m2), *best = malloc(sizeof *best * P);
	int *order = malloc(sizeof *order * (ntr + 1));
	pfm_seq_example *ex = calloc(B, sizeof *ex);
	tiles tl = {0};
	if (o->max_tiles)
		tl.sub = malloc(sizeof *tl.sub * (size_t)B * o->max_tiles * t->bags->d);
	int rc = 0;
	if (!grad || !m1 || !m2 || !best || !order || !ex || (o->max_tiles && !tl.sub))
		rc = pfm_errf(e, "out of memory");
	if (!rc && !ntr)
		rc = pfm_errf(e, "no training examples");
	if (!rc)
		memcpy(order, t->of_split[PFM_SPLIT_TRAIN], sizeof *order * ntr);
	pfm_rng ro = pfm_rng_seed(o->seed, 2), rt = pfm_rng_seed(o->seed, 3);
	pfm_adamw_opts ao = {.lr = o->lr, .weight_decay = o->wd, .decoupled = 1};
	pfm_seq_batch_opts bo = {.task = t->task, .smoothing = (float)o->label_smoothing,
				 .train = 1, .seed = o->seed};
	double best_val = -INFINITY;
	int since = 0;
	int64_t step = 0;
	r->best_epoch = -1, r->epochs_done = 0;
	if (!rc)
		memcpy(best, m->params, sizeof *best * P);
	for (int ep = 1; !rc && ep <= o->epochs; ep++) {
		double t0 = pfm_now(), sum = 0;
		int nb = 0;
		pfm_rng_shuffle(&ro, order, ntr);
		for (int a = 0; !rc && a < ntr; a += B) {
			int k = ntr - a < B ? ntr - a : B;
			for (int i = 0; i < k; i++) {
				int it = order[a + i];
				const pfm_bag *bag = &t->bags->bags[t->set->items[it].bag];
				int n;
				const float *x = train_rows(t, bag, i, &tl, &rt, &n);
				if (!x) {
					rc = pfm_errf(e, "out of memory");
					break;
				}
				ex[i] = (pfm_seq_example){.x = x, .n = n, .tok = t->tok[it],
							  .len = t->len[it], .ans = t->ans[it],
							  .ans_len = t->ans_len[it],
							  .answer = t->cls[it]};
			}
			double loss;
			memset(grad, 0, sizeof *grad * P);
			bo.first = (uint64_t)(ep - 1) * ntr + a;
			if (rc || pfm_seq_batch(pool, m, grad, ex, k, &bo, &loss, e)) {
				rc = -1;
				break;
			}
			if (o->clip > 0)
				pfm_seq_clip_grad(grad, P, o->clip);
			pfm_seq_adamw(m, grad, m1, m2, &ao, ++step);
			sum += loss, nb++;
		}
		if (rc)
			break;
		double train_loss = sum / nb, value = -train_loss;
		pfm_gen_eval v = {0};
		if (has_val) {
			if (pfm_gen_evaluate(t, pool, PFM_SPLIT_VAL, 0, &v, e)) {
				pfm_gen_eval_free(&v);
				rc = pfm_err_prefix(e, "epoch %d: validation", ep);
				break;
			}
			value = pfm_gen_monitor_value(&v, o->monitor);
		}
		if (r->log && (log_epoch(r, t, step, ep, train_loss, NULL, e) ||
			       (has_val && log_epoch(r, t, step, ep, train_loss, &v, e))))
			rc = -1;
		if (r->progress)
			fprintf(stderr, "%s: epoch %d: train loss %.4f, val %s %.4f (%.1f s)\n", r->prog,
				ep, train_loss, pfm_gen_monitor_name[o->monitor],
				has_val ? fabs(value) : NAN, pfm_now() - t0);
		pfm_gen_eval_free(&v);
		r->epochs_done = ep;
		/* without a val split the last epoch is kept */
		if (!rc && (!has_val || value > best_val || r->best_epoch < 0)) {
			best_val = value, since = 0, r->best_epoch = ep;
			memcpy(best, m->params, sizeof *best * P);
			if (o->save && pfm_gen_task_save(t, o->save, e))
				rc = -1;
		} else if (++since >= o->patience && o->patience && has_val && ep >= o->min_epochs) {
			break;
		}
	}
	if (!rc && r->best_epoch > 0)
		memcpy(m->params, best, sizeof *best * P);
	free(grad), free(m1), free(m2), free(best), free(order), free(ex);
	free(tl.sub), free(tl.perm);
	return rc;
}
