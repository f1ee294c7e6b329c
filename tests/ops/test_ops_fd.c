/* test_ops_fd.c — finite-difference checks of every op's backward.
 *
 * For an op y = f(x) and a fixed random vector r, the scalar s(x) = Σ r⊙f(x) is summed in
 * double; its central difference (s(x+h) − s(x−h)) / 2h at sampled coordinates must match
 * the analytic gradient from the op's *_backward with dy = r. h = 1e-3 on O(1) inputs keeps
 * fp32 rounding noise ~1e-4 relative, so the tolerance is 1e-2 relative (+ small floor). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "model/config.h"
#include "ops/ops.h"
#include "testutil.h"

#define H_STEP 1e-3f
#define FD_RTOL 1e-2
#define FD_ATOL 2e-4

static bone_rng rng;

static float *randv(int64_t n, double scale) {
    float *v = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) v[i] = (float)(scale * bone_rng_normal(&rng));
    return v;
}

static double dotd(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* generic FD driver: `eval` computes s for the current inputs */
typedef double (*eval_fn)(void *ctx);

static void fd_check(const char *what, void *ctx, eval_fn eval, float *x, const float *grad, int64_t n, int samples) {
    int bad = 0;
    double worst = 0;
    for (int k = 0; k < samples; k++) {
        int64_t i = (int64_t)(bone_rng_u64(&rng) % (uint64_t)n);
        float keep = x[i];
        x[i] = keep + H_STEP;
        double sp = eval(ctx);
        x[i] = keep - H_STEP;
        double sm = eval(ctx);
        x[i] = keep;
        double fd = (sp - sm) / (2.0 * H_STEP);
        double err = fabs(fd - grad[i]);
        double lim = FD_ATOL + FD_RTOL * fabs(fd);
        if (err / lim > worst) worst = err / lim;
        if (err > lim) {
            if (bad < 3) fprintf(stderr, "  %s[%lld]: fd %.6g analytic %.6g\n", what, (long long)i, fd, grad[i]);
            bad++;
        }
    }
    CHECK(bad == 0, "%s: %d of %d finite differences disagree", what, bad, samples);
    if (!bad) printf("ok   fd %-28s %d samples, worst/limit %.3f\n", what, samples, worst);
}

/* ---- rmsnorm ---- */
typedef struct { int64_t N, H; float *x, *w, *y, *rstd, *r; } rms_ctx;
static double rms_eval(void *p) {
    rms_ctx *c = p;
    rmsnorm_forward(c->y, c->rstd, c->x, c->w, c->N, c->H, 1e-5f);
    return dotd(c->y, c->r, c->N * c->H);
}
static void test_rmsnorm(void) {
    rms_ctx c = {5, 24, NULL, NULL, NULL, NULL, NULL};
    int64_t n = c.N * c.H;
    c.x = randv(n, 1.0);
    c.w = randv(c.H, 1.0);
    c.y = malloc((size_t)n * 4);
    c.rstd = malloc((size_t)c.N * 4);
    c.r = randv(n, 1.0);
    float *dx = calloc((size_t)n, 4), *dw = calloc((size_t)c.H, 4);
    rms_eval(&c);
    rmsnorm_backward(dx, dw, c.r, c.x, c.w, c.rstd, c.N, c.H);
    fd_check("rmsnorm dx", &c, rms_eval, c.x, dx, n, 40);
    fd_check("rmsnorm dw", &c, rms_eval, c.w, dw, c.H, 24);
    free(c.x); free(c.w); free(c.y); free(c.rstd); free(c.r); free(dx); free(dw);
}

/* ---- rope ---- */
typedef struct { int64_t B, T, nh, d; float *x, *y, *r; bone_rope rope; } rope_ctx;
static double rope_eval(void *p) {
    rope_ctx *c = p;
    int64_t n = c->B * c->T * c->nh * c->d;
    memcpy(c->y, c->x, (size_t)n * 4);
    rope_forward(c->y, &c->rope, c->B, c->T, c->nh, c->d);
    return dotd(c->y, c->r, n);
}
static void test_rope(void) {
    bone_config cfg = {0};
    cfg.head_dim = 8;
    cfg.rope_theta = 10000.0;
    cfg.rope_type = BONE_ROPE_LLAMA3;
    cfg.rope_factor = 8;
    cfg.rope_low = 1;
    cfg.rope_high = 4;
    cfg.rope_orig_max = 16;
    rope_ctx c = {2, 6, 3, 8, NULL, NULL, NULL, {0}};
    int64_t n = c.B * c.T * c.nh * c.d;
    rope_build(&c.rope, &cfg, c.T);
    c.x = randv(n, 1.0);
    c.y = malloc((size_t)n * 4);
    c.r = randv(n, 1.0);
    float *dx = malloc((size_t)n * 4);
    memcpy(dx, c.r, (size_t)n * 4);
    rope_backward(dx, &c.rope, c.B, c.T, c.nh, c.d);
    fd_check("rope dx", &c, rope_eval, c.x, dx, n, 40);
    rope_free(&c.rope);
    free(c.x); free(c.y); free(c.r); free(dx);
}

