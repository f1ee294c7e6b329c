/* tok_rwkv.c — the RWKV "World" tokenizer (FORMATS.md §6.9): a strict reader of
 * rwkv_vocab_v20230424.txt (`<id> <python literal> <byte length>` per line), a byte trie, greedy
 * longest-match encoding over raw UTF-8 bytes and byte-concatenation decoding. Id 0 is not in the
 * file: it is end-of-text, the document separator and the BOS/EOS of the HF wrappers, so the
 * tokenizer gives it the piece "<|endoftext|>" and marks it special. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"
#include "tokenizer/tok_internal.h"

#define RWKV_MAX_ID (1 << 24)   /* far above 65529; bounds what a hostile file can allocate */
#define RWKV_MAX_TOKEN 4096     /* bytes in one token (the real longest is 128) */

/* ---- byte trie ---------------------------------------------------------------------------
 * Nodes are numbered from 0 (the root); the edge (node, byte) → child lives in an open-addressing
 * hash table, so the trie costs ~16 bytes per node instead of a 256-way array per node. */
struct tok_trie {
    int32_t *id;      /* per node: the token ending here, or -1 */
    int64_t nnode, capnode;
    uint64_t *key;    /* node * 256 + byte + 1; 0 = empty */
    int32_t *child;
    uint64_t cap;     /* a power of two */
    uint64_t n;
};

static uint64_t trie_slot(uint64_t k, uint64_t cap) { return (k * 0x9E3779B97F4A7C15ull >> 17) & (cap - 1); }

static int32_t trie_get(const tok_trie *t, int32_t node, unsigned char b) {
    uint64_t k = (uint64_t)node * 256 + b + 1;
    for (uint64_t i = trie_slot(k, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->key[i] == k) return t->child[i];
        if (!t->key[i]) return -1;
    }
}

static void trie_grow(tok_trie *t) {
    uint64_t oc = t->cap, *ok = t->key;
    int32_t *och = t->child;
    t->cap = oc ? oc * 2 : 1 << 10;
    t->key = xcalloc(t->cap, sizeof *t->key);
    t->child = xmalloc(t->cap * sizeof *t->child);
    for (uint64_t i = 0; i < oc; i++) {
        if (!ok[i]) continue;
        uint64_t j = trie_slot(ok[i], t->cap);
        while (t->key[j]) j = (j + 1) & (t->cap - 1);
        t->key[j] = ok[i];
        t->child[j] = och[i];
    }
    free(ok);
    free(och);
}

static int32_t trie_node(tok_trie *t) {
    if (t->nnode == t->capnode) {
        t->capnode = t->capnode ? t->capnode * 2 : 1 << 10;
        t->id = xrealloc(t->id, (size_t)t->capnode * sizeof *t->id);
    }
    t->id[t->nnode] = -1;
    return (int32_t)t->nnode++;
}

/* Inserts bytes → id; returns the id already there (a duplicate), else -1. */
static int32_t trie_put(tok_trie *t, const unsigned char *s, size_t n, int32_t id) {
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t c = trie_get(t, node, s[i]);
        if (c < 0) {
            if (2 * (t->n + 1) > t->cap) trie_grow(t);
            c = trie_node(t);
            uint64_t k = (uint64_t)node * 256 + s[i] + 1, j = trie_slot(k, t->cap);
            while (t->key[j]) j = (j + 1) & (t->cap - 1);
            t->key[j] = k;
            t->child[j] = c;
            t->n++;
        }
        node = c;
    }
    if (t->id[node] >= 0) return t->id[node];
    t->id[node] = id;
    return -1;
}

void tok_trie_free(tok_trie *t) {
    if (!t) return;
    free(t->id);
    free(t->key);
    free(t->child);
    free(t);
}

/* Greedy longest match (FORMATS.md §6.9): at each position walk the trie as far as the input and
 * the edges go, remembering the last node that ends a token. The vocabulary is not prefix-closed,
 * so the walk does not stop at the first node without a token. Every single byte is a token
 * (checked at load), so each step consumes at least one byte. */
