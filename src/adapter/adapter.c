/* adapter.c — the model-facing side of the adapters: shape validation (with
 * the block sizes that would work), --targets/--layers selection, attaching to a model
 * (parameters planned in bone_params), initialisation, parameter counting from config
 * shapes alone, and merge/unmerge dispatch. The per-family math is in bone.c and lora.c; method
 * names and the bias kernels they share are method.c, so the files depend one way only:
 * method.c ← bone.c ← lora.c ← adapter.c. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "adapter/adapter_internal.h"
#include "core/err.h"
#include "model/arch.h"

static int is_lora(bone_method m) { return m >= BONE_METHOD_LORA && m <= BONE_METHOD_OLORA; }

/* ---- shapes ---- */


/* "1, 2, 4, 8" — the b ≤ min(O, I) with O % (b·gr) == 0 and I % (b·gc) == 0 */
static void working_blocks(int64_t O, int64_t I, int64_t gr, int64_t gc, char *buf, size_t n) {
    size_t k = 0;
    buf[0] = 0;
    int64_t mx = O < I ? O : I;
    for (int64_t d = 1; d <= mx && k + 24 < n; d++)
        if (O % (d * gr) == 0 && I % (d * gc) == 0) k += (size_t)snprintf(buf + k, n - k, "%s%lld", k ? ", " : "", (long long)d);
    if (!k) snprintf(buf, n, "none");
}

int64_t bone_adapter_numel(const char *name, int64_t O, int64_t I, bone_method m, int64_t b, int64_t gr, int64_t gc,
                           int64_t rank, bone_err *e) {
    char ok[1024];
    const char *mn = bone_method_name(m);
    if (bone_method_is_bone(m) && b < 1) return bone_fail(e, "%s: block size must be >= 1, got %lld", mn, (long long)b);
    switch (m) {
    case BONE_METHOD_COL:
    case BONE_METHOD_ROW:
    case BONE_METHOD_HADAMARD:
        if (O % b || I % b) {
            working_blocks(O, I, 1, 1, ok, sizeof ok);
            return bone_fail(e,
                             "%s: --block %lld does not divide %s (out_features %lld x in_features %lld); "
                             "block sizes that divide both: %s",
                             mn, (long long)b, name, (long long)O, (long long)I, ok);
        }
        return m == BONE_METHOD_ROW ? I * b : O * b;
    case BONE_METHOD_GRID:
        if (gr < 1 || gc < 1) return bone_fail(e, "bone-grid needs --grid GRxGC with GR, GC >= 1");
        if (O % (b * gr) || I % (b * gc)) {
            working_blocks(O, I, gr, gc, ok, sizeof ok);
            return bone_fail(e,
                             "bone-grid: --block %lld with --grid %lldx%lld does not tile %s (out_features %lld x "
                             "in_features %lld): needs O %% (block*%lld) == 0 and I %% (block*%lld) == 0; "
                             "block sizes that work with this grid: %s",
                             (long long)b, (long long)gr, (long long)gc, name, (long long)O, (long long)I,
                             (long long)gr, (long long)gc, ok);
        }
        return (O / b / gr) * (I / b / gc) * b * b;
    case BONE_METHOD_FREE: return O * b; /* B (b, O); I is zero-padded, so any shape works */
    case BONE_METHOD_LORA:
    case BONE_METHOD_PISSA:
    case BONE_METHOD_OLORA:
        if (rank < 1) return bone_fail(e, "%s: --rank must be >= 1, got %lld", mn, (long long)rank);
        if (m != BONE_METHOD_LORA && rank > (O < I ? O : I))
            return bone_fail(e, "%s: --rank %lld exceeds min(out_features, in_features) = %lld of %s (%lld x %lld)", mn,
                             (long long)rank, (long long)(O < I ? O : I), name, (long long)O, (long long)I);
        return rank * (O + I);
    default: return bone_fail(e, "%s is not an adapter method", mn);
    }
}

/* ---- linear level ---- */

bone_adapter *bone_adapter_new(bone_method method) {
    bone_adapter *a = xcalloc(1, sizeof *a);
    a->method = method;
    a->pidx[0] = a->pidx[1] = -1;
    return a;
}

static const bone_adapter_ops *ops_of(bone_method m) {
    switch (m) {
    case BONE_METHOD_COL: return &bone_ops_col;
    case BONE_METHOD_ROW: return &bone_ops_row;
    case BONE_METHOD_GRID: return &bone_ops_grid;
    case BONE_METHOD_HADAMARD: return &bone_ops_hadamard;
    case BONE_METHOD_FREE: return &bone_ops_free;
    case BONE_METHOD_LORA: return &bone_ops_lora;
    case BONE_METHOD_PISSA: return &bone_ops_pissa;
    case BONE_METHOD_OLORA: return &bone_ops_olora;
    default: return NULL;
    }
}

