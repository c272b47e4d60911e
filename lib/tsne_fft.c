/* tsne_fft.c — t-SNE's repulsive forces by polynomial interpolation on a regular grid
 * and FFT convolution (d = 1, 2), the method of Linderman et al. (FIt-SNE).
 *
 * The embedding's bounding square is cut into nb intervals per dimension (at least
 * fft_min_intervals, at least fft_per_unit per unit of length, rounded up so that the FFT
 * length has only the factors 2, 3, 5, 7), each holding p equispaced interpolation nodes:
 * G = nb * p nodes per dimension at spacing delta. Every point spreads its charges
 * 1, y_1..y_d and |y|^2 onto the p^d nodes of its interval with Lagrange weights; the node
 * potentials are the charges convolved with the kernel K2 sampled at node offsets, a
 * Toeplitz product done as a circular convolution of length 2G by FFTW; each point then
 * interpolates the potentials back with the same weights. From the potentials
 *     phi_0 = sum_j K2_ij,  phi_e = sum_j K2_ij y_je,  phi_s = sum_j K2_ij |y_j|^2
 * follow R_i = y_i phi_0 - phi and, since K1 = K2 (1 + r2/dof),
 *     Z = sum_i [phi_0 (1 + |y_i|^2/dof) - 2 y_i.phi / dof + phi_s / dof] - n. */
#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "parallel.h"
#include "tsne_rep.h"
#include "util.h"

#define CHUNK 1024

struct tp_tsne_fft {
    int d, p, G, M, nq;
    size_t nreal, ncplx; /* elements of one real grid (M^d) and its transform */
    fftw_plan fwd, inv;
    double *kern, *grid;        /* kernel, then nq charge grids, each nreal */
    fftw_complex *khat, *ghat;  /* their transforms */
    double *w;                  /* per point: p^d weights */
    int64_t *base;              /* per point: grid index of its first node */
    int64_t cap;
};

/* Frees the plans and grids (not the per-point arrays). */
static void release_grid(tp_tsne_fft *f)
{
    if (f->fwd) {
        fftw_destroy_plan(f->fwd);
        fftw_destroy_plan(f->inv);
    }
    fftw_free(f->kern);
    fftw_free(f->grid);
    fftw_free(f->khat);
    fftw_free(f->ghat);
}

void tp_tsne_fft_free(tp_tsne_fft *f)
{
    if (!f)
        return;
    release_grid(f);
    free(f->w);
    free(f->base);
    free(f);
}

static int smooth(int64_t m)
{
    int f[] = {2, 3, 5, 7};
    for (int i = 0; i < 4; i++)
        while (m % f[i] == 0)
            m /= f[i];
    return m == 1;
}

/* (Re)allocates grids and plans for G nodes per dimension. */
static void setup(tp_tsne_fft *f, int d, int p, int G)
{
    if (f->fwd && f->G == G && f->d == d && f->p == p)
        return;
    release_grid(f);
    f->d = d;
    f->p = p;
    f->G = G;
    f->M = 2 * G;
    f->nq = d + 2;
    size_t M = (size_t)f->M, half = M / 2 + 1;
    f->nreal = d == 1 ? M : M * M;
    f->ncplx = d == 1 ? half : M * half;
    f->kern = fftw_malloc(f->nreal * sizeof(double));
    f->grid = fftw_malloc(f->nreal * (size_t)f->nq * sizeof(double));
    f->khat = fftw_malloc(f->ncplx * sizeof(fftw_complex));
    f->ghat = fftw_malloc(f->ncplx * (size_t)f->nq * sizeof(fftw_complex));
    if (!f->kern || !f->grid || !f->khat || !f->ghat)
        tp_die("out of memory (FFT grid of %d nodes)", G);
    if (d == 1) {
        f->fwd = fftw_plan_dft_r2c_1d(f->M, f->kern, f->khat, FFTW_ESTIMATE);
        f->inv = fftw_plan_dft_c2r_1d(f->M, f->ghat, f->grid, FFTW_ESTIMATE);
    } else {
        f->fwd = fftw_plan_dft_r2c_2d(f->M, f->M, f->kern, f->khat, FFTW_ESTIMATE);
        f->inv = fftw_plan_dft_c2r_2d(f->M, f->M, f->ghat, f->grid, FFTW_ESTIMATE);
    }
    if (!f->fwd || !f->inv)
        tp_die("cannot plan an FFT of length %d", f->M);
}

