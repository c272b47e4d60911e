/* montage — a PNG grid of a stream's images, each with its label (and a wrong prediction). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "draw.h"
#include "rng.h"
#include "dtype.h"
#include "stream.h"
#include "util.h"

static const uint8_t WHITE[3] = {255, 255, 255}, BLACK[3] = {0, 0, 0}, RED[3] = {200, 0, 0};

typedef struct {
    const char *out, *field, *label, *pred, *in;
    int64_t count, cols, scale, seed;
    int sample;
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.out = "-", .field = "x", .label = "y", .pred = "pred", .count = 20, .cols = 10, .seed = 42};
    const tp_option opts[] = {
        TP_STRING("output", 'o', &o->out, "FILE", "write the PNG to FILE"),
        TP_INT("count", 'n', &o->count, "N", "how many images", TP_RANGE(1, 10000)),
        TP_FLAG("sample", 0, &o->sample, "a random sample of N (reservoir, seeded) instead of the first N"),
        TP_INT("seed", 's', &o->seed, "N", "random seed for --sample"),
        TP_INT("cols", 'c', &o->cols, "N", "images per row", TP_RANGE(1, 1000)),
        TP_INT("scale", 0, &o->scale, "N", "pixels per image pixel (0: enough for about 84 pixels a side)", TP_RANGE(0, 64)),
        TP_STRING("field", 'f', &o->field, "NAME", "the image field (u8 or float, H x W x 1 or 3)"),
        TP_STRING("label", 'l', &o->label, "NAME", "the label field drawn above each image"),
        TP_STRING("pred", 'p', &o->pred, "NAME", "the prediction field: shown in red beside a wrong label"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] [FILE]",
        "Draws the first N images of a stream (or a random sample) in a grid, writing a PNG:\n"
        "each image under its label (the class name when the classes metadata has one) and,\n"
        "where a prediction field exists and disagrees, the predicted class beside it in red.\n"
        "Float images are shown from 0 to 1 when their largest value is at most 1, else 0 to 255.",
        opts,
        "Example:\n  idx2raw t10k-images-idx3-ubyte t10k-labels-idx1-ubyte | montage --sample -n 20 > digits.png",
        0, 1,
    };
    o->in = tp_cli_parse_input(&cli, argc, argv);
}

/* Class v's name, cut to fit a cell. */
static void class_name(const tp_header *h, int64_t v, char *buf, size_t n)
{
    tp_class_name(h, v, buf, n);
    if (strlen(buf) > 12)
        buf[12] = 0;
}

/* Field f's single integer in rec, or 0 when absent. */
static int64_t int_field(const tp_header *h, int f, const unsigned char *rec)
{
    return f < 0 ? 0 : tp_label_of(&h->fields[f], rec);
}

/* The first o->count records of r, or a reservoir sample of that many, into keep; how many. */
static int64_t pick(const options *o, tp_reader *r, unsigned char *keep)
{
    const tp_header *h = tp_reader_header(r);
    int64_t n = 0, seen = 0;
    tp_rng rng;
    tp_rng_seed(&rng, (uint64_t)o->seed);
    const unsigned char *rec;
    while ((rec = tp_next_or_die(r))) {
        if (n < o->count)
            memcpy(keep + (size_t)n++ * h->record_size, rec, h->record_size);
        else if (!o->sample)
            break;
        else {
            uint64_t j = tp_rng_below(&rng, (uint64_t)seen + 1);
            if (j < (uint64_t)o->count)
                memcpy(keep + j * h->record_size, rec, h->record_size);
        }
        seen++;
    }
    return n;
}

/* The caption of record p: its label's class name and, where pi's prediction differs, the
 * predicted class's. */
static void caption_text(const tp_header *h, int li, int pi, const unsigned char *p, char *text, size_t n)
{
    char cls[32];
    class_name(h, int_field(h, li, p), cls, sizeof cls);
    snprintf(text, n, "%s", li >= 0 ? cls : "");
    if (pi >= 0 && li >= 0 && int_field(h, pi, p) != int_field(h, li, p)) {
        class_name(h, int_field(h, pi, p), cls, sizeof cls);
        snprintf(text + strlen(text), n - strlen(text), " %s", cls);
    }
}

/* Field f of record p as u8 pixels: float images from 0..1 when their largest value is at
 * most 1, else 0..255. */
