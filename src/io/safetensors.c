/* safetensors.c — strict reader (mmap + FORMATS.md §1.4 validation, sharded index) and
 * reference-layout writer (§1.5). See safetensors.h. */
#include "io/safetensors.h"
#include "core/hash.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/fs.h"
#include "io/json.h"

#define ST_MAX_HEADER 100000000ull

/* All dtype names with their size in bits (for validation of files we do not compute on). */
static const struct { const char *name; int bits; } st_dtypes[] = {
    {"BOOL", 8},     {"U8", 8},       {"I8", 8},          {"F8_E5M2", 8},     {"F8_E4M3", 8},
    {"F8_E8M0", 8},  {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8}, {"I16", 16},    {"U16", 16},
    {"F16", 16},     {"BF16", 16},    {"I32", 32},        {"U32", 32},        {"F32", 32},
    {"F64", 64},     {"I64", 64},     {"U64", 64},        {"C64", 64},        {"F4", 4},
    {"F6_E2M3", 6},  {"F6_E3M2", 6},
};

void bone_st_init(bone_st_set *s) { memset(s, 0, sizeof *s); }


static uint64_t name_hash(const char *name) { return bone_fnv1a64(BONE_FNV1A64_INIT, name, strlen(name)); }

/* puts tensor i into the name table (open addressing, linear probing) */
static void slot_put(bone_st_set *s, int64_t i) {
    uint64_t mask = (uint64_t)s->nslot - 1;
    for (uint64_t h = name_hash(s->t[i].name) & mask;; h = (h + 1) & mask)
        if (!s->slot[h]) {
            s->slot[h] = i + 1;
            return;
        }
}

/* rebuilds the table for the tensors 0..n-1, sized for at least `want` of them */
static void slot_rebuild(bone_st_set *s, int64_t want) {
    free(s->slot);
    s->slot = NULL;
    s->nslot = 0;
    if (want <= 0) return;
    int64_t ns = 64;
    while (ns < 2 * want) ns *= 2;
    s->slot = xcalloc((size_t)ns, sizeof *s->slot);
    s->nslot = ns;
    for (int64_t i = 0; i < s->n; i++) slot_put(s, i);
}

const bone_st_tensor *bone_st_find(const bone_st_set *s, const char *name) {
    if (!s->nslot) return NULL;
    uint64_t mask = (uint64_t)s->nslot - 1;
    for (uint64_t h = name_hash(name) & mask; s->slot[h]; h = (h + 1) & mask)
        if (!strcmp(s->t[s->slot[h] - 1].name, name)) return &s->t[s->slot[h] - 1];
    return NULL;
}

typedef struct { uint64_t begin, end; int64_t idx; } span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int get_u64(const cJSON *v, uint64_t *out) {
    int64_t i;
    if (!bone_json_is_int(v, &i) || i < 0) return -1;
    *out = (uint64_t)i;
    return 0;
}

static void capture_meta(const cJSON *m, char ***out, int *n) {
    *out = NULL;
    *n = 0;
    if (!m) return;
    int k = 0;
    for (const cJSON *it = m->child; it; it = it->next) k++;
    *out = xcalloc((size_t)(2 * k + 1), sizeof(char *));
    for (const cJSON *it = m->child; it; it = it->next) {
        (*out)[2 * *n] = xstrdup(it->string);
        (*out)[2 * *n + 1] = xstrdup(it->valuestring);
        (*n)++;
    }
}

static void free_meta(char **meta, int n) {
    for (int i = 0; i < 2 * n; i++) free(meta[i]);
    free(meta);
}

/* Drops the files from index nf on and the tensors from index nt on, so that a failed open
 * leaves the set as it was; frees the arrays when nothing is left in them. */
static void st_truncate(bone_st_set *s, int nf, int64_t nt) {
    for (int64_t i = nt; i < s->n; i++) free(s->t[i].name);
    if (nt < s->n) s->n = nt;
    for (int i = nf; i < s->nfiles; i++) {
        if (s->files[i].map) munmap(s->files[i].map, s->files[i].size);
        free(s->files[i].path);
        free_meta(s->files[i].meta, s->files[i].nmeta);
    }
    if (nf < s->nfiles) s->nfiles = nf;
    if (!s->n) {
        free(s->t);
        s->t = NULL;
        s->cap = 0;
    }
    slot_rebuild(s, s->n);
    if (!s->nfiles) {
        free(s->files);
        s->files = NULL;
    }
}

