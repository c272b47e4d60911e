/* pca.c — see pca.h. */
#include "pca.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parallel.h"
#include "progress.h"
#include "rng.h"
#include "comm.h"
#include "dtype.h"
#include "model.h"
#include "util.h"

/* LAPACK routines of OpenBLAS, Fortran calling convention; the trailing size_t arguments
 * are the lengths of the character arguments, which gfortran passes hidden. */
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a, const int *lda,
             const double *vl, const double *vu, const int *il, const int *iu, const double *abstol, int *m,
             double *w, double *z, const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
             const int *liwork, int *info, size_t, size_t, size_t);
void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s, double *u,
             const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork, int *iwork, int *info,
             size_t);
void dgeqrf_(const int *m, const int *n, double *a, const int *lda, double *tau, double *work, const int *lwork,
             int *info);
void dorgqr_(const int *m, const int *n, const int *k, double *a, const int *lda, const double *tau, double *work,
             const int *lwork, int *info);

#define BLOCK_DOUBLES ((int64_t)1 << 21) /* one converted block: 16 MiB */
#define MIN_BLOCK_ROWS 64
#define BYTE_ROWS 256        /* 256 * 255^2 < 2^24: exact float sums of byte products */
#define CHUNK_ROWS 32        /* rows per item of the parallel conversion */
#define EXACT_MAX 8192       /* the largest min(N, D) that auto solves exactly regardless of k */
#define OVERSAMPLE 10        /* extra columns of the randomized range finder (scikit-learn's) */
#define DEGENERATE 1e-12     /* eigenvalues below this fraction of the largest count as zero */

const char *tp_pca_method_name(tp_pca_method m)
{
    switch (m) {
    case TP_PCA_COV: return "cov";
    case TP_PCA_GRAM: return "gram";
    case TP_PCA_RANDOMIZED: return "randomized";
    default: return "auto";
    }
}

int tp_pca_method_parse(const char *s, tp_pca_method *m)
{
    for (int i = TP_PCA_AUTO; i <= TP_PCA_RANDOMIZED; i++)
        if (strcmp(s, tp_pca_method_name((tp_pca_method)i)) == 0) {
            *m = (tp_pca_method)i;
            return 0;
        }
    return -1;
}

tp_pca_method tp_pca_choose(int64_t n, int64_t d, int64_t k)
{
    int64_t mn = n < d ? n : d;
    if (mn > EXACT_MAX && k >= 1 && k <= mn / 4)
        return TP_PCA_RANDOMIZED;
    return d <= n ? TP_PCA_COV : TP_PCA_GRAM;
}

/* ---- conversion of a block of rows (columns j0 .. j0+s) to centred doubles ---- */

typedef struct {
    const tp_pca_rows *x;
    int64_t i0, m, j0, s;
    const double *mean; /* s values subtracted, or NULL */
    double *dst;        /* row r at dst + r * ld */
    size_t ld;
    int bad; /* a non-finite value was seen */
} conv_job;

#define CONV_LOOP(T, EXPR)                                   \
    for (int64_t e = 0; e < s; e++) {                        \
        T v;                                                 \
        memcpy(&v, p + (size_t)e * sizeof v, sizeof v);      \
        o[e] = (double)(EXPR);                               \
    }                                                        \
    break

/* s elements of dtype dt at p, minus mean (when not NULL), into o; 1 when one is not finite. */
static int conv_row(const unsigned char *p, tp_dtype dt, int64_t s, const double *mean, double *o)
{
    switch (dt) {
    case TP_U8:
        for (int64_t e = 0; e < s; e++)
            o[e] = p[e];
        break;
    case TP_I8: CONV_LOOP(int8_t, v);
    case TP_U16: CONV_LOOP(uint16_t, v);
    case TP_I16: CONV_LOOP(int16_t, v);
    case TP_I32: CONV_LOOP(int32_t, v);
    case TP_I64: CONV_LOOP(int64_t, v);
    case TP_F16: CONV_LOOP(uint16_t, tp_half_to_float(v));
    case TP_F32: CONV_LOOP(float, v);
    case TP_F64: CONV_LOOP(double, v);
    default: TP_ASSERT(!"bad dtype");
    }
    int bad = 0;
    if (tp_dtype_is_float(dt))
        for (int64_t e = 0; e < s; e++)
            bad |= !isfinite(o[e]);
    if (mean)
        for (int64_t e = 0; e < s; e++)
            o[e] -= mean[e];
    return bad;
}

static void conv_chunk(void *ctx, int64_t c, int t)
{
    (void)t;
    conv_job *j = ctx;
    const tp_pca_rows *x = j->x;
    size_t es = tp_dtype_size(x->dtype);
    int64_t r1 = (c + 1) * CHUNK_ROWS < j->m ? (c + 1) * CHUNK_ROWS : j->m;
    int bad = 0;
    for (int64_t r = c * CHUNK_ROWS; r < r1; r++) {
        const unsigned char *p = (const unsigned char *)x->base + (size_t)(j->i0 + r) * x->stride + (size_t)j->j0 * es;
        bad |= conv_row(p, x->dtype, j->s, j->mean, j->dst + (size_t)r * j->ld);
    }
    if (bad)
        __atomic_store_n(&j->bad, 1, __ATOMIC_RELAXED);
}

