/* adapter_internal.h — what the adapter files share and nobody else needs: the ops tables,
 * the per-family merge/unmerge kernels, a deterministic counter-based RNG, and small
 * helpers. Not part of the public API (see adapter.h). */
#ifndef BONE_ADAPTER_INTERNAL_H
#define BONE_ADAPTER_INTERNAL_H
#include <math.h>
#include <stdint.h>
#include "adapter/adapter.h"
#include "core/rng.h" /* the one generator: bone_rng_make, bone_mix64 */

/* ---- ops tables (bone.c, lora.c) ---- */
extern const bone_adapter_ops bone_ops_col, bone_ops_row, bone_ops_grid, bone_ops_hadamard, bone_ops_free;
extern const bone_adapter_ops bone_ops_lora, bone_ops_pissa, bone_ops_olora;

/* bone.c: W' = W + ΔW of L's attached Bone adapter into out (O, I) fp32 (out must not
 * alias L->w). */
void bone_bone_wprime(const bone_linear *L, float *out);
/* bone.c: W from W' (= L's current weight) into out (O, I); -1 on singular or
 * ill-conditioned (I + D) / (1 + D). */
int bone_bone_unmerge_into(const bone_linear *L, float *out, bone_err *e);
/* lora.c: out (O, I) = W + sign·s·B·A (W = L's current weight, fp32). */
void bone_lora_apply(const bone_linear *L, float sign, float *out);

/* adapter.c: L's adapter if it is one of ours, else NULL. */
bone_adapter *bone_adapter_of(const bone_linear *L);

/* Row-block tile of G used by the Bone backward, in row-blocks (fixed: never depends on
 * the thread count, so results do not either). */
int64_t bone_tile_blocks(int64_t b);

/* y (N, O) += bias, per row. */
void bone_add_bias(const float *bias, float *y, int64_t N, int64_t O);
/* dbias (O) += column sums of dy (N, O), fixed order. */
void bone_bias_grad(const float *dy, float *dbias, int64_t N, int64_t O);

/* Frees a linear's adapter state, whatever its method (bone.c). */
void bone_adapter_destroy(bone_linear *L);

#endif
