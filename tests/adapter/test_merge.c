/* test_merge.c — merge and unmerge at the linear level: output with the adapter equals the
 * output with the merged weight (every variant, fp32 and bf16 bases); unmerge(merge(W)) ≈ W
 * in fp32; singular / ill-conditioned (I + D) and (1 + D) are refused with a clear message;
 * PiSSA (exact and randomized SVD) and OLoRA initialisations leave W' = W at step 0. */
#include "testutil.h"

static bone_linear make_lin(int64_t O, int64_t I, bone_dtype dt, void **store, double *seen) {
    bone_linear L;
    memset(&L, 0, sizeof L);
    L.name = strdup("model.layers.1.mlp.down_proj");
    L.O = O, L.I = I;
    float *w = t_rand(O * I, 0.5);
    *store = t_weight(dt, w, O * I, seen);
    free(w);
    L.w = (bone_wref){dt, *store};
    return L;
}

static double max_abs_diff(const float *a, const double *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs((double)a[i] - b[i]) > m) m = fabs((double)a[i] - b[i]);
    return m;
}

static void merge_case(bone_method m, int64_t O, int64_t I, int64_t b, int64_t gr, int64_t gc, int64_t r, bone_dtype dt) {
    void *store;
    double *seen = malloc((size_t)(O * I) * 8);
    bone_linear L = make_lin(O, I, dt, &store, seen);
    bone_adapter *a = bone_adapter_new(m);
    a->b = b, a->gr = gr, a->gc = gc, a->rank = r, a->alpha = 2.0 * (double)r;
    bone_err e;
    int rc = bone_adapter_bind(&L, a, &e);
    CHECK(rc == 0, "bind: %s", rc ? e.msg : "");
    if (rc) {
        free(a);
        return;
    }
    int64_t n0 = bone_method_is_bone(m) ? (m == BONE_METHOD_FREE ? b * O : a->ng * b * b) : r * I, n1 = bone_method_is_bone(m) ? 0 : O * r;
    float *P0 = t_rand(n0, 0.1), *P1 = n1 ? t_rand(n1, 0.1) : NULL, *G0 = calloc((size_t)n0, 4), *G1 = n1 ? calloc((size_t)n1, 4) : NULL;
    a->v[0] = P0, a->g[0] = G0, a->v[1] = P1, a->g[1] = G1;
    /* keep a copy of the adapter for the unmerge (merge destroys the state) */
    bone_adapter keep = *a;
    const int64_t N = 4;
    float *x = t_rand(N * I, 1), *y1 = malloc((size_t)(N * O) * 4), *y2 = malloc((size_t)(N * O) * 4);
    bone_lin_ctx ctx = {0};
    linear_forward(&ctx, &L, x, y1, N);
    rc = bone_linear_merge(&L, &e);
    CHECK(rc == 0 && L.ops == NULL && L.w.dtype == BONE_F32, "merge %s", bone_method_name(m));
    linear_forward(&ctx, &L, x, y2, N);
    double em = 0, sc = 0;
    for (int64_t i = 0; i < N * O; i++) {
        if (fabs(y1[i] - y2[i]) > em) em = fabs(y1[i] - y2[i]);
        if (fabs(y1[i]) > sc) sc = fabs(y1[i]);
    }
    CHECK(em <= 1e-5 * (1 + sc), "merge equivalence %s %s: max |y_adapter - y_merged| = %.2e", bone_method_name(m), bone_dtype_name(dt), em);
    /* unmerge: reattach the same values to the merged linear */
    bone_adapter *a2 = bone_adapter_new(m);
    *a2 = keep;
    a2->init_a = a2->init_b = NULL;
    rc = bone_adapter_bind(&L, a2, &e);
    CHECK(rc == 0, "rebind");
    rc = bone_linear_unmerge(&L, &e);
    CHECK(rc == 0, "unmerge %s: %s", bone_method_name(m), rc ? e.msg : "");
    double eu = max_abs_diff((const float *)L.w.data, seen, O * I);
    CHECK(eu < 2e-5, "unmerge(merge(W)) %s %s: max |W - W0| = %.2e", bone_method_name(m), bone_dtype_name(dt), eu);
    printf("  %-13s O=%-3lld I=%-3lld %-4s merge max|dy| %.1e, unmerge(merge(W)) max|dW| %.1e\n", bone_method_name(m), (long long)O, (long long)I,
           bone_dtype_name(dt), em, eu);
    bone_lin_ctx_free(&ctx);
    linear_destroy(&L);
    free(store), free(seen), free(P0), free(P1), free(G0), free(G1), free(x), free(y1), free(y2);
}

