/* llama2c.h — llama2.c checkpoints and tokenizer.bin (FORMATS.md §3) → a Hugging Face model
 * directory: config.json + model.safetensors (wq/wk rows permuted Meta → HF, §3.5) and a
 * tokenizer.json whose BPE merges reproduce run.c's score-ordered encoding (§3.4).
 *
 * Reads the legacy ("v0") format and the version-1 fp32 format; recognises version 2 (int8)
 * and refuses it by name.
 *
 * Tokenizer: run.c merges, among adjacent pairs whose concatenation is a piece, the one whose
 * merged piece scores highest (leftmost on ties). The tokenizer.json lists every split of every
 * piece into two pieces as a merge, ranked by the merged piece's score (then merged id, then
 * split position), under the legacy Llama-2 normalizer (Prepend ▁ = run.c's dummy prefix;
 * Replace " " → ▁) with byte fallback. This is exact when merged-piece scores are distinct (as
 * in SentencePiece BPE vocabularies). It can differ when two different pairs with EQUAL merged
 * scores are mergeable at once (HF picks the lower rank, run.c the leftmost), for text that
 * contains U+2581, and for text containing "<unk>", "<s>" or "</s>" (HF splits them out as
 * special tokens; run.c encodes their characters). */
#ifndef BONE_IO_LLAMA2C_H
#define BONE_IO_LLAMA2C_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "core/err.h"

typedef struct bone_l2c_header {
    int version;            /* 0 = legacy, 1 = "ak42" v1 fp32 (2 = int8 is refused) */
    int64_t dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len; /* vocab = |vocab_size| */
    int shared;             /* classifier shared with the embedding (tied) */
    int64_t head_dim;       /* dim / n_heads */
    uint64_t header_bytes;  /* 28 (legacy) or 256 (v1) */
    uint64_t n_floats;      /* fp32 values after the header */
    uint64_t expected_size; /* header_bytes + 4·n_floats: what the file size must be */
} bone_l2c_header;

/* Parses and validates the header of a file image of `size` bytes (buf holds at least
 * min(size, 256) bytes); checks the exact file size. `what` names the file in messages. */
int bone_l2c_parse_header(const uint8_t *buf, uint64_t size, const char *what, bone_l2c_header *h, bone_err *e);

/* Converts the checkpoint at bin_path into out_dir (config.json + model.safetensors with the
 * tensors in dtype). *h (may be NULL) receives the header. */
int bone_l2c_convert_model(const char *bin_path, const char *out_dir, bone_dtype dtype, bone_l2c_header *h,
                           bone_err *e);

/* Converts tokenizer.bin (exactly `vocab` entries) into out_dir/tokenizer.json,
 * tokenizer_config.json, special_tokens_map.json and generation_config.json. seq_len goes to
 * model_max_length. *n_merges (may be NULL) receives the number of merges written. */
int bone_l2c_convert_tokenizer(const char *tok_path, int64_t vocab, int64_t seq_len, const char *out_dir,
                               int64_t *n_merges, bone_err *e);

/* Meta-interleaved → HF row permutation of a (nheads·head_dim, cols) matrix (§3.5):
 * dst row h·d + j·d/2 + i = src row h·d + 2i + j. dst and src must not overlap. */
void bone_rope_rows_meta_to_hf(float *dst, const float *src, int64_t nheads, int64_t head_dim, int64_t cols);

#endif
