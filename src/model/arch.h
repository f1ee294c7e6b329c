/* arch.h — the architecture seam (SEAMS.md 4a): what a model family provides, one table per
 * family. model.c/step.c/decode.c/init.c and the adapter code call these through the public
 * bone_model_* functions, so score, train, generate, eval, merge, count, inspect and bench
 * never branch on the model type.
 *
 * The Llama family (Llama, Mistral, Qwen2) is the built-in path: its body stays where it was
 * (model.c load/save walk/make_trainable, step.c, decode.c, init.c), and a NULL entry in a table
 * means "that built-in path". RWKV-6 (rwkv6.c) fills every entry. */
#ifndef BONE_MODEL_ARCH_H
#define BONE_MODEL_ARCH_H
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "model/config.h"
#include "ops/gemm.h"

#define BONE_MAXPROJ 8 /* the most adaptable linears per layer of any family (RWKV-6: 8) */

struct bone_model;
struct bone_params;
struct bone_acts;
struct bone_batch;
struct bone_kv;
struct bone_linear;
struct cJSON;

/* One tensor of a model directory, as a family lists it for the one writer (model.c
 * bone_model_save_opts, init.c bone_model_init_random_opts): its HF name and shape, in the
 * family's state-dict order (the order decides transformers-style shards). The writer streams:
 * it makes each tensor's fp32 values only when it reaches it. */
typedef struct bone_arch_tensor {
    char name[128];
    int ndim;
    int64_t shape[3];
    /* save: where the values are (stored dtype or fp32), and the adaptable linear whose weight
     * this is (a merge folds its adapter in there), or NULL */
    bone_wref ref;
    struct bone_linear *lin;
    /* init: how init_draw makes the values; stream is the tensor's own random stream
     * (seed, stream), kind/layer/aux are the family's */
    uint64_t stream;
    int kind;
    int64_t layer, aux;
} bone_arch_tensor;

typedef struct bone_arch_i {
    const char *name;
    int nproj;                       /* adaptable linears per layer */
    const char *const *proj_names;   /* (nproj) target names, as PEFT target_modules (suffix match) */
    const char *targets_help;        /* the --targets names this family accepts, for messages */
    /* an extra --targets name (an alias) → bit mask over projections; 0 when unknown */
    unsigned (*proj_alias)(const char *s, size_t n);
    /* module path, shape and bias of linear p of layer l, from the config alone */
    void (*linear_info)(const bone_config *c, int64_t l, int p, char *name, size_t n, int64_t *O, int64_t *I,
                        int *bias);
    int64_t (*full_count)(const bone_config *c);   /* every parameter (method full) */
    /* bone inspect: the family's hyper-parameters into the JSON object o (NULL: Llama's rope,
     * norm eps and biases) */
    void (*describe)(const bone_config *c, struct cJSON *o);
    /* --train-extra: parameters trained in full beside an adapter ("time", "ln"): how many */
    int64_t (*extra_count)(const bone_config *c, const char *extra, bone_err *e);
    /* --- with a model (NULL: the Llama path) --- */
    int (*load)(const char *dir, struct bone_model *m, bone_err *e); /* config and tensors opened */
    void (*free)(struct bone_model *m);
    struct bone_linear *(*linear)(struct bone_model *m, int64_t idx);
    void (*make_trainable)(struct bone_model *m, struct bone_params *P);
    int (*train_extra)(struct bone_model *m, const char *extra, struct bone_params *P, bone_err *e);
    void (*extra_bind)(struct bone_model *m, struct bone_params *P);
    int (*save_extra)(struct bone_model *m, const char *dir, bone_err *e); /* model.h bone_model_save_extra */
    int (*load_extra)(struct bone_model *m, const char *dir, bone_err *e);
    /* the tensors a save (or merge) writes, in state-dict order: returns how many, filling t
     * when it is non-NULL (NULL: the Llama list in model.c) */
    int64_t (*save_walk)(struct bone_model *m, bone_arch_tensor *t);
    size_t (*acts_floats)(const bone_config *c, int64_t B, int64_t T, int layout, size_t xent_floats);
    /* per-thread working memory of the sequence mixer beyond acts_floats (memory plan):
     * Llama's attention tiles; RWKV-6 carves WKV6's with its activations (0) */
    size_t (*mixer_ws_floats)(const bone_config *c, int64_t T);
    int (*step)(struct bone_model *m, struct bone_acts *a, const struct bone_batch *b, int train, float grad_scale,
                double *loss_sum, int64_t *count, float *logits, bone_err *e);
    void (*state_init)(struct bone_kv *kv, const struct bone_model *m, int64_t cap);
    int (*decode)(struct bone_model *m, struct bone_kv *kv, const int32_t *ids, int64_t n, float *logits,
                  bone_err *e);
    /* one new token for each of B sequences with their own states (kv[b]), logits (B, V), equal
     * to `decode` of each alone; NULL: bone_generate_batch calls `decode` per sequence */
    int (*decode_many)(struct bone_model *m, struct bone_kv *const *kv, const int32_t *ids, int64_t B, float *logits,
                       bone_err *e);
    /* bone init: the tensors of a random model (as save_walk, from the config alone), and the
     * fp32 values of one of them into x (numel floats) (NULL: Llama's, in init.c) */
    int64_t (*init_walk)(const bone_config *c, bone_arch_tensor *t);
    void (*init_draw)(const bone_config *c, const bone_arch_tensor *t, uint64_t seed, float *x);
    /* forward flops per token and layer of the sequence mixer beside the adaptable linears
     * (attention over T positions; RWKV's WKV and low-rank mixes), 2 per multiply-add: bench */
    double (*mixer_flops)(const bone_config *c, int64_t T);
} bone_arch_i;

const bone_arch_i *bone_arch_of(bone_arch a);
static inline const bone_arch_i *bone_arch_cfg(const bone_config *c) { return bone_arch_of(c->arch); }

/* The adaptable linear walk, from the config alone (count, bench) */
void bone_linear_info(const bone_config *c, int64_t l, int p, char *name, size_t n, int64_t *O, int64_t *I, int *bias);
/* --targets → mask[nproj]; NULL/""/"all-linear" = every projection */
int bone_targets_parse(const bone_config *c, const char *s, int *mask, bone_err *e);

#endif
