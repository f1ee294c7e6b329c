/* gemm_onednn.c — the oneDNN backend (backend.h): fp32, or bf16 inputs with fp32 accumulation
 * and output. Compiled only when the build found libdnnl (CMake BONE_ONEDNN).
 *
 * One matmul primitive per shape (M, N, K, transposes, leading dimensions, alpha, beta, data
 * type, weight layout), created on first use and kept in the context's cache (BONE_DNNL_CACHE
 * entries, the oldest replaced): creating a primitive costs far more than a small product.
 * Transposed operands are strided memory descriptors, never copies.
 *
 * Frozen weights (matmul_w with a pack slot) are reordered once into the layout the primitive
 * prefers (format_tag any; in bf16 mode also converted to bf16) and reused for every later
 * call with the same transposition: the forward (tw 'T') and the input-gradient product (tw 'N')
 * each get their own pack. Where a later call's M makes the primitive reject that layout, the
 * call uses the stored weight through a strided descriptor instead.
 *
 * bf16: activations are rounded to bf16 into a context scratch per call; a bf16-stored weight
 * is used in place; fp32/f16 weights are converted (once, into the pack, when frozen). */
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/dtype.h"
#include "core/err.h"
#include "ops/backend.h"

#define BONE_DNNL_CACHE 96

typedef struct dn_key {
    int64_t M, N, K, lda, ldb, ldc;
    char ta, tb, packed;
    int wdt; /* weight data type as given to the primitive */
    float alpha, beta;
    dnnl_memory_desc_t wmd; /* only when packed */
} dn_key;

typedef struct dn_entry {
    dn_key key;
    int used;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, dst;
} dn_entry;

typedef struct dn_ctx {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    int bf16;
    dn_entry cache[BONE_DNNL_CACHE];
    int next; /* round-robin victim */
    uint16_t *xs, *ws; /* bf16 scratch: activations, an fp32 operand converted */
    int64_t xs_cap, ws_cap;
} dn_ctx;

typedef struct dn_pack {
    char tw;
    const void *data;
    dnnl_memory_desc_t md;
    dnnl_memory_t mem; /* owns the packed buffer */
    size_t bytes;
} dn_pack;

#define DN_CHECK(call, what)                                                                   \
    do {                                                                                       \
        dnnl_status_t st_ = (call);                                                            \
        BONE_ASSERT(st_ == dnnl_success, what);                                                \
    } while (0)

static uint16_t *grow16(uint16_t **buf, int64_t *cap, int64_t n) {
    if (n > *cap) {
        free(*buf);
        *buf = xmalloc((size_t)n * sizeof(uint16_t));
        *cap = n;
    }
    return *buf;
}

/* rows × cols (stride ld) of an fp32 array to contiguous bf16 (round to nearest even) */
static void to_bf16(uint16_t *d, const float *s, int64_t rows, int64_t cols, int64_t ld) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) d[r * cols + c] = bone_f32_to_bf16(s[r * ld + c]);
}

/* 2-D md of a logical (R, C) operand stored row-major with stride ld, transposed when t = 'T' */
static void md2(dnnl_memory_desc_t *md, int64_t R, int64_t C, char t, int64_t ld, dnnl_data_type_t dt) {
    dnnl_dims_t dims = {R, C};
    dnnl_dims_t st = {t == 'T' ? 1 : ld, t == 'T' ? ld : 1};
    DN_CHECK(dnnl_memory_desc_init_by_strides(md, 2, dims, dt, st), "oneDNN: memory descriptor");
}

static int key_eq(const dn_key *a, const dn_key *b) {
    if (a->M != b->M || a->N != b->N || a->K != b->K || a->lda != b->lda || a->ldb != b->ldb || a->ldc != b->ldc ||
        a->ta != b->ta || a->tb != b->tb || a->packed != b->packed || a->wdt != b->wdt || a->alpha != b->alpha ||
        a->beta != b->beta)
        return 0;
    return !a->packed || dnnl_memory_desc_equal(&a->wmd, &b->wmd);
}

/* primitive desc for key k (weights md: k->wmd when packed, else strided; or format any when
 * want_any); NULL when oneDNN has no implementation */
