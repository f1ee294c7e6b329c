/* instruct.c — instruction data (GSM8K, MetaMathQA, Alpaca, chat messages; JSONL or a JSON array)
 * rendered through a template (template.c) and a tokenizer into examples whose labels are -100
 * everywhere except on response tokens and the EOS. Validates strictly: malformed JSON
 * (file:line:column), missing fields (named, with the fields present), non-UTF-8 bytes (offset),
 * empty results; on any error nothing is appended to the output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"
#include "core/utf8.h"
#include "data/dataset.h"
#include "data/template.h"
#include "io/json.h"
#include "tokenizer/tokenizer.h"

typedef enum { FMT_GSM8K, FMT_METAMATH, FMT_ALPACA, FMT_CHAT, FMT_TEXT } fmt_t;

static const struct {
    const char *name;
    fmt_t fmt;
    const char *prompt, *target; /* required string fields (chat: "messages") */
} FORMATS[] = {
    {"gsm8k", FMT_GSM8K, "question", "answer"},
    {"metamath", FMT_METAMATH, "query", "response"},
    {"alpaca", FMT_ALPACA, "instruction", "output"},
    {"chat", FMT_CHAT, "messages", NULL},
    {"text", FMT_TEXT, "text", NULL}, /* plain text: every token trained (continued pretraining) */
};
#define NFORMATS ((int)(sizeof FORMATS / sizeof FORMATS[0]))

static int detect(const cJSON *o, const char *where, fmt_t *f, bone_err *e) {
    if (cJSON_GetObjectItemCaseSensitive(o, "messages")) { *f = FMT_CHAT; return 0; }
    if (cJSON_GetObjectItemCaseSensitive(o, "text")) { *f = FMT_TEXT; return 0; }
    for (int i = 0; i < 3; i++)
        if (cJSON_GetObjectItemCaseSensitive(o, FORMATS[i].prompt) && cJSON_GetObjectItemCaseSensitive(o, FORMATS[i].target)) {
            *f = FORMATS[i].fmt;
            return 0;
        }
    char fl[1024];
    bone_json_list_fields(o, fl, sizeof fl);
    if (cJSON_GetObjectItemCaseSensitive(o, "input_ids"))
        return bone_fail(e, "%s: pre-tokenized records ({\"input_ids\": ...}) must be JSONL, one object per line "
                            "(--format tokens)", where);
    return bone_fail(e, "%s: cannot tell the data format from the fields present (%s); expected {question, answer} "
                        "(gsm8k), {query, response} (metamath), {instruction, input, output} (alpaca), {messages} "
                        "(chat) or {text} (text), or choose one with --format", where, fl);
}

static const char *need_str(const cJSON *o, const char *key, int optional, const char *where, bone_err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (optional) return "";
        char fl[1024];
        bone_json_list_fields(o, fl, sizeof fl);
        bone_fail(e, "%s: missing field \"%s\" (fields present: %s)", where, key, fl);
        return NULL;
    }
    if (!cJSON_IsString(v)) {
        if (optional && cJSON_IsNull(v)) return "";
        bone_fail(e, "%s: field \"%s\" must be a string", where, key);
        return NULL;
    }
    return v->valuestring;
}

/* GSM8K calculator annotations: <<[^>]*>> → "" */
static char *strip_calc(const char *s) {
    size_t n = strlen(s), o = 0;
    char *p = xmalloc(n + 1);
    for (size_t i = 0; i < n;) {
        if (s[i] == '<' && s[i + 1] == '<') {
            size_t j = i + 2;
            while (j < n && s[j] != '>') j++;
            if (j + 1 < n && s[j + 1] == '>') {
                i = j + 2;
                continue;
            }
        }
        p[o++] = s[i++];
    }
    p[o] = 0;
    return p;
}

typedef struct loader {
    const bone_data_opts *o;
    bone_tokenizer *tok;
    bone_template tmpl;
    int have_fmt;
    fmt_t fmt;
    bone_dataset ds;
    int64_t truncated, dropped, seen;
    int64_t line; /* the record's location, as bone_example.line */
} loader;

static int encode_count(loader *L, const char *s, int add_special, int32_t **ids, size_t *n, const char *where,
                        bone_err *e) {
    if (bone_tokenizer_encode(L->tok, s, strlen(s), add_special, ids, n, e)) return bone_wrap(e, "%s", where);
    return 0;
}

