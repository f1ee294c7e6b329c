/* adapter.h — the adapters behind the linear choke point (linear.h): the Bone variants,
 * LoRA and its PiSSA/OLoRA initialisations; choosing targets; counting parameters from
 * shapes alone; PEFT-format save/load; merge and unmerge.
 *
 * Two levels:
 *  - model level (bone_adapter_attach/init/load/save/merge/unmerge/count) for the CLI and
 *    the trainer;
 *  - linear level (bone_adapter_new + bone_adapter_bind, bone_linear_merge/unmerge) so a
 *    single hand-built bone_linear can carry an adapter (the tests use this).
 * The math of every variant is BONE.md's; the formulas are quoted in bone.c and lora.c. */
#ifndef BONE_ADAPTER_ADAPTER_H
#define BONE_ADAPTER_ADAPTER_H
#include <stdint.h>
#include "adapter/linear.h"
#include "core/err.h"
#include "core/params.h"
#include "model/config.h"
#include "model/model.h"

typedef enum bone_method {
    BONE_METHOD_NONE = 0,
    BONE_METHOD_COL,      /* "bone-col": D (O/b, b, b), ΔW_{a,c} = W_{a,c}·D[a] + D[a] */
    BONE_METHOD_ROW,      /* "bone-row": D (I/b, b, b), ΔW_{a,c} = W_{a,c}·D[c] + D[c] */
    BONE_METHOD_GRID,     /* "bone-grid": gr×gc blocks share one D */
    BONE_METHOD_HADAMARD, /* "bone-hadamard": ΔW_{a,c} = W_{a,c} ⊙ D[a] + D[a] */
    BONE_METHOD_FREE,     /* "bone-free": ΔW_{a,c} = D[a], stored as PEFT's B (b, O) */
    BONE_METHOD_LORA,     /* "lora" */
    BONE_METHOD_PISSA,    /* "pissa" */
    BONE_METHOD_OLORA,    /* "olora" */
    BONE_METHOD_FULL      /* "full": handled by the engine (bone_model_make_trainable) */
} bone_method;

/* "bone-col" → BONE_METHOD_COL etc.; -1 (with a message listing the names) if unknown. */
int bone_method_parse(const char *s, bone_method *out, bone_err *e);
const char *bone_method_name(bone_method m);
/* 1 for the Bone family (col, row, grid, hadamard, free). */
int bone_method_is_bone(bone_method m);
/* "GRxGC" (e.g. "2x4") → gr, gc ≥ 1. */
int bone_parse_grid(const char *s, int64_t *gr, int64_t *gc, bone_err *e);

typedef struct bone_adapter_spec {
    const char *method;  /* "bone-col", ..., "lora", "pissa", "olora", "full" */
    int64_t block;       /* Bone b; <= 0: 64 */
    int64_t grid_r, grid_c; /* bone-grid group shape in blocks (both >= 1) */
    int64_t rank;        /* LoRA family r; <= 0: 8 */
    double alpha;        /* 0: = rank (negative is legal, as in PEFT) */
    double dropout;      /* LoRA family, on the adapter path only */
    int64_t svd_niter;   /* PiSSA: 0 = exact SVD (sgesdd), K > 0 = randomized SVD with K power iterations */
    const char *targets; /* comma list of q_proj..down_proj or "all-linear"; NULL = all seven */
    const char *layers;  /* "0,2-5"; NULL = all */
    uint64_t seed;       /* LoRA A init and dropout streams */
} bone_adapter_spec;

/* One adapted linear's state (owned by the linear through L->adapter). Tensor pointers
 * point into the trainable-parameter store (or, in tests, into caller buffers). */
typedef struct bone_adapter {
    bone_method method;
    int64_t b;          /* Bone block size */
    int64_t gr, gc;     /* Bone: a group is gr row-blocks × gc column-blocks sharing one D */
    int64_t ng;         /* Bone: number of D matrices (free: unused) */
    int64_t rank;       /* LoRA family */
    float scale;        /* LoRA family: alpha / rank */
    double alpha;       /* LoRA family: as configured (saved as lora_alpha) */
    int scale_set;      /* LoRA family: scale (and alpha) are final as given, 0 included (a PEFT
                         * config's lora_alpha: 0 means scaling 0); else bind derives them */
    double dropout;     /* LoRA family */
    uint64_t id;        /* linear index: selects this linear's init and dropout streams */
    uint64_t seed;      /* spec seed (init, dropout) */
    int64_t niter;      /* PiSSA: 0 exact SVD, K randomized with K power iterations */
    int64_t pidx[2];    /* parameter indices in bone_params (-1: none) */
    float *v[2];        /* Bone: v[0] = D (ng,b,b) or, free, B (b,O). LoRA: v[0] = A (r,I), v[1] = B (O,r) */
    float *g[2];        /* gradients, same shapes (accumulated with +=) */
    float *init_a, *init_b; /* PiSSA/OLoRA: owned copies of A0 (r,I), B0 (O,r) for the rank-2r export */
} bone_adapter;

/* Linear level. bone_adapter_new returns a zeroed state for `method` (tensors unset);
 * bone_adapter_bind checks the shape constraints against L (message names L->name) and
 * installs it: L->ops/L->adapter (ownership passes to L on success). */