/* parses and keeps the metadata for the caller (NULL: discard) */
static int st_parse(bone_st_set *s, const char *what, const uint8_t *buf, size_t size, int file, char ***meta,
                    int *nmeta, bone_err *e);

int bone_st_parse(bone_st_set *s, const char *what, const uint8_t *buf, size_t size, int file, bone_err *e) {
    return st_parse(s, what, buf, size, file, NULL, NULL, e);
}

static int st_parse(bone_st_set *s, const char *what, const uint8_t *buf, size_t size, int file, char ***meta,
                    int *nmeta, bone_err *e) {
    if (size < 8) return bone_fail(e, "%s: not a safetensors file: %zu bytes, need at least 8", what, size);
    uint64_t N = 0;
    for (int i = 7; i >= 0; i--) N = (N << 8) | buf[i];
    if (N > ST_MAX_HEADER)
        return bone_fail(e, "%s: header length %llu exceeds the 100,000,000-byte limit", what, (unsigned long long)N);
    uint64_t data_start;
    if (bone_add_u64(8, N, &data_start) || data_start > size)
        return bone_fail(e, "%s: header length %llu runs past the end of the file (%zu bytes)", what,
                         (unsigned long long)N, size);
    const char *htext = (const char *)buf + 8;
    size_t hlen = (size_t)N;
    while (hlen > 0 && htext[hlen - 1] == ' ') hlen--; /* trailing padding */
    if (hlen == 0 || htext[0] != '{') return bone_fail(e, "%s: header is not a JSON object", what);
    bone_err je;
    cJSON *root = bone_json_parse(htext, hlen, what, &je);
    if (!root) return bone_fail(e, "%s: bad header: %s", what, je.msg);
    int rc = -1;
    span *spans = NULL;
    int64_t first = s->n;
    if (!cJSON_IsObject(root)) { bone_fail(e, "%s: header is not a JSON object", what); goto out; }
    if (bone_json_check_dups(root, what, e)) goto out;
    uint64_t data_size = size - data_start;
    int64_t count = 0;
    for (cJSON *it = root->child; it; it = it->next) count++;
    if (s->n + count > BONE_ST_MAX_TENSORS + 1) { /* +1: __metadata__ */
        bone_fail(e, "%s: the header lists %lld entries (%lld tensors already open); at most %d tensors are supported",
                  what, (long long)count, (long long)s->n, BONE_ST_MAX_TENSORS);
        goto out;
    }
    spans = xcalloc((size_t)count + 1, sizeof *spans);
    int64_t ns = 0;
    for (cJSON *it = root->child; it; it = it->next) {
        const char *name = it->string;
        if (!strcmp(name, "__metadata__")) {
            if (!cJSON_IsObject(it)) { bone_fail(e, "%s: __metadata__ must be an object", what); goto out; }
            for (cJSON *m = it->child; m; m = m->next)
                if (!cJSON_IsString(m)) {
                    bone_fail(e, "%s: __metadata__ value \"%s\" must be a string", what, m->string);
                    goto out;
                }
            if (meta) capture_meta(it, meta, nmeta);
            continue;
        }
        if (!cJSON_IsObject(it)) { bone_fail(e, "%s: tensor \"%s\": entry must be an object", what, name); goto out; }
        for (cJSON *k = it->child; k; k = k->next)
            if (strcmp(k->string, "dtype") && strcmp(k->string, "shape") && strcmp(k->string, "data_offsets")) {
                bone_fail(e, "%s: tensor \"%s\": unknown field \"%s\"", what, name, k->string);
                goto out;
            }
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
        const cJSON *of = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsString(dt)) { bone_fail(e, "%s: tensor \"%s\": missing or non-string \"dtype\"", what, name); goto out; }
        int bits = 0;
        for (size_t d = 0; d < sizeof st_dtypes / sizeof st_dtypes[0]; d++)
            if (!strcmp(st_dtypes[d].name, dt->valuestring)) bits = st_dtypes[d].bits;
        if (!bits) { bone_fail(e, "%s: tensor \"%s\": unknown dtype \"%s\"", what, name, dt->valuestring); goto out; }
        if (!cJSON_IsArray(sh)) { bone_fail(e, "%s: tensor \"%s\": \"shape\" must be an array", what, name); goto out; }
        int nd = cJSON_GetArraySize(sh);
        if (nd > BONE_ST_MAX_DIMS) {
            bone_fail(e, "%s: tensor \"%s\": %d dimensions, at most %d supported", what, name, nd, BONE_ST_MAX_DIMS);
            goto out;
        }
        bone_st_tensor t;
        memset(&t, 0, sizeof t);
        t.ndim = nd;
        uint64_t numel = 1;
        int d = 0;
        for (cJSON *x = sh->child; x; x = x->next, d++) {
            uint64_t v;
            if (get_u64(x, &v)) {
                bone_fail(e, "%s: tensor \"%s\": shape entries must be integers >= 0", what, name);
                goto out;
            }
            if (bone_mul_u64(numel, v, &numel) || numel > (uint64_t)INT64_MAX / 8) {
                bone_fail(e, "%s: tensor \"%s\": shape product overflows", what, name);
                goto out;
            }
            t.shape[d] = (int64_t)v;
        }
        if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2) {
            bone_fail(e, "%s: tensor \"%s\": \"data_offsets\" must be [begin, end]", what, name);
            goto out;
        }
        uint64_t b0, b1;
        if (get_u64(of->child, &b0) || get_u64(of->child->next, &b1)) {
            bone_fail(e, "%s: tensor \"%s\": data_offsets must be integers >= 0", what, name);
            goto out;
        }
        if (b0 > b1) { bone_fail(e, "%s: tensor \"%s\": data_offsets begin %llu > end %llu", what, name,
                                 (unsigned long long)b0, (unsigned long long)b1); goto out; }
        uint64_t nbits;
        if (bone_mul_u64(numel, (uint64_t)bits, &nbits)) {
            bone_fail(e, "%s: tensor \"%s\": shape product overflows (%llu elements of %s is more than 2^64 bits)", what,
                      name, (unsigned long long)numel, dt->valuestring);
            goto out;
        }
        if (nbits % 8) {
            bone_fail(e, "%s: tensor \"%s\": %llu elements of %s is not a whole number of bytes", what, name,
                      (unsigned long long)numel, dt->valuestring);
            goto out;
        }
        if (b1 - b0 != nbits / 8) {
            bone_fail(e, "%s: tensor \"%s\": dtype %s × shape needs %llu bytes but data_offsets span %llu", what,
                      name, dt->valuestring, (unsigned long long)(nbits / 8), (unsigned long long)(b1 - b0));
            goto out;
        }
        if (b1 > data_size) {
            bone_fail(e, "%s: tensor \"%s\": data_offsets end %llu is past the data area (%llu bytes)", what, name,
                      (unsigned long long)b1, (unsigned long long)data_size);
            goto out;
        }
        if (bone_st_find(s, name)) {
            bone_fail(e, "%s: tensor \"%s\" appears twice", what, name);
            goto out;
        }
        t.name = xstrdup(name);
        snprintf(t.dtype_name, sizeof t.dtype_name, "%s", dt->valuestring);
        t.supported = bone_dtype_parse(dt->valuestring, &t.dtype) == 0;
        t.numel = (int64_t)numel;
        t.data = buf + data_start + b0;
        t.nbytes = b1 - b0;
        t.file = file;
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 64;
            s->t = xrealloc(s->t, (size_t)s->cap * sizeof *s->t);
        }
        s->t[s->n] = t;
        if (2 * (s->n + 1) > s->nslot) slot_rebuild(s, 2 * (s->n + 1));
        slot_put(s, s->n);
        spans[ns].begin = b0;
        spans[ns].end = b1;
        spans[ns].idx = s->n;
        ns++;
        s->n++;
    }
    /* the offsets must tile the data area exactly: no gaps, no overlaps, no trailing bytes */
    qsort(spans, (size_t)ns, sizeof *spans, span_cmp);
    uint64_t pos = 0;
    for (int64_t i = 0; i < ns; i++) {
        if (spans[i].begin != pos) {
            bone_fail(e, "%s: tensor \"%s\" starts at data offset %llu but the previous tensor ends at %llu (%s)",
                      what, s->t[spans[i].idx].name, (unsigned long long)spans[i].begin, (unsigned long long)pos,
                      spans[i].begin > pos ? "a gap" : "overlapping tensors");
            goto out;
        }
        pos = spans[i].end;
    }
    if (pos != data_size) {
        bone_fail(e, "%s: tensors cover %llu bytes of a %llu-byte data area (trailing bytes)", what,
                  (unsigned long long)pos, (unsigned long long)data_size);
        goto out;
    }
    rc = 0;
