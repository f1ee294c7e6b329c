/* model.h — a Llama-family causal LM (Llama, Mistral, Qwen2) on CPU: weights, the
 * list of adapted-linear slots, and the forward/backward of a batch.
 *
 * Frozen weights stay in their stored dtype (mmapped safetensors); small vectors
 * (norms, biases) are fp32 copies. For full fine-tuning bone_model_make_trainable()
 * moves every tensor into the contiguous parameter buffer. */
#ifndef BONE_MODEL_MODEL_H
#define BONE_MODEL_MODEL_H
#include <stdint.h>
#include "adapter/linear.h"
#include "core/params.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "ops/ops.h"

enum { BONE_Q, BONE_K, BONE_V, BONE_O, BONE_GATE, BONE_UP, BONE_DOWN, BONE_NPROJ };
extern const char *const bone_proj_names[BONE_NPROJ];  /* "q_proj", ... "down_proj" */
/* (O, I) of projection p (BONE_Q..BONE_DOWN) under config c, and whether it has a bias. */
void bone_proj_shape(const bone_config *c, int p, int64_t *O, int64_t *I);
int bone_proj_has_bias(const bone_config *c, int p);

typedef struct bone_layer {
    float *ln1, *ln2;    /* (H) input_layernorm, post_attention_layernorm */
    float *dln1, *dln2;  /* (H) gradients or NULL */
    bone_linear proj[BONE_NPROJ];
} bone_layer;

typedef struct bone_model {
    bone_config cfg;
    bone_st_set st;       /* the opened safetensors files (mmapped) */
    bone_wref embed;      /* (V, H) */
    float *d_embed;       /* (V, H) or NULL */
    bone_wref lm_head;    /* (V, H); aliases embed when tied */
    float *d_lm_head;     /* (V, H) or NULL; == d_embed when tied */
    float *norm;          /* (H) final norm */
    float *dnorm;
    bone_layer *layers;   /* (L) */
    float *owned;         /* fp32 copies of norms and biases */
    bone_lin_ctx lin;     /* scratch shared by all linears */
    void *arch_data;      /* a non-Llama family's own weights (rwkv6.c); NULL for Llama */
} bone_model;

int bone_model_load(const char *dir, bone_model *m, bone_err *e);
void bone_model_free(bone_model *m);
/* --wkv-chunk: the chunk length of RWKV-6's chunked WKV in training and scoring (results equal
 * up to fp32 rounding; memory grows with it). 0 keeps the default (32); otherwise it must lie in
 * [1, BONE_WKV_CHUNK_MAX], and a model without a WKV (Llama) refuses it, naming the option. */
int bone_model_set_wkv_chunk(bone_model *m, int64_t chunk, bone_err *e);
/* Non-finite values (NaN, ±Inf) in the float tensors of s, read from the raw bits (exponent
 * all ones) without conversion: returns how many, with the first one's tensor index and
 * element in *first_t, *first_i (-1 when none). One pass over the weights: inspect, eval and
 * score's diagnosis of a non-finite loss call it; plain loading does not (hostile-use B12). */
int64_t bone_st_count_nonfinite(const bone_st_set *s, int64_t *first_t, int64_t *first_i);
/* Fails naming the file, tensor and element of the first non-finite weight of the model's
 * stored tensors and of the fp32 values in P (an adapter; P may be NULL). */
int bone_model_check_finite(const bone_model *m, const bone_params *P, bone_err *e);
/* Adaptable linears per layer (7 for Llama, 8 for RWKV-6: model/arch.h) */
int64_t bone_model_nproj(const bone_model *m);
/* Linear by index 0..nproj·L-1 (layer-major, the family's projection order). */
bone_linear *bone_model_linear(bone_model *m, int64_t idx);
int64_t bone_model_nlinears(const bone_model *m);
/* Full fine-tuning: every tensor becomes an fp32 trainable parameter named as in HF. The
 * mapped pages of each copied weight are released from RSS (the data stay readable from
 * the file); the model then only uses the copies. */
void bone_model_make_trainable(bone_model *m, bone_params *P);
/* --train-extra (RWKV-6: "time", "ln", a comma list; NULL/"" none): plans the selected
 * non-linear parameters into P beside the adapter, before bone_params_alloc; after it,
 * bone_model_extra_bind copies their values in and trains them there. A family without such
 * groups refuses a non-empty list. */
int bone_model_train_extra(bone_model *m, const char *extra, bone_params *P, bone_err *e);
void bone_model_extra_bind(bone_model *m, bone_params *P);
/* The --train-extra tensors (those that train) as DIR/train_extra.safetensors, fp32, HF names;
 * and applying such a file to a loaded model (bone merge, score --adapter): 0 when absent. */
