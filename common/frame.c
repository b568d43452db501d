/* frame.c: frame envelope, typed lookups, tensors and the frame builder. */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	size_t size;
} dtypes[PFM_NDTYPES] = {
	[PFM_U8] = {"u8", 1},     [PFM_I8] = {"i8", 1},
	[PFM_U16] = {"u16", 2},   [PFM_I16] = {"i16", 2},
	[PFM_U32] = {"u32", 4},   [PFM_I32] = {"i32", 4},
	[PFM_U64] = {"u64", 8},   [PFM_I64] = {"i64", 8},
	[PFM_F16] = {"f16", 2},   [PFM_BF16] = {"bf16", 2},
	[PFM_F32] = {"f32", 4},   [PFM_F64] = {"f64", 8},
};

const char *pfm_dtype_name(pfm_dtype t)
{
	return (unsigned)t < PFM_NDTYPES ? dtypes[t].name : "?";
}

size_t pfm_dtype_size(pfm_dtype t)
{
	return (unsigned)t < PFM_NDTYPES ? dtypes[t].size : 0;
}

static float f32_bits(uint32_t b)
{
	float f;
	memcpy(&f, &b, sizeof f);
	return f;
}

float pfm_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = h >> 10 & 0x1f,
		 man = h & 0x3ff;
	if (exp == 0x1f)
		return f32_bits(sign | 0x7f800000 | man << 13 |
				(man ? 0x400000 : 0));
	if (exp)
		return f32_bits(sign | (exp + 112) << 23 | man << 13);
	if (!man)
		return f32_bits(sign);
	/* subnormal: man * 2^-24, normalised */
	uint32_t k = 0;
	while (!(man & 0x400)) {
		man <<= 1;
		k++;
	}
	return f32_bits(sign | (113 - k) << 23 | (man & 0x3ff) << 13);
}

int pfm_dtype_parse(const char *s, size_t n, pfm_dtype *out)
{
	for (int i = 0; i < PFM_NDTYPES; i++)
		if (strlen(dtypes[i].name) == n && !memcmp(dtypes[i].name, s, n)) {
			*out = (pfm_dtype)i;
			return 0;
		}
	return -1;
}

int pfm_obj_streq(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       !memcmp(o->via.str.ptr, s, n);
}

const msgpack_object *pfm_map_get(const msgpack_object *map, const char *key)
{
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++)
		if (pfm_obj_streq(&map->via.map.ptr[i].key, key))
			return &map->via.map.ptr[i].val;
	return NULL;
}

const msgpack_object *pfm_get(const pfm_frame *f, const char *key)
{
	return pfm_map_get(&f->root, key);
}

int pfm_obj_i64(const msgpack_object *o, int64_t *v)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > INT64_MAX)
			return -1;
		*v = (int64_t)o->via.u64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return 0;
	}
	return -1;
}

int pfm_obj_f64(const msgpack_object *o, double *v)
{
	switch (o->type) {
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		*v = o->via.f64;
		return 0;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		*v = (double)o->via.u64;
		return 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*v = (double)o->via.i64;
		return 0;
	default:
		return -1;
	}
}

int pfm_frame_init(pfm_frame *f, const msgpack_object *root, pfm_err *e)
{
	f->root = *root;
	f->type = NULL;
	f->type_len = 0;
	if (root->type != MSGPACK_OBJECT_MAP)
		return pfm_errf(e, "not a frame: a frame is a MessagePack map");
	const msgpack_object *t = pfm_map_get(root, "type");
	if (!t || t->type != MSGPACK_OBJECT_STR || t->via.str.size == 0)
		return pfm_errf(e, "frame has no \"type\" string");
	f->type = t->via.str.ptr;
	f->type_len = t->via.str.size;
	const msgpack_object *v = pfm_map_get(root, "v");
	int64_t ver;
	if (!v || pfm_obj_i64(v, &ver) || ver < 1)
		return pfm_errf(e, "%.*s frame has no schema version \"v\"",
				(int)f->type_len, f->type);
	if (ver > PFM_SCHEMA_VERSION)
		return pfm_errf(e, "%.*s frame has schema version %lld, newer "
				"than this program's %d: upgrade pathfm",
				(int)f->type_len, f->type, (long long)ver,
				PFM_SCHEMA_VERSION);
	return 0;
}

int pfm_frame_is(const pfm_frame *f, const char *type)
{
	size_t n = strlen(type);
	return f->type && f->type_len == n && !memcmp(f->type, type, n);
}

