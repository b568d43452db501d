/* probe_knn.c: kNN, SimpleShot and retrieval on centred, L2-normalised
 * features (CL2N), in double. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

#define BLOCK 256 /* queries per similarity block */

void pfm_col_mean(double *mean, const float *x, int n, int d)
{
	for (int j = 0; j < d; j++)
		mean[j] = 0;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < d; j++)
			mean[j] += x[(size_t)i * d + j];
	for (int j = 0; j < d; j++)
		mean[j] /= n;
}

void pfm_cl2n(double *out, const float *x, int n, int d, const double *mean)
{
	for (int i = 0; i < n; i++) {
		double *o = out + (size_t)i * d, s = 0;
		for (int j = 0; j < d; j++) {
			o[j] = x[(size_t)i * d + j] - mean[j];
			s += o[j] * o[j];
		}
		s = sqrt(s);
		if (s > 0)
			for (int j = 0; j < d; j++)
				o[j] /= s;
	}
}

/* Both sets CL2N with the first one's mean. */
static int normalised(const pfm_probe_set *a, const pfm_probe_set *b,
		      double **na, double **nb, pfm_err *e)
{
	int d = a->d;
	double *mean = malloc(sizeof *mean * d);
	*na = malloc(sizeof **na * (size_t)a->n * d);
	*nb = malloc(sizeof **nb * (size_t)b->n * d);
	if (!mean || !*na || !*nb) {
		free(mean), free(*na), free(*nb);
		*na = *nb = NULL;
		return pfm_errf(e, "out of memory (%d and %d instances of %d)", a->n, b->n, d);
	}
	pfm_col_mean(mean, a->x, a->n, d);
	pfm_cl2n(*na, a->x, a->n, d, mean);
	pfm_cl2n(*nb, b->x, b->n, d, mean);
	free(mean);
	return 0;
}

/* Indices of the k largest of s[0..n) into top[0..k), best first (the
 * lower index first among equals). */
static void top_k(const double *s, int n, int k, int *top)
{
	int m = 0;
	for (int i = 0; i < n; i++) {
		if (m == k && !(s[i] > s[top[k - 1]]))
			continue;
		int j = m < k ? m++ : k - 1;
		while (j > 0 && s[i] > s[top[j - 1]]) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = i;
	}
}

/* For every query row, its kk nearest gallery rows (by similarity). */
static int neighbours(const double *g, int ng, const double *q, int nq, int d,
		      int kk, int *nb, double *nsim, pfm_err *e)
{
	double *sim = malloc(sizeof *sim * (size_t)BLOCK * ng);
	if (!sim)
		return pfm_errf(e, "out of memory");
	for (int q0 = 0; q0 < nq; q0 += BLOCK) {
		int bn = nq - q0 < BLOCK ? nq - q0 : BLOCK;
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bn, ng, d, 1.0,
			    q + (size_t)q0 * d, d, g, d, 0.0, sim, ng);
		for (int i = 0; i < bn; i++) {
			int *t = nb + (size_t)(q0 + i) * kk;
			top_k(sim + (size_t)i * ng, ng, kk, t);
			for (int j = 0; j < kk; j++)
				nsim[(size_t)(q0 + i) * kk + j] = sim[(size_t)i * ng + t[j]];
		}
	}
	free(sim);
	return 0;
}

