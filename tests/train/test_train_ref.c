/* test_train_ref.c — training trajectories against the PyTorch oracle: for each
 * train_<name> fixture, run the trainer with the fixture's args.json (no shuffle) and
 * compare every step's loss and lr with the reference, then the final trainable values
 * (full: every parameter; Bone/LoRA: the saved adapter tensors; PiSSA/OLoRA: the effective
 * weights of the merged model, which are independent of SVD/QR sign choices).
 * usage: test_train_ref FIXTURE_DIR WORK_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "adapter/adapter.h"
#include "core/fs.h"
#include "io/json.h"
#include "model/model.h"
#include "testutil.h"
#include "train/trainer.h"

static double max_abs(const float *x, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

/* fp32 vs float64 over a few AdamW steps: tolerances relative to each tensor's scale */
#define LOSS_RTOL 2e-5
#define PARAM_RTOL 5e-4

static int read_metrics(const char *path, float *loss, float *lr, int64_t steps) {
    char *text;
    size_t n;
    bone_err e;
    if (bone_read_file(path, &text, &n, &e)) return -1;
    int64_t k = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && k < steps; line = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(line);
        if (!o) break;
        loss[k] = (float)cJSON_GetObjectItem(o, "loss")->valuedouble;
        lr[k] = (float)cJSON_GetObjectItem(o, "lr")->valuedouble;
        cJSON_Delete(o);
        k++;
    }
    free(text);
    return k == steps ? 0 : -1;
}

