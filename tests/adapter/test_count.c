/* test_count.c — trainable-parameter counts from config.json alone, against the paper's
 * LLaMA2-7B numbers (BONE.md "Parameter parity"), plus the full-model count, --targets /
 * --layers restrictions and the block-size error. The config is written by the test. */
#include <unistd.h>
#include "core/fs.h"
#include "testutil.h"

static const char *L7B =
    "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"vocab_size\":32000,\"hidden_size\":4096,"
    "\"intermediate_size\":11008,\"num_hidden_layers\":32,\"num_attention_heads\":32,\"num_key_value_heads\":32,"
    "\"hidden_act\":\"silu\",\"max_position_embeddings\":4096,\"rms_norm_eps\":1e-05,\"tie_word_embeddings\":false,"
    "\"torch_dtype\":\"float16\",\"bos_token_id\":1,\"eos_token_id\":2}";

static void expect(const bone_config *c, const char *method, int64_t block, int64_t rank, const char *targets, const char *layers, int64_t want) {
    bone_adapter_spec s;
    memset(&s, 0, sizeof s);
    s.method = method, s.block = block, s.rank = rank, s.targets = targets, s.layers = layers;
    bone_err e;
    int64_t n = bone_adapter_count(c, &s, &e);
    CHECK(n == want, "%s block %lld rank %lld targets %s layers %s: got %lld (%s), want %lld", method, (long long)block, (long long)rank,
          targets ? targets : "-", layers ? layers : "-", (long long)n, n < 0 ? e.msg : "", (long long)want);
    printf("  %-9s block %-3lld rank %-3lld targets %-16s layers %-5s → %lld\n", method, (long long)block, (long long)rank,
           targets ? targets : "(seven)", layers ? layers : "(all)", (long long)n);
}

