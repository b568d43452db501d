/* csv.h: a CSV table with a header row, read whole: RFC 4180 quoting
 * ("" inside quotes), CRLF or LF line ends, blank lines and lines
 * starting with '#' skipped, blanks around unquoted fields trimmed.
 * Every row must have as many fields as the header. */
#ifndef PFM_CSV_H
#define PFM_CSV_H

#include "err.h"

typedef struct {
	char *path;     /* as given ("-": stdin) */
	int ncols, nrows;
	char **head;    /* ncols names */
	char **cell;    /* nrows x ncols, row-major */
	int *line;      /* each row's line number in the file, for errors */
} pfm_csv;

/* 0, or -1 with e naming the file and line. */
int pfm_csv_read(pfm_csv *t, const char *path, pfm_err *e);
void pfm_csv_free(pfm_csv *t);
/* Index of the column named name, -1 if none. */
int pfm_csv_col(const pfm_csv *t, const char *name);
static inline const char *pfm_csv_get(const pfm_csv *t, int row, int col)
{
	return t->cell[(long)row * t->ncols + col];
}

#endif
