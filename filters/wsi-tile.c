/* wsi-tile: whole-slide images to tile frames, on a grid or sampled at
 * random over tissue, at target resolutions. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "tiling_run.h"

static const char usage[] =
"Usage: wsi-tile [OPTION]... [SLIDE|DIR]...\n"
"Tiles of whole-slide images (anything OpenSlide reads; JPEG and TIFF images\n"
"too) as tile frames. A DIR is an ImageFolder tree, DIR/CLASS/IMAGE: the\n"
"class is the label.\n"
"\n"
"  -o, --output SPEC      write to SPEC (-, file, or endpoint; default -)\n"
"  -s, --slides FILE      slides listed in FILE: one path a line, or CSV with\n"
"                         a header holding slide_id,path (other columns go\n"
"                         to meta, label also to label)\n"
"  -m, --mode MODE        grid (default): every tile position, in order;\n"
"                         random: tiles drawn uniformly over tissue\n"
"      --mpp LIST         target microns per pixel, e.g. 0.5 or (random)\n"
"                         0.25,0.5:2,1 with weights after ':' (default: the\n"
"                         slide's own)\n"
"      --mag LIST         target magnifications (mpp = 10/mag), same form\n"
"      --size N           tile side in pixels (default 224)\n"
"      --stride N         grid step in pixels (default: the size)\n"
"  -n, --count N|inf      random: tiles per slide (default 100)\n"
"      --seed N           random: seed (default 0)\n"
"      --open N           random: slides open (and interleaved) at once\n"
"                         (default 16); the next opens when one is done\n"
"      --visit N          random, -n inf, more slides than --open: tiles a\n"
"                         slide gives before it makes way (default 1000)\n"
"      --min-tissue F     keep tiles with a tissue fraction of at least F\n"
"                         (0..1, default 0.5)\n"
"      --tissue-threshold N|otsu  saturation threshold (default otsu)\n"
"      --no-mask          no tissue mask: the whole slide is used\n"
"      --thumbnail DIR    write DIR/SLIDE_ID.png: mask and tiles drawn\n"
"  -e, --encoding ENC     pixels as jpeg (default) or rgb8\n"
"      --quality N        JPEG quality (default 90)\n"
"      --passthrough      stored JPEG tiles that are exactly a requested tile\n"
"                         go out as they are, undecoded\n"
"  -j, --threads N        worker threads (default 1); output order is the same\n"
"      --unordered        write tiles as workers finish them (same frames,\n"
"                         another order)\n"
"      --assume-mpp X     mpp of slides that do not say\n"
"      --assume-mag X     magnification of slides that do not say\n"
"      --no-direct        read all pixels through OpenSlide\n"
"  -k, --keep-going       on a bad slide, go on with the others; list the\n"
"                         failures at the end (exit status 1)\n"
"      --hwm N            ZeroMQ high-water mark in frames (default 4)\n"
"      --force            write frames even to a terminal\n"
PFM_HELP_CURVE
"      --progress         progress on stderr even when not a terminal\n"
"  -q, --quiet            no progress line\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and exit\n"
"\n"
"Exit status: 0 ok, 1 bad slide or I/O error, 2 usage error.\n"
"Examples:\n"
"  wsi-tile --mpp 0.5 --size 224 -j 4 -o tiles.mpk slides/*.svs\n"
"  wsi-tile -m random --mpp 0.25,0.5,1,2 -n inf --seed 1 -s train.csv \\\n"
"    --curve-secret tiler.key --curve-allow allowed -o @tcp://0.0.0.0:5555\n"
"  wsi-tile --no-mask --assume-mpp 0.5 --size 224 patches/ | frame-cat -c\n"
"See wsi-tile(1), frame-cat(1), pathfm-frames(5).\n";

enum { O_MPP = 256, O_MAG, O_SIZE, O_STRIDE, O_SEED, O_MIN_TISSUE,
       O_THRESH, O_NO_MASK, O_THUMB, O_QUALITY, O_PASS, O_ASSUME_MPP,
       O_ASSUME_MAG, O_NO_DIRECT, O_PROGRESS, O_OPEN, O_VISIT,
       O_UNORDERED };

static const struct option longopts[] = {
	{"output", required_argument, 0, 'o'},
	{"slides", required_argument, 0, 's'},
	{"mode", required_argument, 0, 'm'},
	{"mpp", required_argument, 0, O_MPP},
	{"mag", required_argument, 0, O_MAG},
	{"size", required_argument, 0, O_SIZE},
	{"stride", required_argument, 0, O_STRIDE},
	{"count", required_argument, 0, 'n'},
	{"seed", required_argument, 0, O_SEED},
	{"open", required_argument, 0, O_OPEN},
	{"visit", required_argument, 0, O_VISIT},
	{"min-tissue", required_argument, 0, O_MIN_TISSUE},
	{"tissue-threshold", required_argument, 0, O_THRESH},
	{"no-mask", no_argument, 0, O_NO_MASK},
	{"thumbnail", required_argument, 0, O_THUMB},
	{"encoding", required_argument, 0, 'e'},
	{"quality", required_argument, 0, O_QUALITY},
	{"passthrough", no_argument, 0, O_PASS},
	{"threads", required_argument, 0, 'j'},
	{"unordered", no_argument, 0, O_UNORDERED},
	{"assume-mpp", required_argument, 0, O_ASSUME_MPP},
	{"assume-mag", required_argument, 0, O_ASSUME_MAG},
	{"no-direct", no_argument, 0, O_NO_DIRECT},
	{"keep-going", no_argument, 0, 'k'},
	PFM_LONGOPT_HWM,
	PFM_LONGOPT_FORCE,
	PFM_LONGOPTS_CURVE,
	{"progress", no_argument, 0, O_PROGRESS},
	{"quiet", no_argument, 0, 'q'},
	{"help", no_argument, 0, 'h'},
	{"version", no_argument, 0, 'V'},
	{0, 0, 0, 0},
};

static int parse_pos(const char *s, double *v)
{
	char *end;
	double d = strtod(s, &end);
	if (end == s || *end || !(d > 0) || !isfinite(d))
		return -1;
	*v = d;
	return 0;
}

/* "0.25,0.5:2,1": values with optional weights; mag turns into mpp. */
static int parse_list(char *s, int mag, pfm_wsi_opts *o)
{
	o->nmpp = 0;
	for (char *t = strtok(s, ","); t; t = strtok(NULL, ",")) {
		if (o->nmpp == PFM_MAX_MPP)
			return -1;
		double w = 1, v;
		char *colon = strchr(t, ':');
		if (colon) {
			*colon = 0;
			if (parse_pos(colon + 1, &w))
				return -1;
		}
		if (parse_pos(t, &v))
			return -1;
		o->mpp[o->nmpp] = mag ? 10 / v : v;
		o->weight[o->nmpp++] = w;
	}
	return o->nmpp ? 0 : -1;
}

