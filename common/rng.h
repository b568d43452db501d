/* rng.h: the seeded generator of the trainers (mil-train, probe, and
 * distill-step later): splitmix64 (Steele et al. 2014), one 64-bit state,
 * so that a run is reproducible from --seed alone. Streams for separate
 * uses (initial weights, data order, dropout) are seeded apart with
 * pfm_rng_seed(seed, stream). */
#ifndef PFM_RNG_H
#define PFM_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct {
	uint64_t s;
} pfm_rng;

static inline uint64_t pfm_rng_u64(pfm_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A state for stream `stream` of `seed`. */
static inline pfm_rng pfm_rng_seed(uint64_t seed, uint64_t stream)
{
	pfm_rng r = {seed ^ (stream * 0xd1b54a32d192ed03ull)};
	pfm_rng_u64(&r);
	return r;
}

/* Uniform in [0, 1): 53 random bits. */
static inline double pfm_rng_uniform(pfm_rng *r)
{
	return (double)(pfm_rng_u64(r) >> 11) * 0x1p-53;
}

/* Uniform integer in [0, n), n >= 1 (Lemire's multiply; bias < n/2^64). */
static inline uint64_t pfm_rng_below(pfm_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)pfm_rng_u64(r) * n) >> 64);
}

/* Standard normal (Box-Muller; one value a call). */
static inline double pfm_rng_normal(pfm_rng *r)
{
	double u = 1.0 - pfm_rng_uniform(r), v = pfm_rng_uniform(r);
	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Shuffle idx[0..n) (Fisher-Yates). */
static inline void pfm_rng_shuffle(pfm_rng *r, int *idx, int n)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)pfm_rng_below(r, (uint64_t)i + 1);
		int t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
	}
}

#endif
