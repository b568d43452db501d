/* qc_pixel.c: the pixel rules of tile QC, one pixel at a time (the
 * definition, and the kernel on CPUs without AVX2), and the choice of
 * kernels. */
#include "qc_kernel.h"

#include <stdlib.h>
#include <string.h>

#include "qc.h"

const uint8_t pfm_qc_red[PFM_QC_NRED][3] = {
	{150, 80, 90}, {110, 20, 30}, {185, 65, 105}, {195, 85, 125},
	{220, 115, 145}, {125, 40, 70}, {100, 50, 65}, {85, 25, 45},
};
const uint8_t pfm_qc_green[PFM_QC_NGREEN][3] = {
	{150, 160, 140}, {70, 110, 110}, {45, 115, 100}, {30, 75, 60},
	{195, 220, 210}, {225, 230, 225}, {170, 210, 200}, {20, 30, 20},
	{50, 60, 40}, {30, 50, 35}, {65, 70, 60}, {100, 110, 105},
	{165, 180, 180}, {140, 140, 150}, {185, 195, 195},
};
const uint8_t pfm_qc_blue[PFM_QC_NBLUE][3] = {
	{60, 120, 190}, {120, 170, 200}, {175, 210, 230}, {145, 180, 210},
	{37, 95, 160}, {30, 65, 130}, {130, 155, 180}, {40, 35, 85},
	{30, 20, 65}, {90, 90, 140}, {60, 60, 120}, {110, 110, 175},
};

/* round(a / i) for i > 0 (no ties for i < 256); 0 for i = 0. */
#define RDIV(a, i) (((2 * (a) + (i)) / (2 * (i) + !(i))) * !!(i))
#define SD(i) RDIV(255 << 12, i)
#define HD(i) RDIV(180 << 12, 6 * (i))
#define R4(f, i) f(i), f((i) + 1), f((i) + 2), f((i) + 3)
#define R16(f, i) R4(f, i), R4(f, (i) + 4), R4(f, (i) + 8), R4(f, (i) + 12)
#define R64(f, i) R16(f, i), R16(f, (i) + 16), R16(f, (i) + 32), R16(f, (i) + 48)
#define R256(f) R64(f, 0), R64(f, 64), R64(f, 128), R64(f, 192)
static const int32_t sdiv[256] = {R256(SD)};
static const int32_t hdiv[256] = {R256(HD)};
const int32_t *pfm_qc_sdiv = sdiv, *pfm_qc_hdiv = hdiv;

/* Drop the triples that another one contains. dir[c]: +1 when the rule
 * is channel >= threshold, -1 when channel <= threshold. */
static int prune(const uint8_t (*in)[3], int n, const int dir[3],
		 uint8_t (*out)[3])
{
	int m = 0;
	for (int a = 0; a < n; a++) {
		int inside = 0;
		for (int b = 0; b < n && !inside; b++) {
			if (b == a || !memcmp(in[a], in[b], 3))
				continue;
			inside = 1;
			for (int c = 0; c < 3; c++)
				if (dir[c] > 0 ? in[b][c] > in[a][c]
					       : in[b][c] < in[a][c])
					inside = 0;
		}
		if (!inside)
			memcpy(out[m++], in[a], 3);
	}
	return m;
}

/* S >= k as integer comparisons: pick the tie rule nu with fewer
 * exceptions and list them, by trying every (v, d) against OpenCV's
 * table. At most 48 exceptions for any k (8 and 100 have none). */
static void stest_init(pfm_qc_stest *t, int k)
{
	memset(t, 0, sizeof *t);
	if (k < 1 || k > 255)
		return;
	t->k = k;
	int best = -1;
	for (int nu = 0; nu < 2; nu++) {
		int n = 0;
		for (int v = 1; v < 256; v++)
			for (int d = 1; d <= v; d++) {
				int s = (d * sdiv[v] + 2048) >> 12;
				int f = 255 * d >= k * v - ((v - nu) >> 1);
				n += f != (s >= k);
			}
		if (best < 0 || n < best) {
			best = n;
			t->nu = nu;
		}
	}
	for (int v = 1; v < 256; v++)
		for (int d = 1; d <= v; d++) {
			int s = (d * sdiv[v] + 2048) >> 12;
			int f = 255 * d >= k * v - ((v - t->nu) >> 1);
			if (f != (s >= k) && t->nfix < 64) {
				t->fix[t->nfix][0] = (uint8_t)v;
				t->fix[t->nfix][1] = (uint8_t)d;
				t->fix[t->nfix++][2] = s >= k;
			}
		}
}

