/* rwkv6_ops.h — the numerical ops of RWKV-6 "Finch" (docs FORMATS.md §6), as forward/backward
 * pairs on plain fp32 arrays, in the style of ops.h. This header owns the contract; the code is
 * in rwkv6_norm.c (LayerNorm, GroupNorm), rwkv6_mix.c (token shift, lerp, ddlerp, decay,
 * gates) and wkv6.c (the WKV6 recurrence, sequential and chunked).
 *
 * Conventions (all ops):
 *  - Activations are (B,T,C) row-major, i.e. N = B·T rows of C floats; a per-head slice is
 *    channels [h·hs, (h+1)·hs) of a row, with hs the head size (a runtime parameter) and
 *    H = C / hs heads.
 *  - Forward outputs are OVERWRITTEN. Backward outputs (dx and every parameter gradient) are
 *    ACCUMULATED (+=), as in llm.c, so residual branches and parameters shared across calls
 *    add into one buffer. Any parameter-gradient pointer may be NULL (a frozen parameter):
 *    that gradient is then neither computed nor written. Activation gradients (dx, ddelta,
 *    dr, ...) must not be NULL unless the comment says so.
 *  - "saved": a buffer the forward fills and the backward reads; the caller owns it (and
 *    sizes it from the shape comment). "ws": scratch the caller lends for one call; its size
 *    in floats comes from the *_ws_floats helper; ws == NULL makes the op allocate it for
 *    this call only. Helpers that depend on the thread count use omp_get_max_threads(), so
 *    call them in the same threading context as the op.
 *  - Reductions over rows (parameter gradients) run in a fixed order for a fixed thread
 *    count, so results are deterministic. WKV6's results do not depend on the thread count.
 *  - ws buffers must be aligned for double (malloc's are): WKV6 keeps double sums there.
 *  - In-place: no op may write an output that aliases one of its inputs, except where said
 *    (wkv6_seq_forward's s_out == s0).
 *
 * How a block composes them (one layer, x (N,C) the residual stream, N = B·T):
 *   TimeMix:   xa = LN_ln1(x); delta = tokenshift(xa, prev_att); xo = ddlerp(xa, delta)
 *              r,k,v = x_r·W_rᵀ, x_k·W_kᵀ, x_v·W_vᵀ; gp = x_g·W_gᵀ     (gemm.h, adapters)
 *              logw = decay(x_w); y = wkv6_chunked(r, k, v, logw, time_faaaa, state)
 *              o = groupnorm(y; hs, 1e-5·head_size_divisor²); h = silu_mul(gp, o)
 *              x += h·W_oᵀ
 *   ChannelMix: xf = LN_ln2(x); delta = tokenshift(xf, prev_ffn)
 *              xk = lerp(xf, delta, maa_k); xr = lerp(xf, delta, maa_r)
 *              kk = relu2(xk·W_keyᵀ); x += sigmoid_mul(xr·W_recᵀ, kk·W_valᵀ)
 * The backward runs the same calls in reverse; since every backward accumulates, dxa (say)
 * gets ddlerp's dx, then token shift's dx (via ddelta), in any order, before LN_ln1's
 * backward reads it. Generation carries prev_att, prev_ffn (last normalised inputs, (B,C))
 * and the WKV state (B,H,hs,hs) from call to call (tokenshift's prev, wkv's s0/s_out).
 */
#ifndef BONE_OPS_RWKV6_OPS_H
#define BONE_OPS_RWKV6_OPS_H
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------------------
 * LayerNorm with weight and bias (ln0, ln1, ln2, ln_out):
 *   y = (x − mean) · rstd · w + b,  mean and biased variance over C, rstd = 1/sqrt(var + eps)
 * --------------------------------------------------------------------------------------- */
void layernorm_forward(float *y,          // (N, C) overwritten
                       float *mean,       // (N) saved
                       float *rstd,       // (N) saved
                       const float *x,    // (N, C)
                       const float *w,    // (C)
                       const float *b,    // (C)
                       int64_t N, int64_t C, float eps);
void layernorm_backward(float *dx,         // (N, C) +=
                        float *dw,         // (C) += or NULL
                        float *db,         // (C) += or NULL
                        const float *dy,   // (N, C)
                        const float *x,    // (N, C)
                        const float *w,    // (C)
                        const float *mean, // (N)
                        const float *rstd, // (N)
                        int64_t N, int64_t C);

