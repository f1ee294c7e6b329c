/* test_optim.c — the optimizer step's fused forms against the plain ones they replaced, and
 * the release of the mapped weights by full fine-tuning.
 *
 * 1. bone_clip_grad + bone_adamw_step (the clip coefficient folded into the AdamW pass, the
 *    loop vectorised) give bit-identical values and moments to an in-place clip followed by
 *    the scalar AdamW loop, over several steps with and without clipping, with weight decay,
 *    for a second clip on top of a pending one, and after bone_params_zero_grad drops one.
 * 2. bone_grad_norm (threaded, blocked) matches a double reference and is bit-identical for
 *    1, 2, 3 and 4 threads.
 * 3. bone_model_make_trainable leaves the copies equal to the file's tensors, drops the
 *    mapped pages from RSS (fp32 and bf16 bases), and the mapping still reads correctly.
 * usage: test_optim CONFIG_JSON (a config to shrink into a test model) */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/fs.h"
#include "core/rng.h"
#include "model/model.h"
#include "testutil.h"
#include "train/optim.h"

/* ---- the reference: the implementation before the fusion (scalar, in-place clip) ---- */

static double ref_norm(const bone_params *P) {
    double total = 0.0;
    for (int64_t k = 0; k < P->n; k++) {
        const float *g = P->grad + P->p[k].offset;
        double s = 0.0;
        for (int64_t i = 0; i < P->p[k].numel; i++) s += (double)g[i] * g[i];
        total += s;
    }
    return sqrt(total);
}

/* in-place clip with a given norm (the library's, so both sides use one coefficient) */
static void ref_clip(bone_params *P, double norm, double max_norm) {
    if (max_norm <= 0) return;
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        float c = (float)coef;
        for (int64_t i = 0; i < P->total; i++) P->grad[i] *= c;
    }
}

static void ref_adamw(bone_adamw *o, bone_params *P, double lr) {
    o->t++;
    const double bc1 = 1.0 - pow(o->beta1, (double)o->t), bc2 = 1.0 - pow(o->beta2, (double)o->t);
    const float b1 = (float)o->beta1, b2 = (float)o->beta2;
    const float step = (float)(lr / bc1), sbc2 = (float)sqrt(bc2), eps = (float)o->eps;
    const float decay = (float)(1.0 - lr * o->weight_decay);
    float *p = P->value, *g = P->grad, *m = P->m, *v = P->v;
    for (int64_t i = 0; i < P->total; i++) {
        p[i] *= decay;
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= step * m[i] / (sqrtf(v[i]) / sbc2 + eps);
    }
}

/* odd sizes: vector tails, tensors smaller than a vector, blocks of the norm straddled */
static void make_params(bone_params *P) {
    static const int64_t sizes[] = {1, 17, 100003, 40000, 3 * 16384 + 5, 64};
    char name[32];
    bone_params_init(P);
    for (int k = 0; k < (int)(sizeof sizes / sizeof *sizes); k++) {
        snprintf(name, sizeof name, "t%d", k);
        bone_params_add(P, name, 1, &sizes[k]);
    }
    bone_params_alloc(P);
    bone_rng r = bone_rng_seed(3, 1);
    for (int64_t k = 0; k < P->n; k++) {
        float *v = bone_params_value(P, k);
        for (int64_t i = 0; i < P->p[k].numel; i++) v[i] = (float)(bone_rng_normal(&r) * 0.05);
    }
}

/* fresh gradients of scale `scale` into both sets (through the zero_grad every step does) */
static void set_grads(bone_params *A, bone_params *B, bone_rng *r, double scale) {
    bone_params_zero_grad(A);
    bone_params_zero_grad(B);
    for (int64_t k = 0; k < A->n; k++) {
        float *ga = bone_params_grad(A, k), *gb = bone_params_grad(B, k);
        for (int64_t i = 0; i < A->p[k].numel; i++) ga[i] = gb[i] = (float)(bone_rng_normal(r) * scale);
    }
}

