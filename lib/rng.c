/* rng.c — see rng.h. */
#include "rng.h"

#include <math.h>

#include "philox.h"

void tp_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    tp_philox_block(ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1], out);
}

void tp_rng_seed(tp_rng *r, uint64_t seed)
{
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->pos = 0;
}

tp_rng tp_rng_split(const tp_rng *r, uint64_t id)
{
    tp_rng c;
    tp_philox_split(r->key[0], r->key[1], id, c.key);
    c.pos = 0;
    return c;
}

uint32_t tp_rng_at(const uint32_t key[2], uint64_t j) { return tp_philox_at(key[0], key[1], j); }

uint32_t tp_rng_u32(tp_rng *r)
{
    unsigned w = (unsigned)(r->pos & 3);
    if (w == 0) {
        uint64_t b = r->pos >> 2;
        uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), 0, 0};
        tp_philox4x32_10(ctr, r->key, r->block);
    }
    r->pos++;
    return r->block[w];
}

float tp_rng_float(tp_rng *r) { return (float)(tp_rng_u32(r) >> 8) * 0x1p-24f; }

double tp_rng_double(tp_rng *r)
{
    uint64_t hi = tp_rng_u32(r) >> 5, lo = tp_rng_u32(r) >> 6; /* 27 + 26 bits */
    return (double)(hi << 26 | lo) * 0x1p-53;
}

uint64_t tp_rng_below(tp_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    if (n <= UINT32_MAX) { /* Lemire's multiply-and-reject */
        uint32_t n32 = (uint32_t)n;
        uint64_t m = (uint64_t)tp_rng_u32(r) * n32;
        uint32_t lo = (uint32_t)m;
        if (lo < n32) {
            uint32_t t = (uint32_t)(-n32) % n32;
            while (lo < t) {
                m = (uint64_t)tp_rng_u32(r) * n32;
                lo = (uint32_t)m;
            }
        }
        return m >> 32;
    }
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, v;
    do
        v = (uint64_t)tp_rng_u32(r) << 32 | tp_rng_u32(r);
    while (v >= limit);
    return v % n;
}

double tp_rng_normal(tp_rng *r)
{
    double u1 = 1.0 - tp_rng_double(r); /* (0, 1]: log is finite */
    double u2 = tp_rng_double(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void tp_rng_shuffle(tp_rng *r, int64_t *a, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)tp_rng_below(r, (uint64_t)i + 1);
        int64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
