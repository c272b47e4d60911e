/* heatmap.h — a matrix drawn as an annotated heatmap, as seaborn's
 * heatmap(m, annot=True, cmap='Blues') draws it: each cell coloured on a white-to-dark-blue
 * ramp from the smallest value to the largest, its value written in it (white on dark
 * cells, dark grey on light ones, by seaborn's luminance rule), names beside the rows and
 * under the columns, axis titles, a title and a colour bar with a few round ticks.
 *
 * LAYOUT, in pixels. Text is the 5x7 font of draw.h at scale 2 (12 px a character, 14 px
 * high); the title is at scale 3 (18 px a character, 21 px high). Names are cut to 24
 * characters. A margin of 20 goes all round.
 *   cells      square, S = max(48, 24 + the widest cell text) a side
 *   across     margin, y title turned a quarter (14), 10, row names right-aligned (as wide
 *              as the widest), 11 (gap and tick mark), cols x S of cells, 24, colour bar
 *              (20), 11, tick labels (as wide as the widest), margin; at least two margins
 *              and the title's width
 *   down       margin, title (21), 16, rows x S of cells, 11, column names (14 high; turned
 *              a quarter to read upwards when any is wider than S - 4, then as high as the
 *              widest is wide), 10, x title (14), margin
 * The colour bar is as high as the cells, the largest value at its top. A missing title
 * (NULL) takes no room.
 */
#ifndef TP_HEATMAP_H
#define TP_HEATMAP_H

#include <stdint.h>

#include "draw.h"

typedef struct {
    int rows, cols;                     /* >= 1 each */
    const double *values;               /* rows x cols, row-major, finite */
    const char *const *row_names;       /* rows names, drawn left of the rows */
    const char *const *col_names;       /* cols names, drawn under the columns */
    const char *title, *xtitle, *ytitle; /* NULL for none */
    int decimals;                       /* digits after the point in cell texts: 0 for counts */
} tp_heatmap;

/* The colour at t in [0, 1] (clamped) of matplotlib's "Blues" ramp: ColorBrewer's nine
 * blues from #f7fbff to #08306b, interpolated linearly. */
void tp_blues(double t, uint8_t rgb[3]);

/* Draws hm on a new white canvas c, sized as LAYOUT says (tp_canvas_free it). */
void tp_heatmap_draw(const tp_heatmap *hm, tp_canvas *c);

#endif
