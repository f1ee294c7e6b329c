/* ops.h — the model's layer ops on plain fp32 arrays, each a forward/backward pair.
 * Backward functions ACCUMULATE (+=) into dx and parameter gradients (NULL = not needed),
 * so residual branches add into one buffer. Reductions run in a fixed order for a fixed
 * thread count, so results are deterministic. */
#ifndef BONE_OPS_OPS_H
#define BONE_OPS_OPS_H
#include <stdint.h>
#include "ops/gemm.h"

/* y = x / sqrt(mean(x²) + eps) · w */
void rmsnorm_forward(float *y,          // (N, H)
                     float *rstd,       // (N) saved for backward
                     const float *x,    // (N, H)
                     const float *w,    // (H)
                     int64_t N, int64_t H, float eps);
/* y = x·rstd·w from a kept rstd: exactly the values rmsnorm_forward wrote (the same float
 * expression), so backward can recompute a normalised input instead of storing it. */
void rmsnorm_apply(float *y,              // (N, H)
                   const float *x,        // (N, H)
                   const float *rstd,     // (N)
                   const float *w,        // (H)
                   int64_t N, int64_t H);
void rmsnorm_backward(float *dx,        // (N, H) +=
                      float *dw,        // (H) += or NULL
                      const float *dy,  // (N, H)
                      const float *x,   // (N, H)
                      const float *w,   // (H)
                      const float *rstd,// (N)
                      int64_t N, int64_t H);

/* RoPE tables: cos/sin (T, d/2) for positions 0..T-1, HF inv_freq with optional scaling. */
typedef struct bone_rope {
    int64_t T, half;
    float *cos, *sin; /* (T, half) */
} bone_rope;
struct bone_config;
void rope_build(bone_rope *r, const struct bone_config *c, int64_t T);
void rope_free(bone_rope *r);
/* In place on x (B·T, nheads, d) with HF rotate_half pairing (i, i+d/2); position = t. */
void rope_forward(float *x, const bone_rope *r, int64_t B, int64_t T, int64_t nheads, int64_t d);
/* In place: the transpose rotation, turning d(rotated) into d(unrotated). */
void rope_backward(float *dx, const bone_rope *r, int64_t B, int64_t T, int64_t nheads, int64_t d);

/* Causal GQA attention over right-padded sequences (rows/cols >= len[b] are ignored; their
 * outputs are zero). Never holds more than one T×T score block per thread. */
void attention_forward(float *out,        // (B·T, nh·d)
                       float *lse,        // (B, nh, T) log-sum-exp of scaled scores, for backward
                       const float *q,    // (B·T, nh·d)  (RoPE applied)
                       const float *k,    // (B·T, nkv·d) (RoPE applied)
                       const float *v,    // (B·T, nkv·d)
                       const int64_t *len,// (B)
                       int64_t B, int64_t T, int64_t nh, int64_t nkv, int64_t d);
void attention_backward(float *dq,        // (B·T, nh·d)  +=
                        float *dk,        // (B·T, nkv·d) +=
                        float *dv,        // (B·T, nkv·d) +=
                        const float *dout,// (B·T, nh·d)
                        const float *out, // (B·T, nh·d)
                        const float *lse, // (B, nh, T)
                        const float *q, const float *k, const float *v, const int64_t *len,
                        int64_t B, int64_t T, int64_t nh, int64_t nkv, int64_t d);

/* h = silu(g) ⊙ u */
void swiglu_forward(float *h, const float *g, const float *u, int64_t n);
void swiglu_backward(float *dg,       // (n) overwritten
                     float *du,       // (n) overwritten
                     const float *dh, const float *g, const float *u, int64_t n);

/* h[n] = E[ids[n]] (rows converted to fp32) */
void embedding_forward(float *h,             // (N, H)
                       bone_wref E,          // (V, H)
                       const int32_t *ids,   // (N)
                       int64_t N, int64_t H);
void embedding_backward(float *dE,           // (V, H) +=
                        const float *dh,     // (N, H)
                        const int32_t *ids, int64_t N, int64_t H);

/* Cross-entropy of logits = x·Wᵀ against targets (-100 = ignored), chunked over tokens so
 * the full (N, V) logits never exist at once. Returns the SUM of losses over counted
 * tokens (double) and their count. With dx/dW non-NULL also runs backward with
 * dloss = grad_scale per counted token: dx += dlogits·W, dW += dlogitsᵀ·x.
 * If logits_out is non-NULL, writes all (N, V) logits (forward only). */
double xent_forward_backward(const float *x,       // (N, H)
                             const float *W,       // (V, H) fp32
                             const int32_t *targets, // (N)
                             int64_t N, int64_t H, int64_t V, float grad_scale,
                             float *dx,            // (N, H) += or NULL
                             float *dW,            // (V, H) += or NULL
                             float *logits_out,    // (N, V) or NULL
                             int64_t *count);
/* Working memory of the cross-entropy (the chunk's logits: 32 MiB at V = 32000 for a trained
 * head's 256 rows, 128 MiB for a frozen head's 1024). buf is owned and kept across steps, so
 * its pages are not faulted in again every step. borrow, when set, is memory the caller lends
 * for this call (training lends its backward scratch, unused until the loss is known): when
 * it holds at least 64 rows the logits go there — in chunks as large as fit, up to
 * xent_chunk_rows() — and buf is not needed at all, so the loss adds nothing to peak memory.
 * Zero-initialise; release with xent_ws_free. */
typedef struct xent_ws {
    float *buf;
    size_t cap;        // floats
    float *borrow;     // not owned
    size_t borrow_cap; // floats
    struct bone_backend *be; // the GEMM backend (not owned); NULL: OpenBLAS fp32
} xent_ws;
void xent_ws_free(xent_ws *ws);
/* Rows of logits per chunk: up to 1024 (128 MiB of logits) for a frozen head, 256 when the
 * head trains (dW non-NULL); see xent.c. */
int64_t xent_chunk_rows(int64_t V, int head_trains);
/* Floats of working memory xent uses at most for N tokens (full-size chunks): what a lent
 * block must hold for the loss to run at its best chunk size. */
/* Decode: one query head against the first P cached positions, o = softmax(q·Kᵀ·scale)·V; K and
 * V rows kstride floats apart, already offset to the head's slice. q, o (d); K, V (P, kstride);
 * sc (P) scratch. */
void attention_cached_head(float *o, const float *q, const float *K, const float *V, int64_t P, int64_t kstride,
                           int64_t d, float scale, float *sc);
/* Floats of attention's per-thread working memory for sequences of T (the backward's, the larger). */
size_t attention_ws_floats(int64_t T);
size_t xent_ws_floats(int64_t N, int64_t H, int64_t V, bone_dtype head_dtype, int head_trains);
/* The same with the lm_head in its stored dtype: a bf16/f16 head is converted XENT_VTILE
 * rows at a time and never held whole in fp32. dW must be NULL unless W is fp32.
 * ws may be NULL (working memory allocated for this call only). */
double xent_forward_backward_w(const float *x,     // (N, H)
                               bone_wref W,        // (V, H)
                               const int32_t *targets, int64_t N, int64_t H, int64_t V, float grad_scale,
                               float *dx, float *dW, float *logits_out, int64_t *count, xent_ws *ws);

#endif
