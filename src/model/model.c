/* model.c — Llama/Mistral/Qwen2 causal LM: loading from an HF directory, full-FT
 * parameters, and one fused forward(+backward) step over a padded batch; and the one model
 * writer of every family (bone_model_save_opts over the family's save_walk, arch.h).
 * The layer math lives in ops/; every projection goes through adapter/linear.h. */
#include "model/model.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "core/fs.h"
#include "model/arch.h"
#include "ops/ops.h"
#include "tokenizer/tokenizer.h"

const char *const bone_proj_names[BONE_NPROJ] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"};

static const char *proj_parent(int p) { return p <= BONE_O ? "self_attn" : "mlp"; }

void bone_proj_shape(const bone_config *c, int p, int64_t *O, int64_t *I) {
    int64_t H = c->hidden, qd = c->n_heads * c->head_dim, kd = c->n_kv * c->head_dim, F = c->inter;
    switch (p) {
    case BONE_Q: *O = qd; *I = H; break;
    case BONE_K: case BONE_V: *O = kd; *I = H; break;
    case BONE_O: *O = H; *I = qd; break;
    case BONE_GATE: case BONE_UP: *O = F; *I = H; break;
    default: *O = H; *I = F; break;
    }
}

int bone_proj_has_bias(const bone_config *c, int p) {
    if (p <= BONE_V) return c->qkv_bias;
    if (p == BONE_O) return c->o_bias;
    return c->mlp_bias;
}

bone_linear *bone_model_linear(bone_model *m, int64_t idx) {
    const bone_arch_i *ai = bone_arch_cfg(&m->cfg);
    if (ai->linear) return ai->linear(m, idx);
    return &m->layers[idx / BONE_NPROJ].proj[idx % BONE_NPROJ];
}

int bone_model_set_wkv_chunk(bone_model *m, int64_t chunk, bone_err *e) {
    if (chunk == 0) return 0;
    if (chunk < 1 || chunk > BONE_WKV_CHUNK_MAX)
        return bone_fail(e, "--wkv-chunk must be in [1, %d] tokens (default %d), got %lld", BONE_WKV_CHUNK_MAX,
                         BONE_WKV_CHUNK_DEFAULT, (long long)chunk);
    if (m->cfg.arch != BONE_ARCH_RWKV6)
        return bone_fail(e, "--wkv-chunk sets the chunk length of RWKV-6's WKV; a %s model has none",
                         bone_arch_name(m->cfg.arch));
    m->cfg.wkv_chunk = chunk;
    return 0;
}

int64_t bone_model_nproj(const bone_model *m) { return bone_arch_cfg(&m->cfg)->nproj; }

int64_t bone_model_nlinears(const bone_model *m) { return m->cfg.n_layers * bone_model_nproj(m); }

int bone_model_train_extra(bone_model *m, const char *extra, bone_params *P, bone_err *e) {
    const bone_arch_i *ai = bone_arch_cfg(&m->cfg);
    if (ai->train_extra) return ai->train_extra(m, extra, P, e);
    return ai->extra_count(&m->cfg, extra, e) < 0 ? -1 : 0;
}

int bone_model_save_extra(bone_model *m, const char *dir, bone_err *e) {
    const bone_arch_i *ai = bone_arch_cfg(&m->cfg);
    return ai->save_extra ? ai->save_extra(m, dir, e) : 0;
}

int bone_model_load_extra(bone_model *m, const char *dir, bone_err *e) {
    const bone_arch_i *ai = bone_arch_cfg(&m->cfg);
    return ai->load_extra ? ai->load_extra(m, dir, e) : 0;
}

void bone_model_extra_bind(bone_model *m, bone_params *P) {
    const bone_arch_i *ai = bone_arch_cfg(&m->cfg);
    if (ai->extra_bind) ai->extra_bind(m, P);
}

