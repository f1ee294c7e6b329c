/* test_model.c — adapters on a whole (tiny, GQA) model written to disk by the test:
 * attach/targets/layers and their error messages, init values and determinism, the PEFT
 * layout (config fields and formatting, tensor keys/shapes/dtypes), save→load bit-identical
 * round trips, PiSSA/OLoRA exported as rank-2r LoRA against the original base, and merge /
 * unmerge of whole model directories (fp32 and bf16 bases). */
#include <cjson/cJSON.h>
#include <unistd.h>
#include "core/fs.h"
#include "io/safetensors.h"
#include "testutil.h"

#define H 64
#define F 96
#define NL 3
#define V 50
static const char *tmpdir;

static char *pj(const char *a, const char *b) { return bone_path_join(a, b); }

/* hidden 64, 4 heads of 16, 2 kv heads: q/o 64x64, k/v 32x64, gate/up 96x64, down 64x96 */
static void write_model(const char *dir, bone_dtype dt) {
    bone_err e;
    BONE_ASSERT(bone_mkdirs(dir, &e) == 0, e.msg);
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"vocab_size\":%d,\"hidden_size\":%d,"
             "\"intermediate_size\":%d,\"num_hidden_layers\":%d,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
             "\"head_dim\":16,\"hidden_act\":\"silu\",\"max_position_embeddings\":64,\"rms_norm_eps\":1e-05,"
             "\"rope_theta\":10000.0,\"tie_word_embeddings\":false,\"torch_dtype\":\"%s\"}",
             V, H, F, NL, dt == BONE_BF16 ? "bfloat16" : "float32");
    char *p = pj(dir, "config.json");
    BONE_ASSERT(bone_write_file_atomic(p, cfg, strlen(cfg), &e) == 0, e.msg);
    free(p);
    p = pj(dir, "tokenizer.json");
    BONE_ASSERT(bone_write_file_atomic(p, "{\"dummy\":1}", 11, &e) == 0, e.msg);
    free(p);
    bone_st_wtensor t[3 + NL * 9];
    char names[3 + NL * 9][128];
    float *bufs[3 + NL * 9];
    int n = 0;
#define ADD(nm, d0, d1)                                                          \
    do {                                                                         \
        snprintf(names[n], 128, "%s", nm);                                       \
        int64_t cnt = (int64_t)(d0) * ((d1) ? (d1) : 1);                         \
        bufs[n] = t_rand(cnt, 0.3);                                              \
        if (!(d1))                                                               \
            for (int64_t i = 0; i < cnt; i++) bufs[n][i] += 1.0f;                \
        t[n] = (bone_st_wtensor){.name = names[n], .dtype = (d1) ? dt : BONE_F32, \
                                 .ndim = (d1) ? 2 : 1, .shape = {d0, d1}, .src_f32 = bufs[n]}; \
        n++;                                                                     \
    } while (0)
    ADD("model.embed_tokens.weight", V, H);
    ADD("lm_head.weight", V, H);
    ADD("model.norm.weight", H, 0);
    char nm[128];
    const int64_t shp[7][2] = {{64, 64}, {32, 64}, {32, 64}, {64, 64}, {96, 64}, {96, 64}, {64, 96}};
    for (int l = 0; l < NL; l++) {
        snprintf(nm, sizeof nm, "model.layers.%d.input_layernorm.weight", l);
        ADD(nm, H, 0);
        snprintf(nm, sizeof nm, "model.layers.%d.post_attention_layernorm.weight", l);
        ADD(nm, H, 0);
        for (int q = 0; q < 7; q++) {
            snprintf(nm, sizeof nm, "model.layers.%d.%s.%s.weight", l, q < 4 ? "self_attn" : "mlp", bone_proj_names[q]);
            ADD(nm, shp[q][0], shp[q][1]);
        }
    }
#undef ADD
    p = pj(dir, "model.safetensors");
    BONE_ASSERT(bone_st_write(p, t, n, &e) == 0, e.msg);
    free(p);
    for (int i = 0; i < n; i++) free(bufs[i]);
}

static int load_model(const char *dir, bone_model *m) {
    bone_err e;
    if (bone_model_load(dir, m, &e)) {
        fprintf(stderr, "load %s: %s\n", dir, e.msg);
        return -1;
    }
    return 0;
}

static bone_adapter_spec spec_of(const char *method) {
    bone_adapter_spec s;
    memset(&s, 0, sizeof s);
    s.method = method;
    s.block = 16;
    s.rank = 4;
    s.grid_r = 2, s.grid_c = 2;
    s.seed = 42;
    return s;
}

/* attach + alloc + init; returns 0/-1 with the message in e */
static int setup(bone_model *m, bone_params *P, const bone_adapter_spec *s, bone_err *e) {
    bone_params_init(P);
    if (bone_adapter_attach(m, s, P, e)) return -1;
    bone_params_alloc(P);
    return bone_adapter_init(m, P, e);
}

