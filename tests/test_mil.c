/* test_mil: the ABMIL model of common/mil*.c against plain torch
 * (tests/ref/abmil_ref.py): the same initial weights, bags, order and
 * dropout masks, one epoch of training through pfm_mil_epoch (what
 * mil-train runs), for every head: GPFM's ABMIL, gated and not, eva's
 * (linear projection, gated attention, MLP), mean and max pooling,
 * survival NLL, Adam and AdamW, batches of one and of several bags,
 * dropout on and off, a bag of one instance.
 *
 * Checked, with the tolerances stated:
 *   loss of every bag over the epoch    1e-5 relative (the loss curve)
 *   gradients of the first step         1e-5 of the largest |gradient|
 *                                       of their tensor, + 1e-6 (the
 *                                       attention score bias's gradient
 *                                       is 0 in exact arithmetic: both
 *                                       sides give float noise there)
 *   logits of every bag after the epoch 1e-4 relative to the largest
 *   attention weights after the epoch   1e-4 relative to the largest
 * and, without torch: finite-difference gradients of both losses. The
 * reference also checks that a batch of several bags, as trained here
 * (bag by bag, gradients summed), has the gradients of the same batch
 * padded and masked in one forward, as eva trains it (1e-5 of the
 * largest).
 *
 * bf16 cases (mil-train --precision bf16) against the reference's
 * BF16Linear, which rounds the same operands the same way, so only the
 * fp32 summation order differs. That difference can move a value across
 * a bf16 rounding boundary, and that one operand then differs by 2^-8 of
 * itself (seen in one of these five cases: differences up to 6.4e-5
 * where the others stay near 5e-7; a flip on a dominant term could reach
 * 2^-8). So a bf16 case allows: loss 2e-4 relative, first-step gradients
 * 1e-3 of their tensor's largest + 1e-6, logits and attention 1e-3 of
 * the largest. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* the case table names only the fields it sets */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "gemm.h"
#include "layers.h"
#include "mil.h"

typedef struct {
	const char *name;
	pfm_mil_config c;
	int task, decoupled, batch, nbags, maxn;
	double lr, wd, alpha;
	int has_mask;
	/* results of the C side */
	double *loss;
	float *grad, *param, *logits, *att;
	int n0;
	size_t nparams;
	char case_path[64], out_path[64];
} tcase;

static void put_i32(FILE *f, int v) { fwrite(&v, 4, 1, f); }

/* A bf16 model given its rows already rounded (a bag set stored in bf16,
 * x NULL) against the same model rounding float rows itself: the first
 * batch's gradients, an epoch's losses and the weights after it, bit
 * for bit. m holds the initial weights; r the epoch's generator. */
