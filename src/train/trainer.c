/* trainer.c — the training loop (see trainer.h). */
#include "train/trainer.h"
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "core/blas_env.h"
#include "core/threads.h"
#include "core/fs.h"
#include "core/rng.h"
#include "data/batch.h"
#include "io/json.h"
#include "model/step.h"
#include "train/checkpoint.h"
#include "train/dist.h"
#include "train/memplan.h"
#include "train/optim.h"
#include "train/plot.h"
#include "train/progress.h"

void bone_train_opts_default(bone_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->adapter.method = "full";
    o->adapter.block = 64;
    o->adapter.grid_r = o->adapter.grid_c = 1;
    o->adapter.rank = 8;
    o->lr = 1e-4;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->weight_decay = 0.0;
    o->max_grad_norm = 1.0;
    o->batch = 1;
    o->accum = 1;
    o->schedule = "constant";
    o->seed = 42;
    o->shuffle = 1;
    o->epochs = 1.0;
    o->keep = 2;
}

void bone_order_init(bone_order *o, int64_t n, int shuffle, uint64_t seed) {
    o->n = n;
    o->shuffle = shuffle;
    o->seed = seed;
    o->epoch = -1;
    o->perm = xmalloc((size_t)(n + 1) * sizeof(int64_t));
}

int64_t bone_order_at(bone_order *o, int64_t pos) {
    int64_t ep = pos / o->n, i = pos % o->n;
    if (!o->shuffle) return i;
    if (ep != o->epoch) {
        bone_rng r = bone_rng_seed(o->seed, 0x5eed0000ull + (uint64_t)ep);
        for (int64_t k = 0; k < o->n; k++) o->perm[k] = k;
        for (int64_t k = o->n - 1; k > 0; k--) { /* Fisher–Yates */
            int64_t j = (int64_t)(bone_rng_u64(&r) % (uint64_t)(k + 1));
            int64_t t = o->perm[k];
            o->perm[k] = o->perm[j];
            o->perm[j] = t;
        }
        o->epoch = ep;
    }
    return o->perm[i];
}

void bone_order_free(bone_order *o) {
    free(o->perm);
    o->perm = NULL;
}

/* Moves a seeded random ceil(frac·n) examples (at least 1, at most n−1) from d to held. */
static void split_holdout(bone_dataset *d, bone_dataset *held, double frac, uint64_t seed) {
    int64_t n = d->n, k = (int64_t)ceil(frac * (double)n);
    if (k < 1) k = 1;
    if (k > n - 1) k = n - 1;
    bone_order ord;
    bone_order_init(&ord, n, 1, seed ^ 0xe7a1u);
    char *is_eval = xcalloc((size_t)n, 1);
    for (int64_t i = 0; i < k; i++) is_eval[bone_order_at(&ord, i)] = 1;
    bone_order_free(&ord);
    bone_example *keep = xmalloc((size_t)n * sizeof *keep);
    int64_t nk = 0;
    bone_dataset_init(held);
    held->ex = xmalloc((size_t)k * sizeof *held->ex);
    held->cap = k;
    for (int64_t i = 0; i < n; i++) { /* both keep file order */
        if (is_eval[i]) held->ex[held->n++] = d->ex[i];
        else keep[nk++] = d->ex[i];
    }
    free(d->ex);
    d->ex = keep;
    d->n = nk;
    d->cap = n;
    free(is_eval);
}

int bone_eval_loss(bone_model *m, const bone_dataset *d, int64_t batch, double *loss, int64_t *tokens, bone_err *e) {
    bone_acts *a = bone_acts_new();
    bone_batch b = {0};
    bone_example **ex = xmalloc((size_t)batch * sizeof *ex);
    double sum = 0.0;
    int64_t cnt = 0;
    int rc = 0;
    for (int64_t i = 0; i < d->n && rc == 0; i += batch) {
        int64_t k = d->n - i < batch ? d->n - i : batch;
        for (int64_t j = 0; j < k; j++) ex[j] = &d->ex[i + j];
        bone_batch_build(&b, ex, k);
        double s;
        int64_t c;
        rc = bone_model_step(m, a, &b, 0, 0.0f, &s, &c, NULL, e);
        sum += s;
        cnt += c;
    }
    free(ex);
    bone_batch_free(&b);
    bone_acts_free(a);
    if (rc) return -1;
    *loss = cnt ? sum / (double)cnt : NAN;
    *tokens = cnt;
    return 0;
}

