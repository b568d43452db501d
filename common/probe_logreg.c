/* probe_logreg.c: L2-regularised logistic regression by L-BFGS, the
 * objective of scikit-learn 1.2's LogisticRegression(solver='lbfgs'). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

typedef struct {
	const double *x; /* [n,d] */
	const int *y;
	int n, d, k, rows;
	double lambda;   /* 1 / C */
	double *z;       /* [n,rows] scratch */
} problem;

/* f and g at theta = [W rows x d, b rows]. */
static double objective(const problem *p, const double *th, double *g)
{
	int n = p->n, d = p->d, r = p->rows;
	const double *W = th, *b = th + (size_t)r * d;
	double *z = p->z;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < r; j++)
			z[(size_t)i * r + j] = b[j];
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, r, d, 1.0, p->x, d, W, d,
		    1.0, z, r);
	double f = 0;
	for (int i = 0; i < n; i++) {
		double *zi = z + (size_t)i * r;
		if (r == 1) {
			double v = zi[0], y = p->y[i];
			/* log(1 + e^v) - y v, and its derivative sigma(v) - y */
			double sp = v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
			f += sp - y * v;
			double s = v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v));
			zi[0] = s - y;
		} else {
			double mx = -INFINITY, sum = 0;
			for (int j = 0; j < r; j++)
				mx = fmax(mx, zi[j]);
			for (int j = 0; j < r; j++)
				sum += exp(zi[j] - mx);
			double lse = mx + log(sum);
			f += lse - zi[p->y[i]];
			for (int j = 0; j < r; j++)
				zi[j] = exp(zi[j] - lse) - (j == p->y[i]);
		}
	}
	double reg = 0;
	for (size_t i = 0; i < (size_t)r * d; i++)
		reg += W[i] * W[i];
	f += 0.5 * p->lambda * reg;
	/* gW = Z^T X + lambda W, gb = column sums of Z */
	double *gW = g, *gb = g + (size_t)r * d;
	for (size_t i = 0; i < (size_t)r * d; i++)
		gW[i] = p->lambda * W[i];
	cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, d, n, 1.0, z, r, p->x, d,
		    1.0, gW, d);
	for (int j = 0; j < r; j++)
		gb[j] = 0;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < r; j++)
			gb[j] += z[(size_t)i * r + j];
	return f;
}

static double dot(const double *a, const double *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static double amax(const double *a, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs(a[i]));
	return m;
}

/* Minimiser of the cubic through (a, fa, ga), (b, fb, gb), kept inside
 * [lo, hi] away from the ends; bisection when it has none. */
static double cubic_min(double a, double fa, double ga, double b, double fb,
			double gb)
{
	double d1 = ga + gb - 3 * (fa - fb) / (a - b);
	double s = d1 * d1 - ga * gb;
	double lo = fmin(a, b), hi = fmax(a, b), t;
	if (s < 0 || !isfinite(s))
		return (a + b) / 2;
	double d2 = (b > a ? 1 : -1) * sqrt(s);
	t = b - (b - a) * (gb + d2 - d1) / (gb - ga + 2 * d2);
	double margin = 0.1 * (hi - lo);
	if (!isfinite(t) || t < lo + margin || t > hi - margin)
		return (a + b) / 2;
	return t;
}

/* Strong Wolfe line search along dir from x (f0, g0 . dir = d0 < 0):
 * Nocedal and Wright, algorithms 3.5 and 3.6, c1 = 1e-4, c2 = 0.9.
 * On return xn, fn, gn hold the accepted point; 0, or -1 when no step
 * satisfies the conditions (the best point found is kept). */
