#include "slide.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openslide.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "resample.h"
#include "slide_jpeg.h"

struct pfm_slide {
	openslide_t *osr;
	char *path;
	char vendor[32];
	int nlevels;
	int64_t *w, *h;
	double *ds;
	double mpp;
	int mpp_assumed;
	unsigned serial;   /* tells slides apart in the tile caches */
	int fd;            /* direct reads */
	uint64_t fsize;
	pfm_jlevel **jl;   /* per level; NULL: through OpenSlide */
	uint8_t *img;      /* a plain image, held whole (no OpenSlide) */
};

static atomic_uint next_serial = 1;

/* Why a file is not a slide: a DICOM file is named as such. */
static int not_a_slide(const char *path, pfm_err *e)
{
	unsigned char hdr[132];
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(hdr, 1, sizeof hdr, f) : 0;
	if (f)
		fclose(f);
	if (n == sizeof hdr && !memcmp(hdr + 128, "DICM", 4))
		return pfm_errf(e, "%s: unsupported format: DICOM (OpenSlide %s "
				"has no DICOM reader; convert it to a pyramidal "
				"TIFF)", path, openslide_get_version());
	return pfm_errf(e, "%s: unsupported format: not a slide OpenSlide %s "
			"can read (or a damaged one)", path,
			openslide_get_version());
}

static int prop_double(openslide_t *o, const char *name, double *v)
{
	const char *s = openslide_get_property_value(o, name);
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (errno || end == s || !(d > 0) || !isfinite(d))
		return -1;
	*v = d;
	return 0;
}

/* mpp: OpenSlide's, Aperio's, then the TIFF resolution tags (OpenSlide
 * 3.4.1 does not turn those into openslide.mpp-x for generic TIFF). */
static double slide_mpp(openslide_t *o)
{
	double v, res;
	if (!prop_double(o, OPENSLIDE_PROPERTY_NAME_MPP_X, &v) ||
	    !prop_double(o, "aperio.MPP", &v))
		return v;
	if (!prop_double(o, "tiff.XResolution", &res)) {
		const char *u = openslide_get_property_value(o, "tiff.ResolutionUnit");
		if (u && !strcmp(u, "centimeter"))
			return 1e4 / res;
		if (u && !strcmp(u, "inch"))
			return 25400 / res;
	}
	return 0;
}

/* A plain image: one level, pixels in memory. Its resolution tags are
 * screen or print densities, not microns: the mpp must be assumed. */
static pfm_slide *image_open(const char *path, const pfm_slide_opts *o,
			     pfm_err *e)
{
	uint8_t *rgb;
	int64_t w, h;
	const char *kind;
	int got = pfm_image_load(path, &rgb, &w, &h, &kind, e);
	if (got <= 0) {
		if (!got)
			not_a_slide(path, e);
		return NULL;
	}
	if (!(o->assume_mpp > 0)) {
		free(rgb);
		pfm_errf(e, "%s: a plain image does not say its resolution (no "
			 "mpp); give --assume-mpp or --assume-mag", path);
		return NULL;
	}
	pfm_slide *s = calloc(1, sizeof *s);
	if (s) {
		s->fd = -1;
		s->img = rgb;
		s->nlevels = 1;
		s->path = strdup(path);
		s->w = malloc(sizeof *s->w);
		s->h = malloc(sizeof *s->h);
		s->ds = malloc(sizeof *s->ds);
		s->jl = calloc(1, sizeof *s->jl);
	}
	if (!s || !s->path || !s->w || !s->h || !s->ds || !s->jl) {
		if (!s)
			free(rgb);
		pfm_slide_close(s);
		pfm_errf(e, "out of memory");
		return NULL;
	}
	s->serial = atomic_fetch_add(&next_serial, 1);
	snprintf(s->vendor, sizeof s->vendor, "%s", kind);
	s->w[0] = w;
	s->h[0] = h;
	s->ds[0] = 1;
	s->mpp = o->assume_mpp;
	s->mpp_assumed = 1;
	return s;
}

