/* rwkv6_internal.h — what rwkv6.c (tensors, loading) and rwkv6_step.c (the math) share. */
#ifndef BONE_MODEL_RWKV6_INTERNAL_H
#define BONE_MODEL_RWKV6_INTERNAL_H
#include "model/model.h"
#include "model/rwkv6.h"

enum { RW_LN0_W, RW_LN0_B, RW_LNO_W, RW_LNO_B, RW_NGLOB };
extern const char *const rwkv6_vec_names[RW_NVEC];
extern const char *const rwkv6_glob_names[RW_NGLOB];

typedef struct rw_layer {
    float *v[RW_NVEC];  /* fp32 values, shapes as rwkv6_vec_shape */
    float *d[RW_NVEC];  /* gradients, or NULL when frozen */
    bone_linear lin[RW_NLIN];
} rw_layer;

typedef struct rw_model {
    rw_layer *ly;              /* (L) */
    float *g[RW_NGLOB];        /* (C) each: ln0 (pre_ln) weight/bias, ln_out weight/bias */
    float *dg[RW_NGLOB];
    float *owned;              /* the fp32 copies */
} rw_model;

int rwkv6_vec_shape(const bone_config *c, int k, int64_t *s);
int64_t rwkv6_vec_numel(const bone_config *c, int k);

size_t rwkv6_acts_floats(const bone_config *c, int64_t B, int64_t T, int layout, size_t xent_floats);
int rwkv6_step(bone_model *m, bone_acts *a, const bone_batch *b, int train, float grad_scale, double *loss_sum,
               int64_t *count, float *logits, bone_err *e);
void rwkv6_state_init(bone_kv *kv, const bone_model *m, int64_t cap);
int rwkv6_decode(bone_model *m, bone_kv *kv, const int32_t *ids, int64_t n, float *logits, bone_err *e);
int rwkv6_decode_many(bone_model *m, bone_kv *const *kv, const int32_t *ids, int64_t B, float *logits, bone_err *e);

#endif