static void test_errors(const char *mdir) {
    bone_model m;
    if (load_model(mdir, &m)) {
        tu_failures++;
        return;
    }
    bone_params P;
    bone_err e;
    bone_adapter_spec s = spec_of("bone-col");
    s.targets = "q_proj,qq_proj";
    CHECK(setup(&m, &P, &s, &e) != 0 && strstr(e.msg, "qq_proj") && strstr(e.msg, "q_proj, k_proj, v_proj, o_proj") &&
              strstr(e.msg, "down_proj"),
          "unknown target message: %s", e.msg);
    printf("  unknown target: %s\n", e.msg);
    bone_params_free(&P);
    s = spec_of("bone-col");
    s.block = 48;
    CHECK(setup(&m, &P, &s, &e) != 0 && strstr(e.msg, "model.layers.0.self_attn.q_proj") && strstr(e.msg, "64 x in_features 64") &&
              strstr(e.msg, "1, 2, 4, 8, 16, 32, 64"),
          "block message: %s", e.msg);
    printf("  block 48: %s\n", e.msg);
    bone_params_free(&P);
    s = spec_of("bone-row");
    s.block = 32, s.targets = "k_proj,down_proj", s.layers = "1";
    CHECK(setup(&m, &P, &s, &e) == 0, "row b=32 on k,down: %s", e.msg);
    bone_model_free(&m);
    bone_params_free(&P);
    load_model(mdir, &m);
    s = spec_of("bone-grid");
    s.block = 32, s.grid_r = 2, s.grid_c = 1, s.targets = "gate_proj";
    CHECK(setup(&m, &P, &s, &e) != 0 && strstr(e.msg, "model.layers.0.mlp.gate_proj") && strstr(e.msg, "work with this grid: 1, 2, 4, 8, 16") &&
              !strstr(e.msg, "16, 32"),
          "grid message: %s", e.msg);
    printf("  grid 2x1 b32: %s\n", e.msg);
    bone_params_free(&P);
    s = spec_of("pissa");
    s.rank = 40;
    CHECK(setup(&m, &P, &s, &e) != 0 && strstr(e.msg, "k_proj") && strstr(e.msg, "exceeds"), "pissa rank message: %s", e.msg);
    printf("  pissa rank 40: %s\n", e.msg);
    bone_params_free(&P);
    s = spec_of("lora");
    s.layers = "0,5";
    CHECK(setup(&m, &P, &s, &e) != 0 && strstr(e.msg, "out of range"), "layers message: %s", e.msg);
    bone_params_free(&P);
    s = spec_of("bone-cols");
    CHECK(setup(&m, &P, &s, &e) != 0 && strstr(e.msg, "bone-hadamard"), "method message: %s", e.msg);
    bone_params_free(&P);
    /* nothing was attached by the failed calls */
    for (int64_t i = 0; i < bone_model_nlinears(&m); i++) CHECK(bone_model_linear(&m, i)->ops == NULL, "failed attach left an adapter");
    bone_model_free(&m);
}

/* count from the config == what attach plans; init values; determinism */
static void test_attach_init(const char *mdir) {
    const char *ms[] = {"bone-col", "bone-row", "bone-grid", "bone-hadamard", "bone-free", "lora", "pissa", "olora"};
    for (int k = 0; k < 8; k++) {
        bone_model m, m2;
        if (load_model(mdir, &m) || load_model(mdir, &m2)) {
            tu_failures++;
            return;
        }
        bone_params P, P2;
        bone_err e;
        bone_adapter_spec s = spec_of(ms[k]);
        s.layers = "0,2";
        int rc = setup(&m, &P, &s, &e);
        CHECK(rc == 0, "%s setup: %s", ms[k], rc ? e.msg : "");
        rc = setup(&m2, &P2, &s, &e);
        int64_t cnt = bone_adapter_count(&m.cfg, &s, &e);
        int64_t planned = 0;
        for (int64_t i = 0; i < P.n; i++) planned += P.p[i].numel;
        CHECK(cnt == planned, "%s: count %lld != planned %lld", ms[k], (long long)cnt, (long long)planned);
        int64_t nad = 0;
        for (int64_t i = 0; i < bone_model_nlinears(&m); i++) nad += bone_model_linear(&m, i)->ops != NULL;
        CHECK(nad == 14, "%s: %lld adapted linears, want 14 (2 layers x 7)", ms[k], (long long)nad);
        CHECK(bone_model_linear(&m, 7)->ops == NULL, "layer 1 must not be adapted");
        CHECK(memcmp(P.value, P2.value, (size_t)P.total * 4) == 0, "%s: init not deterministic", ms[k]);
        /* values: Bone all zero; LoRA A in U(±1/√I) and not all zero, B zero */
        int ok = 1;
        for (int64_t i = 0; i < P.n; i++) {
            const float *v = P.value + P.p[i].offset;
            int isA = strstr(P.p[i].name, "lora_A") != NULL, isB = strstr(P.p[i].name, "lora_B") != NULL;
            double mx = 0;
            for (int64_t j = 0; j < P.p[i].numel; j++) mx = fmax(mx, fabs(v[j]));
            if (!strcmp(ms[k], "lora")) {
                if (isA) ok &= mx > 0 && mx <= 1.0 / sqrt((double)P.p[i].shape[1]);
                if (isB) ok &= mx == 0;
            } else if (isA || isB) {
                ok &= mx > 0; /* PiSSA/OLoRA: both from the SVD / QR */
            } else {
                ok &= mx == 0;
            }
        }
        CHECK(ok, "%s: initial values", ms[k]);
        printf("  %-13s layers 0,2: %lld tensors, %lld parameters (= bone count)\n", ms[k], (long long)P.n, (long long)cnt);
        bone_model_free(&m), bone_model_free(&m2);
        bone_params_free(&P), bone_params_free(&P2);
    }
}

