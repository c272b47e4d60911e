/* pca — principal component analysis: fits k components and replaces a field by its
 * projection, or applies a saved model to another stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "comm.h"
#include "outfile.h"
#include "pass.h"
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

/* What fills the projection: the scores of the records, or the model that makes them. */
typedef struct {
    size_t off;            /* the field's offset in the output */
    int64_t k;
    const float *scores;   /* all records' (a fit), or NULL */
    const tp_pca_model *m; /* a saved model applied chunk by chunk */
    const tp_field *f;     /* its input field */
    size_t isz, osz;
    float *sc;
    const char *name;
} proj_ctx;

static void fill(void *ctx, int64_t first, int64_t n, const unsigned char *src, unsigned char *dst)
{
    proj_ctx *c = ctx;
    const float *sc = c->scores ? c->scores + first * c->k : c->sc;
    if (!c->scores) {
        char err[256];
        tp_pca_rows x = {src + c->f->offset, c->isz, c->f->dtype, n, c->m->d};
        if (tp_pca_transform(c->m, &x, first, c->sc, err, sizeof err))
            tp_die("%s: %s", c->name, err);
    }
    for (int64_t i = 0; i < n; i++)
        memcpy(dst + (size_t)i * c->osz + c->off, sc + i * c->k, (size_t)c->k * sizeof *sc);
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
    proj_ctx c = {oh.fields[xi].offset, m.k, NULL, &m, f, h->record_size, oh.record_size,
                  tp_alloc((size_t)per * (size_t)m.k, sizeof(float)), name};
    tp_progress pr;
    tp_progress_start(&pr, "pca", h->count, "records");
    int64_t done = tp_pass_stream(r, &oh, out, per, fill, &c, &pr);
    tp_progress_end(&pr, done);
    free(c.sc);
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

typedef struct {
    const char *in, *field, *out, *save, *model;
    int whiten, fit_only, quiet, method;
    int64_t seed;
    double k;
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.field = "x", .out = "-", .seed = 42};
    const tp_option opts[] = {
        TP_DOUBLE("components", 'k', &o->k, "N|F", "keep N components, or the fewest whose cumulative explained variance ratio exceeds a fraction F in (0, 1) (default: all, min(records, values))",
                  TP_AMOUNT),
        TP_FLAG("whiten", 'w', &o->whiten, "divide each projection by the square root of its explained variance"),
        TP_STRING("field", 'f', &o->field, "NAME", "the field to analyse (any numeric dtype and shape, flattened)"),
        TP_STRING("output", 'o', &o->out, "FILE", "write the projected stream to FILE"),
        TP_STRING("save", 0, &o->save, "MODEL", "also write the fitted model to MODEL (a one-record stream)"),
        TP_FLAG("fit-only", 0, &o->fit_only, "write only the model (--save), no projected stream"),
        TP_STRING("model", 'm', &o->model, "MODEL", "apply a saved model instead of fitting (streams in bounded memory)"),
        TP_CHOICE("method", 0, &o->method, "NAME", "auto, cov (D x D covariance), gram (N x N Gram matrix) or randomized",
                  "auto", "cov", "gram", "randomized"),
        TP_INT("seed", 's', &o->seed, "N", "random seed of the randomized method"),
        TP_FLAG("quiet", 'q', &o->quiet, "do not report the explained variance on stderr"),
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
    o->in = nargs ? args[0] : "-";
    free(args);
    if (o->model && (o->k > 0 || o->whiten || o->save || o->fit_only || o->method != TP_PCA_AUTO))
        tp_usage("--model fixes the components: it takes no -k, --whiten, --save, --fit-only or --method");
    if (o->fit_only && !o->save)
        tp_usage("--fit-only writes only the model: name it with --save");
    if (o->save && !o->fit_only && strcmp(o->save, "-") == 0 && strcmp(o->out, "-") == 0)
        tp_usage("the model and the stream cannot both go to stdout (--fit-only writes only the model)");
    if (o->save && !o->fit_only && tp_same_output(o->save, o->out))
        tp_usage("--save and --output name the same file");
}

/* The fit on all of r's records, its report, the model saved and the stream projected. */
static void fit(const options *o, tp_reader *r)
{
    tp_pca_opts po = {0};
    po.whiten = o->whiten;
    po.seed = (uint64_t)o->seed;
    po.progress = 1;
    po.method = (tp_pca_method)o->method;
    if (o->k > 0 && o->k < 1)
        po.frac = o->k;
    else
        po.k = (int64_t)o->k;
    const char *name = tp_reader_name(r);
    const tp_header *h = tp_reader_header(r);
    int xi = tp_field_or_die(h, name, o->field);
    const tp_field *f = &h->fields[xi];
    int64_t n;
    unsigned char *recs = read_all(r, &n);
    tp_pca_rows x = {recs + f->offset, h->record_size, f->dtype, n, (int64_t)f->nelem};
    tp_pca_model m;
    float *scores = NULL;
    char err[256];
    if (tp_pca_fit(&x, &po, &m, o->fit_only ? NULL : &scores, err, sizeof err))
        tp_die("%s: %s", name, err);
    int root = tp_comm_root(); /* in an MPI job, rank 0 reports and writes */
    if (!o->quiet && root)
        report(&m, name);
    if (o->save && root)
        save_model(&m, f, o->field, o->save);
    if (!o->fit_only && root) {
        tp_header oh;
        out_header(h, xi, &m, name, &oh);
        proj_ctx c = {oh.fields[xi].offset, m.k, scores, NULL, f, h->record_size, oh.record_size, NULL, name};
        tp_pass_buffer(h, recs, n, &oh, o->out, fill, &c);
        tp_header_free(&oh);
    }
    free(scores);
    free(recs);
    tp_pca_model_free(&m);
}

static int run(const options *o)
{
    if (tp_comm_size() > 1 && !strcmp(o->in, "-"))
        tp_usage("under MPI, name the input as a file: stdin reaches rank 0 only");
    tp_reader *r = tp_open_or_die(o->in);
    static const char *const added[] = {"pca_components", "pca_explained", "pca_whiten"};
    if (!o->fit_only)
        tp_header_need_meta(tp_reader_header(r), tp_reader_name(r), added, 3);
    if (o->model) {
        if (tp_comm_root()) /* a projection alone: rank 0 does it */
            apply(o->model, r, o->field, o->out);
    } else
        fit(o, r);
    tp_reader_close(r);
    return 0;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    tp_comm_open(0);
    options o;
    parse(argc, argv, &o);
    int rc = run(&o);
    tp_comm_close();
    return rc;
}
