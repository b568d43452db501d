/* distill_run.c: distill-step's stream (distill_run.h).
 *
 * Tiles are read until a batch is full; each kept frame's bytes are
 * copied, then the batch is prepared on the worker threads (decode,
 * crops, expert targets: every tile draws from its own generator, so the
 * thread count does not change the crops), trained on, and reported as
 * one metric frame. The data position saved with a checkpoint is the
 * number of input frames read up to the last tile of the last batch,
 * with a hash of that frame, so a resumed run skips exactly what the
 * interrupted one used and refuses another input. */
#include "distill_run.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "distill_ckpt.h"
#include "distill_loss.h"
#include "frame.h"
#include "json.h"
#include "mem.h"
#include "safetensors.h"
#include "tile_pixels.h"

#define META_KEY "pathfm_distill"
#define META_VERSION 1

typedef struct {
	char *raw;
	size_t len, cap;
	uint64_t index;
} slot_t;

typedef struct {
	const pfm_distill_run_opts *o;
	pfm_distill_opts dopt;
	pfm_aug_opts aug;
	pfm_distill *d;
	pfm_vit_config arch;
	pfm_reader *r;
	pfm_writer *w;
	pfm_build *b, *vals;
	slot_t *slots;
	int B, G, L, gs, N;
	float *global, *local;
	uint8_t *mask;
	float *ecls[PFM_MAX_EXPERTS], *etok[PFM_MAX_EXPERTS];
	uint64_t frames;   /* input frames read */
	uint64_t pos;      /* frames read up to the last trained tile */
	uint64_t pos_hash; /* hash of that tile's frame */
	uint64_t nontile, skipped, tiles;
	int64_t saved_step;
	double t_data;
	pfm_progress prog;
} run_t;

void pfm_distill_teacher_path(const char *save, char *buf, size_t cap)
{
	size_t n = strlen(save);
	const char *ext = ".safetensors";
	size_t el = strlen(ext);
	if (n > el && !strcmp(save + n - el, ext))
		n -= el;
	snprintf(buf, cap, "%.*s-teacher.safetensors", (int)n, save);
}

static uint64_t fnv(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	return h;
}

/* "frame 12 (slide S, x 0, y 224)" */
static void where(const pfm_frame *f, char *buf, size_t cap)
{
	const char *sid = "?";
	size_t n = 1;
	int64_t x = -1, y = -1;
	pfm_err e;
	if (pfm_get_str(f, "slide_id", &sid, &n, &e))
		sid = "?", n = 1;
	pfm_get_i64(f, "x", &x, &e);
	pfm_get_i64(f, "y", &y, &e);
	snprintf(buf, cap, "frame %llu (slide %.*s, x %lld, y %lld)",
		 (unsigned long long)f->index, (int)(n > 200 ? 200 : n), sid,
		 (long long)x, (long long)y);
}

/* map_key.name as a tensor; 0, 1 absent, -1 malformed (e). */
static int sub_tensor(const pfm_frame *f, const char *map_key,
		      const char *name, pfm_tensor *t, pfm_err *e)
{
	const msgpack_object *m = pfm_get(f, map_key);
	if (!m || m->type != MSGPACK_OBJECT_MAP)
		return 1;
	const msgpack_object *v = pfm_map_get(m, name);
	if (!v)
		return 1;
	if (pfm_tensor_decode(v, t, e))
		return pfm_err_prefix(e, "%s.%s", map_key, name);
	return 0;
}

/* A frame tensor's values as floats (f32, f16, bf16, f64). */
static int tensor_f32(const pfm_tensor *t, float *out, pfm_err *e)
{
	if (t->count && t->dtype != PFM_F32 && t->dtype != PFM_F64 &&
	    t->dtype != PFM_F16 && t->dtype != PFM_BF16)
		return pfm_errf(e, "dtype %s is not a float type",
				pfm_dtype_name(t->dtype));
	for (size_t i = 0; i < t->count; i++)
		out[i] = pfm_tensor_f32(t, i);
	return 0;
}

/* Does f have every field the experts need? Missing: 1 with e naming
 * the field. */
static int has_fields(const run_t *s, const pfm_frame *f, pfm_err *e)
{
	const pfm_distill_opts *o = &s->dopt;
	for (int x = 0; x < o->nexperts; x++) {
		const pfm_expert_opt *ex = &o->experts[x];
		pfm_tensor t;
		int rc;
		if (ex->w_cls > 0 &&
		    (rc = sub_tensor(f, "emb", ex->name, &t, e)) != 0) {
			if (rc > 0)
				pfm_errf(e, "no emb.%s", ex->name);
			return 1;
		}
		if (ex->w_patch > 0 &&
		    (rc = sub_tensor(f, "tokens", ex->name, &t, e)) != 0) {
			if (rc > 0)
				pfm_errf(e, "no tokens.%s", ex->name);
			return 1;
		}
	}
	return 0;
}

/* ---- checkpoint metadata ---- */

typedef struct {
	const char *key;
	char type; /* i int, l int64, d double, f float */
	size_t off;
} field;

