/* gmm.cu — the Gaussian mixture's E-step and M-step sums (gpu_gmm.h), in double precision.
 *
 * The samples X (n x d) and the responsibilities (k x n) live on the device for the object's
 * life. Products over all samples go through a buffer of `chunk` rows at a time: the E-step's
 * Y = (X - ref) U of every factor (chunk x kf*d), the M-step's weighted deviations W
 * (chunk x k*d). Every sum is taken by cuBLAS or by a kernel in a fixed order, so a result
 * does not change from one call to the next. */
#include "common.cuh"
extern "C" {
#include "gpu_gmm.h"
}

#define CHUNK_ELEMS ((size_t)1 << 25) /* doubles in the row buffer: 256 MiB */
#define SUM_THREADS 256

struct tp_gpu_gmm {
    tp_gpu *g;
    int64_t n;
    int d, k, cov, kf;
    size_t chunk;   /* rows per pass through buf */
    double *X;      /* n x d */
    double *resp;   /* k x n: log-probabilities, then responsibilities */
    double *lpn;    /* n: log p of every sample */
    int32_t *label; /* n: the most probable component */
    double *ones;   /* n ones */
    double *xs;     /* chunk x d: rows less ref */
    double *buf;    /* chunk x k*d */
    double *par;    /* base k, ref d, U kf*d*d, muu k*d, means k*d, prec2 k*d */
    double *host;   /* the same on the host, to upload in one copy */
    size_t npar;
    double *out;    /* 1 + k + k*d sums, then the scatter (k*d*d) */
    size_t nstat, nscat;
};

enum { COV_FULL, COV_TIED, COV_DIAG, COV_SPHERICAL };

/* n doubles on the device. */
static double *galloc(tp_gpu *g, size_t n) { return (double *)tp_dev_alloc(g, n * sizeof(double)); }

__global__ void fill(double *v, size_t n, double x)
{
    TP_GRID_STRIDE(i, n) v[i] = x;
}

/* xs = rows of X less ref. */
__global__ void shift_rows(const double *X, const double *ref, double *xs, size_t rows, int d)
{
    TP_GRID_STRIDE(t, rows * (size_t)d) xs[t] = X[t] - ref[t % (size_t)d];
}

/* Full and tied: lp[c*n + i0 + r] = base[c] - |Y_r,f - muu_c|^2 / 2, f the factor of c. */
__global__ void logprob_chol(const double *Y, const double *muu, const double *base, double *lp, int64_t n,
                             int64_t i0, size_t rows, int d, int k, int kf)
{
    TP_GRID_STRIDE(t, rows * (size_t)k)
    {
        size_t r = t / (size_t)k;
        int c = (int)(t % (size_t)k), f = kf == 1 ? 0 : c;
        const double *y = Y + r * (size_t)kf * d + (size_t)f * d, *m = muu + (size_t)c * d;
        double q = 0;
        for (int j = 0; j < d; j++) {
            double e = y[j] - m[j];
            q += e * e;
        }
        lp[(size_t)c * (size_t)n + (size_t)i0 + r] = base[c] - 0.5 * q;
    }
}

/* Diag (per-feature precisions) and spherical (one per component). */
__global__ void logprob_var(const double *X, const double *means, const double *prec2, const double *base, double *lp,
                            int64_t n, int d, int k, int diag)
{
    TP_GRID_STRIDE(t, (size_t)n * (size_t)k)
    {
        size_t i = t / (size_t)k;
        int c = (int)(t % (size_t)k);
        const double *x = X + i * (size_t)d, *mu = means + (size_t)c * d;
        double q = 0;
        if (diag) {
            const double *p = prec2 + (size_t)c * d;
            for (int j = 0; j < d; j++) {
                double e = x[j] - mu[j];
                q += e * e * p[j];
            }
            lp[(size_t)c * (size_t)n + i] = base[c] - 0.5 * q;
        } else {
            for (int j = 0; j < d; j++) {
                double e = x[j] - mu[j];
                q += e * e;
            }
            lp[(size_t)c * (size_t)n + i] = base[c] - 0.5 * prec2[c] * q;
        }
    }
}

