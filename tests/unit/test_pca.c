/* Unit tests of lib/pca.c: a case worked by hand (components, variances, the fraction
 * rule, whitening, signs), the three methods against each other, dtypes, degenerate data,
 * errors, and the model's round trip through a stream file. The comparison with
 * scikit-learn itself is tests/cli/pca.sh's, on fixtures from tests/fixtures/make_pca.py. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "model.h"
#include "pca.h"
#include "rng.h"
#include "stream.h"

static tp_pca_rows rows_f64(const double *x, int64_t n, int64_t d)
{
    tp_pca_rows r = {x, (size_t)d * sizeof *x, TP_F64, n, d};
    return r;
}

static tp_pca_opts opts(int64_t k, double frac, int whiten, tp_pca_method method)
{
    tp_pca_opts o = {k, frac, whiten, method, 42, 0};
    return o;
}

/* max |a - b| over n values */
static double maxdiff(const double *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

/* Five rows whose three columns are orthogonal zero-mean (Helmert) patterns p0 = (4, -1,
 * -1, -1, -1), p1 = (0, 3, -1, -1, -1), p2 = (0, 0, 2, -1, -1), scaled to variances 6, 3 and
 * 1 (N - 1 = 4 denominator: a^2 |p0|^2 / 4 = 6 with |p0|^2 = 20, and so on), the third one
 * negated. The components are the axes, the ratios 0.6, 0.3, 0.1, the scores the scaled
 * patterns; the sign rule makes the largest score of each column (rows 0, 1, 2) positive,
 * so the third component is -e2. */
static void test_by_hand(void)
{
    double a = sqrt(1.2), b = 1, c = sqrt(2.0 / 3), off[3] = {10, -2, 0.5};
    double pat[5][3] = {{4, 0, 0}, {-1, 3, 0}, {-1, -1, 2}, {-1, -1, -1}, {-1, -1, -1}}, x[15];
    for (int i = 0; i < 5; i++) {
        x[i * 3 + 0] = off[0] + a * pat[i][0];
        x[i * 3 + 1] = off[1] + b * pat[i][1];
        x[i * 3 + 2] = off[2] - c * pat[i][2];
    }
    tp_pca_rows r = rows_f64(x, 5, 3);
    char err[256];
    for (int meth = TP_PCA_COV; meth <= TP_PCA_GRAM; meth++) {
        tp_pca_model m;
        tp_pca_opts o = opts(0, 0, 0, (tp_pca_method)meth);
        float *s;
        CHECK_INT(tp_pca_fit(&r, &o, &m, &s, err, sizeof err), 0);
        CHECK_INT(m.k, 3); /* all: min(5, 3) */
        double axes[9] = {1, 0, 0, 0, 1, 0, 0, 0, -1}, var[3] = {6, 3, 1}, ratio[3] = {0.6, 0.3, 0.1};
        CHECK(maxdiff(m.components, axes, 9) < 1e-12);
        CHECK(maxdiff(m.variance, var, 3) < 1e-12);
        CHECK(maxdiff(m.ratio, ratio, 3) < 1e-12);
        CHECK(maxdiff(m.mean, off, 3) < 1e-12);
        CHECK_NEAR(m.total_var, 10, 1e-12);
        CHECK_NEAR(m.singular[0], sqrt(24), 1e-12);
        for (int i = 0; i < 5; i++) {
            CHECK_NEAR(s[i * 3 + 0], a * pat[i][0], 1e-6);
            CHECK_NEAR(s[i * 3 + 1], b * pat[i][1], 1e-6);
            CHECK_NEAR(s[i * 3 + 2], c * pat[i][2], 1e-6);
        }
        free(s);
        tp_pca_model_free(&m);
    }
    /* the fraction rule: the fewest components whose cumulative ratio exceeds f */
    double fr[5] = {0.3, 0.59, 0.61, 0.89, 0.91};
    int64_t want[5] = {1, 1, 2, 2, 3};
    for (int q = 0; q < 5; q++) {
        tp_pca_model m;
        tp_pca_opts o = opts(0, fr[q], 0, TP_PCA_AUTO);
        CHECK_INT(tp_pca_fit(&r, &o, &m, NULL, err, sizeof err), 0);
        CHECK_INT(m.k, want[q]);
        tp_pca_model_free(&m);
    }
    /* whitened: a p0 / sqrt(6) = sqrt(0.2) p0 and b p1 / sqrt(3) */
    tp_pca_model m;
    tp_pca_opts o = opts(2, 0, 1, TP_PCA_AUTO);
    float *s;
    CHECK_INT(tp_pca_fit(&r, &o, &m, &s, err, sizeof err), 0);
    CHECK_INT(m.k, 2);
    for (int i = 0; i < 5; i++) {
        CHECK_NEAR(s[i * 2], sqrt(0.2) * pat[i][0], 1e-6);
        CHECK_NEAR(s[i * 2 + 1], pat[i][1] / sqrt(3), 1e-6);
    }
    /* the transform of the training rows repeats the fit's scores */
    float t[10];
    CHECK_INT(tp_pca_transform(&m, &r, 0, t, err, sizeof err), 0);
    for (int e = 0; e < 10; e++)
        CHECK_NEAR(t[e], s[e], 1e-6);
    free(s);
    tp_pca_model_free(&m);
}

/* Low-rank data plus noise: n x d with 6 strong directions of distinct scales. */
static double *lowrank(int64_t n, int64_t d, uint64_t seed)
{
    tp_rng g;
    tp_rng_seed(&g, seed);
    double *basis = malloc((size_t)(6 * d) * sizeof *basis), *x = malloc((size_t)(n * d) * sizeof *x);
    for (int64_t e = 0; e < 6 * d; e++)
        basis[e] = tp_rng_normal(&g);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) {
            double v = 3 + 0.01 * tp_rng_normal(&g);
            x[i * d + j] = v;
        }
    for (int64_t i = 0; i < n; i++)
        for (int q = 0; q < 6; q++) {
            double z = tp_rng_normal(&g) * (12.0 - 2 * q);
            for (int64_t j = 0; j < d; j++)
                x[i * d + j] += z * basis[q * d + j];
        }
    free(basis);
    return x;
}