static int known_tensor(const bone_config *c, const char *name) {
    char buf[256];
    if (!strcmp(name, "model.embed_tokens.weight") || !strcmp(name, "model.norm.weight") ||
        !strcmp(name, "lm_head.weight"))
        return 1;
    for (int64_t l = 0; l < c->n_layers; l++) {
        snprintf(buf, sizeof buf, "model.layers.%lld.", (long long)l);
        size_t k = strlen(buf);
        if (strncmp(name, buf, k)) continue;
        const char *rest = name + k;
        if (!strcmp(rest, "input_layernorm.weight") || !strcmp(rest, "post_attention_layernorm.weight") ||
            !strcmp(rest, "self_attn.rotary_emb.inv_freq"))
            return 1;
        for (int p = 0; p < BONE_NPROJ; p++) {
            snprintf(buf, sizeof buf, "%s.%s.weight", proj_parent(p), bone_proj_names[p]);
            if (!strcmp(rest, buf)) return 1;
            snprintf(buf, sizeof buf, "%s.%s.bias", proj_parent(p), bone_proj_names[p]);
            if (!strcmp(rest, buf) && bone_proj_has_bias(c, p)) return 1;
        }
    }
    return 0;
}

/* copies a small tensor (norm or bias) into fp32 storage at dst */
static int load_vec(bone_model *m, const char *name, int64_t n, float *dst, bone_err *e) {
    const bone_st_tensor *t = bone_st_get(&m->st, name, 1, &n, e);
    if (!t) return -1;
    bone_to_f32(dst, t->data, t->dtype, (size_t)n);
    return 0;
}

int bone_model_load(const char *dir, bone_model *m, bone_err *e) {
    memset(m, 0, sizeof *m);
    bone_st_init(&m->st);
    char *cfgp = bone_path_join(dir, "config.json");
    int rc = bone_config_load(cfgp, &m->cfg, e);
    free(cfgp);
    if (rc) return -1;
    bone_config *c = &m->cfg;
    if (bone_st_open_dir(&m->st, dir, e)) return -1;
    const bone_arch_i *ai = bone_arch_cfg(c);
    if (ai->load) {
        if (ai->load(dir, m, e)) goto fail;
        return 0;
    }
    for (int64_t i = 0; i < m->st.n; i++)
        if (!known_tensor(c, m->st.t[i].name)) {
            bone_fail(e, "%s: unexpected tensor \"%s\" for a %s model with %lld layers (wrong architecture or config?)",
                      m->st.files[m->st.t[i].file].path, m->st.t[i].name, bone_arch_name(c->arch),
                      (long long)c->n_layers);
            goto fail;
        }
    int64_t H = c->hidden, V = c->vocab, L = c->n_layers;
    /* fp32 copies of norms and biases: (2L + 1)·H + biases */
    int64_t nvec = (2 * L + 1) * H;
    for (int p = 0; p < BONE_NPROJ; p++)
        if (bone_proj_has_bias(c, p)) {
            int64_t O, I;
            bone_proj_shape(c, p, &O, &I);
            nvec += L * O;
        }
    m->owned = xmalloc((size_t)nvec * sizeof(float));
    float *cur = m->owned;
    int64_t shp[2] = {V, H};
    const bone_st_tensor *t = bone_st_get(&m->st, "model.embed_tokens.weight", 2, shp, e);
    if (!t) goto fail;
    m->embed = (bone_wref){t->dtype, t->data};
    if (c->tied) {
        m->lm_head = m->embed;
    } else {
        if (!bone_st_find(&m->st, "lm_head.weight")) {
            bone_fail(e, "%s: lm_head.weight is missing and config.json says tie_word_embeddings is false", dir);
            goto fail;
        }
        t = bone_st_get(&m->st, "lm_head.weight", 2, shp, e);
        if (!t) goto fail;
        m->lm_head = (bone_wref){t->dtype, t->data};
    }
    m->norm = cur;
    cur += H;
    if (load_vec(m, "model.norm.weight", H, m->norm, e)) goto fail;
    m->layers = xcalloc((size_t)L, sizeof *m->layers);
    char name[256];
    for (int64_t l = 0; l < L; l++) {
        bone_layer *ly = &m->layers[l];
        ly->ln1 = cur;
        cur += H;
        ly->ln2 = cur;
        cur += H;
        snprintf(name, sizeof name, "model.layers.%lld.input_layernorm.weight", (long long)l);
        if (load_vec(m, name, H, ly->ln1, e)) goto fail;
        snprintf(name, sizeof name, "model.layers.%lld.post_attention_layernorm.weight", (long long)l);
        if (load_vec(m, name, H, ly->ln2, e)) goto fail;
        for (int p = 0; p < BONE_NPROJ; p++) {
            bone_linear *lin = &ly->proj[p];
            int64_t O, I;
            bone_proj_shape(c, p, &O, &I);
            snprintf(name, sizeof name, "model.layers.%lld.%s.%s", (long long)l, proj_parent(p), bone_proj_names[p]);
            lin->name = xstrdup(name);
            lin->O = O;
            lin->I = I;
            snprintf(name, sizeof name, "%s.weight", lin->name);
            int64_t ws[2] = {O, I};
            t = bone_st_get(&m->st, name, 2, ws, e);
            if (!t) goto fail;
            linear_set_base(lin, (bone_wref){t->dtype, t->data}, NULL);
            if (bone_proj_has_bias(c, p)) {
                float *b = cur;
                cur += O;
                snprintf(name, sizeof name, "%s.bias", lin->name);
                if (load_vec(m, name, O, b, e)) goto fail;
                lin->bias = b;
            }
        }
    }
    return 0;
fail:
    bone_model_free(m);
    return -1;
}

