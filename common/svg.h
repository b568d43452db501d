/* svg.h: pictures of a ranking, written as standalone SVG 1.1 that
 * rsvg-convert and browsers render: the critical-difference diagram of
 * Demsar (2006) in the style of Orange, and a tasks x models rank
 * heatmap. Writers return 0, or -1 with e filled on a write error. */
#ifndef PFM_SVG_H
#define PFM_SVG_H

#include <stdio.h>

#include "err.h"
#include "rank.h"

/* cd: the critical difference drawn and used for the cliques (models
 * whose average ranks differ by <= cd are joined by a bar). */
int pfm_svg_cd(FILE *f, const pfm_rank_report *r, double cd, double alpha,
	       pfm_err *e);
int pfm_svg_heatmap(FILE *f, const pfm_rank_report *r, pfm_err *e);

/* helpers (svg.c) */
void pfm_svg_begin(FILE *f, double w, double h);
int pfm_svg_end(FILE *f, pfm_err *e);
/* <text> with the string escaped; anchor "start", "middle" or "end". */
void pfm_svg_text(FILE *f, double x, double y, const char *anchor,
		  double size, const char *extra, const char *s);
void pfm_svg_line(FILE *f, double x1, double y1, double x2, double y2,
		  double width);

#endif
