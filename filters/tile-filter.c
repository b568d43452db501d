/* tile-filter: tile quality control. Measure every tile (tissue,
 * background, pen ink, dark artefacts, focus), annotate it, keep or
 * drop it. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "qc_run.h"

static const char usage[] =
"Usage: tile-filter [OPTION]... [INPUT]...\n"
"Measure every tile frame (tissue, background, pen ink, dark artefacts,\n"
"focus), add the measures under \"qc\", and keep the tile or drop it. Other\n"
"frames pass unchanged. INPUT is -, a file or a ZeroMQ endpoint; default -.\n"
"\n"
"  -i, --input SPEC        read SPEC (same as an INPUT argument)\n"
"  -o, --output SPEC       kept tiles to SPEC (-, file, or endpoint; default -)\n"
"      --dropped SPEC      dropped tiles, annotated, to SPEC (for audit)\n"
"      --report FILE       counts, limits and mean measures as JSON\n"
"      --annotate-only     keep every tile; only add the measures\n"
"  -k, --keep-going        drop and count tile frames that cannot be decoded\n"
"                          (exit status 1 at the end) instead of stopping\n"
"      --tissue-rule RULE  sat (default): HSV saturation, as CLAM; hsv:\n"
"                          Virchow's and Midnight's HSV rule\n"
"      --min-tissue F      drop tiles whose tissue fraction is below F\n"
"                          (default 0.4 with sat, 0.6 with hsv)\n"
"      --max-pen F         drop tiles with an ink fraction above F (0.06)\n"
"      --max-dark F        drop tiles with a dark fraction above F (0.5)\n"
"      --max-blur PX       drop tiles whose blur scale is above PX (1.0)\n"
"      --min-lapvar V      drop tiles whose Laplacian variance is below V (50)\n"
"      --sat-threshold N|otsu  tissue pixels have S > N (0..254; default 8),\n"
"                          or above the tile's Otsu threshold\n"
"      --white N           near-white pixels: min(R,G,B) >= N (default 220)\n"
"      --black N           near-black pixels: max(R,G,B) < N (default 25)\n"
"      --stats             add optical density and L*a*b* means and standard\n"
"                          deviations of the tissue pixels\n"
"      --max-frame SIZE    largest frame accepted (default 256M)\n"
"      --hwm N             ZeroMQ high-water mark in frames (default 4)\n"
"      --timeout SEC       ZeroMQ: fail when no frame moves for SEC seconds\n"
"      --lenient           accept input without an end-of-stream frame\n"
"      --force             write frames even to a terminal\n"
PFM_HELP_CURVE
"      --progress          progress on stderr even when not a terminal\n"
"  -q, --quiet             no progress line and no summary\n"
"  -h, --help              show this help and exit\n"
"  -V, --version           show the version and exit\n"
"\n"
"Exit status: 0 ok, 1 bad tile frame or I/O error, 2 usage error.\n"
"Examples:\n"
"  wsi-tile --mpp 0.5 slide.svs | tile-filter > tiles.mpk\n"
"  tile-filter --dropped rejects.mpk --report qc.json tiles.mpk -o kept.mpk\n"
"  tile-filter --annotate-only tiles.mpk | frame-cat | jq -c '.qc'\n"
"See tile-filter(1), pathfm-frames(5).\n";

enum { O_DROPPED = 256, O_REPORT, O_ANNOTATE, O_RULE, O_MIN_TISSUE,
       O_MAX_PEN, O_MAX_DARK, O_MAX_BLUR, O_MIN_LAPVAR, O_SAT, O_WHITE,
       O_BLACK, O_STATS, O_PROGRESS };

static const struct option longopts[] = {
	{"input", required_argument, 0, 'i'},
	{"output", required_argument, 0, 'o'},
	{"dropped", required_argument, 0, O_DROPPED},
	{"report", required_argument, 0, O_REPORT},
	{"annotate-only", no_argument, 0, O_ANNOTATE},
	{"keep-going", no_argument, 0, 'k'},
	{"tissue-rule", required_argument, 0, O_RULE},
	{"min-tissue", required_argument, 0, O_MIN_TISSUE},
	{"max-pen", required_argument, 0, O_MAX_PEN},
	{"max-dark", required_argument, 0, O_MAX_DARK},
	{"max-blur", required_argument, 0, O_MAX_BLUR},
	{"min-lapvar", required_argument, 0, O_MIN_LAPVAR},
	{"sat-threshold", required_argument, 0, O_SAT},
	{"white", required_argument, 0, O_WHITE},
	{"black", required_argument, 0, O_BLACK},
	{"stats", no_argument, 0, O_STATS},
	PFM_LONGOPT_MAX_FRAME,
	PFM_LONGOPT_HWM,
	PFM_LONGOPT_TIMEOUT,
	PFM_LONGOPT_LENIENT,
	PFM_LONGOPT_FORCE,
	PFM_LONGOPTS_CURVE,
	{"progress", no_argument, 0, O_PROGRESS},
	{"quiet", no_argument, 0, 'q'},
	{"help", no_argument, 0, 'h'},
	{"version", no_argument, 0, 'V'},
	{0, 0, 0, 0},
};

/* A number in lo..hi; 0 or PFM_EXIT_USAGE with the message. */
static int num_opt(const char *name, const char *s, double lo, double hi,
		   double *out)
{
	char *end;
	double d = strtod(s, &end);
	if (end == s || *end || !isfinite(d) || d < lo || d > hi)
		return pfm_usage_fail("--%s: not a number in %g..%g: '%s'", name,
				      lo, hi, s);
	*out = d;
	return 0;
}

