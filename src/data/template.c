/* template.c — rendering instruction records and chat conversations into trainable / prompt
 * text segments (see template.h; the literal strings follow FORMATS.md §4.10 and §7.4). */
#include "data/template.h"
#include "io/json.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"

const char BONE_ALPACA_PROMPT[] =
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n%s\n\n### Response:";
const char BONE_ALPACA_PROMPT_INPUT[] =
    "Below is an instruction that describes a task, paired with an input that provides further context. Write a "
    "response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Input:\n%s\n\n### Response:";

/* ---- segments ---------------------------------------------------------------------------- */
static void seg_add(bone_segs *s, int train, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seg_add(bone_segs *s, int train, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    if (!n) { free(p); return; }
    /* merge with the previous segment of the same kind */
    if (s->n && s->train[s->n - 1] == train) {
        size_t a = strlen(s->text[s->n - 1]);
        s->text[s->n - 1] = xrealloc(s->text[s->n - 1], a + (size_t)n + 1);
        memcpy(s->text[s->n - 1] + a, p, (size_t)n + 1);
        free(p);
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->text = xrealloc(s->text, s->cap * sizeof *s->text);
        s->train = xrealloc(s->train, s->cap * sizeof *s->train);
    }
    s->text[s->n] = p;
    s->train[s->n++] = train;
}

void bone_segs_free(bone_segs *s) {
    for (size_t i = 0; i < s->n; i++) free(s->text[i]);
    free(s->text);
    free(s->train);
    memset(s, 0, sizeof *s);
}

char *bone_segs_join(const bone_segs *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) n += strlen(s->text[i]);
    char *p = xmalloc(n + 1), *q = p;
    for (size_t i = 0; i < s->n; i++) {
        size_t k = strlen(s->text[i]);
        memcpy(q, s->text[i], k);
        q += k;
    }
    *q = 0;
    return p;
}

/* ---- open / close ------------------------------------------------------------------------ */
static const struct { const char *name; bone_tmpl_kind kind; } NAMES[] = {
    {"alpaca", BONE_TMPL_ALPACA}, {"chatml", BONE_TMPL_CHATML}, {"llama3", BONE_TMPL_LLAMA3},
    {"llama2", BONE_TMPL_LLAMA2}, {"zephyr", BONE_TMPL_ZEPHYR}, {"raw", BONE_TMPL_RAW},
    {"rwkv", BONE_TMPL_RWKV},
};

int bone_template_open(const char *name, int is_chat, const bone_tokenizer *tok, bone_template *out, bone_err *e) {
    memset(out, 0, sizeof *out);
    if (!name || !*name) {
        if (!is_chat) name = "alpaca";
        else {
            bone_chat_family f = tok ? bone_tokenizer_chat_family(tok) : BONE_CHAT_NONE;
            switch (f) {
            case BONE_CHAT_CHATML: name = "chatml"; break;
            case BONE_CHAT_LLAMA3: name = "llama3"; break;
            case BONE_CHAT_LLAMA2: name = "llama2"; break;
            case BONE_CHAT_ZEPHYR: name = "zephyr"; break;
            case BONE_CHAT_RWKV: name = "rwkv"; break;
            case BONE_CHAT_NONE:
                return bone_fail(e, "chat data needs a template: the tokenizer has no chat_template; pass --template "
                                    "chatml|llama3|llama2|zephyr|alpaca|raw|FILE");
            case BONE_CHAT_UNKNOWN:
                return bone_fail(e, "the tokenizer's chat_template is not one bone can render (it renders ChatML, "
                                    "Llama-3, Llama-2 and Zephyr natively and does not guess); pass --template "
                                    "chatml|llama3|llama2|zephyr|alpaca|raw|FILE");
            }
        }
    }
    for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++)
        if (!strcmp(name, NAMES[i].name)) {
            out->kind = NAMES[i].kind;
            out->name = xstrdup(name);
            break;
        }
    if (!out->name) {
        if (!bone_file_exists(name) || bone_is_dir(name))
            return bone_fail(e, "unknown template \"%s\": not alpaca|chatml|llama3|llama2|zephyr|rwkv|raw, and no such file",
                             name);
        size_t n;
        if (bone_read_file(name, &out->file_text, &n, e)) return -1;
        if (strlen(out->file_text) != n) {
            free(out->file_text);
            out->file_text = NULL;
            return bone_fail(e, "template file %s contains a NUL byte", name);
        }
        out->kind = BONE_TMPL_FILE;
        out->name = xstrdup(name);
    }
    /* the chat families need their special tokens in the vocabulary */
    static const char *need_chatml[] = {"<|im_start|>", "<|im_end|>", NULL};
    static const char *need_llama3[] = {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", NULL};
    const char **need = out->kind == BONE_TMPL_CHATML ? need_chatml : out->kind == BONE_TMPL_LLAMA3 ? need_llama3 : NULL;
    for (size_t i = 0; tok && need && need[i]; i++)
        if (bone_tokenizer_piece_to_id(tok, need[i]) < 0) {
            int rc = bone_fail(e, "template %s needs the token %s, which the tokenizer does not have", out->name, need[i]);
            bone_template_close(out);
            return rc;
        }
    if (tok && out->kind == BONE_TMPL_CHATML && bone_tokenizer_chat_family(tok) == BONE_CHAT_CHATML &&
        bone_tokenizer_chat_default_system(tok))
        out->default_system = xstrdup(bone_tokenizer_chat_default_system(tok));
    if (tok && out->kind == BONE_TMPL_LLAMA3 && bone_tokenizer_chat_family(tok) == BONE_CHAT_LLAMA3)
        out->date_preamble = bone_tokenizer_chat_date_preamble(tok);
    return 0;
}

