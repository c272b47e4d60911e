/* Unit tests of lib/winograd.c through lib/nn.c: every 3x3 stride-1 layer shape of
 * pipelines/nets/ and odd ones, Winograd's three passes against the reference twin (im2col +
 * sgemm), and the same bytes on any thread count.
 *
 * Tolerance. Each output of a pass is a sum of products, and fp32 rounding moves it by at
 * most a small multiple of u S, where u = 2^-24 is fp32's unit roundoff and S the same sum
 * of absolute values (|x| * |W|, |dy| * |W|, |x| * |dy|), which the reference path computes
 * here on the absolute inputs. The two paths differ by the rounding of both: im2col's is
 * that of a dot product, Winograd's adds its transforms', whose constants are at most 1 in
 * size for F(2x2) and reach 5 (B^T), 8 (A^T) and 1/24 (G) for F(4x4), so its rounding is
 * larger by about those factors squared. The bounds are K u S with K = 64 for F(2x2) and
 * K = 512 for F(4x4); the errors measured (printed with -v) sit 4 to 7 times below them,
 * while a wrong transform, tile edge or padding is off by about S itself (u S x 10^7). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn.h"
#include "rng.h"

static int verbose;

typedef struct {
    int h, w, c, k, same, n;
    const char *where;
} shape;

static const shape shapes[] = {
    /* pipelines/nets/mnist-best.net and mnist-small.net */
    {28, 28, 32, 32, 1, 3, "mnist-best conv 2"},
    {14, 14, 32, 64, 1, 3, "mnist-best conv 3"},
    {14, 14, 64, 64, 1, 3, "mnist-best conv 4"},
    {28, 28, 16, 16, 1, 3, "mnist-small conv 2"},
    {14, 14, 16, 32, 1, 3, "mnist-small conv 3"},
    {14, 14, 32, 32, 1, 3, "mnist-small conv 4"},
    /* notebook-cnn.net (valid padding) */
    {63, 63, 32, 64, 0, 1, "notebook-cnn conv 2"},
    {30, 30, 64, 128, 0, 2, "notebook-cnn conv 3"},
    /* vgg-small.net */
    {32, 32, 32, 32, 1, 2, "vgg-small 32x32"},
    {16, 16, 32, 64, 1, 2, "vgg-small 16x16"},
    {8, 8, 64, 64, 1, 2, "vgg-small 8x8"},
    /* vgg16.net at 224x224 */
    {224, 224, 64, 64, 1, 1, "vgg16 block 1"},
    {112, 112, 64, 128, 1, 1, "vgg16 block 2a"},
    {112, 112, 128, 128, 1, 1, "vgg16 block 2b"},
    {56, 56, 128, 256, 1, 1, "vgg16 block 3a"},
    {56, 56, 256, 256, 1, 1, "vgg16 block 3b"},
    {28, 28, 256, 512, 1, 1, "vgg16 block 4a"},
    {28, 28, 512, 512, 1, 1, "vgg16 block 4b"},
    {14, 14, 512, 512, 1, 1, "vgg16 block 5"},
    /* odd sizes: partial tiles, odd channel counts, outputs smaller than a tile */
    {5, 7, 16, 16, 1, 3, "5x7 same"},
    {9, 11, 24, 20, 0, 2, "9x11 valid"},
    {13, 6, 17, 19, 1, 5, "13x6 same, 17 in, 19 out"},
    {3, 3, 16, 16, 0, 4, "3x3 valid (one output)"},
    {4, 4, 16, 24, 1, 2, "4x4 same"},
    {10, 10, 16, 16, 1, 7, "10x10 same"},
};

typedef struct {
    tp_net net;
    tp_nn w;
} rig;

static int rig_open(rig *r, const shape *s, int reference, int threads, int relu)
{
    memset(r, 0, sizeof *r);
    char text[128], err[256];
    snprintf(text, sizeof text, "conv %d 3x3%s%s\nflatten\ndense 2 softmax\n", s->k, relu ? " relu" : "",
             s->same ? " pad=same" : "");
    if (tp_net_parse(&r->net, text, "test", err, sizeof err) || tp_net_build(&r->net, s->h, s->w, s->c, "test", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    tp_net_init(&r->net, 4);
    tp_nn_init(&r->w, &r->net, s->n);
    r->w.reference = reference;
    tp_nn_threads(&r->w, threads, 0);
    return 0;
}

static void rig_close(rig *r)
{
    tp_nn_free(&r->w);
    tp_net_free(&r->net);
}

static void fill(float *v, size_t n, uint64_t seed, int absolute)
{
    tp_rng r;
    tp_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        float x = (float)tp_rng_normal(&r);
        v[i] = absolute ? fabsf(x) : x;
    }
}

/* Runs the layer forward and backward on fixed inputs (absolute values with absolute set,
 * the bias 0 then, so that the reference gives the magnitudes S). */
static void run(rig *r, const shape *s, int absolute)
{
    const tp_layer *l = &r->net.l[0];
    size_t in = (size_t)s->h * (size_t)s->w * (size_t)s->c * (size_t)s->n;
    size_t out = (size_t)l->oh * (size_t)l->ow * (size_t)l->oc * (size_t)s->n;
    fill(r->net.params + l->w, l->nw, 7, absolute);
    fill(r->net.params + l->b, l->nb, 8, 0);
    if (absolute)
        memset(r->net.params + l->b, 0, l->nb * sizeof(float));
    fill(r->w.a[0], in, 9, absolute);
    tp_nn_conv_layer(&r->w, 0, s->n, 0);
    fill(r->w.g[1], out, 10, absolute);
    tp_nn_conv_layer(&r->w, 0, s->n, 1);
}

/* The worst |a - b| / (u S) over n values. */
static double worst(const float *a, const float *b, const float *S, size_t n)
{
    const double u = 1.0 / 16777216.0;
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / (u * ((double)S[i] + 1e-30));
        m = e > m || isnan(e) ? e : m;
    }
    return m;
}