/* Rows i0 .. i0+m, columns j0 .. j0+s of x, minus mean[j0 ..] (when not NULL), into dst
 * (row r at dst + r * ld), on all cores. Returns 1 when a value was not finite. */
static int convert(const tp_pca_rows *x, int64_t i0, int64_t m, int64_t j0, int64_t s, const double *mean,
                   double *dst, size_t ld)
{
    conv_job j = {x, i0, m, j0, s, mean ? mean + j0 : NULL, dst, ld, 0};
    int64_t chunks = (m + CHUNK_ROWS - 1) / CHUNK_ROWS;
    tp_parallel_for(chunks, chunks * s >= 65536 ? tp_cpu_count() : 1, conv_chunk, &j);
    return j.bad;
}

/* The message for the first row of x holding a non-finite value (rows numbered from first). */
static void find_bad(const tp_pca_rows *x, int64_t first, char *err, size_t errlen)
{
    double *row = tp_alloc((size_t)x->d, sizeof *row);
    for (int64_t i = 0; i < x->n; i++)
        if (conv_row((const unsigned char *)x->base + (size_t)i * x->stride, x->dtype, x->d, NULL, row)) {
            snprintf(err, errlen, "record %lld holds a NaN or an infinite value", (long long)(first + i));
            break;
        }
    free(row);
}

/* Rows per converted block of d values. */
static int64_t block_rows(int64_t n, int64_t d)
{
    int64_t b = BLOCK_DOUBLES / d;
    b = b < MIN_BLOCK_ROWS ? MIN_BLOCK_ROWS : b;
    return b < n ? b : (n > 0 ? n : 1);
}

/* ---- progress over passes through the data ---- */

typedef struct {
    tp_progress p;
    int on;
    int64_t done;
} passes;

static void pass_add(passes *ps, int64_t rows)
{
    if (!ps->on)
        return;
    ps->done += rows;
    tp_progress_update(&ps->p, ps->done);
}

/* ---- LAPACK helpers ---- */

/* The top `want` eigenpairs of the symmetric n x n matrix a (row-major, upper triangle
 * read, destroyed): values descending into w, vectors as the rows of v (want x n). */
static int eig_top(double *a, int n, int want, double *w, double *v, char *err, size_t errlen)
{
    char jobz = 'V', range = want == n ? 'A' : 'I', uplo = 'L'; /* row-major upper = column-major lower */
    int il = n - want + 1, iu = n, m = 0, info = 0, lwork = -1, liwork = -1, iwq = 0;
    double vl = 0, vu = 0, abstol = 0, wq = 0;
    double *wa = tp_alloc((size_t)n, sizeof *wa), *z = tp_alloc((size_t)n * (size_t)want, sizeof *z);
    int *isuppz = tp_alloc(2 * (size_t)n, sizeof *isuppz);
    dsyevr_(&jobz, &range, &uplo, &n, a, &n, &vl, &vu, &il, &iu, &abstol, &m, wa, z, &n, isuppz, &wq, &lwork, &iwq,
            &liwork, &info, 1, 1, 1);
    if (info == 0) {
        lwork = (int)wq + 1;
        liwork = iwq;
        double *work = tp_alloc((size_t)lwork, sizeof *work);
        int *iwork = tp_alloc((size_t)liwork, sizeof *iwork);
        dsyevr_(&jobz, &range, &uplo, &n, a, &n, &vl, &vu, &il, &iu, &abstol, &m, wa, z, &n, isuppz, work, &lwork,
                iwork, &liwork, &info, 1, 1, 1);
        free(work);
        free(iwork);
    }
    int rc = 0;
    if (info != 0 || m != want) {
        snprintf(err, errlen, "the eigen-decomposition failed (LAPACK dsyevr info %d, %d of %d values)", info, m, want);
        rc = -1;
    } else {
        for (int r = 0; r < want; r++) { /* LAPACK's order is ascending */
            w[r] = wa[want - 1 - r];
            memcpy(v + (size_t)r * (size_t)n, z + (size_t)(want - 1 - r) * (size_t)n, (size_t)n * sizeof *v);
        }
    }
    free(wa);
    free(z);
    free(isuppz);
    return rc;
}

/* Replaces the m x l column-major matrix a (m >= l) by an orthonormal basis of its columns. */
static void orthonormalize(double *a, int m, int l)
{
    int info = 0, lwork = -1;
    double wq = 0, *tau = tp_alloc((size_t)l, sizeof *tau);
    dgeqrf_(&m, &l, a, &m, tau, &wq, &lwork, &info);
    TP_ASSERT(info == 0);
    double wq2 = 0;
    dorgqr_(&m, &l, &l, a, &m, tau, &wq2, &lwork, &info);
    TP_ASSERT(info == 0);
    lwork = (int)(wq > wq2 ? wq : wq2) + 1;
    double *work = tp_alloc((size_t)lwork, sizeof *work);
    dgeqrf_(&m, &l, a, &m, tau, work, &lwork, &info);
    TP_ASSERT(info == 0);
    dorgqr_(&m, &l, &l, a, &m, tau, work, &lwork, &info);
    TP_ASSERT(info == 0);
    free(work);
    free(tau);
}

