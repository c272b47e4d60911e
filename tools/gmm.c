/* gmm — clusters a stream's records with a Gaussian mixture fitted by EM (lib/gmm.h), or
 * assigns them with a mixture fitted before; adds `cluster` (and `resp`) to every record. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "device.h"
#include "gmm.h"
#include "parallel.h"
#include "progress.h"
#include "records.h"
#include "dtype.h"
#include "stream.h"
#include "util.h"

#define COPY_BYTES (4u << 20)
#define MAX_LISTED 10

typedef struct {
    const tp_field *f;
    const char *name;
    double *X;
    double *lo, *hi; /* per feature */
    int64_t cap;
} load_ctx;

static void load(void *ctx, int64_t i, const void *rec)
{
    load_ctx *x = ctx;
    size_t d = x->f->nelem;
    if (i == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 1024;
        x->X = tp_realloc(x->X, (size_t)x->cap, d * sizeof *x->X);
    }
    double *row = x->X + (size_t)i * d;
    const unsigned char *p = (const unsigned char *)rec + x->f->offset;
    for (size_t j = 0; j < d; j++) {
        double v = row[j] = tp_elem_as_double(p, x->f->dtype, j);
        if (!isfinite(v))
            tp_die("%s: record %lld: field '%s' holds %g; gmm needs finite numbers", x->name, (long long)i, x->f->name,
                   v);
        if (i == 0 || v < x->lo[j])
            x->lo[j] = v;
        if (i == 0 || v > x->hi[j])
            x->hi[j] = v;
    }
}

typedef struct {
    tp_progress p;
    int verbose, n_init;
} run_ctx;

static void on_run(void *ctx, int run, int iters, double lb, int conv)
{
    run_ctx *x = ctx;
    if (x->verbose)
        fprintf(stderr, "%s: run %d/%d: %d iterations, lower bound %.9g%s\n", tp_progname(), run + 1, x->n_init, iters,
                lb, conv ? ", converged" : ", not converged");
    tp_progress_update(&x->p, run + 1);
}

static void print_event(const tp_gmm_event *e, double reg)
{
    char who[64];
    if (e->comp < 0)
        snprintf(who, sizeof who, "the tied covariance");
    else
        snprintf(who, sizeof who, "component %d", e->comp);
    char when[64];
    if (e->iter)
        snprintf(when, sizeof when, "run %d, iteration %d", e->run + 1, e->iter);
    else
        snprintf(when, sizeof when, "run %d, initialisation", e->run + 1);
    switch (e->kind) {
    case TP_GMM_EV_EMPTY:
        tp_warn("%s: %s emptied (responsibility %.3g samples): re-seeded at the sample the mixture explains worst", when,
                who, e->value);
        break;
    case TP_GMM_EV_COLLAPSED:
        if (reg > 0)
            tp_warn("%s: %s collapsed onto %.4g samples without spread: its variance is reg_covar (%g) alone", when,
                    who, e->value, reg);
        else
            tp_warn("%s: %s collapsed onto %.4g samples without spread (no --reg-covar to hold it)", when, who,
                    e->value);
        break;
    case TP_GMM_EV_NOT_PD:
        tp_warn("%s: %s is not positive definite with reg_covar %g: added %.3g to its diagonal", when, who, reg, e->value);
        break;
    }
}

