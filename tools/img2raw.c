/* img2raw — a folder of JPEG/PNG images (one sub-folder per class, or flat) to a stream. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"
#include "image.h"
#include "imgio.h"
#include "parallel.h"
#include "progress.h"
#include "stream.h"
#include "util.h"

#define BATCH 64

enum { SORT_CLASS, SORT_NAME };

typedef struct {
    const char *out, *size, *pad, *dir;
    double pad_value; /* < 0: each image's border median */
    int channels; /* --rgb 3, --gray 1, else 0: as each file has them */
    int method, sort, names, skip_bad;
    int64_t threads, oh, ow; /* oh, ow: --size, else 0 */
    int64_t max_pixels;      /* 0: TPIPE_MAX_PIXELS, else the default */
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.out = "-", .method = TP_RESIZE_NEAREST, .sort = SORT_CLASS, .threads = tp_cpu_count(), .pad_value = -1};
    const tp_option opts[] = {
        TP_STRING("output", 'o', &o->out, "FILE", "write the stream to FILE"),
        TP_STRING("size", 0, &o->size, "HxW", "resize every image to HxW (default: all must share the first one's size)"),
        TP_STRING("pad", 0, &o->pad, "HxW", "resize every image, aspect kept, to fit HxW and pad it there with its border's colour (PIL's ImageOps.pad)"),
        TP_DOUBLE("pad-value", 0, &o->pad_value, "V", "pad with V (0 to 255) in every channel instead (default: each image's border median)", TP_RANGE(0, 255)),
        TP_CHOICE("method", 'm', &o->method, "NAME", "resampling for --size and --pad: nearest (as Keras' loader), bilinear, area",
                  TP_RESIZE_METHODS),
        TP_SET("rgb", 0, &o->channels, 3, "decode to 3 channels"),
        TP_SET("gray", 0, &o->channels, 1, "decode to 1 channel"),
        TP_CHOICE("sort", 0, &o->sort, "ORDER", "class: folder by folder (flow_from_directory's order); name: by file name across folders",
                  "class", "name"),
        TP_FLAG("names", 0, &o->names, "add the field 'name' (path below DIR) also for class folders"),
        TP_FLAG("skip-bad", 0, &o->skip_bad, "skip unreadable images and count them, instead of stopping"),
        TP_OPT_THREADS(&o->threads, "decoding threads"),
        TP_INT("max-pixels", 0, &o->max_pixels, "N", "refuse images of more than N pixels (default: $TPIPE_MAX_PIXELS, else 16777216)", TP_MIN(1)),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] DIR",
        "Reads the JPEG and PNG files of DIR into a stream. With sub-folders, each is a class:\n"
        "labels y follow the sorted folder names, which go to the classes metadata. A flat\n"
        "folder gives y = -1 and a field 'name' holding each file's name (u8, zero-padded), so\n"
        "predictions can be matched back to files. Other files are ignored.",
        opts,
        "Example (the JPEG notebook's input):\n  img2raw --size 128x128 --rgb mnist-jpg/ > mnist128.tp",
        1, 1,
    };
    char **args;
    tp_cli_parse(&cli, argc, argv, &args);
    o->dir = args[0];
    free(args);
    if (o->size && o->pad)
        tp_usage("--size stretches every image and --pad fits it: give one");
    if (o->pad_value >= 0 && !o->pad)
        tp_usage("--pad-value is for --pad");
    const char *sz = o->size ? o->size : o->pad, *opt = o->size ? "size" : "pad";
    if (sz && (tp_parse_hw(sz, &o->oh, &o->ow) || o->oh < 1 || o->ow < 1 || o->oh > 32768 || o->ow > 32768))
        tp_usage("--%s wants HxW with sides 1 to 32768, not '%s'", opt, sz);
}

typedef struct {
    char *rel;   /* path below DIR, e.g. "3/00012.png" */
    int32_t y;   /* class index, -1 in a flat folder */
} item;

typedef struct {
    char **v;
    int n, cap;
} strs;

static void strs_add(strs *s, const char *x)
{
    if (s->n == s->cap)
        s->v = tp_realloc(s->v, (size_t)(s->cap = s->cap ? 2 * s->cap : 64), sizeof *s->v);
    s->v[s->n++] = tp_strdup(x);
}

static void strs_free(strs *s)
{
    for (int k = 0; k < s->n; k++)
        free(s->v[k]);
    free(s->v);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_image_name(const char *n)
{
    const char *dot = strrchr(n, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

/* Sorted names in dir: sub-folders into dirs, image files into files (hidden ones skipped);
 * counts the other files in *other. */
static void list_dir(const char *dir, strs *dirs, strs *files, int *other)
{
    DIR *d = opendir(dir);
    if (!d)
        tp_die("%s: cannot read the folder: %s", dir, strerror(errno));
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st))
            continue;
        if (S_ISDIR(st.st_mode) && dirs)
            strs_add(dirs, e->d_name);
        else if (S_ISREG(st.st_mode) && is_image_name(e->d_name))
            strs_add(files, e->d_name);
        else
            (*other)++;
    }
    closedir(d);
    if (dirs && dirs->n)
        qsort(dirs->v, (size_t)dirs->n, sizeof *dirs->v, cmp_str);
    if (files->n)
        qsort(files->v, (size_t)files->n, sizeof *files->v, cmp_str);
}

