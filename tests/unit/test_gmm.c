/* lib/gmm: recovery of known mixtures, the EM lower bound never falling, scikit-learn's
 * EM steps from a fixed start (tests/fixtures/make_gmm.py), degenerate inputs, thread
 * independence and the model file.
 *
 * Tolerances. Recovery: the data are drawn from the true mixture with exact component
 * sizes n_c, so an estimate is off by sampling error alone: a mean coordinate by
 * sqrt(S_jj / n_c), a covariance entry by sqrt((S_ii S_jj + S_ij^2) / n_c), a variance by
 * S_jj sqrt(2 / n_c); each is allowed 5 of these standard errors (a miss has odds below
 * 1e-6 per value). Components are 6 or more standard deviations apart, so weights are the
 * sizes' shares within 1e-3. scikit-learn: the same sums in another order, in doubles, so
 * lower bounds agree to 1e-9 relative over 171 EM steps, parameters to 1e-6. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "gmm.h"
#include "rng.h"
#include "dtype.h"
#include "stream.h"
#include "util.h"

static char path[1024];

static const char *fixture(const char *name)
{
    const char *t = getenv("TESTS");
    snprintf(path, sizeof path, "%s/fixtures/%s", t ? t : "tests", name);
    return path;
}

static int all_finite(const double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i]))
            return 0;
    return 1;
}

static int model_finite(const tp_gmm_model *m)
{
    size_t cs = tp_gmm_cov_size(m->cov, m->k, m->d);
    return all_finite(m->weights, (size_t)m->k) && all_finite(m->means, (size_t)m->k * m->d) &&
           all_finite(m->covariances, cs) && all_finite(m->prec_chol, cs);
}

/* The covariance of component c as a full d x d matrix. */
static void full_cov(const tp_gmm_model *m, int c, double *S)
{
    int d = m->d;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double v;
            switch (m->cov) {
            case TP_GMM_FULL: v = m->covariances[((size_t)c * d + i) * d + j]; break;
            case TP_GMM_TIED: v = m->covariances[(size_t)i * d + j]; break;
            case TP_GMM_DIAG: v = i == j ? m->covariances[(size_t)c * d + i] : 0; break;
            default: v = i == j ? m->covariances[c] : 0; break;
            }
            S[i * d + j] = v;
        }
}

/* ---- a known mixture ---- */

typedef struct {
    tp_gmm_cov cov;
    int k, d;
    int n[4];          /* samples per component */
    double mu[4][5];
    double L[4][5][5]; /* lower Cholesky factor of each covariance */
} truth;

static void true_cov(const truth *t, int c, double *S)
{
    for (int i = 0; i < t->d; i++)
        for (int j = 0; j < t->d; j++) {
            double s = 0;
            for (int q = 0; q < t->d; q++)
                s += t->L[c][i][q] * t->L[c][j][q];
            S[i * t->d + j] = s;
        }
}

/* The samples of t (component by component) into X, their components into y; returns n. */
static int64_t draw(const truth *t, uint64_t seed, double *X, int32_t *y)
{
    tp_rng r;
    tp_rng_seed(&r, seed);
    int64_t i = 0;
    for (int c = 0; c < t->k; c++)
        for (int s = 0; s < t->n[c]; s++, i++) {
            double z[5];
            for (int j = 0; j < t->d; j++)
                z[j] = tp_rng_normal(&r);
            for (int j = 0; j < t->d; j++) {
                double v = t->mu[c][j];
                for (int q = 0; q <= j; q++)
                    v += t->L[c][j][q] * z[q];
                X[i * t->d + j] = v;
            }
            y[i] = c;
        }
    return i;
}

