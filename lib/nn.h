/* nn.h — a tp_net's initial parameters, and its forward and backward passes over a batch
 * (CPU, OpenBLAS).
 *
 * Activations are NHWC floats, one buffer per layer boundary: a[0] holds the input batch,
 * a[i + 1] the output of layer i, so a[net->n] holds the class probabilities (a flatten
 * layer's output, and in inference a dropout layer's, is its input's buffer itself).
 * Training and inference run the same code; train = 1 turns on dropout and batch
 * statistics.
 */
#ifndef TP_NN_H
#define TP_NN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "net.h"
#include "rng.h"

typedef struct {
    tp_net *net;
    int cap;        /* largest batch */
    float **a;      /* n + 1 activation buffers, cap x size each */
    float **g;      /* gradients with the same shapes (g[0] unused) */
    int32_t **arg;  /* maxpool: index of each output's maximum within its sample */
    float **bn;     /* batchnorm: mean and 1/std per channel (the last pass's) */
    float *grad;    /* d loss / d trainable parameters */
    tp_rng step;    /* the last training forward pass's key: backward regenerates its dropout masks */
    int64_t first;  /* index of a[0]'s first sample within the whole batch (dropout masks are
                       keyed by it, so splitting a batch across ranks keeps the same masks) */
    int update_stats; /* batchnorm moving statistics are updated by this workspace (default 1) */
    int infer;        /* an inference workspace (tp_nn_init_infer): no gradients, a[i] alternate
                         between the two buffers pp, no record for backward passes */
    float *pp[2];
    /* How a batch's work is shared (tp_nn_threads): each layer's work is cut into pieces
     * that depend on the layer and the batch alone (row tiles, samples, blocks), which up to
     * threads threads take. Sums over the batch (weight gradients, batchnorm statistics) are
     * taken block by block, block samples each, and the blocks' partial sums added in block
     * order: so the results do not depend on the thread count. */
    int threads, block;
    int lane;            /* the threads the layer at hand uses (0: threads) */
    /* A job's batch (comm.h): a[0] holds this rank's whole blocks of a batch of job_n
     * samples (0: a[0]'s n are the batch), and the blocks' sums run through tp_comm_sum in
     * block order across the ranks, so that any rank count gives one process's bytes. */
    int job, job_n;
    double *sample_loss; /* per sample of the last backward pass */
    float **tcol;        /* per thread: im2col tile, Winograd's transforms */
    float *parts;        /* a layer's partial weight gradients: every block's in a job, else each
                            thread's and their sum */
    int64_t ticket;      /* the next block to add to that sum */
    size_t part_floats;
    double *dparts;      /* per block: batchnorm's partial sums */
    float *wk;           /* a layer's Winograd kernel, transformed for the pass at hand */
    float **kc;          /* inference: each Winograd layer's forward kernel, transformed once */
    int kc_own;
    int reference;       /* every convolution by im2col + sgemm, the fast paths' reference twin
                            (set before tp_nn_threads) */
} tp_nn;

/* The passes of a convolution. */
typedef enum { TP_PASS_FORWARD, TP_PASS_INPUT, TP_PASS_KERNEL } tp_conv_pass;
/* How w computes a pass of conv layer l: 0 for im2col + sgemm, else m for Winograd's
 * F(m x m, 3 x 3) (winograd.h). */
int tp_nn_conv_method(const tp_nn *w, const tp_layer *l, tp_conv_pass pass);
/* An inference workspace's Winograd kernels transformed (again, after the parameters
 * changed) on threads threads; tp_nn_forward does it the first time by itself. */
void tp_nn_kernels(tp_nn *w, int threads);
/* w uses from's transformed kernels (the same parameters), kept while from lives. */
void tp_nn_share_kernels(tp_nn *w, const tp_nn *from);
/* A line per conv layer of net on f: how the CPU computes its passes. */
void tp_nn_methods(const tp_net *net, FILE *f);
/* Conv layer i alone on n samples (for tests): a[i] to a[i + 1], or backward: g[i + 1]
 * (masked in place by a fused ReLU) to the layer's gradient in grad and to g[i]. */
void tp_nn_conv_layer(tp_nn *w, int i, int n, int backward);

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
/* Shares each layer's work among threads threads, with sums over blocks of block samples
 * (block 0: tp_nn_block(w->cap)). */
void tp_nn_threads(tp_nn *w, int threads, int block);
/* The block a batch of batch samples is summed in: a function of the batch alone, small
 * enough to give threads and ranks pieces (8 blocks or more), large enough that the blocks'
 * partial sums cost little beside their products (at most 16 samples). */
int tp_nn_block(int batch);

/* Runs n samples (in w->a[0]) through the network. train: dropout masks come from step
 * (a key per training step) and batchnorm uses and updates batch statistics. */
void tp_nn_forward(tp_nn *w, int n, int train, const tp_rng *step);

/* After a training forward pass: the mean cross-entropy of the probabilities against
 * labels (label smoothing s: targets (1 - s) one-hot + s / K), and its gradient with
 * respect to every trainable parameter in w->grad (overwritten). In a job (w->job) the mean
 * and the gradient are the whole batch's; the return value is this rank's samples' mean,
 * each sample's loss is in w->sample_loss. */
double tp_nn_backward(tp_nn *w, int n, const int32_t *labels, float smoothing);

/* Index of the largest of p[0..k) (the first on ties): a predicted class. */
int tp_argmax(const float *p, int k);

#endif