out:
    if (rc && meta && *meta) {
        free_meta(*meta, *nmeta);
        *meta = NULL;
        *nmeta = 0;
    }
    if (rc) st_truncate(s, s->nfiles, first); /* drop what this file added */
    free(spans);
    cJSON_Delete(root);
    return rc;
}

int bone_st_open_file(bone_st_set *s, const char *path, bone_err *e) {
    void *map;
    size_t size;
    if (bone_map_regular(path, &map, &size, e)) return -1;
    int idx = s->nfiles;
    char **meta = NULL;
    int nmeta = 0;
    if (st_parse(s, path, map ? map : (const uint8_t *)"", size, idx, &meta, &nmeta, e)) {
        if (map) munmap(map, size);
        return -1;
    }
    s->files = xrealloc(s->files, (size_t)(s->nfiles + 1) * sizeof *s->files);
    s->files[idx].path = xstrdup(path);
    s->files[idx].map = map;
    s->files[idx].size = size;
    s->files[idx].meta = meta;
    s->files[idx].nmeta = nmeta;
    s->nfiles++;
    return 0;
}

int bone_st_open_dir(bone_st_set *s, const char *dir, bone_err *e) {
    char *single = bone_path_join(dir, "model.safetensors");
    char *index = bone_path_join(dir, "model.safetensors.index.json");
    const int nf0 = s->nfiles;
    const int64_t nt0 = s->n;
    int rc = -1;
    cJSON *root = NULL;
    /* anything named model.safetensors (a directory, a FIFO, a broken symlink) is opened, so
     * that the message says what is wrong with it instead of "no model.safetensors" */
    if (bone_path_present(single)) {
        rc = bone_st_open_file(s, single, e);
        goto out;
    }
    if (!bone_path_present(index)) {
        bone_fail(e, "%s: no model.safetensors or model.safetensors.index.json in this directory", dir);
        goto out;
    }
    root = bone_json_load_object(index, e);
    if (!root) goto out;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!wm) { bone_fail(e, "%s: missing object \"weight_map\"", index); goto out; }
    if (!cJSON_IsObject(wm)) {
        bone_fail(e, "%s: \"weight_map\" must be an object {\"tensor name\": \"shard file\", ...}", index);
        goto out;
    }
    if (!wm->child) { bone_fail(e, "%s: \"weight_map\" is empty (it names no tensors and no shards)", index); goto out; }
    if (bone_json_check_dups(wm, index, e)) goto out;
    /* open each distinct shard once, in order of first appearance */
    for (const cJSON *it = wm->child; it; it = it->next) {
        if (!cJSON_IsString(it)) { bone_fail(e, "%s: weight_map[\"%s\"] must be a file name", index, it->string); goto out; }
        const char *f = it->valuestring;
        if (strchr(f, '/') || !strcmp(f, "..") || !*f) {
            bone_fail(e, "%s: weight_map[\"%s\"] = \"%s\" is not a plain file name", index, it->string, f);
            goto out;
        }
        char *p = bone_path_join(dir, f);
        int seen = 0;
        for (int i = nf0; i < s->nfiles; i++) if (!strcmp(s->files[i].path, p)) seen = 1;
        int bad = !seen && bone_st_open_file(s, p, e);
        free(p);
        if (bad) goto out;
    }
    for (const cJSON *it = wm->child; it; it = it->next) {
        const bone_st_tensor *t = bone_st_find(s, it->string);
        if (!t) { bone_fail(e, "%s: tensor \"%s\" is listed in weight_map but not in %s", index, it->string, it->valuestring); goto out; }
        const char *fp = s->files[t->file].path;
        const char *base = strrchr(fp, '/');
        base = base ? base + 1 : fp;
        if (strcmp(base, it->valuestring)) {
            bone_fail(e, "%s: tensor \"%s\" is in %s, not in %s as weight_map says", index, it->string, base, it->valuestring);
            goto out;
        }
    }
    rc = 0;
