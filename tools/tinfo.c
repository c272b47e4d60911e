/* tinfo — what a tpipe stream holds: header, record count, per-field statistics, labels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "net.h"
#include "progress.h"
#include "stats.h"
#include "stream.h"
#include "util.h"

typedef struct {
    const char *label, *in;
    int header_only;
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){0};
    const tp_option opts[] = {
        TP_FLAG("header", 'H', &o->header_only, "print the header only; do not read the records"),
        TP_STRING("label", 'l', &o->label, "NAME", "field to count as labels (default: y, when present)"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] [FILE]",
        "Prints what a tpipe stream holds: its fields with dtype and shape, the record count,\n"
        "per-field min/max/mean over all elements, the metadata, and a label histogram.\n"
        "Reads FILE, or stdin when FILE is absent or '-'. The report goes to stdout.",
        opts,
        "Example:\n  idx2raw data/mnist/t10k-images-idx3-ubyte data/mnist/t10k-labels-idx1-ubyte | tinfo",
        0, 1,
    };
    o->in = tp_cli_parse_input(&cli, argc, argv);
}

/* "u8[28,28,1]" into buf. */
static void format_type(const tp_field *f, char *buf, size_t n)
{
    int k = snprintf(buf, n, "%s", tp_dtype_name(f->dtype));
    if (f->rank) {
        for (int i = 0; i < f->rank && (size_t)k < n; i++)
            k += snprintf(buf + k, n - (size_t)k, "%c%lld", i ? ',' : '[', (long long)f->shape[i]);
        if ((size_t)k < n)
            snprintf(buf + k, n - (size_t)k, "]");
    }
}

