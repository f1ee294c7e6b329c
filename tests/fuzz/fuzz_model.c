/* fuzz_model.c — libFuzzer target: a model directory (config.json + model.safetensors) through
 * bone_model_load: the config, the weights' header and offsets, and every shape check between
 * them. Input: config.json NUL model.safetensors (the rest, NULs included). */
#include <stdint.h>
#include <stdlib.h>
#include "fuzz_util.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[2];
    size_t len[2];
    fuzz_split(data, size, 2, part, len);
    char dir[4096];
    if (fuzz_mkdtemp(dir, sizeof dir, "model")) abort();
    fuzz_write(dir, "config.json", part[0], len[0]);
    fuzz_write(dir, "model.safetensors", part[1], len[1]);
    bone_model m;
    bone_err e;
    if (bone_model_load(dir, &m, &e) == 0) bone_model_free(&m);
    fuzz_rmdir(dir);
    return 0;
}
