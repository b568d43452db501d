/* rank_write.c: the ranking report as Markdown, CSV and JSON. Markdown
 * is for reading (4 significant digits); CSV and JSON carry every
 * double exactly (%.17g) so that other tools can recompute. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rank.h"

static const char *wmode(const pfm_wilcoxon_res *w)
{
	if (isnan(w->p))
		return "none";
	return w->mode == PFM_WMODE_EXACT ? "exact" : "approx";
}

static void md_num(FILE *f, double v)
{
	if (isnan(v))
		fputs(" | -", f);
	else if (v != 0 && fabs(v) < 1e-3)
		fprintf(f, " | %.3g", v);
	else
		fprintf(f, " | %.4g", v);
}

/* Markdown cells: a | would end the cell */
static void md_str(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
}

int pfm_rank_write_md(FILE *f, const pfm_rank_report *r)
{
	const pfm_rank_table *t = r->t;
	int k = t->nmodels;
	const char *metric = t->metric ? t->metric : "value";
	fprintf(f, "## Ranking: %d models on %d tasks (%s, %s is better)\n\n", k,
		t->ntasks, metric, r->o.higher_better ? "higher" : "lower");
	fprintf(f, "| rank | model | avg rank | firsts | tied firsts | mean %s", metric);
	if (r->ci)
		fprintf(f, " | avg rank %g%% CI | mean %g%% CI", 100 * r->boot_level,
			100 * r->boot_level);
	for (int g = 0; g < r->ngroups; g++)
		fprintf(f, " | avg rank %s (%d)", r->group_names[g][0] ? r->group_names[g] : "-",
			r->group_n[g]);
	fputs(" |\n|---:|---|---:|---:|---:|---:", f);
	if (r->ci)
		fputs("|---:|---:", f);
	for (int g = 0; g < r->ngroups; g++)
		fputs("|---:", f);
	fputs("|\n", f);
	for (int a = 0; a < k; a++) {
		int j = r->order[a];
		fprintf(f, "| %d | ", a + 1);
		md_str(f, t->models[j]);
		fprintf(f, " | %.3f | %d | %d", r->avg[j], r->firsts[j], r->firsts_tied[j]);
		md_num(f, r->mean[j]);
		if (r->ci)
			fprintf(f, " | %.3f - %.3f | %.4g - %.4g", r->ci[4 * j],
				r->ci[4 * j + 1], r->ci[4 * j + 2], r->ci[4 * j + 3]);
		for (int g = 0; g < r->ngroups; g++)
			fprintf(f, " | %.3f", r->group_avg[(size_t)g * k + j]);
		fputs(" |\n", f);
	}
	const pfm_friedman *fr = &r->fr;
	fprintf(f, "\n## Friedman test\n\n"
		"- chi2 = %.4f (tie-corrected, as scipy), p = %.4g\n"
		"- chi2_F = %.4f (Demsar 2006), p = %.4g\n"
		"- F_F = %.4f (Iman-Davenport, df %g and %g), p = %.4g\n",
		fr->chi2, fr->p, fr->chi2_f, fr->p_f, fr->ff, fr->df1, fr->df2, fr->p_ff);
	fprintf(f, "\n## Nemenyi critical difference (k = %d, N = %d)\n\n"
		"| alpha | q_alpha | CD |\n|---:|---:|---:|\n", k, t->ntasks);
	for (int a = 0; a < 3; a++)
		fprintf(f, "| %.2f | %.3f | %.3f |\n", pfm_rank_alphas[a], r->q[a], r->cd[a]);
	fprintf(f, "\n## Pairwise comparisons\n\n"
		"| model A | model B | rank diff | Nemenyi p | Wilcoxon W | Wilcoxon p | Holm p | test |\n"
		"|---|---|---:|---:|---:|---:|---:|---|\n");
	for (int p = 0; p < r->npairs; p++) {
		int i = r->pair[p][0], j = r->pair[p][1];
		fputs("| ", f);
		md_str(f, t->models[i]);
		fputs(" | ", f);
		md_str(f, t->models[j]);
		fprintf(f, " | %.3f", r->avg[j] - r->avg[i]);
		md_num(f, r->nemenyi[(size_t)i * k + j]);
		md_num(f, r->w[p].stat);
		md_num(f, r->w[p].p);
		md_num(f, r->w_holm[p]);
		fprintf(f, " | %s%s |\n", wmode(&r->w[p]),
			r->w_holm[p] < r->o.alpha ? " *" : "");
	}
	fprintf(f, "\n* Holm-adjusted Wilcoxon p < %g.\n", r->o.alpha);
	if (r->ci)
		fprintf(f, "\nConfidence intervals: percentile bootstrap, %d replicates "
			"resampling each task's runs, seed %llu.\n", r->boot_n,
			(unsigned long long)r->boot_seed);
	return ferror(f) ? -1 : 0;
}

