/* probe: tile-level heads on frozen embeddings (linear probes, kNN,
 * SimpleShot, retrieval); result frames for rank-stats. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gemm.h"
#include "io.h"
#include "metrics.h"
#include "probe.h"
#include "rng.h"

static const char usage[] =
"Usage: probe [OPTION]... -t TRAIN -s TEST\n"
"Tile-level heads on labelled embedding frames: logistic regression (L-BFGS,\n"
"as UNI), a linear head (AdamW, as eva), kNN, SimpleShot and retrieval;\n"
"evaluated on the test set, written as result frames (for rank-stats).\n"
"\n"
"Data (SPEC: -, a frame file, a directory of frame files or a ZeroMQ endpoint):\n"
"  -t, --train SPEC        training embeddings (repeatable)\n"
"  -s, --test SPEC         test embeddings (repeatable)\n"
"  -v, --val SPEC          validation embeddings for the linear head (repeatable)\n"
"      --val-frac F        without --val: the linear head's validation share\n"
"                          of the training set (0.1; 0: none)\n"
"  -l, --labels CSV        slide_id,label (default: each frame's label)\n"
"      --emb NAME          use emb.NAME (default: the only embedding)\n"
"      --classes LIST      class labels in order (default: sorted labels)\n"
"Heads:\n"
"  -m, --method LIST       logreg, linear, knn, simpleshot, retrieval\n"
"                          (comma-separated; default logreg,knn)\n"
"      --C C               logreg: inverse L2 strength (default d*K/100, UNI's)\n"
"      --max-iter N        logreg: L-BFGS iterations (1000)\n"
"      --tol T             logreg: gradient tolerance (1e-4)\n"
"      --k K               knn: neighbours (20)\n"
"      --vote V            knn: uniform or weighted (uniform)\n"
"      --temperature T     knn: weighted vote temperature (0.07)\n"
"      --lr LR             linear: learning rate (1e-3)\n"
"      --wd WD             linear: AdamW weight decay (0)\n"
"      --epochs N          linear: maximum epochs (100)\n"
"      --batch B           linear: instances per step (256)\n"
"      --patience N        linear: early-stopping patience (10; 0: off)\n"
"      --min-epochs N      linear: never stop before N epochs (0)\n"
"      --monitor M         linear: validation loss or error (loss)\n"
"      --init FILE         linear: initial weights (raw float32 W then b)\n"
"      --no-shuffle        linear: the input order, every epoch\n"
"      --runs N            linear: runs with seeds S, S+1, ... (1)\n"
"      --seed S            seed (0)\n"
"  -j, --threads N         threads of the matrix products (default: the CPUs)\n"
"Output:\n"
"  -o, --output SPEC       result frames (default -)\n"
"      --log SPEC          linear: each step's loss as metric frames\n"
"      --task NAME         task name (default: the first training input's)\n"
"      --model NAME        model name in results (default: the embedding's)\n"
"      --run-id ID         run id in results (default: a hash of the arguments)\n"
"      --bootstrap N       N bootstrap replicates: confidence intervals\n"
"      --ci LEVEL          bootstrap confidence level (0.95)\n"
"      --max-frame SIZE    largest frame accepted (default 256M)\n"
"      --hwm N             ZeroMQ high-water mark in frames (default 4)\n"
"      --timeout SEC       ZeroMQ: fail when no frame moves for SEC seconds\n"
"      --lenient           accept input without an end-of-stream frame\n"
"      --force             write frames even to a terminal\n"
PFM_HELP_CURVE
"  -h, --help              show this help and exit\n"
"  -V, --version           show the version and exit\n"
"\n"
"Exit status: 0 ok, 1 bad data or I/O error, 2 usage error.\n"
"Examples:\n"
"  probe -t crc-train/ -s crc-test/ -m logreg,knn,simpleshot | rank-stats -m balanced_accuracy\n"
"  probe -t train.mpk -s test.mpk -m retrieval --bootstrap 1000\n"
"See probe(1), mil-train(1), rank-stats(1).\n";

enum { O_VALFRAC = 256, O_EMB, O_CLASSES, O_C, O_MAXIT, O_TOL, O_K, O_VOTE,
       O_TEMP, O_LR, O_WD, O_EPOCHS, O_BATCH, O_PATIENCE, O_MINEP, O_MONITOR,
       O_INIT, O_NOSHUF, O_RUNS, O_SEED, O_LOG, O_TASK, O_MODEL, O_RUNID,
       O_BOOT, O_CI };

static const struct option longopts[] = {
	{"train", required_argument, 0, 't'},
	{"test", required_argument, 0, 's'},
	{"val", required_argument, 0, 'v'},
	{"val-frac", required_argument, 0, O_VALFRAC},
	{"labels", required_argument, 0, 'l'},
	{"emb", required_argument, 0, O_EMB},
	{"classes", required_argument, 0, O_CLASSES},
	{"method", required_argument, 0, 'm'},
	{"C", required_argument, 0, O_C},
	{"max-iter", required_argument, 0, O_MAXIT},
	{"tol", required_argument, 0, O_TOL},
	{"k", required_argument, 0, O_K},
	{"vote", required_argument, 0, O_VOTE},
	{"temperature", required_argument, 0, O_TEMP},
	{"lr", required_argument, 0, O_LR},
	{"wd", required_argument, 0, O_WD},
	{"epochs", required_argument, 0, O_EPOCHS},
	{"batch", required_argument, 0, O_BATCH},
	{"patience", required_argument, 0, O_PATIENCE},
	{"min-epochs", required_argument, 0, O_MINEP},
	{"monitor", required_argument, 0, O_MONITOR},
	{"init", required_argument, 0, O_INIT},
	{"no-shuffle", no_argument, 0, O_NOSHUF},
	{"runs", required_argument, 0, O_RUNS},
	{"seed", required_argument, 0, O_SEED},
	{"threads", required_argument, 0, 'j'},
	{"output", required_argument, 0, 'o'},
	{"log", required_argument, 0, O_LOG},
	{"task", required_argument, 0, O_TASK},
	{"model", required_argument, 0, O_MODEL},
	{"run-id", required_argument, 0, O_RUNID},
	{"bootstrap", required_argument, 0, O_BOOT},
	{"ci", required_argument, 0, O_CI},
	PFM_LONGOPT_MAX_FRAME,
	PFM_LONGOPT_HWM,
	PFM_LONGOPT_TIMEOUT,
	PFM_LONGOPT_LENIENT,
	PFM_LONGOPT_FORCE,
	PFM_LONGOPTS_CURVE,
	{"help", no_argument, 0, 'h'},
	{"version", no_argument, 0, 'V'},
	{0, 0, 0, 0},
};

enum { M_LOGREG, M_LINEAR, M_KNN, M_SIMPLESHOT, M_RETRIEVAL, M_NMETHODS };
static const char *method_name[M_NMETHODS] = {"logreg", "linear", "knn", "simpleshot", "retrieval"};
static const char *method_type[M_NMETHODS] = {"linear_probe", "linear_probe", "knn", "few_shot", "retrieval"};

typedef struct {
	pfm_writer *w;
	pfm_build *b, *meta;
	const char *task, *model, *run_id, *emb;
	int boot;
	double ci;
	uint64_t seed;
} out_ctx;

/* A method's setting in the results' meta: a count (integer) or not. */
typedef struct {
	const char *key;
	double value;
	int count;
} setting;

