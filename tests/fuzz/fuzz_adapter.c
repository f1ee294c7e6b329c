/* fuzz_adapter.c — libFuzzer target: an adapter directory (adapter_config.json +
 * adapter_model.safetensors, ours or PEFT's LORA/BONE/MISS) loaded onto a tiny random Llama
 * with bone_adapter_load; an accepted adapter is merged into the weights.
 * Input: adapter_config.json NUL adapter_model.safetensors (the rest, NULs included).
 * The tiny model is created once per process under $BONE_FUZZ_TMP (default /tmp). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "adapter/adapter.h"
#include "core/fs.h"
#include "fuzz_util.h"
#include "model/model.h"

/* vocab 32, hidden 16, intermediate 32, 2 layers, 2 heads (head_dim 8), 1 kv head:
 * tests/fuzz/make_seeds.py builds its seed adapters for this shape */
static const char TINY[] =
    "{\"model_type\":\"llama\",\"vocab_size\":32,\"hidden_size\":16,\"intermediate_size\":32,"
    "\"num_hidden_layers\":2,\"num_attention_heads\":2,\"num_key_value_heads\":1,\"max_position_embeddings\":64}";

static void model_dir(char *buf, size_t n) {
    const char *base = getenv("BONE_FUZZ_TMP");
    snprintf(buf, n, "%s/bone-fuzz-model-%ld", base && *base ? base : "/tmp", (long)getpid());
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/model.safetensors", buf);
    if (bone_file_exists(probe)) return;
    bone_config c;
    bone_err e;
    if (bone_config_parse(TINY, strlen(TINY), "tiny", &c, &e) || bone_model_init_random(&c, buf, 1, BONE_F32, &e)) {
        fprintf(stderr, "fuzz harness: %s\n", e.msg);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[2];
    size_t len[2];
    fuzz_split(data, size, 2, part, len);
    char mdir[4096], dir[4096];
    model_dir(mdir, sizeof mdir);
    if (fuzz_mkdtemp(dir, sizeof dir, "adapter")) abort();
    fuzz_write(dir, "adapter_config.json", part[0], len[0]);
    fuzz_write(dir, "adapter_model.safetensors", part[1], len[1]);
    bone_model m;
    bone_err e;
    if (bone_model_load(mdir, &m, &e)) {
        fprintf(stderr, "fuzz harness: %s\n", e.msg);
        abort();
    }
    bone_params P;
    bone_params_init(&P);
    if (bone_adapter_load(&m, dir, &P, &e) == 0) (void)bone_adapter_merge(&m, &e);
    bone_model_free(&m);
    bone_params_free(&P);
    fuzz_rmdir(dir);
    return 0;
}
