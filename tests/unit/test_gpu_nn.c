/* Differential test of the network's GPU kernels (cuda/nn.cu) against the CPU (nn.c,
 * optim.c): every layer kind, with padding, strides and activations, forward and backward,
 * the softmax cross-entropy, and every optimiser, on fresh random inputs, in each precision.
 *
 * Each case is a network "conv 1x1 -> OP -> ... -> dense K softmax": the leading 1x1
 * convolution makes OP's input gradient part of the backward pass. Forward outputs are
 * compared elementwise,
 *     max |gpu - cpu| / max(max |cpu|, 1e-6)
 * with a bound per precision: fp32 1e-4 (reordered float sums over up to ~1000 terms: a few
 * 1e-6 typical, 1e-4 leaves room for cancellation), tf32 1e-2 (10-bit mantissas: products
 * carry 2^-11 relative error, and errors of one layer pass into the next), bf16 5e-2 (8-bit
 * mantissas, 2^-9). Gradients are compared the same way in fp32. In tf32 and bf16 a
 * pre-activation near zero may fall on the other side of a ReLU (or a max-pool's near-tie
 * may pick the other element), which moves that element's gradient by all of it: there
 * they are compared by the relative L2 norm ||gpu - cpu|| / ||cpu||, bounded by 3e-2 (tf32)
 * and 1e-1 (bf16): about 0.1 % (tf32) or 1 % (bf16) of the elements may flip. Dropout masks
 * must agree exactly (the same Philox draws), and NaN and Inf must sit in the same places.
 * After each case the guard bytes behind every device buffer must be untouched. Without a
 * GPU the test reports itself skipped (exit 77). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gpu_check.h"
#include "device.h"
#include "gpu_nn.h"
#include "nn.h"
#include "optim.h"
#include "rng.h"

static const double bound[3] = {1e-4, 1e-2, 5e-2}, l2bound[3] = {1e-4, 3e-2, 1e-1};
static const char *const pname[3] = {"fp32", "tf32", "bf16"};

/* Relative difference of two tensors as above; -1 when NaN/Inf positions differ. */
static double rel_diff(const float *cpu, const float *gpu, size_t n)
{
    double mx = 1e-6, d = 0;
    for (size_t i = 0; i < n; i++) {
        int fc = isfinite(cpu[i]), fg = isfinite(gpu[i]);
        if (fc != fg || (!fc && (isnan(cpu[i]) != isnan(gpu[i]) || (isinf(cpu[i]) && cpu[i] != gpu[i]))))
            return -1;
        if (!fc)
            continue;
        mx = fabs(cpu[i]) > mx ? fabs(cpu[i]) : mx;
        d = fabs((double)cpu[i] - gpu[i]) > d ? fabs((double)cpu[i] - gpu[i]) : d;
    }
    return d / mx;
}

/* ||gpu - cpu|| / ||cpu|| over the finite elements; -1 when NaN/Inf positions differ. */
static double l2_diff(const float *cpu, const float *gpu, size_t n)
{
    double a = 0, b = 1e-300;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(cpu[i]) != isfinite(gpu[i]) || isnan(cpu[i]) != isnan(gpu[i]))
            return -1;
        if (!isfinite(cpu[i]))
            continue;
        a += ((double)gpu[i] - cpu[i]) * ((double)gpu[i] - cpu[i]);
        b += (double)cpu[i] * cpu[i];
    }
    return sqrt(a / b);
}

/* grad: a gradient, compared by the L2 norm outside fp32 (see the top). */
static void compare(const char *what, const char *net, int p, const float *cpu, const float *gpu, size_t n, int grad)
{
    int l2 = grad && p > 0;
    double r = l2 ? l2_diff(cpu, gpu, n) : rel_diff(cpu, gpu, n), lim = l2 ? l2bound[p] : bound[p];
    if (r < 0 || !(r <= lim)) {
        fprintf(stderr, "%s [%s] %s: relative %s difference %g (bound %g)%s\n", net, pname[p], what, l2 ? "L2" : "max",
                r, lim, r < 0 ? ": NaN/Inf in different places" : "");
        check_failures++;
    }
}

