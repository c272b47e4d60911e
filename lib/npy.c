/* npy.c — see npy.h. */
#include "npy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- writing ---- */

static const char *npy_type(tp_dtype d)
{
    static const char *t[TP_NDTYPES] = {"|u1", "|i1", "<u2", "<i2", "<i4", "<i8", "<f2", "<f4", "<f8"};
    return t[d];
}

/* Appends "(a, b, c)" (numpy's tuple spelling: "(a,)" for one element) to buf at *k. */
static void put_tuple(char *buf, size_t cap, size_t *k, const int64_t *dims, int n)
{
    *k += (size_t)snprintf(buf + *k, cap - *k, "(");
    for (int i = 0; i < n; i++)
        *k += (size_t)snprintf(buf + *k, cap - *k, "%s%lld", i ? ", " : "", (long long)dims[i]);
    *k += (size_t)snprintf(buf + *k, cap - *k, n == 1 ? ",)" : ")");
}

#define NPY_SPARE 24

char *tp_npy_header(const tp_header *h, int field, int64_t count, size_t total, size_t *len)
{
    size_t reserve = NPY_SPARE;
    size_t cap = 256 + (size_t)h->nfields * (TP_MAX_NAME + 16 + 24 * TP_MAX_RANK) + reserve;
    char *d = tp_alloc(cap, 1);
    size_t k = 0;
    int64_t dims[TP_MAX_RANK + 1];
    dims[0] = count;
    k += (size_t)snprintf(d + k, cap - k, "{'descr': ");
    if (field >= 0) {
        const tp_field *f = &h->fields[field];
        memcpy(dims + 1, f->shape, (size_t)f->rank * sizeof *dims);
        k += (size_t)snprintf(d + k, cap - k, "'%s', 'fortran_order': False, 'shape': ", npy_type(f->dtype));
        put_tuple(d, cap, &k, dims, f->rank + 1);
    } else {
        k += (size_t)snprintf(d + k, cap - k, "[");
        for (int i = 0; i < h->nfields; i++) {
            const tp_field *f = &h->fields[i];
            k += (size_t)snprintf(d + k, cap - k, "%s('%s', '%s'", i ? ", " : "", f->name, npy_type(f->dtype));
            if (f->rank) {
                k += (size_t)snprintf(d + k, cap - k, ", ");
                put_tuple(d, cap, &k, f->shape, f->rank);
            }
            k += (size_t)snprintf(d + k, cap - k, ")");
        }
        k += (size_t)snprintf(d + k, cap - k, "], 'fortran_order': False, 'shape': ");
        put_tuple(d, cap, &k, dims, 1);
    }
    k += (size_t)snprintf(d + k, cap - k, ", }");
    TP_ASSERT(k + reserve + 1 < cap);
    /* magic(6) + version(2) + length(2 or 4) + dict + padding + \n, a multiple of 64 */
    size_t pre = k + reserve + 1 + 10 > 65535 ? 12 : 10;
    if (total == 0)
        total = (pre + k + reserve + 1 + 63) / 64 * 64;
    TP_ASSERT(total % 64 == 0 && total >= pre + k + 1);
    char *out = tp_alloc(total, 1);
    memcpy(out, "\x93NUMPY", 6);
    size_t hl = total - pre;
    out[6] = pre == 10 ? 1 : 2;
    out[7] = 0;
    for (size_t i = 0; i < pre - 8; i++)
        out[8 + i] = (char)(hl >> (8 * i) & 0xff);
    memcpy(out + pre, d, k);
    memset(out + pre + k, ' ', total - pre - k - 1);
    out[total - 1] = '\n';
    free(d);
    *len = total;
    return out;
}

/* ---- parsing: a tiny reader for the Python literals numpy writes ---- */

typedef enum { PV_STR, PV_INT, PV_BOOL, PV_NONE, PV_SEQ, PV_DICT } pv_kind;
typedef struct pv {
    pv_kind kind;
    char *s;
    int64_t i;
    int n;           /* items (a dict holds 2n: key, value, ...) */
    struct pv *items;
} pv;

typedef struct {
    const char *p, *end;
    char *err;
    size_t errlen;
} pstate;

static int perr(pstate *ps, const char *fmt, ...) TP_PRINTF(2, 3);
static int perr(pstate *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err, ps->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static void skip_ws(pstate *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n'))
        ps->p++;
}

static void pv_free(pv *v)
{
    for (int i = 0; i < v->n; i++)
        pv_free(&v->items[i]);
    free(v->items);
    free(v->s);
    memset(v, 0, sizeof *v);
}

static int parse_pv(pstate *ps, pv *v, int depth);

static int parse_items(pstate *ps, pv *v, char close, int dict, int depth)
{
    ps->p++;
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end)
            return perr(ps, "unterminated %s", dict ? "dict" : "sequence");
        if (*ps->p == close) {
            ps->p++;
            return 0;
        }
        int per = dict ? 2 : 1;
        if (v->n + per > 100000)
            return perr(ps, "header literal too long");
        v->items = tp_realloc(v->items, (size_t)v->n + (size_t)per, sizeof *v->items);
        memset(v->items + v->n, 0, (size_t)per * sizeof *v->items);
        if (parse_pv(ps, &v->items[v->n++], depth + 1))
            return -1;
        if (dict) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return perr(ps, "expected ':' in dict");
            ps->p++;
            if (parse_pv(ps, &v->items[v->n++], depth + 1))
                return -1;
        }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',')
            ps->p++;
        else if (ps->p < ps->end && *ps->p != close)
            return perr(ps, "expected ',' or '%c'", close);
    }
}