static truth truths[4] = {
    {TP_GMM_FULL, 3, 3, {2400, 1500, 900}, {{0, 0, 0}, {10, 0, 0}, {0, 10, 5}},
     {{{1, 0, 0}, {0.5, 1, 0}, {0.2, -0.3, 0.8}}, {{0.6, 0, 0}, {-0.3, 0.9, 0}, {0, 0.4, 0.5}},
      {{1.4, 0, 0}, {0.7, 0.6, 0}, {-0.5, 0.2, 1.1}}}},
    {TP_GMM_TIED, 4, 2, {1000, 1500, 2000, 1500}, {{0, 0}, {9, 0}, {0, 9}, {9, 9}},
     {{{1.2, 0}, {0.6, 0.7}}, {{1.2, 0}, {0.6, 0.7}}, {{1.2, 0}, {0.6, 0.7}}, {{1.2, 0}, {0.6, 0.7}}}},
    {TP_GMM_DIAG, 3, 5, {3000, 2000, 1000}, {{0, 0, 0, 0, 0}, {10, 0, 0, 5, 0}, {0, 0, 10, 0, -5}},
     {{{1}, {0, 0.5}, {0, 0, 2}, {0, 0, 0, 1}, {0, 0, 0, 0, 0.3}},
      {{0.4}, {0, 1.5}, {0, 0, 1}, {0, 0, 0, 0.8}, {0, 0, 0, 0, 1}},
      {{1}, {0, 1}, {0, 0, 0.5}, {0, 0, 0, 0.5}, {0, 0, 0, 0, 1.2}}}},
    {TP_GMM_SPHERICAL, 4, 4, {1500, 1500, 1500, 1500}, {{0, 0, 0, 0}, {12, 0, 0, 0}, {0, 12, 0, 0}, {0, 0, 12, 12}},
     {{{0.7}, {0, 0.7}, {0, 0, 0.7}, {0, 0, 0, 0.7}}, {{1}, {0, 1}, {0, 0, 1}, {0, 0, 0, 1}},
      {{1.4}, {0, 1.4}, {0, 0, 1.4}, {0, 0, 0, 1.4}}, {{1.2}, {0, 1.2}, {0, 0, 1.2}, {0, 0, 0, 1.2}}}},
};

/* ---- lower-bound recording ---- */

typedef struct {
    double lb[4][1024];
    int iters[4];
    int runs;
} history;

static void record(void *ctx, int run, int iter, double lb)
{
    history *h = ctx;
    if (run < 4 && iter <= 1024) {
        h->lb[run][iter - 1] = lb;
        h->iters[run] = iter;
        if (run + 1 > h->runs)
            h->runs = run + 1;
    }
}

static void test_recovery(const truth *t)
{
    int64_t n = 0;
    for (int c = 0; c < t->k; c++)
        n += t->n[c];
    double *X = tp_alloc((size_t)n * t->d, sizeof *X);
    int32_t *y = tp_alloc((size_t)n, sizeof *y), *lab = tp_alloc((size_t)n, sizeof *lab);
    draw(t, 7 + (uint64_t)t->cov, X, y);
    tp_gmm_options o;
    tp_gmm_options_default(&o);
    o.k = t->k;
    o.cov = t->cov;
    o.n_init = 2;
    history h = {0};
    o.on_iter = record;
    o.ctx = &h;
    tp_gmm_model m;
    tp_gmm_info info;
    char err[256] = "";
    CHECK(tp_gmm_fit(X, n, t->d, &o, &m, &info, err, sizeof err) == 0);
    if (err[0])
        fprintf(stderr, "%s\n", err);
    CHECK(info.converged);
    CHECK_INT(info.nevents, 0);
    CHECK(model_finite(&m));
    /* match each true component to the fitted one with the nearest mean */
    int match[4], used[4] = {0};
    int d = t->d;
    double S[25], T[25];
    for (int c = 0; c < t->k; c++) {
        int best = 0;
        double bd = INFINITY;
        for (int f = 0; f < m.k; f++) {
            double s = 0;
            for (int j = 0; j < d; j++)
                s += pow(m.means[f * d + j] - t->mu[c][j], 2);
            if (s < bd)
                bd = s, best = f;
        }
        match[c] = best;
        used[best]++;
    }
    for (int f = 0; f < m.k; f++)
        CHECK_INT(used[f], 1);
    int pooled = t->cov == TP_GMM_TIED;
    for (int c = 0; c < t->k; c++) {
        int f = match[c];
        double nc = pooled ? (double)n : t->n[c];
        CHECK_NEAR(m.weights[f], (double)t->n[c] / (double)n, 1e-3);
        true_cov(t, c, T);
        full_cov(&m, f, S);
        for (int j = 0; j < d; j++)
            CHECK_NEAR(m.means[f * d + j], t->mu[c][j], 5 * sqrt(T[j * d + j] / t->n[c]));
        if (t->cov == TP_GMM_SPHERICAL) {
            CHECK_NEAR(S[0], T[0], 5 * T[0] * sqrt(2.0 / (nc * d)));
            continue;
        }
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) {
                double se = i == j ? T[i * d + i] * sqrt(2 / nc)
                                   : sqrt((T[i * d + i] * T[j * d + j] + T[i * d + j] * T[i * d + j]) / nc);
                CHECK_NEAR(S[i * d + j], T[i * d + j], 5 * se);
            }
    }
    /* the clusters are the components the samples came from */
    tp_gmm_predict(&m, X, n, 2, lab, NULL, NULL);
    int64_t agree = 0;
    for (int64_t i = 0; i < n; i++)
        agree += lab[i] == match[y[i]];
    CHECK(agree >= n - n / 1000);
    /* every run's lower bound rose at every step, up to rounding and reg_covar's term */
    for (int r = 0; r < h.runs; r++)
        for (int i = 1; i < h.iters[r]; i++)
            CHECK(h.lb[r][i] >= h.lb[r][i - 1] - 1e-10); /* reg_covar 1e-6: see test_monotone */
    tp_gmm_model_free(&m);
    tp_gmm_info_free(&info);
    free(X);
    free(y);
    free(lab);
}

