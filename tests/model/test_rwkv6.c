/* test_rwkv6.c — RWKV-6 against the float64 PyTorch oracle (tests/reference/rwkv6_ref.py):
 * for each case (head size 8 f32; head size 16 bf16 with an f32 time_decay and f16 time_faaaa), the
 * logits of every example, the loss and the gradient of every parameter under full
 * fine-tuning; the same gradients for --train-extra time,ln beside a (zero-start) bone-col
 * adapter; recomputation bit-identical to the stored layout; and the recurrent decoder
 * (prompt as one chunk, then token by token) against the batch forward's logits. The step
 * cases run at model-level WKV chunk lengths 32 (default) and 5, the full case also at 64
 * (--wkv-chunk).
 * usage: test_rwkv6 FIXTURE_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "adapter/adapter.h"
#include "core/fs.h"
#include "data/batch.h"
#include "model/model.h"
#include "model/step.h"
#include "testutil.h"

/* fp32 against float64 on tiny models: logits O(1); gradients with a floor scaled to the tensor */
#define LOGIT_ATOL 3e-5
#define LOGIT_RTOL 1e-4
#define GRAD_RTOL 2e-3

static double max_abs(const float *x, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

typedef struct {
    bone_dataset d;
    bone_batch b;
    bone_example **ex;
    int64_t total;
} data_t;

static int data_load(const char *dir, int64_t V, data_t *D) {
    bone_err e;
    bone_data_opts o = {0};
    char *dp = bone_path_join(dir, "data.jsonl");
    o.path = dp;
    o.vocab_size = V;
    int rc = bone_dataset_load_tokens(&o, &D->d, &e);
    free(dp);
    if (rc) {
        fprintf(stderr, "FAIL %s: %s\n", dir, e.msg);
        tu_failures++;
        return -1;
    }
    D->ex = malloc((size_t)D->d.n * sizeof *D->ex);
    for (int64_t i = 0; i < D->d.n; i++) D->ex[i] = &D->d.ex[i];
    memset(&D->b, 0, sizeof D->b);
    bone_batch_build(&D->b, D->ex, D->d.n);
    D->total = bone_batch_label_count(&D->b);
    return 0;
}

static void data_free(data_t *D) {
    free(D->ex);
    bone_batch_free(&D->b);
    bone_dataset_free(&D->d);
}

/* every gradient P holds against grad.<name> of the reference */
static void compare_grads(bone_params *P, int64_t from, bone_st_set *exp, const char *label) {
    for (int64_t k = from; k < P->n; k++) {
        char nm[512], what[600];
        snprintf(nm, sizeof nm, "grad.%s", P->p[k].name);
        int64_t n = 0;
        const float *ref = tu_ref(exp, nm, &n);
        if (!ref) continue;
        CHECK(n == P->p[k].numel, "%s: %s has %lld elements, ours %lld", label, nm, (long long)n, (long long)P->p[k].numel);
        if (n != P->p[k].numel) continue;
        snprintf(what, sizeof what, "%s %s", label, nm);
        tu_close(what, bone_params_grad(P, k), ref, n, GRAD_RTOL * max_abs(ref, n) + 1e-9, GRAD_RTOL, 1);
    }
}

static int open_exp(const char *dir, bone_st_set *exp) {
    bone_err e;
    char *xp = bone_path_join(dir, "expected.safetensors");
    bone_st_init(exp);
    int rc = bone_st_open_file(exp, xp, &e);
    free(xp);
    if (rc) {
        fprintf(stderr, "FAIL %s: %s\n", dir, e.msg);
        tu_failures++;
    }
    return rc;
}

/* loads dir with the model-level WKV chunk length (0: the default) */
static int load_model(const char *dir, int64_t chunk, bone_model *m, const char *label) {
    bone_err e;
    if (bone_model_load(dir, m, &e)) {
        fprintf(stderr, "FAIL %s: load: %s\n", label, e.msg);
        tu_failures++;
        return -1;
    }
    if (bone_model_set_wkv_chunk(m, chunk, &e)) {
        fprintf(stderr, "FAIL %s: --wkv-chunk %lld: %s\n", label, (long long)chunk, e.msg);
        tu_failures++;
        bone_model_free(m);
        return -1;
    }
    return 0;
}

enum { CMP_LOSS = 1, CMP_LOGITS = 2 };

/* One training step over the whole batch in acts a (grad scale 1/labels), then against the
 * oracle: the loss (CMP_LOSS), every example's logits (CMP_LOGITS) and the gradient of every
 * parameter of P from index `from`. Returns the step's status. */
static int step_compare(bone_model *m, bone_acts *a, bone_params *P, int64_t from, bone_st_set *exp, data_t *D,
                        int what_cmp, const char *label) {
    bone_err e;
    const int64_t V = m->cfg.vocab, T = D->b.T;
    float *logits = what_cmp & CMP_LOGITS ? malloc((size_t)(D->b.B * T * V) * sizeof(float)) : NULL;
    double ls;
    int64_t cnt;
    int rc = bone_model_step(m, a, &D->b, 1, 1.0f / (float)D->total, &ls, &cnt, logits, &e);
    CHECK(rc == 0, "%s: step failed: %s", label, rc ? e.msg : "");
    if (rc) {
        free(logits);
        return rc;
    }
    char what[512];
    if (what_cmp & CMP_LOGITS)
        CHECK(cnt == D->total, "%s: counted %lld label tokens of %lld", label, (long long)cnt, (long long)D->total);
    if (what_cmp & CMP_LOSS) {
        float loss = (float)(ls / (double)cnt);
        snprintf(what, sizeof what, "%s loss", label);
        const float *rl = tu_ref(exp, "loss", NULL);
        if (rl) tu_close(what, &loss, rl, 1, 1e-6, 1e-5, 1);
    }
    for (int64_t k = 0; logits && k < D->d.n; k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "logits.%lld", (long long)k);
        int64_t n = 0;
        const float *ref = tu_ref(exp, nm, &n);
        if (!ref) continue;
        snprintf(what, sizeof what, "%s %s", label, nm);
        tu_close(what, logits + k * T * V, ref, n, LOGIT_ATOL, LOGIT_RTOL, k == 0);
    }
    compare_grads(P, from, exp, label);
    free(logits);
    return 0;
}

