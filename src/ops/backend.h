/* backend.h — THE GEMM choke point: every matrix product of the model, the adapters and the
 * loss goes through a bone_backend (row-major; C and activations fp32).
 *
 * Backends (one is chosen per run by `--compute bf16|fp32|auto`, see bone_backend_open):
 *   openblas       fp32, OpenBLAS (+ ops/skinny.c for rank-sized products)   gemm_openblas.c
 *   onednn-fp32    fp32, oneDNN matmul primitives, cached per shape           gemm_onednn.c
 *   onednn-bf16    bf16 inputs × bf16 weights, fp32 accumulation and output   gemm_onednn.c
 *                  (needs AMX-BF16 or AVX512-BF16; oneDNN 2.6 has no bf16 matmul below that)
 *   bf16-emulated  TEST ONLY: inputs rounded to bf16 (round-to-nearest-even), then the fp32
 *                  OpenBLAS product. Numerically the contract of a bf16×bf16→fp32 kernel up to
 *                  the summation order; lets a machine without bf16 hardware test the mixed-
 *                  precision path. Never chosen by `auto`; only BONE_TEST_BACKEND selects it.
 * gemm_onednn.c is compiled only when the build found libdnnl (CMake option BONE_ONEDNN).
 *
 * The backend has a context (oneDNN's engine, stream and primitive cache; conversion scratch)
 * and no global state: it rides in bone_lin_ctx (linear.h) and in xent_ws, or is passed. The
 * three wrappers of gemm.h (gemm_nt/nn/tn) are the OpenBLAS fp32 product with no context —
 * code without a backend at hand (attention, LoRA/PiSSA initialisation, merge) uses them.
 *
 * Mixed precision: a bf16 backend rounds both GEMM inputs to bf16 and accumulates in fp32;
 * everything else (master weights, gradients, AdamW state, norms, softmax, RoPE, the loss and
 * reductions) stays fp32 — those live outside this file. */
#ifndef BONE_OPS_BACKEND_H
#define BONE_OPS_BACKEND_H
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "ops/gemm.h"

typedef enum bone_backend_kind {
    BONE_BE_OPENBLAS = 0,
    BONE_BE_ONEDNN_F32,
    BONE_BE_ONEDNN_BF16,
    BONE_BE_BF16_EMULATED,
    BONE_BE_NKINDS
} bone_backend_kind;

typedef struct bone_backend bone_backend;
typedef struct bone_backend_i {
    /* C(M,N) = alpha·op(A)·op(B) + beta·C, ta/tb 'N' or 'T', all fp32 (activations × activations,
     * adapter tensors, weight gradients). beta = 0 never reads C. */
    void (*gemm)(bone_backend *be, char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
    /* C(M,N) = alpha·X(M,K)·op(W) + beta·C with W a weight in its STORED dtype (fp32/bf16/f16):
     *   tw = 'T': W is (N, K), forward y = x·Wᵀ;   tw = 'N': W is (K, N), dx = dy·W.
     * pack: NULL, or a slot the backend may fill with a prepacked copy of W that it reuses on
     * later calls with the same (W, tw) — only for weights that do not change (frozen). */
    void (*matmul_w)(bone_backend *be, char tw, int64_t M, int64_t N, int64_t K, float alpha, const float *X,
                     int64_t ldx, bone_wref W, int64_t ldw, void **pack, float beta, float *C, int64_t ldc);
    void (*pack_free)(bone_backend *be, void *pack);
    size_t (*pack_bytes)(const bone_backend *be, const void *pack);
    void (*free)(bone_backend *be);
} bone_backend_i;

struct bone_backend {
    const bone_backend_i *iface;
    void *context;          /* owned by the implementation */
    bone_backend_kind kind;
    int bf16;               /* 1: GEMM inputs are bf16 */
    char desc[192];         /* "fp32, OpenBLAS Zen" / "bf16, oneDNN AMX" ... */
};

/* What the CPU and the kernel allow for bf16 (cpuid + arch_prctl for AMX tile data). */
typedef struct bone_cpu_bf16 {
    int avx512_bf16;  /* cpuid.(7,1):EAX[5] with OS-enabled AVX-512 state */
    int amx_bf16;     /* cpuid.(7,0):EDX[22] */
    int amx_usable;   /* amx_bf16 and the kernel granted XTILEDATA (ARCH_REQ_XCOMP_PERM) */
    char amx_why[96]; /* why amx_bf16 is not usable, when it is present */
} bone_cpu_bf16;
void bone_cpu_bf16_probe(bone_cpu_bf16 *out);

/* Opens the backend for `compute` ("fp32", "bf16", "auto"; NULL = "auto"):
 *   fp32 → OpenBLAS (oneDNN fp32 measured no faster on AVX2 and its packs cost memory;
 *          bench/README.md — BONE_TEST_BACKEND=onednn-fp32 selects it for measurement);
 *   bf16 → oneDNN bf16; an error naming why when the CPU or the build cannot run it;
 *   auto → bf16 when it can run, else fp32.
 * The environment variable BONE_TEST_BACKEND=bf16-emulated|onednn-fp32|openblas overrides
 * everything (tests and benches only) and the caller must print bone_backend_describe loudly. */
int bone_backend_open(const char *compute, bone_backend **out, bone_err *e);
/* Opens one named kind (tests, bench); an error when this build or CPU lacks it. */
int bone_backend_open_kind(bone_backend_kind k, bone_backend **out, bone_err *e);
const char *bone_backend_kind_name(bone_backend_kind k);
void bone_backend_free(bone_backend *be);
/* 1 when this build was compiled with oneDNN */
int bone_backend_have_onednn(void);

/* The entry points; be = NULL is the stateless OpenBLAS fp32 product (gemm only). */
void bone_gemm(bone_backend *be, char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
               int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
void bone_matmul_w(bone_backend *be, char tw, int64_t M, int64_t N, int64_t K, float alpha, const float *X,
                   int64_t ldx, bone_wref W, int64_t ldw, void **pack, float beta, float *C, int64_t ldc);
void bone_pack_free(bone_backend *be, void *pack);
size_t bone_pack_bytes(const bone_backend *be, const void *pack);

/* gemm.h's three shapes with a backend (adapters, the loss) */
static inline void bone_gemm_nt(bone_backend *be, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    bone_gemm(be, 'N', 'T', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
static inline void bone_gemm_nn(bone_backend *be, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    bone_gemm(be, 'N', 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
static inline void bone_gemm_tn(bone_backend *be, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    bone_gemm(be, 'T', 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- shared by the implementations (backend.c, gemm_openblas.c, gemm_onednn.c) ---- */
/* The OpenBLAS fp32 product (skinny kernels where they pay). */
void bone_openblas_gemm(char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                        const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
int bone_openblas_open(bone_backend *be, int emulate_bf16, bone_err *e);
int bone_onednn_open(bone_backend *be, int bf16, bone_err *e);
/* x rounded to bf16 and back (round-to-nearest-even), the emulated backend's rounding */
float bone_round_bf16(float x);

#endif
