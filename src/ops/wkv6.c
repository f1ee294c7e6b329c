/* wkv6.c — the RWKV-6 WKV recurrence as one fused op (contract in rwkv6_ops.h), forward and
 * backward, in two forms: the sequential scan (the reference, and the decode step) and the
 * chunked form used for training and scoring. Work is split over (sequence, head) pairs;
 * every pair runs start to end on one OpenMP thread with that thread's slice of ws.
 *
 * The decay gradient. logw_m scales every contribution that flows from a key k_s (s < m, or
 * the initial state) to an output y_τ (τ > m) or to the final state. Summing the pairwise
 * terms r_τ[i]·k_s[i]·decay·(gy_τ·v_s) in two ways gives, per key channel i,
 *     ∂L/∂logw_m = Σ_{τ>m} r_τ⊙dr̂_τ − Σ_{s≥m} k_s⊙dk̂_s + Σ_j ∂L/∂S_T[i][j]·S_T[i][j]
 * where dr̂, dk̂ are the gradients of r and k WITHOUT their bonus (u) terms: pairs with τ > m
 * minus pairs with s ≥ m leaves exactly the pairs with s < m < τ. Both forms use it, so no
 * pass needs the states S_t of every step; the suffix sums run in double. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "ops/gemm.h"
#include "ops/rwkv6_ops.h"
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

/* y[i] = exp(x[i]) in place. The chunked form takes three exponentials per key channel and
 * token, which scalar expf made as costly as the products; with AVX2 this is the Cody–Waite
 * reduction and Cephes polynomial of ops/vexp.h (≤ 2 ulp), 2ⁿ built in the exponent bits.
 * Inputs below −87.3 give 1.2e-38 instead of 0 (a decay of e^-87 is 0 for every purpose). */
static void exp_inplace(float *x, int64_t n) {
    int64_t i = 0;
#if defined(__AVX2__) && defined(__FMA__)
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        v = _mm256_min_ps(_mm256_set1_ps(88.3f), _mm256_max_ps(_mm256_set1_ps(-87.3f), v)); /* NaN stays NaN */
        __m256 nn = _mm256_round_ps(_mm256_mul_ps(v, _mm256_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256 r = _mm256_fnmadd_ps(nn, _mm256_set1_ps(0.693359375f), v);
        r = _mm256_fnmadd_ps(nn, _mm256_set1_ps(-2.12194440e-4f), r);
        __m256 p = _mm256_set1_ps(1.9875691500e-4f);
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
        p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
        __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(nn), _mm256_set1_epi32(127)), 23);
        _mm256_storeu_ps(x + i, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
    }
#endif
    for (; i < n; i++) x[i] = expf(x[i]);
}

/* du partial sums: one (C) row per sequence, reduced over b in order after the parallel loop,
 * so du does not depend on which thread ran which pair. */
static void reduce_du(float *du, const float *part, int64_t B, int64_t C) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++) du[c] += part[b * C + c];
}

/* ======================================================================= sequential scan */

void wkv6_seq_forward(float *y, float *s_out, const float *r, const float *k, const float *v, const float *logw,
                      const float *u, const float *s0, int64_t B, int64_t T, int64_t C, int64_t hs) {
    BONE_ASSERT(hs >= 1 && C % hs == 0, "wkv6: C must be a multiple of the head size");
    const int64_t H = C / hs, S2 = hs * hs;
#pragma omp parallel
    {
        float *S = xmalloc((size_t)(S2 + hs) * sizeof(float)), *wt = S + S2; // state, exp(logw_t)
#pragma omp for schedule(static)
        for (int64_t bh = 0; bh < B * H; bh++) {
            const int64_t b = bh / H, h = bh % H;
            if (s0) memcpy(S, s0 + bh * S2, (size_t)S2 * sizeof(float));
            else memset(S, 0, (size_t)S2 * sizeof(float));
            const float *uh = u + h * hs;
            for (int64_t t = 0; t < T; t++) {
                const int64_t o = (b * T + t) * C + h * hs;
                const float *rt = r + o, *kt = k + o, *vt = v + o, *lw = logw + o;
                float *yt = y + o;
                for (int64_t j = 0; j < hs; j++) yt[j] = 0.0f;
                memcpy(wt, lw, (size_t)hs * sizeof(float));
                exp_inplace(wt, hs);
                for (int64_t i = 0; i < hs; i++) {
                    const float ri = rt[i], ki = kt[i], wi = wt[i], bi = ri * uh[i] * ki;
                    float *Si = S + i * hs;
#pragma omp simd
                    for (int64_t j = 0; j < hs; j++) {
                        yt[j] += ri * Si[j] + bi * vt[j];
                        Si[j] = wi * Si[j] + ki * vt[j];
                    }
                }
            }
            if (s_out) memcpy(s_out + bh * S2, S, (size_t)S2 * sizeof(float));
        }
        free(S);
    }
}

