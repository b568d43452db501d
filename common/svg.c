/* svg.c: the few SVG elements the pictures are made of. */
#include <errno.h>
#include <string.h>

#include "svg.h"

void pfm_svg_begin(FILE *f, double w, double h)
{
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
		"width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		"font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		w, h, w, h);
}

int pfm_svg_end(FILE *f, pfm_err *e)
{
	fputs("</svg>\n", f);
	if (fflush(f) || ferror(f))
		return pfm_errf(e, "writing SVG: %s", strerror(errno));
	return 0;
}

static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			/* control characters are not allowed in XML 1.0 */
			fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
		}
	}
}

void pfm_svg_text(FILE *f, double x, double y, const char *anchor,
		  double size, const char *extra, const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%g\"%s%s>",
		x, y, anchor, size, extra ? " " : "", extra ? extra : "");
	esc(f, s);
	fputs("</text>\n", f);
}

void pfm_svg_line(FILE *f, double x1, double y1, double x2, double y2,
		  double width)
{
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		"stroke=\"black\" stroke-width=\"%g\"/>\n", x1, y1, x2, y2, width);
}
