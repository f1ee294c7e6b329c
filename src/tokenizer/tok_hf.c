/* tok_hf.c — a bone_tokenizer from a Hugging Face tokenizer.json (normalizer, pre-tokenizer,
 * post-processor and decoder pipeline; BPE vocabulary and merges) and tokenizer_config.json next
 * to it (bos/eos/pad, add_bos_token, chat template family). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"
#include "core/utf8.h"
#include "io/json.h"
#include "tokenizer/tok_internal.h"

/* ---- pipeline parsing -------------------------------------------------------------------- */
static int parse_normalizer(bone_tokenizer *t, const cJSON *n, const char *what, bone_err *e) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *type = tok_jstr(n, "type");
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
        const char *p = tok_jstr(n, "prepend");
        if (!p) return bone_fail(e, "%s: normalizer Prepend without \"prepend\"", what);
        nm.type = NORM_PREPEND;
        nm.a = xstrdup(p);
    } else if (!strcmp(type, "Replace")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(n, "pattern");
        const char *s = pat ? tok_jstr(pat, "String") : NULL;
        const char *content = tok_jstr(n, "content");
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
    const char *ps = tok_jstr(n, "prepend_scheme");
    if (ps) {
        if (!strcmp(ps, "always")) *s = PREPEND_ALWAYS;
        else if (!strcmp(ps, "first")) *s = PREPEND_FIRST;
        else if (!strcmp(ps, "never")) *s = PREPEND_NEVER;
        else return bone_fail(e, "%s: Metaspace prepend_scheme \"%s\" is not always|first|never", what, ps);
    } else
        *s = tok_jbool(n, "add_prefix_space", 1) ? PREPEND_ALWAYS : PREPEND_NEVER;
    return 0;
}

