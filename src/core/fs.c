/* fs.c — atomic writes, stale-temporary removal, regular-file reads and path helpers (see
 * fs.h). */
#include "core/fs.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define AFILE_BUF (1u << 20)

/* A random 64-bit value for temporary names. The name only has to be unpredictable (so that
 * nobody can plant it in advance and make every try fail); O_EXCL is what makes it safe. */
static uint64_t temp_random(const void *salt, int attempt) {
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r) return r;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)salt;
    r ^= (uint64_t)attempt * 0x9e3779b97f4a7c15ull;
    r ^= r >> 33;
    r *= 0xff51afd7ed558ccdull;
    r ^= r >> 33;
    return r;
}

/* dir and base name of path ("." and path when it has no '/') */
static void split_path(const char *path, char **dir, const char **base) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *dir = xstrdup(".");
        *base = path;
        return;
    }
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    *dir = xmalloc(n + 1);
    memcpy(*dir, path, n);
    (*dir)[n] = 0;
    *base = slash + 1;
}

int bone_afile_open(bone_afile *a, const char *path, bone_err *e) {
    memset(a, 0, sizeof *a);
    a->fd = -1;
    if (!*path) return bone_fail(e, "cannot write a file with an empty name");
    char *dir;
    const char *base;
    split_path(path, &dir, &base);
    if (*base) bone_remove_stale_temps(dir, base);
    free(dir);
    size_t n = strlen(path) + 64;
    char *tmp = xmalloc(n);
    int fd = -1, err = 0;
    for (int attempt = 0; attempt < 64 && fd < 0; attempt++) {
        snprintf(tmp, n, "%s.tmp.%ld.%016llx", path, (long)getpid(), (unsigned long long)temp_random(a, attempt));
        /* O_EXCL: never reuse or follow anything already there (with O_CREAT it also refuses a
         * symlink, dangling or not); O_NOFOLLOW says the same for systems that need it */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        err = errno;
        if (fd < 0 && err != EEXIST) break;
    }
    if (fd < 0) {
        free(tmp);
        return bone_fail(e, "%s: cannot create temporary file: %s", path, strerror(err));
    }
    a->fd = fd;
    a->tmp = tmp;
    a->path = xstrdup(path);
    a->cap = AFILE_BUF;
    a->buf = xmalloc(a->cap);
    return 0;
}

/* write(2) until done; -1 with errno on failure */
static int write_all(int fd, const void *p, size_t n) {
    const unsigned char *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int afile_flush(bone_afile *a, bone_err *e) {
    if (a->failed) return -1;
    if (a->len && write_all(a->fd, a->buf, a->len)) {
        a->failed = 1;
        return bone_fail(e, "%s: write failed: %s", a->path, strerror(errno));
    }
    a->len = 0;
    return 0;
}

int bone_afile_write(bone_afile *a, const void *p, size_t n, bone_err *e) {
    if (a->failed) return -1;
    if (a->len + n > a->cap && afile_flush(a, e)) return -1;
    if (n >= a->cap) { /* large blocks go straight to the file */
        if (write_all(a->fd, p, n)) {
            a->failed = 1;
            return bone_fail(e, "%s: write failed: %s", a->path, strerror(errno));
        }
        return 0;
    }
    if (n) memcpy(a->buf + a->len, p, n);
    a->len += n;
    return 0;
}

static void afile_free(bone_afile *a) {
    free(a->tmp);
    free(a->path);
    free(a->buf);
    memset(a, 0, sizeof *a);
    a->fd = -1;
}

void bone_afile_abort(bone_afile *a) {
    if (!a->tmp) return; /* never opened, or already closed */
    if (a->fd >= 0) close(a->fd);
    unlink(a->tmp);
    afile_free(a);
}

static int fsync_dir_of(const char *path) {
    char *dir;
    const char *base;
    split_path(path, &dir, &base);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd >= 0) {
        if (fsync(fd) != 0 && errno != EINVAL) rc = -1;
        close(fd);
    }
    free(dir);
    return rc;
}

