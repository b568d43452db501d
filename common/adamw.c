/* adamw.c: Adam / AdamW steps (adamw.h). The loop vectorises because
 * the Makefile builds this file with -O3 -fno-math-errno (sqrtf without
 * errno); a `#pragma GCC optimize` does not reach the target_clones, and
 * the loop ran scalar, 13x slower. */
#include <math.h>

#include "adamw.h"
#include "par.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&       \
	!defined(__SANITIZE_ADDRESS__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

CLONES static void adam_loop(float *restrict param, const float *restrict grad,
			     float *restrict m, float *restrict v, size_t n,
			     float fb1, float fa1, float fb2, float fa2, float step,
			     float bc2, float feps, float wd, float decay, int mode)
{
	for (size_t i = 0; i < n; i++) {
		float p = param[i], g = grad[i];
		if (mode == 1)
			g = g + wd * p;
		else if (mode == 2)
			p = p * decay;
		float mi = m[i] * fb1 + fa1 * g;
		float vi = v[i] * fb2 + fa2 * g * g;
		m[i] = mi, v[i] = vi;
		float denom = sqrtf(vi) / bc2 + feps;
		param[i] = p + step * (mi / denom);
	}
}

typedef struct {
	float *param, *m, *v;
	const float *grad;
	float fb1, fa1, fb2, fa2, step, bc2, feps, wd, decay;
	int mode;
} adam_args;

/* Blocks of 4096 parameters [lo, hi) (the last one short) */
static void adam_blocks(void *ctx, int lo, int hi)
{
	adam_args *a = ctx;
	size_t s = (size_t)lo * 4096, e = (size_t)hi * 4096;
	adam_loop(a->param + s, a->grad + s, a->m + s, a->v + s, e - s, a->fb1, a->fa1,
		  a->fb2, a->fa2, a->step, a->bc2, a->feps, a->wd, a->decay, a->mode);
}

void pfm_adamw_step(float *param, const float *grad, float *m, float *v,
		    size_t n, const pfm_adamw_opts *o, int64_t t)
{
	double b1 = o->beta1 > 0 ? o->beta1 : 0.9;
	double b2 = o->beta2 > 0 ? o->beta2 : 0.999;
	double eps = o->eps > 0 ? o->eps : 1e-8;
	/* torch: the scalars are doubles in Python, cast to float where a
	 * float tensor meets them */
	float fb1 = (float)b1, fa1 = (float)(1 - b1);
	float fb2 = (float)b2, fa2 = (float)(1 - b2);
	float step = (float)(-(o->lr / (1 - pow(b1, (double)t))));
	float bc2 = (float)sqrt(1 - pow(b2, (double)t));
	float feps = (float)eps, wd = (float)o->weight_decay;
	float decay = (float)(1 - o->lr * o->weight_decay);
	int mode = o->decoupled ? 2 : o->weight_decay != 0 ? 1 : 0;
	/* blocks of 4096, at least 16 (64k parameters) a thread: below
	 * that a thread does not pay */
	size_t nblk = n / 4096, done = nblk * 4096;
	adam_args a = {param, m, v, grad, fb1, fa1, fb2, fa2, step, bc2, feps, wd, decay, mode};
	pfm_par_for_min(o->threads, (int)nblk, 16, adam_blocks, &a);
	adam_loop(param + done, grad + done, m + done, v + done, n - done, fb1, fa1, fb2,
		  fa2, step, bc2, feps, wd, decay, mode);
}
