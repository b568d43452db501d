/* mil.h: attention-based multiple-instance learning (Ilse et al. 2018)
 * on bags of frozen tile embeddings: the model and its losses, the bags
 * and their labels, splits, and the trainer behind mil-train(1).
 *
 * The model (one bag x[n,d] at a time, batches by accumulation):
 *   h   = dropout(relu?(x W1^T + b1))           [n,P]   projection
 *   s   = tanh(h Wa^T + ba) (* sigmoid(h Wb^T + bb) if gated) Wc^T + bc
 *   a   = softmax over the n instances of s      [n]     attention
 *   m   = a^T h  (or mean / max of h over n)     [P]     pooling
 *   z_k = relu(W_k z_{k-1} + b_k), z_0 = m       MLP     (optional)
 *   y   = Wo z + bo                              [C]     logits
 * Parameters live in one buffer in that order (torch's named_parameters()
 * order of tests/ref/abmil_ref.py), with their gradients and the Adam
 * moments in three more buffers of the same layout. */
#ifndef PFM_MIL_H
#define PFM_MIL_H

#include <stddef.h>
#include <stdint.h>

#include "adamw.h"
#include "err.h"
#include "frame.h"
#include "io.h"
#include "layers.h"
#include "rng.h"
#include "slide.h"

#define PFM_MIL_MAX_MLP 4

enum { PFM_POOL_ATTN, PFM_POOL_MEAN, PFM_POOL_MAX };

typedef struct {
	int d;         /* input width */
	int proj;      /* projection width P; 0: none (P = d) */
	int proj_relu; /* ReLU after the projection */
	int pool;      /* PFM_POOL_* */
	int attn;      /* attention hidden width H */
	int gated;     /* gated attention */
	int nmlp;      /* hidden layers of the classifier */
	int mlp[PFM_MIL_MAX_MLP];
	int nout;      /* classes, or survival bins */
	float dropout; /* after the projection, in training */
	int init;      /* PFM_INIT_XAVIER or PFM_INIT_TORCH (layers.h) */
	int bf16;      /* the projection's and attention's matrix products
			  with bf16 operands (x, h, their gradients and the
			  weights rounded to nearest even), summed in fp32;
			  everything else fp32 (gemm.h, needs oneDNN) */
} pfm_mil_config;

/* The parameter tensors, in buffer order. Absent ones have size 0. */
enum {
	PFM_MIL_W1, PFM_MIL_B1, PFM_MIL_WA, PFM_MIL_BA, PFM_MIL_WB,
	PFM_MIL_BB, PFM_MIL_WC, PFM_MIL_BC,
	PFM_MIL_WO = PFM_MIL_BC + 1 + 2 * PFM_MIL_MAX_MLP, PFM_MIL_BO,
	PFM_MIL_NT
};
/* MLP layer k: weight and bias, interleaved as torch lists them */
#define PFM_MIL_WM(k) (PFM_MIL_BC + 1 + 2 * (k))
#define PFM_MIL_BM(k) (PFM_MIL_BC + 2 + 2 * (k))

typedef struct {
	pfm_mil_config c;
	int P;                      /* projected width */
	int in_out;                 /* classifier input width */
	size_t size[PFM_MIL_NT];    /* floats per tensor */
	size_t nparams;
	float *params, *grads, *m, *v; /* each nparams */
	float *t[PFM_MIL_NT];       /* tensors in params */
	float *g[PFM_MIL_NT];       /* the same in grads */
	int64_t step;               /* optimizer steps taken */
	/* activations of the last forward, for backward (grown to the
	 * largest bag seen) */
	int cap;
	float *z1;    /* [n,P] the gate: dropout multiplier where the ReLU
		       * passed, 0 where it did not */
	float *h;     /* [n,P] after ReLU and dropout */
	const float *hp; /* h, or x itself without a projection */
	float *ua, *ub; /* [n,H] tanh and sigmoid branches */
	float *att;   /* [n] attention weights */
	float *dh, *dua, *dub; /* gradients, same shapes */
	float *ds;    /* [n] */
	const float *mask; /* the dropout mask used, or NULL */
	int *argmax;  /* [P] max pooling */
	float *act;   /* the pooled vector and each MLP layer's output */
	float *dact;
	int n;        /* instances of the last forward */
	/* bf16: x, h and a gradient of the last bag, and W1, Wa, Wb as
	 * rounded for it; x16 is xb, or the caller's bf16 rows */
	uint16_t *xb, *hb, *gb, *wb;
	const uint16_t *x16;
	int xcap;     /* rows xb holds */
} pfm_mil;