int bone_afile_commit(bone_afile *a, bone_err *e) {
    int rc = 0;
    if (a->failed) {
        rc = bone_fail(e, "%s: not written (an earlier write failed); the previous file is untouched", a->path);
    } else if (a->len && write_all(a->fd, a->buf, a->len)) {
        rc = bone_fail(e, "%s: write failed: %s; the previous file is untouched", a->path, strerror(errno));
    } else if (fsync(a->fd) != 0) {
        rc = bone_fail(e, "%s: flush failed: %s; the previous file is untouched", a->path, strerror(errno));
    }
    if (close(a->fd) != 0 && rc == 0)
        rc = bone_fail(e, "%s: close failed: %s; the previous file is untouched", a->path, strerror(errno));
    a->fd = -1;
    if (rc == 0 && rename(a->tmp, a->path) != 0)
        rc = bone_fail(e, "%s: rename failed: %s", a->path, strerror(errno));
    if (rc != 0) unlink(a->tmp);
    else fsync_dir_of(a->path);
    afile_free(a);
    return rc;
}

int bone_temp_name_parse(const char *name, long *pid, size_t *base_len) {
    for (const char *t = strstr(name, ".tmp."); t; t = strstr(t + 1, ".tmp.")) {
        if (t == name) continue; /* BASE must not be empty */
        const char *p = t + 5;
        long v = 0;
        int nd = 0;
        while (*p >= '0' && *p <= '9' && nd < 10) {
            v = v * 10 + (*p++ - '0');
            nd++;
        }
        if (!nd || v <= 0 || v > INT_MAX || (*p >= '0' && *p <= '9')) continue;
        if (*p == '.') {
            p++;
            int nh = 0;
            while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')) {
                p++;
                nh++;
            }
            if (nh != 16) continue;
        }
        if (*p) continue;
        if (pid) *pid = v;
        if (base_len) *base_len = (size_t)(t - name);
        return 1;
    }
    return 0;
}

int64_t bone_remove_stale_temps(const char *dir, const char *base) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int dfd = dirfd(d);
    size_t blen = base ? strlen(base) : 0;
    int64_t removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        long pid;
        size_t bl;
        if (!bone_temp_name_parse(de->d_name, &pid, &bl)) continue;
        if (base && (bl != blen || strncmp(de->d_name, base, blen))) continue;
        struct stat st;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        /* a writer that still runs (or a pid we may not signal) keeps its temporary */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        if (unlinkat(dfd, de->d_name, 0) == 0) removed++;
    }
    closedir(d);
    return removed;
}

int bone_write_file_atomic(const char *path, const void *p, size_t n, bone_err *e) {
    bone_afile a;
    if (bone_afile_open(&a, path, e)) return -1;
    if (bone_afile_write(&a, p, n, e)) {
        bone_afile_abort(&a);
        return -1;
    }
    return bone_afile_commit(&a, e);
}

static const char *kind_name(mode_t m) {
    return S_ISFIFO(m) ? "a FIFO or pipe" : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
           : S_ISSOCK(m) ? "a socket" : "not a plain file";
}

/* Opens path for reading without blocking on a FIFO. A regular file always passes; a pipe or
 * FIFO when `stream` is set; anything else is refused by name. *is_stream says which. */
static int open_input(const char *path, int stream, uint64_t *size, int *is_stream, bone_err *e) {
    /* O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return bone_fail(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return bone_fail(e, "%s: cannot stat: %s", path, strerror(err));
    }
    int ok = S_ISREG(st.st_mode) || (stream && S_ISFIFO(st.st_mode));
    if (!ok) {
        close(fd);
        if (S_ISDIR(st.st_mode)) return bone_fail(e, "%s: is a directory, not a file", path);
        return bone_fail(e, "%s: not a regular file (%s)", path, kind_name(st.st_mode));
    }
    /* reads block again: a pipe's writer may be slower than us (with no writer, read says EOF) */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (size) *size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    if (is_stream) *is_stream = !S_ISREG(st.st_mode);
    return fd;
}

