/* cmd_inspect.c — `bone inspect PATH`: what a model directory, an adapter directory, a single
 * safetensors file or a data set holds. The summary is built once as a JSON object; --json
 * prints it as is, otherwise it is printed as indented "key: value" text. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "adapter/adapter.h"
#include "cli/args.h"
#include "cli/cmds.h"
#include "cli/inspect_gguf.h"
#include "core/fs.h"
#include "data/dataset.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/arch.h"
#include "model/config.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

static const char *USAGE =
    "PATH [--json] [--tokenizer PATH] [--format F] [--template T]\n\n"
    "Summarises PATH, which may be:\n"
    "  a model directory (config.json): architecture, shapes, RoPE, tied embeddings, tensor dtypes,\n"
    "    parameter count and bytes (checked against the config), tokenizer files;\n"
    "  an adapter directory (adapter_config.json): PEFT type, bone variant, targets, r / block,\n"
    "    tensors, trainable parameters, which PEFT versions can load it;\n"
    "  a .safetensors file: every tensor (name, dtype, shape) and the __metadata__;\n"
    "  a .gguf file (llama.cpp's format): architecture, metadata, tensor table (strictly checked);\n"
    "  a data set (JSONL / JSON): examples, length and label-token statistics. Text formats\n"
    "    (GSM8K, MetaMathQA, Alpaca, chat) are tokenized with --tokenizer (a model directory).\n"
    "--json prints one JSON object instead of text.\n\n"
    "example (an adapter: bone inspect runs/bone/adapter, after the `bone train` example):\n"
    "  bone inspect models/default\n  bone inspect models/default/model.safetensors --json\n"
    "  bone inspect data/gsm8k/train.jsonl --tokenizer models/default --template alpaca";

/* ---- text rendering of the summary ---- */
static void print_scalar(const cJSON *v) {
    if (cJSON_IsString(v)) printf("%s", v->valuestring);
    else if (cJSON_IsBool(v)) printf("%s", cJSON_IsTrue(v) ? "yes" : "no");
    else if (cJSON_IsNull(v)) printf("-");
    else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 9e15) printf("%lld", (long long)d);
        else printf("%.6g", d);
    } else if (cJSON_IsArray(v)) {
        printf("[");
        for (const cJSON *c = v->child; c; c = c->next) {
            print_scalar(c);
            if (c->next) printf(", ");
        }
        printf("]");
    } else if (cJSON_IsObject(v)) {
        int first = 1;
        for (const cJSON *c = v->child; c; c = c->next, first = 0) {
            printf("%s%s=", first ? "" : "  ", c->string);
            print_scalar(c);
        }
    }
}

static void print_text(const cJSON *o, int indent) {
    for (const cJSON *c = o->child; c; c = c->next) {
        printf("%*s%s:", indent, "", c->string);
        if (cJSON_IsObject(c)) {
            printf("\n");
            print_text(c, indent + 2);
        } else if (cJSON_IsArray(c) && c->child && cJSON_IsObject(c->child)) {
            printf("\n");
            for (const cJSON *x = c->child; x; x = x->next) {
                printf("%*s", indent + 2, "");
                print_scalar(x);
                printf("\n");
            }
        } else {
            printf(" ");
            print_scalar(c);
            printf("\n");
        }
    }
}

/* ---- tensors ---- */
static cJSON *shape_json(const bone_st_tensor *t) {
    cJSON *a = cJSON_CreateArray();
    for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)t->shape[d]));
    return a;
}

/* NaN/±Inf weights: "non_finite": count (0 when clean) and the first one's tensor[element],
 * with a warning on stderr; one pass over the weights, which inspect can afford (B12) */
static void nonfinite_summary(const bone_st_set *s, cJSON *o, const char *path) {
    int64_t ft, fi;
    int64_t n = bone_st_count_nonfinite(s, &ft, &fi);
    cJSON_AddNumberToObject(o, "non_finite", (double)n);
    if (!n) return;
    char where[700];
    snprintf(where, sizeof where, "%s[%lld]", s->t[ft].name, (long long)fi);
    cJSON_AddStringToObject(o, "first_non_finite", where);
    fprintf(stderr, "bone inspect: warning: %s has %lld non-finite value(s) (NaN or infinite); the first is %s\n", path,
            (long long)n, where);
}

