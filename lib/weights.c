/* weights.c — see weights.h: the TensorFlow.js reader and the mapping onto a network. The
 * tensor set is wset.c, the .h5 reader h5weights.c (built with libhdf5 only). */
#include "weights.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "h5weights.h"
#include "json.h"
#include "util.h"

static int werr(char *err, size_t errlen, const char *fmt, ...) TP_PRINTF(3, 4);
static int werr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- TensorFlow.js ---- */

/* The whole of file path, malloc'd (NUL-terminated, length in *len), or NULL with err. */
static char *slurp(const char *path, size_t *len, size_t limit, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) { /* a FIFO would block, a device never end */
        werr(err, errlen, "%s: not a regular file", path);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        werr(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0, got;
    char *buf = tp_alloc(cap + 1, 1);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n > limit) {
            fclose(f);
            free(buf);
            if (limit == tp_max_text_bytes())
                tp_text_too_large(err, errlen, path);
            else
                werr(err, errlen, "%s: larger than %zu MiB", path, limit >> 20);
            return NULL;
        }
        if (n == cap)
            buf = tp_realloc(buf, (cap *= 2) + 1, 1);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        werr(err, errlen, "%s: read error", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* A manifest entry's shape into shape[], rank into *rank; 0 or -1. */
static int json_shape(const tp_json *js, int *rank, int64_t *shape, size_t *n)
{
    if (!js || js->type != TP_JSON_ARR || js->n > TP_MAX_RANK)
        return -1;
    *rank = js->n;
    *n = 1;
    for (int i = 0; i < js->n; i++) {
        double d = js->kids[i].num;
        if (js->kids[i].type != TP_JSON_NUM || d < 1 || d > 1e9 || d != (double)(int64_t)d)
            return -1;
        shape[i] = (int64_t)d;
        if (tp_mul_ok(*n, (size_t)shape[i], n) || *n > ((size_t)1 << 34))
            return -1;
    }
    return 0;
}

/* One group of the manifest: its shards concatenated, then its weights cut from them. */
static int tfjs_group(tp_wset *s, const tp_json *g, const char *dir, int gi, char *err, size_t errlen)
{
    const tp_json *paths = tp_json_get(g, "paths"), *weights = tp_json_get(g, "weights");
    if (!paths || paths->type != TP_JSON_ARR || !weights || weights->type != TP_JSON_ARR)
        return werr(err, errlen, "weightsManifest[%d] lacks 'paths' or 'weights' lists", gi);
    unsigned char *buf = NULL;
    size_t len = 0;
    for (int i = 0; i < paths->n; i++) {
        const tp_json *p = &paths->kids[i];
        if (p->type != TP_JSON_STR)
            return free(buf), werr(err, errlen, "weightsManifest[%d].paths[%d] is not a string", gi, i);
        size_t pl = strlen(dir) + strlen(p->str) + 2, sl;
        char *full = tp_alloc(pl, 1);
        snprintf(full, pl, "%s/%s", dir, p->str);
        /* a shard is a file: a manifest naming ../../dev/zero or a FIFO read until memory
         * ran out or forever */
        struct stat st;
        if (stat(full, &st) == 0 && !S_ISREG(st.st_mode)) {
            werr(err, errlen, "weightsManifest[%d].paths[%d]: %s is not a regular file", gi, i, full);
            free(full);
            return free(buf), -1;
        }
        char *part = slurp(full, &sl, (size_t)1 << 34, err, errlen);
        free(full);
        if (!part)
            return free(buf), -1;
        buf = tp_realloc(buf, len + sl + 1, 1);
        memcpy(buf + len, part, sl);
        len += sl;
        free(part);
    }
    size_t off = 0;
    int rc = 0;
    float *vals = NULL;
    for (int i = 0; i < weights->n && rc == 0; i++) {
        const tp_json *w = &weights->kids[i], *name = tp_json_get(w, "name"), *dt = tp_json_get(w, "dtype");
        const tp_json *q = tp_json_get(w, "quantization");
        int rank;
        int64_t shape[TP_MAX_RANK];
        size_t n;
        if (!name || name->type != TP_JSON_STR || !dt || dt->type != TP_JSON_STR) {
            rc = werr(err, errlen, "weightsManifest[%d].weights[%d] lacks a name or dtype", gi, i);
            break;
        }
        if (json_shape(tp_json_get(w, "shape"), &rank, shape, &n)) {
            rc = werr(err, errlen, "'%s': bad shape in the manifest", name->str);
            break;
        }
        /* how it is stored: float32, int32, or quantized uint8/uint16 (affine) or float16 */
        const char *store = dt->str;
        double scale = 1, min = 0;
        if (q && q->type == TP_JSON_OBJ) {
            const tp_json *qd = tp_json_get(q, "dtype"), *qs = tp_json_get(q, "scale"), *qm = tp_json_get(q, "min");
            if (!qd || qd->type != TP_JSON_STR) {
                rc = werr(err, errlen, "'%s': quantization without a dtype", name->str);
                break;
            }
            store = qd->str;
            if (strcmp(store, "float16") && (!qs || qs->type != TP_JSON_NUM || !qm || qm->type != TP_JSON_NUM)) {
                rc = werr(err, errlen, "'%s': %s quantization without scale and min", name->str, store);
                break;
            }
            scale = qs ? qs->num : 1;
            min = qm ? qm->num : 0;
        }
        size_t es = !strcmp(store, "float32") || !strcmp(store, "int32") ? 4
                  : !strcmp(store, "uint16") || !strcmp(store, "float16") ? 2
                  : !strcmp(store, "uint8") || !strcmp(store, "bool") ? 1 : 0;
        if (!es) {
            rc = werr(err, errlen, "'%s': dtype '%s' is not a number type tpipe reads", name->str, store);
            break;
        }
        if (n > (len - off) / es) {
            rc = werr(err, errlen, "'%s' (%zu values of %s) runs past the end of its shards (%zu bytes)", name->str, n,
                      store, len);
            break;
        }
        vals = tp_realloc(vals, n + 1, sizeof *vals);
        const unsigned char *p = buf + off;
        for (size_t k = 0; k < n; k++) {
            if (!strcmp(store, "float32")) {
                memcpy(&vals[k], p + 4 * k, 4);
            } else if (!strcmp(store, "int32")) {
                int32_t v;
                memcpy(&v, p + 4 * k, 4);
                vals[k] = (float)v;
            } else if (!strcmp(store, "float16")) {
                uint16_t h;
                memcpy(&h, p + 2 * k, 2);
                vals[k] = tp_half_to_float(h);
            } else if (!strcmp(store, "uint16")) {
                uint16_t v;
                memcpy(&v, p + 2 * k, 2);
                vals[k] = (float)(v * scale + min);
            } else {
                vals[k] = (float)(p[k] * scale + min);
            }
        }
        off += n * es;
        char *lname = tp_strdup(name->str), *slash = strrchr(lname, '/');
        if (slash)
            *slash = 0;
        tp_wset_add(s, lname, name->str, rank, shape, vals);
        free(lname);
    }
    if (rc == 0 && off != len)
        rc = werr(err, errlen, "weightsManifest[%d]: its shards hold %zu bytes, its weights %zu", gi, len, off);
    free(vals);
    free(buf);
    return rc;
}

int tp_wset_read_tfjs(tp_wset *s, const char *path, char *err, size_t errlen)
{
    struct stat st;
    char *json_path, *dir;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        size_t n = strlen(path) + 12;
        json_path = tp_alloc(n, 1);
        snprintf(json_path, n, "%s/model.json", path);
        dir = tp_strdup(path);
    } else {
        json_path = tp_strdup(path);
        dir = tp_strdup(path);
        char *slash = strrchr(dir, '/');
        if (slash)
            slash[slash == dir] = 0; /* "/model.json" keeps "/" */
        else
            strcpy(dir, ".");
    }
    size_t len;
    char *text = slurp(json_path, &len, tp_max_text_bytes(), err, errlen), jerr[256];
    int rc = -1;
    tp_json *root = NULL;
    if (!text)
        goto out;
    root = tp_json_parse(text, len, jerr, sizeof jerr);
    if (!root) {
        werr(err, errlen, "%s: not JSON: %s", json_path, jerr);
        goto out;
    }
    const tp_json *format = tp_json_get(root, "format"), *man = tp_json_get(root, "weightsManifest");
    if (format && format->type == TP_JSON_STR && strcmp(format->str, "layers-model")) {
        werr(err, errlen, "%s: a TensorFlow.js '%s', not a 'layers-model' (only layers models name their layers)",
             json_path, format->str);
        goto out;
    }
    if (!man || man->type != TP_JSON_ARR) {
        werr(err, errlen, "%s: no weightsManifest: not a TensorFlow.js layers model", json_path);
        goto out;
    }
    rc = 0;
    for (int g = 0; g < man->n && rc == 0; g++) {
        char e2[400];
        rc = tfjs_group(s, &man->kids[g], dir, g, e2, sizeof e2);
        if (rc)
            werr(err, errlen, "%s: %s", json_path, e2);
    }
    if (rc == 0 && s->n == 0)
        rc = werr(err, errlen, "%s: its manifest lists no weights", json_path);
out:
    tp_json_free(root);
    free(text);
    free(json_path);
    free(dir);
    return rc;
}

int tp_wset_read(tp_wset *s, const char *path, char *err, size_t errlen)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8] = {0};
    struct stat st;
    if (stat(path, &st))
        return werr(err, errlen, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) /* a FIFO would block the reading */
        return werr(err, errlen, "%s: not a regular file or a folder", path);
    if (S_ISREG(st.st_mode)) {
        FILE *f = fopen(path, "rb");
        if (!f)
            return werr(err, errlen, "%s: %s", path, strerror(errno));
        size_t got = fread(head, 1, sizeof head, f);
        fclose(f);
        size_t n = strlen(path);
        if ((got == 8 && memcmp(head, sig, 8) == 0) || (n > 3 && !strcmp(path + n - 3, ".h5")) ||
            (n > 5 && !strcmp(path + n - 5, ".hdf5")))
            return tp_wset_read_h5(s, path, err, errlen);
    }
    return tp_wset_read_tfjs(s, path, err, errlen);
}