typedef struct {
    tp_tsne_fft *f;
    const double *y;
    int64_t n;
    double lo, h, delta, dof;
    double *pot; /* n x nq interpolated potentials */
} fft_job;

/* Lagrange weights of the p nodes at positions 0..p-1 for u (node units). */
static void lagrange(int p, double u, double *w)
{
    for (int m = 0; m < p; m++) {
        double v = 1;
        for (int l = 0; l < p; l++)
            if (l != m)
                v *= (u - l) / (m - l);
        w[m] = v;
    }
}

static void weights_chunk(void *ctx, int64_t b, int t)
{
    (void)t;
    fft_job *j = ctx;
    tp_tsne_fft *f = j->f;
    int d = f->d, p = f->p, nb = f->G / p;
    for (int64_t i = b * CHUNK; i < j->n && i < (b + 1) * CHUNK; i++) {
        double w1[2][8];
        int64_t box[2];
        for (int e = 0; e < d; e++) {
            double x = (j->y[i * d + e] - j->lo) / j->h;
            int64_t k = (int64_t)x;
            k = k < 0 ? 0 : k >= nb ? nb - 1 : k;
            box[e] = k;
            lagrange(p, (x - (double)k) * p - 0.5, w1[e]);
        }
        double *w = f->w + i * (d == 1 ? p : p * p);
        if (d == 1) {
            memcpy(w, w1[0], (size_t)p * sizeof *w);
            f->base[i] = box[0] * p;
        } else {
            for (int a = 0; a < p; a++)
                for (int c = 0; c < p; c++)
                    w[a * p + c] = w1[0][a] * w1[1][c];
            f->base[i] = box[0] * p * f->M + box[1] * p;
        }
    }
}

/* Item q < nq: spread charge q and transform it; item nq: sample and transform the kernel. */
static void spread_item(void *ctx, int64_t q, int t)
{
    (void)t;
    fft_job *j = ctx;
    tp_tsne_fft *f = j->f;
    int d = f->d, p = f->p, M = f->M, G = f->G;
    if (q == f->nq) {
        for (int a = 0; a < M; a++) {
            double oa = (a < G ? a : a > G ? a - M : 0) * j->delta;
            if (d == 1) {
                double k1, k2;
                tp_tsne_kernel(oa * oa, j->dof, &k1, &k2);
                f->kern[a] = a == G ? 0 : k2;
                continue;
            }
            for (int c = 0; c < M; c++) {
                double oc = (c < G ? c : c > G ? c - M : 0) * j->delta, k1, k2;
                tp_tsne_kernel(oa * oa + oc * oc, j->dof, &k1, &k2);
                f->kern[(size_t)a * M + c] = a == G || c == G ? 0 : k2;
            }
        }
        fftw_execute_dft_r2c(f->fwd, f->kern, f->khat);
        return;
    }
    double *g = f->grid + (size_t)q * f->nreal;
    memset(g, 0, f->nreal * sizeof *g);
    int np = d == 1 ? p : p * p;
    for (int64_t i = 0; i < j->n; i++) {
        const double *yi = j->y + i * d;
        double v = q == 0 ? 1 : q <= d ? yi[q - 1] : (d == 1 ? yi[0] * yi[0] : yi[0] * yi[0] + yi[1] * yi[1]);
        const double *w = f->w + i * np;
        double *gb = g + f->base[i];
        if (d == 1)
            for (int a = 0; a < p; a++)
                gb[a] += w[a] * v;
        else
            for (int a = 0; a < p; a++)
                for (int c = 0; c < p; c++)
                    gb[(size_t)a * M + c] += w[a * p + c] * v;
    }
    fftw_execute_dft_r2c(f->fwd, g, f->ghat + (size_t)q * f->ncplx);
}

/* Charge q: multiply by the kernel's transform and transform back. */
static void convolve_item(void *ctx, int64_t q, int t)
{
    (void)t;
    fft_job *j = ctx;
    tp_tsne_fft *f = j->f;
    fftw_complex *gh = f->ghat + (size_t)q * f->ncplx;
    double s = 1.0 / (double)f->nreal;
    for (size_t e = 0; e < f->ncplx; e++) {
        double re = gh[e][0] * f->khat[e][0] - gh[e][1] * f->khat[e][1];
        double im = gh[e][0] * f->khat[e][1] + gh[e][1] * f->khat[e][0];
        gh[e][0] = re * s;
        gh[e][1] = im * s;
    }
    fftw_execute_dft_c2r(f->inv, gh, f->grid + (size_t)q * f->nreal);
}

