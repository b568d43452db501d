/* distill_step.c: one training step of distill-step (distill.h): the
 * forward of teacher and student, every loss, the backward pass into
 * d->G; then clipping, AdamW and the teacher's EMA.
 *
 * The order of DINOv2's SSLMetaArch.forward_backward: the teacher sees
 * the 2 global crops (no masks, no drop-path), its class tokens swapped
 * between the crops so crop A's student is matched to crop B's teacher,
 * and its patch tokens at the masked positions; both go through the
 * teacher's DINO head, then centering (or Sinkhorn-Knopp). The student
 * sees the global crops with masks and the local crops; its head rows
 * are the local class tokens, the global class tokens and the masked
 * patch tokens. GPFM's expert heads read the student's global class and
 * patch tokens. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adamw.h"
#include "cli.h"
#include "distill.h"
#include "distill_loss.h"
#include "mem.h"
#include "par.h"
#include "vit_train.h"


const char *const pfm_distill_metric_names[PFM_DM_N] = {
	"loss", "dino_local", "dino_global", "koleo", "ibot", "lr",
	"last_layer_lr", "wd", "momentum", "teacher_temp", "grad_norm",
	"head_grad_norm", "masked_patches", "time_teacher", "time_forward",
	"time_heads", "time_backward", "time_update"};

typedef struct {
	float *p;
	size_t cap;
} buf;

struct pfm_distill_ws {
	int B;
	pfm_vit_train *sg, *sl, *tg;
	pfm_head_ws *hs, *ht, *he[PFM_MAX_EXPERTS];
	buf tin, tlog, tprob, sin, slog, dslog, dsin, w, ein, eout, deout, dein,
		tcls, kx, kdx;
	float *tsum, *dtg, *dtl, *drop_g, *drop_l;
	int *mimg, *mpatch, *nmask;
	size_t cap_m;
	double *sk;
};

void pfm_distill_free_ws(pfm_distill *d)
{
	struct pfm_distill_ws *w = d->ws;
	if (!w)
		return;
	pfm_vit_train_free(w->sg);
	pfm_vit_train_free(w->sl);
	pfm_vit_train_free(w->tg);
	pfm_head_ws_free(w->hs);
	pfm_head_ws_free(w->ht);
	for (int i = 0; i < PFM_MAX_EXPERTS; i++)
		pfm_head_ws_free(w->he[i]);
	buf *bs[] = {&w->tin, &w->tlog, &w->tprob, &w->sin, &w->slog, &w->dslog,
		     &w->dsin, &w->w, &w->ein, &w->eout, &w->deout, &w->dein,
		     &w->tcls, &w->kx, &w->kdx};
	for (size_t i = 0; i < sizeof bs / sizeof *bs; i++)
		free(bs[i]->p);
	free(w->tsum), free(w->dtg), free(w->dtl), free(w->drop_g);
	free(w->drop_l), free(w->mimg), free(w->mpatch), free(w->nmask);
	free(w->sk);
	free(w);
	d->ws = NULL;
}

static int need(buf *b, size_t n)
{
	return pfm_grow(&b->p, &b->cap, n * sizeof(float));
}

static int make_ws(pfm_distill *d, pfm_err *e)
{
	const pfm_distill_opts *o = &d->o;
	struct pfm_distill_ws *w = d->ws = calloc(1, sizeof *w);
	if (!w)
		return pfm_errf(e, "out of memory");
	int B = w->B = o->batch, L = d->m.cfg.depth, D = d->m.cfg.dim;
	w->sg = pfm_vit_train_new(&d->m, 2 * B, o->global_size, 1, o->threads, e);
	w->tg = w->sg ? pfm_vit_train_new(&d->m, 2 * B, o->global_size, 0,
					  o->threads, e)
		      : NULL;
	if (!w->sg || !w->tg)
		return -1;
	if (o->n_local) {
		w->sl = pfm_vit_train_new(&d->m, o->n_local * B, o->local_size, 1,
					  o->threads, e);
		if (!w->sl)
			return -1;
	}
	int Tg = pfm_vit_train_tokens(w->sg);
	int Tl = w->sl ? pfm_vit_train_tokens(w->sl) : 0;
	size_t K = o->prototypes;
	w->hs = pfm_head_ws_new(&d->dino, o->threads);
	w->ht = pfm_head_ws_new(&d->dino, o->threads);
	w->tsum = malloc((size_t)B * K * sizeof(float));
	w->dtg = malloc((size_t)2 * B * Tg * D * sizeof(float));
	w->dtl = malloc(((size_t)o->n_local * B * Tl + 1) * D * sizeof(float));
	w->drop_g = malloc((size_t)L * 2 * 2 * B * sizeof(float));
	w->drop_l = malloc(((size_t)L * 2 * o->n_local * B + 1) * sizeof(float));
	w->nmask = malloc((size_t)2 * B * sizeof(int));
	w->sk = malloc(K * sizeof(double));
	if (!w->hs || !w->ht || !w->tsum || !w->dtg || !w->dtl || !w->drop_g ||
	    !w->drop_l || !w->nmask || !w->sk)
		return pfm_errf(e, "out of memory");
	for (int i = 0; i < o->nexperts; i++)
		if (!(w->he[i] = pfm_head_ws_new(&d->expert[i], o->threads)))
			return pfm_errf(e, "out of memory");
	return 0;
}

/* ---- schedules (DINOv2 utils/utils.py CosineScheduler) ---- */

