/* test_vit: the ViT engine against PyTorch (timm 1.0.11, open_clip).
 *
 * tests/ref/vit_ref.py builds small random ViTs in every naming scheme
 * and their fp32 outputs for random inputs; each must match here within
 * max|diff| <= 1e-4 * max|ref| for every output kind and the tokens, on
 * 1 and 2 threads. Then strict loading: a missing, unexpected or
 * misshapen tensor, and a configuration that contradicts the tensors,
 * are errors naming what is wrong. Run from the repository root. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "torchref.h"
#include "safetensors.h"
#include "vit.h"
#include "vit_bf16.h"

static char dir[] = "/tmp/pfm-vit-XXXXXX";

/* bf16: the linear layers in bf16 (oneDNN), held to BF16_TOL. */
#define BF16_TOL 2e-2

static void one_case(const char *name, int threads, int bf16)
{
	char mp[256], rp[256];
	snprintf(mp, sizeof mp, "%s/%s.safetensors", dir, name);
	snprintf(rp, sizeof rp, "%s/%s.ref.safetensors", dir, name);
	pfm_vit m;
	pfm_err e;
	pfm_st *ref = NULL;
	if (pfm_vit_load(&m, mp, &e)) {
		CHECK(0, "%s: load: %s", name, e.msg);
		return;
	}
	if (pfm_st_open(&ref, rp, &e)) {
		CHECK(0, "%s: %s", name, e.msg);
		pfm_vit_free(&m);
		return;
	}
	const pfm_st_tensor *im = pfm_st_find(ref, "images");
	int B = (int)im->shape[0], S = (int)im->shape[2];
	float *x = tensor_f32(im);
	pfm_vit_run *r = pfm_vit_run_new(&m, B, S, threads, &e);
	CHECK(r != NULL, "%s: run: %s", name, r ? "" : e.msg);
	if (!r)
		goto out;
	double tol = bf16 ? BF16_TOL : 1e-4;
	if (bf16 && pfm_vit_run_bf16(r, &e)) {
		CHECK(0, "%s: bf16: %s", name, e.msg);
		goto out;
	}
	CHECK(!pfm_vit_forward(r, x, B, &e), "%s: forward: %s", name, e.msg);
	const pfm_st_tensor *tt = pfm_st_find(ref, "tokens");
	float *tok = tensor_f32(tt);
	CHECK(tt->count == (size_t)B * pfm_vit_run_tokens(r) * m.cfg.dim,
	      "%s: %zu reference tokens", name, tt->count);
	double err = rel_err(pfm_vit_tokens(r), tok, tt->count);
	CHECK(err <= tol, "%s (%d threads%s): tokens rel err %.3g", name,
	      threads, bf16 ? ", bf16" : "", err);
	double worst = err;
	free(tok);
	for (int k = 0; k < PFM_NOUT; k++) {
		char key[32];
		snprintf(key, sizeof key, "out.%s", pfm_vit_out_name(k));
		const pfm_st_tensor *t = pfm_st_find(ref, key);
		int od = pfm_vit_out_dim(&m.cfg, k);
		if (!t) {
			CHECK((k != PFM_OUT_POOLED && k != PFM_OUT_PROJ) || !od,
			      "%s: no reference for %s", name, key);
			continue;
		}
		CHECK(t->count == (size_t)B * od, "%s: %s has %zu values, "
		      "we make %d x %d", name, key, t->count, B, od);
		if (t->count != (size_t)B * od)
			continue;
		float *want = tensor_f32(t), *got = malloc(t->count * sizeof *got);
		CHECK(!pfm_vit_output(r, k, got, &e), "%s: output %s: %s", name,
		      key, e.msg);
		err = rel_err(got, want, t->count);
		worst = err > worst ? err : worst;
		CHECK(err <= tol, "%s (%d threads%s): %s rel err %.3g", name,
		      threads, bf16 ? ", bf16" : "", key, err);
		free(want);
		free(got);
	}
	printf("  %-16s %-14s %d thread%s %s max rel err %.2e\n", name,
	       pfm_vit_scheme_name(m.cfg.scheme), threads,
	       threads > 1 ? "s" : " ", bf16 ? "bf16" : "fp32", worst);
out:
	pfm_vit_run_free(r);
	free(x);
	pfm_st_close(ref);
	pfm_vit_free(&m);
}

/* Rewrite model `src` without tensor `drop`, with tensor `extra` added
 * (a copy of the first tensor), or with tensor `bad` given another
 * shape, or with another config; then expect an error mentioning want. */
