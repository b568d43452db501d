/* mil-train: slide-level attention-MIL heads (ABMIL, mean/max pooling)
 * on frozen embeddings, trained and evaluated per fold and run; result
 * frames for rank-stats. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "gemm.h"
#include "cli_list.h"
#include "io.h"
#include "mil.h"

static const char usage[] =
"Usage: mil-train [OPTION]... -l LABELS [INPUT]...\n"
"Train slide-level heads on embedding frames grouped by slide_id into bags\n"
"(ABMIL, mean or max pooling; classification or survival), evaluate each\n"
"fold and run on its test split, write result frames (for rank-stats).\n"
"INPUT: -, a frame file, a directory of frame files or a ZeroMQ endpoint\n"
"(default -).\n"
"\n"
"Data:\n"
"  -i, --input SPEC        embedding frames (as an INPUT argument)\n"
"  -l, --labels CSV        slide_id,label[,case_id] or slide_id,time,event[,case_id]\n"
"      --splits CSV        fold,slide_id,split (train, val or test)\n"
"  -k, --folds K           stratified K-fold by case: fold k is the test set\n"
"      --val-frac F        with --folds: validation share of the other cases (0.1)\n"
"      --split R           one stratified train:val:test split by case (e.g. 7:1:2)\n"
"      --emb NAME          use emb.NAME (default: the only embedding)\n"
"      --classes LIST      class labels in order (default: sorted labels)\n"
"      --survival          a survival task (default when the labels have time\n"
"                          and event and no label column)\n"
"      --bins N            survival: quantile bins of event times (4)\n"
"      --alpha A           survival: weight of the uncensored term (0)\n"
"      --strict            slides with embeddings but no label, labels but no\n"
"                          embeddings, or splits naming unknown slides, are\n"
"                          errors (default: listed)\n"
"Model:\n"
"  -m, --head NAME         abmil (GPFM, default), abmil-gated, eva, mean, max\n"
"      --proj N            projection width (0: none)\n"
"      --no-relu           no ReLU after the projection\n"
"      --attn N            attention width\n"
"      --gated, --no-gated gated attention or not\n"
"      --mlp LIST          hidden widths of the classifier (e.g. 128,64; none)\n"
"      --dropout P         dropout after the projection\n"
"      --init-scheme S     xavier or torch initial weights\n"
"      --init FILE         initial weights (raw float32, see mil-train(1))\n"
"Training:\n"
"      --optim O           adam or adamw\n"
"      --lr LR             learning rate\n"
"      --wd WD             weight decay\n"
"      --epochs N          maximum epochs (20)\n"
"      --patience N        stop after N epochs without improvement (5; 0: off)\n"
"      --min-epochs N      never stop before N epochs (5)\n"
"      --monitor M         early stopping on val loss, error or auc (loss)\n"
"      --weighted          class-weighted sampling\n"
"      --batch B           bags per optimizer step\n"
"      --max-tiles N       sample at most N tiles of a bag per training step\n"
"      --runs N            repeat with seeds S, S+1, ... (1)\n"
"      --seed S            seed (0)\n"
"      --no-shuffle        train in the order of the labels file\n"
"  -j, --threads N         threads of the matrix products (default: the CPUs)\n"
"      --precision P       fp32 (default) or bf16: the projection's and the\n"
"                          attention's products with bf16 operands, summed in\n"
"                          fp32 (about 2x faster where the CPU has AVX512-BF16);\n"
"                          with a projection, the embeddings are kept in bf16\n"
"Output:\n"
"  -o, --output SPEC       result frames (default -)\n"
"      --predictions SPEC  a prediction frame per test slide (with attention)\n"
"      --log SPEC          training curves as metric frames\n"
"      --log-steps         also a metric frame per optimizer step\n"
"      --save PREFIX       trained weights to PREFIX-foldF-runR.f32\n"
"      --task NAME         task name (default: the labels file's name)\n"
"      --model NAME        model name in results (default: the embedding's)\n"
"      --run-id ID         run id in results (default: a hash of the arguments)\n"
"      --bootstrap N       N bootstrap replicates: confidence intervals\n"
"      --ci LEVEL          bootstrap confidence level (0.95)\n"
"      --heatmap DIR       attention heatmaps of test slides (PNG)\n"
"      --slides FILE       slide paths for the heatmaps (slide_id,path CSV)\n"
"      --max-frame SIZE    largest frame accepted (default 256M)\n"
"      --hwm N             ZeroMQ high-water mark in frames (default 4)\n"
"      --timeout SEC       ZeroMQ: fail when no frame moves for SEC seconds\n"
"      --lenient           accept input without an end-of-stream frame\n"
"      --force             write frames even to a terminal\n"
PFM_HELP_CURVE
"      --progress          progress on stderr even when not a terminal\n"
"  -q, --quiet             no progress line\n"
"  -h, --help              show this help and exit\n"
"  -V, --version           show the version and exit\n"
"\n"
"Exit status: 0 ok, 1 bad data or I/O error, 2 usage error.\n"
"Examples:\n"
"  mil-train -l labels.csv -k 5 feats/ | rank-stats -m auroc\n"
"  mil-train -l surv.csv --splits splits.csv -m abmil-gated --bootstrap 1000 feats/\n"
"  mil-train -l labels.csv --split 7:1:2 --heatmap maps --slides slides.csv feats.mpk\n"
"See mil-train(1), probe(1), rank-stats(1).\n";

enum { O_SPLITS = 256, O_VALFRAC, O_SPLIT, O_EMB, O_CLASSES, O_SURV, O_BINS,
       O_ALPHA, O_STRICT, O_PROJ, O_NORELU, O_ATTN, O_GATED, O_NOGATED, O_MLP,
       O_DROPOUT, O_INITS, O_INIT, O_OPTIM, O_LR, O_WD, O_EPOCHS, O_PATIENCE,
       O_MINEP, O_MONITOR, O_WEIGHTED, O_BATCH, O_MAXTILES, O_RUNS, O_SEED,
       O_NOSHUF, O_PRED, O_LOG, O_LOGSTEPS, O_SAVE, O_TASK, O_MODEL, O_RUNID,
       O_BOOT, O_CI, O_HEAT, O_SLIDES, O_PROGRESS, O_PRECISION };

static const struct option longopts[] = {
	{"input", required_argument, 0, 'i'},
	{"labels", required_argument, 0, 'l'},
	{"splits", required_argument, 0, O_SPLITS},
	{"folds", required_argument, 0, 'k'},
	{"val-frac", required_argument, 0, O_VALFRAC},
	{"split", required_argument, 0, O_SPLIT},
	{"emb", required_argument, 0, O_EMB},
	{"classes", required_argument, 0, O_CLASSES},
	{"survival", no_argument, 0, O_SURV},
	{"bins", required_argument, 0, O_BINS},
	{"alpha", required_argument, 0, O_ALPHA},
	{"strict", no_argument, 0, O_STRICT},
	{"head", required_argument, 0, 'm'},
	{"proj", required_argument, 0, O_PROJ},
	{"no-relu", no_argument, 0, O_NORELU},
	{"attn", required_argument, 0, O_ATTN},
	{"gated", no_argument, 0, O_GATED},
	{"no-gated", no_argument, 0, O_NOGATED},
	{"mlp", required_argument, 0, O_MLP},
	{"dropout", required_argument, 0, O_DROPOUT},
	{"init-scheme", required_argument, 0, O_INITS},
	{"init", required_argument, 0, O_INIT},
	{"optim", required_argument, 0, O_OPTIM},
	{"lr", required_argument, 0, O_LR},
	{"wd", required_argument, 0, O_WD},
	{"epochs", required_argument, 0, O_EPOCHS},
	{"patience", required_argument, 0, O_PATIENCE},
	{"min-epochs", required_argument, 0, O_MINEP},
	{"monitor", required_argument, 0, O_MONITOR},
	{"weighted", no_argument, 0, O_WEIGHTED},
	{"batch", required_argument, 0, O_BATCH},
	{"max-tiles", required_argument, 0, O_MAXTILES},
	{"runs", required_argument, 0, O_RUNS},
	{"seed", required_argument, 0, O_SEED},
	{"no-shuffle", no_argument, 0, O_NOSHUF},
	{"threads", required_argument, 0, 'j'},
	{"precision", required_argument, 0, O_PRECISION},
	{"output", required_argument, 0, 'o'},
	{"predictions", required_argument, 0, O_PRED},
	{"log", required_argument, 0, O_LOG},
	{"log-steps", no_argument, 0, O_LOGSTEPS},
	{"save", required_argument, 0, O_SAVE},
	{"task", required_argument, 0, O_TASK},
	{"model", required_argument, 0, O_MODEL},
	{"run-id", required_argument, 0, O_RUNID},
	{"bootstrap", required_argument, 0, O_BOOT},
	{"ci", required_argument, 0, O_CI},
	{"heatmap", required_argument, 0, O_HEAT},
	{"slides", required_argument, 0, O_SLIDES},
	PFM_LONGOPT_MAX_FRAME,
	PFM_LONGOPT_HWM,
	PFM_LONGOPT_TIMEOUT,
	PFM_LONGOPT_LENIENT,
	PFM_LONGOPT_FORCE,
	PFM_LONGOPTS_CURVE,
	{"progress", no_argument, 0, O_PROGRESS},
	{"quiet", no_argument, 0, 'q'},
	{"help", no_argument, 0, 'h'},
	{"version", no_argument, 0, 'V'},
	{0, 0, 0, 0},
};

/* Options the user set explicitly override the head's preset. */
typedef struct {
	int proj, relu, attn, gated, nmlp, mlp[PFM_MIL_MAX_MLP], init, optim, batch;
	double dropout, lr, wd;
} preset;

