/* cli.h: the conventions every program shares. main() uses these to
 * report and decides the exit code; nothing here exits. */
#ifndef PFM_CLI_H
#define PFM_CLI_H

#include <stdint.h>

#include "err.h"
#include "io.h"

#ifndef PFM_VERSION
#define PFM_VERSION "0.1.0"
#endif

/* Call first in main: program name for messages, SIGPIPE ignored (EPIPE
 * becomes an error value we can exit quietly on). */
void pfm_cli_init(const char *prog);
const char *pfm_prog(void);

/* "prog: msg" on stderr. Returns PFM_EXIT_DATA / PFM_EXIT_USAGE. */
int pfm_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int pfm_usage_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* Only the "Try --help" line, after getopt's own message. */
int pfm_usage_hint(void);
void pfm_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pfm_print_version(void);

/* Progress on stderr: on when stderr is a terminal or forced, off with
 * quiet. Redraws at most 5 times a second. */
typedef struct {
	int on;
	double t0, last;
	uint64_t frames, bytes;
} pfm_progress;

void pfm_progress_init(pfm_progress *p, int force, int quiet);
void pfm_progress_add(pfm_progress *p, uint64_t frames, uint64_t bytes);
void pfm_progress_done(pfm_progress *p);
double pfm_now(void);

/* The transport options every frame program shares. A program puts the
 * ones it accepts in its getopt_long table with these codes and hands
 * codes it does not know to pfm_io_option. */
enum {
	PFM_OPT_MAX_FRAME = 0x1000, PFM_OPT_HWM, PFM_OPT_TIMEOUT,
	PFM_OPT_LENIENT, PFM_OPT_FORCE,
	PFM_OPT_CURVE_SECRET, PFM_OPT_CURVE_SERVER, PFM_OPT_CURVE_ALLOW,
	PFM_OPT_INSECURE
};
#define PFM_LONGOPT_MAX_FRAME {"max-frame", required_argument, 0, PFM_OPT_MAX_FRAME}
#define PFM_LONGOPT_HWM {"hwm", required_argument, 0, PFM_OPT_HWM}
#define PFM_LONGOPT_TIMEOUT {"timeout", required_argument, 0, PFM_OPT_TIMEOUT}
#define PFM_LONGOPT_LENIENT {"lenient", no_argument, 0, PFM_OPT_LENIENT}
#define PFM_LONGOPT_FORCE {"force", no_argument, 0, PFM_OPT_FORCE}
/* Every program with ZeroMQ endpoints takes all four (pathfm(7)
 * SECURITY); PFM_HELP_CURVE is their --help lines. */
#define PFM_LONGOPTS_CURVE \
	{"curve-secret", required_argument, 0, PFM_OPT_CURVE_SECRET}, \
	{"curve-server", required_argument, 0, PFM_OPT_CURVE_SERVER}, \
	{"curve-allow", required_argument, 0, PFM_OPT_CURVE_ALLOW}, \
	{"insecure", no_argument, 0, PFM_OPT_INSECURE}
#define PFM_HELP_CURVE \
"      --curve-secret FILE  this program's CURVE key pair (pfm-keygen):\n" \
"                        ZeroMQ encrypted (default $PFM_CURVE_SECRET)\n" \
"      --curve-server KEY  the public key (FILE or Z85 text) of the peer\n" \
"                        it connects to (default $PFM_CURVE_SERVER)\n" \
"      --curve-allow DIR  the public keys (DIR/*.pub) allowed to connect\n" \
"                        to what it binds (default $PFM_CURVE_ALLOW)\n" \
"      --insecure        allow ZeroMQ in the clear beyond loopback\n"

/* For main's `default:` case: apply option c with value arg to io and
 * return 0, or report a bad value or an unknown option (after getopt's
 * own message) and return PFM_EXIT_USAGE. */
int pfm_io_option(int c, const char *arg, pfm_io_opts *io);

/* For main, after the options and before opening: an endpoint that the
 * CURVE options do not cover (cleartext beyond loopback without
 * --insecure, a key missing for its side, an unreadable key) is reported
 * and PFM_EXIT_USAGE returned; 0 otherwise (also for NULL, - and files).
 * output: spec is written (a PUSH connects unless @; a PULL binds). */
int pfm_io_check(const pfm_io_opts *io, const char *spec, int output);
/* The same for n specs. */
int pfm_io_check_list(const pfm_io_opts *io, const char *const *specs,
		      int n, int output);

/* Parse helpers for option values: 0 ok, -1 bad. */
int pfm_parse_size(const char *s, size_t *out); /* 64M, 1G, 4096 */
int pfm_parse_i64(const char *s, int64_t *out);

#endif