static int files_equal(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    bone_err e;
    if (bone_read_file(a, &x, &nx, &e) || bone_read_file(b, &y, &ny, &e)) return 0;
    int eq = nx == ny && !memcmp(x, y, nx);
    free(x), free(y);
    return eq;
}

/* output of linear idx of m on a fixed input */
static void lin_out(bone_model *m, int64_t idx, float *y) {
    bone_linear *L = bone_model_linear(m, idx);
    t_state = 777;
    float *x = t_rand(3 * L->I, 1.0);
    bone_lin_ctx c = {0};
    linear_forward(&c, L, x, y, 3);
    bone_lin_ctx_free(&c);
    free(x);
}

/* the PEFT layout of a saved directory */
static void check_layout(const char *adir, const char *method, const bone_model *m, int64_t b, int64_t r) {
    char *cp = pj(adir, "adapter_config.json"), *sp = pj(adir, "adapter_model.safetensors");
    char *text;
    size_t n;
    bone_err e;
    if (bone_read_file(cp, &text, &n, &e)) {
        CHECK(0, "read %s", cp);
        free(cp), free(sp);
        return;
    }
    /* json.dumps(indent=2, sort_keys=True): "{\n  \"key\": ..." with top-level keys in order */
    CHECK(!strncmp(text, "{\n  \"", 5) && text[n - 1] == '}', "config formatting");
    char prev[64] = "";
    int sorted = 1;
    for (char *l = text; (l = strstr(l, "\n  \"")); l += 4) {
        char key[64];
        if (sscanf(l + 4, "%63[^\"]", key) != 1) break;
        if (strcmp(prev, key) >= 0) sorted = 0;
        snprintf(prev, sizeof prev, "%s", key);
    }
    CHECK(sorted, "config keys not sorted:\n%s", text);
    cJSON *j = cJSON_Parse(text);
    const int lora = !strcmp(method, "lora") || !strcmp(method, "pissa") || !strcmp(method, "olora");
    const int two = !strcmp(method, "pissa") || !strcmp(method, "olora");
    const char *pt = cJSON_GetStringValue(cJSON_GetObjectItem(j, "peft_type"));
    CHECK(pt && !strcmp(pt, lora ? "LORA" : "MISS"), "peft_type %s", pt ? pt : "?");
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "r")) == (double)(lora ? (two ? 2 * r : r) : b), "r");
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "task_type")), "CAUSAL_LM"), "task_type");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "inference_mode")), "inference_mode");
    const cJSON *tm = cJSON_GetObjectItem(j, "target_modules");
    CHECK(cJSON_IsArray(tm) && cJSON_GetArraySize(tm) == 7 && !strcmp(cJSON_GetArrayItem(tm, 0)->valuestring, "q_proj"), "target_modules");
    if (!lora) {
        const cJSON *iw = cJSON_GetObjectItem(j, "init_weights");
        if (!strcmp(method, "bone-free")) CHECK(cJSON_IsTrue(iw), "free: init_weights true");
        else CHECK(cJSON_IsString(iw) && !strcmp(iw->valuestring, "bat"), "init_weights bat");
        const cJSON *bv = cJSON_GetObjectItem(j, "bone_variant");
        if (!strcmp(method, "bone-row")) CHECK(bv && !strcmp(bv->valuestring, "row"), "bone_variant row");
        else if (!strcmp(method, "bone-grid")) CHECK(bv && !strcmp(bv->valuestring, "grid") && cJSON_GetArraySize(cJSON_GetObjectItem(j, "bone_grid")) == 2, "bone_variant grid");
        else if (!strcmp(method, "bone-hadamard")) CHECK(bv && !strcmp(bv->valuestring, "hadamard"), "bone_variant hadamard");
        else CHECK(bv == NULL, "no bone_variant for %s", method);
    } else {
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "lora_alpha")) == (two ? 2.0 * 8.0 : 8.0), "lora_alpha");
    }
    cJSON_Delete(j);
    free(text);
    /* tensors */
    bone_st_set st;
    bone_st_init(&st);
    if (bone_st_open_file(&st, sp, &e)) {
        CHECK(0, "open %s: %s", sp, e.msg);
        free(cp), free(sp);
        return;
    }
    const int64_t nlin = NL * 7;
    CHECK(st.n == (lora ? 2 : 1) * nlin, "tensor count %lld", (long long)st.n);
    for (int64_t i = 0; i < nlin; i++) {
        const bone_linear *L = &m->layers[i / 7].proj[i % 7];
        char key[256];
        const bone_st_tensor *t;
        if (lora) {
            int64_t rr = two ? 2 * r : r;
            snprintf(key, sizeof key, "base_model.model.%s.lora_A.weight", L->name);
            t = bone_st_find(&st, key);
            CHECK(t && t->dtype == BONE_F32 && t->ndim == 2 && t->shape[0] == rr && t->shape[1] == L->I, "%s", key);
            snprintf(key, sizeof key, "base_model.model.%s.lora_B.weight", L->name);
            t = bone_st_find(&st, key);
            CHECK(t && t->dtype == BONE_F32 && t->ndim == 2 && t->shape[0] == L->O && t->shape[1] == rr, "%s", key);
        } else {
            snprintf(key, sizeof key, "base_model.model.%s.miss_block", L->name);
            t = bone_st_find(&st, key);
            int ok = t && t->dtype == BONE_F32;
            if (ok && !strcmp(method, "bone-free")) ok = t->ndim == 2 && t->shape[0] == b && t->shape[1] == L->O;
            else if (ok && !strcmp(method, "bone-row")) ok = t->ndim == 3 && t->shape[0] == L->I / b && t->shape[1] == b && t->shape[2] == b;
            else if (ok && !strcmp(method, "bone-grid")) ok = t->ndim == 3 && t->shape[0] == L->O * L->I / (4 * b * b) && t->shape[1] == b;
            else if (ok) ok = t->ndim == 3 && t->shape[0] == L->O / b && t->shape[1] == b && t->shape[2] == b;
            CHECK(ok, "%s", key);
        }
    }
    bone_st_close(&st);
    free(cp), free(sp);
}

