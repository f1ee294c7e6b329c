/* cmd_eval_math.c — `bone eval math`: MATH (data/math: MATH-500 or the 5,000-problem test set)
 * with the Alpaca prompt + " Let's think step by step." (FORMATS.md §7.4, as MetaMath's and
 * PiSSA's MATH evaluation), greedy batched decoding, the last \boxed{…} (or a final "The answer
 * is" line) and the data/math README's normalisation (src/eval/math_answer.c). Accuracy overall,
 * per subject and per level with 95% Wilson intervals; per-example JSONL; --samples grades given
 * completions without a model. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "cli/eval_common.h"
#include "cli/samefile.h"
#include "core/fs.h"
#include "io/json.h"
#include "eval/evalgen.h"
#include "eval/gsm8k.h"
#include "eval/jsonl.h"
#include "eval/math_answer.h"

static const char *USAGE =
    "math --data FILE (--model DIR [--adapter DIR] | --samples FILE.jsonl) [--limit N] [--out FILE.jsonl]\n"
    "                 [--max-new N] [--batch N] [--json] [--quiet]\n\n"
    "MATH (Hendrycks et al.): each problem goes into the Alpaca prompt followed by \" Let's think step\n"
    "by step.\" (docs/FORMATS.md §7.4), decoded greedily (BOS added) until EOS, a stop string or\n"
    "--max-new tokens, --batch prompts at a time. The answer is the last \\boxed{...} (nested braces;\n"
    "\\fbox with no \\boxed), else the rest of the line after the last \"The answer is\"; predicted and\n"
    "gold answers are normalised with the rules of data/math/README.md and compared as strings.\n"
    "Data: data/math/math500_test.jsonl (MATH-500) or data/math/math_test.jsonl (5,000 problems);\n"
    "rows need \"problem\" and \"answer\" (or a \"solution\" with a box); \"subject\", \"level\" and\n"
    "\"unique_id\" are used when present. --samples grades completions instead of running a model:\n"
    "rows {\"task_id\", \"completion\"}, task_id being the row's unique_id or its 0-based index.\n"
    "Prints accuracy with a 95% interval, per subject and per level; --out writes one JSON line per\n"
    "example; --json ends with {\"task\", \"samples\", \"correct\", \"accuracy\", ...}.\n\n"
    "example:\n"
    "  bone eval math --model models/default --data data/math/math500_test.jsonl --limit 4 --max-new 32 "
    "--batch 4 --out math-4.jsonl";

typedef struct { char *name; int64_t n, ok; } tally;

static void tally_add(tally **t, int64_t *nt, const char *name, int ok) {
    for (int64_t i = 0; i < *nt; i++)
        if (!strcmp((*t)[i].name, name)) { (*t)[i].n++; (*t)[i].ok += ok; return; }
    *t = xrealloc(*t, (size_t)(*nt + 1) * sizeof **t);
    (*t)[*nt] = (tally){xstrdup(name), 1, ok};
    (*nt)++;
}
static int tally_cmp(const void *a, const void *b) { return strcmp(((const tally *)a)->name, ((const tally *)b)->name); }

static void print_tally(const char *title, tally *t, int64_t nt) {
    qsort(t, (size_t)nt, sizeof *t, tally_cmp);
    printf("%s:\n", title);
    for (int64_t i = 0; i < nt; i++) {
        double lo, hi;
        bone_wilson95(t[i].ok, t[i].n, &lo, &hi);
        printf("  %-24s %5lld/%-5lld %.4f  [%.4f, %.4f]\n", t[i].name, (long long)t[i].ok, (long long)t[i].n,
               (double)t[i].ok / (double)t[i].n, lo, hi);
    }
}

static cJSON *tally_json(const tally *t, int64_t nt) {
    cJSON *o = cJSON_CreateObject();
    for (int64_t i = 0; i < nt; i++) {
        cJSON *x = cJSON_AddObjectToObject(o, t[i].name);
        cJSON_AddNumberToObject(x, "samples", (double)t[i].n);
        cJSON_AddNumberToObject(x, "correct", (double)t[i].ok);
        cJSON_AddNumberToObject(x, "accuracy", (double)t[i].ok / (double)t[i].n);
    }
    return o;
}

int cmd_eval_math(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *data = NULL, *outp = NULL, *tokp = NULL, *samples = NULL;
    int64_t limit = 0, max_new = 512, batch = 16;
    int quiet = 0, json = 0;
    bone_opt opts[] = {
        {"model", OPT_STR, &model, "model directory (or --samples)", 0},
        {"data", OPT_STR, &data, "MATH JSONL, e.g. data/math/math500_test.jsonl (required)", 0},
        {"adapter", OPT_STR, &adapter, "adapter directory (ours or PEFT's)", 0},
        {"tokenizer", OPT_STR, &tokp, "tokenizer path (default: the model directory)", 0},
        {"samples", OPT_STR, &samples, "grade completions {task_id, completion} instead of running a model", 0},
        {"limit", OPT_INT, &limit, "evaluate the first N problems only", 0},
        {"out", OPT_STR, &outp, "per-example JSONL (written atomically at the end)", 0},
        {"max-new", OPT_INT, &max_new, "maximum new tokens per answer (default 512)", 0},
        {"batch", OPT_INT, &batch, "prompts decoded together (default 16)", 0},
        {"json", OPT_FLAG, &json, "end with one JSON line of the results", 0},
        {"quiet", OPT_FLAG, &quiet, "no progress on stderr", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse("eval math", USAGE, opts, argc, argv, pos, 1, &npos);
    if (r) return r < 0 ? 0 : r;
    if (npos) return bone_usage_error("eval math", "unexpected argument \"%s\"", pos[0]);
    if (!data) return bone_usage_error("eval math", "--data is required");
    if (!model == !samples) return bone_usage_error("eval math", "give either --model or --samples");
    if (samples && (adapter || tokp))
        return bone_usage_error("eval math", "--samples grades given completions; --adapter/--tokenizer need --model");
    if (bone_opt_seen(opts, "limit") && limit <= 0) return bone_usage_error("eval math", "--limit must be positive");
    if (max_new <= 0) return bone_usage_error("eval math", "--max-new must be positive");
    if (batch <= 0) return bone_usage_error("eval math", "--batch must be positive");
    if (outp && (bone_same_file(outp, data) || (samples && bone_same_file(outp, samples))))
        return bone_usage_error("eval math", "--out %s is one of the input files; choose another --out", outp);

    bone_err e;
    bone_jsonl d;
    if (bone_jsonl_read(data, limit, &d, &e)) {
        fprintf(stderr, "bone eval math: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    int rc = BONE_EXIT_RUNTIME, afile_open = 0;
    int64_t N = d.n, ns = 0;
    char **gold = xcalloc((size_t)N, sizeof *gold);
    const char **ids = xcalloc((size_t)N, sizeof *ids);
    char **prompts = NULL, **outs = NULL;
    int64_t *task = NULL;
    bone_samples S = {0};
    bone_eval_model em = {0};
    tally *subj = NULL, *lev = NULL;
    int64_t nsubj = 0, nlev = 0, correct = 0;
    bone_afile af;
    for (int64_t i = 0; i < N; i++) {
        const char *a = bone_jsonl_str(&d, i, "answer"), *sol = bone_jsonl_str(&d, i, "solution");
        if (!bone_jsonl_str(&d, i, "problem") || (!a && !sol)) {
            bone_fail(&e, "%s:%lld: expected string fields \"problem\" and \"answer\" (or \"solution\")", data,
                      (long long)d.line[i]);
            goto fail;
        }
        gold[i] = a ? xstrdup(a) : bone_math_last_boxed(sol);
        if (!gold[i]) {
            bone_fail(&e, "%s:%lld: no \"answer\" and no \\boxed{...} in \"solution\"", data, (long long)d.line[i]);
            goto fail;
        }
        ids[i] = bone_jsonl_str(&d, i, "unique_id");
    }
    if (samples) {
        if (bone_samples_read(samples, ids, N, &S, &e)) goto fail;
        ns = S.n;
        task = S.task;
        outs = S.completion;
    } else {
        if (bone_eval_model_load(&em, model, adapter, tokp, &e)) goto fail;
        ns = N;
        task = xmalloc((size_t)N * sizeof *task);
        prompts = xmalloc((size_t)N * sizeof *prompts);
        outs = xcalloc((size_t)N, sizeof *outs);
        for (int64_t i = 0; i < N; i++) {
            task[i] = i;
            prompts[i] = bone_gsm8k_prompt(bone_jsonl_str(&d, i, "problem"));
        }
        bone_gen_opts o;
        bone_gen_opts_default(&o);
        o.max_new = max_new;
        o.temperature = 0;
        o.stop = BONE_GSM8K_STOP;
        o.add_special = 1;
        bone_evalgen g = {batch, quiet, "eval math"};
        if (bone_eval_generate(&em.m, em.tok, &g, prompts, N, &o, NULL, outs, NULL, &e)) {
            free(outs);
            outs = NULL;
            goto fail;
        }
    }
    if (outp) {
        if (bone_afile_open(&af, outp, &e)) goto fail;
        afile_open = 1;
    }
    for (int64_t s = 0; s < ns; s++) {
        int64_t i = task[s];
        bone_math_how how;
        char *pred = bone_math_extract(outs[s], &how);
        int ok = bone_math_equal(pred, gold[i]);
        correct += ok;
        const cJSON *sj = cJSON_GetObjectItemCaseSensitive(d.row[i], "subject");
        const cJSON *lj = cJSON_GetObjectItemCaseSensitive(d.row[i], "level");
        char lvl[32] = "?";
        if (cJSON_IsNumber(lj)) snprintf(lvl, sizeof lvl, "%g", lj->valuedouble);
        else if (cJSON_IsString(lj)) snprintf(lvl, sizeof lvl, "%.20s", lj->valuestring);
        tally_add(&subj, &nsubj, cJSON_IsString(sj) ? sj->valuestring : "?", ok);
        tally_add(&lev, &nlev, lvl, ok);
        int wrc = 0;
        if (afile_open) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddNumberToObject(j, "index", (double)i);
            if (ids[i]) cJSON_AddStringToObject(j, "unique_id", ids[i]);
            cJSON_AddStringToObject(j, "subject", cJSON_IsString(sj) ? sj->valuestring : "?");
            cJSON_AddStringToObject(j, "level", lvl);
            if (prompts) cJSON_AddStringToObject(j, "prompt", prompts[i]);
            cJSON_AddStringToObject(j, "output", outs[s]);
            if (pred) cJSON_AddStringToObject(j, "extracted", pred);
            else cJSON_AddNullToObject(j, "extracted");
            cJSON_AddStringToObject(j, "how", how == BONE_MATH_BOXED ? "boxed" : how == BONE_MATH_ANSWER_IS ? "the answer is"
                                                                                                         : "none");
            cJSON_AddStringToObject(j, "gold", gold[i]);
            cJSON_AddBoolToObject(j, "correct", ok);
            wrc = bone_afile_write_json(&af, j, &e);
        }
        free(pred);
        if (wrc) goto fail;
    }
    if (afile_open) {
        afile_open = 0;
        if (bone_afile_commit(&af, &e)) goto fail;
    }
    double lo, hi;
    bone_wilson95(correct, ns, &lo, &hi);
    printf("math: %lld/%lld correct, accuracy %.4f (95%% interval %.4f-%.4f)\n", (long long)correct, (long long)ns,
           (double)correct / (double)ns, lo, hi);
    print_tally("by subject", subj, nsubj);
    print_tally("by level", lev, nlev);
    if (outp) printf("wrote %s\n", outp);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "task", "math");
        cJSON_AddNumberToObject(j, "samples", (double)ns);
        cJSON_AddNumberToObject(j, "correct", (double)correct);
        cJSON_AddNumberToObject(j, "accuracy", (double)correct / (double)ns);
        cJSON *ci = cJSON_AddArrayToObject(j, "ci95");
        cJSON_AddItemToArray(ci, cJSON_CreateNumber(lo));
        cJSON_AddItemToArray(ci, cJSON_CreateNumber(hi));
        cJSON_AddItemToObject(j, "by_subject", tally_json(subj, nsubj));
        cJSON_AddItemToObject(j, "by_level", tally_json(lev, nlev));
        char *t = cJSON_PrintUnformatted(j);
        printf("%s\n", t);
        free(t);
        cJSON_Delete(j);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bone eval math: %s\n", e.msg);
done:
    if (afile_open) bone_afile_abort(&af);
    for (int64_t i = 0; i < nsubj; i++) free(subj[i].name);
    for (int64_t i = 0; i < nlev; i++) free(lev[i].name);
    free(subj);
    free(lev);
    if (samples) bone_samples_free(&S);
    else {
        for (int64_t i = 0; prompts && i < N; i++) free(prompts[i]);
        for (int64_t i = 0; outs && i < N; i++) free(outs[i]);
        free(prompts);
        free(outs);
        free(task);
    }
    bone_eval_model_free(&em);
    for (int64_t i = 0; i < N; i++) free(gold[i]);
    free(gold);
    free(ids);
    bone_jsonl_free(&d);
    return rc;
}
