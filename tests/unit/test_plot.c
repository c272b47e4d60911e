/* Unit tests of lib/plot.c and the drawing primitives it adds to lib/draw.c: nice ticks and
 * their labels against hand-worked cases, the data-to-pixel mapping, and pixels of drawn
 * shapes, lines and scatter plots at positions computed from their definitions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "draw.h"
#include "plot.h"

static const uint8_t WHITE[3] = {255, 255, 255}, RED[3] = {255, 0, 0}, GREEN[3] = {0, 255, 0}, BLUE[3] = {0, 0, 255};

static const uint8_t *px(const tp_canvas *c, int x, int y) { return c->rgb + 3 * ((size_t)y * (size_t)c->w + (size_t)x); }

static int is(const tp_canvas *c, int x, int y, const uint8_t rgb[3]) { return memcmp(px(c, x, y), rgb, 3) == 0; }

/* The ticks of lo..hi with maxbins equal want[0..n) to 1e-12. */
static void ticks_are(double lo, double hi, int maxbins, int integer, const double *want, int n, double step)
{
    double t[TP_MAX_TICKS], st = 0;
    int got = tp_nice_ticks(lo, hi, maxbins, integer, t, &st);
    CHECK_INT(got, n);
    CHECK_NEAR(st, step, 1e-12);
    for (int i = 0; i < n && i < got; i++)
        CHECK_NEAR(t[i], want[i], 1e-12);
}

static void label_is(double v, double step, const char *want)
{
    char buf[48];
    tp_tick_label(v, step, buf, sizeof buf);
    if (strcmp(buf, want) != 0) {
        fprintf(stderr, "tick label of %g (step %g) is '%s', expected '%s'\n", v, step, buf, want);
        check_failures++;
    }
}

static void test_ticks(void)
{
    /* 0..1 in at most 5 or 9 steps: 1/9 = 0.111 rounds up to the step 0.2 */
    const double unit[] = {0, 0.2, 0.4, 0.6, 0.8, 1};
    ticks_are(0, 1, 5, 0, unit, 6, 0.2);
    ticks_are(0, 1, 9, 0, unit, 6, 0.2);
    /* 10 steps fit 0.1 */
    double tenth[11];
    for (int i = 0; i <= 10; i++)
        tenth[i] = i / 10.0;
    ticks_are(0, 1, 10, 0, tenth, 11, 0.1);
    /* an accuracy range: 0.06 / 6 = 0.01 exactly; in 5 steps 0.012 rounds up to 0.02 */
    const double acc6[] = {0.93, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99};
    ticks_are(0.93, 0.99, 6, 0, acc6, 7, 0.01);
    const double acc5[] = {0.94, 0.96, 0.98};
    ticks_are(0.93, 0.99, 5, 0, acc5, 3, 0.02);
    /* epochs: 0..10 in 9 steps is 1.11 -> 2; 1..3 with margins would take 0.5, integer makes it 1 */
    const double ep[] = {0, 2, 4, 6, 8, 10};
    ticks_are(0, 10, 9, 1, ep, 6, 2);
    const double ep3[] = {1, 2, 3};
    ticks_are(0.9, 3.1, 9, 1, ep3, 3, 1);
    const double ep3f[] = {1, 1.5, 2, 2.5, 3};
    ticks_are(0.9, 3.1, 9, 0, ep3f, 5, 0.5);
    /* negative ranges: -7.3..-2.1 in 5 steps (1.04 -> 2) keeps -6 and -4 only */
    const double neg[] = {-6, -4};
    ticks_are(-7.3, -2.1, 5, 0, neg, 2, 2);
    const double sym[] = {-1, -0.5, 0, 0.5, 1};
    ticks_are(-1, 1, 4, 0, sym, 5, 0.5);
    double t[TP_MAX_TICKS];
    tp_nice_ticks(-1, 1, 4, 0, t, NULL);
    CHECK(!signbit(t[2])); /* zero, not -0 */
    /* a single value is widened by 5% of itself each side: 4.75..5.25 in 5 steps of 0.1 */
    const double one[] = {4.8, 4.9, 5, 5.1, 5.2};
    ticks_are(5, 5, 5, 0, one, 5, 0.1);
    const double zero[] = {-0.04, -0.02, 0, 0.02, 0.04};
    ticks_are(0, 0, 5, 0, zero, 5, 0.02);
    /* never more than TP_MAX_TICKS, whatever maxbins asks */
    CHECK(tp_nice_ticks(0, 1000, 1000, 0, t, NULL) <= TP_MAX_TICKS);
    /* large and tiny magnitudes */
    const double big[] = {0, 2e6, 4e6, 6e6, 8e6, 1e7};
    ticks_are(0, 1e7, 5, 0, big, 6, 2e6);
    const double small[] = {1e-7, 2e-7, 3e-7};
    ticks_are(1e-7, 3e-7, 2, 0, small, 3, 1e-7);
}

