/* test_recompute.c — activation recomputation (bone_acts_set_recompute) gives bit-identical
 * losses and gradients to keeping every layer's activations: full fine-tuning, bone-col,
 * and LoRA with dropout (its mask must be regenerated identically), on the tiny config with
 * ragged sequence lengths. Also checks that a bone_acts can switch layouts between steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "adapter/adapter.h"
#include "core/rng.h"
#include "data/batch.h"
#include "model/model.h"
#include "model/step.h"
#include "testutil.h"

static void grads(bone_model *m, bone_params *P, bone_acts *a, const bone_batch *b, float *out, double *loss) {
    int64_t cnt;
    bone_err e;
    bone_params_zero_grad(P);
    m->lin.step = 3;
    CHECK(bone_model_step(m, a, b, 1, 0.01f, loss, &cnt, NULL, &e) == 0, "step: %s", e.msg);
    memcpy(out, P->grad, (size_t)P->total * sizeof(float));
}

int main(int argc, char **argv) {
    const char *cfg_path = argc > 1 ? argv[1] : "configs/tiny-llama.json";
    char dir[] = "/tmp/bone-recompute.XXXXXX";
    BONE_ASSERT(mkdtemp(dir), "mkdtemp");
    bone_config c;
    bone_err e;
    BONE_ASSERT(bone_config_load(cfg_path, &c, &e) == 0, e.msg);
    BONE_ASSERT(bone_model_init_random(&c, dir, 5, BONE_F32, &e) == 0, e.msg);
    /* two sequences, the second shorter (right padding) */
    bone_example ex[2];
    bone_rng r = bone_rng_seed(11, 0);
    for (int i = 0; i < 2; i++) {
        ex[i].n = i ? 21 : 32;
        ex[i].ids = malloc((size_t)ex[i].n * sizeof(int32_t));
        ex[i].labels = malloc((size_t)ex[i].n * sizeof(int32_t));
        for (int64_t t = 0; t < ex[i].n; t++) ex[i].ids[t] = ex[i].labels[t] = (int32_t)(bone_rng_u64(&r) % (uint64_t)c.vocab);
    }
    bone_example *exs[2] = {&ex[0], &ex[1]};
    bone_batch b = {0};
    bone_batch_build(&b, exs, 2);
    const char *methods[] = {"full", "bone-col", "lora"};
    for (int k = 0; k < 3; k++) {
        bone_model m;
        bone_params P;
        bone_params_init(&P);
        BONE_ASSERT(bone_model_load(dir, &m, &e) == 0, e.msg);
        if (k == 0) {
            bone_model_make_trainable(&m, &P);
        } else {
            bone_adapter_spec s = {0};
            s.method = methods[k];
            s.block = 16;
            s.grid_r = s.grid_c = 1;
            s.rank = 4;
            s.dropout = k == 2 ? 0.25 : 0.0;
            s.seed = 9;
            BONE_ASSERT(bone_adapter_attach(&m, &s, &P, &e) == 0, e.msg);
            bone_params_alloc(&P);
            BONE_ASSERT(bone_adapter_init(&m, &P, &e) == 0, e.msg);
            /* non-zero adapters so every path carries signal */
            for (int64_t i = 0; i < P.total; i++) P.value[i] = 0.02f * (float)((i * 7919) % 13 - 6);
        }
        float *g0 = malloc((size_t)P.total * sizeof(float)), *g1 = malloc((size_t)P.total * sizeof(float));
        float *g2 = malloc((size_t)P.total * sizeof(float));
        double l0, l1, l2;
        bone_acts *a = bone_acts_new(), *ar = bone_acts_new();
        bone_acts_set_recompute(ar, 1);
        grads(&m, &P, a, &b, g0, &l0);
        grads(&m, &P, ar, &b, g1, &l1);
        bone_acts_set_recompute(a, 1); /* same acts object, new layout */
        grads(&m, &P, a, &b, g2, &l2);
        CHECK(l0 == l1 && l0 == l2, "%s: losses %.17g %.17g %.17g", methods[k], l0, l1, l2);
        CHECK(memcmp(g0, g1, (size_t)P.total * sizeof(float)) == 0, "%s: recomputed gradients differ", methods[k]);
        CHECK(memcmp(g0, g2, (size_t)P.total * sizeof(float)) == 0, "%s: gradients differ after a layout switch",
                 methods[k]);
        double gn = 0.0;
        for (int64_t i = 0; i < P.total; i++) gn += (double)g0[i] * g0[i];
        CHECK(gn > 0.0, "%s: zero gradient (the check would be vacuous)", methods[k]);
        printf("%-9s loss %.6f, %lld gradient elements identical with recomputation\n", methods[k], l0 / 1.0,
               (long long)P.total);
        bone_acts_free(a);
        bone_acts_free(ar);
        free(g0), free(g1), free(g2);
        bone_params_free(&P);
        bone_model_free(&m);
    }
    bone_batch_free(&b);
    for (int i = 0; i < 2; i++) free(ex[i].ids), free(ex[i].labels);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    if (tu_failures) fprintf(stderr, "%d of %d checks failed\n", tu_failures, tu_checks);
    else printf("all %d recompute checks passed\n", tu_checks);
    return tu_failures ? 1 : 0;
}
