/* tsne.cu — t-SNE on the GPU (gpu_tsne.h): the exact kNN of knn.c and the gradient,
 * optimiser step and exact KL of tsne.c, with the repulsion summed exactly over all pairs.
 *
 * kNN: per block of queries one GEMM gives -2 x_q.x_c for every candidate; a radix select
 * (four 8-bit passes over order-preserving float keys of |q|^2 + |c|^2 - 2 q.c, added in
 * knn.c's order) finds the k-th smallest key of each row, the k keys below it (ties at it
 * by lowest index) are kept, their distances recomputed exactly in double as knn.c does,
 * and a bitonic sort orders them by (distance, index) as knn.c's qsort.
 *
 * Gradient: one thread per point sweeps all points in shared-memory tiles (grid's y
 * dimension splits the sweep into segments so that small n still fills the device),
 * evaluating the t kernel in float; each tile's float sums go into double accumulators,
 * and Z is reduced in double in a fixed order. The attractive part runs over P's rows in
 * double and forms the gradient as tsne.c's attract.
 *
 * Precision: the optimiser state (y, update, gains) is double as on the CPU; it is O(n d)
 * and costs nothing next to the O(n^2) sweep. Only the sweep reads a float copy of y: float
 * differences of positions a few tens of units across are exact to ~1e-6 relative, far
 * below t-SNE's own noise, and the kernel runs at full float rate. Sums over n terms are
 * float only within a 256-point tile and double across tiles, so their error does not grow
 * with n (about 1e-6 relative against tsne.c's double sums). Every reduction has a fixed
 * order: a run is repeatable bit for bit on one device. */
#include <float.h>
#include <limits.h>
#include <math.h>

#include "common.cuh"
extern "C" {
#include "gpu_tsne.h"
}

#define TILE 256  /* points per shared-memory tile, and threads per block of the sweep */
#define NT 256    /* threads per block elsewhere */

/* ---- shared helpers ---- */

/* The sum of v over the block, valid in thread 0; every thread must call it. */
__device__ static double block_sum(double v)
{
    __shared__ double part[32];
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    __syncthreads();
    if (lane == 0)
        part[w] = v;
    __syncthreads();
    v = 0;
    if (w == 0) {
        v = lane < nw ? part[lane] : 0;
        for (int o = 16; o > 0; o >>= 1)
            v += __shfl_down_sync(0xffffffffu, v, o);
    }
    return v;
}

/* out[0] = the sum of part[0..m) in a fixed order; clamp: at least DBL_MIN (tsne.c's Z). */
__global__ static void sum_kernel(const double *part, int64_t m, double *out, int clamp)
{
    double s = 0;
    for (int64_t i = threadIdx.x; i < m; i += blockDim.x)
        s += part[i];
    s = block_sum(s);
    if (threadIdx.x == 0)
        out[0] = clamp && !(s > DBL_MIN) ? DBL_MIN : s;
}

static void h2d(tp_gpu *g, void *dst, const void *src, size_t bytes)
{
    TP_CU(g, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, g->stream));
    TP_CU(g, cudaStreamSynchronize(g->stream));
}

static void d2h(tp_gpu *g, void *dst, const void *src, size_t bytes)
{
    TP_CU(g, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, g->stream));
    TP_CU(g, cudaStreamSynchronize(g->stream));
}

/* ---- kNN ---- */

/* |x_i|^2 summed in double, stored as float (knn.c's norms). */
__global__ static void norms_kernel(const float *x, int64_t n, int d, float *norm)
{
    TP_GRID_STRIDE(i, n)
    {
        double acc = 0;
        for (int e = 0; e < d; e++)
            acc += (double)x[i * d + e] * x[i * d + e];
        norm[i] = (float)acc;
    }
}