static void test_save_load(const char *mdir) {
    const char *ms[] = {"bone-col", "bone-row", "bone-grid", "bone-hadamard", "bone-free", "lora", "pissa", "olora"};
    for (int k = 0; k < 8; k++) {
        bone_model m, m2;
        bone_params P, P2;
        bone_err e;
        if (load_model(mdir, &m) || load_model(mdir, &m2)) {
            tu_failures++;
            return;
        }
        bone_adapter_spec s = spec_of(ms[k]);
        s.alpha = 8;
        if (setup(&m, &P, &s, &e)) {
            CHECK(0, "%s setup: %s", ms[k], e.msg);
            continue;
        }
        /* "train": non-zero values everywhere */
        t_state = 100 + (uint64_t)k;
        for (int64_t i = 0; i < P.total; i++) P.value[i] += t_sym(0.05);
        float y1[3 * 96], y2[3 * 96];
        lin_out(&m, 12, y1); /* layer 1 up_proj (96 x 64) */
        char d1[512], d2[512];
        snprintf(d1, sizeof d1, "%s/ad_%s", tmpdir, ms[k]);
        snprintf(d2, sizeof d2, "%s/ad_%s_again", tmpdir, ms[k]);
        int warn = -1;
        int rc = bone_adapter_save(&m, d1, "models/tiny", &warn, &e);
        CHECK(rc == 0, "%s save: %s", ms[k], rc ? e.msg : "");
        CHECK(warn == (!strcmp(ms[k], "bone-row") || !strcmp(ms[k], "bone-grid") || !strcmp(ms[k], "bone-hadamard")), "%s warn flag", ms[k]);
        check_layout(d1, ms[k], &m, 16, 4);
        bone_params_init(&P2);
        rc = bone_adapter_load(&m2, d1, &P2, &e); /* into the ORIGINAL base */
        CHECK(rc == 0, "%s load: %s", ms[k], rc ? e.msg : "");
        lin_out(&m2, 12, y2);
        double d = 0;
        for (int i = 0; i < 3 * 96; i++) d = fmax(d, fabs(y1[i] - y2[i]));
        int two = !strcmp(ms[k], "pissa") || !strcmp(ms[k], "olora");
        /* Ours: bit-identical. PiSSA/OLoRA: the rank-2r LoRA on the original base equals residual + trained factors */
        CHECK(two ? d < 1e-5 : d == 0, "%s: output after load differs by %.2e", ms[k], d);
        if (!two) CHECK(P.total == P2.total && !memcmp(P.value, P2.value, (size_t)P.total * 4), "%s: values not bit-identical after load", ms[k]);
        rc = bone_adapter_save(&m2, d2, "models/tiny", NULL, &e);
        char *a1 = pj(d1, "adapter_model.safetensors"), *a2 = pj(d2, "adapter_model.safetensors");
        char *c1 = pj(d1, "adapter_config.json"), *c2 = pj(d2, "adapter_config.json");
        /* a loaded PiSSA/OLoRA export is a plain LoRA: re-saving it gives the same files too */
        CHECK(rc == 0 && files_equal(a1, a2) && files_equal(c1, c2), "%s: save->load->save not byte-identical", ms[k]);
        printf("  %-13s save/load: output diff %.1e%s, files byte-identical on re-save\n", ms[k], d, two ? " (rank-2r LoRA on the original base)" : "");
        free(a1), free(a2), free(c1), free(c2);
        bone_model_free(&m), bone_model_free(&m2);
        bone_params_free(&P), bone_params_free(&P2);
    }
}

