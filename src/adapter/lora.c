/* lora.c — LoRA and its PiSSA / OLoRA initialisations (BONE.md "Baselines"):
 *   Y = X·Wᵀ + bias + s·(drop(X)·Aᵀ)·Bᵀ,  s = alpha/r,  A (r, I), B (O, r)
 * forward/backward, the default init (A Kaiming-uniform U(±1/√I), B = 0), PiSSA (exact SVD
 * with sgesdd, or a randomized SVD with power iterations), OLoRA (QR with sgeqrf/sorgqr),
 * and W ± s·B·A for merge/unmerge. */
#include <lapacke.h>
#undef I /* <complex.h>, pulled in by lapacke.h, defines I; here I is in_features */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "adapter/adapter_internal.h"
#include "core/err.h"

/* ---- dropout on the adapter path: a counter-based mask, regenerated in backward ---- */

static uint64_t drop_base(const bone_lin_ctx *c, const bone_adapter *A) {
    return bone_mix64(bone_mix64(c->seed ^ 0x5eedd00dull) ^ bone_mix64(c->step + 0x1234567ull) ^ (A->id * 0xd1342543de82ef95ull));
}
/* 0 (dropped) or 1/(1-p) (kept) for element idx of X */
static inline float drop_mult(uint64_t base, int64_t idx, double p, float inv_keep) {
    double u = (double)(bone_mix64(base + (uint64_t)idx * 0x9e3779b97f4a7c15ull) >> 11) * 0x1.0p-53;
    return u < p ? 0.0f : inv_keep;
}
static int dropping(const bone_lin_ctx *c, const bone_adapter *A) { return c->training && A->dropout > 0.0; }

/* xd (N, I) = drop(x) */
static void apply_drop(const bone_lin_ctx *c, const bone_adapter *A, const float *x, float *xd, int64_t n) {
    const uint64_t base = drop_base(c, A);
    const float inv = (float)(1.0 / (1.0 - A->dropout));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) xd[i] = x[i] * drop_mult(base, i, A->dropout, inv);
}

/* Y = X·Wᵀ + bias + s·H·Bᵀ, H = drop(X)·Aᵀ (N, r) */
static void lora_forward(bone_lin_ctx *c, const bone_linear *L, const float *x, float *y, int64_t N) {
    const bone_adapter *A = L->adapter;
    const int64_t r = A->rank, I = L->I, O = L->O;
    bone_backend *be = bone_lin_backend(c);
    linear_base_forward(c, L, x, y, N);
    const int drop = dropping(c, A);
    float *H = bone_lin_scratch(&c->tmp, &c->tmp_cap, N * r + (drop ? N * I : 0)); /* H (N, r) [, xd (N, I)] */
    const float *xa = x;
    if (drop) {
        apply_drop(c, A, x, H + N * r, N * I);
        xa = H + N * r;
    }
    bone_gemm_nt(be, N, r, I, 1.0f, xa, I, A->v[0], I, 0.0f, H, r);      /* H = drop(X)·Aᵀ */
    bone_gemm_nt(be, N, O, r, A->scale, H, r, A->v[1], r, 1.0f, y, O);   /* Y += s·H·Bᵀ */
}

