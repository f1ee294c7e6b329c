/* gemm.h — the three fp32 product shapes (row-major), plus fp32 views of weights stored in
 * other dtypes. These wrappers are the OpenBLAS fp32 backend with no context; code that holds
 * a bone_backend (linears, adapters, the loss) goes through ops/backend.h, the choke point
 * where bf16 / oneDNN backends plug in. */
#ifndef BONE_OPS_GEMM_H
#define BONE_OPS_GEMM_H
#include <stdint.h>
#include "core/dtype.h"

/* C(M,N) = alpha·A(M,K)·B(N,K)ᵀ + beta·C  — the "x·Wᵀ" shape of a linear layer */
void gemm_nt(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
             const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* C(M,N) = alpha·A(M,K)·B(K,N) + beta·C  — "dy·W" */
void gemm_nn(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
             const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* C(M,N) = alpha·A(K,M)ᵀ·B(K,N) + beta·C  — "dyᵀ·x" (weight gradients) */
void gemm_tn(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
             const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* A weight in its stored dtype (possibly mmapped). */
typedef struct bone_wref {
    bone_dtype dtype;
    const void *data; /* (rows, cols) row-major */
} bone_wref;

/* Returns an fp32 view of n elements: the data itself for F32, else a conversion into
 * scratch (which must hold n floats). Converts with OpenMP threads. */
const float *wref_f32(bone_wref w, float *scratch, int64_t n);
/* Reads one element as float. */
float wref_get(bone_wref w, int64_t i);

#endif
