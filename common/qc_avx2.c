/* qc_avx2.c: the tile QC kernels with AVX2, 32 pixels a step on bytes
 * (16-bit lanes where products need them), with no table lookups: the
 * HSV tests become integer comparisons (qc_kernel.h, pfm_qc_stest) and
 * the rare pixels they cannot settle are looked up one by one. The same
 * integers as qc_pixel.c: tests/test_qc.c checks every 24-bit colour.
 * Built for any x86-64 target (function attributes), used only where
 * the CPU has AVX2. */
#include "qc_kernel.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "qc.h"

#define AVX2 __attribute__((target("avx2")))

AVX2 static inline __m256i vec(const pfm_qc_kparams *k, int row)
{
	return _mm256_loadu_si256((const __m256i *)k->vec[row]);
}

/* Pixels matching one of n triples; rule per channel: lo (channel >=
 * threshold: the saturated difference threshold - channel is 0) or hi
 * (channel <= threshold: channel - threshold is 0). */
#define INK(name, RS, GS, BS)                                                \
	AVX2 static inline __m256i name(const pfm_qc_kparams *k, int row,    \
					int n, __m256i r, __m256i g,         \
					__m256i b)                           \
	{                                                                    \
		__m256i acc = _mm256_set1_epi8(-1);                          \
		for (int i = 0; i < n; i++, row += 3) {                      \
			__m256i m = _mm256_or_si256(                         \
				_mm256_or_si256(RS(r, vec(k, row)),          \
						GS(g, vec(k, row + 1))),     \
				BS(b, vec(k, row + 2)));                     \
			acc = _mm256_min_epu8(acc, m);                       \
		}                                                            \
		return _mm256_cmpeq_epi8(acc, _mm256_setzero_si256());      \
	}
#define GE(x, t) _mm256_subs_epu8(t, x) /* 0 iff x >= t */
#define LE(x, t) _mm256_subs_epu8(x, t) /* 0 iff x <= t */
INK(red_ink, GE, LE, LE)
INK(green_ink, LE, GE, GE)
INK(blue_ink, LE, LE, GE)

AVX2 static inline int64_t hsum(__m256i v)
{
	int32_t a[8];
	_mm256_storeu_si256((__m256i *)a, v);
	int64_t s = 0;
	for (int i = 0; i < 8; i++)
		s += a[i];
	return s;
}

AVX2 static inline __m256i ge8(__m256i x, int t) /* x >= t, bytes */
{
	return _mm256_cmpeq_epi8(_mm256_max_epu8(x, _mm256_set1_epi8((char)t)), x);
}

/* An S >= k test (pfm_qc_stest) with its constants in registers. */
typedef struct {
	const pfm_qc_stest *t;
	int on, nfix;
	__m256i k, nu;
} stest_vec;

AVX2 static inline stest_vec s_prep(const pfm_qc_stest *t)
{
	stest_vec sv = {t, t->k != 0, t->nfix, _mm256_set1_epi16((short)t->k),
			_mm256_set1_epi16((short)t->nu)};
	return sv;
}

/* HSV S >= k for 32 pixels, from V and d = max - min (bytes) and their
 * 16-bit halves (lo: bytes 0-7 and 16-23, hi: the others; a = 255 d). */
AVX2 static inline __m256i s_ge(const stest_vec *t, __m256i v, __m256i d,
				__m256i vl, __m256i vh, __m256i al,
				__m256i ah)
{
	const __m256i zero = _mm256_setzero_si256();
	if (!t->on)
		return zero;
	/* C = k v - ((v - nu) >> 1) <= 65025; S >= k iff 255 d >= C */
	__m256i cl = _mm256_sub_epi16(_mm256_mullo_epi16(vl, t->k),
				      _mm256_srli_epi16(_mm256_subs_epu16(vl, t->nu), 1));
	__m256i ch = _mm256_sub_epi16(_mm256_mullo_epi16(vh, t->k),
				      _mm256_srli_epi16(_mm256_subs_epu16(vh, t->nu), 1));
	__m256i m = _mm256_packs_epi16(
		_mm256_cmpeq_epi16(_mm256_subs_epu16(cl, al), zero),
		_mm256_cmpeq_epi16(_mm256_subs_epu16(ch, ah), zero));
	for (int i = 0; i < t->nfix; i++) {
		const uint8_t *f = t->t->fix[i];
		__m256i e = _mm256_and_si256(
			_mm256_cmpeq_epi8(v, _mm256_set1_epi8((char)f[0])),
			_mm256_cmpeq_epi8(d, _mm256_set1_epi8((char)f[1])));
		m = f[2] ? _mm256_or_si256(m, e) : _mm256_andnot_si256(e, m);
	}
	return m;
}

