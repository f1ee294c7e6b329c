/* vexp.h — a vectorised fp32 exp and the softmax passes built on it (xent, attention).
 *
 * libm's exp/expf are scalar calls: on a 32000-word vocabulary the softmax of the loss
 * spent more time in them than in the lm_head GEMM. Here exp is the classic Cody–Waite
 * range reduction (x = n·ln2 + r, |r| ≤ ln2/2) with a degree-6 minimax polynomial for e^r
 * (Cephes' expf coefficients): relative error ≤ 2 ulp over the range used. Inputs are
 * clamped to [-87.3, 88.7], so results stay normal (e^-87.3 ≈ 1.2e-38 stands in for
 * anything smaller — invisible next to the softmax's maximum term, which is 1).
 * NaN propagates (a NaN weight must give a NaN loss, as in PyTorch, not a plausible number):
 * the clamp puts the constant first, because max_ps/min_ps return their SECOND operand when
 * either is NaN, and bone_vmax tracks NaN explicitly (no order of max operands keeps it).
 * Sums are taken in 16 double lanes and reduced in a fixed order, so they are deterministic.
 * Without AVX-512 the same functions fall back to scalar expf. */
#ifndef BONE_OPS_VEXP_H
#define BONE_OPS_VEXP_H
#include <math.h>
#include <stdint.h>
#ifdef __AVX512F__
#include <immintrin.h>

static inline __m512 bone_exp16(__m512 x) {
    /* constant first: for a NaN lane max_ps/min_ps return the second operand, x, so NaN survives
     * (the other order turned NaN into -87.3, i.e. a probability of ~0: uniform attention) */
    x = _mm512_min_ps(_mm512_set1_ps(88.7f), _mm512_max_ps(_mm512_set1_ps(-87.3f), x));
    /* n = round(x·log2 e) */
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x); /* ln2 split in two: exact hi part */
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n); /* p·2ⁿ */
}
#endif

/* max of x[0..n) (n ≥ 1); NaN if any x[i] is NaN */
static inline float bone_vmax(const float *x, int64_t n) {
    int64_t i = 0;
    float mx = -INFINITY;
#ifdef __AVX512F__
    if (n >= 16) {
        __m512 m = _mm512_loadu_ps(x);
        __mmask16 nan = _mm512_cmp_ps_mask(m, m, _CMP_UNORD_Q);
        for (i = 16; i + 16 <= n; i += 16) {
            const __m512 v = _mm512_loadu_ps(x + i);
            nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
            m = _mm512_max_ps(m, v);
        }
        if (nan) return NAN;
        mx = _mm512_reduce_max_ps(m);
    }
#endif
    for (; i < n; i++) {
        if (isnan(x[i])) return x[i];
        mx = x[i] > mx ? x[i] : mx;
    }
    return mx;
}

/* y[i] = exp(x[i] − sub) for i < n (y may equal x); returns Σ y[i] in double. */
static inline double bone_vexp_sum(float *y, const float *x, int64_t n, float sub) {
    int64_t i = 0;
    double sum = 0.0;
#ifdef __AVX512F__
    const __m512 s = _mm512_set1_ps(sub);
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd(); /* 16 double lanes */
    for (; i + 16 <= n; i += 16) {
        __m512 e = bone_exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), s));
        _mm512_storeu_ps(y + i, e);
        a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1u);
        __m512 e = bone_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), s));
        e = _mm512_maskz_mov_ps(k, e);
        _mm512_mask_storeu_ps(y + i, k, e);
        a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
        i = n;
    }
    sum = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
#endif
    for (; i < n; i++) {
        y[i] = expf(x[i] - sub);
        sum += (double)y[i];
    }
    return sum;
}

#endif
