/* test_tok_unit.c — unit tests per pipeline stage on small synthetic tokenizers (no fixtures):
 * added-token split (lstrip/rstrip/single_word/normalized), normalizers (Prepend, Replace, NFC),
 * pre-tokenizers (Split regex semantics, ByteLevel alphabet, Metaspace schemes), BPE (merge
 * order, both merges encodings, ignore_merges, byte_fallback, unk/fuse_unk), TemplateProcessing,
 * decoders, tokenizer_config (bos/eos/pad, add_bos_token, chat family), llama2.c tokenizer.bin,
 * and load errors. */
#include <unistd.h>
#include "core/fs.h"
#include "tokenizer/tokenizer.h"
#include "tok_test_util.h"

static char g_dir[256];

static void write_file(const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "wb");
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

static void rm_file(const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    unlink(p);
}

static bone_tokenizer *load_json(const char *json, const char *config) {
    write_file("tokenizer.json", json);
    if (config) write_file("tokenizer_config.json", config);
    else rm_file("tokenizer_config.json");
    bone_err e = {{0}};
    bone_tokenizer *t = bone_tokenizer_load(g_dir, &e);
    if (!t) fprintf(stderr, "load failed: %s\n", e.msg);
    return t;
}

/* encodes and compares with a space-separated list of ids */
static void expect_ids(bone_tokenizer *t, const char *text, int add, const char *want, int line) {
    int32_t *ids;
    size_t n;
    bone_err e = {{0}};
    if (bone_tokenizer_encode(t, text, strlen(text), add, &ids, &n, &e)) {
        fprintf(stderr, "line %d: encode \"%s\" failed: %s\n", line, text, e.msg);
        tu_failures++;
        return;
    }
    char got[4096] = "";
    for (size_t i = 0; i < n; i++) snprintf(got + strlen(got), sizeof got - strlen(got), i ? " %d" : "%d", ids[i]);
    if (strcmp(got, want)) {
        fprintf(stderr, "line %d: encode \"%s\": want [%s] got [%s]\n", line, text, want, got);
        tu_failures++;
    }
    free(ids);
}
#define EXPECT_IDS(t, text, add, want) expect_ids(t, text, add, want, __LINE__)

static void expect_decode(bone_tokenizer *t, const int32_t *ids, size_t n, unsigned flags, const char *want, int line) {
    char *out;
    size_t len;
    bone_err e = {{0}};
    if (bone_tokenizer_decode(t, ids, n, flags, &out, &len, &e)) {
        fprintf(stderr, "line %d: decode failed: %s\n", line, e.msg);
        tu_failures++;
        return;
    }
    if (strlen(want) != len || memcmp(out, want, len)) {
        fprintf(stderr, "line %d: decode: want \"%s\" got \"%s\"\n", line, want, out);
        tu_failures++;
    }
    free(out);
}
#define EXPECT_DECODE(t, ids, flags, want) expect_decode(t, ids, sizeof ids / sizeof *ids, flags, want, __LINE__)

/* ---- a SentencePiece-style (Llama-2 legacy) tokenizer --------------------------------------- */
/* ▁ = \u2581 */
static const char SPM[] =
    "{\"version\":\"1.0\",\"added_tokens\":["
    "{\"id\":0,\"content\":\"<unk>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
    "{\"id\":1,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
    "{\"id\":2,\"content\":\"</s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],"
    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},"
    "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]},"
    "\"pre_tokenizer\":null,"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
    "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}},"
    "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\\u2581\"},\"content\":\" \"},"
    "{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]},"
    "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_prefix\":null,"
    "\"end_of_word_suffix\":null,\"fuse_unk\":true,\"byte_fallback\":true,"
    "\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"<0xC3>\":3,\"<0xA9>\":4,\"<0xE2>\":5,\"<0x82>\":6,\"<0xAC>\":7,"
    "\"\\u2581\":8,\"a\":9,\"b\":10,\"\\u2581a\":11,\"\\u2581b\":12,\"H\":13,\"i\":14,\"Hi\":15,\"\\u2581Hi\":16,\"ab\":17},"
    "\"merges\":[\"\\u2581 a\",\"\\u2581 b\",\"H i\",\"\\u2581 Hi\",\"a b\"]}}";

