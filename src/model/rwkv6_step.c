/* rwkv6_step.c — the RWKV-6 forward/backward over a padded batch, and the recurrent decode
 * (FORMATS.md §6.1-6.5). N = B·T tokens, C channels, F ffn width, H heads of n, Dm = D_MIX,
 * Dd = D_DECAY. Per block, on x (N,C):
 *   a   = LN1(x);  dd = shift(a) − a;  xxx = a + dd⊙maa_x
 *   z   = tanh(xxx·W1) (N,5Dm);  x_j = a + dd⊙(maa_j + z_j·W2[j])  j = w,k,v,r,g
 *   r,k,v = W_r x_r, W_k x_k, W_v x_v;  graw = W_g x_g
 *   logw = −exp(time_decay + tanh(x_w·Dw1)·Dw2);  y = WKV6(r,k,v,logw,u)
 *   og  = GroupNorm_H(y)⊙silu(graw);  x1 = x + W_o og
 *   b   = LN2(x1); dd2 = shift(b) − b;  fxk = b + dd2⊙maa_k;  fxr = b + dd2⊙maa_r
 *   kk  = W_key fxk (N,F);  vv = W_val relu(kk)²;  rr = W_rec fxr;  out = x1 + σ(rr)⊙vv
 * with x_0 = LN0(emb[ids]) and logits = head(LN_out(x_L)) (eps 1e-5 always).
 * Training keeps every layer's activations (or, with recomputation, only each layer's input
 * and runs its forward again before its backward); evaluation reuses one layer's buffers.
 * The ops are ops/rwkv6_ops.h: WKV6 in its chunked form for training and scoring (RW_CHUNK
 * tokens per chunk; the backward recomputes the states), the sequential scan with a carried
 * state for decode. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/rwkv6_internal.h"
#include "model/step.h"
#include "ops/ops.h"
#include "ops/rwkv6_ops.h"

/* WKV6 chunk length for training and scoring: --wkv-chunk, else 32 (config.h) */
#define RW_CHUNK(c) ((c)->wkv_chunk > 0 ? (c)->wkv_chunk : BONE_WKV_CHUNK_DEFAULT)
#define LN_OUT_EPS 1e-5f /* ln_out is torch's default LayerNorm whatever layer_norm_epsilon says */

typedef struct rw_lacts {
    float *x;               // (N,C) layer input
    float *a, *mu1, *rs1;   // (N,C) ln1 output, (N), (N)
    float *z;               // (N,5Dm) ddlerp's tanh
    float *xm;              // (5,N,C) x_w, x_k, x_v, x_r, x_g (ddlerp's layout)
    float *r, *k, *v, *graw;// (N,C)
    float *dz, *logw;       // (N,Dd) tanh, (N,C)
    float *y, *gmu, *grs;   // (N,C) wkv output, (N·H), (N·H)
    float *og, *x1;         // (N,C)
    float *b, *mu2, *rs2;   // (N,C), (N), (N)
    float *fxk, *fxr;       // (N,C)
    float *kk;              // (N,F)
    float *vv, *rr;         // (N,C)
} rw_lacts;

enum { S_DD, S_M, S_DVV, S_DRR, S_DFXK, S_DFXR, S_DB, S_DOG, S_DGRAW, S_DY, S_DR, S_DK, S_DV, S_DLOGW,
       S_DDD, S_DMT, S_NC };

typedef struct rw_acts {
    int64_t B, T;
    int layout;             // 0 eval, 1 train, 2 train with recomputation
    size_t xent_floats;
    float *mem;
    rw_lacts *la;           // (L)
    float *e0, *mu0, *rs0;  // (N,C) embeddings, ln0 stats (N) (N)
    float *xf, *xnf, *muf, *rsf; // final x, ln_out output, stats
    float *hk;              // (N,F) relu(kk)², scratch
    float *s[S_NC];         // (N,C) scratch; from S_DVV on only when training
    float *dhk, *dkk, *dxm, *dxnf, *dX, *de0; // (N,F) (N,F) (5,N,C) (N,C) (N,C) (N,C)
    float *ws;              // the ops' scratch: the largest of WKV6's, ddlerp's and decay's
    xent_ws xws;
} rw_acts;

