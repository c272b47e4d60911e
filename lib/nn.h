/* nn.h — a tp_net's initial parameters, and its forward and backward passes over a batch
 * (CPU, OpenBLAS).
 *
 * Activations are NHWC floats, one buffer per layer boundary: a[0] holds the input batch,
 * a[i + 1] the output of layer i, so a[net->n] holds the class probabilities. Training and
 * inference run the same code; train = 1 turns on dropout and batch statistics.
 */
#ifndef TP_NN_H
#define TP_NN_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "rng.h"

typedef struct {
    tp_net *net;
    int cap;        /* largest batch */
    float **a;      /* n + 1 activation buffers, cap x size each */
    float **g;      /* gradients with the same shapes (g[0] unused) */
    int32_t **arg;  /* maxpool: index of each output's maximum within its sample */
    float **bn;     /* batchnorm: normalised input (cap x size), then mean and 1/std per channel */
    float *col;     /* im2col scratch */
    size_t col_cap; /* its size in floats */
    float *grad;    /* d loss / d trainable parameters */
    tp_rng step;    /* the last training forward pass's key: backward regenerates its dropout masks */
    int64_t first;  /* index of a[0]'s first sample within the whole batch (dropout masks are
                       keyed by it, so splitting a batch across threads keeps the same masks) */
    int update_stats; /* batchnorm moving statistics are updated by this workspace (default 1) */
    int infer;        /* an inference workspace (tp_nn_init_infer): no gradients, a[i] alternate
                         between the two buffers pp, no record for backward passes */
    float *pp[2];
    size_t col_floats; /* the im2col scratch's budget: samples per GEMM are as many as fit */
} tp_nn;

/* Keras' default initialisers: Glorot uniform kernels (He uniform with init=he), zero
 * biases, batchnorm gamma 1, beta 0, moving mean 0, variance 1. Deterministic in seed. */
void tp_net_init(tp_net *net, uint64_t seed);

/* Allocates buffers for batches of up to cap samples (one allocation each, reused). */
void tp_nn_init(tp_nn *w, tp_net *net, int cap);
/* A workspace for forward passes in inference mode only (no backward, no training): two
 * buffers of the largest layer's output that the layers' outputs alternate between, and a
 * smaller im2col scratch, so that it holds about 2 x the largest activation x cap floats.
 * Its outputs are the same as tp_nn_init's. */
void tp_nn_init_infer(tp_nn *w, tp_net *net, int cap);
/* Bytes per sample of such a workspace's activations. */
size_t tp_nn_infer_bytes(const tp_net *net);
void tp_nn_free(tp_nn *w);

/* Runs n samples (in w->a[0]) through the network. train: dropout masks come from step
 * (a key per training step) and batchnorm uses and updates batch statistics. */
void tp_nn_forward(tp_nn *w, int n, int train, const tp_rng *step);

/* After a training forward pass: the mean cross-entropy of the probabilities against
 * labels (label smoothing s: targets (1 - s) one-hot + s / K), and its gradient with
 * respect to every trainable parameter in w->grad (overwritten). */
double tp_nn_backward(tp_nn *w, int n, const int32_t *labels, float smoothing);

/* Index of the largest of p[0..k) (the first on ties): a predicted class. */
int tp_argmax(const float *p, int k);

#endif