/* per dtype: tensors, elements, bytes; totals into the object */
static void tensor_totals(const bone_st_set *s, cJSON *o, int64_t *numel_out) {
    cJSON *dt = cJSON_CreateObject();
    int64_t numel = 0;
    uint64_t bytes = 0;
    for (int64_t i = 0; i < s->n; i++) {
        const bone_st_tensor *t = &s->t[i];
        numel += t->numel;
        bytes += t->nbytes;
        cJSON *d = cJSON_GetObjectItemCaseSensitive(dt, t->dtype_name);
        if (!d) {
            d = cJSON_AddObjectToObject(dt, t->dtype_name);
            cJSON_AddNumberToObject(d, "tensors", 0);
            cJSON_AddNumberToObject(d, "parameters", 0);
        }
        cJSON *nt = cJSON_GetObjectItemCaseSensitive(d, "tensors"), *np = cJSON_GetObjectItemCaseSensitive(d, "parameters");
        cJSON_SetNumberValue(nt, nt->valuedouble + 1);
        cJSON_SetNumberValue(np, np->valuedouble + (double)t->numel);
    }
    cJSON_AddNumberToObject(o, "tensors", (double)s->n);
    cJSON_AddNumberToObject(o, "parameters", (double)numel);
    cJSON_AddNumberToObject(o, "bytes", (double)bytes);
    cJSON_AddItemToObject(o, "dtypes", dt);
    if (numel_out) *numel_out = numel;
}

/* ---- model directory ---- */
static int inspect_model(const char *dir, cJSON *o, bone_err *e) {
    bone_config c;
    char *cp = bone_path_join(dir, "config.json");
    int rc = bone_config_load(cp, &c, e);
    free(cp);
    if (rc) return -1;
    cJSON_AddStringToObject(o, "kind", "model");
    cJSON_AddStringToObject(o, "path", dir);
    cJSON_AddStringToObject(o, "architecture", bone_arch_name(c.arch));
    cJSON *sh = cJSON_AddObjectToObject(o, "shapes");
    cJSON_AddNumberToObject(sh, "vocab_size", (double)c.vocab);
    cJSON_AddNumberToObject(sh, "hidden_size", (double)c.hidden);
    cJSON_AddNumberToObject(sh, "intermediate_size", (double)c.inter);
    cJSON_AddNumberToObject(sh, "layers", (double)c.n_layers);
    cJSON_AddNumberToObject(sh, "heads", (double)c.n_heads);
    cJSON_AddNumberToObject(sh, "kv_heads", (double)c.n_kv);
    cJSON_AddNumberToObject(sh, "head_dim", (double)c.head_dim);
    cJSON_AddNumberToObject(sh, "max_position_embeddings", (double)c.max_pos);
    const bone_arch_i *ai = bone_arch_cfg(&c);
    if (ai->describe) { /* the family's own hyper-parameters (RWKV-6: no rope, no biases) */
        ai->describe(&c, o);
    } else {
        cJSON *rp = cJSON_AddObjectToObject(o, "rope");
        cJSON_AddNumberToObject(rp, "theta", c.rope_theta);
        cJSON_AddStringToObject(rp, "type", c.rope_type == BONE_ROPE_LINEAR ? "linear" : c.rope_type == BONE_ROPE_LLAMA3 ? "llama3" : "default");
        if (c.rope_type != BONE_ROPE_DEFAULT) cJSON_AddNumberToObject(rp, "factor", c.rope_factor);
        if (c.rope_type == BONE_ROPE_LLAMA3) {
            cJSON_AddNumberToObject(rp, "low_freq_factor", c.rope_low);
            cJSON_AddNumberToObject(rp, "high_freq_factor", c.rope_high);
            cJSON_AddNumberToObject(rp, "original_max_position_embeddings", (double)c.rope_orig_max);
        }
        cJSON_AddNumberToObject(o, "rms_norm_eps", c.eps);
        cJSON_AddBoolToObject(o, "tied_embeddings", c.tied);
        cJSON *b = cJSON_AddObjectToObject(o, "biases");
        cJSON_AddBoolToObject(b, "qkv", c.qkv_bias);
        cJSON_AddBoolToObject(b, "o", c.o_bias);
        cJSON_AddBoolToObject(b, "mlp", c.mlp_bias);
    }
    cJSON *tk = cJSON_AddObjectToObject(o, "special_ids");
    cJSON_AddNumberToObject(tk, "bos", (double)c.bos);
    cJSON_AddNumberToObject(tk, "eos", (double)c.eos);
    cJSON_AddNumberToObject(tk, "pad", (double)c.pad);
    cJSON_AddStringToObject(o, "config_dtype", bone_dtype_name(c.dtype));
    bone_st_set s;
    bone_st_init(&s);
    if (bone_st_open_dir(&s, dir, e)) return -1;
    cJSON_AddNumberToObject(o, "files", s.nfiles);
    int64_t numel;
    tensor_totals(&s, o, &numel);
    nonfinite_summary(&s, o, dir);
    bone_st_close(&s);
    /* what the config implies (every weight, norm and bias; lm_head only when untied) */
    bone_adapter_spec spec = {0};
    spec.method = "full";
    int64_t want = bone_adapter_count(&c, &spec, e);
    if (want >= 0) {
        cJSON_AddNumberToObject(o, "parameters_from_config", (double)want);
        cJSON_AddBoolToObject(o, "parameters_match_config", want == numel);
    }
    static const char *const tf[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                     "tokenizer.model", "tokenizer.bin", "generation_config.json", NULL};
    cJSON *tl = cJSON_AddArrayToObject(o, "tokenizer_files");
    for (int i = 0; tf[i]; i++) {
        char *p = bone_path_join(dir, tf[i]);
        if (bone_file_exists(p)) cJSON_AddItemToArray(tl, cJSON_CreateString(tf[i]));
        free(p);
    }
    return 0;
}

