/* embed_run.c: tile frames -> embeddings, batched, order kept.
 *
 * Each tile is decoded and preprocessed as it arrives (into its slot of
 * the batch) and its encoded bytes are kept; when the batch is full the
 * ViT runs once and every kept frame is rebuilt with its embedding.
 * Frames that are not tiles pass through unchanged, after the tiles
 * before them, so the stream's order is the input's. */
#include "embed_run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "frame.h"
#include "mem.h"
#include "preprocess.h"
#include "tile_pixels.h"
#include "vit.h"

typedef struct {
	char *raw;   /* the frame's encoded bytes (copy) */
	size_t len, cap;
} slot_t;

typedef struct {
	const pfm_embed_opts *o;
	pfm_vit m;
	pfm_vit_run *run;
	pfm_prep prep;
	pfm_prep_ws *pws;
	pfm_pixdec *dec;
	pfm_writer *w;
	pfm_build *b;
	int S, kind, od, nslots;
	const char *as;
	slot_t *slots;
	float *images, *out;
	uint16_t *half;
	uint64_t tiles, dropped, passed;
	pfm_progress prog;
} embed_t;

int pfm_embed_model_path(const pfm_embed_opts *o, char *buf, size_t cap,
			 pfm_err *e)
{
	struct stat sb;
	const char *m = o->model;
	if (!m || !*m)
		return pfm_errf(e, "no model (--model PATH or NAME)");
	if (strchr(m, '/') || !stat(m, &sb)) {
		if ((size_t)snprintf(buf, cap, "%s", m) >= cap)
			return pfm_errf(e, "model path too long");
		return 0;
	}
	const char *dir = o->model_dir ? o->model_dir : getenv("PATHFM_MODELS");
	if (!dir || !*dir)
		dir = PFM_MODELS_DIR_DEFAULT;
	if ((size_t)snprintf(buf, cap, "%s/%s.safetensors", dir, m) >= cap)
		return pfm_errf(e, "model path too long");
	if (stat(buf, &sb))
		return pfm_errf(e, "model \"%s\": no file %s (set --model-dir "
				   "or PATHFM_MODELS, or give a path)",
				m, buf);
	return 0;
}

int pfm_embed_info(const pfm_embed_opts *o, pfm_err *e)
{
	char path[4096];
	pfm_vit m;
	if (pfm_embed_model_path(o, path, sizeof path, e) ||
	    pfm_vit_load(&m, path, e))
		return -1;
	const pfm_vit_config *c = &m.cfg;
	printf("{\"name\":\"%s\",\"file\":\"%s\",\"scheme\":\"%s\","
	       "\"params\":%zu,\"embed_dim\":%d,\"depth\":%d,\"num_heads\":%d,"
	       "\"patch_size\":%d,\"mlp\":\"%s\",\"mlp_hidden\":%d,"
	       "\"class_token\":%s,\"reg_tokens\":%d,\"layerscale\":%s,"
	       "\"pos_grid\":[%d,%d],\"ln_eps\":%g,\"resize\":%d,\"crop\":%d,"
	       "\"mean\":[%g,%g,%g],\"std\":[%g,%g,%g],\"pool\":\"%s\","
	       "\"outputs\":{",
	       c->name, path, pfm_vit_scheme_name(c->scheme), m.nparams,
	       c->dim, c->depth, c->heads, c->patch,
	       c->mlp == PFM_MLP_SWIGLU ? "swiglu" : "gelu", c->hidden,
	       c->cls ? "true" : "false", c->reg,
	       c->layerscale ? "true" : "false", c->pos_h, c->pos_w,
	       (double)c->eps, c->resize, c->crop, (double)c->mean[0],
	       (double)c->mean[1], (double)c->mean[2], (double)c->std[0],
	       (double)c->std[1], (double)c->std[2], pfm_vit_out_name(c->out));
	for (int k = 0, n = 0; k < PFM_NOUT; k++)
		if (pfm_vit_out_dim(c, k))
			printf("%s\"%s\":%d", n++ ? "," : "",
			       pfm_vit_out_name(k), pfm_vit_out_dim(c, k));
	printf("}}\n");
	pfm_vit_free(&m);
	return fflush(stdout) ? pfm_errf(e, "stdout: %s", strerror(errno)) : 0;
}

/* "frame 12 (slide S, x 0, y 224)" for messages. */
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

