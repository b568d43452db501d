#include "tiling_run.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>

#include "cli.h"
#include "frame.h"
#include "resample.h"
#include "tiling.h"
#include "mem.h"

#define RANDOM_TRIES 100     /* draws per tile before a slide gives up */
#define RANDOM_GIVE_UP 10    /* tiles in a row not found: slide done */
#define MAX_BOXES 1000000    /* tiles drawn on a thumbnail */

typedef struct {
	const pfm_slide_entry *en;
	int entry;
	pfm_slide *s;
	pfm_tissue t;          /* computed mask (have_t) */
	pfm_tissue all;        /* "everywhere", for --no-mask sampling */
	int have_t;
	const pfm_tissue *sel; /* the mask tiles are chosen by */
	pfm_tissue_index ti;
	pfm_read_spec rs[PFM_MAX_MPP];
	pfm_grid g[PFM_MAX_MPP];
	int nrs, gk;
	int64_t gi, made, emitted;
	int misses;
	atomic_int failed;
	msgpack_object meta;
	msgpack_object_kv *kv;
	const char *label;
	double *boxes;
	int64_t nbox, capbox;
} sstate;

enum { J_TILE, J_END, J_FAIL };

typedef struct {
	int kind;
	sstate *ss;
	int k;            /* read spec */
	pfm_tile_pos pos;
	char *msg;        /* J_FAIL: why; J_END: a warning or NULL */
	int entry;        /* J_FAIL: the slide's place in the list */
} job;

typedef struct {
	job j;
	int state;        /* 0 free, 1 being made, 2 ready, 3 written (out
			   * of order, waiting for the ones before it) */
	int skip;         /* its slide failed: nothing to write */
	char err[512];    /* non-empty: reading it failed */
	unsigned char *pix;
	size_t n, cap;    /* tjAlloc'd */
} slot;

typedef struct {
	const pfm_wsi_opts *o;
	pthread_mutex_t mu;
	pthread_cond_t take, done;
	slot *slots;
	int nslot;
	uint64_t gen_seq, written;
	int gen_finished, stop;
	int writer_waiting, takers_waiting; /* signal only when needed */
	/* generator, under mu */
	int next_entry;
	sstate *cur;
	sstate **active;   /* random: the open slides drawn from */
	int nactive;
	int *queue;        /* random: entries waiting to be opened (a ring) */
	int qhead, qlen;
	int64_t *made;     /* random: tiles per entry over all visits */
	int open;          /* random: slides open at once */
	int rotate;        /* random, endless, more slides than may be open */
	sstate **openl;    /* every open slide, for cleanup */
	int nopen;
	pfm_rng rng;
	pfm_slide_ctx *gctx;
	double wsum;
} run;

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return strdup(buf);
}

static void sstate_free(sstate *ss)
{
	if (!ss)
		return;
	for (int k = 0; k < PFM_MAX_MPP; k++)
		pfm_grid_free(&ss->g[k]);
	pfm_tissue_index_free(&ss->ti);
	pfm_tissue_free(&ss->t);
	pfm_tissue_free(&ss->all);
	pfm_slide_close(ss->s);
	free(ss->kv);
	free(ss->boxes);
	free(ss);
}