double pfm_cosine_schedule(double base, double final, int64_t total,
			   int64_t warmup, double start_warmup, int64_t freeze,
			   int64_t it)
{
	if (it >= total)
		return final;
	if (it < freeze)
		return 0;
	if (it < freeze + warmup) { /* np.linspace(start, base, warmup) */
		int64_t i = it - freeze;
		return warmup == 1 ? start_warmup
				   : start_warmup + (double)i * (base - start_warmup) /
							  (double)(warmup - 1);
	}
	double i = (double)(it - freeze - warmup);
	double n = (double)(total - warmup - freeze);
	return final + 0.5 * (base - final) * (1 + cos(M_PI * i / n));
}

double pfm_distill_lr(const pfm_distill *d, int64_t it)
{
	return pfm_cosine_schedule(d->lr_scaled, d->o.min_lr, d->o.steps,
				   d->o.warmup, 0, 0, it);
}

double pfm_distill_last_lr(const pfm_distill *d, int64_t it)
{
	/* the lr schedule with its first freeze_last_layer iterations 0 */
	return it < d->o.freeze_last ? 0 : pfm_distill_lr(d, it);
}

double pfm_distill_wd(const pfm_distill *d, int64_t it)
{
	return pfm_cosine_schedule(d->o.wd, d->o.wd_end, d->o.steps, 0, 0, 0,
				   it);
}

double pfm_distill_momentum(const pfm_distill *d, int64_t it)
{
	return pfm_cosine_schedule(d->o.mom, d->o.mom_end, d->o.steps, 0, 0, 0,
				   it);
}

double pfm_distill_teacher_temp(const pfm_distill *d, int64_t it)
{
	int64_t n = d->o.teacher_temp_steps;
	return pfm_cosine_schedule(d->o.teacher_temp, d->o.teacher_temp, n, n,
				   d->o.teacher_temp_start, 0, it);
}

