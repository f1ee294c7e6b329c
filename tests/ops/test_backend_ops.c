/* test_backend_ops.c — ggml test-backend-ops style: one table of ops × shapes, run through
 * every GEMM backend this build and CPU have (ops/backend.h), each result compared by NMSE
 * (Σ(got−ref)² / Σref²) against a product summed in double, with a per-op bound:
 *
 *   fp32 backends (openblas, onednn-fp32)   NMSE ≤ 1e-10 against the exact product
 *   bf16 backends (bf16-emulated, onednn-bf16):
 *     against the exact product              NMSE ≤ 5e-5 (inputs carry 8 significant bits;
 *                                            measured ≤ 6e-6 here)
 *     against the product of the inputs ROUNDED to bf16 (round-to-nearest-even), summed in
 *     double                                 NMSE ≤ 1e-10: this is the bf16×bf16→fp32 contract
 *                                            itself, so truncating instead of rounding, or
 *                                            forgetting to round one operand, fails here.
 *
 * Ops: the three fp32 shapes (NT, NN, TN: activations, adapter tensors, weight gradients) and
 * matmul_w with a weight in each stored dtype (fp32, bf16, f16), forward ('T') and input-
 * gradient ('N'), without a pack and with one (called twice: the second call reuses the pack),
 * rows M = 1 and 3 (decoding, read-in-place path) and larger; leading dimensions wider than
 * the rows; alpha ≠ 1 and beta ∈ {0 with C full of NaN, 1, 0.75}. Also the fused loss
 * (xent with a bf16 head through the backend) against the OpenBLAS fp32 result. Every op runs
 * twice per backend and must give bit-identical results (determinism).
 * A backend the build or CPU lacks is reported as SKIP with the reason (never silently). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/dtype.h"
#include "ops/backend.h"
#include "ops/ops.h"
#include "testutil.h"

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (float)((double)(rs >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

static double nmse(const float *got, const double *ref, int64_t rows, int64_t cols, int64_t ldc) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            const double d = (double)got[i * ldc + j] - ref[i * cols + j];
            num += d * d;
            den += ref[i * cols + j] * ref[i * cols + j];
        }
    return den > 0 ? num / den : num;
}

/* x (an fp32 value) rounded to bf16, nearest-even — written here, not taken from the library,
 * so that a broken rounding in the backend cannot also break its reference */
static double rnd(double x, int round) {
    if (!round) return x;
    float f = (float)x;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u; /* finite inputs only (the test draws from [-1, 1)) */
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ref (M, N) = alpha·op(A)·op(B) + beta·C0, in double; inputs rounded to bf16 first when round */
static void ref_gemm(char ta, char tb, int64_t M, int64_t N, int64_t K, double alpha, const float *A, int64_t lda,
                     const float *B, int64_t ldb, double beta, const float *C0, int64_t ldc, int round, double *ref) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) {
                const double a = ta == 'N' ? A[m * lda + k] : A[k * lda + m];
                const double b = tb == 'N' ? B[k * ldb + n] : B[n * ldb + k];
                s += rnd(a, round) * rnd(b, round);
            }
            ref[m * N + n] = alpha * s + (beta != 0.0 ? beta * C0[m * ldc + n] : 0.0);
        }
}

typedef struct shape {
    int64_t M, N, K, pad; /* pad: extra columns in every leading dimension */
    float alpha, beta;
} shape;

static const shape shapes[] = {
    {64, 96, 80, 0, 1.0f, 0.0f},  {257, 33, 130, 7, 0.5f, 1.0f}, {1, 300, 64, 0, 1.0f, 0.0f},
    {3, 700, 96, 5, 1.0f, 0.75f}, {128, 8, 256, 0, 2.0f, 1.0f},  {200, 256, 8, 3, 1.0f, 0.0f},
};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static int is_bf16(const bone_backend *be) { return be->bf16; }