/* our adapter on L, or NULL */
static bone_adapter *our_adapter(const bone_linear *L) {
    if (!L->ops) return NULL;
    for (int m = BONE_METHOD_COL; m <= BONE_METHOD_OLORA; m++)
        if (L->ops == ops_of((bone_method)m)) return L->adapter;
    return NULL;
}

int bone_adapter_bind(bone_linear *L, bone_adapter *a, bone_err *e) {
    const int64_t O = L->O, I = L->I;
    if (L->ops) return bone_fail(e, "%s already has an adapter (%s)", L->name, L->ops->name);
    if (bone_method_is_bone(a->method) && a->b >= 1) {
        if (a->method == BONE_METHOD_COL || a->method == BONE_METHOD_HADAMARD) a->gr = 1, a->gc = I / a->b;
        if (a->method == BONE_METHOD_ROW) a->gr = O / a->b, a->gc = 1;
    }
    if (bone_adapter_numel(L->name, O, I, a->method, a->b, a->gr, a->gc, a->rank, e) < 0) return -1;
    if (a->method != BONE_METHOD_FREE && bone_method_is_bone(a->method)) a->ng = (O / a->b / a->gr) * (I / a->b / a->gc);
    if (is_lora(a->method)) {
        if (!a->scale_set) { /* only an unset alpha means the default (hostile-use B11); negative is legal, as in PEFT */
            if (a->alpha == 0) a->alpha = (double)a->rank;
            if (a->scale == 0.0f) a->scale = (float)(a->alpha / (double)a->rank);
        }
        if (!(a->dropout >= 0.0 && a->dropout < 1.0))
            return bone_fail(e, "%s: dropout must be in [0, 1), got %g", bone_method_name(a->method), a->dropout);
    }
    L->ops = ops_of(a->method);
    L->adapter = a;
    return 0;
}

int bone_linear_merged_into(bone_linear *L, int unmerge, float *out, bone_err *e) {
    bone_adapter *A = our_adapter(L);
    if (!A) return bone_fail(e, "%s: no adapter to %s", L->name, unmerge ? "unmerge" : "merge");
    const int64_t O = L->O, I = L->I;
    if (!unmerge) {
        if (bone_method_is_bone(A->method)) bone_bone_wprime(L, out); /* W ← W' */
        else bone_lora_apply(L, 1.0f, out);                           /* W ← W + s·B·A */
    } else if (bone_method_is_bone(A->method)) {
        if (bone_bone_unmerge_into(L, out, e)) return -1;
    } else {
        bone_lora_apply(L, -1.0f, out); /* W = W' − s·B·A */
        if (A->init_a) /* a live PiSSA/OLoRA adapter describes W' − residual; + s·B0·A0 gives the original */
            gemm_nn(O, I, A->rank, A->scale, A->init_b, A->rank, A->init_a, I, 1.0f, out, I);
    }
    return 0;
}

/* merge (unmerge = 0) or unmerge L's adapter into an owned fp32 weight and drop the adapter */
static int linear_fold(bone_linear *L, int unmerge, bone_err *e) {
    if (!our_adapter(L)) return bone_fail(e, "%s: no adapter to %s", L->name, unmerge ? "unmerge" : "merge");
    float *out = xmalloc((size_t)(L->O * L->I) * sizeof(float)); /* (O, I) */
    if (bone_linear_merged_into(L, unmerge, out, e)) {
        free(out);
        return -1;
    }
    L->ops->destroy(L);
    L->ops = NULL;
    L->adapter = NULL;
    linear_set_base(L, (bone_wref){BONE_F32, out}, out);
    return 0;
}

int bone_linear_merge(bone_linear *L, bone_err *e) { return linear_fold(L, 0, e); }
int bone_linear_unmerge(bone_linear *L, bone_err *e) { return linear_fold(L, 1, e); }

void bone_adapter_scratch(const bone_linear *L, int64_t N, int64_t *wbuf, int64_t *tile, int64_t *tmp) {
    const bone_adapter *A = L->adapter;
    const int64_t O = L->O, I = L->I, conv = L->w.dtype == BONE_F32 ? 0 : O * I;
    *wbuf = conv, *tile = 0, *tmp = 0;
    if (!A) return;
    if (bone_method_is_bone(A->method) && A->method != BONE_METHOD_FREE) {
        int64_t nA = O / A->b, t = bone_tile_blocks(A->b);
        *wbuf = O * I;
        *tile = (t < nA ? t : nA) * A->b * I;
    } else if (A->method == BONE_METHOD_FREE) {
        *tmp = 2 * N * A->b;
    } else {
        *tmp = 2 * N * A->rank + (A->dropout > 0 ? N * I : 0);
    }
}

