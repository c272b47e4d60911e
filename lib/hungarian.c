/* hungarian.c — see hungarian.h. */
#include "hungarian.h"

#include <math.h>
#include <stdlib.h>

#include "util.h"

/* The rows <= cols case. Index 0 of the column arrays is a virtual column that holds the
 * row being added; rows and columns are counted from 1 there. pot_r and pot_c are the dual
 * potentials (cost[r][c] - pot_r[r] - pot_c[c] >= 0 on every pair, = 0 on matched ones);
 * owner[c] is the row matched to column c (0: free); back[c] is the previous column on the
 * shortest path to c; dist[c] its reduced distance from the new row. */
static void solve(const double *cost, int n, int m, int *row_col)
{
    double *pot_r = tp_calloc((size_t)n + 1, sizeof *pot_r), *pot_c = tp_calloc((size_t)m + 1, sizeof *pot_c);
    double *dist = tp_alloc((size_t)m + 1, sizeof *dist);
    int *owner = tp_calloc((size_t)m + 1, sizeof *owner), *back = tp_calloc((size_t)m + 1, sizeof *back);
    char *done = tp_alloc((size_t)m + 1, 1);
    for (int r = 1; r <= n; r++) {
        owner[0] = r;
        for (int c = 0; c <= m; c++) {
            dist[c] = INFINITY;
            done[c] = 0;
        }
        int c0 = 0; /* the column whose row is scanned next */
        do {
            done[c0] = 1;
            int r0 = owner[c0], c1 = -1;
            double step = INFINITY;
            const double *row = cost + (size_t)(r0 - 1) * (size_t)m;
            for (int c = 1; c <= m; c++) {
                if (done[c])
                    continue;
                double d = row[c - 1] - pot_r[r0] - pot_c[c];
                if (d < dist[c]) {
                    dist[c] = d;
                    back[c] = c0;
                }
                if (c1 < 0 || dist[c] < step) {
                    step = dist[c];
                    c1 = c;
                }
            }
            TP_ASSERT(c1 > 0); /* a free column remains while rows <= cols */
            for (int c = 0; c <= m; c++) {
                if (done[c]) {
                    pot_r[owner[c]] += step;
                    pot_c[c] -= step;
                } else {
                    dist[c] -= step;
                }
            }
            c0 = c1;
        } while (owner[c0] != 0);
        do { /* flip the matching along the path back to the virtual column */
            int c1 = back[c0];
            owner[c0] = owner[c1];
            c0 = c1;
        } while (c0);
    }
    for (int r = 0; r < n; r++)
        row_col[r] = -1;
    for (int c = 1; c <= m; c++)
        if (owner[c])
            row_col[owner[c] - 1] = c - 1;
    free(pot_r);
    free(pot_c);
    free(dist);
    free(owner);
    free(back);
    free(done);
}

double tp_hungarian(const double *cost, int rows, int cols, int *row_col)
{
    TP_ASSERT(rows >= 0 && cols >= 0);
    for (int r = 0; r < rows; r++)
        row_col[r] = -1;
    if (rows == 0 || cols == 0)
        return 0;
    for (size_t i = 0; i < (size_t)rows * (size_t)cols; i++)
        TP_ASSERT(isfinite(cost[i]));
    if (rows <= cols) {
        solve(cost, rows, cols, row_col);
    } else { /* match the columns to rows on the transpose, then invert */
        double *t = tp_alloc((size_t)rows * (size_t)cols, sizeof *t);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                t[(size_t)c * (size_t)rows + (size_t)r] = cost[(size_t)r * (size_t)cols + (size_t)c];
        int *col_row = tp_alloc((size_t)cols, sizeof *col_row);
        solve(t, cols, rows, col_row);
        for (int c = 0; c < cols; c++)
            row_col[col_row[c]] = c;
        free(col_row);
        free(t);
    }
    double total = 0;
    for (int r = 0; r < rows; r++)
        if (row_col[r] >= 0)
            total += cost[(size_t)r * (size_t)cols + (size_t)row_col[r]];
    return total;
}
