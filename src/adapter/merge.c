/* merge.c — merge / unmerge as whole-directory operations (used by `bone merge` and
 * `bone unmerge`): load the base (or merged) model, read the adapter directory, fold it in
 * (or take it out), and write a complete HF model directory in the base's dtype with the
 * tokenizer and generation files copied alongside. bone_adapter_merge_load is the in-memory
 * half (the whole model merged; GGUF export uses it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "adapter/adapter_internal.h"

int bone_adapter_merge_load(const char *model_dir, const char *adapter_dir, int unmerge, bone_model *m,
                            bone_params *P, bone_dtype *stored, int64_t *n_linears, bone_err *e) {
    bone_params_init(P);
    if (bone_model_load(model_dir, m, e)) return bone_wrap(e, "loading %s", model_dir);
    /* the dtype the model is stored in (before anything is folded into fp32 copies) */
    if (stored) *stored = bone_model_linear(m, 0)->w.dtype;
    int64_t n = 0;
    int rc = 0;
    if (adapter_dir) {
        rc = bone_adapter_load(m, adapter_dir, P, e);
        for (int64_t i = 0; rc == 0 && i < bone_model_nlinears(m); i++)
            n += bone_adapter_of(bone_model_linear(m, i)) != NULL;
        if (rc == 0) rc = unmerge ? bone_adapter_unmerge(m, e) : bone_adapter_merge(m, e);
    }
    if (n_linears) *n_linears = n;
    if (rc) {
        bone_model_free(m);
        bone_params_free(P);
    }
    return rc;
}

/* bone_save_opts.linear_weight: a linear's merged (or unmerged) weight, made as it is written */
static int fold_weight(void *ctx, bone_linear *L, float *out, bone_err *e) {
    if (!bone_adapter_of(L)) return 0;
    return bone_linear_merged_into(L, *(const int *)ctx, out, e) ? -1 : 1;
}

int bone_adapter_merge_dir(const char *model_dir, const char *adapter_dir, const char *out_dir, int unmerge,
                           int64_t *n_linears, bone_err *e) {
    return bone_adapter_merge_dir_opts(model_dir, adapter_dir, out_dir, unmerge, 0, n_linears, e);
}

int bone_adapter_merge_dir_opts(const char *model_dir, const char *adapter_dir, const char *out_dir, int unmerge,
                                uint64_t max_shard, int64_t *n_linears, bone_err *e) {
    bone_model m;
    bone_params P;
    bone_params_init(&P);
    if (bone_model_load(model_dir, &m, e)) return bone_wrap(e, "loading %s", model_dir);
    /* the dtype the model is stored in */
    const bone_dtype dt = bone_model_linear(&m, 0)->w.dtype;
    int rc = bone_adapter_load(&m, adapter_dir, &P, e);
    int64_t n = 0;
    for (int64_t i = 0; rc == 0 && i < bone_model_nlinears(&m); i++) n += bone_adapter_of(bone_model_linear(&m, i)) != NULL;
    /* no whole-model merge first: each linear is folded into the save's one-tensor buffer
     * when the writer reaches it, so a 7B merge holds one weight, not 26 GB of fp32 copies;
     * the tokenizer files are the ones a full fine-tune copies (model.c's one list) */
    bone_save_opts so = {max_shard, model_dir, fold_weight, &unmerge};
    if (rc == 0) rc = bone_model_save_opts(&m, out_dir, dt, &so, e);
    if (n_linears) *n_linears = n;
    bone_model_free(&m);
    bone_params_free(&P);
    return rc;
}
