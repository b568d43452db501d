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
#include "rng.h"

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
	float *z1;    /* [n,P] before the ReLU */
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
} pfm_mil;

/* Allocate, and initialise the weights from r. */
int pfm_mil_init(pfm_mil *m, const pfm_mil_config *c, pfm_rng *r, pfm_err *e);
void pfm_mil_free(pfm_mil *m);
/* "abmil: 1024 -> 512 relu -> gated attention 128 -> 512 -> 2" */
void pfm_mil_describe(const pfm_mil *m, char *buf, size_t n);

/* Forward one bag x[n,d] into logits[nout]. mask: NULL (no dropout) or
 * [n,P] multipliers (0 or 1/(1-p)) for the projected instances. The
 * activations stay for pfm_mil_backward and m->att holds the attention
 * weights (attention pooling). x and mask must outlive the backward. */
int pfm_mil_forward(pfm_mil *m, const float *x, int n, const float *mask,
		    float *logits, pfm_err *e);
/* Backward of the last forward from dlogits[nout]: gradients are added
 * to m->grads. */
void pfm_mil_backward(pfm_mil *m, const float *x, const float *dlogits);
void pfm_mil_zero_grad(pfm_mil *m);
/* One optimizer step with the accumulated gradients. */
void pfm_mil_step(pfm_mil *m, const pfm_adamw_opts *o);
/* Dropout multipliers for n x P values: 0 with probability p, else
 * 1/(1-p), as torch.nn.Dropout. */
void pfm_mil_dropout_mask(float *mask, size_t count, float p, pfm_rng *r);

/* ---- one epoch of training (mil_model.c) ---- */

enum { PFM_TASK_CLS, PFM_TASK_SURV };

typedef struct {
	const float *x;    /* [n,d] */
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

#endif
