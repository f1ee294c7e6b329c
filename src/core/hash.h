/* hash.h — FNV-1a 64, the one non-cryptographic hash of bone: safetensors' data checksum and
 * name table, checkpoint metadata checksums, the model and data identities a resume checks. */
#ifndef BONE_CORE_HASH_H
#define BONE_CORE_HASH_H
#include <stddef.h>
#include <stdint.h>

#define BONE_FNV1A64_INIT 0xcbf29ce484222325ull /* the offset basis: start every hash here */

/* FNV-1a 64 of n bytes, continuing from h */
static inline uint64_t bone_fnv1a64(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
#endif
