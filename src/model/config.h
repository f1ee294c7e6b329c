/* config.h — config.json → model shape, with validation. Llama, Mistral and Qwen2
 * (FORMATS.md §2.1); anything we would run wrong is refused, naming the field. */
#ifndef BONE_MODEL_CONFIG_H
#define BONE_MODEL_CONFIG_H
#include <stdint.h>
#include "core/dtype.h"
#include "core/err.h"

typedef enum { BONE_ARCH_LLAMA, BONE_ARCH_MISTRAL, BONE_ARCH_QWEN2, BONE_ARCH_RWKV6 } bone_arch;
typedef enum { BONE_ROPE_DEFAULT, BONE_ROPE_LINEAR, BONE_ROPE_LLAMA3 } bone_rope_type;

typedef struct bone_config {
    bone_arch arch;
    int64_t vocab, hidden, inter, n_layers, n_heads, n_kv, head_dim, max_pos;
    double eps, rope_theta, init_range;
    bone_rope_type rope_type;
    double rope_factor, rope_low, rope_high;
    int64_t rope_orig_max;
    int qkv_bias, o_bias, mlp_bias, tied;
    int64_t bos, eos, pad; /* -1 when absent; eos = the first of a list */
    bone_dtype dtype;      /* torch_dtype / dtype, informative (default F32) */
    /* RWKV-6 only (FORMATS.md §6.1): n_heads = att_hidden / head_size, head_dim = head_size;
     * d_mix, d_decay: the low-rank widths of time_maa_w1/w2 and time_decay_w1/w2, the size rule
     * from config.json alone (32/64, 64/128 for C >= 4096) until loading reads the shapes */
    int64_t head_div, d_mix, d_decay;
    /* RWKV-6: tokens per chunk of the chunked WKV6 in training and scoring (a run setting, not
     * read from or written to config.json: --wkv-chunk, bone_model_set_wkv_chunk); 0 = the
     * default BONE_WKV_CHUNK_DEFAULT */
    int64_t wkv_chunk;
} bone_config;

#define BONE_WKV_CHUNK_DEFAULT 32
#define BONE_WKV_CHUNK_MAX 4096

int bone_config_load(const char *path, bone_config *c, bone_err *e);
/* Parses from already-loaded JSON text (path used in messages). */
int bone_config_parse(const char *text, size_t n, const char *path, bone_config *c, bone_err *e);
/* Writes config.json (legacy rope_theta + rope_scaling form) atomically. */
int bone_config_save(const bone_config *c, const char *path, bone_err *e);
const char *bone_arch_name(bone_arch a); /* "llama", "mistral", "qwen2" */

#endif
