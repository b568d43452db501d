/* cat.h: frame-cat's operations (inspect, convert, select, validate). */
#ifndef PFM_CAT_H
#define PFM_CAT_H

#include <stdint.h>

#include "io.h"

#define PFM_CAT_MAX_TYPES 16

typedef struct {
	const char **inputs; /* endpoint specs; one "-" by default */
	int ninputs;
	const char *output;
	int to_frames;       /* write frames instead of JSON lines */
	int from_json;       /* inputs are JSON lines */
	int full;            /* JSON: base64 payloads */
	int show_eos;        /* JSON: print eos frames too */
	int count;           /* print the number of selected frames */
	int check;           /* validate against schemas */
	const char *schema_dir;
	const char *types[PFM_CAT_MAX_TYPES];
	int ntypes;
	int64_t head, tail;  /* -1: all */
	double rate;         /* at most this many frames a second; 0: no limit */
	int progress, quiet;
	pfm_io_opts io;
} pfm_cat_opts;

/* Run frame-cat. 0 ok; 1 data error (message in e); when the output
 * reader went away, 0 with e->code == EPIPE. Invalid frames under
 * --check are reported through warn() and make the result 1. */
int pfm_cat_run(const pfm_cat_opts *o, void (*warn)(const char *, ...),
		pfm_err *e);

#endif