/* peak resident set size of this process so far, in MiB */
static double peak_rss_mib(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* a number, or null when it is not finite: JSON has no NaN or Infinity */
static void add_num(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

/* run.json: the run's settings for people and tools (cJSON escapes every string; a path of
 * any length fits) */
static int write_run_json(const bone_train_opts *o, int64_t steps, int64_t trainable, const char *run_id,
                          int world, const char *path, bone_err *e) {
    const bone_adapter_spec *s = &o->adapter;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "run_id", run_id);
    cJSON_AddStringToObject(j, "model", o->model_dir);
    cJSON_AddStringToObject(j, "data", o->data_path);
    if (o->eval_data) cJSON_AddStringToObject(j, "eval_data", o->eval_data);
    if (o->init_adapter) cJSON_AddStringToObject(j, "init_adapter", o->init_adapter);
    cJSON_AddStringToObject(j, "method", s->method);
    add_num(j, "steps", (double)steps);
    add_num(j, "lr", o->lr);
    add_num(j, "batch", (double)o->batch);
    add_num(j, "accum", (double)o->accum);
    cJSON_AddStringToObject(j, "schedule", o->schedule);
    add_num(j, "warmup", (double)o->warmup);
    add_num(j, "max_grad_norm", o->max_grad_norm);
    add_num(j, "weight_decay", o->weight_decay);
    add_num(j, "beta1", o->beta1);
    add_num(j, "beta2", o->beta2);
    add_num(j, "eps", o->eps);
    char seed[32]; /* a uint64 does not fit a JSON double exactly: written as a string when large */
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    if (o->seed < (1ull << 53)) add_num(j, "seed", (double)o->seed);
    else cJSON_AddStringToObject(j, "seed", seed);
    cJSON_AddBoolToObject(j, "shuffle", o->shuffle);
    add_num(j, "block", (double)s->block);
    char grid[64];
    snprintf(grid, sizeof grid, "%lldx%lld", (long long)s->grid_r, (long long)s->grid_c);
    cJSON_AddStringToObject(j, "grid", grid);
    add_num(j, "rank", (double)s->rank);
    add_num(j, "alpha", s->alpha != 0 ? s->alpha : (double)s->rank);
    add_num(j, "dropout", s->dropout);
    if (s->targets) cJSON_AddStringToObject(j, "targets", s->targets);
    if (s->layers) cJSON_AddStringToObject(j, "layers", s->layers);
    add_num(j, "max_len", (double)o->data.max_len);
    cJSON_AddStringToObject(j, "on_save_error", o->save_error_continue ? "continue" : "exit");
    add_num(j, "trainable_params", (double)trainable);
    /* data parallel: each micro-batch of --batch examples is split into contiguous shares, rank
     * r taking examples [batch·r/N, batch·(r+1)/N) */
    add_num(j, "world_size", (double)world);
    {
        char split[256];
        size_t w = 0;
        for (int r = 0; r < world && w + 24 < sizeof split; r++)
            w += (size_t)snprintf(split + w, sizeof split - w, "%s%lld", r ? "+" : "",
                                  (long long)(o->batch * (r + 1) / world - o->batch * r / world));
        cJSON_AddStringToObject(j, "batch_split", split);
    }
    /* one "key": value per line, as people read it and as earlier versions wrote it; keys and
     * values are printed (escaped) by cJSON */
    size_t n = 0, cap = 256;
    char *txt = xmalloc(cap);
    txt[n++] = '{';
    for (const cJSON *it = j->child; it; it = it->next) {
        cJSON *k = cJSON_CreateString(it->string);
        char *ks = cJSON_PrintUnformatted(k), *vs = cJSON_PrintUnformatted(it);
        size_t need = strlen(ks) + strlen(vs) + 8;
        if (n + need + 4 > cap) {
            cap = 2 * (n + need + 4);
            txt = xrealloc(txt, cap);
        }
        n += (size_t)snprintf(txt + n, cap - n, "%s\n  %s: %s", it == j->child ? "" : ",", ks, vs);
        free(ks);
        free(vs);
        cJSON_Delete(k);
    }
    memcpy(txt + n, "\n}\n", 3);
    n += 3;
    cJSON_Delete(j);
    int rc = bone_write_file_atomic(path, txt, n, e);
    free(txt);
    return rc;
}

/* The run id recorded in run.json (NULL with *e set if there is none). */
static char *read_run_id(const char *out_dir, bone_err *e) {
    char *rp = bone_path_join(out_dir, "run.json");
    cJSON *j = bone_json_load_object(rp, e);
    char *id = NULL;
    if (j) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "run_id");
        if (cJSON_IsString(v) && v->valuestring[0]) id = xstrdup(v->valuestring);
        else bone_fail(e, "%s: no \"run_id\" (written by an older bone?); the run cannot be resumed safely", rp);
        cJSON_Delete(j);
    }
    free(rp);
    return id;
}

/* A fresh run's id: time, pid and an address, mixed; only needs to differ between runs. */
static void new_run_id(char *buf, size_t cap) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    x ^= (uint64_t)getpid() << 32;
    x ^= (uint64_t)(uintptr_t)buf;
    bone_rng r = bone_rng_seed(x, 0x72756eull);
    snprintf(buf, cap, "%016llx", (unsigned long long)bone_rng_u64(&r));
}

/* --overwrite: the old run's outputs go first, so that nothing of it (a stale checkpoint
 * outranking this run's, an old adapter) survives into the new one. Only the files bone
 * writes are removed; a directory holding anything else is refused, not emptied. */
static int clear_dir_files(const char *dir, bone_err *e) {
    if (!bone_is_dir(dir)) return 0;
    DIR *d = opendir(dir);
    if (!d) return bone_fail(e, "%s: cannot open: %s", dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) && rc == 0) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *p = bone_path_join(dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && !S_ISDIR(st.st_mode)) {
            if (unlink(p) != 0) rc = bone_fail(e, "%s: cannot remove: %s", p, strerror(errno));
        } else {
            rc = bone_fail(e, "%s: --overwrite clears the old run's outputs, but this is a directory bone did not write; "
                              "remove it yourself or use another --out", p);
        }
        free(p);
    }
    closedir(d);
    if (rc == 0 && rmdir(dir) != 0) rc = bone_fail(e, "%s: cannot remove: %s", dir, strerror(errno));
    return rc;
}

static int clear_old_run(const char *out_dir, bone_err *e) {
    static const char *const dirs[] = {"checkpoints", "adapter", "model"};
    static const char *const files[] = {"metrics.jsonl", "run.json", "loss.svg"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        char *p = bone_path_join(out_dir, dirs[i]);
        int r = clear_dir_files(p, e);
        free(p);
        if (r) return -1;
    }
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *p = bone_path_join(out_dir, files[i]);
        int r = unlink(p) != 0 && errno != ENOENT ? bone_fail(e, "%s: cannot remove: %s", p, strerror(errno)) : 0;
        free(p);
        if (r) return -1;
    }
    return 0;
}

/* Model identity for resume: config.json's bytes, and per weight file its size, its header
 * and 64 samples of 4 KiB spread over it (a different base, even one that differs only in
 * its values, changes the samples; hashing every byte of a 7B model would take a while). */
