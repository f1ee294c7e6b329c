/* tok_internal.h — the tokenizer object and the helpers its parts share (hash maps, UTF-8,
 * the byte-level alphabet). Private to src/tokenizer/. */
#ifndef BONE_TOKENIZER_INTERNAL_H
#define BONE_TOKENIZER_INTERNAL_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "tokenizer/tokenizer.h"

/* ---- hash maps --------------------------------------------------------------------------- */
uint64_t tok_hash(const void *p, size_t n);

/* byte string → int32; keys are borrowed (must outlive the map). */
typedef struct tok_smap_ent {
    const char *key;
    uint32_t len;
    int32_t val;
    uint64_t h;
} tok_smap_ent;
typedef struct tok_smap {
    tok_smap_ent *ent;
    size_t cap, n;
} tok_smap;
void tok_smap_free(tok_smap *m);
/* Inserts or overwrites. */
void tok_smap_put(tok_smap *m, const char *key, size_t len, int32_t val);
/* Returns the value, or -1. */
int32_t tok_smap_get(const tok_smap *m, const char *key, size_t len);

/* (left id, right id) → (rank, merged id). */
typedef struct tok_mmap_ent {
    uint64_t key; /* (left << 32 | right) + 1; 0 = empty */
    int32_t rank, id;
} tok_mmap_ent;
typedef struct tok_mmap {
    tok_mmap_ent *ent;
    size_t cap, n;
} tok_mmap;
void tok_mmap_free(tok_mmap *m);
/* Returns 0, or 1 if the pair was already present (kept, first rank wins). */
int tok_mmap_put(tok_mmap *m, int32_t a, int32_t b, int32_t rank, int32_t id);
int tok_mmap_get(const tok_mmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *id);

/* Word cache: word bytes → ids, owning both; cleared when full. */
typedef struct tok_cache_ent {
    uint64_t h;
    size_t koff; /* offset of the key in bytes */
    uint32_t klen;
    size_t ioff; /* offset of the ids in ids */
    uint32_t nids;
    int used;
} tok_cache_ent;
typedef struct tok_cache {
    tok_cache_ent *ent;
    size_t cap, n;
    char *bytes;
    size_t nbytes, capbytes;
    int32_t *ids;
    size_t nids, capids;
} tok_cache;
void tok_cache_free(tok_cache *c);
int tok_cache_get(const tok_cache *c, const char *w, size_t n, const int32_t **ids, size_t *nids);
void tok_cache_put(tok_cache *c, const char *w, size_t n, const int32_t *ids, size_t nids);

/* ---- growable buffers -------------------------------------------------------------------- */
typedef struct tok_buf {
    char *p;
    size_t n, cap;
} tok_buf;
void tok_buf_add(tok_buf *b, const void *p, size_t n);
void tok_buf_addc(tok_buf *b, char c);
void tok_buf_free(tok_buf *b);

typedef struct tok_ids {
    int32_t *p;
    size_t n, cap;
} tok_ids;
void tok_ids_add(tok_ids *v, int32_t id);
void tok_ids_addn(tok_ids *v, const int32_t *ids, size_t n);

/* ---- UTF-8 ------------------------------------------------------------------------------- */
/* Length of the (valid) UTF-8 sequence starting with byte c. */
static inline size_t tok_u8len(unsigned char c) {
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}
/* Decodes one code point of valid UTF-8; returns its length. */
size_t tok_u8dec(const char *s, uint32_t *cp);
size_t tok_u8enc(uint32_t cp, char *out);
/* Appends s converted with Rust's from_utf8_lossy rules (one U+FFFD per maximal invalid prefix). */
void tok_utf8_lossy(tok_buf *out, const char *s, size_t n);
/* White_Space code points (Rust char::is_whitespace). */
int tok_is_ws(uint32_t cp);

/* ---- byte-level alphabet (FORMATS.md §4.7) ----------------------------------------------- */
void tok_bytelevel_tables(uint32_t byte_to_cp[256]);
/* cp → byte, or -1 if cp is not in the alphabet. */
int tok_bytelevel_cp_to_byte(uint32_t cp);

/* ---- pipeline components ----------------------------------------------------------------- */
typedef enum { NORM_NFC, NORM_NFD, NORM_NFKC, NORM_NFKD, NORM_PREPEND, NORM_REPLACE } tok_norm_type;
typedef struct tok_norm {
    tok_norm_type type;
    char *a, *b; /* PREPEND: a = text; REPLACE: a → b */
} tok_norm;

typedef enum { PRE_SPLIT, PRE_BYTELEVEL, PRE_METASPACE } tok_pre_type;
typedef enum { SPLIT_ISOLATED, SPLIT_REMOVED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS } tok_split_behavior;
typedef enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER } tok_prepend_scheme;
typedef struct tok_pre {
    tok_pre_type type;
    pcre2_code *re;      /* SPLIT, and BYTELEVEL with use_regex */
    tok_split_behavior behavior;
    int invert;
    int add_prefix_space; /* BYTELEVEL */
    char *replacement;    /* METASPACE */
    tok_prepend_scheme scheme;
    int split;
} tok_pre;

