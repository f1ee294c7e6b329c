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
 * WKV keeps its state at every RW_CHUNK-th token for the backward (rwkv6_wkv.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/rwkv6_internal.h"
#include "model/step.h"
#include "ops/ops.h"

#define RW_CHUNK 32      /* tokens between kept WKV states (backward recomputes within) */
#define LN_OUT_EPS 1e-5f /* ln_out is torch's default LayerNorm whatever layer_norm_epsilon says */

typedef struct rw_lacts {
    float *x;               // (N,C) layer input
    float *a, *mu1, *rs1;   // (N,C) ln1 output, (N), (N)
    float *xxx, *z;         // (N,C), (N,5Dm) tanh
    float *xm[5];           // (N,C) x_w, x_k, x_v, x_r, x_g
    float *r, *k, *v, *graw;// (N,C)
    float *dz, *logw;       // (N,Dd) tanh, (N,C)
    float *y, *gmu, *grs;   // (N,C) wkv output, (N·H), (N·H)
    float *og, *x1;         // (N,C)
    float *b, *mu2, *rs2;   // (N,C), (N), (N)
    float *fxk, *fxr;       // (N,C)
    float *kk;              // (N,F)
    float *vv, *rr;         // (N,C)
    float *ckpt;            // (B,H,nck,n,n) wkv states at chunk starts (training)
} rw_lacts;

enum { S_DD, S_M, S_DVV, S_DRR, S_DFXK, S_DFXR, S_DB, S_DOG, S_DGRAW, S_DY, S_DR, S_DK, S_DV, S_DLOGW,
       S_DXM0, S_DXM1, S_DXM2, S_DXM3, S_DXM4, S_DDD, S_DXXX, S_NC };

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
    float *dhk, *ddz, *dzall, *dxnf, *dX, *de0, *du; // (N,F) (N,Dd) (N,5Dm) (N,C) (N,C) (N,C) (H·n)
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
    const int64_t nck = (T + RW_CHUNK - 1) / RW_CHUNK;
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
        s->xxx = TAKE(N * C), s->z = TAKE(N * 5 * Dm);
        for (int j = 0; j < 5; j++) s->xm[j] = TAKE(N * C);
        s->r = TAKE(N * C), s->k = TAKE(N * C), s->v = TAKE(N * C), s->graw = TAKE(N * C);
        s->dz = TAKE(N * Dd), s->logw = TAKE(N * C);
        s->y = TAKE(N * C), s->gmu = TAKE(N * H), s->grs = TAKE(N * H);
        s->og = TAKE(N * C), s->x1 = TAKE(N * C);
        s->b = TAKE(N * C), s->mu2 = TAKE(N), s->rs2 = TAKE(N);
        s->fxk = TAKE(N * C), s->fxr = TAKE(N * C);
        s->kk = TAKE(N * F);
        s->vv = TAKE(N * C), s->rr = TAKE(N * C);
        s->ckpt = train ? TAKE(B * H * nck * n * n) : NULL;
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
        X->dhk = TAKE(N * F), X->ddz = TAKE(N * Dd), X->dzall = TAKE(N * 5 * Dm);
        X->dxnf = TAKE(N * C), X->dX = TAKE(N * C), X->de0 = TAKE(N * C), X->du = TAKE(H * n);
    }
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

/* ---- small ops (the RWKV-specific ones; see also rwkv6_wkv.c) ---- */

/* y = x̂·w + b per group of n channels, x̂ = (x − mean)·rstd over the group (biased variance).
 * rows of n floats; the weight of row r, channel i is w[(r % groups)·n + i]. LayerNorm is
 * groups = 1, n = C; RWKV's per-head GroupNorm is rows N·H, groups H, n the head size. */
static void gnorm_forward(float *y, float *mu, float *rs, const float *x, const float *w, const float *b,
                          int64_t rows, int64_t groups, int64_t n, float eps) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        double s = 0, q = 0;
        for (int64_t i = 0; i < n; i++) s += xr[i];
        const double m = s / (double)n;
        for (int64_t i = 0; i < n; i++) q += (xr[i] - m) * (xr[i] - m);
        const float rstd = (float)(1.0 / sqrt(q / (double)n + eps));
        mu[r] = (float)m, rs[r] = rstd;
        const float *wr = w + (r % groups) * n, *br = b + (r % groups) * n;
        for (int64_t i = 0; i < n; i++) y[r * n + i] = (xr[i] - (float)m) * rstd * wr[i] + br[i];
    }
}

