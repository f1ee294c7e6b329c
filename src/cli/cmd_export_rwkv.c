/* cmd_export_rwkv.c — the RWKV-6 file-format commands:
 *   bone convert rwkv-pth IN.pth --out DIR      official .pth → HF directory (cmd_convert_rwkv_pth)
 *   bone export rwkv-pth --model DIR [--adapter DIR] --out FILE.pth
 *   bone export rwkv-peft --adapter DIR --out FILE.pth
 * (cmd_export_rwkv; the `bone export` dispatcher calls it with argv[0] = the subcommand word).
 * The formats themselves are in src/io/rwkv_pth.c and src/io/pth.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "adapter/adapter.h"
#include "cli/args.h"
#include "cli/cmds.h"
#include "core/fs.h"
#include "io/rwkv_pth.h"
#include "tokenizer/tokenizer.h"

#ifndef BONE_SOURCE_DIR
#define BONE_SOURCE_DIR "."
#endif

static const char *CONVERT_USAGE =
    "IN.pth --out DIR [--vocab PATH]\n\n"
    "Converts an official RWKV-6 \"Finch\" (x060) state dict (BlinkDL's .pth, as torch >= 1.6 saves\n"
    "it) into a Hugging Face directory: config.json (model_type rwkv6, dimensions read off the\n"
    "shapes: head size from time_faaaa, D_MIX/D_DECAY from the mixing matrices), model.safetensors\n"
    "(HF names, shapes and dtypes unchanged) and the World vocabulary rwkv_vocab_v20230424.txt.\n"
    "The .pth is read by a strict reader that never runs pickled code. The directory is written\n"
    "under a temporary name and renamed into place. The vocabulary comes from --vocab, else from\n"
    "next to IN.pth, else from the project's data/rwkv-world.\n\n"
    "example:\n  bone convert rwkv-pth RWKV-x060-World-1B6-v2.1-20240328-ctx4096.pth --out models/rwkv6-1b6";

static const char *EXPORT_PTH_USAGE =
    "--model DIR [--adapter DIR] --out FILE.pth [--dtype bf16|f32|f16]\n\n"
    "Writes an HF RWKV-6 directory (optionally with an adapter merged in first, as `bone merge`\n"
    "does) as an official .pth state dict: official names, [1,1,C] time-mix vectors, bf16 like the\n"
    "released files unless --dtype says otherwise, in the zip form that torch.load(...,\n"
    "weights_only=True), the rwkv pip package, ChatRWKV and RWKV-Runner read. Files over 4 GiB\n"
    "(3B and larger in bf16) get the zip64 records torch writes for them.\n\n"
    "example:\n  bone export rwkv-pth --model models/rwkv6-1b6 --adapter runs/bone/adapter --out rwkv6-tuned.pth";

static const char *EXPORT_PEFT_USAGE =
    "--adapter DIR --out FILE.pth\n\n"
    "Writes a bone adapter as RWKV-PEFT's slim adapter .pth (keys blocks.N.att.<name>.disha and\n"
    "blocks.N.ffn.<name>.disha, bf16), for RWKV-PEFT's own merge scripts: a bone-row adapter is\n"
    "its mode \"bat\" ([I/r, r, r], blocks indexed by input), a bone-free adapter its mode \"bone\"\n"
    "([r, O]). bone-col indexes its blocks by output and has no RWKV-PEFT form: merge it and use\n"
    "`bone export rwkv-pth`. Prints the --disha_config to give RWKV-PEFT.\n\n"
    "example:\n  bone export rwkv-peft --adapter runs/bone-row/adapter --out bone-row.pth";

/* the World vocabulary for a conversion: --vocab, beside the .pth, or the project's copy */
static char *find_vocab(const char *given, const char *pth) {
    if (given) return xstrdup(given);
    const char *slash = strrchr(pth, '/');
    char *dir = slash ? strndup(pth, (size_t)(slash - pth)) : xstrdup(".");
    char *p = bone_path_join(dir, BONE_RWKV_VOCAB_NAME);
    free(dir);
    if (bone_file_exists(p)) return p;
    free(p);
    static const char *const tries[] = {"data/rwkv-world/" BONE_RWKV_VOCAB_NAME,
                                        BONE_SOURCE_DIR "/data/rwkv-world/" BONE_RWKV_VOCAB_NAME, NULL};
    for (int i = 0; tries[i]; i++)
        if (bone_file_exists(tries[i])) return xstrdup(tries[i]);
    return NULL;
}

