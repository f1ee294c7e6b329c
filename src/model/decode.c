/* decode.c — incremental forward with a KV cache, for generation.
 *
 * bone_model_decode() runs n new tokens at positions kv->n .. kv->n+n-1 through the model,
 * appends their keys and values to the cache and returns the logits of the last one.
 * Projections still go through linear_forward, so an unmerged adapter generates exactly
 * as its merged model would. Attention here is plain loops: per new token and head it is
 * O(positions·d), small next to the projections. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/arch.h"
#include "model/model.h"
#include "ops/ops.h"

void bone_kv_init(bone_kv *kv, const bone_model *m, int64_t cap) {
    const bone_arch_i *ai = bone_arch_cfg(&m->cfg);
    if (ai->state_init) {
        ai->state_init(kv, m, cap);
        return;
    }
    const bone_config *c = &m->cfg;
    memset(kv, 0, sizeof *kv);
    kv->cap = cap;
    kv->kd = c->n_kv * c->head_dim;
    size_t n = (size_t)(c->n_layers * cap * kv->kd);
    kv->k = xmalloc(n * sizeof(float));
    kv->v = xmalloc(n * sizeof(float));
    rope_build(&kv->rope, c, cap);
}

void bone_kv_free(bone_kv *kv) {
    free(kv->k);
    free(kv->v);
    free(kv->state);
    rope_free(&kv->rope);
    memset(kv, 0, sizeof *kv);
}

int bone_model_decode(bone_model *m, bone_kv *kv, const int32_t *ids, int64_t n, float *logits, bone_err *e) {
    const bone_arch_i *ai = bone_arch_cfg(&m->cfg);
    if (ai->decode) return ai->decode(m, kv, ids, n, logits, e);
    const bone_config *c = &m->cfg;
    const int64_t H = c->hidden, F = c->inter, V = c->vocab, L = c->n_layers;
    const int64_t nh = c->n_heads, nkv = c->n_kv, d = c->head_dim, qd = nh * d, kd = kv->kd, group = nh / nkv;
    const int64_t p0 = kv->n;
    if (p0 + n > kv->cap)
        return bone_fail(e, "generation needs %lld positions but the cache holds %lld (max_position_embeddings %lld)",
                         (long long)(p0 + n), (long long)kv->cap, (long long)c->max_pos);
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return bone_fail(e, "token id %d is outside the vocabulary [0, %lld)", ids[i], (long long)V);
    /* scratch for n tokens */
    float *x = xmalloc((size_t)(n * H) * sizeof(float));   // (n, H) residual
    float *xn = xmalloc((size_t)(n * H) * sizeof(float));  // (n, H)
    float *rs = xmalloc((size_t)n * sizeof(float));        // (n)
    float *q = xmalloc((size_t)(n * qd) * sizeof(float));  // (n, qd)
    float *kn = xmalloc((size_t)(n * kd) * sizeof(float)); // (n, kd)
    float *vn = xmalloc((size_t)(n * kd) * sizeof(float)); // (n, kd)
    float *att = xmalloc((size_t)(n * qd) * sizeof(float));
    float *tmp = xmalloc((size_t)(n * (H > F ? H : F)) * sizeof(float));
    float *g = xmalloc((size_t)(n * F) * sizeof(float));
    float *u = xmalloc((size_t)(n * F) * sizeof(float));
    float *sc = xmalloc((size_t)(p0 + n) * sizeof(float)); // scores of one (token, head)
    bone_lin_ctx *lc = &m->lin;
    lc->training = 0;
    embedding_forward(x, m->embed, ids, n, H);
    for (int64_t l = 0; l < L; l++) {
        bone_layer *ly = &m->layers[l];
        float *Kc = kv->k + l * kv->cap * kd, *Vc = kv->v + l * kv->cap * kd; // (cap, kd)
        rmsnorm_forward(xn, rs, x, ly->ln1, n, H, (float)c->eps);
        linear_forward(lc, &ly->proj[BONE_Q], xn, q, n);
        linear_forward(lc, &ly->proj[BONE_K], xn, kn, n);
        linear_forward(lc, &ly->proj[BONE_V], xn, vn, n);
        /* RoPE at absolute positions p0 + i: rotate each token as a length-1 "batch" */
        for (int64_t i = 0; i < n; i++) {
            bone_rope one = {1, kv->rope.half, kv->rope.cos + (p0 + i) * kv->rope.half,
                             kv->rope.sin + (p0 + i) * kv->rope.half};
            rope_forward(q + i * qd, &one, 1, 1, nh, d);
            rope_forward(kn + i * kd, &one, 1, 1, nkv, d);
        }
        memcpy(Kc + p0 * kd, kn, (size_t)(n * kd) * sizeof(float));
        memcpy(Vc + p0 * kd, vn, (size_t)(n * kd) * sizeof(float));
        const float scale = 1.0f / sqrtf((float)d);
        for (int64_t i = 0; i < n; i++) {
            int64_t P = p0 + i + 1; /* causal: positions 0 .. p0+i */
            for (int64_t h = 0; h < nh; h++) {
                int64_t kh = h / group;
                attention_cached_head(att + i * qd + h * d, q + i * qd + h * d, Kc + kh * d, Vc + kh * d, P, kd, d,
                                      scale, sc);
            }
        }
        linear_forward(lc, &ly->proj[BONE_O], att, tmp, n);
        for (int64_t i = 0; i < n * H; i++) x[i] += tmp[i];
        rmsnorm_forward(xn, rs, x, ly->ln2, n, H, (float)c->eps);
        linear_forward(lc, &ly->proj[BONE_GATE], xn, g, n);
        linear_forward(lc, &ly->proj[BONE_UP], xn, u, n);
        swiglu_forward(g, g, u, n * F);
        linear_forward(lc, &ly->proj[BONE_DOWN], g, tmp, n);
        for (int64_t i = 0; i < n * H; i++) x[i] += tmp[i];
    }
    kv->n = p0 + n;
    /* logits of the last token only */
    rmsnorm_forward(xn, rs, x + (n - 1) * H, m->norm, 1, H, (float)c->eps);
    /* the head in its stored dtype: a 16-bit head is read in place, never converted whole */
    bone_matmul_w(bone_lin_backend(lc), 'T', 1, V, H, 1.0f, xn, H, m->lm_head, H, NULL, 0.0f, logits, V);
    free(x); free(xn); free(rs); free(q); free(kn); free(vn); free(att); free(tmp); free(g); free(u); free(sc);
    return 0;
}