/* dB += s·dYᵀ·H;  dH = s·dY·B;  dA += dHᵀ·drop(X);  dX += dY·W + drop'(dH·A) */
static void lora_backward(bone_lin_ctx *c, bone_linear *L, const float *x, const float *dy, float *dx, int64_t N) {
    const bone_adapter *A = L->adapter;
    const int64_t r = A->rank, I = L->I, O = L->O;
    bone_backend *be = bone_lin_backend(c);
    linear_base_backward_dx(c, L, dy, dx, N);
    const int drop = dropping(c, A);
    float *H = bone_lin_scratch(&c->tmp, &c->tmp_cap, 2 * N * r + (drop ? N * I : 0)); /* H, dH (N, r) [, xd] */
    float *dH = H + N * r, *xd = H + 2 * N * r;
    const float *xa = x;
    if (drop) {
        apply_drop(c, A, x, xd, N * I);
        xa = xd;
    }
    bone_gemm_nt(be, N, r, I, 1.0f, xa, I, A->v[0], I, 0.0f, H, r);          /* H = drop(X)·Aᵀ */
    bone_gemm_tn(be, O, r, N, A->scale, dy, O, H, r, 1.0f, A->g[1], r);      /* dB += s·dYᵀ·H */
    bone_gemm_nn(be, N, r, O, A->scale, dy, O, A->v[1], r, 0.0f, dH, r);     /* dH = s·dY·B */
    bone_gemm_tn(be, r, I, N, 1.0f, dH, r, xa, I, 1.0f, A->g[0], I);         /* dA += dHᵀ·drop(X) */
    if (dx) {
        if (!drop) {
            bone_gemm_nn(be, N, I, r, 1.0f, dH, r, A->v[0], I, 1.0f, dx, I); /* dX += dH·A */
        } else {
            bone_gemm_nn(be, N, I, r, 1.0f, dH, r, A->v[0], I, 0.0f, xd, I); /* xd := dH·A, then the same mask */
            const uint64_t base = drop_base(c, A);
            const float inv = (float)(1.0 / (1.0 - A->dropout));
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < N * I; i++) dx[i] += xd[i] * drop_mult(base, i, A->dropout, inv);
        }
    }
    if (L->dbias && L->bias) bone_bias_grad(dy, L->dbias, N, O);
}

const bone_adapter_ops bone_ops_lora = {"lora", lora_forward, lora_backward, bone_adapter_destroy};
const bone_adapter_ops bone_ops_pissa = {"pissa", lora_forward, lora_backward, bone_adapter_destroy};
const bone_adapter_ops bone_ops_olora = {"olora", lora_forward, lora_backward, bone_adapter_destroy};

/* out (O, I) = W + sign·s·B·A, W = L's current base (fp32 view). */
void bone_lora_apply(const bone_linear *L, float sign, float *out) {
    const bone_adapter *A = L->adapter;
    const int64_t O = L->O, I = L->I;
    if (L->w.dtype == BONE_F32) {
        if ((const float *)L->w.data != out) memcpy(out, L->w.data, (size_t)(O * I) * sizeof(float));
    } else {
        wref_f32(L->w, out, O * I);
    }
    gemm_nn(O, I, A->rank, sign * A->scale, A->v[1], A->rank, A->v[0], I, 1.0f, out, I);
}

/* ---- initialisations ---- */

void bone_lora_init_default(bone_linear *L, uint64_t seed) {
    bone_adapter *A = L->adapter;
    const int64_t r = A->rank, I = L->I;
    bone_rng g = bone_rng_make(seed, A->id, 1);
    const double bound = 1.0 / sqrt((double)I); /* Kaiming-uniform with a = √5: U(±1/√fan_in) */
    for (int64_t i = 0; i < r * I; i++) A->v[0][i] = (float)((2.0 * bone_rng_uniform(&g) - 1.0) * bound);
    memset(A->v[1], 0, (size_t)(L->O * r) * sizeof(float));
}

/* Keeps A0, B0 and replaces the base by the residual W − s·B·A (fp32, owned). */
static void finish_residual(bone_linear *L, float *W /* (O, I) fp32, owned by the caller until here */) {
    bone_adapter *A = L->adapter;
    const int64_t O = L->O, I = L->I, r = A->rank;
    gemm_nn(O, I, r, -A->scale, A->v[1], r, A->v[0], I, 1.0f, W, I); /* W − s·B·A */
    free(A->init_a);
    free(A->init_b);
    A->init_a = xmalloc((size_t)(r * I) * sizeof(float));
    A->init_b = xmalloc((size_t)(O * r) * sizeof(float));
    memcpy(A->init_a, A->v[0], (size_t)(r * I) * sizeof(float));
    memcpy(A->init_b, A->v[1], (size_t)(O * r) * sizeof(float));
    linear_set_base(L, (bone_wref){BONE_F32, W}, W);
}

