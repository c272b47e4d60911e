/* Unit tests of lib/split.c: apportionment and stratified assignment. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "split.h"

static void test_apportion(void)
{
    /* 10 % of MNIST's class sizes: 592.3 674.2 595.8 613.1 584.2 542.1 591.8 626.5 585.1 594.9 */
    int64_t n[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}, out[10];
    tp_apportion(n, 10, 0.1, 6000, out);
    int64_t want[10] = {592, 674, 596, 613, 584, 542, 592, 627, 585, 595}, sum = 0;
    for (int c = 0; c < 10; c++) {
        CHECK_INT(out[c], want[c]);
        sum += out[c];
    }
    CHECK_INT(sum, 6000);
    int64_t m[3] = {1, 1, 1}, o[3];
    tp_apportion(m, 3, 0.5, 2, o); /* equal remainders: lower classes first */
    CHECK(o[0] == 1 && o[1] == 1 && o[2] == 0);
    tp_apportion(m, 3, 1.0, 3, o);
    CHECK(o[0] == 1 && o[1] == 1 && o[2] == 1);
}

static void test_assign(void)
{
    enum { N = 1003 };
    int64_t labels[N];
    for (int i = 0; i < N; i++)
        labels[i] = (i * 7919) % 13 == 0 ? -1 : (i * 31) % 7; /* 8 classes of uneven sizes */
    int8_t a[N], b[N], c[N];
    tp_split_assign(labels, N, 700, 0.8, 1, a);
    tp_split_assign(labels, N, 700, 0.8, 1, b);
    tp_split_assign(labels, N, 700, 0.8, 2, c);
    CHECK(memcmp(a, b, N) == 0);
    CHECK(memcmp(a, c, N) != 0);
    int64_t tot[3] = {0, 0, 0};
    for (int i = 0; i < N; i++)
        tot[a[i] + 1]++;
    CHECK_INT(tot[1] + tot[2], 700);
    CHECK_INT(tot[1], 560);
    for (int64_t cl = -1; cl < 7; cl++) { /* each class: kept and first within one of exact */
        int64_t n = 0, kept = 0, first = 0;
        for (int i = 0; i < N; i++)
            if (labels[i] == cl) {
                n++;
                kept += a[i] >= 0;
                first += a[i] == 0;
            }
        CHECK(fabs((double)kept - n * 700.0 / N) < 1);
        CHECK(fabs((double)first - kept * 0.8) < 1);
    }
    /* no labels: one class; take everything, ratio 1 */
    tp_split_assign(NULL, N, N, 1.0, 5, a);
    for (int i = 0; i < N; i++)
        CHECK(a[i] == 0);
    tp_split_assign(NULL, N, 10, 0.5, 5, a);
    memset(tot, 0, sizeof tot);
    for (int i = 0; i < N; i++)
        tot[a[i] + 1]++;
    CHECK(tot[0] == N - 10 && tot[1] == 5 && tot[2] == 5);
    tp_split_assign(NULL, 0, 0, 0.8, 5, a); /* empty input */
}

int main(void)
{
    test_apportion();
    test_assign();
    return check_result();
}