static void format_bytes(double b, char *buf)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(buf, 32, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

/* Prints metadata on one line each: a multi-line value joined with " | ", long ones cut. */
static void print_meta(const tp_header *h)
{
    for (int i = 0; i < h->nmeta; i++) {
        char line[84];
        size_t n = 0;
        int lines = 1;
        for (const char *p = h->meta[i].value; *p; p++) {
            lines += *p == '\n';
            const char *piece = *p == '\n' ? " | " : p;
            size_t k = *p == '\n' ? 3 : 1;
            if (n + k < 72) {
                memcpy(line + n, piece, k);
                n += k;
            } else if (n < 72) {
                n += (size_t)snprintf(line + n, sizeof line - n, " ...");
            }
        }
        line[n] = 0;
        printf("meta %-12s %s", h->meta[i].key, line);
        if (n >= 72 && lines > 1)
            printf(" (%d lines)", lines);
        printf("\n");
    }
}

/* The label field: --label, else "y" when it is a single integer. -1 if none. */
static int label_field(const tp_header *h, const char *name, const char *path)
{
    if (!name)
        return tp_header_find_int(h, "y");
    int i = tp_field_or_die(h, path, name);
    if (tp_header_find_int(h, name) < 0)
        tp_die("%s: field '%s' is not a single integer per record", path, name);
    return i;
}

static void print_histogram(const tp_header *h, const tp_field *f, const tp_hist *hist, int64_t total)
{
    int nclass = 0;
    for (int64_t i = 0; i < hist->slots; i++)
        nclass += hist->counts[i] > 0;
    printf("labels %s: %d distinct\n", f->name, nclass);
    for (int64_t i = 0; i < hist->slots; i++) {
        if (!hist->counts[i])
            continue;
        int64_t v = i - 1;
        printf("  %6lld %9lld %6.2f%%", (long long)v, (long long)hist->counts[i],
               100.0 * (double)hist->counts[i] / (double)(total ? total : 1));
        char name[128];
        if (v >= 0 && tp_meta_line(h, "classes", v, name, sizeof name) == 0)
            printf("  %s", name);
        printf("\n");
    }
    if (hist->other)
        printf("  %6s %9lld (outside -1..%d)\n", "other", (long long)hist->other, TP_HIST_MAX - 1);
}

/* Every record of r: each field's statistics into st, the labels of field li (-1: none)
 * into hist; the record count. */
static int64_t read_records(tp_reader *r, int li, tp_stats *st, tp_hist *hist)
{
    const tp_header *h = tp_reader_header(r);
    int64_t n = 0;
    tp_progress pr;
    tp_progress_start(&pr, "tinfo", h->count, "records");
    const unsigned char *rec;
    while ((rec = tp_next_or_die(r))) {
        for (int i = 0; i < h->nfields; i++)
            tp_stats_add(&st[i], rec + h->fields[i].offset, h->fields[i].dtype, h->fields[i].nelem);
        if (li >= 0)
            tp_hist_add(hist, tp_label_of(&h->fields[li], rec));
        if ((++n & 1023) == 0)
            tp_progress_update(&pr, n);
    }
    tp_progress_end(&pr, n);
    return n;
}

/* The first line: the record count (the header's with --header), the record size, the bytes. */
static void print_count(const options *o, tp_reader *r, int64_t n)
{
    const tp_header *h = tp_reader_header(r);
    const char *name = tp_reader_name(r);
    char size[32];
    if (o->header_only) {
        if (h->count >= 0)
            printf("%s: %lld records (header), %zu bytes each\n", name, (long long)h->count, h->record_size);
        else
            printf("%s: record count unknown (header), %zu bytes each\n", name, h->record_size);
        return;
    }
    format_bytes((double)n * (double)h->record_size, size);
    printf("%s: %lld records, %zu bytes each (%s)", name, (long long)n, h->record_size, size);
    if (tp_reader_segments(r) > 1)
        printf(", %d concatenated streams", tp_reader_segments(r));
    printf("\n");
}

/* A line per field: name, type and, from the records, min/max/mean and non-finite counts. */
static void print_fields(const options *o, const tp_header *h, const tp_stats *st)
{
    int wname = 4, wtype = 4;
    char type[128];
    for (int i = 0; i < h->nfields; i++) {
        format_type(&h->fields[i], type, sizeof type);
        int a = (int)strlen(h->fields[i].name), b = (int)strlen(type);
        wname = a > wname ? a : wname;
        wtype = b > wtype ? b : wtype;
    }
    for (int i = 0; i < h->nfields; i++) {
        const tp_field *f = &h->fields[i];
        format_type(f, type, sizeof type);
        printf("field %-*s %-*s", wname, f->name, wtype, type);
        if (!o->header_only && st[i].n)
            printf("  min %-10.6g max %-10.6g mean %.6g", st[i].min, st[i].max, tp_stats_mean(&st[i]));
        if (st[i].nan || st[i].inf)
            printf("  nan %llu inf %llu", (unsigned long long)st[i].nan, (unsigned long long)st[i].inf);
        printf("\n");
    }
}

/* A model's layer table, as model.summary() prints it. */
static void print_model(const tp_header *h)
{
    tp_net net;
    memset(&net, 0, sizeof net);
    char err[512];
    int ih, iw, ic;
    const char *in = tp_header_get_meta(h, "input"), *text = tp_header_get_meta(h, "net");
    if (!in || !text || sscanf(in, "%d %d %d", &ih, &iw, &ic) != 3 ||
        tp_net_parse(&net, text, "net", err, sizeof err) || tp_net_build(&net, ih, iw, ic, "net", err, sizeof err))
        printf("model: its network cannot be read\n");
    else {
        printf("model:\n");
        tp_net_summary(&net, stdout);
    }
    tp_net_free(&net);
}

static int run(const options *o)
{
    tp_reader *r = tp_open_or_die(o->in);
    const tp_header *h = tp_reader_header(r);
    int li = label_field(h, o->label, tp_reader_name(r));
    tp_stats *st = tp_alloc((size_t)h->nfields, sizeof *st);
    for (int i = 0; i < h->nfields; i++)
        tp_stats_init(&st[i]);
    tp_hist hist;
    tp_hist_init(&hist);
    int64_t n = o->header_only ? 0 : read_records(r, li, st, &hist);
    print_count(o, r, n);
    print_fields(o, h, st);
    print_meta(h);
    const char *kind = tp_header_get_meta(h, "kind");
    if (kind && strcmp(kind, "model") == 0)
        print_model(h);
    if (li >= 0 && !o->header_only)
        print_histogram(h, &h->fields[li], &hist, n);
    if (fflush(stdout))
        tp_die("stdout: write error");
    tp_hist_free(&hist);
    free(st);
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
