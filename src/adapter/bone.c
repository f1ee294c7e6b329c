/* bone.c — every Bone variant (BONE.md "The variants", "Gradients", "Merge and unmerge"):
 * building W' = W + ΔW, forward, backward with dD folded tile by tile from G = dYᵀ·X,
 * bone-free's cheap form, merge and unmerge.
 *
 * Notation as in BONE.md: W (O, I) row-major, b the block size, W_{a,c} the b×b block at
 * rows a·b.., columns c·b.. (row stride I inside W). A "group" is gr row-blocks × gc
 * column-blocks sharing one matrix D[g], g = (a/gr)·(I/b/gc) + c/gc:
 *   bone-col      gr = 1,   gc = I/b   → g = a
 *   bone-row      gr = O/b, gc = 1     → g = c
 *   bone-grid     gr, gc as given
 *   bone-hadamard as bone-col, element-wise product
 * bone-free keeps PEFT's B (b, O), B[q][a·b+p] = D[a][p][q], and never forms W'.
 *
 * Memory: W' lives only in the shared scratch c->wbuf while one linear runs; G is never
 * held whole — one tile of row-blocks at a time in c->tile. */
#include <lapacke.h>
#undef I /* <complex.h>, pulled in by lapacke.h, defines I; here I is in_features */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "adapter/adapter_internal.h"
#include "core/err.h"

/* Rows [a·b, a·b+b) of G per tile: ~256 rows, whole row-blocks. */
int64_t bone_tile_blocks(int64_t b) { return b >= 256 ? 1 : 256 / b; }

static inline int64_t group_of(const bone_adapter *A, int64_t I, int64_t a, int64_t c) {
    int64_t nC = I / A->b;
    return (a / A->gr) * (nC / A->gc) + c / A->gc; /* g = (a/gr)·(I/b/gc) + c/gc */
}

/* n elements of w starting at element off, as fp32 (serial: called inside parallel loops). */
static void rows_f32(bone_wref w, int64_t off, int64_t n, float *dst) {
    if (w.dtype == BONE_F32) memcpy(dst, (const float *)w.data + off, (size_t)n * sizeof(float));
    else bone_to_f32(dst, (const uint16_t *)w.data + off, w.dtype, (size_t)n);
}

/* 16 floats: one AVX-512 register or two AVX2 ones (GCC/Clang vector extension). The
 * kernels below keep a 4×16 tile of results in registers; used when b % 16 == 0. */
/* Without AVX-512 (AMD Zen 2/3, older Intel) GCC warns that passing a 64-byte vector by value
 * has a different ABI there; these helpers are static and always inlined, so no call ever
 * crosses an ABI boundary and the warning says nothing about this file. */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v16f __attribute__((vector_size(64)));
