/* trainer.h — the training loop: data order, micro-batches and accumulation, loss
 * normalisation over the whole optimizer step, clipping, AdamW, schedule, metrics.jsonl,
 * and the final adapter / model directory. */
#ifndef BONE_TRAIN_TRAINER_H
#define BONE_TRAIN_TRAINER_H
#include <stdint.h>
#include "adapter/adapter.h"
#include "core/err.h"
#include "data/dataset.h"

struct bone_dist;

typedef struct bone_train_opts {
    const char *model_dir, *data_path, *out_dir;
    const char *eval_data;     /* optional held-out file */
    double eval_split;         /* >0: hold out this fraction of the training data (seeded) */
    bone_adapter_spec adapter; /* adapter.method is the --method */
    const char *init_adapter;  /* start from this adapter directory */
    int64_t steps;             /* 0: from epochs */
    double epochs;
    double lr, beta1, beta2, eps, weight_decay, max_grad_norm;
    int64_t batch, accum, warmup;
    const char *schedule;
    uint64_t seed;
    int shuffle;
    int64_t eval_every;        /* 0: only at the end when eval data exists */
    int quiet;
    bone_data_opts data;       /* format, template, max_len ... (path filled from data_path) */
    int64_t save_every;        /* checkpoint every N steps (0: only at the end) */
    int64_t keep;              /* checkpoints to keep (default 2) */
    int resume;                /* continue from the newest good checkpoint in out_dir */
    int overwrite;             /* start over even if out_dir holds a run */
    int64_t debug_nan_step;    /* test hook: pretend the loss at this step is NaN */
    int dry_run;               /* print the memory plan and stop */
    int save_error_continue;   /* a failed periodic checkpoint warns and training goes on */
    double mem_limit_mib;      /* refuse when the plan exceeds this (0: MemAvailable) */
    int recompute;             /* --recompute: keep only layer inputs, redo each layer's forward before its backward */
    struct bone_dist *dist;    /* data-parallel world (train/dist.h); NULL: this process alone */
    const char *train_extra;   /* RWKV-6 --train-extra groups ("time,ln"), trained in full beside the adapter; NULL none */
    const char *compute;       /* --compute bf16 | fp32 | auto (NULL: auto), ops/backend.h */
    uint64_t max_shard;        /* --max-shard-size: full FT's OUT/model shards, bytes (0: transformers' 5 GB) */
    int64_t wkv_chunk;         /* --wkv-chunk: RWKV-6 WKV chunk length (0: the default, 32) */
} bone_train_opts;

/* Bounds that keep every product of steps, batch, accum and positions inside int64. */
#define BONE_TRAIN_MAX_BATCH ((int64_t)1 << 20)     /* --batch, --accum */
#define BONE_TRAIN_MAX_STEPS ((int64_t)1000000000)  /* --steps, --warmup, and steps from --epochs */

void bone_train_opts_default(bone_train_opts *o);
/* 0 when training finished; BONE_TRAIN_INTERRUPTED after SIGINT/SIGTERM (a checkpoint was
 * written); -1 on error. */
#define BONE_TRAIN_INTERRUPTED 3
int bone_train_run(const bone_train_opts *o, bone_err *e);

/* Example order: position p (0-based across steps) → example index. With shuffle, each
 * epoch is a seeded permutation; without, file order. Deterministic for (seed, n). */
typedef struct bone_order {
    int64_t n;
    int shuffle;
    uint64_t seed;
    int64_t epoch;     /* epoch of perm */
    int64_t *perm;
} bone_order;
void bone_order_init(bone_order *o, int64_t n, int shuffle, uint64_t seed);
int64_t bone_order_at(bone_order *o, int64_t pos);
void bone_order_free(bone_order *o);

/* Mean loss over label tokens of a whole data set (score / eval). */
int bone_eval_loss(bone_model *m, const bone_dataset *d, int64_t batch, double *loss, int64_t *tokens, bone_err *e);

#endif
