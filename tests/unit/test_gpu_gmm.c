/* The GPU twin of lib/gmm's EM steps (cuda/gmm.cu through gpu_gmm.h) against the CPU code,
 * on fresh random mixtures, for the four covariance types and shapes from one feature and
 * one component to 50 features and 10 components: the E-step (responsibilities, log p,
 * responsibility sums, weighted sums, the mean log-likelihood), prediction (labels, float
 * responsibilities), the M-step (weights, means, covariances, precision factors) and the
 * device functions alone (responsibility upload, the M-step's scatter), with a guard region
 * after every output and samples holding NaN and Inf. Skipped (exit 77) without a GPU.
 *
 * Tolerances. Both devices compute in doubles (eps = 2.2e-16) the same formulas; only the
 * order of the sums (and fused multiply-adds) differ. A sum of m terms in any order is off
 * by at most m eps times the sum of their magnitudes, so every sum is compared relative to
 * the sum of the magnitudes of its terms (computed here), with 1e-10: m is at most 3000
 * samples (6.7e-13), and the terms themselves carry the error of the log-probabilities:
 * a quadratic form of d <= 50 features whose terms are at most ~1e3 here is off by
 * ~d eps 1e3 = 1e-11 absolutely, which changes a responsibility by that much relative.
 * Log p gets 1e-10 (1 + |log p|), responsibilities 1e-10 absolutely (they are in [0, 1]).
 * The precision factors are inverse Cholesky factors: their error is the covariance's
 * relative error times its condition number (below ~1e2 for these well-spread samples), so
 * they get 1e-8 of the largest entry of their factor. Labels must agree wherever the best
 * two log-probabilities differ by more than 1e-8; float responsibilities within 1e-6. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gpu_check.h"
#include "device.h"
#include "gpu_gmm.h"
#include "gmm.h"
#include "rng.h"

#define GUARD 256 /* bytes after each output */
#define SENTINEL 0xA5
#define TOL 1e-10

/* bytes of storage and GUARD more, all set to the sentinel */
static void *gbuf(size_t bytes)
{
    unsigned char *p = malloc(bytes + GUARD);
    if (!p)
        exit(1);
    memset(p, SENTINEL, bytes + GUARD);
    return p;
}

static int guard_ok(const void *p, size_t bytes)
{
    const unsigned char *q = (const unsigned char *)p + bytes;
    for (size_t i = 0; i < GUARD; i++)
        if (q[i] != SENTINEL)
            return 0;
    return 1;
}

/* a and b agree: NaN where the other is NaN, infinities equal, finite values within
 * tol * scale[i] (scale NULL: tol * (1 + |b|)). Reports the first disagreement. */
static int agree(const char *what, const double *a, const double *b, size_t n, const double *scale, double tol)
{
    for (size_t i = 0; i < n; i++) {
        int bad;
        if (isnan(a[i]) || isnan(b[i]))
            bad = isnan(a[i]) != isnan(b[i]);
        else if (isinf(a[i]) || isinf(b[i]))
            bad = a[i] != b[i];
        else
            bad = !(fabs(a[i] - b[i]) <= tol * (scale ? scale[i] : 1 + fabs(b[i])) + 1e-300);
        if (bad) {
            fprintf(stderr, "%s[%zu]: GPU %.17g, CPU %.17g (scale %g)\n", what, i, a[i], b[i], scale ? scale[i] : 1 + fabs(b[i]));
            return 0;
        }
    }
    return 1;
}

/* n samples of d features from k spread components, far from the origin */
static void make_data(tp_rng *r, int64_t n, int d, int k, double *X)
{
    double *C = malloc((size_t)k * d * sizeof *C);
    for (int c = 0; c < k; c++)
        for (int j = 0; j < d; j++)
            C[(size_t)c * d + j] = 10 + 4 * tp_rng_normal(r);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            X[(size_t)i * d + j] = C[(size_t)(i % k) * d + j] + (1 + 0.5 * (j % 3)) * tp_rng_normal(r);
    free(C);
}

/* Responsibilities (k x n): truth (component i mod k) 0.9 with the rest shared when soft
 * is 0; otherwise random, every 7th sample one-hot and every 11th with one entry 1e-13
 * (below the M-step's cut of 1e-12). */
static void make_resp(tp_rng *r, int64_t n, int k, int soft, double *R)
{
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int c = 0; c < k; c++) {
            double v;
            if (!soft)
                v = k == 1 ? 1 : c == i % k ? 0.9 : 0.1 / (k - 1);
            else if (i % 7 == 0)
                v = c == (i / 7) % k;
            else if (i % 11 == 0 && c == 0 && k > 1)
                v = 1e-13;
            else
                v = 0.05 + tp_rng_double(r);
            R[(size_t)c * n + i] = v;
            s += v;
        }
        for (int c = 0; c < k; c++)
            R[(size_t)c * n + i] /= s;
    }
}

