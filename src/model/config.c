/* config.c — config.json parsing/validation and writing (see config.h, FORMATS.md §2.1). */
#include "model/config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"
#include "io/json.h"

const char *bone_arch_name(bone_arch a) {
    if (a == BONE_ARCH_RWKV6) return "rwkv6";
    return a == BONE_ARCH_QWEN2 ? "qwen2" : a == BONE_ARCH_MISTRAL ? "mistral" : "llama";
}

static const char *arch_class(bone_arch a) {
    if (a == BONE_ARCH_RWKV6) return "Rwkv6ForCausalLM";
    return a == BONE_ARCH_QWEN2 ? "Qwen2ForCausalLM" : a == BONE_ARCH_MISTRAL ? "MistralForCausalLM" : "LlamaForCausalLM";
}

/* Size limits far above any released model, so that shape products (parameter counts, buffer
 * sizes) stay well inside int64 and a hostile config cannot ask for absurd allocations. */
#define MAX_VOCAB (1ll << 24)
#define MAX_HIDDEN (1ll << 18)
#define MAX_INTER (1ll << 20)
#define MAX_LAYERS (1ll << 12)
#define MAX_HEADS (1ll << 12)
#define MAX_HEAD_DIM (1ll << 12)
#define MAX_POS (1ll << 30)
/* a model config has a few dozen keys; tens of thousands is a broken or hostile file */
#define MAX_KEYS 10000

static int positive(const cJSON *o, const char *key, const char *path, int64_t max, int64_t *out, bone_err *e) {
    if (bone_json_int(o, key, path, out, e)) return -1;
    if (*out <= 0) return bone_fail(e, "%s: field \"%s\" must be a positive integer, got %lld", path, key, (long long)*out);
    if (*out > max)
        return bone_fail(e, "%s: field \"%s\" = %lld is larger than bone supports (at most %lld)", path, key,
                         (long long)*out, (long long)max);
    return 0;
}

/* A token id (or a list of them: eos may be one; the first is the primary), each in
 * [0, vocab). pad_token_id -1 means "none", as some older Llama configs write it. */
static int read_token_id(const cJSON *o, const char *key, const char *path, int64_t vocab, int64_t *out,
                         bone_err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = -1;
    if (!v || cJSON_IsNull(v)) return 0;
    const cJSON *first = cJSON_IsArray(v) ? v->child : v;
    for (const cJSON *x = first; x; x = cJSON_IsArray(v) ? x->next : NULL) {
        int64_t id;
        if (!bone_json_is_int(x, &id))
            return bone_fail(e, "%s: field \"%s\" must be an integer or a list of integers", path, key);
        if (id == -1 && !strcmp(key, "pad_token_id") && x == v) continue;
        if (id < 0 || id >= vocab)
            return bone_fail(e, "%s: field \"%s\" = %lld is outside the vocabulary [0, %lld)", path, key, (long long)id,
                             (long long)vocab);
        if (x == first) *out = id;
    }
    return 0;
}

/* an optional number that must be finite and > 0 (1e999 reads as inf, and inf > 0) */
static int finite_positive(const cJSON *o, const char *key, const char *path, double dflt, double *out, bone_err *e) {
    if (bone_json_num_opt(o, key, path, dflt, out, e)) return -1;
    if (!isfinite(*out) || !(*out > 0))
        return bone_fail(e, "%s: field \"%s\" must be a finite number > 0, got %g", path, key, *out);
    return 0;
}

