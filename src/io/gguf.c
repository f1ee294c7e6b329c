/* gguf.c — GGUF v3 writer and strict reader (see gguf.h; facts in docs/GGUF.md). */
#include "io/gguf.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "core/fs.h"

/* ---- ggml types ---- */
static const struct { uint32_t id; uint64_t block, bytes; const char *name; } gg_types[] = {
    {0, 1, 4, "F32"},       {1, 1, 2, "F16"},       {2, 32, 18, "Q4_0"},    {3, 32, 20, "Q4_1"},
    {6, 32, 22, "Q5_0"},    {7, 32, 24, "Q5_1"},    {8, 32, 34, "Q8_0"},    {9, 32, 36, "Q8_1"},
    {10, 256, 84, "Q2_K"},  {11, 256, 110, "Q3_K"}, {12, 256, 144, "Q4_K"}, {13, 256, 176, "Q5_K"},
    {14, 256, 210, "Q6_K"}, {15, 256, 292, "Q8_K"}, {24, 1, 1, "I8"},       {25, 1, 2, "I16"},
    {26, 1, 4, "I32"},      {27, 1, 8, "I64"},      {28, 1, 8, "F64"},      {30, 1, 2, "BF16"},
};

int bone_gguf_type_info(uint32_t type, uint64_t *block, uint64_t *bytes, const char **name) {
    for (size_t i = 0; i < sizeof gg_types / sizeof gg_types[0]; i++)
        if (gg_types[i].id == type) {
            if (block) *block = gg_types[i].block;
            if (bytes) *bytes = gg_types[i].bytes;
            if (name) *name = gg_types[i].name;
            return 1;
        }
    return 0;
}

static const char *const kv_names[GGUF_T_COUNT] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                   "bool", "string", "array", "u64", "i64", "f64"};
static const int kv_size[GGUF_T_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *bone_gguf_kv_type_name(uint32_t t) { return t < GGUF_T_COUNT ? kv_names[t] : "unknown"; }

/* ---- numeric encodings ---- */
uint16_t bone_gguf_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u | 0x00400000u) >> 16); /* quiet NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

void bone_q8_0_quantize(const float *x, uint8_t *out, int64_t n) {
    for (int64_t b = 0; b < n / 32; b++, x += 32, out += 34) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f; /* from the f32 d, before it is rounded to f16 */
        uint16_t h = bone_f32_to_f16(d);
        out[0] = (uint8_t)h;
        out[1] = (uint8_t)(h >> 8);
        for (int j = 0; j < 32; j++) out[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id); /* half away from zero */
    }
}

void bone_q8_0_dequantize(const uint8_t *in, float *x, int64_t n) {
    for (int64_t b = 0; b < n / 32; b++, x += 32, in += 34) {
        const float d = bone_f16_to_f32((uint16_t)(in[0] | in[1] << 8));
        for (int j = 0; j < 32; j++) x[j] = (float)(int8_t)in[2 + j] * d;
    }
}

/* ---- writer ---- */
typedef struct { uint8_t *p; size_t n, cap; } gbuf;

static void gb_add(gbuf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = b->cap ? b->cap : 4096;
        while (b->n + n > b->cap) b->cap *= 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void gb_u32(gbuf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    gb_add(b, x, 4);
}
static void gb_u64(gbuf *b, uint64_t v) {
    uint8_t x[8];
    for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> (8 * i));
    gb_add(b, x, 8);
}
static void gb_str(gbuf *b, const char *s, uint64_t n) {
    gb_u64(b, n);
    gb_add(b, s, (size_t)n);
}

struct bone_gguf_w {
    gbuf kv;
    uint64_t n_kv;
    bone_gguf_wt *t;
    int64_t nt, cap;
};

bone_gguf_w *bone_gguf_w_new(void) { return xcalloc(1, sizeof(bone_gguf_w)); }

void bone_gguf_w_free(bone_gguf_w *w) {
    if (!w) return;
    for (int64_t i = 0; i < w->nt; i++) {
        free(w->t[i].name);
        free(w->t[i].owned);
    }
    free(w->t);
    free(w->kv.p);
    free(w);
}

