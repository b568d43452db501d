/* seq.h: a small pre-LN transformer encoder-decoder for report generation
 * and visual question answering over tile/slide embeddings (R2Gen,
 * HistGen, PathVQA practice), with training (forward, backward, losses)
 * and decoding (greedy, beam search, key/value cache). Plain functions
 * over one flat float buffer, in llm.c's manner; errors as pfm_err.
 *
 * The model (every sublayer pre-LN: x + f(LN(x)); dropout p on each
 * sublayer's output and on the embeddings, only while training, none on
 * attention probabilities):
 *   bag X[N, d_in] -> relu(att_embed(X)) [N, D]
 *     -> region pooling when region > 0: rows [r*R, r*R+R) -> their MEAN
 *        (the last region may be shorter: mean of what it has), ceil(N/R)
 *        tokens
 *     -> enc layers (self-attention over all tokens, no mask, no
 *        positions) -> enc.norm -> memory M[Tm, D]
 *   VQA: tokens = [relu(att_embed(X)) (pooled as above) + seg[0] ;
 *        tok_emb(q) * sqrt(D) + PE(0..lq-1) + seg[1]] -> the same encoder
 *        -> enc.norm -> memory; the answer classifier reads the MEAN of
 *        all memory rows: logits = vqa.cls(mean) [n_answers].
 *   decoder input (bos, t1..tk): tok_emb(t) * sqrt(D) (the Annotated
 *        Transformer's scaling) + PE(position 0..k) -> dec layers [causal
 *        self-attention, cross-attention over memory, FFN] -> dec.norm ->
 *        dec.out -> logits [k+1, vocab].
 * PE is the sinusoid: PE(p, 2i) = sin(p / 10000^(2i/D)), PE(p, 2i+1) =
 * cos(same). Attention: separate q, k, v, o linears with biases, scores
 * scaled by 1/sqrt(D/heads); the key bias gets no gradient (it adds the
 * same q . b to a whole row of scores: zero in exact arithmetic). FFN: fc2(act(fc1(x))), act relu or exact
 * (erf) gelu. The question tokens share tok_emb with the decoder (one
 * tokenizer).
 *
 * Tensors, named as the torch reference's state_dict
 * (tests/ref/seq_ref.py), laid out in this order in ONE buffer (F32):
 *   tok_emb.weight [vocab, D]                 (when vocab > 0)
 *   att_embed.weight [D, d_in], att_embed.bias [D]
 *   enc.layers.L.{ln1, self_attn.{q,k,v,o}, ln2, ff.fc1, ff.fc2}.{weight,bias}
 *   enc.norm.{weight,bias}
 *   dec.layers.L.{ln1, self_attn.{q,k,v,o}, ln2, cross_attn.{q,k,v,o},
 *                 ln3, ff.fc1, ff.fc2}.{weight,bias}   (when dec_layers > 0)
 *   dec.norm.{weight,bias}, dec.out.{weight [vocab, D], bias [vocab]}
 *                                                       (when dec_layers > 0)
 *   vqa.seg_emb.weight [2, D], vqa.cls.{weight [n_answers, D], bias}
 *                                                       (when n_answers > 0)
 * Initialisation (seeded, pfm_rng stream 1), as the Annotated Transformer
 * and R2Gen do it: every tensor of 2 or more dimensions (weights,
 * embeddings) xavier_uniform_, U(+-sqrt(6 / (fan_in + fan_out))); linear
 * biases torch's default U(+-1/sqrt(fan_in)); LayerNorm weight 1, bias 0.
 *
 * A checkpoint is a safetensors file with every tensor as F32 under the
 * names above and the configuration as JSON in __metadata__["pathfm_seq"]
 * (plus any pairs the caller adds, e.g. its tokenizer). Loading is
 * strict: a missing, extra, misshaped, non-F32 or non-finite tensor is an
 * error naming it.
 *
 * Training: one call handles ONE example (its own lengths, no padding)
 * and ACCUMULATES grad += scale * d(summed loss) into a gradient buffer of
 * the parameter layout. Losses are torch's CrossEntropyLoss(label_smoothing
 * = s, ignore_index = pad): per target -(1-s) log p[y] - (s/V) sum_j
 * log p[j]; a report's targets are (t1..tk, eos) for the input (bos,
 * t1..tk), targets equal to pad are ignored. pfm_seq_batch sums over
 * examples and scales by 1 / (counted targets of the whole batch), which
 * is reduction='mean' over the padded batch torch would see.
 *
 * Threads: a pfm_seq_pool runs a batch's examples on `threads` threads.
 * Gradients go through `lanes` private buffers (example i of n to lane
 * floor(i * lanes / n), each lane summing its examples in order), added
 * into grad in lane order: the result depends on lanes, never on
 * threads. Dropout draws from pfm_rng_seed(seed, 1000 + example index),
 * also independent of threads.
 *
 * Decoding (pfm_seq_generate): greedy (beam 1) or beam search of width
 * B, up to max_len tokens, with a key/value cache (each step runs the
 * decoder on one new token per hypothesis). Per step and hypothesis the
 * logits are, in this order: repetition penalty (CTRL, as Hugging Face:
 * a logit of a token already generated is divided by the penalty when
 * positive, multiplied when negative; 1 = off), log-softmax, then
 * no_repeat_ngram_size n as Hugging Face generate (over bos + generated
 * tokens: a token that would complete an n-gram already present gets
 * -inf). Beam search is Hugging Face's (early_stopping=False): each step
 * takes the 2B best (hypothesis, token) by summed log-probability (ties:
 * lower hypothesis index, then lower token id); an eos among the first B
 * of them finishes that hypothesis with score sum_logp / L^alpha (L:
 * generated tokens including eos, alpha = length_alpha, 0: no
 * normalisation); the others (not eos) continue, up to B. The search ends
 * when no hypothesis is alive, at max_len (the alive ones finish there,
 * L = max_len), or once B are finished and the worst of them scores at
 * least best_alive_sum / cur_len^alpha. The result is the best finished
 * (ties: the one finished first). Greedy takes the argmax each step
 * (ties: lower token id) and equals beam 1. Output tokens exclude bos and
 * eos.
 *
 * The VQA tasks need n_answers > 0 (the segment embedding is part of the
 * VQA head); the decoder tasks need dec_layers > 0.
 *
 * API version 1. */
