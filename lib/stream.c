/* stream.c — see stream.h for the format. */
#define _GNU_SOURCE
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"
#include "util.h"

#define READ_BUF (1u << 20)
#define COUNT_WIDTH 26 /* "count " + 20 digits: room to patch any 64-bit count */

static void set_err(char *err, size_t errlen, const char *fmt, ...) TP_PRINTF(3, 4);
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- header model ---- */

void tp_header_init(tp_header *h)
{
    memset(h, 0, sizeof *h);
    h->count = -1;
}

void tp_header_free(tp_header *h)
{
    for (int i = 0; i < h->nmeta; i++) {
        free(h->meta[i].key);
        free(h->meta[i].value);
    }
    free(h->meta);
    free(h->fields);
    tp_header_init(h);
}

void tp_header_copy(tp_header *dst, const tp_header *src)
{
    *dst = *src;
    dst->fields = tp_alloc((size_t)src->nfields, sizeof *src->fields);
    if (src->nfields)
        memcpy(dst->fields, src->fields, (size_t)src->nfields * sizeof *src->fields);
    dst->meta = tp_alloc((size_t)src->nmeta, sizeof *src->meta);
    for (int i = 0; i < src->nmeta; i++) {
        dst->meta[i].key = tp_strdup(src->meta[i].key);
        dst->meta[i].value = tp_strdup(src->meta[i].value);
        dst->meta[i].cap = src->meta[i].len + 1;
    }
}

/* 1 when s is a valid field name or metadata key. */
static int valid_name(const char *s, size_t n)
{
    if (n == 0 || n > TP_MAX_NAME || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

int tp_header_find(const tp_header *h, const char *name)
{
    for (int i = 0; i < h->nfields; i++)
        if (strcmp(h->fields[i].name, name) == 0)
            return i;
    return -1;
}

int tp_field_or_die(const tp_header *h, const char *input, const char *name)
{
    int i = tp_header_find(h, name);
    if (i < 0)
        tp_die("%s: no field '%s'", input, name);
    return i;
}

int tp_header_set_field(tp_header *h, const char *name, tp_dtype dtype, int rank, const int64_t *shape, char *err,
                        size_t errlen)
{
    int i = tp_header_find(h, name);
    if (i < 0)
        return tp_header_add_field(h, name, dtype, rank, shape, err, errlen);
    return tp_header_replace_field(h, i, dtype, rank, shape, err, errlen) ? -1 : i;
}

int64_t tp_label_of(const tp_field *f, const void *rec)
{
    return tp_elem_as_int((const unsigned char *)rec + f->offset, f->dtype);
}

int tp_header_find_int(const tp_header *h, const char *name)
{
    int i = tp_header_find(h, name);
    return i >= 0 && h->fields[i].nelem == 1 && !tp_dtype_is_float(h->fields[i].dtype) ? i : -1;
}

int tp_header_add_field(tp_header *h, const char *name, tp_dtype dtype, int rank, const int64_t *shape,
                        char *err, size_t errlen)
{
    size_t nlen = strlen(name);
    if (!valid_name(name, nlen)) {
        set_err(err, errlen, "bad field name '%.80s'", name);
        return -1;
    }
    if (h->nfields >= TP_MAX_FIELDS) {
        set_err(err, errlen, "more than %d fields", TP_MAX_FIELDS);
        return -1;
    }
    if (tp_header_find(h, name) >= 0) {
        set_err(err, errlen, "field '%s' declared twice", name);
        return -1;
    }
    if ((unsigned)dtype >= TP_NDTYPES) {
        set_err(err, errlen, "field '%s' has a bad dtype", name);
        return -1;
    }
    if (rank < 0 || rank > TP_MAX_RANK) {
        set_err(err, errlen, "field '%s' has rank %d (0 to %d allowed)", name, rank, TP_MAX_RANK);
        return -1;
    }
    tp_field f;
    memset(&f, 0, sizeof f);
    memcpy(f.name, name, nlen + 1);
    f.dtype = dtype;
    f.rank = rank;
    uint64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 1) {
            set_err(err, errlen, "field '%s' has dimension %lld (must be >= 1)", name, (long long)shape[i]);
            return -1;
        }
        f.shape[i] = shape[i];
        if (__builtin_mul_overflow(n, (uint64_t)shape[i], &n) || n > TP_MAX_RECORD) {
            set_err(err, errlen, "field '%s' is too large (records are limited to 2^32 bytes)", name);
            return -1;
        }
    }
    uint64_t bytes = n * tp_dtype_size(dtype);
    if (bytes > TP_MAX_RECORD || h->record_size + bytes > TP_MAX_RECORD) {
        set_err(err, errlen, "field '%s' makes records larger than 2^32 bytes", name);
        return -1;
    }
    f.nelem = (size_t)n;
    f.nbytes = (size_t)bytes;
    f.offset = h->record_size;
    h->fields = tp_realloc(h->fields, (size_t)h->nfields + 1, sizeof *h->fields);
    h->fields[h->nfields] = f;
    h->record_size += f.nbytes;
    return h->nfields++;
}

