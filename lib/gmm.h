/* gmm.h — Gaussian mixtures fitted by expectation-maximisation.
 *
 * The model and the algorithm are scikit-learn 1.2's GaussianMixture: four covariance
 * types, reg_covar added to every covariance's diagonal, the E-step in log space through
 * the Cholesky factors of the precisions, convergence when the mean per-sample
 * log-likelihood (sklearn's "lower bound") changes by less than tol between EM steps, and
 * n_init runs of which the one with the highest final lower bound is kept. Initialisations:
 * kmeans (Lloyd's k-means from k-means++ seeds, EM started from its hard assignment),
 * k-means++ (the seeds alone), random (uniform random responsibilities) and
 * random_from_data (distinct data points as means).
 *
 * Where tpipe differs: sklearn's tol (1e-3) stops a run while its bound still climbs, so the
 * runs with the best bounds are refined (continued to a tighter tolerance) and the best of
 * them kept: the fit is never below sklearn's choice among the same runs. Run r draws from
 * tp_rng_split(seed, r), so any run can be reproduced alone; a component whose responsibility sum falls below TP_GMM_EMPTY is
 * re-seeded at the sample the mixture explains worst instead of living on as a dead
 * component; a covariance that is not positive definite even with reg_covar gets more on
 * its diagonal (growing tenfold) instead of ending the fit. Both are recorded as events.
 * Results do not depend on the thread count: every sum is taken in a fixed order.
 *
 * On a GPU (options.device) the E-step and the M-step's sums run on the device in double
 * precision; the rest of the algorithm is the same code as on the CPU, so a fit on either
 * differs only by the order of the sums (log-likelihoods within about 1e-12 relative).
 *
 * Parameter layouts (row-major doubles), as sklearn's attributes:
 *   weights [K], means [K][D],
 *   covariances / prec_chol: full [K][D][D], tied [D][D], diag [K][D], spherical [K].
 * prec_chol holds per component an upper-triangular U with U U^T = inverse covariance
 * (sklearn's precisions_cholesky_), or 1/sqrt(variance) for diag and spherical.
 */
#ifndef TP_GMM_H
#define TP_GMM_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"

typedef enum { TP_GMM_FULL, TP_GMM_TIED, TP_GMM_DIAG, TP_GMM_SPHERICAL } tp_gmm_cov;
typedef enum { TP_GMM_INIT_KMEANS, TP_GMM_INIT_KMEANSPP, TP_GMM_INIT_RANDOM, TP_GMM_INIT_FROM_DATA } tp_gmm_init;

/* A component holding less responsibility than this (in samples) is re-seeded. */
#define TP_GMM_EMPTY 1e-3

/* The covariance type named s ("full", "tied", "diag", "spherical"); 0, or -1. */
int tp_gmm_cov_parse(const char *s, tp_gmm_cov *c);
const char *tp_gmm_cov_name(tp_gmm_cov c);
/* The initialisation named s ("kmeans", "k-means++", "random", "random_from_data"); 0, or -1. */
int tp_gmm_init_parse(const char *s, tp_gmm_init *i);
const char *tp_gmm_init_name(tp_gmm_init i);

typedef struct {
    int k, d;
    tp_gmm_cov cov;
    double *weights;
    double *means;
    double *covariances;
    double *prec_chol;
} tp_gmm_model;

/* Elements of the covariances (and of prec_chol) for k components in d dimensions. */
size_t tp_gmm_cov_size(tp_gmm_cov cov, int k, int d);
/* Allocates m's arrays for k components in d dimensions, zero-filled. */
void tp_gmm_model_alloc(tp_gmm_model *m, int k, int d, tp_gmm_cov cov);
void tp_gmm_model_free(tp_gmm_model *m);
/* Copies the parameters of src into dst (allocated with the same k, d and type). */
void tp_gmm_model_copy(tp_gmm_model *dst, const tp_gmm_model *src);
/* Computes prec_chol from covariances. Returns 0, or -1 with "component K's covariance is
 * not positive definite" (or "... tied covariance ...") in err. */
int tp_gmm_model_precisions(tp_gmm_model *m, char *err, size_t errlen);
/* Free parameters of the model (sklearn's _n_parameters): what BIC and AIC count. */
int64_t tp_gmm_n_parameters(const tp_gmm_model *m);
/* BIC and AIC of a model whose mean log-likelihood on n samples is mean_loglik. */
double tp_gmm_bic(const tp_gmm_model *m, double mean_loglik, int64_t n);
double tp_gmm_aic(const tp_gmm_model *m, double mean_loglik, int64_t n);

typedef enum {
    TP_GMM_EV_EMPTY,     /* responsibility sum below TP_GMM_EMPTY: re-seeded; value = that sum */
    TP_GMM_EV_COLLAPSED, /* mean variance (trace/D, before reg_covar) at most reg_covar + 1e-14 times
                            the data's: the component sits on (nearly) identical samples and lives
                            on reg_covar; value = its responsibility sum. Recorded when it starts. */
    TP_GMM_EV_NOT_PD,    /* not positive definite even with reg_covar; value = what was added.
                            Recorded when it starts, once per episode. */
} tp_gmm_event_kind;

