/* attention.c — causal grouped-query attention, forward and backward.
 *
 * Work is split over (sequence, kv head) pairs; each pair handles the nh/nkv query heads
 * that share its K and V, so dK/dV need no cross-thread reduction. Scores are formed one
 * head and query tile at a time in a per-thread block: forward keeps only the row log-sum-exp, and
 * backward recomputes P = exp(S − lse) (the FlashAttention identity), so no (B, nh, T, T)
 * tensor is ever stored. Per head the products go to BLAS (single-threaded inside the
 * OpenMP region).
 *
 * Causality is used, not just masked: queries are taken ATT_TQ rows at a time, and a tile of
 * rows [r0, r1) only ever looks at keys [0, r1). At T = 256 that is 62.5 % of the full
 * square's products (the masked-out upper blocks are never computed). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "ops/ops.h"
#include "ops/vexp.h"

/* query rows per tile: big enough for BLAS to run well, small enough to skip most of the upper half */
#define ATT_TQ 64

void attention_forward(float *out, float *lse, const float *q, const float *k, const float *v, const int64_t *len,
                       int64_t B, int64_t T, int64_t nh, int64_t nkv, int64_t d) {
    const int64_t group = nh / nkv, qs = nh * d, ks = nkv * d;
    const float scale = 1.0f / sqrtf((float)d);
#pragma omp parallel
    {
        const int64_t tq = T < ATT_TQ ? T : ATT_TQ;
        float *S = xmalloc((size_t)(tq * T) * sizeof(float)); // (≤ ATT_TQ, T) scores of one query tile
#pragma omp for schedule(dynamic, 1)
        for (int64_t bk = 0; bk < B * nkv; bk++) {
            int64_t b = bk / nkv, kh = bk % nkv, L = len[b];
            const float *kb = k + b * T * ks + kh * d; // (L, d) stride ks
            const float *vb = v + b * T * ks + kh * d;
            for (int64_t g = 0; g < group; g++) {
                int64_t h = kh * group + g;
                const float *qb = q + b * T * qs + h * d; // (L, d) stride qs
                float *ob = out + b * T * qs + h * d;
                float *lb = lse + (b * nh + h) * T;
                for (int64_t r0 = 0; r0 < L; r0 += ATT_TQ) {
                    const int64_t r1 = r0 + ATT_TQ < L ? r0 + ATT_TQ : L, nq = r1 - r0; /* keys [0, r1) */
                    gemm_nt(nq, r1, d, scale, qb + r0 * qs, qs, kb, ks, 0.0f, S, r1); // S (nq, r1) = q·kᵀ/√d
                    for (int64_t i = 0; i < nq; i++) {
                        const int64_t t = r0 + i;
                        float *row = S + i * r1;
                        const float mx = bone_vmax(row, t + 1);
                        const double sum = bone_vexp_sum(row, row, t + 1, mx);
                        float inv = (float)(1.0 / sum);
#pragma omp simd
                        for (int64_t u = 0; u <= t; u++) row[u] *= inv;
                        for (int64_t u = t + 1; u < r1; u++) row[u] = 0.0f; // causal mask
                        lb[t] = mx + (float)log(sum);
                    }
                    gemm_nn(nq, d, r1, 1.0f, S, r1, vb, ks, 0.0f, ob + r0 * qs, qs); // out = P·v
                }
                for (int64_t t = L; t < T; t++) lb[t] = 0.0f;
                for (int64_t t = L; t < T; t++) memset(ob + t * qs, 0, (size_t)d * sizeof(float));
            }
        }
        free(S);
    }
}

