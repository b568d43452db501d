/* pfm-keygen: make CURVE key pairs for the ZeroMQ endpoints. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "curve.h"

static const char usage[] =
"Usage: pfm-keygen NAME...\n"
"Make a CURVE key pair for each NAME: NAME.key (the pair, secret, mode\n"
"0600) and NAME.pub (the public key, for the peers that trust NAME). An\n"
"existing NAME.key or NAME.pub is never overwritten. Programs take the\n"
"pair with --curve-secret NAME.key; a program that binds lets in the keys\n"
"in its --curve-allow directory, one that connects names the binding\n"
"program's key with --curve-server NAME.pub.\n"
"\n"
"  -h, --help            show this help and exit\n"
"  -V, --version         show the version and exit\n"
"\n"
"Exit status: 0 ok, 1 a pair not made (exists, no permission), 2 usage\n"
"error.\n"
"Examples:\n"
"  pfm-keygen hub worker1 worker2\n"
"  mkdir allowed && cp worker1.pub worker2.pub allowed/\n"
"  frame-hub --curve-secret hub.key --curve-allow allowed -w @tcp://*:5556\n"
"See pfm-keygen(1), pathfm(7) (SECURITY).\n";

static const struct option longopts[] = {
	{"help", no_argument, 0, 'h'},
	{"version", no_argument, 0, 'V'},
	{0, 0, 0, 0},
};

int main(int argc, char **argv)
{
	pfm_cli_init(argv[0]);
	int c;
	while ((c = getopt_long(argc, argv, "hV", longopts, 0)) != -1) {
		switch (c) {
		case 'h': fputs(usage, stdout); return 0;
		case 'V': pfm_print_version(); return 0;
		default: return pfm_usage_hint();
		}
	}
	if (optind == argc)
		return pfm_usage_fail("no NAME: give the name of each pair to "
				      "make");
	int rc = 0;
	for (; optind < argc; optind++) {
		pfm_err e = {0};
		if (pfm_curve_keygen(argv[optind], &e))
			rc = pfm_fail("%s", e.msg);
	}
	return rc;
}
