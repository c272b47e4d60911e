/* The GPU t-SNE (gpu_tsne.h) against its CPU twins: kNN against tp_knn, one gradient and
 * its KL against tp_tsne_gradient with exact repulsion for d = 1, 2, 3 and dof 1, 2, 0.6,
 * the exact KL against tp_tsne_kl_exact, NaN agreement, and a short optimisation against
 * tp_tsne_optimize, and the neighbours of long vectors in tf32 and bf16 modes (the same as in
 * fp32: the distances are fp32 products whatever the mode). Every output buffer has guard elements after it that must stay
 * untouched. Without a usable GPU it prints "no GPU: reason" and exits 77. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "points.h"
#include "gpu_check.h"
#include "device.h"
#include "gpu_tsne.h"
#include "knn.h"
#include "rng.h"
#include "tsne.h"
#include "util.h"

#define GUARD 64
#define SENT_I ((int32_t)0x5a5a5a5a)
#define SENT_D (-1234.5678)

static double *guarded_d(size_t m)
{
    double *p = tp_alloc(m + GUARD, sizeof *p);
    for (size_t i = 0; i < m + GUARD; i++)
        p[i] = SENT_D;
    return p;
}

static int guard_ok_d(const double *p, size_t m)
{
    for (size_t i = m; i < m + GUARD; i++)
        if (p[i] != SENT_D)
            return 0;
    return 1;
}

/* kNN: the same ascending distances as tp_knn (the float keys that choose the neighbours
 * round differently in cuBLAS and OpenBLAS, so a neighbour tied within float rounding may
 * be swapped: distances are compared by rank within that rounding, sets must agree on
 * nearly every row), the GPU's distances exact for its indices, no self, ascending order. */
static void test_knn_at(const tp_gpu_api *api, tp_gpu *g, int64_t n, int dim, int k, float scale, float offset)
{
    float *x = points(n, dim, 11 + (uint64_t)k);
    for (size_t e = 0; e < (size_t)n * (size_t)dim; e++)
        x[e] = offset + scale * x[e];
    size_t m = (size_t)n * (size_t)k;
    int32_t *ci = tp_alloc(m, sizeof *ci), *gi = tp_alloc(m + GUARD, sizeof *gi);
    double *cd = tp_alloc(m, sizeof *cd), *gd = guarded_d(m);
    for (size_t i = m; i < m + GUARD; i++)
        gi[i] = SENT_I;
    tp_knn(x, n, dim, k, 2, ci, cd);
    api->tsne->knn(g, x, n, dim, k, gi, gd);
    int guard = guard_ok_d(gd, m);
    for (size_t i = m; i < m + GUARD; i++)
        guard &= gi[i] == SENT_I;
    CHECK(guard);
    int64_t bad = 0, diff_sets = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *a = x + i * dim;
        double na = 0, nmax = 0;
        for (int e = 0; e < dim; e++)
            na += (double)a[e] * a[e];
        for (int j = 0; j < k; j++) {
            int32_t q = gi[i * k + j];
            if (q < 0 || q >= n || q == i) {
                bad++;
                continue;
            }
            double s = 0, nq = 0;
            for (int e = 0; e < dim; e++) {
                double df = (double)a[e] - x[(int64_t)q * dim + e];
                s += df * df;
                nq += (double)x[(int64_t)q * dim + e] * x[(int64_t)q * dim + e];
            }
            nmax = nq > nmax ? nq : nmax;
            if (fabs(s - gd[i * k + j]) > 1e-12 * (1 + s))
                bad++;
            if (j && gd[i * k + j] < gd[i * k + j - 1])
                bad++;
            /* float keys |a|^2 + |b|^2 - 2 a.b: a few ulps of the norms */
            double tol = 1e-5 * (1 + na + nmax);
            if (!isfinite(gd[i * k + j]) || fabs(gd[i * k + j] - cd[i * k + j]) > tol)
                bad++;
        }
        for (int j = 0; j < k; j++) {
            int found = 0;
            for (int l = 0; l < k && !found; l++)
                found = gi[i * k + l] == ci[i * k + j];
            if (!found) {
                diff_sets++;
                break;
            }
        }
    }
    if (bad || diff_sets > n / 100)
        fprintf(stderr, "knn n %lld d %d k %d: %lld bad entries, %lld rows with other neighbours\n", (long long)n, dim,
                k, (long long)bad, (long long)diff_sets);
    CHECK(bad == 0);
    CHECK(diff_sets <= n / 100);
    free(gd);
    free(cd);
    free(gi);
    free(ci);
    free(x);
}