void pfm_distill_drop_scales(float *s, int L, int rows, double rate,
			     pfm_rng *r)
{
	int *idx = malloc((size_t)rows * sizeof *idx);
	for (int l = 0; l < L; l++)
		for (int br = 0; br < 2; br++) {
			float *o = s + ((size_t)l * 2 + br) * rows;
			if (rate > 0.1 && idx) {
				int keep = (int)(rows * (1 - rate));
				keep = keep < 1 ? 1 : keep;
				for (int i = 0; i < rows; i++)
					idx[i] = i, o[i] = 0;
				pfm_rng_shuffle(r, idx, rows);
				for (int i = 0; i < keep; i++)
					o[idx[i]] = (float)rows / keep;
			} else {
				for (int i = 0; i < rows; i++)
					o[i] = pfm_rng_uniform(r) < 1 - rate
						       ? (float)(1 / (1 - rate))
						       : 0.f;
			}
		}
	free(idx);
}

/* ---- the losses' row and column passes on threads ---- */

typedef struct {
	float *ds, *p;
	const float *s, *t, *w, *x, *c;
	float temp, m;
	int K, R;
	double part[64];
	int nparts;
} lossjob;

static void xent_rows(void *c, int lo, int hi)
{
	lossjob *j = c;
	size_t o = (size_t)lo * j->K;
	/* one partial per range (pfm_par_for's split), added in order */
	int slot = 0;
	for (int i = 0, l = 0; i < j->nparts; i++) {
		if (l == lo)
			slot = i;
		l += j->R / j->nparts + (i < j->R % j->nparts);
	}
	j->part[slot] = pfm_xent(j->ds ? j->ds + o : NULL, j->s + o, j->t + o,
				 j->w ? j->w + lo : NULL, j->temp, hi - lo, j->K);
}

static double par_xent(int nt, float *ds, const float *s, const float *t,
		       const float *w, float temp, int R, int K)
{
	nt = nt > R ? R : nt > 64 ? 64 : nt;
	lossjob j = {.ds = ds, .s = s, .t = t, .w = w, .temp = temp, .K = K,
		     .R = R, .nparts = nt};
	if (R <= 0)
		return 0;
	pfm_par_for(nt, R, xent_rows, &j);
	double sum = 0;
	for (int i = 0; i < nt; i++)
		sum += j.part[i];
	return sum;
}

static void softmax_rows(void *c, int lo, int hi)
{
	lossjob *j = c;
	size_t o = (size_t)lo * j->K;
	pfm_softmax_center(j->p + o, j->x + o, j->c, j->temp, hi - lo, j->K);
}

static void center_cols(void *c, int lo, int hi)
{
	lossjob *j = c;
	double acc[256];
	for (int k0 = lo; k0 < hi; k0 += 256) {
		int k1 = k0 + 256 < hi ? k0 + 256 : hi;
		for (int k = k0; k < k1; k++)
			acc[k - k0] = 0;
		for (int r = 0; r < j->R; r++) {
			const float *a = j->x + (size_t)r * j->K;
			for (int k = k0; k < k1; k++)
				acc[k - k0] += a[k];
		}
		for (int k = k0; k < k1; k++) {
			float bc = (float)(acc[k - k0] / j->R);
			j->p[k] = j->p[k] * j->m + bc * (1.f - j->m);
		}
	}
}

/* softmax((x - centre) / temp), then the centre's EMA update */
static void par_center(int nt, float *p, const float *x, float *center,
		       float temp, float m, int R, int K)
{
	lossjob j = {.p = p, .x = x, .c = center, .temp = temp, .K = K, .R = R};
	pfm_par_for(nt, R, softmax_rows, &j);
	j.p = center, j.m = m;
	pfm_par_for(nt, K, center_cols, &j);
}

/* ---- the step ---- */

static void row_copy(float *dst, const float *src, int D)
{
	memcpy(dst, src, (size_t)D * sizeof(float));
}

static void row_add(float *dst, const float *src, int D)
{
	for (int i = 0; i < D; i++)
		dst[i] += src[i];
}

