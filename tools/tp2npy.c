/* tp2npy — a tpipe stream to a NumPy .npy file (all fields as a structured array, or one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "npy.h"
#include "outfile.h"
#include "stream.h"
#include "util.h"

typedef struct {
    const char *out, *field, *meta, *in;
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.out = "-"};
    const tp_option opts[] = {
        TP_STRING("output", 'o', &o->out, "FILE", "write the .npy to FILE"),
        TP_STRING("field", 'f', &o->field, "NAME", "write only this field, as a plain array (N, *shape)"),
        TP_STRING("meta", 'm', &o->meta, "FILE", "also write the stream's metadata to FILE (npy2tp --meta reads it)"),
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
    o->in = tp_cli_parse_input(&cli, argc, argv);
}

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

/* The records of r (field fi of each, or the whole record when fi < 0) to o as one .npy
 * array; a count the header did not know, or got wrong, is patched in where o is a file. */
static void write_array(tp_reader *r, int fi, tp_outfile *o)
{
    const tp_header *h = tp_reader_header(r);
    size_t off = fi >= 0 ? h->fields[fi].offset : 0, bytes = fi >= 0 ? h->fields[fi].nbytes : h->record_size;
    long long start = tp_out_tell(o); /* -1: a pipe, the header cannot be rewritten */
    int64_t promised = h->count;
    if (start < 0 && promised < 0)
        tp_die("%s: the record count is unknown and %s cannot be rewritten: write to a file with -o",
               tp_reader_name(r), tp_out_name(o));
    size_t hl;
    char *hb = tp_npy_header(h, fi, promised < 0 ? 0 : promised, 0, &hl);
    tp_out_write(o, hb, hl);
    free(hb);
    int64_t n = 0;
    const unsigned char *rec;
    while ((rec = tp_next_or_die(r))) {
        if (n == promised && start < 0)
            tp_die("%s: more records than the first header promised (concatenated streams?): write to a file with -o",
                   tp_reader_name(r));
        tp_out_write(o, rec + off, bytes);
        n++;
    }
    if (n != promised) { /* same length: the spare padding absorbs the longer count */
        char *fix = tp_npy_header(h, fi, n, hl, &hl);
        tp_out_rewrite(o, fix, hl, start);
        free(fix);
    }
}

static int run(const options *o)
{
    tp_reader *r = tp_open_or_die(o->in);
    const tp_header *h = tp_reader_header(r);
    int fi = o->field ? tp_field_or_die(h, tp_reader_name(r), o->field) : -1;
    tp_outfile out;
    tp_out_open(&out, o->out);
    write_array(r, fi, &out);
    tp_out_close(&out);
    if (o->meta)
        write_meta(o->meta, h);
    tp_reader_close(r);
    return 0;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    options o;
    parse(argc, argv, &o);
    return run(&o);
}