/* Unsigned keys in the order of the floats (negatives, from cancellation, included). */
__device__ static inline uint32_t fkey(float f)
{
    uint32_t u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

/* Row q of a query block: the key of candidate j; the query itself sorts last, after
 * every other key (a NaN distance included), so it is never among its k neighbours. */
__device__ static inline uint32_t knn_key(const float *s, float nq, const float *norm, int64_t j, int64_t self)
{
    if (j == self)
        return 0xffffffffu;
    float f = s[j] + nq + norm[j];
    return isnan(f) ? 0xfffffffeu : fkey(f);
}

/* One block per query q0 + blockIdx.x: the k candidates of smallest key into cand (k per
 * row, unordered), ties at the k-th key broken by lowest index. S: -2 x_q.x_c, n per row. */
__global__ static void knn_select(const float *S, int64_t n, int64_t q0, const float *norm, int k, int32_t *cand)
{
    __shared__ unsigned hist[256];
    __shared__ uint32_t s_prefix;
    __shared__ int s_kk, wl[32], we[32];
    __shared__ int64_t base_l, base_e;
    int64_t self = q0 + blockIdx.x;
    const float *s = S + (size_t)blockIdx.x * (size_t)n;
    float nq = norm[self];
    int32_t *out = cand + (size_t)blockIdx.x * (size_t)k;
    uint32_t prefix = 0, mask = 0;
    int kk = k; /* the rank sought among the keys matching prefix under mask */
    int lane = threadIdx.x & 31;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int t = threadIdx.x; t < 256; t += blockDim.x)
            hist[t] = 0;
        __syncthreads();
        /* keys of a row crowd into a few bins (the top byte of nearby floats is shared), so
         * the lanes of a warp that count into one bin add their number once: one shared
         * atomic per bin and warp instead of one per lane (blockDim is a multiple of 32 and
         * every thread runs every round) */
        for (int64_t j0 = 0; j0 < n; j0 += blockDim.x) {
            int64_t j = j0 + threadIdx.x;
            unsigned bin = 256;
            if (j < n) {
                uint32_t u = knn_key(s, nq, norm, j, self);
                if ((u & mask) == prefix)
                    bin = (u >> shift) & 255u;
            }
            unsigned peers = __match_any_sync(0xffffffffu, bin);
            if (bin < 256 && lane == __ffs(peers) - 1)
                atomicAdd(&hist[bin], (unsigned)__popc(peers));
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            unsigned cum = 0;
            int b = 0;
            for (; b < 255; b++) {
                if (cum + hist[b] >= (unsigned)kk)
                    break;
                cum += hist[b];
            }
            s_prefix = prefix | ((uint32_t)b << shift);
            s_kk = kk - (int)cum;
        }
        __syncthreads();
        prefix = s_prefix;
        kk = s_kk;
        mask |= 255u << shift;
    }
    /* prefix is the k-th smallest key: the k - kk keys below it, and the first kk equal */
    int less = k - kk;
    if (threadIdx.x == 0)
        base_l = base_e = 0;
    int w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    unsigned below = (1u << lane) - 1u;
    for (int64_t j0 = 0; j0 < n; j0 += blockDim.x) {
        int64_t j = j0 + threadIdx.x;
        uint32_t u = j < n ? knn_key(s, nq, norm, j, self) : 0u;
        int lt = j < n && u < prefix, eq = j < n && u == prefix;
        unsigned bl = __ballot_sync(0xffffffffu, lt), be = __ballot_sync(0xffffffffu, eq);
        if (lane == 0) {
            wl[w] = __popc(bl);
            we[w] = __popc(be);
        }
        __syncthreads();
        int64_t ol = base_l, oe = base_e;
        for (int v = 0; v < w; v++) {
            ol += wl[v];
            oe += we[v];
        }
        ol += __popc(bl & below);
        oe += __popc(be & below);
        if (lt)
            out[ol] = (int32_t)j;
        if (eq && oe < kk)
            out[less + oe] = (int32_t)j;
        __syncthreads();
        if (threadIdx.x == 0)
            for (int v = 0; v < nw; v++) {
                base_l += wl[v];
                base_e += we[v];
            }
        __syncthreads();
    }
}

/* (distance, index) order, as knn.c's nb_cmp. */
__device__ static inline int nb_less(double da, int32_t ia, double db, int32_t ib)
{
    return da < db || (da == db && ia < ib);
}

/* One block per query: exact double distances of its k candidates (summed in knn.c's
 * order, without fused multiply-adds), bitonic-sorted in the scratch rows sd/si of p2
 * (a power of two >= k) entries, written to idx/d2 (k per row of the query block). */