AVX2 static inline int count(__m256i m)
{
	return __builtin_popcount((unsigned)_mm256_movemask_epi8(m));
}

/* Bytes p[0..47] and p[48..95] (32 pixels) to R, G, B planes. */
AVX2 static inline void planes(const uint8_t *p, __m256i *r, __m256i *g,
			       __m256i *b)
{
#define LD(o) _mm256_inserti128_si256(                                       \
	_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(p + (o)))), \
	_mm_loadu_si128((const __m128i *)(p + (o) + 48)), 1)
#define M(...) _mm256_setr_epi8(__VA_ARGS__, __VA_ARGS__)
#define _ -1
	__m256i b0 = LD(0), b1 = LD(16), b2 = LD(32);
	*r = _mm256_or_si256(_mm256_or_si256(
		_mm256_shuffle_epi8(b0, M(0, 3, 6, 9, 12, 15, _, _, _, _, _, _, _, _, _, _)),
		_mm256_shuffle_epi8(b1, M(_, _, _, _, _, _, 2, 5, 8, 11, 14, _, _, _, _, _))),
		_mm256_shuffle_epi8(b2, M(_, _, _, _, _, _, _, _, _, _, _, 1, 4, 7, 10, 13)));
	*g = _mm256_or_si256(_mm256_or_si256(
		_mm256_shuffle_epi8(b0, M(1, 4, 7, 10, 13, _, _, _, _, _, _, _, _, _, _, _)),
		_mm256_shuffle_epi8(b1, M(_, _, _, _, _, 0, 3, 6, 9, 12, 15, _, _, _, _, _))),
		_mm256_shuffle_epi8(b2, M(_, _, _, _, _, _, _, _, _, _, _, 2, 5, 8, 11, 14)));
	*b = _mm256_or_si256(_mm256_or_si256(
		_mm256_shuffle_epi8(b0, M(2, 5, 8, 11, 14, _, _, _, _, _, _, _, _, _, _, _)),
		_mm256_shuffle_epi8(b1, M(_, _, _, _, _, 1, 4, 7, 10, 13, _, _, _, _, _, _))),
		_mm256_shuffle_epi8(b2, M(_, _, _, _, _, _, _, _, _, _, 0, 3, 6, 9, 12, 15)));
#undef _
#undef M
#undef LD
}

/* OpenCV's grey (r 9798 + g 19235 + b 3735 + 16384) >> 15 of 32 pixels. */
AVX2 static inline __m256i grey32(__m256i r, __m256i g, __m256i b)
{
	const __m256i zero = _mm256_setzero_si256();
	const __m256i crg = _mm256_set1_epi32(9798 | 19235 << 16);
	const __m256i cb = _mm256_set1_epi32(3735 | 16384 << 16);
	const __m256i one = _mm256_set1_epi8(1);
	__m256i rg[2] = {_mm256_unpacklo_epi8(r, g), _mm256_unpackhi_epi8(r, g)};
	__m256i b1[2] = {_mm256_unpacklo_epi8(b, one), _mm256_unpackhi_epi8(b, one)};
	__m256i q[4];
	for (int i = 0; i < 2; i++) {
		__m256i lo = _mm256_add_epi32(
			_mm256_madd_epi16(_mm256_unpacklo_epi8(rg[i], zero), crg),
			_mm256_madd_epi16(_mm256_unpacklo_epi8(b1[i], zero), cb));
		__m256i hi = _mm256_add_epi32(
			_mm256_madd_epi16(_mm256_unpackhi_epi8(rg[i], zero), crg),
			_mm256_madd_epi16(_mm256_unpackhi_epi8(b1[i], zero), cb));
		q[2 * i] = _mm256_srli_epi32(lo, 15);
		q[2 * i + 1] = _mm256_srli_epi32(hi, 15);
	}
	/* q: pixels 0-3|16-19, 4-7|20-23, 8-11|24-27, 12-15|28-31 */
	return _mm256_packus_epi16(_mm256_packus_epi32(q[0], q[1]),
				   _mm256_packus_epi32(q[2], q[3]));
}