static dnnl_primitive_desc_t make_pd(dn_ctx *x, const dn_key *k, int want_any) {
    const dnnl_data_type_t in = x->bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t smd, wmd, dmd;
    md2(&smd, k->M, k->K, k->ta, k->lda, in);
    if (want_any) {
        dnnl_dims_t dims = {k->K, k->N};
        DN_CHECK(dnnl_memory_desc_init_by_tag(&wmd, 2, dims, in, dnnl_format_tag_any), "oneDNN: weights md");
    } else if (k->packed) {
        wmd = k->wmd;
    } else {
        md2(&wmd, k->K, k->N, k->tb, k->ldb, (dnnl_data_type_t)k->wdt);
    }
    md2(&dmd, k->M, k->N, 'N', k->ldc, dnnl_f32);
    dnnl_matmul_desc_t d;
    DN_CHECK(dnnl_matmul_desc_init(&d, &smd, &wmd, NULL, &dmd), "oneDNN: matmul descriptor");
    dnnl_primitive_attr_t attr;
    DN_CHECK(dnnl_primitive_attr_create(&attr), "oneDNN: attr");
    if (k->alpha != 1.0f) DN_CHECK(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha), "oneDNN: scales");
    if (k->beta != 0.0f) {
        dnnl_post_ops_t po;
        DN_CHECK(dnnl_post_ops_create(&po), "oneDNN: post-ops");
        DN_CHECK(dnnl_post_ops_append_sum(po, k->beta), "oneDNN: sum post-op");
        DN_CHECK(dnnl_primitive_attr_set_post_ops(attr, po), "oneDNN: set post-ops");
        dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd = NULL;
    if (dnnl_primitive_desc_create(&pd, &d, attr, x->eng, NULL) != dnnl_success) pd = NULL;
    dnnl_primitive_attr_destroy(attr);
    return pd;
}

static void entry_clear(dn_entry *en) {
    if (!en->used) return;
    dnnl_primitive_destroy(en->prim);
    dnnl_memory_destroy(en->src);
    dnnl_memory_destroy(en->wei);
    dnnl_memory_destroy(en->dst);
    memset(en, 0, sizeof *en);
}

/* the cached primitive for k, created on a miss; NULL when oneDNN cannot do it */
static dn_entry *lookup(dn_ctx *x, const dn_key *k) {
    for (int i = 0; i < BONE_DNNL_CACHE; i++)
        if (x->cache[i].used && key_eq(&x->cache[i].key, k)) return &x->cache[i];
    dnnl_primitive_desc_t pd = make_pd(x, k, 0);
    if (!pd) return NULL;
    dn_entry *en = &x->cache[x->next];
    x->next = (x->next + 1) % BONE_DNNL_CACHE;
    entry_clear(en);
    en->key = *k;
    DN_CHECK(dnnl_primitive_create(&en->prim, pd), "oneDNN: primitive");
    DN_CHECK(dnnl_memory_create(&en->src, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), x->eng,
                                DNNL_MEMORY_NONE), "oneDNN: src memory");
    DN_CHECK(dnnl_memory_create(&en->wei, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), x->eng,
                                DNNL_MEMORY_NONE), "oneDNN: weights memory");
    DN_CHECK(dnnl_memory_create(&en->dst, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), x->eng,
                                DNNL_MEMORY_NONE), "oneDNN: dst memory");
    dnnl_primitive_desc_destroy(pd);
    en->used = 1;
    return en;
}

static void run(dn_ctx *x, dn_entry *en, const void *a, const void *b, float *c) {
    DN_CHECK(dnnl_memory_set_data_handle(en->src, (void *)a), "oneDNN: src handle");
    DN_CHECK(dnnl_memory_set_data_handle(en->wei, (void *)b), "oneDNN: weights handle");
    DN_CHECK(dnnl_memory_set_data_handle(en->dst, c), "oneDNN: dst handle");
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, en->src}, {DNNL_ARG_WEIGHTS, en->wei}, {DNNL_ARG_DST, en->dst}};
    DN_CHECK(dnnl_primitive_execute(en->prim, x->stream, 3, args), "oneDNN: matmul execute");
    DN_CHECK(dnnl_stream_wait(x->stream), "oneDNN: stream wait");
}

static void dn_gemm(bone_backend *be, char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                    int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    dn_ctx *x = be->context;
    const void *a = A, *b = B;
    if (x->bf16) { /* both operands to contiguous bf16 */
        const int64_t ar = ta == 'N' ? M : K, ac = ta == 'N' ? K : M, br = tb == 'N' ? K : N, bc = tb == 'N' ? N : K;
        uint16_t *as = grow16(&x->xs, &x->xs_cap, ar * ac), *bs = grow16(&x->ws, &x->ws_cap, br * bc);
        to_bf16(as, A, ar, ac, lda);
        to_bf16(bs, B, br, bc, ldb);
        a = as, b = bs, lda = ac, ldb = bc;
    }
    dn_key k = {M, N, K, lda, ldb, ldc, ta, tb, 0, x->bf16 ? dnnl_bf16 : dnnl_f32, alpha, beta, {0}};
    dn_entry *en = lookup(x, &k);
    BONE_ASSERT(en, "oneDNN has no matmul for this shape/data type (was the backend opened on an unsupported CPU?)");
    run(x, en, a, b, C);
}

