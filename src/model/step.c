/* step.c — one forward (and, when training, backward) pass of the model over a batch.
 *
 * Data flow per layer l (N = B·T tokens, H hidden, F ffn, qd = nh·d, kd = nkv·d):
 *   xn1 = rmsnorm(x_l)                         q,k,v = linear(xn1); rope(q,k)
 *   att = attention(q,k,v)                     xm = x_l + linear_o(att)
 *   xn2 = rmsnorm(xm)                          g,u = linear(xn2); hm = silu(g)·u
 *   x_{l+1} = xm + linear_down(hm)
 * then logits = lm_head(rmsnorm(x_L)) and cross-entropy, fused and chunked. Training keeps
 * every layer's activations; evaluation reuses one layer's buffers for all layers. With
 * recomputation (bone_acts_set_recompute) training keeps only every layer's input x_l and
 * runs each layer's forward again just before its backward: activation memory of one layer
 * plus L·N·H floats, for one more forward of the layers (not of lm_head).
 *
 * Cheap activations are never kept per layer: the normalised inputs xn1, xn2 are rebuilt
 * in backward from x, xm and the kept row scales (rmsnorm_apply), and hm = silu(g)·u from
 * g and u — element-wise passes that give back exactly the forward's values — so a layer
 * keeps 2·H + 2·F floats per token fewer than it uses (−67 MiB on bench's "small"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/arch.h"
#include "model/model.h"
#include "model/step.h"
#include "ops/ops.h"

typedef struct layer_acts {
    float *x;        // (N, H) layer input (residual stream)
    float *rstd1;    // (N)
    float *q, *k, *v;// (N, qd), (N, kd), (N, kd) after RoPE
    float *att;      // (N, qd)
    float *lse;      // (B, nh, T)
    float *xm;       // (N, H)
    float *rstd2;    // (N)
    float *g, *u;    // (N, F)
} layer_acts;

struct bone_acts {
    int64_t B, T, nlayers_alloc;
    float *mem;          // one block for everything
    size_t mem_floats;
    layer_acts *la;      // (L) (all alias la[0] in eval mode)
    float *xn, *hm;      // (N, H), (N, F): the layer being run's normalised input and silu(g)·u
    float *xf, *xnf, *rstdf; // (N, H), (N, H), (N)
    float *dx, *dxn, *dq, *dk, *dv, *datt, *dg, *du, *dhm; // backward scratch
    bone_rope rope;
    xent_ws xws;         // the cross-entropy's working memory, kept across steps
    int64_t rope_T;
    float *lend_end;     // end of the block xn .. dhm (+ padding) lent to the loss
    size_t xent_floats;  // the loss's working memory that block was sized for
    int train_layout;    // 0 eval, 1 train (every layer kept), 2 train with recomputation
    int recompute;       // requested by bone_acts_set_recompute
    void *ext;           // another family's activations (model/arch.h), freed by ext_free
    void (*ext_free)(void *);
};

/* y += x over n elements: the residual adds, threaded (each a pass over N·H floats). */
static void add_inplace(float *y, const float *x, int64_t n) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

bone_acts *bone_acts_new(void) { return xcalloc(1, sizeof(bone_acts)); }

void bone_acts_set_recompute(bone_acts *a, int on) { a->recompute = on != 0; }

int bone_acts_recompute(const bone_acts *a) { return a->recompute; }

void **bone_acts_ext(bone_acts *a, void (*freefn)(void *)) {
    a->ext_free = freefn;
    return &a->ext;
}

void bone_acts_free(bone_acts *a) {
    if (!a) return;
    if (a->ext_free) a->ext_free(a->ext);
    free(a->mem);
    free(a->la);
    rope_free(&a->rope);
    xent_ws_free(&a->xws);
    free(a);
}

/* The one description of the activation buffer's layout (llm.c's pattern): with base == NULL it
 * only counts, so the size (bone_acts_floats) and the carving (acts_ensure) are the same walk.
 * layout: 0 eval (one layer's buffers for all layers), 1 train (every layer's activations),
 * 2 train with recomputation (every layer's input x, one layer's other activations). Returns the
 * floats used, including the loss's padding and a 64-float slack. */
