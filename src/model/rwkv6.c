/* rwkv6.c — RWKV-6 "Finch" (x060) on CPU behind the architecture seam (arch.h): the HF-layout
 * tensors (FORMATS.md §6.7), loading, full-FT and --train-extra parameters, saving, and the
 * family's step table entries. The block math (forward/backward, decode) is rwkv6_step.c; the
 * WKV recurrence is rwkv6_wkv.c. Every block linear goes through adapter/linear.h.
 *
 * Tensors per block N ("rwkv.blocks.N."): the 20 small ones of vec_names (norms, time_* mixes,
 * decay, bonus), all fp32 copies, and the 8 linears of lin_names, kept in their stored dtype.
 * Globals: rwkv.embeddings.weight (V,C), rwkv.blocks.0.pre_ln.{weight,bias} (ln0),
 * rwkv.ln_out.{weight,bias}, head.weight (V,C). */
#include "model/rwkv6.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "core/fs.h"
#include "core/rng.h"
#include "model/model.h"
#include "model/rwkv6_internal.h"

const char *const rwkv6_vec_names[RW_NVEC] = {
    "ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias",
    "attention.time_maa_x", "attention.time_maa_w", "attention.time_maa_k", "attention.time_maa_v",
    "attention.time_maa_r", "attention.time_maa_g", "attention.time_maa_w1", "attention.time_maa_w2",
    "attention.time_decay", "attention.time_decay_w1", "attention.time_decay_w2", "attention.time_faaaa",
    "attention.ln_x.weight", "attention.ln_x.bias", "feed_forward.time_maa_k", "feed_forward.time_maa_r"};

static size_t rw_mixer_ws(const bone_config *c, int64_t T) {
    (void)c, (void)T;
    return 0; /* WKV6's scratch is carved with the activations (rwkv6_step.c) */
}

static const char *const lin_names[RW_NLIN] = {
    "attention.receptance", "attention.key", "attention.value", "attention.gate", "attention.output",
    "feed_forward.key", "feed_forward.receptance", "feed_forward.value"};

const char *const rwkv6_glob_names[RW_NGLOB] = {"rwkv.blocks.0.pre_ln.weight", "rwkv.blocks.0.pre_ln.bias",
                                                "rwkv.ln_out.weight", "rwkv.ln_out.bias"};

/* shape of small tensor k, as HF stores it; returns ndim */
int rwkv6_vec_shape(const bone_config *c, int k, int64_t *s) {
    const int64_t C = c->hidden;
    switch (k) {
    case RW_MAA_W1: s[0] = C, s[1] = 5 * c->d_mix; return 2;
    case RW_MAA_W2: s[0] = 5, s[1] = c->d_mix, s[2] = C; return 3;
    case RW_DECAY_W1: s[0] = C, s[1] = c->d_decay; return 2;
    case RW_DECAY_W2: s[0] = c->d_decay, s[1] = C; return 2;
    case RW_FAAAA: s[0] = c->n_heads, s[1] = c->head_dim; return 2;
    case RW_LN1_W: case RW_LN1_B: case RW_LN2_W: case RW_LN2_B: case RW_LNX_W: case RW_LNX_B: s[0] = C; return 1;
    default: s[0] = 1, s[1] = 1, s[2] = C; return 3; /* time_maa_*, time_decay: [1,1,C] */
    }
}

static int64_t shape_numel(const int64_t *s, int nd) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= s[i];
    return n;
}

int64_t rwkv6_vec_numel(const bone_config *c, int k) {
    int64_t s[3];
    return shape_numel(s, rwkv6_vec_shape(c, k, s));
}

static void lin_shape(const bone_config *c, int p, int64_t *O, int64_t *I) {
    const int64_t C = c->hidden, F = c->inter;
    *O = p == RW_FK ? F : C;
    *I = p == RW_FV ? F : C;
}

static void rw_linear_info(const bone_config *c, int64_t l, int p, char *name, size_t n, int64_t *O, int64_t *I,
                           int *bias) {
    if (name) snprintf(name, n, "rwkv.blocks.%lld.%s", (long long)l, lin_names[p]);
    lin_shape(c, p, O, I);
    if (bias) *bias = 0;
}

