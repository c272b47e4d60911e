/* tsne — t-SNE embedding of a stream's vectors, with scikit-learn's meanings and defaults. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "device.h"
#include "gpu_tsne.h"
#include "knn.h"
#include "parallel.h"
#include "pca.h"
#include "progress.h"
#include "records.h"
#include "rng.h"
#include "dtype.h"
#include "stream.h"
#include "tsne.h"
#include "util.h"

typedef struct {
    const tp_field *f;
    float *x;
    int64_t n, cap;
    size_t dim;
} collect_ctx;

static void collect(void *ctx, int64_t i, const void *rec)
{
    collect_ctx *c = ctx;
    if (!c->f)
        return;
    if (i == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 4096;
        c->x = tp_realloc(c->x, (size_t)c->cap * c->dim, sizeof *c->x);
    }
    tp_to_float((const char *)rec + c->f->offset, c->f->dtype, c->dim, 1.0, c->x + (size_t)i * c->dim);
    c->n = i + 1;
}

/* Both fields in one pass: the input may be a pipe. */
static void collect_two(void *ctx, int64_t i, const void *rec)
{
    collect_ctx *c = ctx;
    collect(&c[0], i, rec);
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

/* scikit-learn's "pca" initialisation: the first d principal components (lib/pca.h),
 * scaled so that the first has standard deviation 1e-4. */
static void pca_init(const float *x, int64_t n, int dim, int d, double *y, const char *name)
{
    tp_pca_rows rows = {x, (size_t)dim * sizeof *x, TP_F32, n, dim};
    tp_pca_opts o = {0};
    o.k = d < dim ? d : dim;
    tp_pca_model m;
    float *s = NULL;
    char err[256];
    if (tp_pca_fit(&rows, &o, &m, &s, err, sizeof err))
        tp_die("%s: PCA initialisation: %s", name, err);
    double m0 = 0, s0 = 0;
    for (int64_t i = 0; i < n; i++)
        m0 += s[i * o.k];
    m0 /= (double)n;
    for (int64_t i = 0; i < n; i++)
        s0 += (s[i * o.k] - m0) * (s[i * o.k] - m0);
    s0 = sqrt(s0 / (double)n);
    for (int64_t i = 0; i < n; i++)
        for (int e = 0; e < d; e++)
            y[i * d + e] = e < o.k && s0 > 0 ? s[i * o.k + e] / s0 * 1e-4 : 0;
    free(s);
    tp_pca_model_free(&m);
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    int64_t dims = 2, iters = 1000, exag_iters = 250, seed = 42, threads = tp_cpu_count(), neighbors = 0;
    int64_t no_progress = 300;
    double perplexity = 30, exaggeration = 12, theta = 0.5, dof = 0, min_grad_norm = 1e-7;
    const char *lr_s = "auto", *init = "pca", *method_s = "auto", *field = "x", *out = "-", *kl_of = NULL;
    const char *device = "auto";
    int precision = 0;
    int verbose = 0, no_exact_kl = 0;
    tp_option opts[] = {
        TP_INT("dims", 'd', &dims, "D", "embedding dimensions: 1, 2 or 3"),
        TP_DOUBLE("perplexity", 'p', &perplexity, "P", "effective number of neighbours"),
        TP_INT("neighbors", 'k', &neighbors, "K", "nearest neighbours for the affinities (0: 3*perplexity+1, at most N-1)"),
        TP_DOUBLE("early-exaggeration", 0, &exaggeration, "E", "P is multiplied by E in the first phase"),
        TP_INT("exaggeration-iters", 0, &exag_iters, "N", "iterations of the first phase (momentum 0.5; then 0.8)"),
        TP_STRING("learning-rate", 0, &lr_s, "LR", "step size, or auto = max(N / E / 4, 50)"),
        TP_INT("iters", 'n', &iters, "N", "total iterations (scikit-learn's max_iter)"),
        TP_STRING("init", 0, &init, "pca|random", "starting embedding: first principal components or N(0, 1e-4^2)"),
        TP_STRING("method", 'm', &method_s, "M", "gradient on the CPU: auto, exact, bh (Barnes-Hut, d 2-3), fft (d 1-2); a GPU always sums exactly"),
        TP_DOUBLE("theta", 0, &theta, "T", "Barnes-Hut opening angle"),
        TP_DOUBLE("dof", 0, &dof, "A", "degrees of freedom of the t kernel (0: max(d-1, 1) as scikit-learn)"),
        TP_DOUBLE("min-grad-norm", 0, &min_grad_norm, "G", "stop when the gradient's norm falls below G"),
        TP_INT("no-progress", 0, &no_progress, "N", "stop after N iterations without a lower KL"),
        TP_STRING("field", 'f', &field, "NAME", "the vectors to embed (any numeric dtype and shape)"),
        TP_INT("seed", 's', &seed, "N", "seed of the random initialisation"),
        TP_INT("threads", 't', &threads, "N", "worker threads"),
        TP_DEVICE_OPTIONS(&device, &precision),
        TP_STRING("output", 'o', &out, "FILE", "where to write the stream"),
        TP_STRING("kl-of", 0, &kl_of, "FIELD", "no embedding: print the exact KL of the embedding in FIELD"),
        TP_FLAG("no-exact-kl", 0, &no_exact_kl, "report the final KL with the method's Z instead of the exact O(N^2) one"),
        TP_FLAG("verbose", 'v', &verbose, "a line with the KL divergence every 50 iterations"),
        {0},
    };
    tp_cli cli = {"[OPTIONS] [FILE]",
                  "Embeds the vectors of field x in D dimensions by t-SNE and writes the stream with x replaced\n"
                  "by the embedding (f32[D]); every other field and the metadata pass through. Affinities come\n"
                  "from the exact k nearest neighbours (BLAS distances) with a per-point perplexity search to\n"
                  "1e-5; the gradient is exact for N <= 1000, else FFT-interpolated (D 1) or Barnes-Hut (D 2-3).\n"
                  "On a GPU (--device) the neighbours, the optimisation and the final KL run there, and the\n"
                  "gradient sums all pairs exactly whatever --method says.\n"
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
    const char *in = na ? args[0] : "-";
    if (dims < 1 || dims > 3)
        tp_usage("--dims must be 1, 2 or 3");
    if (!(perplexity > 0))
        tp_usage("--perplexity must be positive");
    if (!(exaggeration > 0) || exag_iters < 0 || iters < 0)
        tp_usage("bad --early-exaggeration, --exaggeration-iters or --iters");
    if (threads < 1)
        threads = 1;
    tp_tsne_cfg cfg;
    tp_tsne_cfg_default(&cfg, (int)dims, (int)threads);
    if (dof > 0)
        cfg.dof = dof;
    else if (dof < 0)
        tp_usage("--dof must be positive");
    if (!(theta >= 0))
        tp_usage("--theta must be >= 0");
    cfg.theta = theta;
    if (!strcmp(method_s, "exact"))
        cfg.method = TP_TSNE_EXACT;
    else if (!strcmp(method_s, "bh") || !strcmp(method_s, "barnes-hut"))
        cfg.method = TP_TSNE_BH;
    else if (!strcmp(method_s, "fft"))
        cfg.method = TP_TSNE_FFT;
    else if (strcmp(method_s, "auto"))
        tp_usage("--method must be auto, exact, bh or fft");
    if (cfg.method == TP_TSNE_BH && dims == 1)
        tp_usage("--method bh needs --dims 2 or 3");
    if (cfg.method == TP_TSNE_FFT && dims == 3)
        tp_usage("--method fft needs --dims 1 or 2");
    if (strcmp(init, "pca") && strcmp(init, "random"))
        tp_usage("--init must be pca or random");
    double lr = 0;
    if (strcmp(lr_s, "auto") && (tp_parse_f64(lr_s, &lr) || !(lr > 0)))
        tp_usage("--learning-rate must be auto or a positive number");
    tp_blas_serial();
    tp_device dev;
    tp_device_open(&dev, device, precision, verbose);
    int gpu = tp_device_is_gpu(&dev);

    tp_records *rs = tp_records_open(in);
    const tp_header *h = tp_records_header(rs);
    const char *name = tp_records_name(rs);
    int fi = tp_field_or_die(h, name, field);
    collect_ctx two[2] = {{&h->fields[fi], NULL, 0, 0, h->fields[fi].nelem}, {NULL, NULL, 0, 0, 0}};
    if (kl_of) {
        int ei = tp_field_or_die(h, name, kl_of);
        const tp_field *ef = &h->fields[ei];
        if (ef->nelem != (size_t)dims)
            tp_die("%s: field '%s' has %zu elements per record; --dims is %d", name, kl_of, ef->nelem, (int)dims);
        two[1] = (collect_ctx){ef, NULL, 0, 0, ef->nelem};
    }
    tp_records_scan(rs, collect_two, two);
    collect_ctx cc = two[0];
    int64_t n = cc.n;
    int dim = (int)cc.dim;
    if (n < 2)
        tp_die("%s: t-SNE needs at least 2 records, got %lld", name, (long long)n);
    if (perplexity >= (double)n)
        tp_die("%s: perplexity %g must be less than the number of records (%lld)", name, perplexity, (long long)n);
    for (size_t e = 0; e < (size_t)n * cc.dim; e++)
        if (!isfinite(cc.x[e]))
            tp_die("%s: field '%s' of record %lld is not finite", name, field, (long long)(e / cc.dim));
    int64_t k = neighbors > 0 ? neighbors : (int64_t)(3 * perplexity + 1);
    if (k > n - 1) {
        if (!neighbors)
            tp_warn("%s: %lld records: using all %lld other points as neighbours (fewer than 3*perplexity+1 = %lld)",
                    name, (long long)n, (long long)(n - 1), (long long)(3 * perplexity + 1));
        k = n - 1;
    }
    double t0 = tp_now(), worst;
    tp_csr P;
    int64_t missed;
    if (gpu) {
        size_t nk = (size_t)n * (size_t)k;
        int32_t *idx = tp_alloc(nk, sizeof *idx);
        double *d2 = tp_alloc(nk, sizeof *d2), *c = tp_alloc(nk, sizeof *c);
        dev.api->tsne->knn(dev.gpu, cc.x, n, dim, (int)k, idx, d2);
        missed = tp_perplexity_rows(d2, n, (int)k, perplexity, 1e-5, 200, (int)threads, c, NULL, &worst);
        tp_joint_affinities(idx, c, n, (int)k, &P);
        free(c);
        free(d2);
        free(idx);
    } else {
        missed = tp_affinities(cc.x, n, dim, (int)k, perplexity, (int)threads, &P, &worst);
    }
    double t_knn = tp_now() - t0;
    if (missed)
        tp_warn("%s: %lld points could not reach perplexity %g (worst entropy error %.3g): duplicate points or "
                "too few distinct neighbours",
                name, (long long)missed, perplexity, worst);

    int d = (int)dims;
    double *y = tp_alloc((size_t)n * (size_t)d, sizeof *y);
    if (kl_of) {
        for (int64_t e = 0; e < n * d; e++)
            y[e] = two[1].x[e];
        free(two[1].x);
        double v;
        if (gpu) {
            tp_gtsne *w = dev.api->tsne->create(dev.gpu, &P, d, cfg.dof);
            v = dev.api->tsne->kl_exact(w, y);
            dev.api->tsne->destroy(w);
        } else {
            v = tp_tsne_kl_exact(&P, y, n, d, cfg.dof, (int)threads);
        }
        printf("%.6f\n", v);
        if (fflush(stdout))
            tp_die("stdout: write error");
        tp_csr_free(&P);
        free(y);
        free(cc.x);
        tp_records_close(rs);
        tp_device_close(&dev);
        free(args);
        return 0;
    }
    if (!strcmp(init, "pca")) {
        pca_init(cc.x, n, dim, d, y, name);
    } else {
        tp_rng r;
        tp_rng_seed(&r, (uint64_t)seed);
        for (int64_t e = 0; e < n * d; e++)
            y[e] = 1e-4 * tp_rng_normal(&r);
    }
    free(cc.x);

    tp_tsne_opt o;
    tp_tsne_opt_default(&o, n);
    o.iters = (int)iters;
    o.exag_iters = (int)exag_iters;
    o.exaggeration = exaggeration;
    if (lr > 0)
        o.lr = lr;
    else
        o.lr = fmax((double)n / exaggeration / 4, 50);
    o.min_grad_norm = min_grad_norm;
    o.no_progress = (int)no_progress;
    tp_progress prog;
    char label[64] = "tsne";
    tp_progress_start(&prog, label, iters, "iterations");
    report_ctx rc = {&prog, verbose, label};
    o.report = report;
    o.ctx = &rc;
    double t1 = tp_now(), t_opt, kl;
    int done;
    const char *method_name;
    if (gpu) {
        /* the whole optimisation on the device, always with the exact all-pairs gradient */
        tp_gtsne *w = dev.api->tsne->create(dev.gpu, &P, d, cfg.dof);
        done = dev.api->tsne->optimize(w, y, &o, &kl);
        tp_progress_end(&prog, done);
        t_opt = tp_now() - t1;
        if (!no_exact_kl)
            kl = dev.api->tsne->kl_exact(w, y);
        dev.api->tsne->destroy(w);
        method_name = tp_tsne_method_name(TP_TSNE_EXACT);
    } else {
        tp_tsne t;
        tp_tsne_init(&t, &P, &cfg);
        done = tp_tsne_optimize(&t, y, &o, &kl);
        tp_progress_end(&prog, done);
        t_opt = tp_now() - t1;
        if (!no_exact_kl)
            kl = tp_tsne_kl_exact(&P, y, n, d, cfg.dof, (int)threads);
        method_name = tp_tsne_method_name(t.method);
        tp_tsne_free(&t);
    }
    for (int64_t e = 0; e < n * d; e++)
        if (!isfinite(y[e]))
            tp_die("%s: the optimisation diverged (non-finite embedding); lower --learning-rate", name);
    fprintf(stderr, "%s: %lld points, %lld neighbours, %s gradient, %d iterations, KL %.4f (affinities %.1f s, optimise %.1f s%s%s)\n",
            tp_progname(), (long long)n, (long long)k, method_name, done, kl, t_knn, t_opt, gpu ? ", on " : "",
            gpu ? dev.name : "");

    tp_header oh;
    tp_header_copy(&oh, h);
    int64_t shape[1] = {d};
    char err[200];
    if (tp_header_replace_field(&oh, fi, TP_F32, 1, shape, err, sizeof err))
        tp_die("%s: %s", name, err);
    oh.count = n;
    char buf[64];
    snprintf(buf, sizeof buf, "%.6f", kl);
    tp_header_set_meta(&oh, "tsne_kl", buf);
    snprintf(buf, sizeof buf, "%d", done);
    tp_header_set_meta(&oh, "tsne_iterations", buf);
    snprintf(buf, sizeof buf, "%g", perplexity);
    tp_header_set_meta(&oh, "tsne_perplexity", buf);
    tp_header_set_meta(&oh, "tsne_method", method_name);
    tp_header_set_meta(&oh, "device", dev.name);
    tp_writer *w = tp_writer_open(out, &oh);
    const tp_field *of = &oh.fields[fi];
    int64_t per = 4096;
    unsigned char *src = tp_alloc((size_t)per, h->record_size), *dst = tp_calloc((size_t)per, oh.record_size);
    int64_t *ids = tp_alloc((size_t)per, sizeof *ids);
    for (int64_t i0 = 0; i0 < n; i0 += per) {
        int64_t m = n - i0 < per ? n - i0 : per;
        for (int64_t q = 0; q < m; q++)
            ids[q] = i0 + q;
        tp_records_get(rs, ids, m, src);
        for (int64_t q = 0; q < m; q++) {
            unsigned char *r = dst + (size_t)q * oh.record_size;
            tp_copy_fields(h, src + (size_t)q * h->record_size, &oh, r);
            for (int e = 0; e < d; e++) {
                float v = (float)y[(i0 + q) * d + e];
                memcpy(r + of->offset + (size_t)e * 4, &v, 4);
            }
        }
        tp_writer_write(w, dst, m);
    }
    tp_writer_close(w);
    free(ids);
    free(dst);
    free(src);
    tp_header_free(&oh);
    tp_records_close(rs);
    tp_device_close(&dev);
    tp_csr_free(&P);
    free(y);
    free(args);
    return 0;
}
