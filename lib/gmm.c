/* gmm.c — see gmm.h.
 *
 * Work is split two ways, both independent of the thread count: the E-step over fixed
 * blocks of BLOCK samples, whose partial sums are added in block
 * order; the M-step over components, each component's sums taken by one thread.
 *
 * On a GPU (tp_gmm_options.device) the E-step and the sums of the M-step run on the device
 * (gpu_gmm.h), which holds the samples and the responsibilities for the whole fit; what
 * follows them (means, normalisation, reg_covar, Cholesky factors, events, re-seeding, the
 * convergence test, the choice of the best run) is this file's code on either device. The
 * initialisation (kmeans.c's k-means++ and Lloyd, random draws) stays on the CPU, so a seed gives the
 * same starting point on both. */
#include "gmm.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "device.h"
#include "gpu_gmm.h"
#include "kmeans.h"
#include "model.h"
#include "parallel.h"
#include "rng.h"
#include "dtype.h"
#include "stream.h"
#include "util.h"

/* LAPACK (in OpenBLAS): Cholesky factorisation. The trailing length is the hidden
 * argument gfortran passes for a character argument. */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);

#define BLOCK 256
#define MAX_EVENTS 10000
#define LOG_2PI 1.83787706640934548356
#define NK_EPS (10 * DBL_EPSILON) /* sklearn adds this to every responsibility sum */
/* Samples with a smaller responsibility for a component are left out of its covariance:
 * each would change it by less than 1e-12 of its share, while most (i, k) pairs of
 * well-separated data are below it (84% on MNIST's 50 principal components, K = 10). */
#define R_SKIP 1e-12

static const char *const cov_names[] = {"full", "tied", "diag", "spherical"};
static const char *const init_names[] = {"kmeans", "k-means++", "random", "random_from_data"};

int tp_gmm_cov_parse(const char *s, tp_gmm_cov *c)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, cov_names[i]) == 0) {
            *c = (tp_gmm_cov)i;
            return 0;
        }
    return -1;
}

const char *tp_gmm_cov_name(tp_gmm_cov c) { return cov_names[c]; }

int tp_gmm_init_parse(const char *s, tp_gmm_init *i)
{
    for (int j = 0; j < 4; j++)
        if (strcmp(s, init_names[j]) == 0) {
            *i = (tp_gmm_init)j;
            return 0;
        }
    return -1;
}

const char *tp_gmm_init_name(tp_gmm_init i) { return init_names[i]; }

size_t tp_gmm_cov_size(tp_gmm_cov cov, int k, int d)
{
    switch (cov) {
    case TP_GMM_FULL: return (size_t)k * (size_t)d * (size_t)d;
    case TP_GMM_TIED: return (size_t)d * (size_t)d;
    case TP_GMM_DIAG: return (size_t)k * (size_t)d;
    default: return (size_t)k;
    }
}

void tp_gmm_model_alloc(tp_gmm_model *m, int k, int d, tp_gmm_cov cov)
{
    TP_ASSERT(k >= 1 && d >= 1);
    size_t cs = tp_gmm_cov_size(cov, k, d);
    m->k = k;
    m->d = d;
    m->cov = cov;
    m->weights = tp_calloc((size_t)k, sizeof(double));
    m->means = tp_calloc((size_t)k * (size_t)d, sizeof(double));
    m->covariances = tp_calloc(cs, sizeof(double));
    m->prec_chol = tp_calloc(cs, sizeof(double));
}

void tp_gmm_model_free(tp_gmm_model *m)
{
    free(m->weights);
    free(m->means);
    free(m->covariances);
    free(m->prec_chol);
    memset(m, 0, sizeof *m);
}

void tp_gmm_model_copy(tp_gmm_model *dst, const tp_gmm_model *src)
{
    TP_ASSERT(dst->k == src->k && dst->d == src->d && dst->cov == src->cov);
    size_t cs = tp_gmm_cov_size(src->cov, src->k, src->d);
    memcpy(dst->weights, src->weights, (size_t)src->k * sizeof(double));
    memcpy(dst->means, src->means, (size_t)src->k * (size_t)src->d * sizeof(double));
    memcpy(dst->covariances, src->covariances, cs * sizeof(double));
    memcpy(dst->prec_chol, src->prec_chol, cs * sizeof(double));
}

/* U (d x d, upper) with U U^T = inverse of the symmetric matrix S, through S = L L^T and
 * U = L^-T; tmp and z hold d*d doubles each. Returns 0, or -1 when S is not positive
 * definite (or not finite). */
static int chol_prec(const double *S, int d, double *U, double *tmp, double *z)
{
    size_t dd = (size_t)d * (size_t)d;
    memcpy(tmp, S, dd * sizeof *tmp);
    int info = 0;
    /* On a row-major array, LAPACK's column-major "U" factor reads as the lower L. */
    dpotrf_("U", &d, tmp, &d, &info, 1);
    if (info != 0)
        return -1;
    for (int i = 0; i < d; i++)
        if (!(tmp[(size_t)i * d + i] > 0) || !isfinite(tmp[(size_t)i * d + i]))
            return -1;
    memset(z, 0, dd * sizeof *z);
    for (int i = 0; i < d; i++)
        z[(size_t)i * d + i] = 1;
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, d, d, 1.0, tmp, d, z, d);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double v = j >= i ? z[(size_t)j * d + i] : 0;
            if (!isfinite(v))
                return -1;
            U[(size_t)i * d + j] = v;
        }
    return 0;
}

/* 1/sqrt(v) of n variances into p; -1 when one is not positive and finite. */
static int var_prec(const double *v, size_t n, double *p)
{
    for (size_t i = 0; i < n; i++) {
        if (!(v[i] > 0) || !isfinite(v[i]))
            return -1;
        p[i] = 1 / sqrt(v[i]);
    }
    return 0;
}

int tp_gmm_model_precisions(tp_gmm_model *m, char *err, size_t errlen)
{
    int d = m->d;
    size_t dd = (size_t)d * (size_t)d;
    if (m->cov == TP_GMM_FULL || m->cov == TP_GMM_TIED) {
        double *tmp = tp_alloc(2 * dd, sizeof *tmp);
        int nk = m->cov == TP_GMM_FULL ? m->k : 1;
        for (int k = 0; k < nk; k++)
            if (chol_prec(m->covariances + k * dd, d, m->prec_chol + k * dd, tmp, tmp + dd)) {
                free(tmp);
                if (m->cov == TP_GMM_TIED)
                    snprintf(err, errlen, "the tied covariance is not positive definite");
                else
                    snprintf(err, errlen, "component %d's covariance is not positive definite", k);
                return -1;
            }
        free(tmp);
        return 0;
    }
    size_t n = tp_gmm_cov_size(m->cov, m->k, d);
    for (size_t i = 0; i < n; i++)
        if (var_prec(m->covariances + i, 1, m->prec_chol + i)) {
            snprintf(err, errlen, "component %d's variance is not positive",
                     (int)(m->cov == TP_GMM_DIAG ? i / (size_t)d : i));
            return -1;
        }
    return 0;
}