#define F_(t, s, m) {#m, t, offsetof(s, m)}
static const field dfields[] = {
	F_('i', pfm_distill_opts, batch), F_('i', pfm_distill_opts, global_size),
	F_('i', pfm_distill_opts, local_size), F_('i', pfm_distill_opts, n_local),
	F_('d', pfm_distill_opts, layerscale),
	F_('i', pfm_distill_opts, prototypes), F_('i', pfm_distill_opts, head_hidden),
	F_('i', pfm_distill_opts, head_bottleneck),
	F_('i', pfm_distill_opts, head_layers),
	F_('i', pfm_distill_opts, expert_bottleneck),
	F_('d', pfm_distill_opts, dino_w), F_('d', pfm_distill_opts, koleo_w),
	F_('d', pfm_distill_opts, ibot_w), F_('d', pfm_distill_opts, student_temp),
	F_('d', pfm_distill_opts, center_m), F_('i', pfm_distill_opts, centering),
	F_('i', pfm_distill_opts, sk_iters), F_('d', pfm_distill_opts, teacher_temp),
	F_('d', pfm_distill_opts, teacher_temp_start),
	F_('l', pfm_distill_opts, teacher_temp_steps),
	F_('d', pfm_distill_opts, mask_prob), F_('d', pfm_distill_opts, mask_min),
	F_('d', pfm_distill_opts, mask_max), F_('l', pfm_distill_opts, steps),
	F_('l', pfm_distill_opts, warmup), F_('l', pfm_distill_opts, freeze_last),
	F_('d', pfm_distill_opts, lr), F_('d', pfm_distill_opts, min_lr),
	F_('d', pfm_distill_opts, wd), F_('d', pfm_distill_opts, wd_end),
	F_('d', pfm_distill_opts, layer_decay),
	F_('d', pfm_distill_opts, patch_lr_mult), F_('d', pfm_distill_opts, clip),
	F_('d', pfm_distill_opts, beta1), F_('d', pfm_distill_opts, beta2),
	F_('d', pfm_distill_opts, mom), F_('d', pfm_distill_opts, mom_end),
	F_('d', pfm_distill_opts, drop_path),
};
static const field afields[] = {
	F_('i', pfm_aug_opts, augment), F_('d', pfm_aug_opts, gscale[0]),
	F_('d', pfm_aug_opts, gscale[1]), F_('d', pfm_aug_opts, lscale[0]),
	F_('d', pfm_aug_opts, lscale[1]), F_('d', pfm_aug_opts, flip),
	F_('d', pfm_aug_opts, jitter_p), F_('d', pfm_aug_opts, brightness),
	F_('d', pfm_aug_opts, contrast), F_('d', pfm_aug_opts, saturation),
	F_('d', pfm_aug_opts, hue), F_('d', pfm_aug_opts, gray_p),
	F_('d', pfm_aug_opts, blur_p[0]), F_('d', pfm_aug_opts, blur_p[1]),
	F_('d', pfm_aug_opts, blur_p[2]), F_('d', pfm_aug_opts, blur_sigma[0]),
	F_('d', pfm_aug_opts, blur_sigma[1]), F_('d', pfm_aug_opts, solarize_p),
	F_('d', pfm_aug_opts, hed_sigma), F_('f', pfm_aug_opts, mean[0]),
	F_('f', pfm_aug_opts, mean[1]), F_('f', pfm_aug_opts, mean[2]),
	F_('f', pfm_aug_opts, std[0]), F_('f', pfm_aug_opts, std[1]),
	F_('f', pfm_aug_opts, std[2]),
};
static const field cfields[] = {
	F_('i', pfm_vit_config, scheme), F_('i', pfm_vit_config, img_size),
	F_('i', pfm_vit_config, patch), F_('i', pfm_vit_config, dim),
	F_('i', pfm_vit_config, depth), F_('i', pfm_vit_config, heads),
	F_('i', pfm_vit_config, mlp), F_('i', pfm_vit_config, hidden),
	F_('i', pfm_vit_config, cls), F_('i', pfm_vit_config, reg),
	F_('i', pfm_vit_config, pos_prefix), F_('i', pfm_vit_config, pos_h),
	F_('i', pfm_vit_config, pos_w), F_('i', pfm_vit_config, pos_interp),
	F_('i', pfm_vit_config, layerscale), F_('i', pfm_vit_config, qkv_bias),
	F_('f', pfm_vit_config, eps), F_('i', pfm_vit_config, out),
	F_('i', pfm_vit_config, resize), F_('i', pfm_vit_config, crop),
	F_('i', pfm_vit_config, interp), F_('f', pfm_vit_config, mean[0]),
	F_('f', pfm_vit_config, mean[1]), F_('f', pfm_vit_config, mean[2]),
	F_('f', pfm_vit_config, std[0]), F_('f', pfm_vit_config, std[1]),
	F_('f', pfm_vit_config, std[2]),
};
#undef F_

