/* nn.c — see nn.h. Each layer kind has a forward and a backward function below, with the
 * shapes of its tensors in the comment above it. */
#include "nn.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define COL_FLOATS (16u << 20)      /* im2col scratch: 64 MiB */
#define COL_INFER_FLOATS (4u << 20) /* an inference workspace's: 16 MiB (or one sample's) */

/* Samples of a conv layer whose im2col rows fit the scratch at once. */
static int conv_chunk(const tp_layer *l, int cap, size_t budget)
{
    size_t per = (size_t)l->oh * (size_t)l->ow * (size_t)l->kh * (size_t)l->kw * (size_t)l->ic;
    size_t k = budget / (per ? per : 1);
    return k < 1 ? 1 : k > (size_t)cap ? cap : (int)k;
}

/* 1 when a conv layer's im2col is its input itself (1x1, stride 1, no padding). */
static int conv_direct(const tp_layer *l) { return l->kh == 1 && l->kw == 1 && l->sh == 1 && l->sw == 1; }

void tp_nn_init(tp_nn *w, tp_net *net, int cap)
{
    memset(w, 0, sizeof *w);
    w->net = net;
    w->cap = cap;
    w->update_stats = 1;
    w->col_floats = COL_FLOATS;
    int n = net->n;
    w->a = tp_calloc((size_t)n + 1, sizeof *w->a);
    w->g = tp_calloc((size_t)n + 1, sizeof *w->g);
    w->arg = tp_calloc((size_t)n, sizeof *w->arg);
    w->bn = tp_calloc((size_t)n, sizeof *w->bn);
    for (int i = -1; i < n; i++) {
        size_t sz = tp_layer_out_size(net, i) * (size_t)cap;
        w->a[i + 1] = tp_alloc(sz, sizeof(float));
        if (i >= 0)
            w->g[i + 1] = tp_alloc(sz, sizeof(float));
    }
    w->g[0] = tp_alloc(tp_layer_out_size(net, -1) * (size_t)cap, sizeof(float));
    for (int i = 0; i < n; i++) {
        tp_layer *l = &net->l[i];
        size_t out = tp_layer_out_size(net, i);
        if (l->kind == TP_L_MAXPOOL)
            w->arg[i] = tp_alloc(out * (size_t)cap, sizeof(int32_t));
        if (l->kind == TP_L_BATCHNORM)
            w->bn[i] = tp_alloc(out * (size_t)cap + 2 * (size_t)l->oc, sizeof(float));
        if (l->kind == TP_L_CONV && !conv_direct(l)) {
            size_t need = (size_t)conv_chunk(l, cap, w->col_floats) * (size_t)l->oh * (size_t)l->ow * (size_t)l->kh *
                          (size_t)l->kw * (size_t)l->ic;
            w->col_cap = need > w->col_cap ? need : w->col_cap;
        }
    }
    w->col = tp_alloc(w->col_cap + 1, sizeof(float));
    w->grad = tp_calloc(net->ntrain + 1, sizeof(float));
}

int tp_argmax(const float *p, int k)
{
    int b = 0;
    for (int i = 1; i < k; i++)
        b = p[i] > p[b] ? i : b;
    return b;
}

size_t tp_nn_infer_bytes(const tp_net *net)
{
    size_t most = 0;
    for (int i = -1; i < net->n; i++)
        most = tp_layer_out_size(net, i) > most ? tp_layer_out_size(net, i) : most;
    return 2 * most * sizeof(float);
}

