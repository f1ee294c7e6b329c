/* fuzz_safetensors.c — libFuzzer target: a whole safetensors file image (header length,
 * JSON header, data offsets) through bone_st_parse; accepted tensors are looked up with
 * bone_st_get (which refuses misaligned data) and converted to fp32, so ASan checks every
 * data span lies inside the input and UBSan that every load is aligned. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/dtype.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bone_st_set s;
    bone_st_init(&s);
    bone_err e;
    if (bone_st_parse(&s, "fuzz.safetensors", data, size, 0, &e) == 0) {
        /* what bone_st_open_file records for a file (no mapping: the data is the input) */
        s.files = calloc(1, sizeof *s.files);
        s.files[0].path = strdup("fuzz.safetensors");
        s.nfiles = 1;
        for (int64_t i = 0; i < s.n; i++) {
            const bone_st_tensor *t = &s.t[i];
            bone_err ge;
            /* get refuses unsupported dtypes and misaligned data; otherwise it must agree with find */
            const bone_st_tensor *g = bone_st_get(&s, t->name, t->ndim, t->shape, &ge);
            if (g && g != t && bone_st_find(&s, t->name) == t) abort();
            if (g && t->numel > 0 && t->numel <= (1 << 20)) {
                float *f = malloc((size_t)t->numel * sizeof(float));
                bone_to_f32(f, t->data, t->dtype, (size_t)t->numel);
                free(f);
            } else if (t->nbytes) {
                volatile uint8_t sink = ((const uint8_t *)t->data)[0] ^ ((const uint8_t *)t->data)[t->nbytes - 1];
                (void)sink;
            }
        }
    } else if (s.n != 0) {
        abort(); /* a failed parse must leave nothing behind */
    }
    bone_st_close(&s);
    return 0;
}
