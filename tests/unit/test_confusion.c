/* Unit tests of lib/confusion.c: scikit-learn's confusion_matrix and classification_report
 * and numpy's and SciPy's cluster mappings on the fixtures of tests/fixtures/make_confmat.py,
 * then cases worked by hand: a 3 x 3 and a 2 x 2 matrix with their scores, a majority tie,
 * a class never predicted, a one-to-one matching that leaves clusters over, label sets
 * filling up, the dtypes a record's labels are read from, and both reports.
 *
 * Tolerances: counts, labels and mappings are exact; scikit-learn's ratios are the same
 * divisions of the same integers, its averages the same sums in another order, so 1e-12. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "confusion.h"
#include "json.h"
#include "stream.h"
#include "util.h"

static char path[1024];

static const char *fixture(const char *name)
{
    const char *t = getenv("TESTS");
    snprintf(path, sizeof path, "%s/fixtures/%s", t ? t : "tests", name);
    return path;
}

/* The whole of file p, NUL-ended (dies when it cannot be read). */
static char *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        tp_die("%s: cannot open", p);
    size_t cap = 1 << 16, n = 0;
    char *b = tp_alloc(cap, 1);
    for (size_t got; (got = fread(b + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (n + 1 == cap)
            b = tp_realloc(b, cap *= 2, 1);
    }
    fclose(f);
    b[n] = 0;
    *len = n;
    return b;
}

static tp_json *load_json(const char *p)
{
    size_t len;
    char *text = slurp(p, &len), err[256];
    tp_json *j = tp_json_parse(text, len, err, sizeof err);
    if (!j)
        tp_die("%s: %s", p, err);
    free(text);
    return j;
}

/* Member key of j, which must be there. */
static const tp_json *get(const tp_json *j, const char *key)
{
    const tp_json *v = tp_json_get(j, key);
    if (!v)
        tp_die("no member '%s' in the fixture", key);
    return v;
}

/* The tally of a fixture's two fields, and its header (for the class names) in *hdr. */
static tp_tally *tally_of(const char *name, const char *truth, const char *pred, tp_header *hdr)
{
    char err[256];
    tp_reader *r = tp_reader_open(fixture(name), err, sizeof err);
    if (!r)
        tp_die("%s: %s", path, err);
    const tp_header *h = tp_reader_header(r);
    int ti = tp_header_find_int(h, truth), pi = tp_header_find_int(h, pred);
    TP_ASSERT(ti >= 0 && pi >= 0);
    tp_header_copy(hdr, h);
    tp_tally *t = tp_tally_new(&hdr->fields[ti], &hdr->fields[pi]);
    const void *rec;
    while ((rec = tp_reader_next(r)))
        CHECK(tp_tally_record(t, rec) == NULL);
    CHECK(tp_reader_error(r) == NULL);
    tp_reader_close(r);
    return t;
}

/* The scores s against scikit-learn's report entry w (precision, recall, f1-score, support). */
static void check_score(const tp_class_score *s, const tp_json *w)
{
    CHECK_NEAR(s->precision, get(w, "precision")->num, 1e-12);
    CHECK_NEAR(s->recall, get(w, "recall")->num, 1e-12);
    CHECK_NEAR(s->f1, get(w, "f1-score")->num, 1e-12);
    CHECK_INT(s->support, get(w, "support")->num);
}

/* c's per-class scores and averages against a classification_report(output_dict=True). */
static void check_report(const tp_confusion *c, const tp_json *rep)
{
    for (int a = 0; a < c->k; a++) {
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)c->labels[a]);
        check_score(&c->s[a], get(rep, key));
    }
    check_score(&c->s[c->k], get(rep, "macro avg"));
    check_score(&c->s[c->k + 1], get(rep, "weighted avg"));
    CHECK_NEAR(tp_confusion_accuracy(c), get(rep, "accuracy")->num, 1e-12);
}

/* The k x k matrix m (rows true) equals the fixture's nested array w. */
static void check_matrix(const int64_t *m, int k, const tp_json *w)
{
    CHECK_INT(w->n, k);
    for (int a = 0; a < k && a < w->n; a++) {
        CHECK_INT(w->kids[a].n, k);
        for (int b = 0; b < k && b < w->kids[a].n; b++)
            CHECK_INT(m[a * k + b], w->kids[a].kids[b].num);
    }
}

/* ---- scikit-learn's figures ---- */