/* a new pack of W (stored dtype, strided as (K, N) logical with transposition tw) in the layout
 * the primitive for (M, N, K) prefers; NULL when oneDNN offers none */
static dn_pack *make_pack(dn_ctx *x, const dn_key *k, bone_wref W) {
    dnnl_primitive_desc_t pd = make_pd(x, k, 1);
    if (!pd) return NULL;
    dn_pack *p = xcalloc(1, sizeof *p);
    p->tw = k->tb;
    p->data = W.data;
    p->md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_primitive_desc_destroy(pd);
    p->bytes = dnnl_memory_desc_get_size(&p->md);
    DN_CHECK(dnnl_memory_create(&p->mem, &p->md, x->eng, DNNL_MEMORY_ALLOCATE), "oneDNN: pack memory");
    /* reorder from the stored weight: bf16/f32 directly; f16 first to fp32 (reorders from f16
     * are not implemented on every ISA) */
    const int64_t rows = k->tb == 'T' ? k->N : k->K, cols = k->tb == 'T' ? k->K : k->N;
    float *tmp = NULL;
    const void *src = W.data;
    dnnl_data_type_t sdt = W.dtype == BONE_BF16 ? dnnl_bf16 : dnnl_f32;
    int64_t ld = k->ldb;
    if (W.dtype == BONE_F16) {
        tmp = xmalloc((size_t)(rows * cols) * sizeof(float));
        for (int64_t r = 0; r < rows; r++) bone_to_f32(tmp + r * cols, (const uint16_t *)W.data + r * ld, W.dtype, (size_t)cols);
        src = tmp, ld = cols;
    }
    dnnl_memory_desc_t smd;
    md2(&smd, k->K, k->N, k->tb, ld, sdt);
    dnnl_primitive_desc_t rpd;
    dnnl_memory_t sm;
    dnnl_primitive_t r;
    if (dnnl_reorder_primitive_desc_create(&rpd, &smd, x->eng, &p->md, x->eng, NULL) != dnnl_success) {
        free(tmp);
        dnnl_memory_destroy(p->mem);
        free(p);
        return NULL;
    }
    DN_CHECK(dnnl_primitive_create(&r, rpd), "oneDNN: reorder");
    dnnl_primitive_desc_destroy(rpd);
    DN_CHECK(dnnl_memory_create(&sm, &smd, x->eng, (void *)src), "oneDNN: reorder source");
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, sm}, {DNNL_ARG_TO, p->mem}};
    DN_CHECK(dnnl_primitive_execute(r, x->stream, 2, args), "oneDNN: reorder execute");
    DN_CHECK(dnnl_stream_wait(x->stream), "oneDNN: stream wait");
    dnnl_primitive_destroy(r);
    dnnl_memory_destroy(sm);
    free(tmp);
    return p;
}

static void dn_matmul_w(bone_backend *be, char tw, int64_t M, int64_t N, int64_t K, float alpha, const float *X,
                        int64_t ldx, bone_wref W, int64_t ldw, void **pack, float beta, float *C, int64_t ldc) {
    dn_ctx *x = be->context;
    const void *a = X;
    if (x->bf16) {
        uint16_t *xs = grow16(&x->xs, &x->xs_cap, M * K);
        to_bf16(xs, X, M, K, ldx);
        a = xs, ldx = K;
    }
    const dnnl_data_type_t in = x->bf16 ? dnnl_bf16 : dnnl_f32;
    dn_key k = {M, N, K, ldx, ldw, ldc, 'N', tw, 0, in, alpha, beta, {0}};
    if (pack) {
        dn_pack *p = *pack;
        BONE_ASSERT(!p || (p->data == W.data && p->tw == tw), "oneDNN: a weight pack was reused for another weight");
        if (!p) p = *pack = make_pack(x, &k, W);
        if (p) {
            dn_key kp = k;
            kp.packed = 1;
            kp.wmd = p->md;
            kp.ldb = 0;
            dn_entry *en = lookup(x, &kp);
            if (en) {
                void *h = NULL;
                DN_CHECK(dnnl_memory_get_data_handle(p->mem, &h), "oneDNN: pack handle");
                run(x, en, a, h, C);
                return;
            }
        }
    }
    const void *w = W.data;
    const int want = x->bf16 ? BONE_BF16 : BONE_F32;
    if ((int)W.dtype != want) { /* convert the weight for this call (W', a trained weight, f16) */
        const int64_t rows = tw == 'T' ? N : K, cols = tw == 'T' ? K : N;
        if (x->bf16) {
            uint16_t *ws = grow16(&x->ws, &x->ws_cap, rows * cols);
            if (W.dtype == BONE_F32) to_bf16(ws, W.data, rows, cols, ldw);
            else
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t c = 0; c < cols; c++)
                        ws[r * cols + c] = bone_f32_to_bf16(bone_f16_to_f32(((const uint16_t *)W.data)[r * ldw + c]));
            w = ws;
        } else { /* fp32 from bf16/f16: into the bf16 scratch reinterpreted as floats */
            uint16_t *ws = grow16(&x->ws, &x->ws_cap, 2 * rows * cols);
            float *wf = (float *)(void *)ws;
            for (int64_t r = 0; r < rows; r++) bone_to_f32(wf + r * cols, (const uint16_t *)W.data + r * ldw, W.dtype, (size_t)cols);
            w = wf;
        }
        k.ldb = cols;
    }
    dn_entry *en = lookup(x, &k);
    BONE_ASSERT(en, "oneDNN has no matmul for this shape/data type");
    run(x, en, a, w, C);
}