void tok_rwkv_encode(const bone_tokenizer *tk, const char *text, size_t n, tok_ids *out) {
    const tok_trie *t = tk->trie;
    const unsigned char *s = (const unsigned char *)text;
    size_t pos = 0;
    while (pos < n) {
        int32_t node = 0, best = -1;
        size_t end = pos;
        for (size_t j = pos; j < n; j++) {
            node = trie_get(t, node, s[j]);
            if (node < 0) break;
            if (t->id[node] >= 0) { best = t->id[node]; end = j + 1; }
        }
        BONE_ASSERT(best >= 0, "rwkv tokenizer: a byte with no token (the loader checks all 256)");
        tok_ids_add(out, best);
        pos = end;
    }
}

/* ---- the vocabulary file ----------------------------------------------------------------- */
static int hexv(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes a Python str or bytes literal (lit, n bytes, as repr() writes it) into out. Every Python
 * escape is accepted: \\ \' \" \a \b \f \n \r \t \v, octal \ooo, \xhh, and in str literals \uXXXX
 * and \UXXXXXXXX; an unknown escape keeps its backslash, as Python does. In a str literal \xhh
 * and \ooo are code points (U+00hh, UTF-8 encoded); in a bytes literal they are raw bytes. The
 * named escape \N{...} is refused (bone carries no Unicode name table), as are surrogates and
 * code points above U+10FFFF, which have no UTF-8 form. Returns NULL (and sets why) on error. */
static int parse_literal(const char *lit, size_t n, tok_buf *out, const char **why) {
    size_t i = 0;
    int is_bytes = 0;
    while (i < n && (lit[i] == 'b' || lit[i] == 'B' || lit[i] == 'u' || lit[i] == 'U')) {
        if (lit[i] == 'b' || lit[i] == 'B') is_bytes = 1;
        i++;
    }
    if (i > 1) { *why = "more than one string prefix"; return -1; }
    if (i >= n || (lit[i] != '\'' && lit[i] != '"')) { *why = "expected a quoted Python string or bytes literal"; return -1; }
    char q = lit[i++];
    if (n < i + 1 || lit[n - 1] != q) { *why = "the literal does not end with its opening quote"; return -1; }
    size_t end = n - 1;
    while (i < end) {
        unsigned char c = (unsigned char)lit[i];
        if (c == (unsigned char)q) { *why = "an unescaped quote inside the literal"; return -1; }
        if (c < 0x20 || c == 0x7f) { *why = "a raw control character inside the literal (Python writes these as escapes)"; return -1; }
        if (c >= 0x80 && is_bytes) { *why = "a non-ASCII character inside a bytes literal"; return -1; }
        if (c != '\\') { tok_buf_addc(out, (char)c); i++; continue; }
        if (i + 1 >= end) { *why = "a backslash at the end of the literal"; return -1; }
        char x = lit[i + 1];
        i += 2;
        uint32_t cp = 0;
        int is_cp = 0; /* cp is a code point (str) or a byte (bytes) */
        switch (x) {
        case '\\': tok_buf_addc(out, '\\'); break;
        case '\'': tok_buf_addc(out, '\''); break;
        case '"': tok_buf_addc(out, '"'); break;
        case 'a': tok_buf_addc(out, '\a'); break;
        case 'b': tok_buf_addc(out, '\b'); break;
        case 'f': tok_buf_addc(out, '\f'); break;
        case 'n': tok_buf_addc(out, '\n'); break;
        case 'r': tok_buf_addc(out, '\r'); break;
        case 't': tok_buf_addc(out, '\t'); break;
        case 'v': tok_buf_addc(out, '\v'); break;
        case 'x': case 'u': case 'U': {
            if (x != 'x' && is_bytes) { tok_buf_addc(out, '\\'); tok_buf_addc(out, x); break; }
            int nd = x == 'x' ? 2 : x == 'u' ? 4 : 8;
            if (i + (size_t)nd > end) { *why = "a truncated \\x, \\u or \\U escape"; return -1; }
            for (int k = 0; k < nd; k++) {
                int h = hexv(lit[i + (size_t)k]);
                if (h < 0) { *why = "a \\x, \\u or \\U escape with a non-hex digit"; return -1; }
                cp = cp * 16 + (uint32_t)h;
            }
            i += (size_t)nd;
            is_cp = 1;
            break;
        }
        case 'N': *why = "a named escape \\N{...} (not supported: bone has no Unicode name table)"; return -1;
        default:
            if (x >= '0' && x <= '7') {
                cp = (uint32_t)(x - '0');
                for (int k = 0; k < 2 && i < end && lit[i] >= '0' && lit[i] <= '7'; k++) cp = cp * 8 + (uint32_t)(lit[i++] - '0');
                if (is_bytes && cp > 0xff) { *why = "an octal escape above \\377 in a bytes literal"; return -1; }
                is_cp = 1;
            } else { /* Python keeps an unknown escape as is */
                tok_buf_addc(out, '\\');
                tok_buf_addc(out, x);
            }
        }
        if (!is_cp) continue;
        if (is_bytes) { tok_buf_addc(out, (char)cp); continue; }
        if (cp > 0x10FFFF) { *why = "a code point above U+10FFFF"; return -1; }
        if (cp >= 0xD800 && cp <= 0xDFFF) { *why = "a surrogate code point (it has no UTF-8 form)"; return -1; }
        char u[4];
        tok_buf_add(out, u, tok_u8enc(cp, u));
    }
    return 0;
}

static int parse_dec(const char *s, size_t n, int64_t max, int64_t *v) {
    if (!n || n > 9) return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        x = x * 10 + (s[i] - '0');
    }
    if (x > max) return -1;
    *v = x;
    return 0;
}

