/* kmeans.h — k-means as scikit-learn's KMeans(n_init=1) runs it: greedy k-means++ seeds
 * (2 + log k candidates a seed, the one lowering the potential most kept), then Lloyd's
 * iterations, at most 300, until no label changes or the centres move by less than tol (a
 * squared distance summed over the centres). Empty clusters move to the samples farthest
 * from their centres. The work is split over fixed blocks of samples whose partial sums are
 * added in block order, so the result does not depend on the thread count. gmm.c starts its
 * mixtures from it. */
#ifndef TP_KMEANS_H
#define TP_KMEANS_H

#include <stdint.h>

#include "rng.h"

/* k greedy k-means++ seeds among the n samples X (n x d, row-major): their indices into
 * idx[0..k), drawn from r. */
void tp_kmeanspp(const double *X, int64_t n, int d, int k, int threads, tp_rng *r, int64_t *idx);
/* The k-means label (0..k-1) of every sample into labels, from seeds drawn from r. */
void tp_kmeans(const double *X, int64_t n, int d, int k, int threads, double tol, tp_rng *r, int32_t *labels);

#endif
