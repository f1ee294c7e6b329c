/* test_tok_stream.c — the streaming decoder (bone_decode_stream, used by `bone generate`): for
 * texts split into a prompt and a continuation at several points, the streamed text of the
 * continuation must equal (1) bone's one-shot decode(prompt + continuation) without its prefix
 * decode(prompt), and (2) the same computed by @huggingface/tokenizers (node oracle; "-" skips
 * it, for a tokenizer without tokenizer.json), as TextStreamer prints it. So a continuation keeps
 * the space a SentencePiece decoder strips from a text's first word (review 13.7). And the work
 * is bounded: no push passes more than MAX_WORK ids to the decoder, whatever the length of the
 * prompt or of the text streamed so far (review 13.9: it used to decode everything every token).
 * usage: test_tok_stream TOKDIR ORACLE.mjs|- GSM8K.jsonl NLINES */
#include <cjson/cJSON.h>
#include <unistd.h>
#include "tokenizer/tokenizer.h"
#include "tok_test_util.h"

#define MAX_WORK 64

static const char *extra[] = {
    "I dream align, I dream of a world.", "  two leading spaces", "trailing spaces   ", "naïve café 東京 你好世界 😀🎉 ok",
    "line one\nline two\n\n  indented", "$12.50, so 3×4 = 12 — done.", "日本語のテキスト。中文文本。한국어 텍스트", "a"};

/* streams ids[k..n) after context ids[0..k); returns the text (malloc'ed) and the largest work */
static char *stream(bone_tokenizer *t, const int32_t *ids, size_t k, size_t n, size_t *maxwork) {
    bone_err e = {{0}};
    bone_decode_stream *s = bone_decode_stream_new(t, ids, k);
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    *maxwork = 0;
    for (size_t i = k; i <= n; i++) {
        const char *p;
        size_t pl;
        int rc = i < n ? bone_decode_stream_push(s, ids[i], &p, &pl, &e) : bone_decode_stream_flush(s, &p, &pl, &e);
        if (rc) { fprintf(stderr, "FAIL: stream: %s\n", e.msg); exit(1); }
        if (bone_decode_stream_last_work(s) > *maxwork) *maxwork = bone_decode_stream_last_work(s);
        while (len + pl + 1 > cap) out = realloc(out, cap *= 2);
        memcpy(out + len, p, pl);
        len += pl;
    }
    out[len] = 0;
    bone_decode_stream_free(s);
    return out;
}

