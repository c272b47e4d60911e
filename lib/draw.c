/* draw.c — see draw.h. */
#include "draw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "font5x7.h"
#include "imgio.h"
#include "util.h"

void tp_canvas_init(tp_canvas *c, int w, int h, const uint8_t rgb[3])
{
    TP_ASSERT(w > 0 && h > 0);
    c->w = w;
    c->h = h;
    c->rgb = tp_alloc((size_t)w * (size_t)h, 3);
    tp_canvas_unclip(c);
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++)
        memcpy(c->rgb + 3 * i, rgb, 3);
}

void tp_canvas_free(tp_canvas *c)
{
    free(c->rgb);
    c->rgb = NULL;
}

void tp_canvas_clip(tp_canvas *c, int x, int y, int w, int h)
{
    c->clip = 1;
    c->cx0 = x > 0 ? x : 0;
    c->cy0 = y > 0 ? y : 0;
    c->cx1 = x + w < c->w ? x + w : c->w;
    c->cy1 = y + h < c->h ? y + h : c->h;
}

void tp_canvas_unclip(tp_canvas *c)
{
    c->clip = 0;
}

/* The rectangle drawing may touch: columns x0..x1-1 of rows y0..y1-1. */
typedef struct {
    int x0, y0, x1, y1;
} area;

static area area_of(const tp_canvas *c)
{
    area a = {0, 0, c->w, c->h};
    if (c->clip) {
        a.x0 = c->cx0, a.y0 = c->cy0;
        a.x1 = c->cx1 < c->w ? c->cx1 : c->w;
        a.y1 = c->cy1 < c->h ? c->cy1 : c->h;
    }
    return a;
}

static int inside(const tp_canvas *c, int x, int y)
{
    area a = area_of(c);
    return x >= a.x0 && y >= a.y0 && x < a.x1 && y < a.y1;
}

static void put(tp_canvas *c, int x, int y, const uint8_t rgb[3])
{
    if (inside(c, x, y))
        memcpy(c->rgb + 3 * ((size_t)y * (size_t)c->w + (size_t)x), rgb, 3);
}

void tp_blend_pixel(tp_canvas *c, int x, int y, const uint8_t rgb[3], double a)
{
    if (!(a > 0) || !inside(c, x, y))
        return;
    if (a >= 1) {
        put(c, x, y, rgb);
        return;
    }
    uint8_t *p = c->rgb + 3 * ((size_t)y * (size_t)c->w + (size_t)x);
    for (int k = 0; k < 3; k++)
        p[k] = (uint8_t)lrint(p[k] + a * (rgb[k] - p[k]));
}

void tp_blend_rect(tp_canvas *c, int x, int y, int w, int h, const uint8_t rgb[3], double a)
{
    area r = area_of(c);
    int x0 = x < r.x0 ? r.x0 : x, y0 = y < r.y0 ? r.y0 : y;
    int x1 = x + w > r.x1 ? r.x1 : x + w, y1 = y + h > r.y1 ? r.y1 : y + h;
    for (int j = y0; j < y1; j++)
        for (int i = x0; i < x1; i++)
            tp_blend_pixel(c, i, j, rgb, a);
}

void tp_fill_rect(tp_canvas *c, int x, int y, int w, int h, const uint8_t rgb[3]) { tp_blend_rect(c, x, y, w, h, rgb, 1); }

void tp_draw_rect(tp_canvas *c, int x, int y, int w, int h, const uint8_t rgb[3])
{
    if (w <= 0 || h <= 0)
        return;
    tp_fill_rect(c, x, y, w, 1, rgb);
    tp_fill_rect(c, x, y + h - 1, w, 1, rgb);
    tp_fill_rect(c, x, y, 1, h, rgb);
    tp_fill_rect(c, x + w - 1, y, 1, h, rgb);
}

/* v rounded down, held within lo..hi (safe for any double, NaN gives lo). */
static int clampi(double v, int lo, int hi) { return !(v > lo) ? lo : v >= hi ? hi : (int)floor(v); }

/* Coverage of a pixel whose centre lies d from a shape's edge (d < 0 inside): a one-pixel
 * linear ramp centred on the edge. */
static double coverage(double d) { return d <= -0.5 ? 1 : d >= 0.5 ? 0 : 0.5 - d; }

void tp_fill_circle(tp_canvas *c, double cx, double cy, double r, const uint8_t rgb[3], double a)
{
    if (!(r > 0) || !isfinite(cx) || !isfinite(cy))
        return;
    area b = area_of(c);
    int x0 = clampi(cx - r - 1, b.x0, b.x1), x1 = clampi(cx + r + 2, b.x0 - 1, b.x1 - 1);
    int y0 = clampi(cy - r - 1, b.y0, b.y1), y1 = clampi(cy + r + 2, b.y0 - 1, b.y1 - 1);
    for (int j = y0; j <= y1; j++)
        for (int i = x0; i <= x1; i++) {
            double d = hypot(i - cx, j - cy) - r;
            tp_blend_pixel(c, i, j, rgb, a * coverage(d));
        }
}

