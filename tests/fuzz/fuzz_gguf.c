/* fuzz_gguf.c — libFuzzer target: a whole GGUF file image through bone_gguf_parse (every count,
 * length, type and offset checked against the input size); for an accepted file every key is
 * looked up and read with the typed getters, every string of every string array is walked, and
 * every F32/F16/BF16/Q8_0 tensor is converted to fp32, so ASan checks that all of it lies inside
 * the input. A failed parse must leave nothing allocated (LeakSanitizer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "io/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bone_gguf g;
    bone_err e;
    if (bone_gguf_parse(&g, "fuzz.gguf", data, size, &e)) {
        if (g.kv || g.t || g.n_kv || g.n_tensors) abort(); /* nothing left behind */
        return 0;
    }
    for (uint64_t i = 0; i < g.n_kv; i++) {
        const bone_gguf_kv *kv = &g.kv[i];
        if (bone_gguf_find(&g, kv->key) != kv) abort(); /* keys are unique */
        uint32_t u;
        float f;
        bone_err ge;
        bone_gguf_get_u32(&g, kv->key, &u, &ge);
        bone_gguf_get_f32(&g, kv->key, &f, &ge);
        free(bone_gguf_get_str(&g, kv->key, &ge));
        if (kv->type == GGUF_T_ARRAY && kv->arr_type == GGUF_T_STRING) {
            volatile uint8_t sink = 0;
            for (uint64_t k = 0; k < kv->n; k++) {
                const char *s;
                uint64_t n;
                if (bone_gguf_arr_str(kv, k, &s, &n)) abort();
                if (n) sink ^= (uint8_t)(s[0] ^ s[n - 1]);
            }
            (void)sink;
        }
    }
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const bone_gguf_tensor *t = &g.t[i];
        if (bone_gguf_find_tensor(&g, t->name) != t) abort();
        if (t->data < data || t->data + t->nbytes > data + size) abort();
        uint64_t n = 1;
        for (uint32_t d = 0; d < t->ndim; d++) n *= (uint64_t)t->ne[d];
        if (n <= (1u << 20)) {
            float *x = malloc((size_t)n * sizeof *x + 1);
            bone_err te;
            bone_gguf_tensor_f32(t, x, &te);
            free(x);
        } else if (t->nbytes) {
            volatile uint8_t sink = t->data[0] ^ t->data[t->nbytes - 1];
            (void)sink;
        }
    }
    bone_gguf_close(&g);
    return 0;
}
