/* model.c — see model.h. */
#include "model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int merr(char *err, size_t errlen, const char *fmt, ...) TP_PRINTF(3, 4);
static int merr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

void tp_model_header(tp_header *h, const tp_header *meta, const tp_tensor *t, int n)
{
    tp_header_init(h);
    for (int i = 0; i < n; i++)
        tp_header_add(h, t[i].name, t[i].dtype, t[i].rank, t[i].shape);
    if (meta)
        for (int i = 0; i < meta->nmeta; i++)
            tp_header_set_meta(h, meta->meta[i].key, meta->meta[i].value);
    h->count = 1;
}

void tp_model_pack(const tp_header *h, const tp_tensor *t, int n, void *rec)
{
    TP_ASSERT(h->nfields == n);
    for (int i = 0; i < n; i++)
        memcpy((unsigned char *)rec + h->fields[i].offset, t[i].data, h->fields[i].nbytes);
}

void tp_model_write(const char *path, const tp_header *meta, const tp_tensor *t, int n)
{
    TP_ASSERT(meta && tp_header_get_meta(meta, "kind"));
    tp_header h;
    tp_model_header(&h, meta, t, n);
    unsigned char *rec = tp_calloc(1, h.record_size);
    tp_model_pack(&h, t, n, rec);
    tp_writer *w = tp_writer_open(path, &h);
    tp_writer_write(w, rec, 1);
    tp_writer_close(w);
    free(rec);
    tp_header_free(&h);
}

/* What a kind is called in messages. */
static const char *kind_name(const char *kind)
{
    return strcmp(kind, "model") == 0 ? "network" : strcmp(kind, "pca") == 0 ? "PCA" : kind;
}

int tp_model_open(tp_model *m, const char *path, const char *kind, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    tp_header_init(&m->h);
    m->name = tp_strdup(path && strcmp(path, "-") ? path : "stdin");
    char e[512];
    tp_reader *r = tp_reader_open(path, e, sizeof e);
    if (!r)
        return merr(err, errlen, "%s", e);
    const tp_header *h = tp_reader_header(r);
    const char *k = tp_header_get_meta(h, "kind");
    int rc = -1;
    if (!k || strcmp(k, kind)) {
        if (k)
            merr(err, errlen, "not a %s model (its metadata says kind %.40s)", kind_name(kind), k);
        else
            merr(err, errlen, "not a %s model (no 'meta kind %s')", kind_name(kind), kind);
        goto done;
    }
    const void *rec = tp_reader_next(r);
    if (!rec) {
        merr(err, errlen, "%s", tp_reader_error(r) ? tp_reader_error(r) : "a model holds one record, this none");
        goto done;
    }
    m->rec = tp_alloc(1, h->record_size);
    memcpy(m->rec, rec, h->record_size);
    if (tp_reader_next(r) || tp_reader_error(r)) {
        merr(err, errlen, "%s", tp_reader_error(r) ? tp_reader_error(r) : "a model holds one record, this more");
        goto done;
    }
    tp_header_copy(&m->h, h);
    m->taken = tp_calloc((size_t)h->nfields, 1);
    rc = 0;
done:
    tp_reader_close(r);
    if (rc) {
        free(m->rec);
        m->rec = NULL;
    }
    return rc;
}

/* "f32[3,3,1,8]" into buf. */
static void describe(tp_dtype dtype, int rank, const int64_t *shape, char *buf, size_t n)
{
    size_t at = (size_t)snprintf(buf, n, "%s", tp_dtype_name(dtype));
    for (int a = 0; a < rank && at < n; a++)
        at += (size_t)snprintf(buf + at, n - at, a ? ",%lld" : "[%lld", (long long)shape[a]);
    if (rank && at < n)
        snprintf(buf + at, n - at, "]");
}

const tp_field *tp_model_tensor(tp_model *m, const char *name, tp_dtype dtype, int rank, int64_t *shape, char *err,
                                size_t errlen)
{
    int i = tp_header_find(&m->h, name);
    if (i < 0) {
        merr(err, errlen, "the %s model has no tensor '%s'", kind_name(tp_header_get_meta(&m->h, "kind")), name);
        return NULL;
    }
    const tp_field *f = &m->h.fields[i];
    int ok = f->dtype == dtype && f->rank == rank;
    for (int a = 0; ok && a < rank; a++)
        ok = shape[a] < 0 || shape[a] == f->shape[a];
    if (!ok) {
        char got[256], want[256];
        int64_t w[TP_MAX_RANK];
        for (int a = 0; a < rank && a < TP_MAX_RANK; a++)
            w[a] = shape[a] < 0 ? f->shape[a] : shape[a];
        describe(f->dtype, f->rank, f->shape, got, sizeof got);
        describe(dtype, rank, w, want, sizeof want);
        merr(err, errlen, "tensor '%s' is %s, not %s", name, got, want);
        return NULL;
    }
    const unsigned char *p = m->rec + f->offset;
    if (tp_dtype_is_float(dtype))
        for (size_t e = 0; e < f->nelem; e++)
            if (!isfinite(tp_elem_as_double(p, dtype, e))) {
                merr(err, errlen, "tensor '%s' holds a value that is not finite (element %zu)", name, e);
                return NULL;
            }
    for (int a = 0; a < rank; a++)
        shape[a] = f->shape[a];
    m->taken[i] = 1;
    return f;
}

void tp_model_take(const tp_model *m, const tp_field *f, void *dst) { memcpy(dst, m->rec + f->offset, f->nbytes); }

