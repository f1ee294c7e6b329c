/* fuzz_tokenizer.c — libFuzzer target: tokenizer.json (+ tokenizer_config.json) loading and
 * the encoding of fuzzed text. Input: tokenizer.json NUL tokenizer_config.json NUL text (later
 * parts optional; an empty config part means no tokenizer_config.json). An accepted tokenizer
 * encodes the text with and without special tokens and decodes the ids again. */
#include <stdint.h>
#include <stdlib.h>
#include "fuzz_util.h"
#include "tokenizer/tokenizer.h"

static void exercise(bone_tokenizer *t, const uint8_t *text, size_t n) {
    for (int add = 0; add < 2; add++) {
        int32_t *ids = NULL;
        size_t nids = 0;
        bone_err e;
        if (bone_tokenizer_encode(t, (const char *)text, n, add, &ids, &nids, &e) == 0) {
            for (unsigned flags = 0; flags < 4; flags++) {
                char *out = NULL;
                size_t len = 0;
                if (bone_tokenizer_decode(t, ids, nids, flags, &out, &len, &e) == 0) free(out);
            }
            for (size_t i = 0; i < nids; i++) (void)bone_tokenizer_token_to_piece(t, ids[i]);
        }
        free(ids);
    }
    size_t a, b;
    bone_tokenizer_special_counts(t, &a, &b);
    (void)bone_tokenizer_eos_text(t);
    (void)bone_tokenizer_bos_text(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[3];
    size_t len[3];
    fuzz_split(data, size, 3, part, len);
    char dir[4096];
    if (fuzz_mkdtemp(dir, sizeof dir, "tok")) abort();
    fuzz_write(dir, "tokenizer.json", part[0], len[0]);
    if (len[1]) fuzz_write(dir, "tokenizer_config.json", part[1], len[1]);
    bone_err e;
    bone_tokenizer *t = bone_tokenizer_load(dir, &e);
    if (t) {
        exercise(t, part[2], len[2]);
        bone_tokenizer_free(t);
    }
    fuzz_rmdir(dir);
    return 0;
}