int64_t tp_gmm_n_parameters(const tp_gmm_model *m)
{
    int64_t k = m->k, d = m->d, cov;
    switch (m->cov) {
    case TP_GMM_FULL: cov = k * d * (d + 1) / 2; break;
    case TP_GMM_TIED: cov = d * (d + 1) / 2; break;
    case TP_GMM_DIAG: cov = k * d; break;
    default: cov = k; break;
    }
    return cov + k * d + k - 1;
}

double tp_gmm_bic(const tp_gmm_model *m, double mean_loglik, int64_t n)
{
    return -2 * mean_loglik * (double)n + (double)tp_gmm_n_parameters(m) * log((double)n);
}

double tp_gmm_aic(const tp_gmm_model *m, double mean_loglik, int64_t n)
{
    return -2 * mean_loglik * (double)n + 2 * (double)tp_gmm_n_parameters(m);
}

void tp_gmm_options_default(tp_gmm_options *o)
{
    memset(o, 0, sizeof *o);
    o->k = 1;
    o->cov = TP_GMM_FULL;
    o->init = TP_GMM_INIT_KMEANS;
    o->n_init = 10;
    o->max_iter = 100;
    o->tol = 1e-3;
    o->refine = 3;
    o->refine_tol = 1e-5;
    o->refine_iter = 1000;
    o->reg_covar = 1e-6;
    o->seed = 42;
    o->threads = tp_cpu_count();
}

void tp_gmm_info_free(tp_gmm_info *info)
{
    free(info->events);
    memset(info, 0, sizeof *info);
}

/* ---- the working state shared by the E-step and the M-step ---- */

typedef struct {
    const double *X; /* n x d (centred for a fit) */
    int64_t n, nblocks;
    int d, k, threads;
    tp_gmm_cov cov;
    double reg;
    tp_gmm_model *m;
    /* derived from m before each E-step */
    double *logw, *logdet, *prec2; /* k, k, squared precisions (diag: k*d, spherical: k) */
    /* Full and tied: the upper-triangular factors U (kf of them) cut into ncb column blocks;
     * block b holds columns cb[b]..cb[b+1] of every factor side by side, and only their first
     * cb[b+1] rows, which are the rows that are not zero. */
    double *ucat;
    int kf, ncb, cb[5];
    double *muu; /* k x d: (mean - ref) times the factor */
    double *ref; /* d: the weighted mean of the means, taken from every sample first */
    /* E-step results */
    double *resp;  /* k x n (component-major: one component's column is contiguous) */
    double *lpn;   /* n: log p(x_i) */
    double *bstat; /* nblocks x (1 + k + k*d): sum of log p, responsibility sums, weighted sums */
    double *nk, *sums; /* reduced over the blocks: k, k*d */
    /* predict outputs */
    int32_t *labels;
    float *resp_out;
    double *logp_out;
    /* scratch per thread */
    double *scratch;
    size_t scr_per;
    /* fit only */
    double *XtX;       /* d x d, for tied */
    double scale;      /* mean feature variance of the data */
    double *added;     /* per component: diagonal added to make it positive definite, -1 on failure */
    int *collapsed;    /* per component: in a collapsed episode */
    int *collapse_now; /* per component: collapsed in this M-step */
    int *notpd;        /* per component (the tied covariance: 0): in a not-positive-definite episode */
    int reseeded;      /* the last M-step re-seeded a component */
    int run, iter;
    tp_gmm_info *info;
    /* on a GPU: the device's copy of X and the responsibilities, and what it returns */
    const tp_gpu_api *api;
    tp_gpu_gmm *gs;
    double *base;  /* k: log weight + log det - d/2 log 2 pi */
    double *gstat; /* 1 + k + k*d: sum of log p, responsibility sums, weighted sums */
    double *gscat; /* the M-step's scatter: full k*d*d, diag and spherical k*d */
    int gpu_m;     /* the running M-step's scatter is in gscat */
} ws;

static double *scratch(const ws *w, int t) { return w->scratch + (size_t)t * w->scr_per; }

static void add_event(ws *w, int comp, tp_gmm_event_kind kind, double value)
{
    tp_gmm_info *in = w->info;
    if (!in)
        return;
    if (in->nevents >= MAX_EVENTS) {
        in->events_dropped++;
        return;
    }
    if (in->nevents % 64 == 0)
        in->events = tp_realloc(in->events, (size_t)in->nevents + 64, sizeof *in->events);
    in->events[in->nevents++] = (tp_gmm_event){w->run, w->iter, comp, kind, value};
}

/* logw, logdet and the squared precisions from the model. */
static void derive(ws *w)
{
    const tp_gmm_model *m = w->m;
    int d = w->d, k = w->k;
    size_t dd = (size_t)d * (size_t)d;
    for (int c = 0; c < k; c++) {
        w->logw[c] = log(m->weights[c]);
        double s = 0;
        switch (w->cov) {
        case TP_GMM_FULL:
        case TP_GMM_TIED: {
            const double *U = m->prec_chol + (w->cov == TP_GMM_FULL ? c * dd : 0);
            for (int j = 0; j < d; j++)
                s += log(U[(size_t)j * d + j]);
            break;
        }
        case TP_GMM_DIAG:
            for (int j = 0; j < d; j++) {
                double p = m->prec_chol[(size_t)c * d + j];
                s += log(p);
                w->prec2[(size_t)c * d + j] = p * p;
            }
            break;
        case TP_GMM_SPHERICAL:
            s = d * log(m->prec_chol[c]);
            w->prec2[c] = m->prec_chol[c] * m->prec_chol[c];
            break;
        }
        w->logdet[c] = s;
    }
    if (w->cov != TP_GMM_FULL && w->cov != TP_GMM_TIED)
        return;
    memset(w->ref, 0, (size_t)d * sizeof *w->ref);
    for (int c = 0; c < k; c++)
        for (int j = 0; j < d; j++)
            w->ref[j] += m->weights[c] * m->means[(size_t)c * d + j];
    int full = w->cov == TP_GMM_FULL, kf = w->kf = full ? k : 1;
    double *u = w->ucat;
    for (int b = 0; b < w->ncb; b++) {
        int c0 = w->cb[b], c1 = w->cb[b + 1], wb = c1 - c0;
        for (int i = 0; i < c1; i++)
            for (int f = 0; f < kf; f++)
                memcpy(u + ((size_t)i * kf + f) * wb, m->prec_chol + f * dd + (size_t)i * d + c0,
                       (size_t)wb * sizeof(double));
        u += (size_t)c1 * kf * wb;
    }
    for (int c = 0; c < k; c++) {
        const double *U = m->prec_chol + (full ? c * dd : 0), *mu = m->means + (size_t)c * d;
        double *o = w->muu + (size_t)c * d;
        memset(o, 0, (size_t)d * sizeof *o);
        for (int i = 0; i < d; i++) {
            double e = mu[i] - w->ref[i];
            for (int j = i; j < d; j++)
                o[j] += e * U[(size_t)i * d + j];
        }
    }
}

static int64_t block_len(const ws *w, int64_t b) { return b * BLOCK + BLOCK <= w->n ? BLOCK : w->n - b * BLOCK; }

/* Responsibility sums and weighted sums of block b into st (k + k*d). */
static void block_stats(const ws *w, int64_t b, double *st)
{
    int64_t i0 = b * BLOCK, nb = block_len(w, b);
    int k = w->k, d = w->d;
    for (int c = 0; c < k; c++) {
        const double *r = w->resp + (size_t)c * (size_t)w->n + i0;
        double s = 0;
        for (int64_t i = 0; i < nb; i++)
            s += r[i];
        st[c] = s;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, d, (int)nb, 1.0, w->resp + i0, (int)w->n,
                w->X + i0 * d, d, 0.0, st + k, d);
}

