/* rwkv_pth.c — RWKV-6 checkpoints: official .pth ↔ HF directory, and RWKV-PEFT's slim adapter
 * .pth. See rwkv_pth.h. */
#include "io/rwkv_pth.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/dtype.h"
#include "core/fs.h"
#include "io/json.h"
#include "io/pth.h"
#include "io/safetensors.h"
#include "tokenizer/tokenizer.h"

/* ---- the name table (FORMATS.md §6.6/§6.7) -------------------------------------------------
 * {i} stands for the block index. Shapes are written in the dimensions of bone_rwkv_dims. */
enum { X_1 = 1, X_V, X_C, X_A, X_H, X_HS, X_F, X_5, X_5M, X_M, X_D };
typedef struct rname {
    const char *off, *hf;
    int ndim, dim[3];
} rname;
static const rname NAMES[] = {
    {"emb.weight", "rwkv.embeddings.weight", 2, {X_V, X_C}},
    {"blocks.0.ln0.weight", "rwkv.blocks.0.pre_ln.weight", 1, {X_C}},
    {"blocks.0.ln0.bias", "rwkv.blocks.0.pre_ln.bias", 1, {X_C}},
    {"blocks.{i}.ln1.weight", "rwkv.blocks.{i}.ln1.weight", 1, {X_C}},
    {"blocks.{i}.ln1.bias", "rwkv.blocks.{i}.ln1.bias", 1, {X_C}},
    {"blocks.{i}.ln2.weight", "rwkv.blocks.{i}.ln2.weight", 1, {X_C}},
    {"blocks.{i}.ln2.bias", "rwkv.blocks.{i}.ln2.bias", 1, {X_C}},
    {"blocks.{i}.att.time_maa_x", "rwkv.blocks.{i}.attention.time_maa_x", 3, {X_1, X_1, X_C}},
    {"blocks.{i}.att.time_maa_w", "rwkv.blocks.{i}.attention.time_maa_w", 3, {X_1, X_1, X_C}},
    {"blocks.{i}.att.time_maa_k", "rwkv.blocks.{i}.attention.time_maa_k", 3, {X_1, X_1, X_C}},
    {"blocks.{i}.att.time_maa_v", "rwkv.blocks.{i}.attention.time_maa_v", 3, {X_1, X_1, X_C}},
    {"blocks.{i}.att.time_maa_r", "rwkv.blocks.{i}.attention.time_maa_r", 3, {X_1, X_1, X_C}},
    {"blocks.{i}.att.time_maa_g", "rwkv.blocks.{i}.attention.time_maa_g", 3, {X_1, X_1, X_C}},
    {"blocks.{i}.att.time_maa_w1", "rwkv.blocks.{i}.attention.time_maa_w1", 2, {X_C, X_5M}},
    {"blocks.{i}.att.time_maa_w2", "rwkv.blocks.{i}.attention.time_maa_w2", 3, {X_5, X_M, X_C}},
    {"blocks.{i}.att.time_decay", "rwkv.blocks.{i}.attention.time_decay", 3, {X_1, X_1, X_A}},
    {"blocks.{i}.att.time_decay_w1", "rwkv.blocks.{i}.attention.time_decay_w1", 2, {X_C, X_D}},
    {"blocks.{i}.att.time_decay_w2", "rwkv.blocks.{i}.attention.time_decay_w2", 2, {X_D, X_A}},
    {"blocks.{i}.att.time_faaaa", "rwkv.blocks.{i}.attention.time_faaaa", 2, {X_H, X_HS}},
    {"blocks.{i}.att.receptance.weight", "rwkv.blocks.{i}.attention.receptance.weight", 2, {X_A, X_C}},
    {"blocks.{i}.att.key.weight", "rwkv.blocks.{i}.attention.key.weight", 2, {X_A, X_C}},
    {"blocks.{i}.att.value.weight", "rwkv.blocks.{i}.attention.value.weight", 2, {X_A, X_C}},
    {"blocks.{i}.att.gate.weight", "rwkv.blocks.{i}.attention.gate.weight", 2, {X_A, X_C}},
    {"blocks.{i}.att.output.weight", "rwkv.blocks.{i}.attention.output.weight", 2, {X_C, X_A}},
    {"blocks.{i}.att.ln_x.weight", "rwkv.blocks.{i}.attention.ln_x.weight", 1, {X_A}},
    {"blocks.{i}.att.ln_x.bias", "rwkv.blocks.{i}.attention.ln_x.bias", 1, {X_A}},
    {"blocks.{i}.ffn.time_maa_k", "rwkv.blocks.{i}.feed_forward.time_maa_k", 3, {X_1, X_1, X_C}},
    {"blocks.{i}.ffn.time_maa_r", "rwkv.blocks.{i}.feed_forward.time_maa_r", 3, {X_1, X_1, X_C}},
    {"blocks.{i}.ffn.key.weight", "rwkv.blocks.{i}.feed_forward.key.weight", 2, {X_F, X_C}},
    {"blocks.{i}.ffn.receptance.weight", "rwkv.blocks.{i}.feed_forward.receptance.weight", 2, {X_C, X_C}},
    {"blocks.{i}.ffn.value.weight", "rwkv.blocks.{i}.feed_forward.value.weight", 2, {X_C, X_F}},
    {"ln_out.weight", "rwkv.ln_out.weight", 1, {X_C}},
    {"ln_out.bias", "rwkv.ln_out.bias", 1, {X_C}},
    {"head.weight", "head.weight", 2, {X_V, X_C}},
};
#define NNAMES ((int)(sizeof NAMES / sizeof *NAMES))
#define PER_BLOCK_FIRST 3
#define PER_BLOCK_LAST 30 /* NAMES[3..30] are per block */