/* ---- adapter directory ---- */
static int inspect_adapter(const char *dir, cJSON *o, bone_err *e) {
    char *cp = bone_path_join(dir, "adapter_config.json");
    cJSON *cfg = bone_json_load_object(cp, e);
    int rc = -1;
    bone_st_set s;
    bone_st_init(&s);
    char *sp = NULL;
    if (!cfg) goto out;
    const char *pt = bone_json_str(cfg, "peft_type", cp, e);
    if (!pt) goto out;
    cJSON_AddStringToObject(o, "kind", "adapter");
    cJSON_AddStringToObject(o, "path", dir);
    cJSON_AddStringToObject(o, "peft_type", pt);
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(cfg, "base_model_name_or_path");
    if (cJSON_IsString(base)) cJSON_AddStringToObject(o, "base_model", base->valuestring);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(cfg, "r");
    const char *variant = "unknown", *loadable = "no";
    if (!strcmp(pt, "LORA")) {
        variant = "lora (lora, pissa and olora exports look alike)";
        loadable = "yes (any PEFT version)";
        if (cJSON_IsNumber(r)) cJSON_AddNumberToObject(o, "r", r->valuedouble);
        const cJSON *al = cJSON_GetObjectItemCaseSensitive(cfg, "lora_alpha");
        if (cJSON_IsNumber(al)) cJSON_AddNumberToObject(o, "lora_alpha", al->valuedouble);
    } else if (!strcmp(pt, "MISS") || !strcmp(pt, "BONE")) {
        const cJSON *iw = cJSON_GetObjectItemCaseSensitive(cfg, "init_weights");
        const cJSON *bv = cJSON_GetObjectItemCaseSensitive(cfg, "bone_variant");
        int bat = cJSON_IsString(iw) && !strcmp(iw->valuestring, "bat");
        if (cJSON_IsString(bv)) {
            variant = !strcmp(bv->valuestring, "row") ? "bone-row" : !strcmp(bv->valuestring, "grid") ? "bone-grid"
                      : !strcmp(bv->valuestring, "hadamard") ? "bone-hadamard" : bv->valuestring;
            loadable = "no (bone-only variant; bone train/merge/generate read it)";
        } else {
            variant = bat ? "bone-col" : "bone-free";
            loadable = !strcmp(pt, "MISS") ? "yes (PEFT >= 0.17)" : "yes (PEFT 0.14 - 0.18)";
        }
        if (cJSON_IsNumber(r)) cJSON_AddNumberToObject(o, "block", r->valuedouble);
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(cfg, "bone_grid");
        if (cJSON_IsArray(g)) cJSON_AddItemToObject(o, "grid", cJSON_Duplicate(g, 1));
    }
    cJSON_AddStringToObject(o, "variant", variant);
    cJSON_AddStringToObject(o, "peft_loadable", loadable);
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(cfg, "target_modules");
    if (tm) cJSON_AddItemToObject(o, "target_modules", cJSON_Duplicate(tm, 1));
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(cfg, "layers_to_transform");
    if (lt && !cJSON_IsNull(lt)) cJSON_AddItemToObject(o, "layers_to_transform", cJSON_Duplicate(lt, 1));
    sp = bone_path_join(dir, "adapter_model.safetensors");
    if (bone_st_open_file(&s, sp, e)) goto out;
    int64_t numel;
    tensor_totals(&s, o, &numel);
    nonfinite_summary(&s, o, dir);
    cJSON_AddNumberToObject(o, "trainable_parameters", (double)numel);
    /* adapted linears: distinct "layers.N.<module>" prefixes */
    int64_t maxl = -1, nlin = 0;
    char **seen = xcalloc((size_t)s.n + 1, sizeof *seen);
    for (int64_t i = 0; i < s.n; i++) {
        const char *nm = s.t[i].name, *lp = strstr(nm, "layers.");
        if (!lp) continue;
        long long li = strtoll(lp + 7, NULL, 10);
        if (li > maxl) maxl = li;
        const char *end = strstr(lp, ".lora_");
        if (!end) end = strstr(lp, ".miss_");
        if (!end) end = strstr(lp, ".bone_");
        size_t len = end ? (size_t)(end - lp) : strlen(lp);
        int dup = 0;
        for (int64_t k = 0; k < nlin && !dup; k++) dup = strlen(seen[k]) == len && !strncmp(seen[k], lp, len);
        if (!dup) seen[nlin++] = strndup(lp, len);
    }
    cJSON_AddNumberToObject(o, "adapted_linears", (double)nlin);
    cJSON_AddNumberToObject(o, "layers_seen", (double)(maxl + 1));
    for (int64_t k = 0; k < nlin; k++) free(seen[k]);
    free(seen);
    if (s.n) {
        cJSON *ex = cJSON_AddObjectToObject(o, "first_tensor");
        cJSON_AddStringToObject(ex, "name", s.t[0].name);
        cJSON_AddItemToObject(ex, "shape", shape_json(&s.t[0]));
    }
    rc = 0;
out:
    bone_st_close(&s);
    free(sp);
    free(cp);
    cJSON_Delete(cfg);
    return rc;
}

