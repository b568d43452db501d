/* frame-cat: inspect, convert, select and validate frame streams. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cat.h"
#include "cli.h"
#include "io.h"

static const char usage[] =
"Usage: frame-cat [OPTION]... [INPUT]...\n"
"Frames in, JSON lines (or frames) out. INPUT is -, a file or a ZeroMQ\n"
"endpoint (@tcp://0.0.0.0:5555 binds, >tcp://host:5555 connects); default -.\n"
"\n"
"  -i, --input SPEC      read SPEC (same as an INPUT argument)\n"
"  -o, --output SPEC     write to SPEC (-, file, or endpoint; default -)\n"
"  -F, --frames          write frames instead of JSON lines\n"
"  -J, --from-json       inputs are JSON lines (as printed with --full)\n"
"      --full            print binary payloads as base64 (round-trips)\n"
"      --eos             also print end-of-stream frames\n"
"  -c, --count           print the number of selected frames only\n"
"      --check           validate every frame against its schema\n"
"      --schemas DIR     schemas to check against (default: built in)\n"
"  -t, --type TYPE[,..]  select frames of these types\n"
"  -n, --head N          the first N selected frames\n"
"      --tail N          the last N selected frames\n"
"      --rate N          at most N frames a second (a slow stage on purpose)\n"
"      --max-frame SIZE  largest frame accepted (default 256M)\n"
"      --hwm N           ZeroMQ high-water mark in frames (default 4)\n"
"      --timeout SEC     ZeroMQ: fail when no frame moves for SEC seconds\n"
"      --lenient         accept input without an end-of-stream frame\n"
"      --force           write frames even to a terminal\n"
PFM_HELP_CURVE
"      --progress        progress on stderr even when not a terminal\n"
"  -q, --quiet           no progress line\n"
"  -h, --help            show this help and exit\n"
"  -V, --version         show the version and exit\n"
"\n"
"Exit status: 0 ok, 1 bad data or I/O error, 2 usage error.\n"
"Examples:\n"
"  frame-cat tiles.mpk | jq -c '{slide_id, x, y}'\n"
"  frame-cat --check -c tiles.mpk\n"
"  frame-cat -t tile -n 10 -F tiles.mpk > first10.mpk\n"
"  frame-cat --full a.mpk | frame-cat -J > b.mpk\n"
"  frame-cat -F -i hub:tcp://hub:5556 -o hub:tcp://hub:5556   (a worker)\n"
"  (beyond loopback, tcp needs CURVE keys or --insecure: pathfm(7) SECURITY)\n"
"See frame-cat(1), frame-hub(1), pathfm-frames(5).\n";

enum { O_FULL = 256, O_EOS, O_CHECK, O_SCHEMAS, O_TAIL, O_RATE, O_PROGRESS };

static const struct option longopts[] = {
	{"input", required_argument, 0, 'i'},
	{"output", required_argument, 0, 'o'},
	{"frames", no_argument, 0, 'F'},
	{"from-json", no_argument, 0, 'J'},
	{"full", no_argument, 0, O_FULL},
	{"eos", no_argument, 0, O_EOS},
	{"count", no_argument, 0, 'c'},
	{"check", no_argument, 0, O_CHECK},
	{"schemas", required_argument, 0, O_SCHEMAS},
	{"type", required_argument, 0, 't'},
	{"head", required_argument, 0, 'n'},
	{"tail", required_argument, 0, O_TAIL},
	{"rate", required_argument, 0, O_RATE},
	PFM_LONGOPT_MAX_FRAME,
	PFM_LONGOPT_HWM,
	PFM_LONGOPT_LENIENT,
	PFM_LONGOPT_TIMEOUT,
	PFM_LONGOPT_FORCE,
	PFM_LONGOPTS_CURVE,
	{"progress", no_argument, 0, O_PROGRESS},
	{"quiet", no_argument, 0, 'q'},
	{"help", no_argument, 0, 'h'},
	{"version", no_argument, 0, 'V'},
	{0, 0, 0, 0},
};

int main(int argc, char **argv)
{
	pfm_cli_init(argv[0]);
	static const char *inputs[256];
	pfm_cat_opts o = {.inputs = inputs, .head = -1, .tail = -1};
	int c, rc;
	while ((c = getopt_long(argc, argv, "i:o:FJct:n:qhV", longopts, 0)) != -1) {
		int64_t v;
		switch (c) {
		case 'i':
			if (o.ninputs == 256)
				return pfm_usage_fail("too many inputs");
			inputs[o.ninputs++] = optarg;
			break;
		case 'o': o.output = optarg; break;
		case 'F': o.to_frames = 1; break;
		case 'J': o.from_json = 1; break;
		case O_FULL: o.full = 1; break;
		case O_EOS: o.show_eos = 1; break;
		case 'c': o.count = 1; break;
		case O_CHECK: o.check = 1; break;
		case O_SCHEMAS: o.schema_dir = optarg; break;
		case 't':
			for (char *t = strtok(optarg, ","); t; t = strtok(NULL, ",")) {
				if (o.ntypes == PFM_CAT_MAX_TYPES)
					return pfm_usage_fail("too many --type values");
				o.types[o.ntypes++] = t;
			}
			break;
		case 'n':
		case O_TAIL:
			if (pfm_parse_i64(optarg, &v) || v < 0)
				return pfm_usage_fail("--%s: not a count: '%s'",
						      c == 'n' ? "head" : "tail", optarg);
			*(c == 'n' ? &o.head : &o.tail) = v;
			break;
		case O_RATE: {
			char *end;
			o.rate = strtod(optarg, &end);
			if (end == optarg || *end || !(o.rate > 0) || o.rate > 1e9)
				return pfm_usage_fail("--rate: not a number of frames "
						      "a second: '%s'", optarg);
			break;
		}
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
	if (o.head >= 0 && o.tail >= 0)
		return pfm_usage_fail("--head and --tail cannot be combined");
	if (o.count && (o.to_frames || o.full))
		return pfm_usage_fail("--count prints a number: not with --frames or --full");
	if (o.from_json && !o.count)
		o.to_frames = 1; /* JSON lines in: frames out */
	if (o.output && pfm_spec_is_zmq(o.output) && !o.to_frames)
		return pfm_usage_fail("%s: only frames go to a ZeroMQ endpoint: add -F", o.output);
	if ((rc = pfm_io_check_list(&o.io, inputs, o.ninputs, 0)) ||
	    (rc = pfm_io_check(&o.io, o.output, 1)))
		return rc;
	pfm_err e = {0};
	rc = pfm_cat_run(&o, pfm_warn, &e);
	if (rc && e.msg[0])
		pfm_warn("%s", e.msg);
	return rc;
}
