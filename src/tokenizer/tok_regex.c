/* tok_regex.c — HF/Oniguruma regex patterns (Split pre-tokenizers, Replace normalizers and
 * decoders) translated to and compiled with PCRE2; the GPT-2 pattern. */
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

pcre2_code *tok_compile_regex(const char *pat, size_t n, const char *what, bone_err *e) {
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

pcre2_code *tok_compile_literal(const char *s, const char *what, bone_err *e) {
    tok_buf o = {0};
    for (const char *p = s; *p; p++) {
        if (strchr("\\^$.|?*+()[]{}", *p)) tok_buf_addc(&o, '\\');
        tok_buf_addc(&o, *p);
    }
    if (!o.p) tok_buf_add(&o, "", 0);
    pcre2_code *re = tok_compile_regex(o.p, o.n, what, e);
    tok_buf_free(&o);
    return re;
}

/* The GPT-2 split regex (FORMATS.md §4.6), used by ByteLevel with use_regex. */
const char TOK_GPT2_RE[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
