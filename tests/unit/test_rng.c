/* Unit tests of the Philox4x32-10 generator (lib/rng.c). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rng.h"

/* Random123's published known-answer vectors (kat_vectors, "philox4x32 10" lines). */
static void test_kat(void)
{
    static const uint32_t v[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
         0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
         0x5001e420, 0x24126ea1},
    };
    for (int i = 0; i < 3; i++) {
        uint32_t out[4];
        tp_philox4x32_10(v[i], v[i] + 4, out);
        for (int k = 0; k < 4; k++)
            CHECK_INT(out[k], v[i][6 + k]);
    }
}

/* Sequential draws equal the pure out-of-order function; seeds and splits differ. */
static void test_counter_based(void)
{
    tp_rng r;
    tp_rng_seed(&r, 42);
    for (uint64_t j = 0; j < 1000; j++)
        CHECK_INT(tp_rng_u32(&r), tp_rng_at(r.key, j));
    tp_rng a, b;
    tp_rng_seed(&a, 7);
    tp_rng_seed(&b, 7);
    tp_rng c1 = tp_rng_split(&a, 1), c1b = tp_rng_split(&b, 1), c2 = tp_rng_split(&a, 2);
    CHECK(c1.key[0] == c1b.key[0] && c1.key[1] == c1b.key[1]);
    CHECK(c1.key[0] != c2.key[0] || c1.key[1] != c2.key[1]);
    int same = 0;
    for (int i = 0; i < 64; i++)
        same += tp_rng_u32(&c1) == tp_rng_u32(&c2);
    CHECK(same < 3);
    tp_rng s1, s2;
    tp_rng_seed(&s1, 1);
    tp_rng_seed(&s2, 2);
    CHECK(tp_rng_u32(&s1) != tp_rng_u32(&s2));
}

/* Distribution checks with bounds of about 5 standard errors (fixed seed: deterministic). */
static void test_distributions(void)
{
    tp_rng r;
    tp_rng_seed(&r, 12345);
    const int n = 1000000;
    double sf = 0, sd = 0, sn = 0, sn2 = 0;
    float fmin = 1, fmax = 0;
    for (int i = 0; i < n; i++) {
        float f = tp_rng_float(&r);
        fmin = f < fmin ? f : fmin;
        fmax = f > fmax ? f : fmax;
        sf += f;
        sd += tp_rng_double(&r);
        double z = tp_rng_normal(&r);
        sn += z;
        sn2 += z * z;
    }
    CHECK(fmin >= 0 && fmax < 1);
    double se = sqrt(1.0 / 12 / n);
    CHECK_NEAR(sf / n, 0.5, 5 * se);
    CHECK_NEAR(sd / n, 0.5, 5 * se);
    CHECK_NEAR(sn / n, 0, 5 / sqrt(n));
    CHECK_NEAR(sn2 / n, 1, 5 * sqrt(2.0 / n));
    /* below(10): chi-square with 9 degrees of freedom; 99.99th percentile is about 33.7 */
    int64_t cnt[10] = {0};
    for (int i = 0; i < n; i++)
        cnt[tp_rng_below(&r, 10)]++;
    double chi = 0;
    for (int k = 0; k < 10; k++)
        chi += (cnt[k] - n / 10.0) * (cnt[k] - n / 10.0) / (n / 10.0);
    CHECK(chi < 33.7);
    /* a non-power-of-two range near 2^32 and one above it stay in range */
    for (int i = 0; i < 1000; i++) {
        CHECK(tp_rng_below(&r, 3000000019u) < 3000000019u);
        CHECK(tp_rng_below(&r, 10000000000ull) < 10000000000ull);
    }
    CHECK_INT(tp_rng_below(&r, 1), 0);
}

static void test_shuffle(void)
{
    tp_rng r;
    tp_rng_seed(&r, 3);
    int64_t a[100];
    for (int i = 0; i < 100; i++)
        a[i] = i;
    tp_rng_shuffle(&r, a, 100);
    int seen[100] = {0}, moved = 0;
    for (int i = 0; i < 100; i++) {
        seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < 100; i++)
        CHECK_INT(seen[i], 1);
    CHECK(moved > 80);
}

int main(void)
{
    test_kat();
    test_counter_based();
    test_distributions();
    test_shuffle();
    return check_result();
}
