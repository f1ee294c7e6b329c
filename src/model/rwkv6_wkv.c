/* rwkv6_wkv.c — the WKV6 recurrence (FORMATS.md §6.3 step 4, §6.5) as a sequential scan:
 * forward with optional initial/final state and per-chunk state checkpoints, and the backward
 * that recomputes each chunk's states from its checkpoint (memory: one chunk of states per
 * thread, not T of them).
 *
 * Per (b, h), with n the head size, S (n key × n value), fp32:
 *   y_t[j]   = Σ_i r_t[i]·(u[i]·k_t[i]·v_t[j] + S_t[i][j])
 *   S_{t+1}  = diag(w_t)·S_t + k_t v_tᵀ,     w_t = exp(logw_t)
 * Sequences are independent, so (b, h) pairs run in parallel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "model/rwkv6.h"

/* the (b, h) slice's element (t, i) in a (B, T, H·n) tensor */
#define AT(p, b, t, h) ((p) + (((b) * T + (t)) * H + (h)) * n)

void rwkv6_wkv_forward(float *y, const float *r, const float *k, const float *v, const float *logw, const float *u,
                       const float *s0, float *sT, float *ckpt, int64_t chunk, int64_t B, int64_t T, int64_t H,
                       int64_t n) {
    const int64_t nck = chunk > 0 ? (T + chunk - 1) / chunk : 0;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const int64_t b = bh / H, h = bh % H;
        float *S = xmalloc((size_t)(n * n) * sizeof(float)), *w = xmalloc((size_t)n * sizeof(float));
        if (s0) memcpy(S, s0 + bh * n * n, (size_t)(n * n) * sizeof(float));
        else memset(S, 0, (size_t)(n * n) * sizeof(float));
        const float *uh = u + h * n;
        for (int64_t t = 0; t < T; t++) {
            if (chunk > 0 && t % chunk == 0)
                memcpy(ckpt + (bh * nck + t / chunk) * n * n, S, (size_t)(n * n) * sizeof(float));
            const float *rt = AT(r, b, t, h), *kt = AT(k, b, t, h), *vt = AT(v, b, t, h), *lw = AT(logw, b, t, h);
            float *yt = AT(y, b, t, h);
            float a = 0.0f; /* Σ_i r·u·k: the bonus term's weight on v_t */
            for (int64_t i = 0; i < n; i++) a += rt[i] * uh[i] * kt[i];
            for (int64_t j = 0; j < n; j++) yt[j] = a * vt[j];
            for (int64_t i = 0; i < n; i++) w[i] = expf(lw[i]);
            for (int64_t i = 0; i < n; i++) {
                float *Si = S + i * n;
                const float ri = rt[i], ki = kt[i], wi = w[i];
                for (int64_t j = 0; j < n; j++) {
                    yt[j] += ri * Si[j];
                    Si[j] = wi * Si[j] + ki * vt[j];
                }
            }
        }
        if (sT) memcpy(sT + bh * n * n, S, (size_t)(n * n) * sizeof(float));
        free(S);
        free(w);
    }
}

void rwkv6_wkv_backward(float *dr, float *dk, float *dv, float *dlogw, float *du, const float *dy, const float *r,
                        const float *k, const float *v, const float *logw, const float *u, const float *ckpt,
                        int64_t chunk, int64_t B, int64_t T, int64_t H, int64_t n) {
    const int64_t nck = (T + chunk - 1) / chunk;
    float *dul = xcalloc((size_t)(B * H * n), sizeof(float)); /* per (b, h), summed over b after */
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const int64_t b = bh / H, h = bh % H;
        float *Sb = xmalloc((size_t)((chunk + 1) * n * n) * sizeof(float)); /* S_t for t in the chunk */
        float *G = xcalloc((size_t)(n * n), sizeof(float));                  /* dL/dS_{t+1} */
        float *w = xmalloc((size_t)n * sizeof(float));
        const float *uh = u + h * n;
        float *duh = dul + bh * n;
        for (int64_t c = nck - 1; c >= 0; c--) {
            const int64_t t0 = c * chunk, t1 = t0 + chunk < T ? t0 + chunk : T;
            memcpy(Sb, ckpt + (bh * nck + c) * n * n, (size_t)(n * n) * sizeof(float));
            for (int64_t t = t0; t + 1 < t1; t++) { /* states t0+1 .. t1-1 */
                const float *kt = AT(k, b, t, h), *vt = AT(v, b, t, h), *lw = AT(logw, b, t, h);
                const float *Sp = Sb + (t - t0) * n * n;
                float *Sn = Sb + (t - t0 + 1) * n * n;
                for (int64_t i = 0; i < n; i++) {
                    const float wi = expf(lw[i]), ki = kt[i];
                    for (int64_t j = 0; j < n; j++) Sn[i * n + j] = wi * Sp[i * n + j] + ki * vt[j];
                }
            }
            for (int64_t t = t1 - 1; t >= t0; t--) {
                const float *rt = AT(r, b, t, h), *kt = AT(k, b, t, h), *vt = AT(v, b, t, h), *lw = AT(logw, b, t, h);
                const float *gy = AT(dy, b, t, h), *S = Sb + (t - t0) * n * n;
                float *gr = AT(dr, b, t, h), *gk = AT(dk, b, t, h), *gv = AT(dv, b, t, h), *gw = AT(dlogw, b, t, h);
                float gyv = 0.0f, ruk = 0.0f;
                for (int64_t j = 0; j < n; j++) gyv += gy[j] * vt[j];
                for (int64_t i = 0; i < n; i++) ruk += rt[i] * uh[i] * kt[i];
                for (int64_t j = 0; j < n; j++) gv[j] = gy[j] * ruk;
                for (int64_t i = 0; i < n; i++) w[i] = expf(lw[i]);
                for (int64_t i = 0; i < n; i++) {
                    const float *Si = S + i * n;
                    float *Gi = G + i * n;
                    float sr = 0.0f, sk = 0.0f, sw = 0.0f;
                    const float ki = kt[i];
                    for (int64_t j = 0; j < n; j++) {
                        sr += gy[j] * Si[j];
                        sk += vt[j] * Gi[j];
                        sw += Gi[j] * Si[j];
                        gv[j] += ki * Gi[j];
                    }
                    gr[i] = uh[i] * ki * gyv + sr;
                    gk[i] = rt[i] * uh[i] * gyv + sk;
                    gw[i] = sw * w[i]; /* d/dlogw of w·(...) = w·(...) */
                    duh[i] += rt[i] * ki * gyv;
                    /* G_t = r_t gy_tᵀ + diag(w_t) G_{t+1} */
                    const float ri = rt[i], wi = w[i];
                    for (int64_t j = 0; j < n; j++) Gi[j] = ri * gy[j] + wi * Gi[j];
                }
            }
        }
        free(Sb);
        free(G);
        free(w);
    }
    for (int64_t bh = 0; bh < B * H; bh++) /* fixed order: deterministic for any thread count */
        for (int64_t i = 0; i < n; i++) du[(bh % H) * n + i] += dul[bh * n + i];
    free(dul);
}