static size_t acts_carve(bone_acts *a, float *base, const bone_config *c, int64_t B, int64_t T, int layout,
                         size_t xent_floats) {
    const int train = layout != 0;
    int64_t N = B * T, H = c->hidden, F = c->inter, qd = c->n_heads * c->head_dim, kd = c->n_kv * c->head_dim;
    int64_t L = c->n_layers, nl = layout == 1 ? L : 1;
    size_t off = 0;
    /* counting writes the pointers (all NULL) into a throwaway struct */
#define TAKE(n) (off += (size_t)(n), base ? base + off - (size_t)(n) : NULL)
    bone_acts count_only;
    layer_acts dummy;
    bone_acts *A = base ? a : &count_only;
    for (int64_t l = 0; l < nl; l++) {
        layer_acts *x = base ? &a->la[l] : &dummy;
        x->x = TAKE(N * H);
        x->rstd1 = TAKE(N);
        x->q = TAKE(N * qd);
        x->k = TAKE(N * kd);
        x->v = TAKE(N * kd);
        x->att = TAKE(N * qd);
        x->lse = TAKE(B * c->n_heads * T);
        x->xm = TAKE(N * H);
        x->rstd2 = TAKE(N);
        x->g = TAKE(N * F);
        x->u = TAKE(N * F);
    }
    if (base)
        for (int64_t l = nl; l < L; l++) a->la[l] = a->la[0];
    if (layout == 2) /* only x is per layer; layer 0's is in the block above */
        for (int64_t l = 1; l < L; l++) (base ? &a->la[l] : &dummy)->x = TAKE(N * H);
    A->xf = TAKE(N * H);
    A->xnf = TAKE(N * H);
    A->rstdf = TAKE(N);
    if (train) {
        A->dx = TAKE(N * H);
        A->dxn = TAKE(N * H);
    }
    /* xn .. dhm is one block, none of it live while the loss runs: lent to xent (step below) */
    const size_t lent_from = off;
    A->xn = TAKE(N * H);
    A->hm = TAKE(N * F);
    if (train) {
        A->dq = TAKE(N * qd);
        A->datt = TAKE(N * qd);
        A->dk = TAKE(N * kd);
        A->dv = TAKE(N * kd);
        A->dg = TAKE(N * F);
        A->du = TAKE(N * F);
        A->dhm = TAKE(N * F);
    }
#undef TAKE
    /* training lends that block to the loss: make it hold the loss's full chunk */
    const size_t lent = off - lent_from;
    if (train && xent_floats > lent) off += xent_floats - lent;
    return off + 64;
}

size_t bone_acts_floats(const bone_config *c, int64_t B, int64_t T, int layout, size_t xent_floats) {
    const bone_arch_i *ai = bone_arch_cfg(c);
    if (ai->acts_floats) return ai->acts_floats(c, B, T, layout, xent_floats);
    return acts_carve(NULL, NULL, c, B, T, layout, xent_floats);
}

static void acts_ensure(bone_acts *a, const bone_config *c, int64_t B, int64_t T, int layout, size_t xent_floats) {
    if (a->mem && a->B == B && a->T == T && a->train_layout == layout && a->xent_floats == xent_floats) return;
    free(a->mem);
    free(a->la);
    const size_t total = bone_acts_floats(c, B, T, layout, xent_floats);
    a->mem = xmalloc(total * sizeof(float));
    a->mem_floats = total;
    a->la = xcalloc((size_t)c->n_layers, sizeof *a->la);
    const size_t used = acts_carve(a, a->mem, c, B, T, layout, xent_floats);
    BONE_ASSERT(used == total, "the activation layout counted and carved differently");
    a->lend_end = layout != 0 ? a->mem + total - 64 : NULL;
    a->xent_floats = xent_floats;
    a->B = B;
    a->T = T;
    a->train_layout = layout;
}

/* One layer's forward from s->x, keeping what backward needs in s; the layer output goes to
 * next, or, with next == NULL (recomputation before backward), is not formed at all. */
