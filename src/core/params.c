/* params.c — the contiguous trainable-parameter store (see params.h). */
#include "core/params.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"

void bone_params_init(bone_params *P) { memset(P, 0, sizeof *P); }

void bone_params_free(bone_params *P) {
    for (int64_t i = 0; i < P->n; i++) free(P->p[i].name);
    free(P->p);
    free(P->value);
    free(P->grad);
    free(P->m);
    free(P->v);
    memset(P, 0, sizeof *P);
}

int64_t bone_params_add(bone_params *P, const char *name, int ndim, const int64_t *shape) {
    BONE_ASSERT(P->value == NULL, "bone_params_add after bone_params_alloc");
    BONE_ASSERT(ndim >= 0 && ndim <= BONE_MAX_DIMS, "too many dimensions");
    if (P->n == P->cap) {
        P->cap = P->cap ? 2 * P->cap : 64;
        P->p = xrealloc(P->p, (size_t)P->cap * sizeof *P->p);
    }
    bone_param *q = &P->p[P->n];
    memset(q, 0, sizeof *q);
    q->name = xstrdup(name);
    q->ndim = ndim;
    q->numel = 1;
    for (int d = 0; d < ndim; d++) {
        q->shape[d] = shape[d];
        q->numel *= shape[d];
    }
    /* keep every tensor 16-float aligned inside the buffer (64-byte vectors) */
    q->offset = (P->total + 15) & ~(int64_t)15;
    P->total = q->offset + q->numel;
    return P->n++;
}

static float *alloc_zero(int64_t n) {
    void *p = NULL;
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    bytes = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, bytes) != 0) BONE_ASSERT(0, "out of memory for trainable parameters");
    memset(p, 0, bytes);
    return p;
}

void bone_params_alloc(bone_params *P) {
    BONE_ASSERT(P->value == NULL, "bone_params_alloc called twice");
    P->value = alloc_zero(P->total);
    P->grad = alloc_zero(P->total);
    P->m = alloc_zero(P->total);
    P->v = alloc_zero(P->total);
}

float *bone_params_value(bone_params *P, int64_t idx) { return P->value + P->p[idx].offset; }
float *bone_params_grad(bone_params *P, int64_t idx) { return P->grad + P->p[idx].offset; }

int64_t bone_params_find(const bone_params *P, const char *name) {
    for (int64_t i = 0; i < P->n; i++)
        if (!strcmp(P->p[i].name, name)) return i;
    return -1;
}

void bone_params_zero_grad(bone_params *P) {
    /* Every optimizer step clears the whole gradient buffer (222 MiB in full fine-tuning of
     * bench/configs/small.json): one memset per thread over its share, because a single core
     * does not saturate memory bandwidth (19 ms → 11 ms on 2 cores there). Small adapter
     * buffers are not worth waking the threads for. */
    const int64_t n = P->total;
    if (P->grad && n >= ((int64_t)1 << 20)) {
        float *g = P->grad;
#pragma omp parallel
        {
            const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
            const int64_t per = (n + nt - 1) / nt, i0 = t * per, i1 = i0 + per < n ? i0 + per : n;
            if (i1 > i0) memset(g + i0, 0, (size_t)(i1 - i0) * sizeof(float));
        }
    } else if (P->grad) {
        memset(P->grad, 0, (size_t)n * sizeof(float));
    }
    P->clip_pending = 0; /* a coefficient of the previous gradient does not apply to the next */
    P->clip_coef = 1.0f;
}