static int int_opt(const char *name, const char *s, int64_t lo, int64_t hi,
		   int *out)
{
	int64_t v;
	if (pfm_parse_i64(s, &v) || v < lo || v > hi)
		return pfm_usage_fail("--%s: not a number in %lld..%lld: '%s'",
				      name, (long long)lo, (long long)hi, s);
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	pfm_cli_init(argv[0]);
	pfm_slide_list list = {0};
	pfm_wsi_opts o = {.size = 224, .min_tissue = 0.5, .count = 100,
			  .jpeg = 1, .quality = 90, .threads = 1, .slides = &list,
			  .open = 16, .visit = 1000};
	const char *slides_file = NULL;
	int c, rc;
	while ((c = getopt_long(argc, argv, "o:s:m:n:e:j:kqhV", longopts, 0)) != -1) {
		double d;
		int64_t v;
		switch (c) {
		case 'o': o.output = optarg; break;
		case 's': slides_file = optarg; break;
		case 'm':
			if (!strcmp(optarg, "grid"))
				o.random = 0;
			else if (!strcmp(optarg, "random"))
				o.random = 1;
			else
				return pfm_usage_fail("--mode: grid or random, not '%s'", optarg);
			break;
		case O_MPP:
		case O_MAG:
			if (parse_list(optarg, c == O_MAG, &o))
				return pfm_usage_fail("--%s: not a list of positive numbers "
						      "(with :weights): '%s'",
						      c == O_MAG ? "mag" : "mpp", optarg);
			break;
		case O_SIZE:
			if ((rc = int_opt("size", optarg, 1, 8192, &o.size)))
				return rc;
			break;
		case O_STRIDE:
			if ((rc = int_opt("stride", optarg, 1, 1 << 20, &o.stride)))
				return rc;
			break;
		case 'n':
			if (!strcmp(optarg, "inf"))
				o.count = -1;
			else if (pfm_parse_i64(optarg, &v) || v < 0)
				return pfm_usage_fail("--count: not a count or inf: '%s'", optarg);
			else
				o.count = v;
			break;
		case O_SEED:
			if (pfm_parse_i64(optarg, &v) || v < 0)
				return pfm_usage_fail("--seed: not a number: '%s'", optarg);
			o.seed = (uint64_t)v;
			break;
		case O_OPEN:
			if ((rc = int_opt("open", optarg, 1, 100000, &o.open)))
				return rc;
			break;
		case O_VISIT:
			if (pfm_parse_i64(optarg, &v) || v < 1)
				return pfm_usage_fail("--visit: not a count: '%s'", optarg);
			o.visit = v;
			break;
		case O_MIN_TISSUE: {
			char *end;
			d = strtod(optarg, &end);
			if (end == optarg || *end || !(d >= 0 && d <= 1))
				return pfm_usage_fail("--min-tissue: not a fraction in 0..1: '%s'",
						      optarg);
			o.min_tissue = d;
			break;
		}
		case O_THRESH:
			if (!strcmp(optarg, "otsu"))
				o.tissue.threshold = 0;
			else if ((rc = int_opt("tissue-threshold", optarg, 1, 254,
					       &o.tissue.threshold)))
				return rc;
			break;
		case O_NO_MASK: o.no_mask = 1; break;
		case O_THUMB: o.thumb_dir = optarg; break;
		case 'e':
			if (!strcmp(optarg, "jpeg"))
				o.jpeg = 1;
			else if (!strcmp(optarg, "rgb8"))
				o.jpeg = 0;
			else
				return pfm_usage_fail("--encoding: jpeg or rgb8, not '%s'", optarg);
			break;
		case O_QUALITY:
			if ((rc = int_opt("quality", optarg, 1, 100, &o.quality)))
				return rc;
			break;
		case O_PASS: o.passthrough = 1; break;
		case O_UNORDERED: o.unordered = 1; break;
		case 'j':
			if ((rc = int_opt("threads", optarg, 1, 256, &o.threads)))
				return rc;
			break;
		case O_ASSUME_MPP:
		case O_ASSUME_MAG:
			if (parse_pos(optarg, &d))
				return pfm_usage_fail("--%s: not a positive number: '%s'",
						      c == O_ASSUME_MAG ? "assume-mag" : "assume-mpp",
						      optarg);
			o.slide.assume_mpp = c == O_ASSUME_MAG ? 10 / d : d;
			break;
		case O_NO_DIRECT: o.slide.no_direct = 1; break;
		case 'k': o.keep_going = 1; break;
		case O_PROGRESS: o.progress = 1; break;
		case 'q': o.quiet = 1; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': pfm_print_version(); return 0;
		default:
			if ((rc = pfm_io_option(c, optarg, &o.io)))
				return rc;
		}
	}
	if (o.passthrough && !o.jpeg)
		return pfm_usage_fail("--passthrough needs --encoding jpeg");
	if (!o.random && o.nmpp > 1)
		for (int k = 0; k < o.nmpp; k++)
			if (o.weight[k] != 1)
				return pfm_usage_fail("--mpp weights are for --mode random");
	if ((rc = pfm_io_check(&o.io, o.output, 1)))
		return rc;
	pfm_err e = {0};
	if (slides_file && pfm_slide_list_read(&list, slides_file, &e)) {
		pfm_slide_list_free(&list);
		return pfm_fail("%s", e.msg);
	}
	for (; optind < argc; optind++) {
		struct stat st;
		int dir = !stat(argv[optind], &st) && S_ISDIR(st.st_mode);
		if (dir ? pfm_slide_list_add_dir(&list, argv[optind], &e)
			: pfm_slide_list_add(&list, argv[optind], &e)) {
			pfm_slide_list_free(&list);
			return pfm_fail("%s", e.msg);
		}
	}
	if (!list.n) {
		pfm_slide_list_free(&list);
		return pfm_usage_fail("no slides: give paths or --slides FILE");
	}
	rc = pfm_wsi_run(&o, pfm_warn, &e);
	if (rc && e.msg[0])
		pfm_warn("%s", e.msg);
	pfm_slide_list_free(&list);
	return rc;
}
