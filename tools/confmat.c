/* confmat — the confusion matrix, accuracy and per-class report of a prediction or a
 * clustering against the true labels; optionally a heatmap PNG and the mapped labels. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "draw.h"
#include "heatmap.h"
#include "hungarian.h"
#include "records.h"
#include "stream.h"
#include "util.h"

#define MAX_LABELS 1000 /* distinct values per field */
#define HASH_SLOTS 2048 /* > 2 * MAX_LABELS, a power of two */
#define CHUNK 4096      /* records per write with -o */

/* The distinct values of one integer field in first-seen order, found through a hash. */
typedef struct {
    int64_t val[MAX_LABELS];
    int n;
    int slot[HASH_SLOTS]; /* index + 1, or 0 for empty */
} labelset;

/* The index of v in s, adding it; -1 when s is full. */
static int label_index(labelset *s, int64_t v)
{
    uint64_t h = (uint64_t)v * 0x9e3779b97f4a7c15ull;
    for (unsigned i = (unsigned)(h >> 53) & (HASH_SLOTS - 1);; i = (i + 1) & (HASH_SLOTS - 1)) {
        if (!s->slot[i]) {
            if (s->n == MAX_LABELS)
                return -1;
            s->val[s->n] = v;
            s->slot[i] = ++s->n;
            return s->n - 1;
        }
        if (s->val[s->slot[i] - 1] == v)
            return s->slot[i] - 1;
    }
}

/* What the pass over the records gathers: the distinct truth and prediction values and
 * the count of each (truth, prediction) pair, in first-seen indices. */
typedef struct {
    const tp_field *tf, *pf;
    const char *name;
    labelset truth, pred;
    int64_t *count; /* cap x cap, count[t * cap + p] */
    int cap;
    int64_t unlabelled; /* records with truth -1 */
} tally;

/* The integer at p of integer dtype d (not necessarily aligned). */
static int64_t int_at(const unsigned char *p, tp_dtype d)
{
    union {
        uint8_t u8;
        int8_t i8;
        uint16_t u16;
        int16_t i16;
        int32_t i32;
        int64_t i64;
    } u;
    memcpy(&u, p, tp_dtype_size(d));
    switch (d) {
    case TP_U8: return u.u8;
    case TP_I8: return u.i8;
    case TP_U16: return u.u16;
    case TP_I16: return u.i16;
    case TP_I32: return u.i32;
    case TP_I64: return u.i64;
    default: TP_ASSERT(!"an integer dtype"); return 0;
    }
}