static void gather_chunk(void *ctx, int64_t b, int t)
{
    (void)t;
    fft_job *j = ctx;
    tp_tsne_fft *f = j->f;
    int d = f->d, p = f->p, M = f->M, np = d == 1 ? p : p * p;
    for (int64_t i = b * CHUNK; i < j->n && i < (b + 1) * CHUNK; i++) {
        const double *w = f->w + i * np;
        for (int q = 0; q < f->nq; q++) {
            const double *gb = f->grid + (size_t)q * f->nreal + f->base[i];
            double v = 0;
            if (d == 1)
                for (int a = 0; a < p; a++)
                    v += w[a] * gb[a];
            else
                for (int a = 0; a < p; a++)
                    for (int c = 0; c < p; c++)
                        v += w[a * p + c] * gb[(size_t)a * M + c];
            j->pot[i * f->nq + q] = v;
        }
    }
}

double tp_tsne_rep_fft(const double *y, int64_t n, const tp_tsne_cfg *c, double *rep, tp_tsne_fft **ws)
{
    int d = c->d, p = c->fft_nodes;
    TP_ASSERT((d == 1 || d == 2) && p >= 2 && p <= 8);
    if (!*ws)
        *ws = tp_calloc(1, sizeof **ws);
    tp_tsne_fft *f = *ws;
    /* the forces do not change under translation; centring keeps |y|^2 small in Z */
    double mean[2] = {0, 0}, lo = DBL_MAX, hi = -DBL_MAX;
    for (int64_t i = 0; i < n; i++)
        for (int e = 0; e < d; e++)
            mean[e] += y[i * d + e];
    for (int e = 0; e < d; e++)
        mean[e] /= (double)n;
    double *yc = tp_alloc((size_t)n * (size_t)d, sizeof *yc);
    for (int64_t i = 0; i < n; i++)
        for (int e = 0; e < d; e++) {
            double v = yc[i * d + e] = y[i * d + e] - mean[e];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    y = yc;
    double range = hi - lo;
    if (!(range > 0))
        range = 1e-12;
    int64_t nb = (int64_t)ceil(range * c->fft_per_unit);
    if (nb < c->fft_min_intervals)
        nb = c->fft_min_intervals;
    while (!smooth(nb * 2 * p))
        nb++;
    if (nb * p > (d == 1 ? 1 << 22 : 1 << 13))
        tp_die("t-SNE embedding spread too far for the FFT grid (%lld intervals); lower the learning rate",
               (long long)nb);
    setup(f, d, p, (int)(nb * p));
    if (n > f->cap) {
        f->cap = n;
        f->w = tp_realloc(f->w, (size_t)n * (size_t)(d == 1 ? p : p * p), sizeof *f->w);
        f->base = tp_realloc(f->base, (size_t)n, sizeof *f->base);
    }
    double h = range / (double)nb;
    fft_job j = {f, y, n, lo, h, h / p, c->dof, tp_alloc((size_t)n * (size_t)f->nq, sizeof(double))};
    int64_t nc = (n + CHUNK - 1) / CHUNK;
    /* an MPI job's ranks: the per-point work by chunks of points, shared; the grid's on each */
    tp_comm_parallel_for(nc, 1, c->nthreads, weights_chunk, &j);
    tp_comm_share_rows(f->w, (size_t)(d == 1 ? p : p * p) * sizeof *f->w, n, CHUNK);
    tp_comm_share_rows(f->base, sizeof *f->base, n, CHUNK);
    tp_parallel_for(f->nq + 1, c->nthreads, spread_item, &j);
    tp_parallel_for(f->nq, c->nthreads, convolve_item, &j);
    tp_comm_parallel_for(nc, 1, c->nthreads, gather_chunk, &j);
    tp_comm_share_rows(j.pot, (size_t)f->nq * sizeof *j.pot, n, CHUNK);
    double z = 0, a = c->dof;
    for (int64_t i = 0; i < n; i++) {
        const double *pt = j.pot + i * f->nq, *yi = y + i * d;
        double yy = 0, ydot = 0;
        for (int e = 0; e < d; e++) {
            yy += yi[e] * yi[e];
            ydot += yi[e] * pt[1 + e];
            rep[i * d + e] = yi[e] * pt[0] - pt[1 + e];
        }
        z += pt[0] * (1 + yy / a) - 2 * ydot / a + pt[d + 1] / a;
    }
    free(j.pot);
    free(yc);
    return z - (double)n;
}
