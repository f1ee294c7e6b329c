/* llama2c.c — llama2.c legacy / v1 checkpoints and tokenizer.bin → HF model directory
 * (see llama2c.h; the format facts are FORMATS.md §3). */
#include "io/llama2c.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/fs.h"
#include "core/utf8.h"
#include "io/safetensors.h"
#include "model/config.h"

#define L2C_MAGIC 0x616b3432u /* "ak42" */

static int32_t rd_i32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* n · a · b ... with overflow checks, accumulated into *acc */
static int acc_prod(uint64_t *acc, int64_t a, int64_t b, int64_t c) {
    uint64_t t;
    if (bone_mul_u64((uint64_t)a, (uint64_t)b, &t) || bone_mul_u64(t, (uint64_t)c, &t)) return -1;
    return bone_add_u64(*acc, t, acc);
}

int bone_l2c_parse_header(const uint8_t *buf, uint64_t size, const char *what, bone_l2c_header *h, bone_err *e) {
    memset(h, 0, sizeof *h);
    if (size < 28) return bone_fail(e, "%s: %llu bytes, too short for a llama2.c header (28 bytes)", what, (unsigned long long)size);
    const uint8_t *p = buf;
    uint32_t magic;
    memcpy(&magic, buf, 4);
    if (magic == L2C_MAGIC) {
        if (size < 256) return bone_fail(e, "%s: version header (magic \"ak42\") needs 256 bytes, the file has %llu", what, (unsigned long long)size);
        int32_t ver = rd_i32(buf + 4);
        if (ver == 2)
            return bone_fail(e, "%s: llama2.c version 2 (int8 Q8_0) checkpoints are not supported; export a legacy "
                                "or version 1 (fp32) file", what);
        if (ver != 1) return bone_fail(e, "%s: unknown llama2.c version %d after the \"ak42\" magic (supported: 1)", what, ver);
        h->version = 1;
        h->header_bytes = 256;
        p = buf + 8;
    } else {
        h->version = 0;
        h->header_bytes = 28;
    }
    static const char *const names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
    int64_t v[7];
    for (int i = 0; i < 7; i++) v[i] = rd_i32(p + 4 * i);
    for (int i = 0; i < 7; i++)
        if (i != 5 && v[i] <= 0)
            return bone_fail(e, "%s: header field %s = %lld must be positive (is this a llama2.c checkpoint?)", what, names[i],
                             (long long)v[i]);
    if (v[5] == 0 || v[5] == INT32_MIN) return bone_fail(e, "%s: header field vocab_size = %lld is invalid", what, (long long)v[5]);
    h->dim = v[0];
    h->hidden = v[1];
    h->n_layers = v[2];
    h->n_heads = v[3];
    h->n_kv = v[4];
    h->seq_len = v[6];
    if (h->version == 0) {
        /* legacy: the sign of vocab_size says whether wcls is stored */
        h->shared = v[5] > 0;
        h->vocab = v[5] > 0 ? v[5] : -v[5];
    } else {
        if (v[5] < 0) return bone_fail(e, "%s: version 1 header has a negative vocab_size %lld", what, (long long)v[5]);
        h->vocab = v[5];
        uint8_t flag = buf[8 + 28];
        if (flag > 1) return bone_fail(e, "%s: version 1 shared_classifier flag is %u (expected 0 or 1)", what, flag);
        h->shared = flag;
    }
    if (h->dim % h->n_heads)
        return bone_fail(e, "%s: dim %lld is not a multiple of n_heads %lld", what, (long long)h->dim, (long long)h->n_heads);
    if (h->n_heads % h->n_kv)
        return bone_fail(e, "%s: n_heads %lld is not a multiple of n_kv_heads %lld", what, (long long)h->n_heads,
                         (long long)h->n_kv);
    h->head_dim = h->dim / h->n_heads;
    if (h->head_dim % 2) return bone_fail(e, "%s: head size %lld is odd; RoPE needs an even head size", what, (long long)h->head_dim);
    int64_t D = h->dim, F = h->hidden, L = h->n_layers, V = h->vocab, kvd = h->n_kv * h->head_dim;
    uint64_t n = 0;
    int bad = acc_prod(&n, V, D, 1)                      /* embedding */
              || acc_prod(&n, L, D, 2)                   /* attention + ffn norms */
              || acc_prod(&n, L, D, D) || acc_prod(&n, L, kvd, D) || acc_prod(&n, L, kvd, D) || acc_prod(&n, L, D, D)
              || acc_prod(&n, L, F, D) || acc_prod(&n, L, D, F) || acc_prod(&n, L, F, D) /* w1 w2 w3 */
              || acc_prod(&n, D, 1, 1)                   /* final norm */
              || (h->version == 0 && acc_prod(&n, h->seq_len, h->head_dim / 2, 2)) /* freq_cis real + imag */
              || (!h->shared && acc_prod(&n, V, D, 1));  /* wcls */
    uint64_t bytes;
    if (bad || bone_mul_u64(n, 4, &bytes) || bone_add_u64(bytes, h->header_bytes, &bytes))
        return bone_fail(e, "%s: the header's shapes overflow 64-bit sizes", what);
    h->n_floats = n;
    h->expected_size = bytes;
    if (size != bytes)
        return bone_fail(e,
                         "%s: file is %llu bytes but a %s checkpoint with dim %lld, hidden_dim %lld, %lld layers, "
                         "%lld/%lld heads, vocab %lld (%s classifier), seq_len %lld must be exactly %llu bytes",
                         what, (unsigned long long)size, h->version ? "version 1" : "legacy", (long long)D, (long long)F,
                         (long long)L, (long long)h->n_heads, (long long)h->n_kv, (long long)V,
                         h->shared ? "shared" : "separate", (long long)h->seq_len, (unsigned long long)bytes);
    return 0;
}