/* Checks m's components are orthonormal rows and the sign rule holds on x's scores s. */
static void check_structure(const tp_pca_model *m, const float *s, int64_t n)
{
    for (int64_t p = 0; p < m->k; p++)
        for (int64_t q = 0; q <= p; q++) {
            double dot = 0;
            for (int64_t j = 0; j < m->d; j++)
                dot += m->components[p * m->d + j] * m->components[q * m->d + j];
            CHECK_NEAR(dot, p == q, 1e-10);
        }
    for (int64_t r = 0; s && r < m->k; r++) {
        float best = 0;
        for (int64_t i = 0; i < n; i++)
            best = fabsf(s[i * m->k + r]) > fabsf(best) ? s[i * m->k + r] : best;
        CHECK(best >= 0);
    }
}

/* cov, gram and randomized agree, for n > d and n < d. */
static void test_methods_agree(void)
{
    int64_t shapes[2][2] = {{90, 40}, {30, 70}};
    char err[256];
    for (int sh = 0; sh < 2; sh++) {
        int64_t n = shapes[sh][0], d = shapes[sh][1], k = 5;
        double *x = lowrank(n, d, 7 + (uint64_t)sh);
        tp_pca_rows r = rows_f64(x, n, d);
        tp_pca_model m[3];
        float *s[3];
        for (int meth = 0; meth < 3; meth++) {
            tp_pca_opts o = opts(k, 0, 0, (tp_pca_method)(TP_PCA_COV + meth));
            CHECK_INT(tp_pca_fit(&r, &o, &m[meth], &s[meth], err, sizeof err), 0);
            CHECK_INT(m[meth].method, TP_PCA_COV + meth);
            check_structure(&m[meth], s[meth], n);
        }
        for (int meth = 1; meth < 3; meth++) {
            CHECK(maxdiff(m[meth].components, m[0].components, (size_t)(k * d)) < 1e-8);
            CHECK(maxdiff(m[meth].variance, m[0].variance, (size_t)k) < 1e-8 * m[0].variance[0]);
            CHECK(maxdiff(m[meth].ratio, m[0].ratio, (size_t)k) < 1e-10);
            CHECK_NEAR(m[meth].total_var, m[0].total_var, 1e-9 * m[0].total_var);
            double ds = 0, big = 0;
            for (int64_t e = 0; e < n * k; e++) {
                ds = fmax(ds, fabs(s[meth][e] - s[0][e]));
                big = fmax(big, fabs(s[0][e]));
            }
            CHECK(ds < 1e-6 * big);
        }
        /* the same seed gives the same randomized model */
        tp_pca_model again;
        tp_pca_opts o = opts(k, 0, 0, TP_PCA_RANDOMIZED);
        CHECK_INT(tp_pca_fit(&r, &o, &again, NULL, err, sizeof err), 0);
        CHECK(memcmp(again.components, m[2].components, (size_t)(k * d) * sizeof(double)) == 0);
        tp_pca_model_free(&again);
        for (int meth = 0; meth < 3; meth++) {
            tp_pca_model_free(&m[meth]);
            free(s[meth]);
        }
        free(x);
    }
}

/* The same integer values as u8 (the exact single-precision path), i16, f32 and f64 give
 * the same model, with the rows inside records of another field. */