static void run(const char *root, const char *work, const char *name) {
    char *dir = bone_path_join(root, name);
    char *ap = bone_path_join(dir, "args.json");
    bone_err e;
    cJSON *a = bone_json_load_object(ap, &e);
    free(ap);
    if (!a) {
        fprintf(stderr, "FAIL %s: %s\n", name, e.msg);
        tu_failures++;
        free(dir);
        return;
    }
    char model[1024], data[1024], init[1024], out[1024], targets[256] = "";
    snprintf(model, sizeof model, "%s/%s", dir, cJSON_GetObjectItem(a, "model")->valuestring);
    snprintf(data, sizeof data, "%s/%s", dir, cJSON_GetObjectItem(a, "data")->valuestring);
    snprintf(out, sizeof out, "%s/%s", work, name);
    bone_train_opts o;
    bone_train_opts_default(&o);
    o.model_dir = model;
    o.data_path = data;
    o.out_dir = out;
    o.quiet = 1;
    o.overwrite = 1;
    o.shuffle = 0;
    o.adapter.method = cJSON_GetObjectItem(a, "method")->valuestring;
    o.steps = (int64_t)cJSON_GetObjectItem(a, "steps")->valuedouble;
    o.lr = cJSON_GetObjectItem(a, "lr")->valuedouble;
    o.batch = (int64_t)cJSON_GetObjectItem(a, "batch")->valuedouble;
    o.accum = (int64_t)cJSON_GetObjectItem(a, "accum")->valuedouble;
    o.schedule = cJSON_GetObjectItem(a, "schedule")->valuestring;
    o.warmup = (int64_t)cJSON_GetObjectItem(a, "warmup")->valuedouble;
    o.max_grad_norm = cJSON_GetObjectItem(a, "max_grad_norm")->valuedouble;
    o.weight_decay = cJSON_GetObjectItem(a, "weight_decay")->valuedouble;
    o.beta1 = cJSON_GetObjectItem(a, "beta1")->valuedouble;
    o.beta2 = cJSON_GetObjectItem(a, "beta2")->valuedouble;
    o.eps = cJSON_GetObjectItem(a, "eps")->valuedouble;
    const cJSON *v;
    if ((v = cJSON_GetObjectItem(a, "block"))) o.adapter.block = (int64_t)v->valuedouble;
    if ((v = cJSON_GetObjectItem(a, "rank"))) o.adapter.rank = (int64_t)v->valuedouble;
    if ((v = cJSON_GetObjectItem(a, "alpha"))) o.adapter.alpha = v->valuedouble;
    if ((v = cJSON_GetObjectItem(a, "grid")) && bone_parse_grid(v->valuestring, &o.adapter.grid_r, &o.adapter.grid_c, &e))
        CHECK(0, "%s: grid: %s", name, e.msg);
    if ((v = cJSON_GetObjectItem(a, "init_adapter"))) {
        snprintf(init, sizeof init, "%s/%s", dir, v->valuestring);
        o.init_adapter = init;
    }
    if ((v = cJSON_GetObjectItem(a, "targets")))
        for (const cJSON *t = v->child; t; t = t->next)
            snprintf(targets + strlen(targets), sizeof targets - strlen(targets), "%s%s", t == v->child ? "" : ",",
                     t->valuestring);
    if (targets[0]) o.adapter.targets = targets;
    bone_method meth;
    bone_method_parse(o.adapter.method, &meth, NULL);
    int rc = bone_train_run(&o, &e);
    CHECK(rc == 0, "%s: training failed: %s", name, e.msg);
    char *xp = bone_path_join(dir, "expected.safetensors");
    bone_st_set exp;
    bone_st_init(&exp);
    if (rc == 0 && bone_st_open_file(&exp, xp, &e) == 0) {
        float *loss = calloc((size_t)o.steps, 4), *lr = calloc((size_t)o.steps, 4);
        char *mp = bone_path_join(out, "metrics.jsonl");
        CHECK(read_metrics(mp, loss, lr, o.steps) == 0, "%s: metrics.jsonl has fewer than %lld lines", name,
                 (long long)o.steps);
        free(mp);
        char what[600];
        snprintf(what, sizeof what, "%s losses", name);
        tu_close(what, loss, tu_ref(&exp, "losses", NULL), o.steps, 1e-6, LOSS_RTOL, 1);
        snprintf(what, sizeof what, "%s lrs", name);
        tu_close(what, lr, tu_ref(&exp, "lrs", NULL), o.steps, 1e-12, 1e-6, 1);
        /* final values */
        bone_st_set got;
        bone_st_init(&got);
        const char *prefix = NULL;
        char *gp = NULL;
        if (meth == BONE_METHOD_FULL) {
            gp = bone_path_join(out, "model/model.safetensors");
            prefix = "param.";
        } else if (meth != BONE_METHOD_PISSA && meth != BONE_METHOD_OLORA) {
            gp = bone_path_join(out, "adapter/adapter_model.safetensors");
            prefix = "adapter.";
        }
        int64_t compared = 0;
        if (gp) {
            if (bone_st_open_file(&got, gp, &e)) {
                CHECK(0, "%s: %s", name, e.msg);
            } else {
                for (int64_t i = 0; i < got.n; i++) {
                    char nm[512];
                    snprintf(nm, sizeof nm, "%s%s", prefix, got.t[i].name);
                    int64_t n = 0;
                    const float *ref = tu_ref(&exp, nm, &n);
                    if (!ref || n != got.t[i].numel || got.t[i].dtype != BONE_F32) {
                        CHECK(0, "%s: %s shape/dtype mismatch", name, nm);
                        continue;
                    }
                    snprintf(what, sizeof what, "%s %s", name, nm);
                    tu_close(what, got.t[i].data, ref, n, PARAM_RTOL * max_abs(ref, n) + 1e-8, PARAM_RTOL, 0);
                    compared++;
                }
            }
            bone_st_close(&got);
            free(gp);
        } else {
            /* PiSSA/OLoRA: the saved rank-2r LoRA against the ORIGINAL base, merged */
            bone_model m;
            bone_params P;
            bone_params_init(&P);
            char *ad = bone_path_join(out, "adapter");
            if (bone_model_load(model, &m, &e) || bone_adapter_load(&m, ad, &P, &e) || bone_adapter_merge(&m, &e)) {
                CHECK(0, "%s: reload: %s", name, e.msg);
            } else {
                for (int64_t i = 0; i < bone_model_nlinears(&m); i++) {
                    bone_linear *L = bone_model_linear(&m, i);
                    char nm[512];
                    snprintf(nm, sizeof nm, "weff.%s", L->name);
                    int64_t n = 0;
                    const float *ref = tu_ref(&exp, nm, &n);
                    if (!ref || n != L->O * L->I || L->w.dtype != BONE_F32) continue;
                    snprintf(what, sizeof what, "%s %s", name, nm);
                    tu_close(what, L->w.data, ref, n, PARAM_RTOL * max_abs(ref, n) + 1e-8, PARAM_RTOL, 0);
                    compared++;
                }
                bone_model_free(&m);
            }
            bone_params_free(&P);
            free(ad);
        }
        CHECK(compared > 0, "%s: no final tensors compared", name);
        printf("ok   %s: %lld final tensors compared\n", name, (long long)compared);
        free(loss);
        free(lr);
    }
    bone_st_close(&exp);
    free(xp);
    cJSON_Delete(a);
    free(dir);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_train_ref FIXTURE_DIR WORK_DIR [NAME...]\n");
        return 2;
    }
    static const char *const all[] = {"train_full_clip", "train_full_noclip", "train_full_tied", "train_bone-col",
                                      "train_bone-row", "train_bone-grid", "train_bone-hadamard", "train_bone-free",
                                      "train_lora", "train_pissa", "train_olora", NULL};
    if (argc > 3)
        for (int i = 3; i < argc; i++) run(argv[1], argv[2], argv[i]);
    else
        for (int i = 0; all[i]; i++) run(argv[1], argv[2], all[i]);
    return tu_finish("test_train_ref");
}