/* Completes rows r with bad[r] of v (k x d) to an orthonormal set with the other rows. */
static void complete_basis(double *v, int64_t k, int64_t d, const char *bad)
{
    double *res = tp_alloc((size_t)d, sizeof *res);
    for (int64_t r = 0; r < k; r++) {
        if (!bad[r])
            continue;
        /* the unit vector least covered by the rows done so far */
        for (int64_t j = 0; j < d; j++)
            res[j] = 1;
        for (int64_t q = 0; q < k; q++)
            if (q < r || !bad[q])
                for (int64_t j = 0; j < d; j++)
                    res[j] -= v[q * d + j] * v[q * d + j];
        int64_t best = 0;
        for (int64_t j = 1; j < d; j++)
            best = res[j] > res[best] ? j : best;
        double *row = v + r * d;
        memset(row, 0, (size_t)d * sizeof *row);
        row[best] = 1;
        for (int round = 0; round < 2; round++)
            for (int64_t q = 0; q < k; q++)
                if (q < r || !bad[q]) {
                    double dot = cblas_ddot((int)d, row, 1, v + q * d, 1);
                    cblas_daxpy((int)d, -dot, v + q * d, 1, row, 1);
                }
        double nrm = cblas_dnrm2((int)d, row, 1);
        cblas_dscal((int)d, 1 / nrm, row, 1);
    }
    free(res);
}

/* ---- the passes ---- */

/* Column sums of x into sum (exact for integer dtypes: every partial sum is an integer
 * below 2^53 for fewer than 2^37 rows) and means into mean. */
static int column_mean(const tp_pca_rows *x, double *sum, double *mean, double *buf, passes *ps, char *err,
                       size_t errlen)
{
    int64_t n = x->n, d = x->d, b = block_rows(n, d), lo, hi;
    tp_comm_block(n, b, &lo, &hi); /* in an MPI job, this rank's blocks; else all */
    int64_t nb = (hi - lo + b - 1) / b;
    /* the blocks' sums, added in block order across the job: one process's sum */
    double **part = tp_alloc((size_t)nb + 1, sizeof *part);
    int np = 0;
    if (tp_comm_rank() == 0 || nb == 0)
        part[np++] = tp_calloc((size_t)d, sizeof **part);
    for (int64_t i0 = lo; i0 < hi; i0 += b) {
        int64_t m = hi - i0 < b ? hi - i0 : b;
        if (convert(x, i0, m, 0, d, NULL, buf, (size_t)d)) {
            for (int q = 0; q < np; q++)
                free(part[q]);
            free(part);
            find_bad(x, 0, err, errlen);
            return -1;
        }
        double *p = part[np++] = tp_calloc((size_t)d, sizeof *p);
        for (int64_t r = 0; r < m; r++)
            for (int64_t j = 0; j < d; j++)
                p[j] += buf[r * d + j];
        pass_add(ps, m);
    }
    tp_comm_sum_f64(part, np, (size_t)d);
    memcpy(sum, part[0], (size_t)d * sizeof *sum);
    for (int64_t j = 0; j < d; j++)
        mean[j] = sum[j] / (double)n;
    for (int q = 0; q < np; q++)
        free(part[q]);
    free(part);
    return 0;
}

static void model_alloc(tp_pca_model *m, int64_t d, int64_t k)
{
    memset(m, 0, sizeof *m);
    m->d = d;
    m->k = k;
    size_t total = (size_t)d + (size_t)k * (size_t)d + 3 * (size_t)k;
    m->mean = tp_calloc(total, sizeof(double));
    m->components = m->mean + d;
    m->variance = m->components + k * d;
    m->ratio = m->variance + k;
    m->singular = m->ratio + k;
}

/* How many of cnt descending eigenvalues lam (of scatter, total trace) a fraction keeps. */
static int64_t count_for_fraction(const double *lam, int64_t cnt, double trace, double frac)
{
    double cum = 0;
    for (int64_t r = 0; r < cnt; r++) {
        cum += trace > 0 ? lam[r] / trace : 0;
        if (cum > frac)
            return r + 1;
    }
    return cnt;
}

/* Fills variance, singular values and ratios from the eigenvalues lam of the scatter. */
static void set_spectrum(tp_pca_model *m, const double *lam, int64_t n, double trace)
{
    m->total_var = trace / (double)(n - 1);
    for (int64_t r = 0; r < m->k; r++) {
        double l = lam[r] > 0 ? lam[r] : 0;
        m->singular[r] = sqrt(l);
        m->variance[r] = l / (double)(n - 1);
        m->ratio[r] = trace > 0 ? l / trace : 0;
    }
}

/* The divisor of column r in a transform: sqrt(variance) when whitened (0 for a component
 * of no variance: below DEGENERATE of the first), else 1. */
