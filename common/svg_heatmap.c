/* svg_heatmap.c: per-task ranks as a heatmap, tasks down, models across
 * in average-rank order; green = best, red = worst, the rank in each
 * cell and the average rank in the last row. */
#include <stdio.h>
#include <string.h>

#include "svg.h"

/* Rank 1 -> green, middle -> light yellow, k -> red. */
static void color(double rank, int k, char *out, size_t n)
{
	double u = k > 1 ? (rank - 1) / (k - 1) : 0;
	static const double g[3] = {26, 150, 65}, m[3] = {255, 255, 191},
			    rd[3] = {215, 48, 39};
	const double *a = u < 0.5 ? g : m, *b = u < 0.5 ? m : rd;
	double s = u < 0.5 ? u * 2 : (u - 0.5) * 2;
	snprintf(out, n, "#%02x%02x%02x", (int)(a[0] + s * (b[0] - a[0]) + 0.5),
		 (int)(a[1] + s * (b[1] - a[1]) + 0.5),
		 (int)(a[2] + s * (b[2] - a[2]) + 0.5));
}

int pfm_svg_heatmap(FILE *f, const pfm_rank_report *r, pfm_err *e)
{
	const pfm_rank_table *t = r->t;
	int k = t->nmodels, n = t->ntasks;
	size_t tl = 4;
	for (int i = 0; i < n; i++)
		if (strlen(t->tasks[i]) > tl)
			tl = strlen(t->tasks[i]);
	size_t ml = 4;
	for (int j = 0; j < k; j++)
		if (strlen(t->models[j]) > ml)
			ml = strlen(t->models[j]);
	const double cw = 48, ch = 20;
	double x0 = 12 + 7 * (double)(tl > 60 ? 60 : tl);
	double y0 = 16 + 5.5 * (double)(ml > 60 ? 60 : ml);
	double W = x0 + k * cw + 12, H = y0 + (n + 1) * ch + 14;
	pfm_svg_begin(f, W, H);
	char b[700], col[16];
	for (int a = 0; a < k; a++) {
		double x = x0 + a * cw + cw / 2, y = y0 - 6;
		snprintf(b, sizeof b, "transform=\"rotate(-45 %.1f %.1f)\"", x, y);
		pfm_svg_text(f, x, y, "start", 11, b, t->models[r->order[a]]);
	}
	for (int i = 0; i <= n; i++) {
		double y = y0 + i * ch;
		pfm_svg_text(f, x0 - 6, y + ch / 2 + 4, "end", 11,
			     i == n ? "font-weight=\"bold\"" : NULL,
			     i == n ? "average rank" : t->tasks[i]);
		for (int a = 0; a < k; a++) {
			int j = r->order[a];
			double v = i == n ? r->avg[j] : r->rank[(size_t)i * k + j];
			color(v, k, col, sizeof col);
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%g\" height=\"%g\" "
				"fill=\"%s\" stroke=\"white\"/>\n", x0 + a * cw, y, cw, ch, col);
			snprintf(b, sizeof b, i == n ? "%.2f" : "%g", v);
			pfm_svg_text(f, x0 + a * cw + cw / 2, y + ch / 2 + 4, "middle", 11,
				     i == n ? "font-weight=\"bold\"" : NULL, b);
		}
	}
	return pfm_svg_end(f, e);
}
