/* fuzz_net.h — for targets that build networks: an upper bound on the parameters that
 * tp_net_build would lay out for a parsed network on an h x w x c input, worked out before
 * building so that a target can leave out networks too large to allocate under the fuzzer's
 * memory limit. It follows tp_net_build's shapes loosely: convolutions and pools never grow
 * an image (valid padding shrinks it, same keeps at most its size), so the input's h and w
 * bound every layer's; channels are followed exactly. */
#ifndef FUZZ_NET_H
#define FUZZ_NET_H

#include "net.h"

static double fuzz_net_param_bound(const tp_net *net, int h, int w, int c)
{
    double hw = (double)h * w, ch = c, np = 0;
    for (int i = 0; i < net->n; i++) {
        const tp_layer *l = &net->l[i];
        switch (l->kind) {
        case TP_L_CONV:
            np += (double)l->kh * l->kw * ch * l->units + l->units;
            ch = l->units;
            break;
        case TP_L_GAP:
            hw = 1;
            break;
        case TP_L_FLATTEN:
            ch *= hw;
            hw = 1;
            break;
        case TP_L_DENSE:
            np += hw * ch * l->units + l->units;
            ch = l->units;
            hw = 1;
            break;
        case TP_L_BATCHNORM:
            np += 4 * ch;
            break;
        default:
            break;
        }
    }
    return np;
}

#endif
