/* gpu_tsne.h — t-SNE on the GPU (see gpu.h): the exact kNN of knn.c, and the gradient step
 * that lib/tsne.c's one optimiser loop asks a device for, with the repulsion always summed
 * exactly over all pairs (tiled O(n^2), any d of 1..3 and any degrees of freedom). A tp_gtsne
 * keeps P, the embedding and the optimiser's state on the device between calls, so a step
 * moves two numbers across the bus when the loop checks its progress, and none otherwise.
 * tp_tsne_gain_step is the update both devices make of each coordinate. */
#ifndef TP_GPU_TSNE_H
#define TP_GPU_TSNE_H

#include <stdint.h>

#include "gpu.h"
#include "hostdev.h"

typedef struct tp_gtsne tp_gtsne;

struct tp_gpu_tsne_api {
    /* As tp_knn: the k nearest other points of each of the n points x (n x d floats),
     * idx and dist2 (n x k, ascending by distance then index). The distance products are
     * fp32 whatever the device's precision; the kept distances are recomputed exactly in
     * double. */
    void (*knn)(tp_gpu *g, const float *x, int64_t n, int d, int k, int32_t *idx, double *dist2);
    /* A workspace for the joint affinities P of n points (CSR: row[n + 1], col and val of
     * row[n] entries; copied) and embeddings of d (1..3) dimensions with the t kernel of dof
     * (> 0) degrees of freedom. */
    tp_gtsne *(*create)(tp_gpu *g, int64_t n, const int64_t *row, const int32_t *col, const double *val, int d,
                        double dof);
    void (*destroy)(tp_gtsne *w);
    /* The embedding (n x d doubles) to or from the device. */
    void (*set_y)(tp_gtsne *w, const double *y);
    void (*get_y)(tp_gtsne *w, double *y);
    /* As tp_tsne_gradient with exact repulsion, at the device's y into grad (host); kl may be
     * NULL. */
    void (*gradient)(tp_gtsne *w, double exag, double *grad, double *kl);
    /* The optimiser's state to its start: updates 0, gains 1. */
    void (*reset)(tp_gtsne *w);
    /* One iteration: the gradient at y with P times exag, then tp_tsne_gain_step on every
     * coordinate. With check, *kl receives KL(P||Q) at y before the step (the unexaggerated
     * P's, with the exact Z) and *norm the norm of the gained gradient. */
    void (*step)(tp_gtsne *w, double exag, double mom, double lr, double min_gain, int check, double *kl, double *norm);
    /* As tp_tsne_kl_exact, at the device's y. */
    double (*kl_exact)(tp_gtsne *w);
};

/* One coordinate's step of scikit-learn's gradient descent with momentum and gains: the
 * gain grows by 0.2 where the gradient g opposes the last update, else shrinks to 0.8 of
 * itself, never below min_gain; the update becomes mom * update - lr * gain * g and moves
 * y. Returns (gain * g)^2, the coordinate's share of the squared norm. */
TP_HD static inline double tp_tsne_gain_step(double g, double *gain, double *update, double *y, double mom, double lr,
                                             double min_gain)
{
    double gn = *gain, u = *update;
    if (u * g < 0)
        gn += 0.2;
    else
        gn *= 0.8;
    if (gn < min_gain)
        gn = min_gain;
    g *= gn;
    u = mom * u - lr * g;
    *gain = gn;
    *update = u;
    *y += u;
    return g * g;
}

#endif
