/* The per-element arithmetic of the GPU's network kernels (cuda/nn_elem.h: im2col and its
 * adjoint, pooling forward and backward, the data gather, the softmax cross-entropy), run
 * for every index on the host and compared with the CPU's own passes (nn.c, dataset.c).
 * This needs no GPU: it checks the index arithmetic, padding, strides, window ranges,
 * dtype conversions and preprocessing modes the kernels share, so on a GPU only the
 * launches and the cuBLAS products remain to be checked (test_gpu_nn.c).
 *
 * Exactness: pooling, the gather and the loss gradient do the same float operations in
 * the same order as the CPU and must agree bit for bit; a convolution's emulated output is
 * the same sgemm call on the same im2col matrix, and its input gradient sums the same
 * products in the same order, so they agree to the last bits too (bound 1e-6 relative,
 * for OpenBLAS blocking the CPU's chunks differently). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "../../cuda/nn_elem.h"
#include "check.h"
#include "nn.h"
#include "rng.h"
#include "dataset.h"
#include "util.h"

/* max |a - b| / max |b| over n values, NaN counted as equal to NaN only */
static double reldiff(const float *a, const float *b, size_t n)
{
    double d = 0, m = 1e-30;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) {
            if (isnan(a[i]) != isnan(b[i]))
                return INFINITY;
            continue;
        }
        d = fabs((double)a[i] - b[i]) > d ? fabs((double)a[i] - b[i]) : d;
        m = fabs(b[i]) > m ? fabs(b[i]) : m;
    }
    return d / m;
}

static int net_of(tp_net *net, const char *text, int h, int w, int c)
{
    memset(net, 0, sizeof *net);
    char err[256];
    if (tp_net_parse(net, text, "case", err, sizeof err) || tp_net_build(net, h, w, c, "case", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        check_failures++;
        return -1;
    }
    tp_net_init(net, 9);
    return 0;
}

/* CPU forward and backward of net on n random samples (labels drawn too); nan_block puts
 * NaN into the first 3 x 3 pixels of every input image. */
static void run_cpu(tp_nn *w, tp_net *net, int n, uint64_t seed, int nan_block)
{
    tp_nn_init(w, net, n);
    tp_rng r;
    tp_rng_seed(&r, seed);
    size_t in = tp_layer_out_size(net, -1) * (size_t)n;
    for (size_t i = 0; i < in; i++)
        w->a[0][i] = (float)tp_rng_normal(&r);
    for (int s = 0; nan_block && s < n; s++)
        for (int yy = 0; yy < 3; yy++)
            for (int xx = 0; xx < 3; xx++)
                for (int k = 0; k < net->ic; k++)
                    w->a[0][(((size_t)s * (size_t)net->ih + (size_t)yy) * (size_t)net->iw + (size_t)xx) * (size_t)net->ic +
                            (size_t)k] = NAN;
    int32_t *y = tp_alloc((size_t)n, sizeof *y);
    for (int s = 0; s < n; s++)
        y[s] = (int32_t)tp_rng_below(&r, (uint64_t)net->classes);
    tp_rng step;
    tp_rng_seed(&step, seed + 1);
    tp_nn_forward(w, n, 1, &step);
    tp_nn_backward(w, n, y, 0.1f);
    free(y);
}

/* Layer 1 of "conv 3 1x1 / LAYER / flatten / dense 4 softmax", a convolution: its output
 * from im2col + sgemm, and its input gradient from dy W^T and the gathered col2im. */
static void conv_case(const char *layer, int h, int wd, int c, int n)
{
    char text[256];
    snprintf(text, sizeof text, "conv 3 1x1\n%s\nflatten\ndense 4 softmax\n", layer);
    tp_net net;
    if (net_of(&net, text, h, wd, c))
        return;
    tp_nn w;
    run_cpu(&w, &net, n, 21, 0);
    const tp_layer *l = &net.l[1];
    tp_conv_shape sh = tp_conv_shape_of(l);
    size_t K = (size_t)l->kh * (size_t)l->kw * (size_t)l->ic, rows = (size_t)n * (size_t)l->oh * (size_t)l->ow;
    size_t U = (size_t)l->units, isz = (size_t)n * (size_t)l->ih * (size_t)l->iw * (size_t)l->ic;
    float *col = tp_alloc(rows * K, sizeof *col), *y = tp_alloc(rows * U, sizeof *y), *dx = tp_alloc(isz, sizeof *dx);
    for (size_t i = 0; i < rows * K; i++)
        col[i] = tp_im2col_at(&sh, w.a[1], i);
    for (size_t r = 0; r < rows; r++)
        memcpy(y + r * U, net.params + l->b, U * sizeof *y);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)U, (int)K, 1.0f, col, (int)K,
                net.params + l->w, (int)U, 1.0f, y, (int)U);
    for (size_t i = 0; i < rows * U; i++)
        y[i] = l->act == TP_ACT_RELU && !(y[i] > 0) ? 0 : y[i];
    double ry = reldiff(y, w.a[2], rows * U);
    /* dy (already through the ReLU: w.g[2]) back into the columns, then gathered */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)K, (int)U, 1.0f, w.g[2], (int)U,
                net.params + l->w, (int)U, 0.0f, col, (int)K);
    for (size_t i = 0; i < isz; i++)
        dx[i] = tp_col2im_at(&sh, col, i);
    double rd = reldiff(dx, w.g[1], isz);
    if (!(ry <= 1e-6) || !(rd <= 1e-6)) {
        fprintf(stderr, "%s on %dx%dx%d: output differs by %g, input gradient by %g\n", layer, h, wd, c, ry, rd);
        check_failures++;
    }
    free(col), free(y), free(dx);
    tp_nn_free(&w);
    tp_net_free(&net);
}