/* per worker: accR, accK (double, hs each), S, G (hs²), r⊙dr̂ per step (T·hs), exp(logw_t)
 * (hs); rounded to 16 */
static size_t seq_worker_floats(int64_t T, int64_t hs) {
    const size_t n = (size_t)(4 * hs + 2 * hs * hs + T * hs + hs);
    return (n + 15) / 16 * 16;
}

size_t wkv6_seq_ws_floats(int64_t B, int64_t T, int64_t C, int64_t hs) {
    return (size_t)omp_get_max_threads() * seq_worker_floats(T, hs) + (size_t)(B * C);
}

void wkv6_seq_backward(float *dr, float *dk, float *dv, float *dlogw, float *du, float *ds0, const float *dy,
                       const float *ds_out, const float *r, const float *k, const float *v, const float *logw,
                       const float *u, const float *s0, int64_t B, int64_t T, int64_t C, int64_t hs, float *ws) {
    BONE_ASSERT(hs >= 1 && C % hs == 0, "wkv6: C must be a multiple of the head size");
    const int64_t H = C / hs, S2 = hs * hs;
    const size_t per = seq_worker_floats(T, hs);
    float *own = NULL;
    if (!ws) ws = own = xmalloc(wkv6_seq_ws_floats(B, T, C, hs) * sizeof(float));
    float *dupart = ws + (size_t)omp_get_max_threads() * per; // (B, C)
    memset(dupart, 0, (size_t)(B * C) * sizeof(float));
#pragma omp parallel
    {
        float *mine = ws + (size_t)omp_get_thread_num() * per;
        double *accR = (double *)mine, *accK = accR + hs;
        float *S = mine + 4 * hs, *G = S + S2, *rg = G + S2, *wt = rg + T * hs; // rg (T, hs), wt (hs)
#pragma omp for schedule(static)
        for (int64_t bh = 0; bh < B * H; bh++) {
            const int64_t b = bh / H, h = bh % H;
            const float *uh = u + h * hs;
            float *duh = dupart + b * C + h * hs;
            if (s0) memcpy(S, s0 + bh * S2, (size_t)S2 * sizeof(float));
            else memset(S, 0, (size_t)S2 * sizeof(float));
            /* forward sweep: dr (needs S_t), r⊙dr̂, du; ends with S = S_T */
            for (int64_t t = 0; t < T; t++) {
                const int64_t o = (b * T + t) * C + h * hs;
                const float *rt = r + o, *kt = k + o, *vt = v + o, *gt = dy + o, *lw = logw + o;
                float gv = 0.0f;
#pragma omp simd reduction(+ : gv)
                for (int64_t j = 0; j < hs; j++) gv += gt[j] * vt[j];
                memcpy(wt, lw, (size_t)hs * sizeof(float));
                exp_inplace(wt, hs);
                for (int64_t i = 0; i < hs; i++) {
                    float *Si = S + i * hs;
                    float s = 0.0f;
#pragma omp simd reduction(+ : s)
                    for (int64_t j = 0; j < hs; j++) s += gt[j] * Si[j];
                    dr[o + i] += s + uh[i] * kt[i] * gv;
                    rg[t * hs + i] = rt[i] * s;
                    duh[i] += rt[i] * kt[i] * gv;
                    const float wi = wt[i], ki = kt[i];
#pragma omp simd
                    for (int64_t j = 0; j < hs; j++) Si[j] = wi * Si[j] + ki * vt[j];
                }
            }
            for (int64_t i = 0; i < hs; i++) {
                double c = 0.0; /* Σ_j ∂L/∂S_T · S_T: the final state's share of every decay */
                if (ds_out)
                    for (int64_t j = 0; j < hs; j++) c += (double)ds_out[bh * S2 + i * hs + j] * S[i * hs + j];
                accR[i] = c;
                accK[i] = 0.0;
            }
            if (ds_out) memcpy(G, ds_out + bh * S2, (size_t)S2 * sizeof(float));
            else memset(G, 0, (size_t)S2 * sizeof(float));
            /* backward sweep with G = ∂L/∂S_{t+1}: dk, dv, dlogw, then G ← ∂L/∂S_t */
            for (int64_t t = T - 1; t >= 0; t--) {
                const int64_t o = (b * T + t) * C + h * hs;
                const float *rt = r + o, *kt = k + o, *vt = v + o, *gt = dy + o, *lw = logw + o;
                float gv = 0.0f, ruk = 0.0f;
                for (int64_t j = 0; j < hs; j++) gv += gt[j] * vt[j];
                for (int64_t i = 0; i < hs; i++) ruk += rt[i] * uh[i] * kt[i];
                float *dvt = dv + o;
                for (int64_t j = 0; j < hs; j++) dvt[j] += gt[j] * ruk;
                memcpy(wt, lw, (size_t)hs * sizeof(float));
                exp_inplace(wt, hs);
                for (int64_t i = 0; i < hs; i++) {
                    float *Gi = G + i * hs;
                    const float ki = kt[i], ri = rt[i], wi = wt[i];
                    float s = 0.0f;
#pragma omp simd reduction(+ : s)
                    for (int64_t j = 0; j < hs; j++) {
                        s += vt[j] * Gi[j];
                        dvt[j] += ki * Gi[j];
                        Gi[j] = ri * gt[j] + wi * Gi[j];
                    }
                    dk[o + i] += s + ri * uh[i] * gv;
                    accK[i] += (double)ki * s;
                    dlogw[o + i] += (float)(accR[i] - accK[i]);
                    accR[i] += rg[t * hs + i];
                }
            }
            if (ds0)
                for (int64_t e = 0; e < S2; e++) ds0[bh * S2 + e] += G[e];
        }
    }
    if (du) reduce_du(du, dupart, B, C);
    free(own);
}

