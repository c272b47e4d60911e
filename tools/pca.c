/* pca — principal component analysis: fits k components and replaces a field by its
 * projection, or applies a saved model to another stream. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pca.h"
#include "progress.h"
#include "stream.h"
#include "util.h"

#define CHUNK_BYTES (8u << 20) /* records read or written together */

/* The output header: the input's, with field xi replaced by f32[k] and the pca meta. */
static void out_header(const tp_header *in, int xi, const tp_pca_model *m, const char *name, tp_header *oh)
{
    char err[256], v[64];
    tp_header_copy(oh, in);
    if (tp_header_replace_field(oh, xi, TP_F32, 1, &m->k, err, sizeof err))
        tp_die("%s: %s", name, err);
    double cum = 0;
    for (int64_t r = 0; r < m->k; r++)
        cum += m->ratio[r];
    snprintf(v, sizeof v, "%lld", (long long)m->k);
    tp_header_set_meta(oh, "pca_components", v);
    snprintf(v, sizeof v, "%.6f", cum);
    tp_header_set_meta(oh, "pca_explained", v);
    if (m->whiten)
        tp_header_set_meta(oh, "pca_whiten", "1");
    else
        tp_header_del_meta(oh, "pca_whiten");
}

/* n records laid out by in at src, with field xi replaced by the scores (n x k), into dst. */
static void fill(const tp_header *in, const tp_header *oh, int xi, const unsigned char *src, const float *scores,
                 int64_t k, int64_t n, unsigned char *dst)
{
    for (int64_t i = 0; i < n; i++) {
        unsigned char *d = dst + (size_t)i * oh->record_size;
        tp_copy_fields(in, src + (size_t)i * in->record_size, oh, d);
        memcpy(d + oh->fields[xi].offset, scores + i * k, (size_t)k * sizeof *scores);
    }
}

/* The model's one line on stderr: components kept, their share of the variance. */
static void report(const tp_pca_model *m, const char *name)
{
    double cum = 0;
    for (int64_t r = 0; r < m->k; r++)
        cum += m->ratio[r];
    fprintf(stderr, "%s: %s: %lld records x %lld values: %lld components explain %.4f of the variance "
                    "(first %.4f, last %.4f; %s%s)\n",
            tp_progname(), name, (long long)m->n_samples, (long long)m->d, (long long)m->k,
            cum, m->ratio[0], m->ratio[m->k - 1], tp_pca_method_name(m->method), m->whiten ? ", whitened" : "");
}

/* Applies the model at path to the stream r, chunk by chunk (bounded memory). */
static void apply(const char *path, tp_reader *r, const char *field, const char *out)
{
    char err[256];
    tp_pca_model m;
    if (tp_pca_load(path, &m, err, sizeof err))
        tp_die("%s: %s", path, err);
    const char *name = tp_reader_name(r);
    const tp_header *h = tp_reader_header(r);
    int xi = tp_field_or_die(h, name, field);
    const tp_field *f = &h->fields[xi];
    if ((int64_t)f->nelem != m.d)
        tp_die("%s: field '%s' holds %zu values per record, but the model %s was fitted on %lld", name, field, f->nelem,
               path, (long long)m.d);
    tp_header oh;
    out_header(h, xi, &m, name, &oh);
    int64_t per = h->record_size >= CHUNK_BYTES ? 1 : (int64_t)(CHUNK_BYTES / h->record_size);
    unsigned char *src = tp_alloc((size_t)per, h->record_size), *dst = tp_calloc((size_t)per, oh.record_size);
    float *sc = tp_alloc((size_t)per * (size_t)m.k, sizeof *sc);
    tp_writer *w = tp_writer_open(out, &oh);
    tp_progress pr;
    tp_progress_start(&pr, "pca", h->count, "records");
    int64_t done = 0;
    for (;;) {
        int64_t n = tp_reader_read(r, src, per);
        if (n < 0)
            tp_die("%s: %s", name, tp_reader_error(r));
        if (n == 0)
            break;
        tp_pca_rows x = {src + f->offset, h->record_size, f->dtype, n, m.d};
        if (tp_pca_transform(&m, &x, done, sc, err, sizeof err))
            tp_die("%s: %s", name, err);
        fill(h, &oh, xi, src, sc, m.k, n, dst);
        tp_writer_write(w, dst, n);
        done += n;
        tp_progress_update(&pr, done);
    }
    tp_writer_close(w);
    tp_progress_end(&pr, done);
    free(src);
    free(dst);
    free(sc);
    tp_header_free(&oh);
    tp_pca_model_free(&m);
}