void tp_nn_init_infer(tp_nn *w, tp_net *net, int cap)
{
    memset(w, 0, sizeof *w);
    w->net = net;
    w->cap = cap;
    w->infer = 1;
    w->col_floats = COL_INFER_FLOATS;
    int n = net->n;
    size_t most = tp_nn_infer_bytes(net) / (2 * sizeof(float));
    for (int k = 0; k < 2; k++)
        w->pp[k] = tp_alloc(most * (size_t)cap, sizeof(float));
    w->a = tp_calloc((size_t)n + 1, sizeof *w->a);
    w->arg = tp_calloc((size_t)n, sizeof *w->arg);
    w->bn = tp_calloc((size_t)n, sizeof *w->bn);
    for (int i = 0; i <= n; i++)
        w->a[i] = w->pp[i % 2];
    for (int i = 0; i < n; i++) {
        tp_layer *l = &net->l[i];
        if (l->kind == TP_L_BATCHNORM) /* the statistics only: no normalised input kept */
            w->bn[i] = tp_alloc(2 * (size_t)l->oc, sizeof(float));
        if (l->kind == TP_L_CONV && !conv_direct(l)) {
            size_t need = (size_t)conv_chunk(l, cap, w->col_floats) * (size_t)l->oh * (size_t)l->ow * (size_t)l->kh *
                          (size_t)l->kw * (size_t)l->ic;
            w->col_cap = need > w->col_cap ? need : w->col_cap;
        }
    }
    w->col = tp_alloc(w->col_cap + 1, sizeof(float));
}

void tp_nn_free(tp_nn *w)
{
    for (int i = 0; !w->infer && i <= w->net->n; i++) {
        free(w->a[i]);
        free(w->g[i]);
    }
    free(w->pp[0]), free(w->pp[1]);
    for (int i = 0; i < w->net->n; i++) {
        free(w->arg[i]);
        free(w->bn[i]);
    }
    free(w->a), free(w->g), free(w->arg), free(w->bn), free(w->col), free(w->grad);
    memset(w, 0, sizeof *w);
}

/* ---- convolution: x [n, ih, iw, ic], kernel [kh, kw, ic, oc], y [n, oh, ow, oc] ---- */

/* Rows of im2col for samples x[0..m): row (s, oy, ox), columns (ky, kx, c). In NHWC the
 * kw x ic values a kernel row reads are contiguous in x, so each is one copy (clipped at
 * the borders, the rest zero). */
static void im2col(const tp_layer *l, const float *x, int m, float *col)
{
    size_t K = (size_t)l->kh * (size_t)l->kw * (size_t)l->ic, isz = (size_t)l->ih * (size_t)l->iw * (size_t)l->ic;
    size_t seg = (size_t)l->kw * (size_t)l->ic, C = (size_t)l->ic;
    for (int s = 0; s < m; s++)
        for (int oy = 0; oy < l->oh; oy++)
            for (int ox = 0; ox < l->ow; ox++) {
                float *row = col + (((size_t)s * (size_t)l->oh + (size_t)oy) * (size_t)l->ow + (size_t)ox) * K;
                int x0 = ox * l->sw - l->pad_l, k0 = x0 < 0 ? -x0 : 0, k1 = x0 + l->kw > l->iw ? l->iw - x0 : l->kw;
                for (int ky = 0; ky < l->kh; ky++) {
                    int iy = oy * l->sh + ky - l->pad_t;
                    float *dst = row + (size_t)ky * seg;
                    if (iy < 0 || iy >= l->ih || k1 <= k0) {
                        memset(dst, 0, seg * sizeof *dst);
                        continue;
                    }
                    if (k0 > 0)
                        memset(dst, 0, (size_t)k0 * C * sizeof *dst);
                    const float *src = x + s * isz + ((size_t)iy * (size_t)l->iw + (size_t)(x0 + k0)) * C;
                    size_t n = (size_t)(k1 - k0) * C;
                    float *d = dst + (size_t)k0 * C;
                    for (size_t e = 0; e < n; e++)
                        d[e] = src[e];
                    if (k1 < l->kw)
                        memset(dst + (size_t)k1 * C, 0, (size_t)(l->kw - k1) * C * sizeof *dst);
                }
            }
}