/* Allocate, and initialise the weights from r. */
int pfm_mil_init(pfm_mil *m, const pfm_mil_config *c, pfm_rng *r, pfm_err *e);
void pfm_mil_free(pfm_mil *m);
/* "abmil: 1024 -> 512 relu -> gated attention 128 -> 512 -> 2" */
void pfm_mil_describe(const pfm_mil *m, char *buf, size_t n);

/* Forward one bag x[n,d] into logits[nout]. mask: NULL (no dropout) or
 * [n,P] multipliers (0 or 1/(1-p)) for the projected instances. The
 * activations stay for pfm_mil_backward and m->att holds the attention
 * weights (attention pooling). x and mask must outlive the backward.
 * A bf16 model with a projection may be given the rows already rounded
 * to bf16 in xb instead (x NULL), as a bag set stored in bf16 holds
 * them: the same results, without rounding them again at each step
 * (pfm_mil_rows16 says when a model can take them). */
int pfm_mil_forward(pfm_mil *m, const float *x, const uint16_t *xb, int n,
		    const float *mask, float *logits, pfm_err *e);
/* Whether a model of configuration c reads its input rows only through
 * bf16 products (bf16 with a projection): then they may be stored in
 * bf16. */
int pfm_mil_rows16(const pfm_mil_config *c);
/* Backward of the last forward from dlogits[nout]: gradients are added
 * to m->grads. Fails only when a bf16 product cannot run. */
int pfm_mil_backward(pfm_mil *m, const float *x, const float *dlogits, pfm_err *e);
void pfm_mil_zero_grad(pfm_mil *m);
/* One optimizer step with the accumulated gradients. */
void pfm_mil_step(pfm_mil *m, const pfm_adamw_opts *o);
/* Dropout multipliers for n x P values: 0 with probability p (rounded to
 * a multiple of 2^-16), else 1/(1-p), as torch.nn.Dropout; four values
 * from each 64-bit draw of r. */
void pfm_mil_dropout_mask(float *mask, size_t count, float p, pfm_rng *r);

/* ---- one epoch of training (mil_model.c) ---- */

enum { PFM_TASK_CLS, PFM_TASK_SURV };

typedef struct {
	const float *x;    /* [n,d] */
	const uint16_t *xb; /* or those rows in bf16 (pfm_mil_forward) */
	int n;
	int y;             /* class, or survival bin */
	int censored;      /* survival: 1 when censored */
	const float *mask; /* [n,P] dropout multipliers; NULL: drawn */
} pfm_mil_item;

typedef struct {
	int task;          /* PFM_TASK_* */
	double alpha;      /* survival loss weight of the uncensored part */
	int batch;         /* bags per optimizer step (>= 1) */
	pfm_adamw_opts opt;
} pfm_mil_train_opts;

/* One pass over items in their order: each batch of o->batch bags (the
 * last may be shorter) is forwarded bag by bag, the mean of its losses
 * backpropagated (gradients accumulate; a padded batch with masked
 * attention gives the same), then one optimizer step. Dropout masks are
 * drawn from r where an item has none. loss[i] (may be NULL) gets item
 * i's loss. */
int pfm_mil_epoch(pfm_mil *m, const pfm_mil_item *items, int nitems,
		  const pfm_mil_train_opts *o, pfm_rng *r, double *loss,
		  pfm_err *e);

/* ---- losses (mil_loss.c) ---- */

/* Cross-entropy of logits[k] for class y, scaled by `scale` (1/batch):
 * returns the unscaled loss; dlogits = scale (softmax - onehot(y)). */
double pfm_mil_ce(const float *logits, int k, int y, float scale,
		  float *dlogits);
/* Discrete-time survival NLL (Zadeh & Schmid 2020, as PORPOISE's
 * nll_loss): hazards h = sigmoid(logits), S_j = prod_{i<=j} (1 - h_i),
 * S_-1 = 1; with bin y and censorship c (1 = censored):
 *   L = -(1-c)(log S_{y-1} + log h_y) - c log S_y   (logs clamped at 1e-7)
 *   loss = (1 - alpha) L + alpha (uncensored part)
 * dlogits (NULL: not wanted) = scale dloss/dlogits. */
