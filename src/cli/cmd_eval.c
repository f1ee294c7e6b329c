/* cmd_eval.c — `bone eval gsm8k`: zero-shot GSM8K accuracy of a model (+ adapter) with the
 * Bone/PiSSA prompt, greedy decoding, the §7.4 stop strings and §7.2/7.3 answer matching
 * (src/eval/gsm8k.c); optional per-example JSONL written atomically. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "adapter/adapter.h"
#include "cli/args.h"
#include "cli/cmds.h"
#include "cli/eval_common.h"
#include "cli/samefile.h"
#include "core/fs.h"
#include "eval/evalgen.h"
#include "eval/gsm8k.h"
#include "io/json.h"
#include "model/generate.h"
#include "model/model.h"

static const char *USAGE =
    "gsm8k --model DIR --data FILE [--adapter DIR] [--tokenizer PATH] [--limit N] [--out FILE.jsonl]\n"
    "                  [--max-new N] [--batch N] [--json] [--compute bf16|fp32|auto] [--quiet]\n"
    "       bone eval math ...       MATH / MATH-500 accuracy (bone eval math --help; also --samples)\n"
    "       bone eval humaneval ...  HumanEval pass@k in a sandbox (bone eval humaneval --help)\n"
    "       bone eval arith ...      the seeded arithmetic word problems (bone eval arith --help)\n\n"
    "Zero-shot GSM8K: each question goes into the Alpaca prompt followed by \" Let's think step by\n"
    "step.\" (docs/FORMATS.md §7.4), the model decodes greedily (BOS added) until EOS, a stop string\n"
    "(Question, USER, ASSISTANT, Instruction, Response, with or without ':') or --max-new tokens;\n"
    "--batch prompts are decoded together (the same text as one at a time).\n"
    "The answer is taken after the last \"The answer is: \" (MetaMath; fractions evaluated, rounded),\n"
    "else after the first \"#### \", else the last number; commas, '$', a trailing '.' and zero\n"
    "fractions are normalised and integers compared exactly. Data: JSONL with question/answer\n"
    "(or MetaMath's query/response); the gold is the text after the last \"#### \".\n"
    "Prints the accuracy; --out writes one JSON line per example (index, line, prompt, output,\n"
    "extracted, how, gold, correct); --json ends with {\"task\", \"samples\", \"correct\", \"accuracy\"}.\n\n"
    "example (add --adapter runs/bone/adapter to score a `bone train` run):\n"
    "  bone eval gsm8k --model models/default --data data/gsm8k/test.jsonl --limit 5 --max-new 128 "
    "--out gsm8k-5.jsonl";

typedef struct {
    char *question;
    bone_gsm_answer gold;
    int64_t line;
} gsm_item;

/* Reads up to limit (<= 0: all) records. */
static int read_data(const char *path, int64_t limit, gsm_item **out, int64_t *n, bone_err *e) {
    char *buf;
    size_t len;
    if (bone_read_file(path, &buf, &len, e)) return -1;
    gsm_item *it = NULL;
    int64_t cnt = 0, cap = 0, line = 0;
    int rc = 0;
    char *p = buf, *end = buf + len;
    while (p < end && (limit <= 0 || cnt < limit)) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        char *next = nl ? nl + 1 : end;
        size_t k = 0;
        while (k < l && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r')) k++;
        if (k == l) { p = next; continue; } /* blank line */
        char what[1100];
        snprintf(what, sizeof what, "%s:%lld", path, (long long)line);
        cJSON *o = bone_json_parse(p, l, what, e);
        if (!o) { rc = -1; break; }
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(o, "question");
        if (!q) q = cJSON_GetObjectItemCaseSensitive(o, "query");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "answer");
        if (!a) a = cJSON_GetObjectItemCaseSensitive(o, "response");
        if (!cJSON_IsObject(o) || !cJSON_IsString(q) || !cJSON_IsString(a)) {
            bone_fail(e, "%s: expected an object with string fields \"question\" and \"answer\" (or \"query\" and "
                         "\"response\")", what);
            cJSON_Delete(o);
            rc = -1;
            break;
        }
        if (cnt == cap) {
            cap = cap ? 2 * cap : 64;
            it = xrealloc(it, (size_t)cap * sizeof *it);
        }
        it[cnt].line = line;
        if (bone_gsm8k_gold(a->valuestring, &it[cnt].gold) || !it[cnt].gold.value[0]) {
            bone_fail(e, "%s: field \"answer\" has no final \"#### <number>\" line", what);
            cJSON_Delete(o);
            rc = -1;
            break;
        }
        it[cnt].question = xstrdup(q->valuestring);
        cnt++;
        cJSON_Delete(o);
        p = next;
    }
    free(buf);
    if (!rc && cnt == 0) rc = bone_fail(e, "%s: no examples", path);
    if (rc) {
        for (int64_t i = 0; i < cnt; i++) free(it[i].question);
        free(it);
        return -1;
    }
    *out = it;
    *n = cnt;
    return 0;
}

