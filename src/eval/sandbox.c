/* sandbox.c — containment for running untrusted Python programs (see sandbox.h for what is in
 * force and why). The child side (between fork and execve) uses raw system calls only. */
#include "eval/sandbox.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Landlock's stable user-space ABI (linux/landlock.h), spelled out so that building does not
 * need a recent kernel header; the system calls exist where SYS_landlock_* is defined. */
#define LL_CREATE_RULESET_VERSION (1u << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_FS_WRITE_FILE (1ull << 1)
#define LL_FS_REMOVE_DIR (1ull << 4)
#define LL_FS_REMOVE_FILE (1ull << 5)
#define LL_FS_MAKE_CHAR (1ull << 6)
#define LL_FS_MAKE_DIR (1ull << 7)
#define LL_FS_MAKE_REG (1ull << 8)
#define LL_FS_MAKE_SOCK (1ull << 9)
#define LL_FS_MAKE_FIFO (1ull << 10)
#define LL_FS_MAKE_BLOCK (1ull << 11)
#define LL_FS_MAKE_SYM (1ull << 12)
#define LL_FS_REFER (1ull << 13)    /* ABI 2 */
#define LL_FS_TRUNCATE (1ull << 14) /* ABI 3 */
#define LL_NET_BIND_TCP (1ull << 0)   /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ull << 1)
struct ll_ruleset_attr { uint64_t handled_access_fs, handled_access_net; };
struct ll_path_beneath_attr { uint64_t allowed_access; int32_t parent_fd; } __attribute__((packed));

static int ll_abi(void) {
#ifdef SYS_landlock_create_ruleset
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
    return v > 0 ? (int)v : 0;
#else
    return 0;
#endif
}

static uint64_t ll_fs_writes(int abi) {
    uint64_t a = LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_CHAR | LL_FS_MAKE_DIR |
                 LL_FS_MAKE_REG | LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO | LL_FS_MAKE_BLOCK | LL_FS_MAKE_SYM;
    if (abi >= 2) a |= LL_FS_REFER;
    if (abi >= 3) a |= LL_FS_TRUNCATE;
    return a;
}

/* A ruleset allowing writes beneath dir only (and, with block_tcp, no TCP at all); -1 on failure. */
static int ll_ruleset(int abi, const char *dir, int block_tcp) {
#ifdef SYS_landlock_create_ruleset
    struct ll_ruleset_attr ra = {ll_fs_writes(abi), block_tcp && abi >= 4 ? LL_NET_BIND_TCP | LL_NET_CONNECT_TCP : 0};
    size_t sz = ra.handled_access_net ? sizeof ra : sizeof ra.handled_access_fs;
    int rs = (int)syscall(SYS_landlock_create_ruleset, &ra, sz, 0);
    if (rs < 0) return -1;
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct ll_path_beneath_attr pb = {ll_fs_writes(abi), dfd};
    if (dfd < 0 || syscall(SYS_landlock_add_rule, rs, LL_RULE_PATH_BENEATH, &pb, 0)) {
        if (dfd >= 0) close(dfd);
        close(rs);
        return -1;
    }
    close(dfd);
    return rs;
#else
    (void)abi; (void)dir; (void)block_tcp;
    return -1;
#endif
}

