/* cmd_count.c — `bone count`: trainable parameters of a method from config.json alone
 * (no weights are read), with the same target/layer/block checks as training. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "adapter/adapter.h"
#include "cli/args.h"
#include "cli/cmds.h"
#include "core/fs.h"
#include "model/arch.h"

static const char *USAGE =
    "--config FILE --method M [--block B] [--rank R] [--grid GRxGC] [--targets LIST] [--layers LIST]\n"
    "      [--train-extra time,ln] [--json]\n\n"
    "Prints the number of trainable parameters the method would train on the model described\n"
    "by FILE (a config.json, or a model directory containing one). full = all model parameters.\n\n"
    "example:\n  bone count --config configs/llama2-7b.json --method bone-col --block 64\n"
    "  bone count --config models/default --method lora --rank 8\n"
    "  bone count --config configs/rwkv6-1b6.json --method lora --rank 32 --train-extra time,ln";

/* 87031808 → "87,031,808" */
static void grouped(int64_t v, char *buf, size_t n) {
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", (long long)v);
    size_t len = strlen(raw), k = 0;
    for (size_t i = 0; i < len && k + 2 < n; i++) {
        if (i && (len - i) % 3 == 0) buf[k++] = ',';
        buf[k++] = raw[i];
    }
    buf[k] = 0;
}

int cmd_count(int argc, char **argv) {
    const char *config = NULL, *grid = NULL, *extra = NULL;
    int json = 0;
    bone_adapter_spec s;
    memset(&s, 0, sizeof s);
    bone_opt opts[] = {
        {"config", OPT_STR, &config, "config.json or a model directory (required)", 0},
        {"method", OPT_STR, &s.method, "full | bone-col | bone-row | bone-grid | bone-hadamard | bone-free | lora | pissa | olora", 0},
        {"block", OPT_INT, &s.block, "Bone block size b (default 64)", 0},
        {"rank", OPT_INT, &s.rank, "LoRA/PiSSA/OLoRA rank (default 8)", 0},
        {"grid", OPT_STR, &grid, "bone-grid group shape GRxGC in blocks", 0},
        {"targets", OPT_STR, &s.targets, "projections (default: every block linear, 7 Llama / 8 RWKV-6; or all-linear)", 0},
        {"layers", OPT_STR, &s.layers, "layers, e.g. 0,2-5 (default all)", 0},
        {"train-extra", OPT_STR, &extra, "RWKV-6: also count these groups trained in full (time, ln)", 0},
        {"json", OPT_FLAG, &json, "print {\"method\": ..., \"trainable\": N}", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse("count", USAGE, opts, argc, argv, pos, 0, &npos);
    if (r) return r < 0 ? 0 : r;
    if (!config || !s.method) return bone_usage_error("count", "--config and --method are required");
    bone_err e;
    bone_method m;
    if (bone_method_parse(s.method, &m, &e)) return bone_usage_error("count", "%s", e.msg);
    if (grid && bone_parse_grid(grid, &s.grid_r, &s.grid_c, &e)) return bone_usage_error("count", "%s", e.msg);
    if (s.block < 0 || s.rank < 0) return bone_usage_error("count", "--block and --rank must be positive");
    /* a directory means its config.json; anything else is the config file itself, whatever its
     * name (a missing path is then reported as that file, not as DIR/config.json) */
    char *path = bone_is_dir(config) ? bone_path_join(config, "config.json") : xstrdup(config);
    bone_config c;
    int bad = bone_config_load(path, &c, &e);
    free(path);
    if (bad) {
        fprintf(stderr, "bone count: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    int64_t n = bone_adapter_count(&c, &s, &e);
    if (n < 0) {
        fprintf(stderr, "bone count: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    /* the extra groups train beside the adapter: their own line, never folded into n */
    int64_t nx = extra ? bone_arch_cfg(&c)->extra_count(&c, extra, &e) : 0;
    if (nx < 0) {
        fprintf(stderr, "bone count: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    if (json) {
        if (extra)
            printf("{\"method\": \"%s\", \"trainable\": %lld, \"train_extra\": %lld}\n", s.method, (long long)n,
                   (long long)nx);
        else
            printf("{\"method\": \"%s\", \"trainable\": %lld}\n", s.method, (long long)n);
    } else {
        char g[40];
        grouped(n, g, sizeof g);
        printf("%s trainable parameters (%s)\n", g, s.method);
        if (extra) {
            grouped(nx, g, sizeof g);
            printf("%s more trained in full (--train-extra %s)\n", g, extra);
        }
    }
    return 0;
}