double pfm_mil_surv_nll(const float *logits, int k, int y, int censored,
			double alpha, float scale, float *dlogits);
/* risk = -sum_j S_j; surv (may be NULL) gets S[k]. */
double pfm_mil_surv_risk(const float *logits, int k, double *surv);

/* ---- embeddings in frames (mil_data.c) ---- */

/* The tensor emb.NAME of a frame: NAME is want, or *chosen once set, or
 * else the frame's only embedding (then strdup'd into *chosen). A float
 * tensor (f16, bf16, f32, f64) or an error naming src, frame and slide. */
int pfm_emb_get(const pfm_frame *f, const char *want, char **chosen,
		pfm_tensor *t, const char *src, pfm_err *e);
/* The first n elements of t into x as float; the index of the first
 * non-finite one, or -1 when all are finite. */
long pfm_tensor_copy_f32(float *x, const pfm_tensor *t, size_t n);

/* ---- bags of embeddings (mil_data.c) ---- */

/* One slide's instances, in the order their frames came. */
typedef struct {
	char *id;
	int n, cap;
	float *x;       /* [n,d] */
	uint16_t *xb;   /* [n,d] rounded to bf16, instead of x when the set
			 * stores bf16 */
	int64_t *xy;    /* [n,2] level-0 x, y of the source tiles */
	float *box;     /* [n,3] tile width, height (pixels) and mpp; 0 unknown */
	int has_xy;     /* every instance has coordinates */
	char *src;      /* where its first frame came from, for errors */
	uint64_t frame; /* that frame's index */
} pfm_bag;

typedef struct {
	const char *want_emb; /* emb.NAME to use; NULL: the only one */
	int bf16;             /* store the rows rounded to bf16 (set before
			       * the first frame): half the memory, for a
			       * model that reads them only so */
	char *emb;            /* the one used */
	int d;                /* width, from the first frame */
	int nbags, cap;
	pfm_bag *bags;
	int *hash;            /* open addressing over bags, -1 empty */
	int hcap;
	uint64_t frames, other; /* embedding frames taken, other frames skipped */
	float *tmp;           /* bf16: a frame's rows before rounding */
	size_t tmp_cap;
} pfm_bagset;

/* Take one frame (embedding or tile frames carrying emb; other types are
 * counted in s->other and skipped). An emb tensor of shape [d] or [1,d]
 * is one instance (coordinates from x, y; box from width, height, mpp);
 * [n,d] is n instances (coordinates from a "coords" tensor [n,2] if the
 * frame has one). f16, bf16, f32 and f64 are read. Non-finite values,
 * a width other than the first frame's, several embeddings without
 * want_emb, are errors naming src, the frame and the slide. */
int pfm_bagset_add(pfm_bagset *s, const pfm_frame *f, const char *src,
		   pfm_err *e);
/* Every frame of a stream spec (-, file, ZeroMQ endpoint) or of every
 * file in a directory (sorted by name; hidden and *.tmp.* files
 * skipped). */
int pfm_bagset_read(pfm_bagset *s, const char *spec, const pfm_io_opts *io,
		    pfm_err *e);
int pfm_bagset_find(const pfm_bagset *s, const char *id);
void pfm_bagset_free(pfm_bagset *s);

/* ---- labels and the task (mil_data.c) ---- */

/* The labels CSV: slide_id, then label and/or time,event; case_id
 * optional (default: the slide is its own case). */
typedef struct {
	int task;           /* PFM_TASK_* */
	int nslides;        /* labelled slides that have a bag */
	char **slide;       /* their ids (borrowed from the bags) */
	int *bag;           /* their bag index */
	int *csv_row;       /* their row in the labels file */
	int *case_of;       /* their case index */
	int ncases;
	char **cases;
	int nclass;
	char **classes;     /* class names, index order */
	int *y;             /* class index, or survival bin */
	double *time;       /* survival */
	int *event;
	int nbins;
	double edges[65];   /* survival bin edges */
	/* what did not join, by name */
	int nunlabelled, nmissing;
	char **unlabelled;  /* bags without a label row */
	char **missing;     /* label rows without a bag */
} pfm_mil_data;

typedef struct {
	int task;            /* -1: survival when the file has time and event
			      * and no label, else classification */
	const char *classes; /* comma-separated class order, or NULL: sorted
			      * (numerically when every label is an integer) */
	int nbins;           /* survival bins (4) */
	double bin_eps;      /* widening of the outer bin edges (1e-6) */
} pfm_mil_data_opts;

