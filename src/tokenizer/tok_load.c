/* tok_load.c — building a bone_tokenizer from tokenizer.json (+ tokenizer_config.json), from
 * GPT-2's vocab.json + merges.txt, or from a llama2.c tokenizer.bin; the accessors; freeing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"
#include "core/utf8.h"
#include "io/json.h"
#include "tokenizer/tok_internal.h"

/* ---- regex compilation ------------------------------------------------------------------- */
/* HF patterns are Oniguruma/fancy-regex; PCRE2 agrees except for \s (we spell out Rust's
 * White_Space set) and (?i:...) (ASCII folding only, as HF's contractions need). */
#define WS_CLASS_BODY "\\x{9}-\\x{D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

static int is_alpha_ascii(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static pcre2_code *compile_regex(const char *pat, size_t n, const char *what, bone_err *e) {
    tok_buf o = {0};
    int in_class = 0, class_start = 0;
    int stack[64], depth = 0, caseless = 0;
    for (size_t i = 0; i < n; i++) {
        char c = pat[i];
        if (c == '\\' && i + 1 < n) {
            char d = pat[i + 1];
            if (d == 's') {
                if (in_class) tok_buf_add(&o, WS_CLASS_BODY, strlen(WS_CLASS_BODY));
                else tok_buf_add(&o, "[" WS_CLASS_BODY "]", strlen(WS_CLASS_BODY) + 2);
                i++;
                continue;
            }
            if (d == 'S') {
                if (in_class) {
                    tok_buf_free(&o);
                    bone_fail(e, "%s: \\S inside a character class is not supported", what);
                    return NULL;
                }
                tok_buf_add(&o, "[^" WS_CLASS_BODY "]", strlen(WS_CLASS_BODY) + 3);
                i++;
                continue;
            }
            tok_buf_add(&o, pat + i, 2);
            i++;
            /* copy a braced argument (\p{L}, \x{..}) verbatim */
            if ((d == 'p' || d == 'P' || d == 'x') && i + 1 < n && pat[i + 1] == '{') {
                size_t j = i + 1;
                while (j < n && pat[j] != '}') j++;
                tok_buf_add(&o, pat + i + 1, j - i);
                i = j;
            }
            class_start = 0;
            continue;
        }
        if (in_class) {
            if (c == ']' && !class_start) in_class = 0;
            else if (c == '^' && class_start == 1 && o.n && o.p[o.n - 1] == '[') {
                tok_buf_addc(&o, c);
                continue;
            }
            class_start = 0;
            if (caseless && is_alpha_ascii(c)) {
                tok_buf_addc(&o, (char)(c | 0x20));
                tok_buf_addc(&o, (char)(c & ~0x20));
                continue;
            }
            tok_buf_addc(&o, c);
            continue;
        }
        if (c == '[') {
            in_class = 1;
            class_start = 1;
            tok_buf_addc(&o, c);
            continue;
        }
        if (c == '(') {
            if (depth == 64) {
                tok_buf_free(&o);
                bone_fail(e, "%s: regex nests too deeply", what);
                return NULL;
            }
            stack[depth++] = caseless;
            if (i + 3 < n && !strncmp(pat + i, "(?i:", 4)) {
                caseless = 1;
                tok_buf_add(&o, "(?:", 3);
                i += 3;
                continue;
            }
            tok_buf_addc(&o, c);
            continue;
        }
        if (c == ')') {
            if (depth) caseless = stack[--depth];
            tok_buf_addc(&o, c);
            continue;
        }
        if (caseless && is_alpha_ascii(c)) {
            char t[4] = {'[', (char)(c | 0x20), (char)(c & ~0x20), ']'};
            tok_buf_add(&o, t, 4);
            continue;
        }
        tok_buf_addc(&o, c);
    }
    int err;
    PCRE2_SIZE eoff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)o.p, o.n, PCRE2_UTF | PCRE2_UCP, &err, &eoff, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        bone_fail(e, "%s: cannot compile regex /%.*s/: %s at offset %zu", what, (int)n, pat, (const char *)msg,
                  (size_t)eoff);
        tok_buf_free(&o);
        return NULL;
    }
    tok_buf_free(&o);
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if JIT is unavailable */
    return re;
}

static pcre2_code *compile_literal(const char *s, const char *what, bone_err *e) {
    tok_buf o = {0};
    for (const char *p = s; *p; p++) {
        if (strchr("\\^$.|?*+()[]{}", *p)) tok_buf_addc(&o, '\\');
        tok_buf_addc(&o, *p);
    }
    if (!o.p) tok_buf_add(&o, "", 0);
    pcre2_code *re = compile_regex(o.p, o.n, what, e);
    tok_buf_free(&o);
    return re;
}