static int same_state(const bone_params *A, const bone_params *B) {
    size_t bytes = (size_t)A->total * sizeof(float);
    return !memcmp(A->value, B->value, bytes) && !memcmp(A->m, B->m, bytes) && !memcmp(A->v, B->v, bytes);
}

static void test_fused_step(void) {
    bone_params A, B; /* A: library, B: reference */
    make_params(&A);
    make_params(&B);
    bone_adamw oa = {3e-3, 0.9, 0.999, 1e-8, 0.01, 0}, ob = oa;
    bone_rng r = bone_rng_seed(4, 2);
    /* steps 0, 2, 4 clip (max_norm below the norm), 1 and 3 do not */
    for (int s = 0; s < 5; s++) {
        set_grads(&A, &B, &r, 0.01 * (s + 1));
        double want = ref_norm(&B);
        double max_norm = s % 2 ? 2.0 * want : 0.25 * want;
        double got = bone_clip_grad(&A, max_norm);
        CHECK(fabs(got - want) <= 1e-12 * want, "step %d: norm %.17g, reference %.17g", s, got, want);
        CHECK(A.clip_pending == (s % 2 == 0), "step %d: clip_pending %d", s, A.clip_pending);
        if (A.clip_pending)
            CHECK(fabs(bone_grad_norm(&A) - max_norm) <= 1e-6 * max_norm,
                     "step %d: the norm of the pending clipped gradient is %.9g, not %.9g", s, bone_grad_norm(&A),
                     max_norm);
        ref_clip(&B, got, max_norm);
        bone_adamw_step(&oa, &A, 1e-3 * (s + 1));
        ref_adamw(&ob, &B, 1e-3 * (s + 1));
        CHECK(!A.clip_pending, "step %d: AdamW left the clip pending", s);
        CHECK(same_state(&A, &B), "step %d: values or moments differ from clip-then-AdamW", s);
    }
    /* a second clip on top of a pending one is torch's two clip_grad_norm_ calls in a row */
    set_grads(&A, &B, &r, 0.05);
    double n1 = bone_clip_grad(&A, 0.5);
    ref_clip(&B, n1, 0.5);
    double n2 = bone_clip_grad(&A, 0.1), n2ref = bone_grad_norm(&B);
    CHECK(n2 == n2ref, "second clip: norm %.17g, of the clipped gradients %.17g", n2, n2ref);
    ref_clip(&B, n2, 0.1);
    bone_adamw_step(&oa, &A, 1e-3);
    ref_adamw(&ob, &B, 1e-3);
    CHECK(same_state(&A, &B), "two clips: values or moments differ");
    /* zero_grad drops a pending coefficient: the next step's gradients are not clipped */
    bone_clip_grad(&A, 1e-6);
    set_grads(&A, &B, &r, 0.02);
    CHECK(!A.clip_pending, "zero_grad kept a pending clip");
    bone_adamw_step(&oa, &A, 1e-3);
    ref_adamw(&ob, &B, 1e-3);
    CHECK(same_state(&A, &B), "after zero_grad: values or moments differ");
    bone_params_free(&A);
    bone_params_free(&B);
    printf("ok   fused clip + AdamW bit-identical to clip-then-AdamW (%d checks so far)\n", tu_checks);
}