/* recurrent state of one layer for decode: the two token-shift vectors and the WKV state */
typedef struct rw_state {
    float *att, *ffn; // (B,C): the last ln1 / ln2 output of the previous tokens
    float *wkv;       // (B,H,n,n)
} rw_state;

static size_t carve(rw_acts *A, float *base, const bone_config *c, int64_t B, int64_t T, int layout,
                    size_t xent_floats) {
    const int64_t N = B * T, C = c->hidden, F = c->inter, H = c->n_heads, n = c->head_dim;
    const int64_t Dm = c->d_mix, Dd = c->d_decay, L = c->n_layers, nl = layout == 1 ? L : 1;
    const int train = layout != 0;
    size_t off = 0;
#define TAKE(k) (off += (size_t)(k), base ? base + off - (size_t)(k) : NULL)
    rw_acts dummy_a;
    rw_lacts dummy;
    rw_acts *X = base ? A : &dummy_a;
    for (int64_t l = 0; l < nl; l++) {
        rw_lacts *s = base ? &A->la[l] : &dummy;
        s->x = TAKE(N * C);
        s->a = TAKE(N * C), s->mu1 = TAKE(N), s->rs1 = TAKE(N);
        s->z = TAKE(N * 5 * Dm);
        s->xm = TAKE(5 * N * C);
        s->r = TAKE(N * C), s->k = TAKE(N * C), s->v = TAKE(N * C), s->graw = TAKE(N * C);
        s->dz = TAKE(N * Dd), s->logw = TAKE(N * C);
        s->y = TAKE(N * C), s->gmu = TAKE(N * H), s->grs = TAKE(N * H);
        s->og = TAKE(N * C), s->x1 = TAKE(N * C);
        s->b = TAKE(N * C), s->mu2 = TAKE(N), s->rs2 = TAKE(N);
        s->fxk = TAKE(N * C), s->fxr = TAKE(N * C);
        s->kk = TAKE(N * F);
        s->vv = TAKE(N * C), s->rr = TAKE(N * C);
    }
    if (base)
        for (int64_t l = nl; l < L; l++) A->la[l] = A->la[0];
    if (layout == 2)
        for (int64_t l = 1; l < L; l++) (base ? &A->la[l] : &dummy)->x = TAKE(N * C);
    X->e0 = TAKE(N * C), X->mu0 = TAKE(N), X->rs0 = TAKE(N);
    X->xf = TAKE(N * C), X->xnf = TAKE(N * C), X->muf = TAKE(N), X->rsf = TAKE(N);
    X->hk = TAKE(N * F);
    for (int i = 0; i < S_NC; i++) X->s[i] = i < S_DVV || train ? TAKE(N * C) : NULL;
    if (train) {
        X->dhk = TAKE(N * F), X->dkk = TAKE(N * F), X->dxm = TAKE(5 * N * C);
        X->dxnf = TAKE(N * C), X->dX = TAKE(N * C), X->de0 = TAKE(N * C);
    }
    size_t ws = wkv6_chunked_ws_floats(B, T, C, n, RW_CHUNK(c));
    if (train) {
        const size_t w2 = ddlerp_backward_ws_floats(N, C, Dm), w3 = decay_backward_ws_floats(N, C, Dd);
        ws = ws > w2 ? ws : w2;
        ws = ws > w3 ? ws : w3;
    }
    X->ws = TAKE(ws);
#undef TAKE
    /* the loss's working memory is its own here (xent_ws), counted so the plan sees it */
    return off + xent_floats + 64;
}

size_t rwkv6_acts_floats(const bone_config *c, int64_t B, int64_t T, int layout, size_t xent_floats) {
    return carve(NULL, NULL, c, B, T, layout, xent_floats);
}

static void acts_free(void *p) {
    rw_acts *A = p;
    if (!A) return;
    free(A->mem);
    free(A->la);
    xent_ws_free(&A->xws);
    free(A);
}

