/* frame-hub: share a frame stream among workers on other hosts. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hub.h"
#include "io.h"

static const char usage[] =
"Usage: frame-hub -w SPEC [OPTION]...\n"
"Share a stream of frames among worker processes, on this host or others,\n"
"and gather their outputs: frames in on -i go to the workers that connect\n"
"to -w, and what they make goes out on -o, each exactly once, in input\n"
"order. A worker is any pathfm program run with -i hub:ADDR -o hub:ADDR.\n"
"Workers may join late or leave; the frames of one that dies are sent to\n"
"the others.\n"
"\n"
"  -w, --work SPEC       where workers connect (binds unless SPEC starts\n"
"                        with >), e.g. @tcp://0.0.0.0:5556\n"
"  -i, --input SPEC      read from SPEC (-, file, or endpoint; default -)\n"
"  -o, --output SPEC     write to SPEC (default -)\n"
"      --unordered       write outputs as they come, not in input order\n"
"      --window N        frames a worker may hold unfinished (default 32)\n"
"      --reorder N       frames between the oldest unfinished one and the\n"
"                        newest read: bounds memory (default 256)\n"
"      --retries N       give up on a frame taken by more than N workers\n"
"                        that died or failed (default 3)\n"
"      --heartbeat SEC   a worker silent this long is lost (default 5)\n"
"      --max-frame SIZE  largest frame accepted (default 256M)\n"
"      --hwm N           ZeroMQ high-water mark of -i/-o in frames\n"
"                        (default 4)\n"
"      --timeout SEC     fail when no frame moves for SEC seconds\n"
"      --lenient         accept input without an end-of-stream frame\n"
"      --force           write frames even to a terminal\n"
PFM_HELP_CURVE
"      --progress        progress on stderr even when not a terminal\n"
"  -q, --quiet           no progress line\n"
"  -h, --help            show this help and exit\n"
"  -V, --version         show the version and exit\n"
"\n"
"Exit status: 0 ok, 1 bad data, I/O error or lost frames, 2 usage error.\n"
"Examples:\n"
"  wsi-tile --mpp 0.5 slides/*.svs | frame-hub -w @tcp://0.0.0.0:5556 > emb.mpk\n"
"  node2$ embed -m uni -i hub:tcp://hub:5556 -o hub:tcp://hub:5556\n"
"  (beyond loopback, each with CURVE keys or --insecure: pathfm(7) SECURITY)\n"
"See frame-hub(1), pathfm(7), pipelines/scale.\n";

enum { O_UNORDERED = 256, O_WINDOW, O_REORDER, O_RETRIES, O_HEARTBEAT,
       O_PROGRESS };

static const struct option longopts[] = {
	{"work", required_argument, 0, 'w'},
	{"input", required_argument, 0, 'i'},
	{"output", required_argument, 0, 'o'},
	{"unordered", no_argument, 0, O_UNORDERED},
	{"window", required_argument, 0, O_WINDOW},
	{"reorder", required_argument, 0, O_REORDER},
	{"retries", required_argument, 0, O_RETRIES},
	{"heartbeat", required_argument, 0, O_HEARTBEAT},
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

static int count_arg(const char *name, const char *s, int lo, int hi, int *out)
{
	int64_t v;
	if (pfm_parse_i64(s, &v) || v < lo || v > hi)
		return pfm_usage_fail("--%s: want %d..%d, not '%s'", name, lo,
				      hi, s);
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	pfm_cli_init(argv[0]);
	pfm_hub_opts o = {.window = PFM_HUB_WINDOW, .reorder = PFM_HUB_REORDER,
			  .retries = PFM_HUB_RETRIES,
			  .heartbeat_ms = PFM_HUB_HEARTBEAT_MS, .warn = pfm_warn};
	int c, rc;
	char *end;
	double sec;
	while ((c = getopt_long(argc, argv, "w:i:o:qhV", longopts, 0)) != -1) {
		switch (c) {
		case 'w': o.work = optarg; break;
		case 'i': o.input = optarg; break;
		case 'o': o.output = optarg; break;
		case O_UNORDERED: o.unordered = 1; break;
		case O_WINDOW:
			if ((rc = count_arg("window", optarg, 1, 65536, &o.window)))
				return rc;
			break;
		case O_REORDER:
			if ((rc = count_arg("reorder", optarg, 1, 1 << 24, &o.reorder)))
				return rc;
			break;
		case O_RETRIES:
			if ((rc = count_arg("retries", optarg, 0, 1000, &o.retries)))
				return rc;
			break;
		case O_HEARTBEAT:
			sec = strtod(optarg, &end);
			if (end == optarg || *end || !(sec >= 0.05) || sec > 86400)
				return pfm_usage_fail("--heartbeat: seconds in "
						      "0.05..86400, not '%s'", optarg);
			o.heartbeat_ms = (int)(sec * 1000 + 0.5);
			break;
		case O_PROGRESS: o.progress = 1; break;
		case 'q': o.quiet = 1; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': pfm_print_version(); return 0;
		default:
			if ((rc = pfm_io_option(c, optarg, &o.io)))
				return rc;
		}
	}
	if (optind < argc)
		return pfm_usage_fail("unexpected argument '%s' (input is -i "
				      "or stdin)", argv[optind]);
	if (!o.work)
		return pfm_usage_fail("no work endpoint: give -w, e.g. "
				      "-w @tcp://0.0.0.0:5556");
	if (pfm_spec_is_hub(o.work) || !pfm_spec_is_zmq(o.work))
		return pfm_usage_fail("-w %s: a ZeroMQ endpoint (tcp://, "
				      "ipc://), without hub:", o.work);
	if ((o.input && pfm_spec_is_hub(o.input)) ||
	    (o.output && pfm_spec_is_hub(o.output)))
		return pfm_usage_fail("-i/-o: a hub: endpoint is for workers; "
				      "chain hubs through plain endpoints");
	if ((rc = pfm_io_check(&o.io, o.work, 0)) ||
	    (rc = pfm_io_check(&o.io, o.input, 0)) ||
	    (rc = pfm_io_check(&o.io, o.output, 1)))
		return rc;
	pfm_err e = {0};
	if (pfm_hub_run(&o, &e) == 0)
		return 0;
	if (e.code == EPIPE) /* the reader went away: quietly */
		return 0;
	return pfm_fail("%s", e.msg);
}
