/* predict — class predictions of a trained model, for a stream or for image files; or the
 * activations of one of its layers (features for a head trained on a frozen base). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "comm.h"
#include "device.h"
#include "image.h"
#include "imgio.h"
#include "infer.h"
#include "model.h"
#include "net.h"
#include "nn.h"
#include "parallel.h"
#include "pass.h"
#include "preprocess.h"
#include "progress.h"
#include "stream.h"
#include "transfer.h"
#include "util.h"

typedef struct {
    const char *model, *out, *in, *xname, *features, *device;
    char **args, **files; /* the arguments (freed by run), and the image files among them */
    int nfiles, precision, prep;
    int64_t batch, threads, max_pixels;
    double rescale;
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.out = "-", .in = "-", .xname = "x", .prep = -1, .threads = tp_cpu_count(), .rescale = -1};
    const tp_option opts[] = {
        TP_STRING("output", 'o', &o->out, "FILE", "write the stream to FILE"),
        TP_STRING("input", 'i', &o->in, "FILE", "read the stream from FILE"),
        TP_STRING("features", 0, &o->features, "LAYER", "instead of predicting, replace the input field by the f32 output of layer LAYER: a number (as in train --summary) or 'base' (the layer before the first flatten, gap or dense)"),
        TP_INT("batch", 'b', &o->batch, "N", "records per batch (0: as many as fit 256 MiB of activations per thread, at most 64; 256 on a GPU)", TP_RANGE(0, 65536)),
        TP_OPT_THREADS(&o->threads, "threads, each running its own batches"),
        TP_DEVICE_OPTIONS(&o->device, &o->precision),
        TP_INT("max-pixels", 0, &o->max_pixels, "N", "refuse image files of more than N pixels (default: $TPIPE_MAX_PIXELS, else 16777216)", TP_MIN(1)),
        TP_CHOICE("preprocess", 0, &o->prep, "MODE", "input preparation: rescale, caffe, tf or torch (default: the model's, from training)",
                  "rescale", "caffe", "tf", "torch"),
        TP_DOUBLE("rescale", 0, &o->rescale, "X", "input scale (default: the model's, from training)", TP_MIN(0)),
        TP_STRING("field", 'f', &o->xname, "NAME", "the input field"),
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
    o->args = args;
    o->model = args[0];
    o->files = args + 1;
    o->nfiles = nargs - 1;
    if (o->features && o->nfiles)
        tp_usage("--features works on a stream, not on image files");
}

/* predict MODEL a.jpg b.png ...: one line per file, "name class probability". */
static void predict_files(const options *o, const tp_net *net, const tp_header *mh, const tp_prep *prep,
                          const tp_device *dev)
{
    tp_infer *inf = tp_infer_open(net, dev, 1, 1);
    size_t ne = (size_t)net->ih * (size_t)net->iw * (size_t)net->ic;
    float *x = tp_alloc(ne, sizeof *x), *p = tp_alloc((size_t)net->classes, sizeof *p);
    tp_field fx = {"x", TP_F32, 1, {(int64_t)ne}, ne, ne * sizeof(float), 0};
    for (int i = 0; i < o->nfiles; i++) {
        char err[300];
        if (tp_image_load_as(o->files[i], net->ih, net->iw, net->ic, x, err, sizeof err))
            tp_die("%s: %s", o->files[i], err);
        tp_infer_records(inf, (const unsigned char *)x, fx.nbytes, &fx, 1, prep, p);
        int k = tp_argmax(p, net->classes);
        char name[128];
        tp_class_name(mh, k, name, sizeof name);
        printf("%s %s %.4f\n", o->files[i], name, p[k]);
    }
    if (fflush(stdout))
        tp_die("stdout: write error");
    free(x);
    free(p);
    tp_infer_close(inf);
}

typedef struct {
    tp_infer *inf;
    const tp_header *in, *out;
    const tp_field *fx;
    int pi, qi; /* pred and prob in out; or pi = -1 and qi the features field */
    const tp_prep *prep;
    float *y;
    float *mine;    /* an MPI job: this rank's outputs of a chunk */
    size_t *counts; /* and every rank's bytes of them */
} pred_ctx;

/* The outputs y of n records written beside the passed-through fields. */
static void put(const pred_ctx *c, int64_t n, unsigned char *dst)
{
    size_t K = tp_infer_outputs(c->inf);
    const tp_field *q = &c->out->fields[c->qi];
    for (int64_t s = 0; s < n; s++) {
        unsigned char *ro = dst + (size_t)s * c->out->record_size;
        const float *p = c->y + (size_t)s * K;
        memcpy(ro + q->offset, p, q->nbytes); /* the features, or the probabilities */
        if (c->pi >= 0) {
            int32_t k = tp_argmax(p, (int)K);
            memcpy(ro + c->out->fields[c->pi].offset, &k, 4);
        }
    }
}

