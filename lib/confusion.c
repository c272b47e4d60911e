/* confusion.c — see confusion.h. */
#include "confusion.h"

#include <stdlib.h>
#include <string.h>

#include "hungarian.h"
#include "util.h"

static const char *const map_names[] = {TP_MAP_NAMES};
static const char *const norm_names[] = {TP_NORM_NAMES};

const char *tp_map_name(tp_map_how how)
{
    return map_names[how];
}

const char *tp_norm_name(tp_norm_over over)
{
    return norm_names[over];
}

int tp_labelset_index(tp_labelset *s, int64_t v)
{
    uint64_t h = (uint64_t)v * 0x9e3779b97f4a7c15ull;
    for (unsigned i = (unsigned)(h >> 53) & (TP_LABEL_SLOTS - 1);; i = (i + 1) & (TP_LABEL_SLOTS - 1)) {
        if (!s->slot[i]) {
            if (s->n == TP_MAX_LABELS)
                return -1;
            s->val[s->n] = v;
            s->slot[i] = ++s->n;
            return s->n - 1;
        }
        if (s->val[s->slot[i] - 1] == v)
            return s->slot[i] - 1;
    }
}

/* ---- the tally ---- */

tp_tally *tp_tally_new(const tp_field *truth, const tp_field *pred)
{
    tp_tally *t = tp_calloc(1, sizeof *t);
    t->truth_field = truth;
    t->pred_field = pred;
    return t;
}

void tp_tally_free(tp_tally *t)
{
    if (!t)
        return;
    free(t->count);
    free(t);
}

int tp_tally_add(tp_tally *t, int64_t y, int64_t p)
{
    t->records++;
    int pi = tp_labelset_index(&t->pred, p);
    if (pi < 0)
        return 2;
    if (y == -1) {
        t->unlabelled++;
        return 0;
    }
    int ti = tp_labelset_index(&t->truth, y);
    if (ti < 0)
        return 1;
    if (ti >= t->cap || pi >= t->cap) { /* grow, keeping the layout */
        int cap = t->cap ? t->cap : 16;
        while (cap <= ti || cap <= pi)
            cap *= 2;
        cap = cap < TP_MAX_LABELS ? cap : TP_MAX_LABELS;
        int64_t *c = tp_calloc((size_t)cap * (size_t)cap, sizeof *c);
        for (int a = 0; a < t->cap; a++)
            memcpy(c + (size_t)a * (size_t)cap, t->count + (size_t)a * (size_t)t->cap, (size_t)t->cap * sizeof *c);
        free(t->count);
        t->count = c;
        t->cap = cap;
    }
    t->count[(size_t)ti * (size_t)t->cap + (size_t)pi]++;
    return 0;
}

const tp_field *tp_tally_record(tp_tally *t, const void *rec)
{
    int full = tp_tally_add(t, tp_label_of(t->truth_field, rec), tp_label_of(t->pred_field, rec));
    return full == 1 ? t->truth_field : full == 2 ? t->pred_field : NULL;
}

/* ---- the matrix ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The values of s sorted, and perm[i] = sorted position of first-seen index i. */
static int64_t *sorted(const tp_labelset *s, int *perm)
{
    int64_t *v = tp_alloc((size_t)s->n + 1, sizeof *v);
    memcpy(v, s->val, (size_t)s->n * sizeof *v);
    qsort(v, (size_t)s->n, sizeof *v, cmp_i64);
    for (int i = 0; i < s->n; i++)
        perm[i] = (int)((int64_t *)bsearch(&s->val[i], v, (size_t)s->n, sizeof *v, cmp_i64) - v);
    return v;
}