static void test_dtypes(void)
{
    enum { N = 300, D = 20, REC = 1 + 8 * D };
    tp_rng g;
    tp_rng_seed(&g, 3);
    uint8_t *v = malloc(N * D);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) /* a few strong directions: (i % 5) and (i % 7) patterns */
            v[i * D + j] = (uint8_t)(((i % 5) * (j + 1) * 11 + (i % 7) * (D - j) * 5 + tp_rng_below(&g, 30)) % 256);
    tp_dtype types[4] = {TP_U8, TP_I16, TP_F32, TP_F64};
    unsigned char *recs = malloc((size_t)N * REC);
    tp_pca_model m[4];
    char err[256];
    for (int t = 0; t < 4; t++) {
        size_t es = tp_dtype_size(types[t]);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < D; j++) {
                unsigned char *p = recs + (size_t)i * REC + 1 + (size_t)j * es;
                int16_t h = v[i * D + j];
                float f = v[i * D + j];
                double dd = v[i * D + j];
                if (types[t] == TP_U8)
                    *p = v[i * D + j];
                else
                    memcpy(p, types[t] == TP_I16 ? (void *)&h : types[t] == TP_F32 ? (void *)&f : (void *)&dd, es);
            }
        tp_pca_rows r = {recs + 1, REC, types[t], N, D};
        tp_pca_opts o = opts(4, 0, 0, TP_PCA_COV);
        CHECK_INT(tp_pca_fit(&r, &o, &m[t], NULL, err, sizeof err), 0);
        check_structure(&m[t], NULL, N);
    }
    for (int t = 1; t < 4; t++) {
        CHECK(memcmp(m[t].mean, m[0].mean, D * sizeof(double)) == 0);
        CHECK(maxdiff(m[t].components, m[0].components, 4 * D) < 1e-10);
        CHECK(maxdiff(m[t].variance, m[0].variance, 4) < 1e-10 * m[0].variance[0]);
        CHECK(memcmp(m[t].components, m[1].components, 4 * D * sizeof(double)) == 0); /* the double paths */
    }
    for (int t = 0; t < 4; t++)
        tp_pca_model_free(&m[t]);
    free(recs);
    free(v);
}

/* Constant columns, rank below k, N < D with every component asked for. */
static void test_degenerate(void)
{
    enum { N = 6, D = 10 };
    double x[N * D];
    tp_rng g;
    tp_rng_seed(&g, 11);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++)
            x[i * D + j] = j == 3 || j == 8 ? 4.25 : tp_rng_normal(&g);
    tp_pca_rows r = rows_f64(x, N, D);
    char err[256];
    for (int meth = TP_PCA_COV; meth <= TP_PCA_GRAM; meth++) {
        for (int wh = 0; wh < 2; wh++) {
            tp_pca_model m;
            float *s;
            tp_pca_opts o = opts(0, 0, wh, (tp_pca_method)meth);
            CHECK_INT(tp_pca_fit(&r, &o, &m, &s, err, sizeof err), 0);
            CHECK_INT(m.k, N); /* all: min(N, D); centred rank N - 1, so the last has no variance */
            check_structure(&m, s, N);
            CHECK(m.variance[N - 1] < 1e-12 * m.variance[0]);
            for (int64_t r2 = 0; r2 < N - 1; r2++) /* constant columns take no part */
                CHECK(fabs(m.components[r2 * D + 3]) < 1e-12 && fabs(m.components[r2 * D + 8]) < 1e-12);
            double cum = 0;
            for (int q = 0; q < N; q++)
                cum += m.ratio[q];
            CHECK_NEAR(cum, 1, 1e-12);
            for (int i = 0; i < N; i++) {
                CHECK(fabsf(s[i * N + N - 1]) < 1e-5f); /* whitened too: no variance projects to 0 */
                if (wh) {
                    double ss = 0;
                    for (int i2 = 0; i2 < N; i2++)
                        ss += (double)s[i2 * N] * s[i2 * N];
                    CHECK_NEAR(ss / (N - 1), 1, 1e-5); /* whitened columns have unit variance */
                }
            }
            free(s);
            tp_pca_model_free(&m);
        }
    }
    /* a fraction short of 1 keeps no more than the rank */
    tp_pca_model m;
    tp_pca_opts o = opts(0, 0.999999999, 0, TP_PCA_AUTO);
    CHECK_INT(tp_pca_fit(&r, &o, &m, NULL, err, sizeof err), 0);
    CHECK(m.k <= N - 1);
    tp_pca_model_free(&m);
    /* every value constant: zero variance everywhere, ratios 0, still orthonormal */
    double flat[4 * 3] = {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3};
    tp_pca_rows rf = rows_f64(flat, 4, 3);
    for (int meth = TP_PCA_COV; meth <= TP_PCA_GRAM; meth++) {
        float *s;
        o = opts(2, 0, 1, (tp_pca_method)meth);
        CHECK_INT(tp_pca_fit(&rf, &o, &m, &s, err, sizeof err), 0);
        check_structure(&m, NULL, 4);
        CHECK(m.ratio[0] == 0 && m.variance[0] == 0 && s[0] == 0);
        free(s);
        tp_pca_model_free(&m);
    }
}