static inline __attribute__((always_inline)) v16f ld16(const float *p) {
    v16f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline __attribute__((always_inline)) void st16(float *p, v16f v) { memcpy(p, &v, sizeof v); }

/* Rows p..p+3 of W'_{a,c} = W_{a,c} + W_{a,c}·D + D. wr (4, b) is a copy of those rows of
 * W_{a,c} (the output overwrites them); out points at row p of the block (row stride I). */
static void build_rows4(const float *wr, const float *Dg, int64_t p, int64_t b, float *out, int64_t I) {
    for (int64_t q0 = 0; q0 < b; q0 += 16) {
        v16f a0 = ld16(Dg + (p + 0) * b + q0), a1 = ld16(Dg + (p + 1) * b + q0); /* + D[p][q] */
        v16f a2 = ld16(Dg + (p + 2) * b + q0), a3 = ld16(Dg + (p + 3) * b + q0);
        for (int64_t k = 0; k < b; k++) { /* + Σ_k W[p][k]·D[k][q] */
            const v16f d = ld16(Dg + k * b + q0);
            a0 += wr[k] * d;
            a1 += wr[b + k] * d;
            a2 += wr[2 * b + k] * d;
            a3 += wr[3 * b + k] * d;
        }
        st16(out + q0, ld16(wr + q0) + a0); /* W + ΔW */
        st16(out + I + q0, ld16(wr + b + q0) + a1);
        st16(out + 2 * I + q0, ld16(wr + 2 * b + q0) + a2);
        st16(out + 3 * I + q0, ld16(wr + 3 * b + q0) + a3);
    }
}

/* W' = W + ΔW into Wp (O, I), fp32.
 *   matrix variants: W'_{a,c} = W_{a,c} + W_{a,c}·D[g] + D[g]
 *   hadamard:        W'_{a,c} = W_{a,c} + W_{a,c} ⊙ D[a] + D[a]
 * Threads own whole row-blocks (disjoint output), so no reduction order issue. O·I·b work. */
static void guided_wprime(const bone_linear *L, float *Wp) {
    const bone_adapter *A = L->adapter;
    const int64_t I = L->I, b = A->b, nA = L->O / b, nC = I / b;
    const float *D = A->v[0]; /* (ng, b, b) */
    const int had = A->method == BONE_METHOD_HADAMARD, fast = b % 16 == 0;
#pragma omp parallel
    {
        float *acc = xmalloc((size_t)(4 * b) * sizeof(float)); /* a row of W_{a,c}·D + D, or 4 rows of W (fast) */
#pragma omp for schedule(static)
        for (int64_t a = 0; a < nA; a++) {
            float *rows = Wp + a * b * I; /* (b, I): the row-block a of W, then of W' */
            rows_f32(L->w, a * b * I, b * I, rows);
            for (int64_t c = 0; c < nC; c++) {
                const float *Dg = D + group_of(A, I, a, c) * b * b; /* (b, b) */
                float *blk = rows + c * b;                          /* W_{a,c}, row stride I */
                if (fast && !had) {
                    for (int64_t p = 0; p < b; p += 4) {
                        for (int r = 0; r < 4; r++) memcpy(acc + r * b, blk + (p + r) * I, (size_t)b * sizeof(float));
                        build_rows4(acc, Dg, p, b, blk + p * I, I);
                    }
                    continue;
                }
                for (int64_t p = 0; p < b; p++) {
                    float *w = blk + p * I; /* row p of the block */
                    const float *drow = Dg + p * b;
                    if (had) {
#pragma omp simd
                        for (int64_t q = 0; q < b; q++) w[q] += w[q] * drow[q] + drow[q];
                        continue;
                    }
                    /* acc[q] = D[p][q] + Σ_k W[p][k]·D[k][q]; the row is read whole before it is overwritten */
                    memcpy(acc, drow, (size_t)b * sizeof(float));
                    for (int64_t k = 0; k < b; k++) {
                        const float s = w[k];
                        const float *dk = Dg + k * b;
#pragma omp simd
                        for (int64_t q = 0; q < b; q++) acc[q] += s * dk[q];
                    }
#pragma omp simd
                    for (int64_t q = 0; q < b; q++) w[q] += acc[q];
                }
            }
        }
        free(acc);
    }
}

/* Y (N, O) = X (N, I)·W'ᵀ + bias, W' built in the shared scratch and dropped after. */
static void bone_forward(bone_lin_ctx *c, const bone_linear *L, const float *x, float *y, int64_t N) {
    float *Wp = bone_lin_scratch(&c->wbuf, &c->wbuf_cap, L->O * L->I); /* (O, I) */
    guided_wprime(L, Wp);
    /* W' changes with D every step: handed over unpacked, in fp32 (a bf16 backend rounds it
     * as it rounds any GEMM input) */
    bone_matmul_w(bone_lin_backend(c), 'T', N, L->O, L->I, 1.0f, x, L->I, (bone_wref){BONE_F32, Wp}, L->I, NULL, 0.0f,
                  y, L->O);
    bone_add_bias(L->bias, y, N, L->O);
}

/* Folds one tile of G (row-blocks a0..a0+ta-1) into dD.
 *   matrix variants: dD[g] += Σ_{(a,c)∈g} ( W_{a,c}ᵀ·G_{a,c} + G_{a,c} )
 *   hadamard:        dD[a] += Σ_c ( W_{a,c} ⊙ G_{a,c} + G_{a,c} )
 * Threads own distinct groups; inside a group the terms are added in (a, c) order, so the
 * sum does not depend on the thread count (nor on the tile size). */
/* Rows k..k+3 of dD[g] += W_{a,c}ᵀ·G_{a,c} + G_{a,c}: (WᵀG)[k][q] = Σ_p W[p][k]·G[p][q].
 * Wb, Gb point at the blocks (row stride I). */
static void fold_rows4(const float *Wb, const float *Gb, int64_t I, int64_t k, int64_t b, float *dDg) {
    for (int64_t q0 = 0; q0 < b; q0 += 16) {
        v16f a0 = ld16(Gb + (k + 0) * I + q0), a1 = ld16(Gb + (k + 1) * I + q0); /* + G[k][q] */
        v16f a2 = ld16(Gb + (k + 2) * I + q0), a3 = ld16(Gb + (k + 3) * I + q0);
        for (int64_t p = 0; p < b; p++) {
            const v16f g = ld16(Gb + p * I + q0);
            const float *w = Wb + p * I + k;
            a0 += w[0] * g;
            a1 += w[1] * g;
            a2 += w[2] * g;
            a3 += w[3] * g;
        }
        st16(dDg + (k + 0) * b + q0, ld16(dDg + (k + 0) * b + q0) + a0);
        st16(dDg + (k + 1) * b + q0, ld16(dDg + (k + 1) * b + q0) + a1);
        st16(dDg + (k + 2) * b + q0, ld16(dDg + (k + 2) * b + q0) + a2);
        st16(dDg + (k + 3) * b + q0, ld16(dDg + (k + 3) * b + q0) + a3);
    }
}

static void fold_tile(const bone_adapter *A, int64_t I, const float *W, const float *G, int64_t a0, int64_t ta,
                      float *dD) {
    const int64_t b = A->b, nC = I / b, ncg = nC / A->gc;
    const int64_t ga0 = a0 / A->gr, ga1 = (a0 + ta - 1) / A->gr;
    const int64_t npairs = (ga1 - ga0 + 1) * ncg;
    const int had = A->method == BONE_METHOD_HADAMARD, fast = b % 16 == 0;
#pragma omp parallel for schedule(static)
    for (int64_t pi = 0; pi < npairs; pi++) {
        const int64_t ga = ga0 + pi / ncg, gcol = pi % ncg;
        float *dDg = dD + (ga * ncg + gcol) * b * b; /* (b, b) */
        const int64_t alo = ga * A->gr > a0 ? ga * A->gr : a0;
        const int64_t ahi = ga * A->gr + A->gr < a0 + ta ? ga * A->gr + A->gr : a0 + ta;
        for (int64_t a = alo; a < ahi; a++) {
            for (int64_t c = gcol * A->gc; c < gcol * A->gc + A->gc; c++) {
                const float *Gb = G + (a - a0) * b * I + c * b; /* G_{a,c}, row stride I */
                const float *Wb = W + a * b * I + c * b;        /* W_{a,c}, row stride I */
                if (fast && !had) {
                    for (int64_t k = 0; k < b; k += 4) fold_rows4(Wb, Gb, I, k, b, dDg);
                    continue;
                }
                for (int64_t p = 0; p < b; p++) {
                    const float *g = Gb + p * I, *w = Wb + p * I;
                    if (had) {
                        float *d = dDg + p * b;
#pragma omp simd
                        for (int64_t q = 0; q < b; q++) d[q] += w[q] * g[q] + g[q];
                        continue;
                    }
                    float *dp = dDg + p * b;
#pragma omp simd
                    for (int64_t q = 0; q < b; q++) dp[q] += g[q]; /* + G_{a,c} */
                    /* (W_{a,c}ᵀ·G_{a,c})[k][q] = Σ_p W[p][k]·G[p][q]: row p adds W[p][k]·G[p][:] to row k */
                    for (int64_t k = 0; k < b; k++) {
                        const float s = w[k];
                        float *dk = dDg + k * b;
#pragma omp simd
                        for (int64_t q = 0; q < b; q++) dk[q] += s * g[q];
                    }
                }
            }
        }
    }
}

/* the G tile of bone_backward: t·b rows of I, t = bone_tile_blocks(b) capped at the nA row-blocks */
static int64_t g_tile_floats(int64_t b, int64_t nA, int64_t I) {
    const int64_t t = bone_tile_blocks(b);
    return (t < nA ? t : nA) * b * I;
}

/* dX (N, I) += dY·W' (W' rebuilt); dD += per-variant fold of G = dYᵀ·X, a tile at a time. */
static void bone_backward(bone_lin_ctx *c, bone_linear *L, const float *x, const float *dy, float *dx, int64_t N) {
    const bone_adapter *A = L->adapter;
    const int64_t O = L->O, I = L->I, b = A->b, nA = O / b;
    if (dx) {
        float *Wp = bone_lin_scratch(&c->wbuf, &c->wbuf_cap, O * I); /* (O, I) */
        guided_wprime(L, Wp);
        bone_matmul_w(bone_lin_backend(c), 'N', N, I, O, 1.0f, dy, O, (bone_wref){BONE_F32, Wp}, I, NULL, 1.0f, dx,
                      I); /* dX += dY·W' */
    }
    /* W' is no longer needed: a bf16/f16 base is converted into the same scratch. */
    const float *W = linear_base_f32(c, L); /* (O, I) */
    const int64_t t = bone_tile_blocks(b);
    float *G = bone_lin_scratch(&c->tile, &c->tile_cap, g_tile_floats(b, nA, I)); /* (t·b, I) */
    for (int64_t a0 = 0; a0 < nA; a0 += t) {
        const int64_t ta = nA - a0 < t ? nA - a0 : t;
        /* G_tile = dY[:, rows]ᵀ·X, rows = a0·b .. (a0+ta)·b-1 */
        bone_gemm_tn(bone_lin_backend(c), ta * b, I, N, 1.0f, dy + a0 * b, O, x, I, 0.0f, G, I);
        fold_tile(A, I, W, G, a0, ta, A->g[0]);
    }
    if (L->dbias && L->bias) bone_bias_grad(dy, L->dbias, N, O);
}

/* ---- bone-free: ΔW_{a,c} = D[a], i.e. W'[o][i] = W[o][i] + B[i mod b][o] ---- */

/* S (N, b): S[n][q] = Σ_c X[n][c·b+q], X zero-padded on the right to a multiple of b. */
static void block_sum(const float *x, float *S, int64_t N, int64_t I, int64_t b) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        float *s = S + n * b;
        const float *xr = x + n * I;
        memset(s, 0, (size_t)b * sizeof(float));
        for (int64_t c0 = 0; c0 < I; c0 += b) {
            const int64_t w = I - c0 < b ? I - c0 : b; /* the last column-block may be partial */
#pragma omp simd
            for (int64_t q = 0; q < w; q++) s[q] += xr[c0 + q];
        }
    }
}

