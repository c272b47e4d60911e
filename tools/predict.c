/* predict — class predictions of a trained model, for a stream or for image files; or the
 * activations of one of its layers (features for a head trained on a frozen base). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "device.h"
#include "gpu_nn.h"
#include "image.h"
#include "imgio.h"
#include "model.h"
#include "net.h"
#include "nn.h"
#include "parallel.h"
#include "preprocess.h"
#include "progress.h"
#include "dtype.h"
#include "stream.h"
#include "transfer.h"
#include "util.h"

#define AUTO_BATCH_BYTES ((size_t)256 << 20)

/* Records per batch when --batch is 0: as many as keep one thread's activations within
 * AUTO_BATCH_BYTES, at most 64 (VGG16 at 224x224: 4). */
static int64_t auto_batch(const tp_net *net)
{
    size_t per = 0;
    for (int i = -1; i < net->n; i++)
        per += tp_layer_out_size(net, i) * sizeof(float);
    size_t b = AUTO_BATCH_BYTES / (per ? per : 1);
    return b < 1 ? 1 : b > 64 ? 64 : (int64_t)b;
}

/* predict MODEL a.jpg b.png ...: one line per file, "name class probability". */
static void predict_files(tp_net *net, const tp_header *mh, const tp_prep *prep, char **files, int n)
{
    tp_nn w;
    tp_nn_init(&w, net, 1);
    size_t ne = (size_t)net->ih * (size_t)net->iw * (size_t)net->ic;
    float *tmp = tp_alloc(ne, sizeof *tmp);
    for (int i = 0; i < n; i++) {
        uint8_t *pix;
        int h, wd, c;
        char err[300];
        if (tp_image_load(files[i], net->ic == 1 ? 1 : 3, &pix, &h, &wd, &c, err, sizeof err))
            tp_die("%s: %s", files[i], err);
        if (net->ic != c)
            tp_die("%s: the model takes %d channels", files[i], net->ic);
        float *a = tp_alloc((size_t)h * (size_t)wd * (size_t)c, sizeof *a);
        tp_u8_to_float(pix, a, (size_t)h * (size_t)wd * (size_t)c);
        if (h != net->ih || wd != net->iw) { /* the notebook's load_img(target_size=...): nearest */
            tp_resize_plan p;
            tp_resize_plan_init(&p, h, wd, net->ih, net->iw, c, TP_RESIZE_NEAREST);
            float *s = tp_alloc(tp_resize_scratch(&p), sizeof *s);
            tp_resize(&p, a, tmp, s);
            free(s);
            tp_resize_plan_free(&p);
        } else
            memcpy(tmp, a, ne * sizeof *tmp);
        for (size_t e = 0; e < ne; e++)
            w.a[0][e] = (float)(tmp[e] * prep->scale);
        tp_prep_apply(prep, w.a[0], ne, net->ic);
        tp_nn_forward(&w, 1, 0, NULL);
        const float *p = w.a[net->n];
        int k = tp_argmax(p, net->classes);
        char name[128];
        tp_class_name(mh, k, name, sizeof name);
        printf("%s %s %.4f\n", files[i], name, p[k]);
        free(a);
        free(pix);
    }
    if (fflush(stdout))
        tp_die("stdout: write error");
    free(tmp);
    tp_nn_free(&w);
}

typedef struct {
    tp_nn *ws;              /* one workspace per thread (the CPU) */
    const tp_gpu_nn_api *gn; /* or the GPU's network, one thread */
    tp_gnn *gw;
    const tp_net *net;
    float *gx, *gy;         /* the GPU's batch input and output on the host */
    const tp_header *in, *out;
    const tp_field *fx;
    int pi, qi;             /* pred and prob in out; or pi = -1 and qi the features field */
    int64_t batch, k;       /* batch size, records in this round */
    const tp_prep *prep;
    const unsigned char *src;
    unsigned char *dst;
} pred_job;

/* Batch b of the round on thread t: inputs scaled to floats, forward, pred and prob (or
 * the features) written beside the passed-through fields. */
