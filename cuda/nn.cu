/* nn.cu — the network's layers, loss and optimisers on the GPU (gpu_nn.h): the twins of
 * nn.c and optim.c, with the same tensor layouts (NHWC activations, Keras' kernel layouts)
 * and the same formulas, so the two backends differ only by float rounding.
 *
 * Convolutions are im2col + GEMM (cuBLAS, through tp_gemm: fp32, tf32 or bf16) like the CPU
 * path; the adjoints (col2im, pooling backward) gather instead of scattering, so every sum
 * runs in a fixed order and the results do not depend on thread timing. Reductions over a
 * batch (biases, batch-norm statistics) accumulate per channel in double where the CPU does. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.cuh"
#ifdef TP_NCCL
#include <nccl.h>
#endif
extern "C" {
#include "gpu_nn.h"
}

extern "C" {
#include "nn_elem.h"
}

#define COL_FLOATS (256u << 20) /* im2col scratch: up to 1 GiB */
#define GUARD 256                  /* bytes after each workspace buffer (gpu_nn.h: guards) */
#define GUARD_BYTE 0xA5
#define MAX_BUFS 1024
#define RING 4 /* steps the host may run ahead of the GPU */

struct tp_gnn {
    tp_gpu *g;
    int L, cap, classes, frozen;
    tp_layer *l;        /* the layer table (host copy) */
    int ih, iw, ic;
    size_t ntrain, nparams;
    float *params, *grad;   /* device */
    float **a, **d;         /* activations and their gradients (host arrays of device pointers) */
    int32_t **arg;          /* maxpool argmax */
    float **bn;             /* batchnorm: xhat (cap x size), mean, istd */
    double *stat;           /* per-channel sums: 2 x largest channel count */
    double *part;           /* their partials: 2 x SUM_LANES x largest channel count */
    double *per;            /* per sample: loss, then right (2 x cap) */
    float *col;
    size_t col_cap;
    int32_t *labels;        /* cap */
    double *red;            /* reductions read back by the host: loss, right */
    float *m, *v;           /* optimiser moments, indexed as the parameters */
    size_t mfirst, mn;      /* the range the optimiser covers, once it has stepped */
    uint32_t key[2];        /* the last training step's key */
    int64_t first;
    unsigned char *rec[2];  /* records kept on the device, per slot */
    int64_t nrec[2];
    tp_gnn_records fmt[2];
    int64_t *idx;           /* cap record numbers */
    int64_t *pin;           /* RING x cap record numbers in pinned host memory, so that their
                               copies do not wait for the stream */
    cudaEvent_t ev[RING];   /* recorded after each ring slot's copy */
    int ring;
    void *nccl;             /* an MPI job's NCCL communicator (ncclComm_t), or NULL */
    void *buf[MAX_BUFS];    /* every allocation, for the guards */
    size_t bufsz[MAX_BUFS];
    int nbuf;
};

static size_t out_size(const tp_gnn *w, int i)
{
    if (i < 0)
        return (size_t)w->ih * (size_t)w->iw * (size_t)w->ic;
    const tp_layer *l = &w->l[i];
    return (size_t)l->oh * (size_t)l->ow * (size_t)l->oc;
}

static int conv_direct(const tp_layer *l) { return l->kh == 1 && l->kw == 1 && l->sh == 1 && l->sw == 1; }

/* Samples of a conv layer whose im2col rows fit the scratch at once. */
static int conv_chunk(const tp_layer *l, int cap)
{
    size_t per = (size_t)l->oh * (size_t)l->ow * (size_t)l->kh * (size_t)l->kw * (size_t)l->ic;
    size_t k = COL_FLOATS / (per ? per : 1);
    return k < 1 ? 1 : k > (size_t)cap ? cap : (int)k;
}

/* ---- elementwise kernels ---- */

/* y[r, c] = act(y[r, c] + b[c]) over rows x C. */
__global__ void bias_act(float *y, const float *b, size_t rows, int C, int relu)
{
    TP_GRID_STRIDE(i, rows * (size_t)C)
    {
        float v = y[i] + b[i % (size_t)C];
        y[i] = relu && !(v > 0) ? 0 : v;
    }
}

/* dy = y > 0 ? dy : 0 (through a fused ReLU), or dx = that for a ReLU layer. */
__global__ void relu_back(const float *y, const float *dy, float *dx, size_t n)
{
    TP_GRID_STRIDE(i, n) dx[i] = y[i] > 0 ? dy[i] : 0;
}

__global__ void relu_fwd(const float *x, float *y, size_t n)
{
    TP_GRID_STRIDE(i, n) y[i] = x[i] > 0 ? x[i] : 0;
}

/* Inverted dropout: element e kept when draw first + e of key is >= cut (nn.c's rule). */
__global__ void dropout_k(const float *x, float *y, size_t n, uint32_t k0, uint32_t k1, uint64_t first, uint32_t cut,
                          float scale)
{
    TP_GRID_STRIDE(i, n) y[i] = tp_philox_at(k0, k1, first + i) >= cut ? x[i] * scale : 0;
}

#define SUM_LANES 1024 /* row blocks of a channel sum: partials folded in a fixed order */

/* Per-channel partial sums over rows of x[rows, C] (and of x * h when h is not NULL, else of
 * x^2), in double: blocks of 32 channels x 8 row lanes; block row y writes its partials to
 * p1[y * C + c] and p2[y * C + c]. No atomics: the sums do not depend on timing. */