static void refuse_case(bone_method m, int kind) {
    void *store;
    const int64_t O = 32, I = 64, b = 16;
    double *seen = malloc((size_t)(O * I) * 8);
    bone_linear L = make_lin(O, I, BONE_F32, &store, seen);
    bone_adapter *a = bone_adapter_new(m);
    a->b = b, a->gr = 1, a->gc = 2;
    bone_err e;
    if (bone_adapter_bind(&L, a, &e)) {
        CHECK(0, "bind: %s", e.msg);
        free(a);
        linear_destroy(&L);
        free(store), free(seen);
        return;
    }
    int64_t n0 = a->ng * b * b;
    float *D = t_rand(n0, 0.05), *G = calloc((size_t)n0, 4);
    a->v[0] = D, a->g[0] = G;
    if (m == BONE_METHOD_HADAMARD) {
        D[b * b + 3] = -1.0f; /* 1 + D = 0 */
    } else if (kind == 0) {
        for (int64_t p = 0; p < b; p++) /* D[1] = −I + rank-one: I + D[1] singular */
            for (int64_t q = 0; q < b; q++) D[b * b + p * b + q] = (p == q ? -1.0f : 0.0f);
    } else {
        for (int64_t p = 0; p < b; p++) /* I + D[1] = diag(1, .., 1, 6e-8): condition ~1.7e7 */
            for (int64_t q = 0; q < b; q++) D[b * b + p * b + q] = 0.0f;
        D[b * b + (b - 1) * b + (b - 1)] = -0.99999994f; /* 1 + D = 2^-24·1 ≈ 6e-8 */
    }
    int rc = bone_linear_unmerge(&L, &e);
    CHECK(rc != 0 && strstr(e.msg, L.name) &&
              (m == BONE_METHOD_HADAMARD ? strstr(e.msg, "zero") != NULL : kind == 0 ? strstr(e.msg, "singular") != NULL : strstr(e.msg, "ill-conditioned") != NULL),
          "refusal %s kind %d: rc %d msg \"%s\"", bone_method_name(m), kind, rc, rc ? e.msg : "");
    CHECK(L.ops != NULL, "a refused unmerge keeps the adapter");
    if (rc) printf("  refused as expected: %s\n", e.msg);
    linear_destroy(&L);
    free(store), free(seen), free(D), free(G);
}

/* PiSSA / OLoRA: after init, base(residual) + s·B·A == W, and the shapes of the factors */
static void init_case(bone_method m, int64_t O, int64_t I, int64_t r, int64_t niter, bone_dtype dt) {
    void *store;
    double *seen = malloc((size_t)(O * I) * 8);
    bone_linear L = make_lin(O, I, dt, &store, seen);
    bone_adapter *a = bone_adapter_new(m);
    a->rank = r, a->alpha = 16, a->id = 3;
    bone_err e;
    bone_adapter_bind(&L, a, &e);
    float *A = calloc((size_t)(r * I), 4), *B = calloc((size_t)(O * r), 4), *gA = calloc((size_t)(r * I), 4), *gB = calloc((size_t)(O * r), 4);
    a->v[0] = A, a->v[1] = B, a->g[0] = gA, a->g[1] = gB;
    int rc = m == BONE_METHOD_PISSA ? bone_lora_init_pissa(&L, niter, 5, &e) : bone_lora_init_olora(&L, &e);
    CHECK(rc == 0, "%s init: %s", bone_method_name(m), rc ? e.msg : "");
    /* structure: OLoRA B = Q[:, :r] has orthonormal columns; PiSSA A·Aᵀ = Bᵀ·B = diag(S_r / s), S descending > 0 */
    double worst = 0, prev = INFINITY;
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < r; j++) {
            double bb = 0, aa = 0;
            for (int64_t o = 0; o < O; o++) bb += (double)B[o * r + i] * B[o * r + j];
            for (int64_t k = 0; k < I; k++) aa += (double)A[i * I + k] * A[j * I + k];
            if (m == BONE_METHOD_OLORA) worst = fmax(worst, fabs(bb - (i == j ? 1.0 : 0.0)));
            else {
                worst = fmax(worst, fabs(aa - bb) + (i != j ? fabs(bb) : 0.0));
                if (i == j) {
                    CHECK(bb > 1e-3 && bb <= prev * (1 + 1e-5), "%s: singular values not positive/descending", bone_method_name(m));
                    prev = bb;
                }
            }
        }
    CHECK(worst < 1e-4, "%s factor structure off by %.2e", bone_method_name(m), worst);
    /* W' = residual + s·B·A must be W at step 0 */
    rc = bone_linear_merge(&L, &e);
    double d = max_abs_diff((const float *)L.w.data, seen, O * I);
    CHECK(rc == 0 && d < 2e-5, "%s niter=%lld: residual + s·B·A differs from W by %.2e", bone_method_name(m), (long long)niter, d);
    printf("  %-6s niter=%lld O=%lld I=%lld r=%lld %-4s: max|W - (W_res + s·B·A)| = %.1e\n", bone_method_name(m), (long long)niter, (long long)O,
           (long long)I, (long long)r, bone_dtype_name(dt), d);
    linear_destroy(&L);
    free(store), free(seen), free(A), free(B), free(gA), free(gB);
}