/* merge / unmerge whole directories */
static void test_merge_dirs(const char *mdir, bone_dtype dt, const char *method) {
    bone_model m;
    bone_params P;
    bone_err e;
    char ad[512], out[512], back[512];
    snprintf(ad, sizeof ad, "%s/m_%s_%s", tmpdir, method, bone_dtype_name(dt));
    snprintf(out, sizeof out, "%s/merged_%s_%s", tmpdir, method, bone_dtype_name(dt));
    snprintf(back, sizeof back, "%s/unmerged_%s_%s", tmpdir, method, bone_dtype_name(dt));
    if (load_model(mdir, &m)) {
        tu_failures++;
        return;
    }
    bone_adapter_spec s = spec_of(method);
    if (setup(&m, &P, &s, &e)) {
        CHECK(0, "setup %s", e.msg);
        return;
    }
    t_state = 5;
    for (int64_t i = 0; i < P.total; i++) P.value[i] += t_sym(0.05);
    float ya[3 * 96], yb[3 * 96];
    lin_out(&m, 7 + 4, ya); /* layer 1 gate_proj */
    CHECK(bone_adapter_save(&m, ad, mdir, NULL, &e) == 0, "save %s", e.msg);
    bone_model_free(&m);
    bone_params_free(&P);
    int64_t n = 0;
    int rc = bone_adapter_merge_dir(mdir, ad, out, 0, &n, &e);
    CHECK(rc == 0 && n == 21, "merge dir %s: %s", method, rc ? e.msg : "");
    char *tk = pj(out, "tokenizer.json");
    CHECK(bone_file_exists(tk), "tokenizer.json copied");
    free(tk);
    if (load_model(out, &m)) {
        tu_failures++;
        return;
    }
    CHECK(m.layers[1].proj[4].w.dtype == dt, "merged dtype %s", bone_dtype_name(m.layers[1].proj[4].w.dtype));
    lin_out(&m, 11, yb);
    double d = 0, sc = 0;
    for (int i = 0; i < 3 * 96; i++) d = fmax(d, fabs(ya[i] - yb[i])), sc = fmax(sc, fabs(ya[i]));
    /* fp32: the same numbers; bf16: the merged weight is rounded to bf16 */
    CHECK(d <= (dt == BONE_F32 ? 1e-5 : 2e-2) * (1 + sc), "%s merged model output differs by %.2e", method, d);
    bone_model_free(&m);
    rc = bone_adapter_merge_dir(out, ad, back, 1, &n, &e);
    CHECK(rc == 0, "unmerge dir %s: %s", method, rc ? e.msg : "");
    bone_model m0, m1;
    double dw = 0;
    if (load_model(mdir, &m0) == 0 && load_model(back, &m1) == 0) {
        for (int64_t i = 0; i < bone_model_nlinears(&m0); i++) {
            bone_linear *a = bone_model_linear(&m0, i), *b = bone_model_linear(&m1, i);
            for (int64_t j = 0; j < a->O * a->I; j++) dw = fmax(dw, fabs(wref_get(a->w, j) - wref_get(b->w, j)));
        }
        bone_model_free(&m0), bone_model_free(&m1);
    }
    CHECK(dw < (dt == BONE_F32 ? 1e-5 : 2e-2), "%s %s: unmerge(merge(W)) differs from W by %.2e", method, bone_dtype_name(dt), dw);
    printf("  %-13s %-4s merge dir: output diff %.1e; unmerge dir: max|W - W0| %.1e\n", method, bone_dtype_name(dt), d, dw);
}