static int put(char **buf, size_t *cap, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int put(char **buf, size_t *cap, size_t *n, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int k = vsnprintf(*buf + *n, *cap - *n, fmt, ap);
		va_end(ap);
		if (k < 0)
			return -1;
		if (*n + (size_t)k < *cap) {
			*n += (size_t)k;
			return 0;
		}
		if (pfm_grow(buf, cap, *n + (size_t)k + 1024))
			return -1;
	}
}

static int put_fields(char **b, size_t *cap, size_t *n, const char *obj,
		      const field *fs, size_t nf, const void *base)
{
	const char *p = base;
	if (put(b, cap, n, "\"%s\": {", obj))
		return -1;
	for (size_t i = 0; i < nf; i++) {
		const char *sep = i ? ", " : "";
		int rc = 0;
		switch (fs[i].type) {
		case 'i':
			rc = put(b, cap, n, "%s\"%s\": %d", sep, fs[i].key,
				 *(const int *)(p + fs[i].off));
			break;
		case 'l':
			rc = put(b, cap, n, "%s\"%s\": %lld", sep, fs[i].key,
				 (long long)*(const int64_t *)(p + fs[i].off));
			break;
		case 'f':
			rc = put(b, cap, n, "%s\"%s\": %.9g", sep, fs[i].key,
				 (double)*(const float *)(p + fs[i].off));
			break;
		default:
			rc = put(b, cap, n, "%s\"%s\": %.17g", sep, fs[i].key,
				 *(const double *)(p + fs[i].off));
		}
		if (rc)
			return -1;
	}
	return put(b, cap, n, "}");
}

/* The checkpoint's JSON: what a resumed run needs to continue. */
static char *meta_json(const run_t *s)
{
	const pfm_distill *d = s->d;
	char *b = NULL;
	size_t cap = 0, n = 0;
	if (pfm_grow(&b, &cap, 4096))
		return NULL;
	b[0] = 0;
	int rc = put(&b, &cap, &n,
		     "{\"format\": \"pathfm distill-step checkpoint\", "
		     "\"version\": %d, \"step\": %lld, \"frames\": %llu, "
		     "\"frame_hash\": \"%016llx\", \"tiles\": %llu, "
		     "\"seed\": \"%llu\", \"threads\": %d, \"name\": \"%s\", "
		     "\"expert_grid\": %d, ",
		     META_VERSION, (long long)d->step, (unsigned long long)s->pos,
		     (unsigned long long)s->pos_hash,
		     (unsigned long long)s->tiles,
		     (unsigned long long)s->dopt.seed, s->dopt.threads,
		     s->arch.name, s->o->expert_grid);
	rc = rc || put_fields(&b, &cap, &n, "arch", cfields,
			      sizeof cfields / sizeof *cfields, &d->m.cfg);
	rc = rc || put(&b, &cap, &n, ", ");
	rc = rc || put_fields(&b, &cap, &n, "opts", dfields,
			      sizeof dfields / sizeof *dfields, &s->dopt);
	rc = rc || put(&b, &cap, &n, ", ");
	rc = rc || put_fields(&b, &cap, &n, "aug", afields,
			      sizeof afields / sizeof *afields, &s->aug);
	rc = rc || put(&b, &cap, &n, ", \"experts\": [");
	for (int x = 0; x < s->dopt.nexperts && !rc; x++) {
		const pfm_expert_opt *ex = &s->dopt.experts[x];
		rc = put(&b, &cap, &n,
			 "%s{\"name\": \"%s\", \"w_cls\": %.17g, \"w_patch\": "
			 "%.17g, \"width\": %d}",
			 x ? ", " : "", ex->name, ex->w_cls, ex->w_patch, ex->width);
	}
	rc = rc || put(&b, &cap, &n, "]}");
	if (rc) {
		free(b);
		return NULL;
	}
	return b;
}

static int get_fields(const msgpack_object *root, const char *obj,
		      const field *fs, size_t nf, void *base, pfm_err *e)
{
	const msgpack_object *m = pfm_map_get(root, obj);
	if (!m || m->type != MSGPACK_OBJECT_MAP)
		return pfm_errf(e, "no \"%s\"", obj);
	char *p = base;
	for (size_t i = 0; i < nf; i++) {
		const msgpack_object *v = pfm_map_get(m, fs[i].key);
		double dv;
		int64_t iv;
		if (!v)
			return pfm_errf(e, "no \"%s.%s\"", obj, fs[i].key);
		if (fs[i].type == 'i' || fs[i].type == 'l') {
			if (pfm_obj_i64(v, &iv))
				return pfm_errf(e, "\"%s.%s\" is not an integer",
						obj, fs[i].key);
			if (fs[i].type == 'i')
				*(int *)(p + fs[i].off) = (int)iv;
			else
				*(int64_t *)(p + fs[i].off) = iv;
		} else {
			if (pfm_obj_f64(v, &dv))
				return pfm_errf(e, "\"%s.%s\" is not a number",
						obj, fs[i].key);
			if (fs[i].type == 'f')
				*(float *)(p + fs[i].off) = (float)dv;
			else
				*(double *)(p + fs[i].off) = dv;
		}
	}
	return 0;
}