/* Open a slide and plan it. NULL with *msg (malloc'd) on failure. */
static sstate *slide_open(run *r, int entry, char **msg)
{
	const pfm_wsi_opts *o = r->o;
	const pfm_slide_entry *en = &o->slides->v[entry];
	pfm_err e = {0};
	sstate *ss = calloc(1, sizeof *ss);
	if (!ss) {
		*msg = strdup("out of memory");
		return NULL;
	}
	ss->en = en;
	ss->entry = entry;
	if (!(ss->s = pfm_slide_open(en->path, &o->slide, &e)))
		goto fail;
	int64_t w0, h0;
	pfm_slide_level_dims(ss->s, 0, &w0, &h0);
	ss->nrs = o->nmpp ? o->nmpp : 1;
	for (int k = 0; k < ss->nrs; k++)
		if (pfm_read_spec_init(&ss->rs[k], ss->s, o->nmpp ? o->mpp[k] : 0,
				       o->size, PFM_LEVEL_TOL, &e))
			goto fail;
	if (!o->no_mask || o->thumb_dir) {
		if (pfm_tissue_compute(ss->s, r->gctx, &o->tissue, &ss->t, &e)) {
			pfm_err_prefix(&e, "tissue mask");
			goto fail;
		}
		ss->have_t = 1;
	}
	if (o->no_mask) {
		if (pfm_tissue_all(&ss->all, w0, h0, &e))
			goto fail;
		ss->sel = &ss->all;
	} else {
		ss->sel = &ss->t;
	}
	if (o->random) {
		if (pfm_tissue_index_init(&ss->ti, ss->sel, &e))
			goto fail;
	} else {
		for (int k = 0; k < ss->nrs; k++)
			if (pfm_grid_plan(ss->s, &ss->rs[k], o->stride,
					  o->no_mask ? NULL : ss->sel,
					  o->no_mask ? 0 : o->min_tissue, &ss->g[k], &e))
				goto fail;
	}
	if (en->ncols) {
		ss->kv = calloc(en->ncols, sizeof *ss->kv);
		if (!ss->kv) {
			pfm_errf(&e, "out of memory");
			goto fail;
		}
		for (int i = 0; i < en->ncols; i++) {
			msgpack_object_kv *kv = &ss->kv[i];
			kv->key.type = kv->val.type = MSGPACK_OBJECT_STR;
			kv->key.via.str.ptr = en->keys[i];
			kv->key.via.str.size = (uint32_t)strlen(en->keys[i]);
			kv->val.via.str.ptr = en->vals[i];
			kv->val.via.str.size = (uint32_t)strlen(en->vals[i]);
			if (!strcmp(en->keys[i], "label"))
				ss->label = en->vals[i];
		}
		ss->meta.type = MSGPACK_OBJECT_MAP;
		ss->meta.via.map.size = (uint32_t)en->ncols;
		ss->meta.via.map.ptr = ss->kv;
	}
	r->openl[r->nopen++] = ss;
	return ss;
fail:
	*msg = strdup(e.msg[0] ? e.msg : "failed");
	sstate_free(ss);
	return NULL;
}

static char *no_tissue_msg(const sstate *ss)
{
	return dupf("%s: no tissue found (saturation threshold %d); 0 tiles",
		    ss->en->id, ss->t.threshold);
}

static int next_grid(run *r, job *j)
{
	for (;;) {
		if (!r->cur) {
			if (r->next_entry == r->o->slides->n)
				return 0;
			int entry = r->next_entry++;
			char *msg = NULL;
			if (!(r->cur = slide_open(r, entry, &msg))) {
				*j = (job){.kind = J_FAIL, .msg = msg, .entry = entry};
				return 1;
			}
		}
		sstate *ss = r->cur;
		while (!atomic_load(&ss->failed) && ss->gk < ss->nrs) {
			pfm_grid *g = &ss->g[ss->gk];
			if (ss->gi < g->n) {
				*j = (job){.kind = J_TILE, .ss = ss, .k = ss->gk,
					   .pos = g->v[ss->gi++]};
				ss->made++;
				return 1;
			}
			ss->gk++;
			ss->gi = 0;
		}
		r->cur = NULL;
		*j = (job){.kind = J_END, .ss = ss};
		if (!ss->made && !r->o->no_mask && !ss->t.count)
			j->msg = no_tissue_msg(ss);
		return 1;
	}
}

