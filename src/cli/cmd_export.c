/* cmd_export.c — `bone export FORMAT ...`: one dispatcher for the formats other tools read.
 * Each format is one row of the table (name, entry point, summary); its entry point gets
 * argv with argv[0] = "export FORMAT". gguf and gguf-lora (llama.cpp, ollama) live here;
 * rwkv-pth and rwkv-peft in cmd_export_rwkv.c. */
#include <stdio.h>
#include <string.h>
#include "adapter/gguf_export.h"
#include "cli/args.h"
#include "cli/cmds.h"

static const char *GGUF_USAGE =
    "--model DIR [--adapter DIR] --out FILE.gguf [--type f32|f16|bf16|q8_0]\n\n"
    "Writes a GGUF v3 model that llama.cpp, ollama and LM Studio load: the model with the adapter\n"
    "(any method) merged in as `bone merge` merges it, kept in fp32 until it is written as --type\n"
    "(default f32; norms and biases are always f32; q8_0 = 32-value blocks with an f16 scale).\n"
    "Metadata, tensor names and the Q/K row order are those of llama.cpp's own converter;\n"
    "architectures llama (and Mistral), qwen2 and rwkv6 (RWKV-6: the converter's transforms, no\n"
    "layer rescaling; head_size_divisor must be 8). The tokenizer must be a tokenizer.json whose\n"
    "pre-tokenizer llama.cpp knows (qwen2's, llama-bpe's or gpt2's split, or SentencePiece-style),\n"
    "or the RWKV World vocabulary rwkv_vocab_v20230424.txt (written as llama.cpp's \"rwkv\").\n\n"
    "example:\n"
    "  bone export gguf --model models/default --out default.gguf --type q8_0\n"
    "  (then, with llama.cpp: llama-cli -m default.gguf -p \"Once upon a time\")";

static const char *LORA_USAGE =
    "--adapter DIR [--model DIR] --out FILE.gguf [--type f32|f16|bf16]\n\n"
    "Writes the adapter as a GGUF LoRA adapter (llama-cli --lora FILE.gguf, ollama ADAPTER):\n"
    "lora, pissa and olora as they are; bone-free (PEFT's MiSS) as its exact LoRA form (Llama\n"
    "family: the 7 projections; RWKV-6: the 8 block linears, by llama.cpp's rwkv6 names). The\n"
    "weight-guided Bone variants (bone-col, bone-row, ...) have no exact LoRA form: export the\n"
    "merged model instead (bone export gguf --model BASE --adapter DIR). --model is the base the\n"
    "adapter was trained on (default: the adapter's base_model_name_or_path).\n\n"
    "example:\n"
    "  bone train --model models/default --data data/gsm8k/train.jsonl --method lora --out runs/lora \\\n"
    "             --steps 2 --batch 2\n"
    "  bone export gguf-lora --model models/default --adapter runs/lora/adapter --out lora.gguf";