/* Long runs from random responsibilities on overlapping data (the fixture), tol 0: the
 * lower bound never falls by more than rounding. */
static void test_monotone(const double *X, int64_t n, int d)
{
    for (int ct = 0; ct < 4; ct++)
        for (int reg = 0; reg < 2; reg++) {
            tp_gmm_options o;
            tp_gmm_options_default(&o);
            o.k = 4;
            o.cov = (tp_gmm_cov)ct;
            o.init = TP_GMM_INIT_RANDOM;
            o.n_init = 3;
            o.tol = 0;
            o.max_iter = 300;
            o.reg_covar = reg ? 1e-6 : 0;
            history h = {0};
            o.on_iter = record;
            o.ctx = &h;
            tp_gmm_model m;
            tp_gmm_info info;
            char err[256];
            CHECK(tp_gmm_fit(X, n, d, &o, &m, &info, err, sizeof err) == 0);
            CHECK_INT(h.runs, 3);
            double worst = 0;
            for (int r = 0; r < h.runs; r++) {
                CHECK_INT(h.iters[r], 300);
                for (int i = 1; i < h.iters[r]; i++)
                    if (h.lb[r][i - 1] - h.lb[r][i] > worst)
                        worst = h.lb[r][i - 1] - h.lb[r][i];
            }
            /* Exact EM (reg_covar 0) never lowers the likelihood; rounding of a mean of 300 terms
             * near -5 is below 1e-13. With reg_covar the M-step is off the maximum by a term of
             * order reg_covar^2 / variance^2, and near convergence the bound may fall by that
             * much (about 1e-11 measured here). */
            double allowed = reg ? 1e-10 : 1e-12;
            if (!(worst <= allowed))
                fprintf(stderr, "%s reg %d: the lower bound fell by %g\n", tp_gmm_cov_name(o.cov), reg, worst);
            CHECK(worst <= allowed);
            CHECK(h.lb[0][299] > h.lb[0][0] + 0.1); /* and it did climb */
            tp_gmm_model_free(&m);
            tp_gmm_info_free(&info);
        }
}

/* ---- scikit-learn fixtures ---- */

typedef struct {
    tp_reader *r;
    const unsigned char *rec;
} want_file;

static double *want(want_file *w, const char *name, size_t *n)
{
    const tp_header *h = tp_reader_header(w->r);
    int i = tp_header_find(h, name);
    if (i < 0) {
        fprintf(stderr, "fixture lacks %s\n", name);
        exit(1);
    }
    const tp_field *f = &h->fields[i];
    double *v = tp_alloc(f->nelem, sizeof *v);
    for (size_t j = 0; j < f->nelem; j++)
        v[j] = tp_elem_as_double(w->rec + f->offset, f->dtype, j);
    if (n)
        *n = f->nelem;
    return v;
}

static double want1(want_file *w, const char *name)
{
    double *v = want(w, name, NULL), x = v[0];
    free(v);
    return x;
}

