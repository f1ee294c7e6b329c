/* trainer.c — the training loop (see trainer.h). */
#include "train/trainer.h"
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "core/blas_env.h"
#include "core/fs.h"
#include "core/rng.h"
#include "data/batch.h"
#include "model/step.h"
#include "train/checkpoint.h"
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

static int write_run_json(const bone_train_opts *o, int64_t steps, int64_t trainable, const char *path, bone_err *e) {
    char buf[4096];
    const bone_adapter_spec *s = &o->adapter;
    int n = snprintf(buf, sizeof buf,
                     "{\n  \"model\": \"%s\",\n  \"data\": \"%s\",\n  \"method\": \"%s\",\n  \"steps\": %lld,\n"
                     "  \"lr\": %.10g,\n  \"batch\": %lld,\n  \"accum\": %lld,\n  \"schedule\": \"%s\",\n"
                     "  \"warmup\": %lld,\n  \"max_grad_norm\": %.10g,\n  \"weight_decay\": %.10g,\n"
                     "  \"beta1\": %.10g,\n  \"beta2\": %.10g,\n  \"eps\": %.10g,\n  \"seed\": %llu,\n"
                     "  \"shuffle\": %s,\n  \"block\": %lld,\n  \"grid\": \"%lldx%lld\",\n  \"rank\": %lld,\n"
                     "  \"alpha\": %.10g,\n  \"on_save_error\": \"%s\",\n  \"trainable_params\": %lld\n}\n",
                     o->model_dir, o->data_path, s->method, (long long)steps, o->lr, (long long)o->batch,
                     (long long)o->accum, o->schedule, (long long)o->warmup, o->max_grad_norm, o->weight_decay,
                     o->beta1, o->beta2, o->eps, (unsigned long long)o->seed, o->shuffle ? "true" : "false",
                     (long long)s->block, (long long)s->grid_r, (long long)s->grid_c, (long long)s->rank,
                     s->alpha > 0 ? s->alpha : (double)s->rank, o->save_error_continue ? "continue" : "exit",
                     (long long)trainable);
    return bone_write_file_atomic(path, buf, (size_t)n, e);
}

/* SIGINT/SIGTERM: finish the step, checkpoint, exit cleanly. A signal handler can only set
 * a flag, so this one sig_atomic_t is the single piece of process-wide state. */