/* The GPT-2 split regex (FORMATS.md §4.6), used by ByteLevel with use_regex. */
static const char GPT2_RE[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static cJSON *load_big_object(const char *path, bone_err *e);

/* ---- helpers ----------------------------------------------------------------------------- */
static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
static int jbool(const cJSON *o, const char *k, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return dflt;
}

static void set_piece(bone_tokenizer *t, int32_t id, const char *s, size_t len) {
    if (t->piece[id]) return;
    t->piece[id] = xmalloc(len + 1);
    memcpy(t->piece[id], s, len);
    t->piece[id][len] = 0;
    t->piece_len[id] = (uint32_t)len;
}

static void alloc_vocab(bone_tokenizer *t, int64_t n) {
    t->nvocab = n;
    t->piece = xcalloc((size_t)n, sizeof *t->piece);
    t->piece_len = xcalloc((size_t)n, sizeof *t->piece_len);
    t->special = xcalloc((size_t)n, 1);
}

static bone_tokenizer *tok_new(const char *path) {
    bone_tokenizer *t = xcalloc(1, sizeof *t);
    t->path = xstrdup(path);
    t->bos = t->eos = t->pad = t->unk_id = -1;
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    return t;
}

void tok_pre_free(tok_pre *p) {
    if (p->re) pcre2_code_free(p->re);
    free(p->replacement);
}

void bone_tokenizer_free(bone_tokenizer *t) {
    if (!t) return;
    for (int64_t i = 0; i < t->nvocab; i++) free(t->piece[i]);
    free(t->piece);
    free(t->piece_len);
    free(t->special);
    tok_smap_free(&t->vocab);
    tok_smap_free(&t->raw_vocab);
    free(t->raw_store);
    tok_mmap_free(&t->merges);
    for (size_t i = 0; i < t->nadded; i++) free(t->added[i].content);
    free(t->added);
    for (size_t i = 0; i < t->nnorm; i++) { free(t->norm[i].a); free(t->norm[i].b); }
    free(t->norm);
    for (size_t i = 0; i < t->npre; i++) tok_pre_free(&t->pre[i]);
    free(t->pre);
    for (size_t i = 0; i < t->npost; i++) free(t->post[i].ids);
    free(t->post);
    for (size_t i = 0; i < t->ndec; i++) { free(t->dec[i].a); free(t->dec[i].b); }
    free(t->dec);
    free(t->score_rank);
    free(t->chat_default_system);
    tok_cache_free(&t->cache);
    free(t->path);
    free(t);
}

/* ---- pipeline parsing -------------------------------------------------------------------- */
static int parse_normalizer(bone_tokenizer *t, const cJSON *n, const char *what, bone_err *e) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *type = jstr(n, "type");
    if (!type) return bone_fail(e, "%s: normalizer without a \"type\"", what);
    if (!strcmp(type, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        if (!cJSON_IsArray(arr)) return bone_fail(e, "%s: normalizer Sequence without \"normalizers\"", what);
        for (const cJSON *c = arr->child; c; c = c->next)
            if (parse_normalizer(t, c, what, e)) return -1;
        return 0;
    }
    tok_norm nm = {0};
    if (!strcmp(type, "NFC")) nm.type = NORM_NFC;
    else if (!strcmp(type, "NFD")) nm.type = NORM_NFD;
    else if (!strcmp(type, "NFKC")) nm.type = NORM_NFKC;
    else if (!strcmp(type, "NFKD")) nm.type = NORM_NFKD;
    else if (!strcmp(type, "Prepend")) {
        const char *p = jstr(n, "prepend");
        if (!p) return bone_fail(e, "%s: normalizer Prepend without \"prepend\"", what);
        nm.type = NORM_PREPEND;
        nm.a = xstrdup(p);
    } else if (!strcmp(type, "Replace")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(n, "pattern");
        const char *s = pat ? jstr(pat, "String") : NULL;
        const char *content = jstr(n, "content");
        if (!s || !content)
            return bone_fail(e, "%s: normalizer Replace needs {\"pattern\":{\"String\":...},\"content\":...} "
                                "(regex patterns are not supported)", what);
        if (!*s) return bone_fail(e, "%s: normalizer Replace with an empty pattern", what);
        nm.type = NORM_REPLACE;
        nm.a = xstrdup(s);
        nm.b = xstrdup(content);
    } else
        return bone_fail(e, "%s: unsupported normalizer type \"%s\" (bone supports NFC, NFD, NFKC, NFKD, Prepend, "
                            "Replace, Sequence)", what, type);
    t->norm = xrealloc(t->norm, (t->nnorm + 1) * sizeof *t->norm);
    t->norm[t->nnorm++] = nm;
    return 0;
}

static int parse_scheme(const cJSON *n, tok_prepend_scheme *s, const char *what, bone_err *e) {
    const char *ps = jstr(n, "prepend_scheme");
    if (ps) {
        if (!strcmp(ps, "always")) *s = PREPEND_ALWAYS;
        else if (!strcmp(ps, "first")) *s = PREPEND_FIRST;
        else if (!strcmp(ps, "never")) *s = PREPEND_NEVER;
        else return bone_fail(e, "%s: Metaspace prepend_scheme \"%s\" is not always|first|never", what, ps);
    } else
        *s = jbool(n, "add_prefix_space", 1) ? PREPEND_ALWAYS : PREPEND_NEVER;
    return 0;
}

static int parse_pretok(bone_tokenizer *t, const cJSON *n, const char *what, bone_err *e) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *type = jstr(n, "type");
    if (!type) return bone_fail(e, "%s: pre_tokenizer without a \"type\"", what);
    if (!strcmp(type, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(n, "pretokenizers");
        if (!cJSON_IsArray(arr)) return bone_fail(e, "%s: pre_tokenizer Sequence without \"pretokenizers\"", what);
        for (const cJSON *c = arr->child; c; c = c->next)
            if (parse_pretok(t, c, what, e)) return -1;
        return 0;
    }
    if (t->npre && t->pre[t->npre - 1].type == PRE_BYTELEVEL)
        return bone_fail(e, "%s: a pre-tokenizer after ByteLevel is not supported", what);
    tok_pre p = {0};
    if (!strcmp(type, "Split")) {
        p.type = PRE_SPLIT;
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(n, "pattern");
        const char *rx = pat ? jstr(pat, "Regex") : NULL;
        const char *s = pat ? jstr(pat, "String") : NULL;
        if (rx) p.re = compile_regex(rx, strlen(rx), what, e);
        else if (s) p.re = compile_literal(s, what, e);
        else return bone_fail(e, "%s: Split pre-tokenizer needs pattern {\"Regex\"|\"String\": ...}", what);
        if (!p.re) return -1;
        const char *b = jstr(n, "behavior");
        if (!b || !strcmp(b, "Isolated")) p.behavior = SPLIT_ISOLATED;
        else if (!strcmp(b, "Removed")) p.behavior = SPLIT_REMOVED;
        else if (!strcmp(b, "MergedWithPrevious")) p.behavior = SPLIT_MERGED_PREV;
        else if (!strcmp(b, "MergedWithNext")) p.behavior = SPLIT_MERGED_NEXT;
        else {
            tok_pre_free(&p);
            return bone_fail(e, "%s: Split behavior \"%s\" is not supported", what, b);
        }
        if (jbool(n, "invert", 0)) {
            tok_pre_free(&p);
            return bone_fail(e, "%s: Split with invert:true is not supported", what);
        }
    } else if (!strcmp(type, "ByteLevel")) {
        p.type = PRE_BYTELEVEL;
        p.add_prefix_space = jbool(n, "add_prefix_space", 1);
        if (jbool(n, "use_regex", 1)) {
            p.re = compile_regex(GPT2_RE, strlen(GPT2_RE), what, e);
            if (!p.re) return -1;
        }
        t->byte_level = 1;
    } else if (!strcmp(type, "Metaspace")) {
        p.type = PRE_METASPACE;
        const char *r = jstr(n, "replacement");
        if (r && !*r) return bone_fail(e, "%s: Metaspace pre-tokenizer with an empty replacement", what);
        p.replacement = xstrdup(r ? r : "\xE2\x96\x81");
        if (parse_scheme(n, &p.scheme, what, e)) {
            tok_pre_free(&p);
            return -1;
        }
        p.split = jbool(n, "split", 1);
    } else
        return bone_fail(e, "%s: unsupported pre_tokenizer type \"%s\" (bone supports Split, ByteLevel, Metaspace, "
                            "Sequence)", what, type);
    t->pre = xrealloc(t->pre, (t->npre + 1) * sizeof *t->pre);
    t->pre[t->npre++] = p;
    return 0;
}

static int parse_template(bone_tokenizer *t, const cJSON *n, const char *what, bone_err *e) {
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(n, "single");
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(n, "special_tokens");
    if (!cJSON_IsArray(single)) return bone_fail(e, "%s: TemplateProcessing without a \"single\" array", what);
    t->has_post = 1;
    for (const cJSON *it = single->child; it; it = it->next) {
        tok_post_item pi = {0};
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
        if (sq) {
            const char *id = jstr(sq, "id");
            if (!id || strcmp(id, "A"))
                return bone_fail(e, "%s: TemplateProcessing single template uses sequence \"%s\"", what, id ? id : "?");
            pi.is_seq = 1;
        } else if (sp) {
            const char *id = jstr(sp, "id");
            const cJSON *def = id && specials ? cJSON_GetObjectItemCaseSensitive(specials, id) : NULL;
            const cJSON *ids = def ? cJSON_GetObjectItemCaseSensitive(def, "ids") : NULL;
            if (!cJSON_IsArray(ids))
                return bone_fail(e, "%s: TemplateProcessing special token \"%s\" has no entry in special_tokens", what,
                                 id ? id : "?");
            int k = cJSON_GetArraySize(ids);
            pi.ids = xmalloc(sizeof(int32_t) * (size_t)(k ? k : 1));
            for (const cJSON *x = ids->child; x; x = x->next) {
                int64_t v;
                if (!bone_json_is_int(x, &v) || v < 0 || v >= t->nvocab) {
                    free(pi.ids);
                    return bone_fail(e, "%s: TemplateProcessing special token \"%s\" has a bad id", what, id);
                }
                pi.ids[pi.nids++] = (int32_t)v;
            }
        } else
            return bone_fail(e, "%s: TemplateProcessing item is neither SpecialToken nor Sequence", what);
        t->post = xrealloc(t->post, (t->npost + 1) * sizeof *t->post);
        t->post[t->npost++] = pi;
    }
    return 0;
}

static int parse_post(bone_tokenizer *t, const cJSON *n, const char *what, bone_err *e) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *type = jstr(n, "type");
    if (!type) return bone_fail(e, "%s: post_processor without a \"type\"", what);
    if (!strcmp(type, "ByteLevel")) return 0; /* offsets only */
    if (!strcmp(type, "TemplateProcessing")) {
        if (t->has_post) return bone_fail(e, "%s: more than one TemplateProcessing", what);
        return parse_template(t, n, what, e);
    }
    if (!strcmp(type, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(n, "processors");
        if (!cJSON_IsArray(arr)) return bone_fail(e, "%s: post_processor Sequence without \"processors\"", what);
        for (const cJSON *c = arr->child; c; c = c->next)
            if (parse_post(t, c, what, e)) return -1;
        return 0;
    }
    return bone_fail(e, "%s: unsupported post_processor type \"%s\" (bone supports TemplateProcessing, ByteLevel, "
                        "Sequence)", what, type);
}

static int parse_decoder(bone_tokenizer *t, const cJSON *n, const char *what, bone_err *e) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *type = jstr(n, "type");
    if (!type) return bone_fail(e, "%s: decoder without a \"type\"", what);
    t->has_decoder = 1;
    if (!strcmp(type, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(n, "decoders");
        if (!cJSON_IsArray(arr)) return bone_fail(e, "%s: decoder Sequence without \"decoders\"", what);
        for (const cJSON *c = arr->child; c; c = c->next)
            if (parse_decoder(t, c, what, e)) return -1;
        return 0;
    }
    tok_dec d = {0};
    if (!strcmp(type, "Replace")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(n, "pattern");
        const char *s = pat ? jstr(pat, "String") : NULL;
        const char *content = jstr(n, "content");
        if (!s || !*s || !content) return bone_fail(e, "%s: decoder Replace needs a String pattern and content", what);
        d.type = DEC_REPLACE;
        d.a = xstrdup(s);
        d.b = xstrdup(content);
    } else if (!strcmp(type, "ByteFallback")) d.type = DEC_BYTEFALLBACK;
    else if (!strcmp(type, "Fuse")) d.type = DEC_FUSE;
    else if (!strcmp(type, "Strip")) {
        const char *c = jstr(n, "content");
        d.type = DEC_STRIP;
        d.a = xstrdup(c ? c : " ");
        if (bone_json_int_opt(n, "start", what, 0, &d.start, e) || bone_json_int_opt(n, "stop", what, 0, &d.stop, e)) {
            free(d.a);
            return -1;
        }
    } else if (!strcmp(type, "ByteLevel")) d.type = DEC_BYTELEVEL;
    else if (!strcmp(type, "Metaspace")) {
        const char *r = jstr(n, "replacement");
        if (r && !*r) return bone_fail(e, "%s: Metaspace decoder with an empty replacement", what);
        d.type = DEC_METASPACE;
        d.a = xstrdup(r ? r : "\xE2\x96\x81");
        if (parse_scheme(n, &d.scheme, what, e)) {
            free(d.a);
            return -1;
        }
    } else
        return bone_fail(e, "%s: unsupported decoder type \"%s\" (bone supports Replace, ByteFallback, Fuse, Strip, "
                            "ByteLevel, Metaspace, Sequence)", what, type);
    t->dec = xrealloc(t->dec, (t->ndec + 1) * sizeof *t->dec);
    t->dec[t->ndec++] = d;
    return 0;
}

/* ---- indices built after the vocabulary is known ----------------------------------------- */
static int cmp_added(const void *a, const void *b) {
    const tok_added *x = a, *y = b;
    return x->len < y->len ? 1 : x->len > y->len ? -1 : 0; /* longest first */
}

int tok_build_index(bone_tokenizer *t, bone_err *e) {
    /* added tokens: longest first so the first hit at a position is the longest */
    if (t->nadded) qsort(t->added, t->nadded, sizeof *t->added, cmp_added);
    memset(t->added_first, 0, sizeof t->added_first);
    for (size_t i = 0; i < t->nadded; i++) {
        if (t->added[i].len) t->added_first[(unsigned char)t->added[i].content[0]] = 1;
        if (t->added[i].normalized) t->any_normalized_added = 1;
    }
    if (t->byte_level) {
        uint32_t b2c[256];
        tok_bytelevel_tables(b2c);
        for (int b = 0; b < 256; b++) {
            char u[4];
            size_t k = tok_u8enc(b2c[b], u);
            t->byte_id[b] = tok_smap_get(&t->vocab, u, k);
        }
        if (t->ignore_merges) {
            /* raw-byte spelling of every model token, for whole-word lookups */
            size_t total = 0;
            for (int64_t i = 0; i < t->nvocab; i++) total += t->piece[i] ? t->piece_len[i] : 0;
            t->raw_store = xmalloc(total + 1);
            size_t off = 0;
            for (int64_t i = 0; i < t->nvocab; i++) {
                const char *p = t->piece[i];
                if (!p || tok_smap_get(&t->vocab, p, t->piece_len[i]) != i) continue;
                size_t start = off, j = 0;
                int ok = 1;
                while (j < t->piece_len[i]) {
                    uint32_t cp;
                    j += tok_u8dec(p + j, &cp);
                    int byte = tok_bytelevel_cp_to_byte(cp);
                    if (byte < 0) { ok = 0; break; }
                    t->raw_store[off++] = (char)byte;
                }
                if (!ok) { off = start; continue; }
                tok_smap_put(&t->raw_vocab, t->raw_store + start, off - start, (int32_t)i);
            }
        }
    } else if (t->byte_fallback) {
        for (int b = 0; b < 256; b++) {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", b);
            t->byte_id[b] = tok_smap_get(&t->vocab, name, strlen(name));
        }
    }
    (void)e;
    return 0;
}

/* ---- tokenizer_config.json --------------------------------------------------------------- */
bone_chat_family bone_chat_family_detect(const char *j) {
    if (!j) return BONE_CHAT_NONE;
    if (strstr(j, "<|im_start|>")) return BONE_CHAT_CHATML;
    if (strstr(j, "<|start_header_id|>") && strstr(j, "<|end_header_id|>")) return BONE_CHAT_LLAMA3;
    if (strstr(j, "[INST]") && strstr(j, "<<SYS>>")) return BONE_CHAT_LLAMA2;
    if (strstr(j, "<|user|>") && strstr(j, "<|assistant|>")) return BONE_CHAT_ZEPHYR;
    return BONE_CHAT_UNKNOWN;
}

static int32_t find_piece_id(const bone_tokenizer *t, const char *s) {
    return bone_tokenizer_piece_to_id(t, s);
}

static int config_token(bone_tokenizer *t, const cJSON *cfg, const char *key, const char *what, int32_t *out,
                        bone_err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v)) return 0;
    const char *s = NULL;
    if (cJSON_IsString(v)) s = v->valuestring;
    else if (cJSON_IsObject(v)) s = jstr(v, "content");
    if (!s) return bone_fail(e, "%s: \"%s\" must be a string, null or {\"content\": ...}", what, key);
    int32_t id = find_piece_id(t, s);
    if (id < 0) return bone_fail(e, "%s: %s \"%s\" is not in the vocabulary", what, key, s);
    *out = id;
    return 0;
}

