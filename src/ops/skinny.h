/* skinny.h — products with one tiny dimension (≤ BONE_SKINNY_MAX), see skinny.c.
 * Callers go through gemm.h, which routes here when it pays; row-major, fp32. */
#ifndef BONE_OPS_SKINNY_H
#define BONE_OPS_SKINNY_H
#include <stdint.h>

#define BONE_SKINNY_MAX 16

/* 1 when this build has the kernels (AVX-512), else 0 and the functions must not be called. */
int skinny_available(void);
/* C(M, R) = alpha·A(M, K)·B(R, K)ᵀ + beta·C,  1 ≤ R ≤ BONE_SKINNY_MAX; beta = 0 ignores C */
void skinny_nt(int64_t M, int64_t R, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
               int64_t ldb, float beta, float *C, int64_t ldc);
/* C(R, N) = alpha·A(K, R)ᵀ·B(K, N) + beta·C,  1 ≤ R ≤ BONE_SKINNY_MAX; beta = 0 ignores C */
void skinny_tn(int64_t R, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
               int64_t ldb, float beta, float *C, int64_t ldc);

#endif
