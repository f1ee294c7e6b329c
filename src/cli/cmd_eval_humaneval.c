/* cmd_eval_humaneval.c — `bone eval humaneval`: functional correctness on HumanEval
 * (data/humaneval, openai/human-eval, MIT). Completions come from the model (n per task, greedy
 * or sampled with a seed, batched, cut at the Codex stop strings) or from a sample file
 * (human-eval's {"task_id", "completion"}), or are the canonical solutions (--canonical, a check
 * of the set-up). Each program prompt + completion + "\n" + test + "\n" + "check(entry_point)"
 * runs in the sandbox of src/eval/sandbox.c, --workers at a time; pass@k uses the unbiased
 * estimator. The containment in force is printed (and is in the --json line). */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/args.h"
#include "cli/eval_common.h"
#include "cli/samefile.h"
#include "core/fs.h"
#include "io/json.h"
#include "core/threads.h"
#include "eval/evalgen.h"
#include "eval/jsonl.h"
#include "eval/sandbox.h"

static const char *USAGE =
    "humaneval --data FILE (--model DIR [--adapter DIR] | --samples FILE.jsonl | --canonical)\n"
    "                      [--n N] [--temperature T] [--top-p P] [--seed S] [--max-new N] [--batch N]\n"
    "                      [--k 1,10] [--timeout S] [--workers N] [--limit N] [--out FILE.jsonl] [--json]\n\n"
    "HumanEval (Chen et al. 2021): the model continues each task's prompt (BOS added; --n samples per\n"
    "task, greedy with --temperature 0, else sampled with --top-p and a seed per sample), cut at the\n"
    "Codex stop strings \\nclass \\ndef \\n# \\nif \\nprint. --samples runs given completions instead\n"
    "(human-eval's rows {\"task_id\", \"completion\"}), --canonical the reference solutions.\n"
    "Each program (prompt + completion + test + check(entry_point)) runs with /usr/bin/python3 in a\n"
    "sandbox: own process group, fresh temporary directory, empty environment, rlimits (CPU,\n"
    "address space, processes, file size, open files), wall-clock --timeout, no network (network\n"
    "namespace where the kernel allows), privileges dropped to nobody when root, Landlock where the\n"
    "kernel has it; the containment in force is printed. It passes iff it runs to the end.\n"
    "Prints pass@k (unbiased estimator, for each k <= the samples of every task); --out writes one\n"
    "JSON line per sample (task_id, completion, passed, result); --json ends with {\"task\", \"samples\",\n"
    "\"passed\", \"pass@1\", ...}.\n\n"
    "example:\n"
    "  bone eval humaneval --data data/humaneval/HumanEval.jsonl --canonical --limit 8 --json";

static const char *const CODEX_STOP[] = {"\nclass", "\ndef", "\n#", "\nif", "\nprint", NULL};

typedef struct {
    const bone_sandbox *sb;
    char **programs;
    bone_sandbox_result *res;
    int64_t n;
    _Atomic int64_t next, done, passed;
    _Atomic int failed_setup;
    int quiet;
    double t0;
    pthread_mutex_t mu;
    bone_err err;
} pool;

