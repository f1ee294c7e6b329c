/* cmd_score.c — `bone score`: mean loss over label tokens of a data set. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "adapter/adapter.h"
#include "cli/args.h"
#include "cli/cmds.h"
#include "model/model.h"
#include "train/trainer.h"

static const char *USAGE =
    "--model DIR --data FILE [--adapter DIR] [--batch N] [--compute bf16|fp32|auto] [--wkv-chunk N] [--json]\n\n"
    "Mean cross-entropy over label tokens (HF causal-LM semantics: labels shifted inside the\n"
    "model, -100 ignored) and the number of tokens that counted. RWKV-6: --wkv-chunk N sets the\n"
    "chunk length of the chunked WKV (1..4096 tokens, default 32; the loss is equal up to fp32\n"
    "rounding, longer chunks take more working memory).\n\n"
    "example (add --adapter runs/bone/adapter to score a `bone train` run):\n"
    "  head -n 20 data/gsm8k/test.jsonl > test20.jsonl\n"
    "  bone score --model models/default --data test20.jsonl --template alpaca --json";

int cmd_score(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *adapter = NULL, *format = NULL, *tmpl = NULL, *compute = NULL;
    int64_t batch = 4, max_len = 0, wkv_chunk = 0;
    int json = 0;
    bone_opt opts[] = {
        {"model", OPT_STR, &model, "model directory (required)", 0},
        {"data", OPT_STR, &data, "data file (required)", 0},
        {"adapter", OPT_STR, &adapter, "adapter directory (ours or PEFT's)", 0},
        {"batch", OPT_INT, &batch, "examples per forward pass (default 4)", 0},
        {"format", OPT_STR, &format, "data format (default: detect)", 0},
        {"template", OPT_STR, &tmpl, "prompt template for text formats", 0},
        {"max-len", OPT_INT, &max_len, "truncate examples to N tokens", 0},
        {"compute", OPT_STR, &compute, "GEMM precision: bf16 (AMX-BF16/AVX512-BF16 via oneDNN) | fp32 | auto (default: bf16 when usable)", 0},
        {"wkv-chunk", OPT_INT, &wkv_chunk, "RWKV-6: tokens per chunk of the chunked WKV, 1..4096 (default 32)", 0},
        {"json", OPT_FLAG, &json, "print {\"loss\": ..., \"tokens\": ...}", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse("score", USAGE, opts, argc, argv, pos, 0, &npos);
    if (r) return r < 0 ? 0 : r;
    if (!model || !data) return bone_usage_error("score", "--model and --data are required");
    if (batch <= 0) return bone_usage_error("score", "--batch must be positive");
    if (bone_opt_seen(opts, "wkv-chunk") && (wkv_chunk < 1 || wkv_chunk > BONE_WKV_CHUNK_MAX))
        return bone_usage_error("score", "--wkv-chunk must be in [1, %d] tokens (default %d), got %lld",
                                BONE_WKV_CHUNK_MAX, BONE_WKV_CHUNK_DEFAULT, (long long)wkv_chunk);
    bone_model m;
    bone_params P;
    bone_dataset d;
    bone_err e;
    bone_params_init(&P);
    bone_dataset_init(&d);
    if (bone_model_load(model, &m, &e)) {
        fprintf(stderr, "bone score: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    int rc = BONE_EXIT_RUNTIME;
    if (bone_model_set_wkv_chunk(&m, wkv_chunk, &e)) goto fail;
    bone_data_opts dopts = {0};
    dopts.path = data;
    dopts.format = format;
    dopts.template_ = tmpl;
    dopts.tokenizer = model;
    dopts.max_len = max_len;
    dopts.vocab_size = m.cfg.vocab;
    double loss;
    int64_t tokens;
    if (adapter && bone_adapter_load(&m, adapter, &P, &e)) goto fail;
    if (bone_lin_open_compute(&m.lin, compute, "score", compute == NULL, &e)) goto fail;
    if (bone_dataset_load(&dopts, &d, &e)) goto fail;
    /* every example against the model before any batch runs: file:line, not "batch position 5" (P8) */
    if (bone_dataset_validate(&d, data, m.cfg.max_pos, m.cfg.vocab, model, &e)) goto fail;
    if (bone_eval_loss(&m, &d, batch, &loss, &tokens, &e)) goto fail;
    /* a mean over nothing is not a score, and "nan" is not JSON (hostile-use B16) */
    if (tokens == 0) {
        bone_fail(&e, "%s: no label tokens to score (every label is -100, or every example has one token)", data);
        goto fail;
    }
    /* a non-finite loss is an error, never a result (B12, P35): name the weight when one is the
     * cause (the check is a pass over the weights, paid only here, on failure) */
    if (!isfinite(loss)) {
        bone_err we;
        if (bone_model_check_finite(&m, &P, &we))
            bone_fail(&e, "the loss is %s: %s", isnan(loss) ? "NaN" : "infinite", we.msg);
        else
            bone_fail(&e, "the loss is %s over %lld tokens (the weights are finite: the activations overflowed)",
                      isnan(loss) ? "NaN" : "infinite", (long long)tokens);
        goto fail;
    }
    if (json) printf("{\"loss\": %.9g, \"tokens\": %lld}\n", loss, (long long)tokens);
    else printf("loss %.6f over %lld tokens (%lld examples)\n", loss, (long long)tokens, (long long)d.n);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bone score: %s\n", e.msg);
done:
    bone_dataset_free(&d);
    bone_params_free(&P);
    bone_model_free(&m);
    return rc;
}
