/* plot.c — see plot.h. */
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "util.h"

static const uint8_t WHITE[3] = {255, 255, 255}, BLACK[3] = {0, 0, 0}, GRID[3] = {222, 222, 222},
                     LEGEND_EDGE[3] = {204, 204, 204}, OTHER[3] = {140, 140, 140};

/* Sizes derived from the text scale f, in the proportions of matplotlib's defaults at a
 * 10-point font: ticks 3.5 points long, pads of about half a character. */
static int font_or_default(int f) { return f > 0 ? f : 2; }
static int tick_len(int f) { return (5 * f + 1) / 2; }
static int pad_of(int f) { return 3 * f; }

/* ---- ticks and limits ---- */

void tp_view_limits(double *lo, double *hi, double margin)
{
    if (!isfinite(*lo) || !isfinite(*hi) || !(*lo <= *hi)) {
        *lo = 0;
        *hi = 1;
        return;
    }
    double v = (*lo + *hi) / 2;
    if (*hi - *lo <= 1e-12 * fmax(fabs(*lo), fabs(*hi))) {
        double d = v != 0 ? 0.05 * fabs(v) : 0.05;
        *lo = v - d;
        *hi = v + d;
        return;
    }
    double m = margin * (*hi - *lo);
    *lo -= m;
    *hi += m;
}

int tp_nice_ticks(double lo, double hi, int maxbins, int integer, double *t, double *step)
{
    if (!(hi - lo > 1e-12 * fmax(fabs(lo), fabs(hi))) || !isfinite(hi - lo))
        tp_view_limits(&lo, &hi, 0);
    maxbins = maxbins < 1 ? 1 : maxbins > TP_MAX_TICKS - 1 ? TP_MAX_TICKS - 1 : maxbins;
    double raw = (hi - lo) / maxbins, mag = pow(10, floor(log10(raw))), st = 10 * mag;
    static const double mult[] = {1, 2, 5, 10};
    for (int k = 0; k < 4; k++)
        if (mult[k] * mag >= raw * (1 - 1e-9)) {
            st = mult[k] * mag;
            break;
        }
    if (integer && st < 1)
        st = 1;
    double k0 = ceil(lo / st - 1e-6), k1 = floor(hi / st + 1e-6);
    int n = 0;
    for (double k = k0; k <= k1 && n < TP_MAX_TICKS; k++)
        t[n++] = k == 0 ? 0 : k * st;
    if (step)
        *step = st;
    return n;
}

void tp_tick_label(double v, double step, char *buf, size_t n)
{
    if (fabs(v) < 1e-6 * step)
        v = 0; /* no "-0" or "1e-17" for zero */
    if (fabs(v) >= 1e6 || step < 1e-6) { /* the digits from v's magnitude down to the step's */
        if (v == 0) {
            snprintf(buf, n, "0");
            return;
        }
        int p = (int)(floor(log10(fabs(v)) + 1e-9) - floor(log10(step) + 1e-9));
        snprintf(buf, n, "%.*e", p < 0 ? 0 : p > 15 ? 15 : p, v);
        return;
    }
    int d = 0;
    for (double s = step; d < 15 && fabs(s - nearbyint(s)) > 1e-6 * s; s *= 10)
        d++;
    snprintf(buf, n, "%.*f", d, v);
}

/* ---- colours and markers ---- */

static const uint32_t TAB10[10] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                   0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
static const uint32_t TAB20[20] = {0x1f77b4, 0xaec7e8, 0xff7f0e, 0xffbb78, 0x2ca02c, 0x98df8a, 0xd62728,
                                   0xff9896, 0x9467bd, 0xc5b0d5, 0x8c564b, 0xc49c94, 0xe377c2, 0xf7b6d2,
                                   0x7f7f7f, 0xc7c7c7, 0xbcbd22, 0xdbdb8d, 0x17becf, 0x9edae5};

void tp_palette(int i, int n, uint8_t rgb[3])
{
    n = n < 1 ? 1 : n;
    i = ((i % n) + n) % n;
    if (n <= 20) {
        uint32_t c = n <= 10 ? TAB10[i] : TAB20[i];
        rgb[0] = (uint8_t)(c >> 16);
        rgb[1] = (uint8_t)(c >> 8);
        rgb[2] = (uint8_t)c;
        return;
    }
    /* hues in golden-ratio steps, so that neighbouring classes differ; HSV with s 0.7, v 0.85 */
    double h = fmod(i * 0.6180339887498949, 1) * 6, s = 0.7, v = 0.85, f = h - floor(h);
    double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f)), r, g, b;
    switch ((int)h) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
    }
    rgb[0] = (uint8_t)lrint(255 * r);
    rgb[1] = (uint8_t)lrint(255 * g);
    rgb[2] = (uint8_t)lrint(255 * b);
}