void bone_template_close(bone_template *t) {
    free(t->name);
    free(t->file_text);
    free(t->default_system);
    memset(t, 0, sizeof *t);
}

/* ---- rendering --------------------------------------------------------------------------- */
/* Leading/trailing whitespace stripped (Jinja's |trim, as the Llama templates use). */
static char *trimmed(const char *s) {
    const char *a = s, *b = s + strlen(s);
    while (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r' || *a == '\v' || *a == '\f') a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\n' || b[-1] == '\r' || b[-1] == '\v' || b[-1] == '\f')) b--;
    char *p = xmalloc((size_t)(b - a) + 1);
    memcpy(p, a, (size_t)(b - a));
    p[b - a] = 0;
    return p;
}

static char *user_text(const bone_record *r) {
    if (r->input && *r->input) {
        size_t n = strlen(r->instruction) + strlen(r->input) + 3;
        char *p = xmalloc(n);
        snprintf(p, n, "%s\n\n%s", r->instruction, r->input);
        return p;
    }
    return xstrdup(r->instruction);
}

static int render_chat(const bone_template *t, const bone_msg *m, size_t n, const char *where, bone_segs *s,
                       bone_err *e) {
    for (size_t i = 0; i < n; i++) {
        const char *r = m[i].role;
        if (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant"))
            return bone_fail(e, "%s: messages[%zu].role is \"%s\"; expected system, user or assistant", where, i, r);
        if (!strcmp(r, "system") && i != 0)
            return bone_fail(e, "%s: messages[%zu] is a system message; only the first message may be one", where, i);
    }
    int any_assistant = 0;
    for (size_t i = 0; i < n; i++) any_assistant |= !strcmp(m[i].role, "assistant");
    if (!any_assistant) return bone_fail(e, "%s: the conversation has no assistant message to train on", where);
    s->add_special = 0;
    s->append_eos = 0;
    switch (t->kind) {
    case BONE_TMPL_CHATML:
        if (t->default_system && strcmp(m[0].role, "system"))
            seg_add(s, 0, "<|im_start|>system\n%s<|im_end|>\n", t->default_system);
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(m[i].role, "assistant")) {
                seg_add(s, 0, "<|im_start|>assistant\n");
                seg_add(s, 1, "%s<|im_end|>", m[i].content);
                seg_add(s, 0, "\n");
            } else
                seg_add(s, 0, "<|im_start|>%s\n%s<|im_end|>\n", m[i].role, m[i].content);
        }
        return 0;
    case BONE_TMPL_LLAMA3: {
        seg_add(s, 0, "<|begin_of_text|>");
        size_t i = 0;
        if (t->date_preamble) {
            char *sys = n && !strcmp(m[0].role, "system") ? trimmed(m[0].content) : xstrdup("");
            seg_add(s, 0, "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
                          "Today Date: 26 Jul 2024\n\n%s<|eot_id|>", sys);
            free(sys);
            if (n && !strcmp(m[0].role, "system")) i = 1;
        }
        for (; i < n; i++) {
            char *c = trimmed(m[i].content);
            if (!strcmp(m[i].role, "assistant")) {
                seg_add(s, 0, "<|start_header_id|>assistant<|end_header_id|>\n\n");
                seg_add(s, 1, "%s<|eot_id|>", c);
            } else
                seg_add(s, 0, "<|start_header_id|>%s<|end_header_id|>\n\n%s<|eot_id|>", m[i].role, c);
            free(c);
        }
        return 0;
    }
    case BONE_TMPL_LLAMA2: {
        size_t i = 0;
        const char *sys = NULL;
        if (n && !strcmp(m[0].role, "system")) { sys = m[0].content; i = 1; }
        int expect_user = 1;
        for (; i < n; i++) {
            int is_user = !strcmp(m[i].role, "user");
            if (is_user != expect_user)
                return bone_fail(e, "%s: messages[%zu] is \"%s\"; the llama2 template needs user and assistant "
                                    "messages to alternate, starting with user", where, i, m[i].role);
            char *c = trimmed(m[i].content);
            if (is_user) {
                if (sys) {
                    char *st = trimmed(sys);
                    seg_add(s, 0, "<s>[INST] <<SYS>>\n%s\n<</SYS>>\n\n%s [/INST]", st, c);
                    free(st);
                    sys = NULL;
                } else
                    seg_add(s, 0, "<s>[INST] %s [/INST]", c);
            } else
                seg_add(s, 1, " %s </s>", c);
            free(c);
            expect_user = !expect_user;
        }
        return 0;
    }
    case BONE_TMPL_ZEPHYR:
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(m[i].role, "assistant")) {
                seg_add(s, 0, "<|assistant|>\n");
                seg_add(s, 1, "%s</s>", m[i].content);
                seg_add(s, 0, "\n");
            } else
                seg_add(s, 0, "<|%s|>\n%s</s>\n", m[i].role, m[i].content);
        }
        return 0;
    case BONE_TMPL_RAW:
        s->add_special = 1;
        s->append_eos = 1;
        for (size_t i = 0; i < n; i++) seg_add(s, !strcmp(m[i].role, "assistant"), "%s", m[i].content);
        return 0;
    case BONE_TMPL_RWKV:
        /* RWKV World chat (FORMATS.md §6.9): "User: q\n\nAssistant: a\n\n"; the role and its colon
         * are prompt, the reply from its leading space on is trained (the World vocabulary's words
         * carry their space), and the document ends with the eos id 0 */
        s->append_eos = 1;
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(m[i].role, "assistant")) {
                seg_add(s, 0, "Assistant:");
                seg_add(s, 1, " %s\n\n", m[i].content);
            } else
                seg_add(s, 0, "%s: %s\n\n", !strcmp(m[i].role, "user") ? "User" : "System", m[i].content);
        }
        return 0;
    default:
        return bone_fail(e, "%s: internal: not a chat template", where);
    }
}

