/* params.h — the trainable parameters of a run, as one contiguous buffer each for
 * values, gradients and the two AdamW moments (so the optimizer is one loop and a
 * later all-reduce is one call).
 *
 * Use in two phases: bone_params_add() plans a tensor (name, shape) and returns its
 * index; bone_params_alloc() allocates all buffers (zeroed); then bone_params_value()/
 * bone_params_grad() give the tensor's slices. */
#ifndef BONE_CORE_PARAMS_H
#define BONE_CORE_PARAMS_H
#include <stdint.h>

#define BONE_MAX_DIMS 4

typedef struct bone_param {
    char *name;       /* e.g. "model.layers.0.self_attn.q_proj.weight" or an adapter key */
    int ndim;
    int64_t shape[BONE_MAX_DIMS];
    int64_t numel;
    int64_t offset;   /* element offset into the buffers */
} bone_param;

typedef struct bone_params {
    bone_param *p;
    int64_t n, cap;
    int64_t total;    /* elements in all tensors */
    float *value;     /* (total) */
    float *grad;      /* (total) */
    float *m, *v;     /* (total) AdamW moments */
    /* Gradient clipping folded into the optimizer step: bone_clip_grad (train/optim.h) does
     * not rescale `grad` in place but sets clip_pending and clip_coef, and bone_adamw_step
     * multiplies each gradient by clip_coef as it reads it — the same float products as an
     * in-place pass, without that extra read and write of every gradient. While clip_pending
     * is set, the clipped gradient is grad[i] * clip_coef; bone_params_zero_grad clears it.
     * (Zero, as after bone_params_init, means nothing pending.) */
    int clip_pending;
    float clip_coef;
} bone_params;

void bone_params_init(bone_params *P);
void bone_params_free(bone_params *P);
int64_t bone_params_add(bone_params *P, const char *name, int ndim, const int64_t *shape);
void bone_params_alloc(bone_params *P);
float *bone_params_value(bone_params *P, int64_t idx);
float *bone_params_grad(bone_params *P, int64_t idx);
int64_t bone_params_find(const bone_params *P, const char *name); /* -1 if absent */
void bone_params_zero_grad(bone_params *P);

#endif
