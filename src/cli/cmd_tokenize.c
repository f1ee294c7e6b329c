/* cmd_tokenize.c — `bone tokenize`: prints the token ids of a text (or a file's text) under a
 * tokenizer (tokenizer.json, a model directory, GPT-2 vocab+merges, or a llama2.c tokenizer.bin). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "cli/cmds.h"
#include "core/fs.h"
#include "core/utf8.h"
#include "tokenizer/tokenizer.h"

static const char USAGE[] =
    "--tokenizer PATH (--text T | --file F) [--add-special] [--json]\n\n"
    "Token ids of a text, exactly as Hugging Face tokenizers produce them (add_special_tokens=False\n"
    "unless --add-special). PATH: a tokenizer.json, a model directory, GPT-2 vocab.json + merges.txt,\n"
    "or a llama2.c tokenizer.bin.\n\n"
    "example:\n  bone tokenize --tokenizer models/default --text \"Hello world\" --json";

int cmd_tokenize(int argc, char **argv) {
    const char *tok_path = NULL, *text = NULL, *file = NULL;
    int add_special = 0, json = 0;
    bone_opt opts[] = {
        {"tokenizer", OPT_STR, &tok_path, "tokenizer.json, a directory holding one (or GPT-2 vocab.json + merges.txt), "
                                          "or a llama2.c tokenizer.bin", 0},
        {"text", OPT_STR, &text, "the text to tokenize", 0},
        {"file", OPT_STR, &file, "read the text from this file (as is, UTF-8)", 0},
        {"add-special", OPT_FLAG, &add_special, "apply the post-processor (e.g. BOS), like add_special_tokens=True", 0},
        {"json", OPT_FLAG, &json, "print {\"ids\": [...], \"tokens\": [...]}", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos = 0;
    int rc = bone_args_parse(argv[0], USAGE, opts, argc, argv, pos, 0, &npos);
    if (rc < 0) return BONE_EXIT_OK;
    if (rc) return rc;
    if (!tok_path) return bone_usage_error(argv[0], "--tokenizer is required");
    if (!!text == !!file) return bone_usage_error(argv[0], "give exactly one of --text and --file");

    bone_err e = {{0}};
    char *buf = NULL;
    size_t n;
    if (file) {
        if (bone_read_file(file, &buf, &n, &e)) {
            fprintf(stderr, "bone tokenize: %s\n", e.msg);
            return BONE_EXIT_RUNTIME;
        }
    } else {
        buf = strdup(text);
        n = strlen(text);
    }
    bone_tokenizer *t = bone_tokenizer_load(tok_path, &e);
    if (!t) {
        free(buf);
        fprintf(stderr, "bone tokenize: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    int32_t *ids;
    size_t nids;
    if (bone_tokenizer_encode(t, buf, n, add_special, &ids, &nids, &e)) {
        fprintf(stderr, "bone tokenize: %s: %s\n", file ? file : "--text", e.msg);
        free(buf);
        bone_tokenizer_free(t);
        return BONE_EXIT_RUNTIME;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateArray(), *s = cJSON_CreateArray();
        for (size_t i = 0; i < nids; i++) {
            cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]));
            const char *p = bone_tokenizer_token_to_piece(t, ids[i]);
            /* a byte-level piece that is not UTF-8 on its own (RWKV World's b'\xe4\xb8') is shown as <0xHH>… */
            char hex[6 * 128 + 1];
            size_t pl = p ? strlen(p) : 0;
            if (p && bone_utf8_check(p, pl) != pl && pl <= 128) {
                for (size_t k = 0; k < pl; k++) snprintf(hex + 6 * k, 7, "<0x%02X>", (unsigned char)p[k]);
                p = hex;
            }
            cJSON_AddItemToArray(s, cJSON_CreateString(p ? p : ""));
        }
        cJSON_AddItemToObject(o, "ids", a);
        cJSON_AddItemToObject(o, "tokens", s);
        char *out = cJSON_PrintUnformatted(o);
        printf("%s\n", out);
        free(out);
        cJSON_Delete(o);
    } else {
        for (size_t i = 0; i < nids; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    }
    free(ids);
    free(buf);
    bone_tokenizer_free(t);
    return fflush(stdout) ? BONE_EXIT_RUNTIME : BONE_EXIT_OK;
}