/* Every sample's log-probabilities become responsibilities; log p and the label kept. */
__global__ void normalise_rows(double *lp, double *lpn, int32_t *label, int64_t n, int k)
{
    TP_GRID_STRIDE(i, n)
    {
        int arg;
        double inv, lse = tp_gmm_lse(lp + i, (size_t)n, k, &arg, &inv);
        for (int c = 0; c < k; c++)
            lp[(size_t)c * (size_t)n + i] *= inv;
        lpn[i] = lse;
        label[i] = arg;
    }
}

/* *out = the sum of v in a fixed order (one block). */
__global__ void sum_fixed(const double *v, int64_t n, double *out)
{
    __shared__ double part[SUM_THREADS];
    double s = 0;
    for (int64_t i = threadIdx.x; i < n; i += SUM_THREADS)
        s += v[i];
    part[threadIdx.x] = s;
    __syncthreads();
    for (int h = SUM_THREADS / 2; h > 0; h /= 2) {
        if ((int)threadIdx.x < h)
            part[threadIdx.x] += part[threadIdx.x + h];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        *out = part[0];
}

/* W[r, c*d + j] = sqrt(r_ic) (x_ij - mu_cj) (full) or r_ic (x_ij - mu_cj)^2 (squared), 0
 * where r_ic < rskip; rows i0 .. i0 + rows. */
__global__ void deviations(const double *X, const double *resp, const double *means, double *W, int64_t n, int64_t i0,
                           size_t rows, int d, int k, double rskip, int squared)
{
    size_t kd = (size_t)k * d;
    TP_GRID_STRIDE(t, rows * kd)
    {
        size_t r = t / kd, cj = t % kd;
        int c = (int)(cj / (size_t)d), j = (int)(cj % (size_t)d);
        size_t i = (size_t)i0 + r;
        double ri = resp[(size_t)c * (size_t)n + i], e = X[i * (size_t)d + j] - means[cj];
        W[t] = ri < rskip ? 0 : squared ? ri * e * e : sqrt(ri) * e;
    }
}

static void launched(tp_gpu_gmm *s) { TP_LAUNCHED(s->g); }

static unsigned blocks(size_t n) { return tp_blocks(n, 256); }

static tp_gpu_gmm *create(tp_gpu *g, const double *X, int64_t n, int d, int k, int cov)
{
    tp_gpu_gmm *s = (tp_gpu_gmm *)calloc(1, sizeof *s);
    if (!s)
        g->die("gmm: out of memory");
    size_t kd = (size_t)k * d, dd = (size_t)d * d;
    s->g = g;
    s->n = n;
    s->d = d;
    s->k = k;
    s->cov = cov;
    s->kf = cov == COV_FULL ? k : 1;
    s->chunk = CHUNK_ELEMS / kd;
    if (s->chunk < 1)
        s->chunk = 1;
    if (s->chunk > (size_t)n)
        s->chunk = (size_t)n;
    s->X = galloc(g, (size_t)n * d);
    s->resp = galloc(g, (size_t)n * k);
    s->lpn = galloc(g, (size_t)n);
    s->label = (int32_t *)galloc(g, ((size_t)n + 1) / 2);
    s->ones = galloc(g, (size_t)n);
    s->xs = galloc(g, s->chunk * d);
    s->buf = galloc(g, s->chunk * kd);
    s->npar = (size_t)k + d + (size_t)s->kf * dd + 3 * kd;
    s->par = galloc(g, s->npar);
    s->host = (double *)calloc(s->npar, sizeof(double));
    s->nstat = 1 + (size_t)k + kd;
    s->nscat = cov == COV_FULL ? (size_t)k * dd : kd;
    s->out = galloc(g, s->nstat + s->nscat);
    if (!s->host)
        g->die("gmm: out of memory");
    TP_CU(g, cudaMemcpyAsync(s->X, X, (size_t)n * d * sizeof(double), cudaMemcpyHostToDevice, g->stream));
    fill<<<blocks((size_t)n), 256, 0, g->stream>>>(s->ones, (size_t)n, 1.0);
    launched(s);
    TP_CU(g, cudaStreamSynchronize(g->stream));
    return s;
}

static void destroy(tp_gpu_gmm *s)
{
    if (!s)
        return;
    tp_gpu *g = s->g;
    TP_CU(g, cudaStreamSynchronize(g->stream));
    double *bufs[] = {s->X, s->resp, s->lpn, (double *)s->label, s->ones, s->xs, s->buf, s->par, s->out};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        TP_CU(g, cudaFree(bufs[i]));
    free(s->host);
    free(s);
}

/* out[1 ..] = responsibility sums and weighted sums; the whole stat vector to the host. */
static void stats(tp_gpu_gmm *s, double *stat)
{
    tp_gpu *g = s->g;
    const double one = 1, zero = 0;
    int n = (int)s->n;
    TP_BLAS(g, cublasDgemv(g->blas, CUBLAS_OP_T, n, s->k, &one, s->resp, n, s->ones, 1, &zero, s->out + 1, 1));
    /* row-major sums (k x d) = resp (k x n) X (n x d); column-major: X^T resp^T */
    TP_BLAS(g, cublasDgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, s->d, s->k, n, &one, s->X, s->d, s->resp, n, &zero,
                           s->out + 1 + s->k, s->d));
    TP_CU(g, cudaMemcpyAsync(stat, s->out, s->nstat * sizeof(double), cudaMemcpyDeviceToHost, g->stream));
    TP_CU(g, cudaStreamSynchronize(g->stream));
}

