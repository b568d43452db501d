/* rank-stats: rank models across tasks: average ranks, Friedman,
 * Nemenyi critical differences, Wilcoxon with Holm, and the pictures. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "io.h"
#include "rank.h"
#include "svg.h"

static const char usage[] =
"Usage: rank-stats [OPTION]... [INPUT]...\n"
"Rank models across tasks from result frames (INPUT: -, file or ZeroMQ\n"
"endpoint; default -) or a table: average ranks, Friedman and\n"
"Iman-Davenport tests, Nemenyi critical differences, Wilcoxon signed-rank\n"
"tests with Holm's correction, critical-difference diagram.\n"
"\n"
"Input:\n"
"  -t, --table FILE        a TSV/CSV table: a row per task, a column per model\n"
"  -m, --metric NAME       the metric to rank on (needed if results have several)\n"
"  -s, --split NAME        the split to rank on (needed if results have several)\n"
"  -g, --group-by KEY      also rank within task groups (frames: key, 'type' =\n"
"                          task_type; table: column)\n"
"      --lower LIST        metrics where lower is better (comma-separated; 'all')\n"
"      --higher LIST       metrics where higher is better (overrides defaults)\n"
"      --round D           round values to D decimals before ranking\n"
"      --drop-incomplete   skip tasks without a result for every model\n"
"Tests:\n"
"      --against MODEL     Wilcoxon of MODEL against each other (default: all pairs)\n"
"      --zero-method M     wilcox, pratt or zsplit (default wilcox)\n"
"      --correction        continuity correction in the normal approximation\n"
"      --alternative A     two-sided, less or greater (default two-sided)\n"
"      --wilcoxon-mode M   auto, exact or approx (default auto, as scipy)\n"
"  -a, --alpha A           significance level for the diagram and marks (0.05)\n"
"      --bootstrap N       N bootstrap replicates over each task's folds/runs:\n"
"                          confidence intervals of average rank and mean\n"
"      --seed S            bootstrap seed (default 1)\n"
"      --ci LEVEL          bootstrap confidence level (default 0.95)\n"
"Output:\n"
"  -f, --format F          md, csv or json (default md)\n"
"      --pairs             csv: the pairwise table instead of the ranking\n"
"  -o, --output FILE       write the report to FILE (default stdout)\n"
"      --cd FILE           write the critical-difference diagram (SVG)\n"
"      --heatmap FILE      write the tasks x models rank heatmap (SVG)\n"
"      --max-frame SIZE    largest frame accepted (default 256M)\n"
"      --lenient           accept input without an end-of-stream frame\n"
PFM_HELP_CURVE
"  -h, --help              show this help and exit\n"
"  -V, --version           show the version and exit\n"
"\n"
"Exit status: 0 ok, 1 bad data or I/O error, 2 usage error.\n"
"Examples:\n"
"  rank-stats -m auroc --cd cd.svg results.mpk\n"
"  rank-stats -t table.tsv --round 3 --against UNI -f json\n"
"  rank-stats -m auroc --bootstrap 2000 --seed 7 results.mpk\n"
"See rank-stats(1).\n";

enum { O_LOWER = 256, O_HIGHER, O_ROUND, O_DROP, O_AGAINST, O_ZERO, O_CORR,
       O_ALT, O_WMODE, O_PAIRS, O_CD, O_HEAT, O_BOOT,
       O_SEED, O_CI };

static const struct option longopts[] = {
	{"table", required_argument, 0, 't'},
	{"metric", required_argument, 0, 'm'},
	{"split", required_argument, 0, 's'},
	{"group-by", required_argument, 0, 'g'},
	{"lower", required_argument, 0, O_LOWER},
	{"higher", required_argument, 0, O_HIGHER},
	{"round", required_argument, 0, O_ROUND},
	{"drop-incomplete", no_argument, 0, O_DROP},
	{"against", required_argument, 0, O_AGAINST},
	{"zero-method", required_argument, 0, O_ZERO},
	{"correction", no_argument, 0, O_CORR},
	{"alternative", required_argument, 0, O_ALT},
	{"wilcoxon-mode", required_argument, 0, O_WMODE},
	{"alpha", required_argument, 0, 'a'},
	{"bootstrap", required_argument, 0, O_BOOT},
	{"seed", required_argument, 0, O_SEED},
	{"ci", required_argument, 0, O_CI},
	{"format", required_argument, 0, 'f'},
	{"pairs", no_argument, 0, O_PAIRS},
	{"output", required_argument, 0, 'o'},
	{"cd", required_argument, 0, O_CD},
	{"heatmap", required_argument, 0, O_HEAT},
	PFM_LONGOPT_MAX_FRAME,
	PFM_LONGOPT_LENIENT,
	PFM_LONGOPTS_CURVE,
	{"help", no_argument, 0, 'h'},
	{"version", no_argument, 0, 'V'},
	{0, 0, 0, 0},
};

/* Is name in the comma-separated list (or the list "all")? */
static int in_list(const char *list, const char *name)
{
	if (!list)
		return 0;
	if (!strcmp(list, "all"))
		return 1;
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		if (l == n && !memcmp(p, name, n))
			return 1;
		p += l + (c != NULL);
	}
	return 0;
}

