/* fuzz_data.c — libFuzzer target: training data files in every supported format (pre-tokenized
 * JSONL, GSM8K, MetaMathQA, Alpaca, chat; JSONL or a JSON array) through bone_dataset_load with
 * every template (alpaca, chatml, llama3, llama2, zephyr, raw, a template file) and --max-len
 * policy, tokenized by a small fixed SentencePiece-style tokenizer.
 * Input: 3 option bytes, then the data file, then optionally NUL and a template file's text.
 *   byte 0: format (auto, tokens, gsm8k, metamath, alpaca, chat, text, an unknown name)
 *   byte 1: template (default, alpaca, chatml, llama3, llama2, zephyr, raw, the file)
 *   byte 2: bits 0-1 max-len policy/limit, bit 2 keep_calc, bit 3 vocab limit, bits 4-6 the
 *           tokenizer's chat template family (none, chatml, llama3, llama2, zephyr, unknown) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/dataset.h"
#include "fuzz_util.h"

/* appends to a growing string (harness-local; aborts on overflow of the fixed buffer) */
static void add(char *buf, size_t cap, size_t *n, const char *s) {
    size_t k = strlen(s);
    if (*n + k + 1 > cap) abort();
    memcpy(buf + *n, s, k + 1);
    *n += k;
}

/* <unk> <s> </s>, the 256 byte pieces, ▁, a..z, ▁t, he; the chat families' special tokens */
static void write_tokenizer(const char *dir, int chat) {
    const size_t cap = 32768;
    char *j = malloc(cap);
    if (!j) abort();
    size_t n = 0;
    char t[128];
    add(j, cap, &n, "{\"version\":\"1.0\",\"added_tokens\":[");
    static const char *const added[] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++) {
        snprintf(t, sizeof t, "%s{\"id\":%d,\"content\":\"%s\",\"special\":true}", i ? "," : "", i, added[i]);
        add(j, cap, &n, t);
    }
    static const char *const chat_toks[] = {"<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|start_header_id|>",
                                            "<|end_header_id|>", "<|eot_id|>", "<|user|>", "<|assistant|>",
                                            "<|system|>"};
    for (int i = 0; i < 9; i++) {
        snprintf(t, sizeof t, ",{\"id\":%d,\"content\":\"%s\",\"special\":true}", 290 + i, chat_toks[i]);
        add(j, cap, &n, t);
    }
    add(j, cap, &n,
        "],\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},"
        "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]},\"pre_tokenizer\":null,"
        "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\","
        "\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[],\"special_tokens\":{\"<s>\":"
        "{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}},\"decoder\":{\"type\":\"Sequence\",\"decoders\":["
        "{\"type\":\"Replace\",\"pattern\":{\"String\":\"\\u2581\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},"
        "{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]},"
        "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"byte_fallback\":true,"
        "\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2");
    for (int b = 0; b < 256; b++) {
        snprintf(t, sizeof t, ",\"<0x%02X>\":%d", b, 3 + b);
        add(j, cap, &n, t);
    }
    add(j, cap, &n, ",\"\\u2581\":259");
    for (int c = 0; c < 26; c++) {
        snprintf(t, sizeof t, ",\"%c\":%d", 'a' + c, 260 + c);
        add(j, cap, &n, t);
    }
    add(j, cap, &n, ",\"\\u2581t\":286,\"he\":287},\"merges\":[\"\\u2581 t\",\"h e\"]}}");
    fuzz_write(dir, "tokenizer.json", j, n);
    free(j);
    static const char *const tmpl[] = {
        NULL,
        "{% for m in messages %}<|im_start|>{{ m.role }}\\n{{ m.content }}<|im_end|>\\n{% endfor %}",
        "{{ '<|start_header_id|>' + m.role + '<|end_header_id|>' }}",
        "[INST] <<SYS>> {{ m }} [/INST]",
        "<|user|>\\n{{ m }}</s><|assistant|>",
        "{{ unknown }}",
    };
    char cfg[512];
    int k = snprintf(cfg, sizeof cfg, "{\"bos_token\":\"<s>\",\"eos_token\":\"</s>\"");
    if (chat > 0 && chat < 6) k += snprintf(cfg + k, sizeof cfg - (size_t)k, ",\"chat_template\":\"%s\"", tmpl[chat]);
    k += snprintf(cfg + k, sizeof cfg - (size_t)k, "}");
    fuzz_write(dir, "tokenizer_config.json", cfg, (size_t)k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    static const char *const formats[] = {"auto", "tokens", "gsm8k", "metamath", "alpaca", "chat", "text", "csv"};
    static const char *const templates[] = {NULL, "alpaca", "chatml", "llama3", "llama2", "zephyr", "raw", "FILE"};
    static const int64_t maxlen[] = {0, 8, 16, 4};
    static const bone_maxlen_policy policy[] = {BONE_MAXLEN_TRUNCATE, BONE_MAXLEN_TRUNCATE, BONE_MAXLEN_DROP,
                                                BONE_MAXLEN_ERROR};
    const uint8_t *part[2];
    size_t len[2];
    fuzz_split(data + 3, size - 3, 2, part, len);
    char dir[4096], dpath[4200], tpath[4200], tokdir[4096];
    if (fuzz_mkdtemp(dir, sizeof dir, "data")) abort();
    snprintf(tokdir, sizeof tokdir, "%s", dir);
    write_tokenizer(dir, (data[2] >> 4) % 6);
    fuzz_write(dir, "data.jsonl", part[0], len[0]);
    snprintf(dpath, sizeof dpath, "%s/data.jsonl", dir);
    snprintf(tpath, sizeof tpath, "%s/template.txt", dir);
    const char *tmpl = templates[data[1] % 8];
    if (tmpl && !strcmp(tmpl, "FILE")) {
        fuzz_write(dir, "template.txt", part[1], len[1]);
        tmpl = tpath;
    }
    bone_data_opts o = {
        .path = dpath,
        .format = formats[data[0] % 8],
        .template_ = tmpl,
        .tokenizer = tokdir,
        .max_len = maxlen[data[2] & 3],
        .policy = policy[data[2] & 3],
        .keep_calc = (data[2] >> 2) & 1,
        .vocab_size = (data[2] >> 3) & 1 ? 300 : 0,
    };
    bone_dataset d;
    bone_err e;
    if (bone_dataset_load(&o, &d, &e) == 0) {
        for (int64_t i = 0; i < d.n; i++) {
            if (d.ex[i].n <= 0) abort(); /* examples are never empty */
            (void)bone_example_label_count(&d.ex[i]);
        }
        bone_dataset_free(&d);
    }
    fuzz_rmdir(dir);
    return 0;
}
