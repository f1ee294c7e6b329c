/* dist.c — the data-parallel world (see dist.h): the only file of bone that calls MPI. Built
 * with MPI when CMake found it (BONE_MPI defined); otherwise every function is the world of
 * one process. */
#include "train/dist.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bone_dist_launched_size(void) {
    /* Open MPI's mpirun, MPICH/Hydra and Slurm's PMI(2), and srun itself */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1) return atoi(v);
    }
    return 1;
}

/* floats per collective call: BONE_DIST_CHUNK, or the environment's (tests use a small one so
 * that the chunked paths run on a tiny model) */
static int64_t chunk_floats(void) {
    const char *v = getenv("BONE_DIST_CHUNK");
    long long c = v ? atoll(v) : 0;
    return c >= 16 && c <= BONE_DIST_CHUNK ? (int64_t)c : BONE_DIST_CHUNK;
}

int64_t bone_dist_nchunks(const bone_dist *d, int64_t n) { return n <= 0 ? 0 : (n + d->chunk - 1) / d->chunk; }

/* rank r's part of a chunk of cnt elements: [cnt·r/N, cnt·(r+1)/N) */
static int64_t part_lo(int64_t cnt, int r, int N) { return cnt * r / N; }

int64_t bone_dist_parts(const bone_dist *d, int rank, int64_t n, int64_t *lohi) {
    int64_t k = 0;
    for (int64_t c0 = 0; c0 < n; c0 += d->chunk) {
        int64_t cnt = n - c0 < d->chunk ? n - c0 : d->chunk;
        int64_t lo = part_lo(cnt, rank, d->size), hi = part_lo(cnt, rank + 1, d->size);
        if (hi > lo) {
            lohi[2 * k] = c0 + lo;
            lohi[2 * k + 1] = c0 + hi;
            k++;
        }
    }
    return k;
}

#ifdef BONE_MPI
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

/* The watchdog: `since` is the monotonic time (ns) at which the current blocking collective
 * began, 0 when none is in progress. */
struct bone_dist_watch {
    pthread_t th;
    atomic_llong since;
    atomic_int stop;
    const char *_Atomic op;
    int rank, size;
    double timeout_s;
};

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void *watch_main(void *arg) {
    bone_dist_watch *w = arg;
    while (!atomic_load(&w->stop)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        long long s = atomic_load(&w->since);
        if (s && (double)(now_ns() - s) * 1e-9 > w->timeout_s) {
            /* MPI may not be called from this thread (MPI_THREAD_FUNNELED): the process ends,
             * and mpirun ends the others when it sees one rank exit without MPI_Finalize */
            fprintf(stderr, "bone train: rank %d of %d: %s waited more than %g s for the other ranks "
                            "(--comm-timeout): a rank hung or died; aborting\n",
                    w->rank, w->size, atomic_load(&w->op), w->timeout_s);
            fflush(stderr);
            _exit(1);
        }
    }
    return NULL;
}

static void watch_begin(bone_dist *d, const char *op) {
    if (!d->watch) return;
    atomic_store(&d->watch->op, op);
    atomic_store(&d->watch->since, now_ns());
}
static void watch_end(bone_dist *d) {
    if (d->watch) atomic_store(&d->watch->since, 0);
}

int bone_dist_built(void) { return 1; }

int bone_dist_init(bone_dist *d, int *argc, char ***argv, double timeout_s, bone_err *e) {
    memset(d, 0, sizeof *d);
    d->size = 1;
    d->local_size = 1;
    d->timeout_s = timeout_s;
    d->chunk = chunk_floats();
    if (bone_dist_launched_size() <= 1) return 0; /* one process: no MPI at all */
    int prov = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &prov) != MPI_SUCCESS)
        return bone_fail(e, "MPI_Init_thread failed (launched by mpirun/srun with %d ranks)", bone_dist_launched_size());
    d->mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &d->local_size);
    MPI_Comm_free(&node);
    if (d->size > 1 && timeout_s > 0) {
        d->watch = xcalloc(1, sizeof *d->watch);
        d->watch->rank = d->rank;
        d->watch->size = d->size;
        d->watch->timeout_s = timeout_s;
        atomic_store(&d->watch->op, "");
        if (pthread_create(&d->watch->th, NULL, watch_main, d->watch) != 0) {
            free(d->watch);
            d->watch = NULL;
            return bone_fail(e, "rank %d: cannot start the --comm-timeout watchdog thread", d->rank);
        }
    }
    return 0;
}

