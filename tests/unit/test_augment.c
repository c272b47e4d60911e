/* Unit tests of lib/augment.c: fixed draws against exact maps worked by hand, fill modes,
 * Keras' axis swap, and the ranges of the random draws. */
#include <math.h>
#include <string.h>

#include "augment.h"
#include "check.h"

static tp_augment plain(void)
{
    tp_augment a = {.zoom_lo = 1, .zoom_hi = 1, .fill = TP_FILL_NEAREST};
    return a;
}

static tp_augment_draw none(void)
{
    tp_augment_draw d = {0, 0, 0, 0, 1, 1, 0, 0};
    return d;
}

/* Warps h x w x 1 src with draw d under augment a. */
static void warp(const tp_augment *a, const tp_augment_draw *d, const float *src, float *dst, int h, int w)
{
    double m[6];
    tp_augment_matrix(a, d, h, w, m);
    tp_augment_warp(a, d, m, src, dst, h, w, 1);
}

static void test_exact_maps(void)
{
    enum { H = 5, W = 5 };
    float in[H * W], out[H * W];
    for (int i = 0; i < H * W; i++)
        in[i] = (float)(i * 3 + 1);
    tp_augment a = plain();
    tp_augment_draw d = none();
    warp(&a, &d, in, out, H, W);
    CHECK(memcmp(in, out, sizeof in) == 0); /* identity */
    /* +90 degrees: out(r, c) = in(W-1-c, r), i.e. the image turned clockwise as displayed */
    for (int sz = 4; sz <= 5; sz++) {
        d = none();
        d.theta = 90;
        warp(&a, &d, in, out, sz, sz);
        int bad = 0;
        for (int r = 0; r < sz; r++)
            for (int c = 0; c < sz; c++)
                bad += fabsf(out[r * sz + c] - in[(sz - 1 - c) * sz + r]) > 1e-4f;
        CHECK_INT(bad, 0);
        d.theta = -90; /* and back the other way: out(r, c) = in(c, W-1-r) */
        warp(&a, &d, in, out, sz, sz);
        bad = 0;
        for (int r = 0; r < sz; r++)
            for (int c = 0; c < sz; c++)
                bad += fabsf(out[r * sz + c] - in[c * sz + (sz - 1 - r)]) > 1e-4f;
        CHECK_INT(bad, 0);
    }
    /* height shift of 2 rows: out(r, c) = in(r + 2, c), rows past the end repeat (nearest) */
    d = none();
    d.tx = 2;
    warp(&a, &d, in, out, H, W);
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++)
            CHECK(out[r * W + c] == in[(r + 2 < H ? r + 2 : H - 1) * W + c]);
    /* the same draw with Keras' axes moves columns instead */
    a.keras_axes = 1;
    warp(&a, &d, in, out, H, W);
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++)
            CHECK(out[r * W + c] == in[r * W + (c + 2 < W ? c + 2 : W - 1)]);
    a.keras_axes = 0;
    /* flips */
    d = none();
    d.flip_h = 1;
    warp(&a, &d, in, out, H, W);
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++)
            CHECK(out[r * W + c] == in[r * W + W - 1 - c]);
    d = none();
    d.flip_v = 1;
    warp(&a, &d, in, out, H, W);
    CHECK(out[0] == in[(H - 1) * W] && out[W + 2] == in[(H - 2) * W + 2]);
    /* zoom 2 about the centre (2, 2): out(r, c) = in(2 + 2 (r - 2), 2 + 2 (c - 2)) */
    d = none();
    d.zx = d.zy = 2;
    warp(&a, &d, in, out, H, W);
    CHECK(out[1 * W + 3] == in[0 * W + 4] && out[2 * W + 2] == in[2 * W + 2]);
    /* a half-pixel shift interpolates: out(r, 0) = (in(r, 0) + in(r, 1)) / 2 */
    d = none();
    d.ty = 0.5;
    warp(&a, &d, in, out, H, W);
    CHECK_NEAR(out[W], (in[W] + in[W + 1]) / 2, 1e-5);
}