/* Errors and losses: lower is better unless --higher says otherwise. */
static const char *lower_defaults = "loss,error,mae,mse,rmse,brier,ece,nll,log_loss";

static int read_frames(const char **inputs, int ninputs, const pfm_io_opts *io,
		       const pfm_rank_select *sel, pfm_rank_table *t, pfm_err *e)
{
	pfm_rank_acc *acc = pfm_rank_acc_new(sel);
	if (!acc)
		return pfm_errf(e, "out of memory");
	for (int i = 0; i < ninputs; i++) {
		pfm_reader *r = pfm_reader_open(inputs[i], io, e);
		if (!r) {
			pfm_rank_acc_finish(acc, t, NULL);
			pfm_rank_table_free(t);
			return -1;
		}
		pfm_frame f;
		int rc;
		while ((rc = pfm_read(r, &f)) == 1) {
			if (pfm_rank_acc_add(acc, &f, e) < 0) {
				pfm_err_prefix(e, "%s", pfm_reader_name(r));
				rc = -2;
				break;
			}
		}
		if (rc == -1)
			pfm_errf(e, "%s", pfm_reader_error(r));
		pfm_reader_close(r);
		if (rc < 0) {
			pfm_rank_acc_finish(acc, t, NULL);
			pfm_rank_table_free(t);
			return -1;
		}
	}
	return pfm_rank_acc_finish(acc, t, e);
}

/* SVG to PATH.tmp.PID, renamed into place once complete. */
static int write_svg(const char *path, const pfm_rank_report *r, int heat,
		     pfm_err *e)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return pfm_errf(e, "%s: %s", path, strerror(errno));
	int rc = heat ? pfm_svg_heatmap(f, r, e)
		      : pfm_svg_cd(f, r, r->cd_alpha, r->o.alpha, e);
	if (fclose(f) && !rc)
		rc = pfm_errf(e, "%s: %s", path, strerror(errno));
	if (!rc && rename(tmp, path))
		rc = pfm_errf(e, "%s: %s", path, strerror(errno));
	if (rc) {
		unlink(tmp);
		return pfm_err_prefix(e, "%s", path);
	}
	return 0;
}

