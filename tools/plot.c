/* plot — PNG pictures of a stream: training curves from a history, or a scatter plot of an
 * embedding coloured by label or cluster. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "draw.h"
#include "plot.h"
#include "dtype.h"
#include "stream.h"
#include "util.h"

static const uint8_t WHITE[3] = {255, 255, 255}, BLACK[3] = {0, 0, 0}, UNKNOWN[3] = {140, 140, 140};

enum { KIND_CURVES, KIND_SCATTER, KIND_AUTO };

typedef struct {
    const char *out, *in, *title, *size, *field, *color, *metrics, *view;
    int kind, pairs;
    double radius, alpha, elev, azim;
    int64_t seed, font, width, height; /* width, height: --size, else 0 */
    char *metric[8]; /* --metrics split at its commas (in metric_list) */
    int nmetrics;
    char *metric_list;
} options;

/* --metrics into o->metric, --view into o->elev and o->azim, --size into o->width and o->height. */
static void parse_lists(options *o)
{
    char *save = NULL;
    o->metric_list = tp_strdup(o->metrics);
    for (char *m = strtok_r(o->metric_list, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        if (o->nmetrics == 8)
            tp_usage("--metrics names at most 8 metrics");
        o->metric[o->nmetrics++] = m;
    }
    if (!o->nmetrics)
        tp_usage("--metrics names no metric");
    char end;
    if (sscanf(o->view, "%lf,%lf%c", &o->elev, &o->azim, &end) != 2 || !isfinite(o->elev) || !isfinite(o->azim))
        tp_usage("--view wants ELEV,AZIM in degrees, not '%s'", o->view);
    /* tp_parse_hw reads "AxB" as A then B: here width first */
    if (o->size && (tp_parse_hw(o->size, &o->width, &o->height) || o->width < 200 || o->height < 150 ||
                    o->width > 16384 || o->height > 16384))
        tp_usage("--size wants WxH within 200x150 to 16384x16384, not '%s'", o->size);
}

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.out = "-", .field = "x", .metrics = "accuracy,loss", .view = "30,-60", .kind = KIND_AUTO,
                   .seed = 42, .font = 2};
    const tp_option opts[] = {
        TP_STRING("output", 'o', &o->out, "FILE", "write the PNG to FILE"),
        TP_CHOICE("kind", 'k', &o->kind, "KIND", "curves, scatter, or auto: curves when the stream has a 'loss' field",
                  "curves", "scatter", "auto"),
        TP_STRING("title", 't', &o->title, "TEXT", "a title above the picture"),
        TP_STRING("size", 0, &o->size, "WxH", "picture size (default 1200x500 curves, 1000x800 scatter, 1500x520 --pairs)"),
        TP_INT("font", 0, &o->font, "N", "text scale: each pixel of the 5x7 font drawn N x N (titles N+1)", TP_RANGE(1, 8)),
        TP_STRING("metrics", 'm', &o->metrics, "LIST", "curves: one panel per metric, with val_METRIC beside it where present"),
        TP_STRING("field", 'f', &o->field, "NAME", "scatter: the embedding field, 2 or 3 numbers a record"),
        TP_STRING("color", 'c', &o->color, "FIELD", "scatter: colour by this integer field, or none (default y, else cluster)"),
        TP_DOUBLE("radius", 'r', &o->radius, "R", "scatter: dot radius in pixels (0: from the point count)", TP_RANGE(0, 100)),
        TP_DOUBLE("alpha", 'a', &o->alpha, "A", "scatter: dot opacity, 0 to 1 (0: from the point count)", TP_RANGE(0, 1)),
        TP_INT("seed", 's', &o->seed, "N", "scatter: seed of the random drawing order"),
        TP_STRING("view", 0, &o->view, "ELEV,AZIM", "3-D scatter: elevation and azimuth in degrees (matplotlib's)"),
        TP_FLAG("pairs", 0, &o->pairs, "3-D scatter: three 2-D panels (1-2, 1-3, 2-3) instead of a projection"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] [FILE]",
        "Draws a stream as a PNG.\n"
        "curves: a training history (train --history) as panels side by side, one per metric\n"
        "  (Model accuracy, Model loss), the training value and the validation value (val_*,\n"
        "  left out when NaN) by epoch, with markers, gridlines and a legend placed where it\n"
        "  hides least.\n"
        "scatter: an embedding (tsne, pca: field x of 2 or 3 numbers) as dots coloured by\n"
        "  label or cluster, with a legend of class names (from the classes metadata; cluster\n"
        "  numbers stay numbers; -1 is 'unknown', in grey). Dots are drawn in a seeded random\n"
        "  order, so no class covers the others, and are translucent, so density shows. 3-D:\n"
        "  an orthographic view from --view (elevation above the x-y plane, azimuth round the z\n"
        "  axis, as matplotlib's view_init; default 30,-60) with the back panes, gridlines and\n"
        "  the three axes, dots drawn far to near; or --pairs.",
        opts,
        "Examples:\n"
        "  train --net lenet5.net --val val.tp --history hist.tp < train.tp > model.tp\n"
        "  plot -o curves.png hist.tp\n"
        "  tsne -d 2 < train.tp | plot -o tsne.png --title 't-SNE of MNIST'\n"
        "  tsne -d 3 < train.tp | gmm -k 10 | plot --color cluster --view 20,-50 -o clusters.png",
        0, 1,
    };
    o->in = tp_cli_parse_input(&cli, argc, argv);
    parse_lists(o);
}

