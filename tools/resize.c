/* resize — resamples the images of a stream to H x W, converting channels on the way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dtype.h"
#include "image.h"
#include "parallel.h"
#include "progress.h"
#include "stream.h"
#include "util.h"

#define BATCH 64
#define MAX_SIDE 32768

typedef struct {
    const char *out, *field, *in;
    int method, to_float;
    int channels; /* --rgb 3, --gray 1, else 0: the input's */
    int64_t threads, oh, ow;
} options;

/* "224x224" or "224" into h and w, or a usage error. */
static void parse_size(const char *s, int64_t *h, int64_t *w)
{
    if (tp_parse_hw(s, h, w))
        tp_usage("size '%s' is not HxW (e.g. 224x224)", s);
    if (*h < 1 || *w < 1 || *h > MAX_SIDE || *w > MAX_SIDE)
        tp_usage("size %lldx%lld is out of range (1 to %d a side)", (long long)*h, (long long)*w, MAX_SIDE);
}

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.out = "-", .field = "x", .method = TP_RESIZE_BILINEAR, .threads = tp_cpu_count()};
    const tp_option opts[] = {
        TP_STRING("output", 'o', &o->out, "FILE", "write the stream to FILE"),
        TP_CHOICE("method", 'm', &o->method, "NAME", "bilinear (half-pixel centres), nearest, or area (box filter, for shrinking)",
                  TP_RESIZE_METHODS),
        TP_SET("rgb", 0, &o->channels, 3, "make 3 channels (gray is replicated, alpha dropped)"),
        TP_SET("gray", 0, &o->channels, 1, "make 1 channel (luma 0.2989 R + 0.5870 G + 0.1140 B)"),
        TP_FLAG("float", 0, &o->to_float, "write f32 pixels instead of rounding u8 input back to u8"),
        TP_STRING("field", 'f', &o->field, "NAME", "the image field"),
        TP_OPT_THREADS(&o->threads, "worker threads"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] HxW [FILE]",
        "Resizes every image (field x: H x W x C, or H x W) to HxW and passes the other fields\n"
        "through. Bilinear matches tf.image.resize and torch interpolate(align_corners=False);\n"
        "nearest matches the PIL loader Keras' flow_from_directory uses. u8 in gives u8 out,\n"
        "rounded, unless --float.",
        opts,
        "Example (the VGG16 notebook's input):\n  idx2raw train-images-idx3-ubyte train-labels-idx1-ubyte | resize 224x224 --rgb > train224.tp",
        1, 2,
    };
    char **args;
    int nargs = tp_cli_parse(&cli, argc, argv, &args);
    const char *size = args[0];
    o->in = nargs > 1 ? args[1] : "-";
    free(args);
    parse_size(size, &o->oh, &o->ow);
}

typedef struct {
    const tp_header *in, *out;
    const tp_field *fi, *fo;
    tp_resize_plan plan;
    int cin, cmid, cout; /* channels: input, while resizing, output */
    int to_gray, to_rgb;
    const unsigned char *src; /* BATCH input records */
    unsigned char *dst;       /* BATCH output records */
    float **scratch;          /* per thread: input, converted, tmp, output */
    size_t npix_in, npix_out;
} job;

/* Resizes record i of the batch. */
static void one(void *ctx, int64_t i, int t)
{
    job *j = ctx;
    const unsigned char *rin = j->src + (size_t)i * j->in->record_size;
    unsigned char *rout = j->dst + (size_t)i * j->out->record_size;
    tp_copy_fields(j->in, rin, j->out, rout);
    float *a = j->scratch[t], *b = a + j->npix_in * (size_t)j->cin;
    float *tmp = b + j->npix_in * (size_t)j->cmid, *o = tmp + tp_resize_scratch(&j->plan);
    const void *x = rin + j->fi->offset;
    size_t n = j->npix_in * (size_t)j->cin;
    tp_to_float(x, j->fi->dtype, n, 1, a);
    const float *mid = a;
    if (j->cmid != j->cin) { /* to gray, or RGBA to RGB: before resizing, fewer channels */
        if (j->to_gray)
            for (size_t p = 0; p < j->npix_in; p++)
                tp_rgb_to_gray(a + p * (size_t)j->cin, b + p, 1);
        else
            for (size_t p = 0; p < j->npix_in; p++)
                memcpy(b + 3 * p, a + p * (size_t)j->cin, 3 * sizeof *b);
        mid = b;
    }
    tp_resize(&j->plan, mid, o, tmp);
    if (j->cout != j->cmid) /* gray to RGB after resizing: a third of the work */
        tp_gray_to_rgb(o, o, j->npix_out);
    size_t m = j->npix_out * (size_t)j->cout;
    if (j->fo->dtype == TP_U8)
        tp_float_to_u8(o, rout + j->fo->offset, m);
    else
        memcpy(rout + j->fo->offset, o, m * sizeof *o);
}