static void check_rows16(const tcase *t, const pfm_mil *m, const pfm_mil_item *it,
			 const pfm_mil_train_opts *o, pfm_rng r)
{
	pfm_mil mm[2];
	pfm_err e = {0};
	pfm_mil_item *it16 = calloc(t->nbags, sizeof *it16);
	for (int b = 0; b < t->nbags; b++) {
		size_t cnt = (size_t)it[b].n * t->c.d;
		uint16_t *xb = malloc(sizeof *xb * cnt);
		pfm_bf16_round(xb, it[b].x, cnt);
		it16[b] = it[b];
		it16[b].x = NULL;
		it16[b].xb = xb;
	}
	double *loss[2];
	float *g0 = malloc(sizeof *g0 * m->nparams);
	for (int k = 0; k < 2; k++) {
		pfm_rng ri = pfm_rng_seed(1, 1), rk = r;
		const pfm_mil_item *v = k ? it16 : it;
		CHECK(!pfm_mil_init(&mm[k], &t->c, &ri, &e), "%s: init: %s", t->name, e.msg);
		memcpy(mm[k].params, m->params, sizeof *m->params * m->nparams);
		float lg[16], dl[16];
		CHECK(!pfm_mil_forward(&mm[k], v[0].x, v[0].xb, v[0].n, v[0].mask, lg, &e),
		      "%s: rows %d: %s", t->name, k, e.msg);
		pfm_mil_ce(lg, t->c.nout, v[0].y % t->c.nout, 1.0f, dl);
		CHECK(!pfm_mil_backward(&mm[k], v[0].x, dl, &e), "%s: %s", t->name, e.msg);
		if (!k)
			memcpy(g0, mm[0].grads, sizeof *g0 * m->nparams);
		else
			CHECK(!memcmp(g0, mm[1].grads, sizeof *g0 * m->nparams),
			      "%s: gradients from bf16 rows differ from float rows", t->name);
		loss[k] = malloc(sizeof **loss * t->nbags);
		CHECK(!pfm_mil_epoch(&mm[k], v, t->nbags, o, &rk, loss[k], &e),
		      "%s: epoch from %s rows: %s", t->name, k ? "bf16" : "float", e.msg);
	}
	CHECK(!memcmp(loss[0], loss[1], sizeof **loss * t->nbags),
	      "%s: the epoch's losses from bf16 rows differ from float rows", t->name);
	CHECK(!memcmp(mm[0].params, mm[1].params, sizeof *m->params * m->nparams),
	      "%s: the weights after an epoch from bf16 rows differ from float rows", t->name);
	pfm_err ig;
	float lg[16];
	CHECK(pfm_mil_forward(&mm[0], NULL, NULL, it[0].n, NULL, lg, &ig) != 0,
	      "%s: a forward without rows is refused", t->name);
	for (int k = 0; k < 2; k++)
		free(loss[k]), pfm_mil_free(&mm[k]);
	free(g0);
	for (int b = 0; b < t->nbags; b++)
		free((void *)it16[b].xb);
	free(it16);
}