static int render_file(const bone_template *t, const bone_record *r, const char *where, bone_segs *s, bone_err *e) {
    s->add_special = 1;
    s->append_eos = 1;
    const char *p = t->file_text;
    int train = 0, placed = 0;
    char *lit = xmalloc(strlen(p) + 1);
    size_t nl = 0;
#define FLUSH()                                  \
    do {                                         \
        lit[nl] = 0;                             \
        if (nl) seg_add(s, train, "%s", lit);    \
        nl = 0;                                  \
    } while (0)
    while (*p) {
        if (p[0] == '{' && p[1] == '{') { lit[nl++] = '{'; p += 2; continue; }
        if (p[0] == '}' && p[1] == '}') { lit[nl++] = '}'; p += 2; continue; }
        if (*p == '{') {
            const char *q = strchr(p, '}');
            if (!q) {
                free(lit);
                return bone_fail(e, "template %s: unterminated placeholder at \"%.20s\"", t->name, p);
            }
            size_t k = (size_t)(q - p - 1);
            char name[128];
            if (k == 0 || k >= sizeof name) {
                free(lit);
                return bone_fail(e, "template %s: bad placeholder \"%.*s\"", t->name, (int)(k + 2), p);
            }
            memcpy(name, p + 1, k);
            name[k] = 0;
            p = q + 1;
            FLUSH();
            if (!strcmp(name, "response") || (r->target_field && !strcmp(name, r->target_field))) {
                if (placed) {
                    free(lit);
                    return bone_fail(e, "template %s: the response placeholder {%s} appears twice", t->name, name);
                }
                placed = 1;
                train = 1;
                seg_add(s, 1, "%s", r->response);
                continue;
            }
            const cJSON *v = r->obj ? cJSON_GetObjectItemCaseSensitive(r->obj, name) : NULL;
            const char *val = cJSON_IsString(v) ? v->valuestring : NULL;
            if (!val && (!strcmp(name, "instruction") || !strcmp(name, "prompt"))) val = r->instruction;
            if (!val && !strcmp(name, "input")) val = r->input ? r->input : "";
            if (!val) {
                char f[1024];
                if (r->obj) bone_json_list_fields(r->obj, f, sizeof f);
                else snprintf(f, sizeof f, "none");
                free(lit);
                if (v) return bone_fail(e, "%s: template %s: field \"%s\" is not a string", where, t->name, name);
                return bone_fail(e, "%s: template %s: placeholder {%s} is not a field of the record (fields present: "
                                    "%s; also {instruction}, {input}, {response})", where, t->name, name, f);
            }
            seg_add(s, train, "%s", val);
            continue;
        }
        lit[nl++] = *p++;
    }
    FLUSH();
#undef FLUSH
    free(lit);
    if (!placed) seg_add(s, 1, "%s", r->response);
    return 0;
}