/* The image field of the input, checked: its index. */
static int image_field(const options *o, const char *name, const tp_header *in)
{
    int xi = tp_header_find(in, o->field);
    if (xi < 0)
        tp_die("%s: no field '%s' to resize", name, o->field);
    const tp_field *fi = &in->fields[xi];
    if (fi->rank != 2 && fi->rank != 3)
        tp_die("%s: field '%s' is %s with rank %d, not an image (H x W or H x W x C)", name, o->field,
               tp_dtype_name(fi->dtype), fi->rank);
    int cin = fi->rank == 3 ? (int)fi->shape[2] : 1;
    if (fi->shape[0] > MAX_SIDE || fi->shape[1] > MAX_SIDE)
        tp_die("%s: images of %lldx%lld are too large", name, (long long)fi->shape[0], (long long)fi->shape[1]);
    if (o->channels && cin != 1 && cin != 3 && cin != 4)
        tp_die("%s: --rgb/--gray need 1, 3 or 4 channels, not %d", name, cin);
    return xi;
}

/* The job for field xi of the input: channels, the output header h (its field resized), the
 * plan, and each thread's scratch. */
static void plan_job(const options *o, const char *name, const tp_header *in, int xi, tp_header *h, job *j)
{
    const tp_field *fi = &in->fields[xi];
    int cin = fi->rank == 3 ? (int)fi->shape[2] : 1;
    memset(j, 0, sizeof *j);
    j->cin = cin;
    j->to_gray = o->channels == 1 && cin != 1;
    j->to_rgb = o->channels == 3 && cin == 1;
    j->cmid = j->to_gray ? 1 : (o->channels == 3 && cin == 4) ? 3 : cin;
    j->cout = j->to_rgb ? 3 : j->cmid;
    tp_header_copy(h, in);
    int64_t shape[3] = {o->oh, o->ow, j->cout};
    tp_dtype dt = fi->dtype == TP_U8 && !o->to_float ? TP_U8 : TP_F32;
    char err[256];
    if (tp_header_replace_field(h, xi, dt, 3, shape, err, sizeof err))
        tp_die("%s: %s", name, err);
    j->in = in;
    j->out = h;
    j->fi = fi;
    j->fo = &h->fields[xi];
    j->npix_in = (size_t)fi->shape[0] * (size_t)fi->shape[1];
    j->npix_out = (size_t)o->oh * (size_t)o->ow;
    tp_resize_plan_init(&j->plan, (int)fi->shape[0], (int)fi->shape[1], (int)o->oh, (int)o->ow, j->cmid,
                        (tp_resize_method)o->method);
    size_t per_thread = j->npix_in * (size_t)(j->cin + j->cmid) + tp_resize_scratch(&j->plan) + j->npix_out * 3;
    j->scratch = tp_alloc((size_t)o->threads, sizeof *j->scratch);
    for (int t = 0; t < o->threads; t++)
        j->scratch[t] = tp_alloc(per_thread, sizeof(float));
}

static int run(const options *o)
{
    tp_reader *r = tp_open_or_die(o->in);
    const char *name = tp_reader_name(r);
    const tp_header *in = tp_reader_header(r);
    int xi = image_field(o, name, in);
    job j;
    tp_header h;
    plan_job(o, name, in, xi, &h, &j);
    unsigned char *src = tp_alloc(BATCH, in->record_size), *dst = tp_calloc(BATCH, h.record_size);
    j.src = src;
    j.dst = dst;
    tp_writer *w = tp_writer_open(o->out, &h);
    tp_progress pr;
    tp_progress_start(&pr, "resize", in->count, "images");
    int64_t done = 0;
    for (;;) {
        int64_t k = tp_reader_read(r, src, BATCH);
        if (k < 0)
            tp_die("%s: %s", name, tp_reader_error(r));
        if (k == 0)
            break;
        tp_parallel_for(k, (int)o->threads, one, &j);
        tp_writer_write(w, dst, k);
        done += k;
        tp_progress_update(&pr, done);
    }
    tp_writer_close(w);
    tp_progress_end(&pr, done);
    for (int t = 0; t < o->threads; t++)
        free(j.scratch[t]);
    free(j.scratch);
    free(src);
    free(dst);
    tp_resize_plan_free(&j.plan);
    tp_header_free(&h);
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