typedef enum { DEC_REPLACE, DEC_BYTEFALLBACK, DEC_FUSE, DEC_STRIP, DEC_BYTELEVEL, DEC_METASPACE } tok_dec_type;
typedef struct tok_dec {
    tok_dec_type type;
    char *a, *b; /* REPLACE a → b; STRIP: a = content char; METASPACE: a = replacement */
    int64_t start, stop;
    tok_prepend_scheme scheme;
} tok_dec;

typedef struct tok_added {
    char *content;
    size_t len;
    int32_t id;
    int single_word, lstrip, rstrip, normalized, special;
} tok_added;

typedef struct tok_post_item {
    int is_seq;    /* 1: the input sequence (A) */
    int32_t *ids;  /* special-token ids */
    size_t nids;
} tok_post_item;

enum { TOK_KIND_HF = 0, TOK_KIND_LLAMA2C = 1, TOK_KIND_RWKV = 2 };

typedef struct tok_trie tok_trie; /* tok_rwkv.c: the World vocabulary's byte trie */

struct bone_tokenizer {
    int kind;
    char *path;
    /* id → piece */
    int64_t nvocab;
    char **piece;
    uint32_t *piece_len;
    uint8_t *special;
    tok_smap vocab; /* model vocab + added tokens (piece → id) */
    /* BPE model */
    tok_mmap merges;
    int byte_level;            /* pre-tokenizer maps bytes to the byte-level alphabet */
    int32_t byte_id[256];      /* byte-level: id of the mapped char; byte_fallback: <0xHH> id */
    tok_smap raw_vocab;        /* byte-level: raw bytes of a token → id (ignore_merges lookups) */
    char *raw_store;           /* backing bytes for raw_vocab keys */
    int byte_fallback, fuse_unk, ignore_merges;
    int32_t unk_id;
    /* added tokens, longest first within each first byte */
    tok_added *added;
    size_t nadded;
    uint8_t added_first[256];
    int any_normalized_added;
    /* pipeline */
    tok_norm *norm;
    size_t nnorm;
    tok_pre *pre;
    size_t npre;
    tok_post_item *post;
    size_t npost;
    int has_post; /* a TemplateProcessing is present */
    tok_dec *dec;
    size_t ndec;
    int has_decoder;
    /* llama2.c */
    int32_t *score_rank; /* dense rank of score, 0 = highest */
    uint32_t max_token_length;
    /* config */
    int32_t bos, eos, pad;
    int clean_up;
    int lossless;
    bone_chat_family chat;
    char *chat_default_system;
    int chat_date;
    tok_cache cache;
    /* RWKV World (tok_rwkv.c): pieces are the tokens' raw bytes; id 0 is end-of-text */
    tok_trie *trie;
};

/* tok_load.c */
int tok_build_index(bone_tokenizer *t, bone_err *e);
/* tok_encode.c */
void tok_pre_free(tok_pre *p);

/* ---- shared by the loaders (tok_load.c, tok_regex.c, tok_hf.c, tok_gpt2.c, tok_llama2c.c) ---- */
pcre2_code *tok_compile_regex(const char *pat, size_t n, const char *what, bone_err *e);
pcre2_code *tok_compile_literal(const char *s, const char *what, bone_err *e);
extern const char TOK_GPT2_RE[]; /* GPT-2's pre-tokenizer pattern */
const char *tok_jstr(const cJSON *o, const char *k);
int tok_jbool(const cJSON *o, const char *k, int dflt);
void tok_set_piece(bone_tokenizer *t, int32_t id, const char *s, size_t len);
void tok_alloc_vocab(bone_tokenizer *t, int64_t n);
bone_tokenizer *tok_new(const char *path);
/* a JSON object file, without cJSON's quadratic duplicate-key scan (vocab files are big) */
cJSON *tok_load_big_object(const char *path, bone_err *e);
/* tokenizer_config.json in dir, if present */
int tok_load_config(bone_tokenizer *t, const char *dir, bone_err *e);
int tok_load_vocab_obj(bone_tokenizer *t, const cJSON *vocab, const cJSON *added, const char *what, bone_err *e);
int tok_add_merge(bone_tokenizer *t, const char *a, size_t la, const char *b, size_t lb, int32_t rank,
                  const char *what, bone_err *e);
bone_tokenizer *tok_load_hf(const char *path, bone_err *e);
bone_tokenizer *tok_load_gpt2(const char *dir, const char *vpath, const char *mpath, bone_err *e);
/* tok_rwkv.c */
bone_tokenizer *tok_load_rwkv(const char *path, bone_err *e);
void tok_trie_free(tok_trie *t);
void tok_rwkv_encode(const bone_tokenizer *t, const char *text, size_t n, tok_ids *out);

#endif
