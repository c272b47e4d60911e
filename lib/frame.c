/* frame.c — MNIST's framing of one image (frame.h). */
#include "frame.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "util.h"

/* The gray map of n pixels of c channels. */
static void gray_of(const float *src, size_t n, int c, float *g)
{
    if (c == 3 || c == 4) {
        for (size_t i = 0; i < n; i++)
            tp_rgb_to_gray(src + i * (size_t)c, g + i, 1);
    } else if (c <= 2) {
        for (size_t i = 0; i < n; i++)
            g[i] = src[i * (size_t)c];
    } else {
        for (size_t i = 0; i < n; i++) {
            float s = 0;
            for (int k = 0; k < c; k++)
                s += src[i * (size_t)c + (size_t)k];
            g[i] = s / (float)c;
        }
    }
}

void tp_frame_image(const tp_frame *f, const float *src, int h, int w, int c, float *dst, tp_frame_result *res)
{
    memset(res, 0, sizeof *res);
    size_t n = (size_t)h * (size_t)w, on = (size_t)f->out_h * (size_t)f->out_w;
    memset(dst, 0, on * (size_t)c * sizeof *dst);
    float *g = tp_alloc(n, sizeof *g);
    gray_of(src, n, c, g);
    res->inverted = f->invert == TP_FRAME_INVERT_YES || (f->invert == TP_FRAME_INVERT_AUTO && tp_border_median(g, h, w, 1, 0) > 127.5f);
    /* the ink's bounding box */
    int y0 = h, y1 = -1, x0 = w, x1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float v = g[(size_t)y * (size_t)w + (size_t)x];
            if (res->inverted)
                v = 255 - v;
            g[(size_t)y * (size_t)w + (size_t)x] = v;
            if (v > f->threshold) {
                y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
                x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
            }
        }
    if (y1 < 0) {
        res->empty = 1;
        free(g);
        return;
    }
    /* the box's pixels, inverted, the background cleared */
    int bh = y1 - y0 + 1, bw = x1 - x0 + 1;
    float *crop = tp_alloc((size_t)bh * (size_t)bw * (size_t)c, sizeof *crop);
    for (int y = 0; y < bh; y++)
        for (int x = 0; x < bw; x++) {
            size_t s = (size_t)(y + y0) * (size_t)w + (size_t)(x + x0), d = (size_t)y * (size_t)bw + (size_t)x;
            int ink = g[s] > f->threshold;
            for (int k = 0; k < c; k++) {
                float v = src[s * (size_t)c + (size_t)k];
                crop[d * (size_t)c + (size_t)k] = !ink ? 0 : res->inverted ? 255 - v : v;
            }
        }
    free(g);
    /* scaled so that the longer side is the box */
    int side = bh > bw ? bh : bw;
    double s = (double)f->box / side;
    if (f->no_upscale && s > 1)
        s = 1;
    int nh = (int)lround(bh * s), nw = (int)lround(bw * s);
    nh = nh < 1 ? 1 : nh > f->box ? f->box : nh;
    nw = nw < 1 ? 1 : nw > f->box ? f->box : nw;
    float *r = crop;
    if (nh != bh || nw != bw) {
        tp_resize_method m = f->method ? (tp_resize_method)(f->method - 1) : s < 1 ? TP_RESIZE_AREA : TP_RESIZE_BILINEAR;
        r = tp_alloc((size_t)nh * (size_t)nw * (size_t)c, sizeof *r);
        tp_resize_one(crop, bh, bw, c, nh, nw, m, r);
        for (size_t i = 0; i < (size_t)nh * (size_t)nw * (size_t)c; i++) /* no resampling ringing below 0 */
            r[i] = r[i] < 0 ? 0 : r[i] > 255 ? 255 : r[i];
    }
    /* placed with its box centred, then shifted so its centre of mass is on pixel (H/2, W/2) */
    int oy = (f->out_h - nh) / 2, ox = (f->out_w - nw) / 2;
    if (f->center == TP_FRAME_CENTER_MASS) {
        float *rg = tp_alloc((size_t)nh * (size_t)nw, sizeof *rg);
        gray_of(r, (size_t)nh * (size_t)nw, c, rg);
        double m = 0, my = 0, mx = 0;
        for (int y = 0; y < nh; y++)
            for (int x = 0; x < nw; x++) {
                double v = rg[(size_t)y * (size_t)nw + (size_t)x];
                m += v, my += v * y, mx += v * x;
            }
        free(rg);
        if (m > 0) { /* to a millionth of a pixel first, so that a symmetric digit's tie (x.5)
                      * rounds the same whatever the resampling's last bits */
            oy += (int)lround(round((f->out_h / 2 - (oy + my / m)) * 1e6) / 1e6);
            ox += (int)lround(round((f->out_w / 2 - (ox + mx / m)) * 1e6) / 1e6);
        }
    }
    for (int y = 0; y < nh; y++)
        for (int x = 0; x < nw; x++) {
            const float *p = r + ((size_t)y * (size_t)nw + (size_t)x) * (size_t)c;
            int yy = y + oy, xx = x + ox;
            if (yy < 0 || yy >= f->out_h || xx < 0 || xx >= f->out_w) {
                for (int k = 0; k < c; k++)
                    res->clipped |= p[k] > 0;
                continue;
            }
            memcpy(dst + ((size_t)yy * (size_t)f->out_w + (size_t)xx) * (size_t)c, p, (size_t)c * sizeof *p);
        }
    if (r != crop)
        free(r);
    free(crop);
}
