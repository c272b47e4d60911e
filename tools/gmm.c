/* gmm — clusters a stream's records with a Gaussian mixture fitted by EM (lib/gmm.h), or
 * assigns them with a mixture fitted before; adds `cluster` (and `resp`) to every record. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "comm.h"
#include "device.h"
#include "dtype.h"
#include "gmm.h"
#include "parallel.h"
#include "outfile.h"
#include "pass.h"
#include "progress.h"
#include "records.h"
#include "stream.h"
#include "util.h"

#define MAX_LISTED 10

typedef struct {
    const char *in, *field, *save, *model, *init_model, *device;
    int precision, cov, init, want_resp, quiet, verbose;
    int64_t k, n_init, max_iter, seed, threads, refine, refine_iter;
    double tol, reg, refine_tol;
} options;

static void parse(int argc, char **argv, options *o)
{
    tp_gmm_options d;
    tp_gmm_options_default(&d);
    *o = (options){.field = "x", .cov = d.cov, .init = d.init, .k = 1, .n_init = d.n_init,
                   .max_iter = d.max_iter, .seed = (int64_t)d.seed, .threads = d.threads, .tol = d.tol,
                   .reg = d.reg_covar, .refine = d.refine, .refine_iter = d.refine_iter, .refine_tol = d.refine_tol};
    const tp_option opts[] = {
        TP_INT("components", 'k', &o->k, "K", "number of mixture components", TP_RANGE(1, 100000)),
        TP_CHOICE("covariance", 0, &o->cov, "TYPE", "full, tied, diag or spherical", "full", "tied", "diag", "spherical"),
        TP_CHOICE("init", 0, &o->init, "METHOD", "kmeans (Lloyd from k-means++ seeds), k-means++ (the seeds alone), random or random_from_data",
                  "kmeans", "k-means++", "random", "random_from_data"),
        TP_INT("n-init", 0, &o->n_init, "N", "EM runs from different initialisations; the best lower bound is kept", TP_RANGE(1, 100000)),
        TP_INT("max-iter", 0, &o->max_iter, "N", "EM steps per run at most (0: the initialisation alone)", TP_RANGE(0, 100000000)),
        TP_DOUBLE("tol", 0, &o->tol, "T", "a run has converged when an EM step changes the mean log-likelihood by less", TP_MIN(0)),
        TP_INT("refine", 0, &o->refine, "N", "continue the N runs with the best lower bounds to --refine-tol and keep the best (0: scikit-learn's choice)", TP_RANGE(0, 100000)),
        TP_DOUBLE("refine-tol", 0, &o->refine_tol, "T", "the tolerance of the refinement (none when not below --tol)", TP_MIN(0)),
        TP_INT("refine-iter", 0, &o->refine_iter, "N", "EM steps per refinement at most", TP_RANGE(0, 100000000)),
        TP_DOUBLE("reg-covar", 0, &o->reg, "R", "added to every covariance's diagonal", TP_MIN(0)),
        TP_INT("seed", 's', &o->seed, "N", "random seed: run r of seed s is the same whatever --n-init"),
        TP_STRING("field", 'f', &o->field, "NAME", "the field to cluster (any numeric dtype and shape, flattened)"),
        TP_FLAG("resp", 0, &o->want_resp, "also add the responsibilities as field resp f32[K]"),
        TP_STRING("save-model", 'o', &o->save, "FILE", "write the fitted model to FILE (a one-record stream)"),
        TP_STRING("model", 'm', &o->model, "FILE", "do not fit: assign the records with the model in FILE"),
        TP_STRING("init-model", 0, &o->init_model, "FILE", "one EM run starting from the parameters in FILE"),
        TP_OPT_THREADS(&o->threads, "worker threads (default: all CPUs)"),
        TP_DEVICE_OPTIONS(&o->device, &o->precision),
        TP_FLAG("verbose", 'v', &o->verbose, "a line per run, and the events of every run"),
        TP_FLAG("quiet", 'q', &o->quiet, "print nothing on stderr but errors and warnings"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] [FILE]",
        "Fits a Gaussian mixture to a field of every record by expectation-maximisation, and\n"
        "passes the stream through with field `cluster` (i32, the most probable component)\n"
        "added, and `resp` (f32[K]) with --resp. Options have scikit-learn's GaussianMixture\n"
        "meanings; its defaults, except --n-init: scikit-learn fits once (n_init=1), and a single\n"
        "EM run from one k-means result often stops in a poor local optimum, so gmm fits 10 times\n"
        "by default and keeps the run with the highest final lower bound, as n_init does. And\n"
        "scikit-learn's tol stops runs while their bound still climbs: the 3 best runs are then\n"
        "refined (--refine: EM continued to --refine-tol) and the best of them kept, a fit never\n"
        "below the one scikit-learn's rule keeps among the same runs (--refine 0 keeps that one).\n"
        "Metadata added: gmm_loglik (the mean log-likelihood of the records under the model,\n"
        "scikit-learn's score), gmm_iterations and gmm_converged (of the run kept), gmm_bic,\n"
        "gmm_aic, gmm_components, gmm_covariance; a summary on stderr. Components that empty\n"
        "are re-seeded, covariances that collapse or are not positive definite are regularised,\n"
        "and each is reported on stderr. The records are held in memory as doubles (N x D).\n"
        "With --model or --init-model, the number of components and the covariance type come\n"
        "from the model file. On a GPU (--device) the EM steps run there in doubles and the\n"
        "initialisation on the CPU: the results are the CPU's up to the rounding of sums\n"
        "taken in another order. gmm computes in doubles on any device: --precision changes\n"
        "nothing. Metadata device names the device.",
        opts,
        "Examples:\n"
        "  gmm -k 10 < embedding.tp | tp2csv --fields y,cluster\n"
        "  gmm -k 10 --covariance diag -o model.tp train.tp > train-clusters.tp\n"
        "  gmm --model model.tp test.tp > test-clusters.tp",
        0, 1,
    };
    char **args;
    int nargs = tp_cli_parse(&cli, argc, argv, &args);
    o->in = nargs ? args[0] : "-";
    free(args);
    if (o->model && o->init_model)
        tp_usage("--model assigns with a fitted model, --init-model starts a fit: give one");
    if (o->model && o->save)
        tp_usage("--model does not fit, so -o has nothing to write");
    if (o->save && tp_same_output(o->save, "-"))
        tp_usage("-o would write the model to stdout, where the stream goes: name a file");
}

/* The records' field as doubles (n x d) and each feature's range. */
typedef struct {
    const tp_field *f;
    const char *name;
    double *X;
    double *lo, *hi; /* per feature */
    int64_t cap;
} samples;

