/* cmd_compare.c — `bone compare SPEC.json --out DIR`: the paper's comparisons as one command.
 * Every method of the spec (name + its own `bone train` options) is trained with every seed on
 * the same model and data with the same common options (so equal steps, equal batch/max-len
 * token budget, and, per seed, the same data order), optionally evaluated (`bone eval TASK
 * --adapter RUN/adapter --json`), and summarised over seeds (mean ± sample std): trainable
 * parameters, final train loss, held-out loss, eval accuracy, median step time, peak RSS. Runs
 * are child `bone` processes (this binary); each run directory records its exact command in
 * compare-run.json, so a finished run with the same command is reused, an unfinished one is
 * resumed (`bone train --resume`), and a changed command is refused. Writes DIR/compare.md,
 * DIR/compare.json and DIR/loss.svg (mean train loss per method with a ±1 std band). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli/args.h"
#include "cli/cmds.h"
#include "core/fs.h"
#include "io/json.h"

extern char **environ;

static const char *USAGE =
    "SPEC.json --out DIR [--dry-run]\n\n"
    "Trains every method of SPEC with every seed at equal steps, data order and token budget,\n"
    "evaluates each run if SPEC names an eval, and writes DIR/compare.md, DIR/compare.json (per run\n"
    "and mean ± std over seeds: trainable parameters, final and held-out loss, accuracy, step time,\n"
    "peak RSS) and DIR/loss.svg (mean loss per method with a ±1 std band). Finished runs are\n"
    "reused and interrupted ones resumed: run the same command again. SPEC:\n"
    "  {\"model\": DIR, \"data\": FILE, \"eval_data\": FILE (optional), \"seeds\": [1, 2, 3],\n"
    "   \"train\": [common bone train options, e.g. \"--steps\", \"20\", \"--batch\", \"4\"],\n"
    "   \"methods\": [{\"name\": \"bone-col b16\", \"train\": [\"--method\", \"bone-col\", \"--block\", \"16\"]}, ...],\n"
    "   \"eval\": {\"task\": \"arith\", \"args\": [\"--n\", \"50\"]} (optional)}\n\n"
    "example:\n"
    "  bone compare configs/compare/ci.json --out cmp";

typedef struct {
    char *name;
    cJSON *args;  /* this method's train options */
} method;

typedef struct {
    int ok;
    double final_loss, eval_loss, acc, step_s, rss_mib;
    int64_t trainable, steps;
    double *curve; /* (steps) train loss per step */
} run_res;

static char *slug(const char *s) {
    char *o = xstrdup(s);
    for (char *p = o; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
            *p = '_';
    return o;
}

/* argv from strings; NULL-terminated, caller frees the array (not the strings) */
static int spawn_wait(char *const *argv, const char *log, double *rss_mib, bone_err *e) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int r = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r) return bone_fail(e, "starting %s %s: %s", argv[0], argv[1], strerror(r));
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR) return bone_fail(e, "wait: %s", strerror(errno));
    if (rss_mib) *rss_mib = (double)ru.ru_maxrss / 1024.0;
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        return bone_fail(e, "`bone %s` failed (%s %d); see %s%s", argv[1], WIFEXITED(st) ? "exit" : "signal",
                         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), log,
                         WIFEXITED(st) && WEXITSTATUS(st) == 130 ? " (interrupted: run the same command to resume)" : "");
    return 0;
}

static char **argv_of(cJSON *arr) {
    int n = cJSON_GetArraySize(arr);
    char **a = xcalloc((size_t)n + 1, sizeof *a);
    for (int i = 0; i < n; i++) a[i] = cJSON_GetArrayItem(arr, i)->valuestring;
    return a;
}

static void add_strs(cJSON *arr, const cJSON *src) {
    const cJSON *x;
    cJSON_ArrayForEach(x, src) cJSON_AddItemToArray(arr, cJSON_CreateString(x->valuestring));
}

static int str_array(const cJSON *a) {
    if (!cJSON_IsArray(a)) return 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, a) if (!cJSON_IsString(x)) return 0;
    return 1;
}