static void dn_pack_free(bone_backend *be, void *pack) {
    (void)be;
    dn_pack *p = pack;
    if (!p) return;
    dnnl_memory_destroy(p->mem);
    free(p);
}

static size_t dn_pack_bytes(const bone_backend *be, const void *pack) {
    (void)be;
    const dn_pack *p = pack;
    return p ? p->bytes : 0;
}

static void dn_free(bone_backend *be) {
    dn_ctx *x = be->context;
    if (!x) return;
    for (int i = 0; i < BONE_DNNL_CACHE; i++) entry_clear(&x->cache[i]);
    dnnl_stream_destroy(x->stream);
    dnnl_engine_destroy(x->eng);
    free(x->xs);
    free(x->ws);
    free(x);
    be->context = NULL;
}

static const bone_backend_i dn_iface = {dn_gemm, dn_matmul_w, dn_pack_free, dn_pack_bytes, dn_free};

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_avx512_core_amx: return "AMX";
    case dnnl_cpu_isa_avx512_core_bf16: return "AVX512-BF16";
    case dnnl_cpu_isa_avx512_core_vnni: return "AVX512-VNNI";
    case dnnl_cpu_isa_avx512_core: return "AVX512";
    case dnnl_cpu_isa_avx2_vnni: return "AVX2-VNNI";
    case dnnl_cpu_isa_avx2: return "AVX2";
    case dnnl_cpu_isa_avx: return "AVX";
    case dnnl_cpu_isa_sse41: return "SSE4.1";
    default: return "ISA?";
    }
}

int bone_onednn_open(bone_backend *be, int bf16, bone_err *e) {
    dn_ctx *x = xcalloc(1, sizeof *x);
    x->bf16 = bf16;
    if (dnnl_engine_create(&x->eng, dnnl_cpu, 0) != dnnl_success) {
        free(x);
        return bone_fail(e, "oneDNN: cannot create a CPU engine");
    }
    DN_CHECK(dnnl_stream_create(&x->stream, x->eng, dnnl_stream_default_flags), "oneDNN: stream");
    be->iface = &dn_iface;
    be->context = x;
    be->bf16 = bf16;
    const dnnl_version_t *v = dnnl_version();
    const char *isa = isa_name(dnnl_get_effective_cpu_isa());
    /* can oneDNN run this data type here at all? (2.6 has no bf16 matmul below AVX512-BF16) */
    dn_key k = {64, 64, 64, 64, 64, 64, 'N', 'N', 0, bf16 ? dnnl_bf16 : dnnl_f32, 1.0f, 0.0f, {0}};
    dnnl_primitive_desc_t pd = make_pd(x, &k, 0);
    if (!pd) {
        dn_free(be);
        be->iface = NULL;
        return bone_fail(e, "oneDNN %d.%d.%d has no %s matmul on this CPU (ISA %s)", v->major, v->minor, v->patch,
                         bf16 ? "bf16" : "fp32", isa);
    }
    const char *impl = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    snprintf(be->desc, sizeof be->desc, "%s, oneDNN %s (%d.%d.%d, %s)", bf16 ? "bf16" : "fp32", isa, v->major,
             v->minor, v->patch, impl);
    dnnl_primitive_desc_destroy(pd);
    return 0;
}