/* elements of x whose exponent bits (mask) are all ones: a branch-free count the compiler
 * vectorises (the byte-wise loads because a mapping is only byte-aligned for odd headers) */
static int64_t count_exp_ones(const unsigned char *x, int64_t n, int wide, uint32_t mask) {
    int64_t c = 0;
    if (wide) {
#pragma omp simd reduction(+ : c)
        for (int64_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, x + 4 * i, 4);
            c += (u & mask) == mask;
        }
    } else {
#pragma omp simd reduction(+ : c)
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, x + 2 * i, 2);
            c += (uint32_t)(h & mask) == mask;
        }
    }
    return c;
}

int64_t bone_st_count_nonfinite(const bone_st_set *s, int64_t *first_t, int64_t *first_i) {
    int64_t cnt = 0;
    *first_t = *first_i = -1;
    for (int64_t t = 0; t < s->n; t++) {
        const bone_st_tensor *x = &s->t[t];
        if (!x->supported) continue;
        const int wide = x->dtype == BONE_F32;
        const uint32_t mask = wide ? 0x7f800000u : x->dtype == BONE_BF16 ? 0x7f80u : 0x7c00u;
        const int64_t c = count_exp_ones(x->data, x->numel, wide, mask);
        if (c && *first_t < 0) { /* only now look for where */
            const size_t es = wide ? 4 : 2;
            int64_t i = 0;
            while (!count_exp_ones((const unsigned char *)x->data + (size_t)i * es, 1, wide, mask)) i++;
            *first_t = t;
            *first_i = i;
        }
        cnt += c;
    }
    return cnt;
}

int bone_model_check_finite(const bone_model *m, const bone_params *P, bone_err *e) {
    int64_t ft, fi;
    int64_t n = bone_st_count_nonfinite(&m->st, &ft, &fi);
    if (n) {
        const bone_st_tensor *t = &m->st.t[ft];
        float v = 0.0f;
        bone_to_f32(&v, (const char *)t->data + (size_t)fi * bone_dtype_size(t->dtype), t->dtype, 1);
        return bone_fail(e, "%s: %lld non-finite weight(s); the first is %s[%lld] = %g", m->st.files[t->file].path,
                         (long long)n, t->name, (long long)fi, (double)v);
    }
    if (!P || !P->value) return 0;
    for (int64_t k = 0; k < P->n; k++) {
        const float *v = P->value + P->p[k].offset;
        for (int64_t i = 0; i < P->p[k].numel; i++)
            if (!isfinite(v[i]))
                return bone_fail(e, "the adapter has a non-finite value: %s[%lld] = %g", P->p[k].name, (long long)i,
                                 (double)v[i]);
    }
    return 0;
}

void bone_model_free(bone_model *m) {
    const bone_arch_i *ai = bone_arch_cfg(&m->cfg);
    if (ai->free) ai->free(m);
    if (m->layers)
        for (int64_t l = 0; l < m->cfg.n_layers; l++)
            for (int p = 0; p < BONE_NPROJ; p++) linear_destroy(&m->layers[l].proj[p]);
    free(m->layers);
    free(m->owned);
    bone_lin_ctx_free(&m->lin);
    bone_st_close(&m->st);
    memset(m, 0, sizeof *m);
}

/* ---- full fine-tuning ---- */