int tp_model_all_taken(const tp_model *m, char *err, size_t errlen)
{
    for (int i = 0; i < m->h.nfields; i++)
        if (!m->taken[i])
            return merr(err, errlen, "field '%s' is no tensor of a %s model", m->h.fields[i].name,
                        kind_name(tp_header_get_meta(&m->h, "kind")));
    return 0;
}

void tp_model_close(tp_model *m)
{
    free(m->name);
    free(m->rec);
    free(m->taken);
    tp_header_free(&m->h);
    memset(m, 0, sizeof *m);
}

/* ---- networks ---- */

#define NET_TENSORS(net) (4 * (net)->n + 1)

/* The network's parameter tensors in the record's order ("L3.w" style names: the layer's
 * number from 1 and the tensor; batchnorm's gamma, beta, mean, var), names in names
 * (32 bytes each). Returns how many: a network without parameters has the one u8 tensor
 * 'none', since a stream needs a field. */
static int net_tensors(const tp_net *net, tp_tensor *t, char (*names)[32])
{
    static const unsigned char none = 0;
    int n = 0;
    for (int i = 0; i < net->n; i++) {
        const tp_layer *l = &net->l[i];
        const float *p = net->params;
        if (l->kind == TP_L_CONV || l->kind == TP_L_DENSE) {
            snprintf(names[n], 32, "L%d.w", i + 1);
            t[n] = (tp_tensor){names[n], TP_F32, 0, {0}, p ? p + l->w : NULL};
            if (l->kind == TP_L_CONV) {
                t[n].rank = 4;
                t[n].shape[0] = l->kh, t[n].shape[1] = l->kw, t[n].shape[2] = l->ic, t[n].shape[3] = l->units;
            } else {
                t[n].rank = 2;
                t[n].shape[0] = (int64_t)(l->nw / (size_t)l->units), t[n].shape[1] = l->units;
            }
            n++;
            snprintf(names[n], 32, "L%d.b", i + 1);
            t[n] = (tp_tensor){names[n], TP_F32, 1, {(int64_t)l->nb}, p ? p + l->b : NULL};
            n++;
        } else if (l->kind == TP_L_BATCHNORM) {
            static const char *const part[4] = {"gamma", "beta", "mean", "var"};
            size_t off[4] = {l->w, l->b, l->mean, l->var};
            for (int k = 0; k < 4; k++) {
                snprintf(names[n], 32, "L%d.%s", i + 1, part[k]);
                t[n] = (tp_tensor){names[n], TP_F32, 1, {(int64_t)l->nb}, p ? p + off[k] : NULL};
                n++;
            }
        }
    }
    if (n == 0)
        t[n++] = (tp_tensor){"none", TP_U8, 1, {1}, &none};
    return n;
}

void tp_model_write_net(const char *path, const tp_net *net, const tp_header *meta)
{
    tp_header mh;
    tp_header_init(&mh);
    if (meta)
        for (int i = 0; i < meta->nmeta; i++)
            tp_header_set_meta(&mh, meta->meta[i].key, meta->meta[i].value);
    tp_header_set_meta(&mh, "kind", "model");
    tp_header_set_meta(&mh, "net", net->text);
    char in[64];
    snprintf(in, sizeof in, "%d %d %d", net->ih, net->iw, net->ic);
    tp_header_set_meta(&mh, "input", in);
    tp_tensor *t = tp_alloc((size_t)NET_TENSORS(net), sizeof *t);
    char(*names)[32] = tp_alloc((size_t)NET_TENSORS(net), sizeof *names);
    int n = net_tensors(net, t, names);
    tp_model_write(path, &mh, t, n);
    free(names);
    free(t);
    tp_header_free(&mh);
}

void tp_model_read_net(const char *path, tp_net *net, tp_header *keep)
{
    char err[768];
    tp_model m;
    memset(net, 0, sizeof *net);
    if (tp_model_open(&m, path, "model", err, sizeof err))
        tp_die("%s: %s", m.name, err);
    const char *text = tp_header_get_meta(&m.h, "net"), *in = tp_header_get_meta(&m.h, "input");
    if (!text || !in)
        tp_die("%s: a network model needs 'net' and 'input' metadata", m.name);
    int ih, iw, ic;
    char tail;
    if (sscanf(in, "%d %d %d%c", &ih, &iw, &ic, &tail) != 3 || ih < 1 || iw < 1 || ic < 1)
        tp_die("%s: bad 'input' metadata '%.60s'", m.name, in);
    if (tp_net_parse(net, text, "net", err, sizeof err))
        tp_die("%s: its network: %s", m.name, err);
    net->max_params = m.h.record_size / sizeof(float); /* its f32 tensors hold every parameter */
    if (tp_net_build(net, ih, iw, ic, "net", err, sizeof err))
        tp_die("%s: its network: %s", m.name, err);
    tp_tensor *t = tp_alloc((size_t)NET_TENSORS(net), sizeof *t);
    char(*names)[32] = tp_alloc((size_t)NET_TENSORS(net), sizeof *names);
    int n = net_tensors(net, t, names);
    for (int i = 0; i < n; i++) {
        const tp_field *f = tp_model_tensor(&m, t[i].name, t[i].dtype, t[i].rank, t[i].shape, err, sizeof err);
        if (!f)
            tp_die("%s: %s", m.name, err);
        if (t[i].dtype == TP_F32)
            tp_model_take(&m, f, (void *)t[i].data);
    }
    if (tp_model_all_taken(&m, err, sizeof err))
        tp_die("%s: %s", m.name, err);
    if (keep)
        tp_header_copy(keep, &m.h);
    free(names);
    free(t);
    tp_model_close(&m);
}