/* The model's outputs for n records, written beside the passed-through fields. */
static void fill(void *ctx, int64_t first, int64_t n, const unsigned char *src, unsigned char *dst)
{
    (void)first;
    pred_ctx *c = ctx;
    tp_infer_records(c->inf, src, c->in->record_size, c->fx, n, c->prep, c->y);
    put(c, n, dst);
}

/* In an MPI job (comm.h), chunk first .. first + n - 1 is cut into whole batches, one block
 * per rank, so every record is computed in the same batch as by one process; rank 0 reads
 * and writes the stream, tells the others each chunk, and gathers their outputs. Returns
 * the block of rank r in lo, hi. */
static void share(const pred_ctx *c, int r, int64_t n, int64_t *lo, int64_t *hi)
{
    tp_comm_block_of(r, n, tp_infer_batch(c->inf), lo, hi);
}

static void gather_outputs(pred_ctx *c, int64_t n)
{
    size_t K = tp_infer_outputs(c->inf);
    for (int r = 0; r < tp_comm_size(); r++) {
        int64_t lo, hi;
        share(c, r, n, &lo, &hi);
        c->counts[r] = (size_t)(hi - lo) * K * sizeof(float);
    }
    tp_comm_gather(c->mine, c->counts, c->y);
}

static void fill_job(void *ctx, int64_t first, int64_t n, const unsigned char *src, unsigned char *dst)
{
    pred_ctx *c = ctx;
    int64_t chunk[2] = {first, n}, lo, hi;
    tp_comm_bcast(chunk, sizeof chunk, 0);
    share(c, 0, n, &lo, &hi);
    tp_infer_records(c->inf, src + (size_t)lo * c->in->record_size, c->in->record_size, c->fx, hi - lo, c->prep, c->mine);
    gather_outputs(c, n);
    put(c, n, dst);
}

/* A rank but 0 of a job: its blocks of the chunks rank 0 names, until one of none. */
static void serve_job(pred_ctx *c, tp_records *rs, int64_t round)
{
    unsigned char *recs = tp_alloc((size_t)round, c->in->record_size);
    int64_t *idx = tp_alloc((size_t)round, sizeof *idx);
    for (;;) {
        int64_t chunk[2], lo, hi;
        tp_comm_bcast(chunk, sizeof chunk, 0);
        if (chunk[1] == 0)
            break;
        share(c, tp_comm_rank(), chunk[1], &lo, &hi);
        TP_ASSERT(hi - lo <= round);
        for (int64_t i = lo; i < hi; i++)
            idx[i - lo] = chunk[0] + i;
        if (hi > lo) {
            tp_records_get(rs, idx, hi - lo, recs);
            tp_infer_records(c->inf, recs, c->in->record_size, c->fx, hi - lo, c->prep, c->mine);
        }
        gather_outputs(c, chunk[1]);
    }
    free(recs), free(idx);
}

/* The output header: the input's with pred and prob set (or the input field replaced by the
 * features of net's last layer); their indices into *pi and *qi. */
static void out_header(const options *o, const tp_net *net, const tp_header *mh, const tp_header *h, int xi,
                       const char *name, tp_header *oh, int *pi, int *qi)
{
    char err[512];
    tp_header_copy(oh, h);
    if (o->features) { /* the input field becomes layer k's output: H x W x C, or a vector */
        const tp_layer *l = &net->l[net->n - 1];
        int64_t fs[3] = {l->oh, l->ow, l->oc};
        if (tp_header_replace_field(oh, xi, TP_F32, l->flat ? 1 : 3, l->flat ? fs + 2 : fs, err, sizeof err))
            tp_die("%s: %s", name, err);
        char what[256];
        snprintf(what, sizeof what, "%s layer %d (%s)", tp_basename(o->model), net->n, tp_layer_name(l->kind));
        tp_header_set_meta(oh, "features", what);
        *pi = -1;
        *qi = xi;
        return;
    }
    int64_t K = net->classes;
    if (tp_header_set_field(oh, "pred", TP_I32, 0, NULL, err, sizeof err) < 0 ||
        tp_header_set_field(oh, "prob", TP_F32, 1, &K, err, sizeof err) < 0)
        tp_die("%s: %s", name, err);
    *pi = tp_header_find(oh, "pred");
    *qi = tp_header_find(oh, "prob");
    if (!tp_header_get_meta(oh, "classes") && tp_header_get_meta(mh, "classes"))
        tp_header_set_meta(oh, "classes", tp_header_get_meta(mh, "classes"));
}