static void broken(const char *src, const char *drop, const char *extra,
		   const char *bad, const char *config, const char *want)
{
	char sp[256], dp[256];
	snprintf(sp, sizeof sp, "%s/%s.safetensors", dir, src);
	snprintf(dp, sizeof dp, "%s/broken.safetensors", dir);
	pfm_st *st;
	pfm_err e;
	if (pfm_st_open(&st, sp, &e)) {
		CHECK(0, "%s", e.msg);
		return;
	}
	size_t n = pfm_st_count(st), k = 0;
	pfm_st_tensor *ts = calloc(n + 1, sizeof *ts);
	for (size_t i = 0; i < n; i++) {
		const pfm_st_tensor *t = pfm_st_at(st, i);
		if (drop && !strcmp(t->name, drop))
			continue;
		ts[k] = *t;
		if (bad && !strcmp(t->name, bad)) { /* [a, b] -> [b, a] */
			ts[k].shape[0] = t->shape[1];
			ts[k].shape[1] = t->shape[0];
		}
		k++;
	}
	if (extra) {
		ts[k] = *pfm_st_at(st, 0);
		ts[k++].name = extra;
	}
	const char *kv[2] = {"pathfm", config ? config
					      : pfm_st_meta(st, "pathfm")};
	CHECK(!pfm_st_save(dp, ts, k, kv, config && !*config ? 0 : 1, &e),
	      "save: %s", e.msg);
	pfm_vit m;
	int rc = pfm_vit_load(&m, dp, &e);
	CHECK(rc == -1 && strstr(e.msg, want), "want an error with \"%s\", "
	      "got %d: %s", want, rc, rc ? e.msg : "");
	if (!rc)
		pfm_vit_free(&m);
	free(ts);
	pfm_st_close(st);
}

/* A NaN in one weight: refused at load, naming the tensor. */
static void nan_weight(void)
{
	char sp[256], dp[256];
	snprintf(sp, sizeof sp, "%s/vits16.safetensors", dir);
	snprintf(dp, sizeof dp, "%s/nan.safetensors", dir);
	pfm_st *st;
	pfm_err e;
	if (pfm_st_open(&st, sp, &e)) {
		CHECK(0, "%s", e.msg);
		return;
	}
	size_t n = pfm_st_count(st);
	pfm_st_tensor *ts = calloc(n, sizeof *ts);
	float *bad = NULL;
	for (size_t i = 0; i < n; i++) {
		ts[i] = *pfm_st_at(st, i);
		if (!strcmp(ts[i].name, "blocks.1.norm2.bias")) {
			bad = malloc(ts[i].nbytes);
			memcpy(bad, ts[i].data, ts[i].nbytes);
			bad[7] = NAN;
			ts[i].data = bad;
		}
	}
	const char *kv[2] = {"pathfm", pfm_st_meta(st, "pathfm")};
	CHECK(!pfm_st_save(dp, ts, n, kv, 1, &e), "save: %s", e.msg);
	pfm_vit m;
	int rc = pfm_vit_load(&m, dp, &e);
	CHECK(rc == -1 && strstr(e.msg, "tensor \"blocks.1.norm2.bias\" "
				 "holds NaN at element 7"),
	      "NaN weight: %d %s", rc, rc ? e.msg : "");
	if (!rc)
		pfm_vit_free(&m);
	free(bad);
	free(ts);
	pfm_st_close(st);
}

int main(void)
{
	static const char *const cases[] = {
		"vits16", "vits16-160", "vits16-f16", "vits16-bf16", "timm-reg", "timm-reg-126",
		"dinov2-reg", "dinov2-reg-126", "swiglu", "hf-vit",
		"hf-dinov2", "coca", "coca-packed"};
	if (torchref_run(dir, "vit_ref.py", ""))
		return check_done();
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		for (int t = 1; t <= 2; t++)
			one_case(cases[i], t, 0);
	if (pfm_bf16_available())
		for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
			one_case(cases[i], 2, 1);
	else
		printf("bf16: skipped (built without oneDNN)\n");

	broken("vits16", "blocks.1.attn.proj.bias", NULL, NULL, NULL,
	       "missing tensor \"blocks.1.attn.proj.bias\"");
	broken("vits16", NULL, "blocks.0.attn.extra", NULL, NULL,
	       "unexpected tensor \"blocks.0.attn.extra\"");
	broken("vits16", NULL, NULL, "blocks.2.mlp.fc1.weight", NULL,
	       "\"blocks.2.mlp.fc1.weight\" has shape [384, 1536]");
	broken("vits16", NULL, NULL, NULL, "{\"num_heads\": 6, \"depth\": 4}",
	       "says depth 4, the tensors 3");
	broken("vits16", NULL, NULL, NULL, "{\"num_heads\": 5}",
	       "5 heads do not divide width 384");
	broken("vits16", NULL, NULL, NULL, "{\"num_heads\": 6, \"nmu\": 1}",
	       "unknown configuration key \"nmu\"");
	broken("vits16", NULL, NULL, NULL, "{\"depth\": 3}",
	       "lacks \"num_heads\"");
	broken("vits16", NULL, NULL, NULL, "", "no configuration");
	broken("vits16", NULL, NULL, NULL, "{\"num_heads\": 6,",
	       "configuration");
	broken("coca", "ln_contrast.bias", NULL, NULL, NULL,
	       "missing tensor \"ln_contrast.bias\"");
	nan_weight();
	pfm_vit m;
	pfm_err e;
	CHECK(pfm_vit_load(&m, "/nonexistent.safetensors", &e) == -1 &&
	      strstr(e.msg, "/nonexistent.safetensors"), "missing file: %s",
	      e.msg);

	torchref_clean(dir);
	return check_done();
}