static void test_labels(void)
{
    label_is(0.2, 0.2, "0.2");
    label_is(0.6000000000000001, 0.2, "0.6");
    label_is(0.95, 0.05, "0.95");
    label_is(1, 0.05, "1.00");
    label_is(10, 2, "10");
    label_is(-1.5, 0.5, "-1.5");
    label_is(-1e-17, 0.1, "0.0");
    label_is(0.00102, 0.00002, "0.00102");
    label_is(0.001, 0.00002, "0.00100");
    label_is(2.5e6, 5e5, "2.5e+06");
    label_is(1e-7, 2e-8, "1.0e-07");
    label_is(0, 1e-8, "0");
}

static void test_limits(void)
{
    double lo = 0, hi = 10;
    tp_view_limits(&lo, &hi, 0.05);
    CHECK_NEAR(lo, -0.5, 1e-12);
    CHECK_NEAR(hi, 10.5, 1e-12);
    lo = hi = 3;
    tp_view_limits(&lo, &hi, 0.05);
    CHECK_NEAR(lo, 2.85, 1e-12);
    CHECK_NEAR(hi, 3.15, 1e-12);
    lo = hi = -2;
    tp_view_limits(&lo, &hi, 0.05);
    CHECK_NEAR(lo, -2.1, 1e-12);
    CHECK_NEAR(hi, -1.9, 1e-12);
    lo = INFINITY, hi = -INFINITY; /* no finite data */
    tp_view_limits(&lo, &hi, 0.05);
    CHECK(lo == 0 && hi == 1);
    lo = NAN, hi = 1;
    tp_view_limits(&lo, &hi, 0.05);
    CHECK(lo == 0 && hi == 1);
}

static void test_mapping(void)
{
    /* by hand: 101 columns from 10 for 0..100, 51 rows from 20 for -1..1 (y up) */
    tp_axes a = {0};
    a.x = 10, a.w = 101, a.x0 = 0, a.x1 = 100;
    a.y = 20, a.h = 51, a.y0 = -1, a.y1 = 1;
    CHECK_NEAR(tp_axes_px(&a, 0), 10, 1e-12);
    CHECK_NEAR(tp_axes_px(&a, 50), 60, 1e-12);
    CHECK_NEAR(tp_axes_px(&a, 100), 110, 1e-12);
    CHECK_NEAR(tp_axes_px(&a, 25.5), 35.5, 1e-12);
    CHECK_NEAR(tp_axes_py(&a, -1), 70, 1e-12);
    CHECK_NEAR(tp_axes_py(&a, 0), 45, 1e-12);
    CHECK_NEAR(tp_axes_py(&a, 1), 20, 1e-12);

    /* after layout the view limits land on the plot area's edges, inside the box */
    tp_axes b = {0};
    b.x0 = 1, b.x1 = 12, b.y0 = 0.8, b.y1 = 1;
    b.title = "Model accuracy", b.xlabel = "Epoch", b.ylabel = "Accuracy";
    tp_axes_layout(&b, 600, 0, 600, 500);
    CHECK(b.x > 600 && b.y > 0 && b.x + b.w <= 1200 && b.y + b.h <= 500);
    CHECK(b.w > 400 && b.h > 350); /* margins for labels, not more */
    CHECK_NEAR(tp_axes_px(&b, 1), b.x, 1e-9);
    CHECK_NEAR(tp_axes_px(&b, 12), b.x + b.w - 1, 1e-9);
    CHECK_NEAR(tp_axes_py(&b, 0.8), b.y + b.h - 1, 1e-9);
    CHECK_NEAR(tp_axes_py(&b, 1), b.y, 1e-9);
    CHECK(b.nxt >= 3 && b.nyt >= 3);
    for (int i = 0; i < b.nxt; i++)
        CHECK(b.xt[i] >= 1 && b.xt[i] <= 12);
}

