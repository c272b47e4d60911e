/* Unit tests of lib/nn.c: every layer's backward pass against central finite differences
 * of the loss, on small networks covering each layer kind, padding and stride. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn.h"
#include "rng.h"

static double loss_at(tp_nn *w, int n, const int32_t *y, const tp_rng *step)
{
    tp_nn_forward(w, n, 1, step);
    return tp_nn_backward(w, n, y, 0.1f);
}

/* Checks every gradient of the network described by text (at most 400 parameters), with
 * the layers' work on threads threads and the batch's sums over blocks of block samples
 * (0: the default). */
static void check_net_on(const char *text, int h, int wd, int c, int n, int threads, int block)
{
    tp_net net;
    memset(&net, 0, sizeof net);
    char err[256];
    if (tp_net_parse(&net, text, "test", err, sizeof err) || tp_net_build(&net, h, wd, c, "test", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        check_failures++;
        return;
    }
    tp_net_init(&net, 3);
    tp_nn w;
    tp_nn_init(&w, &net, n);
    tp_nn_threads(&w, threads, block);
    tp_rng r;
    tp_rng_seed(&r, 11);
    size_t in = (size_t)h * (size_t)wd * (size_t)c;
    float *x = malloc(in * (size_t)n * sizeof *x);
    for (size_t i = 0; i < in * (size_t)n; i++)
        x[i] = (float)tp_rng_normal(&r);
    int32_t y[16];
    for (int s = 0; s < n; s++)
        y[s] = (int32_t)tp_rng_below(&r, (uint64_t)net.classes);
    tp_rng step;
    tp_rng_seed(&step, 5);
    memcpy(w.a[0], x, in * (size_t)n * sizeof *x);
    loss_at(&w, n, y, &step);
    float *grad = malloc(net.ntrain * sizeof *grad);
    memcpy(grad, w.grad, net.ntrain * sizeof *grad);
    int bad = 0;
    double worst = 0;
    for (size_t k = 0; k < net.ntrain; k++) {
        const float eps = 1e-3f;
        float keep = net.params[k];
        net.params[k] = keep + eps;
        memcpy(w.a[0], x, in * (size_t)n * sizeof *x);
        double lp = loss_at(&w, n, y, &step);
        net.params[k] = keep - eps;
        memcpy(w.a[0], x, in * (size_t)n * sizeof *x);
        double lm = loss_at(&w, n, y, &step);
        net.params[k] = keep;
        double num = (lp - lm) / (2.0 * eps), ana = grad[k];
        double tol = 1e-3 + 3e-2 * fmax(fabs(num), fabs(ana)); /* float forward, O(eps^2) truncation */
        double e = fabs(num - ana) / (1e-3 + fmax(fabs(num), fabs(ana)));
        worst = e > worst ? e : worst;
        if (fabs(num - ana) > tol && bad++ < 5)
            fprintf(stderr, "%s: parameter %zu: analytic %.6g, numeric %.6g\n", text, k, ana, num);
    }
    if (bad) {
        fprintf(stderr, "%d of %zu gradients off (worst relative error %.3g)\n", bad, net.ntrain, worst);
        check_failures++;
    }
    /* a frozen prefix: the backward pass stops at the first learning layer, the others'
     * gradients are exactly those of the full pass and the frozen ones stay 0 */
    for (int f = 1; f < net.n; f++) {
        size_t first = net.ntrain;
        for (int i = f; i < net.n; i++)
            if (net.l[i].nw + net.l[i].nb > 0) {
                first = net.l[i].w;
                break;
            }
        net.frozen = f;
        memcpy(w.a[0], x, in * (size_t)n * sizeof *x);
        loss_at(&w, n, y, &step);
        int off = 0;
        for (size_t k = 0; k < net.ntrain; k++)
            off += k < first ? w.grad[k] != 0 : w.grad[k] != grad[k];
        if (off) {
            fprintf(stderr, "%s: frozen %d: %d gradients differ from the full pass\n", text, f, off);
            check_failures++;
        }
        net.frozen = 0;
    }
    free(x);
    free(grad);
    tp_nn_free(&w);
    tp_net_free(&net);
}

static void check_net(const char *text, int h, int wd, int c, int n)
{
    check_net_on(text, h, wd, c, n, 1, 0);
    check_net_on(text, h, wd, c, n, 3, 1); /* every sample its own block, 3 threads */
}

/* Batch normalisation in training takes the whole batch's statistics, however the batch's
 * sums are cut into blocks and threads: its output has mean 0 and variance 1 - eps/(var +
 * eps) per channel over the whole batch (gamma 1, beta 0), computed here directly; and for
 * one block size the outputs are the same bytes on any thread count. */
static void check_batch_stats(void)
{
    const char *text = "conv 3 2x2\nbatchnorm\nflatten\ndense 2 softmax\n";
    tp_net net;
    memset(&net, 0, sizeof net);
    char err[256];
    CHECK(tp_net_parse(&net, text, "test", err, sizeof err) == 0 && tp_net_build(&net, 4, 4, 2, "test", err, sizeof err) == 0);
    tp_net_init(&net, 7);
    const int n = 11;
    size_t in = 4 * 4 * 2, per = 3 * 3, C = 3;
    float *first[12] = {NULL};
    const int cuts[][2] = {{1, 2}, {3, 2}, {4, 2}, {1, 1}, {2, 1}, {5, 1}, {2, 3}, {1, 11}, {3, 11}};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        tp_nn w;
        tp_nn_init(&w, &net, n);
        tp_nn_threads(&w, cuts[k][0], cuts[k][1]);
        tp_rng r;
        tp_rng_seed(&r, 3);
        for (size_t i = 0; i < in * n; i++) /* per-sample offsets: shard statistics would differ */
            w.a[0][i] = (float)(tp_rng_normal(&r) + (double)(i / in));
        tp_nn_forward(&w, n, 1, NULL);
        const float *x = w.a[1], *y = w.a[2];
        for (size_t c = 0; c < C; c++) {
            double m = 0, v = 0, my = 0, vy = 0;
            for (size_t q = 0; q < n * per; q++)
                m += x[q * C + c];
            m /= (double)(n * per);
            for (size_t q = 0; q < n * per; q++)
                v += (x[q * C + c] - m) * (x[q * C + c] - m);
            v /= (double)(n * per);
            for (size_t q = 0; q < n * per; q++)
                my += y[q * C + c], vy += (double)y[q * C + c] * y[q * C + c];
            my /= (double)(n * per);
            vy = vy / (double)(n * per) - my * my;
            double want = v / (v + 1e-3); /* eps = 0.001 */
            CHECK(fabs(my) < 1e-5 && fabs(vy - want) < 1e-4 * want);
        }
        float **f = &first[cuts[k][1]];
        if (!*f) {
            *f = malloc(n * per * C * sizeof **f);
            memcpy(*f, y, n * per * C * sizeof **f);
        } else {
            CHECK(memcmp(*f, y, n * per * C * sizeof **f) == 0);
        }
        tp_nn_free(&w);
    }
    for (int b = 0; b < 12; b++)
        free(first[b]);
    tp_net_free(&net);
}