static void run_c(tcase *t, uint64_t seed)
{
	pfm_rng r = pfm_rng_seed(seed, 1);
	pfm_mil m;
	pfm_err e = {0};
	CHECK(!pfm_mil_init(&m, &t->c, &r, &e), "%s: init: %s", t->name, e.msg);
	t->nparams = m.nparams;
	int P = m.P, d = t->c.d;
	/* bags: features N(0,1) shifted on a few instances by class */
	pfm_mil_item *it = calloc(t->nbags, sizeof *it);
	for (int b = 0; b < t->nbags; b++) {
		int n = b == 1 ? 1 : 1 + (int)pfm_rng_below(&r, t->maxn);
		float *x = malloc(sizeof *x * n * d);
		it[b].n = n;
		it[b].y = (int)pfm_rng_below(&r, t->c.nout);
		it[b].censored = t->task == PFM_TASK_SURV && pfm_rng_uniform(&r) < 0.3;
		for (int i = 0; i < n * d; i++)
			x[i] = (float)(pfm_rng_normal(&r) + (i % d == it[b].y ? 0.5 : 0));
		it[b].x = x;
		if (t->has_mask) {
			float *mk = malloc(sizeof *mk * n * P);
			pfm_mil_dropout_mask(mk, (size_t)n * P, t->c.dropout, &r);
			it[b].mask = mk;
		}
	}
	FILE *f = fopen(t->case_path, "wb");
	int hdr[24] = {0x314c494d, d, t->c.proj, t->c.proj_relu, t->c.pool,
		       t->c.attn, t->c.gated, t->c.nmlp, t->c.mlp[0], t->c.mlp[1],
		       t->c.mlp[2], t->c.mlp[3], t->c.nout, t->task, t->decoupled,
		       t->batch, t->nbags, t->has_mask, t->c.bf16};
	fwrite(hdr, 4, 24, f);
	double dh[4] = {t->lr, t->wd, t->alpha, 0};
	fwrite(dh, 8, 4, f);
	fwrite(m.params, 4, m.nparams, f);
	for (int b = 0; b < t->nbags; b++) {
		put_i32(f, it[b].n), put_i32(f, it[b].y), put_i32(f, it[b].censored);
		fwrite(it[b].x, 4, (size_t)it[b].n * d, f);
		if (t->has_mask)
			fwrite(it[b].mask, 4, (size_t)it[b].n * P, f);
	}
	fclose(f);

	/* the first step's gradients: replay the first batch without the step */
	pfm_mil_train_opts o = {t->task, t->alpha, t->batch,
				{.lr = t->lr, .weight_decay = t->wd, .decoupled = t->decoupled}};
	t->grad = malloc(sizeof *t->grad * m.nparams);
	{
		int nb = t->batch < t->nbags ? t->batch : t->nbags;
		float lg[16], dl[16];
		pfm_mil_zero_grad(&m);
		for (int b = 0; b < nb; b++) {
			pfm_mil_forward(&m, it[b].x, NULL, it[b].n, it[b].mask, lg, &e);
			if (t->task == PFM_TASK_CLS)
				pfm_mil_ce(lg, t->c.nout, it[b].y, 1.0f / nb, dl);
			else
				pfm_mil_surv_nll(lg, t->c.nout, it[b].y, it[b].censored, t->alpha, 1.0f / nb, dl);
			CHECK(!pfm_mil_backward(&m, it[b].x, dl, &e), "%s: backward: %s", t->name, e.msg);
		}
		memcpy(t->grad, m.grads, sizeof *t->grad * m.nparams);
	}
	if (pfm_mil_rows16(&t->c))
		check_rows16(t, &m, it, &o, r);
	t->loss = malloc(sizeof *t->loss * t->nbags);
	CHECK(!pfm_mil_epoch(&m, it, t->nbags, &o, &r, t->loss, &e), "%s: epoch: %s", t->name, e.msg);
	t->param = malloc(sizeof *t->param * m.nparams);
	memcpy(t->param, m.params, sizeof *t->param * m.nparams);
	t->logits = malloc(sizeof *t->logits * t->nbags * t->c.nout);
	for (int b = 0; b < t->nbags; b++)
		pfm_mil_forward(&m, it[b].x, NULL, it[b].n, NULL, t->logits + b * t->c.nout, &e);
	pfm_mil_forward(&m, it[0].x, NULL, it[0].n, NULL, t->logits, &e);
	t->n0 = it[0].n;
	if (t->c.pool == PFM_POOL_ATTN) {
		t->att = malloc(sizeof *t->att * t->n0);
		memcpy(t->att, m.att, sizeof *t->att * t->n0);
	}
	for (int b = 0; b < t->nbags; b++) {
		free((void *)it[b].x);
		free((void *)it[b].mask);
	}
	free(it);
	pfm_mil_free(&m);
}

static double max_abs(const float *v, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs(v[i]));
	return m;
}