/* ---- mapping onto a network ---- */

typedef enum { K_CONV, K_DENSE, K_BN } fkind;
static const char *const fkind_name[] = {"conv", "dense", "batchnorm"};

typedef struct {
    const tp_wlayer *l;
    fkind kind;
    const tp_wtensor *kernel, *bias, *gamma, *beta, *mean, *var;
} flayer;

/* What layer l of a file holds: conv or dense (a kernel of rank 4 or 2, a bias) or
 * batchnorm (moving mean and variance, gamma, beta). Names the role by position when
 * the names say nothing (a kernel and then a bias). */
static int classify(const tp_wlayer *l, flayer *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->l = l;
    int other = 0;
    for (int k = 0; k < l->nt; k++) {
        const tp_wtensor *t = &l->t[k];
        const tp_wtensor **slot[] = {&f->kernel, &f->bias, &f->gamma, &f->beta, &f->mean, &f->var};
        if (t->role == TP_W_OTHER) {
            other++;
            continue;
        }
        if (*slot[t->role])
            return werr(err, errlen, "layer '%s' has two %s tensors ('%s', '%s')", l->name,
                        t->role == TP_W_KERNEL ? "kernel" : "bias/statistics", (*slot[t->role])->name, t->name);
        *slot[t->role] = t;
    }
    if (other && other == l->nt && l->nt <= 2 && (l->t[0].rank == 4 || l->t[0].rank == 2) &&
        (l->nt == 1 || l->t[1].rank == 1)) {
        f->kernel = &l->t[0]; /* unnamed: kernel, then bias, as Keras orders them */
        f->bias = l->nt == 2 ? &l->t[1] : NULL;
        other = 0;
    }
    if (other) {
        for (int k = 0; k < l->nt; k++)
            if (l->t[k].role == TP_W_OTHER)
                return werr(err, errlen, "layer '%s': tensor '%s' is not a conv, dense or batchnorm weight", l->name,
                            l->t[k].name);
    }
    if (f->kernel) {
        if (f->gamma || f->beta || f->mean || f->var || (f->kernel->rank != 4 && f->kernel->rank != 2))
            return werr(err, errlen, "layer '%s': kernel '%s' of rank %d is not a conv (4) or dense (2) kernel", l->name,
                        f->kernel->name, f->kernel->rank);
        f->kind = f->kernel->rank == 4 ? K_CONV : K_DENSE;
        return 0;
    }
    if (f->mean && f->var) {
        f->kind = K_BN;
        return 0;
    }
    return werr(err, errlen, "layer '%s' has no kernel and no moving statistics: %s'%s'", l->name,
                f->bias ? "only " : "tensors ", l->t[0].name);
}