/* rope: rope_parameters (v5) is authoritative; else rope_theta + rope_scaling. */
static int parse_rope(const cJSON *o, const char *path, bone_config *c, bone_err *e) {
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(o, "rope_parameters");
    const cJSON *sc = NULL;
    c->rope_theta = 10000.0;
    if (rp && !cJSON_IsNull(rp)) {
        if (!cJSON_IsObject(rp)) return bone_fail(e, "%s: field \"rope_parameters\" must be an object", path);
        const cJSON *fa = cJSON_GetObjectItemCaseSensitive(rp, "full_attention");
        if (cJSON_IsObject(fa)) rp = fa;
        if (finite_positive(rp, "rope_theta", path, 10000.0, &c->rope_theta, e)) return -1;
        sc = rp;
    } else {
        if (finite_positive(o, "rope_theta", path, 10000.0, &c->rope_theta, e)) return -1;
        sc = cJSON_GetObjectItemCaseSensitive(o, "rope_scaling");
        if (sc && cJSON_IsNull(sc)) sc = NULL;
        if (sc && !cJSON_IsObject(sc)) return bone_fail(e, "%s: field \"rope_scaling\" must be null or an object", path);
    }
    c->rope_type = BONE_ROPE_DEFAULT;
    if (!sc) return 0;
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(sc, "rope_type");
    if (!ty) ty = cJSON_GetObjectItemCaseSensitive(sc, "type");
    if (!ty || cJSON_IsNull(ty)) return 0;
    if (!cJSON_IsString(ty)) return bone_fail(e, "%s: rope_scaling.rope_type must be a string", path);
    const char *t = ty->valuestring;
    if (!strcmp(t, "default")) return 0;
    if (!strcmp(t, "linear")) {
        c->rope_type = BONE_ROPE_LINEAR;
        if (bone_json_num(sc, "factor", path, &c->rope_factor, e)) return -1;
        if (!isfinite(c->rope_factor) || !(c->rope_factor > 0))
            return bone_fail(e, "%s: rope_scaling.factor must be a finite number > 0", path);
        return 0;
    }
    if (!strcmp(t, "llama3")) {
        c->rope_type = BONE_ROPE_LLAMA3;
        if (bone_json_num(sc, "factor", path, &c->rope_factor, e) ||
            bone_json_num(sc, "low_freq_factor", path, &c->rope_low, e) ||
            bone_json_num(sc, "high_freq_factor", path, &c->rope_high, e) ||
            bone_json_int(sc, "original_max_position_embeddings", path, &c->rope_orig_max, e))
            return bone_wrap(e, "rope_scaling (llama3)");
        if (!isfinite(c->rope_factor) || !isfinite(c->rope_high) || !(c->rope_factor > 0) || !(c->rope_low > 0) ||
            !(c->rope_high > c->rope_low) || c->rope_orig_max <= 0)
            return bone_fail(e, "%s: rope_scaling llama3 needs factor > 0, 0 < low_freq_factor < high_freq_factor, "
                                "original_max_position_embeddings > 0", path);
        return 0;
    }
    return bone_fail(e, "%s: rope_scaling type \"%s\" is not supported (supported: default, linear, llama3)", path, t);
}

/* RWKV-6 (FORMATS.md §6.1, §6.7): the number of heads is attention_hidden_size / head_size
 * (num_attention_heads, often 64 in published configs, is not used by the model and is
 * ignored); intermediate_size null means int((C·3.5)//32·32); head_size_divisor sets the
 * GroupNorm eps (1e-5·divisor²). D_MIX/D_DECAY come from the tensor shapes at load; the rule
 * below is only for config-only uses (count). */
