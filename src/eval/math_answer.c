/* math_answer.c — MATH answer extraction, normalisation and comparison (see math_answer.h).
 * The rules are those of data/math/README.md, numbered as there; the reference implementation
 * is data/math/check_answers.py (Python), whose semantics are kept where C differs: lengths and
 * "one character" are Unicode code points (the strings are UTF-8), and trimming removes what
 * Python's str.strip() removes. */
#include "eval/math_answer.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"

/* ---- a growable string ---- */
typedef struct { char *p; size_t n, cap; } sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static char *dupn(const char *s, size_t n) {
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* s with every (non-overlapping, left to right) `from` replaced by `to`; frees s. */
static char *replace_all(char *s, const char *from, const char *to) {
    size_t lf = strlen(from);
    sbuf b = {0};
    sb_add(&b, "", 0);
    const char *p = s;
    for (const char *h; (h = strstr(p, from)); p = h + lf) {
        sb_add(&b, p, (size_t)(h - p));
        sb_str(&b, to);
    }
    sb_str(&b, p);
    free(s);
    return b.p;
}

static size_t count_of(const char *s, const char *needle) {
    size_t c = 0, l = strlen(needle);
    for (const char *h = strstr(s, needle); h; h = strstr(h + l, needle)) c++;
    return c;
}

/* ---- UTF-8 code points, as Python counts characters ---- */
static size_t u8len(const char *s) { /* bytes of the code point at s (1 for a stray byte) */
    unsigned char c = (unsigned char)*s;
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    for (size_t i = 1; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) return 1;
    return n;
}
static size_t n_chars(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i += u8len(s + i)) c++;
    return c;
}
static uint32_t cp_at(const char *s, size_t *len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = u8len(s);
    *len = n;
    if (n == 1) return u[0];
    if (n == 2) return (uint32_t)(u[0] & 0x1F) << 6 | (u[1] & 0x3F);
    if (n == 3) return (uint32_t)(u[0] & 0x0F) << 12 | (uint32_t)(u[1] & 0x3F) << 6 | (u[2] & 0x3F);
    return (uint32_t)(u[0] & 0x07) << 18 | (uint32_t)(u[1] & 0x3F) << 12 | (uint32_t)(u[2] & 0x3F) << 6 | (u[3] & 0x3F);
}
/* Python's str.isspace() */
static int py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
/* str.strip(): the [*a, *b) span of s[a..b) without surrounding white space */
static void strip_span(const char *s, size_t *a, size_t *b) {
    size_t l;
    while (*a < *b && py_space(cp_at(s + *a, &l))) *a += l;
    while (*b > *a) {
        size_t st = *b - 1;
        while (st > *a && ((unsigned char)s[st] & 0xC0) == 0x80) st--;
        if (!py_space(cp_at(s + st, &l)) || st + l != *b) break;
        *b = st;
    }
}
static char *strip_dup(const char *s, size_t n) {
    size_t a = 0, b = n;
    strip_span(s, &a, &b);
    return dupn(s + a, b - a);
}

/* ---- extraction ---- */
static const char *find_last(const char *hay, const char *needle) {
    const char *r = NULL;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) r = p;
    return r;
}

char *bone_math_last_boxed(const char *text) {
    /* 1: the last \boxed, or with none the last \fbox */
    const char *cmd = "\\boxed", *at = find_last(text, cmd);
    if (!at) at = find_last(text, cmd = "\\fbox");
    if (!at) return NULL;
    const char *j = at + strlen(cmd), *k = j;
    while (*k == ' ') k++;
    if (*k == '{') { /* 2: up to the matching brace, every { +1 and } -1 (escaped ones too) */
        int64_t depth = 0;
        for (const char *m = k; *m; m++) {
            if (*m == '{') depth++;
            else if (*m == '}' && --depth == 0) return dupn(k + 1, (size_t)(m - k - 1));
        }
        return NULL; /* unbalanced */
    }
    if (k > j) { /* 3: "\boxed 5": up to the next '$' or the end, trimmed */
        const char *end = strchr(k, '$');
        char *r = strip_dup(k, end ? (size_t)(end - k) : strlen(k));
        if (!*r) { free(r); return NULL; }
        return r;
    }
    return NULL; /* 4: "\boxedx" */
}

char *bone_math_extract(const char *text, bone_math_how *how) {
    char *r = bone_math_last_boxed(text);
    *how = r ? BONE_MATH_BOXED : BONE_MATH_NONE;
    if (r) return r;
    /* MetaMath's "The answer is: X" convention, for a model that does not box its answer */
    const char *m = find_last(text, "The answer is");
    if (!m) return NULL;
    m += strlen("The answer is");
    if (*m == ':') m++;
    const char *nl = strchr(m, '\n');
    size_t a = 0, b = nl ? (size_t)(nl - m) : strlen(m);
    strip_span(m, &a, &b);
    if (b > a && m[b - 1] == '.') b--;
    if (b - a >= 2 && m[a] == '$' && m[b - 1] == '$') a++, b--;
    strip_span(m, &a, &b);
    if (b == a) return NULL;
    *how = BONE_MATH_ANSWER_IS;
    return dupn(m + a, b - a);
}