/* The gradient at a spread-out y: relative to the largest CPU component, within 1e-4.
 * The GPU sweeps pairs in float (positions rounded to 2^-24 relative, the kernel within a
 * few ulps, sums float within 256-point tiles and double across them), which puts its
 * error near 1e-6 of the largest force; 1e-4 leaves room for cancellation in R_i. The KL
 * and the exact KL differ only by Z's float terms: 1e-5 relative. */
static void test_gradient(const tp_gpu_api *api, tp_gpu *g, const tp_csr *P, int d, double dof, double exag,
                          uint64_t seed)
{
    int64_t n = P->n;
    size_t m = (size_t)n * (size_t)d;
    tp_rng r;
    tp_rng_seed(&r, seed);
    double *y = tp_alloc(m, sizeof *y), *gc = tp_alloc(m, sizeof *gc), *gg = guarded_d(m);
    for (size_t e = 0; e < m; e++)
        y[e] = 4 * tp_rng_normal(&r);
    tp_tsne_cfg cfg;
    tp_tsne_cfg_default(&cfg, d, 2);
    cfg.dof = dof;
    cfg.method = TP_TSNE_EXACT;
    tp_tsne t;
    tp_tsne_init(&t, P, &cfg);
    double klc, klg = NAN;
    tp_tsne_gradient(&t, y, exag, gc, &klc);
    tp_gtsne *w = api->tsne->create(g, P->n, P->row, P->col, P->val, d, dof);
    api->tsne->set_y(w, y);
    api->tsne->gradient(w, exag, gg, &klg);
    CHECK(guard_ok_d(gg, m));
    double scale = 0, worst = 0;
    for (size_t e = 0; e < m; e++)
        scale = fabs(gc[e]) > scale ? fabs(gc[e]) : scale;
    int nonfinite = 0;
    for (size_t e = 0; e < m; e++) {
        if (!isfinite(gg[e]))
            nonfinite++;
        double df = fabs(gg[e] - gc[e]) / scale;
        worst = df > worst ? df : worst;
    }
    if (!(worst <= 1e-4) || nonfinite)
        fprintf(stderr, "gradient d %d dof %g exag %g: off by %g of %g, %d non-finite\n", d, dof, exag, worst, scale,
                nonfinite);
    CHECK(nonfinite == 0);
    CHECK(worst <= 1e-4);
    CHECK_NEAR(klg, klc, 1e-5 * fabs(klc) + 1e-9);
    double kle = api->tsne->kl_exact(w), klx = tp_tsne_kl_exact(P, y, n, d, dof, 2);
    CHECK_NEAR(kle, klx, 1e-5 * fabs(klx) + 1e-9);

    /* a NaN position: NaN wherever the CPU has one */
    y[3 * d] = NAN;
    tp_tsne_gradient(&t, y, exag, gc, NULL);
    for (size_t e = 0; e < m; e++)
        gg[e] = 0;
    api->tsne->set_y(w, y);
    api->tsne->gradient(w, exag, gg, NULL);
    CHECK(guard_ok_d(gg, m));
    int disagree = 0;
    for (size_t e = 0; e < m; e++)
        disagree += !isnan(gc[e]) != !isnan(gg[e]) || !isfinite(gc[e]) != !isfinite(gg[e]);
    CHECK_INT(disagree, 0);
    api->tsne->destroy(w);
    tp_tsne_free(&t);
    free(gg);
    free(gc);
    free(y);
}

typedef struct {
    int iters[64], count;
    double kl[64];
} reports;

static void record(void *ctx, int iter, double kl, int exaggerated)
{
    (void)exaggerated;
    reports *r = ctx;
    if (r->count < 64) {
        r->iters[r->count] = iter;
        r->kl[r->count++] = kl;
    }
}

/* A short optimisation from the same start: the same checks at the same iterations, and
 * KL values that agree while the two runs have not yet drifted apart (float rounding is
 * amplified by the optimisation; 3 % at the end). */
