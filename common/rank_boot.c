/* rank_boot.c: bootstrap confidence intervals of average ranks and mean
 * metrics, resampling each task's runs (fold/run units) with
 * replacement. Every step is specified (rank.h) so that a reference
 * can replay the same draws and get the same doubles. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rank.h"

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double pfm_quantile_sorted(const double *x, int n, double q)
{
	/* numpy 1.24 _quantile, 'linear', step by step */
	double vi = (n - 1) * q;
	if (vi >= n - 1)
		return x[n - 1];
	if (vi < 0)
		return x[0];
	double lo = floor(vi), g = vi - lo;
	double a = x[(int)lo], b = x[(int)lo + 1], d = b - a;
	return g >= 0.5 ? b - d * (1 - g) : a + d * g;
}

static int by_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return a < b ? -1 : a > b;
}

static const pfm_rank_table *sort_t;
static int by_task_name(const void *pa, const void *pb)
{
	return strcmp(sort_t->tasks[*(const int *)pa], sort_t->tasks[*(const int *)pb]);
}
static int by_unit(const void *pa, const void *pb)
{
	return pfm_rank_unit_cmp(&sort_t->units[*(const int *)pa],
				 &sort_t->units[*(const int *)pb]);
}

/* Per task: its units in order (uoff/nu into ulist) and the values,
 * val[(uoff + r) * k + j], of model j on the task's r-th unit. */
typedef struct {
	int *uoff, *nu, *ulist;
	double *val;
} boot_data;

static int collect(const pfm_rank_table *t, boot_data *d, pfm_err *e)
{
	int n = t->ntasks, k = t->nmodels;
	d->uoff = calloc(n + 1, sizeof *d->uoff);
	d->nu = calloc(n, sizeof *d->nu);
	d->ulist = malloc(sizeof *d->ulist * (t->nobs ? t->nobs : 1));
	char *seen = calloc((size_t)n * (t->nunits ? t->nunits : 1), 1);
	if (!d->uoff || !d->nu || !d->ulist || !seen) {
		free(seen);
		return pfm_errf(e, "out of memory");
	}
	for (size_t o = 0; o < t->nobs; o++) {
		char *s = &seen[(size_t)t->obs[o].task * t->nunits + t->obs[o].unit];
		if (!*s)
			*s = 1, d->nu[t->obs[o].task]++;
	}
	for (int i = 0; i < n; i++)
		d->uoff[i + 1] = d->uoff[i] + d->nu[i];
	for (int i = 0; i < n; i++) {
		int *l = d->ulist + d->uoff[i], m = 0;
		for (int u = 0; u < t->nunits; u++)
			if (seen[(size_t)i * t->nunits + u])
				l[m++] = u;
		sort_t = t;
		qsort(l, m, sizeof *l, by_unit);
	}
	free(seen);
	size_t cells = (size_t)d->uoff[n] * k;
	d->val = malloc(sizeof *d->val * (cells ? cells : 1));
	if (!d->val)
		return pfm_errf(e, "out of memory");
	for (size_t c = 0; c < cells; c++)
		d->val[c] = NAN;
	for (size_t o = 0; o < t->nobs; o++) {
		const pfm_rank_obs *ob = &t->obs[o];
		const int *l = d->ulist + d->uoff[ob->task];
		int r = 0;
		while (l[r] != ob->unit)
			r++;
		d->val[(size_t)(d->uoff[ob->task] + r) * k + ob->model] = ob->v;
	}
	/* resampling a unit means taking every model's value on it */
	for (int i = 0; i < n; i++)
		for (int r = 0; r < d->nu[i]; r++)
			for (int j = 0; j < k; j++)
				if (isnan(d->val[(size_t)(d->uoff[i] + r) * k + j])) {
					char u[256];
					pfm_rank_unit_str(&t->units[d->ulist[d->uoff[i] + r]], u, sizeof u);
					return pfm_errf(e, "--bootstrap: task '%s': model '%s' has no result for %s "
							"(every model of a task needs the same folds and runs)",
							t->tasks[i], t->models[j], u);
				}
	return 0;
}

