/* vqa-train: visual question answering on frozen embeddings: an image's
 * or slide's embeddings and the question's tokens through one
 * transformer encoder, answers classified over the training answers;
 * closed accuracy, open exact match and F1 as result frames. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "gen_task.h"

static const char usage[] =
"Usage: vqa-train [OPTION]... --qa FILE [INPUT]...\n"
"Train a question-answering head on embedding frames grouped by slide_id\n"
"into bags (an image is a bag of one): the bag's tiles and the question's\n"
"tokens go through one transformer encoder, the answer is a class among the\n"
"training answers (yes/no for closed questions). Select on the validation\n"
"split, write the test split's closed accuracy, open exact match, open F1\n"
"and overall accuracy as result frames (for rank-stats).\n"
"INPUT: -, a frame file, a directory of frame files or a ZeroMQ endpoint\n"
"(default -).\n"
"\n"
"Data:\n"
"  -i, --input SPEC        embedding frames (as an INPUT argument)\n"
"      --qa FILE           questions: JSON lines {\"image\",\"question\",\"answer\",\n"
"                          \"split\"[,\"type\"]}, or WSI-VQA's WsiVQA_SPLIT.json\n"
"                          (repeat for several files)\n"
"      --split R           seeded train:val:test split of the images for\n"
"                          questions without one (7:1:2)\n"
"      --emb NAME          use emb.NAME (default: the only embedding)\n"
"      --max-tiles N       sample at most N tiles of a bag per training step\n"
"      --strict            questions without embeddings, or embeddings without\n"
"                          questions, are errors (default: listed)\n"
"Tokenizer:\n"
"      --threshold N       question words seen fewer than N times in training\n"
"                          become <unk> (1)\n"
"      --max-len N         question tokens kept (40)\n"
"      --max-answers N     answer classes: the N most frequent training\n"
"                          answers (0: all; default 0)\n"
"      --generate          answers generated as text by a decoder over the\n"
"                          encoded tiles and question, not classified\n"
"Model:\n"
"      --width D           model width (256)\n"
"      --layers N          encoder layers over tiles and question (2)\n"
"      --heads H           attention heads (4)\n"
"      --ff N              feed-forward width (2 x width)\n"
"      --region N          mean-pool regions of N tiles before the encoder\n"
"                          (0: off)\n"
"      --dropout P         dropout (0.1)\n"
"Training:\n"
"      --epochs N          maximum epochs (30; 0 with --load: evaluate only)\n"
"      --batch B           questions per optimizer step (16)\n"
"      --lr LR             AdamW learning rate (5e-4)\n"
"      --wd WD             AdamW weight decay (1e-2)\n"
"      --clip C            clip the gradient norm at C (1; 0: off)\n"
"      --label-smoothing E label smoothing of the cross-entropy (0)\n"
"      --patience N        stop after N epochs without improvement (5; 0: off)\n"
"      --min-epochs N      never stop before N epochs (3)\n"
"      --monitor M         select on val accuracy or loss (accuracy)\n"
"      --seed S            seed (0)\n"
"  -j, --threads N         worker threads (1)\n"
"Decoding (with --generate):\n"
"      --dec-layers N      decoder layers (2)\n"
"      --beam N            beam width (1: greedy, default)\n"
"      --no-repeat-ngram N never repeat an n-gram of N tokens (0: off, default)\n"
"      --length-penalty A  beam scores divided by length^A (0)\n"
"      --repetition-penalty F  logits of tokens already generated divided\n"
"                          by F (1: off)\n"
"Output:\n"
"  -o, --output SPEC       result frames (default -)\n"
"      --predictions FILE  predicted and true answers of the test split\n"
"                          (JSON lines)\n"
"      --save FILE         best checkpoint (safetensors, with the vocabularies\n"
"                          and configuration)\n"
"      --load FILE         start from a checkpoint (with --epochs 0: evaluate)\n"
"      --log SPEC          metric frames per epoch (train loss, val metrics)\n"
"      --task NAME         task name (default: the first --qa file's name)\n"
"      --model NAME        model name in results (default: the embedding's)\n"
"      --run-id ID         run id in results (default: a hash of the arguments)\n"
"      --bootstrap N       N bootstrap replicates: confidence intervals\n"
"      --ci LEVEL          bootstrap confidence level (0.95)\n"
"      --baseline          also the most frequent training answer's results\n"
"                          (per question type), as model \"most-frequent\"\n"
PFM_GEN_USAGE_TAIL
"Examples:\n"
"  vqa-train --qa pathvqa.jsonl feats/ | rank-stats -m accuracy\n"
"  vqa-train --qa WsiVQA_train.json --qa WsiVQA_val.json --qa WsiVQA_test.json \\\n"
"      --save vqa.safetensors --predictions answers.jsonl feats/ > results.mpk\n"
"See vqa-train(1), report-gen(1), rank-stats(1).\n";

enum { O_QA = 256, O_MAXANS, O_GENERATE };

static const struct option longopts[] = {
	{"qa", required_argument, 0, O_QA},
	{"max-answers", required_argument, 0, O_MAXANS},
	{"generate", no_argument, 0, O_GENERATE},
	PFM_GEN_LONGOPTS,
	PFM_GEN_LONGOPTS_DECODE,
	{0, 0, 0, 0},
};

int main(int argc, char **argv)
{
	pfm_cli_init(argv[0]);
	pfm_gen_opts o = {.threshold = 1, .max_len = 40, .width = 256, .enc_layers = 2,
			  .dec_layers = 2, .heads = 4, .dropout = 0.1, .epochs = 30, .batch = 16,
			  .lr = 5e-4, .wd = 1e-2, .clip = 1, .patience = 5, .min_epochs = 3,
			  .monitor = PFM_GEN_MON_ACCURACY, .threads = 1, .beam = 1,
			  .repetition_penalty = 1, .output = "-", .ci = 0.95};
	const char *qa[64];
	int nqa = 0, max_answers = 0, generate = 0, c;
	unsigned monitors = 1u << PFM_GEN_MON_LOSS | 1u << PFM_GEN_MON_ACCURACY;
	while ((c = getopt_long(argc, argv, PFM_GEN_SHORTOPTS, longopts, 0)) != -1) {
		if (c == O_QA) {
			if (nqa == 64)
				return pfm_usage_fail("--qa: at most 64 files");
			qa[nqa++] = optarg;
			continue;
		}
		if (c == O_GENERATE) {
			generate = 1;
			continue;
		}
		if (c == O_MAXANS) {
			int64_t v;
			if (pfm_parse_i64(optarg, &v) || v < 0 || v > 1 << 24)
				return pfm_usage_fail("--max-answers: not a count: '%s'", optarg);
			max_answers = (int)v;
			continue;
		}
		int rc = pfm_gen_option(&o, c, optarg, usage, monitors);
		if (rc)
			return rc == 1 ? 0 : rc;
	}
	if (pfm_gen_finish(&o, argc, argv, optind))
		return PFM_EXIT_USAGE;
	if (!nqa)
		return pfm_usage_fail("no questions: give --qa FILE");

	pfm_gen_set set = {0};
	pfm_err e = {0};
	for (int i = 0; i < nqa; i++)
		if (pfm_gen_read_qa(&set, qa[i], &e)) {
			pfm_gen_set_free(&set);
			return pfm_fail("%s", e.msg);
		}
	pfm_gen_prog p = {"vqa-train", PFM_GEN_VQA, generate ? PFM_SEQ_VQA_GEN : PFM_SEQ_VQA_CLS,
			  max_answers, qa[0], argc, argv};
	int rc = pfm_gen_main(&o, &set, &p);
	pfm_gen_set_free(&set);
	return rc;
}
