/* cmd_train.c — `bone train`: flags → bone_train_opts → the trainer. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "adapter/adapter.h"
#include "cli/args.h"
#include "cli/cmds.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "train/dist.h"
#include "train/trainer.h"

static const char *USAGE =
    "--model DIR --data FILE --method M --out DIR [options]\n\n"
    "Methods: full, bone-col, bone-row, bone-grid, bone-hadamard, bone-free, lora, pissa, olora.\n"
    "Writes OUT/metrics.jsonl (one line per optimizer step), OUT/run.json, OUT/checkpoints/, and\n"
    "OUT/adapter (PEFT layout) or, for full, OUT/model (an HF model directory). SIGINT/SIGTERM\n"
    "finish the step, write a checkpoint and exit with status 130; --resume continues with\n"
    "the same per-step losses an uninterrupted run would have had (a second signal aborts at once).\n"
    "Data parallel: `mpirun -np N bone train ...` (or srun) runs N ranks; --batch stays the global\n"
    "micro-batch, split into N contiguous shares, and the losses are those of one process (README).\n"
    "Zero means \"off\" only where the option says so (--steps 0: from --epochs; --save-every 0: at\n"
    "the end only; --eval-every 0: at the end only; --max-grad-norm 0: no clipping); every other\n"
    "value outside an option's range is refused.\n"
    "RWKV-6: the adapter goes on the 8 block linears; --train-extra time,ln also trains every\n"
    "parameter whose name contains time or ln in full, as RWKV-PEFT does by default. bone's default\n"
    "is none, so that the adapter alone (PEFT layout) is the whole fine-tune and merges or loads\n"
    "anywhere; with --train-extra the trained tensors are written beside it (OUT/adapter/\n"
    "train_extra.safetensors, HF names). --wkv-chunk N sets the chunk length of the chunked WKV\n"
    "(1..4096 tokens, default 32): losses and gradients are equal up to fp32 rounding; longer\n"
    "chunks do more work in matrix products and take more working memory (the memory plan counts it).\n"
    "Full fine-tuning writes OUT/model as transformers does: one model.safetensors, or past\n"
    "--max-shard-size (default 5GB) shards model-0000i-of-0000N.safetensors and\n"
    "model.safetensors.index.json.\n\n"
    "example:\n  bone train --model models/default --data data/gsm8k/train.jsonl --template alpaca --max-len 640 \\\n"
    "             --method bone-col --block 16 --out runs/bone --steps 10 --batch 4 --lr 2e-3 \\\n"
    "             --schedule cosine --warmup 2";


int cmd_train(int argc, char **argv) {
    bone_train_opts o;
    bone_train_opts_default(&o);
    int64_t seed = 42;
    int no_shuffle = 0;
    const char *grid = NULL, *policy = "truncate", *on_save_error = "exit", *shard = NULL;
    double comm_timeout = 600;
    bone_opt opts[] = {
        {"model", OPT_STR, &o.model_dir, "base model directory (required)", 0},
        {"data", OPT_STR, &o.data_path, "training data: JSONL (required)", 0},
        {"compute", OPT_STR, &o.compute, "GEMM precision: bf16 (AMX-BF16/AVX512-BF16 via oneDNN) | fp32 | auto (default: bf16 when usable)", 0},
        {"method", OPT_STR, &o.adapter.method, "full | bone-col | bone-row | bone-grid | bone-hadamard | bone-free | lora | pissa | olora", 0},
        {"out", OPT_STR, &o.out_dir, "run directory (required)", 0},
        {"steps", OPT_INT, &o.steps, "optimizer steps, 0..1e9 (default 0: from --epochs)", 0},
        {"epochs", OPT_DOUBLE, &o.epochs, "epochs when --steps is not given, > 0 (default 1)", 0},
        {"lr", OPT_DOUBLE, &o.lr, "peak learning rate, finite >= 0 (default 1e-4)", 0},
        {"batch", OPT_INT, &o.batch, "examples per micro-batch, 1..2^20 (default 1)", 0},
        {"accum", OPT_INT, &o.accum, "micro-batches per optimizer step, 1..2^20 (default 1)", 0},
        {"schedule", OPT_STR, &o.schedule, "constant | linear | cosine (default constant)", 0},
        {"warmup", OPT_INT, &o.warmup, "linear warmup steps (default 0)", 0},
        {"max-grad-norm", OPT_DOUBLE, &o.max_grad_norm, "clip the global gradient norm (default 1.0, 0 = off)", 0},
        {"weight-decay", OPT_DOUBLE, &o.weight_decay, "AdamW decoupled weight decay (default 0)", 0},
        {"beta1", OPT_DOUBLE, &o.beta1, "AdamW beta1, in [0, 1) (default 0.9)", 0},
        {"beta2", OPT_DOUBLE, &o.beta2, "AdamW beta2, in [0, 1) (default 0.999)", 0},
        {"adam-eps", OPT_DOUBLE, &o.eps, "AdamW epsilon (default 1e-8)", 0},
        {"seed", OPT_INT, &seed, "seed for data order and adapter init (default 42)", 0},
        {"no-shuffle", OPT_FLAG, &no_shuffle, "consume examples in file order", 0},
        {"block", OPT_INT, &o.adapter.block, "Bone block size b (default 64)", 0},
        {"grid", OPT_STR, &grid, "bone-grid group shape GRxGC in blocks", 0},
        {"rank", OPT_INT, &o.adapter.rank, "LoRA/PiSSA/OLoRA rank (default 8)", 0},
        {"alpha", OPT_DOUBLE, &o.adapter.alpha, "LoRA alpha, finite and non-zero; negative is allowed as in PEFT (default = rank)", 0},
        {"dropout", OPT_DOUBLE, &o.adapter.dropout, "LoRA dropout on the adapter path (default 0)", 0},
        {"svd-niter", OPT_INT, &o.adapter.svd_niter, "PiSSA: randomized SVD with K power iterations (0 = exact)", 0},
        {"targets", OPT_STR, &o.adapter.targets, "projections to adapt (default: every block linear, 7 Llama / 8 RWKV-6; or all-linear)", 0},
        {"train-extra", OPT_STR, &o.train_extra, "RWKV-6: also train these groups in full: time, ln (default none)", 0},
        {"layers", OPT_STR, &o.adapter.layers, "layers to adapt, e.g. 0,2-5 (default all)", 0},
        {"init-adapter", OPT_STR, &o.init_adapter, "start from this adapter directory (of the same --method)", 0},
        {"eval-data", OPT_STR, &o.eval_data, "held-out data for eval_loss", 0},
        {"eval-split", OPT_DOUBLE, &o.eval_split, "hold out this fraction of --data for eval_loss (seeded)", 0},
        {"eval-every", OPT_INT, &o.eval_every, "evaluate every N steps (default 0: at the end only)", 0},
        {"format", OPT_STR, &o.data.format, "data format: auto | tokens | gsm8k | metamath | alpaca | chat", 0},
        {"template", OPT_STR, &o.data.template_, "alpaca | chatml | llama3 | llama2 | raw | FILE", 0},
        {"max-len", OPT_INT, &o.data.max_len, "maximum tokens per example, >= 1 (default: no limit)", 0},
        {"max-len-policy", OPT_STR, &policy, "truncate | drop | error (default truncate)", 0},
        {"keep-calc", OPT_FLAG, &o.data.keep_calc, "keep GSM8K <<...>> calculator annotations", 0},
        {"save-every", OPT_INT, &o.save_every, "checkpoint every N steps (default 0: at the end only)", 0},
        {"keep", OPT_INT, &o.keep, "checkpoints to keep, >= 1 (default 2)", 0},
        {"resume", OPT_FLAG, &o.resume, "continue from the newest good checkpoint in --out", 0},
        {"overwrite", OPT_FLAG, &o.overwrite, "start over: removes the old run's checkpoints/, adapter/, model/, metrics, run.json, loss.svg", 0},
        {"debug-nan-step", OPT_INT, &o.debug_nan_step, "testing: treat the loss of step N as NaN", 0},
        {"on-save-error", OPT_STR, &on_save_error, "exit (default) | continue: when a periodic checkpoint cannot be written", 0},
        {"dry-run", OPT_FLAG, &o.dry_run, "print the memory plan and stop", 0},
        {"max-shard-size", OPT_STR, &shard, "full: largest weight file of OUT/model, as transformers: 5GB (default), 500MB, 2GiB, bytes", 0},
        {"wkv-chunk", OPT_INT, &o.wkv_chunk, "RWKV-6: tokens per chunk of the chunked WKV, 1..4096 (default 32)", 0},
        {"mem-limit", OPT_DOUBLE, &o.mem_limit_mib, "refuse to start above this many MiB, > 0 (default: available memory)", 0},
        {"recompute", OPT_FLAG, &o.recompute, "recompute activations in backward (less memory, ~1 more forward)", 0},
        {"quiet", OPT_FLAG, &o.quiet, "no progress output", 0},
        {"comm-timeout", OPT_DOUBLE, &comm_timeout, "data parallel: seconds a rank waits for the others before the job is aborted (default 600)", 0},
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
    if (o.resume && o.overwrite)
        return bone_usage_error("train", "--resume continues the run in --out and --overwrite starts it over; choose one");
    /* ranges: a value outside them is a usage error naming the flag, never a silent default */
