/* json.h: the JSON view of frames (frame-cat, schemas) and back.
 *
 * Mapping between MessagePack and JSON:
 *   map (str keys) <-> object     array <-> array     nil <-> null
 *   bool <-> true/false           int <-> integer     float <-> number
 *   str <-> string (invalid UTF-8 is printed as U+FFFD)
 *   bin  -> {"$bin":N}                 (summary, full=0; not readable back)
 *   bin <-> {"$base64":"..."}          (full=1)
 *   ext  -> {"$ext":T,"$bin":N}        (summary)
 *   ext <-> {"$ext":T,"$base64":"..."} (full)
 * JSON has no NaN or infinities: NaN prints as null and +/-inf as
 * +/-1.7976931348623157e+308 (jq's convention), so they do not survive a
 * round trip. A JSON number reads back as float64 whatever its width was.
 * A map of one's own with exactly the keys above ("$base64"; "$ext" and
 * "$base64"; "$bin") reads back as a payload, or is refused.
 * Numbers are formatted and parsed in the C locale's notation: do not
 * change LC_NUMERIC in programs that use this. */
#ifndef PFM_JSON_H
#define PFM_JSON_H

#include <msgpack.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"

/* Containers nested deeper than this are refused both ways: msgpack-c's
 * unpacker cannot hold more (MSGPACK_EMBED_STACK_SIZE), nor will frame
 * readers (PFM_MAX_DEPTH). */
#define PFM_JSON_MAX_DEPTH 32

/* Write o as compact JSON (no newline). full=1 prints bin payloads as
 * base64, full=0 only their size. 0, or -1 for an unprintable object
 * (non-string map key, too deep; part of it may be out already) or a
 * write error. */
int pfm_json_write(FILE *out, const msgpack_object *o, int full, pfm_err *e);

/* Parse one JSON value at text[0..n) (leading whitespace skipped) and pack
 * it into pk. *consumed (may be NULL) gets the bytes used, the value's
 * end; what follows is not looked at. Strict RFC 8259; errors say where
 * (line:col and byte offset). 0 or -1; on error nothing was packed.
 * Text that is only whitespace is an error ("end of input"): a caller
 * reading a stream of values checks for that first. */
int pfm_json_parse(const char *text, size_t n, size_t *consumed,
		   msgpack_packer *pk, pfm_err *e);

/* Parse a whole document (only whitespace may follow the value), append
 * it to sb and unpack it into *out using zone z. *out points into both
 * sb and z: keep them, and do not add to sb, until done with it. 0 or
 * -1. */
int pfm_json_to_object(const char *text, size_t n, msgpack_sbuffer *sb,
		       msgpack_zone *z, msgpack_object *out, pfm_err *e);

/* Parse text as one JSON object and call fn for each of its members in
 * order, with the key as a C string (keys of 64 bytes or more, or not
 * strings, are errors naming `what`). Stops at fn's first non-zero
 * return. 0 or -1 (e filled, by fn or here). */
typedef int (*pfm_json_member_fn)(void *ctx, const char *key,
				  const msgpack_object *val, pfm_err *e);
int pfm_json_object_each(const char *text, size_t n, const char *what,
			 pfm_json_member_fn fn, void *ctx, pfm_err *e);

/* Standard base64 with padding. encode writes pfm_base64_len(n) bytes (no
 * NUL). decode returns the decoded length, or -1 if src is not canonical
 * padded base64 (bad character, length, padding or trailing bits); dst
 * needs pfm_base64_max_decoded(n) bytes. */
size_t pfm_base64_len(size_t n);
void pfm_base64_encode(const void *src, size_t n, char *dst);
size_t pfm_base64_max_decoded(size_t n);
long long pfm_base64_decode(const char *src, size_t n, void *dst);

#endif
