/* test_par: pfm_par_for (common/par.c), the parallel for behind every
 * trainer's GEMMs and passes, with its pool of kept workers: each index
 * of [0, n) runs exactly once, in the documented split (contiguous
 * ranges, the first to the caller's thread); calls nested in a worker,
 * calls from several threads at once, thousands of calls in a row with
 * changing thread counts, calls after the workers went to sleep, more
 * threads than CPUs, and a forked child. Run under ThreadSanitizer too:
 * `make tsan-par`. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "par.h"

#define MAXN 4096

typedef struct {
	atomic_int hits[MAXN];
	atomic_int calls;
	int lo[64], hi[64]; /* by the range's first index: see record */
	pthread_t who[64];
	int nt, n;
} job;

/* ranges are recorded by their position in the documented split */
static int range_index(const job *j, int lo)
{
	for (int i = 0, l = 0; i < j->nt; i++) {
		if (l == lo)
			return i;
		l += j->n / j->nt + (i < j->n % j->nt);
	}
	return -1;
}

static void body(void *ctx, int lo, int hi)
{
	job *j = ctx;
	for (int i = lo; i < hi; i++)
		atomic_fetch_add(&j->hits[i], 1);
	int r = range_index(j, lo);
	if (r >= 0) {
		j->lo[r] = lo, j->hi[r] = hi;
		j->who[r] = pthread_self();
	}
	atomic_fetch_add(&j->calls, 1);
}

/* one call; 1 when every index ran once, in the documented ranges */
static int one(job *j, int nt, int n)
{
	memset(j, 0, sizeof *j);
	int eff = nt < 1 ? 1 : nt > n ? n : nt;
	if (eff > 64)
		eff = 64;
	j->nt = eff, j->n = n;
	pfm_par_for(nt, n, body, j);
	int ok = 1;
	for (int i = 0; i < n; i++)
		ok &= atomic_load(&j->hits[i]) == 1;
	if (n > 0) {
		ok &= atomic_load(&j->calls) == eff;
		ok &= pthread_equal(j->who[0], pthread_self());
		for (int r = 0, l = 0; r < eff; r++) {
			int len = n / eff + (r < n % eff);
			ok &= j->lo[r] == l && j->hi[r] == l + len;
			l += len;
		}
	} else {
		ok &= atomic_load(&j->calls) == 0;
	}
	return ok;
}

/* a pass nested in each range of an outer one */
typedef struct {
	atomic_int hits[64 * 64];
	atomic_int bad;
} nested;

static void inner(void *ctx, int lo, int hi)
{
	atomic_int *row = ctx;
	for (int i = lo; i < hi; i++)
		atomic_fetch_add(&row[i], 1);
}

static void outer(void *ctx, int lo, int hi)
{
	nested *s = ctx;
	for (int i = lo; i < hi; i++)
		pfm_par_for(3, 64, inner, &s->hits[64 * i]);
}

/* several threads calling at once */
static atomic_int concurrent_bad;

static void *caller(void *p)
{
	job *j = malloc(sizeof *j);
	unsigned seed = (unsigned)(uintptr_t)p;
	for (int k = 0; k < 300; k++) {
		seed = seed * 1103515245u + 12345u;
		int nt = 1 + (int)(seed >> 16) % 5, n = (int)(seed >> 8) % 700;
		if (!one(j, nt, n))
			atomic_fetch_add(&concurrent_bad, 1);
	}
	free(j);
	return NULL;
}

int main(void)
{
	job *j = malloc(sizeof *j);
	/* every small shape, threads up to past the CPUs */
	int bad = 0, shapes = 0;
	for (int nt = 0; nt <= 9; nt++)
		for (int n = 0; n <= 70; n++, shapes++)
			bad += !one(j, nt, n);
	CHECK(!bad, "%d of %d (threads, n) shapes ran indices other than once each "
		    "or outside the documented split", bad, shapes);
	CHECK(one(j, 64, MAXN) && one(j, 200, MAXN), "64 threads, and more asked than allowed");

	/* thousands of calls in a row, thread counts changing (the pool
	 * grows, idle workers skip generations that do not use them) */
	bad = 0;
	for (int k = 0; k < 5000; k++)
		bad += !one(j, 1 + k % 4, 1 + (k * 37) % 900);
	CHECK(!bad, "%d of 5000 calls in a row wrong", bad);

	/* after the workers have gone to sleep */
	bad = 0;
	for (int k = 0; k < 20; k++) {
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
		bad += !one(j, 2 + k % 3, 500);
	}
	CHECK(!bad, "%d of 20 calls after a sleep wrong", bad);

	/* nested: each outer range makes its own inner call */
	nested *s = calloc(1, sizeof *s);
	pfm_par_for(4, 64, outer, s);
	int nb = 0;
	for (int i = 0; i < 64 * 64; i++)
		nb += atomic_load(&s->hits[i]) != 1;
	CHECK(!nb, "nested calls: %d of 4096 indices not run once", nb);
	free(s);

	/* four threads calling at once */
	pthread_t th[4];
	for (int t = 0; t < 4; t++)
		pthread_create(&th[t], NULL, caller, (void *)(uintptr_t)(t + 1));
	for (int t = 0; t < 4; t++)
		pthread_join(th[t], NULL);
	CHECK(!atomic_load(&concurrent_bad), "concurrent callers: %d wrong calls",
	      atomic_load(&concurrent_bad));

	/* a forked child (the pool's workers stay with the parent) */
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		int ok = 1;
		for (int k = 0; k < 50; k++)
			ok &= one(j, 3, 300);
		_exit(ok ? 0 : 3);
	}
	int st = 0;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "a forked child's calls (status %d)", st);
	CHECK(one(j, 3, 300), "the parent's pool after the fork");
	free(j);
	return check_done();
}
