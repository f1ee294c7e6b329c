/* optim.h — AdamW (torch.optim.AdamW semantics), global-norm clipping
 * (torch.nn.utils.clip_grad_norm_) and HF-style learning-rate schedules. */
#ifndef BONE_TRAIN_OPTIM_H
#define BONE_TRAIN_OPTIM_H
#include <stdint.h>
#include "core/params.h"

typedef enum { BONE_SCHED_CONSTANT, BONE_SCHED_LINEAR, BONE_SCHED_COSINE } bone_schedule;

typedef struct bone_adamw {
    double lr, beta1, beta2, eps, weight_decay;
    int64_t t; /* completed updates */
} bone_adamw;

/* lr factor for the optimizer step that follows `done` completed steps (HF convention:
 * with warmup the first step has factor 0). */
double bone_lr_factor(bone_schedule s, int64_t done, int64_t warmup, int64_t total);
int bone_schedule_parse(const char *name, bone_schedule *out);
/* L2 norm of all gradients (double accumulation, fixed order). */
double bone_grad_norm(const bone_params *P);
/* Scales gradients so the norm is at most max_norm (no-op if max_norm <= 0). Returns the
 * norm before clipping. */
double bone_clip_grad(bone_params *P, double max_norm);
/* One AdamW update of every parameter with learning rate lr. */
void bone_adamw_step(bone_adamw *o, bone_params *P, double lr);

#endif
