/* fs.c — atomic writes and file helpers (see fs.h). */
#include "core/fs.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bone_afile_open(bone_afile *a, const char *path, bone_err *e) {
    memset(a, 0, sizeof *a);
    a->path = xstrdup(path);
    size_t n = strlen(path) + 64;
    a->tmp = xmalloc(n);
    snprintf(a->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    a->f = fopen(a->tmp, "wb");
    if (!a->f) {
        int err = errno;
        free(a->path);
        free(a->tmp);
        memset(a, 0, sizeof *a);
        return bone_fail(e, "%s: cannot create temporary file: %s", path, strerror(err));
    }
    return 0;
}

int bone_afile_write(bone_afile *a, const void *p, size_t n, bone_err *e) {
    if (a->failed) return -1;
    if (n && fwrite(p, 1, n, a->f) != n) {
        a->failed = 1;
        return bone_fail(e, "%s: write failed: %s", a->path, strerror(errno));
    }
    return 0;
}

void bone_afile_abort(bone_afile *a) {
    if (a->f) fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
}

static int fsync_dir_of(const char *path) {
    char *copy = xstrdup(path);
    char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    int rc = 0;
    if (fd >= 0) {
        if (fsync(fd) != 0 && errno != EINVAL) rc = -1;
        close(fd);
    }
    free(copy);
    return rc;
}

int bone_afile_commit(bone_afile *a, bone_err *e) {
    int rc = 0;
    if (a->failed) {
        rc = bone_fail(e, "%s: not written (an earlier write failed); the previous file is untouched", a->path);
    } else if (fflush(a->f) != 0 || fsync(fileno(a->f)) != 0) {
        rc = bone_fail(e, "%s: flush failed: %s; the previous file is untouched", a->path, strerror(errno));
    }
    if (fclose(a->f) != 0 && rc == 0)
        rc = bone_fail(e, "%s: close failed: %s; the previous file is untouched", a->path, strerror(errno));
    a->f = NULL;
    if (rc == 0 && rename(a->tmp, a->path) != 0)
        rc = bone_fail(e, "%s: rename failed: %s", a->path, strerror(errno));
    if (rc != 0) unlink(a->tmp);
    else fsync_dir_of(a->path);
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
    return rc;
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

int bone_read_file(const char *path, char **out, size_t *n, bone_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return bone_fail(e, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return bone_fail(e, "%s: read failed", path);
    }
    buf[len] = 0;
    *out = buf;
    if (n) *n = len;
    return 0;
}

int bone_mkdirs(const char *path, bone_err *e) {
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
    if (bone_read_file(src, &buf, &n, e)) return -1;
    int rc = bone_write_file_atomic(dst, buf, n, e);
    free(buf);
    return rc;
}