/* ======================================================================= chunked form */

/* Segments. Inside a segment of L tokens starting at s, with a_t = Σ_{m<t} logw_{s+m}
 * (a_0 = 0, non-increasing), the pair decay exp(a_t − a_{σ+1}) (σ < t) is split as
 * exp(a_t)·exp(−a_{σ+1}): both factors stay in [e^-60, e^60] when a_{L−1} ≥ −60, so they
 * and their product are exact to fp32 rounding. A chunk is therefore cut greedily where
 * the cumulative decay (excluding the segment's last step, which no pair spans) would go
 * below −60; ordinary decays never cut, and a single token is always a valid segment. */
#define WKV_SPAN 60.0f

/* Length of the segment starting at s (< end) over channels lw (row stride C); cum is hs floats. */
static int64_t seg_len(const float *lw, int64_t C, int64_t hs, int64_t s, int64_t end, float *cum) {
    /* usual case first: the whole rest fits (a is non-increasing, so its last value decides) */
    for (int64_t i = 0; i < hs; i++) cum[i] = 0.0f;
    for (int64_t t = s; t + 1 < end; t++)
#pragma omp simd
        for (int64_t i = 0; i < hs; i++) cum[i] += lw[t * C + i];
    float lo = 0.0f;
#pragma omp simd reduction(min : lo)
    for (int64_t i = 0; i < hs; i++) lo = cum[i] < lo ? cum[i] : lo;
    if (!(lo < -WKV_SPAN)) return end - s;
    for (int64_t i = 0; i < hs; i++) cum[i] = 0.0f;
    int64_t L = 1;
    while (s + L < end) {
        const float *l = lw + (s + L - 1) * C;
        float mn = 0.0f;
#pragma omp simd reduction(min : mn)
        for (int64_t i = 0; i < hs; i++) {
            cum[i] += l[i];
            mn = cum[i] < mn ? cum[i] : mn;
        }
        if (mn < -WKV_SPAN) break; /* (a NaN decay never cuts; it reaches the outputs as NaN) */
        L++;
    }
    return L;
}

