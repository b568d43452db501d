/* seq_int.h: private to seq_*.c. Views of the parameter layout (the
 * same walk names the tensors, places them and points into a buffer, so
 * the three cannot disagree) and the workspace arena. */
#ifndef PFM_SEQ_INT_H
#define PFM_SEQ_INT_H

#include "seq.h"

#define SEQ_MAX_LAYERS 32

typedef struct {
	float *w, *b;
} seq_lin;

/* One layer; the decoder's alone has the cross-attention and ln3. */
typedef struct {
	seq_lin ln1, q, k, v, o, ln2, cq, ck, cv, co, ln3, fc1, fc2;
} seq_layer;

typedef struct {
	float *tok_emb;
	seq_lin embed;
	seq_layer enc[SEQ_MAX_LAYERS], dec[SEQ_MAX_LAYERS];
	seq_lin enc_norm, dec_norm, out;
	float *seg;
	seq_lin cls;
} seq_view;

/* Walk the layout of c: returns the parameter count; with v, points its
 * members into base; with tab, fills the tensor table (*nt entries). */
size_t seq_walk(const pfm_seq_config *c, float *base, seq_view *v,
		pfm_seq_tensor *tab, int *nt);

/* The workspace: an arena of floats that never moves while in use (a
 * take that does not fit gets a block of its own; the next reset merges
 * them into one of the peak size). */
struct pfm_seq_ws {
	float *buf;
	size_t cap, used, peak;
	float **extra;
	int n_extra, cap_extra;
	seq_view pv, gv; /* views of the model's params and of a grad */
};
void seq_ws_reset(pfm_seq_ws *ws);
/* n floats (uninitialised), NULL when out of memory. */
float *seq_ws_take(pfm_seq_ws *ws, size_t n);

/* PE(p, i) of the sinusoid into out[D] for position p. */
void seq_pos_enc(float *out, int p, int D);

/* Multi-head attention q[Tq, D] over k, v [Tk, D] -> out[Tq, D], keeping
 * the probabilities p[H, Tq, Tk]; causal: query i sees keys j <= i + off
 * (the rest get probability 0). */
void seq_attn_fwd(float *out, float *p, const float *q, const float *k,
		  const float *v, int Tq, int Tk, int D, int H, int causal,
		  int off);

/* Memory (encoder output) of an example for decoding: resets ws, then
 * mem[*tm, D] is taken from it; no dropout. Also fills ws->pv. */
int seq_memory(const pfm_seq *m, pfm_seq_ws *ws, int task,
	       const pfm_seq_example *ex, float **mem, int *tm, pfm_err *e);
/* Check an example's ids and lengths for task. */
int seq_check_example(const pfm_seq *m, int task, const pfm_seq_example *ex,
		      pfm_err *e);

#endif
