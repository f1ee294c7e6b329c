/* test_rwkv6_ops.c — the RWKV-6 ops (src/ops/rwkv6_ops.h) against the float64 PyTorch oracle
 * tests/ops/rwkv6_ops_ref.py, plus checks that need no oracle:
 *   1. oracle: every output and every input/parameter gradient of LayerNorm, GroupNorm (head
 *      sizes 8 and 16), token shift (with and without a previous vector), lerp, ddlerp, decay,
 *      squared ReLU, the two gates, and WKV6 in both forms (head sizes 8 and 16, chunk lengths
 *      1, 3, 4, 5, 16 and 64 — most do not divide T —, with and without an initial state and a
 *      final-state gradient, and a case whose strong decays cut the chunks);
 *   2. chunked vs sequential WKV6 on a longer random case (T = 70, head size 16);
 *   3. decode: T single-token steps with a carried state equal one T-token call;
 *   4. finite differences of every op's backward (and a deliberately wrong gradient must fail).
 * Usage: test_rwkv6_ops DIR  (DIR/rwkv6_ops.safetensors from the oracle script). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "ops/rwkv6_ops.h"
#include "testutil.h"

static bone_st_set ref;
static bone_rng rng;

/* ------------------------------------------------------------------ oracle helpers */

static const float *IN(const char *cs, const char *kind, const char *name, int64_t *n) {
    char key[128];
    snprintf(key, sizeof key, "%s/%s.%s", cs, kind, name);
    return tu_ref(&ref, key, n);
}

