/* predict — class predictions of a trained model, for a stream or for image files. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "image.h"
#include "imgio.h"
#include "net.h"
#include "nn.h"
#include "parallel.h"
#include "progress.h"
#include "stats.h"
#include "stream.h"
#include "util.h"

/* predict MODEL a.jpg b.png ...: one line per file, "name class probability". */
static void predict_files(tp_net *net, const tp_header *mh, double scale, char **files, int n)
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
            w.a[0][e] = (float)(tmp[e] * scale);
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
    tp_nn *ws;              /* one workspace per thread */
    const tp_header *in, *out;
    const tp_field *fx;
    int pi, qi;
    int64_t batch, k;       /* batch size, records in this round */
    double scale;
    const unsigned char *src;
    unsigned char *dst;
} pred_job;

/* Batch b of the round on thread t: inputs scaled to floats, forward, pred and prob
 * written beside the passed-through fields. */
static void pred_batch(void *ctx, int64_t b, int t)
{
    pred_job *j = ctx;
    tp_nn *w = &j->ws[t];
    int64_t lo = b * j->batch, n = j->k - lo < j->batch ? j->k - lo : j->batch;
    size_t ne = j->fx->nelem;
    for (int64_t s = 0; s < n; s++) {
        const unsigned char *rec = j->src + (size_t)(lo + s) * j->in->record_size;
        tp_to_float(rec + j->fx->offset, j->fx->dtype, ne, j->scale, w->a[0] + (size_t)s * ne);
    }
    tp_nn_forward(w, (int)n, 0, NULL);
    int K = w->net->classes;
    for (int64_t s = 0; s < n; s++) {
        unsigned char *ro = j->dst + (size_t)(lo + s) * j->out->record_size;
        tp_copy_fields(j->in, j->src + (size_t)(lo + s) * j->in->record_size, j->out, ro);
        const float *p = w->a[w->net->n] + (size_t)s * (size_t)K;
        int32_t c = tp_argmax(p, K);
        memcpy(ro + j->out->fields[j->pi].offset, &c, 4);
        memcpy(ro + j->out->fields[j->qi].offset, p, (size_t)K * sizeof *p);
    }
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    const char *out = "-", *in = "-", *xname = "x";
    int64_t batch = 64, threads = tp_cpu_count();
    double rescale = -1;
    const tp_option opts[] = {
        {"output", 'o', TP_OPT_STRING, &out, "FILE", "write the stream to FILE"},
        {"input", 'i', TP_OPT_STRING, &in, "FILE", "read the stream from FILE"},
        {"batch", 'b', TP_OPT_INT, &batch, "N", "records per batch"},
        {"threads", 't', TP_OPT_INT, &threads, "N", "threads, each running its own batches"},
        {"rescale", 0, TP_OPT_DOUBLE, &rescale, "X", "input scale (default: the model's, from training)"},
        {"field", 'f', TP_OPT_STRING, &xname, "NAME", "the input field"},
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] MODEL [IMAGE ...]",
        "Runs a trained model. On a stream (stdin or --input) it adds to every record 'pred'\n"
        "(i32, the most probable class) and 'prob' (f32[K], the class probabilities) and\n"
        "passes every other field through. Given JPEG or PNG files instead, it prints one line\n"
        "per file: the file, its class name and that class's probability.",
        opts,
        "Examples:\n  predict model.tp < test.tp | confmat\n  predict model.tp digit.png",
        1, -1,
    };
    char **args;
    int nargs = tp_cli_parse(&cli, argc, argv, &args);
    if (batch < 1 || batch > 65536)
        tp_usage("--batch must be 1 to 65536");
    if (threads < 1 || threads > 256)
        tp_usage("--threads must be 1 to 256");
    openblas_set_num_threads(1);
    tp_net net;
    tp_header mh;
    tp_net_read_model(&net, args[0], &mh);
    double scale = rescale;
    const char *rs = tp_header_get_meta(&mh, "rescale");
    if (scale < 0)
        scale = rs ? atof(rs) : 1;
    if (nargs > 1) {
        predict_files(&net, &mh, scale, args + 1, nargs - 1);
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
    char err[256];
    int pi = tp_header_find(&oh, "pred"), qi = tp_header_find(&oh, "prob");
    int64_t K = net.classes;
    if (pi >= 0 ? tp_header_replace_field(&oh, pi, TP_I32, 0, NULL, err, sizeof err) : tp_header_add_field(&oh, "pred", TP_I32, 0, NULL, err, sizeof err) < 0)
        tp_die("%s: %s", name, err);
    if (qi >= 0 ? tp_header_replace_field(&oh, qi, TP_F32, 1, &K, err, sizeof err) : tp_header_add_field(&oh, "prob", TP_F32, 1, &K, err, sizeof err) < 0)
        tp_die("%s: %s", name, err);
    pi = tp_header_find(&oh, "pred");
    qi = tp_header_find(&oh, "prob");
    if (!tp_header_get_meta(&oh, "classes") && tp_header_get_meta(&mh, "classes"))
        tp_header_set_meta(&oh, "classes", tp_header_get_meta(&mh, "classes"));
    int T = (int)threads;
    tp_nn *ws = tp_alloc((size_t)T, sizeof *ws);
    for (int t = 0; t < T; t++)
        tp_nn_init(&ws[t], &net, (int)batch);
    int64_t round = batch * T; /* records read, computed and written together */
    unsigned char *src = tp_alloc((size_t)round, h->record_size), *dst = tp_calloc((size_t)round, oh.record_size);
    pred_job j = {ws, h, &oh, fx, pi, qi, batch, 0, scale, src, dst};
    tp_writer *wr = tp_writer_open(out, &oh);
    tp_progress pr;
    tp_progress_start(&pr, "predict", h->count, "records");
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
    for (int t = 0; t < T; t++)
        tp_nn_free(&ws[t]);
    free(ws);
    tp_header_free(&oh);
    tp_reader_close(r);
done:
    tp_header_free(&mh);
    tp_net_free(&net);
    free(args);
    return 0;
}
