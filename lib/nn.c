/* nn.c — see nn.h. Each layer kind has a forward and a backward function below, with the
 * shapes of its tensors in the comment above it. */
#include "nn.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "parallel.h"
#include "util.h"
#include "winograd.h"

#define TILE_FLOATS (64u << 10)  /* an im2col tile's target: 256 KiB, well inside a core's L2, and
                                     pieces enough for the threads to share */
#define TILE_MIN_ROWS 512         /* but rows enough that packing the kernel costs little */
#define DENSE_ROWS 16             /* a dense layer's row tile */
#define CHUNK (1u << 14)          /* elementwise work: floats per piece */

/* 1 when a conv layer's im2col is its input itself (1x1, stride 1, no padding). */
static int conv_direct(const tp_layer *l) { return l->kh == 1 && l->kw == 1 && l->sh == 1 && l->sw == 1; }

static size_t conv_k(const tp_layer *l) { return (size_t)l->kh * (size_t)l->kw * (size_t)l->ic; }

/* Winograd's output tile for a pass of a conv layer (0: im2col + sgemm): 3x3 kernels of
 * stride 1 with 16 or more channels in and out (fewer make products too thin to gain).
 * F(4x4) where the pass's output is at least 8 x 8, else F(2x2) (a 4x4 tile would be mostly
 * past the edge); the kernel gradient always F(2x2), since it sums over every tile of the
 * batch and F(4x4)'s larger transform constants would grow its rounding error with them. */
static int wino_m(const tp_nn *w, const tp_layer *l, tp_conv_pass pass)
{
    if (w->reference || l->kh != 3 || l->kw != 3 || l->sh != 1 || l->sw != 1 || l->ic < 16 || l->units < 16)
        return 0;
    if (pass == TP_PASS_KERNEL)
        return 2;
    int h = pass == TP_PASS_FORWARD ? l->oh : l->ih, wd = pass == TP_PASS_FORWARD ? l->ow : l->iw;
    return h >= 8 && wd >= 8 ? 4 : 2;
}

int tp_nn_conv_method(const tp_nn *w, const tp_layer *l, tp_conv_pass pass)
{
    return l->kind == TP_L_CONV ? wino_m(w, l, pass) : 0;
}

void tp_nn_methods(const tp_net *net, FILE *f)
{
    tp_nn w; /* the rule needs only the reference flag */
    memset(&w, 0, sizeof w);
    int any = 0;
    for (int i = 0; i < net->n; i++) {
        const tp_layer *l = &net->l[i];
        if (l->kind != TP_L_CONV)
            continue;
        if (!any++)
            fprintf(f, "Convolutions on the CPU:\n");
        int mf = wino_m(&w, l, TP_PASS_FORWARD), mi = wino_m(&w, l, TP_PASS_INPUT), mk = wino_m(&w, l, TP_PASS_KERNEL);
        char type[64];
        snprintf(type, sizeof type, "conv %d %dx%d%s", l->units, l->kh, l->kw, l->sh > 1 || l->sw > 1 ? " strided" : "");
        fprintf(f, "%-6d %-28s", i + 1, type);
        if (!mf)
            fprintf(f, " im2col + sgemm%s\n",
                    l->kh != 3 || l->kw != 3 || l->sh != 1 || l->sw != 1 ? " (Winograd takes 3x3 kernels of stride 1)"
                    : conv_direct(l)                                      ? ""
                                                                          : " (Winograd needs 16 channels in and out)");
        else
            fprintf(f, " Winograd F(%dx%d,3x3) forward, F(%dx%d) input gradient, F(%dx%d) kernel gradient\n", mf, mf,
                    mi, mi, mk, mk);
    }
}

/* The Winograd plan of a pass over n samples. */
static void wino_plan(const tp_layer *l, int m, tp_conv_pass pass, int n, tp_wino *p)
{
    if (pass == TP_PASS_INPUT) /* dy through the turned kernel: dx */
        tp_wino_plan(p, m, n, l->oh, l->ow, l->units, l->ic, l->ih, l->iw, 2 - l->pad_t, 2 - l->pad_l);
    else
        tp_wino_plan(p, m, n, l->ih, l->iw, l->ic, l->units, l->oh, l->ow, l->pad_t, l->pad_l);
}

/* Output rows (sample, oy, ox) per im2col tile of a conv layer: at least kh output rows of
 * the image, so that tiles two apart never touch the same input pixel (col2im's two phases). */
static size_t conv_tile(const tp_layer *l, int block)
{
    size_t r = TILE_FLOATS / conv_k(l), most = (size_t)block * (size_t)l->oh * (size_t)l->ow;
    r = r < TILE_MIN_ROWS ? TILE_MIN_ROWS : r;
    r = r < (size_t)l->kh * (size_t)l->ow ? (size_t)l->kh * (size_t)l->ow : r;
    return r < most ? r : most ? most : 1;
}

int tp_nn_block(int batch)
{
    int b = (batch + 7) / 8;
    return b < 1 ? 1 : b > 16 ? 16 : b;
}

static void scratch_free(tp_nn *w)
{
    for (int t = 0; w->tcol && t < w->threads; t++)
        free(w->tcol[t]);
    free(w->tcol), free(w->parts), free(w->dparts), free(w->wk);
    w->tcol = NULL, w->parts = NULL, w->dparts = NULL, w->wk = NULL;
}

/* 1 when the blocks' weight gradients are summed across a job's ranks (all kept until the
 * sum); else each is added to the sum in block order as soon as it is done. */
static int job_sum(const tp_nn *w) { return w->job && tp_comm_size() > 1; }

void tp_nn_threads(tp_nn *w, int threads, int block)
{
    TP_ASSERT(threads >= 1 && block >= 0);
    scratch_free(w);
    w->threads = threads;
    w->block = block ? block : tp_nn_block(w->cap);
    const tp_net *net = w->net;
    size_t tile = 1, part = 1, chan = 1, kern = 0;
    for (int i = 0; i < net->n; i++) {
        const tp_layer *l = &net->l[i];
        if (l->kind == TP_L_CONV && !conv_direct(l)) {
            size_t f = conv_tile(l, w->block) * conv_k(l);
            tile = f > tile ? f : tile;
        }
        for (tp_conv_pass pass = TP_PASS_FORWARD; l->kind == TP_L_CONV && pass <= TP_PASS_KERNEL; pass++) {
            int m = wino_m(w, l, pass);
            if (!m || (w->infer && pass != TP_PASS_FORWARD))
                continue;
            tp_wino p;
            wino_plan(l, m, pass, 1, &p);
            size_t f = tp_wino_scratch(&p, pass == TP_PASS_KERNEL), u = tp_wino_kernel_floats(m, l->ic, l->units);
            tile = f > tile ? f : tile;
            kern = u > kern ? u : kern;
        }
        if (l->kind == TP_L_CONV || l->kind == TP_L_DENSE)
            part = l->nw + l->nb > part ? l->nw + l->nb : part;
        if (l->kind == TP_L_BATCHNORM)
            chan = (size_t)l->oc > chan ? (size_t)l->oc : chan;
    }
    free(w->wk); /* inference transforms its kernels once (tp_nn_kernels) */
    w->wk = kern && !w->infer ? tp_alloc(kern, sizeof(float)) : NULL;
    w->tcol = tp_alloc((size_t)threads, sizeof *w->tcol);
    for (int t = 0; t < threads; t++)
        w->tcol[t] = tp_alloc(tile, sizeof(float));
    size_t blocks = ((size_t)w->cap + (size_t)w->block - 1) / (size_t)w->block;
    if (!w->infer) {
        w->part_floats = part; /* every block's for a job's sum, else the threads' and the sum */
        w->parts = tp_alloc(job_sum(w) ? blocks : (size_t)threads + 1, part * sizeof(float));
        w->dparts = tp_alloc(blocks * 2 * chan, sizeof(double));
    }
}