static void test_labels_fixture(const tp_json *want)
{
    tp_header h;
    tp_tally *t = tally_of("confmat_labels.tp", "y", "pred", &h);
    CHECK_INT(t->records, get(want, "records")->num);
    CHECK_INT(t->unlabelled, get(want, "unlabelled")->num);
    const char *norms[] = {"true", "pred", "all"};
    for (int over = TP_NORM_NONE; over <= TP_NORM_ALL; over++) {
        tp_confusion c;
        tp_confusion_of(&c, t, TP_MAP_NONE, (tp_norm_over)over, &h);
        CHECK_INT(c.records, 200);
        CHECK_INT(c.unlabelled, 7);
        const tp_json *labels = get(want, "labels"), *names = get(want, "names");
        CHECK_INT(c.k, labels->n);
        for (int a = 0; a < c.k && a < labels->n; a++) {
            CHECK_INT(c.labels[a], labels->kids[a].num);
            CHECK(strcmp(c.names[a], names->kids[a].str) == 0);
        }
        check_matrix(c.m, c.k, get(want, "matrix"));
        check_report(&c, get(want, "report"));
        /* -3 is predicted but never true, 9 true but never predicted: both score 0 */
        CHECK_INT(c.labels[0], -3);
        CHECK(c.s[0].precision == 0 && c.s[0].recall == 0 && c.s[0].f1 == 0 && c.s[0].support == 0);
        CHECK_INT(c.labels[c.k - 1], 9);
        CHECK(c.s[c.k - 1].precision == 0 && c.s[c.k - 1].f1 == 0 && c.s[c.k - 1].support > 0);
        /* no mapping: every prediction value is its own label */
        CHECK(c.other == TP_MAP_NONE);
        for (int p = 0; p < c.np; p++)
            CHECK_INT(c.map[p], c.pv[p]);
        if (over == TP_NORM_NONE) {
            CHECK(c.normed == NULL);
        } else {
            const tp_json *w = get(get(want, "normalized"), norms[over - 1]);
            CHECK(c.normed != NULL);
            CHECK_INT(w->n, c.k);
            for (int a = 0; c.normed && a < c.k && a < w->n; a++)
                for (int b = 0; b < c.k; b++)
                    CHECK_NEAR(c.normed[a * c.k + b], w->kids[a].kids[b].num, 1e-12);
        }
        tp_confusion_free(&c);
    }
    tp_tally_free(t);
    tp_header_free(&h);
}

/* An array of the fixture as integers, compared with v[0..n). */
static void check_ints(const int64_t *v, int n, const tp_json *w)
{
    CHECK_INT(w->n, n);
    for (int i = 0; i < n && i < w->n; i++)
        CHECK_INT(v[i], w->kids[i].num);
}

static void test_clusters_fixture(const tp_json *want)
{
    const tp_json *w = get(want, "clusters");
    tp_header h;
    tp_tally *t = tally_of("confmat_clusters.tp", "y", "cluster", &h);
    CHECK_INT(t->records, 300);
    CHECK_INT(t->unlabelled, 0);
    tp_confusion maj, hun;
    tp_confusion_of(&maj, t, TP_MAP_MAJORITY, TP_NORM_NONE, &h);
    tp_confusion_of(&hun, t, TP_MAP_HUNGARIAN, TP_NORM_NONE, &h);
    check_ints(maj.pv, maj.np, get(w, "clusters"));
    check_ints(maj.size, maj.np, get(w, "sizes"));
    check_ints(maj.map, maj.np, get(w, "majority"));
    check_ints(hun.map, hun.np, get(w, "hungarian"));
    CHECK_INT(maj.correct, get(w, "majority_correct")->num);
    CHECK_INT(hun.correct, get(w, "hungarian_correct")->num);
    /* each reports the other's accuracy beside its own */
    CHECK(maj.other == TP_MAP_HUNGARIAN && hun.other == TP_MAP_MAJORITY);
    CHECK_INT(maj.other_correct, hun.correct);
    CHECK_INT(hun.other_correct, maj.correct);
    /* agree: a cluster's members whose true label is its label, summing to correct */
    int64_t sum = 0;
    for (int p = 0; p < maj.np; p++)
        sum += maj.agree[p];
    CHECK_INT(sum, maj.correct);
    /* the majority-mapped labels: 0..5, the fixture's matrix and report */
    CHECK_INT(maj.k, 6);
    check_matrix(maj.m, maj.k, get(w, "majority_matrix"));
    check_report(&maj, get(w, "majority_report"));
    /* the matching leaves clusters 6 and 7 over: -1 is a label of its own */
    CHECK_INT(hun.k, 7);
    CHECK_INT(hun.labels[0], -1);
    CHECK(strcmp(hun.names[0], "-1") == 0);
    CHECK_INT(tp_confusion_mapped(&hun, 7), -1);
    CHECK_INT(tp_confusion_mapped(&hun, 0), 1);
    CHECK_INT(tp_confusion_mapped(&maj, 7), 0);
    CHECK_INT(tp_confusion_mapped(&maj, 8), -1); /* a value never seen */
    tp_confusion_free(&maj);
    tp_confusion_free(&hun);
    tp_tally_free(t);
    tp_header_free(&h);
}