/* --targets also takes the official names (att.key, ffn.value) and PEFT's suffix names
 * (key = attention.key and feed_forward.key; receptance, value likewise; gate; output) */
static unsigned rw_alias(const char *s, size_t n) {
    static const char *const off[RW_NLIN] = {"att.receptance", "att.key", "att.value", "att.gate", "att.output",
                                             "ffn.key", "ffn.receptance", "ffn.value"};
    unsigned bits = 0;
    for (int p = 0; p < RW_NLIN; p++) {
        const char *dot = strrchr(lin_names[p], '.');
        if ((strlen(off[p]) == n && !strncmp(s, off[p], n)) || (strlen(dot + 1) == n && !strncmp(s, dot + 1, n)))
            bits |= 1u << p;
    }
    return bits;
}

/* --train-extra groups: "time" (every small tensor whose name contains time) and "ln" (ln0,
 * ln1, ln2, ln_x, ln_out), as RWKV-PEFT trains them beside the adapter by default */
static int parse_extra(const char *s, int *want_time, int *want_ln, bone_err *e) {
    *want_time = *want_ln = 0;
    if (!s || !*s) return 0;
    const char *q = s;
    while (*q) {
        const char *end = strchr(q, ',');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        if (len == 4 && !strncmp(q, "time", 4)) *want_time = 1;
        else if (len == 2 && !strncmp(q, "ln", 2)) *want_ln = 1;
        else if (!(len == 4 && !strncmp(q, "none", 4)))
            return bone_fail(e, "--train-extra: unknown group \"%.*s\" (expected a list of time, ln, or none)", (int)len, q);
        q += len;
        if (*q == ',') q++;
    }
    return 0;
}

/* whether a tensor name (HF) belongs to the selected groups: RWKV-PEFT's rule, by substring */
static int extra_selects(const char *name, int want_time, int want_ln) {
    return (want_time && strstr(name, "time")) || (want_ln && strstr(name, "ln"));
}

static int64_t rw_extra_count(const bone_config *c, const char *extra, bone_err *e) {
    int wt, wl;
    if (parse_extra(extra, &wt, &wl, e)) return -1;
    int64_t n = 0;
    for (int k = 0; k < RW_NVEC; k++)
        if (extra_selects(rwkv6_vec_names[k], wt, wl)) n += c->n_layers * rwkv6_vec_numel(c, k);
    for (int g = 0; g < RW_NGLOB; g++)
        if (extra_selects(rwkv6_glob_names[g], wt, wl)) n += c->hidden;
    return n;
}

static void rw_describe(const bone_config *c, cJSON *o) {
    cJSON *r = cJSON_AddObjectToObject(o, "rwkv6");
    cJSON_AddNumberToObject(r, "head_size", (double)c->head_dim);
    cJSON_AddNumberToObject(r, "head_size_divisor", (double)c->head_div);
    cJSON_AddNumberToObject(r, "groupnorm_eps", 1e-5 * (double)(c->head_div * c->head_div));
    cJSON_AddNumberToObject(r, "layer_norm_epsilon", c->eps);
    cJSON_AddNumberToObject(r, "ln_out_eps", 1e-5);
    cJSON_AddNumberToObject(r, "block_linears", RW_NLIN);
    cJSON_AddBoolToObject(o, "tied_embeddings", 0);
}

static int64_t rw_full_count(const bone_config *c) {
    int64_t n = 2 * c->vocab * c->hidden + RW_NGLOB * c->hidden;
    for (int k = 0; k < RW_NVEC; k++) n += c->n_layers * rwkv6_vec_numel(c, k);
    for (int p = 0; p < RW_NLIN; p++) {
        int64_t O, I;
        lin_shape(c, p, &O, &I);
        n += c->n_layers * O * I;
    }
    return n;
}

static double rw_mixer_flops(const bone_config *c, int64_t T) {
    (void)T; /* recurrent: independent of the length */
    const double C = (double)c->hidden, n = (double)c->head_dim;
    const double lowrank = 2.0 * (C * 5 * c->d_mix + 5.0 * c->d_mix * C + 2.0 * C * c->d_decay);
    return lowrank + 5.0 * C * n; /* WKV: y += r·S and S = w·S + k·v per state element */
}

