/* scan.c: find the end of one MessagePack object without allocating.
 *
 * msgpack-c's unpacker allocates `count` objects as soon as it reads an
 * array or map header, so five hostile bytes could ask for 64 GiB. We walk
 * the headers first, checking that the object is complete and within the
 * limits, and only then hand it to msgpack-c. Bin/str payloads are
 * skipped in O(1), so this costs nothing for tensor-heavy frames. */
#include "io.h"

#include <string.h>

static uint64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Header layout of one object starting with byte c: fixed header bytes,
 * width of a length field (0 if none), fixed body bytes, and whether the
 * length counts children (1: array, 2: map) instead of bytes. */
static int layout(unsigned c, int *lenw, uint64_t *body, int *kids,
		  uint64_t *fixn)
{
	*lenw = 0, *body = 0, *kids = 0, *fixn = 0;
	if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
		return 0;
	if (c >= 0x80 && c <= 0x8f) return *kids = 2, *fixn = c & 0x0f, 0;
	if (c >= 0x90 && c <= 0x9f) return *kids = 1, *fixn = c & 0x0f, 0;
	if (c >= 0xa0 && c <= 0xbf) return *body = c & 0x1f, 0;
	switch (c) {
	case 0xc4: case 0xd9: *lenw = 1; return 0;          /* bin8, str8 */
	case 0xc5: case 0xda: *lenw = 2; return 0;          /* bin16, str16 */
	case 0xc6: case 0xdb: *lenw = 4; return 0;          /* bin32, str32 */
	case 0xc7: *lenw = 1; *body = 1; return 0;          /* ext8: +type */
	case 0xc8: *lenw = 2; *body = 1; return 0;
	case 0xc9: *lenw = 4; *body = 1; return 0;
	case 0xca: *body = 4; return 0;
	case 0xcb: *body = 8; return 0;
	case 0xcc: case 0xd0: *body = 1; return 0;
	case 0xcd: case 0xd1: *body = 2; return 0;
	case 0xce: case 0xd2: *body = 4; return 0;
	case 0xcf: case 0xd3: *body = 8; return 0;
	case 0xd4: *body = 2; return 0;                     /* fixext1 */
	case 0xd5: *body = 3; return 0;
	case 0xd6: *body = 5; return 0;
	case 0xd7: *body = 9; return 0;
	case 0xd8: *body = 17; return 0;
	case 0xdc: *lenw = 2; *kids = 1; return 0;
	case 0xdd: *lenw = 4; *kids = 1; return 0;
	case 0xde: *lenw = 2; *kids = 2; return 0;
	case 0xdf: *lenw = 4; *kids = 2; return 0;
	default: return -1; /* 0xc1: never used */
	}
}

long long pfm_scan_object_hint(const char *buf, size_t n, size_t max_bytes,
			       size_t *need, pfm_err *e)
{
	const unsigned char *p = (const unsigned char *)buf;
	uint64_t left[PFM_MAX_DEPTH + 1];
	int depth = 0;
	size_t off = 0, objects = 0;
	left[0] = 1;
	for (;;) {
		if (off >= n)
			return *need = off + 1, 0;
		if (++objects > PFM_MAX_OBJECTS)
			return pfm_errf(e, "more than %d objects in one frame",
					PFM_MAX_OBJECTS);
		int lenw, kids;
		uint64_t body, fixn;
		if (layout(p[off], &lenw, &body, &kids, &fixn))
			return pfm_errf(e, "invalid MessagePack byte 0x%02x at "
					"offset %zu", p[off], off);
		if (off + 1 + lenw > n)
			return *need = off + 1 + lenw, 0;
		uint64_t len = lenw ? be(p + off + 1, lenw) : fixn;
		uint64_t children = 0;
		if (kids)
			children = len * (uint64_t)kids;
		else
			body += len;
		uint64_t end = off + 1 + lenw + body;
		/* Every child takes at least one byte: reject early what
		 * cannot fit, instead of waiting for gigabytes. */
		if (end + children > max_bytes)
			return pfm_errf(e, "frame larger than the limit of %zu "
					"bytes (see --max-frame)", max_bytes);
		if (children > (uint64_t)(PFM_MAX_OBJECTS - objects))
			return pfm_errf(e, "more than %d objects in one frame",
					PFM_MAX_OBJECTS);
		if (end > n)
			return *need = (size_t)end, 0;
		off = (size_t)end;
		left[depth]--;
		if (children) {
			if (depth == PFM_MAX_DEPTH)
				return pfm_errf(e, "nesting deeper than %d",
						PFM_MAX_DEPTH);
			left[++depth] = children;
		}
		while (left[depth] == 0) {
			if (depth == 0)
				return (long long)off;
			depth--;
		}
	}
}

long long pfm_scan_object(const char *p, size_t n, size_t max_bytes,
			  pfm_err *e)
{
	size_t need;
	return pfm_scan_object_hint(p, n, max_bytes, &need, e);
}
