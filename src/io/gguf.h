/* gguf.h — GGUF v3 (llama.cpp's file format): a writer that builds the metadata and tensor
 * table in memory and streams the tensors (converted to F32/F16/BF16/Q8_0 on write) into an
 * atomic file, and a strict reader that checks every count, length and offset against the file
 * size before it trusts it (the same discipline as the safetensors reader).
 * Layout and types: docs/GGUF.md. All multi-byte values are little-endian. */
#ifndef BONE_IO_GGUF_H
#define BONE_IO_GGUF_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "core/err.h"

/* metadata value types (gguf.h enum gguf_type) */
enum {
    GGUF_T_U8 = 0, GGUF_T_I8 = 1, GGUF_T_U16 = 2, GGUF_T_I16 = 3, GGUF_T_U32 = 4, GGUF_T_I32 = 5,
    GGUF_T_F32 = 6, GGUF_T_BOOL = 7, GGUF_T_STRING = 8, GGUF_T_ARRAY = 9, GGUF_T_U64 = 10,
    GGUF_T_I64 = 11, GGUF_T_F64 = 12, GGUF_T_COUNT = 13
};
/* the tensor types bone writes (ggml_type ids); the reader knows more (bone_gguf_type_info) */
enum { GGML_F32 = 0, GGML_F16 = 1, GGML_Q8_0 = 8, GGML_BF16 = 30 };

#define BONE_GGUF_MAGIC 0x46554747u   /* "GGUF" read as a little-endian u32 */
#define BONE_GGUF_VERSION 3
#define BONE_GGUF_ALIGN 32            /* GGUF_DEFAULT_ALIGNMENT */
#define BONE_GGUF_MAX_DIMS 4
#define BONE_GGUF_MAX_NAME 63         /* ggml: tensor names < GGML_MAX_NAME (64) */
#define BONE_GGUF_MAX_LEN (1ull << 30) /* longest string / array the reader accepts (as ggml) */

/* Block size (values) and bytes per block of a ggml type; name. 0 when the type is unknown. */
int bone_gguf_type_info(uint32_t type, uint64_t *block, uint64_t *bytes, const char **name);
const char *bone_gguf_kv_type_name(uint32_t t);

/* ---- writer ---- */
typedef struct bone_gguf_w bone_gguf_w;

/* One tensor to write. The source is `src` (src_dtype, row-major, PyTorch shape = ne reversed),
 * each value encoded as `type`. perm_heads > 0 writes the rows in llama.cpp's Q/K order
 * for that many heads (docs/GGUF.md §3.6: output row h·hd + 2i + j = input row h·hd + j·hd/2 + i).
 * The source must stay valid until bone_gguf_w_write returns; `owned` (may be NULL) is freed
 * with the writer. */
typedef struct bone_gguf_wt {
    char *name;
    uint32_t type;
    int ndim;
    int64_t ne[BONE_GGUF_MAX_DIMS];  /* GGUF order: ne[0] is the fastest-varying dimension */
    const void *src;
    bone_dtype src_dtype;
    int64_t perm_heads;
    void *owned;
} bone_gguf_wt;

bone_gguf_w *bone_gguf_w_new(void);
void bone_gguf_w_free(bone_gguf_w *w);
/* Metadata, written in the order added (general.architecture first, as gguf-py does). */
void bone_gguf_w_str(bone_gguf_w *w, const char *key, const char *v);
void bone_gguf_w_u32(bone_gguf_w *w, const char *key, uint32_t v);
void bone_gguf_w_i32(bone_gguf_w *w, const char *key, int32_t v);
void bone_gguf_w_f32(bone_gguf_w *w, const char *key, float v);
void bone_gguf_w_bool(bone_gguf_w *w, const char *key, int v);
void bone_gguf_w_arr_str(bone_gguf_w *w, const char *key, const char *const *v, const uint32_t *len, uint64_t n);
void bone_gguf_w_arr_f32(bone_gguf_w *w, const char *key, const float *v, uint64_t n);
void bone_gguf_w_arr_i32(bone_gguf_w *w, const char *key, const int32_t *v, uint64_t n);
/* Adds a tensor (t is copied; t->name is copied too). Checks the name length, dims and the
 * type's block size against ne[0]; -1 with a message naming the tensor. */