/* The adjoint of im2col: adds the columns back onto the input gradient dx. */
static void col2im(const tp_layer *l, const float *col, int m, float *dx)
{
    size_t K = (size_t)l->kh * (size_t)l->kw * (size_t)l->ic, isz = (size_t)l->ih * (size_t)l->iw * (size_t)l->ic;
    for (int s = 0; s < m; s++)
        for (int oy = 0; oy < l->oh; oy++)
            for (int ox = 0; ox < l->ow; ox++) {
                const float *row = col + (((size_t)s * (size_t)l->oh + (size_t)oy) * (size_t)l->ow + (size_t)ox) * K;
                for (int ky = 0; ky < l->kh; ky++) {
                    int iy = oy * l->sh + ky - l->pad_t;
                    if (iy < 0 || iy >= l->ih)
                        continue;
                    for (int kx = 0; kx < l->kw; kx++) {
                        int ix = ox * l->sw + kx - l->pad_l;
                        if (ix < 0 || ix >= l->iw)
                            continue;
                        const float *src = row + ((size_t)ky * (size_t)l->kw + (size_t)kx) * (size_t)l->ic;
                        float *d = dx + s * isz + ((size_t)iy * (size_t)l->iw + (size_t)ix) * (size_t)l->ic;
                        for (int c = 0; c < l->ic; c++)
                            d[c] += src[c];
                    }
                }
            }
}

/* y = act(im2col(x) W + b), in chunks of samples. */
static void conv_forward(tp_nn *w, const tp_layer *l, const float *x, float *y, int n)
{
    const float *W = w->net->params + l->w, *b = w->net->params + l->b;
    int chunk = conv_chunk(l, w->cap, w->col_floats);
    size_t K = (size_t)l->kh * (size_t)l->kw * (size_t)l->ic, isz = (size_t)l->ih * (size_t)l->iw * (size_t)l->ic;
    size_t pix = (size_t)l->oh * (size_t)l->ow, osz = pix * (size_t)l->units;
    for (int s = 0; s < n; s += chunk) {
        int m = n - s < chunk ? n - s : chunk;
        const float *col = x + (size_t)s * isz;
        if (!conv_direct(l)) {
            im2col(l, x + (size_t)s * isz, m, w->col);
            col = w->col;
        }
        float *out = y + (size_t)s * osz;
        size_t rows = (size_t)m * pix;
        for (size_t r = 0; r < rows; r++)
            memcpy(out + r * (size_t)l->units, b, (size_t)l->units * sizeof *b);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, l->units, (int)K, 1.0f, col, (int)K, W,
                    l->units, 1.0f, out, l->units);
    }
    if (l->act == TP_ACT_RELU)
        for (size_t i = 0; i < (size_t)n * osz; i++)
            y[i] = y[i] > 0 ? y[i] : 0;
}

/* dy (already through the activation) to dW, db and, when dx is not NULL, dx. */
static void conv_backward(tp_nn *w, const tp_layer *l, const float *x, const float *dy, float *dx, int n)
{
    const float *W = w->net->params + l->w;
    float *dW = w->grad + l->w, *db = w->grad + l->b;
    int chunk = conv_chunk(l, w->cap, w->col_floats);
    size_t K = (size_t)l->kh * (size_t)l->kw * (size_t)l->ic, isz = (size_t)l->ih * (size_t)l->iw * (size_t)l->ic;
    size_t pix = (size_t)l->oh * (size_t)l->ow, osz = pix * (size_t)l->units;
    for (size_t r = 0; r < (size_t)n * pix; r++)
        for (int c = 0; c < l->units; c++)
            db[c] += dy[r * (size_t)l->units + (size_t)c];
    if (dx)
        memset(dx, 0, (size_t)n * isz * sizeof *dx);
    for (int s = 0; s < n; s += chunk) {
        int m = n - s < chunk ? n - s : chunk;
        size_t rows = (size_t)m * pix;
        const float *g = dy + (size_t)s * osz;
        const float *col = x + (size_t)s * isz;
        if (!conv_direct(l)) {
            im2col(l, x + (size_t)s * isz, m, w->col);
            col = w->col;
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, l->units, (int)rows, 1.0f, col, (int)K, g,
                    l->units, 1.0f, dW, l->units);
        if (!dx)
            continue;
        if (conv_direct(l)) { /* dx = dy W^T straight into place */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)K, l->units, 1.0f, g, l->units, W,
                        l->units, 0.0f, dx + (size_t)s * isz, (int)K);
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)K, l->units, 1.0f, g, l->units, W,
                        l->units, 0.0f, w->col, (int)K);
            col2im(l, w->col, m, dx + (size_t)s * isz);
        }
    }
}