void tp_nn_init(tp_nn *w, tp_net *net, int cap)
{
    memset(w, 0, sizeof *w);
    w->net = net;
    w->cap = cap;
    w->update_stats = 1;
    int n = net->n;
    w->a = tp_calloc((size_t)n + 1, sizeof *w->a);
    w->g = tp_calloc((size_t)n + 1, sizeof *w->g);
    w->arg = tp_calloc((size_t)n, sizeof *w->arg);
    w->bn = tp_calloc((size_t)n, sizeof *w->bn);
    w->g[0] = tp_alloc(tp_layer_out_size(net, -1) * (size_t)cap, sizeof(float));
    for (int i = -1; i < n; i++) {
        size_t sz = tp_layer_out_size(net, i) * (size_t)cap;
        if (i >= 0 && net->l[i].kind == TP_L_FLATTEN) { /* the same floats: no copy either way */
            w->a[i + 1] = w->a[i];
            w->g[i + 1] = w->g[i];
            continue;
        }
        w->a[i + 1] = tp_alloc(sz, sizeof(float));
        if (i >= 0)
            w->g[i + 1] = tp_alloc(sz, sizeof(float));
    }
    for (int i = 0; i < n; i++) {
        tp_layer *l = &net->l[i];
        size_t out = tp_layer_out_size(net, i);
        if (l->kind == TP_L_MAXPOOL)
            w->arg[i] = tp_alloc(out * (size_t)cap, sizeof(int32_t));
        if (l->kind == TP_L_BATCHNORM) /* mean and 1/std per channel (x-hat is recomputed from x) */
            w->bn[i] = tp_alloc(2 * (size_t)l->oc, sizeof(float));
    }
    w->grad = tp_calloc(net->ntrain + 1, sizeof(float));
    w->sample_loss = tp_calloc((size_t)cap + 1, sizeof *w->sample_loss);
    tp_nn_threads(w, 1, 0);
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
    int n = net->n;
    size_t most = tp_nn_infer_bytes(net) / (2 * sizeof(float));
    for (int k = 0; k < 2; k++)
        w->pp[k] = tp_alloc(most * (size_t)cap, sizeof(float));
    w->a = tp_calloc((size_t)n + 1, sizeof *w->a);
    w->arg = tp_calloc((size_t)n, sizeof *w->arg);
    w->bn = tp_calloc((size_t)n, sizeof *w->bn);
    for (int i = 0, k = 0; i <= n; i++) { /* flatten and dropout keep their input's buffer */
        if (i > 0 && net->l[i - 1].kind != TP_L_FLATTEN && net->l[i - 1].kind != TP_L_DROPOUT)
            k ^= 1;
        w->a[i] = w->pp[k];
    }
    for (int i = 0; i < n; i++) {
        tp_layer *l = &net->l[i];
        if (l->kind == TP_L_BATCHNORM)
            w->bn[i] = tp_alloc(2 * (size_t)l->oc, sizeof(float));
    }
    tp_nn_threads(w, 1, 0);
}

void tp_nn_free(tp_nn *w)
{
    for (int i = 0; !w->infer && i <= w->net->n; i++) {
        if (i == 0 || w->a[i] != w->a[i - 1])
            free(w->a[i]);
        if (i == 0 || w->g[i] != w->g[i - 1])
            free(w->g[i]);
    }
    free(w->pp[0]), free(w->pp[1]);
    for (int i = 0; i < w->net->n; i++) {
        free(w->arg[i]);
        free(w->bn[i]);
    }
    scratch_free(w);
    for (int i = 0; w->kc_own && i < w->net->n; i++)
        free(w->kc[i]);
    if (w->kc_own)
        free(w->kc);
    free(w->a), free(w->g), free(w->arg), free(w->bn), free(w->grad), free(w->sample_loss);
    memset(w, 0, sizeof *w);
}

/* ---- sharing the work ---- */

/* Pieces [0, n) of a layer's work on the workspace's threads: fn(ctx, piece, thread). */
static void share(const tp_nn *w, int64_t n, void (*fn)(void *ctx, int64_t i, int t), void *ctx)
{
    tp_parallel_for(n, w->lane ? w->lane : w->threads, fn, ctx);
}

/* The threads a layer's loops use on n samples: one where its work is a few microseconds,
 * less than waking another thread costs (the pieces, and so the bytes, stay the same). */
static int layer_threads(const tp_nn *w, const tp_layer *l, int n)
{
    double per; /* roughly nanoseconds a sample: products at tens of GFLOP/s, the rest memory */
    if (l->kind == TP_L_CONV)
        per = 0.02 * 2.0 * (double)l->oh * (double)l->ow * (double)l->units * (double)conv_k(l);
    else if (l->kind == TP_L_DENSE)
        per = 0.02 * 2.0 * (double)l->nw;
    else
        per = 0.5 * (double)l->ih * (double)l->iw * (double)l->ic;
    return per * n < 20000 ? 1 : w->threads;
}

/* Blocks of n samples, and block b's samples. */
static int nblocks(const tp_nn *w, int n) { return (n + w->block - 1) / w->block; }
static void block_of(const tp_nn *w, int n, int64_t b, int *lo, int *hi)
{
    *lo = (int)b * w->block;
    *hi = *lo + w->block < n ? *lo + w->block : n;
}

/* Work cut block by block: per units a sample, pieces of tile units from each block's
 * start, so that a piece is the same product in one process and in a job's rank (which
 * holds whole blocks). Pieces of block b are b * per_block(...) + k. */
static int64_t per_block(const tp_nn *w, size_t per, size_t tile)
{
    return (int64_t)(((size_t)w->block * per + tile - 1) / tile);
}

static int64_t block_pieces(const tp_nn *w, int n, size_t per, size_t tile)
{
    return nblocks(w, n) * per_block(w, per, tile);
}

/* Piece i's units [u0, u1) (empty past a short last block); its number k within its block. */
static void block_piece(const tp_nn *w, int n, size_t per, size_t tile, int64_t i, size_t *u0, size_t *u1,
                        int64_t *k)
{
    int64_t pb = per_block(w, per, tile), b = i / pb;
    int lo, hi;
    block_of(w, n, b, &lo, &hi);
    *k = i % pb;
    *u0 = (size_t)lo * per + (size_t)*k * tile;
    *u1 = *u0 + tile < (size_t)hi * per ? *u0 + tile : (size_t)hi * per;
    *u0 = *u0 < *u1 ? *u0 : *u1;
}