/* Working arrays of one worker, each sized for a full chunk. */
typedef struct seg_buf {
    float *a;                  // (L+1, hs) cumulative log-decay
    float *ea, *eka, *ekd;     // (L, hs) exp(a_t), exp(−a_{t+1}), exp(A − a_{t+1})
    float *q, *kk, *kd;        // (L, hs) r⊙ea, k⊙eka, k⊙ekd
    float *dq, *dkk, *dkd;     // (L, hs) their gradients (backward)
    float *P, *dP;             // (L, L)
    float *cum;                // (hs)
} seg_buf;

/* The decay factors and factored inputs of one segment of L tokens at row pointers r,k,lw.
 * full = 0 prepares only what the state update needs (a, ekd, kd): the backward's state
 * passes need no outputs. */
static void seg_prepare(seg_buf *w, const float *r, const float *k, const float *lw, const float *uh, int64_t L,
                        int64_t C, int64_t hs, int full) {
    float *a = w->a;
    for (int64_t i = 0; i < hs; i++) a[i] = 0.0f;
    /* A decay of −inf (w = 0, what −exp() of an overflowing w_raw gives) would make A − a
     * = −inf − (−inf) = NaN; −1e30 gives the same zeros. Only a segment's last step can be
     * that large (any earlier one cuts it), so nothing else is absorbed. NaN stays NaN. */
    for (int64_t t = 0; t < L; t++)
#pragma omp simd
        for (int64_t i = 0; i < hs; i++) {
            const float l = lw[t * C + i];
            a[(t + 1) * hs + i] = a[t * hs + i] + (l < -1e30f ? -1e30f : l);
        }
    const float *A = a + L * hs;
    for (int64_t t = 0; t < L; t++)
#pragma omp simd
        for (int64_t i = 0; i < hs; i++) w->ekd[t * hs + i] = A[i] - a[(t + 1) * hs + i];
    exp_inplace(w->ekd, L * hs);
    for (int64_t t = 0; t < L; t++)
#pragma omp simd
        for (int64_t i = 0; i < hs; i++) w->kd[t * hs + i] = k[t * C + i] * w->ekd[t * hs + i];
    if (!full) return;
    /* the last token is never the key of an intra pair, and its factor could overflow */
    for (int64_t t = 0; t < L; t++)
#pragma omp simd
        for (int64_t i = 0; i < hs; i++) {
            w->ea[t * hs + i] = a[t * hs + i];
            w->eka[t * hs + i] = t + 1 < L ? -a[(t + 1) * hs + i] : 0.0f;
        }
    exp_inplace(w->ea, L * hs);
    exp_inplace(w->eka, (L - 1) * hs);
    for (int64_t i = 0; i < hs; i++) w->eka[(L - 1) * hs + i] = 0.0f;
    for (int64_t t = 0; t < L; t++)
#pragma omp simd
        for (int64_t i = 0; i < hs; i++) {
            w->q[t * hs + i] = r[t * C + i] * w->ea[t * hs + i];
            w->kk[t * hs + i] = k[t * C + i] * w->eka[t * hs + i];
        }
    /* P[t][σ] = Σ_i r_t k_σ exp(a_t − a_{σ+1}) for σ < t, the bonus Σ_i r_t u k_t on the diagonal */
    gemm_nt(L, L, hs, 1.0f, w->q, hs, w->kk, hs, 0.0f, w->P, L);
    for (int64_t t = 0; t < L; t++) {
        float d = 0.0f;
#pragma omp simd reduction(+ : d)
        for (int64_t i = 0; i < hs; i++) d += r[t * C + i] * uh[i] * k[t * C + i];
        w->P[t * L + t] = d;
        for (int64_t s = t + 1; s < L; s++) w->P[t * L + s] = 0.0f;
    }
}

/* S ← exp(A)⊙S + kdᵀ·V (after seg_prepare) */
static void seg_state(seg_buf *w, float *S, const float *v, int64_t L, int64_t C, int64_t hs) {
    const float *A = w->a + L * hs;
    for (int64_t i = 0; i < hs; i++) {
        const float e = expf(A[i]);
        for (int64_t j = 0; j < hs; j++) S[i * hs + j] *= e;
    }
    gemm_tn(hs, hs, L, 1.0f, w->kd, hs, v, C, 1.0f, S, hs);
}

