/* tsne — t-SNE embedding of a stream's vectors, with scikit-learn's meanings and defaults. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "comm.h"
#include "device.h"
#include "dtype.h"
#include "knn.h"
#include "parallel.h"
#include "pass.h"
#include "progress.h"
#include "records.h"
#include "rng.h"
#include "stream.h"
#include "tsne.h"
#include "util.h"

enum { INIT_PCA, INIT_RANDOM };

typedef struct {
    const char *in, *lr, *field, *out, *kl_of, *device;
    int precision, method, init, verbose, no_exact_kl;
    int64_t dims, iters, exag_iters, seed, threads, neighbors, no_progress;
    double perplexity, exaggeration, theta, dof, min_grad_norm, lr_value;
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.lr = "auto", .field = "x", .out = "-", .dims = 2, .iters = 1000,
                   .exag_iters = 250, .seed = 42, .threads = tp_cpu_count(), .no_progress = 300, .perplexity = 30,
                   .exaggeration = 12, .theta = 0.5, .min_grad_norm = 1e-7};
    tp_option opts[] = {
        TP_INT("dims", 'd', &o->dims, "D", "embedding dimensions: 1, 2 or 3", TP_RANGE(1, 3)),
        TP_DOUBLE("perplexity", 'p', &o->perplexity, "P", "effective number of neighbours", TP_ABOVE(0)),
        TP_INT("neighbors", 'k', &o->neighbors, "K", "nearest neighbours for the affinities (0: 3*perplexity+1, at most N-1)", TP_MIN(0)),
        TP_DOUBLE("early-exaggeration", 0, &o->exaggeration, "E", "P is multiplied by E in the first phase", TP_ABOVE(0)),
        TP_INT("exaggeration-iters", 0, &o->exag_iters, "N", "iterations of the first phase (momentum 0.5; then 0.8)", TP_RANGE(0, 1e9)),
        TP_STRING("learning-rate", 0, &o->lr, "LR", "step size, or auto = max(N / E / 4, 50)"),
        TP_INT("iters", 'n', &o->iters, "N", "total iterations (scikit-learn's max_iter)", TP_RANGE(0, 1e9)),
        TP_CHOICE("init", 0, &o->init, "pca|random", "starting embedding: first principal components or N(0, 1e-4^2)", "pca",
                  "random"),
        TP_CHOICE("method", 'm', &o->method, "M", "gradient on the CPU: auto, exact, bh (Barnes-Hut, d 2-3), fft (d 1-2); a GPU always sums exactly",
                  "auto", "exact", "bh|barnes-hut", "fft"),
        TP_DOUBLE("theta", 0, &o->theta, "T", "Barnes-Hut opening angle", TP_MIN(0)),
        TP_DOUBLE("dof", 0, &o->dof, "A", "degrees of freedom of the t kernel (0: max(d-1, 1) as scikit-learn)", TP_MIN(0)),
        TP_DOUBLE("min-grad-norm", 0, &o->min_grad_norm, "G", "stop when the gradient's norm falls below G", TP_MIN(0)),
        TP_INT("no-progress", 0, &o->no_progress, "N", "stop after N iterations without a lower KL", TP_RANGE(0, 1e9)),
        TP_STRING("field", 'f', &o->field, "NAME", "the vectors to embed (any numeric dtype and shape)"),
        TP_INT("seed", 's', &o->seed, "N", "seed of the random initialisation"),
        TP_OPT_THREADS(&o->threads, "worker threads"),
        TP_DEVICE_OPTIONS(&o->device, &o->precision),
        TP_STRING("output", 'o', &o->out, "FILE", "where to write the stream"),
        TP_STRING("kl-of", 0, &o->kl_of, "FIELD", "no embedding: print the exact KL of the embedding in FIELD"),
        TP_FLAG("no-exact-kl", 0, &o->no_exact_kl, "report the final KL with the method's Z instead of the exact O(N^2) one"),
        TP_FLAG("verbose", 'v', &o->verbose, "a line with the KL divergence every 50 iterations"),
        {0},
    };
    tp_cli cli = {"[OPTIONS] [FILE]",
                  "Embeds the vectors of field x in D dimensions by t-SNE and writes the stream with x replaced\n"
                  "by the embedding (f32[D]); every other field and the metadata pass through. Affinities come\n"
                  "from the exact k nearest neighbours (BLAS distances) with a per-point perplexity search to\n"
                  "1e-5; the gradient is exact for N <= 1000, else FFT-interpolated (D 1) or Barnes-Hut (D 2-3).\n"
                  "On a GPU (--device) the neighbours, the optimisation and the final KL run there, and the\n"
                  "gradient sums all pairs exactly whatever --method says. --precision changes nothing: the\n"
                  "neighbours' distance products are fp32 (tf32 or bf16 would pick wrong neighbours).\n"
                  "Meta added: tsne_kl (final KL divergence, exact), tsne_iterations, tsne_perplexity, tsne_method,\n"
                  "device.",
                  opts,
                  "Examples:\n"
                  "  pca -k 50 < mnist.tp | tsne -d 2 > emb.tp\n"
                  "  tsne -d 3 --perplexity 40 -o emb3.tp sample.tp\n"
                  "  tsne --kl-of emb emb-joined.tp     (x: the input vectors, emb: an embedding to score)",
                  0, 1};
    char **args;
    int na = tp_cli_parse(&cli, argc, argv, &args);
    o->in = na ? args[0] : "-";
    free(args);
    if (o->method == TP_TSNE_BH && o->dims == 1)
        tp_usage("--method bh needs --dims 2 or 3");
    if (o->method == TP_TSNE_FFT && o->dims == 3)
        tp_usage("--method fft needs --dims 1 or 2");
    if (strcmp(o->lr, "auto") && (tp_parse_f64(o->lr, &o->lr_value) || !(o->lr_value > 0)))
        tp_usage("--learning-rate must be auto or a positive number");
}

/* The vectors of field f (and, when g is not NULL, of field g) of every record, as floats. */
typedef struct {
    const tp_field *f;
    float *x;
    int64_t n, cap;
} column;

