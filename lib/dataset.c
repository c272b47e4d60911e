/* dataset.c — see dataset.h. */
#include "dataset.h"

#include <string.h>

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

void tp_dataset_close(tp_dataset *d)
{
    tp_records_close(d->rs);
    tp_reader_close(d->r);
    memset(d, 0, sizeof *d);
}

const tp_header *tp_dataset_header(const tp_dataset *d) { return d->rs ? tp_records_header(d->rs) : tp_reader_header(d->r); }

void tp_dataset_shape(const tp_dataset *d, int *h, int *w, int *c)
{
    const tp_field *f = d->x;
    *h = f->rank >= 2 ? (int)f->shape[0] : 1;
    *w = f->rank >= 2 ? (int)f->shape[1] : 1;
    *c = f->rank == 3 ? (int)f->shape[2] : f->rank == 2 ? 1 : (int)f->shape[0];
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

int32_t tp_dataset_label(const tp_dataset *d, const unsigned char *rec, int64_t i, int classes)
{
    int64_t y = tp_label_of(d->y, rec);
    if (y < 0 || y >= classes)
        tp_die("%s: record %lld has label %lld, outside the network's %d classes", d->name, (long long)i, (long long)y,
               classes);
    return (int32_t)y;
}

void tp_dataset_input(const tp_dataset *d, const tp_batch *b, const tp_input *in, const tp_net *net,
                      const tp_rng *aug_epoch, float *scratch, float *x, int32_t *lab)
{
    size_t ne = d->x->nelem;
    for (int s = 0; s < b->n; s++) {
        const unsigned char *rec = b->recs + (size_t)s * d->rsz;
        tp_to_float(rec + d->x->offset, d->x->dtype, ne, in->prep.scale, x + (size_t)s * ne);
        tp_prep_apply(&in->prep, x + (size_t)s * ne, ne, net->ic);
        lab[s] = tp_dataset_label(d, rec, b->idx[s], net->classes);
    }
    if (!in->aug)
        return;
    /* augment's warp, drawn per record and epoch: the same for any split of the batch */
    size_t sz = (size_t)net->ih * (size_t)net->iw * (size_t)net->ic;
    for (int s = 0; s < b->n; s++) {
        tp_rng r = tp_rng_split(aug_epoch, (uint64_t)b->idx[s]);
        tp_augment_draw dr;
        double m[6];
        tp_augment_sample(in->aug, &r, net->ih, net->iw, &dr);
        tp_augment_matrix(in->aug, &dr, net->ih, net->iw, m);
        tp_augment_warp(in->aug, &dr, m, x + (size_t)s * sz, scratch, net->ih, net->iw, net->ic);
        memcpy(x + (size_t)s * sz, scratch, sz * sizeof(float));
    }
}
