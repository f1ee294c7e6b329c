/* batch.c — padded batches (see batch.h). */
#include "data/batch.h"
#include <stdlib.h>
#include <string.h>

void bone_batch_build(bone_batch *b, bone_example *const *ex, int64_t n) {
    int64_t T = 1;
    for (int64_t i = 0; i < n; i++) T = ex[i]->n > T ? ex[i]->n : T;
    free(b->ids);
    free(b->targets);
    free(b->len);
    b->B = n;
    b->T = T;
    b->ids = xcalloc((size_t)(n * T), sizeof(int32_t));
    b->targets = xmalloc((size_t)(n * T) * sizeof(int32_t));
    b->len = xmalloc((size_t)n * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) {
        const bone_example *x = ex[i];
        b->len[i] = x->n;
        memcpy(b->ids + i * T, x->ids, (size_t)x->n * sizeof(int32_t));
        /* logits at t predict labels[t+1] (HF shifts inside the model) */
        for (int64_t t = 0; t < T; t++) b->targets[i * T + t] = (t + 1 < x->n) ? x->labels[t + 1] : BONE_IGNORE;
    }
}

void bone_batch_free(bone_batch *b) {
    free(b->ids);
    free(b->targets);
    free(b->len);
    memset(b, 0, sizeof *b);
}

int64_t bone_batch_label_count(const bone_batch *b) {
    int64_t c = 0;
    for (int64_t i = 0; i < b->B * b->T; i++) c += b->targets[i] != BONE_IGNORE;
    return c;
}