static size_t stat_len(const ws *w) { return 1 + (size_t)w->k + (size_t)w->k * (size_t)w->d; }

/* sum_j (a_j - b_j)^2, in four interleaved partial sums (the compiler may not reorder them). */
static double sq_dist(const double *a, const double *b, int d)
{
    double q0 = 0, q1 = 0, q2 = 0, q3 = 0;
    int j = 0;
    for (; j + 4 <= d; j += 4) {
        double e0 = a[j] - b[j], e1 = a[j + 1] - b[j + 1], e2 = a[j + 2] - b[j + 2], e3 = a[j + 3] - b[j + 3];
        q0 += e0 * e0;
        q1 += e1 * e1;
        q2 += e2 * e2;
        q3 += e3 * e3;
    }
    for (; j < d; j++) {
        double e = a[j] - b[j];
        q0 += e * e;
    }
    return (q0 + q1) + (q2 + q3);
}

/* The E-step on block b: log-probabilities, log-sum-exp, responsibilities; in a fit the
 * block's sums, in a prediction the labels and float responsibilities. */
static void estep_block(void *ctx, int64_t b, int t)
{
    ws *w = ctx;
    const tp_gmm_model *m = w->m;
    int k = w->k, d = w->d;
    int64_t i0 = b * BLOCK, nb = block_len(w, b);
    double *lp = scratch(w, t), *xs = lp + (size_t)BLOCK * k, *Y = xs + (size_t)BLOCK * d;
    const double *Xb = w->X + i0 * d;
    double c0 = -0.5 * d * LOG_2PI;
    if (w->cov == TP_GMM_FULL || w->cov == TP_GMM_TIED) {
        /* (x - mu) U = (x - ref) U - (mu - ref) U: one product for every component */
        for (int64_t i = 0; i < nb; i++)
            for (int j = 0; j < d; j++)
                xs[i * d + j] = Xb[i * d + j] - w->ref[j];
        const double *u = w->ucat;
        for (int bl = 0; bl < w->ncb; bl++) { /* Y's block bl: columns cb[bl].. of every factor */
            int c1 = w->cb[bl + 1], cols = w->kf * (c1 - w->cb[bl]);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, cols, c1, 1.0, xs, d, u, cols, 0.0,
                        Y + (size_t)nb * w->kf * w->cb[bl], cols);
            u += (size_t)c1 * cols;
        }
    }
    for (int c = 0; c < k; c++) {
        const double *mu = m->means + (size_t)c * d;
        double base = c0 + w->logdet[c] + w->logw[c];
        if (w->cov == TP_GMM_FULL || w->cov == TP_GMM_TIED) {
            const double *mu_u = w->muu + (size_t)c * d;
            int f = w->cov == TP_GMM_FULL ? c : 0;
            for (int64_t i = 0; i < nb; i++) {
                double q = 0;
                for (int bl = 0; bl < w->ncb; bl++) {
                    int from = w->cb[bl], wb = w->cb[bl + 1] - from;
                    q += sq_dist(Y + (size_t)nb * w->kf * from + ((size_t)i * w->kf + f) * wb, mu_u + from, wb);
                }
                lp[i * k + c] = base - 0.5 * q;
            }
        } else if (w->cov == TP_GMM_DIAG) {
            const double *p = w->prec2 + (size_t)c * d;
            for (int64_t i = 0; i < nb; i++) {
                double q = 0;
                for (int j = 0; j < d; j++) {
                    double e = Xb[i * d + j] - mu[j];
                    q += e * e * p[j];
                }
                lp[i * k + c] = base - 0.5 * q;
            }
        } else {
            double p = w->prec2[c];
            for (int64_t i = 0; i < nb; i++) {
                double q = 0;
                for (int j = 0; j < d; j++) {
                    double e = Xb[i * d + j] - mu[j];
                    q += e * e;
                }
                lp[i * k + c] = base - 0.5 * p * q;
            }
        }
    }
    double sum = 0;
    for (int64_t i = 0; i < nb; i++) {
        double *l = lp + i * k, inv;
        int arg;
        double lse = tp_gmm_lse(l, 1, k, &arg, &inv); /* l becomes exp(l - max) */
        sum += lse;
        if (w->resp) {
            for (int c = 0; c < k; c++)
                w->resp[(size_t)c * (size_t)w->n + i0 + i] = l[c] * inv;
            w->lpn[i0 + i] = lse;
        }
        if (w->labels)
            w->labels[i0 + i] = arg;
        if (w->resp_out)
            for (int c = 0; c < k; c++)
                w->resp_out[(size_t)(i0 + i) * k + c] = (float)(l[c] * inv);
        if (w->logp_out)
            w->logp_out[i0 + i] = lse;
    }
    double *st = w->bstat + (size_t)b * stat_len(w);
    st[0] = sum;
    if (w->resp)
        block_stats(w, b, st + 1);
}

static void stats_block(void *ctx, int64_t b, int t)
{
    (void)t;
    ws *w = ctx;
    block_stats(w, b, w->bstat + (size_t)b * stat_len(w) + 1);
}

/* Adds the blocks' sums in block order into nk and sums; returns the sum of log p. */
static double reduce_stats(ws *w)
{
    size_t sl = stat_len(w), kd = (size_t)w->k * (size_t)w->d;
    double lsum = 0;
    memset(w->nk, 0, (size_t)w->k * sizeof *w->nk);
    memset(w->sums, 0, kd * sizeof *w->sums);
    for (int64_t b = 0; b < w->nblocks; b++) {
        const double *st = w->bstat + (size_t)b * sl;
        lsum += st[0];
        for (int c = 0; c < w->k; c++)
            w->nk[c] += st[1 + c];
        for (size_t j = 0; j < kd; j++)
            w->sums[j] += st[1 + w->k + j];
    }
    return lsum;
}

/* nk and sums from what the device summed; returns the sum of log p. */
static double gpu_stats(ws *w)
{
    memcpy(w->nk, w->gstat + 1, (size_t)w->k * sizeof *w->nk);
    memcpy(w->sums, w->gstat + 1 + w->k, (size_t)w->k * (size_t)w->d * sizeof *w->sums);
    return w->gstat[0];
}

/* The E-step on the device: the sum of log p. */
static double gpu_estep(ws *w)
{
    const tp_gmm_model *m = w->m;
    double c0 = -0.5 * w->d * LOG_2PI;
    for (int c = 0; c < w->k; c++)
        w->base[c] = c0 + w->logdet[c] + w->logw[c];
    w->api->gmm->estep(w->gs, w->base, w->ref, m->prec_chol, w->muu, m->means, w->prec2, w->gstat);
    return gpu_stats(w);
}

/* The E-step of an MPI job (comm.h): each rank takes its blocks of samples, and every rank
 * gets every block's sums, responsibilities and log p, so what follows is one process's. */