static void shape_str(const int64_t *s, int rank, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "x" : "", (long long)s[i]);
    if (rank == 0)
        snprintf(buf, n, "scalar");
}

/* "layer 3 (conv 64 3x3)" */
static void layer_str(const tp_net *net, int i, char *buf, size_t n)
{
    const tp_layer *l = &net->l[i];
    if (l->kind == TP_L_CONV)
        snprintf(buf, n, "layer %d (conv %d %dx%d)", i + 1, l->units, l->kh, l->kw);
    else if (l->kind == TP_L_DENSE)
        snprintf(buf, n, "layer %d (dense %d)", i + 1, l->units);
    else
        snprintf(buf, n, "layer %d (%s)", i + 1, tp_layer_name(l->kind));
}

/* Copies tensor t into dst when its shape is want[0..rank); else err. */
static int put(const tp_wtensor *t, const int64_t *want, int rank, float *dst, const char *where, char *err,
               size_t errlen)
{
    int same = t->rank == rank;
    for (int i = 0; same && i < rank; i++)
        same = t->shape[i] == want[i];
    if (!same) {
        char a[128], b[128];
        shape_str(t->shape, t->rank, a, sizeof a);
        shape_str(want, rank, b, sizeof b);
        return werr(err, errlen, "'%s' is %s, the network's %s wants %s", t->name, a, where, b);
    }
    memcpy(dst, t->data, t->n * sizeof *dst);
    return 0;
}

