/* fuzz_wset.h — the checks the weight-file targets (fuzz_h5.c, fuzz_tfjs.c) share: what a
 * reader that succeeded promises about the tp_wset it filled. */
#ifndef FUZZ_WSET_H
#define FUZZ_WSET_H

#include <stdlib.h>
#include <string.h>

#include "wset.h"

static volatile float fuzz_wset_sink;

/* Layers hold >= 1 tensor each, every tensor a name, a rank within the format's and as
 * many elements as its shape's product, each of them read. */
static void fuzz_wset_check(const tp_wset *s)
{
    if (s->n < 1 || !s->l)
        abort();
    for (int i = 0; i < s->n; i++) {
        const tp_wlayer *l = &s->l[i];
        if (!l->name || l->nt < 1)
            abort();
        for (int k = 0; k < l->nt; k++) {
            const tp_wtensor *t = &l->t[k];
            size_t n = 1;
            if (!t->name || t->rank < 0 || t->rank > TP_MAX_RANK)
                abort();
            for (int a = 0; a < t->rank; a++) {
                if (t->shape[a] < 1)
                    abort();
                n *= (size_t)t->shape[a];
            }
            if (n != t->n || (n && !t->data))
                abort();
            float acc = 0;
            for (size_t e = 0; e < n; e++)
                acc += t->data[e];
            fuzz_wset_sink += acc + (float)strlen(t->name) + (float)strlen(l->name);
        }
    }
}

#endif
