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

typedef struct {
    const char *dir;
    const item *items;
    int64_t first;
    const tp_header *h;
    int xi, ni, want_c, oh, ow; /* want_c: channels asked for (0: as each file has them) */
    tp_resize_method method;
    unsigned char *recs;
    char (*errs)[300];
} job;

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
    const tp_field *fx = &j->h->fields[j->xi];
    if (c != (int)fx->shape[2]) {
        snprintf(j->errs[i], sizeof j->errs[i], "has %d channels, not %d (use --rgb or --gray)", c, (int)fx->shape[2]);
    } else if (h == j->oh && w == j->ow) {
        memcpy(rec + fx->offset, pix, fx->nbytes);
    } else if (j->method == (tp_resize_method)-1) {
        snprintf(j->errs[i], sizeof j->errs[i], "is %dx%d, not %dx%d like the first image (use --size)", h, w, j->oh, j->ow);
    } else {
        tp_resize_plan p;
        tp_resize_plan_init(&p, h, w, j->oh, j->ow, c, j->method);
        float *a = tp_alloc((size_t)h * (size_t)w * (size_t)c, sizeof *a);
        float *o = tp_alloc(fx->nelem, sizeof *o), *tmp = tp_alloc(tp_resize_scratch(&p), sizeof *tmp);
        tp_u8_to_float(pix, a, (size_t)h * (size_t)w * (size_t)c);
        tp_resize(&p, a, o, tmp);
        tp_float_to_u8(o, rec + fx->offset, fx->nelem);
        free(a), free(o), free(tmp);
        tp_resize_plan_free(&p);
    }
    free(pix);
    memcpy(rec + j->h->fields[j->xi + 1].offset, &it->y, 4); /* y follows x */
    if (j->ni >= 0)
        memcpy(rec + j->h->fields[j->ni].offset, it->rel, strlen(it->rel));
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    const char *out = "-", *size = NULL, *method_name = "nearest", *sort = "class";
    int rgb = 0, gray = 0, skip_bad = 0, names = 0;
    int64_t threads = tp_cpu_count();
    const tp_option opts[] = {
        TP_STRING("output", 'o', &out, "FILE", "write the stream to FILE"),
        TP_STRING("size", 0, &size, "HxW", "resize every image to HxW (default: all must share the first one's size)"),
        TP_STRING("method", 'm', &method_name, "NAME", "resampling for --size: nearest (as Keras' loader), bilinear, area"),
        TP_FLAG("rgb", 0, &rgb, "decode to 3 channels"),
        TP_FLAG("gray", 0, &gray, "decode to 1 channel"),
        TP_STRING("sort", 0, &sort, "ORDER", "class: folder by folder (flow_from_directory's order); name: by file name across folders"),
        TP_FLAG("names", 0, &names, "add the field 'name' (path below DIR) also for class folders"),
        TP_FLAG("skip-bad", 0, &skip_bad, "skip unreadable images and count them, instead of stopping"),
        TP_INT("threads", 't', &threads, "N", "decoding threads"),
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
    const char *dir = args[0];
    if (rgb && gray)
        tp_usage("--rgb and --gray exclude each other");
    if (strcmp(sort, "class") && strcmp(sort, "name"))
        tp_usage("--sort is class or name, not '%s'", sort);
    if (threads < 1 || threads > 1024)
        tp_usage("--threads must be 1 to 1024");
    int64_t oh = 0, ow = 0;
    tp_resize_method method = (tp_resize_method)-1;
    if (size) {
        if (tp_parse_hw(size, &oh, &ow) || oh < 1 || ow < 1 || oh > 32768 || ow > 32768)
            tp_usage("--size wants HxW with sides 1 to 32768, not '%s'", size);
        if (tp_resize_method_parse(method_name, &method))
            tp_usage("unknown method '%s' (nearest, bilinear, area)", method_name);
    }
    struct stat st;
    if (stat(dir, &st))
        tp_die("%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        tp_die("%s: not a folder (img2raw reads a folder of images)", dir);

    strs classes = {0}, top = {0};
    int other = 0;
    list_dir(dir, &classes, &top, &other);
    item *items = NULL;
    int64_t n = 0, cap = 0;
    char rel[4096];
    int flat = classes.n == 0;
    for (int c = 0; c <= classes.n; c++) {
        strs files = {0};
        if (flat && c == 0)
            files = top;
        else if (c < classes.n) {
            snprintf(rel, sizeof rel, "%s/%s", dir, classes.v[c]);
            list_dir(rel, NULL, &files, &other);
        } else
            break;
        for (int k = 0; k < files.n; k++) {
            if (n == cap)
                items = tp_realloc(items, (size_t)(cap = cap ? 2 * cap : 1024), sizeof *items);
            snprintf(rel, sizeof rel, flat ? "%s%s" : "%s/%s", flat ? "" : classes.v[c], files.v[k]);
            items[n].rel = tp_strdup(rel);
            items[n].y = flat ? -1 : c;
            n++;
            free(files.v[k]);
        }
        free(files.v);
        if (flat)
            break;
    }
    if (!flat) {
        for (int k = 0; k < top.n; k++)
            free(top.v[k]);
        free(top.v);
    }
    if (n == 0)
        tp_die("%s: no .jpg, .jpeg or .png files%s", dir, flat ? "" : " in its sub-folders");
    if (other)
        tp_warn("%s: ignored %d entries that are not .jpg/.jpeg/.png images", dir, other);
    if (strcmp(sort, "name") == 0)
        qsort(items, (size_t)n, sizeof *items, by_basename);

    /* the first readable image fixes channels and, without --size, the size */
    int want_c = rgb ? 3 : gray ? 1 : 0, c0 = 0;
    for (int64_t i = 0; i < n && !c0; i++) {
        uint8_t *pix;
        int h, w;
        char err[300], path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, items[i].rel);
        if (tp_image_load(path, want_c, &pix, &h, &w, &c0, err, sizeof err)) {
            if (!skip_bad)
                tp_die("%s: %s", path, err);
            continue;
        }
        free(pix);
        if (!size)
            oh = h, ow = w;
    }
    if (!c0)
        tp_die("%s: none of the %lld images could be read", dir, (long long)n);

    tp_header h;
    tp_header_init(&h);
    int64_t shape[3] = {oh, ow, c0};
    int xi = tp_header_add(&h, "x", TP_U8, 3, shape);
    tp_header_add(&h, "y", TP_I32, 0, NULL);
    int ni = -1;
    if (flat || names) {
        int64_t len = 1;
        for (int64_t i = 0; i < n; i++)
            len = (int64_t)strlen(items[i].rel) > len ? (int64_t)strlen(items[i].rel) : len;
        ni = tp_header_add(&h, "name", TP_U8, 1, &len);
    }
    if (!flat) {
        size_t total = 1;
        for (int c = 0; c < classes.n; c++)
            total += strlen(classes.v[c]) + 1;
        char *list = tp_calloc(total, 1);
        for (int c = 0; c < classes.n; c++) {
            strcat(list, classes.v[c]);
            if (c + 1 < classes.n)
                strcat(list, "\n");
        }
        tp_header_set_meta(&h, "classes", list);
        free(list);
    }
    tp_header_set_meta(&h, "source", dir);
    h.count = skip_bad ? -1 : n;

    job j = {dir, items, 0, &h, xi, ni, want_c, (int)oh, (int)ow, method, NULL, NULL};
    j.recs = tp_alloc(BATCH, h.record_size);
    j.errs = tp_alloc(BATCH, sizeof *j.errs);
    tp_writer *w = tp_writer_open(out, &h);
    tp_progress pr;
    tp_progress_start(&pr, "img2raw", n, "images");
    int64_t bad = 0;
    for (int64_t b = 0; b < n; b += BATCH) {
        int64_t k = n - b < BATCH ? n - b : BATCH;
        j.first = b;
        tp_parallel_for(k, (int)threads, decode, &j);
        for (int64_t i = 0; i < k; i++) {
            if (!j.errs[i][0]) {
                tp_writer_write(w, j.recs + (size_t)i * h.record_size, 1);
                continue;
            }
            if (!skip_bad)
                tp_die("%s/%s: %s", dir, items[b + i].rel, j.errs[i]);
            bad++;
        }
        tp_progress_update(&pr, b + k);
    }
    tp_writer_close(w);
    tp_progress_end(&pr, n);
    if (bad)
        tp_warn("%s: skipped %lld unreadable images of %lld", dir, (long long)bad, (long long)n);
    for (int64_t i = 0; i < n; i++)
        free(items[i].rel);
    for (int c = 0; c < classes.n; c++)
        free(classes.v[c]);
    free(classes.v);
    free(items);
    free(j.recs);
    free(j.errs);
    tp_header_free(&h);
    free(args);
    return 0;
}
