/* tsne.c — t-SNE's gradient (attractive part, exact repulsion), exact KL, the optimiser's
 * one loop with the CPU's and a GPU's steps behind it, and the device's share of the
 * affinities. See tsne.h. */
#include "tsne.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "dtype.h"
#include "gpu_tsne.h"
#include "parallel.h"
#include "pca.h"
#include "util.h"

#define CHUNK 256 /* points per parallel work item */

void tp_tsne_cfg_default(tp_tsne_cfg *c, int d, int nthreads)
{
    memset(c, 0, sizeof *c);
    c->d = d;
    c->dof = d - 1 > 1 ? d - 1 : 1;
    c->method = TP_TSNE_AUTO;
    c->theta = 0.5;
    c->fft_nodes = 3;
    c->fft_min_intervals = 50;
    c->fft_per_unit = 1;
    c->nthreads = nthreads;
}

tp_tsne_method tp_tsne_pick(const tp_tsne_cfg *c, int64_t n)
{
    if (c->method != TP_TSNE_AUTO)
        return c->method;
    if (n <= 1000 || c->d > 3)
        return TP_TSNE_EXACT;
    /* Measured on 2 cores (CPU time per gradient, clustered 2-D layouts at t-SNE's final
     * density): Barnes-Hut with grouped walks 8.7 / 77 / 361 ms at 10k / 70k / 280k points,
     * FFT 56 / 157 / 663 ms, and BH's forces are also 5x more accurate (0.6 % vs 3.8 % RMS).
     * So the FFT is picked only in 1-D, where its grid is tiny. */
    return c->d == 1 ? TP_TSNE_FFT : TP_TSNE_BH;
}

const char *tp_tsne_method_name(tp_tsne_method m)
{
    switch (m) {
    case TP_TSNE_EXACT: return "exact";
    case TP_TSNE_BH: return "barnes-hut";
    case TP_TSNE_FFT: return "fft";
    default: return "auto";
    }
}

/* ---- exact repulsion ---- */

typedef struct {
    const double *y;
    int64_t n;
    int d;
    double dof;
    double *rep, *zpart;
} exact_job;

static void exact_chunk(void *ctx, int64_t b, int t)
{
    (void)t;
    exact_job *j = ctx;
    int d = j->d;
    double z = 0;
    for (int64_t i = b * CHUNK; i < j->n && i < (b + 1) * CHUNK; i++) {
        const double *yi = j->y + i * d;
        double r[3] = {0, 0, 0};
        for (int64_t k = 0; k < j->n; k++) {
            if (k == i)
                continue;
            const double *yk = j->y + k * d;
            double diff[3], r2 = 0;
            for (int e = 0; e < d; e++) {
                diff[e] = yi[e] - yk[e];
                r2 += diff[e] * diff[e];
            }
            double k1, k2;
            tp_tsne_kernel(r2, j->dof, &k1, &k2);
            z += k1;
            for (int e = 0; e < d; e++)
                r[e] += k2 * diff[e];
        }
        for (int e = 0; e < d; e++)
            j->rep[i * d + e] = r[e];
    }
    j->zpart[b] = z;
}

double tp_tsne_rep_exact(const double *y, int64_t n, const tp_tsne_cfg *c, double *rep)
{
    int64_t nc = (n + CHUNK - 1) / CHUNK;
    exact_job j = {y, n, c->d, c->dof, rep, tp_calloc((size_t)nc, sizeof(double))};
    tp_comm_parallel_for(nc, 1, c->nthreads, exact_chunk, &j); /* a job's ranks: chunks of points */
    tp_comm_share_rows(rep, (size_t)c->d * sizeof *rep, n, CHUNK);
    tp_comm_share_rows(j.zpart, sizeof *j.zpart, nc, 1);
    double z = 0;
    for (int64_t b = 0; b < nc; b++) /* in a fixed order: the same bytes for any thread count */
        z += j.zpart[b];
    free(j.zpart);
    return z;
}

/* ---- attractive part, the gradient ---- */

typedef struct {
    const tp_csr *P;
    const double *y, *rep;
    int d;
    double dof, exag, invz, c;
    double *grad, *klpart; /* klpart: sum p log(p / K1) per chunk, or NULL */
} attr_job;

