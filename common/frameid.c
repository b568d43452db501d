#include "frameid.h"

#include <string.h>

#include "io.h"
#include "mem.h"

static uint64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Map header: entry count and header size; -1 if not a map. */
static int map_header(const char *p, size_t n, uint64_t *count, size_t *hdr)
{
	const unsigned char *u = (const unsigned char *)p;
	if (n >= 1 && (u[0] & 0xf0) == 0x80)
		return *count = u[0] & 0x0f, *hdr = 1, 0;
	if (n >= 3 && u[0] == 0xde)
		return *count = be(u + 1, 2), *hdr = 3, 0;
	if (n >= 5 && u[0] == 0xdf)
		return *count = be(u + 1, 4), *hdr = 5, 0;
	return -1;
}

/* Smallest header for count entries into out (5 bytes room); its size. */
static size_t put_header(char *out, uint64_t count)
{
	unsigned char *u = (unsigned char *)out;
	if (count < 16)
		return u[0] = (unsigned char)(0x80 | count), 1;
	if (count < 65536) {
		u[0] = 0xde, u[1] = (unsigned char)(count >> 8);
		u[2] = (unsigned char)count;
		return 3;
	}
	u[0] = 0xdf;
	for (int i = 0; i < 4; i++)
		u[1 + i] = (unsigned char)(count >> (24 - 8 * i));
	return 5;
}

int pfm_mp_u64(const char *p, size_t n, uint64_t *v)
{
	const unsigned char *u = (const unsigned char *)p;
	static const int width[4] = {1, 2, 4, 8};
	if (n >= 1 && u[0] <= 0x7f)
		return *v = u[0], 0;
	if (n >= 1 && u[0] >= 0xcc && u[0] <= 0xcf) {
		int w = width[u[0] - 0xcc];
		if (n < (size_t)(1 + w))
			return -1;
		*v = be(u + 1, w);
		return 0;
	}
	return -1;
}

int pfm_mp_str(const char *p, size_t n, const char **s, size_t *len)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t h;
	uint64_t l;
	if (n >= 1 && (u[0] & 0xe0) == 0xa0)
		h = 1, l = u[0] & 0x1f;
	else if (n >= 2 && u[0] == 0xd9)
		h = 2, l = u[1];
	else if (n >= 3 && u[0] == 0xda)
		h = 3, l = be(u + 1, 2);
	else if (n >= 5 && u[0] == 0xdb)
		h = 5, l = be(u + 1, 4);
	else
		return -1;
	if (l > n - h)
		return -1;
	*s = p + h;
	*len = (size_t)l;
	return 0;
}

int pfm_map_find(const char *p, size_t n, const char *key, size_t *at,
		 size_t *len, size_t *val, pfm_err *e)
{
	uint64_t count;
	size_t off, klen = strlen(key);
	if (map_header(p, n, &count, &off))
		return pfm_errf(e, "not a frame: not a MessagePack map");
	for (uint64_t i = 0; i < count; i++) {
		long long ks = pfm_scan_object(p + off, n - off, n, e);
		if (ks <= 0)
			return ks ? -1 : pfm_errf(e, "frame ends inside a key");
		long long vs = pfm_scan_object(p + off + ks, n - off - ks, n, e);
		if (vs <= 0)
			return vs ? -1 : pfm_errf(e, "frame ends inside a value");
		const char *s;
		size_t sl;
		if (!pfm_mp_str(p + off, (size_t)ks, &s, &sl) && sl == klen &&
		    !memcmp(s, key, klen)) {
			*at = off;
			*len = (size_t)(ks + vs);
			*val = off + (size_t)ks;
			return 1;
		}
		off += (size_t)(ks + vs);
	}
	return 0;
}

int pfm_seq_add(const char *p, size_t n, uint64_t seq, char **buf,
		size_t *cap, size_t *len, pfm_err *e)
{
	uint64_t count;
	size_t hdr, at, el, val;
	int found = pfm_map_find(p, n, PFM_SEQ_KEY, &at, &el, &val, e);
	if (found < 0)
		return -1;
	if (found)
		return pfm_errf(e, "the frame already has the key %s, which "
				"frame-hub keeps for frame ids", PFM_SEQ_KEY);
	map_header(p, n, &count, &hdr);
	if (pfm_grow(buf, cap, n + 5 + 14))
		return pfm_errf(e, "out of memory");
	char *o = *buf;
	size_t k = put_header(o, count + 1);
	memcpy(o + k, p + hdr, n - hdr);
	k += n - hdr;
	/* "_seq": uint64, fixed width so the size is known. */
	o[k++] = (char)0xa4;
	memcpy(o + k, PFM_SEQ_KEY, 4);
	k += 4;
	o[k++] = (char)0xcf;
	for (int i = 0; i < 8; i++)
		o[k++] = (char)(seq >> (56 - 8 * i));
	*len = k;
	return 0;
}

size_t pfm_map_drop(const char *p, size_t n, size_t at, size_t len, char *out)
{
	uint64_t count;
	size_t hdr;
	map_header(p, n, &count, &hdr);
	size_t k = put_header(out, count - 1);
	memcpy(out + k, p + hdr, at - hdr);
	k += at - hdr;
	memcpy(out + k, p + at + len, n - at - len);
	return k + n - at - len;
}
