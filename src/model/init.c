/* init.c — a randomly initialised model in HF layout (bone init): Linear and embedding
 * weights ~ normal(0, initializer_range) as HF's _init_weights, norms 1, biases 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"
#include "core/rng.h"
#include "model/arch.h"
#include "model/model.h"
#include "train/memplan.h"

/* Elements of every tensor init writes (all are held in fp32 at once until the file is
 * written). Fits easily: config.c bounds each size, so this stays below 2^56. */
static double init_floats(const bone_config *c) {
    double H = (double)c->hidden, V = (double)c->vocab, per_layer = 2 * H;
    for (int p = 0; p < BONE_NPROJ; p++) {
        int64_t O, I;
        bone_proj_shape(c, p, &O, &I);
        per_layer += (double)O * (double)I + (bone_proj_has_bias(c, p) ? (double)O : 0);
    }
    return V * H * (c->tied ? 1 : 2) + H + (double)c->n_layers * per_layer;
}

int bone_model_init_random(const bone_config *c, const char *dir, uint64_t seed, bone_dtype dtype, bone_err *e) {
    const bone_arch_i *ai = bone_arch_cfg(c);
    if (ai->init_random) return ai->init_random(c, dir, seed, dtype, e);
    /* before anything is created: a model that cannot fit fails here, not in malloc after
     * making an empty directory */
    double need = init_floats(c) * sizeof(float), avail = bone_mem_available();
    if (avail > 0 && need > avail)
        return bone_fail(e, "%s: this model has %.4g parameters and needs %.1f GiB of memory to initialise (fp32), "
                            "but %.1f GiB is available", dir, init_floats(c), need / 1073741824.0,
                         avail / 1073741824.0);
    if (bone_mkdirs(dir, e)) return -1;
    int64_t H = c->hidden, V = c->vocab, L = c->n_layers;
    int64_t cap = 4 + L * 16;
    bone_st_wtensor *w = xcalloc((size_t)cap, sizeof *w);
    char **names = xcalloc((size_t)cap, sizeof *names);
    float **bufs = xcalloc((size_t)cap, sizeof *bufs);
    int64_t n = 0;
    /* every tensor draws from its own stream (seed, index): adding tensors later does not
     * change the values of earlier ones */
#define ADD(nm, d0, d1, kind)                                                                        \
    do {                                                                                             \
        int64_t cnt = (d0) * ((d1) ? (d1) : 1);                                                      \
        float *b = xmalloc((size_t)cnt * sizeof(float));                                             \
        bone_rng r = bone_rng_seed(seed, (uint64_t)n);                                               \
        for (int64_t i = 0; i < cnt; i++)                                                            \
            b[i] = (kind) == 0 ? (float)(c->init_range * bone_rng_normal(&r)) : (kind) == 1 ? 1.0f : 0.0f; \
        names[n] = xstrdup(nm);                                                                      \
        bufs[n] = b;                                                                                 \
        w[n].name = names[n];                                                                        \
        w[n].dtype = dtype;                                                                          \
        w[n].ndim = (d1) ? 2 : 1;                                                                    \
        w[n].shape[0] = (d0);                                                                        \
        w[n].shape[1] = (d1);                                                                        \
        w[n].src_f32 = b;                                                                            \
        n++;                                                                                         \
    } while (0)
    char nm[256];
    ADD("model.embed_tokens.weight", V, H, 0);
    if (c->pad >= 0 && c->pad < V) memset(bufs[0] + c->pad * H, 0, (size_t)H * sizeof(float));
    if (!c->tied) ADD("lm_head.weight", V, H, 0);
    ADD("model.norm.weight", H, 0, 1);
    static const char *const parent[] = {"self_attn", "self_attn", "self_attn", "self_attn", "mlp", "mlp", "mlp"};
    for (int64_t l = 0; l < L; l++) {
        snprintf(nm, sizeof nm, "model.layers.%lld.input_layernorm.weight", (long long)l);
        ADD(nm, H, 0, 1);
        snprintf(nm, sizeof nm, "model.layers.%lld.post_attention_layernorm.weight", (long long)l);
        ADD(nm, H, 0, 1);
        for (int p = 0; p < BONE_NPROJ; p++) {
            int64_t O, I;
            bone_proj_shape(c, p, &O, &I);
            snprintf(nm, sizeof nm, "model.layers.%lld.%s.%s.weight", (long long)l, parent[p], bone_proj_names[p]);
            ADD(nm, O, I, 0);
            if (bone_proj_has_bias(c, p)) {
                snprintf(nm, sizeof nm, "model.layers.%lld.%s.%s.bias", (long long)l, parent[p], bone_proj_names[p]);
                ADD(nm, O, 0, 2);
            }
        }
    }
#undef ADD
    char *p = bone_path_join(dir, "model.safetensors");
    int rc = bone_st_write(p, w, n, e);
    free(p);
    if (!rc) {
        bone_config cc = *c;
        cc.dtype = dtype;
        p = bone_path_join(dir, "config.json");
        rc = bone_config_save(&cc, p, e);
        free(p);
    }
    for (int64_t i = 0; i < n; i++) {
        free(names[i]);
        free(bufs[i]);
    }
    free(names);
    free(bufs);
    free(w);
    return rc;
}
