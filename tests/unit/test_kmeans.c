/* test_kmeans.c — k-means (kmeans.h): well-separated blobs come back as the clusters they
 * were drawn from, the seeds are distinct samples spread over the blobs, the labels do not
 * depend on the thread count, a cluster left empty is refilled, and a case worked by hand. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kmeans.h"
#include "util.h"

/* k blobs of m points each in d dimensions, centred 100 apart, spread 1; blob of point i
 * into truth[i]. */
static double *blobs(int k, int m, int d, uint64_t seed, int32_t *truth)
{
    tp_rng r;
    tp_rng_seed(&r, seed);
    double *X = tp_alloc((size_t)k * m, (size_t)d * sizeof *X);
    for (int c = 0; c < k; c++)
        for (int i = 0; i < m; i++) {
            int64_t p = (int64_t)c * m + i;
            truth[p] = c;
            for (int j = 0; j < d; j++)
                X[p * d + j] = (j == c % d ? 100.0 * (c + 1) : 0) + tp_rng_normal(&r);
        }
    return X;
}

static void test_blobs(void)
{
    int k = 5, m = 300, d = 3;
    int64_t n = (int64_t)k * m;
    int32_t *truth = tp_alloc((size_t)n, sizeof *truth), *a = tp_alloc((size_t)n, sizeof *a),
            *b = tp_alloc((size_t)n, sizeof *b);
    double *X = blobs(k, m, d, 11, truth);
    tp_rng r1, r2;
    tp_rng_seed(&r1, 4);
    tp_rng_seed(&r2, 4);
    tp_kmeans(X, n, d, k, 1, 1e-8, &r1, a);
    tp_kmeans(X, n, d, k, 2, 1e-8, &r2, b);
    CHECK(memcmp(a, b, (size_t)n * sizeof *a) == 0); /* one partition of the sums, any threads */
    /* each blob is one cluster and each cluster one blob */
    int map[5];
    for (int c = 0; c < k; c++)
        map[c] = a[c * m];
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
        bad += a[i] != map[truth[i]];
    CHECK_INT(bad, 0);
    for (int c = 0; c < k; c++)
        for (int e = c + 1; e < k; e++)
            CHECK(map[c] != map[e]);
    /* greedy k-means++ seeds land in distinct blobs */
    int64_t idx[5];
    tp_rng_seed(&r1, 9);
    tp_kmeanspp(X, n, d, k, 2, &r1, idx);
    int seen[5] = {0};
    for (int c = 0; c < k; c++) {
        CHECK(idx[c] >= 0 && idx[c] < n);
        seen[truth[idx[c]]]++;
    }
    for (int c = 0; c < k; c++)
        CHECK_INT(seen[c], 1);
    free(X), free(truth), free(a), free(b);
}

/* Six points on a line, two clusters: {0, 1, 2} and {10, 11, 12}, whatever the seeds; and
 * three clusters of three identical pairs: no cluster stays empty. */
static void test_by_hand(void)
{
    double X[6] = {0, 1, 2, 10, 11, 12};
    int32_t lab[6];
    for (uint64_t s = 0; s < 20; s++) {
        tp_rng r;
        tp_rng_seed(&r, s);
        tp_kmeans(X, 6, 1, 2, 1, 0, &r, lab);
        CHECK(lab[0] == lab[1] && lab[1] == lab[2] && lab[3] == lab[4] && lab[4] == lab[5] && lab[0] != lab[3]);
    }
    double Y[6] = {5, 5, 7, 7, 9, 9};
    for (uint64_t s = 0; s < 20; s++) {
        tp_rng r;
        tp_rng_seed(&r, s);
        tp_kmeans(Y, 6, 1, 3, 2, 0, &r, lab);
        int count[3] = {0};
        for (int i = 0; i < 6; i++) {
            CHECK(lab[i] >= 0 && lab[i] < 3);
            count[lab[i] < 0 || lab[i] > 2 ? 0 : lab[i]]++;
        }
        CHECK(count[0] == 2 && count[1] == 2 && count[2] == 2);
        CHECK(lab[0] == lab[1] && lab[2] == lab[3] && lab[4] == lab[5]);
    }
}

int main(void)
{
    tp_init("test_kmeans");
    test_blobs();
    test_by_hand();
    return check_result();
}