/* which unshare flags work here: tried in a throw-away child */
static int try_unshare(int flags) {
    pid_t p = fork();
    if (p < 0) return 0;
    if (p == 0) _exit(unshare(flags) == 0 ? 0 : 1);
    int st;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* As root the programs run as nobody, who must be able to reach their temporary directory:
 * every ancestor of the temporary root must be searchable by others (a root-owned 0700 folder
 * such as mktemp -d's, or /root, would make every sample fail with "Permission denied"). */
static int reachable_by_others(const char *root, bone_err *e) {
    char path[4096];
    if (realpath(root, path) == NULL) return bone_fail(e, "TMPDIR %s: %s", root, strerror(errno));
    for (size_t n = strlen(path);;) {
        struct stat st;
        if (stat(path, &st)) return bone_fail(e, "TMPDIR %s: %s: %s", root, path, strerror(errno));
        if (!(st.st_mode & S_IXOTH))
            return bone_fail(e, "TMPDIR %s: %s is not searchable by others (mode %03o), so the programs, run as "
                                "nobody, could not reach their files; set TMPDIR to a directory such as /tmp",
                             root, path, (unsigned)(st.st_mode & 0777));
        char *slash = strrchr(path, '/');
        if (!slash || slash == path) {
            if (n > 1 && stat("/", &st) == 0 && !(st.st_mode & S_IXOTH))
                return bone_fail(e, "TMPDIR %s: / is not searchable by others", root);
            break;
        }
        *slash = 0;
        n = (size_t)(slash - path);
    }
    return 0;
}

int bone_sandbox_init(bone_sandbox *sb, bone_err *e) {
    memset(sb, 0, sizeof *sb);
    sb->python = "/usr/bin/python3";
    const char *t = getenv("TMPDIR");
    sb->tmp_root = t && *t ? t : "/tmp";
    sb->timeout_s = 10;
    sb->mem_bytes = 1ll << 30;
    sb->nproc = 64;
    sb->fsize = 16ll << 20;
    sb->root = geteuid() == 0;
    sb->drop_uid = 65534;
    sb->drop_gid = 65534;
    if (sb->root) {
        struct passwd pw, *res = NULL;
        char buf[1024];
        if (!getpwnam_r("nobody", &pw, buf, sizeof buf, &res) && res) {
            sb->drop_uid = pw.pw_uid;
            sb->drop_gid = pw.pw_gid;
        }
    }
    int user = sb->root ? 0 : CLONE_NEWUSER;
    if (try_unshare(user | CLONE_NEWNET | CLONE_NEWPID)) sb->netns = sb->pidns = 1;
    else if (try_unshare(user | CLONE_NEWNET)) sb->netns = 1;
    else if (try_unshare(user | CLONE_NEWPID)) sb->pidns = 1;
    sb->userns = !sb->root && (sb->netns || sb->pidns);
    sb->landlock_abi = ll_abi();
    if (access(sb->python, X_OK)) return bone_fail(e, "%s: cannot run it (%s); HumanEval needs Python 3", sb->python,
                                                    strerror(errno));
    if (sb->root && reachable_by_others(sb->tmp_root, e)) return -1;
    char lim[160];
    snprintf(lim, sizeof lim, "rlimits (address space %lld MiB, %lld processes, files %lld MiB, 64 open files)",
             (long long)(sb->mem_bytes >> 20), (long long)sb->nproc, (long long)(sb->fsize >> 20));
    snprintf(sb->describe, sizeof sb->describe,
             "own process group, fresh temporary directory, empty environment, %s, wall-clock limit; network: %s; "
             "processes: %s; user: %s; files: %s",
             lim, sb->netns ? "isolated (network namespace)"
                  : sb->landlock_abi >= 4 ? "NOT isolated (no network namespace here), TCP blocked by Landlock"
                                          : "NOT isolated (the kernel refused a network namespace)",
             sb->pidns ? "PID namespace (all killed with the program)" : "process group only (no PID namespace)",
             sb->root ? "root dropped to nobody" : sb->userns ? "unprivileged, in a user namespace" : "unprivileged (the caller's uid)",
             sb->landlock_abi ? "writes outside the temporary directory refused (Landlock)"
                              : "NO Landlock here; other files protected only by file permissions");
    return 0;
}

/* ---- temporary directory removal: never follows symlinks ---- */
static int chmod_cb(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)f;
    if (flag == FTW_D || flag == FTW_DNR) chmod(p, (st->st_mode & 07777) | S_IRWXU);
    return 0;
}
static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st; (void)f;
    if (flag == FTW_DP || flag == FTW_D || flag == FTW_DNR) rmdir(p);
    else unlink(p);
    return 0;
}
static void rm_tree(const char *dir) {
    nftw(dir, chmod_cb, 16, FTW_PHYS | FTW_MOUNT);
    nftw(dir, rm_cb, 16, FTW_PHYS | FTW_MOUNT | FTW_DEPTH);
}

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* the last up-to cap-1 bytes of an open file */
static size_t read_tail(int fd, char *buf, size_t cap) {
    struct stat st;
    buf[0] = 0;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || cap < 2) return 0;
    off_t from = st.st_size > (off_t)(cap - 1) ? st.st_size - (off_t)(cap - 1) : 0;
    ssize_t n = pread(fd, buf, cap - 1, from);
    if (n < 0) n = 0;
    buf[n] = 0;
    return (size_t)n;
}

