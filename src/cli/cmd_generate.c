/* cmd_generate.c — `bone generate`: stream a continuation of a prompt. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "adapter/adapter.h"
#include "cli/args.h"
#include "cli/cmds.h"
#include "model/generate.h"

static const char *USAGE =
    "--model DIR --prompt TEXT [--adapter DIR] [--max-new N] [--temperature T] [--top-k K]\n"
    "                     [--top-p P] [--seed S] [--stop STR] [--no-bos] [--compute bf16|fp32|auto]\n\n"
    "An empty prompt generates unconditionally, from the tokenizer's BOS token (or its end-of-text\n"
    "token when it has no BOS), as Hugging Face generate does.\n"
    "Greedy by default (--temperature 0); stops at the end-of-sequence token, at --stop STR,\n"
    "or after --max-new tokens. The text is streamed to stdout. With --adapter, the adapter runs\n"
    "unmerged (the output equals the merged model's).\n\n"
    "example (add --adapter runs/bone/adapter to run a `bone train` result unmerged):\n"
    "  bone generate --model models/default --prompt \"Once upon a time\" --max-new 40\n"
    "  bone generate --model models/default --prompt \"Once upon a time\" --temperature 0.8 --top-p 0.9 --seed 3";

static void put(const char *s, size_t n, void *ctx) {
    (void)ctx;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *prompt = NULL, *stop = NULL, *tokp = NULL, *compute = NULL;
    bone_gen_opts o;
    bone_gen_opts_default(&o);
    int64_t seed = 0;
    int no_bos = 0;
    bone_opt opts[] = {
        {"model", OPT_STR, &model, "model directory (required)", 0},
        {"prompt", OPT_STR, &prompt, "prompt text (required; \"\" starts from BOS, or end-of-text)", 0},
        {"adapter", OPT_STR, &adapter, "adapter directory (ours or PEFT's)", 0},
        {"tokenizer", OPT_STR, &tokp, "tokenizer path (default: the model directory)", 0},
        {"max-new", OPT_INT, &o.max_new, "maximum new tokens (default 256)", 0},
        {"temperature", OPT_DOUBLE, &o.temperature, "0 = greedy (default)", 0},
        {"top-k", OPT_INT, &o.top_k, "sample among the K most likely tokens (0 = off)", 0},
        {"top-p", OPT_DOUBLE, &o.top_p, "nucleus sampling mass (1 = off)", 0},
        {"seed", OPT_INT, &seed, "sampling seed (default 0)", 0},
        {"stop", OPT_STR, &stop, "stop before this text", 0},
        {"compute", OPT_STR, &compute, "GEMM precision: bf16 (AMX-BF16/AVX512-BF16 via oneDNN) | fp32 | auto (default: bf16 when usable)", 0},
        {"no-bos", OPT_FLAG, &no_bos, "do not add the tokenizer's BOS/post-processor tokens", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse("generate", USAGE, opts, argc, argv, pos, 0, &npos);
    if (r) return r < 0 ? 0 : r;
    if (!model || !prompt) return bone_usage_error("generate", "--model and --prompt are required");
    /* the comparisons are written so that NaN fails them (strtod accepts "nan" and "inf") */
    if (o.max_new <= 0) return bone_usage_error("generate", "--max-new must be > 0, got %lld", (long long)o.max_new);
    if (!(isfinite(o.temperature) && o.temperature >= 0))
        return bone_usage_error("generate", "--temperature must be a finite number >= 0 (0 = greedy), got %g", o.temperature);
    if (o.top_k < 0) return bone_usage_error("generate", "--top-k must be >= 0 (0 = off), got %lld", (long long)o.top_k);
    if (!(o.top_p > 0 && o.top_p <= 1))
        return bone_usage_error("generate", "--top-p must be in (0, 1] (1 = off), got %g", o.top_p);
    if (stop && !*stop) return bone_usage_error("generate", "--stop must not be empty (it would match before any text)");
    o.seed = (uint64_t)seed;
    o.add_special = !no_bos;
    const char *stops[2] = {stop, NULL};
    o.stop = stop ? stops : NULL;
    bone_model m;
    bone_params P;
    bone_err e;
    bone_params_init(&P);
    if (bone_model_load(model, &m, &e)) {
        fprintf(stderr, "bone generate: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    int rc = BONE_EXIT_RUNTIME;
    bone_tokenizer *tok = NULL;
    char *text = NULL;
    if (adapter && bone_adapter_load(&m, adapter, &P, &e)) goto fail;
    if (bone_lin_open_compute(&m.lin, compute, "generate", compute == NULL, &e)) goto fail;
    tok = bone_tokenizer_load(tokp ? tokp : model, &e);
    if (!tok) goto fail;
    if (bone_generate(&m, tok, prompt, &o, put, NULL, &text, NULL, &e)) goto fail;
    printf("\n");
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bone generate: %s\n", e.msg);
done:
    free(text);
    bone_tokenizer_free(tok);
    bone_params_free(&P);
    bone_model_free(&m);
    return rc;
}