void bone_rope_rows_meta_to_hf(float *dst, const float *src, int64_t nheads, int64_t d, int64_t cols) {
    for (int64_t h = 0; h < nheads; h++)
        for (int64_t i = 0; i < d / 2; i++)
            for (int64_t j = 0; j < 2; j++)
                memcpy(dst + (h * d + j * (d / 2) + i) * cols, src + (h * d + 2 * i + j) * cols,
                       (size_t)cols * sizeof(float));
}

/* ---- model ------------------------------------------------------------------------------ */

typedef struct {
    bone_st_wtensor *w;
    char **names;
    int64_t n, cap;
} wlist;

static void wl_add(wlist *l, const char *name, bone_dtype dt, const float *src, int64_t d0, int64_t d1) {
    BONE_ASSERT(l->n < l->cap, "tensor list capacity");
    l->names[l->n] = xstrdup(name);
    bone_st_wtensor *t = &l->w[l->n++];
    t->name = l->names[l->n - 1];
    t->dtype = dt;
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->src_f32 = src;
}

int bone_l2c_convert_model(const char *bin_path, const char *out_dir, bone_dtype dtype, bone_l2c_header *hout,
                           bone_err *e) {
    int fd = open(bin_path, O_RDONLY);
    if (fd < 0) return bone_fail(e, "%s: cannot open: %s", bin_path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return bone_fail(e, "%s: not a regular file", bin_path);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0) {
        close(fd);
        return bone_fail(e, "%s: empty file", bin_path);
    }
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return bone_fail(e, "%s: mmap failed: %s", bin_path, strerror(errno));
    bone_l2c_header h;
    if (bone_l2c_parse_header(map, size, bin_path, &h, e)) {
        munmap(map, (size_t)size);
        return -1;
    }
    if (hout) *hout = h;
    const float *f = (const float *)((const uint8_t *)map + h.header_bytes);
    int64_t D = h.dim, F = h.hidden, L = h.n_layers, V = h.vocab, hd = h.head_dim, kvd = h.n_kv * hd;
    /* offsets (in floats) of each array, in the file's order */
    const float *emb, *att, *wq, *wk, *wv, *wo, *ffn, *w1, *w2, *w3, *fin, *cls;
    const float *p = f;
    if (h.version == 0) {
        emb = p; p += V * D;
        att = p; p += L * D;
        wq = p; p += L * D * D;
        wk = p; p += L * kvd * D;
        wv = p; p += L * kvd * D;
        wo = p; p += L * D * D;
        ffn = p; p += L * D;
        w1 = p; p += L * F * D;
        w2 = p; p += L * D * F;
        w3 = p; p += L * F * D;
        fin = p; p += D;
        p += h.seq_len * (hd / 2) * 2; /* freq_cis: recomputed by the engine */
    } else {
        att = p; p += L * D;
        ffn = p; p += L * D;
        fin = p; p += D;
        emb = p; p += V * D;
        wq = p; p += L * D * D;
        wk = p; p += L * kvd * D;
        wv = p; p += L * kvd * D;
        wo = p; p += L * D * D;
        w1 = p; p += L * F * D;
        w2 = p; p += L * D * F;
        w3 = p; p += L * F * D;
    }
    cls = h.shared ? NULL : p;
    if (!h.shared) p += V * D;
    BONE_ASSERT((uint64_t)(p - f) == h.n_floats, "llama2.c layout");

    int rc = -1;
    wlist wl = {0};
    wl.cap = 3 + 9 * L;
    wl.w = xcalloc((size_t)wl.cap, sizeof *wl.w);
    wl.names = xcalloc((size_t)wl.cap, sizeof *wl.names);
    /* wq, wk in HF row order: one permuted copy per layer (L, D, D) and (L, kvd, D) */
    float *pq = xmalloc((size_t)(L * D * D) * sizeof(float));
    float *pk = xmalloc((size_t)(L * kvd * D) * sizeof(float));
    char nm[256];
    wl_add(&wl, "model.embed_tokens.weight", dtype, emb, V, D);
    if (cls) wl_add(&wl, "lm_head.weight", dtype, cls, V, D);
    wl_add(&wl, "model.norm.weight", dtype, fin, D, 0);
    for (int64_t l = 0; l < L; l++) {
        bone_rope_rows_meta_to_hf(pq + l * D * D, wq + l * D * D, h.n_heads, hd, D);
        bone_rope_rows_meta_to_hf(pk + l * kvd * D, wk + l * kvd * D, h.n_kv, hd, D);
#define LNAME(suffix) (snprintf(nm, sizeof nm, "model.layers.%lld.%s", (long long)l, suffix), nm)
        wl_add(&wl, LNAME("input_layernorm.weight"), dtype, att + l * D, D, 0);
        wl_add(&wl, LNAME("post_attention_layernorm.weight"), dtype, ffn + l * D, D, 0);
        wl_add(&wl, LNAME("self_attn.q_proj.weight"), dtype, pq + l * D * D, D, D);
        wl_add(&wl, LNAME("self_attn.k_proj.weight"), dtype, pk + l * kvd * D, kvd, D);
        wl_add(&wl, LNAME("self_attn.v_proj.weight"), dtype, wv + l * kvd * D, kvd, D);
        wl_add(&wl, LNAME("self_attn.o_proj.weight"), dtype, wo + l * D * D, D, D);
        wl_add(&wl, LNAME("mlp.gate_proj.weight"), dtype, w1 + l * F * D, F, D);
        wl_add(&wl, LNAME("mlp.down_proj.weight"), dtype, w2 + l * D * F, D, F);
        wl_add(&wl, LNAME("mlp.up_proj.weight"), dtype, w3 + l * F * D, F, D);
#undef LNAME
    }
    bone_config c;
    memset(&c, 0, sizeof c);
    c.arch = BONE_ARCH_LLAMA;
    c.vocab = V;
    c.hidden = D;
    c.inter = F;
    c.n_layers = L;
    c.n_heads = h.n_heads;
    c.n_kv = h.n_kv;
    c.head_dim = hd;
    c.max_pos = h.seq_len;
    c.eps = 1e-5;           /* run.c's constant; the file does not store it */
    c.rope_theta = 10000.0; /* likewise */
    c.rope_type = BONE_ROPE_DEFAULT;
    c.tied = h.shared;
    c.bos = 1;
    c.eos = 2;
    c.pad = -1;
    c.init_range = 0.02;
    c.dtype = dtype;
    if (bone_mkdirs(out_dir, e)) goto out;
    char *path = bone_path_join(out_dir, "model.safetensors");
    rc = bone_st_write(path, wl.w, wl.n, e);
    free(path);
    if (rc) goto out;
    path = bone_path_join(out_dir, "config.json");
    rc = bone_config_save(&c, path, e);
    free(path);
out:
    for (int64_t i = 0; i < wl.n; i++) free(wl.names[i]);
    free(wl.names);
    free(wl.w);
    free(pq);
    free(pk);
    munmap(map, (size_t)size);
    return rc;
}