int64_t tp_map_labels(tp_map_how how, const int64_t *c, int nt, int np, const int64_t *tv, const int64_t *pv,
                      int64_t *map)
{
    int64_t agree = 0;
    if (how == TP_MAP_NONE) {
        for (int p = 0; p < np; p++) {
            map[p] = pv[p];
            for (int t = 0; t < nt; t++)
                agree += tv[t] == pv[p] ? c[(size_t)t * (size_t)np + (size_t)p] : 0;
        }
    } else if (how == TP_MAP_MAJORITY) {
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

void tp_class_scores(const int64_t *m, int k, tp_class_score *s)
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
        s[a] = (tp_class_score){p, r, p + r > 0 ? 2 * p * r / (p + r) : 0, row};
        n += row;
    }
    for (int a = 0; a < k; a++) {
        double w = n ? (double)s[a].support / (double)n : 0;
        s[k].precision += s[a].precision / k;
        s[k].recall += s[a].recall / k;
        s[k].f1 += s[a].f1 / k;
        s[k + 1].precision += s[a].precision * w;
        s[k + 1].recall += s[a].recall * w;
        s[k + 1].f1 += s[a].f1 * w;
    }
    s[k].support = s[k + 1].support = n;
}

void tp_confusion_normalise(const int64_t *m, int k, tp_norm_over over, double *out)
{
    int64_t all = 0;
    for (size_t i = 0; i < (size_t)k * (size_t)k; i++)
        all += m[i];
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
            int64_t d = 0, v = m[(size_t)a * (size_t)k + (size_t)b];
            if (over == TP_NORM_NONE) {
                out[(size_t)a * (size_t)k + (size_t)b] = (double)v;
                continue;
            }
            for (int j = 0; j < k; j++)
                d += over == TP_NORM_TRUE ? m[(size_t)a * (size_t)k + (size_t)j] : m[(size_t)j * (size_t)k + (size_t)b];
            d = over == TP_NORM_ALL ? all : d;
            out[(size_t)a * (size_t)k + (size_t)b] = d ? (double)v / (double)d : 0;
        }
}

/* The sorted distinct values of the true labels and of the mapped labels in use. */
static int mapped_labels(const tp_confusion *c, int64_t *lab)
{
    int k = 0;
    for (int a = 0; a < c->nt; a++)
        lab[k++] = c->tv[a];
    for (int b = 0; b < c->np; b++)
        if (c->size[b])
            lab[k++] = c->map[b];
    qsort(lab, (size_t)k, sizeof *lab, cmp_i64);
    int u = 0;
    for (int i = 0; i < k; i++)
        if (u == 0 || lab[i] != lab[u - 1])
            lab[u++] = lab[i];
    return u;
}

