/* peft_io.c — adapters on disk in PEFT's layout (FORMATS.md §5): adapter_config.json
 * (indent=2, sorted keys, as json.dumps writes it) + adapter_model.safetensors (fp32).
 *   lora            → LORA, lora_A [r, I], lora_B [O, r]
 *   pissa / olora   → LORA of rank 2r against the ORIGINAL base: A = [A' ; A0], B = [B' | −B0],
 *                     lora_alpha = 2·alpha (the scale alpha/r is kept)
 *   bone-col        → MISS, init_weights "bat", miss_block [O/b, b, b]
 *   bone-free       → MISS, init_weights true, miss_block [b, O]
 *   bone-row/-grid/-hadamard → MISS "bat" layout + "bone_variant" (+ "bone_grid"); PEFT cannot load these.
 * Reading accepts ours and PEFT's LORA / BONE (bone_block) / MISS (miss_block). */
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "adapter/adapter_internal.h"
#include "core/fs.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/arch.h"

#define KEY_PREFIX "base_model.model."

/* ---- a tiny writer for json.dumps(indent=2, sort_keys=True) of a flat object ---- */

typedef struct cfg_entry {
    const char *key;
    char *val; /* rendered JSON, nested lines already indented for depth 1 */
} cfg_entry;

typedef struct cfg_doc {
    cfg_entry e[48];
    int n;
} cfg_doc;

static void put(cfg_doc *d, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(cfg_doc *d, const char *key, const char *fmt, ...) {
    BONE_ASSERT(d->n < 48, "too many adapter_config entries");
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) BONE_ASSERT(0, "out of memory");
    va_end(ap);
    d->e[d->n].key = key;
    d->e[d->n++].val = s;
}

/* Python's repr of a float: the shortest text that reads back the same, with ".0" if integral. */
static void py_float(double v, char *buf, size_t n) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!strpbrk(buf, ".eni")) strncat(buf, ".0", n - strlen(buf) - 1);
}

/* number as PEFT would have it: integral values as ints (lora_alpha = 16), others as floats */
static void put_num(cfg_doc *d, const char *key, double v, int as_float) {
    char b[64];
    if (!as_float && v == floor(v) && fabs(v) < 1e15) snprintf(b, sizeof b, "%lld", (long long)v);
    else py_float(v, b, sizeof b);
    put(d, key, "%s", b);
}

/* takes ownership of an already rendered value */
static void put_owned(cfg_doc *d, const char *key, char *val) {
    BONE_ASSERT(d->n < 48, "too many adapter_config entries");
    d->e[d->n].key = key;
    d->e[d->n++].val = val;
}

static int entry_cmp(const void *a, const void *b) { return strcmp(((const cfg_entry *)a)->key, ((const cfg_entry *)b)->key); }

static char *render(cfg_doc *d) {
    qsort(d->e, (size_t)d->n, sizeof d->e[0], entry_cmp);
    size_t len = 3;
    for (int i = 0; i < d->n; i++) len += strlen(d->e[i].key) + strlen(d->e[i].val) + 10;
    char *s = xmalloc(len), *p = s;
    p += sprintf(p, "{\n");
    for (int i = 0; i < d->n; i++) p += sprintf(p, "  \"%s\": %s%s\n", d->e[i].key, d->e[i].val, i + 1 < d->n ? "," : "");
    sprintf(p, "}");
    for (int i = 0; i < d->n; i++) free(d->e[i].val);
    return s;
}

/* ["a", "b"] with json.dumps(indent=2) layout at depth 1 */
static char *str_list(const char *const *items, int n) {
    if (n == 0) return xstrdup("[]");
    size_t len = 8;
    for (int i = 0; i < n; i++) len += strlen(items[i]) + 12;
    char *s = xmalloc(len), *p = s;
    p += sprintf(p, "[\n");
    for (int i = 0; i < n; i++) p += sprintf(p, "    \"%s\"%s\n", items[i], i + 1 < n ? "," : "");
    sprintf(p, "  ]");
    return s;
}