/* ---- tokenizer -------------------------------------------------------------------------- */

typedef struct {
    char *s;     /* HF form: ' ' → U+2581; specials <unk> <s> </s> */
    size_t len;
    float score;
} l2c_piece;

typedef struct {
    const l2c_piece *pc;
    int32_t id;
} sorted_ref;

static int cmp_bytes(const char *a, size_t la, const char *b, size_t lb) {
    int c = memcmp(a, b, la < lb ? la : lb);
    return c ? c : la < lb ? -1 : la > lb ? 1 : 0;
}
static int cmp_ref(const void *x, const void *y) {
    const sorted_ref *a = x, *b = y;
    return cmp_bytes(a->pc[a->id].s, a->pc[a->id].len, b->pc[b->id].s, b->pc[b->id].len);
}

static int32_t lookup(const sorted_ref *idx, int64_t n, const l2c_piece *pc, const char *s, size_t len) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const l2c_piece *q = &pc[idx[mid].id];
        int c = cmp_bytes(q->s, q->len, s, len);
        if (!c) return idx[mid].id;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

typedef struct {
    float score;    /* score of the merged piece */
    int32_t merged; /* id of the merged piece */
    int32_t left, right;
} l2c_merge;

/* higher score first (run.c merges the best-scoring pair); then a fixed order */
static int cmp_merge(const void *x, const void *y) {
    const l2c_merge *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->merged != b->merged) return a->merged < b->merged ? -1 : 1;
    return a->left < b->left ? -1 : a->left > b->left ? 1 : 0;
}