__global__ static void knn_exact(const float *x, int d, int64_t q0, int k, int p2, const int32_t *cand, double *sd,
                                 int32_t *si, int32_t *idx, double *d2)
{
    size_t q = blockIdx.x;
    const float *a = x + (size_t)(q0 + (int64_t)q) * (size_t)d;
    double *rd = sd + q * (size_t)p2;
    int32_t *ri = si + q * (size_t)p2;
    for (int m = threadIdx.x; m < p2; m += blockDim.x) {
        if (m < k) {
            int32_t c = cand[q * (size_t)k + m];
            const float *b = x + (size_t)c * (size_t)d;
            double acc = 0;
            for (int e = 0; e < d; e++) {
                double diff = (double)a[e] - (double)b[e];
                acc = __dadd_rn(acc, __dmul_rn(diff, diff));
            }
            rd[m] = acc;
            ri[m] = c;
        } else {
            rd[m] = INFINITY;
            ri[m] = INT_MAX;
        }
    }
    __syncthreads();
    for (int size = 2; size <= p2; size <<= 1)
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int t = threadIdx.x; t < p2 / 2; t += blockDim.x) {
                int lo = 2 * stride * (t / stride) + t % stride, hi = lo + stride;
                int up = (lo & size) == 0;
                if (nb_less(rd[hi], ri[hi], rd[lo], ri[lo]) == up) {
                    double td = rd[lo];
                    int32_t ti = ri[lo];
                    rd[lo] = rd[hi];
                    ri[lo] = ri[hi];
                    rd[hi] = td;
                    ri[hi] = ti;
                }
            }
            __syncthreads();
        }
    for (int m = threadIdx.x; m < k; m += blockDim.x) {
        idx[q * (size_t)k + m] = ri[m];
        d2[q * (size_t)k + m] = rd[m];
    }
}

static void knn(tp_gpu *g, const float *x, int64_t n, int d, int k, int32_t *idx, double *dist2)
{
    if (k < 1 || k >= n || n > INT32_MAX || d < 1)
        g->die("tsne knn: bad sizes n %lld, d %d, k %d", (long long)n, d, k);
    int p2 = 1;
    while (p2 < k)
        p2 <<= 1;
    /* queries per block: the distance rows within 256 MiB, the sort rows within 192 MiB */
    int64_t qb = ((int64_t)1 << 26) / n;
    int64_t qs = ((int64_t)1 << 24) / p2;
    qb = qb < qs ? qb : qs;
    qb = qb < 1 ? 1 : qb > n ? n : qb;
    float *dx = (float *)tp_dev_alloc(g, (size_t)n * d * sizeof(float));
    float *norm = (float *)tp_dev_alloc(g, (size_t)n * sizeof(float));
    float *S = (float *)tp_dev_alloc(g, (size_t)qb * n * sizeof(float));
    int32_t *cand = (int32_t *)tp_dev_alloc(g, (size_t)qb * k * sizeof(int32_t));
    double *sd = (double *)tp_dev_alloc(g, (size_t)qb * p2 * sizeof(double));
    int32_t *si = (int32_t *)tp_dev_alloc(g, (size_t)qb * p2 * sizeof(int32_t));
    int32_t *oi = (int32_t *)tp_dev_alloc(g, (size_t)qb * k * sizeof(int32_t));
    double *od = (double *)tp_dev_alloc(g, (size_t)qb * k * sizeof(double));
    h2d(g, dx, x, (size_t)n * d * sizeof(float));
    norms_kernel<<<tp_blocks((size_t)n, NT), NT, 0, g->stream>>>(dx, n, d, norm);
    TP_LAUNCHED(g);
    for (int64_t q0 = 0; q0 < n; q0 += qb) {
        int64_t m = n - q0 < qb ? n - q0 : qb;
        /* in fp32 whatever the precision: tf32 or bf16 products of vectors as long as MNIST's
         * (|x|^2 near 1e7) are off by more than the gaps between neighbours' distances */
        tp_gemm_fp32(g, 0, 1, (int)m, (int)n, d, -2.0f, dx + (size_t)q0 * d, d, dx, d, 0.0f, S, (int)n);
        knn_select<<<(unsigned)m, NT, 0, g->stream>>>(S, n, q0, norm, k, cand);
        TP_LAUNCHED(g);
        knn_exact<<<(unsigned)m, NT, 0, g->stream>>>(dx, d, q0, k, p2, cand, sd, si, oi, od);
        TP_LAUNCHED(g);
        d2h(g, idx + (size_t)q0 * k, oi, (size_t)m * k * sizeof(int32_t));
        d2h(g, dist2 + (size_t)q0 * k, od, (size_t)m * k * sizeof(double));
    }
    TP_CU(g, cudaFree(od));
    TP_CU(g, cudaFree(oi));
    TP_CU(g, cudaFree(si));
    TP_CU(g, cudaFree(sd));
    TP_CU(g, cudaFree(cand));
    TP_CU(g, cudaFree(S));
    TP_CU(g, cudaFree(norm));
    TP_CU(g, cudaFree(dx));
}

