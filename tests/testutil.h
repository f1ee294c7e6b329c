/* testutil.h — small helpers shared by every C test: the CHECK macro (failure counting with
 * file:line and a hint, exit 1 on any failure), tolerance comparison of float arrays against reference tensors, and loading expected
 * tensors from a safetensors file. Every mismatch prints and makes the test exit 1. */
#ifndef BONE_TESTUTIL_H
#define BONE_TESTUTIL_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/safetensors.h"

/* The one check macro of the C tests. A failed CHECK prints "FAIL file:line: the condition
 * (hint: the message)" and counts; tu_exit_guard below turns any counted failure into exit
 * status 1 even when a test's main forgets to return it. */
static int tu_failures __attribute__((unused)) = 0;
static int tu_checks __attribute__((unused)) = 0;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        tu_checks++;                                                           \
        if (!(cond)) {                                                         \
            tu_failures++;                                                     \
            fprintf(stderr, "FAIL %s:%d: %s (hint: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, ")\n");                                            \
        }                                                                      \
    } while (0)

/* Runs at exit (a destructor, so also after main returns 0): failures mean exit 1. */
__attribute__((destructor, unused)) static void tu_exit_guard(void) {
    if (tu_failures) {
        fflush(stdout);
        fprintf(stderr, "%d of %d checks FAILED\n", tu_failures, tu_checks);
        _exit(1);
    }
}

/* Compares got against ref (n floats): passes when every |got−ref| <= atol + rtol·|ref|.
 * Prints the worst element either way when verbose. Returns 1 on pass. */
static inline int tu_close(const char *what, const float *got, const float *ref, int64_t n, double atol, double rtol,
                           int verbose) {
    double worst = 0, wref = 0, wgot = 0;
    int64_t wi = -1, bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        double lim = atol + rtol * fabs((double)ref[i]);
        if (!(d <= lim)) bad++;
        double excess = d / (lim > 0 ? lim : 1e-30);
        if (wi < 0 || excess > worst || isnan(d)) { worst = excess; wi = i; wref = ref[i]; wgot = got[i]; }
    }
    tu_checks++;
    if (bad) {
        tu_failures++;
        fprintf(stderr, "FAIL %s: %lld of %lld elements out of tolerance (atol %g, rtol %g); worst [%lld] got %.9g ref %.9g\n",
                what, (long long)bad, (long long)n, atol, rtol, (long long)wi, wgot, wref);
        return 0;
    }
    if (verbose) printf("ok   %-60s n=%-7lld worst/limit %.3f\n", what, (long long)n, worst);
    return 1;
}

/* Reference tensor as fp32 (must exist). */
static inline const float *tu_ref(const bone_st_set *s, const char *name, int64_t *n) {
    const bone_st_tensor *t = bone_st_find(s, name);
    if (!t || !t->supported || t->dtype != BONE_F32) {
        fprintf(stderr, "FAIL: reference tensor \"%s\" missing or not F32\n", name);
        tu_failures++;
        return NULL;
    }
    if (n) *n = t->numel;
    return (const float *)t->data;
}

static inline int tu_finish(const char *name) {
    if (tu_failures) {
        fprintf(stderr, "%s: %d of %d checks FAILED\n", name, tu_failures, tu_checks);
        return 1;
    }
    printf("%s: all %d checks passed\n", name, tu_checks);
    return 0;
}

#endif
