/* test_linear.c — every adapter at the linear level against a naive dense construction of
 * W' written from BONE.md (random NON-ZERO adapter values, GQA-like non-square shapes,
 * fp32 and bf16 bases, multi-tile backward), and a finite-difference check of every
 * gradient (adapter entries and inputs; central differences, losses summed in double). */
#include "testutil.h"

#define NTOK 5

static const bone_method vmeth[] = {BONE_METHOD_COL, BONE_METHOD_ROW, BONE_METHOD_GRID, BONE_METHOD_HADAMARD, BONE_METHOD_FREE};

typedef struct lin_case {
    bone_linear L;
    void *wstore;
    double *Wseen;
    float *bias;
    float *P0, *G0; /* adapter tensors: Bone D or B; LoRA A */
    float *P1, *G1; /* LoRA B */
} lin_case;

static void make_linear(lin_case *c, int64_t O, int64_t I, bone_dtype dt, int with_bias) {
    memset(c, 0, sizeof *c);
    c->L.name = strdup("model.layers.0.self_attn.q_proj");
    c->L.O = O, c->L.I = I;
    float *w = t_rand(O * I, 0.5);
    c->Wseen = malloc((size_t)(O * I) * sizeof(double));
    c->wstore = t_weight(dt, w, O * I, c->Wseen);
    free(w);
    c->L.w = (bone_wref){dt, c->wstore};
    if (with_bias) c->bias = t_rand(O, 0.3), c->L.bias = c->bias;
}

static void free_case(lin_case *c) {
    linear_destroy(&c->L);
    free(c->wstore), free(c->Wseen), free(c->bias), free(c->P0), free(c->G0), free(c->P1), free(c->G1);
}

static int attach_bone(lin_case *c, bone_method m, int64_t b, int64_t gr, int64_t gc, int64_t *n0) {
    bone_adapter *a = bone_adapter_new(m);
    a->b = b, a->gr = gr, a->gc = gc;
    bone_err e;
    if (bone_adapter_bind(&c->L, a, &e)) {
        fprintf(stderr, "bind: %s\n", e.msg);
        free(a);
        return -1;
    }
    *n0 = m == BONE_METHOD_FREE ? b * c->L.O : a->ng * b * b;
    c->P0 = t_rand(*n0, 0.15); /* non-zero: a zero adapter would hide every ΔW term */
    c->G0 = t_rand(*n0, 1.0);  /* non-zero: gradients must accumulate (+=) */
    a->v[0] = c->P0, a->g[0] = c->G0;
    return 0;
}

static int tvariant(bone_method m) {
    return m == BONE_METHOD_COL ? T_COL : m == BONE_METHOD_ROW ? T_ROW : m == BONE_METHOD_GRID ? T_GRID : m == BONE_METHOD_HADAMARD ? T_HAD : T_FREE;
}