int main(void) {
    char dir[] = "/tmp/bone_count_XXXXXX";
    BONE_ASSERT(mkdtemp(dir), "mkdtemp");
    char *p = bone_path_join(dir, "config.json");
    bone_err e;
    BONE_ASSERT(bone_write_file_atomic(p, L7B, strlen(L7B), &e) == 0, e.msg);
    bone_config c;
    BONE_ASSERT(bone_config_load(p, &c, &e) == 0, e.msg);
    unlink(p);
    rmdir(dir);
    free(p);
    printf("LLaMA2-7B:\n");
    expect(&c, "bone-col", 64, 0, NULL, NULL, 87031808);
    expect(&c, "lora", 0, 36, NULL, NULL, 89948160);
    expect(&c, "bone-row", 64, 0, NULL, NULL, 72876032);
    expect(&c, "bone-col", 16, 0, NULL, NULL, 21757952);
    expect(&c, "bone-col", 32, 0, NULL, NULL, 43515904);
    expect(&c, "bone-col", 128, 0, NULL, NULL, 174063616);
    expect(&c, "bone-col", 0, 0, "all-linear", NULL, 87031808); /* default block 64 */
    expect(&c, "bone-hadamard", 64, 0, NULL, NULL, 87031808);
    expect(&c, "bone-free", 64, 0, NULL, NULL, 87031808);
    expect(&c, "pissa", 0, 36, NULL, NULL, 89948160);
    expect(&c, "olora", 0, 36, NULL, NULL, 89948160);
    expect(&c, "full", 0, 0, NULL, NULL, 6738415616ll);
    /* q,v only, layers 0 and 2-5 (5 layers): bone-col 5·(4096+4096)·64; lora r 8: 5·8·(8192+8192) */
    expect(&c, "bone-col", 64, 0, "q_proj,v_proj", "0,2-5", 5 * 8192 * 64);
    expect(&c, "lora", 0, 8, "q_proj,v_proj", "0,2-5", 5 * 8 * 16384);
    /* grid 2x2 with b 64: (O/b/gr)·(I/b/gc) matrices of b×b = O·I/(gr·gc) per layer (the D shape of
     * BONE.md; its "params" column O·I/(gr·gc·b) disagrees with that shape and with bone-col = O·b) */
    {
        bone_adapter_spec s;
        memset(&s, 0, sizeof s);
        s.method = "bone-grid", s.block = 64, s.grid_r = 2, s.grid_c = 2;
        int64_t want = 32ll * (4ll * 4096 * 4096 + 3ll * 4096 * 11008) / (2 * 2);
        int64_t n = bone_adapter_count(&c, &s, &e);
        CHECK(n == want, "bone-grid 2x2: %lld want %lld", (long long)n, (long long)want);
        printf("  bone-grid 2x2 block 64 → %lld\n", (long long)n);
    }
    /* errors */
    bone_adapter_spec s;
    memset(&s, 0, sizeof s);
    s.method = "bone-col", s.block = 48;
    CHECK(bone_adapter_count(&c, &s, &e) < 0 && strstr(e.msg, "model.layers.0.self_attn.q_proj") && strstr(e.msg, "4096 x in_features 4096") &&
              strstr(e.msg, "1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096"),
          "block 48 message: %s", e.msg);
    printf("  %s\n", e.msg);
    s.block = 512, s.targets = "down_proj"; /* 4096 x 11008: gcd 256 */
    CHECK(bone_adapter_count(&c, &s, &e) < 0 && strstr(e.msg, "model.layers.0.mlp.down_proj") && strstr(e.msg, "4096 x in_features 11008") &&
              strstr(e.msg, "divide both: 1, 2, 4, 8, 16, 32, 64, 128, 256") && !strstr(e.msg, "512,"),
          "block 512 message: %s", e.msg);
    printf("  %s\n", e.msg);
    s.block = 64, s.targets = "q_proj,lm_head";
    CHECK(bone_adapter_count(&c, &s, &e) < 0 && strstr(e.msg, "lm_head") && strstr(e.msg, "gate_proj"), "target message: %s", e.msg);
    s.targets = NULL, s.layers = "31,32";
    CHECK(bone_adapter_count(&c, &s, &e) < 0 && strstr(e.msg, "32"), "layer message: %s", e.msg);
    s.layers = "3-1";
    CHECK(bone_adapter_count(&c, &s, &e) < 0, "backwards range");
    s.layers = "a";
    CHECK(bone_adapter_count(&c, &s, &e) < 0, "bad layers");
    /* memory note (not a timed test): scratch one adapted linear needs, for LLaMA2-7B shapes,
     * N = 2048 tokens. All linears share one bone_lin_ctx sized for the largest, so the
     * total does not grow with depth. */
    printf("scratch bytes per linear (LLaMA2-7B, bf16 base, N = 2048; shared by all layers):\n");
    const char *mm[] = {"bone-col", "bone-row", "bone-free", "lora"};
    for (int k = 0; k < 4; k++) {
        int64_t mx[3] = {0, 0, 0};
        for (int p = 0; p < BONE_NPROJ; p++) {
            bone_linear L;
            memset(&L, 0, sizeof L);
            L.name = strdup(bone_proj_names[p]);
            bone_proj_shape(&c, p, &L.O, &L.I);
            L.w = (bone_wref){BONE_BF16, NULL};
            bone_method m;
            bone_method_parse(mm[k], &m, &e);
            bone_adapter *a = bone_adapter_new(m);
            a->b = 64, a->rank = 36;
            CHECK(bone_adapter_bind(&L, a, &e) == 0, "bind %s", e.msg);
            int64_t w, t, tm;
            bone_adapter_scratch(&L, 2048, &w, &t, &tm);
            if (w > mx[0]) mx[0] = w;
            if (t > mx[1]) mx[1] = t;
            if (tm > mx[2]) mx[2] = tm;
            linear_destroy(&L);
        }
        printf("  %-9s wbuf %lld B (W' or the bf16->fp32 view), tile %lld B (G row-blocks), tmp %lld B\n", mm[k],
               (long long)mx[0] * 4, (long long)mx[1] * 4, (long long)mx[2] * 4);
    }
    if (tu_failures) fprintf(stderr, "%d check(s) failed\n", tu_failures);
    else printf("all count checks passed\n");
    return tu_failures ? 1 : 0;
}