static void test_errors(void)
{
    double x[2 * 3] = {1, 2, 3, 4, 5, 6};
    char err[256];
    tp_pca_model m;
    tp_pca_rows r = rows_f64(x, 1, 3);
    tp_pca_opts o = opts(1, 0, 0, TP_PCA_AUTO);
    CHECK_INT(tp_pca_fit(&r, &o, &m, NULL, err, sizeof err), -1);
    CHECK(strstr(err, "at least 2 records") != NULL);
    r.n = 2;
    o.k = 3;
    CHECK_INT(tp_pca_fit(&r, &o, &m, NULL, err, sizeof err), -1);
    CHECK(strstr(err, "3 components asked for, but 2 records of 3 values have at most 2") != NULL);
    o = opts(0, 0.5, 0, TP_PCA_RANDOMIZED);
    CHECK_INT(tp_pca_fit(&r, &o, &m, NULL, err, sizeof err), -1);
    CHECK(strstr(err, "randomized method needs a number of components") != NULL);
    float f[3 * 2] = {1, 2, 3, 4, NAN, 6};
    tp_pca_rows rf = {f, 2 * sizeof(float), TP_F32, 3, 2};
    o = opts(1, 0, 0, TP_PCA_AUTO);
    CHECK_INT(tp_pca_fit(&rf, &o, &m, NULL, err, sizeof err), -1);
    CHECK(strstr(err, "record 2 holds a NaN or an infinite value") != NULL);
    /* transform: a non-finite value named by its record number */
    rf.n = 2;
    float s[2];
    CHECK_INT(tp_pca_fit(&rf, &o, &m, NULL, err, sizeof err), 0);
    f[1] = INFINITY;
    CHECK_INT(tp_pca_transform(&m, &rf, 40, s, err, sizeof err), -1);
    CHECK(strstr(err, "record 40 holds") != NULL);
    tp_pca_model_free(&m);
}

/* The model written as a stream and loaded back is the same model. */
static void test_save_load(void)
{
    double *x = lowrank(50, 8, 5);
    tp_pca_rows r = rows_f64(x, 50, 8);
    tp_pca_model m, l;
    tp_pca_opts o = opts(3, 0, 1, TP_PCA_AUTO);
    char err[256], path[] = "/tmp/tp_pca_XXXXXX";
    CHECK_INT(tp_pca_fit(&r, &o, &m, NULL, err, sizeof err), 0);
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    tp_pca_model_write(path, &m, NULL);
    CHECK_INT(tp_pca_load(path, &l, err, sizeof err), 0);
    CHECK(l.d == 8 && l.k == 3 && l.whiten == 1 && l.n_samples == 50 && l.method == TP_PCA_COV);
    CHECK(memcmp(l.mean, m.mean, (size_t)(8 + 3 * 8 + 3 * 3) * sizeof(double)) == 0);
    CHECK(l.total_var == m.total_var);
    tp_pca_model_free(&l);
    /* a stream of another kind */
    tp_header h;
    tp_header_init(&h);
    tp_header_set_meta(&h, "kind", "network");
    tp_tensor t = {"mean", TP_F64, 1, {8}, m.mean};
    tp_model_write(path, &h, &t, 1);
    CHECK_INT(tp_pca_load(path, &l, err, sizeof err), -1);
    CHECK(strstr(err, "not a PCA model") != NULL);
    unlink(path);
    tp_header_free(&h);
    tp_pca_model_free(&m);
    free(x);
}

static void test_choose(void)
{
    CHECK_INT(tp_pca_choose(70000, 784, 50), TP_PCA_COV);
    CHECK_INT(tp_pca_choose(6000, 150528, 50), TP_PCA_GRAM);
    CHECK_INT(tp_pca_choose(60000, 150528, 50), TP_PCA_RANDOMIZED);
    CHECK_INT(tp_pca_choose(60000, 150528, 0), TP_PCA_GRAM);
    tp_pca_method me;
    CHECK(tp_pca_method_parse("gram", &me) == 0 && me == TP_PCA_GRAM);
    CHECK(tp_pca_method_parse("svd", &me) == -1);
}

int main(void)
{
    test_by_hand();
    test_methods_agree();
    test_dtypes();
    test_degenerate();
    test_errors();
    test_save_load();
    test_choose();
    return check_result();
}