static void kv_head(bone_gguf_w *w, const char *key, uint32_t type) {
    gb_str(&w->kv, key, strlen(key));
    gb_u32(&w->kv, type);
    w->n_kv++;
}
void bone_gguf_w_str(bone_gguf_w *w, const char *key, const char *v) {
    kv_head(w, key, GGUF_T_STRING);
    gb_str(&w->kv, v, strlen(v));
}
void bone_gguf_w_u32(bone_gguf_w *w, const char *key, uint32_t v) {
    kv_head(w, key, GGUF_T_U32);
    gb_u32(&w->kv, v);
}
void bone_gguf_w_i32(bone_gguf_w *w, const char *key, int32_t v) {
    kv_head(w, key, GGUF_T_I32);
    gb_u32(&w->kv, (uint32_t)v);
}
void bone_gguf_w_f32(bone_gguf_w *w, const char *key, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    kv_head(w, key, GGUF_T_F32);
    gb_u32(&w->kv, u);
}
void bone_gguf_w_bool(bone_gguf_w *w, const char *key, int v) {
    uint8_t b = v ? 1 : 0;
    kv_head(w, key, GGUF_T_BOOL);
    gb_add(&w->kv, &b, 1);
}
void bone_gguf_w_arr_str(bone_gguf_w *w, const char *key, const char *const *v, const uint32_t *len, uint64_t n) {
    kv_head(w, key, GGUF_T_ARRAY);
    gb_u32(&w->kv, GGUF_T_STRING);
    gb_u64(&w->kv, n);
    for (uint64_t i = 0; i < n; i++) gb_str(&w->kv, v[i], len ? len[i] : strlen(v[i]));
}
void bone_gguf_w_arr_f32(bone_gguf_w *w, const char *key, const float *v, uint64_t n) {
    kv_head(w, key, GGUF_T_ARRAY);
    gb_u32(&w->kv, GGUF_T_F32);
    gb_u64(&w->kv, n);
    for (uint64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        gb_u32(&w->kv, u);
    }
}
void bone_gguf_w_arr_i32(bone_gguf_w *w, const char *key, const int32_t *v, uint64_t n) {
    kv_head(w, key, GGUF_T_ARRAY);
    gb_u32(&w->kv, GGUF_T_I32);
    gb_u64(&w->kv, n);
    for (uint64_t i = 0; i < n; i++) gb_u32(&w->kv, (uint32_t)v[i]);
}