int tp_header_add(tp_header *h, const char *name, tp_dtype dtype, int rank, const int64_t *shape)
{
    char err[256];
    int i = tp_header_add_field(h, name, dtype, rank, shape, err, sizeof err);
    if (i < 0)
        tp_die("%s", err);
    return i;
}

/* Recomputes offsets and the record size after fields changed. */
static void relayout(tp_header *h)
{
    h->record_size = 0;
    for (int k = 0; k < h->nfields; k++) {
        h->fields[k].offset = h->record_size;
        h->record_size += h->fields[k].nbytes;
    }
}

int tp_header_replace_field(tp_header *h, int i, tp_dtype dtype, int rank, const int64_t *shape, char *err,
                            size_t errlen)
{
    TP_ASSERT(i >= 0 && i < h->nfields);
    tp_header t;
    tp_header_init(&t);
    for (int k = 0; k < h->nfields; k++) {
        const tp_field *f = &h->fields[k];
        int rc = k == i ? tp_header_add_field(&t, f->name, dtype, rank, shape, err, errlen)
                        : tp_header_add_field(&t, f->name, f->dtype, f->rank, f->shape, err, errlen);
        if (rc < 0) {
            tp_header_free(&t);
            return -1;
        }
    }
    free(h->fields);
    h->fields = t.fields;
    h->record_size = t.record_size;
    return 0;
}

void tp_copy_fields(const tp_header *in, const void *src, const tp_header *out, void *dst)
{
    for (int k = 0; k < out->nfields; k++) {
        const tp_field *o = &out->fields[k];
        int j = tp_header_find(in, o->name);
        if (j < 0)
            continue;
        const tp_field *f = &in->fields[j];
        if (f->dtype != o->dtype || f->rank != o->rank || memcmp(f->shape, o->shape, sizeof f->shape[0] * (size_t)f->rank))
            continue;
        memcpy((char *)dst + o->offset, (const char *)src + f->offset, o->nbytes);
    }
}

void tp_header_remove_field(tp_header *h, int i)
{
    TP_ASSERT(i >= 0 && i < h->nfields);
    memmove(h->fields + i, h->fields + i + 1, (size_t)(h->nfields - i - 1) * sizeof *h->fields);
    h->nfields--;
    relayout(h);
}

static int find_meta(const tp_header *h, const char *key)
{
    for (int i = 0; i < h->nmeta; i++)
        if (strcmp(h->meta[i].key, key) == 0)
            return i;
    return -1;
}

const char *tp_header_get_meta(const tp_header *h, const char *key)
{
    int i = find_meta(h, key);
    return i < 0 ? NULL : h->meta[i].value;
}

/* The entry for key, created empty when absent (NULL when that would exceed the limit). */
static tp_meta *meta_entry(tp_header *h, const char *key)
{
    int i = find_meta(h, key);
    if (i >= 0)
        return &h->meta[i];
    if (h->nmeta >= TP_MAX_META_KEYS)
        return NULL;
    h->meta = tp_realloc(h->meta, (size_t)h->nmeta + 1, sizeof *h->meta);
    tp_meta *m = &h->meta[h->nmeta++];
    m->key = tp_strdup(key);
    m->cap = 16;
    m->value = tp_alloc(m->cap, 1);
    m->value[0] = 0;
    m->len = 0;
    return m;
}

/* Appends n bytes to m's value, doubling its allocation as needed. */
static void meta_put(tp_meta *m, const char *v, size_t n)
{
    if (m->len + n + 1 > m->cap) {
        while (m->len + n + 1 > m->cap)
            m->cap *= 2;
        m->value = tp_realloc(m->value, m->cap, 1);
    }
    memcpy(m->value + m->len, v, n);
    m->len += n;
    m->value[m->len] = 0;
}

void tp_header_set_meta(tp_header *h, const char *key, const char *value)
{
    TP_ASSERT(valid_name(key, strlen(key)));
    TP_ASSERT(strchr(value, '\r') == NULL);
    tp_meta *m = meta_entry(h, key);
    if (!m)
        tp_die("the output would hold more than %d metadata keys (adding '%s')", TP_MAX_META_KEYS, key);
    m->len = 0;
    meta_put(m, value, strlen(value));
}