/* Tokenizes the rendered segments. Token i takes the label of the segment its position falls
 * in, where segment k ends at len(tokenize(seg_0..seg_k)) (the PiSSA rule: the prompt mask is
 * the length of the tokenized prompt). Ids the post-processor adds in front (BOS) are masked;
 * ids it adds behind (add_eos_token) count as the EOS. */
static int add_example(loader *L, const bone_segs *s, const char *where, bone_err *e) {
    char *full = bone_segs_join(s);
    int32_t *ids = NULL;
    size_t n = 0, npre = 0, nsuf = 0;
    int rc = encode_count(L, full, s->add_special, &ids, &n, where, e);
    if (rc) { free(full); return -1; }
    if (s->add_special) bone_tokenizer_special_counts(L->tok, &npre, &nsuf);
    if (npre + nsuf > n) npre = nsuf = 0; /* cannot happen with a TemplateProcessing; be safe */
    int32_t *labels = xmalloc((n + 2) * sizeof *labels);
    for (size_t i = 0; i < npre; i++) labels[i] = BONE_IGNORE;
    for (size_t i = n - nsuf; i < n; i++) labels[i] = s->append_eos ? ids[i] : BONE_IGNORE;
    size_t body_end = n - nsuf, start = npre, plen = 0;
    for (size_t k = 0; k < s->n; k++) {
        plen += strlen(s->text[k]);
        size_t end = body_end;
        if (k + 1 < s->n) {
            char save = full[plen];
            full[plen] = 0;
            int32_t *pid;
            size_t pn;
            rc = encode_count(L, full, 0, &pid, &pn, where, e);
            full[plen] = save;
            if (rc) break;
            free(pid);
            end = npre + pn < body_end ? npre + pn : body_end;
            if (end < start) end = start;
        }
        for (size_t i = start; i < end; i++) labels[i] = s->train[k] ? ids[i] : BONE_IGNORE;
        start = end;
    }
    free(full);
    if (rc) { free(ids); free(labels); return -1; }
    int32_t eos = bone_tokenizer_eos(L->tok);
    if (s->append_eos && !(nsuf && ids[n - 1] == eos)) {
        if (eos < 0) {
            free(ids);
            free(labels);
            return bone_fail(e, "%s: the tokenizer has no eos token (no tokenizer_config.json with eos_token next to "
                                "%s?); it is needed to end each example", where, L->o->tokenizer);
        }
        ids = xrealloc(ids, (n + 1) * sizeof *ids);
        ids[n] = eos;
        labels[n] = eos;
        n++;
    }
    int64_t keep = (int64_t)n;
    if (L->o->max_len > 0 && keep > L->o->max_len) {
        if (L->o->policy == BONE_MAXLEN_ERROR) {
            free(ids);
            free(labels);
            return bone_fail(e, "%s: %lld tokens exceed --max-len %lld (policy: error)", where, (long long)n,
                             (long long)L->o->max_len);
        }
        if (L->o->policy == BONE_MAXLEN_DROP) {
            L->dropped++;
            free(ids);
            free(labels);
            return 0;
        }
        L->truncated++;
        keep = L->o->max_len;
    }
    bone_dataset_push(&L->ds, ids, labels, keep);
    L->ds.ex[L->ds.n - 1].line = L->line;
    free(ids);
    free(labels);
    return 0;
}