/* Elementwise work over count floats, in pieces. */
typedef struct {
    void (*fn)(void *ctx, size_t lo, size_t hi);
    void *ctx;
    size_t count;
} elem_job;

static void elem_piece(void *ctx, int64_t c, int t)
{
    (void)t;
    elem_job *j = ctx;
    size_t lo = (size_t)c * CHUNK, hi = lo + CHUNK < j->count ? lo + CHUNK : j->count;
    j->fn(j->ctx, lo, hi);
}

static void elementwise(const tp_nn *w, size_t count, void (*fn)(void *ctx, size_t lo, size_t hi), void *ctx)
{
    elem_job j = {fn, ctx, count};
    share(w, (int64_t)((count + CHUNK - 1) / CHUNK), elem_piece, &j);
}

typedef struct {
    float *const *fp;
    double *const *dp;
    int np;
} fold_job;

static void fold_piece(void *ctx, size_t lo, size_t hi)
{
    fold_job *j = ctx;
    for (int k = 1; k < j->np; k++)
        if (j->fp) {
            float *o = j->fp[0];
            const float *a = j->fp[k];
#pragma omp simd
            for (size_t q = lo; q < hi; q++)
                o[q] += a[q];
        } else {
            double *o = j->dp[0];
            const double *a = j->dp[k];
#pragma omp simd
            for (size_t q = lo; q < hi; q++)
                o[q] += a[q];
        }
}

/* The blocks' partial sums parts[0..np) (floats, or doubles with fp NULL) added in block
 * order into parts[0]: across the job's ranks for a job's workspace, else here (in pieces
 * of elements, the same order). A rank with no samples in the batch adds a zero part. */
static void fold(const tp_nn *w, float *const *fp, double *const *dp, int np, size_t n)
{
    if (np == 0) {
        if (fp)
            memset(fp[0], 0, n * sizeof **fp);
        else
            memset(dp[0], 0, n * sizeof **dp);
        np = 1;
    }
    if (job_sum(w)) {
        if (fp)
            tp_comm_sum_f32(fp, np, n);
        else
            tp_comm_sum_f64(dp, np, n);
        return;
    }
    fold_job j = {fp, dp, np};
    elementwise(w, n, fold_piece, &j);
}

/* ---- convolution: x [n, ih, iw, ic], kernel [kh, kw, ic, oc], y [n, oh, ow, oc] ---- */

/* Rows [r0, r1) of im2col: row (s, oy, ox), columns (ky, kx, c). In NHWC the kw x ic values
 * a kernel row reads are contiguous in x, so each is one copy (clipped at the borders, the
 * rest zero). */
static void im2col(const tp_layer *l, const float *x, size_t r0, size_t r1, float *col)
{
    size_t K = conv_k(l), isz = (size_t)l->ih * (size_t)l->iw * (size_t)l->ic;
    size_t seg = (size_t)l->kw * (size_t)l->ic, C = (size_t)l->ic, ow = (size_t)l->ow, pix = (size_t)l->oh * ow;
    for (size_t r = r0; r < r1; r++) {
        size_t s = r / pix, p = r % pix;
        int oy = (int)(p / ow), ox = (int)(p % ow);
        float *row = col + (r - r0) * K;
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
            size_t len = (size_t)(k1 - k0) * C;
            float *d = dst + (size_t)k0 * C;
            if (len >= 64) {
                memcpy(d, src, len * sizeof *d);
            } else { /* a few channels: a call to memcpy costs more than the copy */
#pragma omp simd
                for (size_t e = 0; e < len; e++)
                    d[e] = src[e];
            }
            if (k1 < l->kw)
                memset(dst + (size_t)k1 * C, 0, (size_t)(l->kw - k1) * C * sizeof *dst);
        }
    }
}

/* The adjoint of im2col for rows [r0, r1): adds the columns back onto the input gradient dx. */
static void col2im(const tp_layer *l, const float *col, size_t r0, size_t r1, float *dx)
{
    size_t K = conv_k(l), isz = (size_t)l->ih * (size_t)l->iw * (size_t)l->ic;
    size_t ow = (size_t)l->ow, pix = (size_t)l->oh * ow;
    for (size_t r = r0; r < r1; r++) {
        size_t s = r / pix, p = r % pix;
        int oy = (int)(p / ow), ox = (int)(p % ow);
        const float *row = col + (r - r0) * K;
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
#pragma omp simd
                for (int c = 0; c < l->ic; c++)
                    d[c] += src[c];
            }
        }
    }
}

/* Bias and activation over rows of a layer's output. */
static void bias_act(float *y, const float *b, size_t rows, int units, tp_act act)
{
    for (size_t r = 0; r < rows; r++) {
        float *o = y + r * (size_t)units;
        if (act == TP_ACT_RELU) {
#pragma omp simd
            for (int c = 0; c < units; c++) {
                float v = o[c] + b[c];
                o[c] = v > 0 ? v : 0;
            }
        } else {
#pragma omp simd
            for (int c = 0; c < units; c++)
                o[c] += b[c];
        }
    }
}

typedef struct {
    tp_nn *w;
    const tp_layer *l;
    const float *x;
    float *dy;  /* backward: masked in place by the fused ReLU (y: the layer's output) */
    float *y, *dx;
    int n;
    size_t tile, phase;
    int wm;     /* the kernel gradient by Winograd F(wm x wm), or 0 */
} conv_job;

/* Forward tile i: y = act(im2col(x) W + b) for its rows. */
static void conv_fwd_tile(void *ctx, int64_t i, int t)
{
    conv_job *j = ctx;
    const tp_layer *l = j->l;
    const float *W = j->w->net->params + l->w, *b = j->w->net->params + l->b;
    size_t K = conv_k(l), r0, r1;
    int64_t k;
    block_piece(j->w, j->n, (size_t)l->oh * (size_t)l->ow, j->tile, i, &r0, &r1, &k);
    if (r0 == r1)
        return;
    const float *col = j->x + r0 * K;
    if (!conv_direct(l)) {
        im2col(l, j->x, r0, r1, j->w->tcol[t]);
        col = j->w->tcol[t];
    }
    float *out = j->y + r0 * (size_t)l->units;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(r1 - r0), l->units, (int)K, 1.0f, col, (int)K, W,
                l->units, 0.0f, out, l->units);
    bias_act(out, b, r1 - r0, l->units, l->act);
}

typedef struct {
    tp_nn *w;
    const tp_layer *l;
    tp_wino p;
    const float *x, *bias, *U;
    float *y;
    int relu;
} wino_job;