static int get_u64(const msgpack_object *root, const char *key, uint64_t *v,
		   pfm_err *e)
{
	const msgpack_object *o = pfm_map_get(root, key);
	int64_t x;
	if (o && o->type == MSGPACK_OBJECT_STR) {
		char t[32];
		size_t n = o->via.str.size < 31 ? o->via.str.size : 31;
		memcpy(t, o->via.str.ptr, n);
		t[n] = 0;
		char *end;
		errno = 0;
		*v = strtoull(t, &end, !strcmp(key, "frame_hash") ? 16 : 10);
		if (!errno && end != t && !*end)
			return 0;
	} else if (o && !pfm_obj_i64(o, &x) && x >= 0) {
		*v = (uint64_t)x;
		return 0;
	}
	return pfm_errf(e, "bad or missing \"%s\"", key);
}

/* Read a checkpoint's settings into s (options, architecture, experts,
 * data position); the tensors are read after the model is made. */
static int load_meta(run_t *s, const pfm_st *st, int64_t *step, pfm_err *e)
{
	const char *txt = pfm_st_meta(st, META_KEY);
	msgpack_sbuffer sb;
	msgpack_zone z;
	msgpack_object o;
	int rc = -1;
	uint64_t v;
	if (!txt)
		return pfm_errf(e, "%s: not a distill-step checkpoint (no "
				   "__metadata__ \"%s\")",
				pfm_st_label(st), META_KEY);
	msgpack_sbuffer_init(&sb);
	msgpack_zone_init(&z, 4096);
	if (pfm_json_to_object(txt, strlen(txt), &sb, &z, &o, e))
		goto out;
	int64_t ver;
	const msgpack_object *vo = pfm_map_get(&o, "version");
	if (!vo || pfm_obj_i64(vo, &ver) || ver != META_VERSION) {
		pfm_errf(e, "unsupported checkpoint version");
		goto out;
	}
	int threads = s->dopt.threads;
	if (get_fields(&o, "opts", dfields, sizeof dfields / sizeof *dfields,
		       &s->dopt, e) ||
	    get_fields(&o, "aug", afields, sizeof afields / sizeof *afields,
		       &s->aug, e) ||
	    get_fields(&o, "arch", cfields, sizeof cfields / sizeof *cfields,
		       &s->arch, e))
		goto out;
	s->dopt.threads = threads;
	if (get_u64(&o, "step", &v, e))
		goto out;
	*step = (int64_t)v;
	if (get_u64(&o, "frames", &s->pos, e) ||
	    get_u64(&o, "frame_hash", &s->pos_hash, e) ||
	    get_u64(&o, "tiles", &s->tiles, e) || get_u64(&o, "seed", &v, e))
		goto out;
	s->dopt.seed = v;
	int64_t ct = 0, eg = 0;
	const msgpack_object *t = pfm_map_get(&o, "threads");
	if (t && !pfm_obj_i64(t, &ct) && ct != threads && s->o->warn)
		s->o->warn("the checkpoint was written with -j %lld, this run "
			   "has -j %d: gradients add up in another order, so "
			   "the run is not bit-identical to an uninterrupted one",
			   (long long)ct, threads);
	const msgpack_object *g = pfm_map_get(&o, "expert_grid");
	if (g && !pfm_obj_i64(g, &eg) && eg != s->o->expert_grid) {
		pfm_errf(e, "--expert-grid differs from the checkpoint's");
		goto out;
	}
	const msgpack_object *nm = pfm_map_get(&o, "name");
	if (nm && nm->type == MSGPACK_OBJECT_STR)
		snprintf(s->arch.name, sizeof s->arch.name, "%.*s",
			 (int)nm->via.str.size, nm->via.str.ptr);
	const msgpack_object *ex = pfm_map_get(&o, "experts");
	if (!ex || ex->type != MSGPACK_OBJECT_ARRAY ||
	    ex->via.array.size > PFM_MAX_EXPERTS) {
		pfm_errf(e, "bad \"experts\"");
		goto out;
	}
	s->dopt.nexperts = (int)ex->via.array.size;
	for (int x = 0; x < s->dopt.nexperts; x++) {
		const msgpack_object *it = &ex->via.array.ptr[x];
		const msgpack_object *n = pfm_map_get(it, "name");
		const msgpack_object *a = pfm_map_get(it, "w_cls");
		const msgpack_object *b = pfm_map_get(it, "w_patch");
		const msgpack_object *wd = pfm_map_get(it, "width");
		pfm_expert_opt *eo = &s->dopt.experts[x];
		int64_t width;
		if (!n || n->type != MSGPACK_OBJECT_STR || n->via.str.size >= 64 ||
		    !a || pfm_obj_f64(a, &eo->w_cls) || !b ||
		    pfm_obj_f64(b, &eo->w_patch) || !wd ||
		    pfm_obj_i64(wd, &width)) {
			pfm_errf(e, "bad expert %d", x);
			goto out;
		}
		memcpy(eo->name, n->via.str.ptr, n->via.str.size);
		eo->name[n->via.str.size] = 0;
		eo->width = (int)width;
	}
	rc = 0;
out:
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
	if (rc)
		pfm_err_prefix(e, "%s: checkpoint settings", pfm_st_label(st));
	return rc;
}