void tp_draw_marker(tp_canvas *c, double x, double y, tp_marker m, double size, const uint8_t rgb[3])
{
    double r = size / 2;
    switch (m) {
    case TP_MARK_NONE: break;
    case TP_MARK_CIRCLE: tp_fill_circle(c, x, y, r, rgb, 1); break;
    case TP_MARK_CROSS: {
        double k = r * 0.85, lw = size / 4 > 1.5 ? size / 4 : 1.5;
        tp_draw_line_aa(c, x - k, y - k, x + k, y + k, lw, rgb, 1);
        tp_draw_line_aa(c, x - k, y + k, x + k, y - k, lw, rgb, 1);
        break;
    }
    case TP_MARK_SQUARE: {
        double k = r * 0.85, xy[8] = {x - k, y - k, x + k, y - k, x + k, y + k, x - k, y + k};
        tp_fill_polygon(c, xy, 4, rgb, 1);
        break;
    }
    case TP_MARK_TRIANGLE: {
        double xy[6] = {x, y - r, x + r * 0.95, y + r * 0.65, x - r * 0.95, y + r * 0.65};
        tp_fill_polygon(c, xy, 3, rgb, 1);
        break;
    }
    case TP_MARK_DIAMOND: {
        double xy[8] = {x, y - r, x + r * 0.75, y, x, y + r, x - r * 0.75, y};
        tp_fill_polygon(c, xy, 4, rgb, 1);
        break;
    }
    }
}

/* ---- axes ---- */

double tp_axes_px(const tp_axes *a, double v)
{
    double d = a->x1 - a->x0;
    return a->x + (d != 0 ? (v - a->x0) / d : 0.5) * (a->w - 1);
}

double tp_axes_py(const tp_axes *a, double v)
{
    double d = a->y1 - a->y0;
    return a->y + a->h - 1 - (d != 0 ? (v - a->y0) / d : 0.5) * (a->h - 1);
}

/* The widest of the tick labels t[0..n). */
static int widest_label(const double *t, int n, double step, int f)
{
    char buf[48];
    int w = 0;
    for (int i = 0; i < n; i++) {
        tp_tick_label(t[i], step, buf, sizeof buf);
        int tw = tp_text_width(buf, f);
        w = tw > w ? tw : w;
    }
    return w;
}

/* Ticks for an axis of len pixels over lo..hi whose labels, each need pixels wide along the
 * axis (0: their text widths), keep a gap between them: the most ticks (up to 9 intervals,
 * matplotlib's "auto") that still leave the labels apart. */
static int fit_ticks(double lo, double hi, int integer, int len, int need, int gap, int f, double *t, double *step)
{
    int n = 0;
    for (int bins = 9; bins >= 1; bins--) {
        n = tp_nice_ticks(lo, hi, bins, integer, t, step);
        int w = need ? need : widest_label(t, n, *step, f);
        if (*step / (hi - lo) * (len - 1) >= w + gap)
            break;
    }
    return n;
}

void tp_axes_layout(tp_axes *a, int x, int y, int w, int h)
{
    int f = a->font = font_or_default(a->font), th = tp_text_height(f), tick = tick_len(f), pad = pad_of(f);
    a->bx = x, a->by = y, a->bw = w, a->bh = h;
    if (!(a->x1 > a->x0))
        tp_view_limits(&a->x0, &a->x1, 0);
    if (!(a->y1 > a->y0))
        tp_view_limits(&a->y0, &a->y1, 0);
    int top = a->title ? tp_text_height(f + 1) + 4 * pad : 2 * pad;
    int bottom = tick + pad + th + (a->xlabel ? 2 * pad + th : 0) + 2 * pad;
    a->h = h - top - bottom > 16 ? h - top - bottom : 16;
    a->y = y + top;
    a->nyt = fit_ticks(a->y0, a->y1, a->yinteger, a->h, th, 2 * th, f, a->yt, &a->ystep);
    int left = pad + (a->ylabel ? th + 2 * pad : 0) + widest_label(a->yt, a->nyt, a->ystep, f) + pad + tick;
    int right = 3 * pad;
    for (int pass = 0; pass < 2; pass++) { /* the last x label may reach into the right margin */
        a->w = w - left - right > 16 ? w - left - right : 16;
        a->x = x + left;
        a->nxt = fit_ticks(a->x0, a->x1, a->xinteger, a->w, 0, 2 * 6 * f, f, a->xt, &a->xstep);
        if (a->nxt) {
            char buf[48];
            tp_tick_label(a->xt[a->nxt - 1], a->xstep, buf, sizeof buf);
            int over = (int)lrint(tp_axes_px(a, a->xt[a->nxt - 1])) + tp_text_width(buf, f) / 2 + pad - (a->x + a->w);
            right = over > right ? over : right;
        }
    }
}