static void wino_fwd_piece(void *ctx, int64_t i, int t)
{
    wino_job *j = ctx;
    size_t q0, q1;
    int64_t k;
    block_piece(j->w, j->p.n, (size_t)(j->p.tiles / (j->p.n ? j->p.n : 1)), (size_t)j->p.chunk, i, &q0, &q1, &k);
    if (q1 > q0)
        tp_wino_forward(&j->p, (int64_t)q0, (int)(q1 - q0), j->x, j->U, j->bias, j->relu, j->y, j->w->tcol[t]);
}

typedef struct {
    tp_nn *w;
} kern_job;

static void kern_layer(void *ctx, int64_t i, int t)
{
    (void)t;
    tp_nn *w = ((kern_job *)ctx)->w;
    const tp_layer *l = &w->net->l[i];
    if (w->kc[i])
        tp_wino_kernel(wino_m(w, l, TP_PASS_FORWARD), w->net->params + l->w, l->ic, l->units, 0, w->kc[i]);
}

void tp_nn_kernels(tp_nn *w, int threads)
{
    TP_ASSERT(w->infer && (!w->kc || w->kc_own));
    if (!w->kc) {
        w->kc = tp_calloc((size_t)w->net->n, sizeof *w->kc);
        w->kc_own = 1;
        for (int i = 0; i < w->net->n; i++) {
            const tp_layer *l = &w->net->l[i];
            int m = l->kind == TP_L_CONV ? wino_m(w, l, TP_PASS_FORWARD) : 0;
            if (m)
                w->kc[i] = tp_alloc(tp_wino_kernel_floats(m, l->ic, l->units), sizeof(float));
        }
    }
    kern_job j = {w};
    tp_parallel_for(w->net->n, threads, kern_layer, &j);
}

void tp_nn_share_kernels(tp_nn *w, const tp_nn *from)
{
    TP_ASSERT(w->infer && from->infer && from->kc && !w->kc);
    w->kc = from->kc;
    w->kc_own = 0;
}

/* Winograd's forward pass (dx: the input gradient's, through the turned kernel). */
static void wino_pass(tp_nn *w, const tp_layer *l, int m, tp_conv_pass pass, const float *x, float *y, int n)
{
    const float *W = w->net->params + l->w;
    wino_job j = {w, l, {0}, x, NULL, NULL, y, 0};
    wino_plan(l, m, pass, n, &j.p);
    if (pass == TP_PASS_FORWARD) {
        j.bias = w->net->params + l->b;
        j.relu = l->act == TP_ACT_RELU;
    }
    if (w->kc) { /* an inference workspace's kernels, transformed once */
        j.U = w->kc[l - w->net->l];
    } else {
        tp_wino_kernel(m, W, l->ic, l->units, pass == TP_PASS_INPUT, w->wk);
        j.U = w->wk;
    }
    share(w, block_pieces(w, n, (size_t)(j.p.tiles / (n ? n : 1)), (size_t)j.p.chunk), wino_fwd_piece, &j);
}

static void conv_forward(tp_nn *w, const tp_layer *l, const float *x, float *y, int n)
{
    int m = wino_m(w, l, TP_PASS_FORWARD);
    if (m) {
        wino_pass(w, l, m, TP_PASS_FORWARD, x, y, n);
        return;
    }
    conv_job j = {w, l, x, NULL, y, NULL, n, 0, 0, 0};
    j.tile = conv_direct(l) ? TILE_MIN_ROWS : conv_tile(l, w->block);
    share(w, block_pieces(w, n, (size_t)l->oh * (size_t)l->ow, j.tile), conv_fwd_tile, &j);
}

/* Where block b's partial [dW | db] goes, on thread t. */
static float *block_buf(const tp_nn *w, int64_t b, int t)
{
    return w->parts + (size_t)(job_sum(w) ? b : t) * w->part_floats;
}

/* Block b's partial is done: added to the sum (after w->threads' buffers) once blocks 0 ..
 * b - 1 are, so the sum's order is the blocks' whatever the threads. Items are handed out
 * in order, so the blocks before b are all running or done. */
static void block_done(tp_nn *w, int64_t b, const float *part, size_t count)
{
    if (job_sum(w))
        return;
    while (__atomic_load_n(&w->ticket, __ATOMIC_ACQUIRE) != b)
        sched_yield();
    float *sum = w->parts + (size_t)w->threads * w->part_floats;
    if (b == 0) {
        memcpy(sum, part, count * sizeof *sum);
    } else {
#pragma omp simd
        for (size_t q = 0; q < count; q++)
            sum[q] += part[q];
    }
    __atomic_store_n(&w->ticket, b + 1, __ATOMIC_RELEASE);
}

/* Block b's partial weight gradient: [dW | db] over its samples' rows, tile by tile. */
static void conv_dw_into(conv_job *j, int64_t b, int t, float *dW)
{
    tp_nn *w = j->w;
    const tp_layer *l = j->l;
    size_t K = conv_k(l), U = (size_t)l->units, pix = (size_t)l->oh * (size_t)l->ow;
    int lo, hi;
    block_of(w, j->n, b, &lo, &hi);
    float *db = dW + l->nw;
    memset(db, 0, U * sizeof *db);
    size_t r0 = (size_t)lo * pix, r1 = (size_t)hi * pix;
    if (l->act == TP_ACT_RELU) { /* through the fused activation, in place, block by block */
        float *dy = j->dy + r0 * U;
        const float *y = j->y + r0 * U;
#pragma omp simd
        for (size_t e = 0; e < (r1 - r0) * U; e++)
            dy[e] = y[e] > 0 ? dy[e] : 0;
    }
    if (j->wm) { /* Winograd for dW; db from dy's rows */
        tp_wino p;
        wino_plan(l, j->wm, TP_PASS_KERNEL, j->n, &p);
        tp_wino_dw(&p, lo, hi, j->x, j->dy, dW, w->tcol[t]);
        for (size_t r = r0; r < r1; r++)
#pragma omp simd
            for (size_t c = 0; c < U; c++)
                db[c] += j->dy[r * U + c];
        return;
    }
    for (size_t r = r0; r < r1; r += j->tile) {
        size_t e = r + j->tile < r1 ? r + j->tile : r1;
        const float *col = j->x + r * K, *g = j->dy + r * U;
        if (!conv_direct(l)) {
            im2col(l, j->x, r, e, w->tcol[t]);
            col = w->tcol[t];
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)U, (int)(e - r), 1.0f, col, (int)K, g,
                    (int)U, r == r0 ? 0.0f : 1.0f, dW, (int)U);
        for (size_t q = 0; q < e - r; q++)
#pragma omp simd
            for (size_t c = 0; c < U; c++)
                db[c] += g[q * U + c];
    }
}

static void conv_dw_block(void *ctx, int64_t b, int t)
{
    conv_job *j = ctx;
    float *part = block_buf(j->w, b, t);
    conv_dw_into(j, b, t, part);
    block_done(j->w, b, part, j->l->nw + j->l->nb);
}

/* Input gradient of tile i: dy W^T, then col2im. Tiles two apart within a block touch
 * different pixels, and blocks different samples, so the even tiles of every block and then
 * the odd ones (phase 0, 1; 2: all, for 1x1 kernels) run side by side. */