static void attr_chunk(void *ctx, int64_t b, int t)
{
    (void)t;
    attr_job *j = ctx;
    const tp_csr *P = j->P;
    int d = j->d;
    double kl = 0;
    for (int64_t i = b * CHUNK; i < P->n && i < (b + 1) * CHUNK; i++) {
        const double *yi = j->y + i * d;
        double a[3] = {0, 0, 0};
        for (int64_t z = P->row[i]; z < P->row[i + 1]; z++) {
            const double *yk = j->y + (int64_t)P->col[z] * d;
            double diff[3], r2 = 0;
            for (int e = 0; e < d; e++) {
                diff[e] = yi[e] - yk[e];
                r2 += diff[e] * diff[e];
            }
            double w = 1 / (1 + r2 / j->dof), p = P->val[z];
            for (int e = 0; e < d; e++)
                a[e] += p * w * diff[e];
            if (j->klpart && p > 0) {
                double k1, k2;
                tp_tsne_kernel(r2, j->dof, &k1, &k2);
                kl += p * log(p / (k1 > DBL_MIN ? k1 : DBL_MIN));
            }
        }
        for (int e = 0; e < d; e++)
            j->grad[i * d + e] = j->c * (j->exag * a[e] - j->rep[i * d + e] * j->invz);
    }
    if (j->klpart)
        j->klpart[b] = kl;
}

/* sum p log(p/K1) + log Z: KL(P||Q) for a P summing to 1. */
static double attract(const tp_csr *P, const double *y, const double *rep, int d, double dof, double exag, double z,
                      int nthreads, double *grad, int want_kl)
{
    int64_t nc = (P->n + CHUNK - 1) / CHUNK;
    attr_job j = {P, y, rep, d, dof, exag, 1 / z, 2 * (dof + 1) / dof, grad,
                  want_kl ? tp_calloc((size_t)nc, sizeof(double)) : NULL};
    tp_comm_parallel_for(nc, 1, nthreads, attr_chunk, &j); /* a job's ranks: chunks of points */
    tp_comm_share_rows(grad, (size_t)d * sizeof *grad, P->n, CHUNK);
    if (want_kl)
        tp_comm_share_rows(j.klpart, sizeof *j.klpart, nc, 1);
    double kl = 0;
    if (want_kl) {
        for (int64_t b = 0; b < nc; b++)
            kl += j.klpart[b];
        kl += log(z);
        free(j.klpart);
    }
    return kl;
}

void tp_tsne_init(tp_tsne *t, const tp_csr *P, const tp_tsne_cfg *c)
{
    memset(t, 0, sizeof *t);
    t->cfg = *c;
    t->P = P;
    t->n = P->n;
    t->method = tp_tsne_pick(c, P->n);
    t->rep = tp_alloc((size_t)P->n * (size_t)c->d, sizeof *t->rep);
}

void tp_tsne_free(tp_tsne *t)
{
    free(t->rep);
    tp_tsne_fft_free(t->fft);
    memset(t, 0, sizeof *t);
}

void tp_tsne_gradient(tp_tsne *t, const double *y, double exag, double *grad, double *kl)
{
    double z;
    switch (t->method) {
    case TP_TSNE_BH: z = tp_tsne_rep_bh(y, t->n, &t->cfg, t->rep); break;
    case TP_TSNE_FFT: z = tp_tsne_rep_fft(y, t->n, &t->cfg, t->rep, &t->fft); break;
    default: z = tp_tsne_rep_exact(y, t->n, &t->cfg, t->rep); break;
    }
    if (!(z > DBL_MIN))
        z = DBL_MIN;
    double v = attract(t->P, y, t->rep, t->cfg.d, t->cfg.dof, exag, z, t->cfg.nthreads, grad, kl != NULL);
    if (kl)
        *kl = v;
}

/* ---- exact KL ---- */

typedef struct {
    const double *y;
    int64_t n;
    int d;
    double dof;
    double *zpart;
} z_job;

/* Row block b of the upper triangle: sum over i in the block, j > i, of K1. */
static void z_chunk(void *ctx, int64_t b, int t)
{
    (void)t;
    z_job *j = ctx;
    int d = j->d;
    double z = 0;
    for (int64_t i = b * CHUNK; i < j->n && i < (b + 1) * CHUNK; i++) {
        const double *yi = j->y + i * d;
        double zi = 0;
        if (d == 2 && j->dof == 1) {
            for (int64_t k = i + 1; k < j->n; k++) {
                double dx = yi[0] - j->y[2 * k], dy = yi[1] - j->y[2 * k + 1];
                zi += 1 / (1 + dx * dx + dy * dy);
            }
        } else {
            for (int64_t k = i + 1; k < j->n; k++) {
                double r2 = 0;
                for (int e = 0; e < d; e++) {
                    double df = yi[e] - j->y[k * d + e];
                    r2 += df * df;
                }
                double k1, k2;
                tp_tsne_kernel(r2, j->dof, &k1, &k2);
                zi += k1;
            }
        }
        z += zi;
    }
    j->zpart[b] = z;
}

/* Chunks of the triangle hold unequal work; numbering them from both ends pairs long and
 * short ones when handed out in order. */
