/* confmat — the confusion matrix, accuracy and per-class report of a prediction or a
 * clustering against the true labels; optionally a heatmap PNG and the mapped labels. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "confusion.h"
#include "draw.h"
#include "heatmap.h"
#include "outfile.h"
#include "pass.h"
#include "records.h"
#include "stream.h"
#include "util.h"

typedef struct {
    const char *in, *truth, *field, *png, *title, *out, *mapped_name;
    int map;  /* a tp_map_how; -1 until parse gives it the field's default */
    int norm; /* a tp_norm_over */
    int json;
    int64_t digits;
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.truth = "y", .field = "pred", .title = "Confusion matrix", .map = -1, .digits = 4};
    tp_option opts[] = {
        TP_STRING("truth", 't', &o->truth, "NAME", "the field of true labels (any integer dtype)"),
        TP_STRING("field", 'f', &o->field, "NAME", "the field of predicted labels or clusters (any integer dtype)"),
        TP_CHOICE("map", 'm', &o->map, "HOW",
                  "none, majority or hungarian: how predicted values become labels (default: majority for a field named "
                  "cluster, else none)",
                  TP_MAP_NAMES),
        TP_CHOICE("normalize", 'n', &o->norm, "OVER",
                  "none, true (each row sums to 1), pred (each column) or all: the matrix printed and drawn", TP_NORM_NAMES),
        TP_FLAG("json", 'j', &o->json, "print one JSON object instead of the text report"),
        TP_INT("digits", 'd', &o->digits, "N", "digits after the point in the text report", TP_RANGE(0, 12)),
        TP_STRING("png", 'p', &o->png, "FILE", "draw the matrix as an annotated heatmap PNG into FILE"),
        TP_STRING("title", 0, &o->title, "TEXT", "the picture's title"),
        TP_STRING("output", 'o', &o->out, "FILE", "write the input stream to FILE with the mapped labels added as an i32 field"),
        TP_STRING("mapped-name", 0, &o->mapped_name, "NAME", "that field's name (default: pred when the input has no pred field, else mapped)"),
        {0},
    };
    tp_cli cli = {
        "[OPTIONS] [FILE]",
        "Compares a stream's predicted labels (--field, pred by default) with its true labels\n"
        "(--truth, y by default) and prints the confusion matrix (rows true, columns predicted,\n"
        "named from the classes metadata where it has a line for the label), the accuracy, and\n"
        "a report as scikit-learn's classification_report gives it: precision, recall, F1 and\n"
        "support of each class, and their macro (plain) and weighted (by support) averages.\n"
        "The labels are the sorted union of the values found in both fields. A ratio whose\n"
        "denominator is 0 (a class never predicted, or absent from the truth) counts as 0, as\n"
        "scikit-learn's zero_division=0. Records whose true label is -1 (unknown) are left out\n"
        "of every figure.\n"
        "\n"
        "For a clustering (--field cluster, from gmm) the cluster numbers are first turned into\n"
        "labels: --map majority gives each cluster the commonest true label among its members\n"
        "(ties: the smallest label; several clusters may get the same label), --map hungarian\n"
        "the one-to-one matching of clusters and labels that agrees on the most records\n"
        "(clusters left over when there are more clusters than labels get -1, so their members\n"
        "count as wrong and -1 shows in the matrix as a label of its own). The report shows the\n"
        "mapping with each cluster's size, the accuracy under the other mapping too, and the\n"
        "matrix and scores of the mapped labels. Each field may hold up to 1000 distinct values.\n"
        "\n"
        "--png draws the matrix (normalised as --normalize says) as seaborn's heatmap with\n"
        "annot=True and cmap='Blues' does. -o writes the stream through with the mapped labels\n"
        "added, for montage to show the wrong ones; when -o or --png is '-' (stdout) the report\n"
        "goes to stderr. Memory holds the label counts only (and 8 bytes a record with -o).\n"
        "\n"
        "--json prints one object: input, truth, prediction, records, unlabelled, labels,\n"
        "names, matrix (counts), normalize (and normalized, the matrix drawn), correct,\n"
        "accuracy, classes (label, name, scores: precision, recall, f1-score, support), macro\n"
        "avg, weighted avg, and mapping: null, or method, accuracy under each mapping and\n"
        "clusters (cluster, label, size, agree: members whose true label is the mapped one).",
        opts,
        "Examples:\n"
        "  predict model.tp < test.tp | confmat --png confusion.png\n"
        "  tsne < small.tp | gmm -k 10 | confmat --field cluster --map hungarian --json\n"
        "  gmm -k 10 < emb.tp | confmat -f cluster -o - | montage -n 40 -o errors.png",
        0, 1,
    };
    char **args;
    int na = tp_cli_parse(&cli, argc, argv, &args);
    o->in = na ? args[0] : "-";
    free(args);
    if (o->png && strcmp(o->png, "-") == 0 && o->out && strcmp(o->out, "-") == 0)
        tp_usage("--png and -o cannot both write to stdout");
    if (o->png && o->out && tp_same_output(o->png, o->out))
        tp_usage("--png and -o name the same file");
    if (o->map < 0)
        o->map = strcmp(o->field, "cluster") == 0 ? TP_MAP_MAJORITY : TP_MAP_NONE;
}

/* The field called name, which must hold one integer label per record. */
static const tp_field *label_field(const tp_header *h, const char *input, const char *name)
{
    int i = tp_header_find(h, name);
    if (i < 0)
        tp_die("%s: no field '%s'", input, name);
    const tp_field *f = &h->fields[i];
    if (tp_header_find_int(h, name) < 0)
        tp_die("%s: field '%s' is %s with %zu elements, not one integer label per record", input, name,
               tp_dtype_name(f->dtype), f->nelem);
    return f;
}

