/* rwkv_pth.h — RWKV-6 "Finch" checkpoints between their two published forms (FORMATS.md §6.6,
 * §6.7): the official BlinkDL `.pth` state dict and the HF directory (config.json +
 * model.safetensors + the World vocabulary); and RWKV-PEFT's slim adapter `.pth` (§6.8).
 * One name table maps official ↔ HF names both ways and fixes every tensor's shape from the
 * dimensions read off the checkpoint (head size from time_faaaa, D_MIX/D_DECAY from the LoRA-like
 * mixing matrices), so nothing is assumed about 64-wide heads. */
#ifndef BONE_IO_RWKV_PTH_H
#define BONE_IO_RWKV_PTH_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "core/err.h"

/* The dimensions of an RWKV-6 checkpoint, read off its tensor shapes. */
typedef struct bone_rwkv_dims {
    int64_t vocab, C, A, H, head, F, layers, d_mix, d_decay;
} bone_rwkv_dims;

/* Official name → HF name (and back). 0 on success, -1 if the name is not an RWKV-6 tensor. */
int bone_rwkv_official_to_hf(const char *name, char *out, size_t cap);
int bone_rwkv_hf_to_official(const char *name, char *out, size_t cap);

/* `bone convert rwkv-pth`: reads an official .pth, checks every tensor's name and shape, writes
 * out_dir (config.json, model.safetensors with HF names and the stored dtypes, and a copy of the
 * World vocabulary from vocab_path) through a temporary directory renamed into place. */
int bone_rwkv_convert_pth(const char *pth, const char *vocab_path, const char *out_dir, bone_rwkv_dims *d, bone_err *e);

/* `bone export rwkv-pth`: an HF RWKV-6 directory's safetensors → an official .pth with every tensor
 * stored as dt (the official files are bf16). */
int bone_rwkv_export_pth(const char *model_dir, const char *out_pth, bone_dtype dt, bone_rwkv_dims *d, bone_err *e);

/* `bone export rwkv-peft`: a bone adapter directory (PEFT layout) → RWKV-PEFT's slim adapter .pth
 * (`blocks.{i}.att.<name>.disha`, bf16): bone-row → mode "bat" [I/r, r, r], bone-free → mode
 * "bone" [r, O]. Other methods are refused (bone-col indexes its blocks by output, RWKV-PEFT's
 * bat by input). *mode receives "bat" or "bone", *r the block size. */
int bone_rwkv_export_peft(const char *adapter_dir, const char *out_pth, const char **mode, int64_t *r, int64_t *ntensors,
                          bone_err *e);

#endif
