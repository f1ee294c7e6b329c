/* test_skinny.c — the tiny-dimension kernels (ops/skinny.c) and gemm.c's routing to them,
 * against products summed in double: every R in 1..16, K and N around the 16-lane and
 * 48-column block edges, leading dimensions wider than the rows, beta 0 (C full of NaN: it
 * must not be read), 1 and 0.5, and each of the four routed gemm_* shapes. Tolerance: the
 * fp32 rounding bound 1e-6·K·Σ|terms| per element (plus a tiny absolute floor). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "ops/gemm.h"
#include "ops/skinny.h"
#include "testutil.h"

static uint64_t rs = 88172645463325252ull;
static float frand(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (float)((double)(rs >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}
static float *rnd(int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

/* C(M,N) = alpha·op(A)·op(B) + beta·C0 in double; ta: A is (K,M); tb: B is (N,K) */
static void ref(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                const float *B, int64_t ldb, float beta, const float *C0, int64_t ldc, double *out, double *mag) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = 0, a = 0;
            for (int64_t k = 0; k < K; k++) {
                double x = ta ? A[k * lda + m] : A[m * lda + k];
                double y = tb ? B[n * ldb + k] : B[k * ldb + n];
                s += x * y, a += fabs(x * y);
            }
            double c = beta == 0.0f ? 0.0 : (double)beta * C0[m * ldc + n];
            out[m * N + n] = alpha * s + c;
            mag[m * N + n] = fabs(alpha) * a + fabs(c);
        }
}

/* kind: 0 skinny_nt, 1 skinny_tn, 2 gemm_nt, 3 gemm_nn, 4 gemm_tn */
static void one(int kind, int64_t M, int64_t N, int64_t K, float alpha, float beta) {
    const int ta = kind == 1 || kind == 4, tb = kind == 0 || kind == 2;
    const int64_t pad = 3;
    const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    const int64_t arows = ta ? K : M, brows = tb ? N : K;
    float *A = rnd(arows * lda), *B = rnd(brows * ldb), *C = rnd(M * ldc), *C0 = malloc((size_t)(M * ldc) * sizeof(float));
    if (beta == 0.0f)
        for (int64_t i = 0; i < M * ldc; i++) C[i] = NAN;
    for (int64_t i = 0; i < M * ldc; i++) C0[i] = C[i];
    double *R = malloc((size_t)(M * N) * sizeof(double)), *G = malloc((size_t)(M * N) * sizeof(double));
    ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, ldc, R, G);
    switch (kind) {
    case 0: skinny_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    case 1: skinny_tn(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    case 2: gemm_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    case 3: gemm_nn(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    default: gemm_tn(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    }
    int64_t bad = 0;
    double worst = 0;
    for (int64_t m = 0; m < M; m++) {
        for (int64_t n = 0; n < N; n++) {
            double d = fabs((double)C[m * ldc + n] - R[m * N + n]), lim = 1e-6 * (double)(K + 2) * G[m * N + n] + 1e-30;
            if (!(d <= lim)) bad++;
            if (d / lim > worst || isnan(d)) worst = d / lim;
        }
        for (int64_t n = N; n < ldc; n++) /* the padding columns must be untouched */
            if (!(C[m * ldc + n] == C0[m * ldc + n] || (isnan(C[m * ldc + n]) && isnan(C0[m * ldc + n])))) bad++;
    }
    CHECK(bad == 0, "kind %d M=%lld N=%lld K=%lld alpha=%g beta=%g: %lld bad elements (worst %.3g of the bound)", kind,
             (long long)M, (long long)N, (long long)K, alpha, beta, (long long)bad, worst);
    free(A), free(B), free(C), free(C0), free(R), free(G);
}

int main(void) {
    if (!skinny_available()) {
        printf("skinny kernels: not in this build (no AVX-512); gemm_* use BLAS only — checking the routed shapes through BLAS\n");
    } else {
        const int64_t Ks[] = {1, 15, 16, 17, 47, 48, 49, 130};
        for (int64_t r = 1; r <= BONE_SKINNY_MAX; r++)
            for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++) {
                const float betas[] = {0.0f, 1.0f, 0.5f};
                for (int bi = 0; bi < 3; bi++) {
                    one(0, 37, r, Ks[ki], 0.75f, betas[bi]);     /* C(37, r) = A(37, K)·B(r, K)ᵀ */
                    one(1, r, Ks[ki], 29, -1.25f, betas[bi]);    /* C(r, K') = A(29, r)ᵀ·B(29, K') */
                }
            }
    }
    /* the four shapes gemm.c routes (big enough to route), through the public wrappers */
    for (int64_t r = 1; r <= BONE_SKINNY_MAX; r += 7) {
        one(2, 1024, r, 97, 1.0f, 0.0f);  /* H = X·Aᵀ */
        one(3, 1024, r, 65, 0.5f, 0.0f);  /* dH = s·dY·B */
        one(4, r, 130, 300, 1.0f, 1.0f);  /* dA += dHᵀ·X */
        one(4, 130, r, 300, 2.0f, 1.0f);  /* dB += s·dYᵀ·H */
        one(4, 130, r, 300, 2.0f, 0.0f);
    }
    printf("skinny: %d checks, %d failures\n", tu_checks, tu_failures);
    return tu_failures ? 1 : 0;
}