static void load(void *ctx, int64_t i, const void *rec)
{
    samples *x = ctx;
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

static void on_refine(void *ctx, int i, int n, int run, int iters, double lb, int conv)
{
    run_ctx *x = ctx;
    if (x->verbose)
        fprintf(stderr, "%s: refinement %d/%d, run %d: %d iterations in all, lower bound %.9g%s\n", tp_progname(), i + 1,
                n, run + 1, iters, lb, conv ? ", converged" : ", not converged");
    tp_progress_update(&x->p, x->n_init + i + 1);
}

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

/* The model given by --model or --init-model, agreeing with -k and --covariance. */
static void read_given(const options *o, const char *path, tp_gmm_model *m)
{
    char err[256];
    if (tp_gmm_model_read(path, m, err, sizeof err))
        tp_die("%s: %s", path, err);
    /* -k and --covariance come from the model; other values than their defaults must agree */
    if (o->k != 1 && m->k != o->k)
        tp_die("%s: the model has %d components, -k says %lld", path, m->k, (long long)o->k);
    if (o->cov != TP_GMM_FULL && m->cov != (tp_gmm_cov)o->cov)
        tp_die("%s: the model's covariance is %s, --covariance says %s", path, tp_gmm_cov_name(m->cov),
               tp_gmm_cov_name((tp_gmm_cov)o->cov));
}

/* A fit of the n samples (from --init-model's start when given): into m and info. */
static void fit(const options *o, const tp_device *dev, const samples *s, int64_t n, const tp_gmm_model *start,
                tp_gmm_model *m, tp_gmm_info *info)
{
    tp_gmm_options g;
    tp_gmm_options_default(&g);
    g.k = start ? start->k : (int)o->k;
    g.cov = start ? start->cov : (tp_gmm_cov)o->cov;
    g.init = (tp_gmm_init)o->init;
    g.n_init = (int)o->n_init;
    g.max_iter = (int)o->max_iter;
    g.tol = o->tol;
    g.refine = (int)o->refine;
    g.refine_tol = o->refine_tol;
    g.refine_iter = (int)o->refine_iter;
    g.reg_covar = o->reg;
    g.seed = (uint64_t)o->seed;
    g.threads = (int)o->threads;
    g.device = dev;
    g.start = start;
    if (g.k > n)
        tp_die("%s: -k %d needs at least %d records, the input holds %lld", s->name, g.k, g.k, (long long)n);
    run_ctx rc = {.verbose = o->verbose, .n_init = start ? 1 : g.n_init};
    g.on_run = on_run;
    g.on_refine = on_refine;
    g.ctx = &rc;
    int steps = rc.n_init + (g.max_iter > 0 && g.refine_tol < g.tol ? (g.refine < rc.n_init ? g.refine : rc.n_init) : 0);
    tp_progress_start(&rc.p, "gmm runs", steps, "runs");
    char err[256] = "";
    if (tp_gmm_fit(s->X, n, (int)s->f->nelem, &g, m, info, err, sizeof err))
        tp_die("%s: %s", s->name, err);
    tp_progress_end(&rc.p, steps);
    if (tp_comm_root())
        report_events(info, o->verbose, o->reg);
}

typedef struct {
    const int32_t *labels;
    const float *resp;
    int k;
    size_t rsz, coff, roff;
} out_ctx;

static void fill(void *ctx, int64_t first, int64_t n, const unsigned char *src, unsigned char *dst)
{
    (void)src;
    const out_ctx *c = ctx;
    for (int64_t i = 0; i < n; i++) {
        unsigned char *r = dst + (size_t)i * c->rsz;
        memcpy(r + c->coff, &c->labels[first + i], sizeof(int32_t));
        if (c->resp)
            memcpy(r + c->roff, c->resp + (size_t)(first + i) * c->k, (size_t)c->k * sizeof(float));
    }
}

/* The stream with cluster (and resp) added beside every field but earlier ones of those
 * names, and the fit's figures (the strings of fig) in its metadata. */
static void write_out(const options *o, tp_records *rs, const tp_gmm_model *m, const tp_gmm_info *info,
                      const int32_t *labels, const float *resp, const char *const fig[3], const char *device)
{
    tp_header out;
    tp_header_copy(&out, tp_records_header(rs));
    for (const char *drop = "cluster"; drop; drop = strcmp(drop, "cluster") == 0 ? "resp" : NULL) {
        int j = tp_header_find(&out, drop);
        if (j >= 0)
            tp_header_remove_field(&out, j);
    }
    int64_t kk = m->k;
    int ci = tp_header_add(&out, "cluster", TP_I32, 0, NULL), ri = resp ? tp_header_add(&out, "resp", TP_F32, 1, &kk) : -1;
    char v[32];
    snprintf(v, sizeof v, "%d", m->k);
    tp_header_set_meta(&out, "gmm_components", v);
    tp_header_set_meta(&out, "gmm_covariance", tp_gmm_cov_name(m->cov));
    tp_header_set_meta(&out, "gmm_loglik", fig[0]);
    if (!o->model) {
        snprintf(v, sizeof v, "%d", info->iterations);
        tp_header_set_meta(&out, "gmm_iterations", v);
        snprintf(v, sizeof v, "%d", info->converged);
        tp_header_set_meta(&out, "gmm_converged", v);
    }
    tp_header_set_meta(&out, "gmm_bic", fig[1]);
    tp_header_set_meta(&out, "gmm_aic", fig[2]);
    tp_header_set_meta(&out, "device", device);
    out_ctx c = {labels, resp, m->k, out.record_size, out.fields[ci].offset, ri >= 0 ? out.fields[ri].offset : 0};
    tp_pass_records(rs, &out, "-", fill, &c);
    tp_header_free(&out);
}

/* The summary line on stderr. */
static void summarise(const options *o, const tp_gmm_model *m, const tp_gmm_info *info, int64_t n,
                      const char *const fig[3])
{
    if (o->quiet)
        return;
    if (o->model)
        fprintf(stderr, "%s: %lld records assigned with %s (%d %s components, %d features): mean log-likelihood %s, BIC %s, AIC %s\n",
                tp_progname(), (long long)n, o->model, m->k, tp_gmm_cov_name(m->cov), m->d, fig[0], fig[1], fig[2]);
    else
    {
        char ref[96] = "";
        if (info->refined)
            snprintf(ref, sizeof ref, " (%d in refinement; %d runs refined)", info->refine_iterations,
                     info->refined);
        fprintf(stderr, "%s: %lld records, %d features, %d %s components: run %d of %d kept, %d iterations%s, %s; mean log-likelihood %s, BIC %s, AIC %s\n",
                tp_progname(), (long long)n, m->d, m->k, tp_gmm_cov_name(m->cov), info->best_run + 1,
                o->init_model ? 1 : (int)o->n_init, info->iterations, ref,
                info->converged ? "converged"
                : info->refined ? "NOT converged (raise --refine-iter or --refine-tol)"
                                : "NOT converged (raise --max-iter or --tol)",
                fig[0], fig[1], fig[2]);
    }
}

/* Loads the samples, says which features are constant. */
static int64_t load_samples(const options *o, tp_records *rs, samples *s)
{
    const tp_header *h = tp_records_header(rs);
    s->name = tp_records_name(rs);
    int fi = tp_header_find(h, o->field);
    if (fi < 0)
        tp_die("%s: no field '%s' to cluster (-f names another)", s->name, o->field);
    s->f = &h->fields[fi];
    if (s->f->nelem > 1000000)
        tp_die("%s: field '%s' has %zu elements per record, more than gmm handles", s->name, o->field, s->f->nelem);
    int d = (int)s->f->nelem;
    s->lo = tp_alloc((size_t)d, sizeof(double));
    s->hi = tp_alloc((size_t)d, sizeof(double));
    tp_records_scan(rs, load, s);
    int64_t n = tp_records_count(rs);
    if (n == 0)
        tp_die("%s: no records to cluster", s->name);
    int nconst = 0, first_const = -1;
    for (int j = 0; j < d; j++)
        if (s->lo[j] == s->hi[j] && nconst++ == 0)
            first_const = j;
    if (nconst && !o->quiet && !o->model)
        fprintf(stderr, "%s: %s: %d of %d features are constant (the first is %d): %s\n", tp_progname(), s->name, nconst,
                d, first_const, o->reg > 0 ? "reg_covar is their variance" : "their variance is 0 without --reg-covar");
    return n;
}

static int run(const options *given_o)
{
    options job = *given_o; /* in an MPI job, rank 0 alone speaks */
    const options *o = &job;
    if (!tp_comm_root())
        job.quiet = 1, job.verbose = 0;
    if (tp_comm_size() > 1 && !strcmp(o->in, "-"))
        tp_usage("under MPI, name the input as a file: stdin reaches rank 0 only");
    tp_device dev;
    tp_device_open(&dev, o->device, o->precision, o->verbose);
    tp_gmm_model given = {0}, m = {0};
    tp_gmm_info info = {0};
    const char *given_path = o->model ? o->model : o->init_model;
    if (given_path)
        read_given(o, given_path, &given);
    tp_records *rs = tp_records_open(o->in);
    static const char *const added[] = {"gmm_components", "gmm_covariance", "gmm_loglik", "gmm_bic",
                                        "gmm_aic",        "device",         "gmm_iterations", "gmm_converged"};
    tp_header_need_meta(tp_records_header(rs), tp_records_name(rs), added, o->model ? 6 : 8);
    samples s = {0};
    int64_t n = load_samples(o, rs, &s);
    if (given_path && given.d != (int)s.f->nelem)
        tp_die("%s: the model has %d features, field '%s' of %s has %d", given_path, given.d, o->field, s.name,
               (int)s.f->nelem);
    if (!o->model)
        fit(o, &dev, &s, n, o->init_model ? &given : NULL, &m, &info);
    const tp_gmm_model *use = o->model ? &given : &m;
    int32_t *labels = tp_alloc((size_t)n, sizeof *labels);
    float *resp = o->want_resp ? tp_alloc((size_t)n * (size_t)use->k, sizeof *resp) : NULL;
    double ll = tp_gmm_predict_dev(use, s.X, n, &dev, (int)o->threads, labels, resp, NULL);
    char f_ll[64], f_bic[64], f_aic[64];
    snprintf(f_ll, sizeof f_ll, "%.10g", ll);
    snprintf(f_bic, sizeof f_bic, "%.10g", tp_gmm_bic(use, ll, n));
    snprintf(f_aic, sizeof f_aic, "%.10g", tp_gmm_aic(use, ll, n));
    const char *const fig[3] = {f_ll, f_bic, f_aic};
    summarise(o, use, &info, n, fig);
    if (o->save && tp_comm_root()) {
        const char *kv[] = {"field", o->field, "gmm_loglik", f_ll, "gmm_bic", f_bic, "gmm_aic", f_aic};
        tp_gmm_model_write(o->save, use, 4, kv);
    }
    if (tp_comm_root())
        write_out(o, rs, use, &info, labels, resp, fig, dev.name);
    free(labels), free(resp), free(s.X), free(s.lo), free(s.hi);
    tp_records_close(rs);
    tp_gmm_info_free(&info);
    tp_gmm_model_free(&m);
    tp_gmm_model_free(&given);
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