/* An inference workspace (two alternating buffers, no record for backward passes, a
 * smaller im2col scratch) gives a training workspace's inference outputs bit for bit. */
static void check_infer(const char *text, int h, int wd, int c, int n)
{
    tp_net net;
    memset(&net, 0, sizeof net);
    char err[256];
    CHECK(tp_net_parse(&net, text, "test", err, sizeof err) == 0 && tp_net_build(&net, h, wd, c, "test", err, sizeof err) == 0);
    tp_net_init(&net, 5);
    for (size_t i = net.ntrain; i < net.nparams; i++) /* moving statistics other than 0 and 1 */
        net.params[i] = 0.5f + 0.01f * (float)(i % 7);
    tp_nn a, b;
    tp_nn_init(&a, &net, n);
    tp_nn_init_infer(&b, &net, n);
    tp_rng r;
    tp_rng_seed(&r, 9);
    size_t in = (size_t)h * (size_t)wd * (size_t)c, out = tp_layer_out_size(&net, net.n - 1);
    for (size_t i = 0; i < in * (size_t)n; i++)
        a.a[0][i] = b.a[0][i] = (float)tp_rng_normal(&r);
    tp_nn_forward(&a, n, 0, NULL);
    tp_nn_forward(&b, n, 0, NULL);
    CHECK(memcmp(a.a[net.n], b.a[net.n], out * (size_t)n * sizeof(float)) == 0);
    CHECK(tp_nn_infer_bytes(&net) >= 2 * in * sizeof(float));
    tp_nn_free(&a);
    tp_nn_free(&b);
    tp_net_free(&net);
}

int main(void)
{
    check_batch_stats();
    check_infer("conv 3 3x3 relu pad=same\nmaxpool 2\nconv 4 2x2 stride=2\nbatchnorm\nflatten\ndense 5 relu\n"
                "dropout 0.3\ndense 3 softmax\n", 12, 12, 2, 7);
    check_infer("conv 2 1x1\navgpool 2\ngap\ndense 3 softmax\n", 8, 8, 3, 4);
    check_infer("conv 64 3x3 relu pad=same\nconv 64 3x3 relu pad=same\nmaxpool 2\nflatten\ndense 10 softmax\n", 64, 64,
                3, 9); /* an im2col larger than the inference scratch: fewer samples per GEMM */
    /* the notebook-like stack: same padding, maxpool, strided conv, dense, dropout */
    check_net("conv 3 3x3 relu pad=same\nmaxpool 2\nconv 4 2x2 stride=2\nflatten\ndense 5 relu\ndropout 0.3\n"
              "dense 3 softmax\n", 6, 6, 2, 4);
    /* valid padding on odd sizes, batchnorm, a standalone relu, average and global pooling */
    check_net("conv 2 3x3\nbatchnorm\nrelu\navgpool 2\ngap\ndense 3 softmax\n", 7, 7, 1, 5);
    /* batchnorm on a flat layer; He initialisation */
    check_net("flatten\ndense 4 init=he\nbatchnorm\nrelu\ndense 3 softmax\n", 3, 1, 2, 6);
    /* 1x1 convolution (im2col skipped) and a rectangular kernel and stride */
    check_net("conv 3 1x1 relu\nconv 2 3x2 stride=2x1 pad=same\nflatten\ndense 2 softmax\n", 5, 4, 2, 3);
    /* overlapping max pooling */
    check_net("conv 2 2x2\nmaxpool 3 stride=1\nflatten\ndense 3 softmax\n", 6, 6, 1, 2);
    return check_result();
}
