/*
 * exec/rand.h - per-worker pseudo-random numbers for victim selection.
 *
 * xorshift64*: cheap, good enough to spread steal attempts; the state is
 * owned by one worker and never shared.
 */
#ifndef BCL_EXEC_RAND_H
#define BCL_EXEC_RAND_H

#include <stdint.h>

struct bcl__rand {
    uint64_t state; /* never 0 */
};

static inline void
bcl__rand_seed(struct bcl__rand *r, uint64_t seed)
{
    r->state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static inline uint32_t
bcl__rand_next(struct bcl__rand *r)
{
    uint64_t x = r->state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

/* Uniform-enough value in [0, n), n > 0 (Lemire's multiply-shift). */
static inline uint32_t
bcl__rand_below(struct bcl__rand *r, uint32_t n)
{
    return (uint32_t)(((uint64_t)bcl__rand_next(r) * n) >> 32);
}

#endif /* BCL_EXEC_RAND_H */