out:
    if (rc) st_truncate(s, nf0, nt0); /* shards opened before the failure */
    cJSON_Delete(root);
    free(single);
    free(index);
    return rc;
}

int bone_st_check_aligned(const bone_st_set *s, const bone_st_tensor *t, bone_err *e) {
    size_t es = bone_dtype_size(t->dtype);
    if (!t->supported || !t->nbytes || (uintptr_t)t->data % es == 0) return 0;
    const char *fp = t->file < s->nfiles ? s->files[t->file].path : "safetensors";
    const uint8_t *base = t->file < s->nfiles ? s->files[t->file].map : NULL;
    return bone_fail(e, "%s: tensor \"%s\" starts at byte %llu of the file, not a multiple of its %zu-byte elements; "
                        "bone reads tensors in place and needs them aligned (re-save the file with safetensors, which "
                        "pads the header)", fp, t->name,
                     base ? (unsigned long long)((const uint8_t *)t->data - base) : 0ull, es);
}

const bone_st_tensor *bone_st_get(const bone_st_set *s, const char *name, int ndim, const int64_t *shape,
                                  bone_err *e) {
    const bone_st_tensor *t = bone_st_find(s, name);
    const char *fp = s->nfiles ? s->files[0].path : "safetensors";
    if (!t) { bone_fail(e, "%s: missing tensor \"%s\"", fp, name); return NULL; }
    fp = s->files[t->file].path;
    if (!t->supported) {
        bone_fail(e, "%s: tensor \"%s\" has dtype %s; supported: F32, BF16, F16", fp, name, t->dtype_name);
        return NULL;
    }
    if (bone_st_check_aligned(s, t, e)) return NULL;
    int ok = t->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = t->shape[d] == shape[d];
    if (!ok) {
        char want[128] = "", got[128] = "";
        for (int d = 0; d < ndim; d++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? ", " : "", (long long)shape[d]);
        for (int d = 0; d < t->ndim; d++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        bone_fail(e, "%s: tensor \"%s\" has shape [%s], expected [%s] from config.json", fp, name, got, want);
        return NULL;
    }
    return t;
}

void bone_st_close(bone_st_set *s) {
    for (int64_t i = 0; i < s->n; i++) free(s->t[i].name);
    free(s->t);
    free(s->slot);
    for (int i = 0; i < s->nfiles; i++) {
        if (s->files[i].map) munmap(s->files[i].map, s->files[i].size);
        free(s->files[i].path);
        free_meta(s->files[i].meta, s->files[i].nmeta);
    }
    free(s->files);
    memset(s, 0, sizeof *s);
}

const char *bone_st_meta(const bone_st_set *s, int file, const char *key) {
    if (file < 0 || file >= s->nfiles) return NULL;
    const bone_st_file *f = &s->files[file];
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta[2 * i], key)) return f->meta[2 * i + 1];
    return NULL;
}

