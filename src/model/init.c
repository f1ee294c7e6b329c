/* init.c — a randomly initialised model in HF layout (bone init) for every family: the family
 * lists its tensors and draws each (arch.h init_walk/init_draw) as the sharded writer reaches
 * it. Llama's rule is here: Linear and embedding weights ~ normal(0, initializer_range) as HF's
 * _init_weights, norms 1, biases 0 (RWKV-6's is rwkv6.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"
#include "core/rng.h"
#include "model/arch.h"
#include "model/model.h"
#include "train/memplan.h"

/* Llama's random tensors: kind 0 normal(0, init_range), 1 ones, 2 zeros; aux is a row set to
 * 0 after drawing (the embedding's pad), or -1 */
static void llama_init_draw(const bone_config *c, const bone_arch_tensor *t, uint64_t seed, float *b) {
    const int64_t cnt = t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1);
    bone_rng r = bone_rng_seed(seed, t->stream);
    for (int64_t i = 0; i < cnt; i++)
        b[i] = t->kind == 0 ? (float)(c->init_range * bone_rng_normal(&r)) : t->kind == 1 ? 1.0f : 0.0f;
    if (t->aux >= 0) memset(b + t->aux * t->shape[1], 0, (size_t)t->shape[1] * sizeof(float));
}

typedef struct { bone_arch_tensor t; int64_t order; } ordered;

static int by_order(const void *a, const void *b) {
    const ordered *x = a, *y = b;
    return (x->order > y->order) - (x->order < y->order);
}

/* Streams are numbered in this (historical) order, so that a seed gives the same values as
 * before and adding tensors later does not change earlier ones; the list is then sorted into
 * transformers' state dict: embed, then per layer the projections (weight, bias) and the two
 * norms, the final norm, lm_head */
static int64_t llama_init_walk(const bone_config *c, bone_arch_tensor *out) {
    const int64_t H = c->hidden, V = c->vocab, L = c->n_layers;
    int64_t cnt = 2 + (c->tied ? 0 : 1) + 2 * L;
    for (int p = 0; p < BONE_NPROJ; p++) cnt += L * (1 + bone_proj_has_bias(c, p));
    if (!out) return cnt;
    ordered *x = xcalloc((size_t)cnt, sizeof *x);
    int64_t n = 0;
#define ADD(d0, d1, kind_, ord, ...)                                                                 \
    do {                                                                                             \
        bone_arch_tensor *t_ = &x[n].t;                                                              \
        snprintf(t_->name, sizeof t_->name, __VA_ARGS__);                                            \
        t_->ndim = (d1) ? 2 : 1;                                                                     \
        t_->shape[0] = (d0);                                                                         \
        t_->shape[1] = (d1);                                                                         \
        t_->stream = (uint64_t)n;                                                                    \
        t_->kind = (kind_);                                                                          \
        t_->aux = -1;                                                                                \
        x[n].order = (ord);                                                                          \
        n++;                                                                                         \
    } while (0)
    const int64_t per = 2 * BONE_NPROJ + 2, last = 1 + L * per;
    ADD(V, H, 0, 0, "model.embed_tokens.weight");
    if (c->pad >= 0 && c->pad < V) x[0].t.aux = c->pad;
    if (!c->tied) ADD(V, H, 0, last + 1, "lm_head.weight");
    ADD(H, 0, 1, last, "model.norm.weight");
    static const char *const parent[] = {"self_attn", "self_attn", "self_attn", "self_attn", "mlp", "mlp", "mlp"};
    for (int64_t l = 0; l < L; l++) {
        const int64_t o = 1 + l * per;
        ADD(H, 0, 1, o + 2 * BONE_NPROJ, "model.layers.%lld.input_layernorm.weight", (long long)l);
        ADD(H, 0, 1, o + 2 * BONE_NPROJ + 1, "model.layers.%lld.post_attention_layernorm.weight", (long long)l);
        for (int p = 0; p < BONE_NPROJ; p++) {
            int64_t O, I;
            bone_proj_shape(c, p, &O, &I);
            ADD(O, I, 0, o + 2 * p, "model.layers.%lld.%s.%s.weight", (long long)l, parent[p], bone_proj_names[p]);
            if (bone_proj_has_bias(c, p))
                ADD(O, 0, 2, o + 2 * p + 1, "model.layers.%lld.%s.%s.bias", (long long)l, parent[p], bone_proj_names[p]);
        }
    }
#undef ADD
    qsort(x, (size_t)n, sizeof *x, by_order);
    for (int64_t i = 0; i < n; i++) out[i] = x[i].t;
    free(x);
    return n;
}

/* one tensor of a random model, drawn when the writer reaches it */
typedef struct {
    const bone_config *c;
    const bone_arch_tensor *t;
    uint64_t seed;
    void (*draw)(const bone_config *c, const bone_arch_tensor *t, uint64_t seed, float *x);
} init_src;

/* bone_st_produce_fn */
static int init_produce(void *ctx, const bone_st_wtensor *t, float *b, bone_err *e) {
    (void)t, (void)e;
    const init_src *s = ctx;
    s->draw(s->c, s->t, s->seed, b);
    return 0;
}

int bone_model_init_random(const bone_config *c, const char *dir, uint64_t seed, bone_dtype dtype, bone_err *e) {
    return bone_model_init_random_opts(c, dir, seed, dtype, 0, e);
}

/* Every family's init goes through here: the family lists its tensors (arch.h init_walk) and
 * draws each (init_draw) only when the sharded writer reaches it. */
int bone_model_init_random_opts(const bone_config *c, const char *dir, uint64_t seed, bone_dtype dtype,
                                uint64_t max_shard, bone_err *e) {
    const bone_arch_i *ai = bone_arch_cfg(c);
    int64_t (*walk)(const bone_config *, bone_arch_tensor *) = ai->init_walk ? ai->init_walk : llama_init_walk;
    const int64_t n = walk(c, NULL);
    bone_arch_tensor *at = xcalloc((size_t)n + 1, sizeof *at);
    walk(c, at);
    /* before anything is created: a model whose largest tensor cannot be held, or whose
     * files cannot fit on the disk, fails here, not in malloc after minutes of writing */
    double big = 0, total = 0;
    for (int64_t i = 0; i < n; i++) {
        double k = 1;
        for (int d = 0; d < at[i].ndim; d++) k *= (double)at[i].shape[d];
        big = k > big ? k : big;
        total += k;
    }
    double need = big * sizeof(float), avail = bone_mem_available();
    if (avail > 0 && need > avail) {
        free(at);
        return bone_fail(e, "%s: this model has %.4g parameters; its largest tensor needs %.1f GiB of memory to "
                            "initialise (fp32), but %.1f GiB is available", dir, total, need / 1073741824.0,
                         avail / 1073741824.0);
    }
    bone_st_wtensor *w = xcalloc((size_t)n + 1, sizeof *w);
    init_src *src = xcalloc((size_t)n + 1, sizeof *src);
    for (int64_t i = 0; i < n; i++) {
        src[i] = (init_src){c, &at[i], seed, ai->init_draw ? ai->init_draw : llama_init_draw};
        w[i].name = at[i].name;
        w[i].dtype = dtype;
        w[i].ndim = at[i].ndim;
        memcpy(w[i].shape, at[i].shape, sizeof at[i].shape);
        w[i].produce = init_produce;
        w[i].ctx = &src[i];
    }
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
    free(src);
    free(w);
    free(at);
    return rc;
}