void tp_confusion_of(tp_confusion *c, const tp_tally *t, tp_map_how how, tp_norm_over norm, const tp_header *h)
{
    memset(c, 0, sizeof *c);
    c->how = how;
    c->norm = norm;
    c->records = t->records;
    c->unlabelled = t->unlabelled;

    /* the counts in sorted label order: table[t][p] */
    int nt = c->nt = t->truth.n, np = c->np = t->pred.n;
    int *tperm = tp_alloc((size_t)nt + 1, sizeof *tperm), *pperm = tp_alloc((size_t)np + 1, sizeof *pperm);
    c->tv = sorted(&t->truth, tperm);
    c->pv = sorted(&t->pred, pperm);
    c->table = tp_calloc((size_t)nt * (size_t)np + 1, sizeof *c->table);
    for (int a = 0; a < nt; a++)
        for (int b = 0; b < np && b < t->cap; b++)
            c->table[(size_t)tperm[a] * (size_t)np + (size_t)pperm[b]] = t->count[(size_t)a * (size_t)t->cap + (size_t)b];
    free(tperm);
    free(pperm);

    /* the mapping, and the other mapping's accuracy */
    c->map = tp_alloc((size_t)np + 1, sizeof *c->map);
    c->correct = tp_map_labels(how, c->table, nt, np, c->tv, c->pv, c->map);
    c->other = how == TP_MAP_MAJORITY ? TP_MAP_HUNGARIAN : how == TP_MAP_HUNGARIAN ? TP_MAP_MAJORITY : TP_MAP_NONE;
    if (c->other != TP_MAP_NONE) {
        int64_t *other_map = tp_alloc((size_t)np + 1, sizeof *other_map);
        c->other_correct = tp_map_labels(c->other, c->table, nt, np, c->tv, c->pv, other_map);
        free(other_map);
    }
    c->size = tp_calloc((size_t)np + 1, sizeof *c->size);
    c->agree = tp_calloc((size_t)np + 1, sizeof *c->agree);
    for (int a = 0; a < nt; a++)
        for (int b = 0; b < np; b++) {
            int64_t v = c->table[(size_t)a * (size_t)np + (size_t)b];
            c->size[b] += v;
            c->agree[b] += c->tv[a] == c->map[b] ? v : 0;
        }

    /* the matrix of the mapped labels */
    int64_t *lab = c->labels = tp_alloc((size_t)nt + (size_t)np + 1, sizeof *lab);
    int k = c->k = mapped_labels(c, lab);
    c->m = tp_calloc((size_t)k * (size_t)k + 1, sizeof *c->m);
    for (int a = 0; a < nt; a++)
        for (int b = 0; b < np; b++) {
            int64_t *ra = bsearch(&c->tv[a], lab, (size_t)k, sizeof *lab, cmp_i64);
            int64_t *rb = c->size[b] ? bsearch(&c->map[b], lab, (size_t)k, sizeof *lab, cmp_i64) : NULL;
            if (rb)
                c->m[(ra - lab) * k + (rb - lab)] += c->table[(size_t)a * (size_t)np + (size_t)b];
        }
    c->names = tp_alloc((size_t)k + 1, sizeof *c->names);
    for (int a = 0; a < k; a++) {
        char b[256];
        if (lab[a] >= 0 && h)
            tp_class_name(h, lab[a], b, sizeof b);
        else
            snprintf(b, sizeof b, "%lld", (long long)lab[a]);
        c->names[a] = tp_strdup(b);
    }
    c->s = tp_alloc((size_t)k + 2, sizeof *c->s);
    tp_class_scores(c->m, k, c->s);
    if (norm != TP_NORM_NONE) {
        c->normed = tp_alloc((size_t)k * (size_t)k + 1, sizeof *c->normed);
        tp_confusion_normalise(c->m, k, norm, c->normed);
    }
}

void tp_confusion_free(tp_confusion *c)
{
    for (int a = 0; a < c->k; a++)
        free(c->names[a]);
    free(c->names);
    free(c->tv);
    free(c->pv);
    free(c->table);
    free(c->map);
    free(c->size);
    free(c->agree);
    free(c->labels);
    free(c->m);
    free(c->s);
    free(c->normed);
    memset(c, 0, sizeof *c);
}

double tp_confusion_accuracy(const tp_confusion *c)
{
    return (double)c->correct / (double)c->s[c->k].support;
}

int64_t tp_confusion_mapped(const tp_confusion *c, int64_t p)
{
    const int64_t *at = bsearch(&p, c->pv, (size_t)c->np, sizeof *c->pv, cmp_i64);
    return at ? c->map[at - c->pv] : -1;
}

/* ---- the reports ---- */

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

static void json_score(FILE *f, const tp_class_score *s)
{
    fputs("{\"precision\": ", f);
    fmt_num(f, s->precision);
    fputs(", \"recall\": ", f);
    fmt_num(f, s->recall);
    fputs(", \"f1-score\": ", f);
    fmt_num(f, s->f1);
    fprintf(f, ", \"support\": %lld}", (long long)s->support);
}

