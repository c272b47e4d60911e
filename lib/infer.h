/* infer.h — a network's forward pass over records: the one inference call that predict (on
 * streams and on image files) and train's validation both use, on whichever device
 * device.h opened. On the CPU, threads take whole batches (each with its own workspace); on
 * a GPU one thread feeds it batches, the parameters kept on the device. Outputs are the
 * last layer's values per record (class probabilities, or a prefix network's features). */
#ifndef TP_INFER_H
#define TP_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "net.h"
#include "preprocess.h"
#include "stream.h"

typedef struct tp_infer tp_infer;

/* Inference of net on dev with batches of up to batch records and (CPU) threads threads; a
 * GPU is fed by one thread. batch 0 chooses: on the CPU as many records as keep one
 * thread's activations within 64 MiB (twice the largest layer's output a record: an
 * inference workspace keeps no more), at most 64 (VGG16 at 224x224: 2); on a GPU 256.
 * The parameters are net->params as they are now (see tp_infer_sync). */
tp_infer *tp_infer_open(const tp_net *net, const tp_device *dev, int batch, int threads);
/* Records per call of tp_infer_records that keep every thread busy: batch x threads. */
int64_t tp_infer_round(const tp_infer *inf);
/* The samples of one forward pass: outputs do not depend on how records are cut into rounds
 * that start at multiples of it. */
int tp_infer_batch(const tp_infer *inf);
/* Takes net->params again after they changed (a device's copy is refreshed; the CPU
 * transforms its Winograd kernels again). */
void tp_infer_sync(tp_infer *inf);
/* Values per record of the output. */
size_t tp_infer_outputs(const tp_infer *inf);
/* The outputs of n records recs (each rsz bytes, the input in field x, which has the
 * network's input size) into out (n x tp_infer_outputs): each input times prep's scale,
 * then prepared by its mode. */
void tp_infer_records(tp_infer *inf, const unsigned char *recs, size_t rsz, const tp_field *x, int64_t n,
                      const tp_prep *prep, float *out);
void tp_infer_close(tp_infer *inf);

#endif