static int teacher(pfm_distill *d, const pfm_distill_batch *b, int nm,
		   double tt, pfm_err *e)
{
	struct pfm_distill_ws *w = d->ws;
	const pfm_distill_opts *o = &d->o;
	int B = b->B, D = d->m.cfg.dim, K = o->prototypes;
	int Tg = pfm_vit_train_tokens(w->tg), pre = pfm_vit_train_prefix(w->tg);
	pfm_vit_batch vb = {d->T, NULL, b->global, NULL, NULL, 2 * B};
	if (pfm_vit_train_forward(w->tg, &vb, e))
		return -1;
	const float *out = pfm_vit_train_out(w->tg);
	int Rt = 2 * B + nm;
	if (need(&w->tin, (size_t)Rt * D) || need(&w->tlog, (size_t)Rt * K) ||
	    need(&w->tprob, (size_t)Rt * K))
		return pfm_errf(e, "out of memory");
	/* class tokens swapped between the two crops */
	for (int r = 0; r < 2 * B; r++) {
		int img = r < B ? B + r : r - B;
		row_copy(w->tin.p + (size_t)r * D, out + (size_t)img * Tg * D, D);
	}
	for (int j = 0; j < nm; j++)
		row_copy(w->tin.p + (size_t)(2 * B + j) * D,
			 out + ((size_t)w->mimg[j] * Tg + pre + w->mpatch[j]) * D,
			 D);
	if (pfm_head_forward(&d->dino, w->ht, d->T + d->off_dino, w->tin.p, Rt,
			     w->tlog.p, e))
		return -1;
	float *cl = w->tlog.p, *pl = w->tlog.p + (size_t)2 * B * K;
	float *cp = w->tprob.p, *pp = w->tprob.p + (size_t)2 * B * K;
	if (o->centering == PFM_CENTER_EMA) {
		par_center(o->threads, cp, cl, d->dino_center, (float)tt,
			   (float)o->center_m, 2 * B, K);
		if (nm)
			par_center(o->threads, pp, pl, d->ibot_center, (float)tt,
				   (float)o->center_m, nm, K);
	} else {
		pfm_sinkhorn(cp, cl, (float)tt, 2 * B, K, o->sk_iters, w->sk);
		if (nm)
			pfm_sinkhorn(pp, pl, (float)tt, nm, K, o->sk_iters, w->sk);
	}
	return 0;
}

static int experts(pfm_distill *d, const pfm_distill_batch *b,
		   const float *out, int Tg, int pre, pfm_distill_metrics *mt,
		   pfm_err *e)
{
	struct pfm_distill_ws *w = d->ws;
	const pfm_distill_opts *o = &d->o;
	int B = b->B, D = d->m.cfg.dim, N = Tg - pre;
	for (int x = 0; x < o->nexperts; x++) {
		const pfm_expert_opt *ex = &o->experts[x];
		int E = ex->width, patch = ex->w_patch > 0;
		if (!(ex->w_cls > 0) && !patch)
			continue;
		int R = 2 * B + (patch ? 2 * B * N : 0);
		if (need(&w->ein, (size_t)R * D) || need(&w->dein, (size_t)R * D) ||
		    need(&w->eout, (size_t)R * E) || need(&w->deout, (size_t)R * E) ||
		    need(&w->tcls, (size_t)2 * B * E))
			return pfm_errf(e, "out of memory");
		for (int r = 0; r < 2 * B; r++)
			row_copy(w->ein.p + (size_t)r * D, out + (size_t)r * Tg * D, D);
		for (int r = 0; patch && r < 2 * B; r++)
			memcpy(w->ein.p + ((size_t)2 * B + (size_t)r * N) * D,
			       out + ((size_t)r * Tg + pre) * D,
			       (size_t)N * D * sizeof(float));
		if (pfm_head_forward(&d->expert[x], w->he[x],
				     d->S + d->off_expert[x], w->ein.p, R,
				     w->eout.p, e))
			return -1;
		memset(w->deout.p, 0, (size_t)R * E * sizeof(float));
		if (ex->w_cls > 0) {
			/* both crops of a tile against its expert vector */
			for (int r = 0; r < 2 * B; r++)
				row_copy(w->tcls.p + (size_t)r * E,
					 b->ecls[x] + (size_t)(r % B) * E, E);
			mt->ecls[x] = pfm_cos_loss(w->deout.p, w->eout.p, w->tcls.p,
						   2 * B, E, ex->w_cls);
		}
		if (patch) {
			size_t n = (size_t)2 * B * N * E;
			float *p = w->eout.p + (size_t)2 * B * E;
			float *dp = w->deout.p + (size_t)2 * B * E;
			mt->epatch[x] = pfm_cos_loss(dp, p, b->etok[x], 2 * B * N, E,
						     0.9 * ex->w_patch) +
					pfm_smooth_l1(dp, p, b->etok[x], n,
						      0.1 * ex->w_patch);
		}
		memset(w->dein.p, 0, (size_t)R * D * sizeof(float));
		if (pfm_head_backward(&d->expert[x], w->he[x],
				      d->S + d->off_expert[x], w->deout.p,
				      w->dein.p, d->G + d->off_expert[x], e))
			return -1;
		for (int r = 0; r < 2 * B; r++)
			row_add(w->dtg + (size_t)r * Tg * D,
				w->dein.p + (size_t)r * D, D);
		for (int r = 0; patch && r < 2 * B; r++)
			for (int n = 0; n < N; n++)
				row_add(w->dtg + ((size_t)r * Tg + pre + n) * D,
					w->dein.p + ((size_t)2 * B + (size_t)r * N +
						     n) * D,
					D);
	}
	return 0;
}

