/* knn.c — exact k nearest neighbours through BLAS, and t-SNE's perplexity-calibrated
 * affinities. See knn.h. */
#include "knn.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "parallel.h"
#include "util.h"

#define QB 256  /* queries per block */
#define CB 2048 /* candidates per sgemm */

typedef struct {
    const float *x;
    float *norm;
    int64_t n;
    int d, k;
    int32_t *idx;
    double *dist2;
} knn_job;

/* Max-heap of k (distance, index) pairs: v[0] is the worst kept. */
static void heap_replace(float *v, int32_t *ix, int k, float dv, int32_t di)
{
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        float mv = dv;
        if (l < k && v[l] > mv)
            m = l, mv = v[l];
        if (r < k && v[r] > mv)
            m = r;
        if (m == i)
            break;
        v[i] = v[m];
        ix[i] = ix[m];
        i = m;
    }
    v[i] = dv;
    ix[i] = di;
}

static void heap_push(float *v, int32_t *ix, int size, float dv, int32_t di)
{
    int i = size;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (v[p] >= dv)
            break;
        v[i] = v[p];
        ix[i] = ix[p];
        i = p;
    }
    v[i] = dv;
    ix[i] = di;
}

typedef struct {
    double d;
    int32_t i;
} nb;

static int nb_cmp(const void *a, const void *b)
{
    const nb *x = a, *y = b;
    if (x->d != y->d)
        return x->d < y->d ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static void knn_block(void *ctx, int64_t b, int t)
{
    (void)t;
    knn_job *j = ctx;
    int64_t q0 = b * QB, nq = j->n - q0 < QB ? j->n - q0 : QB;
    int k = j->k, d = j->d;
    float *s = tp_alloc((size_t)nq * CB, sizeof *s);
    float *hv = tp_alloc((size_t)nq * (size_t)k, sizeof *hv);
    int32_t *hi = tp_alloc((size_t)nq * (size_t)k, sizeof *hi);
    int *hn = tp_calloc((size_t)nq, sizeof *hn);
    const float *xq = j->x + q0 * d;
    for (int64_t c0 = 0; c0 < j->n; c0 += CB) {
        int64_t nc = j->n - c0 < CB ? j->n - c0 : CB;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nc, d, -2.0f, xq, d, j->x + c0 * d, d,
                    0.0f, s, (int)nc);
        for (int64_t q = 0; q < nq; q++) {
            float *v = hv + q * k, nqv = j->norm[q0 + q];
            int32_t *ix = hi + q * k;
            const float *row = s + q * nc, *nc_norm = j->norm + c0;
            float thr = hn[q] == k ? v[0] : FLT_MAX;
            for (int64_t c = 0; c < nc; c++) {
                float dd = row[c] + nqv + nc_norm[c];
                if (dd < thr && c0 + c != q0 + q) {
                    if (hn[q] < k) {
                        heap_push(v, ix, hn[q]++, dd, (int32_t)(c0 + c));
                        if (hn[q] == k)
                            thr = v[0];
                    } else {
                        heap_replace(v, ix, k, dd, (int32_t)(c0 + c));
                        thr = v[0];
                    }
                }
            }
        }
    }
    nb *tmp = tp_alloc((size_t)k, sizeof *tmp);
    for (int64_t q = 0; q < nq; q++) {
        const float *a = j->x + (q0 + q) * d;
        for (int m = 0; m < k; m++) {
            const float *c = j->x + (int64_t)hi[q * k + m] * d;
            double acc = 0;
            for (int e = 0; e < d; e++) {
                double diff = (double)a[e] - (double)c[e];
                acc += diff * diff;
            }
            tmp[m].d = acc;
            tmp[m].i = hi[q * k + m];
        }
        qsort(tmp, (size_t)k, sizeof *tmp, nb_cmp);
        for (int m = 0; m < k; m++) {
            j->idx[(q0 + q) * k + m] = tmp[m].i;
            j->dist2[(q0 + q) * k + m] = tmp[m].d;
        }
    }
    free(tmp);
    free(hn);
    free(hi);
    free(hv);
    free(s);
}

