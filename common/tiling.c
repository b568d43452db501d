#include "tiling.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int pfm_read_spec_init(pfm_read_spec *r, const pfm_slide *s, double mpp,
		       int size, double tol, pfm_err *e)
{
	double base = pfm_slide_mpp(s);
	if (!(mpp > 0))
		mpp = base;
	r->mpp = mpp;
	r->f = mpp / base;
	r->size = size;
	r->foot = size * r->f;
	r->level = pfm_slide_best_level(s, r->f, tol);
	r->ds = pfm_slide_level_downsample(s, r->level);
	double src = size * r->f / r->ds;
	/* Within the tolerance the level is the target: no resampling. */
	r->src = fabs(src - size) <= size * tol ? size : (int)lround(src);
	if (r->src < 1)
		r->src = 1;
	if (r->src > 16384)
		return pfm_errf(e, "%s: a %d-pixel tile at %g mpp needs a %d-pixel "
				"read of level %d", pfm_slide_path(s), size, mpp,
				r->src, r->level);
	return 0;
}

void pfm_grid_free(pfm_grid *g)
{
	free(g->v);
	memset(g, 0, sizeof *g);
}

int pfm_grid_plan(const pfm_slide *s, const pfm_read_spec *r, int stride,
		  const pfm_tissue *t, double min_tissue, pfm_grid *g,
		  pfm_err *e)
{
	memset(g, 0, sizeof *g);
	int64_t w0, h0;
	pfm_slide_level_dims(s, 0, &w0, &h0);
	double step = (stride > 0 ? stride : r->size) * r->f;
	double foot = ceil(r->foot - 1e-9);
	if (w0 >= foot && h0 >= foot) {
		g->cols = (int64_t)floor((w0 - foot) / step + 1e-9) + 1;
		g->rows = (int64_t)floor((h0 - foot) / step + 1e-9) + 1;
	}
	for (int64_t j = 0; j < g->rows; j++) {
		for (int64_t i = 0; i < g->cols; i++) {
			int64_t x = llround(i * step), y = llround(j * step);
			double f = t ? pfm_tissue_fraction(t, x, y, r->foot, r->foot) : 1;
			if (f < min_tissue)
				continue;
			if (g->n == g->cap) {
				int64_t cap = g->cap ? 2 * g->cap : 1024;
				pfm_tile_pos *v = realloc(g->v, cap * sizeof *v);
				if (!v) {
					pfm_grid_free(g);
					return pfm_errf(e, "out of memory");
				}
				g->v = v;
				g->cap = cap;
			}
			g->v[g->n++] = (pfm_tile_pos){x, y, j * g->cols + i, (float)f};
		}
	}
	return 0;
}

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void pfm_rng_seed(pfm_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t pfm_rng_next(pfm_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double pfm_rng_unit(pfm_rng *r) { return (pfm_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t pfm_rng_below(pfm_rng *r, uint64_t n)
{
	/* Rejection keeps it unbiased. */
	uint64_t lim = -n % n, v;
	while ((v = pfm_rng_next(r)) < lim)
		;
	return v % n;
}

int pfm_tissue_index_init(pfm_tissue_index *ti, const pfm_tissue *t,
			  pfm_err *e)
{
	ti->n = 0;
	ti->px = malloc((t->count ? t->count : 1) * sizeof *ti->px);
	if (!ti->px)
		return pfm_errf(e, "out of memory");
	for (int64_t i = 0; i < (int64_t)t->w * t->h; i++)
		if (t->m[i])
			ti->px[ti->n++] = (int32_t)i;
	return 0;
}

void pfm_tissue_index_free(pfm_tissue_index *ti)
{
	free(ti->px);
	ti->px = NULL;
	ti->n = 0;
}

int pfm_random_pos(const pfm_slide *s, const pfm_read_spec *r,
		   const pfm_tissue *t, const pfm_tissue_index *ti,
		   double min_tissue, pfm_rng *rng, int tries,
		   pfm_tile_pos *out)
{
	int64_t w0, h0;
	pfm_slide_level_dims(s, 0, &w0, &h0);
	double foot = ceil(r->foot - 1e-9);
	if (!ti->n || w0 < foot || h0 < foot)
		return 0;
	for (int k = 0; k < tries; k++) {
		int32_t p = ti->px[pfm_rng_below(rng, (uint64_t)ti->n)];
		double cx = (p % t->w + pfm_rng_unit(rng)) * t->scale;
		double cy = (p / t->w + pfm_rng_unit(rng)) * t->scale;
		double x = fmin(fmax(cx - r->foot / 2, 0), w0 - foot);
		double y = fmin(fmax(cy - r->foot / 2, 0), h0 - foot);
		out->x = (int64_t)floor(x);
		out->y = (int64_t)floor(y);
		double f = pfm_tissue_fraction(t, out->x, out->y, r->foot, r->foot);
		if (f >= min_tissue) {
			out->tissue = (float)f;
			out->index = -1;
			return 1;
		}
	}
	return 0;
}