static void csv_str(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\n\r")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void csv_num(FILE *f, double v)
{
	if (isnan(v))
		fputs(",", f);
	else
		fprintf(f, ",%.17g", v);
}

int pfm_rank_write_csv(FILE *f, const pfm_rank_report *r, int pairs)
{
	const pfm_rank_table *t = r->t;
	int k = t->nmodels;
	if (pairs) {
		fputs("model_a,model_b,rank_diff,nemenyi_p,wilcoxon_stat,wilcoxon_p,holm_p,test,zeros\n", f);
		for (int p = 0; p < r->npairs; p++) {
			int i = r->pair[p][0], j = r->pair[p][1];
			csv_str(f, t->models[i]);
			fputc(',', f);
			csv_str(f, t->models[j]);
			csv_num(f, r->avg[j] - r->avg[i]);
			csv_num(f, r->nemenyi[(size_t)i * k + j]);
			csv_num(f, r->w[p].stat);
			csv_num(f, r->w[p].p);
			csv_num(f, r->w_holm[p]);
			fprintf(f, ",%s,%d\n", wmode(&r->w[p]), r->w[p].n_zero);
		}
		return ferror(f) ? -1 : 0;
	}
	fputs("rank,model,avg_rank,firsts,firsts_tied,mean", f);
	if (r->ci)
		fputs(",avg_rank_ci_low,avg_rank_ci_high,mean_ci_low,mean_ci_high", f);
	for (int g = 0; g < r->ngroups; g++) {
		fputs(",", f);
		char h[600];
		snprintf(h, sizeof h, "avg_rank:%s", r->group_names[g]);
		csv_str(f, h);
	}
	fputc('\n', f);
	for (int a = 0; a < k; a++) {
		int j = r->order[a];
		fprintf(f, "%d,", a + 1);
		csv_str(f, t->models[j]);
		csv_num(f, r->avg[j]);
		fprintf(f, ",%d,%d", r->firsts[j], r->firsts_tied[j]);
		csv_num(f, r->mean[j]);
		for (int c = 0; r->ci && c < 4; c++)
			csv_num(f, r->ci[4 * j + c]);
		for (int g = 0; g < r->ngroups; g++)
			csv_num(f, r->group_avg[(size_t)g * k + j]);
		fputc('\n', f);
	}
	return ferror(f) ? -1 : 0;
}

static void js_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void js_num(FILE *f, double v)
{
	if (isnan(v))
		fputs("null", f);
	else if (isinf(v))
		fputs(v > 0 ? "1.7976931348623157e+308" : "-1.7976931348623157e+308", f);
	else
		fprintf(f, "%.17g", v);
}

int pfm_rank_write_json(FILE *f, const pfm_rank_report *r)
{
	const pfm_rank_table *t = r->t;
	int k = t->nmodels;
	fputs("{\"metric\":", f);
	if (t->metric)
		js_str(f, t->metric);
	else
		fputs("null", f);
	fprintf(f, ",\"higher_is_better\":%s,\"n_tasks\":%d,\"n_models\":%d,\"tasks\":[",
		r->o.higher_better ? "true" : "false", t->ntasks, k);
	for (int i = 0; i < t->ntasks; i++) {
		fputs(i ? "," : "", f);
		js_str(f, t->tasks[i]);
	}
	fputs("],\"models\":[", f);
	for (int a = 0; a < k; a++) {
		int j = r->order[a];
		fprintf(f, "%s{\"rank\":%d,\"model\":", a ? "," : "", a + 1);
		js_str(f, t->models[j]);
		fputs(",\"avg_rank\":", f);
		js_num(f, r->avg[j]);
		fprintf(f, ",\"firsts\":%d,\"firsts_tied\":%d,\"mean\":", r->firsts[j],
			r->firsts_tied[j]);
		js_num(f, r->mean[j]);
		if (r->ci) {
			fputs(",\"avg_rank_ci\":[", f);
			js_num(f, r->ci[4 * j]);
			fputc(',', f);
			js_num(f, r->ci[4 * j + 1]);
			fputs("],\"mean_ci\":[", f);
			js_num(f, r->ci[4 * j + 2]);
			fputc(',', f);
			js_num(f, r->ci[4 * j + 3]);
			fputc(']', f);
		}
		if (r->ngroups) {
			fputs(",\"group_avg_rank\":{", f);
			for (int g = 0; g < r->ngroups; g++) {
				fputs(g ? "," : "", f);
				js_str(f, r->group_names[g]);
				fputc(':', f);
				js_num(f, r->group_avg[(size_t)g * k + j]);
			}
			fputc('}', f);
		}
		fputs(",\"task_ranks\":[", f);
		for (int i = 0; i < t->ntasks; i++) {
			fputs(i ? "," : "", f);
			js_num(f, r->rank[(size_t)i * k + j]);
		}
		fputs("]}", f);
	}
	const pfm_friedman *fr = &r->fr;
	fputs("],\"friedman\":{\"chi2\":", f);
	js_num(f, fr->chi2);
	fputs(",\"p\":", f);
	js_num(f, fr->p);
	fputs(",\"chi2_f\":", f);
	js_num(f, fr->chi2_f);
	fputs(",\"p_chi2_f\":", f);
	js_num(f, fr->p_f);
	fputs(",\"ff\":", f);
	js_num(f, fr->ff);
	fprintf(f, ",\"df1\":%g,\"df2\":%g,\"p_ff\":", fr->df1, fr->df2);
	js_num(f, fr->p_ff);
	fputs("},\"nemenyi\":{\"alpha\":[0.1,0.05,0.01],\"q\":[", f);
	for (int a = 0; a < 3; a++) {
		fputs(a ? "," : "", f);
		js_num(f, r->q[a]);
	}
	fputs("],\"cd\":[", f);
	for (int a = 0; a < 3; a++) {
		fputs(a ? "," : "", f);
		js_num(f, r->cd[a]);
	}
	fputs("],\"p\":[", f);
	for (int a = 0; a < k; a++) {
		fputs(a ? ",[" : "[", f);
		for (int b = 0; b < k; b++) {
			fputs(b ? "," : "", f);
			js_num(f, r->nemenyi[(size_t)r->order[a] * k + r->order[b]]);
		}
		fputc(']', f);
	}
	static const char *zm[] = {"wilcox", "pratt", "zsplit"};
	static const char *alt[] = {"two-sided", "less", "greater"};
	fprintf(f, "]},\"wilcoxon\":{\"zero_method\":\"%s\",\"correction\":%s,"
		"\"alternative\":\"%s\",\"pairs\":[", zm[r->o.wopts.zero_method],
		r->o.wopts.correction ? "true" : "false", alt[r->o.wopts.alternative]);
	for (int p = 0; p < r->npairs; p++) {
		fputs(p ? ",{\"a\":" : "{\"a\":", f);
		js_str(f, t->models[r->pair[p][0]]);
		fputs(",\"b\":", f);
		js_str(f, t->models[r->pair[p][1]]);
		fputs(",\"stat\":", f);
		js_num(f, r->w[p].stat);
		fputs(",\"p\":", f);
		js_num(f, r->w[p].p);
		fputs(",\"p_holm\":", f);
		js_num(f, r->w_holm[p]);
		fprintf(f, ",\"test\":\"%s\",\"zeros\":%d}", wmode(&r->w[p]), r->w[p].n_zero);
	}
	fputs("]}", f);
	if (r->ci) {
		fprintf(f, ",\"bootstrap\":{\"replicates\":%d,\"seed\":%llu,\"level\":",
			r->boot_n, (unsigned long long)r->boot_seed);
		js_num(f, r->boot_level);
		fputc('}', f);
	}
	fputs("}\n", f);
	return ferror(f) ? -1 : 0;
}