static void estep_shared(ws *w)
{
    size_t n = (size_t)w->n;
    tp_comm_parallel_for(w->nblocks, 1, w->threads, estep_block, w);
    tp_comm_share_rows(w->bstat, stat_len(w) * sizeof *w->bstat, w->nblocks, 1);
    for (int c = 0; c < w->k; c++)
        tp_comm_share_rows(w->resp + (size_t)c * n, sizeof *w->resp, w->n, BLOCK);
    tp_comm_share_rows(w->lpn, sizeof *w->lpn, w->n, BLOCK);
}

/* The mean log-likelihood of the current model, with responsibilities and sums. */
static double estep(ws *w)
{
    derive(w);
    if (w->gs)
        return gpu_estep(w) / (double)w->n;
    if (tp_comm_size() > 1 && w->resp)
        estep_shared(w);
    else
        tp_parallel_for(w->nblocks, w->threads, estep_block, w);
    return reduce_stats(w) / (double)w->n;
}

/* Adds to the diagonal of S (d x d) until it has a Cholesky factor U; returns what was
 * added (0 when nothing was needed), or -1 when nothing helped. */
static double make_pd(double *S, int d, double *U, double *tmp, double *z, double scale)
{
    double added = 0;
    for (int tries = 0; tries < 40; tries++) {
        if (chol_prec(S, d, U, tmp, z) == 0)
            return added;
        double e = added > 0 ? added * 10 : 1e-10 * (scale > 0 ? scale : 1);
        for (int j = 0; j < d; j++)
            S[(size_t)j * d + j] += e - added;
        added = e;
    }
    return -1;
}

/* The same for n variances. */
static double make_pd_var(double *v, size_t n, double *p, double scale)
{
    double added = 0;
    for (int tries = 0; tries < 40; tries++) {
        if (var_prec(v, n, p) == 0)
            return added;
        double e = added > 0 ? added * 10 : 1e-10 * (scale > 0 ? scale : 1);
        for (size_t j = 0; j < n; j++)
            v[j] += e - added;
        added = e;
    }
    return -1;
}

/* The M-step for component c: mean, covariance (+ reg_covar), its precision factor; the
 * scatter from the device when it computed it (gpu_m). */
static void mstep_comp(void *ctx, int64_t cc, int t)
{
    ws *w = ctx;
    tp_gmm_model *m = w->m;
    int c = (int)cc, d = w->d;
    size_t dd = (size_t)d * (size_t)d;
    double nk = w->nk[c] + NK_EPS;
    double *mu = m->means + (size_t)c * d;
    for (int j = 0; j < d; j++)
        mu[j] = w->sums[(size_t)c * d + j] / nk;
    w->collapse_now[c] = 0;
    w->added[c] = 0;
    if (w->cov == TP_GMM_TIED)
        return;
    const double *r = w->resp + (size_t)c * (size_t)w->n;
    double *sc = scratch(w, t), tr = 0;
    if (w->cov == TP_GMM_FULL) {
        double *S = m->covariances + c * dd, *W = sc, *tmp = sc + (size_t)BLOCK * d, *z = tmp + dd;
        if (w->gpu_m) {
            memcpy(S, w->gscat + c * dd, dd * sizeof *S);
        } else {
            memset(S, 0, dd * sizeof *S);
            /* S = sum of r (x - mu)(x - mu)^T as W^T W, W's rows sqrt(r) (x - mu) gathered
             * BLOCK at a time from the samples that count (sel: those of one block of samples) */
            int rows = 0;
            int64_t *sel = (int64_t *)(z + dd);
            for (int64_t i0 = 0; i0 < w->n; i0 += BLOCK) {
                int64_t i1 = i0 + BLOCK < w->n ? i0 + BLOCK : w->n, nsel = 0;
                for (int64_t i = i0; i < i1; i++)
                    if (r[i] >= R_SKIP)
                        sel[nsel++] = i;
                for (int64_t q = 0; q < nsel; q++) {
                    if (q + 8 < nsel) /* scattered rows: fetch ahead */
                        for (int j = 0; j < d; j += 8)
                            __builtin_prefetch(w->X + sel[q + 8] * d + j);
                    double s = sqrt(r[sel[q]]), *wr = W + (size_t)rows * d;
                    const double *x = w->X + sel[q] * d;
                    for (int j = 0; j < d; j++)
                        wr[j] = s * (x[j] - mu[j]);
                    if (++rows == BLOCK) {
                        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, rows, 1.0, W, d, 1.0, S, d);
                        rows = 0;
                    }
                }
            }
            if (rows)
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, rows, 1.0, W, d, 1.0, S, d);
        }
        for (int i = 0; i < d; i++) {
            for (int j = i; j < d; j++)
                S[(size_t)j * d + i] = S[(size_t)i * d + j] = S[(size_t)i * d + j] / nk;
            tr += S[(size_t)i * d + i];
        }
        for (int j = 0; j < d; j++)
            S[(size_t)j * d + j] += w->reg;
        w->added[c] = make_pd(S, d, m->prec_chol + c * dd, tmp, z, w->scale);
    } else {
        double *v = sc; /* d variances */
        if (w->gpu_m) {
            memcpy(v, w->gscat + (size_t)c * d, (size_t)d * sizeof *v);
        } else {
            memset(v, 0, (size_t)d * sizeof *v);
            for (int64_t i = 0; i < w->n; i++) {
                const double *x = w->X + i * d;
                double ri = r[i];
                if (ri < R_SKIP)
                    continue;
                for (int j = 0; j < d; j++) {
                    double e = x[j] - mu[j];
                    v[j] += ri * e * e;
                }
            }
        }
        for (int j = 0; j < d; j++)
            tr += v[j] /= nk;
        if (w->cov == TP_GMM_DIAG) {
            double *cv = m->covariances + (size_t)c * d;
            for (int j = 0; j < d; j++)
                cv[j] = v[j] + w->reg;
            w->added[c] = make_pd_var(cv, (size_t)d, m->prec_chol + (size_t)c * d, w->scale);
        } else {
            m->covariances[c] = tr / d + w->reg;
            w->added[c] = make_pd_var(m->covariances + c, 1, m->prec_chol + c, w->scale);
        }
    }
    w->collapse_now[c] = tr / d <= w->reg + 1e-14 * w->scale;
}

/* The tied covariance from the data's scatter and the new means. Returns what was added. */
static double mstep_tied(ws *w)
{
    tp_gmm_model *m = w->m;
    int d = w->d;
    size_t dd = (size_t)d * (size_t)d;
    double *S = m->covariances, *tmp = scratch(w, 0), *z = tmp + dd, tot = 0, tr = 0;
    memcpy(S, w->XtX, dd * sizeof *S);
    for (int c = 0; c < w->k; c++) {
        double nk = w->nk[c] + NK_EPS;
        const double *mu = m->means + (size_t)c * d;
        tot += nk;
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++)
                S[(size_t)i * d + j] -= nk * mu[i] * mu[j];
    }
    for (int i = 0; i < d; i++) {
        for (int j = i; j < d; j++)
            S[(size_t)j * d + i] = S[(size_t)i * d + j] = S[(size_t)i * d + j] / tot;
        tr += S[(size_t)i * d + i];
    }
    for (int j = 0; j < d; j++)
        S[(size_t)j * d + j] += w->reg;
    w->collapse_now[0] = tr / d <= w->reg + 1e-14 * w->scale;
    return make_pd(S, d, m->prec_chol, tmp, z, w->scale);
}

