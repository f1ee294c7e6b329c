/* rng.h — a small deterministic random generator (splitmix64) whose state lives with its
 * user: uniform floats and normal(0,1) via Box–Muller. Same seed → same stream. */
#ifndef BONE_CORE_RNG_H
#define BONE_CORE_RNG_H
#include <math.h>
#include <stdint.h>

typedef struct bone_rng { uint64_t s; } bone_rng;

static inline uint64_t bone_rng_u64(bone_rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* uniform in [0, 1) with 53 random bits */
static inline double bone_rng_uniform(bone_rng *r) { return (double)(bone_rng_u64(r) >> 11) * 0x1.0p-53; }
static inline double bone_rng_normal(bone_rng *r) {
    double u1 = bone_rng_uniform(r), u2 = bone_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
static inline bone_rng bone_rng_seed(uint64_t seed, uint64_t stream) {
    bone_rng r = {seed ^ (stream * 0xd1b54a32d192ed03ull)};
    bone_rng_u64(&r);
    return r;
}

#endif
