/* tp2csv — a tpipe stream as CSV text, one row per record, one column per element. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dtype.h"
#include "outfile.h"
#include "stream.h"
#include "util.h"

typedef struct {
    const char *out, *fields, *sep, *text, *in;
    int no_header;
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.out = "-", .sep = ","};
    const tp_option opts[] = {
        TP_STRING("output", 'o', &o->out, "FILE", "write the CSV to FILE"),
        TP_STRING("fields", 'f', &o->fields, "LIST", "comma-separated fields to write (default: all)"),
        TP_STRING("sep", 's', &o->sep, "TEXT", "column separator"),
        TP_FLAG("no-header", 0, &o->no_header, "leave out the row of column names"),
        TP_STRING("text", 0, &o->text, "LIST", "u8 fields to write as one text column (up to the first zero byte), e.g. name"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] [FILE]",
        "Writes a tpipe stream as CSV: a row of column names, then one row per record. A field\n"
        "with one element gives one column named after it; a larger field gives one column per\n"
        "element in row-major order, named NAME_0, NAME_1, ... Floats are written with enough\n"
        "digits to read back exactly.",
        opts,
        "Examples:\n"
        "  tp2csv --fields y,pred < predictions.tp > predictions.csv\n"
        "  Rscript -e 'd <- read.csv(\"file.csv\"); table(d$y)'",
        0, 1,
    };
    o->in = tp_cli_parse_input(&cli, argc, argv);
}

/* Formats element i of a field so that reading it back gives the same value. */
static int format_elem(char *buf, size_t n, const void *p, tp_dtype d, size_t i)
{
    double v = tp_elem_as_double(p, d, i);
    switch (d) {
    case TP_F16: return snprintf(buf, n, "%.5g", v);
    case TP_F32: return snprintf(buf, n, "%.9g", v);
    case TP_F64: return snprintf(buf, n, "%.17g", v);
    case TP_I64: {
        int64_t x;
        memcpy(&x, (const char *)p + i * 8, 8);
        return snprintf(buf, n, "%lld", (long long)x);
    }
    default: return snprintf(buf, n, "%.0f", v);
    }
}

/* The fields to write, by index into sel (--fields in its order, else all); how many. */
static int select_fields(const options *o, tp_reader *r, int *sel)
{
    const tp_header *h = tp_reader_header(r);
    int nsel = 0;
    if (!o->fields) {
        for (int i = 0; i < h->nfields; i++)
            sel[nsel++] = i;
        return nsel;
    }
    char *list = tp_strdup(o->fields), *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int i = tp_header_find(h, t);
        if (i < 0)
            tp_die("%s: no field '%s'", tp_reader_name(r), t);
        if (nsel == h->nfields)
            tp_usage("--fields names a field twice");
        sel[nsel++] = i;
    }
    free(list);
    return nsel;
}

/* The fields written as text (a u8 vector holding a zero-padded string): is_text[i] = 1. */
static void text_fields(const options *o, tp_reader *r, char *is_text)
{
    const tp_header *h = tp_reader_header(r);
    if (!o->text)
        return;
    char *list = tp_strdup(o->text), *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int i = tp_header_find(h, t);
        if (i < 0 || h->fields[i].dtype != TP_U8)
            tp_die("%s: --text needs a u8 field, and '%s' is not one", tp_reader_name(r), t);
        is_text[i] = 1;
    }
    free(list);
}

/* The row of column names. */
static void write_names(const options *o, const tp_header *h, const int *sel, int nsel, const char *is_text,
                        tp_outfile *out)
{
    char buf[64];
    size_t seplen = strlen(o->sep);
    int first = 1;
    for (int s = 0; s < nsel; s++) {
        const tp_field *f = &h->fields[sel[s]];
        for (size_t e = 0; e < (is_text[sel[s]] ? 1 : f->nelem); e++, first = 0) {
            int n = f->rank == 0 || is_text[sel[s]] ? snprintf(buf, sizeof buf, "%s", f->name)
                                 : snprintf(buf, sizeof buf, "%s_%zu", f->name, e);
            if (!first)
                tp_out_write(out, o->sep, seplen);
            tp_out_write(out, buf, (size_t)n);
        }
    }
    tp_out_write(out, "\n", 1);
}

/* A text column: the field's string up to its first zero byte, quoted as CSV quotes when it
 * holds the separator, a quote or a newline. */
static void write_text(const char *sep, const tp_field *f, const unsigned char *rec, tp_outfile *out)
{
    const char *t = (const char *)rec + f->offset;
    size_t n = strnlen(t, f->nelem), seplen = strlen(sep);
    int quote = memchr(t, '"', n) || memchr(t, '\n', n) || (seplen && memmem(t, n, sep, seplen));
    if (quote)
        tp_out_write(out, "\"", 1);
    for (size_t c = 0; c < n; c++) {
        if (t[c] == '"')
            tp_out_write(out, "\"", 1);
        tp_out_write(out, t + c, 1);
    }
    if (quote)
        tp_out_write(out, "\"", 1);
}

/* The row of record rec. */
static void write_row(const options *o, const tp_header *h, const int *sel, int nsel, const char *is_text,
                      const unsigned char *rec, tp_outfile *out)
{
    char buf[64];
    size_t seplen = strlen(o->sep);
    int first = 1;
    for (int s = 0; s < nsel; s++) {
        const tp_field *f = &h->fields[sel[s]];
        if (is_text[sel[s]]) {
            if (!first)
                tp_out_write(out, o->sep, seplen);
            first = 0;
            write_text(o->sep, f, rec, out);
            continue;
        }
        for (size_t e = 0; e < f->nelem; e++, first = 0) {
            if (!first)
                tp_out_write(out, o->sep, seplen);
            int n = format_elem(buf, sizeof buf, rec + f->offset, f->dtype, e);
            tp_out_write(out, buf, (size_t)n);
        }
    }
    tp_out_write(out, "\n", 1);
}

static int run(const options *o)
{
    tp_reader *r = tp_open_or_die(o->in);
    const tp_header *h = tp_reader_header(r);
    int *sel = tp_alloc((size_t)h->nfields, sizeof *sel);
    int nsel = select_fields(o, r, sel);
    char *is_text = tp_calloc((size_t)h->nfields, 1);
    text_fields(o, r, is_text);
    tp_outfile out;
    tp_out_open(&out, o->out);
    if (!o->no_header)
        write_names(o, h, sel, nsel, is_text, &out);
    const unsigned char *rec;
    while ((rec = tp_next_or_die(r)))
        write_row(o, h, sel, nsel, is_text, rec, &out);
    tp_out_close(&out);
    tp_reader_close(r);
    free(sel);
    free(is_text);
    return 0;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    options o;
    parse(argc, argv, &o);
    return run(&o);
}