static const msgpack_object *need(const pfm_frame *f, const char *key,
				  pfm_err *e)
{
	const msgpack_object *o = pfm_get(f, key);
	if (!o)
		pfm_errf(e, "%.*s frame has no \"%s\"", (int)f->type_len,
			 f->type, key);
	return o;
}

int pfm_get_str(const pfm_frame *f, const char *key, const char **s,
		size_t *n, pfm_err *e)
{
	const msgpack_object *o = need(f, key, e);
	if (!o)
		return -1;
	if (o->type != MSGPACK_OBJECT_STR)
		return pfm_errf(e, "\"%s\" is not a string", key);
	*s = o->via.str.ptr;
	*n = o->via.str.size;
	return 0;
}

int pfm_get_i64(const pfm_frame *f, const char *key, int64_t *v, pfm_err *e)
{
	const msgpack_object *o = need(f, key, e);
	if (!o)
		return -1;
	if (pfm_obj_i64(o, v))
		return pfm_errf(e, "\"%s\" is not an integer", key);
	return 0;
}

int pfm_get_f64(const pfm_frame *f, const char *key, double *v, pfm_err *e)
{
	const msgpack_object *o = need(f, key, e);
	if (!o)
		return -1;
	if (pfm_obj_f64(o, v))
		return pfm_errf(e, "\"%s\" is not a number", key);
	return 0;
}

int pfm_get_tensor(const pfm_frame *f, const char *key, pfm_tensor *t,
		   pfm_err *e)
{
	const msgpack_object *o = need(f, key, e);
	if (!o)
		return -1;
	if (pfm_tensor_decode(o, t, e))
		return pfm_err_prefix(e, "tensor \"%s\"", key);
	return 0;
}

int pfm_is_tensor(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_MAP && pfm_map_get(o, "dtype") &&
	       pfm_map_get(o, "shape") && pfm_map_get(o, "data");
}

int pfm_tensor_decode(const msgpack_object *o, pfm_tensor *t, pfm_err *e)
{
	memset(t, 0, sizeof *t);
	if (o->type != MSGPACK_OBJECT_MAP)
		return pfm_errf(e, "not a tensor map");
	const msgpack_object *dt = pfm_map_get(o, "dtype");
	const msgpack_object *sh = pfm_map_get(o, "shape");
	const msgpack_object *d = pfm_map_get(o, "data");
	if (!dt || dt->type != MSGPACK_OBJECT_STR)
		return pfm_errf(e, "no \"dtype\" string");
	if (pfm_dtype_parse(dt->via.str.ptr, dt->via.str.size, &t->dtype))
		return pfm_errf(e, "unknown dtype \"%.*s\"",
				(int)dt->via.str.size, dt->via.str.ptr);
	if (!sh || sh->type != MSGPACK_OBJECT_ARRAY)
		return pfm_errf(e, "no \"shape\" array");
	if (sh->via.array.size > PFM_MAX_DIMS)
		return pfm_errf(e, "%u dimensions, at most %d",
				sh->via.array.size, PFM_MAX_DIMS);
	if (!d || d->type != MSGPACK_OBJECT_BIN)
		return pfm_errf(e, "no \"data\" bin");
	t->ndim = (int)sh->via.array.size;
	size_t count = 1;
	for (int i = 0; i < t->ndim; i++) {
		int64_t v;
		if (pfm_obj_i64(&sh->via.array.ptr[i], &v) || v < 0)
			return pfm_errf(e, "shape[%d] is not a size", i);
		t->shape[i] = v;
		/* Overflow-safe: any product beyond the payload is wrong. */
		if (v && count > SIZE_MAX / (size_t)v)
			return pfm_errf(e, "shape overflows");
		count *= (size_t)v;
	}
	size_t es = pfm_dtype_size(t->dtype);
	if (count > SIZE_MAX / es || count * es != d->via.bin.size)
		return pfm_errf(e, "data has %u bytes, shape x %s needs %zu",
				d->via.bin.size, pfm_dtype_name(t->dtype),
				count > SIZE_MAX / es ? SIZE_MAX : count * es);
	t->count = count;
	t->data = d->via.bin.ptr;
	t->nbytes = d->via.bin.size;
	return 0;
}

void pfm_tensor_set(pfm_tensor *t, pfm_dtype dt, const void *data, int ndim,
		    const int64_t *shape)
{
	memset(t, 0, sizeof *t);
	t->dtype = dt;
	t->ndim = ndim;
	t->count = 1;
	for (int i = 0; i < ndim; i++) {
		t->shape[i] = shape[i];
		t->count *= (size_t)shape[i];
	}
	t->data = data;
	t->nbytes = t->count * pfm_dtype_size(dt);
}