/* Puts component c at sample i with the mean covariance of the components not in empty. */
static void reseed(ws *w, int c, int64_t i, const int *empty)
{
    tp_gmm_model *m = w->m;
    int d = w->d, live = 0;
    size_t dd = (size_t)d * (size_t)d;
    memcpy(m->means + (size_t)c * d, w->X + i * d, (size_t)d * sizeof(double));
    if (w->cov == TP_GMM_TIED)
        return;
    size_t per = w->cov == TP_GMM_FULL ? dd : w->cov == TP_GMM_DIAG ? (size_t)d : 1;
    double *cv = m->covariances + c * per;
    memset(cv, 0, per * sizeof *cv);
    for (int o = 0; o < w->k; o++)
        if (!empty[o]) {
            live++;
            for (size_t j = 0; j < per; j++)
                cv[j] += m->covariances[o * per + j];
        }
    for (size_t j = 0; j < per; j++)
        cv[j] /= live;
    /* an average of positive definite matrices is positive definite */
    double *tmp = scratch(w, 0);
    int bad = w->cov == TP_GMM_FULL ? chol_prec(cv, d, m->prec_chol + c * per, tmp, tmp + dd)
                                    : var_prec(cv, per, m->prec_chol + c * per);
    TP_ASSERT(bad == 0);
}

/* What mstep_comp computed for the components of each rank, on every rank. */
static void share_components(ws *w)
{
    tp_gmm_model *m = w->m;
    size_t d = (size_t)w->d, per = w->cov == TP_GMM_FULL ? d * d : w->cov == TP_GMM_DIAG ? d : 1;
    tp_comm_share_rows(m->means, d * sizeof *m->means, w->k, 1);
    if (w->cov != TP_GMM_TIED) { /* the tied covariance is made after, by every rank */
        tp_comm_share_rows(m->covariances, per * sizeof *m->covariances, w->k, 1);
        tp_comm_share_rows(m->prec_chol, per * sizeof *m->prec_chol, w->k, 1);
    }
    tp_comm_share_rows(w->added, sizeof *w->added, w->k, 1);
    tp_comm_share_rows(w->collapse_now, sizeof *w->collapse_now, w->k, 1);
}

/* A full M-step; records events; re-seeds empty components when the E-step's log p is
 * there (reseed_ok). Returns 0, or -1 when a covariance could not be made positive definite. */
static int mstep(ws *w, int reseed_ok)
{
    tp_gmm_model *m = w->m;
    int k = w->k, d = w->d;
    w->gpu_m = w->gs && w->cov != TP_GMM_TIED;
    if (w->gpu_m) { /* the means as mstep_comp computes them, for the device's scatter */
        for (int c = 0; c < k; c++)
            for (int j = 0; j < d; j++)
                m->means[(size_t)c * d + j] = w->sums[(size_t)c * d + j] / (w->nk[c] + NK_EPS);
        w->api->gmm->scatter(w->gs, m->means, R_SKIP, w->gscat);
    }
    tp_comm_parallel_for(k, 1, w->threads, mstep_comp, w); /* an MPI job: each rank its components */
    if (tp_comm_size() > 1)
        share_components(w);
    if (w->cov == TP_GMM_TIED) {
        double a = mstep_tied(w);
        if (a < 0)
            return -1;
        if (a > 0 && !w->notpd[0])
            add_event(w, -1, TP_GMM_EV_NOT_PD, a);
        w->notpd[0] = a > 0;
        if (reseed_ok && w->collapse_now[0] && !w->collapsed[0])
            add_event(w, -1, TP_GMM_EV_COLLAPSED, (double)w->n);
        w->collapsed[0] = reseed_ok && w->collapse_now[0];
    }
    int *empty = tp_calloc((size_t)k, sizeof *empty), nempty = 0;
    for (int c = 0; c < k; c++) {
        if (w->added[c] < 0) {
            free(empty);
            return -1;
        }
        if (reseed_ok && w->nk[c] < TP_GMM_EMPTY) {
            empty[c] = 1;
            nempty++;
            continue;
        }
        if (w->cov != TP_GMM_TIED) {
            if (w->added[c] > 0 && !w->notpd[c])
                add_event(w, c, TP_GMM_EV_NOT_PD, w->added[c]);
            w->notpd[c] = w->added[c] > 0;
            if (reseed_ok && w->collapse_now[c] && !w->collapsed[c]) /* not the seeds' point covariances */
                add_event(w, c, TP_GMM_EV_COLLAPSED, w->nk[c]);
            w->collapsed[c] = reseed_ok && w->collapse_now[c];
        }
    }
    if (nempty && w->gs) /* log p of every sample, to find the worst explained */
        w->api->gmm->results(w->gs, NULL, w->lpn, NULL);
    double tot = 0;
    for (int c = 0; c < k; c++) {
        if (empty[c]) {
            /* the worst-explained sample not taken yet (log p set to +inf once taken) */
            int64_t worst = 0;
            for (int64_t i = 1; i < w->n; i++)
                if (w->lpn[i] < w->lpn[worst])
                    worst = i;
            add_event(w, c, TP_GMM_EV_EMPTY, w->nk[c]);
            reseed(w, c, worst, empty);
            w->lpn[worst] = INFINITY;
            w->nk[c] = 1;
            w->collapsed[c] = 0;
        }
        tot += w->nk[c] + NK_EPS;
    }
    for (int c = 0; c < k; c++)
        m->weights[c] = (w->nk[c] + NK_EPS) / tot;
    w->reseeded = nempty > 0;
    free(empty);
    return 0;
}

/* Initial parameters of run w->run by method init (iteration 0 of the run). */
static int initialise(ws *w, tp_gmm_init init, tp_rng *r)
{
    int64_t n = w->n;
    int k = w->k;
    double *resp = w->resp;
    if (init == TP_GMM_INIT_RANDOM) {
        for (int64_t i = 0; i < n; i++) {
            double s = 0;
            for (int c = 0; c < k; c++)
                s += resp[(size_t)c * n + i] = tp_rng_double(r);
            for (int c = 0; c < k; c++)
                resp[(size_t)c * n + i] /= s;
        }
    } else {
        memset(resp, 0, (size_t)k * (size_t)n * sizeof *resp);
        if (init == TP_GMM_INIT_KMEANS) {
            int32_t *lab = tp_alloc((size_t)n, sizeof *lab);
            tp_kmeans(w->X, n, w->d, k, w->threads, 1e-4 * w->scale, r, lab);
            for (int64_t i = 0; i < n; i++)
                resp[(size_t)lab[i] * n + i] = 1;
            free(lab);
        } else {
            int64_t *idx = tp_alloc((size_t)k, sizeof *idx);
            if (init == TP_GMM_INIT_KMEANSPP) {
                tp_kmeanspp(w->X, n, w->d, k, w->threads, r, idx);
            } else { /* k distinct samples: Floyd's algorithm, then in draw order */
                for (int64_t j = n - k; j < n; j++) {
                    int64_t v = (int64_t)tp_rng_below(r, (uint64_t)j + 1);
                    for (int c = 0; c < (int)(j - (n - k)); c++)
                        if (idx[c] == v) {
                            v = j;
                            break;
                        }
                    idx[j - (n - k)] = v;
                }
            }
            for (int c = 0; c < k; c++)
                resp[(size_t)c * n + idx[c]] = 1;
            free(idx);
        }
    }
    if (w->gs) {
        w->api->gmm->set_resp(w->gs, resp, w->gstat);
        gpu_stats(w);
    } else {
        tp_parallel_for(w->nblocks, w->threads, stats_block, w);
        reduce_stats(w);
    }
    return mstep(w, 0);
}

