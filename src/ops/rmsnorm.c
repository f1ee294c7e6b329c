/* rmsnorm.c — RMSNorm forward/backward (HF: normalise in fp32, then multiply by weight). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "ops/ops.h"

void rmsnorm_forward(float *y, float *rstd, const float *x, const float *w, int64_t N, int64_t H, float eps) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * H;
        float *yr = y + n * H;
        double ss = 0.0; /* double: the sum of H squares is where fp32 loses digits */
        for (int64_t h = 0; h < H; h++) ss += (double)xr[h] * xr[h];
        float r = (float)(1.0 / sqrt(ss / (double)H + (double)eps));
        rstd[n] = r;
        for (int64_t h = 0; h < H; h++) yr[h] = xr[h] * r * w[h];
    }
}

void rmsnorm_apply(float *y, const float *x, const float *rstd, const float *w, int64_t N, int64_t H) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * H;
        float *yr = y + n * H;
        const float r = rstd[n];
        for (int64_t h = 0; h < H; h++) yr[h] = xr[h] * r * w[h]; /* as in rmsnorm_forward */
    }
}

void rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd,
                      int64_t N, int64_t H) {
    int nt = omp_get_max_threads();
    float *part = NULL;
    if (dw) part = xcalloc((size_t)nt * (size_t)H, sizeof(float));
#pragma omp parallel num_threads(nt)
    {
        float *mine = dw ? part + (size_t)omp_get_thread_num() * (size_t)H : NULL;
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            const float *xr = x + n * H, *gr = dy + n * H;
            float *dxr = dx + n * H;
            float r = rstd[n];
            /* xhat = x·r; dxhat = dy·w; dx = r·(dxhat − xhat·mean(dxhat·xhat)) */
            double dot = 0.0;
            for (int64_t h = 0; h < H; h++) dot += (double)gr[h] * w[h] * xr[h] * r;
            float m = (float)(dot / (double)H);
            for (int64_t h = 0; h < H; h++) {
                float xhat = xr[h] * r;
                dxr[h] += r * (gr[h] * w[h] - xhat * m);
                if (mine) mine[h] += gr[h] * xhat;
            }
        }
    }
    if (dw) {
        for (int t = 0; t < nt; t++)
            for (int64_t h = 0; h < H; h++) dw[h] += part[(size_t)t * (size_t)H + h];
        free(part);
    }
}
