/* wsi-openslide: the baseline, a C loop of openslide_read_region over
 * every size x size tile of level 0 (what CLAM-style scripts do), as
 * tiles per second. Usage: wsi-openslide SLIDE [SIZE [MAX]] */
#include <openslide.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int size = argc > 2 ? atoi(argv[2]) : 256;
	long max = argc > 3 ? atol(argv[3]) : -1;
	openslide_t *o = openslide_open(argv[1]);
	if (!o || openslide_get_error(o))
		return 1;
	int64_t w, h;
	openslide_get_level_dimensions(o, 0, &w, &h);
	uint32_t *buf = malloc((size_t)size * size * 4);
	long n = 0;
	unsigned sum = 0;
	double t0 = now();
	for (int64_t y = 0; y + size <= h && n != max; y += size)
		for (int64_t x = 0; x + size <= w && n != max; x += size) {
			openslide_read_region(o, buf, x, y, 0, size, size);
			sum += buf[n % (size * size)];
			n++;
		}
	double t = now() - t0;
	printf("%ld tiles in %.3f s: %.0f tiles/s (%u)\n", n, t, n / t, sum & 1);
	openslide_close(o);
	free(buf);
	return 0;
}
