/* metrics.c: classification metrics as scikit-learn 1.2 computes them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

typedef struct {
	double s;
	int y;
} scored;

static int by_score_desc(const void *pa, const void *pb)
{
	double a = ((const scored *)pa)->s, b = ((const scored *)pb)->s;
	return a > b ? -1 : a < b;
}

int pfm_auc_binary(const int *y, const double *score, size_t n, double *auc,
		   pfm_err *e)
{
	uint64_t npos = 0, nneg = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(score[i]))
			return pfm_errf(e, "AUC: score %zu is not finite", i);
		if (y[i])
			npos++;
		else
			nneg++;
	}
	if (!npos || !nneg)
		return pfm_errf(e, "AUC: only one class present (%llu positive, %llu negative)",
				(unsigned long long)npos, (unsigned long long)nneg);
	scored *v = malloc(sizeof *v * n);
	if (!v)
		return pfm_errf(e, "out of memory");
	for (size_t i = 0; i < n; i++)
		v[i] = (scored){score[i], y[i] != 0};
	qsort(v, n, sizeof *v, by_score_desc);
	/* twice the area, in units of one pair: exact integers */
	uint64_t tp = 0, area2 = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		uint64_t p = 0, q = 0;
		for (; j < n && v[j].s == v[i].s; j++)
			v[j].y ? p++ : q++;
		area2 += q * (2 * tp + p);
		tp += p;
		i = j;
	}
	free(v);
	*auc = (double)area2 / (2.0 * (double)npos * (double)nneg);
	return 0;
}

int pfm_auc_ovr(const int *y, const double *prob, size_t n, int k,
		double *auc, pfm_err *e)
{
	if (k < 2)
		return pfm_errf(e, "AUC: needs at least 2 classes");
	int *yc = malloc(sizeof *yc * (n ? n : 1));
	double *s = malloc(sizeof *s * (n ? n : 1));
	if (!yc || !s) {
		free(yc), free(s);
		return pfm_errf(e, "out of memory");
	}
	int rc = 0;
	double sum = 0;
	for (int c = k == 2 ? 1 : 0; c < k && !rc; c++) {
		for (size_t i = 0; i < n; i++) {
			yc[i] = y[i] == c;
			s[i] = prob[i * k + c];
		}
		double a;
		rc = pfm_auc_binary(yc, s, n, &a, e);
		if (rc && k > 2)
			pfm_err_prefix(e, "class %d against the rest", c);
		sum += a;
	}
	free(yc), free(s);
	if (!rc)
		*auc = k == 2 ? sum : sum / k;
	return rc;
}

double pfm_accuracy(const int *y, const int *pred, size_t n)
{
	size_t ok = 0;
	for (size_t i = 0; i < n; i++)
		ok += y[i] == pred[i];
	return n ? (double)ok / (double)n : NAN;
}

/* Confusion counts: rows true, columns predicted (k x k). */
static uint64_t *confusion(const int *y, const int *pred, size_t n, int k)
{
	uint64_t *c = calloc((size_t)k * k, sizeof *c);
	if (c)
		for (size_t i = 0; i < n; i++)
			c[(size_t)y[i] * k + pred[i]]++;
	return c;
}

double pfm_balanced_accuracy(const int *y, const int *pred, size_t n, int k)
{
	uint64_t *c = confusion(y, pred, n, k);
	if (!c)
		return NAN;
	double sum = 0;
	int m = 0;
	for (int i = 0; i < k; i++) {
		uint64_t row = 0;
		for (int j = 0; j < k; j++)
			row += c[(size_t)i * k + j];
		if (!row)
			continue; /* nan in sklearn, then dropped */
		sum += (double)c[(size_t)i * k + i] / (double)row;
		m++;
	}
	free(c);
	return m ? sum / m : NAN;
}

double pfm_f1(const int *y, const int *pred, size_t n, int k, int weighted)
{
	uint64_t *c = confusion(y, pred, n, k);
	if (!c)
		return NAN;
	double fsum = 0, wsum = 0;
	int m = 0;
	for (int i = 0; i < k; i++) {
		uint64_t tp = c[(size_t)i * k + i], t = 0, p = 0;
		for (int j = 0; j < k; j++) {
			t += c[(size_t)i * k + j];
			p += c[(size_t)j * k + i];
		}
		if (!t && !p)
			continue; /* not in the label set */
		double prec = p ? (double)tp / (double)p : 0;
		double rec = t ? (double)tp / (double)t : 0;
		double den = prec + rec;
		double f = 2 * prec * rec / (den == 0 ? 1 : den);
		if (weighted) {
			fsum += f * (double)t;
			wsum += (double)t;
		} else {
			fsum += f;
			m++;
		}
	}
	free(c);
	if (weighted)
		return wsum > 0 ? fsum / wsum : 0;
	return m ? fsum / m : NAN;
}

int pfm_kappa_quadratic(const int *y, const int *pred, size_t n, int k,
			double *kappa, pfm_err *e)
{
	uint64_t *c = confusion(y, pred, n, k);
	double *s0 = calloc(k, sizeof *s0), *s1 = calloc(k, sizeof *s1);
	if (!c || !s0 || !s1) {
		free(c), free(s0), free(s1);
		return pfm_errf(e, "out of memory");
	}
	double total = 0;
	for (int i = 0; i < k; i++)
		for (int j = 0; j < k; j++) {
			double v = (double)c[(size_t)i * k + j];
			s0[j] += v; /* column sums: predicted */
			s1[i] += v; /* row sums: true */
		}
	for (int j = 0; j < k; j++)
		total += s0[j];
	double num = 0, den = 0;
	for (int i = 0; i < k; i++)
		for (int j = 0; j < k; j++) {
			double w = (double)(i - j) * (i - j);
			num += w * (double)c[(size_t)i * k + j];
			den += w * (s0[i] * s1[j] / total);
		}
	free(c), free(s0), free(s1);
	if (!(den > 0))
		return pfm_errf(e, "quadratic kappa: undefined (no disagreement is expected by chance)");
	*kappa = 1 - num / den;
	return 0;
}