/* A stream through the network (net: the whole model, or the layers up to --features). In an
 * MPI job rank 0 reads and writes it, and every rank computes a share of each chunk. */
static void predict_stream(const options *o, const tp_net *net, const tp_header *mh, const tp_prep *prep,
                           const tp_device *dev)
{
    int N = tp_comm_size(), root = tp_comm_root();
    if (N > 1 && !strcmp(o->in, "-"))
        tp_usage("under MPI, name the input as a file: stdin reaches rank 0 only");
    tp_reader *r = root ? tp_open_or_die(o->in) : NULL;
    tp_records *rs = root ? NULL : tp_records_open(o->in);
    if (rs)
        tp_records_scan(rs, NULL, NULL);
    const char *name = r ? tp_reader_name(r) : tp_records_name(rs);
    const tp_header *h = r ? tp_reader_header(r) : tp_records_header(rs);
    int xi = tp_header_find(h, o->xname);
    if (xi < 0)
        tp_die("%s: no field '%s'", name, o->xname);
    const tp_field *fx = &h->fields[xi];
    if (fx->nelem != (size_t)net->ih * (size_t)net->iw * (size_t)net->ic)
        tp_die("%s: field '%s' has %zu values, the model takes %dx%dx%d", name, o->xname, fx->nelem, net->ih, net->iw,
               net->ic);
    static const char *const added[] = {"features", "classes"};
    tp_header_need_meta(h, name, o->features ? added : added + 1, 1);
    tp_header oh;
    pred_ctx c = {NULL, h, &oh, fx, -1, -1, prep, NULL, NULL, NULL};
    out_header(o, net, mh, h, xi, name, &oh, &c.pi, &c.qi);
    c.inf = tp_infer_open(net, dev, (int)o->batch, (int)o->threads);
    int64_t round = tp_infer_round(c.inf); /* records read, computed and written together */
    size_t K = tp_infer_outputs(c.inf);
    if (N > 1) {
        c.mine = tp_alloc((size_t)round, K * sizeof *c.mine);
        c.counts = tp_alloc((size_t)N, sizeof *c.counts);
    }
    if (rs) {
        serve_job(&c, rs, round);
    } else {
        c.y = tp_alloc((size_t)round * (size_t)N, K * sizeof *c.y);
        tp_progress pr;
        tp_progress_start(&pr, o->features ? "features" : "predict", h->count, "records");
        int64_t done = tp_pass_stream(r, &oh, o->out, round * N, N > 1 ? fill_job : fill, &c, &pr);
        tp_progress_end(&pr, done);
        if (N > 1) {
            int64_t end[2] = {done, 0}; /* no more chunks */
            tp_comm_bcast(end, sizeof end, 0);
        }
    }
    free(c.y), free(c.mine), free(c.counts);
    tp_infer_close(c.inf);
    tp_header_free(&oh);
    if (r)
        tp_reader_close(r);
    if (rs)
        tp_records_close(rs);
}

static int run(const options *o)
{
    tp_image_set_max_pixels((uint64_t)o->max_pixels);
    tp_device dev;
    tp_device_open(&dev, o->device, o->precision, 0);
    tp_net net, view, *use = &net; /* the layers that run: all, or the first k for --features */
    tp_header mh;
    tp_model_read_net(o->model, &net, &mh);
    char err[512];
    tp_prep prep;
    if (tp_prep_from_meta(&mh, &prep, err, sizeof err))
        tp_die("%s: %s", o->model, err);
    if (o->prep >= 0)
        prep = tp_prep_make((tp_prep_mode)o->prep, prep.scale);
    if (o->rescale >= 0)
        prep.scale = o->rescale;
    if (tp_prep_check(&prep, net.ic, err, sizeof err))
        tp_die("%s: %s", o->model, err);
    if (o->features) {
        int keep;
        if (tp_net_layer_arg(&net, o->features, &keep, err, sizeof err))
            tp_usage("--features: %s", err);
        tp_net_prefix(&net, keep, &view);
        use = &view;
    }
    if (o->nfiles) {
        if (tp_comm_root()) /* a few files: rank 0 alone */
            predict_files(o, &net, &mh, &prep, &dev);
    } else
        predict_stream(o, use, &mh, &prep, &dev);
    tp_device_close(&dev);
    tp_header_free(&mh);
    tp_net_free(&net);
    free(o->args);
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
