/* blas_env.h — make sure OpenBLAS runs its best kernel for this CPU.
 *
 * Debian's OpenBLAS 0.3.21 does not recognise recent Intel CPUs and silently falls back
 * to its SSE3 "Prescott" kernels (~5× slower sgemm). At start-up, when the user has not
 * set OPENBLAS_CORETYPE and the library picked a kernel far below what the CPU supports,
 * we set OPENBLAS_CORETYPE and re-execute ourselves once (the library reads it only when it
 * loads). bone_blas_describe() says which kernel is in use and why. */
#ifndef BONE_CORE_BLAS_ENV_H
#define BONE_CORE_BLAS_ENV_H
#include <stddef.h>

/* Call first thing in main(). Returns only if no re-exec was needed (or it failed). */
void bone_blas_fix_kernel(char **argv);
/* e.g. "OpenBLAS kernel SkylakeX (OPENBLAS_CORETYPE set by bone: the library chose Prescott), 2 threads" */
void bone_blas_describe(char *buf, size_t cap);

#endif