static void compare(tcase *t)
{
	FILE *f = fopen(t->out_path, "rb");
	CHECK(f != NULL, "%s: no reference output", t->name);
	if (!f)
		return;
	size_t np = t->nparams, nl = (size_t)t->nbags * t->c.nout;
	double *loss = malloc(sizeof *loss * t->nbags);
	float *grad = malloc(4 * np), *param = malloc(4 * np), *logits = malloc(4 * nl);
	float *att = malloc(4 * (t->n0 + 1));
	size_t ok = fread(loss, 8, t->nbags, f) == (size_t)t->nbags &&
		    fread(grad, 4, np, f) == np && fread(param, 4, np, f) == np &&
		    fread(logits, 4, nl, f) == nl;
	if (t->att)
		ok = ok && fread(att, 4, t->n0, f) == (size_t)t->n0;
	fclose(f);
	CHECK(ok, "%s: short reference output", t->name);
	if (!ok)
		return;
	double worst = 0, ltol = t->c.bf16 ? 2e-4 : 1e-5, otol = t->c.bf16 ? 1e-3 : 1e-4;
	for (int b = 0; b < t->nbags; b++) {
		double rel = fabs(t->loss[b] - loss[b]) / fmax(fabs(loss[b]), 1e-30);
		worst = fmax(worst, rel);
		CHECK(rel <= ltol, "%s: loss of bag %d: %.9g, torch %.9g", t->name, b, t->loss[b], loss[b]);
	}
	/* gradients tensor by tensor */
	pfm_mil m;
	pfm_rng r = pfm_rng_seed(0, 0);
	pfm_err e;
	pfm_mil_init(&m, &t->c, &r, &e);
	double gworst = 0;
	size_t off = 0;
	for (int k = 0; k < PFM_MIL_NT; k++) {
		size_t n = m.size[k];
		double scale = max_abs(grad + off, n);
		double gtol = (t->c.bf16 ? 1e-3 : 1e-5) * scale + 1e-6;
		for (size_t i = 0; i < n; i++) {
			double d = fabs(t->grad[off + i] - grad[off + i]);
			if (scale > 1e-6)
				gworst = fmax(gworst, d / scale);
			CHECK(d <= gtol, "%s: gradient of tensor %d [%zu]: %.9g, torch %.9g",
			      t->name, k, i, t->grad[off + i], grad[off + i]);
			if (d > gtol)
				break;
		}
		off += n;
	}
	pfm_mil_free(&m);
	double ls = max_abs(logits, nl), lworst = 0;
	for (size_t i = 0; i < nl; i++) {
		double d = fabs(t->logits[i] - logits[i]);
		lworst = fmax(lworst, d / ls);
		CHECK(d <= otol * ls, "%s: logit %zu after the epoch: %.9g, torch %.9g",
		      t->name, i, t->logits[i], logits[i]);
	}
	if (t->att) {
		double as = max_abs(att, t->n0);
		for (int i = 0; i < t->n0; i++)
			CHECK(fabs(t->att[i] - att[i]) <= otol * as, "%s: attention %d: %.9g, torch %.9g",
			      t->name, i, t->att[i], att[i]);
	}
	printf("%-28s %3d bags: loss %.3g, gradients %.3g, logits %.3g (largest relative differences)\n",
	       t->name, t->nbags, worst, gworst, lworst);
	free(loss), free(grad), free(param), free(logits), free(att);
}

/* Finite differences of the two losses in double around random logits. */
static void loss_gradients(void)
{
	pfm_rng r = pfm_rng_seed(7, 3);
	for (int t = 0; t < 40; t++) {
		int k = 2 + (int)pfm_rng_below(&r, 5), y = (int)pfm_rng_below(&r, k);
		int cen = t % 2;
		float z[8], dz[8];
		for (int j = 0; j < k; j++)
			z[j] = (float)pfm_rng_normal(&r);
		double alpha = t % 3 ? 0.4 : 0;
		if (t < 20)
			pfm_mil_ce(z, k, y, 1, dz);
		else
			pfm_mil_surv_nll(z, k, y, cen, alpha, 1, dz);
		for (int j = 0; j < k; j++) {
			float zp[8], zm[8];
			memcpy(zp, z, sizeof zp), memcpy(zm, z, sizeof zm);
			float h = 1e-2f;
			zp[j] += h, zm[j] -= h;
			double fp = t < 20 ? pfm_mil_ce(zp, k, y, 1, NULL) : pfm_mil_surv_nll(zp, k, y, cen, alpha, 1, NULL);
			double fm = t < 20 ? pfm_mil_ce(zm, k, y, 1, NULL) : pfm_mil_surv_nll(zm, k, y, cen, alpha, 1, NULL);
			double fd = (fp - fm) / (zp[j] - zm[j]);
			CHECK(fabs(fd - dz[j]) < 2e-4, "%s loss: d/dz_%d %.7g, finite difference %.7g",
			      t < 20 ? "ce" : "survival", j, dz[j], fd);
		}
	}
}

/* Dropout masks: zeros at rate p (within 5 standard deviations), the
 * rest exactly 1/(1-p) as torch scales them; the same mask on 1 and 3
 * threads (counter-based draws) and the generator left in the same
 * state; the next mask differs. Counts not divisible by 4 take the
 * tail path. */