/* Drops this process's pages of a tensor that has just been copied out of a safetensors
 * mapping. Full fine-tuning reads every weight once (the copy into the parameter buffer)
 * and afterwards only its fp32 copy, yet the mapping stays until bone_model_free: without
 * this its pages count in RSS for the whole run (222 MiB on bench/configs/small.json).
 * The mapping is read-only and private, never written, so MADV_DONTNEED only unmaps clean
 * page-cache pages: the data stays valid and a later read faults it back from the file.
 * Only whole pages strictly inside the tensor are dropped (a shared boundary page may hold
 * a neighbour's bytes; at most two pages stay per tensor), and only if the range lies in
 * one of the model's mappings — on anonymous memory (a weight some code already replaced
 * by an owned copy) DONTNEED would zero the data. */
static void release_mapped(const bone_st_set *st, const void *data, size_t nbytes) {
    const uintptr_t a = (uintptr_t)data, end = a + nbytes;
    int mapped = 0;
    for (int f = 0; f < st->nfiles && !mapped; f++) {
        const uintptr_t m0 = (uintptr_t)st->files[f].map;
        mapped = st->files[f].map && a >= m0 && end <= m0 + st->files[f].size;
    }
    if (!mapped) return;
    const long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0) return;
    const uintptr_t p = (uintptr_t)pg, lo = (a + p - 1) & ~(p - 1), hi = end & ~(p - 1);
    /* advisory: on failure the pages merely stay resident */
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* converts a stored weight of n elements into dst (fp32), then releases its mapped pages */
static void take_weight(const bone_st_set *st, float *dst, bone_wref w, int64_t n) {
    bone_to_f32(dst, w.data, w.dtype, (size_t)n);
    release_mapped(st, w.data, (size_t)n * bone_dtype_size(w.dtype));
}

typedef struct { const char *name; int64_t idx; } planned;

void bone_model_make_trainable(bone_model *m, bone_params *P) {
    const bone_arch_i *ai = bone_arch_cfg(&m->cfg);
    if (ai->make_trainable) {
        ai->make_trainable(m, P);
        return;
    }
    bone_config *c = &m->cfg;
    int64_t H = c->hidden, V = c->vocab, L = c->n_layers;
    char name[256];
    int64_t s2[2] = {V, H}, s1[1] = {H};
    int64_t i_embed = bone_params_add(P, "model.embed_tokens.weight", 2, s2);
    int64_t i_head = c->tied ? -1 : bone_params_add(P, "lm_head.weight", 2, s2);
    int64_t i_norm = bone_params_add(P, "model.norm.weight", 1, s1);
    int64_t *idx = xmalloc((size_t)L * (2 + 2 * BONE_NPROJ) * sizeof(int64_t));
    for (int64_t l = 0; l < L; l++) {
        int64_t *li = idx + l * (2 + 2 * BONE_NPROJ);
        snprintf(name, sizeof name, "model.layers.%lld.input_layernorm.weight", (long long)l);
        li[0] = bone_params_add(P, name, 1, s1);
        snprintf(name, sizeof name, "model.layers.%lld.post_attention_layernorm.weight", (long long)l);
        li[1] = bone_params_add(P, name, 1, s1);
        for (int p = 0; p < BONE_NPROJ; p++) {
            bone_linear *lin = &m->layers[l].proj[p];
            int64_t ws[2] = {lin->O, lin->I}, bs[1] = {lin->O};
            snprintf(name, sizeof name, "%s.weight", lin->name);
            li[2 + 2 * p] = bone_params_add(P, name, 2, ws);
            li[3 + 2 * p] = -1;
            if (lin->bias) {
                snprintf(name, sizeof name, "%s.bias", lin->name);
                li[3 + 2 * p] = bone_params_add(P, name, 1, bs);
            }
        }
    }
    bone_params_alloc(P);
    float *ev = bone_params_value(P, i_embed);
    /* with tied embeddings lm_head aliases these pages: it is re-pointed to the copy below */
    take_weight(&m->st, ev, m->embed, V * H);
    m->embed = (bone_wref){BONE_F32, ev};
    m->d_embed = bone_params_grad(P, i_embed);
    if (c->tied) {
        m->lm_head = m->embed;
        m->d_lm_head = m->d_embed;
    } else {
        float *hv = bone_params_value(P, i_head);
        take_weight(&m->st, hv, m->lm_head, V * H);
        m->lm_head = (bone_wref){BONE_F32, hv};
        m->d_lm_head = bone_params_grad(P, i_head);
    }
    float *nv = bone_params_value(P, i_norm);
    memcpy(nv, m->norm, (size_t)H * sizeof(float));
    m->norm = nv;
    m->dnorm = bone_params_grad(P, i_norm);
    for (int64_t l = 0; l < L; l++) {
        int64_t *li = idx + l * (2 + 2 * BONE_NPROJ);
        bone_layer *ly = &m->layers[l];
        float *a = bone_params_value(P, li[0]);
        memcpy(a, ly->ln1, (size_t)H * sizeof(float));
        ly->ln1 = a;
        ly->dln1 = bone_params_grad(P, li[0]);
        a = bone_params_value(P, li[1]);
        memcpy(a, ly->ln2, (size_t)H * sizeof(float));
        ly->ln2 = a;
        ly->dln2 = bone_params_grad(P, li[1]);
        for (int p = 0; p < BONE_NPROJ; p++) {
            bone_linear *lin = &ly->proj[p];
            float *w = bone_params_value(P, li[2 + 2 * p]);
            take_weight(&m->st, w, lin->w, lin->O * lin->I);
            linear_set_base(lin, (bone_wref){BONE_F32, w}, NULL);
            lin->dw = bone_params_grad(P, li[2 + 2 * p]);
            if (li[3 + 2 * p] >= 0) {
                float *b = bone_params_value(P, li[3 + 2 * p]);
                memcpy(b, lin->bias, (size_t)lin->O * sizeof(float));
                lin->bias = b;
                lin->dbias = bone_params_grad(P, li[3 + 2 * p]);
            }
        }
    }
    free(idx);
}

