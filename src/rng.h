/*
 * rng: a small, seedable pseudo-random source (splitmix64 seeding a
 * xoshiro256** state). Not for secrets: it spreads load across MX hosts
 * of equal preference and makes that order reproducible in tests.
 */
#ifndef MXSEND_RNG_H
#define MXSEND_RNG_H

#include <stdint.h>

struct rng {
	uint64_t s[4]; /* xoshiro256** state */
};

void rng_seed(struct rng *r, uint64_t seed);
/* A seed from the kernel's random source, or from the clock if that fails. */
uint64_t rng_seed_from_system(void);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, bound), bound > 0, without modulo bias. */
uint32_t rng_below(struct rng *r, uint32_t bound);
/* A 64-bit hash of a string (FNV-1a), to derive per-item seeds. */
uint64_t rng_hash(const char *s);

#endif
