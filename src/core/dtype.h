/* dtype.h — the element types we read and write, and conversions between them.
 * Rounding follows FORMATS.md §1.3 (PyTorch-compatible round-to-nearest-even). */
#ifndef BONE_CORE_DTYPE_H
#define BONE_CORE_DTYPE_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum bone_dtype { BONE_F32 = 0, BONE_BF16 = 1, BONE_F16 = 2 } bone_dtype;

static inline size_t bone_dtype_size(bone_dtype t) { return t == BONE_F32 ? 4 : 2; }
const char *bone_dtype_name(bone_dtype t);             /* "F32", "BF16", "F16" */
int bone_dtype_parse(const char *s, bone_dtype *out);  /* safetensors names; -1 if unknown */

static inline float bone_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline uint16_t bone_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0; /* NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
float bone_f16_to_f32(uint16_t h);
uint16_t bone_f32_to_f16(float f);

/* Converts n elements of type t at src into fp32 at dst. */
void bone_to_f32(float *dst, const void *src, bone_dtype t, size_t n);
/* Converts n fp32 values into type t at dst. */
void bone_from_f32(void *dst, const float *src, bone_dtype t, size_t n);

#endif