static char *int_list(const int64_t *v, int64_t n) {
    size_t len = 8 + (size_t)n * 28;
    char *s = xmalloc(len), *p = s;
    if (n == 0) return strcpy(s, "[]");
    p += sprintf(p, "[\n");
    for (int64_t i = 0; i < n; i++) p += sprintf(p, "    %lld%s\n", (long long)v[i], i + 1 < n ? "," : "");
    sprintf(p, "  ]");
    return s;
}

/* ---- save ---- */

static int same_hparams(const bone_adapter *a, const bone_adapter *b) {
    if (a->method != b->method) return 0;
    if (bone_method_is_bone(a->method)) {
        if (a->b != b->b) return 0;
        return a->method != BONE_METHOD_GRID || (a->gr == b->gr && a->gc == b->gc);
    }
    return a->rank == b->rank && a->alpha == b->alpha && a->dropout == b->dropout;
}

int bone_adapter_save(bone_model *m, const char *dir, const char *base_model_path, int *warn, bone_err *e) {
    const int64_t nlin = bone_model_nlinears(m), nl = m->cfg.n_layers;
    if (warn) *warn = 0;
    const bone_adapter *first = NULL;
    const int np = (int)bone_model_nproj(m);
    const char *const *pnames = bone_arch_cfg(&m->cfg)->proj_names;
    int tmask[BONE_MAXPROJ] = {0};
    unsigned char *lmask = xcalloc((size_t)(nl > 0 ? nl : 1), 1);
    int64_t count = 0;
    for (int64_t i = 0; i < nlin; i++) {
        const bone_linear *L = bone_model_linear(m, i);
        const bone_adapter *a = bone_adapter_of(L);
        if (!a) continue;
        if (!first) first = a;
        else if (!same_hparams(first, a)) {
            free(lmask);
            return bone_fail(e, "%s: adapters with different settings in one model cannot be saved as one PEFT adapter", L->name);
        }
        tmask[i % np] = 1;
        lmask[i / np] = 1;
        count++;
    }
    if (!first) {
        free(lmask);
        return bone_fail(e, "no adapter is attached: nothing to save");
    }
    /* Is the adapted set exactly targets × layers? Then write short names (+ layers_to_transform);
     * otherwise the full module paths (PEFT matches a list entry against the full name). */
    int product = 1, all_layers = 1, ntar = 0;
    int64_t nsel = 0;
    for (int64_t l = 0; l < nl; l++) {
        all_layers &= lmask[l];
        nsel += lmask[l];
        for (int p = 0; p < np; p++)
            if (lmask[l] && tmask[p] && !bone_adapter_of(bone_model_linear(m, l * np + p))) product = 0;
    }
    const char **tnames = xcalloc((size_t)(product ? np : count), sizeof *tnames);
    if (product) {
        for (int p = 0; p < np; p++)
            if (tmask[p]) tnames[ntar++] = pnames[p];
    } else {
        for (int64_t i = 0; i < nlin; i++)
            if (bone_adapter_of(bone_model_linear(m, i))) tnames[ntar++] = bone_model_linear(m, i)->name;
    }
    cfg_doc d = {.n = 0};
    put(&d, "auto_mapping", "null");
    if (base_model_path) {
        cJSON *js = cJSON_CreateString(base_model_path); /* escaped as JSON */
        put_owned(&d, "base_model_name_or_path", cJSON_PrintUnformatted(js));
        cJSON_Delete(js);
    } else {
        put(&d, "base_model_name_or_path", "null");
    }
    put(&d, "exclude_modules", "null");
    put(&d, "inference_mode", "true");
    if (product && !all_layers) {
        int64_t *ls = xmalloc((size_t)nsel * sizeof *ls), k = 0;
        for (int64_t l = 0; l < nl; l++)
            if (lmask[l]) ls[k++] = l;
        put(&d, "layers_pattern", "\"layers\"");
        put_owned(&d, "layers_to_transform", int_list(ls, nsel));
        free(ls);
    } else {
        put(&d, "layers_pattern", "null");
        put(&d, "layers_to_transform", "null");
    }
    put(&d, "modules_to_save", "null");
    put(&d, "revision", "null");
    put_owned(&d, "target_modules", str_list(tnames, ntar));
    put(&d, "task_type", "\"CAUSAL_LM\"");
    free(tnames);
    free(lmask);

    const int lora2 = !bone_method_is_bone(first->method) && first->method != BONE_METHOD_LORA; /* pissa/olora */
    if (bone_method_is_bone(first->method)) {
        put(&d, "peft_type", "\"MISS\"");
        put(&d, "bias", "\"none\"");
        put(&d, "init_weights", first->method == BONE_METHOD_FREE ? "true" : "\"bat\"");
        put(&d, "mini_r", "1");
        put(&d, "miss_dropout", "0.0");
        put(&d, "r", "%lld", (long long)first->b);
        if (first->method == BONE_METHOD_ROW) put(&d, "bone_variant", "\"row\"");
        if (first->method == BONE_METHOD_HADAMARD) put(&d, "bone_variant", "\"hadamard\"");
        if (first->method == BONE_METHOD_GRID) {
            put(&d, "bone_variant", "\"grid\"");
            put(&d, "bone_grid", "[\n    %lld,\n    %lld\n  ]", (long long)first->gr, (long long)first->gc);
        }
        if (warn && (first->method == BONE_METHOD_ROW || first->method == BONE_METHOD_HADAMARD || first->method == BONE_METHOD_GRID))
            *warn = 1;
    } else {
        const int64_t r = lora2 ? 2 * first->rank : first->rank;
        put(&d, "peft_type", "\"LORA\"");
        put(&d, "alpha_pattern", "{}");
        put(&d, "bias", "\"none\"");
        put(&d, "fan_in_fan_out", "false");
        put(&d, "init_lora_weights", "true");
        put_num(&d, "lora_alpha", lora2 ? 2.0 * first->alpha : first->alpha, 0);
        put_num(&d, "lora_dropout", first->dropout, 1);
        put(&d, "r", "%lld", (long long)r);
        put(&d, "rank_pattern", "{}");
        put(&d, "use_dora", "false");
        put(&d, "use_rslora", "false");
    }
    char *json = render(&d);

    /* tensors */
    int64_t nt = bone_method_is_bone(first->method) ? count : 2 * count;
    bone_st_wtensor *wt = xcalloc((size_t)nt, sizeof *wt);
    char **names = xcalloc((size_t)nt, sizeof *names);
    float **tmp = xcalloc((size_t)nt, sizeof *tmp);
    int64_t k = 0;
    int rc = 0;
    for (int64_t i = 0; i < nlin; i++) {
        const bone_linear *L = bone_model_linear(m, i);
        const bone_adapter *a = bone_adapter_of(L);
        if (!a) continue;
        const int64_t O = L->O, I = L->I;
        if (bone_method_is_bone(a->method)) {
            if (asprintf(&names[k], KEY_PREFIX "%s.miss_block", L->name) < 0) BONE_ASSERT(0, "out of memory");
            wt[k] = (bone_st_wtensor){.name = names[k], .dtype = BONE_F32, .src_f32 = a->v[0]};
            if (a->method == BONE_METHOD_FREE) wt[k].ndim = 2, wt[k].shape[0] = a->b, wt[k].shape[1] = O;
            else wt[k].ndim = 3, wt[k].shape[0] = a->ng, wt[k].shape[1] = a->b, wt[k].shape[2] = a->b;
            k++;
            continue;
        }
        const int64_t r = a->rank, r2 = lora2 ? 2 * r : r;
        const float *A = a->v[0], *B = a->v[1];
        if (lora2) {
            if (!a->init_a || !a->init_b) {
                rc = bone_fail(e, "%s: %s adapter has no initial A0/B0 (was it initialised?)", L->name, bone_method_name(a->method));
                break;
            }
            /* A2 (2r, I) = [A' ; A0] ; B2 (O, 2r) = [B' | −B0]: ΔW = s·(B'A' − B0A0) against the original base */
            float *A2 = xmalloc((size_t)(r2 * I) * sizeof(float)), *B2 = xmalloc((size_t)(O * r2) * sizeof(float));
            memcpy(A2, A, (size_t)(r * I) * sizeof(float));
            memcpy(A2 + r * I, a->init_a, (size_t)(r * I) * sizeof(float));
            for (int64_t o = 0; o < O; o++)
                for (int64_t j = 0; j < r; j++) {
                    B2[o * r2 + j] = B[o * r + j];
                    B2[o * r2 + r + j] = -a->init_b[o * r + j];
                }
            tmp[k] = A2, tmp[k + 1] = B2;
            A = A2, B = B2;
        }
        if (asprintf(&names[k], KEY_PREFIX "%s.lora_A.weight", L->name) < 0 ||
            asprintf(&names[k + 1], KEY_PREFIX "%s.lora_B.weight", L->name) < 0)
            BONE_ASSERT(0, "out of memory");
        wt[k] = (bone_st_wtensor){.name = names[k], .dtype = BONE_F32, .ndim = 2, .shape = {r2, I}, .src_f32 = A};
        wt[k + 1] = (bone_st_wtensor){.name = names[k + 1], .dtype = BONE_F32, .ndim = 2, .shape = {O, r2}, .src_f32 = B};
        k += 2;
    }
    if (rc == 0) rc = bone_mkdirs(dir, e);
    if (rc == 0) {
        char *p = bone_path_join(dir, "adapter_model.safetensors");
        rc = bone_st_write(p, wt, k, e);
        free(p);
    }
    if (rc == 0) {
        char *p = bone_path_join(dir, "adapter_config.json");
        rc = bone_write_file_atomic(p, json, strlen(json), e);
        free(p);
    }
    for (int64_t i = 0; i < nt; i++) free(names[i]), free(tmp[i]);
    free(names), free(tmp), free(wt), free(json);
    return rc;
}

