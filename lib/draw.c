/* draw.c — see draw.h. */
#include "draw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "font5x7.h"
#include "imgio.h"
#include "util.h"

void tp_canvas_init(tp_canvas *c, int w, int h, const uint8_t rgb[3])
{
    TP_ASSERT(w > 0 && h > 0);
    c->w = w;
    c->h = h;
    c->rgb = tp_alloc((size_t)w * (size_t)h, 3);
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++)
        memcpy(c->rgb + 3 * i, rgb, 3);
}

void tp_canvas_free(tp_canvas *c)
{
    free(c->rgb);
    c->rgb = NULL;
}

static void put(tp_canvas *c, int x, int y, const uint8_t rgb[3])
{
    if (x >= 0 && y >= 0 && x < c->w && y < c->h)
        memcpy(c->rgb + 3 * ((size_t)y * (size_t)c->w + (size_t)x), rgb, 3);
}

void tp_fill_rect(tp_canvas *c, int x, int y, int w, int h, const uint8_t rgb[3])
{
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > c->w ? c->w : x + w, y1 = y + h > c->h ? c->h : y + h;
    for (int j = y0; j < y1; j++)
        for (int i = x0; i < x1; i++)
            memcpy(c->rgb + 3 * ((size_t)j * (size_t)c->w + (size_t)i), rgb, 3);
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
    char err[256], *tmp = NULL;
    FILE *f = stdout;
    if (path && strcmp(path, "-") != 0) {
        size_t n = strlen(path) + 32;
        tmp = tp_alloc(n, 1);
        snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
        if (!(f = fopen(tmp, "wb")))
            tp_die("%s: cannot create: %s", path, strerror(errno));
        tp_register_tmp(tmp);
    }
    const char *name = tmp ? path : "stdout";
    if (tp_png_save(f, c->rgb, c->h, c->w, 3, err, sizeof err))
        tp_die("%s: %s", name, err);
    if (fflush(f) || ferror(f)) {
        if (errno == EPIPE)
            tp_exit_pipe();
        tp_die("%s: write error: %s", name, strerror(errno));
    }
    if (tmp) {
        if (fclose(f))
            tp_die("%s: write error: %s", path, strerror(errno));
        if (rename(tmp, path))
            tp_die("%s: cannot rename into place: %s", path, strerror(errno));
        tp_forget_tmp(tmp);
        free(tmp);
    }
}