/* 1 x 4 row [10 20 30 40] shifted 3 columns: out(c) = in(c + 3) under each fill mode. */
static void test_fill(void)
{
    float in[4] = {10, 20, 30, 40}, out[4];
    tp_augment a = plain();
    tp_augment_draw d = none();
    d.ty = 3;
    float want[4][4] = {
        {40, 40, 40, 40}, /* nearest: the edge repeats */
        {40, -1, -1, -1}, /* constant (cval -1) */
        {40, 40, 30, 20}, /* reflect: d c b a | a b c d | d c b a */
        {40, 20, 30, 10}, /* wrap as scipy (Keras): period n - 1, the ends coincide: a b c d | b c d */
    };
    for (int f = 0; f < 4; f++) {
        a.fill = (tp_fill)f;
        a.cval = -1;
        warp(&a, &d, in, out, 1, 4);
        for (int c = 0; c < 4; c++)
            if (out[c] != want[f][c]) {
                fprintf(stderr, "fill %d column %d: %g, want %g\n", f, c, out[c], want[f][c]);
                check_failures++;
            }
    }
    tp_fill f;
    CHECK(tp_fill_parse("reflect", &f) == 0 && f == TP_FILL_REFLECT && tp_fill_parse("mirror", &f) == -1);
}

static void test_draws(void)
{
    tp_augment a = plain();
    a.rotation = 40;
    a.width_shift = 0.2;
    a.height_shift = 3; /* whole pixels: an integer in (-3, 3) */
    a.shear = 10;
    a.zoom_lo = 0.8;
    a.zoom_hi = 1.2;
    a.hflip = 1;
    tp_rng r;
    tp_rng_seed(&r, 1);
    double mt = 0, mz = 0, lo = 1e9, hi = -1e9;
    int flips = 0, ints = 1, seen[7] = {0};
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        tp_augment_draw d;
        tp_augment_sample(&a, &r, 50, 100, &d);
        CHECK(fabs(d.theta) <= 40 && fabs(d.ty) <= 20 && fabs(d.shear) <= 10);
        CHECK(d.zx >= 0.8 && d.zx <= 1.2 && d.zy >= 0.8 && d.zy <= 1.2 && !d.flip_v);
        ints &= d.tx == floor(d.tx) && fabs(d.tx) <= 2;
        seen[(int)d.tx + 3]++;
        mt += d.theta;
        mz += d.zx;
        lo = d.ty < lo ? d.ty : lo;
        hi = d.ty > hi ? d.ty : hi;
        flips += d.flip_h;
    }
    CHECK(ints);
    CHECK(seen[1] && seen[2] && seen[3] && seen[4] && seen[5] && !seen[0] && !seen[6]);
    CHECK_NEAR(mt / n, 0, 5 * 40 / sqrt(3.0 * n));
    CHECK_NEAR(mz / n, 1, 5 * 0.2 / sqrt(3.0 * n));
    CHECK(lo < -19 && hi > 19); /* 0.2 of the width 100 */
    CHECK(flips > n / 2 - 500 && flips < n / 2 + 500);
    /* a parameter's draw does not depend on which others are on */
    tp_augment b = plain();
    b.rotation = 40;
    tp_rng r1, r2;
    tp_rng_seed(&r1, 9);
    tp_rng_seed(&r2, 9);
    tp_augment_draw d1, d2;
    tp_augment_sample(&a, &r1, 50, 100, &d1);
    tp_augment_sample(&b, &r2, 50, 100, &d2);
    CHECK(d1.theta == d2.theta && d2.tx == 0 && d2.zx == 1 && !d2.flip_h);
}

int main(void)
{
    test_exact_maps();
    test_fill();
    test_draws();
    return check_result();
}