int pfm_rank_bootstrap(pfm_rank_report *r, const pfm_rank_boot_opts *b,
		       pfm_err *e)
{
	const pfm_rank_table *t = r->t;
	int n = t->ntasks, k = t->nmodels, B = b->n;
	if (B < 1)
		return pfm_errf(e, "--bootstrap: at least 1 replicate");
	if (!t->nobs)
		return pfm_errf(e, "--bootstrap needs result frames (with folds or runs), not a table");
	boot_data d = {0};
	int *tord = malloc(sizeof *tord * n), *idx = NULL;
	double *rep = malloc(sizeof *rep * 2 * (size_t)B * k);
	double *cell = malloc(sizeof *cell * k), *neg = malloc(sizeof *neg * k);
	double *rk = malloc(sizeof *rk * k), *acc = malloc(sizeof *acc * 2 * k);
	r->ci = malloc(sizeof *r->ci * 4 * k);
	int rc = -1, maxu = 0;
	if (!tord || !rep || !cell || !neg || !rk || !acc || !r->ci) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	if (collect(t, &d, e))
		goto out;
	for (int i = 0; i < n; i++)
		maxu = d.nu[i] > maxu ? d.nu[i] : maxu;
	if (maxu < 2) {
		pfm_errf(e, "--bootstrap: one result per task and model: nothing to resample "
			 "(results need several folds or runs)");
		goto out;
	}
	if (!(idx = malloc(sizeof *idx * maxu))) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	/* tasks in name order: the draws do not depend on frame order */
	for (int i = 0; i < n; i++)
		tord[i] = i;
	sort_t = t;
	qsort(tord, n, sizeof *tord, by_task_name);
	uint64_t state = b->seed;
	for (int rep_i = 0; rep_i < B; rep_i++) {
		memset(acc, 0, sizeof *acc * 2 * k);
		for (int ti = 0; ti < n; ti++) {
			int i = tord[ti], m = d.nu[i];
			for (int s = 0; s < m; s++)
				idx[s] = (int)((double)(splitmix64(&state) >> 11) * 0x1p-53 * m);
			for (int j = 0; j < k; j++) {
				double sum = 0;
				for (int s = 0; s < m; s++)
					sum += d.val[(size_t)(d.uoff[i] + idx[s]) * k + j];
				cell[j] = sum / m;
				if (b->round_d >= 0)
					cell[j] = pfm_rank_round(cell[j], b->round_d);
				neg[j] = r->o.higher_better ? -cell[j] : cell[j];
			}
			if (pfm_rankdata(neg, k, rk, e))
				goto out;
			for (int j = 0; j < k; j++) {
				acc[j] += rk[j];
				acc[k + j] += cell[j];
			}
		}
		for (int j = 0; j < k; j++) {
			rep[(size_t)j * B + rep_i] = acc[j] / n;
			rep[(size_t)(k + j) * B + rep_i] = acc[k + j] / n;
		}
	}
	double qlo = (1 - b->level) / 2, qhi = (1 + b->level) / 2;
	for (int j = 0; j < 2 * k; j++) {
		double *x = rep + (size_t)j * B;
		qsort(x, B, sizeof *x, by_double);
		int m = j % k, what = j / k; /* 0 rank, 1 mean */
		r->ci[4 * m + 2 * what] = pfm_quantile_sorted(x, B, qlo);
		r->ci[4 * m + 2 * what + 1] = pfm_quantile_sorted(x, B, qhi);
	}
	r->boot_n = B;
	r->boot_seed = b->seed;
	r->boot_level = b->level;
	rc = 0;
out:
	if (rc) {
		free(r->ci);
		r->ci = NULL;
	}
	free(d.uoff), free(d.nu), free(d.ulist), free(d.val);
	free(tord), free(idx), free(rep), free(cell), free(neg), free(rk), free(acc);
	return rc;
}