/* ---- by hand ---- */

/* c's JSON object (json) or text report, as a string (free it). */
static char *written(const tp_confusion *c, int json, int digits)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    TP_ASSERT(f);
    if (json)
        tp_confusion_json(f, c, "in.tp", "y", "cluster");
    else
        tp_confusion_text(f, c, "y", "cluster", digits);
    fclose(f);
    return buf;
}


/* The tally of n (truth, prediction) pairs. */
static tp_tally *tally_pairs(const int64_t (*pairs)[2], int n)
{
    tp_tally *t = tp_tally_new(NULL, NULL);
    for (int i = 0; i < n; i++)
        CHECK_INT(tp_tally_add(t, pairs[i][0], pairs[i][1]), 0);
    return t;
}

static void test_three_classes(void)
{
    /*   y    0 0 0 0 1 1 1 2 2 2
     *   pred 0 0 0 1 1 2 2 2 2 0
     * matrix (rows true): 3 1 0 / 0 1 2 / 1 0 2; accuracy 6/10.
     * 0: precision 3/4, recall 3/4, F1 3/4, support 4.
     * 1: precision 1/2, recall 1/3, F1 2 (1/2)(1/3) / (5/6) = 2/5, support 3.
     * 2: precision 2/4, recall 2/3, F1 (2/3) / (7/6) = 4/7, support 3.
     * macro: precision (3/4 + 1/2 + 1/2) / 3 = 7/12, recall (3/4 + 1/3 + 2/3) / 3 = 7/12,
     * F1 (3/4 + 2/5 + 4/7) / 3; weighted by 4 3 3: precision (3 + 1.5 + 1.5) / 10 = 0.6,
     * recall 0.6, F1 (3 + 6/5 + 12/7) / 10. */
    static const int64_t pairs[10][2] = {{0, 0}, {0, 0}, {0, 0}, {0, 1}, {1, 1},
                                         {1, 2}, {1, 2}, {2, 2}, {2, 2}, {2, 0}};
    tp_tally *t = tally_pairs(pairs, 10);
    tp_header h;
    tp_header_init(&h);
    tp_header_set_meta(&h, "classes", "cat\ndog\nbird");
    tp_confusion c;
    tp_confusion_of(&c, t, TP_MAP_NONE, TP_NORM_TRUE, &h);
    const int64_t m[9] = {3, 1, 0, 0, 1, 2, 1, 0, 2};
    CHECK_INT(c.k, 3);
    CHECK(memcmp(c.m, m, sizeof m) == 0);
    CHECK(strcmp(c.names[0], "cat") == 0 && strcmp(c.names[1], "dog") == 0 && strcmp(c.names[2], "bird") == 0);
    CHECK_INT(c.correct, 6);
    CHECK_NEAR(tp_confusion_accuracy(&c), 0.6, 1e-15);
    const double want[5][3] = {{0.75, 0.75, 0.75},
                               {0.5, 1.0 / 3, 0.4},
                               {0.5, 2.0 / 3, 4.0 / 7},
                               {7.0 / 12, 7.0 / 12, (0.75 + 0.4 + 4.0 / 7) / 3},
                               {0.6, 0.6, (3 + 1.2 + 12.0 / 7) / 10}};
    const int64_t support[5] = {4, 3, 3, 10, 10};
    for (int a = 0; a < 5; a++) {
        CHECK_NEAR(c.s[a].precision, want[a][0], 1e-15);
        CHECK_NEAR(c.s[a].recall, want[a][1], 1e-15);
        CHECK_NEAR(c.s[a].f1, want[a][2], 1e-15);
        CHECK_INT(c.s[a].support, support[a]);
    }
    /* over each row: dog's is 0, 1/3, 2/3 */
    CHECK_NEAR(c.normed[3], 0, 0);
    CHECK_NEAR(c.normed[4], 1.0 / 3, 1e-15);
    CHECK_NEAR(c.normed[5], 2.0 / 3, 1e-15);
    /* over each column: cat's is 3/4, 0, 1/4; over all: n = 10 */
    double v[9];
    tp_confusion_normalise(c.m, 3, TP_NORM_PRED, v);
    CHECK(v[0] == 0.75 && v[3] == 0 && v[6] == 0.25 && v[1] == 0.5 && v[8] == 0.5);
    tp_confusion_normalise(c.m, 3, TP_NORM_ALL, v);
    CHECK(v[0] == 0.3 && v[1] == 0.1 && v[2] == 0 && v[5] == 0.2);
    tp_confusion_normalise(c.m, 3, TP_NORM_NONE, v);
    CHECK(v[0] == 3 && v[5] == 2 && v[7] == 0);
    /* the JSON writes each number in the fewest digits that read back as the same double */
    char *js = written(&c, 1, 4);
    CHECK(strstr(js, "\n \"normalized\": [[0.75, 0.25, 0],\n                [0, 0.3333333333333333, 0.6666666666666666],\n") !=
          NULL);
    CHECK(strstr(js, "\n \"correct\": 6, \"accuracy\": 0.6,\n") != NULL);
    CHECK(strstr(js, "{\"label\": 1, \"name\": \"dog\", \"scores\": {\"precision\": 0.5, \"recall\": 0.3333333333333333, "
                     "\"f1-score\": 0.4, \"support\": 3}}") != NULL);
    free(js);
    tp_confusion_free(&c);
    /* without a header the names are the numbers */
    tp_confusion_of(&c, t, TP_MAP_NONE, TP_NORM_NONE, NULL);
    CHECK(strcmp(c.names[2], "2") == 0);
    CHECK(c.normed == NULL);
    tp_confusion_free(&c);
    tp_header_free(&h);
    tp_tally_free(t);
}