static char *dir_of(const char *path) {
    const char *sl = strrchr(path, '/');
    if (!sl) return xstrdup(".");
    size_t n = (size_t)(sl - path);
    char *d = xmalloc(n + 2);
    memcpy(d, path, n ? n : 1);
    d[n ? n : 1] = 0;
    if (!n) d[0] = '/';
    return d;
}

static void set_template(bone_tokenizer *t, int add_bos, int add_eos) {
    for (size_t i = 0; i < t->npost; i++) free(t->post[i].ids);
    free(t->post);
    t->post = xcalloc(3, sizeof *t->post);
    t->npost = 0;
    if (add_bos && t->bos >= 0) {
        t->post[t->npost].ids = xmalloc(sizeof(int32_t));
        t->post[t->npost].ids[0] = t->bos;
        t->post[t->npost++].nids = 1;
    }
    t->post[t->npost++].is_seq = 1;
    if (add_eos && t->eos >= 0) {
        t->post[t->npost].ids = xmalloc(sizeof(int32_t));
        t->post[t->npost].ids[0] = t->eos;
        t->post[t->npost++].nids = 1;
    }
    t->has_post = 1;
}

static int load_config(bone_tokenizer *t, const char *dir, bone_err *e) {
    char *cpath = bone_path_join(dir, "tokenizer_config.json");
    char *jpath = bone_path_join(dir, "chat_template.jinja");
    int rc = -1;
    cJSON *cfg = NULL;
    char *jinja = NULL;
    const char *tmpl = NULL;
    if (bone_file_exists(cpath)) {
        cfg = bone_json_load_object(cpath, e);
        if (!cfg) goto out;
        if (config_token(t, cfg, "bos_token", cpath, &t->bos, e) || config_token(t, cfg, "eos_token", cpath, &t->eos, e) ||
            config_token(t, cfg, "pad_token", cpath, &t->pad, e))
            goto out;
        int32_t unk = -1;
        if (config_token(t, cfg, "unk_token", cpath, &unk, e)) goto out;
        t->clean_up = jbool(cfg, "clean_up_tokenization_spaces", 0);
        const char *cls = jstr(cfg, "tokenizer_class");
        if (cls && (!strncmp(cls, "LlamaTokenizer", 14) || !strncmp(cls, "CodeLlamaTokenizer", 18)))
            set_template(t, jbool(cfg, "add_bos_token", 1), jbool(cfg, "add_eos_token", 0));
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
        if (cJSON_IsString(ct)) tmpl = ct->valuestring;
        else if (cJSON_IsArray(ct)) {
            for (const cJSON *x = ct->child; x; x = x->next) {
                const char *name = jstr(x, "name");
                if (!tmpl || (name && !strcmp(name, "default"))) tmpl = jstr(x, "template");
            }
        }
    }
    if (!tmpl && bone_file_exists(jpath)) {
        size_t n;
        if (bone_read_file(jpath, &jinja, &n, e)) goto out;
        tmpl = jinja;
    }
    t->chat = bone_chat_family_detect(tmpl);
    if (t->chat == BONE_CHAT_CHATML) {
        static const char *sys[] = {"You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
                                    "You are a helpful assistant."};
        for (int i = 0; i < 2; i++)
            if (strstr(tmpl, sys[i])) {
                t->chat_default_system = xstrdup(sys[i]);
                break;
            }
    }
    if (t->chat == BONE_CHAT_LLAMA3 && strstr(tmpl, "Cutting Knowledge Date")) t->chat_date = 1;
    rc = 0;
out:
    cJSON_Delete(cfg);
    free(jinja);
    free(cpath);
    free(jpath);
    return rc;
}