/* IEEE half, round to nearest even. */
static uint16_t to_half(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	uint32_t sign = (x >> 16) & 0x8000, mant = x & 0x7fffff;
	int exp = (int)((x >> 23) & 0xff);
	if (exp == 255) /* inf, nan */
		return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
	int he = exp - 127 + 15;
	if (he >= 31)
		return (uint16_t)(sign | 0x7c00);
	if (he <= 0) { /* subnormal or zero */
		if (he < -10)
			return (uint16_t)sign;
		mant |= 0x800000;
		int shift = 14 - he;
		uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1);
		uint32_t half = 1u << (shift - 1);
		if (rem > half || (rem == half && (h & 1)))
			h++;
		return (uint16_t)(sign | h);
	}
	uint32_t h = ((uint32_t)he << 10) | (mant >> 13);
	uint32_t rem = mant & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++; /* may carry into the exponent: still right */
	return (uint16_t)(sign | h);
}

/* Run the ViT on the n kept tiles and write them out. */
static int flush(embed_t *s, pfm_err *e)
{
	const pfm_embed_opts *o = s->o;
	int n = s->nslots;
	if (!n)
		return 0;
	s->nslots = 0;
	if (pfm_vit_forward(s->run, s->images, n, e) ||
	    pfm_vit_output(s->run, s->kind, s->out, e))
		return -1;
	int T = pfm_vit_run_tokens(s->run), D = s->m.cfg.dim;
	int pre = T - (s->S / s->m.cfg.patch) * (s->S / s->m.cfg.patch);
	const float *tok = pfm_vit_tokens(s->run);
	for (int i = 0; i < n; i++) {
		msgpack_unpacked u;
		pfm_frame f;
		size_t off = 0;
		msgpack_unpacked_init(&u);
		if (msgpack_unpack_next(&u, s->slots[i].raw, s->slots[i].len,
					&off) != MSGPACK_UNPACK_SUCCESS ||
		    pfm_frame_init(&f, &u.data, e)) {
			msgpack_unpacked_destroy(&u);
			return pfm_errf(e, "internal: kept frame unreadable");
		}
		pfm_tensor t;
		int64_t shape[2] = {s->od, D};
		const float *v = s->out + (size_t)i * s->od;
		pfm_build_reset(s->b, NULL);
		int rc = pfm_build_copy(s->b, &f);
		if (o->f16) {
			for (int k = 0; k < s->od; k++)
				s->half[k] = to_half(v[k]);
			pfm_tensor_set(&t, PFM_F16, s->half, 1, shape);
		} else {
			pfm_tensor_set(&t, PFM_F32, v, 1, shape);
		}
		rc = rc || pfm_build_sub_tensor(s->b, "emb", s->as, &t);
		uint16_t *th = NULL;
		if (!rc && o->tokens) {
			const float *p = tok + ((size_t)i * T + pre) * D;
			int64_t ts[2] = {T - pre, D};
			size_t cnt = (size_t)(T - pre) * D;
			if (o->f16 && !(th = malloc(cnt * sizeof *th)))
				rc = -1;
			for (size_t k = 0; th && k < cnt; k++)
				th[k] = to_half(p[k]);
			if (!rc) {
				pfm_tensor_set(&t, o->f16 ? PFM_F16 : PFM_F32,
					       o->f16 ? (void *)th : (void *)p,
					       2, ts);
				rc = pfm_build_sub_tensor(s->b, "tokens", s->as,
							  &t);
			}
		}
		if (!rc && !o->keep_pixels) {
			pfm_build_remove(s->b, "pixels");
			pfm_build_remove(s->b, "encoding");
			rc = pfm_build_str(s->b, "type", PFM_T_EMBEDDING);
		}
		if (rc) {
			free(th);
			msgpack_unpacked_destroy(&u);
			return pfm_errf(e, "out of memory building a frame");
		}
		rc = pfm_write(s->w, s->b);
		free(th);
		msgpack_unpacked_destroy(&u);
		if (rc)
			return pfm_errf(e, "%s", pfm_writer_error(s->w));
		pfm_progress_add(&s->prog, 1, 0);
	}
	return 0;
}

/* Decode and preprocess a tile into the next slot; 1 if it was dropped
 * (--keep-going). */
static int take_tile(embed_t *s, const pfm_frame *f, pfm_err *e)
{
	const uint8_t *rgb;
	int w, h;
	char at[320];
	float *dst = s->images + (size_t)s->nslots * 3 * s->S * s->S;
	if (pfm_tile_rgb(s->dec, f, &rgb, &w, &h, e) ||
	    pfm_prep_run(&s->prep, s->pws, rgb, w, h, dst, e)) {
		where(f, at, sizeof at);
		pfm_err_prefix(e, "%s", at);
		if (!s->o->keep_going)
			return -1;
		if (s->o->warn)
			s->o->warn("%s (dropped)", e->msg);
		s->dropped++;
		return 1;
	}
	slot_t *sl = &s->slots[s->nslots];
	if (pfm_grow(&sl->raw, &sl->cap, f->raw_len))
		return pfm_errf(e, "out of memory");
	memcpy(sl->raw, f->raw, f->raw_len);
	sl->len = f->raw_len;
	s->nslots++;
	s->tiles++;
	return 0;
}

