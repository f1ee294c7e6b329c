/* test_tok_rwkv.c — the RWKV World tokenizer (src/tokenizer/tok_rwkv.c) against every vector of
 * data/rwkv-world/vectors.jsonl (produced by gen_vectors.py and checked against upstream's
 * TRIE_TOKENIZER / RWKV_TOKENIZER, see that README): encode ids exact, decode gives back the
 * bytes, streamed decode equals the one-shot decode; loading through a model directory; the rwkv
 * chat template; and the strict loader's errors on malformed vocabulary lines (file:line named).
 * usage: test_tok_rwkv DATA_DIR (the data/rwkv-world folder) */
#include <cjson/cJSON.h>
#include <unistd.h>
#include "core/fs.h"
#include "data/template.h"
#include "tokenizer/tokenizer.h"
#include "../testutil.h"

static size_t unhex(const char *h, char *out) {
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    return n;
}

static void check_vectors(bone_tokenizer *t, const char *path) {
    char *text;
    size_t n;
    bone_err e = {{0}};
    CHECK(!bone_read_file(path, &text, &n, &e), "%s", e.msg);
    if (!text) return;
    int cases = 0, total_ids = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        CHECK(o, "bad JSON line");
        if (!o) continue;
        const char *hex = cJSON_GetObjectItem(o, "utf8_hex")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(o, "ids");
        char *bytes = malloc(strlen(hex) / 2 + 1);
        size_t nb = unhex(hex, bytes);
        int32_t *ids = NULL;
        size_t nids = 0;
        int rc = bone_tokenizer_encode(t, bytes, nb, 1, &ids, &nids, &e);
        CHECK(!rc, "case %d: %s", cJSON_GetObjectItem(o, "n")->valueint, e.msg);
        int ok = !rc && (int)nids == cJSON_GetArraySize(want);
        for (size_t i = 0; ok && i < nids; i++) ok = ids[i] == cJSON_GetArrayItem(want, (int)i)->valueint;
        CHECK(ok, "case %d (%s): ids differ (got %zu ids)", cJSON_GetObjectItem(o, "n")->valueint,
              cJSON_GetObjectItem(o, "desc")->valuestring, nids);
        char *dec = NULL;
        size_t dl = 0;
        CHECK(!bone_tokenizer_decode(t, ids, nids, 0, &dec, &dl, &e), "%s", e.msg);
        CHECK(dl == nb && !memcmp(dec, bytes, nb), "case %d: decode does not give back the text",
              cJSON_GetObjectItem(o, "n")->valueint);
        free(dec);
        /* streamed after a prompt: the concatenation equals the one-shot text */
        int32_t ctx[3] = {0, 24281, 59};
        bone_decode_stream *s = bone_decode_stream_new(t, ctx, 3);
        char *acc = calloc(1, nb * 3 + 16);
        size_t al = 0;
        for (size_t i = 0; i <= nids; i++) {
            const char *p;
            size_t pl;
            int r2 = i < nids ? bone_decode_stream_push(s, ids[i], &p, &pl, &e) : bone_decode_stream_flush(s, &p, &pl, &e);
            CHECK(!r2, "%s", e.msg);
            if (!r2 && al + pl <= nb * 3 + 8) { memcpy(acc + al, p, pl); al += pl; }
        }
        CHECK(al == nb && !memcmp(acc, bytes, nb), "case %d: streamed text differs", cJSON_GetObjectItem(o, "n")->valueint);
        free(acc);
        bone_decode_stream_free(s);
        cases++;
        total_ids += (int)nids;
        free(ids);
        free(bytes);
        cJSON_Delete(o);
    }
    free(text);
    CHECK(cases == 67 && total_ids == 615, "ran %d cases, %d ids (the README says 67 and 615)", cases, total_ids);
    printf("vectors: %d cases, %d ids checked\n", cases, total_ids);
}

/* a vocabulary of the 256 single bytes (ids 1-256) plus extra lines */
static char *mini_vocab(const char *extra) {
    size_t cap = 256 * 24 + strlen(extra) + 1, n = 0;
    char *v = malloc(cap);
    for (int b = 0; b < 256; b++) n += (size_t)snprintf(v + n, cap - n, "%d b'\\x%02x' 1\n", b + 1, b);
    memcpy(v + n, extra, strlen(extra) + 1);
    return v;
}

static void expect_reject(const char *extra, const char *needle) {
    char *v = mini_vocab(extra);
    bone_err e = {{0}};
    bone_tokenizer *t = bone_tokenizer_parse_rwkv("V.txt", v, strlen(v), &e);
    CHECK(!t, "accepted a bad vocabulary (%s)", needle);
    CHECK(t || strstr(e.msg, needle), "message \"%s\" lacks \"%s\"", e.msg, needle);
    bone_tokenizer_free(t);
    free(v);
}