void tp_axes_draw(tp_canvas *c, const tp_axes *a)
{
    int f = a->font, th = tp_text_height(f), tick = tick_len(f), pad = pad_of(f);
    char buf[48];
    tp_fill_rect(c, a->x, a->y, a->w, a->h, WHITE);
    for (int i = 0; i < a->nxt; i++) {
        int px = (int)lrint(tp_axes_px(a, a->xt[i]));
        if (!a->nogrid)
            tp_fill_rect(c, px, a->y, 1, a->h, GRID);
        tp_fill_rect(c, px, a->y + a->h, 1, tick, BLACK);
        tp_tick_label(a->xt[i], a->xstep, buf, sizeof buf);
        tp_draw_text(c, px - tp_text_width(buf, f) / 2, a->y + a->h + tick + pad, buf, f, BLACK);
    }
    int lw = 0;
    for (int i = 0; i < a->nyt; i++) {
        int py = (int)lrint(tp_axes_py(a, a->yt[i]));
        if (!a->nogrid)
            tp_fill_rect(c, a->x, py, a->w, 1, GRID);
        tp_fill_rect(c, a->x - tick, py, tick, 1, BLACK);
        tp_tick_label(a->yt[i], a->ystep, buf, sizeof buf);
        int tw = tp_text_width(buf, f);
        lw = tw > lw ? tw : lw;
        tp_draw_text(c, a->x - tick - pad - tw, py - th / 2, buf, f, BLACK);
    }
    if (a->title)
        tp_draw_text(c, a->x + (a->w - tp_text_width(a->title, f + 1)) / 2, a->y - 2 * pad - tp_text_height(f + 1),
                     a->title, f + 1, BLACK);
    if (a->xlabel)
        tp_draw_text(c, a->x + (a->w - tp_text_width(a->xlabel, f)) / 2, a->y + a->h + tick + 3 * pad + th,
                     a->xlabel, f, BLACK);
    if (a->ylabel)
        tp_draw_text_up(c, a->x - tick - 2 * pad - lw - th, a->y + (a->h - tp_text_width(a->ylabel, f)) / 2,
                        a->ylabel, f, BLACK);
}

void tp_axes_frame(tp_canvas *c, const tp_axes *a) { tp_draw_rect(c, a->x, a->y, a->w, a->h, BLACK); }

/* ---- legend ---- */

/* Legend proportions at text scale f (matplotlib: border pad 0.4, key 2, key-text gap 0.8,
 * label spacing 0.5 and column spacing 2 font sizes). */
typedef struct {
    int pad, key, gap, row, colgap;
} legend_dims;

static legend_dims legend_dims_of(int f)
{
    legend_dims d = {3 * f, 14 * f, 5 * f, tp_text_height(f) + 4 * f, 10 * f};
    return d;
}

void tp_legend_size(const tp_legend_entry *e, int n, int cols, int font, int *w, int *h)
{
    int f = font_or_default(font);
    legend_dims d = legend_dims_of(f);
    cols = cols < 1 ? 1 : cols;
    int rows = (n + cols - 1) / cols, tw = 0;
    *w = 2 * d.pad + (cols - 1) * d.colgap;
    for (int k = 0; k < cols; k++) {
        int cw = 0;
        for (int i = k * rows; i < n && i < (k + 1) * rows; i++) {
            int wi = tp_text_width(e[i].label ? e[i].label : "", f);
            cw = wi > cw ? wi : cw;
        }
        tw += d.key + d.gap + cw;
    }
    *w += tw;
    *h = 2 * d.pad + rows * d.row;
}

