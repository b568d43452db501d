/* test_probe: the tile-level heads of common/probe*.c against their
 * references (tests/ref/probe_ref.py) on random Gaussian classes:
 *   logistic regression vs scikit-learn 1.2 LogisticRegression(lbfgs),
 *     both asked for max |gradient| <= 1e-10 (each stops earlier, where
 *     double precision no longer resolves a decrease of the summed loss:
 *     |g| ~ 1e-9..1e-7): coefficients and intercepts within 1e-6 of the
 *     largest |coefficient|, probabilities within 1e-6
 *   kNN (uniform vote) vs KNeighborsClassifier(brute): predictions equal,
 *     probabilities within 1e-12; the temperature-weighted vote and
 *     SimpleShot vs numpy: predictions equal, probabilities 1e-12;
 *     retrieval hits equal
 *   the AdamW linear head vs torch (same initial weights, batches in
 *     order): every step's loss within 1e-5 relative, weights after the
 *     last epoch within 1e-4 of the largest. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* the case table names only the fields it sets */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "layers.h"
#include "probe.h"
#include "rng.h"

typedef struct {
	const char *cmd;
	int n, m, d, k, kk, batch, epochs, dec;
	double C, tol, T, lr, wd;
	pfm_probe_set tr, te;
	float *init;
	char path[64], out[64];
} pcase;

static void make_case(pcase *c, uint64_t seed, double sep)
{
	pfm_rng r = pfm_rng_seed(seed, 9);
	int d = c->d, k = c->k;
	double *mu = malloc(sizeof *mu * k * d);
	for (int i = 0; i < k * d; i++)
		mu[i] = sep * pfm_rng_normal(&r) / sqrt(d);
	pfm_probe_set *sets[2] = {&c->tr, &c->te};
	int cnt[2] = {c->n, c->m};
	for (int s = 0; s < 2; s++) {
		pfm_probe_set *p = sets[s];
		p->n = cnt[s], p->d = d;
		p->x = malloc(sizeof *p->x * (size_t)p->n * d);
		p->lab = malloc(sizeof *p->lab * p->n);
		for (int i = 0; i < p->n; i++) {
			p->lab[i] = (int)pfm_rng_below(&r, k);
			if (i < k)
				p->lab[i] = i; /* every class present */
			for (int j = 0; j < d; j++)
				p->x[(size_t)i * d + j] = (float)(mu[p->lab[i] * d + j] + pfm_rng_normal(&r));
		}
	}
	c->init = malloc(sizeof *c->init * (k * d + k));
	pfm_linear_init(c->init, c->init + k * d, d, k, PFM_INIT_TORCH, &r);
	free(mu);
	FILE *f = fopen(c->path, "wb");
	int hi[4] = {c->n, c->m, d, k};
	double hd[5] = {c->C, c->tol, c->T, c->lr, c->wd};
	int hj[4] = {c->kk, c->batch, c->epochs, c->dec};
	fwrite(hi, 4, 4, f), fwrite(hd, 8, 5, f), fwrite(hj, 4, 4, f);
	fwrite(c->tr.x, 4, (size_t)c->n * d, f), fwrite(c->tr.lab, 4, c->n, f);
	fwrite(c->te.x, 4, (size_t)c->m * d, f), fwrite(c->te.lab, 4, c->m, f);
	fwrite(c->init, 4, k * d + k, f);
	fclose(f);
}

static void *slurp(FILE *f, size_t n)
{
	void *p = malloc(n ? n : 1);
	if (fread(p, 1, n, f) != n) {
		free(p);
		return NULL;
	}
	return p;
}