/* one product through be twice (bit-identical), checked against the double references */
static void check(bone_backend *be, const char *what, const float *got, const float *again, int64_t M, int64_t N,
                  int64_t ldc, const double *exact, const double *rounded) {
    char label[256];
    snprintf(label, sizeof label, "%s %s", bone_backend_kind_name(be->kind), what);
    int same = 1;
    for (int64_t i = 0; i < M && same; i++) same = !memcmp(got + i * ldc, again + i * ldc, (size_t)N * sizeof(float));
    CHECK(same, "%s: two runs differ (not deterministic)", label);
    const double e = nmse(got, exact, M, N, ldc);
    if (!is_bf16(be)) {
        CHECK(e <= 1e-10, "%s: NMSE %.3g vs the exact product > 1e-10", label, e);
        return;
    }
    const double r = nmse(got, rounded, M, N, ldc);
    CHECK(e <= 5e-5, "%s: NMSE %.3g vs the exact product > 5e-5", label, e);
    CHECK(r <= 1e-10, "%s: NMSE %.3g vs the bf16-rounded-input product > 1e-10 (rounding contract broken)", label, r);
}

static void gemm_ops(bone_backend *be, double *worst) {
    static const char *const names[3] = {"gemm_nt", "gemm_nn", "gemm_tn"};
    static const char tas[3] = {'N', 'N', 'T'}, tbs[3] = {'T', 'N', 'N'};
    for (int op = 0; op < 3; op++)
        for (int s = 0; s < NSHAPES; s++) {
            const shape *sh = &shapes[s];
            const int64_t M = sh->M, N = sh->N, K = sh->K, p = sh->pad;
            const char ta = tas[op], tb = tbs[op];
            const int64_t ar = ta == 'N' ? M : K, ac = (ta == 'N' ? K : M) + p;
            const int64_t br = tb == 'N' ? K : N, bc = (tb == 'N' ? N : K) + p, ldc = N + p;
            float *A = malloc((size_t)(ar * ac) * sizeof(float)), *B = malloc((size_t)(br * bc) * sizeof(float));
            float *C0 = malloc((size_t)(M * ldc) * sizeof(float)), *C = malloc((size_t)(M * ldc) * sizeof(float));
            float *C2 = malloc((size_t)(M * ldc) * sizeof(float));
            double *ex = malloc((size_t)(M * N) * sizeof(double)), *rd = malloc((size_t)(M * N) * sizeof(double));
            for (int64_t i = 0; i < ar * ac; i++) A[i] = frand();
            for (int64_t i = 0; i < br * bc; i++) B[i] = frand();
            for (int64_t i = 0; i < M * ldc; i++) C0[i] = frand();
            ref_gemm(ta, tb, M, N, K, sh->alpha, A, ac, B, bc, sh->beta, C0, ldc, 0, ex);
            ref_gemm(ta, tb, M, N, K, sh->alpha, A, ac, B, bc, sh->beta, C0, ldc, 1, rd);
            for (int rep = 0; rep < 2; rep++) {
                float *out = rep ? C2 : C;
                for (int64_t i = 0; i < M * ldc; i++) out[i] = sh->beta == 0.0f ? NAN : C0[i]; /* beta 0: never read */
                bone_gemm(be, ta, tb, M, N, K, sh->alpha, A, ac, B, bc, sh->beta, out, ldc);
            }
            char what[128];
            snprintf(what, sizeof what, "%s %lldx%lldx%lld pad %lld a=%g b=%g", names[op], (long long)M, (long long)N,
                     (long long)K, (long long)p, sh->alpha, sh->beta);
            check(be, what, C, C2, M, N, ldc, ex, rd);
            const double e = nmse(C, ex, M, N, ldc);
            if (e > *worst) *worst = e;
            free(A), free(B), free(C0), free(C), free(C2), free(ex), free(rd);
        }
}