/* ---- dense: x [n, K], W [K, units], y [n, units] ---- */

static void dense_forward(tp_nn *w, const tp_layer *l, const float *x, float *y, int n)
{
    const float *W = w->net->params + l->w, *b = w->net->params + l->b;
    int K = (int)(l->nw / (size_t)l->units), U = l->units;
    for (int s = 0; s < n; s++)
        memcpy(y + (size_t)s * (size_t)U, b, (size_t)U * sizeof *b);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, U, K, 1.0f, x, K, W, U, 1.0f, y, U);
    if (l->act == TP_ACT_RELU)
        for (size_t i = 0; i < (size_t)n * (size_t)U; i++)
            y[i] = y[i] > 0 ? y[i] : 0;
    else if (l->act == TP_ACT_SOFTMAX)
        for (int s = 0; s < n; s++) {
            float *p = y + (size_t)s * (size_t)U, mx = -FLT_MAX;
            for (int k = 0; k < U; k++)
                mx = p[k] > mx ? p[k] : mx;
            double sum = 0;
            for (int k = 0; k < U; k++)
                sum += p[k] = expf(p[k] - mx);
            for (int k = 0; k < U; k++)
                p[k] = (float)(p[k] / sum);
        }
}

static void dense_backward(tp_nn *w, const tp_layer *l, const float *x, const float *dy, float *dx, int n)
{
    const float *W = w->net->params + l->w;
    float *dW = w->grad + l->w, *db = w->grad + l->b;
    int K = (int)(l->nw / (size_t)l->units), U = l->units;
    for (int s = 0; s < n; s++)
        for (int k = 0; k < U; k++)
            db[k] += dy[(size_t)s * (size_t)U + (size_t)k];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, U, n, 1.0f, x, K, dy, U, 1.0f, dW, U);
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, K, U, 1.0f, dy, U, W, U, 0.0f, dx, K);
}

/* ---- pooling: x [n, ih, iw, c], y [n, oh, ow, c]; valid windows ---- */

static void pool_forward(tp_nn *w, int i, const tp_layer *l, const float *x, float *y, int n)
{
    size_t isz = (size_t)l->ih * (size_t)l->iw * (size_t)l->ic, osz = tp_layer_out_size(w->net, i);
    float inv = 1.0f / (float)(l->kh * l->kw);
    for (int s = 0; s < n; s++)
        for (int oy = 0; oy < l->oh; oy++)
            for (int ox = 0; ox < l->ow; ox++)
                for (int c = 0; c < l->ic; c++) {
                    float best = -FLT_MAX, sum = 0;
                    int32_t at = (int32_t)(((oy * l->sh) * l->iw + ox * l->sw) * l->ic + c); /* all NaN: the first */
                    for (int ky = 0; ky < l->kh; ky++)
                        for (int kx = 0; kx < l->kw; kx++) {
                            int32_t idx = (int32_t)((((oy * l->sh + ky) * l->iw) + ox * l->sw + kx) * l->ic + c);
                            float v = x[(size_t)s * isz + (size_t)idx];
                            sum += v;
                            if (v > best) {
                                best = v;
                                at = idx;
                            }
                        }
                    size_t o = (size_t)s * osz + ((size_t)oy * (size_t)l->ow + (size_t)ox) * (size_t)l->ic + (size_t)c;
                    if (l->kind == TP_L_MAXPOOL) {
                        y[o] = best;
                        if (w->arg[i]) /* kept for the backward pass */
                            w->arg[i][o] = at;
                    } else {
                        y[o] = sum * inv;
                    }
                }
}