/* ---- saving ---- */

static int copy_if_present(const char *src_dir, const char *dst_dir, const char *name, bone_err *e) {
    char *s = bone_path_join(src_dir, name), *d = bone_path_join(dst_dir, name);
    int rc = bone_file_exists(s) ? bone_copy_file(s, d, e) : 0;
    free(s);
    free(d);
    return rc;
}

int bone_copy_tokenizer_files(const char *src_dir, const char *dst_dir, bone_err *e) {
    /* the tokenizer module's own list (what its loader reads), then the model's generation defaults */
    for (const char *const *f = bone_tokenizer_files(); *f; f++)
        if (copy_if_present(src_dir, dst_dir, *f, e)) return -1;
    return copy_if_present(src_dir, dst_dir, "generation_config.json", e);
}

/* Llama's tensors in transformers' state-dict order (what decides the shards): embed, each
 * layer's attention and MLP projections (weight, bias) then its norms, the final norm, lm_head */
static int64_t llama_save_walk(bone_model *m, bone_arch_tensor *t) {
    const bone_config *c = &m->cfg;
    const int64_t L = c->n_layers, H = c->hidden, V = c->vocab;
    int64_t n = 0;
#define ADD_T(ref_, lin_, d0, d1, ...)                                                         \
    do {                                                                                       \
        if (t) {                                                                               \
            bone_arch_tensor *x_ = &t[n];                                                      \
            snprintf(x_->name, sizeof x_->name, __VA_ARGS__);                                  \
            x_->ref = (ref_);                                                                  \
            x_->lin = (lin_);                                                                  \
            x_->ndim = (d1) ? 2 : 1;                                                           \
            x_->shape[0] = (d0);                                                               \
            x_->shape[1] = (d1);                                                               \
        }                                                                                      \
        n++;                                                                                   \
    } while (0)
    ADD_T(m->embed, NULL, V, H, "model.embed_tokens.weight");
    for (int64_t l = 0; l < L; l++) {
        bone_layer *ly = &m->layers[l];
        for (int p = 0; p < BONE_NPROJ; p++) {
            bone_linear *lin = &ly->proj[p];
            ADD_T(lin->w, lin, lin->O, lin->I, "%s.weight", lin->name);
            if (lin->bias) ADD_T(((bone_wref){BONE_F32, lin->bias}), NULL, lin->O, 0, "%s.bias", lin->name);
        }
        ADD_T(((bone_wref){BONE_F32, ly->ln1}), NULL, H, 0, "model.layers.%lld.input_layernorm.weight", (long long)l);
        ADD_T(((bone_wref){BONE_F32, ly->ln2}), NULL, H, 0, "model.layers.%lld.post_attention_layernorm.weight",
              (long long)l);
    }
    ADD_T(((bone_wref){BONE_F32, m->norm}), NULL, H, 0, "model.norm.weight");
    if (!c->tied) ADD_T(m->lm_head, NULL, V, H, "lm_head.weight");
#undef ADD_T
    return n;
}

