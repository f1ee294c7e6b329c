/* cmd_init.c — `bone init`: a randomly initialised model directory from a config.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"
#include "cli/args.h"
#include "cli/cmds.h"
#include "model/model.h"

static const char *USAGE =
    "--config FILE --out DIR [--seed N] [--dtype f32|bf16] [--max-shard-size 5GB]\n\n"
    "Writes DIR/config.json and DIR/model.safetensors: a Llama/Mistral/Qwen2 model with HF's\n"
    "initialisation (weights ~ normal(0, initializer_range), norms 1, biases 0). Past\n"
    "--max-shard-size the weights are split as transformers splits them\n"
    "(model-00001-of-0000N.safetensors + model.safetensors.index.json). Each tensor is drawn\n"
    "as it is written (memory: about one fp32 tensor), into a temporary directory that\n"
    "replaces DIR when complete.\n\n"
    "example:\n  bone init --config configs/tiny-llama.json --out models/tiny --seed 1 --dtype bf16";

int cmd_init(int argc, char **argv) {
    const char *config = NULL, *out = NULL, *dtype = "f32", *shard = "5GB";
    int64_t seed = 0;
    bone_opt opts[] = {
        {"config", OPT_STR, &config, "config.json to build from (required)", 0},
        {"out", OPT_STR, &out, "output directory (required)", 0},
        {"seed", OPT_INT, &seed, "random seed (default 0)", 0},
        {"dtype", OPT_STR, &dtype, "f32 (default) or bf16", 0},
        {"max-shard-size", OPT_STR, &shard, "largest weight file, as transformers: 5GB (default), 500MB, 2GiB, bytes", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse("init", USAGE, opts, argc, argv, pos, 0, &npos);
    if (r) return r < 0 ? 0 : r;
    if (!config || !out) return bone_usage_error("init", "--config and --out are required");
    bone_dtype dt;
    if (!strcmp(dtype, "f32")) dt = BONE_F32;
    else if (!strcmp(dtype, "bf16")) dt = BONE_BF16;
    else return bone_usage_error("init", "--dtype must be f32 or bf16, got \"%s\"", dtype);
    bone_config c;
    bone_err e;
    uint64_t max_shard;
    if (bone_st_parse_size(shard, "--max-shard-size", &max_shard, &e)) return bone_usage_error("init", "%s", e.msg);
    if (bone_config_load(config, &c, &e) || bone_model_init_random_opts(&c, out, (uint64_t)seed, dt, max_shard, &e)) {
        fprintf(stderr, "bone init: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    char *idx = bone_path_join(out, "model.safetensors.index.json");
    printf("wrote %s (config.json, %s)\n", out, bone_file_exists(idx) ? "sharded model.safetensors.index.json" : "model.safetensors");
    free(idx);
    return 0;
}
