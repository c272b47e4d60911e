/* augment.c — see augment.h. */
#include "augment.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

int tp_fill_parse(const char *s, tp_fill *f)
{
    static const char *names[] = {"nearest", "constant", "reflect", "wrap"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *f = (tp_fill)i;
            return 0;
        }
    return -1;
}

/* A shift in pixels from uniforms u (magnitude) and s (sign), Keras' rules. */
static double shift(double range, int side, double u, double s)
{
    if (range == 0)
        return 0;
    if (range >= 1 && range == floor(range)) /* np.random.choice(n) * choice([-1, 1]) */
        return floor(u * range) * (s < 0.5 ? -1 : 1);
    double v = (2 * u - 1) * range;
    return range < 1 ? v * side : v;
}

/* A draw from [lo, hi] by uniform u. */
static double in_range(const tp_aug_range *r, double u) { return r->lo == r->hi ? r->lo : r->lo + (r->hi - r->lo) * u; }

/* A shift from a LO,HI range: a fraction of the side when both ends are below 1 in size,
 * else pixels. */
static double shift_in(const tp_aug_range *r, int side, double u)
{
    double v = in_range(r, u);
    return fabs(r->lo) < 1 && fabs(r->hi) < 1 ? v * side : v;
}

void tp_augment_sample(const tp_augment *a, tp_rng *r, int h, int w, tp_augment_draw *d)
{
    double u[10];
    for (int i = 0; i < 10; i++)
        u[i] = tp_rng_double(r);
    d->theta = a->rotation_r.set ? in_range(&a->rotation_r, u[0]) : (2 * u[0] - 1) * a->rotation;
    d->tx = a->height_r.set ? shift_in(&a->height_r, h, u[1]) : shift(a->height_shift, h, u[1], u[2]); /* rows */
    d->ty = a->width_r.set ? shift_in(&a->width_r, w, u[3]) : shift(a->width_shift, w, u[3], u[4]);    /* columns */
    d->shear = a->shear_r.set ? in_range(&a->shear_r, u[5]) : (2 * u[5] - 1) * a->shear;
    d->zx = a->zoom_lo + (a->zoom_hi - a->zoom_lo) * u[6];
    d->zy = a->zoom_lo + (a->zoom_hi - a->zoom_lo) * u[7];
    d->flip_h = a->hflip && u[8] < 0.5;
    d->flip_v = a->vflip && u[9] < 0.5;
}

/* cos/sin with the values at multiples of 90 degrees exact. */
static double clean(double v) { return fabs(v) < 1e-12 ? 0 : v; }

