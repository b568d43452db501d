/* safetensors_save.c: write a safetensors file atomically, laid out as
 * the reference writer (safetensors 0.4.5) lays it out. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"
#include "safetensors_int.h"

/* The reference sorts data by its Dtype enum, last first, then by name:
 * widest types first, so every tensor is aligned to its element size. */
static int dtype_rank(pfm_dtype t)
{
	static const pfm_dtype order[] = {
		PFM_U64, PFM_I64, PFM_F64, PFM_F32, PFM_U32, PFM_I32,
		PFM_BF16, PFM_F16, PFM_U16, PFM_I16, PFM_I8, PFM_U8,
	};
	for (int i = 0; i < (int)(sizeof order / sizeof order[0]); i++)
		if (order[i] == t)
			return i;
	return -1;
}

static int by_layout(const void *a, const void *b)
{
	const pfm_st_tensor *x = *(const pfm_st_tensor *const *)a,
			    *y = *(const pfm_st_tensor *const *)b;
	int rx = dtype_rank(x->dtype), ry = dtype_rank(y->dtype);
	return rx != ry ? rx - ry : strcmp(x->name, y->name);
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const pfm_st_tensor *const *)a)->name,
		      (*(const pfm_st_tensor *const *)b)->name);
}

static int by_kv(const void *a, const void *b)
{
	return strcmp(**(const char *const *const *)a,
		      **(const char *const *const *)b);
}

