/* gen_main.c: the run of report-gen and vqa-train after their options:
 * bags, join, splits, task, training, test evaluation and outputs. */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_list.h"
#include "gen_task.h"

static int read_bags(pfm_bagset *bags, const pfm_gen_opts *o, pfm_err *e)
{
	for (int i = 0; i < o->ninputs; i++)
		if (pfm_bagset_read(bags, o->inputs[i], &o->io, e))
			return -1;
	if (!bags->nbags)
		return pfm_errf(e, "no embedding frames in the input (%llu other frames)",
				(unsigned long long)bags->other);
	if (bags->other)
		pfm_warn("skipped %llu frames that are not embeddings", (unsigned long long)bags->other);
	return 0;
}

/* Join, say what did not match, split. */
static int join_split(pfm_gen_set *set, const pfm_bagset *bags, const pfm_gen_opts *o,
		      const pfm_gen_prog *p, pfm_err *e)
{
	if (pfm_gen_join(set, bags, e))
		return -1;
	const char *what = p->kind == PFM_GEN_REPORT ? "report" : "question";
	char msg[256];
	if (set->nmissing) {
		snprintf(msg, sizeof msg, "%d id%s in %s with no embeddings%s: ", set->nmissing,
			 set->nmissing > 1 ? "s" : "", p->text_file, o->strict ? "" : " (not used)");
		pfm_warn_list(msg, set->missing, set->nmissing);
	}
	if (set->nunused) {
		snprintf(msg, sizeof msg, "%d slide%s with embeddings but no %s%s: ", set->nunused,
			 set->nunused > 1 ? "s" : "", what, o->strict ? "" : " (not used)");
		pfm_warn_list(msg, set->unused, set->nunused);
	}
	if (o->strict && (set->nmissing || set->nunused))
		return pfm_errf(e, "--strict: %ss and embeddings do not match (listed above)", what);
	if (!set->n)
		return pfm_errf(e, "no %s in %s has embeddings", what, p->text_file);
	if (o->splits_csv && pfm_gen_splits_csv(set, o->splits_csv, e))
		return -1;
	if (o->ratio[0] > 0)
		pfm_gen_splits_ratio(set, o->ratio, o->seed);
	for (int i = 0; i < set->n; i++)
		if (set->items[i].split == PFM_SPLIT_NONE)
			return pfm_errf(e, "%s: %s has no split (give --split)", set->items[i].where,
					set->items[i].id);
	return 0;
}

static void default_names(const pfm_gen_opts *o, const pfm_gen_prog *p, const pfm_bagset *bags,
			  pfm_gen_run *r, char *task, char *model, char *run_id, size_t n)
{
	if (!o->task) {
		const char *b = strrchr(p->text_file, '/');
		snprintf(task, n, "%s", b ? b + 1 : p->text_file);
		char *dot = strrchr(task, '.');
		if (dot && dot != task)
			*dot = 0;
	}
	snprintf(model, n, "%s", o->model ? o->model : bags->emb ? bags->emb : "features");
	if (!o->run_id)
		pfm_gen_run_id(run_id, n, p->prog, p->argc, p->argv);
	r->task_name = o->task ? o->task : task;
	r->model_name = model;
	r->run_id = o->run_id ? o->run_id : run_id;
}

/* Train (unless evaluating a checkpoint), evaluate test and baseline,
 * write results and predictions. */
static int run(pfm_gen_task *t, pfm_seq_pool *pool, pfm_gen_run *r, pfm_err *e)
{
	const pfm_gen_opts *o = t->o;
	if (o->epochs && pfm_gen_train(t, pool, r, e))
		return -1;
	if (!t->nsplit[PFM_SPLIT_TEST])
		return pfm_errf(e, "the test split is empty");
	pfm_gen_eval ev, base;
	int rc = pfm_gen_evaluate(t, pool, PFM_SPLIT_TEST, 0, &ev, e);
	int have_base = !rc && t->nsplit[PFM_SPLIT_TRAIN] > 0;
	if (have_base && pfm_gen_evaluate(t, pool, PFM_SPLIT_TEST, 1, &base, e)) {
		pfm_gen_eval_free(&base);
		rc = -1, have_base = 0;
	}
	if (!rc)
		pfm_gen_summary(t, &ev, have_base ? &base : NULL, pfm_warn);
	if (!rc && r->results && pfm_gen_write_results(t, &ev, r, r->model_name, e))
		rc = -1;
	if (!rc && have_base && o->baseline && r->results &&
	    pfm_gen_write_results(t, &base, r, "most-frequent", e))
		rc = -1;
	if (!rc && o->predictions &&
	    pfm_gen_write_predictions(t, &ev, have_base ? &base : NULL, o->predictions, e))
		rc = -1;
	if (!rc && o->save && !o->epochs && pfm_gen_task_save(t, o->save, e))
		rc = -1;
	pfm_gen_eval_free(&ev);
	if (have_base)
		pfm_gen_eval_free(&base);
	return rc;
}

int pfm_gen_main(pfm_gen_opts *o, pfm_gen_set *set, const pfm_gen_prog *p)
{
	pfm_err e = {0};
	pfm_bagset bags = {.want_emb = o->emb};
	pfm_gen_task t = {0};
	pfm_seq_pool *pool = NULL;
	pfm_writer *wr = NULL, *wl = NULL;
	char task[256], model[256], run_id[32];
	pfm_gen_run r = {.prog = p->prog, .warn = pfm_warn,
			 .progress = !o->quiet && (o->progress || isatty(2))};
	openblas_set_num_threads(1); /* the pool's threads are the parallelism */
	int rc = read_bags(&bags, o, &e) || join_split(set, &bags, o, p, &e) ||
		 pfm_gen_task_init(&t, p->kind, p->task, set, &bags, o, p->max_answers, &e);
	if (!rc && !(pool = pfm_seq_pool_new(&t.model, o->threads, 0, &e)))
		rc = -1;
	if (!rc) {
		default_names(o, p, &bags, &r, task, model, run_id, sizeof task);
		if (!(wr = pfm_writer_open(o->output, &o->io, &e)))
			rc = -1;
		else if (o->log && !(wl = pfm_writer_open(o->log, &o->io, &e)))
			rc = -1;
		r.results = wr, r.log = wl;
	}
	if (!rc)
		rc = run(&t, pool, &r, &e);
	int status = rc ? PFM_EXIT_DATA : 0;
	int epipe = rc && ((wr && pfm_writer_epipe(wr)) || (wl && pfm_writer_epipe(wl)));
	pfm_writer *ws[2] = {wr, wl};
	for (int i = 0; i < 2; i++) {
		pfm_err ce = {0};
		if (ws[i] && pfm_writer_close(ws[i], !rc, &ce) && !rc) {
			epipe |= ce.code == EPIPE;
			if (!epipe)
				e = ce;
			rc = -1, status = PFM_EXIT_DATA;
		}
	}
	if (rc && !epipe)
		pfm_fail("%s", e.msg);
	pfm_seq_pool_free(pool);
	pfm_gen_task_free(&t);
	pfm_bagset_free(&bags);
	return status;
}
