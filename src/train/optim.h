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
/* L2 norm of all gradients, clipped ones if a clip is pending (double accumulation; the
 * summation order is fixed, so the result does not depend on the thread count). */
double bone_grad_norm(const bone_params *P);
/* torch.nn.utils.clip_grad_norm_: if the norm exceeds max_norm (> 0), the gradients are to
 * be multiplied by max_norm / (norm + 1e-6). The product is formed by the next
 * bone_adamw_step as it reads each gradient (P->clip_pending, core/params.h), not here.
 * Returns the norm before clipping. */
double bone_clip_grad(bone_params *P, double max_norm);
/* One AdamW update of every parameter with learning rate lr, from the gradients times a
 * pending clip coefficient (which it then clears). */
void bone_adamw_step(bone_adamw *o, bone_params *P, double lr);
/* The update of elements [lo, hi) alone with step count o->t (already advanced), their moments
 * at m[0..hi-lo) and v[0..hi-lo); the pending clip is left for the caller to clear. ZeRO-1
 * (train/dist.h) updates a rank's shard with it; bit-identical to the same elements of
 * bone_adamw_step. */
void bone_adamw_update(const bone_adamw *o, bone_params *P, double lr, int64_t lo, int64_t hi, float *m, float *v);

#endif