static int line_search(const problem *p, const double *x, double f0, double d0,
		       const double *dir, size_t np, double alpha, double *xn,
		       double *fn, double *gn)
{
	const double c1 = 1e-4, c2 = 0.9;
	double a_prev = 0, f_prev = f0, g_prev = d0;
	double a_lo = 0, f_lo = f0, g_lo = d0, a_hi = 0, f_hi = 0, g_hi = 0;
	int zoom = 0;
	for (int it = 0; it < 60; it++) {
		for (size_t i = 0; i < np; i++)
			xn[i] = x[i] + alpha * dir[i];
		*fn = objective(p, xn, gn);
		double ga = dot(gn, dir, np);
		if (!zoom) {
			if (!isfinite(*fn) || *fn > f0 + c1 * alpha * d0 || (it && *fn >= f_prev)) {
				a_lo = a_prev, f_lo = f_prev, g_lo = g_prev;
				a_hi = alpha, f_hi = *fn, g_hi = ga;
				zoom = 1;
			} else if (fabs(ga) <= -c2 * d0) {
				return 0;
			} else if (ga >= 0) {
				a_lo = alpha, f_lo = *fn, g_lo = ga;
				a_hi = a_prev, f_hi = f_prev, g_hi = g_prev;
				zoom = 1;
			} else {
				a_prev = alpha, f_prev = *fn, g_prev = ga;
				alpha *= 2;
				continue;
			}
		} else {
			if (!isfinite(*fn) || *fn > f0 + c1 * alpha * d0 || *fn >= f_lo) {
				a_hi = alpha, f_hi = *fn, g_hi = ga;
			} else {
				if (fabs(ga) <= -c2 * d0)
					return 0;
				if (ga * (a_hi - a_lo) >= 0)
					a_hi = a_lo, f_hi = f_lo, g_hi = g_lo;
				a_lo = alpha, f_lo = *fn, g_lo = ga;
			}
			if (fabs(a_hi - a_lo) < 1e-16 * fmax(1, fabs(a_lo)))
				break;
		}
		alpha = isfinite(f_hi) ? cubic_min(a_lo, f_lo, g_lo, a_hi, f_hi, g_hi)
				       : (a_lo + a_hi) / 2;
	}
	/* no Wolfe point: settle for the best decrease seen, if any */
	if (a_lo > 0 && f_lo < f0) {
		for (size_t i = 0; i < np; i++)
			xn[i] = x[i] + a_lo * dir[i];
		*fn = objective(p, xn, gn);
		return 0;
	}
	return -1;
}