int pfm_distill_grad(pfm_distill *d, const pfm_distill_batch *b,
		     pfm_distill_metrics *mt, pfm_err *e)
{
	const pfm_distill_opts *o = &d->o;
	memset(mt, 0, sizeof *mt);
	if (!d->ws && make_ws(d, e))
		return -1;
	struct pfm_distill_ws *w = d->ws;
	int B = b->B, D = d->m.cfg.dim, K = o->prototypes, L = d->m.cfg.depth;
	int nl = o->n_local;
	if (B < 1 || B > w->B)
		return pfm_errf(e, "batch of %d tiles (at most %d)", B, w->B);
	if (o->koleo_w > 0 && B < 2)
		return pfm_errf(e, "KoLeo needs at least 2 tiles in a batch");
	int64_t it = d->step;
	double tt = pfm_distill_teacher_temp(d, it);
	int Tg = pfm_vit_train_tokens(w->sg), pre = pfm_vit_train_prefix(w->sg);
	int Ng = Tg - pre, Tl = w->sl ? pfm_vit_train_tokens(w->sl) : 0;
	int do_dino = o->dino_w > 0, do_ibot = o->ibot_w > 0;
	/* masked patches, in (image, patch) order */
	int nm = 0;
	size_t need_m = (size_t)2 * B * Ng;
	if (need_m > w->cap_m) {
		int *a = realloc(w->mimg, need_m * sizeof *a);
		if (a)
			w->mimg = a;
		int *c = realloc(w->mpatch, need_m * sizeof *c);
		if (c)
			w->mpatch = c;
		if (!a || !c)
			return pfm_errf(e, "out of memory");
		w->cap_m = need_m;
	}
	for (int i = 0; i < 2 * B; i++) {
		w->nmask[i] = 0;
		for (int n = 0; b->mask && n < Ng; n++)
			if (b->mask[(size_t)i * Ng + n]) {
				w->mimg[nm] = i, w->mpatch[nm++] = n;
				w->nmask[i]++;
			}
	}
	mt->v[PFM_DM_MASKED] = nm;
	if (!do_ibot)
		nm = 0; /* DINOv2 skips the masked rows without iBOT */
	double t0 = pfm_now();
	if (teacher(d, b, nm, tt, e))
		goto fail;
	double t1 = pfm_now();
	mt->v[PFM_DM_T_TEACHER] = t1 - t0;
	/* student */
	const float *dg = b->drop_global, *dl = b->drop_local;
	if (o->drop_path > 0 && !dg) {
		pfm_rng r = pfm_rng_seed(o->seed, ((uint64_t)it + 1) << 24 | 2);
		pfm_distill_drop_scales(w->drop_g, L, 2 * B, o->drop_path, &r);
		if (nl)
			pfm_distill_drop_scales(w->drop_l, L, nl * B, o->drop_path,
						&r);
		dg = w->drop_g, dl = w->drop_l;
	}
	pfm_vit_batch vg = {d->S, d->S + d->off_mask, b->global, b->mask,
			    o->drop_path > 0 ? dg : NULL, 2 * B};
	if (pfm_vit_train_forward(w->sg, &vg, e))
		goto fail;
	pfm_vit_batch vl = {d->S, NULL, b->local, NULL,
			    o->drop_path > 0 ? dl : NULL, nl * B};
	if (nl && pfm_vit_train_forward(w->sl, &vl, e))
		goto fail;
	const float *og = pfm_vit_train_out(w->sg);
	const float *ol = w->sl ? pfm_vit_train_out(w->sl) : NULL;
	double t2 = pfm_now();
	mt->v[PFM_DM_T_FORWARD] = t2 - t1;
	int Rs = nl * B + 2 * B + nm;
	if (need(&w->sin, (size_t)Rs * D) || need(&w->dsin, (size_t)Rs * D) ||
	    need(&w->slog, (size_t)Rs * K) || need(&w->dslog, (size_t)Rs * K) ||
	    need(&w->w, (size_t)Rs) || need(&w->kx, (size_t)B * D) ||
	    need(&w->kdx, (size_t)B * D)) {
		pfm_errf(e, "out of memory");
		goto fail;
	}
	for (int r = 0; r < nl * B; r++)
		row_copy(w->sin.p + (size_t)r * D, ol + (size_t)r * Tl * D, D);
	for (int r = 0; r < 2 * B; r++)
		row_copy(w->sin.p + (size_t)(nl * B + r) * D,
			 og + (size_t)r * Tg * D, D);
	for (int j = 0; j < nm; j++)
		row_copy(w->sin.p + (size_t)(nl * B + 2 * B + j) * D,
			 og + ((size_t)w->mimg[j] * Tg + pre + w->mpatch[j]) * D,
			 D);
	memset(d->G, 0, d->n * sizeof(float));
	memset(w->dtg, 0, (size_t)2 * B * Tg * D * sizeof(float));
	if (nl)
		memset(w->dtl, 0, (size_t)nl * B * Tl * D * sizeof(float));
	if (pfm_head_forward(&d->dino, w->hs, d->S + d->off_dino, w->sin.p, Rs,
			     w->slog.p, e))
		goto fail;
	memset(w->dslog.p, 0, (size_t)Rs * K * sizeof(float));
	float st = (float)o->student_temp;
	int nterms = 2 + (2 * nl > 1 ? 2 * nl : 1);
	if (do_dino) {
		/* local crops: each against both teacher crops */
		for (int i = 0; i < B; i++)
			for (int k = 0; k < K; k++)
				w->tsum[(size_t)i * K + k] =
					w->tprob.p[(size_t)i * K + k] +
					w->tprob.p[(size_t)(B + i) * K + k];
		for (int r = 0; r < Rs; r++)
			w->w.p[r] = (float)(o->dino_w / ((double)B * nterms));
		for (int c = 0; c < nl; c++)
			mt->v[PFM_DM_DINO_LOCAL] += par_xent(o->threads,
				w->dslog.p + (size_t)c * B * K,
				w->slog.p + (size_t)c * B * K, w->tsum, w->w.p, st,
				B, K);
		/* global crops against the other crop's teacher (x 2 /
		 * (2B nterms) per row) */
		mt->v[PFM_DM_DINO_GLOBAL] = par_xent(o->threads,
			w->dslog.p + (size_t)nl * B * K,
			w->slog.p + (size_t)nl * B * K, w->tprob.p, w->w.p, st,
			2 * B, K);
		if (o->koleo_w > 0) /* per global crop, on the class tokens */
			for (int c = 0; c < 2; c++) {
				for (int i = 0; i < B; i++)
					row_copy(w->kx.p + (size_t)i * D,
						 og + (size_t)(c * B + i) * Tg * D, D);
				memset(w->kdx.p, 0, (size_t)B * D * sizeof(float));
				mt->v[PFM_DM_KOLEO] += pfm_koleo(w->kdx.p, w->kx.p, B,
								 D, o->koleo_w);
				for (int i = 0; i < B; i++)
					row_add(w->dtg + (size_t)(c * B + i) * Tg * D,
						w->kdx.p + (size_t)i * D, D);
			}
	}
	if (nm) {
		/* iBOT: each masked patch weighted 1 / (its image's masked
		 * patches), the sum over 2B images; x 2 x 1/2 */
		for (int j = 0; j < nm; j++)
			w->w.p[j] = (float)(o->ibot_w /
					    ((double)w->nmask[w->mimg[j]] * 2 * B));
		size_t r0 = (size_t)(nl * B + 2 * B) * K;
		mt->v[PFM_DM_IBOT] = par_xent(o->threads, w->dslog.p + r0,
					      w->slog.p + r0,
					      w->tprob.p + (size_t)2 * B * K,
					      w->w.p, st, nm, K);
	}
	memset(w->dsin.p, 0, (size_t)Rs * D * sizeof(float));
	if (pfm_head_backward(&d->dino, w->hs, d->S + d->off_dino, w->dslog.p,
			      w->dsin.p, d->G + d->off_dino, e))
		goto fail;
	for (int r = 0; r < nl * B; r++)
		row_add(w->dtl + (size_t)r * Tl * D, w->dsin.p + (size_t)r * D, D);
	for (int r = 0; r < 2 * B; r++)
		row_add(w->dtg + (size_t)r * Tg * D,
			w->dsin.p + (size_t)(nl * B + r) * D, D);
	for (int j = 0; j < nm; j++)
		row_add(w->dtg + ((size_t)w->mimg[j] * Tg + pre + w->mpatch[j]) * D,
			w->dsin.p + (size_t)(nl * B + 2 * B + j) * D, D);
	if (experts(d, b, og, Tg, pre, mt, e))
		goto fail;
	double t3 = pfm_now();
	mt->v[PFM_DM_T_HEADS] = t3 - t2;
	if (pfm_vit_train_backward(w->sg, w->dtg, d->G, d->G + d->off_mask, e) ||
	    (nl && pfm_vit_train_backward(w->sl, w->dtl, d->G, NULL, e)))
		goto fail;
	mt->v[PFM_DM_T_BACKWARD] = pfm_now() - t3;
	double tot = mt->v[PFM_DM_DINO_LOCAL] + mt->v[PFM_DM_DINO_GLOBAL] +
		     mt->v[PFM_DM_KOLEO] + mt->v[PFM_DM_IBOT];
	for (int x = 0; x < o->nexperts; x++)
		tot += mt->ecls[x] + mt->epatch[x];
	mt->v[PFM_DM_LOSS] = tot;
	mt->v[PFM_DM_TEACHER_TEMP] = tt;
	return 0;
fail:
	return -1;
}