static int process(loader *L, const cJSON *o, const char *where, bone_err *e) {
    if (!cJSON_IsObject(o)) return bone_fail(e, "%s: expected a JSON object", where);
    if (bone_json_check_dups(o, where, e)) return -1;
    if (!L->have_fmt) {
        if (detect(o, where, &L->fmt, e)) return -1;
        L->have_fmt = 1;
        if (L->fmt == FMT_TEXT) goto opened;
        if (bone_template_open(L->o->template_, L->fmt == FMT_CHAT, L->tok, &L->tmpl, e)) {
            L->have_fmt = 0;
            return -1;
        }
    }
opened:
    L->seen++;
    if (L->fmt == FMT_TEXT) { /* one trained segment, the post-processor's tokens, then EOS */
        const char *t = need_str(o, "text", 0, where, e);
        if (!t) return -1;
        char *seg[1] = {(char *)t};
        int train[1] = {1};
        bone_segs s1 = {seg, train, 1, 1, 1, 1};
        return add_example(L, &s1, where, e);
    }
    bone_record r = {0};
    r.obj = o;
    char *calc_free = NULL;
    bone_msg *msgs = NULL;
    int rc = -1;
    if (L->fmt == FMT_CHAT) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "messages");
        if (!m) {
            char fl[1024];
            bone_json_list_fields(o, fl, sizeof fl);
            return bone_fail(e, "%s: missing field \"messages\" (fields present: %s)", where, fl);
        }
        if (!cJSON_IsArray(m) || !cJSON_GetArraySize(m))
            return bone_fail(e, "%s: field \"messages\" must be a non-empty array of {role, content}", where);
        size_t n = (size_t)cJSON_GetArraySize(m), i = 0;
        msgs = xcalloc(n, sizeof *msgs);
        for (const cJSON *x = m->child; x; x = x->next, i++) {
            char w2[1400];
            snprintf(w2, sizeof w2, "%s: messages[%zu]", where, i);
            if (!cJSON_IsObject(x)) { bone_fail(e, "%s: expected an object {role, content}", w2); goto out; }
            if (!(msgs[i].role = need_str(x, "role", 0, w2, e))) goto out;
            if (!(msgs[i].content = need_str(x, "content", 0, w2, e))) goto out;
        }
        r.msgs = msgs;
        r.nmsgs = n;
    } else {
        const char *pf = FORMATS[L->fmt].prompt, *tf = FORMATS[L->fmt].target;
        if (!(r.instruction = need_str(o, pf, 0, where, e))) goto out;
        if (!(r.response = need_str(o, tf, 0, where, e))) goto out;
        r.target_field = tf;
        if (L->fmt == FMT_ALPACA && !(r.input = need_str(o, "input", 1, where, e))) goto out;
        if (L->fmt == FMT_GSM8K && !L->o->keep_calc) r.response = calc_free = strip_calc(r.response);
    }
    bone_segs s;
    if (bone_template_render(&L->tmpl, &r, where, &s, e)) goto out;
    rc = add_example(L, &s, where, e);
    bone_segs_free(&s);
out:
    free(calc_free);
    free(msgs);
    return rc;
}

/* Parses one JSONL line; errors give file:line:column and the offending text. */
static cJSON *parse_line(const char *s, size_t n, const char *path, int64_t line, bone_err *e) {
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    size_t off;
    if (v) {
        off = (size_t)(end - s);
        while (off < n && (s[off] == ' ' || s[off] == '\t' || s[off] == '\r')) off++;
        if (off == n) return v;
        cJSON_Delete(v);
        bone_fail(e, "%s:%lld:%zu: unexpected text after the JSON object: \"%.40s\"", path, (long long)line, off + 1,
                  s + off);
        return NULL;
    }
    const char *ep = cJSON_GetErrorPtr();
    off = ep && ep >= s && ep <= s + n ? (size_t)(ep - s) : 0;
    size_t col = 1;
    for (size_t i = 0; i < off; i++) col += ((unsigned char)s[i] & 0xC0) != 0x80; /* columns count characters */
    size_t show = n - off < 40 ? n - off : 40;
    while (show < n - off && show > 0 && ((unsigned char)s[off + show] & 0xC0) == 0x80) show--;
    bone_fail(e, "%s:%lld:%zu: malformed JSON near \"%.*s\" in: %.*s%s", path, (long long)line, col, (int)show,
              s + off, (int)(n < 100 ? n : 100), s, n > 100 ? "..." : "");
    return NULL;
}

/* the --format name is known and a tokenizer is given (checked before reading the file) */
static int check_opts(const bone_data_opts *opts, bone_err *e) {
    if (opts->format && strcmp(opts->format, "auto")) {
        int ok = 0;
        for (int i = 0; i < NFORMATS; i++) ok |= !strcmp(opts->format, FORMATS[i].name);
        if (!ok)
            return bone_fail(e, "unknown data format \"%s\" (expected auto, tokens, gsm8k, metamath, alpaca, chat, text)",
                             opts->format);
    }
    if (!opts->tokenizer || !*opts->tokenizer)
        return bone_fail(e, "%s: text data needs a tokenizer (a model directory or tokenizer.json)", opts->path);
    return 0;
}