/* ---- loading ---- */

static bone_linear *rw_linear(bone_model *m, int64_t idx) {
    rw_model *r = m->arch_data;
    return &r->ly[idx / RW_NLIN].lin[idx % RW_NLIN];
}

static void rw_free(bone_model *m) {
    rw_model *r = m->arch_data;
    if (!r) return;
    if (r->ly)
        for (int64_t l = 0; l < m->cfg.n_layers; l++)
            for (int p = 0; p < RW_NLIN; p++) linear_destroy(&r->ly[l].lin[p]);
    free(r->ly);
    free(r->owned);
    free(r);
    m->arch_data = NULL;
}

/* a tensor name this model knows: 1, else 0 */
static int known(const bone_config *c, const char *name) {
    if (!strcmp(name, "head.weight") || !strcmp(name, "rwkv.embeddings.weight")) return 1;
    for (int g = 0; g < RW_NGLOB; g++)
        if (!strcmp(name, rwkv6_glob_names[g])) return 1;
    long long l;
    int off = 0;
    if (sscanf(name, "rwkv.blocks.%lld.%n", &l, &off) != 1 || off == 0 || l < 0 || l >= c->n_layers) return 0;
    char chk[64];
    snprintf(chk, sizeof chk, "rwkv.blocks.%lld.", l);
    if (strncmp(name, chk, strlen(chk))) return 0; /* "rwkv.blocks.01." and the like */
    const char *rest = name + off;
    for (int k = 0; k < RW_NVEC; k++)
        if (!strcmp(rest, rwkv6_vec_names[k])) return 1;
    for (int p = 0; p < RW_NLIN; p++)
        if (!strncmp(rest, lin_names[p], strlen(lin_names[p])) && !strcmp(rest + strlen(lin_names[p]), ".weight"))
            return 1;
    return 0;
}

/* the tensor with shape s (leading 1s may be absent, [C] for [1,1,C]) */
static const bone_st_tensor *get_shaped(const bone_st_set *st, const char *name, int nd, const int64_t *s,
                                        bone_err *e) {
    const bone_st_tensor *t = bone_st_find(st, name);
    if (!t) return bone_fail(e, "%s: tensor \"%s\" is missing", st->nfiles ? st->files[0].path : "model", name), NULL;
    int a = 0, b = 0;
    while (a < t->ndim && t->shape[a] == 1 && t->ndim - a > nd - b) a++;
    while (b < nd && s[b] == 1 && nd - b > t->ndim - a) b++;
    int ok = t->supported && t->ndim - a == nd - b;
    for (int i = 0; ok && i < nd - b; i++) ok = t->shape[a + i] == s[b + i];
    if (!ok) {
        char want[96] = "", got[96] = "";
        size_t k = 0;
        for (int i = 0; i < nd; i++) k += (size_t)snprintf(want + k, sizeof want - k, "%s%lld", i ? "," : "", (long long)s[i]);
        k = 0;
        for (int i = 0; i < t->ndim; i++)
            k += (size_t)snprintf(got + k, sizeof got - k, "%s%lld", i ? "," : "", (long long)t->shape[i]);
        bone_fail(e, "%s: tensor \"%s\" has shape [%s] and dtype %s; expected [%s] in F32, BF16 or F16",
                  st->files[t->file].path, name, got, t->dtype_name, want);
        return NULL;
    }
    return t;
}