static void to_pixels(const tp_field *f, const unsigned char *p, uint8_t *pix)
{
    if (f->dtype == TP_U8) {
        memcpy(pix, p + f->offset, f->nelem);
        return;
    }
    double mx = 0;
    for (size_t e = 0; e < f->nelem; e++) {
        double v = tp_elem_as_double(p + f->offset, f->dtype, e);
        mx = v > mx ? v : mx;
    }
    double k = mx <= 1 ? 255 : 1;
    for (size_t e = 0; e < f->nelem; e++) {
        double v = tp_elem_as_double(p + f->offset, f->dtype, e) * k + 0.5;
        pix[e] = (uint8_t)(v > 0 ? (v < 255 ? v : 255) : 0);
    }
}

/* The grid of the n records in keep (images of field xi) on cv. */
static void draw_grid(const options *o, const tp_header *h, int xi, const unsigned char *keep, int64_t n, tp_canvas *cv)
{
    const tp_field *f = &h->fields[xi];
    int li = tp_header_find_int(h, o->label), pi = tp_header_find_int(h, o->pred);
    int ih = (int)f->shape[0], iw = (int)f->shape[1], ch = f->rank == 3 ? (int)f->shape[2] : 1;
    int s = o->scale ? (int)o->scale : (84 + ih - 1) / ih;
    if (s < 1)
        s = 1;
    int ts = s >= 3 ? 2 : 1; /* text scale */
    char text[64], cls[32];
    int cell_w = iw * s, text_w = 0;
    for (int64_t i = 0; i < n; i++) { /* cells wide enough for the longest caption */
        caption_text(h, li, pi, keep + (size_t)i * h->record_size, text, sizeof text);
        int tw = tp_text_width(text, ts);
        text_w = tw > text_w ? tw : text_w;
    }
    cell_w = cell_w > text_w ? cell_w : text_w;
    int pad = 10, caption = li >= 0 ? tp_text_height(ts) + 4 : 0;
    int cw = cell_w + pad, chh = ih * s + caption + pad;
    int ncols = (int)(n < o->cols ? n : o->cols), nrows = (int)((n + ncols - 1) / ncols);
    tp_canvas_init(cv, ncols * cw + pad, nrows * chh + pad, WHITE);
    uint8_t *pix = tp_alloc(f->nelem, 1);
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *p = keep + (size_t)i * h->record_size;
        int x = pad + (int)(i % ncols) * cw, y = pad + (int)(i / ncols) * chh;
        to_pixels(f, p, pix);
        if (li >= 0) {
            int64_t y0 = int_field(h, li, p);
            class_name(h, y0, cls, sizeof cls);
            tp_draw_text(cv, x, y, cls, ts, BLACK);
            if (pi >= 0 && int_field(h, pi, p) != y0) {
                int at = x + tp_text_width(cls, ts) + 6 * ts;
                class_name(h, int_field(h, pi, p), cls, sizeof cls);
                tp_draw_text(cv, at, y, cls, ts, RED);
            }
        }
        tp_draw_image(cv, x, y + caption, pix, ih, iw, ch, s);
    }
    free(pix);
}

static int run(const options *o)
{
    tp_reader *r = tp_open_or_die(o->in);
    const char *name = tp_reader_name(r);
    const tp_header *h = tp_reader_header(r);
    int xi = tp_field_or_die(h, name, o->field);
    const tp_field *f = &h->fields[xi];
    int ch = f->rank == 3 ? (int)f->shape[2] : f->rank == 2 ? 1 : 0;
    if ((ch != 1 && ch != 3) || f->shape[0] > 4096 || f->shape[1] > 4096)
        tp_die("%s: field '%s' is %s with rank %d, not an image of 1 or 3 channels", name, o->field,
               tp_dtype_name(f->dtype), f->rank);
    unsigned char *keep = tp_alloc((size_t)o->count, h->record_size);
    int64_t n = pick(o, r, keep);
    if (n == 0)
        tp_die("%s: no records to draw", name);
    tp_canvas cv;
    draw_grid(o, h, xi, keep, n, &cv);
    tp_canvas_save(&cv, o->out);
    tp_canvas_free(&cv);
    free(keep);
    tp_reader_close(r);
    return 0;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    options o;
    parse(argc, argv, &o);
    return run(&o);
}
