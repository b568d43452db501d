/* err.h: library errors as values. Functions return 0/-1 (or counts) and
 * fill a pfm_err; only main() prints and exits. */
#ifndef PFM_ERR_H
#define PFM_ERR_H

#include <stddef.h>

typedef struct {
	char msg[512];
	int code; /* errno of the cause where one matters (EPIPE), else 0 */
} pfm_err;

/* Exit codes shared by every program. */
enum { PFM_EXIT_OK = 0, PFM_EXIT_DATA = 1, PFM_EXIT_USAGE = 2 };

/* printf into e->msg (e may be NULL). Returns -1 so callers can
 * `return pfm_errf(e, ...)`. */
int pfm_errf(pfm_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefix e->msg with "where: " (keeps the innermost reason last). */
int pfm_err_prefix(pfm_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
