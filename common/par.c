/* par.c: pfm_par_for (par.h). */
#include "par.h"

#include <pthread.h>

typedef struct {
	void (*fn)(void *, int, int);
	void *ctx;
	int lo, hi;
} range;

static void *range_main(void *p)
{
	range *r = p;
	r->fn(r->ctx, r->lo, r->hi);
	return NULL;
}

void pfm_par_for(int nt, int n, void (*fn)(void *ctx, int lo, int hi),
		 void *ctx)
{
	if (n <= 0)
		return;
	nt = nt < 1 ? 1 : nt > n ? n : nt;
	if (nt > 64)
		nt = 64;
	range r[64];
	pthread_t th[64];
	int started[64];
	for (int i = 0, lo = 0; i < nt; i++) {
		int len = n / nt + (i < n % nt);
		r[i] = (range){fn, ctx, lo, lo + len};
		lo += len;
	}
	for (int i = 1; i < nt; i++)
		started[i] = !pthread_create(&th[i], NULL, range_main, &r[i]);
	range_main(&r[0]);
	for (int i = 1; i < nt; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			range_main(&r[i]);
	}
}