static void collect(column *c, int64_t i, const void *rec)
{
    if (i == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 4096;
        c->x = tp_realloc(c->x, (size_t)c->cap * c->f->nelem, sizeof *c->x);
    }
    tp_to_float((const char *)rec + c->f->offset, c->f->dtype, c->f->nelem, 1.0, c->x + (size_t)i * c->f->nelem);
    c->n = i + 1;
}

/* Both fields in one pass: the input may be a pipe. */
static void collect_two(void *ctx, int64_t i, const void *rec)
{
    column *c = ctx;
    collect(&c[0], i, rec);
    if (c[1].f)
        collect(&c[1], i, rec);
}

typedef struct {
    tp_progress *p;
    int verbose;
    char *label;
} report_ctx;

static void report(void *ctx, int iter, double kl, int exaggerated)
{
    report_ctx *r = ctx;
    snprintf(r->label, 64, "tsne KL %.4f", kl);
    if (r->verbose)
        fprintf(stderr, "%s: iteration %d: KL %.6f%s\n", tp_progname(), iter, kl,
                exaggerated ? " (early exaggeration phase)" : "");
    tp_progress_update(r->p, iter);
}

/* The affinities of the n points x, with the neighbour count the options ask for. */
static void affinities(const options *o, const tp_device *dev, const column *c, const char *name, tp_csr *P,
                       int64_t *k)
{
    int64_t n = c->n;
    if (n < 2)
        tp_die("%s: t-SNE needs at least 2 records, got %lld", name, (long long)n);
    if (o->perplexity >= (double)n)
        tp_die("%s: perplexity %g must be less than the number of records (%lld)", name, o->perplexity, (long long)n);
    for (size_t e = 0; e < (size_t)n * c->f->nelem; e++)
        if (!isfinite(c->x[e]))
            tp_die("%s: field '%s' of record %lld is not finite", name, o->field, (long long)(e / c->f->nelem));
    *k = o->neighbors > 0 ? o->neighbors : (int64_t)(3 * o->perplexity + 1);
    if (*k > n - 1) {
        if (!o->neighbors && tp_comm_root())
            tp_warn("%s: %lld records: using all %lld other points as neighbours (fewer than 3*perplexity+1 = %lld)",
                    name, (long long)n, (long long)(n - 1), (long long)(3 * o->perplexity + 1));
        *k = n - 1;
    }
    double worst;
    int64_t missed = tp_tsne_affinities(dev, c->x, n, (int)c->f->nelem, (int)*k, o->perplexity, (int)o->threads, P,
                                        &worst);
    if (missed && tp_comm_root())
        tp_warn("%s: %lld points could not reach perplexity %g (worst entropy error %.3g): duplicate points or "
                "too few distinct neighbours",
                name, (long long)missed, o->perplexity, worst);
}

