/* fuzz_config.c — libFuzzer target: config.json text through bone_config_parse; an accepted
 * config is also counted for every adapter method (the shape arithmetic of `bone count`). */
#include <stdint.h>
#include "adapter/adapter.h"
#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bone_config c;
    bone_err e;
    if (bone_config_parse((const char *)data, size, "config.json", &c, &e)) return 0;
    static const char *const methods[] = {"full", "bone-col", "bone-row", "bone-grid", "bone-hadamard",
                                          "bone-free", "lora", "pissa", "olora"};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        bone_adapter_spec s = {.method = methods[i], .block = 8, .grid_r = 1, .grid_c = 2, .rank = 4};
        (void)bone_adapter_count(&c, &s, &e);
    }
    return 0;
}