static float *zeros(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

/* Compare got (n) with the oracle tensor cs/kind.name. */
static void cmp(const char *cs, const char *kind, const char *name, const float *got, int64_t n, double atol,
                double rtol) {
    int64_t m = 0;
    const float *r = IN(cs, kind, name, &m);
    if (!r) return;
    char what[160];
    snprintf(what, sizeof what, "%s %s.%s", cs, kind, name);
    CHECK(m == n, "%s: oracle has %lld elements, op gives %lld", what, (long long)m, (long long)n);
    if (m == n) tu_close(what, got, r, n, atol, rtol, 1);
}

#define ATOL 1e-5
#define RTOL 1e-4

static void oracle_layernorm(void) {
    const int64_t N = 6, C = 24;
    const float *x = IN("layernorm", "in", "x", NULL), *w = IN("layernorm", "in", "w", NULL),
                *b = IN("layernorm", "in", "b", NULL), *dy = IN("layernorm", "dy", "y", NULL);
    if (!x || !w || !b || !dy) return;
    float *y = zeros(N * C), *mean = zeros(N), *rstd = zeros(N), *dx = zeros(N * C), *dw = zeros(C), *db = zeros(C);
    layernorm_forward(y, mean, rstd, x, w, b, N, C, 1e-5f);
    layernorm_backward(dx, dw, db, dy, x, w, mean, rstd, N, C);
    cmp("layernorm", "out", "y", y, N * C, ATOL, RTOL);
    cmp("layernorm", "grad", "x", dx, N * C, ATOL, RTOL);
    cmp("layernorm", "grad", "w", dw, C, ATOL, RTOL);
    cmp("layernorm", "grad", "b", db, C, ATOL, RTOL);
    free(y); free(mean); free(rstd); free(dx); free(dw); free(db);
}

static void oracle_groupnorm(int64_t hs) {
    char cs[32];
    snprintf(cs, sizeof cs, "groupnorm%lld", (long long)hs);
    const int64_t N = 5, H = 4, C = H * hs;
    const float *x = IN(cs, "in", "x", NULL), *w = IN(cs, "in", "w", NULL), *b = IN(cs, "in", "b", NULL),
                *dy = IN(cs, "dy", "y", NULL);
    if (!x || !w || !b || !dy) return;
    float *y = zeros(N * C), *mean = zeros(N * H), *rstd = zeros(N * H), *dx = zeros(N * C), *dw = zeros(C),
          *db = zeros(C);
    groupnorm_forward(y, mean, rstd, x, w, b, N, C, hs, 1e-5f * 64.0f);
    groupnorm_backward(dx, dw, db, dy, x, w, mean, rstd, N, C, hs);
    cmp(cs, "out", "y", y, N * C, ATOL, RTOL);
    cmp(cs, "grad", "x", dx, N * C, ATOL, RTOL);
    cmp(cs, "grad", "w", dw, C, ATOL, RTOL);
    cmp(cs, "grad", "b", db, C, ATOL, RTOL);
    free(y); free(mean); free(rstd); free(dx); free(dw); free(db);
}

static void oracle_tokenshift(int with_prev) {
    const char *cs = with_prev ? "tokenshift_prev" : "tokenshift";
    const int64_t B = 2, T = 5, C = 8;
    const float *x = IN(cs, "in", "x", NULL), *prev = IN(cs, "in", "prev", NULL), *dd = IN(cs, "dy", "delta", NULL);
    if (!x || !prev || !dd) return;
    float *d = zeros(B * T * C), *dx = zeros(B * T * C), *dp = zeros(B * C);
    tokenshift_forward(d, x, with_prev ? prev : NULL, B, T, C);
    tokenshift_backward(dx, dp, dd, B, T, C);
    cmp(cs, "out", "delta", d, B * T * C, ATOL, RTOL);
    cmp(cs, "grad", "x", dx, B * T * C, ATOL, RTOL);
    cmp(cs, "grad", "prev", dp, B * C, ATOL, RTOL);
    free(d); free(dx); free(dp);
}

static void oracle_lerp(void) {
    const int64_t N = 6, C = 16;
    const float *x = IN("lerp", "in", "x", NULL), *d = IN("lerp", "in", "delta", NULL),
                *maa = IN("lerp", "in", "maa", NULL), *dy = IN("lerp", "dy", "y", NULL);
    if (!x || !d || !maa || !dy) return;
    float *y = zeros(N * C), *dx = zeros(N * C), *dd = zeros(N * C), *dm = zeros(C);
    lerp_forward(y, x, d, maa, N, C);
    lerp_backward(dx, dd, dm, dy, d, maa, N, C);
    cmp("lerp", "out", "y", y, N * C, ATOL, RTOL);
    cmp("lerp", "grad", "x", dx, N * C, ATOL, RTOL);
    cmp("lerp", "grad", "delta", dd, N * C, ATOL, RTOL);
    cmp("lerp", "grad", "maa", dm, C, ATOL, RTOL);
    free(y); free(dx); free(dd); free(dm);
}

static const char *WKVRG[5] = {"w", "k", "v", "r", "g"};

static void oracle_ddlerp(void) {
    const int64_t N = 7, C = 16, D = 4;
    const char *cs = "ddlerp";
    const float *x = IN(cs, "in", "x", NULL), *d = IN(cs, "in", "delta", NULL), *mx = IN(cs, "in", "maa_x", NULL),
                *W1 = IN(cs, "in", "W1", NULL), *W2 = IN(cs, "in", "W2", NULL);
    const float *maa[5];
    char nm[16];
    float *dxo = zeros(5 * N * C);
    for (int j = 0; j < 5; j++) {
        snprintf(nm, sizeof nm, "maa_%s", WKVRG[j]);
        maa[j] = IN(cs, "in", nm, NULL);
        snprintf(nm, sizeof nm, "x%s", WKVRG[j]);
        const float *g = IN(cs, "dy", nm, NULL);
        if (!maa[j] || !g) return;
        memcpy(dxo + j * N * C, g, (size_t)(N * C) * sizeof(float));
    }
    if (!x || !d || !mx || !W1 || !W2) return;
    float *xo = zeros(5 * N * C), *z = zeros(N * 5 * D), *dx = zeros(N * C), *dd = zeros(N * C), *dmx = zeros(C),
          *dW1 = zeros(C * 5 * D), *dW2 = zeros(5 * D * C), *dm[5];
    for (int j = 0; j < 5; j++) dm[j] = zeros(C);
    ddlerp_forward(xo, z, x, d, mx, maa, W1, W2, N, C, D);
    ddlerp_backward(dx, dd, dmx, dm, dW1, dW2, dxo, x, d, mx, maa, W1, W2, z, N, C, D, NULL);
    for (int j = 0; j < 5; j++) {
        snprintf(nm, sizeof nm, "x%s", WKVRG[j]);
        cmp(cs, "out", nm, xo + j * N * C, N * C, ATOL, RTOL);
        snprintf(nm, sizeof nm, "maa_%s", WKVRG[j]);
        cmp(cs, "grad", nm, dm[j], C, ATOL, RTOL);
        free(dm[j]);
    }
    cmp(cs, "grad", "x", dx, N * C, ATOL, RTOL);
    cmp(cs, "grad", "delta", dd, N * C, ATOL, RTOL);
    cmp(cs, "grad", "maa_x", dmx, C, ATOL, RTOL);
    cmp(cs, "grad", "W1", dW1, C * 5 * D, ATOL, RTOL);
    cmp(cs, "grad", "W2", dW2, 5 * D * C, ATOL, RTOL);
    free(xo); free(z); free(dx); free(dd); free(dmx); free(dW1); free(dW2); free(dxo);
}

static void oracle_decay(void) {
    const int64_t N = 7, C = 16, D = 4;
    const char *cs = "decay";
    const float *xw = IN(cs, "in", "xw", NULL), *td = IN(cs, "in", "time_decay", NULL),
                *Wd1 = IN(cs, "in", "Wd1", NULL), *Wd2 = IN(cs, "in", "Wd2", NULL), *dl = IN(cs, "dy", "logw", NULL);
    if (!xw || !td || !Wd1 || !Wd2 || !dl) return;
    float *logw = zeros(N * C), *hd = zeros(N * D), *dxw = zeros(N * C), *dtd = zeros(C), *dW1 = zeros(C * D),
          *dW2 = zeros(D * C);
    decay_forward(logw, hd, xw, td, Wd1, Wd2, N, C, D);
    decay_backward(dxw, dtd, dW1, dW2, dl, logw, hd, xw, Wd1, Wd2, N, C, D, NULL);
    cmp(cs, "out", "logw", logw, N * C, ATOL, RTOL);
    cmp(cs, "grad", "xw", dxw, N * C, ATOL, RTOL);
    cmp(cs, "grad", "time_decay", dtd, C, ATOL, RTOL);
    cmp(cs, "grad", "Wd1", dW1, C * D, ATOL, RTOL);
    cmp(cs, "grad", "Wd2", dW2, D * C, ATOL, RTOL);
    free(logw); free(hd); free(dxw); free(dtd); free(dW1); free(dW2);
}

static void oracle_elementwise(void) {
    const int64_t n = 40;
    float *y = zeros(n), *da = zeros(n), *db = zeros(n);
    const float *x = IN("relu2", "in", "x", NULL), *dy = IN("relu2", "dy", "y", NULL);
    if (x && dy) {
        relu2_forward(y, x, n);
        relu2_backward(da, dy, x, n);
        cmp("relu2", "out", "y", y, n, ATOL, RTOL);
        cmp("relu2", "grad", "x", da, n, ATOL, RTOL);
    }
    for (int which = 0; which < 2; which++) {
        const char *cs = which ? "silu_mul" : "sigmoid_mul";
        const float *a = IN(cs, "in", "a", NULL), *b = IN(cs, "in", "b", NULL), *g = IN(cs, "dy", "y", NULL);
        if (!a || !b || !g) continue;
        memset(da, 0, (size_t)n * 4);
        memset(db, 0, (size_t)n * 4);
        if (which) {
            silu_mul_forward(y, a, b, n);
            silu_mul_backward(da, db, g, a, b, n);
        } else {
            sigmoid_mul_forward(y, a, b, n);
            sigmoid_mul_backward(da, db, g, a, b, n);
        }
        cmp(cs, "out", "y", y, n, ATOL, RTOL);
        cmp(cs, "grad", "a", da, n, ATOL, RTOL);
        cmp(cs, "grad", "b", db, n, ATOL, RTOL);
    }
    free(y); free(da); free(db);
}

/* One WKV6 run: chunk 0 = the sequential form. Outputs into the given (zeroed) buffers. */
typedef struct wkv_io {
    int64_t B, T, C, hs;
    const float *r, *k, *v, *logw, *u, *s0, *dy, *dsT;
    float *y, *sT, *dr, *dk, *dv, *dlw, *du, *ds0;
} wkv_io;

static void wkv_run(wkv_io *o, int64_t chunk) {
    const int64_t n = o->B * o->T * o->C, ns = o->B * o->C * o->hs;
    memset(o->dr, 0, (size_t)n * 4); memset(o->dk, 0, (size_t)n * 4); memset(o->dv, 0, (size_t)n * 4);
    memset(o->dlw, 0, (size_t)n * 4); memset(o->du, 0, (size_t)o->C * 4); memset(o->ds0, 0, (size_t)ns * 4);
    if (chunk == 0) {
        wkv6_seq_forward(o->y, o->sT, o->r, o->k, o->v, o->logw, o->u, o->s0, o->B, o->T, o->C, o->hs);
        wkv6_seq_backward(o->dr, o->dk, o->dv, o->dlw, o->du, o->ds0, o->dy, o->dsT, o->r, o->k, o->v, o->logw, o->u,
                          o->s0, o->B, o->T, o->C, o->hs, NULL);
    } else {
        float *ws = malloc(wkv6_chunked_ws_floats(o->B, o->T, o->C, o->hs, chunk) * sizeof(float));
        wkv6_chunked_forward(o->y, o->sT, o->r, o->k, o->v, o->logw, o->u, o->s0, o->B, o->T, o->C, o->hs, chunk, ws);
        wkv6_chunked_backward(o->dr, o->dk, o->dv, o->dlw, o->du, o->ds0, o->dy, o->dsT, o->r, o->k, o->v, o->logw,
                              o->u, o->s0, o->B, o->T, o->C, o->hs, chunk, ws);
        free(ws);
    }
}

static void wkv_alloc(wkv_io *o) {
    const int64_t n = o->B * o->T * o->C, ns = o->B * o->C * o->hs;
    o->y = zeros(n); o->sT = zeros(ns); o->dr = zeros(n); o->dk = zeros(n); o->dv = zeros(n);
    o->dlw = zeros(n); o->du = zeros(o->C); o->ds0 = zeros(ns);
}
static void wkv_free_out(wkv_io *o) {
    free(o->y); free(o->sT); free(o->dr); free(o->dk); free(o->dv); free(o->dlw); free(o->du); free(o->ds0);
}

static void oracle_wkv(const char *cs, int64_t B, int64_t T, int64_t H, int64_t hs, int with_s0, int with_dsT) {
    wkv_io o = {.B = B, .T = T, .C = H * hs, .hs = hs};
    o.r = IN(cs, "in", "r", NULL); o.k = IN(cs, "in", "k", NULL); o.v = IN(cs, "in", "v", NULL);
    o.logw = IN(cs, "in", "logw", NULL); o.u = IN(cs, "in", "u", NULL);
    o.s0 = with_s0 ? IN(cs, "in", "s0", NULL) : NULL;
    o.dy = IN(cs, "dy", "y", NULL);
    o.dsT = with_dsT ? IN(cs, "dy", "sT", NULL) : NULL;
    if (!o.r || !o.k || !o.v || !o.logw || !o.u || !o.dy || (with_s0 && !o.s0) || (with_dsT && !o.dsT)) return;
    wkv_alloc(&o);
    const int64_t n = B * T * o.C, ns = B * o.C * hs;
    static const int64_t chunks[] = {0, 1, 3, 4, 5, 16, 64};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        wkv_run(&o, chunks[c]);
        char lab[64];
        snprintf(lab, sizeof lab, "%s[%s%lld]", cs, chunks[c] ? "chunk " : "seq", (long long)chunks[c]);
        /* fp32 against float64 over ≤ 20 steps of hs-term sums: 2e-5 absolute + 2e-4 relative */
        cmp(cs, "out", "y", o.y, n, 2e-5, 2e-4);
        cmp(cs, "out", "sT", o.sT, ns, 2e-5, 2e-4);
        cmp(cs, "grad", "r", o.dr, n, 2e-5, 2e-4);
        cmp(cs, "grad", "k", o.dk, n, 2e-5, 2e-4);
        cmp(cs, "grad", "v", o.dv, n, 2e-5, 2e-4);
        cmp(cs, "grad", "logw", o.dlw, n, 5e-5, 5e-4);
        cmp(cs, "grad", "u", o.du, o.C, 2e-5, 2e-4);
        if (with_s0) cmp(cs, "grad", "s0", o.ds0, ns, 2e-5, 2e-4);
        printf("     (above: %s)\n", lab);
    }
    wkv_free_out(&o);
}