/* Writes the model, fitted on field f called field, to path (atomically). */
static void save_model(const tp_pca_model *m, const tp_field *f, const char *field, const char *path)
{
    tp_header mh;
    tp_header_init(&mh);
    tp_header_set_meta(&mh, "field", field);
    char shape[TP_MAX_RANK * 24 + 1] = "1";
    for (int a = 0; a < f->rank; a++) {
        size_t at = a ? strlen(shape) : 0;
        snprintf(shape + at, sizeof shape - at, "%s%lld", a ? " " : "", (long long)f->shape[a]);
    }
    tp_header_set_meta(&mh, "input_shape", shape);
    tp_header_set_meta(&mh, "input_dtype", tp_dtype_name(f->dtype));
    tp_pca_model_write(path, m, &mh);
    tp_header_free(&mh);
}

/* Every record of r in one allocation; the count in *n. */
static unsigned char *read_all(tp_reader *r, int64_t *n)
{
    const tp_header *h = tp_reader_header(r);
    size_t size = h->record_size;
    int64_t first = (int64_t)((256u << 20) / size) + 1; /* a promised count larger than this is not trusted yet */
    int64_t cap = h->count > 0 && h->count < first ? h->count : first, got = 0;
    unsigned char *buf = tp_alloc((size_t)cap, size);
    for (;;) {
        if (got == cap)
            buf = tp_realloc(buf, (size_t)(cap *= 2), size);
        int64_t k = tp_reader_read(r, buf + (size_t)got * size, cap - got);
        if (k < 0)
            tp_die("%s: %s", tp_reader_name(r), tp_reader_error(r));
        if (k == 0)
            break;
        got += k;
    }
    *n = got;
    return buf;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    const char *k_s = NULL, *field = "x", *out = "-", *save = NULL, *model = NULL, *method_s = "auto";
    int whiten = 0, fit_only = 0, quiet = 0;
    int64_t seed = 42;
    const tp_option opts[] = {
        TP_STRING("components", 'k', &k_s, "N|F", "keep N components, or the fewest whose cumulative explained variance ratio exceeds a fraction F in (0, 1) (default: all, min(records, values))"),
        TP_FLAG("whiten", 'w', &whiten, "divide each projection by the square root of its explained variance"),
        TP_STRING("field", 'f', &field, "NAME", "the field to analyse (any numeric dtype and shape, flattened)"),
        TP_STRING("output", 'o', &out, "FILE", "write the projected stream to FILE"),
        TP_STRING("save", 0, &save, "MODEL", "also write the fitted model to MODEL (a one-record stream)"),
        TP_FLAG("fit-only", 0, &fit_only, "write only the model (--save), no projected stream"),
        TP_STRING("model", 'm', &model, "MODEL", "apply a saved model instead of fitting (streams in bounded memory)"),
        TP_STRING("method", 0, &method_s, "NAME", "auto, cov (D x D covariance), gram (N x N Gram matrix) or randomized"),
        TP_INT("seed", 's', &seed, "N", "random seed of the randomized method"),
        TP_FLAG("quiet", 'q', &quiet, "do not report the explained variance on stderr"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] [FILE]",
        "Principal component analysis as scikit-learn's PCA: centres the field (any numeric dtype\n"
        "and shape, flattened, computed in double) by its mean, keeps the top k components and\n"
        "replaces the field in every record by its projection, f32[k] under the same name; every\n"
        "other field and the metadata pass through, with pca_components and pca_explained (the\n"
        "cumulative explained variance ratio) added. One line on stderr gives the variance kept.\n"
        "Signs follow scikit-learn 1.2's svd_flip: each component makes the training projection\n"
        "of largest magnitude positive. The fit holds the records in memory; --model applies a\n"
        "saved fit to any stream in bounded memory. Methods (auto chooses): cov, the D x D\n"
        "covariance, where values <= records; gram, the N x N Gram matrix, where records <\n"
        "values; randomized (Halko et al., approximate) where both exceed 8192 and k <= min / 4.",
        opts,
        "Examples:\n"
        "  idx2raw train-images-idx3-ubyte train-labels-idx1-ubyte | pca -k 50 --save pca50.tp | tsne\n"
        "  pca -k 0.95 --fit-only --save pca.tp < train.tp\n"
        "  pca --model pca50.tp < test.tp > test50.tp",
        0, 1,
    };
    char **args;
    int nargs = tp_cli_parse(&cli, argc, argv, &args);
    tp_pca_opts o = {0};
    o.whiten = whiten;
    o.seed = (uint64_t)seed;
    o.progress = 1;
    if (k_s) {
        double v;
        if (tp_parse_f64(k_s, &v) || !(v > 0) || (v >= 1 && (v != floor(v) || v > 1e15)))
            tp_usage("-k wants a count >= 1 or a fraction in (0, 1), not '%s'", k_s);
        if (v < 1)
            o.frac = v;
        else
            o.k = (int64_t)v;
    }
    if (tp_pca_method_parse(method_s, &o.method))
        tp_usage("--method is auto, cov, gram or randomized, not '%s'", method_s);
    if (model && (k_s || whiten || save || fit_only || strcmp(method_s, "auto") != 0))
        tp_usage("--model fixes the components: it takes no -k, --whiten, --save, --fit-only or --method");
    if (fit_only && !save)
        tp_usage("--fit-only writes only the model: name it with --save");
    if (save && !fit_only && strcmp(save, "-") == 0 && strcmp(out, "-") == 0)
        tp_usage("the model and the stream cannot both go to stdout (--fit-only writes only the model)");
    if (save && !fit_only && strcmp(save, out) == 0)
        tp_usage("--save and --output name the same file");

    tp_reader *r = tp_open_or_die(nargs ? args[0] : "-");
    if (model) {
        apply(model, r, field, out);
        tp_reader_close(r);
        free(args);
        return 0;
    }
    const char *name = tp_reader_name(r);
    const tp_header *h = tp_reader_header(r);
    int xi = tp_field_or_die(h, name, field);
    const tp_field *f = &h->fields[xi];
    int64_t n;
    unsigned char *recs = read_all(r, &n);
    tp_pca_rows x = {recs + f->offset, h->record_size, f->dtype, n, (int64_t)f->nelem};
    tp_pca_model m;
    float *scores = NULL;
    char err[256];
    if (tp_pca_fit(&x, &o, &m, fit_only ? NULL : &scores, err, sizeof err))
        tp_die("%s: %s", name, err);
    if (!quiet)
        report(&m, name);

    if (save)
        save_model(&m, f, field, save);
    if (!fit_only) {
        tp_header oh;
        out_header(h, xi, &m, name, &oh);
        oh.count = n;
        int64_t per = oh.record_size >= CHUNK_BYTES ? 1 : (int64_t)(CHUNK_BYTES / oh.record_size);
        unsigned char *dst = tp_calloc((size_t)(per < n ? per : n > 0 ? n : 1), oh.record_size);
        tp_writer *w = tp_writer_open(out, &oh);
        for (int64_t i = 0; i < n; i += per) {
            int64_t c = n - i < per ? n - i : per;
            fill(h, &oh, xi, recs + (size_t)i * h->record_size, scores + i * m.k, m.k, c, dst);
            tp_writer_write(w, dst, c);
        }
        tp_writer_close(w);
        free(dst);
        tp_header_free(&oh);
    }
    free(scores);
    free(recs);
    tp_pca_model_free(&m);
    tp_reader_close(r);
    free(args);
    return 0;
}