static float *base_copy(const bone_linear *L) {
    const int64_t n = L->O * L->I;
    float *W = xmalloc((size_t)n * sizeof(float));
    if (L->w.dtype == BONE_F32) memcpy(W, L->w.data, (size_t)n * sizeof(float));
    else wref_f32(L->w, W, n);
    return W;
}

/* Orthonormal basis of the columns of Y (m, n), in place (n ≤ m). */
static int orthonormalize(float *Y, int64_t m, int64_t n, const char *name, bone_err *e) {
    float *tau = xmalloc((size_t)n * sizeof(float));
    lapack_int info = LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)n, Y, (lapack_int)n, tau);
    if (info == 0) info = LAPACKE_sorgqr(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)n, (lapack_int)n, Y, (lapack_int)n, tau);
    free(tau);
    if (info != 0) return bone_fail(e, "%s: QR in the randomized SVD failed (LAPACK info %d)", name, (int)info);
    return 0;
}

/* PiSSA: W = U·S·Vᵀ; with S' = S_r / s: A = √S'·V_rᵀ, B = U_r·√S'; base ← W − s·B·A. */
int bone_lora_init_pissa(bone_linear *L, int64_t niter, uint64_t seed, bone_err *e) {
    bone_adapter *A = L->adapter;
    const int64_t O = L->O, I = L->I, r = A->rank, k = O < I ? O : I;
    if (r > k) return bone_fail(e, "%s (%lld x %lld): pissa rank %lld exceeds min(O, I) = %lld", L->name, (long long)O, (long long)I, (long long)r, (long long)k);
    float *W = base_copy(L); /* (O, I) */
    float *U, *S, *VT;       /* U (O, ldu), S (r..), VT (r.., I) */
    int64_t ldu;
    if (niter <= 0) {
        /* exact: thin SVD of a scratch copy (sgesdd destroys its input) */
        float *Wc = xmalloc((size_t)(O * I) * sizeof(float));
        memcpy(Wc, W, (size_t)(O * I) * sizeof(float));
        U = xmalloc((size_t)(O * k) * sizeof(float));
        S = xmalloc((size_t)k * sizeof(float));
        VT = xmalloc((size_t)(k * I) * sizeof(float));
        ldu = k;
        lapack_int info = LAPACKE_sgesdd(LAPACK_ROW_MAJOR, 'S', (lapack_int)O, (lapack_int)I, Wc, (lapack_int)I, S, U,
                                         (lapack_int)k, VT, (lapack_int)I);
        free(Wc);
        if (info != 0) {
            free(W), free(U), free(S), free(VT);
            return bone_fail(e, "%s: SVD (sgesdd) failed to converge (info %d)", L->name, (int)info);
        }
    } else {
        /* randomized (as torch.svd_lowrank with q = r): Q = orth(W·Ω); niter × {Q = orth(W·orth(Wᵀ·Q))};
         * then the SVD of the small Qᵀ·W. */
        float *Q = xmalloc((size_t)(O * r) * sizeof(float));
        float *Z = xmalloc((size_t)(I * r) * sizeof(float));
        bone_rng g = bone_rng_make(seed, A->id, 2);
        for (int64_t i = 0; i < I * r; i++) Z[i] = (float)bone_rng_normal(&g); /* Ω (I, r) */
        gemm_nn(O, r, I, 1.0f, W, I, Z, r, 0.0f, Q, r);
        int rc = orthonormalize(Q, O, r, L->name, e);
        for (int64_t it = 0; rc == 0 && it < niter; it++) {
            gemm_tn(I, r, O, 1.0f, W, I, Q, r, 0.0f, Z, r); /* Z = Wᵀ·Q */
            rc = orthonormalize(Z, I, r, L->name, e);
            if (rc == 0) {
                gemm_nn(O, r, I, 1.0f, W, I, Z, r, 0.0f, Q, r); /* Q = W·Z */
                rc = orthonormalize(Q, O, r, L->name, e);
            }
        }
        free(Z);
        if (rc) {
            free(Q), free(W);
            return -1;
        }
        float *Bm = xmalloc((size_t)(r * I) * sizeof(float)); /* Qᵀ·W (r, I) */
        gemm_tn(r, I, O, 1.0f, Q, r, W, I, 0.0f, Bm, I);
        float *Ub = xmalloc((size_t)(r * r) * sizeof(float));
        S = xmalloc((size_t)r * sizeof(float));
        VT = xmalloc((size_t)(r * I) * sizeof(float));
        lapack_int info = LAPACKE_sgesdd(LAPACK_ROW_MAJOR, 'S', (lapack_int)r, (lapack_int)I, Bm, (lapack_int)I, S, Ub,
                                         (lapack_int)r, VT, (lapack_int)I);
        free(Bm);
        if (info != 0) {
            free(Q), free(Ub), free(S), free(VT), free(W);
            return bone_fail(e, "%s: SVD (sgesdd) of the sketch failed (info %d)", L->name, (int)info);
        }
        U = xmalloc((size_t)(O * r) * sizeof(float));
        gemm_nn(O, r, r, 1.0f, Q, r, Ub, r, 0.0f, U, r); /* U = Q·Ub */
        ldu = r;
        free(Q), free(Ub);
    }
    for (int64_t i = 0; i < r; i++) {
        const float sq = sqrtf(S[i] / A->scale); /* √(S_i / s) */
        for (int64_t j = 0; j < I; j++) A->v[0][i * I + j] = sq * VT[i * I + j];
        for (int64_t o = 0; o < O; o++) A->v[1][o * r + i] = U[o * ldu + i] * sq;
    }
    free(U), free(S), free(VT);
    finish_residual(L, W);
    return 0;
}