static int save(run_t *s, pfm_err *e)
{
	const pfm_distill_run_opts *o = s->o;
	if (!o->save || !s->d)
		return 0;
	char tp[4096];
	if (o->teacher)
		snprintf(tp, sizeof tp, "%s", o->teacher);
	else
		pfm_distill_teacher_path(o->save, tp, sizeof tp);
	char *meta = meta_json(s);
	if (!meta)
		return pfm_errf(e, "out of memory");
	int rc = pfm_distill_export_teacher(s->d, tp, s->arch.name, e) ||
		 pfm_distill_save(s->d, o->save, meta, e);
	free(meta);
	if (!rc)
		s->saved_step = s->d->step;
	return rc ? -1 : 0;
}

/* ---- batches ---- */

typedef struct {
	run_t *s;
	int t, nt;
	int bad;        /* first failing tile + 1 */
	pfm_err e;
	float *tok;     /* raw expert tokens */
	size_t tcap;
} prep_arg;

static int prep_tile(run_t *s, prep_arg *a, pfm_pixdec *dec, pfm_aug_ws *aw,
		     int i, pfm_err *e)
{
	const pfm_distill_opts *o = &s->dopt;
	msgpack_unpacked u;
	pfm_frame f;
	size_t off = 0;
	int rc = -1;
	char at[320];
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, s->slots[i].raw, s->slots[i].len, &off) !=
		    MSGPACK_UNPACK_SUCCESS ||
	    pfm_frame_init(&f, &u.data, e)) {
		pfm_errf(e, "internal: kept frame unreadable");
		goto out;
	}
	f.index = s->slots[i].index;
	where(&f, at, sizeof at);
	const uint8_t *rgb;
	int W, H, B = s->B;
	if (pfm_tile_rgb(dec, &f, &rgb, &W, &H, e)) {
		pfm_err_prefix(e, "%s", at);
		goto out;
	}
	pfm_rng r = pfm_rng_seed(o->seed, ((uint64_t)s->d->step + 1) << 24 |
						  (uint64_t)i << 4 | 3);
	float *g[2] = {s->global + (size_t)i * 3 * s->G * s->G,
		       s->global + (size_t)(B + i) * 3 * s->G * s->G};
	float *l[64];
	for (int j = 0; j < o->n_local; j++)
		l[j] = s->local + ((size_t)j * B + i) * 3 * s->L * s->L;
	pfm_crop_box box[2];
	if (pfm_aug_tile(&s->aug, aw, rgb, W, H, &r, g, l, box, e)) {
		pfm_err_prefix(e, "%s", at);
		goto out;
	}
	for (int x = 0; x < o->nexperts; x++) {
		const pfm_expert_opt *ex = &o->experts[x];
		pfm_tensor t;
		int E = ex->width;
		if (ex->w_cls > 0) {
			if (sub_tensor(&f, "emb", ex->name, &t, e)) {
				pfm_errf(e, "%s: no emb.%s", at, ex->name);
				goto out;
			}
			if (t.count != (size_t)E) {
				pfm_errf(e, "expert %s: %s: emb.%s has %zu values, "
					    "the expert head predicts %d",
					 ex->name, at, ex->name, t.count, E);
				goto out;
			}
			if (tensor_f32(&t, s->ecls[x] + (size_t)i * E, e)) {
				pfm_err_prefix(e, "%s: emb.%s", at, ex->name);
				goto out;
			}
		}
		if (!(ex->w_patch > 0))
			continue;
		if (sub_tensor(&f, "tokens", ex->name, &t, e)) {
			pfm_errf(e, "%s: no tokens.%s", at, ex->name);
			goto out;
		}
		int64_t n = t.ndim == 2 ? t.shape[0] : -1;
		int gE = n > 0 ? (int)lround(sqrt((double)n)) : 0;
		if (t.ndim != 2 || t.shape[1] != E || (int64_t)gE * gE != n) {
			pfm_errf(e, "expert %s: %s: tokens.%s is not [g*g, %d] "
				    "(the expert head predicts %d)",
				 ex->name, at, ex->name, E, E);
			goto out;
		}
		if (pfm_grow(&a->tok, &a->tcap, t.count * sizeof(float)) ||
		    tensor_f32(&t, a->tok, e)) {
			pfm_err_prefix(e, "%s: tokens.%s", at, ex->name);
			goto out;
		}
		/* the expert's grid spans the tile; resample it over each
		 * global crop's box (or the whole grid: GPFM's resize) */
		for (int c = 0; c < 2; c++) {
			float *dst = s->etok[x] + (size_t)(c * B + i) * s->N * E;
			if (s->o->expert_grid == PFM_EXPERT_GRID_TILE)
				pfm_grid_bicubic(dst, a->tok, gE, gE, E, 0, 0, gE,
						 gE, s->gs, s->gs, 0);
			else
				pfm_grid_bicubic(dst, a->tok, gE, gE, E,
						 box[c].y0 * gE / H, box[c].x0 * gE / W,
						 box[c].h * gE / H, box[c].w * gE / W,
						 s->gs, s->gs, box[c].flip);
		}
	}
	rc = 0;