/* Matches name against pattern; *blk = the {i} value (-1 if none). */
static int pmatch(const char *pat, const char *name, int64_t *blk) {
    *blk = -1;
    while (*pat) {
        if (!strncmp(pat, "{i}", 3)) {
            if (*name < '0' || *name > '9' || (name[0] == '0' && name[1] >= '0' && name[1] <= '9')) return 0;
            int64_t v = 0;
            while (*name >= '0' && *name <= '9') {
                v = v * 10 + (*name++ - '0');
                if (v > 1000000) return 0;
            }
            *blk = v;
            pat += 3;
            continue;
        }
        if (*pat++ != *name++) return 0;
    }
    return *name == 0;
}
static void pformat(const char *pat, int64_t blk, char *out, size_t cap) {
    const char *p = strstr(pat, "{i}");
    if (!p) snprintf(out, cap, "%s", pat);
    else snprintf(out, cap, "%.*s%lld%s", (int)(p - pat), pat, (long long)blk, p + 3);
}
/* index into NAMES, or -1 */
static int lookup(const char *name, int hf, int64_t *blk) {
    for (int k = 0; k < NNAMES; k++)
        if (pmatch(hf ? NAMES[k].hf : NAMES[k].off, name, blk)) return k;
    return -1;
}
static int translate(const char *name, int from_hf, char *out, size_t cap) {
    int64_t blk;
    int k = lookup(name, from_hf, &blk);
    if (k < 0) return -1;
    pformat(from_hf ? NAMES[k].off : NAMES[k].hf, blk, out, cap);
    return 0;
}
int bone_rwkv_official_to_hf(const char *name, char *out, size_t cap) { return translate(name, 0, out, cap); }
int bone_rwkv_hf_to_official(const char *name, char *out, size_t cap) { return translate(name, 1, out, cap); }

/* ---- one view of a checkpoint's tensors, whichever container they came from ---------------- */
typedef struct rt {
    const char *name;
    bone_dtype dt;
    int ndim;
    const int64_t *shape;
    const void *data;
    int64_t numel;
} rt;

static int cmp_rt(const void *a, const void *b) { return strcmp(((const rt *)a)->name, ((const rt *)b)->name); }
/* t is sorted by name (validate sorts it), so a hostile file with many tensors stays fast */
static const rt *rfind(const rt *t, int64_t n, const char *name) {
    rt key = {name, BONE_F32, 0, NULL, NULL, 0};
    return n ? bsearch(&key, t, (size_t)n, sizeof *t, cmp_rt) : NULL;
}

