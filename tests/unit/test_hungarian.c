/* Unit tests of lib/hungarian.c: a case worked by hand, then random square and rectangular
 * cost matrices against brute force over every matching. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hungarian.h"
#include "rng.h"

/* The least total over all matchings of min(rows, cols) pairs, by trying every one:
 * the shorter side's entries each take a distinct entry of the longer side. */
static double brute(const double *cost, int rows, int cols, int k, int *used, double sum, double best)
{
    int n = rows <= cols ? rows : cols, m = rows <= cols ? cols : rows;
    if (k == n)
        return sum < best ? sum : best;
    for (int j = 0; j < m; j++) {
        if (used[j])
            continue;
        used[j] = 1;
        double c = rows <= cols ? cost[k * cols + j] : cost[j * cols + k];
        best = brute(cost, rows, cols, k + 1, used, sum + c, best);
        used[j] = 0;
    }
    return best;
}

/* row_col is a matching (distinct columns, min(rows, cols) rows matched) whose costs sum to total. */
static int valid(const double *cost, int rows, int cols, const int *row_col, double total)
{
    int seen[16] = {0}, matched = 0;
    double sum = 0;
    for (int r = 0; r < rows; r++) {
        int c = row_col[r];
        if (c < 0)
            continue;
        if (c >= cols || seen[c]++)
            return 0;
        matched++;
        sum += cost[r * cols + c];
    }
    return matched == (rows < cols ? rows : cols) && fabs(sum - total) <= 1e-9 * (1 + fabs(sum));
}

static void test_by_hand(void)
{
    /* The six matchings of this matrix cost (rows 0 1 2 to columns ...):
     *   0 1 2: 4+0+2 = 6    0 2 1: 4+5+2 = 11   1 0 2: 1+2+2 = 5
     *   1 2 0: 1+5+3 = 9    2 0 1: 3+2+2 = 7    2 1 0: 3+0+3 = 6
     * so the best is row 0 -> column 1, row 1 -> 0, row 2 -> 2, total 5. */
    const double c[9] = {4, 1, 3, 2, 0, 5, 3, 2, 2};
    int a[3];
    CHECK_NEAR(tp_hungarian(c, 3, 3, a), 5, 0);
    CHECK(a[0] == 1 && a[1] == 0 && a[2] == 2);
    /* Its first two rows alone (2 x 3), pairs row-column: 0-0 1-1: 4+0 = 4, 0-0 1-2: 4+5 = 9,
     * 0-1 1-0: 1+2 = 3, 0-1 1-2: 1+5 = 6, 0-2 1-0: 3+2 = 5, 0-2 1-1: 3+0 = 3; least 3, two ways. */
    CHECK_NEAR(tp_hungarian(c, 2, 3, a), 3, 0);
    CHECK((a[0] == 1 && a[1] == 0) || (a[0] == 2 && a[1] == 1));
    /* 3 x 2, rows [4 2] [1 0] [3 2]: columns 0 and 1 take distinct rows, one row is left
     * out. Column 0 from row 1 (cost 1) with column 1 from row 0 or 2 (2), or column 0 from
     * row 2 (3) with column 1 from row 1 (0): all 3, and every other choice costs more
     * (4+0, 4+2, 3+2). */
    const double t[6] = {4, 2, 1, 0, 3, 2};
    CHECK_NEAR(tp_hungarian(t, 3, 2, a), 3, 0);
    CHECK(valid(t, 3, 2, a, 3));
    /* degenerate sizes */
    CHECK_NEAR(tp_hungarian(c, 0, 3, a), 0, 0);
    a[0] = 7;
    CHECK_NEAR(tp_hungarian(c, 1, 0, a), 0, 0);
    CHECK_INT(a[0], -1);
    CHECK_NEAR(tp_hungarian(c, 1, 1, a), 4, 0);
    CHECK_INT(a[0], 0);
}

/* trials random rows x cols matrices of kind 0 (integers 0..9: many ties), 1 (reals in
 * [-100, 100)) or 2 (reals spread over twelve orders of magnitude), against brute force. */
static void test_random(int rows, int cols, int kind, int trials, uint64_t seed)
{
    tp_rng rng;
    tp_rng_seed(&rng, seed);
    double c[64];
    int a[8], used[8], bad = 0;
    for (int t = 0; t < trials; t++) {
        for (int i = 0; i < rows * cols; i++) {
            double u = tp_rng_double(&rng);
            c[i] = kind == 0 ? (double)tp_rng_below(&rng, 10) : kind == 1 ? 200 * u - 100 : pow(10, 12 * u - 6);
        }
        double got = tp_hungarian(c, rows, cols, a);
        memset(used, 0, sizeof used);
        double want = brute(c, rows, cols, 0, used, 0, INFINITY);
        /* the search adds and subtracts potentials: reals may differ in the last bits */
        double tol = kind == 0 ? 0 : 1e-9 * (1 + fabs(want));
        if (!(fabs(got - want) <= tol) || !valid(c, rows, cols, a, got)) {
            if (bad++ < 3)
                fprintf(stderr, "%dx%d kind %d trial %d: got %.17g, brute force %.17g\n", rows, cols, kind, t, got,
                        want);
        }
    }
    CHECK_INT(bad, 0);
}

int main(void)
{
    test_by_hand();
    for (int kind = 0; kind < 3; kind++) {
        test_random(7, 7, kind, 300, 100 + (uint64_t)kind);
        test_random(5, 7, kind, 200, 200 + (uint64_t)kind);
        test_random(7, 5, kind, 200, 300 + (uint64_t)kind);
        test_random(1, 6, kind, 50, 400 + (uint64_t)kind);
        test_random(6, 1, kind, 50, 500 + (uint64_t)kind);
        test_random(3, 3, kind, 100, 600 + (uint64_t)kind);
    }
    return check_result();
}