/* ---- tokenizer.json ---------------------------------------------------------------------- */
static int add_merge(bone_tokenizer *t, const char *a, size_t la, const char *b, size_t lb, int32_t rank,
                     const char *what, bone_err *e) {
    int32_t ia = tok_smap_get(&t->vocab, a, la), ib = tok_smap_get(&t->vocab, b, lb);
    char stack[256];
    char *cat = la + lb <= sizeof stack ? stack : xmalloc(la + lb);
    memcpy(cat, a, la);
    memcpy(cat + la, b, lb);
    int32_t im = tok_smap_get(&t->vocab, cat, la + lb);
    if (cat != stack) free(cat);
    if (ia < 0 || ib < 0 || im < 0)
        return bone_fail(e, "%s: merge %d \"%.*s\" + \"%.*s\": %s is not in the vocabulary", what, rank, (int)la, a,
                         (int)lb, b, ia < 0 ? "the left token" : ib < 0 ? "the right token" : "the merged token");
    tok_mmap_put(&t->merges, ia, ib, rank, im);
    return 0;
}

/* Ids above this are refused (the largest released vocabularies have ~262k entries): the
 * tables are sized by the largest id, so a hostile file must not pick it. */
#define TOK_MAX_ID ((1 << 24) - 1)

static int load_vocab_obj(bone_tokenizer *t, const cJSON *vocab, const cJSON *added, const char *what, bone_err *e) {
    if (!cJSON_IsObject(vocab)) return bone_fail(e, "%s: model.vocab must be an object", what);
    int64_t maxid = -1;
    for (const cJSON *v = vocab->child; v; v = v->next) {
        int64_t id;
        if (!bone_json_is_int(v, &id) || id < 0 || id > TOK_MAX_ID)
            return bone_fail(e, "%s: vocab entry \"%s\" has a bad id (an integer in [0, %d] expected)", what,
                             v->string, TOK_MAX_ID);
        if (id > maxid) maxid = id;
    }
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        int64_t id;
        if (!bone_json_is_int(cJSON_GetObjectItemCaseSensitive(a, "id"), &id) || id < 0 || id > TOK_MAX_ID)
            return bone_fail(e, "%s: added_tokens entry without a valid \"id\" (an integer in [0, %d])", what,
                             TOK_MAX_ID);
        if (id > maxid) maxid = id;
    }
    alloc_vocab(t, maxid + 1);
    for (const cJSON *v = vocab->child; v; v = v->next) {
        int32_t id = (int32_t)v->valuedouble;
        if (t->piece[id]) return bone_fail(e, "%s: vocab id %d is used twice (\"%s\")", what, id, v->string);
        set_piece(t, id, v->string, strlen(v->string));
        if (tok_smap_get(&t->vocab, t->piece[id], t->piece_len[id]) >= 0)
            return bone_fail(e, "%s: vocab token \"%s\" appears twice", what, v->string);
        tok_smap_put(&t->vocab, t->piece[id], t->piece_len[id], id);
    }
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        const char *content = jstr(a, "content");
        if (!content || !*content) return bone_fail(e, "%s: added_tokens entry without \"content\"", what);
        int32_t id = (int32_t)cJSON_GetObjectItemCaseSensitive(a, "id")->valuedouble;
        set_piece(t, id, content, strlen(content));
        tok_added x = {xstrdup(content), strlen(content), id, jbool(a, "single_word", 0), jbool(a, "lstrip", 0),
                       jbool(a, "rstrip", 0), jbool(a, "normalized", 0), jbool(a, "special", 0)};
        t->special[id] = (uint8_t)x.special;
        t->added = xrealloc(t->added, (t->nadded + 1) * sizeof *t->added);
        t->added[t->nadded++] = x;
    }
    return 0;
}