/* the child that becomes the program; raw system calls only (another thread may hold a lock) */
static void child_exec(const bone_sandbox *sb, const char *dir, int out_fd, int err_fd, int ll_fd, char *const argv[],
                       pid_t parent) {
    char *const envp[] = {NULL};
    int nul = open("/dev/null", O_RDONLY);
    if (nul < 0 || dup2(nul, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(126);
    struct rlimit rl;
    rlim_t cpu = (rlim_t)sb->timeout_s + 1;
    rl = (struct rlimit){cpu, cpu + 1};
    setrlimit(RLIMIT_CPU, &rl);
    rl = (struct rlimit){(rlim_t)sb->mem_bytes, (rlim_t)sb->mem_bytes};
    setrlimit(RLIMIT_AS, &rl);
    rl = (struct rlimit){(rlim_t)sb->nproc, (rlim_t)sb->nproc};
    setrlimit(RLIMIT_NPROC, &rl);
    rl = (struct rlimit){(rlim_t)sb->fsize, (rlim_t)sb->fsize};
    setrlimit(RLIMIT_FSIZE, &rl);
    rl = (struct rlimit){64, 64};
    setrlimit(RLIMIT_NOFILE, &rl);
    rl = (struct rlimit){0, 0};
    setrlimit(RLIMIT_CORE, &rl);
    if (chdir(dir)) _exit(126);
    if (sb->root) { /* root ignores RLIMIT_NPROC and may write anything: become nobody */
        if (setgroups(0, NULL) || setgid(sb->drop_gid) || setuid(sb->drop_uid)) _exit(126);
        if (setuid(0) == 0) _exit(126); /* the drop must be irreversible */
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) _exit(126);
#ifdef SYS_landlock_restrict_self
    if (ll_fd >= 0 && syscall(SYS_landlock_restrict_self, ll_fd, 0)) _exit(126);
#else
    (void)ll_fd;
#endif
    /* after the uid change, which clears it: die with our parent (the namespace's init) */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent) _exit(126);
    execve(argv[0], argv, envp);
    _exit(127);
}

/* C2: pid 1 of the PID namespace (an init that stays as it is: root's when bone runs as root,
 * so the program, as nobody, cannot signal it; the kernel ignores signals to a namespace's init
 * from inside it anyway). It starts the program, reaps whatever gets orphaned, and exits with
 * the program's status, which kills everything else in the namespace. */
static void sandbox_init_proc(const bone_sandbox *sb, const char *dir, int ofd, int efd, int ll, char *const argv[]) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    pid_t me = getpid(); /* 1 inside a new PID namespace */
    pid_t q = fork();
    if (q < 0) _exit(125);
    if (q == 0) child_exec(sb, dir, ofd, efd, ll, argv, me);
    for (;;) {
        int st;
        pid_t w = waitpid(-1, &st, 0);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) _exit(125);
        if (w == q) _exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st)); /* a signal reads as 128+N */
    }
}