AVX2 void pfm_qc_row_avx2(const pfm_qc_kparams *k, const uint8_t *rgb, int w,
			  pfm_qc_counts *c, uint8_t *restrict grey,
			  uint8_t *restrict flags)
{
	const __m256i zero = _mm256_setzero_si256();
	const __m256i ones = _mm256_set1_epi8(-1), one = _mm256_set1_epi8(1);
	const __m256i c255 = _mm256_set1_epi16(255);
	const int gr = 3 * k->nred, bl = 3 * (k->nred + k->ngreen);
	const int nred = k->nred, ngreen = k->ngreen, nblue = k->nblue;
	const stest_vec tsat = s_prep(&k->sat), t8 = s_prep(&k->s8), t100 = s_prep(&k->s100);
	const __m256i blk = _mm256_set1_epi8((char)k->black);
	const __m256i wht = _mm256_set1_epi8((char)k->white);
	const int black = k->black;
	const uint8_t *hmax = k->hmax;
	uint64_t n[9] = {0};
	int x = 0;
	for (; x + 32 <= w; x += 32) {
		const uint8_t *p = rgb + 3 * x;
		__m256i r, g, b;
		planes(p, &r, &g, &b);
		__m256i v = _mm256_max_epu8(_mm256_max_epu8(r, g), b);
		__m256i mn = _mm256_min_epu8(_mm256_min_epu8(r, g), b);
		__m256i d = _mm256_sub_epi8(v, mn);
		__m256i nz = _mm256_andnot_si256(_mm256_cmpeq_epi8(d, zero), ones);
		__m256i lit = black ? _mm256_cmpeq_epi8(_mm256_max_epu8(v, blk), v) : ones;
		__m256i white = _mm256_cmpeq_epi8(_mm256_max_epu8(mn, wht), mn);
		__m256i vl = _mm256_unpacklo_epi8(v, zero), vh = _mm256_unpackhi_epi8(v, zero);
		__m256i al = _mm256_mullo_epi16(_mm256_unpacklo_epi8(d, zero), c255);
		__m256i ah = _mm256_mullo_epi16(_mm256_unpackhi_epi8(d, zero), c255);
		__m256i ssat = s_ge(&tsat, v, d, vl, vh, al, ah);
		__m256i s8 = s_ge(&t8, v, d, vl, vh, al, ah);
		__m256i s100 = s_ge(&t100, v, d, vl, vh, al, ah);
		/* Hue >= 90 (OpenCV's branches: v == r first, then v == g):
		 * red: b - g >= 1 + [d >= 60] + [d >= 120] + [d >= 181] +
		 * [d >= 240]; green: r <= b and g - b <= hmax[d], certain
		 * when g == b, looked up for 1..4; blue: always. */
		__m256i vr = _mm256_cmpeq_epi8(v, r);
		__m256i vg = _mm256_andnot_si256(vr, _mm256_cmpeq_epi8(v, g));
		__m256i mr = _mm256_sub_epi8(_mm256_sub_epi8(_mm256_sub_epi8(
			_mm256_sub_epi8(one, ge8(d, 60)), ge8(d, 120)), ge8(d, 181)), ge8(d, 240));
		__m256i hred = _mm256_and_si256(vr, _mm256_cmpeq_epi8(
			_mm256_subs_epu8(mr, _mm256_subs_epu8(b, g)), zero));
		__m256i rleb = _mm256_and_si256(vg, _mm256_cmpeq_epi8(_mm256_subs_epu8(r, b), zero));
		__m256i gb = _mm256_subs_epu8(g, b);
		__m256i geqb = _mm256_cmpeq_epi8(gb, zero);
		__m256i hge = _mm256_or_si256(
			_mm256_or_si256(hred, _mm256_and_si256(rleb, geqb)),
			_mm256_andnot_si256(_mm256_or_si256(vr, vg), ones));
		__m256i v103 = ge8(v, PFM_QC_HSV_V);
		__m256i base = _mm256_and_si256(_mm256_and_si256(s8, v103), nz);
		__m256i hsv = _mm256_and_si256(hge, base);
		__m256i amb = _mm256_and_si256(
			_mm256_and_si256(rleb, base),
			_mm256_andnot_si256(geqb, _mm256_cmpeq_epi8(
				_mm256_subs_epu8(gb, _mm256_set1_epi8(4)), zero)));
		__m256i sat = _mm256_and_si256(_mm256_and_si256(ssat, lit), nz);
		__m256i dark = _mm256_and_si256(
			_mm256_and_si256(_mm256_andnot_si256(ge8(v, PFM_QC_DARK_V), lit), s100), nz);
		__m256i black = _mm256_andnot_si256(lit, ones);
		_mm256_storeu_si256((__m256i *)(grey + x), grey32(r, g, b));
		/* Ink, when a pixel could match (true of every triple): red
		 * needs r - g >= 50, r - b >= 35, g <= 115, b <= 145; green r <= 225, g >= r, b >= 20, b >= r - 10;
		 * blue r <= 175, b - r >= 35, b - g >= 20, and b >= 120 when
		 * r > 40, b >= 140 when r > 60, b >= 175 when r > 90. */
		__m256i red = zero, green = zero, blue = zero;
		__m256i cand = _mm256_cmpeq_epi8(_mm256_or_si256(_mm256_or_si256(
			_mm256_subs_epu8(_mm256_set1_epi8(50), _mm256_subs_epu8(r, g)),
			_mm256_subs_epu8(_mm256_set1_epi8(35), _mm256_subs_epu8(r, b))),
			_mm256_or_si256(_mm256_subs_epu8(g, _mm256_set1_epi8(115)),
					_mm256_subs_epu8(b, _mm256_set1_epi8((char)145)))), zero);
		if (!_mm256_testz_si256(cand, cand))
			red = red_ink(k, 0, nred, r, g, b);
		cand = _mm256_cmpeq_epi8(
			_mm256_or_si256(_mm256_or_si256(
				_mm256_subs_epu8(r, _mm256_set1_epi8((char)225)),
				_mm256_subs_epu8(r, g)),
				_mm256_or_si256(_mm256_subs_epu8(_mm256_set1_epi8(20), b),
						_mm256_subs_epu8(_mm256_subs_epu8(r, _mm256_set1_epi8(10)), b))),
			zero);
		if (!_mm256_testz_si256(cand, cand))
			green = green_ink(k, gr, ngreen, r, g, b);
		cand = _mm256_cmpeq_epi8(_mm256_or_si256(_mm256_or_si256(
			_mm256_or_si256(_mm256_subs_epu8(r, _mm256_set1_epi8((char)175)),
					_mm256_subs_epu8(_mm256_set1_epi8(35),
							 _mm256_subs_epu8(b, r))),
			_mm256_or_si256(
				_mm256_min_epu8(_mm256_subs_epu8(r, _mm256_set1_epi8(60)),
						_mm256_subs_epu8(_mm256_set1_epi8((char)140), b)),
				_mm256_min_epu8(_mm256_subs_epu8(r, _mm256_set1_epi8(90)),
						_mm256_subs_epu8(_mm256_set1_epi8((char)175), b)))),
			_mm256_or_si256(
				_mm256_subs_epu8(_mm256_set1_epi8(20), _mm256_subs_epu8(b, g)),
				_mm256_min_epu8(_mm256_subs_epu8(r, _mm256_set1_epi8(40)),
						_mm256_subs_epu8(_mm256_set1_epi8(120), b)))),
			zero);
		if (!_mm256_testz_si256(cand, cand))
			blue = blue_ink(k, bl, nblue, r, g, b);
		__m256i ink = _mm256_or_si256(_mm256_or_si256(red, green), blue);
		n[0] += count(sat);
		n[1] += count(hsv);
		n[2] += count(white);
		n[3] += count(black);
		n[8] += count(dark);
		if (!_mm256_testz_si256(ink, ink)) {
			n[4] += count(red);
			n[5] += count(green);
			n[6] += count(blue);
			n[7] += count(ink);
		}
		if (flags) {
			const __m256i b2 = _mm256_set1_epi8(2), b4 = _mm256_set1_epi8(4);
			__m256i f = _mm256_or_si256(
				_mm256_or_si256(_mm256_or_si256(_mm256_and_si256(sat, one),
								_mm256_and_si256(hsv, b2)),
						_mm256_or_si256(_mm256_and_si256(white, b4),
								_mm256_and_si256(black, _mm256_set1_epi8(8)))),
				_mm256_or_si256(
					_mm256_or_si256(_mm256_and_si256(red, _mm256_set1_epi8(16)),
							_mm256_and_si256(green, _mm256_set1_epi8(32))),
					_mm256_or_si256(_mm256_and_si256(blue, _mm256_set1_epi8(64)),
							_mm256_and_si256(dark, _mm256_set1_epi8((char)128)))));
			_mm256_storeu_si256((__m256i *)(flags + x), f);
		}
		/* Green maximum, g - b in 1..4: the table decides. */
		unsigned a = (unsigned)_mm256_movemask_epi8(amb);
		while (a) {
			int j = __builtin_ctz(a);
			a &= a - 1;
			const uint8_t *q = p + 3 * j;
			int dd = q[1] - (q[0] < q[2] ? q[0] : q[2]);
			if (q[1] - q[2] <= hmax[dd]) {
				n[1]++;
				if (flags)
					flags[x + j] |= PFM_QC_F_HSV;
			}
		}
	}
	c->sat += n[0];
	c->hsv += n[1];
	c->white += n[2];
	c->black += n[3];
	c->red += n[4];
	c->green += n[5];
	c->blue += n[6];
	c->pen += n[7];
	c->dark += n[8];
	if (x < w)
		pfm_qc_row_scalar(k, rgb + 3 * x, w - x, c, grey + x,
				  flags ? flags + x : NULL);
}