static int head_preset(const char *name, preset *p, int *pool)
{
	/* GPFM / CLAM: Linear d->512, ReLU, dropout 0.25, attention
	 * 512->128->1, Linear 512->C; Adam 2e-4, weight decay 1e-5 */
	*p = (preset){512, 1, 128, 0, 0, {0}, PFM_INIT_XAVIER, 0, 1, 0.25, 2e-4, 1e-5};
	*pool = PFM_POOL_ATTN;
	if (!strcmp(name, "abmil"))
		return 0;
	if (!strcmp(name, "abmil-gated")) {
		p->gated = 1;
		return 0;
	}
	if (!strcmp(name, "mean") || !strcmp(name, "max")) {
		*pool = name[1] == 'e' ? PFM_POOL_MEAN : PFM_POOL_MAX;
		return 0;
	}
	if (!strcmp(name, "eva")) {
		/* eva's ABMIL: Linear d->128, gated attention 128->128->1,
		 * MLP 128->128->64->C; AdamW 1e-3 (weight decay 0.01),
		 * batches of 32 bags */
		*p = (preset){128, 0, 128, 1, 2, {128, 64}, PFM_INIT_TORCH, 1, 32, 0, 1e-3, 1e-2};
		return 0;
	}
	return -1;
}

static int parse_d(const char *s, double *v)
{
	char *end;
	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end || !isfinite(*v) ? -1 : 0;
}

