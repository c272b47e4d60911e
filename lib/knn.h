/* knn.h — exact k nearest neighbours in Euclidean space, and t-SNE's input affinities.
 *
 * Distances go through BLAS: for a block of queries against a block of points,
 * |a - b|^2 = |a|^2 + |b|^2 - 2 a.b with one sgemm, a bounded max-heap per query keeping
 * the k best candidates. The k kept distances are then recomputed exactly in double, so
 * float cancellation can only affect which of two nearly tied neighbours is kept, never
 * the distances themselves. */
#ifndef TP_KNN_H
#define TP_KNN_H

#include <stdint.h>

/* For each of the n points x[i*d ..] (row-major floats), its k nearest other points
 * (k < n): idx[i*k + j] and squared distances dist2[i*k + j], ascending. A point's own
 * index is never among its neighbours (an identical point may be). nthreads >= 1. */
void tp_knn(const float *x, int64_t n, int d, int k, int nthreads, int32_t *idx, double *dist2);

/* A sparse n x n matrix in compressed rows: row i holds columns col[row[i] .. row[i+1]),
 * ascending, with values val[..]. */
typedef struct {
    int64_t n;
    int64_t *row;
    int32_t *col;
    double *val;
} tp_csr;

void tp_csr_free(tp_csr *m);

/* Conditional affinities p_{j|i} = exp(-beta_i d_ij) / sum, with beta_i found by the
 * bisection scikit-learn uses so that the entropy of row i is log(perplexity) within tol
 * (natural log). dist2 and p are n x k. beta (may be NULL) receives each beta_i. Returns
 * the number of rows that missed the target after max_steps (duplicates can make the
 * target unreachable); *worst receives the largest |entropy - target| (may be NULL). */
int64_t tp_perplexity_rows(const double *dist2, int64_t n, int k, double perplexity, double tol, int max_steps,
                           int nthreads, double *p, double *beta, double *worst);

/* The joint affinities P = (C + C^T) / sum(C + C^T) of the n x k conditional rows c
 * with neighbour indices idx: a symmetric CSR matrix summing to 1. */
void tp_joint_affinities(const int32_t *idx, const double *c, int64_t n, int k, tp_csr *P);

/* The affinities from known neighbours: idx and their squared distances dist2 (n x k, as
 * tp_knn gives them) calibrated to perplexity (tol 1e-5) and joined into P. Returns the rows
 * that missed (*worst as below). */
int64_t tp_affinities_of(const int32_t *idx, const double *dist2, int64_t n, int k, double perplexity, int nthreads,
                         tp_csr *P, double *worst);

/* t-SNE's input affinities in one call: the k nearest neighbours of the n points x (n x d
 * floats), their conditional rows calibrated to perplexity (tol 1e-5), joined into P.
 * Returns the number of rows that missed the perplexity (*worst: the largest entropy
 * error; may be NULL). */
int64_t tp_affinities(const float *x, int64_t n, int d, int k, double perplexity, int nthreads, tp_csr *P,
                      double *worst);

#endif