/* forward/backward vs the naive dense reference */
static void check_bone_vs_naive(bone_method m, int64_t O, int64_t I, int64_t b, int64_t gr, int64_t gc, bone_dtype dt, int with_bias) {
    lin_case c;
    make_linear(&c, O, I, dt, with_bias);
    int64_t n0;
    if (attach_bone(&c, m, b, gr, gc, &n0)) {
        CHECK(0, "attach %s O=%lld I=%lld b=%lld", bone_method_name(m), (long long)O, (long long)I, (long long)b);
        free_case(&c);
        return;
    }
    bone_adapter *a = c.L.adapter;
    const int64_t N = NTOK;
    float *x = t_rand(N * I, 1.0), *dy = t_rand(N * O, 1.0), *y = calloc((size_t)(N * O), sizeof(float));
    float *dx = t_rand(N * I, 1.0), *dx0 = malloc((size_t)(N * I) * sizeof(float)), *dD0 = malloc((size_t)n0 * sizeof(float));
    memcpy(dx0, dx, (size_t)(N * I) * sizeof(float));
    memcpy(dD0, c.G0, (size_t)n0 * sizeof(float));
    /* reference */
    double *dW = malloc((size_t)(O * I) * sizeof(double)), *Wp = malloc((size_t)(O * I) * sizeof(double));
    naive_delta(tvariant(m), O, I, b, a->gr, a->gc, c.Wseen, c.P0, dW);
    for (int64_t i = 0; i < O * I; i++) Wp[i] = c.Wseen[i] + dW[i];
    double *yr = malloc((size_t)(N * O) * sizeof(double)), *dxr = malloc((size_t)(N * I) * sizeof(double));
    double *G = calloc((size_t)(O * I), sizeof(double)), *dDr = malloc((size_t)n0 * sizeof(double));
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++) {
            double s = c.bias ? c.bias[o] : 0.0;
            for (int64_t i = 0; i < I; i++) s += (double)x[n * I + i] * Wp[o * I + i];
            yr[n * O + o] = s;
        }
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < I; i++) {
            double s = dx0[n * I + i];
            for (int64_t o = 0; o < O; o++) s += (double)dy[n * O + o] * Wp[o * I + i];
            dxr[n * I + i] = s;
        }
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++)
            for (int64_t i = 0; i < I; i++) G[o * I + i] += (double)dy[n * O + o] * x[n * I + i]; /* G = dYᵀ·X */
    naive_dD(tvariant(m), O, I, b, a->gr, a->gc, c.Wseen, G, dDr, n0);
    for (int64_t i = 0; i < n0; i++) dDr[i] += dD0[i];
    /* ours */
    bone_lin_ctx ctx = {0};
    linear_forward(&ctx, &c.L, x, y, N);
    linear_backward(&ctx, &c.L, x, dy, dx, N);
    double ey = t_relerr_fd(y, yr, N * O), ex = t_relerr_fd(dx, dxr, N * I), ed = t_relerr_fd(c.G0, dDr, n0);
    const double tol = 2e-5;
    CHECK(ey < tol && ex < tol && ed < tol, "%s O=%lld I=%lld b=%lld grid %lldx%lld %s bias=%d: rel err y %.2e dx %.2e dD %.2e",
          bone_method_name(m), (long long)O, (long long)I, (long long)b, (long long)a->gr, (long long)a->gc, bone_dtype_name(dt), with_bias,
          ey, ex, ed);
    printf("  %-13s O=%-4lld I=%-4lld b=%-3lld %-4s bias=%d  err y %.1e dx %.1e dD %.1e  scratch floats: wbuf %lld tile %lld tmp %lld\n",
           bone_method_name(m), (long long)O, (long long)I, (long long)b, bone_dtype_name(dt), with_bias, ey, ex, ed,
           (long long)ctx.wbuf_cap, (long long)ctx.tile_cap, (long long)ctx.tmp_cap);
    bone_lin_ctx_free(&ctx);
    free(x), free(dy), free(y), free(dx), free(dx0), free(dD0), free(dW), free(Wp), free(yr), free(dxr), free(G), free(dDr);
    free_case(&c);
}

static void check_lora_vs_naive(int64_t O, int64_t I, int64_t r, bone_dtype dt) {
    lin_case c;
    make_linear(&c, O, I, dt, 1);
    bone_adapter *a = bone_adapter_new(BONE_METHOD_LORA);
    a->rank = r, a->alpha = 2.0 * (double)r; /* s = 2 */
    bone_err e;
    if (bone_adapter_bind(&c.L, a, &e)) {
        CHECK(0, "bind lora: %s", e.msg);
        free(a), free_case(&c);
        return;
    }
    c.P0 = t_rand(r * I, 0.3), c.G0 = t_rand(r * I, 1), c.P1 = t_rand(O * r, 0.3), c.G1 = t_rand(O * r, 1);
    a->v[0] = c.P0, a->g[0] = c.G0, a->v[1] = c.P1, a->g[1] = c.G1;
    const int64_t N = NTOK;
    const double s = 2.0;
    float *x = t_rand(N * I, 1), *dy = t_rand(N * O, 1), *y = calloc((size_t)(N * O), 4), *dx = t_rand(N * I, 1);
    double *Wp = malloc((size_t)(O * I) * 8), *yr = malloc((size_t)(N * O) * 8), *dxr = malloc((size_t)(N * I) * 8);
    double *dAr = malloc((size_t)(r * I) * 8), *dBr = malloc((size_t)(O * r) * 8), *G = calloc((size_t)(O * I), 8);
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < I; i++) {
            double t = 0;
            for (int64_t k = 0; k < r; k++) t += (double)c.P1[o * r + k] * c.P0[k * I + i];
            Wp[o * I + i] = c.Wseen[o * I + i] + s * t; /* W + s·B·A */
        }
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++) {
            double t = c.bias[o];
            for (int64_t i = 0; i < I; i++) t += (double)x[n * I + i] * Wp[o * I + i];
            yr[n * O + o] = t;
        }
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < I; i++) {
            double t = dx[n * I + i];
            for (int64_t o = 0; o < O; o++) t += (double)dy[n * O + o] * Wp[o * I + i];
            dxr[n * I + i] = t;
        }
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++)
            for (int64_t i = 0; i < I; i++) G[o * I + i] += (double)dy[n * O + o] * x[n * I + i];
    for (int64_t k = 0; k < r; k++) /* dA = s·Bᵀ·G, dB = s·G·Aᵀ */
        for (int64_t i = 0; i < I; i++) {
            double t = 0;
            for (int64_t o = 0; o < O; o++) t += (double)c.P1[o * r + k] * G[o * I + i];
            dAr[k * I + i] = c.G0[k * I + i] + s * t;
        }
    for (int64_t o = 0; o < O; o++)
        for (int64_t k = 0; k < r; k++) {
            double t = 0;
            for (int64_t i = 0; i < I; i++) t += G[o * I + i] * c.P0[k * I + i];
            dBr[o * r + k] = c.G1[o * r + k] + s * t;
        }
    bone_lin_ctx ctx = {0};
    linear_forward(&ctx, &c.L, x, y, N);
    linear_backward(&ctx, &c.L, x, dy, dx, N);
    double ey = t_relerr_fd(y, yr, N * O), ex = t_relerr_fd(dx, dxr, N * I), ea = t_relerr_fd(c.G0, dAr, r * I),
           eb = t_relerr_fd(c.G1, dBr, O * r);
    CHECK(ey < 2e-5 && ex < 2e-5 && ea < 2e-5 && eb < 2e-5, "lora O=%lld I=%lld r=%lld %s: y %.2e dx %.2e dA %.2e dB %.2e", (long long)O,
          (long long)I, (long long)r, bone_dtype_name(dt), ey, ex, ea, eb);
    printf("  %-13s O=%-4lld I=%-4lld r=%-3lld %-4s         err y %.1e dx %.1e dA %.1e dB %.1e\n", "lora", (long long)O, (long long)I,
           (long long)r, bone_dtype_name(dt), ey, ex, ea, eb);
    bone_lin_ctx_free(&ctx);
    free(x), free(dy), free(y), free(dx), free(Wp), free(yr), free(dxr), free(dAr), free(dBr), free(G);
    free_case(&c);
}