static void test_spm(void) {
    bone_tokenizer *t = load_json(SPM, NULL);
    CHECK(t != NULL, "load SPM");
    if (!t) return;
    /* Prepend on every piece between added tokens (FORMATS §4.5): "a</s>b" → ▁a </s> ▁b */
    EXPECT_IDS(t, "a</s>b", 0, "11 2 12");
    /* " Hello"-style: leading space → ▁▁ → ▁ + ▁Hi */
    EXPECT_IDS(t, " Hi", 0, "8 16");
    EXPECT_IDS(t, "Hi", 1, "1 16");
    EXPECT_IDS(t, "", 0, "");
    EXPECT_IDS(t, "", 1, "1");
    /* merge order: ▁ a (rank 0) beats a b (rank 4): "ab" → ▁a b */
    EXPECT_IDS(t, "ab", 0, "11 10");
    /* byte fallback, uppercase hex: é = C3 A9 */
    EXPECT_IDS(t, "\xC3\xA9", 0, "8 3 4");
    /* unknown char without a byte piece → unk; fuse_unk collapses consecutive unks */
    EXPECT_IDS(t, "zz", 0, "8 0");
    EXPECT_IDS(t, "z\xC3\xA9z", 0, "8 0 3 4 0");
    CHECK(bone_tokenizer_bos(t) == 1, "bos from the template: %d", bone_tokenizer_bos(t));
    /* decoder: Replace ▁→" ", ByteFallback, Fuse, Strip one leading space */
    int32_t d1[] = {1, 16, 8, 11, 3, 4};
    EXPECT_DECODE(t, d1, 0, "<s> Hi  a\xC3\xA9"); /* Strip sees "<s>" first */
    EXPECT_DECODE(t, d1, BONE_DECODE_SKIP_SPECIAL, "Hi  a\xC3\xA9");
    int32_t d2[] = {8, 3, 9}; /* a lone C3 is invalid UTF-8 → U+FFFD per byte */
    EXPECT_DECODE(t, d2, 0, "\xEF\xBF\xBD" "a");
    int32_t d3[] = {5, 6, 7}; /* € */
    EXPECT_DECODE(t, d3, 0, "\xE2\x82\xAC");
    int32_t bad[] = {99};
    char *o;
    size_t ol;
    bone_err e = {{0}};
    CHECK(bone_tokenizer_decode(t, bad, 1, 0, &o, &ol, &e) == -1 && strstr(e.msg, "99"), "bad id: %s", e.msg);
    CHECK(bone_tokenizer_piece_to_id(t, "</s>") == 2 && bone_tokenizer_piece_to_id(t, "\xE2\x96\x81" "a") == 11, "piece_to_id");
    CHECK(!strcmp(bone_tokenizer_token_to_piece(t, 16), "\xE2\x96\x81Hi"), "token_to_piece");
    CHECK(bone_tokenizer_is_special(t, 2) && !bone_tokenizer_is_special(t, 9), "special flags");
    /* invalid UTF-8 input names the offset */
    int32_t *ids;
    size_t n;
    CHECK(bone_tokenizer_encode(t, "ab\xFF", 3, 0, &ids, &n, &e) == -1 && strstr(e.msg, "offset 2"), "%s", e.msg);
    bone_tokenizer_free(t);

    /* tokenizer_config: add_bos_token/add_eos_token rewrite the template for Llama classes */
    t = load_json(SPM, "{\"tokenizer_class\":\"LlamaTokenizer\",\"add_bos_token\":true,\"add_eos_token\":true,"
                       "\"bos_token\":\"<s>\",\"eos_token\":\"</s>\",\"pad_token\":null,\"unk_token\":\"<unk>\","
                       "\"chat_template\":\"{{ bos_token }}[INST] <<SYS>> ... [/INST]\"}");
    CHECK(t != NULL, "load with config");
    if (t) {
        EXPECT_IDS(t, "a", 1, "1 11 2");
        CHECK(bone_tokenizer_eos(t) == 2 && bone_tokenizer_pad(t) == -1, "eos/pad");
        CHECK(bone_tokenizer_chat_family(t) == BONE_CHAT_LLAMA2, "llama2 family");
        bone_tokenizer_free(t);
    }
    t = load_json(SPM, "{\"tokenizer_class\":\"LlamaTokenizer\",\"add_bos_token\":false,\"eos_token\":\"</s>\"}");
    if (t) {
        EXPECT_IDS(t, "a", 1, "11");
        CHECK(bone_tokenizer_chat_family(t) == BONE_CHAT_NONE, "no chat template");
        bone_tokenizer_free(t);
    }
    /* a config naming a token the vocabulary lacks is an error */
    write_file("tokenizer_config.json", "{\"eos_token\":\"<|nope|>\"}");
    t = bone_tokenizer_load(g_dir, &e);
    CHECK(!t && strstr(e.msg, "eos_token") && strstr(e.msg, "<|nope|>"), "%s", e.msg);
    bone_tokenizer_free(t);
    rm_file("tokenizer_config.json");
}

