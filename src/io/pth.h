/* pth.h — a strict reader and a writer of PyTorch `.pth` tensor state dicts (the zip form that
 * torch.save writes since 1.6: `<prefix>/data.pkl`, `<prefix>/data/<key>`, `<prefix>/version`).
 *
 * The reader never executes anything: data.pkl is read by a small pickle machine that knows only
 * the protocol-2 opcodes and the globals a tensor dict uses (torch._utils._rebuild_tensor_v2,
 * torch.{BFloat16,Half,Float}Storage, collections.OrderedDict); any other global, opcode or shape
 * of data is refused with the file and what was wrong. The zip must hold stored (uncompressed)
 * entries with unique names inside the file; zip64 is read as a size extension only (the zip64 end
 * record and locator, and 64-bit sizes/offsets in zip64 extra fields where the 32-bit field is the
 * 0xFFFFFFFF placeholder), so files over 4 GiB (the official 3B/7B/14B) load; every CRC, offset,
 * shape and stride is checked, and tensors must be contiguous. The legacy non-zip torch.save form
 * is refused by name. See FORMATS.md §6.6 and docs/bad-inputs.md. */
#ifndef BONE_IO_PTH_H
#define BONE_IO_PTH_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "core/err.h"

#define BONE_PTH_MAX_DIMS 8

typedef struct bone_pth_tensor {
    char *name;
    bone_dtype dtype;
    int ndim;
    int64_t shape[BONE_PTH_MAX_DIMS];
    int64_t numel;
    const void *data; /* into the file's mapping; not necessarily aligned (copy with memcpy) */
    uint64_t nbytes;
} bone_pth_tensor;

typedef struct bone_pth {
    char *path;
    void *map;
    size_t size;
    bone_pth_tensor *t; /* in the order of the pickled dict */
    int64_t n;
} bone_pth;

/* Maps and validates a file. On failure p is left empty (nothing to close). */
int bone_pth_open(bone_pth *p, const char *path, bone_err *e);
/* Validates a file image in memory (what names it in messages); tensors point into buf, which
 * must outlive p. Used by bone_pth_open and the fuzzer. */
int bone_pth_parse(bone_pth *p, const char *what, const uint8_t *buf, size_t size, bone_err *e);
/* The same with the CRC checks optional: check_crc = 0 only for the fuzzer, so that mutated
 * inputs reach the pickle machine instead of stopping at a CRC mismatch. */
int bone_pth_parse_ex(bone_pth *p, const char *what, const uint8_t *buf, size_t size, int check_crc, bone_err *e);
const bone_pth_tensor *bone_pth_find(const bone_pth *p, const char *name);
void bone_pth_close(bone_pth *p);

typedef struct bone_pth_wtensor {
    const char *name;
    bone_dtype dtype;
    int ndim;
    int64_t shape[BONE_PTH_MAX_DIMS];
    const void *data; /* numel elements of dtype, contiguous */
} bone_pth_wtensor;

/* Writes a state dict (a plain dict, in the given order) that torch.load(path, weights_only=True)
 * reads: stored entries with 64-byte aligned data as torch writes them, pickle protocol 2,
 * `archive/data.pkl`, `archive/data/N`, `archive/version`. Atomic (temporary + rename). zip64
 * records are written where a size, an offset or the entry count needs them (files over 4 GiB:
 * 3B and larger in bf16). */
int bone_pth_write(const char *path, const bone_pth_wtensor *t, int64_t n, bone_err *e);

typedef struct bone_pth_wopts {
    int force_zip64; /* tests only: zip64 records and 0xFFFFFFFF placeholders everywhere, as if every
                      * size and offset were past 4 GiB, so small files exercise the zip64 paths */
} bone_pth_wopts;
/* bone_pth_write with options (o may be NULL: the defaults). */
int bone_pth_write_ex(const char *path, const bone_pth_wtensor *t, int64_t n, const bone_pth_wopts *o, bone_err *e);

#endif
