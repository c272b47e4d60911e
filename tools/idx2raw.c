/* idx2raw — IDX files (MNIST's format, plain or .gz) to a tpipe stream. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "idx.h"
#include "progress.h"
#include "stream.h"
#include "util.h"

#define CHUNK_BYTES (1u << 20)

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

/* Widens n labels of dtype d at src into i32 at dst. */
static void labels_to_i32(const void *src, tp_dtype d, int64_t n, int32_t *dst)
{
    for (int64_t i = 0; i < n; i++) {
        switch (d) {
        case TP_U8: dst[i] = ((const uint8_t *)src)[i]; break;
        case TP_I8: dst[i] = ((const int8_t *)src)[i]; break;
        case TP_I16: dst[i] = ((const int16_t *)src)[i]; break;
        default: dst[i] = ((const int32_t *)src)[i]; break;
        }
    }
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    const char *out = "-", *field = "x", *classes = NULL;
    int64_t limit = -1, offset = 0;
    const tp_option opts[] = {
        TP_STRING("output", 'o', &out, "FILE", "write the stream to FILE"),
        TP_INT("offset", 0, &offset, "N", "skip the first N items"),
        TP_INT("limit", 'n', &limit, "N", "convert at most N items (-1: all)"),
        TP_STRING("field", 'f', &field, "NAME", "name of the image field"),
        TP_STRING("classes", 0, &classes, "LIST", "comma-separated class names, stored in the metadata"),
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
    if (offset < 0)
        tp_usage("--offset must be >= 0");
    if (limit < -1)
        tp_usage("--limit must be >= 0 (or -1 for all)");
    const char *ipath = args[0], *lpath = nargs > 1 ? args[1] : NULL;

    tp_idx im, lb;
    open_idx(&im, ipath);
    if (lpath) {
        open_idx(&lb, lpath);
        if (lb.rank != 0 || tp_dtype_is_float(lb.dtype))
            tp_die("%s: labels must be a 1-D integer IDX file", lpath);
        if (lb.count != im.count)
            tp_die("%s: %lld labels for %lld images in %s", lpath, (long long)lb.count, (long long)im.count, ipath);
    }
    if (offset > im.count)
        tp_die("%s: --offset %lld is past the %lld items", ipath, (long long)offset, (long long)im.count);
    int64_t n = im.count - offset;
    if (limit >= 0 && limit < n)
        n = limit;

    tp_header h;
    tp_header_init(&h);
    int64_t shape[TP_MAX_RANK];
    int rank = im.rank;
    memcpy(shape, im.shape, sizeof shape);
    if (rank == 2)
        shape[rank++] = 1; /* H W -> H W C */
    tp_header_add(&h, field, im.dtype, rank, shape);
    if (lpath)
        tp_header_add(&h, "y", TP_I32, 0, NULL);
    char src[600];
    snprintf(src, sizeof src, "%s%s%s", tp_basename(ipath), lpath ? "\n" : "", lpath ? tp_basename(lpath) : "");
    tp_header_set_meta(&h, "source", src);
    if (classes) {
        char *c = class_lines(classes);
        tp_header_set_meta(&h, "classes", c);
        free(c);
    }
    h.count = n;

    if (tp_idx_skip(&im, offset))
        tp_die("%s: %s", ipath, im.err);
    if (lpath && tp_idx_skip(&lb, offset))
        tp_die("%s: %s", lpath, lb.err);

    size_t xs = im.item_bytes, rs = h.record_size;
    int64_t per = xs >= CHUNK_BYTES ? 1 : (int64_t)(CHUNK_BYTES / xs);
    unsigned char *xbuf = tp_alloc((size_t)per, xs);
    unsigned char *lbuf = tp_alloc((size_t)per, 4);
    int32_t *ybuf = tp_alloc((size_t)per, sizeof(int32_t));
    unsigned char *recs = lpath ? tp_alloc((size_t)per, rs) : NULL;

    tp_writer *w = tp_writer_open(out, &h);
    tp_progress pr;
    tp_progress_start(&pr, "idx2raw", n, "items");
    for (int64_t done = 0; done < n;) {
        int64_t k = n - done < per ? n - done : per;
        if (tp_idx_read(&im, xbuf, k))
            tp_die("%s: %s", ipath, im.err);
        if (lpath) {
            if (tp_idx_read(&lb, lbuf, k))
                tp_die("%s: %s", lpath, lb.err);
            labels_to_i32(lbuf, lb.dtype, k, ybuf);
            for (int64_t i = 0; i < k; i++) {
                memcpy(recs + (size_t)i * rs, xbuf + (size_t)i * xs, xs);
                memcpy(recs + (size_t)i * rs + xs, &ybuf[i], 4);
            }
            tp_writer_write(w, recs, k);
        } else {
            tp_writer_write(w, xbuf, k);
        }
        done += k;
        tp_progress_update(&pr, done);
    }
    /* Read to the end only when converting everything: a --limit run need not. */
    if (offset + n == im.count && tp_idx_check_end(&im))
        tp_die("%s: %s", ipath, im.err);
    if (lpath && offset + n == lb.count && tp_idx_check_end(&lb))
        tp_die("%s: %s", lpath, lb.err);
    tp_writer_close(w);
    tp_progress_end(&pr, n);
    tp_idx_close(&im);
    if (lpath)
        tp_idx_close(&lb);
    tp_header_free(&h);
    free(xbuf);
    free(lbuf);
    free(ybuf);
    free(recs);
    free(args);
    return 0;
}