/* Field name's index, which must hold one number per record; dies otherwise. */
static int scalar_field(const tp_header *h, const char *file, const char *name, const char *what)
{
    int i = tp_header_find(h, name);
    if (i < 0)
        tp_die("%s: no field '%s' (%s)", file, name, what);
    if (h->fields[i].nelem != 1)
        tp_die("%s: field '%s' holds %zu numbers a record, not one", file, name, h->fields[i].nelem);
    return i;
}

/* A metric's name as an axis title. */
static const char *metric_title(const char *m)
{
    static const char *known[][2] = {{"accuracy", "Accuracy"}, {"loss", "Loss"}, {"lr", "Learning rate"},
                                     {"seconds", "Seconds"}};
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (strcmp(m, known[k][0]) == 0)
            return known[k][1];
    return m;
}

/* A training history's columns: x the epochs, v[2k] metric k and v[2k+1] its validation
 * values (NaN where the history has none), n records of them. */
typedef struct {
    int64_t n;
    double *x, *v[16];
    int has_val[8];
} history;

/* Reads the history of r: the fields of o's metrics, their val_ fields where present, and
 * epoch (else 1, 2, ...). */
static void read_history(tp_reader *r, const options *o, history *hs)
{
    const char *name = tp_reader_name(r);
    const tp_header *hd = tp_reader_header(r);
    int nm = o->nmetrics, fi[8], vi[8];
    for (int k = 0; k < nm; k++) {
        char val[TP_MAX_NAME + 8];
        snprintf(val, sizeof val, "val_%s", o->metric[k]);
        fi[k] = scalar_field(hd, name, o->metric[k], "a history from train --history has loss, accuracy, val_loss, val_accuracy");
        vi[k] = tp_header_find(hd, val) >= 0 ? scalar_field(hd, name, val, "") : -1;
        hs->has_val[k] = vi[k] >= 0;
    }
    int ei = tp_header_find(hd, "epoch");
    if (ei >= 0)
        ei = scalar_field(hd, name, "epoch", "");
    int64_t n = 0, cap = 64;
    hs->x = tp_alloc((size_t)cap, sizeof *hs->x);
    for (int k = 0; k < 2 * nm; k++)
        hs->v[k] = tp_alloc((size_t)cap, sizeof *hs->v[k]);
    const unsigned char *rec;
    while ((rec = tp_next_or_die(r))) {
        if (n == cap) {
            if (cap >= 1 << 20)
                tp_die("%s: more than a million epochs: is this a training history?", name);
            cap *= 2;
            hs->x = tp_realloc(hs->x, (size_t)cap, sizeof *hs->x);
            for (int k = 0; k < 2 * nm; k++)
                hs->v[k] = tp_realloc(hs->v[k], (size_t)cap, sizeof *hs->v[k]);
        }
        hs->x[n] = ei >= 0 ? tp_elem_as_double(rec + hd->fields[ei].offset, hd->fields[ei].dtype, 0) : (double)(n + 1);
        for (int k = 0; k < nm; k++) {
            hs->v[2 * k][n] = tp_elem_as_double(rec + hd->fields[fi[k]].offset, hd->fields[fi[k]].dtype, 0);
            hs->v[2 * k + 1][n] =
                vi[k] >= 0 ? tp_elem_as_double(rec + hd->fields[vi[k]].offset, hd->fields[vi[k]].dtype, 0) : NAN;
        }
        n++;
    }
    if (n == 0)
        tp_die("%s: no records to draw", name);
    hs->n = n;
}

