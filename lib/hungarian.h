/* hungarian.h — the assignment problem: a minimum-cost matching of rows to columns.
 *
 * Shortest augmenting paths with dual potentials (Kuhn-Munkres in the form of Jonker and
 * Volgenant): one row is added at a time along a Dijkstra-like search over the columns, so
 * n rows and m columns cost O(n^2 m). A rectangular matrix is matched as far as it can be:
 * with rows <= cols every row gets its own column; with rows > cols every column gets its
 * own row and the other rows are left out.
 */
#ifndef TP_HUNGARIAN_H
#define TP_HUNGARIAN_H

/* Matches the rows of the rows x cols cost matrix (row-major, finite values) to distinct
 * columns so that the sum of the chosen costs is least over all matchings of min(rows, cols)
 * pairs. row_col[r] receives row r's column, or -1 for a row left out (only when
 * rows > cols). Returns that least sum (0 when rows or cols is 0). */
double tp_hungarian(const double *cost, int rows, int cols, int *row_col);

#endif