void tp_legend_draw(tp_canvas *c, int x, int y, const tp_legend_entry *e, int n, int cols, int font)
{
    int f = font_or_default(font), w, h;
    legend_dims d = legend_dims_of(f);
    cols = cols < 1 ? 1 : cols;
    tp_legend_size(e, n, cols, f, &w, &h);
    tp_blend_rect(c, x, y, w, h, WHITE, 0.8);
    tp_draw_rect(c, x, y, w, h, LEGEND_EDGE);
    int rows = (n + cols - 1) / cols, cx = x + d.pad;
    for (int k = 0; k < cols; k++) {
        int cw = 0;
        for (int i = k * rows; i < n && i < (k + 1) * rows; i++) {
            const char *label = e[i].label ? e[i].label : "";
            int ry = y + d.pad + (i - k * rows) * d.row, mid = ry + d.row / 2;
            if (e[i].line)
                tp_draw_line_aa(c, cx, mid, cx + d.key, mid, 2, e[i].rgb, 1);
            tp_draw_marker(c, cx + d.key / 2.0, mid, e[i].marker, 4 * f, e[i].rgb);
            tp_draw_text(c, cx + d.key + d.gap, mid - tp_text_height(f) / 2, label, f, BLACK);
            int wi = tp_text_width(label, f);
            cw = wi > cw ? wi : cw;
        }
        cx += d.key + d.gap + cw + d.colgap;
    }
}

void tp_legend_best(const tp_axes *a, int w, int h, const double *px, const double *py, int n, int *x, int *y)
{
    int m = pad_of(a->font > 0 ? a->font : 2);
    int l = a->x + m, r = a->x + a->w - w - m, cxx = a->x + (a->w - w) / 2;
    int t = a->y + m, b = a->y + a->h - h - m, cy = a->y + (a->h - h) / 2;
    const int cand[10][2] = {{r, t}, {l, t}, {l, b}, {r, b}, {r, cy}, {l, cy}, {r, cy}, {cxx, b}, {cxx, t}, {cxx, cy}};
    int64_t best = -1;
    for (int k = 0; k < 10; k++) {
        int64_t hits = 0;
        for (int i = 0; i < n; i++)
            hits += px[i] >= cand[k][0] && px[i] < cand[k][0] + w && py[i] >= cand[k][1] && py[i] < cand[k][1] + h;
        if (best < 0 || hits < best) {
            best = hits;
            *x = cand[k][0];
            *y = cand[k][1];
        }
    }
}

/* ---- line charts ---- */

void tp_plot_lines(tp_canvas *c, tp_axes *a, const tp_series *s, int ns, int x, int y, int w, int h)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++)
            if (isfinite(s[k].x[i]) && isfinite(s[k].y[i])) {
                xlo = fmin(xlo, s[k].x[i]), xhi = fmax(xhi, s[k].x[i]);
                ylo = fmin(ylo, s[k].y[i]), yhi = fmax(yhi, s[k].y[i]);
            }
    tp_view_limits(&xlo, &xhi, 0.05);
    tp_view_limits(&ylo, &yhi, 0.05);
    a->x0 = xlo, a->x1 = xhi, a->y0 = ylo, a->y1 = yhi;
    tp_axes_layout(a, x, y, w, h);
    tp_axes_draw(c, a);
    int f = a->font, most = 1;
    for (int k = 0; k < ns; k++)
        most = s[k].n > most ? s[k].n : most;
    double msize = fmin(4 * f, 0.7 * a->w / most); /* markers shrink, then go, where points crowd */
    msize = msize >= 3 ? msize : 0;

    /* the lines, and points along them for placing the legend */
    int64_t cap = 1024, np = 0;
    double *px = tp_alloc((size_t)cap, sizeof *px), *py = tp_alloc((size_t)cap, sizeof *py);
    tp_legend_entry *e = tp_alloc((size_t)ns + 1, sizeof *e);
    int ne = 0;
    tp_canvas_clip(c, a->x, a->y, a->w, a->h);
    for (int k = 0; k < ns; k++) {
        int any = 0;
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i]))
                continue;
            any = 1;
            double x0 = tp_axes_px(a, s[k].x[i]), y0 = tp_axes_py(a, s[k].y[i]);
            int next = i + 1 < s[k].n && isfinite(s[k].x[i + 1]) && isfinite(s[k].y[i + 1]);
            double x1 = next ? tp_axes_px(a, s[k].x[i + 1]) : x0, y1 = next ? tp_axes_py(a, s[k].y[i + 1]) : y0;
            if (next)
                tp_draw_line_aa(c, x0, y0, x1, y1, 2, s[k].rgb, 1);
            int steps = (int)fmin(hypot(x1 - x0, y1 - y0) / 2, 4096) + 1;
            for (int j = 0; j < steps; j++) {
                if (np == cap) {
                    cap *= 2;
                    px = tp_realloc(px, (size_t)cap, sizeof *px);
                    py = tp_realloc(py, (size_t)cap, sizeof *py);
                }
                px[np] = x0 + (x1 - x0) * j / steps;
                py[np++] = y0 + (y1 - y0) * j / steps;
            }
        }
        if (any && s[k].label) {
            e[ne].label = s[k].label;
            memcpy(e[ne].rgb, s[k].rgb, 3);
            e[ne].marker = msize > 0 ? s[k].marker : TP_MARK_NONE;
            e[ne++].line = 1;
        }
    }
    for (int k = 0; k < ns && msize > 0; k++) /* markers over every line */
        for (int i = 0; i < s[k].n; i++)
            if (isfinite(s[k].x[i]) && isfinite(s[k].y[i]))
                tp_draw_marker(c, tp_axes_px(a, s[k].x[i]), tp_axes_py(a, s[k].y[i]), s[k].marker, msize, s[k].rgb);
    tp_canvas_unclip(c);
    tp_axes_frame(c, a);
    if (ne) {
        int lw, lh, lx, ly;
        tp_legend_size(e, ne, 1, f, &lw, &lh);
        tp_legend_best(a, lw, lh, px, py, (int)(np < 1 << 30 ? np : 1 << 30), &lx, &ly);
        tp_legend_draw(c, lx, ly, e, ne, 1, f);
    }
    free(e);
    free(px);
    free(py);
}