void tp_header_need_meta(const tp_header *h, const char *name, const char *const *keys, int n)
{
    int more = 0;
    for (int i = 0; i < n; i++) {
        int dup = 0;
        for (int j = 0; j < i; j++)
            dup |= strcmp(keys[i], keys[j]) == 0;
        more += !dup && find_meta(h, keys[i]) < 0;
    }
    if (h->nmeta + more > TP_MAX_META_KEYS)
        tp_die("%s: holds %d metadata keys, and the output's %d more would pass the format's %d", name, h->nmeta, more,
               TP_MAX_META_KEYS);
    /* and room in bytes: a stage's own values take at most a few hundred bytes a key */
    size_t len;
    free(tp_header_format(h, &len));
    if (len + (size_t)n * TP_META_ROOM > TP_MAX_HEADER)
        tp_die("%s: its header is %zu bytes, and the output's metadata would pass the format's %u", name, len,
               TP_MAX_HEADER);
}

int tp_header_append_meta(tp_header *h, const char *key, const char *v, size_t n)
{
    TP_ASSERT(valid_name(key, strlen(key)));
    /* the last key first: a multi-line value's lines come together */
    tp_meta *m = h->nmeta && strcmp(h->meta[h->nmeta - 1].key, key) == 0 ? &h->meta[h->nmeta - 1] : NULL;
    int fresh = !m && find_meta(h, key) < 0;
    if (!m && !(m = meta_entry(h, key)))
        return -1;
    if (!fresh)
        meta_put(m, "\n", 1);
    meta_put(m, v, n);
    return 0;
}

int tp_meta_line(const tp_header *h, const char *key, int64_t k, char *buf, size_t n)
{
    buf[0] = 0;
    const char *s = tp_header_get_meta(h, key);
    for (; s && k > 0; k--)
        if ((s = strchr(s, '\n')))
            s++;
    if (!s || k < 0 || *s == 0 || *s == '\n')
        return -1;
    const char *e = strchr(s, '\n');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    snprintf(buf, n, "%.*s", (int)(len < n ? len : n - 1), s);
    return 0;
}

void tp_class_name(const tp_header *h, int64_t k, char *buf, size_t n)
{
    if (tp_meta_line(h, "classes", k, buf, n))
        snprintf(buf, n, "%lld", (long long)k);
}

void tp_header_del_meta(tp_header *h, const char *key)
{
    int i = find_meta(h, key);
    if (i < 0)
        return;
    free(h->meta[i].key);
    free(h->meta[i].value);
    memmove(h->meta + i, h->meta + i + 1, (size_t)(h->nmeta - i - 1) * sizeof *h->meta);
    h->nmeta--;
}

int tp_header_same_fields(const tp_header *a, const tp_header *b)
{
    if (a->nfields != b->nfields)
        return 0;
    for (int i = 0; i < a->nfields; i++) {
        const tp_field *x = &a->fields[i], *y = &b->fields[i];
        if (strcmp(x->name, y->name) || x->dtype != y->dtype || x->rank != y->rank)
            return 0;
        for (int k = 0; k < x->rank; k++)
            if (x->shape[k] != y->shape[k])
                return 0;
    }
    return 1;
}

/* A growable byte string for formatting. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_put(sbuf *s, const char *data, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n + 1)
            cap *= 2;
        s->p = tp_realloc(s->p, cap, 1);
        s->cap = cap;
    }
    memcpy(s->p + s->len, data, n);
    s->len += n;
    s->p[s->len] = 0;
}

static void sb_printf(sbuf *s, const char *fmt, ...) TP_PRINTF(2, 3);
static void sb_printf(sbuf *s, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    TP_ASSERT(n >= 0 && (size_t)n < sizeof tmp);
    sb_put(s, tmp, (size_t)n);
}

/* Appends h's metadata as "meta KEY LINE" lines, one per line of each value. */
static void put_meta(sbuf *s, const tp_header *h)
{
    for (int i = 0; i < h->nmeta; i++) {
        const char *v = h->meta[i].value;
        for (;;) {
            const char *nl = strchr(v, '\n');
            size_t n = nl ? (size_t)(nl - v) : strlen(v);
            sb_printf(s, "meta %s ", h->meta[i].key);
            sb_put(s, v, n);
            sb_put(s, "\n", 1);
            if (!nl)
                break;
            v = nl + 1;
        }
    }
}