static rw_acts *acts_ensure(rw_acts *A, const bone_config *c, int64_t B, int64_t T, int layout, size_t xent_floats) {
    if (!A) A = xcalloc(1, sizeof *A);
    if (A->mem && A->B == B && A->T == T && A->layout == layout && A->xent_floats == xent_floats) return A;
    free(A->mem);
    free(A->la);
    const size_t total = carve(NULL, NULL, c, B, T, layout, xent_floats);
    A->mem = xmalloc(total * sizeof(float));
    A->la = xcalloc((size_t)c->n_layers, sizeof *A->la);
    carve(A, A->mem, c, B, T, layout, xent_floats);
    A->B = B, A->T = T, A->layout = layout, A->xent_floats = xent_floats;
    return A;
}

/* ---- one block ---- */

static void layer_forward(bone_model *m, rw_acts *A, rw_lacts *s, rw_layer *ly, int64_t B, int64_t T, float *next,
                          rw_state *st) {
    const bone_config *c = &m->cfg;
    const int64_t N = B * T, C = c->hidden, F = c->inter, n = c->head_dim, Dm = c->d_mix, Dd = c->d_decay;
    const float eps = (float)c->eps, geps = 1e-5f * (float)(c->head_div * c->head_div);
    bone_lin_ctx *lc = &m->lin;
    float *dd = A->s[S_DD], *mt = A->s[S_M];
    float *const *v = ly->v;
    const float *const maa[5] = {v[RW_MAA_W], v[RW_MAA_K], v[RW_MAA_V], v[RW_MAA_R], v[RW_MAA_G]};
    float *const xw = s->xm, *const xk = s->xm + N * C, *const xv = s->xm + 2 * N * C, *const xr = s->xm + 3 * N * C,
                 *const xg = s->xm + 4 * N * C;
    /* TimeMix */
    layernorm_forward(s->a, s->mu1, s->rs1, s->x, v[RW_LN1_W], v[RW_LN1_B], N, C, eps);
    tokenshift_forward(dd, s->a, st ? st->att : NULL, B, T, C);
    ddlerp_forward(s->xm, s->z, s->a, dd, v[RW_MAA_X], maa, v[RW_MAA_W1], v[RW_MAA_W2], N, C, Dm);
    linear_forward(lc, &ly->lin[RW_R], xr, s->r, N);
    linear_forward(lc, &ly->lin[RW_K], xk, s->k, N);
    linear_forward(lc, &ly->lin[RW_V], xv, s->v, N);
    linear_forward(lc, &ly->lin[RW_G], xg, s->graw, N);
    decay_forward(s->logw, s->dz, xw, v[RW_DECAY], v[RW_DECAY_W1], v[RW_DECAY_W2], N, C, Dd);
    if (st) /* decode: the scan, carrying the state in place */
        wkv6_seq_forward(s->y, st->wkv, s->r, s->k, s->v, s->logw, v[RW_FAAAA], st->wkv, B, T, C, n);
    else
        wkv6_chunked_forward(s->y, NULL, s->r, s->k, s->v, s->logw, v[RW_FAAAA], NULL, B, T, C, n, RW_CHUNK(c), A->ws);
    groupnorm_forward(mt, s->gmu, s->grs, s->y, v[RW_LNX_W], v[RW_LNX_B], N, C, n, geps);
    silu_mul_forward(s->og, s->graw, mt, N * C);
    linear_forward(lc, &ly->lin[RW_O], s->og, s->x1, N);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * C; i++) s->x1[i] += s->x[i];
    /* ChannelMix */
    layernorm_forward(s->b, s->mu2, s->rs2, s->x1, v[RW_LN2_W], v[RW_LN2_B], N, C, eps);
    tokenshift_forward(dd, s->b, st ? st->ffn : NULL, B, T, C);
    lerp_forward(s->fxk, s->b, dd, v[RW_FMAA_K], N, C);
    lerp_forward(s->fxr, s->b, dd, v[RW_FMAA_R], N, C);
    linear_forward(lc, &ly->lin[RW_FK], s->fxk, s->kk, N);
    linear_forward(lc, &ly->lin[RW_FR], s->fxr, s->rr, N);
    relu2_forward(A->hk, s->kk, N * F);
    linear_forward(lc, &ly->lin[RW_FV], A->hk, s->vv, N);
    if (st)
        for (int64_t b = 0; b < B; b++) { /* the shift state: the last normalised inputs */
            memcpy(st->att + b * C, s->a + (b * T + T - 1) * C, (size_t)C * sizeof(float));
            memcpy(st->ffn + b * C, s->b + (b * T + T - 1) * C, (size_t)C * sizeof(float));
        }
    if (!next) return;
    sigmoid_mul_forward(next, s->rr, s->vv, N * C);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * C; i++) next[i] += s->x1[i];
}

