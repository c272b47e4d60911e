/* tp2csv — a tpipe stream as CSV text, one row per record, one column per element. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "outfile.h"
#include "dtype.h"
#include "stream.h"
#include "util.h"

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

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    const char *out = "-", *fields = NULL, *sep = ",", *text = NULL;
    int no_header = 0;
    const tp_option opts[] = {
        TP_STRING("output", 'o', &out, "FILE", "write the CSV to FILE"),
        TP_STRING("fields", 'f', &fields, "LIST", "comma-separated fields to write (default: all)"),
        TP_STRING("sep", 's', &sep, "TEXT", "column separator"),
        TP_FLAG("no-header", 0, &no_header, "leave out the row of column names"),
        TP_STRING("text", 0, &text, "LIST", "u8 fields to write as one text column (up to the first zero byte), e.g. name"),
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
    char **args;
    int nargs = tp_cli_parse(&cli, argc, argv, &args);
    tp_reader *r = tp_open_or_die(nargs ? args[0] : "-");
    const tp_header *h = tp_reader_header(r);

    int *sel = tp_alloc((size_t)h->nfields, sizeof *sel), nsel = 0;
    if (fields) {
        char *list = tp_strdup(fields), *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int i = tp_header_find(h, t);
            if (i < 0)
                tp_die("%s: no field '%s'", tp_reader_name(r), t);
            if (nsel == h->nfields)
                tp_usage("--fields names a field twice");
            sel[nsel++] = i;
        }
        free(list);
    } else {
        for (int i = 0; i < h->nfields; i++)
            sel[nsel++] = i;
    }
    /* fields written as text: a u8 vector holding a zero-padded string */
    char *is_text = tp_calloc((size_t)h->nfields, 1);
    if (text) {
        char *list = tp_strdup(text), *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int i = tp_header_find(h, t);
            if (i < 0 || h->fields[i].dtype != TP_U8)
                tp_die("%s: --text needs a u8 field, and '%s' is not one", tp_reader_name(r), t);
            is_text[i] = 1;
        }
        free(list);
    }
    size_t seplen = strlen(sep);
    tp_outfile o;
    tp_out_open(&o, out);
    char buf[64];
    if (!no_header) {
        int first = 1;
        for (int s = 0; s < nsel; s++) {
            const tp_field *f = &h->fields[sel[s]];
            for (size_t e = 0; e < (is_text[sel[s]] ? 1 : f->nelem); e++, first = 0) {
                int n = f->rank == 0 || is_text[sel[s]] ? snprintf(buf, sizeof buf, "%s", f->name)
                                     : snprintf(buf, sizeof buf, "%s_%zu", f->name, e);
                if (!first)
                    tp_out_write(&o, sep, seplen);
                tp_out_write(&o, buf, (size_t)n);
            }
        }
        tp_out_write(&o, "\n", 1);
    }
    const unsigned char *rec;
    while ((rec = tp_next_or_die(r))) {
        int first = 1;
        for (int s = 0; s < nsel; s++) {
            const tp_field *f = &h->fields[sel[s]];
            if (is_text[sel[s]]) { /* CSV quoting when the text holds the separator, a quote or a newline */
                const char *t = (const char *)rec + f->offset;
                size_t n = strnlen(t, f->nelem);
                if (!first)
                    tp_out_write(&o, sep, seplen);
                first = 0;
                int quote = memchr(t, '"', n) || memchr(t, '\n', n) || (seplen && memmem(t, n, sep, seplen));
                if (quote)
                    tp_out_write(&o, "\"", 1);
                for (size_t c = 0; c < n; c++) {
                    if (t[c] == '"')
                        tp_out_write(&o, "\"", 1);
                    tp_out_write(&o, t + c, 1);
                }
                if (quote)
                    tp_out_write(&o, "\"", 1);
                continue;
            }
            for (size_t e = 0; e < f->nelem; e++, first = 0) {
                if (!first)
                    tp_out_write(&o, sep, seplen);
                int n = format_elem(buf, sizeof buf, rec + f->offset, f->dtype, e);
                tp_out_write(&o, buf, (size_t)n);
            }
        }
        tp_out_write(&o, "\n", 1);
    }
    tp_out_close(&o);
    tp_reader_close(r);
    free(sel);
    free(is_text);
    free(args);
    return 0;
}