int bone_open_regular(const char *path, uint64_t *size, bone_err *e) { return open_input(path, 0, size, NULL, e); }

int bone_map_regular(const char *path, void **map, size_t *size, bone_err *e) {
    uint64_t fsize;
    *map = NULL;
    *size = 0;
    int fd = bone_open_regular(path, &fsize, e); /* a FIFO would block in open(), a directory has no data */
    if (fd < 0) return -1;
    if (fsize > 0) {
        void *m = mmap(NULL, (size_t)fsize, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int err = errno;
            close(fd);
            return bone_fail(e, "%s: mmap failed: %s", path, strerror(err));
        }
        *map = m;
    }
    close(fd);
    *size = (size_t)fsize;
    return 0;
}

static int read_input(const char *path, int stream, char **out, size_t *n, bone_err *e) {
    uint64_t size;
    int is_stream;
    int fd = open_input(path, stream, &size, &is_stream, e);
    if (fd < 0) return -1;
    if (size >= (uint64_t)SIZE_MAX / 2) {
        close(fd);
        return bone_fail(e, "%s: %llu bytes is too large to read", path, (unsigned long long)size);
    }
    size_t cap = is_stream ? (1u << 16) : (size_t)size + 1, len = 0;
    /* the size comes from the file: a failure is the user's problem to hear about, not an abort */
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return bone_fail(e, "%s: cannot hold its %llu bytes in memory", path, (unsigned long long)size);
    }
    for (;;) {
        if (is_stream && len > BONE_STREAM_MAX) {
            free(buf);
            close(fd);
            return bone_fail(e, "%s: more than %llu GiB from a pipe; save it to a file first", path,
                             (unsigned long long)(BONE_STREAM_MAX >> 30));
        }
        if (len + 1 >= cap) { /* a stream, or a file that grew while we read it */
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                close(fd);
                return bone_fail(e, "%s: out of memory after reading %zu bytes", path, len);
            }
            buf = nb;
        }
        ssize_t got = read(fd, buf + len, cap - len - 1);
        if (got < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            free(buf);
            close(fd);
            return bone_fail(e, "%s: read failed: %s", path, strerror(err));
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    close(fd);
    buf[len] = 0;
    *out = buf;
    if (n) *n = len;
    return 0;
}

int bone_read_file(const char *path, char **out, size_t *n, bone_err *e) { return read_input(path, 1, out, n, e); }

int bone_read_regular_file(const char *path, char **out, size_t *n, bone_err *e) {
    return read_input(path, 0, out, n, e);
}

int bone_mkdirs(const char *path, bone_err *e) {
    if (!*path) return bone_fail(e, "cannot create a directory with an empty name");
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                int err = errno;
                bone_fail(e, "%s: cannot create directory: %s", p, strerror(err));
                free(p);
                return -1;
            }
            *s = '/';
        }
    }
    int rc = 0;
    if (mkdir(p, 0777) != 0 && errno != EEXIST) rc = bone_fail(e, "%s: cannot create directory: %s", p, strerror(errno));
    free(p);
    return rc;
}

int bone_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int bone_path_present(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR);
}

int bone_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *bone_path_join(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *p = xmalloc(na + nb + 2);
    memcpy(p, a, na);
    size_t k = na;
    if (na && a[na - 1] != '/') p[k++] = '/';
    memcpy(p + k, b, nb + 1);
    return p;
}

int bone_copy_file(const char *src, const char *dst, bone_err *e) {
    char *buf;
    size_t n;
    if (bone_read_regular_file(src, &buf, &n, e)) return -1;
    int rc = bone_write_file_atomic(dst, buf, n, e);
    free(buf);
    return rc;
}

/* ---- atomic directories ---- */

