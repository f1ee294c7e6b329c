/* test_tok_vectors.c — exact agreement with llama.cpp's HF-generated vectors
 * (tests/tokenizer: qwen2 ↔ Qwen3 tokenizer.json, llama-bpe ↔ Llama-3, gpt-2 ↔ encoder.json+vocab.bpe),
 * plus decode(encode(x)) == x for each input where the tokenizer is lossless.
 * usage: test_tok_vectors TOKENIZER_PATH_RELATIVE_TO_CACHE VECTORS.inp VECTORS.out */
#include <utf8proc.h>
#include "tokenizer/tokenizer.h"
#include "tok_test_util.h"

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s TOKENIZER INP OUT\n", argv[0]); return 2; }
    char tpath[4096];
    tt_cache_path(tpath, sizeof tpath, argv[1]);
    bone_err e = {{0}};
    bone_tokenizer *t = bone_tokenizer_load(tpath, &e);
    if (!t) { fprintf(stderr, "FAIL: %s\n", e.msg); return 1; }
    size_t ni, no;
    char *inp = tt_read(argv[2], &ni), *outp = tt_read(argv[3], &no);
    char **in;
    size_t *inl;
    size_t k = tt_split_inputs(inp, ni, &in, &inl);
    int exact = 0, lines = 0, rt_ok = 0, rt_n = 0;
    char *line = outp;
    for (size_t i = 0; i < k; i++) {
        char *nl = strchr(line, '\n');
        if (!nl) { fprintf(stderr, "FAIL: .out has fewer lines than inputs (%zu)\n", k); return 1; }
        *nl = 0;
        lines++;
        int32_t want[1024];
        size_t nw = 0;
        for (char *tok = strtok(line, " "); tok; tok = strtok(NULL, " ")) want[nw++] = (int32_t)atoi(tok);
        int32_t *ids;
        size_t n;
        if (bone_tokenizer_encode(t, in[i], inl[i], 0, &ids, &n, &e)) { fprintf(stderr, "FAIL #%zu: %s\n", i, e.msg); tu_failures++; line = nl + 1; continue; }
        int same = n == nw && !memcmp(ids, want, n * sizeof *ids);
        if (same) exact++;
        else {
            fprintf(stderr, "MISMATCH #%zu %s\n  want:", i, in[i]);
            for (size_t j = 0; j < nw; j++) fprintf(stderr, " %d", want[j]);
            fprintf(stderr, "\n  got: ");
            for (size_t j = 0; j < n; j++) fprintf(stderr, " %d", ids[j]);
            fprintf(stderr, "\n");
        }
        /* round trip: lossless tokenizers, on NFC text */
        utf8proc_uint8_t *nfc = NULL;
        utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)in[i], (utf8proc_ssize_t)inl[i], &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        int is_nfc = r == (utf8proc_ssize_t)inl[i] && !memcmp(nfc, in[i], inl[i]);
        free(nfc);
        if (bone_tokenizer_lossless(t) && is_nfc) {
            char *dec;
            size_t dn;
            rt_n++;
            if (bone_tokenizer_decode(t, ids, n, 0, &dec, &dn, &e)) { fprintf(stderr, "FAIL decode #%zu: %s\n", i, e.msg); tu_failures++; }
            else {
                if (dn == inl[i] && !memcmp(dec, in[i], dn)) rt_ok++;
                else fprintf(stderr, "ROUNDTRIP #%zu: \"%s\" -> \"%s\"\n", i, in[i], dec);
                free(dec);
            }
        }
        free(ids);
        line = nl + 1;
    }
    printf("%s: %d/%zu exact, round trip %d/%d\n", argv[1], exact, k, rt_ok, rt_n);
    CHECK(k == 46, "expected 46 inputs, got %zu", k);
    CHECK(exact == (int)k, "%d/%zu exact", exact, k);
    CHECK(rt_ok == rt_n && rt_n > 0, "round trip %d/%d", rt_ok, rt_n);
    free(in);
    free(inl);
    free(inp);
    free(outp);
    bone_tokenizer_free(t);
    return tu_failures ? 1 : 0;
}
