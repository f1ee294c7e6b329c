/* sandbox.h — running untrusted Python (HumanEval completions) so that it cannot harm the
 * evaluator or the machine, as far as the kernel allows, and saying what was in force.
 *
 * Per program: a fresh temporary directory (removed afterwards, symlinks not followed) holding
 * the program; a child in its own session and process group; where the kernel allows, new
 * network and PID namespaces (unshare; with a user namespace when not root), so there is no
 * network (not even loopback) and everything the program starts dies with it; rlimits on CPU
 * time, address space, processes, file size, open files and core dumps; an empty environment
 * and stdin from /dev/null; when run as root, privileges dropped to `nobody` (the temporary
 * directory is handed to it); where the kernel has Landlock, writes anywhere but the
 * temporary directory refused (and TCP connect/bind when there is no network namespace and the
 * Landlock ABI has it); PR_SET_PDEATHSIG and a wall-clock limit after which the whole group (and
 * namespace) is killed. A program passes only if it exits 0 and its last stdout line is a random
 * token printed after the tests (so sys.exit(0)/os._exit(0) inside the completion fail).
 * This is a light sandbox: reading files the user `nobody` (or the caller) may read is not
 * prevented. Child code between fork and exec uses async-signal-safe calls only, so workers may
 * run programs from several threads at once. */
#ifndef BONE_EVAL_SANDBOX_H
#define BONE_EVAL_SANDBOX_H
#include <stdint.h>
#include <sys/types.h>
#include "core/err.h"

typedef struct bone_sandbox {
    /* settings (bone_sandbox_init fills defaults; change before use) */
    const char *python;   /* interpreter, default /usr/bin/python3 */
    const char *tmp_root; /* where temporary directories go: $TMPDIR or /tmp */
    double timeout_s;     /* wall clock per program (default 10) */
    int64_t mem_bytes;    /* RLIMIT_AS (default 1 GiB) */
    int64_t nproc;        /* RLIMIT_NPROC (default 64) */
    int64_t fsize;        /* RLIMIT_FSIZE (default 16 MiB) */
    /* what the probe found (bone_sandbox_init) */
    int root;             /* running as uid 0 */
    uid_t drop_uid;       /* nobody's uid/gid, when root */
    gid_t drop_gid;
    int netns, pidns, userns; /* namespaces that will be used */
    int landlock_abi;     /* 0 = no Landlock */
    char describe[600];   /* one line: what is in force and what is not */
} bone_sandbox;

typedef struct bone_sandbox_result {
    int passed;
    int timed_out;
    int exit_code;        /* -1 when killed by a signal */
    int signal;
    double seconds;
    char reason[96];      /* "passed", "failed: exit 1", "timed out", "killed by signal 9", ... */
    char err_tail[400];   /* the end of stderr (the traceback's last lines) */
} bone_sandbox_result;

/* Probes the kernel (in a throw-away child) and fills defaults and describe. */
int bone_sandbox_init(bone_sandbox *sb, bone_err *e);
/* Runs program (Python source) in the sandbox; r says what happened. Returns -1 only when the
 * sandbox itself could not be set up (no temporary directory, fork failed). Thread-safe. */
int bone_sandbox_run(const bone_sandbox *sb, const char *program, bone_sandbox_result *r, bone_err *e);

#endif