uint64_t bone_st_data_hash(const bone_st_set *s, int file) {
    const bone_st_file *f = &s->files[file];
    const uint8_t *b = f->map;
    uint64_t N = 0;
    for (int i = 7; i >= 0; i--) N = (N << 8) | b[i];
    return bone_fnv1a64(BONE_FNV1A64_INIT, b + 8 + N, f->size - 8 - (size_t)N);
}

/* ---- writer ---- */

static int dtype_rank(bone_dtype t) { /* position in the reference descending order */
    return t == BONE_F32 ? 0 : t == BONE_BF16 ? 1 : 2;
}

typedef struct { const bone_st_wtensor *t; uint64_t nbytes; } wrow;

static int wrow_cmp(const void *a, const void *b) {
    const wrow *x = a, *y = b;
    int rx = dtype_rank(x->t->dtype), ry = dtype_rank(y->t->dtype);
    if (rx != ry) return rx - ry;
    return strcmp(x->t->name, y->t->name);
}

static void json_escape(char **buf, size_t *len, size_t *cap, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char tmp[8];
        const char *add = tmp;
        if (c == '"') add = "\\\"";
        else if (c == '\\') add = "\\\\";
        else if (c < 0x20) snprintf(tmp, sizeof tmp, "\\u%04x", c);
        else { tmp[0] = (char)c; tmp[1] = 0; }
        size_t n = strlen(add);
        while (*len + n + 1 > *cap) { *cap *= 2; *buf = xrealloc(*buf, *cap); }
        memcpy(*buf + *len, add, n);
        *len += n;
        (*buf)[*len] = 0;
    }
}

