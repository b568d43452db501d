/* gen_opts.c: parsing of the options report-gen and vqa-train share. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gen_opts.h"

const char *const pfm_gen_monitor_name[] = {"loss", "bleu4", "cider", "rougeL",
					    "accuracy"};

static int num(const char *s, double lo, double hi, double *v)
{
	char *end;
	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end || !isfinite(*v) || *v < lo || *v > hi ? -1 : 0;
}

static int count(const char *s, int lo, int hi, int *v)
{
	int64_t x;
	if (pfm_parse_i64(s, &x) || x < lo || x > hi)
		return -1;
	*v = (int)x;
	return 0;
}

/* Numeric options: code, integer or not, lowest, highest, where it
 * goes, what it is. */
typedef struct {
	int code, is_int;
	double lo, hi;
	size_t off;
	const char *name, *what;
} num_opt;

#define I_(c, lo, hi, f, n, w) {c, 1, lo, hi, offsetof(pfm_gen_opts, f), n, w}
#define D_(c, lo, hi, f, n, w) {c, 0, lo, hi, offsetof(pfm_gen_opts, f), n, w}
static const num_opt num_opts[] = {
	I_(PFM_GEN_O_MAXTILES, 0, 1 << 24, max_tiles, "max-tiles", "a tile count"),
	I_(PFM_GEN_O_THRESHOLD, 1, 1 << 30, threshold, "threshold", "a positive count"),
	I_(PFM_GEN_O_MAXLEN, 1, 4096, max_len, "max-len", "a token count (1-4096)"),
	I_(PFM_GEN_O_WIDTH, 1, 1 << 14, width, "width", "a width"),
	I_(PFM_GEN_O_LAYERS, 0, 64, enc_layers, "layers", "a layer count (0-64)"),
	I_(PFM_GEN_O_DECLAYERS, 1, 64, dec_layers, "dec-layers", "a layer count (1-64)"),
	I_(PFM_GEN_O_HEADS, 1, 256, heads, "heads", "a head count"),
	I_(PFM_GEN_O_FF, 1, 1 << 16, ff, "ff", "a width"),
	I_(PFM_GEN_O_REGION, 0, 1 << 20, region, "region", "a tile count"),
	I_(PFM_GEN_O_EPOCHS, 0, 1000000, epochs, "epochs", "a count"),
	I_(PFM_GEN_O_BATCH, 1, 1 << 20, batch, "batch", "a positive count"),
	I_(PFM_GEN_O_PATIENCE, 0, 1000000, patience, "patience", "a count"),
	I_(PFM_GEN_O_MINEP, 0, 1000000, min_epochs, "min-epochs", "a count"),
	I_(PFM_GEN_O_BEAM, 1, 64, beam, "beam", "a beam width (1-64)"),
	I_(PFM_GEN_O_NOREPEAT, 0, 64, no_repeat_ngram, "no-repeat-ngram", "an n-gram size (0-64)"),
	I_(PFM_GEN_O_BOOT, 1, 10000000, boot, "bootstrap", "a number of replicates"),
	I_('j', 1, 1024, threads, "threads", "a thread count"),
	D_(PFM_GEN_O_DROPOUT, 0, 0.999, dropout, "dropout", "a probability in [0, 1)"),
	D_(PFM_GEN_O_LR, 1e-30, 1e30, lr, "lr", "a positive number"),
	D_(PFM_GEN_O_WD, 0, 1e30, wd, "wd", "a non-negative number"),
	D_(PFM_GEN_O_CLIP, 0, 1e30, clip, "clip", "a non-negative norm (0: off)"),
	D_(PFM_GEN_O_SMOOTH, 0, 0.999, label_smoothing, "label-smoothing", "a value in [0, 1)"),
	D_(PFM_GEN_O_LENPEN, -10, 10, length_penalty, "length-penalty", "an exponent in [-10, 10]"),
	D_(PFM_GEN_O_REPPEN, 1e-3, 1e3, repetition_penalty, "repetition-penalty", "a factor in [0.001, 1000] (1: off)"),
	D_(PFM_GEN_O_CI, 1e-9, 1 - 1e-9, ci, "ci", "a level in (0, 1)"),
};