/* ---- selection ---- */

/* "0,2-5" → mask[n_layers] */
static int parse_layers(const char *s, int64_t nl, unsigned char *mask, bone_err *e) {
    memset(mask, s && *s ? 0 : 1, (size_t)nl);
    if (!s || !*s) return 0;
    const char *q = s;
    while (*q) {
        char *end;
        if (!isdigit((unsigned char)*q)) goto bad;
        long long lo = strtoll(q, &end, 10), hi = lo;
        if (*end == '-') {
            if (!isdigit((unsigned char)end[1])) goto bad;
            hi = strtoll(end + 1, &end, 10);
        }
        if (*end && *end != ',') goto bad;
        if (hi < lo) return bone_fail(e, "--layers \"%s\": range %lld-%lld is backwards", s, lo, hi);
        if (hi >= nl) return bone_fail(e, "--layers \"%s\": layer %lld out of range (the model has layers 0-%lld)", s, hi, (long long)nl - 1);
        for (long long l = lo; l <= hi; l++) mask[l] = 1;
        q = *end ? end + 1 : end;
    }
    return 0;
bad:
    return bone_fail(e, "--layers expects a list like \"0,2-5\", got \"%s\"", s);
}

typedef struct resolved {
    bone_method m;
    int64_t b, gr, gc, rank;
    double alpha;
} resolved;

static int resolve(const bone_adapter_spec *s, resolved *r, bone_err *e) {
    if (bone_method_parse(s->method, &r->m, e)) return -1;
    r->b = s->block > 0 ? s->block : 64;
    r->rank = s->rank > 0 ? s->rank : 8;
    r->alpha = s->alpha != 0 ? s->alpha : (double)r->rank;
    r->gr = r->gc = 1;
    if (r->m == BONE_METHOD_GRID) {
        if (s->grid_r < 1 || s->grid_c < 1) return bone_fail(e, "bone-grid needs --grid GRxGC (e.g. 2x2)");
        r->gr = s->grid_r, r->gc = s->grid_c;
    }
    if (is_lora(r->m) && !(s->dropout >= 0.0 && s->dropout < 1.0))
        return bone_fail(e, "--dropout must be in [0, 1), got %g", s->dropout);
    return 0;
}

/* the group shape a method implies for an (O, I) linear */
static void group_shape(const resolved *r, int64_t O, int64_t I, int64_t *gr, int64_t *gc) {
    *gr = r->gr, *gc = r->gc;
    if (r->m == BONE_METHOD_COL || r->m == BONE_METHOD_HADAMARD) *gr = 1, *gc = I / r->b;
    if (r->m == BONE_METHOD_ROW) *gr = O / r->b, *gc = 1;
}

int bone_adapter_attach(bone_model *m, const bone_adapter_spec *s, bone_params *P, bone_err *e) {
    resolved r;
    if (resolve(s, &r, e)) return -1;
    if (r.m == BONE_METHOD_FULL)
        return bone_fail(e, "method \"full\" trains the model itself (bone_model_make_trainable), not an adapter");
    if (P->value) return bone_fail(e, "bone_adapter_attach: the parameter store is already allocated");
    const int64_t nl = m->cfg.n_layers;
    const int np = (int)bone_model_nproj(m);
    int tmask[BONE_MAXPROJ];
    unsigned char *lmask = xmalloc((size_t)(nl > 0 ? nl : 1));
    if (bone_targets_parse(&m->cfg, s->targets, tmask, e) || parse_layers(s->layers, nl, lmask, e)) {
        free(lmask);
        return -1;
    }
    /* pass 1: validate everything before changing anything */
    for (int64_t l = 0; l < nl; l++)
        for (int p = 0; p < np; p++) {
            if (!lmask[l] || !tmask[p]) continue;
            bone_linear *L = bone_model_linear(m, l * np + p);
            int64_t gr, gc;
            group_shape(&r, L->O, L->I, &gr, &gc);
            if (L->ops) {
                free(lmask);
                return bone_fail(e, "%s already has an adapter (%s)", L->name, L->ops->name);
            }
            if (bone_adapter_numel(L->name, L->O, L->I, r.m, r.b, gr, gc, r.rank, e) < 0) {
                free(lmask);
                return -1;
            }
        }
    /* pass 2: plan tensors and install */
    char name[512];
    for (int64_t l = 0; l < nl; l++)
        for (int p = 0; p < np; p++) {
            if (!lmask[l] || !tmask[p]) continue;
            bone_linear *L = bone_model_linear(m, l * np + p);
            bone_adapter *a = bone_adapter_new(r.m);
            a->b = r.b, a->gr = r.gr, a->gc = r.gc, a->rank = r.rank, a->alpha = r.alpha, a->dropout = s->dropout;
            a->id = (uint64_t)(l * np + p);
            a->seed = s->seed;
            a->niter = s->svd_niter;
            if (bone_adapter_bind(L, a, e)) { /* cannot happen after pass 1, but keep ownership clear */
                free(a);
                free(lmask);
                return -1;
            }
            if (a->method == BONE_METHOD_FREE) {
                int64_t sh[2] = {a->b, L->O};
                snprintf(name, sizeof name, "%s.bone_B", L->name);
                a->pidx[0] = bone_params_add(P, name, 2, sh);
            } else if (bone_method_is_bone(a->method)) {
                int64_t sh[3] = {a->ng, a->b, a->b};
                snprintf(name, sizeof name, "%s.bone_D", L->name);
                a->pidx[0] = bone_params_add(P, name, 3, sh);
            } else {
                int64_t sa[2] = {a->rank, L->I}, sb[2] = {L->O, a->rank};
                snprintf(name, sizeof name, "%s.lora_A", L->name);
                a->pidx[0] = bone_params_add(P, name, 2, sa);
                snprintf(name, sizeof name, "%s.lora_B", L->name);
                a->pidx[1] = bone_params_add(P, name, 2, sb);
            }
        }
    free(lmask);
    return 0;
}

