/* method.c — the leaf of the adapter files: method names (bone_method_parse/_name), the
 * --grid parser, and the bias kernels every adapter's forward/backward shares. bone.c and
 * lora.c need only this (and linear.h), not adapter.c, which builds on them: no import circle. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "adapter/adapter_internal.h"
#include "core/err.h"

static const struct {
    const char *name;
    bone_method m;
} methods[] = {
    {"bone-col", BONE_METHOD_COL},     {"bone-row", BONE_METHOD_ROW},   {"bone-grid", BONE_METHOD_GRID},
    {"bone-hadamard", BONE_METHOD_HADAMARD}, {"bone-free", BONE_METHOD_FREE}, {"lora", BONE_METHOD_LORA},
    {"pissa", BONE_METHOD_PISSA},      {"olora", BONE_METHOD_OLORA},    {"full", BONE_METHOD_FULL},
};
#define NMETHODS ((int)(sizeof methods / sizeof methods[0]))

int bone_method_parse(const char *s, bone_method *out, bone_err *e) {
    for (int i = 0; s && i < NMETHODS; i++)
        if (!strcmp(s, methods[i].name)) {
            *out = methods[i].m;
            return 0;
        }
    char list[256] = "";
    for (int i = 0; i < NMETHODS; i++) {
        strcat(list, methods[i].name);
        if (i + 1 < NMETHODS) strcat(list, ", ");
    }
    return bone_fail(e, "unknown method \"%s\"; known methods: %s", s ? s : "(none)", list);
}

const char *bone_method_name(bone_method m) {
    for (int i = 0; i < NMETHODS; i++)
        if (methods[i].m == m) return methods[i].name;
    return "none";
}

int bone_method_is_bone(bone_method m) { return m >= BONE_METHOD_COL && m <= BONE_METHOD_FREE; }

int bone_parse_grid(const char *s, int64_t *gr, int64_t *gc, bone_err *e) {
    char *end;
    if (!s || !isdigit((unsigned char)s[0])) goto bad;
    errno = 0;
    long long r = strtoll(s, &end, 10);
    if (errno || (*end != 'x' && *end != 'X') || !isdigit((unsigned char)end[1])) goto bad;
    long long c = strtoll(end + 1, &end, 10);
    if (errno || *end || r < 1 || c < 1) goto bad;
    *gr = r;
    *gc = c;
    return 0;
bad:
    return bone_fail(e, "--grid expects GRxGC with positive integers (e.g. 2x4), got \"%s\"", s ? s : "");
}

/* ---- small shared kernels ---- */

void bone_add_bias(const float *bias, float *y, int64_t N, int64_t O) {
    if (!bias) return;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++) y[n * O + o] += bias[o];
}

void bone_bias_grad(const float *dy, float *dbias, int64_t N, int64_t O) {
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < O; o++) {
        float s = 0.0f;
        for (int64_t n = 0; n < N; n++) s += dy[n * O + o];
        dbias[o] += s;
    }
}