static const char *how_name(bone_gsm_how h) {
    return h == BONE_GSM_METAMATH ? "the answer is" : h == BONE_GSM_STRICT ? "####" : h == BONE_GSM_LAST ? "last number"
                                                                                                             : "none";
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *data = NULL, *outp = NULL, *tokp = NULL, *compute = NULL;
    int64_t limit = 0, max_new = 512, batch = 16;
    int quiet = 0, json = 0;
    /* the other tasks have their own options: the task comes first (`bone eval math --help`) */
    if (argc >= 2 && !strcmp(argv[1], "math")) return cmd_eval_math(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "humaneval")) return cmd_eval_humaneval(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "arith")) return cmd_eval_arith(argc - 1, argv + 1);
    bone_opt opts[] = {
        {"model", OPT_STR, &model, "model directory (required)", 0},
        {"data", OPT_STR, &data, "GSM8K JSONL: question/answer or query/response (required)", 0},
        {"adapter", OPT_STR, &adapter, "adapter directory (ours or PEFT's)", 0},
        {"tokenizer", OPT_STR, &tokp, "tokenizer path (default: the model directory)", 0},
        {"limit", OPT_INT, &limit, "evaluate the first N examples only", 0},
        {"out", OPT_STR, &outp, "per-example JSONL (written atomically at the end)", 0},
        {"max-new", OPT_INT, &max_new, "maximum new tokens per answer (default 512)", 0},
        {"batch", OPT_INT, &batch, "prompts decoded together (default 16)", 0},
        {"json", OPT_FLAG, &json, "end with one JSON line of the results", 0},
        {"compute", OPT_STR, &compute, "GEMM precision: bf16 (AMX-BF16/AVX512-BF16 via oneDNN) | fp32 | auto (default: bf16 when usable)", 0},
        {"quiet", OPT_FLAG, &quiet, "no per-example progress on stderr", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse("eval", USAGE, opts, argc, argv, pos, 1, &npos);
    if (r) return r < 0 ? 0 : r;
    if (npos < 1) return bone_usage_error("eval", "missing the task (gsm8k)");
    if (strcmp(pos[0], "gsm8k"))
        return bone_usage_error("eval", "unknown task \"%s\" (supported: gsm8k, math, humaneval, arith; the task "
                                        "comes first)", pos[0]);
    if (!model || !data) return bone_usage_error("eval", "--model and --data are required");
    if (bone_opt_seen(opts, "limit") && limit <= 0) return bone_usage_error("eval", "--limit must be positive");
    if (max_new <= 0) return bone_usage_error("eval", "--max-new must be positive");
    if (batch <= 0) return bone_usage_error("eval", "--batch must be positive");
    if (outp && bone_same_file(outp, data))
        return bone_usage_error("eval", "--out %s is the same file as --data %s: the results would replace the data "
                                        "set; choose another --out", outp, data);

    bone_err e;
    gsm_item *items = NULL;
    int64_t n = 0;
    if (read_data(data, limit, &items, &n, &e)) {
        fprintf(stderr, "bone eval: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    bone_model m;
    bone_params P;
    bone_params_init(&P);
    int rc = BONE_EXIT_RUNTIME, have_model = 0, afile_open = 0;
    bone_tokenizer *tok = NULL;
    bone_afile af;
    char **prompts = NULL, **texts = NULL;
    if (bone_model_load(model, &m, &e)) goto fail;
    have_model = 1;
    if (adapter && bone_adapter_load(&m, adapter, &P, &e)) goto fail;
    if (bone_lin_open_compute(&m.lin, compute, "eval", quiet || compute == NULL, &e)) goto fail;
    /* NaN logits decode to plausible-looking tokens (argmax skips NaN), so a NaN weight would
     * give an accuracy instead of an error (hostile-use B12): one pass over the weights, next
     * to minutes of decoding */
    if (bone_model_check_finite(&m, &P, &e)) goto fail;
    tok = bone_tokenizer_load(tokp ? tokp : model, &e);
    if (!tok) goto fail;
    if (outp) {
        if (bone_afile_open(&af, outp, &e)) goto fail;
        afile_open = 1;
    }
    bone_gen_opts o;
    bone_gen_opts_default(&o);
    o.max_new = max_new;
    o.temperature = 0;
    o.stop = BONE_GSM8K_STOP;
    o.add_special = 1;
    int64_t correct = 0;
    prompts = xmalloc((size_t)n * sizeof *prompts);
    texts = xcalloc((size_t)n, sizeof *texts);
    for (int64_t i = 0; i < n; i++) prompts[i] = bone_gsm8k_prompt(items[i].question);
    bone_evalgen g = {batch, quiet, "eval gsm8k"};
    if (bone_eval_generate(&m, tok, &g, prompts, n, &o, NULL, texts, NULL, &e)) {
        bone_wrap(&e, "%s", data);
        free(texts);
        texts = NULL;
        goto fail;
    }
    for (int64_t i = 0; i < n; i++) {
        char *prompt = prompts[i], *text = texts[i];
        bone_gsm_answer pred;
        bone_gsm8k_extract(text, &pred);
        int ok = bone_gsm8k_equal(pred.value, items[i].gold.value);
        correct += ok;
        if (!quiet)
            fprintf(stderr, "[%lld/%lld] %s (extracted %s, gold %s) — %lld correct so far\n", (long long)(i + 1),
                    (long long)n, ok ? "correct" : "wrong", pred.value[0] ? pred.value : "nothing",
                    items[i].gold.value, (long long)correct);
        int wrc = 0;
        if (afile_open) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddNumberToObject(j, "index", (double)i);
            cJSON_AddNumberToObject(j, "line", (double)items[i].line);
            cJSON_AddStringToObject(j, "prompt", prompt);
            cJSON_AddStringToObject(j, "output", text);
            if (pred.value[0]) cJSON_AddStringToObject(j, "extracted", pred.value);
            else cJSON_AddNullToObject(j, "extracted");
            cJSON_AddStringToObject(j, "how", how_name(pred.how));
            cJSON_AddStringToObject(j, "gold", items[i].gold.value);
            cJSON_AddBoolToObject(j, "correct", ok);
            wrc = bone_afile_write_json(&af, j, &e);
        }
        if (wrc) goto fail;
    }
    if (afile_open) {
        afile_open = 0;
        if (bone_afile_commit(&af, &e)) goto fail;
    }
    printf("gsm8k: %lld/%lld correct, accuracy %.4f\n", (long long)correct, (long long)n, (double)correct / (double)n);
    if (outp) printf("wrote %s\n", outp);
    if (json)
        printf("{\"task\": \"gsm8k\", \"samples\": %lld, \"correct\": %lld, \"accuracy\": %.9g}\n", (long long)n,
               (long long)correct, (double)correct / (double)n);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bone eval: %s\n", e.msg);
done:
    if (afile_open) bone_afile_abort(&af);
    bone_tokenizer_free(tok);
    bone_params_free(&P);
    if (have_model) bone_model_free(&m);
    for (int64_t i = 0; prompts && i < n; i++) free(prompts[i]);
    for (int64_t i = 0; texts && i < n; i++) free(texts[i]);
    free(prompts);
    free(texts);
    for (int64_t i = 0; i < n; i++) free(items[i].question);
    free(items);
    return rc;
}