bone_adapter *bone_adapter_new(bone_method method);
int bone_adapter_bind(bone_linear *L, bone_adapter *a, bone_err *e);
/* Number of trainable elements for an (O, I) linear, after validating the shape
 * (name is used in the message). -1 on error. */
int64_t bone_adapter_numel(const char *name, int64_t O, int64_t I, bone_method m, int64_t b, int64_t gr,
                           int64_t gc, int64_t rank, bone_err *e);
/* PiSSA / OLoRA initialisation of an attached LoRA-family adapter whose A, B point at
 * storage: computes A, B from the base weight, keeps A0/B0 and replaces the base by the
 * fp32 residual W − s·B·A in L->w_owned. niter as in the spec (PiSSA only). */
int bone_lora_init_pissa(bone_linear *L, int64_t niter, uint64_t seed, bone_err *e);
int bone_lora_init_olora(bone_linear *L, bone_err *e);
/* Kaiming-uniform A (U(±1/√I)) from a stream seeded by (seed, id); B = 0. */
void bone_lora_init_default(bone_linear *L, uint64_t seed);
/* W ← W' into an fp32 L->w_owned, then the adapter is destroyed (L->ops = NULL). */
int bone_linear_merge(bone_linear *L, bone_err *e);
/* Treats L's current weight as a merged W' and recovers W (fp32, L->w_owned) with the
 * attached adapter's values; then detaches. Refuses singular/ill-conditioned blocks. */
int bone_linear_unmerge(bone_linear *L, bone_err *e);
/* The merged (unmerge = 0) or unmerged (1) weight of L written into out ((O, I) fp32) without
 * changing L: what merge.c streams into a model save one linear at a time. */
int bone_linear_merged_into(bone_linear *L, int unmerge, float *out, bone_err *e);
/* Scratch floats one call of forward / backward of L with N rows needs (for the memory
 * note): wbuf, tile and tmp as they would be sized. */
void bone_adapter_scratch(const bone_linear *L, int64_t N, int64_t *wbuf, int64_t *tile, int64_t *tmp);

/* Model level. attach: validates the spec against the model's shapes, registers the
 * trainable tensors in P (P must not be allocated yet) and installs the adapters. */
int bone_adapter_attach(bone_model *m, const bone_adapter_spec *s, bone_params *P, bone_err *e);
/* After bone_params_alloc: binds tensor pointers and initialises values (Bone: zero; LoRA:
 * Kaiming A, zero B; PiSSA/OLoRA: SVD/QR and the residual base). */
int bone_adapter_init(bone_model *m, bone_params *P, bone_err *e);
/* Reads an adapter directory (ours, or PEFT's LORA/BONE/MISS), attaches it, allocates P
 * (P must be empty) and copies the values in. */
int bone_adapter_load(bone_model *m, const char *dir, bone_params *P, bone_err *e);
/* Writes dir/adapter_config.json + dir/adapter_model.safetensors (PEFT layout, fp32).
 * base_model_path goes to base_model_name_or_path (may be NULL). Prints nothing; *warn
 * (if non-NULL) is set to 1 when PEFT cannot load the result (bone-row/grid/hadamard). */
int bone_adapter_save(bone_model *m, const char *dir, const char *base_model_path, int *warn, bone_err *e);
/* Every adapted linear: merge / unmerge (see the linear-level calls). */
int bone_adapter_merge(bone_model *m, bone_err *e);
int bone_adapter_unmerge(bone_model *m, bone_err *e);
/* Whole directories (merge.c): loads model_dir, reads adapter_dir, merges (unmerge = 0) or
 * unmerges (unmerge = 1), writes out_dir (config.json + model.safetensors in the stored
 * dtype of the input, tokenizer/generation files copied if present). *n_linears (may be
 * NULL) receives the number of adapted linears. */
/* The in-memory half of merge_dir (also used by `bone export gguf`): loads model_dir, reads
 * adapter_dir (NULL: no adapter, the model as stored) and merges (or unmerges) it into fp32
 * copies of the adapted weights. *stored (may be NULL) receives the dtype the model is stored
 * in, which `bone merge` writes (so an export rounds through it to match). On success the
 * caller frees m and P; on failure both are freed. */
int bone_adapter_merge_load(const char *model_dir, const char *adapter_dir, int unmerge, bone_model *m,
                            bone_params *P, bone_dtype *stored, int64_t *n_linears, bone_err *e);
int bone_adapter_merge_dir(const char *model_dir, const char *adapter_dir, const char *out_dir, int unmerge,
                           int64_t *n_linears, bone_err *e);
/* The same with shards of at most max_shard bytes (0: transformers' 5 GB). The output is
 * written tensor by tensor (each merged weight made just before it is written) into a
 * temporary directory that replaces out_dir only when complete (bone_model_save_opts). */
int bone_adapter_merge_dir_opts(const char *model_dir, const char *adapter_dir, const char *out_dir, int unmerge,
                                uint64_t max_shard, int64_t *n_linears, bone_err *e);
/* Trainable parameters for the spec from the config's shapes alone (full: all model
 * parameters). -1 on error (unknown target, bad block size, ...). */
int64_t bone_adapter_count(const bone_config *c, const bone_adapter_spec *s, bone_err *e);

/* Floats of the G tile the Bone backward of L allocates (0 when L has no Bone adapter that
 * uses one): the memory plan asks this instead of restating the tile size. */
size_t bone_g_tile_floats(const bone_linear *L);

#endif
