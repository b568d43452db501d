/* test_wsi_fuzz: mutated slides give errors, never crashes (run under
 * ASan by make check-asan). Fixed seeds: the same cases every run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tiling.h"
#include "tissue.h"

static uint8_t *load(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc(*n);
	if (fread(p, 1, *n, f) != *n) {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

/* Mutate, open, read everything asked; count outcomes. */
static void fuzz(const char *src, int rounds, int whole, uint64_t seed,
		 int *opened, int *failed)
{
	size_t n;
	uint8_t *orig = load(src, &n);
	CHECK(orig, "load %s", src);
	if (!orig)
		return;
	uint8_t *buf = malloc(n);
	char path[64];
	snprintf(path, sizeof path, "/tmp/pfm-wsi-fuzz-%d.svs", (int)getpid());
	pfm_rng r;
	pfm_rng_seed(&r, seed);
	pfm_slide_ctx *c = pfm_slide_ctx_new();
	for (int i = 0; i < rounds; i++) {
		memcpy(buf, orig, n);
		size_t len = n;
		int k = 1 + (int)pfm_rng_below(&r, 8);
		for (int j = 0; j < k; j++) {
			size_t at = pfm_rng_below(&r, n);
			switch (pfm_rng_below(&r, 4)) {
			case 0: buf[at] ^= (uint8_t)(1 << pfm_rng_below(&r, 8)); break;
			case 1: buf[at] = (uint8_t)pfm_rng_next(&r); break;
			case 2: buf[at] = pfm_rng_below(&r, 2) ? 0xFF : 0; break;
			default:
				if (pfm_rng_below(&r, 4) == 0)
					len = at; /* truncate */
			}
		}
		FILE *f = fopen(path, "wb");
		fwrite(buf, 1, len, f);
		fclose(f);
		pfm_err e = {0};
		pfm_slide *s = pfm_slide_open(path, NULL, &e);
		if (!s) {
			(*failed)++;
			CHECK(e.msg[0], "round %d: no message", i);
			continue;
		}
		(*opened)++;
		for (int l = 0; l < pfm_slide_level_count(s); l++) {
			int64_t w, h;
			pfm_slide_level_dims(s, l, &w, &h);
			double ds = pfm_slide_level_downsample(s, l);
			int rw = whole && w < 4096 ? (int)w : 300;
			int rh = whole && h < 4096 ? (int)h : 300;
			uint8_t *px = malloc((size_t)rw * rh * 3);
			int64_t x = whole ? 0 : (int64_t)(pfm_rng_below(&r, (uint64_t)w) * ds);
			int64_t y = whole ? 0 : (int64_t)(pfm_rng_below(&r, (uint64_t)h) * ds);
			if (pfm_slide_read(s, c, l, x, y, rw, rh, px, &e))
				CHECK(e.msg[0], "round %d: read error without message", i);
			const uint8_t *jpeg;
			size_t jn;
			pfm_slide_stored_jpeg(s, c, l, 0, 0, 240, 240, &jpeg, &jn, &e);
			free(px);
		}
		if (whole) {
			pfm_tissue t;
			if (!pfm_tissue_compute(s, c, NULL, &t, &e))
				pfm_tissue_free(&t);
		}
		pfm_slide_close(s);
	}
	pfm_slide_ctx_free(c);
	unlink(path);
	free(buf);
	free(orig);
}

int main(void)
{
	int opened = 0, failed = 0;
	fuzz("tests/data/small.svs", 300, 1, 1, &opened, &failed);
	printf("small.svs: %d opened, %d refused\n", opened, failed);
	CHECK(opened > 20 && failed > 20, "both outcomes exercised");
	opened = failed = 0;
	fuzz("tests/data/CMU-1-Small-Region.svs", 40, 0, 2, &opened, &failed);
	fuzz("tests/data/pyramid.tif", 40, 0, 3, &opened, &failed);
	printf("CMU, pyramid: %d opened, %d refused\n", opened, failed);
	return check_done();
}