char *tp_header_meta_text(const tp_header *h, size_t *len)
{
    sbuf s = {0};
    sb_put(&s, "", 0);
    put_meta(&s, h);
    *len = s.len;
    return s.p;
}

char *tp_header_format(const tp_header *h, size_t *len)
{
    sbuf s = {0};
    sb_printf(&s, "TPIPE 1\n");
    for (int i = 0; i < h->nfields; i++) {
        const tp_field *f = &h->fields[i];
        sb_printf(&s, "field %s %s", f->name, tp_dtype_name(f->dtype));
        for (int k = 0; k < f->rank; k++)
            sb_printf(&s, " %lld", (long long)f->shape[k]);
        sb_put(&s, "\n", 1);
    }
    put_meta(&s, h);
    if (h->count >= 0)
        sb_printf(&s, "count %lld\n", (long long)h->count);
    else
        sb_printf(&s, "%-*s\n", COUNT_WIDTH, "count unknown");
    sb_put(&s, "end", 3);
    size_t pad = (TP_HEADER_ALIGN - (s.len + 1) % TP_HEADER_ALIGN) % TP_HEADER_ALIGN;
    while (pad--)
        sb_put(&s, " ", 1);
    sb_put(&s, "\n", 1);
    TP_ASSERT(s.len % TP_HEADER_ALIGN == 0);
    *len = s.len;
    return s.p;
}

/* Splits off the next space-separated token of line[*pos..n); returns its length (0 at end). */
static size_t next_token(const char *line, size_t n, size_t *pos, const char **tok)
{
    size_t i = *pos;
    while (i < n && line[i] == ' ')
        i++;
    size_t start = i;
    while (i < n && line[i] != ' ')
        i++;
    *tok = line + start;
    *pos = i;
    return i - start;
}

static int tok_is(const char *t, size_t n, const char *word) { return strlen(word) == n && memcmp(t, word, n) == 0; }

/* Parses a decimal integer token of n chars in [0, max]; 0 or -1. */
static int tok_int(const char *t, size_t n, int64_t max, int64_t *out)
{
    if (n == 0 || n > 19)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] < '0' || t[i] > '9')
            return -1;
        if (v > (max - (t[i] - '0')) / 10)
            return -1;
        v = v * 10 + (t[i] - '0');
    }
    *out = v;
    return 0;
}

int tp_header_parse_meta(tp_header *h, const char *line, size_t n, char *err, size_t errlen)
{
    size_t pos = 0;
    const char *t, *k;
    size_t tn = next_token(line, n, &pos, &t);
    if (!tok_is(t, tn, "meta")) {
        set_err(err, errlen, "not a 'meta KEY VALUE' line");
        return -1;
    }
    size_t kn = next_token(line, n, &pos, &k);
    if (!valid_name(k, kn)) {
        set_err(err, errlen, "bad metadata key");
        return -1;
    }
    if (memchr(line, '\r', n) || memchr(line, '\0', n)) {
        set_err(err, errlen, "a NUL or CR byte in a metadata value");
        return -1;
    }
    if (tp_utf8_valid(line, n) != n) {
        set_err(err, errlen, "a metadata value that is not UTF-8");
        return -1;
    }
    char key[TP_MAX_NAME + 1];
    memcpy(key, k, kn);
    key[kn] = 0;
    size_t vstart = pos < n ? pos + 1 : n; /* the value follows one space */
    if (tp_header_append_meta(h, key, line + vstart, n - vstart)) {
        set_err(err, errlen, "more than %d metadata keys", TP_MAX_META_KEYS);
        return -1;
    }
    return 0;
}

