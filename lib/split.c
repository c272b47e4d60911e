/* split.c — see split.h. */
#include "split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "util.h"

void tp_apportion(const int64_t *n, int k, double frac, int64_t total, int64_t *out)
{
    int64_t sum = 0;
    double *rem = tp_alloc((size_t)k, sizeof *rem);
    for (int c = 0; c < k; c++) {
        double exact = (double)n[c] * frac;
        out[c] = (int64_t)floor(exact);
        if (out[c] > n[c])
            out[c] = n[c];
        rem[c] = exact - (double)out[c];
        sum += out[c];
    }
    for (; sum < total; sum++) { /* one more to the largest remainder left */
        int best = -1;
        for (int c = 0; c < k; c++)
            if (out[c] < n[c] && (best < 0 || rem[c] > rem[best]))
                best = c;
        TP_ASSERT(best >= 0);
        out[best]++;
        rem[best] = -1;
    }
    free(rem);
}

typedef struct {
    int64_t label, i;
} keyed;

static int by_label(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->label != y->label)
        return x->label < y->label ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

void tp_split_assign(const int64_t *labels, int64_t n, int64_t take, double ratio, uint64_t seed, int8_t *part)
{
    TP_ASSERT(take >= 0 && take <= n && ratio >= 0 && ratio <= 1);
    /* records grouped by class, each group in input order */
    int64_t *order = tp_alloc((size_t)n, sizeof *order);
    int64_t zero = 0;
    keyed *kv = tp_alloc((size_t)n, sizeof *kv);
    for (int64_t i = 0; i < n; i++)
        kv[i] = (keyed){labels ? labels[i] : 0, i};
    if (labels)
        qsort(kv, (size_t)n, sizeof *kv, by_label);
    for (int64_t i = 0; i < n; i++)
        order[i] = kv[i].i;
    free(kv);
    int k = 0;
    int64_t *start = tp_alloc((size_t)n + 1, sizeof *start), *cnt = tp_alloc((size_t)n + 1, sizeof *cnt);
    for (int64_t i = 0; i < n; i++)
        if (i == 0 || (labels && labels[order[i]] != labels[order[i - 1]])) {
            start[k] = i;
            cnt[k] = 0;
            k++;
        }
    for (int c = 0; c < k; c++)
        cnt[c] = (c + 1 < k ? start[c + 1] : n) - start[c];
    int64_t *kept = tp_alloc((size_t)k + 1, sizeof *kept), *first = tp_alloc((size_t)k + 1, sizeof *first);
    tp_apportion(cnt, k, n ? (double)take / (double)n : 0, take, kept);
    int64_t n0 = (int64_t)llround(ratio * (double)take);
    tp_apportion(kept, k, ratio, n0, first);
    tp_rng root;
    tp_rng_seed(&root, seed);
    for (int c = 0; c < k; c++) {
        int64_t *g = order + start[c];
        tp_rng r = tp_rng_split(&root, (uint64_t)(labels ? labels[g[0]] : zero));
        tp_rng_shuffle(&r, g, cnt[c]);
        for (int64_t i = 0; i < cnt[c]; i++)
            part[g[i]] = (int8_t)(i < first[c] ? 0 : i < kept[c] ? 1 : -1);
    }
    free(order);
    free(start);
    free(cnt);
    free(kept);
    free(first);
}