/* ---- scatter plots ---- */

static void point_colour(const tp_scatter *s, int64_t i, uint8_t rgb[3])
{
    int k = s->cls ? s->cls[i] : 0;
    if (s->legend && k >= 0 && k < s->nclasses)
        memcpy(rgb, s->legend[k].rgb, 3);
    else if (s->cls)
        memcpy(rgb, OTHER, 3);
    else
        tp_palette(0, 10, rgb);
}

static int finite_point(const tp_scatter *s, int64_t i)
{
    for (int d = 0; d < s->dim; d++)
        if (!isfinite(s->p[i * s->dim + d]))
            return 0;
    return 1;
}

/* The range of coordinate d over the finite points into lo..hi. */
static void coord_range(const tp_scatter *s, int d, double *lo, double *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (int64_t i = 0; i < s->n; i++)
        if (finite_point(s, i)) {
            double v = s->p[i * s->dim + d];
            *lo = fmin(*lo, v), *hi = fmax(*hi, v);
        }
}

/* The points in a random order drawn from seed: no class is painted last everywhere. */
static int64_t *shuffled(const tp_scatter *s)
{
    int64_t *order = tp_alloc((size_t)s->n + 1, sizeof *order);
    for (int64_t i = 0; i < s->n; i++)
        order[i] = i;
    tp_rng r;
    tp_rng_seed(&r, s->seed);
    tp_rng_shuffle(&r, order, s->n);
    return order;
}

/* One 2-D panel of coordinates dx, dy in the box. */
static void scatter_panel(tp_canvas *c, const tp_scatter *s, const int64_t *order, int dx, int dy, const char *title,
                          int x, int y, int w, int h, tp_axes *out)
{
    tp_axes a = {0};
    coord_range(s, dx, &a.x0, &a.x1);
    coord_range(s, dy, &a.y0, &a.y1);
    tp_view_limits(&a.x0, &a.x1, 0.05);
    tp_view_limits(&a.y0, &a.y1, 0.05);
    a.title = title;
    a.xlabel = s->labels[dx];
    a.ylabel = s->labels[dy];
    a.font = s->font;
    tp_axes_layout(&a, x, y, w, h);
    tp_axes_draw(c, &a);
    tp_canvas_clip(c, a.x, a.y, a.w, a.h);
    for (int64_t k = 0; k < s->n; k++) {
        int64_t i = order[k];
        if (!finite_point(s, i))
            continue;
        uint8_t rgb[3];
        point_colour(s, i, rgb);
        tp_fill_circle(c, tp_axes_px(&a, s->p[i * s->dim + dx]), tp_axes_py(&a, s->p[i * s->dim + dy]), s->radius,
                       rgb, s->alpha);
    }
    tp_canvas_unclip(c);
    tp_axes_frame(c, &a);
    if (out)
        *out = a;
}