/* The embedding from its start, optimised (c's vectors freed once it has started); the KL
 * and the iterations run into *kl, *done; returns the gradient's method. */
static const char *embed(const options *o, const tp_device *dev, const tp_csr *P, column *c, const char *name,
                         double *y, double *kl, int *done)
{
    int64_t n = c->n;
    int d = (int)o->dims;
    char err[256];
    if (o->init == INIT_PCA) {
        if (tp_tsne_pca_init(c->x, n, (int)c->f->nelem, d, y, err, sizeof err))
            tp_die("%s: PCA initialisation: %s", name, err);
    } else {
        tp_rng r;
        tp_rng_seed(&r, (uint64_t)o->seed);
        for (int64_t e = 0; e < n * d; e++)
            y[e] = 1e-4 * tp_rng_normal(&r);
    }
    free(c->x); /* the input vectors are done with */
    c->x = NULL;
    tp_tsne_cfg cfg;
    tp_tsne_cfg_default(&cfg, d, (int)o->threads);
    if (o->dof > 0)
        cfg.dof = o->dof;
    cfg.theta = o->theta;
    cfg.method = (tp_tsne_method)o->method;
    tp_tsne_opt t;
    tp_tsne_opt_default(&t, n);
    t.iters = (int)o->iters;
    t.exag_iters = (int)o->exag_iters;
    t.exaggeration = o->exaggeration;
    t.lr = o->lr_value > 0 ? o->lr_value : fmax((double)n / o->exaggeration / 4, 50);
    t.min_grad_norm = o->min_grad_norm;
    t.no_progress = (int)o->no_progress;
    tp_progress prog;
    char label[64] = "tsne";
    tp_progress_start(&prog, label, o->iters, "iterations");
    report_ctx rc = {&prog, o->verbose, label};
    t.report = report;
    t.ctx = &rc;
    tp_tsne_method used;
    *done = tp_tsne_embed(dev, P, &cfg, y, &t, kl, &used);
    tp_progress_end(&prog, *done);
    return tp_tsne_method_name(used);
}

typedef struct {
    const double *y;
    int d;
    size_t off;
    size_t rsz;
} emb_ctx;

static void fill(void *ctx, int64_t first, int64_t n, const unsigned char *src, unsigned char *dst)
{
    (void)src;
    const emb_ctx *c = ctx;
    for (int64_t q = 0; q < n; q++)
        for (int e = 0; e < c->d; e++) {
            float v = (float)c->y[(first + q) * c->d + e];
            memcpy(dst + (size_t)q * c->rsz + c->off + (size_t)e * 4, &v, 4);
        }
}

