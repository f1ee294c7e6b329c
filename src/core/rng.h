/* rng.h — the one random generator (splitmix64), state held by its user, no global state:
 * uniform doubles and normal(0,1) via Box–Muller. Same seed → same stream. Two ways to seed it:
 * bone_rng_seed(seed, stream) (initialisation, data order, tests) and bone_rng_make(seed, a, b)
 * (the adapters: one independent stream per linear and purpose), plus the counter-based hash
 * bone_mix64 for values addressed by index (dropout masks). */
#ifndef BONE_CORE_RNG_H
#define BONE_CORE_RNG_H
#include <math.h>
#include <stdint.h>

typedef struct bone_rng { uint64_t s; } bone_rng;

#define BONE_RNG_GAMMA 0x9e3779b97f4a7c15ull
/* splitmix64's output function of z + γ */
static inline uint64_t bone_mix64(uint64_t z) {
    z += BONE_RNG_GAMMA;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* the next value: advance by γ, then the output function of the new state */
static inline uint64_t bone_rng_u64(bone_rng *r) {
    r->s += BONE_RNG_GAMMA;
    return bone_mix64(r->s - BONE_RNG_GAMMA);
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

/* A stream named by (seed, a, b): independent streams per linear and purpose. (The state is
 * stored one γ ahead so that this generator's values are bit-identical to those of the adapter
 * generator it replaced, which hashed state + γ.) */
static inline bone_rng bone_rng_make(uint64_t seed, uint64_t a, uint64_t b) {
    bone_rng r = {bone_mix64(bone_mix64(seed) ^ bone_mix64(a + 0x632be59bd9b4e019ull) ^ (b * 0xd1342543de82ef95ull)) +
                  BONE_RNG_GAMMA};
    return r;
}

#endif