int pfm_logreg_fit(pfm_logreg *m, const float *xf, const int *y, int n,
		   int d, int k, const pfm_logreg_opts *o, pfm_err *e)
{
	memset(m, 0, sizeof *m);
	if (n < 1 || k < 2 || !(o->C > 0))
		return pfm_errf(e, "logistic regression: nothing to fit");
	int r = k == 2 ? 1 : k, M = 10;
	size_t np = (size_t)r * d + r;
	problem p = {NULL, y, n, d, k, r, 1.0 / o->C, NULL};
	double *x = malloc(sizeof *x * (size_t)n * d);
	double *mem = calloc(np * (6 + 2 * M) + (size_t)n * r + 2 * M, sizeof *mem);
	if (!x || !mem) {
		free(x), free(mem);
		return pfm_errf(e, "out of memory (logistic regression, %d x %d)", n, d);
	}
	for (size_t i = 0; i < (size_t)n * d; i++)
		x[i] = xf[i];
	p.x = x;
	double *th = mem, *g = th + np, *xn = g + np, *gn = xn + np, *dir = gn + np;
	double *q = dir + np, *S = q + np, *Y = S + np * M, *rho = Y + np * M;
	double *al = rho + M;
	p.z = al + M; /* n x r */
	/* binary labels as 0/1 for the single row */
	int *yb = NULL;
	if (r == 1) {
		yb = malloc(sizeof *yb * n);
		if (!yb) {
			free(x), free(mem);
			return pfm_errf(e, "out of memory");
		}
		for (int i = 0; i < n; i++)
			yb[i] = y[i] == 1;
		p.y = yb;
	}
	double f = objective(&p, th, g);
	int iters = 0, stored = 0, head = 0, rc = 0;
	int max_iter = o->max_iter > 0 ? o->max_iter : 1000;
	double tol = o->tol > 0 ? o->tol : 1e-4;
	while (amax(g, np) > tol && iters < max_iter) {
		/* two-loop recursion: dir = -H g */
		memcpy(q, g, sizeof *q * np);
		for (int j = 0; j < stored; j++) {
			int s = (head - 1 - j + M) % M;
			al[s] = rho[s] * dot(S + (size_t)s * np, q, np);
			cblas_daxpy((int)np, -al[s], Y + (size_t)s * np, 1, q, 1);
		}
		double gamma = 1;
		if (stored) {
			int s = (head - 1 + M) % M;
			gamma = dot(S + (size_t)s * np, Y + (size_t)s * np, np) /
				dot(Y + (size_t)s * np, Y + (size_t)s * np, np);
		}
		for (size_t i = 0; i < np; i++)
			q[i] *= gamma;
		for (int j = stored - 1; j >= 0; j--) {
			int s = (head - 1 - j + M) % M;
			double be = rho[s] * dot(Y + (size_t)s * np, q, np);
			cblas_daxpy((int)np, al[s] - be, S + (size_t)s * np, 1, q, 1);
		}
		for (size_t i = 0; i < np; i++)
			dir[i] = -q[i];
		double d0 = dot(g, dir, np);
		if (!(d0 < 0)) { /* not a descent direction: restart */
			for (size_t i = 0; i < np; i++)
				dir[i] = -g[i];
			d0 = dot(g, dir, np);
			stored = 0;
		}
		double alpha = iters || stored ? 1 : fmin(1, 1 / sqrt(dot(g, g, np)));
		double fn;
		if (line_search(&p, th, f, d0, dir, np, alpha, xn, &fn, gn))
			break; /* no progress possible at double precision */
		/* the pair s = xn - x, y = gn - g */
		double *sv = S + (size_t)head * np, *yv = Y + (size_t)head * np;
		for (size_t i = 0; i < np; i++)
			sv[i] = xn[i] - th[i], yv[i] = gn[i] - g[i];
		double sy = dot(sv, yv, np);
		if (sy > 1e-300) {
			rho[head] = 1 / sy;
			head = (head + 1) % M;
			if (stored < M)
				stored++;
		}
		double fold = f;
		memcpy(th, xn, sizeof *th * np);
		memcpy(g, gn, sizeof *g * np);
		f = fn;
		iters++;
		if (!(fold - f > 0))
			break; /* no decrease left at double precision */
	}
	m->d = d, m->k = k, m->rows = r, m->iters = iters, m->f = f, m->gmax = amax(g, np);
	m->w = malloc(sizeof *m->w * (size_t)r * d);
	m->b = malloc(sizeof *m->b * r);
	if (!m->w || !m->b) {
		rc = pfm_errf(e, "out of memory");
		pfm_logreg_free(m);
	} else {
		memcpy(m->w, th, sizeof *m->w * (size_t)r * d);
		memcpy(m->b, th + (size_t)r * d, sizeof *m->b * r);
	}
	free(x), free(mem), free(yb);
	return rc;
}

void pfm_logreg_proba(const pfm_logreg *m, const float *x, int n, double *prob)
{
	int r = m->rows, k = m->k, d = m->d;
	for (int i = 0; i < n; i++) {
		const float *xi = x + (size_t)i * d;
		double *pi = prob + (size_t)i * k;
		double z[256];
		for (int j = 0; j < r; j++) {
			double s = m->b[j];
			const double *w = m->w + (size_t)j * d;
			for (int l = 0; l < d; l++)
				s += w[l] * xi[l];
			z[j] = s;
		}
		if (r == 1) {
			double p1 = z[0] >= 0 ? 1 / (1 + exp(-z[0])) : exp(z[0]) / (1 + exp(z[0]));
			pi[0] = 1 - p1, pi[1] = p1;
		} else {
			double mx = -INFINITY, s = 0;
			for (int j = 0; j < k; j++)
				mx = fmax(mx, z[j]);
			for (int j = 0; j < k; j++)
				s += pi[j] = exp(z[j] - mx);
			for (int j = 0; j < k; j++)
				pi[j] /= s;
		}
	}
}

void pfm_logreg_free(pfm_logreg *m)
{
	free(m->w), free(m->b);
	memset(m, 0, sizeof *m);
}