static void layer_forward(bone_model *m, bone_acts *a, layer_acts *s, bone_layer *ly, const bone_batch *b,
                          float *next) {
    const bone_config *c = &m->cfg;
    const int64_t B = b->B, T = b->T, N = B * T, H = c->hidden, F = c->inter;
    const int64_t nh = c->n_heads, nkv = c->n_kv, d = c->head_dim;
    bone_lin_ctx *lc = &m->lin;
    rmsnorm_forward(a->xn, s->rstd1, s->x, ly->ln1, N, H, (float)c->eps);
    linear_forward(lc, &ly->proj[BONE_Q], a->xn, s->q, N);
    linear_forward(lc, &ly->proj[BONE_K], a->xn, s->k, N);
    linear_forward(lc, &ly->proj[BONE_V], a->xn, s->v, N);
    rope_forward(s->q, &a->rope, B, T, nh, d);
    rope_forward(s->k, &a->rope, B, T, nkv, d);
    attention_forward(s->att, s->lse, s->q, s->k, s->v, b->len, B, T, nh, nkv, d);
    linear_forward(lc, &ly->proj[BONE_O], s->att, s->xm, N);
    add_inplace(s->xm, s->x, N * H);
    rmsnorm_forward(a->xn, s->rstd2, s->xm, ly->ln2, N, H, (float)c->eps);
    linear_forward(lc, &ly->proj[BONE_GATE], a->xn, s->g, N);
    linear_forward(lc, &ly->proj[BONE_UP], a->xn, s->u, N);
    if (!next) return;
    swiglu_forward(a->hm, s->g, s->u, N * F);
    linear_forward(lc, &ly->proj[BONE_DOWN], a->hm, next, N);
    add_inplace(next, s->xm, N * H);
}