/* Every value of a within rel * max|b| of b. */
static void check_close(const char *what, const double *a, const double *b, size_t n, double rel)
{
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++)
        scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
    for (size_t i = 0; i < n; i++)
        worst = fabs(a[i] - b[i]) > worst ? fabs(a[i] - b[i]) : worst;
    if (!(worst <= rel * scale)) {
        fprintf(stderr, "%s differs from scikit-learn's by %g (scale %g)\n", what, worst, scale);
        check_failures++;
    }
}

static void test_sklearn(const double *X, int64_t n, int d)
{
    static const char *types[] = {"full", "tied", "diag", "spherical"};
    for (int ct = 0; ct < 4; ct++) {
        char name[64], err[256];
        snprintf(name, sizeof name, "gmm_start_%s.tp", types[ct]);
        tp_gmm_model start;
        if (tp_gmm_model_read(fixture(name), &start, err, sizeof err)) {
            fprintf(stderr, "%s: %s\n", path, err);
            check_failures++;
            continue;
        }
        CHECK_INT(start.cov, ct);
        snprintf(name, sizeof name, "gmm_want_%s.tp", types[ct]);
        want_file w = {tp_reader_open(fixture(name), err, sizeof err), NULL};
        if (!w.r) {
            fprintf(stderr, "%s: %s\n", path, err);
            exit(1);
        }
        w.rec = tp_reader_next(w.r);
        TP_ASSERT(w.rec);

        tp_gmm_options o;
        tp_gmm_options_default(&o);
        o.start = &start;
        o.tol = 1e-8;
        o.max_iter = 500;
        history h = {0};
        o.on_iter = record;
        o.ctx = &h;
        tp_gmm_model m;
        tp_gmm_info info;
        CHECK(tp_gmm_fit(X, n, d, &o, &m, &info, err, sizeof err) == 0);
        size_t nlb;
        double *lb = want(&w, "lb", &nlb);
        CHECK_INT(info.iterations, (int)want1(&w, "n_iter"));
        CHECK_INT(h.iters[0], (int)nlb);
        if ((size_t)h.iters[0] == nlb)
            check_close(types[ct], h.lb[0], lb, nlb, 1e-9);
        CHECK_NEAR(info.lower_bound, want1(&w, "lower_bound"), 1e-9 * fabs(info.lower_bound));
        size_t nv;
        double *v = want(&w, "weights", &nv);
        check_close("weights", m.weights, v, nv, 1e-6);
        free(v);
        v = want(&w, "means", &nv);
        check_close("means", m.means, v, nv, 1e-6);
        free(v);
        v = want(&w, "covariances", &nv);
        CHECK_INT(nv, tp_gmm_cov_size(m.cov, m.k, m.d));
        check_close("covariances", m.covariances, v, nv, 1e-6);
        free(v);
        int32_t *lab = tp_alloc((size_t)n, sizeof *lab);
        double score = tp_gmm_predict(&m, X, n, 2, lab, NULL, NULL);
        CHECK_NEAR(score, want1(&w, "score"), 1e-9 * fabs(score));
        CHECK_NEAR(tp_gmm_bic(&m, score, n), want1(&w, "bic"), 1e-9 * fabs(want1(&w, "bic")));
        CHECK_NEAR(tp_gmm_aic(&m, score, n), want1(&w, "aic"), 1e-9 * fabs(want1(&w, "aic")));
        v = want(&w, "labels", &nv);
        int64_t same = 0;
        for (int64_t i = 0; i < n; i++)
            same += lab[i] == (int32_t)v[i];
        CHECK_INT(same, n);
        free(v);
        tp_gmm_model_free(&m);
        tp_gmm_info_free(&info);

        /* tpipe's defaults (10 k-means runs, best lower bound) do no worse than sklearn's best
         * of 10 runs */
        tp_gmm_options_default(&o);
        o.k = 3;
        o.cov = (tp_gmm_cov)ct;
        CHECK(tp_gmm_fit(X, n, d, &o, &m, &info, err, sizeof err) == 0);
        score = tp_gmm_predict(&m, X, n, 2, NULL, NULL, NULL);
        double sk = want1(&w, "best_score");
        if (!(score >= sk - 1e-9)) {
            fprintf(stderr, "%s: default fit scores %.10g, scikit-learn's best of 10 %.10g\n", types[ct], score, sk);
            check_failures++;
        }
        tp_gmm_model_free(&m);
        tp_gmm_info_free(&info);
        free(lab);
        free(lb);
        tp_reader_close(w.r);
        tp_gmm_model_free(&start);
    }
}

