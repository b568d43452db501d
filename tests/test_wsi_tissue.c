/* test_wsi_tissue: tissue masks, grid plans, random draws, PNG. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tiling.h"
#include "tissue.h"

#define CMU "tests/data/CMU-1-Small-Region.svs"
#define BLANK "tests/data/blank.tif"

static void test_otsu(void)
{
	uint64_t h[256] = {0};
	h[10] = 1000;
	h[200] = 500;
	int thr = pfm_otsu(h);
	CHECK(thr >= 10 && thr < 200, "bimodal threshold %d", thr);
	/* Synthetic slide: a saturated disc with a small hole on grey glass
	 * and a speck; the speck goes, the hole is filled. */
	int w = 200, hh = 150;
	uint8_t *rgb = malloc((size_t)w * hh * 3);
	for (int y = 0; y < hh; y++)
		for (int x = 0; x < w; x++) {
			uint8_t *p = rgb + ((size_t)y * w + x) * 3;
			double d = hypot(x - 80, y - 75);
			int tissue = d < 50 && d > 3; /* a 3-pixel hole at the centre */
			int speck = x >= 170 && x < 172 && y >= 20 && y < 22;
			if (tissue || speck) {
				p[0] = 200; p[1] = 80; p[2] = 160;
			} else {
				p[0] = p[1] = p[2] = (uint8_t)(225 + (x * 7 + y * 3) % 9);
			}
		}
	pfm_tissue t = {0};
	pfm_err e = {0};
	CHECK(!pfm_tissue_from_rgb(rgb, w, hh, 8, NULL, &t, &e), "%s", e.msg);
	t.scale = 1;
	CHECK(t.m[75 * w + 80] == 1, "hole filled");
	CHECK(t.m[21 * w + 171] == 0, "speck dropped");
	CHECK(t.m[10 * w + 190] == 0, "glass is background");
	double area = M_PI * 50 * 50;
	CHECK(fabs(t.count - area) < 0.05 * area, "disc area %lld vs %.0f",
	      (long long)t.count, area);
	CHECK(fabs(pfm_tissue_fraction(&t, 70, 65, 20, 20) - 1) < 1e-9, "inside");
	CHECK(pfm_tissue_fraction(&t, 170, 120, 20, 20) == 0, "outside");
	/* Fractions are exact areas: half a mask pixel of tissue. */
	int edge = 1;
	while (edge < w && !(t.m[75 * w + edge] && !t.m[75 * w + edge - 1]))
		edge++;
	double f = pfm_tissue_fraction(&t, edge - 0.5, 75, 1, 1);
	CHECK(f > 0.49 && f < 0.51, "half pixel %g", f);
	pfm_tissue_free(&t);
	free(rgb);
}