/* ---- the gradient ---- */

struct tp_gtsne {
    tp_gpu *g;
    int64_t n, nnz;
    int d;
    double dof;
    int64_t *row;
    int32_t *col;
    double *val;
    double *y, *grad, *update, *gains;
    float *yf;
    int nseg, seg;      /* the sweep's segments of seg points (a multiple of TILE) */
    double *rpart;      /* nseg x n x d repulsion partial sums */
    double *zpart;      /* one per sweep block */
    int nattr, nupd;    /* blocks of the attractive and update kernels */
    double *klpart, *normpart;
    double *scal;       /* Z, the KL sum of p log(p / K1), |gains * g|^2 */
};

/* The t kernel in float: K1 and K2 = K1 / (1 + r2/dof) (tp_tsne_kernel's formulas).
 * M: 0 dof 1, 1 dof 2, 2 any other (pw = (dof + 1) / 2). */
template <int M>
__device__ static __forceinline__ void kern_f(float r2, float invdof, float pw, float &k1, float &k2)
{
    float t = 1.0f / (1.0f + r2 * invdof);
    if (M == 0) {
        k1 = t;
        k2 = t * t;
    } else if (M == 1) {
        float s = sqrtf(t);
        k1 = t * s;
        k2 = t * t * s;
    } else {
        k1 = exp2f(pw * log2f(t));
        k2 = k1 * t;
    }
}

/* K1 in double, as tp_tsne_kernel. */
__device__ static inline double kern1_d(double r2, double dof)
{
    double t = 1 / (1 + r2 / dof);
    if (dof == 1)
        return t;
    if (dof == 2)
        return t * sqrt(t);
    return pow(t, (dof + 1) / 2);
}

/* The repulsive sweep: block (bx, s) holds points bx*TILE .. and sums over the points of
 * segment s: R_i into rpart[s][i], and its share of Z (self pairs removed) into zpart. The
 * self pair has diff 0 and K1 exactly 1, so it is summed and then taken off, keeping the
 * inner loop free of branches; duplicates of a point count, as in tsne.c. */