out:
	msgpack_unpacked_destroy(&u);
	return rc;
}

static void *prep_main(void *p)
{
	prep_arg *a = p;
	run_t *s = a->s;
	pfm_pixdec *dec = pfm_pixdec_new();
	pfm_aug_ws *aw = pfm_aug_ws_new();
	if (!dec || !aw) {
		a->bad = a->t + 1;
		pfm_errf(&a->e, "out of memory");
	}
	for (int i = a->t; !a->bad && i < s->B; i += a->nt)
		if (prep_tile(s, a, dec, aw, i, &a->e))
			a->bad = i + 1;
	pfm_pixdec_free(dec);
	pfm_aug_ws_free(aw);
	return NULL;
}

static int prepare(run_t *s, pfm_err *e)
{
	int nt = s->dopt.threads < s->B ? s->dopt.threads : s->B;
	prep_arg a[nt];
	pthread_t th[nt];
	int started[nt];
	for (int t = 0; t < nt; t++)
		a[t] = (prep_arg){.s = s, .t = t, .nt = nt};
	for (int t = 1; t < nt; t++)
		started[t] = !pthread_create(&th[t], NULL, prep_main, &a[t]);
	prep_main(&a[0]);
	for (int t = 1; t < nt; t++) {
		if (started[t])
			pthread_join(th[t], NULL);
		else
			prep_main(&a[t]);
	}
	int bad = 0, k = -1;
	for (int t = 0; t < nt; t++) {
		if (a[t].bad && (!bad || a[t].bad < bad))
			bad = a[t].bad, k = t;
	}
	if (k >= 0)
		*e = a[k].e;
	for (int t = 0; t < nt; t++)
		free(a[t].tok);
	if (bad)
		return -1;
	pfm_rng r = pfm_rng_seed(s->dopt.seed,
				 ((uint64_t)s->d->step + 1) << 24 | 4);
	pfm_aug_masks(s->mask, 2 * s->B, s->gs, s->gs, s->dopt.mask_prob,
		      s->dopt.mask_min, s->dopt.mask_max, &r);
	return 0;
}

/* ---- model ---- */

static int widths_from(run_t *s, pfm_err *e)
{
	pfm_distill_opts *o = &s->dopt;
	msgpack_unpacked u;
	pfm_frame f;
	size_t off = 0;
	char at[320];
	int rc = -1;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, s->slots[0].raw, s->slots[0].len, &off) !=
		    MSGPACK_UNPACK_SUCCESS ||
	    pfm_frame_init(&f, &u.data, e))
		goto out;
	f.index = s->slots[0].index;
	where(&f, at, sizeof at);
	for (int x = 0; x < o->nexperts; x++) {
		pfm_expert_opt *ex = &o->experts[x];
		pfm_tensor t;
		int wc = 0, wp = 0;
		if (ex->w_cls > 0 && !sub_tensor(&f, "emb", ex->name, &t, e))
			wc = (int)t.count;
		if (ex->w_patch > 0 && !sub_tensor(&f, "tokens", ex->name, &t, e))
			wp = t.ndim == 2 ? (int)t.shape[1] : -1;
		if (wc && wp && wc != wp) {
			pfm_errf(e, "expert %s: %s: emb.%s has %d values but "
				    "tokens.%s are %d wide; one head predicts "
				    "both (GPFM)",
				 ex->name, at, ex->name, wc, ex->name, wp);
			goto out;
		}
		ex->width = wc ? wc : wp;
		if (ex->width <= 0) {
			pfm_errf(e, "expert %s: %s: no usable width", ex->name, at);
			goto out;
		}
	}
	rc = 0;
out:
	msgpack_unpacked_destroy(&u);
	return rc;
}

static int make_model(run_t *s, const pfm_st *ckpt, int64_t step,
		      pfm_err *e)
{
	if (!ckpt && widths_from(s, e))
		return -1;
	if (ckpt)
		s->dopt.arch = &s->arch, s->dopt.init = NULL;
	if (pfm_distill_new(&s->d, &s->dopt, e))
		return -1;
	if (!ckpt) {
		char nm[64];
		snprintf(nm, sizeof nm, "%s", s->o->name ? s->o->name : "distilled");
		s->arch = s->d->m.cfg;
		snprintf(s->arch.name, sizeof s->arch.name, "%s", nm);
	} else {
		if (pfm_distill_restore(s->d, ckpt, e))
			return -1;
		s->d->step = step;
		if (s->o->name) /* naming the teacher changes no number */
			snprintf(s->arch.name, sizeof s->arch.name, "%s",
				 s->o->name);
	}
	const pfm_distill_opts *o = &s->dopt;
	int B = s->B = o->batch, P = s->d->m.cfg.patch;
	s->G = o->global_size, s->L = o->local_size, s->gs = s->G / P;
	s->N = s->gs * s->gs;
	s->global = malloc((size_t)2 * B * 3 * s->G * s->G * sizeof(float));
	s->local = malloc(((size_t)o->n_local * B * 3 * s->L * s->L + 1) *
			  sizeof(float));
	s->mask = malloc((size_t)2 * B * s->N);
	if (!s->global || !s->local || !s->mask)
		return pfm_errf(e, "out of memory for a batch of %d tiles", B);
	for (int x = 0; x < o->nexperts; x++) {
		int E = o->experts[x].width;
		s->ecls[x] = malloc((size_t)B * E * sizeof(float));
		s->etok[x] = o->experts[x].w_patch > 0
				     ? malloc((size_t)2 * B * s->N * E * sizeof(float))
				     : NULL;
		if (!s->ecls[x] || (o->experts[x].w_patch > 0 && !s->etok[x]))
			return pfm_errf(e, "out of memory for expert %s targets",
					o->experts[x].name);
	}
	return 0;
}

