/* frame — MNIST's framing of a stream's images: the ink scaled into a box, aspect kept,
 * and centred by its centre of mass on a canvas (lib/frame.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dtype.h"
#include "frame.h"
#include "image.h"
#include "parallel.h"
#include "progress.h"
#include "stream.h"
#include "util.h"

#define BATCH 64               /* records at a time, at most */
#define BATCH_BYTES (64u << 20) /* and about this much input and output together */
#define MAX_SIDE 32768

typedef struct {
    const char *out, *field, *in, *size;
    tp_frame f;
    int to_float, quiet;
    int64_t threads, box;
    double threshold;
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.out = "-", .field = "x", .size = "28x28", .threads = tp_cpu_count(), .box = 20};
    const tp_option opts[] = {
        TP_STRING("size", 0, &o->size, "HxW", "the canvas (default: 28x28)"),
        TP_INT("box", 0, &o->box, "N", "the longer side of the scaled ink", TP_RANGE(1, MAX_SIDE)),
        TP_DOUBLE("threshold", 0, &o->threshold, "T", "ink above T (0 to 255, after inversion) counts; the rest is background, set to 0", TP_RANGE(0, 255)),
        TP_CHOICE("invert", 0, &o->f.invert, "WHEN", "auto (when the border's median is light), no or yes", TP_FRAME_INVERTS),
        TP_CHOICE("center", 0, &o->f.center, "HOW", "mass (the centre of mass on pixel H/2, W/2, as MNIST) or box (the bounding box centred)", TP_FRAME_CENTERS),
        TP_CHOICE("method", 'm', &o->f.method, "NAME", "auto (area to shrink, bilinear to grow), bilinear, nearest or area", TP_FRAME_METHODS),
        TP_FLAG("no-upscale", 0, &o->f.no_upscale, "ink smaller than the box keeps its size"),
        TP_FLAG("float", 0, &o->to_float, "write f32 pixels instead of rounding u8 input back to u8"),
        TP_STRING("field", 'f', &o->field, "NAME", "the image field"),
        TP_STRING("output", 'o', &o->out, "FILE", "write the stream to FILE"),
        TP_OPT_THREADS(&o->threads, "worker threads"),
        TP_FLAG("quiet", 'q', &o->quiet, "print nothing on stderr but errors and warnings"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] [FILE]",
        "Frames every image as MNIST's digits were framed: the bounding box of the ink is scaled,\n"
        "aspect kept, until its longer side is --box (20), and placed on a --size canvas (28x28)\n"
        "so that the ink's centre of mass falls on the canvas centre, shifted by whole pixels.\n"
        "Digits from other sources (tight crops, scans, other sizes) then look as an MNIST model\n"
        "expects. Dark ink on a light background is inverted first (--invert). Other fields pass\n"
        "through; u8 in gives u8 out, rounded, unless --float.",
        opts,
        "Examples:\n"
        "  img2raw --gray --pad 64x64 crops/ | frame > crops28.tp\n"
        "  img2raw --gray --pad 256x256 -m area photos/ | frame --threshold 60 | predict mnist.model.tp",
        0, 1,
    };
    char **args;
    int nargs = tp_cli_parse(&cli, argc, argv, &args);
    o->in = nargs > 0 ? args[0] : "-";
    free(args);
    int64_t h, w;
    if (tp_parse_hw(o->size, &h, &w))
        tp_usage("size '%s' is not HxW (e.g. 28x28)", o->size);
    if (h < 1 || w < 1 || h > MAX_SIDE || w > MAX_SIDE)
        tp_usage("size %lldx%lld is out of range (1 to %d a side)", (long long)h, (long long)w, MAX_SIDE);
    if (o->box > h || o->box > w)
        tp_usage("--box %lld does not fit the %lldx%lld canvas", (long long)o->box, (long long)h, (long long)w);
    o->f.out_h = (int)h;
    o->f.out_w = (int)w;
    o->f.box = (int)o->box;
    o->f.threshold = o->threshold;
}

typedef struct {
    const options *o;
    const tp_header *in, *out;
    const tp_field *fi, *fo;
    int h, w, c;
    const unsigned char *src;
    unsigned char *dst;
    float **scratch; /* per thread: input, output */
    tp_frame_result *res;
} job;

static void one(void *ctx, int64_t i, int t)
{
    job *j = ctx;
    const unsigned char *rin = j->src + (size_t)i * j->in->record_size;
    unsigned char *rout = j->dst + (size_t)i * j->out->record_size;
    tp_copy_fields(j->in, rin, j->out, rout);
    size_t n = (size_t)j->h * (size_t)j->w * (size_t)j->c, m = (size_t)j->o->f.out_h * (size_t)j->o->f.out_w * (size_t)j->c;
    float *a = j->scratch[t], *b = a + n;
    tp_to_float(rin + j->fi->offset, j->fi->dtype, n, 1, a);
    tp_frame_image(&j->o->f, a, j->h, j->w, j->c, b, &j->res[i]);
    if (j->fo->dtype == TP_U8)
        tp_float_to_u8(b, rout + j->fo->offset, m);
    else
        memcpy(rout + j->fo->offset, b, m * sizeof *b);
}

