/* t-SNE: exact kNN against brute force, perplexity calibration to 1e-5, the joint
 * affinities against the dense formula, the exact gradient against finite differences of
 * the exact KL, and Barnes-Hut / FFT repulsion against the exact sums (bounds below). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "points.h"
#include "knn.h"
#include "rng.h"
#include "tsne.h"
#include "util.h"

static void test_knn(void)
{
    int64_t n = 700;
    int dim = 13, k = 20;
    float *x = points(n, dim, 1);
    int32_t *idx = tp_alloc((size_t)n * k, sizeof *idx);
    double *d2 = tp_alloc((size_t)n * k, sizeof *d2), *all = tp_alloc((size_t)n, sizeof *all);
    tp_knn(x, n, dim, k, 2, idx, d2);
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int e = 0; e < dim; e++)
                s += ((double)x[i * dim + e] - x[j * dim + e]) * ((double)x[i * dim + e] - x[j * dim + e]);
            all[j] = j == i ? INFINITY : s;
        }
        /* the k-th smallest by brute force */
        for (int m = 0; m < k; m++) {
            int64_t b = 0;
            for (int64_t j = 1; j < n; j++)
                if (all[j] < all[b])
                    b = j;
            if (fabs(d2[i * k + m] - all[b]) > 1e-9 * (1 + all[b]))
                bad++;
            if (idx[i * k + m] == i)
                bad++;
            /* the index holds that distance exactly */
            int64_t q = idx[i * k + m];
            double s = 0;
            for (int e = 0; e < dim; e++)
                s += ((double)x[i * dim + e] - x[q * dim + e]) * ((double)x[i * dim + e] - x[q * dim + e]);
            if (s != d2[i * k + m])
                bad++;
            all[b] = INFINITY;
        }
    }
    CHECK_INT(bad, 0);
    free(all);
    free(d2);
    free(idx);
    free(x);
}

static void test_perplexity_and_joint(void)
{
    int64_t n = 500;
    int dim = 8, k = 91;
    float *x = points(n, dim, 2);
    for (int64_t e = 0; e < n * dim; e++)
        x[e] *= 40; /* a far-apart scale: exp underflows without the shift */
    int32_t *idx = tp_alloc((size_t)n * k, sizeof *idx);
    double *d2 = tp_alloc((size_t)n * k, sizeof *d2), *c = tp_alloc((size_t)n * k, sizeof *c);
    tp_knn(x, n, dim, k, 2, idx, d2);
    double worst;
    int64_t miss = tp_perplexity_rows(d2, n, k, 30, 1e-5, 200, 2, c, NULL, &worst);
    CHECK_INT(miss, 0);
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double s = 0, h = 0;
        for (int m = 0; m < k; m++) {
            double p = c[i * k + m];
            s += p;
            if (p > 0)
                h -= p * log(p);
        }
        if (fabs(s - 1) > 1e-12 || fabs(h - log(30.0)) > 1e-5)
            bad++;
    }
    CHECK_INT(bad, 0);
    /* joint: (C + C^T) / (2n) against a dense matrix */
    tp_csr P;
    tp_joint_affinities(idx, c, n, k, &P);
    double *dense = tp_calloc((size_t)(n * n), sizeof *dense);
    for (int64_t i = 0; i < n; i++)
        for (int m = 0; m < k; m++) {
            dense[i * n + idx[i * k + m]] += c[i * k + m] / (2.0 * n);
            dense[idx[i * k + m] * n + i] += c[i * k + m] / (2.0 * n);
        }
    double sum = 0, err = 0;
    int64_t nnz = 0;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t z = P.row[i]; z < P.row[i + 1]; z++) {
            if (z > P.row[i])
                CHECK(P.col[z] > P.col[z - 1]);
            err = fmax(err, fabs(P.val[z] - dense[i * n + P.col[z]]));
            sum += P.val[z];
        }
    }
    for (int64_t e = 0; e < n * n; e++)
        nnz += dense[e] != 0;
    CHECK_INT(P.row[n], nnz);
    CHECK(err < 1e-15);
    CHECK_NEAR(sum, 1, 1e-12);
    /* duplicates: a row of equal distances cannot reach perplexity 30 from 91 neighbours... */
    double flat[91], cp[91];
    for (int m = 0; m < 91; m++)
        flat[m] = 5;
    CHECK_INT(tp_perplexity_rows(flat, 1, 91, 30, 1e-5, 200, 1, cp, NULL, &worst), 1);
    CHECK_NEAR(cp[0], 1 / 91.0, 1e-12); /* ...and gives the uniform row, not NaN */
    free(dense);
    tp_csr_free(&P);
    free(c);
    free(d2);
    free(idx);
    free(x);
}

