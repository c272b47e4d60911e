/* rng.h — seeded, splittable, counter-based random numbers (Philox4x32-10).
 *
 * A generator is a 64-bit key and a position. Draw j of a generator is a pure function
 *     word (j % 4) of philox4x32_10(counter = {j/4 low 32 bits, j/4 high 32 bits, 0, 0}, key)
 * so any draw can be computed out of order — a GPU thread computes draw j directly and gets
 * the same number as the CPU. tp_rng_split derives an independent child key from the parent
 * key and an id (counter word 2 = "SPLT"), e.g. one child per epoch, per record, per layer.
 * Conversions: uniform float = (u >> 8) * 2^-24; uniform double = 53 bits from two draws.
 * Philox4x32-10 is the generator of Random123 and cuRAND's philox4_32_10.
 */
#ifndef TP_RNG_H
#define TP_RNG_H

#include <stdint.h>

typedef struct {
    uint32_t key[2];
    uint64_t pos; /* index of the next 32-bit draw */
    uint32_t block[4];
} tp_rng;

/* The Philox4x32-10 block function. */
void tp_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* A generator for seed, at position 0. */
void tp_rng_seed(tp_rng *r, uint64_t seed);
/* An independent child generator of r for id, at position 0 (r is unchanged). */
tp_rng tp_rng_split(const tp_rng *r, uint64_t id);
/* Draw j of the generator with key (pure; the position is not used or changed). */
uint32_t tp_rng_at(const uint32_t key[2], uint64_t j);

/* The next 32 random bits. */
uint32_t tp_rng_u32(tp_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float tp_rng_float(tp_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double tp_rng_double(tp_rng *r);
/* Uniform integer in [0, n), n >= 1, without modulo bias. */
uint64_t tp_rng_below(tp_rng *r, uint64_t n);
/* Standard normal (Box-Muller on two doubles). */
double tp_rng_normal(tp_rng *r);
/* Fisher-Yates shuffle of a[0..n). */
void tp_rng_shuffle(tp_rng *r, int64_t *a, int64_t n);

#endif