bone_tokenizer *bone_tokenizer_parse_rwkv(const char *path, const char *buf, size_t n, bone_err *e) {
    bone_tokenizer *t = tok_new(path);
    t->kind = TOK_KIND_RWKV;
    t->trie = xcalloc(1, sizeof *t->trie);
    trie_grow(t->trie);
    trie_node(t->trie); /* the root */
    /* pieces, grown as lines arrive; id 0 is end-of-text */
    int64_t cap = 1024, last = 0;
    char **piece = xcalloc((size_t)cap, sizeof *piece);
    uint32_t *plen = xcalloc((size_t)cap, sizeof *plen);
    tok_buf lit = {0};
    size_t pos = 0;
    int64_t line = 0;
    while (pos < n) {
        line++;
        const char *ls = buf + pos, *nl = memchr(ls, '\n', n - pos);
        if (!nl) { bone_fail(e, "%s:%lld: the last line has no newline (truncated file?)", path, (long long)line); goto fail; }
        size_t ll = (size_t)(nl - ls);
        pos += ll + 1;
        if (ll && ls[ll - 1] == '\r') ll--; /* RWKV-LM's copy has CRLF line endings */
        const char *sp1 = memchr(ls, ' ', ll), *sp2 = NULL;
        for (size_t k = ll; k > 0; k--)
            if (ls[k - 1] == ' ') { sp2 = ls + k - 1; break; }
        if (!sp1 || sp2 == sp1) {
            bone_fail(e, "%s:%lld: expected `<id> <python literal> <byte length>`", path, (long long)line);
            goto fail;
        }
        int64_t id, nbytes;
        if (parse_dec(ls, (size_t)(sp1 - ls), RWKV_MAX_ID, &id) || id < 1) {
            bone_fail(e, "%s:%lld: the id \"%.*s\" is not a decimal number in 1..%d", path, (long long)line,
                      (int)((sp1 - ls) > 20 ? 20 : sp1 - ls), ls, RWKV_MAX_ID);
            goto fail;
        }
        if (id != last + 1) {
            bone_fail(e, "%s:%lld: id %lld follows id %lld (ids must run 1, 2, 3, ... without gaps)", path,
                      (long long)line, (long long)id, (long long)last);
            goto fail;
        }
        if (parse_dec(sp2 + 1, (size_t)(ls + ll - sp2 - 1), RWKV_MAX_TOKEN, &nbytes)) {
            bone_fail(e, "%s:%lld: the byte length \"%.*s\" is not a decimal number up to %d", path, (long long)line,
                      (int)((ls + ll - sp2 - 1) > 20 ? 20 : ls + ll - sp2 - 1), sp2 + 1, RWKV_MAX_TOKEN);
            goto fail;
        }
        lit.n = 0;
        const char *why = NULL;
        if (parse_literal(sp1 + 1, (size_t)(sp2 - sp1 - 1), &lit, &why)) {
            bone_fail(e, "%s:%lld: token %lld: %s", path, (long long)line, (long long)id, why);
            goto fail;
        }
        if ((int64_t)lit.n != nbytes) {
            bone_fail(e, "%s:%lld: token %lld decodes to %zu bytes, the line says %lld", path, (long long)line,
                      (long long)id, lit.n, (long long)nbytes);
            goto fail;
        }
        if (!lit.n) { bone_fail(e, "%s:%lld: token %lld is empty", path, (long long)line, (long long)id); goto fail; }
        int32_t dup = trie_put(t->trie, (const unsigned char *)lit.p, lit.n, (int32_t)id);
        if (dup >= 0) {
            bone_fail(e, "%s:%lld: token %lld has the same bytes as token %d", path, (long long)line, (long long)id, dup);
            goto fail;
        }
        if (id >= cap) {
            int64_t nc = cap * 2;
            piece = xrealloc(piece, (size_t)nc * sizeof *piece);
            plen = xrealloc(plen, (size_t)nc * sizeof *plen);
            memset(piece + cap, 0, (size_t)(nc - cap) * sizeof *piece);
            memset(plen + cap, 0, (size_t)(nc - cap) * sizeof *plen);
            cap = nc;
        }
        piece[id] = xmalloc(lit.n + 1);
        memcpy(piece[id], lit.p, lit.n);
        piece[id][lit.n] = 0;
        plen[id] = (uint32_t)lit.n;
        last = id;
    }
    tok_buf_free(&lit);
    /* every byte must be a token, or some input could not be encoded */
    for (int b = 0; b < 256; b++) {
        unsigned char c = (unsigned char)b;
        int32_t node = trie_get(t->trie, 0, c);
        if (node < 0 || t->trie->id[node] < 0) {
            bone_fail(e, "%s: no token for the single byte 0x%02x (a World vocabulary has all 256; ids 1-256)", path, b);
            goto fail;
        }
    }
    /* hand the pieces to the tokenizer object; id 0 = end-of-text */
    static const char EOT[] = "<|endoftext|>";
    tok_alloc_vocab(t, last + 1);
    for (int64_t i = 1; i <= last; i++) {
        t->piece[i] = piece[i];
        t->piece_len[i] = plen[i];
        tok_smap_put(&t->vocab, t->piece[i], t->piece_len[i], (int32_t)i);
    }
    free(piece);
    free(plen);
    tok_set_piece(t, 0, EOT, sizeof EOT - 1);
    tok_smap_put(&t->vocab, t->piece[0], t->piece_len[0], 0);
    t->special[0] = 1;
    t->bos = t->eos = 0;
    t->lossless = 1;
    t->chat = BONE_CHAT_RWKV;
    return t;
fail:
    tok_buf_free(&lit);
    for (int64_t i = 0; i < cap; i++) free(piece[i]);
    free(piece);
    free(plen);
    bone_tokenizer_free(t);
    return NULL;
}

bone_tokenizer *tok_load_rwkv(const char *path, bone_err *e) {
    char *buf;
    size_t n;
    if (bone_read_regular_file(path, &buf, &n, e)) return NULL;
    bone_tokenizer *t = bone_tokenizer_parse_rwkv(path, buf, n, e);
    free(buf);
    return t;
}
