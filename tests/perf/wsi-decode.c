/* wsi-decode: the ceiling, a bare loop over level 0's stored tiles:
 * TIFFReadRawTile, JPEGTables spliced in, tjDecompress2 to RGB, as tiles
 * per second. Usage: wsi-decode SLIDE [MAX] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <time.h>
#include <turbojpeg.h>

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
	long max = argc > 2 ? atol(argv[2]) : -1;
	TIFF *t = TIFFOpen(argv[1], "r");
	if (!t)
		return 1;
	uint32_t tw, th, ntab = 0;
	void *tab = NULL;
	TIFFGetField(t, TIFFTAG_TILEWIDTH, &tw);
	TIFFGetField(t, TIFFTAG_TILELENGTH, &th);
	TIFFGetField(t, TIFFTAG_JPEGTABLES, &ntab, &tab);
	/* Stream: the tables without their EOI, then the tile without its SOI. */
	size_t head = ntab > 4 ? ntab - 2 : 0;
	size_t cap = (size_t)8 << 20;
	uint8_t *tile = malloc(cap), *jpeg = malloc(cap + head);
	uint8_t *rgb = malloc((size_t)tw * th * 3);
	if (head)
		memcpy(jpeg, tab, head);
	tjhandle tj = tjInitDecompress();
	long n = 0, total = (long)TIFFNumberOfTiles(t);
	unsigned sum = 0;
	double t0 = now();
	for (long i = 0; i < total && n != max; i++, n++) {
		tmsize_t len = TIFFReadRawTile(t, (uint32_t)i, tile, (tmsize_t)cap);
		if (len < 4)
			return 1;
		const uint8_t *src = tile;
		size_t sn = (size_t)len;
		if (head) {
			memcpy(jpeg + head, tile + 2, sn - 2);
			src = jpeg;
			sn = head + sn - 2;
		}
		if (tjDecompress2(tj, src, sn, rgb, (int)tw, 0, (int)th, TJPF_RGB, 0))
			return 1;
		sum += rgb[i % (tw * th)];
	}
	double s = now() - t0;
	printf("%ld tiles in %.3f s: %.0f tiles/s (%u)\n", n, s, n / s, sum & 1);
	tjDestroy(tj);
	TIFFClose(t);
	free(tile);
	free(jpeg);
	free(rgb);
	return 0;
}
