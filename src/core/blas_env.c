/* blas_env.c — OpenBLAS kernel check and one-time re-exec (see blas_env.h). */
#include "core/blas_env.h"
#include "core/threads.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *openblas_get_corename(void);

/* kernels that use at most SSE/AVX1: a fallback on a CPU with AVX2 or AVX-512 */
static int is_generic(const char *core) {
    static const char *const slow[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Katmai",
                                       "Coppermine", "Northwood", "Banias", "Atom", "Sandybridge", "Barcelona",
                                       "Opteron", "Bobcat", "Generic", NULL};
    for (int i = 0; slow[i]; i++)
        if (!strcasecmp(core, slow[i])) return 1;
    return 0;
}

static const char *best_kernel(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

void bone_blas_fix_kernel(char **argv) {
    if (getenv("BONE_REEXEC")) return; /* this is the re-executed process: stop here */
    const char *core = openblas_get_corename();
    const char *want = best_kernel();
    int kernel = !getenv("OPENBLAS_CORETYPE") && core && want && is_generic(core);
    if (kernel) {
        setenv("OPENBLAS_CORETYPE", want, 1);
        setenv("BONE_BLAS_REEXEC", core, 1); /* remembers what the library chose */
    }
    int threads = bone_threads_env(); /* OMP_NUM_THREADS / OMP_WAIT_POLICY, see threads.h */
    if (!kernel && !threads) return;
    setenv("BONE_REEXEC", "1", 1); /* one re-exec at most */
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with what the runtimes read at load time, but say so */
    if (kernel)
        fprintf(stderr, "bone: warning: OpenBLAS chose its generic %s kernel and re-executing with "
                        "OPENBLAS_CORETYPE=%s failed; dense products will be several times slower\n", core, want);
    if (kernel) unsetenv("OPENBLAS_CORETYPE");
    unsetenv("BONE_BLAS_REEXEC");
    /* the runtime keeps what it read at load time: take back what bone set, so that the
     * description does not present it as the user's */
    char set[128];
    snprintf(set, sizeof set, "%s", getenv("BONE_THREADS_SET") ? getenv("BONE_THREADS_SET") : "");
    if (strstr(set, "OMP_NUM_THREADS")) unsetenv("OMP_NUM_THREADS");
    if (strstr(set, "OMP_WAIT_POLICY")) unsetenv("OMP_WAIT_POLICY");
    unsetenv("BONE_THREADS_SET");
    unsetenv("BONE_REEXEC");
}

void bone_blas_describe(char *buf, size_t cap) {
    const char *core = openblas_get_corename();
    const char *was = getenv("BONE_BLAS_REEXEC");
    char thr[384];
    bone_threads_describe(thr, sizeof thr);
    if (was && getenv("OPENBLAS_CORETYPE"))
        snprintf(buf, cap, "OpenBLAS kernel %s (OPENBLAS_CORETYPE set by bone: the library chose %s), %s", core, was,
                 thr);
    else if (getenv("OPENBLAS_CORETYPE"))
        snprintf(buf, cap, "OpenBLAS kernel %s (OPENBLAS_CORETYPE=%s from the environment), %s", core,
                 getenv("OPENBLAS_CORETYPE"), thr);
    else
        snprintf(buf, cap, "OpenBLAS kernel %s%s, %s", core,
                 is_generic(core) && best_kernel() ? " (a generic kernel on a CPU that supports more: slow)" : "",
                 thr);
}
