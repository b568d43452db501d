/* safetensors.h: reading and writing safetensors files
 * (https://github.com/huggingface/safetensors), an opaque handle in
 * OpenSlide's manner: errors come back as values, never exit or crash.
 *
 * A file is: an 8-byte little-endian header length N, N bytes of UTF-8
 * JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
 * {string: string}}, then the data region the offsets index into.
 *
 * Reading checks what the reference parser (safetensors/src/tensor.rs)
 * checks: N <= 100 MB and within the file, valid UTF-8 JSON, each
 * tensor's end - begin == count * dtype size (overflow-checked), and the
 * tensors cover the data region exactly: no overlap, no hole, nothing
 * after the last one. It is stricter where the reference is lax:
 * duplicate tensor names or keys, unknown keys in a tensor entry,
 * "__metadata__": null, a NUL in a name and more than PFM_MAX_DIMS
 * dimensions are errors. Every error names the file (or label) and, where
 * one is involved, the tensor.
 *
 * dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U64 U32 U16 U8 map to the
 * pfm_dtype of the same name; BOOL reads as PFM_U8 (one byte, 0 or 1;
 * written back it is U8). F8_* and anything else are errors. */
#ifndef PFM_SAFETENSORS_H
#define PFM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "frame.h"

#define PFM_ST_MAX_HEADER ((size_t)100000000) /* the reference's limit */

typedef struct pfm_st pfm_st; /* an open file (mmap'd read-only) */

typedef struct {
	const char *name;  /* NUL-terminated */
	pfm_dtype dtype;
	int ndim;
	int64_t shape[PFM_MAX_DIMS];
	size_t count;      /* product of shape (1 for a 0-d tensor) */
	const void *data;  /* points into the mapping; may be unaligned */
	size_t nbytes;
} pfm_st_tensor;

/* Open and validate a file / a buffer. open_mem does not copy buf: it
 * must outlive the handle; label names it in errors. 0, or -1 with e
 * filled and *out NULL. */
int pfm_st_open(pfm_st **out, const char *path, pfm_err *e);
int pfm_st_open_mem(pfm_st **out, const void *buf, size_t n,
		    const char *label, pfm_err *e);
void pfm_st_close(pfm_st *st);

/* Tensors sorted by name (byte order, which is code point order). */
size_t pfm_st_count(const pfm_st *st);
const pfm_st_tensor *pfm_st_at(const pfm_st *st, size_t i);
/* NULL if absent (binary search). */
const pfm_st_tensor *pfm_st_find(const pfm_st *st, const char *name);

/* __metadata__: value of key (NULL if absent); keys sorted by name. */
const char *pfm_st_meta(const pfm_st *st, const char *key);
size_t pfm_st_meta_count(const pfm_st *st);
const char *pfm_st_meta_key(const pfm_st *st, size_t i);

/* The path or label given at open. */
const char *pfm_st_label(const pfm_st *st);

/* safetensors' name of a dtype ("F32", "BF16" ...), NULL if none. */
const char *pfm_st_dtype_name(pfm_dtype t);

/* Convert t's data to t->count floats in out, bit for bit what torch's
 * .float() gives: F32 is copied; F16 and BF16 are exact (subnormals,
 * infinities; an F16 NaN keeps sign and payload and comes out quiet, a
 * BF16 one keeps its bits); F64 rounds to nearest even. Any other dtype
 * is an error naming the tensor. */
int pfm_st_read_f32(const pfm_st_tensor *t, float *out, pfm_err *e);

/* Write a file atomically (path.tmp.PID in the same directory, fsync,
 * rename; a device or FIFO is written in place). kv holds n_meta
 * key/value pairs (kv[2i], kv[2i+1]) for __metadata__, none: no
 * __metadata__. Names must be unique, valid UTF-8 and not
 * "__metadata__"; each tensor's nbytes must equal count * dtype size.
 * The layout is the reference writer's (safetensors 0.4.5): data ordered
 * by dtype, widest first, then by name, so every tensor is aligned to its
 * element size; header keys in that order, padded with spaces so the
 * data starts 8-byte aligned. With at most one metadata pair the bytes
 * equal safetensors.torch.save_file's. 0, or -1 with e filled (nothing
 * left under path). */
int pfm_st_save(const char *path, const pfm_st_tensor *ts, size_t n,
		const char *const *kv, size_t n_meta, pfm_err *e);

#endif
