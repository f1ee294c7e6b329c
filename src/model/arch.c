/* arch.c — the family tables (arch.h) and the config-only linear walk that the adapter code,
 * count and bench use. The Llama entries are thin: its model code stays in model.c/step.c. */
#include "model/arch.h"
#include <stdio.h>
#include <string.h>
#include "model/model.h"
#include "model/rwkv6.h"
#include "ops/ops.h"

static void llama_linear_info(const bone_config *c, int64_t l, int p, char *name, size_t n, int64_t *O, int64_t *I,
                              int *bias) {
    if (name)
        snprintf(name, n, "model.layers.%lld.%s.%s", (long long)l, p <= BONE_O ? "self_attn" : "mlp",
                 bone_proj_names[p]);
    bone_proj_shape(c, p, O, I);
    if (bias) *bias = bone_proj_has_bias(c, p);
}

static int64_t llama_full_count(const bone_config *c) {
    const int64_t nl = c->n_layers, H = c->hidden;
    int64_t n = c->vocab * H * (c->tied ? 1 : 2) + H; /* embeddings (+ lm_head), final norm */
    for (int p = 0; p < BONE_NPROJ; p++) {
        int64_t O, I;
        bone_proj_shape(c, p, &O, &I);
        n += nl * (O * I + (bone_proj_has_bias(c, p) ? O : 0));
    }
    return n + nl * 2 * H; /* two norms per layer */
}

static int64_t llama_extra_count(const bone_config *c, const char *extra, bone_err *e) {
    (void)c;
    if (!extra || !*extra) return 0;
    return bone_fail(e, "--train-extra \"%s\": a %s model has no extra parameter groups (only RWKV-6 has "
                        "time and ln)", extra, bone_arch_name(c->arch));
}

static double llama_mixer_flops(const bone_config *c, int64_t T) {
    /* QKᵀ and P·V on the full T×T square per head (as BLAS computes the causal blocks) */
    return 4.0 * (double)T * (double)(c->n_heads * c->head_dim);
}

static size_t llama_mixer_ws(const bone_config *c, int64_t T) {
    (void)c;
    return attention_ws_floats(T);
}

static const bone_arch_i llama_i = {
    .name = "llama",
    .nproj = BONE_NPROJ,
    .proj_names = bone_proj_names,
    .targets_help = "q_proj, k_proj, v_proj, o_proj (model.layers.N.self_attn.*), gate_proj, up_proj, down_proj "
                    "(model.layers.N.mlp.*), or all-linear",
    .linear_info = llama_linear_info,
    .full_count = llama_full_count,
    .extra_count = llama_extra_count,
    .mixer_flops = llama_mixer_flops,
    .mixer_ws_floats = llama_mixer_ws,
};

const bone_arch_i *bone_arch_of(bone_arch a) { return a == BONE_ARCH_RWKV6 ? &bone_rwkv6_i : &llama_i; }

void bone_linear_info(const bone_config *c, int64_t l, int p, char *name, size_t n, int64_t *O, int64_t *I, int *bias) {
    bone_arch_cfg(c)->linear_info(c, l, p, name, n, O, I, bias);
}

int bone_targets_parse(const bone_config *c, const char *s, int *mask, bone_err *e) {
    const bone_arch_i *ai = bone_arch_cfg(c);
    const int np = ai->nproj;
    if (!s || !*s || !strcmp(s, "all-linear")) {
        for (int p = 0; p < np; p++) mask[p] = 1;
        return 0;
    }
    for (int p = 0; p < np; p++) mask[p] = 0;
    const char *q = s;
    while (*q) {
        const char *end = strchr(q, ',');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        int found = 0;
        if (len == 10 && !strncmp(q, "all-linear", len)) {
            for (int p = 0; p < np; p++) mask[p] = 1;
            found = 1;
        }
        for (int p = 0; p < np && !found; p++)
            if (strlen(ai->proj_names[p]) == len && !strncmp(q, ai->proj_names[p], len)) mask[p] = 1, found = 1;
        unsigned bits = !found && ai->proj_alias ? ai->proj_alias(q, len) : 0;
        for (int p = 0; p < np; p++)
            if (bits >> p & 1) mask[p] = 1, found = 1;
        if (!found)
            return bone_fail(e, "unknown target module \"%.*s\"; this model's linear modules are: %s", (int)len, q,
                             ai->targets_help);
        q += len;
        if (*q == ',') q++;
    }
    return 0;
}
