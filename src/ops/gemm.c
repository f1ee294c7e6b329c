/* gemm.c — the three fp32 product shapes as thin wrappers over the OpenBLAS backend
 * (gemm_openblas.c; code holding a bone_backend calls backend.h instead), and dtype views. */
#include "ops/gemm.h"
#include <stdlib.h>
#include "core/err.h"
#include "ops/backend.h"

/* The three shapes: the stateless OpenBLAS fp32 product (backend.h, be = NULL). */
void gemm_nt(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
             const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    bone_openblas_gemm('N', 'T', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_nn(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
             const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    bone_openblas_gemm('N', 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_tn(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
             const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    bone_openblas_gemm('T', 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const float *wref_f32(bone_wref w, float *scratch, int64_t n) {
    if (w.dtype == BONE_F32) return (const float *)w.data;
    const uint16_t *s = w.data;
    if (w.dtype == BONE_BF16) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) scratch[i] = bone_bf16_to_f32(s[i]);
    } else {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) scratch[i] = bone_f16_to_f32(s[i]);
    }
    return scratch;
}

float wref_get(bone_wref w, int64_t i) {
    if (w.dtype == BONE_F32) return ((const float *)w.data)[i];
    const uint16_t *s = w.data;
    return w.dtype == BONE_BF16 ? bone_bf16_to_f32(s[i]) : bone_f16_to_f32(s[i]);
}
