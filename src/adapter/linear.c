/* linear.c — the choke point for projections (see linear.h): plain frozen/full linears
 * here; adapters dispatch through their ops table. */
#include "adapter/linear.h"
#include <stdlib.h>
#include <string.h>
#include "core/err.h"

float *bone_lin_scratch(float **buf, int64_t *cap, int64_t n) {
    if (n > *cap) {
        free(*buf);
        void *p = NULL;
        size_t bytes = ((size_t)n * sizeof(float) + 63) & ~(size_t)63;
        if (posix_memalign(&p, 64, bytes) != 0) BONE_ASSERT(0, "out of memory for linear scratch");
        *buf = p;
        *cap = n;
    }
    return *buf;
}

void bone_lin_ctx_free(bone_lin_ctx *c) {
    free(c->wbuf);
    free(c->tile);
    free(c->tmp);
    memset(c, 0, sizeof *c);
}

const float *linear_base_f32(bone_lin_ctx *c, const bone_linear *L) {
    int64_t n = L->O * L->I;
    if (L->w.dtype == BONE_F32) return (const float *)L->w.data;
    return wref_f32(L->w, bone_lin_scratch(&c->wbuf, &c->wbuf_cap, n), n);
}

static void add_bias(const float *bias, float *y, int64_t N, int64_t O) {
    if (!bias) return;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        float *row = y + n * O;
        for (int64_t o = 0; o < O; o++) row[o] += bias[o];
    }
}

void linear_base_forward(bone_lin_ctx *c, const bone_linear *L, const float *x, float *y, int64_t N) {
    const float *W = linear_base_f32(c, L); // (O, I)
    gemm_nt(N, L->O, L->I, 1.0f, x, L->I, W, L->I, 0.0f, y, L->O);
    add_bias(L->bias, y, N, L->O);
}

void linear_base_backward_dx(bone_lin_ctx *c, const bone_linear *L, const float *dy, float *dx, int64_t N) {
    if (!dx) return;
    const float *W = linear_base_f32(c, L); // (O, I)
    gemm_nn(N, L->I, L->O, 1.0f, dy, L->O, W, L->I, 1.0f, dx, L->I);
}

static void bias_grad(const float *dy, float *dbias, int64_t N, int64_t O) {
    /* columns split across threads; each thread sums its columns over all rows in order,
     * so the result does not depend on the thread count */
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < O; o++) {
        float s = 0.0f;
        for (int64_t n = 0; n < N; n++) s += dy[n * O + o];
        dbias[o] += s;
    }
}

void linear_forward(bone_lin_ctx *c, const bone_linear *L, const float *x, float *y, int64_t N) {
    if (L->ops) L->ops->forward(c, L, x, y, N);
    else linear_base_forward(c, L, x, y, N);
}

void linear_backward(bone_lin_ctx *c, bone_linear *L, const float *x, const float *dy, float *dx, int64_t N) {
    if (L->ops) {
        L->ops->backward(c, L, x, dy, dx, N);
        return;
    }
    linear_base_backward_dx(c, L, dy, dx, N);
    if (L->dw) gemm_tn(L->O, L->I, N, 1.0f, dy, L->O, x, L->I, 1.0f, L->dw, L->I); // dW += dyᵀ·x
    if (L->dbias && L->bias) bias_grad(dy, L->dbias, N, L->O);
}

void linear_destroy(bone_linear *L) {
    if (L->ops && L->ops->destroy) L->ops->destroy(L);
    free(L->w_owned);
    free(L->name);
    memset(L, 0, sizeof *L);
}