/* Removes a directory of regular files (a bone_adir temporary); best effort. */
static void remove_flat_dir(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    }
    rmdir(path);
}

/* files the new directory replaces as a set rather than carries over: a stale shard or index
 * beside a new single model.safetensors (or the reverse) would load the wrong weights */
static int is_weight_file(const char *name) {
    if (!strcmp(name, "model.safetensors") || !strcmp(name, "model.safetensors.index.json")) return 1;
    unsigned a, b;
    int end = 0;
    return sscanf(name, "model-%5u-of-%5u.safetensors%n", &a, &b, &end) == 2 && end > 0 && !name[end];
}

int bone_adir_open(bone_adir *d, const char *dir, bone_err *e) {
    memset(d, 0, sizeof *d);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    if (!n) return bone_fail(e, "cannot write a directory with an empty name");
    char *target = xmalloc(n + 1);
    memcpy(target, dir, n);
    target[n] = 0;
    struct stat st;
    if (lstat(target, &st) == 0) {
        DIR *od = S_ISDIR(st.st_mode) ? opendir(target) : NULL;
        if (!od) {
            int err = S_ISDIR(st.st_mode) ? errno : ENOTDIR;
            free(target);
            return bone_fail(e, "%s: cannot write a model directory here: %s", dir, strerror(err));
        }
        struct dirent *de;
        int rc = 0;
        while (rc == 0 && (de = readdir(od))) {
            struct stat es;
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            if (fstatat(dirfd(od), de->d_name, &es, AT_SYMLINK_NOFOLLOW) == 0 &&
                (S_ISREG(es.st_mode) || S_ISLNK(es.st_mode)))
                continue;
            rc = bone_fail(e, "%s exists and holds \"%s\", which is neither a file nor a symlink; bone replaces the "
                              "directory as a whole and carries over only files and symlinks: choose a new or empty "
                              "--out", dir, de->d_name);
        }
        closedir(od);
        if (rc) {
            free(target);
            return -1;
        }
    } else if (errno != ENOENT) {
        int err = errno;
        free(target);
        return bone_fail(e, "%s: %s", dir, strerror(err));
    }
    char *parent;
    const char *base;
    split_path(target, &parent, &base);
    if (!bone_is_dir(parent) && bone_mkdirs(parent, e)) {
        free(parent);
        free(target);
        return -1;
    }
    /* temporaries of killed writers: a directory named like an afile temporary of ours */
    DIR *pd = opendir(parent);
    if (pd) {
        struct dirent *de;
        size_t blen = strlen(base);
        while ((de = readdir(pd))) {
            long pid;
            size_t bl;
            struct stat ts;
            if (!bone_temp_name_parse(de->d_name, &pid, &bl) || bl != blen || strncmp(de->d_name, base, blen)) continue;
            if (fstatat(dirfd(pd), de->d_name, &ts, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(ts.st_mode)) continue;
            if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
            char *p = bone_path_join(parent, de->d_name);
            remove_flat_dir(p);
            free(p);
        }
        closedir(pd);
    }
    free(parent);
    char *tmp = xmalloc(n + 64);
    int err = 0, ok = 0;
    for (int attempt = 0; attempt < 64 && !ok; attempt++) {
        snprintf(tmp, n + 64, "%s.tmp.%ld.%016llx", target, (long)getpid(), (unsigned long long)temp_random(d, attempt));
        ok = mkdir(tmp, 0777) == 0;
        err = errno;
        if (!ok && err != EEXIST) break;
    }
    if (!ok) {
        free(tmp);
        free(target);
        return bone_fail(e, "%s: cannot create a temporary directory beside it: %s", dir, strerror(err));
    }
    d->dir = target;
    d->tmp = tmp;
    return 0;
}

void bone_adir_abort(bone_adir *d) {
    if (d->tmp) remove_flat_dir(d->tmp);
    free(d->tmp);
    free(d->dir);
    memset(d, 0, sizeof *d);
}

static int fsync_path(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd) != 0 && errno != EINVAL ? -1 : 0;
    close(fd);
    return rc;
}

