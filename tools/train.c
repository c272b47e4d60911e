/* train — trains a network described in a plain-text file on a stream of images and labels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "augment.h"
#include "cli.h"
#include "comm.h"
#include "dataset.h"
#include "device.h"
#include "model.h"
#include "net.h"
#include "nn.h"
#include "optim.h"
#include "parallel.h"
#include "preprocess.h"
#include "outfile.h"
#include "progress.h"
#include "trainer.h"
#include "util.h"

enum { MON_VAL_ACCURACY, MON_VAL_LOSS, MON_ACCURACY, MON_LOSS };

typedef struct {
    const char *net, *val, *out, *ckpt, *hist, *init, *train, *xname, *yname, *device;
    int precision, optimizer, schedule, monitor, prep;
    int64_t epochs, batch, seed, patience, freeze, step_every, threads, epoch_size;
    double lr, momentum, decay, smoothing, rescale, gamma;
    int summary, nesterov, restore_best, overwrite;
    tp_augment_cli aug;
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.out = "-", .xname = "x", .yname = "y", .optimizer = TP_OPT_ADAM, .schedule = TP_SCHED_CONSTANT,
                   .prep = -1, .epochs = 10, .batch = 32, .seed = 42, .step_every = 10, .threads = tp_cpu_count(),
                   .lr = 0.001, .rescale = -1, .gamma = 0.1};
    tp_option opts[40 + TP_AUGMENT_NOPTS] = {
        TP_STRING("net", 'n', &o->net, "FILE", "the network file (or --init MODEL)"),
        TP_STRING("val", 'v', &o->val, "FILE", "validation stream, evaluated after every epoch"),
        TP_STRING("output", 'o', &o->out, "FILE", "write the final model to FILE"),
        TP_STRING("checkpoint", 'c', &o->ckpt, "FILE", "keep the best model by --monitor in FILE (written atomically)"),
        TP_FLAG("overwrite", 0, &o->overwrite, "let --checkpoint replace a file that exists (an earlier run's best model)"),
        TP_CHOICE("monitor", 0, &o->monitor, "METRIC", "val_accuracy, val_loss, accuracy or loss", "val_accuracy",
                  "val_loss", "accuracy", "loss"),
        TP_FLAG("restore-best", 0, &o->restore_best, "write the best model, not the last, to --output"),
        TP_INT("patience", 0, &o->patience, "N", "stop after N epochs without improvement (0: never)", TP_MIN(0)),
        TP_STRING("history", 0, &o->hist, "FILE", "write one record per epoch (loss, accuracy, val_*, lr, seconds)"),
        TP_INT("epochs", 'e', &o->epochs, "N", "passes over the training data", TP_MIN(1)),
        TP_INT("epoch-size", 0, &o->epoch_size, "N", "read the input in order, N records an epoch (an endless augment stream); 0: random access", TP_MIN(0)),
        TP_INT("batch", 'b', &o->batch, "N", "batch size", TP_RANGE(1, 65536)),
        TP_CHOICE("optimizer", 0, &o->optimizer, "NAME", "sgd, adam or adagrad (Keras' defaults)", "sgd", "adam", "adagrad"),
        TP_DOUBLE("lr", 0, &o->lr, "X", "learning rate (the peak for onecycle)", TP_ABOVE(0)),
        TP_DOUBLE("momentum", 0, &o->momentum, "X", "SGD momentum", TP_FRACTION),
        TP_FLAG("nesterov", 0, &o->nesterov, "Nesterov momentum for SGD"),
        TP_CHOICE("schedule", 0, &o->schedule, "NAME", "constant, step, cosine or onecycle", "constant", "step", "cosine",
                  "onecycle"),
        TP_INT("step-every", 0, &o->step_every, "N", "step schedule: multiply by --gamma every N epochs", TP_MIN(1)),
        TP_DOUBLE("gamma", 0, &o->gamma, "X", "step schedule factor", TP_ABOVE(0)),
        TP_DOUBLE("decay", 0, &o->decay, "X", "decoupled weight decay", TP_MIN(0)),
        TP_DOUBLE("smoothing", 0, &o->smoothing, "X", "label smoothing", TP_FRACTION),
        TP_DOUBLE("rescale", 0, &o->rescale, "X", "multiply inputs by X (default: 1/255 for u8 input, else 1)", TP_MIN(0)),
        TP_CHOICE("preprocess", 0, &o->prep, "MODE", "input preparation, kept in the model for predict: rescale (by --rescale), or Keras' preprocess_input modes caffe (VGG16's), tf, torch; default: the --init model's, else rescale",
                  "rescale", "caffe", "tf", "torch"),
        TP_STRING("init", 0, &o->init, "MODEL", "start from this model's network and weights (resume, fine-tune)"),
        TP_INT("freeze", 0, &o->freeze, "N", "keep the first N layers' weights fixed", TP_MIN(0)),
        TP_INT("seed", 's', &o->seed, "N", "seed for initialisation, shuffling and dropout"),
        TP_OPT_THREADS(&o->threads, "threads sharing each layer of every batch"),
        TP_DEVICE_OPTIONS(&o->device, &o->precision),
        TP_FLAG("summary", 0, &o->summary, "print the layer table on stderr before training"),
        TP_STRING("field", 'f', &o->xname, "NAME", "the input field"),
        TP_STRING("label", 'l', &o->yname, "NAME", "the label field"),
    };
    int nown = 0;
    while (opts[nown].name)
        nown++;
    tp_augment_cli_init(&o->aug, opts + nown); /* augment's options: a fresh warp of every image, every epoch */
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
    o->train = nargs ? args[0] : "-";
    free(args);
    tp_augment_cli_finish(&o->aug);
    if (!o->net && !o->init)
        tp_usage("give the network with --net FILE (or start from a model with --init)");
    if (o->prep > TP_PREP_RESCALE && o->rescale >= 0)
        tp_usage("--rescale goes with --preprocess rescale: %s sets its own scale", tp_prep_name((tp_prep_mode)o->prep));
    const char *outs[3] = {o->out, o->ckpt, o->hist}, *names[3] = {"--output", "--checkpoint", "--history"};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (outs[i] && outs[j] && tp_same_output(outs[i], outs[j]))
                tp_usage("%s and %s name the same file", names[i], names[j]);
    if (o->monitor <= MON_VAL_LOSS && !o->val)
        o->monitor += 2; /* no validation data: watch the training figures */
}