static void ws_alloc(ws *w, int64_t n, int d, int k, int threads)
{
    tp_blas_serial(); /* threads come from tp_parallel_for */
    w->n = n;
    w->d = d;
    w->k = k;
    w->threads = threads;
    w->nblocks = (n + BLOCK - 1) / BLOCK;
    w->logw = tp_alloc((size_t)k, sizeof(double));
    w->logdet = tp_alloc((size_t)k, sizeof(double));
    w->prec2 = tp_alloc((size_t)k * (size_t)d, sizeof(double));
    w->ucat = tp_alloc((size_t)d * (size_t)k * (size_t)d, sizeof(double));
    /* column blocks of the factors: fewer multiplications by their zeros, each product still
     * large enough to run at full speed */
    w->ncb = d >= 32 ? 4 : d >= 12 ? 2 : 1;
    for (int b = 0; b <= w->ncb; b++)
        w->cb[b] = d * b / w->ncb;
    w->muu = tp_alloc((size_t)k * (size_t)d, sizeof(double));
    w->ref = tp_alloc((size_t)d, sizeof(double));
    w->bstat = tp_alloc((size_t)w->nblocks, stat_len(w) * sizeof(double));
    size_t dd = (size_t)d * (size_t)d;
    /* E-step: lp (BLOCK x k), xs (BLOCK x d), Y (BLOCK x k*d); M-step: W (BLOCK x d), 2 d x d */
    w->scr_per = (size_t)BLOCK * ((size_t)k + (size_t)d + (size_t)k * d) + 2 * dd + (size_t)d + BLOCK;
    w->scratch = tp_alloc((size_t)threads, w->scr_per * sizeof(double));
}

/* Whether the samples go to dev: a GPU, and few enough of them for its int-sized products. */
static int on_gpu(const tp_device *dev, int64_t n) { return dev && tp_device_is_gpu(dev) && n >= 1 && n <= INT32_MAX / 2; }

/* Puts w's samples on dev's GPU: from here on the E-step and the M-step's sums run there. */
static void gpu_attach(ws *w, const tp_device *dev)
{
    size_t kd = (size_t)w->k * (size_t)w->d;
    w->api = dev->api;
    w->gs = w->api->gmm->create(dev->gpu, w->X, w->n, w->d, w->k, (int)w->cov);
    w->base = tp_alloc((size_t)w->k, sizeof(double));
    w->gstat = tp_alloc(stat_len(w), sizeof(double));
    w->gscat = tp_alloc(w->cov == TP_GMM_FULL ? kd * (size_t)w->d : kd, sizeof(double));
}

/* The fit's buffers (responsibilities, sums, the M-step's bookkeeping; X^T X for tied) of
 * a ws whose samples are set. */
static void ws_fit_alloc(ws *w)
{
    int k = w->k, d = w->d;
    w->resp = tp_alloc((size_t)k * (size_t)w->n, sizeof(double));
    w->lpn = tp_alloc((size_t)w->n, sizeof(double));
    w->nk = tp_alloc((size_t)k, sizeof(double));
    w->sums = tp_alloc((size_t)k * (size_t)d, sizeof(double));
    w->added = tp_alloc((size_t)k, sizeof(double));
    w->collapsed = tp_alloc((size_t)k, sizeof(int));
    w->collapse_now = tp_alloc((size_t)k, sizeof(int));
    w->notpd = tp_alloc((size_t)k, sizeof(int));
    if (w->cov == TP_GMM_TIED) {
        w->XtX = tp_calloc((size_t)d * (size_t)d, sizeof(double));
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)w->n, 1.0, w->X, d, 0.0, w->XtX, d);
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++)
                w->XtX[(size_t)j * d + i] = w->XtX[(size_t)i * d + j];
    }
}

static void ws_free(ws *w)
{
    if (w->gs)
        w->api->gmm->destroy(w->gs);
    free(w->base);
    free(w->gstat);
    free(w->gscat);
    free(w->logw);
    free(w->logdet);
    free(w->prec2);
    free(w->ucat);
    free(w->muu);
    free(w->ref);
    free(w->bstat);
    free(w->scratch);
    free(w->resp);
    free(w->lpn);
    free(w->nk);
    free(w->sums);
    free(w->XtX);
    free(w->added);
    free(w->collapsed);
    free(w->collapse_now);
    free(w->notpd);
}

/* EM steps on w->m from its present parameters, *it counting on, until a step changes the
 * lower bound by less than tol (not counting a step that re-seeded a component, nor the one
 * after it) or *it reaches max_iter. *lb: the last lower bound (-INFINITY for none yet).
 * Returns 0, or -1 when a covariance could not be made positive definite. */
static int em_steps(ws *w, const tp_gmm_options *o, double tol, int max_iter, double *lb, int *it, int *conv)
{
    int skip = 0;
    *conv = 0;
    while (*it < max_iter) {
        w->iter = ++*it;
        double prev = *lb;
        *lb = estep(w);
        if (mstep(w, 1))
            return -1;
        if (o->on_iter)
            o->on_iter(o->ctx, w->run, *it, *lb);
        if (!skip && !w->reseeded && fabs(*lb - prev) < tol) {
            *conv = 1;
            break;
        }
        skip = w->reseeded;
    }
    return 0;
}

/* A finished run: its parameters and per-component episode flags, to be refined or kept. */
typedef struct {
    tp_gmm_model m;
    int *collapsed, *notpd;
    double lb;
    int run, iters, conv, refined;
} candidate;

static void candidate_alloc(candidate *c, int k, int d, tp_gmm_cov cov)
{
    tp_gmm_model_alloc(&c->m, k, d, cov);
    c->collapsed = tp_calloc((size_t)k, sizeof(int));
    c->notpd = tp_calloc((size_t)k, sizeof(int));
}

static void candidate_free(candidate *c)
{
    tp_gmm_model_free(&c->m);
    free(c->collapsed);
    free(c->notpd);
}

/* Offers run w->run (lower bound lb) to the nkept best of top (at most cap, highest first);
 * returns the new count. A run enters above the first lower one, so of equals the earlier stays
 * first; a NaN bound never enters but into an empty list. */
static int candidate_offer(candidate *top, int cap, int nkept, const ws *w, double lb, int it, int conv)
{
    int pos = nkept;
    while (pos > 0 && (lb > top[pos - 1].lb || isnan(top[pos - 1].lb)))
        pos--;
    if (pos >= cap)
        return nkept;
    int last = nkept < cap ? nkept : cap - 1; /* the slot that is overwritten or filled */
    candidate spare = top[last];
    memmove(top + pos + 1, top + pos, (size_t)(last - pos) * sizeof *top);
    top[pos] = spare;
    candidate *c = &top[pos];
    tp_gmm_model_copy(&c->m, w->m);
    memcpy(c->collapsed, w->collapsed, (size_t)w->k * sizeof(int));
    memcpy(c->notpd, w->notpd, (size_t)w->k * sizeof(int));
    *c = (candidate){c->m, c->collapsed, c->notpd, lb, w->run, it, conv, 0};
    return nkept < cap ? nkept + 1 : nkept;
}