static double module_norm(const pfm_distill *d, int module)
{
	double s = 0;
	for (int i = 0; i < d->ntensors; i++) {
		const pfm_distill_tensor *t = &d->tensors[i];
		if (t->module != module)
			continue;
		const float *g = d->G + t->off;
		for (size_t k = 0; k < t->count; k++)
			s += (double)g[k] * g[k];
	}
	return sqrt(s);
}

static void module_scale(pfm_distill *d, int module, float c)
{
	for (int i = 0; i < d->ntensors; i++) {
		const pfm_distill_tensor *t = &d->tensors[i];
		if (t->module != module)
			continue;
		float *g = d->G + t->off;
		for (size_t k = 0; k < t->count; k++)
			g[k] *= c;
	}
}

void pfm_distill_update(pfm_distill *d, pfm_distill_metrics *mt)
{
	const pfm_distill_opts *o = &d->o;
	int64_t it = d->step;
	double t0 = pfm_now();
	double lr = pfm_distill_lr(d, it), llr = pfm_distill_last_lr(d, it);
	double wd = pfm_distill_wd(d, it), mom = pfm_distill_momentum(d, it);
	/* clip_grad_norm_ per student module (backbone, DINO head); GPFM
	 * leaves its distillation heads unclipped */
	for (int mod = 0; mod < 2; mod++) {
		double n = module_norm(d, mod);
		mt->v[mod ? PFM_DM_HEAD_GRAD_NORM : PFM_DM_GRAD_NORM] = n;
		double c = o->clip / (n + 1e-6);
		if (o->clip > 0 && c < 1)
			module_scale(d, mod, (float)c);
	}
	for (int i = 0; i < d->ntensors; i++) {
		const pfm_distill_tensor *t = &d->tensors[i];
		pfm_adamw_opts a = {.lr = (t->last_layer ? llr : lr) * t->lr_mult,
				    .beta1 = o->beta1, .beta2 = o->beta2,
				    .eps = 1e-8, .weight_decay = wd * t->wd_mult,
				    .decoupled = 1};
		pfm_adamw_step(d->S + t->off, d->G + t->off, d->M1 + t->off,
			       d->M2 + t->off, t->count, &a, it + 1);
	}
	/* teacher = m teacher + (1 - m) student (foreach mul, add alpha) */
	float mf = (float)mom, af = (float)(1.0 - mom);
	for (size_t i = 0; i < d->n_ema; i++)
		d->T[i] = d->T[i] * mf + af * d->S[i];
	mt->v[PFM_DM_LR] = lr;
	mt->v[PFM_DM_LAST_LR] = llr;
	mt->v[PFM_DM_WD] = wd;
	mt->v[PFM_DM_MOMENTUM] = mom;
	mt->v[PFM_DM_T_UPDATE] = pfm_now() - t0;
	d->step++;
}

