/* trainer.c — see trainer.h. */
#include "trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"
#include "dtype.h"
#include "util.h"

void tp_dataset_open(tp_dataset *d, const char *path, const char *xname, const char *yname, int64_t epoch_size)
{
    memset(d, 0, sizeof *d);
    const tp_header *h;
    if (epoch_size > 0) {
        d->r = tp_open_or_die(path);
        d->name = tp_reader_name(d->r);
        h = tp_reader_header(d->r);
    } else {
        d->rs = tp_records_open(path);
        d->name = tp_records_name(d->rs);
        h = tp_records_header(d->rs);
    }
    int xi = tp_header_find(h, xname), yi = tp_header_find_int(h, yname);
    if (xi < 0)
        tp_die("%s: no field '%s' to learn from", d->name, xname);
    if (yi < 0)
        tp_die("%s: no integer label field '%s'", d->name, yname);
    d->x = &h->fields[xi];
    d->y = &h->fields[yi];
    if (d->x->rank < 1 || d->x->rank > 3)
        tp_die("%s: field '%s' has rank %d (want H x W x C, H x W or a vector)", d->name, xname, d->x->rank);
    d->rsz = h->record_size;
    if (d->r) {
        d->n = epoch_size;
        return;
    }
    tp_records_scan(d->rs, NULL, NULL);
    d->n = tp_records_count(d->rs);
}

int tp_dataset_fetch(tp_dataset *d, const int64_t *idx, int m, unsigned char *buf)
{
    if (d->rs) {
        tp_records_get(d->rs, idx, m, buf);
        return m;
    }
    int64_t k = tp_reader_read(d->r, buf, m);
    if (k < 0)
        tp_die("%s: %s", d->name, tp_reader_error(d->r));
    return (int)k;
}

void tp_dataset_shape(const tp_dataset *d, int *h, int *w, int *c)
{
    const tp_field *f = d->x;
    *h = f->rank >= 2 ? (int)f->shape[0] : 1;
    *w = f->rank >= 2 ? (int)f->shape[1] : 1;
    *c = f->rank == 3 ? (int)f->shape[2] : f->rank == 2 ? 1 : (int)f->shape[0];
}

/* The label of record rec (number i of d): dies when it is outside [0, classes). */
static int32_t label_of(const tp_dataset *d, const unsigned char *rec, int64_t i, int classes)
{
    int64_t y = (int64_t)tp_elem_as_double(rec + d->y->offset, d->y->dtype, 0);
    if (y < 0 || y >= classes)
        tp_die("%s: record %lld has label %lld, outside the network's %d classes", d->name, (long long)i, (long long)y,
               classes);
    return (int32_t)y;
}

/* m fetched records in buf into the network input (scaled, then prepared by prep when not
 * NULL) and labels; dies on a label outside [0, classes), naming the record by idx. */
static void convert(tp_dataset *d, const unsigned char *buf, const int64_t *idx, int m, float *in, int32_t *lab,
                    double scale, const tp_prep *prep, int channels, int classes)
{
    size_t ne = d->x->nelem;
    for (int s = 0; s < m; s++) {
        const unsigned char *rec = buf + (size_t)s * d->rsz;
        tp_to_float(rec + d->x->offset, d->x->dtype, ne, scale, in + (size_t)s * ne);
        if (prep)
            tp_prep_apply(prep, in + (size_t)s * ne, ne, channels);
        lab[s] = label_of(d, rec, idx[s], classes);
    }
}

typedef struct {
    tp_nn *ws;        /* one workspace per thread */
    tp_dataset *d;
    int batch, classes;
    double scale;
    const tp_prep *prep;
    unsigned char **buf;
    int32_t **lab;
    double *loss;     /* per thread */
    int64_t *right;   /* per thread */
} eval_job;

/* Batch b of the evaluation, on thread t's workspace. */
static void eval_batch(void *ctx, int64_t b, int t)
{
    eval_job *j = ctx;
    tp_nn *w = &j->ws[t];
    int64_t start = b * j->batch, idx[1024];
    int m = (int)(j->d->n - start < j->batch ? j->d->n - start : j->batch);
    for (int k = 0; k < m; k += 1024) { /* idx in slices: batches may exceed 1024 */
        int q = m - k < 1024 ? m - k : 1024;
        for (int s = 0; s < q; s++)
            idx[s] = start + k + s;
        tp_dataset_fetch(j->d, idx, q, j->buf[t]);
        convert(j->d, j->buf[t], idx, q, w->a[0] + (size_t)k * tp_layer_out_size(w->net, -1), j->lab[t] + k, j->scale,
                j->prep, w->net->ic, j->classes);
    }
    tp_nn_forward(w, m, 0, NULL);
    const float *p = w->a[w->net->n];
    int K = j->classes;
    for (int s = 0; s < m; s++) {
        const float *ps = p + (size_t)s * (size_t)K;
        j->right[t] += tp_argmax(ps, K) == j->lab[t][s];
        j->loss[t] -= log(ps[j->lab[t][s]] > 1e-30f ? ps[j->lab[t][s]] : 1e-30f);
    }
}