/* ---------------------------------------------------------------------------------------
 * Per-head GroupNorm (ln_x): groups = H = C / hs, each normalised over its hs channels with
 * its own mean and biased variance, then the per-CHANNEL affine w, b (length C). The caller
 * decides eps (RWKV-6: 1e-5 · head_size_divisor²).
 * --------------------------------------------------------------------------------------- */
void groupnorm_forward(float *y,          // (N, C) overwritten
                       float *mean,       // (N, H) saved
                       float *rstd,       // (N, H) saved
                       const float *x,    // (N, C)
                       const float *w,    // (C)
                       const float *b,    // (C)
                       int64_t N, int64_t C, int64_t hs, float eps);
void groupnorm_backward(float *dx,         // (N, C) +=
                        float *dw,         // (C) += or NULL
                        float *db,         // (C) += or NULL
                        const float *dy,   // (N, C)
                        const float *x,    // (N, C)
                        const float *w,    // (C)
                        const float *mean, // (N, H)
                        const float *rstd, // (N, H)
                        int64_t N, int64_t C, int64_t hs);

/* ---------------------------------------------------------------------------------------
 * Token shift: delta[b,t] = x[b,t−1] − x[b,t], where x[b,−1] = prev[b] (the last normalised
 * input of the previous chunk of sequence b, for stateful continuation) or 0 when prev is
 * NULL. x is the NORMALISED sub-block input (ln1 / ln2 output).
 * --------------------------------------------------------------------------------------- */
void tokenshift_forward(float *delta,       // (B, T, C) overwritten
                        const float *x,     // (B, T, C)
                        const float *prev,  // (B, C) or NULL (zeros)
                        int64_t B, int64_t T, int64_t C);
/* dx[b,t] += ddelta[b,t+1] − ddelta[b,t] (the first term only for t < T−1);
 * dprev[b] += ddelta[b,0] (dprev may be NULL). */
void tokenshift_backward(float *dx,           // (B, T, C) +=
                         float *dprev,        // (B, C) += or NULL
                         const float *ddelta, // (B, T, C)
                         int64_t B, int64_t T, int64_t C);

/* ---------------------------------------------------------------------------------------
 * Static lerp (ChannelMix's x_k, x_r): y = x + delta ⊙ maa.
 * --------------------------------------------------------------------------------------- */
void lerp_forward(float *y,            // (N, C) overwritten
                  const float *x,      // (N, C)
                  const float *delta,  // (N, C)
                  const float *maa,    // (C)
                  int64_t N, int64_t C);
void lerp_backward(float *dx,          // (N, C) +=
                   float *ddelta,      // (N, C) +=
                   float *dmaa,        // (C) += or NULL
                   const float *dy,    // (N, C)
                   const float *delta, // (N, C)
                   const float *maa,   // (C)
                   int64_t N, int64_t C);

/* ---------------------------------------------------------------------------------------
 * ddlerp, TimeMix's data-dependent 5-way token mix (FORMATS.md §6.3 step 1), D = D_MIX:
 *   xxx = x + delta ⊙ maa_x
 *   z   = tanh(xxx @ W1)                 W1 stored (C, 5D), used as x @ W1; z (N, 5D)
 *   m_j = z[:, jD:(j+1)D] @ W2[j]        W2 stored (5, D, C)
 *   xo_j = x + delta ⊙ (maa[j] + m_j)    j = 0..4 in the order w, k, v, r, g
 * maa is an array of 5 pointers (time_maa_w, _k, _v, _r, _g), each (C); xo is 5 contiguous
 * (N, C) blocks: x_w = xo, x_k = xo + N·C, ..., x_g = xo + 4·N·C.
 * Saved: z. The backward recomputes xxx and m_j from x, delta, z (no other state).
 * --------------------------------------------------------------------------------------- */
void ddlerp_forward(float *xo,                   // (5, N, C) overwritten
                    float *z,                    // (N, 5D) saved
                    const float *x,              // (N, C)
                    const float *delta,          // (N, C)
                    const float *maa_x,          // (C)
                    const float *const maa[5],   // 5 × (C): w, k, v, r, g
                    const float *W1,             // (C, 5D)
                    const float *W2,             // (5, D, C)
                    int64_t N, int64_t C, int64_t D);