#ifndef PFM_SEQ_H
#define PFM_SEQ_H

#include <stddef.h>
#include <stdint.h>

#include "adamw.h"
#include "err.h"
#include "rng.h"
#include "safetensors.h"

enum { PFM_SEQ_RELU = 0, PFM_SEQ_GELU = 1 };

typedef struct {
	int d_in;       /* input embedding width */
	int d_model;    /* D */
	int heads;      /* D % heads == 0 */
	int d_ff;       /* FFN hidden width */
	int enc_layers; /* >= 0 */
	int dec_layers; /* 0: no decoder (VQA classification only) */
	int vocab;      /* token ids in [0, vocab); > 0 with a decoder or VQA */
	int max_len;    /* most text tokens (without bos/eos) of a report,
			   question or answer */
	int n_answers;  /* VQA classes; 0: no VQA head */
	int act;        /* PFM_SEQ_RELU (default) or PFM_SEQ_GELU */
	int region;     /* region pooling size R; 0: none */
	int bos, eos, pad; /* special token ids (pad: ignored targets) */
	float ln_eps;   /* LayerNorm eps; 1e-5 as torch */
	float dropout;  /* p, training only */
} pfm_seq_config;

/* Defaults for the fields a caller may leave: act relu, ln_eps 1e-5,
 * dropout 0.1, region 0, bos 1, eos 2, pad 0, heads 8, d_ff 4 D. Sizes
 * d_in, d_model, vocab, max_len and the layer counts are the caller's. */
void pfm_seq_config_default(pfm_seq_config *c);
/* 0, or -1 naming the offending field. */
int pfm_seq_config_check(const pfm_seq_config *c, pfm_err *e);
/* The configuration as JSON ({"d_in":..., ...}, every field) into buf;
 * returns the length (snprintf's, may exceed n). */
