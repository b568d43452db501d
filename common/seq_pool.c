/* seq_pool.c: batches of examples on threads (seq.h): training with
 * gradient lanes summed in a fixed order (results independent of the
 * thread count), generation and VQA prediction split by example. */
#include <stdlib.h>
#include <string.h>

#include "par.h"
#include "seq_int.h"

extern void openblas_set_num_threads(int);

struct pfm_seq_pool {
	int threads, lanes;
	size_t n_params;
	pfm_seq_ws **ws;   /* one per thread */
	float *lane_grad;  /* [lanes][n_params] */
	double *lane_loss;
	pfm_err *errs;     /* one per thread */
	int *failed;
};

pfm_seq_pool *pfm_seq_pool_new(const pfm_seq *m, int threads, int lanes,
			       pfm_err *e)
{
	if (threads < 1 || threads > 64)
		threads = threads < 1 ? 1 : 64;
	if (lanes <= 0)
		lanes = 4;
	pfm_seq_pool *p = calloc(1, sizeof *p);
	if (!p)
		goto oom;
	p->threads = threads, p->lanes = lanes, p->n_params = m->n_params;
	p->ws = calloc((size_t)threads, sizeof *p->ws);
	p->lane_grad = malloc((size_t)lanes * m->n_params * sizeof(float));
	p->lane_loss = calloc((size_t)lanes, sizeof *p->lane_loss);
	p->errs = calloc((size_t)threads, sizeof *p->errs);
	p->failed = calloc((size_t)threads, sizeof *p->failed);
	if (!p->ws || !p->lane_grad || !p->lane_loss || !p->errs || !p->failed)
		goto oom;
	for (int i = 0; i < threads; i++)
		if (!(p->ws[i] = pfm_seq_ws_new()))
			goto oom;
	/* our threads split the work; OpenBLAS's would fight them */
	openblas_set_num_threads(1);
	return p;
oom:
	pfm_seq_pool_free(p);
	pfm_errf(e, "seq: out of memory for %d thread(s) and %d gradient "
		 "lane(s) of %zu parameters", threads, lanes, m->n_params);
	return NULL;
}

void pfm_seq_pool_free(pfm_seq_pool *p)
{
	if (!p)
		return;
	for (int i = 0; p->ws && i < p->threads; i++)
		pfm_seq_ws_free(p->ws[i]);
	free(p->ws);
	free(p->lane_grad);
	free(p->lane_loss);
	free(p->errs);
	free(p->failed);
	free(p);
}

/* What a batch's threads share. */
typedef struct {
	pfm_seq_pool *p;
	const pfm_seq *m;
	const pfm_seq_example *ex;
	int n, total;
	const pfm_seq_batch_opts *o;
	/* generation / prediction */
	const pfm_seq_gen_opts *g;
	int *out, *out_len, L;
	float *logits;
} job;

/* Thread t's share of [0, n): [lo, hi). */
static void share(int t, int nt, int n, int *lo, int *hi)
{
	*lo = (int)((long long)t * n / nt);
	*hi = (int)((long long)(t + 1) * n / nt);
}

static void train_thread(void *ctx, int t, int t_end)
{
	job *j = ctx;
	pfm_seq_pool *p = j->p;
	(void)t_end;
	int l0, l1;
	share(t, p->threads < p->lanes ? p->threads : p->lanes, p->lanes, &l0,
	      &l1);
	for (int l = l0; l < l1 && !p->failed[t]; l++) {
		float *g = p->lane_grad + (size_t)l * p->n_params;
		int e0, e1;
		share(l, p->lanes, j->n, &e0, &e1);
		memset(g, 0, p->n_params * sizeof *g);
		p->lane_loss[l] = 0;
		for (int i = e0; i < e1; i++) {
			pfm_rng r = pfm_rng_seed(j->o->seed,
						 1000 + j->o->first + (uint64_t)i);
			double loss;
			if (pfm_seq_loss(j->m, p->ws[t], j->o->task, &j->ex[i],
					 j->o->smoothing, 1.f / (float)j->total,
					 g, NULL, j->o->train ? &r : NULL,
					 &loss, NULL, &p->errs[t])) {
				pfm_err_prefix(&p->errs[t], "example %d", i);
				p->failed[t] = 1;
				break;
			}
			p->lane_loss[l] += loss;
		}
	}
}