static int next_random(run *r, job *j)
{
	const pfm_wsi_opts *o = r->o;
	int n = o->slides->n;
	/* Fill the window of open slides, in list order. */
	while (r->nactive < r->open && r->qlen) {
		int entry = r->queue[r->qhead];
		r->qhead = (r->qhead + 1) % n;
		r->qlen--;
		char *msg = NULL;
		sstate *ss = slide_open(r, entry, &msg);
		if (!ss) {
			*j = (job){.kind = J_FAIL, .msg = msg, .entry = entry};
			return 1;
		}
		r->active[r->nactive++] = ss;
	}
	while (r->nactive) {
		int a = (int)pfm_rng_below(&r->rng, (uint64_t)r->nactive);
		sstate *ss = r->active[a];
		int done = atomic_load(&ss->failed) ||
			   (o->count >= 0 && ss->made >= o->count) ||
			   (r->rotate && ss->made >= o->visit);
		int k = 0;
		if (!done && ss->nrs > 1) {
			double u = pfm_rng_unit(&r->rng) * r->wsum;
			for (k = 0; k < ss->nrs - 1 && u >= o->weight[k]; k++)
				u -= o->weight[k];
		}
		pfm_tile_pos pos;
		if (!done && pfm_random_pos(ss->s, &ss->rs[k], ss->sel, &ss->ti,
					    o->no_mask ? 0 : o->min_tissue,
					    &r->rng, RANDOM_TRIES, &pos)) {
			ss->misses = 0;
			ss->made++;
			pos.index = r->made[ss->entry]++;
			*j = (job){.kind = J_TILE, .ss = ss, .k = k, .pos = pos};
			return 1;
		}
		if (!done && !ss->ti.n) {
			done = 1;
		} else if (!done && ++ss->misses < RANDOM_GIVE_UP) {
			continue;
		}
		/* Finished, failed, no place with enough tissue, or (endless,
		 * rotating) its visit is over: it goes to the back of the
		 * queue. */
		r->active[a] = r->active[--r->nactive];
		*j = (job){.kind = J_END, .ss = ss};
		int failed = atomic_load(&ss->failed);
		if (r->rotate && !failed && ss->made) {
			r->queue[(r->qhead + r->qlen) % n] = ss->entry;
			r->qlen++;
		}
		if (!ss->made && !failed && !r->made[ss->entry])
			j->msg = ss->t.count || o->no_mask
				 ? dupf("%s: no tile with at least %g tissue; 0 tiles",
					ss->en->id, o->min_tissue)
				 : no_tissue_msg(ss);
		return 1;
	}
	return 0;
}

typedef struct {
	run *r;
	pfm_slide_ctx *ctx;
	tjhandle tj;
	uint8_t *region, *tile;
	size_t region_cap, tile_cap;
} worker;

static int slot_cap(slot *s, size_t n)
{
	if (s->cap >= n)
		return 0;
	tjFree(s->pix);
	s->cap = 0;
	if (!(s->pix = tjAlloc((int)n)))
		return -1;
	s->cap = n;
	return 0;
}

/* Read, resample and encode one tile into its slot. */
static int make_tile(worker *w, slot *sl, pfm_err *e)
{
	const pfm_wsi_opts *o = w->r->o;
	sstate *ss = sl->j.ss;
	const pfm_read_spec *rs = &ss->rs[sl->j.k];
	int64_t x = sl->j.pos.x, y = sl->j.pos.y;
	int n = rs->size;
	if (o->passthrough && o->jpeg && rs->src == n) {
		const uint8_t *jpeg;
		size_t len;
		int got = pfm_slide_stored_jpeg(ss->s, w->ctx, rs->level, x, y, n,
						n, &jpeg, &len, e);
		if (got < 0)
			return -1;
		if (got) {
			if (slot_cap(sl, len))
				return pfm_errf(e, "out of memory");
			memcpy(sl->pix, jpeg, len);
			sl->n = len;
			return 0;
		}
	}
	size_t src = (size_t)rs->src * rs->src * 3, dst = (size_t)n * n * 3;
	if (!o->jpeg && rs->src == n) {
		/* Raw pixels at the level's own resolution: read straight
		 * into the slot. */
		if (slot_cap(sl, dst))
			return pfm_errf(e, "out of memory");
		sl->n = dst;
		return pfm_slide_read(ss->s, w->ctx, rs->level, x, y, n, n,
				      sl->pix, e);
	}
	if (pfm_grow(&w->region, &w->region_cap, src) ||
	    pfm_grow(&w->tile, &w->tile_cap, dst))
		return pfm_errf(e, "out of memory");
	if (pfm_slide_read(ss->s, w->ctx, rs->level, x, y, rs->src, rs->src,
			   w->region, e))
		return -1;
	const uint8_t *img = w->region;
	if (rs->src != n) {
		if (pfm_resample_rgb(w->region, rs->src, rs->src, w->tile, n, n, e))
			return -1;
		img = w->tile;
	}
	if (!o->jpeg) {
		if (slot_cap(sl, dst))
			return pfm_errf(e, "out of memory");
		memcpy(sl->pix, img, dst);
		sl->n = dst;
		return 0;
	}
	unsigned long bound = tjBufSize(n, n, TJSAMP_420);
	if (slot_cap(sl, bound))
		return pfm_errf(e, "out of memory");
	if (!w->tj && !(w->tj = tjInitCompress()))
		return pfm_errf(e, "libjpeg-turbo: %s", tjGetErrorStr2(NULL));
	unsigned long len = sl->cap;
	if (tjCompress2(w->tj, img, n, 0, n, TJPF_RGB, &sl->pix, &len,
			TJSAMP_420, o->quality, TJFLAG_NOREALLOC))
		return pfm_errf(e, "JPEG encoding: %s", tjGetErrorStr2(w->tj));
	sl->n = len;
	return 0;
}

