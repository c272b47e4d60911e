/* gpu_gmm.h — the Gaussian mixture's kernels on the GPU (see gpu.h): the E-step and the sums
 * of the M-step of lib/gmm.c, in double precision whatever the context's precision, on
 * samples that stay on the device for a whole fit. lib/gmm.c derives the parameters before
 * an E-step and finishes the M-step (normalisation, reg_covar, Cholesky factors, events,
 * re-seeding) on the host, so both devices share that code; per EM step only the parameters
 * and the sums (k x d x d doubles at most) cross the bus.
 *
 * Responsibilities are component-major as in lib/gmm.c: resp[c*n + i]. */
#ifndef TP_GPU_GMM_H
#define TP_GPU_GMM_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "gpu.h"

#include "hostdev.h"

typedef struct tp_gpu_gmm tp_gpu_gmm; /* samples on the device and the buffers of their EM steps */

struct tp_gpu_gmm_api {
    /* Uploads the n samples of X (n x d, row-major) for a mixture of k components of
     * covariance type cov (tp_gmm_cov's values: 0 full, 1 tied, 2 diag, 3 spherical). */
    tp_gpu_gmm *(*create)(tp_gpu *g, const double *X, int64_t n, int d, int k, int cov);
    void (*destroy)(tp_gpu_gmm *s);
    /* The E-step from host parameters: base[k] = -d/2 log(2 pi) + log det(factor) + log weight;
     * full and tied: ref[d] (subtracted from every sample first), U (k, or for tied 1, upper
     * d x d factors of the precisions, row-major) and muu[k x d] = (mean - ref) U; diag:
     * means[k x d] and prec2[k x d], the squared precisions; spherical: means and prec2[k]
     * (the arrays a type does not use may be NULL). Keeps the responsibilities, log p of
     * every sample and its most probable component on the device, and writes to the host
     * stat[0] = the sum of log p, stat[1 .. k] the responsibility sums, then the k x d
     * responsibility-weighted sums of the samples. */
    void (*estep)(tp_gpu_gmm *s, const double *base, const double *ref, const double *U, const double *muu,
                  const double *means, const double *prec2, double *stat);
    /* Replaces the responsibilities on the device with resp (host, k x n) and writes stat as
     * estep does, stat[0] = 0. */
    void (*set_resp)(tp_gpu_gmm *s, const double *resp, double *stat);
    /* The M-step's scatter about means[k x d] (host) into out (host): full: k d x d matrices
     * sum_i r_ic (x_i - mu_c)(x_i - mu_c)^T, of which the upper triangles (row-major) are
     * set; diag and spherical: k x d sums of r_ic (x_ij - mu_cj)^2. Pairs with r_ic < rskip
     * are left out. Not for tied. */
    void (*scatter)(tp_gpu_gmm *s, const double *means, double rskip, double *out);
    /* Copies to the host what the last E-step left (each may be NULL): resp (k x n), log p
     * (n) and the most probable components (n). */
    void (*results)(tp_gpu_gmm *s, double *resp, double *logp, int32_t *labels);
};

/* The log-sum-exp of the k log-probabilities l[c*stride] of one sample (both devices use it):
 * returns it, sets *arg to the first most probable component and *inv to the factor that
 * turns the exp(l - max) left in l into responsibilities. A sample no component can produce
 * (every l -inf or NaN) is shared evenly; exp below e^-746 is taken as 0. */
TP_HD static inline double tp_gmm_lse(double *l, size_t stride, int k, int *arg, double *inv)
{
    double mx = l[0];
    int a = 0;
    for (int c = 1; c < k; c++)
        if (l[c * stride] > mx) {
            mx = l[c * stride];
            a = c;
        }
    double s = 0;
    if (!(mx > -INFINITY)) {
        mx = 0;
        for (int c = 0; c < k; c++)
            l[c * stride] = -log((double)k);
    }
    for (int c = 0; c < k; c++) {
        double e = l[c * stride] - mx;
        s += l[c * stride] = e > -746 ? exp(e) : 0;
    }
    *arg = a;
    *inv = 1 / s;
    return mx + log(s);
}

#endif
