/* cmd_convert.c — `bone convert llama2c`: a llama2.c checkpoint (+ tokenizer.bin) → an HF
 * model directory that every other command (and transformers) loads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "cli/cmds.h"
#include "core/fs.h"
#include "io/llama2c.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

static const char *USAGE =
    "llama2c MODEL.bin [--tokenizer tokenizer.bin] --out DIR [--dtype f32|bf16]\n\n"
    "Converts a llama2.c checkpoint (legacy format, or version 1 fp32) into a Hugging Face\n"
    "model directory: config.json + model.safetensors (q/k rows permuted from Meta's interleaved\n"
    "RoPE layout to HF's), and, from tokenizer.bin, a tokenizer.json whose merges reproduce\n"
    "run.c's score-ordered encoding (+ tokenizer_config.json, special_tokens_map.json,\n"
    "generation_config.json). Without --tokenizer, tokenizer.bin next to MODEL.bin is used when\n"
    "present. The file size must match the header exactly; a negative vocab_size means a separate\n"
    "classifier (untied lm_head). The result is loaded back once as a check.\n\n"
    "example (stories15M.bin and tokenizer.bin are llama2.c's release files, downloaded separately):\n"
    "  bone convert llama2c stories15M.bin --tokenizer tokenizer.bin --out models/stories15M\n\n"
    "RWKV-6: bone convert rwkv-pth IN.pth --out DIR (see bone convert rwkv-pth --help).";

int cmd_convert(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "rwkv-pth")) return cmd_convert_rwkv_pth(argc - 1, argv + 1); /* cmd_export_rwkv.c */
    const char *tokp = NULL, *out = NULL, *dts = "f32";
    bone_opt opts[] = {
        {"tokenizer", OPT_STR, &tokp, "llama2.c tokenizer.bin (default: next to MODEL.bin, if present)", 0},
        {"out", OPT_STR, &out, "output model directory (required)", 0},
        {"dtype", OPT_STR, &dts, "stored dtype: f32 (default, exact) or bf16", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[2];
    int npos;
    int r = bone_args_parse("convert", USAGE, opts, argc, argv, pos, 2, &npos);
    if (r) return r < 0 ? 0 : r;
    if (npos < 1) return bone_usage_error("convert", "missing the source format (llama2c or rwkv-pth)");
    if (strcmp(pos[0], "llama2c"))
        return bone_usage_error("convert", "unknown source format \"%s\" (supported: llama2c, rwkv-pth)", pos[0]);
    if (npos < 2) return bone_usage_error("convert", "missing MODEL.bin");
    if (!out) return bone_usage_error("convert", "--out DIR is required");
    bone_dtype dt;
    if (!strcmp(dts, "f32")) dt = BONE_F32;
    else if (!strcmp(dts, "bf16")) dt = BONE_BF16;
    else return bone_usage_error("convert", "--dtype must be f32 or bf16, got \"%s\"", dts);

    bone_err e;
    bone_l2c_header h;
    char *deftok = NULL;
    if (!tokp) {
        const char *bin = pos[1], *slash = strrchr(bin, '/');
        char *dir = slash ? strndup(bin, (size_t)(slash - bin)) : xstrdup(".");
        deftok = bone_path_join(dir, "tokenizer.bin");
        free(dir);
        if (bone_file_exists(deftok)) tokp = deftok;
    }
    int rc = BONE_EXIT_RUNTIME;
    if (bone_l2c_convert_model(pos[1], out, dt, &h, &e)) goto fail;
    int64_t nmerges = 0;
    if (tokp && bone_l2c_convert_tokenizer(tokp, h.vocab, h.seq_len, out, &nmerges, &e)) goto fail;
    /* load the result back: a directory the engine cannot open is not a conversion */
    bone_model m;
    if (bone_model_load(out, &m, &e)) {
        bone_wrap(&e, "the converted model does not load");
        goto fail;
    }
    bone_model_free(&m);
    if (tokp) {
        bone_tokenizer *t = bone_tokenizer_load(out, &e);
        if (!t) {
            bone_wrap(&e, "the converted tokenizer does not load");
            goto fail;
        }
        bone_tokenizer_free(t);
    }
    printf("converted %s (llama2.c %s): dim %lld, hidden %lld, %lld layers, %lld/%lld heads, vocab %lld, seq_len %lld, "
           "%s classifier\n",
           pos[1], h.version ? "version 1" : "legacy", (long long)h.dim, (long long)h.hidden, (long long)h.n_layers,
           (long long)h.n_heads, (long long)h.n_kv, (long long)h.vocab, (long long)h.seq_len,
           h.shared ? "tied" : "separate");
    if (tokp) printf("tokenizer %s: %lld pieces, %lld merges\n", tokp, (long long)h.vocab, (long long)nmerges);
    else fprintf(stderr, "bone convert: no tokenizer.bin given or found next to %s; wrote the model only\n", pos[1]);
    printf("wrote %s\n", out);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bone convert: %s\n", e.msg);
done:
    free(deftok);
    return rc;
}