void tp_trainer_evaluate(tp_trainer *t, tp_dataset *d, double *loss, double *acc)
{
    double *l = tp_calloc((size_t)t->T, sizeof *l);
    int64_t *right = tp_calloc((size_t)t->T, sizeof *right);
    eval_job j = {t->ws, d, t->wcap, t->net->classes, t->scale, t->prep, t->buf, t->lab, l, right};
    tp_parallel_for((d->n + t->wcap - 1) / t->wcap, t->T, eval_batch, &j);
    double sl = 0;
    int64_t sr = 0;
    for (int k = 0; k < t->T; k++)
        sl += l[k], sr += right[k];
    *loss = d->n ? sl / (double)d->n : NAN;
    *acc = d->n ? (double)sr / (double)d->n : NAN;
    free(l);
    free(right);
}

void tp_batch_input(tp_dataset *d, const unsigned char *recs, const int64_t *idx, int n, double scale,
                    const tp_prep *prep, const tp_net *net, const tp_augment *aug, const tp_rng *aug_epoch,
                    float *scratch, float *x, int32_t *lab)
{
    convert(d, recs, idx, n, x, lab, scale, prep, net->ic, net->classes);
    if (!aug)
        return;
    /* augment's warp, drawn per record and epoch: the same for any split of the batch */
    size_t sz = (size_t)net->ih * (size_t)net->iw * (size_t)net->ic;
    for (int s = 0; s < n; s++) {
        tp_rng r = tp_rng_split(aug_epoch, (uint64_t)idx[s]);
        tp_augment_draw dr;
        double m[6];
        tp_augment_sample(aug, &r, net->ih, net->iw, &dr);
        tp_augment_matrix(aug, &dr, net->ih, net->iw, m);
        tp_augment_warp(aug, &dr, m, x + (size_t)s * sz, scratch, net->ih, net->iw, net->ic);
        memcpy(x + (size_t)s * sz, scratch, sz * sizeof(float));
    }
}

typedef struct {
    tp_nn *ws;        /* one workspace per shard */
    int shards;
    tp_dataset *d;
    const int64_t *idx;
    int m;            /* samples in this batch */
    const unsigned char *recs; /* the batch's records, fetched by the main thread */
    int32_t **lab;
    double scale;
    const tp_prep *prep;
    tp_rng step;
    float smoothing;
    double *loss;
    int64_t *right;
    const tp_augment *aug; /* NULL: no augmentation */
    tp_rng aug_epoch;      /* this epoch's augmentation generator */
    float **scratch;       /* per shard: one warped image */
} step_job;

/* Shard t of a training batch: its samples forward and backward, its gradient weighted by
 * its share of the batch (so the shards' sum is the whole batch's mean gradient). */
static void train_shard(void *ctx, int64_t t, int thread)
{
    (void)thread;
    step_job *j = ctx;
    tp_nn *w = &j->ws[t];
    int lo = (int)((int64_t)j->m * t / j->shards), hi = (int)((int64_t)j->m * (t + 1) / j->shards), n = hi - lo;
    j->loss[t] = 0;
    j->right[t] = 0;
    if (n == 0) {
        memset(w->grad, 0, w->net->ntrain * sizeof *w->grad);
        return;
    }
    w->first = lo;
    tp_batch_input(j->d, j->recs + (size_t)lo * j->d->rsz, j->idx + lo, n, j->scale, j->prep, w->net, j->aug,
                   &j->aug_epoch, j->scratch[t], w->a[0], j->lab[t]);
    tp_nn_forward(w, n, 1, &j->step);
    double loss = tp_nn_backward(w, n, j->lab[t], j->smoothing);
    float share = (float)n / (float)j->m;
    for (size_t k = 0; k < w->net->ntrain; k++)
        w->grad[k] *= share;
    j->loss[t] = loss * n;
    const float *p = w->a[w->net->n];
    int K = w->net->classes;
    for (int s = 0; s < n; s++)
        j->right[t] += tp_argmax(p + (size_t)s * (size_t)K, K) == j->lab[t][s];
}


void tp_dataset_close(tp_dataset *d)
{
    tp_records_close(d->rs);
    tp_reader_close(d->r);
    memset(d, 0, sizeof *d);
}

const tp_header *tp_dataset_header(const tp_dataset *d) { return d->rs ? tp_records_header(d->rs) : tp_reader_header(d->r); }

