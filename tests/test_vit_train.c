/* test_vit_train: the ViT's training forward and backward against torch
 * autograd over timm 1.0.11 blocks (tests/ref/vit_train_ref.py), and
 * against finite differences.
 *
 * Cases: DINOv2-style (LayerScale, position embedding over the class
 * token, DINOv2 resampling) at the stored grid and at a local crop's;
 * registers outside the position embedding with SwiGLU and timm's
 * antialiased resampling; no qkv bias with an upsampled grid. Each with
 * masked patches (mask token) and drop-path scales. Tolerances, on 1 and
 * 2 threads: tokens and every parameter gradient within max|diff| <=
 * 1e-4 max|ref| of the reference. The forward without masks or drop-path
 * equals the inference path (pfm_vit_forward) within 1e-5 (built with
 * oneDNN, inference GEMMs are oneDNN's, training ones OpenBLAS's). Finite
 * differences (central, h = 1e-2, loss accumulated in double) check a
 * few entries of every parameter kind: |fd - grad| <= 3e-3 + 3e-2 |grad|.
 * Run from the repository root. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "torchref.h"
#include "rng.h"
#include "safetensors.h"
#include "vit.h"
#include "vit_train.h"

static char dir[] = "/tmp/pfm-vtrain-XXXXXX";

static const char *const kname[PFM_NVP] = {
	"patch_w", "patch_b", "cls", "reg", "pos", "ln1_w", "ln1_b", "qkv_w",
	"qkv_b", "proj_w", "proj_b", "ls1", "ln2_w", "ln2_b", "fc1_w", "fc1_b",
	"fc2_w", "fc2_b", "ls2", "norm_w", "norm_b"};

typedef struct {
	pfm_vit m, gm;
	pfm_st *in;
	float *images, *mtok, *drop, *dout, *out, *gmask;
	uint8_t *mask;
	int B, S, L;
} fixture;

static int load(fixture *f, const char *name)
{
	char p[256];
	pfm_err e;
	memset(f, 0, sizeof *f);
	snprintf(p, sizeof p, "%s/%s.safetensors", dir, name);
	if (pfm_vit_load(&f->m, p, &e)) {
		CHECK(0, "%s: %s", name, e.msg);
		return -1;
	}
	snprintf(p, sizeof p, "%s/%s.grad.safetensors", dir, name);
	if (pfm_vit_load(&f->gm, p, &e)) {
		CHECK(0, "%s: %s", name, e.msg);
		return -1;
	}
	snprintf(p, sizeof p, "%s/%s.in.safetensors", dir, name);
	if (pfm_st_open(&f->in, p, &e)) {
		CHECK(0, "%s: %s", name, e.msg);
		return -1;
	}
	const pfm_st_tensor *im = pfm_st_find(f->in, "images");
	f->B = (int)im->shape[0];
	f->S = (int)im->shape[2];
	f->L = f->m.cfg.depth;
	size_t nm = 0;
	f->images = f32(f->in, "images", NULL);
	float *mk = f32(f->in, "mask", &nm);
	f->mask = malloc(nm);
	for (size_t i = 0; i < nm; i++)
		f->mask[i] = mk[i] != 0;
	free(mk);
	f->mtok = f32(f->in, "mask_token", NULL);
	f->drop = f32(f->in, "drop", NULL);
	f->dout = f32(f->in, "dout", NULL);
	f->out = f32(f->in, "out", NULL);
	f->gmask = f32(f->in, "grad.mask_token", NULL);
	return 0;
}

static void unload(fixture *f)
{
	pfm_vit_free(&f->m);
	pfm_vit_free(&f->gm);
	pfm_st_close(f->in);
	free(f->images), free(f->mask), free(f->mtok), free(f->drop);
	free(f->dout), free(f->out), free(f->gmask);
}

static double loss_of(pfm_vit_train *t, const fixture *f,
		      const pfm_vit_batch *b)
{
	pfm_err e;
	if (pfm_vit_train_forward(t, b, &e))
		return NAN;
	const float *o = pfm_vit_train_out(t);
	size_t n = (size_t)f->B * pfm_vit_train_tokens(t) * f->m.cfg.dim;
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)o[i] * f->dout[i];
	return s;
}

static void one_case(const char *name, int threads, int fd)
{
	fixture f;
	pfm_err e;
	if (load(&f, name)) {
		unload(&f);
		return;
	}
	const pfm_vit *m = &f.m;
	int D = m->cfg.dim;
	pfm_vit_train *t = pfm_vit_train_new(m, f.B, f.S, 1, threads, &e);
	CHECK(t != NULL, "%s: %s", name, t ? "" : e.msg);
	if (!t) {
		unload(&f);
		return;
	}
	size_t ntok = (size_t)f.B * pfm_vit_train_tokens(t) * D;
	pfm_vit_batch b = {m->params, f.mtok, f.images, f.mask, f.drop, f.B};
	CHECK(!pfm_vit_train_forward(t, &b, &e), "%s: %s", name, e.msg);
	double err = rel_err(pfm_vit_train_out(t), f.out, ntok), worst = 0;
	CHECK(err <= 1e-4, "%s (%d threads): tokens rel err %.3g", name,
	      threads, err);
	float *g = calloc(m->nparams, sizeof *g), dm[1024] = {0};
	CHECK(!pfm_vit_train_backward(t, f.dout, g, dm, &e), "%s: %s", name,
	      e.msg);
	for (int k = 0; k < PFM_NVP; k++) {
		if (!m->size[k])
			continue;
		double r = rel_err(g + m->off[k], f.gm.params + f.gm.off[k],
				   m->size[k]);
		worst = r > worst ? r : worst;
		CHECK(r <= 1e-4, "%s (%d threads): grad %s rel err %.3g", name,
		      threads, kname[k], r);
	}
	double rm = rel_err(dm, f.gmask, D);
	worst = rm > worst ? rm : worst;
	CHECK(rm <= 1e-4, "%s: grad mask_token rel err %.3g", name, rm);
	printf("  %-12s %d thread%s  tokens %.2e  gradients max rel err %.2e\n",
	       name, threads, threads > 1 ? "s" : " ", err, worst);

	/* no masks, no drop-path: the inference path's tokens */
	pfm_vit_batch plain = {m->params, NULL, f.images, NULL, NULL, f.B};
	pfm_vit_run *r = pfm_vit_run_new(m, f.B, f.S, threads, &e);
	pfm_vit_train *t0 = pfm_vit_train_new(m, f.B, f.S, 0, threads, &e);
	CHECK(r && t0, "%s: workspaces: %s", name, e.msg);
	if (r && t0) {
		CHECK(!pfm_vit_forward(r, f.images, f.B, &e), "%s", e.msg);
		CHECK(!pfm_vit_train_forward(t, &plain, &e), "%s", e.msg);
		CHECK(!pfm_vit_train_forward(t0, &plain, &e), "%s", e.msg);
		double a = rel_err(pfm_vit_train_out(t), pfm_vit_tokens(r), ntok);
		double c = rel_err(pfm_vit_train_out(t0), pfm_vit_tokens(r), ntok);
		CHECK(a <= 1e-5 && c <= 1e-5, "%s: training forward vs "
		      "inference %.3g (keep) %.3g (forward only)", name, a, c);
	}
	pfm_vit_run_free(r);
	pfm_vit_train_free(t0);

	if (fd) {
		/* finite differences on a few entries of every tensor */
		pfm_rng rng = pfm_rng_seed(7, 1);
		int bad = 0, n = 0;
		double h = 1e-2;
		for (int k = 0; k <= PFM_NVP; k++) {
			float *base = k < PFM_NVP ? m->params + m->off[k] : f.mtok;
			float *an = k < PFM_NVP ? g + m->off[k] : dm;
			size_t sz = k < PFM_NVP ? m->size[k] : (size_t)D;
			for (int rep = 0; sz && rep < 3; rep++) {
				size_t i = pfm_rng_below(&rng, sz);
				float keep = base[i];
				base[i] = keep + (float)h;
				double lp = loss_of(t, &f, &b);
				base[i] = keep - (float)h;
				double lm = loss_of(t, &f, &b);
				base[i] = keep;
				double num = (lp - lm) / (2 * h);
				n++;
				if (!(fabs(num - an[i]) <= 3e-3 + 3e-2 * fabs(an[i]))) {
					bad++;
					CHECK(0, "%s: finite difference %s[%zu]: %.6g, "
					      "backward %.6g", name,
					      k < PFM_NVP ? kname[k] : "mask_token",
					      i, num, an[i]);
				}
			}
		}
		CHECK(bad == 0, "%s: %d of %d finite differences off", name,
		      bad, n);
		printf("  %-12s finite differences: %d entries over every "
		       "parameter kind, %d off\n", name, n, bad);
	}
	free(g);
	pfm_vit_train_free(t);
	unload(&f);
}

int main(void)
{
	static const char *const cases[] = {"dino-global", "dino-local",
					    "reg-swiglu", "plain-up"};
	if (torchref_run(dir, "vit_train_ref.py", ""))
		return check_done();
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		for (int t = 1; t <= 2; t++)
			one_case(cases[i], t, t == 1);

	/* errors */
	fixture f;
	pfm_err e;
	if (!load(&f, "dino-global")) {
		CHECK(!pfm_vit_train_new(&f.m, 2, 36, 1, 1, &e) &&
		      strstr(e.msg, "multiple of the patch"), "%s", e.msg);
		pfm_vit_train *t = pfm_vit_train_new(&f.m, 2, 32, 0, 1, &e);
		float g[1];
		pfm_vit_batch b = {f.m.params, NULL, f.images, NULL, NULL, 3};
		CHECK(t && pfm_vit_train_forward(t, &b, &e) == -1 &&
		      strstr(e.msg, "batch of 3"), "%s", e.msg);
		CHECK(t && pfm_vit_train_backward(t, f.dout, g, NULL, &e) == -1,
		      "backward of a forward-only workspace");
		pfm_vit_train_free(t);
	}
	unload(&f);
	torchref_clean(dir);
	return check_done();
}
