/* testutil.h — shared helpers for the adapter tests (CHECK comes from tests/testutil.h): a
 * seeded RNG, bf16 weights, and the naive dense reference of every variant written straight
 * from BONE.md (double precision, plain loops, no shared code with src/adapter). */
#ifndef BONE_TESTS_ADAPTER_TESTUTIL_H
#define BONE_TESTS_ADAPTER_TESTUTIL_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "adapter/adapter.h"
#include "core/dtype.h"
#include "../testutil.h" /* CHECK */

static uint64_t t_state __attribute__((unused)) = 0x1234567ull;
static inline double t_uniform(void) { /* [0, 1) */
    uint64_t z = (t_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}
static inline float t_sym(double s) { return (float)((2.0 * t_uniform() - 1.0) * s); }
static inline float *t_rand(int64_t n, double s) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = t_sym(s);
    return p;
}

/* max |a - b| / max(1, max |b|) */
static inline double t_relerr_fd(const float *a, const double *b, int64_t n) {
    double m = 0, s = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m) m = d;
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    return m / (s > 1.0 ? s : 1.0);
}

enum { T_COL, T_ROW, T_GRID, T_HAD, T_FREE };

/* Dense ΔW (O, I) from BONE.md's table. W is the base as the linear sees it (double).
 * Bone variants: D (ng, b, b). free: B (b, O) with D[a][p][q] = B[q][a·b+p]. */
static inline void naive_delta(int v, int64_t O, int64_t I, int64_t b, int64_t gr, int64_t gc, const double *W, const float *D,
                        double *dW) {
    memset(dW, 0, (size_t)(O * I) * sizeof(double));
    if (v == T_FREE) {
        /* ΔW_{a,c} = D[a] for every column-block c (a partial last block is cut at I) */
        for (int64_t o = 0; o < O; o++)
            for (int64_t i = 0; i < I; i++) {
                int64_t p = o % b, q = i % b, a = o / b;
                double d = D[q * O + a * b + p]; /* D[a][p][q] */
                dW[o * I + i] = d;
            }
        return;
    }
    const int64_t nA = O / b, nC = I / b;
    for (int64_t a = 0; a < nA; a++)
        for (int64_t c = 0; c < nC; c++) {
            int64_t g;
            if (v == T_COL || v == T_HAD) g = a;
            else if (v == T_ROW) g = c;
            else g = (a / gr) * (nC / gc) + c / gc;
            const float *Dg = D + g * b * b;
            for (int64_t p = 0; p < b; p++)
                for (int64_t q = 0; q < b; q++) {
                    double w = W[(a * b + p) * I + c * b + q], s;
                    if (v == T_HAD) {
                        s = w * Dg[p * b + q] + Dg[p * b + q]; /* W ⊙ D + D */
                    } else {
                        s = Dg[p * b + q]; /* (W_{a,c}·D)[p][q] + D[p][q] */
                        for (int64_t k = 0; k < b; k++) s += W[(a * b + p) * I + c * b + k] * Dg[k * b + q];
                    }
                    dW[(a * b + p) * I + c * b + q] = s;
                }
        }
}

/* dD from G (O, I) per BONE.md "Gradients" (same layouts as naive_delta). */
static inline void naive_dD(int v, int64_t O, int64_t I, int64_t b, int64_t gr, int64_t gc, const double *W, const double *G,
                     double *dD, int64_t ndD) {
    memset(dD, 0, (size_t)ndD * sizeof(double));
    if (v == T_FREE) { /* dD[a] = Σ_c G_{a,c}; stored as dB[q][a·b+p] */
        for (int64_t o = 0; o < O; o++)
            for (int64_t i = 0; i < I; i++) dD[(i % b) * O + o] += G[o * I + i];
        return;
    }
    const int64_t nA = O / b, nC = I / b;
    for (int64_t a = 0; a < nA; a++)
        for (int64_t c = 0; c < nC; c++) {
            int64_t g;
            if (v == T_COL || v == T_HAD) g = a;
            else if (v == T_ROW) g = c;
            else g = (a / gr) * (nC / gc) + c / gc;
            double *d = dD + g * b * b;
            for (int64_t k = 0; k < b; k++)
                for (int64_t q = 0; q < b; q++) {
                    double gkq = G[(a * b + k) * I + c * b + q];
                    if (v == T_HAD) {
                        d[k * b + q] += W[(a * b + k) * I + c * b + q] * gkq + gkq;
                        continue;
                    }
                    double s = gkq; /* (W_{a,c}ᵀ·G_{a,c})[k][q] + G[k][q] */
                    for (int64_t p = 0; p < b; p++) s += W[(a * b + p) * I + c * b + k] * G[(a * b + p) * I + c * b + q];
                    d[k * b + q] += s;
                }
        }
}

/* A base weight stored as dtype: returns the storage (malloc) and the values as seen (double). */
static inline void *t_weight(bone_dtype dt, const float *w, int64_t n, double *seen) {
    if (dt == BONE_F32) {
        float *p = malloc((size_t)n * sizeof(float));
        memcpy(p, w, (size_t)n * sizeof(float));
        for (int64_t i = 0; i < n; i++) seen[i] = p[i];
        return p;
    }
    uint16_t *p = malloc((size_t)n * sizeof(uint16_t));
    for (int64_t i = 0; i < n; i++) {
        p[i] = dt == BONE_BF16 ? bone_f32_to_bf16(w[i]) : bone_f32_to_f16(w[i]);
        seen[i] = dt == BONE_BF16 ? bone_bf16_to_f32(p[i]) : bone_f16_to_f32(p[i]);
    }
    return p;
}

#endif
