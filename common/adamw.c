/* adamw.c: Adam / AdamW steps (adamw.h). */
#include <math.h>

#include "adamw.h"

void pfm_adamw_step(float *param, const float *grad, float *m, float *v,
		    size_t n, const pfm_adamw_opts *o, int64_t t)
{
	double b1 = o->beta1 > 0 ? o->beta1 : 0.9;
	double b2 = o->beta2 > 0 ? o->beta2 : 0.999;
	double eps = o->eps > 0 ? o->eps : 1e-8;
	/* torch: the scalars are doubles in Python, cast to float where a
	 * float tensor meets them */
	float fb1 = (float)b1, fa1 = (float)(1 - b1);
	float fb2 = (float)b2, fa2 = (float)(1 - b2);
	float step = (float)(-(o->lr / (1 - pow(b1, (double)t))));
	float bc2 = (float)sqrt(1 - pow(b2, (double)t));
	float feps = (float)eps, wd = (float)o->weight_decay;
	float decay = (float)(1 - o->lr * o->weight_decay);
	int dec = o->decoupled, l2 = !o->decoupled && o->weight_decay != 0;
	for (size_t i = 0; i < n; i++) {
		float p = param[i], g = grad[i];
		if (l2)
			g = g + wd * p;
		else if (dec)
			p = p * decay;
		float mi = m[i] * fb1 + fa1 * g;
		float vi = v[i] * fb2 + fa2 * g * g;
		m[i] = mi, v[i] = vi;
		float denom = sqrtf(vi) / bc2 + feps;
		param[i] = p + step * (mi / denom);
	}
}
