/* augment — Keras-style random geometric augmentation of the images of a stream. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "cli.h"
#include "dtype.h"
#include "image.h"
#include "parallel.h"
#include "progress.h"
#include "records.h"
#include "rng.h"
#include "stream.h"
#include "util.h"

#define BATCH 64

typedef struct {
    const char *out, *field, *in;
    int to_float, shuffle;
    int64_t copies, epochs, seed, threads;
    tp_augment_cli aug;
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.out = "-", .field = "x", .copies = 1, .epochs = 1, .seed = 42, .threads = tp_cpu_count()};
    tp_option opts[9 + TP_AUGMENT_NOPTS] = {
        TP_INT("copies", 'k', &o->copies, "K", "write K augmented variants of each record", TP_RANGE(1, 1000000)),
        TP_INT("epochs", 'e', &o->epochs, "E", "pass over the input E times with fresh draws (0: without end)", TP_MIN(0)),
        TP_FLAG("shuffle", 0, &o->shuffle, "a fresh random order in every pass"),
        TP_INT("seed", 's', &o->seed, "N", "random seed"),
        TP_FLAG("float", 0, &o->to_float, "write f32 pixels instead of rounding u8 input back to u8"),
        TP_STRING("field", 'f', &o->field, "NAME", "the image field"),
        TP_OPT_THREADS(&o->threads, "worker threads"),
        TP_STRING("output", 'o', &o->out, "FILE", "write the stream to FILE"),
    };
    tp_augment_cli_init(&o->aug, opts + 8);
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
    o->in = tp_cli_parse_input(&cli, argc, argv);
    tp_augment_cli_finish(&o->aug);
}

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

/* The input: read as it comes (*r) for one pass in order, else with random access (*rs),
 * scanned; its header, name and record count (-1: unknown) come back. */
typedef struct {
    tp_reader *r;
    tp_records *rs;
    const tp_header *h;
    const char *name;
    int64_t n;
} input;

static void open_input(const options *o, input *in)
{
    memset(in, 0, sizeof *in);
    if (o->epochs == 1 && !o->shuffle) {
        in->r = tp_open_or_die(o->in);
        in->h = tp_reader_header(in->r);
        in->name = tp_reader_name(in->r);
    } else {
        in->rs = tp_records_open(o->in);
        in->h = tp_records_header(in->rs);
        in->name = tp_records_name(in->rs);
    }
}

/* The image field of the input, checked: its index. */
static int image_field(const options *o, const input *in)
{
    int xi = tp_header_find(in->h, o->field);
    if (xi < 0)
        tp_die("%s: no field '%s' to augment", in->name, o->field);
    const tp_field *fi = &in->h->fields[xi];
    if (fi->rank != 2 && fi->rank != 3)
        tp_die("%s: field '%s' is %s with rank %d, not an image (H x W or H x W x C)", in->name, o->field,
               tp_dtype_name(fi->dtype), fi->rank);
    if (fi->shape[0] > 32768 || fi->shape[1] > 32768)
        tp_die("%s: images of %lldx%lld are too large", in->name, (long long)fi->shape[0], (long long)fi->shape[1]);
    return xi;
}

/* The job for field xi of the input, with the output header h and each thread's scratch. */
static void plan_job(const options *o, const input *in, int xi, tp_header *h, job *j)
{
    const tp_field *fi = &in->h->fields[xi];
    memset(j, 0, sizeof *j);
    j->aug = &o->aug.a;
    j->h = (int)fi->shape[0];
    j->w = (int)fi->shape[1];
    j->c = fi->rank == 3 ? (int)fi->shape[2] : 1;
    j->copies = o->copies;
    tp_header_copy(h, in->h);
    int64_t shape[3] = {j->h, j->w, j->c};
    char err[256];
    if (tp_header_replace_field(h, xi, fi->dtype == TP_U8 && !o->to_float ? TP_U8 : TP_F32, 3, shape, err, sizeof err))
        tp_die("%s: %s", in->name, err);
    int64_t total;
    h->count = o->epochs == 0 || in->n < 0 || __builtin_mul_overflow(in->n, o->epochs * o->copies, &total) ? -1 : total;
    j->in = in->h;
    j->out = h;
    j->fi = fi;
    j->fo = &h->fields[xi];
    size_t npix = (size_t)j->h * (size_t)j->w * (size_t)j->c;
    j->scratch = tp_alloc((size_t)o->threads, sizeof *j->scratch);
    for (int t = 0; t < o->threads; t++)
        j->scratch[t] = tp_alloc(2 * npix, sizeof(float));
}