/* per worker: 3·hs doubles (accR, accK, spare) = 6·hs floats, seg_buf, S, G, chunk states
 * (nc+1)·hs², segment states inside one chunk L·hs², segment starts (L int32) */
static size_t chunk_worker_floats(int64_t T, int64_t hs, int64_t L) {
    const int64_t nc = (T + L - 1) / L;
    const size_t n = (size_t)(6 * hs + (L + 1) * hs + 9 * L * hs + 2 * L * L + hs + 2 * hs * hs +
                              (nc + 1) * hs * hs + L * hs * hs + L);
    return (n + 15) / 16 * 16;
}

size_t wkv6_chunked_ws_floats(int64_t B, int64_t T, int64_t C, int64_t hs, int64_t chunk) {
    return (size_t)omp_get_max_threads() * chunk_worker_floats(T, hs, chunk) + (size_t)(B * C);
}

typedef struct chunk_ws {
    double *accR, *accK;
    float *lR, *lK;
    seg_buf sb;
    float *S, *G, *Sc, *SS;
    int32_t *starts;
} chunk_ws;

static chunk_ws carve(float *base, int64_t T, int64_t hs, int64_t L) {
    const int64_t nc = (T + L - 1) / L;
    chunk_ws c;
    c.accR = (double *)base;
    c.accK = c.accR + hs;
    c.lR = base + 4 * hs;
    c.lK = base + 5 * hs;
    float *p = base + 6 * hs;
    c.sb.a = p; p += (L + 1) * hs;
    float **arr[9] = {&c.sb.ea, &c.sb.eka, &c.sb.ekd, &c.sb.q, &c.sb.kk, &c.sb.kd, &c.sb.dq, &c.sb.dkk, &c.sb.dkd};
    for (int i = 0; i < 9; i++) { *arr[i] = p; p += L * hs; }
    c.sb.P = p; p += L * L;
    c.sb.dP = p; p += L * L;
    c.sb.cum = p; p += hs;
    c.S = p; p += hs * hs;
    c.G = p; p += hs * hs;
    c.Sc = p; p += (nc + 1) * hs * hs;
    c.SS = p; p += L * hs * hs;
    c.starts = (int32_t *)p;
    return c;
}

void wkv6_chunked_forward(float *y, float *s_out, const float *r, const float *k, const float *v, const float *logw,
                          const float *u, const float *s0, int64_t B, int64_t T, int64_t C, int64_t hs, int64_t chunk,
                          float *ws) {
    const int64_t H = C / hs, S2 = hs * hs, L = chunk;
    BONE_ASSERT(hs >= 1 && C % hs == 0 && L >= 1, "wkv6: C must be a multiple of the head size, chunk >= 1");
    const size_t per = chunk_worker_floats(T, hs, L);
    float *own = NULL;
    if (!ws) ws = own = xmalloc(wkv6_chunked_ws_floats(B, T, C, hs, L) * sizeof(float));
#pragma omp parallel
    {
        chunk_ws c = carve(ws + (size_t)omp_get_thread_num() * per, T, hs, L);
        seg_buf *w = &c.sb;
#pragma omp for schedule(static)
        for (int64_t bh = 0; bh < B * H; bh++) {
            const int64_t b = bh / H, h = bh % H, base = b * T * C + h * hs;
            if (s0) memcpy(c.S, s0 + bh * S2, (size_t)S2 * sizeof(float));
            else memset(c.S, 0, (size_t)S2 * sizeof(float));
            for (int64_t c0 = 0; c0 < T; c0 += L) {
                const int64_t c1 = c0 + L < T ? c0 + L : T;
                for (int64_t s = c0; s < c1;) {
                    const int64_t n = seg_len(logw + base, C, hs, s, c1, w->cum), o = base + s * C;
                    seg_prepare(w, r + o, k + o, logw + o, u + h * hs, n, C, hs, 1);
                    gemm_nn(n, hs, n, 1.0f, w->P, n, v + o, C, 0.0f, y + o, C);      // intra + bonus
                    gemm_nn(n, hs, hs, 1.0f, w->q, hs, c.S, hs, 1.0f, y + o, C);     // from the state
                    seg_state(w, c.S, v + o, n, C, hs);
                    s += n;
                }
            }
            if (s_out) memcpy(s_out + bh * S2, c.S, (size_t)S2 * sizeof(float));
        }
    }
    free(own);
}