static void test_norm_threads(void) {
    bone_params A;
    make_params(&A);
    bone_rng r = bone_rng_seed(5, 3);
    for (int64_t i = 0; i < A.total; i++) A.grad[i] = 0.0f;
    for (int64_t k = 0; k < A.n; k++) {
        float *g = bone_params_grad(&A, k);
        for (int64_t i = 0; i < A.p[k].numel; i++) g[i] = (float)(bone_rng_normal(&r) * (1 + k));
    }
    const int saved = omp_get_max_threads();
    double n[4];
    for (int t = 1; t <= 4; t++) {
        omp_set_num_threads(t);
        n[t - 1] = bone_grad_norm(&A);
    }
    omp_set_num_threads(saved);
    double want = ref_norm(&A);
    CHECK(fabs(n[0] - want) <= 1e-12 * want, "norm %.17g, reference %.17g", n[0], want);
    CHECK(n[0] == n[1] && n[0] == n[2] && n[0] == n[3], "norm depends on the thread count: %.17g %.17g %.17g %.17g",
             n[0], n[1], n[2], n[3]);
    bone_params_free(&A);
    printf("ok   gradient norm: reference within 1e-12, identical for 1-4 threads\n");
}

/* ---- full fine-tuning releases the mapped weights ---- */

static double rss_file_mib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "RssFile:", 8)) kb = strtod(line + 8, NULL);
    if (f) fclose(f);
    return kb / 1024.0;
}

static void test_release(const char *cfg_path, bone_dtype dtype) {
    bone_config c;
    bone_err e;
    BONE_ASSERT(bone_config_load(cfg_path, &c, &e) == 0, e.msg);
    c.n_layers = 2; /* small enough for a test, large enough to see in RSS (~55 MiB in fp32) */
    c.vocab = c.vocab < 8000 ? c.vocab : 8000;
    char dir[] = "/tmp/bone-optim.XXXXXX";
    BONE_ASSERT(mkdtemp(dir), "mkdtemp");
    BONE_ASSERT(bone_model_init_random(&c, dir, 7, dtype, &e) == 0, e.msg);
    const char *dn = dtype == BONE_F32 ? "f32" : "bf16";
    bone_model m;
    bone_params P;
    bone_params_init(&P);
    BONE_ASSERT(bone_model_load(dir, &m, &e) == 0, e.msg);
    double file_mib = (double)m.st.files[0].size / 1048576.0;
    double before = rss_file_mib();
    bone_model_make_trainable(&m, &P);
    double after = rss_file_mib();
    /* every weight was read; what stays are boundary pages and the norms' pages */
    CHECK(after - before < 0.1 * file_mib + 1.0,
             "%s: %.1f MiB of file pages stay resident after the copy (file %.1f MiB)", dn, after - before, file_mib);
    /* the copies equal the tensors, read back through the released mapping */
    int64_t bad = 0, checked = 0;
    for (int64_t k = 0; k < P.n; k++) {
        const bone_st_tensor *t = bone_st_find(&m.st, P.p[k].name);
        CHECK(t && t->numel == P.p[k].numel, "%s: %s missing from the file", dn, P.p[k].name);
        if (!t || t->numel != P.p[k].numel) continue;
        float *want = malloc((size_t)t->numel * sizeof(float));
        bone_to_f32(want, t->data, t->dtype, (size_t)t->numel);
        bad += memcmp(want, bone_params_value(&P, k), (size_t)t->numel * sizeof(float)) != 0;
        checked++;
        free(want);
    }
    CHECK(bad == 0 && checked == P.n, "%s: %lld of %lld copies differ from the file", dn, (long long)bad,
             (long long)checked);
    printf("ok   %s: file pages resident %+.1f MiB after make_trainable (file %.1f MiB); %lld copies equal\n", dn,
           after - before, file_mib, (long long)checked);
    bone_model_free(&m);
    bone_params_free(&P);
    char *p = bone_path_join(dir, "model.safetensors");
    unlink(p);
    free(p);
    p = bone_path_join(dir, "config.json");
    unlink(p);
    free(p);
    rmdir(dir);
}

int main(int argc, char **argv) {
    const char *cfg = argc > 1 ? argv[1] : "bench/configs/small.json";
    test_fused_step();
    test_norm_threads();
    test_release(cfg, BONE_F32);
    test_release(cfg, BONE_BF16);
    return tu_finish("test_optim");
}
