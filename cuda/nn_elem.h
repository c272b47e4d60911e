/* nn_elem.h — the per-element work of cuda/nn.cu's index-heavy kernels (im2col and its
 * adjoint, pooling forward and backward, the data gather, the softmax cross-entropy) as
 * plain C functions of one output index. The kernels call them for each index they own;
 * tests/unit/test_gpu_elem.c calls them for every index on the host and compares the
 * results with nn.c and trainer.c, so this arithmetic is checked on machines without a GPU.
 *
 * Shapes as in nn.c: activations NHWC, im2col rows (s, oy, ox) with columns (ky, kx, c). */
#ifndef TP_NN_ELEM_H
#define TP_NN_ELEM_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gpu_nn.h"
#include "philox.h"
#include "preprocess.h"
#include "stream.h"

/* The elements a row-major operand of rows x cols with row stride ld spans: rows - 1 strides
 * and one row. tp_gemm's bf16 staging converts exactly these, and no element past them. */
static inline size_t tp_operand_extent(int rows, int cols, int ld)
{
    return rows > 0 && cols > 0 ? (size_t)(rows - 1) * (size_t)ld + (size_t)cols : 0;
}

/* Where the second operand's bf16 copy starts after the first's na elements in the staging
 * buffer: the next multiple of 8 elements, 16 bytes, so that cuBLAS may use tensor cores. */
static inline size_t tp_bf16_offset(size_t na) { return (na + 7) / 8 * 8; }

/* A convolution's or a pool's geometry: input, output, kernel, strides, leading padding. */
typedef struct {
    int ih, iw, ic, oh, ow, kh, kw, sh, sw, pt, pl;
} tp_conv_shape;

/* The geometry of a conv or pool layer. */
static inline tp_conv_shape tp_conv_shape_of(const tp_layer *l)
{
    tp_conv_shape s = {l->ih, l->iw, l->ic, l->oh, l->ow, l->kh, l->kw, l->sh, l->sw, l->pad_t, l->pad_l};
    return s;
}

/* im2col entry i: x[s, oy*sh + ky - pt, ox*sw + kx - pl, c], or 0 outside the image. */
TP_HD static inline float tp_im2col_at(const tp_conv_shape *c, const float *x, size_t i)
{
    size_t K = (size_t)c->kh * (size_t)c->kw * (size_t)c->ic, row = i / K, k = i % K;
    int ch = (int)(k % (size_t)c->ic), kx = (int)(k / (size_t)c->ic % (size_t)c->kw);
    int ky = (int)(k / ((size_t)c->ic * (size_t)c->kw));
    int ox = (int)(row % (size_t)c->ow), oy = (int)(row / (size_t)c->ow % (size_t)c->oh);
    size_t s = row / ((size_t)c->ow * (size_t)c->oh);
    int iy = oy * c->sh + ky - c->pt, ix = ox * c->sw + kx - c->pl;
    if (iy < 0 || iy >= c->ih || ix < 0 || ix >= c->iw)
        return 0.0f;
    return x[((s * (size_t)c->ih + (size_t)iy) * (size_t)c->iw + (size_t)ix) * (size_t)c->ic + (size_t)ch];
}

/* dx entry i (s, iy, ix, c) of im2col's adjoint: the sum of every column entry im2col read
 * from there, in the order nn.c's col2im adds them (output rows ascending, so kernel
 * offsets descending). */
TP_HD static inline float tp_col2im_at(const tp_conv_shape *c, const float *col, size_t i)
{
    size_t K = (size_t)c->kh * (size_t)c->kw * (size_t)c->ic;
    int ch = (int)(i % (size_t)c->ic), ix = (int)(i / (size_t)c->ic % (size_t)c->iw);
    int iy = (int)(i / ((size_t)c->ic * (size_t)c->iw) % (size_t)c->ih);
    size_t s = i / ((size_t)c->ic * (size_t)c->iw * (size_t)c->ih);
    float sum = 0;
    for (int ky = c->kh - 1; ky >= 0; ky--) {
        int ty = iy + c->pt - ky;
        if (ty < 0 || ty % c->sh)
            continue;
        int oy = ty / c->sh;
        if (oy >= c->oh)
            continue;
        for (int kx = c->kw - 1; kx >= 0; kx--) {
            int tx = ix + c->pl - kx;
            if (tx < 0 || tx % c->sw)
                continue;
            int ox = tx / c->sw;
            if (ox >= c->ow)
                continue;
            sum += col[((s * (size_t)c->oh + (size_t)oy) * (size_t)c->ow + (size_t)ox) * K +
                       ((size_t)ky * (size_t)c->kw + (size_t)kx) * (size_t)c->ic + (size_t)ch];
        }
    }
    return sum;
}

/* Pool output o (s, oy, ox, c) over its valid window: the maximum, with *at its index
 * within the sample (the window's first element when none compares greater, e.g. all
 * NaN), or the mean. */
