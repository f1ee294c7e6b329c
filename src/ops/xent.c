/* xent.c — lm_head + softmax cross-entropy, fused and chunked over tokens.
 *
 * Only tokens that carry a target take part in training (masked prompt tokens cost
 * nothing); they are gathered into chunks of at most xent_chunk_rows() rows so only that
 * many rows of logits exist at a time. Loss sums are in double; one vectorised exp per
 * logit (vexp.h) serves both the loss and the gradient.
 *
 * A frozen lm_head stored in bf16/f16 is never held whole in fp32: its products run over
 * XENT_VTILE vocabulary rows at a time, each tile converted into one fp32 buffer (8 MiB at
 * H = 512) — so the weight costs half the memory. Tiles are large because every tile is
 * one more threaded conversion and GEMM call per token chunk (on a loaded 2-core machine
 * 512-row tiles ran 2.4–8.6 s per step where 4096-row ones ran 1.5–2.3 s; bench/README.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "ops/backend.h"
#include "ops/ops.h"
#include "ops/vexp.h"

/* Rows of logits per chunk. Every chunk repacks the whole lm_head inside BLAS twice (logits
 * and dx), so fewer, larger chunks are faster: 1024 rows ran a lora step on bench's "small"
 * ~6 % faster than 256 (median of 6 alternating pairs). A frozen head (the adapter methods)
 * gets chunks of up to XENT_CHUNK_BYTES of logits (1024 rows at V = 32000, 256 at V = 128k);
 * a trained head (full fine-tuning, whose optimizer state already holds 4 copies of the
 * weights) keeps XENT_CHUNK rows: 1024 would add 96 MiB to its peak on "small". */
#define XENT_CHUNK 256
#define XENT_CHUNK_MAX 1024
#define XENT_CHUNK_BYTES ((int64_t)128 << 20)
#define XENT_VTILE 4096

/* The lm_head as the products see it: its stored-dtype weight and the backend that multiplies. */
typedef struct head {
    bone_wref w;     /* (V, H) */
    bone_backend *be;
    int64_t V, H;
} head;

/* Rows of the vocabulary tile starting at v0 (all V for an fp32 head; XENT_VTILE rows of a
 * 16-bit one, which the backend converts or reads in place) and those rows as a weight. */
static int64_t head_tile(const head *h, int64_t v0, bone_wref *Wt) {
    const int64_t V = h->V, H = h->H;
    const int64_t vt = h->w.dtype == BONE_F32 ? V - v0 : (V - v0 < XENT_VTILE ? V - v0 : XENT_VTILE);
    const size_t esz = h->w.dtype == BONE_F32 ? sizeof(float) : sizeof(uint16_t);
    *Wt = (bone_wref){h->w.dtype, (const char *)h->w.data + (size_t)(v0 * H) * esz};
    return vt;
}

/* lg (m, V) = xc (m, H)·Wᵀ */
static void head_nt(const head *h, int64_t m, const float *xc, float *lg) {
    const int64_t V = h->V, H = h->H;
    for (int64_t v0 = 0, vt; v0 < V; v0 += vt) {
        bone_wref Wt;
        vt = head_tile(h, v0, &Wt);
        bone_matmul_w(h->be, 'T', m, vt, H, 1.0f, xc, H, Wt, H, NULL, 0.0f, lg + v0, V);
    }
}

/* dxc (m, H) = lg (m, V)·W */
static void head_nn(const head *h, int64_t m, const float *lg, float *dxc) {
    const int64_t V = h->V, H = h->H;
    for (int64_t v0 = 0, vt; v0 < V; v0 += vt) {
        bone_wref Wt;
        vt = head_tile(h, v0, &Wt);
        bone_matmul_w(h->be, 'N', m, H, vt, 1.0f, lg + v0, V, Wt, H, NULL, v0 ? 1.0f : 0.0f, dxc, H);
    }
}

/* rows of the fp32 tile a 16-bit head needs (0 for an fp32 head) */
static int64_t vtile_rows(int64_t V, bone_dtype dt) { return dt != BONE_F32 ? (V < XENT_VTILE ? V : XENT_VTILE) : 0; }

/* floats of working memory for chunks of `chunk` rows: logits, gathered inputs, their
 * gradient, the tile; the one layout xent_forward_backward_w carves up */
static size_t ws_floats(int64_t chunk, int64_t H, int64_t V, int64_t vtile) {
    return (size_t)(chunk * (V + 2 * H) + vtile * H + 16);
}

double xent_forward_backward(const float *x, const float *W, const int32_t *targets, int64_t N, int64_t H,
                             int64_t V, float grad_scale, float *dx, float *dW, float *logits_out, int64_t *count) {
    return xent_forward_backward_w(x, (bone_wref){BONE_F32, W}, targets, N, H, V, grad_scale, dx, dW, logits_out,
                                   count, NULL);
}

int64_t xent_chunk_rows(int64_t V, int head_trains) {
    if (head_trains) return XENT_CHUNK;
    const int64_t rows = XENT_CHUNK_BYTES / ((V > 0 ? V : 1) * (int64_t)sizeof(float));
    return rows < XENT_CHUNK ? XENT_CHUNK : rows > XENT_CHUNK_MAX ? XENT_CHUNK_MAX : rows;
}

