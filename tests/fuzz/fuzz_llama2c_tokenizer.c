/* fuzz_llama2c_tokenizer.c — libFuzzer target: a llama2.c tokenizer.bin (FORMATS.md §3.3/3.4).
 * The first input byte selects the vocabulary size the loader is asked for (0: read to the end
 * of the file; else 256 + byte); the rest is the file. An accepted tokenizer encodes a fixed
 * text and decodes every id; the file is also converted to a tokenizer.json with
 * bone_l2c_convert_tokenizer (bone convert), which must load and encode the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "io/llama2c.h"
#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int64_t vocab = data[0] ? 256 + data[0] : 0;
    char dir[4096], path[4200];
    if (fuzz_mkdtemp(dir, sizeof dir, "l2c")) abort();
    fuzz_write(dir, "tokenizer.bin", data + 1, size - 1);
    snprintf(path, sizeof path, "%s/tokenizer.bin", dir);
    bone_err e;
    bone_tokenizer *t = bone_tokenizer_load_llama2c(path, vocab, &e);
    static const char text[] = "Hello world! 12 \xE2\x96\x81 \xF0\x9F\x98\x80 <s></s>\n\ttabs";
    int32_t *ids = NULL;
    size_t n = 0;
    if (t) {
        if (bone_tokenizer_encode(t, text, strlen(text), 1, &ids, &n, &e) == 0) {
            char *out = NULL;
            size_t len;
            if (bone_tokenizer_decode(t, ids, n, 0, &out, &len, &e) == 0) free(out);
        }
        free(ids);
        int64_t V = bone_tokenizer_vocab_size(t);
        int32_t *all = malloc((size_t)(V > 0 ? V : 1) * sizeof *all);
        for (int64_t i = 0; i < V; i++) all[i] = (int32_t)i;
        for (unsigned flags = 0; flags < 4; flags++) {
            char *out = NULL;
            size_t len;
            if (bone_tokenizer_decode(t, all, (size_t)V, flags, &out, &len, &e) == 0) free(out);
        }
        free(all);
        bone_tokenizer_free(t);
        char out[4200];
        snprintf(out, sizeof out, "%s/hf", dir);
        if (bone_l2c_convert_tokenizer(path, V, 64, out, NULL, &e) == 0) {
            bone_tokenizer *c = bone_tokenizer_load(out, &e);
            if (!c) {
                fprintf(stderr, "converted tokenizer does not load: %s\n", e.msg);
                abort();
            }
            if (bone_tokenizer_encode(c, text, strlen(text), 1, &ids, &n, &e) == 0) free(ids);
            bone_tokenizer_free(c);
        }
        fuzz_rmdir(out);
    }
    fuzz_rmdir(dir);
    return 0;
}
