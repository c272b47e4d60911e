/* stats.h — running statistics over tensor elements of any dtype, and a label histogram. */
#ifndef TP_STATS_H
#define TP_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

typedef struct {
    double min, max, sum; /* over finite values */
    uint64_t n;           /* finite values seen */
    uint64_t nan, inf;    /* non-finite values seen (float dtypes) */
} tp_stats;

/* Empty statistics. */
void tp_stats_init(tp_stats *s);
/* Adds n elements of dtype d at p (p need not be aligned). */
void tp_stats_add(tp_stats *s, const void *p, tp_dtype d, size_t n);
/* Mean of the finite values (NaN when none). */
double tp_stats_mean(const tp_stats *s);

/* Counts of integer labels in [-1, TP_HIST_MAX); others are counted as out of range. */
#define TP_HIST_MAX (1 << 20)
typedef struct {
    int64_t *counts; /* counts[v + 1] for label v */
    int64_t slots;   /* entries in counts */
    int64_t other;   /* labels outside [-1, TP_HIST_MAX) */
} tp_hist;

void tp_hist_init(tp_hist *h);
void tp_hist_add(tp_hist *h, int64_t v);
void tp_hist_free(tp_hist *h);

#endif
