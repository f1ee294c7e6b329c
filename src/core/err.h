/* err.h — error values and check macros used everywhere.
 *
 * Functions that can fail return int (0 = ok, -1 = failed) and take a `bone_err *`
 * that receives a message built at the point of failure: the file, the field or line,
 * what was expected and what was found. The CLI prints it and exits 1. Allocation
 * failure is not recoverable: xmalloc & co. print file:line and abort. */
#ifndef BONE_CORE_ERR_H
#define BONE_CORE_ERR_H
#include <stddef.h>
#include <stdint.h>

typedef struct bone_err {
    char msg[2048];
} bone_err;

/* Formats into e (if non-NULL) and returns -1, so `return bone_fail(e, ...)` reads well. */
int bone_fail(bone_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes an existing message: "ctx: old message". Returns -1. */
int bone_wrap(bone_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void *bone_xmalloc_(size_t n, const char *file, int line);
void *bone_xcalloc_(size_t count, size_t size, const char *file, int line);
void *bone_xrealloc_(void *p, size_t n, const char *file, int line);
char *bone_xstrdup_(const char *s, const char *file, int line);
#define xmalloc(n) bone_xmalloc_((n), __FILE__, __LINE__)
#define xcalloc(c, s) bone_xcalloc_((c), (s), __FILE__, __LINE__)
#define xrealloc(p, n) bone_xrealloc_((p), (n), __FILE__, __LINE__)
#define xstrdup(s) bone_xstrdup_((s), __FILE__, __LINE__)

/* Invariant checks for programming errors (not user input): print file:line and abort. */
#define BONE_ASSERT(cond, hint)                                                             \
    do {                                                                                    \
        if (!(cond)) bone_assert_fail_(#cond, (hint), __FILE__, __LINE__);                  \
    } while (0)
_Noreturn void bone_assert_fail_(const char *cond, const char *hint, const char *file, int line);

/* Overflow-checked 64-bit size arithmetic: return 0 on success, -1 on overflow. */
static inline int bone_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}
static inline int bone_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

#endif
