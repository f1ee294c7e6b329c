/* safetensors.h — strict safetensors reader (mmap, FORMATS.md §1.4 validation, sharded
 * checkpoints via model.safetensors.index.json) and a writer that transformers loads. */
#ifndef BONE_IO_SAFETENSORS_H
#define BONE_IO_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "core/err.h"

#define BONE_ST_MAX_DIMS 8

typedef struct bone_st_tensor {
    char *name;
    char dtype_name[16];   /* as in the header, e.g. "BF16", "I64" */
    int supported;         /* 1 if dtype is F32/BF16/F16 (then `dtype` is valid) */
    bone_dtype dtype;
    int ndim;
    int64_t shape[BONE_ST_MAX_DIMS];
    int64_t numel;
    const void *data;      /* into the mapping */
    uint64_t nbytes;
    int file;              /* index into files */
} bone_st_tensor;

typedef struct bone_st_file {
    char *path;
    void *map;
    size_t size;
    char **meta;      /* __metadata__ as key, value, key, value, ... */
    int nmeta;        /* number of pairs */
} bone_st_file;

typedef struct bone_st_set {
    bone_st_file *files;
    int nfiles;
    bone_st_tensor *t;
    int64_t n, cap;
    int64_t *slot;    /* name hash table: tensor index + 1, 0 = empty (bone_st_find is O(1)) */
    int64_t nslot;    /* a power of two, at least 2n */
} bone_st_set;

/* At most this many tensors in one set: far above any released checkpoint (DeepSeek-V3 has
 * about 92,000 across all shards), small enough that a hostile header cannot make loading slow. */
#define BONE_ST_MAX_TENSORS 1000000

void bone_st_init(bone_st_set *s);
/* Opens one file and adds its tensors (duplicate names across files are an error). */
int bone_st_open_file(bone_st_set *s, const char *path, bone_err *e);
/* Opens a model directory: model.safetensors, or the shards named by
 * model.safetensors.index.json (each tensor must live in the shard the index names). */
int bone_st_open_dir(bone_st_set *s, const char *dir, bone_err *e);
const bone_st_tensor *bone_st_find(const bone_st_set *s, const char *name);
/* Finds a tensor and checks its dtype is supported and its shape equals the given one. */
const bone_st_tensor *bone_st_get(const bone_st_set *s, const char *name, int ndim, const int64_t *shape,
                                  bone_err *e);
/* Checks that a supported tensor's data is aligned to its element size (tensors are used in
 * place; a header whose length is not padded can misalign them). 0 if aligned. */
int bone_st_check_aligned(const bone_st_set *s, const bone_st_tensor *t, bone_err *e);
void bone_st_close(bone_st_set *s);
/* __metadata__ value of key in file `file`, or NULL. */
const char *bone_st_meta(const bone_st_set *s, int file, const char *key);
/* Checksum (FNV-1a 64) of a file's data area: what checkpoints record to detect corruption. */
uint64_t bone_st_data_hash(const bone_st_set *s, int file);

/* Validates a complete file image held in memory (used by the reader and the fuzzer). On
 * success fills the tensors (data pointers into buf) for file index `file`. */
int bone_st_parse(bone_st_set *s, const char *what, const uint8_t *buf, size_t size, int file, bone_err *e);

struct bone_st_wtensor;
/* A tensor made only when it is written: fills buf (numel floats) with its fp32 values,
 * which the writer converts to the tensor's dtype. The writer lends one buffer, sized for the
 * largest produced tensor and reused for each, so a streaming writer (init, merge, model
 * saves) holds one tensor at a time. Returns 0, or -1 with e set (the write is abandoned). */
typedef int (*bone_st_produce_fn)(void *ctx, const struct bone_st_wtensor *t, float *buf, bone_err *e);

typedef struct bone_st_wtensor {
    const char *name;
    bone_dtype dtype;      /* dtype to store */
    int ndim;
    int64_t shape[BONE_ST_MAX_DIMS];
    const void *data;      /* already in `dtype` unless src_f32 or produce is set */
    const float *src_f32;  /* if non-NULL: fp32 source converted to `dtype` on write */
    bone_st_produce_fn produce; /* if non-NULL: called for the fp32 values at write time */
    void *ctx;             /* passed to produce */
} bone_st_wtensor;

/* Writes a safetensors file atomically in the reference layout (sorted by dtype then name,
 * __metadata__ {"format":"pt"}, header padded to a multiple of 8). */
int bone_st_write(const char *path, const bone_st_wtensor *t, int64_t n, bone_err *e);
/* The same with extra __metadata__ entries: meta = {key, value, key, value, ..., NULL}
 * (written after "format"). If hash_key is non-NULL, the FNV-1a 64 hash of the data area is
 * added under that key (as 16 hex digits). */
int bone_st_write_meta(const char *path, const bone_st_wtensor *t, int64_t n, const char *const *meta,
                       const char *hash_key, bone_err *e);

/* transformers' default max_shard_size, "5GB" = 5·10^9 bytes. */
#define BONE_ST_SHARD_DEFAULT 5000000000ull
/* Parses a shard size as transformers' max_shard_size does: a whole number of bytes, or a
 * whole number with a unit KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024),
 * case-insensitive ("5GB", "500MiB", "2000000"). A lowercase final "b" (transformers reads
 * "5Gb" as gigabits) is refused as ambiguous. what names the option in messages. */
int bone_st_parse_size(const char *s, const char *what, uint64_t *out, bone_err *e);
/* Writes tensors t[0..n) — given in the model's state-dict order — into directory dir as
 * transformers' save_pretrained does: one model.safetensors when they fit in max_shard bytes
 * (0: BONE_ST_SHARD_DEFAULT), else shards model-0000i-of-0000N.safetensors filled greedily in
 * that order (a tensor larger than the limit gets a shard of its own) plus
 * model.safetensors.index.json ({"metadata": {"total_parameters", "total_size"}, "weight_map"},
 * indent 2, keys sorted). Each file is written atomically; produce callbacks run once per
 * tensor. *nshards (may be NULL) receives the number of files, 1 for a single file. */
int bone_st_write_sharded(const char *dir, const bone_st_wtensor *t, int64_t n, uint64_t max_shard, int *nshards,
                          bone_err *e);

#endif