static int utf8_ok(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t k = u[i] < 0x80 ? 1 : pfm_st_utf8_seq(u + i, n - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

/* ---- the header text ---- */

typedef struct {
	char *p;
	size_t len, cap;
	int oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t want = b->cap * 2 > b->len + n + 1 ? b->cap * 2
							  : b->len + n + 64;
		if (pfm_grow(&b->p, &b->cap, want)) {
			b->oom = 1;
			return;
		}
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void puts_(sbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void putf(sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void putf(sbuf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	put(b, tmp, (size_t)n);
}

/* A JSON string escaped as serde_json escapes it. */
static void put_str(sbuf *b, const char *s)
{
	put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *esc = c == '"'    ? "\\\""
				  : c == '\\' ? "\\\\"
				  : c == '\b' ? "\\b"
				  : c == '\f' ? "\\f"
				  : c == '\n' ? "\\n"
				  : c == '\r' ? "\\r"
				  : c == '\t' ? "\\t" : NULL;
		if (esc)
			puts_(b, esc);
		else if (c < 0x20)
			putf(b, "\\u%04x", c);
		else
			put(b, s, 1);
	}
	put(b, "\"", 1);
}

/* ---- checks ---- */

static int check_tensor(const pfm_st_tensor *t, pfm_err *e)
{
	if (!t->name)
		return pfm_errf(e, "a tensor without a name");
	if (!utf8_ok(t->name))
		return pfm_errf(e, "tensor name is not valid UTF-8");
	if (!strcmp(t->name, "__metadata__"))
		return pfm_errf(e, "tensor '__metadata__': the name is reserved");
	if (!pfm_st_dtype_name(t->dtype))
		return pfm_errf(e, "tensor '%.80s': no safetensors dtype for "
				"dtype %d", t->name, (int)t->dtype);
	if (t->ndim < 0 || t->ndim > PFM_MAX_DIMS)
		return pfm_errf(e, "tensor '%.80s': %d dimensions", t->name,
				t->ndim);
	size_t count = 1, es = pfm_dtype_size(t->dtype);
	for (int i = 0; i < t->ndim; i++) {
		if (t->shape[i] < 0)
			return pfm_errf(e, "tensor '%.80s': negative shape",
					t->name);
		uint64_t d = (uint64_t)t->shape[i];
		if (d && count > SIZE_MAX / d)
			return pfm_errf(e, "tensor '%.80s': shape overflows",
					t->name);
		count *= (size_t)d;
	}
	if (count != t->count || count > SIZE_MAX / es ||
	    t->nbytes != count * es)
		return pfm_errf(e, "tensor '%.80s': count %zu and %zu bytes do "
				"not match its shape (%zu elements of %s)",
				t->name, t->count, t->nbytes, count,
				pfm_st_dtype_name(t->dtype));
	if (t->nbytes && !t->data)
		return pfm_errf(e, "tensor '%.80s': no data", t->name);
	return 0;
}

static int check_meta(const char *const *kv, size_t n_meta,
		      const char *const **order, pfm_err *e)
{
	for (size_t i = 0; i < 2 * n_meta; i++)
		if (!kv[i] || !utf8_ok(kv[i]))
			return pfm_errf(e, "__metadata__: %s %zu is %s",
					i % 2 ? "value" : "key", i / 2,
					kv[i] ? "not valid UTF-8" : "NULL");
	for (size_t i = 0; i < n_meta; i++)
		order[i] = kv + 2 * i;
	qsort(order, n_meta, sizeof *order, by_kv);
	for (size_t i = 1; i < n_meta; i++)
		if (!strcmp(*order[i], *order[i - 1]))
			return pfm_errf(e, "__metadata__: duplicate key '%.80s'",
					*order[i]);
	return 0;
}

/* ---- writing ---- */

static int write_all(int fd, const void *p, size_t n, const char *name,
		     pfm_err *e)
{
	const char *c = p;
	while (n) {
		ssize_t k = write(fd, c, n > (1u << 30) ? 1u << 30 : n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return pfm_errf(e, "%s: write: %s", name, strerror(errno));
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The header (length, JSON, padding) and data to fd. */
static int write_file(int fd, const char *name, const sbuf *h,
		      const pfm_st_tensor *const *lay, size_t n, pfm_err *e)
{
	unsigned char len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)h->len >> (8 * i));
	if (write_all(fd, len, 8, name, e) ||
	    write_all(fd, h->p, h->len, name, e))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (lay[i]->nbytes &&
		    write_all(fd, lay[i]->data, lay[i]->nbytes, name, e))
			return -1;
	return 0;
}

/* Atomic where it can be: PATH.tmp.PID, fsync, rename. Devices and FIFOs
 * are written in place (renaming onto them would replace them). */
static int save_to(const char *path, const sbuf *h,
		   const pfm_st_tensor *const *lay, size_t n, pfm_err *e)
{
	struct stat sb;
	if (!stat(path, &sb) && !S_ISREG(sb.st_mode)) {
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return pfm_errf(e, "%s: %s", path, strerror(errno));
		int rc = write_file(fd, path, h, lay, n, e);
		close(fd);
		return rc;
	}
	size_t tl = strlen(path) + 32;
	char *tmp = malloc(tl);
	if (!tmp)
		return pfm_errf(e, "%s: out of memory", path);
	snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc;
	if (fd < 0) {
		rc = pfm_errf(e, "%s: %s", tmp, strerror(errno));
	} else {
		rc = write_file(fd, tmp, h, lay, n, e);
		if (!rc && fsync(fd))
			rc = pfm_errf(e, "%s: fsync: %s", tmp, strerror(errno));
		if (close(fd) && !rc)
			rc = pfm_errf(e, "%s: close: %s", tmp, strerror(errno));
		if (!rc && rename(tmp, path))
			rc = pfm_errf(e, "%s: rename: %s", path, strerror(errno));
		if (rc)
			unlink(tmp);
	}
	free(tmp);
	return rc;
}

static void build_header(sbuf *h, const pfm_st_tensor *const *lay, size_t n,
			 const char *const *const *meta, size_t n_meta)
{
	put(h, "{", 1);
	if (n_meta) {
		puts_(h, "\"__metadata__\":{");
		for (size_t i = 0; i < n_meta; i++) {
			if (i)
				put(h, ",", 1);
			put_str(h, meta[i][0]);
			put(h, ":", 1);
			put_str(h, meta[i][1]);
		}
		put(h, "}", 1);
	}
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		const pfm_st_tensor *t = lay[i];
		if (i || n_meta)
			put(h, ",", 1);
		put_str(h, t->name);
		putf(h, ":{\"dtype\":\"%s\",\"shape\":[",
		     pfm_st_dtype_name(t->dtype));
		for (int d = 0; d < t->ndim; d++)
			putf(h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
		putf(h, "],\"data_offsets\":[%zu,%zu]}", off, off + t->nbytes);
		off += t->nbytes;
	}
	put(h, "}", 1);
	while (h->len % 8)
		put(h, " ", 1);
}

int pfm_st_save(const char *path, const pfm_st_tensor *ts, size_t n,
		const char *const *kv, size_t n_meta, pfm_err *e)
{
	const pfm_st_tensor **lay = malloc((n ? n : 1) * sizeof *lay);
	const char *const **meta = malloc((n_meta ? n_meta : 1) * sizeof *meta);
	sbuf h = {0};
	int rc = -1;
	if (!lay || !meta) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (check_tensor(&ts[i], e))
			goto out;
		if (ts[i].nbytes > SIZE_MAX - total) {
			pfm_errf(e, "tensors too large together");
			goto out;
		}
		total += ts[i].nbytes;
		lay[i] = &ts[i];
	}
	qsort(lay, n, sizeof *lay, by_name);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(lay[i]->name, lay[i - 1]->name)) {
			pfm_errf(e, "tensor '%.80s': duplicate name",
				 lay[i]->name);
			goto out;
		}
	if (check_meta(kv, n_meta, meta, e))
		goto out;
	qsort(lay, n, sizeof *lay, by_layout);
	build_header(&h, lay, n, meta, n_meta);
	if (h.oom) {
		pfm_errf(e, "out of memory");
		goto out;
	}
	if (h.len > PFM_ST_MAX_HEADER) {
		pfm_errf(e, "header of %zu bytes: over the %zu readers accept",
			 h.len, PFM_ST_MAX_HEADER);
		goto out;
	}
	/* its errors name the file already */
	if (save_to(path, &h, lay, n, e))
		goto free;
	rc = 0;
out:
	if (rc)
		pfm_err_prefix(e, "%s", path);
free:
	free(h.p);
	free(lay);
	free(meta);
	return rc;
}