static int put_result(out_ctx *o, int method, const char *metric, double value,
		      double lo, double hi, int run, int n, int nx, const setting *x,
		      pfm_err *e)
{
	char task[512];
	snprintf(task, sizeof task, "%s/%s", o->task, method_name[method]);
	pfm_build *b = o->b, *mb = o->meta;
	pfm_build_reset(b, PFM_T_RESULT);
	pfm_build_reset(mb, NULL);
	pfm_build_str(b, "task", task);
	pfm_build_str(b, "model", o->model);
	pfm_build_str(b, "metric", metric);
	pfm_build_f64(b, "value", value);
	pfm_build_i64(b, "run", run);
	pfm_build_str(b, "split", "test");
	pfm_build_i64(b, "n", n);
	if (isfinite(lo) && isfinite(hi)) {
		pfm_build_f64(b, "ci_low", lo);
		pfm_build_f64(b, "ci_high", hi);
	}
	pfm_build_str(b, "task_type", method_type[method]);
	pfm_build_str(mb, "head", method_name[method]);
	pfm_build_str(mb, "emb", o->emb);
	pfm_build_str(mb, "run_id", o->run_id);
	pfm_build_i64(mb, "seed", (int64_t)o->seed + run);
	for (int i = 0; i < nx; i++) {
		if (x[i].count)
			pfm_build_i64(mb, x[i].key, (int64_t)x[i].value);
		else
			pfm_build_f64(mb, x[i].key, x[i].value);
	}
	if (o->boot) {
		pfm_build_i64(mb, "bootstrap", o->boot);
		pfm_build_f64(mb, "ci_level", o->ci);
	}
	pfm_build_obj(b, "meta", pfm_build_object(mb));
	if (pfm_write(o->w, b))
		return pfm_errf(e, "%s", pfm_writer_error(o->w));
	return 0;
}

