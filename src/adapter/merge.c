/* merge.c — merge / unmerge as whole-directory operations (used by `bone merge` and
 * `bone unmerge`): load the base (or merged) model, read the adapter directory, fold it in
 * (or take it out), and write a complete HF model directory in the base's dtype with the
 * tokenizer and generation files copied alongside. */
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

int bone_adapter_merge_dir(const char *model_dir, const char *adapter_dir, const char *out_dir, int unmerge,
                           int64_t *n_linears, bone_err *e) {
    bone_model m;
    bone_params P;
    bone_dtype dt;
    if (bone_adapter_merge_load(model_dir, adapter_dir, unmerge, &m, &P, &dt, n_linears, e)) return -1;
    int rc = bone_model_save(&m, out_dir, dt, e);
    /* the same files a full fine-tune copies (model.c's one list) */
    if (rc == 0) rc = bone_copy_tokenizer_files(model_dir, out_dir, e);
    bone_model_free(&m);
    bone_params_free(&P);
    return rc;
}