static int parse_rwkv6(const cJSON *o, const char *path, bone_config *c, bone_err *e) {
    const cJSON *ar = cJSON_GetObjectItemCaseSensitive(o, "architectures");
    if (ar && cJSON_IsArray(ar))
        for (const cJSON *a = ar->child; a; a = a->next)
            if (!cJSON_IsString(a) || strcmp(a->valuestring, "Rwkv6ForCausalLM"))
                return bone_fail(e, "%s: architectures lists \"%s\"; only Rwkv6ForCausalLM is supported for model_type "
                                    "rwkv6", path, cJSON_IsString(a) ? a->valuestring : "?");
    int64_t att;
    if (positive(o, "vocab_size", path, MAX_VOCAB, &c->vocab, e) ||
        positive(o, "hidden_size", path, MAX_HIDDEN, &c->hidden, e) ||
        positive(o, "num_hidden_layers", path, MAX_LAYERS, &c->n_layers, e))
        return -1;
    if (bone_json_int_opt(o, "attention_hidden_size", path, c->hidden, &att, e) ||
        bone_json_int_opt(o, "head_size", path, 64, &c->head_dim, e) ||
        bone_json_int_opt(o, "head_size_divisor", path, 8, &c->head_div, e))
        return -1;
    if (att != c->hidden)
        return bone_fail(e, "%s: attention_hidden_size (%lld) differs from hidden_size (%lld); RWKV-6 with dim_att != "
                            "n_embd is not supported", path, (long long)att, (long long)c->hidden);
    if (c->head_dim <= 0 || c->head_dim > 1024 || att % c->head_dim)
        return bone_fail(e, "%s: head_size (%lld) must be in [1, 1024] and divide attention_hidden_size (%lld)", path,
                         (long long)c->head_dim, (long long)att);
    if (c->head_div <= 0 || c->head_div > 1024)
        return bone_fail(e, "%s: head_size_divisor must be in [1, 1024], got %lld", path, (long long)c->head_div);
    c->n_heads = c->n_kv = att / c->head_dim;
    const cJSON *is = cJSON_GetObjectItemCaseSensitive(o, "intermediate_size");
    if (!is || cJSON_IsNull(is)) c->inter = c->hidden * 7 / 64 * 32; /* int((C·3.5)//32·32) */
    else if (positive(o, "intermediate_size", path, MAX_INTER, &c->inter, e)) return -1;
    if (finite_positive(o, "layer_norm_epsilon", path, 1e-5, &c->eps, e)) return -1;
    if (bone_json_bool_opt(o, "tie_word_embeddings", path, 0, &c->tied, e)) return -1;
    if (c->tied) return bone_fail(e, "%s: tie_word_embeddings is true; RWKV-6's head is never tied to its embeddings", path);
    c->max_pos = MAX_POS; /* a recurrent model: no position limit */
    c->init_range = 0.02;
    c->d_mix = c->hidden >= 4096 ? 64 : 32;
    c->d_decay = c->hidden >= 4096 ? 128 : 64;
    if (read_token_id(o, "bos_token_id", path, c->vocab, &c->bos, e) ||
        read_token_id(o, "eos_token_id", path, c->vocab, &c->eos, e) ||
        read_token_id(o, "pad_token_id", path, c->vocab, &c->pad, e))
        return -1;
    c->dtype = BONE_F32;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, "torch_dtype");
    if (dt && cJSON_IsString(dt))
        c->dtype = !strcmp(dt->valuestring, "bfloat16") ? BONE_BF16 : !strcmp(dt->valuestring, "float16") ? BONE_F16 : BONE_F32;
    return 0;
}

/* Both families' config.json ends alike: torch_dtype, then the object printed as transformers
 * does (indented, a final newline) and written atomically; o is consumed. flt: a float field
 * already failed (e is set). */
static int config_finish(cJSON *o, const bone_config *c, int flt, const char *path, bone_err *e) {
    cJSON_AddStringToObject(o, "torch_dtype",
                            c->dtype == BONE_BF16 ? "bfloat16" : c->dtype == BONE_F16 ? "float16" : "float32");
    if (flt) {
        cJSON_Delete(o);
        return -1;
    }
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    size_t n = strlen(txt);
    txt = xrealloc(txt, n + 2);
    txt[n] = '\n';
    txt[n + 1] = 0;
    int rc = bone_write_file_atomic(path, txt, n + 1, e);
    free(txt);
    return rc;
}

/* config.json of an RWKV-6 in the HF layout (FORMATS.md §6.7; no auto_map: bone writes no
 * remote-code files, so transformers needs them copied in to load it) */