static int64_t dimval(const bone_rwkv_dims *d, int x) {
    switch (x) {
    case X_1: return 1;
    case X_V: return d->vocab;
    case X_C: return d->C;
    case X_A: return d->A;
    case X_H: return d->H;
    case X_HS: return d->head;
    case X_F: return d->F;
    case X_5: return 5;
    case X_5M: return 5 * d->d_mix;
    case X_M: return d->d_mix;
    case X_D: return d->d_decay;
    }
    return -1;
}

static void shape_str(int ndim, const int64_t *s, char *out, size_t cap) {
    size_t k = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < ndim && k < cap; i++) k += (size_t)snprintf(out + k, cap - k, i ? ", %lld" : "%lld", (long long)s[i]);
    if (k < cap) snprintf(out + k, cap - k, "]");
}

/* The block-0 (or global) tensor of official name oname, which must have nd dims. */
static const rt *get0(const char *what, const rt *t, int64_t n, int hf, const char *oname, int nd, bone_err *e) {
    int64_t b;
    int k = lookup(oname, 0, &b);
    char nm[256];
    pformat(hf ? NAMES[k].hf : NAMES[k].off, 0, nm, sizeof nm);
    const rt *x = rfind(t, n, nm);
    if (!x) bone_fail(e, "%s: no tensor %s (not an RWKV-6 \"x060\" checkpoint?)", what, nm);
    else if (x->ndim != nd) { bone_fail(e, "%s: %s has %d dims, expected %d", what, nm, x->ndim, nd); x = NULL; }
    return x;
}

/* Reads the dimensions off the shapes, then checks that the tensors are exactly the RWKV-6 set
 * (every expected name once, nothing else) with the table's shapes. hf: names are HF's. */
static int validate(const char *what, rt *t, int64_t n, int hf, bone_rwkv_dims *d, bone_err *e) {
    memset(d, 0, sizeof *d);
    if (n) qsort(t, (size_t)n, sizeof *t, cmp_rt);
    char nm[256];
    const rt *emb, *key, *faaaa, *fkey, *w1, *dw1;
    if (!(emb = get0(what, t, n, hf, "emb.weight", 2, e)) || !(key = get0(what, t, n, hf, "blocks.0.att.key.weight", 2, e)) ||
        !(faaaa = get0(what, t, n, hf, "blocks.0.att.time_faaaa", 2, e)) ||
        !(fkey = get0(what, t, n, hf, "blocks.0.ffn.key.weight", 2, e)) ||
        !(w1 = get0(what, t, n, hf, "blocks.0.att.time_maa_w1", 2, e)) ||
        !(dw1 = get0(what, t, n, hf, "blocks.0.att.time_decay_w1", 2, e)))
        return -1;
    d->vocab = emb->shape[0];
    d->C = emb->shape[1];
    d->A = key->shape[0];
    d->H = faaaa->shape[0];
    d->head = faaaa->shape[1];
    d->F = fkey->shape[0];
    d->d_decay = dw1->shape[1];
    if (w1->shape[1] % 5) return bone_fail(e, "%s: time_maa_w1 is %lld wide, not 5·D_MIX", what, (long long)w1->shape[1]);
    d->d_mix = w1->shape[1] / 5;
    if (d->H * d->head != d->A || d->head <= 0)
        return bone_fail(e, "%s: time_faaaa is [%lld, %lld], which does not split the attention width %lld into heads", what,
                         (long long)d->H, (long long)d->head, (long long)d->A);
    for (int64_t i = 0; i < n; i++) {
        int64_t blk;
        int k = lookup(t[i].name, hf, &blk);
        if (k < 0) {
            if (strstr(t[i].name, "time_state"))
                return bone_fail(e, "%s: %s is a state-tuning tensor; it has no place in an HF RWKV-6 model (export the "
                                    "base model without it)", what, t[i].name);
            return bone_fail(e, "%s: %s is not an RWKV-6 tensor name (%s)", what, t[i].name,
                             hf ? "rwkv.blocks.N.attention.*, rwkv.blocks.N.feed_forward.*, ..." : "blocks.N.att.*, blocks.N.ffn.*, ...");
        }
        if (blk + 1 > d->layers) d->layers = blk + 1;
    }
    if (!d->layers) return bone_fail(e, "%s: no blocks", what);
    /* every expected tensor, once, with its shape */
    int64_t want = 0;
    for (int k = 0; k < NNAMES; k++) {
        int per = strstr(NAMES[k].off, "{i}") != NULL;
        for (int64_t b = 0; b < (per ? d->layers : 1); b++) {
            pformat(hf ? NAMES[k].hf : NAMES[k].off, b, nm, sizeof nm);
            want++;
            const rt *x = rfind(t, n, nm);
            if (!x) return bone_fail(e, "%s: no tensor %s (block %lld of %lld)", what, nm, (long long)b, (long long)d->layers);
            int64_t exp[3];
            int ok = x->ndim == NAMES[k].ndim;
            for (int q = 0; q < NAMES[k].ndim; q++) {
                exp[q] = dimval(d, NAMES[k].dim[q]);
                ok = ok && x->shape[q] == exp[q];
            }
            if (!ok) {
                char got[128], wants[128];
                shape_str(x->ndim, x->shape, got, sizeof got);
                shape_str(NAMES[k].ndim, exp, wants, sizeof wants);
                return bone_fail(e, "%s: %s has shape %s, expected %s (C=%lld, attention %lld, %lld heads of %lld, F=%lld, "
                                    "D_MIX=%lld, D_DECAY=%lld)", what, nm, got, wants, (long long)d->C, (long long)d->A,
                                 (long long)d->H, (long long)d->head, (long long)d->F, (long long)d->d_mix,
                                 (long long)d->d_decay);
            }
        }
    }
    if (want != n) return bone_fail(e, "%s: %lld tensors, expected %lld (a name appears twice?)", what, (long long)n, (long long)want);
    return 0;
}