/* ---- degenerate inputs ---- */

static int has_event(const tp_gmm_info *in, tp_gmm_event_kind kind, int run)
{
    for (int i = 0; i < in->nevents; i++)
        if (in->events[i].kind == kind && (run < 0 || in->events[i].run == run))
            return 1;
    return 0;
}

static void test_degenerate(void)
{
    tp_gmm_options o;
    tp_gmm_model m;
    tp_gmm_info info;
    char err[256];
    int d = 3;
    double X[400 * 3];
    tp_rng r;
    tp_rng_seed(&r, 99);
    /* 300 samples of a blob, then 100 copies of one far point */
    for (int i = 0; i < 400; i++)
        for (int j = 0; j < d; j++)
            X[i * d + j] = i < 300 ? tp_rng_normal(&r) : 20 + j;

    /* more components than samples, and too few samples */
    tp_gmm_options_default(&o);
    o.k = 5;
    CHECK(tp_gmm_fit(X, 4, d, &o, &m, &info, err, sizeof err) == -1);
    CHECK(strstr(err, "5 components need at least 5 samples, the input holds 4") != NULL);
    o.k = 1;
    CHECK(tp_gmm_fit(X, 1, d, &o, &m, &info, err, sizeof err) == -1);
    CHECK(strstr(err, "at least 2 samples") != NULL);

    /* duplicates: one component sits on the copies, lives on reg_covar, and is reported */
    for (int ct = 0; ct < 4; ct++) {
        tp_gmm_options_default(&o);
        o.k = 2;
        o.cov = (tp_gmm_cov)ct;
        CHECK(tp_gmm_fit(X, 400, d, &o, &m, &info, err, sizeof err) == 0);
        CHECK(model_finite(&m));
        double ll = tp_gmm_predict(&m, X, 400, 2, NULL, NULL, NULL);
        CHECK(isfinite(ll));
        if (ct != TP_GMM_TIED) {
            CHECK(has_event(&info, TP_GMM_EV_COLLAPSED, info.best_run));
            int c = m.means[0] > 10 ? 0 : 1; /* the component on the copies */
            double S[9];
            full_cov(&m, c, S);
            CHECK_NEAR(S[0], 1e-6, 1e-12);
            CHECK_NEAR(m.weights[c], 0.25, 1e-9);
        }
        tp_gmm_model_free(&m);
        tp_gmm_info_free(&info);
    }
    /* without reg_covar the copies' covariance is singular: regularised further, reported */
    for (int ct = 0; ct < 4; ct++) {
        tp_gmm_options_default(&o);
        o.k = 2;
        o.cov = (tp_gmm_cov)ct;
        o.reg_covar = 0;
        CHECK(tp_gmm_fit(X, 400, d, &o, &m, &info, err, sizeof err) == 0);
        CHECK(model_finite(&m));
        CHECK(isfinite(tp_gmm_predict(&m, X, 400, 2, NULL, NULL, NULL)));
        if (ct != TP_GMM_TIED) /* a zero variance, or one left by responsibilities of 1e-300 */
            CHECK(has_event(&info, TP_GMM_EV_NOT_PD, info.best_run) || has_event(&info, TP_GMM_EV_COLLAPSED, info.best_run));
        tp_gmm_model_free(&m);
        tp_gmm_info_free(&info);
    }
    /* a constant feature: its variance is reg_covar in every component */
    for (int i = 0; i < 300; i++)
        X[i * d + 1] = 5;
    for (int ct = 0; ct < 4; ct++) {
        tp_gmm_options_default(&o);
        o.k = 3;
        o.cov = (tp_gmm_cov)ct;
        CHECK(tp_gmm_fit(X, 300, d, &o, &m, &info, err, sizeof err) == 0);
        CHECK(model_finite(&m));
        CHECK(isfinite(tp_gmm_predict(&m, X, 300, 2, NULL, NULL, NULL)));
        double S[9];
        full_cov(&m, 0, S);
        if (ct != TP_GMM_SPHERICAL) /* spherical variances average the features */
            CHECK_NEAR(S[4], 1e-6, 1e-12);
        tp_gmm_model_free(&m);
        tp_gmm_info_free(&info);
    }
    /* every sample the same (fewer distinct samples than components), every initialisation */
    double Y[10 * 2];
    for (int i = 0; i < 20; i++)
        Y[i] = 3;
    for (int in = 0; in < 4; in++) {
        tp_gmm_options_default(&o);
        o.k = 3;
        o.init = (tp_gmm_init)in;
        CHECK(tp_gmm_fit(Y, 10, 2, &o, &m, &info, err, sizeof err) == 0);
        CHECK(model_finite(&m));
        int32_t lab[10];
        CHECK(isfinite(tp_gmm_predict(&m, Y, 10, 2, lab, NULL, NULL)));
        tp_gmm_model_free(&m);
        tp_gmm_info_free(&info);
    }
    /* a component far from every sample empties at the first step and is re-seeded */
    tp_gmm_model st;
    tp_gmm_model_alloc(&st, 2, d, TP_GMM_FULL);
    st.weights[0] = st.weights[1] = 0.5;
    for (int j = 0; j < d; j++) {
        st.means[j] = 0;
        st.means[d + j] = 1e4;
        st.covariances[j * d + j] = 1;
        st.covariances[d * d + j * d + j] = 1e-2;
    }
    CHECK(tp_gmm_model_precisions(&st, err, sizeof err) == 0);
    tp_gmm_options_default(&o);
    o.start = &st;
    CHECK(tp_gmm_fit(X, 400, d, &o, &m, &info, err, sizeof err) == 0);
    CHECK(has_event(&info, TP_GMM_EV_EMPTY, 0));
    CHECK(info.nevents >= 1 && info.events[0].kind == TP_GMM_EV_EMPTY && info.events[0].iter == 1 &&
          info.events[0].comp == 1);
    CHECK(model_finite(&m));
    CHECK(m.weights[1] > 0.1); /* it found the copies */
    tp_gmm_model_free(&m);
    tp_gmm_info_free(&info);
    /* a start model with a covariance that is not positive definite is refused */
    st.covariances[0] = -1;
    CHECK(tp_gmm_fit(X, 400, d, &o, &m, &info, err, sizeof err) == -1);
    CHECK(strstr(err, "component 0's covariance is not positive definite") != NULL);
    tp_gmm_info_free(&info);
    tp_gmm_model_free(&st);
}

