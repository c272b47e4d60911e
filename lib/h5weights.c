/* h5weights.c — Keras .h5 weight files through libhdf5 (see weights.h for the layout).
 * Built with TP_HDF5 defined and the HDF5 headers on the include path; otherwise the
 * reader only says how to get .h5 support. */
#include "h5weights.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#ifndef TP_HDF5

int tp_wset_read_h5(tp_wset *s, const char *path, char *err, size_t errlen)
{
    (void)s;
    snprintf(err, errlen,
             "%s: reading .h5 needs libhdf5, and this build has none: install libhdf5-dev and rebuild, or "
             "convert the file to TensorFlow.js layers format (tensorflowjs_converter --input_format keras "
             "FILE.h5 DIR) and give DIR",
             path);
    return -1;
}

#else

#include <hdf5.h>

static int herr(char *err, size_t errlen, const char *fmt, ...) TP_PRINTF(3, 4);
static int herr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

typedef struct {
    int n;
    char **s;
} strlist;

static void strlist_free(strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

/* Appends the strings of attribute name of obj (a 1-d array or a scalar of fixed- or
 * variable-length strings) to l. 0, or -1 with err. */
static int read_attr_strings(hid_t obj, const char *name, strlist *l, char *err, size_t errlen)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return herr(err, errlen, "cannot open attribute '%s'", name);
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a), mt = -1;
    int rc = 0;
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    if (n == 0 || H5Sget_simple_extent_type(sp) == H5S_NULL) {
        /* an empty list (Keras writes np.asarray([]), a float array, for layers without weights) */
    } else if (H5Tget_class(ft) != H5T_STRING || n < 0 || n > 1000000) {
        rc = herr(err, errlen, "attribute '%s' is not a list of strings", name);
    } else if (H5Tis_variable_str(ft) > 0) {
        char **v = tp_calloc((size_t)n + 1, sizeof *v);
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        if (H5Aread(a, mt, v) < 0) {
            rc = herr(err, errlen, "cannot read attribute '%s'", name);
        } else {
            l->s = tp_realloc(l->s, (size_t)l->n + (size_t)n + 1, sizeof *l->s);
            for (hssize_t i = 0; i < n; i++)
                l->s[l->n++] = tp_strdup(v[i] ? v[i] : "");
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
        }
        free(v);
    } else {
        size_t w = H5Tget_size(ft);
        char *buf = tp_calloc((size_t)n * w + 1, 1);
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, w);
        H5Tset_strpad(mt, H5T_STR_NULLPAD);
        if (H5Aread(a, mt, buf) < 0) {
            rc = herr(err, errlen, "cannot read attribute '%s'", name);
        } else {
            l->s = tp_realloc(l->s, (size_t)l->n + (size_t)n + 1, sizeof *l->s);
            for (hssize_t i = 0; i < n; i++) {
                char *one = tp_alloc(w + 1, 1);
                memcpy(one, buf + (size_t)i * w, w);
                one[w] = 0;
                l->s[l->n++] = one;
            }
        }
        free(buf);
    }
    if (mt >= 0)
        H5Tclose(mt);
    H5Sclose(sp);
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

/* Attribute name of obj as a string list, or its chunks NAME0, NAME1, ... (Keras splits
 * attributes larger than an object header holds). 1 when absent, 0 when read, -1 on error. */
static int read_names(hid_t obj, const char *name, strlist *l, char *err, size_t errlen)
{
    if (H5Aexists(obj, name) > 0)
        return read_attr_strings(obj, name, l, err, errlen);
    char chunk[128];
    int k = 0;
    for (;; k++) {
        snprintf(chunk, sizeof chunk, "%s%d", name, k);
        if (H5Aexists(obj, chunk) <= 0)
            break;
        if (read_attr_strings(obj, chunk, l, err, errlen))
            return -1;
    }
    return k ? 0 : 1;
}