void tp_trainer_init(tp_trainer *t, tp_net *net, int threads, int batch, size_t rsz, double scale, float smoothing,
                     const tp_augment *aug)
{
    memset(t, 0, sizeof *t);
    t->net = net;
    t->T = threads < batch ? threads : batch;
    t->wcap = (batch + t->T - 1) / t->T;
    t->scale = scale;
    t->smoothing = smoothing;
    t->aug = aug;
    t->ws = tp_alloc((size_t)t->T, sizeof *t->ws);
    t->buf = tp_alloc((size_t)t->T, sizeof *t->buf);
    t->lab = tp_alloc((size_t)t->T, sizeof *t->lab);
    t->scratch = tp_alloc((size_t)t->T, sizeof *t->scratch);
    t->loss = tp_alloc((size_t)t->T, sizeof *t->loss);
    t->right = tp_alloc((size_t)t->T, sizeof *t->right);
    for (int k = 0; k < t->T; k++) {
        tp_nn_init(&t->ws[k], net, t->wcap);
        t->ws[k].update_stats = k == 0; /* batchnorm: per-shard statistics, one writer of the moving ones */
        t->buf[k] = tp_alloc((size_t)t->wcap, rsz);
        t->lab[k] = tp_alloc((size_t)t->wcap, sizeof **t->lab);
        t->scratch[k] = tp_alloc(tp_layer_out_size(net, -1), sizeof(float));
    }
}

void tp_trainer_free(tp_trainer *t)
{
    for (int k = 0; k < t->T; k++) {
        tp_nn_free(&t->ws[k]);
        free(t->buf[k]);
        free(t->lab[k]);
        free(t->scratch[k]);
    }
    free(t->ws), free(t->buf), free(t->lab), free(t->scratch), free(t->loss), free(t->right);
    memset(t, 0, sizeof *t);
}

double tp_trainer_step(tp_trainer *t, tp_dataset *d, const unsigned char *recs, const int64_t *idx, int m,
                       const tp_rng *step, const tp_rng *aug_epoch, int64_t *right)
{
    step_job j = {t->ws, t->T, d, idx, m, recs, t->lab, t->scale, t->prep, *step, t->smoothing, t->loss, t->right, t->aug,
                  *aug_epoch, t->scratch};
    tp_parallel_for(t->T, t->T, train_shard, &j);
    double loss = 0;
    for (int k = 0; k < t->T; k++) { /* fixed order: the same sums for the same thread count */
        loss += t->loss[k];
        *right += t->right[k];
        if (k > 0)
            for (size_t q = 0; q < t->net->ntrain; q++)
                t->ws[0].grad[q] += t->ws[k].grad[q];
    }
    return loss;
}

int tp_gpu_keep_dataset(const tp_gpu_nn_api *gn, tp_gnn *gw, int slot, tp_dataset *d, const tp_net *net,
                        const tp_prep *prep)
{
    if (!d->rs || (double)d->n * (double)d->rsz > 16e9)
        return 0;
    unsigned char *all = tp_alloc((size_t)d->n, d->rsz);
    int64_t idx[1024];
    for (int64_t b = 0; b < d->n; b += 1024) {
        int q = (int)(d->n - b < 1024 ? d->n - b : 1024);
        for (int s = 0; s < q; s++)
            idx[s] = b + s;
        tp_dataset_fetch(d, idx, q, all + (size_t)b * d->rsz);
    }
    for (int64_t i = 0; i < d->n; i++)
        label_of(d, all + (size_t)i * d->rsz, i, net->classes);
    tp_gnn_records f = {d->rsz, d->x->offset, d->y->offset, (int)d->x->dtype, (int)d->y->dtype,
                        (int64_t)d->x->nelem, prep->scale, (int)prep->mode, net->ic};
    int rc = gn->load_records(gw, slot, all, d->n, &f);
    free(all);
    return rc == 0;
}

void tp_gpu_evaluate(const tp_gpu_nn_api *gn, tp_gnn *gw, tp_dataset *d, int resident, int batch, const tp_prep *prep,
                     const tp_net *net, double *loss, double *acc)
{
    int64_t *idx = tp_alloc((size_t)batch, sizeof *idx), right = 0;
    unsigned char *recs = resident ? NULL : tp_alloc((size_t)batch, d->rsz);
    float *x = resident ? NULL : tp_alloc((size_t)batch, tp_layer_out_size(net, -1) * sizeof(float));
    int32_t *lab = tp_alloc((size_t)batch, sizeof *lab);
    double sum = 0;
    for (int64_t b = 0; b < d->n; b += batch) {
        int m = (int)(d->n - b < batch ? d->n - b : batch);
        for (int s = 0; s < m; s++)
            idx[s] = b + s;
        if (resident) {
            gn->gather(gw, 1, idx, m);
        } else {
            tp_dataset_fetch(d, idx, m, recs);
            tp_batch_input(d, recs, idx, m, prep->scale, prep->mode == TP_PREP_RESCALE ? NULL : prep, net, NULL, NULL,
                           NULL, x, lab);
            gn->set_batch(gw, x, lab, m);
        }
        gn->forward(gw, m, 0, NULL, 0);
        gn->score(gw, m);
    }
    sum = gn->totals(gw, &right);
    *loss = d->n ? sum / (double)d->n : NAN;
    *acc = d->n ? (double)right / (double)d->n : NAN;
    free(idx), free(recs), free(x), free(lab);
}