/* The network to train (from --net, initialised, or from --init's model) for the data's
 * input shape, its input preparation, and the model's metadata (classes, preprocess). */
static void open_network(const options *o, const tp_dataset *tr, tp_net *net, tp_prep *prep, tp_header *meta)
{
    int ih, iw, ic;
    tp_dataset_shape(tr, &ih, &iw, &ic);
    char err[512];
    *prep = tp_prep_make(o->prep < 0 ? TP_PREP_RESCALE : (tp_prep_mode)o->prep, -1);
    if (o->init) {
        tp_header mh;
        tp_model_read_net(o->init, net, &mh);
        if (net->ih != ih || net->iw != iw || net->ic != ic)
            tp_die("%s: the model takes %dx%dx%d inputs, %s holds %dx%dx%d", o->init, net->ih, net->iw, net->ic, tr->name,
                   ih, iw, ic);
        /* fine-tuning keeps the preparation the model was made with */
        if (o->prep < 0 && o->rescale < 0 && tp_header_get_meta(&mh, "preprocess") &&
            tp_prep_from_meta(&mh, prep, err, sizeof err))
            tp_die("%s: %s", o->init, err);
        tp_header_free(&mh);
    } else {
        memset(net, 0, sizeof *net);
        if (tp_net_load_file(net, o->net, err, sizeof err) || tp_net_build(net, ih, iw, ic, o->net, err, sizeof err))
            tp_die("%s", err);
        tp_net_init(net, (uint64_t)o->seed);
    }
    if (o->freeze > net->n)
        tp_usage("--freeze must be 0 to the %d layers", net->n);
    if (prep->mode == TP_PREP_RESCALE && prep->scale < 0)
        prep->scale = o->rescale >= 0 ? o->rescale : tr->x->dtype == TP_U8 ? 1.0 / 255 : 1;
    if (tp_prep_check(prep, ic, err, sizeof err))
        tp_die("%s: %s", tr->name, err);
    tp_header_init(meta);
    const char *classes = tp_header_get_meta(tp_dataset_header(tr), "classes");
    if (classes)
        tp_header_set_meta(meta, "classes", classes);
    tp_prep_to_meta(prep, meta);
    if (o->summary) {
        tp_net_summary(net, stderr);
        tp_nn_methods(net, stderr);
    }
}

