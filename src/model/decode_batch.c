/* decode_batch.c — batched generation (see generate_batch.h). */
#include <stdlib.h>
#include "model/generate_batch.h"

int bone_generate_batch(bone_model *m, bone_tokenizer *tok, const char *const *prompts, int64_t n,
                        const bone_gen_opts *o, const uint64_t *seeds, char **outs, int64_t *ntok, bone_err *e) {
    for (int64_t i = 0; i < n; i++) {
        bone_gen_opts oi = *o;
        if (seeds) oi.seed = seeds[i];
        int64_t nt = 0;
        if (bone_generate(m, tok, prompts[i], &oi, NULL, NULL, &outs[i], &nt, e)) {
            for (int64_t j = 0; j < i; j++) free(outs[j]);
            return -1;
        }
        if (ntok) ntok[i] = nt;
    }
    return 0;
}