/* ------------------------------------------------------------------ no-oracle checks */

static float *randv(int64_t n, double scale) {
    float *v = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) v[i] = (float)(scale * bone_rng_normal(&rng));
    return v;
}
static float *rand_logw(int64_t n) {
    float *v = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) v[i] = -expf((float)(4.0 * bone_rng_uniform(&rng) - 3.0));
    return v;
}

/* chunked vs sequential on T = 70, B = 2, H = 2, hs = 16, with s0 and dsT, chunks 7, 16, 32 */
static void chunked_vs_seq(void) {
    wkv_io a = {.B = 2, .T = 70, .C = 32, .hs = 16}, b;
    const int64_t n = a.B * a.T * a.C, ns = a.B * a.C * a.hs;
    float *r = randv(n, 1), *k = randv(n, 1), *v = randv(n, 1), *lw = rand_logw(n), *u = randv(a.C, 0.5),
          *s0 = randv(ns, 1), *dy = randv(n, 1), *dsT = randv(ns, 1);
    a.r = r; a.k = k; a.v = v; a.logw = lw; a.u = u; a.s0 = s0; a.dy = dy; a.dsT = dsT;
    b = a;
    wkv_alloc(&a);
    wkv_alloc(&b);
    wkv_run(&a, 0);
    static const int64_t chunks[] = {7, 16, 32};
    for (int c = 0; c < 3; c++) {
        wkv_run(&b, chunks[c]);
        char w[64];
        const float *ga[8] = {a.y, a.sT, a.dr, a.dk, a.dv, a.dlw, a.du, a.ds0};
        const float *gb[8] = {b.y, b.sT, b.dr, b.dk, b.dv, b.dlw, b.du, b.ds0};
        const char *nm[8] = {"y", "sT", "dr", "dk", "dv", "dlogw", "du", "ds0"};
        const int64_t sz[8] = {n, ns, n, n, n, n, a.C, ns};
        for (int i = 0; i < 8; i++) {
            snprintf(w, sizeof w, "chunk %lld vs seq T=70 %s", (long long)chunks[c], nm[i]);
            tu_close(w, gb[i], ga[i], sz[i], 1e-4, 1e-4, 1);
        }
    }
    /* decode: T single steps, each carrying the state in place, equal the one T-token call */
    float *st = malloc((size_t)ns * 4), *y1 = malloc((size_t)n * 4), *yt = malloc((size_t)(a.B * a.C) * 4);
    float *rt = malloc((size_t)(a.B * a.C) * 4 * 4), *kt = rt + a.B * a.C, *vt = kt + a.B * a.C, *wt = vt + a.B * a.C;
    memcpy(st, s0, (size_t)ns * 4);
    for (int64_t t = 0; t < a.T; t++) {
        for (int64_t bb = 0; bb < a.B; bb++) {
            const int64_t o = (bb * a.T + t) * a.C;
            memcpy(rt + bb * a.C, r + o, (size_t)a.C * 4);
            memcpy(kt + bb * a.C, k + o, (size_t)a.C * 4);
            memcpy(vt + bb * a.C, v + o, (size_t)a.C * 4);
            memcpy(wt + bb * a.C, lw + o, (size_t)a.C * 4);
        }
        wkv6_seq_forward(yt, st, rt, kt, vt, wt, u, st, a.B, 1, a.C, a.hs);
        for (int64_t bb = 0; bb < a.B; bb++) memcpy(y1 + (bb * a.T + t) * a.C, yt + bb * a.C, (size_t)a.C * 4);
    }
    tu_close("decode: 70 steps of T=1 vs one call, y", y1, a.y, n, 0, 0, 1); /* the same float ops: exact */
    tu_close("decode: 70 steps of T=1 vs one call, state", st, a.sT, ns, 0, 0, 1);
    /* degenerate decays: w = 0 (logw = −inf) and e^-200 in a few places, both forms agree */
    for (int64_t i = 0; i < n; i += 37) lw[i] = (i / 37) % 2 ? -INFINITY : -200.0f;
    wkv_run(&a, 0);
    wkv_run(&b, 16);
    {
        const float *ga[8] = {a.y, a.sT, a.dr, a.dk, a.dv, a.dlw, a.du, a.ds0};
        const float *gb[8] = {b.y, b.sT, b.dr, b.dk, b.dv, b.dlw, b.du, b.ds0};
        const char *nm[8] = {"y", "sT", "dr", "dk", "dv", "dlogw", "du", "ds0"};
        const int64_t sz[8] = {n, ns, n, n, n, n, a.C, ns};
        for (int i = 0; i < 8; i++) {
            char w[64];
            snprintf(w, sizeof w, "w=0 decays: chunk 16 vs seq %s", nm[i]);
            tu_close(w, gb[i], ga[i], sz[i], 1e-4, 1e-4, 1);
        }
    }
    free(st); free(y1); free(yt); free(rt);
    wkv_free_out(&a);
    wkv_free_out(&b);
    free(r); free(k); free(v); free(lw); free(u); free(s0); free(dy); free(dsT);
}