/* Runs network text on an h x w x c batch of n on both backends and compares everything. */
static void check_case(const tp_device *dev, const char *text, int h, int wd, int c, int n, int p, int with_nan)
{
    tp_net net;
    memset(&net, 0, sizeof net);
    char err[256];
    if (tp_net_parse(&net, text, "case", err, sizeof err) || tp_net_build(&net, h, wd, c, "case", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        check_failures++;
        return;
    }
    tp_net_init(&net, 5);
    tp_rng r;
    tp_rng_seed(&r, 1234 + (uint64_t)p);
    for (int i = 0; i < net.n; i++) /* batchnorm: parameters and statistics away from 1 and 0 */
        if (net.l[i].kind == TP_L_BATCHNORM)
            for (int k = 0; k < net.l[i].oc; k++) {
                net.params[net.l[i].w + (size_t)k] = (float)(0.5 + tp_rng_double(&r));
                net.params[net.l[i].b + (size_t)k] = (float)tp_rng_normal(&r) * 0.1f;
                net.params[net.l[i].mean + (size_t)k] = (float)tp_rng_normal(&r) * 0.1f;
                net.params[net.l[i].var + (size_t)k] = (float)(0.5 + tp_rng_double(&r));
            }
    size_t in = tp_layer_out_size(&net, -1) * (size_t)n;
    float *x = malloc(in * sizeof *x);
    int32_t *y = malloc((size_t)n * sizeof *y);
    for (size_t i = 0; i < in; i++)
        x[i] = (float)tp_rng_normal(&r);
    if (with_nan)
        x[in / 3] = NAN;
    for (int s = 0; s < n; s++)
        y[s] = (int32_t)tp_rng_below(&r, (uint64_t)net.classes);
    tp_rng step;
    tp_rng_seed(&step, 99);
    step = tp_rng_split(&step, 7);

    const tp_gpu_nn_api *nn = dev->api->nn;
    dev->api->set_precision(dev->gpu, (tp_precision)p);
    tp_gnn *g = nn->create(dev->gpu, &net, n);
    tp_nn w;
    tp_nn_init(&w, &net, n);
    memcpy(w.a[0], x, in * sizeof *x);
    nn->set_batch(g, x, y, n);
    for (int train = 0; train <= 1; train++) {
        tp_nn_forward(&w, n, train, train ? &step : NULL);
        nn->forward(g, n, train, train ? step.key : NULL, 0);
        for (int i = 1; i <= net.n; i++) {
            size_t cnt = tp_layer_out_size(&net, i - 1) * (size_t)n;
            float *o = malloc((cnt + 16) * sizeof *o);
            for (int k = 0; k < 16; k++) /* host-side guard: read() writes exactly cnt floats */
                o[cnt + (size_t)k] = -12345.0f;
            nn->read(g, i, 0, n, o);
            for (int k = 0; k < 16; k++)
                CHECK(o[cnt + (size_t)k] == -12345.0f);
            char what[64];
            snprintf(what, sizeof what, "%s output of layer %d (%s)", train ? "training" : "inference", i - 1,
                     tp_layer_name(net.l[i - 1].kind));
            compare(what, text, p, w.a[i], o, cnt, 0);
            if (net.l[i - 1].kind == TP_L_DROPOUT && train && p == 0) /* the same mask: zeros in the same places */
                for (size_t e = 0; e < cnt; e++)
                    CHECK((w.a[i][e] == 0) == (o[e] == 0) || w.a[i - 1][e] == 0);
            free(o);
        }
    }
    /* backward after the training pass */
    double lc = tp_nn_backward(&w, n, y, 0.1f) * n;
    int64_t right = 0, rc = 0;
    nn->totals(g, NULL); /* drop the inference pass's figures */
    nn->backward(g, n, 0.1f);
    double lg = nn->totals(g, &right);
    for (int s = 0; s < n; s++)
        rc += tp_argmax(w.a[net.n] + (size_t)s * (size_t)net.classes, net.classes) == y[s];
    if (!with_nan) {
        CHECK(fabs(lc - lg) <= bound[p] * (fabs(lc) + 1e-3));
        if (p == 0) /* lower precisions may tip a near-tie */
            CHECK_INT(right, rc);
    } else {
        CHECK(isnan(lc) == isnan(lg));
    }
    for (int i = net.n; i >= 1; i--) { /* layer 0 passes no gradient to the input */
        size_t cnt = tp_layer_out_size(&net, i - 1) * (size_t)n;
        float *o = malloc(cnt * sizeof *o);
        nn->read(g, i, 1, n, o);
        char what[64];
        snprintf(what, sizeof what, "gradient into layer %d (%s)", i - 1, tp_layer_name(net.l[i - 1].kind));
        compare(what, text, p, w.g[i], o, cnt, 1);
        free(o);
    }
    float *gr = malloc((net.ntrain + 1) * sizeof *gr);
    nn->read(g, -1, 1, n, gr);
    compare("parameter gradient", text, p, w.grad, gr, net.ntrain, 1);
    /* moving statistics (batchnorm) after the training pass */
    float *pp = malloc(net.nparams * sizeof *pp);
    nn->get_params(g, pp);
    compare("parameters after a training pass", text, p, net.params, pp, net.nparams, 0);
    CHECK_INT(nn->guards(g), 0);
    free(pp);
    free(gr);
    nn->destroy(g);
    tp_nn_free(&w);
    tp_net_free(&net);
    free(x);
    free(y);
}

/* Three steps of each optimiser on both backends from the same parameters and gradients. */
static void check_optimisers(const tp_device *dev)
{
    tp_net net;
    memset(&net, 0, sizeof net);
    char err[256];
    if (tp_net_parse(&net, "dense 50 relu\ndense 7 softmax\n", "opt", err, sizeof err) ||
        tp_net_build(&net, 1, 1, 30, "opt", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        check_failures++;
        return;
    }
    static const struct {
        tp_opt_kind k;
        double momentum, decay;
        int nesterov;
    } cases[] = {{TP_OPT_SGD, 0, 0, 0}, {TP_OPT_SGD, 0.9, 0, 0}, {TP_OPT_SGD, 0.9, 0, 1}, {TP_OPT_ADAM, 0, 0, 0},
                 {TP_OPT_ADAM, 0, 1e-2, 0}, {TP_OPT_ADAGRAD, 0, 0, 0}};
    const tp_gpu_nn_api *nn = dev->api->nn;
    dev->api->set_precision(dev->gpu, TP_PREC_FP32);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        tp_net_init(&net, 17 + c);
        int n = 9;
        tp_nn w;
        tp_nn_init(&w, &net, n);
        tp_gnn *g = nn->create(dev->gpu, &net, n);
        tp_optim oc, og;
        tp_optim_init(&oc, cases[c].k, net.ntrain);
        tp_optim_init(&og, cases[c].k, net.ntrain);
        oc.momentum = og.momentum = cases[c].momentum;
        oc.decay = og.decay = cases[c].decay;
        oc.nesterov = og.nesterov = cases[c].nesterov;
        tp_rng r;
        tp_rng_seed(&r, 5 + c);
        float x[9 * 30];
        int32_t y[9];
        for (int t = 0; t < 3; t++) {
            for (int e = 0; e < n * 30; e++)
                x[e] = (float)tp_rng_normal(&r);
            for (int s = 0; s < n; s++)
                y[s] = (int32_t)tp_rng_below(&r, 7);
            memcpy(w.a[0], x, sizeof x);
            tp_nn_forward(&w, n, 1, &r);
            tp_nn_backward(&w, n, y, 0);
            tp_optim_step(&oc, net.params, w.grad, 0.01);
            nn->set_batch(g, x, y, n);
            nn->forward(g, n, 1, r.key, 0);
            nn->backward(g, n, 0);
            nn->step(g, &og, 0, 0.01);
        }
        float *pp = malloc(net.nparams * sizeof *pp);
        nn->get_params(g, pp);
        char what[64];
        snprintf(what, sizeof what, "optimiser %zu after 3 steps", c);
        compare(what, "dense 50 relu / dense 7 softmax", 0, net.params, pp, net.nparams, 0);
        CHECK_INT(og.t, 3);
        CHECK_INT(nn->guards(g), 0);
        free(pp);
        tp_optim_free(&oc);
        tp_optim_free(&og);
        nn->destroy(g);
        tp_nn_free(&w);
    }
    tp_net_free(&net);
}

int main(void)
{
    tp_device dev;
    const tp_gpu_api *api;
    tp_gpu *gpu = gpu_check_open(&api);
    memset(&dev, 0, sizeof dev);
    dev.api = api;
    dev.gpu = gpu;
    static const struct {
        const char *text;
        int h, w, c, n;
    } cases[] = {
        {"conv 4 1x1\nconv 6 3x3 relu\nflatten\ndense 5 softmax\n", 9, 8, 3, 4},
        {"conv 4 1x1\nconv 6 3x3 stride=2 pad=valid\nflatten\ndense 5 softmax\n", 11, 9, 2, 3},
        {"conv 4 1x1\nconv 5 5x5 stride=2 relu\nflatten\ndense 5 softmax\n", 10, 10, 2, 3},
        {"conv 4 1x1\nconv 7 1x1 relu\nflatten\ndense 5 softmax\n", 6, 6, 3, 5},
        {"conv 4 1x1\nmaxpool 2\nflatten\ndense 5 softmax\n", 8, 8, 2, 4},
        {"conv 4 1x1\nconv 5 3x2 stride=2 pad=same\nflatten\ndense 5 softmax\n", 9, 7, 2, 3},
        {"conv 4 1x1\nconv 3 4x4 pad=same relu\nflatten\ndense 5 softmax\n", 8, 7, 2, 3},
        {"conv 4 1x1\navgpool 3 stride=2\nflatten\ndense 5 softmax\n", 10, 9, 2, 4},
        {"conv 4 1x1\nmaxpool 3 stride=2\nflatten\ndense 5 softmax\n", 10, 10, 2, 4},
        {"conv 4 1x1\nmaxpool 3 stride=2\nflatten\ndense 5 softmax\n", 9, 9, 2, 4},
        {"conv 4 1x1\navgpool 2\nflatten\ndense 5 softmax\n", 8, 6, 2, 4},
        {"conv 4 1x1\ngap\ndense 5 softmax\n", 7, 7, 3, 6},
        {"conv 4 1x1\nrelu\nflatten\ndense 5 softmax\n", 5, 5, 2, 4},
        {"conv 4 1x1\ndropout 0.3\nflatten\ndense 5 softmax\n", 6, 6, 2, 8},
        {"conv 4 1x1\nbatchnorm\nflatten\ndense 5 softmax\n", 6, 5, 2, 7},
        {"conv 4 1x1\nflatten\ndense 40 relu\ndropout 0.5\ndense 30\nbatchnorm\ndense 10 softmax\n", 4, 4, 3, 16},
        {"conv 8 3x3 relu\nconv 8 3x3 relu\nmaxpool 2\nconv 16 3x3 relu\nbatchnorm\nmaxpool 2\nflatten\n"
         "dense 64 relu\ndropout 0.5\ndense 10 softmax\n",
         28, 28, 1, 32},
    };
    for (int p = 0; p < 3; p++)
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
            check_case(&dev, cases[c].text, cases[c].h, cases[c].w, cases[c].c, cases[c].n, p, 0);
    /* NaN and Inf travel the same ways */
    check_case(&dev, cases[0].text, cases[0].h, cases[0].w, cases[0].c, cases[0].n, 0, 1);
    check_case(&dev, cases[4].text, cases[4].h, cases[4].w, cases[4].c, cases[4].n, 0, 1);
    check_optimisers(&dev);
    api->close(gpu);
    return check_result();
}