static bone_tokenizer *load_tokenizer_json(const char *path, bone_err *e) {
    cJSON *root = load_big_object(path, e);
    if (root && bone_json_check_dups(root, path, e)) {
        cJSON_Delete(root);
        root = NULL;
    }
    if (!root) return NULL;
    bone_tokenizer *t = tok_new(path);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *mtype = model ? jstr(model, "type") : NULL;
    if (!cJSON_IsObject(model)) { bone_fail(e, "%s: no \"model\" object", path); goto fail; }
    if (mtype && strcmp(mtype, "BPE")) {
        bone_fail(e, "%s: model type \"%s\" is not supported (bone supports BPE)", path, mtype);
        goto fail;
    }
    if (!mtype && !cJSON_GetObjectItemCaseSensitive(model, "merges")) {
        bone_fail(e, "%s: model has no \"type\" and no \"merges\"; only BPE is supported", path);
        goto fail;
    }
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (dropout && !cJSON_IsNull(dropout) && !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0.0)) {
        bone_fail(e, "%s: BPE dropout is not supported", path);
        goto fail;
    }
    const char *csp = jstr(model, "continuing_subword_prefix"), *eows = jstr(model, "end_of_word_suffix");
    if ((csp && *csp) || (eows && *eows)) {
        bone_fail(e, "%s: BPE continuing_subword_prefix / end_of_word_suffix are not supported", path);
        goto fail;
    }
    if (load_vocab_obj(t, cJSON_GetObjectItemCaseSensitive(model, "vocab"),
                       cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), path, e))
        goto fail;
    t->byte_fallback = jbool(model, "byte_fallback", 0);
    t->fuse_unk = jbool(model, "fuse_unk", 0);
    t->ignore_merges = jbool(model, "ignore_merges", 0);
    const char *unk = jstr(model, "unk_token");
    if (unk) {
        t->unk_id = tok_smap_get(&t->vocab, unk, strlen(unk));
        if (t->unk_id < 0) {
            bone_fail(e, "%s: unk_token \"%s\" is not in the vocabulary", path, unk);
            goto fail;
        }
    }
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (merges && !cJSON_IsArray(merges)) { bone_fail(e, "%s: model.merges must be an array", path); goto fail; }
    int32_t rank = 0;
    for (const cJSON *m = merges ? merges->child : NULL; m; m = m->next, rank++) {
        if (cJSON_IsString(m)) {
            const char *s = m->valuestring, *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                bone_fail(e, "%s: merge %d \"%s\" is not two tokens separated by one space", path, rank, s);
                goto fail;
            }
            if (add_merge(t, s, (size_t)(sp - s), sp + 1, strlen(sp + 1), rank, path, e)) goto fail;
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
                   cJSON_IsString(m->child->next)) {
            const char *a = m->child->valuestring, *b = m->child->next->valuestring;
            if (add_merge(t, a, strlen(a), b, strlen(b), rank, path, e)) goto fail;
        } else {
            bone_fail(e, "%s: merge %d is neither \"a b\" nor [\"a\", \"b\"]", path, rank);
            goto fail;
        }
    }
    if (parse_normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), path, e) ||
        parse_pretok(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), path, e) ||
        parse_post(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), path, e) ||
        parse_decoder(t, cJSON_GetObjectItemCaseSensitive(root, "decoder"), path, e))
        goto fail;
    /* bos default: the first special id of the template */
    for (size_t i = 0; i < t->npost && t->bos < 0; i++)
        if (!t->post[i].is_seq && t->post[i].nids) t->bos = t->post[i].ids[0];
    if (tok_build_index(t, e)) goto fail;
    {
        int nfc_only = 1, prep_repl = 1;
        for (size_t i = 0; i < t->nnorm; i++) {
            if (t->norm[i].type != NORM_NFC) nfc_only = 0;
            if (t->norm[i].type != NORM_PREPEND && t->norm[i].type != NORM_REPLACE) prep_repl = 0;
        }
        t->lossless = (t->byte_level && nfc_only) || (t->byte_fallback && prep_repl);
    }
    cJSON_Delete(root);
    char *dir = dir_of(path);
    int rc = load_config(t, dir, e);
    free(dir);
    if (rc) {
        bone_tokenizer_free(t);
        return NULL;
    }
    return t;
