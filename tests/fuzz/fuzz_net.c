/* fuzz_net.c — libFuzzer target for network descriptions (lib/net.c): the text of a .net
 * file, or of a model's 'net' metadata.
 *
 * Each input (NUL-terminated) is parsed; a network that parses is built for a 28x28x1 or
 * an 8x8x3 input (the last byte chooses), unless fuzz_net.h's bound puts its parameters
 * above 50 million, summarised to /dev/null, and freed. Invariants (abort() otherwise): a
 * failure leaves a message; a parsed network has layers and classes >= 1; a built one has
 * every layer's output shape >= 1 and its parameters (w, b, moving mean and variance)
 * inside the block tp_net_build allocated, the trainable ones before the rest; the last
 * parameter is written, so ASan sees a block shorter than promised.
 *
 * Built and run by tests/fuzz/run.sh net (make fuzz).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_net.h"
#include "net.h"

#define MAX_PARAMS 50e6

static FILE *devnull;

static void check_built(const tp_net *net)
{
    if (net->ntrain > net->nparams || !net->params)
        abort();
    for (int i = 0; i < net->n; i++) {
        const tp_layer *l = &net->l[i];
        if (l->oh < 1 || l->ow < 1 || l->oc < 1)
            abort();
        if (l->w + l->nw > net->ntrain || l->b + l->nb > net->ntrain)
            abort();
        if (l->kind == TP_L_BATCHNORM &&
            (l->mean < net->ntrain || l->mean + l->nb > net->nparams || l->var + l->nb > net->nparams))
            abort();
    }
    net->params[net->nparams] = 1; /* tp_net_build allocates one spare */
    if (net->nparams)
        net->params[net->nparams - 1] = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = 0;
    char err[512] = "";
    tp_net net;
    memset(&net, 0, sizeof net);
    if (tp_net_parse(&net, text, "fuzz.net", err, sizeof err) != 0) {
        if (!err[0])
            abort();
    } else {
        if (net.n < 1 || net.classes < 1)
            abort();
        int small = size && data[size - 1] & 1;
        int h = small ? 8 : 28, w = small ? 8 : 28, c = small ? 3 : 1;
        if (fuzz_net_param_bound(&net, h, w, c) <= MAX_PARAMS) {
            err[0] = 0;
            if (tp_net_build(&net, h, w, c, "fuzz.net", err, sizeof err) == 0) {
                check_built(&net);
                tp_net_summary(&net, devnull);
            } else if (!err[0]) {
                abort();
            }
        }
    }
    tp_net_free(&net);
    free(text);
    return 0;
}