static double scale_of(const tp_pca_model *m, int64_t r)
{
    if (!m->whiten)
        return 1;
    return m->variance[r] > DEGENERATE * m->variance[0] ? sqrt(m->variance[r]) : 0;
}

/* Projects rows i0 .. i0+cnt of x (centred) onto m's components: doubles into out (cnt x k),
 * using buf for the converted block. Returns 1 on a non-finite value. */
static int project(const tp_pca_model *m, const tp_pca_rows *x, int64_t i0, int64_t cnt, double *buf, double *out)
{
    if (convert(x, i0, cnt, 0, m->d, m->mean, buf, (size_t)m->d))
        return 1;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cnt, (int)m->k, (int)m->d, 1.0, buf, (int)m->d,
                m->components, (int)m->d, 0.0, out, (int)m->k);
    return 0;
}

/* Stores projections v (cnt x k doubles) as floats, divided by the whitening scale. */
static void store(const tp_pca_model *m, const double *v, int64_t cnt, float *out)
{
    int64_t k = m->k;
    for (int64_t r = 0; r < k; r++) {
        double s = scale_of(m, r);
        for (int64_t i = 0; i < cnt; i++)
            out[i * k + r] = s > 0 ? (float)(v[i * k + r] / s) : 0.0f;
    }
}

/* Tracks, per column, the first entry of largest magnitude: best[r] (|.|) and val[r]. */
static void track_max(const double *v, int64_t cnt, int64_t k, double *best, double *val)
{
    for (int64_t i = 0; i < cnt; i++)
        for (int64_t r = 0; r < k; r++) {
            double a = fabs(v[i * k + r]);
            if (a > best[r]) {
                best[r] = a;
                val[r] = v[i * k + r];
            }
        }
}

/* Orients each component by the sign rule (val[r]: the training projection of largest
 * magnitude) and negates the matching score columns. */
static void apply_signs(tp_pca_model *m, const double *val, float *scores, int64_t n)
{
    for (int64_t r = 0; r < m->k; r++) {
        if (!(val[r] < 0))
            continue;
        for (int64_t j = 0; j < m->d; j++)
            m->components[r * m->d + j] = -m->components[r * m->d + j];
        if (scores)
            for (int64_t i = 0; i < n; i++)
                scores[i * m->k + r] = -scores[i * m->k + r];
    }
}

/* Scores of x under m (before the sign rule) into *scores (when wanted), and the sign rule. */
static int scores_and_signs(tp_pca_model *m, const tp_pca_rows *x, float **scores, double *buf, passes *ps)
{
    int64_t n = x->n, k = m->k, b = block_rows(n, m->d);
    double *v = tp_alloc((size_t)b * (size_t)k, sizeof *v), *best = tp_calloc((size_t)k, sizeof *best),
           *val = tp_calloc((size_t)k, sizeof *val);
    float *out = scores ? tp_alloc((size_t)n * (size_t)k, sizeof *out) : NULL;
    int64_t lo, hi; /* an MPI job: each rank its blocks of rows */
    tp_comm_block(n, b, &lo, &hi);
    for (int64_t i0 = lo; i0 < hi; i0 += b) {
        int64_t cnt = hi - i0 < b ? hi - i0 : b;
        project(m, x, i0, cnt, buf, v); /* values were checked finite by the mean pass */
        track_max(v, cnt, k, best, val);
        if (out)
            store(m, v, cnt, out + i0 * k);
        pass_add(ps, cnt);
    }
    if (tp_comm_size() > 1) {
        if (out)
            tp_comm_share_rows(out, (size_t)k * sizeof *out, n, b);
        /* every rank's largest |score| per component, taken in rank order: the first in row
         * order wins ties, as in one pass */
        int N = tp_comm_size();
        double *bs = tp_alloc((size_t)N * (size_t)k, sizeof *bs), *vs = tp_alloc((size_t)N * (size_t)k, sizeof *vs);
        memcpy(bs + (size_t)tp_comm_rank() * k, best, (size_t)k * sizeof *bs);
        memcpy(vs + (size_t)tp_comm_rank() * k, val, (size_t)k * sizeof *vs);
        tp_comm_share_rows(bs, (size_t)k * sizeof *bs, N, 1);
        tp_comm_share_rows(vs, (size_t)k * sizeof *vs, N, 1);
        for (int64_t c = 0; c < k; c++)
            best[c] = 0, val[c] = 0;
        for (int r = 0; r < N; r++)
            for (int64_t c = 0; c < k; c++)
                if (bs[(size_t)r * k + c] > best[c]) {
                    best[c] = bs[(size_t)r * k + c];
                    val[c] = vs[(size_t)r * k + c];
                }
        free(bs), free(vs);
    }
    apply_signs(m, val, out, n);
    if (scores)
        *scores = out;
    free(v);
    free(best);
    free(val);
    return 0;
}

/* ---- the methods: each fills m (spectrum and unsigned components) from the centred data ---- */

/* The number of components for o, given the eigenvalues lam (cnt of them). */
static int64_t components_wanted(const tp_pca_opts *o, const double *lam, int64_t cnt, double trace, int64_t mn)
{
    int64_t k = o->frac > 0 ? count_for_fraction(lam, cnt, trace, o->frac) : o->k ? o->k : mn;
    return k < mn ? k : mn;
}

