/* confusion.h — the confusion matrix of predicted labels (or cluster numbers) against true
 * labels, and the figures scikit-learn draws from it: accuracy, classification_report's
 * per-class precision, recall, F1 and support with their macro and weighted averages
 * (zero_division=0), and confusion_matrix's normalisations.
 *
 * The way through:
 *   1. tp_tally_new, then tp_tally_record for each record (or tp_tally_add for each pair):
 *      the distinct values of both fields in first-seen order and the count of each
 *      (truth, prediction) pair. Records whose truth is -1 (unknown) are counted apart and
 *      left out of every figure; their predictions still count as values seen.
 *   2. tp_confusion_of: the counts in sorted order, the prediction values mapped to labels
 *      (as they are, by majority vote, or by the one-to-one matching that agrees most),
 *      the matrix of the mapped labels, its scores and its normalisation.
 *   3. tp_confusion_json and tp_confusion_text write the report as confmat prints it.
 */
#ifndef TP_CONFUSION_H
#define TP_CONFUSION_H

#include <stdint.h>
#include <stdio.h>

#include "stream.h"

#define TP_MAX_LABELS 1000 /* distinct values a field may hold */
#define TP_LABEL_SLOTS 2048 /* > 2 * TP_MAX_LABELS, a power of two */

/* How prediction values become labels: as they are; each cluster the commonest true label
 * among its members (ties: the smallest); or the one-to-one matching of clusters and labels
 * that agrees on the most records (clusters left over get -1). In the order of
 * TP_MAP_NAMES, the names the programs and the JSON report use. */
typedef enum { TP_MAP_NONE, TP_MAP_MAJORITY, TP_MAP_HUNGARIAN } tp_map_how;
#define TP_MAP_NAMES "none", "majority", "hungarian"

/* What the normalised matrix is divided by: nothing (no normalised matrix), each row's sum
 * (true class), each column's (predicted class) or the total. In the order of
 * TP_NORM_NAMES. */
typedef enum { TP_NORM_NONE, TP_NORM_TRUE, TP_NORM_PRED, TP_NORM_ALL } tp_norm_over;
#define TP_NORM_NAMES "none", "true", "pred", "all"

const char *tp_map_name(tp_map_how how);
const char *tp_norm_name(tp_norm_over over);

/* The distinct values of one integer field in first-seen order, found through a hash.
 * Zeroed memory is an empty set. */
typedef struct {
    int64_t val[TP_MAX_LABELS];
    int n;
    int slot[TP_LABEL_SLOTS]; /* index + 1, or 0 for empty */
} tp_labelset;

/* The index of v in s, adding it; -1 when s holds TP_MAX_LABELS values already. */
int tp_labelset_index(tp_labelset *s, int64_t v);

/* The pairs seen: count[t * cap + p] is the number of labelled records whose truth has
 * first-seen index t in truth and whose prediction has index p in pred. */
typedef struct {
    const tp_field *truth_field, *pred_field; /* what tp_tally_record reads; may be NULL */
    tp_labelset truth, pred;
    int64_t *count;
    int cap;
    int64_t records;    /* pairs added, labelled or not */
    int64_t unlabelled; /* of them with truth -1 */
} tp_tally;

/* An empty tally reading records by the two integer fields (NULL for tp_tally_add alone). */
tp_tally *tp_tally_new(const tp_field *truth, const tp_field *pred);
void tp_tally_free(tp_tally *t);
/* Adds one pair. Returns 0, or 1 when the truth's values, 2 when the prediction's would be
 * more than TP_MAX_LABELS (the tally is then incomplete). */
int tp_tally_add(tp_tally *t, int64_t truth, int64_t pred);
/* Adds the pair record rec holds (tp_label_of of both fields). Returns NULL, or the field
 * whose values would be more than TP_MAX_LABELS. */
const tp_field *tp_tally_record(tp_tally *t, const void *rec);

/* Scores of one class, or an average of them. */
typedef struct {
    double precision, recall, f1;
    int64_t support; /* true members; for an average, all labelled records */
} tp_class_score;

/* The report of a tally: what tp_confusion_of fills and tp_confusion_free frees. */
typedef struct {
    tp_map_how how;
    tp_map_how other; /* the mapping compared beside how (TP_MAP_NONE when how is) */
    tp_norm_over norm;
    int64_t records, unlabelled;
    int64_t correct;       /* labelled records whose truth is their mapped label */
    int64_t other_correct; /* the same under the other mapping */
    /* the tally in sorted order */
    int nt, np;
    int64_t *tv, *pv; /* the distinct true (nt) and prediction (np) values, ascending */
    int64_t *table;   /* nt x np: table[t * np + p], labelled records of each pair */
    int64_t *map;     /* np: each prediction value's label (-1: none) */
    int64_t *size;    /* np: its labelled records */
    int64_t *agree;   /* np: of them those whose truth is its label */
    /* the mapped labels */
    int k;            /* labels: the true ones and the mapped ones in use, ascending */
    int64_t *labels;  /* k */
    char **names;     /* k: the classes metadata's name of each, else the number */
    int64_t *m;       /* k x k, rows true, columns predicted */
    tp_class_score *s; /* k + 2: each class, then the macro and the weighted average */
    double *normed;   /* k x k normalised as norm says; NULL for TP_NORM_NONE */
} tp_confusion;

/* The report of tally t with prediction values mapped by how and the matrix normalised over
 * norm; the names come from h's classes metadata (h may be NULL: numbers). */
void tp_confusion_of(tp_confusion *c, const tp_tally *t, tp_map_how how, tp_norm_over norm, const tp_header *h);
void tp_confusion_free(tp_confusion *c);
/* The share of labelled records mapped to their true label (NaN when there are none). */
double tp_confusion_accuracy(const tp_confusion *c);
/* The label prediction value p maps to; -1 for a value the tally never saw. */
int64_t tp_confusion_mapped(const tp_confusion *c, int64_t p);

/* ---- the parts, for a matrix at hand ---- */

/* map[p] for each of the np prediction values pv (ascending) against the nt true ones tv
 * (ascending) from the nt x np table of pair counts, mapped by how: pv[p] itself, the
 * majority's label (-1 for a value with no labelled member), or the one-to-one matching's
 * (lib/hungarian.h; -1 for a value left unmatched). Returns the number of records whose
 * truth equals their mapped label. */
int64_t tp_map_labels(tp_map_how how, const int64_t *table, int nt, int np, const int64_t *tv, const int64_t *pv,
                      int64_t *map);
/* Scores of the k x k matrix m (rows true) into s[0 .. k + 2): each class, then the macro
 * (plain) and the weighted (by support) average. A ratio with a zero denominator is 0. */
void tp_class_scores(const int64_t *m, int k, tp_class_score *s);
/* m as doubles divided as over says (TP_NORM_NONE: not divided); a zero sum gives zeros. */
void tp_confusion_normalise(const int64_t *m, int k, tp_norm_over over, double *out);

/* ---- the reports ---- */

/* One JSON object: input, truth, prediction (the names given), records, unlabelled, labels,
 * names, matrix, normalize (and normalized), correct, accuracy, classes, the averages and
 * mapping (null, or method, the accuracy under each mapping and each cluster's label, size
 * and agreement). */
void tp_confusion_json(FILE *f, const tp_confusion *c, const char *input, const char *truth, const char *field);
/* The text report with digits after the point: the mapping (when there is one), the matrix,
 * the accuracy and the per-class report laid out as scikit-learn's classification_report. */
void tp_confusion_text(FILE *f, const tp_confusion *c, const char *truth, const char *field, int digits);

#endif
