/* gen_data.h: the texts of the generative tasks (reports, questions and
 * answers) read from their published layouts, joined with the bags of
 * embeddings (mil.h's pfm_bagset) and split into train / val / test.
 *
 * Layouts (report-gen(1) and vqa-train(1) describe them for users):
 *   reports  R2Gen / HistGen annotation.json:
 *              {"train": [{"id": ID, "report": TEXT, ...}], "val": [...],
 *               "test": [...]}
 *            PatchGastricADC22 captions.csv: id, subtype, text (one row
 *              per slide), split by an id,split CSV or a seeded
 *              train:val:test split stratified by subtype
 *   VQA      JSON lines {"image", "question", "answer", "split", "type"}
 *            WSI-VQA's WsiVQA_{train,val,test}.json: an array of
 *              {"Id", "Question", "Answer", "Choice" (optional)}; Id is a
 *              TCGA case (the split comes from the file name)
 * An ID joins the bag with that slide_id, else (TCGA cases) the first
 * bag, in name order, whose slide_id starts with "ID-". */
#ifndef PFM_GEN_DATA_H
#define PFM_GEN_DATA_H

#include <stdint.h>

#include "err.h"
#include "mil.h"

enum { PFM_GEN_CLOSED = 0, PFM_GEN_OPEN = 1 };

typedef struct {
	char *id;        /* as the file names it */
	int bag;         /* index in the bagset; -1 until joined */
	int split;       /* PFM_SPLIT_TRAIN, _VAL, _TEST; NONE: not yet */
	char *text;      /* the report, or the answer */
	char *question;  /* VQA */
	int type;        /* VQA: PFM_GEN_CLOSED / PFM_GEN_OPEN */
	char **choices;  /* WSI-VQA's multiple choice; NULL: none */
	int nchoices;
	char *stratum;   /* captions: the subtype */
	char where[96];  /* "file:line" or "file: train[3]", for messages */
} pfm_gen_item;

typedef struct {
	int n, cap;
	pfm_gen_item *items;
	/* after pfm_gen_join: what did not match, by name */
	int nmissing, nunused;
	char **missing;  /* ids without embeddings (the items are dropped) */
	char **unused;   /* slide ids with embeddings but no text (borrowed) */
} pfm_gen_set;

/* Readers append to s; every problem names the file and line or item. */
int pfm_gen_read_annotation(pfm_gen_set *s, const char *path, pfm_err *e);
int pfm_gen_read_captions(pfm_gen_set *s, const char *path, pfm_err *e);
/* JSON lines, or (a file starting with '[') a WSI-VQA array. */
int pfm_gen_read_qa(pfm_gen_set *s, const char *path, pfm_err *e);

/* Splits from an id,split CSV (every item's id must be in it). */
int pfm_gen_splits_csv(pfm_gen_set *s, const char *path, pfm_err *e);
/* Items without a split get one by their id: the distinct ids (grouped
 * by stratum when items have one) are shuffled with seed and cut in the
 * ratio a:b:c, round(n a/(a+b+c)) and round(n (a+b)/(a+b+c)). */
void pfm_gen_splits_ratio(pfm_gen_set *s, const double ratio[3],
			  uint64_t seed);

/* Join with the bags: items whose id has no bag go to s->missing and are
 * dropped, bags no item names to s->unused. */
int pfm_gen_join(pfm_gen_set *s, const pfm_bagset *bags, pfm_err *e);
void pfm_gen_set_free(pfm_gen_set *s);

#endif