/* P over n points from their kNN */
static void small_problem(int64_t n, int k, tp_csr *P)
{
    float *x = points(n, 6, 3);
    tp_affinities(x, n, 6, k, k / 3.0, 1, P, NULL);
    free(x);
}

/* The exact gradient is the derivative of the exact KL: central differences, for d = 1..3
 * and dof 1, 2 and 0.7. */
static void test_gradient(void)
{
    int64_t n = 40;
    tp_csr P;
    small_problem(n, 15, &P);
    double dofs[] = {1, 2, 0.7};
    for (int d = 1; d <= 3; d++)
        for (int a = 0; a < 3; a++) {
            tp_tsne_cfg cfg;
            tp_tsne_cfg_default(&cfg, d, 2);
            cfg.dof = dofs[a];
            cfg.method = TP_TSNE_EXACT;
            tp_tsne t;
            tp_tsne_init(&t, &P, &cfg);
            tp_rng r;
            tp_rng_seed(&r, 9);
            double *y = tp_alloc((size_t)n * d, sizeof *y), *g = tp_alloc((size_t)n * d, sizeof *g);
            for (int64_t e = 0; e < n * d; e++)
                y[e] = 2 * tp_rng_normal(&r);
            double kl;
            tp_tsne_gradient(&t, y, 1, g, &kl);
            CHECK_NEAR(kl, tp_tsne_kl_exact(&P, y, n, d, cfg.dof, 2), 1e-12);
            double worst = 0, scale = 0;
            for (int64_t e = 0; e < n * d; e++) {
                double h = 1e-5, keep = y[e];
                y[e] = keep + h;
                double up = tp_tsne_kl_exact(&P, y, n, d, cfg.dof, 1);
                y[e] = keep - h;
                double dn = tp_tsne_kl_exact(&P, y, n, d, cfg.dof, 1);
                y[e] = keep;
                worst = fmax(worst, fabs((up - dn) / (2 * h) - g[e]));
                scale = fmax(scale, fabs(g[e]));
            }
            if (!(worst < 1e-6 * fmax(scale, 1)))
                fprintf(stderr, "d %d dof %g: gradient off by %g (scale %g)\n", d, cfg.dof, worst, scale);
            CHECK(worst < 1e-6 * fmax(scale, 1));
            free(g);
            free(y);
            tp_tsne_free(&t);
        }
    tp_csr_free(&P);
}

/* Relative errors of an approximate repulsion against the exact one. */
static void rel_errors(const double *y, int64_t n, const tp_tsne_cfg *c, tp_tsne_method m, double *ez, double *er)
{
    double *a = tp_alloc((size_t)n * c->d, sizeof *a), *b = tp_alloc((size_t)n * c->d, sizeof *b);
    double za = tp_tsne_rep_exact(y, n, c, a), zb;
    tp_tsne_fft *ws = NULL;
    zb = m == TP_TSNE_BH ? tp_tsne_rep_bh(y, n, c, b) : tp_tsne_rep_fft(y, n, c, b, &ws);
    tp_tsne_fft_free(ws);
    double num = 0, den = 0;
    for (int64_t e = 0; e < n * c->d; e++) {
        num += (a[e] - b[e]) * (a[e] - b[e]);
        den += a[e] * a[e];
    }
    *ez = fabs(za - zb) / za;
    *er = sqrt(num / den);
    free(b);
    free(a);
}

/* Embedding-like test layouts: 10 clusters of spread s around centres spread 8 s. */
static double *layout(int64_t n, int d, double s, uint64_t seed)
{
    tp_rng r;
    tp_rng_seed(&r, seed);
    double cen[10][3];
    for (int c = 0; c < 10; c++)
        for (int e = 0; e < 3; e++)
            cen[c][e] = 8 * s * tp_rng_normal(&r);
    double *y = tp_alloc((size_t)n * d, sizeof *y);
    for (int64_t i = 0; i < n; i++)
        for (int e = 0; e < d; e++)
            y[i * d + e] = cen[i % 10][e] + s * tp_rng_normal(&r);
    return y;
}

/* Bounds, for 3000 points at the scales t-SNE passes through (clusters of spread 0.001 at
 * the start, ~3 at the end: total extents up to ~100):
 *   Barnes-Hut theta 0.5: Z within 1 %, R within 2 % (RMS relative); theta 0: exact up
 *   to the single precision of its interaction lists (1e-5);
 *   FFT, 3 nodes per unit interval: Z within 1 %, R within 5 %; with 8 intervals per unit
 *   the interpolation error falls below 1e-4 (it shrinks as h^3). */