/* ---- metric frames ---- */

static int write_metrics(run_t *s, const pfm_distill_metrics *mt,
			 double sps, pfm_err *e)
{
	pfm_build *b = s->b, *v = s->vals;
	pfm_build_reset(b, PFM_T_METRIC);
	pfm_build_reset(v, NULL);
	for (int k = 0; k < PFM_DM_N; k++) {
		if ((k == PFM_DM_DINO_LOCAL || k == PFM_DM_DINO_GLOBAL ||
		     k == PFM_DM_KOLEO) && !(s->dopt.dino_w > 0))
			continue;
		if (k == PFM_DM_KOLEO && !(s->dopt.koleo_w > 0))
			continue;
		if (k == PFM_DM_IBOT && !(s->dopt.ibot_w > 0))
			continue;
		if (k == PFM_DM_DINO_LOCAL && !s->dopt.n_local)
			continue;
		pfm_build_f64(v, pfm_distill_metric_names[k], mt->v[k]);
		if (k == PFM_DM_IBOT)
			for (int x = 0; x < s->dopt.nexperts; x++) {
				char key[96];
				const pfm_expert_opt *ex = &s->dopt.experts[x];
				if (ex->w_cls > 0) {
					snprintf(key, sizeof key, "%s_cls", ex->name);
					pfm_build_f64(v, key, mt->ecls[x]);
				}
				if (ex->w_patch > 0) {
					snprintf(key, sizeof key, "%s_patch", ex->name);
					pfm_build_f64(v, key, mt->epatch[x]);
				}
			}
	}
	pfm_build_f64(v, "samples_per_s", sps);
	pfm_build_f64(v, "time_data", s->t_data);
	pfm_build_i64(b, "step", s->d->step);
	pfm_build_obj(b, "values", pfm_build_object(v));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	pfm_build_f64(b, "time", ts.tv_sec + ts.tv_nsec * 1e-9);
	pfm_build_str(b, "run", s->o->run ? s->o->run : s->arch.name);
	pfm_build_str(b, "split", "train");
	/* one metric frame a step, seen by the reader when it is made */
	if (pfm_write(s->w, b) || pfm_writer_flush(s->w))
		return pfm_errf(e, "%s", pfm_writer_error(s->w));
	return 0;
}

/* ---- the stream ---- */

/* Skip the frames a checkpoint's run used, checking the last one. */
static int skip_to(run_t *s, pfm_err *e)
{
	pfm_frame f;
	uint64_t h = 0;
	while (s->frames < s->pos) {
		int got = pfm_read(s->r, &f);
		if (got < 0)
			return pfm_errf(e, "%s", pfm_reader_error(s->r));
		if (!got)
			return pfm_errf(e, "resume: the input ended after %llu "
					   "frames; the checkpoint was taken "
					   "after %llu",
					(unsigned long long)s->frames,
					(unsigned long long)s->pos);
		s->frames++;
		h = fnv(f.raw, f.raw_len);
	}
	if (s->pos && h != s->pos_hash)
		return pfm_errf(e, "resume: input frame %llu is not the one the "
				   "checkpoint was taken after (another input?)",
				(unsigned long long)(s->pos - 1));
	return 0;
}

/* Read up to a full batch of tiles into the slots; their count. */
static int fill(run_t *s, int B, int *eof, pfm_err *e)
{
	int n = 0;
	pfm_frame f;
	char at[320];
	while (n < B) {
		int got = pfm_read(s->r, &f);
		if (got < 0)
			return pfm_errf(e, "%s", pfm_reader_error(s->r));
		if (!got) {
			*eof = 1;
			break;
		}
		s->frames++;
		pfm_progress_add(&s->prog, 1, f.raw_len);
		if (!pfm_frame_is(&f, PFM_T_TILE)) {
			s->nontile++;
			continue;
		}
		pfm_err fe;
		if (has_fields(s, &f, &fe)) {
			where(&f, at, sizeof at);
			if (!s->o->skip_incomplete)
				return pfm_errf(e, "%s: %s (add it upstream with "
						   "embed --as NAME --tokens "
						   "--keep-pixels, or give "
						   "--skip-incomplete)",
						at, fe.msg);
			s->skipped++;
			continue;
		}
		slot_t *sl = &s->slots[n];
		if (pfm_grow(&sl->raw, &sl->cap, f.raw_len))
			return pfm_errf(e, "out of memory");
		memcpy(sl->raw, f.raw, f.raw_len);
		sl->len = f.raw_len;
		sl->index = f.index;
		n++;
	}
	return n;
}

