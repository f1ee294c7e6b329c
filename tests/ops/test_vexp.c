/* test_vexp.c — the vectorised exp (ops/vexp.h) and the SwiGLU built on it against double
 * references: relative error of exp over its whole clamped range, softmax sums with ragged
 * tails, and swiglu forward/backward. Also the cross-entropy with a bf16 lm_head (converted
 * a tile of vocabulary rows at a time) against the same weights converted whole to fp32. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "ops/ops.h"
#include "core/dtype.h"
#include "ops/vexp.h"
#include "testutil.h"

int main(void) {
    /* exp: every length 1..40 (tails), values over [-87, 88] */
    enum { N = 1 << 16 };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    double worst = 0.0;
    for (int64_t i = 0; i < N; i++) x[i] = -87.0f + 175.0f * (float)i / (float)(N - 1);
    double s = bone_vexp_sum(y, x, N, 0.0f), sref = 0.0;
    for (int64_t i = 0; i < N; i++) {
        double r = exp((double)x[i]);
        double rel = fabs((double)y[i] - r) / r;
        if (rel > worst) worst = rel;
        sref += (double)y[i];
    }
    printf("exp: worst relative error %.3g over [-87, 88]\n", worst);
    CHECK(worst < 5e-7, "exp relative error %.3g", worst);
    CHECK(fabs(s - sref) <= 1e-12 * sref, "sum %.17g vs %.17g", s, sref);
    for (int64_t n = 1; n <= 40; n++) {
        for (int64_t i = 0; i < n; i++) x[i] = (float)(i % 7) - 3.5f;
        y[n] = 12345.0f; /* must stay untouched */
        float mx = bone_vmax(x, n);
        double sum = bone_vexp_sum(y, x, n, mx), ref = 0.0;
        float rmx = -INFINITY;
        for (int64_t i = 0; i < n; i++) rmx = x[i] > rmx ? x[i] : rmx;
        for (int64_t i = 0; i < n; i++) ref += exp((double)x[i] - rmx);
        CHECK(mx == rmx, "max n=%lld", (long long)n);
        CHECK(fabs(sum - ref) <= 1e-6 * ref, "softmax sum n=%lld: %.9g vs %.9g", (long long)n, sum, ref);
        CHECK(y[n] == 12345.0f, "wrote past n=%lld", (long long)n);
    }
    /* very negative inputs give tiny non-negative values, never NaN */
    x[0] = -1000.0f;
    bone_vexp_sum(y, x, 1, 0.0f);
    CHECK(y[0] >= 0.0f && y[0] < 1e-30f, "exp(-1000) = %g", y[0]);
    /* NaN propagates through max and exp (hostile-use B12): a NaN score anywhere in a row,
     * at any position relative to the 16-lane blocks and the tail, makes the max and the sum
     * NaN; so does an exp of NaN however it is clamped. +Inf gives a max of +Inf and a NaN sum
     * (exp(inf - inf)). Both paths: scalar here, AVX-512 where built with it. */
    for (int64_t n = 1; n <= 40; n++)
        for (int64_t p = 0; p < n; p++) {
            for (int64_t i = 0; i < n; i++) x[i] = (float)(i % 7) - 3.5f;
            x[p] = NAN;
            float mx = bone_vmax(x, n);
            CHECK(isnan(mx), "max with NaN at %lld of %lld = %g", (long long)p, (long long)n, mx);
            double sum = bone_vexp_sum(y, x, n, 0.0f);
            CHECK(isnan(sum), "exp-sum with NaN at %lld of %lld = %g", (long long)p, (long long)n, sum);
            CHECK(isnan(y[p]), "exp(NaN) at %lld of %lld = %g", (long long)p, (long long)n, y[p]);
            x[p] = INFINITY;
            mx = bone_vmax(x, n);
            CHECK(mx == INFINITY, "max with +Inf at %lld of %lld = %g", (long long)p, (long long)n, mx);
            sum = bone_vexp_sum(y, x, n, mx);
            CHECK(isnan(sum), "softmax sum with +Inf at %lld of %lld = %g", (long long)p, (long long)n, sum);
        }

    /* swiglu forward/backward vs double, n not a multiple of 16 */
    const int64_t n = 1000 + 7;
    float *g = malloc(n * sizeof(float)), *u = malloc(n * sizeof(float)), *dh = malloc(n * sizeof(float));
    float *h = malloc(n * sizeof(float)), *dg = malloc(n * sizeof(float)), *du = malloc(n * sizeof(float));
    float *rh = malloc(n * sizeof(float)), *rdg = malloc(n * sizeof(float)), *rdu = malloc(n * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        g[i] = -12.0f + 24.0f * (float)i / (float)n;
        u[i] = 0.5f + (float)(i % 5) * 0.3f;
        dh[i] = 1.0f - (float)(i % 3) * 0.7f;
        double sg = 1.0 / (1.0 + exp(-(double)g[i]));
        rh[i] = (float)(g[i] * sg * u[i]);
        rdu[i] = (float)(dh[i] * g[i] * sg);
        rdg[i] = (float)(dh[i] * u[i] * sg * (1.0 + g[i] * (1.0 - sg)));
    }
    swiglu_forward(h, g, u, n);
    swiglu_backward(dg, du, dh, g, u, n);
    tu_close("swiglu h", h, rh, n, 1e-7, 1e-5, 1);
    tu_close("swiglu du", du, rdu, n, 1e-7, 1e-5, 1);
    tu_close("swiglu dg", dg, rdg, n, 1e-7, 1e-5, 1);
    free(x), free(y), free(g), free(u), free(dh), free(h), free(dg), free(du), free(rh), free(rdg), free(rdu);

    /* xent: bf16 head, V not a multiple of the tile, some tokens ignored */
    {
        const int64_t Nt = 37, Ht = 48, Vt = 2 * 4096 + 300; /* three vocabulary tiles, the last partial */
        float *xt = malloc((size_t)(Nt * Ht) * sizeof(float)), *Wf = malloc((size_t)(Vt * Ht) * sizeof(float));
        uint16_t *Wb = malloc((size_t)(Vt * Ht) * sizeof(uint16_t));
        int32_t *tg = malloc((size_t)Nt * sizeof(int32_t));
        float *dx0 = calloc((size_t)(Nt * Ht), sizeof(float)), *dx1 = calloc((size_t)(Nt * Ht), sizeof(float));
        float *lg0 = malloc((size_t)(Nt * Vt) * sizeof(float)), *lg1 = malloc((size_t)(Nt * Vt) * sizeof(float));
        for (int64_t i = 0; i < Nt * Ht; i++) xt[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
        for (int64_t i = 0; i < Vt * Ht; i++) Wf[i] = (float)((i * 53) % 97) / 97.0f - 0.5f;
        bone_from_f32(Wb, Wf, BONE_BF16, (size_t)(Vt * Ht));
        bone_to_f32(Wf, Wb, BONE_BF16, (size_t)(Vt * Ht)); /* the same values in both runs */
        for (int64_t i = 0; i < Nt; i++) tg[i] = i % 5 == 3 ? -100 : (int32_t)((i * 131) % Vt);
        int64_t c0, c1;
        double l0 = xent_forward_backward(xt, Wf, tg, Nt, Ht, Vt, 0.1f, dx0, NULL, NULL, &c0);
        double l1 = xent_forward_backward_w(xt, (bone_wref){BONE_BF16, Wb}, tg, Nt, Ht, Vt, 0.1f, dx1, NULL, NULL, &c1, NULL);
        CHECK(c0 == c1 && c0 == Nt - Nt / 5, "xent counts %lld %lld", (long long)c0, (long long)c1);
        CHECK(fabs(l0 - l1) <= 1e-5 * fabs(l0), "xent bf16 head loss %.9g vs fp32 %.9g", l1, l0);
        tu_close("xent bf16 head dx", dx1, dx0, Nt * Ht, 1e-6, 1e-4, 1);
        xent_forward_backward(xt, Wf, tg, Nt, Ht, Vt, 0.0f, NULL, NULL, lg0, &c0);
        xent_forward_backward_w(xt, (bone_wref){BONE_BF16, Wb}, tg, Nt, Ht, Vt, 0.0f, NULL, NULL, lg1, &c1, NULL);
        tu_close("xent bf16 head logits", lg1, lg0, Nt * Vt, 1e-5, 1e-5, 1);
        free(xt), free(Wf), free(Wb), free(tg), free(dx0), free(dx1), free(lg0), free(lg1);
    }
    if (tu_failures) fprintf(stderr, "%d of %d checks failed\n", tu_failures, tu_checks);
    else printf("all %d vexp checks passed\n", tu_checks);
    return tu_failures ? 1 : 0;
}
