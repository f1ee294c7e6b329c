/* evalgen.c — batched generation with progress for `bone eval`, and the statistics every eval
 * task reports (see evalgen.h). */
#include "eval/evalgen.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

double bone_now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void fmt_dur(double s, char *buf, size_t cap) {
    if (!(s >= 0) || s > 1e8) { snprintf(buf, cap, "?"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, cap, "%lds", t);
}

int bone_eval_generate(bone_model *m, bone_tokenizer *tok, const bone_evalgen *g, char *const *prompts, int64_t n,
                       const bone_gen_opts *o, const uint64_t *seeds, char **outs, int64_t *ntok, bone_err *e) {
    int64_t B = g->batch > 0 ? g->batch : 1, tokens = 0;
    double t0 = bone_now_s();
    for (int64_t i = 0; i < n; i += B) {
        int64_t nb = n - i < B ? n - i : B;
        int64_t *nt = xmalloc((size_t)nb * sizeof *nt);
        int rc = bone_generate_batch(m, tok, (const char *const *)(prompts + i), nb, o, seeds ? seeds + i : NULL,
                                     outs + i, nt, e);
        if (rc) {
            free(nt);
            for (int64_t j = 0; j < i; j++) free(outs[j]);
            return bone_wrap(e, "prompt %lld..%lld", (long long)i, (long long)(i + nb - 1));
        }
        for (int64_t j = 0; j < nb; j++) {
            tokens += nt[j];
            if (ntok) ntok[i + j] = nt[j];
        }
        free(nt);
        if (!g->quiet) {
            double el = bone_now_s() - t0, done = (double)(i + nb);
            char a[32], b[32];
            fmt_dur(el, a, sizeof a);
            fmt_dur(el / done * (double)(n - i - nb), b, sizeof b);
            fprintf(stderr, "%s: generated %lld/%lld, %.1f tokens/s, elapsed %s, ETA %s\n", g->what,
                    (long long)(i + nb), (long long)n, el > 0 ? (double)tokens / el : 0.0, a, b);
        }
    }
    return 0;
}

void bone_wilson95(int64_t k, int64_t n, double *lo, double *hi) {
    if (n <= 0) { *lo = 0; *hi = 1; return; }
    const double z = 1.959963984540054;
    double p = (double)k / (double)n, nn = (double)n, z2 = z * z;
    double c = (p + z2 / (2 * nn)) / (1 + z2 / nn);
    double h = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / (1 + z2 / nn);
    *lo = c - h < 0 ? 0 : c - h;
    *hi = c + h > 1 ? 1 : c + h;
}

double bone_pass_at_k(int64_t n, int64_t c, int64_t k) {
    if (n - c < k) return 1.0;
    /* 1 - prod_{i=n-c+1}^{n} (1 - k/i): no binomials, no overflow */
    double prod = 1.0;
    for (int64_t i = n - c + 1; i <= n; i++) prod *= 1.0 - (double)k / (double)i;
    return 1.0 - prod;
}
