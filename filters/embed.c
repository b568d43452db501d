/* embed: tile frames -> ViT embeddings (CPU). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "embed_run.h"
#include "vit.h"

static const char usage[] =
"Usage: embed -m MODEL [OPTION]...\n"
"Embed tile frames with a vision transformer: each tile frame comes out\n"
"with its embedding under emb.NAME, in input order; other frames pass.\n"
"\n"
"  -m, --model MODEL      a .safetensors file, or a NAME found as\n"
"                         DIR/NAME.safetensors in the models directory\n"
"      --model-dir DIR    models directory (default $PATHFM_MODELS, then\n"
"                         " PFM_MODELS_DIR_DEFAULT ")\n"
"  -a, --as NAME          key under emb (default: the model's name)\n"
"      --output-kind K    cls, mean, cls+mean, pooled or projected\n"
"                         (default: the model's)\n"
"      --tokens           add the patch tokens [N, D] under tokens.NAME\n"
"      --keep-pixels      keep pixels (frames stay tiles, for chaining\n"
"                         experts); default: drop them, frames become\n"
"                         embedding frames\n"
"      --dtype T          f32 (default) or f16 for what embed adds\n"
"      --precision P      fp32 (default) or bf16: linear layers in bf16 with\n"
"                         fp32 accumulation (oneDNN; ~2x faster, ~1e-2\n"
"                         relative error)\n"
"  -b, --batch N          tiles per forward pass (default 16)\n"
"  -j, --threads N        threads (default 1)\n"
"      --size N           input side after resize and crop (default: the\n"
"                         model's; must be a multiple of the patch size)\n"
"  -i, --input SPEC       read from SPEC (-, file, or endpoint; default -)\n"
"  -o, --output SPEC      write to SPEC (default -)\n"
"  -k, --keep-going       drop tiles that cannot be decoded (counted, exit\n"
"                         status 1) instead of stopping\n"
"      --info             print the model's configuration as JSON and exit\n"
"      --max-frame SIZE   largest frame accepted (default 256M)\n"
"      --hwm N            ZeroMQ high-water mark in frames (default 4)\n"
"      --timeout MS       ZeroMQ: give up after MS ms without a frame\n"
"      --force            write frames even to a terminal\n"
PFM_HELP_CURVE
"      --progress         progress on stderr even when not a terminal\n"
"  -q, --quiet            no progress line\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and exit\n"
"\n"
"Exit status: 0 ok, 1 bad model, tile or I/O error, 2 usage error.\n"
"Examples:\n"
"  wsi-tile --mpp 0.5 --size 224 slide.svs | embed -m uni -j 2 > uni.mpk\n"
"  embed -m uni --keep-pixels < tiles.mpk | embed -m phikon > both.mpk\n"
"  embed -m conch.safetensors --info\n"
"See embed(1), convert-weights(1), pathfm-frames(5).\n";

enum { O_MODEL_DIR = 256, O_KIND, O_TOKENS, O_KEEP_PIXELS, O_DTYPE, O_SIZE,
       O_INFO, O_PROGRESS, O_PRECISION };

static const struct option longopts[] = {
	{"model", required_argument, 0, 'm'},
	{"model-dir", required_argument, 0, O_MODEL_DIR},
	{"as", required_argument, 0, 'a'},
	{"output-kind", required_argument, 0, O_KIND},
	{"tokens", no_argument, 0, O_TOKENS},
	{"keep-pixels", no_argument, 0, O_KEEP_PIXELS},
	{"dtype", required_argument, 0, O_DTYPE},
	{"precision", required_argument, 0, O_PRECISION},
	{"batch", required_argument, 0, 'b'},
	{"threads", required_argument, 0, 'j'},
	{"size", required_argument, 0, O_SIZE},
	{"input", required_argument, 0, 'i'},
	{"output", required_argument, 0, 'o'},
	{"keep-going", no_argument, 0, 'k'},
	{"info", no_argument, 0, O_INFO},
	PFM_LONGOPT_MAX_FRAME,
	PFM_LONGOPT_HWM,
	PFM_LONGOPT_TIMEOUT,
	PFM_LONGOPT_FORCE,
	PFM_LONGOPTS_CURVE,
	{"progress", no_argument, 0, O_PROGRESS},
	{"quiet", no_argument, 0, 'q'},
	{"help", no_argument, 0, 'h'},
	{"version", no_argument, 0, 'V'},
	{0, 0, 0, 0}};

static int count_arg(const char *name, const char *s, int lo, int hi,
		     int *out)
{
	int64_t v;
	if (pfm_parse_i64(s, &v) || v < lo || v > hi)
		return pfm_usage_fail("--%s: want %d..%d, not '%s'", name, lo,
				      hi, s);
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	pfm_cli_init("embed");
	pfm_embed_opts o = {.out_kind = -1, .batch = 16, .threads = 1,
			    .warn = pfm_warn};
	int c, rc, info = 0;
	while ((c = getopt_long(argc, argv, "m:a:b:j:i:o:kqhV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'm': o.model = optarg; break;
		case O_MODEL_DIR: o.model_dir = optarg; break;
		case 'a':
			if (!*optarg || strchr(optarg, '.'))
				return pfm_usage_fail("--as: a name without "
						      "dots, not '%s'", optarg);
			o.as = optarg;
			break;
		case O_KIND:
			if (pfm_vit_out_parse(optarg, &o.out_kind))
				return pfm_usage_fail("--output-kind: cls, mean, "
						      "cls+mean, pooled or "
						      "projected, not '%s'",
						      optarg);
			break;
		case O_TOKENS: o.tokens = 1; break;
		case O_KEEP_PIXELS: o.keep_pixels = 1; break;
		case O_DTYPE:
			if (strcmp(optarg, "f32") && strcmp(optarg, "f16"))
				return pfm_usage_fail("--dtype: f32 or f16, not "
						      "'%s'", optarg);
			o.f16 = !strcmp(optarg, "f16");
			break;
		case O_PRECISION:
			if (strcmp(optarg, "fp32") && strcmp(optarg, "bf16"))
				return pfm_usage_fail("--precision: fp32 or bf16, "
						      "not '%s'", optarg);
			o.bf16 = !strcmp(optarg, "bf16");
			break;
		case 'b':
			if ((rc = count_arg("batch", optarg, 1, 4096, &o.batch)))
				return rc;
			break;
		case 'j':
			if ((rc = count_arg("threads", optarg, 1, 256,
					    &o.threads)))
				return rc;
			break;
		case O_SIZE:
			if ((rc = count_arg("size", optarg, 1, 8192, &o.size)))
				return rc;
			break;
		case 'i': o.input = optarg; break;
		case 'o': o.output = optarg; break;
		case 'k': o.keep_going = 1; break;
		case O_INFO: info = 1; break;
		case O_PROGRESS: o.progress = 1; break;
		case 'q': o.quiet = 1; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': pfm_print_version(); return 0;
		default:
			if ((rc = pfm_io_option(c, optarg, &o.io)))
				return rc;
		}
	}
	if (optind < argc)
		return pfm_usage_fail("unexpected argument '%s' (input is -i "
				      "or stdin)", argv[optind]);
	if (!o.model)
		return pfm_usage_fail("no model: give -m MODEL");
	if ((rc = pfm_io_check(&o.io, o.input, 0)) ||
	    (rc = pfm_io_check(&o.io, o.output, 1)))
		return rc;
	pfm_err e = {0};
	rc = info ? pfm_embed_info(&o, &e) : pfm_embed_run(&o, &e);
	if (rc < 0) {
		if (e.code == EPIPE) /* the reader left: not our failure */
			return 0;
		return pfm_fail("%s", e.msg);
	}
	return rc ? PFM_EXIT_DATA : 0;
}
