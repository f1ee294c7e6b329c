/* tok_test_util.h — small helpers shared by the tokenizer and data tests (CHECK comes from
 * tests/testutil.h): reading llama.cpp vector files, and the fixture cache location. */
#ifndef BONE_TESTS_TOK_TEST_UTIL_H
#define BONE_TESTS_TOK_TEST_UTIL_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../testutil.h" /* CHECK */

/* Reads a whole file or exits 1 (a missing fixture is a failure, never a skip). */
static __attribute__((unused)) char *tt_read(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "FAIL: cannot open %s (run scripts/fetch-tokenizers.sh)\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)len + 1);
    if (fread(p, 1, (size_t)len, f) != (size_t)len) { fprintf(stderr, "FAIL: read %s\n", path); exit(1); }
    p[len] = 0;
    fclose(f);
    *n = (size_t)len;
    return p;
}

/* The fixture cache: $BONE_CACHE/tokenizers or ~/.cache/bone/tokenizers. */
static __attribute__((unused)) void tt_cache_path(char *out, size_t cap, const char *rel) {
    if (rel[0] == '/') { /* an absolute path: a tokenizer outside the cache (e.g. models/default) */
        snprintf(out, cap, "%s", rel);
        return;
    }
    const char *c = getenv("BONE_CACHE");
    if (c && *c) snprintf(out, cap, "%s/tokenizers/%s", c, rel);
    else snprintf(out, cap, "%s/.cache/bone/tokenizers/%s", getenv("HOME") ? getenv("HOME") : "/root", rel);
}

/* Splits a llama.cpp .inp file into its inputs (pointers into buf, NUL-terminated in place). */
static __attribute__((unused)) size_t tt_split_inputs(char *buf, size_t n, char ***out, size_t **lens) {
    static const char sep[] = "\n__ggml_vocab_test__\n";
    size_t cap = 64, k = 0;
    char **v = malloc(cap * sizeof *v);
    size_t *l = malloc(cap * sizeof *l);
    char *p = buf, *end = buf + n;
    while (p < end) {
        char *q = memmem(p, (size_t)(end - p), sep, sizeof sep - 1);
        if (!q) break;
        if (k == cap) { cap *= 2; v = realloc(v, cap * sizeof *v); l = realloc(l, cap * sizeof *l); }
        *q = 0;
        v[k] = p;
        l[k++] = (size_t)(q - p);
        p = q + sizeof sep - 1;
    }
    *out = v;
    *lens = l;
    return k;
}
#endif