/* loss = Σ y ⊙ R, summed in double; y is linear in every adapter tensor and in x (LoRA:
 * in A and in B separately), so central differences are exact up to rounding. */
static double loss_of(bone_lin_ctx *ctx, const bone_linear *L, const float *x, const float *R, float *y, int64_t N) {
    linear_forward(ctx, L, x, y, N);
    double s = 0;
    for (int64_t i = 0; i < N * L->O; i++) s += (double)y[i] * R[i];
    return s;
}

static void fd_probe(const char *what, const char *tname, float *p, const float *g, int64_t n, bone_lin_ctx *ctx, const bone_linear *L,
                     float *x, const float *R, float *y, int64_t N) {
    const float eps = 0.25f;
    double worst = 0;
    for (int k = 0; k < 16; k++) {
        int64_t i = (int64_t)(t_uniform() * (double)n);
        float keep = p[i];
        p[i] = keep + eps;
        double lp = loss_of(ctx, L, x, R, y, N);
        p[i] = keep - eps;
        double lm = loss_of(ctx, L, x, R, y, N);
        p[i] = keep;
        double fd = (lp - lm) / (2.0 * eps), d = fabs(fd - g[i]) / (1.0 + fabs(fd));
        if (d > worst) worst = d;
    }
    CHECK(worst < 1e-3, "FD %s d%s: worst rel diff %.2e", what, tname, worst);
    printf("  FD %-13s d%-2s worst rel diff %.1e\n", what, tname, worst);
}