/* Backward of one segment of L tokens at row offset o, from its start state S, with G =
 * ∂L/∂(state after the segment) on entry and ∂L/∂(state before it) on exit. */
static void seg_backward(chunk_ws *c, const float *S, float *dr, float *dk, float *dv, float *dlogw, float *duh,
                         const float *dy, const float *r, const float *k, const float *v, const float *lw,
                         const float *uh, int64_t L, int64_t C, int64_t hs) {
    seg_buf *w = &c->sb;
    seg_prepare(w, r, k, lw, uh, L, C, hs, 1);
    /* dP = dY·Vᵀ; its diagonal gy_t·v_t drives the bonus gradients, then keep σ < t only */
    gemm_nt(L, L, hs, 1.0f, dy, C, v, C, 0.0f, w->dP, L);
    for (int64_t t = 0; t < L; t++) {
        const float gv = w->dP[t * L + t];
#pragma omp simd
        for (int64_t i = 0; i < hs; i++) {
            dr[t * C + i] += gv * uh[i] * k[t * C + i];
            dk[t * C + i] += gv * uh[i] * r[t * C + i];
            duh[i] += gv * r[t * C + i] * k[t * C + i];
        }
        for (int64_t s = t; s < L; s++) w->dP[t * L + s] = 0.0f;
    }
    gemm_nn(L, hs, L, 1.0f, w->dP, L, w->kk, hs, 0.0f, w->dq, hs);   // dq = dP·kk
    gemm_nt(L, hs, hs, 1.0f, dy, C, S, hs, 1.0f, w->dq, hs);         //    + dY·Sᵀ
    gemm_tn(L, hs, L, 1.0f, w->dP, L, w->q, hs, 0.0f, w->dkk, hs);   // dkk = dPᵀ·q
    gemm_nt(L, hs, hs, 1.0f, v, C, c->G, hs, 0.0f, w->dkd, hs);      // dkd = V·Gᵀ
    gemm_tn(L, hs, L, 1.0f, w->P, L, dy, C, 1.0f, dv, C);            // dV += Pᵀ·dY
    gemm_nn(L, hs, hs, 1.0f, w->kd, hs, c->G, hs, 1.0f, dv, C);      //     + kd·G
    /* the suffix sums: the (cancelling) difference of the long double sums once per
     * segment, the segment's own terms in float on top of it */
    float *lR = c->lR, *lK = c->lK, *base = w->cum;
    for (int64_t i = 0; i < hs; i++) {
        base[i] = (float)(c->accR[i] - c->accK[i]);
        lR[i] = lK[i] = 0.0f;
    }
    for (int64_t t = L - 1; t >= 0; t--)
#pragma omp simd
        for (int64_t i = 0; i < hs; i++) {
            const int64_t e = t * hs + i;
            dr[t * C + i] += w->dq[e] * w->ea[e];
            dk[t * C + i] += w->dkk[e] * w->eka[e] + w->dkd[e] * w->ekd[e];
            lK[i] += w->kk[e] * w->dkk[e] + w->kd[e] * w->dkd[e];
            dlogw[t * C + i] += base[i] + (lR[i] - lK[i]);
            lR[i] += w->q[e] * w->dq[e];
        }
    for (int64_t i = 0; i < hs; i++) {
        c->accR[i] += lR[i];
        c->accK[i] += lK[i];
    }
    /* G ← exp(A)⊙G + qᵀ·dY */
    const float *A = w->a + L * hs;
    for (int64_t i = 0; i < hs; i++) {
        const float e = expf(A[i]);
        for (int64_t j = 0; j < hs; j++) c->G[i * hs + j] *= e;
    }
    gemm_tn(hs, hs, L, 1.0f, w->q, hs, dy, C, 1.0f, c->G, hs);
}