static int parse_line(const char *line, size_t n, int lineno, tp_header *h, int *have_count, char *err,
                      size_t errlen)
{
    size_t pos = 0;
    const char *t;
    if (n > 0 && line[0] == '#') { /* a comment */
        if (tp_utf8_valid(line, n) != n) {
            set_err(err, errlen, "header line %d: a comment that is not UTF-8", lineno);
            return -1;
        }
        return 0;
    }
    if (n == 0) {
        set_err(err, errlen, "header line %d is empty", lineno);
        return -1;
    }
    /* KEYWORD, then tokens one space apart; a meta value is free text after its key, and the
     * count line may carry the spaces a writer leaves to patch it */
    size_t upto = n;
    if (n > 5 && memcmp(line, "meta ", 5) == 0) {
        upto = 5;
        while (upto < n && line[upto] != ' ')
            upto++;
    } else if (n > 6 && memcmp(line, "count ", 6) == 0) {
        while (upto > 0 && line[upto - 1] == ' ')
            upto--;
    }
    for (size_t i = 0; i < upto; i++)
        if (line[i] == ' ' && (i == 0 || i + 1 == upto || line[i + 1] == ' ')) {
            set_err(err, errlen, "header line %d: tokens are one space apart (no leading, trailing or double spaces)",
                    lineno);
            return -1;
        }
    size_t tn = next_token(line, n, &pos, &t);
    if (tok_is(t, tn, "field")) {
        const char *nm, *dt;
        size_t nn = next_token(line, n, &pos, &nm);
        size_t dn = next_token(line, n, &pos, &dt);
        char name[TP_MAX_NAME + 1], dtname[8];
        if (nn == 0 || nn > TP_MAX_NAME || dn == 0 || dn >= sizeof dtname) {
            set_err(err, errlen, "header line %d: a field needs a name and a dtype", lineno);
            return -1;
        }
        memcpy(name, nm, nn);
        name[nn] = 0;
        memcpy(dtname, dt, dn);
        dtname[dn] = 0;
        tp_dtype dtype;
        if (tp_dtype_parse(dtname, &dtype)) {
            set_err(err, errlen, "header line %d: field '%s' has unknown dtype '%s'", lineno, name, dtname);
            return -1;
        }
        int64_t shape[TP_MAX_RANK];
        int rank = 0;
        const char *d;
        size_t dl;
        while ((dl = next_token(line, n, &pos, &d)) > 0) {
            if (rank == TP_MAX_RANK) {
                set_err(err, errlen, "header line %d: field '%s' has more than %d dimensions", lineno, name,
                        TP_MAX_RANK);
                return -1;
            }
            if (tok_int(d, dl, INT64_MAX, &shape[rank]) || shape[rank] < 1) {
                set_err(err, errlen, "header line %d: field '%s' has a bad dimension '%.*s'", lineno, name,
                        (int)(dl > 20 ? 20 : dl), d);
                return -1;
            }
            rank++;
        }
        char ferr[200];
        if (tp_header_add_field(h, name, dtype, rank, shape, ferr, sizeof ferr) < 0) {
            set_err(err, errlen, "header line %d: %s", lineno, ferr);
            return -1;
        }
        return 0;
    }
    if (tok_is(t, tn, "meta")) {
        char merr[200];
        if (tp_header_parse_meta(h, line, n, merr, sizeof merr)) {
            set_err(err, errlen, "header line %d: %s", lineno, merr);
            return -1;
        }
        return 0;
    }
    if (tok_is(t, tn, "count")) {
        const char *c, *extra;
        size_t cn = next_token(line, n, &pos, &c);
        if (*have_count) {
            set_err(err, errlen, "header line %d: count given twice", lineno);
            return -1;
        }
        if (tok_is(c, cn, "unknown"))
            h->count = -1;
        else if (tok_int(c, cn, INT64_MAX, &h->count)) {
            set_err(err, errlen, "header line %d: bad record count", lineno);
            return -1;
        }
        if (next_token(line, n, &pos, &extra)) {
            set_err(err, errlen, "header line %d: text after the count", lineno);
            return -1;
        }
        *have_count = 1;
        return 0;
    }
    set_err(err, errlen, "header line %d: unknown keyword '%.*s'", lineno, (int)(tn > 20 ? 20 : tn), t);
    return -1;
}

/* 1 when line[0..n) is "end" followed by spaces only. */
static int is_end_line(const char *line, size_t n)
{
    if (n < 3 || memcmp(line, "end", 3) != 0)
        return 0;
    for (size_t i = 3; i < n; i++)
        if (line[i] != ' ')
            return 0;
    return 1;
}

