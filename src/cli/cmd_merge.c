/* cmd_merge.c — `bone merge` (fold an adapter into a base model) and `bone unmerge` (take
 * it back out of a merged model); both write a complete HF model directory. */
#include <stdio.h>
#include "adapter/adapter.h"
#include "io/safetensors.h"
#include "cli/args.h"
#include "cli/cmds.h"
#include "cli/samefile.h"

static const char *MERGE_USAGE =
    "--model DIR --adapter DIR --out DIR [--max-shard-size 5GB]\n\n"
    "Writes OUT as a complete model (config.json, model.safetensors in the base's dtype, and the\n"
    "tokenizer/generation files copied) whose weights are W' = W + ΔW. The adapter may be ours\n"
    "or PEFT's (LORA, BONE, MISS). Past --max-shard-size the weights are split as transformers\n"
    "splits them (model-0000i-of-0000N.safetensors + model.safetensors.index.json). One weight\n"
    "is merged at a time, into a temporary directory that replaces OUT only when complete (an\n"
    "existing OUT keeps its other files; its old weight files are replaced).\n\n"
    "example:\n"
    "  bone train --model models/default --data data/gsm8k/train.jsonl --method bone-col --block 16 \\\n"
    "             --out runs/bone --steps 2 --batch 2\n"
    "  bone merge --model models/default --adapter runs/bone/adapter --out models/default-merged";

static const char *UNMERGE_USAGE =
    "--model MERGED --adapter DIR --out DIR\n\n"
    "Inverts `bone merge`: recovers W from W' with the same adapter (bone-col/row/grid via\n"
    "(I + D)^-1, refusing singular or ill-conditioned blocks). Exact only up to the rounding of\n"
    "the merged model's dtype.\n\n"
    "example:\n"
    "  bone train --model models/default --data data/gsm8k/train.jsonl --method bone-col --block 16 \\\n"
    "             --out runs/bone --steps 2 --batch 2\n"
    "  bone merge --model models/default --adapter runs/bone/adapter --out models/default-merged\n"
    "  bone unmerge --model models/default-merged --adapter runs/bone/adapter --out models/default-again";

static int run(const char *cmd, const char *usage, int unmerge, int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *out = NULL, *shard = "5GB";
    bone_opt opts[] = {
        {"model", OPT_STR, &model, unmerge ? "merged model directory (required)" : "base model directory (required)", 0},
        {"adapter", OPT_STR, &adapter, "adapter directory (required)", 0},
        {"out", OPT_STR, &out, "output model directory (required)", 0},
        {"max-shard-size", OPT_STR, &shard, "largest weight file, as transformers: 5GB (default), 500MB, 2GiB, bytes", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse(cmd, usage, opts, argc, argv, pos, 0, &npos);
    if (r) return r < 0 ? 0 : r;
    if (!model || !adapter || !out) return bone_usage_error(cmd, "--model, --adapter and --out are required");
    if (bone_same_file(out, model))
        return bone_usage_error(cmd, "--out %s is the --model directory %s: the %s model would replace it; choose "
                                     "another --out", out, model, unmerge ? "unmerged" : "merged");
    bone_err e;
    int64_t n = 0;
    uint64_t max_shard;
    if (bone_st_parse_size(shard, "--max-shard-size", &max_shard, &e)) return bone_usage_error(cmd, "%s", e.msg);
    if (bone_adapter_merge_dir_opts(model, adapter, out, unmerge, max_shard, &n, &e)) {
        fprintf(stderr, "bone %s: %s\n", cmd, e.msg);
        return BONE_EXIT_RUNTIME;
    }
    printf("%s %lld adapted linear layers; wrote %s\n", unmerge ? "unmerged" : "merged", (long long)n, out);
    return 0;
}

int cmd_merge(int argc, char **argv) { return run("merge", MERGE_USAGE, 0, argc, argv); }
int cmd_unmerge(int argc, char **argv) { return run("unmerge", UNMERGE_USAGE, 1, argc, argv); }