/* dx += ∂L/∂x; dw, db += (NULL: frozen), from dy and the forward's x, mu, rs */
static void gnorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *mu,
                           const float *rs, const float *w, int64_t rows, int64_t groups, int64_t n) {
    if (dx) {
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = x + r * n, *dr = dy + r * n, *wr = w + (r % groups) * n;
            float a = 0, bb = 0;
            for (int64_t i = 0; i < n; i++) {
                const float xh = (xr[i] - mu[r]) * rs[r], g = dr[i] * wr[i];
                a += g;
                bb += g * xh;
            }
            a /= (float)n, bb /= (float)n;
            for (int64_t i = 0; i < n; i++) {
                const float xh = (xr[i] - mu[r]) * rs[r];
                dx[r * n + i] += rs[r] * (dr[i] * wr[i] - a - xh * bb);
            }
        }
    }
    if (!dw && !db) return;
    /* per weight element, summed over its rows in order: deterministic */
#pragma omp parallel for schedule(static)
    for (int64_t gi = 0; gi < groups * n; gi++) {
        const int64_t g = gi / n, i = gi % n;
        float sw = 0, sb = 0;
        for (int64_t r = g; r < rows; r += groups) {
            sw += dy[r * n + i] * (x[r * n + i] - mu[r]) * rs[r];
            sb += dy[r * n + i];
        }
        if (dw) dw[gi] += sw;
        if (db) db[gi] += sb;
    }
}

/* dd = shift(a) − a per sequence; the token before t = 0 is prev[b] (NULL: zeros) */
static void shift_delta(float *dd, const float *a, const float *prev, int64_t B, int64_t T, int64_t C) {
#pragma omp parallel for schedule(static)
    for (int64_t bt = 0; bt < B * T; bt++) {
        const int64_t b = bt / T, t = bt % T;
        const float *p = t > 0 ? a + (bt - 1) * C : prev ? prev + b * C : NULL;
        for (int64_t i = 0; i < C; i++) dd[bt * C + i] = (p ? p[i] : 0.0f) - a[bt * C + i];
    }
}

/* da += the gradient through dd = shift(a) − a, given ddd = ∂L/∂dd */
static void shift_backward(float *da, const float *ddd, int64_t B, int64_t T, int64_t C) {
#pragma omp parallel for schedule(static)
    for (int64_t bt = 0; bt < B * T; bt++) {
        const int64_t t = bt % T;
        for (int64_t i = 0; i < C; i++) da[bt * C + i] += -ddd[bt * C + i] + (t + 1 < T ? ddd[(bt + 1) * C + i] : 0.0f);
    }
}

/* dst[i] += Σ_rows a[r,i]·b[r,i] (b NULL: Σ a) — column sums in row order, deterministic */
static void colsum(float *dst, const float *a, const float *b, int64_t N, int64_t C) {
    if (!dst) return;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < C; i++) {
        float s = 0;
        for (int64_t r = 0; r < N; r++) s += a[r * C + i] * (b ? b[r * C + i] : 1.0f);
        dst[i] += s;
    }
}

static void tanh_inplace(float *x, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
}

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

/* ---- one block ---- */