/* The scatter matrix Xc^T Xc of byte data (u8, i8) into c (upper triangle): products of
 * bytes summed over BYTE_ROWS rows are integers below 2^24, which ssyrk computes exactly in
 * float, at twice dsyrk's speed; the blocks add up in double, and the centring comes after,
 * X^T X - s s^T / n with the exact column sums s. */
static void scatter_bytes(const tp_pca_rows *x, const double *sum, double *c, passes *ps)
{
    int64_t n = x->n, d = x->d, lo, hi;
    tp_comm_block(n, BYTE_ROWS, &lo, &hi); /* a job's ranks: exact integers, so the same sums */
    float *xb = tp_alloc((size_t)BYTE_ROWS * (size_t)d, sizeof *xb), *cb = tp_alloc((size_t)d * (size_t)d, sizeof *cb);
    for (int64_t i0 = lo; i0 < hi; i0 += BYTE_ROWS) {
        int64_t cnt = hi - i0 < BYTE_ROWS ? hi - i0 : BYTE_ROWS;
        for (int64_t r = 0; r < cnt; r++)
            tp_to_float((const unsigned char *)x->base + (size_t)(i0 + r) * x->stride, x->dtype, (size_t)d, 1,
                        xb + r * d);
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)cnt, 1.0f, xb, (int)d, 0.0f, cb, (int)d);
        for (int64_t i = 0; i < d; i++)
            for (int64_t j = i; j < d; j++)
                c[i * d + j] += cb[i * d + j];
        pass_add(ps, cnt);
    }
    tp_comm_sum_f64(&c, 1, (size_t)d * (size_t)d);
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = i; j < d; j++)
            c[i * d + j] -= sum[i] * sum[j] / (double)n;
    free(xb);
    free(cb);
}

static int fit_cov(const tp_pca_rows *x, const tp_pca_opts *o, const double *sum, const double *mean, double *buf,
                   passes *ps, tp_pca_model *m, char *err, size_t errlen)
{
    int64_t n = x->n, d = x->d, b = block_rows(n, d), mn = n < d ? n : d;
    double *c = tp_calloc((size_t)d * (size_t)d, sizeof *c);
    if (x->dtype == TP_U8 || x->dtype == TP_I8) {
        scatter_bytes(x, sum, c, ps);
    } else {
        int64_t lo, hi; /* a job's ranks: their blocks' scatters, summed in rank order */
        tp_comm_block(n, b, &lo, &hi);
        for (int64_t i0 = lo; i0 < hi; i0 += b) {
            int64_t cnt = hi - i0 < b ? hi - i0 : b;
            convert(x, i0, cnt, 0, d, mean, buf, (size_t)d);
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)cnt, 1.0, buf, (int)d, 1.0, c, (int)d);
            pass_add(ps, cnt);
        }
        tp_comm_sum_f64(&c, 1, (size_t)d * (size_t)d);
    }
    double trace = 0;
    for (int64_t j = 0; j < d; j++)
        trace += c[j * d + j];
    int64_t want = o->frac > 0 || o->k == 0 ? d : o->k;
    double *lam = tp_alloc((size_t)want, sizeof *lam), *vec = tp_alloc((size_t)want * (size_t)d, sizeof *vec);
    int rc = eig_top(c, (int)d, (int)want, lam, vec, err, errlen);
    if (rc == 0) {
        int64_t k = components_wanted(o, lam, want, trace, mn);
        model_alloc(m, d, k);
        memcpy(m->components, vec, (size_t)k * (size_t)d * sizeof *vec);
        set_spectrum(m, lam, n, trace);
    }
    free(c);
    free(lam);
    free(vec);
    return rc;
}