static void test_primitives(void)
{
    tp_canvas c;
    tp_canvas_init(&c, 40, 30, WHITE);
    /* opacity 0.5 of black over white: 255 / 2 = 127.5, rounded to even */
    static const uint8_t BLACK[3] = {0, 0, 0};
    tp_blend_pixel(&c, 1, 1, BLACK, 0.5);
    CHECK_INT(px(&c, 1, 1)[0], 128);
    tp_blend_pixel(&c, 2, 1, BLACK, 0);
    CHECK(is(&c, 2, 1, WHITE));
    /* a disc of radius 2 at (10, 10): its centre and (12, 10) covered, (13, 10) untouched */
    tp_fill_circle(&c, 10, 10, 2, RED, 1);
    CHECK(is(&c, 10, 10, RED) && is(&c, 11, 11, RED));
    CHECK(is(&c, 13, 10, WHITE) && is(&c, 10, 7, WHITE));
    CHECK(!is(&c, 12, 10, WHITE)); /* on the edge: half covered */
    /* a width-1 horizontal line covers its pixels exactly, the rows beside it not at all */
    tp_draw_line_aa(&c, 2, 20, 8, 20, 1, BLUE, 1);
    for (int i = 2; i <= 8; i++)
        CHECK(is(&c, i, 20, BLUE) && is(&c, i, 19, WHITE) && is(&c, i, 21, WHITE));
    CHECK(is(&c, 1, 20, WHITE) && is(&c, 9, 20, WHITE));
    /* dashes of 4 with gaps of 4 from x = 20: 20..24 drawn, 26 blank, 28 drawn again */
    tp_draw_line_dashed(&c, 20, 25, 39, 25, 1, 4, 4, GREEN, 1);
    CHECK(is(&c, 22, 25, GREEN) && is(&c, 26, 25, WHITE) && is(&c, 30, 25, GREEN));
    /* a square polygon 1.5..5.5 holds the 16 pixel centres 2..5 */
    tp_canvas d;
    tp_canvas_init(&d, 10, 10, WHITE);
    double sq[8] = {1.5, 1.5, 5.5, 1.5, 5.5, 5.5, 1.5, 5.5};
    tp_fill_polygon(&d, sq, 4, RED, 1);
    int n = 0;
    for (int j = 0; j < 10; j++)
        for (int i = 0; i < 10; i++)
            if (is(&d, i, j, RED)) {
                n++;
                CHECK(i >= 2 && i <= 5 && j >= 2 && j <= 5);
            }
    CHECK_INT(n, 16);
    /* clipping keeps a fill inside the clip rectangle */
    tp_canvas_clip(&d, 0, 0, 3, 3);
    tp_fill_rect(&d, 0, 0, 10, 10, BLUE);
    CHECK(is(&d, 2, 2, BLUE) && is(&d, 3, 3, RED) && is(&d, 9, 9, WHITE));
    tp_canvas_unclip(&d);
    tp_fill_rect(&d, 9, 9, 5, 5, BLUE);
    CHECK(is(&d, 9, 9, BLUE));
    tp_canvas_free(&d);
    tp_canvas_free(&c);
    /* a canvas set up by hand, without tp_canvas_init, draws everywhere */
    uint8_t buf[4 * 4 * 3] = {0};
    tp_canvas e = {4, 4, buf, 0, 0, 0, 0, 0};
    tp_fill_rect(&e, 0, 0, 4, 4, RED);
    tp_fill_circle(&e, 3, 3, 0.5, BLUE, 1);
    CHECK(is(&e, 0, 0, RED) && is(&e, 3, 3, BLUE));
}