static void matmul_w_ops(bone_backend *be, double *worst) {
    static const bone_dtype dts[3] = {BONE_F32, BONE_BF16, BONE_F16};
    for (int d = 0; d < 3; d++)
        for (int t = 0; t < 2; t++)
            for (int pk = 0; pk < 2; pk++)
                for (int s = 0; s < NSHAPES; s++) {
                    const shape *sh = &shapes[s];
                    const int64_t M = sh->M, N = sh->N, K = sh->K, p = sh->pad;
                    const char tw = t ? 'N' : 'T';
                    const int64_t wr = tw == 'T' ? N : K, ldw = (tw == 'T' ? K : N) + p, ldx = K + p, ldc = N + p;
                    float *X = malloc((size_t)(M * ldx) * sizeof(float)), *Wf = malloc((size_t)(wr * ldw) * sizeof(float));
                    uint16_t *W16 = malloc((size_t)(wr * ldw) * sizeof(uint16_t));
                    float *C0 = malloc((size_t)(M * ldc) * sizeof(float)), *C = malloc((size_t)(M * ldc) * sizeof(float));
                    float *C2 = malloc((size_t)(M * ldc) * sizeof(float));
                    double *ex = malloc((size_t)(M * N) * sizeof(double)), *rd = malloc((size_t)(M * N) * sizeof(double));
                    for (int64_t i = 0; i < M * ldx; i++) X[i] = frand();
                    for (int64_t i = 0; i < wr * ldw; i++) {
                        const float v = frand();
                        if (dts[d] == BONE_F32) Wf[i] = v;
                        else { /* the weight as stored, and its exact fp32 value for the reference */
                            W16[i] = dts[d] == BONE_BF16 ? bone_f32_to_bf16(v) : bone_f32_to_f16(v);
                            Wf[i] = dts[d] == BONE_BF16 ? bone_bf16_to_f32(W16[i]) : bone_f16_to_f32(W16[i]);
                        }
                    }
                    for (int64_t i = 0; i < M * ldc; i++) C0[i] = frand();
                    ref_gemm('N', tw, M, N, K, sh->alpha, X, ldx, Wf, ldw, sh->beta, C0, ldc, 0, ex);
                    ref_gemm('N', tw, M, N, K, sh->alpha, X, ldx, Wf, ldw, sh->beta, C0, ldc, 1, rd);
                    const bone_wref W = {dts[d], dts[d] == BONE_F32 ? (const void *)Wf : (const void *)W16};
                    void *pack = NULL;
                    for (int rep = 0; rep < 2; rep++) { /* with a pack: made on the first call, reused on the second */
                        float *out = rep ? C2 : C;
                        for (int64_t i = 0; i < M * ldc; i++) out[i] = sh->beta == 0.0f ? NAN : C0[i];
                        bone_matmul_w(be, tw, M, N, K, sh->alpha, X, ldx, W, ldw, pk ? &pack : NULL, sh->beta, out, ldc);
                    }
                    bone_pack_free(be, pack);
                    char what[160];
                    snprintf(what, sizeof what, "matmul_w %c %s%s %lldx%lldx%lld pad %lld a=%g b=%g", tw,
                             bone_dtype_name(dts[d]), pk ? " packed" : "", (long long)M, (long long)N, (long long)K,
                             (long long)p, sh->alpha, sh->beta);
                    check(be, what, C, C2, M, N, ldc, ex, rd);
                    const double e = nmse(C, ex, M, N, ldc);
                    if (e > *worst) *worst = e;
                    free(X), free(Wf), free(W16), free(C0), free(C), free(C2), free(ex), free(rd);
                }
}