static void pool_backward(tp_nn *w, int i, const tp_layer *l, const float *dy, float *dx, int n)
{
    size_t isz = (size_t)l->ih * (size_t)l->iw * (size_t)l->ic, osz = tp_layer_out_size(w->net, i);
    memset(dx, 0, (size_t)n * isz * sizeof *dx);
    float inv = 1.0f / (float)(l->kh * l->kw);
    for (int s = 0; s < n; s++)
        for (int oy = 0; oy < l->oh; oy++)
            for (int ox = 0; ox < l->ow; ox++)
                for (int c = 0; c < l->ic; c++) {
                    size_t o = (size_t)s * osz + ((size_t)oy * (size_t)l->ow + (size_t)ox) * (size_t)l->ic + (size_t)c;
                    if (l->kind == TP_L_MAXPOOL) {
                        dx[(size_t)s * isz + (size_t)w->arg[i][o]] += dy[o];
                        continue;
                    }
                    for (int ky = 0; ky < l->kh; ky++)
                        for (int kx = 0; kx < l->kw; kx++)
                            dx[(size_t)s * isz + (size_t)((((oy * l->sh + ky) * l->iw) + ox * l->sw + kx) * l->ic + c)] += dy[o] * inv;
                }
}

/* ---- global average pooling: x [n, h, w, c], y [n, c] ---- */

static void gap_forward(const tp_layer *l, const float *x, float *y, int n)
{
    size_t pix = (size_t)l->ih * (size_t)l->iw, C = (size_t)l->ic;
    for (int s = 0; s < n; s++) {
        float *o = y + (size_t)s * C;
        memset(o, 0, C * sizeof *o);
        for (size_t p = 0; p < pix; p++)
            for (size_t c = 0; c < C; c++)
                o[c] += x[((size_t)s * pix + p) * C + c];
        for (size_t c = 0; c < C; c++)
            o[c] /= (float)pix;
    }
}

static void gap_backward(const tp_layer *l, const float *dy, float *dx, int n)
{
    size_t pix = (size_t)l->ih * (size_t)l->iw, C = (size_t)l->ic;
    for (int s = 0; s < n; s++)
        for (size_t p = 0; p < pix; p++)
            for (size_t c = 0; c < C; c++)
                dx[((size_t)s * pix + p) * C + c] = dy[(size_t)s * C + c] / (float)pix;
}

/* ---- dropout: inverted; element e of sample s is kept when draw (s * size + e) of the
 * layer's key is at least rate * 2^32, so a GPU can reproduce the same mask ---- */

static void dropout_apply(const tp_layer *l, int i, const tp_rng *step, uint64_t first, const float *x, float *y,
                          size_t count)
{
    tp_rng r = tp_rng_split(step, (uint64_t)i);
    uint32_t cut = (uint32_t)((double)l->rate * 4294967296.0);
    float scale = 1.0f / (1.0f - l->rate);
    for (size_t e = 0; e < count; e++)
        y[e] = tp_rng_at(r.key, first + e) >= cut ? x[e] * scale : 0;
}

/* ---- batch normalisation over every axis but the channels ---- */