static void test_text_up(void)
{
    /* "A" turned upright at scale 1 fills a box 7 wide and 5 high; the glyph's top row
     * (.###.) is the box's left column, read from the bottom: rows 1..3 set, 0 and 4 not */
    tp_canvas c;
    tp_canvas_init(&c, 20, 20, WHITE);
    tp_draw_text_up(&c, 3, 4, "A", 1, RED);
    int x0 = 99, x1 = -1, y0 = 99, y1 = -1;
    for (int j = 0; j < 20; j++)
        for (int i = 0; i < 20; i++)
            if (is(&c, i, j, RED)) {
                x0 = i < x0 ? i : x0, x1 = i > x1 ? i : x1;
                y0 = j < y0 ? j : y0, y1 = j > y1 ? j : y1;
            }
    CHECK_INT(x0, 3);
    CHECK_INT(x1, 3 + tp_text_height(1) - 1);
    CHECK_INT(y0, 4);
    CHECK_INT(y1, 4 + tp_text_width("A", 1) - 1);
    CHECK(is(&c, 3, 4, WHITE) && is(&c, 3, 8, WHITE));
    CHECK(is(&c, 3, 5, RED) && is(&c, 3, 6, RED) && is(&c, 3, 7, RED));
    /* "I-" reads upwards: the I (a full-height bar, row 0 .###.) at the bottom, the dash above */
    tp_canvas d;
    tp_canvas_init(&d, 20, 20, WHITE);
    tp_draw_text_up(&d, 0, 0, "I-", 1, BLUE); /* box 7 wide, 11 high: I in rows 6..10, - in 0..4 */
    CHECK(is(&d, 0, 8, BLUE));  /* I's top row, its middle column */
    CHECK(is(&d, 3, 2, BLUE));  /* the dash: glyph row 3 (#####), any column */
    CHECK(is(&d, 0, 2, WHITE)); /* the dash's top row is empty */
    tp_canvas_free(&d);
    tp_canvas_free(&c);
}

static void test_palette(void)
{
    uint8_t c[3];
    tp_palette(0, 10, c);
    CHECK(c[0] == 0x1f && c[1] == 0x77 && c[2] == 0xb4); /* tab:blue */
    tp_palette(11, 10, c);                              /* modulo 10: tab:orange */
    CHECK(c[0] == 0xff && c[1] == 0x7f && c[2] == 0x0e);
    tp_palette(1, 20, c); /* tab20's light blue */
    CHECK(c[0] == 0xae && c[1] == 0xc7 && c[2] == 0xe8);
    uint8_t a[3], b[3];
    for (int i = 0; i < 29; i++) { /* 30 classes: neighbours differ */
        tp_palette(i, 30, a);
        tp_palette(i + 1, 30, b);
        CHECK(abs(a[0] - b[0]) + abs(a[1] - b[1]) + abs(a[2] - b[2]) > 60);
    }
}

static void test_legend_best(void)
{
    tp_axes a = {0};
    a.x = 0, a.w = 200, a.y = 0, a.h = 100, a.font = 2;
    int x, y;
    tp_legend_best(&a, 50, 30, NULL, NULL, 0, &x, &y); /* nothing drawn: upper right */
    CHECK_INT(x, 200 - 50 - 6);
    CHECK_INT(y, 6);
    double px_[4] = {180, 170, 175, 160}, py_[4] = {10, 20, 15, 25}; /* data in the upper right */
    tp_legend_best(&a, 50, 30, px_, py_, 4, &x, &y);
    CHECK_INT(x, 6); /* upper left */
    CHECK_INT(y, 6);
}

/* Three points at known data coordinates in three colours: each colour is at its computed
 * pixel and within a radius of it, and the plot area away from the points is background. */
