/* heatmap.c — see heatmap.h. */
#include "heatmap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MARGIN 20
#define TS 2 /* text scale */
#define TITLE_TS 3
#define MIN_CELL 48
#define NAME_MAX 24
#define BAR_W 20
#define BAR_GAP 24
#define TICK 5 /* tick marks, then PAD to their labels */
#define PAD 6

static const uint8_t WHITE[3] = {255, 255, 255}, INK[3] = {38, 38, 38}; /* seaborn's ".15" grey */

void tp_blues(double t, uint8_t rgb[3])
{
    static const uint8_t stops[9][3] = {
        {0xf7, 0xfb, 0xff}, {0xde, 0xeb, 0xf7}, {0xc6, 0xdb, 0xef}, {0x9e, 0xca, 0xe1}, {0x6b, 0xae, 0xd6},
        {0x42, 0x92, 0xc6}, {0x21, 0x71, 0xb5}, {0x08, 0x51, 0x9c}, {0x08, 0x30, 0x6b},
    };
    t = t > 0 ? (t < 1 ? t : 1) : 0; /* NaN goes to 0 too */
    double x = t * 8;
    int k = x >= 8 ? 7 : (int)x;
    double f = x - k;
    for (int i = 0; i < 3; i++)
        rgb[i] = (uint8_t)lround(stops[k][i] + f * (stops[k + 1][i] - stops[k][i]));
}

/* 1 when dark text reads better than white on rgb: seaborn's rule, the WCAG relative
 * luminance of the cell colour above 0.408. */
static int light(const uint8_t rgb[3])
{
    static const double w[3] = {0.2126, 0.7152, 0.0722};
    double lum = 0;
    for (int i = 0; i < 3; i++) {
        double c = rgb[i] / 255.0;
        lum += w[i] * (c <= 0.03928 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4));
    }
    return lum > 0.408;
}

/* s drawn turned a quarter turn to read upwards, its box's top-left corner at (x, y): the
 * box is tp_text_height(scale) wide and tp_text_width(s, scale) high. */
static void text_up(tp_canvas *c, int x, int y, const char *s, int scale, const uint8_t rgb[3])
{
    int tw = tp_text_width(s, scale), th = tp_text_height(scale);
    if (tw == 0)
        return;
    tp_canvas t;
    tp_canvas_init(&t, tw, th, WHITE);
    static const uint8_t black[3] = {0, 0, 0};
    tp_draw_text(&t, 0, 0, s, scale, black);
    for (int j = 0; j < th; j++)
        for (int i = 0; i < tw; i++)
            if (t.rgb[3 * ((size_t)j * (size_t)tw + (size_t)i)] == 0)
                tp_fill_rect(c, x + j, y + tw - 1 - i, 1, 1, rgb);
    tp_canvas_free(&t);
}

/* A name cut to NAME_MAX characters. */
static void cut(const char *s, char *buf)
{
    snprintf(buf, NAME_MAX + 1, "%s", s ? s : "");
}

static int widest(const char *const *names, int n)
{
    char b[NAME_MAX + 1];
    int w = 0;
    for (int i = 0; i < n; i++) {
        cut(names[i], b);
        int x = tp_text_width(b, TS);
        w = x > w ? x : w;
    }
    return w;
}

/* Round ticks over [lo, hi]: a step of 1, 2, 2.5 or 5 times a power of ten giving about
 * five intervals (at least 1 for counts). Fills at most 16 values; returns how many and the
 * digits after the point their labels need in *digits. */
static int ticks(double lo, double hi, int counts, double *v, int *digits)
{
    double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
    if (counts && step < 1)
        step = 1;
    *digits = 0;
    while (*digits < 8 && fabs(step * pow(10, *digits) - round(step * pow(10, *digits))) > 1e-6)
        ++*digits;
    int n = 0;
    for (double k = ceil(lo / step - 1e-9); n < 16 && k * step <= hi + 1e-9 * step; k++)
        v[n++] = k * step == 0 ? 0 : k * step; /* no "-0" */
    return n;
}