static int export_gguf(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *out = NULL, *type = "f32";
    bone_opt opts[] = {
        {"model", OPT_STR, &model, "model directory (required)", 0},
        {"adapter", OPT_STR, &adapter, "adapter directory to merge in", 0},
        {"out", OPT_STR, &out, "output .gguf file (required)", 0},
        {"type", OPT_STR, &type, "f32 (default), f16, bf16 or q8_0", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse(argv[0], GGUF_USAGE, opts, argc, argv, pos, 0, &npos);
    if (r) return r < 0 ? 0 : r;
    if (!model || !out) return bone_usage_error(argv[0], "--model and --out are required");
    uint32_t t;
    if (bone_gguf_type_parse(type, &t)) return bone_usage_error(argv[0], "--type %s: use f32, f16, bf16 or q8_0", type);
    bone_err e;
    bone_gguf_export_info info;
    if (bone_export_gguf(model, adapter, out, t, &info, &e)) {
        fprintf(stderr, "bone %s: %s\n", argv[0], e.msg);
        return BONE_EXIT_RUNTIME;
    }
    if (info.n_fallback)
        fprintf(stderr, "bone %s: note: %lld tensors have rows that are not a multiple of 32 and were written as "
                        "f16 instead of q8_0 (as llama.cpp's converter does)\n", argv[0], (long long)info.n_fallback);
    printf("wrote %s: %s, %s%s%s, %lld adapted linear layers merged\n", out, info.arch, type,
           *info.pre ? ", pre-tokenizer " : !strcmp(info.tok_model, "rwkv") ? ", RWKV World vocabulary"
                                                                              : ", SentencePiece tokenizer",
           info.pre, (long long)info.n_adapted);
    return 0;
}

static int export_gguf_lora(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *out = NULL, *type = "f32";
    bone_opt opts[] = {
        {"adapter", OPT_STR, &adapter, "adapter directory (required)", 0},
        {"model", OPT_STR, &model, "base model directory (default: the adapter's base_model_name_or_path)", 0},
        {"out", OPT_STR, &out, "output .gguf file (required)", 0},
        {"type", OPT_STR, &type, "f32 (default), f16 or bf16", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse(argv[0], LORA_USAGE, opts, argc, argv, pos, 0, &npos);
    if (r) return r < 0 ? 0 : r;
    if (!adapter || !out) return bone_usage_error(argv[0], "--adapter and --out are required");
    uint32_t t;
    if (bone_gguf_type_parse(type, &t) || !strcmp(type, "q8_0"))
        return bone_usage_error(argv[0], "--type %s: use f32, f16 or bf16 (llama.cpp refuses quantised adapters)",
                                type);
    bone_err e;
    bone_gguf_export_info info;
    if (bone_export_gguf_lora(model, adapter, out, t, &info, &e)) {
        fprintf(stderr, "bone %s: %s\n", argv[0], e.msg);
        return BONE_EXIT_RUNTIME;
    }
    printf("wrote %s: %s LoRA adapter, %lld linear layers, alpha %g\n", out, info.arch, (long long)info.n_adapted,
           info.alpha);
    return 0;
}

/* the RWKV formats live in cmd_export_rwkv.c */
static int export_rwkv_pth(int argc, char **argv) { return cmd_export_rwkv(argc, argv, "rwkv-pth"); }
static int export_rwkv_peft(int argc, char **argv) { return cmd_export_rwkv(argc, argv, "rwkv-peft"); }

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} export_format;

static const export_format FORMATS[] = {
    {"gguf", export_gguf, "a merged model as GGUF (llama.cpp, ollama, LM Studio)"},
    {"gguf-lora", export_gguf_lora, "a LoRA-form adapter as a GGUF adapter (llama-cli --lora)"},
    {"rwkv-pth", export_rwkv_pth, "an RWKV-6 model (merged) as an official bf16 .pth (ChatRWKV, rwkv pip)"},
    {"rwkv-peft", export_rwkv_peft, "a bone-row/bone-free adapter as RWKV-PEFT's slim .pth"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
    fprintf(f, "usage: bone export FORMAT [options]   (bone export FORMAT --help for details)\n\nformats:\n");
    for (const export_format *x = FORMATS; x->name; x++) fprintf(f, "  %-10s %s\n", x->name, x->summary);
    fprintf(f, "\nexample:\n"
               "  bone export gguf --model models/default --out default.gguf --type q8_0\n"
               "  bone inspect default.gguf\n");
}

int cmd_export(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? BONE_EXIT_USAGE : 0;
    }
    for (const export_format *x = FORMATS; x->name; x++)
        if (!strcmp(x->name, argv[1])) {
            char cmd[64];
            snprintf(cmd, sizeof cmd, "export %s", x->name);
            char *saved = argv[1];
            argv[1] = cmd; /* the format's parser reads argv[0] as its command name */
            int rc = x->fn(argc - 1, argv + 1);
            argv[1] = saved;
            return rc;
        }
    fprintf(stderr, "bone export: unknown format \"%s\"\n", argv[1]);
    usage(stderr);
    return BONE_EXIT_USAGE;
}