static void dropout_masks(void)
{
	const float ps[] = {0.1f, 0.25f, 0.5f};
	const size_t n = 1000003;
	float *a = malloc(sizeof *a * n), *b = malloc(sizeof *b * n);
	for (int q = 0; q < 3; q++) {
		float p = ps[q], keep = 1.0f / (1.0f - p);
		pfm_rng r1 = pfm_rng_seed(7 + q, 3), r3 = r1;
		pfm_gemm_set_threads(1);
		pfm_mil_dropout_mask(a, n, p, &r1);
		pfm_gemm_set_threads(3);
		pfm_mil_dropout_mask(b, n, p, &r3);
		pfm_gemm_set_threads(1);
		CHECK(!memcmp(a, b, sizeof *a * n), "dropout %.2f: the mask depends on the threads", p);
		CHECK(r1.s == r3.s, "dropout %.2f: the generator's state depends on the threads", p);
		size_t zeros = 0, other = 0;
		for (size_t i = 0; i < n; i++) {
			zeros += a[i] == 0.0f;
			other += a[i] != 0.0f && a[i] != keep;
		}
		double rate = (double)zeros / n, sd = sqrt(p * (1 - p) / n);
		CHECK(fabs(rate - p) < 5 * sd, "dropout %.2f: %zu zeros of %zu (rate %.5f)", p,
		      zeros, n, rate);
		CHECK(!other, "dropout %.2f: %zu values neither 0 nor 1/(1-p)", p, other);
		pfm_mil_dropout_mask(b, n, p, &r1);
		CHECK(memcmp(a, b, sizeof *a * n), "dropout %.2f: two masks in a row are equal", p);
		printf("dropout %.2f: %zu of %zu dropped (rate %.5f, expected %.2f +- %.5f)\n", p,
		       zeros, n, rate, p, sd);
	}
	free(a), free(b);
}

