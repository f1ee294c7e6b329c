/* skinny.c — products where one dimension is tiny (≤ BONE_SKINNY_MAX, e.g. a LoRA rank):
 *
 *   skinny_nt:  C(M, R) = alpha·A(M, K)·B(R, K)ᵀ + beta·C     (LoRA's X·Aᵀ, dY·B)
 *   skinny_tn:  C(R, N) = alpha·A(K, R)ᵀ·B(K, N) + beta·C     (LoRA's dHᵀ·X, Hᵀ·dY)
 *
 * Why not BLAS: OpenBLAS packs both operands and splits the work for a square-ish tile, so a
 * rank-8 product over 1024 tokens runs at 25–35 GFLOP/s here — a LoRA step spent ~12 % of its
 * time in these ~1 % of its FLOPs. Both kernels below read the big operand exactly once,
 * keep the R-wide side in registers, and split the work so that every output element is
 * computed by one thread in a fixed order: results do not depend on the thread count.
 *
 * AVX-512 only; gemm.c routes here only when the build has it (else BLAS does the product). */
#include "ops/skinny.h"
#include <stdlib.h>
#include <string.h>
#include "core/err.h"

#ifdef __AVX512F__
#include <immintrin.h>

static inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/* One row of A against all R rows of B: R dot products of length K. R is a compile-time
 * constant at every call site (see the switch below), so acc[] lives in registers. */
static inline __attribute__((always_inline)) void nt_row(const int R, int64_t K, float alpha, const float *a,
                                                          const float *B, int64_t ldb, float beta, float *c) {
    __m512 acc[BONE_SKINNY_MAX];
#pragma GCC unroll 16
    for (int j = 0; j < R; j++) acc[j] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        const __m512 x = _mm512_loadu_ps(a + k);
#pragma GCC unroll 16
        for (int j = 0; j < R; j++) acc[j] = _mm512_fmadd_ps(x, _mm512_loadu_ps(B + j * ldb + k), acc[j]);
    }
    if (k < K) {
        const __mmask16 m = tail_mask(K - k);
        const __m512 x = _mm512_maskz_loadu_ps(m, a + k);
#pragma GCC unroll 16
        for (int j = 0; j < R; j++) acc[j] = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, B + j * ldb + k), acc[j]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < R; j++) {
        const float s = alpha * _mm512_reduce_add_ps(acc[j]);
        c[j] = beta == 0.0f ? s : s + beta * c[j]; /* beta = 0 must not read C (may be garbage) */
    }
}

/* Two rows of A at once (R ≤ 8: 2·R accumulators), so each B vector loaded feeds two FMAs. */
static inline __attribute__((always_inline)) void nt_row2(const int R, int64_t K, float alpha, const float *a0,
                                                           const float *a1, const float *B, int64_t ldb, float beta,
                                                           float *c0, float *c1) {
    __m512 p[8], q[8];
#pragma GCC unroll 8
    for (int j = 0; j < R; j++) p[j] = q[j] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        const __m512 x0 = _mm512_loadu_ps(a0 + k), x1 = _mm512_loadu_ps(a1 + k);
#pragma GCC unroll 8
        for (int j = 0; j < R; j++) {
            const __m512 b = _mm512_loadu_ps(B + j * ldb + k);
            p[j] = _mm512_fmadd_ps(x0, b, p[j]);
            q[j] = _mm512_fmadd_ps(x1, b, q[j]);
        }
    }
    if (k < K) {
        const __mmask16 m = tail_mask(K - k);
        const __m512 x0 = _mm512_maskz_loadu_ps(m, a0 + k), x1 = _mm512_maskz_loadu_ps(m, a1 + k);
#pragma GCC unroll 8
        for (int j = 0; j < R; j++) {
            const __m512 b = _mm512_maskz_loadu_ps(m, B + j * ldb + k);
            p[j] = _mm512_fmadd_ps(x0, b, p[j]);
            q[j] = _mm512_fmadd_ps(x1, b, q[j]);
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < R; j++) {
        const float s0 = alpha * _mm512_reduce_add_ps(p[j]), s1 = alpha * _mm512_reduce_add_ps(q[j]);
        c0[j] = beta == 0.0f ? s0 : s0 + beta * c0[j];
        c1[j] = beta == 0.0f ? s1 : s1 + beta * c1[j];
    }
}

static void nt_rows(int R, int64_t M, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float beta, float *C, int64_t ldc) {
    /* R ≤ 8: row pairs (an odd last row alone); R > 8: one row at a time. The pairing is
     * fixed by the row index, so results do not depend on the thread count. */
#define NT_CASE(r)                                                                                  \
    case r:                                                                                         \
        if ((r) <= 8) {                                                                             \
            const int64_t np = M / 2;                                                               \
            _Pragma("omp parallel for schedule(static)") for (int64_t i = 0; i < np; i++)           \
                nt_row2((r) <= 8 ? (r) : 8, K, alpha, A + 2 * i * lda, A + (2 * i + 1) * lda, B, ldb, beta, \
                        C + 2 * i * ldc, C + (2 * i + 1) * ldc);                                    \
            if (M % 2) nt_row(r, K, alpha, A + (M - 1) * lda, B, ldb, beta, C + (M - 1) * ldc);     \
        } else {                                                                                    \
            _Pragma("omp parallel for schedule(static)") for (int64_t i = 0; i < M; i++)            \
                nt_row(r, K, alpha, A + i * lda, B, ldb, beta, C + i * ldc);                        \
        }                                                                                           \
        break;
    switch (R) {
        NT_CASE(1) NT_CASE(2) NT_CASE(3) NT_CASE(4) NT_CASE(5) NT_CASE(6) NT_CASE(7) NT_CASE(8)
        NT_CASE(9) NT_CASE(10) NT_CASE(11) NT_CASE(12) NT_CASE(13) NT_CASE(14) NT_CASE(15) NT_CASE(16)
    default: BONE_ASSERT(0, "skinny_nt: R out of 1..BONE_SKINNY_MAX");
    }
#undef NT_CASE
}