static int loop(run_t *s, pfm_st *ckpt, int64_t step, pfm_err *e)
{
	const pfm_distill_run_opts *o = s->o;
	int B = s->dopt.batch, eof = 0;
	s->slots = calloc(B, sizeof *s->slots);
	if (!s->slots)
		return pfm_errf(e, "out of memory");
	if (ckpt && (make_model(s, ckpt, step, e) || skip_to(s, e)))
		return -1;
	s->saved_step = s->d ? s->d->step : -1;
	while (!(s->d && s->d->step >= s->dopt.steps) && !(o->stop && *o->stop)) {
		double t0 = pfm_now();
		int n = fill(s, B, &eof, e);
		/* Ctrl-C on a pipeline stops the producers too: their cut
		 * stream is no error once we were asked to stop */
		if (n < 0 && o->stop && *o->stop)
			break;
		if (n < 0)
			return -1;
		if (n < B) {
			if (n && o->warn)
				o->warn("the input ended with %d tiles, less than "
					"a batch: not trained on", n);
			break;
		}
		if (!s->d && make_model(s, NULL, 0, e))
			return -1;
		pfm_distill_metrics mt;
		pfm_distill_batch b = {.B = B, .global = s->global,
				       .local = s->local, .mask = s->mask};
		for (int x = 0; x < s->dopt.nexperts; x++)
			b.ecls[x] = s->ecls[x], b.etok[x] = s->etok[x];
		double tp = pfm_now();
		if (prepare(s, e))
			return -1;
		s->t_data = pfm_now() - tp;
		if (pfm_distill_step(s->d, &b, &mt, e))
			return -1;
		s->tiles += (uint64_t)B;
		s->pos = s->frames;
		s->pos_hash = fnv(s->slots[B - 1].raw, s->slots[B - 1].len);
		if (write_metrics(s, &mt, B / (pfm_now() - t0), e))
			return -1;
		if (o->save_every && s->d->step % o->save_every == 0 && save(s, e))
			return -1;
	}
	if (o->stop && *o->stop && o->warn)
		o->warn("stopped by a signal after step %lld%s",
			s->d ? (long long)s->d->step : 0LL,
			o->save ? ": checkpoint saved" : "");
	if (s->d && s->saved_step != s->d->step && save(s, e))
		return -1;
	return 0;
}

int pfm_distill_run(const pfm_distill_run_opts *o, pfm_err *e)
{
	run_t s = {.o = o, .dopt = o->d, .aug = o->aug};
	pfm_st *ckpt = NULL;
	int64_t step = 0;
	int rc = -1;
	if (o->resume) {
		if (pfm_st_open(&ckpt, o->resume, e) ||
		    load_meta(&s, ckpt, &step, e))
			goto out;
	} else if (pfm_distill_resolve(&s.dopt, e)) {
		goto out;
	}
	s.aug.global_size = s.dopt.global_size;
	s.aug.local_size = s.dopt.local_size;
	s.aug.n_local = s.dopt.n_local;
	if (s.dopt.n_local > 64) {
		pfm_errf(e, "at most 64 local crops");
		goto out;
	}
	s.b = pfm_build_new();
	s.vals = pfm_build_new();
	if (!s.b || !s.vals) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	if (!(s.r = pfm_reader_open(o->input ? o->input : "-", &o->io, e)) ||
	    !(s.w = pfm_writer_open(o->output ? o->output : "-", &o->io, e)))
		goto out;
	pfm_progress_init(&s.prog, o->progress, o->quiet);
	rc = loop(&s, ckpt, step, e);
out:
	if (s.w) {
		pfm_err we;
		int epipe = pfm_writer_epipe(s.w);
		if (pfm_writer_close(s.w, rc == 0, &we) && rc == 0) {
			*e = we;
			rc = -1;
		} else if (rc && epipe) {
			e->code = EPIPE;
		}
	}
	pfm_progress_done(&s.prog);
	if (rc == 0 && o->warn) {
		if (s.skipped)
			o->warn("%llu tiles without an expert's field skipped",
				(unsigned long long)s.skipped);
		if (s.nontile)
			o->warn("%llu frames that are not tiles ignored",
				(unsigned long long)s.nontile);
	}
	pfm_reader_close(s.r);
	pfm_st_close(ckpt);
	pfm_build_free(s.b);
	pfm_build_free(s.vals);
	for (int i = 0; s.slots && i < s.dopt.batch; i++)
		free(s.slots[i].raw);
	free(s.slots);
	free(s.global), free(s.local), free(s.mask);
	for (int x = 0; x < PFM_MAX_EXPERTS; x++)
		free(s.ecls[x]), free(s.etok[x]);
	pfm_distill_free(s.d);
	return rc;
}