__global__ void colsum(const float *x, const float *h, size_t rows, int C, double *p1, double *p2)
{
    __shared__ double q1[8][33], q2[8][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    double a = 0, b = 0;
    if (c < C)
        for (size_t r = (size_t)blockIdx.y * 8 + threadIdx.y; r < rows; r += (size_t)gridDim.y * 8) {
            double v = x[r * (size_t)C + (size_t)c];
            a += v;
            b += h ? v * (double)h[r * (size_t)C + (size_t)c] : v * v;
        }
    q1[threadIdx.y][threadIdx.x] = a;
    q2[threadIdx.y][threadIdx.x] = b;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        for (int k = 1; k < 8; k++)
            a += q1[k][threadIdx.x], b += q2[k][threadIdx.x];
        p1[(size_t)blockIdx.y * (size_t)C + (size_t)c] = a;
        if (p2)
            p2[(size_t)blockIdx.y * (size_t)C + (size_t)c] = b;
    }
}

/* s[c] = the sum of the Y partials of channel c, in order. */
__global__ void fold(const double *p, int Y, int C, double *s)
{
    TP_GRID_STRIDE(c, C)
    {
        double t = 0;
        for (int y = 0; y < Y; y++)
            t += p[(size_t)y * (size_t)C + c];
        s[c] = t;
    }
}

/* db[c] += s[c] */
__global__ void add_d2f(float *db, const double *s, int C)
{
    TP_GRID_STRIDE(c, C) db[c] += (float)s[c];
}

/* Per-channel sums of rows x C into s1 (and s2: squares, or products with h), through the
 * partials buffer part (2 x SUM_LANES x C doubles). */
static void channel_sums(tp_gpu *g, const float *x, const float *h, size_t rows, int C, double *part, double *s1,
                         double *s2)
{
    size_t yb = (rows + 8 * 64 - 1) / (8 * 64); /* about 64 rows a lane */
    int Y = (int)(yb < 1 ? 1 : yb > SUM_LANES ? SUM_LANES : yb);
    double *p2 = s2 ? part + (size_t)SUM_LANES * (size_t)C : NULL;
    dim3 grid((unsigned)((C + 31) / 32), (unsigned)Y), block(32, 8);
    colsum<<<grid, block, 0, g->stream>>>(x, h, rows, C, part, p2);
    TP_LAUNCHED(g);
    fold<<<tp_blocks((size_t)C, 256), 256, 0, g->stream>>>(part, Y, C, s1);
    if (s2)
        fold<<<tp_blocks((size_t)C, 256), 256, 0, g->stream>>>(p2, Y, C, s2);
    TP_LAUNCHED(g);
}

/* ---- convolution: x [n, ih, iw, ic], kernel [kh, kw, ic, oc], y [n, oh, ow, oc] ---- */

/* The m samples' im2col rows (nn_elem.h: tp_im2col_at). */
__global__ void im2col_k(tp_conv_shape c, const float *x, int m, float *col)
{
    TP_GRID_STRIDE(i, (size_t)m * c.oh * c.ow * c.kh * c.kw * c.ic) col[i] = tp_im2col_at(&c, x, i);
}

/* The adjoint of im2col for m samples, gathered (nn_elem.h: tp_col2im_at). */
__global__ void col2im_k(tp_conv_shape c, const float *col, int m, float *dx)
{
    TP_GRID_STRIDE(i, (size_t)m * c.ih * c.iw * c.ic) dx[i] = tp_col2im_at(&c, col, i);
}

static void conv_forward(tp_gnn *w, const tp_layer *l, const float *x, float *y, int n)
{
    tp_gpu *g = w->g;
    const float *W = w->params + l->w, *b = w->params + l->b;
    int chunk = conv_chunk(l, w->cap);
    size_t K = (size_t)l->kh * (size_t)l->kw * (size_t)l->ic, isz = (size_t)l->ih * (size_t)l->iw * (size_t)l->ic;
    size_t pix = (size_t)l->oh * (size_t)l->ow, osz = pix * (size_t)l->units;
    for (int s = 0; s < n; s += chunk) {
        int m = n - s < chunk ? n - s : chunk;
        const float *col = x + (size_t)s * isz;
        size_t rows = (size_t)m * pix;
        if (!conv_direct(l)) {
            im2col_k<<<tp_blocks(rows * K, 256), 256, 0, g->stream>>>(tp_conv_shape_of(l), col, m, w->col);
            TP_LAUNCHED(g);
            col = w->col;
        }
        tp_gemm(g, 0, 0, (int)rows, l->units, (int)K, 1.0f, col, (int)K, W, l->units, 0.0f, y + (size_t)s * osz, l->units);
    }
    bias_act<<<tp_blocks((size_t)n * osz, 256), 256, 0, g->stream>>>(y, b, (size_t)n * pix, l->units,
                                                                    l->act == TP_ACT_RELU);
    TP_LAUNCHED(g);
}

