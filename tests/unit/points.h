/* points.h — test data shared by the t-SNE tests: n points in dim dimensions in 5
 * clusters (point i is shifted by 6 along axis i % 5), so neighbours are not all alike. */
#ifndef TP_TEST_POINTS_H
#define TP_TEST_POINTS_H

#include "rng.h"
#include "util.h"

static float *points(int64_t n, int dim, uint64_t seed)
{
    tp_rng r;
    tp_rng_seed(&r, seed);
    float *x = tp_alloc((size_t)n * (size_t)dim, sizeof *x);
    for (int64_t i = 0; i < n; i++)
        for (int e = 0; e < dim; e++)
            x[i * dim + e] = (float)(tp_rng_normal(&r) + 6.0 * ((i % 5) == e % 5));
    return x;
}

#endif
