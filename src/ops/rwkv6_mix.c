/* rwkv6_mix.c — RWKV-6's token-mixing ops around WKV6 (contract in rwkv6_ops.h): token shift,
 * the static lerp, the data-dependent ddlerp mix, the data-dependent decay, squared ReLU and
 * the sigmoid/silu gates. Dense products go through gemm.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "ops/gemm.h"
#include "ops/rwkv6_ops.h"

/* acc[c] += Σ_n a[n,c]·b[n,c] (b NULL: Σ_n a[n,c]). Parallel over column blocks with the row
 * loop inside, so the sum order is the same for every thread count. */
static void colsum_acc(float *acc, const float *a, const float *b, int64_t N, int64_t C) {
    const int64_t CB = 64;
#pragma omp parallel for schedule(static)
    for (int64_t c0 = 0; c0 < C; c0 += CB) {
        const int64_t c1 = c0 + CB < C ? c0 + CB : C;
        float s[64] = {0};
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = c0; c < c1; c++) s[c - c0] += b ? a[n * C + c] * b[n * C + c] : a[n * C + c];
        for (int64_t c = c0; c < c1; c++) acc[c] += s[c - c0];
    }
}

/* ---------------------------------------------------------------- token shift */

void tokenshift_forward(float *delta, const float *x, const float *prev, int64_t B, int64_t T, int64_t C) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            const float *xr = x + (b * T + t) * C;
            const float *pr = t > 0 ? xr - C : prev ? prev + b * C : NULL;
            float *dr = delta + (b * T + t) * C;
            for (int64_t c = 0; c < C; c++) dr[c] = (pr ? pr[c] : 0.0f) - xr[c];
        }
}

void tokenshift_backward(float *dx, float *dprev, const float *ddelta, int64_t B, int64_t T, int64_t C) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            const float *g = ddelta + (b * T + t) * C;
            float *d = dx + (b * T + t) * C;
            if (t + 1 < T)
                for (int64_t c = 0; c < C; c++) d[c] += g[C + c] - g[c];
            else
                for (int64_t c = 0; c < C; c++) d[c] -= g[c];
            if (t == 0 && dprev)
                for (int64_t c = 0; c < C; c++) dprev[b * C + c] += g[c];
        }
}

/* ---------------------------------------------------------------- lerp */

void lerp_forward(float *y, const float *x, const float *delta, const float *maa, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) y[n * C + c] = x[n * C + c] + delta[n * C + c] * maa[c];
}

void lerp_backward(float *dx, float *ddelta, float *dmaa, const float *dy, const float *delta, const float *maa,
                   int64_t N, int64_t C) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            dx[n * C + c] += dy[n * C + c];
            ddelta[n * C + c] += dy[n * C + c] * maa[c];
        }
    if (dmaa) colsum_acc(dmaa, dy, delta, N, C);
}

/* ---------------------------------------------------------------- ddlerp */

void ddlerp_forward(float *xo, float *z, const float *x, const float *delta, const float *maa_x,
                    const float *const maa[5], const float *W1, const float *W2, int64_t N, int64_t C, int64_t D) {
    const int64_t NC = N * C;
    /* xxx goes into the first output block: it is dead once z is known */
    lerp_forward(xo, x, delta, maa_x, N, C);
    gemm_nn(N, 5 * D, C, 1.0f, xo, C, W1, 5 * D, 0.0f, z, 5 * D); // (N,5D)
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * 5 * D; i++) z[i] = tanhf(z[i]);
    for (int j = 0; j < 5; j++) {
        float *o = xo + j * NC;
        gemm_nn(N, C, D, 1.0f, z + j * D, 5 * D, W2 + j * D * C, C, 0.0f, o, C); // m_j (N,C)
        const float *mj = maa[j];
#pragma omp parallel for schedule(static)
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++) o[n * C + c] = x[n * C + c] + delta[n * C + c] * (mj[c] + o[n * C + c]);
    }
}

size_t ddlerp_backward_ws_floats(int64_t N, int64_t C, int64_t D) { return (size_t)(N * (3 * C + 5 * D)); }