int tp_wset_apply(const tp_wset *s, tp_net *net, int base_only, FILE *report_to, char *err, size_t errlen)
{
    char *rbuf = NULL;
    size_t rlen = 0;
    FILE *report = report_to ? open_memstream(&rbuf, &rlen) : NULL; /* shown only when all went well */
    flayer *f = tp_alloc((size_t)s->n + 1, sizeof *f);
    int nf = 0, filled = 0, rc = 0, j = 0;
    for (int i = 0; i < s->n; i++) {
        if (classify(&s->l[i], &f[nf], err, errlen)) {
            rc = -1;
            break;
        }
        if (!(base_only && f[nf].kind == K_DENSE))
            nf++;
    }
    for (int i = 0; i < net->n && rc == 0; i++) {
        tp_layer *l = &net->l[i];
        if (l->kind != TP_L_CONV && l->kind != TP_L_DENSE && l->kind != TP_L_BATCHNORM)
            continue;
        char where[96];
        layer_str(net, i, where, sizeof where);
        fkind want = l->kind == TP_L_CONV ? K_CONV : l->kind == TP_L_DENSE ? K_DENSE : K_BN;
        if (j == nf) {
            if (want != K_DENSE) {
                rc = werr(err, errlen, "the network's %s has no weights: the file's %d layers%s end before it%s%s%s", where,
                          nf, base_only ? " (without dense ones)" : "", nf ? " (the last is '" : "",
                          nf ? f[nf - 1].l->name : "", nf ? "')" : "");
                break;
            }
            if (report)
                fprintf(report, "%s: %s: not in the file, initialised\n", tp_progname(), where);
            continue;
        }
        const flayer *fl = &f[j++];
        if (fl->kind != want) {
            rc = werr(err, errlen, "layer '%s' holds %s weights, the network's %s is %s%s", fl->l->name,
                      fkind_name[fl->kind], where, fkind_name[want],
                      fl->kind == K_DENSE && want != K_DENSE ? " (--base-only leaves out the file's dense layers)" : "");
            break;
        }
        float *P = net->params;
        if (want == K_CONV) {
            int64_t ks[4] = {l->kh, l->kw, l->ic, l->units};
            rc = put(fl->kernel, ks, 4, P + l->w, where, err, errlen);
        } else if (want == K_DENSE) {
            int64_t ks[2] = {(int64_t)(l->nw / (size_t)l->units), l->units};
            rc = put(fl->kernel, ks, 2, P + l->w, where, err, errlen);
        }
        int64_t nb = (int64_t)l->nb;
        if (rc == 0 && want != K_BN) {
            if (fl->bias)
                rc = put(fl->bias, &nb, 1, P + l->b, where, err, errlen);
            else
                memset(P + l->b, 0, l->nb * sizeof *P); /* use_bias=False */
        } else if (rc == 0) {
            const tp_wtensor *part[4] = {fl->gamma, fl->beta, fl->mean, fl->var};
            size_t at[4] = {l->w, l->b, l->mean, l->var};
            float dflt[4] = {1, 0, 0, 1}; /* scale=False, center=False */
            for (int k = 0; k < 4 && rc == 0; k++) {
                if (part[k])
                    rc = put(part[k], &nb, 1, P + at[k], where, err, errlen);
                else
                    for (size_t e = 0; e < l->nb; e++)
                        P[at[k] + e] = dflt[k];
            }
        }
        if (rc == 0 && report) {
            char sh[128] = "";
            if (fl->kernel)
                shape_str(fl->kernel->shape, fl->kernel->rank, sh, sizeof sh);
            fprintf(report, "%s: %s <- '%s'%s%s\n", tp_progname(), where, fl->l->name, sh[0] ? " " : "", sh);
        }
        filled += rc == 0;
    }
    if (rc == 0 && j < nf)
        rc = werr(err, errlen, "the file has %d more layers of weights than the network, from '%s' (%s)%s", nf - j,
                  f[j].l->name, fkind_name[f[j].kind],
                  f[j].kind == K_DENSE ? ": --base-only leaves out the file's dense layers" : "");
    free(f);
    if (report) {
        fclose(report);
        if (rc == 0)
            fwrite(rbuf, 1, rlen, report_to);
        free(rbuf);
    }
    return rc ? -1 : filled;
}