/* decode(ids[0..n)) without decode(ids[0..k)); NULL when the latter is not a prefix */
static char *oneshot(bone_tokenizer *t, const int32_t *ids, size_t k, size_t n) {
    bone_err e = {{0}};
    char *a, *b;
    size_t la, lb;
    if (bone_tokenizer_decode(t, ids, k, BONE_DECODE_SKIP_SPECIAL, &a, &la, &e) ||
        bone_tokenizer_decode(t, ids, n, BONE_DECODE_SKIP_SPECIAL, &b, &lb, &e)) { fprintf(stderr, "FAIL: %s\n", e.msg); exit(1); }
    char *r = lb >= la && !memcmp(a, b, la) ? strdup(b + la) : NULL;
    free(a);
    free(b);
    return r;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s TOKDIR ORACLE.mjs|- GSM8K.jsonl NLINES\n", argv[0]); return 2; }
    char tokdir[4096], pkg[4096];
    tt_cache_path(tokdir, sizeof tokdir, argv[1]);
    tt_cache_path(pkg, sizeof pkg, "oracle/node_modules/@huggingface/tokenizers");
    bone_err e = {{0}};
    bone_tokenizer *t = bone_tokenizer_load(tokdir, &e);
    if (!t) { fprintf(stderr, "FAIL: %s\n", e.msg); return 1; }

    /* texts: the extra strings, GSM8K questions and answers, and one long text of 40 of them */
    size_t nt = 0, capt = 256;
    char **texts = malloc(capt * sizeof *texts);
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) texts[nt++] = strdup(extra[i]);
    size_t fn;
    char *buf = tt_read(argv[3], &fn);
    long want = atol(argv[4]);
    size_t longcap = 1 << 16, longn = 0;
    char *longtext = calloc(1, longcap);
    for (char *line = strtok(buf, "\n"); line && want > 0; line = strtok(NULL, "\n"), want--) {
        cJSON *rec = cJSON_Parse(line);
        const char *keys[] = {"question", "answer"};
        for (int f = 0; f < 2; f++) {
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(rec, keys[f]);
            if (!cJSON_IsString(s)) continue;
            if (nt == capt) texts = realloc(texts, (capt *= 2) * sizeof *texts);
            texts[nt++] = strdup(s->valuestring);
            size_t l = strlen(s->valuestring);
            if (longn + l + 2 < longcap && nt < 80) { memcpy(longtext + longn, s->valuestring, l); longn += l; longtext[longn++] = '\n'; }
        }
        cJSON_Delete(rec);
    }
    free(buf);
    if (nt == capt) texts = realloc(texts, (capt *= 2) * sizeof *texts);
    texts[nt++] = longtext;

    cJSON *pairs = cJSON_CreateArray(); /* [ctx ids, all ids] per case, for the oracle */
    char **got = NULL;
    size_t ncase = 0, total_ids = 0, worst = 0, spaced = 0, nsplit_mid = 0;
    for (size_t i = 0; i < nt; i++) {
        int32_t *ids;
        size_t n;
        if (bone_tokenizer_encode(t, texts[i], strlen(texts[i]), 1, &ids, &n, &e)) { fprintf(stderr, "FAIL: %s\n", e.msg); return 1; }
        size_t ks[] = {0, 1, 2, n / 3, n / 2, n > 0 ? n - 1 : 0};
        for (size_t j = 0; j < sizeof ks / sizeof *ks; j++) {
            size_t k = ks[j];
            if (k >= n || (j && k == ks[j - 1])) continue;
            char *o = oneshot(t, ids, k, n);
            if (!o) { /* ids[0..k) ends inside a character: no text encodes to such a prompt */
                nsplit_mid++;
                continue;
            }
            size_t mw;
            char *s = stream(t, ids, k, n, &mw);
            CHECK(!strcmp(s, o), "text %zu split at %zu/%zu: streamed [%s] vs one-shot [%s]", i, k, n, s, o);
            CHECK(mw <= MAX_WORK, "text %zu split at %zu/%zu: a push decoded %zu ids (bound %d)", i, k, n, mw, MAX_WORK);
            if (mw > worst) worst = mw;
            spaced += s[0] == ' ';
            total_ids += n - k;
            free(o);
            got = realloc(got, (ncase + 1) * sizeof *got);
            got[ncase++] = s;
            cJSON *pr = cJSON_CreateArray(), *a = cJSON_CreateArray(), *b = cJSON_CreateArray();
            for (size_t q = 0; q < n; q++) cJSON_AddItemToArray(q < k ? a : b, cJSON_CreateNumber(ids[q]));
            cJSON *all = cJSON_Duplicate(a, 1);
            for (size_t q = k; q < n; q++) cJSON_AddItemToArray(all, cJSON_CreateNumber(ids[q]));
            cJSON_Delete(b);
            cJSON_AddItemToArray(pr, a);
            cJSON_AddItemToArray(pr, all);
            cJSON_AddItemToArray(pairs, pr);
        }
        free(ids);
    }
    CHECK(spaced > 0, "no continuation began with a space: the test does not reach the first-word case");
    CHECK(ncase > 4 * nt, "only %zu splits of %zu texts", ncase, nt);
    printf("%zu splits of %zu texts (%zu inside a character left out): streamed == one-shot; at most %zu ids decoded "
           "per push over %zu streamed ids\n", ncase, nt, nsplit_mid, worst, total_ids);

    if (strcmp(argv[2], "-")) {
        /* the oracle: decode every ctx and every ctx+continuation */
        cJSON *flat = cJSON_CreateArray();
        cJSON *pr;
        cJSON_ArrayForEach(pr, pairs) {
            cJSON_AddItemToArray(flat, cJSON_Duplicate(cJSON_GetArrayItem(pr, 0), 1));
            cJSON_AddItemToArray(flat, cJSON_Duplicate(cJSON_GetArrayItem(pr, 1), 1));
        }
        char inpath[] = "/tmp/bone-stream-in-XXXXXX", outpath[] = "/tmp/bone-stream-out-XXXXXX";
        int fd = mkstemp(inpath), fd2 = mkstemp(outpath);
        if (fd < 0 || fd2 < 0) { perror("mkstemp"); return 1; }
        close(fd2);
        char *js = cJSON_PrintUnformatted(flat);
        if (write(fd, js, strlen(js)) != (ssize_t)strlen(js)) { perror("write"); return 1; }
        close(fd);
        free(js);
        cJSON_Delete(flat);
        char cmd[16384];
        snprintf(cmd, sizeof cmd, "node '%s' '%s' '%s' '%s' '%s' decode", argv[2], pkg, tokdir, inpath, outpath);
        int rc = system(cmd);
        unlink(inpath);
        if (rc != 0) { fprintf(stderr, "FAIL: oracle command failed: %s\n", cmd); unlink(outpath); return 1; }
        size_t on;
        char *txt = tt_read(outpath, &on);
        unlink(outpath);
        cJSON *res = cJSON_Parse(txt);
        free(txt);
        if (!cJSON_IsArray(res) || (size_t)cJSON_GetArraySize(res) != 2 * ncase) { fprintf(stderr, "FAIL: oracle output\n"); return 1; }
        size_t agree = 0;
        for (size_t c = 0; c < ncase; c++) {
            const char *hp = cJSON_GetArrayItem(res, (int)(2 * c))->valuestring, *ha = cJSON_GetArrayItem(res, (int)(2 * c + 1))->valuestring;
            size_t lp = strlen(hp);
            int ok = !strncmp(ha, hp, lp) && !strcmp(ha + lp, got[c]);
            CHECK(ok, "case %zu: streamed [%s] vs HF decode(prompt+continuation) minus decode(prompt) [%s]", c, got[c],
                  !strncmp(ha, hp, lp) ? ha + lp : "(prompt text not a prefix)");
            agree += ok;
        }
        printf("@huggingface/tokenizers agrees on %zu/%zu\n", agree, ncase);
        cJSON_Delete(res);
    }
    for (size_t c = 0; c < ncase; c++) free(got[c]);
    free(got);
    cJSON_Delete(pairs);
    for (size_t i = 0; i < nt; i++) free(texts[i]);
    free(texts);
    bone_tokenizer_free(t);
    return tu_failures ? 1 : 0;
}
