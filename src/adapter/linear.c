/* linear.c — the choke point for projections (see linear.h): plain frozen/full linears
 * here; adapters dispatch through their ops table. */
#include "adapter/linear.h"
#include <stdio.h>
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
    bone_backend_free(c->be);
    free(c->wbuf);
    free(c->tile);
    free(c->tmp);
    memset(c, 0, sizeof *c);
}

bone_backend *bone_lin_backend(bone_lin_ctx *c) {
    if (!c->be) {
        bone_err e = {0};
        BONE_ASSERT(bone_backend_open_kind(BONE_BE_OPENBLAS, &c->be, &e) == 0, "cannot open the OpenBLAS backend");
    }
    return c->be;
}

void bone_lin_set_backend(bone_lin_ctx *c, bone_backend *be) {
    if (c->be != be) bone_backend_free(c->be);
    c->be = be;
}

int bone_lin_open_compute(bone_lin_ctx *c, const char *compute, const char *who, int quiet, bone_err *e) {
    bone_backend *be = NULL;
    if (bone_backend_open(compute, &be, e)) return -1;
    bone_lin_set_backend(c, be);
    if (be->kind == BONE_BE_BF16_EMULATED || getenv("BONE_TEST_BACKEND"))
        fprintf(stderr, "bone %s: WARNING: GEMM backend forced by BONE_TEST_BACKEND=%s: %s\n", who,
                getenv("BONE_TEST_BACKEND") ? getenv("BONE_TEST_BACKEND") : "", be->desc);
    else if (!quiet)
        fprintf(stderr, "bone %s: compute: %s\n", who, be->desc);
    return 0;
}

static void drop_packs(bone_linear *L) {
    for (int i = 0; i < 2; i++) {
        bone_pack_free(L->pack_be, L->pack[i]);
        L->pack[i] = NULL;
    }
    L->pack_be = NULL;
}

void linear_set_base(bone_linear *L, bone_wref w, float *owned) {
    drop_packs(L);
    if (L->w_owned != owned) free(L->w_owned);
    L->w_owned = owned;
    L->w = w;
}

size_t linear_pack_bytes(const bone_linear *L) {
    return bone_pack_bytes(L->pack_be, L->pack[0]) + bone_pack_bytes(L->pack_be, L->pack[1]);
}

/* The pack slot i of L for backend be, or NULL when L's base must not be packed: it trains
 * (full fine-tuning updates it in place every step). */
static void **pack_slot(const bone_linear *L, bone_backend *be, int i) {
    if (L->dw) return NULL;
    bone_linear *Lm = (bone_linear *)L; /* the packs are a cache of the (unchanged) base */
    if (Lm->pack_be && Lm->pack_be != be) drop_packs(Lm);
    Lm->pack_be = be;
    return &Lm->pack[i];
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

/* Both products take the base in its stored dtype: the backend converts, packs or (bf16)
 * consumes it directly. */
void linear_base_forward(bone_lin_ctx *c, const bone_linear *L, const float *x, float *y, int64_t N) {
    bone_backend *be = bone_lin_backend(c);
    bone_matmul_w(be, 'T', N, L->O, L->I, 1.0f, x, L->I, L->w, L->I, pack_slot(L, be, 0), 0.0f, y, L->O); // (N, O)
    add_bias(L->bias, y, N, L->O);
}

void linear_base_backward_dx(bone_lin_ctx *c, const bone_linear *L, const float *dy, float *dx, int64_t N) {
    if (!dx) return;
    bone_backend *be = bone_lin_backend(c);
    bone_matmul_w(be, 'N', N, L->I, L->O, 1.0f, dy, L->O, L->w, L->I, pack_slot(L, be, 1), 1.0f, dx, L->I); // (N, I)
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
    if (L->dw) bone_gemm_tn(bone_lin_backend(c), L->O, L->I, N, 1.0f, dy, L->O, x, L->I, 1.0f, L->dw, L->I); // dW += dyᵀ·x
    if (L->dbias && L->bias) bias_grad(dy, L->dbias, N, L->O);
}

void linear_destroy(bone_linear *L) {
    if (L->ops && L->ops->destroy) L->ops->destroy(L);
    drop_packs(L);
    free(L->w_owned);
    free(L->name);
    memset(L, 0, sizeof *L);
}
