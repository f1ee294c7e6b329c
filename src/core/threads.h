/* threads.h — how many OpenMP threads bone runs and how they wait, chosen before the
 * OpenMP runtime starts.
 *
 * libgomp reads OMP_NUM_THREADS, OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when it loads
 * (before main). Its defaults suit a machine bone has to itself: one thread per CPU in the
 * affinity mask, each spinning ~300,000 iterations at every barrier before it sleeps. On a
 * shared machine that spinning takes CPU time from the thread that still has work to do, and
 * a 0.07 s generation takes 0.5 s beside one busy process. So, unless the user set them:
 *   threads     = the CPUs this process may use: its affinity mask (sched_getaffinity),
 *                 capped by a cgroup CPU quota (v2 cpu.max, or v1 cpu.cfs_quota_us), rounded up;
 *   wait policy = passive (threads sleep at once when idle; bench/README.md has the numbers).
 * bone_threads_env() puts these in the environment; bone_blas_fix_kernel() (blas_env.c)
 * re-executes the program once so that the runtime reads them. OMP_NUM_THREADS,
 * OMP_WAIT_POLICY and GOMP_SPINCOUNT given by the user are kept as they are. */
#ifndef BONE_CORE_THREADS_H
#define BONE_CORE_THREADS_H
#include <stddef.h>

/* CPUs in the affinity mask, and the cgroup quota in CPUs (0 when there is none). */
int bone_threads_affinity(void);
double bone_threads_cgroup_quota(void);
/* The thread count bone picks when OMP_NUM_THREADS is unset: min(affinity, ceil(quota)), ≥ 1. */
int bone_threads_default(void);
/* Online CPUs of the machine, and the ranks of an MPI job on this node (launcher environment:
 * OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS, SLURM_NTASKS_PER_NODE; 1 otherwise). With L > 1
 * ranks the default above is also capped at CPUs/L, so that ranks × threads ≤ CPUs. */
int bone_threads_online(void);
int bone_threads_local_ranks(void);
/* Sets OMP_NUM_THREADS / OMP_WAIT_POLICY where the user did not, and records which it set
 * in BONE_THREADS_SET. Returns 1 if it changed the environment (a re-exec is needed). */
int bone_threads_env(void);
/* e.g. "2 threads (affinity 2 CPUs, no cgroup quota; set by bone), wait policy passive
 * (set by bone)" — short enough for the 256-byte lines of bone train and bone bench */
void bone_threads_describe(char *buf, size_t cap);

#endif
