#include "mem.h"

#include <stdlib.h>
#include <string.h>

int pfm_grow(void *pp, size_t *cap, size_t n)
{
	if (*cap >= n)
		return 0;
	void *old;
	memcpy(&old, pp, sizeof old);
	void *q = realloc(old, n);
	if (!q)
		return -1;
	memcpy(pp, &q, sizeof q);
	*cap = n;
	return 0;
}
