/* trainer.h — the training seam: a trainer opened on a network, a device and a recipe steps
 * through batches, evaluates and syncs. Behind it sit the backends, each a table of the same
 * few operations (trainer.c): the CPU (one workspace whose threads share each layer of the
 * batch, its sums taken block by block in a fixed order, so one seed gives the same bytes on
 * any thread and rank count; nn.h) and a GPU (gpu_nn.h: the whole network on the
 * device, and the data too when it fits and needs no warping). The program keeps the epochs,
 * the schedule, the checkpoints and the files.
 *
 * A device's loss is read back only every few steps (the GPU's host runs ahead of it), so a
 * loss that went non-finite is reported up to that many steps late, but always reported.
 */
#ifndef TP_TRAINER_H
#define TP_TRAINER_H

#include <stdint.h>

#include "dataset.h"
#include "device.h"
#include "net.h"
#include "optim.h"

/* How to train, besides the data and the schedule's learning rates. */
typedef struct {
    tp_opt_kind optimizer;
    double momentum, decay; /* SGD momentum; decoupled weight decay */
    int nesterov;
    int batch, threads;     /* threads: the CPU's */
    uint64_t seed;          /* shuffling, dropout and augmentation draws */
    int freeze;             /* leading layers whose weights stay fixed */
    tp_input input;         /* preparation, augmentation, label smoothing */
} tp_recipe;

typedef struct tp_trainer tp_trainer;

/* Training of net (parameters initialised) on dev by recipe r, on train; val (may be NULL)
 * is what tp_trainer_evaluate will score, so a device may keep it too. */
tp_trainer *tp_trainer_open(tp_net *net, const tp_device *dev, const tp_recipe *r, tp_dataset *train,
                            tp_dataset *val);
/* Where it trains, for the log: NULL on the CPU, else "on DEVICE" and whether the training
 * data stays there. */
const char *tp_trainer_where(const tp_trainer *t);
/* The record order of epoch e into order[0 .. train's n): a seeded shuffle for random access,
 * arrival numbers (e * n + i) for a stream. */
void tp_trainer_order(const tp_trainer *t, int64_t e, int64_t *order);
/* Step number step of the run (in epoch e) on records idx[0..m) at learning rate lr: the
 * batch's mean gradient, then one optimiser step. Returns the samples taken (m, fewer at the
 * end of a stream, 0 when it ended), or -1 when a recent step's loss was not finite (then
 * tp_trainer_bad_loss tells it and no optimiser step was taken after it was seen). */
int tp_trainer_step(tp_trainer *t, const int64_t *idx, int m, int64_t step, int64_t e, double lr);
/* The summed loss and the correct predictions of the samples stepped since the last call,
 * read back from the device: 0, or -1 when the loss was not finite. */
int tp_trainer_totals(tp_trainer *t, double *loss, int64_t *right);
/* The mean loss per sample of the steps whose loss was not finite. */
double tp_trainer_bad_loss(const tp_trainer *t);
/* net->params made current (a device's copy read back; nothing to do on the CPU). */
void tp_trainer_sync(tp_trainer *t);
/* Mean loss and accuracy of the current parameters on d, in inference mode (infer.h). */
void tp_trainer_evaluate(tp_trainer *t, tp_dataset *d, double *loss, double *acc);
void tp_trainer_close(tp_trainer *t);

#endif