/* A model with arrays from gbuf, so that writes past them show. */
static void model_gbuf(tp_gmm_model *m, int k, int d, tp_gmm_cov cov)
{
    size_t cs = tp_gmm_cov_size(cov, k, d);
    m->k = k;
    m->d = d;
    m->cov = cov;
    m->weights = gbuf((size_t)k * sizeof(double));
    m->means = gbuf((size_t)k * d * sizeof(double));
    m->covariances = gbuf(cs * sizeof(double));
    m->prec_chol = gbuf(cs * sizeof(double));
}

static int model_guards_ok(const tp_gmm_model *m)
{
    size_t cs = tp_gmm_cov_size(m->cov, m->k, m->d) * sizeof(double);
    return guard_ok(m->weights, (size_t)m->k * sizeof(double)) &&
           guard_ok(m->means, (size_t)m->k * m->d * sizeof(double)) && guard_ok(m->covariances, cs) &&
           guard_ok(m->prec_chol, cs);
}

static void model_gfree(tp_gmm_model *m)
{
    free(m->weights);
    free(m->means);
    free(m->covariances);
    free(m->prec_chol);
}

/* The M-step on both devices from the same responsibilities. */
static void check_mstep(const tp_device *dev, const double *X, int64_t n, int d, int k, tp_gmm_cov cov,
                        const double *R)
{
    tp_gmm_model a, b;
    model_gbuf(&a, k, d, cov);
    model_gbuf(&b, k, d, cov);
    CHECK(tp_gmm_mstep(&a, X, n, R, 1e-6, dev, 2) == 0);
    CHECK(tp_gmm_mstep(&b, X, n, R, 1e-6, NULL, 2) == 0);
    CHECK(model_guards_ok(&a));
    size_t kd = (size_t)k * d, cs = tp_gmm_cov_size(cov, k, d);
    double *sc = calloc(cs > kd ? cs : kd, sizeof *sc);
    CHECK(agree("weights", a.weights, b.weights, (size_t)k, NULL, TOL));
    for (int c = 0; c < k; c++) { /* sum r |x| / sum r */
        double nk = 0;
        for (int64_t i = 0; i < n; i++)
            nk += R[(size_t)c * n + i];
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int64_t i = 0; i < n; i++)
                s += R[(size_t)c * n + i] * fabs(X[(size_t)i * d + j]);
            sc[(size_t)c * d + j] = s / nk;
        }
    }
    CHECK(agree("means", a.means, b.means, kd, sc, TOL));
    if (cov == TP_GMM_FULL || cov == TP_GMM_TIED) { /* |S_ij| <= sqrt(S_ii S_jj) bounds its terms */
        int nf = cov == TP_GMM_FULL ? k : 1;
        for (int f = 0; f < nf; f++)
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) {
                    const double *S = b.covariances + (size_t)f * d * d;
                    sc[((size_t)f * d + i) * d + j] = sqrt(S[(size_t)i * d + i] * S[(size_t)j * d + j]);
                }
        CHECK(agree("covariances", a.covariances, b.covariances, cs, sc, TOL));
        for (int f = 0; f < nf; f++) {
            double mx = 0;
            for (size_t e = 0; e < (size_t)d * d; e++)
                mx = fmax(mx, fabs(b.prec_chol[(size_t)f * d * d + e]));
            for (size_t e = 0; e < (size_t)d * d; e++)
                sc[(size_t)f * d * d + e] = mx;
        }
        CHECK(agree("prec_chol", a.prec_chol, b.prec_chol, cs, sc, 1e-8));
    } else {
        CHECK(agree("covariances", a.covariances, b.covariances, cs, NULL, TOL));
        CHECK(agree("prec_chol", a.prec_chol, b.prec_chol, cs, NULL, TOL));
    }
    free(sc);
    model_gfree(&a);
    model_gfree(&b);
}

