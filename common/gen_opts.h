/* gen_opts.h: the options report-gen(1) and vqa-train(1) share (data,
 * model, training, decoding, output), parsed in one place so the two
 * programs read and document them alike. Each program lists its own
 * options in its getopt table next to PFM_GEN_LONGOPTS and hands every
 * code it does not handle itself to pfm_gen_option. */
#ifndef PFM_GEN_OPTS_H
#define PFM_GEN_OPTS_H

#include <getopt.h>
#include <stdint.h>

#include "cli.h"
#include "io.h"

#define PFM_GEN_MAX_INPUTS 256

/* what the early stopping watches (higher is better except loss) */
enum {
	PFM_GEN_MON_LOSS, PFM_GEN_MON_BLEU4, PFM_GEN_MON_CIDER,
	PFM_GEN_MON_ROUGEL, PFM_GEN_MON_ACCURACY
};

typedef struct {
	/* data */
	const char *inputs[PFM_GEN_MAX_INPUTS];
	int ninputs;
	const char *emb;        /* emb.NAME; NULL: the only one */
	const char *splits_csv; /* id,split */
	double ratio[3];        /* seeded train:val:test split; 0: none */
	int strict;
	int max_tiles;          /* training bags subsampled to this; 0: all */
	/* tokenizer */
	int threshold;          /* words seen fewer times become <unk> */
	int max_len;            /* text tokens kept / generated */
	/* model */
	int width, enc_layers, dec_layers, heads, ff, region;
	double dropout;
	/* training */
	int epochs, batch, patience, min_epochs, monitor, threads;
	double lr, wd, clip, label_smoothing;
	uint64_t seed;
	/* decoding */
	int beam, no_repeat_ngram;
	double length_penalty, repetition_penalty;
	/* output */
	const char *output, *predictions, *save, *load, *log;
	const char *task, *model, *run_id;
	int boot, baseline;
	double ci;
	int quiet, progress;
	pfm_io_opts io;
} pfm_gen_opts;

enum {
	PFM_GEN_O_SPLITS = 0x2000, PFM_GEN_O_SPLIT, PFM_GEN_O_EMB,
	PFM_GEN_O_STRICT, PFM_GEN_O_MAXTILES, PFM_GEN_O_THRESHOLD,
	PFM_GEN_O_MAXLEN, PFM_GEN_O_WIDTH, PFM_GEN_O_LAYERS,
	PFM_GEN_O_DECLAYERS, PFM_GEN_O_HEADS, PFM_GEN_O_FF, PFM_GEN_O_REGION,
	PFM_GEN_O_DROPOUT, PFM_GEN_O_EPOCHS, PFM_GEN_O_BATCH,
	PFM_GEN_O_PATIENCE, PFM_GEN_O_MINEP, PFM_GEN_O_MONITOR, PFM_GEN_O_LR,
	PFM_GEN_O_WD, PFM_GEN_O_CLIP, PFM_GEN_O_SMOOTH, PFM_GEN_O_SEED,
	PFM_GEN_O_BEAM, PFM_GEN_O_NOREPEAT, PFM_GEN_O_LENPEN, PFM_GEN_O_PRED,
	PFM_GEN_O_SAVE, PFM_GEN_O_LOAD, PFM_GEN_O_LOG, PFM_GEN_O_TASK,
	PFM_GEN_O_MODEL, PFM_GEN_O_RUNID, PFM_GEN_O_BOOT, PFM_GEN_O_CI,
	PFM_GEN_O_BASELINE, PFM_GEN_O_PROGRESS, PFM_GEN_O_REPPEN
};

/* Both programs' shared long options (their short forms: -i -o -j -q
 * -h -V, in PFM_GEN_SHORTOPTS). */