/* The float data of dataset path under group g into the set, as layer lname. */
static int read_tensor(tp_wset *s, hid_t g, const char *lname, const char *path, char *err, size_t errlen)
{
    if (H5Lexists(g, path, H5P_DEFAULT) <= 0)
        return herr(err, errlen, "layer '%s' lists weight '%s', which is not in the file", lname, path);
    hid_t d = H5Dopen2(g, path, H5P_DEFAULT);
    if (d < 0)
        return herr(err, errlen, "'%s/%s' is not a dataset", lname, path);
    hid_t sp = H5Dget_space(d), ft = H5Dget_type(d);
    int rank = H5Sget_simple_extent_ndims(sp), rc = 0;
    hsize_t dims[TP_MAX_RANK];
    int64_t shape[TP_MAX_RANK];
    size_t n = 1;
    if (H5Tget_class(ft) != H5T_FLOAT && H5Tget_class(ft) != H5T_INTEGER) {
        rc = herr(err, errlen, "'%s/%s' does not hold numbers", lname, path);
    } else if (rank < 0 || rank > TP_MAX_RANK) {
        rc = herr(err, errlen, "'%s/%s' has rank %d (at most %d)", lname, path, rank, TP_MAX_RANK);
    } else {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        for (int i = 0; i < rank && rc == 0; i++) {
            shape[i] = (int64_t)dims[i];
            if (dims[i] < 1 || tp_mul_ok(n, (size_t)dims[i], &n) || n > ((size_t)1 << 34))
                rc = herr(err, errlen, "'%s/%s' has a bad shape", lname, path);
        }
    }
    if (rc == 0) {
        float *v = tp_alloc(n, sizeof *v);
        if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
            rc = herr(err, errlen, "cannot read '%s/%s' as floats", lname, path);
        else
            tp_wset_add(s, lname, path, rank, shape, v);
        free(v);
    }
    H5Tclose(ft);
    H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

int tp_wset_read_h5(tp_wset *s, const char *path, char *err, size_t errlen)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors come back as return values, not printed */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return herr(err, errlen, "%s: not a readable HDF5 file", path);
    hid_t root = f, mw = -1;
    strlist layers = {0, NULL};
    char e2[400] = "";
    int rc = read_names(root, "layer_names", &layers, e2, sizeof e2);
    if (rc == 1 && H5Lexists(f, "model_weights", H5P_DEFAULT) > 0) { /* model.save(): weights one level down */
        mw = H5Gopen2(f, "model_weights", H5P_DEFAULT);
        if (mw >= 0) {
            root = mw;
            rc = read_names(root, "layer_names", &layers, e2, sizeof e2);
        }
    }
    if (rc == 1)
        rc = herr(err, errlen, "%s: no 'layer_names' attribute: not a Keras 2 weight file (Keras 3 '.weights.h5' files "
                  "are not read; save with the legacy .h5 format or convert to TensorFlow.js)", path);
    else if (rc < 0)
        rc = herr(err, errlen, "%s: %s", path, e2);
    for (int i = 0; i < layers.n && rc == 0; i++) {
        const char *ln = layers.s[i];
        if (H5Lexists(root, ln, H5P_DEFAULT) <= 0) {
            rc = herr(err, errlen, "%s: layer '%s' is listed in layer_names but has no group", path, ln);
            break;
        }
        hid_t g = H5Gopen2(root, ln, H5P_DEFAULT);
        if (g < 0) {
            rc = herr(err, errlen, "%s: '%s' is not a group", path, ln);
            break;
        }
        strlist w = {0, NULL};
        int r = read_names(g, "weight_names", &w, e2, sizeof e2);
        if (r < 0)
            rc = herr(err, errlen, "%s: layer '%s': %s", path, ln, e2);
        for (int k = 0; k < w.n && rc == 0; k++)
            if (read_tensor(s, g, ln, w.s[k], e2, sizeof e2))
                rc = herr(err, errlen, "%s: %s", path, e2);
        strlist_free(&w);
        H5Gclose(g);
    }
    if (rc == 0 && s->n == 0)
        rc = herr(err, errlen, "%s: its layers hold no weights", path);
    strlist_free(&layers);
    if (mw >= 0)
        H5Gclose(mw);
    H5Fclose(f);
    return rc;
}

#endif