/* ---- one safetensors file ---- */
static int inspect_safetensors(const char *path, cJSON *o, bone_err *e) {
    bone_st_set s;
    bone_st_init(&s);
    if (bone_st_open_file(&s, path, e)) return -1;
    cJSON_AddStringToObject(o, "kind", "safetensors");
    cJSON_AddStringToObject(o, "path", path);
    tensor_totals(&s, o, NULL);
    nonfinite_summary(&s, o, path);
    cJSON *md = cJSON_AddObjectToObject(o, "metadata");
    for (int i = 0; i < s.files[0].nmeta; i++)
        cJSON_AddStringToObject(md, s.files[0].meta[2 * i], s.files[0].meta[2 * i + 1]);
    cJSON *tl = cJSON_AddArrayToObject(o, "tensor_list");
    for (int64_t i = 0; i < s.n; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", s.t[i].name);
        cJSON_AddStringToObject(t, "dtype", s.t[i].dtype_name);
        cJSON_AddItemToObject(t, "shape", shape_json(&s.t[i]));
        cJSON_AddNumberToObject(t, "numel", (double)s.t[i].numel);
        cJSON_AddItemToArray(tl, t);
    }
    bone_st_close(&s);
    return 0;
}

/* ---- data set ---- */
static void stats(cJSON *o, const char *key, const int64_t *v, int64_t n) {
    cJSON *s = cJSON_AddObjectToObject(o, key);
    int64_t mn = n ? v[0] : 0, mx = n ? v[0] : 0;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        if (v[i] < mn) mn = v[i];
        if (v[i] > mx) mx = v[i];
        sum += (double)v[i];
    }
    cJSON_AddNumberToObject(s, "total", sum);
    cJSON_AddNumberToObject(s, "min", (double)mn);
    cJSON_AddNumberToObject(s, "mean", n ? round(sum / (double)n * 100) / 100 : 0);
    cJSON_AddNumberToObject(s, "max", (double)mx);
}