/* Writes a PEFT-style adapter directory by hand: config text + tensors named as given. */
static void write_peft(const char *dir, const char *config, const bone_st_wtensor *t, int64_t n) {
    bone_err e;
    BONE_ASSERT(bone_mkdirs(dir, &e) == 0, e.msg);
    char *p = pj(dir, "adapter_config.json");
    BONE_ASSERT(bone_write_file_atomic(p, config, strlen(config), &e) == 0, e.msg);
    free(p);
    p = pj(dir, "adapter_model.safetensors");
    BONE_ASSERT(bone_st_write(p, t, n, &e) == 0, e.msg);
    free(p);
}

/* PEFT-written adapters: BONE (peft 0.14-0.18, bone_block keys), a LORA config with the extra
 * keys PEFT writes, use_rslora, and refusals (unconverted PiSSA, DoRA, MiSS-mini). */
static void test_peft_written(const char *mdir) {
    bone_err e;
    bone_model m, m2;
    bone_params P, P2;
    char d[512];
    /* 1. BONE "bat" on q_proj of every layer: D (O/b, b, b) */
    if (load_model(mdir, &m)) { tu_failures++; return; }
    bone_adapter_spec s = spec_of("bone-col");
    s.targets = "q_proj";
    CHECK(setup(&m, &P, &s, &e) == 0, "setup");
    t_state = 9;
    for (int64_t i = 0; i < P.total; i++) P.value[i] = t_sym(0.05);
    float y1[3 * 96], y2[3 * 96];
    lin_out(&m, 7, y1); /* layer 1 q_proj */
    bone_st_wtensor t[2 * NL];
    char names[2 * NL][160];
    for (int l = 0; l < NL; l++) {
        snprintf(names[l], 160, "base_model.model.model.layers.%d.self_attn.q_proj.bone_block", l);
        t[l] = (bone_st_wtensor){.name = names[l], .dtype = BONE_F32, .ndim = 3, .shape = {4, 16, 16},
                                 .src_f32 = ((bone_adapter *)m.layers[l].proj[0].adapter)->v[0]};
    }
    snprintf(d, sizeof d, "%s/peft_bone_bat", tmpdir);
    write_peft(d,
               "{\n  \"auto_mapping\": null,\n  \"base_model_name_or_path\": \"x\",\n  \"bias\": \"none\",\n"
               "  \"inference_mode\": true,\n  \"init_weights\": \"bat\",\n  \"layers_pattern\": null,\n"
               "  \"layers_to_transform\": null,\n  \"modules_to_save\": null,\n  \"peft_type\": \"BONE\",\n"
               "  \"r\": 16,\n  \"revision\": null,\n  \"target_modules\": [\n    \"q_proj\"\n  ],\n  \"task_type\": \"CAUSAL_LM\"\n}",
               t, NL);
    if (load_model(mdir, &m2)) { tu_failures++; return; }
    bone_params_init(&P2);
    int rc = bone_adapter_load(&m2, d, &P2, &e);
    CHECK(rc == 0, "BONE bat load: %s", rc ? e.msg : "");
    if (rc == 0) {
        lin_out(&m2, 7, y2);
        CHECK(!memcmp(y1, y2, 3 * 64 * sizeof(float)), "BONE bat: output differs from ours");
        CHECK(m2.layers[1].proj[0].ops && !strcmp(m2.layers[1].proj[0].ops->name, "bone-col") && !m2.layers[1].proj[1].ops, "BONE bat attaches bone-col to q only");
    }
    printf("  PEFT BONE (bat, bone_block): %s\n", rc == 0 ? "loaded as bone-col, same output" : e.msg);
    bone_model_free(&m), bone_model_free(&m2), bone_params_free(&P), bone_params_free(&P2);

    /* 2. BONE init_weights true (linear Bone) on v_proj: B (b, O) */
    if (load_model(mdir, &m)) { tu_failures++; return; }
    s = spec_of("bone-free");
    s.targets = "v_proj";
    CHECK(setup(&m, &P, &s, &e) == 0, "setup");
    for (int64_t i = 0; i < P.total; i++) P.value[i] = t_sym(0.05);
    lin_out(&m, 2, y1);
    for (int l = 0; l < NL; l++) {
        snprintf(names[l], 160, "base_model.model.model.layers.%d.self_attn.v_proj.bone_block", l);
        t[l] = (bone_st_wtensor){.name = names[l], .dtype = BONE_F32, .ndim = 2, .shape = {16, 32},
                                 .src_f32 = ((bone_adapter *)m.layers[l].proj[2].adapter)->v[0]};
    }
    snprintf(d, sizeof d, "%s/peft_bone_true", tmpdir);
    write_peft(d, "{\"peft_type\": \"BONE\", \"r\": 16, \"init_weights\": true, \"target_modules\": [\"v_proj\"]}", t, NL);
    load_model(mdir, &m2);
    bone_params_init(&P2);
    rc = bone_adapter_load(&m2, d, &P2, &e);
    CHECK(rc == 0, "BONE true load: %s", rc ? e.msg : "");
    if (rc == 0) {
        lin_out(&m2, 2, y2);
        CHECK(!memcmp(y1, y2, 3 * 32 * sizeof(float)), "BONE true: output differs");
    }
    printf("  PEFT BONE (init_weights true): %s\n", rc == 0 ? "loaded as bone-free, same output" : e.msg);
    bone_model_free(&m), bone_model_free(&m2), bone_params_free(&P), bone_params_free(&P2);

    /* 3. LORA as PEFT writes it (extra keys; alpha 16, r 4 → s = 4), q and v of layer 2; bf16 tensors */
    float *A[2], *B[2];
    uint16_t *A16[2], *B16[2];
    for (int k = 0; k < 2; k++) {
        A[k] = t_rand(4 * 64, 0.2), B[k] = t_rand(32 * 4 + 32 * 4, 0.2);
        A16[k] = malloc(4 * 64 * 2), B16[k] = malloc(64 * 4 * 2);
        for (int i = 0; i < 4 * 64; i++) A16[k][i] = bone_f32_to_bf16(A[k][i]), A[k][i] = bone_bf16_to_f32(A16[k][i]);
    }
    int64_t Oq[2] = {64, 32};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < Oq[k] * 4; i++) B16[k][i] = bone_f32_to_bf16(B[k][i]), B[k][i] = bone_bf16_to_f32(B16[k][i]);
    snprintf(names[0], 160, "base_model.model.model.layers.2.self_attn.q_proj.lora_A.weight");
    snprintf(names[1], 160, "base_model.model.model.layers.2.self_attn.q_proj.lora_B.weight");
    snprintf(names[2], 160, "base_model.model.model.layers.2.self_attn.v_proj.lora_A.weight");
    snprintf(names[3], 160, "base_model.model.model.layers.2.self_attn.v_proj.lora_B.weight");
    bone_st_wtensor lt[4] = {
        {.name = names[0], .dtype = BONE_BF16, .ndim = 2, .shape = {4, 64}, .data = A16[0]},
        {.name = names[1], .dtype = BONE_BF16, .ndim = 2, .shape = {64, 4}, .data = B16[0]},
        {.name = names[2], .dtype = BONE_BF16, .ndim = 2, .shape = {4, 64}, .data = A16[1]},
        {.name = names[3], .dtype = BONE_BF16, .ndim = 2, .shape = {32, 4}, .data = B16[1]},
    };
    const char *lcfg =
        "{\n  \"alpha_pattern\": {},\n  \"auto_mapping\": null,\n  \"base_model_name_or_path\": \"TinyLlama\",\n  \"bias\": \"none\",\n"
        "  \"corda_config\": null,\n  \"eva_config\": null,\n  \"exclude_modules\": null,\n  \"fan_in_fan_out\": false,\n"
        "  \"inference_mode\": true,\n  \"init_lora_weights\": true,\n  \"layer_replication\": null,\n  \"layers_pattern\": null,\n"
        "  \"layers_to_transform\": [\n    2\n  ],\n  \"loftq_config\": {},\n  \"lora_alpha\": 16,\n  \"lora_bias\": false,\n"
        "  \"lora_dropout\": 0.05,\n  \"megatron_config\": null,\n  \"megatron_core\": \"megatron.core\",\n  \"modules_to_save\": null,\n"
        "  \"peft_type\": \"LORA\",\n  \"peft_version\": \"0.18.0\",\n  \"r\": 4,\n  \"rank_pattern\": {},\n  \"revision\": null,\n"
        "  \"target_modules\": [\n    \"v_proj\",\n    \"q_proj\"\n  ],\n  \"task_type\": \"CAUSAL_LM\",\n  \"trainable_token_indices\": null,\n"
        "  \"use_dora\": false,\n  \"use_qalora\": false,\n  \"use_rslora\": false\n}";
    snprintf(d, sizeof d, "%s/peft_lora", tmpdir);
    write_peft(d, lcfg, lt, 4);
    load_model(mdir, &m2);
    bone_params_init(&P2);
    rc = bone_adapter_load(&m2, d, &P2, &e);
    CHECK(rc == 0, "PEFT LORA load: %s", rc ? e.msg : "");
    if (rc == 0) {
        int64_t nad = 0;
        for (int64_t i = 0; i < bone_model_nlinears(&m2); i++) nad += bone_model_linear(&m2, i)->ops != NULL;
        CHECK(nad == 2, "PEFT LORA: %lld adapted linears, want 2", (long long)nad);
        /* layer 2 v_proj: y = x·(W + 4·B·A)ᵀ, checked in double */
        bone_linear *L = &m2.layers[2].proj[2];
        float y[3 * 32];
        lin_out(&m2, 2 * 7 + 2, y);
        t_state = 777;
        float *x = t_rand(3 * 64, 1.0);
        double worst = 0;
        for (int n = 0; n < 3; n++)
            for (int o = 0; o < 32; o++) {
                double acc = 0;
                for (int i = 0; i < 64; i++) {
                    double ba = 0;
                    for (int k = 0; k < 4; k++) ba += (double)B[1][o * 4 + k] * A[1][k * 64 + i];
                    acc += (double)x[n * 64 + i] * (wref_get(L->w, o * 64 + i) + 4.0 * ba);
                }
                worst = fmax(worst, fabs(acc - y[n * 32 + o]));
            }
        free(x);
        CHECK(worst < 1e-4, "PEFT LORA output off by %.2e", worst);
        printf("  PEFT LORA (bf16 tensors, extra keys, alpha 16 r 4): loaded, max |y - y_ref| %.1e\n", worst);
    }
    bone_model_free(&m2), bone_params_free(&P2);
    /* 4. refusals */
    struct { const char *cfg, *want; } bad[] = {
        {"{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"init_lora_weights\": \"pissa_niter_4\"}", "residual base"},
        {"{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"use_dora\": true}", "DoRA"},
        {"{\"peft_type\": \"MISS\", \"r\": 4, \"init_weights\": \"mini\"}", "mini"},
        {"{\"peft_type\": \"PREFIX_TUNING\"}", "not supported"},
        {"{\"peft_type\": \"LORA\", \"r\": 8, \"lora_alpha\": 8}", "needs [8, 64]"},
    };
    for (int k = 0; k < 5; k++) {
        snprintf(d, sizeof d, "%s/peft_bad%d", tmpdir, k);
        write_peft(d, bad[k].cfg, lt, 4);
        load_model(mdir, &m2);
        bone_params_init(&P2);
        rc = bone_adapter_load(&m2, d, &P2, &e);
        CHECK(rc != 0 && strstr(e.msg, bad[k].want), "refusal %d: rc %d msg %s", k, rc, rc ? e.msg : "");
        printf("  refused: %s\n", rc ? e.msg : "(loaded!)");
        bone_model_free(&m2), bone_params_free(&P2);
    }
    /* 5. use_rslora: s = alpha/√r */
    snprintf(d, sizeof d, "%s/peft_rslora", tmpdir);
    write_peft(d, "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 16, \"use_rslora\": true}", lt, 4);
    load_model(mdir, &m2);
    bone_params_init(&P2);
    rc = bone_adapter_load(&m2, d, &P2, &e);
    CHECK(rc == 0 && fabsf(((bone_adapter *)m2.layers[2].proj[0].adapter)->scale - 8.0f) < 1e-6f, "rslora scale");
    bone_model_free(&m2), bone_params_free(&P2);
    for (int k = 0; k < 2; k++) free(A[k]), free(B[k]), free(A16[k]), free(B16[k]);
}

