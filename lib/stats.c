/* stats.c — see stats.h. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "util.h"

void tp_stats_init(tp_stats *s)
{
    memset(s, 0, sizeof *s);
    s->min = INFINITY;
    s->max = -INFINITY;
}

/* Scalar u8 min/max/sum of p[0..n): the reference, and the tail of the vector loop. */
static void u8_scalar(const uint8_t *p, size_t n, uint8_t *mn, uint8_t *mx, uint64_t *sum)
{
    uint8_t a = *mn, b = *mx;
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) {
        a = p[i] < a ? p[i] : a;
        b = p[i] > b ? p[i] : b;
        s += p[i];
    }
    *mn = a, *mx = b, *sum += s;
}

/* Images are most of the bytes tpipe moves, so u8 gets SSE2 (baseline on x86-64):
 * psadbw sums 8 bytes at a time into 64-bit lanes, pminub/pmaxub keep the extremes. */
static void add_u8(tp_stats *s, const uint8_t *p, size_t n)
{
    uint8_t mn = 255, mx = 0;
    uint64_t sum = 0;
    size_t i = 0;
#ifdef __SSE2__
    __m128i vmn = _mm_set1_epi8((char)0xff), vmx = _mm_setzero_si128(), vs = _mm_setzero_si128();
    const __m128i zero = _mm_setzero_si128();
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        vmn = _mm_min_epu8(vmn, v);
        vmx = _mm_max_epu8(vmx, v);
        vs = _mm_add_epi64(vs, _mm_sad_epu8(v, zero));
    }
    uint8_t lo[16], hi[16];
    uint64_t sums[2];
    _mm_storeu_si128((__m128i *)lo, vmn);
    _mm_storeu_si128((__m128i *)hi, vmx);
    _mm_storeu_si128((__m128i *)sums, vs);
    for (int k = 0; k < 16; k++) {
        mn = lo[k] < mn ? lo[k] : mn;
        mx = hi[k] > mx ? hi[k] : mx;
    }
    sum = sums[0] + sums[1];
#endif
    u8_scalar(p + i, n - i, &mn, &mx, &sum);
    if (n) {
        if (mn < s->min)
            s->min = mn;
        if (mx > s->max)
            s->max = mx;
    }
    s->sum += (double)sum;
    s->n += n;
}

void tp_stats_add(tp_stats *s, const void *p, tp_dtype d, size_t n)
{
    if (d == TP_U8) {
        add_u8(s, p, n);
        return;
    }
    double mn = s->min, mx = s->max, sum = 0;
    uint64_t good = 0;
    for (size_t i = 0; i < n; i++) {
        double v = tp_elem_as_double(p, d, i);
        if (isnan(v)) {
            s->nan++;
            continue;
        }
        if (isinf(v)) {
            s->inf++;
            continue;
        }
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
        sum += v;
        good++;
    }
    s->min = mn;
    s->max = mx;
    s->sum += sum;
    s->n += good;
}

double tp_stats_mean(const tp_stats *s) { return s->n ? s->sum / (double)s->n : NAN; }

void tp_hist_init(tp_hist *h) { memset(h, 0, sizeof *h); }

void tp_hist_add(tp_hist *h, int64_t v)
{
    if (v < -1 || v >= TP_HIST_MAX) {
        h->other++;
        return;
    }
    if (v + 1 >= h->slots) {
        int64_t slots = h->slots ? h->slots : 16;
        while (slots <= v + 1)
            slots *= 2;
        h->counts = tp_realloc(h->counts, (size_t)slots, sizeof *h->counts);
        memset(h->counts + h->slots, 0, (size_t)(slots - h->slots) * sizeof *h->counts);
        h->slots = slots;
    }
    h->counts[v + 1]++;
}

void tp_hist_free(tp_hist *h)
{
    free(h->counts);
    tp_hist_init(h);
}