static int rw_load(const char *dir, bone_model *m, bone_err *e) {
    (void)dir;
    bone_config *c = &m->cfg;
    const int64_t C = c->hidden, V = c->vocab, L = c->n_layers;
    for (int64_t i = 0; i < m->st.n; i++)
        if (!known(c, m->st.t[i].name))
            return bone_fail(e, "%s: unexpected tensor \"%s\" for an rwkv6 model with %lld layers (wrong architecture or "
                                "config?)", m->st.files[m->st.t[i].file].path, m->st.t[i].name, (long long)L);
    /* D_MIX and D_DECAY from the shapes (FORMATS.md §6.1) */
    const bone_st_tensor *t = bone_st_find(&m->st, "rwkv.blocks.0.attention.time_maa_w1");
    if (!t || t->ndim != 2 || t->shape[1] % 5 || t->shape[1] < 5)
        return bone_fail(e, "%s: rwkv.blocks.0.attention.time_maa_w1 must be [%lld, 5·D_MIX]", dir, (long long)C);
    c->d_mix = t->shape[1] / 5;
    t = bone_st_find(&m->st, "rwkv.blocks.0.attention.time_decay_w1");
    if (!t || t->ndim != 2 || t->shape[1] < 1)
        return bone_fail(e, "%s: rwkv.blocks.0.attention.time_decay_w1 must be [%lld, D_DECAY]", dir, (long long)C);
    c->d_decay = t->shape[1];
    rw_model *r = xcalloc(1, sizeof *r);
    m->arch_data = r;
    int64_t per = 0;
    for (int k = 0; k < RW_NVEC; k++) per += rwkv6_vec_numel(c, k);
    r->owned = xmalloc((size_t)(L * per + RW_NGLOB * C) * sizeof(float));
    float *cur = r->owned;
    int64_t s2[2] = {V, C};
    if (!(t = get_shaped(&m->st, "rwkv.embeddings.weight", 2, s2, e))) return -1;
    m->embed = (bone_wref){t->dtype, t->data};
    if (!(t = get_shaped(&m->st, "head.weight", 2, s2, e))) return -1;
    m->lm_head = (bone_wref){t->dtype, t->data};
    int64_t s1[1] = {C};
    for (int g = 0; g < RW_NGLOB; g++) {
        if (!(t = get_shaped(&m->st, rwkv6_glob_names[g], 1, s1, e))) return -1;
        r->g[g] = cur;
        cur += C;
        bone_to_f32(r->g[g], t->data, t->dtype, (size_t)C);
    }
    r->ly = xcalloc((size_t)L, sizeof *r->ly);
    char name[256];
    for (int64_t l = 0; l < L; l++) {
        rw_layer *ly = &r->ly[l];
        for (int k = 0; k < RW_NVEC; k++) {
            int64_t s[3];
            int nd = rwkv6_vec_shape(c, k, s);
            snprintf(name, sizeof name, "rwkv.blocks.%lld.%s", (long long)l, rwkv6_vec_names[k]);
            if (!(t = get_shaped(&m->st, name, nd, s, e))) return -1;
            ly->v[k] = cur;
            cur += t->numel;
            bone_to_f32(ly->v[k], t->data, t->dtype, (size_t)t->numel);
        }
        for (int p = 0; p < RW_NLIN; p++) {
            bone_linear *lin = &ly->lin[p];
            rw_linear_info(c, l, p, name, sizeof name, &lin->O, &lin->I, NULL);
            lin->name = xstrdup(name);
            snprintf(name, sizeof name, "%s.weight", lin->name);
            int64_t ws[2] = {lin->O, lin->I};
            if (!(t = get_shaped(&m->st, name, 2, ws, e))) return -1;
            linear_set_base(lin, (bone_wref){t->dtype, t->data}, NULL);
        }
    }
    return 0;
}

/* ---- trainable parameters: full, and --train-extra ---- */

/* the small tensors (selected: all when want_time and want_ln are both -1) into P, before
 * bone_params_alloc; rw_bind_params copies the values in and points the model at P after */
static void plan_small(bone_model *m, bone_params *P, int wt, int wl) {
    const bone_config *c = &m->cfg;
    char name[256];
    for (int g = 0; g < RW_NGLOB; g++)
        if (wt < 0 || extra_selects(rwkv6_glob_names[g], wt, wl)) {
            int64_t s[1] = {c->hidden};
            bone_params_add(P, rwkv6_glob_names[g], 1, s);
        }
    for (int64_t l = 0; l < c->n_layers; l++)
        for (int k = 0; k < RW_NVEC; k++)
            if (wt < 0 || extra_selects(rwkv6_vec_names[k], wt, wl)) {
                int64_t s[3];
                int nd = rwkv6_vec_shape(c, k, s);
                snprintf(name, sizeof name, "rwkv.blocks.%lld.%s", (long long)l, rwkv6_vec_names[k]);
                bone_params_add(P, name, nd, s);
            }
}