static void appendf(char **buf, size_t *len, size_t *cap, const char *s) {
    size_t n = strlen(s);
    while (*len + n + 1 > *cap) { *cap *= 2; *buf = xrealloc(*buf, *cap); }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

int bone_st_write(const char *path, const bone_st_wtensor *t, int64_t n, bone_err *e) {
    return bone_st_write_meta(path, t, n, NULL, NULL, e);
}

/* Streams the data area: either to the file, or (a == NULL) only into the hash. Produced
 * tensors are made in *pbuf (grown to the largest, *pcap floats; the caller frees it). */
static int write_data(bone_afile *a, const wrow *rows, int64_t n, uint64_t *hash, float **pbuf, size_t *pcap,
                      bone_err *e) {
    uint64_t h = BONE_FNV1A64_INIT;
    for (int64_t i = 0; i < n; i++) {
        const bone_st_wtensor *w = rows[i].t;
        const float *f32 = w->src_f32;
        if (w->produce) {
            const size_t numel = (size_t)(rows[i].nbytes / bone_dtype_size(w->dtype));
            if (numel > *pcap) {
                free(*pbuf);
                *pbuf = xmalloc((numel ? numel : 1) * sizeof(float));
                *pcap = numel;
            }
            if (w->produce(w->ctx, w, *pbuf, e)) return -1;
            f32 = *pbuf;
        }
        if (!f32 || w->dtype == BONE_F32) {
            const void *src = f32 ? (const void *)f32 : w->data;
            h = bone_fnv1a64(h, src, rows[i].nbytes);
            if (a && bone_afile_write(a, src, rows[i].nbytes, e)) return -1;
            continue;
        }
        /* convert in chunks so a large tensor needs no second full-size buffer */
        uint64_t numel = rows[i].nbytes / 2;
        uint16_t chunk[8192];
        for (uint64_t k = 0; k < numel; k += 8192) {
            uint64_t m = numel - k < 8192 ? numel - k : 8192;
            bone_from_f32(chunk, f32 + k, w->dtype, m);
            h = bone_fnv1a64(h, chunk, m * 2);
            if (a && bone_afile_write(a, chunk, m * 2, e)) return -1;
        }
    }
    if (hash) *hash = h;
    return 0;
}

int bone_st_write_meta(const char *path, const bone_st_wtensor *t, int64_t n, const char *const *meta,
                       const char *hash_key, bone_err *e) {
    wrow *rows = xcalloc((size_t)n + 1, sizeof *rows);
    float *pbuf = NULL; /* lent to produce callbacks */
    size_t pcap = 0;
    int rc = -1;
    for (int64_t i = 0; i < n; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (uint64_t)t[i].shape[d];
        rows[i].t = &t[i];
        rows[i].nbytes = numel * bone_dtype_size(t[i].dtype);
    }
    qsort(rows, (size_t)n, sizeof *rows, wrow_cmp);
    size_t cap = 1024, len = 0;
    char *h = xmalloc(cap);
    h[0] = 0;
    appendf(&h, &len, &cap, "{\"__metadata__\":{\"format\":\"pt\"");
    for (int i = 0; meta && meta[i] && meta[i + 1]; i += 2) {
        appendf(&h, &len, &cap, ",\"");
        json_escape(&h, &len, &cap, meta[i]);
        appendf(&h, &len, &cap, "\":\"");
        json_escape(&h, &len, &cap, meta[i + 1]);
        appendf(&h, &len, &cap, "\"");
    }
    if (hash_key) {
        uint64_t hv = 0;
        /* first pass: hash only (a produced tensor is made twice) */
        if (write_data(NULL, rows, n, &hv, &pbuf, &pcap, e)) goto out;
        char tmp[64];
        snprintf(tmp, sizeof tmp, "\":\"%016llx\"", (unsigned long long)hv);
        appendf(&h, &len, &cap, ",\"");
        json_escape(&h, &len, &cap, hash_key);
        appendf(&h, &len, &cap, tmp);
    }
    appendf(&h, &len, &cap, "}");
    uint64_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        char tmp[256];
        appendf(&h, &len, &cap, ",\"");
        json_escape(&h, &len, &cap, rows[i].t->name);
        snprintf(tmp, sizeof tmp, "\":{\"dtype\":\"%s\",\"shape\":[", bone_dtype_name(rows[i].t->dtype));
        appendf(&h, &len, &cap, tmp);
        for (int d = 0; d < rows[i].t->ndim; d++) {
            snprintf(tmp, sizeof tmp, "%s%lld", d ? "," : "", (long long)rows[i].t->shape[d]);
            appendf(&h, &len, &cap, tmp);
        }
        snprintf(tmp, sizeof tmp, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + rows[i].nbytes));
        appendf(&h, &len, &cap, tmp);
        off += rows[i].nbytes;
    }
    appendf(&h, &len, &cap, "}");
    while (len % 8) appendf(&h, &len, &cap, " ");
    uint8_t hdr[8];
    for (int i = 0; i < 8; i++) hdr[i] = (uint8_t)((uint64_t)len >> (8 * i));
    bone_afile a;
    if (bone_afile_open(&a, path, e)) goto out;
    if (bone_afile_write(&a, hdr, 8, e) || bone_afile_write(&a, h, len, e)) goto fail;
    if (write_data(&a, rows, n, NULL, &pbuf, &pcap, e)) goto fail;
    rc = bone_afile_commit(&a, e);
    goto out;