/* Scratch floats for ddlerp_backward: N·(3C + 5D). */
size_t ddlerp_backward_ws_floats(int64_t N, int64_t C, int64_t D);
/* dmaa may be NULL (no per-branch maa gradients), or an array whose entries may be NULL. */
void ddlerp_backward(float *dx,                  // (N, C) +=
                     float *ddelta,              // (N, C) +=
                     float *dmaa_x,              // (C) += or NULL
                     float *const dmaa[5],       // 5 × (C) += (array or entries NULL)
                     float *dW1,                 // (C, 5D) += or NULL
                     float *dW2,                 // (5, D, C) += or NULL
                     const float *dxo,           // (5, N, C)
                     const float *x,             // (N, C)
                     const float *delta,         // (N, C)
                     const float *maa_x,         // (C)
                     const float *const maa[5],  // 5 × (C)
                     const float *W1,            // (C, 5D)
                     const float *W2,            // (5, D, C)
                     const float *z,             // (N, 5D) from the forward
                     int64_t N, int64_t C, int64_t D,
                     float *ws);                 // ddlerp_backward_ws_floats or NULL

/* ---------------------------------------------------------------------------------------
 * Data-dependent decay (FORMATS.md §6.3 step 3), D = D_DECAY, in log space:
 *   hd   = tanh(x_w @ Wd1)                          Wd1 stored (C, D), hd (N, D)
 *   logw = −exp(time_decay + hd @ Wd2)              Wd2 stored (D, C); logw (N, C) < 0
 * so the per-step decay is w = exp(logw) ∈ (0,1); WKV6 below takes logw.
 * Saved: hd and logw itself (∂logw/∂w_raw = logw).
 * --------------------------------------------------------------------------------------- */
void decay_forward(float *logw,             // (N, C) overwritten (also saved)
                   float *hd,               // (N, D) saved
                   const float *xw,         // (N, C)
                   const float *time_decay, // (C)
                   const float *Wd1,        // (C, D)
                   const float *Wd2,        // (D, C)
                   int64_t N, int64_t C, int64_t D);
/* Scratch floats for decay_backward: N·(C + D). */
size_t decay_backward_ws_floats(int64_t N, int64_t C, int64_t D);
void decay_backward(float *dxw,             // (N, C) +=
                    float *dtime_decay,     // (C) += or NULL
                    float *dWd1,            // (C, D) += or NULL
                    float *dWd2,            // (D, C) += or NULL
                    const float *dlogw,     // (N, C)
                    const float *logw,      // (N, C) from the forward
                    const float *hd,        // (N, D) from the forward
                    const float *xw,        // (N, C)
                    const float *Wd1,       // (C, D)
                    const float *Wd2,       // (D, C)
                    int64_t N, int64_t C, int64_t D,
                    float *ws);             // decay_backward_ws_floats or NULL

/* ---------------------------------------------------------------------------------------
 * Elementwise: squared ReLU (ChannelMix key), and the two gates.
 * --------------------------------------------------------------------------------------- */
/* y = max(x, 0)² */
void relu2_forward(float *y, const float *x, int64_t n);
void relu2_backward(float *dx /* += */, const float *dy, const float *x, int64_t n);
/* y = sigmoid(a) ⊙ b   (ChannelMix: σ(W_rec x_r) ⊙ (W_val relu²(W_key x_k))) */
void sigmoid_mul_forward(float *y, const float *a, const float *b, int64_t n);
void sigmoid_mul_backward(float *da /* += */, float *db /* += */, const float *dy, const float *a,
                          const float *b, int64_t n);
/* y = silu(a) ⊙ b      (TimeMix: GroupNorm(y) ⊙ silu(W_g x_g), a = W_g x_g) */
void silu_mul_forward(float *y, const float *a, const float *b, int64_t n);
void silu_mul_backward(float *da /* += */, float *db /* += */, const float *dy, const float *a,
                       const float *b, int64_t n);

