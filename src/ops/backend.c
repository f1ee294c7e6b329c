/* backend.c — choosing and dispatching the GEMM backend (see backend.h): bf16 hardware
 * detection (cpuid, XCR0, the Linux AMX permission request), --compute resolution, and the
 * entry points that route to an implementation. */
#include "ops/backend.h"
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "core/dtype.h"

#define ARCH_REQ_XCOMP_PERM 0x1023 /* linux/arch/x86/include/uapi/asm/prctl.h */
#define XFEATURE_XTILEDATA 18

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

void bone_cpu_bf16_probe(bone_cpu_bf16 *out) {
    memset(out, 0, sizeof *out);
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return; /* no OSXSAVE: no AVX state at all */
    const uint64_t xcr0 = xgetbv0();
    const int os_avx512 = (xcr0 & 0xe6) == 0xe6;          /* SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM */
    const int os_amx = (xcr0 & (3ull << 17)) == (3ull << 17); /* XTILECFG, XTILEDATA */
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) out->avx512_bf16 = os_avx512 && (a & (1u << 5));
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) out->amx_bf16 = (d & (1u << 22)) && (d & (1u << 24));
    if (!out->amx_bf16) return;
    if (!os_amx) {
        snprintf(out->amx_why, sizeof out->amx_why, "the OS does not enable AMX tile state (XCR0)");
        return;
    }
    /* Linux ≥ 5.16 hands out the 8 KiB tile-data state only on request */
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
        snprintf(out->amx_why, sizeof out->amx_why, "the kernel refused ARCH_REQ_XCOMP_PERM for AMX tile data");
        return;
    }
    out->amx_usable = 1;
}

float bone_round_bf16(float x) { return bone_bf16_to_f32(bone_f32_to_bf16(x)); }

const char *bone_backend_kind_name(bone_backend_kind k) {
    static const char *const names[BONE_BE_NKINDS] = {"openblas", "onednn-fp32", "onednn-bf16", "bf16-emulated"};
    return k >= 0 && k < BONE_BE_NKINDS ? names[k] : "?";
}

int bone_backend_have_onednn(void) {
#ifdef BONE_HAVE_ONEDNN
    return 1;
#else
    return 0;
#endif
}

/* Why this machine cannot run bf16 GEMMs, or NULL when it can (CPU and build). */
static const char *bf16_unavailable(char *buf, size_t cap) {
    bone_cpu_bf16 cpu;
    bone_cpu_bf16_probe(&cpu);
    if (!cpu.amx_usable && !cpu.avx512_bf16) {
        if (cpu.amx_bf16)
            snprintf(buf, cap, "this CPU has AMX-BF16 but %s, and no AVX512-BF16", cpu.amx_why);
        else
            snprintf(buf, cap, "this CPU has neither AMX-BF16 nor AVX512-BF16");
        return buf;
    }
    if (!bone_backend_have_onednn()) {
        snprintf(buf, cap, "this build of bone has no oneDNN (install libdnnl-dev and rebuild with -DBONE_ONEDNN=ON)");
        return buf;
    }
    return NULL;
}

int bone_backend_open_kind(bone_backend_kind k, bone_backend **out, bone_err *e) {
    *out = NULL;
    bone_backend *be = xcalloc(1, sizeof *be);
    be->kind = k;
    int rc;
    switch (k) {
    case BONE_BE_OPENBLAS: rc = bone_openblas_open(be, 0, e); break;
    case BONE_BE_BF16_EMULATED: rc = bone_openblas_open(be, 1, e); break;
    case BONE_BE_ONEDNN_F32:
    case BONE_BE_ONEDNN_BF16: {
        char why[160];
        if (k == BONE_BE_ONEDNN_BF16 && bf16_unavailable(why, sizeof why)) {
            rc = bone_fail(e, "--compute bf16 cannot run here: %s", why);
            break;
        }
#ifdef BONE_HAVE_ONEDNN
        rc = bone_onednn_open(be, k == BONE_BE_ONEDNN_BF16, e);
#else
        rc = bone_fail(e, "backend %s: this build of bone has no oneDNN (install libdnnl-dev, rebuild with "
                          "-DBONE_ONEDNN=ON)", bone_backend_kind_name(k));
#endif
        break;
    }
    default: rc = bone_fail(e, "unknown GEMM backend %d", (int)k);
    }
    if (rc) {
        free(be);
        return -1;
    }
    *out = be;
    return 0;
}

int bone_backend_open(const char *compute, bone_backend **out, bone_err *e) {
    *out = NULL;
    const char *test = getenv("BONE_TEST_BACKEND");
    if (test && *test) {
        for (int k = 0; k < BONE_BE_NKINDS; k++)
            if (!strcmp(test, bone_backend_kind_name((bone_backend_kind)k)))
                return bone_backend_open_kind((bone_backend_kind)k, out, e);
        return bone_fail(e, "BONE_TEST_BACKEND=%s: expected openblas, onednn-fp32, onednn-bf16 or bf16-emulated", test);
    }
    if (!compute || !strcmp(compute, "auto")) {
        char why[160];
        if (!bf16_unavailable(why, sizeof why)) {
            bone_err e2 = {0};
            if (bone_backend_open_kind(BONE_BE_ONEDNN_BF16, out, &e2) == 0) return 0;
            /* present but oneDNN refused it: auto falls back, but says so */
            fprintf(stderr, "bone: compute auto: bf16 not usable (%s); using fp32\n", e2.msg);
        }
        return bone_backend_open_kind(BONE_BE_OPENBLAS, out, e);
    }
    if (!strcmp(compute, "fp32")) return bone_backend_open_kind(BONE_BE_OPENBLAS, out, e);
    if (!strcmp(compute, "bf16")) return bone_backend_open_kind(BONE_BE_ONEDNN_BF16, out, e);
    return bone_fail(e, "--compute %s: expected bf16, fp32 or auto", compute);
}

void bone_backend_free(bone_backend *be) {
    if (!be) return;
    if (be->iface && be->iface->free) be->iface->free(be);
    free(be);
}

void bone_gemm(bone_backend *be, char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
               int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (!be) bone_openblas_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else be->iface->gemm(be, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void bone_matmul_w(bone_backend *be, char tw, int64_t M, int64_t N, int64_t K, float alpha, const float *X,
                   int64_t ldx, bone_wref W, int64_t ldw, void **pack, float beta, float *C, int64_t ldc) {
    BONE_ASSERT(be, "bone_matmul_w needs a backend (bone_backend_open)");
    if (M == 0 || N == 0) return;
    be->iface->matmul_w(be, tw, M, N, K, alpha, X, ldx, W, ldw, pack, beta, C, ldc);
}

void bone_pack_free(bone_backend *be, void *pack) {
    if (pack && be && be->iface->pack_free) be->iface->pack_free(be, pack);
}

size_t bone_pack_bytes(const bone_backend *be, const void *pack) {
    return pack && be && be->iface->pack_bytes ? be->iface->pack_bytes(be, pack) : 0;
}