void ddlerp_backward(float *dx, float *ddelta, float *dmaa_x, float *const dmaa[5], float *dW1, float *dW2,
                     const float *dxo, const float *x, const float *delta, const float *maa_x,
                     const float *const maa[5], const float *W1, const float *W2, const float *z, int64_t N,
                     int64_t C, int64_t D, float *ws) {
    const int64_t NC = N * C;
    float *own = NULL;
    if (!ws) ws = own = xmalloc(ddlerp_backward_ws_floats(N, C, D) * sizeof(float));
    float *m = ws, *dm = ws + NC, *xx = ws + 2 * NC, *dz = ws + 3 * NC; // (N,C) ×3, (N,5D)
    for (int j = 0; j < 5; j++) {
        const float *g = dxo + j * NC, *mj = maa[j], *W2j = W2 + j * D * C;
        gemm_nn(N, C, D, 1.0f, z + j * D, 5 * D, W2j, C, 0.0f, m, C); // recompute m_j
#pragma omp parallel for schedule(static)
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++) {
                const int64_t i = n * C + c;
                dx[i] += g[i];
                ddelta[i] += g[i] * (mj[c] + m[i]);
                dm[i] = g[i] * delta[i];
            }
        if (dmaa && dmaa[j]) colsum_acc(dmaa[j], dm, NULL, N, C);
        if (dW2) gemm_tn(D, C, N, 1.0f, z + j * D, 5 * D, dm, C, 1.0f, dW2 + j * D * C, C);
        gemm_nt(N, D, C, 1.0f, dm, C, W2j, C, 0.0f, dz + j * D, 5 * D); // dz_j = dm_j·W2[j]ᵀ
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * 5 * D; i++) dz[i] *= 1.0f - z[i] * z[i]; // through tanh
    if (dW1) {
        lerp_forward(xx, x, delta, maa_x, N, C); // recompute xxx
        gemm_tn(C, 5 * D, N, 1.0f, xx, C, dz, 5 * D, 1.0f, dW1, 5 * D);
    }
    gemm_nt(N, C, 5 * D, 1.0f, dz, 5 * D, W1, 5 * D, 0.0f, xx, C); // dxxx (N,C)
    lerp_backward(dx, ddelta, dmaa_x, xx, delta, maa_x, N, C);
    free(own);
}

/* ---------------------------------------------------------------- decay */

void decay_forward(float *logw, float *hd, const float *xw, const float *time_decay, const float *Wd1,
                   const float *Wd2, int64_t N, int64_t C, int64_t D) {
    gemm_nn(N, D, C, 1.0f, xw, C, Wd1, D, 0.0f, hd, D); // (N,D)
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * D; i++) hd[i] = tanhf(hd[i]);
    gemm_nn(N, C, D, 1.0f, hd, D, Wd2, C, 0.0f, logw, C); // (N,C)
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) logw[n * C + c] = -expf(time_decay[c] + logw[n * C + c]);
}

size_t decay_backward_ws_floats(int64_t N, int64_t C, int64_t D) { return (size_t)(N * (C + D)); }

void decay_backward(float *dxw, float *dtime_decay, float *dWd1, float *dWd2, const float *dlogw, const float *logw,
                    const float *hd, const float *xw, const float *Wd1, const float *Wd2, int64_t N, int64_t C,
                    int64_t D, float *ws) {
    float *own = NULL;
    if (!ws) ws = own = xmalloc(decay_backward_ws_floats(N, C, D) * sizeof(float));
    float *draw = ws, *dh = ws + N * C; // (N,C), (N,D)
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * C; i++) draw[i] = dlogw[i] * logw[i]; // d(−e^a)/da = −e^a = logw
    if (dtime_decay) colsum_acc(dtime_decay, draw, NULL, N, C);
    if (dWd2) gemm_tn(D, C, N, 1.0f, hd, D, draw, C, 1.0f, dWd2, C);
    gemm_nt(N, D, C, 1.0f, draw, C, Wd2, C, 0.0f, dh, D);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * D; i++) dh[i] *= 1.0f - hd[i] * hd[i];
    if (dWd1) gemm_tn(C, D, N, 1.0f, xw, C, dh, D, 1.0f, dWd1, D);
    gemm_nt(N, C, D, 1.0f, dh, D, Wd1, D, 1.0f, dxw, C);
    free(own);
}

/* ---------------------------------------------------------------- elementwise */

void relu2_forward(float *y, const float *x, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float p = x[i] > 0.0f ? x[i] : 0.0f;
        y[i] = p * p;
    }
}

void relu2_backward(float *dx, const float *dy, const float *x, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        if (x[i] > 0.0f) dx[i] += 2.0f * x[i] * dy[i];
}

static inline float sigm(float a) { return 1.0f / (1.0f + expf(-a)); }

void sigmoid_mul_forward(float *y, const float *a, const float *b, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] = sigm(a[i]) * b[i];
}

void sigmoid_mul_backward(float *da, float *db, const float *dy, const float *a, const float *b, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float s = sigm(a[i]);
        da[i] += dy[i] * b[i] * s * (1.0f - s);
        db[i] += dy[i] * s;
    }
}

void silu_mul_forward(float *y, const float *a, const float *b, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] * sigm(a[i]) * b[i];
}

void silu_mul_backward(float *da, float *db, const float *dy, const float *a, const float *b, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float s = sigm(a[i]);
        da[i] += dy[i] * b[i] * s * (1.0f + a[i] * (1.0f - s));
        db[i] += dy[i] * a[i] * s;
    }
}