static void test_scatter_pixels(void)
{
    const float p[6] = {0, 0, 1, 1, 2, 0.5f};
    const int cls[3] = {0, 1, 2};
    tp_legend_entry e[3] = {{"a", {255, 0, 0}, TP_MARK_CIRCLE, 0},
                            {"b", {0, 255, 0}, TP_MARK_CIRCLE, 0},
                            {"c", {0, 0, 255}, TP_MARK_CIRCLE, 0}};
    tp_scatter s = {3, 2, p, cls, e, 3, 3, 1, 1, 30, -60, 0, NULL, {"x", "y", "z"}, 2};
    tp_canvas c;
    tp_canvas_init(&c, 400, 300, WHITE);
    tp_axes a;
    tp_plot_scatter(&c, &s, 0, 0, 400, 300, &a);
    /* the view is the data's range with 5% margins */
    CHECK_NEAR(a.x0, -0.1, 1e-9);
    CHECK_NEAR(a.x1, 2.1, 1e-9);
    CHECK_NEAR(a.y0, -0.05, 1e-9);
    CHECK_NEAR(a.y1, 1.05, 1e-9);
    CHECK(a.x + a.w < 400 - 20); /* the legend sits to the right */
    static const uint8_t GRID[3] = {222, 222, 222};
    double cx[3], cy[3];
    for (int k = 0; k < 3; k++) {
        cx[k] = a.x + (p[2 * k] - a.x0) / (a.x1 - a.x0) * (a.w - 1);
        cy[k] = a.y + a.h - 1 - (p[2 * k + 1] - a.y0) / (a.y1 - a.y0) * (a.h - 1);
        CHECK(is(&c, (int)lrint(cx[k]), (int)lrint(cy[k]), e[k].rgb));
    }
    int bad = 0, colour_px[3] = {0, 0, 0};
    for (int j = a.y + 1; j < a.y + a.h - 1; j++) /* inside the frame */
        for (int i = a.x + 1; i < a.x + a.w - 1; i++) {
            double dmin = 1e9;
            for (int k = 0; k < 3; k++) {
                double d = hypot(i - cx[k], j - cy[k]);
                dmin = d < dmin ? d : dmin;
                if (is(&c, i, j, e[k].rgb)) {
                    colour_px[k]++;
                    bad += d > 3.5;
                }
            }
            if (dmin > 4.5)
                bad += !is(&c, i, j, WHITE) && !is(&c, i, j, GRID);
        }
    CHECK_INT(bad, 0);
    for (int k = 0; k < 3; k++) /* a disc of radius 3 fully covers about pi * 2.5^2 pixels */
        CHECK(colour_px[k] >= 15 && colour_px[k] <= 30);
    tp_canvas_free(&c);
}

/* A line chart's line passes through the pixel of its data midpoint, in its colour. */
static void test_lines_pixels(void)
{
    const double x[2] = {0, 10}, y[2] = {0, 10};
    tp_series s = {"Train", x, y, 2, {255, 0, 0}, TP_MARK_CIRCLE};
    tp_canvas c;
    tp_canvas_init(&c, 500, 400, WHITE);
    tp_axes a = {0};
    tp_plot_lines(&c, &a, &s, 1, 0, 0, 500, 400);
    CHECK_NEAR(a.x0, -0.5, 1e-9);
    CHECK_NEAR(a.x1, 10.5, 1e-9);
    CHECK(is(&c, (int)lrint(tp_axes_px(&a, 5)), (int)lrint(tp_axes_py(&a, 5)), s.rgb));
    CHECK(is(&c, (int)lrint(tp_axes_px(&a, 0)), (int)lrint(tp_axes_py(&a, 0)), s.rgb)); /* a marker */
    CHECK(!is(&c, (int)lrint(tp_axes_px(&a, 8)), (int)lrint(tp_axes_py(&a, 2)), s.rgb));
    tp_canvas_free(&c);
}

int main(void)
{
    test_ticks();
    test_labels();
    test_limits();
    test_mapping();
    test_primitives();
    test_text_up();
    test_palette();
    test_legend_best();
    test_scatter_pixels();
    test_lines_pixels();
    return check_result();
}