/* Layer 1 a pool: output, argmax and input gradient, exactly (NaN where the CPU has NaN).
 * nan_block: NaN in a corner of every input, so some max-pool windows are all NaN. */
static void pool_case(const char *layer, int h, int wd, int c, int n, int nan_block)
{
    char text[256];
    snprintf(text, sizeof text, "conv 3 1x1\n%s\nflatten\ndense 4 softmax\n", layer);
    tp_net net;
    if (net_of(&net, text, h, wd, c))
        return;
    tp_nn w;
    run_cpu(&w, &net, n, 33, nan_block);
    const tp_layer *l = &net.l[1];
    int maxpool = l->kind == TP_L_MAXPOOL;
    tp_conv_shape sh = tp_conv_shape_of(l);
    size_t osz = (size_t)n * (size_t)l->oh * (size_t)l->ow * (size_t)l->oc, isz = (size_t)n * (size_t)l->ih * (size_t)l->iw * (size_t)l->ic;
    float *y = tp_alloc(osz, sizeof *y), *dx = tp_alloc(isz, sizeof *dx);
    int32_t *arg = tp_alloc(osz, sizeof *arg);
    for (size_t o = 0; o < osz; o++)
        y[o] = tp_pool_fwd_at(&sh, maxpool, w.a[1], o, &arg[o]);
    /* a window inside the NaN corner: -FLT_MAX, and its first element takes the gradient */
    for (size_t o = 0; o < osz && maxpool && nan_block; o++) {
        size_t q = o % ((size_t)l->oh * (size_t)l->ow * (size_t)l->oc);
        int ch = (int)(q % (size_t)l->oc), ox = (int)(q / (size_t)l->oc % (size_t)l->ow);
        int oy = (int)(q / ((size_t)l->oc * (size_t)l->ow));
        if (oy * l->sh + l->kh <= 3 && ox * l->sw + l->kw <= 3) {
            CHECK(y[o] == -FLT_MAX);
            CHECK_INT(arg[o], ((oy * l->sh) * l->iw + ox * l->sw) * l->ic + ch);
        }
    }
    CHECK(reldiff(y, w.a[2], osz) == 0);
    if (maxpool)
        CHECK(memcmp(arg, w.arg[1], osz * sizeof *arg) == 0);
    for (size_t i = 0; i < isz; i++)
        dx[i] = tp_pool_bwd_at(&sh, maxpool, w.g[2], w.arg[1], i);
    if (reldiff(dx, w.g[1], isz) != 0) {
        fprintf(stderr, "%s on %dx%dx%d%s: input gradient differs by %g\n", layer, h, wd, c, nan_block ? " with NaN" : "",
                reldiff(dx, w.g[1], isz));
        check_failures++;
    }
    free(y), free(dx), free(arg);
    tp_nn_free(&w);
    tp_net_free(&net);
}