static int parse_pv(pstate *ps, pv *v, int depth)
{
    if (depth > 8)
        return perr(ps, "header literal nested too deeply");
    skip_ws(ps);
    if (ps->p >= ps->end)
        return perr(ps, "header literal ends early");
    char c = *ps->p;
    if (c == '\'' || c == '"') {
        v->kind = PV_STR;
        ps->p++;
        size_t cap = 16, n = 0;
        v->s = tp_alloc(cap, 1);
        while (ps->p < ps->end && *ps->p != c) {
            char ch = *ps->p++;
            if (ch == '\\' && ps->p < ps->end)
                ch = *ps->p++;
            if (n + 2 > cap)
                v->s = tp_realloc(v->s, cap *= 2, 1);
            v->s[n++] = ch;
        }
        if (ps->p >= ps->end)
            return perr(ps, "unterminated string");
        ps->p++;
        v->s[n] = 0;
        return 0;
    }
    if (c == '(' || c == '[') {
        v->kind = PV_SEQ;
        return parse_items(ps, v, c == '(' ? ')' : ']', 0, depth);
    }
    if (c == '{') {
        v->kind = PV_DICT;
        return parse_items(ps, v, '}', 1, depth);
    }
    if ((c >= '0' && c <= '9') || c == '-') {
        v->kind = PV_INT;
        int neg = c == '-';
        if (neg)
            ps->p++;
        int64_t x = 0;
        int digits = 0;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            int dig = *ps->p++ - '0';
            if (x > (INT64_MAX - dig) / 10)
                return perr(ps, "integer too large in header");
            x = x * 10 + dig;
            digits++;
        }
        if (!digits)
            return perr(ps, "bad number in header");
        if (ps->p < ps->end && *ps->p == 'L') /* files written by Python 2 */
            ps->p++;
        v->i = neg ? -x : x;
        return 0;
    }
    static const struct {
        const char *w;
        pv_kind k;
        int val;
    } words[] = {{"True", PV_BOOL, 1}, {"False", PV_BOOL, 0}, {"None", PV_NONE, 0}};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        size_t n = strlen(words[i].w);
        if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, words[i].w, n) == 0) {
            v->kind = words[i].k;
            v->i = words[i].val;
            ps->p += n;
            return 0;
        }
    }
    return perr(ps, "unexpected '%c' in header", c);
}

static const pv *dict_get(const pv *d, const char *key)
{
    for (int i = 0; i + 1 < d->n; i += 2)
        if (d->items[i].kind == PV_STR && strcmp(d->items[i].s, key) == 0)
            return &d->items[i + 1];
    return NULL;
}

/* numpy's typestr ("<f4", "|u1", ...) to a dtype and whether to swap. */
static int parse_typestr(const char *t, tp_dtype *d, int *swap, char *err, size_t errlen)
{
    char order = '=';
    const char *s = t;
    if (*s == '<' || *s == '>' || *s == '|' || *s == '=')
        order = *s++;
    static const struct {
        const char *code;
        tp_dtype d;
    } map[] = {{"b1", TP_U8}, {"u1", TP_U8}, {"i1", TP_I8}, {"u2", TP_U16}, {"i2", TP_I16},
               {"i4", TP_I32}, {"i8", TP_I64}, {"f2", TP_F16}, {"f4", TP_F32}, {"f8", TP_F64}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(s, map[i].code) == 0) {
            *d = map[i].d;
            *swap = order == '>' && tp_dtype_size(*d) > 1;
            return 0;
        }
    snprintf(err, errlen, "numpy dtype '%.20s' has no tpipe equivalent (u8 i8 u16 i16 i32 i64 f16 f32 f64)", t);
    return -1;
}

static int shape_of(const pv *v, int64_t *dims, int *rank, char *err, size_t errlen)
{
    if (v->kind == PV_INT) { /* ('x', '<f4', 3) */
        if (v->i < 0) {
            snprintf(err, errlen, "bad shape in .npy header");
            return -1;
        }
        dims[0] = v->i;
        *rank = 1;
        return 0;
    }
    if (v->kind != PV_SEQ || v->n > TP_MAX_RANK + 1) {
        snprintf(err, errlen, "bad shape in .npy header");
        return -1;
    }
    for (int i = 0; i < v->n; i++) {
        if (v->items[i].kind != PV_INT || v->items[i].i < 0) {
            snprintf(err, errlen, "bad shape in .npy header");
            return -1;
        }
        dims[i] = v->items[i].i;
    }
    *rank = v->n;
    return 0;
}