/* one tensor of a save: where its values come from */
typedef struct {
    bone_model *m;
    const bone_arch_tensor *at; /* the family's entry: the stored (or fp32) values, the linear */
    const bone_save_opts *o;
} save_src;

/* bone_st_produce_fn: the fp32 values of one tensor, made when the writer reaches it */
static int save_produce(void *ctx, const bone_st_wtensor *t, float *buf, bone_err *e) {
    const save_src *s = ctx;
    const bone_wref ref = s->at->ref;
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    int done = 0;
    if (s->at->lin && s->o && s->o->linear_weight) {
        done = s->o->linear_weight(s->o->ctx, s->at->lin, buf, e);
        if (done < 0) return -1;
    }
    /* a mapped weight's pages leave RSS once read (a 7B merge would otherwise end holding every
     * page of the base it read); a conversion releases them as it goes, so that the fp32
     * buffer is the only full-size copy in memory (a 7B embedding is 0.5 GiB in bf16) */
    const size_t es = bone_dtype_size(ref.dtype);
    const char *src = ref.data;
    const int64_t step = (int64_t)1 << 20; /* elements converted between releases */
    for (int64_t k = 0; !done && k < n; k += step) {
        const int64_t m = n - k < step ? n - k : step;
        bone_to_f32(buf + k, src + (size_t)k * es, ref.dtype, (size_t)m);
        /* from the page holding element k (released with the previous piece unless it is the
         * tensor's first, which may be shared with the tensor before) */
        const uintptr_t lo = (uintptr_t)(src + (size_t)k * es) & ~(uintptr_t)4095;
        const char *from = k && lo > (uintptr_t)src ? (const char *)lo : src;
        release_mapped(&s->m->st, from, (size_t)(src + (size_t)(k + m) * es - from));
    }
    if (done) release_mapped(&s->m->st, src, (size_t)n * es);
    return 0;
}

/* Every family's save goes through here: the family lists its tensors (arch.h save_walk), and
 * each is produced (converted, or merged) only when the sharded writer reaches it. */
int bone_model_save_opts(bone_model *m, const char *dir, bone_dtype out_dtype, const bone_save_opts *o,
                         bone_err *e) {
    const bone_arch_i *ai = bone_arch_cfg(&m->cfg);
    int64_t (*walk)(bone_model *, bone_arch_tensor *) = ai->save_walk ? ai->save_walk : llama_save_walk;
    const int64_t n = walk(m, NULL);
    bone_arch_tensor *at = xcalloc((size_t)n + 1, sizeof *at);
    walk(m, at);
    bone_st_wtensor *w = xcalloc((size_t)n + 1, sizeof *w);
    save_src *src = xcalloc((size_t)n + 1, sizeof *src);
    for (int64_t i = 0; i < n; i++) {
        bone_linear *lin = at[i].lin;
        BONE_ASSERT(!lin || lin->ops == NULL || (o && o->linear_weight), "merge adapters before saving a model");
        src[i] = (save_src){m, &at[i], o};
        w[i].name = at[i].name;
        w[i].dtype = out_dtype;
        w[i].ndim = at[i].ndim;
        memcpy(w[i].shape, at[i].shape, sizeof at[i].shape);
        w[i].produce = save_produce;
        w[i].ctx = &src[i];
    }
    bone_config cc = m->cfg;
    cc.dtype = out_dtype;
    bone_adir ad;
    int rc = bone_adir_open(&ad, dir, e);
    if (!rc) {
        rc = bone_st_write_sharded(ad.tmp, w, n, o ? o->max_shard : 0, NULL, e);
        if (!rc) {
            char *p = bone_path_join(ad.tmp, "config.json");
            rc = bone_config_save(&cc, p, e);
            free(p);
        }
        if (!rc && o && o->tok_src) rc = bone_copy_tokenizer_files(o->tok_src, ad.tmp, e);
        if (!rc) rc = bone_adir_commit(&ad, e);
        else bone_adir_abort(&ad);
    }
    free(src);
    free(w);
    free(at);
    return rc;
}

int bone_model_save(bone_model *m, const char *dir, bone_dtype out_dtype, bone_err *e) {
    return bone_model_save_opts(m, dir, out_dtype, NULL, e);
}