/* full fine-tuning: loss, logits, every gradient; then recomputation gives the same bits */
static void full_case(const char *dir, int64_t chunk, const char *label) {
    bone_model m;
    bone_err e;
    if (load_model(dir, chunk, &m, label)) return;
    bone_params P;
    bone_params_init(&P);
    bone_model_make_trainable(&m, &P);
    bone_st_set exp;
    data_t D;
    if (open_exp(dir, &exp) == 0 && data_load(dir, m.cfg.vocab, &D) == 0) {
        bone_acts *a = bone_acts_new();
        step_compare(&m, a, &P, 0, &exp, &D, CMP_LOSS | CMP_LOGITS, label);
        /* recomputation: gradients bit-identical to the stored layout */
        const size_t nb = (size_t)P.total * sizeof(float);
        float *g1 = malloc(nb);
        memcpy(g1, P.grad, nb);
        bone_params_zero_grad(&P);
        bone_acts *a2 = bone_acts_new();
        bone_acts_set_recompute(a2, 1);
        double ls;
        int64_t cnt;
        int rc = bone_model_step(&m, a2, &D.b, 1, 1.0f / (float)D.total, &ls, &cnt, NULL, &e);
        CHECK(rc == 0 && !memcmp(g1, P.grad, nb), "%s: recomputation changed the gradients", label);
        printf("ok   %s recomputation: gradients bit-identical\n", label);
        free(g1);
        bone_acts_free(a2);
        bone_acts_free(a);
        data_free(&D);
    }
    bone_st_close(&exp);
    bone_params_free(&P);
    bone_model_free(&m);
}