/* "%g", with NaN written as NaN whatever its sign */
static const char *num(char *buf, size_t cap, double v)
{
	if (isnan(v))
		snprintf(buf, cap, "NaN");
	else
		snprintf(buf, cap, "%g", v);
	return buf;
}

int pfm_distill_step(pfm_distill *d, const pfm_distill_batch *b,
		     pfm_distill_metrics *mt, pfm_err *e)
{
	if (pfm_distill_grad(d, b, mt, e))
		return -1;
	if (!isfinite(mt->v[PFM_DM_LOSS])) {
		char terms[400], a[32], c[32];
		int n = 0;
		for (int k = PFM_DM_DINO_LOCAL; k <= PFM_DM_IBOT; k++)
			n += snprintf(terms + n, sizeof terms - n, "%s%s %s",
				      n ? ", " : "", pfm_distill_metric_names[k],
				      num(a, sizeof a, mt->v[k]));
		for (int x = 0; x < d->o.nexperts && n < (int)sizeof terms - 80;
		     x++)
			n += snprintf(terms + n, sizeof terms - n,
				      ", %s_cls %s, %s_patch %s",
				      d->o.experts[x].name,
				      num(a, sizeof a, mt->ecls[x]),
				      d->o.experts[x].name,
				      num(c, sizeof c, mt->epatch[x]));
		return pfm_errf(e, "step %lld: the loss is %s (%s); nothing "
				   "updated",
				(long long)d->step + 1,
				num(a, sizeof a, mt->v[PFM_DM_LOSS]), terms);
	}
	pfm_distill_update(d, mt);
	return 0;
}