static void conv_dx_tile(void *ctx, int64_t i, int t)
{
    conv_job *j = ctx;
    const tp_layer *l = j->l;
    const float *W = j->w->net->params + l->w;
    size_t K = conv_k(l), U = (size_t)l->units, r0, r1;
    int64_t k;
    block_piece(j->w, j->n, (size_t)l->oh * (size_t)l->ow, j->tile, i, &r0, &r1, &k);
    if (r0 == r1 || (j->phase < 2 && (size_t)(k % 2) != j->phase))
        return;
    if (conv_direct(l)) { /* dx = dy W^T straight into place */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(r1 - r0), (int)K, (int)U, 1.0f, j->dy + r0 * U,
                    (int)U, W, (int)U, 0.0f, j->dx + r0 * K, (int)K);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(r1 - r0), (int)K, (int)U, 1.0f, j->dy + r0 * U, (int)U,
                W, (int)U, 0.0f, j->w->tcol[t], (int)K);
    col2im(l, j->w->tcol[t], r0, r1, j->dx);
}

static void zero_piece(void *ctx, size_t lo, size_t hi) { memset((float *)ctx + lo, 0, (hi - lo) * sizeof(float)); }

/* The blocks' partial [dW | db] summed into the layer's gradient. */
static void fold_weights(tp_nn *w, const tp_layer *l, int n)
{
    if (!job_sum(w)) {
        const float *sum = w->parts + (size_t)w->threads * w->part_floats;
        if (nblocks(w, n) == 0) {
            memset(w->grad + l->w, 0, l->nw * sizeof(float));
            memset(w->grad + l->b, 0, l->nb * sizeof(float));
            return;
        }
        memcpy(w->grad + l->w, sum, l->nw * sizeof(float));
        memcpy(w->grad + l->b, sum + l->nw, l->nb * sizeof(float));
        return;
    }
    int nb = nblocks(w, n);
    float **parts = tp_alloc((size_t)nb + 1, sizeof *parts);
    parts[0] = w->parts;
    for (int b = 0; b < nb; b++)
        parts[b] = w->parts + (size_t)b * w->part_floats;
    fold(w, parts, NULL, nb, l->nw + l->nb);
    memcpy(w->grad + l->w, parts[0], l->nw * sizeof(float));
    memcpy(w->grad + l->b, parts[0] + l->nw, l->nb * sizeof(float));
    free(parts);
}

/* dy (already through the activation) to dW, db and, when dx is not NULL, dx. */
/* dy: through the fused activation here (y: the layer's output) */
static void conv_backward(tp_nn *w, const tp_layer *l, const float *x, const float *y, float *dy, float *dx, int n)
{
    conv_job j = {w, l, x, dy, (float *)y, dx, n, 0, 0, wino_m(w, l, TP_PASS_KERNEL)};
    j.tile = conv_direct(l) ? TILE_MIN_ROWS : conv_tile(l, w->block);
    w->ticket = 0;
    share(w, nblocks(w, n), conv_dw_block, &j);
    fold_weights(w, l, n);
    if (!dx)
        return;
    int m = wino_m(w, l, TP_PASS_INPUT);
    if (m) { /* every pixel of dx written once: no zeroing, no phases */
        wino_pass(w, l, m, TP_PASS_INPUT, dy, dx, n);
        return;
    }
    int64_t tiles = block_pieces(w, n, (size_t)l->oh * (size_t)l->ow, j.tile);
    if (conv_direct(l)) {
        j.phase = 2;
        share(w, tiles, conv_dx_tile, &j); /* each tile writes its own rows */
        return;
    }
    elementwise(w, (size_t)n * (size_t)l->ih * (size_t)l->iw * (size_t)l->ic, zero_piece, dx);
    for (j.phase = 0; j.phase < 2; j.phase++)
        share(w, tiles, conv_dx_tile, &j);
}

void tp_nn_conv_layer(tp_nn *w, int i, int n, int backward)
{
    const tp_layer *l = &w->net->l[i];
    TP_ASSERT(l->kind == TP_L_CONV && n <= w->cap && !(backward && w->infer));
    if (backward)
        conv_backward(w, l, w->a[i], w->a[i + 1], w->g[i + 1], w->g[i], n);
    else
        conv_forward(w, l, w->a[i], w->a[i + 1], n);
}

/* ---- dense: x [n, K], W [K, units], y [n, units] ---- */

typedef struct {
    tp_nn *w;
    const tp_layer *l;
    const float *x, *dy;
    float *y, *dx;
    int n;
} dense_job;

static void dense_fwd_tile(void *ctx, int64_t i, int t)
{
    (void)t;
    dense_job *j = ctx;
    const tp_layer *l = j->l;
    const float *W = j->w->net->params + l->w, *b = j->w->net->params + l->b;
    int K = (int)(l->nw / (size_t)l->units), U = l->units;
    size_t u0, u1;
    int64_t piece;
    block_piece(j->w, j->n, 1, DENSE_ROWS, i, &u0, &u1, &piece);
    int r0 = (int)u0, m = (int)(u1 - u0);
    if (m == 0)
        return;
    float *y = j->y + (size_t)r0 * (size_t)U;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, U, K, 1.0f, j->x + (size_t)r0 * (size_t)K, K, W, U, 0.0f,
                y, U);
    bias_act(y, b, (size_t)m, U, l->act == TP_ACT_RELU ? TP_ACT_RELU : TP_ACT_NONE);
    if (l->act == TP_ACT_SOFTMAX)
        for (int s = 0; s < m; s++) {
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

static void dense_forward(tp_nn *w, const tp_layer *l, const float *x, float *y, int n)
{
    dense_job j = {w, l, x, NULL, y, NULL, n};
    share(w, block_pieces(w, n, 1, DENSE_ROWS), dense_fwd_tile, &j);
}

static void dense_dw_block(void *ctx, int64_t b, int t)
{
    dense_job *j = ctx;
    tp_nn *w = j->w;
    const tp_layer *l = j->l;
    int K = (int)(l->nw / (size_t)l->units), U = l->units, lo, hi;
    block_of(w, j->n, b, &lo, &hi);
    float *dW = block_buf(w, b, t), *db = dW + l->nw;
    const float *g = j->dy + (size_t)lo * (size_t)U;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, U, hi - lo, 1.0f, j->x + (size_t)lo * (size_t)K, K, g, U,
                0.0f, dW, U);
    memset(db, 0, (size_t)U * sizeof *db);
    for (int s = 0; s < hi - lo; s++)
        for (int k = 0; k < U; k++)
            db[k] += g[(size_t)s * (size_t)U + (size_t)k];
    block_done(w, b, dW, l->nw + l->nb);
}