int cmd_convert_rwkv_pth(int argc, char **argv) {
    const char *out = NULL, *vocab = NULL;
    bone_opt opts[] = {
        {"out", OPT_STR, &out, "output model directory (required; must not exist or be empty)", 0},
        {"vocab", OPT_STR, &vocab, "the World vocabulary rwkv_vocab_v20230424.txt (or a directory holding it)", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse("convert rwkv-pth", CONVERT_USAGE, opts, argc, argv, pos, 1, &npos);
    if (r) return r < 0 ? 0 : r;
    if (npos < 1) return bone_usage_error("convert rwkv-pth", "missing IN.pth");
    if (!out) return bone_usage_error("convert rwkv-pth", "--out DIR is required");
    char *vp = find_vocab(vocab, pos[0]);
    if (!vp) {
        fprintf(stderr, "bone convert: no World vocabulary: none next to %s and no data/rwkv-world/%s; pass --vocab\n",
                pos[0], BONE_RWKV_VOCAB_NAME);
        return BONE_EXIT_RUNTIME;
    }
    bone_err e;
    bone_rwkv_dims d;
    int rc = bone_rwkv_convert_pth(pos[0], vp, out, &d, &e);
    free(vp);
    if (rc) {
        fprintf(stderr, "bone convert: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    printf("converted %s (RWKV-6): %lld layers, C %lld, %lld heads of %lld, F %lld, D_MIX %lld, D_DECAY %lld, vocab %lld\n",
           pos[0], (long long)d.layers, (long long)d.C, (long long)d.H, (long long)d.head, (long long)d.F,
           (long long)d.d_mix, (long long)d.d_decay, (long long)d.vocab);
    printf("wrote %s\n", out);
    return 0;
}

/* --adapter: merge into a temporary directory beside the output with the code `bone merge` runs */
static int export_pth(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *out = NULL, *dts = "bf16";
    bone_opt opts[] = {
        {"model", OPT_STR, &model, "HF RWKV-6 model directory (required)", 0},
        {"adapter", OPT_STR, &adapter, "adapter directory to merge in first", 0},
        {"out", OPT_STR, &out, "the .pth to write (required)", 0},
        {"dtype", OPT_STR, &dts, "stored dtype: bf16 (default, as released), f32 or f16", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse("export rwkv-pth", EXPORT_PTH_USAGE, opts, argc, argv, pos, 0, &npos);
    if (r) return r < 0 ? 0 : r;
    if (!model || !out) return bone_usage_error("export rwkv-pth", "--model and --out are required");
    bone_dtype dt;
    if (!strcmp(dts, "bf16")) dt = BONE_BF16;
    else if (!strcmp(dts, "f32")) dt = BONE_F32;
    else if (!strcmp(dts, "f16")) dt = BONE_F16;
    else return bone_usage_error("export rwkv-pth", "--dtype must be bf16, f32 or f16, got \"%s\"", dts);
    bone_err e;
    bone_rwkv_dims d;
    char *tmp = NULL;
    const char *src = model;
    int rc = 0;
    if (adapter) {
        size_t n = strlen(out) + 64;
        tmp = xmalloc(n);
        snprintf(tmp, n, "%s.merge.tmp.%ld", out, (long)getpid());
        int64_t nl = 0;
        rc = bone_adapter_merge_dir(model, adapter, tmp, 0, &nl, &e);
        if (rc) bone_wrap(&e, "merging %s into %s", adapter, model);
        else printf("merged %lld adapted linear layers\n", (long long)nl);
        src = tmp;
    }
    if (!rc) rc = bone_rwkv_export_pth(src, out, dt, &d, &e);
    if (tmp) { /* the merged directory was only a step on the way */
        const char *const *tf = bone_tokenizer_files();
        static const char *const other[] = {"config.json", "model.safetensors", "model.safetensors.index.json",
                                            "generation_config.json", NULL};
        for (int k = 0; k < 2; k++)
            for (const char *const *f = k ? tf : other; *f; f++) {
                char *p = bone_path_join(tmp, *f);
                unlink(p);
                free(p);
            }
        if (bone_is_dir(tmp) && rmdir(tmp)) fprintf(stderr, "bone export: note: could not remove the temporary %s\n", tmp);
        free(tmp);
    }
    if (rc) {
        fprintf(stderr, "bone export: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    printf("exported %s (RWKV-6, %lld layers, C %lld, %lld heads of %lld) as an official %s state dict\n", model,
           (long long)d.layers, (long long)d.C, (long long)d.H, (long long)d.head, dts);
    printf("wrote %s\n", out);
    return 0;
}

static int export_peft(int argc, char **argv) {
    const char *adapter = NULL, *out = NULL;
    bone_opt opts[] = {
        {"adapter", OPT_STR, &adapter, "bone adapter directory (PEFT layout; required)", 0},
        {"out", OPT_STR, &out, "the slim .pth to write (required)", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse("export rwkv-peft", EXPORT_PEFT_USAGE, opts, argc, argv, pos, 0, &npos);
    if (r) return r < 0 ? 0 : r;
    if (!adapter || !out) return bone_usage_error("export rwkv-peft", "--adapter and --out are required");
    bone_err e;
    const char *mode = NULL;
    int64_t rr = 0, n = 0;
    if (bone_rwkv_export_peft(adapter, out, &mode, &rr, &n, &e)) {
        fprintf(stderr, "bone export: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    printf("exported %lld adapter blocks (RWKV-PEFT mode \"%s\", r %lld); RWKV-PEFT: --disha_config "
           "'{\"mode\":\"%s\",\"r\":%lld}'\n", (long long)n, mode, (long long)rr, mode, (long long)rr);
    printf("wrote %s\n", out);
    return 0;
}

int cmd_export_rwkv(int argc, char **argv, const char *what) {
    if (!strcmp(what, "rwkv-pth")) return export_pth(argc, argv);
    if (!strcmp(what, "rwkv-peft")) return export_peft(argc, argv);
    return bone_usage_error("export", "unknown RWKV export form \"%s\" (rwkv-pth, rwkv-peft)", what);
}