void pfm_qc_kparams_init(pfm_qc_kparams *k, int sat_thr, int white, int black)
{
	static const int red[3] = {1, -1, -1}, green[3] = {-1, 1, 1},
			 blue[3] = {-1, -1, 1};
	memset(k, 0, sizeof *k);
	k->sat_thr = sat_thr;
	k->white = white;
	k->black = black;
	stest_init(&k->sat, sat_thr + 1);
	stest_init(&k->s8, PFM_QC_HSV_S);
	stest_init(&k->s100, PFM_QC_DARK_S);
	/* Green the maximum, red the minimum (r <= b): the hue is at least
	 * 90 when (b - r + 2d) hdiv[d] + 2048 >= 90 << 12, i.e. when
	 * g - b <= 3d - ceil(366592 / hdiv[d]) (0..4). */
	for (int d = 1; d < 256; d++)
		k->hmax[d] = (uint8_t)(3 * d - (366592 + hdiv[d] - 1) / hdiv[d]);
	k->nred = prune(pfm_qc_red, PFM_QC_NRED, red, k->red);
	k->ngreen = prune(pfm_qc_green, PFM_QC_NGREEN, green, k->green);
	k->nblue = prune(pfm_qc_blue, PFM_QC_NBLUE, blue, k->blue);
	int row = 0;
	for (int i = 0; i < k->nred; i++)
		for (int c = 0; c < 3; c++)
			memset(k->vec[row++], k->red[i][c], 32);
	for (int i = 0; i < k->ngreen; i++)
		for (int c = 0; c < 3; c++)
			memset(k->vec[row++], k->green[i][c], 32);
	for (int i = 0; i < k->nblue; i++)
		for (int c = 0; c < 3; c++)
			memset(k->vec[row++], k->blue[i][c], 32);
}

unsigned pfm_qc_pixel(const pfm_qc_kparams *k, unsigned r, unsigned g,
		      unsigned b, unsigned *sp, unsigned *greyp)
{
	unsigned v = r > g ? r : g, mn = r < g ? r : g;
	v = v > b ? v : b;
	mn = mn < b ? mn : b;
	unsigned d = v - mn;
	/* OpenCV's RGB2HSV_b, hue range 180. */
	unsigned s = (d * (unsigned)sdiv[v] + 2048) >> 12;
	int hn = v == r ? (int)g - (int)b
		 : v == g ? (int)b - (int)r + 2 * (int)d
			  : (int)r - (int)g + 4 * (int)d;
	int t = hn * hdiv[d] + 2048;
	int h = t >= 0 ? t >> 12 : -((-t + 4095) >> 12); /* floor */
	if (h < 0)
		h += 180;
	unsigned f = 0;
	int lit = v >= (unsigned)k->black;
	if (s > (unsigned)k->sat_thr && lit)
		f |= PFM_QC_F_SAT;
	if (h >= PFM_QC_HSV_H && s >= PFM_QC_HSV_S && v >= PFM_QC_HSV_V)
		f |= PFM_QC_F_HSV;
	if (mn >= (unsigned)k->white)
		f |= PFM_QC_F_WHITE;
	if (!lit)
		f |= PFM_QC_F_BLACK;
	if (lit && v < PFM_QC_DARK_V && s >= PFM_QC_DARK_S)
		f |= PFM_QC_F_DARK;
	/* Every red triple has r - g >= 50; every green one g >= r and
	 * b >= 20; every blue one b - r >= 35: skip the lists otherwise. */
	for (int i = 0; r >= g + 50 && i < PFM_QC_NRED; i++) {
		const uint8_t *p = pfm_qc_red[i];
		if (r >= p[0] && g <= p[1] && b <= p[2])
			f |= PFM_QC_F_RED;
	}
	for (int i = 0; g >= r && b >= 20 && i < PFM_QC_NGREEN; i++) {
		const uint8_t *p = pfm_qc_green[i];
		if (r <= p[0] && g >= p[1] && b >= p[2])
			f |= PFM_QC_F_GREEN;
	}
	for (int i = 0; b >= r + 35 && i < PFM_QC_NBLUE; i++) {
		const uint8_t *p = pfm_qc_blue[i];
		if (r <= p[0] && g <= p[1] && b >= p[2])
			f |= PFM_QC_F_BLUE;
	}
	*sp = s;
	/* OpenCV's RGB2GRAY on 8 bits: 15-bit fixed point. */
	*greyp = (r * 9798 + g * 19235 + b * 3735 + 16384) >> 15;
	return f;
}

