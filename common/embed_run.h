/* embed_run.h: the embed program's work: tile frames in, the same frames
 * with an embedding added out, in order, batched through the ViT. */
#ifndef PFM_EMBED_RUN_H
#define PFM_EMBED_RUN_H

#include "err.h"
#include "io.h"

typedef struct {
	const char *model;     /* path, or a name in model_dir */
	const char *model_dir; /* NULL: $PATHFM_MODELS, then the default */
	const char *as;        /* key under emb (NULL: the model's name) */
	const char *input, *output;
	int out_kind;    /* PFM_OUT_*, -1 = the model's default */
	int tokens;      /* add the patch tokens under tokens.NAME */
	int keep_pixels; /* else pixels go and the frame becomes "embedding" */
	int f16;         /* embeddings stored as f16 */
	int bf16;        /* linear layers in bf16 (oneDNN) */
	int batch, threads;
	int size;        /* input side (crop); 0 = the model's */
	int keep_going;  /* drop bad tiles (counted) instead of failing */
	int progress, quiet;
	pfm_io_opts io;
	/* where per-tile warnings go (--keep-going drops); may be NULL */
	void (*warn)(const char *fmt, ...);
} pfm_embed_opts;

#define PFM_MODELS_DIR_DEFAULT "/usr/local/share/pathfm/models"

/* Resolve o->model to a file path (into buf). 0 or -1. */
int pfm_embed_model_path(const pfm_embed_opts *o, char *buf, size_t cap,
			 pfm_err *e);
/* Print the model's configuration as one JSON object on stdout. */
int pfm_embed_info(const pfm_embed_opts *o, pfm_err *e);
/* Run the stream. 0; 1 when --keep-going dropped tiles; -1 with e
 * (e->code EPIPE: the reader left). */
int pfm_embed_run(const pfm_embed_opts *o, pfm_err *e);

#endif