/* ---- convert: .pth → HF directory ----------------------------------------------------------- */
static int write_config(const char *path, const bone_rwkv_dims *d, const char *dtype_name, bone_err *e) {
    cJSON *c = cJSON_CreateObject();
    cJSON *arch = cJSON_CreateArray();
    cJSON_AddItemToArray(arch, cJSON_CreateString("Rwkv6ForCausalLM"));
    cJSON_AddItemToObject(c, "architectures", arch);
    cJSON_AddNumberToObject(c, "attention_hidden_size", (double)d->A);
    cJSON_AddNumberToObject(c, "bos_token_id", 0);
    cJSON_AddNumberToObject(c, "eos_token_id", 0);
    cJSON_AddNumberToObject(c, "head_size", (double)d->head);
    cJSON_AddNumberToObject(c, "head_size_divisor", 8);
    cJSON_AddNumberToObject(c, "hidden_size", (double)d->C);
    cJSON_AddNumberToObject(c, "intermediate_size", (double)d->F);
    cJSON_AddRawToObject(c, "layer_norm_epsilon", "1e-05");
    cJSON_AddStringToObject(c, "model_type", "rwkv6");
    cJSON_AddNumberToObject(c, "num_hidden_layers", (double)d->layers);
    cJSON_AddNumberToObject(c, "rescale_every", 6);
    cJSON_AddBoolToObject(c, "tie_word_embeddings", 0);
    cJSON_AddStringToObject(c, "torch_dtype", dtype_name);
    cJSON_AddBoolToObject(c, "use_cache", 1);
    cJSON_AddNumberToObject(c, "vocab_size", (double)d->vocab);
    char *s = cJSON_Print(c);
    cJSON_Delete(c);
    size_t n = strlen(s);
    s = xrealloc(s, n + 2);
    s[n] = '\n';
    int rc = bone_write_file_atomic(path, s, n + 1, e);
    free(s);
    return rc;
}

/* removes the files of a flat directory and the directory (a failed conversion's temporary) */
static void rm_flat_dir(const char *dir, const char *const *files) {
    for (int i = 0; files[i]; i++) {
        char *p = bone_path_join(dir, files[i]);
        unlink(p);
        free(p);
    }
    rmdir(dir);
}

