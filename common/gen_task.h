/* gen_task.h: a generative task ready to train: the joined items
 * tokenized (text_tok.h), the answer classes of VQA, the model (seq.h),
 * and the trainer, evaluation and outputs behind report-gen(1) and
 * vqa-train(1). */
#ifndef PFM_GEN_TASK_H
#define PFM_GEN_TASK_H

#include <stdio.h>

#include "gen_data.h"
#include "gen_opts.h"
#include "seq.h"
#include "text_metrics.h"
#include "text_tok.h"

enum { PFM_GEN_REPORT, PFM_GEN_VQA };

typedef struct {
	int kind;                  /* PFM_GEN_REPORT or PFM_GEN_VQA */
	int task;                  /* PFM_SEQ_REPORT, _VQA_CLS or _VQA_GEN */
	const pfm_bagset *bags;
	const pfm_gen_set *set;
	const pfm_gen_opts *o;
	pfm_vocab *vocab;
	/* VQA answer classes: normalised answers, most frequent first */
	int nans;
	char **answers;
	double *prior[2];          /* baseline: log training frequency of
				      each class among closed / open items */
	/* per item (set order) */
	int32_t **tok;             /* report or question tokens, no bos/eos */
	int *len;
	int32_t **ans;             /* VQA: answer tokens (for --generate) */
	int *ans_len;
	int *cls;                  /* VQA: answer class, -1 outside them */
	int *allowed_off;          /* VQA: item i may answer the classes */
	int *allowed;              /*   allowed[allowed_off[i]..[i+1]); none: all */
	int *of_split[3];          /* item indices of each split */
	int nsplit[3];
	pfm_seq model;
	int have_model;
} pfm_gen_task;

/* Tokenize the items and, without a checkpoint, build the vocabulary
 * (training texts, o->threshold) and the answer classes; with one
 * (o->load), take its vocabulary, answers and model. kind/task set. */
int pfm_gen_task_init(pfm_gen_task *t, int kind, int task,
		      const pfm_gen_set *set, const pfm_bagset *bags,
		      const pfm_gen_opts *o, int max_answers, pfm_err *e);
void pfm_gen_task_free(pfm_gen_task *t);
/* Save the model with the vocabulary, answers and the program's
 * settings in __metadata__ (atomically). */
int pfm_gen_task_save(const pfm_gen_task *t, const char *path, pfm_err *e);

/* One split's evaluation. */
typedef struct {
	int n;                      /* examples */
	int *item;                  /* [n] their items */
	double loss;                /* mean over counted targets */
	/* reports */
	int32_t **hyp;              /* [n] generated tokens */
	int *hyp_len;
	pfm_text_scores text;
	/* VQA */
	int *pred;                  /* [n] predicted class (classified) */
	char **pred_text;           /* [n] predicted answer text */
	pfm_vqa_scores vqa;
	double *ex_exact, *ex_f1;   /* [n] per question */
	double accuracy;            /* exact match over all questions */
	double choice_acc;          /* over multiple-choice questions */
	int n_choice;
} pfm_gen_eval;

/* Evaluate on split: the model (baseline 0), or the most frequent
 * training report / answer (baseline 1, no loss). */
int pfm_gen_evaluate(pfm_gen_task *t, pfm_seq_pool *pool, int split,
		     int baseline, pfm_gen_eval *ev, pfm_err *e);
void pfm_gen_eval_free(pfm_gen_eval *ev);
/* The monitored value of an evaluation (higher is better; the loss
 * negated). */
double pfm_gen_monitor_value(const pfm_gen_eval *ev, int monitor);

/* The trainer's outputs and where they go. */
typedef struct {
	const char *task_name, *model_name, *run_id;
	const char *prog;          /* "report-gen" / "vqa-train" */
	pfm_writer *results, *log; /* NULL: not wanted */
	int progress;
	void (*warn)(const char *fmt, ...);
	/* filled by pfm_gen_train */
	int epochs_done, best_epoch;
} pfm_gen_run;

/* Train (o->epochs epochs at most) with early stopping on the val split
 * and keep the best weights in t->model (saved to o->save at each
 * improvement). Metric frames to r->log per epoch. */
int pfm_gen_train(pfm_gen_task *t, pfm_seq_pool *pool, pfm_gen_run *r,
		  pfm_err *e);

/* Result frames for an evaluation of the test split (model name
 * model_name), with bootstrap intervals when o->boot. */
int pfm_gen_write_results(const pfm_gen_task *t, const pfm_gen_eval *ev,
			  pfm_gen_run *r, const char *model_name,
			  pfm_err *e);
/* The test split's predictions as JSON lines, written atomically. */
int pfm_gen_write_predictions(const pfm_gen_task *t, const pfm_gen_eval *ev,
			      const pfm_gen_eval *base, const char *path,
			      pfm_err *e);
/* s as a JSON string (quoted, escaped). */
void pfm_gen_json_str(FILE *f, const char *s);
/* "bleu4 0.123 (most frequent 0.045), ..." summary on stderr. */
void pfm_gen_summary(const pfm_gen_task *t, const pfm_gen_eval *ev,
		     const pfm_gen_eval *base, void (*warn)(const char *, ...));

/* ---- the whole run of either program (gen_main.c) ---- */

typedef struct {
	const char *prog;       /* "report-gen" / "vqa-train" */
	int kind, task;         /* PFM_GEN_*, PFM_SEQ_* */
	int max_answers;        /* VQA answer classes (0: all) */
	const char *text_file;  /* names the task by default */
	int argc;               /* for the default run id */
	char **argv;
} pfm_gen_prog;

/* Read the bags, join them with set's items, split, build the task,
 * train, evaluate the test split (and the baseline), write the outputs.
 * Messages go to stderr; returns the exit status. */
int pfm_gen_main(pfm_gen_opts *o, pfm_gen_set *set, const pfm_gen_prog *p);

#endif
