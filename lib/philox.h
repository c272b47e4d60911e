/* philox.h — the Philox4x32-10 block function and draw j of a key, as inline code that
 * compiles both as C and as CUDA device code, so the CPU (rng.c) and GPU kernels (cuda/)
 * compute bit-identical random numbers: a seed gives the same dropout masks on both. */
#ifndef TP_PHILOX_H
#define TP_PHILOX_H

#include <stdint.h>

#include "hostdev.h"

#define TP_PHILOX_M0 0xD2511F53u
#define TP_PHILOX_M1 0xCD9E8D57u
#define TP_PHILOX_W0 0x9E3779B9u
#define TP_PHILOX_W1 0xBB67AE85u

/* out = Philox4x32-10(counter c0..c3, key k0 k1). */
TP_HD static inline void tp_philox_block(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                                         uint32_t out[4])
{
    for (int round = 0; round < 10; round++) {
        if (round) {
            k0 += TP_PHILOX_W0;
            k1 += TP_PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)TP_PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)TP_PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* Draw j of the generator with key k0 k1: word j % 4 of the block at counter j / 4. */
TP_HD static inline uint32_t tp_philox_at(uint32_t k0, uint32_t k1, uint64_t j)
{
    uint64_t b = j >> 2;
    uint32_t out[4];
    tp_philox_block((uint32_t)b, (uint32_t)(b >> 32), 0, 0, k0, k1, out);
    return out[j & 3];
}

/* The child key of key k0 k1 for id (tp_rng_split): the block at counter {id, "SPLT", 0}. */
TP_HD static inline void tp_philox_split(uint32_t k0, uint32_t k1, uint64_t id, uint32_t child[2])
{
    uint32_t out[4];
    tp_philox_block((uint32_t)id, (uint32_t)(id >> 32), 0x53504C54u, 0, k0, k1, out);
    child[0] = out[0];
    child[1] = out[1];
}

#endif
