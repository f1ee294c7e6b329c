/* fuzz_llama2c_model.c — libFuzzer target: a llama2.c checkpoint (legacy or version 1/2
 * header, FORMATS.md §3) through bone_l2c_parse_header; an accepted file is converted with
 * bone_l2c_convert_model and the resulting HF directory is loaded with bone_model_load. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "fuzz_util.h"
#include "io/llama2c.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bone_l2c_header h;
    bone_err e;
    if (bone_l2c_parse_header(data, size, "model.bin", &h, &e)) return 0;
    char dir[4096], bin[4200], out[4200];
    if (fuzz_mkdtemp(dir, sizeof dir, "l2cm")) abort();
    fuzz_write(dir, "model.bin", data, size);
    snprintf(bin, sizeof bin, "%s/model.bin", dir);
    snprintf(out, sizeof out, "%s/hf", dir);
    for (int dt = 0; dt < 2; dt++) {
        if (bone_l2c_convert_model(bin, out, dt ? BONE_BF16 : BONE_F32, NULL, &e) == 0) {
            bone_model m;
            if (bone_model_load(out, &m, &e) == 0) bone_model_free(&m);
        }
        fuzz_rmdir(out);
    }
    fuzz_rmdir(dir);
    return 0;
}