/* A block of CW·16 columns of C (R, ·): acc[j][w] += A[k, j]·B[k, col], k over all K.
 * Registers: R·CW accumulators (≤ 24) + CW loads; A's R values are broadcast from memory. */
static inline __attribute__((always_inline)) void tn_block(const int R, const int CW, int64_t K, float alpha,
                                                            const float *A, int64_t lda, const float *B, int64_t ldb,
                                                            float beta, float *C, int64_t ldc, int64_t n0, int64_t nw) {
    __m512 acc[BONE_SKINNY_MAX][3];
    __mmask16 m[3];
#pragma GCC unroll 3
    for (int w = 0; w < CW; w++) m[w] = tail_mask(nw - 16 * w > 0 ? nw - 16 * w : 0);
#pragma GCC unroll 16
    for (int j = 0; j < R; j++)
#pragma GCC unroll 3
        for (int w = 0; w < CW; w++) acc[j][w] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        const float *b = B + k * ldb + n0;
        const float *a = A + k * lda;
        __m512 x[3];
#pragma GCC unroll 3
        for (int w = 0; w < CW; w++) x[w] = _mm512_maskz_loadu_ps(m[w], b + 16 * w);
#pragma GCC unroll 16
        for (int j = 0; j < R; j++) {
            const __m512 s = _mm512_set1_ps(a[j]);
#pragma GCC unroll 3
            for (int w = 0; w < CW; w++) acc[j][w] = _mm512_fmadd_ps(s, x[w], acc[j][w]);
        }
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int j = 0; j < R; j++)
#pragma GCC unroll 3
        for (int w = 0; w < CW; w++) {
            float *c = C + j * ldc + n0 + 16 * w;
            __m512 r = _mm512_mul_ps(va, acc[j][w]);
            if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m[w], c), r);
            _mm512_mask_storeu_ps(c, m[w], r);
        }
}

static void tn_cols(int R, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float beta, float *C, int64_t ldc) {
    /* column blocks of 48 (R ≤ 8: 24 accumulators) or 16 (R ≤ 16) */
#define TN_CASE(r, cw)                                                                              \
    case r: {                                                                                       \
        const int64_t bw = 16 * (cw), nb = (N + bw - 1) / bw;                                       \
        _Pragma("omp parallel for schedule(static)") for (int64_t bi = 0; bi < nb; bi++) {          \
            const int64_t n0 = bi * bw, nw = N - n0 < bw ? N - n0 : bw;                             \
            tn_block(r, cw, K, alpha, A, lda, B, ldb, beta, C, ldc, n0, nw);                        \
        }                                                                                           \
        break;                                                                                      \
    }
    switch (R) {
        TN_CASE(1, 3) TN_CASE(2, 3) TN_CASE(3, 3) TN_CASE(4, 3) TN_CASE(5, 3) TN_CASE(6, 3) TN_CASE(7, 3)
        TN_CASE(8, 3) TN_CASE(9, 1) TN_CASE(10, 1) TN_CASE(11, 1) TN_CASE(12, 1) TN_CASE(13, 1) TN_CASE(14, 1)
        TN_CASE(15, 1) TN_CASE(16, 1)
    default: BONE_ASSERT(0, "skinny_tn: R out of 1..BONE_SKINNY_MAX");
    }
#undef TN_CASE
}

int skinny_available(void) { return 1; }

void skinny_nt(int64_t M, int64_t R, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
               int64_t ldb, float beta, float *C, int64_t ldc) {
    nt_rows((int)R, M, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void skinny_tn(int64_t R, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
               int64_t ldb, float beta, float *C, int64_t ldc) {
    tn_cols((int)R, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

#else /* no AVX-512 in this build: gemm.c never routes here */

int skinny_available(void) { return 0; }

void skinny_nt(int64_t M, int64_t R, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
               int64_t ldb, float beta, float *C, int64_t ldc) {
    (void)M, (void)R, (void)K, (void)alpha, (void)A, (void)lda, (void)B, (void)ldb, (void)beta, (void)C, (void)ldc;
    BONE_ASSERT(0, "skinny_nt: this build has no AVX-512 kernels (gemm.c must not route here)");
}

void skinny_tn(int64_t R, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
               int64_t ldb, float beta, float *C, int64_t ldc) {
    (void)R, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B, (void)ldb, (void)beta, (void)C, (void)ldc;
    BONE_ASSERT(0, "skinny_tn: this build has no AVX-512 kernels (gemm.c must not route here)");
}
#endif
