/* frameid.h: the frame id key that frame-hub puts on the frames it hands
 * to workers, and top-level key lookups on encoded frames.
 *
 * A worker's reader adds "_seq" (the frame's position in the hub's input,
 * an unsigned integer) as the last key of each frame; stages copy keys
 * they do not own, so the outputs carry it back; the worker's writer reads
 * it to tell the hub which input an output came from and removes it, so
 * results leave the hub as a single process would have written them.
 * These work on the encoded bytes: payloads are skipped, never decoded. */
#ifndef PFM_FRAMEID_H
#define PFM_FRAMEID_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define PFM_SEQ_KEY "_seq"

/* Find top-level key in the map encoded at p[0..n) (exactly one object).
 * 1 found: the whole entry (key and value) is p[*at .. *at + *len) and the
 * value starts at p[*val]; 0 absent; -1 not a map or malformed (e set). */
int pfm_map_find(const char *p, size_t n, const char *key, size_t *at,
		 size_t *len, size_t *val, pfm_err *e);

/* Decode an unsigned integer / a string at p[0..n): 0 or -1. */
int pfm_mp_u64(const char *p, size_t n, uint64_t *v);
int pfm_mp_str(const char *p, size_t n, const char **s, size_t *len);

/* Copy the map at p[0..n) with _seq = seq appended into *buf (grown as
 * needed; *cap its size), its length in *len. -1 (e set) if p is not a
 * map or already has a _seq key. */
int pfm_seq_add(const char *p, size_t n, uint64_t seq, char **buf,
		size_t *cap, size_t *len, pfm_err *e);

/* Bytes of the map at p[0..n) without its entry p[at .. at + len), which
 * must be one of its top-level entries: writes them to out (room for n
 * bytes) and returns their count. */
size_t pfm_map_drop(const char *p, size_t n, size_t at, size_t len, char *out);

#endif