int pfm_gen_option(pfm_gen_opts *o, int c, const char *arg, const char *usage,
		   unsigned monitors)
{
	for (size_t i = 0; i < sizeof num_opts / sizeof *num_opts; i++) {
		const num_opt *p = &num_opts[i];
		if (p->code != c)
			continue;
		void *at = (char *)o + p->off;
		int bad = p->is_int ? count(arg, (int)p->lo, (int)p->hi, at) : num(arg, p->lo, p->hi, at);
		return bad ? pfm_usage_fail("--%s: not %s: '%s'", p->name, p->what, arg) : 0;
	}
	switch (c) {
	case 'i':
		if (o->ninputs == PFM_GEN_MAX_INPUTS)
			return pfm_usage_fail("too many inputs");
		o->inputs[o->ninputs++] = arg;
		return 0;
	case PFM_GEN_O_SPLITS: o->splits_csv = arg; return 0;
	case PFM_GEN_O_SPLIT: {
		double *r = o->ratio;
		char tail;
		if (sscanf(arg, "%lf:%lf:%lf%c", &r[0], &r[1], &r[2], &tail) != 3 ||
		    !(r[0] > 0) || !(r[1] >= 0) || !(r[2] > 0) || !isfinite(r[0] + r[1] + r[2]))
			return pfm_usage_fail("--split: train:val:test ratios like 7:1:2, not '%s'", arg);
		return 0;
	}
	case PFM_GEN_O_EMB: o->emb = arg; return 0;
	case PFM_GEN_O_STRICT: o->strict = 1; return 0;
	case PFM_GEN_O_MONITOR:
		for (int m = 0; m <= PFM_GEN_MON_ACCURACY; m++)
			if ((monitors >> m & 1) && !strcmp(arg, pfm_gen_monitor_name[m])) {
				o->monitor = m;
				return 0;
			}
		{
			char list[128] = "";
			for (int m = 0; m <= PFM_GEN_MON_ACCURACY; m++)
				if (monitors >> m & 1)
					snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
						 *list ? ", " : "", pfm_gen_monitor_name[m]);
			return pfm_usage_fail("--monitor: one of %s, not '%s'", list, arg);
		}
	case PFM_GEN_O_SEED: {
		int64_t v;
		if (pfm_parse_i64(arg, &v) || v < 0)
			return pfm_usage_fail("--seed: not a non-negative integer: '%s'", arg);
		o->seed = (uint64_t)v;
		return 0;
	}
	case 'o': o->output = arg; return 0;
	case PFM_GEN_O_PRED: o->predictions = arg; return 0;
	case PFM_GEN_O_SAVE: o->save = arg; return 0;
	case PFM_GEN_O_LOAD: o->load = arg; return 0;
	case PFM_GEN_O_LOG: o->log = arg; return 0;
	case PFM_GEN_O_TASK: o->task = arg; return 0;
	case PFM_GEN_O_MODEL: o->model = arg; return 0;
	case PFM_GEN_O_RUNID: o->run_id = arg; return 0;
	case PFM_GEN_O_BASELINE: o->baseline = 1; return 0;
	case PFM_GEN_O_PROGRESS: o->progress = 1; return 0;
	case 'q': o->quiet = 1; return 0;
	case 'h': fputs(usage, stdout); return 1;
	case 'V': pfm_print_version(); return 1;
	default: return pfm_io_option(c, arg, &o->io);
	}
}

int pfm_gen_finish(pfm_gen_opts *o, int argc, char **argv, int first)
{
	for (int i = first; i < argc; i++) {
		if (o->ninputs == PFM_GEN_MAX_INPUTS)
			return pfm_usage_fail("too many inputs");
		o->inputs[o->ninputs++] = argv[i];
	}
	if (!o->ninputs)
		o->inputs[o->ninputs++] = "-";
	if (!o->epochs && !o->load)
		return pfm_usage_fail("--epochs 0 needs --load (a model to evaluate)");
	if (o->width % o->heads)
		return pfm_usage_fail("--width %d is not a multiple of --heads %d", o->width, o->heads);
	int rc = pfm_io_check_list(&o->io, o->inputs, o->ninputs, 0);
	if (!rc)
		rc = pfm_io_check(&o->io, o->output, 1);
	if (!rc)
		rc = pfm_io_check(&o->io, o->log, 1);
	return rc;
}

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
}

void pfm_gen_run_id(char *buf, size_t n, const char *prog, int argc, char **argv)
{
	uint64_t h = fnv(0xcbf29ce484222325ull, prog);
	for (int i = 1; i < argc; i++)
		h = fnv(h, argv[i]);
	snprintf(buf, n, "%016llx", (unsigned long long)h);
}