static void check_shape(const shape *s)
{
    rig ref, fast, mag;
    if (rig_open(&ref, s, 1, 2, 0) || rig_open(&fast, s, 0, 2, 0) || rig_open(&mag, s, 1, 2, 0)) {
        check_failures++;
        return;
    }
    const tp_layer *l = &ref.net.l[0];
    int mf = tp_nn_conv_method(&fast.w, l, TP_PASS_FORWARD), mi = tp_nn_conv_method(&fast.w, l, TP_PASS_INPUT);
    int mk = tp_nn_conv_method(&fast.w, l, TP_PASS_KERNEL);
    CHECK(mf && mi && mk); /* every shape here takes Winograd */
    run(&ref, s, 0);
    run(&fast, s, 0);
    run(&mag, s, 1);
    size_t in = (size_t)s->h * (size_t)s->w * (size_t)s->c * (size_t)s->n;
    size_t out = (size_t)l->oh * (size_t)l->ow * (size_t)l->oc * (size_t)s->n;
    /* the magnitudes of y leave out the bias, which both paths add once, exactly */
    double ey = worst(fast.w.a[1], ref.w.a[1], mag.w.a[1], out);
    double ex = worst(fast.w.g[0], ref.w.g[0], mag.w.g[0], in);
    double ew = worst(fast.w.grad + l->w, ref.w.grad + l->w, mag.w.grad + l->w, l->nw);
    double eb = worst(fast.w.grad + l->b, ref.w.grad + l->b, mag.w.grad + l->b, l->nb);
    double ky = mf == 4 ? 512 : 64, kx = mi == 4 ? 512 : 64, kw = mk == 4 ? 512 : 64;
    if (verbose || !(ey <= ky && ex <= kx && ew <= kw && eb <= 64))
        fprintf(stderr, "%-28s F(%d) y %7.2f  F(%d) dx %7.2f  F(%d) dW %7.2f  db %5.2f  (errors in u S)\n", s->where, mf,
                ey, mi, ex, mk, ew, eb);
    CHECK(ey <= ky);
    CHECK(ex <= kx);
    CHECK(ew <= kw);
    CHECK(eb <= 64); /* db: the same sums on both paths */
    rig_close(&ref);
    rig_close(&fast);
    rig_close(&mag);
}

/* The fast paths' bytes do not depend on the thread count, with the fused ReLU too. */
static void check_threads(const shape *s)
{
    rig a, b;
    if (rig_open(&a, s, 0, 1, 1) || rig_open(&b, s, 0, 3, 1)) {
        check_failures++;
        return;
    }
    run(&a, s, 0);
    run(&b, s, 0);
    const tp_layer *l = &a.net.l[0];
    size_t in = (size_t)s->h * (size_t)s->w * (size_t)s->c * (size_t)s->n;
    size_t out = (size_t)l->oh * (size_t)l->ow * (size_t)l->oc * (size_t)s->n;
    CHECK(memcmp(a.w.a[1], b.w.a[1], out * sizeof(float)) == 0);
    CHECK(memcmp(a.w.g[0], b.w.g[0], in * sizeof(float)) == 0);
    CHECK(memcmp(a.w.grad, b.w.grad, (l->nw + l->nb) * sizeof(float)) == 0);
    rig_close(&a);
    rig_close(&b);
}

/* The fused ReLU and bias against the reference's. */
static void check_relu(const shape *s)
{
    rig ref, fast;
    if (rig_open(&ref, s, 1, 2, 1) || rig_open(&fast, s, 0, 2, 1)) {
        check_failures++;
        return;
    }
    run(&ref, s, 0);
    run(&fast, s, 0);
    const tp_layer *l = &ref.net.l[0];
    size_t out = (size_t)l->oh * (size_t)l->ow * (size_t)l->oc * (size_t)s->n;
    int neg = 0, bad = 0;
    for (size_t i = 0; i < out; i++) {
        neg += fast.w.a[1][i] < 0;
        bad += fabsf(fast.w.a[1][i] - ref.w.a[1][i]) > 1e-3f * (1 + fabsf(ref.w.a[1][i]));
    }
    CHECK(neg == 0 && bad == 0);
    rig_close(&ref);
    rig_close(&fast);
}

int main(int argc, char **argv)
{
    verbose = argc > 1 && !strcmp(argv[1], "-v");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check_shape(&shapes[i]);
    check_threads(&shapes[21]);
    check_threads(&shapes[1]);
    check_relu(&shapes[0]);
    check_relu(&shapes[20]);
    /* 3 channels in: the first layers keep im2col */
    rig r;
    shape first = {28, 28, 3, 32, 1, 1, "first"};
    if (rig_open(&r, &first, 0, 1, 0) == 0) {
        CHECK(tp_nn_conv_method(&r.w, &r.net.l[0], TP_PASS_FORWARD) == 0);
        rig_close(&r);
    }
    return check_result();
}