static cJSON *read_json(const char *path, bone_err *e) {
    char *buf;
    size_t n;
    if (bone_read_file(path, &buf, &n, e)) return NULL;
    cJSON *j = bone_json_parse(buf, n, path, e);
    free(buf);
    return j;
}

/* fills r from DIR/metrics.jsonl and DIR/run.json */
static int read_run(const char *dir, run_res *r, bone_err *e) {
    char path[4400];
    snprintf(path, sizeof path, "%s/run.json", dir);
    cJSON *rj = read_json(path, e);
    if (!rj) return -1;
    const cJSON *tp = cJSON_GetObjectItemCaseSensitive(rj, "trainable_params");
    r->trainable = cJSON_IsNumber(tp) ? (int64_t)tp->valuedouble : -1;
    cJSON_Delete(rj);
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    char *buf;
    size_t n;
    if (bone_read_file(path, &buf, &n, e)) return -1;
    int64_t cap = 0;
    double prev_el = 0, *dts = NULL;
    int64_t ndt = 0;
    r->eval_loss = NAN;
    for (char *p = buf; p < buf + n;) {
        char *nl = memchr(p, '\n', (size_t)(buf + n - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(buf + n - p);
        cJSON *o = l ? bone_json_parse(p, l, path, e) : NULL;
        p += l + 1;
        if (!o) continue;
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "step"), *lo = cJSON_GetObjectItemCaseSensitive(o, "loss");
        const cJSON *el = cJSON_GetObjectItemCaseSensitive(o, "elapsed_s"), *ev = cJSON_GetObjectItemCaseSensitive(o, "eval_loss");
        if (cJSON_IsNumber(st) && cJSON_IsNumber(lo)) {
            int64_t s = (int64_t)st->valuedouble;
            if (s >= cap) {
                int64_t nc = s + 64;
                r->curve = xrealloc(r->curve, (size_t)nc * sizeof *r->curve);
                dts = xrealloc(dts, (size_t)nc * sizeof *dts);
                for (int64_t k = cap; k < nc; k++) r->curve[k] = NAN;
                cap = nc;
            }
            if (s >= 1) r->curve[s - 1] = lo->valuedouble;
            if (s > r->steps) r->steps = s;
            r->final_loss = lo->valuedouble;
            if (cJSON_IsNumber(el)) {
                if (s > 1 && !cJSON_IsNumber(ev)) dts[ndt++] = el->valuedouble - prev_el; /* no eval in this step */
                prev_el = el->valuedouble;
            }
        }
        if (cJSON_IsNumber(ev)) r->eval_loss = ev->valuedouble;
        cJSON_Delete(o);
    }
    free(buf);
    /* median step time */
    for (int64_t i = 1; i < ndt; i++)
        for (int64_t k = i; k > 0 && dts[k - 1] > dts[k]; k--) {
            double t = dts[k];
            dts[k] = dts[k - 1];
            dts[k - 1] = t;
        }
    r->step_s = ndt ? (ndt % 2 ? dts[ndt / 2] : 0.5 * (dts[ndt / 2 - 1] + dts[ndt / 2])) : (r->steps ? prev_el / (double)r->steps : NAN);
    free(dts);
    if (!r->steps) return bone_fail(e, "%s: no steps", path);
    return 0;
}

static void mean_std(const double *x, int n, double *m, double *s) {
    double a = 0, b = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i])) { a += x[i]; k++; }
    *m = k ? a / k : NAN;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i])) b += (x[i] - *m) * (x[i] - *m);
    *s = k > 1 ? sqrt(b / (k - 1)) : NAN; /* no spread from one value */
}

static void fmt_pm(char *buf, size_t cap, double m, double s, const char *f) {
    if (isnan(m)) { snprintf(buf, cap, "–"); return; }
    char a[32], b[32];
    snprintf(a, sizeof a, f, m);
    if (isnan(s)) { snprintf(buf, cap, "%s", a); return; }
    snprintf(b, sizeof b, f, s);
    snprintf(buf, cap, "%s ± %s", a, b);
}

