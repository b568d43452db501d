/* frame.h: the pathfm frame model.
 *
 * A frame is one MessagePack map. Every frame has "type" (string) and "v"
 * (schema version, integer). Tensors are maps {dtype, shape, data} with
 * data a bin payload, little-endian, row-major. Stages add keys and copy
 * every key they do not own through unchanged (see pfm_build_copy).
 *
 * Frames read by a pfm_reader point into the reader's buffer (zero copy):
 * they stay valid until the next pfm_read() or pfm_reader_close(). */
#ifndef PFM_FRAME_H
#define PFM_FRAME_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define PFM_SCHEMA_VERSION 1
#define PFM_MAX_DIMS 8

/* Frame type names (schemas/<type>.json). */
#define PFM_T_TILE "tile"
#define PFM_T_EMBEDDING "embedding"
#define PFM_T_METRIC "metric"
#define PFM_T_RESULT "result"
#define PFM_T_EOS "eos"
#define PFM_T_ERROR "error"

typedef enum {
	PFM_U8, PFM_I8, PFM_U16, PFM_I16, PFM_U32, PFM_I32,
	PFM_U64, PFM_I64, PFM_F16, PFM_BF16, PFM_F32, PFM_F64,
	PFM_NDTYPES
} pfm_dtype;

const char *pfm_dtype_name(pfm_dtype t);
size_t pfm_dtype_size(pfm_dtype t);
/* IEEE half to single, exactly; NaNs come out quiet, as with F16C and
 * torch. */
float pfm_f16_to_f32(uint16_t h);
/* Parse a dtype name of length n ("f32", "bf16" ...); -1 if unknown. */
int pfm_dtype_parse(const char *s, size_t n, pfm_dtype *out);

typedef struct {
	pfm_dtype dtype;
	int ndim;
	int64_t shape[PFM_MAX_DIMS];
	size_t count;      /* product of shape */
	const void *data;  /* count * dtype_size bytes, may be unaligned */
	size_t nbytes;
} pfm_tensor;

typedef struct {
	msgpack_object root; /* a MSGPACK_OBJECT_MAP */
	const char *raw;     /* the frame's encoded bytes */
	size_t raw_len;
	uint64_t index;      /* 0-based position in its stream */
	const char *type;    /* not NUL-terminated */
	size_t type_len;
} pfm_frame;

/* Check the frame envelope (a map with string "type" and integer "v" not
 * newer than ours) and fill type/type_len. */
int pfm_frame_init(pfm_frame *f, const msgpack_object *root, pfm_err *e);

int pfm_frame_is(const pfm_frame *f, const char *type);

/* Lookups: NULL when absent. */
const msgpack_object *pfm_map_get(const msgpack_object *map, const char *key);
const msgpack_object *pfm_get(const pfm_frame *f, const char *key);

/* Typed lookups: 0 on success; -1 with e filled (absent or wrong type). */
int pfm_get_str(const pfm_frame *f, const char *key, const char **s,
		size_t *n, pfm_err *e);
int pfm_get_i64(const pfm_frame *f, const char *key, int64_t *v, pfm_err *e);
int pfm_get_f64(const pfm_frame *f, const char *key, double *v, pfm_err *e);
int pfm_get_tensor(const pfm_frame *f, const char *key, pfm_tensor *t,
		   pfm_err *e);

/* Object helpers. */
int pfm_obj_i64(const msgpack_object *o, int64_t *v);
int pfm_obj_f64(const msgpack_object *o, double *v);
int pfm_obj_streq(const msgpack_object *o, const char *s);
/* Decode a tensor map and check that the payload matches dtype x shape. */
int pfm_tensor_decode(const msgpack_object *o, pfm_tensor *t, pfm_err *e);
/* Does o look like a tensor (a map holding dtype, shape and data)? */
int pfm_is_tensor(const msgpack_object *o);

/* ---- building frames ----
 * A pfm_build is an ordered list of key -> value. Values are msgpack
 * objects; strings set through the API are copied, bin payloads
 * (tensor data, pixels) are referenced and must outlive pfm_write(). */
typedef struct pfm_build pfm_build;

pfm_build *pfm_build_new(void);
void pfm_build_free(pfm_build *b);
/* Empty it; sets type and v when type is not NULL. */
void pfm_build_reset(pfm_build *b, const char *type);
/* Take every key of f (pass-through); later sets replace in place. */
int pfm_build_copy(pfm_build *b, const pfm_frame *f);
int pfm_build_obj(pfm_build *b, const char *key, const msgpack_object *v);
int pfm_build_str(pfm_build *b, const char *key, const char *s);
int pfm_build_strn(pfm_build *b, const char *key, const char *s, size_t n);
int pfm_build_i64(pfm_build *b, const char *key, int64_t v);
int pfm_build_f64(pfm_build *b, const char *key, double v);
int pfm_build_bool(pfm_build *b, const char *key, int v);
int pfm_build_bin(pfm_build *b, const char *key, const void *p, size_t n);
int pfm_build_tensor(pfm_build *b, const char *key, const pfm_tensor *t);
/* Set map_key[sub_key] = t, keeping the map's other entries (so
 * `embed --as uni | embed --as phikon` accumulates "emb"). */
int pfm_build_sub_tensor(pfm_build *b, const char *map_key,
			 const char *sub_key, const pfm_tensor *t);
int pfm_build_remove(pfm_build *b, const char *key);
/* The map as a msgpack object (valid until the next change). */
const msgpack_object *pfm_build_object(pfm_build *b);
/* Fill a tensor header for data the caller owns. */
void pfm_tensor_set(pfm_tensor *t, pfm_dtype dt, const void *data, int ndim,
		    const int64_t *shape);

/* Encode an object into a growing buffer (helper for transports/tests). */
int pfm_pack_object(msgpack_sbuffer *sb, const msgpack_object *o);

/* Element i of a float tensor (f32, f64, f16 or bf16; any alignment) as
 * float. */
float pfm_tensor_f32(const pfm_tensor *t, size_t i);

#endif