static void model_hash(const bone_model *m, const char *model_dir, char *buf, size_t cap) {
    uint64_t h = BONE_FNV1A64_INIT;
    char *cp = bone_path_join(model_dir, "config.json"), *text;
    size_t n;
    bone_err e;
    if (bone_read_file(cp, &text, &n, &e) == 0) {
        h = bone_fnv1a64(h, text, n);
        free(text);
    }
    free(cp);
    for (int i = 0; i < m->st.nfiles; i++) {
        const bone_st_file *f = &m->st.files[i];
        const unsigned char *b = f->map;
        uint64_t sz = f->size;
        h = bone_fnv1a64(h, &sz, sizeof sz);
        if (!b || sz < 8) continue;
        uint64_t hl = 0;
        memcpy(&hl, b, 8);
        h = bone_fnv1a64(h, b, hl <= sz - 8 ? 8 + hl : sz);
        const size_t chunk = 4096;
        if (sz <= 64 * chunk) h = bone_fnv1a64(h, b, sz);
        else
            for (uint64_t k = 0; k < 64; k++) h = bone_fnv1a64(h, b + k * ((sz - chunk) / 63), chunk);
    }
    snprintf(buf, cap, "%016llx", (unsigned long long)h);
}

/* The training examples as the trainer sees them (after format, template, --max-len): a
 * resumed run must train on the same ones. */
static void data_hash(const bone_dataset *d, char *buf, size_t cap) {
    uint64_t h = BONE_FNV1A64_INIT;
    for (int64_t i = 0; i < d->n; i++) {
        h = bone_fnv1a64(h, &d->ex[i].n, sizeof d->ex[i].n);
        h = bone_fnv1a64(h, d->ex[i].ids, (size_t)d->ex[i].n * sizeof(int32_t));
        h = bone_fnv1a64(h, d->ex[i].labels, (size_t)d->ex[i].n * sizeof(int32_t));
    }
    snprintf(buf, cap, "%lld examples, %016llx", (long long)d->n, (unsigned long long)h);
}

/* SIGINT/SIGTERM: finish the step, checkpoint, exit cleanly. A signal handler can only set
 * a flag, so this one sig_atomic_t is the single piece of process-wide state. */
static volatile sig_atomic_t stop_requested;
static struct sigaction old_int, old_term;

/* The first signal asks for a clean stop; a second one (the user means it, or the step is
 * long) gets the default action, which ends the process at once. Checkpoints are written
 * atomically, so the newest complete one still resumes. sigaction is async-signal-safe. */
static void on_signal(int sig) {
    (void)sig;
    if (stop_requested) return; /* the default action is being restored below; raced */
    stop_requested = 1;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGTERM, &dfl, NULL);
}

static void bone_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_requested = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
}

static void bone_signals_restore(void) {
    static const struct sigaction zero;
    if (memcmp(&old_int, &zero, sizeof zero)) sigaction(SIGINT, &old_int, NULL);
    if (memcmp(&old_term, &zero, sizeof zero)) sigaction(SIGTERM, &old_term, NULL);
}

static int bone_signals_pending(void) { return stop_requested != 0; }

/* Keeps the first `n` lines of metrics.jsonl (a resumed run rewrites what followed). */
static int keep_metrics_lines(const char *path, int64_t n, bone_err *e) {
    char *text;
    size_t len;
    if (!bone_file_exists(path)) return 0;
    if (bone_read_file(path, &text, &len, e)) return -1;
    size_t pos = 0;
    for (int64_t k = 0; k < n && pos < len; k++) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        pos = nl ? (size_t)(nl - text) + 1 : len;
    }
    int rc = bone_write_file_atomic(path, text, pos, e);
    free(text);
    return rc;
}

/* "step N: checkpoint not written" and what is left to resume from */
static void save_failed(bone_err *e, int64_t step, int64_t last_saved) { /* last_saved: 0 = none yet */
    if (last_saved > 0)
        bone_wrap(e, "step %lld: checkpoint not written (the previous one is intact)", (long long)step);
    else
        bone_wrap(e, "step %lld: checkpoint not written (no checkpoint has been written yet)", (long long)step);
}