static int int_opt(const char *name, const char *s, int lo, int hi, int *out)
{
	int64_t v;
	if (pfm_parse_i64(s, &v) || v < lo || v > hi)
		return pfm_usage_fail("--%s: not a number in %d..%d: '%s'", name,
				      lo, hi, s);
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	pfm_cli_init(argv[0]);
	static const char *inputs[256];
	pfm_qc_run_opts o = {
		.inputs = inputs,
		.qc = {.sat_threshold = PFM_QC_SAT_DEFAULT,
		       .white = PFM_QC_WHITE_DEFAULT,
		       .black = PFM_QC_BLACK_DEFAULT},
		.limits = {.min_tissue = -1,
			   .max_pen = PFM_QC_MAX_PEN_DEFAULT,
			   .max_dark = PFM_QC_MAX_DARK_DEFAULT,
			   .max_blur = PFM_QC_MAX_BLUR_DEFAULT,
			   .min_lapvar = PFM_QC_MIN_LAPVAR_DEFAULT},
	};
	int c, rc;
	while ((c = getopt_long(argc, argv, "i:o:kqhV", longopts, 0)) != -1) {
		switch (c) {
		case 'i':
			if (o.ninputs == 256)
				return pfm_usage_fail("too many inputs");
			inputs[o.ninputs++] = optarg;
			break;
		case 'o': o.output = optarg; break;
		case O_DROPPED: o.dropped = optarg; break;
		case O_REPORT: o.report = optarg; break;
		case O_ANNOTATE: o.annotate_only = 1; break;
		case 'k': o.keep_going = 1; break;
		case O_RULE:
			if (!strcmp(optarg, "sat"))
				o.limits.hsv_rule = 0;
			else if (!strcmp(optarg, "hsv"))
				o.limits.hsv_rule = 1;
			else
				return pfm_usage_fail("--tissue-rule: sat or hsv, not '%s'", optarg);
			break;
		case O_MIN_TISSUE:
			if ((rc = num_opt("min-tissue", optarg, 0, 1, &o.limits.min_tissue)))
				return rc;
			break;
		case O_MAX_PEN:
			if ((rc = num_opt("max-pen", optarg, 0, 1, &o.limits.max_pen)))
				return rc;
			break;
		case O_MAX_DARK:
			if ((rc = num_opt("max-dark", optarg, 0, 1, &o.limits.max_dark)))
				return rc;
			break;
		case O_MAX_BLUR:
			if ((rc = num_opt("max-blur", optarg, 0, 1e6, &o.limits.max_blur)))
				return rc;
			break;
		case O_MIN_LAPVAR:
			if ((rc = num_opt("min-lapvar", optarg, 0, 1e12, &o.limits.min_lapvar)))
				return rc;
			break;
		case O_SAT:
			if (!strcmp(optarg, "otsu"))
				o.qc.sat_threshold = PFM_QC_OTSU;
			else if ((rc = int_opt("sat-threshold", optarg, 0, 254,
					       &o.qc.sat_threshold)))
				return rc;
			break;
		case O_WHITE:
			if ((rc = int_opt("white", optarg, 1, 255, &o.qc.white)))
				return rc;
			break;
		case O_BLACK:
			if ((rc = int_opt("black", optarg, 0, 255, &o.qc.black)))
				return rc;
			break;
		case O_STATS: o.qc.stats = 1; break;
		case O_PROGRESS: o.progress = 1; break;
		case 'q': o.quiet = 1; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': pfm_print_version(); return 0;
		default:
			if ((rc = pfm_io_option(c, optarg, &o.io)))
				return rc;
		}
	}
	for (; optind < argc; optind++) {
		if (o.ninputs == 256)
			return pfm_usage_fail("too many inputs");
		inputs[o.ninputs++] = argv[optind];
	}
	if (!o.ninputs)
		inputs[o.ninputs++] = "-";
	if (o.limits.min_tissue < 0)
		o.limits.min_tissue = o.limits.hsv_rule ? PFM_QC_MIN_HSV_DEFAULT
							: PFM_QC_MIN_TISSUE_DEFAULT;
	const char *out = o.output ? o.output : "-";
	if (o.dropped && !strcmp(o.dropped, out))
		return pfm_usage_fail("--dropped and --output are both '%s'", out);
	if (o.report && (!strcmp(o.report, "-") || !strcmp(o.report, out) ||
			 (o.dropped && !strcmp(o.report, o.dropped))))
		return pfm_usage_fail("--report: a file of its own, not '%s'", o.report);
	if (o.report && pfm_spec_is_zmq(o.report))
		return pfm_usage_fail("--report: a file, not an endpoint: '%s'", o.report);
	if ((rc = pfm_io_check_list(&o.io, inputs, o.ninputs, 0)) ||
	    (rc = pfm_io_check(&o.io, o.output, 1)) ||
	    (rc = pfm_io_check(&o.io, o.dropped, 1)))
		return rc;
	pfm_err e = {0};
	rc = pfm_qc_run(&o, pfm_warn, &e);
	if (rc && e.msg[0])
		pfm_warn("%s", e.msg);
	return rc;
}
