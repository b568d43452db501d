/* vit_math.h: e^x and erf for the ViT's loops, forward (vit_kernels.c)
 * and backward (vit_grad.c) alike, so a recomputed activation equals the
 * forward's. Polynomial, inline and branch-free so loops using them
 * vectorise: exp ~2 ulp (x <= 88.7; below -87.3 gives ~1e-38, not 0,
 * which vanishes against the other terms of softmax and GELU), erf within
 * 1.5e-7 absolute (Abramowitz & Stegun 7.1.26, the formula PyTorch's
 * vectorised CPU erf uses). */
#ifndef PFM_VIT_MATH_H
#define PFM_VIT_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The loops over activations: cloned for AVX-512 and AVX2 (built -O3,
 * see the Makefile) so they vectorise on the CPU at hand. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&       \
	!defined(__SANITIZE_ADDRESS__)
#define PFM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PFM_CLONES
#endif

static inline float pfm_fexpf(float x)
{
	/* NaN must not reach the float -> int conversion (undefined):
	 * compute with 0 and hand NaN back at the end */
	float y = x == x ? x : 0.f;
	y = y < -87.3f ? -87.3f : y > 88.7f ? 88.7f : y;
	float n = floorf(y * 1.44269504088896341f + 0.5f);
	float r = y - n * 0.693145751953125f;
	r = r - n * 1.428606765330187045e-06f;
	float p = 1.f / 720;
	p = p * r + 1.f / 120;
	p = p * r + 1.f / 24;
	p = p * r + 1.f / 6;
	p = p * r + 0.5f;
	p = p * r + 1.f;
	p = p * r + 1.f;
	int32_t bits = ((int32_t)n + 127) << 23;
	float s;
	memcpy(&s, &bits, sizeof s);
	return x == x ? p * s : x;
}

static inline float pfm_ferff(float x)
{
	float ax = fabsf(x);
	float t = 1.f / (1.f + 0.3275911f * ax);
	float y = 1.061405429f;
	y = y * t - 1.453152027f;
	y = y * t + 1.421413741f;
	y = y * t - 0.284496736f;
	y = y * t + 0.254829592f;
	y = 1.f - y * t * pfm_fexpf(-ax * ax);
	return x < 0 ? -y : y;
}

#endif