void tp_heatmap_draw(const tp_heatmap *hm, tp_canvas *c)
{
    TP_ASSERT(hm->rows >= 1 && hm->cols >= 1);
    size_t n = (size_t)hm->rows * (size_t)hm->cols;
    double lo = INFINITY, hi = -INFINITY;
    char b[64];
    int text_w = 0;
    for (size_t i = 0; i < n; i++) {
        double v = hm->values[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        snprintf(b, sizeof b, "%.*f", hm->decimals, v);
        int w = tp_text_width(b, TS);
        text_w = w > text_w ? w : text_w;
    }
    double span = hi > lo ? hi - lo : 1;
    int S = text_w + 24 > MIN_CELL ? text_w + 24 : MIN_CELL;
    int th = tp_text_height(TS);

    double tv[16];
    int digits, nt = ticks(lo, lo + span, hm->decimals == 0, tv, &digits), tick_w = 0;
    for (int k = 0; k < nt; k++) {
        snprintf(b, sizeof b, "%.*f", digits, tv[k]);
        int w = tp_text_width(b, TS);
        tick_w = w > tick_w ? w : tick_w;
    }
    int row_w = widest(hm->row_names, hm->rows), col_w = widest(hm->col_names, hm->cols);
    int col_up = col_w > S - 4, col_h = col_up ? col_w : th;
    int title_h = hm->title ? tp_text_height(TITLE_TS) + 16 : 0;

    int x0 = MARGIN + th + 10 + row_w + PAD + TICK, y0 = MARGIN + title_h; /* the cells' top-left */
    int gw = hm->cols * S, gh = hm->rows * S;
    int bar_x = x0 + gw + BAR_GAP;
    int W = bar_x + BAR_W + TICK + PAD + tick_w + MARGIN;
    int title_w = hm->title ? tp_text_width(hm->title, TITLE_TS) : 0;
    W = W > 2 * MARGIN + title_w ? W : 2 * MARGIN + title_w;
    int H = y0 + gh + TICK + PAD + col_h + 10 + th + MARGIN;
    tp_canvas_init(c, W, H, WHITE);

    if (hm->title) { /* centred over the cells, kept inside the picture */
        int x = x0 + gw / 2 - title_w / 2;
        x = x + title_w > W - MARGIN ? W - MARGIN - title_w : x;
        tp_draw_text(c, x < MARGIN ? MARGIN : x, MARGIN, hm->title, TITLE_TS, INK);
    }
    for (int r = 0; r < hm->rows; r++)
        for (int k = 0; k < hm->cols; k++) {
            double v = hm->values[(size_t)r * (size_t)hm->cols + (size_t)k];
            uint8_t rgb[3];
            tp_blues((v - lo) / span, rgb);
            int x = x0 + k * S, y = y0 + r * S;
            tp_fill_rect(c, x, y, S, S, rgb);
            snprintf(b, sizeof b, "%.*f", hm->decimals, v);
            tp_draw_text(c, x + (S - tp_text_width(b, TS) + 1) / 2, y + (S - th + 1) / 2, b, TS,
                         light(rgb) ? INK : WHITE);
        }
    for (int r = 0; r < hm->rows; r++) { /* row names and ticks */
        cut(hm->row_names[r], b);
        int y = y0 + r * S + S / 2;
        tp_draw_text(c, x0 - TICK - PAD - tp_text_width(b, TS), y - th / 2, b, TS, INK);
        tp_fill_rect(c, x0 - TICK, y, TICK, 1, INK);
    }
    for (int k = 0; k < hm->cols; k++) { /* column names and ticks */
        cut(hm->col_names[k], b);
        int x = x0 + k * S + S / 2, w = tp_text_width(b, TS);
        if (col_up)
            text_up(c, x - th / 2, y0 + gh + TICK + PAD, b, TS, INK);
        else
            tp_draw_text(c, x - w / 2, y0 + gh + TICK + PAD, b, TS, INK);
        tp_fill_rect(c, x, y0 + gh, 1, TICK, INK);
    }
    if (hm->xtitle)
        tp_draw_text(c, x0 + gw / 2 - tp_text_width(hm->xtitle, TS) / 2, y0 + gh + TICK + PAD + col_h + 10, hm->xtitle, TS, INK);
    if (hm->ytitle)
        text_up(c, MARGIN, y0 + gh / 2 - tp_text_width(hm->ytitle, TS) / 2, hm->ytitle, TS, INK);

    for (int j = 0; j < gh; j++) { /* the colour bar: the largest value at the top */
        uint8_t rgb[3];
        tp_blues(gh > 1 ? 1 - (double)j / (gh - 1) : 1, rgb);
        tp_fill_rect(c, bar_x, y0 + j, BAR_W, 1, rgb);
    }
    for (int k = 0; k < nt; k++) {
        int y = y0 + (int)lround((lo + span - tv[k]) / span * (gh - 1));
        tp_fill_rect(c, bar_x + BAR_W, y, TICK, 1, INK);
        snprintf(b, sizeof b, "%.*f", digits, tv[k]);
        tp_draw_text(c, bar_x + BAR_W + TICK + PAD, y - th / 2, b, TS, INK);
    }
}
