/* dataset.h — labelled examples for training and evaluation: a stream's inputs x and integer
 * labels y, read by random access (a file, or a pipe spooled) or in order (an endless augment
 * stream, epoch_size records an epoch), and the input recipe that turns records into network
 * input: the scale and preprocessing, the augmentation and the label smoothing. */
#ifndef TP_DATASET_H
#define TP_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "augment.h"
#include "net.h"
#include "preprocess.h"
#include "records.h"
#include "rng.h"
#include "stream.h"

/* How records become what a network learns from: one value, kept with the model (prep) or
 * given to each training run (aug, smoothing). */
typedef struct {
    tp_prep prep;          /* the scale, then caffe, tf or torch preprocessing */
    const tp_augment *aug; /* a fresh warp of every training image every epoch, or NULL */
    float smoothing;       /* label smoothing of the training loss */
} tp_input;

typedef struct {
    tp_records *rs; /* random access (a file, or a pipe spooled) */
    tp_reader *r;   /* or a stream read in order (epoch_size > 0) */
    const tp_field *x, *y;
    size_t rsz;
    int64_t n;      /* records (per epoch for a stream) */
    const char *name;
} tp_dataset;

/* A batch of fetched records: n records at recs, their record numbers idx (which key the
 * augmentation's draws and name a record in messages). */
typedef struct {
    const unsigned char *recs;
    const int64_t *idx;
    int n;
} tp_batch;

/* Opens labelled images (fields xname, yname): for random access, or (epoch_size > 0) to
 * be read in order, epoch_size records an epoch. Dies with a clear message. */
void tp_dataset_open(tp_dataset *d, const char *path, const char *xname, const char *yname, int64_t epoch_size);
void tp_dataset_close(tp_dataset *d);
/* The metadata of its (first) header. */
const tp_header *tp_dataset_header(const tp_dataset *d);
/* The input shape its x gives: H x W x C, H x W x 1, or 1 x 1 x N. */
void tp_dataset_shape(const tp_dataset *d, int *h, int *w, int *c);
/* Records idx[0..m) (random access) or the next m (a stream) into buf; returns how many
 * (fewer only at the end of a stream). */
int tp_dataset_fetch(tp_dataset *d, const int64_t *idx, int m, unsigned char *buf);
/* The label of record rec, number i: dies when it is outside [0, classes). */
int32_t tp_dataset_label(const tp_dataset *d, const unsigned char *rec, int64_t i, int classes);
/* Batch b as network input x and labels lab: each record's x times in->prep's scale, then
 * prepared by its mode, and, when in->aug is not NULL, warped with draws of aug_epoch keyed by
 * record number (scratch: one image), so any split of a batch draws the same. Dies on a
 * label outside net's classes. */
void tp_dataset_input(const tp_dataset *d, const tp_batch *b, const tp_input *in, const tp_net *net,
                      const tp_rng *aug_epoch, float *scratch, float *x, int32_t *lab);

#endif