/* Join the labels file with the bags. Bags without labels and labels
 * without bags are listed in d->unlabelled / d->missing (the caller
 * reports them); a label row with an empty bag, a duplicate slide, an
 * unknown class (with o->classes), a bad time or event, are errors
 * naming the file and line. */
int pfm_mil_data_load(pfm_mil_data *d, const char *labels_csv,
		      const pfm_bagset *bags, const pfm_mil_data_opts *o,
		      pfm_err *e);
void pfm_mil_data_free(pfm_mil_data *d);

/* ---- splits (mil_split.c) ---- */

enum { PFM_SPLIT_NONE = -1, PFM_SPLIT_TRAIN, PFM_SPLIT_VAL, PFM_SPLIT_TEST };

typedef struct {
	int nfolds;
	int *fold_id;       /* the fold numbers (from the CSV, or 0..K-1) */
	signed char *split; /* nfolds x nslides: PFM_SPLIT_* */
} pfm_mil_splits;

/* The splits CSV, columns fold, slide_id, split (train, val or test).
 * Rows naming slides the task does not hold are counted in *unknown
 * (listed by the caller from the file); other problems are errors. */
int pfm_mil_splits_read(pfm_mil_splits *s, const char *path,
			const pfm_mil_data *d, int *unknown, char ***unknown_ids,
			pfm_err *e);
/* Stratified K-fold by case: cases are grouped by stratum (class, or
 * event for survival), shuffled with seed within each, and dealt to the
 * folds in turn (the deal continuing across strata); fold k is the test
 * set of fold k, and val_frac of the other cases of each stratum
 * (rounded) the validation set. */
int pfm_mil_splits_kfold(pfm_mil_splits *s, const pfm_mil_data *d, int k,
			 double val_frac, uint64_t seed, pfm_err *e);
/* One stratified train:val:test split by case in the given ratios. */
int pfm_mil_splits_ratio(pfm_mil_splits *s, const pfm_mil_data *d,
			 const double ratio[3], uint64_t seed, pfm_err *e);
void pfm_mil_splits_free(pfm_mil_splits *s);

/* ---- training and evaluation (mil_train.c) ---- */

enum { PFM_MONITOR_LOSS, PFM_MONITOR_ERROR, PFM_MONITOR_AUC };

typedef struct {
	pfm_mil_config model;     /* d and nout are set from the data */
	pfm_mil_train_opts train; /* task is set from the data */
	int epochs;
	int patience;             /* early stopping (needs a val split); 0: off */
	int min_epochs;           /* never stop before */
	int monitor;              /* PFM_MONITOR_*: val loss, error, AUC/c-index */
	int weighted;             /* class-weighted sampling with replacement */
	int shuffle;              /* 0: train in the labels file's order */
	int max_tiles;            /* training bags subsampled to this; 0: all */
	int runs;                 /* seeds seed, seed+1, ... */
	uint64_t seed;
	const char *init;         /* initial weights: raw float32 parameters */
	const char *save;         /* write trained weights to SAVE-foldF-runR.f32 */
	int boot;                 /* bootstrap replicates; 0: none */
	double ci;                /* bootstrap level */
	const char *task, *model_name, *head, *run_id;
	int log_steps;            /* a metric frame per optimizer step */
	pfm_writer *results, *predictions, *log; /* NULL: not wanted */
	const char *heatmap_dir;
	const pfm_slide_list *slides; /* slide paths for the heatmaps */
	int progress;             /* a progress line on stderr */
	void (*warn)(const char *fmt, ...);
} pfm_mil_run_opts;

/* Train and evaluate every fold x run: results (one result frame per
 * metric on the test split), predictions (one prediction frame per test
 * slide), log (metric frames), heatmaps. */
int pfm_mil_run(const pfm_mil_data *d, const pfm_bagset *bags,
		const pfm_mil_splits *s, const pfm_mil_run_opts *o, pfm_err *e);

/* Attention over the slide's thumbnail (CLAM-style heatmap) as an RGB
 * PNG written atomically to png: each tile's box coloured by its
 * attention's percentile (blue low, red high), blended over the slide.
 * Needs the bag's coordinates. (mil_heatmap.c) */
int pfm_mil_heatmap(const char *png, const char *slide_path,
		    const pfm_bag *bag, const float *att, pfm_err *e);

#endif