int bone_train_run(const bone_train_opts *o, bone_err *e) {
    bone_model m;
    bone_params P;
    bone_dataset data, evald;
    bone_params_init(&P);
    bone_dataset_init(&data);
    bone_dataset_init(&evald);
    bone_schedule sched;
    if (bone_schedule_parse(o->schedule, &sched))
        return bone_fail(e, "--schedule \"%s\": expected constant, linear or cosine", o->schedule);
    bone_method method;
    if (bone_method_parse(o->adapter.method, &method, e)) return -1;
    if (o->batch <= 0 || o->accum <= 0 || o->batch > BONE_TRAIN_MAX_BATCH || o->accum > BONE_TRAIN_MAX_BATCH)
        return bone_fail(e, "--batch and --accum must be in [1, %lld]", (long long)BONE_TRAIN_MAX_BATCH);
    if (o->steps < 0 || o->steps > BONE_TRAIN_MAX_STEPS)
        return bone_fail(e, "--steps must be in [0, %lld]", (long long)BONE_TRAIN_MAX_STEPS);
    if (!(isfinite(o->epochs) && o->epochs > 0)) return bone_fail(e, "--epochs must be a finite number > 0");
    if (o->resume && o->overwrite) return bone_fail(e, "--resume and --overwrite both given; choose one");
    if (o->resume) { /* before anything is created: resuming where there is no run must leave no trace */
        char *cd = bone_path_join(o->out_dir, "checkpoints");
        int there = bone_is_dir(cd);
        free(cd);
        if (!there)
            return bone_fail(e, "%s: no usable checkpoint: there is no run to resume here (no checkpoints/ directory)",
                             o->out_dir);
    }
    /* data parallel (train/dist.h): rank `me` of `nr` takes its share of every micro-batch;
     * rank 0 alone writes (metrics, checkpoints, plots, the result) */
    bone_dist *D = o->dist && o->dist->size > 1 ? o->dist : NULL;
    const int nr = D ? D->size : 1, me = D ? D->rank : 0, writer = me == 0;
    const int64_t b_local = (o->batch + nr - 1) / nr; /* the largest share of a micro-batch */
    if (D && o->adapter.dropout > 0)
        return bone_fail(e, "--dropout with %d ranks: the dropout masks follow each example's position in its "
                            "micro-batch, which the split changes; train with --dropout 0 or one process", nr);
    if (bone_model_load(o->model_dir, &m, e)) return -1;
    if (bone_model_set_wkv_chunk(&m, o->wkv_chunk, e)) {
        bone_model_free(&m);
        return -1;
    }
    int rc = -1;
    float *zm = NULL, *zv = NULL; /* ZeRO-1: this rank's shard of the AdamW moments */
    int64_t *zparts = NULL, nzparts = 0, zn = 0;
    FILE *metrics = NULL;
    bone_acts *acts = NULL;
    bone_batch batch = {0};
    bone_example **mb = NULL;
    bone_order order = {0};
    char *mpath = NULL, *run_id = NULL, *line = NULL;

    bone_data_opts dopts = o->data;
    dopts.path = o->data_path;
    dopts.vocab_size = m.cfg.vocab;
    if (!dopts.tokenizer) dopts.tokenizer = o->model_dir;
    if (bone_lin_open_compute(&m.lin, o->compute, "train", o->quiet, e)) goto out;
    if (bone_dataset_load(&dopts, &data, e)) goto out;
    if (o->eval_data && o->eval_split > 0) {
        bone_fail(e, "--eval-data and --eval-split both given; choose one");
        goto out;
    }
    /* every example, training and eval, is checked now: not when its batch comes up */
    if (bone_dataset_validate(&data, o->data_path, m.cfg.max_pos, m.cfg.vocab, dopts.tokenizer, e)) goto out;
    if (o->eval_data) {
        bone_data_opts eo = dopts;
        eo.path = o->eval_data;
        if (bone_dataset_load(&eo, &evald, e)) goto out;
        if (bone_dataset_validate(&evald, o->eval_data, m.cfg.max_pos, m.cfg.vocab, dopts.tokenizer, e)) goto out;
    } else if (o->eval_split > 0) {
        if (o->eval_split >= 1 || data.n < 2) {
            bone_fail(e, "--eval-split %g: need a fraction in (0, 1) and at least 2 examples (have %lld)", o->eval_split,
                      (long long)data.n);
            goto out;
        }
        split_holdout(&data, &evald, o->eval_split, o->seed);
        if (!o->quiet)
            fprintf(stderr, "bone train: held out %lld of %lld examples for eval_loss (--eval-split %g)\n",
                    (long long)evald.n, (long long)(data.n + evald.n), o->eval_split);
    }

    /* the step count, bounded so that every data position s·batch·accum + k fits in int64 */
    int64_t per_step = o->batch * o->accum;
    int64_t steps = o->steps;
    if (steps <= 0) {
        double want = ceil(o->epochs * (double)data.n / (double)per_step);
        if (!(want <= (double)BONE_TRAIN_MAX_STEPS)) {
            bone_fail(e, "--epochs %g gives %.3g steps; at most %lld are allowed", o->epochs, want,
                      (long long)BONE_TRAIN_MAX_STEPS);
            goto out;
        }
        steps = want < 1 ? 1 : (int64_t)want;
    }
    if (steps > INT64_MAX / 4 / per_step) {
        bone_fail(e, "%lld steps of %lld×%lld examples is too many", (long long)steps, (long long)o->batch,
                  (long long)o->accum);
        goto out;
    }

    /* plan the trainable parameters, then the memory, before allocating anything large */
    int64_t trainable = 0;
    if (method == BONE_METHOD_FULL) {
        if (o->init_adapter) { bone_fail(e, "--init-adapter does not apply to --method full"); goto out; }
        if (o->train_extra) { bone_fail(e, "--train-extra does not apply to --method full (it trains everything)"); goto out; }
        bone_adapter_spec fs = o->adapter;
        trainable = bone_adapter_count(&m.cfg, &fs, e);
        if (trainable < 0) goto out;
    } else if (!o->init_adapter) {
        if (bone_adapter_attach(&m, &o->adapter, &P, e)) goto out;
        if (bone_model_train_extra(&m, o->train_extra, &P, e)) goto out;
        for (int64_t k = 0; k < P.n; k++) trainable += P.p[k].numel;
        if (method == BONE_METHOD_LORA) /* PiSSA/OLoRA refuse this in the adapter code already */
            for (int64_t i = 0; i < bone_model_nlinears(&m); i++) {
                const bone_linear *L = bone_model_linear(&m, i);
                int64_t mn = L->O < L->I ? L->O : L->I;
                if (L->ops && o->adapter.rank > mn) {
                    bone_fail(e, "--rank %lld exceeds min(out_features, in_features) = %lld of %s (%lld x %lld); a "
                                 "higher rank adds parameters but no capacity", (long long)o->adapter.rank,
                              (long long)mn, L->name, (long long)L->O, (long long)L->I);
                    goto out;
                }
            }
    }
    if (!o->init_adapter) {
        int64_t T = 1;
        for (int64_t i = 0; i < data.n; i++) T = data.ex[i].n > T ? data.ex[i].n : T;
        bone_memplan plan;
        bone_memplan_compute(&plan, &m, trainable, method == BONE_METHOD_FULL, b_local, T, &data,
                             omp_get_max_threads(), o->recompute);
        if (D) bone_memplan_dist(&plan, trainable, method == BONE_METHOD_FULL, nr, writer);
        if (o->dry_run) {
            if (writer) bone_memplan_print(&plan, stdout); /* rank 0's plan (it gathers checkpoints) */
            rc = 0;
            goto out;
        }
        double avail = o->mem_limit_mib > 0 ? o->mem_limit_mib * 1048576.0 : bone_mem_available();
        if (avail > 0 && plan.total > avail) {
            bone_memplan_print(&plan, stderr);
            bone_fail(e, "the run needs about %.0f MiB but %.0f MiB %s; use a smaller --batch or --max-len, an "
                         "adapter instead of full fine-tuning, or a bf16 base", plan.total / 1048576.0,
                      avail / 1048576.0, o->mem_limit_mib > 0 ? "is the --mem-limit" : "are available");
            goto out;
        }
    }
    /* the model's identity is hashed before full fine-tuning releases the mapped weights */
    char s_model[32];
    model_hash(&m, o->model_dir, s_model, sizeof s_model);
    if (method == BONE_METHOD_FULL) {
        bone_model_make_trainable(&m, &P);
    } else if (o->init_adapter) {
        if (o->train_extra) { bone_fail(e, "--train-extra with --init-adapter is not supported yet"); goto out; }
        if (bone_adapter_load(&m, o->init_adapter, &P, e)) goto out;
        for (int64_t k = 0; k < P.n; k++) trainable += P.p[k].numel;
        for (int64_t i = 0; i < bone_model_nlinears(&m); i++) { /* the adapter must be of the --method */
            const bone_linear *L = bone_model_linear(&m, i);
            if (!L->ops || !L->adapter) continue;
            bone_method had = ((const bone_adapter *)L->adapter)->method;
            if (had != method) {
                bone_fail(e, "--init-adapter %s holds a %s adapter but --method is %s; use --method %s%s", o->init_adapter,
                          bone_method_name(had), o->adapter.method, bone_method_name(had),
                          had == BONE_METHOD_LORA ? " (a saved PiSSA/OLoRA adapter is a LoRA of the original base)" : "");
                goto out;
            }
            break;
        }
    } else {
        bone_params_alloc(&P);
        if (bone_adapter_init(&m, &P, e)) goto out;
        bone_model_extra_bind(&m, &P); /* --train-extra: the values move into P and train there */
    }
    if (D && method == BONE_METHOD_FULL) { /* ZeRO-1: keep only this rank's shard of m and v */
        zparts = xmalloc((size_t)(2 * bone_dist_nchunks(D, P.total) + 2) * sizeof *zparts);
        nzparts = bone_dist_parts(D, me, P.total, zparts);
        for (int64_t k = 0; k < nzparts; k++) zn += zparts[2 * k + 1] - zparts[2 * k];
        free(P.m);
        free(P.v);
        P.m = P.v = NULL;
        zm = xcalloc((size_t)zn + 1, sizeof(float));
        zv = xcalloc((size_t)zn + 1, sizeof(float));
    }
    mpath = bone_path_join(o->out_dir, "metrics.jsonl");
    if (writer && !o->resume && bone_file_exists(mpath) && !o->overwrite) {
        bone_fail(e, "%s already holds a run (metrics.jsonl exists); use --resume to continue it, --overwrite to "
                     "start over, or another --out", o->out_dir);
        goto out;
    }
    if (writer && o->overwrite && clear_old_run(o->out_dir, e)) goto out;
    if (!writer) {
        run_id = xstrdup(""); /* only the writer reads or records it */
    } else if (o->resume) {
        if (!(run_id = read_run_id(o->out_dir, e))) goto out;
    } else {
        char id[32];
        new_run_id(id, sizeof id);
        run_id = xstrdup(id);
    }
    if (writer && bone_mkdirs(o->out_dir, e)) goto out;
    /* the settings a resumed run must share with the original, recorded in checkpoints:
     * everything that changes the result (the message on a mismatch names the setting) */
    char s_steps[32], s_lr[64], s_batch[32], s_accum[32], s_seed[32], s_warm[32], s_train[32], s_b1[32], s_b2[32],
        s_eps[32], s_wd[32], s_mgn[32], s_block[32], s_grid[48], s_rank[32], s_alpha[32], s_drop[32], s_niter[32],
        s_maxlen[32], s_policy[8], s_data[64], s_calc[8];
    snprintf(s_steps, sizeof s_steps, "%lld", (long long)steps);
    snprintf(s_lr, sizeof s_lr, "%.17g", o->lr);
    snprintf(s_batch, sizeof s_batch, "%lld", (long long)o->batch);
    snprintf(s_accum, sizeof s_accum, "%lld", (long long)o->accum);
    snprintf(s_seed, sizeof s_seed, "%llu", (unsigned long long)o->seed);
    snprintf(s_warm, sizeof s_warm, "%lld", (long long)o->warmup);
    snprintf(s_train, sizeof s_train, "%lld", (long long)trainable);
    snprintf(s_b1, sizeof s_b1, "%.17g", o->beta1);
    snprintf(s_b2, sizeof s_b2, "%.17g", o->beta2);
    snprintf(s_eps, sizeof s_eps, "%.17g", o->eps);
    snprintf(s_wd, sizeof s_wd, "%.17g", o->weight_decay);
    snprintf(s_mgn, sizeof s_mgn, "%.17g", o->max_grad_norm);
    snprintf(s_block, sizeof s_block, "%lld", (long long)o->adapter.block);
    snprintf(s_grid, sizeof s_grid, "%lldx%lld", (long long)o->adapter.grid_r, (long long)o->adapter.grid_c);
    snprintf(s_rank, sizeof s_rank, "%lld", (long long)o->adapter.rank);
    snprintf(s_alpha, sizeof s_alpha, "%.17g", o->adapter.alpha);
    snprintf(s_drop, sizeof s_drop, "%.17g", o->adapter.dropout);
    snprintf(s_niter, sizeof s_niter, "%lld", (long long)o->adapter.svd_niter);
    snprintf(s_maxlen, sizeof s_maxlen, "%lld", (long long)o->data.max_len);
    snprintf(s_policy, sizeof s_policy, "%d", (int)o->data.policy);
    snprintf(s_calc, sizeof s_calc, "%d", o->data.keep_calc);
    data_hash(&data, s_data, sizeof s_data);
    const char *settings[] = {"run", run_id, "method", o->adapter.method, "steps", s_steps, "lr", s_lr,
                              "batch", s_batch, "accum", s_accum, "seed", s_seed, "shuffle", o->shuffle ? "true" : "false",
                              "schedule", o->schedule, "warmup", s_warm, "trainable", s_train,
                              "beta1", s_b1, "beta2", s_b2, "adam-eps", s_eps, "weight-decay", s_wd,
                              "max-grad-norm", s_mgn, "block", s_block, "grid", s_grid, "rank", s_rank,
                              "alpha", s_alpha, "dropout", s_drop, "svd-niter", s_niter,
                              "targets", o->adapter.targets ? o->adapter.targets : "(all)",
                              "layers", o->adapter.layers ? o->adapter.layers : "(all)",
                              "init-adapter", o->init_adapter ? o->init_adapter : "(none)",
                              "model (hash of config.json and weights)", s_model,
                              "data (the examples after format, template and --max-len)", s_data,
                              "format", o->data.format ? o->data.format : "auto",
                              "template", o->data.template_ ? o->data.template_ : "(default)",
                              "max-len", s_maxlen, "max-len-policy", s_policy, "keep-calc", s_calc,
                              "eval-split", o->eval_split > 0 ? "on" : "off", NULL};
    bone_adamw opt = {o->lr, o->beta1, o->beta2, o->eps, o->weight_decay, 0};
    int64_t s0 = 0, tokens_seen = 0, last_saved = 0;
    double elapsed0 = 0.0;
    if (D) { /* every rank must train on the same examples and base: compare their hashes */
        bone_dist_msg mine = {0}, *all = xcalloc((size_t)nr, sizeof *all);
        snprintf(mine.text, sizeof mine.text, "model %s, data %s", s_model, s_data);
        bone_dist_exchange(D, &mine, all, "the start of training");
        int bad = -1;
        for (int r = 1; r < nr && bad < 0; r++)
            if (strcmp(all[r].text, all[0].text)) bad = r;
        if (bad >= 0) {
            D->agreed = 1; /* every rank sees the same hashes */
            bone_fail(e, "rank %d of %d read a different base or data set than rank 0 (%s; rank 0: %s): every rank must "
                         "see the same --model and --data files", bad, nr, all[bad].text, all[0].text);
            free(all);
            goto out;
        }
        free(all);
    }
    if (o->resume && D) { /* only the writer reads the checkpoint; the others are sent its contents */
        bone_ckpt_info info = {0};
        float *fm = zm ? NULL : P.m, *fv = zm ? NULL : P.v;
        if (writer) {
            char *cp = bone_ckpt_latest(o->out_dir, run_id, e);
            if (!cp) goto out;
            if (zm) { /* ZeRO-1: the whole moments for the load, sent out in shards below */
                P.m = fm = xcalloc((size_t)P.total + 1, sizeof(float));
                P.v = fv = xcalloc((size_t)P.total + 1, sizeof(float));
            }
            int lr_ = bone_ckpt_load(cp, &P, &info, settings, steps, e);
            if (zm) P.m = P.v = NULL;
            if (!o->quiet && lr_ == 0)
                fprintf(stderr, "bone train: resuming from %s (step %lld) on %d ranks\n", cp, (long long)info.step, nr);
            free(cp);
            if (lr_ || keep_metrics_lines(mpath, info.step, e)) {
                if (zm) free(fm), free(fv);
                goto out;
            }
        }
        bone_dist_bcast(D, &info, sizeof info);
        bone_dist_bcast(D, P.value, (size_t)P.total * sizeof(float));
        if (zm) {
            bone_dist_scatter_shards(D, fm, zm, P.total);
            bone_dist_scatter_shards(D, fv, zv, P.total);
            free(fm);
            free(fv);
        } else {
            bone_dist_bcast(D, P.m, (size_t)P.total * sizeof(float));
            bone_dist_bcast(D, P.v, (size_t)P.total * sizeof(float));
        }
        s0 = info.step;
        last_saved = s0;
        opt.t = info.adam_t;
        elapsed0 = info.elapsed_s;
        tokens_seen = info.tokens;
    } else if (o->resume) {
        char *cp = bone_ckpt_latest(o->out_dir, run_id, e);
        if (!cp) goto out;
        bone_ckpt_info info;
        int lr_ = bone_ckpt_load(cp, &P, &info, settings, steps, e);
        if (!o->quiet && lr_ == 0) fprintf(stderr, "bone train: resuming from %s (step %lld)\n", cp, (long long)info.step);
        free(cp);
        if (lr_) goto out;
        s0 = info.step;
        last_saved = s0;
        opt.t = info.adam_t;
        elapsed0 = info.elapsed_s;
        tokens_seen = info.tokens;
        if (keep_metrics_lines(mpath, s0, e)) goto out;
    } else {
        /* adapters start from rank 0's initial values (the same by construction; sent so that
         * they are the same bits whatever each rank's thread count did to an SVD) */
        if (D && method != BONE_METHOD_FULL) bone_dist_bcast(D, P.value, (size_t)P.total * sizeof(float));
    }
    if (writer && !o->resume) {
        char *rp = bone_path_join(o->out_dir, "run.json");
        int wr = write_run_json(o, steps, trainable, run_id, nr, rp, e);
        free(rp);
        if (wr) goto out;
    }
    metrics = writer ? fopen(mpath, o->resume ? "a" : "w") : NULL;
    if (writer && !metrics) { bone_fail(e, "%s: cannot create", mpath); goto out; }
    if (!o->quiet) {
        char blas[256];
        bone_blas_describe(blas, sizeof blas);
        fprintf(stderr, "bone train: %s\n", blas);
        fprintf(stderr, "bone train: %s, %lld examples, %lld steps of %lld×%lld, %lld trainable parameters\n",
                o->adapter.method, (long long)data.n, (long long)steps, (long long)o->batch, (long long)o->accum,
                (long long)trainable);
        if (D)
            fprintf(stderr, "bone train: data parallel over %d ranks (%d on this node, %d threads each%s): each "
                            "micro-batch of %lld examples is split into shares of %lld-%lld%s\n", nr, D->local_size,
                    omp_get_max_threads(), D->local_size * omp_get_max_threads() > bone_threads_online()
                        ? "; more threads than CPUs: oversubscribed" : "",
                    (long long)o->batch, (long long)(o->batch / nr), (long long)b_local,
                    zm ? "; AdamW moments sharded over the ranks (ZeRO-1)" : "");
    }

    acts = bone_acts_new();
    bone_acts_set_recompute(acts, o->recompute);
    mb = xmalloc((size_t)b_local * sizeof *mb);
    line = xmalloc(1024);
    bone_order_init(&order, data.n, o->shuffle, o->seed);
    double t0 = now_s() - elapsed0;
    m.lin.seed = o->seed;
    bone_signals_install();
    int interrupted = 0;
    bone_progress prog;
    bone_progress_init(&prog, stderr, o->quiet, s0, steps, elapsed0, tokens_seen);
    for (int64_t s = s0; s < steps; s++) {
        /* the step's loss is normalised by ALL its label tokens, across micro-batches */
        int64_t total = 0;
        for (int64_t k = 0; k < per_step; k++) {
            const bone_example *x = &data.ex[bone_order_at(&order, s * per_step + k)];
            total += bone_example_label_count(x);
            tokens_seen += x->n;
        }
        bone_params_zero_grad(&P);
        double loss_sum = 0.0;
        m.lin.step = (uint64_t)s;
        /* this rank's share of each micro-batch (all of it with one rank) */
        const int64_t j0 = o->batch * me / nr, j1 = o->batch * (me + 1) / nr;
        for (int64_t a = 0; a < o->accum && j1 > j0; a++) {
            for (int64_t j = j0; j < j1; j++)
                mb[j - j0] = &data.ex[bone_order_at(&order, (s * o->accum + a) * o->batch + j)];
            bone_batch_build(&batch, mb, j1 - j0);
            double ls;
            int64_t c;
            if (bone_model_step(&m, acts, &batch, 1, total ? 1.0f / (float)total : 0.0f, &ls, &c, NULL, e)) goto out;
            loss_sum += ls;
        }
        int signalled = 0; /* with several ranks, one agreed decision: a signal seen by any rank */
        if (D) { /* gradient-ready: the step's loss and signals, then the gradients, summed over ranks */
            bone_dist_msg mine = {0}, *all = xcalloc((size_t)nr, sizeof *all);
            mine.val[0] = loss_sum;
            mine.flags = bone_signals_pending();
            char what[64];
            snprintf(what, sizeof what, "step %lld", (long long)(s + 1));
            bone_dist_exchange(D, &mine, all, what);
            loss_sum = 0.0;
            for (int r = 0; r < nr; r++) { /* rank order: the same sum on every rank */
                loss_sum += all[r].val[0];
                signalled |= all[r].flags;
            }
            free(all);
            bone_dist_sum_f32(D, P.grad, P.total);
        }
        double loss = total ? loss_sum / (double)total : 0.0;
        if (o->debug_nan_step > 0 && s + 1 == o->debug_nan_step) loss = NAN; /* test hook */
        if (!isfinite(loss)) {
            if (D) D->agreed = 1; /* every rank reaches this with the same values */
            if (last_saved > 0)
                bone_fail(e, "step %lld: the loss is %s; stopping without updating (the last checkpoint, step %lld, is "
                             "kept; resume from it with a lower --lr)", (long long)(s + 1), isnan(loss) ? "NaN" : "infinite",
                          (long long)last_saved);
            else
                bone_fail(e, "step %lld: the loss is %s; stopping without updating (no checkpoint yet; try a lower "
                             "--lr, or --save-every N to keep a checkpoint to resume from)", (long long)(s + 1),
                          isnan(loss) ? "NaN" : "infinite");
            goto out;
        }
        double gnorm = bone_clip_grad(&P, o->max_grad_norm);
        if (!isfinite(gnorm)) {
            if (D) D->agreed = 1; /* every rank reaches this with the same values */
            bone_fail(e, "step %lld: the gradient norm is not finite; stopping without updating", (long long)(s + 1));
            goto out;
        }
        double lr = o->lr * bone_lr_factor(sched, s, o->warmup, steps);
        if (zm) { /* ZeRO-1: each rank updates its shard, then the values are all-gathered */
            opt.t++;
            for (int64_t k = 0, off = 0; k < nzparts; k++) {
                bone_adamw_update(&opt, &P, lr, zparts[2 * k], zparts[2 * k + 1], zm + off, zv + off);
                off += zparts[2 * k + 1] - zparts[2 * k];
            }
            P.clip_pending = 0;
            P.clip_coef = 1.0f;
            bone_dist_allgather_f32(D, P.value, P.total);
        } else {
            bone_adamw_step(&opt, &P, lr);
        }
        double el = now_s() - t0;
        int do_eval = evald.n > 0 && ((o->eval_every > 0 && (s + 1) % o->eval_every == 0) || s + 1 == steps);
        double el_loss = -1;
        int eval_failed = 0;
        bone_err ee;
        if (do_eval && !D) {
            int64_t et;
            eval_failed = bone_eval_loss(&m, &evald, o->batch, &el_loss, &et, &ee) != 0;
        } else if (do_eval) { /* each rank its contiguous share of the eval set, then summed */
            bone_dataset view = evald; /* borrowed examples: not freed */
            int64_t lo = evald.n * me / nr, hi = evald.n * (me + 1) / nr, et = 0;
            view.ex = evald.ex + lo;
            view.n = hi - lo;
            bone_dist_msg mine = {0}, *all = xcalloc((size_t)nr, sizeof *all);
            if (view.n > 0 && bone_eval_loss(&m, &view, b_local, &el_loss, &et, &ee)) {
                mine.status = 1;
                snprintf(mine.text, sizeof mine.text, "%.200s", ee.msg);
            }
            mine.val[0] = et > 0 ? el_loss * (double)et : 0.0;
            mine.val[1] = (double)et;
            bone_dist_exchange(D, &mine, all, "the eval");
            double sum = 0.0, cnt = 0.0;
            for (int r = nr - 1; r >= 0; r--) {
                sum += all[r].val[0], cnt += all[r].val[1];
                if (all[r].status) {
                    eval_failed = 1;
                    snprintf(ee.msg, sizeof ee.msg, "rank %d: %s", r, all[r].text);
                }
            }
            el_loss = cnt > 0 ? sum / cnt : NAN;
            free(all);
        }
        /* the whole line is built first and written in one piece: a failure never leaves half
         * a JSON object in metrics.jsonl (non-finite numbers, which JSON lacks, are null). It
         * is written before the checkpoint, so that every checkpointed step has its line. */
        char ev[64] = "";
        if (do_eval && !eval_failed) {
            if (isfinite(el_loss)) snprintf(ev, sizeof ev, ", \"eval_loss\": %.9g", el_loss);
            else snprintf(ev, sizeof ev, ", \"eval_loss\": null");
        }
        int ln = snprintf(line, 1024, "{\"step\": %lld, \"loss\": %.9g, \"lr\": %.9g, \"grad_norm\": %.9g, \"tokens\": "
                                      "%lld, \"label_tokens\": %lld, \"elapsed_s\": %.3f, \"peak_rss_mib\": %.1f%s}\n",
                          (long long)(s + 1), loss, lr, gnorm, (long long)tokens_seen, (long long)total, el,
                          peak_rss_mib(), ev);
        if (writer && (ln < 0 || ln >= 1024 || fwrite(line, 1, (size_t)ln, metrics) != (size_t)ln || fflush(metrics) != 0)) {
            bone_fail(e, "%s: write failed", mpath);
            goto out;
        }
        bone_progress_step(&prog, s + 1, loss, lr, tokens_seen, el, peak_rss_mib(), eval_failed ? -1 : el_loss);
        interrupted = D ? signalled : bone_signals_pending();
        /* a failed eval still saves the step, so that it does not cost the training done */
        int save = (o->save_every > 0 && (s + 1) % o->save_every == 0) || s + 1 == steps || interrupted || eval_failed;
        float *fm = NULL, *fv = NULL; /* ZeRO-1: the whole moments, gathered on the writer for the save */
        if (save && zm) {
            if (writer) {
                fm = xmalloc((size_t)P.total * sizeof(float) + 4);
                fv = xmalloc((size_t)P.total * sizeof(float) + 4);
            }
            bone_dist_gather_shards(D, zm, fm, P.total);
            bone_dist_gather_shards(D, zv, fv, P.total);
            P.m = fm, P.v = fv;
        }
        if (save && writer) {
            bone_ckpt_info info = {s + 1, opt.t, el, tokens_seen};
            int sr = bone_ckpt_save(o->out_dir, &P, &info, settings, (int)o->keep, e);
            if (zm) {
                P.m = P.v = NULL;
                free(fm);
                free(fv);
            }
            if (sr) {
                save_failed(e, s + 1, last_saved);
                if (eval_failed) bone_wrap(e, "eval after step %lld failed (%s), and then", (long long)(s + 1), ee.msg);
                /* --on-save-error continue: a periodic save may fail and be retried at the next
                 * one; the last step's and an interrupted run's save must succeed */
                if (!o->save_error_continue || s + 1 == steps || interrupted || eval_failed) goto out;
                bone_progress_break(&prog);
                fprintf(stderr, "bone train: warning: %s; continuing (--on-save-error continue)\n", e->msg);
            } else {
                last_saved = s + 1;
            }
        }
        if (eval_failed) {
            bone_progress_break(&prog);
            if (D) D->agreed = 1; /* every rank reaches this with the same values */
            bone_fail(e, "eval after step %lld: %s (the step's checkpoint is written; fix the eval data and continue "
                         "with --resume)", (long long)(s + 1), ee.msg);
            goto out;
        }
        if (interrupted) {
            bone_progress_break(&prog);
            if (writer)
                fprintf(stderr, "bone train: interrupted after step %lld; checkpoint written; continue with --resume\n",
                        (long long)(s + 1));
            break;
        }
    }
    if (metrics && fclose(metrics) != 0) { metrics = NULL; bone_fail(e, "%s: write failed", mpath); goto out; }
    metrics = NULL;
    if (D && !o->quiet && s0 < steps) /* the bench's figure (bench/dist.sh): this rank's payload, ring model */
        fprintf(stderr, "bone train: rank 0 handed %.0f bytes to collectives, %.0f per step (%d ranks)\n",
                (double)D->bytes_sent, (double)D->bytes_sent / (double)(steps - s0), nr);
    if (!writer) { /* the others have nothing to write */
        rc = interrupted ? BONE_TRAIN_INTERRUPTED : 0;
        goto out;
    }
    { /* the run's own loss plot */
        char *svg = bone_path_join(o->out_dir, "loss.svg");
        const char *runs[1] = {o->out_dir};
        bone_err pe;
        if (bone_plot_runs(runs, NULL, 1, NULL, svg, &pe) && !o->quiet)
            fprintf(stderr, "bone train: warning: no plot written: %s\n", pe.msg);
        free(svg);
    }
    if (interrupted) {
        rc = BONE_TRAIN_INTERRUPTED;
        goto out;
    }
    if (method == BONE_METHOD_FULL) {
        char *d = bone_path_join(o->out_dir, "model");
        /* written in the base's stored dtype, like the checkpoint it came from */
        const bone_st_tensor *et = bone_st_find(&m.st, "model.embed_tokens.weight");
        /* with the tokenizer files, into a temporary directory that replaces d when complete;
         * sharded past --max-shard-size (default transformers' 5 GB) */
        bone_save_opts so = {o->max_shard, o->model_dir, NULL, NULL};
        int r = bone_model_save_opts(&m, d, et ? et->dtype : m.cfg.dtype, &so, e);
        free(d);
        if (r) goto out;
    } else {
        char *d = bone_path_join(o->out_dir, "adapter");
        int warn = 0;
        int r = bone_adapter_save(&m, d, o->model_dir, &warn, e);
        if (!r && o->train_extra) r = bone_model_save_extra(&m, d, e);
        free(d);
        if (r) goto out;
        if (warn && !o->quiet)
            fprintf(stderr, "bone train: note: PEFT has no %s variant; the adapter loads in bone, and a merged "
                            "model (bone merge) loads anywhere\n", o->adapter.method);
    }
    rc = 0;
out:
    free(zm);
    free(zv);
    free(zparts);
    bone_signals_restore();
    if (metrics) fclose(metrics);
    free(mpath);
    free(run_id);
    free(line);
    free(mb);
    bone_order_free(&order);
    bone_batch_free(&batch);
    bone_acts_free(acts);
    bone_dataset_free(&data);
    bone_dataset_free(&evald);
    bone_model_free(&m);
    bone_params_free(&P);
    return rc;
}