/* ---- normalisation ---- */
static int canon_int(const char *s) { /* Python re.match(r"-?(0|[1-9][0-9]*)\Z") */
    if (*s == '-') s++;
    if (*s == '0') return s[1] == 0;
    if (*s < '1' || *s > '9') return 0;
    for (s++; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

/* rule 14; returns NULL to give up (\sqrt at the end). Frees s either way. */
static char *brace_sqrt(char *s) {
    const char *cmd = "\\sqrt";
    size_t lc = strlen(cmd);
    sbuf b = {0};
    const char *h = strstr(s, cmd);
    if (!h) return s;
    sb_add(&b, s, (size_t)(h - s));
    while (h) {
        const char *piece = h + lc, *next = strstr(piece, cmd);
        size_t pl = next ? (size_t)(next - piece) : strlen(piece);
        sb_str(&b, cmd);
        if (pl == 0) { free(b.p); free(s); return NULL; }
        if (piece[0] != '{') {
            size_t l = u8len(piece);
            if (l > pl) l = pl;
            sb_str(&b, "{");
            sb_add(&b, piece, l);
            sb_str(&b, "}");
            sb_add(&b, piece + l, pl - l);
        } else {
            sb_add(&b, piece, pl);
        }
        h = next;
    }
    free(s);
    return b.p;
}

/* rule 16; returns NULL to give up (\frac at the end); a \frac followed by one character undoes
 * the rule for the whole string. Frees s unless it is returned. */
static char *brace_frac(char *s) {
    const char *cmd = "\\frac";
    size_t lc = strlen(cmd);
    const char *h = strstr(s, cmd);
    if (!h) return s;
    sbuf b = {0};
    sb_add(&b, s, (size_t)(h - s));
    while (h) {
        const char *piece = h + lc, *next = strstr(piece, cmd);
        size_t pl = next ? (size_t)(next - piece) : strlen(piece);
        sb_str(&b, cmd);
        if (pl == 0) { free(b.p); free(s); return NULL; }
        size_t l0 = u8len(piece);
        if (l0 > pl) l0 = pl;
        if (piece[0] == '{') {
            sb_add(&b, piece, pl);
        } else if (n_chars(piece, pl) < 2) {
            free(b.p);
            return s; /* keep every \frac of s as it was */
        } else {
            size_t l1 = u8len(piece + l0);
            if (l0 + l1 > pl) l1 = pl - l0;
            sb_str(&b, "{");
            sb_add(&b, piece, l0);
            sb_str(&b, "}");
            if (piece[l0] == '{') {
                sb_add(&b, piece + l0, pl - l0);
            } else {
                sb_str(&b, "{");
                sb_add(&b, piece + l0, l1);
                sb_str(&b, "}");
                sb_add(&b, piece + l0 + l1, pl - l0 - l1);
            }
        }
        h = next;
    }
    free(s);
    return b.p;
}

/* rules 3–18 on s (freed); NULL = give up (rule 19) */
static char *strip_rules(char *s) {
    s = replace_all(s, "\n", "");                 /* 3 */
    s = replace_all(s, "\\!", "");                /* 4 */
    s = replace_all(s, "\\\\", "\\");             /* 5 */
    s = replace_all(s, "tfrac", "frac");          /* 6 */
    s = replace_all(s, "dfrac", "frac");
    s = replace_all(s, "\\left", "");             /* 7 */
    s = replace_all(s, "\\right", "");
    s = replace_all(s, "^{\\circ}", "");          /* 8 */
    s = replace_all(s, "^\\circ", "");
    s = replace_all(s, "\\$", "");                /* 9 */
    size_t units = count_of(s, "\\text{ ");       /* 10 */
    if (units > 1) { free(s); return NULL; }
    if (units == 1) *strstr(s, "\\text{ ") = 0;
    s = replace_all(s, "\\%", "");                /* 11 */
    s = replace_all(s, " .", " 0.");              /* 12 */
    s = replace_all(s, "{.", "{0.");
    if (!*s) return s;
    if (s[0] == '.') {
        char *t = xmalloc(strlen(s) + 2);
        t[0] = '0';
        strcpy(t + 1, s);
        free(s);
        s = t;
    }
    char *eq = strchr(s, '=');                    /* 13 */
    if (eq && !strchr(eq + 1, '=') && n_chars(s, (size_t)(eq - s)) <= 2) memmove(s, eq + 1, strlen(eq + 1) + 1);
    if (!(s = brace_sqrt(s))) return NULL;        /* 14 */
    s = replace_all(s, " ", "");                  /* 15 */
    if (!(s = brace_frac(s))) return NULL;        /* 16 */
    if (!strcmp(s, "0.5")) {                      /* 17 */
        free(s);
        s = xstrdup("\\frac{1}{2}");
    }
    char *sl = strchr(s, '/');                    /* 18 */
    if (sl && !strchr(sl + 1, '/')) {
        *sl = 0;
        if (canon_int(s) && canon_int(sl + 1)) {
            sbuf b = {0};
            sb_str(&b, "\\frac{");
            sb_str(&b, s);
            sb_str(&b, "}{");
            sb_str(&b, sl + 1);
            sb_str(&b, "}");
            free(s);
            return b.p;
        }
        *sl = '/';
    }
    return s;
}

char *bone_math_normalize(const char *ans) {
    char *s = strip_dup(ans, strlen(ans)); /* 1 */
    size_t n = strlen(s);
    /* 2: the whole string is \text{…} with at least one character inside and no newline */
    if (!strncmp(s, "\\text{", 6) && n > 0 && s[n - 1] == '}' && n_chars(s, n) > 7 && !strchr(s, '\n')) {
        char *t = strip_dup(s + 6, n - 7);
        free(s);
        s = t;
    }
    char *r = strip_rules(xstrdup(s));
    if (!r) return s; /* 19: the string after rules 1–2 */
    free(s);
    return r;
}

int bone_math_equal(const char *pred, const char *gold) {
    if (!pred || !gold) return 0;
    char *a = bone_math_normalize(pred), *b = bone_math_normalize(gold);
    int eq = !strcmp(a, b);
    free(a);
    free(b);
    return eq;
}