static int by_basename(const void *a, const void *b)
{
    const item *x = a, *y = b;
    int c = strcmp(tp_basename(x->rel), tp_basename(y->rel));
    return c ? c : strcmp(x->rel, y->rel);
}

/* The images of dir, class folder by class folder (the sorted sub-folders' names into
 * classes; none: a flat folder), each folder's files sorted; their number in *n. */
static item *list_items(const char *dir, strs *classes, int64_t *n)
{
    strs top = {0};
    int other = 0;
    list_dir(dir, classes, &top, &other);
    item *items = NULL;
    int64_t cap = 0;
    char rel[4096];
    int flat = classes->n == 0;
    *n = 0;
    for (int c = 0; c < (flat ? 1 : classes->n); c++) {
        strs files = {0};
        if (flat) {
            files = top;
            top = (strs){0};
        } else {
            snprintf(rel, sizeof rel, "%s/%s", dir, classes->v[c]);
            list_dir(rel, NULL, &files, &other);
        }
        for (int k = 0; k < files.n; k++) {
            if (*n == cap)
                items = tp_realloc(items, (size_t)(cap = cap ? 2 * cap : 1024), sizeof *items);
            snprintf(rel, sizeof rel, flat ? "%s%s" : "%s/%s", flat ? "" : classes->v[c], files.v[k]);
            items[*n].rel = tp_strdup(rel);
            items[*n].y = flat ? -1 : c;
            ++*n;
        }
        strs_free(&files);
    }
    strs_free(&top);
    if (*n == 0)
        tp_die("%s: no .jpg, .jpeg or .png files%s", dir, flat ? "" : " in its sub-folders");
    if (other)
        tp_warn("%s: ignored %d entries that are not .jpg/.jpeg/.png images", dir, other);
    return items;
}

/* The channels of the first readable image (and, without --size, its size into *oh, *ow). */
static int first_image(const options *o, const item *items, int64_t n, int64_t *oh, int64_t *ow)
{
    int c0 = 0;
    for (int64_t i = 0; i < n && !c0; i++) {
        uint8_t *pix;
        int h, w;
        char err[300], path[4096];
        snprintf(path, sizeof path, "%s/%s", o->dir, items[i].rel);
        if (tp_image_load(path, o->channels, &pix, &h, &w, &c0, err, sizeof err)) {
            if (!o->skip_bad)
                tp_die("%s: %s", path, err);
            continue;
        }
        free(pix);
        if (!o->size && !o->pad)
            *oh = h, *ow = w;
    }
    if (!c0)
        tp_die("%s: none of the %lld images could be read", o->dir, (long long)n);
    return c0;
}

/* The output's header: x of oh x ow x c, y, a name field for a flat folder or --names, and
 * the classes and source metadata. */
static void make_header(const options *o, const item *items, int64_t n, const strs *classes, int64_t oh, int64_t ow,
                        int c, tp_header *h)
{
    tp_header_init(h);
    int64_t shape[3] = {oh, ow, c};
    tp_header_add(h, "x", TP_U8, 3, shape);
    tp_header_add(h, "y", TP_I32, 0, NULL);
    int flat = classes->n == 0;
    if (flat || o->names) {
        int64_t len = 1;
        for (int64_t i = 0; i < n; i++)
            len = (int64_t)strlen(items[i].rel) > len ? (int64_t)strlen(items[i].rel) : len;
        tp_header_add(h, "name", TP_U8, 1, &len);
    }
    if (!flat) {
        size_t total = 1;
        for (int k = 0; k < classes->n; k++)
            total += strlen(classes->v[k]) + 1;
        char *list = tp_calloc(total, 1);
        for (int k = 0; k < classes->n; k++) {
            strcat(list, classes->v[k]);
            if (k + 1 < classes->n)
                strcat(list, "\n");
        }
        tp_header_set_meta(h, "classes", list);
        free(list);
    }
    tp_header_set_meta(h, "source", o->dir);
    h->count = o->skip_bad ? -1 : n;
}

typedef struct {
    const char *dir;
    const item *items;
    int64_t first;
    const tp_header *h;
    int ni, want_c, oh, ow; /* want_c: channels asked for (0: as each file has them) */
    tp_resize_method method; /* -1: no --size, every image must have the first one's */
    int pad;                 /* --pad: fitted, not stretched */
    float fill[4];           /* --pad-value in every channel */
    int have_fill;
    unsigned char *recs;
    char (*errs)[300];
} job;

