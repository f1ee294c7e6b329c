/* tok_load.c — which loader reads a path (tokenizer.json: tok_hf.c; GPT-2 vocab + merges:
 * tok_gpt2.c; llama2.c tokenizer.bin: tok_llama2c.c; regexes: tok_regex.c), the helpers and
 * indices they share, the accessors, and freeing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"
#include "core/utf8.h"
#include "io/json.h"
#include "tokenizer/tok_internal.h"

/* ---- helpers ----------------------------------------------------------------------------- */
const char *tok_jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
int tok_jbool(const cJSON *o, const char *k, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return dflt;
}

void tok_set_piece(bone_tokenizer *t, int32_t id, const char *s, size_t len) {
    if (t->piece[id]) return;
    t->piece[id] = xmalloc(len + 1);
    memcpy(t->piece[id], s, len);
    t->piece[id][len] = 0;
    t->piece_len[id] = (uint32_t)len;
}

void tok_alloc_vocab(bone_tokenizer *t, int64_t n) {
    t->nvocab = n;
    t->piece = xcalloc((size_t)n, sizeof *t->piece);
    t->piece_len = xcalloc((size_t)n, sizeof *t->piece_len);
    t->special = xcalloc((size_t)n, 1);
}

bone_tokenizer *tok_new(const char *path) {
    bone_tokenizer *t = xcalloc(1, sizeof *t);
    t->path = xstrdup(path);
    t->bos = t->eos = t->pad = t->unk_id = -1;
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    return t;
}

/* Parses a JSON object file without the quadratic duplicate-key scan (vocab files have
 * 50k+ keys; tok_load_vocab_obj rejects duplicates through the vocab map instead). */
cJSON *tok_load_big_object(const char *path, bone_err *e) {
    char *text;
    size_t n;
    if (bone_read_regular_file(path, &text, &n, e)) return NULL;
    cJSON *v = bone_json_parse(text, n, path, e);
    free(text);
    if (v && !cJSON_IsObject(v)) {
        cJSON_Delete(v);
        bone_fail(e, "%s: expected a JSON object at the top level", path);
        return NULL;
    }
    return v;
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
    tok_trie_free(t->trie);
    free(t->path);
    free(t);
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

/* ---- dispatch ---------------------------------------------------------------------------- */
/* Every file of a model directory that belongs to its tokenizer: the ones bone_tokenizer_load
 * below reads (tokenizer.json and its config, GPT-2's two spellings of vocab + merges, llama2.c's
 * tokenizer.bin) and the Hugging Face companions other tools read. Copying a model directory
 * (merge, full fine-tune) copies this list, so a format the loader learns goes here too. */
static const char *const tokenizer_files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                              "tokenizer.model", "vocab.json", "merges.txt", "encoder.json",
                                              "vocab.bpe", "tokenizer.bin", BONE_RWKV_VOCAB_NAME, NULL};

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
        if (bone_path_present(tj)) { /* a FIFO or directory there: say so (bone_read_file refuses it) */
            bone_tokenizer *t = tok_load_hf(tj, e);
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
                    bone_tokenizer *t = tok_load_gpt2(path, vp, mp, e);
                    free(vp);
                    free(mp);
                    return t;
                }
                free(mp);
            }
            free(vp);
        }
        char *rv = bone_path_join(path, BONE_RWKV_VOCAB_NAME);
        if (bone_path_present(rv)) {
            bone_tokenizer *t = tok_load_rwkv(rv, e);
            free(rv);
            return t;
        }
        free(rv);
        char *tb = bone_path_join(path, "tokenizer.bin");
        if (bone_file_exists(tb)) {
            bone_tokenizer *t = bone_tokenizer_load_llama2c(tb, 0, e);
            free(tb);
            return t;
        }
        free(tb);
        bone_fail(e, "%s: no tokenizer.json, vocab.json+merges.txt, encoder.json+vocab.bpe or tokenizer.bin in this "
                     "directory (nor an RWKV World " BONE_RWKV_VOCAB_NAME ")", path);
        return NULL;
    }
    if (!bone_path_present(path)) {
        bone_fail(e, "%s: no such file or directory", path);
        return NULL;
    }
    if (ends_with(path, ".bin")) return bone_tokenizer_load_llama2c(path, 0, e);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!strncmp(base, "rwkv_vocab", 10) && ends_with(base, ".txt")) return tok_load_rwkv(path, e);
    return tok_load_hf(path, e);
}

/* ---- accessors --------------------------------------------------------------------------- */
const char *bone_tokenizer_token_to_piece(const bone_tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->nvocab) return NULL;
    return t->piece[id];
}

const char *bone_tokenizer_token_bytes(const bone_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->nvocab || !t->piece[id]) return NULL;
    *len = t->piece_len[id];
    return t->piece[id];
}

int bone_tokenizer_is_rwkv_world(const bone_tokenizer *t) { return t->kind == TOK_KIND_RWKV; }

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
    case BONE_CHAT_RWKV: return "rwkv";
    }
    return "?";
}