/* The events of the kept run (all with verbose), at most MAX_LISTED of them, then counts. */
static void report_events(const tp_gmm_info *in, int verbose, double reg)
{
    int listed = 0, more = 0, other = 0;
    for (int i = 0; i < in->nevents; i++) {
        const tp_gmm_event *e = &in->events[i];
        if (!verbose && e->run != in->best_run) {
            other++;
            continue;
        }
        if (listed < MAX_LISTED) {
            print_event(e, reg);
            listed++;
        } else {
            more++;
        }
    }
    if (more || in->events_dropped)
        tp_warn("... and %lld more such events", (long long)(more + in->events_dropped));
    if (other)
        fprintf(stderr, "%s: %d such events in the runs not kept (-v lists them)\n", tp_progname(), other);
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    tp_gmm_options o;
    tp_gmm_options_default(&o);
    int64_t k = 1, n_init = o.n_init, max_iter = o.max_iter, seed = (int64_t)o.seed, threads = o.threads;
    double tol = o.tol, reg = o.reg_covar;
    const char *cov_s = "full", *init_s = "kmeans", *field = "x", *save = NULL, *model_path = NULL, *init_model = NULL;
    const char *device = "auto";
    int precision = 0;
    int want_resp = 0, quiet = 0, verbose = 0;
    const tp_option opts[] = {
        TP_INT("components", 'k', &k, "K", "number of mixture components"),
        TP_STRING("covariance", 0, &cov_s, "TYPE", "full, tied, diag or spherical"),
        TP_STRING("init", 0, &init_s, "METHOD", "kmeans (Lloyd from k-means++ seeds), k-means++ (the seeds alone), random or random_from_data"),
        TP_INT("n-init", 0, &n_init, "N", "EM runs from different initialisations; the best lower bound is kept"),
        TP_INT("max-iter", 0, &max_iter, "N", "EM steps per run at most (0: the initialisation alone)"),
        TP_DOUBLE("tol", 0, &tol, "T", "a run has converged when an EM step changes the mean log-likelihood by less"),
        TP_DOUBLE("reg-covar", 0, &reg, "R", "added to every covariance's diagonal"),
        TP_INT("seed", 's', &seed, "N", "random seed: run r of seed s is the same whatever --n-init"),
        TP_STRING("field", 'f', &field, "NAME", "the field to cluster (any numeric dtype and shape, flattened)"),
        TP_FLAG("resp", 0, &want_resp, "also add the responsibilities as field resp f32[K]"),
        TP_STRING("save-model", 'o', &save, "FILE", "write the fitted model to FILE (a one-record stream)"),
        TP_STRING("model", 'm', &model_path, "FILE", "do not fit: assign the records with the model in FILE"),
        TP_STRING("init-model", 0, &init_model, "FILE", "one EM run starting from the parameters in FILE"),
        TP_INT("threads", 't', &threads, "N", "worker threads (default: all CPUs)"),
        TP_DEVICE_OPTIONS(&device, &precision),
        TP_FLAG("verbose", 'v', &verbose, "a line per run, and the events of every run"),
        TP_FLAG("quiet", 'q', &quiet, "print nothing on stderr but errors and warnings"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] [FILE]",
        "Fits a Gaussian mixture to a field of every record by expectation-maximisation, and\n"
        "passes the stream through with field `cluster` (i32, the most probable component)\n"
        "added, and `resp` (f32[K]) with --resp. Options have scikit-learn's GaussianMixture\n"
        "meanings; its defaults, except --n-init: scikit-learn fits once (n_init=1), and a single\n"
        "EM run from one k-means result often stops in a poor local optimum, so gmm fits 10 times\n"
        "by default and keeps the run with the highest final lower bound, as n_init does.\n"
        "Metadata added: gmm_loglik (the mean log-likelihood of the records under the model,\n"
        "scikit-learn's score), gmm_iterations and gmm_converged (of the run kept), gmm_bic,\n"
        "gmm_aic, gmm_components, gmm_covariance; a summary on stderr. Components that empty\n"
        "are re-seeded, covariances that collapse or are not positive definite are regularised,\n"
        "and each is reported on stderr. The records are held in memory as doubles (N x D).\n"
        "With --model or --init-model, the number of components and the covariance type come\n"
        "from the model file. On a GPU (--device) the EM steps run there in doubles and the\n"
        "initialisation on the CPU: the results are the CPU's up to the rounding of sums\n"
        "taken in another order. Metadata device names the device.",
        opts,
        "Examples:\n"
        "  gmm -k 10 < embedding.tp | tp2csv --fields y,cluster\n"
        "  gmm -k 10 --covariance diag -o model.tp train.tp > train-clusters.tp\n"
        "  gmm --model model.tp test.tp > test-clusters.tp",
        0, 1,
    };
    char **args;
    int nargs = tp_cli_parse(&cli, argc, argv, &args);
    if (k < 1 || k > 100000)
        tp_usage("-k must be within 1 to 100000");
    if (n_init < 1 || n_init > 100000)
        tp_usage("--n-init must be within 1 to 100000");
    if (max_iter < 0 || max_iter > 100000000)
        tp_usage("--max-iter must be 0 or more");
    if (!(tol >= 0))
        tp_usage("--tol must be 0 or more");
    if (!(reg >= 0) || !isfinite(reg))
        tp_usage("--reg-covar must be 0 or more");
    if (threads < 1 || threads > 1024)
        tp_usage("--threads must be within 1 to 1024");
    if (tp_gmm_cov_parse(cov_s, &o.cov))
        tp_usage("--covariance is full, tied, diag or spherical, not '%s'", cov_s);
    if (tp_gmm_init_parse(init_s, &o.init))
        tp_usage("--init is kmeans, k-means++, random or random_from_data, not '%s'", init_s);
    if (model_path && init_model)
        tp_usage("--model assigns with a fitted model, --init-model starts a fit: give one");
    if (model_path && save)
        tp_usage("--model does not fit, so -o has nothing to write");
    o.k = (int)k;
    o.n_init = (int)n_init;
    o.max_iter = (int)max_iter;
    o.tol = tol;
    o.reg_covar = reg;
    o.seed = (uint64_t)seed;
    o.threads = (int)threads;
    tp_blas_serial(); /* threads come from tp_parallel_for */
    tp_device dev;
    tp_device_open(&dev, device, precision, verbose);
    o.device = &dev;

    tp_gmm_model given = {0};
    const char *given_path = model_path ? model_path : init_model;
    if (given_path) {
        char err[256];
        if (tp_gmm_model_read(given_path, &given, err, sizeof err))
            tp_die("%s: %s", given_path, err);
        /* -k and --covariance come from the model; other values than their defaults must agree */
        if (k != 1 && given.k != k)
            tp_die("%s: the model has %d components, -k says %lld", given_path, given.k, (long long)k);
        if (o.cov != TP_GMM_FULL && given.cov != o.cov)
            tp_die("%s: the model's covariance is %s, --covariance says %s", given_path, tp_gmm_cov_name(given.cov),
                   cov_s);
        o.k = given.k;
        o.cov = given.cov;
    }

    const char *path = nargs ? args[0] : "-";
    tp_records *rs = tp_records_open(path);
    const char *name = tp_records_name(rs);
    const tp_header *in_h = tp_records_header(rs);
    int fi = tp_header_find(in_h, field);
    if (fi < 0)
        tp_die("%s: no field '%s' to cluster (-f names another)", name, field);
    const tp_field *f = &in_h->fields[fi];
    if (f->nelem > 1000000)
        tp_die("%s: field '%s' has %zu elements per record, more than gmm handles", name, field, f->nelem);
    int d = (int)f->nelem;
    load_ctx lx = {f, name, NULL, tp_alloc((size_t)d, sizeof(double)), tp_alloc((size_t)d, sizeof(double)), 0};
    tp_records_scan(rs, load, &lx);
    int64_t n = tp_records_count(rs);
    if (n == 0)
        tp_die("%s: no records to cluster", name);
    if (given_path && given.d != d)
        tp_die("%s: the model has %d features, field '%s' of %s has %d", given_path, given.d, field, name, d);
    int nconst = 0, first_const = -1;
    for (int j = 0; j < d; j++)
        if (lx.lo[j] == lx.hi[j] && nconst++ == 0)
            first_const = j;
    if (nconst && !quiet && !model_path)
        fprintf(stderr, "%s: %s: %d of %d features are constant (the first is %d): %s\n", tp_progname(), name, nconst,
                d, first_const, reg > 0 ? "reg_covar is their variance" : "their variance is 0 without --reg-covar");

    tp_gmm_model m = {0};
    tp_gmm_info info = {0};
    const tp_gmm_model *use = &given;
    if (!model_path) {
        if (o.k > n)
            tp_die("%s: -k %d needs at least %d records, the input holds %lld", name, o.k, o.k, (long long)n);
        run_ctx rc = {.verbose = verbose, .n_init = init_model ? 1 : o.n_init};
        if (init_model)
            o.start = &given;
        o.on_run = on_run;
        o.ctx = &rc;
        tp_progress_start(&rc.p, "gmm runs", rc.n_init, "runs");
        char err[256] = "";
        if (tp_gmm_fit(lx.X, n, d, &o, &m, &info, err, sizeof err))
            tp_die("%s: %s", name, err);
        tp_progress_end(&rc.p, rc.n_init);
        report_events(&info, verbose, reg);
        use = &m;
    }

    int32_t *labels = tp_alloc((size_t)n, sizeof *labels);
    float *resp = want_resp ? tp_alloc((size_t)n * (size_t)use->k, sizeof *resp) : NULL;
    double ll = tp_gmm_predict_dev(use, lx.X, n, &dev, o.threads, labels, resp, NULL);
    double bic = tp_gmm_bic(use, ll, n), aic = tp_gmm_aic(use, ll, n);
    char s_ll[64], s_it[32], s_conv[8], s_bic[64], s_aic[64], s_k[32];
    snprintf(s_ll, sizeof s_ll, "%.10g", ll);
    snprintf(s_it, sizeof s_it, "%d", info.iterations);
    snprintf(s_conv, sizeof s_conv, "%d", info.converged);
    snprintf(s_bic, sizeof s_bic, "%.10g", bic);
    snprintf(s_aic, sizeof s_aic, "%.10g", aic);
    snprintf(s_k, sizeof s_k, "%d", use->k);
    if (!quiet) {
        if (model_path)
            fprintf(stderr, "%s: %lld records assigned with %s (%d %s components, %d features): mean log-likelihood %s, BIC %s, AIC %s\n",
                    tp_progname(), (long long)n, model_path, use->k, tp_gmm_cov_name(use->cov), d, s_ll, s_bic, s_aic);
        else
            fprintf(stderr, "%s: %lld records, %d features, %d %s components: run %d of %d kept, %d iterations, %s; mean log-likelihood %s, BIC %s, AIC %s\n",
                    tp_progname(), (long long)n, d, use->k, tp_gmm_cov_name(use->cov), info.best_run + 1,
                    init_model ? 1 : o.n_init, info.iterations, info.converged ? "converged" : "NOT converged (raise --max-iter or --tol)",
                    s_ll, s_bic, s_aic);
    }
    if (save) {
        const char *kv[] = {"field", field, "gmm_loglik", s_ll, "gmm_bic", s_bic, "gmm_aic", s_aic};
        tp_gmm_model_write(save, use, 4, kv);
    }

    tp_header out;
    tp_header_copy(&out, in_h);
    for (const char *drop = "cluster"; drop; drop = strcmp(drop, "cluster") == 0 ? "resp" : NULL) {
        int j = tp_header_find(&out, drop);
        if (j >= 0)
            tp_header_remove_field(&out, j);
    }
    int ci = tp_header_add(&out, "cluster", TP_I32, 0, NULL), ri = -1;
    if (want_resp) {
        int64_t kk = use->k;
        ri = tp_header_add(&out, "resp", TP_F32, 1, &kk);
    }
    tp_header_set_meta(&out, "gmm_components", s_k);
    tp_header_set_meta(&out, "gmm_covariance", tp_gmm_cov_name(use->cov));
    tp_header_set_meta(&out, "gmm_loglik", s_ll);
    if (!model_path) {
        tp_header_set_meta(&out, "gmm_iterations", s_it);
        tp_header_set_meta(&out, "gmm_converged", s_conv);
    }
    tp_header_set_meta(&out, "gmm_bic", s_bic);
    tp_header_set_meta(&out, "gmm_aic", s_aic);
    tp_header_set_meta(&out, "device", dev.name);
    out.count = n;
    size_t isz = in_h->record_size, osz = out.record_size;
    int64_t per = isz >= COPY_BYTES ? 1 : (int64_t)(COPY_BYTES / isz);
    unsigned char *ib = tp_alloc((size_t)per, isz), *ob = tp_alloc((size_t)per, osz);
    int64_t *idx = tp_alloc((size_t)per, sizeof *idx);
    tp_writer *w = tp_writer_open("-", &out);
    for (int64_t s = 0; s < n; s += per) {
        int64_t cnt = n - s < per ? n - s : per;
        for (int64_t i = 0; i < cnt; i++)
            idx[i] = s + i;
        tp_records_get(rs, idx, cnt, ib);
        for (int64_t i = 0; i < cnt; i++) {
            unsigned char *dst = ob + (size_t)i * osz;
            tp_copy_fields(in_h, ib + (size_t)i * isz, &out, dst);
            memcpy(dst + out.fields[ci].offset, &labels[s + i], sizeof(int32_t));
            if (ri >= 0)
                memcpy(dst + out.fields[ri].offset, resp + (size_t)(s + i) * use->k, (size_t)use->k * sizeof(float));
        }
        tp_writer_write(w, ob, cnt);
    }
    tp_writer_close(w);
    free(ib);
    free(ob);
    free(idx);
    free(labels);
    free(resp);
    free(lx.X);
    free(lx.lo);
    free(lx.hi);
    tp_header_free(&out);
    tp_records_close(rs);
    tp_gmm_info_free(&info);
    if (!model_path)
        tp_gmm_model_free(&m);
    if (given_path)
        tp_gmm_model_free(&given);
    tp_device_close(&dev);
    free(args);
    return 0;
}