/* ---- load ---- */

typedef struct slot {
    const bone_st_tensor *t[2]; /* Bone: [0]; LoRA: A, B */
} slot;

static int get_bool_or_str(const cJSON *cfg, const char *key, const char *dflt, char *out, size_t n) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v)) snprintf(out, n, "%s", dflt);
    else if (cJSON_IsTrue(v)) snprintf(out, n, "true");
    else if (cJSON_IsFalse(v)) snprintf(out, n, "false");
    else if (cJSON_IsString(v)) snprintf(out, n, "%s", v->valuestring);
    else return -1;
    return 0;
}

static int nonempty_object(const cJSON *cfg, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    return v && cJSON_IsObject(v) && v->child;
}

/* modules_to_save (whole modules trained and saved next to the adapter) and trained biases
 * are PEFT features this loader does not apply: refuse them rather than drop them (P13) */
static int unsupported_extras(const cJSON *cfg, const char *cpath, bone_err *e) {
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(cfg, "modules_to_save");
    if (ms && !cJSON_IsNull(ms) && !(cJSON_IsArray(ms) && !ms->child))
        return bone_fail(e, "%s: modules_to_save is not supported (whole trained modules next to the adapter)", cpath);
    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(cfg, "bias");
    if (bs && !cJSON_IsNull(bs) && !(cJSON_IsString(bs) && !strcmp(bs->valuestring, "none")))
        return bone_fail(e, "%s: bias %s%s%s is not supported (only \"none\": trained biases are not loaded)", cpath,
                         cJSON_IsString(bs) ? "\"" : "", cJSON_IsString(bs) ? bs->valuestring : "(not a string)",
                         cJSON_IsString(bs) ? "\"" : "");
    return 0;
}

