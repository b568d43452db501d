/* cat.c: frame-cat. Frames (or JSON lines) in; JSON lines, a count, or
 * frames out; with type selection, head/tail and schema checks. */
#include "cat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "schema.h"

enum { GO = 0, STOP = 1, FAIL = -1 };

typedef struct {
	const pfm_cat_opts *o;
	void (*warn)(const char *, ...);
	pfm_err *e;
	pfm_writer *w;
	FILE *json;
	char json_tmp[4200];
	pfm_schemas *schemas;
	pfm_progress prog;
	int64_t selected;
	int invalid;
	int hub_in;      /* the input is a hub: pass its sync frames back */
	double t0;       /* --rate: when the first frame went */
	int64_t paced;
	/* --tail: copies of the last N frames' bytes */
	char **ring;
	size_t *ring_len;
	int64_t ring_n;
} cat_state;

static int selected_type(const pfm_cat_opts *o, const pfm_frame *f)
{
	if (!o->ntypes)
		return 1;
	for (int i = 0; i < o->ntypes; i++)
		if (pfm_frame_is(f, o->types[i]))
			return 1;
	return 0;
}

static int json_failed(cat_state *s)
{
	if (!ferror(s->json))
		return 0;
	s->e->code = errno;
	return pfm_errf(s->e, "%s: write: %s",
			s->o->output && strcmp(s->o->output, "-") ?
				s->o->output : "stdout", strerror(errno));
}

static int emit(cat_state *s, const pfm_frame *f)
{
	if (s->o->count)
		return GO;
	if (s->w) {
		if (pfm_write_frame(s->w, f)) {
			*s->e = (pfm_err){0};
			pfm_errf(s->e, "%s", pfm_writer_error(s->w));
			s->e->code = pfm_writer_epipe(s->w) ? EPIPE : 0;
			return FAIL;
		}
		return GO;
	}
	if (pfm_json_write(s->json, &f->root, s->o->full, s->e))
		return pfm_err_prefix(s->e, "frame %llu",
				      (unsigned long long)f->index);
	putc_unlocked('\n', s->json);
	return json_failed(s) ? FAIL : GO;
}

static int keep_tail(cat_state *s, const pfm_frame *f)
{
	int64_t slot = (s->selected - 1) % s->o->tail;
	char *copy = realloc(s->ring[slot], f->raw_len);
	if (!copy)
		return pfm_errf(s->e, "out of memory");
	memcpy(copy, f->raw, f->raw_len);
	s->ring[slot] = copy;
	s->ring_len[slot] = f->raw_len;
	if (s->ring_n < s->o->tail)
		s->ring_n++;
	return GO;
}

/* --rate: frame k goes no sooner than k / rate seconds after the first
 * (a slow stage or sink on purpose: rehearsals, tests of backpressure). */