int bone_rwkv_convert_pth(const char *pth, const char *vocab_path, const char *out_dir, bone_rwkv_dims *d, bone_err *e) {
    /* the vocabulary first: a bad one should not cost a multi-GB read */
    bone_tokenizer *tok = bone_tokenizer_load(vocab_path, e);
    if (!tok) return bone_wrap(e, "the World vocabulary");
    bone_tokenizer_free(tok);
    if (bone_path_present(out_dir) && !bone_is_dir(out_dir)) return bone_fail(e, "%s exists and is not a directory", out_dir);
    bone_pth p;
    if (bone_pth_open(&p, pth, e)) return -1;
    rt *t = xcalloc((size_t)(p.n ? p.n : 1), sizeof *t);
    for (int64_t i = 0; i < p.n; i++)
        t[i] = (rt){p.t[i].name, p.t[i].dtype, p.t[i].ndim, p.t[i].shape, p.t[i].data, p.t[i].numel};
    int rc = validate(pth, t, p.n, 0, d, e);
    bone_st_wtensor *w = xcalloc((size_t)(p.n ? p.n : 1), sizeof *w);
    char **names = xcalloc((size_t)(p.n ? p.n : 1), sizeof *names);
    int n_bf16 = 0;
    for (int64_t i = 0; !rc && i < p.n; i++) {
        char hfn[256];
        translate(t[i].name, 0, hfn, sizeof hfn);
        names[i] = xstrdup(hfn);
        w[i] = (bone_st_wtensor){.name = names[i], .dtype = t[i].dt, .ndim = t[i].ndim, .data = t[i].data};
        memcpy(w[i].shape, t[i].shape, (size_t)t[i].ndim * sizeof *t[i].shape);
        n_bf16 += t[i].dt == BONE_BF16;
    }
    /* a temporary directory beside out_dir, renamed into place when complete */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out_dir, (long)getpid());
    static const char *const FILES[] = {"config.json", "model.safetensors", BONE_RWKV_VOCAB_NAME, NULL};
    if (!rc) {
        rm_flat_dir(tmp, FILES);
        rc = bone_mkdirs(tmp, e);
    }
    if (!rc) {
        char *cp = bone_path_join(tmp, "config.json"), *mp = bone_path_join(tmp, "model.safetensors"),
             *vp = bone_path_join(tmp, BONE_RWKV_VOCAB_NAME);
        rc = write_config(cp, d, n_bf16 == p.n ? "bfloat16" : n_bf16 ? "bfloat16" : "float32", e);
        if (!rc) rc = bone_st_write(mp, w, p.n, e);
        /* a directory names the vocabulary inside it; a file is copied as the canonical name */
        char *src = bone_is_dir(vocab_path) ? bone_path_join(vocab_path, BONE_RWKV_VOCAB_NAME) : xstrdup(vocab_path);
        if (!rc) rc = bone_copy_file(src, vp, e);
        free(src);
        free(cp);
        free(mp);
        free(vp);
    }
    if (!rc && rename(tmp, out_dir))
        rc = bone_fail(e, "%s: cannot move the converted model into place from %s (is %s a non-empty directory?)", out_dir,
                       tmp, out_dir);
    if (rc) rm_flat_dir(tmp, FILES);
    for (int64_t i = 0; i < p.n; i++) free(names[i]);
    free(names);
    free(w);
    free(t);
    bone_pth_close(&p);
    return rc;
}

