/* attention.c — causal grouped-query attention, forward and backward.
 *
 * Work is split over (sequence, kv head) pairs; each pair handles the nh/nkv query heads
 * that share its K and V, so dK/dV need no cross-thread reduction. Scores are formed one
 * head at a time in a per-thread T×T block: forward keeps only the row log-sum-exp, and
 * backward recomputes P = exp(S − lse) (the FlashAttention identity), so no (B, nh, T, T)
 * tensor is ever stored. Per head the products go to BLAS (single-threaded inside the
 * OpenMP region). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "ops/ops.h"
#include "ops/vexp.h"

void attention_forward(float *out, float *lse, const float *q, const float *k, const float *v, const int64_t *len,
                       int64_t B, int64_t T, int64_t nh, int64_t nkv, int64_t d) {
    const int64_t group = nh / nkv, qs = nh * d, ks = nkv * d;
    const float scale = 1.0f / sqrtf((float)d);
#pragma omp parallel
    {
        float *S = xmalloc((size_t)(T * T) * sizeof(float)); // (T, T) scores of one head
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
                if (L > 0) gemm_nt(L, L, d, scale, qb, qs, kb, ks, 0.0f, S, L); // S = q·kᵀ/√d
                for (int64_t t = 0; t < L; t++) {
                    float *row = S + t * L;
                    const float mx = bone_vmax(row, t + 1);
                    const double sum = bone_vexp_sum(row, row, t + 1, mx);
                    float inv = (float)(1.0 / sum);
#pragma omp simd
                    for (int64_t u = 0; u <= t; u++) row[u] *= inv;
                    for (int64_t u = t + 1; u < L; u++) row[u] = 0.0f; // causal mask
                    lb[t] = mx + (float)log(sum);
                }
                for (int64_t t = L; t < T; t++) lb[t] = 0.0f;
                if (L > 0) gemm_nn(L, d, L, 1.0f, S, L, vb, ks, 0.0f, ob, qs); // out = P·v
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
        float *P = xmalloc((size_t)(T * T) * sizeof(float));  // (T, T) probabilities
        float *dP = xmalloc((size_t)(T * T) * sizeof(float)); // (T, T)
        float *D = xmalloc((size_t)(T + 1) * sizeof(float));  // (T) rowsum(dO ⊙ O)
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
                gemm_nt(L, L, d, scale, qb, qs, kb, ks, 0.0f, P, L); // S
                for (int64_t t = 0; t < L; t++) {
                    float *row = P + t * L;
                    bone_vexp_sum(row, row, t + 1, lb[t]); /* P = exp(S − lse) */
                    for (int64_t u = t + 1; u < L; u++) row[u] = 0.0f;
                    const float *o = ob + t * qs, *go = gob + t * qs;
                    float s = 0.0f;
                    for (int64_t j = 0; j < d; j++) s += o[j] * go[j];
                    D[t] = s;
                }
                gemm_tn(L, d, L, 1.0f, P, L, gob, qs, 1.0f, dvb, ks);      // dV += Pᵀ·dO
                gemm_nt(L, L, d, 1.0f, gob, qs, vb, ks, 0.0f, dP, L);      // dP = dO·Vᵀ
                for (int64_t t = 0; t < L; t++) {
                    float *pr = P + t * L, *dr = dP + t * L;
                    const float Dt = D[t];
#pragma omp simd
                    for (int64_t u = 0; u <= t; u++) pr[u] = pr[u] * (dr[u] - Dt); // dS (unscaled)
                }
                gemm_nn(L, d, L, scale, P, L, kb, ks, 1.0f, dqb, qs);      // dQ += dS·K/√d
                gemm_tn(L, d, L, scale, P, L, qb, qs, 1.0f, dkb, ks);      // dK += dSᵀ·Q/√d
            }
        }
        free(P);
        free(dP);
        free(D);
    }
}
