/* cmd_bench.c — `bone bench`: warm training-step time, tokens/s, achieved GFLOP/s against a
 * GEMM ceiling measured in the same run on the same shapes, and peak RSS, per method, with
 * ratios between methods measured in the same run.
 *
 * Each method runs in its own child process (this binary re-executed with a hidden --child
 * option), because peak RSS is a per-process high-water mark: one process per method is the
 * only way to compare memory. Rounds alternate the methods so machine noise hits all of them
 * alike; per method the median over rounds of the per-run median step time is reported. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "adapter/adapter.h"
#include "model/arch.h"
#include "cli/args.h"
#include "cli/cmds.h"
#include "core/blas_env.h"
#include "core/err.h"
#include "core/rng.h"
#include "data/batch.h"
#include "model/model.h"
#include "model/step.h"
#include "ops/backend.h"
#include "train/optim.h"
#include "train/trainer.h"

#define BENCH_MAX_METHODS 16
#define BENCH_MAX_STEPS 256
#define BENCH_MAX_ROUNDS 16
#define BENCH_MAX_COMPUTES 4

static const char *USAGE =
    "--model DIR [--methods LIST] [--batch N] [--seq T] [--steps N] [--warmup N] [--rounds N]\n"
    "       [--data FILE] [--compute LIST] [--json]\n\n"
    "Times warm training steps (forward, backward, clipping, AdamW) of each method on the model,\n"
    "one child process per method and round (so peak RSS is per method), and prints per method:\n"
    "median step time, tokens/s, achieved GFLOP/s, its fraction of a GEMM ceiling measured in\n"
    "the same run on the model's own GEMM shapes, peak RSS; then ratios against the first\n"
    "method. LIST is comma-separated METHOD[:K][/rc] (K = --block for Bone, --rank for LoRA;\n"
    "/rc = with activation recomputation). --compute LIST (default auto) runs every method under\n"
    "each GEMM backend named: fp32 | bf16 | auto, or a backend by name (openblas, onednn-fp32,\n"
    "onednn-bf16, bf16-emulated: the last is a TEST-ONLY numerical emulation, not a speed path);\n"
    "each gets its own GEMM ceiling, and rows are labelled METHOD@COMPUTE.\n"
    "Without --data, token batches are seeded random ids (seed 1). Ratios are the result:\n"
    "absolute times depend on the machine and its load.\n\n"
    "example:\n  bone bench --model models/default --methods lora:8,bone-col:16,full --steps 2 --warmup 1 --rounds 1";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_rss_mib(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
    return (double)ru.ru_maxrss / 1024.0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- FLOPs of one training step (multiply-add = 2), from the shapes alone ---- */

/* Dense products our step issues: per projection forward X·Wᵀ and dX = dY·W; full adds
 * dW = dYᵀ·X. LoRA adds its five rank-r products; Bone-col/row/grid add G = dYᵀ·X and
 * three O·I·b passes (W' in forward, W' again in backward, the dD fold). lm_head: forward and
 * dX, plus dW for full. Attention: QKᵀ and P·V forward, four products backward, on L×L
 * blocks (the causal half is computed too, as BLAS does). Element-wise ops are not counted. */
static double step_flops(const bone_config *c, const char *method, int64_t k, int64_t B, int64_t T) {
    const double N = (double)(B * T), H = (double)c->hidden, V = (double)c->vocab;
    int full = !strcmp(method, "full");
    int lora = !strcmp(method, "lora") || !strcmp(method, "pissa") || !strcmp(method, "olora");
    int bone = !strncmp(method, "bone-", 5) && strcmp(method, "bone-free") != 0;
    double f = 0.0;
    for (int p = 0; p < bone_arch_cfg(c)->nproj; p++) {
        int64_t Oi, Ii;
        bone_linear_info(c, 0, p, NULL, 0, &Oi, &Ii, NULL);
        const double O = (double)Oi, I = (double)Ii, r = (double)k, b = (double)k;
        double pf = 4.0 * N * O * I;
        if (full) pf += 2.0 * N * O * I;
        if (lora) pf += 2.0 * N * r * (I + O) + 2.0 * N * r * (2.0 * I + 2.0 * O) + 2.0 * N * r * I;
        if (bone) pf += 2.0 * N * O * I + 3.0 * 2.0 * O * I * b;
        f += pf;
    }
    f *= (double)c->n_layers;
    f += (full ? 6.0 : 4.0) * N * V * H;
    /* the sequence mixer (attention, or RWKV's WKV and ddlerp): forward and about twice that backward */
    f += 3.0 * N * bone_arch_cfg(c)->mixer_flops(c, T) * (double)c->n_layers;
    return f;
}