/* ---- scores against a plain computation ---- */

/* log N(x; mu, S) by a textbook Cholesky S = L L^T and forward substitution. */
static double log_normal(const double *x, const double *mu, const double *S, int d)
{
    double L[40 * 40] = {0}, z[40], logdet = 0, q = 0;
    for (int j = 0; j < d; j++) {
        double s = S[j * d + j];
        for (int p = 0; p < j; p++)
            s -= L[j * d + p] * L[j * d + p];
        L[j * d + j] = sqrt(s);
        for (int i = j + 1; i < d; i++) {
            double t = S[i * d + j];
            for (int p = 0; p < j; p++)
                t -= L[i * d + p] * L[j * d + p];
            L[i * d + j] = t / L[j * d + j];
        }
        logdet += 2 * log(L[j * d + j]);
    }
    for (int i = 0; i < d; i++) {
        double t = x[i] - mu[i];
        for (int p = 0; p < i; p++)
            t -= L[i * d + p] * z[p];
        z[i] = t / L[i * d + i];
        q += z[i] * z[i];
    }
    return -0.5 * (d * log(2 * M_PI) + logdet + q);
}

/* Random models in 3, 13 and 40 dimensions (one, two and four column blocks of the
 * E-step's products), every covariance type: each sample's log-likelihood and
 * responsibilities as a direct computation gives them. */
