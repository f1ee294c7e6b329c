/* fault_shim.c — an LD_PRELOAD library for the fault-injection tests: writes to chosen files
 * fail as on a full disk. Configured from the environment:
 *   BONE_FAULT_MATCH  substring of the path of files to fail (required; unset = inert)
 *   BONE_FAULT_AFTER  bytes those files may take in total before writes fail (default 0)
 *   BONE_FAULT_OP     "write" (default): fwrite/write fail with ENOSPC past the budget;
 *                     "fsync": fsync/fdatasync on those files fail with EIO
 * Files are tracked from fopen/fopen64/open/open64 by path. An interposer has to keep its
 * table of tracked streams in process-wide state: that state lives here and nowhere else. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TRACKED 64

static struct {
    FILE *f[MAX_TRACKED];
    int fd[MAX_TRACKED];
    size_t used; /* bytes written to matching files so far */
} g_fault = {.fd = {[0 ... MAX_TRACKED - 1] = -1}};

static int matches(const char *path) {
    const char *m = getenv("BONE_FAULT_MATCH");
    return m && *m && path && strstr(path, m);
}
static size_t budget(void) {
    const char *a = getenv("BONE_FAULT_AFTER");
    return a ? (size_t)strtoull(a, NULL, 10) : 0;
}
static int op_is(const char *op) {
    const char *o = getenv("BONE_FAULT_OP");
    return !strcmp(o && *o ? o : "write", op);
}
static void track_file(FILE *f) {
    for (int i = 0; f && i < MAX_TRACKED; i++)
        if (!g_fault.f[i]) { g_fault.f[i] = f; return; }
}
static void track_fd(int fd) {
    for (int i = 0; fd >= 0 && i < MAX_TRACKED; i++)
        if (g_fault.fd[i] < 0) { g_fault.fd[i] = fd; return; }
}
static int tracked_file(FILE *f) {
    for (int i = 0; f && i < MAX_TRACKED; i++)
        if (g_fault.f[i] == f) return 1;
    return 0;
}
static int tracked_fd(int fd) {
    for (int i = 0; fd >= 0 && i < MAX_TRACKED; i++)
        if (g_fault.fd[i] == fd || (g_fault.f[i] && fileno(g_fault.f[i]) == fd)) return 1;
    return 0;
}
static void untrack(FILE *f, int fd) {
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (f && g_fault.f[i] == f) g_fault.f[i] = NULL;
        if (fd >= 0 && g_fault.fd[i] == fd) g_fault.fd[i] = -1;
    }
}
/* how many of n bytes may still be written */
static size_t allowance(size_t n) {
    if (!op_is("write")) return n;
    size_t b = budget(), left = g_fault.used < b ? b - g_fault.used : 0;
    return n < left ? n : left;
}

typedef FILE *(*fopen_fn)(const char *, const char *);
typedef int (*open_fn)(const char *, int, ...);
typedef size_t (*fwrite_fn)(const void *, size_t, size_t, FILE *);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef int (*fd_fn)(int);
typedef int (*fclose_fn)(FILE *);
/* the next definition of `name` (libc's, or a sanitizer's interceptor) */
#define REAL(name, type) type real_##name = (type)dlsym(RTLD_NEXT, #name)

FILE *fopen(const char *path, const char *mode) {
    REAL(fopen, fopen_fn);
    FILE *f = real_fopen(path, mode);
    if (f && matches(path) && strpbrk(mode, "wa+")) track_file(f);
    return f;
}
FILE *fopen64(const char *path, const char *mode) {
    REAL(fopen64, fopen_fn);
    FILE *f = real_fopen64(path, mode);
    if (f && matches(path) && strpbrk(mode, "wa+")) track_file(f);
    return f;
}
int open(const char *path, int flags, ...) {
    REAL(open, open_fn);
    va_list ap;
    va_start(ap, flags);
    mode_t mode = (flags & O_CREAT) ? va_arg(ap, mode_t) : 0;
    va_end(ap);
    int fd = real_open(path, flags, mode);
    if (fd >= 0 && (flags & (O_WRONLY | O_RDWR)) && matches(path)) track_fd(fd);
    return fd;
}
int open64(const char *path, int flags, ...) {
    REAL(open64, open_fn);
    va_list ap;
    va_start(ap, flags);
    mode_t mode = (flags & O_CREAT) ? va_arg(ap, mode_t) : 0;
    va_end(ap);
    int fd = real_open64(path, flags, mode);
    if (fd >= 0 && (flags & (O_WRONLY | O_RDWR)) && matches(path)) track_fd(fd);
    return fd;
}
size_t fwrite(const void *p, size_t size, size_t n, FILE *f) {
    REAL(fwrite, fwrite_fn);
    if (!tracked_file(f) || size == 0) return real_fwrite(p, size, n, f);
    size_t want = size * n, ok = allowance(want);
    size_t done = ok ? real_fwrite(p, 1, ok, f) : 0;
    g_fault.used += done;
    if (done < want) errno = ENOSPC;
    return done / size;
}
ssize_t write(int fd, const void *p, size_t n) {
    REAL(write, write_fn);
    if (!tracked_fd(fd)) return real_write(fd, p, n);
    size_t ok = allowance(n);
    if (ok == 0 && n > 0) {
        errno = ENOSPC;
        return -1;
    }
    ssize_t r = real_write(fd, p, ok);
    if (r > 0) g_fault.used += (size_t)r;
    return r;
}
int fsync(int fd) {
    REAL(fsync, fd_fn);
    if (tracked_fd(fd) && op_is("fsync")) {
        errno = EIO;
        return -1;
    }
    return real_fsync(fd);
}
int fdatasync(int fd) {
    REAL(fdatasync, fd_fn);
    if (tracked_fd(fd) && op_is("fsync")) {
        errno = EIO;
        return -1;
    }
    return real_fdatasync(fd);
}
int fclose(FILE *f) {
    REAL(fclose, fclose_fn);
    untrack(f, -1);
    return real_fclose(f);
}
int close(int fd) {
    REAL(close, fd_fn);
    untrack(NULL, fd);
    return real_close(fd);
}
