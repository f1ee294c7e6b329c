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

/* One tensor of a random model: how its values are drawn. */
typedef struct {
    const bone_config *c;
    uint64_t seed, stream;  /* every tensor draws from its own stream (seed, stream) */
    int kind;               /* 0: normal(0, init_range), 1: ones, 2: zeros */
    int64_t zero_row;       /* a row set to 0 after drawing (the embedding's pad), or -1 */
    int64_t order;          /* position in transformers' state-dict order (decides the shards) */
} init_src;

/* bone_st_produce_fn: draws one tensor when the writer reaches it */
static int init_produce(void *ctx, const bone_st_wtensor *t, float *b, bone_err *e) {
    (void)e;
    const init_src *s = ctx;
    const int64_t cnt = t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1);
    bone_rng r = bone_rng_seed(s->seed, s->stream);
    for (int64_t i = 0; i < cnt; i++)
        b[i] = s->kind == 0 ? (float)(s->c->init_range * bone_rng_normal(&r)) : s->kind == 1 ? 1.0f : 0.0f;
    if (s->zero_row >= 0) memset(b + s->zero_row * t->shape[1], 0, (size_t)t->shape[1] * sizeof(float));
    return 0;
}

static int by_order(const void *a, const void *b) {
    const init_src *x = ((const bone_st_wtensor *)a)->ctx, *y = ((const bone_st_wtensor *)b)->ctx;
    return (x->order > y->order) - (x->order < y->order);
}

int bone_model_init_random(const bone_config *c, const char *dir, uint64_t seed, bone_dtype dtype, bone_err *e) {
    return bone_model_init_random_opts(c, dir, seed, dtype, 0, e);
}

int bone_model_init_random_opts(const bone_config *c, const char *dir, uint64_t seed, bone_dtype dtype,
                                uint64_t max_shard, bone_err *e) {
    const bone_arch_i *ai = bone_arch_cfg(c);
    if (ai->init_random) return ai->init_random(c, dir, seed, dtype, e); /* its own writer (not sharded) */
    int64_t H = c->hidden, V = c->vocab, L = c->n_layers;
    /* before anything is created: a model whose largest tensor cannot be held, or whose
     * files cannot fit on the disk, fails here, not in malloc after minutes of writing */
    double big = (double)V * (double)H, total = (double)V * (double)H * (c->tied ? 1 : 2) + H;
    for (int p = 0; p < BONE_NPROJ; p++) {
        int64_t O, I;
        bone_proj_shape(c, p, &O, &I);
        if ((double)O * (double)I > big) big = (double)O * (double)I;
        total += (double)L * ((double)O * (double)I + (bone_proj_has_bias(c, p) ? (double)O : 0));
    }
    total += 2.0 * (double)L * (double)H;
    double need = big * sizeof(float), avail = bone_mem_available();
    if (avail > 0 && need > avail)
        return bone_fail(e, "%s: this model has %.4g parameters; its largest tensor needs %.1f GiB of memory to "
                            "initialise (fp32), but %.1f GiB is available", dir, total, need / 1073741824.0,
                         avail / 1073741824.0);
    const int64_t cap = 4 + L * 16;
    bone_st_wtensor *w = xcalloc((size_t)cap, sizeof *w);
    init_src *src = xcalloc((size_t)cap, sizeof *src);
    char **names = xcalloc((size_t)cap, sizeof *names);
    int64_t n = 0;
    /* streams are numbered in this (historical) order, so that a seed gives the same values
     * as before and adding tensors later does not change earlier ones; `order` is their place
     * in transformers' state dict: embed, then per layer the projections (weight, bias) and
     * the two norms, the final norm, lm_head */
#define ADD(nm, d0, d1, kind_, ord)                                                                  \
    do {                                                                                             \
        names[n] = xstrdup(nm);                                                                      \
        src[n] = (init_src){c, seed, (uint64_t)n, (kind_), -1, (ord)};                               \
        w[n].name = names[n];                                                                        \
        w[n].dtype = dtype;                                                                          \
        w[n].ndim = (d1) ? 2 : 1;                                                                    \
        w[n].shape[0] = (d0);                                                                        \
        w[n].shape[1] = (d1);                                                                        \
        w[n].produce = init_produce;                                                                 \
        w[n].ctx = &src[n];                                                                          \
        n++;                                                                                         \
    } while (0)
    char nm[256];
    const int64_t per = 2 * BONE_NPROJ + 2, last = 1 + L * per;
    ADD("model.embed_tokens.weight", V, H, 0, 0);
    if (c->pad >= 0 && c->pad < V) src[0].zero_row = c->pad;
    if (!c->tied) ADD("lm_head.weight", V, H, 0, last + 1);
    ADD("model.norm.weight", H, 0, 1, last);
    static const char *const parent[] = {"self_attn", "self_attn", "self_attn", "self_attn", "mlp", "mlp", "mlp"};
    for (int64_t l = 0; l < L; l++) {
        const int64_t o = 1 + l * per;
        snprintf(nm, sizeof nm, "model.layers.%lld.input_layernorm.weight", (long long)l);
        ADD(nm, H, 0, 1, o + 2 * BONE_NPROJ);
        snprintf(nm, sizeof nm, "model.layers.%lld.post_attention_layernorm.weight", (long long)l);
        ADD(nm, H, 0, 1, o + 2 * BONE_NPROJ + 1);
        for (int p = 0; p < BONE_NPROJ; p++) {
            int64_t O, I;
            bone_proj_shape(c, p, &O, &I);
            snprintf(nm, sizeof nm, "model.layers.%lld.%s.%s.weight", (long long)l, parent[p], bone_proj_names[p]);
            ADD(nm, O, I, 0, o + 2 * p);
            if (bone_proj_has_bias(c, p)) {
                snprintf(nm, sizeof nm, "model.layers.%lld.%s.%s.bias", (long long)l, parent[p], bone_proj_names[p]);
                ADD(nm, O, 0, 2, o + 2 * p + 1);
            }
        }
    }
#undef ADD
    qsort(w, (size_t)n, sizeof *w, by_order);
    bone_adir ad;
    int rc = bone_adir_open(&ad, dir, e);
    if (!rc) {
        rc = bone_st_write_sharded(ad.tmp, w, n, max_shard, NULL, e);
        if (!rc) {
            bone_config cc = *c;
            cc.dtype = dtype;
            char *p = bone_path_join(ad.tmp, "config.json");
            rc = bone_config_save(&cc, p, e);
            free(p);
        }
        if (!rc) rc = bone_adir_commit(&ad, e);
        else bone_adir_abort(&ad);
    }
    for (int64_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(src);
    free(w);
    return rc;
}
