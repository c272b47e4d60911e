/* draw.h — a small RGB canvas for the pictures tpipe writes (montage, plots, heatmaps):
 * rectangles, lines, images, and text in a built-in 5x7 font, saved as PNG.
 *
 * Coordinates: pixel (i, j) is column i, row j from the top-left, and the functions taking
 * doubles put pixel centres at integer coordinates, so a disc centred at (3.0, 4.0) is
 * centred on pixel (3, 4). Opacity a runs from 0 (nothing drawn) to 1 (paints over);
 * anti-aliased edges multiply it by the pixel's coverage. Every drawing function stays
 * inside the canvas's clip rectangle (the whole canvas unless tp_canvas_clip narrows it). */
#ifndef TP_DRAW_H
#define TP_DRAW_H

#include <stdint.h>

typedef struct {
    int w, h;
    uint8_t *rgb;               /* h x w x 3 */
    int clip;                   /* 0: draw anywhere (so a zeroed struct needs no set-up) */
    int cx0, cy0, cx1, cy1;     /* else only columns cx0..cx1-1 of rows cy0..cy1-1 */
} tp_canvas;

/* A w x h canvas filled with colour rgb. */
void tp_canvas_init(tp_canvas *c, int w, int h, const uint8_t rgb[3]);
void tp_canvas_free(tp_canvas *c);
/* Fills the rectangle at (x, y) of size w x h, clipped to the canvas. */
void tp_fill_rect(tp_canvas *c, int x, int y, int w, int h, const uint8_t rgb[3]);
/* A line from (x0, y0) to (x1, y1), clipped. */
void tp_draw_line(tp_canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3]);
/* Text with its top-left corner at (x, y), each font pixel drawn as scale x scale; only
 * ASCII 32..126 is drawn ('?' for others). */
void tp_draw_text(tp_canvas *c, int x, int y, const char *s, int scale, const uint8_t rgb[3]);
/* Width and height in pixels of s drawn at scale. */
int tp_text_width(const char *s, int scale);
int tp_text_height(int scale);
/* An h x w image of ch (1 or 3) channels, each pixel drawn as scale x scale, at (x, y). */
void tp_draw_image(tp_canvas *c, int x, int y, const uint8_t *pix, int h, int w, int ch, int scale);
/* Limits drawing to the rectangle at (x, y) of size w x h (intersected with the canvas). */
void tp_canvas_clip(tp_canvas *c, int x, int y, int w, int h);
/* Lets drawing reach the whole canvas again. */
void tp_canvas_unclip(tp_canvas *c);

/* Blends rgb over pixel (x, y) at opacity a (a >= 1 paints, a <= 0 leaves it). */
void tp_blend_pixel(tp_canvas *c, int x, int y, const uint8_t rgb[3], double a);
/* tp_fill_rect at opacity a. */
void tp_blend_rect(tp_canvas *c, int x, int y, int w, int h, const uint8_t rgb[3], double a);
/* The outline of the rectangle at (x, y) of size w x h, one pixel wide, inside it. */
void tp_draw_rect(tp_canvas *c, int x, int y, int w, int h, const uint8_t rgb[3]);
/* A filled disc of radius r centred at (cx, cy), anti-aliased, at opacity a. */
void tp_fill_circle(tp_canvas *c, double cx, double cy, double r, const uint8_t rgb[3], double a);
/* A line of width lw from (x0, y0) to (x1, y1) with round ends, anti-aliased, at opacity a.
 * A width-1 line between integer points along a row or column covers exactly its pixels. */
void tp_draw_line_aa(tp_canvas *c, double x0, double y0, double x1, double y1, double lw, const uint8_t rgb[3],
                     double a);
/* The same line dashed: dashes of length dash with gaps of length gap, from (x0, y0). */
void tp_draw_line_dashed(tp_canvas *c, double x0, double y0, double x1, double y1, double lw, double dash,
                         double gap, const uint8_t rgb[3], double a);
/* The polygon of n vertices xy[2i], xy[2i+1], filled by the even-odd rule (a pixel is in
 * when its centre is), at opacity a. */
void tp_fill_polygon(tp_canvas *c, const double *xy, int n, const uint8_t rgb[3], double a);
/* Text turned a quarter turn anticlockwise, read from bottom to top (a y-axis title): its
 * box, tp_text_height(scale) wide and tp_text_width(s, scale) high, has its top-left at (x, y). */
void tp_draw_text_up(tp_canvas *c, int x, int y, const char *s, int scale, const uint8_t rgb[3]);

/* Writes the canvas as a PNG to path ("-" = stdout), atomically; dies on failure. */
void tp_canvas_save(const tp_canvas *c, const char *path);

#endif
