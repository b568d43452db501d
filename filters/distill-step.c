/* distill-step: GPFM unified knowledge distillation (experts' features on
 * the frames + DINOv2 self-distillation) of a ViT, on the CPU. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "distill_run.h"

static const char usage[] =
"Usage: distill-step [OPTION]...\n"
"Pretrain a ViT by unified knowledge distillation (GPFM): from the experts'\n"
"features on the tile frames (emb.NAME and tokens.NAME, added upstream by\n"
"`embed --as NAME --tokens --keep-pixels`) and by DINOv2 self-distillation\n"
"(DINO, iBOT, KoLeo) from its own EMA teacher. Reads tile frames, writes one\n"
"metric frame per training step. Defaults are DINOv2's and GPFM's (see\n"
"distill-step(1) for each one's source).\n"
"\n"
"Input, output, checkpoints:\n"
"  -i, --input SPEC          tile frames (default -)\n"
"  -o, --output SPEC         metric frames (default -)\n"
"  -s, --save PATH           checkpoint at the end (and every --save-every\n"
"                            steps); the teacher backbone, which embed loads,\n"
"                            goes to PATH-teacher.safetensors\n"
"      --teacher PATH        the teacher backbone here instead\n"
"      --save-every N        steps between checkpoints (0: at the end; 0)\n"
"      --resume PATH         continue the run of this checkpoint (its\n"
"                            settings; training options are refused)\n"
"      --name NAME           the teacher's model name (distilled)\n"
"      --run NAME            run name in the metric frames (--name)\n"
"Experts:\n"
"  -e, --expert NAME:WCLS:WPATCH  distil from emb.NAME (weight WCLS) and\n"
"                            tokens.NAME (WPATCH); repeat per expert, e.g.\n"
"                            -e uni:1.0:0.25 -e phikon:0.5:0.125 -e conch:1.0:0\n"
"      --expert-grid G       crop: expert tokens resampled over each crop's\n"
"                            box (default); tile: the whole grid (GPFM)\n"
"      --skip-incomplete     skip tiles lacking an expert's field (else an\n"
"                            error naming the frame)\n"
"Student:\n"
"      --arch A              vit-ti, vit-s, vit-b or vit-l (vit-l)\n"
"      --patch N             patch size (16)\n"
"      --registers N         register tokens (0)\n"
"      --layerscale V        LayerScale initial value, 0 for none (1e-5)\n"
"      --mlp M               gelu or swiglu (gelu)\n"
"      --init FILE           start from this ViT (.safetensors as embed\n"
"                            reads; its architecture replaces --arch ...)\n"
"      --drop-path R         drop-path rate (0.3)\n"
"Crops:\n"
"  -b, --batch N             tiles per step (64)\n"
"      --global-size N       global crop side (224)\n"
"      --local-size N        local crop side (96)\n"
"      --local-crops N       local crops per tile (8)\n"
"      --global-scale A,B    global crop area range (0.32,1)\n"
"      --local-scale A,B     local crop area range (0.05,0.32)\n"
"      --no-augment          no augmentation: every crop is the whole tile\n"
"      --blur P1,P2,PL       blur probabilities: global 1, 2, local (0,0.9,0.5)\n"
"      --solarize P          solarisation of global crop 2 (0.2)\n"
"      --hed-jitter S        HED stain jitter strength (0: off; 0.05 light)\n"
"Heads and losses:\n"
"      --prototypes K        DINO head prototypes (65536)\n"
"      --head-hidden N       DINO head hidden width (2048)\n"
"      --head-bottleneck N   DINO and expert head bottleneck (256)\n"
"      --head-layers N       DINO head layers (3)\n"
"      --dino-weight W       (1.0)\n"
"      --ibot-weight W       (1.0)\n"
"      --koleo-weight W      (0.1)\n"
"      --centering C         ema or sinkhorn (ema)\n"
"      --center-momentum M   (0.9)\n"
"      --student-temp T      (0.1)\n"
"      --teacher-temp T      (0.07)\n"
"      --teacher-temp-start T  (0.04)\n"
"      --teacher-temp-warmup N steps of teacher temperature warm-up (30% of\n"
"                            --steps)\n"
"      --mask-prob P         share of global crops with iBOT masks (0.5)\n"
"      --mask-ratio A,B      masked share of their patches (0.1,0.5)\n"
"Optimisation:\n"
"      --steps N             schedule length and last step (125000)\n"
"      --lr LR               base learning rate for a batch of 1024, scaled by\n"
"                            sqrt(batch / 1024) (0.004)\n"
"      --min-lr LR           (1e-6)\n"
"      --warmup N            learning-rate warm-up steps (10% of --steps)\n"
"      --wd W                weight decay at the start (0.04)\n"
"      --wd-end W            and at the end (0.4)\n"
"      --layer-decay D       layer-wise learning-rate decay (0.9)\n"
"      --patch-lr-mult M     patch embedding learning-rate factor (0.2)\n"
"      --clip-grad C         gradient norm clip per module, 0 for none (3.0)\n"
"      --freeze-last-layer N steps with the heads' last layers frozen (1% of\n"
"                            --steps)\n"
"      --momentum M          teacher EMA momentum at the start (0.992)\n"
"      --momentum-end M      and at the end (1.0)\n"
"      --beta1 B, --beta2 B  AdamW (0.9, 0.999)\n"
"  -j, --threads N           threads (1)\n"
"      --seed S              seed of weights, crops, masks, drop-path (0)\n"
"      --max-frame SIZE      largest frame accepted (default 256M)\n"
"      --hwm N               ZeroMQ high-water mark in frames (default 4)\n"
"      --timeout MS          ZeroMQ: give up after MS ms without a frame\n"
"      --lenient             accept input without an end-of-stream frame\n"
"      --force               write frames even to a terminal\n"
PFM_HELP_CURVE
"      --progress            progress on stderr even when not a terminal\n"
"  -q, --quiet               no progress line\n"
"  -h, --help                show this help and exit\n"
"  -V, --version             show the version and exit\n"
"\n"
"SIGINT or SIGTERM: the step in progress ends, the checkpoint is saved,\n"
"the stream is closed, exit status 0. A non-finite loss stops the run with\n"
"an error before any update; the last checkpoint stays as it was.\n"
"Exit status: 0 ok, 1 bad data, model or I/O error, 2 usage error.\n"
"Examples:\n"
"  wsi-tile --mpp 0.5 --size 224 -m random -n 100000 slides/*.svs |\n"
"    embed -m uni --as uni --tokens --keep-pixels |\n"
"    embed -m conch --as conch --keep-pixels |\n"
"    distill-step -e uni:1.0:0.25 -e conch:1.0:0 --arch vit-s -s run.safetensors\n"
"  distill-step --resume run.safetensors -i same-tiles.mpk > more-metrics.mpk\n"
"See distill-step(1), embed(1), pathfm-frames(5).\n";

enum { O_TEACHER = 256, O_SAVE_EVERY, O_RESUME, O_NAME, O_RUN, O_EGRID,
       O_SKIP, O_ARCH, O_PATCH, O_REG, O_LS, O_MLP, O_INIT, O_DROP, O_GSIZE,
       O_LSIZE, O_NLOCAL, O_GSCALE, O_LSCALE, O_NOAUG, O_BLUR, O_SOLAR,
       O_HED, O_PROTO, O_HHID, O_HBN, O_HLAY, O_DINOW, O_IBOTW, O_KOLEOW,
       O_CENTER, O_CMOM, O_STEMP, O_TTEMP, O_TTEMP0, O_TTEMPW, O_MPROB,
       O_MRATIO, O_STEPS, O_LR, O_MINLR, O_WARMUP, O_WD, O_WDEND, O_LDEC,
       O_PLR, O_CLIP, O_FREEZE, O_MOM, O_MOMEND, O_BETA1, O_BETA2, O_SEED,
       O_PROGRESS };

static const struct option longopts[] = {
	{"input", required_argument, 0, 'i'},
	{"output", required_argument, 0, 'o'},
	{"save", required_argument, 0, 's'},
	{"teacher", required_argument, 0, O_TEACHER},
	{"save-every", required_argument, 0, O_SAVE_EVERY},
	{"resume", required_argument, 0, O_RESUME},
	{"name", required_argument, 0, O_NAME},
	{"run", required_argument, 0, O_RUN},
	{"expert", required_argument, 0, 'e'},
	{"expert-grid", required_argument, 0, O_EGRID},
	{"skip-incomplete", no_argument, 0, O_SKIP},
	{"arch", required_argument, 0, O_ARCH},
	{"patch", required_argument, 0, O_PATCH},
	{"registers", required_argument, 0, O_REG},
	{"layerscale", required_argument, 0, O_LS},
	{"mlp", required_argument, 0, O_MLP},
	{"init", required_argument, 0, O_INIT},
	{"drop-path", required_argument, 0, O_DROP},
	{"batch", required_argument, 0, 'b'},
	{"global-size", required_argument, 0, O_GSIZE},
	{"local-size", required_argument, 0, O_LSIZE},
	{"local-crops", required_argument, 0, O_NLOCAL},
	{"global-scale", required_argument, 0, O_GSCALE},
	{"local-scale", required_argument, 0, O_LSCALE},
	{"no-augment", no_argument, 0, O_NOAUG},
	{"blur", required_argument, 0, O_BLUR},
	{"solarize", required_argument, 0, O_SOLAR},
	{"hed-jitter", required_argument, 0, O_HED},
	{"prototypes", required_argument, 0, O_PROTO},
	{"head-hidden", required_argument, 0, O_HHID},
	{"head-bottleneck", required_argument, 0, O_HBN},
	{"head-layers", required_argument, 0, O_HLAY},
	{"dino-weight", required_argument, 0, O_DINOW},
	{"ibot-weight", required_argument, 0, O_IBOTW},
	{"koleo-weight", required_argument, 0, O_KOLEOW},
	{"centering", required_argument, 0, O_CENTER},
	{"center-momentum", required_argument, 0, O_CMOM},
	{"student-temp", required_argument, 0, O_STEMP},
	{"teacher-temp", required_argument, 0, O_TTEMP},
	{"teacher-temp-start", required_argument, 0, O_TTEMP0},
	{"teacher-temp-warmup", required_argument, 0, O_TTEMPW},
	{"mask-prob", required_argument, 0, O_MPROB},
	{"mask-ratio", required_argument, 0, O_MRATIO},
	{"steps", required_argument, 0, O_STEPS},
	{"lr", required_argument, 0, O_LR},
	{"min-lr", required_argument, 0, O_MINLR},
	{"warmup", required_argument, 0, O_WARMUP},
	{"wd", required_argument, 0, O_WD},
	{"wd-end", required_argument, 0, O_WDEND},
	{"layer-decay", required_argument, 0, O_LDEC},
	{"patch-lr-mult", required_argument, 0, O_PLR},
	{"clip-grad", required_argument, 0, O_CLIP},
	{"freeze-last-layer", required_argument, 0, O_FREEZE},
	{"momentum", required_argument, 0, O_MOM},
	{"momentum-end", required_argument, 0, O_MOMEND},
	{"beta1", required_argument, 0, O_BETA1},
	{"beta2", required_argument, 0, O_BETA2},
	{"threads", required_argument, 0, 'j'},
	{"seed", required_argument, 0, O_SEED},
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
	{0, 0, 0, 0}};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	if (stop_flag) { /* a second one: stop now */
		signal(sig, SIG_DFL);
		raise(sig);
	}
	stop_flag = 1;
}