static void test_two_classes(void)
{
    /* rows true: 5 1 / 2 4. Class 0: precision 5/7, recall 5/6, F1 2 (5/7)(5/6) / (65/42) =
     * 10/13. Class 1: precision 4/5, recall 4/6, F1 2 (4/5)(2/3) / (22/15) = 8/11. */
    const int64_t m[4] = {5, 1, 2, 4};
    tp_class_score s[4];
    tp_class_scores(m, 2, s);
    CHECK_NEAR(s[0].precision, 5.0 / 7, 1e-15);
    CHECK_NEAR(s[0].recall, 5.0 / 6, 1e-15);
    CHECK_NEAR(s[0].f1, 10.0 / 13, 1e-15);
    CHECK_NEAR(s[1].precision, 0.8, 1e-15);
    CHECK_NEAR(s[1].recall, 2.0 / 3, 1e-15);
    CHECK_NEAR(s[1].f1, 8.0 / 11, 1e-15);
    CHECK_NEAR(s[2].f1, (10.0 / 13 + 8.0 / 11) / 2, 1e-15);
    CHECK_NEAR(s[3].precision, (5.0 / 7 * 6 + 0.8 * 6) / 12, 1e-15);
    CHECK_INT(s[0].support, 6);
    CHECK_INT(s[2].support, 12);
    CHECK_INT(s[3].support, 12);
}