fail:
    cJSON_Delete(root);
    bone_tokenizer_free(t);
    return NULL;
}

/* ---- GPT-2 vocab.json + merges.txt -------------------------------------------------------- */
/* Parses a JSON object file without the quadratic duplicate-key scan (vocab files have
 * 50k+ keys; load_vocab_obj rejects duplicates through the vocab map instead). */
static cJSON *load_big_object(const char *path, bone_err *e) {
    char *text;
    size_t n;
    if (bone_read_file(path, &text, &n, e)) return NULL;
    cJSON *v = bone_json_parse(text, n, path, e);
    free(text);
    if (v && !cJSON_IsObject(v)) {
        cJSON_Delete(v);
        bone_fail(e, "%s: expected a JSON object at the top level", path);
        return NULL;
    }
    return v;
}

static bone_tokenizer *load_gpt2(const char *dir, const char *vpath, const char *mpath, bone_err *e) {
    cJSON *vocab = load_big_object(vpath, e);
    if (!vocab) return NULL;
    bone_tokenizer *t = tok_new(vpath);
    char *text = NULL;
    size_t n;
    if (load_vocab_obj(t, vocab, NULL, vpath, e)) goto fail;
    if (bone_read_file(mpath, &text, &n, e)) goto fail;
    {
        size_t i = 0, line = 0;
        int32_t rank = 0;
        while (i < n) {
            size_t j = i;
            while (j < n && text[j] != '\n') j++;
            line++;
            size_t end = j;
            if (end > i && text[end - 1] == '\r') end--;
            if (!(line == 1 && end - i >= 8 && !strncmp(text + i, "#version", 8)) && end > i) {
                const char *sp = memchr(text + i, ' ', end - i);
                if (!sp || memchr(sp + 1, ' ', (size_t)(text + end - sp - 1))) {
                    bone_fail(e, "%s:%zu: expected two tokens separated by one space", mpath, line);
                    goto fail;
                }
                if (add_merge(t, text + i, (size_t)(sp - text - i), sp + 1, (size_t)(text + end - sp - 1), rank, mpath, e))
                    goto fail;
                rank++;
            }
            i = j + 1;
        }
    }
    /* GPT-2: ByteLevel(add_prefix_space=false, use_regex=true) pre-tokenizer and decoder. */
    t->pre = xcalloc(1, sizeof *t->pre);
    t->npre = 1;
    t->pre[0].type = PRE_BYTELEVEL;
    t->pre[0].re = compile_regex(GPT2_RE, strlen(GPT2_RE), vpath, e);
    if (!t->pre[0].re) goto fail;
    t->byte_level = 1;
    t->dec = xcalloc(1, sizeof *t->dec);
    t->ndec = 1;
    t->dec[0].type = DEC_BYTELEVEL;
    t->has_decoder = 1;
    {
        int32_t eot = tok_smap_get(&t->vocab, "<|endoftext|>", 13);
        if (eot >= 0) {
            t->added = xcalloc(1, sizeof *t->added);
            t->added[0] = (tok_added){xstrdup("<|endoftext|>"), 13, eot, 0, 0, 0, 0, 1};
            t->nadded = 1;
            t->special[eot] = 1;
            t->bos = t->eos = eot;
        }
    }
    t->lossless = 1;
    t->clean_up = 0;
    if (tok_build_index(t, e)) goto fail;
    cJSON_Delete(vocab);
    free(text);
    if (load_config(t, dir, e)) {
        bone_tokenizer_free(t);
        return NULL;
    }
    return t;
fail:
    cJSON_Delete(vocab);
    free(text);
    bone_tokenizer_free(t);
    return NULL;
}