/* The name of the field -o adds, checked before the work. */
static const char *mapped_name(const options *o, const tp_header *h, const char *input)
{
    const char *m = o->mapped_name ? o->mapped_name : tp_header_find(h, "pred") < 0 ? "pred" : "mapped";
    if (tp_header_find(h, m) >= 0)
        tp_die("%s: the input has a field '%s' already; name the mapped labels with --mapped-name", input, m);
    return m;
}

/* The pass over the records: each pair into the tally. */
typedef struct {
    tp_tally *t;
    const char *name;
} scan_ctx;

static void add(void *ctx, int64_t i, const void *rec)
{
    (void)i;
    const scan_ctx *s = ctx;
    const tp_field *full = tp_tally_record(s->t, rec);
    if (full)
        tp_die("%s: field '%s' holds more than %d distinct values", s->name, full->name, TP_MAX_LABELS);
}

/* The text or JSON report, to stderr when stdout carries the picture or the stream. */
static void report(const options *o, const tp_confusion *c, const char *input)
{
    int busy = (o->png && strcmp(o->png, "-") == 0) || (o->out && strcmp(o->out, "-") == 0);
    FILE *f = busy ? stderr : stdout;
    if (o->json)
        tp_confusion_json(f, c, input, o->truth, o->field);
    else
        tp_confusion_text(f, c, o->truth, o->field, (int)o->digits);
    if (fflush(f) || ferror(f)) {
        if (errno == EPIPE)
            tp_exit_pipe();
        tp_die("%s: write error: %s", f == stdout ? "stdout" : "stderr", strerror(errno));
    }
}

/* The matrix (normalised as --normalize says) as an annotated heatmap into --png. */
static void draw(const options *o, const tp_confusion *c)
{
    int k = c->k;
    double *v = tp_alloc((size_t)k * (size_t)k + 1, sizeof *v);
    if (c->normed)
        memcpy(v, c->normed, (size_t)k * (size_t)k * sizeof *v);
    else
        tp_confusion_normalise(c->m, k, TP_NORM_NONE, v);
    const char *const *names = (const char *const *)c->names;
    tp_heatmap hm = {k, k, v, names, names, *o->title ? o->title : NULL, "Predicted", "True", c->normed ? 2 : 0};
    tp_canvas cv;
    tp_heatmap_draw(&hm, &cv);
    tp_canvas_save(&cv, o->png);
    tp_canvas_free(&cv);
    free(v);
}

typedef struct {
    const tp_confusion *c;
    const tp_field *pred;
    size_t in_size, out_size, at; /* record sizes; the added field's offset */
} mapped_ctx;

/* Each record's mapped label as an i32 (-1 where it does not fit). */
static void fill(void *ctx, int64_t first, int64_t n, const unsigned char *src, unsigned char *dst)
{
    (void)first;
    const mapped_ctx *m = ctx;
    for (int64_t i = 0; i < n; i++) {
        int64_t v = tp_confusion_mapped(m->c, tp_label_of(m->pred, src + (size_t)i * m->in_size));
        int32_t v32 = v < INT32_MIN || v > INT32_MAX ? -1 : (int32_t)v;
        memcpy(dst + (size_t)i * m->out_size + m->at, &v32, sizeof v32);
    }
}

/* The stream again into -o, with the mapped label added to each record as field name. */
static void write_mapped(const options *o, tp_records *rs, const tp_confusion *c, const tp_field *pred,
                         const char *name)
{
    const tp_header *h = tp_records_header(rs);
    tp_header oh;
    tp_header_copy(&oh, h);
    int fi = tp_header_add(&oh, name, TP_I32, 0, NULL);
    mapped_ctx m = {c, pred, h->record_size, oh.record_size, oh.fields[fi].offset};
    tp_pass_records(rs, &oh, o->out, fill, &m);
    tp_header_free(&oh);
}

static int run(const options *o)
{
    /* one pass over the records, keeping only the pair counts (and with -o the records' places) */
    tp_records *rs = o->out ? tp_records_open(o->in) : NULL;
    tp_reader *rd = o->out ? NULL : tp_open_or_die(o->in);
    const tp_header *h = rs ? tp_records_header(rs) : tp_reader_header(rd);
    const char *name = rs ? tp_records_name(rs) : tp_reader_name(rd);
    const tp_field *tf = label_field(h, name, o->truth), *pf = label_field(h, name, o->field);
    const char *mname = o->out ? mapped_name(o, h, name) : NULL;
    tp_tally *t = tp_tally_new(tf, pf);
    scan_ctx sc = {t, name};
    if (rs) {
        tp_records_scan(rs, add, &sc);
    } else {
        const void *rec;
        while ((rec = tp_next_or_die(rd)))
            add(&sc, 0, rec);
    }
    if (t->records == 0)
        tp_die("%s: no records", name);
    if (t->truth.n == 0)
        tp_die("%s: no record has a true label (every '%s' is -1)", name, o->truth);

    tp_confusion c;
    tp_confusion_of(&c, t, (tp_map_how)o->map, (tp_norm_over)o->norm, h);
    report(o, &c, name);
    if (o->png)
        draw(o, &c);
    if (rs)
        write_mapped(o, rs, &c, pf, mname);
    tp_confusion_free(&c);
    tp_tally_free(t);
    if (rs)
        tp_records_close(rs);
    tp_reader_close(rd);
    return 0;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    options o;
    parse(argc, argv, &o);
    return run(&o);
}