static void estep(tp_gpu_gmm *s, const double *base, const double *ref, const double *U, const double *muu,
                  const double *means, const double *prec2, double *stat)
{
    tp_gpu *g = s->g;
    int d = s->d, k = s->k, kf = s->kf;
    size_t kd = (size_t)k * d, dd = (size_t)d * d;
    double *h = s->host, *p_base = s->par, *p_ref = p_base + k, *p_u = p_ref + d, *p_muu = p_u + (size_t)kf * dd,
           *p_means = p_muu + kd, *p_prec2 = p_means + kd;
    memcpy(h, base, (size_t)k * sizeof *h);
    if (s->cov == COV_FULL || s->cov == COV_TIED) {
        memcpy(h + (p_ref - p_base), ref, (size_t)d * sizeof *h);
        memcpy(h + (p_u - p_base), U, (size_t)kf * dd * sizeof *h);
        memcpy(h + (p_muu - p_base), muu, kd * sizeof *h);
    } else {
        memcpy(h + (p_means - p_base), means, kd * sizeof *h);
        memcpy(h + (p_prec2 - p_base), prec2, (s->cov == COV_DIAG ? kd : (size_t)k) * sizeof *h);
    }
    TP_CU(g, cudaMemcpyAsync(s->par, h, s->npar * sizeof *h, cudaMemcpyHostToDevice, g->stream));
    if (s->cov == COV_FULL || s->cov == COV_TIED) {
        const double one = 1, zero = 0;
        for (int64_t i0 = 0; i0 < s->n; i0 += (int64_t)s->chunk) {
            size_t rows = s->n - i0 < (int64_t)s->chunk ? (size_t)(s->n - i0) : s->chunk;
            shift_rows<<<blocks(rows * d), 256, 0, g->stream>>>(s->X + (size_t)i0 * d, p_ref, s->xs, rows, d);
            launched(s);
            /* Y's columns f*d .. of every row = xs U_f; column-major: U_f^T xs^T */
            for (int f = 0; f < kf; f++)
                TP_BLAS(g, cublasDgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, d, (int)rows, d, &one, p_u + (size_t)f * dd,
                                       d, s->xs, d, &zero, s->buf + (size_t)f * d, kf * d));
            logprob_chol<<<blocks(rows * k), 256, 0, g->stream>>>(s->buf, p_muu, p_base, s->resp, s->n, i0, rows, d,
                                                                    k, kf);
            launched(s);
        }
    } else {
        logprob_var<<<blocks((size_t)s->n * k), 256, 0, g->stream>>>(s->X, p_means, p_prec2, p_base, s->resp, s->n, d,
                                                                     k, s->cov == COV_DIAG);
        launched(s);
    }
    normalise_rows<<<blocks((size_t)s->n), 256, 0, g->stream>>>(s->resp, s->lpn, s->label, s->n, k);
    sum_fixed<<<1, SUM_THREADS, 0, g->stream>>>(s->lpn, s->n, s->out);
    launched(s);
    stats(s, stat);
}

