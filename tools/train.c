/* train — trains a network described in a plain-text file on a stream of images and labels. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "cli.h"
#include "device.h"
#include "gpu_nn.h"
#include "model.h"
#include "net.h"
#include "nn.h"
#include "optim.h"
#include "parallel.h"
#include "preprocess.h"
#include "progress.h"
#include "trainer.h"
#include "rng.h"
#include "dtype.h"
#include "stream.h"
#include "util.h"

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

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    const char *netfile = NULL, *val = NULL, *out = "-", *ckpt = NULL, *hist = NULL, *init = NULL;
    const char *device = "auto", *precision = "fp32";
    const char *opt_name = "adam", *sched_name = "constant", *monitor = "val_accuracy", *xname = "x", *yname = "y";
    const char *prep_name = NULL;
    int64_t epochs = 10, batch = 32, seed = 42, patience = 0, freeze = 0, step_every = 10, threads = tp_cpu_count();
    int64_t epoch_size = 0;
    double lr = 0.001, momentum = 0, decay = 0, smoothing = 0, rescale = -1, gamma = 0.1;
    int summary = 0, nesterov = 0, restore_best = 0;
    tp_augment_cli ac;
    tp_option opts[40 + TP_AUGMENT_NOPTS] = {
        TP_STRING("net", 'n', &netfile, "FILE", "the network file (or --init MODEL)"),
        TP_STRING("val", 'v', &val, "FILE", "validation stream, evaluated after every epoch"),
        TP_STRING("output", 'o', &out, "FILE", "write the final model to FILE"),
        TP_STRING("checkpoint", 'c', &ckpt, "FILE", "keep the best model by --monitor in FILE (written atomically)"),
        TP_STRING("monitor", 0, &monitor, "METRIC", "val_accuracy, val_loss, accuracy or loss"),
        TP_FLAG("restore-best", 0, &restore_best, "write the best model, not the last, to --output"),
        TP_INT("patience", 0, &patience, "N", "stop after N epochs without improvement (0: never)"),
        TP_STRING("history", 0, &hist, "FILE", "write one record per epoch (loss, accuracy, val_*, lr, seconds)"),
        TP_INT("epochs", 'e', &epochs, "N", "passes over the training data"),
        TP_INT("epoch-size", 0, &epoch_size, "N", "read the input in order, N records an epoch (an endless augment stream); 0: random access"),
        TP_INT("batch", 'b', &batch, "N", "batch size"),
        TP_STRING("optimizer", 0, &opt_name, "NAME", "adam, sgd or adagrad (Keras' defaults)"),
        TP_DOUBLE("lr", 0, &lr, "X", "learning rate (the peak for onecycle)"),
        TP_DOUBLE("momentum", 0, &momentum, "X", "SGD momentum"),
        TP_FLAG("nesterov", 0, &nesterov, "Nesterov momentum for SGD"),
        TP_STRING("schedule", 0, &sched_name, "NAME", "constant, step, cosine or onecycle"),
        TP_INT("step-every", 0, &step_every, "N", "step schedule: multiply by --gamma every N epochs"),
        TP_DOUBLE("gamma", 0, &gamma, "X", "step schedule factor"),
        TP_DOUBLE("decay", 0, &decay, "X", "decoupled weight decay"),
        TP_DOUBLE("smoothing", 0, &smoothing, "X", "label smoothing"),
        TP_DOUBLE("rescale", 0, &rescale, "X", "multiply inputs by X (default: 1/255 for u8 input, else 1)"),
        TP_STRING("preprocess", 0, &prep_name, "MODE", "input preparation, kept in the model for predict: rescale (by --rescale), or Keras' preprocess_input modes caffe (VGG16's), tf, torch; default: the --init model's, else rescale"),
        TP_STRING("init", 0, &init, "MODEL", "start from this model's network and weights (resume, fine-tune)"),
        TP_INT("freeze", 0, &freeze, "N", "keep the first N layers' weights fixed"),
        TP_INT("seed", 's', &seed, "N", "seed for initialisation, shuffling and dropout"),
        TP_INT("threads", 't', &threads, "N", "threads, each taking a share of every batch"),
        TP_STRING("device", 0, &device, "DEV", "auto, cpu, cuda or cuda:N (auto: a GPU when one works, else the CPU)"),
        TP_STRING("precision", 0, &precision, "P", "GPU matrix products: fp32, tf32 or bf16"),
        TP_FLAG("summary", 0, &summary, "print the layer table on stderr before training"),
        TP_STRING("field", 'f', &xname, "NAME", "the input field"),
        TP_STRING("label", 'l', &yname, "NAME", "the label field"),
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

    tp_dataset tr, va;
    memset(&va, 0, sizeof va);
    tp_dataset_open(&tr, nargs ? args[0] : "-", xname, yname, epoch_size);
    if (tr.n == 0)
        tp_die("%s: no training records", tr.name);
    int ih, iw, ic;
    tp_dataset_shape(&tr, &ih, &iw, &ic);
    tp_net net;
    memset(&net, 0, sizeof net);
    tp_header model_meta;
    tp_header_init(&model_meta);
    char err[512];
    tp_prep prep = tp_prep_make(TP_PREP_RESCALE, -1);
    if (prep_name) {
        tp_prep_mode pm;
        if (tp_prep_parse(prep_name, &pm))
            tp_usage("--preprocess is rescale, caffe, tf or torch, not '%s'", prep_name);
        if (pm != TP_PREP_RESCALE && rescale >= 0)
            tp_usage("--rescale goes with --preprocess rescale: %s sets its own scale", prep_name);
        prep = tp_prep_make(pm, -1);
    }
    if (init) {
        tp_header ih_;
        tp_model_read_net(init, &net, &ih_);
        if (net.ih != ih || net.iw != iw || net.ic != ic)
            tp_die("%s: the model takes %dx%dx%d inputs, %s holds %dx%dx%d", init, net.ih, net.iw, net.ic, tr.name, ih, iw, ic);
        /* fine-tuning keeps the preparation the model was made with */
        if (!prep_name && rescale < 0 && tp_header_get_meta(&ih_, "preprocess") && tp_prep_from_meta(&ih_, &prep, err, sizeof err))
            tp_die("%s: %s", init, err);
        tp_header_free(&ih_);
    } else {
        if (tp_net_load_file(&net, netfile, err, sizeof err) || tp_net_build(&net, ih, iw, ic, netfile, err, sizeof err))
            tp_die("%s", err);
        tp_net_init(&net, (uint64_t)seed);
    }
    if (freeze < 0 || freeze > net.n)
        tp_usage("--freeze must be 0 to the %d layers", net.n);
    if (val) {
        tp_dataset_open(&va, val, xname, yname, 0);
        int vh, vw, vc;
        tp_dataset_shape(&va, &vh, &vw, &vc);
        if (vh != ih || vw != iw || vc != ic)
            tp_die("%s: inputs are %dx%dx%d, the training data's %dx%dx%d", va.name, vh, vw, vc, ih, iw, ic);
    }
    if (prep.mode == TP_PREP_RESCALE && prep.scale < 0)
        prep.scale = rescale >= 0 ? rescale : tr.x->dtype == TP_U8 ? 1.0 / 255 : 1;
    if (tp_prep_check(&prep, ic, err, sizeof err))
        tp_die("%s: %s", tr.name, err);
    double scale = prep.scale;
    const char *classes = tp_header_get_meta(tp_dataset_header(&tr), "classes");
    if (classes)
        tp_header_set_meta(&model_meta, "classes", classes);
    tp_prep_to_meta(&prep, &model_meta);
    if (summary)
        tp_net_summary(&net, stderr);

    /* frozen layers get no updates (their parameters precede all others in the block), and
     * backward passes stop at the first layer that learns, as in Keras */
    net.frozen = (int)freeze;
    size_t first_free = net.ntrain;
    for (int i = 0; i < net.n; i++)
        if (i >= freeze && net.l[i].nw + net.l[i].nb > 0) {
            first_free = net.l[i].w;
            break;
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
    int augmenting = tp_augment_active(&ac.a);
    if (augmenting && net.ih < 2 && net.iw < 2)
        tp_die("%s: augmentation needs images, not vectors", tr.name);
    tp_device dev;
    tp_device_open(&dev, device, precision, 0);
    const tp_gpu_nn_api *gn = dev.api ? dev.api->nn : NULL;
    tp_header_set_meta(&model_meta, "device", dev.name);
    tp_gnn *gw = NULL;
    int resident[2] = {0, 0};
    float *gx = NULL, *gscratch = NULL;
    int32_t *glab = NULL;
    tp_trainer trn;
    memset(&trn, 0, sizeof trn);
    if (gn) { /* the whole network on the GPU; the data too when it fits and needs no warping */
        gw = gn->create(dev.gpu, &net, (int)batch);
        resident[0] = !augmenting && tp_gpu_keep_dataset(gn, gw, 0, &tr, &net, &prep);
        resident[1] = val && tp_gpu_keep_dataset(gn, gw, 1, &va, &net, &prep);
        gx = tp_alloc((size_t)batch, tp_layer_out_size(&net, -1) * sizeof *gx);
        gscratch = tp_alloc(tp_layer_out_size(&net, -1), sizeof *gscratch);
        glab = tp_alloc((size_t)batch, sizeof *glab);
        fprintf(stderr, "train: on %s%s\n", dev.name, resident[0] ? ", the training data kept on the device" : "");
    } else {
        tp_trainer_init(&trn, &net, (int)threads, (int)batch, tr.rsz > va.rsz ? tr.rsz : va.rsz, scale, (float)smoothing,
                        augmenting ? &ac.a : NULL);
        trn.prep = prep.mode == TP_PREP_RESCALE ? NULL : &prep;
    }
    tp_rng aug_root = tp_rng_split(&root_for_aug, 0x415547ull); /* "AUG" */
    tp_header hh;
    history_record(&hh, 0, NULL, NULL);
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
        int64_t seen = 0, pending = 0;
        int unread = 0;
        for (int64_t b = 0; b < tr.n; b += batch, t++) {
            int m = (int)(tr.n - b < batch ? tr.n - b : batch);
            if (!resident[0])
                m = tp_dataset_fetch(&tr, order + b, m, recs);
            if (m == 0)
                break; /* a stream that ended */
            seen += m;
            tp_rng step = tp_rng_split(&root, (uint64_t)t), aug_epoch = tp_rng_split(&aug_root, (uint64_t)e);
            double loss;
            int64_t over = m; /* samples the loss sums over */
            if (gw) {
                if (resident[0]) {
                    gn->gather(gw, 0, order + b, m);
                } else {
                    tp_batch_input(&tr, recs, order + b, m, scale, prep.mode == TP_PREP_RESCALE ? NULL : &prep, &net,
                                   augmenting ? &ac.a : NULL, &aug_epoch, gscratch, gx, glab);
                    gn->set_batch(gw, gx, glab, m);
                }
                gn->forward(gw, m, 1, step.key, 0);
                gn->backward(gw, m, (float)smoothing);
                pending += m;
                /* the loss is read back every 16 steps: the host runs ahead of the GPU between */
                loss = 0;
                if (++unread == 16 || b + batch >= tr.n) {
                    loss = gn->totals(gw, &right);
                    over = pending;
                    unread = 0;
                    pending = 0;
                }
            } else {
                loss = tp_trainer_step(&trn, &tr, recs, order + b, m, &step, &aug_epoch, &right);
            }
            if (!isfinite(loss))
                tp_die("loss is %g at epoch %lld, batch %lld: stopped%s%s%s", loss / (double)over, (long long)(e + 1),
                       (long long)(b / batch + 1), ckpt ? " (" : "", ckpt ? ckpt : "",
                       ckpt ? " keeps the best model so far)" : "");
            sum_loss += loss;
            cur_lr = tp_sched_lr(&sched, t, total, steps_per_epoch);
            if (gw)
                gn->step(gw, &opt, first_free, cur_lr);
            else
                tp_optim_step(&opt, net.params + first_free, trn.ws[0].grad + first_free, cur_lr);
            tp_progress_update(&pr, b + m);
        }
        if (gw && unread) { /* a stream that ended early */
            double tail = gn->totals(gw, &right);
            if (!isfinite(tail))
                tp_die("loss is %g at epoch %lld, near the end of %s: stopped%s%s%s", tail, (long long)(e + 1),
                       tr.name, ckpt ? " (" : "", ckpt ? ckpt : "", ckpt ? " keeps the best model so far)" : "");
            sum_loss += tail;
        }
        tp_progress_end(&pr, seen);
        if (seen == 0) {
            fprintf(stderr, "train: %s ended before epoch %lld\n", tr.name, (long long)(e + 1));
            break;
        }
        double loss = sum_loss / (double)seen, acc = (double)right / (double)seen, vl = NAN, vacc = NAN;
        if (gw) /* the host's copy of the parameters, for checkpoints and the output */
            gn->get_params(gw, net.params);
        if (val && gw)
            tp_gpu_evaluate(gn, gw, &va, resident[1], (int)batch, &prep, &net, &vl, &vacc);
        else if (val)
            tp_trainer_evaluate(&trn, &va, &vl, &vacc);
        double secs = tp_now() - t0;
        fprintf(stderr, "Epoch %lld/%lld - %.0fs - loss: %.4f - accuracy: %.4f", (long long)(e + 1), (long long)epochs,
                secs, loss, acc);
        if (val)
            fprintf(stderr, " - val_loss: %.4f - val_accuracy: %.4f", vl, vacc);
        fprintf(stderr, " - lr: %.3g\n", cur_lr);
        if (hw) {
            unsigned char rec[28];
            float v[6] = {(float)loss, (float)acc, (float)vl, (float)vacc, (float)cur_lr, (float)secs};
            history_record(&hh, (int32_t)(e + 1), v, rec);
            tp_writer_write(hw, rec, 1);
        }
        double score = mon == 0 ? vacc : mon == 1 ? -vl : mon == 2 ? acc : -loss;
        if (isnan(best) || score > best) {
            best = score;
            best_epoch = (int)(e + 1);
            since_best = 0;
            if (ckpt)
                tp_model_write_net(ckpt, &net, &model_meta);
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
    tp_model_write_net(out, &net, &model_meta);
    free(best_params);
    tp_header_free(&hh);
    tp_header_free(&model_meta);
    free(order);
    free(recs);
    if (gw) {
        gn->destroy(gw);
        free(gx), free(gscratch), free(glab);
    } else {
        tp_trainer_free(&trn);
    }
    tp_device_close(&dev);
    tp_optim_free(&opt);
    tp_net_free(&net);
    tp_dataset_close(&tr);
    tp_dataset_close(&va);
    free(args);
    return 0;
}
