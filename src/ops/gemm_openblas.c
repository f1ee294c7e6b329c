/* gemm_openblas.c — the fp32 OpenBLAS backend (backend.h), and the test-only bf16-emulated
 * backend built on it. Products with one tiny dimension (a LoRA rank) go to ops/skinny.c
 * where the build has its kernels: BLAS runs those at a tenth of its speed on square shapes.
 *
 * Weights stored in bf16/f16 cannot be consumed by BLAS: matmul_w converts them a tile of
 * rows at a time into the context's scratch (at most BONE_OB_TILE floats, so a bf16 lm_head
 * is never held whole in fp32), except for products of at most OB_DIRECT_M rows (decoding
 * one token) which read the 16-bit weight directly. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/dtype.h"
#include "core/err.h"
#include "ops/backend.h"
#include "ops/skinny.h"

#define BONE_OB_TILE ((int64_t)1 << 21) /* floats (8 MiB) of converted weight per tile */
#define OB_DIRECT_M 4

typedef struct ob_ctx {
    float *scr; /* converted weight tile */
    int64_t cap;
    int emulate; /* bf16-emulated: round GEMM inputs to bf16 */
} ob_ctx;

/* Route a product whose small side is `small` and whose big operand holds `big` elements to
 * the skinny kernels? Below ~16k elements the call costs next to nothing either way. */
static int use_skinny(int64_t small, int64_t big) {
    return small >= 1 && small <= BONE_SKINNY_MAX && big >= (1 << 14) && skinny_available();
}

/* Every dense product that is not skinny: one threaded BLAS call. (Splitting C over our own
 * threads, each calling single-threaded BLAS, was measured on the model's shapes with
 * operands out of cache: 0.82–1.03× of this, so BLAS keeps its own threading.) */