/* ---- child: one method ---- */

static void make_batches(bone_dataset *d, const bone_dataset *src, int64_t n, int64_t T, int64_t V, uint64_t seed) {
    int32_t *ids = xmalloc((size_t)T * sizeof(int32_t));
    bone_rng r = bone_rng_seed(seed, 0xbe7c4ull);
    for (int64_t i = 0; i < n; i++) {
        if (src && src->n > 0) {
            const bone_example *x = &src->ex[i % src->n];
            int64_t m = x->n < T ? x->n : T;
            bone_dataset_push(d, x->ids, x->labels, m);
            continue;
        }
        for (int64_t t = 0; t < T; t++) ids[t] = (int32_t)(bone_rng_u64(&r) % (uint64_t)V);
        bone_dataset_push(d, ids, NULL, T);
    }
    free(ids);
}

/* The backend a bench child runs under: a kind by name (openblas, onednn-fp32, ...) or a
 * --compute value (fp32, bf16, auto). */
static int open_compute(const char *compute, bone_backend **be, bone_err *e) {
    for (int k = 0; k < BONE_BE_NKINDS; k++)
        if (!strcmp(compute, bone_backend_kind_name((bone_backend_kind)k)))
            return bone_backend_open_kind((bone_backend_kind)k, be, e);
    return bone_backend_open(compute, be, e);
}

/* Splits "SPEC@COMPUTE" in place; returns COMPUTE ("auto" when absent). */
static const char *split_compute(char *spec) {
    char *at = strchr(spec, '@');
    if (!at) return "auto";
    *at = 0;
    return at + 1;
}

