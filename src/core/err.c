/* err.c — error formatting and checked allocation (see err.h). */
#include "core/err.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bone_fail(bone_err *e, const char *fmt, ...) {
    if (!e) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int bone_wrap(bone_err *e, const char *fmt, ...) {
    if (!e) return -1;
    char prefix[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof e->msg];
    memcpy(old, e->msg, sizeof old);
    size_t k = strlen(prefix);
    if (k > sizeof e->msg - 3) k = sizeof e->msg - 3;
    memcpy(e->msg, prefix, k);
    memcpy(e->msg + k, ": ", 2);
    size_t room = sizeof e->msg - k - 3;
    size_t n = strnlen(old, room);
    memcpy(e->msg + k + 2, old, n);
    e->msg[k + 2 + n] = 0;
    return -1;
}

static _Noreturn void oom(size_t n, const char *file, int line) {
    fprintf(stderr, "bone: out of memory allocating %zu bytes at %s:%d\n", n, file, line);
    abort();
}

void *bone_xmalloc_(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n, file, line);
    return p;
}

void *bone_xcalloc_(size_t count, size_t size, const char *file, int line) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size, file, line);
    return p;
}

void *bone_xrealloc_(void *p, size_t n, const char *file, int line) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n, file, line);
    return q;
}

char *bone_xstrdup_(const char *s, const char *file, int line) {
    size_t n = strlen(s) + 1;
    char *p = bone_xmalloc_(n, file, line);
    memcpy(p, s, n);
    return p;
}

_Noreturn void bone_assert_fail_(const char *cond, const char *hint, const char *file, int line) {
    fprintf(stderr, "bone: internal check failed at %s:%d: %s\n  hint: %s\n", file, line, cond,
            hint ? hint : "(none)");
    abort();
}