/* The history's record of one epoch: its number, then loss, accuracy, val_loss,
 * val_accuracy, lr and seconds; as a stream header (count unknown) with v NULL, else packed
 * into rec laid out by h. */
static void history_record(tp_header *h, int32_t epoch, const float *v, void *rec)
{
    static const char *const f[] = {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"};
    tp_tensor t[7] = {{"epoch", TP_I32, 0, {0}, &epoch}};
    for (int i = 0; i < 6; i++)
        t[i + 1] = (tp_tensor){f[i], TP_F32, 0, {0}, v ? v + i : NULL};
    if (!v) {
        tp_model_header(h, NULL, t, 7);
        h->count = -1;
    } else {
        tp_model_pack(h, t, 7, rec);
    }
}

/* A run's state between epochs. */
typedef struct {
    const options *o;
    tp_dataset tr, va;
    tp_net net;
    tp_header meta, hh;
    tp_device dev;
    tp_trainer *trn;
    tp_sched sched;
    tp_writer *hw;
    int64_t *order, steps, t;
    float *best_params;
    double best, lr;
    int since_best, best_epoch;
} run_state;

/* Dies for a loss that went non-finite, naming where; the checkpoint keeps the best model. */
static void diverged(const run_state *s, int64_t e, int64_t batch)
{
    const char *ck = s->o->ckpt;
    if (!tp_comm_root()) { /* every rank saw the same loss: rank 0 says it */
        tp_comm_close();
        exit(1);
    }
    tp_die("loss is %g at epoch %lld, batch %lld: stopped%s%s%s", tp_trainer_bad_loss(s->trn), (long long)(e + 1),
           (long long)batch, ck ? " (" : "", ck ? ck : "", ck ? " keeps the best model so far)" : "");
}

/* Epoch e's steps; the records seen (0: a stream that ended), the loss and accuracy. */
static int64_t run_epoch(run_state *s, int64_t e, double *loss, double *acc)
{
    const options *o = s->o;
    tp_trainer_order(s->trn, e, s->order);
    tp_progress pr;
    tp_progress_start(&pr, "train", s->tr.n, "images");
    int64_t seen = 0, right;
    for (int64_t b = 0; b < s->tr.n; b += o->batch, s->t++) {
        int m = (int)(s->tr.n - b < o->batch ? s->tr.n - b : o->batch);
        s->lr = tp_sched_lr(&s->sched, s->t, s->steps * o->epochs, s->steps);
        m = tp_trainer_step(s->trn, s->order + b, m, s->t, e, s->lr);
        if (m < 0)
            diverged(s, e, b / o->batch + 1);
        if (m == 0)
            break; /* a stream that ended */
        seen += m;
        tp_progress_update(&pr, b + m);
    }
    double sum;
    if (tp_trainer_totals(s->trn, &sum, &right))
        diverged(s, e, (s->tr.n + o->batch - 1) / o->batch);
    tp_progress_end(&pr, seen);
    *loss = seen ? sum / (double)seen : NAN;
    *acc = seen ? (double)right / (double)seen : NAN;
    return seen;
}

/* After epoch e: the log line, the history record, the checkpoint; 1 to stop early. */
static int end_epoch(run_state *s, int64_t e, double secs, double loss, double acc, double vl, double vacc)
{
    const options *o = s->o;
    int root = tp_comm_root(); /* rank 0 of a job logs and writes; the others follow the same choices */
    if (root)
        fprintf(stderr, "Epoch %lld/%lld - %.0fs - loss: %.4f - accuracy: %.4f", (long long)(e + 1), (long long)o->epochs,
            secs, loss, acc);
    if (o->val && root)
        fprintf(stderr, " - val_loss: %.4f - val_accuracy: %.4f", vl, vacc);
    if (root)
        fprintf(stderr, " - lr: %.3g\n", s->lr);
    if (s->hw) {
        unsigned char rec[28];
        float v[6] = {(float)loss, (float)acc, (float)vl, (float)vacc, (float)s->lr, (float)secs};
        history_record(&s->hh, (int32_t)(e + 1), v, rec);
        tp_writer_write(s->hw, rec, 1);
    }
    double score = o->monitor == MON_VAL_ACCURACY ? vacc : o->monitor == MON_VAL_LOSS ? -vl
                 : o->monitor == MON_ACCURACY     ? acc  : -loss;
    if (isnan(s->best) || score > s->best) {
        s->best = score;
        s->best_epoch = (int)(e + 1);
        s->since_best = 0;
        if (o->ckpt && root)
            tp_model_write_net(o->ckpt, &s->net, &s->meta);
        if (s->best_params)
            memcpy(s->best_params, s->net.params, s->net.nparams * sizeof(float));
    } else if (o->patience > 0 && ++s->since_best >= o->patience) {
        static const char *const mon[] = {"val_accuracy", "val_loss", "accuracy", "loss"};
        if (root)
            fprintf(stderr, "train: no better %s for %lld epochs: stopping after epoch %lld (best: epoch %d)\n",
                mon[o->monitor], (long long)o->patience, (long long)(e + 1), s->best_epoch);
        return 1;
    }
    return 0;
}

/* Opens the data, the network and the trainer. */
static void start(run_state *s, const options *o)
{
    memset(s, 0, sizeof *s);
    s->o = o;
    struct stat st; /* a checkpoint is written from the first epoch on: an earlier run's best stays unless asked */
    if (o->ckpt && !o->overwrite && stat(o->ckpt, &st) == 0 && S_ISREG(st.st_mode))
        tp_die("%s: exists, and --checkpoint would replace it from this run's first epoch on: give --overwrite, or "
               "another name", o->ckpt);
    if (tp_comm_size() > 1) { /* every rank opens the files: stdin reaches rank 0 only */
        if (!strcmp(o->train, "-") || (o->val && !strcmp(o->val, "-")))
            tp_usage("under MPI, name the training data (and --val) as files: stdin reaches rank 0 only");
        if (o->epoch_size)
            tp_usage("under MPI, --epoch-size (a stream read in order) cannot be shared: give a file");
    }
    tp_dataset_open(&s->tr, o->train, o->xname, o->yname, o->epoch_size);
    if (s->tr.n == 0)
        tp_die("%s: no training records", s->tr.name);
    tp_recipe r = {(tp_opt_kind)o->optimizer, o->momentum, o->decay, o->nesterov, (int)o->batch, (int)o->threads,
                   (uint64_t)o->seed, (int)o->freeze, {{0}, NULL, (float)o->smoothing}};
    open_network(o, &s->tr, &s->net, &r.input.prep, &s->meta);
    if (o->val) {
        tp_dataset_open(&s->va, o->val, o->xname, o->yname, 0);
        int vh, vw, vc;
        tp_dataset_shape(&s->va, &vh, &vw, &vc);
        if (vh != s->net.ih || vw != s->net.iw || vc != s->net.ic)
            tp_die("%s: inputs are %dx%dx%d, the training data's %dx%dx%d", s->va.name, vh, vw, vc, s->net.ih,
                   s->net.iw, s->net.ic);
    }
    if (tp_augment_active(&o->aug.a)) {
        if (s->net.ih < 2 && s->net.iw < 2)
            tp_die("%s: augmentation needs images, not vectors", s->tr.name);
        r.input.aug = &o->aug.a;
    }
    tp_device_open(&s->dev, o->device, o->precision, 0);
    tp_header_set_meta(&s->meta, "device", s->dev.name);
    s->trn = tp_trainer_open(&s->net, &s->dev, &r, &s->tr, o->val ? &s->va : NULL);
    if (tp_trainer_where(s->trn) && tp_comm_root())
        fprintf(stderr, "train: %s\n", tp_trainer_where(s->trn));
    s->sched = (tp_sched){(tp_sched_kind)o->schedule, o->lr, o->gamma, (int)o->step_every, o->lr * 1e-3, 0.3};
    s->steps = (s->tr.n + o->batch - 1) / o->batch;
    s->order = tp_alloc((size_t)s->tr.n, sizeof *s->order);
    history_record(&s->hh, 0, NULL, NULL);
    s->hw = o->hist && tp_comm_root() ? tp_writer_open(o->hist, &s->hh) : NULL;
    s->best_params = o->restore_best ? tp_alloc(s->net.nparams, sizeof(float)) : NULL;
    s->best = NAN;
}

/* A job's cost, on rank 0's stderr: what each step sums, and how long the ranks spent in
 * the job's operations (moving data and waiting for each other) against the whole run. */
static void report_job(const run_state *s, double secs)
{
    if (tp_comm_size() < 2)
        return;
    tp_comm_stats c = tp_comm_cost();
    int N = tp_comm_size();
    double *all = tp_alloc((size_t)N, sizeof *all), lo = INFINITY, hi = 0;
    all[tp_comm_rank()] = c.seconds;
    tp_comm_share_rows(all, sizeof *all, N, 1);
    for (int r = 0; r < N; r++)
        lo = all[r] < lo ? all[r] : lo, hi = all[r] > hi ? all[r] : hi;
    double steps = s->t > 0 ? (double)s->t : 1;
    if (tp_comm_root())
        fprintf(stderr,
                "train: %d ranks (%s): %lld steps, each summing %.6g MB in %.3g sums; per step %.3f ms in all, of it %.3f to %.3f ms "
                "in the job's operations (moving data and waiting), over the ranks\n",
                N, tp_comm_library(), (long long)s->t, (double)c.sum_bytes / steps / 1e6, (double)c.sums / steps,
                1e3 * secs / steps, 1e3 * lo / steps, 1e3 * hi / steps);
    free(all);
}

static int run(const options *o)
{
    run_state s;
    start(&s, o);
    double start_time = tp_now();
    for (int64_t e = 0; e < o->epochs; e++) {
        double t0 = tp_now(), loss, acc, vl = NAN, vacc = NAN;
        if (!run_epoch(&s, e, &loss, &acc)) {
            if (tp_comm_root())
                fprintf(stderr, "train: %s ended before epoch %lld\n", s.tr.name, (long long)(e + 1));
            break;
        }
        tp_trainer_sync(s.trn); /* the host's copy of the parameters, for checkpoints and the output */
        if (o->val)
            tp_trainer_evaluate(s.trn, &s.va, &vl, &vacc);
        if (end_epoch(&s, e, tp_now() - t0, loss, acc, vl, vacc))
            break;
    }
    report_job(&s, tp_now() - start_time);
    if (s.hw)
        tp_writer_close(s.hw);
    if (s.best_params)
        memcpy(s.net.params, s.best_params, s.net.nparams * sizeof(float));
    if (tp_comm_root())
        tp_model_write_net(o->out, &s.net, &s.meta);
    tp_trainer_close(s.trn);
    tp_device_close(&s.dev);
    free(s.best_params), free(s.order);
    tp_header_free(&s.hh), tp_header_free(&s.meta);
    tp_net_free(&s.net);
    tp_dataset_close(&s.tr), tp_dataset_close(&s.va);
    return 0;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    tp_comm_open(0); /* before the options: the default thread count shares the host */
    options o;
    parse(argc, argv, &o);
    int rc = run(&o);
    tp_comm_close();
    return rc;
}
