/* evalgen.h — what every generative `bone eval` task shares: decoding a list of prompts (in
 * batches through bone_generate_batch, src/model/decode_batch.c, results identical to decoding
 * one at a time) with progress on stderr (done/total, tokens/s, elapsed, ETA), the 95% Wilson
 * interval of an accuracy, and pass@k with the unbiased estimator. */
#ifndef BONE_EVAL_EVALGEN_H
#define BONE_EVAL_EVALGEN_H
#include <stdint.h>
#include "model/generate_batch.h"

typedef struct bone_evalgen {
    int64_t batch;          /* sequences decoded together (>= 1) */
    int quiet;              /* no progress lines */
    const char *what;       /* label of the progress lines ("math", "humaneval") */
} bone_evalgen;

/* Continuations of prompts[0..n) with options o; seeds (may be NULL: o->seed for all) gives each
 * prompt its own sampling seed. outs[i] (malloc'ed) and ntok[i] (may be NULL) are filled. */
int bone_eval_generate(bone_model *m, bone_tokenizer *tok, const bone_evalgen *g, char *const *prompts, int64_t n,
                       const bone_gen_opts *o, const uint64_t *seeds, char **outs, int64_t *ntok, bone_err *e);

/* 95% Wilson score interval of k successes in n trials (z = 1.96). */
void bone_wilson95(int64_t k, int64_t n, double *lo, double *hi);
/* pass@k of one problem with n samples, c correct: 1 - C(n-c,k)/C(n,k) (1 when n-c < k). */
double bone_pass_at_k(int64_t n, int64_t c, int64_t k);
/* Seconds since an arbitrary point (CLOCK_MONOTONIC). */
double bone_now_s(void);

#endif
