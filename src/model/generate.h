/* generate.h — text generation: sampling (greedy, temperature, top-k, top-p) over the
 * KV-cache decoder, streaming text through a callback, stopping at EOS or a stop string. */
#ifndef BONE_MODEL_GENERATE_H
#define BONE_MODEL_GENERATE_H
#include <stdint.h>
#include "model/model.h"
#include "tokenizer/tokenizer.h"

typedef struct bone_gen_opts {
    int64_t max_new;        /* tokens to generate at most (default 256) */
    double temperature;     /* 0 = greedy */
    int64_t top_k;          /* 0 = off */
    double top_p;           /* 1 = off */
    uint64_t seed;
    const char *const *stop;/* stop strings (NULL-terminated list) or NULL */
    int add_special;        /* encode the prompt with the post-processor (BOS) */
} bone_gen_opts;

void bone_gen_opts_default(bone_gen_opts *o);
/* Picks a token from logits (V) — modifies logits in place. */
int32_t bone_sample(float *logits, int64_t V, double temperature, int64_t top_k, double top_p, uint64_t *rng_state);
/* Generates a continuation of prompt. on_text (may be NULL) receives each newly decoded
 * piece of text as soon as it is complete UTF-8. *out (malloc'ed) gets the whole
 * continuation, cut before a stop string; *ntok the tokens generated. */
int bone_generate(bone_model *m, bone_tokenizer *tok, const char *prompt, const bone_gen_opts *o,
                  void (*on_text)(const char *s, size_t n, void *ctx), void *ctx, char **out, int64_t *ntok,
                  bone_err *e);

#endif