AVX2 static inline __m256i load16(const uint8_t *p)
{
	return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p));
}

AVX2 void pfm_qc_lap_avx2(const uint8_t *up, const uint8_t *mid,
			  const uint8_t *down, int w, int dy, pfm_qc_sums *s)
{
	const __m256i ones = _mm256_set1_epi16(1);
	int x = 0;
	int64_t l1 = 0, l2 = 0, dx2 = 0, dy2 = 0;
	while (x + 16 <= w) {
		/* int32 lanes: 512 steps of at most 2 x 1020^2 each */
		__m256i al = _mm256_setzero_si256(), al2 = al, adx = al, ady = al;
		int end = w - x > 16 * 512 ? x + 16 * 512 : w;
		for (; x + 16 <= end; x += 16) {
			__m256i c = load16(mid + x), l = load16(mid + x - 1);
			__m256i r = load16(mid + x + 1), u = load16(up + x);
			__m256i d = load16(down + x);
			__m256i lap = _mm256_sub_epi16(
				_mm256_add_epi16(_mm256_add_epi16(u, d), _mm256_add_epi16(l, r)),
				_mm256_slli_epi16(c, 2));
			al = _mm256_add_epi32(al, _mm256_madd_epi16(lap, ones));
			al2 = _mm256_add_epi32(al2, _mm256_madd_epi16(lap, lap));
			__m256i ex = _mm256_sub_epi16(r, c);
			adx = _mm256_add_epi32(adx, _mm256_madd_epi16(ex, ex));
			if (dy) {
				__m256i ey = _mm256_sub_epi16(d, c);
				ady = _mm256_add_epi32(ady, _mm256_madd_epi16(ey, ey));
			}
		}
		l1 += hsum(al);
		l2 += hsum(al2);
		dx2 += hsum(adx);
		dy2 += hsum(ady);
	}
	for (; x < w; x++) {
		int l = up[x] + down[x] + mid[x - 1] + mid[x + 1] - 4 * mid[x];
		int ex = mid[x + 1] - mid[x], ey = down[x] - mid[x];
		l1 += l;
		l2 += l * l;
		dx2 += ex * ex;
		dy2 += dy ? ey * ey : 0;
	}
	/* Both loops took x = w - 1 against the reflected border. */
	int ex = mid[w] - mid[w - 1];
	s->lap += l1;
	s->lap2 += l2;
	s->dx2 += dx2 - ex * ex;
	s->dy2 += dy2;
}
#endif