/* The modules adapter_config.json targets, as PEFT matches them: target_modules is a list of
 * names (a module matches when its full name equals one or ends with "." + one), the string
 * "all-linear", or a regular expression matched against the whole module name (compiled as
 * POSIX ERE: a Python-only construct gives a warning and no check); layers_to_transform (an
 * int or a list) then narrows a list to those layer indices. Absent: nothing is checked. */
typedef struct target_set {
    const cJSON *tm, *lt;   /* target_modules list, layers_to_transform (NULL: any layer) */
    int all, use_re, known; /* known: the set can be checked */
    regex_t re;
} target_set;

static int target_set_parse(const cJSON *cfg, const char *cpath, target_set *ts, bone_err *e) {
    memset(ts, 0, sizeof *ts);
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(cfg, "target_modules");
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(cfg, "layers_to_transform");
    if (lt && !cJSON_IsNull(lt)) {
        int ok = bone_json_is_int(lt, NULL) || cJSON_IsArray(lt);
        for (const cJSON *x = cJSON_IsArray(lt) ? lt->child : NULL; x && ok; x = x->next) ok = bone_json_is_int(x, NULL);
        if (!ok) return bone_fail(e, "%s: layers_to_transform must be an integer or a list of integers", cpath);
    }
    if (!tm || cJSON_IsNull(tm)) return 0;
    if (cJSON_IsString(tm)) {
        if (!strcmp(tm->valuestring, "all-linear")) {
            ts->all = ts->known = 1;
        } else {
            size_t n = strlen(tm->valuestring);
            char *pat = xmalloc(n + 5);
            snprintf(pat, n + 5, "^(%s)$", tm->valuestring);
            int rc = regcomp(&ts->re, pat, REG_EXTENDED | REG_NOSUB);
            free(pat);
            if (rc) {
                fprintf(stderr, "bone: warning: %s: target_modules \"%s\" is not a POSIX regular expression; the "
                                "adapter's modules are not checked against it\n", cpath, tm->valuestring);
                return 0;
            }
            ts->use_re = ts->known = 1;
            return 0; /* PEFT ignores layers_to_transform for a regex */
        }
    } else if (cJSON_IsArray(tm)) {
        for (const cJSON *x = tm->child; x; x = x->next)
            if (!cJSON_IsString(x)) return bone_fail(e, "%s: target_modules must be a list of strings or a string", cpath);
        ts->tm = tm;
        ts->known = 1;
    } else {
        return bone_fail(e, "%s: target_modules must be a list of strings or a string", cpath);
    }
    if (lt && !cJSON_IsNull(lt)) ts->lt = lt;
    return 0;
}

