/* par.h: a parallel for over index ranges, with pthreads (OpenBLAS stays
 * single-threaded: its spinning workers and ours would fight over the
 * cores). Results must not depend on the split: callers give each range
 * disjoint outputs. */
#ifndef PFM_PAR_H
#define PFM_PAR_H

/* fn(ctx, lo, hi) over [0, n) cut into nt contiguous ranges (at most n),
 * one per thread; the caller's thread runs the first. A thread that
 * cannot start runs on the caller's after the others. */
void pfm_par_for(int nt, int n, void (*fn)(void *ctx, int lo, int hi),
		 void *ctx);
/* The same with at most n / min_per threads (at least one): work too
 * small to pay for a thread stays on the caller's. */
void pfm_par_for_min(int nt, int n, int min_per,
		     void (*fn)(void *ctx, int lo, int hi), void *ctx);

/* pfm_linear / pfm_linear_bwd (vit_kernels.h, vit_grad.h) on nt
 * threads: rows of the output (and of dx) split across threads, the
 * weight gradient's rows too. Each output element is computed as the
 * single-threaded call computes it for its row range. */
void pfm_par_linear(int nt, float *out, const float *in, const float *w,
		    const float *b, int M, int K, int N);
void pfm_par_linear_bwd(int nt, float *dx, float *dw, float *db,
			const float *dy, const float *x, const float *w, int M,
			int K, int N, int accumulate);

#endif