static void layer_forward(bone_model *m, rw_acts *A, rw_lacts *s, rw_layer *ly, int64_t B, int64_t T, float *next,
                          rw_state *st, int keep_ckpt) {
    const bone_config *c = &m->cfg;
    const int64_t N = B * T, C = c->hidden, F = c->inter, H = c->n_heads, n = c->head_dim, Dm = c->d_mix,
                  Dd = c->d_decay;
    const float eps = (float)c->eps, geps = 1e-5f * (float)(c->head_div * c->head_div);
    bone_lin_ctx *lc = &m->lin;
    float *dd = A->s[S_DD], *mt = A->s[S_M];
    float *const *v = ly->v;
    /* TimeMix */
    gnorm_forward(s->a, s->mu1, s->rs1, s->x, v[RW_LN1_W], v[RW_LN1_B], N, 1, C, eps);
    shift_delta(dd, s->a, st ? st->att : NULL, B, T, C);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * C; i++) s->xxx[i] = s->a[i] + dd[i] * v[RW_MAA_X][i % C];
    gemm_nn(N, 5 * Dm, C, 1.0f, s->xxx, C, v[RW_MAA_W1], 5 * Dm, 0.0f, s->z, 5 * Dm);
    tanh_inplace(s->z, N * 5 * Dm);
    for (int j = 0; j < 5; j++) {
        gemm_nn(N, C, Dm, 1.0f, s->z + j * Dm, 5 * Dm, v[RW_MAA_W2] + j * Dm * C, C, 0.0f, mt, C);
        const float *maa = v[RW_MAA_W + j];
        float *xj = s->xm[j];
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < N * C; i++) xj[i] = s->a[i] + dd[i] * (maa[i % C] + mt[i]);
    }
    linear_forward(lc, &ly->lin[RW_R], s->xm[3], s->r, N);
    linear_forward(lc, &ly->lin[RW_K], s->xm[1], s->k, N);
    linear_forward(lc, &ly->lin[RW_V], s->xm[2], s->v, N);
    linear_forward(lc, &ly->lin[RW_G], s->xm[4], s->graw, N);
    gemm_nn(N, Dd, C, 1.0f, s->xm[0], C, v[RW_DECAY_W1], Dd, 0.0f, s->dz, Dd);
    tanh_inplace(s->dz, N * Dd);
    gemm_nn(N, C, Dd, 1.0f, s->dz, Dd, v[RW_DECAY_W2], C, 0.0f, s->logw, C);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * C; i++) s->logw[i] = -expf(v[RW_DECAY][i % C] + s->logw[i]);
    rwkv6_wkv_forward(s->y, s->r, s->k, s->v, s->logw, v[RW_FAAAA], st ? st->wkv : NULL, st ? st->wkv : NULL,
                      keep_ckpt ? s->ckpt : NULL, keep_ckpt ? RW_CHUNK : 0, B, T, H, n);
    gnorm_forward(mt, s->gmu, s->grs, s->y, v[RW_LNX_W], v[RW_LNX_B], N * H, H, n, geps);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * C; i++) s->og[i] = mt[i] * s->graw[i] * sigm(s->graw[i]);
    linear_forward(lc, &ly->lin[RW_O], s->og, s->x1, N);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * C; i++) s->x1[i] += s->x[i];
    /* ChannelMix */
    gnorm_forward(s->b, s->mu2, s->rs2, s->x1, v[RW_LN2_W], v[RW_LN2_B], N, 1, C, eps);
    shift_delta(dd, s->b, st ? st->ffn : NULL, B, T, C);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * C; i++) {
        s->fxk[i] = s->b[i] + dd[i] * v[RW_FMAA_K][i % C];
        s->fxr[i] = s->b[i] + dd[i] * v[RW_FMAA_R][i % C];
    }
    linear_forward(lc, &ly->lin[RW_FK], s->fxk, s->kk, N);
    linear_forward(lc, &ly->lin[RW_FR], s->fxr, s->rr, N);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * F; i++) A->hk[i] = s->kk[i] > 0 ? s->kk[i] * s->kk[i] : 0.0f;
    linear_forward(lc, &ly->lin[RW_FV], A->hk, s->vv, N);
    if (st)
        for (int64_t b = 0; b < B; b++) { /* the shift state: the last normalised inputs */
            memcpy(st->att + b * C, s->a + (b * T + T - 1) * C, (size_t)C * sizeof(float));
            memcpy(st->ffn + b * C, s->b + (b * T + T - 1) * C, (size_t)C * sizeof(float));
        }
    if (!next) return;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * C; i++) next[i] = s->x1[i] + sigm(s->rr[i]) * s->vv[i];
}

