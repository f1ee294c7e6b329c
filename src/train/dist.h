/* dist.h — the data-parallel world of a training run: rank, size and the few collectives the
 * trainer needs. Every MPI call of bone is in dist.c; a build without MPI (-DBONE_MPI=OFF, or
 * no MPI found) gets a world of one process, and a launch under mpirun/srun with more than one
 * rank is refused there ("built without MPI") instead of running N independent copies.
 *
 * Reductions are deterministic and give every rank the same bits: a float buffer is summed by
 * reduce-scatter (each element is summed once, at its owner) followed by an all-gather; small
 * double vectors are all-gathered and added in rank order on every rank. Large buffers go in
 * chunks of BONE_DIST_CHUNK floats (int counts of MPI; a test can lower it through the
 * environment variable of that name). Within a chunk, rank r owns elements [cnt·r/N, cnt·(r+1)/N)
 * — the ZeRO-1 shard of the optimizer moments is the union of a rank's parts of every chunk.
 *
 * Hangs: every blocking collective is watched by a thread that, past --comm-timeout seconds,
 * prints which operation on which rank stopped and ends the process (mpirun then ends the others).
 * The per-step status exchange is point-to-point with a deadline, so the message names the
 * ranks that never arrived. */
#ifndef BONE_TRAIN_DIST_H
#define BONE_TRAIN_DIST_H
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

#define BONE_DIST_CHUNK ((int64_t)1 << 26) /* floats per collective call (256 MiB) */
#define BONE_DIST_TEXT 240                 /* bytes of a status message */

typedef struct bone_dist_watch bone_dist_watch;

typedef struct bone_dist {
    int rank, size;
    int local_size;      /* ranks on this node */
    double timeout_s;    /* --comm-timeout */
    int64_t chunk;       /* floats per collective call */
    int mpi;             /* MPI was initialised (and must be finalised) */
    int agreed;          /* the run failed on every rank alike (after an exchange): no abort needed */
    uint64_t bytes_sent; /* payload bytes this rank handed to collectives (bench figure) */
    bone_dist_watch *watch;
} bone_dist;

/* One rank's status in an exchange: what went wrong (status != 0, text = the message), flags
 * to OR (a signal arrived), and numbers to sum (loss, token counts). */
typedef struct bone_dist_msg {
    int32_t status;
    int32_t flags;
    double val[4];
    char text[BONE_DIST_TEXT];
} bone_dist_msg;

/* Whether this binary was built with MPI. */
int bone_dist_built(void);
/* World size the launcher announced in the environment (OMPI_COMM_WORLD_SIZE, PMI_SIZE,
 * PMIX_SIZE... ), 1 when not launched by one. */
int bone_dist_launched_size(void);
/* Starts the world (MPI_Init_thread when launched with more than one rank; a world of one
 * otherwise). Fails on a multi-rank launch of a build without MPI. */
int bone_dist_init(bone_dist *d, int *argc, char ***argv, double timeout_s, bone_err *e);
/* A failed run ends with abort = 1: MPI_Abort, so no rank waits for one that left. */
void bone_dist_finalize(bone_dist *d, int abort_code);

/* Every rank's msg in all[0..size) (the same on every rank). Past the timeout the ranks that did
 * not send are named on stderr and the job is aborted. */
void bone_dist_exchange(bone_dist *d, const bone_dist_msg *mine, bone_dist_msg *all, const char *what);
/* buf (n floats, every rank) := the sum over ranks, identical on every rank */
void bone_dist_sum_f32(bone_dist *d, float *buf, int64_t n);
/* Rank r's parts of buf (see above) are sent to every rank: buf becomes the same everywhere. */
void bone_dist_allgather_f32(bone_dist *d, float *buf, int64_t n);
/* The elements rank `rank` owns in buf[0..n), as (lo, hi) pairs: at most one per chunk. Returns
 * the number of pairs written to lohi (capacity 2·bone_dist_nchunks). */
int64_t bone_dist_nchunks(const bone_dist *d, int64_t n);
int64_t bone_dist_parts(const bone_dist *d, int rank, int64_t n, int64_t *lohi);
/* ZeRO-1 moments: full (n floats, only read/written on rank 0) <-> shard (this rank's parts,
 * concatenated). gather: every rank's shard into rank 0's full; scatter: the reverse. */
void bone_dist_gather_shards(bone_dist *d, const float *shard, float *full, int64_t n);
void bone_dist_scatter_shards(bone_dist *d, const float *full, float *shard, int64_t n);
/* bytes from rank 0 to every rank */
void bone_dist_bcast(bone_dist *d, void *buf, size_t bytes);

#endif