/* The E-step and prediction on both devices; X may hold NaN and Inf (finite: 0). */
static void check_estep(const tp_device *dev, const double *X, int64_t n, int d, const tp_gmm_model *m, int finite)
{
    int k = m->k;
    size_t kn = (size_t)k * n, kd = (size_t)k * d;
    double *ra = gbuf(kn * sizeof(double)), *rb = malloc(kn * sizeof(double));
    double *la = gbuf((size_t)n * sizeof(double)), *lb = malloc((size_t)n * sizeof(double));
    double *na = gbuf((size_t)k * sizeof(double)), *nb = malloc((size_t)k * sizeof(double));
    double *sa = gbuf(kd * sizeof(double)), *sb = malloc(kd * sizeof(double));
    double ma = tp_gmm_estep(m, X, n, dev, 2, ra, la, na, sa);
    double mb = tp_gmm_estep(m, X, n, NULL, 2, rb, lb, nb, sb);
    CHECK(guard_ok(ra, kn * sizeof(double)) && guard_ok(la, (size_t)n * sizeof(double)));
    CHECK(guard_ok(na, (size_t)k * sizeof(double)) && guard_ok(sa, kd * sizeof(double)));
    double *one = malloc((kn > kd ? kn : kd) * sizeof *one);
    for (size_t i = 0; i < kn; i++)
        one[i] = 1;
    CHECK(agree("resp", ra, rb, kn, one, TOL));
    CHECK(agree("logp", la, lb, (size_t)n, NULL, TOL));
    double lsum = 0; /* the mean log-likelihood against the sum of |log p| */
    for (int64_t i = 0; i < n; i++)
        lsum += fabs(lb[i]);
    double mscale = lsum / (double)n;
    CHECK(agree("mean log-likelihood", &ma, &mb, 1, &mscale, TOL));
    for (int c = 0; c < k; c++)
        one[c] = 1 + nb[c];
    CHECK(agree("nk", na, nb, (size_t)k, one, TOL));
    for (int c = 0; c < k; c++) /* sum r |x| */
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int64_t i = 0; i < n; i++)
                s += rb[(size_t)c * n + i] * fabs(X[(size_t)i * d + j]);
            one[(size_t)c * d + j] = isfinite(s) ? s + 1e-300 : 1;
        }
    CHECK(agree("sums", sa, sb, kd, one, TOL));
    if (finite) {
        int32_t *ya = gbuf((size_t)n * sizeof(int32_t)), *yb = malloc((size_t)n * sizeof(int32_t));
        float *pa = gbuf(kn * sizeof(float)), *pb = malloc(kn * sizeof(float));
        double *qa = gbuf((size_t)n * sizeof(double)), *qb = malloc((size_t)n * sizeof(double));
        double sa_ = tp_gmm_predict_dev(m, X, n, dev, 2, ya, pa, qa);
        double sb_ = tp_gmm_predict_dev(m, X, n, NULL, 2, yb, pb, qb);
        CHECK(guard_ok(ya, (size_t)n * sizeof(int32_t)) && guard_ok(pa, kn * sizeof(float)) &&
              guard_ok(qa, (size_t)n * sizeof(double)));
        CHECK(agree("score", &sa_, &sb_, 1, &mscale, TOL));
        CHECK(agree("predict logp", qa, qb, (size_t)n, NULL, TOL));
        int64_t bad = 0;
        for (int64_t i = 0; i < n; i++) {
            for (int c = 0; c < k; c++)
                if (!(fabs(pa[(size_t)i * k + c] - pb[(size_t)i * k + c]) <= 1e-6))
                    bad++;
            if (ya[i] != yb[i]) { /* a tie within rounding may go either way */
                double ta = log(rb[(size_t)ya[i] * n + i]), tb = log(rb[(size_t)yb[i] * n + i]);
                if (!(fabs(ta - tb) <= 1e-8))
                    bad++;
            }
        }
        CHECK_INT(bad, 0);
        free(ya);
        free(yb);
        free(pa);
        free(pb);
        free(qa);
        free(qb);
    }
    free(one);
    free(ra);
    free(rb);
    free(la);
    free(lb);
    free(na);
    free(nb);
    free(sa);
    free(sb);
}