static int inspect_data(const char *path, const char *tokp, const char *format, const char *tmpl, cJSON *o,
                        bone_err *e) {
    bone_data_opts d = {0};
    d.path = path;
    d.format = format;
    d.template_ = tmpl;
    d.tokenizer = tokp;
    d.policy = BONE_MAXLEN_TRUNCATE;
    bone_dataset ds;
    bone_dataset_init(&ds);
    if (bone_dataset_load(&d, &ds, e)) {
        bone_dataset_free(&ds);
        return -1;
    }
    cJSON_AddStringToObject(o, "kind", "dataset");
    cJSON_AddStringToObject(o, "path", path);
    if (tokp) cJSON_AddStringToObject(o, "tokenizer", tokp);
    cJSON_AddNumberToObject(o, "examples", (double)ds.n);
    int64_t *len = xmalloc(((size_t)ds.n + 1) * sizeof *len), *lab = xmalloc(((size_t)ds.n + 1) * sizeof *lab);
    int64_t nolab = 0, maxid = -1;
    for (int64_t i = 0; i < ds.n; i++) {
        len[i] = ds.ex[i].n;
        lab[i] = bone_example_label_count(&ds.ex[i]);
        nolab += lab[i] == 0;
        for (int64_t t = 0; t < ds.ex[i].n; t++)
            if (ds.ex[i].ids[t] > maxid) maxid = ds.ex[i].ids[t];
    }
    stats(o, "tokens", len, ds.n);
    stats(o, "label_tokens", lab, ds.n);
    cJSON_AddNumberToObject(o, "examples_without_labels", (double)nolab);
    cJSON_AddNumberToObject(o, "max_token_id", (double)maxid);
    free(len);
    free(lab);
    bone_dataset_free(&ds);
    return 0;
}

int cmd_inspect(int argc, char **argv) {
    int json = 0;
    const char *tokp = NULL, *format = NULL, *tmpl = NULL;
    bone_opt opts[] = {
        {"json", OPT_FLAG, &json, "print one JSON object", 0},
        {"tokenizer", OPT_STR, &tokp, "data sets: tokenizer for text formats (a model directory or file)", 0},
        {"format", OPT_STR, &format, "data sets: auto (default), tokens, gsm8k, metamath, alpaca, chat", 0},
        {"template", OPT_STR, &tmpl, "data sets: prompt template (default: the format's)", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse("inspect", USAGE, opts, argc, argv, pos, 1, &npos);
    if (r) return r < 0 ? 0 : r;
    if (npos != 1) return bone_usage_error("inspect", "give one PATH (model or adapter directory, .safetensors file, data set)");
    const char *path = pos[0];
    bone_err e;
    cJSON *o = cJSON_CreateObject();
    int rc;
    if (bone_is_dir(path)) {
        char *cfg = bone_path_join(path, "config.json"), *acfg = bone_path_join(path, "adapter_config.json");
        if (bone_file_exists(cfg)) rc = inspect_model(path, o, &e);
        else if (bone_file_exists(acfg)) rc = inspect_adapter(path, o, &e);
        else rc = bone_fail(&e, "%s: a directory without config.json (model) or adapter_config.json (adapter)", path);
        free(cfg);
        free(acfg);
    } else if (!bone_path_present(path)) {
        rc = bone_fail(&e, "%s: no such file or directory", path);
    } else if (!bone_file_exists(path)) { /* a FIFO, device, socket or symlink loop: say which */
        int fd = bone_open_regular(path, NULL, &e);
        rc = fd < 0 ? -1 : bone_fail(&e, "%s: not a regular file", path);
        if (fd >= 0) close(fd);
    } else {
        size_t n = strlen(path);
        if (n >= 12 && !strcmp(path + n - 12, ".safetensors")) rc = inspect_safetensors(path, o, &e);
        else if ((n >= 5 && !strcmp(path + n - 5, ".gguf")) || inspect_is_gguf(path)) rc = inspect_gguf(path, o, &e);
        else rc = inspect_data(path, tokp, format, tmpl, o, &e);
    }
    if (rc) {
        cJSON_Delete(o);
        fprintf(stderr, "bone inspect: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    if (json) {
        char *s = cJSON_Print(o);
        printf("%s\n", s);
        free(s);
    } else {
        print_text(o, 0);
    }
    cJSON_Delete(o);
    return 0;
}