/* Classification metrics of a method's predictions (prob may be NULL). */
static int put_cls(out_ctx *o, int method, const pfm_probe_set *test, int k,
		   const int *pred, const double *prob, int run, int nx,
		   const setting *x, pfm_err *e)
{
	pfm_eval ev = {(size_t)test->n, k, test->lab, pred, prob, NULL, NULL, NULL};
	static const int ids[] = {PFM_MET_AUROC, PFM_MET_BALACC, PFM_MET_F1_MACRO,
				  PFM_MET_F1_WEIGHTED, PFM_MET_ACCURACY, PFM_MET_KAPPA};
	for (size_t q = 0; q < sizeof ids / sizeof *ids; q++) {
		int id = ids[q];
		if (id == PFM_MET_AUROC && !prob)
			continue;
		double v, lo = NAN, hi = NAN;
		pfm_err me = {0};
		if (pfm_eval_metric(&ev, id, NULL, ev.n, &v, &me)) {
			if (id == PFM_MET_AUROC)
				return pfm_errf(e, "%s: test set: %s", method_name[method], me.msg);
			pfm_warn("%s: %s not reported: %s", method_name[method], pfm_metric_name[id], me.msg);
			continue;
		}
		if (o->boot) {
			pfm_boot_opts bo = {o->boot, o->seed + run, o->ci};
			int valid;
			if (pfm_eval_ci(&ev, id, &bo, &lo, &hi, &valid, &me))
				pfm_warn("%s: %s: no confidence interval: %s", method_name[method],
					 pfm_metric_name[id], me.msg);
		}
		if (put_result(o, method, pfm_metric_name[id], v, lo, hi, run, test->n, nx, x, e))
			return -1;
	}
	return 0;
}

typedef struct {
	const int *hit;
	int j;
} hit_ctx;

static int hit_mean(void *ctx, const size_t *idx, size_t n, double *v)
{
	const hit_ctx *h = ctx;
	size_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += h->hit[idx[i] * 4 + h->j];
	*v = n ? (double)s / n : 0;
	return 0;
}

/* Stratified hold-out: frac of each class of s (seeded) into val, but
 * never a class's last training instance. */
