/* test_metrics: common/metrics*.c against scikit-learn 1.2,
 * scikit-survival 0.21 and pandas (tests/ref/metrics_ref.py) on random
 * inputs with ties: AUC (binary scores, binary and one-vs-rest
 * probabilities), accuracy, balanced accuracy, F1 (macro, weighted),
 * quadratic kappa, Harrell's c-index with its pair counts, the survival
 * bins, and bootstrap intervals replayed draw by draw.
 *
 * Tolerances: 1e-12 relative for every value (all are deterministic;
 * they differ from the references only in summation order); c-index
 * pair counts, bins and the number of valid bootstrap replicates exact.
 * A query the reference refuses (one class, no comparable pair) must be
 * refused here too. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "metrics.h"

#define MAXV 1024

typedef struct {
	char what[96];
	int nv;
	double v[MAXV];
	double rel;
	int err;
} cse;

static cse *cases;
static int ncases, cap;
static FILE *qf;

static uint64_t rng = 0x2545f4914f6cdd1dull;
static double urand(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}
static int irand(int lo, int hi) { return lo + (int)(urand() * (hi - lo + 1)); }
static double round_dec(double x, int d)
{
	char b[64];
	snprintf(b, sizeof b, "%.*f", d, x);
	return strtod(b, NULL);
}

static cse *add(double rel, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static cse *add(double rel, const char *fmt, ...)
{
	if (ncases == cap) {
		cap = cap ? 2 * cap : 256;
		cases = realloc(cases, cap * sizeof *cases);
	}
	cse *c = &cases[ncases++];
	memset(c, 0, sizeof *c);
	c->rel = rel;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->what, sizeof c->what, fmt, ap);
	va_end(ap);
	return c;
}

static void qd(const double *x, int n)
{
	for (int i = 0; i < n; i++)
		fprintf(qf, " %.17g", x[i]);
}
static void qi(const int *x, int n)
{
	for (int i = 0; i < n; i++)
		fprintf(qf, " %d", x[i]);
}

/* Binary scores, rounded to dec decimals (ties), some shifted by class. */
static void aucb_case(int n, int dec, double shift)
{
	int y[400];
	double s[400];
	for (int i = 0; i < n; i++) {
		y[i] = urand() < 0.4;
		s[i] = round_dec(urand() + shift * y[i] - 0.3, dec);
	}
	cse *c = add(1e-12, "aucb n=%d dec=%d", n, dec);
	pfm_err e = {0};
	c->err = pfm_auc_binary(y, s, n, &c->v[0], &e);
	c->nv = 1;
	fprintf(qf, "aucb %d", n);
	qi(y, n);
	qd(s, n);
	fputc('\n', qf);
}

/* Softmax probabilities of random logits, k classes. */
static void auc_case(int n, int k, int dec)
{
	int y[300];
	double p[300 * 8];
	for (int i = 0; i < n; i++) {
		y[i] = irand(0, k - 1);
		double z[8], s = 0;
		for (int j = 0; j < k; j++) {
			z[j] = round_dec(urand() * 2 + (j == y[i]) * urand(), dec);
			s += exp(z[j]);
		}
		for (int j = 0; j < k; j++)
			p[i * k + j] = exp(z[j]) / s;
	}
	cse *c = add(1e-12, "auc n=%d k=%d dec=%d", n, k, dec);
	pfm_err e = {0};
	c->err = pfm_auc_ovr(y, p, n, k, &c->v[0], &e);
	c->nv = 1;
	fprintf(qf, "auc %d %d", n, k);
	qi(y, n);
	qd(p, n * k);
	fputc('\n', qf);
}

static void cls_case(int n, int k, double agree, int kpred)
{
	int y[300], p[300];
	for (int i = 0; i < n; i++) {
		y[i] = irand(0, k - 1);
		p[i] = urand() < agree ? y[i] : irand(0, kpred - 1);
	}
	cse *c = add(1e-12, "cls n=%d k=%d agree=%.2f kpred=%d", n, k, agree, kpred);
	pfm_err e = {0};
	c->v[0] = pfm_accuracy(y, p, n);
	c->v[1] = pfm_balanced_accuracy(y, p, n, k);
	c->v[2] = pfm_f1(y, p, n, k, 0);
	c->v[3] = pfm_f1(y, p, n, k, 1);
	c->err = pfm_kappa_quadratic(y, p, n, k, &c->v[4], &e);
	c->nv = 5;
	fprintf(qf, "cls %d %d", n, k);
	qi(y, n);
	qi(p, n);
	fputc('\n', qf);
}

