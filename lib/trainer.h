/* trainer.h — what train does per batch and per epoch, on the CPU with threads: labelled
 * data read by random access or as a stream, one training step shared out across threads
 * (each with its own workspace; shard gradients weighted and summed in a fixed order), and
 * evaluation of loss and accuracy; and, for a GPU (gpu_nn.h), data sets kept on the device
 * and evaluation there. The program keeps the epochs, schedules and files. */
#ifndef TP_TRAINER_H
#define TP_TRAINER_H

#include <stdint.h>

#include "augment.h"
#include "gpu_nn.h"
#include "net.h"
#include "nn.h"
#include "preprocess.h"
#include "records.h"
#include "rng.h"
#include "stream.h"

typedef struct {
    tp_records *rs; /* random access (a file, or a pipe spooled) */
    tp_reader *r;   /* or a stream read in order (epoch_size > 0) */
    const tp_field *x, *y;
    size_t rsz;
    int64_t n;      /* records (per epoch for a stream) */
    const char *name;
} tp_dataset;

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

typedef struct {
    tp_net *net;
    int T, wcap;            /* threads, samples per thread */
    tp_nn *ws;              /* per thread */
    unsigned char **buf;    /* per thread: records for evaluation */
    int32_t **lab;          /* per thread: labels */
    float **scratch;        /* per thread: one augmented image */
    double scale;           /* input scale (1/255 for u8) */
    const tp_prep *prep;    /* after the scale (caffe, tf, torch); NULL: the scale alone */
    float smoothing;
    const tp_augment *aug;  /* NULL: none */
    double *loss;           /* per shard, last step */
    int64_t *right;
} tp_trainer;

/* Workspaces for batches of up to batch samples on threads threads, records up to rsz
 * bytes. aug (when not NULL) warps each training image. Set t->prep afterwards for a
 * preprocessing mode beyond the scale. */
void tp_trainer_init(tp_trainer *t, tp_net *net, int threads, int batch, size_t rsz, double scale, float smoothing,
                     const tp_augment *aug);
void tp_trainer_free(tp_trainer *t);
/* One training step on m fetched records recs (their record numbers in idx, which key
 * the augmentation draws from aug_epoch): leaves the batch's mean gradient in
 * t->ws[0].grad, returns the summed loss and adds the correct predictions to *right. */
double tp_trainer_step(tp_trainer *t, tp_dataset *d, const unsigned char *recs, const int64_t *idx, int m,
                       const tp_rng *step, const tp_rng *aug_epoch, int64_t *right);
/* Records recs (numbers idx[0..n)) as network input x and labels lab: scaled by scale,
 * prepared by prep (NULL: the scale alone), and, when aug is not NULL, warped with draws of
 * aug_epoch keyed by record number (scratch: one image). Dies on a label outside the
 * network's classes. */
void tp_batch_input(tp_dataset *d, const unsigned char *recs, const int64_t *idx, int n, double scale,
                    const tp_prep *prep, const tp_net *net, const tp_augment *aug, const tp_rng *aug_epoch,
                    float *scratch, float *x, int32_t *lab);
/* Mean loss and accuracy on all of d (inference mode, threads over batches). */
void tp_trainer_evaluate(tp_trainer *t, tp_dataset *d, double *loss, double *acc);

/* Keeps all of d's records (random access only) on the GPU workspace gw in slot 0 or 1,
 * labels checked first (as convert does per batch, dying on one outside the classes);
 * 1 when they fit, 0 to go on with per-batch copies. */
int tp_gpu_keep_dataset(const tp_gpu_nn_api *gn, tp_gnn *gw, int slot, tp_dataset *d, const tp_net *net,
                        const tp_prep *prep);
/* Mean loss and accuracy of the GPU's network on all of d, in batches of batch: from slot 1
 * when resident, else prepared on the host and copied per batch. */
void tp_gpu_evaluate(const tp_gpu_nn_api *gn, tp_gnn *gw, tp_dataset *d, int resident, int batch, const tp_prep *prep,
                     const tp_net *net, double *loss, double *acc);

#endif