static void dense_dx_tile(void *ctx, int64_t i, int t)
{
    (void)t;
    dense_job *j = ctx;
    const tp_layer *l = j->l;
    const float *W = j->w->net->params + l->w;
    int K = (int)(l->nw / (size_t)l->units), U = l->units;
    size_t u0, u1;
    int64_t k;
    block_piece(j->w, j->n, 1, DENSE_ROWS, i, &u0, &u1, &k);
    int r0 = (int)u0, m = (int)(u1 - u0);
    if (m == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, K, U, 1.0f, j->dy + (size_t)r0 * (size_t)U, U, W, U, 0.0f,
                j->dx + (size_t)r0 * (size_t)K, K);
}

static void dense_backward(tp_nn *w, const tp_layer *l, const float *x, const float *dy, float *dx, int n)
{
    dense_job j = {w, l, x, dy, NULL, dx, n};
    w->ticket = 0;
    share(w, nblocks(w, n), dense_dw_block, &j);
    fold_weights(w, l, n);
    if (dx)
        share(w, block_pieces(w, n, 1, DENSE_ROWS), dense_dx_tile, &j);
}

/* ---- pooling: x [n, ih, iw, c], y [n, oh, ow, c]; valid windows ---- */

typedef struct {
    tp_nn *w;
    int i;
    const tp_layer *l;
    const float *x, *dy;
    float *y, *dx;
} layer_job;

/* Over the channels of each output pixel at once (NHWC: a window position's channels are
 * contiguous). Max pooling keeps the first largest value (NaN never wins; a window of NaN
 * gives -FLT_MAX at its first position). */
static void pool_fwd_sample(void *ctx, int64_t s, int t)
{
    (void)t;
    layer_job *j = ctx;
    const tp_layer *l = j->l;
    size_t isz = (size_t)l->ih * (size_t)l->iw * (size_t)l->ic, osz = tp_layer_out_size(j->w->net, j->i);
    const float *x = j->x + (size_t)s * isz;
    float *y = j->y + (size_t)s * osz;
    int32_t *arg = j->w->arg[j->i] ? j->w->arg[j->i] + (size_t)s * osz : NULL;
    float inv = 1.0f / (float)(l->kh * l->kw);
    int C = l->ic;
    for (int oy = 0; oy < l->oh; oy++)
        for (int ox = 0; ox < l->ow; ox++) {
            size_t o = ((size_t)oy * (size_t)l->ow + (size_t)ox) * (size_t)C;
            float *yo = y + o;
            int32_t base = (int32_t)(((oy * l->sh) * l->iw + ox * l->sw) * C);
            if (l->kind == TP_L_MAXPOOL) {
                int32_t *ao = arg ? arg + o : NULL;
#pragma omp simd
                for (int c = 0; c < C; c++)
                    yo[c] = -FLT_MAX;
                if (ao)
#pragma omp simd
                    for (int c = 0; c < C; c++)
                        ao[c] = base + c;
            } else {
#pragma omp simd
                for (int c = 0; c < C; c++)
                    yo[c] = 0;
            }
            for (int ky = 0; ky < l->kh; ky++)
                for (int kx = 0; kx < l->kw; kx++) {
                    int32_t idx = (int32_t)((((oy * l->sh + ky) * l->iw) + ox * l->sw + kx) * C);
                    const float *v = x + idx;
                    if (l->kind != TP_L_MAXPOOL) {
#pragma omp simd
                        for (int c = 0; c < C; c++)
                            yo[c] += v[c];
                    } else if (arg) {
                        int32_t *ao = arg + o;
#pragma omp simd
                        for (int c = 0; c < C; c++) {
                            int up = v[c] > yo[c];
                            ao[c] = up ? idx + c : ao[c];
                            yo[c] = up ? v[c] : yo[c];
                        }
                    } else {
#pragma omp simd
                        for (int c = 0; c < C; c++)
                            yo[c] = v[c] > yo[c] ? v[c] : yo[c];
                    }
                }
            if (l->kind != TP_L_MAXPOOL)
#pragma omp simd
                for (int c = 0; c < C; c++)
                    yo[c] *= inv;
        }
}

static void pool_bwd_sample(void *ctx, int64_t s, int t)
{
    (void)t;
    layer_job *j = ctx;
    const tp_layer *l = j->l;
    size_t isz = (size_t)l->ih * (size_t)l->iw * (size_t)l->ic, osz = tp_layer_out_size(j->w->net, j->i);
    float *dx = j->dx + (size_t)s * isz;
    const float *dy = j->dy + (size_t)s * osz;
    memset(dx, 0, isz * sizeof *dx);
    float inv = 1.0f / (float)(l->kh * l->kw);
    if (l->kind == TP_L_MAXPOOL) {
        const int32_t *arg = j->w->arg[j->i] + (size_t)s * osz;
        for (size_t o = 0; o < osz; o++)
            dx[arg[o]] += dy[o];
        return;
    }
    for (int oy = 0; oy < l->oh; oy++)
        for (int ox = 0; ox < l->ow; ox++)
            for (int c = 0; c < l->ic; c++) {
                size_t o = ((size_t)oy * (size_t)l->ow + (size_t)ox) * (size_t)l->ic + (size_t)c;
                for (int ky = 0; ky < l->kh; ky++)
                    for (int kx = 0; kx < l->kw; kx++)
                        dx[(size_t)((((oy * l->sh + ky) * l->iw) + ox * l->sw + kx) * l->ic + c)] += dy[o] * inv;
            }
}

/* ---- global average pooling: x [n, h, w, c], y [n, c] ---- */

static void gap_fwd_sample(void *ctx, int64_t s, int t)
{
    (void)t;
    layer_job *j = ctx;
    const tp_layer *l = j->l;
    size_t pix = (size_t)l->ih * (size_t)l->iw, C = (size_t)l->ic;
    float *o = j->y + (size_t)s * C;
    memset(o, 0, C * sizeof *o);
    for (size_t p = 0; p < pix; p++)
        for (size_t c = 0; c < C; c++)
            o[c] += j->x[((size_t)s * pix + p) * C + c];
    for (size_t c = 0; c < C; c++)
        o[c] /= (float)pix;
}

static void gap_bwd_sample(void *ctx, int64_t s, int t)
{
    (void)t;
    layer_job *j = ctx;
    const tp_layer *l = j->l;
    size_t pix = (size_t)l->ih * (size_t)l->iw, C = (size_t)l->ic;
    for (size_t p = 0; p < pix; p++)
        for (size_t c = 0; c < C; c++)
            j->dx[((size_t)s * pix + p) * C + c] = j->dy[(size_t)s * C + c] / (float)pix;
}

/* ---- dropout: inverted; element e of sample s is kept when draw (s * size + e) of the
 * layer's key is at least rate * 2^32, so a GPU can reproduce the same mask ---- */

typedef struct {
    tp_rng r;
    uint32_t cut;
    float scale;
    uint64_t first;
    const float *x;
    float *y;
} drop_job;

static void drop_piece(void *ctx, size_t lo, size_t hi)
{
    drop_job *j = ctx;
    for (size_t e = lo; e < hi; e++)
        j->y[e] = tp_rng_at(j->r.key, j->first + e) >= j->cut ? j->x[e] * j->scale : 0;
}