static void cindex_case(int n, int tdec, int rdec, double pev)
{
	int ev[400];
	double t[400], r[400];
	for (int i = 0; i < n; i++) {
		ev[i] = urand() < pev;
		t[i] = round_dec(urand() * 10, tdec);
		r[i] = round_dec(urand() - 0.05 * t[i], rdec);
	}
	/* values within tied_tol: risk ties that are not exact */
	if (n > 3)
		r[1] = r[0] + 5e-9, r[3] = r[2] - 1e-9;
	pfm_cindex_res res;
	pfm_err e = {0};
	cse *c = add(1e-12, "cindex n=%d tdec=%d rdec=%d pev=%.2f", n, tdec, rdec, pev);
	c->err = pfm_cindex(ev, t, r, n, 1e-8, &res, &e);
	c->v[0] = res.cindex;
	c->v[1] = (double)res.concordant;
	c->v[2] = (double)res.discordant;
	c->v[3] = (double)res.tied_risk;
	c->v[4] = (double)res.tied_time;
	c->nv = 5;
	fprintf(qf, "cindex %d", n);
	qi(ev, n);
	qd(t, n);
	qd(r, n);
	fputc('\n', qf);
}

static void bins_case(int n, int nb, int tdec)
{
	int ev[400], bin[400];
	double t[400], edges[16];
	for (int i = 0; i < n; i++) {
		ev[i] = urand() < 0.6;
		t[i] = round_dec(urand() * 100, tdec);
	}
	pfm_err e = {0};
	cse *c = add(0, "bins n=%d nb=%d tdec=%d", n, nb, tdec);
	c->err = pfm_surv_bins(t, ev, n, nb, 1e-6, edges, bin, &e);
	for (int i = 0; i <= nb; i++)
		c->v[c->nv++] = edges[i];
	for (int i = 0; i < n; i++)
		c->v[c->nv++] = bin[i];
	fprintf(qf, "bins %d %d 1e-06", n, nb);
	qi(ev, n);
	qd(t, n);
	fputc('\n', qf);
}

typedef struct {
	const int *y;
	const double *s;
	int *yb;
	double *sb;
} auc_ctx;

static int auc_fn(void *ctx, const size_t *idx, size_t n, double *v)
{
	auc_ctx *a = ctx;
	for (size_t i = 0; i < n; i++)
		a->yb[i] = a->y[idx[i]], a->sb[i] = a->s[idx[i]];
	return pfm_auc_binary(a->yb, a->sb, n, v, NULL);
}

static void boot_case(int n, int b, uint64_t seed, double level)
{
	int y[200], yb[200];
	double s[200], sb[200];
	for (int i = 0; i < n; i++) {
		y[i] = urand() < 0.3;
		s[i] = round_dec(urand() + 0.3 * y[i], 2);
	}
	auc_ctx a = {y, s, yb, sb};
	pfm_boot_opts o = {b, seed, level};
	int valid = 0;
	pfm_err e = {0};
	cse *c = add(1e-12, "boot n=%d b=%d seed=%llu", n, b, (unsigned long long)seed);
	c->err = pfm_bootstrap_ci(auc_fn, &a, n, &o, &c->v[0], &c->v[1], &valid, &e);
	c->v[2] = valid;
	c->nv = 3;
	fprintf(qf, "boot %d %d %llu %.17g", n, b, (unsigned long long)seed, level);
	qi(y, n);
	qd(s, n);
	fputc('\n', qf);
}

static int close_enough(double c, double r, double rel)
{
	if (c == r)
		return 1;
	return fabs(c - r) <= rel * fabs(r);
}