static void test_approximations(void)
{
    int64_t n = 3000;
    double scales[] = {0.001, 0.3, 3};
    for (int si = 0; si < 3; si++) {
        for (int d = 1; d <= 3; d++) {
            double *y = layout(n, d, scales[si], 17 + (uint64_t)si);
            tp_tsne_cfg c;
            tp_tsne_cfg_default(&c, d, 2);
            c.dof = 1;
            double ez, er;
            if (d >= 2) {
                rel_errors(y, n, &c, TP_TSNE_BH, &ez, &er);
                if (!(ez < 0.01 && er < 0.02))
                    fprintf(stderr, "bh d %d scale %g: Z %.3g R %.3g\n", d, scales[si], ez, er);
                CHECK(ez < 0.01 && er < 0.02);
                c.theta = 0;
                rel_errors(y, n, &c, TP_TSNE_BH, &ez, &er);
                if (!(ez < 1e-5 && er < 1e-5))
                    fprintf(stderr, "bh theta 0 d %d scale %g: Z %.3g R %.3g\n", d, scales[si], ez, er);
                CHECK(ez < 1e-5 && er < 1e-5);
                c.theta = 0.5;
                for (int a = 0; a < 2; a++) { /* dof 2 (sqrt) and 0.6 (the vectorised power) */
                    c.dof = a ? 0.6 : 2;
                    rel_errors(y, n, &c, TP_TSNE_BH, &ez, &er);
                    if (!(ez < 0.01 && er < 0.02))
                        fprintf(stderr, "bh dof %g d %d scale %g: Z %.3g R %.3g\n", c.dof, d, scales[si], ez, er);
                    CHECK(ez < 0.01 && er < 0.02);
                    c.theta = 0; /* every pair summed: what is left is the kernel's rounding */
                    rel_errors(y, n, &c, TP_TSNE_BH, &ez, &er);
                    CHECK(ez < 1e-5 && er < 1e-5);
                    c.theta = 0.5;
                }
                c.dof = 1;
            }
            if (d <= 2) {
                rel_errors(y, n, &c, TP_TSNE_FFT, &ez, &er);
                if (!(ez < 0.01 && er < 0.05))
                    fprintf(stderr, "fft d %d scale %g: Z %.3g R %.3g\n", d, scales[si], ez, er);
                CHECK(ez < 0.01 && er < 0.05);
                c.fft_per_unit = 8;
                rel_errors(y, n, &c, TP_TSNE_FFT, &ez, &er);
                if (!(ez < 1e-4 && er < 1e-4))
                    fprintf(stderr, "fine fft d %d scale %g: Z %.3g R %.3g\n", d, scales[si], ez, er);
                CHECK(ez < 1e-4 && er < 1e-4);
            }
            free(y);
        }
    }
}

/* Whole gradients agree too, and the optimiser lowers KL on a small problem. */
static void test_optimize(void)
{
    int64_t n = 600;
    tp_csr P;
    small_problem(n, 45, &P);
    double kls[3];
    tp_tsne_method ms[3] = {TP_TSNE_EXACT, TP_TSNE_BH, TP_TSNE_FFT};
    for (int q = 0; q < 3; q++) {
        tp_tsne_cfg c;
        tp_tsne_cfg_default(&c, 2, 2);
        c.method = ms[q];
        tp_tsne t;
        tp_tsne_init(&t, &P, &c);
        double *y = layout(n, 2, 1e-4, 5);
        double kl0 = tp_tsne_kl_exact(&P, y, n, 2, 1, 2), kl;
        tp_tsne_opt o;
        tp_tsne_opt_default(&o, n);
        o.iters = 400;
        tp_tsne_optimize(&t, y, &o, &kl);
        kls[q] = tp_tsne_kl_exact(&P, y, n, 2, 1, 2);
        CHECK(kls[q] < kl0 / 2);
        free(y);
        tp_tsne_free(&t);
    }
    CHECK(fabs(kls[1] - kls[0]) < 0.03 * kls[0]);
    CHECK(fabs(kls[2] - kls[0]) < 0.03 * kls[0]);
    tp_csr_free(&P);
}

int main(void)
{
    test_knn();
    test_perplexity_and_joint();
    test_gradient();
    test_approximations();
    test_optimize();
    return check_result();
}
