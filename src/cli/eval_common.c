/* eval_common.c — model + adapter + tokenizer loading shared by the `bone eval` tasks. */
#include "cli/eval_common.h"
#include <string.h>
#include "adapter/adapter.h"

int bone_eval_model_load(bone_eval_model *em, const char *model, const char *adapter, const char *tokp, bone_err *e) {
    memset(em, 0, sizeof *em);
    bone_params_init(&em->P);
    if (bone_model_load(model, &em->m, e)) return -1;
    em->have_model = 1;
    if (adapter && bone_adapter_load(&em->m, adapter, &em->P, e)) return -1;
    /* NaN logits decode to plausible-looking tokens (argmax skips NaN), so a NaN weight would
     * give an accuracy instead of an error (hostile-use B12) */
    if (bone_model_check_finite(&em->m, &em->P, e)) return -1;
    em->tok = bone_tokenizer_load(tokp ? tokp : model, e);
    return em->tok ? 0 : -1;
}

void bone_eval_model_free(bone_eval_model *em) {
    bone_tokenizer_free(em->tok);
    bone_params_free(&em->P);
    if (em->have_model) bone_model_free(&em->m);
    memset(em, 0, sizeof *em);
}