/* ---------------------------------------------------------------------------------------
 * WKV6, one fused op (FORMATS.md §6.3 step 4 and §6.5). Per sequence b and head h, on the
 * hs-slices of r, k, v, logw, with bonus u[h] and state S (hs key i × hs value j, fp32):
 *   y_t[j]     = Σ_i r_t[i] · (u[i]·k_t[i]·v_t[j] + S_t[i][j])
 *   S_{t+1}    = exp(logw_t)[i] · S_t[i][j] + k_t[i]·v_t[j]
 *   S_0 = s0[b,h] (zeros when s0 is NULL); s_out[b,h] = S_T (not written when NULL).
 * States are laid out (B, H, hs, hs) row-major with the KEY index i first (rows) — the
 * layout of RWKV's time_state [H, hs, hs] per sequence.
 * u is time_faaaa flattened: (H, hs) = (C).
 *
 * Two forms with the same contract and results equal up to fp32 rounding:
 *   wkv6_seq_*     — the sequential scan over t (the reference). With T = 1 and a carried
 *                    state it is the single-token decode step; s_out may equal s0 (in place).
 *   wkv6_chunked_* — chunks of `chunk` tokens (any chunk ≥ 1; T need not be a multiple):
 *                    intra-chunk matrix products (gemm.h) on decays factored around the
 *                    chunk start from the cumulative log-decay, inter-chunk state passing
 *                    in fp32. A chunk whose cumulative decay would leave the range where
 *                    the factors are exact (|Σ logw| > 60, very strong decay) is cut into
 *                    shorter pieces, down to single tokens, so no decay overflows or
 *                    loses precision; the cut depends only on logw (same in backward).
 * Both parallelise over (b, h) with OpenMP; all scratch is per worker (ws sizes below
 * include omp_get_max_threads() workers). The chunked ws is about (T/chunk + 1 + chunk)·hs²
 * floats per worker (the backward's chunk-start states and the states inside one chunk),
 * plus B·C for du: 0.9 MiB per thread at T = 512, hs = 64, chunk = 32. chunk = 32 is the measured best of 16/32/64 at hs = 64
 * (bench/README.md). logw = −inf (w = 0) is valid in both forms.
 * The decode step is wkv6_seq_forward with T = 1 (the chunked form has no advantage there).
 *
 * Right-padded batches need no mask: outputs at t depend only on steps ≤ t, and padding
 * with dy = 0 there gets no gradient except through ds_out; s_out, though, is the state
 * after all T steps, padding included (a caller that continues a sequence passes its own T).
 *
 * Backward inputs: dy (B,T,C) and ds_out = ∂L/∂S_T (B,H,hs,hs) or NULL (final state unused).
 * Backward outputs (+=): dr, dk, dv, dlogw (B,T,C); du (C) or NULL; ds0 (B,H,hs,hs) or NULL
 * (the initial-state gradient, for state tuning). The backward recomputes every state it
 * needs from the inputs; nothing is saved by the forward.
 * --------------------------------------------------------------------------------------- */
void wkv6_seq_forward(float *y,            // (B, T, C) overwritten
                      float *s_out,        // (B, H, hs, hs) overwritten, or NULL
                      const float *r,      // (B, T, C)
                      const float *k,      // (B, T, C)
                      const float *v,      // (B, T, C)
                      const float *logw,   // (B, T, C), log decay (< 0)
                      const float *u,      // (C) = (H, hs)
                      const float *s0,     // (B, H, hs, hs) or NULL (zeros)
                      int64_t B, int64_t T, int64_t C, int64_t hs);
/* Scratch floats for wkv6_seq_backward. */
size_t wkv6_seq_ws_floats(int64_t B, int64_t T, int64_t C, int64_t hs);
void wkv6_seq_backward(float *dr, float *dk, float *dv, float *dlogw, // (B, T, C) +=
                       float *du,           // (C) += or NULL
                       float *ds0,          // (B, H, hs, hs) += or NULL
                       const float *dy,     // (B, T, C)
                       const float *ds_out, // (B, H, hs, hs) or NULL (zeros)
                       const float *r, const float *k, const float *v, const float *logw,
                       const float *u, const float *s0,
                       int64_t B, int64_t T, int64_t C, int64_t hs,
                       float *ws);          // wkv6_seq_ws_floats or NULL

/* Scratch floats for wkv6_chunked_forward / _backward (the larger of the two). */
size_t wkv6_chunked_ws_floats(int64_t B, int64_t T, int64_t C, int64_t hs, int64_t chunk);
void wkv6_chunked_forward(float *y, float *s_out,
                          const float *r, const float *k, const float *v, const float *logw,
                          const float *u, const float *s0,
                          int64_t B, int64_t T, int64_t C, int64_t hs, int64_t chunk,
                          float *ws);       // wkv6_chunked_ws_floats or NULL
void wkv6_chunked_backward(float *dr, float *dk, float *dv, float *dlogw,
                           float *du, float *ds0,
                           const float *dy, const float *ds_out,
                           const float *r, const float *k, const float *v, const float *logw,
                           const float *u, const float *s0,
                           int64_t B, int64_t T, int64_t C, int64_t hs, int64_t chunk,
                           float *ws);      // wkv6_chunked_ws_floats or NULL

#endif