void tp_draw_line_aa(tp_canvas *c, double x0, double y0, double x1, double y1, double lw, const uint8_t rgb[3],
                     double a)
{
    if (!(lw > 0) || !isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
        return;
    double hw = lw / 2, dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    double lo_x = fmin(x0, x1) - hw - 1, hi_x = fmax(x0, x1) + hw + 1;
    double lo_y = fmin(y0, y1) - hw - 1, hi_y = fmax(y0, y1) + hw + 1;
    area b = area_of(c);
    int i0 = clampi(lo_x, b.x0, b.x1), i1 = clampi(hi_x + 1, b.x0 - 1, b.x1 - 1);
    int j0 = clampi(lo_y, b.y0, b.y1), j1 = clampi(hi_y + 1, b.y0 - 1, b.y1 - 1);
    for (int j = j0; j <= j1; j++)
        for (int i = i0; i <= i1; i++) {
            double t = len2 > 0 ? ((i - x0) * dx + (j - y0) * dy) / len2 : 0; /* nearest point of the segment */
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double d = hypot(i - (x0 + t * dx), j - (y0 + t * dy)) - hw;
            tp_blend_pixel(c, i, j, rgb, a * coverage(d));
        }
}

void tp_draw_line_dashed(tp_canvas *c, double x0, double y0, double x1, double y1, double lw, double dash,
                         double gap, const uint8_t rgb[3], double a)
{
    double len = hypot(x1 - x0, y1 - y0);
    if (!(dash > 0) || !(gap >= 0) || !(len > 0)) {
        tp_draw_line_aa(c, x0, y0, x1, y1, lw, rgb, a);
        return;
    }
    double ux = (x1 - x0) / len, uy = (y1 - y0) / len;
    for (double s = 0; s < len; s += dash + gap) {
        double e = s + dash < len ? s + dash : len;
        tp_draw_line_aa(c, x0 + ux * s, y0 + uy * s, x0 + ux * e, y0 + uy * e, lw, rgb, a);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void tp_fill_polygon(tp_canvas *c, const double *xy, int n, const uint8_t rgb[3], double a)
{
    if (n < 3)
        return;
    for (int k = 0; k < 2 * n; k++)
        if (!isfinite(xy[k]) || fabs(xy[k]) > 1e9)
            return;
    double ylo = xy[1], yhi = xy[1];
    for (int k = 1; k < n; k++) {
        ylo = fmin(ylo, xy[2 * k + 1]);
        yhi = fmax(yhi, xy[2 * k + 1]);
    }
    double *cross = tp_alloc((size_t)n, sizeof *cross);
    area b = area_of(c);
    int j0 = clampi(ceil(ylo), b.y0, b.y1), j1 = clampi(yhi, b.y0 - 1, b.y1 - 1);
    for (int j = j0; j <= j1; j++) { /* scan lines through pixel centres */
        int m = 0;
        for (int k = 0; k < n; k++) {
            double ax = xy[2 * k], ay = xy[2 * k + 1], bx = xy[2 * ((k + 1) % n)], by = xy[2 * ((k + 1) % n) + 1];
            if ((ay <= j && by > j) || (by <= j && ay > j)) /* half-open: a vertex is counted once */
                cross[m++] = ax + (j - ay) / (by - ay) * (bx - ax);
        }
        qsort(cross, (size_t)m, sizeof *cross, cmp_double);
        for (int k = 0; k + 1 < m; k += 2) {
            int i0 = (int)ceil(cross[k]), i1 = (int)ceil(cross[k + 1]);
            tp_blend_rect(c, i0, j, i1 - i0, 1, rgb, a);
        }
    }
    free(cross);
}

void tp_draw_line(tp_canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3])
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) { /* Bresenham */
        put(c, x0, y0, rgb);
        if (x0 == x1 && y0 == y1)
            return;
        int e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            e += dx;
            y0 += sy;
        }
    }
}

int tp_text_width(const char *s, int scale)
{
    int n = (int)strlen(s);
    return n ? (6 * n - 1) * scale : 0;
}

int tp_text_height(int scale) { return 7 * scale; }

void tp_draw_text(tp_canvas *c, int x, int y, const char *s, int scale, const uint8_t rgb[3])
{
    for (; *s; s++, x += 6 * scale) {
        unsigned char ch = (unsigned char)*s;
        const uint8_t *g = tp_font5x7[(ch >= 32 && ch < 127 ? ch : '?') - 32];
        for (int r = 0; r < 7; r++)
            for (int k = 0; k < 5; k++)
                if (g[r] >> (4 - k) & 1)
                    tp_fill_rect(c, x + k * scale, y + r * scale, scale, scale, rgb);
    }
}

void tp_draw_text_up(tp_canvas *c, int x, int y, const char *s, int scale, const uint8_t rgb[3])
{
    int bottom = y + tp_text_width(s, scale);
    for (int u0 = 0; *s; s++, u0 += 6) { /* u runs along the text, v down the glyph */
        unsigned char ch = (unsigned char)*s;
        const uint8_t *g = tp_font5x7[(ch >= 32 && ch < 127 ? ch : '?') - 32];
        for (int v = 0; v < 7; v++)
            for (int k = 0; k < 5; k++)
                if (g[v] >> (4 - k) & 1)
                    tp_fill_rect(c, x + v * scale, bottom - (u0 + k + 1) * scale, scale, scale, rgb);
    }
}

void tp_draw_image(tp_canvas *c, int x, int y, const uint8_t *pix, int h, int w, int ch, int scale)
{
    for (int r = 0; r < h; r++)
        for (int k = 0; k < w; k++) {
            const uint8_t *p = pix + ((size_t)r * (size_t)w + (size_t)k) * (size_t)ch;
            uint8_t rgb[3] = {p[0], p[ch == 3 ? 1 : 0], p[ch == 3 ? 2 : 0]};
            tp_fill_rect(c, x + k * scale, y + r * scale, scale, scale, rgb);
        }
}

void tp_canvas_save(const tp_canvas *c, const char *path)
{
    tp_image_write(path, c->rgb, c->h, c->w, 3, 0);
}