static void test_scores(void)
{
    static const int dims[3] = {3, 13, 40};
    tp_rng r;
    tp_rng_seed(&r, 5);
    for (int di = 0; di < 3; di++)
        for (int ct = 0; ct < 4; ct++) {
            int d = dims[di], k = 3, n = 50;
            tp_gmm_model m;
            tp_gmm_model_alloc(&m, k, d, (tp_gmm_cov)ct);
            double *X = tp_alloc((size_t)n * d, sizeof *X), S[40 * 40], A[40 * 40];
            for (int i = 0; i < n * d; i++)
                X[i] = 3 * tp_rng_normal(&r);
            for (int c = 0; c < k; c++) {
                m.weights[c] = (c + 1) / 6.0;
                for (int j = 0; j < d; j++)
                    m.means[c * d + j] = 2 * tp_rng_normal(&r);
            }
            int nf = ct == TP_GMM_FULL ? k : ct == TP_GMM_TIED ? 1 : 0;
            for (int f = 0; f < nf; f++) { /* A A^T / d + I: well conditioned */
                for (int i = 0; i < d * d; i++)
                    A[i] = tp_rng_normal(&r);
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < d; j++) {
                        double s = i == j;
                        for (int p = 0; p < d; p++)
                            s += A[i * d + p] * A[j * d + p] / d;
                        m.covariances[(size_t)f * d * d + i * d + j] = s;
                    }
            }
            size_t cs = tp_gmm_cov_size(m.cov, k, d);
            if (!nf)
                for (size_t i = 0; i < cs; i++)
                    m.covariances[i] = 0.5 + tp_rng_double(&r);
            char err[256];
            CHECK(tp_gmm_model_precisions(&m, err, sizeof err) == 0);
            double logp[50], worst = 0, worst_r = 0;
            float resp[50 * 3];
            double mean = tp_gmm_predict(&m, X, n, 2, NULL, resp, logp), sum = 0;
            for (int i = 0; i < n; i++) {
                double lc[3], mx = -INFINITY, s = 0;
                for (int c = 0; c < k; c++) {
                    full_cov(&m, c, S);
                    lc[c] = log(m.weights[c]) + log_normal(X + i * d, m.means + c * d, S, d);
                    mx = lc[c] > mx ? lc[c] : mx;
                }
                for (int c = 0; c < k; c++)
                    s += exp(lc[c] - mx);
                double want = mx + log(s);
                sum += want;
                worst = fmax(worst, fabs(logp[i] - want) / fabs(want));
                for (int c = 0; c < k; c++)
                    worst_r = fmax(worst_r, fabs(resp[i * k + c] - exp(lc[c] - want)));
            }
            if (!(worst <= 1e-10 && worst_r <= 1e-6))
                fprintf(stderr, "d %d %s: log p off by %g relative, responsibilities by %g\n", d,
                        tp_gmm_cov_name(m.cov), worst, worst_r);
            CHECK(worst <= 1e-10);   /* doubles, sums in another order */
            CHECK(worst_r <= 1e-6);  /* float responsibilities */
            CHECK_NEAR(mean, sum / n, 1e-10 * fabs(mean));
            tp_gmm_model_free(&m);
            free(X);
        }
}

/* ---- threads, seeds, the model file, parameter counts ---- */

static int same_model(const tp_gmm_model *a, const tp_gmm_model *b)
{
    size_t cs = tp_gmm_cov_size(a->cov, a->k, a->d);
    return a->k == b->k && a->d == b->d && a->cov == b->cov &&
           memcmp(a->weights, b->weights, (size_t)a->k * sizeof(double)) == 0 &&
           memcmp(a->means, b->means, (size_t)a->k * a->d * sizeof(double)) == 0 &&
           memcmp(a->covariances, b->covariances, cs * sizeof(double)) == 0 &&
           memcmp(a->prec_chol, b->prec_chol, cs * sizeof(double)) == 0;
}