static void test_optimize(const tp_gpu_api *api, tp_gpu *g, const tp_csr *P, int d)
{
    int64_t n = P->n;
    size_t m = (size_t)n * (size_t)d;
    tp_rng r;
    tp_rng_seed(&r, 5);
    double *yc = tp_alloc(m, sizeof *yc), *yg = guarded_d(m);
    for (size_t e = 0; e < m; e++)
        yc[e] = yg[e] = 1e-4 * tp_rng_normal(&r);
    tp_tsne_cfg cfg;
    tp_tsne_cfg_default(&cfg, d, 2);
    cfg.method = TP_TSNE_EXACT;
    tp_tsne t;
    tp_tsne_init(&t, P, &cfg);
    tp_tsne_opt o;
    tp_tsne_opt_default(&o, n);
    o.iters = 300;
    o.exag_iters = 100;
    reports rc = {{0}, 0, {0}}, rg = {{0}, 0, {0}};
    o.report = record;
    o.ctx = &rc;
    double klc, klg;
    int ic = tp_tsne_optimize(&t, yc, &o, &klc);
    o.ctx = &rg;
    tp_device dev = {api, g, TP_PREC_FP32, "the GPU"}; /* the same loop, the GPU's steps */
    tp_tsne_method used;
    int ig = tp_tsne_embed(&dev, P, &cfg, yg, &o, &klg, &used);
    CHECK_INT(used, TP_TSNE_EXACT);
    CHECK(guard_ok_d(yg, m));
    CHECK_INT(ig, ic);
    CHECK_INT(rg.count, rc.count);
    for (int i = 0; i < rc.count && i < rg.count; i++)
        CHECK_INT(rg.iters[i], rc.iters[i]);
    CHECK_NEAR(klg, klc, 0.03 * klc);
    for (size_t e = 0; e < m; e++)
        CHECK(isfinite(yg[e]));
    CHECK_NEAR(tp_tsne_kl(&dev, P, yg, d, cfg.dof, 2), tp_tsne_kl_exact(P, yg, n, d, cfg.dof, 2), 1e-5 * klg);
    tp_tsne_free(&t);
    free(yg);
    free(yc);
}

static void test_knn(const tp_gpu_api *api, tp_gpu *g, int64_t n, int dim, int k) { test_knn_at(api, g, n, dim, k, 1, 0); }

/* The neighbours do not depend on the device's precision: vectors of MNIST's length and
 * scale (784 values near 128, squared norms near 1.3e7), whose tf32 or bf16 products would
 * be off by more than the gaps between neighbours' distances, give the CPU's neighbours in
 * every mode. */
static void test_knn_precision(const tp_gpu_api *api, tp_gpu *g)
{
    static const tp_precision modes[] = {TP_PREC_TF32, TP_PREC_BF16};
    for (int i = 0; i < 2; i++) {
        api->set_precision(g, modes[i]);
        test_knn_at(api, g, 2000, 784, 31, 40, 128);
    }
    api->set_precision(g, TP_PREC_FP32);
}

int main(void)
{
    const tp_gpu_api *api;
    tp_gpu *g = gpu_check_open(&api);
    test_knn_precision(api, g);
    test_knn(api, g, 1500, 20, 31);
    test_knn(api, g, 3000, 50, 91);
    test_knn(api, g, 300, 7, 299); /* every other point: k a little above a power of two */
    test_knn(api, g, 10000, 5, 15); /* more than one query block */
    int64_t n = 1200;
    float *x = points(n, 10, 3);
    tp_csr P;
    tp_affinities(x, n, 10, 31, 10, 2, &P, NULL);
    static const double dofs[] = {1, 2, 0.6};
    for (int d = 1; d <= 3; d++)
        for (int a = 0; a < 3; a++) {
            test_gradient(api, g, &P, d, dofs[a], 1, (uint64_t)(10 * d + a));
            test_gradient(api, g, &P, d, dofs[a], 12, (uint64_t)(100 + 10 * d + a));
        }
    tp_csr_free(&P);
    free(x);
    n = 500;
    x = points(n, 10, 4);
    tp_affinities(x, n, 10, 91, 30, 2, &P, NULL);
    for (int d = 1; d <= 3; d++)
        test_optimize(api, g, &P, d);
    tp_csr_free(&P);
    free(x);
    api->close(g);
    return check_result();
}
