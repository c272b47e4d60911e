/* wset.h — weights read from another framework's file: named layers of named tensors, in
 * the file's order, with the role each tensor's name says. The readers (weights.c for
 * TensorFlow.js, h5weights.c for Keras .h5) fill one; weights.c maps it onto a network. */
#ifndef TP_WSET_H
#define TP_WSET_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"

typedef enum { TP_W_KERNEL, TP_W_BIAS, TP_W_GAMMA, TP_W_BETA, TP_W_MEAN, TP_W_VAR, TP_W_OTHER } tp_wrole;

typedef struct {
    char *name;   /* as the file names it */
    tp_wrole role;
    int rank;
    int64_t shape[TP_MAX_RANK];
    size_t n;     /* elements */
    float *data;
} tp_wtensor;

typedef struct {
    char *name;   /* the layer's name ('block1_conv1') */
    int nt;
    tp_wtensor *t;
} tp_wlayer;

typedef struct {
    int n;        /* layers holding at least one tensor, in the file's order */
    tp_wlayer *l;
} tp_wset;

void tp_wset_free(tp_wset *s);

/* Adds a tensor (its data copied, name and shape as given; role from the name) to layer
 * lname, appended when it differs from the last layer's name. For readers. */
void tp_wset_add(tp_wset *s, const char *lname, const char *tname, int rank, const int64_t *shape, const float *data);
/* The role a tensor name says: 'kernel', 'bias', 'gamma', 'beta', 'moving_mean',
 * 'moving_variance', and the Keras 1 spellings 'LAYER_W', 'LAYER_b', with any ':0' and
 * '_1' suffixes and leading 'a/b/' path. */
tp_wrole tp_wrole_of(const char *tname, const char *lname);

#endif
