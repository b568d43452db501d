/* probe.h: tile-level heads on frozen embeddings (probe(1)): logistic
 * regression by L-BFGS (as UNI through scikit-learn), a linear head
 * trained with AdamW (as eva), kNN and SimpleShot on centred,
 * L2-normalised features, and retrieval. Each is a plain function of
 * flat arrays; the data side reads labelled embedding frames. */
#ifndef PFM_PROBE_H
#define PFM_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "adamw.h"
#include "err.h"
#include "io.h"

/* ---- labelled instances (probe_data.c) ---- */

typedef struct {
	int n, cap, d;
	float *x;       /* [n,d] */
	int *lab;       /* index into the reader's label names while reading,
			 * then the class index (pfm_probe_classes) */
} pfm_probe_set;

typedef struct {
	const char *want_emb; /* emb.NAME; NULL: the only one */
	char *emb;
	int d;
	int nlabels;          /* distinct label names seen */
	char **labels;
	/* slide_id -> label from a CSV (optional), sorted by id */
	int nmap;
	char **map_id, **map_label;
	uint64_t other;       /* frames of other types skipped */
} pfm_probe_reader;

/* slide_id,label CSV: the label of frames that carry none (or all of
 * them: the CSV wins). */
int pfm_probe_reader_labels(pfm_probe_reader *r, const char *csv, pfm_err *e);
/* Every embedding (or tile with emb) frame of a stream, a file or a
 * directory of files: [d] or [1,d] is one instance, [n,d] n instances
 * with the frame's label; the label from the CSV, else the frame's
 * "label" (string or integer). NaN features, a width other than the
 * first, a frame without a label are errors naming the frame. */
int pfm_probe_read(pfm_probe_set *s, pfm_probe_reader *r, const char *spec,
		   const pfm_io_opts *io, pfm_err *e);
/* The classes: `classes` (comma-separated, in order) or the label names
 * sorted (numerically when all are integers); rewrites every set's lab
 * to class indices. A label outside `classes`, or a class of a later set
 * that sets[0] (the training set) lacks, is an error. */
int pfm_probe_classes(pfm_probe_reader *r, pfm_probe_set *const *sets,
		      int nsets, const char *classes, char ***names, int *k,
		      pfm_err *e);
void pfm_probe_set_free(pfm_probe_set *s);
void pfm_probe_reader_free(pfm_probe_reader *r);

/* ---- logistic regression (probe_logreg.c) ---- */

typedef struct {
	double C;       /* inverse regularisation strength (sklearn's C) */
	int max_iter;   /* L-BFGS iterations (1000) */
	double tol;     /* stop when max |gradient| <= tol (1e-4, sklearn's) */
} pfm_logreg_opts;

typedef struct {
	int d, k;       /* features, classes */
	int rows;       /* weight rows: 1 for two classes, else k */
	double *w;      /* [rows, d] */
	double *b;      /* [rows] */
	int iters;
	double f;       /* final objective */
	double gmax;    /* final max |gradient| */
} pfm_logreg;

/* scikit-learn 1.2's LogisticRegression(C, solver='lbfgs') objective:
 * the summed cross-entropy (binary logistic for k = 2, multinomial
 * softmax otherwise) + ||W||^2 / (2 C), intercepts not penalised;
 * minimised by L-BFGS (10 corrections, a strong-Wolfe line search) from
 * zero, in double. Stops at max |g| <= tol (sklearn's tol, on the same
 * scale), when a step no longer decreases the objective, or at max_iter
 * (reported in iters). Unlike sklearn (scipy's ftol of 2.2e-9) it does
 * not stop on a small relative decrease. */
int pfm_logreg_fit(pfm_logreg *m, const float *x, const int *y, int n,
		   int d, int k, const pfm_logreg_opts *o, pfm_err *e);
/* prob[n,k] of x[n,d]. */
void pfm_logreg_proba(const pfm_logreg *m, const float *x, int n,
		      double *prob);
void pfm_logreg_free(pfm_logreg *m);

/* ---- a linear head by AdamW (probe_linear.c) ---- */

typedef struct {
	pfm_adamw_opts opt;
	int epochs, batch;   /* passes, instances per step */
	int patience, min_epochs; /* early stopping on the validation loss */
	int monitor;         /* 0: val loss, 1: val error */
	int shuffle;         /* 0: the given order (tests) */
	uint64_t seed;
	const float *init;   /* initial weights [k*d + k] or NULL: torch's */
	double *step_loss;   /* each step's mean loss (NULL: not wanted) */
	int epochs_run, best_epoch; /* out */
} pfm_linear_opts;

/* w[k,d], b[k] (the buffer wb = w then b) of a linear layer trained on
 * (x, y) with cross-entropy, the weights of the best validation epoch
 * kept (val may be NULL: the last). */
int pfm_linear_fit(float *wb, const pfm_probe_set *train,
		   const pfm_probe_set *val, int k, pfm_linear_opts *o,
		   pfm_err *e);
/* prob[n,k] = softmax(x w^T + b) */
void pfm_linear_proba(const float *wb, const float *x, int n, int d, int k,
		      double *prob);

/* ---- kNN, SimpleShot, retrieval (probe_knn.c) ---- */

/* The column means of x[n,d] (double), and rows centred by them and
 * L2-normalised into out[n,d] (CL2N; a zero row stays zero). */
void pfm_col_mean(double *mean, const float *x, int n, int d);
void pfm_cl2n(double *out, const float *x, int n, int d, const double *mean);

typedef struct {
	int k;              /* neighbours (20) */
	int weighted;       /* 0: uniform vote; 1: sum of exp(sim / T) */
	double temperature; /* T (0.07) */
} pfm_knn_opts;

/* kNN of every test row among the training rows by cosine similarity
 * after CL2N with the training mean (the same neighbours as Euclidean
 * distance): pred, and prob[n,k] = the vote shares. Ties in the vote go
 * to the smallest class index. */
int pfm_knn(const pfm_probe_set *train, const pfm_probe_set *test, int nclass,
	    const pfm_knn_opts *o, int *pred, double *prob, pfm_err *e);
/* SimpleShot (Wang et al. 2019, CL2N): class prototypes = means of the
 * CL2N training rows; each test row goes to the nearest (Euclidean). */
int pfm_simpleshot(const pfm_probe_set *train, const pfm_probe_set *test,
		   int nclass, int *pred, pfm_err *e);
/* Retrieval: each query (test row) against the gallery (training rows),
 * CL2N with the gallery mean, ranked by cosine similarity; hit[q*4 + j]
 * is 1 when, for j = 0, 1, 2, one of its top 1, 3, 5 shares its class,
 * and for j = 3 when the majority of its top 5 is its class (ties: the
 * smallest class index). */
int pfm_retrieval(const pfm_probe_set *gallery, const pfm_probe_set *query,
		  int nclass, int *hit, pfm_err *e);

#endif