/* the fused lm_head + cross-entropy with a bf16 head through be, against OpenBLAS fp32 */
static void xent_op(bone_backend *be) {
    const int64_t N = 40, H = 64, V = 5000; /* V > one 4096-row head tile */
    float *x = malloc((size_t)(N * H) * sizeof(float));
    uint16_t *W = malloc((size_t)(V * H) * sizeof(uint16_t));
    int32_t *tg = malloc((size_t)N * sizeof(int32_t));
    for (int64_t i = 0; i < N * H; i++) x[i] = frand();
    for (int64_t i = 0; i < V * H; i++) W[i] = bone_f32_to_bf16(0.2f * frand());
    for (int64_t i = 0; i < N; i++) tg[i] = i % 7 == 3 ? -100 : (int32_t)((i * 977) % V);
    float *dx[3], *lg[3];
    double loss[3];
    for (int r = 0; r < 3; r++) { /* r = 0: the OpenBLAS fp32 reference; 1, 2: be twice */
        dx[r] = calloc((size_t)(N * H), sizeof(float));
        lg[r] = malloc((size_t)(N * V) * sizeof(float));
        xent_ws ws = {0};
        bone_backend *ref = NULL;
        bone_err e;
        if (r == 0) bone_backend_open_kind(BONE_BE_OPENBLAS, &ref, &e);
        ws.be = r == 0 ? ref : be;
        int64_t cnt;
        loss[r] = xent_forward_backward_w(x, (bone_wref){BONE_BF16, W}, tg, N, H, V, 1.0f / 34, dx[r], NULL, lg[r], &cnt, &ws);
        xent_ws_free(&ws);
        bone_backend_free(ref);
    }
    char label[128];
    snprintf(label, sizeof label, "%s xent bf16 head %lldx%lld V %lld", bone_backend_kind_name(be->kind), (long long)N,
             (long long)H, (long long)V);
    CHECK(loss[1] == loss[2] && !memcmp(dx[1], dx[2], (size_t)(N * H) * sizeof(float)), "%s: two runs differ", label);
    double *rl = malloc((size_t)(N * V) * sizeof(double)), *rdx = malloc((size_t)(N * H) * sizeof(double));
    for (int64_t i = 0; i < N * V; i++) rl[i] = lg[0][i];
    for (int64_t i = 0; i < N * H; i++) rdx[i] = dx[0][i];
    const double bl = is_bf16(be) ? 5e-5 : 1e-10, bd = is_bf16(be) ? 1e-4 : 1e-10;
    const double el = nmse(lg[1], rl, N, V, V), ed = nmse(dx[1], rdx, N, H, H);
    const double lrel = fabs(loss[1] - loss[0]) / fabs(loss[0]);
    CHECK(el <= bl, "%s: logits NMSE %.3g > %.3g", label, el, bl);
    CHECK(ed <= bd, "%s: dx NMSE %.3g > %.3g", label, ed, bd);
    CHECK(lrel <= (is_bf16(be) ? 1e-3 : 1e-6), "%s: loss %.9g vs %.9g", label, loss[1], loss[0]);
    printf("ok   %-50s logits NMSE %.2g, dx NMSE %.2g, loss rel %.2g\n", label, el, ed, lrel);
    for (int r = 0; r < 3; r++) free(dx[r]), free(lg[r]);
    free(rl), free(rdx), free(x), free(W), free(tg);
}

int main(void) {
    bone_cpu_bf16 cpu;
    bone_cpu_bf16_probe(&cpu);
    printf("cpu: avx512_bf16 %d, amx_bf16 %d (usable %d%s%s)\n", cpu.avx512_bf16, cpu.amx_bf16, cpu.amx_usable,
           cpu.amx_why[0] ? ": " : "", cpu.amx_why);
    int ran = 0;
    for (int k = 0; k < BONE_BE_NKINDS; k++) {
        bone_backend *be = NULL;
        bone_err e;
        if (bone_backend_open_kind((bone_backend_kind)k, &be, &e)) {
            printf("SKIP backend %-14s %s\n", bone_backend_kind_name((bone_backend_kind)k), e.msg);
            continue;
        }
        const int before = tu_failures;
        double wg = 0, wm = 0;
        gemm_ops(be, &wg);
        matmul_w_ops(be, &wm);
        xent_op(be);
        printf("%s backend %-14s (%s): %d gemm + %d matmul_w cases, worst NMSE vs exact %.2g / %.2g\n",
               tu_failures == before ? "ok  " : "FAIL", bone_backend_kind_name(be->kind), be->desc, 3 * NSHAPES,
               12 * NSHAPES, wg, wm);
        bone_backend_free(be);
        ran++;
    }
    CHECK(ran >= 2, "at least openblas and bf16-emulated must run (ran %d)", ran);
    return tu_finish("test_backend_ops");
}
