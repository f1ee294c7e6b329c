/* gsm8k.c — GSM8K answer extraction, normalisation and comparison (see gsm8k.h; the rules are
 * FORMATS.md §7.2–7.4, quoted next to the code that applies them). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "eval/gsm8k.h"
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "data/template.h"

const char *const BONE_GSM8K_STOP[] = {"Question:", "Question", "USER:", "USER", "ASSISTANT:", "ASSISTANT",
                                       "Instruction:", "Instruction", "Response:", "Response", NULL};

char *bone_gsm8k_prompt(const char *question) {
    /* §7.4: the training prompt, then " Let's think step by step." */
    static const char suffix[] = " Let's think step by step.";
    int n = snprintf(NULL, 0, BONE_ALPACA_PROMPT, question);
    BONE_ASSERT(n >= 0, "prompt format");
    char *p = xmalloc((size_t)n + sizeof suffix);
    snprintf(p, (size_t)n + 1, BONE_ALPACA_PROMPT, question);
    memcpy(p + n, suffix, sizeof suffix);
    return p;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* ^-?\d+$ */
static int is_integral(const char *s) {
    if (*s == '-') s++;
    if (!*s) return 0;
    for (; *s; s++)
        if (!is_digit(*s)) return 0;
    return 1;
}

void bone_gsm8k_normalise(const char *s, size_t n, char *out, size_t cap) {
    BONE_ASSERT(cap > 0, "output buffer");
    size_t w = 0;
    /* delete ',' and '$' */
    for (size_t i = 0; i < n && w + 1 < cap; i++)
        if (s[i] != ',' && s[i] != '$') out[w++] = s[i];
    out[w] = 0;
    /* strip surrounding whitespace, then one trailing '.' */
    size_t a = 0, b = w;
    while (a < b && is_ws(out[a])) a++;
    while (b > a && is_ws(out[b - 1])) b--;
    if (b > a && out[b - 1] == '.') b--;
    /* strip a leading '+' */
    if (b > a && out[a] == '+') a++;
    memmove(out, out + a, b - a);
    out[b - a] = 0;
    /* drop a zero fraction: ^-?\d+\.0+$ → the integer part */
    char *dot = strchr(out, '.');
    if (dot && dot[1]) {
        int zeros = 1;
        for (char *q = dot + 1; *q; q++)
            if (*q != '0') zeros = 0;
        *dot = 0;
        int intpart = is_integral(out);
        if (!(zeros && intpart)) *dot = '.';
    }
}

/* First (or, with last = 1, last) match of pattern in text; group selects the capture group.
 * Returns 1 and the match span, 0 if none. */
static int re_find(const char *pattern, const char *text, int last, int group, size_t *start, size_t *len) {
    int err;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &err, &erroff, NULL);
    BONE_ASSERT(re != NULL, "constant GSM8K pattern");
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    size_t n = strlen(text), off = 0;
    int found = 0;
    while (off <= n) {
        int rc = pcre2_match(re, (PCRE2_SPTR)text, n, off, 0, md, NULL);
        if (rc < 0) break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        *start = ov[2 * group];
        *len = ov[2 * group + 1] - ov[2 * group];
        found = 1;
        if (!last) break;
        off = ov[1] > ov[0] ? ov[1] : ov[0] + 1; /* these patterns never match empty, but be safe */
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return found;
}

static const char *find_last(const char *hay, const char *needle) {
    const char *r = NULL;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) r = p;
    return r;
}

int bone_gsm8k_gold(const char *answer, bone_gsm_answer *a) {
    memset(a, 0, sizeof *a);
    /* §7.2.1: the text after the last "#### ", stripped, then normalised */
    const char *m = find_last(answer, "#### ");
    if (!m) return -1;
    m += 5;
    bone_gsm8k_normalise(m, strlen(m), a->value, sizeof a->value);
    a->how = a->value[0] ? BONE_GSM_STRICT : BONE_GSM_NONE;
    return 0;
}