template <int D, int M>
__global__ static void __launch_bounds__(TILE) rep_kernel(const float *yf, int64_t n, int seg, float invdof, float pw,
                                                         double *rpart, double *zpart)
{
    __shared__ float ts[TILE * D];
    int64_t i = (int64_t)blockIdx.x * TILE + threadIdx.x;
    int valid = i < n;
    float yi[D];
    for (int e = 0; e < D; e++)
        yi[e] = valid ? yf[i * D + e] : 0.0f;
    int64_t jb = (int64_t)blockIdx.y * seg, je = jb + seg < n ? jb + seg : n;
    double racc[D], zacc = 0;
    for (int e = 0; e < D; e++)
        racc[e] = 0;
    for (int64_t j0 = jb; j0 < je; j0 += TILE) {
        int m = je - j0 < TILE ? (int)(je - j0) : TILE;
        __syncthreads();
        for (int t = threadIdx.x; t < m * D; t += TILE)
            ts[t] = yf[j0 * D + t];
        __syncthreads();
        float r[D], z = 0;
        for (int e = 0; e < D; e++)
            r[e] = 0;
        for (int jj = 0; jj < m; jj++) {
            float diff[D], r2 = 0;
            for (int e = 0; e < D; e++) {
                diff[e] = yi[e] - ts[jj * D + e];
                r2 += diff[e] * diff[e];
            }
            float k1, k2;
            kern_f<M>(r2, invdof, pw, k1, k2);
            z += k1;
            for (int e = 0; e < D; e++)
                r[e] += k2 * diff[e];
        }
        zacc += z;
        for (int e = 0; e < D; e++)
            racc[e] += r[e];
    }
    if (valid) {
        for (int e = 0; e < D; e++)
            rpart[((size_t)blockIdx.y * n + i) * D + e] = racc[e];
        if (i >= jb && i < je)
            zacc -= 1;
    }
    double zs = block_sum(valid ? zacc : 0);
    if (threadIdx.x == 0)
        zpart[(size_t)blockIdx.y * gridDim.x + blockIdx.x] = zs;
}

/* The attractive sums over P's rows in double and the gradient, as tsne.c's attr_chunk:
 * g_i = c (exag a_i - R_i / Z), with Z in scal[0]; klpart (may be NULL) gets each block's
 * sum of p log(p / K1). */
template <int D>
__global__ static void attr_kernel(int64_t n, const int64_t *row, const int32_t *col, const double *val,
                                   const double *y, const double *rpart, int nseg, const double *scal, double exag,
                                   double dof, double c, double *grad, double *klpart)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    double kl = 0;
    if (i < n) {
        const double *yi = y + i * D;
        double a[D];
        for (int e = 0; e < D; e++)
            a[e] = 0;
        for (int64_t z = row[i]; z < row[i + 1]; z++) {
            const double *yk = y + (int64_t)col[z] * D;
            double diff[D], r2 = 0;
            for (int e = 0; e < D; e++) {
                diff[e] = yi[e] - yk[e];
                r2 += diff[e] * diff[e];
            }
            double w = 1 / (1 + r2 / dof), p = val[z];
            for (int e = 0; e < D; e++)
                a[e] += p * w * diff[e];
            if (klpart && p > 0) {
                double k1 = kern1_d(r2, dof);
                kl += p * log(p / (k1 > DBL_MIN ? k1 : DBL_MIN));
            }
        }
        double invz = 1 / scal[0];
        for (int e = 0; e < D; e++) {
            double r = 0;
            for (int s = 0; s < nseg; s++)
                r += rpart[((size_t)s * n + i) * D + e];
            grad[i * D + e] = c * (exag * a[e] - r * invz);
        }
    }
    if (klpart) {
        kl = block_sum(kl);
        if (threadIdx.x == 0)
            klpart[blockIdx.x] = kl;
    }
}

/* One step of tsne.c's optimiser on all m coordinates (tp_tsne_gain_step); normpart (may be
 * NULL) gets each block's sum of (gain * g)^2. yf receives the new positions in float. */
__global__ static void update_kernel(size_t m, const double *grad, double *update, double *gains, double *y, float *yf,
                                     double mom, double lr, double min_gain, double *normpart)
{
    double norm = 0;
    TP_GRID_STRIDE(e, m)
    {
        norm += tp_tsne_gain_step(grad[e], &gains[e], &update[e], &y[e], mom, lr, min_gain);
        yf[e] = (float)y[e];
    }
    if (normpart) {
        norm = block_sum(norm);
        if (threadIdx.x == 0)
            normpart[blockIdx.x] = norm;
    }
}

__global__ static void reset_kernel(size_t m, double *update, double *gains)
{
    TP_GRID_STRIDE(e, m)
    {
        update[e] = 0;
        gains[e] = 1;
    }
}

__global__ static void to_float_kernel(size_t m, const double *y, float *yf)
{
    TP_GRID_STRIDE(e, m) yf[e] = (float)y[e];
}