static void sgemm_blas(char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                       const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, ta == 'T' ? CblasTrans : CblasNoTrans, tb == 'T' ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

void bone_openblas_gemm(char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                        const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (ta == 'N' && tb == 'T' && use_skinny(N, M * K)) { /* X·Aᵀ with A (r, K) */
        skinny_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (ta == 'N' && tb == 'N' && use_skinny(N, M * K)) { /* dY·B with B (K, r): transpose B (small), NT kernel */
        float *Bt = xmalloc((size_t)(N * K) * sizeof(float)); // (N, K)
        for (int64_t k = 0; k < K; k++)
            for (int64_t n = 0; n < N; n++) Bt[n * K + k] = B[k * ldb + n];
        skinny_nt(M, N, K, alpha, A, lda, Bt, K, beta, C, ldc);
        free(Bt);
        return;
    }
    if (ta == 'T' && tb == 'N' && use_skinny(M, N * K)) { /* dHᵀ·X with dH (K, r) */
        skinny_tn(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (ta == 'T' && tb == 'N' && use_skinny(N, M * K)) { /* dYᵀ·H with H (K, r): Cᵀ (r, M) = Hᵀ·dY, transposed */
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
    sgemm_blas(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* rows × cols of src (row stride ld) rounded to bf16, into a new contiguous (rows, cols) array */
static float *round_copy(const float *src, int64_t rows, int64_t cols, int64_t ld) {
    float *d = xmalloc((size_t)(rows * cols > 0 ? rows * cols : 1) * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) d[r * cols + c] = bone_round_bf16(src[r * ld + c]);
    return d;
}

static void ob_gemm(bone_backend *be, char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                    int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    const ob_ctx *x = be->context;
    if (!x->emulate) {
        bone_openblas_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* stored shapes: op 'N' A is (M, K), 'T' A is (K, M); likewise B (K, N) or (N, K) */
    const int64_t ar = ta == 'N' ? M : K, ac = ta == 'N' ? K : M, br = tb == 'N' ? K : N, bc = tb == 'N' ? N : K;
    float *Ar = round_copy(A, ar, ac, lda), *Br = round_copy(B, br, bc, ldb);
    bone_openblas_gemm(ta, tb, M, N, K, alpha, Ar, ac, Br, bc, beta, C, ldc);
    free(Ar);
    free(Br);
}

static float *ob_scratch(ob_ctx *x, int64_t n) {
    if (n > x->cap) {
        free(x->scr);
        x->scr = xmalloc((size_t)n * sizeof(float));
        x->cap = n;
    }
    return x->scr;
}

/* rows [r0, r0+nr) × cols of W (row stride ldw) as fp32 into dst (nr, cols); bf16-rounded when emulating */
static void w_rows(bone_wref W, int64_t ldw, int64_t r0, int64_t nr, int64_t cols, int emulate, float *dst) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < nr; r++) {
        float *d = dst + r * cols;
        const int64_t off = (r0 + r) * ldw;
        if (W.dtype == BONE_F32) memcpy(d, (const float *)W.data + off, (size_t)cols * sizeof(float));
        else bone_to_f32(d, (const uint16_t *)W.data + off, W.dtype, (size_t)cols);
        if (emulate && W.dtype != BONE_BF16)
            for (int64_t c = 0; c < cols; c++) d[c] = bone_round_bf16(d[c]);
    }
}

/* C (M ≤ OB_DIRECT_M rows) = alpha·X·op(W) + beta·C reading a 16-bit W in place: decoding's
 * lm_head without converting V×H weights per token. Each output is one thread's fixed-order sum. */
static void direct_16(char tw, int64_t M, int64_t N, int64_t K, float alpha, const float *X, int64_t ldx, bone_wref W,
                      int64_t ldw, float beta, float *C, int64_t ldc) {
    const uint16_t *w = W.data;
    const int bf = W.dtype == BONE_BF16;
    if (tw == 'T') { /* W (N, K) */
#pragma omp parallel for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            float wr[256];
            float acc[OB_DIRECT_M] = {0};
            for (int64_t k0 = 0; k0 < K; k0 += 256) {
                const int64_t kt = K - k0 < 256 ? K - k0 : 256;
                for (int64_t k = 0; k < kt; k++) {
                    const uint16_t h = w[n * ldw + k0 + k];
                    wr[k] = bf ? bone_bf16_to_f32(h) : bone_f16_to_f32(h);
                }
                for (int64_t m = 0; m < M; m++) {
                    float s = 0.0f;
#pragma omp simd reduction(+ : s)
                    for (int64_t k = 0; k < kt; k++) s += X[m * ldx + k0 + k] * wr[k];
                    acc[m] += s;
                }
            }
            for (int64_t m = 0; m < M; m++)
                C[m * ldc + n] = beta == 0.0f ? alpha * acc[m] : alpha * acc[m] + beta * C[m * ldc + n];
        }
        return;
    }
    /* W (K, N): columns split over threads, k in order */
    const int64_t nb = (N + 255) / 256;
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < nb; j++) {
        const int64_t n0 = j * 256, nt = N - n0 < 256 ? N - n0 : 256;
        float acc[OB_DIRECT_M][256];
        memset(acc, 0, sizeof acc);
        for (int64_t k = 0; k < K; k++) {
            float wr[256];
            for (int64_t n = 0; n < nt; n++) {
                const uint16_t h = w[k * ldw + n0 + n];
                wr[n] = bf ? bone_bf16_to_f32(h) : bone_f16_to_f32(h);
            }
            for (int64_t m = 0; m < M; m++) {
                const float xv = X[m * ldx + k];
#pragma omp simd
                for (int64_t n = 0; n < nt; n++) acc[m][n] += xv * wr[n];
            }
        }
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < nt; n++) {
                float *c = C + m * ldc + n0 + n;
                *c = beta == 0.0f ? alpha * acc[m][n] : alpha * acc[m][n] + beta * *c;
            }
    }
}

/* The emulated backend's pack: the weight rounded to bf16 once, (rows, cols) fp32 contiguous. */
typedef struct ob_pack {
    char tw;
    const void *data;
    int64_t rows, cols;
    float *w;
} ob_pack;

static void ob_matmul_w(bone_backend *be, char tw, int64_t M, int64_t N, int64_t K, float alpha, const float *X,
                        int64_t ldx, bone_wref W, int64_t ldw, void **pack, float beta, float *C, int64_t ldc) {
    ob_ctx *x = be->context;
    const int64_t rows = tw == 'T' ? N : K, cols = tw == 'T' ? K : N; /* W as stored */
    if (!x->emulate) {
        if (W.dtype == BONE_F32) {
            bone_openblas_gemm('N', tw, M, N, K, alpha, X, ldx, W.data, ldw, beta, C, ldc);
            return;
        }
        if (M <= OB_DIRECT_M) {
            direct_16(tw, M, N, K, alpha, X, ldx, W, ldw, beta, C, ldc);
            return;
        }
        const int64_t tr = rows * cols <= BONE_OB_TILE ? rows : (BONE_OB_TILE / cols > 0 ? BONE_OB_TILE / cols : 1);
        float *t = ob_scratch(x, tr * cols);
        for (int64_t r0 = 0; r0 < rows; r0 += tr) {
            const int64_t nr = rows - r0 < tr ? rows - r0 : tr;
            w_rows(W, ldw, r0, nr, cols, 0, t);
            if (tw == 'T') /* C[:, r0:r0+nr] = X·tileᵀ */
                bone_openblas_gemm('N', 'T', M, nr, K, alpha, X, ldx, t, cols, beta, C + r0, ldc);
            else /* C += X[:, r0:r0+nr]·tile */
                bone_openblas_gemm('N', 'N', M, N, nr, alpha, X + r0, ldx, t, cols, r0 ? 1.0f : beta, C, ldc);
        }
        return;
    }
    /* bf16-emulated: X rounded; W rounded once into the pack (frozen) or per call */
    float *Xr = round_copy(X, M, K, ldx);
    ob_pack *p = pack ? *pack : NULL;
    if (p && (p->data != W.data || p->tw != tw || p->rows != rows || p->cols != cols)) {
        BONE_ASSERT(0, "bf16-emulated: a weight pack was reused for another weight (linear_set_base frees packs)");
    }
    float *Wr = p ? p->w : NULL;
    if (!Wr) {
        Wr = xmalloc((size_t)(rows * cols) * sizeof(float));
        w_rows(W, ldw, 0, rows, cols, 1, Wr);
        if (pack) {
            p = xcalloc(1, sizeof *p);
            *p = (ob_pack){tw, W.data, rows, cols, Wr};
            *pack = p;
        }
    }
    bone_openblas_gemm('N', tw, M, N, K, alpha, Xr, K, Wr, cols, beta, C, ldc);
    if (!pack) free(Wr);
    free(Xr);
}

static void ob_pack_free(bone_backend *be, void *pack) {
    (void)be;
    ob_pack *p = pack;
    if (!p) return;
    free(p->w);
    free(p);
}

static size_t ob_pack_bytes(const bone_backend *be, const void *pack) {
    (void)be;
    const ob_pack *p = pack;
    return p ? (size_t)(p->rows * p->cols) * sizeof(float) : 0;
}

static void ob_free(bone_backend *be) {
    ob_ctx *x = be->context;
    if (x) free(x->scr);
    free(x);
    be->context = NULL;
}

static const bone_backend_i ob_iface = {ob_gemm, ob_matmul_w, ob_pack_free, ob_pack_bytes, ob_free};

char *openblas_get_corename(void);

int bone_openblas_open(bone_backend *be, int emulate_bf16, bone_err *e) {
    (void)e;
    ob_ctx *x = xcalloc(1, sizeof *x);
    x->emulate = emulate_bf16;
    be->iface = &ob_iface;
    be->context = x;
    be->bf16 = emulate_bf16;
    if (emulate_bf16)
        snprintf(be->desc, sizeof be->desc,
                 "bf16-EMULATED (TEST ONLY: inputs rounded to bf16, fp32 OpenBLAS %s products; not a speed path)",
                 openblas_get_corename());
    else
        snprintf(be->desc, sizeof be->desc, "fp32, OpenBLAS %s", openblas_get_corename());
    return 0;
}