int bone_adapter_init(bone_model *m, bone_params *P, bone_err *e) {
    if (!P->value) return bone_fail(e, "bone_adapter_init: allocate the parameter store first");
    for (int64_t i = 0; i < bone_model_nlinears(m); i++) {
        bone_linear *L = bone_model_linear(m, i);
        bone_adapter *a = our_adapter(L);
        if (!a) continue;
        for (int k = 0; k < 2; k++)
            if (a->pidx[k] >= 0) {
                a->v[k] = bone_params_value(P, a->pidx[k]);
                a->g[k] = bone_params_grad(P, a->pidx[k]);
            }
        if (bone_method_is_bone(a->method)) {
            /* Bone starts at zero: W' = W at step 0 */
            memset(a->v[0], 0, (size_t)P->p[a->pidx[0]].numel * sizeof(float));
        } else if (a->method == BONE_METHOD_LORA) {
            bone_lora_init_default(L, a->seed);
        } else if (a->method == BONE_METHOD_PISSA) {
            if (bone_lora_init_pissa(L, a->niter, a->seed, e)) return -1;
        } else if (bone_lora_init_olora(L, e)) {
            return -1;
        }
    }
    return 0;
}

int64_t bone_adapter_count(const bone_config *c, const bone_adapter_spec *s, bone_err *e) {
    resolved r;
    if (resolve(s, &r, e)) return -1;
    const int64_t nl = c->n_layers;
    const bone_arch_i *ai = bone_arch_cfg(c);
    if (r.m == BONE_METHOD_FULL) return ai->full_count(c);
    const int np = ai->nproj;
    int tmask[BONE_MAXPROJ];
    unsigned char *lmask = xmalloc((size_t)(nl > 0 ? nl : 1));
    if (bone_targets_parse(c, s->targets, tmask, e) || parse_layers(s->layers, nl, lmask, e)) {
        free(lmask);
        return -1;
    }
    int64_t total = 0;
    char name[256];
    for (int64_t l = 0; l < nl; l++)
        for (int p = 0; p < np; p++) {
            if (!lmask[l] || !tmask[p]) continue;
            int64_t O, I, gr, gc;
            bone_linear_info(c, l, p, name, sizeof name, &O, &I, NULL);
            group_shape(&r, O, I, &gr, &gc);
            int64_t k = bone_adapter_numel(name, O, I, r.m, r.b, gr, gc, r.rank, e);
            if (k < 0) {
                free(lmask);
                return -1;
            }
            total += k;
        }
    free(lmask);
    return total;
}

int bone_adapter_merge(bone_model *m, bone_err *e) {
    for (int64_t i = 0; i < bone_model_nlinears(m); i++) {
        bone_linear *L = bone_model_linear(m, i);
        if (our_adapter(L) && bone_linear_merge(L, e)) return -1;
    }
    return 0;
}

int bone_adapter_unmerge(bone_model *m, bone_err *e) {
    for (int64_t i = 0; i < bone_model_nlinears(m); i++) {
        bone_linear *L = bone_model_linear(m, i);
        if (our_adapter(L) && bone_linear_unmerge(L, e)) return -1;
    }
    return 0;
}

bone_adapter *bone_adapter_of(const bone_linear *L) { return our_adapter(L); }