/* Python's round(): to the nearest integer, ties to even (rint in the default rounding mode). */
static void set_rounded(bone_gsm_answer *a, double v) {
    if (!isfinite(v) || fabs(v) >= 1e18) return; /* MetaMath: inf is no answer */
    double r = rint(v);
    if (r == 0) r = 0; /* no "-0" */
    snprintf(a->value, sizeof a->value, "%.0f", r);
    a->how = BONE_GSM_METAMATH;
}

static double parse_num(const char *s, size_t n, int *ok) {
    char buf[BONE_GSM_MAXLEN];
    size_t w = 0;
    for (size_t i = 0; i < n && w + 1 < sizeof buf; i++)
        if (s[i] != ',') buf[w++] = s[i];
    buf[w] = 0;
    char *end;
    double v = strtod(buf, &end);
    *ok = w > 0 && *end == 0;
    return v;
}

void bone_gsm8k_extract(const char *text, bone_gsm_answer *a) {
    memset(a, 0, sizeof *a);
    size_t s, n;
    const char *m = find_last(text, "The answer is: ");
    if (m) {
        /* §7.2.2: after the last marker, the first number-like token (sign, digits, one optional
         * '.', ',' or '/', digits) — MetaMath's [\-+]?\d*[\.,/]?\d+ on the stripped rest */
        m += strlen("The answer is: ");
        if (!re_find("[\\-+]?\\d*[\\.,/]?\\d+", m, 0, 0, &s, &n)) return;
        const char *tok = m + s;
        const char *slash = memchr(tok, '/', n);
        int ok1, ok2;
        if (slash) { /* a/b as a fraction; MetaMath: a zero denominator gives round(a) */
            double num = parse_num(tok, (size_t)(slash - tok), &ok1);
            double den = parse_num(slash + 1, n - (size_t)(slash - tok) - 1, &ok2);
            if (!ok1 || !ok2) return;
            set_rounded(a, den == 0 ? num : num / den);
        } else {
            double v = parse_num(tok, n, &ok1);
            if (ok1) set_rounded(a, v);
        }
        return;
    }
    if (strstr(text, "#### ")) {
        /* §7.2.3: lm-eval strict-match, the first "#### (\-?[0-9\.\,]+)" */
        if (!re_find("#### (\\-?[0-9\\.\\,]+)", text, 0, 1, &s, &n)) return;
        a->how = BONE_GSM_STRICT;
    } else {
        /* §7.2.4: neither marker: the last -?[0-9][0-9,]*(\.[0-9]+)? */
        if (!re_find("-?[0-9][0-9,]*(\\.[0-9]+)?", text, 1, 0, &s, &n)) return;
        a->how = BONE_GSM_LAST;
    }
    bone_gsm8k_normalise(text + s, n, a->value, sizeof a->value);
    if (!a->value[0] || !strcmp(a->value, "-")) {
        a->value[0] = 0;
        a->how = BONE_GSM_NONE;
    }
}

/* integer strings: compare magnitudes without leading zeros, and signs (-0 == 0) */
static int int_equal(const char *x, const char *y) {
    int nx = *x == '-', ny = *y == '-';
    x += nx;
    y += ny;
    while (*x == '0' && x[1]) x++;
    while (*y == '0' && y[1]) y++;
    if (strcmp(x, y)) return 0;
    if (!strcmp(x, "0")) return 1;
    return nx == ny;
}

static int as_decimal(const char *s, double *v) {
    /* ^-?\d*\.?\d+$-like: strtod must consume everything, and no exponents/hex/inf/nan */
    if (!*s) return 0;
    for (const char *p = s; *p; p++)
        if (!is_digit(*p) && *p != '.' && !(*p == '-' && p == s)) return 0;
    char *end;
    *v = strtod(s, &end);
    return *end == 0 && isfinite(*v);
}

int bone_gsm8k_equal(const char *pred, const char *gold) {
    if (!pred[0] || !gold[0]) return 0;
    if (is_integral(pred) && is_integral(gold)) return int_equal(pred, gold);
    double a, b;
    if (as_decimal(pred, &a) && as_decimal(gold, &b)) return a == b;
    return !strcmp(pred, gold);
}