/* ---- Metaspace pre-tokenizer + decoder ------------------------------------------------------ */
static void test_metaspace(void) {
    char json[4096];
    const char *schemes[] = {"first", "always", "never"};
    for (int s = 0; s < 3; s++) {
        snprintf(json, sizeof json,
                 "{\"added_tokens\":[{\"id\":2,\"content\":\"</s>\",\"special\":true,\"normalized\":false}],"
                 "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\","
                 "\"prepend_scheme\":\"%s\",\"split\":false},\"post_processor\":null,"
                 "\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"%s\",\"split\":false},"
                 "\"model\":{\"type\":\"BPE\",\"unk_token\":null,\"byte_fallback\":false,"
                 "\"vocab\":{\"\\u2581\":0,\"a\":1,\"</s>\":2,\"\\u2581a\":3,\"b\":4,\"\\u2581b\":5},"
                 "\"merges\":[[\"\\u2581\",\"a\"],[\"\\u2581\",\"b\"]]}}",
                 schemes[s], schemes[s]);
        bone_tokenizer *t = load_json(json, NULL);
        CHECK(t != NULL, "metaspace %s", schemes[s]);
        if (!t) continue;
        if (s == 0) {
            /* first: only the piece at offset 0 gets ▁; never when it starts with a space already */
            EXPECT_IDS(t, "a</s>b", 0, "3 2 4");
            EXPECT_IDS(t, " a", 0, "3");
            EXPECT_IDS(t, "a b", 0, "3 5");
            int32_t d[] = {3, 5};
            EXPECT_DECODE(t, d, 0, "a b");
            int32_t d2[] = {0, 3, 0}; /* HF drops every ▁ of the first token */
            EXPECT_DECODE(t, d2, 0, " a ");
        } else if (s == 1) {
            EXPECT_IDS(t, "a</s>b", 0, "3 2 5");
            int32_t d[] = {3, 5};
            EXPECT_DECODE(t, d, 0, "a b");
        } else {
            EXPECT_IDS(t, "a</s>b", 0, "1 2 4");
            int32_t d[] = {3, 5};
            EXPECT_DECODE(t, d, 0, " a b");
        }
        bone_tokenizer_free(t);
    }
    /* split:true splits before each ▁ (merges never cross words) */
    bone_tokenizer *t = load_json(
        "{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\",\"split\":true},"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{\"\\u2581\":0,\"a\":1,\"\\u2581a\":2,\"a\\u2581\":3},"
        "\"merges\":[\"a \\u2581\",\"\\u2581 a\"]}}", NULL);
    CHECK(t != NULL, "metaspace split");
    if (t) {
        EXPECT_IDS(t, "a a", 0, "2 2");
        bone_tokenizer_free(t);
    }
}

/* ---- byte-level BPE: Split regex semantics, alphabet, ignore_merges, added tokens ----------- */
/* A byte-level vocab: the 256 alphabet chars get ids 0..255 in byte order, then merges. */
static char *bytelevel_json(const char *extra_vocab, const char *merges, const char *pretok, const char *added,
                            int ignore_merges, const char *normalizer) {
    size_t cap = 1 << 16;
    char *j = malloc(cap);
    int n = snprintf(j, cap, "{\"added_tokens\":[%s],\"normalizer\":%s,\"pre_tokenizer\":%s,"
                             "\"post_processor\":{\"type\":\"ByteLevel\"},\"decoder\":{\"type\":\"ByteLevel\"},"
                             "\"model\":{\"type\":\"BPE\",\"ignore_merges\":%s,\"vocab\":{",
                     added, normalizer, pretok, ignore_merges ? "true" : "false");
    uint32_t next = 0x100;
    for (int b = 0; b < 256; b++) {
        int id = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        uint32_t cp = id ? (uint32_t)b : next++;
        n += snprintf(j + n, cap - n, "%s\"\\u%04x\":%d", b ? "," : "", cp, b);
    }
    n += snprintf(j + n, cap - n, "%s%s},\"merges\":[%s]}}", *extra_vocab ? "," : "", extra_vocab, merges);
    return j;
}

static void test_bytelevel(void) {
    /* GPT-2 style: ByteLevel with its built-in regex; Ġ = U+0120 is byte 0x20 */
    char *j = bytelevel_json("\"\\u0120a\":256,\"ab\":257,\"\\u0120ab\":258", "\"\\u0120 a\",\"a b\",\"\\u0120a b\"",
                             "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}", "", 0, "null");
    bone_tokenizer *t = load_json(j, NULL);
    free(j);
    CHECK(t != NULL, "bytelevel load");
    if (t) {
        EXPECT_IDS(t, "ab ab", 0, "257 258");
        EXPECT_IDS(t, "\n", 0, "10");
        EXPECT_IDS(t, "a   b", 0, "97 32 32 32 98"); /* \s+(?!\S): "a" "  " " b"; no "Ġ b" merge */
        EXPECT_IDS(t, "a   a", 0, "97 32 32 256");
        EXPECT_IDS(t, "\xC3\xA9", 0, "195 169");
        int32_t d[] = {258, 32, 10, 195, 169};
        EXPECT_DECODE(t, d, 0, " ab \n\xC3\xA9");
        int32_t d2[] = {195}; /* invalid UTF-8 → one U+FFFD */
        EXPECT_DECODE(t, d2, 0, "\xEF\xBF\xBD");
        CHECK(!strcmp(bone_tokenizer_token_to_piece(t, 32), "\xC4\xA0"), "space maps to U+0120");
        CHECK(!strcmp(bone_tokenizer_token_to_piece(t, 10), "\xC4\x8A"), "LF maps to U+010A");
        CHECK(!strcmp(bone_tokenizer_token_to_piece(t, 0xAD), "\xC5\x83"), "0xAD maps to U+0143");
        CHECK(bone_tokenizer_lossless(t), "byte-level is lossless");
        bone_tokenizer_free(t);
    }
    /* add_prefix_space */
    j = bytelevel_json("\"\\u0120a\":256", "\"\\u0120 a\"", "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"use_regex\":true}",
                       "", 0, "null");
    t = load_json(j, NULL);
    free(j);
    if (t) {
        EXPECT_IDS(t, "a", 0, "256");
        EXPECT_IDS(t, " a", 0, "256");
        bone_tokenizer_free(t);
    }
    /* Split (Llama-3 regex) + ByteLevel(use_regex false); ignore_merges: a whole-word vocab hit wins
     * even though no merge path builds it */
    const char *l3 = "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
                     "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
                     "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]}";
    j = bytelevel_json("\"abc\":256,\"12\":257,\"123\":258", "\"1 2\"", l3, "", 1, "null");
    t = load_json(j, NULL);
    free(j);
    CHECK(t != NULL, "llama3-style load");
    if (t) {
        EXPECT_IDS(t, "abc", 0, "256");     /* ignore_merges */
        EXPECT_IDS(t, "abcd", 0, "97 98 99 100");
        EXPECT_IDS(t, "1234", 0, "258 52"); /* \p{N}{1,3} */
        EXPECT_IDS(t, "I'M", 0, "73 39 77"); /* (?i:'m) splits "'M" off as its own word */
        /* U+0085 (NEL) counts as \s: "a\u0085b" → "a", "\u0085b"? no: [^\r\n\p{L}\p{N}]?\p{L}+ takes NEL+b */
        EXPECT_IDS(t, "a\xC2\x85" "b", 0, "97 194 133 98");
        bone_tokenizer_free(t);
    }
    /* without ignore_merges the same word goes through merges */
    j = bytelevel_json("\"abc\":256", "", l3, "", 0, "null");
    t = load_json(j, NULL);
    free(j);
    if (t) {
        EXPECT_IDS(t, "abc", 0, "97 98 99");
        bone_tokenizer_free(t);
    }
    /* NFC normalizer: e + U+0301 → é (C3 A9) */
    j = bytelevel_json("", "", l3, "", 0, "{\"type\":\"NFC\"}");
    t = load_json(j, NULL);
    free(j);
    if (t) {
        EXPECT_IDS(t, "e\xCC\x81", 0, "195 169");
        bone_tokenizer_free(t);
    }
    /* added tokens: leftmost-longest, lstrip/rstrip, single_word, normalized:true */
    const char *added =
        "{\"id\":300,\"content\":\"<|x|>\",\"special\":true,\"normalized\":false},"
        "{\"id\":301,\"content\":\"<|x|>y\",\"special\":true,\"normalized\":false},"
        "{\"id\":302,\"content\":\"<L>\",\"lstrip\":true,\"special\":false,\"normalized\":false},"
        "{\"id\":303,\"content\":\"<R>\",\"rstrip\":true,\"special\":false,\"normalized\":false},"
        "{\"id\":304,\"content\":\"cat\",\"single_word\":true,\"special\":false,\"normalized\":false},"
        "{\"id\":305,\"content\":\"\\u00e9\",\"special\":false,\"normalized\":true}";
    j = bytelevel_json("", "", l3, added, 0, "{\"type\":\"NFC\"}");
    t = load_json(j, NULL);
    free(j);
    CHECK(t != NULL, "added tokens load");
    if (t) {
        EXPECT_IDS(t, "a<|x|>b", 0, "97 300 98");
        EXPECT_IDS(t, "<|x|>yz", 0, "301 122");
        EXPECT_IDS(t, "a  <L>b", 0, "97 302 98");
        EXPECT_IDS(t, "a<R>  b", 0, "97 303 98");
        EXPECT_IDS(t, "cat", 0, "304");
        EXPECT_IDS(t, "a cat.", 0, "97 32 304 46");
        EXPECT_IDS(t, "cats", 0, "99 97 116 115");
        EXPECT_IDS(t, "e\xCC\x81", 0, "305"); /* matched after NFC */
        int32_t d[] = {97, 300, 98};
        EXPECT_DECODE(t, d, 0, "a<|x|>b");
        EXPECT_DECODE(t, d, BONE_DECODE_SKIP_SPECIAL, "ab");
        bone_tokenizer_free(t);
    }
}

/* ---- llama2.c tokenizer.bin --------------------------------------------------------------- */
static void put_piece(FILE *f, float score, const char *s) {
    int32_t len = (int32_t)strlen(s);
    fwrite(&score, 4, 1, f);
    fwrite(&len, 4, 1, f);
    fwrite(s, 1, (size_t)len, f);
}

static void test_llama2c(void) {
    char p[512];
    snprintf(p, sizeof p, "%s/tokenizer.bin", g_dir);
    FILE *f = fopen(p, "wb");
    uint32_t maxlen = 8;
    fwrite(&maxlen, 4, 1, f);
    put_piece(f, 0, "<unk>");
    put_piece(f, 0, "\n<s>\n");
    put_piece(f, 0, "\n</s>\n");
    for (int b = 0; b < 256; b++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        put_piece(f, 0, s);
    }
    /* 259 " ", 260 "a", 261 "b", 262 " a", 263 "ab", 264 " ab" */
    put_piece(f, -1, " ");
    put_piece(f, -2, "a");
    put_piece(f, -3, "b");
    put_piece(f, -5, " a");  /* lower score than "ab" */
    put_piece(f, -4, "ab");
    put_piece(f, -6, " ab");
    fclose(f);
    bone_err e = {{0}};
    bone_tokenizer *t = bone_tokenizer_load(p, &e);
    CHECK(t != NULL, "llama2c load: %s", e.msg);
    if (!t) return;
    CHECK(bone_tokenizer_vocab_size(t) == 265, "vocab %lld", (long long)bone_tokenizer_vocab_size(t));
    /* dummy prefix, then "ab" (score -4) merges before " a" (-5): " " "ab" → " ab" */
    EXPECT_IDS(t, "ab", 1, "1 264");
    EXPECT_IDS(t, "ab", 0, "264");
    EXPECT_IDS(t, "", 1, "1");
    EXPECT_IDS(t, "a\xC3\xA9", 0, "262 198 172"); /* é has no piece: bytes + 3 */
    int32_t d[] = {1, 264, 261, 198, 172};
    EXPECT_DECODE(t, d, 0, "\n<s>\nabb\xC3\xA9");
    int32_t d2[] = {264, 259};
    EXPECT_DECODE(t, d2, 0, " ab ");
    CHECK(bone_tokenizer_bos(t) == 1 && bone_tokenizer_eos(t) == 2, "bos/eos");
    bone_tokenizer_free(t);
    /* truncated file */
    f = fopen(p, "ab");
    fwrite("\0\0", 1, 2, f);
    fclose(f);
    t = bone_tokenizer_load(p, &e);
    CHECK(!t && strstr(e.msg, "truncated"), "truncated: %s", e.msg);
    bone_tokenizer_free(t);
    unlink(p);
}

/* ---- load errors and chat family detection ------------------------------------------------ */
static void test_errors(void) {
    bone_err e = {{0}};
    write_file("tokenizer.json", "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}");
    bone_tokenizer *t = bone_tokenizer_load(g_dir, &e);
    CHECK(!t && strstr(e.msg, "WordPiece"), "%s", e.msg);
    write_file("tokenizer.json", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}}");
    t = bone_tokenizer_load(g_dir, &e);
    CHECK(!t && strstr(e.msg, "merge 0") && strstr(e.msg, "merged token"), "%s", e.msg);
    write_file("tokenizer.json", "{\"normalizer\":{\"type\":\"Lowercase\"},\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}");
    t = bone_tokenizer_load(g_dir, &e);
    CHECK(!t && strstr(e.msg, "Lowercase"), "%s", e.msg);
    write_file("tokenizer.json", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,}}}");
    t = bone_tokenizer_load(g_dir, &e);
    CHECK(!t && strstr(e.msg, "tokenizer.json:1:"), "%s", e.msg);
    t = bone_tokenizer_load("/nonexistent/tokenizer.json", &e);
    CHECK(!t && strstr(e.msg, "/nonexistent"), "%s", e.msg);
    rm_file("tokenizer.json");
    t = bone_tokenizer_load(g_dir, &e);
    CHECK(!t && strstr(e.msg, "no tokenizer.json"), "%s", e.msg);

    CHECK(bone_chat_family_detect(NULL) == BONE_CHAT_NONE, "none");
    CHECK(bone_chat_family_detect("{% for m in messages %}<|im_start|>{{m.role}}") == BONE_CHAT_CHATML, "chatml");
    CHECK(bone_chat_family_detect("<|start_header_id|>x<|end_header_id|>") == BONE_CHAT_LLAMA3, "llama3");
    CHECK(bone_chat_family_detect("[INST] <<SYS>>") == BONE_CHAT_LLAMA2, "llama2");
    CHECK(bone_chat_family_detect("<|user|>\n<|assistant|>") == BONE_CHAT_ZEPHYR, "zephyr");
    CHECK(bone_chat_family_detect("{{ messages }}") == BONE_CHAT_UNKNOWN, "unknown");
    CHECK(bone_chat_family_detect("[INST] {{ m }} [/INST]") == BONE_CHAT_UNKNOWN, "mistral-style is not llama2");
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/bone-tok-unit-XXXXXX");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return 1; }
    test_spm();
    test_metaspace();
    test_bytelevel();
    test_llama2c();
    test_errors();
    rm_file("tokenizer.json");
    rm_file("tokenizer_config.json");
    rmdir(g_dir);
    if (tu_failures) fprintf(stderr, "%d check(s) failed\n", tu_failures);
    else printf("tokenizer unit tests: ok\n");
    return tu_failures ? 1 : 0;
}
