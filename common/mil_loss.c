/* mil_loss.c: cross-entropy and the discrete-time survival NLL. */
#include <math.h>

#include "mil.h"

double pfm_mil_ce(const float *logits, int k, int y, float scale,
		  float *dlogits)
{
	double mx = -INFINITY, s = 0;
	for (int j = 0; j < k; j++)
		mx = fmax(mx, logits[j]);
	for (int j = 0; j < k; j++)
		s += exp(logits[j] - mx);
	double lse = mx + log(s);
	if (dlogits)
		for (int j = 0; j < k; j++)
			dlogits[j] = (float)(scale * (exp(logits[j] - lse) - (j == y)));
	return lse - logits[y];
}

#define SURV_EPS 1e-7

double pfm_mil_surv_nll(const float *logits, int k, int y, int censored,
			double alpha, float scale, float *dlogits)
{
	/* float32, as the reference computes S by cumprod */
	float hz[64], S[65];
	S[0] = 1;
	for (int j = 0; j < k; j++) {
		hz[j] = 1.0f / (1.0f + expf(-logits[j]));
		S[j + 1] = S[j] * (1.0f - hz[j]);
	}
	double c = censored ? 1 : 0, loss;
	double lS_y = log(fmax(S[y], SURV_EPS));      /* S_pad[y] */
	double lh_y = log(fmax(hz[y], SURV_EPS));
	double lS_y1 = log(fmax(S[y + 1], SURV_EPS)); /* S_pad[y+1] */
	double unc = -(1 - c) * (lS_y + lh_y), cen = -c * lS_y1;
	loss = (1 - alpha) * (cen + unc) + alpha * unc;
	if (!dlogits)
		return loss;
	/* weights of the terms: uncensored w_u on log S_pad[y] and log h_y,
	 * censored w_c on log S_pad[y+1]; a clamped log passes no gradient */
	double wu = (1 - c) * ((1 - alpha) + alpha), wc = c * (1 - alpha);
	double gs_y = S[y] >= SURV_EPS ? wu : 0;
	double gh_y = hz[y] >= SURV_EPS ? wu : 0;
	double gs_y1 = S[y + 1] >= SURV_EPS ? wc : 0;
	for (int j = 0; j < k; j++) {
		double h = hz[j], g = 0;
		/* d(-log S_pad[t])/dz_j = h_j for j < t */
		if (j < y)
			g += gs_y * h;
		if (j < y + 1)
			g += gs_y1 * h;
		if (j == y)
			g -= gh_y * (1 - h);
		dlogits[j] = (float)(scale * g);
	}
	return loss;
}

double pfm_mil_surv_risk(const float *logits, int k, double *surv)
{
	float S = 1;
	double risk = 0;
	for (int j = 0; j < k; j++) {
		float h = 1.0f / (1.0f + expf(-logits[j]));
		S = S * (1.0f - h);
		if (surv)
			surv[j] = S;
		risk -= S;
	}
	return risk;
}