/* 1: targeted, 0: not, -1: unknown */
static int target_set_has(const target_set *ts, const char *name, int64_t layer) {
    if (!ts->known) return -1;
    if (ts->use_re) return regexec(&ts->re, name, 0, NULL, 0) == 0;
    int hit = ts->all;
    size_t nl = strlen(name);
    for (const cJSON *x = ts->tm ? ts->tm->child : NULL; x && !hit; x = x->next) {
        size_t k = strlen(x->valuestring);
        hit = !strcmp(name, x->valuestring) || (nl > k && name[nl - k - 1] == '.' && !strcmp(name + nl - k, x->valuestring));
    }
    if (!hit || !ts->lt) return hit;
    int64_t v;
    if (bone_json_is_int(ts->lt, &v)) return v == layer;
    for (const cJSON *x = ts->lt->child; x; x = x->next)
        if (bone_json_is_int(x, &v) && v == layer) return 1;
    return 0;
}

static void target_set_free(target_set *ts) {
    if (ts->use_re) regfree(&ts->re);
    ts->use_re = 0;
}

int bone_adapter_load(bone_model *m, const char *dir, bone_params *P, bone_err *e) {
    if (P->n || P->value) return bone_fail(e, "bone_adapter_load: the parameter store must be empty");
    char *cpath = bone_path_join(dir, "adapter_config.json");
    char *spath = bone_path_join(dir, "adapter_model.safetensors");
    cJSON *cfg = bone_json_load_object(cpath, e);
    bone_st_set st;
    bone_st_init(&st);
    const int64_t nlin = bone_model_nlinears(m);
    slot *slots = xcalloc((size_t)(nlin > 0 ? nlin : 1), sizeof *slots);
    target_set ts;
    memset(&ts, 0, sizeof ts);
    int rc = -1;
    if (!cfg) goto out;
    const char *pt = bone_json_str(cfg, "peft_type", cpath, e);
    if (!pt) goto out;
    const int is_bone = !strcmp(pt, "MISS") || !strcmp(pt, "BONE");
    if (!is_bone && strcmp(pt, "LORA")) {
        bone_fail(e, "%s: peft_type \"%s\" is not supported (LORA, BONE or MISS)", cpath, pt);
        goto out;
    }
    bone_method method = BONE_METHOD_LORA;
    int64_t r = 0, gr = 1, gc = 1;
    double alpha = 8, dropout = 0, scale = 0;
    char iw[64];
    if (is_bone) {
        if (bone_json_int_opt(cfg, "r", cpath, 64, &r, e)) goto out;
        if (get_bool_or_str(cfg, "init_weights", "true", iw, sizeof iw)) {
            bone_fail(e, "%s: init_weights must be true, false or a string", cpath);
            goto out;
        }
        const cJSON *var = cJSON_GetObjectItemCaseSensitive(cfg, "bone_variant");
        const char *vs = var && cJSON_IsString(var) ? var->valuestring : NULL;
        if (!strcmp(iw, "true") || !strcmp(iw, "false")) {
            method = BONE_METHOD_FREE;
        } else if (!strcmp(iw, "bat")) {
            method = BONE_METHOD_COL;
            if (vs && !strcmp(vs, "row")) method = BONE_METHOD_ROW;
            else if (vs && !strcmp(vs, "hadamard")) method = BONE_METHOD_HADAMARD;
            else if (vs && !strcmp(vs, "grid")) {
                method = BONE_METHOD_GRID;
                const cJSON *g = cJSON_GetObjectItemCaseSensitive(cfg, "bone_grid");
                if (!cJSON_IsArray(g) || cJSON_GetArraySize(g) != 2 || !bone_json_is_int(cJSON_GetArrayItem(g, 0), &gr) ||
                    !bone_json_is_int(cJSON_GetArrayItem(g, 1), &gc) || gr < 1 || gc < 1) {
                    bone_fail(e, "%s: bone_variant \"grid\" needs \"bone_grid\": [GR, GC] with positive integers", cpath);
                    goto out;
                }
            } else if (vs && strcmp(vs, "col")) {
                bone_fail(e, "%s: unknown bone_variant \"%s\" (row, grid, hadamard)", cpath, vs);
                goto out;
            }
        } else {
            bone_fail(e, "%s: init_weights \"%s\" is not supported (true, false or \"bat\"; MiSS-mini is not)", cpath, iw);
            goto out;
        }
    } else {
        int b1 = 0;
        if (bone_json_int_opt(cfg, "r", cpath, 8, &r, e) || bone_json_num_opt(cfg, "lora_alpha", cpath, 8, &alpha, e) ||
            bone_json_num_opt(cfg, "lora_dropout", cpath, 0, &dropout, e))
            goto out;
        if (bone_json_bool_opt(cfg, "use_dora", cpath, 0, &b1, e)) goto out;
        if (b1) {
            bone_fail(e, "%s: DoRA adapters (use_dora) are not supported", cpath);
            goto out;
        }
        if (bone_json_bool_opt(cfg, "fan_in_fan_out", cpath, 0, &b1, e)) goto out;
        if (b1) {
            bone_fail(e, "%s: fan_in_fan_out adapters are not supported (Llama stores [out, in])", cpath);
            goto out;
        }
        if (nonempty_object(cfg, "rank_pattern") || nonempty_object(cfg, "alpha_pattern")) {
            bone_fail(e, "%s: per-module rank_pattern/alpha_pattern are not supported", cpath);
            goto out;
        }
        if (get_bool_or_str(cfg, "init_lora_weights", "true", iw, sizeof iw) == 0 && strcmp(iw, "true") && strcmp(iw, "false") &&
            strcmp(iw, "gaussian")) {
            bone_fail(e,
                      "%s: init_lora_weights \"%s\": this adapter is only valid against the residual base it was "
                      "created with; export it as a plain LoRA (PEFT: path_initial_model_for_weight_conversion)",
                      cpath, iw);
            goto out;
        }
        if (bone_json_bool_opt(cfg, "use_rslora", cpath, 0, &b1, e)) goto out;
        scale = b1 ? alpha / sqrt((double)r) : alpha / (double)r;
    }
    if (r < 1) { /* before any tensor: the config is what is wrong (hostile-use P10) */
        bone_fail(e, "%s: \"r\" must be >= 1, got %lld", cpath, (long long)r);
        goto out;
    }
    if (unsupported_extras(cfg, cpath, e)) goto out;
    if (target_set_parse(cfg, cpath, &ts, e)) goto out;
    if (bone_st_open_file(&st, spath, e)) goto out;
    /* map every tensor to (linear, slot) */
    const char *sfx_bone = !strcmp(pt, "BONE") ? ".bone_block" : ".miss_block";
    for (int64_t t = 0; t < st.n; t++) {
        const char *key = st.t[t].name;
        size_t kl = strlen(key), pl = strlen(KEY_PREFIX);
        const char *sfx[2] = {is_bone ? sfx_bone : ".lora_A.weight", is_bone ? NULL : ".lora_B.weight"};
        int which = -1;
        size_t sl = 0;
        for (int k = 0; k < 2; k++)
            if (sfx[k] && kl > pl + strlen(sfx[k]) && !strcmp(key + kl - strlen(sfx[k]), sfx[k])) which = k, sl = strlen(sfx[k]);
        if (strncmp(key, KEY_PREFIX, pl) || which < 0) {
            bone_fail(e, "%s: unexpected tensor \"%s\" for a %s adapter", spath, key, pt);
            goto out;
        }
        if (!st.t[t].supported) {
            bone_fail(e, "%s: tensor \"%s\" has dtype %s (F32, BF16 or F16 expected)", spath, key, st.t[t].dtype_name);
            goto out;
        }
        if (bone_st_check_aligned(&st, &st.t[t], e)) goto out;
        int64_t li = -1;
        for (int64_t i = 0; i < nlin && li < 0; i++) {
            const char *nm = bone_model_linear(m, i)->name;
            if (strlen(nm) == kl - pl - sl && !strncmp(nm, key + pl, kl - pl - sl)) li = i;
        }
        if (li < 0) {
            bone_fail(e, "%s: tensor \"%s\" names module \"%.*s\", which this model does not have", spath, key,
                      (int)(kl - pl - sl), key + pl);
            goto out;
        }
        /* a tensor the config does not target: PEFT would skip it, we would apply it; the
         * adapter is inconsistent, so say so rather than choose (hostile-use P11) */
        if (target_set_has(&ts, bone_model_linear(m, li)->name, li / bone_model_nproj(m)) == 0) {
            bone_fail(e, "%s: tensor \"%s\" is outside the modules adapter_config.json targets (target_modules%s); "
                         "PEFT would not apply it", spath, key, ts.lt ? " and layers_to_transform" : "");
            goto out;
        }
        slots[li].t[which] = &st.t[t];
    }
    { /* targeted modules without weights are left unadapted (as PEFT would, with a warning) (P12) */
        int64_t missing = 0, first = -1;
        for (int64_t i = 0; i < nlin; i++)
            if (!slots[i].t[0] && !slots[i].t[1] && target_set_has(&ts, bone_model_linear(m, i)->name, i / bone_model_nproj(m)) == 1 &&
                missing++ == 0)
                first = i;
        if (missing)
            fprintf(stderr, "bone: warning: %s targets %lld module(s) that %s has no weights for (the first: %s); "
                            "they stay unadapted\n", cpath, (long long)missing, spath, bone_model_linear(m, first)->name);
    }
    /* attach and plan */
    char name[512];
    int64_t nad = 0;
    for (int64_t i = 0; i < nlin; i++) {
        if (!slots[i].t[0] && !slots[i].t[1]) continue;
        bone_linear *L = bone_model_linear(m, i);
        if (!is_bone && (!slots[i].t[0] || !slots[i].t[1])) {
            bone_fail(e, "%s: %s has only one of lora_A / lora_B", spath, L->name);
            goto out;
        }
        bone_adapter *a = bone_adapter_new(method);
        a->id = (uint64_t)i;
        if (is_bone) a->b = r, a->gr = gr, a->gc = gc;
        else a->rank = r, a->alpha = alpha, a->scale = (float)scale, a->scale_set = 1, a->dropout = dropout;
        if (bone_adapter_bind(L, a, e)) {
            free(a);
            bone_wrap(e, "%s", spath);
            goto out;
        }
        int64_t sh[2][3];
        int nd[2];
        if (method == BONE_METHOD_FREE) nd[0] = 2, sh[0][0] = r, sh[0][1] = L->O;
        else if (is_bone) nd[0] = 3, sh[0][0] = a->ng, sh[0][1] = r, sh[0][2] = r;
        else nd[0] = nd[1] = 2, sh[0][0] = r, sh[0][1] = L->I, sh[1][0] = L->O, sh[1][1] = r;
        for (int k = 0; k < (is_bone ? 1 : 2); k++) {
            const bone_st_tensor *t = slots[i].t[k];
            int ok = t->ndim == nd[k];
            for (int d = 0; ok && d < nd[k]; d++) ok = t->shape[d] == sh[k][d];
            if (!ok) {
                char got[128] = "", want[128] = "";
                for (int d = 0; d < t->ndim; d++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
                for (int d = 0; d < nd[k]; d++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? ", " : "", (long long)sh[k][d]);
                bone_fail(e, "%s: tensor \"%s\" has shape [%s]; %s (%lld x %lld) with %s r=%lld needs [%s]", spath, t->name, got,
                          L->name, (long long)L->O, (long long)L->I, bone_method_name(method), (long long)r, want);
                goto out;
            }
            snprintf(name, sizeof name, "%s.%s", L->name, is_bone ? (method == BONE_METHOD_FREE ? "bone_B" : "bone_D") : (k ? "lora_B" : "lora_A"));
            a->pidx[k] = bone_params_add(P, name, nd[k], sh[k]);
        }
        nad++;
    }
    if (nad == 0) {
        bone_fail(e, "%s: no tensors", spath);
        goto out;
    }
    bone_params_alloc(P);
    for (int64_t i = 0; i < nlin; i++) {
        bone_adapter *a = bone_adapter_of(bone_model_linear(m, i));
        if (!a) continue;
        for (int k = 0; k < 2; k++) {
            if (a->pidx[k] < 0) continue;
            a->v[k] = bone_params_value(P, a->pidx[k]);
            a->g[k] = bone_params_grad(P, a->pidx[k]);
            const bone_st_tensor *t = slots[i].t[k];
            bone_to_f32(a->v[k], t->data, t->dtype, (size_t)t->numel);
        }
    }
    /* RWKV-6 --train-extra tensors trained beside the adapter (train_extra.safetensors), if any */
    if (bone_model_load_extra(m, dir, e)) goto out;
    rc = 0;
out:
    target_set_free(&ts);
    free(slots);
    bone_st_close(&st);
    cJSON_Delete(cfg);
    free(cpath);
    free(spath);
    return rc;
}
