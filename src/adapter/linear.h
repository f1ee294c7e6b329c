/* linear.h — THE choke point for every projection of the model.
 *
 * The model calls linear_forward/linear_backward on a bone_linear and never knows which
 * adapter (if any) is behind it. A linear without an adapter is frozen (or, for full
 * fine-tuning, has gradient buffers dw/dbias). An adapter plugs in by setting `ops` and
 * `adapter`; its forward/backward then replace the plain product. Adapter gradients
 * accumulate (+=) into the trainable-parameter gradient buffer; dx accumulates too, so
 * several projections that read one input (q, k, v) can share one dx. */
#ifndef BONE_ADAPTER_LINEAR_H
#define BONE_ADAPTER_LINEAR_H
#include <stdint.h>
#include "ops/backend.h"
#include "ops/gemm.h"

/* Scratch shared by all linears of a model: sized for the largest layer, reused layer
 * after layer, so its size never grows with depth. */
typedef struct bone_lin_ctx {
    float *wbuf;      /* (O·I) max: fp32 copy of a bf16 weight, or Bone's W' */
    int64_t wbuf_cap;
    float *tile;      /* adapter-defined scratch (e.g. a tile of G = dYᵀX) */
    int64_t tile_cap;
    float *tmp;       /* adapter-defined small scratch (e.g. (N, r) for LoRA) */
    int64_t tmp_cap;
    int training;     /* 1 during training steps (enables dropout etc.) */
    uint64_t seed;    /* for adapter dropout: mixed with the step counter */
    uint64_t step;
    bone_backend *be; /* the GEMM backend (owned); NULL until set or first used: OpenBLAS fp32 */
} bone_lin_ctx;

/* Grows a scratch buffer to at least n floats (contents not kept). */
float *bone_lin_scratch(float **buf, int64_t *cap, int64_t n);
void bone_lin_ctx_free(bone_lin_ctx *c);
/* The context's backend, opening the OpenBLAS fp32 one on first use when none was set. */
bone_backend *bone_lin_backend(bone_lin_ctx *c);
/* Hands `be` to the context (which frees it); set it before the first product, since packed
 * weights belong to the backend that made them. */
void bone_lin_set_backend(bone_lin_ctx *c, bone_backend *be);
/* `--compute bf16|fp32|auto` (NULL = auto) for a command: opens the backend (bone_backend_open),
 * hands it to c and prints "bone WHO: compute: ..." to stderr (unless quiet: score, generate
 * and eval keep stderr clean unless --compute was given; a backend forced by BONE_TEST_BACKEND
 * is announced even then). Fails saying why bf16 cannot run. */
int bone_lin_open_compute(bone_lin_ctx *c, const char *compute, const char *who, int quiet, bone_err *e);

struct bone_linear;

typedef struct bone_adapter_ops {
    const char *name; /* "bone-col", "lora", ... */
    /* y (N,O) = x (N,I) · W'ᵀ + bias */
    void (*forward)(bone_lin_ctx *c, const struct bone_linear *L, const float *x, float *y, int64_t N);
    /* dx (N,I) += dy·W' (dx may be NULL); adapter grads += ... */
    void (*backward)(bone_lin_ctx *c, struct bone_linear *L, const float *x, const float *dy, float *dx,
                     int64_t N);
    void (*destroy)(struct bone_linear *L); /* frees L->adapter */
} bone_adapter_ops;

typedef struct bone_linear {
    char *name;             /* module path, e.g. "model.layers.0.self_attn.q_proj" */
    int64_t O, I;           /* out_features, in_features */
    bone_wref w;            /* (O, I) base weight as stored (for PiSSA/OLoRA: the residual) */
    float *w_owned;         /* non-NULL if this linear owns a replacement base (residual) */
    const float *bias;      /* (O) fp32, or NULL */
    float *dw;              /* (O, I) gradient when the weight itself trains (full), else NULL */
    float *dbias;           /* (O) gradient when the bias trains, else NULL */
    const bone_adapter_ops *ops; /* NULL: plain (frozen or full) linear */
    void *adapter;          /* owned by ops */
    /* The backend's prepacked copies of a frozen base, for the forward ([0], x·Wᵀ) and the
     * input-gradient product ([1], dy·W); made on first use, freed by linear_set_base and
     * linear_destroy. A cache: filled through a const bone_linear in forward. */
    void *pack[2];
    bone_backend *pack_be;  /* the backend that made them (not owned) */
} bone_linear;

/* y (N,O) = x (N,I)·W'ᵀ + bias */
void linear_forward(bone_lin_ctx *c, const bone_linear *L, const float *x, float *y, int64_t N);
/* dx (N,I) += dy (N,O)·W'; parameter gradients += ... */
void linear_backward(bone_lin_ctx *c, bone_linear *L, const float *x, const float *dy, float *dx, int64_t N);
/* The plain product used by "none"/"full", exposed for adapters that add a side path. */
void linear_base_forward(bone_lin_ctx *c, const bone_linear *L, const float *x, float *y, int64_t N);
/* dx += dy·W (base weight only) */
void linear_base_backward_dx(bone_lin_ctx *c, const bone_linear *L, const float *dy, float *dx, int64_t N);
/* fp32 view of the base weight (converted into c->wbuf if needed) */
const float *linear_base_f32(bone_lin_ctx *c, const bone_linear *L);
/* THE way a linear's base changes (load, PiSSA/OLoRA residual, merge, full fine-tuning): sets
 * L->w = w, frees the packs of the old base, and frees the old owned buffer unless it is
 * `owned`; owned: the buffer L now owns (w's data), or NULL when w is not L's (a mapping, the
 * parameter buffer). */
void linear_set_base(bone_linear *L, bone_wref w, float *owned);
/* Bytes of prepacked weights this linear holds (memory reports). */
size_t linear_pack_bytes(const bone_linear *L);
void linear_destroy(bone_linear *L);

#endif
