/* validate.c — checks a loaded data set against the model before any step runs (see
 * dataset.h): a too-long example or an id the model cannot embed would otherwise fail only
 * when its batch comes up, possibly hours in, and without naming the file or line. */
#include <stdio.h>
#include "data/dataset.h"
#include "tokenizer/tokenizer.h"

/* "path:LINE", "path: element K" or "path: example I" */
static void where_of(const bone_dataset *d, int64_t i, const char *path, char *buf, size_t cap) {
    int64_t line = d->ex[i].line;
    if (line > 0) snprintf(buf, cap, "%s:%lld", path, (long long)line);
    else if (line < 0) snprintf(buf, cap, "%s: element %lld", path, (long long)-line);
    else snprintf(buf, cap, "%s: example %lld", path, (long long)(i + 1));
}

int bone_dataset_validate(const bone_dataset *d, const char *path, int64_t max_pos, int64_t vocab,
                          const char *tokenizer, bone_err *e) {
    char where[1200];
    for (int64_t i = 0; i < d->n; i++) {
        const bone_example *x = &d->ex[i];
        if (max_pos > 0 && x->n > max_pos) {
            where_of(d, i, path, where, sizeof where);
            return bone_fail(e, "%s: %lld tokens exceed max_position_embeddings %lld; use --max-len (with "
                                "--max-len-policy truncate or drop)", where, (long long)x->n, (long long)max_pos);
        }
        for (int64_t t = 0; vocab > 0 && t < x->n; t++) {
            int bad_id = x->ids[t] < 0 || x->ids[t] >= vocab;
            int bad_label = x->labels[t] != BONE_IGNORE && (x->labels[t] < 0 || x->labels[t] >= vocab);
            if (!bad_id && !bad_label) continue;
            where_of(d, i, path, where, sizeof where);
            char hint[256] = "";
            if (tokenizer) { /* a tokenizer bigger than the model's embedding is the usual cause */
                bone_err te;
                bone_tokenizer *tk = bone_tokenizer_load(tokenizer, &te);
                if (tk) {
                    int64_t tv = bone_tokenizer_vocab_size(tk);
                    if (tv > vocab)
                        snprintf(hint, sizeof hint, "; the tokenizer (%s) has %lld tokens but the model's vocab_size "
                                 "is %lld: they do not belong together", tokenizer, (long long)tv, (long long)vocab);
                    bone_tokenizer_free(tk);
                }
            }
            return bone_fail(e, "%s: %s %d at position %lld is outside the model's vocabulary [0, %lld)%s", where,
                             bad_id ? "token id" : "label", bad_id ? x->ids[t] : x->labels[t], (long long)t,
                             (long long)vocab, hint);
        }
    }
    return 0;
}
