/* distill_ckpt.h: distill-step's checkpoints, in safetensors.
 *
 * A checkpoint holds, as F32 tensors under the names of distill.h's
 * layout (timm names for the backbone):
 *   student.NAME   every student tensor (backbone, mask_token,
 *                  dino_head.*, expert.E.*)
 *   teacher.NAME   the EMA teacher (backbone, mask_token, dino_head.*)
 *   adam_m.NAME, adam_v.NAME   AdamW's moments
 *   dino_center [1, K], ibot_center [1, 1, K]
 * and in __metadata__ "pathfm_distill": the caller's JSON (step, data
 * position, seed, options), written whole and handed back on load.
 *
 * The teacher's backbone alone, in timm names (DINOv2 names when
 * registers sit outside the position embeddings) with the model
 * configuration embed reads under "pathfm", is a separate file that
 * embed -m loads as is. */
#ifndef PFM_DISTILL_CKPT_H
#define PFM_DISTILL_CKPT_H

#include "distill.h"
#include "safetensors.h"

/* Write the checkpoint atomically. meta: JSON text (may be NULL). */
int pfm_distill_save(const pfm_distill *d, const char *path,
		     const char *meta, pfm_err *e);
/* Read tensors prefix + NAME into buf (the student layout; with ema_only
 * only the teacher's part). Every one must be present with its shape;
 * errors name the file and tensor. */
int pfm_distill_read(const pfm_distill *d, const pfm_st *st,
		     const char *prefix, float *buf, int ema_only, pfm_err *e);
/* Restore student, teacher, moments and centres from an open checkpoint
 * (step and data position are the caller's, from the metadata). */
int pfm_distill_restore(pfm_distill *d, const pfm_st *st, pfm_err *e);
/* The teacher's backbone for embed, named `name`. */
int pfm_distill_export_teacher(const pfm_distill *d, const char *path,
			       const char *name, pfm_err *e);

#endif
