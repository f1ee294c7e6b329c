/* generate_batch.h — many prompts decoded together (for evaluation): one KV cache per sequence,
 * ragged prompt lengths, per-sequence stop strings/EOS/--max-new, greedy or sampled with a seed
 * per sequence. The result of every sequence is identical to bone_generate on it alone. */
#ifndef BONE_MODEL_GENERATE_BATCH_H
#define BONE_MODEL_GENERATE_BATCH_H
#include "model/generate.h"

/* Continuations of prompts[0..n) (o->seed replaced by seeds[i] when seeds is not NULL); outs[i]
 * malloc'ed, ntok[i] the tokens generated (ntok may be NULL). On error nothing is returned. */
int bone_generate_batch(bone_model *m, bone_tokenizer *tok, const char *const *prompts, int64_t n,
                        const bone_gen_opts *o, const uint64_t *seeds, char **outs, int64_t *ntok, bone_err *e);

#endif