int tp_gmm_fit(const double *X, int64_t n, int d, const tp_gmm_options *o, tp_gmm_model *m, tp_gmm_info *info,
               char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    memset(m, 0, sizeof *m);
    const tp_gmm_model *st = o->start;
    int k = st ? st->k : o->k;
    tp_gmm_cov cov = st ? st->cov : o->cov;
    if (d < 1 || k < 1) {
        snprintf(err, errlen, "%s", d < 1 ? "no features" : "fewer than one component");
        return -1;
    }
    if (n < 2 || n < k) {
        snprintf(err, errlen, "%d component%s need%s at least %lld samples, the input holds %lld", k, k == 1 ? "" : "s",
                 k == 1 ? "s" : "", (long long)(k > 2 ? k : 2), (long long)n);
        return -1;
    }
    if (n > INT32_MAX / 2) {
        snprintf(err, errlen, "%lld samples are more than this program handles", (long long)n);
        return -1;
    }
    if (st && st->d != d) {
        snprintf(err, errlen, "the starting model has %d features, the data %d", st->d, d);
        return -1;
    }
    ws w = {0};
    int threads = o->threads >= 1 ? o->threads : 1;
    ws_alloc(&w, n, d, k, threads);
    w.cov = cov;
    w.reg = o->reg_covar;
    w.info = info;
    size_t nd = (size_t)n * (size_t)d;
    /* the data centred on its mean: sums of squares lose no digits to a far-away origin */
    double *Xc = tp_alloc(nd, sizeof *Xc), *xbar = tp_calloc((size_t)d, sizeof *xbar);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            xbar[j] += X[(size_t)i * d + j];
    for (int j = 0; j < d; j++)
        xbar[j] /= (double)n;
    double var = 0;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            double e = X[(size_t)i * d + j] - xbar[j];
            Xc[(size_t)i * d + j] = e;
            var += e * e;
        }
    w.X = Xc;
    w.scale = var / (double)n / d;
    ws_fit_alloc(&w);
    if (on_gpu(o->device, n))
        gpu_attach(&w, o->device);
    tp_gmm_model cur;
    tp_gmm_model_alloc(&cur, k, d, cov);
    w.m = &cur;
    tp_rng root;
    tp_rng_seed(&root, o->seed);
    int runs = st ? 1 : (o->n_init >= 1 ? o->n_init : 1), rc = 0;
    /* the best runs so far, highest lower bound first (the earlier run of equals first): the
     * candidates for refinement, or the one kept */
    int refining = o->max_iter > 0 && o->refine > 0 && o->refine_tol < o->tol;
    int nkeep = refining && o->refine > 1 ? (o->refine < runs ? o->refine : runs) : 1, nkept = 0;
    candidate *top = tp_calloc((size_t)nkeep, sizeof *top);
    for (int i = 0; i < nkeep; i++)
        candidate_alloc(&top[i], k, d, cov);
    for (int run = 0; run < runs && rc == 0; run++) {
        w.run = run;
        w.iter = 0;
        memset(w.collapsed, 0, (size_t)k * sizeof(int));
        memset(w.notpd, 0, (size_t)k * sizeof(int));
        if (st) {
            tp_gmm_model_copy(&cur, st);
            for (int c = 0; c < k; c++)
                for (int j = 0; j < d; j++)
                    cur.means[(size_t)c * d + j] -= xbar[j];
            if (tp_gmm_model_precisions(&cur, err, errlen)) {
                rc = -1;
                break;
            }
        } else {
            tp_rng r = tp_rng_split(&root, (uint64_t)run);
            if (initialise(&w, o->init, &r)) {
                rc = -1;
                break;
            }
        }
        double lb = -INFINITY;
        int it = 0, conv = 0;
        if (em_steps(&w, o, o->tol, o->max_iter, &lb, &it, &conv)) {
            rc = -1;
            break;
        }
        if (o->max_iter <= 0)
            lb = estep(&w);
        if (o->on_run)
            o->on_run(o->ctx, run, it, lb, conv);
        nkept = candidate_offer(top, nkeep, nkept, &w, lb, it, conv);
    }
    /* refinement: the best runs go on to the tighter tolerance, and the highest result is kept
     * (EM never lowers a run's bound, so the kept fit is at least the best run's) */
    int nref = rc == 0 && refining ? (o->refine < nkept ? o->refine : nkept) : 0;
    int kept = 0;
    for (int i = 0; i < nref && rc == 0; i++) {
        candidate *c = &top[i];
        tp_gmm_model_copy(&cur, &c->m);
        memcpy(w.collapsed, c->collapsed, (size_t)k * sizeof(int));
        memcpy(w.notpd, c->notpd, (size_t)k * sizeof(int));
        w.run = c->run;
        int base = c->iters;
        if (em_steps(&w, o, o->refine_tol, base + o->refine_iter, &c->lb, &c->iters, &c->conv)) {
            rc = -1;
            break;
        }
        c->refined = c->iters - base;
        tp_gmm_model_copy(&c->m, &cur);
        if (o->on_refine)
            o->on_refine(o->ctx, i, nref, c->run, c->iters, c->lb, c->conv);
        if (c->lb > top[kept].lb)
            kept = i;
    }
    if (rc == 0) {
        candidate *c = &top[kept];
        info->lower_bound = c->lb;
        info->iterations = c->iters;
        info->refine_iterations = c->refined;
        info->converged = c->conv;
        info->best_run = c->run;
        info->refined = nref;
    }
    if (rc && !*err)
        snprintf(err, errlen, "run %d, iteration %d: a covariance stays singular whatever is added to its diagonal",
                 w.run, w.iter);
    if (rc == 0) {
        tp_gmm_model_alloc(m, k, d, cov);
        tp_gmm_model_copy(m, &top[kept].m);
        for (int c = 0; c < k; c++)
            for (int j = 0; j < d; j++)
                m->means[(size_t)c * d + j] += xbar[j];
    }
    for (int i = 0; i < nkeep; i++)
        candidate_free(&top[i]);
    free(top);
    tp_gmm_model_free(&cur);
    ws_free(&w);
    free(Xc);
    free(xbar);
    return rc;
}

double tp_gmm_predict_dev(const tp_gmm_model *m, const double *X, int64_t n, const tp_device *dev, int threads,
                          int32_t *labels, float *resp, double *logp)
{
    if (n <= 0)
        return 0;
    ws w = {0};
    ws_alloc(&w, n, m->d, m->k, threads >= 1 ? threads : 1);
    w.X = X;
    w.cov = m->cov;
    w.m = (tp_gmm_model *)m; /* read only */
    double s = 0;
    if (on_gpu(dev, n)) {
        int k = m->k;
        gpu_attach(&w, dev);
        w.nk = tp_alloc((size_t)k, sizeof(double));
        w.sums = tp_alloc((size_t)k * (size_t)m->d, sizeof(double));
        derive(&w);
        s = gpu_estep(&w);
        double *r = resp ? tp_alloc((size_t)k * (size_t)n, sizeof *r) : NULL;
        w.api->gmm->results(w.gs, r, logp, labels);
        for (int64_t i = 0; r && i < n; i++)
            for (int c = 0; c < k; c++)
                resp[(size_t)i * k + c] = (float)r[(size_t)c * (size_t)n + i];
        free(r);
    } else {
        w.labels = labels;
        w.resp_out = resp;
        w.logp_out = logp;
        derive(&w);
        tp_parallel_for(w.nblocks, w.threads, estep_block, &w);
        for (int64_t b = 0; b < w.nblocks; b++)
            s += w.bstat[(size_t)b * stat_len(&w)];
    }
    ws_free(&w);
    return s / (double)n;
}

