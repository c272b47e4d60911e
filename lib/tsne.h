/* tsne.h — t-SNE's objective, its gradient three ways, and scikit-learn's optimiser.
 *
 * With joint input affinities P (knn.h) and an embedding y (n x d, d = 1..3), the
 * output similarity of i != j is the Student t kernel with `dof` degrees of freedom,
 *     K1(r2) = (1 + r2/dof)^(-(dof+1)/2),   q_ij = K1(|y_i - y_j|^2) / Z,   Z = sum K1,
 * and the gradient of KL(P||Q) is
 *     g_i = c * [ exag * sum_j p_ij (1 + r2/dof)^-1 (y_i - y_j) - R_i / Z ],
 *     R_i = sum_{j != i} K2(r2_ij) (y_i - y_j),   K2 = K1 * (1 + r2/dof)^-1,
 *     c = 2 (dof + 1) / dof.
 * The attractive sum runs over P's nonzeros; the repulsive R and Z come from one of:
 *   exact        all pairs, O(n^2);
 *   Barnes-Hut   a quadtree/octree (d = 2, 3), cells farther than width/theta summarised
 *                by their centre of mass;
 *   FFT          (d = 1, 2) the kernel evaluated on a regular grid of Lagrange
 *                interpolation nodes (3 per interval) and convolved with the charges
 *                1, y, |y|^2 by FFTW: O(n + G log G) (the method of FIt-SNE).
 * auto picks exact for n <= 1000, else FFT in 1-D and Barnes-Hut in 2-D and 3-D (faster
 * and more accurate than the FFT at every size measured, up to 280 000 points; tsne.c).
 * scikit-learn uses dof = max(d - 1, 1); for dof = 1 (d <= 2) this is ordinary t-SNE.
 * Unlike scikit-learn's, the gradient here is the true gradient for every dof. */
#ifndef TP_TSNE_H
#define TP_TSNE_H

#include <stdint.h>

#include "device.h"
#include "knn.h"
#include "tsne_rep.h"

/* Defaults for d: dof = max(d - 1, 1), auto method, theta 0.5, FFT 3 / 50 / 1. */
void tp_tsne_cfg_default(tp_tsne_cfg *c, int d, int nthreads);
/* The method auto resolves to for n points. */
tp_tsne_method tp_tsne_pick(const tp_tsne_cfg *c, int64_t n);
const char *tp_tsne_method_name(tp_tsne_method m);

typedef struct {
    tp_tsne_cfg cfg;
    tp_tsne_method method; /* resolved */
    const tp_csr *P;
    int64_t n;
    double *rep;
    tp_tsne_fft *fft;
} tp_tsne;

void tp_tsne_init(tp_tsne *t, const tp_csr *P, const tp_tsne_cfg *c);
void tp_tsne_free(tp_tsne *t);
/* The gradient at y with P multiplied by exag into grad (n x d). When kl is not NULL it
 * receives KL(P||Q) for the unexaggerated P with the method's Z (exact for exact). */
void tp_tsne_gradient(tp_tsne *t, const double *y, double exag, double *grad, double *kl);

/* KL(P||Q) at y with Z summed over all pairs exactly (O(n^2), threaded). */
double tp_tsne_kl_exact(const tp_csr *P, const double *y, int64_t n, int d, double dof, int nthreads);

typedef struct {
    int iters;          /* total iterations (1000) */
    int exag_iters;     /* early exaggeration phase (250) */
    double exaggeration; /* 12 */
    double lr;          /* learning rate */
    double momentum0, momentum1; /* 0.5, 0.8 */
    double min_gain;    /* 0.01 */
    double min_grad_norm; /* 1e-7 */
    int no_progress;    /* stop after this many iterations without a better KL (300) */
    int check_every;    /* KL is computed every this many iterations (50) */
    /* called at each check with the iteration (1-based) and its KL */
    void (*report)(void *ctx, int iter, double kl, int exaggerated);
    void *ctx;
} tp_tsne_opt;

/* scikit-learn's defaults for n points: lr = max(n / exaggeration / 4, 50). */
void tp_tsne_opt_default(tp_tsne_opt *o, int64_t n);
/* scikit-learn's gradient descent with momentum and per-parameter gains (gpu_tsne.h's
 * tp_tsne_gain_step), from y in place on the CPU. Returns the iterations run; *kl receives
 * the last KL computed. */
int tp_tsne_optimize(tp_tsne *t, double *y, const tp_tsne_opt *o, double *kl);

/* ---- on a device (device.h) ---- */

/* tp_affinities on dev: a GPU finds the neighbours, the CPU calibrates and joins them. */
int64_t tp_tsne_affinities(const tp_device *dev, const float *x, int64_t n, int dim, int k, double perplexity,
                           int nthreads, tp_csr *P, double *worst);
/* tp_tsne_optimize on dev, by the same loop: on the CPU with cfg's method, on a GPU with the
 * exact gradient whatever cfg says (*used: the method run). */
int tp_tsne_embed(const tp_device *dev, const tp_csr *P, const tp_tsne_cfg *cfg, double *y, const tp_tsne_opt *o,
                  double *kl, tp_tsne_method *used);
/* tp_tsne_kl_exact on dev. */
double tp_tsne_kl(const tp_device *dev, const tp_csr *P, const double *y, int d, double dof, int nthreads);
/* scikit-learn's "pca" initialisation of an embedding of d dimensions: the first principal
 * components of the n points x (n x dim floats), scaled so that the first has standard
 * deviation 1e-4. 0, or -1 with err. */
int tp_tsne_pca_init(const float *x, int64_t n, int dim, int d, double *y, char *err, size_t errlen);

#endif