static int add_field(tp_npy_info *info, const char *name, const char *typestr, const int64_t *dims, int rank,
                     char *err, size_t errlen)
{
    tp_dtype d;
    int swap;
    if (parse_typestr(typestr, &d, &swap, err, errlen))
        return -1;
    char ferr[200];
    if (tp_header_add_field(&info->h, name, d, rank, dims, ferr, sizeof ferr) < 0) {
        snprintf(err, errlen, "%s", ferr);
        return -1;
    }
    info->swap = tp_realloc(info->swap, (size_t)info->h.nfields, 1);
    info->swap[info->h.nfields - 1] = (unsigned char)swap;
    return 0;
}

static int interpret(const pv *d, const char *plain_name, tp_npy_info *info, char *err, size_t errlen)
{
    if (d->kind != PV_DICT) {
        snprintf(err, errlen, ".npy header is not a dict");
        return -1;
    }
    const pv *descr = dict_get(d, "descr"), *fo = dict_get(d, "fortran_order"), *shape = dict_get(d, "shape");
    if (!descr || !fo || !shape || fo->kind != PV_BOOL) {
        snprintf(err, errlen, ".npy header lacks descr, fortran_order or shape");
        return -1;
    }
    int64_t dims[TP_MAX_RANK + 1];
    int rank;
    if (shape_of(shape, dims, &rank, err, errlen))
        return -1;
    if (fo->i && rank > 1) {
        snprintf(err, errlen, "Fortran-ordered arrays are not supported (save np.ascontiguousarray(a))");
        return -1;
    }
    info->count = rank ? dims[0] : 1;
    const int64_t *inner = rank ? dims + 1 : dims;
    int irank = rank ? rank - 1 : 0;
    if (descr->kind == PV_STR)
        return add_field(info, plain_name, descr->s, inner, irank, err, errlen);
    if (descr->kind != PV_SEQ || irank != 0) {
        snprintf(err, errlen, "unsupported descr in .npy header (structured arrays must be 1-D)");
        return -1;
    }
    if (descr->n == 0) {
        snprintf(err, errlen, "the structured dtype has no fields (a stream needs at least one)");
        return -1;
    }
    for (int i = 0; i < descr->n; i++) {
        const pv *it = &descr->items[i];
        if (it->kind != PV_SEQ || it->n < 2 || it->n > 3) {
            snprintf(err, errlen, "bad field %d in .npy descr", i);
            return -1;
        }
        const pv *nm = &it->items[0];
        if (nm->kind == PV_SEQ && nm->n == 2) /* (title, name) */
            nm = &nm->items[1];
        if (nm->kind != PV_STR || it->items[1].kind != PV_STR) {
            snprintf(err, errlen, "nested or unnamed field %d in .npy descr (padding? use repack_fields)", i);
            return -1;
        }
        int64_t fd[TP_MAX_RANK + 1];
        int fr = 0;
        if (it->n == 3 && shape_of(&it->items[2], fd, &fr, err, errlen))
            return -1;
        if (fr > TP_MAX_RANK) {
            snprintf(err, errlen, "field '%s' has more than %d dimensions", nm->s, TP_MAX_RANK);
            return -1;
        }
        if (add_field(info, nm->s, it->items[1].s, fd, fr, err, errlen))
            return -1;
    }
    return 0;
}

int tp_npy_parse(const char *buf, size_t len, const char *plain_name, tp_npy_info *info, char *err, size_t errlen)
{
    info->swap = NULL;
    if (memcmp(buf, "\x93NUMPY", len < 6 ? len : 6) != 0) {
        snprintf(err, errlen, "not a .npy file (bad magic)");
        return -1;
    }
    if (len < 10)
        return 1;
    int major = (unsigned char)buf[6];
    size_t pre = major == 1 ? 10 : 12, hl;
    if (major < 1 || major > 3) {
        snprintf(err, errlen, "unsupported .npy version %d", major);
        return -1;
    }
    if (len < pre)
        return 1;
    const unsigned char *u = (const unsigned char *)buf;
    hl = major == 1 ? (size_t)(u[8] | u[9] << 8) : (size_t)u[8] | (size_t)u[9] << 8 | (size_t)u[10] << 16 | (size_t)u[11] << 24;
    if (hl > (64u << 20)) {
        snprintf(err, errlen, ".npy header too long");
        return -1;
    }
    if (len < pre + hl)
        return 1;
    pstate ps = {buf + pre, buf + pre + hl, err, errlen};
    pv root;
    memset(&root, 0, sizeof root);
    int rc = parse_pv(&ps, &root, 0);
    if (rc == 0)
        rc = interpret(&root, plain_name, info, err, errlen);
    pv_free(&root);
    if (rc)
        return -1;
    info->data_offset = pre + hl;
    return 0;
}

void tp_npy_info_free(tp_npy_info *info)
{
    tp_header_free(&info->h);
    free(info->swap);
    info->swap = NULL;
}
