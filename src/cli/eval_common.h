/* eval_common.h — what the `bone eval` tasks share on the command line: loading the model, an
 * optional adapter and the tokenizer (with the non-finite weight check), and the task entry
 * points that cmd_eval dispatches to. */
#ifndef BONE_CLI_EVAL_COMMON_H
#define BONE_CLI_EVAL_COMMON_H
#include "core/params.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

typedef struct bone_eval_model {
    bone_model m;
    bone_params P;
    bone_tokenizer *tok;
    int have_model;
} bone_eval_model;

int bone_eval_model_load(bone_eval_model *em, const char *model, const char *adapter, const char *tokp, bone_err *e);
void bone_eval_model_free(bone_eval_model *em);

/* argv[0] is the task name */
int cmd_eval_math(int argc, char **argv);
int cmd_eval_humaneval(int argc, char **argv);
int cmd_eval_arith(int argc, char **argv);

#endif