static void dropout_apply(const tp_nn *w, const tp_layer *l, int i, uint64_t first, const float *x, float *y,
                          size_t count)
{
    drop_job j = {tp_rng_split(&w->step, (uint64_t)i), (uint32_t)((double)l->rate * 4294967296.0),
                  1.0f / (1.0f - l->rate), first, x, y};
    elementwise(w, count, drop_piece, &j);
}

typedef struct {
    const float *x, *y, *dy;
    float *out;
} ew_job;

static void relu_piece(void *ctx, size_t lo, size_t hi)
{
    ew_job *j = ctx;
    const float *x = j->x;
    float *o = j->out;
#pragma omp simd
    for (size_t e = lo; e < hi; e++)
        o[e] = x[e] > 0 ? x[e] : 0;
}

/* out = y > 0 ? dy : 0 (the gradient through a ReLU whose output is y) */
static void relu_grad_piece(void *ctx, size_t lo, size_t hi)
{
    ew_job *j = ctx;
    const float *y = j->y, *dy = j->dy;
    float *o = j->out;
#pragma omp simd
    for (size_t e = lo; e < hi; e++)
        o[e] = y[e] > 0 ? dy[e] : 0;
}

static void copy_piece(void *ctx, size_t lo, size_t hi)
{
    ew_job *j = ctx;
    memcpy(j->out + lo, j->x + lo, (hi - lo) * sizeof *j->out);
}

/* ---- batch normalisation over every axis but the channels, with the whole batch's
 * statistics (a job's: every rank's blocks) ---- */

typedef struct {
    tp_nn *w;
    int i, n;
    const tp_layer *l;
    const float *x, *dy;
    float *y, *dx;
    size_t per; /* rows (pixels) per sample */
    double rows; /* rows in the whole batch */
} bn_job;

#define BN_GROUP 64 /* rows summed in floats before a double takes them */

/* Block b's sums per channel of u and of u (x - mean) istd into the block's two rows of
 * dparts: floats over groups of rows, doubles across. */
static void bn_sums(const bn_job *j, int64_t b, const float *u, const float *mean, const float *istd)
{
    size_t C = (size_t)j->l->oc;
    int lo, hi;
    block_of(j->w, j->n, b, &lo, &hi);
    double *s1 = j->w->dparts + (size_t)b * 2 * C, *s2 = s1 + C;
    memset(s1, 0, 2 * C * sizeof *s1);
    float f1[C], f2[C];
    size_t r1 = (size_t)hi * j->per;
    for (size_t r0 = (size_t)lo * j->per; r0 < r1; r0 += BN_GROUP) {
        size_t e = r0 + BN_GROUP < r1 ? r0 + BN_GROUP : r1;
        memset(f1, 0, sizeof f1), memset(f2, 0, sizeof f2);
        for (size_t r = r0; r < e; r++) {
            const float *ur = u + r * C, *x = j->x + r * C;
#pragma omp simd
            for (size_t c = 0; c < C; c++) {
                f1[c] += ur[c];
                f2[c] += ur[c] * ((x[c] - mean[c]) * istd[c]);
            }
        }
#pragma omp simd
        for (size_t c = 0; c < C; c++) {
            s1[c] += f1[c];
            s2[c] += f2[c];
        }
    }
}

/* Block b's sums of x and x^2 per channel (mean 0 and istd 1 leave x as it is, exactly). */
static void bn_stat_block(void *ctx, int64_t b, int t)
{
    (void)t;
    const bn_job *j = ctx;
    size_t C = (size_t)j->l->oc;
    float zero[C], one[C];
    for (size_t c = 0; c < C; c++)
        zero[c] = 0, one[c] = 1;
    bn_sums(j, b, j->x, zero, one);
}

/* y = gamma (x - mean) / std + beta, as x scale + shift per channel. */
static void bn_apply_sample(void *ctx, int64_t s, int t)
{
    (void)t;
    bn_job *j = ctx;
    const tp_layer *l = j->l;
    const float *gamma = j->w->net->params + l->w, *beta = j->w->net->params + l->b;
    size_t C = (size_t)l->oc;
    const float *mean = j->w->bn[j->i], *istd = mean + C;
    float sc[C], sh[C];
    for (size_t c = 0; c < C; c++) {
        sc[c] = gamma[c] * istd[c];
        sh[c] = beta[c] - mean[c] * sc[c];
    }
    for (size_t r = (size_t)s * j->per; r < (size_t)(s + 1) * j->per; r++) {
        const float *x = j->x + r * C;
        float *y = j->y + r * C;
#pragma omp simd
        for (size_t c = 0; c < C; c++)
            y[c] = x[c] * sc[c] + sh[c];
    }
}

static double **block_parts(const tp_nn *w, int nb, size_t each)
{
    double **p = tp_alloc((size_t)nb + 1, sizeof *p);
    p[0] = w->dparts;
    for (int b = 0; b < nb; b++)
        p[b] = w->dparts + (size_t)b * each;
    return p;
}

static void bn_forward(tp_nn *w, int i, const tp_layer *l, const float *x, float *y, int n, int train)
{
    float *P = w->net->params;
    float *mmean = P + l->mean, *mvar = P + l->var;
    size_t C = (size_t)l->oc, per = tp_layer_out_size(w->net, i) / C;
    float *mean = w->bn[i], *istd = mean + C;
    TP_ASSERT(!(train && w->infer));
    bn_job j = {w, i, n, l, x, NULL, y, NULL, per, (double)(w->job && w->job_n ? w->job_n : n) * (double)per};
    if (train) {
        int nb = nblocks(w, n);
        share(w, nb, bn_stat_block, &j);
        double **parts = block_parts(w, nb, 2 * C);
        fold(w, NULL, parts, nb, 2 * C);
        const double *sum = parts[0], *sq = parts[0] + C;
        for (size_t c = 0; c < C; c++) {
            double m = sum[c] / j.rows, var = sq[c] / j.rows - m * m;
            var = var > 0 ? var : 0;
            mean[c] = (float)m;
            istd[c] = (float)(1.0 / sqrt(var + l->eps));
            double unbiased = j.rows > 1 ? var * j.rows / (j.rows - 1) : var;
            if (w->update_stats) {
                mmean[c] = (float)(l->momentum * mmean[c] + (1 - l->momentum) * m);
                mvar[c] = (float)(l->momentum * mvar[c] + (1 - l->momentum) * unbiased);
            }
        }
        free(parts);
    } else {
        for (size_t c = 0; c < C; c++) {
            mean[c] = mmean[c];
            istd[c] = 1.0f / sqrtf(mvar[c] + l->eps);
        }
    }
    share(w, n, bn_apply_sample, &j);
}

/* Block b's sums of dy and dy x-hat per channel (x-hat = (x - mean) / std, from x). */
static void bn_grad_block(void *ctx, int64_t b, int t)
{
    (void)t;
    const bn_job *j = ctx;
    const float *mean = j->w->bn[j->i];
    bn_sums(j, b, j->dy, mean, mean + j->l->oc);
}