static int parse_pretok(bone_tokenizer *t, const cJSON *n, const char *what, bone_err *e) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *type = tok_jstr(n, "type");
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
        const char *rx = pat ? tok_jstr(pat, "Regex") : NULL;
        const char *s = pat ? tok_jstr(pat, "String") : NULL;
        if (rx) p.re = tok_compile_regex(rx, strlen(rx), what, e);
        else if (s) p.re = tok_compile_literal(s, what, e);
        else return bone_fail(e, "%s: Split pre-tokenizer needs pattern {\"Regex\"|\"String\": ...}", what);
        if (!p.re) return -1;
        const char *b = tok_jstr(n, "behavior");
        if (!b || !strcmp(b, "Isolated")) p.behavior = SPLIT_ISOLATED;
        else if (!strcmp(b, "Removed")) p.behavior = SPLIT_REMOVED;
        else if (!strcmp(b, "MergedWithPrevious")) p.behavior = SPLIT_MERGED_PREV;
        else if (!strcmp(b, "MergedWithNext")) p.behavior = SPLIT_MERGED_NEXT;
        else {
            tok_pre_free(&p);
            return bone_fail(e, "%s: Split behavior \"%s\" is not supported", what, b);
        }
        if (tok_jbool(n, "invert", 0)) {
            tok_pre_free(&p);
            return bone_fail(e, "%s: Split with invert:true is not supported", what);
        }
    } else if (!strcmp(type, "ByteLevel")) {
        p.type = PRE_BYTELEVEL;
        p.add_prefix_space = tok_jbool(n, "add_prefix_space", 1);
        if (tok_jbool(n, "use_regex", 1)) {
            p.re = tok_compile_regex(TOK_GPT2_RE, strlen(TOK_GPT2_RE), what, e);
            if (!p.re) return -1;
        }
        t->byte_level = 1;
    } else if (!strcmp(type, "Metaspace")) {
        p.type = PRE_METASPACE;
        const char *r = tok_jstr(n, "replacement");
        if (r && !*r) return bone_fail(e, "%s: Metaspace pre-tokenizer with an empty replacement", what);
        p.replacement = xstrdup(r ? r : "\xE2\x96\x81");
        if (parse_scheme(n, &p.scheme, what, e)) {
            tok_pre_free(&p);
            return -1;
        }
        p.split = tok_jbool(n, "split", 1);
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
            const char *id = tok_jstr(sq, "id");
            if (!id || strcmp(id, "A"))
                return bone_fail(e, "%s: TemplateProcessing single template uses sequence \"%s\"", what, id ? id : "?");
            pi.is_seq = 1;
        } else if (sp) {
            const char *id = tok_jstr(sp, "id");
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
    const char *type = tok_jstr(n, "type");
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
    const char *type = tok_jstr(n, "type");
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
        const char *s = pat ? tok_jstr(pat, "String") : NULL;
        const char *content = tok_jstr(n, "content");
        if (!s || !*s || !content) return bone_fail(e, "%s: decoder Replace needs a String pattern and content", what);
        d.type = DEC_REPLACE;
        d.a = xstrdup(s);
        d.b = xstrdup(content);
    } else if (!strcmp(type, "ByteFallback")) d.type = DEC_BYTEFALLBACK;
    else if (!strcmp(type, "Fuse")) d.type = DEC_FUSE;
    else if (!strcmp(type, "Strip")) {
        const char *c = tok_jstr(n, "content");
        d.type = DEC_STRIP;
        d.a = xstrdup(c ? c : " ");
        if (bone_json_int_opt(n, "start", what, 0, &d.start, e) || bone_json_int_opt(n, "stop", what, 0, &d.stop, e)) {
            free(d.a);
            return -1;
        }
    } else if (!strcmp(type, "ByteLevel")) d.type = DEC_BYTELEVEL;
    else if (!strcmp(type, "Metaspace")) {
        const char *r = tok_jstr(n, "replacement");
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
    else if (cJSON_IsObject(v)) s = tok_jstr(v, "content");
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

int tok_load_config(bone_tokenizer *t, const char *dir, bone_err *e) {
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
        t->clean_up = tok_jbool(cfg, "clean_up_tokenization_spaces", 0);
        const char *cls = tok_jstr(cfg, "tokenizer_class");
        if (cls && (!strncmp(cls, "LlamaTokenizer", 14) || !strncmp(cls, "CodeLlamaTokenizer", 18)))
            set_template(t, tok_jbool(cfg, "add_bos_token", 1), tok_jbool(cfg, "add_eos_token", 0));
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
        if (cJSON_IsString(ct)) tmpl = ct->valuestring;
        else if (cJSON_IsArray(ct)) {
            for (const cJSON *x = ct->child; x; x = x->next) {
                const char *name = tok_jstr(x, "name");
                if (!tmpl || (name && !strcmp(name, "default"))) tmpl = tok_jstr(x, "template");
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
int tok_add_merge(bone_tokenizer *t, const char *a, size_t la, const char *b, size_t lb, int32_t rank,
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

int tok_load_vocab_obj(bone_tokenizer *t, const cJSON *vocab, const cJSON *added, const char *what, bone_err *e) {
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
    tok_alloc_vocab(t, maxid + 1);
    for (const cJSON *v = vocab->child; v; v = v->next) {
        int32_t id = (int32_t)v->valuedouble;
        if (t->piece[id]) return bone_fail(e, "%s: vocab id %d is used twice (\"%s\")", what, id, v->string);
        tok_set_piece(t, id, v->string, strlen(v->string));
        if (tok_smap_get(&t->vocab, t->piece[id], t->piece_len[id]) >= 0)
            return bone_fail(e, "%s: vocab token \"%s\" appears twice", what, v->string);
        tok_smap_put(&t->vocab, t->piece[id], t->piece_len[id], id);
    }
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        const char *content = tok_jstr(a, "content");
        if (!content || !*content) return bone_fail(e, "%s: added_tokens entry without \"content\"", what);
        int32_t id = (int32_t)cJSON_GetObjectItemCaseSensitive(a, "id")->valuedouble;
        tok_set_piece(t, id, content, strlen(content));
        tok_added x = {xstrdup(content), strlen(content), id, tok_jbool(a, "single_word", 0), tok_jbool(a, "lstrip", 0),
                       tok_jbool(a, "rstrip", 0), tok_jbool(a, "normalized", 0), tok_jbool(a, "special", 0)};
        t->special[id] = (uint8_t)x.special;
        t->added = xrealloc(t->added, (t->nadded + 1) * sizeof *t->added);
        t->added[t->nadded++] = x;
    }
    return 0;
}

bone_tokenizer *tok_load_hf(const char *path, bone_err *e) {
    cJSON *root = tok_load_big_object(path, e);
    if (root && bone_json_check_dups(root, path, e)) {
        cJSON_Delete(root);
        root = NULL;
    }
    if (!root) return NULL;
    bone_tokenizer *t = tok_new(path);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *mtype = model ? tok_jstr(model, "type") : NULL;
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
    const char *csp = tok_jstr(model, "continuing_subword_prefix"), *eows = tok_jstr(model, "end_of_word_suffix");
    if ((csp && *csp) || (eows && *eows)) {
        bone_fail(e, "%s: BPE continuing_subword_prefix / end_of_word_suffix are not supported", path);
        goto fail;
    }
    if (tok_load_vocab_obj(t, cJSON_GetObjectItemCaseSensitive(model, "vocab"),
                       cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), path, e))
        goto fail;
    t->byte_fallback = tok_jbool(model, "byte_fallback", 0);
    t->fuse_unk = tok_jbool(model, "fuse_unk", 0);
    t->ignore_merges = tok_jbool(model, "ignore_merges", 0);
    const char *unk = tok_jstr(model, "unk_token");
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
            if (tok_add_merge(t, s, (size_t)(sp - s), sp + 1, strlen(sp + 1), rank, path, e)) goto fail;
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
                   cJSON_IsString(m->child->next)) {
            const char *a = m->child->valuestring, *b = m->child->next->valuestring;
            if (tok_add_merge(t, a, strlen(a), b, strlen(b), rank, path, e)) goto fail;
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
    int rc = tok_load_config(t, dir, e);
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