/* The legend's columns and size for a box of height h; 0 columns when it cannot fit. */
static int legend_fit(const tp_scatter *s, int h, int *lw, int *lh)
{
    for (int cols = 1; s->legend && s->nclasses > 0 && cols <= 8; cols++) {
        tp_legend_size(s->legend, s->nclasses, cols, s->font, lw, lh);
        if (*lh <= h)
            return cols;
    }
    *lw = *lh = 0;
    return 0;
}

/* ---- 3-D ---- */

typedef struct {
    double lo[3], hi[3], half[3]; /* view limits, and the box's half sizes (matplotlib's 4:4:3) */
    double r[3], u[3], e[3];      /* screen right, screen up, towards the viewer */
    double sc, ox, oy;            /* pixels per box unit, screen position of the box centre */
} view3;

static double dot3(const double *a, const double *b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

/* Box coordinates (each within -half..half) to the screen. */
static void to_screen(const view3 *v, const double *q, double *sx, double *sy)
{
    *sx = v->ox + v->sc * dot3(q, v->r);
    *sy = v->oy - v->sc * dot3(q, v->u);
}

/* Data coordinate value of axis d to box coordinates. */
static double to_box(const view3 *v, int d, double val)
{
    return ((val - v->lo[d]) / (v->hi[d] - v->lo[d]) * 2 - 1) * v->half[d];
}

/* Draws a line between two box points. */
static void line3(tp_canvas *c, const view3 *v, const double *p, const double *q, double lw, const uint8_t rgb[3])
{
    double x0, y0, x1, y1;
    to_screen(v, p, &x0, &y0);
    to_screen(v, q, &x1, &y1);
    tp_draw_line_aa(c, x0, y0, x1, y1, lw, rgb, 1);
}

typedef struct {
    double depth;
    int64_t i;
} depth_rank;

static int cmp_depth(const void *a, const void *b)
{
    const depth_rank *x = a, *y = b;
    if (x->depth != y->depth)
        return x->depth < y->depth ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* One axis of the 3-D box: the edge along axis d through box point base (its d coordinate
 * ignored), with ticks pointing away from the box centre, tick labels and the title. */
static void axis3(tp_canvas *c, const view3 *v, int d, const double *base, const double *t, int nt, double step,
                  const char *title, int f)
{
    double p0[3], p1[3], x0, y0, x1, y1;
    memcpy(p0, base, sizeof p0);
    memcpy(p1, base, sizeof p1);
    p0[d] = -v->half[d];
    p1[d] = v->half[d];
    to_screen(v, p0, &x0, &y0);
    to_screen(v, p1, &x1, &y1);
    tp_draw_line_aa(c, x0, y0, x1, y1, 1, BLACK, 1);
    double len = hypot(x1 - x0, y1 - y0);
    if (len < 1)
        return; /* seen end-on */
    double nx = -(y1 - y0) / len, ny = (x1 - x0) / len, mx = (x0 + x1) / 2, my = (y0 + y1) / 2;
    if (nx * (mx - v->ox) + ny * (my - v->oy) < 0)
        nx = -nx, ny = -ny;
    int th = tp_text_height(f), tick = tick_len(f), pad = pad_of(f);
    double reach = 0;
    char buf[48];
    for (int i = 0; i < nt; i++) {
        double q[3], sx, sy;
        memcpy(q, base, sizeof q);
        q[d] = to_box(v, d, t[i]);
        to_screen(v, q, &sx, &sy);
        tp_draw_line_aa(c, sx, sy, sx + nx * tick, sy + ny * tick, 1, BLACK, 1);
        tp_tick_label(t[i], step, buf, sizeof buf);
        int tw = tp_text_width(buf, f);
        double sup = fabs(nx) * tw / 2 + fabs(ny) * th / 2, off = tick + pad + sup;
        reach = fmax(reach, tick + pad + 2 * sup);
        tp_draw_text(c, (int)lrint(sx + nx * off - tw / 2.0), (int)lrint(sy + ny * off - th / 2.0), buf, f, BLACK);
    }
    if (title) {
        int tw = tp_text_width(title, f);
        double off = reach + 2 * pad + fabs(nx) * tw / 2 + fabs(ny) * th / 2;
        tp_draw_text(c, (int)lrint(mx + nx * off - tw / 2.0), (int)lrint(my + ny * off - th / 2.0), title, f, BLACK);
    }
}

/* The 3-D view in the box; returns the rightmost column its drawing may reach. */
static int scatter3(tp_canvas *c, const tp_scatter *s, int x, int y, int w, int h)
{
    int f = font_or_default(s->font), th = tp_text_height(f), tick = tick_len(f), pad = pad_of(f);
    view3 v;
    double t[3][TP_MAX_TICKS], step[3];
    int nt[3], widest = 0;
    for (int d = 0; d < 3; d++) {
        coord_range(s, d, &v.lo[d], &v.hi[d]);
        tp_view_limits(&v.lo[d], &v.hi[d], 0.02);
        v.half[d] = d == 2 ? 0.75 : 1;
        nt[d] = tp_nice_ticks(v.lo[d], v.hi[d], 5, 0, t[d], &step[d]);
        int wd = widest_label(t[d], nt[d], step[d], f);
        widest = wd > widest ? wd : widest;
    }
    double el = s->elev * M_PI / 180, az = s->azim * M_PI / 180;
    double e[3] = {cos(el) * cos(az), cos(el) * sin(az), sin(el)};
    double r[3] = {-sin(az), cos(az), 0};
    double u[3] = {-sin(el) * cos(az), -sin(el) * sin(az), cos(el)};
    memcpy(v.e, e, sizeof e);
    memcpy(v.r, r, sizeof r);
    memcpy(v.u, u, sizeof u);

    /* fit the box's eight corners, with room round it for ticks, labels and titles */
    double sxlo = INFINITY, sxhi = -INFINITY, sylo = INFINITY, syhi = -INFINITY;
    for (int k = 0; k < 8; k++) {
        double q[3] = {k & 1 ? 1 : -1, k & 2 ? 1 : -1, k & 4 ? 0.75 : -0.75};
        double sx = dot3(q, r), sy = -dot3(q, u);
        sxlo = fmin(sxlo, sx), sxhi = fmax(sxhi, sx), sylo = fmin(sylo, sy), syhi = fmax(syhi, sy);
    }
    int top = s->title ? tp_text_height(f + 1) + 3 * pad : pad;
    int titles = 0; /* axis titles are level text: the z title takes its width beside the box */
    for (int d = 0; d < 3; d++)
        titles = s->labels[d] && tp_text_width(s->labels[d], f) > titles ? tp_text_width(s->labels[d], f) : titles;
    int room = tick + pad + widest + 2 * pad + (titles > th ? titles : th) + pad;
    double aw = w - 2 * room, ah = h - top - 2 * (tick + 3 * pad + 3 * th);
    v.sc = fmin(aw / (sxhi - sxlo), ah / (syhi - sylo));
    v.sc = v.sc > 10 ? v.sc : 10;
    v.ox = x + w / 2.0 - v.sc * (sxlo + sxhi) / 2;
    v.oy = y + top + (h - top) / 2.0 - v.sc * (sylo + syhi) / 2;
    if (s->title)
        tp_draw_text(c, x + (w - tp_text_width(s->title, f + 1)) / 2, y + pad, s->title, f + 1, BLACK);
    for (int d = 0; d < 3; d++) { /* as many ticks as each axis's length on screen leaves room for */
        double q[3] = {0, 0, 0}, x0, y0, x1, y1;
        q[d] = -v.half[d];
        to_screen(&v, q, &x0, &y0);
        q[d] = v.half[d];
        to_screen(&v, q, &x1, &y1);
        nt[d] = fit_ticks(v.lo[d], v.hi[d], 0, (int)hypot(x1 - x0, y1 - y0), widest, 2 * th, f, t[d], &step[d]);
    }

    /* the three back panes, with gridlines at the ticks */
    static const uint8_t PANE[3] = {242, 242, 242}, PANE_EDGE[3] = {200, 200, 200};
    for (int k = 0; k < 3; k++) {
        int i = (k + 1) % 3, j = (k + 2) % 3;
        double back = (e[k] > 0 ? -1 : 1) * v.half[k], poly[8];
        static const int sgn[4][2] = {{-1, -1}, {1, -1}, {1, 1}, {-1, 1}};
        for (int m = 0; m < 4; m++) {
            double q[3];
            q[k] = back, q[i] = sgn[m][0] * v.half[i], q[j] = sgn[m][1] * v.half[j];
            to_screen(&v, q, &poly[2 * m], &poly[2 * m + 1]);
        }
        tp_fill_polygon(c, poly, 4, PANE, 1);
        for (int g = 0; g < 2; g++) { /* lines of constant axis gi across the pane */
            int gi = g ? j : i, go = g ? i : j;
            for (int m = 0; m < nt[gi]; m++) {
                double p[3], q[3];
                p[k] = q[k] = back;
                p[gi] = q[gi] = to_box(&v, gi, t[gi][m]);
                p[go] = -v.half[go];
                q[go] = v.half[go];
                line3(c, &v, p, q, 1, WHITE);
            }
        }
        for (int m = 0; m < 4; m++)
            tp_draw_line_aa(c, poly[2 * m], poly[2 * m + 1], poly[2 * ((m + 1) % 4)], poly[2 * ((m + 1) % 4) + 1], 1,
                            PANE_EDGE, 1);
    }

    /* the dots, far to near (ties in a seeded random order) */
    int64_t *order = shuffled(s);
    depth_rank *dr = tp_alloc((size_t)s->n + 1, sizeof *dr);
    int64_t m = 0;
    for (int64_t k = 0; k < s->n; k++) {
        int64_t i = order[k];
        if (!finite_point(s, i))
            continue;
        double q[3];
        for (int d = 0; d < 3; d++)
            q[d] = to_box(&v, d, s->p[i * 3 + d]);
        dr[m].depth = dot3(q, e);
        dr[m++].i = k;
    }
    qsort(dr, (size_t)m, sizeof *dr, cmp_depth);
    for (int64_t k = 0; k < m; k++) {
        int64_t i = order[dr[k].i];
        double q[3], sx, sy;
        for (int d = 0; d < 3; d++)
            q[d] = to_box(&v, d, s->p[i * 3 + d]);
        to_screen(&v, q, &sx, &sy);
        uint8_t rgb[3];
        point_colour(s, i, rgb);
        tp_fill_circle(c, sx, sy, s->radius, rgb, s->alpha);
    }
    free(dr);
    free(order);

    /* x and y along the floor's front edges, z along the leftmost upright edge */
    double floor_z = (e[2] >= 0 ? -1 : 1) * v.half[2];
    double bx[3] = {0, (e[1] > 0 ? 1 : -1) * v.half[1], floor_z};
    double by[3] = {(e[0] > 0 ? 1 : -1) * v.half[0], 0, floor_z};
    double bz[3] = {0, 0, 0}, best = INFINITY, bdepth = INFINITY;
    for (int k = 0; k < 4; k++) {
        double q[3] = {k & 1 ? 1 : -1, k & 2 ? 1 : -1, 0}, sx = dot3(q, r), dep = dot3(q, e);
        if (sx < best - 1e-9 || (sx < best + 1e-9 && dep < bdepth)) {
            best = sx, bdepth = dep;
            bz[0] = q[0], bz[1] = q[1];
        }
    }
    axis3(c, &v, 0, bx, t[0], nt[0], step[0], s->labels[0], f);
    axis3(c, &v, 1, by, t[1], nt[1], step[1], s->labels[1], f);
    axis3(c, &v, 2, bz, t[2], nt[2], step[2], s->labels[2], f);
    return (int)ceil(v.ox + v.sc * sxhi) + room;
}

void tp_plot_scatter(tp_canvas *c, const tp_scatter *s, int x, int y, int w, int h, tp_axes *panel)
{
    tp_scatter t = *s;
    t.font = font_or_default(s->font);
    int f = t.font, pad = pad_of(f), lw, lh;
    int cols = legend_fit(&t, h - 8 * pad, &lw, &lh);
    int pw = cols ? w - lw - 2 * pad : w, lx = x + pw;
    if (t.dim == 3 && !t.pairs) {
        int right = scatter3(c, &t, x, y, pw, h);
        lx = right < lx ? right : lx;
    } else {
        int64_t *order = shuffled(&t);
        if (t.dim == 2)
            scatter_panel(c, &t, order, 0, 1, t.title, x, y, pw, h, panel);
        else {
            int top = t.title ? tp_text_height(f + 1) + 3 * pad : 0;
            if (t.title)
                tp_draw_text(c, x + (w - tp_text_width(t.title, f + 1)) / 2, y + pad, t.title, f + 1, BLACK);
            static const int pair[3][2] = {{0, 1}, {0, 2}, {1, 2}};
            for (int k = 0; k < 3; k++)
                scatter_panel(c, &t, order, pair[k][0], pair[k][1], NULL, x + k * pw / 3, y + top, pw / 3, h - top,
                              panel);
        }
        free(order);
    }
    if (cols)
        tp_legend_draw(c, lx, y + (h - lh) / 2, t.legend, t.nclasses, cols, f);
}