/* ---- export: HF directory → official bf16 .pth --------------------------------------------- */
int bone_rwkv_export_pth(const char *model_dir, const char *out_pth, bone_dtype dt, bone_rwkv_dims *d, bone_err *e) {
    bone_st_set s;
    bone_st_init(&s);
    if (bone_st_open_dir(&s, model_dir, e)) return -1;
    rt *t = xcalloc((size_t)(s.n ? s.n : 1), sizeof *t);
    int rc = 0;
    for (int64_t i = 0; i < s.n && !rc; i++) {
        if (!s.t[i].supported)
            rc = bone_fail(e, "%s: tensor %s has dtype %s (F32, BF16 or F16 expected)", model_dir, s.t[i].name, s.t[i].dtype_name);
        t[i] = (rt){s.t[i].name, s.t[i].dtype, s.t[i].ndim, s.t[i].shape, s.t[i].data, s.t[i].numel};
    }
    if (!rc) rc = validate(model_dir, t, s.n, 1, d, e);
    bone_pth_wtensor *w = xcalloc((size_t)(s.n ? s.n : 1), sizeof *w);
    char **names = xcalloc((size_t)(s.n ? s.n : 1), sizeof *names);
    void **buf = xcalloc((size_t)(s.n ? s.n : 1), sizeof *buf);
    for (int64_t i = 0; !rc && i < s.n; i++) {
        char off[256];
        translate(t[i].name, 1, off, sizeof off);
        names[i] = xstrdup(off);
        int64_t numel = t[i].numel;
        /* the same dtype is written from the mapped file itself (bit-exact, and a 7B export does not
         * hold a second 15 GB copy in memory); another dtype is converted through f32 */
        const void *src = t[i].data;
        if (t[i].dt != dt) {
            buf[i] = xmalloc((size_t)(numel ? numel : 1) * bone_dtype_size(dt));
            float *f = xmalloc((size_t)(numel ? numel : 1) * 4);
            bone_to_f32(f, t[i].data, t[i].dt, (size_t)numel);
            bone_from_f32(buf[i], f, dt, (size_t)numel);
            free(f);
            src = buf[i];
        }
        w[i] = (bone_pth_wtensor){.name = names[i], .dtype = dt, .ndim = t[i].ndim, .data = src};
        memcpy(w[i].shape, t[i].shape, (size_t)t[i].ndim * sizeof *t[i].shape);
    }
    /* the official files list the tensors in model order: emb, ln0, the blocks, ln_out, head */
    bone_pth_wtensor *ord = xcalloc((size_t)(s.n ? s.n : 1), sizeof *ord);
    int64_t k = 0;
    for (int64_t b = -1; !rc && b <= d->layers; b++)
        for (int q = 0; q < NNAMES; q++) {
            int per = q >= PER_BLOCK_FIRST && q <= PER_BLOCK_LAST;
            int take = b == -1 ? q == 0 : b == d->layers ? q > PER_BLOCK_LAST : (per || (b == 0 && q > 0 && q < PER_BLOCK_FIRST));
            if (!take) continue;
            char want[256];
            pformat(NAMES[q].hf, b < 0 ? 0 : b, want, sizeof want);
            const rt *x = rfind(t, s.n, want); /* validated: present */
            if (x) ord[k++] = w[x - t];
        }
    BONE_ASSERT(rc || k == s.n, "rwkv export: every validated tensor is placed once");
    if (!rc) rc = bone_pth_write(out_pth, ord, s.n, e);
    for (int64_t i = 0; i < s.n; i++) {
        free(names[i]);
        free(buf[i]);
    }
    free(ord);
    free(names);
    free(buf);
    free(w);
    free(t);
    bone_st_close(&s);
    return rc;
}