static const char *optname(int c)
{
	for (const struct option *o = longopts; o->name; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

static int num(int c, const char *s, double lo, double hi, double *v)
{
	char *end;
	errno = 0;
	*v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(*v) || *v < lo || *v > hi)
		return pfm_usage_fail("--%s: want a number in %g..%g, not '%s'",
				      optname(c), lo, hi, s);
	return 0;
}

static int count(int c, const char *s, int64_t lo, int64_t hi, int64_t *v)
{
	if (pfm_parse_i64(s, v) || *v < lo || *v > hi)
		return pfm_usage_fail("--%s: want an integer in %lld..%lld, not "
				      "'%s'", optname(c), (long long)lo,
				      (long long)hi, s);
	return 0;
}

/* "A,B" or "A,B,C" (sep ',' or ':') */
static int listc(int c, const char *s, int n, double lo, double hi,
		 double *v, char sep)
{
	const char *p = s;
	for (int i = 0; i < n; i++) {
		char *end;
		errno = 0;
		v[i] = strtod(p, &end);
		if (errno || end == p || !isfinite(v[i]) || v[i] < lo ||
		    v[i] > hi || (i < n - 1 ? *end != sep : *end))
			return pfm_usage_fail("--%s: want %d numbers in %g..%g "
					      "joined by '%c', not '%s'",
					      optname(c), n, lo, hi, sep, s);
		p = end + 1;
	}
	return 0;
}

static int list(int c, const char *s, int n, double lo, double hi,
		double *v)
{
	return listc(c, s, n, lo, hi, v, ',');
}

static int expert(const char *s, pfm_distill_opts *d)
{
	char name[64];
	double w[2];
	const char *c = strchr(s, ':');
	if (!c || c == s || (size_t)(c - s) >= sizeof name)
		return pfm_usage_fail("--expert: NAME:WCLS:WPATCH, not '%s'", s);
	memcpy(name, s, c - s);
	name[c - s] = 0;
	if (strpbrk(name, ".:/ "))
		return pfm_usage_fail("--expert: a name without dots, colons, "
				      "slashes or spaces, not '%s'", name);
	if (listc('e', c + 1, 2, 0, 1e6, w, ':'))
		return PFM_EXIT_USAGE;
	if (!(w[0] > 0) && !(w[1] > 0))
		return pfm_usage_fail("--expert %s: both weights are 0", name);
	if (d->nexperts == PFM_MAX_EXPERTS)
		return pfm_usage_fail("--expert: at most %d experts",
				      PFM_MAX_EXPERTS);
	pfm_expert_opt *e = &d->experts[d->nexperts++];
	snprintf(e->name, sizeof e->name, "%s", name);
	e->w_cls = w[0], e->w_patch = w[1], e->width = 0;
	return 0;
}

static int arch(const char *s, pfm_distill_opts *d)
{
	/* DINOv2 models/vision_transformer.py (vit_small, vit_base,
	 * vit_large) and timm's vit_tiny: width, depth, heads; MLP ratio 4 */
	static const struct {
		const char *name;
		int dim, depth, heads;
	} a[] = {{"vit-ti", 192, 12, 3}, {"vit-s", 384, 12, 6},
		 {"vit-b", 768, 12, 12}, {"vit-l", 1024, 24, 16}};
	for (size_t i = 0; i < sizeof a / sizeof *a; i++)
		if (!strcmp(s, a[i].name)) {
			d->dim = a[i].dim, d->depth = a[i].depth;
			d->heads = a[i].heads;
			return 0;
		}
	return pfm_usage_fail("--arch: vit-ti, vit-s, vit-b or vit-l, not '%s'",
			      s);
}

int main(int argc, char **argv)
{
	pfm_cli_init("distill-step");
	pfm_distill_run_opts o = {.warn = pfm_warn, .stop = &stop_flag};
	pfm_distill_defaults(&o.d);
	pfm_aug_defaults(&o.aug);
	pfm_distill_opts *d = &o.d;
	int c, rc, training = 0;
	int64_t n;
	double vv[3];
	const char *mlp = "gelu";
	while ((c = getopt_long(argc, argv, "i:o:s:e:b:j:qhV", longopts,
				NULL)) != -1) {
		rc = 0;
		/* options that shape the run: refused with --resume */
		if (c == 'e' || c == 'b' || (c >= O_ARCH && c <= O_SEED &&
					     c != O_EGRID && c != O_SKIP))
			training = c;
		switch (c) {
		case 'i': o.input = optarg; break;
		case 'o': o.output = optarg; break;
		case 's': o.save = optarg; break;
		case O_TEACHER: o.teacher = optarg; break;
		case O_SAVE_EVERY:
			rc = count(c, optarg, 0, INT64_MAX, &o.save_every);
			break;
		case O_RESUME: o.resume = optarg; break;
		case O_NAME:
			if (!*optarg || strpbrk(optarg, "\"\\/"))
				return pfm_usage_fail("--name: no quotes, "
						      "backslashes or slashes");
			o.name = optarg;
			break;
		case O_RUN: o.run = optarg; break;
		case 'e': rc = expert(optarg, d); break;
		case O_EGRID:
			if (!strcmp(optarg, "crop"))
				o.expert_grid = PFM_EXPERT_GRID_CROP;
			else if (!strcmp(optarg, "tile"))
				o.expert_grid = PFM_EXPERT_GRID_TILE;
			else
				return pfm_usage_fail("--expert-grid: crop or "
						      "tile, not '%s'", optarg);
			break;
		case O_SKIP: o.skip_incomplete = 1; break;
		case O_ARCH: rc = arch(optarg, d); break;
		case O_PATCH:
			rc = count(c, optarg, 1, 64, &n);
			d->patch = (int)n;
			break;
		case O_REG:
			rc = count(c, optarg, 0, 64, &n);
			d->reg = (int)n;
			break;
		case O_LS: rc = num(c, optarg, 0, 10, &d->layerscale); break;
		case O_MLP:
			if (strcmp(optarg, "gelu") && strcmp(optarg, "swiglu"))
				return pfm_usage_fail("--mlp: gelu or swiglu, not "
						      "'%s'", optarg);
			mlp = optarg;
			break;
		case O_INIT: d->init = optarg; break;
		case O_DROP: rc = num(c, optarg, 0, 0.99, &d->drop_path); break;
		case 'b':
			rc = count(c, optarg, 1, 65536, &n);
			d->batch = (int)n;
			break;
		case O_GSIZE:
			rc = count(c, optarg, 1, 4096, &n);
			d->global_size = (int)n;
			break;
		case O_LSIZE:
			rc = count(c, optarg, 1, 4096, &n);
			d->local_size = (int)n;
			break;
		case O_NLOCAL:
			rc = count(c, optarg, 0, 64, &n);
			d->n_local = (int)n;
			break;
		case O_GSCALE: rc = list(c, optarg, 2, 1e-4, 1, o.aug.gscale); break;
		case O_LSCALE: rc = list(c, optarg, 2, 1e-4, 1, o.aug.lscale); break;
		case O_NOAUG: o.aug.augment = 0; break;
		case O_BLUR: rc = list(c, optarg, 3, 0, 1, o.aug.blur_p); break;
		case O_SOLAR: rc = num(c, optarg, 0, 1, &o.aug.solarize_p); break;
		case O_HED: rc = num(c, optarg, 0, 1, &o.aug.hed_sigma); break;
		case O_PROTO:
			rc = count(c, optarg, 2, 1 << 20, &n);
			d->prototypes = (int)n;
			break;
		case O_HHID:
			rc = count(c, optarg, 1, 65536, &n);
			d->head_hidden = (int)n;
			break;
		case O_HBN:
			rc = count(c, optarg, 1, 65536, &n);
			d->head_bottleneck = d->expert_bottleneck = (int)n;
			break;
		case O_HLAY:
			rc = count(c, optarg, 1, 8, &n);
			d->head_layers = (int)n;
			break;
		case O_DINOW: rc = num(c, optarg, 0, 1e6, &d->dino_w); break;
		case O_IBOTW: rc = num(c, optarg, 0, 1e6, &d->ibot_w); break;
		case O_KOLEOW: rc = num(c, optarg, 0, 1e6, &d->koleo_w); break;
		case O_CENTER:
			if (!strcmp(optarg, "ema"))
				d->centering = PFM_CENTER_EMA;
			else if (!strcmp(optarg, "sinkhorn"))
				d->centering = PFM_CENTER_SK;
			else
				return pfm_usage_fail("--centering: ema or "
						      "sinkhorn, not '%s'", optarg);
			break;
		case O_CMOM: rc = num(c, optarg, 0, 1, &d->center_m); break;
		case O_STEMP: rc = num(c, optarg, 1e-4, 100, &d->student_temp); break;
		case O_TTEMP: rc = num(c, optarg, 1e-4, 100, &d->teacher_temp); break;
		case O_TTEMP0:
			rc = num(c, optarg, 1e-4, 100, &d->teacher_temp_start);
			break;
		case O_TTEMPW:
			rc = count(c, optarg, 0, INT64_MAX, &d->teacher_temp_steps);
			break;
		case O_MPROB: rc = num(c, optarg, 0, 1, &d->mask_prob); break;
		case O_MRATIO:
			rc = list(c, optarg, 2, 0, 1, vv);
			d->mask_min = vv[0], d->mask_max = vv[1];
			break;
		case O_STEPS: rc = count(c, optarg, 1, INT64_MAX / 2, &d->steps); break;
		case O_LR: rc = num(c, optarg, 0, 100, &d->lr); break;
		case O_MINLR: rc = num(c, optarg, 0, 100, &d->min_lr); break;
		case O_WARMUP: rc = count(c, optarg, 0, INT64_MAX, &d->warmup); break;
		case O_WD: rc = num(c, optarg, 0, 100, &d->wd); break;
		case O_WDEND: rc = num(c, optarg, 0, 100, &d->wd_end); break;
		case O_LDEC: rc = num(c, optarg, 1e-6, 1, &d->layer_decay); break;
		case O_PLR: rc = num(c, optarg, 0, 100, &d->patch_lr_mult); break;
		case O_CLIP: rc = num(c, optarg, 0, 1e9, &d->clip); break;
		case O_FREEZE:
			rc = count(c, optarg, 0, INT64_MAX, &d->freeze_last);
			break;
		case O_MOM: rc = num(c, optarg, 0, 1, &d->mom); break;
		case O_MOMEND: rc = num(c, optarg, 0, 1, &d->mom_end); break;
		case O_BETA1: rc = num(c, optarg, 1e-6, 0.999999, &d->beta1); break;
		case O_BETA2: rc = num(c, optarg, 1e-6, 0.999999, &d->beta2); break;
		case 'j':
			rc = count(c, optarg, 1, 256, &n);
			d->threads = (int)n;
			break;
		case O_SEED:
			rc = count(c, optarg, 0, INT64_MAX, &n);
			d->seed = (uint64_t)n;
			break;
		case O_PROGRESS: o.progress = 1; break;
		case 'q': o.quiet = 1; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': pfm_print_version(); return 0;
		default:
			if ((rc = pfm_io_option(c, optarg, &o.io)))
				return rc;
		}
		if (rc)
			return rc;
	}
	if (optind < argc)
		return pfm_usage_fail("unexpected argument '%s' (input is -i "
				      "or stdin)", argv[optind]);
	if (o.resume && training)
		return pfm_usage_fail("--%s: a resumed run keeps the settings of "
				      "its checkpoint", optname(training));
	if (o.teacher && !o.save)
		return pfm_usage_fail("--teacher goes with --save");
	if (o.save_every && !o.save)
		return pfm_usage_fail("--save-every goes with --save");
	d->mlp = !strcmp(mlp, "swiglu") ? PFM_MLP_SWIGLU : PFM_MLP_GELU;
	/* DINOv2's SwiGLUFFNFused: 2/3 of 4D, rounded up to 8 */
	d->hidden = d->mlp == PFM_MLP_SWIGLU ? ((4 * d->dim * 2 / 3) + 7) / 8 * 8
					     : 4 * d->dim;
	d->img = d->global_size; /* the model's img_size: the global crop */
	if (d->img % d->patch)
		return pfm_usage_fail("--global-size %d is not a multiple of "
				      "--patch %d", d->img, d->patch);
	if ((rc = pfm_io_check(&o.io, o.input, 0)) ||
	    (rc = pfm_io_check(&o.io, o.output, 1)))
		return rc;
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	pfm_err e = {0};
	rc = pfm_distill_run(&o, &e);
	if (rc < 0) {
		if (e.code == EPIPE)
			return PFM_EXIT_DATA;
		return pfm_fail("%s", e.msg);
	}
	return 0;
}