static int save_rwkv6(const bone_config *c, const char *path, bone_err *e) {
    cJSON *o = cJSON_CreateObject();
    cJSON *ar = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(ar, cJSON_CreateString("Rwkv6ForCausalLM"));
    cJSON_AddStringToObject(o, "model_type", "rwkv6");
    cJSON_AddNumberToObject(o, "vocab_size", (double)c->vocab);
    cJSON_AddNumberToObject(o, "hidden_size", (double)c->hidden);
    cJSON_AddNumberToObject(o, "attention_hidden_size", (double)c->hidden);
    cJSON_AddNumberToObject(o, "head_size", (double)c->head_dim);
    cJSON_AddNumberToObject(o, "head_size_divisor", (double)c->head_div);
    cJSON_AddNumberToObject(o, "num_attention_heads", (double)c->n_heads);
    cJSON_AddNumberToObject(o, "intermediate_size", (double)c->inter);
    cJSON_AddNumberToObject(o, "num_hidden_layers", (double)c->n_layers);
    int flt = bone_json_add_float(o, "layer_norm_epsilon", c->eps, path, e);
    cJSON_AddNumberToObject(o, "rescale_every", 6);
    cJSON_AddBoolToObject(o, "tie_word_embeddings", 0);
    cJSON_AddNumberToObject(o, "bos_token_id", (double)(c->bos >= 0 ? c->bos : 0));
    cJSON_AddNumberToObject(o, "eos_token_id", (double)(c->eos >= 0 ? c->eos : 0));
    return config_finish(o, c, flt, path, e);
}

