/* stats_dist.c: the distribution functions the tests need: normal,
 * incomplete gamma and beta (chi-square, F) and the studentized range at
 * infinite degrees of freedom. */
#include <float.h>
#include <math.h>

#include "stats.h"

#define EPS DBL_EPSILON

double pfm_norm_cdf(double z) { return 0.5 * erfc(-z / M_SQRT2); }
double pfm_norm_sf(double z) { return 0.5 * erfc(z / M_SQRT2); }

/* log(x^a e^-x / Gamma(a)): long double keeps the cancellation of its
 * terms (hundreds for many models) below 1e-15. */
static double gamma_lfac(double a, double x)
{
	long double la = a;
	return (double)(la * logl(x) - x - lgammal(la));
}

/* Series for P(a,x), good for x < a + 1 (Cephes igam). */
static double gamma_series(double a, double x)
{
	double ax = gamma_lfac(a, x);
	if (ax < -745)
		return 0;
	double r = a, c = 1, sum = 1;
	do {
		r += 1;
		c *= x / r;
		sum += c;
	} while (c / sum > EPS);
	return sum * exp(ax) / a;
}

/* Continued fraction for Q(a,x), good for x >= a + 1 (Cephes igamc). */
static double gamma_cf(double a, double x)
{
	double ax = gamma_lfac(a, x);
	if (ax < -745)
		return 0;
	const double big = 4503599627370496.0, biginv = 1 / big;
	double y = 1 - a, z = x + y + 1, c = 0;
	double pkm2 = 1, qkm2 = x, pkm1 = x + 1, qkm1 = z * x;
	double ans = pkm1 / qkm1, t;
	do {
		c += 1;
		y += 1;
		z += 2;
		double yc = y * c;
		double pk = pkm1 * z - pkm2 * yc, qk = qkm1 * z - qkm2 * yc;
		if (qk != 0) {
			double r = pk / qk;
			t = fabs((ans - r) / r);
			ans = r;
		} else {
			t = 1;
		}
		pkm2 = pkm1;
		pkm1 = pk;
		qkm2 = qkm1;
		qkm1 = qk;
		if (fabs(pk) > big) {
			pkm2 *= biginv;
			pkm1 *= biginv;
			qkm2 *= biginv;
			qkm1 *= biginv;
		}
	} while (t > EPS);
	return ans * exp(ax);
}

double pfm_gamma_p(double a, double x)
{
	if (isnan(x) || isnan(a))
		return NAN;
	if (x <= 0)
		return 0;
	if (isinf(x))
		return 1;
	return x < a + 1 ? gamma_series(a, x) : 1 - gamma_cf(a, x);
}

double pfm_gamma_q(double a, double x)
{
	if (isnan(x) || isnan(a))
		return NAN;
	if (x <= 0)
		return 1;
	if (isinf(x))
		return 0;
	return x < a + 1 ? 1 - gamma_series(a, x) : gamma_cf(a, x);
}

double pfm_chi2_sf(double x, double df)
{
	return pfm_gamma_q(df / 2, x / 2);
}

/* Lentz's continued fraction for I_x(a,b), x < (a+1)/(a+b+2). */
static double beta_cf(double a, double b, double x)
{
	const double tiny = 1e-300;
	double qab = a + b, qap = a + 1, qam = a - 1;
	double c = 1, d = 1 - qab * x / qap;
	if (fabs(d) < tiny)
		d = tiny;
	d = 1 / d;
	double h = d;
	for (int m = 1; m <= 10000; m++) {
		int m2 = 2 * m;
		double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
		d = 1 + aa * d;
		if (fabs(d) < tiny)
			d = tiny;
		c = 1 + aa / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1 / d;
		h *= d * c;
		aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
		d = 1 + aa * d;
		if (fabs(d) < tiny)
			d = tiny;
		c = 1 + aa / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1 / d;
		double del = d * c;
		h *= del;
		if (fabs(del - 1) < EPS)
			break;
	}
	return h;
}

double pfm_beta_i(double a, double b, double x)
{
	if (isnan(x) || isnan(a) || isnan(b))
		return NAN;
	if (x <= 0)
		return 0;
	if (x >= 1)
		return 1;
	/* log of x^a (1-x)^b / B(a,b): its lgamma terms reach thousands
	 * when a test has many tasks and cancel; in long double (64-bit
	 * mantissa on x86-64, 113 on aarch64) they cost ~1e-15, not 1e-12. */
	long double la = a, lb = b;
	double lf = (double)(lgammal(la + lb) - lgammal(la) - lgammal(lb) +
			     la * logl(x) + lb * log1pl(-(long double)x));
	if (x < (a + 1) / (a + b + 2))
		return exp(lf) * beta_cf(a, b, x) / a;
	return 1 - exp(lf) * beta_cf(b, a, 1 - x) / b;
}