void bone_dist_finalize(bone_dist *d, int abort_code) {
    if (d->watch) {
        atomic_store(&d->watch->stop, 1);
        pthread_join(d->watch->th, NULL);
        free(d->watch);
        d->watch = NULL;
    }
    if (!d->mpi) return;
    if (abort_code) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, abort_code);
    }
    MPI_Finalize();
    d->mpi = 0;
}

void bone_dist_exchange(bone_dist *d, const bone_dist_msg *mine, bone_dist_msg *all, const char *what) {
    all[d->rank] = *mine;
    if (d->size == 1) return;
    const int N = d->size, tag = 0x6b0e;
    MPI_Request *req = xmalloc((size_t)(2 * N) * sizeof *req);
    int nreq = 0;
    for (int r = 0; r < N; r++) {
        if (r == d->rank) continue;
        MPI_Irecv(&all[r], (int)sizeof *all, MPI_BYTE, r, tag, MPI_COMM_WORLD, &req[nreq++]);
    }
    for (int r = 0; r < N; r++) {
        if (r == d->rank) continue;
        MPI_Isend(&all[d->rank], (int)sizeof *all, MPI_BYTE, r, tag, MPI_COMM_WORLD, &req[nreq++]);
    }
    d->bytes_sent += (uint64_t)(N - 1) * sizeof *all;
    const long long t0 = now_ns();
    int done = 0;
    while (!done) {
        MPI_Testall(nreq, req, &done, MPI_STATUSES_IGNORE);
        if (done) break;
        if (d->timeout_s > 0 && (double)(now_ns() - t0) * 1e-9 > d->timeout_s) {
            /* the receives are the first N-1 requests, in rank order without this one */
            char who[512] = "";
            size_t w = 0;
            int k = 0, missing = 0;
            for (int r = 0; r < N; r++) {
                if (r == d->rank) continue;
                int flag = 0;
                MPI_Test(&req[k++], &flag, MPI_STATUS_IGNORE);
                if (!flag && w + 16 < sizeof who) {
                    w += (size_t)snprintf(who + w, sizeof who - w, "%s%d", missing ? ", " : "", r);
                    missing++;
                }
            }
            fprintf(stderr, "bone train: rank %d of %d: rank%s %s did not reach %s within %g s (--comm-timeout): hung "
                            "or dead; aborting the job\n", d->rank, N, missing > 1 ? "s" : "", who, what, d->timeout_s);
            fflush(stderr);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        struct timespec ts = {0, 50 * 1000};
        nanosleep(&ts, NULL);
    }
    free(req);
}

/* counts and displacements of one chunk of cnt elements */
static void chunk_split(const bone_dist *d, int64_t cnt, int *counts, int *displs) {
    for (int r = 0; r < d->size; r++) {
        displs[r] = (int)part_lo(cnt, r, d->size);
        counts[r] = (int)(part_lo(cnt, r + 1, d->size) - part_lo(cnt, r, d->size));
    }
}

void bone_dist_sum_f32(bone_dist *d, float *buf, int64_t n) {
    if (d->size == 1 || n <= 0) return;
    int *counts = xmalloc((size_t)d->size * sizeof(int)), *displs = xmalloc((size_t)d->size * sizeof(int));
    const int64_t big = n < d->chunk ? n : d->chunk; /* the largest chunk; a rank's part is at most big/N + 1 */
    float *scratch = xmalloc((size_t)(big / d->size + 1) * sizeof(float));
    watch_begin(d, "the gradient all-reduce");
    for (int64_t c0 = 0; c0 < n; c0 += d->chunk) {
        int64_t cnt = n - c0 < d->chunk ? n - c0 : d->chunk;
        chunk_split(d, cnt, counts, displs);
        /* each element is summed once, by its owner, then sent to all: the same bits everywhere */
        MPI_Reduce_scatter(buf + c0, scratch, counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        MPI_Allgatherv(scratch, counts[d->rank], MPI_FLOAT, buf + c0, counts, displs, MPI_FLOAT, MPI_COMM_WORLD);
        /* ring model: (N-1)/N of the chunk out in each phase */
        d->bytes_sent += 2 * (uint64_t)(cnt - counts[d->rank]) * sizeof(float);
    }
    watch_end(d);
    free(scratch);
    free(counts);
    free(displs);
}

void bone_dist_allgather_f32(bone_dist *d, float *buf, int64_t n) {
    if (d->size == 1 || n <= 0) return;
    int *counts = xmalloc((size_t)d->size * sizeof(int)), *displs = xmalloc((size_t)d->size * sizeof(int));
    watch_begin(d, "the parameter all-gather");
    for (int64_t c0 = 0; c0 < n; c0 += d->chunk) {
        int64_t cnt = n - c0 < d->chunk ? n - c0 : d->chunk;
        chunk_split(d, cnt, counts, displs);
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf + c0, counts, displs, MPI_FLOAT, MPI_COMM_WORLD);
        d->bytes_sent += (uint64_t)(cnt - counts[d->rank]) * sizeof(float);
    }
    watch_end(d);
    free(counts);
    free(displs);
}

void bone_dist_gather_shards(bone_dist *d, const float *shard, float *full, int64_t n) {
    if (d->size == 1) {
        if (n > 0) memcpy(full, shard, (size_t)n * sizeof(float));
        return;
    }
    int *counts = xmalloc((size_t)d->size * sizeof(int)), *displs = xmalloc((size_t)d->size * sizeof(int));
    watch_begin(d, "the checkpoint gather");
    int64_t off = 0;
    for (int64_t c0 = 0; c0 < n; c0 += d->chunk) {
        int64_t cnt = n - c0 < d->chunk ? n - c0 : d->chunk;
        chunk_split(d, cnt, counts, displs);
        MPI_Gatherv(shard + off, counts[d->rank], MPI_FLOAT, d->rank == 0 ? full + c0 : NULL, counts, displs,
                    MPI_FLOAT, 0, MPI_COMM_WORLD);
        off += counts[d->rank];
    }
    watch_end(d);
    free(counts);
    free(displs);
}

void bone_dist_scatter_shards(bone_dist *d, const float *full, float *shard, int64_t n) {
    if (d->size == 1) {
        if (n > 0) memcpy(shard, full, (size_t)n * sizeof(float));
        return;
    }
    int *counts = xmalloc((size_t)d->size * sizeof(int)), *displs = xmalloc((size_t)d->size * sizeof(int));
    watch_begin(d, "the checkpoint scatter");
    int64_t off = 0;
    for (int64_t c0 = 0; c0 < n; c0 += d->chunk) {
        int64_t cnt = n - c0 < d->chunk ? n - c0 : d->chunk;
        chunk_split(d, cnt, counts, displs);
        MPI_Scatterv(d->rank == 0 ? full + c0 : NULL, counts, displs, MPI_FLOAT, shard + off, counts[d->rank],
                     MPI_FLOAT, 0, MPI_COMM_WORLD);
        off += counts[d->rank];
    }
    watch_end(d);
    free(counts);
    free(displs);
}

void bone_dist_bcast(bone_dist *d, void *buf, size_t bytes) {
    if (d->size == 1) return;
    watch_begin(d, "a broadcast from rank 0");
    const size_t step = (size_t)1 << 30;
    for (size_t o = 0; o < bytes; o += step) {
        size_t k = bytes - o < step ? bytes - o : step;
        MPI_Bcast((char *)buf + o, (int)k, MPI_BYTE, 0, MPI_COMM_WORLD);
    }
    watch_end(d);
}

#else /* a world of one process */

int bone_dist_built(void) { return 0; }

int bone_dist_init(bone_dist *d, int *argc, char ***argv, double timeout_s, bone_err *e) {
    (void)argc;
    (void)argv;
    memset(d, 0, sizeof *d);
    d->size = 1;
    d->local_size = 1;
    d->timeout_s = timeout_s;
    d->chunk = chunk_floats();
    int n = bone_dist_launched_size();
    if (n > 1)
        return bone_fail(e, "launched as %d ranks (mpirun/srun), but this bone was built without MPI: each rank would "
                            "train alone and all would write the same --out. Install libopenmpi-dev and rebuild (CMake "
                            "finds it; -DBONE_MPI=OFF turns it off), or run one process", n);
    return 0;
}

void bone_dist_finalize(bone_dist *d, int abort_code) { (void)d, (void)abort_code; }

void bone_dist_exchange(bone_dist *d, const bone_dist_msg *mine, bone_dist_msg *all, const char *what) {
    (void)what;
    all[d->rank] = *mine;
}
void bone_dist_sum_f32(bone_dist *d, float *buf, int64_t n) { (void)d, (void)buf, (void)n; }
void bone_dist_allgather_f32(bone_dist *d, float *buf, int64_t n) { (void)d, (void)buf, (void)n; }
void bone_dist_gather_shards(bone_dist *d, const float *shard, float *full, int64_t n) {
    (void)d;
    if (n > 0) memcpy(full, shard, (size_t)n * sizeof(float));
}
void bone_dist_scatter_shards(bone_dist *d, const float *full, float *shard, int64_t n) {
    (void)d;
    if (n > 0) memcpy(shard, full, (size_t)n * sizeof(float));
}
void bone_dist_bcast(bone_dist *d, void *buf, size_t bytes) { (void)d, (void)buf, (void)bytes; }

#endif
