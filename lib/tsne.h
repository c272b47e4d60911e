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

#include "knn.h"

typedef enum { TP_TSNE_AUTO, TP_TSNE_EXACT, TP_TSNE_BH, TP_TSNE_FFT } tp_tsne_method;

typedef struct {
    int d;         /* embedding dimensions, 1..3 */
    double dof;    /* degrees of freedom of the t kernel, > 0 */
    tp_tsne_method method;
    double theta;  /* Barnes-Hut opening angle (0.5) */
    int fft_nodes; /* interpolation nodes per interval (3) */
    int fft_min_intervals;   /* per dimension (50) */
    double fft_per_unit;     /* intervals per unit of embedding length (1) */
    int nthreads;
} tp_tsne_cfg;

/* Defaults for d: dof = max(d - 1, 1), auto method, theta 0.5, FFT 3 / 50 / 1. */
void tp_tsne_cfg_default(tp_tsne_cfg *c, int d, int nthreads);
/* The method auto resolves to for n points. */
tp_tsne_method tp_tsne_pick(const tp_tsne_cfg *c, int64_t n);
const char *tp_tsne_method_name(tp_tsne_method m);

/* The repulsive sums R (n x d, into rep) and returns Z, by each method. The FFT one keeps
 * its plans and grids in *ws between calls (NULL at first; tp_tsne_fft_free releases). */
double tp_tsne_rep_exact(const double *y, int64_t n, const tp_tsne_cfg *c, double *rep);
double tp_tsne_rep_bh(const double *y, int64_t n, const tp_tsne_cfg *c, double *rep);
typedef struct tp_tsne_fft tp_tsne_fft;
double tp_tsne_rep_fft(const double *y, int64_t n, const tp_tsne_cfg *c, double *rep, tp_tsne_fft **ws);
void tp_tsne_fft_free(tp_tsne_fft *ws);

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
/* scikit-learn's gradient descent with momentum and per-parameter gains, from y in place.
 * Returns the iterations run; *kl receives the last KL computed. */
int tp_tsne_optimize(tp_tsne *t, double *y, const tp_tsne_opt *o, double *kl);

/* The kernel values K1 and K2 at squared distance r2. */
static inline void tp_tsne_kernel(double r2, double dof, double *k1, double *k2);

#include <math.h>
static inline void tp_tsne_kernel(double r2, double dof, double *k1, double *k2)
{
    double t = 1 / (1 + r2 / dof);
    if (dof == 1) {
        *k1 = t;
        *k2 = t * t;
    } else if (dof == 2) {
        double s = sqrt(t);
        *k1 = t * s;
        *k2 = t * t * s;
    } else {
        *k1 = pow(t, (dof + 1) / 2);
        *k2 = *k1 * t;
    }
}

#endif
