/* train — trains a network described in a plain-text file on a stream of images and labels. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "cli.h"
#include "net.h"
#include "nn.h"
#include "optim.h"
#include "parallel.h"
#include "progress.h"
#include "records.h"
#include "rng.h"
#include "stats.h"
#include "stream.h"
#include "util.h"

typedef struct {
    tp_records *rs;   /* random access (a file, or a pipe spooled) */
    tp_reader *r;     /* or a stream read in order (--epoch-size) */
    const tp_field *x, *y;
    size_t rsz;
    int64_t n;        /* records (per epoch for a stream) */
    const char *name;
} dataset;

/* Opens a labelled image stream: for random access, or (epoch_size > 0) to be read in
 * order, epoch_size records an epoch, as from an endless augment stream. */
static void open_data(dataset *d, const char *path, const char *xname, const char *yname, int64_t epoch_size)
{
    const tp_header *h;
    if (epoch_size > 0) {
        d->r = tp_open_or_die(path);
        d->name = tp_reader_name(d->r);
        h = tp_reader_header(d->r);
    } else {
        d->rs = tp_records_open(path);
        d->name = tp_records_name(d->rs);
        h = tp_records_header(d->rs);
    }
    int xi = tp_header_find(h, xname), yi = tp_header_find(h, yname);
    if (xi < 0)
        tp_die("%s: no field '%s' to learn from", d->name, xname);
    if (yi < 0 || h->fields[yi].nelem != 1 || tp_dtype_is_float(h->fields[yi].dtype))
        tp_die("%s: no integer label field '%s'", d->name, yname);
    d->x = &h->fields[xi];
    d->y = &h->fields[yi];
    if (d->x->rank < 1 || d->x->rank > 3)
        tp_die("%s: field '%s' has rank %d (want H x W x C, H x W or a vector)", d->name, xname, d->x->rank);
    d->rsz = h->record_size;
    if (d->r) {
        d->n = epoch_size;
        return;
    }
    tp_records_scan(d->rs, NULL, NULL);
    d->n = tp_records_count(d->rs);
}

/* Records idx[0..m) (random access) or the next m (a stream) into buf; returns how many
 * (fewer only at the end of a stream). */
static int fetch(dataset *d, const int64_t *idx, int m, unsigned char *buf)
{
    if (d->rs) {
        tp_records_get(d->rs, idx, m, buf);
        return m;
    }
    int64_t k = tp_reader_read(d->r, buf, m);
    if (k < 0)
        tp_die("%s: %s", d->name, tp_reader_error(d->r));
    return (int)k;
}

/* The input shape a field gives: H x W x C, H x W x 1, or 1 x 1 x N. */
static void shape_of(const tp_field *f, int *h, int *w, int *c)
{
    *h = f->rank >= 2 ? (int)f->shape[0] : 1;
    *w = f->rank >= 2 ? (int)f->shape[1] : 1;
    *c = f->rank == 3 ? (int)f->shape[2] : f->rank == 2 ? 1 : (int)f->shape[0];
}

/* m fetched records in buf into the network input (scaled) and labels; dies on a label
 * outside [0, classes), naming the record by idx. */
static void convert(dataset *d, const unsigned char *buf, const int64_t *idx, int m, float *in, int32_t *lab,
                    double scale, int classes)
{
    size_t ne = d->x->nelem;
    for (int s = 0; s < m; s++) {
        const unsigned char *rec = buf + (size_t)s * d->rsz;
        float *o = in + (size_t)s * ne;
        if (d->x->dtype == TP_U8)
            for (size_t e = 0; e < ne; e++)
                o[e] = (float)(rec[d->x->offset + e] * scale);
        else
            for (size_t e = 0; e < ne; e++)
                o[e] = (float)(tp_elem_as_double(rec + d->x->offset, d->x->dtype, e) * scale);
        int64_t y = (int64_t)tp_elem_as_double(rec + d->y->offset, d->y->dtype, 0);
        if (y < 0 || y >= classes)
            tp_die("%s: record %lld has label %lld, outside the network's %d classes", d->name, (long long)idx[s],
                   (long long)y, classes);
        lab[s] = (int32_t)y;
    }
}

typedef struct {
    tp_nn *ws;        /* one workspace per thread */
    dataset *d;
    int batch, classes;
    double scale;
    unsigned char **buf;
    int32_t **lab;
    double *loss;     /* per thread */
    int64_t *right;   /* per thread */
} eval_job;

