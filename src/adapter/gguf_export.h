/* gguf_export.h — what llama.cpp, ollama and their bindings load: a merged model (base +
 * any adapter, merged as `bone merge` does) or a LoRA-form adapter as a GGUF v3 file, with
 * the metadata and tensor names llama.cpp's converters write (docs/GGUF.md). */
#ifndef BONE_ADAPTER_GGUF_EXPORT_H
#define BONE_ADAPTER_GGUF_EXPORT_H
#include <stdint.h>
#include "core/err.h"

typedef struct bone_gguf_export_info {
    const char *arch;       /* "llama", "qwen2", "rwkv6" */
    const char *tok_model;  /* tokenizer.ggml.model written: "gpt2", "llama" (SentencePiece), "rwkv" (World) */
    const char *pre;        /* tokenizer.ggml.pre chosen ("" for SentencePiece and RWKV World) */
    int64_t n_tensors;
    int64_t n_adapted;      /* linears an adapter was merged into (model) / exported (adapter) */
    int64_t n_fallback;     /* Q8_0 tensors written as F16 (rows not a multiple of 32) */
    double alpha;           /* adapter: adapter.lora.alpha written */
} bone_gguf_export_info;

/* Parses "f32", "f16", "bf16", "q8_0" into a ggml type id. -1 on an unknown name. */
int bone_gguf_type_parse(const char *s, uint32_t *type);

/* model_dir (+ adapter_dir, may be NULL) → a GGUF model at out with 2-D weights of `type`
 * (1-D tensors always F32, as llama.cpp's converter). The adapter is merged by `bone merge`'s
 * code (bone_adapter_merge_load); the merged weights stay fp32 until they are encoded as `type`
 * (`bone merge` rounds them to the base's stored dtype for its safetensors; an f32 export keeps
 * what that rounding would lose). Refuses a tokenizer whose pre-tokenizer
 * matches none llama.cpp knows, naming what it found. */
int bone_export_gguf(const char *model_dir, const char *adapter_dir, const char *out, uint32_t type,
                     bone_gguf_export_info *info, bone_err *e);

/* adapter_dir (trained against model_dir) → a GGUF LoRA adapter (general.type = adapter) in
 * `type` (F32, F16, BF16). LoRA/PiSSA/OLoRA export as they are; bone-free (PEFT's MiSS) as its
 * exact LoRA form; the weight-guided Bone variants are refused (no exact LoRA form exists). */
int bone_export_gguf_lora(const char *model_dir, const char *adapter_dir, const char *out, uint32_t type,
                          bone_gguf_export_info *info, bone_err *e);

#endif