static void bn_forward(tp_nn *w, int i, const tp_layer *l, const float *x, float *y, int n, int train)
{
    float *P = w->net->params;
    const float *gamma = P + l->w, *beta = P + l->b;
    float *mmean = P + l->mean, *mvar = P + l->var;
    size_t C = (size_t)l->oc, rows = (size_t)n * tp_layer_out_size(w->net, i) / C;
    float *xhat = w->infer ? NULL : w->bn[i];
    float *mean = xhat ? xhat + (size_t)w->cap * tp_layer_out_size(w->net, i) : w->bn[i], *istd = mean + C;
    TP_ASSERT(!(train && w->infer));
    if (train) {
        double *sum = tp_calloc(C, sizeof *sum), *sq = tp_calloc(C, sizeof *sq);
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < C; c++) {
                double v = x[r * C + c];
                sum[c] += v;
                sq[c] += v * v;
            }
        for (size_t c = 0; c < C; c++) {
            double m = sum[c] / (double)rows, var = sq[c] / (double)rows - m * m;
            var = var > 0 ? var : 0;
            mean[c] = (float)m;
            istd[c] = (float)(1.0 / sqrt(var + l->eps));
            double unbiased = rows > 1 ? var * (double)rows / (double)(rows - 1) : var;
            if (w->update_stats) {
                mmean[c] = (float)(l->momentum * mmean[c] + (1 - l->momentum) * m);
                mvar[c] = (float)(l->momentum * mvar[c] + (1 - l->momentum) * unbiased);
            }
        }
        free(sum);
        free(sq);
    } else {
        for (size_t c = 0; c < C; c++) {
            mean[c] = mmean[c];
            istd[c] = 1.0f / sqrtf(mvar[c] + l->eps);
        }
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < C; c++) {
            float h = (x[r * C + c] - mean[c]) * istd[c];
            if (xhat)
                xhat[r * C + c] = h;
            y[r * C + c] = gamma[c] * h + beta[c];
        }
}

static void bn_backward(tp_nn *w, int i, const tp_layer *l, const float *dy, float *dx, int n)
{
    const float *gamma = w->net->params + l->w;
    float *dg = w->grad + l->w, *dbeta = w->grad + l->b;
    size_t C = (size_t)l->oc, rows = (size_t)n * tp_layer_out_size(w->net, i) / C;
    const float *xhat = w->bn[i], *istd = xhat + (size_t)w->cap * tp_layer_out_size(w->net, i) + C;
    double *s1 = tp_calloc(C, sizeof *s1), *s2 = tp_calloc(C, sizeof *s2);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < C; c++) {
            double g = dy[r * C + c];
            s1[c] += g;
            s2[c] += g * xhat[r * C + c];
        }
    for (size_t c = 0; c < C; c++) {
        dbeta[c] += (float)s1[c];
        dg[c] += (float)s2[c];
    }
    if (dx)
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < C; c++)
                dx[r * C + c] = (float)(gamma[c] * istd[c] / (double)rows *
                                        ((double)rows * dy[r * C + c] - s1[c] - xhat[r * C + c] * s2[c]));
    free(s1);
    free(s2);
}

/* ---- the whole network ---- */

void tp_nn_forward(tp_nn *w, int n, int train, const tp_rng *step)
{
    TP_ASSERT(n >= 0 && n <= w->cap && !(train && w->infer));
    tp_net *net = w->net;
    if (train && step)
        w->step = *step;
    for (int i = 0; i < net->n; i++) {
        const tp_layer *l = &net->l[i];
        const float *x = w->a[i];
        float *y = w->a[i + 1];
        size_t count = (size_t)n * tp_layer_out_size(net, i);
        switch (l->kind) {
        case TP_L_CONV: conv_forward(w, l, x, y, n); break;
        case TP_L_DENSE: dense_forward(w, l, x, y, n); break;
        case TP_L_MAXPOOL:
        case TP_L_AVGPOOL: pool_forward(w, i, l, x, y, n); break;
        case TP_L_GAP: gap_forward(l, x, y, n); break;
        case TP_L_FLATTEN: memcpy(y, x, count * sizeof *y); break;
        case TP_L_RELU:
            for (size_t e = 0; e < count; e++)
                y[e] = x[e] > 0 ? x[e] : 0;
            break;
        case TP_L_DROPOUT:
            if (train && l->rate > 0)
                dropout_apply(l, i, &w->step, (uint64_t)w->first * tp_layer_out_size(net, i), x, y, count);
            else
                memcpy(y, x, count * sizeof *y);
            break;
        case TP_L_BATCHNORM: bn_forward(w, i, l, x, y, n, train); break;
        }
    }
}