/* dx = gamma / std (dy - mean(dy) - x-hat mean(dy x-hat)), the means the whole batch's. */
static void bn_dx_sample(void *ctx, int64_t s, int t)
{
    (void)t;
    bn_job *j = ctx;
    const tp_layer *l = j->l;
    const float *gamma = j->w->net->params + l->w;
    size_t C = (size_t)l->oc;
    const float *mean = j->w->bn[j->i], *istd = mean + C;
    const double *s1 = j->w->dparts, *s2 = s1 + C;
    float a[C], m1[C], m2[C];
    for (size_t c = 0; c < C; c++) {
        a[c] = gamma[c] * istd[c];
        m1[c] = (float)(s1[c] / j->rows);
        m2[c] = (float)(s2[c] / j->rows);
    }
    for (size_t r = (size_t)s * j->per; r < (size_t)(s + 1) * j->per; r++) {
        const float *dy = j->dy + r * C, *x = j->x + r * C;
        float *dx = j->dx + r * C;
#pragma omp simd
        for (size_t c = 0; c < C; c++)
            dx[c] = a[c] * (dy[c] - m1[c] - (x[c] - mean[c]) * istd[c] * m2[c]);
    }
}

static void bn_backward(tp_nn *w, int i, const tp_layer *l, const float *x, const float *dy, float *dx, int n)
{
    float *dg = w->grad + l->w, *dbeta = w->grad + l->b;
    size_t C = (size_t)l->oc, per = tp_layer_out_size(w->net, i) / C;
    bn_job j = {w, i, n, l, x, dy, NULL, dx, per, (double)(w->job && w->job_n ? w->job_n : n) * (double)per};
    int nb = nblocks(w, n);
    share(w, nb, bn_grad_block, &j);
    double **parts = block_parts(w, nb, 2 * C);
    fold(w, NULL, parts, nb, 2 * C); /* the whole batch's sums, in dparts' first block */
    free(parts);
    for (size_t c = 0; c < C; c++) {
        dbeta[c] = (float)w->dparts[c];
        dg[c] = (float)w->dparts[C + c];
    }
    if (dx)
        share(w, n, bn_dx_sample, &j);
}

/* ---- the whole network ---- */

void tp_nn_forward(tp_nn *w, int n, int train, const tp_rng *step)
{
    TP_ASSERT(n >= 0 && n <= w->cap && !(train && w->infer));
    tp_net *net = w->net;
    if (w->infer && !w->kc)
        tp_nn_kernels(w, 1);
    if (train && step)
        w->step = *step;
    for (int i = 0; i < net->n; i++) {
        const tp_layer *l = &net->l[i];
        const float *x = w->a[i];
        float *y = w->a[i + 1];
        size_t count = (size_t)n * tp_layer_out_size(net, i);
        w->lane = layer_threads(w, l, n);
        layer_job lj = {w, i, l, x, NULL, y, NULL};
        ew_job ej = {x, NULL, NULL, y};
        switch (l->kind) {
        case TP_L_CONV: conv_forward(w, l, x, y, n); break;
        case TP_L_DENSE: dense_forward(w, l, x, y, n); break;
        case TP_L_MAXPOOL:
        case TP_L_AVGPOOL: share(w, n, pool_fwd_sample, &lj); break;
        case TP_L_GAP: share(w, n, gap_fwd_sample, &lj); break;
        case TP_L_FLATTEN:
            if (y != x)
                elementwise(w, count, copy_piece, &ej);
            break;
        case TP_L_RELU: elementwise(w, count, relu_piece, &ej); break;
        case TP_L_DROPOUT:
            if (train && l->rate > 0)
                dropout_apply(w, l, i, (uint64_t)w->first * tp_layer_out_size(net, i), x, y, count);
            else if (y != x)
                elementwise(w, count, copy_piece, &ej);
            break;
        case TP_L_BATCHNORM: bn_forward(w, i, l, x, y, n, train); break;
        }
    }
    w->lane = 0;
}

double tp_nn_backward(tp_nn *w, int n, const int32_t *labels, float smoothing)
{
    tp_net *net = w->net;
    int L = net->n, K = net->classes, total = w->job && w->job_n ? w->job_n : n;
    memset(w->grad, 0, net->ntrain * sizeof *w->grad);
    /* softmax + cross-entropy: d loss / d logits = (p - t) / batch */
    const float *p = w->a[L];
    float *g = w->g[L];
    double loss = 0;
    float off = smoothing / (float)K, on = 1 - smoothing + off;
    for (int s = 0; s < n; s++) {
        double ls = 0;
        for (int k = 0; k < K; k++) {
            float t = k == labels[s] ? on : off, pk = p[(size_t)s * (size_t)K + (size_t)k];
            if (t > 0) /* a NaN probability must make a NaN loss, not a clamped one */
                ls -= t * (isnan(pk) ? NAN : log(pk > 1e-30f ? pk : 1e-30f));
            g[(size_t)s * (size_t)K + (size_t)k] = (pk - t) / (float)total;
        }
        w->sample_loss[s] = ls;
        loss += ls;
    }
    int stop = net->frozen > 0 && net->frozen < L ? net->frozen : 0;
    for (int i = L - 1; i >= stop; i--) {
        const tp_layer *l = &net->l[i];
        const float *x = w->a[i], *y = w->a[i + 1];
        float *dy = w->g[i + 1], *dx = i > stop ? w->g[i] : NULL;
        size_t count = (size_t)n * tp_layer_out_size(net, i);
        w->lane = layer_threads(w, l, n);
        if (l->act == TP_ACT_RELU && l->kind != TP_L_CONV) { /* through the fused activation (conv: in its pass) */
            ew_job ej = {NULL, y, dy, dy};
            elementwise(w, count, relu_grad_piece, &ej);
        }
        layer_job lj = {w, i, l, x, dy, NULL, dx};
        ew_job ej = {dy, y, dy, dx};
        switch (l->kind) {
        case TP_L_CONV: conv_backward(w, l, x, y, dy, dx, n); break;
        case TP_L_DENSE: dense_backward(w, l, x, dy, dx, n); break;
        case TP_L_MAXPOOL:
        case TP_L_AVGPOOL:
            if (dx)
                share(w, n, pool_bwd_sample, &lj);
            break;
        case TP_L_GAP:
            if (dx)
                share(w, n, gap_bwd_sample, &lj);
            break;
        case TP_L_FLATTEN:
            if (dx && dx != dy)
                elementwise(w, count, copy_piece, &ej);
            break;
        case TP_L_RELU:
            if (dx)
                elementwise(w, count, relu_grad_piece, &ej);
            break;
        case TP_L_DROPOUT:
            if (dx && l->rate > 0) /* the same mask again: dx = dy * mask / (1 - rate) */
                dropout_apply(w, l, i, (uint64_t)w->first * tp_layer_out_size(net, i), dy, dx, count);
            else if (dx)
                elementwise(w, count, copy_piece, &ej);
            break;
        case TP_L_BATCHNORM: bn_backward(w, i, l, x, dy, dx, n); break;
        }
    }
    w->lane = 0;
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