int bone_model_step(bone_model *m, bone_acts *a, const bone_batch *b, int train, float grad_scale,
                    double *loss_sum, int64_t *count, float *logits, bone_err *e) {
    const bone_arch_i *ai = bone_arch_cfg(&m->cfg);
    if (ai->step) return ai->step(m, a, b, train, grad_scale, loss_sum, count, logits, e);
    const bone_config *c = &m->cfg;
    const int64_t B = b->B, T = b->T, N = B * T, H = c->hidden, F = c->inter, V = c->vocab;
    const int64_t nh = c->n_heads, nkv = c->n_kv, d = c->head_dim, qd = nh * d, kd = nkv * d;
    const int64_t L = c->n_layers;
    for (int64_t i = 0; i < N; i++)
        if (b->ids[i] < 0 || b->ids[i] >= V)
            return bone_fail(e, "token id %d at batch position %lld is outside the vocabulary [0, %lld)", b->ids[i],
                             (long long)i, (long long)V);
    if (T > c->max_pos)
        return bone_fail(e, "sequence length %lld exceeds max_position_embeddings %lld", (long long)T,
                         (long long)c->max_pos);
    acts_ensure(a, c, B, T, train ? (a->recompute ? 2 : 1) : 0, xent_ws_floats(N, H, V, m->lm_head.dtype, m->d_lm_head != NULL));
    if (a->rope_T < T) {
        rope_free(&a->rope);
        rope_build(&a->rope, c, T);
        a->rope_T = T;
    }
    bone_lin_ctx *lc = &m->lin;
    lc->training = train;

    /* ---- forward ---- */
    float *x = a->la[0].x;
    embedding_forward(x, m->embed, b->ids, N, H);
    for (int64_t l = 0; l < L; l++) {
        layer_acts *s = &a->la[l];
        if (s->x != x) memcpy(s->x, x, (size_t)(N * H) * sizeof(float));
        /* next layer input: in train mode the next layer's x buffer, else xf as a temp */
        float *next = (train && l + 1 < L) ? a->la[l + 1].x : a->xf;
        layer_forward(m, a, s, &m->layers[l], b, next);
        x = next;
    }
    if (x != a->xf) memcpy(a->xf, x, (size_t)(N * H) * sizeof(float));
    rmsnorm_forward(a->xnf, a->rstdf, a->xf, m->norm, N, H, (float)c->eps);
    if (train) memset(a->dx, 0, (size_t)(N * H) * sizeof(float));
    float *dxn = train ? a->dxn : NULL;
    if (dxn) memset(dxn, 0, (size_t)(N * H) * sizeof(float));
    /* a bf16 lm_head stays bf16: xent converts it a tile of rows at a time. Its logits go
     * into the layer/backward scratch xn .. dhm (contiguous, see acts_ensure), dead here. */
    a->xws.be = bone_lin_backend(lc); /* the loss multiplies through the model's backend */
    a->xws.borrow = train ? a->xn : NULL;
    a->xws.borrow_cap = train ? (size_t)(a->lend_end - a->xn) : 0;
    *loss_sum = xent_forward_backward_w(a->xnf, m->lm_head, b->targets, N, H, V, grad_scale, dxn,
                                        train ? m->d_lm_head : NULL, logits, count, &a->xws);
    if (!train) return 0;

    /* ---- backward ---- */
    rmsnorm_backward(a->dx, m->dnorm, dxn, a->xf, m->norm, a->rstdf, N, H);
    for (int64_t l = L - 1; l >= 0; l--) {
        layer_acts *s = &a->la[l];
        bone_layer *ly = &m->layers[l];
        /* recomputation: this layer's activations again, from its kept input (the same code
         * and thread count, so bit-identical to the first forward) */
        if (a->train_layout == 2) layer_forward(m, a, s, ly, b, NULL);
        /* a->dx holds dL/dx_{l+1}; MLP branch */
        swiglu_forward(a->hm, s->g, s->u, N * F); /* hm again (not kept) */
        memset(a->dhm, 0, (size_t)(N * F) * sizeof(float));
        linear_backward(lc, &ly->proj[BONE_DOWN], a->hm, a->dx, a->dhm, N);
        swiglu_backward(a->dg, a->du, a->dhm, s->g, s->u, N * F);
        rmsnorm_apply(a->xn, s->xm, s->rstd2, ly->ln2, N, H); /* xn2 again */
        memset(a->dxn, 0, (size_t)(N * H) * sizeof(float));
        linear_backward(lc, &ly->proj[BONE_GATE], a->xn, a->dg, a->dxn, N);
        linear_backward(lc, &ly->proj[BONE_UP], a->xn, a->du, a->dxn, N);
        rmsnorm_backward(a->dx, ly->dln2, a->dxn, s->xm, ly->ln2, s->rstd2, N, H); // dx = dL/dxm
        /* attention branch */
        memset(a->datt, 0, (size_t)(N * qd) * sizeof(float));
        linear_backward(lc, &ly->proj[BONE_O], s->att, a->dx, a->datt, N);
        memset(a->dq, 0, (size_t)(N * qd) * sizeof(float));
        memset(a->dk, 0, (size_t)(N * kd) * sizeof(float));
        memset(a->dv, 0, (size_t)(N * kd) * sizeof(float));
        attention_backward(a->dq, a->dk, a->dv, a->datt, s->att, s->lse, s->q, s->k, s->v, b->len, B, T, nh, nkv, d);
        rope_backward(a->dq, &a->rope, B, T, nh, d);
        rope_backward(a->dk, &a->rope, B, T, nkv, d);
        rmsnorm_apply(a->xn, s->x, s->rstd1, ly->ln1, N, H); /* xn1 again */
        /* dL/dx_0 feeds only the embedding and ln1 of layer 0: when both are frozen (the
         * adapter methods) the q/k/v input gradients of layer 0 are never formed */
        const int need_dx = l > 0 || m->d_embed || ly->dln1;
        float *dxn1 = need_dx ? a->dxn : NULL;
        if (dxn1) memset(dxn1, 0, (size_t)(N * H) * sizeof(float));
        linear_backward(lc, &ly->proj[BONE_Q], a->xn, a->dq, dxn1, N);
        linear_backward(lc, &ly->proj[BONE_K], a->xn, a->dk, dxn1, N);
        linear_backward(lc, &ly->proj[BONE_V], a->xn, a->dv, dxn1, N);
        if (need_dx) rmsnorm_backward(a->dx, ly->dln1, a->dxn, s->x, ly->ln1, s->rstd1, N, H); // dx = dL/dx_l
    }
    if (m->d_embed) embedding_backward(m->d_embed, a->dx, b->ids, N, H);
    return 0;
}