static const char *const COLORS[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                     "#bcbd22", "#17becf"};

/* mean train loss per method with a ±1 std band */
static int write_svg(const char *path, method *M, int nm, run_res *R, int ns, bone_err *e) {
    int64_t T = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < nm * ns; i++) if (R[i].ok && R[i].steps > T) T = R[i].steps;
    double *mu = xcalloc((size_t)(nm * (T + 1)), sizeof *mu), *sd = xcalloc((size_t)(nm * (T + 1)), sizeof *sd);
    double *tmp = xmalloc((size_t)(ns + 1) * sizeof *tmp);
    for (int m = 0; m < nm; m++)
        for (int64_t t = 0; t < T; t++) {
            for (int s = 0; s < ns; s++) {
                run_res *r = &R[m * ns + s];
                tmp[s] = r->ok && t < r->steps ? r->curve[t] : NAN;
            }
            mean_std(tmp, ns, &mu[m * T + t], &sd[m * T + t]);
            if (isnan(sd[m * T + t])) sd[m * T + t] = 0; /* one seed: no band */
            double a = mu[m * T + t] - sd[m * T + t], b = mu[m * T + t] + sd[m * T + t];
            if (!isnan(a) && a < lo) lo = a;
            if (!isnan(b) && b > hi) hi = b;
        }
    free(tmp);
    if (!(hi > lo)) { hi = lo + 1; }
    const double W = 720, H = 440, L = 60, Rm = 200, Tp = 30, B = 45;
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%g\" y=\"18\" font-size=\"14\">train loss, mean over seeds ± 1 std</text>\n", L);
#define X(t) (L + (W - L - Rm) * ((T > 1) ? (double)(t) / (double)(T - 1) : 0.5))
#define Y(v) (Tp + (H - Tp - B) * (1 - ((v) - lo) / (hi - lo)))
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#888\"/>\n", L, Tp, W - L - Rm,
            H - Tp - B);
    for (int k = 0; k <= 4; k++) {
        double v = lo + (hi - lo) * k / 4;
        fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.3g</text>\n", L - 4, Y(v) + 4, v);
    }
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">1</text>\n", X(0), H - B + 16);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%lld</text>\n", X(T - 1), H - B + 16, (long long)T);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">optimizer step</text>\n", (L + W - Rm) / 2, H - 10);
    for (int m = 0; m < nm; m++) {
        const char *c = COLORS[m % 10];
        fprintf(f, "<polygon fill=\"%s\" fill-opacity=\"0.15\" stroke=\"none\" points=\"", c);
        for (int64_t t = 0; t < T; t++)
            if (!isnan(mu[m * T + t])) fprintf(f, "%.1f,%.1f ", X(t), Y(mu[m * T + t] + sd[m * T + t]));
        for (int64_t t = T - 1; t >= 0; t--)
            if (!isnan(mu[m * T + t])) fprintf(f, "%.1f,%.1f ", X(t), Y(mu[m * T + t] - sd[m * T + t]));
        fprintf(f, "\"/>\n<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", c);
        for (int64_t t = 0; t < T; t++)
            if (!isnan(mu[m * T + t])) fprintf(f, "%.1f,%.1f ", X(t), Y(mu[m * T + t]));
        fprintf(f, "\"/>\n<rect x=\"%g\" y=\"%g\" width=\"14\" height=\"3\" fill=\"%s\"/>\n", W - Rm + 12, Tp + 8 + 18.0 * m, c);
        fprintf(f, "<text x=\"%g\" y=\"%g\">", W - Rm + 30, Tp + 13 + 18.0 * m);
        for (const char *p = M[m].name; *p; p++) /* XML-escape the label */
            fputs(*p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '&' ? "&amp;" : (char[2]){*p, 0}, f);
        fprintf(f, "</text>\n");
    }
#undef X
#undef Y
    fprintf(f, "</svg>\n");
    fclose(f);
    free(mu);
    free(sd);
    int rc = bone_write_file_atomic(path, s, n, e);
    free(s);
    return rc;
}

