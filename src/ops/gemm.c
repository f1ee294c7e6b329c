/* gemm.c — BLAS wrappers and dtype views (see gemm.h). Products with one tiny dimension
 * (a LoRA rank) go to ops/skinny.c instead, where the build has its kernels: BLAS runs those
 * at a tenth of its speed on square shapes. */
#include "ops/gemm.h"
#include <cblas.h>
#include <stdlib.h>
#include "core/err.h"
#include "ops/skinny.h"

/* Route a product whose small side is `small` and whose big operand holds `big` elements to
 * the skinny kernels? Below ~16k elements the call costs next to nothing either way. */
static int use_skinny(int64_t small, int64_t big) {
    return small >= 1 && small <= BONE_SKINNY_MAX && big >= (1 << 14) && skinny_available();
}

/* Every dense product that is not skinny: one threaded BLAS call. (Splitting C over our own
 * threads, each calling single-threaded BLAS, was measured on the model's shapes with
 * operands out of cache: 0.82–1.03× of this, so BLAS keeps its own threading.) */
static void sgemm_blas(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, ta, tb, (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb,
                beta, C, (blasint)ldc);
}

void gemm_nt(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
             const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (use_skinny(N, M * K)) { /* X·Aᵀ with A (r, K) */
        skinny_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    sgemm_blas(CblasNoTrans, CblasTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_nn(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
             const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (use_skinny(N, M * K)) { /* dY·B with B (K, r): transpose B (small) and take the NT kernel */
        float *Bt = xmalloc((size_t)(N * K) * sizeof(float)); // (N, K)
        for (int64_t k = 0; k < K; k++)
            for (int64_t n = 0; n < N; n++) Bt[n * K + k] = B[k * ldb + n];
        skinny_nt(M, N, K, alpha, A, lda, Bt, K, beta, C, ldc);
        free(Bt);
        return;
    }
    sgemm_blas(CblasNoTrans, CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_tn(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
             const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (use_skinny(M, N * K)) { /* dHᵀ·X with dH (K, r) */
        skinny_tn(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (use_skinny(N, M * K)) { /* dYᵀ·H with H (K, r): Cᵀ (r, M) = Hᵀ·dY, then transpose into C */
        float *T = xmalloc((size_t)(N * M) * sizeof(float)); // (N, M)
        skinny_tn(N, M, K, 1.0f, B, ldb, A, lda, 0.0f, T, M);
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                const float v = alpha * T[n * M + m];
                C[m * ldc + n] = beta == 0.0f ? v : v + beta * C[m * ldc + n];
            }
        free(T);
        return;
    }
    sgemm_blas(CblasTrans, CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
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
