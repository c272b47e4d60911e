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

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* The reading itself, in the process that runs libhdf5. */
static int read_h5(tp_wset *s, const char *path, char *err, size_t errlen)
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

/* ---- libhdf5 in a child process ----
 *
 * libhdf5 trusts the sizes and offsets a file holds: a damaged or hostile .h5 can make it
 * loop for ever, read out of bounds or ask for terabytes. So the file is read by a child
 * process under limits of CPU time and (without AddressSanitizer) address space, which sends
 * the tensors back through a pipe; whatever becomes of the child, wimport reports one line.
 * The messages: 'T' + tensor, ..., then 'E' (done) or 'F' + error text. A tensor: u32
 * lengths and bytes of its layer and tensor names, u32 rank, rank x i64 shape, the values. */

#define H5_MAX_VALUES ((size_t)1 << 32) /* values of one tensor a child may send */

static int put_str(int fd, const char *str)
{
    uint32_t n = (uint32_t)strlen(str);
    return tp_write_full(fd, &n, sizeof n) || tp_write_full(fd, str, n);
}

static _Noreturn void child(int fd, const char *path, off_t size)
{
    tp_forget_tmps_in_child();
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0)
        dup2(null, 2); /* libhdf5 or a sanitizer may print; the parent speaks for the child */
    struct rlimit cpu = {(rlim_t)(5 + size / (8 << 20)), (rlim_t)(6 + size / (8 << 20))}; /* 5 s and 1 s a 8 MiB */
    setrlimit(RLIMIT_CPU, &cpu);
#if !TP_ASAN /* AddressSanitizer reserves terabytes of address space */
    rlim_t as = (rlim_t)(2ull << 30) + 4 * (rlim_t)size;
    struct rlimit mem = {as, as};
    setrlimit(RLIMIT_AS, &mem);
#endif
    tp_wset s = {0, NULL};
    char err[1024] = "";
    int rc = read_h5(&s, path, err, sizeof err);
    int bad = 0;
    for (int i = 0; i < s.n && rc == 0 && !bad; i++)
        for (int k = 0; k < s.l[i].nt && !bad; k++) {
            const tp_wtensor *t = &s.l[i].t[k];
            uint32_t rank = (uint32_t)t->rank;
            bad = tp_write_full(fd, "T", 1) || put_str(fd, s.l[i].name) || put_str(fd, t->name) ||
                  tp_write_full(fd, &rank, sizeof rank) || tp_write_full(fd, t->shape, sizeof *t->shape * (size_t)t->rank) ||
                  tp_write_full(fd, t->data, sizeof *t->data * t->n);
        }
    if (!bad)
        bad = rc ? tp_write_full(fd, "F", 1) || tp_write_full(fd, err, strlen(err)) : tp_write_full(fd, "E", 1);
    _exit(bad ? 3 : 0);
}

typedef struct {
    int fd;
    int eof;
    pid_t pid;
    double deadline; /* wall-clock seconds (tp_now): a child blocked, not spinning, is killed too */
    int late;
} src;

/* n bytes from the child, waiting until the deadline at most. */
static int get(src *r, void *p, size_t n)
{
    size_t have = 0;
    while (have < n && !r->eof) {
        double left = r->deadline - tp_now();
        struct pollfd pf = {r->fd, POLLIN, 0};
        int rc = left > 0 ? poll(&pf, 1, left > 3.6e6 ? 3600000 : (int)(left * 1000) + 1) : 0;
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0) {
            r->late = 1;
            kill(r->pid, SIGKILL);
            r->eof = 1;
            break;
        }
        ssize_t got = read(r->fd, (char *)p + have, n - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            r->eof = 1;
        else
            have += (size_t)got;
    }
    return have == n ? 0 : -1;
}

static char *get_str(src *r)
{
    uint32_t n;
    if (get(r, &n, sizeof n) || n > 65536)
        return NULL;
    char *str = tp_alloc((size_t)n + 1, 1);
    if (get(r, str, n)) {
        free(str);
        return NULL;
    }
    str[n] = 0;
    return str;
}

/* Reads the child's messages into s: 1 when it said 'E', 0 when 'F' (err set), -1 cut short. */
static int receive(src *r, tp_wset *s, char *err, size_t errlen)
{
    for (;;) {
        char tag;
        if (get(r, &tag, 1))
            return -1;
        if (tag == 'E')
            return 1;
        if (tag == 'F') {
            size_t n = 0;
            char c;
            while (get(r, &c, 1) == 0)
                if (n + 1 < errlen)
                    err[n++] = c;
            err[n] = 0;
            return r->late ? -1 : 0;
        }
        if (tag != 'T')
            return -1;
        char *ln = get_str(r), *tn = ln ? get_str(r) : NULL;
        uint32_t rank;
        int64_t shape[TP_MAX_RANK];
        size_t n = 1;
        int ok = tn && get(r, &rank, sizeof rank) == 0 && rank <= TP_MAX_RANK &&
                 get(r, shape, sizeof *shape * rank) == 0;
        for (uint32_t a = 0; ok && a < rank; a++)
            ok = shape[a] >= 0 && (n *= (size_t)shape[a]) <= H5_MAX_VALUES;
        float *data = NULL;
        if (ok) {
            data = tp_alloc(n ? n : 1, sizeof *data);
            ok = get(r, data, n * sizeof *data) == 0;
        }
        if (ok)
            tp_wset_add(s, ln, tn, (int)rank, shape, data);
        free(data);
        free(ln);
        free(tn);
        if (!ok)
            return -1;
    }
}

int tp_wset_read_h5(tp_wset *s, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st))
        return herr(err, errlen, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return herr(err, errlen, "%s: not a regular file", path);
    int p[2];
    if (pipe(p))
        return herr(err, errlen, "%s: cannot make a pipe: %s", path, strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return herr(err, errlen, "%s: cannot start the reader: %s", path, strerror(errno));
    }
    if (pid == 0) {
        close(p[0]);
        child(p[1], path, st.st_size);
    }
    close(p[1]);
    /* the CPU limit's seconds, four times over, as wall-clock time */
    double wall = 4.0 * (double)(6 + st.st_size / (8 << 20)) + 10;
    src r = {p[0], 0, pid, tp_now() + wall, 0};
    char cerr[1024] = "";
    int got = receive(&r, s, cerr, sizeof cerr);
    close(p[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (got == 1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    tp_wset_free(s);
    if (got == 0)
        return herr(err, errlen, "%s", cerr);
    if (r.late)
        return herr(err, errlen, "%s: libhdf5 did not finish reading it in %.0f s: a damaged or hostile .h5, or a "
                    "file another process holds locked", path, wall);
    if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGXCPU || WTERMSIG(status) == SIGKILL))
        return herr(err, errlen, "%s: libhdf5 ran past its CPU time limit reading it: a damaged or hostile .h5", path);
    if (WIFSIGNALED(status))
        return herr(err, errlen, "%s: libhdf5 crashed reading it (signal %d, %s): a damaged or hostile .h5", path,
                    WTERMSIG(status), strsignal(WTERMSIG(status)));
    return herr(err, errlen, "%s: libhdf5 failed reading it (ran out of memory or stopped, exit %d): a damaged or "
                "hostile .h5", path, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

#endif