int cmd_compare(int argc, char **argv) {
    const char *out = NULL;
    int dry = 0;
    bone_opt opts[] = {
        {"out", OPT_STR, &out, "output directory (runs/, compare.md, compare.json, loss.svg)", 0},
        {"dry-run", OPT_FLAG, &dry, "print the commands, run nothing", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[1];
    int npos;
    int r = bone_args_parse("compare", USAGE, opts, argc, argv, pos, 1, &npos);
    if (r) return r < 0 ? 0 : r;
    if (npos != 1 || !out) return bone_usage_error("compare", "give SPEC.json and --out DIR");
    bone_err e;
    cJSON *spec = read_json(pos[0], &e);
    if (!spec) {
        fprintf(stderr, "bone compare: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(spec, "model"), *jd = cJSON_GetObjectItemCaseSensitive(spec, "data");
    const cJSON *jed = cJSON_GetObjectItemCaseSensitive(spec, "eval_data"), *jt = cJSON_GetObjectItemCaseSensitive(spec, "train");
    const cJSON *jms = cJSON_GetObjectItemCaseSensitive(spec, "methods"), *jsd = cJSON_GetObjectItemCaseSensitive(spec, "seeds");
    const cJSON *jev = cJSON_GetObjectItemCaseSensitive(spec, "eval");
    const cJSON *jevt = jev ? cJSON_GetObjectItemCaseSensitive(jev, "task") : NULL;
    const cJSON *jeva = jev ? cJSON_GetObjectItemCaseSensitive(jev, "args") : NULL;
    int bad = !cJSON_IsString(jm) || !cJSON_IsString(jd) || (jed && !cJSON_IsString(jed)) || (jt && !str_array(jt)) ||
              !cJSON_IsArray(jms) || cJSON_GetArraySize(jms) < 1 || !cJSON_IsArray(jsd) || cJSON_GetArraySize(jsd) < 1 ||
              (jev && (!cJSON_IsString(jevt) || (jeva && !str_array(jeva))));
    const cJSON *x;
    cJSON_ArrayForEach(x, jsd) if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble != floor(x->valuedouble)) bad = 1;
    int nm = cJSON_IsArray(jms) ? cJSON_GetArraySize(jms) : 0, ns = cJSON_IsArray(jsd) ? cJSON_GetArraySize(jsd) : 0;
    method *M = xcalloc((size_t)(nm + 1), sizeof *M);
    for (int i = 0; i < nm && !bad; i++) {
        const cJSON *o = cJSON_GetArrayItem(jms, i), *n = cJSON_GetObjectItemCaseSensitive(o, "name");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "train");
        if (!cJSON_IsString(n) || !str_array(a)) bad = 1;
        else M[i] = (method){n->valuestring, (cJSON *)a};
        for (int k = 0; k < i && !bad; k++)
            if (!strcmp(M[k].name, M[i].name)) bad = 1;
    }
    if (bad) {
        fprintf(stderr, "bone compare: %s: expected {\"model\": string, \"data\": string, \"eval_data\"?: string, "
                        "\"seeds\": [non-negative integers], \"train\"?: [strings], \"methods\": [{\"name\": unique "
                        "string, \"train\": [strings]}, ...], \"eval\"?: {\"task\": string, \"args\"?: [strings]}}\n", pos[0]);
        free(M);
        cJSON_Delete(spec);
        return BONE_EXIT_RUNTIME;
    }
    int rc = BONE_EXIT_RUNTIME;
    run_res *R = xcalloc((size_t)(nm * ns), sizeof *R);
    cJSON *runs_json = cJSON_CreateArray();
    if (!dry && bone_mkdirs(out, &e)) goto fail;
    for (int mi = 0; mi < nm; mi++)
        for (int si = 0; si < ns; si++) {
            int64_t seed = (int64_t)cJSON_GetArrayItem(jsd, si)->valuedouble;
            char *sl = slug(M[mi].name), dir[4200], rec[4300], log[4300], sd[32];
            snprintf(dir, sizeof dir, "%s/runs/%s/seed-%lld", out, sl, (long long)seed);
            free(sl);
            snprintf(rec, sizeof rec, "%s/compare-run.json", dir);
            snprintf(log, sizeof log, "%s/compare.log", dir);
            snprintf(sd, sizeof sd, "%lld", (long long)seed);
            /* the exact train command */
            cJSON *cmd = cJSON_CreateArray();
            const char *fixed[] = {"bone", "train", "--model", jm->valuestring, "--data", jd->valuestring, "--out", dir,
                                   "--seed", sd, "--quiet"};
            for (size_t k = 0; k < sizeof fixed / sizeof *fixed; k++) cJSON_AddItemToArray(cmd, cJSON_CreateString(fixed[k]));
            if (jed) {
                cJSON_AddItemToArray(cmd, cJSON_CreateString("--eval-data"));
                cJSON_AddItemToArray(cmd, cJSON_CreateString(jed->valuestring));
            }
            if (jt) add_strs(cmd, jt);
            add_strs(cmd, M[mi].args);
            cJSON *ecmd = NULL;
            if (jev) {
                ecmd = cJSON_CreateArray();
                char ad[4300];
                snprintf(ad, sizeof ad, "%s/adapter", dir);
                const char *ef[] = {"bone", "eval", jevt->valuestring, "--model", jm->valuestring, "--adapter", ad,
                                    "--json", "--quiet"};
                for (size_t k = 0; k < sizeof ef / sizeof *ef; k++) cJSON_AddItemToArray(ecmd, cJSON_CreateString(ef[k]));
                if (jeva) add_strs(ecmd, jeva);
            }
            if (dry) {
                char *a = cJSON_PrintUnformatted(cmd), *b = ecmd ? cJSON_PrintUnformatted(ecmd) : NULL;
                printf("%s\n%s%s", a, b ? b : "", b ? "\n" : "");
                free(a);
                free(b);
                cJSON_Delete(cmd);
                cJSON_Delete(ecmd);
                continue;
            }
            /* reuse, resume, or start */
            cJSON *old = bone_file_exists(rec) ? read_json(rec, &e) : NULL;
            int finished = 0;
            double rss = NAN, acc = NAN;
            if (old) {
                const cJSON *oc = cJSON_GetObjectItemCaseSensitive(old, "train"), *oe = cJSON_GetObjectItemCaseSensitive(old, "eval");
                if (!cJSON_Compare(oc, cmd, 1) || (ecmd && oe && !cJSON_Compare(oe, ecmd, 1))) {
                    bone_fail(&e, "%s was made by another command (see %s); use another --out or remove that run", dir, rec);
                    cJSON_Delete(old);
                    cJSON_Delete(cmd);
                    cJSON_Delete(ecmd);
                    goto fail;
                }
                finished = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(old, "finished")) &&
                           (!ecmd || cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(old, "accuracy")));
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(old, "peak_rss_mib");
                if (cJSON_IsNumber(v)) rss = v->valuedouble;
                v = cJSON_GetObjectItemCaseSensitive(old, "accuracy");
                if (cJSON_IsNumber(v)) acc = v->valuedouble;
            }
            cJSON_Delete(old);
            if (!finished) {
                char cp[4300];
                snprintf(cp, sizeof cp, "%s/checkpoints", dir);
                int resume = bone_is_dir(cp);
                if (bone_mkdirs(dir, &e)) goto fail_run;
                cJSON *recj = cJSON_CreateObject();
                cJSON_AddItemToObject(recj, "train", cJSON_Duplicate(cmd, 1));
                if (ecmd) cJSON_AddItemToObject(recj, "eval", cJSON_Duplicate(ecmd, 1));
                cJSON_AddBoolToObject(recj, "finished", 0);
                char *t = cJSON_Print(recj);
                int w = bone_write_file_atomic(rec, t, strlen(t), &e);
                free(t);
                cJSON_Delete(recj);
                if (w) goto fail_run;
                cJSON *tc = cJSON_Duplicate(cmd, 1);
                cJSON_AddItemToArray(tc, cJSON_CreateString(resume ? "--resume" : "--overwrite"));
                fprintf(stderr, "compare: %s, seed %lld: %s\n", M[mi].name, (long long)seed, resume ? "resuming" : "training");
                char **av = argv_of(tc);
                int sr = spawn_wait(av, log, &rss, &e);
                free(av);
                cJSON_Delete(tc);
                if (sr) goto fail_run;
                if (ecmd) {
                    char elog[4300];
                    snprintf(elog, sizeof elog, "%s/compare-eval.out", dir);
                    unlink(elog);
                    av = argv_of(ecmd);
                    sr = spawn_wait(av, elog, NULL, &e);
                    free(av);
                    if (sr) goto fail_run;
                    /* the last line of the eval output is its --json line */
                    char *eb;
                    size_t en;
                    if (bone_read_file(elog, &eb, &en, &e)) goto fail_run;
                    while (en && eb[en - 1] == '\n') eb[--en] = 0;
                    char *ll = strrchr(eb, '\n');
                    cJSON *ej = bone_json_parse(ll ? ll + 1 : eb, strlen(ll ? ll + 1 : eb), elog, &e);
                    free(eb);
                    const cJSON *a = ej ? cJSON_GetObjectItemCaseSensitive(ej, "accuracy") : NULL;
                    if (!a) a = ej ? cJSON_GetObjectItemCaseSensitive(ej, "pass@1") : NULL;
                    if (!cJSON_IsNumber(a)) {
                        if (ej) bone_fail(&e, "%s: no \"accuracy\" or \"pass@1\" in the eval's JSON line", elog);
                        cJSON_Delete(ej);
                        goto fail_run;
                    }
                    acc = a->valuedouble;
                    cJSON_Delete(ej);
                }
                recj = cJSON_CreateObject();
                cJSON_AddItemToObject(recj, "train", cJSON_Duplicate(cmd, 1));
                if (ecmd) cJSON_AddItemToObject(recj, "eval", cJSON_Duplicate(ecmd, 1));
                cJSON_AddBoolToObject(recj, "finished", 1);
                cJSON_AddNumberToObject(recj, "peak_rss_mib", rss);
                if (ecmd) cJSON_AddNumberToObject(recj, "accuracy", acc);
                t = cJSON_Print(recj);
                w = bone_write_file_atomic(rec, t, strlen(t), &e);
                free(t);
                cJSON_Delete(recj);
                if (w) goto fail_run;
            } else {
                fprintf(stderr, "compare: %s, seed %lld: reusing the finished run\n", M[mi].name, (long long)seed);
            }
            run_res *rr = &R[mi * ns + si];
            if (read_run(dir, rr, &e)) goto fail_run;
            rr->ok = 1;
            rr->rss_mib = rss;
            rr->acc = acc;
            cJSON *rj = cJSON_CreateObject();
            cJSON_AddStringToObject(rj, "method", M[mi].name);
            cJSON_AddNumberToObject(rj, "seed", (double)seed);
            cJSON_AddStringToObject(rj, "dir", dir);
            cJSON_AddNumberToObject(rj, "trainable_params", (double)rr->trainable);
            cJSON_AddNumberToObject(rj, "steps", (double)rr->steps);
            cJSON_AddNumberToObject(rj, "final_loss", rr->final_loss);
            if (!isnan(rr->eval_loss)) cJSON_AddNumberToObject(rj, "eval_loss", rr->eval_loss);
            if (!isnan(rr->acc)) cJSON_AddNumberToObject(rj, "accuracy", rr->acc);
            cJSON_AddNumberToObject(rj, "step_s", rr->step_s);
            if (!isnan(rss)) cJSON_AddNumberToObject(rj, "peak_rss_mib", rss);
            cJSON_AddItemToArray(runs_json, rj);
            cJSON_Delete(cmd);
            cJSON_Delete(ecmd);
            continue;
        fail_run:
            cJSON_Delete(cmd);
            cJSON_Delete(ecmd);
            goto fail;
        }
    if (dry) { rc = 0; goto done; }
    {
        /* the table */
        char *md = NULL;
        size_t mdn = 0;
        FILE *f = open_memstream(&md, &mdn);
        cJSON *summary = cJSON_CreateArray();
        fprintf(f, "| method | trainable params | final train loss | held-out loss | accuracy | step time (s) | peak RSS (MiB) |\n"
                   "|---|---:|---:|---:|---:|---:|---:|\n");
        double *v = xmalloc((size_t)ns * sizeof *v);
        for (int mi = 0; mi < nm; mi++) {
            run_res *rr = &R[mi * ns];
            double m[5], s[5];
            for (int q = 0; q < 5; q++) {
                for (int si = 0; si < ns; si++)
                    v[si] = q == 0 ? rr[si].final_loss : q == 1 ? rr[si].eval_loss : q == 2 ? rr[si].acc
                          : q == 3 ? rr[si].step_s : rr[si].rss_mib;
                mean_std(v, ns, &m[q], &s[q]);
            }
            char c[5][80];
            fmt_pm(c[0], 80, m[0], s[0], "%.4f");
            fmt_pm(c[1], 80, m[1], s[1], "%.4f");
            fmt_pm(c[2], 80, m[2], s[2], "%.3f");
            fmt_pm(c[3], 80, m[3], s[3], "%.3f");
            fmt_pm(c[4], 80, m[4], s[4], "%.0f");
            fprintf(f, "| %s | %lld | %s | %s | %s | %s | %s |\n", M[mi].name, (long long)rr[0].trainable, c[0], c[1], c[2],
                    c[3], c[4]);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "method", M[mi].name);
            cJSON_AddNumberToObject(o, "trainable_params", (double)rr[0].trainable);
            cJSON_AddNumberToObject(o, "seeds", ns);
            static const char *keys[] = {"final_loss", "eval_loss", "accuracy", "step_s", "peak_rss_mib"};
            for (int q = 0; q < 5; q++)
                if (!isnan(m[q])) {
                    char k[64];
                    snprintf(k, sizeof k, "%s_mean", keys[q]);
                    cJSON_AddNumberToObject(o, k, m[q]);
                    snprintf(k, sizeof k, "%s_std", keys[q]);
                    if (!isnan(s[q])) cJSON_AddNumberToObject(o, k, s[q]);
                }
            cJSON_AddItemToArray(summary, o);
        }
        free(v);
        fprintf(f, "\n%d seed(s) per method (mean ± sample std); spec %s; loss curves: loss.svg\n", ns, pos[0]);
        fclose(f);
        char p[4200];
        snprintf(p, sizeof p, "%s/compare.md", out);
        int w = bone_write_file_atomic(p, md, mdn, &e);
        fputs(md, stdout);
        free(md);
        cJSON *all = cJSON_CreateObject();
        cJSON_AddItemToObject(all, "spec", cJSON_Duplicate(spec, 1));
        cJSON_AddItemToObject(all, "summary", summary);
        cJSON_AddItemToObject(all, "runs", runs_json);
        runs_json = NULL;
        char *t = cJSON_Print(all);
        cJSON_Delete(all);
        snprintf(p, sizeof p, "%s/compare.json", out);
        if (!w) w = bone_write_file_atomic(p, t, strlen(t), &e);
        free(t);
        snprintf(p, sizeof p, "%s/loss.svg", out);
        if (!w) w = write_svg(p, M, nm, R, ns, &e);
        if (w) goto fail;
        printf("wrote %s/compare.md, %s/compare.json, %s/loss.svg\n", out, out, out);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bone compare: %s\n", e.msg);
done:
    for (int i = 0; i < nm * ns; i++) free(R[i].curve);
    free(R);
    free(M);
    cJSON_Delete(runs_json);
    cJSON_Delete(spec);
    return rc;
}
