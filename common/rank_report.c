/* rank_report.c: from a complete table to the ranking: per-task ranks,
 * average ranks, first places, group ranks, Friedman, Nemenyi and
 * Wilcoxon with Holm. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rank.h"

const double pfm_rank_alphas[3] = {0.10, 0.05, 0.01};

void pfm_rank_report_free(pfm_rank_report *r)
{
	free(r->rank), free(r->avg), free(r->mean), free(r->firsts);
	free(r->firsts_tied), free(r->order), free(r->group_names);
	free(r->group_avg), free(r->group_n), free(r->nemenyi), free(r->pair);
	free(r->w), free(r->w_holm), free(r->ci);
	memset(r, 0, sizeof *r);
}

static const double *sort_key;
static const char *const *sort_names;
static int by_avg(const void *a, const void *b)
{
	int i = *(const int *)a, j = *(const int *)b;
	if (sort_key[i] != sort_key[j])
		return sort_key[i] < sort_key[j] ? -1 : 1;
	return strcmp(sort_names[i], sort_names[j]);
}

int pfm_rank_compute(pfm_rank_report *r, const pfm_rank_table *t,
		     const pfm_rank_opts *o, pfm_err *e)
{
	memset(r, 0, sizeof *r);
	r->t = t;
	r->o = *o;
	int n = t->ntasks, k = t->nmodels;
	if (k < 2)
		return pfm_errf(e, "ranking needs at least 2 models (got %d%s%s)", k,
				k ? ": " : "", k ? t->models[0] : "");
	if (n < 1)
		return pfm_errf(e, "no tasks to rank");
	int against = -1;
	if (o->against) {
		for (int j = 0; j < k; j++)
			if (!strcmp(t->models[j], o->against))
				against = j;
		if (against < 0)
			return pfm_errf(e, "--against: no model '%s'", o->against);
	}
	size_t nk = (size_t)n * k;
	r->rank = malloc(sizeof *r->rank * nk);
	r->avg = calloc(k, sizeof *r->avg);
	r->mean = calloc(k, sizeof *r->mean);
	r->firsts = calloc(k, sizeof *r->firsts);
	r->firsts_tied = calloc(k, sizeof *r->firsts_tied);
	r->order = malloc(sizeof *r->order * k);
	r->nemenyi = malloc(sizeof *r->nemenyi * k * k);
	r->group_names = malloc(sizeof *r->group_names * n);
	r->group_n = calloc(n, sizeof *r->group_n);
	r->group_avg = calloc(nk, sizeof *r->group_avg);
	double *neg = malloc(sizeof *neg * (k > n ? k : n));
	double *col = malloc(sizeof *col * 2 * n);
	if (!r->rank || !r->avg || !r->mean || !r->firsts || !r->firsts_tied ||
	    !r->order || !r->nemenyi || !r->group_names || !r->group_n ||
	    !r->group_avg || !neg || !col) {
		free(neg), free(col);
		pfm_rank_report_free(r);
		return pfm_errf(e, "out of memory");
	}
	int rc = -1;
	for (int i = 0; i < n; i++) {
		const double *row = t->v + (size_t)i * k;
		for (int j = 0; j < k; j++)
			neg[j] = o->higher_better ? -row[j] : row[j];
		if (pfm_rankdata(neg, k, r->rank + (size_t)i * k, e))
			goto out;
		/* the best value and how many share it */
		double best = neg[0];
		for (int j = 1; j < k; j++)
			if (neg[j] < best)
				best = neg[j];
		int nb = 0;
		for (int j = 0; j < k; j++)
			nb += neg[j] == best;
		for (int j = 0; j < k; j++)
			if (neg[j] == best) {
				if (nb == 1)
					r->firsts[j]++;
				else
					r->firsts_tied[j]++;
			}
		/* group */
		int g;
		for (g = 0; g < r->ngroups; g++)
			if (!strcmp(r->group_names[g], t->groups[i]))
				break;
		if (g == r->ngroups)
			r->group_names[r->ngroups++] = t->groups[i];
		r->group_n[g]++;
		for (int j = 0; j < k; j++)
			r->group_avg[(size_t)g * k + j] += r->rank[(size_t)i * k + j];
	}
	for (int g = 0; g < r->ngroups; g++)
		for (int j = 0; j < k; j++)
			r->group_avg[(size_t)g * k + j] /= r->group_n[g];
	if (r->ngroups == 1 && !r->group_names[0][0])
		r->ngroups = 0; /* no grouping asked for */
	for (int j = 0; j < k; j++) {
		double s = 0, m = 0;
		for (int i = 0; i < n; i++) {
			s += r->rank[(size_t)i * k + j];
			m += t->v[(size_t)i * k + j];
		}
		r->avg[j] = s / n;
		r->mean[j] = m / n;
		r->order[j] = j;
	}
	sort_key = r->avg;
	sort_names = (const char *const *)t->models;
	qsort(r->order, k, sizeof *r->order, by_avg);
	if (pfm_friedman_test(r->rank, n, k, &r->fr, e))
		goto out;
	for (int a = 0; a < 3; a++) {
		r->q[a] = pfm_nemenyi_q(pfm_rank_alphas[a], k);
		r->cd[a] = r->q[a] * sqrt(k * (k + 1.0) / (6.0 * n));
	}
	r->cd_alpha = pfm_nemenyi_cd(o->alpha, k, n);
	pfm_nemenyi_p(r->avg, k, n, r->nemenyi);
	/* Wilcoxon: every pair in rank order, or each model vs --against */
	r->npairs = against >= 0 ? k - 1 : k * (k - 1) / 2;
	r->pair = malloc(sizeof *r->pair * (r->npairs ? r->npairs : 1));
	r->w = malloc(sizeof *r->w * (r->npairs ? r->npairs : 1));
	r->w_holm = malloc(sizeof *r->w_holm * (r->npairs ? r->npairs : 1));
	double *praw = malloc(sizeof *praw * (r->npairs ? r->npairs : 1));
	if (!r->pair || !r->w || !r->w_holm || !praw) {
		free(praw);
		pfm_errf(e, "out of memory");
		goto out;
	}
	int np = 0;
	for (int a = 0; a < k; a++)
		for (int b = a + 1; b < k; b++) {
			int i = r->order[a], j = r->order[b];
			if (against >= 0) {
				if (i != against && j != against)
					continue;
				if (j == against) /* reference first */
					j = i, i = against;
			}
			r->pair[np][0] = i, r->pair[np][1] = j;
			for (int s = 0; s < n; s++) {
				col[s] = t->v[(size_t)s * k + i];
				col[n + s] = t->v[(size_t)s * k + j];
			}
			pfm_err we = {0};
			if (pfm_wilcoxon(col, col + n, n, &o->wopts, &r->w[np], &we))
				r->w[np].p = NAN; /* e.g. identical results: no test */
			praw[np] = r->w[np].p;
			np++;
		}
	if (pfm_holm(praw, np, r->w_holm, e)) {
		free(praw);
		goto out;
	}
	free(praw);
	rc = 0;
out:
	free(neg), free(col);
	if (rc)
		pfm_rank_report_free(r);
	return rc;
}

int pfm_rank_cliques(const pfm_rank_report *r, double cd, int (**out)[2],
		     pfm_err *e)
{
	int k = r->t->nmodels, n = 0;
	int (*c)[2] = malloc(sizeof *c * k);
	if (!c)
		return pfm_errf(e, "out of memory");
	/* for each start, the furthest model within cd; keep runs that no
	 * other run contains */
	int last_end = -1;
	for (int a = 0; a < k; a++) {
		int b = a;
		while (b + 1 < k && r->avg[r->order[b + 1]] - r->avg[r->order[a]] <= cd)
			b++;
		if (b > a && b > last_end) {
			c[n][0] = a, c[n][1] = b;
			n++;
			last_end = b;
		}
	}
	*out = c;
	return n;
}
