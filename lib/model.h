/* model.h — models as streams: one writer and one reader for every kind of fitted thing.
 *
 * A model is a stream of exactly one record whose fields are named tensors, with its kind in
 * the metadata ('meta kind model' for a network, 'pca', 'gmm') beside what the kind needs to
 * read the tensors back (a network's text and input shape, a mixture's covariance type).
 * So tinfo, tp2npy and NumPy read a model as they read any stream. Opening one checks, once
 * for every kind: that the stream is well formed to its end, holds exactly one record, has
 * the kind asked for, and that each tensor asked for exists with its dtype and shape, holds
 * only finite values, and that no field is left over. A training history (one record an
 * epoch) is laid out by the same tensor lists (tp_model_header, tp_model_pack).
 *
 * Messages: functions that take err leave "what is wrong" there, and the caller names the
 * file (tp_model.name); the network functions die with "PROGRAM: FILE: what is wrong".
 */
#ifndef TP_MODEL_H
#define TP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "net.h"
#include "stream.h"

/* One named tensor: a field of a model's record. */
typedef struct {
    const char *name;
    tp_dtype dtype;
    int rank;                    /* 0: a scalar */
    int64_t shape[TP_MAX_RANK];
    const void *data;            /* for writing: the values, shape's product of them */
} tp_tensor;

/* A header whose fields are the n tensors t in order, and whose metadata is meta's (may be
 * NULL), in meta's order; count 1. */
void tp_model_header(tp_header *h, const tp_header *meta, const tp_tensor *t, int n);
/* The tensors' data into one record laid out by tp_model_header's h. */
void tp_model_pack(const tp_header *h, const tp_tensor *t, int n, void *rec);
/* Writes a model of the n tensors t to path (stdout for "-"), atomically; meta must hold the
 * kind. */
void tp_model_write(const char *path, const tp_header *meta, const tp_tensor *t, int n);

typedef struct {
    char *name;           /* the path, or "stdin", for messages */
    tp_header h;          /* the model's header: metadata for the caller */
    unsigned char *rec;   /* its one record */
    unsigned char *taken; /* per field: asked for by tp_model_tensor */
} tp_model;

/* Reads the model at path ("-": stdin) of the given kind, whole: 0, or -1 with err (m is then
 * empty, but m->name is set). */
int tp_model_open(tp_model *m, const char *path, const char *kind, char *err, size_t errlen);
/* The field holding tensor name, checked: of dtype, of rank, and of shape (shape[a] < 0
 * takes any extent and receives the model's; shape may be NULL for rank 0), its values
 * finite. NULL with err otherwise. */
const tp_field *tp_model_tensor(tp_model *m, const char *name, tp_dtype dtype, int rank, int64_t *shape, char *err,
                                size_t errlen);
/* Copies a field's values (from tp_model_tensor) to dst. */
void tp_model_take(const tp_model *m, const tp_field *f, void *dst);
/* 0 when every field was asked for, else -1 with err naming the first one left over. */
int tp_model_all_taken(const tp_model *m, char *err, size_t errlen);
void tp_model_close(tp_model *m);

/* ---- networks ---- */

/* Writes net as a model (kind model) to path, atomically: one f32 tensor per parameter
 * tensor in Keras' layouts (L1.w, L1.b, L2.gamma, ...), the network text and input shape in
 * the metadata, after the metadata of meta (classes, preprocess, device, ...; may be NULL). */
void tp_model_write_net(const char *path, const tp_net *net, const tp_header *meta);
/* Reads a network model: parses its network, builds it, loads the parameters, all checked;
 * the header is kept in *h (for classes, rescale) when h is not NULL. Dies naming the file. */
void tp_model_read_net(const char *path, tp_net *net, tp_header *h);

#endif