static volatile sig_atomic_t stop_requested;
static struct sigaction old_int, old_term;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
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
    if (o->batch <= 0 || o->accum <= 0) return bone_fail(e, "--batch and --accum must be positive");
    if (bone_model_load(o->model_dir, &m, e)) return -1;
    int rc = -1;
    FILE *metrics = NULL;
    bone_acts *acts = NULL;
    bone_batch batch = {0};
    bone_example **mb = NULL;
    bone_order order = {0};
    char *mpath = NULL;

    bone_data_opts dopts = o->data;
    dopts.path = o->data_path;
    dopts.vocab_size = m.cfg.vocab;
    if (!dopts.tokenizer) dopts.tokenizer = o->model_dir;
    if (bone_dataset_load(&dopts, &data, e)) goto out;
    if (o->eval_data && o->eval_split > 0) {
        bone_fail(e, "--eval-data and --eval-split both given; choose one");
        goto out;
    }
    if (o->eval_data) {
        bone_data_opts eo = dopts;
        eo.path = o->eval_data;
        if (bone_dataset_load(&eo, &evald, e)) goto out;
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

    /* plan the trainable parameters, then the memory, before allocating anything large */
    int64_t trainable = 0;
    if (method == BONE_METHOD_FULL) {
        if (o->init_adapter) { bone_fail(e, "--init-adapter does not apply to --method full"); goto out; }
        bone_adapter_spec fs = o->adapter;
        trainable = bone_adapter_count(&m.cfg, &fs, e);
        if (trainable < 0) goto out;
    } else if (!o->init_adapter) {
        if (bone_adapter_attach(&m, &o->adapter, &P, e)) goto out;
        for (int64_t k = 0; k < P.n; k++) trainable += P.p[k].numel;
    }
    if (!o->init_adapter) {
        int64_t T = 1;
        for (int64_t i = 0; i < data.n; i++) T = data.ex[i].n > T ? data.ex[i].n : T;
        bone_memplan plan;
        bone_memplan_compute(&plan, &m, trainable, method == BONE_METHOD_FULL, o->batch, T, &data,
                             omp_get_max_threads(), o->recompute);
        if (o->dry_run) {
            bone_memplan_print(&plan, stdout);
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
    if (method == BONE_METHOD_FULL) {
        bone_model_make_trainable(&m, &P);
    } else if (o->init_adapter) {
        if (bone_adapter_load(&m, o->init_adapter, &P, e)) goto out;
        for (int64_t k = 0; k < P.n; k++) trainable += P.p[k].numel;
    } else {
        bone_params_alloc(&P);
        if (bone_adapter_init(&m, &P, e)) goto out;
    }
    int64_t per_step = o->batch * o->accum;
    int64_t steps = o->steps;
    if (steps <= 0) steps = (int64_t)ceil(o->epochs * (double)data.n / (double)per_step);
    if (steps <= 0) steps = 1;
    if (bone_mkdirs(o->out_dir, e)) goto out;
    mpath = bone_path_join(o->out_dir, "metrics.jsonl");
    if (!o->resume && bone_file_exists(mpath) && !o->overwrite) {
        bone_fail(e, "%s already holds a run (metrics.jsonl exists); use --resume to continue it, --overwrite to "
                     "start over, or another --out", o->out_dir);
        goto out;
    }
    /* the settings a resumed run must share with the original, recorded in checkpoints */
    char s_steps[32], s_lr[64], s_batch[32], s_accum[32], s_seed[32], s_warm[32], s_train[32];
    snprintf(s_steps, sizeof s_steps, "%lld", (long long)steps);
    snprintf(s_lr, sizeof s_lr, "%.17g", o->lr);
    snprintf(s_batch, sizeof s_batch, "%lld", (long long)o->batch);
    snprintf(s_accum, sizeof s_accum, "%lld", (long long)o->accum);
    snprintf(s_seed, sizeof s_seed, "%llu", (unsigned long long)o->seed);
    snprintf(s_warm, sizeof s_warm, "%lld", (long long)o->warmup);
    snprintf(s_train, sizeof s_train, "%lld", (long long)trainable);
    const char *settings[] = {"method", o->adapter.method, "steps", s_steps, "lr", s_lr, "batch", s_batch,
                              "accum", s_accum, "seed", s_seed, "shuffle", o->shuffle ? "true" : "false",
                              "schedule", o->schedule, "warmup", s_warm, "trainable", s_train, NULL};
    bone_adamw opt = {o->lr, o->beta1, o->beta2, o->eps, o->weight_decay, 0};
    int64_t s0 = 0, tokens_seen = 0;
    double elapsed0 = 0.0;
    if (o->resume) {
        char *cp = bone_ckpt_latest(o->out_dir, e);
        if (!cp) goto out;
        bone_ckpt_info info;
        int lr_ = bone_ckpt_load(cp, &P, &info, settings, e);
        if (!o->quiet && lr_ == 0) fprintf(stderr, "bone train: resuming from %s (step %lld)\n", cp, (long long)info.step);
        free(cp);
        if (lr_) goto out;
        s0 = info.step;
        opt.t = info.adam_t;
        elapsed0 = info.elapsed_s;
        tokens_seen = info.tokens;
        if (keep_metrics_lines(mpath, s0, e)) goto out;
    } else {
        char *rp = bone_path_join(o->out_dir, "run.json");
        int wr = write_run_json(o, steps, trainable, rp, e);
        free(rp);
        if (wr) goto out;
    }
    metrics = fopen(mpath, o->resume ? "a" : "w");
    if (!metrics) { bone_fail(e, "%s: cannot create", mpath); goto out; }
    if (!o->quiet) {
        char blas[256];
        bone_blas_describe(blas, sizeof blas);
        fprintf(stderr, "bone train: %s\n", blas);
        fprintf(stderr, "bone train: %s, %lld examples, %lld steps of %lld×%lld, %lld trainable parameters\n",
                o->adapter.method, (long long)data.n, (long long)steps, (long long)o->batch, (long long)o->accum,
                (long long)trainable);
    }

    acts = bone_acts_new();
    bone_acts_set_recompute(acts, o->recompute);
    mb = xmalloc((size_t)o->batch * sizeof *mb);
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
        for (int64_t a = 0; a < o->accum; a++) {
            for (int64_t j = 0; j < o->batch; j++)
                mb[j] = &data.ex[bone_order_at(&order, (s * o->accum + a) * o->batch + j)];
            bone_batch_build(&batch, mb, o->batch);
            double ls;
            int64_t c;
            if (bone_model_step(&m, acts, &batch, 1, total ? 1.0f / (float)total : 0.0f, &ls, &c, NULL, e)) goto out;
            loss_sum += ls;
        }
        double loss = total ? loss_sum / (double)total : 0.0;
        if (o->debug_nan_step > 0 && s + 1 == o->debug_nan_step) loss = NAN; /* test hook */
        if (!isfinite(loss)) {
            bone_fail(e, "step %lld: the loss is %s; stopping without updating (the last checkpoint is kept%s)",
                      (long long)(s + 1), isnan(loss) ? "NaN" : "infinite",
                      o->save_every > 0 ? "; resume from it with a lower --lr" : "");
            goto out;
        }
        double gnorm = bone_clip_grad(&P, o->max_grad_norm);
        if (!isfinite(gnorm)) {
            bone_fail(e, "step %lld: the gradient norm is not finite; stopping without updating", (long long)(s + 1));
            goto out;
        }
        double lr = o->lr * bone_lr_factor(sched, s, o->warmup, steps);
        bone_adamw_step(&opt, &P, lr);
        double el = now_s() - t0;
        fprintf(metrics, "{\"step\": %lld, \"loss\": %.9g, \"lr\": %.9g, \"grad_norm\": %.9g, \"tokens\": %lld, "
                         "\"label_tokens\": %lld, \"elapsed_s\": %.3f, \"peak_rss_mib\": %.1f",
                (long long)(s + 1), loss, lr, gnorm, (long long)tokens_seen, (long long)total, el, peak_rss_mib());
        int do_eval = evald.n > 0 && ((o->eval_every > 0 && (s + 1) % o->eval_every == 0) || s + 1 == steps);
        double el_loss = -1;
        if (do_eval) {
            int64_t et;
            if (bone_eval_loss(&m, &evald, o->batch, &el_loss, &et, e)) goto out;
            fprintf(metrics, ", \"eval_loss\": %.9g", el_loss);
        }
        fprintf(metrics, "}\n");
        if (fflush(metrics) != 0) { bone_fail(e, "%s: write failed", mpath); goto out; }
        bone_progress_step(&prog, s + 1, loss, lr, tokens_seen, el, peak_rss_mib(), el_loss);
        interrupted = bone_signals_pending();
        int save = (o->save_every > 0 && (s + 1) % o->save_every == 0) || s + 1 == steps || interrupted;
        if (save) {
            bone_ckpt_info info = {s + 1, opt.t, el, tokens_seen};
            if (bone_ckpt_save(o->out_dir, &P, &info, settings, o->keep > 0 ? (int)o->keep : 2, e)) {
                bone_wrap(e, "step %lld: checkpoint not written (the previous one is intact)", (long long)(s + 1));
                /* --on-save-error continue: a periodic save may fail and be retried at the next
                 * one; the last step's and an interrupted run's save must succeed */
                if (!o->save_error_continue || s + 1 == steps || interrupted) goto out;
                bone_progress_break(&prog);
                fprintf(stderr, "bone train: warning: %s; continuing (--on-save-error continue)\n", e->msg);
            }
        }
        if (interrupted) {
            bone_progress_break(&prog);
            fprintf(stderr, "bone train: interrupted after step %lld; checkpoint written; continue with --resume\n",
                    (long long)(s + 1));
            break;
        }
    }
    if (fclose(metrics) != 0) { metrics = NULL; bone_fail(e, "%s: write failed", mpath); goto out; }
    metrics = NULL;
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
        int r = bone_model_save(&m, d, et ? et->dtype : BONE_F32, e);
        if (!r) r = bone_copy_tokenizer_files(o->model_dir, d, e);
        free(d);
        if (r) goto out;
    } else {
        char *d = bone_path_join(o->out_dir, "adapter");
        int warn = 0;
        int r = bone_adapter_save(&m, d, o->model_dir, &warn, e);
        free(d);
        if (r) goto out;
        if (warn && !o->quiet)
            fprintf(stderr, "bone train: note: PEFT has no %s variant; the adapter loads in bone, and a merged "
                            "model (bone merge) loads anywhere\n", o->adapter.method);
    }
    rc = 0;
out:
    bone_signals_restore();
    if (metrics) fclose(metrics);
    free(mpath);
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