/* ---- builder ---- */

struct pfm_build {
	msgpack_object_kv *kv;
	uint32_t n, cap;
	msgpack_zone zone; /* copies of keys, strings, nested maps */
	msgpack_object root;
};

pfm_build *pfm_build_new(void)
{
	pfm_build *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	if (!msgpack_zone_init(&b->zone, 4096)) {
		free(b);
		return NULL;
	}
	return b;
}

void pfm_build_free(pfm_build *b)
{
	if (!b)
		return;
	msgpack_zone_destroy(&b->zone);
	free(b->kv);
	free(b);
}

static int make_str(pfm_build *b, msgpack_object *o, const char *s, size_t n)
{
	char *p = msgpack_zone_malloc(&b->zone, n ? n : 1);
	if (!p)
		return -1;
	memcpy(p, s, n);
	o->type = MSGPACK_OBJECT_STR;
	o->via.str.ptr = p;
	o->via.str.size = (uint32_t)n;
	return 0;
}

static int grow(pfm_build *b)
{
	if (b->n < b->cap)
		return 0;
	uint32_t cap = b->cap ? 2 * b->cap : 16;
	msgpack_object_kv *kv = realloc(b->kv, cap * sizeof *kv);
	if (!kv)
		return -1;
	b->kv = kv;
	b->cap = cap;
	return 0;
}

/* Replace key's value in place, or append. */
static int put(pfm_build *b, const char *key, const msgpack_object *v)
{
	for (uint32_t i = 0; i < b->n; i++)
		if (pfm_obj_streq(&b->kv[i].key, key)) {
			b->kv[i].val = *v;
			return 0;
		}
	if (grow(b) || make_str(b, &b->kv[b->n].key, key, strlen(key)))
		return -1;
	b->kv[b->n++].val = *v;
	return 0;
}

void pfm_build_reset(pfm_build *b, const char *type)
{
	b->n = 0;
	msgpack_zone_clear(&b->zone);
	if (type) {
		pfm_build_str(b, "type", type);
		pfm_build_i64(b, "v", PFM_SCHEMA_VERSION);
	}
}

int pfm_build_copy(pfm_build *b, const pfm_frame *f)
{
	const msgpack_object_map *m = &f->root.via.map;
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *k = &m->ptr[i].key;
		/* Frame keys are strings; anything else cannot be addressed
		 * by a stage, so it is passed through as is. */
		if (k->type == MSGPACK_OBJECT_STR) {
			char tmp[256];
			if (k->via.str.size < sizeof tmp &&
			    !memchr(k->via.str.ptr, 0, k->via.str.size)) {
				memcpy(tmp, k->via.str.ptr, k->via.str.size);
				tmp[k->via.str.size] = 0;
				if (put(b, tmp, &m->ptr[i].val))
					return -1;
				continue;
			}
		}
		if (grow(b))
			return -1;
		b->kv[b->n++] = m->ptr[i];
	}
	return 0;
}

int pfm_build_obj(pfm_build *b, const char *key, const msgpack_object *v)
{
	return put(b, key, v);
}

int pfm_build_strn(pfm_build *b, const char *key, const char *s, size_t n)
{
	msgpack_object o;
	if (make_str(b, &o, s, n))
		return -1;
	return put(b, key, &o);
}

int pfm_build_str(pfm_build *b, const char *key, const char *s)
{
	return pfm_build_strn(b, key, s, strlen(s));
}

int pfm_build_i64(pfm_build *b, const char *key, int64_t v)
{
	msgpack_object o;
	if (v >= 0) {
		o.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
		o.via.u64 = (uint64_t)v;
	} else {
		o.type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
		o.via.i64 = v;
	}
	return put(b, key, &o);
}

int pfm_build_f64(pfm_build *b, const char *key, double v)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_FLOAT64};
	o.via.f64 = v;
	return put(b, key, &o);
}

int pfm_build_bool(pfm_build *b, const char *key, int v)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_BOOLEAN};
	o.via.boolean = v != 0;
	return put(b, key, &o);
}

int pfm_build_bin(pfm_build *b, const char *key, const void *p, size_t n)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_BIN};
	o.via.bin.ptr = p;
	o.via.bin.size = (uint32_t)n;
	return n > UINT32_MAX ? -1 : put(b, key, &o);
}

