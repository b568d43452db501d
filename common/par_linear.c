/* par_linear.c: linear layers split across threads (par.h). */
#include <cblas.h>

#include "par.h"
#include "vit_grad.h"
#include "vit_kernels.h"

typedef struct {
	float *out, *dx, *dw, *db;
	const float *in, *w, *b, *dy;
	int M, K, N, acc;
} lin;

static void fwd_rows(void *p, int lo, int hi)
{
	const lin *a = p;
	pfm_linear(a->out + (size_t)lo * a->N, a->in + (size_t)lo * a->K, a->w,
		   a->b, hi - lo, a->K, a->N);
}

void pfm_par_linear(int nt, float *out, const float *in, const float *w,
		    const float *b, int M, int K, int N)
{
	lin a = {.out = out, .in = in, .w = w, .b = b, .M = M, .K = K, .N = N};
	/* below a few rows per thread the split costs more than it saves */
	pfm_par_for(M >= 8 * nt ? nt : 1, M, fwd_rows, &a);
}

static void bwd_rows(void *p, int lo, int hi)
{
	const lin *a = p;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hi - lo, a->K,
		    a->N, 1.f, a->dy + (size_t)lo * a->N, a->N, a->w, a->K,
		    a->acc ? 1.f : 0.f, a->dx + (size_t)lo * a->K, a->K);
}

static void bwd_cols(void *p, int lo, int hi)
{
	const lin *a = p;
	if (a->dw)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, hi - lo, a->K,
			    a->M, 1.f, a->dy + lo, a->N, a->in, a->K, 1.f,
			    a->dw + (size_t)lo * a->K, a->K);
	if (a->db)
		for (int m = 0; m < a->M; m++) {
			const float *r = a->dy + (size_t)m * a->N;
			for (int n = lo; n < hi; n++)
				a->db[n] += r[n];
		}
}

void pfm_par_linear_bwd(int nt, float *dx, float *dw, float *db,
			const float *dy, const float *x, const float *w, int M,
			int K, int N, int accumulate)
{
	lin a = {.dx = dx, .dw = dw, .db = db, .dy = dy, .in = x, .w = w,
		 .M = M, .K = K, .N = N, .acc = accumulate};
	if (dx && M)
		pfm_par_for(M >= 8 * nt ? nt : 1, M, bwd_rows, &a);
	if ((dw || db) && M)
		pfm_par_for(N >= 8 * nt ? nt : 1, N, bwd_cols, &a);
}
