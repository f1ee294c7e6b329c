/* fuzz_rwkv_vocab.c — libFuzzer target: the RWKV World vocabulary loader (src/tokenizer/tok_rwkv.c)
 * and its encoder/decoder. Input: vocabulary lines NUL text. The 256 single-byte lines (ids 1-256)
 * that every World vocabulary has are put in front, so mutated lines reach the literal parser and
 * the trie (from id 257 on); an accepted vocabulary encodes the text and decodes the ids again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[2];
    size_t len[2];
    fuzz_split(data, size, 2, part, len);
    size_t cap = 256 * 16 + len[0] + 1, n = 0;
    char *v = malloc(cap);
    for (int b = 0; b < 256; b++) n += (size_t)snprintf(v + n, cap - n, "%d b'\\x%02x' 1\n", b + 1, b);
    memcpy(v + n, part[0], len[0]);
    n += len[0];
    bone_err e;
    bone_tokenizer *t = bone_tokenizer_parse_rwkv("fuzz.txt", v, n, &e);
    if (t) {
        int32_t *ids = NULL;
        size_t nids = 0;
        if (bone_tokenizer_encode(t, (const char *)part[1], len[1], 0, &ids, &nids, &e) == 0) {
            char *out = NULL;
            size_t ol = 0;
            if (bone_tokenizer_decode(t, ids, nids, 0, &out, &ol, &e) != 0) abort(); /* every id came from the vocab */
            /* the encoding is lossless: decode gives the text back */
            if (ol != len[1] || (ol && memcmp(out, part[1], ol))) abort();
            free(out);
        }
        free(ids);
        bone_tokenizer_free(t);
    }
    free(v);
    return 0;
}