static void pace(cat_state *s)
{
	if (!s->paced++) {
		s->t0 = pfm_now();
		return;
	}
	double wait = s->t0 + (s->paced - 1) / s->o->rate - pfm_now();
	if (wait > 0) {
		struct timespec ts = {(time_t)wait,
				      (long)((wait - (time_t)wait) * 1e9)};
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
}

static int handle(cat_state *s, const pfm_frame *f)
{
	const pfm_cat_opts *o = s->o;
	/* Transport control, not data: back to the hub, never selected,
	 * counted or checked. */
	if (s->hub_in && pfm_frame_is(f, PFM_T_SYNC))
		return s->w ? emit(s, f) : GO;
	pfm_progress_add(&s->prog, !pfm_frame_is(f, PFM_T_EOS), f->raw_len);
	if (pfm_frame_is(f, PFM_T_EOS))
		return o->show_eos && !s->w && !o->count && o->tail < 0 ?
			       emit(s, f) : GO;
	if (!selected_type(o, f))
		return GO;
	if (o->head >= 0 && s->selected >= o->head)
		return STOP;
	s->selected++;
	if (o->rate > 0)
		pace(s);
	if (s->schemas) {
		pfm_err ve = {0};
		if (pfm_schemas_check(s->schemas, &f->root, &ve)) {
			s->warn("frame %llu: %s", (unsigned long long)f->index,
				ve.msg);
			s->invalid = 1;
		}
	}
	if (o->tail >= 0)
		return o->tail ? keep_tail(s, f) : GO;
	return emit(s, f);
}

/* Re-read a frame from bytes we own (tail copies, JSON input). */
static int frame_from_bytes(pfm_frame *f, const char *p, size_t n,
			    msgpack_zone *z, uint64_t index, pfm_err *e)
{
	msgpack_object root;
	size_t off = 0;
	msgpack_zone_clear(z);
	if (msgpack_unpack(p, n, &off, z, &root) != MSGPACK_UNPACK_SUCCESS)
		return pfm_errf(e, "MessagePack decode failed");
	if (pfm_frame_init(f, &root, e))
		return -1;
	f->raw = p;
	f->raw_len = n;
	f->index = index;
	return 0;
}

static int flush_tail(cat_state *s)
{
	msgpack_zone z;
	msgpack_zone_init(&z, 4096);
	int rc = GO;
	int64_t first = s->selected - s->ring_n;
	for (int64_t i = 0; i < s->ring_n && rc == GO; i++) {
		int64_t slot = (first + i) % s->o->tail;
		pfm_frame f;
		if (frame_from_bytes(&f, s->ring[slot], s->ring_len[slot], &z,
				     (uint64_t)(first + i), s->e))
			rc = FAIL;
		else
			rc = emit(s, &f);
	}
	msgpack_zone_destroy(&z);
	return rc;
}

static int run_frames(cat_state *s, const char *spec)
{
	pfm_io_opts io = s->o->io;
	io.return_eos = 1;
	s->hub_in = pfm_spec_is_hub(spec);
	pfm_reader *r = pfm_reader_open(spec, &io, s->e);
	if (!r)
		return FAIL;
	pfm_frame f;
	int rc, st = GO;
	while (st == GO && (rc = pfm_read(r, &f)) == 1)
		st = handle(s, &f);
	if (st == GO && rc < 0)
		st = pfm_errf(s->e, "%s", pfm_reader_error(r));
	pfm_reader_close(r);
	return st;
}

/* JSON Lines: one frame per line; blank lines are skipped. */
static int run_json(cat_state *s, const char *spec)
{
	FILE *in = strcmp(spec, "-") ? fopen(spec, "r") : stdin;
	if (!in)
		return pfm_errf(s->e, "%s: %s", spec, strerror(errno));
	const char *name = in == stdin ? "stdin" : spec;
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_zone z;
	msgpack_zone_init(&z, 4096);
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int st = GO;
	uint64_t index = 0;
	while (st == GO && (n = getline(&line, &cap, in)) >= 0) {
		lineno++;
		size_t used = 0;
		while (used < (size_t)n && strchr(" \t\r\n", line[used]))
			used++;
		if (used == (size_t)n)
			continue;
		msgpack_packer pk;
		msgpack_sbuffer_clear(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		size_t consumed;
		pfm_frame f;
		int bad = pfm_json_parse(line, (size_t)n, &consumed, &pk, s->e);
		if (!bad && strspn(line + consumed, " \t\r\n") !=
				    (size_t)n - consumed)
			bad = pfm_errf(s->e, "more than one JSON value");
		if (!bad)
			bad = frame_from_bytes(&f, sb.data, sb.size, &z,
					       index++, s->e);
		if (bad) {
			st = pfm_err_prefix(s->e, "%s:%zu", name, lineno);
			break;
		}
		st = handle(s, &f);
	}
	if (st == GO && ferror(in))
		st = pfm_errf(s->e, "%s: read: %s", name, strerror(errno));
	free(line);
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
	if (in != stdin)
		fclose(in);
	return st;
}

static int open_outputs(cat_state *s)
{
	const pfm_cat_opts *o = s->o;
	const char *out = o->output ? o->output : "-";
	if (o->count)
		return 0;
	if (o->to_frames) {
		s->w = pfm_writer_open(out, &o->io, s->e);
		return s->w ? 0 : -1;
	}
	if (!strcmp(out, "-")) {
		s->json = stdout;
		static char buf[1 << 20];
		setvbuf(stdout, buf, _IOFBF, sizeof buf);
		return 0;
	}
	/* A device or FIFO is written in place; a file atomically. */
	struct stat st;
	if (!stat(out, &st) && !S_ISREG(st.st_mode)) {
		s->json = fopen(out, "w");
		return s->json ? 0 : pfm_errf(s->e, "%s: %s", out, strerror(errno));
	}
	snprintf(s->json_tmp, sizeof s->json_tmp, "%s.tmp.%ld", out,
		 (long)getpid());
	s->json = fopen(s->json_tmp, "w");
	return s->json ? 0 : pfm_errf(s->e, "%s: %s", s->json_tmp,
				      strerror(errno));
}

static int close_outputs(cat_state *s, int ok)
{
	const char *out = s->o->output;
	int rc = 0;
	if (s->w) {
		pfm_err we = {0};
		if (pfm_writer_close(s->w, ok, &we) && ok) {
			*s->e = we;
			rc = -1;
		}
	} else if (s->json) {
		if (fflush(s->json) || json_failed(s))
			rc = ok ? pfm_errf(s->e, "write: %s", strerror(errno)) : -1;
		if (s->json != stdout)
			fclose(s->json);
		if (s->json_tmp[0]) { /* a file: into place only if whole */
			if (ok && !rc && rename(s->json_tmp, out))
				rc = pfm_errf(s->e, "%s: %s", out, strerror(errno));
			if (!ok || rc)
				unlink(s->json_tmp);
		}
	}
	return rc;
}

int pfm_cat_run(const pfm_cat_opts *o, void (*warn)(const char *, ...),
		pfm_err *e)
{
	cat_state s = {.o = o, .warn = warn, .e = e};
	int rc = GO;
	pfm_progress_init(&s.prog, o->progress, o->quiet);
	if (o->check && !(s.schemas = pfm_schemas_load(o->schema_dir, e)))
		return 1;
	if (o->tail > 0) {
		s.ring = calloc((size_t)o->tail, sizeof *s.ring);
		s.ring_len = calloc((size_t)o->tail, sizeof *s.ring_len);
		if (!s.ring || !s.ring_len)
			rc = pfm_errf(e, "out of memory");
	}
	if (rc == GO)
		rc = open_outputs(&s);
	for (int i = 0; i < o->ninputs && rc == GO; i++)
		rc = o->from_json ? run_json(&s, o->inputs[i])
				  : run_frames(&s, o->inputs[i]);
	if (rc != FAIL && o->tail > 0)
		rc = flush_tail(&s);
	pfm_progress_done(&s.prog);
	if (rc != FAIL && o->count) {
		printf("%lld\n", (long long)s.selected);
		if (fflush(stdout))
			rc = pfm_errf(e, "stdout: %s", strerror(errno));
	}
	if (close_outputs(&s, rc != FAIL) && rc != FAIL)
		rc = FAIL;
	for (int64_t i = 0; s.ring && i < o->tail; i++)
		free(s.ring[i]);
	free(s.ring);
	free(s.ring_len);
	pfm_schemas_free(s.schemas);
	if (rc == FAIL)
		return e->code == EPIPE ? 0 : 1;
	return s.invalid ? 1 : 0;
}