/* The Gram method also yields the scores directly: u * s. */
static int fit_gram(const tp_pca_rows *x, const tp_pca_opts *o, const double *mean, passes *ps, tp_pca_model *m,
                    float **scores, char *err, size_t errlen)
{
    int64_t n = x->n, d = x->d, mn = n < d ? n : d;
    int64_t s = BLOCK_DOUBLES / n;
    s = s < 1 ? 1 : s > d ? d : s;
    double *slab = tp_alloc((size_t)n * (size_t)s, sizeof *slab);
    double *g = tp_calloc((size_t)n * (size_t)n, sizeof *g);
    for (int64_t j0 = 0; j0 < d; j0 += s) {
        int64_t w = d - j0 < s ? d - j0 : s;
        convert(x, 0, n, j0, w, mean, slab, (size_t)w);
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)w, 1.0, slab, (int)w, 1.0, g, (int)n);
        pass_add(ps, n * (j0 + w) / d - n * j0 / d);
    }
    double trace = 0;
    for (int64_t i = 0; i < n; i++)
        trace += g[i * n + i];
    int64_t want = o->frac > 0 || o->k == 0 ? n : o->k;
    want = want < mn ? want : mn;
    double *lam = tp_alloc((size_t)want, sizeof *lam), *u = tp_alloc((size_t)want * (size_t)n, sizeof *u);
    int rc = eig_top(g, (int)n, (int)want, lam, u, err, errlen);
    free(g);
    if (rc == 0) {
        int64_t k = components_wanted(o, lam, want, trace, mn);
        model_alloc(m, d, k);
        set_spectrum(m, lam, n, trace);
        /* components = u^T Xc / s, slab by slab */
        for (int64_t j0 = 0; j0 < d; j0 += s) {
            int64_t w = d - j0 < s ? d - j0 : s;
            convert(x, 0, n, j0, w, mean, slab, (size_t)w);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)k, (int)w, (int)n, 1.0, u, (int)n, slab,
                        (int)w, 0.0, m->components + j0, (int)d);
            pass_add(ps, n * (j0 + w) / d - n * j0 / d);
        }
        char *bad = tp_calloc((size_t)k, 1);
        int nbad = 0;
        for (int64_t r = 0; r < k; r++) {
            if (m->singular[r] > 0 && lam[r] > DEGENERATE * lam[0])
                cblas_dscal((int)d, 1 / m->singular[r], m->components + r * d, 1);
            else
                bad[r] = 1, nbad++;
        }
        if (nbad)
            complete_basis(m->components, k, d, bad);
        /* scores u * s (whitened: u * sqrt(n - 1)); the sign rule on u */
        double *best = tp_calloc((size_t)k, sizeof *best), *val = tp_calloc((size_t)k, sizeof *val);
        float *out = scores ? tp_alloc((size_t)n * (size_t)k, sizeof *out) : NULL;
        for (int64_t r = 0; r < k; r++) {
            double f = bad[r] ? 0 : o->whiten ? sqrt((double)(n - 1)) : m->singular[r];
            for (int64_t i = 0; i < n; i++) {
                double a = fabs(u[r * n + i]);
                if (!bad[r] && a > best[r]) {
                    best[r] = a;
                    val[r] = u[r * n + i];
                }
                if (out)
                    out[i * k + r] = (float)(u[r * n + i] * f);
            }
        }
        apply_signs(m, val, out, n);
        if (scores)
            *scores = out;
        free(best);
        free(val);
        free(bad);
    }
    free(slab);
    free(lam);
    free(u);
    return rc;
}

/* y = Xc z (n x l and d x l, column-major); adds the sum of squares of Xc to *sumsq when
 * sumsq is not NULL. */
static void times_x(const tp_pca_rows *x, const double *mean, const double *z, int64_t l, double *y, double *buf,
                    passes *ps, double *sumsq)
{
    int64_t n = x->n, d = x->d, b = block_rows(n, d);
    for (int64_t i0 = 0; i0 < n; i0 += b) {
        int64_t cnt = n - i0 < b ? n - i0 : b;
        convert(x, i0, cnt, 0, d, mean, buf, (size_t)d);
        if (sumsq)
            for (size_t e = 0; e < (size_t)cnt * (size_t)d; e++)
                *sumsq += buf[e] * buf[e];
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)cnt, (int)l, (int)d, 1.0, buf, (int)d, z, (int)d,
                    0.0, y + i0, (int)n);
        pass_add(ps, cnt);
    }
}

/* z = Xc^T y (d x l and n x l, column-major). */
static void times_xt(const tp_pca_rows *x, const double *mean, const double *y, int64_t l, double *z, double *buf,
                     passes *ps)
{
    int64_t n = x->n, d = x->d, b = block_rows(n, d);
    memset(z, 0, (size_t)d * (size_t)l * sizeof *z);
    for (int64_t i0 = 0; i0 < n; i0 += b) {
        int64_t cnt = n - i0 < b ? n - i0 : b;
        convert(x, i0, cnt, 0, d, mean, buf, (size_t)d);
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)l, (int)cnt, 1.0, buf, (int)d, y + i0,
                    (int)n, 1.0, z, (int)d);
        pass_add(ps, cnt);
    }
}

/* Power iterations of the randomized method for k components. */
static int randomized_iters(int64_t k, int64_t mn)
{
    return (double)k < 0.1 * (double)mn ? 7 : 4;
}

