/* The per-model generator: xoshiro256** seeded through splitmix64. */
#include "internal.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void ae_rng_seed(ae_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ae_rng_next(ae_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double ae_rng_uniform(ae_rng *rng) { return (double)(ae_rng_next(rng) >> 11) * 0x1.0p-53; }

double ae_rng_normal(ae_rng *rng)
{
    /* Box-Muller; 1 - u keeps the logarithm's argument in (0, 1]. */
    double radius = sqrt(-2.0 * log(1.0 - ae_rng_uniform(rng)));
    return radius * cos(6.283185307179586 * ae_rng_uniform(rng));
}

uint64_t ae_rng_below(ae_rng *rng, uint64_t bound)
{
    /* Reject the top sliver of the range so every value is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do
        r = ae_rng_next(rng);
    while (r >= limit);
    return r % bound;
}