static void conv_backward(tp_gnn *w, const tp_layer *l, const float *x, const float *dy, float *dx, int n)
{
    tp_gpu *g = w->g;
    const float *W = w->params + l->w;
    float *dW = w->grad + l->w, *db = w->grad + l->b;
    int chunk = conv_chunk(l, w->cap);
    size_t K = (size_t)l->kh * (size_t)l->kw * (size_t)l->ic, isz = (size_t)l->ih * (size_t)l->iw * (size_t)l->ic;
    size_t pix = (size_t)l->oh * (size_t)l->ow, osz = pix * (size_t)l->units;
    channel_sums(g, dy, NULL, (size_t)n * pix, l->units, w->part, w->stat, NULL);
    add_d2f<<<tp_blocks((size_t)l->units, 256), 256, 0, g->stream>>>(db, w->stat, l->units);
    TP_LAUNCHED(g);
    for (int s = 0; s < n; s += chunk) {
        int m = n - s < chunk ? n - s : chunk;
        size_t rows = (size_t)m * pix;
        const float *gs = dy + (size_t)s * osz, *col = x + (size_t)s * isz;
        if (!conv_direct(l)) {
            im2col_k<<<tp_blocks(rows * K, 256), 256, 0, g->stream>>>(tp_conv_shape_of(l), col, m, w->col);
            TP_LAUNCHED(g);
            col = w->col;
        }
        tp_gemm(g, 1, 0, (int)K, l->units, (int)rows, 1.0f, col, (int)K, gs, l->units, 1.0f, dW, l->units);
        if (!dx)
            continue;
        if (conv_direct(l)) {
            tp_gemm(g, 0, 1, (int)rows, (int)K, l->units, 1.0f, gs, l->units, W, l->units, 0.0f, dx + (size_t)s * isz,
                    (int)K);
        } else {
            tp_gemm(g, 0, 1, (int)rows, (int)K, l->units, 1.0f, gs, l->units, W, l->units, 0.0f, w->col, (int)K);
            col2im_k<<<tp_blocks((size_t)m * isz, 256), 256, 0, g->stream>>>(tp_conv_shape_of(l), w->col, m,
                                                                             dx + (size_t)s * isz);
            TP_LAUNCHED(g);
        }
    }
}

/* ---- dense: x [n, K], W [K, units], y [n, units] ---- */

/* Softmax of each row of y[n, U] in place: one warp a row; the sum in double as nn.c. */
__global__ void softmax_rows(float *y, int n, int U)
{
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= n)
        return;
    float *p = y + (size_t)row * (size_t)U;
    float mx = -FLT_MAX;
    for (int k = lane; k < U; k += 32)
        mx = fmaxf(mx, p[k]);
    for (int o = 16; o; o >>= 1)
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    double sum = 0;
    for (int k = lane; k < U; k += 32) {
        float e = expf(p[k] - mx);
        p[k] = e;
        sum += e;
    }
    for (int o = 16; o; o >>= 1)
        sum += __shfl_xor_sync(0xffffffffu, sum, o);
    for (int k = lane; k < U; k += 32)
        p[k] = (float)(p[k] / sum);
}

static void dense_forward(tp_gnn *w, const tp_layer *l, const float *x, float *y, int n)
{
    tp_gpu *g = w->g;
    int K = (int)(l->nw / (size_t)l->units), U = l->units;
    tp_gemm(g, 0, 0, n, U, K, 1.0f, x, K, w->params + l->w, U, 0.0f, y, U);
    bias_act<<<tp_blocks((size_t)n * (size_t)U, 256), 256, 0, g->stream>>>(y, w->params + l->b, (size_t)n, U,
                                                                         l->act == TP_ACT_RELU);
    TP_LAUNCHED(g);
    if (l->act == TP_ACT_SOFTMAX && n > 0) {
        softmax_rows<<<(unsigned)((n + 7) / 8), 256, 0, g->stream>>>(y, n, U);
        TP_LAUNCHED(g);
    }
}

static void dense_backward(tp_gnn *w, const tp_layer *l, const float *x, const float *dy, float *dx, int n)
{
    tp_gpu *g = w->g;
    int K = (int)(l->nw / (size_t)l->units), U = l->units;
    channel_sums(g, dy, NULL, (size_t)n, U, w->part, w->stat, NULL);
    add_d2f<<<tp_blocks((size_t)U, 256), 256, 0, g->stream>>>(w->grad + l->b, w->stat, U);
    TP_LAUNCHED(g);
    tp_gemm(g, 1, 0, K, U, n, 1.0f, x, K, dy, U, 1.0f, w->grad + l->w, U);
    if (dx)
        tp_gemm(g, 0, 1, n, K, U, 1.0f, dy, U, w->params + l->w, U, 0.0f, dx, K);
}

/* ---- pooling: x [n, ih, iw, c], y [n, oh, ow, c]; valid windows ---- */

__global__ void pool_fwd(tp_conv_shape c, int maxpool, const float *x, float *y, int32_t *arg, int n)
{
    TP_GRID_STRIDE(o, (size_t)n * c.oh * c.ow * c.ic)
    {
        int32_t at;
        y[o] = tp_pool_fwd_at(&c, maxpool, x, o, &at);
        if (maxpool)
            arg[o] = at;
    }
}

__global__ void pool_bwd(tp_conv_shape c, int maxpool, const float *dy, const int32_t *arg, float *dx, int n)
{
    TP_GRID_STRIDE(i, (size_t)n * c.ih * c.iw * c.ic) dx[i] = tp_pool_bwd_at(&c, maxpool, dy, arg, i);
}

/* ---- global average pooling: x [n, h, w, c], y [n, c] ---- */

__global__ void gap_fwd(const float *x, float *y, int n, size_t pix, int C)
{
    TP_GRID_STRIDE(i, (size_t)n * (size_t)C)
    {
        size_t s = i / (size_t)C, c = i % (size_t)C;
        float sum = 0;
        for (size_t p = 0; p < pix; p++)
            sum += x[(s * pix + p) * (size_t)C + c];
        y[i] = sum / (float)pix;
    }
}

__global__ void gap_bwd(const float *dy, float *dx, int n, size_t pix, int C)
{
    TP_GRID_STRIDE(i, (size_t)n * pix * (size_t)C)
    {
        size_t c = i % (size_t)C, s = i / ((size_t)C * pix);
        dx[i] = dy[s * (size_t)C + c] / (float)pix;
    }
}

/* ---- batch normalisation over every axis but the channels ---- */