static void *worker(void *arg) {
    pool *p = arg;
    for (;;) {
        int64_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n || atomic_load(&p->failed_setup)) break;
        bone_err e;
        if (bone_sandbox_run(p->sb, p->programs[i], &p->res[i], &e)) {
            pthread_mutex_lock(&p->mu);
            if (!atomic_exchange(&p->failed_setup, 1)) p->err = e;
            pthread_mutex_unlock(&p->mu);
            break;
        }
        int64_t ok = p->res[i].passed ? atomic_fetch_add(&p->passed, 1) + 1 : atomic_load(&p->passed);
        int64_t d = atomic_fetch_add(&p->done, 1) + 1;
        int64_t step = p->n / 10 > 0 ? p->n / 10 : 1;
        if (!p->quiet && (d % step == 0 || d == p->n)) {
            double el = bone_now_s() - p->t0;
            pthread_mutex_lock(&p->mu);
            fprintf(stderr, "eval humaneval: ran %lld/%lld programs, %lld passed, elapsed %.0fs, ETA %.0fs\n",
                    (long long)d, (long long)p->n, (long long)ok, el, el / (double)d * (double)(p->n - d));
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

/* "1,10,100" -> ks */
static int parse_ks(const char *s, int64_t *ks, int *nk) {
    *nk = 0;
    while (*s && *nk < 16) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v <= 0) return -1;
        ks[(*nk)++] = v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return *nk ? 0 : -1;
}

int cmd_eval_humaneval(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *data = NULL, *outp = NULL, *tokp = NULL, *samples = NULL;
    const char *kstr = "1";
    int64_t limit = 0, max_new = 384, batch = 16, nper = 1, workers = 0, seed = 0;
    double temperature = 0, top_p = 0.95, timeout = 10;
    int quiet = 0, json = 0, canonical = 0;
    bone_opt opts[] = {
        {"data", OPT_STR, &data, "HumanEval JSONL, e.g. data/humaneval/HumanEval.jsonl (required)", 0},
        {"model", OPT_STR, &model, "model directory (or --samples / --canonical)", 0},
        {"adapter", OPT_STR, &adapter, "adapter directory (ours or PEFT's)", 0},
        {"tokenizer", OPT_STR, &tokp, "tokenizer path (default: the model directory)", 0},
        {"samples", OPT_STR, &samples, "run completions {task_id, completion} instead of a model", 0},
        {"canonical", OPT_FLAG, &canonical, "run the canonical solutions (checks the sandbox set-up)", 0},
        {"n", OPT_INT, &nper, "samples per task from the model (default 1)", 0},
        {"temperature", OPT_DOUBLE, &temperature, "sampling temperature (default 0: greedy)", 0},
        {"top-p", OPT_DOUBLE, &top_p, "nucleus sampling when --temperature > 0 (default 0.95)", 0},
        {"seed", OPT_INT, &seed, "sampling seed (sample j of task t uses seed + t*n + j)", 0},
        {"max-new", OPT_INT, &max_new, "maximum new tokens per completion (default 384)", 0},
        {"batch", OPT_INT, &batch, "prompts decoded together (default 16)", 0},
        {"k", OPT_STR, &kstr, "pass@k for these k, comma-separated (default 1)", 0},
        {"timeout", OPT_DOUBLE, &timeout, "wall-clock seconds per program (default 10)", 0},
        {"workers", OPT_INT, &workers, "programs run at once (default: the CPUs)", 0},
        {"limit", OPT_INT, &limit, "the first N tasks only", 0},
        {"out", OPT_STR, &outp, "per-sample JSONL (written atomically at the end)", 0},
        {"json", OPT_FLAG, &json, "end with one JSON line of the results", 0},
        {"quiet", OPT_FLAG, &quiet, "no progress on stderr", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse("eval humaneval", USAGE, opts, argc, argv, pos, 1, &npos);
    if (r) return r < 0 ? 0 : r;
    const char *C = "eval humaneval";
    if (npos) return bone_usage_error(C, "unexpected argument \"%s\"", pos[0]);
    if (!data) return bone_usage_error(C, "--data is required");
    if ((model != NULL) + (samples != NULL) + canonical != 1)
        return bone_usage_error(C, "give exactly one of --model, --samples, --canonical");
    if (!model && (adapter || tokp)) return bone_usage_error(C, "--adapter/--tokenizer need --model");
    if (bone_opt_seen(opts, "limit") && limit <= 0) return bone_usage_error(C, "--limit must be positive");
    if (nper <= 0 || max_new <= 0 || batch <= 0) return bone_usage_error(C, "--n, --max-new and --batch must be positive");
    if (!(temperature >= 0) || !(top_p > 0 && top_p <= 1)) return bone_usage_error(C, "--temperature >= 0, 0 < --top-p <= 1");
    if (!(timeout > 0 && timeout <= 3600)) return bone_usage_error(C, "--timeout must be in (0, 3600] seconds");
    if (bone_opt_seen(opts, "workers") && (workers <= 0 || workers > 256)) return bone_usage_error(C, "--workers in 1..256");
    int64_t ks[16];
    int nk;
    if (parse_ks(kstr, ks, &nk)) return bone_usage_error(C, "--k expects positive integers separated by commas");
    if (outp && (bone_same_file(outp, data) || (samples && bone_same_file(outp, samples))))
        return bone_usage_error(C, "--out %s is one of the input files; choose another --out", outp);
    if (workers <= 0) workers = bone_threads_affinity();

    bone_err e;
    bone_sandbox sb;
    if (bone_sandbox_init(&sb, &e)) {
        fprintf(stderr, "bone %s: %s\n", C, e.msg);
        return BONE_EXIT_RUNTIME;
    }
    sb.timeout_s = timeout;
    bone_jsonl d;
    if (bone_jsonl_read(data, limit, &d, &e)) {
        fprintf(stderr, "bone %s: %s\n", C, e.msg);
        return BONE_EXIT_RUNTIME;
    }
    int rc = BONE_EXIT_RUNTIME, afile_open = 0;
    int64_t T = d.n, ns = 0;
    const char **ids = xcalloc((size_t)T, sizeof *ids);
    int64_t *task = NULL, *cnt = xcalloc((size_t)T, sizeof *cnt), *cok = xcalloc((size_t)T, sizeof *cok);
    char **comp = NULL, **programs = NULL;
    bone_sandbox_result *res = NULL;
    bone_samples S = {0};
    bone_afile af;
    for (int64_t t = 0; t < T; t++) {
        static const char *keys[] = {"task_id", "prompt", "entry_point", "test"};
        for (int k = 0; k < 4; k++)
            if (!bone_jsonl_str(&d, t, keys[k])) {
                bone_fail(&e, "%s:%lld: expected a string field \"%s\" (HumanEval rows have task_id, prompt, "
                              "entry_point, canonical_solution, test)", data, (long long)d.line[t], keys[k]);
                goto fail;
            }
        if (canonical && !bone_jsonl_str(&d, t, "canonical_solution")) {
            bone_fail(&e, "%s:%lld: no \"canonical_solution\"", data, (long long)d.line[t]);
            goto fail;
        }
        ids[t] = bone_jsonl_str(&d, t, "task_id");
    }
    if (samples) {
        if (bone_samples_read(samples, ids, T, &S, &e)) goto fail;
        ns = S.n;
        task = xmalloc((size_t)ns * sizeof *task);
        memcpy(task, S.task, (size_t)ns * sizeof *task);
        comp = xmalloc((size_t)ns * sizeof *comp);
        for (int64_t s = 0; s < ns; s++) comp[s] = xstrdup(S.completion[s]);
    } else if (canonical) {
        ns = T;
        task = xmalloc((size_t)ns * sizeof *task);
        comp = xmalloc((size_t)ns * sizeof *comp);
        for (int64_t t = 0; t < T; t++) {
            task[t] = t;
            comp[t] = xstrdup(bone_jsonl_str(&d, t, "canonical_solution"));
        }
    } else {
        bone_eval_model em;
        if (bone_eval_model_load(&em, model, adapter, tokp, &e)) {
            bone_eval_model_free(&em);
            goto fail;
        }
        ns = T * nper;
        task = xmalloc((size_t)ns * sizeof *task);
        comp = xcalloc((size_t)ns, sizeof *comp);
        char **prompts = xmalloc((size_t)ns * sizeof *prompts);
        uint64_t *seeds = xmalloc((size_t)ns * sizeof *seeds);
        for (int64_t s = 0; s < ns; s++) {
            task[s] = s / nper;
            prompts[s] = (char *)bone_jsonl_str(&d, task[s], "prompt");
            seeds[s] = (uint64_t)seed + (uint64_t)s;
        }
        bone_gen_opts o;
        bone_gen_opts_default(&o);
        o.max_new = max_new;
        o.temperature = temperature;
        o.top_p = temperature > 0 ? top_p : 1.0;
        o.stop = CODEX_STOP;
        o.add_special = 1;
        bone_evalgen g = {batch, quiet, C};
        int grc = bone_eval_generate(&em.m, em.tok, &g, prompts, ns, &o, seeds, comp, NULL, &e);
        free(prompts);
        free(seeds);
        bone_eval_model_free(&em); /* before forking programs: no model pages to share */
        if (grc) {
            free(comp);
            comp = NULL;
            goto fail;
        }
    }
    programs = xmalloc((size_t)ns * sizeof *programs);
    for (int64_t s = 0; s < ns; s++) {
        int64_t t = task[s];
        const char *pr = bone_jsonl_str(&d, t, "prompt"), *te = bone_jsonl_str(&d, t, "test");
        const char *ep = bone_jsonl_str(&d, t, "entry_point");
        size_t len = strlen(pr) + strlen(comp[s]) + strlen(te) + strlen(ep) + 16;
        programs[s] = xmalloc(len);
        snprintf(programs[s], len, "%s%s\n%s\ncheck(%s)\n", pr, comp[s], te, ep);
    }
    if (!quiet) fprintf(stderr, "eval humaneval: containment: %s\n", sb.describe);
    res = xcalloc((size_t)ns, sizeof *res);
    {
        pool p = {.sb = &sb, .programs = programs, .res = res, .n = ns, .quiet = quiet, .t0 = bone_now_s()};
        pthread_mutex_init(&p.mu, NULL);
        int64_t nw = workers < ns ? workers : ns;
        pthread_t *th = xmalloc((size_t)nw * sizeof *th);
        for (int64_t w = 0; w < nw; w++) pthread_create(&th[w], NULL, worker, &p);
        for (int64_t w = 0; w < nw; w++) pthread_join(th[w], NULL);
        free(th);
        pthread_mutex_destroy(&p.mu);
        if (atomic_load(&p.failed_setup)) {
            e = p.err;
            goto fail;
        }
    }
    int64_t passed = 0;
    for (int64_t s = 0; s < ns; s++) {
        cnt[task[s]]++;
        cok[task[s]] += res[s].passed;
        passed += res[s].passed;
    }
    if (outp) {
        if (bone_afile_open(&af, outp, &e)) goto fail;
        afile_open = 1;
        for (int64_t s = 0; s < ns; s++) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "task_id", ids[task[s]]);
            cJSON_AddStringToObject(j, "completion", comp[s]);
            cJSON_AddBoolToObject(j, "passed", res[s].passed);
            cJSON_AddStringToObject(j, "result", res[s].reason);
            cJSON_AddNumberToObject(j, "seconds", res[s].seconds);
            if (!res[s].passed && res[s].err_tail[0]) cJSON_AddStringToObject(j, "stderr_tail", res[s].err_tail);
            int wrc = bone_afile_write_json(&af, j, &e);
            if (wrc) goto fail;
        }
        afile_open = 0;
        if (bone_afile_commit(&af, &e)) goto fail;
    }
    int64_t tasks_with = 0, minn = INT64_MAX;
    for (int64_t t = 0; t < T; t++)
        if (cnt[t]) {
            tasks_with++;
            if (cnt[t] < minn) minn = cnt[t];
        }
    printf("humaneval: %lld samples over %lld tasks, %lld passed\n", (long long)ns, (long long)tasks_with, (long long)passed);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "task", "humaneval");
    cJSON_AddNumberToObject(j, "samples", (double)ns);
    cJSON_AddNumberToObject(j, "tasks", (double)tasks_with);
    cJSON_AddNumberToObject(j, "passed", (double)passed);
    for (int k = 0; k < nk; k++) {
        if (ks[k] > minn) {
            printf("pass@%lld: not computed (a task has only %lld samples)\n", (long long)ks[k], (long long)minn);
            continue;
        }
        double sum = 0;
        for (int64_t t = 0; t < T; t++)
            if (cnt[t]) sum += bone_pass_at_k(cnt[t], cok[t], ks[k]);
        double v = sum / (double)tasks_with;
        char key[32];
        snprintf(key, sizeof key, "pass@%lld", (long long)ks[k]);
        printf("%s: %.4f\n", key, v);
        cJSON_AddNumberToObject(j, key, v);
    }
    printf("containment: %s\n", sb.describe);
    cJSON_AddStringToObject(j, "containment", sb.describe);
    if (outp) printf("wrote %s\n", outp);
    if (json) {
        char *t = cJSON_PrintUnformatted(j);
        printf("%s\n", t);
        free(t);
    }
    cJSON_Delete(j);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bone %s: %s\n", C, e.msg);
done:
    if (afile_open) bone_afile_abort(&af);
    for (int64_t s = 0; comp && s < ns; s++) free(comp[s]);
    for (int64_t s = 0; programs && s < ns; s++) free(programs[s]);
    free(comp);
    free(programs);
    free(res);
    free(task);
    free(cnt);
    free(cok);
    free(ids);
    bone_samples_free(&S);
    bone_jsonl_free(&d);
    return rc;
}