double tp_gmm_predict(const tp_gmm_model *m, const double *X, int64_t n, int threads, int32_t *labels, float *resp,
                      double *logp)
{
    return tp_gmm_predict_dev(m, X, n, NULL, threads, labels, resp, logp);
}

double tp_gmm_estep(const tp_gmm_model *m, const double *X, int64_t n, const tp_device *dev, int threads, double *resp,
                    double *logp, double *nk, double *sums)
{
    ws w = {0};
    ws_alloc(&w, n, m->d, m->k, threads >= 1 ? threads : 1);
    w.X = X;
    w.cov = m->cov;
    w.m = (tp_gmm_model *)m; /* read only */
    w.resp = resp;
    w.lpn = logp;
    w.nk = nk;
    w.sums = sums;
    if (on_gpu(dev, n))
        gpu_attach(&w, dev);
    double lb = estep(&w);
    if (w.gs)
        w.api->gmm->results(w.gs, resp, logp, NULL);
    w.resp = w.lpn = w.nk = w.sums = NULL; /* the caller's */
    ws_free(&w);
    return lb;
}

int tp_gmm_mstep(tp_gmm_model *m, const double *X, int64_t n, const double *resp, double reg_covar,
                 const tp_device *dev, int threads)
{
    ws w = {0};
    int d = m->d;
    ws_alloc(&w, n, d, m->k, threads >= 1 ? threads : 1);
    w.X = X;
    w.cov = m->cov;
    w.reg = reg_covar;
    w.m = m;
    ws_fit_alloc(&w);
    memcpy(w.resp, resp, (size_t)m->k * (size_t)n * sizeof *w.resp);
    double var = 0;
    for (int j = 0; j < d; j++) {
        double mean = 0;
        for (int64_t i = 0; i < n; i++)
            mean += X[(size_t)i * d + j];
        mean /= (double)n;
        for (int64_t i = 0; i < n; i++)
            var += (X[(size_t)i * d + j] - mean) * (X[(size_t)i * d + j] - mean);
    }
    w.scale = var / (double)n / d;
    if (on_gpu(dev, n)) {
        gpu_attach(&w, dev);
        w.api->gmm->set_resp(w.gs, w.resp, w.gstat);
        gpu_stats(&w);
    } else {
        tp_parallel_for(w.nblocks, w.threads, stats_block, &w);
        reduce_stats(&w);
    }
    int rc = mstep(&w, 0);
    ws_free(&w);
    return rc;
}

/* ---- the model as a stream ---- */

static const char *const model_fields[] = {"weights", "means", "covariances", "precisions_cholesky"};

/* The shape of model field f (index into model_fields) into dims; returns the rank. */
static int field_shape(tp_gmm_cov cov, int k, int d, int f, int64_t *dims)
{
    if (f == 0) {
        dims[0] = k;
        return 1;
    }
    if (f == 1) {
        dims[0] = k;
        dims[1] = d;
        return 2;
    }
    switch (cov) {
    case TP_GMM_FULL: dims[0] = k, dims[1] = d, dims[2] = d; return 3;
    case TP_GMM_TIED: dims[0] = d, dims[1] = d; return 2;
    case TP_GMM_DIAG: dims[0] = k, dims[1] = d; return 2;
    default: dims[0] = k; return 1;
    }
}

void tp_gmm_model_write(const char *path, const tp_gmm_model *m, int nmeta, const char *const *kv)
{
    tp_header mh;
    tp_header_init(&mh);
    tp_header_set_meta(&mh, "kind", "gmm");
    tp_header_set_meta(&mh, "covariance_type", tp_gmm_cov_name(m->cov));
    for (int i = 0; i < nmeta; i++)
        tp_header_set_meta(&mh, kv[2 * i], kv[2 * i + 1]);
    const double *arr[4] = {m->weights, m->means, m->covariances, m->prec_chol};
    tp_tensor t[4];
    for (int f = 0; f < 4; f++) {
        t[f] = (tp_tensor){model_fields[f], TP_F64, 0, {0}, arr[f]};
        t[f].rank = field_shape(m->cov, m->k, m->d, f, t[f].shape);
    }
    tp_model_write(path, &mh, t, 4);
    tp_header_free(&mh);
}

int tp_gmm_model_read(const char *path, tp_gmm_model *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    tp_model mo;
    int rc = -1;
    if (tp_model_open(&mo, path, "gmm", err, errlen))
        goto done;
    const char *ct = tp_header_get_meta(&mo.h, "covariance_type");
    tp_gmm_cov cov;
    if (!ct || tp_gmm_cov_parse(ct, &cov)) {
        snprintf(err, errlen, "bad or missing covariance_type '%.40s'", ct ? ct : "");
        goto done;
    }
    int64_t kw[1] = {-1}, kd[2] = {-1, -1};
    const tp_field *f[4] = {NULL};
    if (!(f[0] = tp_model_tensor(&mo, model_fields[0], TP_F64, 1, kw, err, errlen)))
        goto done;
    kd[0] = kw[0];
    if (!(f[1] = tp_model_tensor(&mo, model_fields[1], TP_F64, 2, kd, err, errlen)))
        goto done;
    if (kd[0] > 1 << 20 || kd[1] > 1 << 20) {
        snprintf(err, errlen, "%lld components of %lld features are more than gmm handles", (long long)kd[0],
                 (long long)kd[1]);
        goto done;
    }
    int k = (int)kd[0], d = (int)kd[1];
    for (int i = 2; i < 4; i++) { /* the Cholesky factors are optional: they are derived again */
        int64_t dims[3];
        int rank = field_shape(cov, k, d, i, dims);
        if ((i == 2 || tp_header_find(&mo.h, model_fields[i]) >= 0) &&
            !(f[i] = tp_model_tensor(&mo, model_fields[i], TP_F64, rank, dims, err, errlen)))
            goto done;
    }
    if (tp_model_all_taken(&mo, err, errlen))
        goto done;
    tp_gmm_model_alloc(m, k, d, cov);
    tp_model_take(&mo, f[0], m->weights);
    tp_model_take(&mo, f[1], m->means);
    tp_model_take(&mo, f[2], m->covariances);
    double s = 0;
    for (int c = 0; c < k; c++) {
        if (m->weights[c] < 0) {
            snprintf(err, errlen, "component %d has a negative weight", c);
            goto done;
        }
        s += m->weights[c];
    }
    if (fabs(s - 1) > 1e-6) {
        snprintf(err, errlen, "the weights sum to %.9g, not 1", s);
        goto done;
    }
    rc = tp_gmm_model_precisions(m, err, errlen);
done:
    if (rc)
        tp_gmm_model_free(m);
    tp_model_close(&mo);
    return rc;
}
