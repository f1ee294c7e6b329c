/* blas_env.h — make sure OpenBLAS runs its best kernel for this CPU.
 *
 * Debian's OpenBLAS 0.3.21 does not recognise recent Intel CPUs and silently falls back
 * to its SSE3 "Prescott" kernels (~5× slower sgemm). At start-up, when the user has not
 * set OPENBLAS_CORETYPE and the library picked a kernel far below what the CPU supports,
 * we set OPENBLAS_CORETYPE and re-execute ourselves once (the library reads it only when it
 * loads). The same re-exec carries the thread count and wait policy of threads.h, which the
 * OpenMP runtime also reads only when it loads. bone_blas_describe() says which kernel,
 * how many threads and which wait policy are in use, and why. */
#ifndef BONE_CORE_BLAS_ENV_H
#define BONE_CORE_BLAS_ENV_H
#include <stddef.h>

/* Call first thing in main(). Returns only if no re-exec was needed (or it failed). */
void bone_blas_fix_kernel(char **argv);
/* e.g. "OpenBLAS kernel Zen, 2 threads (affinity 2 CPUs, no cgroup quota; set by bone),
 * wait policy passive (set by bone)" */
void bone_blas_describe(char *buf, size_t cap);

#endif