static void add(void *ctx, int64_t i, const void *rec)
{
    (void)i;
    tally *t = ctx;
    const unsigned char *r = rec;
    int64_t y = int_at(r + t->tf->offset, t->tf->dtype), p = int_at(r + t->pf->offset, t->pf->dtype);
    int pi = label_index(&t->pred, p);
    if (pi < 0)
        tp_die("%s: field '%s' holds more than %d distinct values", t->name, t->pf->name, MAX_LABELS);
    if (y == -1) {
        t->unlabelled++;
        return;
    }
    int ti = label_index(&t->truth, y);
    if (ti < 0)
        tp_die("%s: field '%s' holds more than %d distinct values", t->name, t->tf->name, MAX_LABELS);
    if (ti >= t->cap || pi >= t->cap) { /* grow, keeping the layout */
        int cap = t->cap ? t->cap : 16;
        while (cap <= ti || cap <= pi)
            cap *= 2;
        cap = cap < MAX_LABELS ? cap : MAX_LABELS;
        int64_t *c = tp_calloc((size_t)cap * (size_t)cap, sizeof *c);
        for (int a = 0; a < t->cap; a++)
            memcpy(c + (size_t)a * (size_t)cap, t->count + (size_t)a * (size_t)t->cap, (size_t)t->cap * sizeof *c);
        free(t->count);
        t->count = c;
        t->cap = cap;
    }
    t->count[(size_t)ti * (size_t)t->cap + (size_t)pi]++;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The values of s sorted, and perm[i] = sorted position of first-seen index i. */
static int64_t *sorted(const labelset *s, int *perm)
{
    int64_t *v = tp_alloc((size_t)s->n + 1, sizeof *v);
    memcpy(v, s->val, (size_t)s->n * sizeof *v);
    qsort(v, (size_t)s->n, sizeof *v, cmp_i64);
    for (int i = 0; i < s->n; i++)
        perm[i] = (int)((int64_t *)bsearch(&s->val[i], v, (size_t)s->n, sizeof *v, cmp_i64) - v);
    return v;
}

/* Where each prediction value goes: map[p] is its label, the value itself for --map none,
 * the commonest true label among its members for majority (ties: the smallest; -1 for a
 * value with no labelled member), the label of the one-to-one matching with the most
 * agreement for hungarian (-1 for values left unmatched). c is nt x np in sorted order.
 * Returns the number of labelled records whose truth equals their mapped label. */
static int64_t map_labels(const char *how, const int64_t *c, int nt, int np, const int64_t *tv, const int64_t *pv,
                          int64_t *map)
{
    int64_t agree = 0;
    if (strcmp(how, "none") == 0) {
        for (int p = 0; p < np; p++) {
            map[p] = pv[p];
            for (int t = 0; t < nt; t++)
                agree += tv[t] == pv[p] ? c[(size_t)t * (size_t)np + (size_t)p] : 0;
        }
    } else if (strcmp(how, "majority") == 0) {
        for (int p = 0; p < np; p++) {
            int best = -1;
            for (int t = 0; t < nt; t++)
                if (c[(size_t)t * (size_t)np + (size_t)p] > (best < 0 ? 0 : c[(size_t)best * (size_t)np + (size_t)p]))
                    best = t;
            map[p] = best < 0 ? -1 : tv[best];
            agree += best < 0 ? 0 : c[(size_t)best * (size_t)np + (size_t)p];
        }
    } else { /* hungarian: least total of -agreement over clusters (rows) x classes */
        double *cost = tp_alloc((size_t)np * (size_t)nt + 1, sizeof *cost);
        int *to = tp_alloc((size_t)np + 1, sizeof *to);
        for (int p = 0; p < np; p++)
            for (int t = 0; t < nt; t++)
                cost[(size_t)p * (size_t)nt + (size_t)t] = -(double)c[(size_t)t * (size_t)np + (size_t)p];
        tp_hungarian(cost, np, nt, to);
        for (int p = 0; p < np; p++) {
            map[p] = to[p] < 0 ? -1 : tv[to[p]];
            agree += to[p] < 0 ? 0 : c[(size_t)to[p] * (size_t)np + (size_t)p];
        }
        free(cost);
        free(to);
    }
    return agree;
}

/* Per-class and averaged scores in scikit-learn's classification_report sense. */
typedef struct {
    double p, r, f1;
    int64_t support;
} score;

/* Scores of the k x k matrix m (rows true): s[0..k) per class, s[k] the macro average,
 * s[k + 1] the support-weighted one. A ratio with a zero denominator is 0 (zero_division=0). */
static void scores(const int64_t *m, int k, score *s)
{
    int64_t n = 0;
    memset(s, 0, (size_t)(k + 2) * sizeof *s);
    for (int a = 0; a < k; a++) {
        int64_t row = 0, col = 0, tp = m[(size_t)a * (size_t)k + (size_t)a];
        for (int b = 0; b < k; b++) {
            row += m[(size_t)a * (size_t)k + (size_t)b];
            col += m[(size_t)b * (size_t)k + (size_t)a];
        }
        double p = col ? (double)tp / (double)col : 0, r = row ? (double)tp / (double)row : 0;
        s[a] = (score){p, r, p + r > 0 ? 2 * p * r / (p + r) : 0, row};
        n += row;
    }
    for (int a = 0; a < k; a++) {
        double w = n ? (double)s[a].support / (double)n : 0;
        s[k].p += s[a].p / k;
        s[k].r += s[a].r / k;
        s[k].f1 += s[a].f1 / k;
        s[k + 1].p += s[a].p * w;
        s[k + 1].r += s[a].r * w;
        s[k + 1].f1 += s[a].f1 * w;
    }
    s[k].support = s[k + 1].support = n;
}

/* m normalised as scikit-learn's confusion_matrix(normalize=...): over each row ("true"),
 * each column ("pred") or the total ("all"); a zero sum gives zeros. */
static void normalise(const int64_t *m, int k, const char *how, double *out)
{
    int64_t all = 0;
    for (size_t i = 0; i < (size_t)k * (size_t)k; i++)
        all += m[i];
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
            int64_t d = 0;
            for (int j = 0; j < k; j++)
                d += how[0] == 't' ? m[(size_t)a * (size_t)k + (size_t)j] : m[(size_t)j * (size_t)k + (size_t)b];
            d = how[0] == 'a' ? all : d;
            int64_t v = m[(size_t)a * (size_t)k + (size_t)b];
            out[(size_t)a * (size_t)k + (size_t)b] = d ? (double)v / (double)d : 0;
        }
}