int bone_config_parse(const char *text, size_t n, const char *path, bone_config *c, bone_err *e) {
    memset(c, 0, sizeof *c);
    cJSON *o = bone_json_parse(text, n, path, e);
    if (!o) return -1;
    int rc = -1;
    if (!cJSON_IsObject(o)) { bone_fail(e, "%s: expected a JSON object", path); goto out; }
    int64_t nkeys = 0;
    for (const cJSON *k = o->child; k; k = k->next) nkeys++;
    if (nkeys > MAX_KEYS) {
        bone_fail(e, "%s: %lld keys; a model config has a few dozen (at most %d accepted)", path, (long long)nkeys,
                  MAX_KEYS);
        goto out;
    }
    if (bone_json_check_dups(o, path, e)) goto out;
    const char *mt = bone_json_str(o, "model_type", path, e);
    if (!mt) goto out;
    if (!strcmp(mt, "llama")) c->arch = BONE_ARCH_LLAMA;
    else if (!strcmp(mt, "mistral")) c->arch = BONE_ARCH_MISTRAL;
    else if (!strcmp(mt, "qwen2")) c->arch = BONE_ARCH_QWEN2;
    else if (!strcmp(mt, "rwkv6")) c->arch = BONE_ARCH_RWKV6;
    else {
        bone_fail(e, "%s: model_type \"%s\" is not supported (supported: llama, mistral, qwen2, rwkv6)", path, mt);
        goto out;
    }
    const cJSON *ar = cJSON_GetObjectItemCaseSensitive(o, "architectures");
    if (ar && cJSON_IsArray(ar)) {
        for (const cJSON *a = ar->child; a; a = a->next)
            if (!cJSON_IsString(a) || strcmp(a->valuestring, arch_class(c->arch))) {
                bone_fail(e, "%s: architectures lists \"%s\"; only %s is supported for model_type %s", path,
                          cJSON_IsString(a) ? a->valuestring : "?", arch_class(c->arch), mt);
                goto out;
            }
    }
    if (c->arch == BONE_ARCH_RWKV6) {
        rc = parse_rwkv6(o, path, c, e);
        goto out;
    }
    if (positive(o, "vocab_size", path, MAX_VOCAB, &c->vocab, e) ||
        positive(o, "hidden_size", path, MAX_HIDDEN, &c->hidden, e) ||
        positive(o, "intermediate_size", path, MAX_INTER, &c->inter, e) ||
        positive(o, "num_hidden_layers", path, MAX_LAYERS, &c->n_layers, e) ||
        positive(o, "num_attention_heads", path, MAX_HEADS, &c->n_heads, e))
        goto out;
    if (bone_json_int_opt(o, "num_key_value_heads", path, c->n_heads, &c->n_kv, e)) goto out;
    if (c->n_kv <= 0 || c->n_heads % c->n_kv) {
        bone_fail(e, "%s: num_key_value_heads (%lld) must be positive and divide num_attention_heads (%lld)", path,
                  (long long)c->n_kv, (long long)c->n_heads);
        goto out;
    }
    if (bone_json_int_opt(o, "head_dim", path, 0, &c->head_dim, e)) goto out;
    if (c->head_dim == 0) {
        if (c->hidden % c->n_heads) {
            bone_fail(e, "%s: hidden_size (%lld) is not divisible by num_attention_heads (%lld) and no head_dim is given",
                      path, (long long)c->hidden, (long long)c->n_heads);
            goto out;
        }
        c->head_dim = c->hidden / c->n_heads;
    }
    if (c->head_dim <= 0 || c->head_dim % 2) { bone_fail(e, "%s: head_dim must be a positive even number", path); goto out; }
    if (c->head_dim > MAX_HEAD_DIM) {
        bone_fail(e, "%s: head_dim = %lld is larger than bone supports (at most %lld)", path, (long long)c->head_dim,
                  (long long)MAX_HEAD_DIM);
        goto out;
    }
    const char *act = "silu";
    const cJSON *ha = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
    if (ha && !cJSON_IsString(ha)) { bone_fail(e, "%s: field \"hidden_act\" must be a string", path); goto out; }
    if (ha) act = ha->valuestring;
    if (strcmp(act, "silu")) { bone_fail(e, "%s: hidden_act \"%s\" is not supported (only silu)", path, act); goto out; }
    if (bone_json_int_opt(o, "max_position_embeddings", path, 2048, &c->max_pos, e)) goto out;
    if (c->max_pos <= 0 || c->max_pos > MAX_POS) {
        bone_fail(e, "%s: max_position_embeddings = %lld must be in [1, %lld]", path, (long long)c->max_pos,
                  (long long)MAX_POS);
        goto out;
    }
    if (finite_positive(o, "rms_norm_eps", path, 1e-6, &c->eps, e)) goto out;
    if (finite_positive(o, "initializer_range", path, 0.02, &c->init_range, e)) goto out;
    if (parse_rope(o, path, c, e)) goto out;
    int attn_bias = 0;
    if (bone_json_bool_opt(o, "attention_bias", path, 0, &attn_bias, e)) goto out;
    if (bone_json_bool_opt(o, "mlp_bias", path, 0, &c->mlp_bias, e)) goto out;
    if (c->arch == BONE_ARCH_QWEN2) {
        c->qkv_bias = 1;
        c->o_bias = 0;
        c->mlp_bias = 0;
    } else if (c->arch == BONE_ARCH_LLAMA) {
        c->qkv_bias = c->o_bias = attn_bias;
    } else {
        c->qkv_bias = c->o_bias = 0;
        c->mlp_bias = 0;
    }
    if (bone_json_bool_opt(o, "tie_word_embeddings", path, 0, &c->tied, e)) goto out;
    /* sliding window: refuse when it would actually apply */
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(o, "sliding_window");
    int64_t window = 0;
    if (sw && !cJSON_IsNull(sw) && !bone_json_is_int(sw, &window)) {
        bone_fail(e, "%s: field \"sliding_window\" must be null or an integer", path);
        goto out;
    }
    if (window > 0) {
        int use = 1;
        if (c->arch == BONE_ARCH_QWEN2 && bone_json_bool_opt(o, "use_sliding_window", path, 0, &use, e)) goto out;
        if (c->arch == BONE_ARCH_LLAMA) use = 0; /* llama ignores the key */
        if (use && window < c->max_pos) {
            bone_fail(e, "%s: sliding_window = %lld is in use, and sliding-window attention is not supported; "
                         "set \"sliding_window\": null for full attention", path, (long long)window);
            goto out;
        }
    }
    if (read_token_id(o, "bos_token_id", path, c->vocab, &c->bos, e) ||
        read_token_id(o, "eos_token_id", path, c->vocab, &c->eos, e) ||
        read_token_id(o, "pad_token_id", path, c->vocab, &c->pad, e))
        goto out;
    c->dtype = BONE_F32;
    const char *dkey = "torch_dtype";
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, dkey);
    if (!dt) dt = cJSON_GetObjectItemCaseSensitive(o, dkey = "dtype");
    if (dt && !cJSON_IsNull(dt)) {
        if (!cJSON_IsString(dt)) { bone_fail(e, "%s: field \"%s\" must be a string", path, dkey); goto out; }
        if (!strcmp(dt->valuestring, "bfloat16")) c->dtype = BONE_BF16;
        else if (!strcmp(dt->valuestring, "float16")) c->dtype = BONE_F16;
        else if (strcmp(dt->valuestring, "float32")) {
            bone_fail(e, "%s: %s \"%s\" is not supported (float32, bfloat16 or float16)", path, dkey, dt->valuestring);
            goto out;
        }
    }
    rc = 0;