/* The loss gradient and terms of the softmax cross-entropy against nn.c's backward. */
static void xent_case(void)
{
    tp_net net;
    if (net_of(&net, "dense 12 relu\ndense 7 softmax\n", 1, 1, 9))
        return;
    int n = 23, K = net.classes;
    tp_nn w;
    tp_nn_init(&w, &net, n);
    tp_rng r;
    tp_rng_seed(&r, 4);
    int32_t y[23];
    for (int i = 0; i < n * 9; i++)
        w.a[0][i] = (float)tp_rng_normal(&r);
    for (int s = 0; s < n; s++)
        y[s] = (int32_t)tp_rng_below(&r, (uint64_t)K);
    tp_nn_forward(&w, n, 1, &r);
    double loss = tp_nn_backward(&w, n, y, 0.1f) * n;
    float *g = tp_alloc((size_t)n * (size_t)K, sizeof *g);
    double per[46], sum = 0, right = 0;
    float off = 0.1f / (float)K, on = 1 - 0.1f + off;
    for (int s = 0; s < n; s++)
        tp_xent_at(w.a[net.n], y, g, n, K, on, off, 1, per, (size_t)s);
    for (int s = 0; s < n; s++)
        sum += per[s], right += per[n + s];
    CHECK(memcmp(g, w.g[net.n], (size_t)n * (size_t)K * sizeof *g) == 0);
    CHECK_NEAR(sum, loss, 1e-12 * fabs(loss));
    int64_t rc = 0;
    for (int s = 0; s < n; s++)
        rc += tp_argmax(w.a[net.n] + (size_t)s * (size_t)K, K) == y[s];
    CHECK_INT((int64_t)right, rc);
    /* scoring: the clamped loss of the true class */
    for (int s = 0; s < n; s++)
        tp_xent_at(w.a[net.n], y, NULL, n, K, on, off, 0, per, (size_t)s);
    for (int s = 0; s < n; s++) {
        float py = w.a[net.n][(size_t)s * (size_t)K + (size_t)y[s]];
        CHECK(per[s] == -log(py > 1e-30f ? py : 1e-30f));
    }
    free(g);
    tp_nn_free(&w);
    tp_net_free(&net);
}

/* The gather of records (x of dtype xd, h x w x 3; label of dtype yd) in each preparation
 * mode against dataset.c's tp_dataset_input, bit for bit. */
static void gather_case(tp_dtype xd, tp_dtype yd, tp_prep_mode mode)
{
    int h = 5, wd = 4, c = 3, N = 40, n = 17;
    tp_net net;
    if (net_of(&net, "flatten\ndense 10 softmax\n", h, wd, c))
        return;
    tp_field fx, fy;
    memset(&fx, 0, sizeof fx);
    memset(&fy, 0, sizeof fy);
    fx.dtype = xd;
    fx.nelem = (size_t)h * (size_t)wd * (size_t)c;
    fx.nbytes = fx.nelem * tp_dtype_size(xd);
    fx.offset = 3; /* unaligned on purpose: the kernel reads with memcpy */
    fy.dtype = yd;
    fy.nelem = 1;
    fy.nbytes = tp_dtype_size(yd);
    fy.offset = fx.offset + fx.nbytes;
    size_t rsz = fy.offset + fy.nbytes;
    unsigned char *recs = tp_calloc((size_t)N, rsz), *fetched = tp_calloc((size_t)n, rsz);
    tp_rng r;
    tp_rng_seed(&r, 77 + (uint64_t)xd * 10 + (uint64_t)mode);
    for (int i = 0; i < N; i++) {
        unsigned char *rec = recs + (size_t)i * rsz;
        for (size_t e = 0; e < fx.nelem; e++) {
            double v = (double)tp_rng_below(&r, 256);
            unsigned char *p = rec + fx.offset + e * tp_dtype_size(xd);
            if (xd == TP_U8) {
                p[0] = (unsigned char)v;
            } else if (xd == TP_I16) {
                int16_t q = (int16_t)(v - 128);
                memcpy(p, &q, 2);
            } else if (xd == TP_F16) {
                uint16_t q = tp_float_to_half((float)(v / 7.0));
                memcpy(p, &q, 2);
            } else {
                float q = (float)(v / 3.0);
                memcpy(p, &q, 4);
            }
        }
        int64_t label = (int64_t)tp_rng_below(&r, 10);
        unsigned char *p = rec + fy.offset;
        if (yd == TP_U8)
            p[0] = (unsigned char)label;
        else if (yd == TP_I32) {
            int32_t q = (int32_t)label;
            memcpy(p, &q, 4);
        } else
            memcpy(p, &label, 8);
    }
    int64_t idx[17];
    for (int s = 0; s < n; s++) {
        idx[s] = (int64_t)tp_rng_below(&r, (uint64_t)N);
        memcpy(fetched + (size_t)s * rsz, recs + (size_t)idx[s] * rsz, rsz);
    }
    tp_prep prep = tp_prep_make(mode, 1 / 255.0);
    tp_dataset d;
    memset(&d, 0, sizeof d);
    d.x = &fx;
    d.y = &fy;
    d.rsz = rsz;
    d.n = N;
    d.name = "records";
    float *want = tp_alloc((size_t)n * fx.nelem, sizeof *want), *got = tp_alloc((size_t)n * fx.nelem, sizeof *got);
    int32_t lw[17], lg[17];
    tp_batch b = {fetched, idx, n};
    tp_input in = {prep, NULL, 0};
    tp_dataset_input(&d, &b, &in, &net, NULL, NULL, want, lw);
    tp_gnn_records f = {rsz, fx.offset, fy.offset, xd, yd, (int64_t)fx.nelem, prep.scale, (int)mode, c};
    size_t items = (size_t)n * fx.nelem / (size_t)tp_gather_width(&f);
    for (size_t i = 0; i < items; i++)
        tp_gather_at(recs, &f, idx, i, got, lg);
    if (memcmp(want, got, (size_t)n * fx.nelem * sizeof *got) || memcmp(lw, lg, sizeof lw)) {
        fprintf(stderr, "gather of %s x, %s y, %s: differs by %g\n", tp_dtype_name(xd), tp_dtype_name(yd),
                tp_prep_name(mode), reldiff(got, want, (size_t)n * fx.nelem));
        check_failures++;
    }
    free(recs), free(fetched), free(want), free(got);
    tp_net_free(&net);
}