/* The first failing thread's error into e. */
static int first_error(pfm_seq_pool *p, int nt, pfm_err *e)
{
	for (int t = 0; t < nt; t++)
		if (p->failed[t]) {
			if (e)
				*e = p->errs[t];
			return -1;
		}
	return 0;
}

int pfm_seq_batch(pfm_seq_pool *p, const pfm_seq *m, float *grad,
		  const pfm_seq_example *ex, int n,
		  const pfm_seq_batch_opts *o, double *loss, pfm_err *e)
{
	int total = 0;
	if (m->n_params != p->n_params)
		return pfm_errf(e, "seq: the pool was made for another model");
	for (int i = 0; i < n; i++) {
		if (seq_check_example(m, o->task, &ex[i], e))
			return pfm_err_prefix(e, "example %d", i);
		total += pfm_seq_count_targets(m, o->task, &ex[i]);
	}
	*loss = 0;
	if (total == 0)
		return 0;
	job j = {.p = p, .m = m, .ex = ex, .n = n, .total = total, .o = o};
	int nt = p->threads < p->lanes ? p->threads : p->lanes;
	memset(p->failed, 0, (size_t)p->threads * sizeof *p->failed);
	pfm_par_for(nt, nt, train_thread, &j);
	if (first_error(p, nt, e))
		return -1;
	double sum = 0;
	for (int l = 0; l < p->lanes; l++) {
		int e0, e1;
		share(l, p->lanes, n, &e0, &e1);
		if (e0 == e1)
			continue;
		const float *g = p->lane_grad + (size_t)l * p->n_params;
		for (size_t i = 0; i < p->n_params; i++)
			grad[i] += g[i];
		sum += p->lane_loss[l];
	}
	*loss = sum / total;
	return 0;
}

static void gen_thread(void *ctx, int t, int t_end)
{
	job *j = ctx;
	pfm_seq_pool *p = j->p;
	int e0, e1;
	(void)t_end;
	share(t, p->threads, j->n, &e0, &e1);
	for (int i = e0; i < e1; i++) {
		int rc = j->logits
			? pfm_seq_vqa_predict(j->m, p->ws[t], &j->ex[i],
					      j->logits + (size_t)i *
							  j->m->c.n_answers,
					      &p->errs[t])
			: pfm_seq_generate(j->m, p->ws[t], j->o->task, &j->ex[i],
					   j->g, j->out + (size_t)i * j->L,
					   &j->out_len[i], NULL, &p->errs[t]);
		if (rc) {
			pfm_err_prefix(&p->errs[t], "example %d", i);
			p->failed[t] = 1;
			return;
		}
	}
}

int pfm_seq_generate_batch(pfm_seq_pool *p, const pfm_seq *m, int task,
			   const pfm_seq_example *ex, int n,
			   const pfm_seq_gen_opts *o, int *out, int *out_len,
			   pfm_err *e)
{
	pfm_seq_batch_opts bo = {.task = task};
	int L = o->max_len > 0 && o->max_len < m->c.max_len ? o->max_len
							    : m->c.max_len;
	job j = {.p = p, .m = m, .ex = ex, .n = n, .o = &bo, .g = o,
		 .out = out, .out_len = out_len, .L = L};
	memset(p->failed, 0, (size_t)p->threads * sizeof *p->failed);
	pfm_par_for(p->threads, p->threads, gen_thread, &j);
	return first_error(p, p->threads, e);
}

int pfm_seq_vqa_predict_batch(pfm_seq_pool *p, const pfm_seq *m,
			      const pfm_seq_example *ex, int n, float *logits,
			      pfm_err *e)
{
	job j = {.p = p, .m = m, .ex = ex, .n = n, .logits = logits};
	memset(p->failed, 0, (size_t)p->threads * sizeof *p->failed);
	pfm_par_for(p->threads, p->threads, gen_thread, &j);
	return first_error(p, p->threads, e);
}