/* the files and symlinks of old that new lacks, except weight files and stale temporaries:
 * files hard-linked (or copied), symlinks recreated as they are (never followed) */
static int carry_over(const char *old, const char *new_dir, bone_err *e) {
    DIR *od = opendir(old);
    if (!od) return bone_fail(e, "%s: cannot read: %s", old, strerror(errno));
    struct dirent *de;
    int rc = 0;
    char link_to[PATH_MAX];
    while (rc == 0 && (de = readdir(od))) {
        struct stat es;
        if (fstatat(dirfd(od), de->d_name, &es, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (is_weight_file(de->d_name)) continue;
        char *s = bone_path_join(old, de->d_name), *t = bone_path_join(new_dir, de->d_name);
        if (bone_path_present(t)) {
            /* the new directory's own file */
        } else if (S_ISREG(es.st_mode) && !bone_temp_name_parse(de->d_name, NULL, NULL)) {
            if (link(s, t) != 0) rc = bone_copy_file(s, t, e);
        } else if (S_ISLNK(es.st_mode)) {
            ssize_t k = readlink(s, link_to, sizeof link_to - 1);
            if (k < 0 || (link_to[k] = 0, symlink(link_to, t) != 0))
                rc = bone_fail(e, "%s: cannot carry the symlink over to the new directory: %s", s, strerror(errno));
        }
        free(s);
        free(t);
    }
    closedir(od);
    return rc;
}

int bone_adir_commit(bone_adir *d, bone_err *e) {
    int rc = 0, existed = bone_is_dir(d->dir);
    if (existed) rc = carry_over(d->dir, d->tmp, e);
    if (rc == 0 && fsync_path(d->tmp) != 0)
        rc = bone_fail(e, "%s: flush failed: %s; %s is untouched", d->tmp, strerror(errno), d->dir);
    if (rc == 0 && !existed) {
        if (rename(d->tmp, d->dir) != 0)
            rc = bone_fail(e, "%s: rename from %s failed: %s", d->dir, d->tmp, strerror(errno));
    } else if (rc == 0) {
        /* swap the two names in one step; the old directory then sits at tmp */
        if (renameat2(AT_FDCWD, d->tmp, AT_FDCWD, d->dir, RENAME_EXCHANGE) != 0) {
            if (errno != EINVAL && errno != ENOSYS) {
                rc = bone_fail(e, "%s: cannot replace it with %s: %s; %s is untouched", d->dir, d->tmp,
                               strerror(errno), d->dir);
            } else { /* no RENAME_EXCHANGE here: move the old one aside, the new one in */
                size_t n = strlen(d->dir) + 64;
                char *aside = xmalloc(n);
                snprintf(aside, n, "%s.tmp.%ld.%016llx", d->dir, (long)getpid(), (unsigned long long)temp_random(aside, 0));
                if (rename(d->dir, aside) != 0) {
                    rc = bone_fail(e, "%s: cannot move it aside: %s; it is untouched", d->dir, strerror(errno));
                } else if (rename(d->tmp, d->dir) != 0) {
                    rc = bone_fail(e, "%s: cannot move %s into place: %s", d->dir, d->tmp, strerror(errno));
                    if (rename(aside, d->dir) != 0) /* put the old one back */
                        bone_wrap(e, "and moving the previous directory back from %s failed too", aside);
                } else {
                    free(d->tmp); /* renamed into place: abort below removes the old one, aside */
                    d->tmp = aside;
                }
                if (rc) free(aside);
            }
        }
    }
    if (rc == 0) {
        char *parent;
        const char *base;
        split_path(d->dir, &parent, &base);
        fsync_path(parent);
        free(parent);
    }
    /* on success tmp now holds the old directory (or nothing); on failure the new one */
    bone_adir_abort(d);
    return rc;
}