int pfm_seq_config_json(const pfm_seq_config *c, char *buf, size_t n);
/* Parse such JSON (every field required, unknown keys are errors). */
int pfm_seq_config_parse(pfm_seq_config *c, const char *text, size_t n,
			 pfm_err *e);

typedef struct {
	char name[64];
	size_t offset;  /* in floats, into the parameter buffer */
	size_t count;
	int ndim;
	int64_t shape[2];
} pfm_seq_tensor;

typedef struct {
	pfm_seq_config c;
	float *params;       /* n_params floats, the layout above */
	size_t n_params;
	pfm_seq_tensor *tensors;
	int n_tensors;
} pfm_seq;

/* Number of parameters of a configuration (0 if it is invalid). */
size_t pfm_seq_num_params(const pfm_seq_config *c);
/* Allocate (params zeroed) and fill the tensor table; then init or load. */
int pfm_seq_alloc(pfm_seq *m, const pfm_seq_config *c, pfm_err *e);
/* Seeded random initialisation, as described above. */
void pfm_seq_init(pfm_seq *m, uint64_t seed);
void pfm_seq_free(pfm_seq *m);
/* The tensor named so, NULL if none. */
const pfm_seq_tensor *pfm_seq_find(const pfm_seq *m, const char *name);

/* Save atomically (tmp + rename); kv: n_meta extra __metadata__ pairs
 * (kv[2i], kv[2i+1]), may be NULL. */
int pfm_seq_save(const pfm_seq *m, const char *path, const char *const *kv,
		 size_t n_meta, pfm_err *e);
/* Load (allocates m) from a path, or from an open file (the caller reads
 * its own metadata with pfm_st_meta). */
int pfm_seq_load(pfm_seq *m, const char *path, pfm_err *e);
int pfm_seq_load_st(pfm_seq *m, const pfm_st *st, pfm_err *e);

/* One thread's activations and scratch; grows as examples need. */
typedef struct pfm_seq_ws pfm_seq_ws;
pfm_seq_ws *pfm_seq_ws_new(void);
void pfm_seq_ws_free(pfm_seq_ws *ws);

enum {
	PFM_SEQ_REPORT = 0,  /* memory = encode(bag); decoder targets tok */
	PFM_SEQ_VQA_CLS = 1, /* memory = encode(bag ; question); class answer */
	PFM_SEQ_VQA_GEN = 2  /* memory = encode(bag ; question); decoder
				targets ans (answer generated as text) */
};

typedef struct {
	const float *x; /* bag / image rows [n, d_in] */
	int n;
	const int *tok; /* REPORT: the report's tokens (no bos/eos);
			   VQA: the question's tokens */
	int len;
	const int *ans; /* VQA_GEN: the answer's tokens (no bos/eos) */
	int ans_len;
	int answer;     /* VQA_CLS: class in [0, n_answers); < 0: ignored */
} pfm_seq_example;

/* Targets of one example the loss counts (not pad). */
int pfm_seq_count_targets(const pfm_seq *m, int task,
			  const pfm_seq_example *ex);

/* Forward and backward of one example. *loss = the summed loss over its
 * counted targets (*n_counted of them; either pointer may be NULL).
 * grad (NULL: forward only) += scale * d(summed loss)/d(params); dx (NULL:
 * not wanted) = scale * d(summed loss)/dx [n, d_in]. drop: NULL for
 * evaluation (no dropout), else the dropout generator. Errors: token ids
 * out of range, lengths over max_len, an empty bag, no memory. */
int pfm_seq_loss(const pfm_seq *m, pfm_seq_ws *ws, int task,
		 const pfm_seq_example *ex, float smoothing, float scale,
		 float *grad, float *dx, pfm_rng *drop, double *loss,
		 int *n_counted, pfm_err *e);

/* Teacher-forced logits (no dropout): REPORT / VQA_GEN [len+1, vocab]
 * for the input (bos, tokens); VQA_CLS [n_answers]. */