/* Y = X·Wᵀ + bias + S·B */
static void free_forward(bone_lin_ctx *c, const bone_linear *L, const float *x, float *y, int64_t N) {
    const bone_adapter *A = L->adapter;
    const int64_t b = A->b;
    linear_base_forward(c, L, x, y, N);
    float *S = bone_lin_scratch(&c->tmp, &c->tmp_cap, N * b); /* (N, b) */
    block_sum(x, S, N, L->I, b);
    bone_gemm_nn(bone_lin_backend(c), N, L->O, b, 1.0f, S, b, A->v[0], L->O, 1.0f, y, L->O);
}

/* dB += Sᵀ·dY;  dX += dY·W, and dX[n][c·b+q] += (dY·Bᵀ)[n][q] for every c */
static void free_backward(bone_lin_ctx *c, bone_linear *L, const float *x, const float *dy, float *dx, int64_t N) {
    const bone_adapter *A = L->adapter;
    const int64_t b = A->b, O = L->O, I = L->I;
    linear_base_backward_dx(c, L, dy, dx, N);
    float *S = bone_lin_scratch(&c->tmp, &c->tmp_cap, 2 * N * b); /* S (N, b), T (N, b) */
    float *T = S + N * b;
    block_sum(x, S, N, I, b);
    bone_gemm_tn(bone_lin_backend(c), b, O, N, 1.0f, S, b, dy, O, 1.0f, A->g[0], O); /* dB (b, O) += Sᵀ·dY */
    if (dx) {
        bone_gemm_nt(bone_lin_backend(c), N, b, O, 1.0f, dy, O, A->v[0], O, 0.0f, T, b); /* T = dY·Bᵀ */
#pragma omp parallel for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            float *d = dx + n * I;
            const float *t = T + n * b;
            for (int64_t c0 = 0; c0 < I; c0 += b) {
                const int64_t w = I - c0 < b ? I - c0 : b;
#pragma omp simd
                for (int64_t q = 0; q < w; q++) d[c0 + q] += t[q];
            }
        }
    }
    if (L->dbias && L->bias) bone_bias_grad(dy, L->dbias, N, O);
}