int bone_dataset_load_text(const bone_data_opts *opts, bone_dataset *out, bone_err *e) {
    bone_dataset_init(out);
    if (opts->format && !strcmp(opts->format, "tokens")) return bone_dataset_load_tokens(opts, out, e);
    if (check_opts(opts, e)) return -1;
    char *text;
    size_t n;
    if (bone_data_read(opts->path, &text, &n, e)) return -1;
    int rc = bone_dataset_load_text_buf(opts, text, n, out, e);
    free(text);
    return rc;
}

int bone_dataset_load_text_buf(const bone_data_opts *opts, const char *text, size_t n, bone_dataset *out,
                               bone_err *e) {
    bone_dataset_init(out);
    const char *path = opts->path;
    if (check_opts(opts, e)) return -1;
    size_t bad = bone_utf8_check(text, n);
    if (bad != n) {
        size_t line = 1, col = 1;
        for (size_t i = 0; i < bad; i++) {
            if (text[i] == '\n') { line++; col = 1; }
            else col++;
        }
        unsigned byte = (unsigned char)text[bad];
        return bone_fail(e, "%s:%zu:%zu: invalid UTF-8 (byte 0x%02X at byte offset %zu)", path, line, col, byte, bad);
    }
    loader L = {0};
    L.o = opts;
    bone_dataset_init(&L.ds);
    int rc = -1;
    L.tok = bone_tokenizer_load(opts->tokenizer, e);
    if (!L.tok) goto out;
    if (opts->format && strcmp(opts->format, "auto")) {
        for (int i = 0; i < NFORMATS; i++)
            if (!strcmp(opts->format, FORMATS[i].name)) L.fmt = FORMATS[i].fmt;
        L.have_fmt = 1;
        if (L.fmt != FMT_TEXT && bone_template_open(opts->template_, L.fmt == FMT_CHAT, L.tok, &L.tmpl, e)) {
            L.have_fmt = 0;
            goto out;
        }
    }
    size_t i = 0;
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) i++;
    char where[1200];
    if (i < n && text[i] == '[') {
        cJSON *arr = bone_json_parse(text, n, path, e);
        if (!arr) goto out;
        int64_t k = 0;
        for (const cJSON *x = arr->child; x; x = x->next) {
            snprintf(where, sizeof where, "%s: element %lld", path, (long long)++k);
            L.line = -k;
            if (process(&L, x, where, e)) {
                cJSON_Delete(arr);
                goto out;
            }
        }
        cJSON_Delete(arr);
    } else {
        int64_t line = 0;
        size_t pos = 0;
        size_t a, b;
        while (bone_jsonl_next(text, n, &pos, &line, &a, &b)) {
            if (memchr(text + a, 0, b - a)) {
                bone_fail(e, "%s:%lld: NUL byte in the line", path, (long long)line);
                goto out;
            }
            cJSON *o = parse_line(text + a, b - a, path, line, e);
            if (!o) goto out;
            snprintf(where, sizeof where, "%s:%lld", path, (long long)line);
            L.line = line;
            int prc = process(&L, o, where, e);
            cJSON_Delete(o);
            if (prc) goto out;
        }
    }
    if (L.truncated || L.dropped)
        fprintf(stderr, "bone: %s: %lld of %lld example(s) longer than --max-len %lld were %s\n", path,
                (long long)(L.truncated + L.dropped), (long long)L.seen, (long long)opts->max_len,
                L.truncated ? "truncated" : "dropped");
    if (L.ds.n == 0) {
        if (L.dropped)
            bone_fail(e, "%s: every example (%lld) was dropped by --max-len %lld", path, (long long)L.dropped,
                      (long long)opts->max_len);
        else
            bone_fail(e, "%s: the data set is empty (no records)", path);
        goto out;
    }
    *out = L.ds;
    L.ds = (bone_dataset){0};
    rc = 0;
out:
    bone_dataset_free(&L.ds);
    if (L.have_fmt) bone_template_close(&L.tmpl);
    bone_tokenizer_free(L.tok);
    return rc;
}