TP_HD static inline float tp_pool_fwd_at(const tp_conv_shape *c, int maxpool, const float *x, size_t o, int32_t *at)
{
    size_t osz = (size_t)c->oh * (size_t)c->ow * (size_t)c->ic, isz = (size_t)c->ih * (size_t)c->iw * (size_t)c->ic;
    size_t s = o / osz, r = o % osz;
    int ch = (int)(r % (size_t)c->ic), ox = (int)(r / (size_t)c->ic % (size_t)c->ow);
    int oy = (int)(r / ((size_t)c->ic * (size_t)c->ow));
    float best = -FLT_MAX, sum = 0;
    int32_t where = (int32_t)(((oy * c->sh) * c->iw + ox * c->sw) * c->ic + ch);
    for (int ky = 0; ky < c->kh; ky++)
        for (int kx = 0; kx < c->kw; kx++) {
            int32_t idx = (int32_t)((((oy * c->sh + ky) * c->iw) + ox * c->sw + kx) * c->ic + ch);
            float v = x[s * isz + (size_t)idx];
            sum += v;
            if (v > best) {
                best = v;
                where = idx;
            }
        }
    *at = where;
    return maxpool ? best : sum * (1.0f / (float)(c->kh * c->kw));
}

/* Pool input gradient i (s, iy, ix, c): the sum over the windows holding it, in output
 * order as nn.c adds (a max-pool passes dy only where its argmax is this element). */
TP_HD static inline float tp_pool_bwd_at(const tp_conv_shape *c, int maxpool, const float *dy, const int32_t *arg,
                                         size_t i)
{
    size_t osz = (size_t)c->oh * (size_t)c->ow * (size_t)c->ic, isz = (size_t)c->ih * (size_t)c->iw * (size_t)c->ic;
    size_t s = i / isz, r = i % isz;
    int ch = (int)(r % (size_t)c->ic), ix = (int)(r / (size_t)c->ic % (size_t)c->iw);
    int iy = (int)(r / ((size_t)c->ic * (size_t)c->iw));
    int y0 = iy - c->kh + 1, x0 = ix - c->kw + 1;
    y0 = y0 <= 0 ? 0 : (y0 + c->sh - 1) / c->sh;
    x0 = x0 <= 0 ? 0 : (x0 + c->sw - 1) / c->sw;
    int y1 = iy / c->sh, x1 = ix / c->sw;
    y1 = y1 < c->oh - 1 ? y1 : c->oh - 1;
    x1 = x1 < c->ow - 1 ? x1 : c->ow - 1;
    float inv = 1.0f / (float)(c->kh * c->kw), sum = 0;
    for (int oy = y0; oy <= y1; oy++)
        for (int ox = x0; ox <= x1; ox++) {
            size_t o = s * osz + ((size_t)oy * (size_t)c->ow + (size_t)ox) * (size_t)c->ic + (size_t)ch;
            if (maxpool)
                sum += arg[o] == (int32_t)r ? dy[o] : 0.0f;
            else
                sum += dy[o] * inv;
        }
    return sum;
}

/* Values per gather work item: a pixel's channels for the modes that mix them, else one. */
TP_HD static inline int tp_gather_width(const tp_gnn_records *f) { return tp_prep_width(f->prep); }

/* Gather work item i of a batch (sample i / items, item i % items, items = xelem / width):
 * record idx[s]'s values scaled and prepared into x[s] (dataset.c's input and
 * tp_prep_apply), and item 0 also writes its label. */
TP_HD static inline void tp_gather_at(const unsigned char *rec, const tp_gnn_records *f, const int64_t *idx, size_t i,
                                      float *x, int32_t *lab)
{
    int C = tp_gather_width(f);
    size_t items = (size_t)f->xelem / (size_t)C, s = i / items, q = i % items;
    const unsigned char *r = rec + (size_t)idx[s] * f->rsz;
    float v[3];
    for (int c = 0; c < C && c < 3; c++)
        v[c] = (float)(tp_elem_at(r + f->xoff, f->xdtype, (int64_t)(q * (size_t)C + (size_t)c)) * f->scale);
    tp_prep_values(f->prep, v, x + s * (size_t)f->xelem + q * (size_t)C);
    if (q == 0)
        lab[s] = (int32_t)tp_elem_at(r + f->yoff, f->ydtype, 0);
}

/* Sample s of n with probabilities p[s, K]: train: the logits' gradient (p - t) / n into g
 * and the smoothed cross-entropy (on, off: the targets) into per[s]; else per[s] is the
 * clamped loss of the true class (trainer.c's evaluation). per[n + s] = 1 when the argmax
 * (the first on ties) is the label. */
TP_HD static inline void tp_xent_at(const float *p, const int32_t *lab, float *g, int n, int K, float on, float off,
                                    int train, double *per, size_t s)
{
    const float *ps = p + s * (size_t)K;
    double loss = 0;
    int best = 0;
    for (int k = 0; k < K; k++) {
        float pk = ps[k];
        best = pk > ps[best] ? k : best;
        if (!train)
            continue;
        float t = k == lab[s] ? on : off;
        if (t > 0)
            loss -= t * (isnan(pk) ? (double)NAN : log((double)(pk > 1e-30f ? pk : 1e-30f)));
        g[s * (size_t)K + (size_t)k] = (pk - t) / (float)n;
    }
    if (!train) {
        float py = ps[lab[s]];
        loss = -log((double)(py > 1e-30f ? py : 1e-30f));
    }
    per[s] = loss;
    per[(size_t)n + s] = best == lab[s] ? 1.0 : 0.0;
}

#endif
