/* augment — Keras-style random geometric augmentation of the images of a stream. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "cli.h"
#include "image.h"
#include "parallel.h"
#include "progress.h"
#include "records.h"
#include "rng.h"
#include "dtype.h"
#include "stream.h"
#include "util.h"

#define BATCH 64

typedef struct {
    const tp_augment *aug;
    const tp_header *in, *out;
    const tp_field *fi, *fo;
    int h, w, c;
    int64_t copies;
    tp_rng epoch;            /* this epoch's generator */
    const int64_t *index;    /* input index of each record in the batch */
    const unsigned char *src;
    unsigned char *dst;
    float **scratch; /* per thread: input and output image */
} job;

/* Output item i of the batch: copy i % copies of batch record i / copies. */
static void one(void *ctx, int64_t i, int t)
{
    job *j = ctx;
    int64_t b = i / j->copies, k = i % j->copies;
    const unsigned char *rin = j->src + (size_t)b * j->in->record_size;
    unsigned char *rout = j->dst + (size_t)i * j->out->record_size;
    tp_copy_fields(j->in, rin, j->out, rout);
    size_t n = (size_t)j->h * (size_t)j->w * (size_t)j->c;
    float *a = j->scratch[t], *o = a + n;
    const void *x = rin + j->fi->offset;
    tp_to_float(x, j->fi->dtype, n, 1, a);
    tp_rng r = tp_rng_split(&j->epoch, (uint64_t)(j->index[b] * j->copies + k));
    tp_augment_draw d;
    double m[6];
    tp_augment_sample(j->aug, &r, j->h, j->w, &d);
    tp_augment_matrix(j->aug, &d, j->h, j->w, m);
    tp_augment_warp(j->aug, &d, m, a, o, j->h, j->w, j->c);
    if (j->fo->dtype == TP_U8)
        tp_float_to_u8(o, rout + j->fo->offset, n);
    else
        memcpy(rout + j->fo->offset, o, n * sizeof *o);
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    tp_augment_cli ac;
    const char *out = "-", *field = "x";
    int to_float = 0, shuffle = 0;
    int64_t copies = 1, epochs = 1, seed = 42, threads = tp_cpu_count();
    tp_option opts[TP_AUGMENT_NOPTS + 9] = {
        TP_INT("copies", 'k', &copies, "K", "write K augmented variants of each record"),
        TP_INT("epochs", 'e', &epochs, "E", "pass over the input E times with fresh draws (0: without end)"),
        TP_FLAG("shuffle", 0, &shuffle, "a fresh random order in every pass"),
        TP_INT("seed", 's', &seed, "N", "random seed"),
        TP_FLAG("float", 0, &to_float, "write f32 pixels instead of rounding u8 input back to u8"),
        TP_STRING("field", 'f', &field, "NAME", "the image field"),
        TP_INT("threads", 't', &threads, "N", "worker threads"),
        TP_STRING("output", 'o', &out, "FILE", "write the stream to FILE"),
    };
    tp_augment_cli_init(&ac, opts + 8);
    tp_augment *a_ptr = &ac.a;
    const tp_cli cli = {
        "[OPTIONS] [FILE]",
        "Applies random rotations, shifts, shears, zooms and flips to every image, with the\n"
        "meanings of Keras' ImageDataGenerator, as one affine warp about the centre with\n"
        "bilinear sampling; other fields pass through. The same seed gives the same images.\n"
        "Unlike Keras, --height-shift moves rows and --width-shift columns (Keras swaps them;\n"
        "--keras-axes does as Keras). --epochs with --shuffle re-reads the input in a new order\n"
        "each pass, so a trainer can read an endless augmented stream that is never stored.",
        opts,
        "Example (the JPEG notebook's generator, without its flip that hurts digits):\n"
        "  augment --rotation 40 --width-shift 0.2 --height-shift 0.2 --shear 0.2 --zoom 0.2 < train.tp",
        0, 1,
    };
    char **args;
    int nargs = tp_cli_parse(&cli, argc, argv, &args);
    tp_augment_cli_finish(&ac);
    const tp_augment a = *a_ptr;
    if (copies < 1 || copies > 1000000)
        tp_usage("--copies must be 1 to 1000000");
    if (epochs < 0)
        tp_usage("--epochs must be >= 0");
    if (threads < 1 || threads > 1024)
        tp_usage("--threads must be 1 to 1024");

    const char *path = nargs ? args[0] : "-";
    int streaming = epochs == 1 && !shuffle;
    tp_reader *r = NULL;
    tp_records *rs = NULL;
    const tp_header *in;
    if (streaming) {
        r = tp_open_or_die(path);
        in = tp_reader_header(r);
    } else {
        rs = tp_records_open(path);
        in = tp_records_header(rs);
    }
    const char *name = streaming ? tp_reader_name(r) : tp_records_name(rs);
    int xi = tp_header_find(in, field);
    if (xi < 0)
        tp_die("%s: no field '%s' to augment", name, field);
    const tp_field *fi = &in->fields[xi];
    if (fi->rank != 2 && fi->rank != 3)
        tp_die("%s: field '%s' is %s with rank %d, not an image (H x W or H x W x C)", name, field,
               tp_dtype_name(fi->dtype), fi->rank);
    if (fi->shape[0] > 32768 || fi->shape[1] > 32768)
        tp_die("%s: images of %lldx%lld are too large", name, (long long)fi->shape[0], (long long)fi->shape[1]);
    if (rs)
        tp_records_scan(rs, NULL, NULL);
    int64_t n = rs ? tp_records_count(rs) : in->count;

    job j;
    memset(&j, 0, sizeof j);
    j.aug = &a;
    j.h = (int)fi->shape[0];
    j.w = (int)fi->shape[1];
    j.c = fi->rank == 3 ? (int)fi->shape[2] : 1;
    j.copies = copies;
    tp_header h;
    tp_header_copy(&h, in);
    int64_t shape[3] = {j.h, j.w, j.c};
    char err[256];
    if (tp_header_replace_field(&h, xi, fi->dtype == TP_U8 && !to_float ? TP_U8 : TP_F32, 3, shape, err, sizeof err))
        tp_die("%s: %s", name, err);
    int64_t total;
    h.count = epochs == 0 || n < 0 || __builtin_mul_overflow(n, epochs * copies, &total) ? -1 : total;
    j.in = in;
    j.out = &h;
    j.fi = fi;
    j.fo = &h.fields[xi];
    size_t npix = (size_t)j.h * (size_t)j.w * (size_t)j.c;
    j.scratch = tp_alloc((size_t)threads, sizeof *j.scratch);
    for (int t = 0; t < threads; t++)
        j.scratch[t] = tp_alloc(2 * npix, sizeof(float));
    unsigned char *src = tp_alloc(BATCH, in->record_size), *dst = tp_calloc((size_t)(BATCH * copies), h.record_size);
    int64_t *index = tp_alloc(BATCH, sizeof *index), *order = NULL;
    j.src = src;
    j.dst = dst;
    j.index = index;

    tp_rng root;
    tp_rng_seed(&root, (uint64_t)seed);
    tp_writer *w = tp_writer_open(out, &h);
    tp_progress pr;
    tp_progress_start(&pr, "augment", h.count, "images");
    int64_t written = 0;
    for (int64_t e = 0; epochs == 0 || e < epochs; e++) {
        j.epoch = tp_rng_split(&root, (uint64_t)e);
        if (rs) {
            if (!order)
                order = tp_alloc((size_t)n + 1, sizeof *order);
            for (int64_t i = 0; i < n; i++)
                order[i] = i;
            if (shuffle) {
                tp_rng sr = tp_rng_split(&root, 0x53485546ull << 32 | (uint64_t)e); /* "SHUF", epoch */
                tp_rng_shuffle(&sr, order, n);
            }
        }
        for (int64_t b = 0;; b += BATCH) {
            int64_t k;
            if (rs) {
                k = n - b < BATCH ? n - b : BATCH;
                if (k <= 0)
                    break;
                memcpy(index, order + b, (size_t)k * sizeof *index);
                tp_records_get(rs, index, k, src);
            } else {
                k = tp_reader_read(r, src, BATCH);
                if (k < 0)
                    tp_die("%s: %s", name, tp_reader_error(r));
                if (k == 0)
                    break;
                for (int64_t i = 0; i < k; i++)
                    index[i] = b + i;
            }
            tp_parallel_for(k * copies, (int)threads, one, &j);
            tp_writer_write(w, dst, k * copies);
            written += k * copies;
            tp_progress_update(&pr, written);
        }
        if (rs && n == 0)
            break; /* nothing to repeat, even "without end" */
    }
    tp_writer_close(w);
    tp_progress_end(&pr, written);
    for (int t = 0; t < threads; t++)
        free(j.scratch[t]);
    free(j.scratch);
    free(src);
    free(dst);
    free(index);
    free(order);
    tp_header_free(&h);
    tp_reader_close(r);
    tp_records_close(rs);
    free(args);
    return 0;
}