static void z_chunk_balanced(void *ctx, int64_t b, int t)
{
    z_job *j = ctx;
    int64_t nc = (j->n + CHUNK - 1) / CHUNK;
    z_chunk(ctx, b % 2 ? nc - 1 - b / 2 : b / 2, t);
}

double tp_tsne_kl_exact(const tp_csr *P, const double *y, int64_t n, int d, double dof, int nthreads)
{
    int64_t nc = (n + CHUNK - 1) / CHUNK;
    z_job j = {y, n, d, dof, tp_calloc((size_t)nc, sizeof(double))};
    tp_comm_parallel_for(nc, 1, nthreads, z_chunk_balanced, &j); /* a job's ranks: chunks, scattered */
    tp_comm_merge_f64(j.zpart, (size_t)nc);
    double z = 0;
    for (int64_t b = 0; b < nc; b++)
        z += j.zpart[b];
    free(j.zpart);
    z *= 2;
    double kl = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t q = P->row[i]; q < P->row[i + 1]; q++) {
            double p = P->val[q];
            if (p <= 0)
                continue;
            const double *yi = y + i * d, *yk = y + (int64_t)P->col[q] * d;
            double r2 = 0;
            for (int e = 0; e < d; e++)
                r2 += (yi[e] - yk[e]) * (yi[e] - yk[e]);
            double k1, k2;
            tp_tsne_kernel(r2, dof, &k1, &k2);
            kl += p * log(p * z / (k1 > DBL_MIN ? k1 : DBL_MIN));
        }
    return kl;
}

/* ---- the optimiser ---- */

void tp_tsne_opt_default(tp_tsne_opt *o, int64_t n)
{
    memset(o, 0, sizeof *o);
    o->iters = 1000;
    o->exag_iters = 250;
    o->exaggeration = 12;
    o->lr = fmax((double)n / o->exaggeration / 4, 50);
    o->momentum0 = 0.5;
    o->momentum1 = 0.8;
    o->min_gain = 0.01;
    o->min_grad_norm = 1e-7;
    o->no_progress = 300;
    o->check_every = 50;
}

/* A device's side of the loop: the momentum state to rest, and one iteration (gradient and
 * tp_tsne_gain_step on every coordinate; with check, the KL before it and the gained
 * gradient's norm). */
typedef struct {
    void (*reset)(void *w);
    void (*step)(void *w, double exag, double mom, const tp_tsne_opt *o, int check, double *kl, double *norm);
} stepper;

/* scikit-learn's two phases, each with its own progress bookkeeping (an early stop in the
 * first still runs the second): the one optimiser loop, whatever device steps. */
static int optimize(const stepper *s, void *w, const tp_tsne_opt *o, double *kl)
{
    double last = NAN;
    int it = 0;
    for (int phase = 0; phase < 2; phase++) {
        int lo = phase ? o->exag_iters : 0, hi = phase ? o->iters : (o->exag_iters < o->iters ? o->exag_iters : o->iters);
        double exag = phase ? 1 : o->exaggeration, mom = phase ? o->momentum1 : o->momentum0;
        double best = DBL_MAX;
        int best_it = lo;
        s->reset(w); /* each phase starts afresh, as scikit-learn's */
        for (int i = lo; i < hi; i++) {
            int check = (i + 1) % o->check_every == 0 || i == o->iters - 1;
            double v = NAN, norm = 0;
            s->step(w, exag, mom, o, check, &v, &norm);
            it = i + 1;
            if (!check)
                continue;
            last = v;
            if (o->report)
                o->report(o->ctx, i + 1, v, phase == 0);
            if (v < best) {
                best = v;
                best_it = i;
            } else if (i - best_it > o->no_progress)
                break;
            if (norm <= o->min_grad_norm)
                break;
        }
    }
    if (kl)
        *kl = last;
    return it;
}

/* The CPU's steps: tp_tsne's gradient by its method, the state in host memory. */
typedef struct {
    tp_tsne *t;
    double *y, *grad, *update, *gains;
    size_t m;
} cpu_steps;

static void cpu_reset(void *w)
{
    cpu_steps *c = w;
    for (size_t e = 0; e < c->m; e++) {
        c->gains[e] = 1;
        c->update[e] = 0;
    }
}

static void cpu_step(void *w, double exag, double mom, const tp_tsne_opt *o, int check, double *kl, double *norm)
{
    cpu_steps *c = w;
    tp_tsne_gradient(c->t, c->y, exag, c->grad, check ? kl : NULL);
    double sq = 0;
    for (size_t e = 0; e < c->m; e++)
        sq += tp_tsne_gain_step(c->grad[e], &c->gains[e], &c->update[e], &c->y[e], mom, o->lr, o->min_gain);
    *norm = sqrt(sq);
}