static int fit_randomized(const tp_pca_rows *x, const tp_pca_opts *o, const double *mean, double *buf, passes *ps,
                          tp_pca_model *m, char *err, size_t errlen)
{
    int64_t n = x->n, d = x->d, mn = n < d ? n : d, k = o->k;
    int64_t l = k + OVERSAMPLE < mn ? k + OVERSAMPLE : mn;
    int iters = randomized_iters(k, mn);
    double *y = tp_alloc((size_t)n * (size_t)l, sizeof *y); /* n x l, column-major */
    double *z = tp_alloc((size_t)d * (size_t)l, sizeof *z); /* d x l, column-major */
    tp_rng root, rng;
    tp_rng_seed(&root, o->seed);
    rng = tp_rng_split(&root, 0x504341ull); /* "PCA" */
    for (size_t e = 0; e < (size_t)d * (size_t)l; e++)
        z[e] = tp_rng_normal(&rng);
    double sumsq = 0;
    times_x(x, mean, z, l, y, buf, ps, &sumsq);
    for (int it = 0; it < iters; it++) {
        orthonormalize(y, (int)n, (int)l);
        times_xt(x, mean, y, l, z, buf, ps);
        orthonormalize(z, (int)d, (int)l);
        times_x(x, mean, z, l, y, buf, ps, NULL);
    }
    orthonormalize(y, (int)n, (int)l); /* q: a basis of the range */
    times_xt(x, mean, y, l, z, buf, ps);
    /* z = Xc^T q = (q^T Xc)^T, d x l: its left singular vectors are the components */
    int di = (int)d, li = (int)l, info = 0, lwork = -1;
    char jobz = 'S';
    double wq = 0, *sv = tp_alloc((size_t)l, sizeof *sv), *uu = tp_alloc((size_t)d * (size_t)l, sizeof *uu),
           *vt = tp_alloc((size_t)l * (size_t)l, sizeof *vt);
    int *iwork = tp_alloc(8 * (size_t)l, sizeof *iwork);
    dgesdd_(&jobz, &di, &li, z, &di, sv, uu, &di, vt, &li, &wq, &lwork, iwork, &info, 1);
    if (info == 0) {
        lwork = (int)wq + 1;
        double *work = tp_alloc((size_t)lwork, sizeof *work);
        dgesdd_(&jobz, &di, &li, z, &di, sv, uu, &di, vt, &li, work, &lwork, iwork, &info, 1);
        free(work);
    }
    int rc = 0;
    if (info != 0) {
        snprintf(err, errlen, "the SVD failed (LAPACK dgesdd info %d)", info);
        rc = -1;
    } else {
        model_alloc(m, d, k);
        memcpy(m->components, uu, (size_t)k * (size_t)d * sizeof *uu);
        for (int64_t r = 0; r < k; r++)
            sv[r] *= sv[r];
        set_spectrum(m, sv, n, sumsq);
    }
    free(sv);
    free(uu);
    free(vt);
    free(iwork);
    free(y);
    free(z);
    return rc;
}

int tp_pca_fit(const tp_pca_rows *x, const tp_pca_opts *o, tp_pca_model *m, float **scores, char *err,
               size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (scores)
        *scores = NULL;
    int64_t n = x->n, d = x->d, mn = n < d ? n : d;
    if (n < 2) {
        snprintf(err, errlen, "PCA needs at least 2 records, the input holds %lld", (long long)n);
        return -1;
    }
    if (n > INT_MAX || d > INT_MAX) {
        snprintf(err, errlen, "%lld rows of %lld values are too many for LAPACK's 32-bit sizes", (long long)n,
                 (long long)d);
        return -1;
    }
    TP_ASSERT(o->k >= 0 && (o->frac == 0 || (o->frac > 0 && o->frac < 1 && o->k == 0)));
    if (o->k > mn) {
        snprintf(err, errlen, "%lld components asked for, but %lld records of %lld values have at most %lld",
                 (long long)o->k, (long long)n, (long long)d, (long long)mn);
        return -1;
    }
    tp_pca_method method = o->method == TP_PCA_AUTO ? tp_pca_choose(n, d, o->k) : o->method;
    if (method == TP_PCA_RANDOMIZED && o->k == 0) {
        snprintf(err, errlen, "the randomized method needs a number of components (-k N), not %s",
                 o->frac > 0 ? "a fraction" : "all of them");
        return -1;
    }
    if (method != TP_PCA_RANDOMIZED) {
        int64_t side = method == TP_PCA_COV ? d : n;
        double need = 8.0 * (double)side * (double)side;
        double have = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
        if (have > 0 && need > have / 2) {
            snprintf(err, errlen, "the %s method needs a %lld x %lld matrix (%.1f GiB, more than half the memory); "
                     "the randomized method takes an integer k", tp_pca_method_name(method), (long long)side,
                     (long long)side, need / (1 << 30));
            return -1;
        }
    }
    int64_t b = block_rows(n, d);
    double *buf = tp_alloc((size_t)b * (size_t)d, sizeof *buf), *mean = tp_alloc((size_t)d, sizeof *mean),
           *sum = tp_alloc((size_t)d, sizeof *sum);
    passes ps = {.on = o->progress};
    int64_t total = method == TP_PCA_RANDOMIZED ? (2 * (int64_t)randomized_iters(o->k, mn) + 4) * n : 3 * n;
    if (ps.on)
        tp_progress_start(&ps.p, "pca", total, "rows read");
    int rc = column_mean(x, sum, mean, buf, &ps, err, errlen);
    if (rc == 0) {
        switch (method) {
        case TP_PCA_GRAM: rc = fit_gram(x, o, mean, &ps, m, scores, err, errlen); break;
        case TP_PCA_RANDOMIZED: rc = fit_randomized(x, o, mean, buf, &ps, m, err, errlen); break;
        default: rc = fit_cov(x, o, sum, mean, buf, &ps, m, err, errlen); break;
        }
    }
    if (rc == 0) {
        memcpy(m->mean, mean, (size_t)d * sizeof *mean);
        m->n_samples = n;
        m->whiten = o->whiten;
        m->method = method;
        if (method != TP_PCA_GRAM)
            rc = scores_and_signs(m, x, scores, buf, &ps);
    }
    if (ps.on)
        tp_progress_end(&ps.p, ps.done);
    free(buf);
    free(mean);
    free(sum);
    if (rc)
        tp_pca_model_free(m);
    return rc;
}