/* W'[o][i] = W[o][i] + B[i mod b][o] into out (O, I) (bone-free merge, PEFT's rule). */
static void free_wprime(const bone_linear *L, float sign, float *out) {
    const bone_adapter *A = L->adapter;
    const int64_t O = L->O, I = L->I, b = A->b;
    const float *B = A->v[0]; /* (b, O) */
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < O; o++) {
        float *r = out + o * I;
        rows_f32(L->w, o * I, I, r);
        for (int64_t i = 0; i < I; i++) r[i] += sign * B[(i % b) * O + o];
    }
}

/* Frees an adapter state of any method (the LoRA family's A0/B0 copies too); shared by every
 * ops table here and in lora.c. */
void bone_adapter_destroy(bone_linear *L) {
    bone_adapter *A = L->adapter;
    if (A) {
        free(A->init_a);
        free(A->init_b);
        free(A);
    }
    L->adapter = NULL;
    L->ops = NULL;
}

const bone_adapter_ops bone_ops_col = {"bone-col", bone_forward, bone_backward, bone_adapter_destroy};
const bone_adapter_ops bone_ops_row = {"bone-row", bone_forward, bone_backward, bone_adapter_destroy};
const bone_adapter_ops bone_ops_grid = {"bone-grid", bone_forward, bone_backward, bone_adapter_destroy};
const bone_adapter_ops bone_ops_hadamard = {"bone-hadamard", bone_forward, bone_backward, bone_adapter_destroy};
const bone_adapter_ops bone_ops_free = {"bone-free", free_forward, free_backward, bone_adapter_destroy};

