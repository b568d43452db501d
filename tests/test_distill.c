/* test_distill: distill-step's heads, losses, schedules and optimizer
 * against plain torch (tests/ref/distill_ref.py), each on random inputs.
 * Tolerance: max|diff| <= 1e-4 max|ref| (values and gradients), unless a
 * check says otherwise. Run from the repository root. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "distill_head.h"
#include "distill_loss.h"
#include "safetensors.h"

static char dir[] = "/tmp/pfm-distill-XXXXXX";

static double rel_err(const float *a, const float *b, size_t n)
{
	double md = 0, mr = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		md = d > md || isnan(d) ? d : md;
		mr = fabs(b[i]) > mr ? fabs(b[i]) : mr;
	}
	return mr > 0 ? md / mr : md;
}

static pfm_st *fixture(const char *name)
{
	char p[256];
	pfm_st *st;
	pfm_err e;
	snprintf(p, sizeof p, "%s/%s.safetensors", dir, name);
	if (pfm_st_open(&st, p, &e)) {
		CHECK(0, "%s", e.msg);
		return NULL;
	}
	return st;
}

/* Tensor `name` as floats (malloc'd; *n its count, shape in dims). */
static float *get(pfm_st *st, const char *name, size_t *n, int64_t *dims)
{
	const pfm_st_tensor *t = pfm_st_find(st, name);
	pfm_err e;
	if (!t) {
		CHECK(0, "no tensor %s", name);
		return calloc(1, sizeof(float));
	}
	float *p = malloc(t->count * sizeof *p);
	pfm_st_read_f32(t, p, &e);
	if (n)
		*n = t->count;
	for (int i = 0; dims && i < t->ndim; i++)
		dims[i] = t->shape[i];
	return p;
}

static void test_head(const char *name, int hidden, int nl)
{
	pfm_st *st = fixture(name);
	if (!st)
		return;
	int64_t xd[2], ld[2];
	float *x = get(st, "x", NULL, xd), *lo = get(st, "logits", NULL, ld);
	float *dl = get(st, "dlogits", NULL, NULL), *dxr = get(st, "dx", NULL, NULL);
	int R = (int)xd[0], in = (int)xd[1], out = (int)ld[1];
	char key[96];
	snprintf(key, sizeof key, "p.last_layer.weight_v");
	int64_t vd[2];
	free(get(st, key, NULL, vd));
	pfm_head h;
	pfm_err e;
	CHECK(!pfm_head_layout(&h, in, out, hidden, (int)vd[1], nl, &e), "%s",
	      e.msg);
	float *p = calloc(h.n, sizeof *p), *g = calloc(h.n, sizeof *g);
	for (int k = 0; k < h.nt; k++) {
		snprintf(key, sizeof key, "p.%s", h.names[k]);
		size_t n;
		float *v = get(st, key, &n, NULL);
		CHECK(n == h.size[k], "%s: %s has %zu values, layout %zu", name,
		      key, n, h.size[k]);
		memcpy(p + h.off[k], v, (n < h.size[k] ? n : h.size[k]) * sizeof *v);
		free(v);
	}
	pfm_head_ws *w = pfm_head_ws_new(&h);
	float *y = malloc((size_t)R * out * sizeof *y);
	float *dx = calloc((size_t)R * in, sizeof *dx);
	CHECK(!pfm_head_forward(&h, w, p, x, R, y, &e), "%s", e.msg);
	double err = rel_err(y, lo, (size_t)R * out), worst = err;
	CHECK(err <= 1e-4, "%s: logits rel err %.3g", name, err);
	CHECK(!pfm_head_backward(&h, w, p, dl, dx, g, &e), "%s", e.msg);
	err = rel_err(dx, dxr, (size_t)R * in);
	worst = err > worst ? err : worst;
	CHECK(err <= 1e-4, "%s: dx rel err %.3g", name, err);
	for (int k = 0; k < h.nt; k++) {
		snprintf(key, sizeof key, "g.%s", h.names[k]);
		float *v = get(st, key, NULL, NULL);
		err = rel_err(g + h.off[k], v, h.size[k]);
		worst = err > worst ? err : worst;
		CHECK(err <= 1e-4, "%s: grad %s rel err %.3g", name, h.names[k],
		      err);
		free(v);
	}
	printf("  %-10s DINOHead(%d layer%s): logits and gradients max rel err "
	       "%.2e\n", name, nl, nl > 1 ? "s" : "", worst);
	pfm_head_ws_free(w);
	free(p), free(g), free(x), free(lo), free(dl), free(dxr), free(y);
	free(dx);
	pfm_st_close(st);
}