/* A->dX holds ∂L/∂(block output) on entry and ∂L/∂(block input) on return */
static void layer_backward(bone_model *m, rw_acts *A, rw_lacts *s, rw_layer *ly, int64_t B, int64_t T) {
    const bone_config *c = &m->cfg;
    const int64_t N = B * T, C = c->hidden, F = c->inter, n = c->head_dim, Dm = c->d_mix, Dd = c->d_decay;
    const float geps = 1e-5f * (float)(c->head_div * c->head_div);
    bone_lin_ctx *lc = &m->lin;
    float *const *v = ly->v;
    float *const *d = ly->d;
    float **S = A->s;
    float *dX = A->dX, *dd = S[S_DD], *mt = S[S_M];
    const size_t NC = (size_t)(N * C) * sizeof(float);
    const float *const maa[5] = {v[RW_MAA_W], v[RW_MAA_K], v[RW_MAA_V], v[RW_MAA_R], v[RW_MAA_G]};
    float *const dmaa[5] = {d[RW_MAA_W], d[RW_MAA_K], d[RW_MAA_V], d[RW_MAA_R], d[RW_MAA_G]};
    const float *const xw = s->xm, *const xk = s->xm + N * C, *const xv = s->xm + 2 * N * C,
                *const xr = s->xm + 3 * N * C, *const xg = s->xm + 4 * N * C;
    float *const dxw = A->dxm, *const dxk = A->dxm + N * C, *const dxv = A->dxm + 2 * N * C,
                 *const dxr = A->dxm + 3 * N * C, *const dxg = A->dxm + 4 * N * C;
    /* ChannelMix: out = x1 + σ(rr)⊙vv */
    memset(S[S_DVV], 0, NC);
    memset(S[S_DRR], 0, NC);
    sigmoid_mul_backward(S[S_DRR], S[S_DVV], dX, s->rr, s->vv, N * C);
    relu2_forward(A->hk, s->kk, N * F); /* not kept */
    memset(A->dhk, 0, (size_t)(N * F) * sizeof(float));
    linear_backward(lc, &ly->lin[RW_FV], A->hk, S[S_DVV], A->dhk, N);
    memset(A->dkk, 0, (size_t)(N * F) * sizeof(float));
    relu2_backward(A->dkk, A->dhk, s->kk, N * F);
    memset(S[S_DFXK], 0, NC);
    memset(S[S_DFXR], 0, NC);
    linear_backward(lc, &ly->lin[RW_FK], s->fxk, A->dkk, S[S_DFXK], N);
    linear_backward(lc, &ly->lin[RW_FR], s->fxr, S[S_DRR], S[S_DFXR], N);
    tokenshift_forward(dd, s->b, NULL, B, T, C);
    float *db = S[S_DB], *ddd = S[S_DDD];
    memset(db, 0, NC);
    memset(ddd, 0, NC);
    lerp_backward(db, ddd, d[RW_FMAA_K], S[S_DFXK], dd, v[RW_FMAA_K], N, C);
    lerp_backward(db, ddd, d[RW_FMAA_R], S[S_DFXR], dd, v[RW_FMAA_R], N, C);
    tokenshift_backward(db, NULL, ddd, B, T, C);
    layernorm_backward(dX, d[RW_LN2_W], d[RW_LN2_B], db, s->x1, v[RW_LN2_W], s->mu2, s->rs2, N, C); /* dX = ∂L/∂x1 */
    /* TimeMix: x1 = x + W_o(GN(y)⊙silu(graw)) */
    memset(S[S_DOG], 0, NC);
    linear_backward(lc, &ly->lin[RW_O], s->og, dX, S[S_DOG], N);
    groupnorm_forward(mt, s->gmu, s->grs, s->y, v[RW_LNX_W], v[RW_LNX_B], N, C, n, geps); /* not kept */
    memset(S[S_DGRAW], 0, NC);
    memset(S[S_DMT], 0, NC);
    silu_mul_backward(S[S_DGRAW], S[S_DMT], S[S_DOG], s->graw, mt, N * C);
    memset(S[S_DY], 0, NC);
    groupnorm_backward(S[S_DY], d[RW_LNX_W], d[RW_LNX_B], S[S_DMT], s->y, v[RW_LNX_W], s->gmu, s->grs, N, C, n);
    memset(S[S_DR], 0, NC);
    memset(S[S_DK], 0, NC);
    memset(S[S_DV], 0, NC);
    memset(S[S_DLOGW], 0, NC);
    wkv6_chunked_backward(S[S_DR], S[S_DK], S[S_DV], S[S_DLOGW], d[RW_FAAAA], NULL, S[S_DY], NULL, s->r, s->k, s->v,
                          s->logw, v[RW_FAAAA], NULL, B, T, C, n, RW_CHUNK(c), A->ws);
    memset(A->dxm, 0, 5 * NC);
    decay_backward(dxw, d[RW_DECAY], d[RW_DECAY_W1], d[RW_DECAY_W2], S[S_DLOGW], s->logw, s->dz, xw, v[RW_DECAY_W1],
                   v[RW_DECAY_W2], N, C, Dd, A->ws);
    linear_backward(lc, &ly->lin[RW_R], xr, S[S_DR], dxr, N);
    linear_backward(lc, &ly->lin[RW_K], xk, S[S_DK], dxk, N);
    linear_backward(lc, &ly->lin[RW_V], xv, S[S_DV], dxv, N);
    linear_backward(lc, &ly->lin[RW_G], xg, S[S_DGRAW], dxg, N);
    /* the ddlerp and the shift */
    tokenshift_forward(dd, s->a, NULL, B, T, C);
    float *da = db;
    memset(da, 0, NC);
    memset(ddd, 0, NC);
    ddlerp_backward(da, ddd, d[RW_MAA_X], dmaa, d[RW_MAA_W1], d[RW_MAA_W2], A->dxm, s->a, dd, v[RW_MAA_X], maa,
                    v[RW_MAA_W1], v[RW_MAA_W2], s->z, N, C, Dm, A->ws);
    tokenshift_backward(da, NULL, ddd, B, T, C);
    layernorm_backward(dX, d[RW_LN1_W], d[RW_LN1_B], da, s->x, v[RW_LN1_W], s->mu1, s->rs1, N, C); /* + residual */
}