pfm_slide *pfm_slide_open(const char *path, const pfm_slide_opts *o,
			  pfm_err *e)
{
	pfm_slide_opts none = {0};
	if (!o)
		o = &none;
	struct stat st;
	if (stat(path, &st)) {
		pfm_errf(e, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		pfm_errf(e, "%s: is a directory", path);
		return NULL;
	}
	pfm_tiff_quiet();
	const char *vendor = openslide_detect_vendor(path);
	openslide_t *osr = vendor ? openslide_open(path) : NULL;
	if (!osr && !vendor)
		return image_open(path, o, e);
	if (!osr) {
		not_a_slide(path, e);
		return NULL;
	}
	const char *err = openslide_get_error(osr);
	if (err) {
		pfm_errf(e, "%s: OpenSlide: %s", path, err);
		openslide_close(osr);
		return NULL;
	}
	pfm_slide *s = calloc(1, sizeof *s);
	if (!s) {
		openslide_close(osr);
		pfm_errf(e, "out of memory");
		return NULL;
	}
	s->osr = osr;
	s->fd = -1;
	s->serial = atomic_fetch_add(&next_serial, 1);
	snprintf(s->vendor, sizeof s->vendor, "%s", vendor);
	s->path = strdup(path);
	s->nlevels = openslide_get_level_count(osr);
	if (!s->path || s->nlevels < 1 || s->nlevels > 64) {
		pfm_errf(e, "%s: OpenSlide: %d levels", path, s->nlevels);
		goto fail;
	}
	s->w = calloc(s->nlevels, sizeof *s->w);
	s->h = calloc(s->nlevels, sizeof *s->h);
	s->ds = calloc(s->nlevels, sizeof *s->ds);
	s->jl = calloc(s->nlevels, sizeof *s->jl);
	if (!s->w || !s->h || !s->ds || !s->jl) {
		pfm_errf(e, "out of memory");
		goto fail;
	}
	for (int i = 0; i < s->nlevels; i++) {
		openslide_get_level_dimensions(osr, i, &s->w[i], &s->h[i]);
		s->ds[i] = openslide_get_level_downsample(osr, i);
		if (s->w[i] < 1 || s->h[i] < 1 || !(s->ds[i] >= 1)) {
			pfm_errf(e, "%s: OpenSlide: level %d is %lldx%lld", path,
				 i, (long long)s->w[i], (long long)s->h[i]);
			goto fail;
		}
	}
	s->mpp = slide_mpp(osr);
	if (!(s->mpp > 0)) {
		if (!(o->assume_mpp > 0)) {
			pfm_errf(e, "%s: the slide does not say its resolution "
				 "(no mpp); give --assume-mpp or --assume-mag", path);
			goto fail;
		}
		s->mpp = o->assume_mpp;
		s->mpp_assumed = 1;
	}
	/* Direct reads where the TIFF directory is plain tiled JPEG, for the
	 * formats whose levels are exactly those directories. */
	if (!o->no_direct && (!strcmp(vendor, "aperio") ||
			      !strcmp(vendor, "generic-tiff"))) {
		s->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (s->fd >= 0 && !fstat(s->fd, &st)) {
			s->fsize = (uint64_t)st.st_size;
			pfm_jpeg_levels(path, s->nlevels, s->w, s->h, s->jl);
		}
	}
	return s;
fail:
	pfm_slide_close(s);
	return NULL;
}

void pfm_slide_close(pfm_slide *s)
{
	if (!s)
		return;
	if (s->osr)
		openslide_close(s->osr);
	if (s->jl)
		for (int i = 0; i < s->nlevels; i++)
			pfm_jlevel_free(s->jl[i]);
	if (s->fd >= 0)
		close(s->fd);
	free(s->jl);
	free(s->img);
	free(s->w);
	free(s->h);
	free(s->ds);
	free(s->path);
	free(s);
}

int pfm_slide_level_count(const pfm_slide *s) { return s->nlevels; }

void pfm_slide_level_dims(const pfm_slide *s, int level, int64_t *w,
			  int64_t *h)
{
	*w = s->w[level];
	*h = s->h[level];
}

double pfm_slide_level_downsample(const pfm_slide *s, int level)
{
	return s->ds[level];
}

double pfm_slide_mpp(const pfm_slide *s) { return s->mpp; }
int pfm_slide_mpp_assumed(const pfm_slide *s) { return s->mpp_assumed; }
const char *pfm_slide_path(const pfm_slide *s) { return s->path; }
const char *pfm_slide_vendor(const pfm_slide *s) { return s->vendor; }

int pfm_slide_level_direct(const pfm_slide *s, int level)
{
	return s->jl[level] != NULL;
}

int pfm_slide_best_level(const pfm_slide *s, double ds, double tol)
{
	int best = 0;
	for (int i = 1; i < s->nlevels; i++)
		if (s->ds[i] <= ds * (1 + tol) && s->ds[i] > s->ds[best])
			best = i;
	return best;
}

pfm_slide_ctx *pfm_slide_ctx_new(void)
{
	return calloc(1, sizeof(pfm_slide_ctx));
}

void pfm_slide_ctx_free(pfm_slide_ctx *c)
{
	if (!c)
		return;
	if (c->tj)
		tjDestroy(c->tj);
	for (int i = 0; i < PFM_TILE_CACHE; i++)
		free(c->cache[i].rgb);
	free(c->jpeg);
	free(c->argb);
	free(c);
}

/* Level coordinates of a level-0 point, as OpenSlide takes them. */
static int64_t to_level(double v, double ds) { return (int64_t)floor(v / ds); }

static int read_direct(pfm_slide *s, pfm_slide_ctx *c, int level, int64_t x,
		       int64_t y, int w, int h, uint8_t *rgb, pfm_err *e)
{
	const pfm_jlevel *j = s->jl[level];
	int64_t lx = to_level((double)x, s->ds[level]);
	int64_t ly = to_level((double)y, s->ds[level]);
	/* White where the region leaves the level, then each stored tile's
	 * part of it. */
	if (lx < 0 || ly < 0 || lx + w > j->w || ly + h > j->h)
		memset(rgb, 255, (size_t)w * h * 3);
	int64_t x0 = lx < 0 ? 0 : lx, y0 = ly < 0 ? 0 : ly;
	int64_t x1 = lx + w < j->w ? lx + w : j->w;
	int64_t y1 = ly + h < j->h ? ly + h : j->h;
	if (x0 >= x1 || y0 >= y1)
		return 0;
	/* Exactly one stored tile: decode in place (no cache, no copy). */
	if (lx % j->tw == 0 && ly % j->th == 0 && (uint32_t)w == j->tw &&
	    (uint32_t)h == j->th && x1 - x0 == w && y1 - y0 == h) {
		if (pfm_jpeg_decode(c, s->fd, s->fsize, j,
				    (ly / j->th) * j->across + lx / j->tw, rgb, e))
			return pfm_err_prefix(e, "%s: level %d", s->path, level);
		return 0;
	}
	for (int64_t ty = y0 / j->th; ty <= (y1 - 1) / j->th; ty++) {
		for (int64_t tx = x0 / j->tw; tx <= (x1 - 1) / j->tw; tx++) {
			const uint8_t *t = pfm_jpeg_tile(c, s->fd, s->fsize,
							 s->serial, level, j,
							 ty * j->across + tx, e);
			if (!t)
				return pfm_err_prefix(e, "%s: level %d", s->path, level);
			int64_t ax = tx * j->tw, ay = ty * j->th;
			int64_t cx0 = ax > x0 ? ax : x0, cy0 = ay > y0 ? ay : y0;
			int64_t cx1 = ax + j->tw < x1 ? ax + j->tw : x1;
			int64_t cy1 = ay + j->th < y1 ? ay + j->th : y1;
			size_t n = (size_t)(cx1 - cx0) * 3;
			for (int64_t r = cy0; r < cy1; r++)
				memcpy(rgb + ((size_t)(r - ly) * w + (cx0 - lx)) * 3,
				       t + ((size_t)(r - ay) * j->tw + (cx0 - ax)) * 3, n);
		}
	}
	return 0;
}

static int read_image(pfm_slide *s, int64_t x, int64_t y, int w, int h,
		      uint8_t *rgb)
{
	int64_t iw = s->w[0], ih = s->h[0];
	if (x < 0 || y < 0 || x + w > iw || y + h > ih)
		memset(rgb, 255, (size_t)w * h * 3);
	int64_t x0 = x < 0 ? 0 : x, x1 = x + w < iw ? x + w : iw;
	for (int64_t r = y < 0 ? 0 : y; r < y + h && r < ih && x0 < x1; r++)
		memcpy(rgb + ((size_t)(r - y) * w + (x0 - x)) * 3,
		       s->img + ((size_t)r * iw + x0) * 3, (size_t)(x1 - x0) * 3);
	return 0;
}

static int read_openslide(pfm_slide *s, pfm_slide_ctx *c, int level,
			  int64_t x, int64_t y, int w, int h, uint8_t *rgb,
			  pfm_err *e)
{
	size_t n = (size_t)w * h;
	if (c->argb_cap < n) {
		uint32_t *p = realloc(c->argb, n * sizeof *p);
		if (!p)
			return pfm_errf(e, "out of memory");
		c->argb = p;
		c->argb_cap = n;
	}
	openslide_read_region(s->osr, c->argb, x, y, level, w, h);
	const char *err = openslide_get_error(s->osr);
	if (err)
		return pfm_errf(e, "%s: OpenSlide: %s", s->path, err);
	/* Premultiplied ARGB over white: c + (255 - a). */
	for (size_t i = 0; i < n; i++) {
		uint32_t p = c->argb[i];
		unsigned a = p >> 24, bg = 255 - a;
		rgb[3 * i] = (uint8_t)(((p >> 16) & 255) + bg);
		rgb[3 * i + 1] = (uint8_t)(((p >> 8) & 255) + bg);
		rgb[3 * i + 2] = (uint8_t)((p & 255) + bg);
	}
	return 0;
}

int pfm_slide_read(pfm_slide *s, pfm_slide_ctx *c, int level, int64_t x,
		   int64_t y, int w, int h, uint8_t *rgb, pfm_err *e)
{
	if (level < 0 || level >= s->nlevels || w < 1 || h < 1 ||
	    (int64_t)w * h > ((int64_t)1 << 28))
		return pfm_errf(e, "%s: bad region: level %d, %dx%d", s->path,
				level, w, h);
	pfm_slide_ctx *own = NULL;
	if (!c && !(c = own = pfm_slide_ctx_new()))
		return pfm_errf(e, "out of memory");
	int rc = s->img	      ? read_image(s, x, y, w, h, rgb)
		 : s->jl[level] ? read_direct(s, c, level, x, y, w, h, rgb, e)
				: read_openslide(s, c, level, x, y, w, h, rgb, e);
	pfm_slide_ctx_free(own);
	return rc;
}

int pfm_slide_stored_jpeg(pfm_slide *s, pfm_slide_ctx *c, int level,
			  int64_t x, int64_t y, int w, int h,
			  const uint8_t **jpeg, size_t *n, pfm_err *e)
{
	const pfm_jlevel *j = s->jl[level];
	if (!j || (uint32_t)w != j->tw || (uint32_t)h != j->th)
		return 0;
	double ds = s->ds[level];
	int64_t lx = to_level((double)x, ds), ly = to_level((double)y, ds);
	/* Exact level coordinates only: OpenSlide would shift otherwise. */
	if (lx * ds != (double)x || ly * ds != (double)y || lx < 0 || ly < 0 ||
	    lx % j->tw || ly % j->th || lx + w > j->w || ly + h > j->h)
		return 0;
	int64_t index = (ly / j->th) * j->across + lx / j->tw;
	if (!j->len[index])
		return 0;
	if (pfm_jpeg_stream(c, s->fd, s->fsize, j, index, jpeg, n, e))
		return pfm_err_prefix(e, "%s: level %d", s->path, level);
	return 1;
}

#define SCALED_BLOCK 128 /* output pixels per side read at once */

int pfm_slide_read_scaled(pfm_slide *s, pfm_slide_ctx *c, double scale,
			  int w, int h, uint8_t *rgb, pfm_err *e)
{
	int level = pfm_slide_best_level(s, scale, 0.01);
	double ds = s->ds[level];
	double sl = scale / ds; /* level pixels per output pixel */
	int bs = (int)ceil(SCALED_BLOCK * sl) + 2;
	uint8_t *src = malloc((size_t)bs * bs * 3);
	uint8_t *dst = malloc((size_t)SCALED_BLOCK * SCALED_BLOCK * 3);
	int rc = 0;
	if (!src || !dst)
		rc = pfm_errf(e, "out of memory");
	for (int by = 0; by < h && !rc; by += SCALED_BLOCK) {
		for (int bx = 0; bx < w && !rc; bx += SCALED_BLOCK) {
			int bw = w - bx < SCALED_BLOCK ? w - bx : SCALED_BLOCK;
			int bh = h - by < SCALED_BLOCK ? h - by : SCALED_BLOCK;
			int64_t lx0 = (int64_t)floor(bx * sl), ly0 = (int64_t)floor(by * sl);
			int sw = (int)(ceil((bx + bw) * sl) - lx0);
			int sh = (int)(ceil((by + bh) * sl) - ly0);
			if (sw < 1)
				sw = 1;
			if (sh < 1)
				sh = 1;
			rc = pfm_slide_read(s, c, level, (int64_t)ceil(lx0 * ds),
					    (int64_t)ceil(ly0 * ds), sw, sh, src, e);
			if (!rc)
				rc = pfm_resample_rgb(src, sw, sh, dst, bw, bh, e);
			for (int y = 0; !rc && y < bh; y++)
				memcpy(rgb + ((size_t)(by + y) * w + bx) * 3,
				       dst + (size_t)y * bw * 3, (size_t)bw * 3);
		}
	}
	free(src);
	free(dst);
	return rc;
}
