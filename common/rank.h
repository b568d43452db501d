/* rank.h: tables of metric values, tasks x models, and the ranking
 * report built on them (average ranks, Friedman, Nemenyi, Wilcoxon). */
#ifndef PFM_RANK_H
#define PFM_RANK_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "frame.h"
#include "stats.h"

/* What tells apart the results averaged into one cell: the fold and
 * the run, each optional (run: an integer or a string). */
typedef struct {
	int has_fold;
	int64_t fold;
	int run_kind;  /* 0 none, 1 integer, 2 string */
	int64_t run_i;
	char *run_s;
} pfm_rank_unit;

/* One result behind a cell (frames only). */
typedef struct {
	int task, model, unit;
	double v;
	uint64_t frame; /* its index in its stream, for errors */
} pfm_rank_obs;

typedef struct {
	int ntasks, nmodels;
	char **tasks, **models;
	char **groups; /* per task, "" when none */
	double *v;     /* ntasks x nmodels; NAN = missing */
	int *nv;       /* values averaged into each cell (frames) */
	char *metric;  /* NULL when unknown */
	char *split;
	int cap;
	pfm_rank_obs *obs;     /* every result taken, frames only */
	size_t nobs, obs_cap;
	pfm_rank_unit *units;  /* the distinct fold/run pairs */
	int nunits, units_cap;
} pfm_rank_table;

/* Order of units: no fold first, then by fold; then no run, integer
 * runs by value, string runs bytewise. Frame order does not matter. */
int pfm_rank_unit_cmp(const pfm_rank_unit *a, const pfm_rank_unit *b);
/* "fold 2, run 'seed1'" (or "no fold or run") into buf. */
void pfm_rank_unit_str(const pfm_rank_unit *u, char *buf, size_t n);

void pfm_rank_table_free(pfm_rank_table *t);

/* A TSV or CSV file ("-" = stdin): a header row, one row per task; the
 * first column names the task, the column group_col (if not NULL) holds
 * its group, columns named task_type/type/group are never models, every
 * other column is a model. Empty, NA and nan cells are missing. */
int pfm_rank_table_read(pfm_rank_table *t, const char *path,
			const char *group_col, pfm_err *e);

/* Collect result frames: the cell (task, model) is the mean of the
 * values of the chosen metric and split (NULL: the only one there is;
 * several is an error). group_key: frame key holding the group ("type"
 * means task_type). */
typedef struct {
	const char *metric, *split, *group_key;
} pfm_rank_select;

typedef struct pfm_rank_acc pfm_rank_acc;
pfm_rank_acc *pfm_rank_acc_new(const pfm_rank_select *s);
/* 1 if taken, 0 if skipped (other type/metric/split), -1 on error. */
int pfm_rank_acc_add(pfm_rank_acc *a, const pfm_frame *f, pfm_err *e);
/* Move the accumulated table into t and free a. */
int pfm_rank_acc_finish(pfm_rank_acc *a, pfm_rank_table *t, pfm_err *e);

/* Round to d decimals (as printf / Python's round): one value, and
 * every value of the table. */
double pfm_rank_round(double v, int d);
void pfm_rank_table_round(pfm_rank_table *t, int d);
/* Missing cells: error naming them, or drop those tasks (*dropped). */
int pfm_rank_table_complete(pfm_rank_table *t, int drop, int *dropped,
			    pfm_err *e);

typedef struct {
	int higher_better;       /* 1 (default) or 0 */
	pfm_wilcoxon_opts wopts;
	const char *against;     /* Wilcoxon against this model, or all pairs */
	double alpha;            /* for the diagram and significance marks */
} pfm_rank_opts;

typedef struct {
	const pfm_rank_table *t;
	pfm_rank_opts o;
	double *rank;        /* ntasks x nmodels, 1 = best */
	double *avg;         /* per model */
	double *mean;        /* per model, of the values ranked */
	int *firsts;         /* tasks where it is best alone */
	int *firsts_tied;    /* tasks where it shares the best rank */
	int *order;          /* models by average rank, best first */
	int ngroups;
	char **group_names;  /* borrowed from t */
	double *group_avg;   /* ngroups x nmodels */
	int *group_n;        /* tasks per group */
	pfm_friedman fr;
	double q[3], cd[3];  /* at alpha 0.10, 0.05, 0.01 */
	double cd_alpha;     /* CD at o.alpha */
	double *nemenyi;     /* nmodels x nmodels */
	int npairs;
	int (*pair)[2];
	pfm_wilcoxon_res *w; /* per pair; p NAN where the test failed */
	double *w_holm;
	/* bootstrap (pfm_rank_bootstrap): 0 replicates when not asked */
	int boot_n;
	uint64_t boot_seed;
	double boot_level;
	double *ci; /* nmodels x 4: avg rank low, high; mean low, high */
} pfm_rank_report;

extern const double pfm_rank_alphas[3];

int pfm_rank_compute(pfm_rank_report *r, const pfm_rank_table *t,
		     const pfm_rank_opts *o, pfm_err *e);
void pfm_rank_report_free(pfm_rank_report *r);

/* Bootstrap (rank_boot.c): n replicates, each drawing, for every task
 * (in name order), as many of its units (fold/run) as it has, with
 * replacement, the same draw for every model; a cell is the mean of its
 * drawn values (rounded to round_d decimals if >= 0), ranked as usual.
 * The percentile interval at level (numpy.quantile, 'linear') of each
 * model's average rank and mean metric goes into r->ci. Draws: u =
 * (splitmix64() >> 11) * 2^-53, index = floor(u * units); the state
 * starts at seed. Every model of a task needs the same units. */
typedef struct {
	int n;
	uint64_t seed;
	double level;
	int round_d;
} pfm_rank_boot_opts;

int pfm_rank_bootstrap(pfm_rank_report *r, const pfm_rank_boot_opts *b,
		       pfm_err *e);
/* numpy.quantile(x, q) (method 'linear') of n sorted values. */
double pfm_quantile_sorted(const double *x, int n, double q);

/* Report writers (rank_write.c): 0, or -1 on a write error. */
int pfm_rank_write_md(FILE *f, const pfm_rank_report *r);
int pfm_rank_write_csv(FILE *f, const pfm_rank_report *r, int pairs);
int pfm_rank_write_json(FILE *f, const pfm_rank_report *r);

/* Groups of models not significantly different (Orange's rule: sorted
 * by average rank, maximal runs whose ends differ by <= cd). Each clique
 * is a [first, last] range of positions in r->order; returns the count
 * (at most nmodels), -1 on error. *out is malloc'd. */
int pfm_rank_cliques(const pfm_rank_report *r, double cd, int (**out)[2],
		     pfm_err *e);

#endif