/* after bone_params_alloc: every small tensor that P holds is copied in and trains there */
static void rw_extra_bind(bone_model *m, bone_params *P) {
    const bone_config *c = &m->cfg;
    rw_model *r = m->arch_data;
    char name[256];
    for (int g = 0; g < RW_NGLOB; g++) {
        int64_t i = bone_params_find(P, rwkv6_glob_names[g]);
        if (i < 0 || r->dg[g]) continue;
        float *v = bone_params_value(P, i);
        memcpy(v, r->g[g], (size_t)c->hidden * sizeof(float));
        r->g[g] = v;
        r->dg[g] = bone_params_grad(P, i);
    }
    for (int64_t l = 0; l < c->n_layers; l++)
        for (int k = 0; k < RW_NVEC; k++) {
            rw_layer *ly = &r->ly[l];
            snprintf(name, sizeof name, "rwkv.blocks.%lld.%s", (long long)l, rwkv6_vec_names[k]);
            int64_t i = bone_params_find(P, name);
            if (i < 0 || ly->d[k]) continue;
            float *v = bone_params_value(P, i);
            memcpy(v, ly->v[k], (size_t)rwkv6_vec_numel(c, k) * sizeof(float));
            ly->v[k] = v;
            ly->d[k] = bone_params_grad(P, i);
        }
}

static int rw_train_extra(bone_model *m, const char *extra, bone_params *P, bone_err *e) {
    int wt, wl;
    if (parse_extra(extra, &wt, &wl, e)) return -1;
    if (P->value) return bone_fail(e, "--train-extra: the parameter store is already allocated");
    if (wt || wl) plan_small(m, P, wt, wl);
    return 0;
}

static void rw_make_trainable(bone_model *m, bone_params *P) {
    const bone_config *c = &m->cfg;
    rw_model *r = m->arch_data;
    const int64_t V = c->vocab, C = c->hidden, L = c->n_layers;
    int64_t s2[2] = {V, C};
    int64_t ie = bone_params_add(P, "rwkv.embeddings.weight", 2, s2), ih = bone_params_add(P, "head.weight", 2, s2);
    plan_small(m, P, -1, -1);
    int64_t *il = xmalloc((size_t)(L * RW_NLIN) * sizeof(int64_t));
    char name[256];
    for (int64_t l = 0; l < L; l++)
        for (int p = 0; p < RW_NLIN; p++) {
            bone_linear *lin = &r->ly[l].lin[p];
            int64_t ws[2] = {lin->O, lin->I};
            snprintf(name, sizeof name, "%s.weight", lin->name);
            il[l * RW_NLIN + p] = bone_params_add(P, name, 2, ws);
        }
    bone_params_alloc(P);
    float *v = bone_params_value(P, ie);
    bone_to_f32(v, m->embed.data, m->embed.dtype, (size_t)(V * C));
    m->embed = (bone_wref){BONE_F32, v};
    m->d_embed = bone_params_grad(P, ie);
    v = bone_params_value(P, ih);
    bone_to_f32(v, m->lm_head.data, m->lm_head.dtype, (size_t)(V * C));
    m->lm_head = (bone_wref){BONE_F32, v};
    m->d_lm_head = bone_params_grad(P, ih);
    rw_extra_bind(m, P);
    for (int64_t l = 0; l < L; l++)
        for (int p = 0; p < RW_NLIN; p++) {
            bone_linear *lin = &r->ly[l].lin[p];
            float *w = bone_params_value(P, il[l * RW_NLIN + p]);
            bone_to_f32(w, lin->w.data, lin->w.dtype, (size_t)(lin->O * lin->I));
            linear_set_base(lin, (bone_wref){BONE_F32, w}, NULL);
            lin->dw = bone_params_grad(P, il[l * RW_NLIN + p]);
        }
    free(il);
}