static void test_never_predicted(void)
{
    /* labels 0 1 2; 2 is never predicted (its precision's denominator is 0) and the
     * prediction 3 is never true (its recall's): zero_division=0 makes each ratio 0.
     *   rows true 0 1 2 3: 2 0 0 0 / 1 1 0 0 / 1 0 0 1 / 0 0 0 0 */
    static const int64_t pairs[6][2] = {{0, 0}, {0, 0}, {1, 0}, {1, 1}, {2, 0}, {2, 3}};
    tp_tally *t = tally_pairs(pairs, 6);
    tp_confusion c;
    tp_confusion_of(&c, t, TP_MAP_NONE, TP_NORM_PRED, NULL);
    CHECK_INT(c.k, 4);
    CHECK(c.s[2].precision == 0 && c.s[2].recall == 0 && c.s[2].f1 == 0);
    CHECK_INT(c.s[2].support, 2);
    CHECK(c.s[3].precision == 0 && c.s[3].recall == 0 && c.s[3].f1 == 0);
    CHECK_INT(c.s[3].support, 0);
    /* class 0: precision 2/4, recall 1; class 1: precision 1, recall 1/2 */
    CHECK_NEAR(c.s[0].precision, 0.5, 0);
    CHECK_NEAR(c.s[0].recall, 1, 0);
    CHECK_NEAR(c.s[1].f1, 2.0 / 3, 1e-15);
    CHECK_NEAR(c.s[4].precision, (0.5 + 1) / 4, 1e-15);
    /* column 2 sums to 0: its normalised entries are 0, not NaN */
    for (int a = 0; a < 4; a++)
        CHECK(c.normed[a * 4 + 2] == 0);
    CHECK_NEAR(c.normed[1 * 4 + 0], 0.25, 0);
    tp_confusion_free(&c);
    tp_tally_free(t);
}

static void test_majority(void)
{
    /* cluster 5: two of label 3 (seen first) and two of 1: the tie goes to 1, the smaller;
     * cluster 2: one of 3 and three of 4; cluster 9: unlabelled members only (-1, size 0). */
    static const int64_t pairs[11][2] = {{3, 5}, {3, 5}, {1, 5}, {1, 5}, {3, 2},  {4, 2},
                                         {4, 2}, {4, 2}, {-1, 9}, {-1, 9}, {-1, 5}};
    tp_tally *t = tally_pairs(pairs, 11);
    CHECK_INT(t->records, 11);
    CHECK_INT(t->unlabelled, 3);
    tp_confusion c;
    tp_confusion_of(&c, t, TP_MAP_MAJORITY, TP_NORM_NONE, NULL);
    CHECK_INT(c.np, 3);
    const int64_t pv[3] = {2, 5, 9}, map[3] = {4, 1, -1}, size[3] = {4, 4, 0}, agree[3] = {3, 2, 0};
    CHECK(memcmp(c.pv, pv, sizeof pv) == 0);
    CHECK(memcmp(c.map, map, sizeof map) == 0);
    CHECK(memcmp(c.size, size, sizeof size) == 0);
    CHECK(memcmp(c.agree, agree, sizeof agree) == 0);
    CHECK_INT(c.correct, 5);
    /* labels: the true 1 3 4 (the empty cluster's -1 is not in use); rows true 1 3 4:
     * 1: 2 0 0 (cluster 5 -> 1) / 3: 2 0 1 / 4: 0 0 3 */
    CHECK_INT(c.k, 3);
    const int64_t m[9] = {2, 0, 0, 2, 0, 1, 0, 0, 3};
    CHECK(memcmp(c.m, m, sizeof m) == 0);
    CHECK_INT(c.s[c.k].support, 8);
    /* the one-to-one matching beside it: 5 -> 3 (2) with 2 -> 4 (3) agrees on 5 as well;
     * 5 -> 1 with 2 -> 4 agrees on 5 too, so only the total is fixed */
    CHECK_INT(c.other_correct, 5);
    int64_t direct[3];
    CHECK_INT(tp_map_labels(TP_MAP_MAJORITY, c.table, c.nt, c.np, c.tv, c.pv, direct), 5);
    CHECK(memcmp(direct, map, sizeof map) == 0);
    tp_confusion_free(&c);
    tp_tally_free(t);
}