int main(int argc, char **argv)
{
	pfm_cli_init(argv[0]);
	static const char *inputs[256];
	int ninputs = 0, c, drop = 0, pairs = 0, round_d = -1;
	const char *table = NULL, *lower = NULL, *higher = NULL, *format = "md";
	const char *output = NULL, *cd_path = NULL, *heat_path = NULL;
	pfm_rank_select sel = {0};
	pfm_rank_boot_opts boot = {.n = 0, .seed = 1, .level = 0.95};
	pfm_io_opts io = {0};
	pfm_rank_opts o = {.higher_better = 1, .alpha = 0.05,
			   .wopts = {PFM_ZERO_WILCOX, 0, PFM_ALT_TWO_SIDED, PFM_WMODE_AUTO}};
	while ((c = getopt_long(argc, argv, "t:m:s:g:a:f:o:hV", longopts, 0)) != -1) {
		int64_t v;
		char *end;
		switch (c) {
		case 't': table = optarg; break;
		case 'm': sel.metric = optarg; break;
		case 's': sel.split = optarg; break;
		case 'g': sel.group_key = optarg; break;
		case O_LOWER: lower = optarg; break;
		case O_HIGHER: higher = optarg; break;
		case O_ROUND:
			if (pfm_parse_i64(optarg, &v) || v < 0 || v > 17)
				return pfm_usage_fail("--round: not a number of decimals (0-17): '%s'", optarg);
			round_d = (int)v;
			break;
		case O_DROP: drop = 1; break;
		case O_AGAINST: o.against = optarg; break;
		case O_ZERO:
			if ((o.wopts.zero_method = pfm_wilcoxon_parse_zero(optarg)) < 0)
				return pfm_usage_fail("--zero-method: wilcox, pratt or zsplit, not '%s'", optarg);
			break;
		case O_CORR: o.wopts.correction = 1; break;
		case O_ALT:
			if ((o.wopts.alternative = pfm_wilcoxon_parse_alt(optarg)) < 0)
				return pfm_usage_fail("--alternative: two-sided, less or greater, not '%s'", optarg);
			break;
		case O_WMODE:
			if ((o.wopts.mode = pfm_wilcoxon_parse_mode(optarg)) < 0)
				return pfm_usage_fail("--wilcoxon-mode: auto, exact or approx, not '%s'", optarg);
			break;
		case 'a':
			o.alpha = strtod(optarg, &end);
			if (*end || end == optarg || !(o.alpha > 0 && o.alpha < 1))
				return pfm_usage_fail("--alpha: not a level in (0, 1): '%s'", optarg);
			break;
		case 'f':
			if (strcmp(optarg, "md") && strcmp(optarg, "csv") && strcmp(optarg, "json"))
				return pfm_usage_fail("--format: md, csv or json, not '%s'", optarg);
			format = optarg;
			break;
		case O_BOOT:
			if (pfm_parse_i64(optarg, &v) || v < 1 || v > 10000000)
				return pfm_usage_fail("--bootstrap: not a number of replicates (1-10000000): '%s'", optarg);
			boot.n = (int)v;
			break;
		case O_SEED:
			if (pfm_parse_i64(optarg, &v) || v < 0)
				return pfm_usage_fail("--seed: not a non-negative integer: '%s'", optarg);
			boot.seed = (uint64_t)v;
			break;
		case O_CI:
			boot.level = strtod(optarg, &end);
			if (*end || end == optarg || !(boot.level > 0 && boot.level < 1))
				return pfm_usage_fail("--ci: not a level in (0, 1): '%s'", optarg);
			break;
		case O_PAIRS: pairs = 1; break;
		case 'o': output = optarg; break;
		case O_CD: cd_path = optarg; break;
		case O_HEAT: heat_path = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': pfm_print_version(); return 0;
		default:
			if ((v = pfm_io_option(c, optarg, &io)))
				return (int)v;
		}
	}
	for (; optind < argc; optind++) {
		if (ninputs == 256)
			return pfm_usage_fail("too many inputs");
		inputs[ninputs++] = argv[optind];
	}
	if (table && ninputs)
		return pfm_usage_fail("--table and frame inputs cannot be combined");
	if (table && sel.split)
		return pfm_usage_fail("--split applies to result frames, not --table");
	if (table && boot.n)
		return pfm_usage_fail("--bootstrap resamples the runs of result frames, not --table");
	if (pairs && strcmp(format, "csv"))
		return pfm_usage_fail("--pairs goes with --format csv");
	if (!table && !ninputs)
		inputs[ninputs++] = "-";
	int crc = pfm_io_check_list(&io, inputs, ninputs, 0);
	if (crc)
		return crc;

	pfm_err e = {0};
	pfm_rank_table t = {0};
	if (table) {
		if (pfm_rank_table_read(&t, table, sel.group_key, &e))
			return pfm_fail("%s", e.msg);
		if (sel.metric)
			t.metric = strdup(sel.metric);
	} else if (read_frames(inputs, ninputs, &io, &sel, &t, &e)) {
		return pfm_fail("%s", e.msg);
	}
	const char *metric = t.metric ? t.metric : "value";
	/* --lower wins over --higher, both over the defaults */
	o.higher_better = in_list(lower, metric) ? 0
			: in_list(higher, metric) ? 1
			: !in_list(lower_defaults, metric);
	if (round_d >= 0)
		pfm_rank_table_round(&t, round_d);
	int dropped, rc = PFM_EXIT_OK;
	if (pfm_rank_table_complete(&t, drop, &dropped, &e)) {
		pfm_rank_table_free(&t);
		return pfm_fail("%s", e.msg);
	}
	if (dropped)
		pfm_warn("dropped %d incomplete task%s", dropped, dropped > 1 ? "s" : "");
	pfm_rank_report r;
	if (pfm_rank_compute(&r, &t, &o, &e)) {
		pfm_rank_table_free(&t);
		return pfm_fail("%s", e.msg);
	}
	boot.round_d = round_d;
	if (boot.n && pfm_rank_bootstrap(&r, &boot, &e))
		rc = pfm_fail("%s", e.msg);
	if (!rc && cd_path && write_svg(cd_path, &r, 0, &e))
		rc = pfm_fail("%s", e.msg);
	if (!rc && heat_path && write_svg(heat_path, &r, 1, &e))
		rc = pfm_fail("%s", e.msg);
	FILE *out = stdout;
	if (!rc && output && !(out = fopen(output, "w"))) {
		rc = pfm_fail("%s: %s", output, strerror(errno));
		out = NULL;
	}
	if (!rc) {
		int w = !strcmp(format, "json") ? pfm_rank_write_json(out, &r)
		      : !strcmp(format, "csv") ? pfm_rank_write_csv(out, &r, pairs)
		      : pfm_rank_write_md(out, &r);
		if (fflush(out) || w) {
			if (errno != EPIPE) /* a reader that went away: quiet */
				rc = pfm_fail("%s: %s", output ? output : "stdout", strerror(errno));
		}
		if (out != stdout && fclose(out) && !rc)
			rc = pfm_fail("%s: %s", output, strerror(errno));
	}
	pfm_rank_report_free(&r);
	pfm_rank_table_free(&t);
	return rc;
}
