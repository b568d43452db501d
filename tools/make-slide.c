/* make-slide: write a pyramidal tiled JPEG TIFF of any size from the
 * pixels of a real slide (mirror-tiled), for benchmarks and tests.
 * Build: make && cc -O2 -std=c11 -D_GNU_SOURCE -Icommon tools/make-slide.c \
 *   build/libpathfm.a $(pkg-config --cflags --libs openslide libtiff-4 \
 *   libturbojpeg) -lm -lpthread -o build/make-slide */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slide.h"

static const char usage[] =
"Usage: make-slide [OPTION]... OUT.tif\n"
"  --from SLIDE   source of the pixels (default tests/data/CMU-1-Small-Region.svs)\n"
"  --width N, --height N   size of level 0 (default 20480 x 20480)\n"
"  --mpp X        resolution written to the tags (default 0.25)\n"
"  --tile N       tile side (default 256)\n"
"  --quality N    JPEG quality (default 90)\n"
"  --min-side N   smallest level's larger side (default 1024)\n"
"  --rgb          RGB JPEG tiles (Aperio style) instead of YCbCr 4:2:0\n"
"  --x N, --y N   where in the source to start (default 0, 0)\n"
"  --blank        white glass with faint noise instead of tissue\n";

typedef struct {
	uint8_t *rgb;
	int64_t w, h, x0, y0;
	int blank;
	uint64_t seed;
} source;

static void fill(void *ctx, int64_t x, int64_t y, int w, int h, uint8_t *out)
{
	source *s = ctx;
	for (int r = 0; r < h; r++)
		for (int c = 0; c < w; c++) {
			uint8_t *o = out + ((size_t)r * w + c) * 3;
			if (s->blank) {
				s->seed = s->seed * 6364136223846793005ull + 1442695040888963407ull;
				uint8_t v = (uint8_t)(240 + (s->seed >> 60));
				o[0] = o[1] = o[2] = v;
				continue;
			}
			int64_t sx = (x + c + s->x0) % (2 * s->w), sy = (y + r + s->y0) % (2 * s->h);
			if (sx >= s->w)
				sx = 2 * s->w - 1 - sx;
			if (sy >= s->h)
				sy = 2 * s->h - 1 - sy;
			memcpy(o, s->rgb + ((size_t)sy * s->w + sx) * 3, 3);
		}
}

int main(int argc, char **argv)
{
	const char *from = "tests/data/CMU-1-Small-Region.svs";
	int64_t w = 20480, h = 20480;
	pfm_slide_write_opts o = {.tile = 256, .quality = 90, .mpp = 0.25};
	source src = {0};
	static const struct option lo[] = {
		{"from", 1, 0, 'f'}, {"width", 1, 0, 'w'}, {"height", 1, 0, 'H'},
		{"mpp", 1, 0, 'm'}, {"tile", 1, 0, 't'}, {"quality", 1, 0, 'q'},
		{"min-side", 1, 0, 's'}, {"rgb", 0, 0, 'r'}, {"blank", 0, 0, 'b'},
		{"x", 1, 0, 'x'}, {"y", 1, 0, 'y'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, 0)) != -1) {
		switch (c) {
		case 'f': from = optarg; break;
		case 'w': w = atoll(optarg); break;
		case 'H': h = atoll(optarg); break;
		case 'm': o.mpp = atof(optarg); break;
		case 't': o.tile = atoi(optarg); break;
		case 'q': o.quality = atoi(optarg); break;
		case 's': o.min_side = atoi(optarg); break;
		case 'r': o.rgb = 1; break;
		case 'b': src.blank = 1; break;
		case 'x': src.x0 = atoll(optarg); break;
		case 'y': src.y0 = atoll(optarg); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(usage, stderr);
		return 2;
	}
	pfm_err e = {0};
	if (!src.blank) {
		pfm_slide *s = pfm_slide_open(from, NULL, &e);
		if (!s) {
			fprintf(stderr, "make-slide: %s\n", e.msg);
			return 1;
		}
		pfm_slide_level_dims(s, 0, &src.w, &src.h);
		src.rgb = malloc((size_t)src.w * src.h * 3);
		if (!src.rgb || pfm_slide_read(s, NULL, 0, 0, 0, (int)src.w,
					       (int)src.h, src.rgb, &e)) {
			fprintf(stderr, "make-slide: %s\n", e.msg[0] ? e.msg : "out of memory");
			return 1;
		}
		pfm_slide_close(s);
	}
	int rc = pfm_slide_write_tiff(argv[optind], w, h, fill, &src, &o, &e);
	if (rc)
		fprintf(stderr, "make-slide: %s\n", e.msg);
	free(src.rgb);
	return rc ? 1 : 0;
}