static void test_hungarian_leftover(void)
{
    /* 3 clusters for 2 labels, table rows true 0 1 x columns clusters 0 1 2:
     *   0: 4 3 0
     *   1: 0 3 1
     * one-to-one: 0 -> 0 with 1 -> 1 agrees on 7, better than 0 -> 0 with 2 -> 1 (5),
     * 1 -> 0 with 2 -> 1 (4), ...; cluster 2 is left over and maps to -1. */
    static const int64_t pairs[11][2] = {{0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 1}, {0, 1},
                                         {0, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 2}};
    tp_tally *t = tally_pairs(pairs, 11);
    tp_confusion c;
    tp_confusion_of(&c, t, TP_MAP_HUNGARIAN, TP_NORM_NONE, NULL);
    const int64_t map[3] = {0, 1, -1};
    CHECK(memcmp(c.map, map, sizeof map) == 0);
    CHECK_INT(c.correct, 7);
    CHECK_INT(tp_confusion_mapped(&c, 2), -1);
    /* -1 shows as a label of its own: rows true -1 0 1: 0 0 0 / 0 4 3 / 1 0 3 */
    CHECK_INT(c.k, 3);
    const int64_t labels[3] = {-1, 0, 1}, m[9] = {0, 0, 0, 0, 4, 3, 1, 0, 3};
    CHECK(memcmp(c.labels, labels, sizeof labels) == 0);
    CHECK(memcmp(c.m, m, sizeof m) == 0);
    CHECK_NEAR(tp_confusion_accuracy(&c), 7.0 / 11, 1e-15);
    /* majority beside it: 0 -> 0, 1 -> 0 (3 against 3: the smaller), 2 -> 1: 4 + 3 + 1 */
    CHECK_INT(c.other_correct, 8);
    tp_confusion_free(&c);
    tp_tally_free(t);
}

static void test_full(void)
{
    tp_labelset *s = tp_calloc(1, sizeof *s);
    for (int i = 0; i < TP_MAX_LABELS; i++)
        CHECK_INT(tp_labelset_index(s, (int64_t)i * 7919 - 3000), i);
    CHECK_INT(tp_labelset_index(s, 7919 - 3000), 1); /* known values are still found */
    CHECK_INT(tp_labelset_index(s, -1), -1);         /* a new one is refused */
    CHECK_INT(s->n, TP_MAX_LABELS);
    free(s);
    /* the tally says which field is full: the prediction's first, as it is indexed first */
    tp_tally *t = tp_tally_new(NULL, NULL);
    for (int i = 0; i < TP_MAX_LABELS; i++)
        CHECK_INT(tp_tally_add(t, i, 0), 0);
    CHECK_INT(tp_tally_add(t, TP_MAX_LABELS, 0), 1);
    tp_tally_free(t);
    t = tp_tally_new(NULL, NULL);
    for (int i = 0; i < TP_MAX_LABELS; i++)
        CHECK_INT(tp_tally_add(t, -1, i), 0);
    CHECK_INT(tp_tally_add(t, -1, -5), 2);
    tp_tally_free(t);
}

static void test_record_dtypes(void)
{
    /* truth i16 at offset 1 (unaligned), prediction i64 beyond 2^53: read exactly */
    tp_header h;
    tp_header_init(&h);
    tp_header_add(&h, "pad", TP_U8, 0, NULL);
    tp_header_add(&h, "y", TP_I16, 0, NULL);
    tp_header_add(&h, "pred", TP_I64, 0, NULL);
    tp_tally *t = tp_tally_new(&h.fields[1], &h.fields[2]);
    const int16_t ys[3] = {-7, -1, 300};
    const int64_t ps[3] = {((int64_t)1 << 53) + 1, 5, -((int64_t)1 << 60)};
    unsigned char rec[11];
    for (int i = 0; i < 3; i++) {
        memset(rec, 0xee, sizeof rec);
        memcpy(rec + h.fields[1].offset, &ys[i], 2);
        memcpy(rec + h.fields[2].offset, &ps[i], 8);
        CHECK(tp_tally_record(t, rec) == NULL);
    }
    CHECK_INT(h.fields[1].offset, 1);
    CHECK_INT(t->unlabelled, 1);
    tp_confusion c;
    tp_confusion_of(&c, t, TP_MAP_NONE, TP_NORM_NONE, &h);
    const int64_t tv[2] = {-7, 300}, pv[3] = {-((int64_t)1 << 60), 5, ((int64_t)1 << 53) + 1};
    CHECK_INT(c.nt, 2);
    CHECK_INT(c.np, 3);
    CHECK(memcmp(c.tv, tv, sizeof tv) == 0);
    CHECK(memcmp(c.pv, pv, sizeof pv) == 0);
    CHECK_INT(c.correct, 0);
    CHECK_INT(c.k, 4); /* -7 300 and the two predictions of labelled records; 5 is not in use */
    tp_confusion_free(&c);
    tp_tally_free(t);
    tp_header_free(&h);
}

/* ---- the reports ---- */

