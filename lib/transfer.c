/* transfer.c — see transfer.h. */
#include "transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int tp_net_base_layers(const tp_net *net)
{
    for (int i = 0; i < net->n; i++) {
        tp_lkind k = net->l[i].kind;
        if (k == TP_L_FLATTEN || k == TP_L_GAP || k == TP_L_DENSE)
            return i;
    }
    return net->n;
}

int tp_net_layer_arg(const tp_net *net, const char *s, int *k, char *err, size_t errlen)
{
    int64_t v;
    if (strcmp(s, "base") == 0) {
        *k = tp_net_base_layers(net);
        if (*k == 0) {
            snprintf(err, errlen, "the network has no convolutional base: its first layer is %s",
                     tp_layer_name(net->l[0].kind));
            return -1;
        }
        return 0;
    }
    if (tp_parse_i64(s, &v) || v < 1 || v > net->n) {
        snprintf(err, errlen, "the layer is 'base' or a number from 1 to the network's %d layers, not '%s'", net->n, s);
        return -1;
    }
    *k = (int)v;
    return 0;
}

/* One past the last parameter of the first k layers (batchnorm statistics aside). */
static size_t params_end(const tp_net *net, int k)
{
    size_t end = 0;
    for (int i = 0; i < k; i++)
        if (net->l[i].b + net->l[i].nb > end)
            end = net->l[i].b + net->l[i].nb;
    return end;
}

void tp_net_prefix(const tp_net *net, int k, tp_net *view)
{
    TP_ASSERT(k >= 1 && k <= net->n);
    *view = *net;
    view->n = k;
    view->ntrain = params_end(net, k);
    view->classes = 0;
}

/* Copies layer i of src onto layer j of dst: kernel and bias, batchnorm statistics. */
static void copy_layer(const tp_net *src, int i, tp_net *dst, int j)
{
    const tp_layer *a = &src->l[i];
    const tp_layer *b = &dst->l[j];
    TP_ASSERT(a->kind == b->kind && a->nw == b->nw && a->nb == b->nb);
    memcpy(dst->params + b->w, src->params + a->w, a->nw * sizeof(float));
    memcpy(dst->params + b->b, src->params + a->b, a->nb * sizeof(float));
    if (a->kind == TP_L_BATCHNORM) {
        memcpy(dst->params + b->mean, src->params + a->mean, a->nb * sizeof(float));
        memcpy(dst->params + b->var, src->params + a->var, a->nb * sizeof(float));
    }
}

int tp_net_graft(const tp_net *base, int k, const tp_net *head, tp_net *out, char *err, size_t errlen)
{
    TP_ASSERT(k >= 1 && k <= base->n);
    const tp_layer *last = &base->l[k - 1];
    if (head->ih != last->oh || head->iw != last->ow || head->ic != last->oc) {
        snprintf(err, errlen, "the head takes %dx%dx%d inputs, the base's layer %d puts out %dx%dx%d", head->ih, head->iw,
                 head->ic, k, last->oh, last->ow, last->oc);
        return -1;
    }
    /* the base's text up to the line of its layer k, then the head's */
    const char *t = base->text;
    int line = 1;
    size_t cut = 0, len = strlen(t);
    while (cut < len && line <= last->line)
        line += t[cut++] == '\n';
    size_t hl = strlen(head->text);
    char *text = tp_alloc(cut + hl + 2, 1);
    memcpy(text, t, cut);
    if (cut == 0 || text[cut - 1] != '\n')
        text[cut++] = '\n';
    memcpy(text + cut, head->text, hl + 1);
    char e2[512];
    int rc = tp_net_parse(out, text, "net", e2, sizeof e2);
    if (rc == 0)
        rc = tp_net_build(out, base->ih, base->iw, base->ic, "net", e2, sizeof e2);
    free(text);
    if (rc == 0 && out->n != k + head->n) {
        snprintf(e2, sizeof e2, "the joined text has %d layers, not %d + %d", out->n, k, head->n);
        rc = -1;
    }
    if (rc) {
        snprintf(err, errlen, "joining the networks: %s", e2);
        return -1;
    }
    for (int i = 0; i < k; i++)
        copy_layer(base, i, out, i);
    for (int i = 0; i < head->n; i++)
        copy_layer(head, i, out, k + i);
    return 0;
}
