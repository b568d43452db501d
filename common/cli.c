#include "cli.h"
#include "curve.h"
#include "endpoint.h"

#include <getopt.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "pathfm";

void pfm_cli_init(const char *name)
{
	const char *slash = strrchr(name, '/');
	prog = slash ? slash + 1 : name;
	/* A closed pipe becomes EPIPE, which main turns into a quiet exit. */
	signal(SIGPIPE, SIG_IGN);
}

const char *pfm_prog(void) { return prog; }

static void vsay(const char *fmt, va_list ap)
{
	char line[1024];
	vsnprintf(line, sizeof line, fmt, ap);
	fprintf(stderr, "%s: %s\n", prog, line);
}

int pfm_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	return PFM_EXIT_DATA;
}

int pfm_usage_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	return pfm_usage_hint();
}

int pfm_usage_hint(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	return PFM_EXIT_USAGE;
}

void pfm_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

void pfm_print_version(void)
{
	printf("%s (pathfm) %s\n", prog, PFM_VERSION);
}

double pfm_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void pfm_progress_init(pfm_progress *p, int force, int quiet)
{
	memset(p, 0, sizeof *p);
	p->on = !quiet && (force || isatty(2));
	p->t0 = p->last = pfm_now();
}

static void draw(pfm_progress *p, double t, const char *end)
{
	double dt = t - p->t0 > 1e-9 ? t - p->t0 : 1e-9;
	fprintf(stderr, "\r%s: %llu frames, %.1f MB, %.0f frames/s, %.1f MB/s%s",
		prog, (unsigned long long)p->frames, p->bytes / 1e6,
		p->frames / dt, p->bytes / 1e6 / dt, end);
}

void pfm_progress_add(pfm_progress *p, uint64_t frames, uint64_t bytes)
{
	p->frames += frames;
	p->bytes += bytes;
	if (!p->on)
		return;
	double t = pfm_now();
	if (t - p->last >= 0.2) {
		p->last = t;
		draw(p, t, "\033[K");
	}
}

void pfm_progress_done(pfm_progress *p)
{
	if (p->on)
		draw(p, pfm_now(), "\033[K\n");
}

int pfm_parse_i64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

int pfm_parse_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end || v > (SIZE_MAX >> shift))
		return -1;
	*out = (size_t)v << shift;
	return 0;
}

int pfm_io_option(int c, const char *arg, pfm_io_opts *io)
{
	int64_t v;
	char *end;
	double sec;
	switch (c) {
	case PFM_OPT_MAX_FRAME:
		if (pfm_parse_size(arg, &io->max_frame) || !io->max_frame)
			return pfm_usage_fail("--max-frame: not a size: '%s'", arg);
		return 0;
	case PFM_OPT_HWM:
		if (pfm_parse_i64(arg, &v) || v < 1 || v > 1000000)
			return pfm_usage_fail("--hwm: not a count in 1..1000000: '%s'", arg);
		io->zmq_hwm = (int)v;
		return 0;
	case PFM_OPT_TIMEOUT:
		sec = strtod(arg, &end);
		if (end == arg || *end || !(sec > 0) || sec > 2e6)
			return pfm_usage_fail("--timeout: not a number of seconds: '%s'", arg);
		io->timeout_ms = (int)(sec * 1000 + 0.5);
		return 0;
	case PFM_OPT_LENIENT:
		io->allow_no_eos = 1;
		return 0;
	case PFM_OPT_FORCE:
		io->force_tty = 1;
		return 0;
	case PFM_OPT_CURVE_SECRET: io->curve_secret = arg; return 0;
	case PFM_OPT_CURVE_SERVER: io->curve_server = arg; return 0;
	case PFM_OPT_CURVE_ALLOW: io->curve_allow = arg; return 0;
	case PFM_OPT_INSECURE: io->insecure = 1; return 0;
	default:
		return pfm_usage_hint(); /* getopt said why */
	}
}

int pfm_io_check(const pfm_io_opts *io, const char *spec, int output)
{
	pfm_err e = {0};
	if (!spec || !pfm_spec_is_zmq(spec))
		return 0;
	int hub = pfm_spec_is_hub(spec);
	const char *eps = hub ? spec + strlen(PFM_HUB_PREFIX) : spec;
	/* A worker's link connects unless told to bind; a plain PULL
	 * binds and a PUSH connects (endpoint.h). */
	if (!pfm_curve_check(eps, !hub && !output, io, &e))
		return 0;
	pfm_warn("%s", e.msg);
	return PFM_EXIT_USAGE;
}

int pfm_io_check_list(const pfm_io_opts *io, const char *const *specs,
		      int n, int output)
{
	int rc = 0;
	for (int i = 0; i < n && !rc; i++)
		rc = pfm_io_check(io, specs[i], output);
	return rc;
}