int tp_header_parse(const char *buf, size_t len, tp_header *h, char *err, size_t errlen)
{
    if (len < 8 || memcmp(buf, "TPIPE ", 6) != 0) {
        set_err(err, errlen, "not a tpipe stream (bad magic)");
        return -1;
    }
    if (memcmp(buf, "TPIPE 1\n", 8) != 0) {
        set_err(err, errlen, "unsupported stream version (this reader knows version 1)");
        return -1;
    }
    if (len % TP_HEADER_ALIGN) {
        set_err(err, errlen, "header length %zu is not a multiple of %d", len, TP_HEADER_ALIGN);
        return -1;
    }
    int have_count = 0, lineno = 1;
    size_t pos = 8;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl) {
            set_err(err, errlen, "header ends in the middle of a line");
            goto fail;
        }
        size_t n = (size_t)(nl - (buf + pos));
        lineno++;
        if (memchr(buf + pos, '\0', n) || memchr(buf + pos, '\r', n)) {
            set_err(err, errlen, "header line %d holds a NUL or CR byte", lineno);
            goto fail;
        }
        if (is_end_line(buf + pos, n)) {
            if ((size_t)(nl - buf) + 1 != len) {
                set_err(err, errlen, "header line %d: text after the end line", lineno);
                goto fail;
            }
            if (h->nfields == 0) {
                set_err(err, errlen, "header declares no fields");
                goto fail;
            }
            if (!have_count) {
                set_err(err, errlen, "header has no count line");
                goto fail;
            }
            return 0;
        }
        if (parse_line(buf + pos, n, lineno, h, &have_count, err, errlen))
            goto fail;
        pos += n + 1;
    }
    set_err(err, errlen, "header has no end line");
fail:
    tp_header_free(h);
    return -1;
}

/* ---- reader ---- */

struct tp_reader {
    int fd, own_fd;
    int mem;            /* buf is the caller's memory: no reads, no allocation */
    unsigned char *buf; /* [pos, len) holds unread input */
    size_t cap, pos, len;
    int eof;
    tp_header h;
    int64_t base;     /* input offset of buf[0] (counted from where reading began) */
    int64_t last;     /* input offset of the record last returned */
    int64_t seg_left; /* records left in this segment, -1 = to end of input */
    int64_t index;
    int segments;
    int failed;
    char name[256];
    char err[512];
};

static int fail(tp_reader *r, const char *fmt, ...) TP_PRINTF(2, 3);
static int fail(tp_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    r->failed = 1;
    return -1;
}

/* Makes at least want bytes available at buf+pos if the input has them. Returns the bytes
 * available (< want only at end of input), or -1 on a read error. */
static long long avail(tp_reader *r, size_t want)
{
    size_t have = r->len - r->pos;
    if (have >= want || r->eof || r->mem)
        return (long long)have;
    if (r->pos > 0) { /* compact */
        memmove(r->buf, r->buf + r->pos, have);
        r->base += (int64_t)r->pos;
        r->len = have;
        r->pos = 0;
    }
    while (r->len < want && !r->eof) {
        if (r->len == r->cap) {
            /* doubled as data keeps coming, so the buffer is never more than twice what the
             * input has sent (no up-front allocation of a size a header claims), and a header
             * read 64 bytes at a time costs linear time, not one reallocation per 64 bytes */
            size_t cap = r->cap * 2;
            unsigned char *nb = realloc(r->buf, cap);
            if (!nb)
                return fail(r, "out of memory for a %zu-byte record", want);
            r->buf = nb;
            r->cap = cap;
        }
        ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return fail(r, "read error: %s", strerror(errno));
        }
        if (got == 0)
            r->eof = 1;
        r->len += (size_t)got;
    }
    return (long long)(r->len - r->pos);
}

/* The byte after an end line ("end" and spaces) that starts in b[from .. to) after a newline
 * and ends before to, not at to: a header left unpadded; else 0. */
static size_t unpadded_end(const char *b, size_t from, size_t to)
{
    for (size_t i = from ? from - 1 : 0; i + 1 < to; i++)
        if (b[i] == '\n') {
            size_t e = i + 1;
            while (e < to && b[e] != '\n')
                e++;
            if (e < to && e + 1 != to && is_end_line(b + i + 1, e - i - 1))
                return e + 1;
        }
    return 0;
}

/* Reads one header at the current position into *h (empty). 0, 1 at a clean end of input
 * (no byte left), or -1 on error. */