int main(void) {
    char tmpl[] = "/tmp/bone_adapter_test_XXXXXX";
    tmpdir = mkdtemp(tmpl);
    BONE_ASSERT(tmpdir, "mkdtemp");
    char m32[512], m16[512];
    snprintf(m32, sizeof m32, "%s/tiny32", tmpdir);
    snprintf(m16, sizeof m16, "%s/tiny16", tmpdir);
    write_model(m32, BONE_F32);
    write_model(m16, BONE_BF16);
    printf("errors:\n");
    test_errors(m32);
    printf("attach/init:\n");
    test_attach_init(m32);
    printf("save/load (PEFT layout):\n");
    test_save_load(m32);
    test_save_load(m16);
    printf("PEFT-written adapters:\n");
    test_peft_written(m32);
    printf("merge/unmerge directories:\n");
    const char *ms[] = {"bone-col", "bone-row", "bone-grid", "bone-hadamard", "bone-free", "lora", "pissa", "olora"};
    for (int k = 0; k < 8; k++) test_merge_dirs(m32, BONE_F32, ms[k]);
    test_merge_dirs(m16, BONE_BF16, "bone-col");
    test_merge_dirs(m16, BONE_BF16, "lora");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    if (tu_failures) fprintf(stderr, "%d check(s) failed\n", tu_failures);
    else printf("all model-level adapter checks passed\n");
    return tu_failures ? 1 : 0;
}
