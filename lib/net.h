/* net.h — networks: the plain-text description, shapes and parameters (model.h writes and
 * reads them as model streams).
 *
 * A network file has one layer a line ('#' starts a comment), Keras' Sequential in words:
 *
 *   conv 32 3x3 relu            filters, kernel, activation; options stride=S pad=valid|same init=glorot|he
 *   maxpool 2                   pool size; option stride=S (default: the pool size)
 *   avgpool 2                   the same, averaging
 *   gap                         global average pooling (H x W x C -> C)
 *   flatten
 *   dense 128 relu              units, activation (none, relu, softmax); option init=glorot|he
 *   dropout 0.5                 rate (inverted dropout while training)
 *   batchnorm                   options momentum=0.99 eps=0.001 (Keras' defaults)
 *   relu                        an activation on its own
 *
 * The last layer must give class probabilities: "dense K softmax". The input shape comes
 * from the data. Parameters live in one block, in Keras' layouts (conv kernels H x W x in x
 * out, dense kernels in x out), so a model stream maps one-to-one onto Keras' weights.
 */
#ifndef TP_NET_H
#define TP_NET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>


typedef enum { TP_L_CONV, TP_L_MAXPOOL, TP_L_AVGPOOL, TP_L_GAP, TP_L_FLATTEN, TP_L_DENSE, TP_L_DROPOUT,
               TP_L_BATCHNORM, TP_L_RELU } tp_lkind;
typedef enum { TP_ACT_NONE, TP_ACT_RELU, TP_ACT_SOFTMAX } tp_act;

typedef struct {
    tp_lkind kind;
    int line;          /* in the network file */
    int units;         /* conv filters, dense units */
    int kh, kw, sh, sw; /* kernel or pool size, strides */
    int same;          /* padding "same" (else "valid") */
    float rate;        /* dropout */
    float momentum, eps; /* batchnorm */
    tp_act act;
    int he;            /* He initialisation instead of Glorot */
    /* per-sample shapes, set by tp_net_build */
    int ih, iw, ic, oh, ow, oc;
    int pad_t, pad_l;
    int flat;          /* output is a vector (after flatten, gap or dense) */
    /* parameters: offsets into tp_net.params (conv/dense: w, b; batchnorm: w = gamma,
     * b = beta, plus non-trainable moving mean and variance) */
    size_t w, b, nw, nb, mean, var;
} tp_layer;

typedef struct {
    int n;
    tp_layer *l;
    int ih, iw, ic;   /* input shape */
    int classes;      /* units of the softmax layer */
    size_t max_params; /* set before tp_net_build to refuse larger networks (0: 2^30) */
    size_t ntrain;    /* trainable parameters: params[0 .. ntrain) */
    int frozen;       /* leading layers left out of backward passes (train --freeze): their
                         gradients stay 0 and nothing propagates into them */
    size_t nparams;   /* all parameters, moving statistics after the trainable ones */
    float *params;
    char *text;       /* the network description */
} tp_net;

/* Parses a network description (name is used in messages). 0, or -1 with
 * "NAME:LINE: what is wrong" in err. net must be zeroed. */
int tp_net_parse(tp_net *net, const char *text, const char *name, char *err, size_t errlen);
/* Reads and parses a network file. */
int tp_net_load_file(tp_net *net, const char *path, char *err, size_t errlen);
/* Computes shapes for an h x w x c input and lays out (and zeroes) the parameters. 0, or
 * -1 with "NAME:LINE: what is wrong". */
int tp_net_build(tp_net *net, int h, int w, int c, const char *name, char *err, size_t errlen);
void tp_net_free(tp_net *net);
/* Values per sample leaving layer i (i = -1: the input). */
size_t tp_layer_out_size(const tp_net *net, int i);
/* The layer table as Keras' model.summary() prints it. */
void tp_net_summary(const tp_net *net, FILE *f);
/* Kind of layer as written in the network file. */
const char *tp_layer_name(tp_lkind k);

#endif