/* ---- attention (GQA, padded second sequence) ---- */
typedef struct { int64_t B, T, nh, nkv, d; int64_t len[2]; float *q, *k, *v, *o, *lse, *r; } att_ctx;
static double att_eval(void *p) {
    att_ctx *c = p;
    attention_forward(c->o, c->lse, c->q, c->k, c->v, c->len, c->B, c->T, c->nh, c->nkv, c->d);
    return dotd(c->o, c->r, c->B * c->T * c->nh * c->d);
}
/* Naive causal GQA forward in double, for the long case's output check. */
static double att_naive_maxerr(const att_ctx *c) {
    const int64_t qs = c->nh * c->d, ks = c->nkv * c->d, group = c->nh / c->nkv;
    double worst = 0.0, *w = malloc((size_t)c->T * sizeof(double));
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->nh; h++)
            for (int64_t t = 0; t < c->len[b]; t++) {
                const float *q = c->q + (b * c->T + t) * qs + h * c->d;
                double mx = -1e300, sum = 0.0;
                for (int64_t u = 0; u <= t; u++) {
                    const float *k = c->k + (b * c->T + u) * ks + (h / group) * c->d;
                    double s = 0.0;
                    for (int64_t j = 0; j < c->d; j++) s += (double)q[j] * k[j];
                    w[u] = s / sqrt((double)c->d);
                    if (w[u] > mx) mx = w[u];
                }
                for (int64_t u = 0; u <= t; u++) sum += (w[u] = exp(w[u] - mx));
                for (int64_t j = 0; j < c->d; j++) {
                    double o = 0.0;
                    for (int64_t u = 0; u <= t; u++) o += w[u] / sum * c->v[(b * c->T + u) * ks + (h / group) * c->d + j];
                    double e = fabs(o - c->o[(b * c->T + t) * qs + h * c->d + j]);
                    if (e > worst) worst = e;
                }
            }
    free(w);
    return worst;
}

/* Short case (one query tile), and a long one crossing the 64-row query tiles of
 * attention.c with a ragged second sequence. */
static void test_attention_case(int64_t T, int64_t nh, int64_t nkv, int64_t len1, int64_t probe) {
    att_ctx c = {2, T, nh, nkv, 8, {T, len1}, NULL, NULL, NULL, NULL, NULL, NULL};
    int64_t nq = c.B * c.T * c.nh * c.d, nk = c.B * c.T * c.nkv * c.d;
    c.q = randv(nq, 1.0);
    c.k = randv(nk, 1.0);
    c.v = randv(nk, 1.0);
    c.o = malloc((size_t)nq * 4);
    c.lse = malloc((size_t)(c.B * c.nh * c.T) * 4);
    c.r = randv(nq, 1.0);
    /* padded rows carry no gradient: zero r there, as the loss would */
    for (int64_t t = c.len[1]; t < c.T; t++) memset(c.r + (c.T + t) * c.nh * c.d, 0, (size_t)(c.nh * c.d) * 4);
    if (T > 64) {
        /* long case: the loss reads a few rows on both sides of the query-tile edges only, so
         * fp32 rounding of thousands of unrelated outputs does not drown the differences */
        for (int64_t bt = 0; bt < c.B * c.T; bt++) {
            const int64_t t = bt % c.T;
            if (!(t == 0 || t == 63 || t == 64 || t == 90 || t == 127 || t == 128 || t == c.T - 1))
                memset(c.r + bt * c.nh * c.d, 0, (size_t)(c.nh * c.d) * 4);
        }
    }
    float *dq = calloc((size_t)nq, 4), *dk = calloc((size_t)nk, 4), *dv = calloc((size_t)nk, 4);
    att_eval(&c);
    attention_backward(dq, dk, dv, c.r, c.o, c.lse, c.q, c.k, c.v, c.len, c.B, c.T, c.nh, c.nkv, c.d);
    fd_check("attention dq", &c, att_eval, c.q, dq, nq, 60);
    fd_check("attention dk", &c, att_eval, c.k, dk, nk, 60);
    fd_check("attention dv", &c, att_eval, c.v, dv, nk, 60);
    /* causality: the output at t must not depend on a later key */
    float *o0 = malloc((size_t)nq * 4);
    att_eval(&c);
    memcpy(o0, c.o, (size_t)nq * 4);
    CHECK(att_naive_maxerr(&c) < 1e-5, "attention T=%lld: output differs from a naive double forward by %.3g",
             (long long)T, att_naive_maxerr(&c));
    c.k[(probe * c.nkv) * c.d] += 1.0f; /* sequence 0, position probe, kv head 0 */
    att_eval(&c);
    int leak = 0;
    for (int64_t t = 0; t < probe; t++)
        for (int64_t j = 0; j < c.nh * c.d; j++) leak |= o0[t * c.nh * c.d + j] != c.o[t * c.nh * c.d + j];
    CHECK(!leak, "attention: an earlier position changed when a later key changed (causal mask)");
    free(o0);
    free(c.q); free(c.k); free(c.v); free(c.o); free(c.lse); free(c.r); free(dq); free(dk); free(dv);
}
static void test_attention(void) {
    test_attention_case(7, 4, 2, 4, 5);
    test_attention_case(150, 2, 1, 97, 140);
}