/* P(F > x) = I_{d2/(d2+d1 x)}(d2/2, d1/2), as Cephes fdtrc. */
double pfm_f_sf(double x, double d1, double d2)
{
	if (isnan(x))
		return NAN;
	if (x <= 0)
		return 1;
	if (isinf(x))
		return 0;
	return pfm_beta_i(d2 / 2, d1 / 2, d2 / (d2 + d1 * x));
}

/* ---- studentized range, df = Inf ----
 * P(R < q) = k Int phi(z) [Phi(z) - Phi(z-q)]^(k-1) dz and, since
 * k Int phi Phi^(k-1) = 1, P(R > q) = k Int phi(z) (a^m - c^m) dz with
 * a = Phi(z), c = a - Phi(z-q), m = k-1: written so that neither tail is
 * a difference of two numbers near 1. Integrated with 10-point
 * Gauss-Legendre on panels of width 1/4, far past where phi vanishes. */
static const double gl_x[5] = {
	0.1488743389816312108848260, 0.4333953941292471907992659,
	0.6794095682990244062343274, 0.8650633666889845107320967,
	0.9739065285171717200779640};
static const double gl_w[5] = {
	0.2955242247147528701738930, 0.2692667193099963550912269,
	0.2190863631772070283335981, 0.1494513491505805931457763,
	0.0666713443086881375935688};

static double tukey_integrand(double z, double q, int m, int upper)
{
	double phi = exp(-0.5 * z * z) / sqrt(2 * M_PI);
	double a, c; /* Phi(z), Phi(z) - Phi(z-q) */
	if (z > 0) {
		a = 1 - pfm_norm_sf(z);
		c = pfm_norm_sf(z - q) - pfm_norm_sf(z);
	} else {
		a = pfm_norm_cdf(z);
		c = a - pfm_norm_cdf(z - q);
	}
	if (!upper)
		return phi * pow(c, m);
	if (a <= 0)
		return 0;
	double b = a - c; /* Phi(z-q) */
	double l = b / a < 0.5 ? log1p(-b / a) : log(c / a);
	return phi * pow(a, m) * -expm1(m * l);
}

static double tukey_integral(double q, int k, int upper)
{
	double lo = -13, hi = 13 + q, h = 0.25, sum = 0;
	int panels = (int)ceil((hi - lo) / h);
	for (int i = 0; i < panels; i++) {
		double mid = lo + (i + 0.5) * h, half = h / 2, s = 0;
		for (int j = 0; j < 5; j++) {
			double dx = half * gl_x[j];
			s += gl_w[j] * (tukey_integrand(mid - dx, q, k - 1, upper) +
					tukey_integrand(mid + dx, q, k - 1, upper));
		}
		sum += s * half;
	}
	return k * sum;
}

double pfm_ptukey_inf(double q, int k)
{
	if (isnan(q) || k < 2)
		return NAN;
	if (q <= 0)
		return 0;
	if (isinf(q))
		return 1;
	double p = tukey_integral(q, k, 0);
	return p > 1 ? 1 : p;
}

double pfm_tukey_sf_inf(double q, int k)
{
	if (isnan(q) || k < 2)
		return NAN;
	if (q <= 0)
		return 1;
	if (isinf(q))
		return 0;
	double p = tukey_integral(q, k, 1);
	return p < 0 ? 0 : p > 1 ? 1 : p;
}

/* Bisection on whichever tail is accurate: monotone, always converges,
 * and 200 integrals cost well under a millisecond each. */
double pfm_qtukey_inf(double p, int k)
{
	if (isnan(p) || k < 2 || p < 0 || p > 1)
		return NAN;
	if (p == 0)
		return 0;
	if (p == 1)
		return INFINITY;
	int upper = p > 0.5;
	double target = upper ? 1 - p : p;
	double lo = 0, hi = 8;
	while ((upper ? pfm_tukey_sf_inf(hi, k) : 1 - pfm_ptukey_inf(hi, k)) >
	       (upper ? target : 1 - p) && hi < 1e3)
		hi *= 2;
	for (int i = 0; i < 200 && hi - lo > 4 * EPS * hi; i++) {
		double mid = 0.5 * (lo + hi);
		double v = upper ? pfm_tukey_sf_inf(mid, k) : pfm_ptukey_inf(mid, k);
		int below = upper ? v > target : v < target;
		if (below)
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}