/* The stream with field fi replaced by the embedding and the run's metadata. */
static void write_out(const options *o, tp_records *rs, int fi, const double *y, double kl, int done,
                      const char *method, const char *device)
{
    const tp_header *h = tp_records_header(rs);
    tp_header oh;
    tp_header_copy(&oh, h);
    int64_t shape[1] = {o->dims};
    char err[200], buf[64];
    if (tp_header_replace_field(&oh, fi, TP_F32, 1, shape, err, sizeof err))
        tp_die("%s: %s", tp_records_name(rs), err);
    snprintf(buf, sizeof buf, "%.6f", kl);
    tp_header_set_meta(&oh, "tsne_kl", buf);
    snprintf(buf, sizeof buf, "%d", done);
    tp_header_set_meta(&oh, "tsne_iterations", buf);
    snprintf(buf, sizeof buf, "%g", o->perplexity);
    tp_header_set_meta(&oh, "tsne_perplexity", buf);
    tp_header_set_meta(&oh, "tsne_method", method);
    tp_header_set_meta(&oh, "device", device);
    emb_ctx c = {y, (int)o->dims, oh.fields[fi].offset, oh.record_size};
    tp_pass_records(rs, &oh, o->out, fill, &c);
    tp_header_free(&oh);
}

static int run(const options *given_o)
{
    options job = *given_o; /* in an MPI job, rank 0 alone speaks and writes */
    const options *o = &job;
    int root = tp_comm_root();
    if (!root)
        job.verbose = 0;
    if (tp_comm_size() > 1 && !strcmp(o->in, "-"))
        tp_usage("under MPI, name the input as a file: stdin reaches rank 0 only");
    tp_device dev;
    tp_device_open(&dev, o->device, o->precision, o->verbose);
    tp_records *rs = tp_records_open(o->in);
    const tp_header *h = tp_records_header(rs);
    const char *name = tp_records_name(rs);
    int fi = tp_field_or_die(h, name, o->field);
    static const char *const added[] = {"tsne_kl", "tsne_iterations", "tsne_perplexity", "tsne_method", "device"};
    if (!o->kl_of)
        tp_header_need_meta(h, name, added, 5);
    column two[2] = {{&h->fields[fi], NULL, 0, 0}, {NULL, NULL, 0, 0}};
    if (o->kl_of) {
        const tp_field *ef = &h->fields[tp_field_or_die(h, name, o->kl_of)];
        if (ef->nelem != (size_t)o->dims)
            tp_die("%s: field '%s' has %zu elements per record; --dims is %d", name, o->kl_of, ef->nelem, (int)o->dims);
        two[1].f = ef;
    }
    tp_records_scan(rs, collect_two, two);
    int64_t n = two[0].n, k;
    int d = (int)o->dims;
    double t0 = tp_now(), dof = o->dof > 0 ? o->dof : d - 1 > 1 ? d - 1 : 1, kl;
    tp_csr P;
    affinities(o, &dev, &two[0], name, &P, &k);
    double t_knn = tp_now() - t0, *y = tp_alloc((size_t)n * (size_t)d, sizeof *y);
    if (o->kl_of) { /* the given embedding's KL alone */
        for (int64_t e = 0; e < n * d; e++)
            y[e] = two[1].x[e];
        double v = tp_tsne_kl(&dev, &P, y, d, dof, (int)o->threads);
        if (root)
            printf("%.6f\n", v);
        if (fflush(stdout))
            tp_die("stdout: write error");
    } else {
        double t1 = tp_now();
        int done;
        const char *method = embed(o, &dev, &P, &two[0], name, y, &kl, &done);
        double t_opt = tp_now() - t1;
        if (!o->no_exact_kl)
            kl = tp_tsne_kl(&dev, &P, y, d, dof, (int)o->threads);
        for (int64_t e = 0; e < n * d; e++)
            if (!isfinite(y[e]))
                tp_die("%s: the optimisation diverged (non-finite embedding); lower --learning-rate", name);
        if (root)
            fprintf(stderr, "%s: %lld points, %lld neighbours, %s gradient, %d iterations, KL %.4f (affinities %.1f s, optimise %.1f s, on %s)\n",
                tp_progname(), (long long)n, (long long)k, method, done, kl, t_knn, t_opt, dev.name);
        if (root)
            write_out(o, rs, fi, y, kl, done, method, dev.name);
    }
    free(two[0].x), free(two[1].x), free(y);
    tp_csr_free(&P);
    tp_records_close(rs);
    tp_device_close(&dev);
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