out:
    cJSON_Delete(o);
    return rc;
}

int bone_config_load(const char *path, bone_config *c, bone_err *e) {
    char *text;
    size_t n;
    if (bone_read_regular_file(path, &text, &n, e)) return -1;
    int rc = bone_config_parse(text, n, path, c, e);
    free(text);
    return rc;
}

int bone_config_save(const bone_config *c, const char *path, bone_err *e) {
    if (c->arch == BONE_ARCH_RWKV6) return save_rwkv6(c, path, e);
    int flt = 0; /* a non-finite float (only from a config not made by bone_config_parse) */
    cJSON *o = cJSON_CreateObject();
    cJSON *ar = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(ar, cJSON_CreateString(arch_class(c->arch)));
    cJSON_AddStringToObject(o, "model_type", bone_arch_name(c->arch));
    cJSON_AddNumberToObject(o, "vocab_size", (double)c->vocab);
    cJSON_AddNumberToObject(o, "hidden_size", (double)c->hidden);
    cJSON_AddNumberToObject(o, "intermediate_size", (double)c->inter);
    cJSON_AddNumberToObject(o, "num_hidden_layers", (double)c->n_layers);
    cJSON_AddNumberToObject(o, "num_attention_heads", (double)c->n_heads);
    cJSON_AddNumberToObject(o, "num_key_value_heads", (double)c->n_kv);
    cJSON_AddNumberToObject(o, "head_dim", (double)c->head_dim);
    cJSON_AddStringToObject(o, "hidden_act", "silu");
    cJSON_AddNumberToObject(o, "max_position_embeddings", (double)c->max_pos);
    flt |= bone_json_add_float(o, "rms_norm_eps", c->eps, path, e);
    flt |= bone_json_add_float(o, "rope_theta", c->rope_theta, path, e);
    if (c->rope_type == BONE_ROPE_DEFAULT) {
        cJSON_AddNullToObject(o, "rope_scaling");
    } else {
        cJSON *sc = cJSON_AddObjectToObject(o, "rope_scaling");
        cJSON_AddStringToObject(sc, "rope_type", c->rope_type == BONE_ROPE_LINEAR ? "linear" : "llama3");
        flt |= bone_json_add_float(sc, "factor", c->rope_factor, path, e);
        if (c->rope_type == BONE_ROPE_LLAMA3) {
            flt |= bone_json_add_float(sc, "low_freq_factor", c->rope_low, path, e);
            flt |= bone_json_add_float(sc, "high_freq_factor", c->rope_high, path, e);
            cJSON_AddNumberToObject(sc, "original_max_position_embeddings", (double)c->rope_orig_max);
        }
    }
    if (c->arch == BONE_ARCH_LLAMA) {
        cJSON_AddBoolToObject(o, "attention_bias", c->qkv_bias);
        cJSON_AddBoolToObject(o, "mlp_bias", c->mlp_bias);
    }
    if (c->arch == BONE_ARCH_MISTRAL) cJSON_AddNullToObject(o, "sliding_window");
    if (c->arch == BONE_ARCH_QWEN2) {
        cJSON_AddBoolToObject(o, "use_sliding_window", 0);
        cJSON_AddNullToObject(o, "sliding_window");
    }
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tied);
    if (c->bos >= 0) cJSON_AddNumberToObject(o, "bos_token_id", (double)c->bos);
    else cJSON_AddNullToObject(o, "bos_token_id");
    if (c->eos >= 0) cJSON_AddNumberToObject(o, "eos_token_id", (double)c->eos);
    else cJSON_AddNullToObject(o, "eos_token_id");
    if (c->pad >= 0) cJSON_AddNumberToObject(o, "pad_token_id", (double)c->pad);
    flt |= bone_json_add_float(o, "initializer_range", c->init_range, path, e);
    return config_finish(o, c, flt, path, e);
}
