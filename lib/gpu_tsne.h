/* gpu_tsne.h — t-SNE on the GPU (see gpu.h): the exact kNN of knn.c and the gradient and
 * optimiser of tsne.c, with the repulsion always summed exactly over all pairs (tiled
 * O(n^2), any d of 1..3 and any degrees of freedom). Arguments and results live on the
 * host; a tp_gtsne keeps P and the optimiser's state on the device between calls. */
#ifndef TP_GPU_TSNE_H
#define TP_GPU_TSNE_H

#include <stdint.h>

#include "gpu.h"

#include "tsne.h"

typedef struct tp_gtsne tp_gtsne;

struct tp_gpu_tsne_api {
    /* As tp_knn: the k nearest other points of each of the n points x (n x d floats),
     * idx and dist2 (n x k, ascending by distance then index). The distance products use
     * the device's precision; the kept distances are recomputed exactly in double. */
    void (*knn)(tp_gpu *g, const float *x, int64_t n, int d, int k, int32_t *idx, double *dist2);
    /* A workspace for the joint affinities P (copied) and embeddings of d (1..3)
     * dimensions with the t kernel of dof (> 0) degrees of freedom. */
    tp_gtsne *(*create)(tp_gpu *g, const tp_csr *P, int d, double dof);
    void (*destroy)(tp_gtsne *w);
    /* As tp_tsne_gradient with exact repulsion, at y (n x d) into grad; kl may be NULL. */
    void (*gradient)(tp_gtsne *w, const double *y, double exag, double *grad, double *kl);
    /* As tp_tsne_optimize with exact repulsion: y in place, o->report called from this
     * thread at each check; returns the iterations run, *kl the last KL computed. */
    int (*optimize)(tp_gtsne *w, double *y, const tp_tsne_opt *o, double *kl);
    /* As tp_tsne_kl_exact: KL(P||Q) at y with Z summed over all pairs. */
    double (*kl_exact)(tp_gtsne *w, const double *y);
};

#endif
