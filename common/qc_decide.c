/* qc_decide.c: keep or drop a measured tile, and why. */
#include "qc.h"

pfm_qc_reason pfm_qc_decide(const pfm_qc *m, const pfm_qc_limits *l)
{
	if (m->pen > l->max_pen)
		return PFM_QC_PEN;
	if ((l->hsv_rule ? m->hsv : m->tissue) < l->min_tissue)
		return PFM_QC_BACKGROUND;
	if (m->dark > l->max_dark)
		return PFM_QC_DARK;
	if (m->blur > l->max_blur || m->lapvar < l->min_lapvar)
		return PFM_QC_BLUR;
	return PFM_QC_OK;
}

const char *pfm_qc_reason_name(pfm_qc_reason r)
{
	static const char *const names[PFM_QC_NREASONS] = {
		"ok", "pen", "background", "dark", "blur", "error"};
	return r >= 0 && r < PFM_QC_NREASONS ? names[r] : "?";
}