static int read_header(tp_reader *r, tp_header *h)
{
    long long a = avail(r, TP_HEADER_ALIGN);
    if (a < 0)
        return -1;
    if (a == 0)
        return 1;
    if (memcmp(r->buf + r->pos, "TPIPE ", a < 6 ? (size_t)a : 6) != 0)
        return fail(r, "not a tpipe stream (bad magic)");
    size_t n = TP_HEADER_ALIGN;
    for (;;) {
        if ((size_t)a < n) {
            size_t e = unpadded_end((const char *)r->buf + r->pos, n - TP_HEADER_ALIGN, (size_t)a);
            if (e)
                return fail(r, "the header's end line ends at byte %zu, not at a multiple of %d (a header is padded with spaces to one)",
                            e, TP_HEADER_ALIGN);
            return fail(r, "truncated header (%lld bytes, no end line)", a);
        }
        /* The header ends at a 64-byte boundary with the line "end" + spaces. */
        const char *b = (const char *)r->buf + r->pos;
        if (b[n - 1] == '\n') {
            size_t s = n - 1;
            while (s > 0 && b[s - 1] != '\n')
                s--;
            if (is_end_line(b + s, n - 1 - s))
                break;
        }
        size_t e = unpadded_end(b, n - TP_HEADER_ALIGN, n);
        if (e)
            return fail(r, "the header's end line ends at byte %zu, not at a multiple of %d (a header is padded with spaces to one)",
                        e, TP_HEADER_ALIGN);
        if (n >= TP_MAX_HEADER)
            return fail(r, "header has no end line within 16 MiB");
        n += TP_HEADER_ALIGN;
        a = avail(r, n);
        if (a < 0)
            return -1;
    }
    if (tp_header_parse((const char *)r->buf + r->pos, n, h, r->err, sizeof r->err)) {
        r->failed = 1;
        return -1;
    }
    r->pos += n;
    return 0;
}

static tp_reader *reader_start(tp_reader *r, char *err, size_t errlen)
{
    int rc = read_header(r, &r->h);
    if (rc) {
        set_err(err, errlen, "%s", rc > 0 ? "empty input (no stream header)" : r->err);
        tp_reader_close(r);
        return NULL;
    }
    r->seg_left = r->h.count;
    r->segments = 1;
    return r;
}

tp_reader *tp_reader_open(const char *path, char *err, size_t errlen)
{
    int fd = 0, own = 0;
    if (path && strcmp(path, "-") != 0) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            set_err(err, errlen, "%s", strerror(errno));
            return NULL;
        }
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
            close(fd);
            set_err(err, errlen, "is a directory");
            return NULL;
        }
        own = 1;
    }
    tp_reader *r = tp_calloc(1, sizeof *r);
    tp_pipe_grow(fd);
    off_t at = lseek(fd, 0, SEEK_CUR);
    r->base = at > 0 ? at : 0;
    r->fd = fd;
    r->own_fd = own;
    r->cap = READ_BUF;
    r->buf = tp_alloc(r->cap, 1);
    snprintf(r->name, sizeof r->name, "%s", own ? path : "stdin");
    tp_header_init(&r->h);
    return reader_start(r, err, errlen);
}

tp_reader *tp_reader_open_mem(const void *buf, size_t len, char *err, size_t errlen)
{
    tp_reader *r = tp_calloc(1, sizeof *r);
    r->fd = -1;
    r->mem = 1;
    r->buf = (unsigned char *)buf;
    r->cap = r->len = len;
    r->eof = 1;
    snprintf(r->name, sizeof r->name, "memory");
    tp_header_init(&r->h);
    return reader_start(r, err, errlen);
}

const tp_header *tp_reader_header(const tp_reader *r) { return &r->h; }
const char *tp_reader_name(const tp_reader *r) { return r->name; }
int64_t tp_reader_index(const tp_reader *r) { return r->index; }
int tp_reader_segments(const tp_reader *r) { return r->segments; }
int64_t tp_reader_offset(const tp_reader *r) { return r->last; }
int tp_reader_fd(const tp_reader *r) { return r->fd; }
const char *tp_reader_error(const tp_reader *r) { return r->failed ? r->err : NULL; }

/* At the end of a segment: moves into the next one. 0 when a record may follow, 1 at the
 * end of input, -1 on error. */
static int next_segment(tp_reader *r)
{
    while (r->seg_left == 0) {
        tp_header h;
        tp_header_init(&h);
        int rc = read_header(r, &h);
        if (rc)
            return rc;
        if (!tp_header_same_fields(&h, &r->h)) {
            tp_header_free(&h);
            return fail(r, "concatenated stream %d has different fields from the first", r->segments + 1);
        }
        r->seg_left = h.count;
        r->segments++;
        tp_header_free(&h);
    }
    return 0;
}

const void *tp_reader_next(tp_reader *r)
{
    if (r->failed)
        return NULL;
    int rc = next_segment(r);
    if (rc)
        return NULL;
    size_t rs = r->h.record_size;
    long long a = avail(r, rs);
    if (a < 0)
        return NULL;
    if ((size_t)a < rs) {
        if (a == 0 && r->seg_left < 0)
            return NULL; /* count unknown: clean end */
        if (a == 0)
            fail(r, "truncated: the header promised %lld more records after record %lld",
                 (long long)r->seg_left, (long long)r->index);
        else
            fail(r, "truncated record %lld (%lld of %zu bytes)", (long long)r->index, a, rs);
        return NULL;
    }
    const void *rec = r->buf + r->pos;
    r->last = r->base + (int64_t)r->pos;
    r->pos += rs;
    r->index++;
    if (r->seg_left > 0)
        r->seg_left--;
    return rec;
}

