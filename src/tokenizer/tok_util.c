/* tok_util.c — hash maps (vocab, merge ranks, word cache), growable buffers, UTF-8 helpers and
 * the byte-level alphabet used by the tokenizer. */
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_internal.h"

uint64_t tok_hash(const void *p, size_t n) {
    /* FNV-1a 64 with a final avalanche. */
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* ---- string map -------------------------------------------------------------------------- */
void tok_smap_free(tok_smap *m) {
    free(m->ent);
    memset(m, 0, sizeof *m);
}

static void smap_grow(tok_smap *m) {
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    tok_smap_ent *ne = xcalloc(ncap, sizeof *ne);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->ent[i].key) continue;
        size_t j = m->ent[i].h & (ncap - 1);
        while (ne[j].key) j = (j + 1) & (ncap - 1);
        ne[j] = m->ent[i];
    }
    free(m->ent);
    m->ent = ne;
    m->cap = ncap;
}

void tok_smap_put(tok_smap *m, const char *key, size_t len, int32_t val) {
    if ((m->n + 1) * 2 > m->cap) smap_grow(m);
    uint64_t h = tok_hash(key, len);
    size_t j = h & (m->cap - 1);
    while (m->ent[j].key) {
        if (m->ent[j].h == h && m->ent[j].len == len && !memcmp(m->ent[j].key, key, len)) {
            m->ent[j].val = val;
            return;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->ent[j].key = key;
    m->ent[j].len = (uint32_t)len;
    m->ent[j].val = val;
    m->ent[j].h = h;
    m->n++;
}

int32_t tok_smap_get(const tok_smap *m, const char *key, size_t len) {
    if (!m->cap) return -1;
    uint64_t h = tok_hash(key, len);
    size_t j = h & (m->cap - 1);
    while (m->ent[j].key) {
        if (m->ent[j].h == h && m->ent[j].len == len && !memcmp(m->ent[j].key, key, len)) return m->ent[j].val;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

/* ---- merge map --------------------------------------------------------------------------- */
static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    return x;
}

void tok_mmap_free(tok_mmap *m) {
    free(m->ent);
    memset(m, 0, sizeof *m);
}

static void mmap_grow(tok_mmap *m) {
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    tok_mmap_ent *ne = xcalloc(ncap, sizeof *ne);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->ent[i].key) continue;
        size_t j = mix64(m->ent[i].key) & (ncap - 1);
        while (ne[j].key) j = (j + 1) & (ncap - 1);
        ne[j] = m->ent[i];
    }
    free(m->ent);
    m->ent = ne;
    m->cap = ncap;
}

int tok_mmap_put(tok_mmap *m, int32_t a, int32_t b, int32_t rank, int32_t id) {
    if ((m->n + 1) * 2 > m->cap) mmap_grow(m);
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t j = mix64(key) & (m->cap - 1);
    while (m->ent[j].key) {
        if (m->ent[j].key == key) return 1;
        j = (j + 1) & (m->cap - 1);
    }
    m->ent[j].key = key;
    m->ent[j].rank = rank;
    m->ent[j].id = id;
    m->n++;
    return 0;
}

int tok_mmap_get(const tok_mmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *id) {
    if (!m->cap) return 0;
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t j = mix64(key) & (m->cap - 1);
    while (m->ent[j].key) {
        if (m->ent[j].key == key) {
            *rank = m->ent[j].rank;
            *id = m->ent[j].id;
            return 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}

/* ---- word cache -------------------------------------------------------------------------- */
#define CACHE_SLOTS ((size_t)1 << 17)
#define CACHE_MAX_ENTRIES (CACHE_SLOTS / 2)
#define CACHE_MAX_BYTES ((size_t)8 << 20)

void tok_cache_free(tok_cache *c) {
    free(c->ent);
    free(c->bytes);
    free(c->ids);
    memset(c, 0, sizeof *c);
}

int tok_cache_get(const tok_cache *c, const char *w, size_t n, const int32_t **ids, size_t *nids) {
    if (!c->ent) return 0;
    uint64_t h = tok_hash(w, n);
    size_t j = h & (c->cap - 1);
    while (c->ent[j].used) {
        const tok_cache_ent *x = &c->ent[j];
        if (x->h == h && x->klen == n && !memcmp(c->bytes + x->koff, w, n)) {
            *ids = c->ids + x->ioff;
            *nids = x->nids;
            return 1;
        }
        j = (j + 1) & (c->cap - 1);
    }
    return 0;
}

void tok_cache_put(tok_cache *c, const char *w, size_t n, const int32_t *ids, size_t nids) {
    if (!c->ent) {
        c->cap = CACHE_SLOTS;
        c->ent = xcalloc(c->cap, sizeof *c->ent);
    }
    if (c->n >= CACHE_MAX_ENTRIES || c->nbytes + n > CACHE_MAX_BYTES) { /* full: start over */
        memset(c->ent, 0, c->cap * sizeof *c->ent);
        c->n = c->nbytes = c->nids = 0;
    }
    if (c->nbytes + n > c->capbytes) {
        c->capbytes = (c->nbytes + n) * 2 + 4096;
        c->bytes = xrealloc(c->bytes, c->capbytes);
    }
    if (c->nids + nids > c->capids) {
        c->capids = (c->nids + nids) * 2 + 1024;
        c->ids = xrealloc(c->ids, c->capids * sizeof *c->ids);
    }
    uint64_t h = tok_hash(w, n);
    size_t j = h & (c->cap - 1);
    while (c->ent[j].used) j = (j + 1) & (c->cap - 1);
    memcpy(c->bytes + c->nbytes, w, n);
    memcpy(c->ids + c->nids, ids, nids * sizeof *ids);
    c->ent[j] = (tok_cache_ent){h, c->nbytes, (uint32_t)n, c->nids, (uint32_t)nids, 1};
    c->nbytes += n;
    c->nids += nids;
    c->n++;
}

/* ---- buffers ----------------------------------------------------------------------------- */
void tok_buf_add(tok_buf *b, const void *p, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
}
void tok_buf_addc(tok_buf *b, char c) { tok_buf_add(b, &c, 1); }
void tok_buf_free(tok_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

void tok_ids_add(tok_ids *v, int32_t id) {
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->p = xrealloc(v->p, v->cap * sizeof *v->p);
    }
    v->p[v->n++] = id;
}
void tok_ids_addn(tok_ids *v, const int32_t *ids, size_t n) {
    if (!n) return;
    if (v->n + n > v->cap) {
        v->cap = (v->n + n) * 2 + 16;
        v->p = xrealloc(v->p, v->cap * sizeof *v->p);
    }
    memcpy(v->p + v->n, ids, n * sizeof *ids);
    v->n += n;
}

/* ---- UTF-8 ------------------------------------------------------------------------------- */
size_t tok_u8dec(const char *str, uint32_t *cp) {
    const unsigned char *s = (const unsigned char *)str;
    if (s[0] < 0x80) { *cp = s[0]; return 1; }
    if (s[0] < 0xE0) { *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F); return 2; }
    if (s[0] < 0xF0) {
        *cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) |
          (s[3] & 0x3F);
    return 4;
}

size_t tok_u8enc(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = 0xC0 | (cp >> 6); o[1] = 0x80 | (cp & 0x3F); return 2; }
    if (cp < 0x10000) {
        o[0] = 0xE0 | (cp >> 12); o[1] = 0x80 | ((cp >> 6) & 0x3F); o[2] = 0x80 | (cp & 0x3F);
        return 3;
    }
    o[0] = 0xF0 | (cp >> 18); o[1] = 0x80 | ((cp >> 12) & 0x3F); o[2] = 0x80 | ((cp >> 6) & 0x3F);
    o[3] = 0x80 | (cp & 0x3F);
    return 4;
}

void tok_utf8_lossy(tok_buf *out, const char *str, size_t n) {
    static const char repl[3] = {(char)0xEF, (char)0xBF, (char)0xBD};
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { tok_buf_addc(out, (char)c); i++; continue; }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c >= 0xE0 && c <= 0xEF) { need = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
        else if (c >= 0xF0 && c <= 0xF4) { need = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
        else { tok_buf_add(out, repl, 3); i++; continue; }
        size_t k = 1;
        while (k <= need && i + k < n) {
            unsigned d = s[i + k];
            unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
            if (d < l || d > h) break;
            k++;
        }
        if (k == need + 1) { tok_buf_add(out, s + i, k); i += k; }
        else { tok_buf_add(out, repl, 3); i += k; }
    }
}

int tok_is_ws(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* ---- byte-level alphabet ----------------------------------------------------------------- */
static int bl_identity(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); }

void tok_bytelevel_tables(uint32_t byte_to_cp[256]) {
    uint32_t next = 0x100;
    for (unsigned b = 0; b < 256; b++) byte_to_cp[b] = bl_identity(b) ? b : next++;
}

int tok_bytelevel_cp_to_byte(uint32_t cp) {
    if (cp < 0x100) return bl_identity(cp) ? (int)cp : -1;
    if (cp >= 0x100 + 68) return -1;
    uint32_t k = cp - 0x100, seen = 0;
    for (unsigned b = 0; b < 256; b++)
        if (!bl_identity(b)) {
            if (seen == k) return (int)b;
            seen++;
        }
    return -1;
}