/* OLoRA: W = Q·R; B = Q[:, :r], A = R[:r, :]; base ← W − s·B·A. */
int bone_lora_init_olora(bone_linear *L, bone_err *e) {
    bone_adapter *A = L->adapter;
    const int64_t O = L->O, I = L->I, r = A->rank, k = O < I ? O : I;
    if (r > k) return bone_fail(e, "%s (%lld x %lld): olora rank %lld exceeds min(O, I) = %lld", L->name, (long long)O, (long long)I, (long long)r, (long long)k);
    float *W = base_copy(L);
    float *QR = xmalloc((size_t)(O * I) * sizeof(float));
    memcpy(QR, W, (size_t)(O * I) * sizeof(float));
    float *tau = xmalloc((size_t)k * sizeof(float));
    lapack_int info = LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, (lapack_int)O, (lapack_int)I, QR, (lapack_int)I, tau);
    if (info == 0) {
        for (int64_t i = 0; i < r; i++) /* A = R[:r, :] (upper triangle) */
            for (int64_t j = 0; j < I; j++) A->v[0][i * I + j] = j >= i ? QR[i * I + j] : 0.0f;
        /* Q[:, :r] only depends on the first r reflectors */
        info = LAPACKE_sorgqr(LAPACK_ROW_MAJOR, (lapack_int)O, (lapack_int)r, (lapack_int)r, QR, (lapack_int)I, tau);
    }
    if (info == 0)
        for (int64_t o = 0; o < O; o++)
            for (int64_t i = 0; i < r; i++) A->v[1][o * r + i] = QR[o * I + i];
    free(QR), free(tau);
    if (info != 0) {
        free(W);
        return bone_fail(e, "%s: QR (sgeqrf/sorgqr) failed (info %d)", L->name, (int)info);
    }
    finish_residual(L, W);
    return 0;
}