/* The pixels of an image of h x w x c into field fx of rec, resized to the job's size. */
static void put_pixels(const job *j, const uint8_t *pix, int h, int w, int c, const tp_field *fx, unsigned char *rec)
{
    float *a = tp_alloc((size_t)h * (size_t)w * (size_t)c, sizeof *a);
    float *o = tp_alloc(fx->nelem, sizeof *o);
    tp_u8_to_float(pix, a, (size_t)h * (size_t)w * (size_t)c);
    if (j->pad)
        tp_pad_fit(a, h, w, c, j->oh, j->ow, j->method, j->have_fill ? j->fill : NULL, o);
    else
        tp_resize_one(a, h, w, c, j->oh, j->ow, j->method, o);
    tp_float_to_u8(o, rec + fx->offset, fx->nelem);
    free(a), free(o);
}

/* Decodes item first + i into record i of the batch. */
static void decode(void *ctx, int64_t i, int t)
{
    (void)t;
    job *j = ctx;
    const item *it = &j->items[j->first + i];
    unsigned char *rec = j->recs + (size_t)i * j->h->record_size;
    memset(rec, 0, j->h->record_size);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", j->dir, it->rel);
    uint8_t *pix;
    int h, w, c;
    j->errs[i][0] = 0;
    if (tp_image_load(path, j->want_c, &pix, &h, &w, &c, j->errs[i], sizeof j->errs[i]))
        return;
    const tp_field *fx = &j->h->fields[0];
    if (c != (int)fx->shape[2])
        snprintf(j->errs[i], sizeof j->errs[i], "has %d channels, not %d (use --rgb or --gray)", c, (int)fx->shape[2]);
    else if (h == j->oh && w == j->ow)
        memcpy(rec + fx->offset, pix, fx->nbytes);
    else if (j->method == (tp_resize_method)-1)
        snprintf(j->errs[i], sizeof j->errs[i], "is %dx%d, not %dx%d like the first image (use --size)", h, w, j->oh, j->ow);
    else
        put_pixels(j, pix, h, w, c, fx, rec);
    free(pix);
    memcpy(rec + j->h->fields[1].offset, &it->y, 4); /* y follows x */
    if (j->ni >= 0)
        memcpy(rec + j->h->fields[j->ni].offset, it->rel, strlen(it->rel));
}

/* The n items decoded, BATCH at a time on the threads, to the output laid out by h. */
static void write_images(const options *o, const item *items, int64_t n, const tp_header *h)
{
    job j = {.dir = o->dir, .items = items, .h = h, .ni = tp_header_find(h, "name"), .want_c = o->channels,
             .oh = (int)h->fields[0].shape[0], .ow = (int)h->fields[0].shape[1],
             .method = o->size || o->pad ? (tp_resize_method)o->method : (tp_resize_method)-1,
             .pad = o->pad != NULL, .have_fill = o->pad_value >= 0};
    for (int k = 0; k < 4; k++)
        j.fill[k] = (float)o->pad_value;
    j.recs = tp_alloc(BATCH, h->record_size);
    j.errs = tp_alloc(BATCH, sizeof *j.errs);
    tp_writer *w = tp_writer_open(o->out, h);
    tp_progress pr;
    tp_progress_start(&pr, "img2raw", n, "images");
    int64_t bad = 0;
    for (int64_t b = 0; b < n; b += BATCH) {
        int64_t k = n - b < BATCH ? n - b : BATCH;
        j.first = b;
        tp_parallel_for(k, (int)o->threads, decode, &j);
        for (int64_t i = 0; i < k; i++) {
            if (!j.errs[i][0]) {
                tp_writer_write(w, j.recs + (size_t)i * h->record_size, 1);
                continue;
            }
            if (!o->skip_bad)
                tp_die("%s/%s: %s", o->dir, items[b + i].rel, j.errs[i]);
            bad++;
        }
        tp_progress_update(&pr, b + k);
    }
    tp_writer_close(w);
    tp_progress_end(&pr, n);
    if (bad)
        tp_warn("%s: skipped %lld unreadable images of %lld", o->dir, (long long)bad, (long long)n);
    free(j.recs);
    free(j.errs);
}

static int run(const options *o)
{
    tp_image_set_max_pixels((uint64_t)o->max_pixels);
    struct stat st;
    if (stat(o->dir, &st))
        tp_die("%s: %s", o->dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        tp_die("%s: not a folder (img2raw reads a folder of images)", o->dir);
    strs classes = {0};
    int64_t n;
    item *items = list_items(o->dir, &classes, &n);
    if (o->sort == SORT_NAME)
        qsort(items, (size_t)n, sizeof *items, by_basename);
    int64_t oh = o->oh, ow = o->ow; /* the first readable image fixes channels and, without --size, the size */
    int c = first_image(o, items, n, &oh, &ow);
    tp_header h;
    make_header(o, items, n, &classes, oh, ow, c, &h);
    write_images(o, items, n, &h);
    for (int64_t i = 0; i < n; i++)
        free(items[i].rel);
    strs_free(&classes);
    free(items);
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
