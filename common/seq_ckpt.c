/* seq_ckpt.c: the encoder-decoder's checkpoints in safetensors (seq.h):
 * every tensor as F32 under its torch name, the configuration as JSON in
 * __metadata__["pathfm_seq"]. Loading is strict. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seq_int.h"

#define SEQ_META_KEY "pathfm_seq"

int pfm_seq_save(const pfm_seq *m, const char *path, const char *const *kv,
		 size_t n_meta, pfm_err *e)
{
	char cfg[1024];
	pfm_seq_config_json(&m->c, cfg, sizeof cfg);
	pfm_st_tensor *ts = calloc((size_t)m->n_tensors, sizeof *ts);
	const char **meta = malloc((2 * n_meta + 2) * sizeof *meta);
	int rc = -1;
	if (!ts || !meta) {
		pfm_errf(e, "%s: out of memory", path);
		goto out;
	}
	for (int i = 0; i < m->n_tensors; i++) {
		const pfm_seq_tensor *t = &m->tensors[i];
		ts[i].name = t->name;
		ts[i].dtype = PFM_F32;
		ts[i].ndim = t->ndim;
		ts[i].shape[0] = t->shape[0], ts[i].shape[1] = t->shape[1];
		ts[i].count = t->count;
		ts[i].data = m->params + t->offset;
		ts[i].nbytes = t->count * sizeof(float);
	}
	meta[0] = SEQ_META_KEY, meta[1] = cfg;
	for (size_t i = 0; i < 2 * n_meta; i++) {
		if (i % 2 == 0 && !strcmp(kv[i], SEQ_META_KEY)) {
			pfm_errf(e, "%s: metadata key \"%s\" is the model's",
				 path, SEQ_META_KEY);
			goto out;
		}
		meta[2 + i] = kv[i];
	}
	rc = pfm_st_save(path, ts, (size_t)m->n_tensors, meta, n_meta + 1, e);
out:
	free(ts);
	free(meta);
	return rc;
}

int pfm_seq_load_st(pfm_seq *m, const pfm_st *st, pfm_err *e)
{
	const char *lbl = pfm_st_label(st), *cfg = pfm_st_meta(st, SEQ_META_KEY);
	pfm_seq_config c;
	memset(m, 0, sizeof *m);
	if (!cfg)
		return pfm_errf(e, "%s: no __metadata__ \"%s\" (not a seq "
			       "checkpoint)", lbl, SEQ_META_KEY);
	if (pfm_seq_config_parse(&c, cfg, strlen(cfg), e) ||
	    pfm_seq_alloc(m, &c, e))
		return pfm_err_prefix(e, "%s", lbl);
	for (int i = 0; i < m->n_tensors; i++) {
		const pfm_seq_tensor *t = &m->tensors[i];
		const pfm_st_tensor *s = pfm_st_find(st, t->name);
		if (!s) {
			pfm_errf(e, "%s: tensor %s is missing", lbl, t->name);
			goto fail;
		}
		if (s->dtype != PFM_F32 || s->ndim != t->ndim ||
		    s->shape[0] != t->shape[0] ||
		    (t->ndim == 2 && s->shape[1] != t->shape[1])) {
			pfm_errf(e, "%s: tensor %s is %s of %d dimension(s) "
				 "[%lld, %lld], not F32 [%lld%s%lld]", lbl,
				 t->name, pfm_st_dtype_name(s->dtype), s->ndim,
				 (long long)s->shape[0],
				 s->ndim > 1 ? (long long)s->shape[1] : 0LL,
				 (long long)t->shape[0], t->ndim > 1 ? ", " : "",
				 t->ndim > 1 ? (long long)t->shape[1] : 0LL);
			goto fail;
		}
		float *p = m->params + t->offset;
		if (pfm_st_read_f32(s, p, e))
			goto fail;
		for (size_t j = 0; j < t->count; j++)
			if (!isfinite(p[j])) {
				pfm_errf(e, "%s: tensor %s has a non-finite "
					 "value at %zu", lbl, t->name, j);
				goto fail;
			}
	}
	if (pfm_st_count(st) != (size_t)m->n_tensors) {
		for (size_t i = 0; i < pfm_st_count(st); i++) {
			const char *n = pfm_st_at(st, i)->name;
			if (!pfm_seq_find(m, n)) {
				pfm_errf(e, "%s: tensor %s is not part of the "
					 "model", lbl, n);
				goto fail;
			}
		}
	}
	return 0;
fail:
	pfm_seq_free(m);
	return -1;
}

int pfm_seq_load(pfm_seq *m, const char *path, pfm_err *e)
{
	pfm_st *st;
	memset(m, 0, sizeof *m);
	if (pfm_st_open(&st, path, e))
		return -1;
	int rc = pfm_seq_load_st(m, st, e);
	pfm_st_close(st);
	return rc;
}