/* Batch b of the evaluation, on thread t's workspace. */
static void eval_batch(void *ctx, int64_t b, int t)
{
    eval_job *j = ctx;
    tp_nn *w = &j->ws[t];
    int64_t start = b * j->batch, idx[1024];
    int m = (int)(j->d->n - start < j->batch ? j->d->n - start : j->batch);
    for (int k = 0; k < m; k += 1024) { /* idx in slices: batches may exceed 1024 */
        int q = m - k < 1024 ? m - k : 1024;
        for (int s = 0; s < q; s++)
            idx[s] = start + k + s;
        fetch(j->d, idx, q, j->buf[t]);
        convert(j->d, j->buf[t], idx, q, w->a[0] + (size_t)k * tp_layer_out_size(w->net, -1), j->lab[t] + k, j->scale,
                j->classes);
    }
    tp_nn_forward(w, m, 0, NULL);
    const float *p = w->a[w->net->n];
    int K = j->classes;
    for (int s = 0; s < m; s++) {
        const float *ps = p + (size_t)s * (size_t)K;
        int best = 0;
        for (int k = 1; k < K; k++)
            best = ps[k] > ps[best] ? k : best;
        j->right[t] += best == j->lab[t][s];
        j->loss[t] -= log(ps[j->lab[t][s]] > 1e-30f ? ps[j->lab[t][s]] : 1e-30f);
    }
}

/* Loss and accuracy of the network on all of d (inference mode), threads over batches. */
static void evaluate(tp_nn *ws, int nthreads, int wcap, dataset *d, unsigned char **buf, int32_t **lab, double scale,
                     double *loss, double *acc)
{
    double l[1024] = {0};
    int64_t right[1024] = {0};
    eval_job j = {ws, d, wcap, ws[0].net->classes, scale, buf, lab, l, right};
    tp_parallel_for((d->n + wcap - 1) / wcap, nthreads, eval_batch, &j);
    double sl = 0;
    int64_t sr = 0;
    for (int t = 0; t < nthreads; t++)
        sl += l[t], sr += right[t];
    *loss = d->n ? sl / (double)d->n : NAN;
    *acc = d->n ? (double)sr / (double)d->n : NAN;
}

typedef struct {
    tp_nn *ws;        /* one workspace per shard */
    int shards;
    dataset *d;
    const int64_t *idx;
    int m;            /* samples in this batch */
    const unsigned char *recs; /* the batch's records, fetched by the main thread */
    int32_t **lab;
    double scale;
    tp_rng step;
    float smoothing;
    double *loss;
    int64_t *right;
    const tp_augment *aug; /* NULL: no augmentation */
    tp_rng aug_epoch;      /* this epoch's augmentation generator */
    float **scratch;       /* per shard: one warped image */
} step_job;

/* Shard t of a training batch: its samples forward and backward, its gradient weighted by
 * its share of the batch (so the shards' sum is the whole batch's mean gradient). */
static void train_shard(void *ctx, int64_t t, int thread)
{
    (void)thread;
    step_job *j = ctx;
    tp_nn *w = &j->ws[t];
    int lo = (int)((int64_t)j->m * t / j->shards), hi = (int)((int64_t)j->m * (t + 1) / j->shards), n = hi - lo;
    j->loss[t] = 0;
    j->right[t] = 0;
    if (n == 0) {
        memset(w->grad, 0, w->net->ntrain * sizeof *w->grad);
        return;
    }
    w->first = lo;
    convert(j->d, j->recs + (size_t)lo * j->d->rsz, j->idx + lo, n, w->a[0], j->lab[t], j->scale, w->net->classes);
    if (j->aug) { /* augment's warp, drawn per record and epoch: the same for any split */
        const tp_net *net = w->net;
        size_t sz = (size_t)net->ih * (size_t)net->iw * (size_t)net->ic;
        for (int s = 0; s < n; s++) {
            tp_rng r = tp_rng_split(&j->aug_epoch, (uint64_t)j->idx[lo + s]);
            tp_augment_draw d;
            double m[6];
            tp_augment_sample(j->aug, &r, net->ih, net->iw, &d);
            tp_augment_matrix(j->aug, &d, net->ih, net->iw, m);
            tp_augment_warp(j->aug, &d, m, w->a[0] + (size_t)s * sz, j->scratch[t], net->ih, net->iw, net->ic);
            memcpy(w->a[0] + (size_t)s * sz, j->scratch[t], sz * sizeof(float));
        }
    }
    tp_nn_forward(w, n, 1, &j->step);
    double loss = tp_nn_backward(w, n, j->lab[t], j->smoothing);
    float share = (float)n / (float)j->m;
    for (size_t k = 0; k < w->net->ntrain; k++)
        w->grad[k] *= share;
    j->loss[t] = loss * n;
    const float *p = w->a[w->net->n];
    int K = w->net->classes;
    for (int s = 0; s < n; s++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            best = p[(size_t)s * (size_t)K + (size_t)k] > p[(size_t)s * (size_t)K + (size_t)best] ? k : best;
        j->right[t] += best == j->lab[t][s];
    }
}