/* ---- llama2.c tokenizer.bin --------------------------------------------------------------- */
typedef struct { float s; int32_t id; } score_id;
static int cmp_score(const void *a, const void *b) {
    const score_id *x = a, *y = b;
    return x->s > y->s ? -1 : x->s < y->s ? 1 : 0;
}

bone_tokenizer *bone_tokenizer_load_llama2c(const char *path, int64_t vocab_size, bone_err *e) {
    char *buf;
    size_t n;
    if (bone_read_file(path, &buf, &n, e)) return NULL;
    if (n < 4) {
        free(buf);
        bone_fail(e, "%s: too short for a llama2.c tokenizer.bin", path);
        return NULL;
    }
    bone_tokenizer *t = tok_new(path);
    t->kind = TOK_KIND_LLAMA2C;
    memcpy(&t->max_token_length, buf, 4);
    /* count entries */
    int64_t count = 0;
    size_t off = 4;
    while (off < n && (vocab_size <= 0 || count < vocab_size)) {
        int32_t len;
        if (off + 8 > n) { bone_fail(e, "%s: truncated entry %lld at byte %zu", path, (long long)count, off); goto fail; }
        memcpy(&len, buf + off + 4, 4);
        if (len < 0 || (size_t)len > n - off - 8) {
            bone_fail(e, "%s: entry %lld at byte %zu has a bad length %d", path, (long long)count, off, len);
            goto fail;
        }
        off += 8 + (size_t)len;
        count++;
    }
    if (vocab_size > 0 && count < vocab_size) {
        bone_fail(e, "%s: holds %lld entries, the model needs %lld", path, (long long)count, (long long)vocab_size);
        goto fail;
    }
    if (count < 259) { bone_fail(e, "%s: only %lld entries (need <unk>, <s>, </s> and 256 byte pieces)", path, (long long)count); goto fail; }
    alloc_vocab(t, count);
    score_id *sc = xmalloc(sizeof *sc * (size_t)count);
    off = 4;
    for (int64_t i = 0; i < count; i++) {
        float s;
        int32_t len;
        memcpy(&s, buf + off, 4);
        memcpy(&len, buf + off + 4, 4);
        set_piece(t, (int32_t)i, buf + off + 8, (size_t)len);
        sc[i] = (score_id){s, (int32_t)i};
        off += 8 + (size_t)len;
    }
    /* later ids first, so a duplicate piece maps to its lowest id */
    for (int64_t i = count - 1; i >= 0; i--) tok_smap_put(&t->vocab, t->piece[i], t->piece_len[i], (int32_t)i);
    qsort(sc, (size_t)count, sizeof *sc, cmp_score);
    t->score_rank = xmalloc(sizeof(int32_t) * (size_t)count);
    int32_t r = 0;
    for (int64_t i = 0; i < count; i++) {
        if (i && sc[i].s != sc[i - 1].s) r++;
        t->score_rank[sc[i].id] = r;
    }
    free(sc);
    t->bos = 1;
    t->eos = 2;
    t->special[1] = t->special[2] = 1;
    t->has_post = 1;
    t->post = xcalloc(2, sizeof *t->post);
    t->post[0].ids = xmalloc(sizeof(int32_t));
    t->post[0].ids[0] = 1;
    t->post[0].nids = 1;
    t->post[1].is_seq = 1;
    t->npost = 2;
    t->lossless = 0;
    free(buf);
    return t;
fail:
    free(buf);
    bone_tokenizer_free(t);
    return NULL;
}