/* A->dX holds ∂L/∂(block output) on entry and ∂L/∂(block input) on return */
static void layer_backward(bone_model *m, rw_acts *A, rw_lacts *s, rw_layer *ly, int64_t B, int64_t T) {
    const bone_config *c = &m->cfg;
    const int64_t N = B * T, C = c->hidden, F = c->inter, H = c->n_heads, n = c->head_dim, Dm = c->d_mix,
                  Dd = c->d_decay;
    bone_lin_ctx *lc = &m->lin;
    float *const *v = ly->v;
    float *const *d = ly->d;
    float **S = A->s;
    float *dX = A->dX, *dd = S[S_DD], *mt = S[S_M];
    const size_t NC = (size_t)(N * C) * sizeof(float);
    /* ChannelMix: out = x1 + σ(rr)⊙vv */
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * C; i++) {
        const float sr = sigm(s->rr[i]);
        S[S_DVV][i] = dX[i] * sr;
        S[S_DRR][i] = dX[i] * s->vv[i] * sr * (1.0f - sr);
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * F; i++) A->hk[i] = s->kk[i] > 0 ? s->kk[i] * s->kk[i] : 0.0f;
    memset(A->dhk, 0, (size_t)(N * F) * sizeof(float));
    linear_backward(lc, &ly->lin[RW_FV], A->hk, S[S_DVV], A->dhk, N);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * F; i++) A->dhk[i] *= s->kk[i] > 0 ? 2.0f * s->kk[i] : 0.0f;
    memset(S[S_DFXK], 0, NC);
    memset(S[S_DFXR], 0, NC);
    linear_backward(lc, &ly->lin[RW_FK], s->fxk, A->dhk, S[S_DFXK], N);
    linear_backward(lc, &ly->lin[RW_FR], s->fxr, S[S_DRR], S[S_DFXR], N);
    shift_delta(dd, s->b, NULL, B, T, C);
    colsum(d[RW_FMAA_K], S[S_DFXK], dd, N, C);
    colsum(d[RW_FMAA_R], S[S_DFXR], dd, N, C);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * C; i++) {
        S[S_DB][i] = S[S_DFXK][i] + S[S_DFXR][i];
        S[S_DDD][i] = S[S_DFXK][i] * v[RW_FMAA_K][i % C] + S[S_DFXR][i] * v[RW_FMAA_R][i % C];
    }
    shift_backward(S[S_DB], S[S_DDD], B, T, C);
    gnorm_backward(dX, d[RW_LN2_W], d[RW_LN2_B], S[S_DB], s->x1, s->mu2, s->rs2, v[RW_LN2_W], N, 1, C); /* dX = ∂L/∂x1 */
    /* TimeMix: x1 = x + W_o(GN(y)⊙silu(graw)) */
    memset(S[S_DOG], 0, NC);
    linear_backward(lc, &ly->lin[RW_O], s->og, dX, S[S_DOG], N);
    /* the GroupNorm output again (not kept): x̂·w + b from y and its stats */
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < N * H; r++)
        for (int64_t i = 0; i < n; i++) {
            const int64_t ch = (r % H) * n + i;
            mt[r * n + i] = (s->y[r * n + i] - s->gmu[r]) * s->grs[r] * v[RW_LNX_W][ch] + v[RW_LNX_B][ch];
        }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * C; i++) {
        const float gr = s->graw[i], sg = sigm(gr), dog = S[S_DOG][i];
        S[S_DGRAW][i] = dog * mt[i] * sg * (1.0f + gr * (1.0f - sg)); /* silu' = σ(1 + x(1 − σ)) */
        S[S_DOG][i] = dog * gr * sg;                                     /* ∂L/∂(GN output) */
    }
    memset(S[S_DY], 0, NC);
    gnorm_backward(S[S_DY], d[RW_LNX_W], d[RW_LNX_B], S[S_DOG], s->y, s->gmu, s->grs, v[RW_LNX_W], N * H, H, n);
    float *du = d[RW_FAAAA] ? d[RW_FAAAA] : A->du;
    rwkv6_wkv_backward(S[S_DR], S[S_DK], S[S_DV], S[S_DLOGW], du, S[S_DY], s->r, s->k, s->v, s->logw, v[RW_FAAAA],
                       s->ckpt, RW_CHUNK, B, T, H, n);
    /* logw = −exp(w_raw): ∂w_raw = ∂logw·logw */
    float *dwr = S[S_DLOGW];
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * C; i++) dwr[i] *= s->logw[i];
    colsum(d[RW_DECAY], dwr, NULL, N, C);
    if (d[RW_DECAY_W2]) gemm_tn(Dd, C, N, 1.0f, s->dz, Dd, dwr, C, 1.0f, d[RW_DECAY_W2], C);
    gemm_nt(N, Dd, C, 1.0f, dwr, C, v[RW_DECAY_W2], C, 0.0f, A->ddz, Dd);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * Dd; i++) A->ddz[i] *= 1.0f - s->dz[i] * s->dz[i];
    if (d[RW_DECAY_W1]) gemm_tn(C, Dd, N, 1.0f, s->xm[0], C, A->ddz, Dd, 1.0f, d[RW_DECAY_W1], Dd);
    float *const *dxm = &S[S_DXM0];
    gemm_nt(N, C, Dd, 1.0f, A->ddz, Dd, v[RW_DECAY_W1], Dd, 0.0f, dxm[0], C);
    for (int j = 1; j < 5; j++) memset(dxm[j], 0, NC);
    linear_backward(lc, &ly->lin[RW_R], s->xm[3], S[S_DR], dxm[3], N);
    linear_backward(lc, &ly->lin[RW_K], s->xm[1], S[S_DK], dxm[1], N);
    linear_backward(lc, &ly->lin[RW_V], s->xm[2], S[S_DV], dxm[2], N);
    linear_backward(lc, &ly->lin[RW_G], s->xm[4], S[S_DGRAW], dxm[4], N);
    /* the ddlerp: x_j = a + dd⊙(maa_j + z_j·W2[j]) */
    shift_delta(dd, s->a, NULL, B, T, C);
    float *da = S[S_DB], *ddd = S[S_DDD];
    memset(da, 0, NC);
    memset(ddd, 0, NC);
    for (int j = 0; j < 5; j++) {
        const float *W2j = v[RW_MAA_W2] + j * Dm * C, *maa = v[RW_MAA_W + j];
        gemm_nn(N, C, Dm, 1.0f, s->z + j * Dm, 5 * Dm, W2j, C, 0.0f, mt, C);
        colsum(d[RW_MAA_W + j], dxm[j], dd, N, C);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < N * C; i++) {
            da[i] += dxm[j][i];
            ddd[i] += dxm[j][i] * (maa[i % C] + mt[i]);
            mt[i] = dxm[j][i] * dd[i]; /* ∂m_j */
        }
        if (d[RW_MAA_W2]) gemm_tn(Dm, C, N, 1.0f, s->z + j * Dm, 5 * Dm, mt, C, 1.0f, d[RW_MAA_W2] + j * Dm * C, C);
        gemm_nt(N, Dm, C, 1.0f, mt, C, W2j, C, 0.0f, A->dzall + j * Dm, 5 * Dm);
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * 5 * Dm; i++) A->dzall[i] *= 1.0f - s->z[i] * s->z[i];
    if (d[RW_MAA_W1]) gemm_tn(C, 5 * Dm, N, 1.0f, s->xxx, C, A->dzall, 5 * Dm, 1.0f, d[RW_MAA_W1], 5 * Dm);
    gemm_nt(N, C, 5 * Dm, 1.0f, A->dzall, 5 * Dm, v[RW_MAA_W1], 5 * Dm, 0.0f, S[S_DXXX], C);
    colsum(d[RW_MAA_X], S[S_DXXX], dd, N, C);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * C; i++) {
        da[i] += S[S_DXXX][i];
        ddd[i] += S[S_DXXX][i] * v[RW_MAA_X][i % C];
    }
    shift_backward(da, ddd, B, T, C);
    gnorm_backward(dX, d[RW_LN1_W], d[RW_LN1_B], da, s->x, s->mu1, s->rs1, v[RW_LN1_W], N, 1, C); /* + residual */
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
    gnorm_forward(x, A->mu0, A->rs0, A->e0, r->g[RW_LN0_W], r->g[RW_LN0_B], N, 1, C, eps);
    for (int64_t l = 0; l < L; l++) {
        rw_lacts *s = &A->la[l];
        if (s->x != x) memcpy(s->x, x, (size_t)(N * C) * sizeof(float));
        float *next = (train && l + 1 < L) ? A->la[l + 1].x : A->xf;
        layer_forward(m, A, s, &r->ly[l], B, T, next, NULL, train);
        x = next;
    }
    if (x != A->xf) memcpy(A->xf, x, (size_t)(N * C) * sizeof(float));
    gnorm_forward(A->xnf, A->muf, A->rsf, A->xf, r->g[RW_LNO_W], r->g[RW_LNO_B], N, 1, C, LN_OUT_EPS);
    if (train) memset(A->dxnf, 0, (size_t)(N * C) * sizeof(float));
    *loss_sum = xent_forward_backward_w(A->xnf, m->lm_head, b->targets, N, C, V, grad_scale, train ? A->dxnf : NULL,
                                        train ? m->d_lm_head : NULL, logits, count, &A->xws);
    if (!train) return 0;
    /* ---- backward ---- */
    memset(A->dX, 0, (size_t)(N * C) * sizeof(float));
    memset(A->du, 0, (size_t)c->hidden * sizeof(float));
    gnorm_backward(A->dX, r->dg[RW_LNO_W], r->dg[RW_LNO_B], A->dxnf, A->xf, A->muf, A->rsf, r->g[RW_LNO_W], N, 1, C);
    for (int64_t l = L - 1; l >= 0; l--) {
        rw_lacts *s = &A->la[l];
        if (A->layout == 2) layer_forward(m, A, s, &r->ly[l], B, T, NULL, NULL, 1);
        layer_backward(m, A, s, &r->ly[l], B, T);
    }
    if (m->d_embed || r->dg[RW_LN0_W] || r->dg[RW_LN0_B]) {
        memset(A->de0, 0, (size_t)(N * C) * sizeof(float));
        gnorm_backward(A->de0, r->dg[RW_LN0_W], r->dg[RW_LN0_B], A->dX, A->e0, A->mu0, A->rs0, r->g[RW_LN0_W], N, 1, C);
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

int rwkv6_decode(bone_model *m, bone_kv *kv, const int32_t *ids, int64_t n, float *logits, bone_err *e) {
    const bone_config *c = &m->cfg;
    rw_model *r = m->arch_data;
    const int64_t C = c->hidden, V = c->vocab, L = c->n_layers, P = state_per_layer(c);
    if (n < 1) return bone_fail(e, "decode: no tokens");
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return bone_fail(e, "token id %d is outside the vocabulary [0, %lld)", ids[i], (long long)V);
    rw_acts *A = acts_ensure(NULL, c, 1, n, 0, 0);
    m->lin.training = 0;
    embedding_forward(A->e0, m->embed, ids, n, C);
    float *x = A->la[0].x;
    gnorm_forward(x, A->mu0, A->rs0, A->e0, r->g[RW_LN0_W], r->g[RW_LN0_B], n, 1, C, (float)c->eps);
    for (int64_t l = 0; l < L; l++) {
        rw_lacts *s = &A->la[l];
        if (s->x != x) memcpy(s->x, x, (size_t)(n * C) * sizeof(float));
        float *sl = kv->state + l * P;
        rw_state st = {sl, sl + C, sl + 2 * C};
        layer_forward(m, A, s, &r->ly[l], 1, n, A->xf, &st, 0);
        x = A->xf;
    }
    /* only the last token's logits: ln_out of one row, then the head a tile of rows at a time
     * (a bf16 head is never converted whole) */
    const float *xl = A->xf + (n - 1) * C;
    float mu, rs, *xn = A->xnf;
    gnorm_forward(xn, &mu, &rs, xl, r->g[RW_LNO_W], r->g[RW_LNO_B], 1, 1, C, LN_OUT_EPS);
    const int64_t tile = 1024;
    float *buf = m->lm_head.dtype == BONE_F32 ? NULL : xmalloc((size_t)(tile * C) * sizeof(float));
    for (int64_t v0 = 0; v0 < V; v0 += tile) {
        const int64_t nv = V - v0 < tile ? V - v0 : tile;
        bone_wref w = {m->lm_head.dtype, (const char *)m->lm_head.data + (size_t)(v0 * C) * bone_dtype_size(m->lm_head.dtype)};
        const float *W = wref_f32(w, buf, nv * C);
        gemm_nt(1, nv, C, 1.0f, xn, C, W, C, 0.0f, logits + v0, nv);
    }
    free(buf);
    acts_free(A);
    kv->n += n;
    return 0;
}