void tp_knn(const float *x, int64_t n, int d, int k, int nthreads, int32_t *idx, double *dist2)
{
    TP_ASSERT(k >= 1 && k < n && n <= INT32_MAX);
    knn_job j = {x, tp_alloc((size_t)n, sizeof(float)), n, d, k, idx, dist2};
    for (int64_t i = 0; i < n; i++) {
        double acc = 0;
        for (int e = 0; e < d; e++)
            acc += (double)x[i * d + e] * x[i * d + e];
        j.norm[i] = (float)acc;
    }
    /* an MPI job's ranks: each its block of queries, then every rank all of them */
    tp_comm_parallel_for((n + QB - 1) / QB, 1, nthreads, knn_block, &j);
    tp_comm_share_rows(idx, (size_t)k * sizeof *idx, n, QB);
    tp_comm_share_rows(dist2, (size_t)k * sizeof *dist2, n, QB);
    free(j.norm);
}

void tp_csr_free(tp_csr *m)
{
    free(m->row);
    free(m->col);
    free(m->val);
    memset(m, 0, sizeof *m);
}

typedef struct {
    const double *dist2;
    int k;
    double target, tol;
    int max_steps;
    double *p, *beta;
    int64_t n, missed;
    double *worst; /* per block */
    int64_t *miss; /* per block */
} perp_job;

#define PB 512

/* Row i: the bisection of scikit-learn's _binary_search_perplexity, on distances shifted
 * by the row's smallest (the same P, without underflow for far-apart inputs). */
static void perp_block(void *ctx, int64_t b, int t)
{
    (void)t;
    perp_job *j = ctx;
    int k = j->k;
    double worst = 0;
    int64_t miss = 0;
    for (int64_t i = b * PB; i < j->n && i < (b + 1) * PB; i++) {
        const double *d = j->dist2 + i * k;
        double *p = j->p + i * k;
        double dmin = d[0];
        for (int m = 1; m < k; m++)
            dmin = d[m] < dmin ? d[m] : dmin;
        double beta = 1, lo = -INFINITY, hi = INFINITY, err = INFINITY;
        /* a first guess on the data's scale: exp(-beta (d - dmin)) ~ 1/e at the mean gap */
        double mean = 0;
        for (int m = 0; m < k; m++)
            mean += d[m] - dmin;
        mean /= k;
        if (mean > 0)
            beta = 1 / mean;
        for (int s = 0; s < j->max_steps; s++) {
            double sum = 0, sd = 0;
            for (int m = 0; m < k; m++) {
                p[m] = exp(-(d[m] - dmin) * beta);
                sum += p[m];
            }
            for (int m = 0; m < k; m++) {
                p[m] /= sum;
                sd += (d[m] - dmin) * p[m];
            }
            double h = log(sum) + beta * sd, diff = h - j->target;
            err = fabs(diff);
            if (err <= j->tol)
                break;
            if (diff > 0) {
                lo = beta;
                beta = hi == INFINITY ? beta * 2 : (beta + hi) / 2;
            } else {
                hi = beta;
                beta = lo == -INFINITY ? beta / 2 : (beta + lo) / 2;
            }
        }
        if (err > j->tol)
            miss++;
        worst = err > worst ? err : worst;
        if (j->beta)
            j->beta[i] = beta;
    }
    j->worst[b] = worst;
    j->miss[b] = miss;
}

int64_t tp_perplexity_rows(const double *dist2, int64_t n, int k, double perplexity, double tol, int max_steps,
                           int nthreads, double *p, double *beta, double *worst)
{
    int64_t nb_ = (n + PB - 1) / PB;
    perp_job j = {dist2, k, log(perplexity), tol, max_steps, p, beta, n, 0,
                  tp_calloc((size_t)nb_, sizeof(double)), tp_calloc((size_t)nb_, sizeof(int64_t))};
    tp_comm_parallel_for(nb_, 1, nthreads, perp_block, &j); /* a job's ranks: blocks of rows */
    tp_comm_share_rows(p, (size_t)k * sizeof *p, n, PB);
    if (beta)
        tp_comm_share_rows(beta, sizeof *beta, n, PB);
    tp_comm_share_rows(j.worst, sizeof *j.worst, nb_, 1);
    tp_comm_share_rows(j.miss, sizeof *j.miss, nb_, 1);
    double w = 0;
    int64_t miss = 0;
    for (int64_t b = 0; b < nb_; b++) {
        w = j.worst[b] > w ? j.worst[b] : w;
        miss += j.miss[b];
    }
    free(j.worst);
    free(j.miss);
    if (worst)
        *worst = w;
    return miss;
}