fail:
    bone_afile_abort(&a);
out:
    free(pbuf);
    free(h);
    free(rows);
    return rc;
}

/* ---- sharded directories (FORMATS.md §1.6) ---- */

int bone_st_parse_size(const char *s, const char *what, uint64_t *out, bone_err *e) {
    static const struct { const char *unit; uint64_t mul; } units[] = {
        {"KIB", 1ull << 10}, {"MIB", 1ull << 20}, {"GIB", 1ull << 30}, {"TIB", 1ull << 40},
        {"KB", 1000ull}, {"MB", 1000000ull}, {"GB", 1000000000ull}, {"TB", 1000000000000ull}, {"B", 1ull},
    };
    const char *p = s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9') goto bad;
    for (; *p >= '0' && *p <= '9'; p++)
        if (bone_mul_u64(v, 10, &v) || bone_add_u64(v, (uint64_t)(*p - '0'), &v)) goto bad;
    uint64_t mul = 1;
    if (*p) {
        size_t k = strlen(p);
        if (p[k - 1] == 'b')
            return bone_fail(e, "%s \"%s\": a lowercase final \"b\" means bits to transformers; write the unit "
                                "with \"B\" (e.g. 5GB, 500MiB)", what, s);
        int found = 0;
        for (size_t u = 0; u < sizeof units / sizeof units[0] && !found; u++)
            if (strlen(units[u].unit) == k && !strncasecmp(p, units[u].unit, k)) mul = units[u].mul, found = 1;
        if (!found) goto bad;
    }
    if (bone_mul_u64(v, mul, &v) || v == 0) goto bad;
    *out = v;
    return 0;
bad:
    return bone_fail(e, "%s \"%s\": expected a whole number of bytes > 0, optionally with a unit KB, MB, GB "
                        "(10^3, 10^6, 10^9) or KiB, MiB, GiB (2^10, 2^20, 2^30), e.g. 5GB", what, s);
}

static uint64_t wt_bytes(const bone_st_wtensor *t) {
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) numel *= (uint64_t)t->shape[d];
    return numel * bone_dtype_size(t->dtype);
}