/* "mapping": null, or the method, both accuracies and each cluster's part. */
static void json_mapping(FILE *f, const tp_confusion *c)
{
    fputs(",\n \"mapping\": ", f);
    if (c->how == TP_MAP_NONE) {
        fputs("null}\n", f);
        return;
    }
    double n = (double)c->s[c->k].support;
    fputs("{\"method\": ", f);
    json_str(f, tp_map_name(c->how));
    fputs(", \"accuracy\": {", f);
    json_str(f, tp_map_name(c->how));
    fputs(": ", f);
    fmt_num(f, (double)c->correct / n);
    fputs(", ", f);
    json_str(f, tp_map_name(c->other));
    fputs(": ", f);
    fmt_num(f, (double)c->other_correct / n);
    fputs("},\n  \"clusters\": [", f);
    for (int p = 0; p < c->np; p++)
        fprintf(f, "%s{\"cluster\": %lld, \"label\": %lld, \"size\": %lld, \"agree\": %lld}", p ? ",\n    " : "",
                (long long)c->pv[p], (long long)c->map[p], (long long)c->size[p], (long long)c->agree[p]);
    fputs("]}}\n", f);
}

void tp_confusion_json(FILE *f, const tp_confusion *c, const char *input, const char *truth, const char *field)
{
    int k = c->k;
    fputs("{\"input\": ", f);
    json_str(f, input);
    fputs(", \"truth\": ", f);
    json_str(f, truth);
    fputs(", \"prediction\": ", f);
    json_str(f, field);
    fprintf(f, ", \"records\": %lld, \"unlabelled\": %lld,\n \"labels\": [", (long long)c->records,
            (long long)c->unlabelled);
    for (int a = 0; a < k; a++)
        fprintf(f, "%s%lld", a ? ", " : "", (long long)c->labels[a]);
    fputs("],\n \"names\": [", f);
    for (int a = 0; a < k; a++) {
        fputs(a ? ", " : "", f);
        json_str(f, c->names[a]);
    }
    fputs("],\n \"matrix\": [", f);
    for (int a = 0; a < k; a++) {
        fputs(a ? ",\n            [" : "[", f);
        for (int b = 0; b < k; b++)
            fprintf(f, "%s%lld", b ? ", " : "", (long long)c->m[(size_t)a * (size_t)k + (size_t)b]);
        fputs("]", f);
    }
    fputs("],\n \"normalize\": ", f);
    json_str(f, tp_norm_name(c->norm));
    if (c->normed) {
        fputs(",\n \"normalized\": [", f);
        for (int a = 0; a < k; a++) {
            fputs(a ? ",\n                [" : "[", f);
            for (int b = 0; b < k; b++) {
                fputs(b ? ", " : "", f);
                fmt_num(f, c->normed[(size_t)a * (size_t)k + (size_t)b]);
            }
            fputs("]", f);
        }
        fputs("]", f);
    }
    fprintf(f, ",\n \"correct\": %lld, \"accuracy\": ", (long long)c->correct);
    fmt_num(f, tp_confusion_accuracy(c));
    fputs(",\n \"classes\": [", f);
    for (int a = 0; a < k; a++) {
        fprintf(f, "%s{\"label\": %lld, \"name\": ", a ? ",\n             " : "", (long long)c->labels[a]);
        json_str(f, c->names[a]);
        fputs(", \"scores\": ", f);
        json_score(f, &c->s[a]);
        fputs("}", f);
    }
    fputs("],\n \"macro avg\": ", f);
    json_score(f, &c->s[k]);
    fputs(",\n \"weighted avg\": ", f);
    json_score(f, &c->s[k + 1]);
    json_mapping(f, c);
}

static int num_width(int64_t v)
{
    char b[32];
    return snprintf(b, sizeof b, "%lld", (long long)v);
}

/* Each cluster's label, size and agreement. */
static void text_mapping(FILE *f, const tp_confusion *c)
{
    fprintf(f, "Mapping (%s): each cluster's label, size, and members with that true label\n\n",
            c->how == TP_MAP_MAJORITY ? "majority vote" : "hungarian, one to one");
    fprintf(f, "%9s %12s %9s %9s\n", "cluster", "label", "size", "agree");
    for (int p = 0; p < c->np; p++) {
        const char *name = "-1 (none)";
        for (int a = 0; a < c->k; a++)
            if (c->labels[a] == c->map[p] && c->map[p] != -1)
                name = c->names[a];
        fprintf(f, "%9lld %12.12s %9lld %9lld\n", (long long)c->pv[p], name, (long long)c->size[p],
                (long long)c->agree[p]);
    }
    fputc('\n', f);
}