static void test_cmu(void)
{
	pfm_err e = {0};
	pfm_slide *s = pfm_slide_open(CMU, NULL, &e);
	pfm_slide_ctx *c = pfm_slide_ctx_new();
	pfm_tissue t;
	CHECK(!pfm_tissue_compute(s, c, NULL, &t, &e), "%s", e.msg);
	double frac = (double)t.count / ((double)t.w * t.h);
	CHECK(frac > 0.2 && frac < 0.6, "CMU tissue fraction %g", frac);
	CHECK(fabs(t.scale * pfm_slide_mpp(s) - 8) < 1e-9, "8-micron mask");
	pfm_read_spec rs;
	pfm_read_spec_init(&rs, s, 0, 224, PFM_LEVEL_TOL, &e);
	pfm_grid g;
	CHECK(!pfm_grid_plan(s, &rs, 0, NULL, 0, &g, &e), "%s", e.msg);
	CHECK(g.cols == 9 && g.rows == 13 && g.n == 117, "full grid %lldx%lld",
	      (long long)g.cols, (long long)g.rows);
	CHECK(g.v[10].x == 224 && g.v[10].y == 224 && g.v[10].index == 10, "order");
	pfm_grid_free(&g);
	CHECK(!pfm_grid_plan(s, &rs, 112, &t, 0.5, &g, &e), "%s", e.msg);
	int ok = g.n > 100;
	for (int64_t i = 0; i < g.n; i++) {
		ok &= g.v[i].tissue >= 0.5 && g.v[i].x + 224 <= 2220 && g.v[i].y + 224 <= 2967;
		if (i)
			ok &= g.v[i].index > g.v[i - 1].index;
	}
	CHECK(ok, "overlapping grid over tissue: %lld tiles", (long long)g.n);
	pfm_grid_free(&g);
	/* Random draws: reproducible, inside, over tissue. */
	pfm_tissue_index ti;
	CHECK(!pfm_tissue_index_init(&ti, &t, &e) && ti.n == t.count, "index");
	pfm_rng r1, r2;
	pfm_rng_seed(&r1, 42);
	pfm_rng_seed(&r2, 42);
	pfm_read_spec_init(&rs, s, 0.998, 224, PFM_LEVEL_TOL, &e);
	int same = 1, good = 1;
	for (int i = 0; i < 200; i++) {
		pfm_tile_pos a, b;
		int fa = pfm_random_pos(s, &rs, &t, &ti, 0.5, &r1, 100, &a);
		int fb = pfm_random_pos(s, &rs, &t, &ti, 0.5, &r2, 100, &b);
		same &= fa == fb && a.x == b.x && a.y == b.y;
		good &= fa && a.x >= 0 && a.y >= 0 && a.x + 448 <= 2220 &&
			a.y + 448 <= 2967 && a.tissue >= 0.5;
	}
	CHECK(same, "same seed, same draws");
	CHECK(good, "draws inside and over tissue");
	pfm_tissue_index_free(&ti);
	/* Thumbnail: a PNG. */
	char path[64];
	snprintf(path, sizeof path, "/tmp/pfm-wsi-thumb-%d.png", (int)getpid());
	double box[4] = {800, 800, 448, 448};
	CHECK(!pfm_tissue_thumbnail(s, c, &t, box, 1, path, &e), "%s", e.msg);
	FILE *f = fopen(path, "rb");
	unsigned char sig[8] = {0};
	CHECK(f && fread(sig, 1, 8, f) == 8 && !memcmp(sig, "\x89PNG\r\n\x1a\n", 8), "PNG");
	if (f)
		fclose(f);
	unlink(path);
	pfm_tissue_free(&t);
	pfm_slide_ctx_free(c);
	pfm_slide_close(s);
}

static void test_blank(void)
{
	pfm_err e = {0};
	pfm_slide *s = pfm_slide_open(BLANK, NULL, &e);
	CHECK(s, "%s", e.msg);
	if (!s)
		return;
	pfm_tissue t;
	CHECK(!pfm_tissue_compute(s, NULL, NULL, &t, &e), "%s", e.msg);
	CHECK(t.count == 0, "blank glass has no tissue: %lld", (long long)t.count);
	pfm_tissue_index ti;
	pfm_tissue_index_init(&ti, &t, &e);
	pfm_rng r;
	pfm_rng_seed(&r, 1);
	pfm_read_spec rs;
	pfm_read_spec_init(&rs, s, 0, 64, PFM_LEVEL_TOL, &e);
	pfm_tile_pos p;
	CHECK(!pfm_random_pos(s, &rs, &t, &ti, 0.5, &r, 10, &p), "no draw");
	pfm_tissue_index_free(&ti);
	pfm_tissue_free(&t);
	pfm_slide_close(s);
}

static void test_rng(void)
{
	pfm_rng r;
	pfm_rng_seed(&r, 0);
	uint64_t first = pfm_rng_next(&r);
	pfm_rng_seed(&r, 0);
	CHECK(pfm_rng_next(&r) == first, "reseed");
	int hist[10] = {0};
	for (int i = 0; i < 10000; i++)
		hist[pfm_rng_below(&r, 10)]++;
	int ok = 1;
	for (int i = 0; i < 10; i++)
		ok &= hist[i] > 850 && hist[i] < 1150;
	CHECK(ok, "uniform below");
}

int main(void)
{
	test_otsu();
	test_cmu();
	test_blank();
	test_rng();
	return check_done();
}