static int name_cmp(const void *a, const void *b) {
    const bone_st_wtensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

int bone_st_write_sharded(const char *dir, const bone_st_wtensor *t, int64_t n, uint64_t max_shard, int *nshards,
                          bone_err *e) {
    if (!max_shard) max_shard = BONE_ST_SHARD_DEFAULT;
    /* shard of each tensor, assigned as transformers (huggingface_hub's split_state_dict_into_
     * shards) does: walk the state dict in order, open a new shard when the next tensor would
     * overflow the current one, and put a tensor larger than the limit in a shard of its own,
     * numbered when it is met (before the shard being filled) */
    int64_t *shard = xcalloc((size_t)n + 1, sizeof *shard);
    int64_t ns = 0, open_from = -1; /* first tensor of the shard being filled, -1: none */
    uint64_t cur_size = 0, total = 0, params = 0;
    for (int64_t i = 0; i <= n; i++) {
        const uint64_t b = i < n ? wt_bytes(&t[i]) : 0;
        /* a shard is numbered when it is closed (appended to the list), as huggingface_hub
         * does: an oversized tensor met while a shard is being filled comes before it */
        if (open_from >= 0 && (i == n || (b <= max_shard && cur_size + b > max_shard))) {
            for (int64_t k = open_from; k < i; k++)
                if (shard[k] < 0) shard[k] = ns;
            ns++;
            open_from = -1;
            cur_size = 0;
        }
        if (i == n) break;
        total += b;
        params += b / bone_dtype_size(t[i].dtype);
        if (b > max_shard) {
            shard[i] = ns++;
            continue;
        }
        if (open_from < 0) open_from = i;
        shard[i] = -1;
        cur_size += b;
    }
    int rc = -1;
    char fname[64];
    const bone_st_wtensor **sorted = NULL;
    bone_st_wtensor *part = xcalloc((size_t)n + 1, sizeof *part);
    if (ns <= 1) {
        char *p = bone_path_join(dir, "model.safetensors");
        rc = bone_st_write(p, t, n, e);
        free(p);
        if (nshards) *nshards = 1;
        goto out;
    }
    if (ns > 99999) {
        bone_fail(e, "%s: %lld shards would be needed; at most 99999 fit transformers' 5-digit names (raise "
                     "--max-shard-size)", dir, (long long)ns);
        goto out;
    }
    for (int64_t s = 0; s < ns; s++) {
        int64_t k = 0;
        for (int64_t i = 0; i < n; i++)
            if (shard[i] == s) part[k++] = t[i];
        snprintf(fname, sizeof fname, "model-%05lld-of-%05lld.safetensors", (long long)s + 1, (long long)ns);
        char *p = bone_path_join(dir, fname);
        int r = bone_st_write(p, part, k, e);
        free(p);
        if (r) goto out;
    }
    /* the index, as json.dumps(index, indent=2, sort_keys=True) + "\n" */
    sorted = xcalloc((size_t)n + 1, sizeof *sorted);
    for (int64_t i = 0; i < n; i++) sorted[i] = &t[i];
    qsort(sorted, (size_t)n, sizeof *sorted, name_cmp);
    size_t cap = 4096, len = 0;
    char *j = xmalloc(cap), tmp[160];
    j[0] = 0;
    snprintf(tmp, sizeof tmp, "{\n  \"metadata\": {\n    \"total_parameters\": %llu,\n    \"total_size\": %llu\n  },\n"
                              "  \"weight_map\": {\n", (unsigned long long)params, (unsigned long long)total);
    appendf(&j, &len, &cap, tmp);
    for (int64_t i = 0; i < n; i++) {
        appendf(&j, &len, &cap, "    \"");
        json_escape(&j, &len, &cap, sorted[i]->name);
        const int64_t s = shard[sorted[i] - t];
        snprintf(tmp, sizeof tmp, "\": \"model-%05lld-of-%05lld.safetensors\"%s\n", (long long)s + 1, (long long)ns,
                 i + 1 < n ? "," : "");
        appendf(&j, &len, &cap, tmp);
    }
    appendf(&j, &len, &cap, "  }\n}\n");
    char *p = bone_path_join(dir, "model.safetensors.index.json");
    rc = bone_write_file_atomic(p, j, len, e);
    free(p);
    free(j);
    if (nshards) *nshards = (int)ns;
out:
    free(sorted);
    free(part);
    free(shard);
    return rc;
}