/* A tensor as a msgpack map object allocated in the zone. */
static int tensor_obj(pfm_build *b, msgpack_object *o, const pfm_tensor *t)
{
	if (t->nbytes > UINT32_MAX)
		return -1;
	msgpack_object_kv *kv = msgpack_zone_malloc(&b->zone, 3 * sizeof *kv);
	msgpack_object *dims =
		msgpack_zone_malloc(&b->zone, (t->ndim + 1) * sizeof *dims);
	if (!kv || !dims)
		return -1;
	const char *dn = pfm_dtype_name(t->dtype);
	if (make_str(b, &kv[0].key, "dtype", 5) ||
	    make_str(b, &kv[0].val, dn, strlen(dn)) ||
	    make_str(b, &kv[1].key, "shape", 5) ||
	    make_str(b, &kv[2].key, "data", 4))
		return -1;
	for (int i = 0; i < t->ndim; i++) {
		dims[i].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
		dims[i].via.u64 = (uint64_t)t->shape[i];
	}
	kv[1].val.type = MSGPACK_OBJECT_ARRAY;
	kv[1].val.via.array.size = (uint32_t)t->ndim;
	kv[1].val.via.array.ptr = dims;
	kv[2].val.type = MSGPACK_OBJECT_BIN;
	kv[2].val.via.bin.ptr = t->data;
	kv[2].val.via.bin.size = (uint32_t)t->nbytes;
	o->type = MSGPACK_OBJECT_MAP;
	o->via.map.size = 3;
	o->via.map.ptr = kv;
	return 0;
}

int pfm_build_tensor(pfm_build *b, const char *key, const pfm_tensor *t)
{
	msgpack_object o;
	return tensor_obj(b, &o, t) ? -1 : put(b, key, &o);
}

int pfm_build_sub_tensor(pfm_build *b, const char *map_key,
			 const char *sub_key, const pfm_tensor *t)
{
	const msgpack_object *old = NULL;
	for (uint32_t i = 0; i < b->n; i++)
		if (pfm_obj_streq(&b->kv[i].key, map_key))
			old = &b->kv[i].val;
	uint32_t n_old = old && old->type == MSGPACK_OBJECT_MAP ?
				 old->via.map.size : 0;
	msgpack_object_kv *kv =
		msgpack_zone_malloc(&b->zone, (n_old + 1) * sizeof *kv);
	if (!kv)
		return -1;
	uint32_t n = 0;
	for (uint32_t i = 0; i < n_old; i++)
		if (!pfm_obj_streq(&old->via.map.ptr[i].key, sub_key))
			kv[n++] = old->via.map.ptr[i];
	if (make_str(b, &kv[n].key, sub_key, strlen(sub_key)) ||
	    tensor_obj(b, &kv[n].val, t))
		return -1;
	msgpack_object m = {.type = MSGPACK_OBJECT_MAP};
	m.via.map.size = n + 1;
	m.via.map.ptr = kv;
	return put(b, map_key, &m);
}

int pfm_build_remove(pfm_build *b, const char *key)
{
	for (uint32_t i = 0; i < b->n; i++)
		if (pfm_obj_streq(&b->kv[i].key, key)) {
			memmove(&b->kv[i], &b->kv[i + 1],
				(b->n - i - 1) * sizeof *b->kv);
			b->n--;
			return 0;
		}
	return -1;
}

const msgpack_object *pfm_build_object(pfm_build *b)
{
	b->root.type = MSGPACK_OBJECT_MAP;
	b->root.via.map.size = b->n;
	b->root.via.map.ptr = b->kv;
	return &b->root;
}

int pfm_pack_object(msgpack_sbuffer *sb, const msgpack_object *o)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	return msgpack_pack_object(&pk, *o) ? -1 : 0;
}

float pfm_tensor_f32(const pfm_tensor *t, size_t i)
{
	const unsigned char *p = t->data;
	switch (t->dtype) {
	case PFM_F32: {
		float v;
		memcpy(&v, p + 4 * i, 4);
		return v;
	}
	case PFM_F64: {
		double v;
		memcpy(&v, p + 8 * i, 8);
		return (float)v;
	}
	case PFM_F16: {
		uint16_t h;
		memcpy(&h, p + 2 * i, 2);
		return pfm_f16_to_f32(h);
	}
	default: { /* bf16 */
		uint16_t h;
		memcpy(&h, p + 2 * i, 2);
		uint32_t bits = (uint32_t)h << 16;
		float v;
		memcpy(&v, &bits, 4);
		return v;
	}
	}
}