static uint64_t wt_numel(const bone_gguf_wt *t) {
    uint64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (uint64_t)t->ne[d];
    return n;
}
static uint64_t wt_bytes(const bone_gguf_wt *t) {
    uint64_t block = 1, bytes = 4;
    bone_gguf_type_info(t->type, &block, &bytes, NULL);
    return wt_numel(t) / block * bytes;
}
static uint64_t pad_to(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

int bone_gguf_w_tensor(bone_gguf_w *w, const bone_gguf_wt *t, bone_err *e) {
    if (strlen(t->name) > BONE_GGUF_MAX_NAME)
        return bone_fail(e, "GGUF tensor name \"%s\" is %zu bytes; llama.cpp accepts at most %d", t->name,
                         strlen(t->name), BONE_GGUF_MAX_NAME);
    if (t->ndim < 1 || t->ndim > BONE_GGUF_MAX_DIMS)
        return bone_fail(e, "GGUF tensor \"%s\": %d dimensions (1 to 4 allowed)", t->name, t->ndim);
    if (t->type != GGML_F32 && t->type != GGML_F16 && t->type != GGML_BF16 && t->type != GGML_Q8_0)
        return bone_fail(e, "GGUF tensor \"%s\": bone writes F32, F16, BF16 or Q8_0, not type %u", t->name, t->type);
    if (t->type == GGML_Q8_0 && t->ne[0] % 32)
        return bone_fail(e, "GGUF tensor \"%s\": Q8_0 needs rows of a multiple of 32 values, not %lld", t->name,
                         (long long)t->ne[0]);
    if (t->perm_heads > 0 && (t->ndim > 2 || (t->ndim == 2 ? t->ne[1] : t->ne[0]) % (2 * t->perm_heads)))
        return bone_fail(e, "GGUF tensor \"%s\": %lld rows cannot be permuted for %lld heads", t->name,
                         (long long)(t->ndim == 2 ? t->ne[1] : t->ne[0]), (long long)t->perm_heads);
    for (int64_t i = 0; i < w->nt; i++)
        if (!strcmp(w->t[i].name, t->name)) return bone_fail(e, "GGUF tensor \"%s\" added twice", t->name);
    if (w->nt == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        w->t = xrealloc(w->t, (size_t)w->cap * sizeof *w->t);
    }
    w->t[w->nt] = *t;
    w->t[w->nt].name = xstrdup(t->name);
    for (int d = t->ndim; d < BONE_GGUF_MAX_DIMS; d++) w->t[w->nt].ne[d] = 1;
    w->nt++;
    return 0;
}

/* the source row that output row r of a Q/K weight (or bias) takes, llama.cpp's permute */
static int64_t perm_row(int64_t r, int64_t rows, int64_t heads) {
    if (heads <= 0) return r;
    const int64_t hd = rows / heads, h = r / hd, k = r % hd, i = k / 2, j = k % 2;
    return h * hd + j * (hd / 2) + i;
}

static int write_tensor_data(bone_afile *a, const bone_gguf_wt *t, float *row, uint8_t *enc, bone_err *e) {
    const int64_t n0 = t->ne[0];
    const int64_t rows = (int64_t)(wt_numel(t) / (uint64_t)(n0 ? n0 : 1));
    const size_t es = bone_dtype_size(t->src_dtype);
    uint64_t block = 1, bytes = 4;
    bone_gguf_type_info(t->type, &block, &bytes, NULL);
    const size_t out_row = (size_t)((uint64_t)n0 / block * bytes);
    for (int64_t r = 0; r < rows && n0 > 0; r++) {
        const int64_t s = perm_row(r, rows, t->perm_heads);
        bone_to_f32(row, (const uint8_t *)t->src + (size_t)s * (size_t)n0 * es, t->src_dtype, (size_t)n0);
        if (t->type == GGML_F32) {
            memcpy(enc, row, (size_t)n0 * 4);
        } else if (t->type == GGML_Q8_0) {
            bone_q8_0_quantize(row, enc, n0);
        } else {
            for (int64_t k = 0; k < n0; k++) {
                uint16_t h = t->type == GGML_F16 ? bone_f32_to_f16(row[k]) : bone_gguf_f32_to_bf16(row[k]);
                enc[2 * k] = (uint8_t)h;
                enc[2 * k + 1] = (uint8_t)(h >> 8);
            }
        }
        if (bone_afile_write(a, enc, out_row, e)) return -1;
    }
    return 0;
}

int bone_gguf_w_write(bone_gguf_w *w, const char *path, bone_err *e) {
    gbuf h = {0};
    gb_u32(&h, BONE_GGUF_MAGIC);
    gb_u32(&h, BONE_GGUF_VERSION);
    gb_u64(&h, (uint64_t)w->nt);
    gb_u64(&h, w->n_kv);
    gb_add(&h, w->kv.p, w->kv.n);
    uint64_t off = 0;
    int64_t maxrow = 1;
    for (int64_t i = 0; i < w->nt; i++) {
        const bone_gguf_wt *t = &w->t[i];
        gb_str(&h, t->name, strlen(t->name));
        gb_u32(&h, (uint32_t)t->ndim);
        for (int d = 0; d < t->ndim; d++) gb_u64(&h, (uint64_t)t->ne[d]);
        gb_u32(&h, t->type);
        gb_u64(&h, off);
        off += pad_to(wt_bytes(t), BONE_GGUF_ALIGN);
        if (t->ne[0] > maxrow) maxrow = t->ne[0];
    }
    static const uint8_t zeros[BONE_GGUF_ALIGN];
    gb_add(&h, zeros, (size_t)(pad_to(h.n, BONE_GGUF_ALIGN) - h.n));
    float *row = xmalloc((size_t)maxrow * sizeof(float));
    uint8_t *enc = xmalloc((size_t)maxrow * 4);
    bone_afile a;
    int rc = -1;
    if (bone_afile_open(&a, path, e)) goto out;
    if (bone_afile_write(&a, h.p, h.n, e)) goto fail;
    for (int64_t i = 0; i < w->nt; i++) {
        uint64_t nb = wt_bytes(&w->t[i]);
        if (write_tensor_data(&a, &w->t[i], row, enc, e) ||
            bone_afile_write(&a, zeros, (size_t)(pad_to(nb, BONE_GGUF_ALIGN) - nb), e)) {
            bone_wrap(e, "writing tensor \"%s\"", w->t[i].name);
            goto fail;
        }
    }
    rc = bone_afile_commit(&a, e);
    goto out;
fail:
    bone_afile_abort(&a);
out:
    free(row);
    free(enc);
    free(h.p);
    return rc;
}

/* ---- reader ---- */
typedef struct {
    const uint8_t *b;
    uint64_t size, pos;
    const char *what;
    bone_err *e;
} cursor;

static int need(cursor *c, uint64_t n, const char *field) {
    if (n > c->size - c->pos)
        return bone_fail(c->e, "%s: %s at byte %llu needs %llu bytes but the file ends at %llu", c->what, field,
                         (unsigned long long)c->pos, (unsigned long long)n, (unsigned long long)c->size);
    return 0;
}
static uint64_t le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static int rd(cursor *c, int n, uint64_t *v, const char *field) {
    if (need(c, (uint64_t)n, field)) return -1;
    *v = le(c->b + c->pos, n);
    c->pos += (uint64_t)n;
    return 0;
}
/* a string: u64 length (at most BONE_GGUF_MAX_LEN) and the bytes, which must be in the file */
static int rd_str(cursor *c, const uint8_t **s, uint64_t *len, const char *field) {
    if (rd(c, 8, len, field)) return -1;
    if (*len > BONE_GGUF_MAX_LEN)
        return bone_fail(c->e, "%s: %s at byte %llu has length %llu; at most 2^30 accepted", c->what, field,
                         (unsigned long long)(c->pos - 8), (unsigned long long)*len);
    if (need(c, *len, field)) return -1;
    *s = c->b + c->pos;
    c->pos += *len;
    return 0;
}

/* a key or tensor name: ASCII without NUL (copied, NUL-terminated) */
static char *name_copy(cursor *c, const uint8_t *s, uint64_t n, const char *field) {
    for (uint64_t i = 0; i < n; i++)
        if (!s[i] || s[i] > 0x7e) {
            bone_fail(c->e, "%s: %s holds byte 0x%02x at position %llu; names must be printable ASCII", c->what, field,
                      s[i], (unsigned long long)i);
            return NULL;
        }
    char *r = xmalloc((size_t)n + 1);
    memcpy(r, s, (size_t)n);
    r[n] = 0;
    return r;
}

static int cmp_str_ptr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* the n names are distinct (checked on a sorted copy) */
static int check_unique(cursor *c, char **names, uint64_t n, const char *what_kind) {
    if (n < 2) return 0;
    char **s = xmalloc((size_t)n * sizeof *s);
    memcpy(s, names, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_str_ptr);
    int rc = 0;
    for (uint64_t i = 1; i < n && !rc; i++)
        if (!strcmp(s[i - 1], s[i])) rc = bone_fail(c->e, "%s: %s \"%s\" appears twice", c->what, what_kind, s[i]);
    free(s);
    return rc;
}

void bone_gguf_close(bone_gguf *g) {
    for (uint64_t i = 0; g->kv && i < g->n_kv; i++) free(g->kv[i].key);
    for (uint64_t i = 0; g->t && i < g->n_tensors; i++) free(g->t[i].name);
    free(g->kv);
    free(g->t);
    if (g->map) munmap(g->map, g->size);
    memset(g, 0, sizeof *g);
}

int bone_gguf_parse(bone_gguf *g, const char *what, const uint8_t *buf, size_t size, bone_err *e) {
    memset(g, 0, sizeof *g);
    cursor c = {buf, size, 0, what, e};
    uint64_t magic = 0, version = 0, nt = 0, nkv = 0;
    if (size < 24)
        return bone_fail(e, "%s: %zu bytes; a GGUF file starts with a 24-byte header (magic, version, counts)", what,
                         size);
    rd(&c, 4, &magic, "magic");
    if (magic != BONE_GGUF_MAGIC)
        return bone_fail(e, "%s: not a GGUF file (the first 4 bytes are not \"GGUF\")", what);
    rd(&c, 4, &version, "version");
    if (version != BONE_GGUF_VERSION)
        return bone_fail(e, "%s: GGUF version %llu; bone reads version 3 (llama.cpp writes 3 since 2023)", what,
                         (unsigned long long)version);
    rd(&c, 8, &nt, "tensor_count");
    rd(&c, 8, &nkv, "metadata_kv_count");
    /* each kv takes at least 8 (key length) + 4 (type) + 1 bytes, each tensor info at least
     * 8 + 4 + 8 + 4 + 8: counts the rest of the file cannot hold are refused before any allocation */
    if (nkv > (size - c.pos) / 13)
        return bone_fail(e, "%s: metadata_kv_count %llu cannot fit in the %zu-byte file", what,
                         (unsigned long long)nkv, size);
    if (nt > (size - c.pos) / 32)
        return bone_fail(e, "%s: tensor_count %llu cannot fit in the %zu-byte file", what, (unsigned long long)nt,
                         size);
    g->version = (uint32_t)version;
    g->alignment = BONE_GGUF_ALIGN;
    g->kv = xcalloc((size_t)nkv + 1, sizeof *g->kv);
    g->t = xcalloc((size_t)nt + 1, sizeof *g->t);
    int rc = -1;
    char **names = NULL;
    for (uint64_t i = 0; i < nkv; i++) {
        bone_gguf_kv *kv = &g->kv[i];
        const uint8_t *s;
        uint64_t len, type;
        char field[96];
        snprintf(field, sizeof field, "metadata key %llu", (unsigned long long)i);
        if (rd_str(&c, &s, &len, field)) goto out;
        if (len == 0 || len > 65535) {
            bone_fail(e, "%s: %s has length %llu (1 to 65535 bytes)", what, field, (unsigned long long)len);
            goto out;
        }
        if (!(kv->key = name_copy(&c, s, len, field))) goto out;
        g->n_kv = i + 1; /* owned keys so far, for close */
        snprintf(field, sizeof field, "value of \"%.60s\"", kv->key);
        if (rd(&c, 4, &type, field)) goto out;
        if (type >= GGUF_T_COUNT) {
            bone_fail(e, "%s: %s has unknown type %llu (0 to 12 exist)", what, field, (unsigned long long)type);
            goto out;
        }
        kv->type = (uint32_t)type;
        if (type == GGUF_T_STRING) {
            if (rd_str(&c, &kv->val, &kv->n, field)) goto out;
        } else if (type == GGUF_T_ARRAY) {
            uint64_t at, n;
            if (rd(&c, 4, &at, field) || rd(&c, 8, &n, field)) goto out;
            if (at >= GGUF_T_COUNT || at == GGUF_T_ARRAY) {
                bone_fail(e, "%s: %s is an array of %s; arrays of scalars or strings are supported", what, field,
                          at == GGUF_T_ARRAY ? "arrays" : "an unknown type");
                goto out;
            }
            if (n > BONE_GGUF_MAX_LEN) {
                bone_fail(e, "%s: %s is an array of %llu elements; at most 2^30 accepted", what, field,
                          (unsigned long long)n);
                goto out;
            }
            kv->arr_type = (uint32_t)at;
            kv->n = n;
            kv->val = buf + c.pos;
            if (at == GGUF_T_STRING) {
                for (uint64_t k = 0; k < n; k++) {
                    const uint8_t *x;
                    uint64_t xl;
                    if (rd_str(&c, &x, &xl, field)) goto out;
                }
            } else {
                if (need(&c, n * (uint64_t)kv_size[at], field)) goto out;
                if (at == GGUF_T_BOOL)
                    for (uint64_t k = 0; k < n; k++)
                        if (buf[c.pos + k] > 1) {
                            bone_fail(e, "%s: %s element %llu is a bool of value %u (0 or 1)", what, field,
                                      (unsigned long long)k, buf[c.pos + k]);
                            goto out;
                        }
                c.pos += n * (uint64_t)kv_size[at];
            }
        } else {
            if (need(&c, (uint64_t)kv_size[type], field)) goto out;
            kv->val = buf + c.pos;
            if (type == GGUF_T_BOOL && buf[c.pos] > 1) {
                bone_fail(e, "%s: %s is a bool of value %u (0 or 1)", what, field, buf[c.pos]);
                goto out;
            }
            c.pos += (uint64_t)kv_size[type];
        }
        if (!strcmp(kv->key, "general.alignment")) {
            if (type != GGUF_T_U32) {
                bone_fail(e, "%s: general.alignment has type %s; it must be u32", what, kv_names[type]);
                goto out;
            }
            uint32_t al = (uint32_t)le(kv->val, 4);
            if (al == 0 || (al & (al - 1))) {
                bone_fail(e, "%s: general.alignment = %u is not a power of two", what, al);
                goto out;
            }
            g->alignment = al;
        }
    }
    names = xmalloc(((size_t)(nkv > nt ? nkv : nt) + 1) * sizeof *names);
    for (uint64_t i = 0; i < nkv; i++) names[i] = g->kv[i].key;
    if (check_unique(&c, names, nkv, "metadata key")) goto out;
    uint64_t expect = 0;
    for (uint64_t i = 0; i < nt; i++) {
        bone_gguf_tensor *t = &g->t[i];
        const uint8_t *s;
        uint64_t len, nd, type, off;
        char field[128];
        snprintf(field, sizeof field, "tensor %llu's name", (unsigned long long)i);
        if (rd_str(&c, &s, &len, field)) goto out;
        if (len == 0 || len > BONE_GGUF_MAX_NAME) {
            bone_fail(e, "%s: %s has length %llu (1 to 63 bytes, as ggml)", what, field, (unsigned long long)len);
            goto out;
        }
        if (!(t->name = name_copy(&c, s, len, field))) goto out;
        g->n_tensors = i + 1;
        snprintf(field, sizeof field, "tensor \"%s\"", t->name);
        if (rd(&c, 4, &nd, field)) goto out;
        if (nd < 1 || nd > BONE_GGUF_MAX_DIMS) {
            bone_fail(e, "%s: %s has %llu dimensions (1 to 4)", what, field, (unsigned long long)nd);
            goto out;
        }
        t->ndim = (uint32_t)nd;
        uint64_t numel = 1;
        for (int d = 0; d < BONE_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint64_t d = 0; d < nd; d++) {
            uint64_t v;
            if (rd(&c, 8, &v, field)) goto out;
            if (v > (uint64_t)INT64_MAX || bone_mul_u64(numel, v, &numel) || numel > (uint64_t)INT64_MAX) {
                bone_fail(e, "%s: %s: element count overflows (dimension %llu is %llu)", what, field,
                          (unsigned long long)d, (unsigned long long)v);
                goto out;
            }
            t->ne[d] = (int64_t)v;
        }
        if (rd(&c, 4, &type, field) || rd(&c, 8, &off, field)) goto out;
        uint64_t block, bytes;
        const char *tn;
        if (!bone_gguf_type_info((uint32_t)type, &block, &bytes, &tn) || type > UINT32_MAX) {
            bone_fail(e, "%s: %s has ggml type %llu, which bone does not know (it knows F32, F16, BF16, Q4_0..Q8_1, "
                         "Q2_K..Q8_K and the integer types)", what, field, (unsigned long long)type);
            goto out;
        }
        t->type = (uint32_t)type;
        if ((uint64_t)t->ne[0] % block) {
            bone_fail(e, "%s: %s: ne[0] = %lld is not a multiple of %s's block of %llu", what, field,
                      (long long)t->ne[0], tn, (unsigned long long)block);
            goto out;
        }
        if (bone_mul_u64(numel / block, bytes, &t->nbytes)) {
            bone_fail(e, "%s: %s: byte size overflows", what, field);
            goto out;
        }
        if (off != expect) {
            bone_fail(e, "%s: %s has data offset %llu; expected %llu (tensors are stored in table order, each "
                         "padded to %u bytes)", what, field, (unsigned long long)off, (unsigned long long)expect,
                      g->alignment);
            goto out;
        }
        t->offset = off;
        uint64_t padded = t->nbytes + (g->alignment - t->nbytes % g->alignment) % g->alignment;
        if (padded < t->nbytes || bone_add_u64(expect, padded, &expect)) {
            bone_fail(e, "%s: %s: data offsets overflow", what, field);
            goto out;
        }
    }
    for (uint64_t i = 0; i < nt; i++) names[i] = g->t[i].name;
    if (check_unique(&c, names, nt, "tensor")) goto out;
    /* the data section starts at the next multiple of the alignment; the last tensor's padding
     * may be missing at the end of the file (nothing reads it), its data may not */
    uint64_t ds = c.pos + (g->alignment - c.pos % g->alignment) % g->alignment;
    uint64_t need_end = nt ? g->t[nt - 1].offset + g->t[nt - 1].nbytes : 0;
    if (ds > size || need_end > size - ds) {
        bone_fail(e, "%s: the tensor data needs %llu bytes from byte %llu but the file has %zu", what,
                  (unsigned long long)need_end, (unsigned long long)ds, size);
        goto out;
    }
    g->data_start = ds;
    for (uint64_t i = 0; i < nt; i++) g->t[i].data = buf + ds + g->t[i].offset;
    g->size = size;
    rc = 0;
out:
    free(names);
    if (rc) bone_gguf_close(g);
    return rc;
}

int bone_gguf_open(bone_gguf *g, const char *path, bone_err *e) {
    memset(g, 0, sizeof *g);
    void *map;
    size_t size;
    if (bone_map_regular(path, &map, &size, e)) return -1;
    if (bone_gguf_parse(g, path, map ? map : (const uint8_t *)"", size, e)) {
        if (map) munmap(map, size);
        return -1;
    }
    g->map = map;
    g->size = size;
    return 0;
}

const bone_gguf_kv *bone_gguf_find(const bone_gguf *g, const char *key) {
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (!strcmp(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const bone_gguf_tensor *bone_gguf_find_tensor(const bone_gguf *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->t[i].name, name)) return &g->t[i];
    return NULL;
}

static const bone_gguf_kv *typed(const bone_gguf *g, const char *key, uint32_t type, bone_err *e) {
    const bone_gguf_kv *kv = bone_gguf_find(g, key);
    if (!kv) {
        bone_fail(e, "GGUF: missing key %s", key);
        return NULL;
    }
    if (kv->type != type) {
        bone_fail(e, "GGUF: key %s has type %s, expected %s", key, kv_names[kv->type], kv_names[type]);
        return NULL;
    }
    return kv;
}

int bone_gguf_get_u32(const bone_gguf *g, const char *key, uint32_t *v, bone_err *e) {
    const bone_gguf_kv *kv = typed(g, key, GGUF_T_U32, e);
    if (!kv) return -1;
    *v = (uint32_t)le(kv->val, 4);
    return 0;
}

int bone_gguf_get_f32(const bone_gguf *g, const char *key, float *v, bone_err *e) {
    const bone_gguf_kv *kv = typed(g, key, GGUF_T_F32, e);
    if (!kv) return -1;
    uint32_t u = (uint32_t)le(kv->val, 4);
    memcpy(v, &u, 4);
    return 0;
}

char *bone_gguf_get_str(const bone_gguf *g, const char *key, bone_err *e) {
    const bone_gguf_kv *kv = typed(g, key, GGUF_T_STRING, e);
    if (!kv) return NULL;
    char *s = xmalloc((size_t)kv->n + 1);
    memcpy(s, kv->val, (size_t)kv->n);
    s[kv->n] = 0;
    return s;
}

int bone_gguf_arr_str(const bone_gguf_kv *kv, uint64_t i, const char **s, uint64_t *len) {
    if (kv->type != GGUF_T_ARRAY || kv->arr_type != GGUF_T_STRING || i >= kv->n) return -1;
    const uint8_t *p = kv->val; /* lengths were checked by the parser */
    for (uint64_t k = 0;; k++) {
        uint64_t n = le(p, 8);
        if (k == i) {
            *s = (const char *)p + 8;
            *len = n;
            return 0;
        }
        p += 8 + n;
    }
}

int bone_gguf_tensor_f32(const bone_gguf_tensor *t, float *out, bone_err *e) {
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->ndim; d++) n *= (uint64_t)t->ne[d];
    switch (t->type) {
    case GGML_F32: memcpy(out, t->data, (size_t)n * 4); return 0;
    case GGML_F16:
    case GGML_BF16:
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(t->data[2 * i] | t->data[2 * i + 1] << 8);
            out[i] = t->type == GGML_F16 ? bone_f16_to_f32(h) : bone_bf16_to_f32(h);
        }
        return 0;
    case GGML_Q8_0: bone_q8_0_dequantize(t->data, out, (int64_t)n); return 0;
    default: {
        const char *tn = "?";
        bone_gguf_type_info(t->type, NULL, NULL, &tn);
        return bone_fail(e, "GGUF tensor \"%s\": type %s cannot be read as floats by bone", t->name, tn);
    }
    }
}
