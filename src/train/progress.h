/* progress.h — what a training run shows while it works: on a terminal, one live line
 * (step/total, smoothed loss, lr, tokens/s, elapsed, ETA, memory) redrawn in place; when
 * stderr is not a terminal, a plain line every `every` steps (and at the first and last). */
#ifndef BONE_TRAIN_PROGRESS_H
#define BONE_TRAIN_PROGRESS_H
#include <stdint.h>
#include <stdio.h>

typedef struct bone_progress {
    FILE *out;
    int tty, quiet;
    int64_t total, first, every;
    double ema, ema_w;     /* bias-corrected exponential moving average of the loss */
    double t_start;        /* elapsed_s at the first step of this process */
    int64_t tok_start;
    int drawn;             /* a live line is on screen */
} bone_progress;

void bone_progress_init(bone_progress *p, FILE *out, int quiet, int64_t first_step, int64_t total_steps,
                        double elapsed0, int64_t tokens0);
/* step is 1-based; eval_loss < 0 when not evaluated */
void bone_progress_step(bone_progress *p, int64_t step, double loss, double lr, int64_t tokens, double elapsed,
                        double rss_mib, double eval_loss);
/* ends a live line (newline) before other output */
void bone_progress_break(bone_progress *p);

#endif
