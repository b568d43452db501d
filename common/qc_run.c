/* qc_run.c: tile-filter. Read frames; decode each tile's pixels once,
 * measure, decide; write it with a "qc" map to the output (kept) or to
 * the dropped output; pass other frames through. */
#include "qc_run.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "qc_report.h"
#include "tile_pixels.h"

enum { GO = 0, FAIL = -1 };
#define MAX_WARNINGS 20 /* bad frames reported one by one (keep_going) */

/* The "qc" map, built in place (no allocation per frame). */
typedef struct {
	msgpack_object_kv kv[24];
	msgpack_object arr[4][3];
	msgpack_object map;
	char err[512];
} qc_obj;

typedef struct {
	const pfm_qc_run_opts *o;
	void (*warn)(const char *, ...);
	pfm_err *e;
	pfm_writer *out, *drop;
	pfm_build *b;
	pfm_pixdec *dec;
	pfm_qc_ctx *qc;
	pfm_progress prog;
	pfm_qc_tally t;
	qc_obj q;
	uint64_t bad; /* bad tile frames dropped under keep_going */
} run_state;

static msgpack_object str_obj(const char *s)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_STR};
	o.via.str.ptr = s;
	o.via.str.size = (uint32_t)strlen(s);
	return o;
}

static msgpack_object f64_obj(double v)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_FLOAT64};
	o.via.f64 = v;
	return o;
}

static msgpack_object int_obj(int64_t v)
{
	msgpack_object o = {.type = v < 0 ? MSGPACK_OBJECT_NEGATIVE_INTEGER
					  : MSGPACK_OBJECT_POSITIVE_INTEGER};
	if (v < 0)
		o.via.i64 = v;
	else
		o.via.u64 = (uint64_t)v;
	return o;
}

static void put(qc_obj *q, const char *key, msgpack_object v)
{
	uint32_t n = q->map.via.map.size;
	q->kv[n].key = str_obj(key);
	q->kv[n].val = v;
	q->map.via.map.size = n + 1;
}

static void put3(qc_obj *q, int slot, const char *key, const double *v)
{
	for (int i = 0; i < 3; i++)
		q->arr[slot][i] = f64_obj(v[i]);
	msgpack_object a = {.type = MSGPACK_OBJECT_ARRAY};
	a.via.array.size = 3;
	a.via.array.ptr = q->arr[slot];
	put(q, key, a);
}

static void qc_reset(qc_obj *q, int pass, pfm_qc_reason r)
{
	q->map.type = MSGPACK_OBJECT_MAP;
	q->map.via.map.ptr = q->kv;
	q->map.via.map.size = 0;
	msgpack_object b = {.type = MSGPACK_OBJECT_BOOLEAN};
	b.via.boolean = pass;
	put(q, "pass", b);
	put(q, "reason", str_obj(pfm_qc_reason_name(r)));
}

static void qc_measures(qc_obj *q, const pfm_qc *m, int stats)
{
	put(q, "tissue", f64_obj(m->tissue));
	put(q, "hsv", f64_obj(m->hsv));
	put(q, "white", f64_obj(m->white));
	put(q, "black", f64_obj(m->black));
	put(q, "background", f64_obj(m->background));
	put(q, "pen", f64_obj(m->pen));
	put(q, "pen_red", f64_obj(m->pen_red));
	put(q, "pen_green", f64_obj(m->pen_green));
	put(q, "pen_blue", f64_obj(m->pen_blue));
	put(q, "dark", f64_obj(m->dark));
	put(q, "lapvar", f64_obj(m->lapvar));
	put(q, "blur", f64_obj(m->blur));
	put(q, "sat_threshold", int_obj(m->sat_threshold));
	if (stats) {
		put(q, "stats_n", int_obj(m->stats_n));
		put3(q, 0, "od_mean", m->od_mean);
		put3(q, 1, "od_std", m->od_std);
		put3(q, 2, "lab_mean", m->lab_mean);
		put3(q, 3, "lab_std", m->lab_std);
	}
}

/* "frame 12 (slide S, x 0, y 256)", with what the frame has of these. */
static void frame_name(const pfm_frame *f, char *buf, size_t n)
{
	const char *sid;
	size_t sn;
	int64_t x, y;
	pfm_err ig;
	int k = snprintf(buf, n, "frame %llu", (unsigned long long)f->index);
	const char *sep = " (";
	if (!pfm_get_str(f, "slide_id", &sid, &sn, &ig)) {
		k += snprintf(buf + k, n - (size_t)k, "%sslide %.*s", sep,
			      (int)(sn > 200 ? 200 : sn), sid);
		sep = ", ";
	}
	if (!pfm_get_i64(f, "x", &x, &ig)) {
		k += snprintf(buf + k, n - (size_t)k, "%sx %lld", sep, (long long)x);
		sep = ", ";
	}
	if (!pfm_get_i64(f, "y", &y, &ig)) {
		k += snprintf(buf + k, n - (size_t)k, "%sy %lld", sep, (long long)y);
		sep = ", ";
	}
	if (*sep == ',')
		snprintf(buf + k, n - (size_t)k, ")");
}