/* Epoch e's records from the random-access input: the input order, shuffled with --shuffle. */
static void epoch_order(const options *o, const tp_rng *root, int64_t e, int64_t n, int64_t *order)
{
    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    if (o->shuffle) {
        tp_rng sr = tp_rng_split(root, 0x53485546ull << 32 | (uint64_t)e); /* "SHUF", epoch */
        tp_rng_shuffle(&sr, order, n);
    }
}

/* The next batch of up to BATCH input records into src, their input indices into index
 * (b: the first's position in the pass); how many, 0 at the end of the pass. */
static int64_t next_batch(input *in, const int64_t *order, int64_t b, unsigned char *src, int64_t *index)
{
    int64_t k;
    if (in->rs) {
        k = in->n - b < BATCH ? in->n - b : BATCH;
        if (k <= 0)
            return 0;
        memcpy(index, order + b, (size_t)k * sizeof *index);
        tp_records_get(in->rs, index, k, src);
        return k;
    }
    k = tp_reader_read(in->r, src, BATCH);
    if (k < 0)
        tp_die("%s: %s", in->name, tp_reader_error(in->r));
    for (int64_t i = 0; i < k; i++)
        index[i] = b + i;
    return k;
}

/* The passes over the input (--epochs, 0: without end), each record's copies augmented by
 * the job's threads, to w, which it closes; how many records were written. */
static int64_t write_passes(const options *o, input *in, job *j, unsigned char *src, int64_t *index, tp_writer *w)
{
    int64_t *order = in->rs ? tp_alloc((size_t)in->n + 1, sizeof *order) : NULL, written = 0;
    tp_rng root;
    tp_rng_seed(&root, (uint64_t)o->seed);
    tp_progress pr;
    tp_progress_start(&pr, "augment", j->out->count, "images");
    for (int64_t e = 0; o->epochs == 0 || e < o->epochs; e++) {
        j->epoch = tp_rng_split(&root, (uint64_t)e);
        if (order)
            epoch_order(o, &root, e, in->n, order);
        int64_t k;
        for (int64_t b = 0; (k = next_batch(in, order, b, src, index)) > 0; b += BATCH) {
            tp_parallel_for(k * o->copies, (int)o->threads, one, j);
            tp_writer_write(w, j->dst, k * o->copies);
            written += k * o->copies;
            tp_progress_update(&pr, written);
        }
        if (in->rs && in->n == 0)
            break; /* nothing to repeat, even "without end" */
    }
    tp_writer_close(w);
    tp_progress_end(&pr, written);
    free(order);
    return written;
}

static int run(const options *o)
{
    input in;
    open_input(o, &in);
    int xi = image_field(o, &in);
    if (in.rs)
        tp_records_scan(in.rs, NULL, NULL);
    in.n = in.rs ? tp_records_count(in.rs) : in.h->count;
    job j;
    tp_header h;
    plan_job(o, &in, xi, &h, &j);
    unsigned char *src = tp_alloc(BATCH, in.h->record_size), *dst = tp_calloc((size_t)(BATCH * o->copies), h.record_size);
    int64_t *index = tp_alloc(BATCH, sizeof *index);
    j.src = src;
    j.dst = dst;
    j.index = index;
    write_passes(o, &in, &j, src, index, tp_writer_open(o->out, &h));
    for (int t = 0; t < o->threads; t++)
        free(j.scratch[t]);
    free(j.scratch);
    free(src);
    free(dst);
    free(index);
    tp_header_free(&h);
    tp_reader_close(in.r);
    tp_records_close(in.rs);
    return 0;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    options o;
    parse(argc, argv, &o);
    return run(&o);
}