/* ---- export: bone adapter → RWKV-PEFT slim .pth ------------------------------------------- */
int bone_rwkv_export_peft(const char *adapter_dir, const char *out_pth, const char **mode, int64_t *r, int64_t *ntensors,
                          bone_err *e) {
    char *cpath = bone_path_join(adapter_dir, "adapter_config.json");
    cJSON *cfg = bone_json_load_object(cpath, e);
    if (!cfg) { free(cpath); return -1; }
    int rc = 0;
    const char *pt = bone_json_str(cfg, "peft_type", cpath, e);
    const cJSON *iw = cJSON_GetObjectItemCaseSensitive(cfg, "init_weights");
    const char *variant = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cfg, "bone_variant"))
                              ? cJSON_GetObjectItemCaseSensitive(cfg, "bone_variant")->valuestring : NULL;
    int64_t rr = 0;
    if (!pt) rc = -1;
    else if (strcmp(pt, "MISS") && strcmp(pt, "BONE"))
        rc = bone_fail(e, "%s: peft_type \"%s\": RWKV-PEFT's slim .pth holds Bone/DiSHA blocks only (bone-row or bone-free "
                          "adapters); merge other adapters and use `bone export rwkv-pth`", cpath, pt);
    else if (bone_json_int(cfg, "r", cpath, &rr, e)) rc = -1;
    int is_bat = cJSON_IsString(iw) && !strcmp(iw->valuestring, "bat");
    int is_linear = cJSON_IsTrue(iw) || (iw == NULL);
    if (!rc) {
        if (is_bat && variant && !strcmp(variant, "row")) *mode = "bat";
        else if (is_linear && !variant) *mode = "bone";
        else
            rc = bone_fail(e, "%s: a %s adapter has no RWKV-PEFT form: RWKV-PEFT's \"bat\" indexes its blocks by input "
                              "column-block (bone-row) and its \"bone\" is the linear form (bone-free); bone-col/grid/"
                              "hadamard index by output. Merge it and use `bone export rwkv-pth` instead", cpath,
                           is_bat ? (variant ? variant : "bone-col") : "mini/other");
    }
    cJSON_Delete(cfg);
    free(cpath);
    if (rc) return -1;
    *r = rr;
    char *wpath = bone_path_join(adapter_dir, "adapter_model.safetensors");
    bone_st_set s;
    bone_st_init(&s);
    if (bone_st_open_file(&s, wpath, e)) { free(wpath); return -1; }
    bone_pth_wtensor *w = xcalloc((size_t)(s.n ? s.n : 1), sizeof *w);
    char **names = xcalloc((size_t)(s.n ? s.n : 1), sizeof *names);
    uint16_t **buf = xcalloc((size_t)(s.n ? s.n : 1), sizeof *buf);
    static const char PFX[] = "base_model.model.";
    for (int64_t i = 0; i < s.n && !rc; i++) {
        const bone_st_tensor *x = &s.t[i];
        const char *nm = x->name;
        size_t L = strlen(nm);
        const char *sfx = L > 11 && !strcmp(nm + L - 11, ".miss_block") ? ".miss_block"
                          : L > 11 && !strcmp(nm + L - 11, ".bone_block") ? ".bone_block" : NULL;
        if (strncmp(nm, PFX, sizeof PFX - 1) || !sfx || !x->supported) {
            rc = bone_fail(e, "%s: tensor %s is not a base_model.model.<module>.miss_block (or .bone_block) of F32/BF16/F16",
                           wpath, nm);
            break;
        }
        char hf[256], off[256];
        snprintf(hf, sizeof hf, "%.*s.weight", (int)(L - 11 - (sizeof PFX - 1)), nm + sizeof PFX - 1);
        int64_t blk;
        int k = lookup(hf, 1, &blk);
        if (k < 0 || NAMES[k].ndim != 2 || NAMES[k].dim[0] == X_V || !strstr(NAMES[k].off, ".weight")) {
            rc = bone_fail(e, "%s: %s adapts %s, which is not one of an RWKV-6 block's linears (attention.{receptance,key,"
                              "value,gate,output}, feed_forward.{key,receptance,value})", wpath, nm, hf);
            break;
        }
        pformat(NAMES[k].off, blk, off, sizeof off);
        off[strlen(off) - 7] = 0; /* drop ".weight" */
        size_t ol = strlen(off);
        snprintf(off + ol, sizeof off - ol, ".disha");
        int want_nd = !strcmp(*mode, "bat") ? 3 : 2;
        if (x->ndim != want_nd || x->shape[want_nd == 3 ? 1 : 0] != rr) {
            rc = bone_fail(e, "%s: %s has %d dims, expected %s with r = %lld", wpath, nm, x->ndim,
                           want_nd == 3 ? "[I/r, r, r]" : "[r, O]", (long long)rr);
            break;
        }
        names[i] = xstrdup(off);
        buf[i] = xmalloc((size_t)(x->numel ? x->numel : 1) * 2);
        float *f = xmalloc((size_t)(x->numel ? x->numel : 1) * 4);
        bone_to_f32(f, x->data, x->dtype, (size_t)x->numel);
        bone_from_f32(buf[i], f, BONE_BF16, (size_t)x->numel);
        free(f);
        w[i] = (bone_pth_wtensor){.name = names[i], .dtype = BONE_BF16, .ndim = x->ndim, .data = buf[i]};
        memcpy(w[i].shape, x->shape, (size_t)x->ndim * sizeof *x->shape);
    }
    if (!rc && !s.n) rc = bone_fail(e, "%s: no tensors", wpath);
    if (!rc) rc = bone_pth_write(out_pth, w, s.n, e);
    *ntensors = s.n;
    for (int64_t i = 0; i < s.n; i++) {
        free(names[i]);
        free(buf[i]);
    }
    free(names);
    free(buf);
    free(w);
    free(wpath);
    bone_st_close(&s);
    return rc;
}