static int run_child(const char *model_dir, const char *data_path, const char *spec, int64_t B, int64_t T,
                     int64_t steps, int64_t warmup) {
    bone_err e;
    bone_model m;
    bone_params P;
    bone_dataset src, d;
    bone_params_init(&P);
    bone_dataset_init(&src);
    bone_dataset_init(&d);
    if (bone_model_load(model_dir, &m, &e)) {
        fprintf(stderr, "bone bench: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    char method[64];
    snprintf(method, sizeof method, "%s", spec);
    const char *compute = split_compute(method);
    {
        bone_backend *be = NULL;
        if (open_compute(compute, &be, &e)) {
            fprintf(stderr, "bone bench: %s\n", e.msg);
            bone_model_free(&m);
            return BONE_EXIT_RUNTIME;
        }
        bone_lin_set_backend(&m.lin, be);
    }
    char *rc_suffix = strstr(method, "/rc"); /* METHOD[:K]/rc: with activation recomputation */
    const int recompute = rc_suffix != NULL;
    if (rc_suffix) *rc_suffix = 0;
    char *colon = strchr(method, ':');
    int64_t k = 0;
    if (colon) {
        *colon = 0;
        k = strtoll(colon + 1, NULL, 10);
    }
    bone_train_opts o;
    bone_train_opts_default(&o);
    o.adapter.method = method;
    if (k > 0) o.adapter.block = o.adapter.rank = k;
    if (!strncmp(method, "bone-", 5) && k <= 0) k = o.adapter.block;
    if (!strcmp(method, "lora") && k <= 0) k = o.adapter.rank;
    int rc = BONE_EXIT_RUNTIME;
    bone_acts *acts = NULL;
    bone_batch batch = {0};
    bone_method meth;
    if (bone_method_parse(method, &meth, &e)) goto fail;
    if (data_path) {
        bone_data_opts dopts = {0};
        dopts.path = data_path;
        dopts.format = "tokens";
        dopts.vocab_size = m.cfg.vocab;
        if (bone_dataset_load(&dopts, &src, &e)) goto fail;
    }
    make_batches(&d, data_path ? &src : NULL, B * (steps + warmup), T, m.cfg.vocab, 1);
    if (meth == BONE_METHOD_FULL) {
        bone_model_make_trainable(&m, &P);
    } else {
        if (bone_adapter_attach(&m, &o.adapter, &P, &e)) goto fail;
        bone_params_alloc(&P);
        if (bone_adapter_init(&m, &P, &e)) goto fail;
    }
    bone_adamw opt = {1e-4, 0.9, 0.999, 1e-8, 0.0, 0};
    acts = bone_acts_new();
    bone_acts_set_recompute(acts, recompute);
    bone_example **mb = xmalloc((size_t)B * sizeof *mb);
    double dt[BENCH_MAX_STEPS], losses[BENCH_MAX_STEPS];
    int64_t n = steps + warmup;
    for (int64_t s = 0; s < n; s++) {
        for (int64_t j = 0; j < B; j++) mb[j] = &d.ex[s * B + j];
        double t0 = now_s();
        bone_batch_build(&batch, mb, B);
        int64_t total = bone_batch_label_count(&batch), cnt;
        double ls;
        bone_params_zero_grad(&P);
        m.lin.step = (uint64_t)s;
        if (bone_model_step(&m, acts, &batch, 1, total ? 1.0f / (float)total : 0.0f, &ls, &cnt, NULL, &e)) {
            free(mb);
            goto fail;
        }
        bone_clip_grad(&P, 1.0);
        bone_adamw_step(&opt, &P, 1e-4);
        dt[s] = now_s() - t0;
        losses[s] = total ? ls / (double)total : 0.0;
    }
    free(mb);
    double tmp[BENCH_MAX_STEPS];
    memcpy(tmp, dt + warmup, (size_t)steps * sizeof(double));
    double med = median(tmp, (int)steps);
    int64_t trainable = 0;
    for (int64_t i = 0; i < P.n; i++) trainable += P.p[i].numel;
    printf("{\"method\": \"%s%s\", \"compute\": \"%s\", \"k\": %lld, \"step_s\": %.6f, \"flops\": %.6e, "
           "\"peak_rss_mib\": %.1f, \"trainable\": %lld, \"losses\": [",
           method, recompute ? "/rc" : "", m.lin.be->desc, (long long)k, med, step_flops(&m.cfg, method, k, B, T), peak_rss_mib(), (long long)trainable);
    for (int64_t s = 0; s < n; s++) printf("%s%.9g", s ? ", " : "", losses[s]);
    printf("]}\n");
    fflush(stdout);
    rc = 0;
fail:
    if (rc) fprintf(stderr, "bone bench: %s\n", e.msg);
    bone_batch_free(&batch);
    bone_acts_free(acts);
    bone_dataset_free(&src);
    bone_dataset_free(&d);
    bone_params_free(&P);
    bone_model_free(&m);
    return rc;
}

/* ---- child: the GEMM ceiling ----
 * Exactly the dense products a full fine-tuning step issues, with the same shapes, leading
 * dimensions and transpositions (per layer: the seven projections' X·Wᵀ, dY·W and dYᵀ·X;
 * lm_head in xent's 256-row chunks), back to back on resident random data. The best of
 * several repetitions is the ceiling the step's GEMMs could reach on this machine now. */
static int run_ceiling(const char *model_dir, const char *compute, int64_t B, int64_t T) {
    bone_err e;
    bone_config c;
    bone_backend *be = NULL;
    if (open_compute(compute, &be, &e)) {
        fprintf(stderr, "bone bench: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", model_dir);
    if (bone_config_load(path, &c, &e)) {
        fprintf(stderr, "bone bench: %s\n", e.msg);
        bone_backend_free(be);
        return BONE_EXIT_RUNTIME;
    }
    const int64_t N = B * T, H = c.hidden, V = c.vocab, CH = N < 256 ? N : 256;
    int64_t maxo = V * H, maxn = N * (c.inter > H ? c.inter : H);
    for (int p = 0; p < bone_arch_cfg(&c)->nproj; p++) {
        int64_t O, I;
        bone_linear_info(&c, 0, p, NULL, 0, &O, &I, NULL);
        if (N * O > maxn) maxn = N * O;
        if (N * I > maxn) maxn = N * I;
    }
    float *W = xmalloc((size_t)maxo * sizeof(float)), *dW = xmalloc((size_t)maxo * sizeof(float));
    float *X = xmalloc((size_t)maxn * sizeof(float)), *Y = xmalloc((size_t)maxn * sizeof(float));
    float *Z = xmalloc((size_t)(CH * V) * sizeof(float));
    bone_rng r = bone_rng_seed(7, 1);
    for (int64_t i = 0; i < maxo; i++) W[i] = (float)(bone_rng_uniform(&r) - 0.5) * 0.05f, dW[i] = 0.0f;
    for (int64_t i = 0; i < maxn; i++) X[i] = (float)(bone_rng_uniform(&r) - 0.5), Y[i] = 0.0f;
    for (int64_t i = 0; i < CH * V; i++) Z[i] = 0.0f;
    double flops = 0.0, best = INFINITY;
    for (int rep = 0; rep < 4; rep++) {
        double t0 = now_s();
        flops = 0.0;
        for (int64_t l = 0; l < c.n_layers; l++)
            for (int p = 0; p < bone_arch_cfg(&c)->nproj; p++) {
                int64_t O, I;
                bone_linear_info(&c, 0, p, NULL, 0, &O, &I, NULL);
                bone_gemm_nt(be, N, O, I, 1.0f, X, I, W, I, 0.0f, Y, O);   /* Y = X·Wᵀ */
                bone_gemm_nn(be, N, I, O, 1.0f, Y, O, W, I, 1.0f, X, I);   /* dX += dY·W */
                bone_gemm_tn(be, O, I, N, 1.0f, Y, O, X, I, 1.0f, dW, I);  /* dW += dYᵀ·X */
                flops += 6.0 * (double)N * (double)O * (double)I;
            }
        for (int64_t c0 = 0; c0 < N; c0 += CH) {
            bone_gemm_nt(be, CH, V, H, 1.0f, X, H, W, H, 0.0f, Z, V);
            bone_gemm_nn(be, CH, H, V, 1.0f, Z, V, W, H, 0.0f, Y, H);
            bone_gemm_tn(be, V, H, CH, 1.0f, Z, V, X, H, 1.0f, dW, H);
            flops += 6.0 * (double)CH * (double)V * (double)H;
        }
        double dt = now_s() - t0;
        if (dt < best) best = dt;
        /* keep the data bounded: rescale what the products accumulated */
        for (int64_t i = 0; i < maxn; i++) X[i] = X[i] * 1e-3f;
    }
    printf("{\"method\": \"gemm-ceiling\", \"step_s\": %.6f, \"flops\": %.6e, \"peak_rss_mib\": %.1f}\n", best, flops,
           peak_rss_mib());
    free(W), free(dW), free(X), free(Y), free(Z);
    bone_backend_free(be);
    return 0;
}

/* ---- parent ---- */

typedef struct bench_row {
    char spec[64];
    char desc[192]; /* the backend, as the child described it */
    double step[BENCH_MAX_ROUNDS], rss[BENCH_MAX_ROUNDS], flops, first_loss[8];
    int nloss, nrounds;
    long long trainable;
} bench_row;

/* Runs this binary with args, returns its first stdout line (malloc'd) or NULL. */
static char *spawn_line(char *const *args) {
    int fd[2];
    if (pipe(fd) != 0) return NULL;
    pid_t pid = fork();
    if (pid < 0) return NULL;
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execv("/proc/self/exe", args);
        _exit(127);
    }
    close(fd[1]);
    size_t cap = 1 << 16, len = 0;
    char *buf = xmalloc(cap);
    ssize_t k;
    while ((k = read(fd[0], buf + len, cap - 1 - len)) > 0) {
        len += (size_t)k;
        if (len + 1 >= cap) break;
    }
    close(fd[0]);
    buf[len] = 0;
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || len == 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static double json_num(const char *s, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(s, pat);
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

int cmd_bench(int argc, char **argv) {
    const char *model = NULL, *methods = "lora:8,bone-col:16,full", *child = NULL, *data = NULL, *compute = "auto";
    int64_t batch = 4, seq = 256, steps = 5, warmup = 2, rounds = 2;
    int json = 0;
    bone_opt opts[] = {
        {"model", OPT_STR, &model, "model directory (required; e.g. from bone init)", 0},
        {"methods", OPT_STR, &methods, "comma list of METHOD[:K] (default lora:8,bone-col:16,full)", 0},
        {"batch", OPT_INT, &batch, "sequences per step (default 4)", 0},
        {"seq", OPT_INT, &seq, "tokens per sequence (default 256)", 0},
        {"steps", OPT_INT, &steps, "timed steps per run (default 5; the median is taken)", 0},
        {"warmup", OPT_INT, &warmup, "untimed steps first (default 2)", 0},
        {"rounds", OPT_INT, &rounds, "alternating rounds over the methods (default 2)", 0},
        {"data", OPT_STR, &data, "pre-tokenized JSONL to take batches from (default: random ids)", 0},
        {"json", OPT_FLAG, &json, "also print one JSON line per method", 0},
        {"compute", OPT_STR, &compute, "comma list of GEMM backends: fp32 | bf16 | auto | openblas | onednn-fp32 | onednn-bf16 | bf16-emulated (default auto)", 0},
        {"child", OPT_STR, &child, "(internal) run one method and print a JSON line", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse("bench", USAGE, opts, argc, argv, pos, 0, &npos);
    if (r) return r < 0 ? 0 : r;
    if (!model) return bone_usage_error("bench", "--model is required");
    if (batch <= 0 || seq <= 0 || steps <= 0 || warmup < 0 || steps + warmup > BENCH_MAX_STEPS)
        return bone_usage_error("bench", "need --batch, --seq, --steps > 0, --warmup >= 0, steps+warmup <= %d",
                                BENCH_MAX_STEPS);
    if (rounds <= 0 || rounds > BENCH_MAX_ROUNDS) return bone_usage_error("bench", "--rounds must be 1..%d", BENCH_MAX_ROUNDS);
    if (child) {
        if (!strncmp(child, "gemm-ceiling", 12)) {
            char cs[64];
            snprintf(cs, sizeof cs, "%s", child);
            return run_ceiling(model, split_compute(cs), batch, seq);
        }
        return run_child(model, data, child, batch, seq, steps, warmup);
    }

    /* rows: every method under every compute (METHOD@COMPUTE), then one ceiling per compute */
    bench_row rows[BENCH_MAX_METHODS + BENCH_MAX_COMPUTES];
    int row_ci[BENCH_MAX_METHODS + BENCH_MAX_COMPUTES];
    char computes[BENCH_MAX_COMPUTES][32];
    int nc = 0, nr = 0;
    {
        char list[256];
        snprintf(list, sizeof list, "%s", compute);
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (nc == BENCH_MAX_COMPUTES) return bone_usage_error("bench", "at most %d --compute values", BENCH_MAX_COMPUTES);
            snprintf(computes[nc++], sizeof computes[0], "%s", t);
        }
        if (nc == 0) return bone_usage_error("bench", "--compute needs at least one value");
    }
    for (int ci = 0; ci < nc; ci++) {
        char list[1024];
        snprintf(list, sizeof list, "%s", methods);
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (nr == BENCH_MAX_METHODS)
                return bone_usage_error("bench", "at most %d method x compute runs", BENCH_MAX_METHODS);
            memset(&rows[nr], 0, sizeof rows[nr]);
            if (nc > 1 || strcmp(computes[ci], "auto")) snprintf(rows[nr].spec, sizeof rows[0].spec, "%.40s@%.20s", t, computes[ci]);
            else snprintf(rows[nr].spec, sizeof rows[0].spec, "%s", t);
            row_ci[nr++] = ci;
        }
    }
    for (int ci = 0; ci < nc; ci++) {
        memset(&rows[nr + ci], 0, sizeof rows[0]);
        if (nc > 1 || strcmp(computes[ci], "auto")) snprintf(rows[nr + ci].spec, sizeof rows[0].spec, "gemm-ceiling@%.30s", computes[ci]);
        else snprintf(rows[nr + ci].spec, sizeof rows[0].spec, "gemm-ceiling");
        row_ci[nr + ci] = ci;
    }
    char blas[256];
    bone_blas_describe(blas, sizeof blas);
    printf("bone bench: %s\n", blas);
    printf("bone bench: model %s, batch %lld x seq %lld = %lld tokens/step, %lld warm-up + %lld timed steps, "
           "%lld rounds\n",
           model, (long long)batch, (long long)seq, (long long)(batch * seq), (long long)warmup, (long long)steps,
           (long long)rounds);
    fflush(stdout);
    char sb[32], sq[32], ss[32], sw[32];
    snprintf(sb, sizeof sb, "%lld", (long long)batch);
    snprintf(sq, sizeof sq, "%lld", (long long)seq);
    snprintf(ss, sizeof ss, "%lld", (long long)steps);
    snprintf(sw, sizeof sw, "%lld", (long long)warmup);
    for (int64_t round = 0; round < rounds; round++)
        for (int i = 0; i < nr + nc; i++) {
            char *args[20];
            int a = 0;
            args[a++] = "bone";
            args[a++] = "bench";
            args[a++] = "--model";
            args[a++] = (char *)model;
            args[a++] = "--child";
            args[a++] = rows[i].spec;
            args[a++] = "--batch", args[a++] = sb;
            args[a++] = "--seq", args[a++] = sq;
            args[a++] = "--steps", args[a++] = ss;
            args[a++] = "--warmup", args[a++] = sw;
            if (data) args[a++] = "--data", args[a++] = (char *)data;
            args[a] = NULL;
            char *line = spawn_line(args);
            if (!line) {
                fprintf(stderr, "bone bench: the run of %s failed\n", rows[i].spec);
                return BONE_EXIT_RUNTIME;
            }
            bench_row *w = &rows[i];
            w->step[w->nrounds] = json_num(line, "step_s");
            w->rss[w->nrounds] = json_num(line, "peak_rss_mib");
            w->nrounds++;
            w->flops = json_num(line, "flops");
            w->trainable = (long long)json_num(line, "trainable");
            const char *lp = strstr(line, "\"losses\": [");
            w->nloss = 0;
            if (lp) {
                lp += strlen("\"losses\": [");
                while (w->nloss < 8 && *lp && *lp != ']') {
                    char *end;
                    w->first_loss[w->nloss++] = strtod(lp, &end);
                    if (end == lp) break;
                    lp = end;
                    while (*lp == ',' || *lp == ' ') lp++;
                }
            }
            if (json) printf("%s", line);
            const char *cp = strstr(line, "\"compute\": \"");
            if (cp && !w->desc[0]) {
                cp += strlen("\"compute\": \"");
                const char *end = strchr(cp, '"');
                snprintf(w->desc, sizeof w->desc, "%.*s", end ? (int)(end - cp) : 0, cp);
            }
            free(line);
        }
    const double tokens = (double)(batch * seq);
    double med_step[BENCH_MAX_METHODS + BENCH_MAX_COMPUTES], med_rss[BENCH_MAX_METHODS + BENCH_MAX_COMPUTES];
    for (int i = 0; i < nr + nc; i++) {
        double t[BENCH_MAX_ROUNDS];
        memcpy(t, rows[i].step, sizeof t);
        med_step[i] = median(t, rows[i].nrounds);
        memcpy(t, rows[i].rss, sizeof t);
        med_rss[i] = median(t, rows[i].nrounds);
    }
    double ceil_gf[BENCH_MAX_COMPUTES];
    for (int ci = 0; ci < nc; ci++) ceil_gf[ci] = rows[nr + ci].flops / med_step[nr + ci] * 1e-9;
    for (int i = 0; i < nr; i++) /* once per compute: which path the runs used */
        if (i == 0 || row_ci[i] != row_ci[i - 1]) printf("bone bench: compute %s: %s\n", computes[row_ci[i]], rows[i].desc);
    printf("\n%-22s %12s %10s %9s %9s %9s %12s %12s\n", "method", "trainable", "step_ms", "tokens/s", "GFLOP/s",
           "ceiling%", "peak_MiB", "loss[0..2]");
    for (int i = 0; i < nr; i++) {
        double gf = rows[i].flops / med_step[i] * 1e-9;
        printf("%-22s %12lld %10.1f %9.0f %9.1f %8.1f%% %12.1f   %.4f %.4f %.4f\n", rows[i].spec, rows[i].trainable,
               1e3 * med_step[i], tokens / med_step[i], gf, 100.0 * gf / ceil_gf[row_ci[i]], med_rss[i], rows[i].first_loss[0],
               rows[i].first_loss[1], rows[i].first_loss[2]);
    }
    for (int ci = 0; ci < nc; ci++)
        printf("%-22s %12s %10.1f %9s %9.1f %8.1f%% %12.1f   (the full step's dense GEMMs alone)\n", rows[nr + ci].spec,
               "-", 1e3 * med_step[nr + ci], "-", ceil_gf[ci], 100.0, med_rss[nr + ci]);
    printf("\nratios against %s (same run):\n", rows[0].spec);
    printf("%-22s %10s %10s %10s\n", "method", "step_time", "tokens/s", "peak_rss");
    for (int i = 0; i < nr; i++)
        printf("%-22s %10.3f %10.3f %10.3f\n", rows[i].spec, med_step[i] / med_step[0], med_step[0] / med_step[i],
               med_rss[i] / med_rss[0]);
    if (json)
        for (int i = 0; i < nr; i++)
            printf("{\"summary\": \"%s\", \"step_s\": %.6f, \"tokens_per_s\": %.2f, \"gflops\": %.2f, "
                   "\"ceiling_gflops\": %.2f, \"peak_rss_mib\": %.1f, \"loss0\": %.9g}\n",
                   rows[i].spec, med_step[i], tokens / med_step[i], rows[i].flops / med_step[i] * 1e-9, ceil_gf[row_ci[i]],
                   med_rss[i], rows[i].first_loss[0]);
    return 0;
}