/* From the sums over rows: mean and 1/std for this batch, and the moving statistics. */
__global__ void bn_stats(const double *sum, const double *sq, double rows, int C, float eps, float momentum,
                         int update, float *mean, float *istd, float *mmean, float *mvar)
{
    TP_GRID_STRIDE(c, C)
    {
        double m = sum[c] / rows, var = sq[c] / rows - m * m;
        var = var > 0 ? var : 0;
        mean[c] = (float)m;
        istd[c] = (float)(1.0 / sqrt(var + eps));
        double unbiased = rows > 1 ? var * rows / (rows - 1) : var;
        if (update) {
            mmean[c] = (float)(momentum * mmean[c] + (1 - momentum) * m);
            mvar[c] = (float)(momentum * mvar[c] + (1 - momentum) * unbiased);
        }
    }
}

__global__ void bn_infer_stats(const float *mmean, const float *mvar, int C, float eps, float *mean, float *istd)
{
    TP_GRID_STRIDE(c, C)
    {
        mean[c] = mmean[c];
        istd[c] = 1.0f / sqrtf(mvar[c] + eps);
    }
}

__global__ void bn_norm(const float *x, float *xhat, float *y, size_t n, int C, const float *mean, const float *istd,
                        const float *gamma, const float *beta)
{
    TP_GRID_STRIDE(i, n)
    {
        size_t c = i % (size_t)C;
        float h = (x[i] - mean[c]) * istd[c];
        xhat[i] = h;
        y[i] = gamma[c] * h + beta[c];
    }
}

__global__ void bn_dx(const float *dy, const float *xhat, float *dx, size_t n, int C, double rows, const double *s1,
                      const double *s2, const float *gamma, const float *istd)
{
    TP_GRID_STRIDE(i, n)
    {
        size_t c = i % (size_t)C;
        dx[i] = (float)(gamma[c] * istd[c] / rows * (rows * dy[i] - s1[c] - xhat[i] * s2[c]));
    }
}

static void bn_forward(tp_gnn *w, int i, const tp_layer *l, const float *x, float *y, int n, int train)
{
    tp_gpu *g = w->g;
    int C = l->oc;
    size_t count = (size_t)n * out_size(w, i), rows = count / (size_t)C;
    float *xhat = w->bn[i], *mean = xhat + (size_t)w->cap * out_size(w, i), *istd = mean + C;
    float *P = w->params;
    if (train) {
        channel_sums(g, x, NULL, rows, C, w->part, w->stat, w->stat + C);
        bn_stats<<<tp_blocks((size_t)C, 256), 256, 0, g->stream>>>(w->stat, w->stat + C, (double)rows, C, l->eps,
                                                                    l->momentum, 1, mean, istd, P + l->mean, P + l->var);
    } else {
        bn_infer_stats<<<tp_blocks((size_t)C, 256), 256, 0, g->stream>>>(P + l->mean, P + l->var, C, l->eps, mean, istd);
    }
    TP_LAUNCHED(g);
    bn_norm<<<tp_blocks(count, 256), 256, 0, g->stream>>>(x, xhat, y, count, C, mean, istd, P + l->w, P + l->b);
    TP_LAUNCHED(g);
}

static void bn_backward(tp_gnn *w, int i, const tp_layer *l, const float *dy, float *dx, int n)
{
    tp_gpu *g = w->g;
    int C = l->oc;
    size_t count = (size_t)n * out_size(w, i), rows = count / (size_t)C;
    const float *xhat = w->bn[i], *istd = xhat + (size_t)w->cap * out_size(w, i) + C;
    double *s1 = w->stat, *s2 = w->stat + C;
    channel_sums(g, dy, xhat, rows, C, w->part, s1, s2);
    add_d2f<<<tp_blocks((size_t)C, 256), 256, 0, g->stream>>>(w->grad + l->b, s1, C);
    add_d2f<<<tp_blocks((size_t)C, 256), 256, 0, g->stream>>>(w->grad + l->w, s2, C);
    TP_LAUNCHED(g);
    if (dx) {
        bn_dx<<<tp_blocks(count, 256), 256, 0, g->stream>>>(dy, xhat, dx, count, C, (double)rows, s1, s2,
                                                              w->params + l->w, istd);
        TP_LAUNCHED(g);
    }
}

/* ---- loss: softmax + cross-entropy ---- */

/* One thread a sample (nn_elem.h: tp_xent_at): the logits' gradient, per[s] the loss term,
 * per[n + s] whether the prediction is right. */
__global__ void xent(const float *p, const int32_t *lab, float *g, int n, int K, float on, float off, int train,
                     double *per)
{
    TP_GRID_STRIDE(s, n) tp_xent_at(p, lab, g, n, K, on, off, train, per, s);
}

