/* check.h: the tiny test harness every test binary uses. Each binary ends
 * with "N passed, N failed" and exits non-zero on any failure. */
#ifndef PFM_CHECK_H
#define PFM_CHECK_H

#include <stdio.h>

static int check_pass, check_fail;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (cond) {                                                   \
			check_pass++;                                         \
		} else {                                                      \
			check_fail++;                                         \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__,         \
				__LINE__, #cond);                             \
			fprintf(stderr, __VA_ARGS__);                         \
			fputc('\n', stderr);                                  \
		}                                                             \
	} while (0)

static inline int check_done(void)
{
	printf("%d passed, %d failed\n", check_pass, check_fail);
	return check_fail != 0;
}

#endif