static int parse_int(const char *s, int lo, int hi, int *v)
{
	int64_t x;
	if (pfm_parse_i64(s, &x) || x < lo || x > hi)
		return -1;
	*v = (int)x;
	return 0;
}

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
}

int main(int argc, char **argv)
{
	pfm_cli_init(argv[0]);
	static const char *inputs[256];
	int ninputs = 0, c, folds = 0, strict = 0, survival = 0, quiet = 0, force_prog = 0;
	int threads = 0, nbins = 4;
	double val_frac = 0.1, ratio[3] = {0}, alpha = 0;
	const char *labels = NULL, *splits_csv = NULL, *classes = NULL, *head = "abmil";
	const char *output = "-", *pred_spec = NULL, *log_spec = NULL, *slides_file = NULL;
	const char *emb = NULL, *task = NULL, *model = NULL, *run_id = NULL;
	pfm_io_opts io = {0};
	pfm_mil_run_opts o = {.epochs = 20, .patience = 5, .min_epochs = 5, .runs = 1,
			      .shuffle = 1, .ci = 0.95, .monitor = PFM_MONITOR_LOSS};
	/* explicit settings: -1 = from the preset */
	int s_proj = -1, s_relu = -1, s_attn = -1, s_gated = -1, s_nmlp = -1, s_init = -1;
	int s_optim = -1, s_batch = -1, s_mlp[PFM_MIL_MAX_MLP];
	double s_drop = -1, s_lr = -1, s_wd = -1;
	while ((c = getopt_long(argc, argv, "i:l:k:m:j:o:qhV", longopts, 0)) != -1) {
		double v;
		switch (c) {
		case 'i':
			if (ninputs == 256)
				return pfm_usage_fail("too many inputs");
			inputs[ninputs++] = optarg;
			break;
		case 'l': labels = optarg; break;
		case O_SPLITS: splits_csv = optarg; break;
		case 'k':
			if (parse_int(optarg, 2, 1000, &folds))
				return pfm_usage_fail("--folds: not a number of folds (2-1000): '%s'", optarg);
			break;
		case O_VALFRAC:
			if (parse_d(optarg, &val_frac) || val_frac < 0 || val_frac >= 1)
				return pfm_usage_fail("--val-frac: not a fraction in [0, 1): '%s'", optarg);
			break;
		case O_SPLIT:
			if (sscanf(optarg, "%lf:%lf:%lf", &ratio[0], &ratio[1], &ratio[2]) != 3 ||
			    !(ratio[0] > 0) || !(ratio[1] >= 0) || !(ratio[2] > 0))
				return pfm_usage_fail("--split: train:val:test ratios like 7:1:2, not '%s'", optarg);
			break;
		case O_EMB: emb = optarg; break;
		case O_CLASSES: classes = optarg; break;
		case O_SURV: survival = 1; break;
		case O_BINS:
			if (parse_int(optarg, 1, 64, &nbins))
				return pfm_usage_fail("--bins: not a number of bins (1-64): '%s'", optarg);
			break;
		case O_ALPHA:
			if (parse_d(optarg, &alpha) || alpha < 0 || alpha > 1)
				return pfm_usage_fail("--alpha: not in [0, 1]: '%s'", optarg);
			break;
		case O_STRICT: strict = 1; break;
		case 'm': head = optarg; break;
		case O_PROJ:
			if (parse_int(optarg, 0, 1 << 16, &s_proj))
				return pfm_usage_fail("--proj: not a width: '%s'", optarg);
			break;
		case O_NORELU: s_relu = 0; break;
		case O_ATTN:
			if (parse_int(optarg, 1, 1 << 16, &s_attn))
				return pfm_usage_fail("--attn: not a width: '%s'", optarg);
			break;
		case O_GATED: s_gated = 1; break;
		case O_NOGATED: s_gated = 0; break;
		case O_MLP:
			s_nmlp = 0;
			if (strcmp(optarg, "none")) {
				char *copy = strdup(optarg), *save = NULL;
				for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
					if (s_nmlp == PFM_MIL_MAX_MLP || parse_int(t, 1, 1 << 16, &s_mlp[s_nmlp])) {
						free(copy);
						return pfm_usage_fail("--mlp: up to %d widths like 128,64, or none: '%s'",
								      PFM_MIL_MAX_MLP, optarg);
					}
					s_nmlp++;
				}
				free(copy);
			}
			break;
		case O_PRECISION:
			if (strcmp(optarg, "fp32") && strcmp(optarg, "bf16"))
				return pfm_usage_fail("--precision: fp32 or bf16, not '%s'", optarg);
			o.model.bf16 = !strcmp(optarg, "bf16");
			if (o.model.bf16 && !pfm_gemm_bf16_available())
				return pfm_usage_fail("--precision bf16: needs a build with oneDNN "
						      "(libdnnl-dev) and an AVX-512 CPU");
			break;
		case O_DROPOUT:
			if (parse_d(optarg, &s_drop) || s_drop < 0 || s_drop >= 1)
				return pfm_usage_fail("--dropout: not a probability in [0, 1): '%s'", optarg);
			break;
		case O_INITS:
			if (!strcmp(optarg, "xavier"))
				s_init = PFM_INIT_XAVIER;
			else if (!strcmp(optarg, "torch"))
				s_init = PFM_INIT_TORCH;
			else
				return pfm_usage_fail("--init-scheme: xavier or torch, not '%s'", optarg);
			break;
		case O_INIT: o.init = optarg; break;
		case O_OPTIM:
			if (!strcmp(optarg, "adam"))
				s_optim = 0;
			else if (!strcmp(optarg, "adamw"))
				s_optim = 1;
			else
				return pfm_usage_fail("--optim: adam or adamw, not '%s'", optarg);
			break;
		case O_LR:
			if (parse_d(optarg, &s_lr) || !(s_lr > 0))
				return pfm_usage_fail("--lr: not a positive number: '%s'", optarg);
			break;
		case O_WD:
			if (parse_d(optarg, &s_wd) || s_wd < 0)
				return pfm_usage_fail("--wd: not a non-negative number: '%s'", optarg);
			break;
		case O_EPOCHS:
			if (parse_int(optarg, 1, 1000000, &o.epochs))
				return pfm_usage_fail("--epochs: not a positive count: '%s'", optarg);
			break;
		case O_PATIENCE:
			if (parse_int(optarg, 0, 1000000, &o.patience))
				return pfm_usage_fail("--patience: not a count: '%s'", optarg);
			break;
		case O_MINEP:
			if (parse_int(optarg, 0, 1000000, &o.min_epochs))
				return pfm_usage_fail("--min-epochs: not a count: '%s'", optarg);
			break;
		case O_MONITOR:
			if (!strcmp(optarg, "loss"))
				o.monitor = PFM_MONITOR_LOSS;
			else if (!strcmp(optarg, "error"))
				o.monitor = PFM_MONITOR_ERROR;
			else if (!strcmp(optarg, "auc"))
				o.monitor = PFM_MONITOR_AUC;
			else
				return pfm_usage_fail("--monitor: loss, error or auc, not '%s'", optarg);
			break;
		case O_WEIGHTED: o.weighted = 1; break;
		case O_BATCH:
			if (parse_int(optarg, 1, 1 << 20, &s_batch))
				return pfm_usage_fail("--batch: not a positive count: '%s'", optarg);
			break;
		case O_MAXTILES:
			if (parse_int(optarg, 0, 1 << 24, &o.max_tiles))
				return pfm_usage_fail("--max-tiles: not a count: '%s'", optarg);
			break;
		case O_RUNS:
			if (parse_int(optarg, 1, 100000, &o.runs))
				return pfm_usage_fail("--runs: not a positive count: '%s'", optarg);
			break;
		case O_SEED: {
			int64_t sv;
			if (pfm_parse_i64(optarg, &sv) || sv < 0)
				return pfm_usage_fail("--seed: not a non-negative integer: '%s'", optarg);
			o.seed = (uint64_t)sv;
			break;
		}
		case O_NOSHUF: o.shuffle = 0; break;
		case 'j':
			if (parse_int(optarg, 1, 1024, &threads))
				return pfm_usage_fail("--threads: not a thread count: '%s'", optarg);
			break;
		case 'o': output = optarg; break;
		case O_PRED: pred_spec = optarg; break;
		case O_LOG: log_spec = optarg; break;
		case O_LOGSTEPS: o.log_steps = 1; break;
		case O_SAVE: o.save = optarg; break;
		case O_TASK: task = optarg; break;
		case O_MODEL: model = optarg; break;
		case O_RUNID: run_id = optarg; break;
		case O_BOOT:
			if (parse_int(optarg, 1, 10000000, &o.boot))
				return pfm_usage_fail("--bootstrap: not a number of replicates: '%s'", optarg);
			break;
		case O_CI:
			if (parse_d(optarg, &v) || !(v > 0 && v < 1))
				return pfm_usage_fail("--ci: not a level in (0, 1): '%s'", optarg);
			o.ci = v;
			break;
		case O_HEAT: o.heatmap_dir = optarg; break;
		case O_SLIDES: slides_file = optarg; break;
		case O_PROGRESS: force_prog = 1; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': pfm_print_version(); return 0;
		default: {
			int rc = pfm_io_option(c, optarg, &io);
			if (rc)
				return rc;
		}
		}
	}
	for (; optind < argc; optind++) {
		if (ninputs == 256)
			return pfm_usage_fail("too many inputs");
		inputs[ninputs++] = argv[optind];
	}
	if (!ninputs)
		inputs[ninputs++] = "-";
	int crc = pfm_io_check_list(&io, inputs, ninputs, 0);
	if (crc || (crc = pfm_io_check(&io, output, 1)) ||
	    (crc = pfm_io_check(&io, pred_spec, 1)) ||
	    (crc = pfm_io_check(&io, log_spec, 1)))
		return crc;
	if (!labels)
		return pfm_usage_fail("no labels: give -l LABELS.csv");
	if (!!splits_csv + !!folds + (ratio[0] > 0) != 1)
		return pfm_usage_fail("give exactly one of --splits, --folds and --split");
	if (o.heatmap_dir && !slides_file)
		return pfm_usage_fail("--heatmap needs --slides (the slide paths)");
	static const char no_error[] = "--monitor error needs a classification task, "
				       "not survival: monitor loss or auc (the c-index)";
	if (survival && o.monitor == PFM_MONITOR_ERROR)
		return pfm_usage_fail("%s", no_error);
	preset p;
	int pool;
	if (head_preset(head, &p, &pool))
		return pfm_usage_fail("--head: abmil, abmil-gated, eva, mean or max, not '%s'", head);
	if (pool != PFM_POOL_ATTN && (s_attn >= 0 || s_gated >= 0))
		return pfm_usage_fail("--attn and --gated apply to attention heads, not '%s'", head);
	pfm_mil_config *mc = &o.model;
	mc->proj = s_proj >= 0 ? s_proj : p.proj;
	mc->proj_relu = s_relu >= 0 ? s_relu : p.relu;
	mc->pool = pool;
	mc->attn = pool == PFM_POOL_ATTN ? (s_attn > 0 ? s_attn : p.attn) : 0;
	mc->gated = s_gated >= 0 ? s_gated : p.gated;
	mc->nmlp = s_nmlp >= 0 ? s_nmlp : p.nmlp;
	memcpy(mc->mlp, s_nmlp >= 0 ? s_mlp : p.mlp, sizeof mc->mlp);
	mc->dropout = (float)(s_drop >= 0 ? s_drop : p.dropout);
	mc->init = s_init >= 0 ? s_init : p.init;
	o.train.batch = s_batch > 0 ? s_batch : p.batch;
	o.train.alpha = alpha;
	o.train.opt.lr = s_lr > 0 ? s_lr : p.lr;
	o.train.opt.weight_decay = s_wd >= 0 ? s_wd : p.wd;
	o.train.opt.decoupled = s_optim >= 0 ? s_optim : p.optim;
	o.head = head;
	pfm_gemm_set_threads(threads); /* 0: the CPUs */

	pfm_err e = {0};
	/* a bf16 model reads the rows only rounded: keep them so, in half
	 * the memory */
	pfm_bagset bags = {.want_emb = emb, .bf16 = pfm_mil_rows16(mc)};
	for (int i = 0; i < ninputs; i++)
		if (pfm_bagset_read(&bags, inputs[i], &io, &e)) {
			pfm_bagset_free(&bags);
			return pfm_fail("%s", e.msg);
		}
	if (!bags.nbags) {
		pfm_bagset_free(&bags);
		return pfm_fail("no embedding frames in the input (%llu other frames)",
				(unsigned long long)bags.other);
	}
	if (bags.other)
		pfm_warn("skipped %llu frames that are not embeddings", (unsigned long long)bags.other);
	pfm_mil_data d;
	pfm_mil_data_opts dopt = {.task = survival ? PFM_TASK_SURV : -1, .classes = classes,
				  .nbins = nbins};
	if (pfm_mil_data_load(&d, labels, &bags, &dopt, &e)) {
		pfm_bagset_free(&bags);
		return pfm_fail("%s", e.msg);
	}
	if (d.task == PFM_TASK_SURV && o.monitor == PFM_MONITOR_ERROR) {
		pfm_mil_data_free(&d);
		pfm_bagset_free(&bags);
		return pfm_usage_fail("%s (%s has times and events)", no_error, labels);
	}
	int rc = 0;
	if (d.nunlabelled) {
		char what[256];
		snprintf(what, sizeof what, "%d slide%s with embeddings %s no label in %s%s: ",
			 d.nunlabelled, d.nunlabelled > 1 ? "s" : "", d.nunlabelled > 1 ? "have" : "has",
			 labels, strict ? "" : " (not used)");
		pfm_warn_list(what, d.unlabelled, d.nunlabelled);
	}
	if (d.nmissing) {
		char what[256];
		snprintf(what, sizeof what, "%d labelled slide%s in %s %s no embeddings%s: ",
			 d.nmissing, d.nmissing > 1 ? "s" : "", labels, d.nmissing > 1 ? "have" : "has",
			 strict ? "" : " (not used)");
		pfm_warn_list(what, d.missing, d.nmissing);
	}
	if (strict && (d.nunlabelled || d.nmissing))
		rc = pfm_fail("--strict: labels and embeddings do not match (listed above)");
	pfm_mil_splits sp = {0};
	if (!rc) {
		int unknown = 0;
		char **unknown_ids = NULL;
		int src = splits_csv ? pfm_mil_splits_read(&sp, splits_csv, &d, &unknown, &unknown_ids, &e)
			: folds ? pfm_mil_splits_kfold(&sp, &d, folds, val_frac, o.seed, &e)
			: pfm_mil_splits_ratio(&sp, &d, ratio, o.seed, &e);
		if (src)
			rc = pfm_fail("%s", e.msg);
		if (!rc && unknown) {
			char what[256];
			snprintf(what, sizeof what, "%d slide%s in %s %s not in the task%s: ", unknown,
				 unknown > 1 ? "s" : "", splits_csv, unknown > 1 ? "are" : "is",
				 strict ? "" : " (ignored)");
			pfm_warn_list(what, unknown_ids, unknown);
			if (strict)
				rc = pfm_fail("--strict: the splits name slides the task does not hold");
		}
		for (int i = 0; i < unknown; i++)
			free(unknown_ids[i]);
		free(unknown_ids);
	}
	/* slides a fold does not use are said, not dropped silently */
	for (int f = 0; !rc && f < sp.nfolds; f++) {
		char **unused = malloc(sizeof *unused * d.nslides);
		int nu = 0;
		for (int i = 0; unused && i < d.nslides; i++)
			if (sp.split[(size_t)f * d.nslides + i] == PFM_SPLIT_NONE)
				unused[nu++] = d.slide[i];
		if (nu) {
			char what[256];
			snprintf(what, sizeof what, "fold %d: %d labelled slide%s in no split: ",
				 sp.fold_id[f], nu, nu > 1 ? "s" : "");
			pfm_warn_list(what, unused, nu);
		}
		free(unused);
	}
	/* names */
	char task_buf[256], model_buf[256], runid_buf[32];
	if (!task) {
		const char *b = strrchr(labels, '/');
		b = b ? b + 1 : labels;
		snprintf(task_buf, sizeof task_buf, "%s", b);
		char *dot = strrchr(task_buf, '.');
		if (dot && dot != task_buf)
			*dot = 0;
		task = task_buf;
	}
	if (!model) {
		snprintf(model_buf, sizeof model_buf, "%s", bags.emb ? bags.emb : "features");
		model = model_buf;
	}
	if (!run_id) {
		uint64_t h = fnv(0xcbf29ce484222325ull, "mil-train");
		for (int i = 1; i < argc; i++)
			h = fnv(h, argv[i]);
		snprintf(runid_buf, sizeof runid_buf, "%016llx", (unsigned long long)h);
		run_id = runid_buf;
	}
	o.task = task, o.model_name = model, o.run_id = run_id;
	o.progress = !quiet && (force_prog || isatty(2));
	o.warn = pfm_warn;
	pfm_slide_list slides = {0};
	if (!rc && slides_file && pfm_slide_list_read(&slides, slides_file, &e))
		rc = pfm_fail("%s", e.msg);
	if (!rc && o.heatmap_dir && mkdir(o.heatmap_dir, 0777) && errno != EEXIST)
		rc = pfm_fail("%s: %s", o.heatmap_dir, strerror(errno));
	o.slides = &slides;
	pfm_writer *wr = NULL, *wp = NULL, *wl = NULL;
	if (!rc && !(wr = pfm_writer_open(output, &io, &e)))
		rc = pfm_fail("%s", e.msg);
	if (!rc && pred_spec && !(wp = pfm_writer_open(pred_spec, &io, &e)))
		rc = pfm_fail("%s", e.msg);
	if (!rc && log_spec && !(wl = pfm_writer_open(log_spec, &io, &e)))
		rc = pfm_fail("%s", e.msg);
	o.results = wr, o.predictions = wp, o.log = wl;
	int epipe = 0;
	if (!rc && pfm_mil_run(&d, &bags, &sp, &o, &e)) {
		epipe = (wr && pfm_writer_epipe(wr)) || (wp && pfm_writer_epipe(wp)) ||
			(wl && pfm_writer_epipe(wl));
		rc = epipe ? PFM_EXIT_DATA : pfm_fail("%s", e.msg);
	}
	pfm_writer *ws[3] = {wr, wp, wl};
	for (int i = 0; i < 3; i++) {
		if (!ws[i])
			continue;
		pfm_err ce = {0};
		if (pfm_writer_close(ws[i], !rc, &ce) && !rc) {
			if (ce.code == EPIPE)
				rc = PFM_EXIT_DATA;
			else
				rc = pfm_fail("%s", ce.msg);
		}
	}
	pfm_slide_list_free(&slides);
	pfm_mil_splits_free(&sp);
	pfm_mil_data_free(&d);
	pfm_bagset_free(&bags);
	return rc;
}