static int carve(const pfm_probe_set *s, int k, double frac, uint64_t seed,
		 pfm_probe_set *tr, pfm_probe_set *va, pfm_err *e)
{
	int d = s->d;
	signed char *is_val = calloc(s->n, 1);
	int *idx = malloc(sizeof *idx * s->n);
	if (!is_val || !idx) {
		free(is_val), free(idx);
		return pfm_errf(e, "out of memory");
	}
	pfm_rng r = pfm_rng_seed(seed, 21);
	for (int c = 0; c < k; c++) {
		int m = 0;
		for (int i = 0; i < s->n; i++)
			if (s->lab[i] == c)
				idx[m++] = i;
		pfm_rng_shuffle(&r, idx, m);
		int nv = (int)floor(frac * m + 0.5);
		if (nv >= m)
			nv = m - 1;
		for (int i = 0; i < nv; i++)
			is_val[idx[i]] = 1;
	}
	int nv = 0;
	for (int i = 0; i < s->n; i++)
		nv += is_val[i];
	pfm_probe_set *out[2] = {tr, va};
	int cnt[2] = {s->n - nv, nv};
	for (int q = 0; q < 2; q++) {
		memset(out[q], 0, sizeof *out[q]);
		out[q]->d = d;
		out[q]->x = malloc(sizeof *out[q]->x * ((size_t)cnt[q] * d + 1));
		out[q]->lab = malloc(sizeof *out[q]->lab * (cnt[q] + 1));
		if (!out[q]->x || !out[q]->lab) {
			free(is_val), free(idx);
			return pfm_errf(e, "out of memory");
		}
	}
	for (int i = 0; i < s->n; i++) {
		pfm_probe_set *o = out[is_val[i]];
		memcpy(o->x + (size_t)o->n * d, s->x + (size_t)i * d, sizeof *o->x * d);
		o->lab[o->n++] = s->lab[i];
	}
	free(is_val), free(idx);
	return 0;
}

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
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