static const stepper cpu_stepper = {cpu_reset, cpu_step};

int tp_tsne_optimize(tp_tsne *t, double *y, const tp_tsne_opt *o, double *kl)
{
    size_t m = (size_t)t->n * (size_t)t->cfg.d;
    cpu_steps c = {t, y, tp_alloc(m, sizeof(double)), tp_calloc(m, sizeof(double)), tp_alloc(m, sizeof(double)), m};
    int it = optimize(&cpu_stepper, &c, o, kl);
    free(c.gains);
    free(c.update);
    free(c.grad);
    return it;
}

/* A GPU's steps: its workspace holds y and the state. */
typedef struct {
    const tp_gpu_tsne_api *api;
    tp_gtsne *w;
} gpu_steps;

static void gpu_reset(void *w) { ((gpu_steps *)w)->api->reset(((gpu_steps *)w)->w); }

static void gpu_step(void *w, double exag, double mom, const tp_tsne_opt *o, int check, double *kl, double *norm)
{
    gpu_steps *g = w;
    g->api->step(g->w, exag, mom, o->lr, o->min_gain, check, kl, norm);
}

static const stepper gpu_stepper = {gpu_reset, gpu_step};

static tp_gtsne *gpu_workspace(const tp_device *dev, const tp_csr *P, int d, double dof)
{
    return dev->api->tsne->create(dev->gpu, P->n, P->row, P->col, P->val, d, dof);
}

int tp_tsne_embed(const tp_device *dev, const tp_csr *P, const tp_tsne_cfg *cfg, double *y, const tp_tsne_opt *o,
                  double *kl, tp_tsne_method *used)
{
    tp_blas_serial();
    if (!tp_device_is_gpu(dev)) {
        tp_tsne t;
        tp_tsne_init(&t, P, cfg);
        int it = tp_tsne_optimize(&t, y, o, kl);
        *used = t.method;
        tp_tsne_free(&t);
        return it;
    }
    /* the whole optimisation on the device, always with the exact all-pairs gradient */
    gpu_steps g = {dev->api->tsne, gpu_workspace(dev, P, cfg->d, cfg->dof)};
    g.api->set_y(g.w, y);
    int it = optimize(&gpu_stepper, &g, o, kl);
    g.api->get_y(g.w, y);
    g.api->destroy(g.w);
    *used = TP_TSNE_EXACT;
    return it;
}

double tp_tsne_kl(const tp_device *dev, const tp_csr *P, const double *y, int d, double dof, int nthreads)
{
    if (!tp_device_is_gpu(dev))
        return tp_tsne_kl_exact(P, y, P->n, d, dof, nthreads);
    const tp_gpu_tsne_api *api = dev->api->tsne;
    tp_gtsne *w = gpu_workspace(dev, P, d, dof);
    api->set_y(w, y);
    double v = api->kl_exact(w);
    api->destroy(w);
    return v;
}

int64_t tp_tsne_affinities(const tp_device *dev, const float *x, int64_t n, int dim, int k, double perplexity,
                           int nthreads, tp_csr *P, double *worst)
{
    tp_blas_serial();
    if (!tp_device_is_gpu(dev))
        return tp_affinities(x, n, dim, k, perplexity, nthreads, P, worst);
    size_t nk = (size_t)n * (size_t)k;
    int32_t *idx = tp_alloc(nk, sizeof *idx);
    double *d2 = tp_alloc(nk, sizeof *d2);
    dev->api->tsne->knn(dev->gpu, x, n, dim, k, idx, d2);
    int64_t missed = tp_affinities_of(idx, d2, n, k, perplexity, nthreads, P, worst);
    free(d2);
    free(idx);
    return missed;
}

int tp_tsne_pca_init(const float *x, int64_t n, int dim, int d, double *y, char *err, size_t errlen)
{
    tp_pca_rows rows = {x, (size_t)dim * sizeof *x, TP_F32, n, dim};
    tp_pca_opts o = {0};
    o.k = d < dim ? d : dim;
    tp_pca_model m;
    float *s = NULL;
    if (tp_pca_fit(&rows, &o, &m, &s, err, errlen))
        return -1;
    double m0 = 0, s0 = 0;
    for (int64_t i = 0; i < n; i++)
        m0 += s[i * o.k];
    m0 /= (double)n;
    for (int64_t i = 0; i < n; i++)
        s0 += (s[i * o.k] - m0) * (s[i * o.k] - m0);
    s0 = sqrt(s0 / (double)n);
    for (int64_t i = 0; i < n; i++)
        for (int e = 0; e < d; e++)
            y[i * d + e] = e < o.k && s0 > 0 ? s[i * o.k + e] / s0 * 1e-4 : 0;
    free(s);
    tp_pca_model_free(&m);
    return 0;
}
