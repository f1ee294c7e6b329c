/* cmd_eval_arith.c — `bone eval arith`: the seeded arithmetic word problems of src/eval/arith.c.
 * --write makes a train or test file (GSM8K's {"question", "answer"} rows, so `bone train
 * --format gsm8k --template alpaca` learns from it); otherwise a model (+ adapter) answers the
 * test split (generated, or --data), with the plain Alpaca prompt, greedy batched decoding and
 * the GSM8K answer extraction; accuracy overall and per level with 95% intervals. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "cli/eval_common.h"
#include "cli/samefile.h"
#include "core/fs.h"
#include "io/json.h"
#include "data/template.h"
#include "eval/arith.h"
#include "eval/evalgen.h"
#include "eval/gsm8k.h"
#include "eval/jsonl.h"

static const char *USAGE =
    "arith (--write FILE --split train|test | --model DIR [--adapter DIR] [--data FILE]) [--n N]\n"
    "                  [--level L] [--seed S] [--max-new N] [--batch N] [--out FILE.jsonl] [--json]\n\n"
    "Arithmetic word problems with exact answers, generated from --seed: level 1 one addition or\n"
    "subtraction, 2 one multiplication or division, 3 two steps, 4 three steps (--level 0: mixed).\n"
    "Train and test never share a question (the split is by a hash of the question text).\n"
    "--write FILE writes --n problems of --split as GSM8K rows {\"question\", \"answer\" ending\n"
    "\"#### N\", \"level\"}, to train on with --format gsm8k --template alpaca. With --model, the model\n"
    "answers --n test problems (or the rows of --data) after the plain Alpaca prompt, greedily; the\n"
    "answer is read as in `bone eval gsm8k` (\"#### N\", \"The answer is: N\" or the last number).\n"
    "Prints accuracy with a 95% interval, per level; --json ends with {\"task\", \"samples\",\n"
    "\"correct\", \"accuracy\"}.\n\n"
    "example:\n"
    "  bone eval arith --write arith-train.jsonl --split train --n 1000 --seed 1\n"
    "  bone eval arith --model models/default --n 8 --max-new 48 --batch 8 --json";

int cmd_eval_arith(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *tokp = NULL, *data = NULL, *write = NULL, *split = NULL, *outp = NULL;
    int64_t n = 200, level = 0, seed = 1, max_new = 96, batch = 16;
    int json = 0, quiet = 0;
    bone_opt opts[] = {
        {"write", OPT_STR, &write, "write --n problems of --split to this JSONL file", 0},
        {"split", OPT_STR, &split, "train | test (with --write)", 0},
        {"model", OPT_STR, &model, "model directory: answer test problems", 0},
        {"adapter", OPT_STR, &adapter, "adapter directory (ours or PEFT's)", 0},
        {"tokenizer", OPT_STR, &tokp, "tokenizer path (default: the model directory)", 0},
        {"data", OPT_STR, &data, "test problems from this file instead of generating them", 0},
        {"n", OPT_INT, &n, "problems (default 200)", 0},
        {"level", OPT_INT, &level, "1..4, or 0 for mixed (default 0)", 0},
        {"seed", OPT_INT, &seed, "generator seed (default 1)", 0},
        {"max-new", OPT_INT, &max_new, "maximum new tokens per answer (default 96)", 0},
        {"batch", OPT_INT, &batch, "prompts decoded together (default 16)", 0},
        {"out", OPT_STR, &outp, "per-example JSONL", 0},
        {"json", OPT_FLAG, &json, "end with one JSON line of the results", 0},
        {"quiet", OPT_FLAG, &quiet, "no progress on stderr", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    const char *C = "eval arith";
    int r = bone_args_parse(C, USAGE, opts, argc, argv, pos, 1, &npos);
    if (r) return r < 0 ? 0 : r;
    if (npos) return bone_usage_error(C, "unexpected argument \"%s\"", pos[0]);
    if (!write == !model) return bone_usage_error(C, "give either --write FILE or --model DIR");
    if (n <= 0 || n > 100000000) return bone_usage_error(C, "--n must be in 1..1e8");
    if (level < 0 || level > BONE_ARITH_LEVELS) return bone_usage_error(C, "--level must be 0..%d", BONE_ARITH_LEVELS);
    if (seed < 0) return bone_usage_error(C, "--seed must be >= 0");
    if (max_new <= 0 || batch <= 0) return bone_usage_error(C, "--max-new and --batch must be positive");
    bone_err e;
    if (write) {
        if (!split || (strcmp(split, "train") && strcmp(split, "test")))
            return bone_usage_error(C, "--write needs --split train or --split test");
        bone_afile af;
        if (bone_afile_open(&af, write, &e)) goto werr;
        for (int64_t i = 0; i < n; i++) {
            bone_arith_item it;
            bone_arith_problem((uint64_t)seed, !strcmp(split, "test"), i, (int)level, &it);
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "question", it.question);
            cJSON_AddStringToObject(j, "answer", it.answer);
            cJSON_AddNumberToObject(j, "level", it.level);
            int w = bone_afile_write_json(&af, j, &e);
            if (w) { bone_afile_abort(&af); goto werr; }
        }
        if (bone_afile_commit(&af, &e)) goto werr;
        printf("wrote %lld %s problems to %s\n", (long long)n, split, write);
        return 0;
    werr:
        fprintf(stderr, "bone %s: %s\n", C, e.msg);
        return BONE_EXIT_RUNTIME;
    }
    if (split) return bone_usage_error(C, "--split goes with --write");
    if (outp && data && bone_same_file(outp, data)) return bone_usage_error(C, "--out is the --data file");
    /* the problems */
    int64_t N = n;
    char **q = NULL;
    bone_gsm_answer *gold = NULL;
    int *lv = NULL;
    if (data) {
        bone_jsonl d;
        if (bone_jsonl_read(data, bone_opt_seen(opts, "n") ? n : 0, &d, &e)) goto rerr;
        N = d.n;
        q = xcalloc((size_t)N, sizeof *q);
        gold = xcalloc((size_t)N, sizeof *gold);
        lv = xcalloc((size_t)N, sizeof *lv);
        for (int64_t i = 0; i < N; i++) {
            const char *qs = bone_jsonl_str(&d, i, "question"), *as = bone_jsonl_str(&d, i, "answer");
            const cJSON *l = cJSON_GetObjectItemCaseSensitive(d.row[i], "level");
            if (!qs || !as || bone_gsm8k_gold(as, &gold[i]) || !gold[i].value[0]) {
                bone_fail(&e, "%s:%lld: expected \"question\" and an \"answer\" ending \"#### N\"", data,
                          (long long)d.line[i]);
                for (int64_t k = 0; k < i; k++) free(q[k]);
                free(q); free(gold); free(lv);
                bone_jsonl_free(&d);
                goto rerr;
            }
            q[i] = xstrdup(qs);
            lv[i] = cJSON_IsNumber(l) ? (int)l->valuedouble : 0;
        }
        bone_jsonl_free(&d);
    } else {
        q = xcalloc((size_t)N, sizeof *q);
        gold = xcalloc((size_t)N, sizeof *gold);
        lv = xcalloc((size_t)N, sizeof *lv);
        for (int64_t i = 0; i < N; i++) {
            bone_arith_item it;
            bone_arith_problem((uint64_t)seed, 1, i, (int)level, &it);
            q[i] = xstrdup(it.question);
            bone_gsm8k_gold(it.answer, &gold[i]);
            lv[i] = it.level;
        }
    }
    int rc = BONE_EXIT_RUNTIME, afile_open = 0;
    bone_eval_model em = {0};
    char **prompts = xcalloc((size_t)N, sizeof *prompts), **outs = xcalloc((size_t)N, sizeof *outs);
    int64_t correct = 0, lv_n[BONE_ARITH_LEVELS + 1] = {0}, lv_ok[BONE_ARITH_LEVELS + 1] = {0};
    bone_afile af;
    if (bone_eval_model_load(&em, model, adapter, tokp, &e)) goto fail;
    for (int64_t i = 0; i < N; i++) {
        int len = snprintf(NULL, 0, BONE_ALPACA_PROMPT, q[i]);
        prompts[i] = xmalloc((size_t)len + 1);
        snprintf(prompts[i], (size_t)len + 1, BONE_ALPACA_PROMPT, q[i]);
    }
    bone_gen_opts o;
    bone_gen_opts_default(&o);
    o.max_new = max_new;
    o.temperature = 0;
    o.stop = BONE_GSM8K_STOP;
    o.add_special = 1;
    bone_evalgen g = {batch, quiet, C};
    if (bone_eval_generate(&em.m, em.tok, &g, prompts, N, &o, NULL, outs, NULL, &e)) {
        memset(outs, 0, (size_t)N * sizeof *outs);
        goto fail;
    }
    if (outp) {
        if (bone_afile_open(&af, outp, &e)) goto fail;
        afile_open = 1;
    }
    for (int64_t i = 0; i < N; i++) {
        bone_gsm_answer pred;
        bone_gsm8k_extract(outs[i], &pred);
        int ok = bone_gsm8k_equal(pred.value, gold[i].value);
        correct += ok;
        int l = lv[i] >= 1 && lv[i] <= BONE_ARITH_LEVELS ? lv[i] : 0;
        lv_n[l]++;
        lv_ok[l] += ok;
        if (afile_open) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddNumberToObject(j, "index", (double)i);
            cJSON_AddNumberToObject(j, "level", lv[i]);
            cJSON_AddStringToObject(j, "question", q[i]);
            cJSON_AddStringToObject(j, "output", outs[i]);
            if (pred.value[0]) cJSON_AddStringToObject(j, "extracted", pred.value);
            else cJSON_AddNullToObject(j, "extracted");
            cJSON_AddStringToObject(j, "gold", gold[i].value);
            cJSON_AddBoolToObject(j, "correct", ok);
            int w = bone_afile_write_json(&af, j, &e);
            if (w) goto fail;
        }
    }
    if (afile_open) {
        afile_open = 0;
        if (bone_afile_commit(&af, &e)) goto fail;
    }
    double lo, hi;
    bone_wilson95(correct, N, &lo, &hi);
    printf("arith: %lld/%lld correct, accuracy %.4f (95%% interval %.4f-%.4f)\n", (long long)correct, (long long)N,
           (double)correct / (double)N, lo, hi);
    for (int l = 0; l <= BONE_ARITH_LEVELS; l++)
        if (lv_n[l]) {
            bone_wilson95(lv_ok[l], lv_n[l], &lo, &hi);
            printf("  level %d: %lld/%lld %.4f [%.4f, %.4f]\n", l, (long long)lv_ok[l], (long long)lv_n[l],
                   (double)lv_ok[l] / (double)lv_n[l], lo, hi);
        }
    if (json)
        printf("{\"task\": \"arith\", \"samples\": %lld, \"correct\": %lld, \"accuracy\": %.9g}\n", (long long)N,
               (long long)correct, (double)correct / (double)N);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bone %s: %s\n", C, e.msg);
done:
    if (afile_open) bone_afile_abort(&af);
    bone_eval_model_free(&em);
    for (int64_t i = 0; i < N; i++) {
        free(q[i]);
        free(prompts[i]);
        free(outs[i]);
    }
    free(q);
    free(prompts);
    free(outs);
    free(gold);
    free(lv);
    return rc;
rerr:
    fprintf(stderr, "bone %s: %s\n", C, e.msg);
    return BONE_EXIT_RUNTIME;
}