static void check_logreg(pcase *c, FILE *f)
{
	pfm_logreg m;
	pfm_logreg_opts o = {c->C, 100000, c->tol};
	pfm_err e = {0};
	CHECK(!pfm_logreg_fit(&m, c->tr.x, c->tr.lab, c->n, c->d, c->k, &o, &e), "logreg: %s", e.msg);
	int rows = m.rows;
	double *coef = slurp(f, 8 * (size_t)rows * c->d), *b = slurp(f, 8 * rows);
	double *pr = slurp(f, 8 * (size_t)c->m * c->k), *mine = malloc(8 * (size_t)c->m * c->k);
	CHECK(coef && b && pr, "logreg: short reference");
	if (!coef || !b || !pr)
		return;
	pfm_logreg_proba(&m, c->te.x, c->m, mine);
	double cmax = 0, dw = 0, dp = 0;
	for (int i = 0; i < rows * c->d; i++)
		cmax = fmax(cmax, fabs(coef[i]));
	for (int i = 0; i < rows * c->d; i++)
		dw = fmax(dw, fabs(coef[i] - m.w[i]));
	for (int i = 0; i < rows; i++)
		dw = fmax(dw, fabs(b[i] - m.b[i]));
	for (int i = 0; i < c->m * c->k; i++)
		dp = fmax(dp, fabs(pr[i] - mine[i]));
	printf("logreg n=%d d=%d k=%d C=%g: %d iterations, max |g| %.2g; coefficients %.3g of the largest, probabilities %.3g\n",
	       c->n, c->d, c->k, c->C, m.iters, m.gmax, dw / cmax, dp);
	CHECK(dw <= 1e-6 * cmax, "logreg k=%d: coefficients differ by %g (largest %g)", c->k, dw, cmax);
	CHECK(dp <= 1e-6, "logreg k=%d: probabilities differ by %g", c->k, dp);
	free(coef), free(b), free(pr), free(mine);
	pfm_logreg_free(&m);
}

static void check_knn(pcase *c, FILE *f)
{
	int m = c->m, k = c->k;
	int *pred = malloc(4 * m), *hit = malloc(16 * m);
	double *prob = malloc(8 * (size_t)m * k);
	pfm_err e = {0};
	for (int w = 0; w < 2; w++) {
		pfm_knn_opts o = {c->kk, w, c->T};
		CHECK(!pfm_knn(&c->tr, &c->te, k, &o, pred, prob, &e), "knn: %s", e.msg);
		int *rp = slurp(f, 4 * (size_t)m);
		double *rpr = slurp(f, 8 * (size_t)m * k);
		CHECK(rp && rpr, "knn: short reference");
		if (!rp || !rpr)
			return;
		int bad = 0;
		double dp = 0;
		for (int i = 0; i < m; i++)
			bad += rp[i] != pred[i];
		for (int i = 0; i < m * k; i++)
			dp = fmax(dp, fabs(rpr[i] - prob[i]));
		CHECK(!bad, "knn %s k=%d: %d predictions differ", w ? "weighted" : "uniform", c->kk, bad);
		CHECK(dp <= 1e-12, "knn %s k=%d: probabilities differ by %g", w ? "weighted" : "uniform", c->kk, dp);
		free(rp), free(rpr);
	}
	CHECK(!pfm_simpleshot(&c->tr, &c->te, k, pred, &e), "simpleshot: %s", e.msg);
	int *rp = slurp(f, 4 * (size_t)m), bad = 0;
	for (int i = 0; rp && i < m; i++)
		bad += rp[i] != pred[i];
	CHECK(rp && !bad, "simpleshot: %d predictions differ", bad);
	free(rp);
	CHECK(!pfm_retrieval(&c->tr, &c->te, k, hit, &e), "retrieval: %s", e.msg);
	int *rh = slurp(f, 16 * (size_t)m);
	bad = 0;
	for (int i = 0; rh && i < 4 * m; i++)
		bad += rh[i] != hit[i];
	CHECK(rh && !bad, "retrieval: %d hits differ", bad);
	printf("knn k=%d n=%d d=%d classes=%d: uniform, weighted, simpleshot, retrieval equal\n",
	       c->kk, c->n, c->d, k);
	free(rh), free(pred), free(prob), free(hit);
}