#define SEEN(name) bone_opt_seen(opts, name)
    if (o.steps < 0 || o.steps > BONE_TRAIN_MAX_STEPS)
        return bone_usage_error("train", "--steps must be in [0, %lld] (0: from --epochs), got %lld",
                                (long long)BONE_TRAIN_MAX_STEPS, (long long)o.steps);
    if (!(isfinite(o.epochs) && o.epochs > 0 && o.epochs <= 1e6))
        return bone_usage_error("train", "--epochs must be a finite number in (0, 1e6], got %g", o.epochs);
    if (o.batch < 1 || o.batch > BONE_TRAIN_MAX_BATCH)
        return bone_usage_error("train", "--batch must be in [1, %lld], got %lld", (long long)BONE_TRAIN_MAX_BATCH,
                                (long long)o.batch);
    if (o.accum < 1 || o.accum > BONE_TRAIN_MAX_BATCH)
        return bone_usage_error("train", "--accum must be in [1, %lld], got %lld", (long long)BONE_TRAIN_MAX_BATCH,
                                (long long)o.accum);
    if (!(isfinite(o.lr) && o.lr >= 0)) return bone_usage_error("train", "--lr must be a finite number >= 0, got %g", o.lr);
    if (!(o.beta1 >= 0 && o.beta1 < 1)) return bone_usage_error("train", "--beta1 must be in [0, 1), got %g", o.beta1);
    if (!(o.beta2 >= 0 && o.beta2 < 1)) return bone_usage_error("train", "--beta2 must be in [0, 1), got %g", o.beta2);
    if (!(isfinite(o.eps) && o.eps > 0)) return bone_usage_error("train", "--adam-eps must be a finite number > 0, got %g", o.eps);
    if (!(isfinite(o.weight_decay) && o.weight_decay >= 0))
        return bone_usage_error("train", "--weight-decay must be a finite number >= 0, got %g", o.weight_decay);
    if (!(isfinite(o.max_grad_norm) && o.max_grad_norm >= 0))
        return bone_usage_error("train", "--max-grad-norm must be a finite number >= 0 (0: no clipping), got %g",
                                o.max_grad_norm);
    if (o.warmup < 0 || o.warmup > BONE_TRAIN_MAX_STEPS)
        return bone_usage_error("train", "--warmup must be in [0, %lld], got %lld", (long long)BONE_TRAIN_MAX_STEPS,
                                (long long)o.warmup);
    if (SEEN("block") && o.adapter.block < 1)
        return bone_usage_error("train", "--block must be >= 1, got %lld", (long long)o.adapter.block);
    if (SEEN("rank") && o.adapter.rank < 1)
        return bone_usage_error("train", "--rank must be >= 1, got %lld", (long long)o.adapter.rank);
    if (SEEN("alpha") && !(isfinite(o.adapter.alpha) && o.adapter.alpha != 0))
        return bone_usage_error("train", "--alpha must be a finite non-zero number (negative is allowed, as in PEFT), got %g",
                                o.adapter.alpha);
    if (!(o.adapter.dropout >= 0 && o.adapter.dropout < 1))
        return bone_usage_error("train", "--dropout must be in [0, 1), got %g", o.adapter.dropout);
    if (o.adapter.svd_niter < 0)
        return bone_usage_error("train", "--svd-niter must be >= 0 (0: exact SVD), got %lld", (long long)o.adapter.svd_niter);
    if (SEEN("eval-split") && !(o.eval_split > 0 && o.eval_split < 1))
        return bone_usage_error("train", "--eval-split must be a fraction in (0, 1), got %g", o.eval_split);
    if (o.eval_every < 0)
        return bone_usage_error("train", "--eval-every must be >= 0 (0: at the end only), got %lld", (long long)o.eval_every);
    if (SEEN("max-len") && o.data.max_len < 1)
        return bone_usage_error("train", "--max-len must be >= 1, got %lld", (long long)o.data.max_len);
    if (o.save_every < 0)
        return bone_usage_error("train", "--save-every must be >= 0 (0: at the end only), got %lld", (long long)o.save_every);
    if (o.keep < 1 || o.keep > 1000000)
        return bone_usage_error("train", "--keep must be in [1, 1000000], got %lld", (long long)o.keep);
    if (SEEN("mem-limit") && !(isfinite(o.mem_limit_mib) && o.mem_limit_mib > 0))
        return bone_usage_error("train", "--mem-limit must be a finite number of MiB > 0, got %g", o.mem_limit_mib);
    if (o.debug_nan_step < 0)
        return bone_usage_error("train", "--debug-nan-step must be >= 0, got %lld", (long long)o.debug_nan_step);
    if (!(isfinite(comm_timeout) && comm_timeout > 0))
        return bone_usage_error("train", "--comm-timeout must be a finite number of seconds > 0, got %g", comm_timeout);
    if (shard) {
        if (bone_st_parse_size(shard, "--max-shard-size", &o.max_shard, &e)) return bone_usage_error("train", "%s", e.msg);
        if (m != BONE_METHOD_FULL)
            return bone_usage_error("train", "--max-shard-size splits the model that --method full writes; an adapter "
                                             "(--method %s) is one file", o.adapter.method);
    }
    if (SEEN("wkv-chunk") && (o.wkv_chunk < 1 || o.wkv_chunk > BONE_WKV_CHUNK_MAX))
        return bone_usage_error("train", "--wkv-chunk must be in [1, %d] tokens (default %d), got %lld",
                                BONE_WKV_CHUNK_MAX, BONE_WKV_CHUNK_DEFAULT, (long long)o.wkv_chunk);
#undef SEEN
    bone_dist D;
    if (bone_dist_init(&D, NULL, NULL, comm_timeout, &e)) {
        fprintf(stderr, "bone train: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    o.dist = &D;
    if (D.rank != 0) o.quiet = 1; /* rank 0 speaks for the run */
    int rc = bone_train_run(&o, &e);
    if (rc == -1) {
        /* an error every rank met alike is told once; one rank's own error names the rank and
         * aborts the job (MPI_Abort), so that no rank waits for it until --comm-timeout */
        if (D.size == 1) fprintf(stderr, "bone train: %s\n", e.msg);
        else if (!D.agreed || D.rank == 0) fprintf(stderr, "bone train: rank %d of %d: %s\n", D.rank, D.size, e.msg);
        bone_dist_finalize(&D, D.agreed ? 0 : BONE_EXIT_RUNTIME);
        return BONE_EXIT_RUNTIME;
    }
    bone_dist_finalize(&D, 0);
    if (rc == BONE_TRAIN_INTERRUPTED) return 130; /* the shell's code for "stopped by a signal" */
    return 0;
}