size_t xent_ws_floats(int64_t N, int64_t H, int64_t V, bone_dtype head_dtype, int head_trains) {
    const int64_t cr = xent_chunk_rows(V, head_trains), chunk = N < cr ? N : cr;
    return ws_floats(chunk, H, V, vtile_rows(V, head_dtype));
}

void xent_ws_free(xent_ws *ws) {
    if (!ws) return;
    free(ws->buf);
    ws->buf = NULL;
    ws->cap = 0;
}

double xent_forward_backward_w(const float *x, bone_wref Wr, const int32_t *targets, int64_t N, int64_t H, int64_t V,
                               float grad_scale, float *dx, float *dW, float *logits_out, int64_t *count, xent_ws *ws) {
    BONE_ASSERT(!dW || Wr.dtype == BONE_F32, "xent: a trained lm_head must be fp32");
    xent_ws local = {NULL, 0, NULL, 0, NULL};
    if (!ws) ws = &local;
    bone_backend *own = NULL; /* no backend given: the OpenBLAS fp32 one, for this call */
    bone_err be_err = {0};
    if (!ws->be) BONE_ASSERT(bone_backend_open_kind(BONE_BE_OPENBLAS, &own, &be_err) == 0, "xent: no GEMM backend");
    head hd = {Wr, ws->be ? ws->be : own, V, H};
    double total = 0.0;
    int64_t cnt = 0;
    int64_t *rows = xmalloc((size_t)(N + 1) * sizeof(int64_t));
    int64_t nr = 0;
    for (int64_t n = 0; n < N; n++)
        if (targets[n] >= 0) rows[nr++] = n;
    /* working memory: logits, gathered inputs, their gradient, a bf16 head's tile */
    const int64_t vtile = vtile_rows(V, Wr.dtype);
    const int64_t per_row = V + 2 * H, fixed = (int64_t)ws_floats(0, H, V, vtile);
    const int64_t cr = xent_chunk_rows(V, dW != NULL);
    int64_t chunk = nr < cr ? nr : cr;
    float *mem;
    const int64_t lend = ws->borrow ? ((int64_t)ws->borrow_cap - fixed) / per_row : 0; /* rows that fit */
    if (lend >= (chunk < 64 ? chunk : 64)) {
        if (lend < chunk) { /* equal chunks no larger than what fits */
            const int64_t nch = (nr + lend - 1) / lend;
            chunk = (nr + nch - 1) / nch;
        }
        mem = ws->borrow;
    } else {
        const size_t need = ws_floats(chunk, H, V, vtile);
        if (ws->cap < need) {
            free(ws->buf);
            ws->buf = xmalloc(need * sizeof(float));
            ws->cap = need;
        }
        mem = ws->buf;
    }
    float *lg = mem;                                  // (chunk, V) logits → dlogits
    float *xc = lg + chunk * V;                       // (chunk, H) gathered inputs
    float *dxc = dx ? xc + chunk * H : NULL;          // (chunk, H)
    /* (the vtile rows after dxc stay reserved in the layout: the backend's conversion tile
     * is the same size, so the memory plan's total still holds) */
    if (logits_out) head_nt(&hd, N, x, logits_out);
    double *rowloss = xmalloc((size_t)(chunk + 1) * sizeof(double));
    for (int64_t c0 = 0; c0 < nr; c0 += chunk) {
        int64_t m = nr - c0 < chunk ? nr - c0 : chunk;
        for (int64_t i = 0; i < m; i++) memcpy(xc + i * H, x + rows[c0 + i] * H, (size_t)H * sizeof(float));
        head_nt(&hd, m, xc, lg);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < m; i++) {
            float *l = lg + i * V;
            int32_t tgt = targets[rows[c0 + i]];
            const float lt = l[tgt];
            const float mx = bone_vmax(l, V);
            /* one exp per logit: e = exp(l − max) kept in place; softmax = e / Σe */
            const double sum = bone_vexp_sum(l, l, V, mx);
            rowloss[i] = (double)mx + log(sum) - (double)lt;
            if (dx || dW) {
                const float f = (float)((double)grad_scale / sum);
#pragma omp simd
                for (int64_t j = 0; j < V; j++) l[j] *= f;
                l[tgt] -= grad_scale;
            }
        }
        for (int64_t i = 0; i < m; i++) total += rowloss[i]; /* fixed order */
        cnt += m;
        if (dx) {
            head_nn(&hd, m, lg, dxc); // dx = dlogits·W
            for (int64_t i = 0; i < m; i++) {
                float *dst = dx + rows[c0 + i] * H;
                for (int64_t j = 0; j < H; j++) dst[j] += dxc[i * H + j];
            }
        }
        /* dW += dlogitsᵀ·x, XENT_VTILE vocabulary rows per call: one call over all V rows
         * makes OpenBLAS pack a V-wide panel, which touched 32 MiB more of its buffers
         * (peak RSS) than 4096-row calls at V = 32000 */
        for (int64_t v0 = 0; dW && v0 < V; v0 += XENT_VTILE) {
            const int64_t vt = V - v0 < XENT_VTILE ? V - v0 : XENT_VTILE;
            bone_gemm_tn(hd.be, vt, H, m, 1.0f, lg + v0, V, xc, H, 1.0f, dW + v0 * H, H);
        }
    }
    free(rows);
    free(rowloss);
    xent_ws_free(&local);
    bone_backend_free(own);
    *count = cnt;
    return total;
}