static void test_reports(void)
{
    /* the majority case above: its report read back */
    static const int64_t pairs[11][2] = {{3, 5}, {3, 5}, {1, 5}, {1, 5}, {3, 2},  {4, 2},
                                         {4, 2}, {4, 2}, {-1, 9}, {-1, 9}, {-1, 5}};
    tp_tally *t = tally_pairs(pairs, 11);
    tp_confusion c;
    tp_confusion_of(&c, t, TP_MAP_MAJORITY, TP_NORM_ALL, NULL);
    char *js = written(&c, 1, 4), err[256];
    tp_json *j = tp_json_parse(js, strlen(js), err, sizeof err);
    CHECK(j != NULL);
    if (j) {
        CHECK(strcmp(get(j, "input")->str, "in.tp") == 0);
        CHECK(strcmp(get(j, "prediction")->str, "cluster") == 0);
        CHECK_INT(get(j, "records")->num, 11);
        CHECK_INT(get(j, "unlabelled")->num, 3);
        check_matrix(c.m, c.k, get(j, "matrix"));
        CHECK(strcmp(get(j, "normalize")->str, "all") == 0);
        const tp_json *nz = get(j, "normalized");
        CHECK_INT(nz->n, 3);
        CHECK(nz->n == 3 && nz->kids[1].kids[2].num == 0.125); /* 1 of 8 */
        CHECK_INT(get(j, "correct")->num, 5);
        CHECK(get(j, "accuracy")->num == 0.625); /* shortest digits that read back exactly */
        const tp_json *cl = get(j, "classes");
        CHECK_INT(cl->n, 3);
        CHECK(cl->n == 3 && get(&cl->kids[2], "label")->num == 4 && strcmp(get(&cl->kids[2], "name")->str, "4") == 0);
        CHECK(cl->n == 3 && get(get(&cl->kids[2], "scores"), "precision")->num == 0.75);
        CHECK_NEAR(get(get(j, "weighted avg"), "recall")->num, 0.625, 0);
        const tp_json *mp = get(j, "mapping");
        CHECK(mp->type == TP_JSON_OBJ && strcmp(get(mp, "method")->str, "majority") == 0);
        CHECK(get(get(mp, "accuracy"), "hungarian")->num == 0.625);
        const tp_json *cs = get(mp, "clusters");
        CHECK_INT(cs->n, 3);
        CHECK(cs->n == 3 && get(&cs->kids[2], "cluster")->num == 9 && get(&cs->kids[2], "label")->num == -1 &&
              get(&cs->kids[2], "size")->num == 0);
    }
    tp_json_free(j);
    free(js);
    char *tx = written(&c, 0, 3);
    CHECK(strstr(tx, "Mapping (majority vote): each cluster's label") == tx);
    CHECK(strstr(tx, "\n        9    -1 (none)         0         0\n") != NULL);
    CHECK(strstr(tx, "Confusion matrix normalised over all records (rows: true y, columns: predicted after mapping)") != NULL);
    CHECK(strstr(tx, "\nAccuracy 0.625 (5 of 8 records; 3 more without a label not counted)\n") != NULL);
    CHECK(strstr(tx, "\nAccuracy 0.625 with the hungarian mapping instead\n") != NULL);
    CHECK(strstr(tx, "\n    accuracy                          0.625         8\n") != NULL);
    free(tx);
    tp_confusion_free(&c);
    /* no mapping: "mapping": null, and the columns named by the field */
    tp_confusion_of(&c, t, TP_MAP_NONE, TP_NORM_NONE, NULL);
    js = written(&c, 1, 4);
    j = tp_json_parse(js, strlen(js), err, sizeof err);
    CHECK(j && get(j, "mapping")->type == TP_JSON_NULL && tp_json_get(j, "normalized") == NULL);
    tp_json_free(j);
    free(js);
    tx = written(&c, 0, 2);
    CHECK(strstr(tx, "Confusion matrix (rows: true y, columns: predicted cluster)\n") == tx);
    CHECK(strstr(tx, "Mapping") == NULL);
    free(tx);
    tp_confusion_free(&c);
    tp_tally_free(t);
}

int main(void)
{
    tp_init("test_confusion");
    tp_json *want = load_json(fixture("confmat_want.json"));
    test_labels_fixture(want);
    test_clusters_fixture(want);
    tp_json_free(want);
    test_three_classes();
    test_two_classes();
    test_never_predicted();
    test_majority();
    test_hungarian_leftover();
    test_full();
    test_record_dtypes();
    test_reports();
    return check_result();
}