int64_t tp_reader_read(tp_reader *r, void *dst, int64_t n)
{
    int64_t k = 0;
    size_t rs = r->h.record_size;
    for (; k < n; k++) {
        const void *rec = tp_reader_next(r);
        if (!rec)
            return r->failed ? -1 : k;
        memcpy((char *)dst + (size_t)k * rs, rec, rs);
    }
    return k;
}

void tp_reader_close(tp_reader *r)
{
    if (!r)
        return;
    if (r->own_fd)
        close(r->fd);
    if (!r->mem)
        free(r->buf);
    tp_header_free(&r->h);
    free(r);
}

tp_reader *tp_open_or_die(const char *path)
{
    char err[512];
    tp_reader *r = tp_reader_open(path, err, sizeof err);
    if (!r)
        tp_die("%s: %s", path && strcmp(path, "-") ? path : "stdin", err);
    return r;
}

const void *tp_next_or_die(tp_reader *r)
{
    const void *rec = tp_reader_next(r);
    if (!rec && r->failed)
        tp_die("%s: %s", r->name, r->err);
    return rec;
}

/* ---- writer ---- */

struct tp_writer {
    tp_outfile out;
    tp_header h;            /* for continuation headers */
    size_t record_size;
    int64_t promised;       /* records the current segment's header promised, -1 unknown */
    int64_t written;        /* records written in all */
    int64_t seg_written;    /* records written in the current segment */
    long long header_start; /* file offset of the current header when its count may be patched, else -1 */
    size_t count_off;       /* offset of the count line within the header */
};

/* Writes a segment header for count records (-1 unknown). */
static void write_header(tp_writer *w, int64_t count)
{
    w->h.count = count;
    w->promised = count;
    w->seg_written = 0;
    w->header_start = count < 0 ? tp_out_tell(&w->out) : -1;
    size_t hl;
    char *hb = tp_header_format(&w->h, &hl);
    if (hl > TP_MAX_HEADER) /* no reader would take it: refused, not written */
        tp_die("%s: the header would be %zu bytes, more than the format's %u (metadata too long)",
               tp_out_name(&w->out), hl, TP_MAX_HEADER);
    char *c = strstr(hb, "\ncount ");
    TP_ASSERT(c);
    w->count_off = (size_t)(c + 1 - hb);
    tp_out_write(&w->out, hb, hl);
    free(hb);
}

tp_writer *tp_writer_open(const char *path, const tp_header *h)
{
    TP_ASSERT(h->nfields > 0 && h->record_size > 0);
    tp_writer *w = tp_calloc(1, sizeof *w);
    tp_out_open(&w->out, path);
    tp_header_copy(&w->h, h);
    w->record_size = h->record_size;
    write_header(w, h->count);
    return w;
}

void tp_writer_write(tp_writer *w, const void *recs, int64_t n)
{
    TP_ASSERT(n >= 0);
    const char *p = recs;
    while (n > 0) {
        int64_t k = n;
        if (w->promised >= 0) {
            if (w->seg_written == w->promised) /* more than promised (a filter fed concatenated
                                                  input): go on in a new segment, as the format allows */
                write_header(w, -1);
            else if (k > w->promised - w->seg_written)
                k = w->promised - w->seg_written;
        }
        size_t bytes;
        TP_ASSERT(tp_mul_ok((size_t)k, w->record_size, &bytes) == 0);
        tp_out_write(&w->out, p, bytes);
        p += bytes;
        n -= k;
        w->written += k;
        w->seg_written += k;
    }
}

int64_t tp_writer_count(const tp_writer *w) { return w->written; }

void tp_writer_close(tp_writer *w)
{
    if (w->promised >= 0 && w->seg_written != w->promised)
        tp_die("%s: internal error: %lld records promised, %lld written", tp_out_name(&w->out),
               (long long)w->promised, (long long)w->seg_written);
    if (w->promised < 0 && w->header_start >= 0) {
        char line[COUNT_WIDTH + 1];
        snprintf(line, sizeof line, "count %-*lld", COUNT_WIDTH - 6, (long long)w->seg_written);
        tp_out_rewrite(&w->out, line, COUNT_WIDTH, w->header_start + (long long)w->count_off);
    }
    tp_out_close(&w->out);
    tp_header_free(&w->h);
    free(w);
}