int bone_gguf_w_tensor(bone_gguf_w *w, const bone_gguf_wt *t, bone_err *e);
/* Writes the file atomically (temporary + fsync + rename). */
int bone_gguf_w_write(bone_gguf_w *w, const char *path, bone_err *e);

/* Q8_0 of one row of n values (n a multiple of 32) into n/32·34 bytes (ggml's reference
 * quantize_row_q8_0: d = amax/127 stored as f16, q = round-half-away(x/d)). */
void bone_q8_0_quantize(const float *x, uint8_t *out, int64_t n);
void bone_q8_0_dequantize(const uint8_t *in, float *x, int64_t n);
/* ggml's f32 → bf16 (NaN kept quiet with its sign and high payload bits). */
uint16_t bone_gguf_f32_to_bf16(float f);

/* ---- reader ---- */
typedef struct bone_gguf_kv {
    char *key;
    uint32_t type;      /* GGUF_T_* */
    uint32_t arr_type;  /* element type when type == ARRAY */
    uint64_t n;         /* ARRAY: element count; STRING: byte length */
    const uint8_t *val; /* into the buffer: the value (ARRAY: the first element) */
} bone_gguf_kv;

typedef struct bone_gguf_tensor {
    char *name;
    uint32_t ndim, type;
    int64_t ne[BONE_GGUF_MAX_DIMS]; /* unused dims are 1 */
    uint64_t offset, nbytes;        /* offset relative to the data section */
    const uint8_t *data;
} bone_gguf_tensor;

typedef struct bone_gguf {
    void *map;          /* mapping owned by bone_gguf_open (NULL when parsed from a buffer) */
    size_t size;
    uint32_t version, alignment;
    uint64_t n_kv, n_tensors, data_start;
    bone_gguf_kv *kv;
    bone_gguf_tensor *t;
} bone_gguf;

/* Validates a whole file image (the fuzzer calls this directly): magic, version 3, every
 * string/array length and count within the file, no duplicate keys or tensor names, known
 * value and tensor types, general.alignment a u32 power of two, dims <= 4, overflow-free
 * element counts, ne[0] a multiple of the block size, offsets contiguous in table order and
 * aligned, data within the file. Pointers refer into buf. */
int bone_gguf_parse(bone_gguf *g, const char *what, const uint8_t *buf, size_t size, bone_err *e);
int bone_gguf_open(bone_gguf *g, const char *path, bone_err *e);
void bone_gguf_close(bone_gguf *g);
const bone_gguf_kv *bone_gguf_find(const bone_gguf *g, const char *key);
const bone_gguf_tensor *bone_gguf_find_tensor(const bone_gguf *g, const char *name);
/* Strict typed getters: the key must exist with exactly that type (as llama.cpp's loader). */
int bone_gguf_get_u32(const bone_gguf *g, const char *key, uint32_t *v, bone_err *e);
int bone_gguf_get_f32(const bone_gguf *g, const char *key, float *v, bone_err *e);
/* A string value (not NUL-terminated in the file): copied into a new NUL-terminated string. */
char *bone_gguf_get_str(const bone_gguf *g, const char *key, bone_err *e);
/* Element i of an array of strings: pointer into the file and length (walks the array). */
int bone_gguf_arr_str(const bone_gguf_kv *kv, uint64_t i, const char **s, uint64_t *len);
/* Tensor values as fp32 (F32, F16, BF16, Q8_0); n = the tensor's element count. */
int bone_gguf_tensor_f32(const bone_gguf_tensor *t, float *out, bone_err *e);

#endif
