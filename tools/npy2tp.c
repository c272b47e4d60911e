/* npy2tp — NumPy .npy files to a tpipe stream. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "npy.h"
#include "stream.h"
#include "util.h"

/* One input: a file, and the field name its plain array takes (NAME=FILE, else --field). */
typedef struct {
    const char *path;
    char name[TP_MAX_NAME + 1];
    int named; /* given as NAME=FILE */
} source;

typedef struct {
    const char *out, *field, *meta;
    source *src;
    int nsrc;
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.out = "-", .field = "x"};
    const tp_option opts[] = {
        TP_STRING("output", 'o', &o->out, "FILE", "write the stream to FILE"),
        TP_STRING("field", 'f', &o->field, "NAME", "field name for a plain (non-structured) array"),
        TP_STRING("meta", 'm', &o->meta, "FILE", "metadata lines to put in the header (from tp2npy --meta)"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] [FILE | NAME=FILE ...]",
        "Turns .npy files into a tpipe stream. A structured array gives one field per column; a\n"
        "plain array of shape (N, ...) gives one field (--field) with N records. Several\n"
        "NAME=FILE arguments are joined column by column into one record each row (their\n"
        "first dimensions must agree). Big-endian data is converted; Fortran order is refused.",
        opts,
        "Examples:\n"
        "  npy2tp train.npy > train.tp\n"
        "  python3 -c 'import numpy as np; np.save(\"y.npy\", labels.astype(np.int32))'\n"
        "  npy2tp x=images.npy y=y.npy | tinfo",
        0, -1,
    };
    char **args;
    int nargs = tp_cli_parse(&cli, argc, argv, &args);
    o->nsrc = nargs ? nargs : 1;
    o->src = tp_calloc((size_t)o->nsrc, sizeof *o->src);
    for (int i = 0; i < o->nsrc; i++)
        o->src[i].path = nargs ? args[i] : "-";
    free(args);
    for (int i = 0; i < o->nsrc; i++) { /* NAME=FILE into the name and the file */
        source *s = &o->src[i];
        const char *a = s->path, *eq = strchr(a, '=');
        if (o->nsrc > 1 && !eq)
            tp_usage("with several inputs each must be NAME=FILE ('%s' is not)", a);
        snprintf(s->name, sizeof s->name, "%s", o->field);
        if (eq) {
            size_t n = (size_t)(eq - a);
            if (n == 0 || n > TP_MAX_NAME)
                tp_usage("bad field name in '%s'", a);
            memcpy(s->name, a, n);
            s->name[n] = 0;
            s->path = eq + 1;
            s->named = 1;
        }
    }
}

typedef struct {
    const char *path;
    int fd;
    tp_npy_info info;
    size_t row;           /* bytes per row */
    unsigned char *pending; /* bytes read past the header */
    size_t npending;
} input;

/* Opens one input and reads its header; plain arrays become a field called name. */
static void open_input(input *in, const char *path, const char *name)
{
    in->path = path;
    in->fd = 0;
    if (strcmp(path, "-") != 0 && (in->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        tp_die("%s: %s", path, strerror(errno));
    const char *shown = in->fd ? path : "stdin";
    size_t cap = 4096, len = 0;
    unsigned char *buf = tp_alloc(cap, 1);
    char err[300];
    tp_header_init(&in->info.h);
    for (;;) {
        int rc = tp_npy_parse((const char *)buf, len, name, &in->info, err, sizeof err);
        if (rc < 0)
            tp_die("%s: %s", shown, err);
        if (rc == 0)
            break;
        if (len == cap)
            buf = tp_realloc(buf, cap *= 2, 1);
        long long got = tp_read_full(in->fd, buf + len, cap - len);
        if (got < 0)
            tp_die("%s: read error: %s", shown, strerror(errno));
        if (got == 0)
            tp_die("%s: %s", shown, len ? "truncated .npy header" : "empty input");
        len += (size_t)got;
    }
    in->row = in->info.h.record_size;
    struct stat st;
    if (in->fd && fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode)) {
        /* a file's size tells at once whether it holds the rows its header promises */
        unsigned __int128 want = (unsigned __int128)in->info.count * in->row + in->info.data_offset;
        if ((unsigned __int128)st.st_size < want)
            tp_die("%s: truncated: the header promises %lld rows, the data ends at row %lld", shown,
                   (long long)in->info.count,
                   (long long)(((unsigned long long)st.st_size - in->info.data_offset) / in->row));
    }
    in->npending = len - in->info.data_offset;
    in->pending = tp_alloc(in->npending, 1);
    memcpy(in->pending, buf + in->info.data_offset, in->npending);
    free(buf);
}

/* Reads rows [done, done + k) of in into *tmpp (of *cap bytes), in native byte order. The
 * buffer grows by doubling as the bytes arrive: a header's claim of huge rows costs memory
 * only as far as the input backs it. */
static unsigned char *reserve(unsigned char **buf, size_t *cap, size_t need)
{
    if (*cap < need)
        *buf = tp_realloc(*buf, *cap = need, 1);
    return *buf;
}

static void read_rows(input *in, unsigned char **tmpp, size_t *cap, int64_t k, int64_t done)
{
    size_t want = (size_t)k * in->row, start = want < ((size_t)1 << 20) ? want : ((size_t)1 << 20);
    size_t have = in->npending < want ? in->npending : want; /* bytes read with the header */
    unsigned char *tmp = reserve(tmpp, cap, start > have ? start : have);
    if (have) {
        memcpy(tmp, in->pending, have);
        memmove(in->pending, in->pending + have, in->npending - have);
        in->npending -= have;
    }
    while (have < want) {
        if (have == *cap)
            tmp = reserve(tmpp, cap, *cap * 2 < want ? *cap * 2 : want);
        size_t upto = *cap < want ? *cap : want; /* never past this batch's rows */
        long long got = tp_read_full(in->fd, tmp + have, upto - have);
        if (got < 0)
            tp_die("%s: read error: %s", in->path, strerror(errno));
        have += (size_t)got;
        if (have < upto)
            tp_die("%s: truncated: the header promises %lld rows, the data ends at row %lld", in->path,
                   (long long)in->info.count, (long long)(done + (int64_t)(have / in->row)));
    }
    const tp_header *h = &in->info.h;
    for (int64_t i = 0; i < k; i++) {
        unsigned char *row = tmp + (size_t)i * in->row;
        for (int f = 0; f < h->nfields; f++)
            if (in->info.swap[f])
                tp_swap_bytes(row + h->fields[f].offset, h->fields[f].nelem, tp_dtype_size(h->fields[f].dtype));
    }
}

static void check_end(input *in)
{
    char c;
    if (in->npending || tp_read_full(in->fd, &c, 1) > 0)
        tp_die("%s: data follows the %lld rows the header promises", in->path, (long long)in->info.count);
}

/* Reads "meta KEY VALUE" lines (what tp2npy --meta writes) into h. */
static void read_meta(const char *path, tp_header *h)
{
    FILE *f = fopen(path, "r");
    if (!f)
        tp_die("%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    size_t total = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if ((total += (size_t)n) > tp_max_text_bytes()) {
            char err[512];
            tp_text_too_large(err, sizeof err, path);
            tp_die("%s", err);
        }
        if (n && line[n - 1] == '\n')
            line[--n] = 0;
        if (n == 0 || line[0] == '#')
            continue;
        char err[256];
        if (tp_header_parse_meta(h, line, (size_t)n, err, sizeof err))
            tp_die("%s: line %d: %s", path, lineno, err);
    }
    free(line);
    fclose(f);
}