#define BONE_EXTRA_FILE "train_extra.safetensors"
int bone_model_save_extra(bone_model *m, const char *dir, bone_err *e);
int bone_model_load_extra(bone_model *m, const char *dir, bone_err *e);
/* How a model directory is written (bone_model_save_opts; NULL = the defaults). */
typedef struct bone_save_opts {
    uint64_t max_shard;   /* bytes per safetensors shard; 0 = transformers' default (5 GB) */
    const char *tok_src;  /* copy the tokenizer and generation files from this directory (NULL: none) */
    /* if set, called for each linear: writes the weight to save (fp32, (O, I)) into out and
     * returns 1, or returns 0 to save L->w as it is, or -1 with e set (merge folds adapters
     * in here, one linear at a time) */
    int (*linear_weight)(void *ctx, bone_linear *L, float *out, bone_err *e);
    void *ctx;
} bone_save_opts;
/* Writes a complete model directory: config.json, model.safetensors or shards + index
 * (out_dtype), and the tokenizer files, into a temporary directory that then replaces dir
 * (core/fs.h bone_adir). Streams: one tensor is converted (or merged) at a time, and the mapped
 * pages of each weight read are released after it is written, so the peak memory is about
 * one fp32 tensor whatever the model's size. */
int bone_model_save_opts(bone_model *m, const char *dir, bone_dtype out_dtype, const bone_save_opts *o,
                         bone_err *e);
/* bone_model_save_opts with the defaults (no tokenizer files). */
int bone_model_save(bone_model *m, const char *dir, bone_dtype out_dtype, bone_err *e);

/* A random model in HF layout (bone init): config.json + model.safetensors (or shards past
 * max_shard bytes; 0 = 5 GB) in dtype, written atomically as a directory. Each tensor is drawn
 * as it is written, so memory stays at about one fp32 tensor. */
int bone_model_init_random_opts(const bone_config *c, const char *dir, uint64_t seed, bone_dtype dtype,
                                uint64_t max_shard, bone_err *e);
int bone_model_init_random(const bone_config *c, const char *dir, uint64_t seed, bone_dtype dtype, bone_err *e);
/* Copies the tokenizer's files (bone_tokenizer_files) and generation_config.json, those
 * present, from one model directory to another. */
int bone_copy_tokenizer_files(const char *src_dir, const char *dst_dir, bone_err *e);

/* A batch: B sequences right-padded to T. Position of token (b,t) is t. */
typedef struct bone_batch {
    int64_t B, T;
    int32_t *ids;     /* (B, T) */
    int32_t *targets; /* (B, T): target for logits at (b,t), i.e. labels[b][t+1]; -100 = none */
    int64_t *len;     /* (B) real lengths */
} bone_batch;

/* Activations saved for backward; reused across steps (grows as needed). */
typedef struct bone_acts bone_acts;
bone_acts *bone_acts_new(void);
void bone_acts_free(bone_acts *a);
/* Floats bone_model_step allocates for its activations and scratch at batch B×T: layout 0
 * evaluation, 1 training (every layer kept), 2 training with recomputation; xent_floats is
 * the loss's working memory (ops/xent.h xent_ws_floats), which training lends from the
 * backward scratch. The memory plan (train/memplan.c) calls this instead of restating it. */
size_t bone_acts_floats(const bone_config *c, int64_t B, int64_t T, int layout, size_t xent_floats);

/* Forward over the batch. Returns the SUM of token losses over targets != -100 in *loss_sum
 * and their count in *count. If logits is non-NULL, also writes (B, T, V) logits. With
 * train=1, keeps what backward needs and runs backward at once with dloss = grad_scale
 * (typically 1/total label count of the optimizer step), accumulating into the gradient
 * buffers. */
int bone_model_step(bone_model *m, bone_acts *a, const bone_batch *b, int train, float grad_scale,
                    double *loss_sum, int64_t *count, float *logits, bone_err *e);

/* Generation: a KV cache of up to cap positions, and an incremental forward. */
typedef struct bone_kv {
    int64_t cap, n, kd;  /* capacity, positions filled, nkv·head_dim */
    float *k, *v;        /* (L, cap, kd) each */
    bone_rope rope;      /* cos/sin for positions 0..cap-1 */
    float *state;        /* a recurrent family's fixed-size state instead of k, v (RWKV-6) */
} bone_kv;
void bone_kv_init(bone_kv *kv, const bone_model *m, int64_t cap);
void bone_kv_free(bone_kv *kv);
/* Runs n new tokens through the model at the next positions, appending to the cache;
 * writes the logits (V) of the last of them. */
int bone_model_decode(bone_model *m, bone_kv *kv, const int32_t *ids, int64_t n, float *logits, bone_err *e);

#endif