static tp_gtsne *create(tp_gpu *g, int64_t n, const int64_t *row, const int32_t *col, const double *val, int d,
                        double dof)
{
    if (d < 1 || d > 3 || !(dof > 0) || n < 1 || n > INT32_MAX)
        g->die("tsne: bad workspace: n %lld, d %d, dof %g", (long long)n, d, dof);
    tp_gtsne *w = (tp_gtsne *)calloc(1, sizeof *w);
    if (!w)
        g->die("tsne: out of memory");
    size_t m = (size_t)n * (size_t)d;
    w->g = g;
    w->n = n;
    w->nnz = row[n];
    w->d = d;
    w->dof = dof;
    w->row = (int64_t *)tp_dev_alloc(g, (size_t)(n + 1) * sizeof(int64_t));
    w->col = (int32_t *)tp_dev_alloc(g, (size_t)w->nnz * sizeof(int32_t));
    w->val = (double *)tp_dev_alloc(g, (size_t)w->nnz * sizeof(double));
    h2d(g, w->row, row, (size_t)(n + 1) * sizeof(int64_t));
    h2d(g, w->col, col, (size_t)w->nnz * sizeof(int32_t));
    h2d(g, w->val, val, (size_t)w->nnz * sizeof(double));
    w->y = (double *)tp_dev_alloc(g, m * sizeof(double));
    w->grad = (double *)tp_dev_alloc(g, m * sizeof(double));
    w->update = (double *)tp_dev_alloc(g, m * sizeof(double));
    w->gains = (double *)tp_dev_alloc(g, m * sizeof(double));
    w->yf = (float *)tp_dev_alloc(g, m * sizeof(float));
    /* enough sweep blocks for about 8 per multiprocessor */
    int64_t bx = (n + TILE - 1) / TILE, want = 8 * (int64_t)g->prop.multiProcessorCount;
    int64_t ns = (want + bx - 1) / bx;
    ns = ns < 1 ? 1 : ns > bx ? bx : ns;
    int64_t seg = (n + ns - 1) / ns;
    seg = (seg + TILE - 1) / TILE * TILE;
    w->seg = (int)seg;
    w->nseg = (int)((n + seg - 1) / seg);
    w->rpart = (double *)tp_dev_alloc(g, (size_t)w->nseg * m * sizeof(double));
    w->zpart = (double *)tp_dev_alloc(g, (size_t)w->nseg * (size_t)bx * sizeof(double));
    w->nattr = (int)((n + NT - 1) / NT);
    w->nupd = (int)tp_blocks(m, NT);
    w->klpart = (double *)tp_dev_alloc(g, (size_t)w->nattr * sizeof(double));
    w->normpart = (double *)tp_dev_alloc(g, (size_t)w->nupd * sizeof(double));
    w->scal = (double *)tp_dev_alloc(g, 4 * sizeof(double));
    return w;
}

static void destroy(tp_gtsne *w)
{
    if (!w)
        return;
    tp_gpu *g = w->g;
    TP_CU(g, cudaStreamSynchronize(g->stream));
    void *ptrs[] = {w->row, w->col, w->val, w->y, w->grad, w->update, w->gains, w->yf,
                    w->rpart, w->zpart, w->klpart, w->normpart, w->scal};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++)
        TP_CU(g, cudaFree(ptrs[i]));
    free(w);
}

template <int D>
static void launch_rep(tp_gtsne *w)
{
    dim3 grid((unsigned)((w->n + TILE - 1) / TILE), (unsigned)w->nseg);
    float invdof = (float)(1 / w->dof), pw = (float)((w->dof + 1) / 2);
    cudaStream_t s = w->g->stream;
    if (w->dof == 1)
        rep_kernel<D, 0><<<grid, TILE, 0, s>>>(w->yf, w->n, w->seg, invdof, pw, w->rpart, w->zpart);
    else if (w->dof == 2)
        rep_kernel<D, 1><<<grid, TILE, 0, s>>>(w->yf, w->n, w->seg, invdof, pw, w->rpart, w->zpart);
    else
        rep_kernel<D, 2><<<grid, TILE, 0, s>>>(w->yf, w->n, w->seg, invdof, pw, w->rpart, w->zpart);
}