static void *work(void *arg)
{
	worker *w = arg;
	run *r = w->r;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->stop && !r->gen_finished &&
		       r->gen_seq >= r->written + (uint64_t)r->nslot) {
			r->takers_waiting++;
			pthread_cond_wait(&r->take, &r->mu);
			r->takers_waiting--;
		}
		if (r->stop || r->gen_finished)
			break;
		job j;
		if (!(r->o->random ? next_random(r, &j) : next_grid(r, &j))) {
			r->gen_finished = 1;
			pthread_cond_broadcast(&r->done);
			pthread_cond_broadcast(&r->take);
			break;
		}
		slot *sl = &r->slots[r->gen_seq++ % (uint64_t)r->nslot];
		sl->j = j;
		sl->state = 1;
		sl->skip = 0;
		sl->err[0] = 0;
		pthread_mutex_unlock(&r->mu);
		if (j.kind == J_TILE) {
			if (atomic_load(&j.ss->failed)) {
				sl->skip = 1;
			} else {
				pfm_err e = {0};
				if (make_tile(w, sl, &e))
					snprintf(sl->err, sizeof sl->err, "%s", e.msg);
			}
		}
		pthread_mutex_lock(&r->mu);
		sl->state = 2;
		if (r->writer_waiting)
			pthread_cond_broadcast(&r->done);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static int write_tile(pfm_writer *wr, pfm_build *b, const pfm_wsi_opts *o,
		      slot *sl)
{
	sstate *ss = sl->j.ss;
	const pfm_read_spec *rs = &ss->rs[sl->j.k];
	pfm_build_reset(b, PFM_T_TILE);
	int bad = pfm_build_str(b, "slide_id", ss->en->id) ||
		  pfm_build_i64(b, "x", sl->j.pos.x) ||
		  pfm_build_i64(b, "y", sl->j.pos.y) ||
		  pfm_build_i64(b, "level", rs->level) ||
		  pfm_build_f64(b, "mpp", rs->mpp) ||
		  pfm_build_i64(b, "width", rs->size) ||
		  pfm_build_i64(b, "height", rs->size) ||
		  pfm_build_str(b, "encoding", o->jpeg ? "jpeg" : "rgb8") ||
		  pfm_build_bin(b, "pixels", sl->pix, sl->n) ||
		  pfm_build_f64(b, "mag", 10 / rs->mpp) ||
		  pfm_build_i64(b, "tile_index", sl->j.pos.index);
	if (!bad && !o->no_mask)
		bad = pfm_build_f64(b, "tissue", round(sl->j.pos.tissue * 1e4) / 1e4);
	if (!bad && ss->label)
		bad = pfm_build_str(b, "label", ss->label);
	if (!bad && ss->kv)
		bad = pfm_build_obj(b, "meta", &ss->meta);
	if (bad)
		return -2;
	return pfm_write(wr, b);
}

/* The next slot to write, under mu: the oldest when it is ready; with
 * --unordered any ready tile or failure (an end of slide waits for its
 * turn, since it frees the slide its earlier tiles point to). */
static slot *next_ready(run *r)
{
	if (r->written == r->gen_seq)
		return NULL;
	slot *sl = &r->slots[r->written % (uint64_t)r->nslot];
	if (sl->state == 2)
		return sl;
	if (!r->o->unordered)
		return NULL;
	for (uint64_t q = r->written + 1; q < r->gen_seq; q++) {
		sl = &r->slots[q % (uint64_t)r->nslot];
		if (sl->state == 2 && sl->j.kind != J_END)
			return sl;
	}
	return NULL;
}

/* A slot is written: free it and those after it written out of order. */
static void slot_done(run *r, slot *sl)
{
	sl->state = 3;
	for (;;) {
		slot *h = &r->slots[r->written % (uint64_t)r->nslot];
		if (r->written == r->gen_seq || h->state != 3)
			break;
		h->state = 0;
		r->written++;
	}
}