static cJSON *added_token(int id, const char *content) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", id);
    cJSON_AddStringToObject(o, "content", content);
    cJSON_AddBoolToObject(o, "single_word", 0);
    cJSON_AddBoolToObject(o, "lstrip", 0);
    cJSON_AddBoolToObject(o, "rstrip", 0);
    cJSON_AddBoolToObject(o, "normalized", 0);
    cJSON_AddBoolToObject(o, "special", 1);
    return o;
}

static cJSON *pattern_obj(const char *kind, const char *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, kind, s);
    return o;
}

static cJSON *typed(const char *type) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    return o;
}

static int write_json(const char *dir, const char *name, cJSON *o, bone_err *e) {
    char *txt = cJSON_PrintUnformatted(o);
    char *path = bone_path_join(dir, name);
    int rc = bone_write_file_atomic(path, txt, strlen(txt), e);
    free(path);
    free(txt);
    return rc;
}

#define SPM_SPACE "\xe2\x96\x81" /* U+2581 */

int bone_l2c_convert_tokenizer(const char *tok_path, int64_t vocab, int64_t seq_len, const char *out_dir,
                               int64_t *n_merges, bone_err *e) {
    char *buf;
    size_t n;
    if (bone_read_regular_file(tok_path, &buf, &n, e)) return -1;
    if (vocab < 259) {
        free(buf);
        return bone_fail(e, "%s: vocabulary of %lld is too small (need <unk>, <s>, </s> and 256 byte pieces)", tok_path,
                         (long long)vocab);
    }
    int rc = -1;
    l2c_piece *pc = xcalloc((size_t)vocab, sizeof *pc);
    sorted_ref *idx = NULL;
    l2c_merge *mg = NULL;
    int64_t nm = 0, capm = 0;
    cJSON *root = NULL;
    if (n < 4) {
        bone_fail(e, "%s: too short for a llama2.c tokenizer.bin", tok_path);
        goto out;
    }
    size_t off = 4;
    for (int64_t i = 0; i < vocab; i++) {
        int32_t len;
        if (n - off < 8) {
            bone_fail(e, "%s: ends inside entry %lld (byte %zu); the model needs %lld entries", tok_path, (long long)i, off,
                      (long long)vocab);
            goto out;
        }
        memcpy(&pc[i].score, buf + off, 4);
        memcpy(&len, buf + off + 4, 4);
        off += 8;
        if (len < 0 || (size_t)len > n - off) {
            bone_fail(e, "%s: entry %lld at byte %zu has a bad length %d", tok_path, (long long)i, off - 8, len);
            goto out;
        }
        const char *s = buf + off;
        off += (size_t)len;
        if (isnan(pc[i].score)) {
            bone_fail(e, "%s: entry %lld has a NaN score", tok_path, (long long)i);
            goto out;
        }
        if (bone_utf8_check(s, (size_t)len) != (size_t)len) {
            bone_fail(e, "%s: entry %lld is not valid UTF-8 (tokenizer.json cannot hold it)", tok_path, (long long)i);
            goto out;
        }
        if (i < 3) {
            static const char *const want[3] = {"<unk>", "<s>", "</s>"};
            static const char *const stored[3] = {"<unk>", "\n<s>\n", "\n</s>\n"};
            if ((size_t)len != strlen(stored[i]) || memcmp(s, stored[i], (size_t)len)) {
                bone_fail(e, "%s: entry %lld is \"%.*s\"; llama2.c stores %s there", tok_path, (long long)i, len, s,
                          i == 0 ? "<unk>" : i == 1 ? "BOS as \\n<s>\\n" : "EOS as \\n</s>\\n");
                goto out;
            }
            pc[i].s = xstrdup(want[i]);
            pc[i].len = strlen(want[i]);
            continue;
        }
        if (i < 259) {
            char want[8];
            snprintf(want, sizeof want, "<0x%02X>", (unsigned)(i - 3));
            if ((size_t)len != 6 || memcmp(s, want, 6)) {
                bone_fail(e, "%s: entry %lld is \"%.*s\", expected the byte piece %s (run.c maps byte b to id b+3)",
                          tok_path, (long long)i, len, s, want);
                goto out;
            }
        }
        if (len == 0) {
            bone_fail(e, "%s: entry %lld is an empty piece", tok_path, (long long)i);
            goto out;
        }
        if (memmem(s, (size_t)len, SPM_SPACE, 3)) {
            bone_fail(e, "%s: entry %lld contains U+2581, which tokenizer.json cannot tell apart from a space", tok_path,
                      (long long)i);
            goto out;
        }
        /* ' ' → U+2581 (each space grows by 2 bytes) */
        size_t sp = 0;
        for (int32_t k = 0; k < len; k++) sp += s[k] == ' ';
        char *o = xmalloc((size_t)len + 2 * sp + 1);
        size_t w = 0;
        for (int32_t k = 0; k < len; k++) {
            if (s[k] == ' ') {
                memcpy(o + w, SPM_SPACE, 3);
                w += 3;
            } else {
                o[w++] = s[k];
            }
        }
        o[w] = 0;
        pc[i].s = o;
        pc[i].len = w;
    }
    if (off != n) {
        bone_fail(e, "%s: %zu bytes follow the %lld entries the model's vocab_size calls for (tokenizer and model do not "
                     "match?)", tok_path, n - off, (long long)vocab);
        goto out;
    }
    idx = xmalloc((size_t)vocab * sizeof *idx);
    for (int64_t i = 0; i < vocab; i++) idx[i] = (sorted_ref){pc, (int32_t)i};
    qsort(idx, (size_t)vocab, sizeof *idx, cmp_ref);
    for (int64_t i = 1; i < vocab; i++)
        if (!cmp_ref(&idx[i - 1], &idx[i])) {
            bone_fail(e, "%s: entries %d and %d are the same piece \"%s\"", tok_path, idx[i - 1].id, idx[i].id,
                      pc[idx[i].id].s);
            goto out;
        }
    /* every split of a piece into two pieces is a merge: run.c merges any adjacent pair whose
     * concatenation is a piece, preferring the highest score. Specials (0..2) never merge. */
    for (int64_t i = 3; i < vocab; i++) {
        const char *s = pc[i].s;
        for (size_t k = 1; k < pc[i].len; k++) {
            if (((unsigned char)s[k] & 0xc0) == 0x80) continue; /* not a code point boundary */
            int32_t a = lookup(idx, vocab, pc, s, k), b = lookup(idx, vocab, pc, s + k, pc[i].len - k);
            if (a < 3 || b < 3) continue;
            if (nm == capm) {
                capm = capm ? 2 * capm : 1024;
                mg = xrealloc(mg, (size_t)capm * sizeof *mg);
            }
            mg[nm++] = (l2c_merge){pc[i].score, (int32_t)i, a, b};
        }
    }
    if (nm) qsort(mg, (size_t)nm, sizeof *mg, cmp_merge); /* mg is still NULL when nothing merges */

    root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int i = 0; i < 3; i++) cJSON_AddItemToArray(added, added_token(i, pc[i].s));
    /* legacy Llama-2 form (FORMATS.md §4.5): Prepend ▁ is run.c's dummy prefix (only for non-empty text) */
    cJSON *norm = typed("Sequence");
    cJSON *nl = cJSON_AddArrayToObject(norm, "normalizers");
    cJSON *prep = typed("Prepend");
    cJSON_AddStringToObject(prep, "prepend", SPM_SPACE);
    cJSON_AddItemToArray(nl, prep);
    cJSON *repl = typed("Replace");
    cJSON_AddItemToObject(repl, "pattern", pattern_obj("String", " "));
    cJSON_AddStringToObject(repl, "content", SPM_SPACE);
    cJSON_AddItemToArray(nl, repl);
    cJSON_AddItemToObject(root, "normalizer", norm);
    cJSON_AddNullToObject(root, "pre_tokenizer");
    cJSON *post = typed("TemplateProcessing");
    const char *seqs[2] = {"A", "B"};
    for (int pair = 0; pair < 2; pair++) {
        cJSON *arr = cJSON_AddArrayToObject(post, pair ? "pair" : "single");
        for (int k = 0; k <= pair; k++) {
            cJSON *st = cJSON_CreateObject(), *in = cJSON_AddObjectToObject(st, "SpecialToken");
            cJSON_AddStringToObject(in, "id", "<s>");
            cJSON_AddNumberToObject(in, "type_id", k);
            cJSON_AddItemToArray(arr, st);
            cJSON *sq = cJSON_CreateObject(), *in2 = cJSON_AddObjectToObject(sq, "Sequence");
            cJSON_AddStringToObject(in2, "id", seqs[k]);
            cJSON_AddNumberToObject(in2, "type_id", k);
            cJSON_AddItemToArray(arr, sq);
        }
    }
    cJSON *spt = cJSON_AddObjectToObject(post, "special_tokens");
    cJSON *bos = cJSON_AddObjectToObject(spt, "<s>");
    cJSON_AddStringToObject(bos, "id", "<s>");
    cJSON_AddItemToObject(bos, "ids", cJSON_CreateIntArray((const int[]){1}, 1));
    cJSON *bt = cJSON_AddArrayToObject(bos, "tokens");
    cJSON_AddItemToArray(bt, cJSON_CreateString("<s>"));
    cJSON_AddItemToObject(root, "post_processor", post);
    cJSON *dec = typed("Sequence");
    cJSON *dl = cJSON_AddArrayToObject(dec, "decoders");
    cJSON *drepl = typed("Replace");
    cJSON_AddItemToObject(drepl, "pattern", pattern_obj("String", SPM_SPACE));
    cJSON_AddStringToObject(drepl, "content", " ");
    cJSON_AddItemToArray(dl, drepl);
    cJSON_AddItemToArray(dl, typed("ByteFallback"));
    cJSON_AddItemToArray(dl, typed("Fuse"));
    cJSON *strip = typed("Strip");
    cJSON_AddStringToObject(strip, "content", " ");
    cJSON_AddNumberToObject(strip, "start", 1);
    cJSON_AddNumberToObject(strip, "stop", 0);
    cJSON_AddItemToArray(dl, strip);
    cJSON_AddItemToObject(root, "decoder", dec);
    cJSON *model = typed("BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddStringToObject(model, "unk_token", "<unk>");
    cJSON_AddNullToObject(model, "continuing_subword_prefix");
    cJSON_AddNullToObject(model, "end_of_word_suffix");
    cJSON_AddBoolToObject(model, "fuse_unk", 1);
    cJSON_AddBoolToObject(model, "byte_fallback", 1);
    cJSON_AddBoolToObject(model, "ignore_merges", 0);
    cJSON *vo = cJSON_AddObjectToObject(model, "vocab");
    for (int64_t i = 0; i < vocab; i++) cJSON_AddNumberToObject(vo, pc[i].s, (double)i);
    cJSON *ml = cJSON_AddArrayToObject(model, "merges");
    for (int64_t i = 0; i < nm; i++) {
        cJSON *m = cJSON_CreateArray();
        cJSON_AddItemToArray(m, cJSON_CreateString(pc[mg[i].left].s));
        cJSON_AddItemToArray(m, cJSON_CreateString(pc[mg[i].right].s));
        cJSON_AddItemToArray(ml, m);
    }
    cJSON_AddItemToObject(root, "model", model);
    if (bone_mkdirs(out_dir, e) || write_json(out_dir, "tokenizer.json", root, e)) goto out;

    cJSON *tc = cJSON_CreateObject();
    cJSON_AddBoolToObject(tc, "add_bos_token", 1);
    cJSON_AddBoolToObject(tc, "add_eos_token", 0);
    cJSON_AddStringToObject(tc, "bos_token", "<s>");
    cJSON_AddStringToObject(tc, "eos_token", "</s>");
    cJSON_AddStringToObject(tc, "unk_token", "<unk>");
    cJSON_AddNullToObject(tc, "pad_token");
    cJSON_AddBoolToObject(tc, "clean_up_tokenization_spaces", 0);
    cJSON_AddBoolToObject(tc, "legacy", 1);
    cJSON_AddNumberToObject(tc, "model_max_length", (double)seq_len);
    cJSON_AddStringToObject(tc, "tokenizer_class", "LlamaTokenizer");
    int wrc = write_json(out_dir, "tokenizer_config.json", tc, e);
    cJSON_Delete(tc);
    if (wrc) goto out;
    cJSON *sm = cJSON_CreateObject();
    cJSON_AddStringToObject(sm, "bos_token", "<s>");
    cJSON_AddStringToObject(sm, "eos_token", "</s>");
    cJSON_AddStringToObject(sm, "unk_token", "<unk>");
    wrc = write_json(out_dir, "special_tokens_map.json", sm, e);
    cJSON_Delete(sm);
    if (wrc) goto out;
    cJSON *gc = cJSON_CreateObject();
    cJSON_AddNumberToObject(gc, "bos_token_id", 1);
    cJSON_AddNumberToObject(gc, "eos_token_id", 2);
    wrc = write_json(out_dir, "generation_config.json", gc, e);
    cJSON_Delete(gc);
    if (wrc) goto out;
    if (n_merges) *n_merges = nm;
    rc = 0;
out:
    cJSON_Delete(root);
    for (int64_t i = 0; i < vocab; i++) free(pc[i].s);
    free(pc);
    free(idx);
    free(mg);
    free(buf);
    return rc;
}