/* --train-extra time,ln beside a bone-col adapter that starts at zero (W' = W): the extra
 * parameters' gradients are the full case's */
static void extra_case(const char *dir, int64_t chunk, const char *label) {
    bone_model m;
    bone_err e;
    if (load_model(dir, chunk, &m, label)) return;
    bone_params P;
    bone_params_init(&P);
    bone_adapter_spec s = {.method = "bone-col", .block = 8};
    int rc = bone_adapter_attach(&m, &s, &P, &e);
    int64_t nad = P.n;
    if (!rc) rc = bone_model_train_extra(&m, "time,ln", &P, &e);
    CHECK(rc == 0, "%s: attach/train-extra: %s", label, rc ? e.msg : "");
    if (rc) {
        bone_params_free(&P);
        bone_model_free(&m);
        return;
    }
    /* per layer 16 time/ln tensors of the 20 small ones (all but... none: every small tensor
     * has time or ln in its name) plus ln0 and ln_out weight and bias */
    CHECK(P.n - nad == 20 * m.cfg.n_layers + 4, "%s: --train-extra planned %lld tensors, expected %lld", label,
          (long long)(P.n - nad), (long long)(20 * m.cfg.n_layers + 4));
    bone_params_alloc(&P);
    rc = bone_adapter_init(&m, &P, &e);
    bone_model_extra_bind(&m, &P);
    bone_st_set exp;
    data_t D;
    if (rc == 0 && open_exp(dir, &exp) == 0 && data_load(dir, m.cfg.vocab, &D) == 0) {
        bone_acts *a = bone_acts_new();
        step_compare(&m, a, &P, nad, &exp, &D, 0, label); /* the extras (planned after the adapter's D) */
        bone_acts_free(a);
        data_free(&D);
        bone_st_close(&exp);
    }
    bone_params_free(&P);
    bone_model_free(&m);
}

/* a random non-zero adapter (bone-col b=8, lora r=4 alpha 8) on every block linear with every
 * time/ln tensor trainable beside it: loss and every trainable gradient against the oracle */
static void adapter_case(const char *root, const char *variant, int64_t chunk, const char *suffix) {
    char *dir = bone_path_join(root, "rwkv6_hs8_f32");
    char sub[128], label[200];
    snprintf(sub, sizeof sub, "rwkv6_adapter_%s", variant);
    snprintf(label, sizeof label, "%s +time,ln%s", sub, suffix);
    char *adir = bone_path_join(root, sub);
    bone_model m;
    bone_err e;
    bone_params P;
    bone_params_init(&P);
    bone_st_set exp;
    bone_st_init(&exp);
    data_t D;
    if (load_model(dir, chunk, &m, label)) goto done;
    bone_adapter_spec s = {.method = variant, .block = 8, .rank = 4, .alpha = 8};
    int rc = bone_adapter_attach(&m, &s, &P, &e);
    if (!rc) rc = bone_model_train_extra(&m, "time,ln", &P, &e);
    if (!rc) {
        bone_params_alloc(&P);
        rc = bone_adapter_init(&m, &P, &e);
        bone_model_extra_bind(&m, &P);
    }
    CHECK(rc == 0, "%s: setup: %s", label, rc ? e.msg : "");
    if (rc || open_exp(adir, &exp) || data_load(dir, m.cfg.vocab, &D)) goto free_model;
    int64_t nset = 0;
    for (int64_t k = 0; k < P.n; k++) { /* the oracle's adapter values */
        char nm[512];
        snprintf(nm, sizeof nm, "value.%s", P.p[k].name);
        const bone_st_tensor *t = bone_st_find(&exp, nm);
        if (!t) continue;
        CHECK(t->numel == P.p[k].numel, "%s: %s size", label, nm);
        if (t->numel == P.p[k].numel) memcpy(bone_params_value(&P, k), t->data, (size_t)t->numel * sizeof(float)), nset++;
    }
    CHECK(nset == 8 * m.cfg.n_layers * (strcmp(variant, "lora") ? 1 : 2), "%s: %lld adapter tensors set", label,
          (long long)nset);
    bone_acts *a = bone_acts_new();
    step_compare(&m, a, &P, 0, &exp, &D, CMP_LOSS, label);
    bone_acts_free(a);
    data_free(&D);
free_model:
    bone_st_close(&exp);
    bone_params_free(&P);
    bone_model_free(&m);
done:
    free(dir);
    free(adir);
}