typedef struct {
    int32_t c;
    double v;
} entry;

static int entry_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return (x->c > y->c) - (x->c < y->c);
}

void tp_joint_affinities(const int32_t *idx, const double *c, int64_t n, int k, tp_csr *P)
{
    int64_t *cnt = tp_calloc((size_t)n + 1, sizeof *cnt);
    for (int64_t i = 0; i < n; i++) {
        cnt[i + 1] += k;
        for (int m = 0; m < k; m++)
            cnt[idx[i * k + m] + 1]++;
    }
    for (int64_t i = 0; i < n; i++)
        cnt[i + 1] += cnt[i];
    int64_t total = cnt[n];
    entry *e = tp_alloc((size_t)total, sizeof *e);
    int64_t *fill = tp_alloc((size_t)n, sizeof *fill);
    memcpy(fill, cnt, (size_t)n * sizeof *fill);
    for (int64_t i = 0; i < n; i++)
        for (int m = 0; m < k; m++) {
            int32_t jn = idx[i * k + m];
            double v = c[i * k + m];
            e[fill[i]++] = (entry){jn, v};
            e[fill[jn]++] = (entry){(int32_t)i, v};
        }
    free(fill);
    P->n = n;
    P->row = tp_alloc((size_t)n + 1, sizeof *P->row);
    P->col = tp_alloc((size_t)total, sizeof *P->col);
    P->val = tp_alloc((size_t)total, sizeof *P->val);
    int64_t nnz = 0;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        entry *r = e + cnt[i];
        int64_t len = cnt[i + 1] - cnt[i];
        qsort(r, (size_t)len, sizeof *r, entry_cmp);
        P->row[i] = nnz;
        for (int64_t a = 0; a < len;) {
            int64_t b = a;
            double v = 0;
            while (b < len && r[b].c == r[a].c)
                v += r[b++].v;
            P->col[nnz] = r[a].c;
            P->val[nnz++] = v;
            sum += v;
            a = b;
        }
    }
    P->row[n] = nnz;
    double inv = 1 / (sum > DBL_MIN ? sum : DBL_MIN);
    for (int64_t z = 0; z < nnz; z++)
        P->val[z] *= inv;
    P->col = tp_realloc(P->col, (size_t)(nnz ? nnz : 1), sizeof *P->col);
    P->val = tp_realloc(P->val, (size_t)(nnz ? nnz : 1), sizeof *P->val);
    free(e);
    free(cnt);
}

int64_t tp_affinities_of(const int32_t *idx, const double *dist2, int64_t n, int k, double perplexity, int nthreads,
                         tp_csr *P, double *worst)
{
    double *c = tp_alloc((size_t)n * (size_t)k, sizeof *c);
    int64_t missed = tp_perplexity_rows(dist2, n, k, perplexity, 1e-5, 200, nthreads, c, NULL, worst);
    tp_joint_affinities(idx, c, n, k, P);
    free(c);
    return missed;
}

int64_t tp_affinities(const float *x, int64_t n, int d, int k, double perplexity, int nthreads, tp_csr *P,
                      double *worst)
{
    size_t m = (size_t)n * (size_t)k;
    int32_t *idx = tp_alloc(m, sizeof *idx);
    double *d2 = tp_alloc(m, sizeof *d2);
    tp_knn(x, n, d, k, nthreads, idx, d2);
    int64_t missed = tp_affinities_of(idx, d2, n, k, perplexity, nthreads, P, worst);
    free(d2);
    free(idx);
    return missed;
}