static void set_resp(tp_gpu_gmm *s, const double *resp, double *stat)
{
    tp_gpu *g = s->g;
    TP_CU(g, cudaMemcpyAsync(s->resp, resp, (size_t)s->n * s->k * sizeof(double), cudaMemcpyHostToDevice, g->stream));
    TP_CU(g, cudaMemsetAsync(s->out, 0, sizeof(double), g->stream));
    stats(s, stat);
}

static void scatter(tp_gpu_gmm *s, const double *means, double rskip, double *out)
{
    tp_gpu *g = s->g;
    int d = s->d, k = s->k, full = s->cov == COV_FULL;
    size_t kd = (size_t)k * d, dd = (size_t)d * d;
    if (s->cov == COV_TIED)
        g->die("gmm: scatter is not for the tied covariance (%s:%d)", __FILE__, __LINE__);
    double *p_means = s->par + k + d + (size_t)s->kf * dd + kd, *S = s->out + s->nstat;
    const double one = 1;
    TP_CU(g, cudaMemcpyAsync(p_means, means, kd * sizeof(double), cudaMemcpyHostToDevice, g->stream));
    TP_CU(g, cudaMemsetAsync(S, 0, s->nscat * sizeof(double), g->stream));
    for (int64_t i0 = 0; i0 < s->n; i0 += (int64_t)s->chunk) {
        size_t rows = s->n - i0 < (int64_t)s->chunk ? (size_t)(s->n - i0) : s->chunk;
        deviations<<<blocks(rows * kd), 256, 0, g->stream>>>(s->X, s->resp, p_means, s->buf, s->n, i0, rows, d, k,
                                                             rskip, !full);
        launched(s);
        if (full) {
            /* S_c += W_c^T W_c; the column-major lower triangle is the row-major upper one */
            for (int c = 0; c < k; c++)
                TP_BLAS(g, cublasDsyrk(g->blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, d, (int)rows, &one,
                                       s->buf + (size_t)c * d, (int)kd, &one, S + (size_t)c * dd, d));
        } else {
            /* the column sums of W */
            TP_BLAS(g, cublasDgemv(g->blas, CUBLAS_OP_N, (int)kd, (int)rows, &one, s->buf, (int)kd, s->ones, 1, &one, S,
                                   1));
        }
    }
    TP_CU(g, cudaMemcpyAsync(out, S, s->nscat * sizeof(double), cudaMemcpyDeviceToHost, g->stream));
    TP_CU(g, cudaStreamSynchronize(g->stream));
}

static void results(tp_gpu_gmm *s, double *resp, double *logp, int32_t *labels)
{
    tp_gpu *g = s->g;
    size_t n = (size_t)s->n;
    if (resp)
        TP_CU(g, cudaMemcpyAsync(resp, s->resp, n * s->k * sizeof(double), cudaMemcpyDeviceToHost, g->stream));
    if (logp)
        TP_CU(g, cudaMemcpyAsync(logp, s->lpn, n * sizeof(double), cudaMemcpyDeviceToHost, g->stream));
    if (labels)
        TP_CU(g, cudaMemcpyAsync(labels, s->label, n * sizeof(int32_t), cudaMemcpyDeviceToHost, g->stream));
    TP_CU(g, cudaStreamSynchronize(g->stream));
}

extern const tp_gpu_gmm_api tp_cuda_gmm;
const tp_gpu_gmm_api tp_cuda_gmm = {create, destroy, estep, set_resp, scatter, results};
