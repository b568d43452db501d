/* par.c: pfm_par_for (par.h).
 *
 * Workers are kept between calls: starting a thread costs about 20 us,
 * and a trainer's step makes about ten parallel calls (its GEMMs, Adam,
 * the bf16 roundings), a tenth of a small step. One call at a time uses
 * the pool; a call that finds it taken (another thread's call, or one
 * nested in a worker) starts threads of its own, as before. Idle workers
 * spin for a moment for the next call, then sleep on a condition
 * variable; with more threads than CPUs, and for workers the last call
 * did not use, nobody spins (a spinning thread would take a CPU from one
 * with work). */
#include "par.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define MAXT 64
#define SPIN_NS 50000 /* how long an idle worker waits awake */

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

/* Threads of this call alone, started and joined here. */
static void spawn_run(range *r, int nt)
{
	pthread_t th[MAXT];
	int started[MAXT];
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

/* The pool. A call fills jobs[], then publishes (generation << 8 | the
 * number of ranges) in `word` with release order; worker k (1..) runs
 * jobs[k] of each generation where k < that number, once, and counts
 * `pending` down. The caller runs jobs[0] and waits for pending == 0
 * before it touches jobs[] again, so a worker never reads a range being
 * rewritten. */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER; /* one call */
static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cv = PTHREAD_COND_INITIALIZER;
static range jobs[MAXT];
static _Atomic uint64_t word;
static atomic_int pending;
static int nworkers; /* started (under pool_mu) */
static atomic_int spin; /* the last call's threads fit the CPUs */
static uint64_t born[MAXT]; /* the generation current when worker k was
			       started: it waits for the next one */

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void *worker_main(void *p)
{
	int k = (int)(intptr_t)p;
	uint64_t seen = born[k];
	int used = 0; /* by the last call */
	for (;;) {
		uint64_t w = atomic_load_explicit(&word, memory_order_acquire);
		if (w >> 8 == seen) {
			int awake = used && atomic_load_explicit(&spin, memory_order_relaxed);
			int64_t until = now_ns() + (awake ? SPIN_NS : 0);
			for (int i = 0; w >> 8 == seen; i++) {
				cpu_relax();
				if ((i & 63) == 63 && now_ns() > until) {
					pthread_mutex_lock(&wake_mu);
					while ((w = atomic_load_explicit(&word, memory_order_acquire)) >> 8 == seen)
						pthread_cond_wait(&wake_cv, &wake_mu);
					pthread_mutex_unlock(&wake_mu);
					break;
				}
				w = atomic_load_explicit(&word, memory_order_acquire);
			}
		}
		seen = w >> 8;
		used = k < (int)(w & 0xff);
		if (used) {
			range_main(&jobs[k]);
			atomic_fetch_sub_explicit(&pending, 1, memory_order_release);
		}
	}
	return NULL;
}

/* A child of fork() has none of the workers: it starts its own. */
static void forked(void)
{
	nworkers = 0;
	pthread_mutex_init(&pool_mu, NULL);
	pthread_mutex_init(&wake_mu, NULL);
	pthread_cond_init(&wake_cv, NULL);
}

/* Workers 1..nt-1 running; 0 when they cannot be had. */
static int pool_grow(int nt)
{
	static int hooked;
	if (!hooked)
		hooked = !pthread_atfork(NULL, NULL, forked);
	while (nworkers < nt - 1) {
		born[nworkers + 1] = atomic_load_explicit(&word, memory_order_relaxed) >> 8;
		pthread_t th;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		int rc = pthread_create(&th, &at, worker_main, (void *)(intptr_t)(nworkers + 1));
		pthread_attr_destroy(&at);
		if (rc)
			return 0;
		nworkers++;
	}
	return 1;
}

static void pool_run(range *r, int nt)
{
	static long ncpu;
	if (!ncpu)
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int awake = nt <= ncpu;
	atomic_store_explicit(&spin, awake, memory_order_relaxed);
	for (int i = 0; i < nt; i++)
		jobs[i] = r[i];
	atomic_store_explicit(&pending, nt - 1, memory_order_relaxed);
	uint64_t g = (atomic_load_explicit(&word, memory_order_relaxed) >> 8) + 1;
	pthread_mutex_lock(&wake_mu);
	atomic_store_explicit(&word, g << 8 | (uint64_t)nt, memory_order_release);
	pthread_cond_broadcast(&wake_cv);
	pthread_mutex_unlock(&wake_mu);
	range_main(&jobs[0]);
	for (int i = 0; atomic_load_explicit(&pending, memory_order_acquire) > 0; i++) {
		cpu_relax();
		if (!awake || i > 4096)
			sched_yield();
	}
}

void pfm_par_for(int nt, int n, void (*fn)(void *ctx, int lo, int hi),
		 void *ctx)
{
	if (n <= 0)
		return;
	nt = nt < 1 ? 1 : nt > n ? n : nt;
	if (nt > MAXT)
		nt = MAXT;
	range r[MAXT];
	for (int i = 0, lo = 0; i < nt; i++) {
		int len = n / nt + (i < n % nt);
		r[i] = (range){fn, ctx, lo, lo + len};
		lo += len;
	}
	if (nt == 1) {
		range_main(&r[0]);
		return;
	}
	if (pthread_mutex_trylock(&pool_mu) == 0) {
		if (pool_grow(nt)) {
			pool_run(r, nt);
			pthread_mutex_unlock(&pool_mu);
			return;
		}
		pthread_mutex_unlock(&pool_mu);
	}
	spawn_run(r, nt);
}

void pfm_par_for_min(int nt, int n, int min_per,
		     void (*fn)(void *ctx, int lo, int hi), void *ctx)
{
	int most = min_per > 1 ? n / min_per : n;
	pfm_par_for(nt < most ? nt : most, n, fn, ctx);
}
