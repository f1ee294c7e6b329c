/* rwkv6_norm.c — LayerNorm with weight and bias, and the per-head GroupNorm (ln_x) of
 * RWKV-6 (contract in rwkv6_ops.h). Both normalise contiguous runs of `G` floats; a
 * GroupNorm row of C channels is C/hs such runs with the affine indexed by channel. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include "core/err.h"
#include "ops/rwkv6_ops.h"

/* Normalise R runs of G floats each; run n uses affine w/b at offset (n % per_row)·G. */
static void norm_forward(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                         int64_t R, int64_t G, int64_t per_row, float eps) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < R; n++) {
        const float *xr = x + n * G;
        float *yr = y + n * G;
        const float *wr = w + (n % per_row) * G, *br = b + (n % per_row) * G;
        double s = 0.0; /* double sums: the variance is a difference of nearby numbers */
        for (int64_t i = 0; i < G; i++) s += xr[i];
        const double m = s / (double)G;
        double v = 0.0;
        for (int64_t i = 0; i < G; i++) v += ((double)xr[i] - m) * ((double)xr[i] - m);
        const float rs = (float)(1.0 / sqrt(v / (double)G + (double)eps));
        const float mf = (float)m;
        mean[n] = mf;
        rstd[n] = rs;
        for (int64_t i = 0; i < G; i++) yr[i] = (xr[i] - mf) * rs * wr[i] + br[i];
    }
}

/* xhat = (x−mean)·rstd, g = dy·w: dx = rstd·(g − mean(g) − xhat·mean(g·xhat));
 * dw += dy·xhat, db += dy, summed per thread and then in thread order (deterministic). */
static void norm_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                          const float *mean, const float *rstd, int64_t R, int64_t G, int64_t per_row) {
    const int64_t C = G * per_row;
    const int nt = omp_get_max_threads();
    float *part = NULL; /* (nt, 2, C): dw then db partial sums per thread */
    if (dw || db) part = xcalloc((size_t)nt * 2 * (size_t)C, sizeof(float));
#pragma omp parallel num_threads(nt)
    {
        float *pw = part ? part + (size_t)omp_get_thread_num() * 2 * (size_t)C : NULL;
#pragma omp for schedule(static)
        for (int64_t n = 0; n < R; n++) {
            const int64_t off = (n % per_row) * G;
            const float *xr = x + n * G, *gr = dy + n * G, *wr = w + off;
            float *dxr = dx + n * G;
            const float m = mean[n], rs = rstd[n];
            double sg = 0.0, sgx = 0.0;
            for (int64_t i = 0; i < G; i++) {
                const double g = (double)gr[i] * wr[i];
                sg += g;
                sgx += g * (double)((xr[i] - m) * rs);
            }
            const float mg = (float)(sg / (double)G), mgx = (float)(sgx / (double)G);
            for (int64_t i = 0; i < G; i++) {
                const float xhat = (xr[i] - m) * rs;
                dxr[i] += rs * (gr[i] * wr[i] - mg - xhat * mgx);
                if (pw) {
                    pw[off + i] += gr[i] * xhat;
                    pw[C + off + i] += gr[i];
                }
            }
        }
    }
    if (part) {
        for (int t = 0; t < nt; t++) {
            const float *pw = part + (size_t)t * 2 * (size_t)C;
            for (int64_t c = 0; c < C; c++) {
                if (dw) dw[c] += pw[c];
                if (db) db[c] += pw[C + c];
            }
        }
        free(part);
    }
}

void layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int64_t N,
                       int64_t C, float eps) {
    norm_forward(y, mean, rstd, x, w, b, N, C, 1, eps);
}

void layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                        const float *mean, const float *rstd, int64_t N, int64_t C) {
    norm_backward(dx, dw, db, dy, x, w, mean, rstd, N, C, 1);
}

void groupnorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int64_t N,
                       int64_t C, int64_t hs, float eps) {
    BONE_ASSERT(hs >= 1 && C % hs == 0, "groupnorm: C must be a multiple of the head size");
    norm_forward(y, mean, rstd, x, w, b, N * (C / hs), hs, C / hs, eps);
}

void groupnorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                        const float *mean, const float *rstd, int64_t N, int64_t C, int64_t hs) {
    norm_backward(dx, dw, db, dy, x, w, mean, rstd, N * (C / hs), hs, C / hs);
}