/* tp_gemm's bf16 staging: each operand's extent is one past the last element a row-major
 * GEMM reads of it, so converting it reads nothing past the operand, and B's copy starts
 * on a 16-byte boundary after A's without overlapping it. */
static void test_staging(void)
{
    tp_rng r;
    tp_rng_seed(&r, 5);
    for (int c = 0; c < 200; c++) {
        int rows = 1 + (int)tp_rng_below(&r, 40), cols = 1 + (int)tp_rng_below(&r, 40);
        int ld = cols + (int)tp_rng_below(&r, 5);
        size_t last = 0;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                size_t at = (size_t)i * (size_t)ld + (size_t)j;
                last = at > last ? at : last;
            }
        size_t e = tp_operand_extent(rows, cols, ld), off = tp_bf16_offset(e);
        CHECK_INT(e, last + 1);
        CHECK(off >= e && off - e < 8 && off % 8 == 0);
    }
    CHECK_INT(tp_operand_extent(0, 5, 5), 0);
}

int main(void)
{
    static const struct {
        const char *layer;
        int h, w, c, n;
    } convs[] = {
        {"conv 6 3x3 relu", 9, 8, 3, 4},
        {"conv 6 3x3 pad=same relu", 9, 8, 3, 4},
        {"conv 6 3x3 stride=2 pad=valid", 11, 9, 2, 3},
        {"conv 5 5x5 stride=2 pad=same relu", 10, 10, 2, 3},
        {"conv 7 1x1 relu", 6, 6, 3, 5},
        {"conv 5 3x2 stride=2 pad=same", 9, 7, 2, 3}, /* top padding 1, left 0 */
        {"conv 5 2x3 stride=2 pad=same", 7, 9, 2, 3}, /* top 0, left 1 */
        {"conv 3 4x4 pad=same relu", 8, 7, 2, 3},
        {"conv 4 2x3 stride=3 pad=valid", 11, 13, 3, 2},
    };
    for (size_t i = 0; i < sizeof convs / sizeof *convs; i++)
        conv_case(convs[i].layer, convs[i].h, convs[i].w, convs[i].c, convs[i].n);
    static const struct {
        const char *layer;
        int h, w, c, n;
    } pools[] = {
        {"maxpool 2", 8, 8, 2, 4},          {"maxpool 3 stride=2", 9, 9, 2, 4}, {"maxpool 3 stride=2", 10, 10, 2, 3},
        {"avgpool 2", 8, 6, 2, 4},          {"avgpool 3 stride=2", 10, 9, 2, 4}, {"maxpool 2 stride=1", 5, 6, 3, 2},
        {"avgpool 3 stride=1", 6, 5, 2, 2},
    };
    for (size_t i = 0; i < sizeof pools / sizeof *pools; i++) {
        pool_case(pools[i].layer, pools[i].h, pools[i].w, pools[i].c, pools[i].n, 0);
        pool_case(pools[i].layer, pools[i].h, pools[i].w, pools[i].c, pools[i].n, 1);
    }
    xent_case();
    static const tp_dtype xds[] = {TP_U8, TP_I16, TP_F16, TP_F32};
    static const tp_dtype yds[] = {TP_U8, TP_I32, TP_I64, TP_U8};
    static const tp_prep_mode modes[] = {TP_PREP_RESCALE, TP_PREP_CAFFE, TP_PREP_TF, TP_PREP_TORCH};
    for (int a = 0; a < 4; a++)
        for (int m = 0; m < 4; m++)
            gather_case(xds[a], yds[a], modes[m]);
    test_staging();
    return check_result();
}
