/* tp2npy — a tpipe stream to a NumPy .npy file (all fields as a structured array, or one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "npy.h"
#include "outfile.h"
#include "stream.h"
#include "util.h"

/* Writes the stream's metadata as header lines ("meta KEY VALUE") to path. */
static void write_meta(const char *path, const tp_header *h)
{
    tp_outfile o;
    tp_out_open(&o, path);
    size_t n;
    char *text = tp_header_meta_text(h, &n);
    tp_out_write(&o, text, n);
    free(text);
    tp_out_close(&o);
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    const char *out = "-", *field = NULL, *meta = NULL;
    const tp_option opts[] = {
        TP_STRING("output", 'o', &out, "FILE", "write the .npy to FILE"),
        TP_STRING("field", 'f', &field, "NAME", "write only this field, as a plain array (N, *shape)"),
        TP_STRING("meta", 'm', &meta, "FILE", "also write the stream's metadata to FILE (npy2tp --meta reads it)"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] [FILE]",
        "Writes a tpipe stream as a NumPy .npy file. Without --field the result is a structured\n"
        "array with one named column per field, whose bytes are exactly the stream's records:\n"
        "np.load(f)['x'] gives the images, ['y'] the labels. .npy holds no metadata: --meta\n"
        "keeps it beside the file so that npy2tp can restore the stream byte for byte.",
        opts,
        "Examples:\n"
        "  idx2raw train-images-idx3-ubyte train-labels-idx1-ubyte | tp2npy -o train.npy\n"
        "  tp2npy --field x < train.tp > x.npy",
        0, 1,
    };
    char **args;
    int nargs = tp_cli_parse(&cli, argc, argv, &args);
    tp_reader *r = tp_open_or_die(nargs ? args[0] : "-");
    const tp_header *h = tp_reader_header(r);
    int fi = -1;
    if (field && (fi = tp_header_find(h, field)) < 0)
        tp_die("%s: no field '%s'", tp_reader_name(r), field);
    size_t off = fi >= 0 ? h->fields[fi].offset : 0, bytes = fi >= 0 ? h->fields[fi].nbytes : h->record_size;

    tp_outfile o;
    tp_out_open(&o, out);
    long long start = tp_out_tell(&o); /* -1: a pipe, the header cannot be rewritten */
    int64_t promised = h->count;
    if (start < 0 && promised < 0)
        tp_die("%s: the record count is unknown and %s cannot be rewritten: write to a file with -o",
               tp_reader_name(r), tp_out_name(&o));
    size_t hl;
    char *hb = tp_npy_header(h, fi, promised < 0 ? 0 : promised, 0, &hl);
    tp_out_write(&o, hb, hl);
    free(hb);

    int64_t n = 0;
    const unsigned char *rec;
    while ((rec = tp_next_or_die(r))) {
        if (n == promised && start < 0)
            tp_die("%s: more records than the first header promised (concatenated streams?): write to a file with -o",
                   tp_reader_name(r));
        tp_out_write(&o, rec + off, bytes);
        n++;
    }
    if (n != promised) { /* same length: the spare padding absorbs the longer count */
        char *fix = tp_npy_header(h, fi, n, hl, &hl);
        tp_out_rewrite(&o, fix, hl, start);
        free(fix);
    }
    tp_out_close(&o);
    if (meta)
        write_meta(meta, h);
    tp_reader_close(r);
    free(args);
    return 0;
}