int bone_sandbox_run(const bone_sandbox *sb, const char *program, bone_sandbox_result *r, bone_err *e) {
    memset(r, 0, sizeof *r);
    char dir[4096];
    if ((size_t)snprintf(dir, sizeof dir, "%s/bone-sandbox-XXXXXX", sb->tmp_root) >= sizeof dir)
        return bone_fail(e, "temporary directory path too long");
    if (!mkdtemp(dir)) return bone_fail(e, "mkdtemp %s: %s", dir, strerror(errno));
    /* the token printed after the tests: random per run */
    unsigned char rnd[16];
    char token[40];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (unsigned char)(rand() ^ (int)(uintptr_t)r ^ (int)i);
    }
    for (size_t i = 0; i < sizeof rnd; i++) snprintf(token + 2 * i, 3, "%02x", rnd[i]);
    char prog_path[4200], out_path[4200], err_path[4200];
    snprintf(prog_path, sizeof prog_path, "%s/program.py", dir);
    snprintf(out_path, sizeof out_path, "%s/.stdout", dir);
    snprintf(err_path, sizeof err_path, "%s/.stderr", dir);
    int rc = -1, pfd = -1, ofd = -1, efd = -1, ll = -1, pipefd[2] = {-1, -1};
    pfd = open(prog_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    ofd = open(out_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    efd = open(err_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (pfd < 0 || ofd < 0 || efd < 0) {
        bone_fail(e, "creating files in %s: %s", dir, strerror(errno));
        goto out;
    }
    char tail[160];
    snprintf(tail, sizeof tail, "\nimport sys as _bone_sys\n_bone_sys.stdout.write('\\n%s\\n')\n_bone_sys.stdout.flush()\n",
             token);
    if (write_all(pfd, program, strlen(program)) || write_all(pfd, tail, strlen(tail))) {
        bone_fail(e, "writing %s: %s", prog_path, strerror(errno));
        goto out;
    }
    close(pfd);
    pfd = -1;
    if (sb->root && chown(dir, sb->drop_uid, sb->drop_gid)) {
        bone_fail(e, "chown %s to nobody: %s", dir, strerror(errno));
        goto out;
    }
    if (sb->landlock_abi && (ll = ll_ruleset(sb->landlock_abi, dir, !sb->netns)) < 0) {
        bone_fail(e, "Landlock ruleset for %s: %s", dir, strerror(errno));
        goto out;
    }
    if (pipe2(pipefd, O_CLOEXEC)) {
        bone_fail(e, "pipe: %s", strerror(errno));
        goto out;
    }
    char *argv[] = {(char *)sb->python, "-I", "-B", "program.py", NULL};
    int user = sb->root ? 0 : CLONE_NEWUSER;
    int flags = (sb->netns || sb->pidns ? user : 0) | (sb->netns ? CLONE_NEWNET : 0) | (sb->pidns ? CLONE_NEWPID : 0);
    double t0;
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t0 = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    }
    pid_t c1 = fork();
    if (c1 < 0) {
        bone_fail(e, "fork: %s", strerror(errno));
        goto out;
    }
    if (c1 == 0) {
        /* C1: session leader of the program's group, owner of its namespaces */
        close(pipefd[0]);
        setsid();
        if (flags && unshare(flags)) _exit(125);
        pid_t c2 = fork(); /* pid 1 of the new PID namespace */
        int64_t msg = c2;
        write_all(pipefd[1], (const char *)&msg, sizeof msg);
        if (c2 < 0) _exit(125);
        if (c2 == 0) sandbox_init_proc(sb, dir, ofd, efd, ll, argv);
        int st;
        while (waitpid(c2, &st, 0) < 0)
            if (errno != EINTR) _exit(125);
        _exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st)); /* a signal reads as 128+N */
    }
    close(pipefd[1]);
    pipefd[1] = -1;
    int64_t c2 = 0;
    {
        struct pollfd pf = {pipefd[0], POLLIN, 0};
        if (poll(&pf, 1, 5000) == 1 && read(pipefd[0], &c2, sizeof c2) != (ssize_t)sizeof c2) c2 = 0;
    }
    int st = 0, done = 0;
    struct timespec nap = {0, 1000000};
    for (;;) {
        pid_t w = waitpid(c1, &st, WNOHANG);
        if (w == c1) { done = 1; break; }
        if (w < 0 && errno != EINTR) break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
        if (now - t0 > sb->timeout_s) {
            r->timed_out = 1;
            if (c2 > 0) kill((pid_t)c2, SIGKILL); /* pid 1 of the namespace: takes every process in it along */
            kill(-c1, SIGKILL);
            while (waitpid(c1, &st, 0) < 0 && errno == EINTR) {}
            done = 1;
            break;
        }
        nanosleep(&nap, NULL);
        if (nap.tv_nsec < 20000000) nap.tv_nsec += 1000000;
    }
    kill(-c1, SIGKILL); /* anything left in the group (without a PID namespace) */
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r->seconds = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec - t0;
    }
    char out[256], err[sizeof r->err_tail];
    size_t no = read_tail(ofd, out, sizeof out);
    read_tail(efd, err, sizeof err);
    snprintf(r->err_tail, sizeof r->err_tail, "%s", err);
    r->exit_code = -1;
    if (!done) snprintf(r->reason, sizeof r->reason, "failed: lost the child (%s)", strerror(errno));
    else if (r->timed_out) snprintf(r->reason, sizeof r->reason, "timed out (%.0f s)", sb->timeout_s);
    else if (WIFSIGNALED(st)) {
        r->signal = WTERMSIG(st);
        snprintf(r->reason, sizeof r->reason, "failed: killed by signal %d", r->signal);
    } else if (WEXITSTATUS(st) > 128) {
        r->signal = WEXITSTATUS(st) - 128;
        snprintf(r->reason, sizeof r->reason, "failed: killed by signal %d", r->signal);
    } else {
        r->exit_code = WEXITSTATUS(st);
        /* the last line of stdout must be the token */
        while (no && out[no - 1] == '\n') out[--no] = 0;
        const char *last = strrchr(out, '\n');
        last = last ? last + 1 : out;
        if (r->exit_code == 125 || r->exit_code == 126)
            snprintf(r->reason, sizeof r->reason, "failed: sandbox setup in the child (exit %d)", r->exit_code);
        else if (r->exit_code) snprintf(r->reason, sizeof r->reason, "failed: exit %d", r->exit_code);
        else if (strcmp(last, token)) snprintf(r->reason, sizeof r->reason, "failed: exited 0 before the tests ended");
        else {
            r->passed = 1;
            snprintf(r->reason, sizeof r->reason, "passed");
        }
    }
    rc = 0;
out:
    if (pfd >= 0) close(pfd);
    if (ofd >= 0) close(ofd);
    if (efd >= 0) close(efd);
    if (ll >= 0) close(ll);
    if (pipefd[0] >= 0) close(pipefd[0]);
    if (pipefd[1] >= 0) close(pipefd[1]);
    rm_tree(dir);
    return rc;
}
