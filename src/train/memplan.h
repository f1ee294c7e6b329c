/* memplan.h — the memory plan of a training run, computed before anything large is
 * allocated: model weights (mapped file pages), trainable parameters with their gradients
 * and AdamW moments, adapter side buffers (PiSSA/OLoRA residuals), activations kept for
 * backward, scratch (bf16→fp32 or W' buffer, G tile, cross-entropy chunk, attention
 * blocks), the data set, and the process baseline. `bone train --dry-run` prints it; a
 * plan larger than the memory available refuses to start. */
#ifndef BONE_TRAIN_MEMPLAN_H
#define BONE_TRAIN_MEMPLAN_H
#include <stdint.h>
#include <stdio.h>
#include "data/dataset.h"
#include "model/model.h"

#define BONE_PLAN_ITEMS 10

typedef struct bone_memplan {
    const char *name[BONE_PLAN_ITEMS];
    double bytes[BONE_PLAN_ITEMS];
    int n;
    double total;
} bone_memplan;

/* m: loaded model with adapters attached (or none for full); trainable: elements;
 * full: 1 for full fine-tuning; B: micro-batch; T: longest example; recompute: activations
 * are recomputed in backward (one layer's kept, plus every layer's input). */
void bone_memplan_compute(bone_memplan *p, bone_model *m, int64_t trainable, int full, int64_t B, int64_t T,
                          const bone_dataset *d, int threads, int recompute);
/* Data parallel over `world` ranks (train/dist.h), the plan of one rank: with full fine-tuning
 * (ZeRO-1) its AdamW moments are 1/world of them, and rank 0 (writer) gathers the whole moments
 * while it writes a checkpoint; every rank holds a reduce-scatter chunk. */
void bone_memplan_dist(bone_memplan *p, int64_t trainable, int full, int world, int writer);
void bone_memplan_print(const bone_memplan *p, FILE *f);
/* MemAvailable from /proc/meminfo in bytes (0 if unknown). */
double bone_mem_available(void);

#endif
