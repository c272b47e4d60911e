/* plot.h — charts on a tp_canvas in the manner of matplotlib: nice ticks, axes with tick
 * labels, gridlines and titles, legends, a categorical palette (tab10/tab20), markers, and
 * the two pictures `plot` draws from them: line charts (training curves) and scatter plots
 * of 2-D or 3-D embeddings.
 *
 * Data coordinates map linearly onto the plot area: the x view limits x0..x1 onto its first
 * and last columns, y0..y1 onto its last and first rows (y grows upwards), pixel centres at
 * integer coordinates (as in draw.h). The frame lies on the area's edge.
 */
#ifndef TP_PLOT_H
#define TP_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "draw.h"

#define TP_MAX_TICKS 32

/* Ticks for the view lo..hi: the multiples of a step inside it (ends included within a
 * rounding tolerance), the step being 1, 2 or 5 times a power of ten, the smallest such that
 * lo..hi spans at most maxbins steps (matplotlib's MaxNLocator with steps 1, 2, 5); with
 * integer, the step is a whole number. A view of zero width is first widened as
 * tp_view_limits does. Writes at most TP_MAX_TICKS ticks into t and returns their count,
 * with the step in *step (may be NULL). */
int tp_nice_ticks(double lo, double hi, int maxbins, int integer, double *t, double *step);

/* Tick v as text, with just the decimals that the step needs ("0.2", "0.95", "10", "-1.5",
 * "0.00102"); values of 1e6 and more, and ticks of steps below 1e-6, in exponent form with
 * the digits down to the step's ("2.5e+06", "1.0e-07"). */
void tp_tick_label(double v, double step, char *buf, size_t n);

/* Widens the data range *lo..*hi by margin times its width on each side (matplotlib's 0.05
 * for lines and points). A range of zero width becomes v -+ 5% of |v| (-+ 0.05 at 0); a
 * range with no finite data (lo > hi, NaN) becomes 0..1. */
void tp_view_limits(double *lo, double *hi, double margin);

/* The i-th colour of a categorical palette for n classes: matplotlib's tab10 when n <= 10,
 * tab20 when n <= 20, else n hues spread round the colour wheel. i is taken modulo n. */
void tp_palette(int i, int n, uint8_t rgb[3]);

/* Marker shapes, as matplotlib's "o", "x", "s", "^" and "D". */
typedef enum { TP_MARK_NONE, TP_MARK_CIRCLE, TP_MARK_CROSS, TP_MARK_SQUARE, TP_MARK_TRIANGLE, TP_MARK_DIAMOND } tp_marker;
/* A marker of diameter size centred at (x, y). */
void tp_draw_marker(tp_canvas *c, double x, double y, tp_marker m, double size, const uint8_t rgb[3]);

typedef struct {
    /* set by the caller before tp_axes_layout (zeros give the defaults) */
    double x0, x1, y0, y1;            /* view limits in data units */
    int xinteger, yinteger;           /* ticks at whole numbers only */
    const char *title, *xlabel, *ylabel;
    int font;                         /* text scale of labels (default 2); the title's is font + 1 */
    int nogrid;                       /* no gridlines at the ticks */
    /* set by tp_axes_layout */
    int x, y, w, h;                   /* the plot area: columns x..x+w-1, rows y..y+h-1 */
    int bx, by, bw, bh;               /* the box given to tp_axes_layout */
    int nxt, nyt;
    double xt[TP_MAX_TICKS], yt[TP_MAX_TICKS], xstep, ystep;
} tp_axes;

/* Fits the axes, with their tick labels, axis titles and title, into the box at (x, y) of
 * size w x h: margins come from the label sizes, tick counts from the room they have. */
void tp_axes_layout(tp_axes *a, int x, int y, int w, int h);
/* Data x or y to a canvas column or row (not rounded). */
double tp_axes_px(const tp_axes *a, double v);
double tp_axes_py(const tp_axes *a, double v);
/* The background, gridlines, ticks, tick labels and titles: draw before the data. */
void tp_axes_draw(tp_canvas *c, const tp_axes *a);
/* The frame round the plot area: draw after the data. */
void tp_axes_frame(tp_canvas *c, const tp_axes *a);

typedef struct {
    const char *label;
    uint8_t rgb[3];
    tp_marker marker;
    int line;                         /* 1: a line through the marker in the key */
} tp_legend_entry;

/* The size of a legend of n entries laid out in cols columns at text scale font. */
void tp_legend_size(const tp_legend_entry *e, int n, int cols, int font, int *w, int *h);
/* Draws it with its top-left at (x, y): a white box with a grey border, a key and a label
 * for each entry, column by column. */
void tp_legend_draw(tp_canvas *c, int x, int y, const tp_legend_entry *e, int n, int cols, int font);
/* Where a legend w x h inside the plot area covers the fewest of the n canvas points
 * (px[i], py[i]) (matplotlib's loc="best": upper right, upper left, lower left, lower
 * right, right, center left, center right, lower center, upper center, center, first wins a
 * tie): its top-left into *x, *y. */
void tp_legend_best(const tp_axes *a, int w, int h, const double *px, const double *py, int n, int *x, int *y);

/* One line of a line chart. */
typedef struct {
    const char *label;
    const double *x, *y;              /* n points; a NaN y breaks the line */
    int n;
    uint8_t rgb[3];
    tp_marker marker;
} tp_series;

/* A line chart of ns series in the box at (x, y) of size w x h: a fills in its titles, font
 * and xinteger; its view limits come from the finite data with 5% margins. Lines are 2
 * pixels wide with markers at the points, and a legend of the labelled series sits where
 * it covers the least data. */
void tp_plot_lines(tp_canvas *c, tp_axes *a, const tp_series *s, int ns, int x, int y, int w, int h);

/* A scatter plot of a 2-D or 3-D embedding. */
typedef struct {
    int64_t n;                        /* points */
    int dim;                          /* 2 or 3 */
    const float *p;                   /* n x dim coordinates; points with a non-finite one are left out */
    const int *cls;                   /* n indices into legend (others grey), or NULL for one colour */
    const tp_legend_entry *legend;    /* the classes: colour and label */
    int nclasses;
    double radius, alpha;             /* dot radius in pixels and opacity */
    uint64_t seed;                    /* the random draw order (2-D) */
    double elev, azim;                /* the 3-D view, degrees (matplotlib's meaning) */
    int pairs;                        /* 3-D as three 2-D panels instead of a projection */
    const char *title;
    const char *labels[3];            /* the axis titles */
    int font;                         /* text scale (default 2) */
} tp_scatter;

/* Draws s into the box at (x, y) of size w x h, its legend at the right (in as many as 8
 * columns; none when the classes need more).
 *  2-D: axes with ticks and gridlines; dots in a random order drawn from seed, so no class
 *    hides the others, each blended at opacity alpha so that density shows.
 *  3-D: an orthographic view from elevation elev and azimuth azim (matplotlib's defaults
 *    are 30, -60): the three back panes of the data's box with gridlines, the x and y axes
 *    along its front floor edges and z along its leftmost upright edge, ticks and titles;
 *    dots drawn from the farthest to the nearest. With pairs, three 2-D panels (1-2, 1-3,
 *    2-3) instead.
 * A 2-D panel's axes (the last one's with pairs) go to *panel when it is not NULL, so that
 * a caller can find data on the canvas. */
void tp_plot_scatter(tp_canvas *c, const tp_scatter *s, int x, int y, int w, int h, tp_axes *panel);

#endif
