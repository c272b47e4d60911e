/* h5weights.h — the Keras .h5 reader of weights.h (h5weights.c; it needs libhdf5). */
#ifndef TP_H5WEIGHTS_H
#define TP_H5WEIGHTS_H

#include <stddef.h>

#include "wset.h"

/* Reads a Keras .h5 file (the layout weights.h describes) into s; 0, or -1 with "what is
 * wrong" in err. Built without TP_HDF5 it fails saying so. */
int tp_wset_read_h5(tp_wset *s, const char *path, char *err, size_t errlen);

#endif
