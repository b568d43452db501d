/* vit_config.c: the JSON model configuration (see embed(1), MODEL
 * CONFIGURATION). */
#include "vit_config.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "frame.h"
#include "json.h"
#include "preprocess.h"

/* Keys a converter may add for people; read by no one. */
static const char *const info_keys[] = {"format", "source", "preset",
					"license", "notes", "url", NULL};

static int get_int(const msgpack_object *v, const char *k, int lo, int hi,
		   int *out, pfm_err *e)
{
	int64_t x;
	if (pfm_obj_i64(v, &x) || x < lo || x > hi)
		return pfm_errf(e, "\"%s\" must be an integer in %d..%d", k,
				lo, hi);
	*out = (int)x;
	return 0;
}

static int get_bool(const msgpack_object *v, const char *k, int *out,
		    pfm_err *e)
{
	if (v->type != MSGPACK_OBJECT_BOOLEAN)
		return pfm_errf(e, "\"%s\" must be true or false", k);
	*out = v->via.boolean;
	return 0;
}

static int get_float(const msgpack_object *v, const char *k, float *out,
		     pfm_err *e)
{
	double x;
	if (pfm_obj_f64(v, &x) || !isfinite(x))
		return pfm_errf(e, "\"%s\" must be a number", k);
	*out = (float)x;
	return 0;
}

static int get_str(const msgpack_object *v, const char *k, char *out,
		   size_t cap, pfm_err *e)
{
	if (v->type != MSGPACK_OBJECT_STR || v->via.str.size >= cap)
		return pfm_errf(e, "\"%s\" must be a string (under %zu bytes)",
				k, cap);
	memcpy(out, v->via.str.ptr, v->via.str.size);
	out[v->via.str.size] = 0;
	return 0;
}

static int get_rgb(const msgpack_object *v, const char *k, float *out,
		   pfm_err *e)
{
	if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size != 3)
		return pfm_errf(e, "\"%s\" must be an array of 3 numbers", k);
	for (int i = 0; i < 3; i++)
		if (get_float(&v->via.array.ptr[i], k, &out[i], e))
			return -1;
	return 0;
}

/* String-valued keys: the value's index in names is the enum value. */
static const char *const scheme_names[] = {"timm", "hf-vit", "hf-dinov2",
					   "dinov2", "open_clip-coca", NULL};
static const char *const mlp_names[] = {"gelu", "swiglu", NULL};
static const char *const pool_names[] = {"cls", "mean", "cls+mean",
					 "pooled", "projected", NULL};
static const char *const interp_names[] = {"bicubic", "bilinear",
					   "nearest", NULL};
static const char *const pos_names[] = {"timm", "dinov2", "hf", NULL};
static const struct {
	const char *key;
	unsigned bit;
	const char *const *names;
	size_t off;
} enums[] = {
	{"scheme", VC_SCHEME, scheme_names, offsetof(pfm_vit_config, scheme)},
	{"mlp", VC_MLP, mlp_names, offsetof(pfm_vit_config, mlp)},
	{"pool", VC_OUT, pool_names, offsetof(pfm_vit_config, out)},
	{"interpolation", VC_INTERP, interp_names,
	 offsetof(pfm_vit_config, interp)},
	{"pos_interp", VC_POS_INTERP, pos_names,
	 offsetof(pfm_vit_config, pos_interp)},
};

static int get_enum(const msgpack_object *v, const char *k,
		    const char *const *names, int *out, pfm_err *e)
{
	char s[64], list[160] = "";
	if (get_str(v, k, s, sizeof s, e))
		return -1;
	for (int i = 0; names[i]; i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
		snprintf(list + strlen(list), sizeof list - strlen(list),
			 "%s%s", i ? ", " : "", names[i]);
	}
	return pfm_errf(e, "\"%s\" is one of %s, not \"%s\"", k, list, s);
}

