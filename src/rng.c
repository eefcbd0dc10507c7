/* rng.c — splitmix64 (Steele, Lea, Flood 2014): tiny, seedable, identical on every platform. */
#include "internal.h"

uint64_t mg_rng_u64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float mg_rng_uniform(uint64_t *state) { return (float)(mg_rng_u64(state) >> 40) * (1.0f / 16777216.0f); }
