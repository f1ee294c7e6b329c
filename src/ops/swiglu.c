/* swiglu.c — the gated MLP activation h = silu(g)·u and its backward.
 * σ(g) = 1/(1 + e^−g) with the vectorised exp of vexp.h (libm's scalar expf was most of
 * the time here), 16 elements at a time; the scalar tail uses expf. */
#include <math.h>
#include "ops/ops.h"
#include "ops/vexp.h"

#ifdef __AVX512F__
static inline __m512 sigmoid16(__m512 g) {
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, bone_exp16(_mm512_sub_ps(_mm512_setzero_ps(), g))));
}
#endif

void swiglu_forward(float *h, const float *g, const float *u, int64_t n) {
    const int64_t n16 = n / 16;
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < n16 + 1; blk++) {
        int64_t i = blk * 16, end = blk < n16 ? i + 16 : n;
#ifdef __AVX512F__
        if (blk < n16) {
            __m512 gv = _mm512_loadu_ps(g + i);
            _mm512_storeu_ps(h + i, _mm512_mul_ps(_mm512_mul_ps(gv, sigmoid16(gv)), _mm512_loadu_ps(u + i)));
            continue;
        }
#endif
        for (; i < end; i++) {
            float s = 1.0f / (1.0f + expf(-g[i]));
            h[i] = g[i] * s * u[i];
        }
    }
}

void swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u, int64_t n) {
    const int64_t n16 = n / 16;
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < n16 + 1; blk++) {
        int64_t i = blk * 16, end = blk < n16 ? i + 16 : n;
#ifdef __AVX512F__
        if (blk < n16) {
            const __m512 one = _mm512_set1_ps(1.0f);
            __m512 gv = _mm512_loadu_ps(g + i), s = sigmoid16(gv), d = _mm512_loadu_ps(dh + i);
            _mm512_storeu_ps(du + i, _mm512_mul_ps(d, _mm512_mul_ps(gv, s)));
            /* d silu/dg = σ(1 + g(1−σ)) */
            __m512 ds = _mm512_mul_ps(s, _mm512_fmadd_ps(gv, _mm512_sub_ps(one, s), one));
            _mm512_storeu_ps(dg + i, _mm512_mul_ps(_mm512_mul_ps(d, _mm512_loadu_ps(u + i)), ds));
            continue;
        }
#endif
        for (; i < end; i++) {
            float s = 1.0f / (1.0f + expf(-g[i]));
            float silu = g[i] * s;
            du[i] = dh[i] * silu;
            dg[i] = dh[i] * u[i] * s * (1.0f + g[i] * (1.0f - s)); // d silu/dg = σ(1 + g(1−σ))
        }
    }
}