/* ---- swiglu ---- */
typedef struct { int64_t n; float *g, *u, *h, *r; } sw_ctx;
static double sw_eval(void *p) {
    sw_ctx *c = p;
    swiglu_forward(c->h, c->g, c->u, c->n);
    return dotd(c->h, c->r, c->n);
}
static void test_swiglu(void) {
    sw_ctx c = {64, NULL, NULL, NULL, NULL};
    c.g = randv(c.n, 2.0);
    c.u = randv(c.n, 1.0);
    c.h = malloc((size_t)c.n * 4);
    c.r = randv(c.n, 1.0);
    float *dg = malloc((size_t)c.n * 4), *du = malloc((size_t)c.n * 4);
    swiglu_backward(dg, du, c.r, c.g, c.u, c.n);
    fd_check("swiglu dg", &c, sw_eval, c.g, dg, c.n, 32);
    fd_check("swiglu du", &c, sw_eval, c.u, du, c.n, 32);
    free(c.g); free(c.u); free(c.h); free(c.r); free(dg); free(du);
}

/* ---- cross-entropy with lm_head, masked targets ---- */
typedef struct { int64_t N, H, V; float *x, *W; int32_t *tg; } xe_ctx;
static double xe_eval(void *p) {
    xe_ctx *c = p;
    int64_t cnt;
    return xent_forward_backward(c->x, c->W, c->tg, c->N, c->H, c->V, 0.0f, NULL, NULL, NULL, &cnt);
}
static void test_xent(void) {
    xe_ctx c = {6, 16, 300, NULL, NULL, NULL};
    c.x = randv(c.N * c.H, 1.0);
    c.W = randv(c.V * c.H, 0.3);
    c.tg = malloc((size_t)c.N * 4);
    for (int64_t i = 0; i < c.N; i++) c.tg[i] = (int32_t)(bone_rng_u64(&rng) % (uint64_t)c.V);
    c.tg[2] = -100;
    float *dx = calloc((size_t)(c.N * c.H), 4), *dW = calloc((size_t)(c.V * c.H), 4);
    int64_t cnt;
    xent_forward_backward(c.x, c.W, c.tg, c.N, c.H, c.V, 1.0f, dx, dW, NULL, &cnt);
    CHECK(cnt == c.N - 1, "xent: counted %lld targets, expected %lld", (long long)cnt, (long long)(c.N - 1));
    fd_check("xent dx", &c, xe_eval, c.x, dx, c.N * c.H, 40);
    fd_check("xent dW", &c, xe_eval, c.W, dW, c.V * c.H, 60);
    for (int64_t j = 0; j < c.H; j++) CHECK(dx[2 * c.H + j] == 0.0f, "xent: masked row 2 has a gradient");
    free(c.x); free(c.W); free(c.tg); free(dx); free(dW);
}

/* ---- embedding ---- */
static void test_embedding(void) {
    int64_t V = 10, H = 4, N = 5;
    float *E = randv(V * H, 1.0), *h = malloc((size_t)(N * H) * 4), *dh = randv(N * H, 1.0);
    float *dE = calloc((size_t)(V * H), 4);
    int32_t ids[5] = {3, 1, 3, 9, 0};
    embedding_forward(h, (bone_wref){BONE_F32, E}, ids, N, H);
    embedding_backward(dE, dh, ids, N, H);
    /* s = Σ r⊙h is linear in E: dE[v] = Σ_{n: ids[n]=v} dh[n] exactly */
    for (int64_t v = 0; v < V; v++)
        for (int64_t j = 0; j < H; j++) {
            float want = 0;
            for (int64_t n = 0; n < N; n++) if (ids[n] == v) want += dh[n * H + j];
            CHECK(fabsf(dE[v * H + j] - want) < 1e-6f, "embedding: dE[%lld][%lld]", (long long)v, (long long)j);
        }
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < H; j++) CHECK(h[n * H + j] == E[ids[n] * H + j], "embedding lookup");
    free(E); free(h); free(dh); free(dE);
}

int main(void) {
    rng = bone_rng_seed(12345, 0);
    test_rmsnorm();
    test_rope();
    test_attention();
    test_swiglu();
    test_xent();
    test_embedding();
    return tu_finish("test_ops_fd");
}