/* ---- dispatch ---------------------------------------------------------------------------- */
/* Every file of a model directory that belongs to its tokenizer: the ones bone_tokenizer_load
 * below reads (tokenizer.json and its config, GPT-2's two spellings of vocab + merges, llama2.c's
 * tokenizer.bin) and the Hugging Face companions other tools read. Copying a model directory
 * (merge, full fine-tune) copies this list, so a format the loader learns goes here too. */
static const char *const tokenizer_files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                              "tokenizer.model", "vocab.json", "merges.txt", "encoder.json",
                                              "vocab.bpe", "tokenizer.bin", NULL};

const char *const *bone_tokenizer_files(void) { return tokenizer_files; }

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

bone_tokenizer *bone_tokenizer_load(const char *path, bone_err *e) {
    if (!path || !*path) {
        bone_fail(e, "no tokenizer path given");
        return NULL;
    }
    if (bone_is_dir(path)) {
        char *tj = bone_path_join(path, "tokenizer.json");
        if (bone_file_exists(tj)) {
            bone_tokenizer *t = load_tokenizer_json(tj, e);
            free(tj);
            return t;
        }
        free(tj);
        static const char *vn[] = {"vocab.json", "encoder.json"}, *mn[] = {"merges.txt", "vocab.bpe"};
        for (int i = 0; i < 2; i++) {
            char *vp = bone_path_join(path, vn[i]);
            for (int j = 0; j < 2; j++) {
                char *mp = bone_path_join(path, mn[j]);
                if (bone_file_exists(vp) && bone_file_exists(mp)) {
                    bone_tokenizer *t = load_gpt2(path, vp, mp, e);
                    free(vp);
                    free(mp);
                    return t;
                }
                free(mp);
            }
            free(vp);
        }
        char *tb = bone_path_join(path, "tokenizer.bin");
        if (bone_file_exists(tb)) {
            bone_tokenizer *t = bone_tokenizer_load_llama2c(tb, 0, e);
            free(tb);
            return t;
        }
        free(tb);
        bone_fail(e, "%s: no tokenizer.json, vocab.json+merges.txt, encoder.json+vocab.bpe or tokenizer.bin in this "
                     "directory", path);
        return NULL;
    }
    if (!bone_file_exists(path)) {
        bone_fail(e, "%s: no such file or directory", path);
        return NULL;
    }
    if (ends_with(path, ".bin")) return bone_tokenizer_load_llama2c(path, 0, e);
    return load_tokenizer_json(path, e);
}

/* ---- accessors --------------------------------------------------------------------------- */
const char *bone_tokenizer_token_to_piece(const bone_tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->nvocab) return NULL;
    return t->piece[id];
}

int32_t bone_tokenizer_piece_to_id(const bone_tokenizer *t, const char *piece) {
    size_t n = strlen(piece);
    for (size_t i = 0; i < t->nadded; i++)
        if (t->added[i].len == n && !memcmp(t->added[i].content, piece, n)) return t->added[i].id;
    return tok_smap_get(&t->vocab, piece, n);
}

void bone_tokenizer_special_counts(const bone_tokenizer *t, size_t *nprefix, size_t *nsuffix) {
    size_t a = 0, b = 0;
    int after = 0;
    for (size_t i = 0; t->has_post && i < t->npost; i++) {
        if (t->post[i].is_seq) after = 1;
        else if (after) b += t->post[i].nids;
        else a += t->post[i].nids;
    }
    *nprefix = a;
    *nsuffix = b;
}

int64_t bone_tokenizer_vocab_size(const bone_tokenizer *t) { return t->nvocab; }
int32_t bone_tokenizer_bos(const bone_tokenizer *t) { return t->bos; }
int32_t bone_tokenizer_eos(const bone_tokenizer *t) { return t->eos; }
int32_t bone_tokenizer_pad(const bone_tokenizer *t) { return t->pad; }
int bone_tokenizer_is_special(const bone_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->nvocab && t->special[id];
}
int bone_tokenizer_lossless(const bone_tokenizer *t) { return t->lossless; }
bone_chat_family bone_tokenizer_chat_family(const bone_tokenizer *t) { return t->chat; }
const char *bone_tokenizer_chat_default_system(const bone_tokenizer *t) { return t->chat_default_system; }
int bone_tokenizer_chat_date_preamble(const bone_tokenizer *t) { return t->chat_date; }
const char *bone_tokenizer_eos_text(const bone_tokenizer *t) { return t->eos >= 0 ? t->piece[t->eos] : NULL; }
const char *bone_tokenizer_bos_text(const bone_tokenizer *t) { return t->bos >= 0 ? t->piece[t->bos] : NULL; }

const char *bone_chat_family_name(bone_chat_family f) {
    switch (f) {
    case BONE_CHAT_NONE: return "none";
    case BONE_CHAT_UNKNOWN: return "unknown";
    case BONE_CHAT_CHATML: return "chatml";
    case BONE_CHAT_LLAMA3: return "llama3";
    case BONE_CHAT_LLAMA2: return "llama2";
    case BONE_CHAT_ZEPHYR: return "zephyr";
    }
    return "?";
}
