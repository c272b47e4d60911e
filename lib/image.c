/* image.c — see image.h. */
#include "image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgio.h"
#include "util.h"

static void axis_init(tp_axis *a, int in, int out, tp_resize_method m)
{
    double scale = (double)in / out;
    double at = scale * 0.5; /* nearest: PIL's source position, summed up output by output */
    a->in = in;
    a->out = out;
    a->taps = m == TP_RESIZE_BILINEAR ? 2 : m == TP_RESIZE_NEAREST ? 1 : (int)ceil(scale) + 1;
    a->idx = tp_calloc((size_t)out * (size_t)a->taps, sizeof *a->idx);
    a->w = tp_calloc((size_t)out * (size_t)a->taps, sizeof *a->w);
    for (int o = 0; o < out; o++) {
        int32_t *idx = a->idx + (size_t)o * (size_t)a->taps;
        float *w = a->w + (size_t)o * (size_t)a->taps;
        if (m == TP_RESIZE_BILINEAR) {
            double s = (o + 0.5) * scale - 0.5, f = floor(s);
            int lo = (int)f, hi = lo + 1;
            double frac = s - f;
            idx[0] = lo < 0 ? 0 : lo > in - 1 ? in - 1 : lo;
            idx[1] = hi < 0 ? 0 : hi > in - 1 ? in - 1 : hi;
            w[0] = (float)(1 - frac);
            w[1] = (float)frac;
        } else if (m == TP_RESIZE_NEAREST) {
            /* PIL's Image.resize(NEAREST), which Keras' load_img uses: the position of output
             * o is scale/2 + o scale as a running double sum, truncated, so an exact tie
             * ((o + 0.5) scale an integer) goes where that sum's rounding takes it, as in PIL */
            int i = (int)at;
            at += scale;
            idx[0] = i > in - 1 ? in - 1 : i;
            w[0] = 1;
        } else { /* box: overlap of [o*scale, (o+1)*scale) with each input pixel */
            double a0 = o * scale, a1 = (o + 1) * scale;
            int k = 0;
            for (int i = (int)floor(a0); i < in && i < a1 && k < a->taps; i++) {
                double ov = fmin(a1, i + 1.0) - fmax(a0, (double)i);
                if (ov <= 0)
                    continue;
                idx[k] = i;
                w[k++] = (float)(ov / scale);
            }
            for (; k < a->taps; k++) { /* unused taps: weight 0 on a valid pixel */
                idx[k] = idx[0];
                w[k] = 0;
            }
        }
    }
}

void tp_resize_plan_init(tp_resize_plan *p, int in_h, int in_w, int out_h, int out_w, int c, tp_resize_method m)
{
    TP_ASSERT(in_h > 0 && in_w > 0 && out_h > 0 && out_w > 0 && c > 0);
    axis_init(&p->y, in_h, out_h, m);
    axis_init(&p->x, in_w, out_w, m);
    p->c = c;
}

void tp_resize_plan_free(tp_resize_plan *p)
{
    free(p->y.idx);
    free(p->y.w);
    free(p->x.idx);
    free(p->x.w);
}

size_t tp_resize_scratch(const tp_resize_plan *p) { return (size_t)p->y.in * (size_t)p->x.out * (size_t)p->c; }

void tp_resize(const tp_resize_plan *p, const float *src, float *dst, float *tmp)
{
    const int c = p->c, iw = p->x.in, ow = p->x.out, tx = p->x.taps, ty = p->y.taps;
    /* horizontal pass: every input row to out_w columns */
    for (int y = 0; y < p->y.in; y++) {
        const float *row = src + (size_t)y * (size_t)iw * (size_t)c;
        float *out = tmp + (size_t)y * (size_t)ow * (size_t)c;
        for (int o = 0; o < ow; o++) {
            const int32_t *idx = p->x.idx + (size_t)o * (size_t)tx;
            const float *w = p->x.w + (size_t)o * (size_t)tx;
            for (int ch = 0; ch < c; ch++) {
                float s = 0;
                for (int k = 0; k < tx; k++)
                    s += w[k] * row[(size_t)idx[k] * (size_t)c + (size_t)ch];
                out[(size_t)o * (size_t)c + (size_t)ch] = s;
            }
        }
    }
    /* vertical pass: whole rows at once (contiguous, vectorisable) */
    const size_t n = (size_t)ow * (size_t)c;
    for (int o = 0; o < p->y.out; o++) {
        const int32_t *idx = p->y.idx + (size_t)o * (size_t)ty;
        const float *w = p->y.w + (size_t)o * (size_t)ty;
        float *out = dst + (size_t)o * n;
        const float *r0 = tmp + (size_t)idx[0] * n;
        for (size_t i = 0; i < n; i++)
            out[i] = w[0] * r0[i];
        for (int k = 1; k < ty; k++) {
            const float *r = tmp + (size_t)idx[k] * n;
            const float wk = w[k];
            for (size_t i = 0; i < n; i++)
                out[i] += wk * r[i];
        }
    }
}

