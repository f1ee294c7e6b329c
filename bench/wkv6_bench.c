/* wkv6_bench.c — chunked vs sequential WKV6 (src/ops/wkv6.c), forward + backward, side by
 * side in one process: per round both forms run on the same resident inputs, in alternating
 * order (sequential first in even rounds), and the printed figure is the median over rounds
 * of the per-round ratio sequential/chunked, in wall time and in process CPU time (the sum
 * over threads: on a shared, overloaded machine the wall time mostly measures the other
 * jobs, CPU time much less so). Also checks that the two forms agree.
 *
 *   build/bench/wkv6_bench [B T C HS CHUNK ROUNDS]     (defaults 4 512 512 64 32 7)
 *
 * Issue 16's target: chunked ≥ 5× the sequential scan at C = 512, head size 64, T = 512, B = 4. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/rng.h"
#include "ops/rwkv6_ops.h"

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmpd(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const int64_t B = argc > 1 ? atoll(argv[1]) : 4, T = argc > 2 ? atoll(argv[2]) : 512,
                  C = argc > 3 ? atoll(argv[3]) : 512, hs = argc > 4 ? atoll(argv[4]) : 64,
                  L = argc > 5 ? atoll(argv[5]) : 32;
    const int rounds = argc > 6 ? atoi(argv[6]) : 7;
    if (B < 1 || T < 1 || hs < 1 || C % hs || L < 1 || rounds < 1 || rounds > 99) {
        fprintf(stderr, "usage: %s [B T C HS CHUNK ROUNDS]  (C a multiple of HS, 1 <= ROUNDS <= 99)\n", argv[0]);
        return 2;
    }
    const int64_t n = B * T * C;
    bone_rng g = bone_rng_seed(16, 0);
    float *in = malloc((size_t)(5 * n + C) * sizeof(float));
    float *r = in, *k = in + n, *v = in + 2 * n, *lw = in + 3 * n, *dy = in + 4 * n, *u = in + 5 * n;
    for (int64_t i = 0; i < 5 * n + C; i++) in[i] = (float)bone_rng_normal(&g);
    for (int64_t i = 0; i < n; i++) lw[i] = -expf((float)(4.0 * bone_rng_uniform(&g) - 5.0)); /* init-like decays */
    float *out[2];
    for (int f = 0; f < 2; f++) out[f] = calloc((size_t)(5 * n + C), sizeof(float));
    float *ws_seq = malloc(wkv6_seq_ws_floats(B, T, C, hs) * sizeof(float));
    float *ws_chk = malloc(wkv6_chunked_ws_floats(B, T, C, hs, L) * sizeof(float));
    double tf[2][99], tb[2][99], tc[2][99], ratio[99], ratio_f[99], ratio_c[99];
    for (int rd = 0; rd < rounds; rd++) {
        for (int o = 0; o < 2; o++) {
            const int f = (rd + o) % 2; /* 0 = sequential, 1 = chunked */
            float *y = out[f], *dr = y + n, *dk = y + 2 * n, *dv = y + 3 * n, *dl = y + 4 * n, *du = y + 5 * n;
            memset(dr, 0, (size_t)(4 * n + C) * sizeof(float));
            const double c0 = cpu_s();
            double t0 = omp_get_wtime();
            if (f == 0) wkv6_seq_forward(y, NULL, r, k, v, lw, u, NULL, B, T, C, hs);
            else wkv6_chunked_forward(y, NULL, r, k, v, lw, u, NULL, B, T, C, hs, L, ws_chk);
            double t1 = omp_get_wtime();
            if (f == 0) wkv6_seq_backward(dr, dk, dv, dl, du, NULL, dy, NULL, r, k, v, lw, u, NULL, B, T, C, hs, ws_seq);
            else wkv6_chunked_backward(dr, dk, dv, dl, du, NULL, dy, NULL, r, k, v, lw, u, NULL, B, T, C, hs, L, ws_chk);
            double t2 = omp_get_wtime();
            tc[f][rd] = cpu_s() - c0;
            tf[f][rd] = t1 - t0;
            tb[f][rd] = t2 - t1;
        }
        ratio[rd] = (tf[0][rd] + tb[0][rd]) / (tf[1][rd] + tb[1][rd]);
        ratio_f[rd] = tf[0][rd] / tf[1][rd];
        ratio_c[rd] = tc[0][rd] / tc[1][rd];
        printf("round %d: sequential %.1f ms (fwd %.1f + bwd %.1f), chunked %.1f ms (fwd %.1f + bwd %.1f), ratio %.2f (CPU %.0f / %.0f ms, ratio %.2f)\n",
               rd, 1e3 * (tf[0][rd] + tb[0][rd]), 1e3 * tf[0][rd], 1e3 * tb[0][rd], 1e3 * (tf[1][rd] + tb[1][rd]),
               1e3 * tf[1][rd], 1e3 * tb[1][rd], ratio[rd], 1e3 * tc[0][rd], 1e3 * tc[1][rd], ratio_c[rd]);
    }
    double maxd = 0, maxr = 0;
    for (int64_t i = 0; i < 5 * n + C; i++) {
        const double d = fabs((double)out[0][i] - out[1][i]);
        maxd = d > maxd ? d : maxd;
        maxr = fabs(out[0][i]) > maxr ? fabs(out[0][i]) : maxr;
    }
    qsort(ratio, (size_t)rounds, sizeof(double), cmpd);
    qsort(ratio_f, (size_t)rounds, sizeof(double), cmpd);
    qsort(ratio_c, (size_t)rounds, sizeof(double), cmpd);
    printf("wkv6 B=%lld T=%lld C=%lld hs=%lld chunk=%lld threads=%d: chunked/sequential speed, fwd+bwd, median of %d "
           "rounds: %.2fx wall (forward only %.2fx), %.2fx CPU time; max |difference| %.3g (largest value %.3g)\n",
           (long long)B, (long long)T, (long long)C, (long long)hs, (long long)L, omp_get_max_threads(), rounds,
           ratio[rounds / 2], ratio_f[rounds / 2], ratio_c[rounds / 2], maxd, maxr);
    free(in); free(out[0]); free(out[1]); free(ws_seq); free(ws_chk);
    return 0;
}