/* red[0] += sum of per[0..n), red[1] += sum of per[n..2n): one block of 256, a fixed order. */
__global__ void fold_xent(const double *per, int n, double *red)
{
    __shared__ double a[256], b[256];
    double x = 0, y = 0;
    for (int s = threadIdx.x; s < n; s += 256)
        x += per[s], y += per[n + s];
    a[threadIdx.x] = x;
    b[threadIdx.x] = y;
    __syncthreads();
    for (int h = 128; h; h >>= 1) {
        if ((int)threadIdx.x < h) {
            a[threadIdx.x] += a[threadIdx.x + h];
            b[threadIdx.x] += b[threadIdx.x + h];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        red[0] += a[0];
        red[1] += b[0];
    }
}

static void reduce_loss(tp_gnn *w, int n, int train, float smoothing)
{
    tp_gpu *g = w->g;
    int K = w->classes;
    float off = smoothing / (float)K, on = 1 - smoothing + off;
    xent<<<tp_blocks((size_t)n, 128), 128, 0, g->stream>>>(w->a[w->L], w->labels, w->d[w->L], n, K, on, off, train,
                                                           w->per);
    fold_xent<<<1, 256, 0, g->stream>>>(w->per, n, w->red);
    TP_LAUNCHED(g);
}

static double totals(tp_gnn *w, int64_t *right)
{
    tp_gpu *g = w->g;
    double red[2];
    TP_CU(g, cudaMemcpyAsync(red, w->red, sizeof red, cudaMemcpyDeviceToHost, g->stream));
    TP_CU(g, cudaMemsetAsync(w->red, 0, sizeof red, g->stream));
    TP_CU(g, cudaStreamSynchronize(g->stream));
    if (right)
        *right += (int64_t)llround(red[1]);
    return red[0];
}

/* ---- the table ---- */

/* A workspace buffer of bytes, with GUARD bytes after it. */
static void *galloc(tp_gnn *w, size_t bytes)
{
    if (w->nbuf == MAX_BUFS)
        w->g->die("gpu: a network of too many layers");
    void *p = tp_dev_alloc(w->g, bytes + GUARD);
    TP_CU(w->g, cudaMemsetAsync((char *)p + bytes, GUARD_BYTE, GUARD, w->g->stream));
    w->buf[w->nbuf] = p;
    w->bufsz[w->nbuf++] = bytes;
    return p;
}

static int64_t guards(tp_gnn *w)
{
    int64_t bad = 0;
    unsigned char h[GUARD];
    for (int k = 0; k < w->nbuf; k++) {
        TP_CU(w->g, cudaMemcpyAsync(h, (char *)w->buf[k] + w->bufsz[k], GUARD, cudaMemcpyDeviceToHost, w->g->stream));
        TP_CU(w->g, cudaStreamSynchronize(w->g->stream));
        for (int i = 0; i < GUARD; i++)
            bad += h[i] != GUARD_BYTE;
    }
    return bad;
}

static tp_gnn *create(tp_gpu *g, const tp_net *net, int cap)
{
    tp_gnn *w = (tp_gnn *)calloc(1, sizeof *w);
    size_t nl = (size_t)net->n;
    if (!w || !(w->l = (tp_layer *)malloc((nl + 1) * sizeof *w->l)) ||
        !(w->a = (float **)calloc(nl + 1, sizeof *w->a)) || !(w->d = (float **)calloc(nl + 1, sizeof *w->d)) ||
        !(w->arg = (int32_t **)calloc(nl + 1, sizeof *w->arg)) || !(w->bn = (float **)calloc(nl + 1, sizeof *w->bn)))
        g->die("out of memory");
    memcpy(w->l, net->l, nl * sizeof *w->l);
    w->g = g;
    w->L = net->n;
    w->cap = cap;
    w->classes = net->classes;
    w->frozen = net->frozen;
    w->ih = net->ih, w->iw = net->iw, w->ic = net->ic;
    w->ntrain = net->ntrain;
    w->nparams = net->nparams;
    w->params = (float *)galloc(w, w->nparams * sizeof(float));
    w->grad = (float *)galloc(w, (w->ntrain + 1) * sizeof(float));
    TP_CU(g, cudaMemcpyAsync(w->params, net->params, w->nparams * sizeof(float), cudaMemcpyHostToDevice, g->stream));
    int maxc = 1;
    for (int i = -1; i < w->L; i++) {
        size_t sz = out_size(w, i) * (size_t)cap;
        w->a[i + 1] = (float *)galloc(w, sz * sizeof(float));
        w->d[i + 1] = (float *)galloc(w, sz * sizeof(float));
    }
    for (int i = 0; i < w->L; i++) {
        const tp_layer *l = &w->l[i];
        size_t out = out_size(w, i);
        maxc = l->oc > maxc ? l->oc : maxc;
        maxc = l->units > maxc ? l->units : maxc;
        if (l->kind == TP_L_MAXPOOL)
            w->arg[i] = (int32_t *)galloc(w, out * (size_t)cap * sizeof(int32_t));
        if (l->kind == TP_L_BATCHNORM)
            w->bn[i] = (float *)galloc(w, (out * (size_t)cap + 2 * (size_t)l->oc) * sizeof(float));
        if (l->kind == TP_L_CONV && !conv_direct(l)) {
            size_t need = (size_t)conv_chunk(l, cap) * (size_t)l->oh * (size_t)l->ow * (size_t)l->kh * (size_t)l->kw *
                          (size_t)l->ic;
            w->col_cap = need > w->col_cap ? need : w->col_cap;
        }
    }
    w->col = (float *)galloc(w, (w->col_cap + 1) * sizeof(float));
    w->stat = (double *)galloc(w, 2 * (size_t)maxc * sizeof(double));
    w->part = (double *)galloc(w, 2 * (size_t)SUM_LANES * (size_t)maxc * sizeof(double));
    w->per = (double *)galloc(w, 2 * (size_t)cap * sizeof(double));
    w->m = (float *)galloc(w, (w->ntrain + 1) * sizeof(float));
    w->v = (float *)galloc(w, (w->ntrain + 1) * sizeof(float));
    w->labels = (int32_t *)galloc(w, (size_t)cap * sizeof(int32_t));
    w->idx = (int64_t *)galloc(w, (size_t)cap * sizeof(int64_t));
    w->red = (double *)galloc(w, 2 * sizeof(double));
    TP_CU(g, cudaMallocHost((void **)&w->pin, RING * (size_t)cap * sizeof(int64_t)));
    for (int k = 0; k < RING; k++)
        TP_CU(g, cudaEventCreateWithFlags(&w->ev[k], cudaEventDisableTiming));
    TP_CU(g, cudaMemsetAsync(w->red, 0, 2 * sizeof(double), g->stream));
    TP_CU(g, cudaStreamSynchronize(g->stream));
    return w;
}

static void destroy(tp_gnn *w)
{
    if (!w)
        return;
    cudaStreamSynchronize(w->g->stream);
#ifdef TP_NCCL
    if (w->nccl)
        ncclCommDestroy((ncclComm_t)w->nccl);
#endif
    for (int k = 0; k < w->nbuf; k++)
        cudaFree(w->buf[k]);
    for (int k = 0; k < RING; k++)
        cudaEventDestroy(w->ev[k]);
    cudaFreeHost(w->pin);
    cudaFree(w->rec[0]), cudaFree(w->rec[1]);
    free(w->a), free(w->d), free(w->arg), free(w->bn), free(w->l), free(w);
}

static void set_params(tp_gnn *w, const float *host)
{
    TP_CU(w->g, cudaMemcpyAsync(w->params, host, w->nparams * sizeof(float), cudaMemcpyHostToDevice, w->g->stream));
    TP_CU(w->g, cudaStreamSynchronize(w->g->stream));
}

static void get_params(tp_gnn *w, float *host)
{
    TP_CU(w->g, cudaMemcpyAsync(host, w->params, w->nparams * sizeof(float), cudaMemcpyDeviceToHost, w->g->stream));
    TP_CU(w->g, cudaStreamSynchronize(w->g->stream));
}

static void set_batch(tp_gnn *w, const float *x, const int32_t *labels, int n)
{
    tp_gpu *g = w->g;
    if (n > w->cap)
        g->die("gpu: a batch of %d samples exceeds the workspace's %d", n, w->cap);
    TP_CU(g, cudaMemcpyAsync(w->a[0], x, (size_t)n * out_size(w, -1) * sizeof(float), cudaMemcpyHostToDevice, g->stream));
    if (labels)
        TP_CU(g, cudaMemcpyAsync(w->labels, labels, (size_t)n * sizeof *labels, cudaMemcpyHostToDevice, g->stream));
    TP_CU(g, cudaStreamSynchronize(g->stream));
}

static int load_records(tp_gnn *w, int slot, const void *recs, int64_t n, const tp_gnn_records *f)
{
    tp_gpu *g = w->g;
    size_t bytes = (size_t)n * f->rsz, freeb = 0, total = 0;
    TP_CU(g, cudaMemGetInfo(&freeb, &total));
    cudaFree(w->rec[slot]);
    w->rec[slot] = NULL;
    w->nrec[slot] = 0;
    if (bytes + ((size_t)1280 << 20) > freeb) /* room for cuBLAS' workspaces and bf16 operands */
        return -1;
    w->rec[slot] = (unsigned char *)tp_dev_alloc(g, bytes);
    TP_CU(g, cudaMemcpyAsync(w->rec[slot], recs, bytes, cudaMemcpyHostToDevice, g->stream));
    TP_CU(g, cudaStreamSynchronize(g->stream));
    w->nrec[slot] = n;
    w->fmt[slot] = *f;
    return 0;
}

/* One work item a pixel (nn_elem.h: tp_gather_at): the batch's inputs and labels. */
__global__ void gather_k(const unsigned char *rec, tp_gnn_records f, const int64_t *idx, int n, float *x, int32_t *lab)
{
    TP_GRID_STRIDE(i, (size_t)n * ((size_t)f.xelem / (size_t)tp_gather_width(&f))) tp_gather_at(rec, &f, idx, i, x, lab);
}

static void gather(tp_gnn *w, int slot, const int64_t *idx, int n)
{
    tp_gpu *g = w->g;
    if (!w->rec[slot] || n > w->cap)
        g->die("gpu: gather from an empty slot or beyond the workspace");
    int k = w->ring++ % RING;
    int64_t *pin = w->pin + (size_t)k * (size_t)w->cap;
    TP_CU(g, cudaEventSynchronize(w->ev[k])); /* the slot's last copy is done */
    memcpy(pin, idx, (size_t)n * sizeof *idx);
    TP_CU(g, cudaMemcpyAsync(w->idx, pin, (size_t)n * sizeof *idx, cudaMemcpyHostToDevice, g->stream));
    TP_CU(g, cudaEventRecord(w->ev[k], g->stream));
    const tp_gnn_records *f = &w->fmt[slot];
    size_t pix = (size_t)f->xelem / (size_t)tp_gather_width(f);
    gather_k<<<tp_blocks((size_t)n * pix, 256), 256, 0, g->stream>>>(w->rec[slot], *f, w->idx, n, w->a[0], w->labels);
    TP_LAUNCHED(g);
}

static void forward(tp_gnn *w, int n, int train, const uint32_t key[2], int64_t first)
{
    tp_gpu *g = w->g;
    if (n > w->cap)
        g->die("gpu: a batch of %d samples exceeds the workspace's %d", n, w->cap);
    if (train && key) {
        w->key[0] = key[0];
        w->key[1] = key[1];
        w->first = first;
    }
    for (int i = 0; i < w->L; i++) {
        const tp_layer *l = &w->l[i];
        const float *x = w->a[i];
        float *y = w->a[i + 1];
        size_t count = (size_t)n * out_size(w, i);
        switch (l->kind) {
        case TP_L_CONV: conv_forward(w, l, x, y, n); break;
        case TP_L_DENSE: dense_forward(w, l, x, y, n); break;
        case TP_L_MAXPOOL:
        case TP_L_AVGPOOL:
            pool_fwd<<<tp_blocks(count, 256), 256, 0, g->stream>>>(tp_conv_shape_of(l), l->kind == TP_L_MAXPOOL, x, y,
                                                                   w->arg[i], n);
            break;
        case TP_L_GAP:
            gap_fwd<<<tp_blocks(count, 256), 256, 0, g->stream>>>(x, y, n, (size_t)l->ih * (size_t)l->iw, l->ic);
            break;
        case TP_L_FLATTEN: TP_CU(g, cudaMemcpyAsync(y, x, count * sizeof *y, cudaMemcpyDeviceToDevice, g->stream)); break;
        case TP_L_RELU: relu_fwd<<<tp_blocks(count, 256), 256, 0, g->stream>>>(x, y, count); break;
        case TP_L_DROPOUT:
            if (train && l->rate > 0) {
                uint32_t k[2];
                tp_philox_split(w->key[0], w->key[1], (uint64_t)i, k);
                dropout_k<<<tp_blocks(count, 256), 256, 0, g->stream>>>(
                    x, y, count, k[0], k[1], (uint64_t)w->first * out_size(w, i),
                    (uint32_t)((double)l->rate * 4294967296.0), 1.0f / (1.0f - l->rate));
            } else {
                TP_CU(g, cudaMemcpyAsync(y, x, count * sizeof *y, cudaMemcpyDeviceToDevice, g->stream));
            }
            break;
        case TP_L_BATCHNORM: bn_forward(w, i, l, x, y, n, train); break;
        }
        TP_LAUNCHED(g);
    }
}

static void backward(tp_gnn *w, int n, float smoothing)
{
    tp_gpu *g = w->g;
    TP_CU(g, cudaMemsetAsync(w->grad, 0, w->ntrain * sizeof(float), g->stream));
    reduce_loss(w, n, 1, smoothing);
    int L = w->L, stop = w->frozen > 0 && w->frozen < L ? w->frozen : 0;
    for (int i = L - 1; i >= stop; i--) {
        const tp_layer *l = &w->l[i];
        const float *x = w->a[i], *y = w->a[i + 1];
        float *dy = w->d[i + 1], *dx = i > stop ? w->d[i] : NULL;
        size_t count = (size_t)n * out_size(w, i);
        if (l->act == TP_ACT_RELU) {
            relu_back<<<tp_blocks(count, 256), 256, 0, g->stream>>>(y, dy, dy, count);
            TP_LAUNCHED(g);
        }
        switch (l->kind) {
        case TP_L_CONV: conv_backward(w, l, x, dy, dx, n); break;
        case TP_L_DENSE: dense_backward(w, l, x, dy, dx, n); break;
        case TP_L_MAXPOOL:
        case TP_L_AVGPOOL:
            if (dx)
                pool_bwd<<<tp_blocks((size_t)n * out_size(w, i - 1), 256), 256, 0, g->stream>>>(
                    tp_conv_shape_of(l), l->kind == TP_L_MAXPOOL, dy, w->arg[i], dx, n);
            break;
        case TP_L_GAP:
            if (dx)
                gap_bwd<<<tp_blocks((size_t)n * out_size(w, i - 1), 256), 256, 0, g->stream>>>(
                    dy, dx, n, (size_t)l->ih * (size_t)l->iw, l->ic);
            break;
        case TP_L_FLATTEN:
            if (dx)
                TP_CU(g, cudaMemcpyAsync(dx, dy, count * sizeof *dx, cudaMemcpyDeviceToDevice, g->stream));
            break;
        case TP_L_RELU:
            if (dx)
                relu_back<<<tp_blocks(count, 256), 256, 0, g->stream>>>(y, dy, dx, count);
            break;
        case TP_L_DROPOUT:
            if (dx && l->rate > 0) {
                uint32_t k[2];
                tp_philox_split(w->key[0], w->key[1], (uint64_t)i, k);
                dropout_k<<<tp_blocks(count, 256), 256, 0, g->stream>>>(
                    dy, dx, count, k[0], k[1], (uint64_t)w->first * out_size(w, i),
                    (uint32_t)((double)l->rate * 4294967296.0), 1.0f / (1.0f - l->rate));
            } else if (dx) {
                TP_CU(g, cudaMemcpyAsync(dx, dy, count * sizeof *dx, cudaMemcpyDeviceToDevice, g->stream));
            }
            break;
        case TP_L_BATCHNORM: bn_backward(w, i, l, dy, dx, n); break;
        }
        TP_LAUNCHED(g);
    }
}

static void score(tp_gnn *w, int n) { reduce_loss(w, n, 0, 0); }

/* ---- optimisers (optim.c's update rules) ---- */

__global__ void decay_k(float *p, size_t n, float k)
{
    TP_GRID_STRIDE(i, n) p[i] *= k;
}

__global__ void sgd_k(float *p, const float *g, float *m, size_t n, float mu, float a, int nesterov)
{
    TP_GRID_STRIDE(i, n)
    {
        if (mu == 0) {
            p[i] -= a * g[i];
            continue;
        }
        m[i] = mu * m[i] - a * g[i];
        p[i] += nesterov ? mu * m[i] - a * g[i] : m[i];
    }
}

__global__ void adam_k(float *p, const float *g, float *m, float *v, size_t n, float b1, float b2, float eps, float a)
{
    TP_GRID_STRIDE(i, n)
    {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        p[i] -= a * m[i] / (sqrtf(v[i]) + eps);
    }
}

__global__ void adagrad_k(float *p, const float *g, float *v, size_t n, float a, float eps)
{
    TP_GRID_STRIDE(i, n)
    {
        v[i] += g[i] * g[i];
        p[i] -= a * g[i] / (sqrtf(v[i]) + eps);
    }
}

static void step(tp_gnn *w, tp_optim *o, size_t first, double lr)
{
    tp_gpu *g = w->g;
    size_t n = o->n;
    if (first + n > w->ntrain)
        g->die("gpu: optimiser over [%zu, %zu) beyond %zu trainable parameters", first, first + n, w->ntrain);
    if (!w->mn) { /* the moments start from the host optimiser's state */
        w->mfirst = first;
        w->mn = n;
        TP_CU(g, cudaMemcpyAsync(w->m + first, o->m, n * sizeof(float), cudaMemcpyHostToDevice, g->stream));
        TP_CU(g, cudaMemcpyAsync(w->v + first, o->v, n * sizeof(float), cudaMemcpyHostToDevice, g->stream));
        TP_CU(g, cudaStreamSynchronize(g->stream));
    } else if (first != w->mfirst || n != w->mn) {
        g->die("gpu: the optimiser's range changed from [%zu, %zu) to [%zu, %zu)", w->mfirst, w->mfirst + w->mn, first,
               first + n);
    }
    o->t++;
    float *p = w->params + first;
    const float *gr = w->grad + first;
    unsigned B = tp_blocks(n, 256);
    if (o->decay > 0)
        decay_k<<<B, 256, 0, g->stream>>>(p, n, (float)(1 - lr * o->decay));
    float *m = w->m + first, *v = w->v + first;
    switch (o->kind) {
    case TP_OPT_SGD: sgd_k<<<B, 256, 0, g->stream>>>(p, gr, m, n, (float)o->momentum, (float)lr, o->nesterov); break;
    case TP_OPT_ADAM: {
        float a = (float)(lr * sqrt(1 - pow(o->beta2, (double)o->t)) / (1 - pow(o->beta1, (double)o->t)));
        adam_k<<<B, 256, 0, g->stream>>>(p, gr, m, v, n, (float)o->beta1, (float)o->beta2, (float)o->eps, a);
        break;
    }
    case TP_OPT_ADAGRAD: adagrad_k<<<B, 256, 0, g->stream>>>(p, gr, v, n, (float)lr, (float)o->eps); break;
    }
    TP_LAUNCHED(g);
}

static void read(tp_gnn *w, int i, int grad, int n, float *host)
{
    tp_gpu *g = w->g;
    const float *src;
    size_t count;
    if (i < 0) {
        src = w->grad;
        count = w->ntrain;
    } else {
        if (i > w->L)
            g->die("gpu: no activation %d", i);
        src = grad ? w->d[i] : w->a[i];
        count = (size_t)n * out_size(w, i - 1);
    }
    TP_CU(g, cudaMemcpyAsync(host, src, count * sizeof(float), cudaMemcpyDeviceToHost, g->stream));
    TP_CU(g, cudaStreamSynchronize(g->stream));
}

/* ---- an MPI job's gradient sum on the devices (NCCL), where the build found it ---- */

static int job_id(void *id, size_t len, char *err, size_t errlen)
{
#ifdef TP_NCCL
    ncclUniqueId u;
    if (len < sizeof u) {
        snprintf(err, errlen, "NCCL's id needs %zu bytes", sizeof u);
        return -1;
    }
    ncclResult_t rc = ncclGetUniqueId(&u);
    if (rc != ncclSuccess) {
        snprintf(err, errlen, "ncclGetUniqueId: %s", ncclGetErrorString(rc));
        return -1;
    }
    memcpy(id, &u, sizeof u);
    return 0;
#else
    (void)id, (void)len;
    snprintf(err, errlen, "built without NCCL (nccl.h was not found beside nvcc)");
    return -1;
#endif
}

static int job_join(tp_gnn *w, int nranks, int rank, const void *id, char *err, size_t errlen)
{
#ifdef TP_NCCL
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    ncclComm_t c;
    ncclResult_t rc = ncclCommInitRank(&c, nranks, u, rank);
    if (rc != ncclSuccess) {
        snprintf(err, errlen, "ncclCommInitRank: %s", ncclGetErrorString(rc));
        return -1;
    }
    w->nccl = c;
    return 0;
#else
    (void)w, (void)nranks, (void)rank, (void)id;
    snprintf(err, errlen, "built without NCCL (nccl.h was not found beside nvcc)");
    return -1;
#endif
}

static void job_sum(tp_gnn *w, size_t first, float scale)
{
    tp_gpu *g = w->g;
    if (!w->nccl)
        g->die("gpu: job_sum before job_join");
    size_t n = w->ntrain - first;
    if (!n)
        return;
    decay_k<<<tp_blocks(n, 256), 256, 0, g->stream>>>(w->grad + first, n, scale);
    TP_LAUNCHED(g);
#ifdef TP_NCCL
    ncclResult_t rc = ncclAllReduce(w->grad + first, w->grad + first, n, ncclFloat, ncclSum, (ncclComm_t)w->nccl,
                                    g->stream);
    if (rc != ncclSuccess)
        g->die("gpu: ncclAllReduce: %s (a rank may have stopped)", ncclGetErrorString(rc));
#endif
}

extern const tp_gpu_nn_api tp_cuda_nn;
const tp_gpu_nn_api tp_cuda_nn = {create,  destroy, set_params, get_params, set_batch, load_records, gather,
                                  forward, backward, score,     totals,     step,      read,         guards,
                                  job_id,  job_join, job_sum};