static int read_all(pfm_probe_set *s, pfm_probe_reader *r, const char **specs,
		    int n, const pfm_io_opts *io, pfm_err *e)
{
	for (int i = 0; i < n; i++)
		if (pfm_probe_read(s, r, specs[i], io, e))
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	pfm_cli_init(argv[0]);
	static const char *trs[256], *tes[256], *vas[256];
	int ntr = 0, nte = 0, nva = 0, c, threads = 0, runs = 1;
	int methods[M_NMETHODS] = {0}, any_method = 0;
	double val_frac = 0.1, C = 0;
	const char *labels = NULL, *emb = NULL, *classes = NULL, *output = "-";
	const char *log_spec = NULL, *task = NULL, *model = NULL, *run_id = NULL;
	const char *init = NULL;
	pfm_io_opts io = {0};
	pfm_logreg_opts lo = {.max_iter = 1000, .tol = 1e-4};
	pfm_knn_opts ko = {.k = 20, .temperature = 0.07};
	pfm_linear_opts lin = {.opt = {.lr = 1e-3, .decoupled = 1}, .epochs = 100,
			       .batch = 256, .patience = 10, .shuffle = 1};
	out_ctx oc = {.ci = 0.95};
	while ((c = getopt_long(argc, argv, "t:s:v:l:m:j:o:hV", longopts, 0)) != -1) {
		double v;
		switch (c) {
		case 't':
		case 's':
		case 'v': {
			const char **list = c == 't' ? trs : c == 's' ? tes : vas;
			int *n = c == 't' ? &ntr : c == 's' ? &nte : &nva;
			if (*n == 256)
				return pfm_usage_fail("too many inputs");
			list[(*n)++] = optarg;
			break;
		}
		case O_VALFRAC:
			if (parse_d(optarg, &val_frac) || val_frac < 0 || val_frac >= 1)
				return pfm_usage_fail("--val-frac: not a fraction in [0, 1): '%s'", optarg);
			break;
		case 'l': labels = optarg; break;
		case O_EMB: emb = optarg; break;
		case O_CLASSES: classes = optarg; break;
		case 'm': {
			char *copy = strdup(optarg), *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				int f = -1;
				for (int i = 0; i < M_NMETHODS; i++)
					if (!strcmp(t, method_name[i]))
						f = i;
				if (f < 0) {
					pfm_usage_fail("--method: logreg, linear, knn, simpleshot or retrieval, not '%s'", t);
					free(copy);
					return PFM_EXIT_USAGE;
				}
				methods[f] = any_method = 1;
			}
			free(copy);
			break;
		}
		case O_C:
			if (parse_d(optarg, &C) || !(C > 0))
				return pfm_usage_fail("--C: not a positive number: '%s'", optarg);
			break;
		case O_MAXIT:
			if (parse_int(optarg, 1, 10000000, &lo.max_iter))
				return pfm_usage_fail("--max-iter: not a positive count: '%s'", optarg);
			break;
		case O_TOL:
			if (parse_d(optarg, &lo.tol) || !(lo.tol > 0))
				return pfm_usage_fail("--tol: not a positive number: '%s'", optarg);
			break;
		case O_K:
			if (parse_int(optarg, 1, 100000, &ko.k))
				return pfm_usage_fail("--k: not a positive count: '%s'", optarg);
			break;
		case O_VOTE:
			if (!strcmp(optarg, "uniform"))
				ko.weighted = 0;
			else if (!strcmp(optarg, "weighted"))
				ko.weighted = 1;
			else
				return pfm_usage_fail("--vote: uniform or weighted, not '%s'", optarg);
			break;
		case O_TEMP:
			if (parse_d(optarg, &ko.temperature) || !(ko.temperature > 0))
				return pfm_usage_fail("--temperature: not a positive number: '%s'", optarg);
			break;
		case O_LR:
			if (parse_d(optarg, &lin.opt.lr) || !(lin.opt.lr > 0))
				return pfm_usage_fail("--lr: not a positive number: '%s'", optarg);
			break;
		case O_WD:
			if (parse_d(optarg, &lin.opt.weight_decay) || lin.opt.weight_decay < 0)
				return pfm_usage_fail("--wd: not a non-negative number: '%s'", optarg);
			break;
		case O_EPOCHS:
			if (parse_int(optarg, 1, 1000000, &lin.epochs))
				return pfm_usage_fail("--epochs: not a positive count: '%s'", optarg);
			break;
		case O_BATCH:
			if (parse_int(optarg, 1, 1 << 24, &lin.batch))
				return pfm_usage_fail("--batch: not a positive count: '%s'", optarg);
			break;
		case O_PATIENCE:
			if (parse_int(optarg, 0, 1000000, &lin.patience))
				return pfm_usage_fail("--patience: not a count: '%s'", optarg);
			break;
		case O_MINEP:
			if (parse_int(optarg, 0, 1000000, &lin.min_epochs))
				return pfm_usage_fail("--min-epochs: not a count: '%s'", optarg);
			break;
		case O_MONITOR:
			if (!strcmp(optarg, "loss"))
				lin.monitor = 0;
			else if (!strcmp(optarg, "error"))
				lin.monitor = 1;
			else
				return pfm_usage_fail("--monitor: loss or error, not '%s'", optarg);
			break;
		case O_INIT: init = optarg; break;
		case O_NOSHUF: lin.shuffle = 0; break;
		case O_RUNS:
			if (parse_int(optarg, 1, 100000, &runs))
				return pfm_usage_fail("--runs: not a positive count: '%s'", optarg);
			break;
		case O_SEED: {
			int64_t sv;
			if (pfm_parse_i64(optarg, &sv) || sv < 0)
				return pfm_usage_fail("--seed: not a non-negative integer: '%s'", optarg);
			oc.seed = (uint64_t)sv;
			break;
		}
		case 'j':
			if (parse_int(optarg, 1, 1024, &threads))
				return pfm_usage_fail("--threads: not a thread count: '%s'", optarg);
			break;
		case 'o': output = optarg; break;
		case O_LOG: log_spec = optarg; break;
		case O_TASK: task = optarg; break;
		case O_MODEL: model = optarg; break;
		case O_RUNID: run_id = optarg; break;
		case O_BOOT:
			if (parse_int(optarg, 1, 10000000, &oc.boot))
				return pfm_usage_fail("--bootstrap: not a number of replicates: '%s'", optarg);
			break;
		case O_CI:
			if (parse_d(optarg, &v) || !(v > 0 && v < 1))
				return pfm_usage_fail("--ci: not a level in (0, 1): '%s'", optarg);
			oc.ci = v;
			break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': pfm_print_version(); return 0;
		default: {
			int rc = pfm_io_option(c, optarg, &io);
			if (rc)
				return rc;
		}
		}
	}
	if (optind < argc)
		return pfm_usage_fail("unexpected argument '%s': inputs go with -t, -s, -v", argv[optind]);
	if (!ntr || !nte)
		return pfm_usage_fail("give the training (-t) and test (-s) embeddings");
	int crc = pfm_io_check_list(&io, trs, ntr, 0);
	if (crc || (crc = pfm_io_check_list(&io, tes, nte, 0)) ||
	    (crc = pfm_io_check_list(&io, vas, nva, 0)) ||
	    (crc = pfm_io_check(&io, output, 1)) ||
	    (crc = pfm_io_check(&io, log_spec, 1)))
		return crc;
	if (!any_method)
		methods[M_LOGREG] = methods[M_KNN] = 1;
	pfm_gemm_set_threads(threads); /* 0: the CPUs */

	pfm_err e = {0};
	pfm_probe_reader rd = {.want_emb = emb};
	pfm_probe_set tr = {0}, te = {0}, va = {0}, trc = {0}, vac = {0};
	char **cls = NULL;
	int k = 0, rc = 0;
	pfm_writer *w = NULL, *wl = NULL;
	oc.b = pfm_build_new(), oc.meta = pfm_build_new();
	if (labels && pfm_probe_reader_labels(&rd, labels, &e))
		rc = pfm_fail("%s", e.msg);
	if (!rc && (read_all(&tr, &rd, trs, ntr, &io, &e) || read_all(&te, &rd, tes, nte, &io, &e) ||
		    read_all(&va, &rd, vas, nva, &io, &e)))
		rc = pfm_fail("%s", e.msg);
	if (!rc && (!tr.n || !te.n))
		rc = pfm_fail("no %s embeddings (%llu frames of other types skipped)",
			      tr.n ? "test" : "training", (unsigned long long)rd.other);
	pfm_probe_set *sets[3] = {&tr, &te, &va};
	if (!rc && pfm_probe_classes(&rd, sets, nva ? 3 : 2, classes, &cls, &k, &e))
		rc = pfm_fail("%s", e.msg);
	if (!rc && rd.other)
		pfm_warn("skipped %llu frames that are not embeddings", (unsigned long long)rd.other);
	/* names */
	char task_buf[256], runid_buf[32];
	if (!task) {
		const char *b = strrchr(trs[0], '/');
		while (b && !b[1] && b > trs[0]) { /* a directory with a trailing / */
			const char *p = b - 1;
			while (p > trs[0] && *p != '/')
				p--;
			b = p;
		}
		b = b && *b == '/' ? b + 1 : trs[0];
		snprintf(task_buf, sizeof task_buf, "%s", b);
		char *s = strchr(task_buf, '/');
		if (s)
			*s = 0;
		char *dot = strrchr(task_buf, '.');
		if (dot && dot != task_buf)
			*dot = 0;
		task = task_buf;
	}
	if (!run_id) {
		uint64_t h = fnv(0xcbf29ce484222325ull, "probe");
		for (int i = 1; i < argc; i++)
			h = fnv(h, argv[i]);
		snprintf(runid_buf, sizeof runid_buf, "%016llx", (unsigned long long)h);
		run_id = runid_buf;
	}
	oc.task = task, oc.model = model ? model : rd.emb ? rd.emb : "features";
	oc.run_id = run_id, oc.emb = rd.emb ? rd.emb : "";
	if (!rc && !(w = pfm_writer_open(output, &io, &e)))
		rc = pfm_fail("%s", e.msg);
	if (!rc && log_spec && !(wl = pfm_writer_open(log_spec, &io, &e)))
		rc = pfm_fail("%s", e.msg);
	oc.w = w;
	int d = tr.d;
	int *pred = malloc(sizeof *pred * (te.n + 1));
	double *prob = malloc(sizeof *prob * ((size_t)te.n * (k ? k : 1) + 1));
	if (!rc && (!pred || !prob))
		rc = pfm_fail("out of memory");
	/* logistic regression */
	if (!rc && methods[M_LOGREG]) {
		pfm_logreg m;
		lo.C = C > 0 ? C : (double)d * k / 100;
		if (pfm_logreg_fit(&m, tr.x, tr.lab, tr.n, d, k, &lo, &e))
			rc = pfm_fail("logreg: %s", e.msg);
		else {
			if (m.gmax > lo.tol)
				pfm_warn("logreg: stopped after %d iterations with max |gradient| %.3g > --tol %g",
					 m.iters, m.gmax, lo.tol);
			pfm_logreg_proba(&m, te.x, te.n, prob);
			for (int i = 0; i < te.n; i++) {
				pred[i] = 0;
				for (int j = 1; j < k; j++)
					if (prob[(size_t)i * k + j] > prob[(size_t)i * k + pred[i]])
						pred[i] = j;
			}
			setting x[2] = {{"C", lo.C, 0}, {"iterations", m.iters, 1}};
			if (put_cls(&oc, M_LOGREG, &te, k, pred, prob, 0, 2, x, &e))
				rc = pfm_fail("%s", e.msg);
			pfm_logreg_free(&m);
		}
	}
	/* linear head */
	if (!rc && methods[M_LINEAR]) {
		const pfm_probe_set *ltr = &tr, *lva = nva ? &va : NULL;
		if (!nva && val_frac > 0) {
			if (carve(&tr, k, val_frac, oc.seed, &trc, &vac, &e))
				rc = pfm_fail("%s", e.msg);
			ltr = &trc, lva = vac.n ? &vac : NULL;
			if (!rc && !vac.n)
				pfm_warn("--val-frac %g: no class has two training instances: "
					 "no validation split, no early stopping", val_frac);
		}
		size_t np = (size_t)k * d + k;
		float *wb = malloc(sizeof *wb * np), *iw = NULL;
		if (!rc && init) {
			FILE *f = fopen(init, "rb");
			iw = malloc(sizeof *iw * (np + 1));
			size_t got = f && iw ? fread(iw, sizeof *iw, np + 1, f) : 0;
			if (f)
				fclose(f);
			if (got != np)
				rc = pfm_fail("--init %s: %s", init, !f ? strerror(errno)
					      : "not the k*d + k float32 weights of the linear head");
		}
		int nsteps = (ltr->n + lin.batch - 1) / (lin.batch > 0 ? lin.batch : 1) * lin.epochs;
		double *sl = wl ? malloc(sizeof *sl * (nsteps + 1)) : NULL;
		for (int r = 0; !rc && r < runs; r++) {
			lin.seed = oc.seed + r;
			lin.init = iw;
			lin.step_loss = sl;
			if (pfm_linear_fit(wb, ltr, lva, k, &lin, &e)) {
				rc = pfm_fail("linear: %s", e.msg);
				break;
			}
			pfm_linear_proba(wb, te.x, te.n, d, k, prob);
			for (int i = 0; i < te.n; i++) {
				pred[i] = 0;
				for (int j = 1; j < k; j++)
					if (prob[(size_t)i * k + j] > prob[(size_t)i * k + pred[i]])
						pred[i] = j;
			}
			setting x[2] = {{"epochs", lin.epochs_run, 1}, {"best_epoch", lin.best_epoch, 1}};
			if (put_cls(&oc, M_LINEAR, &te, k, pred, prob, r, lin.best_epoch >= 0 ? 2 : 1, x, &e)) {
				rc = pfm_fail("%s", e.msg);
				break;
			}
			int steps = (ltr->n + lin.batch - 1) / lin.batch * lin.epochs_run;
			for (int s = 0; wl && s < steps; s++) {
				pfm_build *b = oc.b, *mb = oc.meta;
				char run[64];
				snprintf(run, sizeof run, "linear, run %d", r);
				pfm_build_reset(b, PFM_T_METRIC);
				pfm_build_reset(mb, NULL);
				pfm_build_f64(mb, "loss", sl[s]);
				pfm_build_i64(b, "step", s + 1);
				pfm_build_obj(b, "values", pfm_build_object(mb));
				pfm_build_str(b, "run", run);
				pfm_build_str(b, "split", "train");
				if (pfm_write(wl, b)) {
					rc = pfm_fail("%s", pfm_writer_error(wl));
					break;
				}
			}
		}
		free(wb), free(iw), free(sl);
	}
	if (!rc && methods[M_KNN]) {
		if (ko.k > tr.n) { /* sklearn refuses; use them all, and say so */
			pfm_warn("--k %d: only %d training instances: k = %d", ko.k, tr.n, tr.n);
			ko.k = tr.n;
		}
		if (pfm_knn(&tr, &te, k, &ko, pred, prob, &e))
			rc = pfm_fail("knn: %s", e.msg);
		else {
			setting x[2] = {{"k", ko.k, 1}, {"temperature", ko.temperature, 0}};
			if (put_cls(&oc, M_KNN, &te, k, pred, prob, 0, ko.weighted ? 2 : 1, x, &e))
				rc = pfm_fail("%s", e.msg);
		}
	}
	if (!rc && methods[M_SIMPLESHOT]) {
		if (pfm_simpleshot(&tr, &te, k, pred, &e))
			rc = pfm_fail("simpleshot: %s", e.msg);
		else if (put_cls(&oc, M_SIMPLESHOT, &te, k, pred, NULL, 0, 0, NULL, &e))
			rc = pfm_fail("%s", e.msg);
	}
	if (!rc && methods[M_RETRIEVAL]) {
		int *hit = malloc(sizeof *hit * ((size_t)te.n * 4 + 1));
		if (!hit || pfm_retrieval(&tr, &te, k, hit, &e))
			rc = pfm_fail("retrieval: %s", hit ? e.msg : "out of memory");
		static const char *names[4] = {"acc_top1", "acc_top3", "acc_top5", "mv_at_5"};
		for (int j = 0; !rc && j < 4; j++) {
			hit_ctx h = {hit, j};
			double v, lo_ = NAN, hi_ = NAN;
			size_t s = 0;
			for (int i = 0; i < te.n; i++)
				s += hit[(size_t)i * 4 + j];
			v = (double)s / te.n;
			if (oc.boot) {
				pfm_boot_opts bo = {oc.boot, oc.seed, oc.ci};
				int valid;
				pfm_bootstrap_ci(hit_mean, &h, te.n, &bo, &lo_, &hi_, &valid, &e);
			}
			if (put_result(&oc, M_RETRIEVAL, names[j], v, lo_, hi_, 0, te.n, 0, NULL, &e))
				rc = pfm_fail("%s", e.msg);
		}
		free(hit);
	}
	pfm_writer *ws[2] = {w, wl};
	for (int i = 0; i < 2; i++) {
		pfm_err ce = {0};
		if (ws[i] && pfm_writer_close(ws[i], !rc, &ce) && !rc)
			rc = ce.code == EPIPE ? PFM_EXIT_DATA : pfm_fail("%s", ce.msg);
	}
	for (int i = 0; i < k; i++)
		free(cls[i]);
	free(cls), free(pred), free(prob);
	pfm_build_free(oc.b), pfm_build_free(oc.meta);
	pfm_probe_set_free(&tr), pfm_probe_set_free(&te), pfm_probe_set_free(&va);
	pfm_probe_set_free(&trc), pfm_probe_set_free(&vac);
	pfm_probe_reader_free(&rd);
	return rc;
}