/* The history stream's header: one record per epoch. */
static void history_header(tp_header *h)
{
    tp_header_init(h);
    tp_header_add(h, "epoch", TP_I32, 0, NULL);
    const char *f[] = {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"};
    for (int i = 0; i < 6; i++)
        tp_header_add(h, f[i], TP_F32, 0, NULL);
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    const char *netfile = NULL, *val = NULL, *out = "-", *ckpt = NULL, *hist = NULL, *init = NULL;
    const char *opt_name = "adam", *sched_name = "constant", *monitor = "val_accuracy", *xname = "x", *yname = "y";
    int64_t epochs = 10, batch = 32, seed = 42, patience = 0, freeze = 0, step_every = 10, threads = tp_cpu_count();
    int64_t epoch_size = 0;
    double lr = 0.001, momentum = 0, decay = 0, smoothing = 0, rescale = -1, gamma = 0.1;
    int summary = 0, nesterov = 0, restore_best = 0;
    tp_augment_cli ac;
    tp_option opts[40 + TP_AUGMENT_NOPTS] = {
        {"net", 'n', TP_OPT_STRING, &netfile, "FILE", "the network file (or --init MODEL)"},
        {"val", 'v', TP_OPT_STRING, &val, "FILE", "validation stream, evaluated after every epoch"},
        {"output", 'o', TP_OPT_STRING, &out, "FILE", "write the final model to FILE"},
        {"checkpoint", 'c', TP_OPT_STRING, &ckpt, "FILE", "keep the best model by --monitor in FILE (written atomically)"},
        {"monitor", 0, TP_OPT_STRING, &monitor, "METRIC", "val_accuracy, val_loss, accuracy or loss"},
        {"restore-best", 0, TP_OPT_FLAG, &restore_best, NULL, "write the best model, not the last, to --output"},
        {"patience", 0, TP_OPT_INT, &patience, "N", "stop after N epochs without improvement (0: never)"},
        {"history", 0, TP_OPT_STRING, &hist, "FILE", "write one record per epoch (loss, accuracy, val_*, lr, seconds)"},
        {"epochs", 'e', TP_OPT_INT, &epochs, "N", "passes over the training data"},
        {"epoch-size", 0, TP_OPT_INT, &epoch_size, "N", "read the input in order, N records an epoch (an endless augment stream); 0: random access"},
        {"batch", 'b', TP_OPT_INT, &batch, "N", "batch size"},
        {"optimizer", 0, TP_OPT_STRING, &opt_name, "NAME", "adam, sgd or adagrad (Keras' defaults)"},
        {"lr", 0, TP_OPT_DOUBLE, &lr, "X", "learning rate (the peak for onecycle)"},
        {"momentum", 0, TP_OPT_DOUBLE, &momentum, "X", "SGD momentum"},
        {"nesterov", 0, TP_OPT_FLAG, &nesterov, NULL, "Nesterov momentum for SGD"},
        {"schedule", 0, TP_OPT_STRING, &sched_name, "NAME", "constant, step, cosine or onecycle"},
        {"step-every", 0, TP_OPT_INT, &step_every, "N", "step schedule: multiply by --gamma every N epochs"},
        {"gamma", 0, TP_OPT_DOUBLE, &gamma, "X", "step schedule factor"},
        {"decay", 0, TP_OPT_DOUBLE, &decay, "X", "decoupled weight decay"},
        {"smoothing", 0, TP_OPT_DOUBLE, &smoothing, "X", "label smoothing"},
        {"rescale", 0, TP_OPT_DOUBLE, &rescale, "X", "multiply inputs by X (default: 1/255 for u8 input, else 1)"},
        {"init", 0, TP_OPT_STRING, &init, "MODEL", "start from this model's network and weights (resume, fine-tune)"},
        {"freeze", 0, TP_OPT_INT, &freeze, "N", "keep the first N layers' weights fixed"},
        {"seed", 's', TP_OPT_INT, &seed, "N", "seed for initialisation, shuffling and dropout"},
        {"threads", 't', TP_OPT_INT, &threads, "N", "threads, each taking a share of every batch"},
        {"summary", 0, TP_OPT_FLAG, &summary, NULL, "print the layer table on stderr before training"},
        {"field", 'f', TP_OPT_STRING, &xname, "NAME", "the input field"},
        {"label", 'l', TP_OPT_STRING, &yname, "NAME", "the label field"},
    };
    int nown = 0;
    while (opts[nown].name)
        nown++;
    tp_augment_cli_init(&ac, opts + nown); /* augment's options: a fresh warp of every image, every epoch */
    const tp_cli cli = {
        "[OPTIONS] --net FILE [TRAIN]",
        "Trains a network on a stream of inputs x and integer labels y (stdin or TRAIN) with\n"
        "softmax cross-entropy, shuffling every epoch, and writes the model as a stream. After\n"
        "each epoch a Keras-style line on stderr gives loss, accuracy and the --val figures.\n"
        "The same seed on the same machine gives the same model bytes. A NaN loss stops the\n"
        "run; the checkpoint keeps the last good model.",
        opts,
        "Example:\n  train --net pipelines/nets/lenet5.net --val test.tp --epochs 10 -c best.tp < train.tp > model.tp",
        0, 1,
    };
    char **args;
    int nargs = tp_cli_parse(&cli, argc, argv, &args);
    tp_augment_cli_finish(&ac);
    /* threads split each batch between them; BLAS runs single-threaded inside each (measured
     * faster than threaded BLAS at these sizes, and the same bytes on every run) */
    openblas_set_num_threads(1);
    if (!netfile && !init)
        tp_usage("give the network with --net FILE (or start from a model with --init)");
    if (epochs < 1 || batch < 1 || batch > 65536)
        tp_usage("--epochs must be >= 1 and --batch 1 to 65536");
    if (threads < 1 || threads > 256)
        tp_usage("--threads must be 1 to 256");
    if (epoch_size < 0)
        tp_usage("--epoch-size must be >= 0");
    tp_opt_kind ok;
    tp_sched sched = {TP_SCHED_CONSTANT, lr, gamma, (int)step_every, lr * 1e-3, 0.3};
    if (tp_optim_parse(opt_name, &ok))
        tp_usage("--optimizer is adam, sgd or adagrad, not '%s'", opt_name);
    if (tp_sched_parse(sched_name, &sched.kind))
        tp_usage("--schedule is constant, step, cosine or onecycle, not '%s'", sched_name);
    int mon = strcmp(monitor, "val_accuracy") == 0 ? 0 : strcmp(monitor, "val_loss") == 0 ? 1
            : strcmp(monitor, "accuracy") == 0     ? 2 : strcmp(monitor, "loss") == 0 ? 3 : -1;
    if (mon < 0)
        tp_usage("--monitor is val_accuracy, val_loss, accuracy or loss, not '%s'", monitor);
    if (mon <= 1 && !val)
        mon += 2; /* no validation data: watch the training figures */
    if (!(lr > 0) || smoothing < 0 || smoothing >= 1 || decay < 0 || momentum < 0 || momentum >= 1)
        tp_usage("--lr must be > 0, --smoothing and --momentum in [0, 1), --decay >= 0");

    dataset tr, va;
    memset(&va, 0, sizeof va);
    open_data(&tr, nargs ? args[0] : "-", xname, yname, epoch_size);
    if (tr.n == 0)
        tp_die("%s: no training records", tr.name);
    int ih, iw, ic;
    shape_of(tr.x, &ih, &iw, &ic);
    tp_net net;
    memset(&net, 0, sizeof net);
    tp_header model_meta;
    tp_header_init(&model_meta);
    char err[512];
    if (init) {
        tp_header ih_;
        tp_net_read_model(&net, init, &ih_);
        if (net.ih != ih || net.iw != iw || net.ic != ic)
            tp_die("%s: the model takes %dx%dx%d inputs, %s holds %dx%dx%d", init, net.ih, net.iw, net.ic, tr.name, ih, iw, ic);
        tp_header_free(&ih_);
    } else {
        if (tp_net_load_file(&net, netfile, err, sizeof err) || tp_net_build(&net, ih, iw, ic, netfile, err, sizeof err))
            tp_die("%s", err);
        tp_net_init(&net, (uint64_t)seed);
    }
    if (freeze < 0 || freeze > net.n)
        tp_usage("--freeze must be 0 to the %d layers", net.n);
    if (val) {
        open_data(&va, val, xname, yname, 0);
        int vh, vw, vc;
        shape_of(va.x, &vh, &vw, &vc);
        if (vh != ih || vw != iw || vc != ic)
            tp_die("%s: inputs are %dx%dx%d, the training data's %dx%dx%d", va.name, vh, vw, vc, ih, iw, ic);
    }
    double scale = rescale >= 0 ? rescale : tr.x->dtype == TP_U8 ? 1.0 / 255 : 1;
    const char *classes = tp_header_get_meta(tr.rs ? tp_records_header(tr.rs) : tp_reader_header(tr.r), "classes");
    if (classes)
        tp_header_set_meta(&model_meta, "classes", classes);
    char sbuf[64];
    snprintf(sbuf, sizeof sbuf, "%.17g", scale);
    tp_header_set_meta(&model_meta, "rescale", sbuf);
    if (summary)
        tp_net_summary(&net, stderr);

    /* parameters of frozen layers get no updates: they precede all others in the block */
    size_t first_free = net.ntrain;
    for (int i = 0; i < net.n; i++)
        if (i >= freeze && net.l[i].nw + net.l[i].nb > 0) {
            first_free = net.l[i].w;
            break;
        }
    int T = (int)(threads < batch ? threads : batch), wcap = (int)((batch + T - 1) / T);
    tp_nn *ws = tp_alloc((size_t)T, sizeof *ws);
    unsigned char **buf = tp_alloc((size_t)T, sizeof *buf);
    int32_t **lab = tp_alloc((size_t)T, sizeof *lab);
    for (int t = 0; t < T; t++) {
        tp_nn_init(&ws[t], &net, wcap);
        ws[t].update_stats = t == 0; /* batchnorm: per-shard statistics, one writer of the moving ones */
        buf[t] = tp_alloc((size_t)wcap, tr.rsz > va.rsz ? tr.rsz : va.rsz);
        lab[t] = tp_alloc((size_t)wcap, sizeof **lab);
    }
    tp_rng root_for_aug;
    tp_rng_seed(&root_for_aug, (uint64_t)seed);
    tp_optim opt;
    tp_optim_init(&opt, ok, net.ntrain - first_free);
    opt.momentum = momentum;
    opt.nesterov = nesterov;
    opt.decay = decay;
    int64_t *order = tp_alloc((size_t)tr.n, sizeof *order);
    unsigned char *recs = tp_alloc((size_t)batch, tr.rsz);
    double sh_loss[256];
    int64_t sh_right[256];
    int augmenting = tp_augment_active(&ac.a);
    if (augmenting && net.ih < 2 && net.iw < 2)
        tp_die("%s: augmentation needs images, not vectors", tr.name);
    float **scratch = tp_alloc((size_t)T, sizeof *scratch);
    for (int k = 0; k < T; k++)
        scratch[k] = tp_alloc(tp_layer_out_size(&net, -1), sizeof(float));
    tp_rng aug_root = tp_rng_split(&root_for_aug, 0x415547ull); /* "AUG" */
    tp_header hh;
    history_header(&hh);
    hh.count = -1;
    tp_writer *hw = hist ? tp_writer_open(hist, &hh) : NULL;
    float *best_params = restore_best ? tp_alloc(net.nparams, sizeof(float)) : NULL;

    tp_rng root = root_for_aug;
    int64_t steps_per_epoch = (tr.n + batch - 1) / batch, total = steps_per_epoch * epochs, t = 0;
    double best = NAN;
    int since_best = 0, best_epoch = 0;
    for (int64_t e = 0; e < epochs; e++) {
        double t0 = tp_now(), sum_loss = 0, cur_lr = lr;
        int64_t right = 0;
        for (int64_t i = 0; i < tr.n; i++) /* a stream: records are numbered in arrival order */
            order[i] = tr.r ? e * tr.n + i : i;
        if (tr.rs) {
            tp_rng sr = tp_rng_split(&root, 0x5348554600000000ull | (uint64_t)e);
            tp_rng_shuffle(&sr, order, tr.n);
        }
        tp_progress pr;
        tp_progress_start(&pr, "train", tr.n, "images");
        int64_t seen = 0;
        for (int64_t b = 0; b < tr.n; b += batch, t++) {
            int m = (int)(tr.n - b < batch ? tr.n - b : batch);
            m = fetch(&tr, order + b, m, recs);
            if (m == 0)
                break; /* a stream that ended */
            seen += m;
            step_job j = {ws, T, &tr, order + b, m, recs, lab, scale, tp_rng_split(&root, (uint64_t)t), (float)smoothing,
                          sh_loss, sh_right, augmenting ? &ac.a : NULL, tp_rng_split(&aug_root, (uint64_t)e), scratch};
            tp_parallel_for(T, T, train_shard, &j);
            double loss = 0;
            for (int k = 0; k < T; k++) { /* fixed order: the same sums for the same thread count */
                loss += sh_loss[k];
                right += sh_right[k];
                if (k > 0)
                    for (size_t q = 0; q < net.ntrain; q++)
                        ws[0].grad[q] += ws[k].grad[q];
            }
            if (!isfinite(loss))
                tp_die("loss is %g at epoch %lld, batch %lld: stopped%s%s%s", loss / m, (long long)(e + 1),
                       (long long)(b / batch + 1), ckpt ? " (" : "", ckpt ? ckpt : "",
                       ckpt ? " keeps the best model so far)" : "");
            sum_loss += loss;
            cur_lr = tp_sched_lr(&sched, t, total, steps_per_epoch);
            tp_optim_step(&opt, net.params + first_free, ws[0].grad + first_free, cur_lr);
            tp_progress_update(&pr, b + m);
        }
        tp_progress_end(&pr, seen);
        if (seen == 0) {
            fprintf(stderr, "train: %s ended before epoch %lld\n", tr.name, (long long)(e + 1));
            break;
        }
        double loss = sum_loss / (double)seen, acc = (double)right / (double)seen, vl = NAN, vacc = NAN;
        if (val)
            evaluate(ws, T, wcap, &va, buf, lab, scale, &vl, &vacc);
        double secs = tp_now() - t0;
        fprintf(stderr, "Epoch %lld/%lld - %.0fs - loss: %.4f - accuracy: %.4f", (long long)(e + 1), (long long)epochs,
                secs, loss, acc);
        if (val)
            fprintf(stderr, " - val_loss: %.4f - val_accuracy: %.4f", vl, vacc);
        fprintf(stderr, " - lr: %.3g\n", cur_lr);
        if (hw) {
            unsigned char rec[28];
            int32_t ep = (int32_t)(e + 1);
            float v[6] = {(float)loss, (float)acc, (float)vl, (float)vacc, (float)cur_lr, (float)secs};
            memcpy(rec, &ep, 4);
            memcpy(rec + 4, v, sizeof v);
            tp_writer_write(hw, rec, 1);
        }
        double score = mon == 0 ? vacc : mon == 1 ? -vl : mon == 2 ? acc : -loss;
        if (isnan(best) || score > best) {
            best = score;
            best_epoch = (int)(e + 1);
            since_best = 0;
            if (ckpt)
                tp_net_save(&net, &model_meta, ckpt);
            if (best_params)
                memcpy(best_params, net.params, net.nparams * sizeof(float));
        } else if (patience > 0 && ++since_best >= patience) {
            fprintf(stderr, "train: no better %s for %lld epochs: stopping after epoch %lld (best: epoch %d)\n", monitor,
                    (long long)patience, (long long)(e + 1), best_epoch);
            break;
        }
    }
    if (hw)
        tp_writer_close(hw);
    if (best_params)
        memcpy(net.params, best_params, net.nparams * sizeof(float));
    tp_net_save(&net, &model_meta, out);
    free(best_params);
    tp_header_free(&hh);
    tp_header_free(&model_meta);
    free(order);
    free(recs);
    for (int k = 0; k < T; k++) {
        tp_nn_free(&ws[k]);
        free(buf[k]);
        free(lab[k]);
    }
    for (int k = 0; k < T; k++)
        free(scratch[k]);
    free(scratch);
    free(ws);
    free(lab);
    free(buf);
    tp_optim_free(&opt);
    tp_net_free(&net);
    tp_records_close(tr.rs);
    tp_reader_close(tr.r);
    tp_records_close(va.rs);
    free(args);
    return 0;
}
