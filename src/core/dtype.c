/* dtype.c — element type names and fp16/bf16 conversions (see dtype.h). */
#include "core/dtype.h"
#include <math.h>

const char *bone_dtype_name(bone_dtype t) {
    switch (t) {
    case BONE_F32: return "F32";
    case BONE_BF16: return "BF16";
    case BONE_F16: return "F16";
    }
    return "?";
}

int bone_dtype_parse(const char *s, bone_dtype *out) {
    if (!strcmp(s, "F32")) *out = BONE_F32;
    else if (!strcmp(s, "BF16")) *out = BONE_BF16;
    else if (!strcmp(s, "F16")) *out = BONE_F16;
    else return -1;
    return 0;
}

float bone_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400u));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t bone_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;          /* NaN */
    if (a >= 0x477ff000u) return sign | 0x7c00u;         /* rounds to >= 65520: Inf */
    if (a < 0x38800000u) {                               /* below 2^-14: subnormal or zero */
        /* value * 2^24 rounded to nearest even gives the subnormal mantissa */
        float v;
        memcpy(&v, &a, 4);
        float m = v * 16777216.0f;                      /* exact: power of two scale */
        float r = nearbyintf(m);                         /* default rounding mode: ties to even */
        return sign | (uint16_t)r;
    }
    uint32_t mant = a & 0x7fffffu;
    uint32_t exp = (a >> 23) - 127 + 15;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return sign | (uint16_t)h;
}

void bone_to_f32(float *dst, const void *src, bone_dtype t, size_t n) {
    if (t == BONE_F32) {
        memcpy(dst, src, n * 4);
    } else if (t == BONE_BF16) {
        const uint16_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = bone_bf16_to_f32(s[i]);
    } else {
        const uint16_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = bone_f16_to_f32(s[i]);
    }
}

void bone_from_f32(void *dst, const float *src, bone_dtype t, size_t n) {
    if (t == BONE_F32) {
        memcpy(dst, src, n * 4);
    } else if (t == BONE_BF16) {
        uint16_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = bone_f32_to_bf16(src[i]);
    } else {
        uint16_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = bone_f32_to_f16(src[i]);
    }
}