/* ---- output ---- */

/* v in the fewest digits that read back as the same double. */
static void fmt_num(FILE *f, double v)
{
    char b[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(b, sizeof b, "%.*g", p, v);
        if (strtod(b, NULL) == v)
            break;
    }
    fputs(b, f);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_score(FILE *f, const score *s)
{
    fputs("{\"precision\": ", f);
    fmt_num(f, s->p);
    fputs(", \"recall\": ", f);
    fmt_num(f, s->r);
    fputs(", \"f1-score\": ", f);
    fmt_num(f, s->f1);
    fprintf(f, ", \"support\": %lld}", (long long)s->support);
}

typedef struct {
    const char *input, *truth, *field, *how, *norm;
    int64_t records, unlabelled, correct;
    int k;                  /* labels after mapping */
    const int64_t *labels;  /* k */
    char **names;           /* k */
    const int64_t *m;       /* k x k counts */
    const double *normed;   /* k x k, or NULL */
    const score *s;         /* k + 2 */
    int np;                 /* prediction values (clusters) */
    const int64_t *pv, *map, *size, *agree; /* np each, when mapping */
    const char *other;      /* the other mapping's name, or NULL */
    int64_t other_correct;
} report;

static void print_json(FILE *f, const report *r)
{
    fputs("{\"input\": ", f);
    json_str(f, r->input);
    fputs(", \"truth\": ", f);
    json_str(f, r->truth);
    fputs(", \"prediction\": ", f);
    json_str(f, r->field);
    fprintf(f, ", \"records\": %lld, \"unlabelled\": %lld,\n \"labels\": [", (long long)r->records,
            (long long)r->unlabelled);
    for (int a = 0; a < r->k; a++)
        fprintf(f, "%s%lld", a ? ", " : "", (long long)r->labels[a]);
    fputs("],\n \"names\": [", f);
    for (int a = 0; a < r->k; a++) {
        fputs(a ? ", " : "", f);
        json_str(f, r->names[a]);
    }
    fputs("],\n \"matrix\": [", f);
    for (int a = 0; a < r->k; a++) {
        fputs(a ? ",\n            [" : "[", f);
        for (int b = 0; b < r->k; b++)
            fprintf(f, "%s%lld", b ? ", " : "", (long long)r->m[(size_t)a * (size_t)r->k + (size_t)b]);
        fputs("]", f);
    }
    fputs("],\n \"normalize\": ", f);
    json_str(f, r->norm);
    if (r->normed) {
        fputs(",\n \"normalized\": [", f);
        for (int a = 0; a < r->k; a++) {
            fputs(a ? ",\n                [" : "[", f);
            for (int b = 0; b < r->k; b++) {
                fputs(b ? ", " : "", f);
                fmt_num(f, r->normed[(size_t)a * (size_t)r->k + (size_t)b]);
            }
            fputs("]", f);
        }
        fputs("]", f);
    }
    fprintf(f, ",\n \"correct\": %lld, \"accuracy\": ", (long long)r->correct);
    fmt_num(f, (double)r->correct / (double)r->s[r->k].support);
    fputs(",\n \"classes\": [", f);
    for (int a = 0; a < r->k; a++) {
        fprintf(f, "%s{\"label\": %lld, \"name\": ", a ? ",\n             " : "", (long long)r->labels[a]);
        json_str(f, r->names[a]);
        fputs(", \"scores\": ", f);
        json_score(f, &r->s[a]);
        fputs("}", f);
    }
    fputs("],\n \"macro avg\": ", f);
    json_score(f, &r->s[r->k]);
    fputs(",\n \"weighted avg\": ", f);
    json_score(f, &r->s[r->k + 1]);
    fputs(",\n \"mapping\": ", f);
    if (!r->other) {
        fputs("null}\n", f);
        return;
    }
    double n = (double)r->s[r->k].support;
    fputs("{\"method\": ", f);
    json_str(f, r->how);
    fputs(", \"accuracy\": {", f);
    json_str(f, r->how);
    fputs(": ", f);
    fmt_num(f, (double)r->correct / n);
    fputs(", ", f);
    json_str(f, r->other);
    fputs(": ", f);
    fmt_num(f, (double)r->other_correct / n);
    fputs("},\n  \"clusters\": [", f);
    for (int p = 0; p < r->np; p++)
        fprintf(f, "%s{\"cluster\": %lld, \"label\": %lld, \"size\": %lld, \"agree\": %lld}", p ? ",\n    " : "",
                (long long)r->pv[p], (long long)r->map[p], (long long)r->size[p], (long long)r->agree[p]);
    fputs("]}}\n", f);
}

static int num_width(int64_t v)
{
    char b[32];
    return snprintf(b, sizeof b, "%lld", (long long)v);
}

static void print_text(FILE *f, const report *r, int digits)
{
    int k = r->k;
    double n = (double)r->s[k].support;
    if (r->other) {
        fprintf(f, "Mapping (%s): each cluster's label, size, and members with that true label\n\n",
                strcmp(r->how, "majority") == 0 ? "majority vote" : "hungarian, one to one");
        fprintf(f, "%9s %12s %9s %9s\n", "cluster", "label", "size", "agree");
        for (int p = 0; p < r->np; p++) {
            const char *name = "-1 (none)";
            for (int a = 0; a < k; a++)
                if (r->labels[a] == r->map[p] && r->map[p] != -1)
                    name = r->names[a];
            fprintf(f, "%9lld %12.12s %9lld %9lld\n", (long long)r->pv[p], name, (long long)r->size[p],
                    (long long)r->agree[p]);
        }
        fputc('\n', f);
    }
    /* the matrix: columns as wide as the widest name or number */
    int w = 4, nw = (int)strlen("true\\pred");
    for (int a = 0; a < k; a++) {
        int l = (int)strlen(r->names[a]);
        w = l > w ? l : w;
        nw = l > nw ? l : nw;
        for (int b = 0; b < k && !r->normed; b++) {
            int x = num_width(r->m[(size_t)a * (size_t)k + (size_t)b]);
            w = x > w ? x : w;
        }
    }
    if (r->normed && digits + 2 > w)
        w = digits + 2;
    w = w > 16 ? 16 : w;
    nw = nw > 16 ? 16 : nw;
    if (r->normed)
        fprintf(f, "Confusion matrix normalised over %s (rows: true %s, columns: predicted %s)\n\n",
                r->norm[0] == 't' ? "each true class" : r->norm[0] == 'p' ? "each predicted class" : "all records",
                r->truth, r->other ? "after mapping" : r->field);
    else
        fprintf(f, "Confusion matrix (rows: true %s, columns: predicted %s)\n\n", r->truth,
                r->other ? "after mapping" : r->field);
    fprintf(f, "%*s", nw, "true\\pred");
    for (int b = 0; b < k; b++)
        fprintf(f, "  %*.*s", w, w, r->names[b]);
    fputc('\n', f);
    for (int a = 0; a < k; a++) {
        fprintf(f, "%*.*s", nw, nw, r->names[a]);
        for (int b = 0; b < k; b++) {
            size_t i = (size_t)a * (size_t)k + (size_t)b;
            if (r->normed)
                fprintf(f, "  %*.*f", w, digits, r->normed[i]);
            else
                fprintf(f, "  %*lld", w, (long long)r->m[i]);
        }
        fputc('\n', f);
    }
    fprintf(f, "\nAccuracy %.*f (%lld of %lld records", digits, (double)r->correct / n, (long long)r->correct,
            (long long)r->s[k].support);
    if (r->unlabelled)
        fprintf(f, "; %lld more without a label not counted", (long long)r->unlabelled);
    fputs(")\n", f);
    if (r->other)
        fprintf(f, "Accuracy %.*f with the %s mapping instead\n", digits, (double)r->other_correct / n, r->other);

    /* the report, laid out as scikit-learn's classification_report */
    int lw = (int)strlen("weighted avg");
    for (int a = 0; a < k; a++) {
        int l = (int)strlen(r->names[a]);
        lw = l > lw ? l : lw;
    }
    lw = lw > 24 ? 24 : lw;
    fprintf(f, "\n%*s  %9s %9s %9s %9s\n\n", lw, "", "precision", "recall", "f1-score", "support");
    for (int a = 0; a <= k + 1; a++) {
        if (a == k)
            fprintf(f, "\n%*s  %9s %9s %9.*f %9lld\n", lw, "accuracy", "", "", digits, (double)r->correct / n,
                    (long long)r->s[k].support);
        fprintf(f, "%*.*s  %9.*f %9.*f %9.*f %9lld\n", lw, lw,
                a < k ? r->names[a] : a == k ? "macro avg" : "weighted avg", digits, r->s[a].p, digits, r->s[a].r,
                digits, r->s[a].f1, (long long)r->s[a].support);
    }
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
    static const char *const maps[] = {"none", "majority", "hungarian", NULL};
    static const char *const norms[] = {"none", "true", "pred", "all", NULL};
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
    tally *t = tp_calloc(1, sizeof *t);
    t->tf = &h->fields[fi[0]];
    t->pf = &h->fields[fi[1]];
    t->name = name;
    int64_t records = 0;
    if (rs) {
        tp_records_scan(rs, add, t);
        records = tp_records_count(rs);
    } else {
        const void *rec;
        while ((rec = tp_next_or_die(rd)))
            add(t, records++, rec);
    }
    if (records == 0)
        tp_die("%s: no records", name);
    if (t->truth.n == 0)
        tp_die("%s: no record has a true label (every '%s' is -1)", name, truth);

    /* the counts in sorted label order: c[t][p] */
    int nt = t->truth.n, np = t->pred.n;
    int *tperm = tp_alloc((size_t)nt, sizeof *tperm), *pperm = tp_alloc((size_t)np, sizeof *pperm);
    int64_t *tv = sorted(&t->truth, tperm), *pv = sorted(&t->pred, pperm);
    int64_t *c = tp_calloc((size_t)nt * (size_t)np, sizeof *c);
    for (int a = 0; a < nt; a++)
        for (int b = 0; b < np && b < t->cap; b++)
            c[(size_t)tperm[a] * (size_t)np + (size_t)pperm[b]] = t->count[(size_t)a * (size_t)t->cap + (size_t)b];

    /* mapping, and the other mapping's accuracy */
    int64_t *map = tp_alloc((size_t)np, sizeof *map), *other_map = tp_alloc((size_t)np, sizeof *other_map);
    int64_t correct = map_labels(how, c, nt, np, tv, pv, map), other_correct = 0;
    const char *other = NULL;
    if (strcmp(how, "none") != 0) {
        other = strcmp(how, "majority") == 0 ? "hungarian" : "majority";
        other_correct = map_labels(other, c, nt, np, tv, pv, other_map);
    }
    int64_t *size = tp_calloc((size_t)np, sizeof *size), *agree = tp_calloc((size_t)np, sizeof *agree);
    for (int a = 0; a < nt; a++)
        for (int b = 0; b < np; b++) {
            int64_t v = c[(size_t)a * (size_t)np + (size_t)b];
            size[b] += v;
            agree[b] += tv[a] == map[b] ? v : 0;
        }

    /* the labels: the sorted union of the true ones and the mapped ones in use */
    int64_t *lab = tp_alloc((size_t)(nt + np), sizeof *lab);
    int k = 0;
    for (int a = 0; a < nt; a++)
        lab[k++] = tv[a];
    for (int b = 0; b < np; b++)
        if (size[b])
            lab[k++] = map[b];
    qsort(lab, (size_t)k, sizeof *lab, cmp_i64);
    int u = 0;
    for (int i = 0; i < k; i++)
        if (u == 0 || lab[i] != lab[u - 1])
            lab[u++] = lab[i];
    k = u;
    int64_t *m = tp_calloc((size_t)k * (size_t)k, sizeof *m);
    for (int a = 0; a < nt; a++)
        for (int b = 0; b < np; b++) {
            int64_t *ra = bsearch(&tv[a], lab, (size_t)k, sizeof *lab, cmp_i64);
            int64_t *rb = size[b] ? bsearch(&map[b], lab, (size_t)k, sizeof *lab, cmp_i64) : NULL;
            if (rb)
                m[(ra - lab) * k + (rb - lab)] += c[(size_t)a * (size_t)np + (size_t)b];
        }
    char **names = tp_alloc((size_t)k, sizeof *names);
    for (int a = 0; a < k; a++) {
        char b[256];
        if (lab[a] >= 0)
            tp_class_name(h, lab[a], b, sizeof b);
        else
            snprintf(b, sizeof b, "%lld", (long long)lab[a]);
        names[a] = tp_strdup(b);
    }
    score *s = tp_alloc((size_t)k + 2, sizeof *s);
    scores(m, k, s);
    double *normed = NULL;
    if (strcmp(norm, "none") != 0) {
        normed = tp_alloc((size_t)k * (size_t)k, sizeof *normed);
        normalise(m, k, norm, normed);
    }

    report r = {name, truth, field, how, norm, records, t->unlabelled, correct, k, lab, names, m, normed, s,
                np, pv, map, size, agree, other, other_correct};
    FILE *rf = png_out || stream_out ? stderr : stdout;
    if (json)
        print_json(rf, &r);
    else
        print_text(rf, &r, (int)digits);
    if (fflush(rf) || ferror(rf)) {
        if (errno == EPIPE)
            tp_exit_pipe();
        tp_die("%s: write error: %s", rf == stdout ? "stdout" : "stderr", strerror(errno));
    }

    if (png) {
        tp_heatmap hm = {k, k, NULL, (const char *const *)names, (const char *const *)names, *title ? title : NULL,
                         "Predicted", "True", normed ? 2 : 0};
        double *v = normed;
        if (!v) {
            v = tp_alloc((size_t)k * (size_t)k, sizeof *v);
            for (size_t i = 0; i < (size_t)k * (size_t)k; i++)
                v[i] = (double)m[i];
        }
        hm.values = v;
        tp_canvas cv;
        tp_heatmap_draw(&hm, &cv);
        tp_canvas_save(&cv, png);
        tp_canvas_free(&cv);
        if (v != normed)
            free(v);
    }

    if (out) { /* the stream again, with the mapped label appended to each record */
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
                int64_t p = int_at(src + t->pf->offset, t->pf->dtype);
                int64_t *at = bsearch(&p, pv, (size_t)np, sizeof *pv, cmp_i64);
                int64_t v = map[at - pv];
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

    for (int a = 0; a < k; a++)
        free(names[a]);
    free(names);
    free(s);
    free(normed);
    free(m);
    free(lab);
    free(size);
    free(agree);
    free(map);
    free(other_map);
    free(c);
    free(tv);
    free(pv);
    free(tperm);
    free(pperm);
    free(t->count);
    free(t);
    free(mname);
    if (rs)
        tp_records_close(rs);
    tp_reader_close(rd);
    free(args);
    return 0;
}