static void pred_batch(void *ctx, int64_t b, int t)
{
    pred_job *j = ctx;
    tp_nn *w = j->gw ? NULL : &j->ws[t];
    const tp_net *net = j->net;
    int64_t lo = b * j->batch, n = j->k - lo < j->batch ? j->k - lo : j->batch;
    size_t ne = j->fx->nelem;
    for (int64_t s = 0; s < n; s++) {
        const unsigned char *rec = j->src + (size_t)(lo + s) * j->in->record_size;
        float *x = (w ? w->a[0] : j->gx) + (size_t)s * ne;
        tp_to_float(rec + j->fx->offset, j->fx->dtype, ne, j->prep->scale, x);
        tp_prep_apply(j->prep, x, ne, net->ic);
    }
    const float *y;
    if (w) {
        tp_nn_forward(w, (int)n, 0, NULL);
        y = w->a[net->n];
    } else {
        j->gn->set_batch(j->gw, j->gx, NULL, (int)n);
        j->gn->forward(j->gw, (int)n, 0, NULL, 0);
        j->gn->read(j->gw, net->n, 0, (int)n, j->gy);
        y = j->gy;
    }
    int K = net->classes;
    for (int64_t s = 0; s < n; s++) {
        unsigned char *ro = j->dst + (size_t)(lo + s) * j->out->record_size;
        tp_copy_fields(j->in, j->src + (size_t)(lo + s) * j->in->record_size, j->out, ro);
        if (j->pi < 0) { /* features: layer k's output as it is */
            const tp_field *f = &j->out->fields[j->qi];
            memcpy(ro + f->offset, y + (size_t)s * f->nelem, f->nbytes);
            continue;
        }
        const float *p = y + (size_t)s * (size_t)K;
        int32_t c = tp_argmax(p, K);
        memcpy(ro + j->out->fields[j->pi].offset, &c, 4);
        memcpy(ro + j->out->fields[j->qi].offset, p, (size_t)K * sizeof *p);
    }
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    const char *out = "-", *in = "-", *xname = "x", *prep_name = NULL, *features = NULL;
    const char *device = "auto", *precision = "fp32";
    int64_t batch = 0, threads = tp_cpu_count();
    double rescale = -1;
    const tp_option opts[] = {
        TP_STRING("output", 'o', &out, "FILE", "write the stream to FILE"),
        TP_STRING("input", 'i', &in, "FILE", "read the stream from FILE"),
        TP_STRING("features", 0, &features, "LAYER", "instead of predicting, replace the input field by the f32 output of layer LAYER: a number (as in train --summary) or 'base' (the layer before the first flatten, gap or dense)"),
        TP_INT("batch", 'b', &batch, "N", "records per batch (0: as many as fit 256 MiB of activations per thread, at most 64)"),
        TP_INT("threads", 't', &threads, "N", "threads, each running its own batches"),
        TP_STRING("device", 0, &device, "DEV", "auto, cpu, cuda or cuda:N (auto: a GPU when one works, else the CPU; image files are always predicted on the CPU)"),
        TP_STRING("precision", 0, &precision, "P", "GPU matrix products: fp32, tf32 or bf16"),
        TP_STRING("preprocess", 0, &prep_name, "MODE", "input preparation: rescale, caffe, tf or torch (default: the model's, from training)"),
        TP_DOUBLE("rescale", 0, &rescale, "X", "input scale (default: the model's, from training)"),
        TP_STRING("field", 'f', &xname, "NAME", "the input field"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] MODEL [IMAGE ...]",
        "Runs a trained model. On a stream (stdin or --input) it adds to every record 'pred'\n"
        "(i32, the most probable class) and 'prob' (f32[K], the class probabilities) and\n"
        "passes every other field through. Given JPEG or PNG files instead, it prints one line\n"
        "per file: the file, its class name and that class's probability. Inputs are prepared\n"
        "as in training (the model's 'preprocess' and 'rescale' metadata).\n"
        "With --features it writes what the model's first layers make of each input instead:\n"
        "a frozen base's output, computed once, for training a head on (train, then graft).",
        opts,
        "Examples:\n  predict model.tp < test.tp | confmat\n  predict model.tp digit.png\n"
        "  predict --features base vgg16.tp < train.tp > features.tp",
        1, -1,
    };
    char **args;
    int nargs = tp_cli_parse(&cli, argc, argv, &args);
    if (batch < 0 || batch > 65536)
        tp_usage("--batch must be 0 (automatic) to 65536");
    if (threads < 1 || threads > 256)
        tp_usage("--threads must be 1 to 256");
    if (features && nargs > 1)
        tp_usage("--features works on a stream, not on image files");
    openblas_set_num_threads(1);
    tp_device dev;
    tp_device_open(&dev, device, precision, 0);
    tp_net net;
    tp_header mh;
    tp_model_read_net(args[0], &net, &mh);
    char err[512];
    tp_prep prep;
    if (tp_prep_from_meta(&mh, &prep, err, sizeof err))
        tp_die("%s: %s", args[0], err);
    if (prep_name) {
        tp_prep_mode pm;
        if (tp_prep_parse(prep_name, &pm))
            tp_usage("--preprocess is rescale, caffe, tf or torch, not '%s'", prep_name);
        prep = tp_prep_make(pm, prep.scale);
    }
    if (rescale >= 0)
        prep.scale = rescale;
    if (tp_prep_check(&prep, net.ic, err, sizeof err))
        tp_die("%s: %s", args[0], err);
    tp_net view, *run = &net; /* the layers that run: all, or the first k for --features */
    int keep = net.n;
    if (features) {
        if (tp_net_layer_arg(&net, features, &keep, err, sizeof err))
            tp_usage("--features: %s", err);
        tp_net_prefix(&net, keep, &view);
        run = &view;
    }
    int batch_auto = batch == 0;
    if (batch == 0)
        batch = auto_batch(run);
    if (nargs > 1) {
        predict_files(&net, &mh, &prep, args + 1, nargs - 1);
        goto done;
    }

    tp_reader *r = tp_open_or_die(in);
    const char *name = tp_reader_name(r);
    const tp_header *h = tp_reader_header(r);
    int xi = tp_header_find(h, xname);
    if (xi < 0)
        tp_die("%s: no field '%s'", name, xname);
    const tp_field *fx = &h->fields[xi];
    if (fx->nelem != (size_t)net.ih * (size_t)net.iw * (size_t)net.ic)
        tp_die("%s: field '%s' has %zu values, the model takes %dx%dx%d", name, xname, fx->nelem, net.ih, net.iw, net.ic);
    tp_header oh;
    tp_header_copy(&oh, h);
    int pi, qi;
    if (features) { /* the input field becomes layer k's output: H x W x C, or a vector */
        const tp_layer *l = &net.l[keep - 1];
        int64_t fs[3] = {l->oh, l->ow, l->oc};
        if (tp_header_replace_field(&oh, xi, TP_F32, l->flat ? 1 : 3, l->flat ? fs + 2 : fs, err, sizeof err))
            tp_die("%s: %s", name, err);
        char what[256];
        snprintf(what, sizeof what, "%s layer %d (%s)", tp_basename(args[0]), keep, tp_layer_name(l->kind));
        tp_header_set_meta(&oh, "features", what);
        pi = -1;
        qi = xi;
    } else {
        pi = tp_header_find(&oh, "pred");
        qi = tp_header_find(&oh, "prob");
        int64_t K = net.classes;
        if (pi >= 0 ? tp_header_replace_field(&oh, pi, TP_I32, 0, NULL, err, sizeof err) : tp_header_add_field(&oh, "pred", TP_I32, 0, NULL, err, sizeof err) < 0)
            tp_die("%s: %s", name, err);
        if (qi >= 0 ? tp_header_replace_field(&oh, qi, TP_F32, 1, &K, err, sizeof err) : tp_header_add_field(&oh, "prob", TP_F32, 1, &K, err, sizeof err) < 0)
            tp_die("%s: %s", name, err);
        pi = tp_header_find(&oh, "pred");
        qi = tp_header_find(&oh, "prob");
        if (!tp_header_get_meta(&oh, "classes") && tp_header_get_meta(&mh, "classes"))
            tp_header_set_meta(&oh, "classes", tp_header_get_meta(&mh, "classes"));
    }
    int T = dev.api ? 1 : (int)threads;
    tp_nn *ws = NULL;
    pred_job j = {NULL, NULL, NULL, run, NULL, NULL, h, &oh, fx, pi, qi, batch, 0, &prep, NULL, NULL};
    if (dev.api) { /* the GPU: larger batches, one thread feeding it */
        if (batch_auto)
            batch = 256;
        j.gn = dev.api->nn;
        j.gw = j.gn->create(dev.gpu, run, (int)batch);
        j.gx = tp_alloc((size_t)batch, tp_layer_out_size(run, -1) * sizeof(float));
        j.gy = tp_alloc((size_t)batch, tp_layer_out_size(run, run->n - 1) * sizeof(float));
    } else {
        ws = tp_alloc((size_t)T, sizeof *ws);
        for (int t = 0; t < T; t++)
            tp_nn_init(&ws[t], run, (int)batch);
    }
    j.ws = ws;
    j.batch = batch;
    int64_t round = batch * T; /* records read, computed and written together */
    unsigned char *src = tp_alloc((size_t)round, h->record_size), *dst = tp_calloc((size_t)round, oh.record_size);
    j.src = src;
    j.dst = dst;
    tp_writer *wr = tp_writer_open(out, &oh);
    tp_progress pr;
    tp_progress_start(&pr, features ? "features" : "predict", h->count, "records");
    int64_t done = 0;
    for (;;) {
        int64_t k = tp_reader_read(r, src, round);
        if (k < 0)
            tp_die("%s: %s", name, tp_reader_error(r));
        if (k == 0)
            break;
        j.k = k;
        tp_parallel_for((k + batch - 1) / batch, T, pred_batch, &j);
        tp_writer_write(wr, dst, k);
        done += k;
        tp_progress_update(&pr, done);
    }
    tp_writer_close(wr);
    tp_progress_end(&pr, done);
    free(src);
    free(dst);
    if (j.gw) {
        j.gn->destroy(j.gw);
        free(j.gx), free(j.gy);
    } else {
        for (int t = 0; t < T; t++)
            tp_nn_free(&ws[t]);
    }
    free(ws);
    tp_header_free(&oh);
    tp_reader_close(r);
done:
    tp_device_close(&dev);
    tp_header_free(&mh);
    tp_net_free(&net);
    free(args);
    return 0;
}