static void add_box(sstate *ss, const pfm_read_spec *rs, const pfm_tile_pos *p)
{
	if (ss->nbox == ss->capbox) {
		if (ss->capbox >= MAX_BOXES)
			return;
		int64_t cap = ss->capbox ? 2 * ss->capbox : 256;
		double *v = realloc(ss->boxes, cap * 4 * sizeof *v);
		if (!v)
			return;
		ss->boxes = v;
		ss->capbox = cap;
	}
	double *bx = ss->boxes + 4 * ss->nbox++;
	bx[0] = (double)p->x;
	bx[1] = (double)p->y;
	bx[2] = bx[3] = rs->foot;
}

static void thumbnail(run *r, sstate *ss, void (*warn)(const char *, ...))
{
	char path[4096], id[256];
	snprintf(id, sizeof id, "%s", ss->en->id);
	for (char *p = id; *p; p++)
		if (*p == '/')
			*p = '_';
	snprintf(path, sizeof path, "%s/%s.png", r->o->thumb_dir, id);
	pfm_err e = {0};
	if (pfm_tissue_thumbnail(ss->s, r->gctx, &ss->t, ss->boxes, ss->nbox, path, &e))
		warn("thumbnail: %s", e.msg);
}

int pfm_wsi_run(const pfm_wsi_opts *o, void (*warn)(const char *fmt, ...),
		pfm_err *e)
{
	run r = {.o = o};
	int nthreads = o->threads > 0 ? o->threads : 1;
	r.nslot = 8 * nthreads;
	int nslides = o->slides->n;
	pfm_rng_seed(&r.rng, o->seed);
	for (int k = 0; k < (o->nmpp ? o->nmpp : 1); k++)
		r.wsum += o->nmpp ? o->weight[k] : 1;
	r.slots = calloc(r.nslot, sizeof *r.slots);
	/* At most `open` slides are open in random mode, plus those whose
	 * end-of-slide job is still in the ring; one or two in grid mode. */
	int maxopen = nslides + r.nslot + 2;
	r.active = calloc(nslides + 1, sizeof *r.active);
	r.openl = calloc(maxopen, sizeof *r.openl);
	r.queue = calloc(nslides + 1, sizeof *r.queue);
	r.made = calloc(nslides + 1, sizeof *r.made);
	if (r.queue)
		for (int i = 0; i < nslides; i++)
			r.queue[i] = i;
	r.qlen = nslides;
	r.open = o->open > 0 ? o->open : 1;
	r.rotate = o->random && o->count < 0 && nslides > r.open;
	r.gctx = pfm_slide_ctx_new();
	worker *ws = calloc(nthreads, sizeof *ws);
	pthread_t *tid = calloc(nthreads, sizeof *tid);
	char **failures = calloc(nslides + 1, sizeof *failures);
	int nfail = 0, rc = 0, started = 0;
	pfm_writer *wr = NULL;
	pfm_build *b = pfm_build_new();
	if (!r.slots || !r.active || !r.openl || !r.queue || !r.made ||
	    !r.gctx || !ws || !tid || !failures || !b) {
		rc = pfm_errf(e, "out of memory");
		goto out;
	}
	if (o->thumb_dir && mkdir(o->thumb_dir, 0777) && errno != EEXIST) {
		rc = pfm_errf(e, "%s: %s", o->thumb_dir, strerror(errno));
		goto out;
	}
	if (!(wr = pfm_writer_open(o->output ? o->output : "-", &o->io, e))) {
		rc = -1;
		goto out;
	}
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.take, NULL);
	pthread_cond_init(&r.done, NULL);
	for (int i = 0; i < nthreads; i++) {
		ws[i].r = &r;
		if (!(ws[i].ctx = pfm_slide_ctx_new()) ||
		    pthread_create(&tid[i], NULL, work, &ws[i])) {
			pthread_mutex_lock(&r.mu);
			r.stop = 1;
			pthread_cond_broadcast(&r.take);
			pthread_mutex_unlock(&r.mu);
			rc = pfm_errf(e, "cannot start worker threads");
			break;
		}
		started++;
	}
	pfm_progress prog;
	pfm_progress_init(&prog, o->progress, o->quiet);
	while (!rc) {
		slot *sl;
		pthread_mutex_lock(&r.mu);
		while (!(sl = next_ready(&r)) && !(r.gen_finished && r.written == r.gen_seq)) {
			r.writer_waiting = 1;
			pthread_cond_wait(&r.done, &r.mu);
			r.writer_waiting = 0;
		}
		pthread_mutex_unlock(&r.mu);
		if (!sl)
			break;
		job *j = &sl->j;
		sstate *ss = j->ss;
		if (j->kind == J_FAIL || (j->kind == J_TILE && sl->err[0])) {
			const char *why = j->kind == J_FAIL ? j->msg : sl->err;
			int entry = j->kind == J_FAIL ? j->entry : ss->entry;
			if (!o->keep_going) {
				rc = pfm_errf(e, "%s", why);
			} else if (!failures[entry]) {
				warn("%s", why);
				failures[entry] = strdup(why);
				nfail++;
			}
			if (ss)
				atomic_store(&ss->failed, 1);
		} else if (j->kind == J_TILE && !sl->skip && !atomic_load(&ss->failed)) {
			int w = write_tile(wr, b, o, sl);
			if (w) {
				if (w == -2)
					rc = pfm_errf(e, "out of memory");
				else {
					rc = pfm_errf(e, "%s", pfm_writer_error(wr));
					e->code = pfm_writer_epipe(wr) ? EPIPE : 0;
				}
			} else {
				ss->emitted++;
				pfm_progress_add(&prog, 1, sl->n);
				if (o->thumb_dir)
					add_box(ss, &ss->rs[j->k], &j->pos);
			}
		} else if (j->kind == J_END) {
			if (j->msg)
				warn("%s", j->msg);
			if (o->thumb_dir && ss->have_t && !atomic_load(&ss->failed))
				thumbnail(&r, ss, warn);
			pthread_mutex_lock(&r.mu);
			for (int i = 0; i < r.nopen; i++)
				if (r.openl[i] == ss) {
					r.openl[i] = r.openl[--r.nopen];
					break;
				}
			pthread_mutex_unlock(&r.mu);
			sstate_free(ss);
		}
		free(j->msg);
		j->msg = NULL;
		pthread_mutex_lock(&r.mu);
		slot_done(&r, sl);
		if (rc)
			r.stop = 1;
		if (r.takers_waiting || rc)
			pthread_cond_broadcast(&r.take);
		pthread_mutex_unlock(&r.mu);
	}
	pfm_progress_done(&prog);
	pthread_mutex_lock(&r.mu);
	r.stop = 1;
	pthread_cond_broadcast(&r.take);
	pthread_mutex_unlock(&r.mu);
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	/* Messages of jobs never written. */
	for (int i = 0; i < r.nslot; i++)
		free(r.slots[i].j.msg);
	pfm_err ce = {0};
	int complete = !rc;
	if (pfm_writer_close(wr, complete, &ce) && complete) {
		*e = ce;
		rc = -1;
	}
	wr = NULL;
	pthread_mutex_destroy(&r.mu);
	pthread_cond_destroy(&r.take);
	pthread_cond_destroy(&r.done);
	if (!rc && nfail) {
		warn("%d of %d slides failed:", nfail, nslides);
		for (int i = 0; i < nslides; i++)
			if (failures[i])
				warn("  %s", failures[i]);
	}
out:
	if (wr)
		pfm_writer_close(wr, 0, NULL);
	pfm_build_free(b);
	for (int i = 0; r.openl && i < r.nopen; i++)
		sstate_free(r.openl[i]);
	for (int i = 0; ws && i < nthreads; i++) {
		pfm_slide_ctx_free(ws[i].ctx);
		if (ws[i].tj)
			tjDestroy(ws[i].tj);
		free(ws[i].region);
		free(ws[i].tile);
	}
	for (int i = 0; r.slots && i < r.nslot; i++)
		tjFree(r.slots[i].pix);
	for (int i = 0; failures && i < nslides; i++)
		free(failures[i]);
	free(failures);
	free(ws);
	free(tid);
	free(r.slots);
	free(r.active);
	free(r.openl);
	free(r.queue);
	free(r.made);
	pfm_slide_ctx_free(r.gctx);
	if (rc)
		return e->code == EPIPE ? 0 : 1;
	return nfail ? 1 : 0;
}