int rwkv6_step(bone_model *m, bone_acts *a, const bone_batch *b, int train, float grad_scale, double *loss_sum,
               int64_t *count, float *logits, bone_err *e) {
    const bone_config *c = &m->cfg;
    rw_model *r = m->arch_data;
    const int64_t B = b->B, T = b->T, N = B * T, C = c->hidden, V = c->vocab, L = c->n_layers;
    for (int64_t i = 0; i < N; i++)
        if (b->ids[i] < 0 || b->ids[i] >= V)
            return bone_fail(e, "token id %d at batch position %lld is outside the vocabulary [0, %lld)", b->ids[i],
                             (long long)i, (long long)V);
    const int layout = train ? (bone_acts_recompute(a) ? 2 : 1) : 0;
    void **slot = bone_acts_ext(a, acts_free);
    rw_acts *A = *slot = acts_ensure(*slot, c, B, T, layout,
                                     xent_ws_floats(N, C, V, m->lm_head.dtype, m->d_lm_head != NULL));
    bone_lin_ctx *lc = &m->lin;
    lc->training = train;
    const float eps = (float)c->eps;
    /* ---- forward ---- */
    embedding_forward(A->e0, m->embed, b->ids, N, C);
    float *x = A->la[0].x;
    layernorm_forward(x, A->mu0, A->rs0, A->e0, r->g[RW_LN0_W], r->g[RW_LN0_B], N, C, eps);
    for (int64_t l = 0; l < L; l++) {
        rw_lacts *s = &A->la[l];
        if (s->x != x) memcpy(s->x, x, (size_t)(N * C) * sizeof(float));
        float *next = (train && l + 1 < L) ? A->la[l + 1].x : A->xf;
        layer_forward(m, A, s, &r->ly[l], B, T, next, NULL);
        x = next;
    }
    if (x != A->xf) memcpy(A->xf, x, (size_t)(N * C) * sizeof(float));
    layernorm_forward(A->xnf, A->muf, A->rsf, A->xf, r->g[RW_LNO_W], r->g[RW_LNO_B], N, C, LN_OUT_EPS);
    if (train) memset(A->dxnf, 0, (size_t)(N * C) * sizeof(float));
    A->xws.be = bone_lin_backend(&m->lin); /* the loss multiplies through the model's backend */
    *loss_sum = xent_forward_backward_w(A->xnf, m->lm_head, b->targets, N, C, V, grad_scale, train ? A->dxnf : NULL,
                                        train ? m->d_lm_head : NULL, logits, count, &A->xws);
    if (!train) return 0;
    /* ---- backward ---- */
    memset(A->dX, 0, (size_t)(N * C) * sizeof(float));
    layernorm_backward(A->dX, r->dg[RW_LNO_W], r->dg[RW_LNO_B], A->dxnf, A->xf, r->g[RW_LNO_W], A->muf, A->rsf, N, C);
    for (int64_t l = L - 1; l >= 0; l--) {
        rw_lacts *s = &A->la[l];
        if (A->layout == 2) layer_forward(m, A, s, &r->ly[l], B, T, NULL, NULL);
        layer_backward(m, A, s, &r->ly[l], B, T);
    }
    if (m->d_embed || r->dg[RW_LN0_W] || r->dg[RW_LN0_B]) {
        memset(A->de0, 0, (size_t)(N * C) * sizeof(float));
        layernorm_backward(A->de0, r->dg[RW_LN0_W], r->dg[RW_LN0_B], A->dX, A->e0, r->g[RW_LN0_W], A->mu0, A->rs0, N, C);
        if (m->d_embed) embedding_backward(m->d_embed, A->de0, b->ids, N, C);
    }
    return 0;
}