#define PFM_GEN_SHORTOPTS "i:o:j:qhV"
#define PFM_GEN_LONGOPTS \
	{"input", required_argument, 0, 'i'}, \
	{"splits", required_argument, 0, PFM_GEN_O_SPLITS}, \
	{"split", required_argument, 0, PFM_GEN_O_SPLIT}, \
	{"emb", required_argument, 0, PFM_GEN_O_EMB}, \
	{"strict", no_argument, 0, PFM_GEN_O_STRICT}, \
	{"max-tiles", required_argument, 0, PFM_GEN_O_MAXTILES}, \
	{"threshold", required_argument, 0, PFM_GEN_O_THRESHOLD}, \
	{"max-len", required_argument, 0, PFM_GEN_O_MAXLEN}, \
	{"width", required_argument, 0, PFM_GEN_O_WIDTH}, \
	{"layers", required_argument, 0, PFM_GEN_O_LAYERS}, \
	{"heads", required_argument, 0, PFM_GEN_O_HEADS}, \
	{"ff", required_argument, 0, PFM_GEN_O_FF}, \
	{"region", required_argument, 0, PFM_GEN_O_REGION}, \
	{"dropout", required_argument, 0, PFM_GEN_O_DROPOUT}, \
	{"epochs", required_argument, 0, PFM_GEN_O_EPOCHS}, \
	{"batch", required_argument, 0, PFM_GEN_O_BATCH}, \
	{"patience", required_argument, 0, PFM_GEN_O_PATIENCE}, \
	{"min-epochs", required_argument, 0, PFM_GEN_O_MINEP}, \
	{"monitor", required_argument, 0, PFM_GEN_O_MONITOR}, \
	{"lr", required_argument, 0, PFM_GEN_O_LR}, \
	{"wd", required_argument, 0, PFM_GEN_O_WD}, \
	{"clip", required_argument, 0, PFM_GEN_O_CLIP}, \
	{"label-smoothing", required_argument, 0, PFM_GEN_O_SMOOTH}, \
	{"seed", required_argument, 0, PFM_GEN_O_SEED}, \
	{"threads", required_argument, 0, 'j'}, \
	{"output", required_argument, 0, 'o'}, \
	{"predictions", required_argument, 0, PFM_GEN_O_PRED}, \
	{"save", required_argument, 0, PFM_GEN_O_SAVE}, \
	{"load", required_argument, 0, PFM_GEN_O_LOAD}, \
	{"log", required_argument, 0, PFM_GEN_O_LOG}, \
	{"task", required_argument, 0, PFM_GEN_O_TASK}, \
	{"model", required_argument, 0, PFM_GEN_O_MODEL}, \
	{"run-id", required_argument, 0, PFM_GEN_O_RUNID}, \
	{"bootstrap", required_argument, 0, PFM_GEN_O_BOOT}, \
	{"ci", required_argument, 0, PFM_GEN_O_CI}, \
	{"baseline", no_argument, 0, PFM_GEN_O_BASELINE}, \
	PFM_LONGOPT_MAX_FRAME, PFM_LONGOPT_HWM, PFM_LONGOPT_TIMEOUT, \
	PFM_LONGOPT_LENIENT, PFM_LONGOPT_FORCE, PFM_LONGOPTS_CURVE, \
	{"progress", no_argument, 0, PFM_GEN_O_PROGRESS}, \
	{"quiet", no_argument, 0, 'q'}, \
	{"help", no_argument, 0, 'h'}, \
	{"version", no_argument, 0, 'V'}
/* the decoder's options (report-gen; vqa-train with --generate) */
#define PFM_GEN_LONGOPTS_DECODE \
	{"dec-layers", required_argument, 0, PFM_GEN_O_DECLAYERS}, \
	{"beam", required_argument, 0, PFM_GEN_O_BEAM}, \
	{"no-repeat-ngram", required_argument, 0, PFM_GEN_O_NOREPEAT}, \
	{"length-penalty", required_argument, 0, PFM_GEN_O_LENPEN}, \
	{"repetition-penalty", required_argument, 0, PFM_GEN_O_REPPEN}

/* The end of both programs' --help: transport and general options. */
#define PFM_GEN_USAGE_TAIL \
"      --max-frame SIZE    largest frame accepted (default 256M)\n" \
"      --hwm N             ZeroMQ high-water mark in frames (default 4)\n" \
"      --timeout SEC       ZeroMQ: fail when no frame moves for SEC seconds\n" \
"      --lenient           accept input without an end-of-stream frame\n" \
"      --force             write frames even to a terminal\n" \
PFM_HELP_CURVE \
"      --progress          progress on stderr even when not a terminal\n" \
"  -q, --quiet             no progress line\n" \
"  -h, --help              show this help and exit\n" \
"  -V, --version           show the version and exit\n" \
"\n" \
"Exit status: 0 ok, 1 bad data or I/O error, 2 usage error.\n"

/* monitors: names in order of PFM_GEN_MON_* */
extern const char *const pfm_gen_monitor_name[];

/* Apply shared option c (value arg) to o: 0; 1 for --help / --version
 * (printed; main exits 0); PFM_EXIT_USAGE after a message naming the
 * option and value. usage: the program's --help text. Monitors other
 * than those allowed (a bit mask of 1 << PFM_GEN_MON_*) are refused. */
int pfm_gen_option(pfm_gen_opts *o, int c, const char *arg,
		   const char *usage, unsigned monitors);
/* After the options: the positional inputs (default "-") and the checks
 * of option pairs both programs share. 0, or PFM_EXIT_USAGE after a
 * message. */
int pfm_gen_finish(pfm_gen_opts *o, int argc, char **argv, int first);
/* A run id hashed from the program and its arguments, as mil-train's. */
void pfm_gen_run_id(char *buf, size_t n, const char *prog, int argc,
		    char **argv);

#endif