/* 3x3 product c = a b (row-major, last row 0 0 1 implied by the inputs). */
static void mul(const double a[9], const double b[9], double c[9])
{
    double t[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            t[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
    memcpy(c, t, sizeof t);
}

void tp_augment_matrix(const tp_augment *a, const tp_augment_draw *d, int h, int w, double m[6])
{
    double th = d->theta * M_PI / 180, sh = d->shear * M_PI / 180;
    double ct = clean(cos(th)), st = clean(sin(th)), cs = clean(cos(sh)), ss = clean(sin(sh));
    double R[9] = {ct, -st, 0, st, ct, 0, 0, 0, 1};
    double S[9] = {1, 0, d->tx, 0, 1, d->ty, 0, 0, 1};
    double H[9] = {1, -ss, 0, 0, cs, 0, 0, 0, 1};
    double Z[9] = {d->zx, 0, 0, 0, d->zy, 0, 0, 0, 1};
    double M[9];
    mul(R, S, M);
    mul(M, H, M);
    mul(M, Z, M);
    double o0 = h / 2.0 - 0.5, o1 = w / 2.0 - 0.5; /* Keras' transform_matrix_offset_center */
    double T[9] = {1, 0, o0, 0, 1, o1, 0, 0, 1}, U[9] = {1, 0, -o0, 0, 1, -o1, 0, 0, 1};
    mul(T, M, M);
    mul(M, U, M);
    if (a->keras_axes) { /* M' = P M P, P swapping the two coordinates, as Keras does */
        double K[9] = {M[4], M[3], M[5], M[1], M[0], M[2], 0, 0, 1};
        memcpy(M, K, sizeof K);
    }
    memcpy(m, M, 6 * sizeof *m);
}

/* A coordinate outside [0, n - 1] mapped back by the fill mode, as scipy.ndimage (1.10) does
 * it for Keras' ImageDataGenerator (map_coordinate): nearest clamps; reflect mirrors about the
 * outer edges of the border pixels (d c b a | a b c d | d c b a); wrap repeats with period
 * n - 1 (the first and last pixels coincide); constant gives -1, the mark for cval, so that
 * nothing is interpolated towards cval. */
static double map_coordinate(double v, int n, tp_fill f)
{
    if (v >= 0 && v <= n - 1)
        return v;
    if (n <= 1)
        return f == TP_FILL_CONSTANT ? -1 : 0;
    if (v < 0) {
        switch (f) {
        case TP_FILL_NEAREST: return 0;
        case TP_FILL_CONSTANT: return -1;
        case TP_FILL_REFLECT: {
            int64_t s2 = 2 * (int64_t)n;
            if (v < (double)-s2)
                v += (double)(s2 * (int64_t)(-v / (double)s2));
            return v < -n ? v + (double)s2 : -v - 1;
        }
        case TP_FILL_WRAP: {
            int64_t sz = n - 1;
            return v + (double)(sz * ((int64_t)(-v / (double)sz) + 1));
        }
        }
    } else {
        switch (f) {
        case TP_FILL_NEAREST: return n - 1;
        case TP_FILL_CONSTANT: return -1;
        case TP_FILL_REFLECT: {
            int64_t s2 = 2 * (int64_t)n;
            v -= (double)(s2 * (int64_t)(v / (double)s2));
            return v >= n ? (double)s2 - v - 1 : v;
        }
        case TP_FILL_WRAP: {
            int64_t sz = n - 1;
            return v - (double)(sz * (int64_t)(v / (double)sz));
        }
        }
    }
    return -1;
}

/* An interpolation tap k (start or start + 1, so at most one pixel out) outside [0, n), as
 * scipy 1.10 extends the image there: reflect repeats the border pixel (x[-1] = x[0]); for the
 * other modes a mapped coordinate lies in [0, n - 1], where a tap out of the image has
 * weight 0, and the border pixel is as good as any. */
static int tap_index(int64_t k, int n) { return k < 0 ? 0 : k >= n ? n - 1 : (int)k; }

void tp_augment_warp(const tp_augment *a, const tp_augment_draw *d, const double m[6], const float *src, float *dst,
                     int h, int w, int c)
{
    for (int r = 0; r < h; r++) {
        int rr = d->flip_v ? h - 1 - r : r;
        for (int col = 0; col < w; col++) {
            int cc = d->flip_h ? w - 1 - col : col;
            double y = m[0] * rr + m[1] * cc + m[2], x = m[3] * rr + m[4] * cc + m[5];
            float *out = dst + ((size_t)r * (size_t)w + (size_t)col) * (size_t)c;
            if (!(fabs(y) < 1e9 && fabs(x) < 1e9)) { /* absurd zoom: avoid overflow */
                y = y < 0 ? -1e9 : 1e9;
                x = x < 0 ? -1e9 : 1e9;
            }
            const float *p[4];
            float wy, wx;
            double fy = floor(y), fx = floor(x);
            if (fy >= 0 && fy + 1 < h && fx >= 0 && fx + 1 < w) { /* inside: no mode plays a part */
                const float *b = src + ((size_t)fy * (size_t)w + (size_t)fx) * (size_t)c;
                p[0] = b, p[1] = b + c, p[2] = b + (size_t)w * (size_t)c, p[3] = p[2] + c;
                wy = (float)(y - fy), wx = (float)(x - fx);
            } else {
                double my = map_coordinate(y, h, a->fill), mx = map_coordinate(x, w, a->fill);
                if (my <= -1 || mx <= -1) { /* constant, outside the image */
                    for (int k = 0; k < c; k++)
                        out[k] = a->cval;
                    continue;
                }
                fy = floor(my), fx = floor(mx);
                wy = (float)(my - fy), wx = (float)(mx - fx);
                int ys[2] = {tap_index((int64_t)fy, h), tap_index((int64_t)fy + 1, h)};
                int xs[2] = {tap_index((int64_t)fx, w), tap_index((int64_t)fx + 1, w)};
                for (int k = 0; k < 4; k++)
                    p[k] = src + ((size_t)ys[k >> 1] * (size_t)w + (size_t)xs[k & 1]) * (size_t)c;
            }
            float wt[4] = {(1 - wy) * (1 - wx), (1 - wy) * wx, wy * (1 - wx), wy * wx};
            for (int k = 0; k < c; k++) {
                float s = 0;
                for (int q = 0; q < 4; q++)
                    s += wt[q] * p[q][k];
                out[k] = s;
            }
        }
    }
}

void tp_augment_cli_init(tp_augment_cli *c, tp_option *o)
{
    /* the entries outlive this call: the choices' names must too */
    static const char *const fills[] = {"nearest", "constant", "reflect", "wrap", NULL};
    memset(c, 0, sizeof *c);
    c->a.zoom_lo = c->a.zoom_hi = 1;
    c->a.fill = TP_FILL_NEAREST;
    c->fill = TP_FILL_NEAREST;
    const tp_option opts[TP_AUGMENT_NOPTS] = {
        TP_STRING("rotation", 0, &c->rotation, "DEG | LO,HI", "rotate by U(-DEG, DEG) degrees, or by U(LO, HI) for LO,HI (LO = HI pins one angle) (default: 0)"),
        TP_STRING("width-shift", 0, &c->width_shift, "F | LO,HI", "shift columns by up to F of the width (pixels when F >= 1), or by U(LO, HI) for LO,HI (default: 0)"),
        TP_STRING("height-shift", 0, &c->height_shift, "F | LO,HI", "shift rows by up to F of the height (pixels when F >= 1), or by U(LO, HI) for LO,HI (default: 0)"),
        TP_STRING("shear", 0, &c->shear, "DEG | LO,HI", "shear by U(-DEG, DEG) degrees, or by U(LO, HI) for LO,HI (default: 0)"),
        TP_DOUBLE("zoom", 0, &c->zoom, "Z", "zoom factors from [1 - Z, 1 + Z], drawn for x and y apart", TP_FRACTION),
        TP_STRING("zoom-range", 0, &c->zoom_range, "LO,HI", "zoom factors from [LO, HI] instead"),
        TP_FLAG("hflip", 0, &c->a.hflip, "flip left-right with probability 1/2"),
        TP_FLAG("vflip", 0, &c->a.vflip, "flip upside down with probability 1/2"),
        TP_OPT_("fill", 0, TP_OPT_CHOICE, &c->fill, "MODE", "points outside the image: nearest, constant, reflect or wrap",
                .choices = fills),
        TP_DOUBLE("cval", 0, &c->cval, "V", "the value for --fill constant"),
        TP_FLAG("keras-axes", 0, &c->a.keras_axes, "apply the height shift to columns and the width shift to rows, as Keras does"),
    };
    memcpy(o, opts, sizeof opts);
}

/* "A" (at least 0: Keras' symmetric range, into *sym) or "LO,HI" (LO <= HI, into *r), for
 * option name; a usage error otherwise. */
static void range_arg(const char *s, const char *name, double *sym, tp_aug_range *r)
{
    if (!s)
        return;
    const char *comma = strchr(s, ',');
    if (!comma) {
        if (tp_parse_f64(s, sym))
            tp_usage("option --%s wants a number or LO,HI, not '%s'", name, s);
        if (!(*sym >= 0) || !isfinite(*sym))
            tp_usage("option --%s must be at least 0, not '%s'", name, s);
        return;
    }
    char lo[64];
    snprintf(lo, sizeof lo, "%.*s", (int)(comma - s), s);
    if ((size_t)(comma - s) >= sizeof lo || tp_parse_f64(lo, &r->lo) || tp_parse_f64(comma + 1, &r->hi) || !isfinite(r->lo) || !isfinite(r->hi) ||
        r->lo > r->hi)
        tp_usage("option --%s wants LO,HI with LO <= HI, not '%s'", name, s);
    r->set = 1;
}

void tp_augment_cli_finish(tp_augment_cli *c)
{
    tp_augment *a = &c->a;
    range_arg(c->rotation, "rotation", &a->rotation, &a->rotation_r);
    range_arg(c->width_shift, "width-shift", &a->width_shift, &a->width_r);
    range_arg(c->height_shift, "height-shift", &a->height_shift, &a->height_r);
    range_arg(c->shear, "shear", &a->shear, &a->shear_r);
    a->fill = (tp_fill)c->fill;
    a->cval = (float)c->cval;
    a->zoom_lo = 1 - c->zoom;
    a->zoom_hi = 1 + c->zoom;
    if (c->zoom_range) {
        const char *comma = strchr(c->zoom_range, ',');
        char lo[64];
        snprintf(lo, sizeof lo, "%s", c->zoom_range);
        if (comma)
            lo[comma - c->zoom_range] = 0;
        if (!comma || tp_parse_f64(lo, &a->zoom_lo) || tp_parse_f64(comma + 1, &a->zoom_hi) || a->zoom_lo <= 0 ||
            a->zoom_hi < a->zoom_lo || a->zoom_hi > 100)
            tp_usage("--zoom-range wants LO,HI with 0 < LO <= HI <= 100, not '%s'", c->zoom_range);
    }
}

int tp_augment_active(const tp_augment *a)
{
    return a->rotation > 0 || a->width_shift > 0 || a->height_shift > 0 || a->shear > 0 || a->zoom_lo != 1 ||
           a->zoom_hi != 1 || a->hflip || a->vflip || a->rotation_r.set || a->width_r.set || a->height_r.set ||
           a->shear_r.set;
}