/* ------------------------------------------------------------------ finite differences */

/* s(x) = Σ rw⊙f(x) in double; central differences with step h at sampled coordinates vs the
 * analytic gradient from *_backward with dy = rw. h = 1e-3 on O(1) inputs: fp32 noise
 * ~1e-4 relative, so 1e-2 relative + 3e-4 absolute. WKV6's loss sums ~500 fp32 outputs
 * of a recurrence, whose rounding (~1e-6 of the sum) over 2h = 2e-3 reached the limit; with
 * h = 1e-2 the noise is 10× smaller and the O(h²) truncation error stays ~1e-4 relative. */
static float H_STEP = 1e-3f; /* main() raises it to 1e-2 for WKV6 (below) */
typedef double (*eval_fn)(void *ctx);

static int fd_count(void *ctx, eval_fn eval, float *x, const float *grad, int64_t n, int samples, double *worst) {
    int bad = 0;
    *worst = 0;
    for (int s = 0; s < samples; s++) {
        const int64_t i = (int64_t)(bone_rng_u64(&rng) % (uint64_t)n);
        const float keep = x[i];
        x[i] = keep + H_STEP;
        const double sp = eval(ctx);
        x[i] = keep - H_STEP;
        const double sm = eval(ctx);
        x[i] = keep;
        const double fd = (sp - sm) / (2.0 * H_STEP), err = fabs(fd - grad[i]), lim = 3e-4 + 1e-2 * fabs(fd);
        if (err / lim > *worst) *worst = err / lim;
        bad += err > lim;
        if (err > lim && getenv("FD_VERBOSE")) fprintf(stderr, "  [%lld] fd %.7g analytic %.7g\n", (long long)i, fd, grad[i]);
    }
    return bad;
}