static void test_repeatable(const double *X, int64_t n, int d)
{
    tp_gmm_options o;
    tp_gmm_model a, b;
    tp_gmm_info info;
    char err[256];
    for (int ct = 0; ct < 4; ct++) {
        tp_gmm_options_default(&o);
        o.k = 3;
        o.cov = (tp_gmm_cov)ct;
        o.n_init = 3;
        o.threads = 1;
        CHECK(tp_gmm_fit(X, n, d, &o, &a, &info, err, sizeof err) == 0);
        tp_gmm_info_free(&info);
        o.threads = 3;
        CHECK(tp_gmm_fit(X, n, d, &o, &b, &info, err, sizeof err) == 0);
        CHECK(same_model(&a, &b));
        tp_gmm_info_free(&info);
        tp_gmm_model_free(&b);

        /* written and read back: the same numbers, the same clusters */
        char tmp[256];
        const char *dir = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/test_gmm_%d_%d.tp", dir && *dir ? dir : "/tmp", (int)getpid(), ct);
        const char *kv[] = {"note", "a test"};
        tp_gmm_model_write(tmp, &a, 1, kv);
        CHECK(tp_gmm_model_read(tmp, &b, err, sizeof err) == 0);
        CHECK(same_model(&a, &b));
        int32_t *la = tp_alloc((size_t)n, sizeof *la), *lb = tp_alloc((size_t)n, sizeof *lb);
        CHECK(tp_gmm_predict(&a, X, n, 1, la, NULL, NULL) == tp_gmm_predict(&b, X, n, 2, lb, NULL, NULL));
        CHECK(memcmp(la, lb, (size_t)n * sizeof *la) == 0);
        unlink(tmp);
        free(la);
        free(lb);
        tp_gmm_model_free(&a);
        tp_gmm_model_free(&b);
    }
    /* run r of a seed does not depend on --n-init: the best of 1 run is run 0 of 5 when it wins */
    tp_gmm_options_default(&o);
    o.k = 3;
    o.max_iter = 0; /* the initialisation alone: k-means */
    o.n_init = 1;
    CHECK(tp_gmm_fit(X, n, d, &o, &a, &info, err, sizeof err) == 0);
    CHECK_INT(info.iterations, 0);
    CHECK(!info.converged);
    tp_gmm_info_free(&info);
    tp_gmm_model_free(&a);
}

static void test_counts(void)
{
    tp_gmm_model m;
    int want[4] = {3 * 10 + 12 + 2, 10 + 12 + 2, 12 + 12 + 2, 3 + 12 + 2};
    for (int ct = 0; ct < 4; ct++) {
        tp_gmm_model_alloc(&m, 3, 4, (tp_gmm_cov)ct);
        CHECK_INT(tp_gmm_n_parameters(&m), want[ct]);
        /* BIC = -2 log L + p log n, AIC = -2 log L + 2 p, with log L = n * mean */
        CHECK_NEAR(tp_gmm_bic(&m, -1.5, 100), 300 + want[ct] * log(100.0), 1e-9);
        CHECK_NEAR(tp_gmm_aic(&m, -1.5, 100), 300 + 2 * want[ct], 1e-9);
        tp_gmm_model_free(&m);
    }
    tp_gmm_cov c;
    tp_gmm_init i;
    CHECK(tp_gmm_cov_parse("spherical", &c) == 0 && c == TP_GMM_SPHERICAL);
    CHECK(tp_gmm_cov_parse("fulll", &c) == -1);
    CHECK(tp_gmm_init_parse("random_from_data", &i) == 0 && i == TP_GMM_INIT_FROM_DATA);
    CHECK(tp_gmm_init_parse("k-means++", &i) == 0 && i == TP_GMM_INIT_KMEANSPP);
    CHECK(tp_gmm_init_parse("kmeans++", &i) == -1);
}

int main(void)
{
    tp_init("test_gmm");
    openblas_set_num_threads(1);
    test_counts();
    test_scores();
    for (int t = 0; t < 4; t++)
        test_recovery(&truths[t]);

    char err[256];
    tp_reader *r = tp_reader_open(fixture("gmm_data.tp"), err, sizeof err);
    if (!r) {
        fprintf(stderr, "%s: %s\n", path, err);
        return 1;
    }
    const tp_header *h = tp_reader_header(r);
    int xi = tp_header_find(h, "x");
    TP_ASSERT(xi >= 0);
    int d = (int)h->fields[xi].nelem;
    double *X = tp_alloc(300, (size_t)d * sizeof *X);
    int64_t n = 0;
    const unsigned char *rec;
    while ((rec = tp_reader_next(r)) && n < 300) {
        for (int j = 0; j < d; j++)
            X[n * d + j] = tp_elem_as_double(rec + h->fields[xi].offset, h->fields[xi].dtype, (size_t)j);
        n++;
    }
    CHECK_INT(n, 300);
    tp_reader_close(r);
    test_sklearn(X, n, d);
    test_monotone(X, n, d);
    test_repeatable(X, n, d);
    test_degenerate();
    free(X);
    return check_result();
}