static int one_key(pfm_vit_config *c, unsigned *g, int *nec, const char *k,
		   const msgpack_object *v, pfm_err *e)
{
#define INT(key, field, lo, hi, bit)                                         \
	if (!strcmp(k, key)) {                                                \
		*g |= bit;                                                    \
		return get_int(v, k, lo, hi, &c->field, e);                   \
	}
#define BOOL(key, field, bit)                                                \
	if (!strcmp(k, key)) {                                                \
		*g |= bit;                                                    \
		return get_bool(v, k, &c->field, e);                          \
	}
	INT("img_size", img_size, 1, 8192, VC_IMG)
	INT("patch_size", patch, 1, 64, VC_PATCH)
	INT("embed_dim", dim, 1, 16384, VC_DIM)
	INT("depth", depth, 1, 256, VC_DEPTH)
	INT("num_heads", heads, 1, 1024, VC_HEADS)
	INT("mlp_hidden", hidden, 1, 65536, VC_HIDDEN)
	INT("reg_tokens", reg, 0, 64, VC_REG)
	INT("resize", resize, 0, 8192, VC_RESIZE)
	INT("crop", crop, 1, 8192, VC_CROP)
	BOOL("class_token", cls, VC_CLS)
	BOOL("layerscale", layerscale, VC_LS)
	BOOL("qkv_bias", qkv_bias, VC_QKV_BIAS)
#undef INT
#undef BOOL
	if (!strcmp(k, "no_embed_class")) {
		*g |= VC_NO_EMBED_CLASS;
		return get_bool(v, k, nec, e);
	}
	if (!strcmp(k, "ln_eps")) {
		*g |= VC_EPS;
		return get_float(v, k, &c->eps, e);
	}
	if (!strcmp(k, "mean")) {
		*g |= VC_MEAN;
		return get_rgb(v, k, c->mean, e);
	}
	if (!strcmp(k, "std")) {
		*g |= VC_STD;
		return get_rgb(v, k, c->std, e);
	}
	if (!strcmp(k, "name")) {
		*g |= VC_NAME;
		return get_str(v, k, c->name, sizeof c->name, e);
	}
	for (size_t i = 0; i < sizeof enums / sizeof *enums; i++)
		if (!strcmp(k, enums[i].key)) {
			*g |= enums[i].bit;
			return get_enum(v, k, enums[i].names,
					(int *)((char *)c + enums[i].off), e);
		}
	if (!strcmp(k, "pooler")) {
		if (v->type != MSGPACK_OBJECT_MAP)
			return pfm_errf(e, "\"pooler\" must be an object");
		for (uint32_t i = 0; i < v->via.map.size; i++) {
			const msgpack_object *pk = &v->via.map.ptr[i].key;
			const msgpack_object *pv = &v->via.map.ptr[i].val;
			if (pfm_obj_streq(pk, "n_queries")) {
				*g |= VC_POOL_Q;
				if (get_int(pv, "pooler.n_queries", 1, 1024,
					    &c->pool_q, e))
					return -1;
			} else if (pfm_obj_streq(pk, "num_heads")) {
				*g |= VC_POOL_HEADS;
				if (get_int(pv, "pooler.num_heads", 1, 1024,
					    &c->pool_heads, e))
					return -1;
			} else {
				return pfm_errf(e, "unknown key in \"pooler\" "
						   "(n_queries, num_heads)");
			}
		}
		return 0;
	}
	for (int i = 0; info_keys[i]; i++)
		if (!strcmp(k, info_keys[i]))
			return 0;
	return pfm_errf(e, "unknown configuration key \"%s\"", k);
}

/* pfm_json_object_each's callback: one_key's other arguments. */
typedef struct {
	pfm_vit_config *c;
	unsigned *given;
	int *no_embed_class;
} json_ctx;

static int json_member(void *ctx, const char *key, const msgpack_object *v,
		       pfm_err *e)
{
	json_ctx *j = ctx;
	return one_key(j->c, j->given, j->no_embed_class, key, v, e);
}

int pfm_vit_config_json(pfm_vit_config *c, unsigned *given,
			int *no_embed_class, const char *text, size_t n,
			pfm_err *e)
{
	json_ctx j = {c, given, no_embed_class};
	return pfm_json_object_each(text, n, "the configuration", json_member,
				    &j, e);
}
