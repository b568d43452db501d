#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int pfm_errf(pfm_err *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int pfm_err_prefix(pfm_err *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	char head[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head - 2, fmt, ap);
	va_end(ap);
	strcat(head, ": ");
	size_t h = strlen(head), cap = sizeof e->msg;
	if (h >= cap)
		h = cap - 1;
	/* Shift the reason right and put the place in front of it. */
	size_t m = strnlen(e->msg, cap - 1);
	if (h + m >= cap)
		m = cap - 1 - h;
	memmove(e->msg + h, e->msg, m);
	memcpy(e->msg, head, h);
	e->msg[h + m] = 0;
	return -1;
}
