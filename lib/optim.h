/* optim.h — optimisers and learning-rate schedules with Keras' defaults and update rules.
 *
 *   sgd      v = momentum v - lr g;  p += v  (nesterov: p += momentum v - lr g)
 *   adam     m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *            p -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)     (b1 .9, b2 .999, eps 1e-7)
 *   adagrad  a += g^2;  p -= lr g / (sqrt(a) + eps)                       (a starts at 0.1, eps 1e-7)
 * Weight decay (decoupled, as AdamW): p -= lr wd p before the update.
 */
#ifndef TP_OPTIM_H
#define TP_OPTIM_H

#include <stddef.h>
#include <stdint.h>

typedef enum { TP_OPT_SGD, TP_OPT_ADAM, TP_OPT_ADAGRAD } tp_opt_kind;

typedef struct {
    tp_opt_kind kind;
    double momentum, beta1, beta2, eps, decay, init_acc;
    int nesterov;
    int64_t t; /* steps taken */
    size_t n;
    float *m, *v;
} tp_optim;

/* Parses "sgd", "adam", "adagrad"; 0 or -1. */
int tp_optim_parse(const char *s, tp_opt_kind *k);
/* An optimiser of kind k for n parameters, with Keras' defaults. */
void tp_optim_init(tp_optim *o, tp_opt_kind k, size_t n);
void tp_optim_free(tp_optim *o);
/* One step on p[0..n) with gradient g at learning rate lr. */
void tp_optim_step(tp_optim *o, float *p, const float *g, double lr);

typedef enum { TP_SCHED_CONSTANT, TP_SCHED_STEP, TP_SCHED_COSINE, TP_SCHED_ONECYCLE } tp_sched_kind;
typedef struct {
    tp_sched_kind kind;
    double lr;         /* base (peak for one-cycle) */
    double gamma;      /* step: factor every `every` epochs */
    int every;
    double min_lr;     /* cosine floor */
    double warm;       /* one-cycle: fraction of steps rising */
} tp_sched;

/* Parses "constant", "step", "cosine", "onecycle"; 0 or -1. */
int tp_sched_parse(const char *s, tp_sched_kind *k);
/* The learning rate at step t of total (t counts batches from 0; epochs for step decay). */
double tp_sched_lr(const tp_sched *s, int64_t t, int64_t total, int64_t steps_per_epoch);

#endif