int tp_pca_transform(const tp_pca_model *m, const tp_pca_rows *x, int64_t first, float *out, char *err,
                     size_t errlen)
{
    TP_ASSERT(x->d == m->d);
    int64_t n = x->n, b = block_rows(n, m->d);
    double *buf = tp_alloc((size_t)b * (size_t)m->d, sizeof *buf), *v = tp_alloc((size_t)b * (size_t)m->k, sizeof *v);
    int rc = 0;
    for (int64_t i0 = 0; i0 < n && rc == 0; i0 += b) {
        int64_t cnt = n - i0 < b ? n - i0 : b;
        if (project(m, x, i0, cnt, buf, v)) {
            find_bad(x, first, err, errlen);
            rc = -1;
        } else {
            store(m, v, cnt, out + i0 * m->k);
        }
    }
    free(buf);
    free(v);
    return rc;
}

void tp_pca_model_free(tp_pca_model *m)
{
    free(m->mean);
    memset(m, 0, sizeof *m);
}

/* ---- the model as a stream ---- */

void tp_pca_model_write(const char *path, const tp_pca_model *m, const tp_header *extra)
{
    tp_header mh;
    tp_header_init(&mh);
    char v[64];
    tp_header_set_meta(&mh, "kind", "pca");
    tp_header_set_meta(&mh, "whiten", m->whiten ? "1" : "0");
    snprintf(v, sizeof v, "%lld", (long long)m->n_samples);
    tp_header_set_meta(&mh, "n_samples", v);
    snprintf(v, sizeof v, "%.17g", m->total_var);
    tp_header_set_meta(&mh, "total_variance", v);
    tp_header_set_meta(&mh, "method", tp_pca_method_name(m->method));
    if (extra)
        for (int i = 0; i < extra->nmeta; i++)
            tp_header_set_meta(&mh, extra->meta[i].key, extra->meta[i].value);
    const tp_tensor t[5] = {
        {"mean", TP_F64, 1, {m->d}, m->mean},
        {"components", TP_F64, 2, {m->k, m->d}, m->components},
        {"explained_variance", TP_F64, 1, {m->k}, m->variance},
        {"explained_variance_ratio", TP_F64, 1, {m->k}, m->ratio},
        {"singular_values", TP_F64, 1, {m->k}, m->singular},
    };
    tp_model_write(path, &mh, t, 5);
    tp_header_free(&mh);
}

int tp_pca_load(const char *path, tp_pca_model *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    tp_model mo;
    int64_t dd[1] = {-1}, kd[2] = {-1, -1}, k1[1] = {-1};
    const tp_field *fm = NULL, *fc = NULL, *fv = NULL, *fr = NULL, *fs = NULL;
    int rc = -1;
    if (tp_model_open(&mo, path, "pca", err, errlen))
        goto done;
    if (!(fm = tp_model_tensor(&mo, "mean", TP_F64, 1, dd, err, errlen)))
        goto done;
    kd[1] = dd[0];
    if (!(fc = tp_model_tensor(&mo, "components", TP_F64, 2, kd, err, errlen)))
        goto done;
    k1[0] = kd[0];
    if (!(fv = tp_model_tensor(&mo, "explained_variance", TP_F64, 1, k1, err, errlen)) ||
        !(fr = tp_model_tensor(&mo, "explained_variance_ratio", TP_F64, 1, k1, err, errlen)))
        goto done;
    /* singular_values is optional: NaN when absent */
    if (tp_header_find(&mo.h, "singular_values") >= 0 &&
        !(fs = tp_model_tensor(&mo, "singular_values", TP_F64, 1, k1, err, errlen)))
        goto done;
    if (tp_model_all_taken(&mo, err, errlen))
        goto done;
    model_alloc(m, dd[0], kd[0]);
    tp_model_take(&mo, fm, m->mean);
    tp_model_take(&mo, fc, m->components);
    tp_model_take(&mo, fv, m->variance);
    tp_model_take(&mo, fr, m->ratio);
    for (int64_t q = 0; q < m->k; q++)
        m->singular[q] = NAN;
    if (fs)
        tp_model_take(&mo, fs, m->singular);
    const tp_header *h = &mo.h;
    const char *wh = tp_header_get_meta(h, "whiten"), *ns = tp_header_get_meta(h, "n_samples"),
               *tv = tp_header_get_meta(h, "total_variance"), *me = tp_header_get_meta(h, "method");
    m->whiten = wh && strcmp(wh, "1") == 0;
    if (ns)
        tp_parse_i64(ns, &m->n_samples);
    if (!tv || tp_parse_f64(tv, &m->total_var))
        m->total_var = NAN;
    if (me)
        tp_pca_method_parse(me, &m->method);
    rc = 0;
done:
    tp_model_close(&mo);
    return rc;
}
