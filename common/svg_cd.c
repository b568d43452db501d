/* svg_cd.c: the critical-difference diagram (Demsar 2006, Fig. 1; the
 * layout of Orange's graph_ranks): an axis of average ranks, best on the
 * left; the better half of the models labelled on the left, the rest on
 * the right; thick bars join models not significantly different; the CD
 * drawn as an interval above the axis. */
#include <stdlib.h>

#include "svg.h"

int pfm_svg_cd(FILE *f, const pfm_rank_report *r, double cd, double alpha,
	       pfm_err *e)
{
	const pfm_rank_table *t = r->t;
	int k = t->nmodels;
	int (*cl)[2];
	int ncl = pfm_rank_cliques(r, cd, &cl, e);
	if (ncl < 0)
		return -1;
	const double W = 760, left = 190, right = W - 190, y_axis = 70;
	const double row = 22;
	double lo = 1, hi = k; /* axis: every possible average rank */
	#define X(rank) (left + ((rank) - lo) / (hi - lo) * (right - left))
	int half = (k + 1) / 2;
	double y_lab = y_axis + 24 + ncl * 9;
	double H = y_lab + (k - half > half ? k - half : half) * row + 16;
	pfm_svg_begin(f, W, H);
	char b[700];
	/* CD interval, from the best end */
	double cx0 = X(lo), cx1 = X(lo + cd);
	if (cd + lo > hi)
		cx1 = X(hi);
	pfm_svg_line(f, cx0, 26, cx1, 26, 1.5);
	pfm_svg_line(f, cx0, 21, cx0, 31, 1.5);
	pfm_svg_line(f, cx1, 21, cx1, 31, 1.5);
	snprintf(b, sizeof b, "CD = %.3f (alpha = %g)", cd, alpha);
	pfm_svg_text(f, (cx0 + cx1) / 2, 16, "middle", 12, NULL, b);
	/* axis with a tick at every rank and a short one at every half */
	pfm_svg_line(f, X(lo), y_axis, X(hi), y_axis, 1.5);
	for (int i = 2 * (int)lo; i <= 2 * (int)hi; i++) {
		double x = X(i / 2.0);
		pfm_svg_line(f, x, y_axis, x, y_axis - (i % 2 ? 5 : 10), 1);
		if (i % 2 == 0) {
			snprintf(b, sizeof b, "%d", i / 2);
			pfm_svg_text(f, x, y_axis - 14, "middle", 12, NULL, b);
		}
	}
	/* models: elbow lines from their rank down to their label */
	for (int a = 0; a < k; a++) {
		int j = r->order[a];
		double x = X(r->avg[j]);
		int on_left = a < half;
		double y = y_lab + (on_left ? a : k - 1 - a) * row;
		double xe = on_left ? left - 20 : right + 20;
		fprintf(f, "<polyline points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" "
			"fill=\"none\" stroke=\"black\" stroke-width=\"1\"/>\n",
			x, y_axis, x, y, xe, y);
		snprintf(b, sizeof b, "%s (%.2f)", t->models[j], r->avg[j]);
		pfm_svg_text(f, on_left ? xe - 5 : xe + 5, y + 4,
			     on_left ? "end" : "start", 13, NULL, b);
	}
	/* cliques: bars a little longer than the ranks they join */
	for (int c = 0; c < ncl; c++) {
		double x0 = X(r->avg[r->order[cl[c][0]]]) - 4;
		double x1 = X(r->avg[r->order[cl[c][1]]]) + 4;
		double y = y_axis + 14 + c * 9;
		fprintf(f, "<line class=\"clique\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			"y2=\"%.1f\" stroke=\"black\" stroke-width=\"4\" "
			"stroke-linecap=\"round\"/>\n", x0, y, x1, y);
	}
	#undef X
	free(cl);
	return pfm_svg_end(f, e);
}