static void check_linear(pcase *c, FILE *f)
{
	int steps = (c->n + c->batch - 1) / c->batch * c->epochs;
	size_t np = (size_t)c->k * c->d + c->k;
	double *loss = malloc(8 * steps);
	float *wb = malloc(4 * np);
	pfm_linear_opts o = {.opt = {.lr = c->lr, .weight_decay = c->wd, .decoupled = c->dec},
			     .epochs = c->epochs, .batch = c->batch, .shuffle = 0,
			     .init = c->init, .step_loss = loss};
	pfm_err e = {0};
	CHECK(!pfm_linear_fit(wb, &c->tr, NULL, c->k, &o, &e), "linear: %s", e.msg);
	double *rl = slurp(f, 8 * (size_t)steps);
	float *rw = slurp(f, 4 * np);
	CHECK(rl && rw, "linear: short reference");
	if (!rl || !rw)
		return;
	double worst = 0, wmax = 0, dw = 0;
	for (int s = 0; s < steps; s++)
		worst = fmax(worst, fabs(loss[s] - rl[s]) / fabs(rl[s]));
	for (size_t i = 0; i < np; i++)
		wmax = fmax(wmax, fabs(rw[i])), dw = fmax(dw, fabs(rw[i] - wb[i]));
	printf("linear head %s, %d steps: losses %.3g relative, weights %.3g of the largest\n",
	       c->dec ? "AdamW" : "Adam", steps, worst, dw / wmax);
	CHECK(worst <= 1e-5, "linear: step losses differ by %g relative", worst);
	CHECK(dw <= 1e-4 * wmax, "linear: weights differ by %g", dw);
	free(rl), free(rw), free(loss), free(wb);
}

int main(void)
{
	const char *py = ".venv/bin/python";
	if (access(py, X_OK)) {
		CHECK(0, "%s missing: run `make deps` first", py);
		return check_done();
	}
	pcase cs[] = {
		{"logreg", 300, 80, 16, 2, .C = 1.0, .tol = 1e-10},
		{"logreg", 400, 90, 24, 4, .C = 0.05, .tol = 1e-10},
		{"logreg", 250, 60, 40, 6, .C = 3.84, .tol = 1e-10},
		{"knn", 500, 200, 32, 5, .kk = 20, .T = 0.07},
		{"knn", 120, 60, 8, 3, .kk = 7, .T = 0.5},
		{"knn", 30, 20, 16, 2, .kk = 20, .T = 0.07},
		{"linear", 300, 10, 24, 4, .batch = 64, .epochs = 5, .lr = 1e-2, .wd = 1e-2, .dec = 1},
		{"linear", 200, 10, 16, 3, .batch = 200, .epochs = 8, .lr = 3e-3, .wd = 1e-3, .dec = 0},
	};
	int nc = sizeof cs / sizeof *cs;
	char cmd[4096];
	int w = snprintf(cmd, sizeof cmd, "%s tests/ref/probe_ref.py", py);
	for (int i = 0; i < nc; i++) {
		snprintf(cs[i].path, 64, "/tmp/pfm-probe-%d-%d.case", (int)getpid(), i);
		snprintf(cs[i].out, 64, "/tmp/pfm-probe-%d-%d.out", (int)getpid(), i);
		make_case(&cs[i], 40 + i, cs[i].k > 4 ? 3.0 : 2.0);
		w += snprintf(cmd + w, sizeof cmd - w, " %s %s %s", cs[i].cmd, cs[i].path, cs[i].out);
	}
	int rc = system(cmd);
	CHECK(rc == 0, "reference failed (%d): run `make deps`", rc);
	for (int i = 0; i < nc; i++) {
		FILE *f = fopen(cs[i].out, "rb");
		CHECK(f != NULL, "case %d: no reference output", i);
		if (f) {
			if (!strcmp(cs[i].cmd, "logreg"))
				check_logreg(&cs[i], f);
			else if (!strcmp(cs[i].cmd, "knn"))
				check_knn(&cs[i], f);
			else
				check_linear(&cs[i], f);
			fclose(f);
		}
		unlink(cs[i].path), unlink(cs[i].out);
		pfm_probe_set_free(&cs[i].tr), pfm_probe_set_free(&cs[i].te);
		free(cs[i].init);
	}
	return check_done();
}