int main(void)
{
	const char *py = ".venv/bin/python";
	loss_gradients();
	dropout_masks();
	if (access(py, X_OK)) {
		CHECK(0, "%s missing: run `make deps` first", py);
		return check_done();
	}
#define GPFM(dd, C) {.d = dd, .proj = 32, .proj_relu = 1, .pool = PFM_POOL_ATTN, .attn = 16, .nout = C}
	tcase cases[] = {
		{"gpfm abmil", GPFM(48, 2), PFM_TASK_CLS, 0, 1, 24, 40, 2e-3, 1e-5, 0, 0},
		{"gpfm abmil dropout", {.d = 48, .proj = 32, .proj_relu = 1, .pool = PFM_POOL_ATTN, .attn = 16, .nout = 3, .dropout = 0.25f},
		 PFM_TASK_CLS, 0, 1, 20, 30, 1e-3, 1e-4, 0, 1},
		{"gpfm gated adamw batch 4", {.d = 40, .proj = 24, .proj_relu = 1, .pool = PFM_POOL_ATTN, .attn = 12, .gated = 1, .nout = 4},
		 PFM_TASK_CLS, 1, 4, 22, 50, 2e-3, 1e-2, 0, 0},
		{"eva abmil", {.d = 64, .proj = 24, .pool = PFM_POOL_ATTN, .attn = 24, .gated = 1, .nmlp = 2, .mlp = {24, 12}, .nout = 3, .init = PFM_INIT_TORCH},
		 PFM_TASK_CLS, 1, 3, 20, 60, 1e-3, 1e-3, 0, 0},
		{"mean pooling", {.d = 32, .proj = 16, .proj_relu = 1, .pool = PFM_POOL_MEAN, .nout = 2, .dropout = 0.25f},
		 PFM_TASK_CLS, 0, 1, 16, 30, 2e-3, 0, 0, 1},
		{"max pooling", {.d = 32, .proj = 16, .proj_relu = 1, .pool = PFM_POOL_MAX, .nout = 2},
		 PFM_TASK_CLS, 0, 2, 16, 30, 2e-3, 0, 0, 0},
		{"no projection", {.d = 24, .pool = PFM_POOL_ATTN, .attn = 8, .gated = 1, .nout = 2, .dropout = 0.1f},
		 PFM_TASK_CLS, 0, 1, 12, 20, 2e-3, 0, 0, 1},
		{"survival nll", {.d = 40, .proj = 24, .proj_relu = 1, .pool = PFM_POOL_ATTN, .attn = 12, .gated = 1, .nout = 4},
		 PFM_TASK_SURV, 0, 1, 24, 40, 2e-3, 1e-5, 0.4, 0},
		{"survival nll alpha 0 batch 3", GPFM(40, 4), PFM_TASK_SURV, 1, 3, 21, 40, 1e-3, 1e-4, 0, 0},
		/* --precision bf16: against the reference's BF16Linear */
		{"bf16 gpfm abmil dropout", {.d = 48, .proj = 32, .proj_relu = 1, .pool = PFM_POOL_ATTN, .attn = 16, .nout = 3, .dropout = 0.25f, .bf16 = 1},
		 PFM_TASK_CLS, 0, 1, 20, 90, 1e-3, 1e-4, 0, 1},
		{"bf16 gated adamw batch 4", {.d = 40, .proj = 24, .proj_relu = 1, .pool = PFM_POOL_ATTN, .attn = 12, .gated = 1, .nout = 4, .bf16 = 1},
		 PFM_TASK_CLS, 1, 4, 22, 50, 2e-3, 1e-2, 0, 0},
		{"bf16 eva abmil", {.d = 64, .proj = 24, .pool = PFM_POOL_ATTN, .attn = 24, .gated = 1, .nmlp = 2, .mlp = {24, 12}, .nout = 3, .init = PFM_INIT_TORCH, .bf16 = 1},
		 PFM_TASK_CLS, 1, 3, 20, 60, 1e-3, 1e-3, 0, 0},
		{"bf16 no projection", {.d = 24, .pool = PFM_POOL_ATTN, .attn = 8, .gated = 1, .nout = 2, .dropout = 0.1f, .bf16 = 1},
		 PFM_TASK_CLS, 0, 1, 12, 20, 2e-3, 0, 0, 1},
		{"bf16 survival nll", {.d = 40, .proj = 24, .proj_relu = 1, .pool = PFM_POOL_ATTN, .attn = 12, .gated = 1, .nout = 4, .bf16 = 1},
		 PFM_TASK_SURV, 0, 1, 24, 40, 2e-3, 1e-5, 0.4, 0},
	};
	int nc = sizeof cases / sizeof *cases;
	if (!pfm_gemm_bf16_available()) {
		printf("skip: bf16 cases (no oneDNN, or a CPU without AVX-512)\n");
		while (cases[nc - 1].c.bf16)
			nc--;
	}
	char cmd[8192];
	int w = snprintf(cmd, sizeof cmd, "%s tests/ref/abmil_ref.py", py);
	for (int i = 0; i < nc; i++) {
		snprintf(cases[i].case_path, 64, "/tmp/pfm-mil-%d-%d.case", (int)getpid(), i);
		snprintf(cases[i].out_path, 64, "/tmp/pfm-mil-%d-%d.out", (int)getpid(), i);
		run_c(&cases[i], 100 + i);
		w += snprintf(cmd + w, sizeof cmd - w, " %s %s", cases[i].case_path, cases[i].out_path);
	}
	int rc = system(cmd);
	CHECK(rc == 0, "reference failed (%d): its message is above (or run `make deps`)", rc);
	for (int i = 0; i < nc; i++) {
		compare(&cases[i]);
		unlink(cases[i].case_path);
		unlink(cases[i].out_path);
		free(cases[i].loss), free(cases[i].grad), free(cases[i].param);
		free(cases[i].logits), free(cases[i].att);
	}
	return check_done();
}
