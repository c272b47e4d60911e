/* infer.c — see infer.h. */
#include "infer.h"

#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "gpu_nn.h"
#include "nn.h"
#include "parallel.h"
#include "util.h"

struct tp_infer {
    const tp_net *net;
    int batch, T;
    size_t in, out;          /* values per record in and out */
    tp_nn *ws;               /* CPU: one workspace per thread */
    const tp_gpu_nn_api *gn; /* GPU: the network's workspace there, and the batch on the host */
    tp_gnn *gw;
    float *gx, *gy;
};

#define AUTO_BATCH_BYTES ((size_t)64 << 20)

/* The batch when none is asked for (infer.h). */
static int auto_batch(const tp_net *net, const tp_device *dev)
{
    if (tp_device_is_gpu(dev))
        return 256;
    size_t per = tp_nn_infer_bytes(net);
    size_t b = AUTO_BATCH_BYTES / (per ? per : 1);
    return b < 1 ? 1 : b > 64 ? 64 : (int)b;
}

tp_infer *tp_infer_open(const tp_net *net, const tp_device *dev, int batch, int threads)
{
    TP_ASSERT(batch >= 0 && threads >= 1);
    if (batch == 0)
        batch = auto_batch(net, dev);
    tp_infer *f = tp_calloc(1, sizeof *f);
    f->net = net;
    f->batch = batch;
    f->in = tp_layer_out_size(net, -1);
    f->out = tp_layer_out_size(net, net->n - 1);
    if (tp_device_is_gpu(dev)) {
        f->T = 1;
        f->gn = dev->api->nn;
        f->gw = f->gn->create(dev->gpu, net, batch);
        f->gx = tp_alloc((size_t)batch, f->in * sizeof *f->gx);
        f->gy = tp_alloc((size_t)batch, f->out * sizeof *f->gy);
    } else {
        f->T = threads;
        tp_blas_serial(); /* threads take whole batches */
        f->ws = tp_alloc((size_t)threads, sizeof *f->ws);
        for (int t = 0; t < threads; t++)
            tp_nn_init_infer(&f->ws[t], (tp_net *)net, batch);
        tp_nn_kernels(&f->ws[0], threads); /* once for all the threads' workspaces */
        for (int t = 1; t < threads; t++)
            tp_nn_share_kernels(&f->ws[t], &f->ws[0]);
    }
    return f;
}

void tp_infer_sync(tp_infer *f)
{
    if (f->gw)
        f->gn->set_params(f->gw, f->net->params);
    else
        tp_nn_kernels(&f->ws[0], f->T); /* the parameters moved: their transforms again */
}

size_t tp_infer_outputs(const tp_infer *f) { return f->out; }

int64_t tp_infer_round(const tp_infer *f) { return (int64_t)f->batch * f->T; }

int tp_infer_batch(const tp_infer *f) { return f->batch; }

typedef struct {
    tp_infer *f;
    const unsigned char *recs;
    size_t rsz;
    const tp_field *x;
    int64_t n;
    const tp_prep *prep;
    float *out;
} job;

/* Batch b on thread t: inputs scaled and prepared, forward, outputs copied out. */
static void run_batch(void *ctx, int64_t b, int t)
{
    job *j = ctx;
    tp_infer *f = j->f;
    int64_t lo = b * f->batch, m = j->n - lo < f->batch ? j->n - lo : f->batch;
    float *x = f->gw ? f->gx : f->ws[t].a[0];
    for (int64_t s = 0; s < m; s++) {
        const unsigned char *rec = j->recs + (size_t)(lo + s) * j->rsz;
        tp_to_float(rec + j->x->offset, j->x->dtype, f->in, j->prep->scale, x + (size_t)s * f->in);
        tp_prep_apply(j->prep, x + (size_t)s * f->in, f->in, f->net->ic);
    }
    const float *y;
    if (f->gw) {
        f->gn->set_batch(f->gw, f->gx, NULL, (int)m);
        f->gn->forward(f->gw, (int)m, 0, NULL, 0);
        f->gn->read(f->gw, f->net->n, 0, (int)m, f->gy);
        y = f->gy;
    } else {
        tp_nn_forward(&f->ws[t], (int)m, 0, NULL);
        y = f->ws[t].a[f->net->n];
    }
    memcpy(j->out + (size_t)lo * f->out, y, (size_t)m * f->out * sizeof *y);
}

void tp_infer_records(tp_infer *f, const unsigned char *recs, size_t rsz, const tp_field *x, int64_t n,
                      const tp_prep *prep, float *out)
{
    TP_ASSERT(x->nelem == f->in);
    job j = {f, recs, rsz, x, n, prep, out};
    tp_parallel_for((n + f->batch - 1) / f->batch, f->T, run_batch, &j);
}

void tp_infer_close(tp_infer *f)
{
    if (!f)
        return;
    if (f->gw) {
        f->gn->destroy(f->gw);
        free(f->gx);
        free(f->gy);
    }
    for (int t = 0; f->ws && t < f->T; t++)
        tp_nn_free(&f->ws[t]);
    free(f->ws);
    free(f);
}
