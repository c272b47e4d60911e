/* idx2raw — IDX files (MNIST's format, plain or .gz) to a tpipe stream. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dtype.h"
#include "idx.h"
#include "progress.h"
#include "stream.h"
#include "util.h"

#define CHUNK_BYTES (1u << 20)

typedef struct {
    const char *out, *field, *classes, *images, *labels; /* labels: NULL without a labels file */
    int64_t limit, offset;
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.out = "-", .field = "x", .limit = -1};
    const tp_option opts[] = {
        TP_STRING("output", 'o', &o->out, "FILE", "write the stream to FILE"),
        TP_INT("offset", 0, &o->offset, "N", "skip the first N items", TP_MIN(0)),
        TP_INT("limit", 'n', &o->limit, "N", "convert at most N items (-1: all)", TP_MIN(-1)),
        TP_STRING("field", 'f', &o->field, "NAME", "name of the image field"),
        TP_STRING("classes", 0, &o->classes, "LIST", "comma-separated class names, stored in the metadata"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] IMAGES [LABELS]",
        "Converts an IDX images file, and optionally its labels file, into one tpipe stream\n"
        "with fields x (the items; 2-D items become HWC with one channel) and y (i32 labels).\n"
        "Reads plain and gzip-compressed files and every IDX data type.",
        opts,
        "Example:\n  idx2raw data/mnist/train-images-idx3-ubyte data/mnist/train-labels-idx1-ubyte | tinfo",
        1, 2,
    };
    char **args;
    int nargs = tp_cli_parse(&cli, argc, argv, &args);
    o->images = args[0];
    o->labels = nargs > 1 ? args[1] : NULL;
    free(args);
}

static void open_idx(tp_idx *x, const char *path)
{
    if (tp_idx_open(x, path))
        tp_die("%s: %s", path, x->err);
}

/* "a,b,c" to "a\nb\nc" (the multi-line form of the classes metadata). */
static char *class_lines(const char *list)
{
    char *s = tp_strdup(list);
    for (char *p = s; *p; p++)
        if (*p == ',')
            *p = '\n';
    return s;
}

/* The output's header for n items of im (and labels when o names a labels file). */
static void make_header(const options *o, const tp_idx *im, int64_t n, tp_header *h)
{
    tp_header_init(h);
    int64_t shape[TP_MAX_RANK];
    int rank = im->rank;
    memcpy(shape, im->shape, sizeof shape);
    if (rank == 2)
        shape[rank++] = 1; /* H W -> H W C */
    tp_header_add(h, o->field, im->dtype, rank, shape);
    if (o->labels)
        tp_header_add(h, "y", TP_I32, 0, NULL);
    char src[600];
    snprintf(src, sizeof src, "%s%s%s", tp_basename(o->images), o->labels ? "\n" : "",
             o->labels ? tp_basename(o->labels) : "");
    tp_header_set_meta(h, "source", src);
    if (o->classes) {
        char *c = class_lines(o->classes);
        tp_header_set_meta(h, "classes", c);
        free(c);
    }
    h->count = n;
}

/* n items and their labels (lb NULL: none) from their files to --output, laid out by h. */
static void convert(const options *o, tp_idx *im, tp_idx *lb, int64_t n, const tp_header *h)
{
    size_t xs = im->item_bytes, rs = h->record_size;
    int64_t per = xs >= CHUNK_BYTES ? 1 : (int64_t)(CHUNK_BYTES / xs);
    unsigned char *xbuf = tp_alloc((size_t)per, xs);
    unsigned char *lbuf = tp_alloc((size_t)per, 4);
    unsigned char *recs = lb ? tp_alloc((size_t)per, rs) : NULL;
    tp_writer *w = tp_writer_open(o->out, h);
    tp_progress pr;
    tp_progress_start(&pr, "idx2raw", n, "items");
    for (int64_t done = 0; done < n;) {
        int64_t k = n - done < per ? n - done : per;
        if (tp_idx_read(im, xbuf, k))
            tp_die("%s: %s", o->images, im->err);
        if (lb) {
            if (tp_idx_read(lb, lbuf, k))
                tp_die("%s: %s", o->labels, lb->err);
            for (int64_t i = 0; i < k; i++) { /* labels of any integer type, widened to i32 */
                int32_t y = (int32_t)tp_elem_at(lbuf, lb->dtype, i);
                memcpy(recs + (size_t)i * rs, xbuf + (size_t)i * xs, xs);
                memcpy(recs + (size_t)i * rs + xs, &y, 4);
            }
            tp_writer_write(w, recs, k);
        } else {
            tp_writer_write(w, xbuf, k);
        }
        done += k;
        tp_progress_update(&pr, done);
    }
    /* Read to the end only when converting everything: a --limit run need not. */
    if (o->offset + n == im->count && tp_idx_check_end(im))
        tp_die("%s: %s", o->images, im->err);
    if (lb && o->offset + n == lb->count && tp_idx_check_end(lb))
        tp_die("%s: %s", o->labels, lb->err);
    tp_writer_close(w);
    tp_progress_end(&pr, n);
    free(xbuf);
    free(lbuf);
    free(recs);
}

static int run(const options *o)
{
    tp_idx im, lb;
    open_idx(&im, o->images);
    if (o->labels) {
        open_idx(&lb, o->labels);
        if (lb.rank != 0 || tp_dtype_is_float(lb.dtype))
            tp_die("%s: labels must be a 1-D integer IDX file", o->labels);
        if (lb.count != im.count)
            tp_die("%s: %lld labels for %lld images in %s", o->labels, (long long)lb.count, (long long)im.count,
                   o->images);
    }
    if (o->offset > im.count)
        tp_die("%s: --offset %lld is past the %lld items", o->images, (long long)o->offset, (long long)im.count);
    int64_t n = im.count - o->offset;
    if (o->limit >= 0 && o->limit < n)
        n = o->limit;
    tp_header h;
    make_header(o, &im, n, &h);
    if (tp_idx_skip(&im, o->offset))
        tp_die("%s: %s", o->images, im.err);
    if (o->labels && tp_idx_skip(&lb, o->offset))
        tp_die("%s: %s", o->labels, lb.err);
    convert(o, &im, o->labels ? &lb : NULL, n, &h);
    tp_idx_close(&im);
    if (o->labels)
        tp_idx_close(&lb);
    tp_header_free(&h);
    return 0;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    options o;
    parse(argc, argv, &o);
    return run(&o);
}