static void fd_case(bone_method m, int64_t O, int64_t I, int64_t b, int64_t gr, int64_t gc, int64_t r, double dropout) {
    lin_case c;
    make_linear(&c, O, I, BONE_F32, 1);
    const int64_t N = NTOK;
    int64_t n0 = 0, n1 = 0;
    if (bone_method_is_bone(m)) {
        if (attach_bone(&c, m, b, gr, gc, &n0)) {
            CHECK(0, "attach");
            free_case(&c);
            return;
        }
        memset(c.G0, 0, (size_t)n0 * 4);
    } else {
        bone_adapter *a = bone_adapter_new(m);
        a->rank = r, a->alpha = 3.0, a->dropout = dropout, a->id = 7;
        bone_err e;
        if (bone_adapter_bind(&c.L, a, &e)) {
            CHECK(0, "bind: %s", e.msg);
            free(a), free_case(&c);
            return;
        }
        n0 = r * I, n1 = O * r;
        c.P0 = t_rand(n0, 0.3), c.G0 = calloc((size_t)n0, 4), c.P1 = t_rand(n1, 0.3), c.G1 = calloc((size_t)n1, 4);
        a->v[0] = c.P0, a->g[0] = c.G0, a->v[1] = c.P1, a->g[1] = c.G1;
    }
    float *x = t_rand(N * I, 1), *R = t_rand(N * O, 1), *y = malloc((size_t)(N * O) * 4), *dx = calloc((size_t)(N * I), 4);
    bone_lin_ctx ctx = {0};
    ctx.training = 1, ctx.seed = 99, ctx.step = 3; /* fixed dropout mask across the probes */
    linear_forward(&ctx, &c.L, x, y, N);
    linear_backward(&ctx, &c.L, x, R, dx, N); /* dloss/dy = R */
    char what[64];
    snprintf(what, sizeof what, "%s%s", bone_method_name(m), dropout > 0 ? "+drop" : "");
    fd_probe(what, bone_method_is_bone(m) ? (m == BONE_METHOD_FREE ? "B" : "D") : "A", c.P0, c.G0, n0, &ctx, &c.L, x, R, y, N);
    if (n1) fd_probe(what, "B", c.P1, c.G1, n1, &ctx, &c.L, x, R, y, N);
    fd_probe(what, "x", x, dx, N * I, &ctx, &c.L, x, R, y, N);
    bone_lin_ctx_free(&ctx);
    free(x), free(R), free(y), free(dx);
    free_case(&c);
}

int main(void) {
    const int64_t shapes[][2] = {{32, 64}, {96, 64}, {64, 96}};
    printf("forward/backward vs naive dense W' (N=%d):\n", NTOK);
    for (int s = 0; s < 3; s++)
        for (int v = 0; v < 5; v++)
            for (int d = 0; d < 2; d++) {
                bone_dtype dt = d ? BONE_BF16 : BONE_F32;
                check_bone_vs_naive(vmeth[v], shapes[s][0], shapes[s][1], 16, 2, 2, dt, s == 1);
            }
    /* b = 32 divides all three shapes too; grid 1x3 on 96-wide inputs */
    check_bone_vs_naive(BONE_METHOD_COL, 96, 64, 32, 1, 1, BONE_F32, 0);
    check_bone_vs_naive(BONE_METHOD_ROW, 64, 96, 32, 1, 1, BONE_BF16, 1);
    check_bone_vs_naive(BONE_METHOD_GRID, 64, 96, 32, 1, 3, BONE_F32, 0);
    check_bone_vs_naive(BONE_METHOD_GRID, 96, 64, 16, 3, 1, BONE_F16, 0);
    /* several G tiles (b = 8 → 32 row-blocks a tile; 40 row-blocks), groups straddling tiles (gr = 5) */
    check_bone_vs_naive(BONE_METHOD_COL, 320, 64, 8, 1, 1, BONE_BF16, 1);
    check_bone_vs_naive(BONE_METHOD_ROW, 320, 64, 8, 1, 1, BONE_F32, 0);
    check_bone_vs_naive(BONE_METHOD_GRID, 320, 64, 8, 5, 2, BONE_F32, 0);
    check_bone_vs_naive(BONE_METHOD_HADAMARD, 320, 64, 8, 1, 1, BONE_BF16, 0);
    /* bone-free: I (and O) not multiples of b — zero padding as PEFT */
    check_bone_vs_naive(BONE_METHOD_FREE, 40, 72, 16, 1, 1, BONE_F32, 1);
    check_bone_vs_naive(BONE_METHOD_FREE, 96, 100, 32, 1, 1, BONE_BF16, 0);
    for (int s = 0; s < 3; s++) {
        check_lora_vs_naive(shapes[s][0], shapes[s][1], 4, BONE_F32);
        check_lora_vs_naive(shapes[s][0], shapes[s][1], 8, BONE_BF16);
    }
    printf("finite differences (central, eps 0.25, loss in double):\n");
    for (int v = 0; v < 5; v++) {
        fd_case(vmeth[v], 96, 64, 16, 2, 2, 0, 0);
        fd_case(vmeth[v], 32, 64, 16, 1, 2, 0, 0);
    }
    fd_case(BONE_METHOD_FREE, 40, 72, 16, 1, 1, 0, 0);
    fd_case(BONE_METHOD_LORA, 96, 64, 0, 0, 0, 4, 0);
    fd_case(BONE_METHOD_LORA, 64, 96, 0, 0, 0, 4, 0.3);
    if (tu_failures) fprintf(stderr, "%d check(s) failed\n", tu_failures);
    else printf("all linear checks passed\n");
    return tu_failures ? 1 : 0;
}
