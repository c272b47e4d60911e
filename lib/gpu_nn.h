/* gpu_nn.h — the network's forward and backward passes and the optimisers on the GPU, the
 * twins of nn.c and optim.c (see gpu.h). A tp_gnn holds one network's parameters, gradient,
 * optimiser state and activations for batches of up to cap samples on the device, and
 * optionally whole data sets, so training on a data set that fits copies nothing per batch
 * but the batch's record numbers. */
#ifndef TP_GPU_NN_H
#define TP_GPU_NN_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "gpu.h"

#include "net.h"
#include "optim.h"

typedef struct tp_gnn tp_gnn;

/* How a record becomes network input, as dataset.c's: x of dtype xdtype times scale, then
 * the preprocessing mode prep (tp_prep_mode) over channels; the label y of dtype ydtype. */
typedef struct {
    size_t rsz, xoff, yoff;
    tp_dtype xdtype, ydtype;
    int64_t xelem;
    double scale;
    int prep; /* TP_PREP_*: 0 rescale only */
    int channels;
} tp_gnn_records;

struct tp_gpu_nn_api {
    /* A workspace for net (layers, shapes, frozen) with net->params copied to the device. */
    tp_gnn *(*create)(tp_gpu *g, const tp_net *net, int cap);
    void (*destroy)(tp_gnn *w);
    /* Parameters (all of net->nparams, moving statistics included) to or from the host. */
    void (*set_params)(tp_gnn *w, const float *host);
    void (*get_params)(tp_gnn *w, float *host);
    /* n input samples (floats, the network's input shape) and their labels from the host;
     * labels may be NULL for inference. */
    void (*set_batch)(tp_gnn *w, const float *x, const int32_t *labels, int n);
    /* Keeps n records (format f) on the device in slot 0 or 1 (train, validation). 0, or
     * -1 when they do not fit in device memory (nothing is kept then). */
    int (*load_records)(tp_gnn *w, int slot, const void *recs, int64_t n, const tp_gnn_records *f);
    /* Makes the batch from records idx[0..n) of a slot (idx on the host, n <= cap). The
     * caller checks the labels (within [0, classes)) before load_records. */
    void (*gather)(tp_gnn *w, int slot, const int64_t *idx, int n);
    /* As tp_nn_forward: train uses dropout drawn from key (the step generator's key) with
     * samples numbered from first, and batch statistics. */
    void (*forward)(tp_gnn *w, int n, int train, const uint32_t key[2], int64_t first);
    /* As tp_nn_backward after a training forward: the gradient (overwritten) of the mean
     * cross-entropy with label smoothing. The summed loss and the right predictions go to
     * running totals on the device (see totals), so a step need not wait for the GPU. */
    void (*backward)(tp_gnn *w, int n, float smoothing);
    /* After an inference forward: adds the summed cross-entropy (clamped at 1e-30, as
     * trainer.c's evaluation) and the right predictions to the running totals. */
    void (*score)(tp_gnn *w, int n);
    /* The running totals since the last call (then zeroed): the summed loss, returned, and
     * the right predictions, added to *right. Waits for the GPU. */
    double (*totals)(tp_gnn *w, int64_t *right);
    /* One optimiser step (as tp_optim_step, whose state o holds: kind, hyper-parameters,
     * t, which this advances) on parameters [first, ntrain) at learning rate lr. The moments
     * live on the device. */
    void (*step)(tp_gnn *w, tp_optim *o, size_t first, double lr);
    /* Copies to the host: activation i (0: input .. n: probabilities) or its gradient
     * (grad = 1) for n samples, the gradient of the trainable parameters (i = -1). */
    void (*read)(tp_gnn *w, int i, int grad, int n, float *host);
    /* Every device buffer of the workspace is followed by guard bytes set at create: the
     * number of guard bytes changed since (0 unless a kernel wrote out of bounds). */
    int64_t (*guards)(tp_gnn *w);
    /* An MPI job's gradient sum on the devices, through NCCL where the build found it (else
     * job_id and job_join return -1 saying so). job_id: on one rank, the job's id (len
     * bytes at least 128) for every rank's job_join; then job_sum multiplies the gradient's
     * [first, ntrain) by scale and sums it across the job in place (NCCL's order, not a
     * fixed one). 0, or -1 with the reason in err. */
    int (*job_id)(void *id, size_t len, char *err, size_t errlen);
    int (*job_join)(tp_gnn *w, int nranks, int rank, const void *id, char *err, size_t errlen);
    void (*job_sum)(tp_gnn *w, size_t first, float scale);
};

#endif