/* PiSSA's top singular directions: the exact A, B equal the randomized ones (up to sign)
 * for a matrix whose spectrum decays fast. */
static void pissa_exact_vs_random(void) {
    const int64_t O = 48, I = 40, r = 3;
    float *W = calloc((size_t)(O * I), 4);
    for (int k = 0; k < 6; k++) { /* W = Σ_k σ_k u_k v_kᵀ, σ = 8, 4, 2, .1, .. */
        float *u = t_rand(O, 1), *v = t_rand(I, 1);
        double sg = k < 3 ? 8.0 / (1 << k) : 0.05;
        for (int64_t o = 0; o < O; o++)
            for (int64_t i = 0; i < I; i++) W[o * I + i] += (float)(sg * u[o] * v[i] / sqrt((double)O * I / 9.0));
        free(u), free(v);
    }
    float *res[2][2];
    for (int t = 0; t < 2; t++) {
        bone_linear L = {0};
        L.name = strdup("x"), L.O = O, L.I = I, L.w = (bone_wref){BONE_F32, W};
        bone_adapter *a = bone_adapter_new(BONE_METHOD_PISSA);
        a->rank = r;
        bone_err e;
        bone_adapter_bind(&L, a, &e);
        res[t][0] = calloc((size_t)(r * I), 4), res[t][1] = calloc((size_t)(O * r), 4);
        float *g0 = calloc((size_t)(r * I), 4), *g1 = calloc((size_t)(O * r), 4);
        a->v[0] = res[t][0], a->v[1] = res[t][1], a->g[0] = g0, a->g[1] = g1;
        int rc = bone_lora_init_pissa(&L, t ? 4 : 0, 11, &e);
        CHECK(rc == 0, "pissa init");
        linear_destroy(&L);
        free(g0), free(g1);
    }
    double worst = 0;
    for (int64_t k = 0; k < r; k++) {
        double dot = 0; /* sign of row k of A */
        for (int64_t i = 0; i < I; i++) dot += (double)res[0][0][k * I + i] * res[1][0][k * I + i];
        double sgn = dot < 0 ? -1 : 1;
        for (int64_t i = 0; i < I; i++) worst = fmax(worst, fabs(res[0][0][k * I + i] - sgn * res[1][0][k * I + i]));
        for (int64_t o = 0; o < O; o++) worst = fmax(worst, fabs(res[0][1][o * r + k] - sgn * res[1][1][o * r + k]));
    }
    CHECK(worst < 1e-3, "pissa exact vs randomized (niter 4): max diff %.2e", worst);
    printf("  pissa exact vs randomized SVD (niter 4), top %lld directions: max diff %.1e\n", (long long)r, worst);
    for (int t = 0; t < 2; t++) free(res[t][0]), free(res[t][1]);
    free(W);
}

int main(void) {
    const bone_method ms[] = {BONE_METHOD_COL, BONE_METHOD_ROW, BONE_METHOD_GRID, BONE_METHOD_HADAMARD, BONE_METHOD_FREE, BONE_METHOD_LORA};
    printf("merge / unmerge:\n");
    for (int k = 0; k < 6; k++) {
        merge_case(ms[k], 96, 64, 16, 2, 2, 4, BONE_F32);
        merge_case(ms[k], 64, 96, 16, 2, 2, 4, BONE_F32);
    }
    /* bf16 base: merge equivalence holds; unmerge(merge) is checked against the bf16 values the linear saw */
    for (int k = 0; k < 6; k++) merge_case(ms[k], 32, 64, 16, 1, 2, 4, BONE_BF16);
    merge_case(BONE_METHOD_FREE, 40, 72, 16, 1, 1, 0, BONE_F32);
    printf("refusals:\n");
    refuse_case(BONE_METHOD_COL, 0);
    refuse_case(BONE_METHOD_COL, 1);
    refuse_case(BONE_METHOD_ROW, 0);
    refuse_case(BONE_METHOD_GRID, 1);
    refuse_case(BONE_METHOD_HADAMARD, 0);
    printf("PiSSA / OLoRA init:\n");
    init_case(BONE_METHOD_PISSA, 96, 64, 8, 0, BONE_F32);
    init_case(BONE_METHOD_PISSA, 64, 96, 8, 2, BONE_BF16);
    init_case(BONE_METHOD_OLORA, 96, 64, 8, 0, BONE_F32);
    init_case(BONE_METHOD_OLORA, 64, 96, 8, 0, BONE_BF16);
    pissa_exact_vs_random();
    if (tu_failures) fprintf(stderr, "%d check(s) failed\n", tu_failures);
    else printf("all merge checks passed\n");
    return tu_failures ? 1 : 0;
}