template <int D>
static void launch_attr(tp_gtsne *w, double exag, int want_kl)
{
    double c = 2 * (w->dof + 1) / w->dof;
    attr_kernel<D><<<(unsigned)w->nattr, NT, 0, w->g->stream>>>(w->n, w->row, w->col, w->val, w->y, w->rpart,
                                                              w->nseg, w->scal, exag, w->dof, c, w->grad,
                                                              want_kl ? w->klpart : NULL);
}

/* The gradient at the device's y / yf into grad, Z into scal[0] and, with want_kl, the
 * sum of p log(p / K1) into scal[1]. */
static void eval(tp_gtsne *w, double exag, int want_kl)
{
    tp_gpu *g = w->g;
    switch (w->d) {
    case 1: launch_rep<1>(w); break;
    case 2: launch_rep<2>(w); break;
    default: launch_rep<3>(w); break;
    }
    TP_LAUNCHED(g);
    int64_t nz = (int64_t)w->nseg * ((w->n + TILE - 1) / TILE);
    sum_kernel<<<1, NT, 0, g->stream>>>(w->zpart, nz, w->scal, 1);
    TP_LAUNCHED(g);
    switch (w->d) {
    case 1: launch_attr<1>(w, exag, want_kl); break;
    case 2: launch_attr<2>(w, exag, want_kl); break;
    default: launch_attr<3>(w, exag, want_kl); break;
    }
    TP_LAUNCHED(g);
    if (want_kl) {
        sum_kernel<<<1, NT, 0, g->stream>>>(w->klpart, w->nattr, w->scal + 1, 0);
        TP_LAUNCHED(g);
    }
}

static void set_y(tp_gtsne *w, const double *y)
{
    size_t m = (size_t)w->n * (size_t)w->d;
    h2d(w->g, w->y, y, m * sizeof(double));
    to_float_kernel<<<tp_blocks(m, NT), NT, 0, w->g->stream>>>(m, w->y, w->yf);
    TP_LAUNCHED(w->g);
}

static void get_y(tp_gtsne *w, double *y) { d2h(w->g, y, w->y, (size_t)w->n * (size_t)w->d * sizeof(double)); }

static void gradient(tp_gtsne *w, double exag, double *grad, double *kl)
{
    eval(w, exag, kl != NULL);
    d2h(w->g, grad, w->grad, (size_t)w->n * (size_t)w->d * sizeof(double));
    if (kl) {
        double s[2];
        d2h(w->g, s, w->scal, sizeof s);
        *kl = s[1] + log(s[0]);
    }
}

static double kl_exact(tp_gtsne *w)
{
    eval(w, 1, 1);
    double s[2];
    d2h(w->g, s, w->scal, sizeof s);
    return s[1] + log(s[0]);
}

static void reset(tp_gtsne *w)
{
    size_t m = (size_t)w->n * (size_t)w->d;
    reset_kernel<<<tp_blocks(m, NT), NT, 0, w->g->stream>>>(m, w->update, w->gains);
    TP_LAUNCHED(w->g);
}

/* One step of tsne.c's optimiser loop; the host waits for the device only at checks. */
static void step(tp_gtsne *w, double exag, double mom, double lr, double min_gain, int check, double *kl,
                 double *norm)
{
    tp_gpu *g = w->g;
    size_t m = (size_t)w->n * (size_t)w->d;
    eval(w, exag, check);
    update_kernel<<<(unsigned)w->nupd, NT, 0, g->stream>>>(m, w->grad, w->update, w->gains, w->y, w->yf, mom, lr,
                                                          min_gain, check ? w->normpart : NULL);
    TP_LAUNCHED(g);
    if (!check)
        return;
    sum_kernel<<<1, NT, 0, g->stream>>>(w->normpart, w->nupd, w->scal + 2, 0);
    TP_LAUNCHED(g);
    double s[3];
    d2h(g, s, w->scal, sizeof s);
    *kl = s[1] + log(s[0]);
    *norm = sqrt(s[2]);
}

extern const tp_gpu_tsne_api tp_cuda_tsne;
const tp_gpu_tsne_api tp_cuda_tsne = {knn, create, destroy, set_y, get_y, gradient, reset, step, kl_exact};