void wkv6_chunked_backward(float *dr, float *dk, float *dv, float *dlogw, float *du, float *ds0, const float *dy,
                           const float *ds_out, const float *r, const float *k, const float *v, const float *logw,
                           const float *u, const float *s0, int64_t B, int64_t T, int64_t C, int64_t hs,
                           int64_t chunk, float *ws) {
    const int64_t H = C / hs, S2 = hs * hs, L = chunk, nc = (T + L - 1) / L;
    BONE_ASSERT(hs >= 1 && C % hs == 0 && L >= 1, "wkv6: C must be a multiple of the head size, chunk >= 1");
    const size_t per = chunk_worker_floats(T, hs, L);
    float *own = NULL;
    if (!ws) ws = own = xmalloc(wkv6_chunked_ws_floats(B, T, C, hs, L) * sizeof(float));
    float *dupart = ws + (size_t)omp_get_max_threads() * per; // (B, C)
    memset(dupart, 0, (size_t)(B * C) * sizeof(float));
#pragma omp parallel
    {
        chunk_ws c = carve(ws + (size_t)omp_get_thread_num() * per, T, hs, L);
        seg_buf *w = &c.sb;
#pragma omp for schedule(static)
        for (int64_t bh = 0; bh < B * H; bh++) {
            const int64_t b = bh / H, h = bh % H, base = b * T * C + h * hs;
            const float *uh = u + h * hs;
            /* 1. states at every chunk start, Sc[nc] = S_T */
            float *S = c.Sc;
            if (s0) memcpy(S, s0 + bh * S2, (size_t)S2 * sizeof(float));
            else memset(S, 0, (size_t)S2 * sizeof(float));
            for (int64_t ci = 0; ci < nc; ci++) {
                const int64_t c0 = ci * L, c1 = c0 + L < T ? c0 + L : T;
                float *Sn = c.Sc + (ci + 1) * S2;
                memcpy(Sn, c.Sc + ci * S2, (size_t)S2 * sizeof(float));
                for (int64_t s = c0; s < c1;) {
                    const int64_t n = seg_len(logw + base, C, hs, s, c1, w->cum), o = base + s * C;
                    seg_prepare(w, r + o, k + o, logw + o, uh, n, C, hs, 0);
                    seg_state(w, Sn, v + o, n, C, hs);
                    s += n;
                }
            }
            /* 2. the final state's terms */
            const float *ST = c.Sc + nc * S2;
            for (int64_t i = 0; i < hs; i++) {
                double cs = 0.0;
                if (ds_out)
                    for (int64_t j = 0; j < hs; j++) cs += (double)ds_out[bh * S2 + i * hs + j] * ST[i * hs + j];
                c.accR[i] = cs;
                c.accK[i] = 0.0;
            }
            if (ds_out) memcpy(c.G, ds_out + bh * S2, (size_t)S2 * sizeof(float));
            else memset(c.G, 0, (size_t)S2 * sizeof(float));
            /* 3. chunks last to first; inside a chunk, the segment start states again, then
             *    the segments last to first */
            for (int64_t ci = nc - 1; ci >= 0; ci--) {
                const int64_t c0 = ci * L, c1 = c0 + L < T ? c0 + L : T;
                int64_t nseg = 0;
                memcpy(c.SS, c.Sc + ci * S2, (size_t)S2 * sizeof(float));
                for (int64_t s = c0; s < c1;) {
                    const int64_t n = seg_len(logw + base, C, hs, s, c1, w->cum);
                    c.starts[nseg] = (int32_t)(s - c0);
                    if (s + n < c1) { /* the next segment's start state */
                        const int64_t o = base + s * C;
                        float *Sn = c.SS + (nseg + 1) * S2;
                        memcpy(Sn, c.SS + nseg * S2, (size_t)S2 * sizeof(float));
                        seg_prepare(w, r + o, k + o, logw + o, uh, n, C, hs, 0);
                        seg_state(w, Sn, v + o, n, C, hs);
                    }
                    nseg++;
                    s += n;
                }
                for (int64_t g = nseg - 1; g >= 0; g--) {
                    const int64_t s = c0 + c.starts[g], e = g + 1 < nseg ? c0 + c.starts[g + 1] : c1;
                    const int64_t o = base + s * C;
                    seg_backward(&c, c.SS + g * S2, dr + o, dk + o, dv + o, dlogw + o, dupart + b * C + h * hs,
                                 dy + o, r + o, k + o, v + o, logw + o, uh, e - s, C, hs);
                }
            }
            if (ds0)
                for (int64_t e = 0; e < S2; e++) ds0[bh * S2 + e] += c.G[e];
        }
    }
    if (du) reduce_du(du, dupart, B, C);
    free(own);
}