static int setup(embed_t *s, const pfm_embed_opts *o, pfm_err *e)
{
	char path[4096];
	if (pfm_embed_model_path(o, path, sizeof path, e) ||
	    pfm_vit_load(&s->m, path, e))
		return -1;
	const pfm_vit_config *c = &s->m.cfg;
	s->kind = o->out_kind >= 0 ? o->out_kind : c->out;
	s->od = pfm_vit_out_dim(c, s->kind);
	if (!s->od)
		return pfm_errf(e, "model %s has no output \"%s\"", c->name,
				pfm_vit_out_name(s->kind));
	s->S = o->size ? o->size : c->crop;
	if (s->S % c->patch)
		return pfm_errf(e, "input size %d is not a multiple of the "
				   "patch size %d",
				s->S, c->patch);
	s->as = o->as ? o->as : c->name;
	s->prep = (pfm_prep){.resize = o->size ? (c->resize * o->size +
						  c->crop / 2) / c->crop
					       : c->resize,
			     .crop_w = s->S, .crop_h = s->S,
			     .interp = (pfm_interp)c->interp};
	memcpy(s->prep.mean, c->mean, sizeof c->mean);
	memcpy(s->prep.std, c->std, sizeof c->std);
	if (pfm_prep_check(&s->prep, e))
		return -1;
	s->run = pfm_vit_run_new(&s->m, o->batch, s->S, o->threads, e);
	if (!s->run || (o->bf16 && pfm_vit_run_bf16(s->run, e)))
		return -1;
	s->pws = pfm_prep_ws_new();
	s->dec = pfm_pixdec_new();
	s->b = pfm_build_new();
	s->slots = calloc(o->batch, sizeof *s->slots);
	s->images = malloc((size_t)o->batch * 3 * s->S * s->S * sizeof(float));
	s->out = malloc((size_t)o->batch * s->od * sizeof(float));
	s->half = malloc((size_t)s->od * sizeof *s->half);
	if (!s->pws || !s->dec || !s->b || !s->slots || !s->images ||
	    !s->out || !s->half)
		return pfm_errf(e, "out of memory");
	return 0;
}

static void teardown(embed_t *s)
{
	for (int i = 0; s->slots && i < s->o->batch; i++)
		free(s->slots[i].raw);
	free(s->slots);
	free(s->images);
	free(s->out);
	free(s->half);
	pfm_build_free(s->b);
	pfm_pixdec_free(s->dec);
	pfm_prep_ws_free(s->pws);
	pfm_vit_run_free(s->run);
	pfm_vit_free(&s->m);
}

int pfm_embed_run(const pfm_embed_opts *o, pfm_err *e)
{
	embed_t s = {.o = o};
	pfm_reader *r = NULL;
	int rc = -1, got;
	pfm_frame f;
	if (setup(&s, o, e))
		goto out;
	if (!(r = pfm_reader_open(o->input ? o->input : "-", &o->io, e)) ||
	    !(s.w = pfm_writer_open(o->output ? o->output : "-", &o->io, e)))
		goto out;
	pfm_progress_init(&s.prog, o->progress, o->quiet);
	while ((got = pfm_read(r, &f)) == 1) {
		if (!pfm_frame_is(&f, PFM_T_TILE)) {
			/* not ours: out after the tiles before it */
			if (flush(&s, e))
				goto out;
			if (pfm_write_frame(s.w, &f)) {
				pfm_errf(e, "%s", pfm_writer_error(s.w));
				goto out;
			}
			s.passed++;
			continue;
		}
		if (take_tile(&s, &f, e) < 0)
			goto out;
		if (s.nslots == o->batch && flush(&s, e))
			goto out;
	}
	if (got < 0) {
		pfm_errf(e, "%s", pfm_reader_error(r));
		goto out;
	}
	if (flush(&s, e))
		goto out;
	rc = 0;
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
	if (s.dropped && o->warn)
		o->warn("%llu tiles embedded, %llu dropped",
			(unsigned long long)s.tiles,
			(unsigned long long)s.dropped);
	pfm_reader_close(r);
	teardown(&s);
	return rc ? rc : s.dropped ? 1 : 0;
}