void pfm_qc_row_scalar(const pfm_qc_kparams *k, const uint8_t *rgb, int w,
		       pfm_qc_counts *c, uint8_t *grey, uint8_t *flags)
{
	for (int x = 0; x < w; x++, rgb += 3) {
		unsigned sv, gv;
		unsigned f = pfm_qc_pixel(k, rgb[0], rgb[1], rgb[2], &sv, &gv);
		c->sat += f & PFM_QC_F_SAT;
		c->hsv += (f >> 1) & 1;
		c->white += (f >> 2) & 1;
		c->black += (f >> 3) & 1;
		c->red += (f >> 4) & 1;
		c->green += (f >> 5) & 1;
		c->blue += (f >> 6) & 1;
		c->dark += f >> 7;
		c->pen += (f & (PFM_QC_F_RED | PFM_QC_F_GREEN | PFM_QC_F_BLUE)) != 0;
		grey[x] = (uint8_t)gv;
		if (flags)
			flags[x] = (uint8_t)f;
	}
}

void pfm_qc_lap_scalar(const uint8_t *up, const uint8_t *mid,
		       const uint8_t *down, int w, int dy, pfm_qc_sums *s)
{
	int64_t l1 = 0, l2 = 0, dx2 = 0, dy2 = 0;
	for (int x = 0; x < w; x++) {
		int l = up[x] + down[x] + mid[x - 1] + mid[x + 1] - 4 * mid[x];
		l1 += l;
		l2 += l * l;
	}
	for (int x = 0; x + 1 < w; x++) {
		int d = mid[x + 1] - mid[x];
		dx2 += d * d;
	}
	for (int x = 0; dy && x < w; x++) {
		int d = down[x] - mid[x];
		dy2 += d * d;
	}
	s->lap += l1;
	s->lap2 += l2;
	s->dx2 += dx2;
	s->dy2 += dy2;
}

#if defined(__x86_64__) && defined(__GNUC__)
void pfm_qc_row_avx2(const pfm_qc_kparams *k, const uint8_t *rgb, int w,
		     pfm_qc_counts *c, uint8_t *grey, uint8_t *flags);
void pfm_qc_lap_avx2(const uint8_t *up, const uint8_t *mid,
		     const uint8_t *down, int w, int dy, pfm_qc_sums *s);
#endif

const char *pfm_qc_kernels(int force_scalar, pfm_qc_row_fn *row,
			   pfm_qc_lap_fn *lap)
{
	const char *env = getenv("PFM_QC_SCALAR");
	if (env && *env && strcmp(env, "0"))
		force_scalar = 1;
#if defined(__x86_64__) && defined(__GNUC__)
	if (!force_scalar && __builtin_cpu_supports("avx2")) {
		*row = pfm_qc_row_avx2;
		*lap = pfm_qc_lap_avx2;
		return "avx2";
	}
#endif
	*row = pfm_qc_row_scalar;
	*lap = pfm_qc_lap_scalar;
	return "scalar";
}
