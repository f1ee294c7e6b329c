/* cmd_train.c — `bone train`: flags → bone_train_opts → the trainer. */
#include <stdio.h>
#include <string.h>
#include "adapter/adapter.h"
#include "cli/args.h"
#include "cli/cmds.h"
#include "train/trainer.h"

static const char *USAGE =
    "--model DIR --data FILE --method M --out DIR [options]\n\n"
    "Methods: full, bone-col, bone-row, bone-grid, bone-hadamard, bone-free, lora, pissa, olora.\n"
    "Writes OUT/metrics.jsonl (one line per optimizer step), OUT/run.json, OUT/checkpoints/, and\n"
    "OUT/adapter (PEFT layout) or, for full, OUT/model (an HF model directory). SIGINT/SIGTERM\n"
    "finish the step, write a checkpoint and exit with status 130; --resume continues with\n"
    "the same per-step losses an uninterrupted run would have had.\n\n"
    "example:\n  bone train --model models/default --data data/gsm8k/train.jsonl --template alpaca --max-len 640 \\\n"
    "             --method bone-col --block 16 --out runs/bone --steps 10 --batch 4 --lr 2e-3 \\\n"
    "             --schedule cosine --warmup 2";

int cmd_train(int argc, char **argv) {
    bone_train_opts o;
    bone_train_opts_default(&o);
    int64_t seed = 42;
    int no_shuffle = 0;
    const char *grid = NULL, *policy = "truncate", *on_save_error = "exit";
    bone_opt opts[] = {
        {"model", OPT_STR, &o.model_dir, "base model directory (required)", 0},
        {"data", OPT_STR, &o.data_path, "training data: JSONL (required)", 0},
        {"method", OPT_STR, &o.adapter.method, "full | bone-col | bone-row | bone-grid | bone-hadamard | bone-free | lora | pissa | olora", 0},
        {"out", OPT_STR, &o.out_dir, "run directory (required)", 0},
        {"steps", OPT_INT, &o.steps, "optimizer steps (default: from --epochs)", 0},
        {"epochs", OPT_DOUBLE, &o.epochs, "epochs when --steps is not given (default 1)", 0},
        {"lr", OPT_DOUBLE, &o.lr, "peak learning rate (default 1e-4)", 0},
        {"batch", OPT_INT, &o.batch, "examples per micro-batch (default 1)", 0},
        {"accum", OPT_INT, &o.accum, "micro-batches per optimizer step (default 1)", 0},
        {"schedule", OPT_STR, &o.schedule, "constant | linear | cosine (default constant)", 0},
        {"warmup", OPT_INT, &o.warmup, "linear warmup steps (default 0)", 0},
        {"max-grad-norm", OPT_DOUBLE, &o.max_grad_norm, "clip the global gradient norm (default 1.0, 0 = off)", 0},
        {"weight-decay", OPT_DOUBLE, &o.weight_decay, "AdamW decoupled weight decay (default 0)", 0},
        {"beta1", OPT_DOUBLE, &o.beta1, "AdamW beta1 (default 0.9)", 0},
        {"beta2", OPT_DOUBLE, &o.beta2, "AdamW beta2 (default 0.999)", 0},
        {"adam-eps", OPT_DOUBLE, &o.eps, "AdamW epsilon (default 1e-8)", 0},
        {"seed", OPT_INT, &seed, "seed for data order and adapter init (default 42)", 0},
        {"no-shuffle", OPT_FLAG, &no_shuffle, "consume examples in file order", 0},
        {"block", OPT_INT, &o.adapter.block, "Bone block size b (default 64)", 0},
        {"grid", OPT_STR, &grid, "bone-grid group shape GRxGC in blocks", 0},
        {"rank", OPT_INT, &o.adapter.rank, "LoRA/PiSSA/OLoRA rank (default 8)", 0},
        {"alpha", OPT_DOUBLE, &o.adapter.alpha, "LoRA alpha (default = rank)", 0},
        {"dropout", OPT_DOUBLE, &o.adapter.dropout, "LoRA dropout on the adapter path (default 0)", 0},
        {"svd-niter", OPT_INT, &o.adapter.svd_niter, "PiSSA: randomized SVD with K power iterations (0 = exact)", 0},
        {"targets", OPT_STR, &o.adapter.targets, "projections to adapt (default: all seven; or all-linear)", 0},
        {"layers", OPT_STR, &o.adapter.layers, "layers to adapt, e.g. 0,2-5 (default all)", 0},
        {"init-adapter", OPT_STR, &o.init_adapter, "start from this adapter directory", 0},
        {"eval-data", OPT_STR, &o.eval_data, "held-out data for eval_loss", 0},
        {"eval-split", OPT_DOUBLE, &o.eval_split, "hold out this fraction of --data for eval_loss (seeded)", 0},
        {"eval-every", OPT_INT, &o.eval_every, "evaluate every N steps (default: at the end)", 0},
        {"format", OPT_STR, &o.data.format, "data format: auto | tokens | gsm8k | metamath | alpaca | chat", 0},
        {"template", OPT_STR, &o.data.template_, "alpaca | chatml | llama3 | llama2 | raw | FILE", 0},
        {"max-len", OPT_INT, &o.data.max_len, "maximum tokens per example", 0},
        {"max-len-policy", OPT_STR, &policy, "truncate | drop | error (default truncate)", 0},
        {"keep-calc", OPT_FLAG, &o.data.keep_calc, "keep GSM8K <<...>> calculator annotations", 0},
        {"save-every", OPT_INT, &o.save_every, "checkpoint every N steps (default: at the end only)", 0},
        {"keep", OPT_INT, &o.keep, "checkpoints to keep (default 2)", 0},
        {"resume", OPT_FLAG, &o.resume, "continue from the newest good checkpoint in --out", 0},
        {"overwrite", OPT_FLAG, &o.overwrite, "start over even if --out holds a run", 0},
        {"debug-nan-step", OPT_INT, &o.debug_nan_step, "testing: treat the loss of step N as NaN", 0},
        {"on-save-error", OPT_STR, &on_save_error, "exit (default) | continue: when a periodic checkpoint cannot be written", 0},
        {"dry-run", OPT_FLAG, &o.dry_run, "print the memory plan and stop", 0},
        {"mem-limit", OPT_DOUBLE, &o.mem_limit_mib, "refuse to start above this many MiB (default: available memory)", 0},
        {"recompute", OPT_FLAG, &o.recompute, "recompute activations in backward (less memory, ~1 more forward)", 0},
        {"quiet", OPT_FLAG, &o.quiet, "no progress output", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse("train", USAGE, opts, argc, argv, pos, 0, &npos);
    if (r) return r < 0 ? 0 : r;
    if (!o.model_dir || !o.data_path || !o.out_dir)
        return bone_usage_error("train", "--model, --data and --out are required");
    o.seed = (uint64_t)seed;
    o.adapter.seed = (uint64_t)seed;
    o.shuffle = !no_shuffle;
    if (!strcmp(policy, "truncate")) o.data.policy = BONE_MAXLEN_TRUNCATE;
    else if (!strcmp(policy, "drop")) o.data.policy = BONE_MAXLEN_DROP;
    else if (!strcmp(policy, "error")) o.data.policy = BONE_MAXLEN_ERROR;
    else return bone_usage_error("train", "--max-len-policy must be truncate, drop or error");
    if (!strcmp(on_save_error, "continue")) o.save_error_continue = 1;
    else if (strcmp(on_save_error, "exit")) return bone_usage_error("train", "--on-save-error must be exit or continue");
    bone_err e;
    bone_method m;
    if (bone_method_parse(o.adapter.method, &m, &e)) return bone_usage_error("train", "%s", e.msg);
    if (grid && bone_parse_grid(grid, &o.adapter.grid_r, &o.adapter.grid_c, &e))
        return bone_usage_error("train", "%s", e.msg);
    if (o.steps < 0 || o.batch <= 0 || o.accum <= 0 || o.lr < 0)
        return bone_usage_error("train", "--steps must be >= 0, --batch and --accum positive, --lr >= 0");
    int rc = bone_train_run(&o, &e);
    if (rc == BONE_TRAIN_INTERRUPTED) return 130; /* the shell's code for "stopped by a signal" */
    if (rc) {
        fprintf(stderr, "bone train: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    return 0;
}