void tp_resize_one(const float *src, int h, int w, int c, int oh, int ow, tp_resize_method m, float *dst)
{
    tp_resize_plan p;
    tp_resize_plan_init(&p, h, w, oh, ow, c, m);
    float *tmp = tp_alloc(tp_resize_scratch(&p) + 1, sizeof *tmp);
    tp_resize(&p, src, dst, tmp);
    free(tmp);
    tp_resize_plan_free(&p);
}

void tp_rgb_to_gray(const float *rgb, float *gray, size_t n)
{
    for (size_t i = 0; i < n; i++)
        gray[i] = 0.2989f * rgb[3 * i] + 0.5870f * rgb[3 * i + 1] + 0.1140f * rgb[3 * i + 2];
}

void tp_gray_to_rgb(const float *gray, float *rgb, size_t n)
{
    for (size_t i = n; i-- > 0;) /* backwards: gray may be the front of rgb */
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i];
}

void tp_float_to_u8(const float *src, uint8_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = src[i] + 0.5f; /* NaN fails v > 0 and becomes 0 */
        dst[i] = v > 0 ? (v < 255 ? (uint8_t)v : 255) : 0;
    }
}

void tp_u8_to_float(const uint8_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
}

int tp_image_load_as(const char *path, int h, int w, int c, float *x, char *err, size_t errlen)
{
    uint8_t *pix;
    int ih, iw, ic;
    if (tp_image_load(path, c == 1 ? 1 : 3, &pix, &ih, &iw, &ic, err, errlen))
        return -1;
    if (ic != c) {
        snprintf(err, errlen, "the model takes %d channels", c);
        free(pix);
        return -1;
    }
    size_t n = (size_t)ih * (size_t)iw * (size_t)ic;
    float *a = tp_alloc(n, sizeof *a);
    tp_u8_to_float(pix, a, n);
    free(pix);
    if (ih != h || iw != w) {
        tp_resize_one(a, ih, iw, c, h, w, TP_RESIZE_NEAREST, x);
    } else {
        memcpy(x, a, n * sizeof *x);
    }
    free(a);
    return 0;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

float tp_border_median(const float *img, int h, int w, int c, int k)
{
    size_t n = h == 1 || w == 1 ? (size_t)h * (size_t)w : 2 * ((size_t)h + (size_t)w) - 4, m = 0;
    float *b = tp_alloc(n, sizeof *b);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x += y == 0 || y == h - 1 || x == w - 1 ? 1 : w - 1)
            b[m++] = img[((size_t)y * (size_t)w + (size_t)x) * (size_t)c + (size_t)k];
    qsort(b, m, sizeof *b, cmp_float);
    float v = b[m / 2];
    free(b);
    return v;
}

void tp_pad_fit(const float *src, int h, int w, int c, int oh, int ow, tp_resize_method m, const float *fill,
                float *dst)
{
    double s = (double)oh / h < (double)ow / w ? (double)oh / h : (double)ow / w;
    int nh = (int)lround(h * s), nw = (int)lround(w * s);
    nh = nh < 1 ? 1 : nh > oh ? oh : nh;
    nw = nw < 1 ? 1 : nw > ow ? ow : nw;
    for (int k = 0; k < c; k++) {
        float v = fill ? fill[k] : tp_border_median(src, h, w, c, k);
        for (size_t i = 0; i < (size_t)oh * (size_t)ow; i++)
            dst[i * (size_t)c + (size_t)k] = v;
    }
    const float *r = src;
    float *buf = NULL;
    if (nh != h || nw != w) {
        buf = tp_alloc((size_t)nh * (size_t)nw * (size_t)c, sizeof *buf);
        tp_resize_one(src, h, w, c, nh, nw, m, buf);
        r = buf;
    }
    int y0 = (oh - nh) / 2, x0 = (ow - nw) / 2;
    for (int y = 0; y < nh; y++)
        memcpy(dst + ((size_t)(y + y0) * (size_t)ow + (size_t)x0) * (size_t)c, r + (size_t)y * (size_t)nw * (size_t)c,
               (size_t)nw * (size_t)c * sizeof *dst);
    free(buf);
}
