/* embedding.c — token embedding lookup and its scatter-add backward. */
#include "ops/ops.h"

void embedding_forward(float *h, bone_wref E, const int32_t *ids, int64_t N, int64_t H) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        int64_t row = ids[n];
        if (E.dtype == BONE_F32) {
            const float *src = (const float *)E.data + row * H;
            for (int64_t j = 0; j < H; j++) h[n * H + j] = src[j];
        } else {
            bone_to_f32(h + n * H, (const uint16_t *)E.data + row * H, E.dtype, (size_t)H);
        }
    }
}

void embedding_backward(float *dE, const float *dh, const int32_t *ids, int64_t N, int64_t H) {
    /* threads own column ranges, tokens are visited in order: deterministic, race-free */
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < H; j++)
        for (int64_t n = 0; n < N; n++) dE[(int64_t)ids[n] * H + j] += dh[n * H + j];
}