/* The inputs opened, their headers read, their fields joined into h (count included). */
static input *open_inputs(const options *o, tp_header *h)
{
    input *in = tp_calloc((size_t)o->nsrc, sizeof *in);
    tp_header_init(h);
    for (int i = 0; i < o->nsrc; i++) {
        const source *s = &o->src[i];
        open_input(&in[i], s->path, s->name);
        const tp_header *ih = &in[i].info.h;
        if (s->named && ih->nfields != 1)
            tp_die("%s: NAME=FILE wants a plain array, not a structured one", s->path);
        if (i && in[i].info.count != in[0].info.count)
            tp_die("%s: %lld rows, but %s has %lld", s->path, (long long)in[i].info.count, in[0].path,
                   (long long)in[0].info.count);
        for (int f = 0; f < ih->nfields; f++) {
            const tp_field *fd = &ih->fields[f];
            char err[256];
            if (tp_header_add_field(h, s->named ? s->name : fd->name, fd->dtype, fd->rank, fd->shape, err, sizeof err) < 0)
                tp_die("%s: %s", s->path, err);
        }
    }
    if (o->meta)
        read_meta(o->meta, h);
    h->count = in[0].info.count;
    return in;
}

/* The rows of all inputs, joined side by side, as h's records to --output. */
static void write_rows(const options *o, input *in, const tp_header *h)
{
    int64_t count = h->count;
    int64_t per = h->record_size >= (1u << 20) ? 1 : (int64_t)((1u << 20) / h->record_size);
    unsigned char *recs = NULL, *tmp = NULL; /* recs: after the first rows have come */
    size_t tcap = 0;
    tp_writer *w = tp_writer_open(o->out, h);
    for (int64_t done = 0; done < count;) {
        int64_t k = count - done < per ? count - done : per;
        size_t off = 0;
        for (int i = 0; i < o->nsrc; i++) {
            read_rows(&in[i], &tmp, &tcap, k, done);
            if (!recs) /* once the first rows have come */
                recs = tp_alloc((size_t)per, h->record_size);
            for (int64_t r = 0; r < k; r++)
                memcpy(recs + (size_t)r * h->record_size + off, tmp + (size_t)r * in[i].row, in[i].row);
            off += in[i].row;
        }
        tp_writer_write(w, recs, k);
        done += k;
    }
    for (int i = 0; i < o->nsrc; i++)
        check_end(&in[i]);
    tp_writer_close(w);
    free(recs);
    free(tmp);
}

static int run(const options *o)
{
    tp_header h;
    input *in = open_inputs(o, &h);
    write_rows(o, in, &h);
    for (int i = 0; i < o->nsrc; i++) {
        if (in[i].fd > 0)
            close(in[i].fd);
        free(in[i].pending);
        tp_npy_info_free(&in[i].info);
    }
    free(in);
    free(o->src);
    tp_header_free(&h);
    return 0;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    options o;
    parse(argc, argv, &o);
    return run(&o);
}