static int run(const options *o)
{
    tp_reader *r = tp_open_or_die(o->in);
    const char *name = tp_reader_name(r);
    const tp_header *in = tp_reader_header(r);
    int xi = tp_header_find(in, o->field);
    if (xi < 0)
        tp_die("%s: no field '%s' to frame", name, o->field);
    const tp_field *fi = &in->fields[xi];
    if ((fi->rank != 2 && fi->rank != 3) || fi->dtype != TP_U8)
        tp_die("%s: field '%s' is %s with rank %d, not a u8 image (H x W or H x W x C, pixels 0 to 255)", name,
               o->field, tp_dtype_name(fi->dtype), fi->rank);
    if (fi->shape[0] > MAX_SIDE || fi->shape[1] > MAX_SIDE)
        tp_die("%s: images of %lldx%lld are too large", name, (long long)fi->shape[0], (long long)fi->shape[1]);
    static const char *const keys[] = {"frame"};
    tp_header_need_meta(in, name, keys, 1);
    job j = {.o = o, .in = in, .fi = fi, .h = (int)fi->shape[0], .w = (int)fi->shape[1]};
    j.c = fi->rank == 3 ? (int)fi->shape[2] : 1;
    tp_header h;
    tp_header_copy(&h, in);
    int64_t shape[3] = {o->f.out_h, o->f.out_w, j.c};
    char err[256];
    if (tp_header_replace_field(&h, xi, o->to_float ? TP_F32 : TP_U8, fi->rank, shape, err, sizeof err))
        tp_die("%s: %s", name, err);
    char v[96];
    snprintf(v, sizeof v, "%dx%d box %d %s", o->f.out_h, o->f.out_w, o->f.box,
             o->f.center == TP_FRAME_CENTER_MASS ? "mass" : "box");
    tp_header_set_meta(&h, "frame", v);
    j.out = &h;
    j.fo = &h.fields[xi];
    size_t per = (size_t)j.h * (size_t)j.w * (size_t)j.c + (size_t)o->f.out_h * (size_t)o->f.out_w * (size_t)j.c;
    size_t rec = in->record_size + h.record_size;
    int64_t batch = rec * BATCH <= BATCH_BYTES ? BATCH : BATCH_BYTES / rec > 0 ? (int64_t)(BATCH_BYTES / rec) : 1;
    unsigned char *src = tp_alloc((size_t)batch, in->record_size), *dst = tp_calloc((size_t)batch, h.record_size);
    tp_frame_result res[BATCH];
    j.src = src;
    j.dst = dst;
    j.res = res;
    tp_writer *w = tp_writer_open(o->out, &h);
    tp_progress pr;
    tp_progress_start(&pr, "frame", in->count, "images");
    int64_t done = 0, inverted = 0, empty = 0, clipped = 0;
    for (;;) {
        int64_t k = tp_reader_read(r, src, batch);
        if (k < 0)
            tp_die("%s: %s", name, tp_reader_error(r));
        if (k == 0)
            break;
        if (!j.scratch) { /* once a record is there: a header alone never costs its images' floats */
            j.scratch = tp_alloc((size_t)o->threads, sizeof *j.scratch);
            for (int t = 0; t < o->threads; t++)
                j.scratch[t] = tp_alloc(per, sizeof(float));
        }
        tp_parallel_for(k, (int)o->threads, one, &j);
        for (int64_t i = 0; i < k; i++)
            inverted += res[i].inverted, empty += res[i].empty, clipped += res[i].clipped;
        tp_writer_write(w, dst, k);
        done += k;
        tp_progress_update(&pr, done);
    }
    tp_writer_close(w);
    tp_progress_end(&pr, done);
    if (empty)
        tp_warn("%s: %lld of %lld images have no ink above --threshold %g: written black", name, (long long)empty,
                (long long)done, o->f.threshold);
    if (clipped)
        tp_warn("%s: %lld of %lld images lost ink off the canvas when centred (a larger --size keeps it)", name,
                (long long)clipped, (long long)done);
    if (!o->quiet)
        fprintf(stderr, "%s: %lld images framed, %lld of them inverted (light background)\n", tp_progname(),
                (long long)done, (long long)inverted);
    for (int t = 0; j.scratch && t < o->threads; t++)
        free(j.scratch[t]);
    free(j.scratch);
    free(src);
    free(dst);
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