void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out, const float *lse,
                        const float *q, const float *k, const float *v, const int64_t *len, int64_t B, int64_t T,
                        int64_t nh, int64_t nkv, int64_t d) {
    const int64_t group = nh / nkv, qs = nh * d, ks = nkv * d;
    const float scale = 1.0f / sqrtf((float)d);
#pragma omp parallel
    {
        const int64_t tq = T < ATT_TQ ? T : ATT_TQ;
        float *P = xmalloc((size_t)(tq * T) * sizeof(float));  // (≤ ATT_TQ, T) probabilities of a query tile
        float *dP = xmalloc((size_t)(tq * T) * sizeof(float)); // (≤ ATT_TQ, T)
        float *D = xmalloc((size_t)(tq + 1) * sizeof(float));  // (≤ ATT_TQ) rowsum(dO ⊙ O)
#pragma omp for schedule(dynamic, 1)
        for (int64_t bk = 0; bk < B * nkv; bk++) {
            int64_t b = bk / nkv, kh = bk % nkv, L = len[b];
            if (L == 0) continue;
            const float *kb = k + b * T * ks + kh * d;
            const float *vb = v + b * T * ks + kh * d;
            float *dkb = dk + b * T * ks + kh * d;
            float *dvb = dv + b * T * ks + kh * d;
            for (int64_t g = 0; g < group; g++) {
                int64_t h = kh * group + g;
                const float *qb = q + b * T * qs + h * d;
                const float *ob = out + b * T * qs + h * d;
                const float *gob = dout + b * T * qs + h * d;
                float *dqb = dq + b * T * qs + h * d;
                const float *lb = lse + (b * nh + h) * T;
                for (int64_t r0 = 0; r0 < L; r0 += ATT_TQ) {
                    const int64_t r1 = r0 + ATT_TQ < L ? r0 + ATT_TQ : L, nq = r1 - r0; /* keys [0, r1) */
                    const float *qt = qb + r0 * qs, *got = gob + r0 * qs;
                    gemm_nt(nq, r1, d, scale, qt, qs, kb, ks, 0.0f, P, r1); // S (nq, r1)
                    for (int64_t i = 0; i < nq; i++) {
                        const int64_t t = r0 + i;
                        float *row = P + i * r1;
                        bone_vexp_sum(row, row, t + 1, lb[t]); /* P = exp(S − lse) */
                        for (int64_t u = t + 1; u < r1; u++) row[u] = 0.0f;
                        const float *o = ob + t * qs, *go = gob + t * qs;
                        float s = 0.0f;
                        for (int64_t j = 0; j < d; j++) s += o[j] * go[j];
                        D[i] = s;
                    }
                    gemm_tn(r1, d, nq, 1.0f, P, r1, got, qs, 1.0f, dvb, ks);   // dV[0:r1] += Pᵀ·dO
                    gemm_nt(nq, r1, d, 1.0f, got, qs, vb, ks, 0.0f, dP, r1);   // dP = dO·V[0:r1]ᵀ
                    for (int64_t i = 0; i < nq; i++) {
                        float *pr = P + i * r1, *dr = dP + i * r1;
                        const float Di = D[i];
#pragma omp simd
                        for (int64_t u = 0; u <= r0 + i; u++) pr[u] = pr[u] * (dr[u] - Di); // dS (unscaled)
                    }
                    gemm_nn(nq, d, r1, scale, P, r1, kb, ks, 1.0f, dqb + r0 * qs, qs); // dQ += dS·K/√d
                    gemm_tn(r1, d, nq, scale, P, r1, qt, qs, 1.0f, dkb, ks);           // dK[0:r1] += dSᵀ·Q/√d
                }
            }
        }
        free(P);
        free(dP);
        free(D);
    }
}

size_t attention_ws_floats(int64_t T) {
    const int64_t tq = T < ATT_TQ ? T : ATT_TQ;
    return (size_t)(2 * tq * T + tq + 1); /* backward: P, dP and D of one query tile (more than forward's S) */
}

/* One query head against the first P cached positions (decode): o = softmax(q·Kᵀ·scale)·V,
 * with K and V rows kstride floats apart (the head's slice already offset in K, V). Used by the
 * one-at-a-time and the batched decoders alike, so their outputs are the same bits.
 * q, o (d); K, V (P, kstride); sc (P) scratch. */
void attention_cached_head(float *o, const float *q, const float *K, const float *V, int64_t P, int64_t kstride,
                           int64_t d, float scale, float *sc) {
    float mx = -INFINITY;
    for (int64_t t = 0; t < P; t++) {
        const float *kt = K + t * kstride;
        /* 8 partial sums: one running sum is a chain of dependent adds that the compiler may not
         * reorder (no -ffast-math), so it ran at one multiply-add per 4 cycles; 8 independent
         * lanes vectorise. The order is fixed, so every caller still gets the same bits. */
        float acc[8] = {0};
        int64_t j = 0;
        for (; j + 8 <= d; j += 8)
            for (int u = 0; u < 8; u++) acc[u] += q[j + u] * kt[j + u];
        for (; j < d; j++) acc[j & 7] += q[j] * kt[j];
        const float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        sc[t] = s * scale;
        mx = sc[t] > mx ? sc[t] : mx;
    }
    double sum = 0.0;
    for (int64_t t = 0; t < P; t++) {
        sc[t] = expf(sc[t] - mx);
        sum += sc[t];
    }
    float inv = (float)(1.0 / sum);
    memset(o, 0, (size_t)d * sizeof(float));
    for (int64_t t = 0; t < P; t++) {
        const float *vt = V + t * kstride;
        float w = sc[t] * inv;
        for (int64_t j = 0; j < d; j++) o[j] += w * vt[j];
    }
}