/* The device functions alone: responsibilities up and back, their sums, the scatter. */
static void check_api(const tp_device *dev, const double *X, int64_t n, int d, int k, tp_gmm_cov cov, const double *R)
{
    const tp_gpu_gmm_api *api = dev->api->gmm;
    size_t kn = (size_t)k * n, kd = (size_t)k * d, ns = 1 + (size_t)k + kd;
    size_t nsc = cov == TP_GMM_FULL ? kd * d : kd;
    tp_gpu_gmm *s = api->create(dev->gpu, X, n, d, k, (int)cov);
    double *stat = gbuf(ns * sizeof(double)), *back = gbuf(kn * sizeof(double)), *out = gbuf(nsc * sizeof(double));
    api->set_resp(s, R, stat);
    api->results(s, back, NULL, NULL);
    CHECK(guard_ok(stat, ns * sizeof(double)) && guard_ok(back, kn * sizeof(double)));
    CHECK(memcmp(back, R, kn * sizeof(double)) == 0);
    CHECK(stat[0] == 0);
    double *want = calloc(ns, sizeof *want), *sc = calloc(ns > nsc ? ns : nsc, sizeof *sc);
    double *mu = malloc(kd * sizeof *mu), *ref = calloc(nsc, sizeof *ref);
    for (int c = 0; c < k; c++)
        for (int64_t i = 0; i < n; i++) {
            double r = R[(size_t)c * n + i];
            want[1 + c] += r;
            sc[1 + c] += r;
            for (int j = 0; j < d; j++) {
                want[1 + k + (size_t)c * d + j] += r * X[(size_t)i * d + j];
                sc[1 + k + (size_t)c * d + j] += r * fabs(X[(size_t)i * d + j]);
            }
        }
    sc[0] = 1;
    CHECK(agree("stat", stat, want, ns, sc, TOL));
    for (int c = 0; c < k; c++)
        for (int j = 0; j < d; j++)
            mu[(size_t)c * d + j] = want[1 + k + (size_t)c * d + j] / want[1 + c];
    api->scatter(s, mu, 1e-12, out);
    CHECK(guard_ok(out, nsc * sizeof(double)));
    memset(sc, 0, nsc * sizeof *sc);
    for (int c = 0; c < k; c++)
        for (int64_t i = 0; i < n; i++) {
            double r = R[(size_t)c * n + i];
            if (r < 1e-12)
                continue;
            const double *x = X + (size_t)i * d, *m = mu + (size_t)c * d;
            for (int a = 0; a < d; a++) {
                if (cov != TP_GMM_FULL) {
                    double e = x[a] - m[a];
                    ref[(size_t)c * d + a] += r * e * e;
                    sc[(size_t)c * d + a] += r * e * e;
                    continue;
                }
                for (int b = a; b < d; b++) {
                    double t = r * (x[a] - m[a]) * (x[b] - m[b]);
                    ref[((size_t)c * d + a) * d + b] += t;
                    sc[((size_t)c * d + a) * d + b] += fabs(t);
                }
            }
        }
    if (cov == TP_GMM_FULL) /* only the upper triangles are defined */
        for (int c = 0; c < k; c++)
            for (int a = 0; a < d; a++)
                for (int b = 0; b < a; b++)
                    out[((size_t)c * d + a) * d + b] = 0;
    for (size_t e = 0; e < nsc; e++)
        sc[e] += 1e-300;
    CHECK(agree("scatter", out, ref, nsc, sc, TOL));
    api->destroy(s);
    free(stat);
    free(back);
    free(out);
    free(want);
    free(sc);
    free(mu);
    free(ref);
}

int main(void)
{
    const tp_gpu_api *api;
    tp_gpu *g = gpu_check_open(&api);
    tp_device dev = {.api = api, .gpu = g, .prec = TP_PREC_FP32};
    api->describe(g, dev.name, sizeof dev.name);
    printf("on %s\n", dev.name);
    static const struct {
        int64_t n;
        int d, k;
    } shapes[] = {{2999, 12, 5}, {1500, 50, 10}, {300, 1, 1}, {777, 3, 4}};
    tp_rng r;
    tp_rng_seed(&r, 2024);
    for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
        int64_t n = shapes[t].n;
        int d = shapes[t].d, k = shapes[t].k;
        double *X = malloc((size_t)n * d * sizeof *X), *R = malloc((size_t)k * n * sizeof *R);
        make_data(&r, n, d, k, X);
        for (int cv = 0; cv < 4; cv++) {
            tp_gmm_cov cov = (tp_gmm_cov)cv;
            int before = check_failures;
            /* a model of the data from responsibilities near the truth */
            tp_gmm_model m;
            tp_gmm_model_alloc(&m, k, d, cov);
            make_resp(&r, n, k, 0, R);
            CHECK(tp_gmm_mstep(&m, X, n, R, 1e-6, NULL, 2) == 0);
            check_estep(&dev, X, n, d, &m, 1);
            make_resp(&r, n, k, 1, R);
            check_mstep(&dev, X, n, d, k, cov, R);
            if (cov != TP_GMM_TIED)
                check_api(&dev, X, n, d, k, cov, R);
            /* NaN and Inf in the samples: the same NaN and Inf in every output */
            double keep0 = X[0], keep1 = X[(size_t)d + (d > 1)];
            X[0] = INFINITY;
            X[(size_t)d + (d > 1)] = NAN;
            check_estep(&dev, X, n, d, &m, 0);
            X[0] = keep0;
            X[(size_t)d + (d > 1)] = keep1;
            tp_gmm_model_free(&m);
            printf("n %lld, d %d, k %d, %s: %s\n", (long long)n, d, k, tp_gmm_cov_name(cov),
                   check_failures == before ? "agree" : "DIFFER");
        }
        free(X);
        free(R);
    }
    api->close(g);
    return check_result();
}