static void fd_check(const char *what, void *ctx, eval_fn eval, float *x, const float *grad, int64_t n) {
    double worst;
    const int bad = fd_count(ctx, eval, x, grad, n, 24, &worst);
    CHECK(bad == 0, "fd %s: %d of 24 finite differences disagree (worst/limit %.3g)", what, bad, worst);
    if (!bad) printf("ok   fd %-34s worst/limit %.3f\n", what, worst);
}

static double dotd(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* --- norms */
typedef struct { int64_t N, C, hs; float *x, *w, *b, *y, *m, *rs, *rw; } norm_ctx;
static double norm_eval(void *p) {
    norm_ctx *c = p;
    if (c->hs) groupnorm_forward(c->y, c->m, c->rs, c->x, c->w, c->b, c->N, c->C, c->hs, 6.4e-4f);
    else layernorm_forward(c->y, c->m, c->rs, c->x, c->w, c->b, c->N, c->C, 1e-5f);
    return dotd(c->y, c->rw, c->N * c->C);
}
static void fd_norm(int64_t hs) {
    norm_ctx c = {.N = 4, .C = 32, .hs = hs};
    const int64_t n = c.N * c.C;
    c.x = randv(n, 1); c.w = randv(c.C, 1); c.b = randv(c.C, 1); c.rw = randv(n, 1);
    c.y = zeros(n); c.m = zeros(n); c.rs = zeros(n);
    float *dx = zeros(n), *dw = zeros(c.C), *db = zeros(c.C);
    norm_eval(&c);
    if (hs) groupnorm_backward(dx, dw, db, c.rw, c.x, c.w, c.m, c.rs, c.N, c.C, hs);
    else layernorm_backward(dx, dw, db, c.rw, c.x, c.w, c.m, c.rs, c.N, c.C);
    const char *nm = hs ? "groupnorm" : "layernorm";
    char w[64];
    snprintf(w, sizeof w, "%s dx", nm); fd_check(w, &c, norm_eval, c.x, dx, n);
    snprintf(w, sizeof w, "%s dw", nm); fd_check(w, &c, norm_eval, c.w, dw, c.C);
    snprintf(w, sizeof w, "%s db", nm); fd_check(w, &c, norm_eval, c.b, db, c.C);
    free(c.x); free(c.w); free(c.b); free(c.rw); free(c.y); free(c.m); free(c.rs); free(dx); free(dw); free(db);
}

/* --- token shift + ddlerp + decay, chained as TimeMix uses them: x → delta → (x_w..x_g) → logw */
typedef struct {
    int64_t B, T, C, D, DD;
    float *x, *prev, *mx, *maa[5], *W1, *W2, *td, *Wd1, *Wd2;
    float *delta, *xo, *z, *logw, *hd, *rw, *rl;
} mix_ctx;
static double mix_eval(void *p) {
    mix_ctx *c = p;
    const int64_t N = c->B * c->T;
    tokenshift_forward(c->delta, c->x, c->prev, c->B, c->T, c->C);
    ddlerp_forward(c->xo, c->z, c->x, c->delta, c->mx, (const float *const *)c->maa, c->W1, c->W2, N, c->C, c->D);
    decay_forward(c->logw, c->hd, c->xo, c->td, c->Wd1, c->Wd2, N, c->C, c->DD); // from x_w
    return dotd(c->xo, c->rw, 5 * N * c->C) + dotd(c->logw, c->rl, N * c->C);
}
static void fd_mix(void) {
    mix_ctx c = {.B = 2, .T = 4, .C = 12, .D = 3, .DD = 5};
    const int64_t N = c.B * c.T, NC = N * c.C;
    c.x = randv(NC, 1); c.prev = randv(c.B * c.C, 1); c.mx = randv(c.C, 0.5);
    for (int j = 0; j < 5; j++) c.maa[j] = randv(c.C, 0.5);
    c.W1 = randv(c.C * 5 * c.D, 0.5); c.W2 = randv(5 * c.D * c.C, 0.5);
    c.td = randv(c.C, 0.5); c.Wd1 = randv(c.C * c.DD, 0.5); c.Wd2 = randv(c.DD * c.C, 0.5);
    c.delta = zeros(NC); c.xo = zeros(5 * NC); c.z = zeros(N * 5 * c.D); c.logw = zeros(NC); c.hd = zeros(N * c.DD);
    c.rw = randv(5 * NC, 1); c.rl = randv(NC, 1);
    mix_eval(&c);
    /* backward in reverse order: decay → (dxo[w] +=) → ddlerp → token shift */
    float *dxo = malloc((size_t)(5 * NC) * 4);
    memcpy(dxo, c.rw, (size_t)(5 * NC) * 4);
    float *dx = zeros(NC), *dprev = zeros(c.B * c.C), *dd = zeros(NC), *dmx = zeros(c.C), *dW1 = zeros(c.C * 5 * c.D),
          *dW2 = zeros(5 * c.D * c.C), *dtd = zeros(c.C), *dWd1 = zeros(c.C * c.DD), *dWd2 = zeros(c.DD * c.C), *dm[5];
    for (int j = 0; j < 5; j++) dm[j] = zeros(c.C);
    decay_backward(dxo, dtd, dWd1, dWd2, c.rl, c.logw, c.hd, c.xo, c.Wd1, c.Wd2, N, c.C, c.DD, NULL);
    ddlerp_backward(dx, dd, dmx, dm, dW1, dW2, dxo, c.x, c.delta, c.mx, (const float *const *)c.maa, c.W1, c.W2, c.z,
                    N, c.C, c.D, NULL);
    tokenshift_backward(dx, dprev, dd, c.B, c.T, c.C);
    fd_check("mix dx", &c, mix_eval, c.x, dx, NC);
    fd_check("mix dprev (token shift)", &c, mix_eval, c.prev, dprev, c.B * c.C);
    fd_check("mix dmaa_x", &c, mix_eval, c.mx, dmx, c.C);
    fd_check("mix dmaa_w", &c, mix_eval, c.maa[0], dm[0], c.C);
    fd_check("mix dmaa_g", &c, mix_eval, c.maa[4], dm[4], c.C);
    fd_check("mix dW1", &c, mix_eval, c.W1, dW1, c.C * 5 * c.D);
    fd_check("mix dW2", &c, mix_eval, c.W2, dW2, 5 * c.D * c.C);
    fd_check("decay dtime_decay", &c, mix_eval, c.td, dtd, c.C);
    fd_check("decay dWd1", &c, mix_eval, c.Wd1, dWd1, c.C * c.DD);
    fd_check("decay dWd2", &c, mix_eval, c.Wd2, dWd2, c.DD * c.C);
    /* negative control: a gradient 5% off must be caught by the same check */
    for (int64_t i = 0; i < NC; i++) dx[i] *= 1.05f;
    double worst;
    CHECK(fd_count(&c, mix_eval, c.x, dx, NC, 24, &worst) > 0, "fd check did not notice a gradient 5%% off");
    free(c.x); free(c.prev); free(c.mx); free(c.W1); free(c.W2); free(c.td); free(c.Wd1); free(c.Wd2);
    free(c.delta); free(c.xo); free(c.z); free(c.logw); free(c.hd); free(c.rw); free(c.rl);
    for (int j = 0; j < 5; j++) { free(c.maa[j]); free(dm[j]); }
    free(dxo); free(dx); free(dprev); free(dd); free(dmx); free(dW1); free(dW2); free(dtd); free(dWd1); free(dWd2);
}

/* --- ChannelMix elementwise: y = sigmoid(a) ⊙ relu²(x), and silu(a) ⊙ b, lerp */
typedef struct { int64_t n; float *a, *x, *b, *maa, *y1, *y2, *y3, *t, *rw; } ew_ctx;
static double ew_eval(void *p) {
    ew_ctx *c = p;
    relu2_forward(c->t, c->x, c->n);
    sigmoid_mul_forward(c->y1, c->a, c->t, c->n);
    silu_mul_forward(c->y2, c->b, c->x, c->n);
    lerp_forward(c->y3, c->a, c->b, c->maa, 1, c->n);
    return dotd(c->y1, c->rw, c->n) + 0.5 * dotd(c->y2, c->rw, c->n) + 0.25 * dotd(c->y3, c->rw, c->n);
}
static void fd_elementwise(void) {
    ew_ctx c = {.n = 30};
    c.a = randv(c.n, 2); c.x = randv(c.n, 1); c.b = randv(c.n, 2); c.maa = randv(c.n, 1); c.rw = randv(c.n, 1);
    c.y1 = zeros(c.n); c.y2 = zeros(c.n); c.y3 = zeros(c.n); c.t = zeros(c.n);
    ew_eval(&c);
    float *da = zeros(c.n), *dx = zeros(c.n), *db = zeros(c.n), *dt = zeros(c.n), *dm = zeros(c.n), *half = zeros(c.n),
          *q = zeros(c.n);
    sigmoid_mul_backward(da, dt, c.rw, c.a, c.t, c.n);
    relu2_backward(dx, dt, c.x, c.n);
    for (int64_t i = 0; i < c.n; i++) { half[i] = 0.5f * c.rw[i]; q[i] = 0.25f * c.rw[i]; }
    silu_mul_backward(db, dx, half, c.b, c.x, c.n);
    lerp_backward(da, db, dm, q, c.b, c.maa, 1, c.n);
    fd_check("sigmoid_mul/lerp da", &c, ew_eval, c.a, da, c.n);
    fd_check("relu2/silu_mul dx", &c, ew_eval, c.x, dx, c.n);
    fd_check("silu_mul/lerp db", &c, ew_eval, c.b, db, c.n);
    fd_check("lerp dmaa", &c, ew_eval, c.maa, dm, c.n);
    free(c.a); free(c.x); free(c.b); free(c.maa); free(c.rw); free(c.y1); free(c.y2); free(c.y3); free(c.t);
    free(da); free(dx); free(db); free(dt); free(dm); free(half); free(q);
}

/* --- WKV6, both forms, with s0 and a final-state term in the loss */
typedef struct { wkv_io io; int64_t chunk; float *rs; float *x[6]; } wkvfd_ctx;
static double wkv_eval(void *p) {
    wkvfd_ctx *c = p;
    wkv_io *o = &c->io;
    if (c->chunk) wkv6_chunked_forward(o->y, o->sT, o->r, o->k, o->v, o->logw, o->u, o->s0, o->B, o->T, o->C, o->hs,
                                       c->chunk, NULL);
    else wkv6_seq_forward(o->y, o->sT, o->r, o->k, o->v, o->logw, o->u, o->s0, o->B, o->T, o->C, o->hs);
    return dotd(o->y, o->dy, o->B * o->T * o->C) + dotd(o->sT, c->rs, o->B * o->C * o->hs);
}
static void fd_wkv(int64_t chunk) {
    wkvfd_ctx c = {.io = {.B = 2, .T = 9, .C = 16, .hs = 8}, .chunk = chunk};
    wkv_io *o = &c.io;
    const int64_t n = o->B * o->T * o->C, ns = o->B * o->C * o->hs;
    float *r = randv(n, 1), *k = randv(n, 1), *v = randv(n, 1), *lw = rand_logw(n), *u = randv(o->C, 0.5),
          *s0 = randv(ns, 0.5);
    o->r = r; o->k = k; o->v = v; o->logw = lw; o->u = u; o->s0 = s0;
    float *dy = randv(n, 1);
    c.rs = randv(ns, 1);
    o->dy = dy; o->dsT = c.rs;
    wkv_alloc(o);
    wkv_run(o, chunk);
    const char *nm[6] = {"dr", "dk", "dv", "dlogw", "du", "ds0"};
    float *xs[6] = {r, k, v, lw, u, s0};
    const float *gs[6] = {o->dr, o->dk, o->dv, o->dlw, o->du, o->ds0};
    const int64_t sz[6] = {n, n, n, n, o->C, ns};
    for (int i = 0; i < 6; i++) {
        char w[64];
        snprintf(w, sizeof w, "wkv6 %s %s", chunk ? "chunked" : "seq", nm[i]);
        fd_check(w, &c, wkv_eval, xs[i], gs[i], sz[i]);
    }
    wkv_free_out(o);
    free(r); free(k); free(v); free(lw); free(u); free(s0); free(dy); free(c.rs);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR (with rwkv6_ops.safetensors from tests/ops/rwkv6_ops_ref.py)\n", argv[0]);
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/rwkv6_ops.safetensors", argv[1]);
    bone_err e;
    bone_st_init(&ref);
    if (bone_st_open_file(&ref, path, &e)) {
        fprintf(stderr, "FAIL: %s\n", e.msg);
        return 1;
    }
    rng = bone_rng_seed(6, 0);
    oracle_layernorm();
    oracle_groupnorm(8);
    oracle_groupnorm(16);
    oracle_tokenshift(1);
    oracle_tokenshift(0);
    oracle_lerp();
    oracle_ddlerp();
    oracle_decay();
    oracle_elementwise();
    oracle_wkv("wkv_hs8", 2, 13, 2, 8, 1, 1);
    oracle_wkv("wkv_hs16", 2, 11, 2, 16, 0, 0);
    oracle_wkv("wkv_hs16_s0", 1, 17, 3, 16, 1, 0);
    oracle_wkv("wkv_hs8_strong", 2, 20, 2, 8, 1, 1);
    chunked_vs_seq();
    fd_norm(0);
    fd_norm(8);
    fd_mix();
    fd_elementwise();
    H_STEP = 1e-2f;
    fd_wkv(0);
    fd_wkv(4);
    bone_st_close(&ref);
    return tu_finish("test_rwkv6_ops");
}