static void test_losses(void)
{
	pfm_st *st;
	int64_t d[3];
	size_t n;
	double err;
	/* centering, sharpening, centre EMA */
	if ((st = fixture("center"))) {
		float *x = get(st, "x", &n, d), *c = get(st, "center", NULL, NULL);
		float *p = get(st, "p", NULL, NULL), *cn = get(st, "center_new", NULL, NULL);
		int R = (int)d[0], K = (int)d[1];
		float *o = malloc(n * sizeof *o);
		pfm_softmax_center(o, x, c, 0.04f, R, K);
		err = rel_err(o, p, n);
		CHECK(err <= 1e-4, "softmax_center rel err %.3g", err);
		pfm_center_update(c, x, R, K, 0.9f);
		double e2 = rel_err(c, cn, K);
		CHECK(e2 <= 1e-5, "center update rel err %.3g", e2);
		printf("  centering: softmax %.2e, centre EMA %.2e\n", err, e2);
		free(x), free(c), free(p), free(cn), free(o);
		pfm_st_close(st);
	}
	if ((st = fixture("sinkhorn"))) {
		float *x = get(st, "x", &n, d), *q = get(st, "q", NULL, NULL);
		float *o = malloc(n * sizeof *o);
		double *rows = malloc(d[1] * sizeof *rows);
		pfm_sinkhorn(o, x, 0.05f, (int)d[0], (int)d[1], 3, rows);
		err = rel_err(o, q, n);
		CHECK(err <= 1e-4, "sinkhorn rel err %.3g", err);
		printf("  Sinkhorn-Knopp (3 iterations): %.2e\n", err);
		free(x), free(q), free(o), free(rows);
		pfm_st_close(st);
	}
	if ((st = fixture("xent"))) {
		float *s = get(st, "s", &n, d), *t = get(st, "t", NULL, NULL);
		float *w = get(st, "w", NULL, NULL), *l = get(st, "loss", NULL, NULL);
		float *ds = get(st, "ds", NULL, NULL), *g = calloc(n, sizeof *g);
		double v = pfm_xent(g, s, t, w, 0.1f, (int)d[0], (int)d[1]);
		err = rel_err(g, ds, n);
		double le = fabs(v - l[0]) / fabs(l[0]);
		CHECK(le <= 1e-5 && err <= 1e-4, "xent: loss %.3g, grad %.3g", le,
		      err);
		printf("  cross-entropy (DINO/iBOT): loss %.2e, gradient %.2e\n",
		       le, err);
		free(s), free(t), free(w), free(l), free(ds), free(g);
		pfm_st_close(st);
	}
	if ((st = fixture("koleo"))) {
		float *x = get(st, "x", &n, d), *l = get(st, "loss", NULL, NULL);
		float *dx = get(st, "dx", NULL, NULL), *g = calloc(n, sizeof *g);
		double v = pfm_koleo(g, x, (int)d[0], (int)d[1], 0.1);
		err = rel_err(g, dx, n);
		double le = fabs(v - l[0]) / fabs(l[0]);
		CHECK(le <= 1e-5 && err <= 1e-4, "koleo: loss %.3g, grad %.3g", le,
		      err);
		printf("  KoLeo: loss %.2e, gradient %.2e\n", le, err);
		free(x), free(l), free(dx), free(g);
		pfm_st_close(st);
	}
	if ((st = fixture("cos"))) {
		float *p = get(st, "p", &n, d), *t = get(st, "t", NULL, NULL);
		float *l = get(st, "loss", NULL, NULL), *dp = get(st, "dp", NULL, NULL);
		float *g = calloc(n, sizeof *g);
		double v = pfm_cos_loss(g, p, t, (int)d[0], (int)d[1], 0.7);
		err = rel_err(g, dp, n);
		double le = fabs(v - l[0]) / fabs(l[0]);
		CHECK(le <= 1e-5 && err <= 1e-4, "cos: loss %.3g, grad %.3g", le,
		      err);
		printf("  cosine (expert CLS): loss %.2e, gradient %.2e\n", le, err);
		free(p), free(t), free(l), free(dp), free(g);
		pfm_st_close(st);
	}
	if ((st = fixture("feature"))) {
		/* GPFM FeatureLoss: resize the expert grid, 0.9 cos + 0.1
		 * SmoothL1, weighted 0.25 */
		int64_t td[3];
		float *p = get(st, "p", &n, d), *t = get(st, "t", NULL, td);
		float *tr = get(st, "t_resized", NULL, NULL);
		float *l = get(st, "loss", NULL, NULL), *dp = get(st, "dp", NULL, NULL);
		int B = (int)d[0], N1 = (int)d[1], C = (int)d[2];
		int g1 = (int)lround(sqrt(N1)), g2 = (int)lround(sqrt((double)td[1]));
		float *r = malloc(n * sizeof *r), *g = calloc(n, sizeof *g);
		for (int b = 0; b < B; b++)
			pfm_grid_bicubic(r + (size_t)b * N1 * C,
					 t + (size_t)b * td[1] * C, g2, g2, C, 0, 0,
					 g2, g2, g1, g1, 0);
		double re = rel_err(r, tr, n);
		CHECK(re <= 1e-5, "token grid resize rel err %.3g", re);
		double v = pfm_cos_loss(g, p, r, B * N1, C, 0.25 * 0.9) +
			   pfm_smooth_l1(g, p, r, n, 0.25 * 0.1);
		err = rel_err(g, dp, n);
		double le = fabs(v - l[0]) / fabs(l[0]);
		CHECK(le <= 1e-5 && err <= 1e-4, "feature loss: loss %.3g, grad "
		      "%.3g", le, err);
		printf("  bicubic token-grid resize %.2e; expert patch loss: loss "
		       "%.2e, gradient %.2e\n", re, le, err);
		free(p), free(t), free(tr), free(l), free(dp), free(r), free(g);
		pfm_st_close(st);
	}
	if ((st = fixture("box"))) {
		int64_t gd[3], od[3];
		float *grid = get(st, "grid", NULL, gd), *o = get(st, "out", &n, od);
		float *box = get(st, "box", NULL, NULL);
		float *r = malloc(n * sizeof *r);
		pfm_grid_bicubic(r, grid, (int)gd[0], (int)gd[1], (int)gd[2],
				 box[0], box[1], box[2], box[3], (int)od[0],
				 (int)od[1], 1);
		err = rel_err(r, o, n);
		CHECK(err <= 1e-5, "grid over a flipped box rel err %.3g", err);
		printf("  bicubic grid over a crop box, flipped (vs grid_sample): "
		       "%.2e\n", err);
		free(grid), free(o), free(box), free(r);
		pfm_st_close(st);
	}
}

int main(void)
{
	const char *py = ".venv/bin/python";
	if (access(py, X_OK)) {
		CHECK(0, "%s missing: run `make deps` first", py);
		return check_done();
	}
	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return check_done();
	}
	char cmd[512];
	snprintf(cmd, sizeof cmd, "%s tests/ref/distill_ref.py parts %s", py,
		 dir);
	CHECK(system(cmd) == 0, "%s failed", cmd);
	test_head("head3", 40, 3);
	test_head("head1", 0, 1);
	test_losses();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
	return check_done();
}