static int write_failed(run_state *s, pfm_writer *w)
{
	*s->e = (pfm_err){0};
	pfm_errf(s->e, "%s", pfm_writer_error(w));
	s->e->code = pfm_writer_epipe(w) ? EPIPE : 0;
	return FAIL;
}

static int write_built(run_state *s, pfm_writer *w, const pfm_frame *f)
{
	pfm_build_reset(s->b, NULL);
	if (pfm_build_copy(s->b, f) || pfm_build_obj(s->b, "qc", &s->q.map))
		return pfm_errf(s->e, "out of memory");
	return pfm_write(w, s->b) ? write_failed(s, w) : GO;
}

static int bad_tile(run_state *s, const pfm_frame *f, const char *why)
{
	char where[400];
	frame_name(f, where, sizeof where);
	s->t.reasons[PFM_QC_ERROR]++;
	if (!s->o->keep_going) {
		pfm_errf(s->e, "%s: %s", where, why);
		return FAIL;
	}
	if (s->bad < MAX_WARNINGS)
		s->warn("%s: %s (dropped)", where, why);
	else if (s->bad == MAX_WARNINGS)
		s->warn("more bad tile frames: counted, not shown");
	s->bad++;
	if (!s->drop)
		return GO;
	qc_reset(&s->q, 0, PFM_QC_ERROR);
	snprintf(s->q.err, sizeof s->q.err, "%s", why);
	put(&s->q, "error", str_obj(s->q.err));
	s->t.dropped_written++;
	return write_built(s, s->drop, f);
}

static int handle(run_state *s, const pfm_frame *f)
{
	const pfm_qc_run_opts *o = s->o;
	pfm_progress_add(&s->prog, 1, f->raw_len);
	if (!pfm_frame_is(f, PFM_T_TILE)) {
		s->t.other++;
		return pfm_write_frame(s->out, f) ? write_failed(s, s->out) : GO;
	}
	s->t.tiles++;
	const uint8_t *rgb;
	int w, h;
	pfm_qc m;
	pfm_err fe = {0};
	/* the decoder refuses cut JPEGs, huge tiles and headers that
	 * disagree with the frame before decoding (common/tile_pixels.c) */
	if (pfm_tile_rgb(s->dec, f, &rgb, &w, &h, &fe))
		return bad_tile(s, f, fe.msg);
	if (pfm_qc_measure(s->qc, rgb, w, h, &o->qc, &m, &fe))
		return bad_tile(s, f, fe.msg);
	pfm_qc_reason r = pfm_qc_decide(&m, &o->limits);
	s->t.reasons[r]++;
	pfm_qc_tally_add(&s->t, &m);
	qc_reset(&s->q, r == PFM_QC_OK, r);
	qc_measures(&s->q, &m, o->qc.stats);
	if (r == PFM_QC_OK || o->annotate_only) {
		s->t.written++;
		return write_built(s, s->out, f);
	}
	if (!s->drop)
		return GO;
	s->t.dropped_written++;
	return write_built(s, s->drop, f);
}

static int run_input(run_state *s, const char *spec)
{
	pfm_reader *r = pfm_reader_open(spec, &s->o->io, s->e);
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

static int close_writer(pfm_writer *w, int ok, pfm_err *e)
{
	pfm_err we = {0};
	if (w && pfm_writer_close(w, ok, &we) && ok) {
		*e = we;
		return FAIL;
	}
	return GO;
}

int pfm_qc_run(const pfm_qc_run_opts *o, void (*warn)(const char *, ...),
	       pfm_err *e)
{
	run_state s = {.o = o, .warn = warn, .e = e};
	int rc = GO;
	pfm_progress_init(&s.prog, o->progress, o->quiet);
	if (!(s.b = pfm_build_new()) || !(s.dec = pfm_pixdec_new()) ||
	    !(s.qc = pfm_qc_new()))
		rc = pfm_errf(e, "out of memory");
	if (rc == GO && !(s.out = pfm_writer_open(o->output ? o->output : "-",
						  &o->io, e)))
		rc = FAIL;
	if (rc == GO && o->dropped && !(s.drop = pfm_writer_open(o->dropped, &o->io, e)))
		rc = FAIL;
	for (int i = 0; i < o->ninputs && rc == GO; i++)
		rc = run_input(&s, o->inputs[i]);
	pfm_progress_done(&s.prog);
	if (close_writer(s.out, rc == GO, e) && rc == GO)
		rc = FAIL;
	if (close_writer(s.drop, rc == GO, e) && rc == GO)
		rc = FAIL;
	if (rc == GO && o->report && pfm_qc_report_write(o->report, &s.t, o, e))
		rc = FAIL;
	if (rc == GO && !o->quiet)
		pfm_qc_summary(&s.t, o, warn);
	pfm_qc_free(s.qc);
	pfm_pixdec_free(s.dec);
	pfm_build_free(s.b);
	if (rc == FAIL)
		return e->code == EPIPE ? 0 : 1;
	return s.bad ? 1 : 0;
}
