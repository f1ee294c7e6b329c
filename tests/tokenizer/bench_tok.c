/* bench_tok.c — encode throughput (MB/s, one thread) on a large English text: the GSM8K train
 * questions and answers concatenated, or any files given. Also checks decode(encode(x)) == x.
 * usage: bench_tok TOKENIZER FILE... (a .jsonl file contributes its string fields). TOKENIZER is a
 * path, or a name relative to the fixture cache. $BONE_TOK_MIN_MBS: fail below this encode rate. */
#include <cjson/cJSON.h>
#include <time.h>
#include "tokenizer/tokenizer.h"
#include "tok_test_util.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s TOKENIZER FILE...\n", argv[0]); return 2; }
    bone_err e = {{0}};
    double t0 = now();
    char tpath[4096];
    if (argv[1][0] == '/' || argv[1][0] == '.') snprintf(tpath, sizeof tpath, "%s", argv[1]);
    else tt_cache_path(tpath, sizeof tpath, argv[1]);
    bone_tokenizer *t = bone_tokenizer_load(tpath, &e);
    if (!t) { fprintf(stderr, "FAIL: %s\n", e.msg); return 1; }
    double tload = now() - t0;
    size_t cap = 1 << 20, n = 0;
    char *text = malloc(cap);
    for (int a = 2; a < argc; a++) {
        size_t fn;
        char *f = tt_read(argv[a], &fn);
        size_t l = strlen(argv[a]);
        if (l > 6 && !strcmp(argv[a] + l - 6, ".jsonl")) {
            for (char *line = f; *line;) {
                char *nl = strchr(line, '\n');
                if (nl) *nl = 0;
                cJSON *r = cJSON_Parse(line);
                for (const cJSON *x = r ? r->child : NULL; x; x = x->next) {
                    if (!cJSON_IsString(x)) continue;
                    size_t k = strlen(x->valuestring);
                    while (n + k + 2 > cap) text = realloc(text, cap *= 2);
                    memcpy(text + n, x->valuestring, k);
                    n += k;
                    text[n++] = '\n';
                }
                cJSON_Delete(r);
                if (!nl) break;
                line = nl + 1;
            }
        } else {
            while (n + fn + 1 > cap) text = realloc(text, cap *= 2);
            memcpy(text + n, f, fn);
            n += fn;
        }
        free(f);
    }
    int32_t *ids;
    size_t nids;
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t1 = now();
        if (bone_tokenizer_encode(t, text, n, 0, &ids, &nids, &e)) { fprintf(stderr, "FAIL: %s\n", e.msg); return 1; }
        double dt = now() - t1;
        if (dt < best) best = dt;
        if (rep < 2) free(ids);
    }
    /* per line, as data loading calls it (short texts) */
    double tl0 = now();
    size_t nlt = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && text[j] != '\n') j++;
        int32_t *li;
        size_t ln;
        if (bone_tokenizer_encode(t, text + i, j - i, 0, &li, &ln, &e)) { fprintf(stderr, "FAIL: %s\n", e.msg); return 1; }
        nlt += ln;
        free(li);
        i = j + 1;
    }
    double perline = now() - tl0;
    /* cold: a fresh tokenizer (empty word cache) */
    bone_tokenizer *t2 = bone_tokenizer_load(tpath, &e);
    double t3 = now();
    int32_t *ids2;
    size_t n2;
    if (bone_tokenizer_encode(t2, text, n, 0, &ids2, &n2, &e)) { fprintf(stderr, "FAIL: %s\n", e.msg); return 1; }
    double cold = now() - t3;
    CHECK(n2 == nids && !memcmp(ids, ids2, n2 * sizeof *ids), "cold and warm encodings differ");
    char *dec;
    size_t dn;
    double t4 = now();
    if (bone_tokenizer_decode(t, ids, nids, 0, &dec, &dn, &e)) { fprintf(stderr, "FAIL: %s\n", e.msg); return 1; }
    double tdec = now() - t4;
    int rt = dn == n && !memcmp(dec, text, n);
    printf("%s: load %.2fs; %.2f MB -> %zu tokens; encode %.2f MB/s (cold cache %.2f MB/s; line by line %.2f MB/s, "
           "%zu tokens); decode %.1f MB/s; round trip %s\n", argv[1], tload, n / 1e6, nids, n / 1e6 / best,
           n / 1e6 / cold, n / 1e6 / perline, nlt, n / 1e6 / tdec, rt ? "exact" : "DIFFERS");
    if (bone_tokenizer_lossless(t)) CHECK(rt, "round trip differs");
    const char *min = getenv("BONE_TOK_MIN_MBS");
    if (min && atof(min) > 0) CHECK(n / 1e6 / best >= atof(min), "encode %.2f MB/s < %s MB/s", n / 1e6 / best, min);
    free(dec);
    free(ids);
    free(ids2);
    free(text);
    bone_tokenizer_free(t);
    bone_tokenizer_free(t2);
    return tu_failures ? 1 : 0;
}