/* the recurrent decoder: example 0 as a prompt chunk of 5, then one token at a time; the
 * logits after each equal the batch forward's at that position (so the state after a prompt
 * is the chunked forward's) */
static void decode_case(const char *dir, const char *label) {
    bone_model m;
    bone_err e;
    if (load_model(dir, 0, &m, label)) return;
    bone_st_set exp;
    data_t D;
    if (open_exp(dir, &exp) == 0 && data_load(dir, m.cfg.vocab, &D) == 0) {
        const int64_t V = m.cfg.vocab, n = D.d.ex[0].n;
        const int32_t *ids = D.d.ex[0].ids;
        int64_t nr = 0;
        const float *ref = tu_ref(&exp, "logits.0", &nr);
        bone_kv kv;
        bone_kv_init(&kv, &m, n);
        CHECK(kv.k == NULL && kv.state != NULL, "%s: decode state is not the recurrent one", label);
        float *lg = malloc((size_t)V * sizeof(float));
        int ok = 1;
        char what[256];
        int rc = bone_model_decode(&m, &kv, ids, 5, lg, &e);
        CHECK(rc == 0, "%s: decode failed", label);
        snprintf(what, sizeof what, "%s decode after a 5-token prompt", label);
        if (ref) ok &= tu_close(what, lg, ref + 4 * V, V, LOGIT_ATOL, LOGIT_RTOL, 1);
        for (int64_t t = 5; t < n && ref && rc == 0; t++) {
            rc = bone_model_decode(&m, &kv, ids + t, 1, lg, &e);
            snprintf(what, sizeof what, "%s decode position %lld", label, (long long)t);
            ok &= tu_close(what, lg, ref + t * V, V, LOGIT_ATOL, LOGIT_RTOL, 0);
        }
        if (ok) printf("ok   %s decode: every position of example 0 (%lld tokens)\n", label, (long long)n);
        free(lg);
        bone_kv_free(&kv);
        data_free(&D);
        bone_st_close(&exp);
    }
    bone_model_free(&m);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_rwkv6 FIXTURE_DIR\n");
        return 2;
    }
    /* model-level WKV chunk lengths (--wkv-chunk): the default 32, and 5 and 64; the longest
     * example has T = 41 tokens, which none of them divides (64 > T: one partial chunk, run
     * for the full case only to keep the test short) */
    const int64_t chunks[] = {0, 5, 64};
    const char *cases[] = {"rwkv6_hs8_f32", "rwkv6_hs16_bf16"};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        char suffix[48] = "";
        if (chunks[c]) snprintf(suffix, sizeof suffix, " chunk %lld", (long long)chunks[c]);
        for (int i = 0; i < 2; i++) {
            char *dir = bone_path_join(argv[1], cases[i]);
            char lab[160];
            snprintf(lab, sizeof lab, "%s%s", cases[i], suffix);
            full_case(dir, chunks[c], lab);
            if (chunks[c] < 64) {
                snprintf(lab, sizeof lab, "%s extra%s", cases[i], suffix);
                extra_case(dir, chunks[c], lab);
            }
            if (!chunks[c]) decode_case(dir, cases[i]); /* the sequential scan: no chunks */
            free(dir);
        }
        if (chunks[c] >= 64) continue;
        adapter_case(argv[1], "bone-col", chunks[c], suffix);
        adapter_case(argv[1], "lora", chunks[c], suffix);
    }
    return tu_finish("test_rwkv6");
}
