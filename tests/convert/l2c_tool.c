/* l2c_tool.c — test helper for tests/convert: the library side of the llama2.c checks.
 *   l2c_tool unit                      header parsing, size rule, RoPE permutation (self-checking)
 *   l2c_tool encode TOKPATH FILE       each line of FILE is a JSON string; prints its ids (no BOS)
 *   l2c_tool greedy MODELDIR PROMPT N  prints the prompt ids (with BOS), then N greedy ids
 *                                      from the KV-cache decoder (no stop at EOS) */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/llama2c.h"
#include "model/generate.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "../testutil.h" /* CHECK */

static void put32(uint8_t *p, int32_t v) { memcpy(p, &v, 4); }

static int unit(void) {
    bone_err e;
    bone_l2c_header h;
    uint8_t b[256] = {0};
    /* FORMATS.md §3.1 worked example: 64, 172, 4 layers, 4/4 heads, vocab +512, seq 128 → 932,124 bytes */
    int32_t hv[7] = {64, 172, 4, 4, 4, 512, 128};
    for (int i = 0; i < 7; i++) put32(b + 4 * i, hv[i]);
    CHECK(bone_l2c_parse_header(b, 932124, "x.bin", &h, &e) == 0, "worked example rejected: %s", e.msg);
    CHECK(h.expected_size == 932124 && h.n_floats == 233024, "size %llu floats %llu", (unsigned long long)h.expected_size,
          (unsigned long long)h.n_floats);
    CHECK(h.shared == 1 && h.vocab == 512 && h.version == 0 && h.head_dim == 16, "fields");
    CHECK(bone_l2c_parse_header(b, 932120, "x.bin", &h, &e) == -1 && strstr(e.msg, "932124"), "short file: %s", e.msg);
    CHECK(bone_l2c_parse_header(b, 932128, "x.bin", &h, &e) == -1, "long file accepted");
    /* negative vocab: a separate classifier adds V·dim floats */
    put32(b + 20, -512);
    CHECK(bone_l2c_parse_header(b, 932124 + 4 * 512 * 64, "x.bin", &h, &e) == 0 && !h.shared && h.vocab == 512,
          "untied: %s", e.msg);
    put32(b + 20, 512);
    put32(b + 12, 3); /* 64 % 3 != 0 */
    CHECK(bone_l2c_parse_header(b, 932124, "x.bin", &h, &e) == -1 && strstr(e.msg, "n_heads"), "bad heads: %s", e.msg);
    put32(b + 12, 4);
    put32(b + 16, 3);
    CHECK(bone_l2c_parse_header(b, 932124, "x.bin", &h, &e) == -1 && strstr(e.msg, "n_kv_heads"), "bad kv: %s", e.msg);
    put32(b + 16, 0);
    CHECK(bone_l2c_parse_header(b, 932124, "x.bin", &h, &e) == -1 && strstr(e.msg, "n_kv_heads"), "zero kv: %s", e.msg);
    /* version headers: v1 = 256 + floats without freq_cis; v2 refused by name */
    memset(b, 0, sizeof b);
    put32(b, 0x616b3432);
    put32(b + 4, 1);
    for (int i = 0; i < 7; i++) put32(b + 8 + 4 * i, hv[i]);
    b[36] = 1;
    uint64_t v1 = 256 + 4ull * (233024 - 128 * 16);
    CHECK(bone_l2c_parse_header(b, v1, "v1.bin", &h, &e) == 0 && h.version == 1 && h.shared, "v1: %s", e.msg);
    b[36] = 0;
    CHECK(bone_l2c_parse_header(b, v1 + 4 * 512 * 64, "v1.bin", &h, &e) == 0 && !h.shared, "v1 untied: %s", e.msg);
    put32(b + 4, 2);
    CHECK(bone_l2c_parse_header(b, v1, "v2.bin", &h, &e) == -1 && strstr(e.msg, "version 2"), "v2: %s", e.msg);
    put32(b + 4, 7);
    CHECK(bone_l2c_parse_header(b, v1, "v7.bin", &h, &e) == -1 && strstr(e.msg, "version 7"), "v7: %s", e.msg);
    CHECK(bone_l2c_parse_header(b, 20, "tiny.bin", &h, &e) == -1, "20-byte file accepted");
    /* permutation: 2 heads of d = 4, 1 column; Meta rows h·4 + 2i + j → HF rows h·4 + 2j + i */
    float src[8] = {0, 1, 2, 3, 4, 5, 6, 7}, dst[8];
    bone_rope_rows_meta_to_hf(dst, src, 2, 4, 1);
    float want[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    CHECK(!memcmp(dst, want, sizeof want), "permutation %g %g %g %g", dst[0], dst[1], dst[2], dst[3]);
    /* d = 6: evens 0 2 4 then odds 1 3 5 */
    float s6[6] = {0, 1, 2, 3, 4, 5}, d6[6], w6[6] = {0, 2, 4, 1, 3, 5};
    bone_rope_rows_meta_to_hf(d6, s6, 1, 6, 1);
    CHECK(!memcmp(d6, w6, sizeof w6), "permutation d=6");
    printf(tu_failures ? "unit: %d failures\n" : "unit: ok\n", tu_failures);
    return tu_failures ? 1 : 0;
}

static int encode(const char *tokp, const char *file) {
    bone_err e;
    bone_tokenizer *t = bone_tokenizer_load(tokp, &e);
    if (!t) { fprintf(stderr, "%s\n", e.msg); return 1; }
    FILE *f = fopen(file, "r");
    if (!f) { perror(file); bone_tokenizer_free(t); return 1; }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        cJSON *j = cJSON_ParseWithLength(line, (size_t)n);
        if (!cJSON_IsString(j)) { fprintf(stderr, "bad line\n"); cJSON_Delete(j); rc = 1; break; }
        int32_t *ids;
        size_t nids;
        if (bone_tokenizer_encode(t, j->valuestring, strlen(j->valuestring), 0, &ids, &nids, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            cJSON_Delete(j);
            rc = 1;
            break;
        }
        for (size_t i = 0; i < nids; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
        free(ids);
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
    bone_tokenizer_free(t);
    return rc;
}

static int greedy(const char *dir, const char *prompt, int64_t N) {
    bone_err e;
    bone_model m;
    if (bone_model_load(dir, &m, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    bone_tokenizer *t = bone_tokenizer_load(dir, &e);
    if (!t) { fprintf(stderr, "%s\n", e.msg); bone_model_free(&m); return 1; }
    int32_t *ids;
    size_t np;
    int rc = 1, ok = 0;
    if (bone_tokenizer_encode(t, prompt, strlen(prompt), 1, &ids, &np, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        goto out;
    }
    for (size_t i = 0; i < np; i++) printf(i ? " %d" : "%d", ids[i]);
    printf("\n");
    bone_kv kv;
    bone_kv_init(&kv, &m, (int64_t)np + N);
    float *logits = malloc((size_t)m.cfg.vocab * sizeof(float));
    ok = bone_model_decode(&m, &kv, ids, (int64_t)np, logits, &e) == 0;
    for (int64_t s = 0; ok && s < N; s++) {
        int32_t id = bone_sample(logits, m.cfg.vocab, 0, 0, 1, NULL);
        printf(s ? " %d" : "%d", id);
        if (s + 1 < N) ok = bone_model_decode(&m, &kv, &id, 1, logits, &e) == 0;
    }
    printf("\n");
    if (!ok) fprintf(stderr, "%s\n", e.msg);
    rc = ok ? 0 : 1;
    free(logits);
    free(ids);
    bone_kv_free(&kv);
out:
    bone_tokenizer_free(t);
    bone_model_free(&m);
    return rc;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "unit")) return unit();
    if (argc == 4 && !strcmp(argv[1], "encode")) return encode(argv[2], argv[3]);
    if (argc == 5 && !strcmp(argv[1], "greedy")) return greedy(argv[2], argv[3], atoll(argv[4]));
    fprintf(stderr, "usage: l2c_tool unit | encode TOKPATH FILE | greedy MODELDIR PROMPT N\n");
    return 2;
}
