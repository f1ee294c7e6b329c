/* gemm_backends.c — the GEMM backends side by side (ops/backend.h) on the shapes:
 * OpenBLAS fp32 against oneDNN fp32, the weight handed to oneDNN as a strided (transposed)
 * descriptor every call vs reordered once into its preferred layout (a "pack"), for the
 * forward product y = x·Wᵀ ('T') and the input gradient dx = dy·W ('N'); and oneDNN bf16 where
 * the CPU has it (otherwise it says why and skips). Variants alternate within each repetition,
 * the median of the repetitions is reported, so machine load hits all alike.
 * usage: bench_gemm_backends [REPS] [MxNxK ...]   (default 3 reps, the four shapes of issue 17)
 * Built with the tests (build/tests/ops/bench_gemm_backends); not a test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ops/backend.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static int cmp_d(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define MAXREP 16
enum { V_BLAS, V_DNN, V_DNN_PACK, V_BF16, V_BF16_PACK, NV };
static const char *const vname[NV] = {"openblas fp32", "onednn fp32 strided", "onednn fp32 packed", "onednn bf16 strided",
                                      "onednn bf16 packed"};

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    if (reps < 1 || reps > MAXREP) reps = 3;
    int64_t shapes[16][3] = {{1024, 4096, 4096}, {1024, 11008, 4096}, {512, 4096, 11008}, {1024, 1376, 512}};
    int ns = 4;
    if (argc > 2) {
        ns = 0;
        for (int i = 2; i < argc && ns < 16; i++) {
            long long a, b, c;
            if (sscanf(argv[i], "%lldx%lldx%lld", &a, &b, &c) == 3) shapes[ns][0] = a, shapes[ns][1] = b, shapes[ns++][2] = c;
        }
    }
    bone_backend *be[NV] = {0};
    bone_err e;
    bone_backend_open_kind(BONE_BE_OPENBLAS, &be[V_BLAS], &e);
    printf("openblas: %s\n", be[V_BLAS]->desc);
    if (bone_backend_open_kind(BONE_BE_ONEDNN_F32, &be[V_DNN], &e)) printf("SKIP oneDNN fp32: %s\n", e.msg);
    else printf("onednn-fp32: %s\n", be[V_DNN]->desc);
    be[V_DNN_PACK] = be[V_DNN];
    if (bone_backend_open_kind(BONE_BE_ONEDNN_BF16, &be[V_BF16], &e)) printf("SKIP oneDNN bf16: %s\n", e.msg);
    else printf("onednn-bf16: %s\n", be[V_BF16]->desc);
    be[V_BF16_PACK] = be[V_BF16];
    printf("%d repetitions, median; GFLOP/s = 2·M·N·K / time\n\n", reps);
    printf("%-20s %-3s %-22s %9s %9s %12s %10s\n", "shape MxNxK", "op", "variant", "ms", "GFLOP/s", "vs openblas",
           "pack MiB");
    for (int s = 0; s < ns; s++) {
        const int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *X = malloc((size_t)(M * (K > N ? K : N)) * sizeof(float));
        float *W = malloc((size_t)(N * K) * sizeof(float));
        float *C = malloc((size_t)(M * (K > N ? K : N)) * sizeof(float));
        for (int64_t i = 0; i < M * (K > N ? K : N); i++) X[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
        for (int64_t i = 0; i < N * K; i++) W[i] = (float)((i * 40503u) % 1000) * 1e-3f - 0.5f;
        for (int t = 0; t < 2; t++) { /* 'T': C (M,N) = X (M,K)·Wᵀ, W (N,K);  'N': C (M,K) = X (M,N)·W */
            const char tw = t ? 'N' : 'T';
            const int64_t n = tw == 'T' ? N : K, k = tw == 'T' ? K : N;
            void *pack[NV] = {0};
            double tms[NV][MAXREP], pack_s[NV] = {0};
            for (int r = -1; r < reps; r++) /* r = -1: warm-up (primitive creation, packing) */
                for (int v = 0; v < NV; v++) {
                    if (!be[v]) continue;
                    const int packed = v == V_DNN_PACK || v == V_BF16_PACK;
                    const double t0 = now_s();
                    if (v == V_BLAS) bone_gemm(be[v], 'N', tw, M, n, k, 1.0f, X, k, W, K, 0.0f, C, n);
                    else bone_matmul_w(be[v], tw, M, n, k, 1.0f, X, k, (bone_wref){BONE_F32, W}, K,
                                       packed ? &pack[v] : NULL, 0.0f, C, n);
                    const double dt = now_s() - t0;
                    if (r < 0) pack_s[v] = dt;
                    else tms[v][r] = dt;
                }
            double base = 0;
            for (int v = 0; v < NV; v++) {
                if (!be[v]) continue;
                qsort(tms[v], (size_t)reps, sizeof(double), cmp_d);
                const double med = tms[v][reps / 2];
                if (v == V_BLAS) base = med;
                char shp[32];
                snprintf(shp, sizeof shp, "%lldx%lldx%lld", (long long)M, (long long)N, (long long)K);
                printf("%-20s %-3c %-22s %9.1f %9.1f %11.2fx %10.1f", shp, tw, vname[v], 1e3 * med,
                       2.0 * (double)M * (double)n * (double)k / med * 1e-9, base / med,
                       (double)bone_pack_bytes(be[v], pack[v]) / 1048576.0);
                if (pack[v]) printf("   (first call incl. packing %.1f ms; W is %.1f MiB)", 1e3 * pack_s[v],
                                    (double)(N * K) * 4.0 / 1048576.0);
                printf("\n");
                bone_pack_free(be[v], pack[v]);
            }
            fflush(stdout);
        }
        free(X), free(W), free(C);
    }
    bone_backend_free(be[V_BLAS]);
    bone_backend_free(be[V_DNN]);
    bone_backend_free(be[V_BF16]);
    return 0;
}
