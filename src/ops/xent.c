/* xent.c — lm_head + softmax cross-entropy, fused and chunked over tokens.
 *
 * Only tokens that carry a target take part in training (masked prompt tokens cost
 * nothing); they are gathered into chunks of at most XENT_CHUNK rows so at most
 * (XENT_CHUNK, V) logits exist at a time. Loss sums are in double; one vectorised exp per
 * logit (vexp.h) serves both the loss and the gradient. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "ops/ops.h"
#include "ops/vexp.h"

#define XENT_CHUNK 256

double xent_forward_backward(const float *x, const float *W, const int32_t *targets, int64_t N, int64_t H,
                             int64_t V, float grad_scale, float *dx, float *dW, float *logits_out, int64_t *count) {
    double total = 0.0;
    int64_t cnt = 0;
    if (logits_out) gemm_nt(N, V, H, 1.0f, x, H, W, H, 0.0f, logits_out, V);
    int64_t *rows = xmalloc((size_t)(N + 1) * sizeof(int64_t));
    int64_t nr = 0;
    for (int64_t n = 0; n < N; n++)
        if (targets[n] >= 0) rows[nr++] = n;
    int64_t chunk = nr < XENT_CHUNK ? nr : XENT_CHUNK;
    float *xc = xmalloc((size_t)(chunk * H + 1) * sizeof(float));  // (chunk, H) gathered inputs
    float *lg = xmalloc((size_t)(chunk * V + 1) * sizeof(float));  // (chunk, V) logits → dlogits
    float *dxc = dx ? xmalloc((size_t)(chunk * H + 1) * sizeof(float)) : NULL;
    double *rowloss = xmalloc((size_t)(chunk + 1) * sizeof(double));
    for (int64_t c0 = 0; c0 < nr; c0 += chunk) {
        int64_t m = nr - c0 < chunk ? nr - c0 : chunk;
        for (int64_t i = 0; i < m; i++) memcpy(xc + i * H, x + rows[c0 + i] * H, (size_t)H * sizeof(float));
        gemm_nt(m, V, H, 1.0f, xc, H, W, H, 0.0f, lg, V);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < m; i++) {
            float *l = lg + i * V;
            int32_t tgt = targets[rows[c0 + i]];
            const float lt = l[tgt];
            const float mx = bone_vmax(l, V);
            /* one exp per logit: e = exp(l − max) kept in place; softmax = e / Σe */
            const double sum = bone_vexp_sum(l, l, V, mx);
            rowloss[i] = (double)mx + log(sum) - (double)lt;
            if (dx || dW) {
                const float f = (float)((double)grad_scale / sum);
#pragma omp simd
                for (int64_t j = 0; j < V; j++) l[j] *= f;
                l[tgt] -= grad_scale;
            }
        }
        for (int64_t i = 0; i < m; i++) total += rowloss[i]; /* fixed order */
        cnt += m;
        if (dx) {
            gemm_nn(m, H, V, 1.0f, lg, V, W, H, 0.0f, dxc, H); // dx = dlogits·W
            for (int64_t i = 0; i < m; i++) {
                float *dst = dx + rows[c0 + i] * H;
                for (int64_t j = 0; j < H; j++) dst[j] += dxc[i * H + j];
            }
        }
        if (dW) gemm_tn(V, H, m, 1.0f, lg, V, xc, H, 1.0f, dW, H); // dW += dlogitsᵀ·x
    }
    free(rows);
    free(xc);
    free(lg);
    free(dxc);
    free(rowloss);
    *count = cnt;
    return total;
}