int pfm_seq_logits(const pfm_seq *m, pfm_seq_ws *ws, int task,
		   const pfm_seq_example *ex, float *logits, pfm_err *e);

/* Threads, workspaces and gradient lanes for batches. */
typedef struct pfm_seq_pool pfm_seq_pool;
/* lanes 0: 4. */
pfm_seq_pool *pfm_seq_pool_new(const pfm_seq *m, int threads, int lanes,
			       pfm_err *e);
void pfm_seq_pool_free(pfm_seq_pool *p);

typedef struct {
	int task;
	float smoothing;  /* label smoothing s */
	int train;        /* 1: dropout on */
	uint64_t seed;    /* dropout: stream 1000 + example index */
	uint64_t first;   /* index of ex[0] in the epoch (dropout streams) */
} pfm_seq_batch_opts;

/* grad += d(mean loss over the batch's counted targets)/d(params) for the
 * n examples; *loss = that mean (0 when nothing counts). */
int pfm_seq_batch(pfm_seq_pool *p, const pfm_seq *m, float *grad,
		  const pfm_seq_example *ex, int n,
		  const pfm_seq_batch_opts *o, double *loss, pfm_err *e);

/* torch.nn.utils.clip_grad_norm_(max_norm) over the whole buffer: the
 * global 2-norm (accumulated in double) is returned; when it exceeds
 * max_norm the gradient is scaled by max_norm / (norm + 1e-6). */
double pfm_seq_clip_grad(float *grad, size_t n, double max_norm);

/* One AdamW step (adamw.h) over all parameters; weight decay only on
 * tensors of 2 or more dimensions (weights, embeddings), not on biases
 * and LayerNorms. m1, m2: the moments, n_params each, zero at first. */
void pfm_seq_adamw(pfm_seq *m, const float *grad, float *m1, float *m2,
		   const pfm_adamw_opts *o, int64_t t);

typedef struct {
	int beam;                 /* 1: greedy */
	int max_len;              /* most tokens generated (eos excluded);
				     0 or over config max_len: max_len */
	float length_alpha;       /* beam score sum_logp / L^alpha; 0: none */
	int no_repeat_ngram;      /* n; 0: off */
	float repetition_penalty; /* 1 (or 0): off */
} pfm_seq_gen_opts;

/* Generate for one example (REPORT: from the bag; VQA_GEN: from bag and
 * question). out[max_len] receives the tokens, *out_len their count,
 * *score (may be NULL) the chosen hypothesis's score. */
int pfm_seq_generate(const pfm_seq *m, pfm_seq_ws *ws, int task,
		     const pfm_seq_example *ex, const pfm_seq_gen_opts *o,
		     int *out, int *out_len, double *score, pfm_err *e);
/* The same for n examples on the pool's threads: example i's tokens in
 * out[i * L ...] with L the effective max_len (o->max_len, or the
 * config's when 0 or larger), count in out_len[i]. */
int pfm_seq_generate_batch(pfm_seq_pool *p, const pfm_seq *m, int task,
			   const pfm_seq_example *ex, int n,
			   const pfm_seq_gen_opts *o, int *out, int *out_len,
			   pfm_err *e);

/* VQA classification: logits[n_answers] (no dropout). */
int pfm_seq_vqa_predict(const pfm_seq *m, pfm_seq_ws *ws,
			const pfm_seq_example *ex, float *logits, pfm_err *e);
/* The same for n examples on the pool's threads: logits[n, n_answers]. */
int pfm_seq_vqa_predict_batch(pfm_seq_pool *p, const pfm_seq *m,
			      const pfm_seq_example *ex, int n, float *logits,
			      pfm_err *e);

/* For tests: the decoder's logits of the LAST position of input
 * (bos, t1..tk), the example's decoder tokens (REPORT: tok, VQA_GEN:
 * ans), computed incrementally with the key/value cache,
 * one token at a time, into logits[vocab]. */
int pfm_seq_cached_logits(const pfm_seq *m, pfm_seq_ws *ws, int task,
			  const pfm_seq_example *ex, float *logits,
			  pfm_err *e);

#endif
