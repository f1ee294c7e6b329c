/* checkpoint.h — training checkpoints: every trainable value and both AdamW moments, the
 * step, the optimizer's step count, elapsed time and tokens, and the settings that must not
 * change on resume, in one safetensors file per checkpoint:
 *     RUN/checkpoints/step-00000010.safetensors
 * Written atomically (temporary file, fsync, rename, fsync dir), so a name that exists is
 * complete; checksums of the data area and of the header (every bone_* metadata entry, the
 * tensor names and shapes) catch later corruption. Each checkpoint carries its run's id
 * (setting "run"): pruning and resuming consider only the run's own checkpoints. The data
 * order and every random stream are functions of (seed, step), so the step is the whole
 * data position and RNG state. */
#ifndef BONE_TRAIN_CHECKPOINT_H
#define BONE_TRAIN_CHECKPOINT_H
#include <stdint.h>
#include "core/err.h"
#include "core/hash.h"
#include "core/params.h"
#include "train/optim.h"

typedef struct bone_ckpt_info {
    int64_t step;        /* optimizer steps completed */
    int64_t adam_t;
    double elapsed_s;
    int64_t tokens;
} bone_ckpt_info;

/* settings = {key, value, ..., NULL}: recorded, and compared on resume; a "run" entry is the
 * run id (pruning keeps the newest `keep` checkpoints of that run and leaves others alone) */
int bone_ckpt_save(const char *run_dir, const bone_params *P, const bone_ckpt_info *info,
                   const char *const *settings, int keep, bone_err *e);
/* Path of the newest checkpoint that verifies (checksums, format) and belongs to run_id (NULL:
 * any run); NULL with *e set when there is none. A newer corrupted one, or one of another
 * run, is reported on stderr and skipped. */
char *bone_ckpt_latest(const char *run_dir, const char *run_id, bone_err *e);
/* Loads into P (same names and sizes required) and info; compares settings (the message
 * names the first that differs); the step must be in [0, max_step], adam_t in [0, step]. */
int bone_ckpt_load(const char *path, bone_params *P, bone_ckpt_info *info, const char *const *settings,
                   int64_t max_step, bone_err *e);

/* Checks one file fully (header, checksum); 0 if good. */
int bone_ckpt_verify(const char *path, bone_err *e);

#endif