/* Training curves: one panel per metric, its training and validation values by epoch. */
static void curves(tp_reader *r, const options *o, tp_canvas *cv, int w, int h)
{
    history hs;
    read_history(r, o, &hs);
    int nm = o->nmetrics, n = (int)hs.n;
    int f = (int)o->font, top = o->title ? tp_text_height(f + 1) + 6 * f : 0;
    if (o->title)
        tp_draw_text(cv, (w - tp_text_width(o->title, f + 1)) / 2, 3 * f, o->title, f + 1, BLACK);
    for (int k = 0; k < nm; k++) {
        char title[TP_MAX_NAME + 16];
        const char *mt = metric_title(o->metric[k]);
        snprintf(title, sizeof title, "Model %s", mt);
        for (char *p = title + 6; *p; p++) /* "Model accuracy", as the notebooks title it */
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        tp_series s[2] = {
            {"Train", hs.x, hs.v[2 * k], n, {0}, TP_MARK_CIRCLE},
            {"Validation", hs.x, hs.v[2 * k + 1], n, {0}, TP_MARK_CROSS},
        };
        tp_palette(0, 10, s[0].rgb);
        tp_palette(1, 10, s[1].rgb);
        tp_axes a = {0};
        a.title = title;
        a.xlabel = "Epoch";
        a.ylabel = mt;
        a.xinteger = 1;
        a.font = f;
        tp_plot_lines(cv, &a, s, hs.has_val[k] ? 2 : 1, k * w / nm, top, w / nm, h - top);
    }
    free(hs.x);
    for (int k = 0; k < 2 * nm; k++)
        free(hs.v[k]);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The colour field (--color, else y, else cluster, else none): its index, -1 for none, and
 * its name into *color. */
static int colour_field(const options *o, const tp_header *hd, const char *name, const char **color)
{
    *color = o->color;
    if (!*color)
        *color = tp_header_find(hd, "y") >= 0 ? "y" : tp_header_find(hd, "cluster") >= 0 ? "cluster" : "none";
    if (strcmp(*color, "none") == 0)
        return -1;
    int ci = scalar_field(hd, name, *color, "the colour field");
    if (tp_dtype_is_float(hd->fields[ci].dtype))
        tp_die("%s: field '%s' is %s; colours need an integer field (a label or a cluster)", name, *color,
               tp_dtype_name(hd->fields[ci].dtype));
    return ci;
}

/* Every record's point (field f, as floats) into *p and colour value (field ci; 0 without
 * one) into *val; how many. */
static int64_t read_points(tp_reader *r, const tp_field *f, int ci, float **p, int64_t **val)
{
    const tp_header *hd = tp_reader_header(r);
    int dim = (int)f->nelem;
    int64_t n = 0, cap = 1024;
    *p = tp_alloc((size_t)cap * (size_t)dim, sizeof **p);
    *val = tp_alloc((size_t)cap, sizeof **val);
    const unsigned char *rec;
    while ((rec = tp_next_or_die(r))) {
        if (n == cap) {
            cap *= 2;
            *p = tp_realloc(*p, (size_t)cap * (size_t)dim, sizeof **p);
            *val = tp_realloc(*val, (size_t)cap, sizeof **val);
        }
        tp_to_float(rec + f->offset, f->dtype, (size_t)dim, 1, *p + n * dim);
        (*val)[n++] = ci >= 0 ? tp_label_of(&hd->fields[ci], rec) : 0;
    }
    if (n == 0)
        tp_die("%s: no records to draw", tp_reader_name(r));
    return n;
}

/* The classes of a scatter plot: the distinct colour values, in order, as legend entries,
 * and each point's entry. */
typedef struct {
    int64_t *uniq, nu;
    tp_legend_entry *legend;
    char (*labels)[64];
    int *cls;
} classes;

/* The classes of the n values val of colour field ci (named color; -1: none). A value's
 * colour is its own number when all lie in 0..19 (so a digit keeps its colour from plot to
 * plot), else its rank; -1, unknown, is grey and last in the legend. */
static void make_classes(const tp_header *hd, int ci, const char *color, const int64_t *val, int64_t n, classes *c)
{
    int64_t *uniq = tp_alloc((size_t)n, sizeof *uniq), nu = 0;
    memcpy(uniq, val, (size_t)n * sizeof *uniq);
    qsort(uniq, (size_t)n, sizeof *uniq, cmp_i64);
    for (int64_t i = 0; i < n; i++)
        if (i == 0 || uniq[i] != uniq[nu - 1])
            uniq[nu++] = uniq[i];
    int unk = uniq[0] == -1 && ci >= 0;
    int64_t lo = unk && nu > 1 ? uniq[1] : uniq[0], hi = uniq[nu - 1];
    int by_value = lo >= 0 && hi < 20, known = (int)(nu - unk);
    int pal_n = by_value ? (hi < 10 ? 10 : 20) : known;
    tp_legend_entry *legend = tp_calloc((size_t)nu, sizeof *legend);
    char (*labels)[64] = tp_calloc((size_t)nu, sizeof *labels);
    int use_names = strcmp(color, "cluster") != 0;
    for (int64_t k = 0; k < nu; k++) { /* entry k is value uniq[k + unk], the unknown at the end */
        int64_t u = uniq[(k + unk) % nu];
        if (ci < 0)
            labels[k][0] = 0;
        else if (u == -1)
            snprintf(labels[k], sizeof labels[k], "unknown");
        else if (use_names)
            tp_class_name(hd, u, labels[k], sizeof labels[k]);
        else
            snprintf(labels[k], sizeof labels[k], "%lld", (long long)u);
        legend[k].label = labels[k];
        legend[k].marker = TP_MARK_CIRCLE;
        if (u == -1 && unk)
            memcpy(legend[k].rgb, UNKNOWN, 3);
        else
            tp_palette(by_value ? (int)u : (int)k, pal_n, legend[k].rgb);
    }
    int *cls = tp_alloc((size_t)n, sizeof *cls);
    for (int64_t i = 0; i < n; i++) {
        int64_t *at = bsearch(&val[i], uniq, (size_t)nu, sizeof *uniq, cmp_i64);
        cls[i] = (int)((at - uniq + nu - unk) % nu);
    }
    *c = (classes){uniq, nu, legend, labels, cls};
}

/* A scatter plot of the embedding field, coloured by the colour field. */
static void scatter(tp_reader *r, const options *o, int xi, tp_canvas *cv, int w, int h)
{
    const tp_header *hd = tp_reader_header(r);
    const tp_field *f = &hd->fields[xi];
    const char *color;
    int ci = colour_field(o, hd, tp_reader_name(r), &color);
    float *p;
    int64_t *val, n = read_points(r, f, ci, &p, &val);
    classes c;
    make_classes(hd, ci, color, val, n, &c);
    /* dots small and translucent enough that 70 000 of them show their density */
    double area = (double)w * h * 0.5, per = sqrt(area / (double)n);
    double radius = o->radius > 0 ? o->radius : fmin(3.5, fmax(1.3, per / 4));
    double alpha = o->alpha > 0 ? o->alpha : fmin(1.0, fmax(0.35, per / 12));
    char l[3][TP_MAX_NAME + 16]; /* NAME[d] with room for any int */
    for (int d = 0; d < 3; d++)
        snprintf(l[d], sizeof l[d], "%s[%d]", f->name, d);
    tp_scatter s = {
        n, (int)f->nelem, p, c.cls, c.legend, ci >= 0 ? (int)c.nu : 0, radius, alpha, (uint64_t)o->seed, o->elev,
        o->azim, o->pairs, o->title, {l[0], l[1], l[2]}, (int)o->font,
    };
    tp_plot_scatter(cv, &s, 0, 0, w, h, NULL);
    free(c.cls);
    free(c.labels);
    free(c.legend);
    free(c.uniq);
    free(val);
    free(p);
}

/* The kind to draw (auto: curves when the stream has a 'loss' field); for a scatter plot
 * the embedding field, checked, into *xi. */
static int kind_of(const options *o, const tp_header *h, const char *name, int *xi)
{
    int kind = o->kind == KIND_AUTO ? (tp_header_find(h, "loss") >= 0 ? KIND_CURVES : KIND_SCATTER) : o->kind;
    *xi = tp_header_find(h, o->field);
    if (kind == KIND_CURVES)
        return kind;
    if (*xi < 0)
        tp_die("%s: no field '%s' to scatter (and no 'loss' for curves)", name, o->field);
    const tp_field *f = &h->fields[*xi];
    if ((f->nelem != 2 && f->nelem != 3) || f->rank != 1) {
        char shape[64] = "";
        for (int d = 0; d < f->rank; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? "," : "", (long long)f->shape[d]);
        tp_die("%s: field '%s' is %s[%s], not a 2-D or 3-D embedding ([2] or [3])", name, o->field,
               tp_dtype_name(f->dtype), shape);
    }
    if (o->pairs && f->nelem != 3)
        tp_usage("--pairs needs a 3-D embedding; '%s' has 2 numbers", o->field);
    return kind;
}

static int run(const options *o)
{
    tp_reader *r = tp_open_or_die(o->in);
    int xi, kind = kind_of(o, tp_reader_header(r), tp_reader_name(r), &xi);
    int w = (int)o->width, ht = (int)o->height;
    if (!o->size) {
        w = kind == KIND_CURVES ? 1200 : o->pairs ? 1500 : 1000;
        ht = kind == KIND_CURVES ? 500 : o->pairs ? 520 : 800;
    }
    tp_canvas cv;
    tp_canvas_init(&cv, w, ht, WHITE);
    if (kind == KIND_CURVES)
        curves(r, o, &cv, w, ht);
    else
        scatter(r, o, xi, &cv, w, ht);
    tp_canvas_save(&cv, o->out);
    tp_canvas_free(&cv);
    tp_reader_close(r);
    free(o->metric_list);
    return 0;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    options o;
    parse(argc, argv, &o);
    return run(&o);
}