int main(void)
{
	const char *py = ".venv/bin/python";
	if (access(py, X_OK)) {
		CHECK(0, "%s missing: run `make deps` first", py);
		return check_done();
	}
	char qpath[] = "/tmp/pfm-metrics-XXXXXX";
	int fd = mkstemp(qpath);
	CHECK(fd >= 0, "mkstemp");
	qf = fdopen(fd, "w");

	for (int t = 0; t < 60; t++)
		aucb_case(irand(2, 400), irand(1, 3), urand() * 0.6);
	aucb_case(20, 2, 0);
	for (int t = 0; t < 60; t++) {
		int k = irand(2, 6);
		auc_case(irand(k * 3, 300), k, irand(1, 4));
	}
	auc_case(4, 5, 2); /* classes missing from y: refused */
	for (int t = 0; t < 80; t++) {
		int k = irand(2, 7);
		cls_case(irand(1, 300), k, urand(), t % 4 ? k : irand(1, k));
	}
	cls_case(10, 3, 1.0, 3);
	cls_case(12, 4, 0.0, 1); /* one class predicted */
	for (int t = 0; t < 60; t++)
		cindex_case(irand(2, 400), irand(0, 2), irand(1, 3), 0.2 + 0.7 * urand());
	cindex_case(10, 1, 2, 0.0); /* all censored: refused */
	for (int t = 0; t < 40; t++)
		bins_case(irand(8, 400), irand(2, 6), irand(1, 3));
	bins_case(20, 4, 0); /* tied edges: refused */
	for (int t = 0; t < 6; t++)
		boot_case(irand(10, 200), irand(20, 200), (uint64_t)t * 977 + 1, t % 2 ? 0.9 : 0.95);
	fclose(qf);

	char cmd[512];
	snprintf(cmd, sizeof cmd, "%s tests/ref/metrics_ref.py %s", py, qpath);
	FILE *p = popen(cmd, "r");
	char *buf = NULL;
	size_t bcap = 0;
	int got = 0;
	double maxrel = 0;
	while (p && getline(&buf, &bcap, p) > 0) {
		if (got >= ncases) {
			got++;
			continue;
		}
		cse *c = &cases[got++];
		if (!strncmp(buf, "ERR", 3)) {
			CHECK(c->err, "%s: the reference refused, we did not", c->what);
			continue;
		}
		CHECK(!c->err, "%s: we refused, the reference did not", c->what);
		if (c->err)
			continue;
		char *s = buf, *end;
		int i = 0;
		for (; i < c->nv; i++, s = end) {
			double r = strtod(s, &end);
			if (end == s)
				break;
			if (r != 0 && c->v[i] != r)
				maxrel = fmax(maxrel, fabs(c->v[i] - r) / fabs(r));
			CHECK(close_enough(c->v[i], r, c->rel), "%s: value %d: %.17g, reference %.17g",
			      c->what, i, c->v[i], r);
		}
		CHECK(i == c->nv, "%s: reference gave %d of %d values", c->what, i, c->nv);
	}
	int prc = p ? pclose(p) : -1;
	CHECK(prc == 0, "reference script failed (%d): run `make deps`", prc);
	CHECK(got == ncases, "reference answered %d of %d queries", got, ncases);
	unlink(qpath);
	printf("metrics: %d cases, largest relative difference %.3g\n", ncases, maxrel);

	/* Hand-checked values. */
	int y4[] = {0, 0, 1, 1};
	double s4[] = {0.1, 0.4, 0.35, 0.8}, v;
	pfm_err e = {0};
	CHECK(!pfm_auc_binary(y4, s4, 4, &v, &e) && v == 0.75, "auc 0.75: %g", v);
	double nan4[] = {0.1, NAN, 0.3, 0.4};
	CHECK(pfm_auc_binary(y4, nan4, 4, &v, &e) && strstr(e.msg, "not finite"), "%s", e.msg);
	int ev[] = {1, 0, 1}, y1[] = {1, 1, 1};
	double t3[] = {1, 2, 3}, r3[] = {3, 2, 1};
	pfm_cindex_res cr;
	CHECK(!pfm_cindex(ev, t3, r3, 3, 1e-8, &cr, &e) && cr.cindex == 1, "c-index 1");
	CHECK(pfm_auc_binary(y1, t3, 3, &v, &e) && strstr(e.msg, "one class"), "%s", e.msg);
	free(buf);
	free(cases);
	return check_done();
}