int bone_template_render(const bone_template *t, const bone_record *r, const char *where, bone_segs *out,
                         bone_err *e) {
    memset(out, 0, sizeof *out);
    int rc;
    if (r->msgs) {
        if (t->kind == BONE_TMPL_ALPACA || t->kind == BONE_TMPL_FILE) {
            /* a single user → assistant exchange can be rendered as an instruction */
            const bone_msg *u = NULL, *a = NULL;
            if (r->nmsgs == 2 && !strcmp(r->msgs[0].role, "user") && !strcmp(r->msgs[1].role, "assistant")) {
                u = &r->msgs[0];
                a = &r->msgs[1];
            }
            if (!u)
                return bone_fail(e, "%s: template %s takes one user message followed by one assistant message; this "
                                    "conversation has %zu messages (use a chat template)", where, t->name, r->nmsgs);
            bone_record rr = {r->obj, u->content, NULL, a->content, NULL, NULL, 0};
            return bone_template_render(t, &rr, where, out, e);
        }
        rc = render_chat(t, r->msgs, r->nmsgs, where, out, e);
    } else {
        char *user = user_text(r);
        switch (t->kind) {
        case BONE_TMPL_ALPACA:
            out->add_special = 1;
            out->append_eos = 1;
            if (r->input && *r->input) seg_add(out, 0, BONE_ALPACA_PROMPT_INPUT, r->instruction, r->input);
            else seg_add(out, 0, BONE_ALPACA_PROMPT, r->instruction);
            seg_add(out, 1, "%s\n", r->response);
            rc = 0;
            break;
        case BONE_TMPL_RAW:
            out->add_special = 1;
            out->append_eos = 1;
            seg_add(out, 0, "%s", user);
            seg_add(out, 1, "%s", r->response);
            rc = 0;
            break;
        case BONE_TMPL_FILE: rc = render_file(t, r, where, out, e); break;
        default: {
            bone_msg m[2] = {{"user", user}, {"assistant", r->response}};
            rc = render_chat(t, m, 2, where, out, e);
        }
        }
        free(user);
    }
    if (rc) bone_segs_free(out);
    return rc;
}
