/* report-gen: pathology report generation from a slide's frozen tile
 * embeddings (a transformer encoder over the bag, an autoregressive
 * decoder with cross-attention), trained and evaluated with BLEU,
 * ROUGE-L and CIDEr-D; result frames for rank-stats. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "gen_task.h"

static const char usage[] =
"Usage: report-gen [OPTION]... (--annotation JSON | --captions CSV) [INPUT]...\n"
"Train a report generator on tile embedding frames grouped by slide_id into\n"
"bags (transformer encoder over the bag, autoregressive transformer decoder\n"
"with cross-attention), select it on the validation split, write the test\n"
"split's BLEU-1..4, ROUGE-L and CIDEr-D as result frames (for rank-stats).\n"
"INPUT: -, a frame file, a directory of frame files or a ZeroMQ endpoint\n"
"(default -).\n"
"\n"
"Data:\n"
"  -i, --input SPEC        embedding frames (as an INPUT argument)\n"
"      --annotation JSON   R2Gen/HistGen annotation: {\"train\":[{\"id\",\"report\"}],\n"
"                          \"val\":[...],\"test\":[...]}\n"
"      --captions CSV      PatchGastricADC22 captions.csv (id,subtype,text)\n"
"      --splits CSV        with --captions: id,split (train, val or test)\n"
"      --split R           with --captions: seeded train:val:test split (7:1:2)\n"
"      --emb NAME          use emb.NAME (default: the only embedding)\n"
"      --max-tiles N       sample at most N tiles of a bag per training step\n"
"      --strict            reports without embeddings, or embeddings without a\n"
"                          report, are errors (default: listed)\n"
"Tokenizer:\n"
"      --threshold N       words seen fewer than N times in the training\n"
"                          reports become <unk> (3)\n"
"      --max-len N         report tokens trained on and generated at most (100)\n"
"Model:\n"
"      --width D           model width (256)\n"
"      --layers N          encoder layers over the bag (1)\n"
"      --dec-layers N      decoder layers (2)\n"
"      --heads H           attention heads (4)\n"
"      --ff N              feed-forward width (2 x width)\n"
"      --region N          mean-pool regions of N tiles before the encoder\n"
"                          (0: off)\n"
"      --dropout P         dropout (0.1)\n"
"Training:\n"
"      --epochs N          maximum epochs (30; 0 with --load: evaluate only)\n"
"      --batch B           reports per optimizer step (8)\n"
"      --lr LR             AdamW learning rate (5e-4)\n"
"      --wd WD             AdamW weight decay (5e-5)\n"
"      --clip C            clip the gradient norm at C (1; 0: off)\n"
"      --label-smoothing E label smoothing of the cross-entropy (0)\n"
"      --patience N        stop after N epochs without improvement (5; 0: off)\n"
"      --min-epochs N      never stop before N epochs (3)\n"
"      --monitor M         select on val bleu4, cider, rougeL or loss (bleu4)\n"
"      --seed S            seed (0)\n"
"  -j, --threads N         worker threads (1)\n"
"Decoding:\n"
"      --beam N            beam width (3; 1: greedy)\n"
"      --no-repeat-ngram N never repeat an n-gram of N tokens (3; 0: off)\n"
"      --length-penalty A  beam scores divided by length^A (0)\n"
"      --repetition-penalty F  logits of tokens already generated divided\n"
"                          by F (1: off)\n"
"Output:\n"
"  -o, --output SPEC       result frames (default -)\n"
"      --predictions FILE  generated and reference reports of the test split\n"
"                          (JSON lines)\n"
"      --save FILE         best checkpoint (safetensors, with the vocabulary\n"
"                          and configuration)\n"
"      --load FILE         start from a checkpoint (with --epochs 0: evaluate)\n"
"      --log SPEC          metric frames per epoch (train loss, val metrics)\n"
"      --task NAME         task name (default: the annotation file's name)\n"
"      --model NAME        model name in results (default: the embedding's)\n"
"      --run-id ID         run id in results (default: a hash of the arguments)\n"
"      --bootstrap N       N bootstrap replicates: confidence intervals\n"
"      --ci LEVEL          bootstrap confidence level (0.95)\n"
"      --baseline          also the most frequent training report's results,\n"
"                          as model \"most-frequent\"\n"
PFM_GEN_USAGE_TAIL
"Examples:\n"
"  report-gen --annotation annotation.json feats/ | rank-stats -m bleu4\n"
"  report-gen --captions captions.csv --split 7:1:2 --save rg.safetensors \\\n"
"      --predictions test.jsonl feats.mpk > results.mpk\n"
"  report-gen --annotation annotation.json --load rg.safetensors --epochs 0 feats/\n"
"See report-gen(1), vqa-train(1), rank-stats(1).\n";

enum { O_ANNOT = 256, O_CAPTIONS };

static const struct option longopts[] = {
	{"annotation", required_argument, 0, O_ANNOT},
	{"captions", required_argument, 0, O_CAPTIONS},
	PFM_GEN_LONGOPTS,
	PFM_GEN_LONGOPTS_DECODE,
	{0, 0, 0, 0},
};

int main(int argc, char **argv)
{
	pfm_cli_init(argv[0]);
	pfm_gen_opts o = {.threshold = 3, .max_len = 100, .width = 256, .enc_layers = 1,
			  .dec_layers = 2, .heads = 4, .dropout = 0.1, .epochs = 30, .batch = 8,
			  .lr = 5e-4, .wd = 5e-5, .clip = 1, .patience = 5, .min_epochs = 3,
			  .monitor = PFM_GEN_MON_BLEU4, .threads = 1, .beam = 3,
			  .no_repeat_ngram = 3, .repetition_penalty = 1, .output = "-", .ci = 0.95};
	const char *annotation = NULL, *captions = NULL;
	int c;
	unsigned monitors = 1u << PFM_GEN_MON_LOSS | 1u << PFM_GEN_MON_BLEU4 |
			    1u << PFM_GEN_MON_CIDER | 1u << PFM_GEN_MON_ROUGEL;
	while ((c = getopt_long(argc, argv, PFM_GEN_SHORTOPTS, longopts, 0)) != -1) {
		if (c == O_ANNOT) {
			annotation = optarg;
			continue;
		}
		if (c == O_CAPTIONS) {
			captions = optarg;
			continue;
		}
		int rc = pfm_gen_option(&o, c, optarg, usage, monitors);
		if (rc)
			return rc == 1 ? 0 : rc;
	}
	if (pfm_gen_finish(&o, argc, argv, optind))
		return PFM_EXIT_USAGE;
	if (!!annotation + !!captions != 1)
		return pfm_usage_fail("give one of --annotation and --captions");
	if (annotation && (o.splits_csv || o.ratio[0] > 0))
		return pfm_usage_fail("--splits and --split go with --captions (annotation.json has its splits)");
	if (captions && !o.splits_csv && !(o.ratio[0] > 0))
		o.ratio[0] = 7, o.ratio[1] = 1, o.ratio[2] = 2;

	pfm_gen_set set = {0};
	pfm_err e = {0};
	if (annotation ? pfm_gen_read_annotation(&set, annotation, &e)
		       : pfm_gen_read_captions(&set, captions, &e)) {
		pfm_gen_set_free(&set);
		return pfm_fail("%s", e.msg);
	}
	pfm_gen_prog p = {"report-gen", PFM_GEN_REPORT, PFM_SEQ_REPORT, 0,
			  annotation ? annotation : captions, argc, argv};
	int rc = pfm_gen_main(&o, &set, &p);
	pfm_gen_set_free(&set);
	return rc;
}
