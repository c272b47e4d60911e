/* confmat — the confusion matrix, accuracy and per-class report of a prediction or a
 * clustering against the true labels; optionally a heatmap PNG and the mapped labels. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "confusion.h"
#include "draw.h"
#include "heatmap.h"
#include "records.h"
#include "stream.h"
#include "util.h"

#define CHUNK 4096 /* records per write with -o */

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

/* ---- main ---- */

static int one_of(const char *s, const char *const *choices)
{
    for (; *choices; choices++)
        if (strcmp(s, *choices) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    const char *truth = "y", *field = "pred", *how = NULL, *norm = "none", *png = NULL, *title = "Confusion matrix";
    const char *out = NULL, *mapped_name = NULL;
    int64_t digits = 4;
    int json = 0;
    const tp_option opts[] = {
        TP_STRING("truth", 't', &truth, "NAME", "the field of true labels (any integer dtype)"),
        TP_STRING("field", 'f', &field, "NAME", "the field of predicted labels or clusters (any integer dtype)"),
        TP_STRING("map", 'm', &how, "HOW", "none, majority or hungarian: how predicted values become labels (default: majority for a field named "
         "cluster, else none)"),
        TP_STRING("normalize", 'n', &norm, "OVER", "none, true (each row sums to 1), pred (each column) or all: the matrix printed and drawn"),
        TP_FLAG("json", 'j', &json, "print one JSON object instead of the text report"),
        TP_INT("digits", 'd', &digits, "N", "digits after the point in the text report"),
        TP_STRING("png", 'p', &png, "FILE", "draw the matrix as an annotated heatmap PNG into FILE"),
        TP_STRING("title", 0, &title, "TEXT", "the picture's title"),
        TP_STRING("output", 'o', &out, "FILE", "write the input stream to FILE with the mapped labels added as an i32 field"),
        TP_STRING("mapped-name", 0, &mapped_name, "NAME", "that field's name (default: pred when the input has no pred field, else mapped)"),
        {0},
    };
    const tp_cli cli = {
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
    int nargs = tp_cli_parse(&cli, argc, argv, &args);
    static const char *const maps[] = {TP_MAP_NAMES, NULL}, *const norms[] = {TP_NORM_NAMES, NULL};
    if (how && !one_of(how, maps))
        tp_usage("--map wants none, majority or hungarian, not '%s'", how);
    if (!one_of(norm, norms))
        tp_usage("--normalize wants none, true, pred or all, not '%s'", norm);
    if (digits < 0 || digits > 12)
        tp_usage("--digits must be 0 to 12");
    int png_out = png && strcmp(png, "-") == 0, stream_out = out && strcmp(out, "-") == 0;
    if (png_out && stream_out)
        tp_usage("--png and -o cannot both write to stdout");
    if (!how)
        how = strcmp(field, "cluster") == 0 ? "majority" : "none";

    /* one pass over the records: only the pair counts are kept */
    const char *path = nargs ? args[0] : "-";
    tp_records *rs = NULL;
    tp_reader *rd = NULL;
    const tp_header *h;
    const char *name;
    if (out) {
        rs = tp_records_open(path);
        h = tp_records_header(rs);
        name = tp_records_name(rs);
    } else {
        rd = tp_open_or_die(path);
        h = tp_reader_header(rd);
        name = tp_reader_name(rd);
    }
    const char *fields[2] = {truth, field};
    int fi[2];
    for (int i = 0; i < 2; i++) {
        fi[i] = tp_header_find(h, fields[i]);
        if (fi[i] < 0)
            tp_die("%s: no field '%s'", name, fields[i]);
        const tp_field *f = &h->fields[fi[i]];
        if (tp_header_find_int(h, fields[i]) < 0)
            tp_die("%s: field '%s' is %s with %zu elements, not one integer label per record", name, fields[i],
                   tp_dtype_name(f->dtype), f->nelem);
    }
    char *mname = NULL;
    if (out) { /* the added field's name, checked before the work */
        const char *m = mapped_name ? mapped_name : tp_header_find(h, "pred") < 0 ? "pred" : "mapped";
        if (tp_header_find(h, m) >= 0)
            tp_die("%s: the input has a field '%s' already; name the mapped labels with --mapped-name", name, m);
        mname = tp_strdup(m);
    }
    tp_tally *t = tp_tally_new(&h->fields[fi[0]], &h->fields[fi[1]]);
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
        tp_die("%s: no record has a true label (every '%s' is -1)", name, truth);
    tp_confusion c;
    tp_confusion_of(&c, t, (tp_map_how)tp_choice_index(maps, how), (tp_norm_over)tp_choice_index(norms, norm), h);
    int k = c.k;

    FILE *rf = png_out || stream_out ? stderr : stdout;
    if (json)
        tp_confusion_json(rf, &c, name, truth, field);
    else
        tp_confusion_text(rf, &c, truth, field, (int)digits);
    if (fflush(rf) || ferror(rf)) {
        if (errno == EPIPE)
            tp_exit_pipe();
        tp_die("%s: write error: %s", rf == stdout ? "stdout" : "stderr", strerror(errno));
    }

    if (png) {
        tp_heatmap hm = {k, k, NULL, (const char *const *)c.names, (const char *const *)c.names, *title ? title : NULL,
                         "Predicted", "True", c.normed ? 2 : 0};
        double *v = c.normed;
        if (!v) {
            v = tp_alloc((size_t)k * (size_t)k, sizeof *v);
            tp_confusion_normalise(c.m, k, TP_NORM_NONE, v);
        }
        hm.values = v;
        tp_canvas cv;
        tp_heatmap_draw(&hm, &cv);
        tp_canvas_save(&cv, png);
        tp_canvas_free(&cv);
        if (v != c.normed)
            free(v);
    }

    if (out) { /* the stream again, with the mapped label appended to each record */
        int64_t records = t->records;
        tp_header oh;
        tp_header_copy(&oh, h);
        oh.count = records;
        tp_header_add(&oh, mname, TP_I32, 0, NULL);
        tp_writer *w = tp_writer_open(out, &oh);
        size_t isz = h->record_size, osz = oh.record_size;
        int64_t *idx = tp_alloc(CHUNK, sizeof *idx);
        unsigned char *in = tp_alloc(CHUNK, isz), *ob = tp_alloc(CHUNK, osz);
        for (int64_t i = 0; i < records; i += CHUNK) {
            int64_t n = records - i < CHUNK ? records - i : CHUNK;
            for (int64_t j = 0; j < n; j++)
                idx[j] = i + j;
            tp_records_get(rs, idx, n, in);
            for (int64_t j = 0; j < n; j++) {
                const unsigned char *src = in + (size_t)j * isz;
                int64_t v = tp_confusion_mapped(&c, tp_label_of(t->pred_field, src));
                int32_t v32 = v < INT32_MIN || v > INT32_MAX ? -1 : (int32_t)v;
                memcpy(ob + (size_t)j * osz, src, isz);
                memcpy(ob + (size_t)j * osz + isz, &v32, sizeof v32);
            }
            tp_writer_write(w, ob, n);
        }
        tp_writer_close(w);
        free(idx);
        free(in);
        free(ob);
        tp_header_free(&oh);
    }

    tp_confusion_free(&c);
    tp_tally_free(t);
    free(mname);
    if (rs)
        tp_records_close(rs);
    tp_reader_close(rd);
    free(args);
    return 0;
}