/* The matrix: columns as wide as the widest name or number. */
static void text_matrix(FILE *f, const tp_confusion *c, const char *truth, const char *field, int digits)
{
    int k = c->k, w = 4, nw = (int)strlen("true\\pred");
    for (int a = 0; a < k; a++) {
        int l = (int)strlen(c->names[a]);
        w = l > w ? l : w;
        nw = l > nw ? l : nw;
        for (int b = 0; b < k && !c->normed; b++) {
            int x = num_width(c->m[(size_t)a * (size_t)k + (size_t)b]);
            w = x > w ? x : w;
        }
    }
    if (c->normed && digits + 2 > w)
        w = digits + 2;
    w = w > 16 ? 16 : w;
    nw = nw > 16 ? 16 : nw;
    const char *cols = c->how != TP_MAP_NONE ? "after mapping" : field;
    if (c->normed)
        fprintf(f, "Confusion matrix normalised over %s (rows: true %s, columns: predicted %s)\n\n",
                c->norm == TP_NORM_TRUE   ? "each true class"
                : c->norm == TP_NORM_PRED ? "each predicted class"
                                          : "all records",
                truth, cols);
    else
        fprintf(f, "Confusion matrix (rows: true %s, columns: predicted %s)\n\n", truth, cols);
    fprintf(f, "%*s", nw, "true\\pred");
    for (int b = 0; b < k; b++)
        fprintf(f, "  %*.*s", w, w, c->names[b]);
    fputc('\n', f);
    for (int a = 0; a < k; a++) {
        fprintf(f, "%*.*s", nw, nw, c->names[a]);
        for (int b = 0; b < k; b++) {
            size_t i = (size_t)a * (size_t)k + (size_t)b;
            if (c->normed)
                fprintf(f, "  %*.*f", w, digits, c->normed[i]);
            else
                fprintf(f, "  %*lld", w, (long long)c->m[i]);
        }
        fputc('\n', f);
    }
}

void tp_confusion_text(FILE *f, const tp_confusion *c, const char *truth, const char *field, int digits)
{
    int k = c->k;
    double n = (double)c->s[k].support;
    if (c->how != TP_MAP_NONE)
        text_mapping(f, c);
    text_matrix(f, c, truth, field, digits);
    fprintf(f, "\nAccuracy %.*f (%lld of %lld records", digits, (double)c->correct / n, (long long)c->correct,
            (long long)c->s[k].support);
    if (c->unlabelled)
        fprintf(f, "; %lld more without a label not counted", (long long)c->unlabelled);
    fputs(")\n", f);
    if (c->how != TP_MAP_NONE)
        fprintf(f, "Accuracy %.*f with the %s mapping instead\n", digits, (double)c->other_correct / n,
                tp_map_name(c->other));

    /* the report, laid out as scikit-learn's classification_report */
    int lw = (int)strlen("weighted avg");
    for (int a = 0; a < k; a++) {
        int l = (int)strlen(c->names[a]);
        lw = l > lw ? l : lw;
    }
    lw = lw > 24 ? 24 : lw;
    fprintf(f, "\n%*s  %9s %9s %9s %9s\n\n", lw, "", "precision", "recall", "f1-score", "support");
    for (int a = 0; a <= k + 1; a++) {
        if (a == k)
            fprintf(f, "\n%*s  %9s %9s %9.*f %9lld\n", lw, "accuracy", "", "", digits, (double)c->correct / n,
                    (long long)c->s[k].support);
        fprintf(f, "%*.*s  %9.*f %9.*f %9.*f %9lld\n", lw, lw,
                a < k ? c->names[a] : a == k ? "macro avg" : "weighted avg", digits, c->s[a].precision, digits,
                c->s[a].recall, digits, c->s[a].f1, (long long)c->s[a].support);
    }
}