/* ---- generation: the recurrent state, O(1) memory per token ---- */

/* per layer: att shift (C), ffn shift (C), WKV state (H·n·n) */
static int64_t state_per_layer(const bone_config *c) { return 2 * c->hidden + c->hidden * c->head_dim; }

void rwkv6_state_init(bone_kv *kv, const bone_model *m, int64_t cap) {
    memset(kv, 0, sizeof *kv);
    kv->cap = cap;
    kv->state = xcalloc((size_t)(m->cfg.n_layers * state_per_layer(&m->cfg)), sizeof(float));
}

/* B sequences of T new tokens each (ids (B,T)), sequence b on its own state kv[b]: the states
 * of a layer are gathered into (B, ·) rows, the block runs once on the B·T rows (the linears
 * see a (B·T, C) matrix, so each weight is read once per step instead of once per sequence),
 * and the states go back. Logits (B, V) of each sequence's last token. Rows never mix, so a
 * sequence's logits do not depend on which others run beside it (test_decode_batch). */
static int decode_seqs(bone_model *m, bone_kv *const *kv, const int32_t *ids, int64_t B, int64_t T, float *logits,
                       bone_err *e) {
    const bone_config *c = &m->cfg;
    rw_model *r = m->arch_data;
    const int64_t C = c->hidden, V = c->vocab, L = c->n_layers, P = state_per_layer(c), W = C * c->head_dim;
    const int64_t N = B * T;
    if (B < 1 || T < 1) return bone_fail(e, "decode: no tokens");
    for (int64_t i = 0; i < N; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return bone_fail(e, "token id %d is outside the vocabulary [0, %lld)", ids[i], (long long)V);
    rw_acts *A = acts_ensure(NULL, c, B, T, 0, 0);
    float *sb = xmalloc((size_t)(B * P) * sizeof(float)); // (B,C) att shift, (B,C) ffn shift, (B,H,n,n) WKV
    rw_state st = {sb, sb + B * C, sb + 2 * B * C};
    m->lin.training = 0;
    embedding_forward(A->e0, m->embed, ids, N, C);
    float *x = A->la[0].x;
    layernorm_forward(x, A->mu0, A->rs0, A->e0, r->g[RW_LN0_W], r->g[RW_LN0_B], N, C, (float)c->eps);
    for (int64_t l = 0; l < L; l++) {
        rw_lacts *s = &A->la[l];
        if (s->x != x) memcpy(s->x, x, (size_t)(N * C) * sizeof(float));
        for (int64_t b = 0; b < B; b++) {
            const float *sl = kv[b]->state + l * P;
            memcpy(st.att + b * C, sl, (size_t)C * sizeof(float));
            memcpy(st.ffn + b * C, sl + C, (size_t)C * sizeof(float));
            memcpy(st.wkv + b * W, sl + 2 * C, (size_t)W * sizeof(float));
        }
        layer_forward(m, A, s, &r->ly[l], B, T, A->xf, &st);
        for (int64_t b = 0; b < B; b++) {
            float *sl = kv[b]->state + l * P;
            memcpy(sl, st.att + b * C, (size_t)C * sizeof(float));
            memcpy(sl + C, st.ffn + b * C, (size_t)C * sizeof(float));
            memcpy(sl + 2 * C, st.wkv + b * W, (size_t)W * sizeof(float));
        }
        x = A->xf;
    }
    /* only each sequence's last token: ln_out of B rows, then the head a tile of vocabulary
     * rows at a time (a bf16 head is never converted whole) */
    float *xn = A->xnf; // (B, C)
    for (int64_t b = 0; b < B; b++) {
        float mu, rs;
        layernorm_forward(xn + b * C, &mu, &rs, A->xf + (b * T + T - 1) * C, r->g[RW_LNO_W], r->g[RW_LNO_B], 1, C,
                          LN_OUT_EPS);
    }
    const int64_t tile = 1024;
    float *buf = m->lm_head.dtype == BONE_F32 ? NULL : xmalloc((size_t)(tile * C) * sizeof(float));
    for (int64_t v0 = 0; v0 < V; v0 += tile) {
        const int64_t nv = V - v0 < tile ? V - v0 : tile;
        bone_wref w = {m->lm_head.dtype, (const char *)m->lm_head.data + (size_t)(v0 * C) * bone_dtype_size(m->lm_head.dtype)};
        const float *Wt = wref_f32(w, buf, nv * C);
        gemm_nt(B, nv, C, 1.0f, xn, C, Wt, C, 0.0f, logits + v0, V);
    }
    free(buf);
    free(sb);
    acts_free(A);
    for (int64_t b = 0; b < B; b++) kv[b]->n += T;
    return 0;
}

/* n new tokens of one sequence; logits (V) of the last */
int rwkv6_decode(bone_model *m, bone_kv *kv, const int32_t *ids, int64_t n, float *logits, bone_err *e) {
    return decode_seqs(m, &kv, ids, 1, n, logits, e);
}

/* one new token for each of B sequences; logits (B, V) */
int rwkv6_decode_many(bone_model *m, bone_kv *const *kv, const int32_t *ids, int64_t B, float *logits, bone_err *e) {
    return decode_seqs(m, kv, ids, B, 1, logits, e);
}