/* the trained --train-extra tensors beside an adapter (fp32, HF names) */
static int rw_save_extra(bone_model *m, const char *dir, bone_err *e) {
    const bone_config *c = &m->cfg;
    rw_model *r = m->arch_data;
    const int64_t cap = RW_NGLOB + c->n_layers * RW_NVEC;
    bone_st_wtensor *w = xcalloc((size_t)cap, sizeof *w);
    char **names = xcalloc((size_t)cap, sizeof *names);
    int64_t n = 0;
    char nm[256];
    for (int g = 0; g < RW_NGLOB; g++)
        if (r->dg[g]) {
            names[n] = xstrdup(rwkv6_glob_names[g]);
            w[n] = (bone_st_wtensor){.name = names[n], .dtype = BONE_F32, .ndim = 1, .data = r->g[g]};
            w[n++].shape[0] = c->hidden;
        }
    for (int64_t l = 0; l < c->n_layers; l++)
        for (int k = 0; k < RW_NVEC; k++)
            if (r->ly[l].d[k]) {
                snprintf(nm, sizeof nm, "rwkv.blocks.%lld.%s", (long long)l, rwkv6_vec_names[k]);
                names[n] = xstrdup(nm);
                w[n] = (bone_st_wtensor){.name = names[n], .dtype = BONE_F32, .data = r->ly[l].v[k]};
                w[n].ndim = rwkv6_vec_shape(c, k, w[n].shape);
                n++;
            }
    int rc = 0;
    if (n) {
        char *p = bone_path_join(dir, BONE_EXTRA_FILE);
        rc = bone_st_write(p, w, n, e);
        free(p);
    }
    for (int64_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(w);
    return rc;
}

/* DIR/train_extra.safetensors (if present) replaces the named small tensors' values */
static int rw_load_extra(bone_model *m, const char *dir, bone_err *e) {
    const bone_config *c = &m->cfg;
    rw_model *r = m->arch_data;
    char *p = bone_path_join(dir, BONE_EXTRA_FILE);
    if (!bone_file_exists(p)) {
        free(p);
        return 0;
    }
    bone_st_set st;
    bone_st_init(&st);
    int rc = bone_st_open_file(&st, p, e);
    char nm[256];
    for (int64_t i = 0; !rc && i < st.n; i++) {
        const bone_st_tensor *t = &st.t[i];
        float *dst = NULL;
        int64_t want = 0;
        for (int g = 0; g < RW_NGLOB && !dst; g++)
            if (!strcmp(t->name, rwkv6_glob_names[g])) dst = r->g[g], want = c->hidden;
        for (int64_t l = 0; l < c->n_layers && !dst; l++)
            for (int k = 0; k < RW_NVEC && !dst; k++) {
                snprintf(nm, sizeof nm, "rwkv.blocks.%lld.%s", (long long)l, rwkv6_vec_names[k]);
                if (!strcmp(t->name, nm)) dst = r->ly[l].v[k], want = rwkv6_vec_numel(c, k);
            }
        if (!dst) rc = bone_fail(e, "%s: tensor \"%s\" is not a time/ln tensor of this model", p, t->name);
        else if (!t->supported || t->numel != want)
            rc = bone_fail(e, "%s: tensor \"%s\" has %lld elements (dtype %s); expected %lld in F32/BF16/F16", p, t->name,
                           (long long)t->numel, t->dtype_name, (long long)want);
        else bone_to_f32(dst, t->data, t->dtype, (size_t)want);
    }
    bone_st_close(&st);
    free(p);
    return rc;
}

/* ---- saving and bone init (HF layout): the tensor walk for model.c's one writer ---- */

/* Every tensor in the state-dict order of HF's Rwkv6ForCausalLM (which decides the shards):
 * rwkv.embeddings, per block (pre_ln on block 0) ln1, ln2, the attention's own parameters then
 * its linears and ln_x, the feed-forward's mixes then its linears; rwkv.ln_out, head. With a
 * model m (save) each entry points at its values; each also carries its bone init stream,
 * numbered in the historical order (embeddings 0, head 1, pre_ln and ln_out 2-5, then per
 * block its 20 small tensors and 8 linears), so a seed gives the same model as before. */
static int64_t rw_walk(const bone_config *c, bone_model *m, bone_arch_tensor *t) {
    rw_model *r = m ? m->arch_data : NULL;
    const int64_t L = c->n_layers, C = c->hidden, V = c->vocab;
    int64_t n = 0;
    /* one tensor: kind 0 normal(0, init_range), 1 ones, 2 zeros, 3 init_vec of (layer, aux) */
#define PUT(ref_, lin_, stream_, kind_, l_, k_, nd_, shp_, ...)                                     \
    do {                                                                                            \
        if (t) {                                                                                    \
            bone_arch_tensor *x_ = &t[n];                                                           \
            snprintf(x_->name, sizeof x_->name, __VA_ARGS__);                                       \
            x_->ndim = (nd_);                                                                       \
            memcpy(x_->shape, (shp_), sizeof(int64_t) * (size_t)(nd_));                             \
            if (r) x_->ref = (ref_), x_->lin = (lin_);                                              \
            x_->stream = (uint64_t)(stream_);                                                       \
            x_->kind = (kind_), x_->layer = (l_), x_->aux = (k_);                                   \
        }                                                                                           \
        n++;                                                                                        \
    } while (0)
    const bone_wref none = {BONE_F32, NULL};
    int64_t s2[2] = {V, C}, s1[1] = {C};
    PUT(m ? m->embed : none, NULL, 0, 0, 0, 0, 2, s2, "rwkv.embeddings.weight");
    for (int64_t l = 0; l < L; l++) {
        rw_layer *ly = r ? &r->ly[l] : NULL;
        const int64_t base = 2 + RW_NGLOB + l * (RW_NVEC + RW_NLIN); /* the block's first stream */
        for (int g = 0; l == 0 && g < 2; g++) /* pre_ln weight (ones), bias (zeros) */
            PUT(((bone_wref){BONE_F32, r ? r->g[g] : NULL}), NULL, 2 + g, g % 2 == 0 ? 1 : 2, 0, 0, 1, s1, "%s",
                rwkv6_glob_names[g]);
        /* small tensors 0..15 (ln1, ln2, the attention's), linears r k v g o, ln_x, the
         * feed-forward's mixes, linears key receptance value */
        static const signed char seq[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                          -1 - RW_R, -1 - RW_K, -1 - RW_V, -1 - RW_G, -1 - RW_O,
                                          16, 17, 18, 19, -1 - RW_FK, -1 - RW_FR, -1 - RW_FV};
        for (size_t i = 0; i < sizeof seq; i++) {
            if (seq[i] >= 0) {
                const int k = seq[i];
                int64_t s[3];
                const int nd = rwkv6_vec_shape(c, k, s);
                PUT(((bone_wref){BONE_F32, ly ? ly->v[k] : NULL}), NULL, base + k, 3, l, k, nd, s,
                    "rwkv.blocks.%lld.%s", (long long)l, rwkv6_vec_names[k]);
            } else {
                const int p = -1 - seq[i];
                bone_linear *lin = ly ? &ly->lin[p] : NULL;
                int64_t ws[2];
                lin_shape(c, p, &ws[0], &ws[1]);
                PUT(lin ? lin->w : none, lin, base + RW_NVEC + p, 0, 0, 0, 2, ws, "rwkv.blocks.%lld.%s.weight",
                    (long long)l, lin_names[p]);
            }
        }
    }
    for (int g = 2; g < RW_NGLOB; g++) /* ln_out weight (ones), bias (zeros) */
        PUT(((bone_wref){BONE_F32, r ? r->g[g] : NULL}), NULL, 2 + g, g % 2 == 0 ? 1 : 2, 0, 0, 1, s1, "%s",
            rwkv6_glob_names[g]);
    PUT(m ? m->lm_head : none, NULL, 1, 0, 0, 0, 2, s2, "head.weight");
#undef PUT
    return n;
}

static int64_t rw_save_walk(bone_model *m, bone_arch_tensor *t) { return rw_walk(&m->cfg, m, t); }
static int64_t rw_init_walk(const bone_config *c, bone_arch_tensor *t) { return rw_walk(c, NULL, t); }

/* ---- a random model (bone init) ---- */

/* small tensor k of layer l at RWKV-LM's x060 initialisation (token-shift mixes that fall
 * with depth, decay from −6 to −1 across channels, bonus around the layer's ratio, the
 * low-rank mixes near zero); r is the tensor's own stream */
static void init_vec(const bone_config *c, int64_t l, int k, float *x, int64_t cnt, bone_rng *r) {
    const int64_t C = c->hidden, L = c->n_layers;
    const double r01 = L > 1 ? (double)l / (double)(L - 1) : 0.0, r1a0 = 1.0 - (double)l / (double)L;
    for (int64_t i = 0; i < cnt; i++) {
        const double dd = (double)(i % C) / (double)C, ch = C > 1 ? (double)(i % C) / (double)(C - 1) : 0.0;
        double v;
        switch (k) {
        case RW_LN1_W: case RW_LN2_W: case RW_LNX_W: v = 1.0; break;
        case RW_LN1_B: case RW_LN2_B: case RW_LNX_B: v = 0.0; break;
        case RW_MAA_X: case RW_MAA_W: case RW_MAA_K: case RW_FMAA_K: case RW_FMAA_R: v = 1.0 - pow(dd, r1a0); break;
        case RW_MAA_V: v = 1.0 - (pow(dd, r1a0) + 0.3 * r01); break;
        case RW_MAA_R: case RW_MAA_G: v = 1.0 - pow(dd, 0.5 * r1a0); break;
        case RW_DECAY: v = -6.0 + 5.0 * pow(ch, 0.7 + 1.3 * r01); break;
        case RW_FAAAA: v = r01 * (1.0 - ch) + (double)((i + 1) % 3 - 1) * 0.1; break;
        default: v = (bone_rng_uniform(r) * 2.0 - 1.0) * 1e-2; break; /* time_maa_w1/w2, time_decay_w1/w2 */
        }
        x[i] = (float)v;
    }
}

/* bone init: one tensor of rw_walk's list, drawn from its own stream (seed, stream) */
static void rw_init_draw(const bone_config *c, const bone_arch_tensor *t, uint64_t seed, float *x) {
    const int64_t cnt = shape_numel(t->shape, t->ndim);
    bone_rng r = bone_rng_seed(seed, t->stream);
    if (t->kind == 3) {
        init_vec(c, t->layer, (int)t->aux, x, cnt, &r);
        return;
    }
    for (int64_t i = 0; i < cnt; i++)
        x[i] = t->kind == 0 ? (float)(c->init_range * bone_rng_normal(&r)) : t->kind == 1 ? 1.0f : 0.0f;
}

const bone_arch_i bone_rwkv6_i = {
    .name = "rwkv6",
    .nproj = RW_NLIN,
    .proj_names = lin_names,
    .targets_help = "attention.{receptance,key,value,gate,output} and feed_forward.{key,receptance,value} "
                    "(rwkv.blocks.N.*), the official att.* / ffn.* forms, key/value/receptance (both blocks), gate, "
                    "output, or all-linear",
    .proj_alias = rw_alias,
    .linear_info = rw_linear_info,
    .full_count = rw_full_count,
    .describe = rw_describe,
    .extra_count = rw_extra_count,
    .load = rw_load,
    .free = rw_free,
    .linear = rw_linear,
    .make_trainable = rw_make_trainable,
    .train_extra = rw_train_extra,
    .extra_bind = rw_extra_bind,
    .save_extra = rw_save_extra,
    .load_extra = rw_load_extra,
    .save_walk = rw_save_walk,
    .acts_floats = rwkv6_acts_floats,
    .mixer_ws_floats = rw_mixer_ws,
    .step = rwkv6_step,
    .state_init = rwkv6_state_init,
    .decode = rwkv6_decode,
    .decode_many = rwkv6_decode_many,
    .mixer_flops = rw_mixer_flops,
    .init_walk = rw_init_walk,
    .init_draw = rw_init_draw,
};