typedef struct {
    int run, iter, comp; /* iter 0 = the initialisation; comp -1 = the tied covariance */
    tp_gmm_event_kind kind;
    double value;
} tp_gmm_event;

typedef struct {
    int k;
    tp_gmm_cov cov;
    tp_gmm_init init;
    int n_init, max_iter; /* max_iter 0: the initialisation alone */
    double tol, reg_covar;
    /* Refinement (not sklearn's): the refine runs with the highest lower bounds at tol go on
     * from where they stopped until a step changes the bound by less than refine_tol, or for
     * refine_iter more steps, and the highest of them is kept. refine 0, or a refine_tol not
     * below tol: sklearn's choice. */
    int refine, refine_iter;
    double refine_tol;
    uint64_t seed;
    int threads;
    const tp_device *device; /* NULL or the CPU: the CPU; a GPU: the E- and M-steps run there */
    /* When not NULL: one EM run from these parameters (init and n_init are not used), as
     * sklearn's weights_init, means_init and precisions_init. */
    const tp_gmm_model *start;
    /* Called, when not NULL, after every EM step with the lower bound it computed (the mean
     * log-likelihood of the parameters before that step's M-step), and after every run. */
    void (*on_iter)(void *ctx, int run, int iter, double lower_bound);
    void (*on_run)(void *ctx, int run, int iters, double lower_bound, int converged);
    /* After the i-th of n refinements (of run `run`): its iterations in all and its bound. */
    void (*on_refine)(void *ctx, int i, int n, int run, int iters, double lower_bound, int converged);
    void *ctx;
} tp_gmm_options;

typedef struct {
    double lower_bound; /* the kept run's last lower bound (sklearn's lower_bound_) */
    int iterations;     /* the kept run's EM steps (sklearn's n_iter_), its refinement's included */
    int refine_iterations; /* of those, the refinement's */
    int refined;        /* the number of runs refined */
    int converged;      /* whether the kept run converged within max_iter (refined: to refine_tol) */
    int best_run;
    tp_gmm_event *events; /* every run's events, in order (malloc'd) */
    int nevents;
    int64_t events_dropped; /* beyond the 10 000 kept */
} tp_gmm_info;

/* sklearn's defaults, with tpipe's init kmeans, n_init 10, refine 3 (refine_tol 1e-5, refine_iter
 * 1000), seed 42, all CPUs. */
void tp_gmm_options_default(tp_gmm_options *o);

/* Fits a mixture to the n samples of d features in X (row-major). Allocates m. Returns 0,
 * or -1 with what is wrong in err (fewer samples than components, n < 2, bad start
 * model); m is then left empty. */
int tp_gmm_fit(const double *X, int64_t n, int d, const tp_gmm_options *o, tp_gmm_model *m, tp_gmm_info *info,
               char *err, size_t errlen);
void tp_gmm_info_free(tp_gmm_info *info);

/* Scores the n samples of X under m: labels[i] the most probable component (the first of
 * equals), resp[i*K + k] the responsibilities as floats, logp[i] the log-likelihood of
 * sample i (each may be NULL). Returns the mean log-likelihood (sklearn's score). */
double tp_gmm_predict(const tp_gmm_model *m, const double *X, int64_t n, int threads, int32_t *labels, float *resp,
                      double *logp);
/* tp_gmm_predict on dev's GPU when it is one (NULL: the CPU). */
double tp_gmm_predict_dev(const tp_gmm_model *m, const double *X, int64_t n, const tp_device *dev, int threads,
                          int32_t *labels, float *resp, double *logp);

/* One E-step of m on the n samples of X, on dev (NULL: the CPU): resp[c*n + i] the
 * responsibilities (k x n), logp[n], nk[k] the responsibility sums and sums[k x d] the
 * weighted sums of the samples. Returns the mean log-likelihood. For the tests of the GPU. */
double tp_gmm_estep(const tp_gmm_model *m, const double *X, int64_t n, const tp_device *dev, int threads, double *resp,
                    double *logp, double *nk, double *sums);
/* One M-step on dev (NULL: the CPU): m's weights, means, covariances (with reg_covar) and
 * prec_chol from the responsibilities resp[c*n + i] of the n samples of X (m allocated with
 * its k, d and type; no re-seeding). Returns 0, or -1 when a covariance cannot be made
 * positive definite. For the tests of the GPU. */
int tp_gmm_mstep(tp_gmm_model *m, const double *X, int64_t n, const double *resp, double reg_covar,
                 const tp_device *dev, int threads);

/* Writes m atomically to path as a one-record stream: fields weights, means, covariances,
 * precisions_cholesky (f64), meta kind gmm and covariance_type, then the nmeta KEY, VALUE
 * pairs in kv. */
void tp_gmm_model_write(const char *path, const tp_gmm_model *m, int nmeta, const char *const *kv);
/* Reads a model written by tp_gmm_model_write (any numeric dtypes; precisions_cholesky is
 * recomputed from the covariances). Returns 0, or -1 with what is wrong in err. */
int tp_gmm_model_read(const char *path, tp_gmm_model *m, char *err, size_t errlen);

#endif
