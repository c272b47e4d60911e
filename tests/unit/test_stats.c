/* Unit tests of lib/stats.c: the vector u8 path against sums worked out directly. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rng.h"
#include "stats.h"

int main(void)
{
    tp_rng r;
    tp_rng_seed(&r, 9);
    /* lengths around the 16-byte vector step, offsets to test unaligned loads */
    for (size_t n = 0; n < 70; n++)
        for (size_t off = 0; off < 3; off++) {
            uint8_t *b = malloc(n + off + 1);
            uint64_t sum = 0;
            int mn = 255, mx = 0;
            for (size_t i = 0; i < n; i++) {
                uint8_t v = (uint8_t)(40 + tp_rng_below(&r, 100));
                b[off + i] = v;
                sum += v;
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
            }
            tp_stats s;
            tp_stats_init(&s);
            tp_stats_add(&s, b + off, TP_U8, n);
            CHECK_INT(s.n, n);
            CHECK(s.sum == (double)sum);
            if (n) {
                CHECK(s.min == mn && s.max == mx);
            }
            free(b);
        }
    /* extremes 0 and 255 at the last position of a vector block and in the tail */
    uint8_t b[40];
    memset(b, 7, sizeof b);
    b[15] = 0;
    b[39] = 255;
    tp_stats s;
    tp_stats_init(&s);
    tp_stats_add(&s, b, TP_U8, 40);
    CHECK(s.min == 0 && s.max == 255 && s.sum == 7.0 * 38 + 255);
    /* a large run: the 64-bit sum does not wrap */
    size_t big = (size_t)40 << 20;
    uint8_t *m = malloc(big);
    memset(m, 255, big);
    tp_stats_init(&s);
    tp_stats_add(&s, m, TP_U8, big);
    CHECK(s.sum == 255.0 * (double)big);
    free(m);
    /* other dtypes: i16 with negatives, f64 with NaN */
    int16_t h[4] = {-5, 3, 100, -300};
    tp_stats_init(&s);
    tp_stats_add(&s, h, TP_I16, 4);
    CHECK(s.min == -300 && s.max == 100 && s.sum == -202);
    double d[3] = {1.5, NAN, -INFINITY};
    tp_stats_init(&s);
    tp_stats_add(&s, d, TP_F64, 3);
    CHECK(s.n == 1 && s.nan == 1 && s.inf == 1 && s.min == 1.5);
    /* histogram */
    tp_hist hi;
    tp_hist_init(&hi);
    tp_hist_add(&hi, -1);
    tp_hist_add(&hi, 40);
    tp_hist_add(&hi, 40);
    tp_hist_add(&hi, -2);
    tp_hist_add(&hi, TP_HIST_MAX);
    CHECK(hi.counts[0] == 1 && hi.counts[41] == 2 && hi.other == 2);
    tp_hist_free(&hi);
    return check_result();
}