static void expect_bytes(const char *extra, int32_t id, const char *want, size_t wn) {
    char *v = mini_vocab(extra);
    bone_err e = {{0}};
    bone_tokenizer *t = bone_tokenizer_parse_rwkv("V.txt", v, strlen(v), &e);
    CHECK(t, "%s", e.msg);
    if (t) {
        char *out;
        size_t ol;
        /* decode is lossy for invalid UTF-8; compare the raw piece instead */
        const char *p = bone_tokenizer_token_to_piece(t, id);
        CHECK(p && !memcmp(p, want, wn), "token %d has the wrong bytes", id);
        CHECK(!bone_tokenizer_decode(t, &id, 1, 0, &out, &ol, &e), "%s", e.msg);
        free(out);
        bone_tokenizer_free(t);
    }
    free(v);
}

static void loader_cases(void) {
    /* every escape form; \x in str is a code point, in bytes a byte */
    expect_bytes("257 '\\x80' 2\n", 257, "\xc2\x80", 2);
    expect_bytes("257 '\\u4e2d' 3\n", 257, "\xe4\xb8\xad", 3);
    expect_bytes("257 '\\U0001F600' 4\n", 257, "\xf0\x9f\x98\x80", 4);
    expect_bytes("257 'a\\'b\\\\\\n\\t\\r' 7\n", 257, "a'b\\\n\t\r", 7);
    expect_bytes("257 \"it's\" 4\n", 257, "it's", 4);
    expect_bytes("257 '\\101\\q' 3\n", 257, "A\\q", 3);
    expect_bytes("257 '\\a\\b\\f\\v\\\"' 5\n", 257, "\a\b\f\v\"", 5);
    expect_bytes("257 b'\\xe4\\xb8' 2\n", 257, "\xe4\xb8", 2);
    expect_bytes("257 '   ' 3\r\n", 257, "   ", 3); /* spaces inside, CRLF line end */
    /* malformed lines: each names the line */
    expect_reject("257 'ab' 3\n", "V.txt:257: token 257 decodes to 2 bytes, the line says 3");
    expect_reject("258 'ab' 2\n", "V.txt:257: id 258 follows id 256");
    expect_reject("257 'ab 2\n", "V.txt:257: token 257: the literal does not end with its opening quote");
    expect_reject("257 'a'b' 3\n", "an unescaped quote");
    expect_reject("257 b'\xc3\xa9' 2\n", "a non-ASCII character inside a bytes literal");
    expect_reject("257 '\\ud800' 3\n", "a surrogate code point");
    expect_reject("257 '\\N{BULLET}' 3\n", "named escape");
    expect_reject("257 '\\x4g' 1\n", "non-hex digit");
    expect_reject("257 'a' 1\n", "V.txt:257: token 257 has the same bytes as token 98");
    expect_reject("257 ab 2\n", "expected a quoted Python string or bytes literal");
    expect_reject("257 'ab'\n", "expected `<id> <python literal> <byte length>`");
    expect_reject("257 'ab' 2", "the last line has no newline");
    expect_reject("x 'ab' 2\n", "is not a decimal number");
    /* a vocabulary without every single byte */
    bone_err e = {{0}};
    const char *small = "1 'a' 1\n";
    bone_tokenizer *t = bone_tokenizer_parse_rwkv("S.txt", small, strlen(small), &e);
    CHECK(!t && strstr(e.msg, "no token for the single byte 0x00"), "%s", e.msg);
    bone_tokenizer_free(t);
}

static void template_case(bone_tokenizer *t) {
    bone_template tp;
    bone_err e = {{0}};
    CHECK(!bone_template_open(NULL, 1, t, &tp, &e), "%s", e.msg); /* chat default from the tokenizer */
    CHECK(!strcmp(tp.name, "rwkv"), "default chat template %s", tp.name);
    bone_msg m[2] = {{"user", "hello"}, {"assistant", "Hi there"}};
    bone_record r = {0};
    r.msgs = m;
    r.nmsgs = 2;
    bone_segs s;
    CHECK(!bone_template_render(&tp, &r, "x", &s, &e), "%s", e.msg);
    char *j = bone_segs_join(&s);
    CHECK(!strcmp(j, "User: hello\n\nAssistant: Hi there\n\n"), "rendered \"%s\"", j);
    CHECK(s.append_eos && !s.add_special, "documents end with eos, no BOS");
    CHECK(bone_tokenizer_eos(t) == 0 && bone_tokenizer_bos(t) == 0, "eos/bos must be id 0");
    free(j);
    bone_segs_free(&s);
    bone_template_close(&tp);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    bone_err e = {{0}};
    bone_tokenizer *t = bone_tokenizer_load(argv[1], &e); /* a directory holding the vocabulary */
    CHECK(t, "%s", e.msg);
    if (!t) return 1;
    CHECK(bone_tokenizer_vocab_size(t) == 65530, "vocab size %lld", (long long)bone_tokenizer_vocab_size(t));
    char *vp = bone_path_join(argv[1], "vectors.jsonl");
    check_vectors(t, vp);
    free(vp);
    /* the trap of the README: '\x80' (U+0080, 2 bytes) and b'\x80' (1 byte) are different ids */
    CHECK(bone_tokenizer_piece_to_id(t, "\xc2\x80") == 2423, "U+0080 is id 2423");
    CHECK(bone_tokenizer_piece_to_id(t, "\x80") == 129, "byte 0x80 is id 129");
    template_case(t);
    bone_tokenizer_free(t);
    loader_cases();
    return 0;
}
