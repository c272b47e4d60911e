/* stats.c — see stats.h. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void tp_stats_init(tp_stats *s)
{
    memset(s, 0, sizeof *s);
    s->min = INFINITY;
    s->max = -INFINITY;
}

double tp_elem_as_double(const void *p, tp_dtype d, size_t i)
{
    const unsigned char *b = (const unsigned char *)p + i * tp_dtype_size(d);
    switch (d) {
    case TP_U8: return *b;
    case TP_I8: return (int8_t)*b;
    case TP_U16: { uint16_t v; memcpy(&v, b, 2); return v; }
    case TP_I16: { int16_t v; memcpy(&v, b, 2); return v; }
    case TP_I32: { int32_t v; memcpy(&v, b, 4); return v; }
    case TP_I64: { int64_t v; memcpy(&v, b, 8); return (double)v; }
    case TP_F16: { uint16_t v; memcpy(&v, b, 2); return tp_half_to_float(v); }
    case TP_F32: { float v; memcpy(&v, b, 4); return v; }
    case TP_F64: { double v; memcpy(&v, b, 8); return v; }
    default: TP_ASSERT(!"bad dtype"); return 0;
    }
}

/* u8 gets a loop the compiler vectorises: images are most of the bytes tpipe moves. */
static void add_u8(tp_stats *s, const uint8_t *p, size_t n)
{
    while (n) {
        size_t k = n > (1u << 23) ? (1u << 23) : n; /* 2^23 * 255 fits in 32 bits */
        uint8_t mn = 255, mx = 0;
        uint32_t sum = 0;
        for (size_t i = 0; i < k; i++) {
            uint8_t v = p[i];
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
            sum += v;
        }
        if (mn < s->min)
            s->min = mn;
        if (mx > s->max)
            s->max = mx;
        s->sum += sum;
        s->n += k;
        p += k;
        n -= k;
    }
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