/* ---- unmerge (BONE.md "Merge and unmerge") ---- */

/* Refuse when (I + D) amplifies fp32 rounding of W' by more than this. */
#define BONE_UNMERGE_MAX_COND 1e6

/* W from W' (L's current weight) into out (O, I):
 *   matrix variants: W_{a,c} = (W'_{a,c} − D[g])·(I + D[g])⁻¹   (inverse in double)
 *   hadamard:        W = (W' − D)/(1 + D)
 *   free:            W = W' − ΔW */
int bone_bone_unmerge_into(const bone_linear *L, float *out, bone_err *e) {
    const bone_adapter *A = L->adapter;
    const int64_t O = L->O, I = L->I, b = A->b;
    if (A->method == BONE_METHOD_FREE) {
        free_wprime(L, -1.0f, out);
        return 0;
    }
    const int64_t nA = O / b, nC = I / b;
    const float *D = A->v[0];
    if (A->method == BONE_METHOD_HADAMARD) {
        for (int64_t i = 0; i < A->ng * b * b; i++)
            if (!(fabsf(1.0f + D[i]) >= 1e-6f))
                return bone_fail(e,
                                 "%s: cannot unmerge bone-hadamard: 1 + D[%lld][%lld][%lld] = %g is (near) zero, "
                                 "so W = (W' - D)/(1 + D) is undefined",
                                 L->name, (long long)(i / (b * b)), (long long)(i / b % b), (long long)(i % b),
                                 (double)(1.0f + D[i]));
#pragma omp parallel for schedule(static)
        for (int64_t a = 0; a < nA; a++) {
            rows_f32(L->w, a * b * I, b * I, out + a * b * I);
            for (int64_t p = 0; p < b; p++)
                for (int64_t i = 0; i < I; i++) {
                    float d = D[a * b * b + p * b + i % b];
                    float *w = out + (a * b + p) * I + i;
                    *w = (*w - d) / (1.0f + d);
                }
        }
        return 0;
    }
    /* inverses of (I + D[g]) for every group, checked first so nothing is half-written */
    const int64_t ng = A->ng;
    double *inv = xmalloc((size_t)(ng * b * b) * sizeof(double));
    lapack_int *ipiv = xmalloc((size_t)b * sizeof(lapack_int));
    for (int64_t g = 0; g < ng; g++) {
        double *M = inv + g * b * b;
        for (int64_t p = 0; p < b; p++)
            for (int64_t q = 0; q < b; q++) M[p * b + q] = (double)D[g * b * b + p * b + q] + (p == q ? 1.0 : 0.0);
        double anorm = LAPACKE_dlange(LAPACK_ROW_MAJOR, '1', (lapack_int)b, (lapack_int)b, M, (lapack_int)b);
        lapack_int info = LAPACKE_dgetrf(LAPACK_ROW_MAJOR, (lapack_int)b, (lapack_int)b, M, (lapack_int)b, ipiv);
        double rcond = 0.0;
        if (info == 0) LAPACKE_dgecon(LAPACK_ROW_MAJOR, '1', (lapack_int)b, M, (lapack_int)b, anorm, &rcond);
        if (info != 0 || !(rcond * BONE_UNMERGE_MAX_COND >= 1.0)) {
            free(inv);
            free(ipiv);
            if (info != 0)
                return bone_fail(e, "%s: cannot unmerge %s: I + D[%lld] is singular, so W cannot be recovered from W'",
                                 L->name, bone_method_name(A->method), (long long)g);
            return bone_fail(e,
                             "%s: cannot unmerge %s: I + D[%lld] is ill-conditioned (condition number %.3g > %.0e); "
                             "W recovered from W' would be dominated by rounding error",
                             L->name, bone_method_name(A->method), (long long)g, rcond > 0 ? 1.0 / rcond : INFINITY,
                             BONE_UNMERGE_MAX_COND);
        }
        LAPACKE_dgetri(LAPACK_ROW_MAJOR, (lapack_int)b, M, (lapack_int)b, ipiv);
    }
    free(ipiv);
#pragma omp parallel
    {
        double *acc = xmalloc((size_t)b * sizeof(double));
        float *src = xmalloc((size_t)(b * I) * sizeof(float));
#pragma omp for schedule(static)
        for (int64_t a = 0; a < nA; a++) {
            rows_f32(L->w, a * b * I, b * I, src); /* row-block a of W' */
            for (int64_t c = 0; c < nC; c++) {
                const int64_t g = group_of(A, I, a, c);
                const float *Dg = D + g * b * b;
                const double *Mi = inv + g * b * b; /* (I + D[g])⁻¹ */
                for (int64_t p = 0; p < b; p++) {
                    const float *wp = src + p * I + c * b;
                    for (int64_t q = 0; q < b; q++) acc[q] = 0.0;
                    for (int64_t k = 0; k < b; k++) {
                        const double s = (double)wp[k] - (double)Dg[p * b + k]; /* (W' − D)[p][k] */
                        for (int64_t q = 0; q < b; q++) acc[q] += s * Mi[k * b + q];
                    }
                    float *o = out + (a * b + p) * I + c * b;
                    for (int64_t q = 0; q < b; q++) o[q] = (float)acc[q];
                }
            }
        }
        free(acc);
        free(src);
    }
    free(inv);
    return 0;
}

/* W' for merge, every variant. */
void bone_bone_wprime(const bone_linear *L, float *out) {
    if (((const bone_adapter *)L->adapter)->method == BONE_METHOD_FREE) free_wprime(L, 1.0f, out);
    else guided_wprime(L, out);
}

size_t bone_g_tile_floats(const bone_linear *L) {
    if (!L->ops || L->ops->backward != bone_backward) return 0;
    const bone_adapter *A = L->adapter;
    return (size_t)g_tile_floats(A->b, L->O / A->b, L->I);
}
