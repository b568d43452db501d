/* fuzz_model.c: libFuzzer target for model loading (common/vit_load.c,
 * vit_config.c) and the forward pass over whatever a hostile file makes
 * it build.
 *
 * The input is opened as a safetensors file; when that works the ViT is
 * built from it with its __metadata__ configuration. Every failure must
 * say why. A model that loads must have a consistent parameter layout,
 * and (when small) runs one 2x2-patch image through every output kind
 * it has: no crash, no leak, no sanitizer report.
 *
 * tests/test_fuzz_replay.c #includes this file to replay the corpus
 * (tests/fuzz/corpus/model, made by tests/fuzz/make_model_corpus.py) in
 * `make check`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "vit.h"

#ifndef FUZZ_FAIL
#define FUZZ_FAIL(...)                                                        \
	do {                                                                  \
		fprintf(stderr, "fuzz_model: " __VA_ARGS__);                  \
		fputc('\n', stderr);                                          \
		abort();                                                      \
	} while (0)
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run_small(const pfm_vit *m, const uint8_t *data, size_t size)
{
	const pfm_vit_config *c = &m->cfg;
	if (m->nparams > (1u << 20) || c->dim > 256 || c->hidden > 1024)
		return;
	int img = 2 * c->patch;
	pfm_err e;
	pfm_vit_run *r = pfm_vit_run_new(m, 1, img, 1, &e);
	if (!r) {
		if (!e.msg[0])
			FUZZ_FAIL("run_new failed without a message");
		return;
	}
	size_t n = 3 * (size_t)img * img;
	float *x = malloc(n * sizeof *x);
	float *out = malloc(4 * (size_t)c->dim * sizeof *out + 4096);
	for (size_t i = 0; x && i < n; i++)
		x[i] = size ? (data[i % size] - 128) / 64.f : 0.5f;
	if (x && out && !pfm_vit_forward(r, x, 1, &e))
		for (int k = 0; k < PFM_NOUT; k++)
			if (pfm_vit_out_dim(c, k) &&
			    pfm_vit_out_dim(c, k) <= 4 * c->dim + 1024 &&
			    pfm_vit_output(r, k, out, &e) && !e.msg[0])
				FUZZ_FAIL("output failed without a message");
	free(x);
	free(out);
	pfm_vit_run_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pfm_st *st;
	pfm_err e = {0};
	if (pfm_st_open_mem(&st, data, size, "fuzz", &e))
		return 0;
	pfm_vit m;
	e.msg[0] = 0;
	if (pfm_vit_from_st(&m, st, NULL, "fuzz", &e)) {
		if (!e.msg[0])
			FUZZ_FAIL("load failed without a message");
		pfm_st_close(st);
		return 0;
	}
	size_t sum = 0;
	for (int k = 0; k < PFM_NVP; k++) {
		if (m.off[k] != sum)
			FUZZ_FAIL("tensor %d at %zu, expected %zu", k, m.off[k],
				  sum);
		sum += m.size[k];
	}
	if (sum != m.nparams)
		FUZZ_FAIL("%zu parameters, tensors hold %zu", m.nparams, sum);
	if (pfm_vit_config_check(&m.cfg, &e))
		FUZZ_FAIL("loaded a model whose config fails: %s", e.msg);
	run_small(&m, data, size);
	pfm_vit_free(&m);
	pfm_st_close(st);
	return 0;
}
