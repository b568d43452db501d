/* layers.c: linear layers (GEMMs through gemm.h, vectors through
 * OpenBLAS), softmax, initial weights. */
#include <cblas.h>
#include <math.h>

#include "gemm.h"
#include "layers.h"

void pfm_linear_forward(float *out, const float *inp, const float *w,
			const float *b, int n, int ic, int oc)
{
	if (b)
		for (int i = 0; i < n; i++)
			for (int o = 0; o < oc; o++)
				out[(size_t)i * oc + o] = b[o];
	if (n == 1)
		cblas_sgemv(CblasRowMajor, CblasNoTrans, oc, ic, 1.0f, w, ic,
			    inp, 1, b ? 1.0f : 0.0f, out, 1);
	else
		pfm_sgemm(0, 1, n, oc, ic, 1.0f, inp, ic, w, ic,
			  b ? 1.0f : 0.0f, out, oc);
}

void pfm_linear_backward(float *dinp, float *dw, float *db, const float *dout,
			 const float *inp, const float *w, int n, int ic,
			 int oc)
{
	if (dinp) {
		if (n == 1)
			cblas_sgemv(CblasRowMajor, CblasTrans, oc, ic, 1.0f, w,
				    ic, dout, 1, 1.0f, dinp, 1);
		else
			pfm_sgemm(0, 0, n, ic, oc, 1.0f, dout, oc, w, ic, 1.0f,
				  dinp, ic);
	}
	if (dw) {
		if (n == 1)
			cblas_sger(CblasRowMajor, oc, ic, 1.0f, dout, 1, inp, 1,
				   dw, ic);
		else
			pfm_sgemm(1, 0, oc, ic, n, 1.0f, dout, oc, inp, ic, 1.0f,
				  dw, ic);
	}
	if (db)
		for (int i = 0; i < n; i++)
			for (int o = 0; o < oc; o++)
				db[o] += dout[(size_t)i * oc + o];
}

void pfm_softmax(float *out, const float *inp, int n)
{
	float mx = -INFINITY;
	for (int i = 0; i < n; i++)
		mx = fmaxf(mx, inp[i]);
	float s = 0;
	for (int i = 0; i < n; i++) {
		out[i] = expf(inp[i] - mx);
		s += out[i];
	}
	for (int i = 0; i < n; i++)
		out[i] /= s;
}

void pfm_linear_init(float *w, float *b, int ic, int oc, int kind,
		     pfm_rng *r)
{
	size_t nw = (size_t)ic * oc;
	if (kind == PFM_INIT_XAVIER) {
		double sd = sqrt(2.0 / (ic + oc));
		for (size_t i = 0; i < nw; i++)
			w[i] = (float)(sd * pfm_rng_normal(r));
		for (int o = 0; o < oc; o++)
			b[o] = 0;
	} else {
		double bound = 1.0 / sqrt(ic);
		for (size_t i = 0; i < nw; i++)
			w[i] = (float)(bound * (2 * pfm_rng_uniform(r) - 1));
		for (int o = 0; o < oc; o++)
			b[o] = (float)(bound * (2 * pfm_rng_uniform(r) - 1));
	}
}
