/* bone.c — the `bone` command: dispatches to one cmd_*.c per subcommand; also owns the
 * global options --version and --verbose. */
#include <stdio.h>
#include <string.h>
#include "bone_version.h" /* BONE_GIT_COMMIT, written at build time by cmake/version.cmake */
#include "cli/args.h"
#include "cli/cmds.h"
#include "cli/optfile.h"
#include "core/blas_env.h"

#define BONE_VERSION "0.1.0"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command;

static const command commands[] = {
    {"init", cmd_init, "create a randomly initialised model (HF layout)"},
    {"train", cmd_train, "fine-tune a model (full, Bone variants, LoRA, PiSSA, OLoRA)"},
    {"score", cmd_score, "mean loss of a model (+ adapter) on a data set"},
    {"generate", cmd_generate, "continue a prompt (KV cache; greedy or sampled)"},
    {"plot", cmd_plot, "loss curves of runs as an SVG chart"},
    /* commands registered by other parts go here, one line each */
    {"count", cmd_count, "trainable parameters of a method, from config.json alone"},
    {"merge", cmd_merge, "fold an adapter into a base model (writes a full model)"},
    {"unmerge", cmd_unmerge, "take an adapter back out of a merged model"},
    {"tokenize", cmd_tokenize, "text to token ids with a model's tokenizer"},
    {"convert", cmd_convert, "llama2.c checkpoint + tokenizer.bin, or an RWKV-6 .pth, to an HF model directory"},
    {"eval", cmd_eval, "zero-shot GSM8K, MATH, HumanEval (sandboxed) and arithmetic accuracy"},
    {"inspect", cmd_inspect, "summarise a model, adapter, safetensors file or data set"},
    {"bench", cmd_bench, "time warm training steps per method; ratios, GFLOP/s, peak RSS"},
    {"compare", cmd_compare, "methods x seeds at equal budget: loss/accuracy table and curves"},
    {"export", cmd_export, "a model or adapter for other tools (GGUF for llama.cpp and ollama)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
    /* the command list comes last: tests/cli/test_cli.sh reads every line after "commands:" */
    fprintf(f, "usage: bone COMMAND [options]   (bone help COMMAND for details)\n"
               "\nglobal options:\n"
               "  --version    version, git commit and compute path (BLAS kernel, threads, wait policy)\n"
               "  --verbose    (with any command) print the compute path to stderr first\n"
               "\nfirst steps (from the repository root):\n"
               "  bone inspect models/default\n"
               "  bone generate --model models/default --prompt \"Once upon a time\" --max-new 30\n"
               "  make demo    (fine-tunes the default model on data/gsm8k with bone-col and lora)\n"
               "\nthe math of every method: docs/BONE.md; the file formats: docs/FORMATS.md\n"
               "\ncommands:\n");
    for (const command *c = commands; c->name; c++) fprintf(f, "  %-10s %s\n", c->name, c->summary);
}

/* the compute path: which BLAS kernel, how many threads, how they wait, and AVX-512 */
static void compute_path(FILE *f, const char *prefix) {
    char blas[512];
    bone_blas_describe(blas, sizeof blas);
    fprintf(f, "%s%s\n", prefix, blas);
    __builtin_cpu_init();
    int cpu = __builtin_cpu_supports("avx512f");
#ifdef __AVX512F__
    const int built = 1;
#else
    const int built = 0;
#endif
    fprintf(f, "%sAVX-512: %s\n", prefix,
            built && cpu ? "yes (built with it, the CPU has it)"
            : built      ? "built with it, but this CPU lacks it"
            : cpu        ? "no (the CPU has it; this build was compiled without it)"
                         : "no (this CPU lacks it; the AVX2/scalar paths run)");
}

int main(int argc, char **argv) {
    bone_blas_fix_kernel(argv); /* may re-execute once with a better OpenBLAS kernel */
    if (argc < 2) {
        usage(stderr);
        return BONE_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--version")) {
        printf("bone %s (git commit %s)\n", BONE_VERSION, BONE_GIT_COMMIT);
        compute_path(stdout, "compute: ");
        return 0;
    }
    /* --verbose: a global option, accepted before the command or anywhere among its options
     * (up to a "--"); removed before the command parses its own */
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "--verbose")) {
            verbose = 1;
            for (int j = i; j < argc; j++) argv[j] = argv[j + 1];
            argc--;
            i--;
        }
    }
    if (argc < 2) {
        usage(stderr);
        return BONE_EXIT_USAGE;
    }
    name = argv[1];
    if (verbose) compute_path(stderr, "bone: ");
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "help")) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        for (const command *c = commands; c->name; c++)
            if (!strcmp(c->name, argv[2])) {
                char *av[] = {argv[2], "--help", NULL};
                return c->fn(2, av);
            }
        fprintf(stderr, "bone help: unknown command \"%s\"\n", argv[2]);
        return BONE_EXIT_USAGE;
    }
    for (const command *c = commands; c->name; c++)
        if (!strcmp(c->name, name)) {
            /* init and count take --config as the model's config.json; elsewhere it names an
             * options file, like --options does everywhere */
            int config_is_options = strcmp(name, "init") && strcmp(name, "count");
            bone_argv ex;
            int rc = bone_optfile_expand(name, argc - 1, argv + 1, config_is_options, &ex);
            if (rc) return rc;
            bone_args_set_origins(&ex); /* errors about file options name the file and line */
            rc = c->fn(ex.argc, ex.argv);
            bone_args_set_origins(NULL);
            bone_argv_free(&ex);
            return rc;
        }
    fprintf(stderr, "bone: unknown command \"%s\"\n", name);
    usage(stderr);
    return BONE_EXIT_USAGE;
}
