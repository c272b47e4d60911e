/* transfer.h — transfer learning on tp_nets: a network's first k layers seen as a network
 * of their own (a frozen base whose output is computed once and cached), and a base and a
 * head trained on its cached output joined back into one network. */
#ifndef TP_TRANSFER_H
#define TP_TRANSFER_H

#include <stddef.h>

#include "net.h"

/* Layers in net's convolutional base: those before the first flatten, gap or dense layer
 * (18 for VGG16: its output is the last maxpool's, 7 x 7 x 512). 0 when the first layer is
 * one of them. */
int tp_net_base_layers(const tp_net *net);
/* "base" or a layer number 1..n (as train --summary numbers them) into *k, the layers to
 * keep. 0, or -1 with err. */
int tp_net_layer_arg(const tp_net *net, const char *s, int *k, char *err, size_t errlen);
/* A view of net's first k layers (1 <= k <= n) sharing its layers and parameters: for
 * tp_nn_init and tp_nn_forward (inference only; a[k] holds layer k's output). The view
 * owns nothing: never pass it to tp_net_free, and let it die before net. */
void tp_net_prefix(const tp_net *net, int k, tp_net *view);
/* One network from base's first k layers and all of head (a network built on inputs of the
 * shape base's layer k puts out): the network text joined, the parameters copied. out
 * must be zeroed. 0, or -1 with err (a shape that does not fit). */
int tp_net_graft(const tp_net *base, int k, const tp_net *head, tp_net *out, char *err, size_t errlen);

#endif