double tp_nn_backward(tp_nn *w, int n, const int32_t *labels, float smoothing)
{
    tp_net *net = w->net;
    int L = net->n, K = net->classes;
    memset(w->grad, 0, net->ntrain * sizeof *w->grad);
    /* softmax + cross-entropy: d loss / d logits = (p - t) / n */
    const float *p = w->a[L];
    float *g = w->g[L];
    double loss = 0;
    float off = smoothing / (float)K, on = 1 - smoothing + off;
    for (int s = 0; s < n; s++)
        for (int k = 0; k < K; k++) {
            float t = k == labels[s] ? on : off, pk = p[(size_t)s * (size_t)K + (size_t)k];
            if (t > 0) /* a NaN probability must make a NaN loss, not a clamped one */
                loss -= t * (isnan(pk) ? NAN : log(pk > 1e-30f ? pk : 1e-30f));
            g[(size_t)s * (size_t)K + (size_t)k] = (pk - t) / (float)n;
        }
    int stop = net->frozen > 0 && net->frozen < L ? net->frozen : 0;
    for (int i = L - 1; i >= stop; i--) {
        const tp_layer *l = &net->l[i];
        const float *x = w->a[i], *y = w->a[i + 1];
        float *dy = w->g[i + 1], *dx = i > stop ? w->g[i] : NULL;
        size_t count = (size_t)n * tp_layer_out_size(net, i);
        if (l->act == TP_ACT_RELU) /* through the fused activation */
            for (size_t e = 0; e < count; e++)
                dy[e] = y[e] > 0 ? dy[e] : 0;
        switch (l->kind) {
        case TP_L_CONV: conv_backward(w, l, x, dy, dx, n); break;
        case TP_L_DENSE: dense_backward(w, l, x, dy, dx, n); break;
        case TP_L_MAXPOOL:
        case TP_L_AVGPOOL:
            if (dx)
                pool_backward(w, i, l, dy, dx, n);
            break;
        case TP_L_GAP:
            if (dx)
                gap_backward(l, dy, dx, n);
            break;
        case TP_L_FLATTEN:
            if (dx)
                memcpy(dx, dy, count * sizeof *dx);
            break;
        case TP_L_RELU:
            if (dx)
                for (size_t e = 0; e < count; e++)
                    dx[e] = y[e] > 0 ? dy[e] : 0;
            break;
        case TP_L_DROPOUT:
            if (dx && l->rate > 0) /* the same mask again: dx = dy * mask / (1 - rate) */
                dropout_apply(l, i, &w->step, (uint64_t)w->first * tp_layer_out_size(net, i), dy, dx, count);
            else if (dx)
                memcpy(dx, dy, count * sizeof *dx);
            break;
        case TP_L_BATCHNORM: bn_backward(w, i, l, dy, dx, n); break;
        }
    }
    return loss / (n ? n : 1);
}

void tp_net_init(tp_net *net, uint64_t seed)
{
    tp_rng root;
    tp_rng_seed(&root, seed);
    for (int i = 0; i < net->n; i++) {
        tp_layer *l = &net->l[i];
        float *w = net->params + l->w, *b = net->params + l->b;
        if (l->kind == TP_L_CONV || l->kind == TP_L_DENSE) {
            double fan_in = (double)l->nw / l->units, fan_out = (double)l->units;
            if (l->kind == TP_L_CONV) /* Keras: receptive field times channels */
                fan_out = (double)l->kh * l->kw * l->units;
            double limit = l->he ? sqrt(6.0 / fan_in) : sqrt(6.0 / (fan_in + fan_out));
            tp_rng r = tp_rng_split(&root, (uint64_t)i);
            for (size_t k = 0; k < l->nw; k++)
                w[k] = (float)((2 * tp_rng_double(&r) - 1) * limit);
            memset(b, 0, l->nb * sizeof *b);
        } else if (l->kind == TP_L_BATCHNORM) {
            for (size_t k = 0; k < l->nb; k++) {
                w[k] = 1;
                b[k] = 0;
                net->params[l->mean + k] = 0;
                net->params[l->var + k] = 1;
            }
        }
    }
}