int pfm_knn(const pfm_probe_set *train, const pfm_probe_set *test, int nclass,
	    const pfm_knn_opts *o, int *pred, double *prob, pfm_err *e)
{
	int kk = o->k > 0 ? o->k : 20;
	if (kk > train->n)
		kk = train->n;
	double T = o->temperature > 0 ? o->temperature : 0.07;
	double *a, *b;
	if (normalised(train, test, &a, &b, e))
		return -1;
	int *nb = malloc(sizeof *nb * (size_t)test->n * kk);
	double *ns = malloc(sizeof *ns * (size_t)test->n * kk);
	int rc = 0;
	if (!nb || !ns)
		rc = pfm_errf(e, "out of memory");
	else
		rc = neighbours(a, train->n, b, test->n, train->d, kk, nb, ns, e);
	for (int i = 0; !rc && i < test->n; i++) {
		double *p = prob + (size_t)i * nclass, tot = 0;
		for (int c = 0; c < nclass; c++)
			p[c] = 0;
		for (int j = 0; j < kk; j++) {
			double w = o->weighted ? exp(ns[(size_t)i * kk + j] / T) : 1;
			p[train->lab[nb[(size_t)i * kk + j]]] += w;
		}
		int best = 0;
		for (int c = 0; c < nclass; c++) {
			tot += p[c];
			if (p[c] > p[best])
				best = c;
		}
		for (int c = 0; c < nclass; c++)
			p[c] /= tot;
		pred[i] = best;
	}
	free(a), free(b), free(nb), free(ns);
	return rc;
}

int pfm_simpleshot(const pfm_probe_set *train, const pfm_probe_set *test,
		   int nclass, int *pred, pfm_err *e)
{
	int d = train->d;
	double *a, *b;
	if (normalised(train, test, &a, &b, e))
		return -1;
	double *proto = calloc((size_t)nclass * d, sizeof *proto);
	int *cnt = calloc(nclass, sizeof *cnt);
	if (!proto || !cnt) {
		free(a), free(b), free(proto), free(cnt);
		return pfm_errf(e, "out of memory");
	}
	for (int i = 0; i < train->n; i++) {
		cnt[train->lab[i]]++;
		for (int j = 0; j < d; j++)
			proto[(size_t)train->lab[i] * d + j] += a[(size_t)i * d + j];
	}
	for (int c = 0; c < nclass; c++)
		for (int j = 0; cnt[c] && j < d; j++)
			proto[(size_t)c * d + j] /= cnt[c];
	for (int i = 0; i < test->n; i++) {
		const double *x = b + (size_t)i * d;
		double best = INFINITY;
		pred[i] = 0;
		for (int c = 0; c < nclass; c++) {
			if (!cnt[c])
				continue;
			double s = 0;
			for (int j = 0; j < d; j++) {
				double t = x[j] - proto[(size_t)c * d + j];
				s += t * t;
			}
			if (s < best)
				best = s, pred[i] = c;
		}
	}
	free(a), free(b), free(proto), free(cnt);
	return 0;
}

int pfm_retrieval(const pfm_probe_set *gallery, const pfm_probe_set *query,
		  int nclass, int *hit, pfm_err *e)
{
	int kk = gallery->n < 5 ? gallery->n : 5;
	double *a, *b;
	if (normalised(gallery, query, &a, &b, e))
		return -1;
	int *nb = malloc(sizeof *nb * (size_t)query->n * kk);
	double *ns = malloc(sizeof *ns * (size_t)query->n * kk);
	int *votes = calloc(nclass, sizeof *votes), rc = 0;
	if (!nb || !ns || !votes)
		rc = pfm_errf(e, "out of memory");
	else
		rc = neighbours(a, gallery->n, b, query->n, gallery->d, kk, nb, ns, e);
	static const int at[3] = {1, 3, 5};
	for (int i = 0; !rc && i < query->n; i++) {
		int y = query->lab[i], *h = hit + (size_t)i * 4;
		for (int q = 0; q < 3; q++) {
			h[q] = 0;
			for (int j = 0; j < at[q] && j < kk; j++)
				h[q] |= gallery->lab[nb[(size_t)i * kk + j]] == y;
		}
		memset(votes, 0, sizeof *votes * nclass);
		for (int j = 0; j < kk; j++)
			votes[gallery->lab[nb[(size_t)i * kk + j]]]++;
		int best = 0;
		for (int c = 1; c < nclass; c++)
			if (votes[c] > votes[best])
				best = c;
		h[3] = best == y;
	}
	free(a), free(b), free(nb), free(ns), free(votes);
	return rc;
}
