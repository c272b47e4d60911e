/* draw.h — a small RGB canvas for the pictures tpipe writes (montage, plots, heatmaps):
 * rectangles, lines, images, and text in a built-in 5x7 font, saved as PNG. */
#ifndef TP_DRAW_H
#define TP_DRAW_H

#include <stdint.h>

typedef struct {
    int w, h;
    uint8_t *rgb; /* h x w x 3 */
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
/* Writes the canvas as a PNG to path ("-" = stdout), atomically; dies on failure. */
void tp_canvas_save(const tp_canvas *c, const char *path);

#endif
